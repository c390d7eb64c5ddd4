//! The fluid traffic model: how each flow spreads over the fabric right now, what it loses, and
//! the accounting of losses over time.
//!
//! A flow leaves its source over the attachments the source still sees (LACP), then at every
//! switch spreads equally over the best next hops towards the destination's switches (ECMP),
//! valley-free. A next hop's quality is the worse of how its neighbours see it (in use, drained
//! and avoided if possible, withdrawn) and the best path onward from it. Traffic that reaches a
//! switch that does not forward is blackholed; traffic at a switch with no route is lost there.
//!
//! Losses integrate exactly between events. Blackhole loss is rate x time. Congestion loss uses a
//! per-link integral `k` of the overload fraction `(load - capacity) / load` over time: a flow
//! that put `g` Gbps on a link from `k0` to `k1` lost `g x (k1 - k0)` Gbit there, whatever other
//! flows did meanwhile. So only flows whose paths a change can touch are re-evaluated.

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

/// What neighbours currently believe about a switch, and whether it forwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// False while the switch is down (installing, rebooting).
    pub forwarding: bool,
    /// As other switches see it.
    pub fabric: View,
    /// As endpoints see it.
    pub access: View,
}

impl Status {
    const UP: Status = Status {
        forwarding: true,
        fabric: View::Use,
        access: View::Use,
    };

    fn view(&self, detect: Detect) -> View {
        match detect {
            Detect::Fabric => self.fabric,
            Detect::Access => self.access,
        }
    }
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
    /// Traffic sent to a switch that did not forward, or with no route at that switch.
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

#[derive(Clone, Debug, Default)]
struct LinkState {
    load_gbps: f64,
    /// Integral of the overload fraction over time, in seconds.
    k: f64,
    k_at: SimTime,
    overloaded_since: Option<SimTime>,
}

impl LinkState {
    fn overload(&self, capacity_gbps: f64) -> f64 {
        if self.load_gbps > capacity_gbps {
            (self.load_gbps - capacity_gbps) / self.load_gbps
        } else {
            0.0
        }
    }

    fn advance(&mut self, now: SimTime, capacity_gbps: f64) {
        self.k += self.overload(capacity_gbps) * now.millis_since(self.k_at) as f64 / 1000.0;
        self.k_at = now;
    }
}

/// A flow's current spread and its running totals.
#[derive(Clone, Debug, Default)]
struct FlowState {
    blackhole_gbps: f64,
    blackhole_cause: Option<NodeId>,
    since: SimTime,
    /// (link, Gbps this flow puts on it, link's `k` when it started).
    contributions: Vec<(LinkId, f64, f64)>,
    /// Devices every delivered bit of this flow crosses (single points of failure).
    single_points: Vec<NodeId>,
    blackhole_gbit: f64,
    congestion_gbit: f64,
    causes: Vec<(Cause, SimTime, f64)>,
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

/// The fluid model: topology, switch status, flows and their accounting.
#[derive(Debug)]
pub struct Fluid {
    pub(crate) topology: Topology,
    pub(crate) status: Vec<Status>,
    flows: Vec<FlowSpec>,
    /// Per flow, index into `dests` (destinations grouped by attachment set).
    flow_dest: Vec<u32>,
    dests: Vec<Vec<NodeId>>,
    state: Vec<FlowState>,
    links: Vec<LinkState>,
    /// Per switch, the flows whose paths could cross it.
    pub(crate) flows_through: Vec<Vec<u32>>,
    reach_memo: HashMap<(u32, NodeId), View>,
    scratch_load: Vec<f64>,
    scratch_links: Vec<LinkId>,
    scratch_through: Vec<f64>,
    scratch_nodes: Vec<NodeId>,
    peak: Option<Peak>,
    pub(crate) evaluations: u64,
}

struct Spread {
    blackhole_fraction: f64,
    cause: Option<(NodeId, f64)>,
    delivered: f64,
}

impl Fluid {
    /// Builds the model with every switch up and every flow spread.
    pub fn new(topology: Topology, flows: Vec<FlowSpec>) -> Fluid {
        let mut dest_ids: HashMap<Vec<NodeId>, u32> = HashMap::new();
        let mut dests = Vec::new();
        let mut flow_dest = Vec::with_capacity(flows.len());
        for flow in &flows {
            let mut leafs: Vec<NodeId> = topology
                .endpoint(flow.dst)
                .attachments
                .iter()
                .map(|a| a.0)
                .collect();
            leafs.sort_unstable();
            let id = *dest_ids.entry(leafs.clone()).or_insert_with(|| {
                dests.push(leafs);
                (dests.len() - 1) as u32
            });
            flow_dest.push(id);
        }
        let node_count = topology.node_count();
        let link_count = topology.links.len();
        let mut fluid = Fluid {
            status: vec![Status::UP; node_count],
            state: vec![FlowState::default(); flows.len()],
            links: vec![LinkState::default(); link_count],
            flows_through: vec![Vec::new(); node_count],
            reach_memo: HashMap::new(),
            scratch_load: vec![0.0; link_count],
            scratch_links: Vec::new(),
            scratch_through: vec![0.0; node_count],
            scratch_nodes: Vec::new(),
            peak: None,
            evaluations: 0,
            topology,
            flows,
            flow_dest,
            dests,
        };
        fluid.index_paths();
        for flow in 0..fluid.flows.len() {
            fluid.open(flow, SimTime::ZERO);
        }
        fluid
    }

