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
    blackhole_fraction: f64,
    blackhole_cause: Option<NodeId>,
    congestion_gbps: f64,
    congestion_cause: Option<LinkId>,
    since: SimTime,
    /// (link, share of the class's rate offered on it): the load is
    /// `bits_per_second(share * rate)`, computed alike when it is put on and taken off. A share
    /// is kept in single precision (a rounding of 6e-8 of it, a few bits per second per Gbps),
    /// which halves the state a re-spread reads.
    contributions: Vec<(LinkId, f32)>,
    /// Switches the class's traffic reaches now.
    carried: Vec<NodeId>,
    /// Switches every delivered bit crosses (single points of failure); empty when nothing is
    /// delivered.
    sole: Vec<NodeId>,
    /// True when some of the class is lost, or rides a path that is only "avoid" quality.
    degraded: bool,
    blackhole_gbit: f64,
    congestion_gbit: f64,
    causes: Vec<(Cause, SimTime, f64)>,
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
    /// The number of links and switches of the last class spread.
    last_sizes: (usize, usize),
}

/// The result of spreading one class once.
#[derive(Debug, Default)]
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
    peak: Option<Peak>,
    pub(crate) evaluations: u64,
}

impl Fluid {
    /// Builds the model with every switch up and every flow spread.
    pub fn new(topology: Topology, flows: Vec<FlowSpec>, ecmp: Ecmp) -> Fluid {
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
            peak: None,
            evaluations: 0,
            topology,
            flows,
            flow_class,
            classes,
            dests,
            dest_kinds,
        };
        fluid.index_paths();
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
            hop_table: &self.hop_table,
            blame_to: &self.blame_to,
            dest_bump: &self.dest_bump,
            node_bump: &self.node_bump,
            bits_start: &self.bits_start,
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
        let spread = walker.spread(class, Some(survival), carried, sole, on_link);
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

    /// Brings the overloaded list and the peak up to date after a re-spread: one pass over the
    /// links (cheaper than tracking which links each spread touched).
    fn check_links(&mut self, now: SimTime) {
        // Mostly no link is overloaded or above the peak: one pass of integer comparisons
        // shows it, and nothing changes.
        self.overloaded.clear();
        if self.offered.iter().zip(&self.alarm).all(|(offered, alarm)| offered <= alarm) {
            return;
        }
        let mut busiest: Option<(usize, f64)> = None;
        for (index, (offered, inverse)) in self.offered.iter().zip(&self.inverse_capacity).enumerate() {
            let utilisation = *offered as f64 * inverse;
            if utilisation > 1.0 + 1e-12 {
                self.overloaded.push(LinkId(index as u32));
            }
            if busiest.is_none_or(|(_, u)| utilisation > u + 1e-12) {
                busiest = Some((index, utilisation));
            }
        }
        if let Some((index, utilisation)) = busiest
            && self.peak.is_none_or(|p| utilisation > p.utilisation + 1e-12)
        {
            self.peak = Some(Peak { link: LinkId(index as u32), utilisation, at: now });
        }
        // A link's alarm is a load it cannot exceed without being overloaded or above the peak
        // (by more than the tolerances above), less a margin far above rounding.
        let ceiling = self.peak.map_or(0.0, |p| p.utilisation).min(1.0) + 1e-12;
        for (alarm, inverse) in self.alarm.iter_mut().zip(&self.inverse_capacity) {
            *alarm = (ceiling / inverse * (1.0 - 1e-9)) as i64;
        }
    }

