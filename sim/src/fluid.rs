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
    const UP: Status = Status { forwarding: true, fabric: View::Use, access: View::Use };

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
        if self.load_gbps > capacity_gbps { (self.load_gbps - capacity_gbps) / self.load_gbps } else { 0.0 }
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
    /// Switches the flow's traffic reaches now, sorted.
    carried: Vec<NodeId>,
    /// True when some of the flow is lost, or rides a path that is only "avoid" quality: only
    /// such flows can move when a switch comes back as merely avoidable.
    degraded: bool,
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
    /// Per (destination group, switch): the memoised reach and the epoch it was computed in.
    reach_memo: Vec<Option<(u64, View)>>,
    /// Bumped whenever any switch's status changes.
    epoch: u64,
    scratch_carried: Vec<NodeId>,
    scratch_load: Vec<f64>,
    scratch_links: Vec<LinkId>,
    peak: Option<Peak>,
    pub(crate) evaluations: u64,
}

struct Spread {
    blackhole_fraction: f64,
    cause: Option<(NodeId, f64)>,
    delivered: f64,
    /// Switches some of the flow reached.
    carried: Vec<NodeId>,
    /// Switches that were alone at their stage: all the flow's traffic crossed them.
    sole: Vec<NodeId>,
    /// Some choice on the way had nothing better than "avoid".
    degraded: bool,
}

