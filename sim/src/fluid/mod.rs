//! The fluid traffic model: how each flow spreads over the fabric right now, what it loses, and
//! the accounting of losses over time.
//!
//! A flow leaves its source over the attachments the source still sees, then at every switch
//! spreads over the best next hops towards the destination's switches, valley-free: equally
//! (fluid ECMP), or all on one hop chosen by hashing the flow (per-flow ECMP). A next hop's
//! quality is the worse of how its neighbours see it (in use, drained and avoided if possible,
//! withdrawn) and the best path onward from it; a destination switch is only as good as its
//! attachment to the destination. Traffic that reaches a switch that does not forward, a
//! destination switch whose links to the destination are down, or a switch with no route, is
//! blackholed there.
//!
//! Flows with the same source, destination switches and hashing spread identically, so they are
//! spread once, as a class; each flow's loss is its share of its class's.
//!
//! Congestion is counted once: links are taken in the order every path crosses them (endpoint to
//! tier 1, up the tiers, down the tiers, tier 1 to endpoint); a link whose traffic exceeds its
//! capacity drops the excess, every flow on it in proportion to what it brings (proportional
//! sharing), and only what survives goes on to the next link. So no flow loses more than it
//! sends. Blackhole losses and congestion losses are integrated exactly between events: rates
//! are constant in between.

use std::collections::HashMap;

use crate::time::SimTime;
use crate::topology::{Detect, EndpointId, LinkId, NodeId, Topology};

mod congestion;
mod parallel;
mod queries;
mod replay;
mod shares;
#[cfg(test)]
mod tests;
mod walk;

use parallel::{MAX_THREADS, Outputs, PARALLEL_MIN, Part, flagged};
use replay::{DELIVERED, Hop, ROOT};
use walk::{Ground, Walker, Writable, hops_toward, mix, note_cause};

/// How the neighbours of a switch see it, best last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum View {
    /// Withdrawn: failure detected, or protocols not yet up. Never used.
    Withdrawn,
    /// Drained: used only where no better path exists.
    Avoid,
    /// In service.
    Use,
}

/// What neighbours currently believe about a switch, and what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// False while the switch does not forward (rebooting, hung).
    pub forwarding: bool,
    /// As other switches see it, as a next hop.
    pub fabric: View,
    /// As multihomed endpoints (servers on an ESI-LAG) see it when sending to it, and as switches
    /// see its attachment to them when delivering. Only tier-1 switches have endpoints.
    pub access: View,
    /// As single-homed endpoints see it (and switches its attachment to them): their link only
    /// goes when the switch does.
    pub lone: View,
    /// False while its links to its multihomed endpoints are down (disabled in maintenance mode,
    /// isolated from the core, rebooting): their traffic that reaches it is lost.
    pub attached: bool,
}

impl Status {
    /// In service.
    pub const UP: Status =
        Status { forwarding: true, fabric: View::Use, access: View::Use, lone: View::Use, attached: true };
}

/// How an endpoint is attached, and so which of a switch's views it goes by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Attachment {
    /// The world beyond border leafs, over routed links: the fabric view.
    World,
    /// A server on two or more switches (an ESI-LAG): the access view.
    Multihomed,
    /// A server on one switch: the lone view.
    Single,
}

impl Attachment {
    fn of(endpoint: &crate::topology::Endpoint) -> Attachment {
        match endpoint.detect {
            Detect::Fabric => Attachment::World,
            Detect::Access if endpoint.attachments.len() > 1 => Attachment::Multihomed,
            Detect::Access => Attachment::Single,
        }
    }

    fn view(self, status: &Status) -> View {
        match self {
            Attachment::World => status.fabric,
            Attachment::Multihomed => status.access,
            Attachment::Single => status.lone,
        }
    }
}

/// How a switch splits traffic over equally good next hops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ecmp {
    /// Equally over all of them (a fluid average of hashing).
    Fluid,
    /// All of a flow on one of them, chosen by hashing the flow with this seed; a flow moves
    /// when the set of next hops changes, so its loss is all or nothing.
    Hash(u64),
}

/// A flow of traffic between two endpoints at a constant rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowSpec {
    /// Where it comes from.
    pub src: EndpointId,
    /// Where it goes.
    pub dst: EndpointId,
    /// Offered rate in Gbps.
    pub rate_gbps: f64,
}

/// What made a flow lose traffic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cause {
    /// Traffic sent to a switch that did not forward or deliver it, or with no route there.
    Blackhole(NodeId),
    /// Offered load above a link's capacity.
    Congestion(LinkId),
}

/// One flow's losses over a run.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowLoss {
    /// Lost to blackholes, in Gbit.
    pub blackhole_gbit: f64,
    /// Lost to congestion, in Gbit.
    pub congestion_gbit: f64,
    /// The cause of the largest share of the loss, and when it first struck, if anything was
    /// lost.
    pub cause: Option<(Cause, SimTime)>,
}

impl FlowLoss {
    /// Total loss in Gbit.
    pub fn total_gbit(&self) -> f64 {
        self.blackhole_gbit + self.congestion_gbit
    }
}