    /// Re-spreads `classes` (ascending) at `now`: closes each one's accounting (what it lost so
    /// far, its load off the links), spreads it again and opens its accounting with the new
    /// spread (its load on the links). Spreading is divided between threads by destination
    /// group; loads are whole numbers, so each thread can add its own changes and every figure is
    /// the same whatever the number of threads.
    fn respread(&mut self, classes: &[u32], now: SimTime) {
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
        let evaluations: u64 = if jobs.len() == 1 {
            jobs.into_iter()
                .map(|(walker, outputs, mine, load)| Fluid::open_all(walker, outputs, mine, load, now))
                .sum()
        } else {
            use rayon::prelude::*;
            jobs.into_par_iter()
                .map(|(walker, outputs, mine, load)| Fluid::open_all(walker, outputs, mine, load, now))
                .sum()
        };
        self.evaluations += evaluations;
        // The other parts' changes of load, added in (exactly: they are whole numbers).
        for load in &mut self.loads[..parts.len() - 1] {
            for (offered, change) in self.offered.iter_mut().zip(load.iter_mut()) {
                *offered += std::mem::take(change);
            }
        }
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
    /// or changes to them); returns the spreads computed.
    fn open_all(
        mut walker: Walker<'_>,
        mut outputs: Outputs<'_>,
        classes: &[u32],
        load: &mut [i64],
        now: SimTime,
    ) -> u64 {
        for &class in classes {
            outputs.open(&mut walker, class as usize, load, now);
        }
        walker.evaluations
    }

    /// Re-spreads `classes` (ascending) at `now` after switch status changed, then settles
    /// congestion.
    pub(crate) fn reevaluate(&mut self, classes: &[u32], now: SimTime) {
        self.respread(classes, now);
        self.check_links(now);
        self.congestion(now);
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

    /// Works out congestion losses at `now` for every class on an overloaded link, link level
    /// by link level, with proportional sharing; classes that were congested and no longer are
    /// go back to zero. Runs only while some link is (or was) overloaded.
    fn congestion(&mut self, now: SimTime) {
        if self.overloaded.is_empty() && self.congested.is_empty() {
            return;
        }
        let mut affected: Vec<u32> = std::mem::take(&mut self.congested);
        for &link in &self.overloaded.clone() {
            let from = self.link_source(link);
            for &class in &self.classes_through[from.0 as usize] {
                if self.state[class as usize].contributions.iter().any(|(l, _)| *l == link) {
                    affected.push(class);
                }
            }
        }
        affected.sort_unstable();
        affected.dedup();
        let mut survival = vec![1.0; self.offered.len()];
        let mut levels: Vec<u8> = self.overloaded.iter().map(|l| self.level[l.0 as usize]).collect();
        levels.sort_unstable();
        levels.dedup();
        let (mut carried, mut sole) = (Vec::new(), Vec::new());
        for level in levels {
            let links: Vec<LinkId> =
                self.overloaded.iter().copied().filter(|l| self.level[l.0 as usize] == level).collect();
            // What reaches this level's overloaded links, after the drops at lower levels.
            let mut arriving: HashMap<LinkId, f64> = links.iter().map(|l| (*l, 0.0)).collect();
            for &class in &affected {
                let rate = self.classes[class as usize].rate_gbps;
                self.spread_one(class as usize, &survival, &mut carried, &mut sole, &mut |link, fraction| {
                    if let Some(total) = arriving.get_mut(&link) {
                        *total += fraction * rate;
                    }
                });
            }
            for link in links {
                // Classes not affected bring their offered load unchanged.
                let affected_offered: i64 = affected
                    .iter()
                    .flat_map(|c| {
                        let rate = self.classes[*c as usize].rate_gbps;
                        self.state[*c as usize]
                            .contributions
                            .iter()
                            .map(move |(l, share)| (*l, share_load(*share, rate)))
                    })
                    .filter(|(l, _)| *l == link)
                    .map(|(_, bits)| bits)
                    .sum();
                let unaffected = (self.offered[link.0 as usize] - affected_offered) as f64 / BITS_PER_GBIT;
                let load = unaffected + arriving[&link];
                let capacity = self.topology.links[link.0 as usize].capacity_gbps;
                survival[link.0 as usize] = if load > capacity { capacity / load } else { 1.0 };
            }
        }
        for &class in &affected {
            let rate = self.classes[class as usize].rate_gbps;
            let mut dropped: Vec<(LinkId, f64)> = Vec::new();
            // Spread with the links' survival, so what a blackhole further on takes is only what
            // got through the congestion before it (never counted twice).
            let spread = self.spread_one(class as usize, &survival, &mut carried, &mut sole, &mut |link, fraction| {
                let lost = fraction * rate * (1.0 - survival[link.0 as usize]);
                if lost > 0.0 {
                    dropped.push((link, lost));
                }
            });
            let total: f64 = dropped.iter().map(|d| d.1).sum();
            let cause = dropped.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|d| d.0);
            let state = &self.state[class as usize];
            if (state.congestion_gbps - total).abs() > 1e-12
                || state.congestion_cause != cause
                || (state.blackhole_fraction - spread.blackhole_fraction).abs() > 1e-15
            {
                let rate = self.classes[class as usize].rate_gbps;
                accrue(&mut self.state[class as usize], rate, now);
                let state = &mut self.state[class as usize];
                state.blackhole_fraction = spread.blackhole_fraction;
                state.congestion_gbps = total;
                state.congestion_cause = cause;
                if let Some(link) = cause {
                    note_cause(&mut state.causes, Cause::Congestion(link), now, 0.0);
                }
            }
            let losing = losing(&self.state[class as usize]);
            self.flags[class as usize] = self.flags[class as usize] & !LOSING | losing;
            if total > 0.0 {
                self.congested.push(class);
            }
        }
    }

    /// The sending end of a link (for endpoint links, the switch it enters; that switch's
    /// classes are the ones that can cross it).
    fn link_source(&self, link: LinkId) -> NodeId {
        self.link_node[link.0 as usize]
    }

    /// Ends the run at `now` and returns every flow's losses.
    pub(crate) fn finish(&mut self, now: SimTime) -> Vec<FlowLoss> {
        for (class, state) in self.classes.iter().zip(&mut self.state) {
            accrue(state, class.rate_gbps, now);
        }
        self.flows
            .iter()
            .zip(&self.flow_class)
            .map(|(flow, &class)| {
                let (class, state) = (&self.classes[class as usize], &self.state[class as usize]);
                let share = if class.rate_gbps > 0.0 { flow.rate_gbps / class.rate_gbps } else { 0.0 };
                FlowLoss {
                    blackhole_gbit: state.blackhole_gbit * share,
                    congestion_gbit: state.congestion_gbit * share,
                    cause: state
                        .causes
                        .iter()
                        .filter(|c| c.2 > 0.0)
                        .max_by(|a, b| a.2.total_cmp(&b.2))
                        .map(|c| (c.0, c.1)),
                }
            })
            .collect()
    }

    /// Per switch, how many flows would lose everything if it failed now (flows whose every
    /// delivered bit crosses it), over the flows that are delivering anything now.
    pub(crate) fn exposure(&self) -> Vec<(NodeId, usize)> {
        let mut counts = vec![0usize; self.topology.node_count()];
        for index in flagged(&self.flags, 1) {
            let class = &self.classes[index];
            let summary = &self.summary[index];
            if summary.len == Summary::OVERFLOW {
                for node in &self.state[index].sole {
                    counts[node.0 as usize] += class.flows as usize;
                }
                continue;
            }
            for (position, node) in summary.nodes[..summary.len as usize].iter().enumerate() {
                if summary.sole & (1 << position) != 0 {
                    counts[usize::from(*node)] += class.flows as usize;
                }
            }
        }
        let mut exposure: Vec<(NodeId, usize)> = counts
            .into_iter()
            .enumerate()
            .filter(|(_, count)| *count > 0)
            .map(|(node, count)| (NodeId(node as u32), count))
            .collect();
        exposure.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        exposure
    }

    /// True when class `class`'s traffic reaches `node` now.
    pub(crate) fn carries(&self, class: u32, node: NodeId) -> bool {
        if self.bloom[class as usize] & (1 << (node.0 % 64)) == 0 {
            return false;
        }
        let summary = &self.summary[class as usize];
        match u16::try_from(node.0) {
            Ok(number) if summary.len != Summary::OVERFLOW => summary.nodes[..summary.len as usize].contains(&number),
            // Switches numbered beyond 16 bits are in no summary.
            _ => self.state[class as usize].carried.contains(&node),
        }
    }

    /// True when class `class` loses traffic now.
    pub(crate) fn losing(&self, class: u32) -> bool {
        self.flags[class as usize] & LOSING != 0
    }

    /// True when flows are hashed onto one path each.
    pub(crate) fn hashed(&self) -> bool {
        self.hashed
    }

    /// True when class `class`'s source or destination is attached to `node` alone.
    pub(crate) fn alone_on(&self, class: u32, node: NodeId) -> bool {
        let class = &self.classes[class as usize];
        let alone = |endpoint: EndpointId| {
            let endpoint = self.topology.endpoint(endpoint);
            Attachment::of(endpoint) == Attachment::Single && endpoint.attachments.iter().any(|a| a.0 == node)
        };
        alone(class.src) || alone(class.dst)
    }

    /// True when class `class` loses traffic or rides an avoid-quality path now.
    pub(crate) fn degraded(&self, class: u32) -> bool {
        self.flags[class as usize] & 2 != 0
    }

    /// Number of flows losing traffic (to a blackhole or congestion) right now.
    pub(crate) fn flows_losing_now(&self) -> usize {
        flagged(&self.flags, LOSING).map(|class| self.classes[class].flows as usize).sum()
    }

    /// Per flow, the Gbps it loses right now (blackhole and congestion).
    pub(crate) fn loss_rates(&self) -> Vec<f64> {
        self.flows
            .iter()
            .zip(&self.flow_class)
            .map(|(flow, &class)| {
                let (class, state) = (&self.classes[class as usize], &self.state[class as usize]);
                let share = if class.rate_gbps > 0.0 { flow.rate_gbps / class.rate_gbps } else { 0.0 };
                (class.rate_gbps * state.blackhole_fraction + state.congestion_gbps) * share
            })
            .collect()
    }

    /// The links over capacity now, with their offered load over capacity, in link order.
    pub fn overloaded_now(&self) -> Vec<(LinkId, f64)> {
        self.offered
            .iter()
            .zip(&self.inverse_capacity)
            .enumerate()
            .map(|(index, (offered, inverse))| (LinkId(index as u32), *offered as f64 * inverse))
            .filter(|(_, utilisation)| *utilisation > 1.0 + 1e-12)
            .collect()
    }

    /// The highest link utilisation so far.
    pub fn peak(&self) -> Option<Peak> {
        self.peak
    }

    /// The number of classes (flows that spread alike).
    pub(crate) fn class_count(&self) -> usize {
        self.classes.len()
    }

    /// The flows, in the order given.
    pub fn flows(&self) -> &[FlowSpec] {
        &self.flows
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

/// The most threads one run spreads classes on.
const MAX_THREADS: usize = 8;

/// The fewest classes to re-spread that are worth another thread: waking a pool thread costs
/// tens of microseconds, a class's spread under a microsecond. Measured on the bench scenario
/// (two cores): 48 was slower than 256, 1,024 no faster.
const PARALLEL_MIN: usize = 256;

/// A run of whole destination groups `..dest_end`, whose classes are those `..class_end`.
#[derive(Clone, Copy, Debug)]
struct Part {
    dest_end: u32,
    class_end: usize,
}

/// The per-class records a spread writes, for the classes from `first` on.
struct Outputs<'a> {
    state: &'a mut [ClassState],
    summary: &'a mut [Summary],
    flags: &'a mut [u8],
    bloom: &'a mut [u64],
    first: usize,
}

impl<'a> Outputs<'a> {
    /// Divides the records at class `class`: those before it, and those from it on.
    fn split_at(self, class: usize) -> (Outputs<'a>, Outputs<'a>) {
        let at = class - self.first;
        let (state, state_rest) = self.state.split_at_mut(at);
        let (summary, summary_rest) = self.summary.split_at_mut(at);
        let (flags, flags_rest) = self.flags.split_at_mut(at);
        let (bloom, bloom_rest) = self.bloom.split_at_mut(at);
        (
            Outputs { state, summary, flags, bloom, first: self.first },
            Outputs { state: state_rest, summary: summary_rest, flags: flags_rest, bloom: bloom_rest, first: class },
        )
    }

    /// Closes class `class`'s accounting at `now` and takes its load off `load`, spreads it
    /// again, and opens its accounting with the new spread and its new load on `load`.
    fn open(&mut self, walker: &mut Walker<'_>, class: usize, load: &mut [i64], now: SimTime) {
        let index = class - self.first;
        let rate = walker.ground.classes[class].rate_gbps;
        let state = &mut self.state[index];
        accrue(state, rate, now);
        let mut contributions = std::mem::take(&mut state.contributions);
        for &(link, share) in &contributions {
            load[link.0 as usize] -= share_load(share, rate);
        }
        contributions.clear();
        // A class's first spread: its lists are sized as the last class's were (most spread
        // alike), rather than grown in doublings.
        if contributions.capacity() == 0 {
            let (links, switches) = walker.scratch.last_sizes;
            contributions.reserve_exact(links);
            state.carried.reserve_exact(switches);
        }
        let spread = walker.spread(class, None, &mut state.carried, &mut state.sole, &mut |link, fraction| {
            let share = fraction as f32;
            contributions.push((link, share));
            load[link.0 as usize] += share_load(share, rate);
        });
        walker.scratch.last_sizes = (contributions.len(), state.carried.len());
        state.contributions = contributions;
        state.degraded = spread.degraded || spread.blackhole_fraction > 0.0;
        let summary = Summary::of(&state.carried, &state.sole, state.degraded);
        self.flags[index] =
            u8::from(summary.sole != 0 || summary.len == Summary::OVERFLOW) | (u8::from(summary.degraded) << 1);
        self.bloom[index] = if summary.len == Summary::OVERFLOW {
            u64::MAX
        } else {
            state.carried.iter().fold(0, |bloom, node| bloom | 1 << (node.0 % 64))
        };
        self.summary[index] = summary;
        state.blackhole_fraction = spread.blackhole_fraction;
        self.flags[index] |= losing(state);
        state.blackhole_cause = spread.cause.map(|c| c.0);
        state.since = now;
        if let Some(node) = state.blackhole_cause {
            note_cause(&mut state.causes, Cause::Blackhole(node), now, 0.0);
        }
    }
}

/// The classes whose flag byte has `bit` set, in order; eight bytes are read at a time (few
/// classes are flagged at once).
fn flagged(flags: &[u8], bit: u8) -> impl Iterator<Item = usize> + '_ {
    let mask = u64::from_ne_bytes([bit; 8]);
    flags.chunks(8).enumerate().flat_map(move |(chunk, bytes)| {
        let word = match <[u8; 8]>::try_from(bytes) {
            Ok(eight) => u64::from_ne_bytes(eight) & mask,
            Err(_) => u64::MAX,
        };
        let hits = if word == 0 { &[][..] } else { bytes };
        hits.iter().enumerate().filter(move |(_, f)| **f & bit != 0).map(move |(i, _)| chunk * 8 + i)
    })
}

/// The flag of a class that loses traffic now.
const LOSING: u8 = 4;

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

/// The parts of the model spreads write: memos, marks and buffers, per-class records, loads.
struct Writable<'a> {
    memo: &'a mut [Memo],
    bits: &'a mut [u64],
    scratch: &'a mut [Scratch],
    outputs: Outputs<'a>,
    offered: &'a mut [i64],
    loads: &'a mut [Vec<i64>],
}