    /// Records, per switch, every flow that could ever cross it (all next hops, any state).
    fn index_paths(&mut self) {
        let mut seen = vec![u32::MAX; self.topology.node_count()];
        for flow in 0..self.flows.len() {
            let dest = self.flow_dest[flow];
            let mut stack: Vec<NodeId> = self
                .topology
                .endpoint(self.flows[flow].src)
                .attachments
                .iter()
                .map(|a| a.0)
                .collect();
            while let Some(node) = stack.pop() {
                if seen[node.0 as usize] == flow as u32 {
                    continue;
                }
                seen[node.0 as usize] = flow as u32;
                self.flows_through[node.0 as usize].push(flow as u32);
                self.for_each_hop(node, dest, |next, _| stack.push(next));
            }
        }
    }

    /// Calls `f` for every next hop from `node` towards destination group `dest`, valley-free.
    fn for_each_hop(&self, node: NodeId, dest: u32, mut f: impl FnMut(NodeId, LinkId)) {
        let leafs = &self.dests[dest as usize];
        let topo = &self.topology;
        match topo.node(node).tier {
            1 if leafs.binary_search(&node).is_ok() => {}
            1 => topo.up[node.0 as usize].iter().for_each(|&(n, l)| f(n, l)),
            2 => {
                let down = &topo.down[node.0 as usize];
                let mut any = false;
                for &(n, l) in down.iter().filter(|(n, _)| leafs.binary_search(n).is_ok()) {
                    any = true;
                    f(n, l);
                }
                if !any {
                    topo.up[node.0 as usize].iter().for_each(|&(n, l)| f(n, l));
                }
            }
            _ => {
                let serves = |spine: NodeId| {
                    leafs
                        .iter()
                        .any(|leaf| topo.up[leaf.0 as usize].iter().any(|(s, _)| *s == spine))
                };
                for &(n, l) in topo.down[node.0 as usize]
                    .iter()
                    .filter(|(n, _)| serves(*n))
                {
                    f(n, l);
                }
            }
        }
    }

    /// The best quality of a path from `node` onward to `dest`, by what neighbours believe.
    fn reach(&mut self, node: NodeId, dest: u32) -> View {
        if let Some(view) = self.reach_memo.get(&(dest, node)) {
            return *view;
        }
        let leafs = &self.dests[dest as usize];
        let view = if self.topology.node(node).tier == 1 && leafs.binary_search(&node).is_ok() {
            View::Use
        } else {
            let mut hops = Vec::new();
            self.for_each_hop(node, dest, |n, _| hops.push(n));
            let mut best = View::Withdrawn;
            for next in hops {
                let quality = self.status[next.0 as usize]
                    .fabric
                    .min(self.reach(next, dest));
                best = best.max(quality);
            }
            best
        };
        self.reach_memo.insert((dest, node), view);
        view
    }