/// The highest utilisation any link reached.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peak {
    /// The link.
    pub link: LinkId,
    /// Offered load over capacity (1.0 = full).
    pub utilisation: f64,
    /// When it was first reached.
    pub at: SimTime,
}

/// What a finished run of the model leaves: see [`Fluid::finish`].
pub(crate) struct Finished {
    /// Per flow, in the order given.
    pub(crate) losses: Vec<FlowLoss>,
    pub(crate) topology: Topology,
    pub(crate) flows: Vec<FlowSpec>,
    pub(crate) peak: Option<Peak>,
    /// Spreads computed over the run.
    pub(crate) evaluations: u64,
}

/// Flows that spread alike: one source, one destination group, and (when hashing) one flow.
#[derive(Clone, Debug)]
struct Class {
    src: EndpointId,
    dst: EndpointId,
    dest: u32,
    rate_gbps: f64,
    flows: u32,
    /// The hashing key of the class's flow when hashing.
    hash: Option<u64>,
    /// True when the traffic crosses the fabric (the source and the destination share no
    /// tier-1 switch), so it needs the overlay's routes; traffic between endpoints of one switch
    /// is switched there.
    overlay: bool,
}

/// A class's current spread and its running totals.
#[derive(Clone, Debug, Default)]
struct ClassState {
    /// The share of the class lost to blackholes, after any congestion before them.
    blackhole_fraction: f64,
    /// The same share as its last spread found it, before any congestion.
    spread_blackhole: f64,
    blackhole_cause: Option<NodeId>,
    congestion_gbps: f64,
    congestion_cause: Option<LinkId>,
    since: SimTime,
    /// (link, share of the class's rate offered on it): the load is
    /// `bits_per_second(share * rate)`, computed alike when it is put on and taken off. A share
    /// is kept in single precision (a rounding of 6e-8 of it, a few bits per second per Gbps),
    /// and each distinct share once ([`shares::pack`]); classes spread alike share all but
    /// their endpoints' own links ([`shares::Contributions`]).
    contributions: shares::Contributions,
    /// The switches the class reaches, for a class its [`Summary`] cannot hold (most can: they
    /// are kept there only).
    overflow: Option<Box<Reached>>,
    /// True when some of the class is lost, or rides a path that is only "avoid" quality.
    degraded: bool,
    blackhole_gbit: f64,
    congestion_gbit: f64,
    causes: Vec<(Cause, SimTime, f64)>,
}

/// The switches a class's traffic reaches now, as its spread lists them.
#[derive(Clone, Debug, Default)]
struct Reached {
    /// One per step of its spread (a switch reached at two stages, as relayed traffic can be,
    /// is listed twice).
    carried: Vec<NodeId>,
    /// Switches every delivered bit crosses (single points of failure); empty when nothing is
    /// delivered.
    sole: Vec<NodeId>,
}

/// A class's switches kept inline, so that asking which classes cross a switch reads one dense
/// array in class order, a cache line per class: the switches its traffic reaches now
/// (`nodes[..len]`, by number), which of them every delivered bit crosses (`sole` bits), and
/// whether it is degraded. A class that reaches more switches than fit, or a switch numbered
/// beyond 16 bits, is marked `OVERFLOW` and asked about through its `ClassState`.
#[derive(Clone, Copy, Debug)]
#[repr(align(64))]
struct Summary {
    nodes: [u16; Summary::CAPACITY],
    sole: u32,
    len: u8,
    degraded: bool,
}

impl Summary {
    const CAPACITY: usize = 28;
    const OVERFLOW: u8 = u8::MAX;
    const EMPTY: Summary = Summary { nodes: [0; Summary::CAPACITY], sole: 0, len: 0, degraded: false };

    fn of(carried: &[NodeId], sole: &[NodeId], degraded: bool) -> Summary {
        let mut summary = Summary { degraded, ..Summary::EMPTY };
        if carried.len() > Summary::CAPACITY {
            summary.len = Summary::OVERFLOW;
            return summary;
        }
        for (slot, node) in summary.nodes.iter_mut().zip(carried) {
            match u16::try_from(node.0) {
                Ok(number) => *slot = number,
                Err(_) => {
                    summary.len = Summary::OVERFLOW;
                    return summary;
                }
            }
        }
        summary.len = carried.len() as u8;
        for node in sole {
            if let Some(index) = carried.iter().position(|n| n == node) {
                summary.sole |= 1 << index;
            }
        }
        summary
    }
}

/// Where a switch sends traffic for one destination group: its next hops are
/// `hop_table[start..start + len]` (fixed by the topology), of which the `count` marked in
/// `hop_best` are the best, of quality `best`; `culprit` is whom to blame when there are none.
#[derive(Clone, Copy, Debug)]
struct Decision {
    start: u32,
    len: u32,
    bits_at: u32,
    count: u32,
    best: View,
    culprit: NodeId,
}