/// The parts of the model a spread reads and never writes.
#[derive(Clone, Copy)]
struct Ground<'a> {
    topology: &'a Topology,
    status: &'a [Status],
    classes: &'a [Class],
    dests: &'a [Vec<NodeId>],
    dest_kinds: &'a [Attachment],
    hop_table: &'a [(NodeId, LinkId)],
    blame_to: &'a [Option<NodeId>],
    dest_bump: &'a [u32],
    node_bump: &'a [u32],
    /// Where each destination group's marks start in the model's bits.
    bits_start: &'a [usize],
    clock: u32,
    overlay_lost: Option<NodeId>,
}

/// Spreads classes of the destination groups from `first` on, for as many as its memo rows
/// cover. A spread only reads and writes the memos of its own class's destination group, so
/// walkers over disjoint groups can run at once, and a memo's value does not depend on which
/// walker computed it or when: the result is the same however the groups are divided.
struct Walker<'a> {
    ground: Ground<'a>,
    first: u32,
    memo: &'a mut [Memo],
    /// `bits[i]` is the model's bit word `bits_base + i`.
    bits_base: usize,
    bits: &'a mut [u64],
    scratch: &'a mut Scratch,
    evaluations: u64,
}

impl Walker<'_> {
    fn slot(&self, node: NodeId, dest: u32) -> usize {
        debug_assert!(dest >= self.first, "a walker spreads only its own destination groups");
        (dest - self.first) as usize * self.ground.topology.node_count() + node.0 as usize
    }

    /// The clock reading a memo of (`node`, `dest`) must have been computed at to be valid.
    fn valid_since(&self, node: NodeId, dest: u32) -> u32 {
        self.ground.dest_bump[dest as usize].max(self.ground.node_bump[node.0 as usize])
    }

    /// The next hops of `node` towards `dest`: a range of the hop table, looked up when the
    /// model was built (every slot a spread can visit was).
    fn hops(&self, slot: usize) -> (usize, usize) {
        let memo = &self.memo[slot];
        assert!(memo.start != u32::MAX, "a spread reached a switch the path index never saw");
        (memo.start as usize, memo.len as usize)
    }

    /// The best quality of a path from `node` onward to `dest`, by what neighbours believe; for
    /// a destination switch, its attachment to the destination. Memoised until a switch it
    /// depends on changes.
    fn reach(&mut self, node: NodeId, dest: u32, depth: usize) -> View {
        assert!(depth < 8, "a path crossed more than eight switches: the topology has a loop");
        let slot = self.slot(node, dest);
        let valid = self.valid_since(node, dest);
        let memo = self.memo[slot];
        if memo.reach_stamp >= valid {
            return memo.reach;
        }
        let ground = self.ground;
        let view = if memo.is_dest {
            ground.dest_kinds[dest as usize].view(&ground.status[node.0 as usize])
        } else {
            let (start, len) = self.hops(slot);
            let mut best = View::Withdrawn;
            for &(next, _) in &ground.hop_table[start..start + len] {
                let fabric = ground.status[next.0 as usize].fabric;
                if fabric <= best {
                    continue;
                }
                best = best.max(fabric.min(self.reach(next, dest, depth + 1)));
                if best == View::Use {
                    break;
                }
            }
            best
        };
        let memo = &mut self.memo[slot];
        memo.reach = view;
        memo.reach_stamp = ground.clock;
        view
    }

    /// Where `node` sends traffic for `dest` now: computed once per (switch, destination group)
    /// until a switch it depends on changes, and shared by every class going that way. The best
    /// next hops are marked in the slot's bits.
    fn decision(&mut self, node: NodeId, dest: u32) -> Decision {
        let slot = self.slot(node, dest);
        let valid = self.valid_since(node, dest);
        let memo = self.memo[slot];
        if memo.decision_stamp >= valid {
            let Memo { start, len, bits_at, count, best, culprit, .. } = memo;
            return Decision { start, len, bits_at, count, best, culprit };
        }
        let ground = self.ground;
        let (start, len) = self.hops(slot);
        let mut ranked = std::mem::take(&mut self.scratch.ranked);
        ranked.clear();
        let mut best = View::Withdrawn;
        for &(hop, _) in &ground.hop_table[start..start + len] {
            let fabric = ground.status[hop.0 as usize].fabric;
            let quality = if fabric == View::Withdrawn { fabric } else { fabric.min(self.reach(hop, dest, 0)) };
            ranked.push(quality);
            best = best.max(quality);
        }
        let words = memo.bits_at as usize - self.bits_base;
        let mut count = 0;
        for word in &mut self.bits[words..words + len.div_ceil(64)] {
            *word = 0;
        }
        for (index, quality) in ranked.iter().enumerate() {
            if best != View::Withdrawn && *quality == best {
                self.bits[words + index / 64] |= 1 << (index % 64);
                count += 1;
            }
        }
        self.scratch.ranked = ranked;
        let culprit = if best == View::Withdrawn { ground.blame(node, dest) } else { node };
        let memo = &mut self.memo[slot];
        memo.decision_stamp = ground.clock;
        memo.count = count;
        memo.best = best;
        memo.culprit = culprit;
        Decision { start: start as u32, len: len as u32, bits_at: memo.bits_at, count, best, culprit }
    }

    /// Spreads class `class` from its source, stage by stage, merging the fractions that reach
    /// the same switch. Calls `on_link(link, fraction arriving, level)` for every link it puts
    /// traffic on; `survival`, when given, is what each link lets through (congestion).
    /// Fills `carried` and `sole`.
    fn spread<F: FnMut(LinkId, f64)>(
        &mut self,
        class: usize,
        survival: Option<&[f64]>,
        carried: &mut Vec<NodeId>,
        sole: &mut Vec<NodeId>,
        on_link: &mut F,
    ) -> Spread {
        self.evaluations += 1;
        let ground = self.ground;
        carried.clear();
        sole.clear();
        let Class { src, dst, dest, hash, overlay, .. } = ground.classes[class];
        let mut spread = Spread::default();
        if let Some(culprit) = ground.overlay_lost.filter(|_| overlay) {
            spread.blackhole_fraction = 1.0;
            spread.cause = Some((culprit, 1.0));
            spread.degraded = true;
            return spread;
        }
        let source = ground.topology.endpoint(src);
        let kind = Attachment::of(source);
        let access = |status: &Status| kind.view(status);
        let best = source.attachments.iter().map(|a| access(&ground.status[a.0.0 as usize])).max();
        let best = best.unwrap_or(View::Withdrawn);
        spread.degraded |= best != View::Use;
        if best == View::Withdrawn {
            let culprit = source.attachments.first().map_or(NodeId(0), |a| a.0);
            spread.lose(ground.blame_to[culprit.0 as usize].unwrap_or(culprit), 1.0);
            return spread;
        }
        let mut stage = std::mem::take(&mut self.scratch.stage);
        let mut next = std::mem::take(&mut self.scratch.next);
        stage.clear();
        let usable = |a: &&(NodeId, LinkId, LinkId)| access(&ground.status[a.0.0 as usize]) == best;
        let count = source.attachments.iter().filter(usable).count();
        let pick = hash.map(|h| (h % count as u64) as usize);
        for (i, &(leaf, sending, _)) in source.attachments.iter().filter(usable).enumerate() {
            let share = match pick {
                Some(p) if p == i => 1.0,
                Some(_) => continue,
                None => 1.0 / count as f64,
            };
            send(leaf, sending, share, survival, &mut stage, on_link);
        }
        // Valley-free paths have at most five switches; the bound guards against a topology bug.
        for _ in 0..8 {
            if stage.is_empty() {
                break;
            }
            if let [(node, _)] = stage.as_slice() {
                sole.push(*node);
            }
            next.clear();
            for &(node, fraction) in &stage {
                carried.push(node);
                self.forward(node, fraction, dest, dst, hash, survival, &mut next, &mut spread, on_link);
            }
            std::mem::swap(&mut stage, &mut next);
        }
        assert!(stage.is_empty(), "a flow crossed more than eight switches: the topology has a loop");
        self.scratch.stage = stage;
        self.scratch.next = next;
        if spread.delivered <= 0.0 {
            sole.clear();
        }
        spread
    }

    /// Handles `fraction` of a class at `node`: delivers it, loses it, or splits it over the
    /// best next hops into `next`.
    #[allow(clippy::too_many_arguments)]
    fn forward<F: FnMut(LinkId, f64)>(
        &mut self,
        node: NodeId,
        fraction: f64,
        dest: u32,
        dst: EndpointId,
        hash: Option<u64>,
        survival: Option<&[f64]>,
        next: &mut Vec<(NodeId, f64)>,
        spread: &mut Spread,
        on_link: &mut F,
    ) {
        let ground = self.ground;
        let status = ground.status[node.0 as usize];
        if !status.forwarding {
            spread.lose(node, fraction);
            return;
        }
        let is_dest = self.memo[self.slot(node, dest)].is_dest;
        if is_dest || !spread.relayed.is_empty() {
            self.forward_off_the_beaten_path(node, fraction, dest, dst, is_dest, hash, survival, next, spread, on_link);
            return;
        }
        let decision = self.decision(node, dest);
        spread.degraded |= decision.best != View::Use;
        if decision.count == 0 {
            spread.lose(decision.culprit, fraction);
            return;
        }
        let count = decision.count as usize;
        let pick = hash.map(|h| (mix(h ^ u64::from(node.0)) % count as u64) as usize);
        let even = fraction / count as f64;
        let words = decision.bits_at as usize - self.bits_base;
        let mut seen = 0;
        for word_index in 0..(decision.len as usize).div_ceil(64) {
            let mut word = self.bits[words + word_index];
            while word != 0 {
                let index = decision.start as usize + word_index * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let (hop, link) = ground.hop_table[index];
                let i = seen;
                seen += 1;
                let share = match pick {
                    Some(p) if p != i => continue,
                    Some(_) => fraction,
                    None => even,
                };
                send(hop, link, share, survival, next, on_link);
            }
        }
    }

    /// [`Walker::forward`] at a destination switch, and for relayed traffic: delivers it, or,
    /// when the switch's link to a multihomed destination is down, relays it over the fabric to
    /// another switch the destination is attached to, as an EVPN leaf does for an Ethernet
    /// segment whose local link went down (traffic from the world or a single-homed server can
    /// still arrive there: they do not see the segment). Relayed traffic never goes back to a
    /// switch that relayed it.
    #[allow(clippy::too_many_arguments)]
    fn forward_off_the_beaten_path<F: FnMut(LinkId, f64)>(
        &mut self,
        node: NodeId,
        fraction: f64,
        dest: u32,
        dst: EndpointId,
        is_dest: bool,
        hash: Option<u64>,
        survival: Option<&[f64]>,
        next: &mut Vec<(NodeId, f64)>,
        spread: &mut Spread,
        on_link: &mut F,
    ) {
        let ground = self.ground;
        let mut hops = std::mem::take(&mut self.scratch.hops);
        hops.clear();
        if is_dest {
            let multihomed = ground.dest_kinds[dest as usize] == Attachment::Multihomed;
            if !multihomed || ground.status[node.0 as usize].attached {
                let endpoint = ground.topology.endpoint(dst);
                let link = endpoint.attachments.iter().find(|a| a.0 == node).expect("destination attaches here").2;
                on_link(link, fraction);
                spread.delivered += fraction * survival.map_or(1.0, |s| s[link.0 as usize]);
                self.scratch.hops = hops;
                return;
            }
            let elsewhere = ground.dests[dest as usize].iter().any(|d| {
                let other = &ground.status[d.0 as usize];
                *d != node && other.attached && other.fabric != View::Withdrawn && !spread.relayed.contains(d)
            });
            if !elsewhere {
                self.scratch.hops = hops;
                spread.lose(node, fraction);
                return;
            }
            if !spread.relayed.contains(&node) {
                spread.relayed.push(node);
            }
            hops.extend_from_slice(&ground.topology.up[node.0 as usize]);
        } else {
            hops_toward(ground.topology, &ground.dests[dest as usize], node, &mut hops);
            hops.retain(|(hop, _)| !spread.relayed.contains(hop));
        }
        let mut ranked = std::mem::take(&mut self.scratch.ranked);
        ranked.clear();
        let mut best = View::Withdrawn;
        for &(hop, _) in &hops {
            let fabric = ground.status[hop.0 as usize].fabric;
            let quality = if fabric == View::Withdrawn { fabric } else { fabric.min(self.reach(hop, dest, 0)) };
            ranked.push(quality);
            best = best.max(quality);
        }
        spread.degraded |= best != View::Use;
        if best == View::Withdrawn {
            self.scratch.hops = hops;
            self.scratch.ranked = ranked;
            let culprit = ground.blame(node, dest);
            spread.lose(culprit, fraction);
            return;
        }
        let count = ranked.iter().filter(|q| **q == best).count();
        let pick = hash.map(|h| (mix(h ^ u64::from(node.0)) % count as u64) as usize);
        let mut seen = 0;
        for (i, &(hop, link)) in hops.iter().enumerate() {
            if ranked[i] != best {
                continue;
            }
            let share = match pick {
                Some(p) if p != seen => {
                    seen += 1;
                    continue;
                }
                Some(_) => fraction,
                None => fraction / count as f64,
            };
            seen += 1;
            send(hop, link, share, survival, next, on_link);
        }
        self.scratch.hops = hops;
        self.scratch.ranked = ranked;
    }
}