    /// Spreads `fraction` of a flow arriving at `node`; returns the fraction delivered.
    fn visit(
        &mut self,
        node: NodeId,
        fraction: f64,
        dest: u32,
        dst: EndpointId,
        spread: &mut Spread,
    ) -> f64 {
        if !self.status[node.0 as usize].forwarding {
            spread.lose(node, fraction);
            return 0.0;
        }
        let delivered = if self.dests[dest as usize].binary_search(&node).is_ok() {
            let endpoint = self.topology.endpoint(dst);
            let link = endpoint
                .attachments
                .iter()
                .find(|a| a.0 == node)
                .expect("destination attaches here")
                .2;
            self.add_load(link, fraction);
            fraction
        } else {
            let mut hops = Vec::new();
            self.for_each_hop(node, dest, |n, l| hops.push((n, l)));
            let qualities: Vec<View> = hops
                .iter()
                .map(|(n, _)| self.status[n.0 as usize].fabric)
                .collect::<Vec<_>>();
            let mut best = View::Withdrawn;
            let mut ranked = Vec::with_capacity(hops.len());
            for (i, (next, _)) in hops.iter().enumerate() {
                let quality = qualities[i].min(self.reach(*next, dest));
                best = best.max(quality);
                ranked.push(quality);
            }
            if best == View::Withdrawn {
                let culprit = hops
                    .iter()
                    .find(|(n, _)| self.status[n.0 as usize].fabric == View::Withdrawn)
                    .map_or(node, |h| h.0);
                spread.lose(culprit, fraction);
                return 0.0;
            }
            let chosen: Vec<(NodeId, LinkId)> = hops
                .iter()
                .zip(&ranked)
                .filter(|(_, q)| **q == best)
                .map(|(h, _)| *h)
                .collect();
            let share = fraction / chosen.len() as f64;
            let mut delivered = 0.0;
            for (next, link) in chosen {
                self.add_load(link, share);
                delivered += self.visit(next, share, dest, dst, spread);
            }
            delivered
        };
        self.add_through(node, delivered);
        delivered
    }

    fn add_load(&mut self, link: LinkId, fraction: f64) {
        if self.scratch_load[link.0 as usize] == 0.0 {
            self.scratch_links.push(link);
        }
        self.scratch_load[link.0 as usize] += fraction;
    }

    fn add_through(&mut self, node: NodeId, delivered: f64) {
        if delivered > 0.0 {
            if self.scratch_through[node.0 as usize] == 0.0 {
                self.scratch_nodes.push(node);
            }
            self.scratch_through[node.0 as usize] += delivered;
        }
    }

    /// Spreads one flow from its source, filling the scratch buffers.
    fn spread(&mut self, flow: usize) -> Spread {
        self.evaluations += 1;
        let spec = self.flows[flow];
        let dest = self.flow_dest[flow];
        let mut spread = Spread {
            blackhole_fraction: 0.0,
            cause: None,
            delivered: 0.0,
        };
        let source = self.topology.endpoint(spec.src);
        let detect = source.detect;
        let attachments = source.attachments.clone();
        let best = attachments
            .iter()
            .map(|a| self.status[a.0.0 as usize].view(detect))
            .max()
            .unwrap_or(View::Withdrawn);
        if best == View::Withdrawn {
            let culprit = attachments.first().map(|a| a.0);
            match culprit {
                Some(node) => spread.lose(node, 1.0),
                None => spread.blackhole_fraction = 1.0,
            }
            return spread;
        }
        let chosen: Vec<_> = attachments
            .iter()
            .filter(|a| self.status[a.0.0 as usize].view(detect) == best)
            .collect();
        let share = 1.0 / chosen.len() as f64;
        for (leaf, sending, _) in chosen.into_iter().copied() {
            self.add_load(sending, share);
            spread.delivered += self.visit(leaf, share, dest, spec.dst, &mut spread);
        }
        spread
    }