/// What is remembered per (destination group, switch): where its next hops are in the hop
/// table, and its decision and reach with the clock reading they were computed at. They stay
/// valid until a switch they depend on changes ([`Fluid::invalidate`]).
#[derive(Clone, Copy, Debug)]
struct Memo {
    /// `u32::MAX` until the hops are looked up.
    start: u32,
    len: u32,
    /// Where the slot's marks of its best next hops start in the model's bits.
    bits_at: u32,
    decision_stamp: u32,
    reach_stamp: u32,
    count: u32,
    culprit: NodeId,
    best: View,
    reach: View,
    /// The switch is one of the destination group's.
    is_dest: bool,
}

impl Memo {
    const EMPTY: Memo = Memo {
        start: u32::MAX,
        len: 0,
        bits_at: 0,
        decision_stamp: 0,
        reach_stamp: 0,
        count: 0,
        culprit: NodeId(0),
        best: View::Withdrawn,
        reach: View::Withdrawn,
        is_dest: false,
    };
}

/// Reusable buffers for spreading, so a spread allocates nothing once warm.
#[derive(Debug, Default)]
struct Scratch {
    stage: Vec<(NodeId, f64)>,
    next: Vec<(NodeId, f64)>,
    hops: Vec<(NodeId, LinkId)>,
    ranked: Vec<View>,
    /// The links and shares of the class being spread.
    entries: Vec<(LinkId, f32)>,
    /// The switches the class being spread reaches.
    reached: Reached,
    /// The last spread made, for the next class that spreads alike.
    alike: walk::Alike,
    /// The endpoints' own links of the class being spread, and its old ones with their shares.
    ends: Vec<LinkId>,
    old_ends: Vec<(LinkId, f32)>,
    /// The shares of the places of the class being spread.
    end_shares: Vec<f32>,
    /// What the class being spread changes of the loads, when its spread is kept.
    delta: Vec<(LinkId, i64)>,
    /// The class's shared links and shares as they are packed.
    packed: Vec<u32>,
    /// Classes moving alike, whose change of load is added once ([`parallel::Run`]).
    run: parallel::Run,
}

/// The result of spreading one class once.
#[derive(Clone, Debug, Default, PartialEq)]
struct Spread {
    blackhole_fraction: f64,
    cause: Option<(NodeId, f64)>,
    delivered: f64,
    /// Destination switches that relayed the traffic on: it never goes back to them.
    relayed: Vec<NodeId>,
    degraded: bool,
}

/// The fluid model: topology, switch status, flows and their accounting.
#[derive(Debug)]
pub struct Fluid {
    pub(crate) topology: Topology,
    pub(crate) status: Vec<Status>,
    flows: Vec<FlowSpec>,
    /// Per flow, its class.
    flow_class: Vec<u32>,
    classes: Vec<Class>,
    state: Vec<ClassState>,
    summary: Vec<Summary>,
    /// Per class, one byte read before its summary: bit 0 set when some switch is a single
    /// point of failure for it (or it overflows), bit 1 when it is degraded, bit 2 when it loses
    /// traffic now (`LOSING`); and a 64-bit bloom
    /// of the switches it reaches (bit `node % 64`), so asking whether it crosses a switch
    /// mostly reads eight bytes.
    flags: Vec<u8>,
    bloom: Vec<u64>,
    dests: Vec<Vec<NodeId>>,
    /// Per destination group, how its endpoints are attached.
    dest_kinds: Vec<Attachment>,
    /// Per endpoint, its kind of source: endpoints attached alike to the same switches, in the
    /// same order, have the same number (their classes to one destination group spread alike).
    source_kinds: Vec<u32>,
    /// Per link: offered load, level on paths, and the switch whose classes can cross it.
    /// Loads are whole bits per second, so that adding and taking off a class's load leaves no
    /// rounding behind and the sum is the same in any order (threads add their own).
    offered: Vec<i64>,
    level: Vec<u8>,
    link_node: Vec<NodeId>,
    /// Links whose offered load exceeds their capacity.
    overloaded: Vec<LinkId>,
    /// Classes that lost traffic to congestion at the last congestion pass.
    congested: Vec<u32>,
    /// Per switch, the classes whose paths could cross it.
    pub(crate) classes_through: Vec<Vec<u32>>,
    /// Per (destination group, switch): its next hops, decision and reach, shared by every
    /// class going that way.
    memo: Vec<Memo>,
    /// Every (destination group, switch)'s next hops, looked up once; identical lists are
    /// stored once.
    hop_table: Vec<(NodeId, LinkId)>,
    /// Per (destination group, switch), one bit per next hop, set for the best now; the slots
    /// of destination group `d` own `bits[bits_start[d]..bits_start[d + 1]]`.
    bits: Vec<u64>,
    bits_start: Vec<usize>,
    /// Memo validity: a memo is valid when computed at or after the last bump of its destination
    /// group and of its switch.
    clock: u32,
    dest_bump: Vec<u32>,
    node_bump: Vec<u32>,
    /// Per tier-1 switch, the destination groups it belongs to.
    node_dests: Vec<Vec<u32>>,
    inverse_capacity: Vec<f64>,
    /// Per link, the most load it can carry without being overloaded or above the peak: see
    /// [`Fluid::check_links`]. Below zero until the first check.
    alarm: Vec<i64>,
    /// When set, the control plane is gone: every flow is lost, blamed on this switch.
    overlay_lost: Option<NodeId>,
    /// Per switch, the switch to blame for what it loses (a leaf isolated from the core blames
    /// the spine whose loss isolated it).
    pub(crate) blame_to: Vec<Option<NodeId>>,
    /// Flows are hashed onto one path each ([`Ecmp::Hash`]).
    hashed: bool,
    /// One set of buffers per thread that spreads.
    scratch: Vec<Scratch>,
    /// Per thread but the first, the changes of link load it made in one re-spread.
    loads: Vec<Vec<i64>>,
    /// How many threads spread classes at once, and the fewest classes worth a thread.
    threads: usize,
    parallel_min: usize,
    /// Congestion resolved by spreading every affected class again at every level, with no
    /// class read off its offered load: the reference the tests hold the shortcut to.
    pub(crate) full_congestion: bool,
    /// Whether classes' spreads can be recorded as steps to replay ([`Hop`]): false when the
    /// fabric has more switches than a step number can count (congestion then spreads again).
    pub(crate) traceable: bool,
    /// Spreads are recorded in `traces` as they are made: from the first congestion on (an idle
    /// fabric never pays for it). A class's record is current while its flags hold `TRACED`.
    tracing: bool,
    traces: Vec<Vec<Hop>>,
    peak: Option<Peak>,
    pub(crate) evaluations: u64,
}