impl Fluid {
    /// Builds the model with every switch up and every flow spread.
    pub fn new(topology: Topology, flows: Vec<FlowSpec>) -> Fluid {
        let mut dest_ids: HashMap<Vec<NodeId>, u32> = HashMap::new();
        let mut dests = Vec::new();
        let mut flow_dest = Vec::with_capacity(flows.len());
        for flow in &flows {
            let mut leafs: Vec<NodeId> = topology.endpoint(flow.dst).attachments.iter().map(|a| a.0).collect();
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
            reach_memo: Vec::new(),
            epoch: 0,
            scratch_carried: Vec::new(),
            scratch_load: vec![0.0; link_count],
            scratch_links: Vec::new(),
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
            let mut stack: Vec<NodeId> =
                self.topology.endpoint(self.flows[flow].src).attachments.iter().map(|a| a.0).collect();
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

    /// Calls `f` for every next hop from `node` towards destination group `dest`, valley-free:
    /// a tier-1 switch not in the group goes up; a tier-2 switch goes down to the group's
    /// switches below it, or up if there are none; a higher switch goes down to the tier-2
    /// switches that serve the group. Lookups start from the group (a handful of switches) and
    /// go up, so the cost does not grow with how many switches hang below a spine.
    fn for_each_hop(&self, node: NodeId, dest: u32, mut f: impl FnMut(NodeId, LinkId)) {
        let leafs = &self.dests[dest as usize];
        let topo = &self.topology;
        let above = |n: NodeId| &topo.from_above[n.0 as usize];
        match topo.node(node).tier {
            1 if leafs.binary_search(&node).is_ok() => {}
            1 => topo.up[node.0 as usize].iter().for_each(|&(n, l)| f(n, l)),
            2 => {
                let mut any = false;
                for leaf in leafs {
                    if let Some(&(_, link)) = above(*leaf).iter().find(|(upper, _)| *upper == node) {
                        any = true;
                        f(*leaf, link);
                    }
                }
                if !any {
                    topo.up[node.0 as usize].iter().for_each(|&(n, l)| f(n, l));
                }
            }
            _ => {
                let mut seen: Vec<NodeId> = Vec::new();
                for leaf in leafs {
                    for &(spine, _) in above(*leaf) {
                        if seen.contains(&spine) {
                            continue;
                        }
                        seen.push(spine);
                        if let Some(&(_, link)) = above(spine).iter().find(|(upper, _)| *upper == node) {
                            f(spine, link);
                        }
                    }
                }
            }
        }
    }

    /// The best quality of a path from `node` onward to `dest`, by what neighbours believe.
    /// Memoised per status epoch: any status change invalidates every entry at once.
    fn reach(&mut self, node: NodeId, dest: u32) -> View {
        let slot = dest as usize * self.topology.node_count() + node.0 as usize;
        if let Some((epoch, view)) = self.reach_memo.get(slot).copied().flatten()
            && epoch == self.epoch
        {
            return view;
        }
        let leafs = &self.dests[dest as usize];
        let view = if self.topology.node(node).tier == 1 && leafs.binary_search(&node).is_ok() {
            View::Use
        } else {
            let mut hops = Vec::new();
            self.for_each_hop(node, dest, |n, _| hops.push(n));
            let mut best = View::Withdrawn;
            for next in hops {
                let quality = self.status[next.0 as usize].fabric.min(self.reach(next, dest));
                best = best.max(quality);
            }
            best
        };
        if self.reach_memo.len() <= slot {
            self.reach_memo.resize(slot + 1, None);
        }
        self.reach_memo[slot] = Some((self.epoch, view));
        view
    }

    /// The switch to blame when `node` has no route to `dest`: a withdrawn destination switch
    /// if there is one (the route ran out because of it), else a withdrawn next hop, else `node`.
    fn blame(&self, node: NodeId, hops: &[(NodeId, LinkId)], dest: u32) -> NodeId {
        let gone = |n: &NodeId| {
            let status = &self.status[n.0 as usize];
            !status.forwarding || status.fabric == View::Withdrawn
        };
        let dest_leaf = self.dests[dest as usize].iter().find(|n| gone(n)).copied();
        dest_leaf.or_else(|| hops.iter().map(|h| h.0).find(|n| gone(n))).unwrap_or(node)
    }

    fn add_load(&mut self, link: LinkId, fraction: f64) {
        if self.scratch_load[link.0 as usize] == 0.0 {
            self.scratch_links.push(link);
        }
        self.scratch_load[link.0 as usize] += fraction;
    }

    /// Spreads one flow from its source, stage by stage (the source's switches, their next hops,
    /// and so on), merging the fractions that reach the same switch, so each switch and link is
    /// handled once per stage rather than once per path. Fills the scratch link loads.
    fn spread(&mut self, flow: usize) -> Spread {
        self.evaluations += 1;
        let spec = self.flows[flow];
        let dest = self.flow_dest[flow];
        let mut spread = Spread {
            blackhole_fraction: 0.0,
            cause: None,
            delivered: 0.0,
            carried: std::mem::take(&mut self.scratch_carried),
            sole: Vec::new(),
            degraded: false,
        };
        let source = self.topology.endpoint(spec.src);
        let detect = source.detect;
        let best = source.attachments.iter().map(|a| self.status[a.0.0 as usize].view(detect)).max();
        let best = best.unwrap_or(View::Withdrawn);
        spread.degraded |= best != View::Use;
        if best == View::Withdrawn {
            match source.attachments.first() {
                Some(attachment) => spread.lose(attachment.0, 1.0),
                None => spread.blackhole_fraction = 1.0,
            }
            return spread;
        }
        let mut stage: Vec<(NodeId, f64)> = Vec::new();
        let chosen: Vec<(NodeId, LinkId)> = source
            .attachments
            .iter()
            .filter(|a| self.status[a.0.0 as usize].view(detect) == best)
            .map(|a| (a.0, a.1))
            .collect();
        let share = 1.0 / chosen.len() as f64;
        for (leaf, sending) in chosen {
            self.add_load(sending, share);
            stage.push((leaf, share));
        }
        let mut hops = Vec::new();
        // Valley-free paths have at most five switches; the bound guards against a topology bug.
        for _ in 0..8 {
            if stage.is_empty() {
                break;
            }
            if let [(node, _)] = stage.as_slice() {
                spread.sole.push(*node);
            }
            let mut next: Vec<(NodeId, f64)> = Vec::new();
            for (node, fraction) in std::mem::take(&mut stage) {
                spread.carried.push(node);
                self.forward(node, fraction, dest, spec.dst, &mut hops, &mut next, &mut spread);
            }
            stage = next;
        }
        assert!(stage.is_empty(), "a flow crossed more than eight switches: the topology has a loop");
        spread
    }

    /// Handles `fraction` of a flow at `node`: delivers it, loses it, or splits it over the best
    /// next hops into `next`.
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &mut self,
        node: NodeId,
        fraction: f64,
        dest: u32,
        dst: EndpointId,
        hops: &mut Vec<(NodeId, LinkId)>,
        next: &mut Vec<(NodeId, f64)>,
        spread: &mut Spread,
    ) {
        if !self.status[node.0 as usize].forwarding {
            spread.lose(node, fraction);
            return;
        }
        if self.dests[dest as usize].binary_search(&node).is_ok() {
            let endpoint = self.topology.endpoint(dst);
            let link = endpoint.attachments.iter().find(|a| a.0 == node).expect("destination attaches here").2;
            self.add_load(link, fraction);
            spread.delivered += fraction;
            return;
        }
        hops.clear();
        self.for_each_hop(node, dest, |n, l| hops.push((n, l)));
        let mut best = View::Withdrawn;
        let mut ranked = [View::Withdrawn; 64];
        assert!(hops.len() <= ranked.len(), "at most 64 next hops per switch");
        for (i, (hop, _)) in hops.iter().enumerate() {
            ranked[i] = self.status[hop.0 as usize].fabric.min(self.reach(*hop, dest));
            best = best.max(ranked[i]);
        }
        spread.degraded |= best != View::Use;
        if best == View::Withdrawn {
            let culprit = self.blame(node, hops, dest);
            spread.lose(culprit, fraction);
            return;
        }
        let count = ranked[..hops.len()].iter().filter(|q| **q == best).count();
        let share = fraction / count as f64;
        for (i, &(hop, link)) in hops.iter().enumerate() {
            if ranked[i] != best {
                continue;
            }
            self.add_load(link, share);
            match next.iter_mut().find(|(n, _)| *n == hop) {
                Some(entry) => entry.1 += share,
                None => next.push((hop, share)),
            }
        }
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
            if self.peak.is_none_or(|p| utilisation > p.utilisation + 1e-12) {
                self.peak = Some(Peak { link, utilisation, at: now });
            }
        }
        let single_points = if spread.delivered > 0.0 { spread.sole } else { Vec::new() };
        let mut carried = std::mem::replace(&mut self.state[flow].carried, spread.carried);
        carried.clear();
        self.scratch_carried = carried;
        let degraded = spread.degraded || spread.blackhole_fraction > 0.0;
        let state = &mut self.state[flow];
        state.contributions = contributions;
        state.single_points = single_points;
        state.carried.sort_unstable();
        state.carried.dedup();
        state.degraded = degraded;
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
        self.epoch += 1;
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
                cause: s.causes.iter().filter(|c| c.2 > 0.0).max_by(|a, b| a.2.total_cmp(&b.2)).map(|c| (c.0, c.1)),
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

    /// True when `flow`'s traffic reaches `node` now.
    pub(crate) fn carries(&self, flow: u32, node: NodeId) -> bool {
        self.state[flow as usize].carried.binary_search(&node).is_ok()
    }

    /// True when `flow` loses traffic or rides an avoid-quality path now.
    pub(crate) fn degraded(&self, flow: u32) -> bool {
        self.state[flow as usize].degraded
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