impl Ground<'_> {
    /// The switch to blame when `node` has no route to `dest`: a withdrawn destination switch
    /// if there is one (the route ran out because of it), else a withdrawn next hop, else `node`.
    fn blame(&self, node: NodeId, dest: u32) -> NodeId {
        let gone = |n: &NodeId| {
            let status = &self.status[n.0 as usize];
            !status.forwarding || status.fabric == View::Withdrawn || status.access == View::Withdrawn
        };
        let dest_leaf = self.dests[dest as usize].iter().find(|n| gone(n)).copied();
        let mut hops = Vec::new();
        hops_toward(self.topology, &self.dests[dest as usize], node, &mut hops);
        let culprit = dest_leaf.or_else(|| hops.iter().map(|h| h.0).find(|n| gone(n))).unwrap_or(node);
        self.blame_to[culprit.0 as usize].unwrap_or(culprit)
    }
}

impl Spread {
    fn lose(&mut self, node: NodeId, fraction: f64) {
        self.blackhole_fraction += fraction;
        if self.cause.is_none_or(|c| fraction > c.1) {
            self.cause = Some((node, fraction));
        }
    }
}

fn note_cause(causes: &mut Vec<(Cause, SimTime, f64)>, cause: Cause, at: SimTime, gbit: f64) {
    match causes.iter_mut().find(|c| c.0 == cause) {
        Some(entry) => entry.2 += gbit,
        None => causes.push((cause, at, gbit)),
    }
}