impl Fluid {
    /// Builds the model with every switch up and every flow spread.
    pub fn new(topology: Topology, flows: Vec<FlowSpec>, ecmp: Ecmp) -> Fluid {
        let traceable = replay::traceable(topology.node_count());
        Fluid::with_tracing(topology, flows, ecmp, traceable)
    }

    /// [`Fluid::new`], with spreads recorded as replayable steps for congestion when
    /// `traceable` (a fabric too large for it never is).
    fn with_tracing(topology: Topology, flows: Vec<FlowSpec>, ecmp: Ecmp, traceable: bool) -> Fluid {
        let traceable = traceable && replay::traceable(topology.node_count());
        // Destination groups, numbered in the order flows first reach them; looked up once per
        // endpoint.
        let mut dest_ids: HashMap<(Vec<NodeId>, Attachment), u32> = HashMap::new();
        let mut dests: Vec<Vec<NodeId>> = Vec::new();
        let mut dest_kinds = Vec::new();
        let mut endpoint_dest = vec![u32::MAX; topology.endpoints.len()];
        // Flows keyed by (destination group, source, destination, flow), which is the order
        // classes are numbered in: classes re-spread together then walk the same memos one
        // after another, which keeps them in cache.
        let mut keyed: Vec<u128> = Vec::with_capacity(flows.len());
        for (index, flow) in flows.iter().enumerate() {
            let dest = match endpoint_dest[flow.dst.0 as usize] {
                u32::MAX => {
                    let endpoint = topology.endpoint(flow.dst);
                    let mut leafs: Vec<NodeId> = endpoint.attachments.iter().map(|a| a.0).collect();
                    leafs.sort_unstable();
                    let kind = Attachment::of(endpoint);
                    let dest = *dest_ids.entry((leafs.clone(), kind)).or_insert_with(|| {
                        dests.push(leafs);
                        dest_kinds.push(kind);
                        (dests.len() - 1) as u32
                    });
                    endpoint_dest[flow.dst.0 as usize] = dest;
                    dest
                }
                dest => dest,
            };
            let index = u32::try_from(index).expect("fewer than 2^32 flows");
            keyed.push(
                u128::from(dest) << 96
                    | u128::from(flow.src.0) << 64
                    | u128::from(flow.dst.0) << 32
                    | u128::from(index),
            );
        }
        keyed.sort_unstable();
        let mut kinds: HashMap<(Attachment, Vec<NodeId>), u32> = HashMap::new();
        let source_kinds: Vec<u32> = topology
            .endpoints
            .iter()
            .map(|endpoint| {
                let switches = endpoint.attachments.iter().map(|a| a.0).collect();
                let next = kinds.len() as u32;
                *kinds.entry((Attachment::of(endpoint), switches)).or_insert(next)
            })
            .collect();
        let mut classes: Vec<Class> = Vec::new();
        let mut flow_class = vec![0u32; flows.len()];
        // The classes of the current run of flows with one (group, source, destination).
        let mut run: (u128, usize) = (u128::MAX, 0);
        for key in keyed {
            let (dest, index) = ((key >> 96) as u32, key as u32 as usize);
            let flow = &flows[index];
            // A hashed flow is its own class: it takes its own path.
            let hash = match ecmp {
                Ecmp::Fluid => None,
                Ecmp::Hash(seed) => Some(mix(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))),
            };
            if key >> 32 != run.0 {
                run = (key >> 32, classes.len());
            }
            let class = match classes[run.1..].iter().position(|c| c.hash == hash) {
                Some(offset) => run.1 + offset,
                None => {
                    let local =
                        topology.endpoint(flow.src).attachments.iter().any(|a| dests[dest as usize].contains(&a.0));
                    classes.push(Class {
                        src: flow.src,
                        dst: flow.dst,
                        dest,
                        rate_gbps: 0.0,
                        flows: 0,
                        hash,
                        overlay: !local,
                    });
                    classes.len() - 1
                }
            };
            classes[class].rate_gbps += flow.rate_gbps;
            classes[class].flows += 1;
            flow_class[index] = class as u32;
        }
        classes.shrink_to_fit();
        let node_count = topology.node_count();
        let link_count = topology.links.len();
        let mut node_dests = vec![Vec::new(); node_count];
        for (dest, leafs) in dests.iter().enumerate() {
            for leaf in leafs {
                node_dests[leaf.0 as usize].push(dest as u32);
            }
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS);
        let level = link_levels(&topology);
        let link_node = link_nodes(&topology);
        let mut fluid = Fluid {
            status: vec![Status::UP; node_count],
            state: vec![ClassState::default(); classes.len()],
            summary: vec![Summary::EMPTY; classes.len()],
            flags: vec![0; classes.len()],
            bloom: vec![0; classes.len()],
            offered: vec![0; link_count],
            level,
            link_node,
            overloaded: Vec::new(),
            congested: Vec::new(),
            classes_through: vec![Vec::new(); node_count],
            memo: vec![Memo::EMPTY; dests.len() * node_count],
            hop_table: Vec::new(),
            bits: Vec::new(),
            bits_start: vec![0; dests.len() + 1],
            clock: 1,
            dest_bump: vec![1; dests.len()],
            node_bump: vec![1; node_count],
            node_dests,
            inverse_capacity: topology.links.iter().map(|l| 1.0 / (l.capacity_gbps * BITS_PER_GBIT)).collect(),
            alarm: vec![-1; link_count],
            overlay_lost: None,
            blame_to: vec![None; node_count],
            scratch: (0..threads).map(|_| Scratch::default()).collect(),
            loads: Vec::new(),
            hashed: matches!(ecmp, Ecmp::Hash(_)),
            threads,
            parallel_min: PARALLEL_MIN,
            full_congestion: false,
            traceable,
            tracing: false,
            traces: Vec::new(),
            peak: None,
            evaluations: 0,
            topology,
            flows,
            flow_class,
            classes,
            dests,
            dest_kinds,
            source_kinds,
        };
        fluid.index_paths();
        // Grown by doubling while indexing: kept for the whole run.
        for classes in &mut fluid.classes_through {
            classes.shrink_to_fit();
        }
        let all: Vec<u32> = (0..fluid.classes.len() as u32).collect();
        fluid.respread(&all, SimTime::ZERO);
        fluid.check_links(SimTime::ZERO);
        fluid.congestion(SimTime::ZERO);
        fluid
    }

    /// Records, per switch, every class that could ever cross it (all next hops, any state), and
    /// looks up the next hops of every (destination group, switch) a spread can visit: hop lists
    /// are shared between the slots that have the same (a leaf's uplinks serve every remote
    /// destination), and each slot gets its own bits to mark the best of them. Classes are
    /// numbered by destination group, so each group's bits are one run of `bits`.
    fn index_paths(&mut self) {
        let node_count = self.topology.node_count();
        let mut seen = vec![u32::MAX; node_count];
        let mut interned: HashMap<Vec<(NodeId, LinkId)>, u32> = HashMap::new();
        // Most slots' next hops are their switch's uplinks: found without hashing.
        let mut uplinks: Vec<Option<u32>> = vec![None; node_count];
        let mut hops = Vec::new();
        let mut next_dest = 0u32;
        let mut stack: Vec<NodeId> = Vec::new();
        for class in 0..self.classes.len() {
            let dest = self.classes[class].dest;
            while next_dest <= dest {
                self.bits_start[next_dest as usize] = self.bits.len();
                next_dest += 1;
            }
            stack.extend(self.topology.endpoint(self.classes[class].src).attachments.iter().map(|a| a.0));
            while let Some(node) = stack.pop() {
                if seen[node.0 as usize] == class as u32 {
                    continue;
                }
                seen[node.0 as usize] = class as u32;
                self.classes_through[node.0 as usize].push(class as u32);
                let leafs = &self.dests[dest as usize];
                let slot = dest as usize * node_count + node.0 as usize;
                if self.memo[slot].start == u32::MAX {
                    hops.clear();
                    hops_toward(&self.topology, leafs, node, &mut hops);
                    let up = &self.topology.up[node.0 as usize];
                    let known = if hops == *up { uplinks[node.0 as usize] } else { interned.get(&hops).copied() };
                    let start = match known {
                        Some(start) => start,
                        None if hops == *up => {
                            let start = u32::try_from(self.hop_table.len()).expect("fewer than 2^32 hops");
                            self.hop_table.extend_from_slice(&hops);
                            uplinks[node.0 as usize] = Some(start);
                            start
                        }
                        None => {
                            let start = u32::try_from(self.hop_table.len()).expect("fewer than 2^32 hops");
                            self.hop_table.extend_from_slice(&hops);
                            interned.insert(hops.clone(), start);
                            start
                        }
                    };
                    let memo = &mut self.memo[slot];
                    memo.start = start;
                    memo.len = hops.len() as u32;
                    memo.bits_at = u32::try_from(self.bits.len()).expect("fewer than 2^32 hop marks");
                    memo.is_dest = leafs.binary_search(&node).is_ok();
                    self.bits.resize(self.bits.len() + hops.len().div_ceil(64), 0);
                }
                let memo = &self.memo[slot];
                if memo.is_dest {
                    // A destination switch may relay up, when its own link to the destination
                    // is down.
                    stack.extend(self.topology.up[node.0 as usize].iter().map(|h| h.0));
                } else {
                    let range = memo.start as usize..(memo.start + memo.len) as usize;
                    stack.extend(self.hop_table[range].iter().map(|h| h.0));
                }
            }
        }
        while (next_dest as usize) < self.bits_start.len() {
            self.bits_start[next_dest as usize] = self.bits.len();
            next_dest += 1;
        }
    }

    /// See [`crate::Simulation::set_parallelism`].
    pub(crate) fn set_parallelism(&mut self, threads: usize, min_classes: usize) {
        self.threads = threads.clamp(1, MAX_THREADS);
        self.parallel_min = min_classes.max(1);
        self.scratch.resize_with(self.threads, Scratch::default);
    }

    /// The model divided into what spreads read and what they write.
    fn split(&mut self) -> (Ground<'_>, Writable<'_>) {
        let ground = Ground {
            topology: &self.topology,
            status: &self.status,
            classes: &self.classes,
            dests: &self.dests,
            dest_kinds: &self.dest_kinds,
            source_kinds: &self.source_kinds,
            hop_table: &self.hop_table,
            blame_to: &self.blame_to,
            dest_bump: &self.dest_bump,
            node_bump: &self.node_bump,
            bits_start: &self.bits_start,
            tracing: self.tracing,
            clock: self.clock,
            overlay_lost: self.overlay_lost,
        };
        let writable = Writable {
            memo: &mut self.memo,
            bits: &mut self.bits,
            scratch: &mut self.scratch,
            outputs: Outputs {
                state: &mut self.state,
                summary: &mut self.summary,
                flags: &mut self.flags,
                bloom: &mut self.bloom,
                traces: &mut self.traces,
                first: 0,
            },
            offered: &mut self.offered,
            loads: &mut self.loads,
        };
        (ground, writable)
    }

    /// A walker over every destination group, on this thread.
    fn walker(&mut self) -> Walker<'_> {
        let (ground, writable) = self.split();
        let scratch = writable.scratch.first_mut().expect("at least one scratch");
        Walker { ground, first: 0, memo: writable.memo, bits_base: 0, bits: writable.bits, scratch, evaluations: 0 }
    }

    /// Spreads class `class` once, on this thread, with the links letting `survival` through.
    fn spread_one<F: FnMut(LinkId, f64)>(
        &mut self,
        class: usize,
        survival: &[f64],
        carried: &mut Vec<NodeId>,
        sole: &mut Vec<NodeId>,
        on_link: &mut F,
    ) -> Spread {
        let mut walker = self.walker();
        let spread = walker.spread(class, Some(survival), carried, sole, &mut |link, share, _, _| on_link(link, share));
        let evaluations = walker.evaluations;
        self.evaluations += evaluations;
        spread
    }

    /// Forgets every memo that depends on `node`'s status: the decisions of the switches below
    /// it (their paths may go up through it) and of every switch towards the destination groups
    /// below it (their paths may come down through it). A switch's own decision does not depend
    /// on its own status.
    pub(crate) fn invalidate(&mut self, node: NodeId) {
        self.clock += 1;
        let clock = self.clock;
        // `node_bump` doubles as the visited mark: a switch bumped at this clock was seen.
        let mut stack = vec![node];
        while let Some(current) = stack.pop() {
            for &dest in &self.node_dests[current.0 as usize] {
                self.dest_bump[dest as usize] = clock;
            }
            for &(lower, _) in &self.topology.down[current.0 as usize] {
                if self.node_bump[lower.0 as usize] != clock {
                    self.node_bump[lower.0 as usize] = clock;
                    stack.push(lower);
                }
            }
        }
    }

    /// Sets `node`'s status; returns the old one.
    pub(crate) fn set_status(&mut self, node: NodeId, status: Status) -> Status {
        let old = std::mem::replace(&mut self.status[node.0 as usize], status);
        if old != status {
            self.invalidate(node);
        }
        old
    }

    /// Sets whom `node` blames for what it loses.
    pub(crate) fn set_blame(&mut self, node: NodeId, culprit: Option<NodeId>) {
        if self.blame_to[node.0 as usize] != culprit {
            self.blame_to[node.0 as usize] = culprit;
            self.invalidate(node);
        }
    }

    /// Re-spreads `classes` (ascending) at `now`: closes each one's accounting (what it lost so
    /// far, its load off the links), spreads it again and opens its accounting with the new
    /// spread (its load on the links). Spreading is divided between threads by destination
    /// group; loads are whole numbers, so each thread can add its own changes and every figure is
    /// the same whatever the number of threads.
    fn respread(&mut self, classes: &[u32], now: SimTime) -> bool {
        let parts = self.divide(classes);
        if self.loads.len() < parts.len() - 1 {
            self.loads.resize_with(parts.len() - 1, || vec![0; self.offered.len()]);
        }
        let node_count = self.topology.node_count();
        let (ground, writable) = self.split();
        let Writable { mut memo, mut bits, scratch, mut outputs, offered, loads } = writable;
        let mut loads = std::iter::once(offered).chain(loads.iter_mut().map(|l| &mut l[..]));
        let mut scratches = scratch.iter_mut();
        let mut jobs = Vec::with_capacity(parts.len());
        let (mut first_dest, mut first_class, mut bits_base) = (0u32, 0usize, 0usize);
        let mut rest = classes;
        for part in &parts {
            let (mine, others) = rest.split_at(rest.partition_point(|&c| (c as usize) < part.class_end));
            rest = others;
            let (memo_mine, memo_rest) = memo.split_at_mut((part.dest_end - first_dest) as usize * node_count);
            memo = memo_rest;
            let bits_end = ground.bits_start[part.dest_end as usize];
            let (bits_mine, bits_rest) = bits.split_at_mut(bits_end - bits_base);
            bits = bits_rest;
            let (outputs_mine, outputs_rest) = outputs.split_at(part.class_end);
            outputs = outputs_rest;
            let walker = Walker {
                ground,
                first: first_dest,
                memo: memo_mine,
                bits_base,
                bits: bits_mine,
                scratch: scratches.next().expect("a scratch per part"),
                evaluations: 0,
            };
            let load = loads.next().expect("a load array per part");
            jobs.push((walker, outputs_mine, mine, load));
            first_dest = part.dest_end;
            first_class = part.class_end;
            bits_base = bits_end;
        }
        debug_assert!(rest.is_empty() && first_class == ground.classes.len());
        let (evaluations, moved) = if jobs.len() == 1 {
            jobs.into_iter()
                .map(|(walker, outputs, mine, load)| Fluid::open_all(walker, outputs, mine, load, now))
                .fold((0, false), |(e, m), (evaluations, moved)| (e + evaluations, m | moved))
        } else {
            use rayon::prelude::*;
            jobs.into_par_iter()
                .map(|(walker, outputs, mine, load)| Fluid::open_all(walker, outputs, mine, load, now))
                .reduce(|| (0, false), |(e, m), (evaluations, moved)| (e + evaluations, m | moved))
        };
        self.evaluations += evaluations;
        // The other parts' changes of load, added in (exactly: they are whole numbers).
        for load in &mut self.loads[..parts.len() - 1] {
            for (offered, change) in self.offered.iter_mut().zip(load.iter_mut()) {
                *offered += std::mem::take(change);
            }
        }
        moved
    }

    /// Divides ascending `classes` into at most `threads` parts of whole destination groups
    /// with about as many classes each; the last part ends with the last group.
    fn divide(&self, classes: &[u32]) -> Vec<Part> {
        let all = Part { dest_end: self.dests.len() as u32, class_end: self.classes.len() };
        let parts = self.threads.min(classes.len() / self.parallel_min.max(1)).max(1);
        let mut cuts = Vec::with_capacity(parts);
        let mut from = 0;
        for index in 1..parts {
            let at = classes.len() * index / parts;
            // Cut before the first class of the next destination group after `at`'s.
            let dest_end = self.classes[classes[at] as usize].dest + 1;
            let class_end = self.classes.partition_point(|c| c.dest < dest_end);
            let taken = classes.partition_point(|&c| (c as usize) < class_end);
            if taken <= from || taken >= classes.len() {
                continue;
            }
            from = taken;
            cuts.push(Part { dest_end, class_end });
        }
        cuts.push(all);
        cuts
    }

    /// Re-spreads each of `classes` with `walker`, moving its load in `load` (the links' loads,
    /// or changes to them); returns the spreads computed, and whether any class's spread moved.
    fn open_all(
        mut walker: Walker<'_>,
        mut outputs: Outputs<'_>,
        classes: &[u32],
        load: &mut [i64],
        now: SimTime,
    ) -> (u64, bool) {
        let mut moved = false;
        for (index, &class) in classes.iter().enumerate() {
            // A spread is kept only when the next class can use it.
            walker.scratch.alike.upcoming = classes.get(index + 1).copied();
            moved |= outputs.open(&mut walker, class as usize, load, now);
        }
        walker.scratch.run.flush(load);
        walker.scratch.alike.upcoming = None;
        (walker.evaluations, moved)
    }

    /// Re-spreads `classes` (ascending) at `now` after switch status changed, then settles
    /// congestion.
    pub(crate) fn reevaluate(&mut self, classes: &[u32], now: SimTime) {
        let moved = self.respread(classes, now);
        self.check_links(now);
        // Congestion depends on the links' loads and the classes' spreads: when no spread moved
        // (so no load either), what it found last time stands.
        if moved || self.full_congestion {
            self.congestion(now);
        }
    }

    /// Loses (`Some`) or regains the control plane at `now`: every class that crosses the
    /// fabric is re-spread.
    pub(crate) fn set_overlay_lost(&mut self, culprit: Option<NodeId>, now: SimTime) {
        if self.overlay_lost == culprit {
            return;
        }
        self.overlay_lost = culprit;
        let all: Vec<u32> = (0..self.classes.len() as u32).filter(|c| self.classes[*c as usize].overlay).collect();
        self.reevaluate(&all, now);
    }
}