    /// Starts accounting `flow` at `now` with its current spread.
    fn open(&mut self, flow: usize, now: SimTime) {
        let spread = self.spread(flow);
        let rate = self.flows[flow].rate_gbps;
        let mut contributions = Vec::with_capacity(self.scratch_links.len());
        for link in std::mem::take(&mut self.scratch_links) {
            let gbps = std::mem::take(&mut self.scratch_load[link.0 as usize]) * rate;
            let capacity = self.topology.link(link).capacity_gbps;
            let state = &mut self.links[link.0 as usize];
            state.advance(now, capacity);
            state.load_gbps += gbps;
            if state.load_gbps > capacity && state.overloaded_since.is_none() {
                state.overloaded_since = Some(now);
            }
            contributions.push((link, gbps, state.k));
            let utilisation = state.load_gbps / capacity;
            if self
                .peak
                .is_none_or(|p| utilisation > p.utilisation + 1e-12)
            {
                self.peak = Some(Peak {
                    link,
                    utilisation,
                    at: now,
                });
            }
        }
        let mut single_points = Vec::new();
        for node in std::mem::take(&mut self.scratch_nodes) {
            let through = std::mem::take(&mut self.scratch_through[node.0 as usize]);
            if spread.delivered > 0.0 && through >= spread.delivered * (1.0 - 1e-9) {
                single_points.push(node);
            }
        }
        let state = &mut self.state[flow];
        state.contributions = contributions;
        state.single_points = single_points;
        state.blackhole_gbps = spread.blackhole_fraction * rate;
        state.blackhole_cause = spread.cause.map(|c| c.0);
        state.since = now;
        if let Some(node) = state.blackhole_cause {
            note_cause(&mut state.causes, Cause::Blackhole(node), now, 0.0);
        }
    }

    /// Closes `flow`'s accounting at `now`: adds what it lost since it was opened and takes its
    /// load off the links.
    fn close(&mut self, flow: usize, now: SimTime) {
        let state = &mut self.state[flow];
        let seconds = now.millis_since(state.since) as f64 / 1000.0;
        let lost = state.blackhole_gbps * seconds;
        state.blackhole_gbit += lost;
        if let Some(node) = state.blackhole_cause {
            note_cause(&mut state.causes, Cause::Blackhole(node), state.since, lost);
        }
        for (link, gbps, k_start) in std::mem::take(&mut state.contributions) {
            let capacity = self.topology.link(link).capacity_gbps;
            let link_state = &mut self.links[link.0 as usize];
            link_state.advance(now, capacity);
            let lost = gbps * (link_state.k - k_start);
            let since = link_state.overloaded_since.unwrap_or(now);
            link_state.load_gbps = (link_state.load_gbps - gbps).max(0.0);
            if link_state.load_gbps <= capacity {
                link_state.overloaded_since = None;
            }
            if lost > 0.0 {
                state.congestion_gbit += lost;
                note_cause(&mut state.causes, Cause::Congestion(link), since, lost);
            }
        }
    }

    /// Re-spreads `flows` at `now` after switch status changed.
    pub(crate) fn reevaluate(&mut self, flows: &[u32], now: SimTime) {
        self.reach_memo.clear();
        for &flow in flows {
            self.close(flow as usize, now);
        }
        for &flow in flows {
            self.open(flow as usize, now);
        }
    }

    /// Ends the run at `now` and returns every flow's losses.
    pub(crate) fn finish(&mut self, now: SimTime) -> Vec<FlowLoss> {
        for flow in 0..self.flows.len() {
            self.close(flow, now);
        }
        self.state
            .iter()
            .map(|s| FlowLoss {
                blackhole_gbit: s.blackhole_gbit,
                congestion_gbit: s.congestion_gbit,
                cause: s
                    .causes
                    .iter()
                    .filter(|c| c.2 > 0.0)
                    .max_by(|a, b| a.2.total_cmp(&b.2))
                    .map(|c| (c.0, c.1)),
            })
            .collect()
    }

    /// Per switch, how many flows would lose everything if it failed now (flows whose every
    /// delivered bit crosses it), over the flows that are delivering anything now.
    pub(crate) fn exposure(&self) -> Vec<(NodeId, usize)> {
        let mut counts: HashMap<NodeId, usize> = HashMap::new();
        for state in &self.state {
            for node in &state.single_points {
                *counts.entry(*node).or_default() += 1;
            }
        }
        let mut exposure: Vec<(NodeId, usize)> = counts.into_iter().collect();
        exposure.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        exposure
    }

    /// Number of flows losing traffic to a blackhole right now.
    pub(crate) fn flows_losing_now(&self) -> usize {
        self.state.iter().filter(|s| s.blackhole_gbps > 0.0).count()
    }

    /// The highest link utilisation so far.
    pub fn peak(&self) -> Option<Peak> {
        self.peak
    }

    /// The flows, in the order given.
    pub fn flows(&self) -> &[FlowSpec] {
        &self.flows
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