/// Puts `share` of a class on `link` towards `hop`: reports it to `on_link`, and adds what the
/// link lets through (`survival`) to what reaches `hop` in the next stage.
fn send<F: FnMut(LinkId, f64)>(
    hop: NodeId,
    link: LinkId,
    share: f64,
    survival: Option<&[f64]>,
    next: &mut Vec<(NodeId, f64)>,
    on_link: &mut F,
) {
    on_link(link, share);
    let share = share * survival.map_or(1.0, |s| s[link.0 as usize]);
    match next.iter_mut().find(|(n, _)| *n == hop) {
        Some(entry) => entry.1 += share,
        None => next.push((hop, share)),
    }
}

/// A fast, well-spread 64-bit mix (SplitMix64's finaliser), for hashing flows onto paths.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Every next hop (switch, link) from `node` towards the destination switches `leafs`,
/// valley-free: a tier-1 switch not among them goes up; a tier-2 switch goes down to the ones
/// below it, or up if there are none; a higher switch goes down to the tier-2 switches that serve
/// them. Lookups start from the destination (a handful of switches) and go up, so the cost does
/// not grow with how many switches hang below a spine.
fn hops_toward(topo: &Topology, leafs: &[NodeId], node: NodeId, out: &mut Vec<(NodeId, LinkId)>) {
    let above = |n: NodeId| &topo.from_above[n.0 as usize];
    match topo.node(node).tier {
        1 if leafs.binary_search(&node).is_ok() => {}
        1 => out.extend_from_slice(&topo.up[node.0 as usize]),
        2 => {
            for leaf in leafs {
                if let Some(&(_, link)) = above(*leaf).iter().find(|(upper, _)| *upper == node) {
                    out.push((*leaf, link));
                }
            }
            if out.is_empty() {
                out.extend_from_slice(&topo.up[node.0 as usize]);
            }
        }
        _ => {
            for leaf in leafs {
                for &(spine, _) in above(*leaf) {
                    if out.iter().any(|(s, _)| *s == spine) {
                        continue;
                    }
                    if let Some(&(_, link)) = above(spine).iter().find(|(upper, _)| *upper == node) {
                        out.push((spine, link));
                    }
                }
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn flagged_finds_the_flagged_classes_of_any_length() {
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(7);
        for len in [0, 1, 7, 8, 9, 63, 64, 65, 1000] {
            let flags: Vec<u8> = (0..len).map(|_| if rng.random_bool(0.1) { rng.random::<u8>() } else { 0 }).collect();
            for bit in [1, 2, LOSING] {
                let expected: Vec<usize> = (0..len).filter(|i| flags[*i] & bit != 0).collect();
                assert_eq!(flagged(&flags, bit).collect::<Vec<_>>(), expected, "{len} flags, bit {bit}");
            }
        }
    }

    #[test]
    fn a_summary_holds_switches_numbered_in_16_bits_and_overflows_beyond() {
        let carried = [NodeId(3), NodeId(65_535), NodeId(9)];
        let summary = Summary::of(&carried, &[NodeId(9)], false);
        assert_eq!((summary.len, &summary.nodes[..3], summary.sole), (3, &[3, 65_535, 9][..], 0b100));
        let summary = Summary::of(&[NodeId(3), NodeId(65_536)], &[], false);
        assert_eq!(summary.len, Summary::OVERFLOW, "a switch beyond 16 bits is not summarised");
    }

    /// The links' overloads and the peak, as the exact pass finds them: every link, every time.
    fn scan(fluid: &Fluid, peak: Option<Peak>, now: SimTime) -> (Vec<LinkId>, Option<Peak>) {
        let mut overloaded = Vec::new();
        let mut busiest: Option<(usize, f64)> = None;
        for (index, (offered, inverse)) in fluid.offered.iter().zip(&fluid.inverse_capacity).enumerate() {
            let utilisation = *offered as f64 * inverse;
            if utilisation > 1.0 + 1e-12 {
                overloaded.push(LinkId(index as u32));
            }
            if busiest.is_none_or(|(_, u)| utilisation > u + 1e-12) {
                busiest = Some((index, utilisation));
            }
        }
        let mut peak = peak;
        if let Some((index, utilisation)) = busiest
            && peak.is_none_or(|p| utilisation > p.utilisation + 1e-12)
        {
            peak = Some(Peak { link: LinkId(index as u32), utilisation, at: now });
        }
        (overloaded, peak)
    }

    /// Link checks that skip the exact pass when no link is above its alarm find what the exact
    /// pass finds, over random loads that rise and fall around the links' capacities and the
    /// peak (some exactly at them).
    #[test]
    fn link_checks_with_alarms_find_what_scanning_every_link_finds() {
        let mut t = Topology::new();
        let spine = t.add_node("spine", 2);
        let leafs: Vec<NodeId> = (0..6).map(|i| t.add_node(format!("leaf{i}"), 1)).collect();
        for (i, leaf) in leafs.iter().enumerate() {
            t.add_link(*leaf, spine, 10.0 * (i + 1) as f64);
        }
        let fluid = Fluid::new(t, Vec::new(), Ecmp::Fluid);
        let mut fluid = fluid;
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(11);
        let mut reference_peak = fluid.peak;
        for step in 0..5_000u64 {
            let now = SimTime::from_millis(step);
            for (offered, inverse) in fluid.offered.iter_mut().zip(&fluid.inverse_capacity) {
                let capacity = 1.0 / inverse;
                *offered = match rng.random_range(0..10) {
                    0 => capacity as i64,
                    1 => capacity as i64 + 1,
                    2..5 => (capacity * rng.random_range(0.0..1.2)) as i64,
                    _ => (capacity * rng.random_range(0.0..0.5)) as i64,
                };
            }
            let (overloaded, peak) = scan(&fluid, reference_peak, now);
            reference_peak = peak;
            fluid.check_links(now);
            assert_eq!(fluid.overloaded, overloaded, "step {step}");
            assert_eq!(fluid.peak, peak, "step {step}");
        }
        assert!(reference_peak.is_some_and(|p| p.utilisation > 1.0), "the loads reached overload");
    }
}