/// Link loads are counted in bits per second.
const BITS_PER_GBIT: f64 = 1e9;

/// `gbps` (never negative) in whole bits per second, rounded to nearest (adding a half and
/// truncating: `f64::round` is a library call on the baseline x86-64 target, and this is hot).
fn bits_per_second(gbps: f64) -> i64 {
    debug_assert!(gbps >= 0.0, "loads are never negative");
    (gbps * BITS_PER_GBIT + 0.5) as i64
}

/// The load in bits per second of `share` of a class sending `rate` Gbps.
fn share_load(share: f32, rate: f64) -> i64 {
    bits_per_second(f64::from(share) * rate)
}

/// The flag of a class that loses traffic now.
const LOSING: u8 = 4;

/// The flag of a class whose spread is recorded in `Fluid::traces` as it is now.
const TRACED: u8 = 8;

/// `LOSING` if the class of `state` loses traffic now, else 0.
fn losing(state: &ClassState) -> u8 {
    if state.blackhole_fraction > 0.0 || state.congestion_gbps > 0.0 { LOSING } else { 0 }
}

/// Adds what a class sending `rate` lost since its accounting last started, at its current
/// rates.
fn accrue(state: &mut ClassState, rate: f64, now: SimTime) {
    // Most classes lose nothing: adding zeros would change nothing.
    let losing = state.blackhole_fraction != 0.0 || state.congestion_gbps != 0.0;
    if !losing && state.blackhole_cause.is_none() && state.congestion_cause.is_none() {
        state.since = now;
        return;
    }
    let seconds = now.millis_since(state.since) as f64 / 1000.0;
    let blackhole = rate * state.blackhole_fraction * seconds;
    state.blackhole_gbit += blackhole;
    if let Some(node) = state.blackhole_cause {
        note_cause(&mut state.causes, Cause::Blackhole(node), state.since, blackhole);
    }
    let congestion = state.congestion_gbps * seconds;
    state.congestion_gbit += congestion;
    if let Some(link) = state.congestion_cause {
        note_cause(&mut state.causes, Cause::Congestion(link), state.since, congestion);
    }
    state.since = now;
}

/// The level of every link on any path: endpoint to tier 1 (0), up the tiers (1, 2), down the
/// tiers (3, 4), tier 1 to endpoint (5). Every path crosses links in increasing level.
fn link_levels(topology: &Topology) -> Vec<u8> {
    let mut level = vec![0u8; topology.links.len()];
    for (index, upper) in topology.up.iter().enumerate() {
        let tier = topology.nodes[index].tier;
        for &(_, link) in upper {
            level[link.0 as usize] = tier; // tier 1 -> 2: 1, tier 2 -> 3: 2
        }
    }
    for (index, lower) in topology.down.iter().enumerate() {
        let tier = topology.nodes[index].tier;
        for &(_, link) in lower {
            level[link.0 as usize] = 6 - tier; // tier 3 -> 2: 3, tier 2 -> 1: 4
        }
    }
    for endpoint in &topology.endpoints {
        for &(_, sending, receiving) in &endpoint.attachments {
            level[sending.0 as usize] = 0;
            level[receiving.0 as usize] = 5;
        }
    }
    level
}

/// For every link, the switch whose classes are the ones that can cross it: the sending switch
/// of a switch-to-switch link, the switch of an endpoint's link.
fn link_nodes(topology: &Topology) -> Vec<NodeId> {
    let mut node = vec![NodeId(0); topology.links.len()];
    for (index, upper) in topology.up.iter().enumerate() {
        for &(_, link) in upper {
            node[link.0 as usize] = NodeId(index as u32);
        }
    }
    for (index, lower) in topology.down.iter().enumerate() {
        for &(_, link) in lower {
            node[link.0 as usize] = NodeId(index as u32);
        }
    }
    for endpoint in &topology.endpoints {
        for &(switch, sending, receiving) in &endpoint.attachments {
            node[sending.0 as usize] = switch;
            node[receiving.0 as usize] = switch;
        }
    }
    node
}
