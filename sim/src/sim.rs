//! A run: the engine driving the fluid model with switch actions and the reactions that follow
//! them.
//!
//! The caller schedules [`Action`]s (drain, undrain, down, hang, up, probe). The simulation adds
//! the neighbours' reactions on [`Timers`]:
//! - a drain is honoured after `drain_convergence_ms` by the switches around it ([`Drain`]'s
//!   `fabric`); a drain that takes down the switch's links to its multihomed endpoints
//!   ([`Drain`]'s `access`, ESI-LAGs) moves them to their other switches at once, and cuts those
//!   with no other switch left until the undrain; single-homed endpoints and the world keep
//!   their links;
//! - a switch that goes down takes its links down: neighbours and endpoints notice after
//!   `link_down_ms`; a switch that hangs keeps its links up: other switches notice after
//!   `fabric_detect_ms` (BFD or the routing protocol's hold time), endpoints after
//!   `access_detect_ms` (LACP); until then traffic sent to it is blackholed;
//! - a switch that comes back is used again after its up-convergence time;
//! - a tier-1 switch that has lost every upper neighbour takes its links to multihomed endpoints
//!   down after `core_isolation_ms` (when set), so they use their other attachments;
//! - with a control plane set, when none of its switches is up for `hold_ms`, every flow that
//!   crosses the fabric loses everything until one is back and used again.

use crate::engine::Engine;
use crate::fluid::{Ecmp, Finished, FlowLoss, FlowSpec, Fluid, Peak, Status, View};
use crate::time::SimTime;
use crate::topology::{NodeId, Topology};

/// What a drain does to the switches around a drained switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drain {
    /// Other switches avoid it as a next hop, where they can, once the drain converges.
    pub fabric: bool,
    /// Its links to its multihomed endpoints go down at once: they move to their other
    /// attachments without loss, and are cut until the undrain if they have none left.
    pub access: bool,
}

/// What the caller does to a switch, or asks of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Maintenance mode on, with the run's [`Drain`] effects.
    Drain(NodeId),
    /// Maintenance mode off.
    Undrain(NodeId),
    /// Stop forwarding and take the links down (install, reboot).
    Down(NodeId),
    /// Stop forwarding with the links still up (a hung switch).
    Hang(NodeId),
    /// Forward again.
    Up(NodeId),
    /// Record which switches every delivered bit of some flow crosses right now (the n+1 view),
    /// under this tag.
    Probe(u32),
}

/// The neighbours' reaction times, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// From drain (or undrain) to neighbours routing accordingly.
    pub drain_convergence_ms: u64,
    /// From a switch's links going down to neighbours and endpoints noticing.
    pub link_down_ms: u64,
    /// From a switch stopping with its links up to other switches noticing.
    pub fabric_detect_ms: u64,
    /// From a switch stopping with its links up to endpoints noticing.
    pub access_detect_ms: u64,
    /// From a switch forwarding again to neighbours using it (see
    /// [`Simulation::set_up_convergence`] for one switch).
    pub up_convergence_ms: u64,
    /// From a tier-1 switch losing its last upper neighbour to it taking its endpoint links
    /// down; `None`: it never does.
    pub core_isolation_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Act(Action),
    DrainSeen { node: NodeId, epoch: u32, drained: bool },
    Detected { node: NodeId, epoch: u32, fabric: bool },
    UpSeen { node: NodeId, epoch: u32 },
    Isolated { node: NodeId, epoch: u32 },
    ControlLost { epoch: u32 },
}

#[derive(Clone, Copy, Debug, Default)]
struct Switch {
    down: bool,
    hung: bool,
    drained: bool,
    drain_seen: bool,
    fabric_withdrawn: bool,
    access_withdrawn: bool,
    isolated: bool,
    isolation_pending: bool,
    drain_epoch: u32,
    oper_epoch: u32,
    isolation_epoch: u32,
}

/// How a switch's status changed, and so which classes can be affected.
enum Change {
    /// Nothing got better: classes that send nothing through it did not choose it and still
    /// will not.
    OnlyWorse,
    /// A view rose from withdrawn to avoid and no further, or the switch forwards or delivers
    /// again while still withdrawn or avoided: only classes that carry traffic through it, or
    /// that had nothing better than avoid somewhere, can move.
    UpToAvoid,
    /// Only the view single-homed endpoints go by rose to "use" (the others as in
    /// `UpToAvoid` at most): besides the classes `UpToAvoid` moves, only classes with an
    /// endpoint on it alone can move.
    LoneUp,
    /// A view rose to "use": any class that could cross it may move.
    Better,
}

impl Change {
    fn between(old: &Status, new: &Status, tier_one: bool) -> Change {
        // Endpoints only look at tier-1 switches' access view.
        let (old_access, new_access) = if tier_one { (old.access, new.access) } else { (View::Use, View::Use) };
        let (old_lone, new_lone) = if tier_one { (old.lone, new.lone) } else { (View::Use, View::Use) };
        let views = [(old.fabric, new.fabric), (old_access, new_access), (old_lone, new_lone)];
        let up = |(o, n): &(View, View)| n > o && *n == View::Use;
        if views[..2].iter().any(up) {
            return Change::Better;
        }
        if up(&views[2]) {
            return Change::LoneUp;
        }
        let regained = (new.forwarding && !old.forwarding) || (new.attached && !old.attached);
        if regained || views.iter().any(|(o, n)| n > o) {
            // Forwarding or attached again, or risen no higher than avoid: only classes that use
            // it anyway (no better way) can move.
            return Change::UpToAvoid;
        }
        Change::OnlyWorse
    }
}

/// Appends to `out` the classes of `through` that `keep` keeps, in order; long lists are
/// filtered on every core.
fn select(through: &[u32], out: &mut Vec<u32>, keep: impl Fn(u32) -> bool + Sync) {
    const PARALLEL_MIN: usize = 8192;
    if through.len() < PARALLEL_MIN {
        out.extend(through.iter().copied().filter(|c| keep(*c)));
    } else {
        use rayon::prelude::*;
        let kept: Vec<u32> = through.par_iter().copied().filter(|c| keep(*c)).collect();
        out.extend_from_slice(&kept);
    }
}

/// Sorts `classes` and removes repeats, through `marks` (a bit per class, left clear): linear
/// in the classes and the number of words, where sorting a long list is not.
fn merge(classes: &mut Vec<u32>, marks: &mut [u64]) {
    for &class in classes.iter() {
        marks[class as usize / 64] |= 1 << (class % 64);
    }
    classes.clear();
    for (index, word) in marks.iter_mut().enumerate() {
        let mut bits = std::mem::take(word);
        while bits != 0 {
            classes.push(index as u32 * 64 + bits.trailing_zeros());
            bits &= bits - 1;
        }
    }
}

/// The n+1 view at one probe.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The tag given to [`Action::Probe`].
    pub tag: u32,
    /// When it was taken.
    pub at: SimTime,
    /// Switches whose failure now would cut flows off entirely, with how many, most first.
    pub exposure: Vec<(NodeId, usize)>,
    /// Flows already losing traffic at that moment.
    pub flows_losing: usize,
}

/// The result of a run.
#[derive(Debug)]
pub struct Outcome {
    /// The topology, for names.
    pub topology: Topology,
    /// The flows, in the order given.
    pub flows: Vec<FlowSpec>,
    /// Per flow, what it lost.
    pub losses: Vec<FlowLoss>,
    /// Per flow, what it was losing (Gbps) before the first action: losses of the traffic
    /// itself, not of anything done to the fabric.
    pub baseline_loss_gbps: Vec<f64>,
    /// The links over capacity before the first action, with their offered load over capacity
    /// (1.0 = full): where the baseline loss happens.
    pub baseline_overloaded: Vec<(crate::LinkId, f64)>,
    /// The highest link utilisation reached.
    pub peak: Option<Peak>,
    /// Probes in time order.
    pub probes: Vec<Probe>,
    /// When the last event fired.
    pub end: SimTime,
    /// Events delivered.
    pub events: u64,
    /// Class spreads computed.
    pub evaluations: u64,
}

/// A set of switches flows depend on: when none is up for `hold_ms`, every flow loses everything.
#[derive(Clone, Debug)]
struct ControlPlane {
    nodes: Vec<NodeId>,
    hold_ms: u64,
    epoch: u32,
    pending: bool,
    lost: bool,
}

/// A simulation run being set up.
pub struct Simulation {
    engine: Engine<Event>,
    fluid: Fluid,
    switches: Vec<Switch>,
    timers: Timers,
    drain: Drain,
    up_convergence: Vec<Option<u64>>,
    control: Option<ControlPlane>,
    thorough: bool,
    /// A bit per class, for [`merge`].
    marks: Vec<u64>,
    /// Switches out of service before the run starts ([`Simulation::start_out_of_service`]).
    out_at_start: Vec<NodeId>,
}

impl Simulation {
    /// A run over `topology` carrying `flows`, every switch up and in service. `seed` drives
    /// everything random in the run (per-flow hashing with [`Ecmp::Hash`]).
    pub fn new(topology: Topology, flows: Vec<FlowSpec>, timers: Timers, seed: u64) -> Simulation {
        Simulation::with_ecmp(topology, flows, timers, seed, false)
    }

    /// [`Simulation::new`], hashing each flow onto one path (`hash`) instead of spreading it.
    pub fn with_ecmp(topology: Topology, flows: Vec<FlowSpec>, timers: Timers, seed: u64, hash: bool) -> Simulation {
        let engine: Engine<Event> = Engine::new(seed);
        let ecmp = if hash {
            use rand::RngExt;
            Ecmp::Hash(engine.rng_for(1).random())
        } else {
            Ecmp::Fluid
        };
        let switches = vec![Switch::default(); topology.node_count()];
        let up_convergence = vec![None; topology.node_count()];
        let fluid = Fluid::new(topology, flows, ecmp);
        let marks = vec![0; fluid.class_count().div_ceil(64)];
        Simulation {
            engine,
            fluid,
            switches,
            timers,
            drain: Drain { fabric: true, access: false },
            up_convergence,
            control: None,
            thorough: false,
            marks,
            out_at_start: Vec::new(),
        }
    }

    /// Sets what a drain does (default: switches avoid the drained one; its endpoint links stay).
    pub fn set_drain(&mut self, drain: Drain) {
        self.drain = drain;
    }

    /// Sets how long after coming back `node` is used again.
    pub fn set_up_convergence(&mut self, node: NodeId, millis: u64) {
        self.up_convergence[node.0 as usize] = Some(millis);
    }

    /// Makes every flow that crosses the fabric depend on at least one of `nodes` being up: when
    /// none is for `hold_ms`, such flows lose everything, blamed on the first of them, until one
    /// is back and used.
    pub fn set_control_plane(&mut self, nodes: Vec<NodeId>, hold_ms: u64) {
        if !nodes.is_empty() {
            self.control = Some(ControlPlane { nodes, hold_ms, epoch: 0, pending: false, lost: false });
        }
    }

    /// Divides each re-spread into up to `threads` parts (default: the machine's cores, at most
    /// eight), run on rayon's pool, making a part only when it gets at least `min_classes`
    /// classes (default 256); `threads` 1 spreads on the thread running the simulation. The
    /// outcome is the same for every setting; this is for benchmarks and for the tests that
    /// prove it.
    pub fn set_parallelism(&mut self, threads: usize, min_classes: usize) {
        self.fluid.set_parallelism(threads, min_classes);
    }

    /// When `thorough`, every status change re-spreads every class that could ever cross the
    /// switch, instead of only those the change can move: slower, and the reference the
    /// tests hold the selection to (losses agree up to rounding: time is cut into more pieces).
    pub fn set_thorough(&mut self, thorough: bool) {
        self.thorough = thorough;
    }

    /// When `full`, congestion is resolved after every re-spread (even one that moved no
    /// spread) by spreading every affected class again at every level of overloaded links,
    /// instead of reading the classes that meet overloaded links at one level only (and no
    /// blackhole) off their offered load: slower, and the reference the tests hold the shortcuts
    /// to (losses agree up to the single-precision shares the loads are kept in). It is the
    /// previous resolution, not an independent one.
    pub fn set_full_congestion(&mut self, full: bool) {
        self.fluid.full_congestion = full;
    }

    /// Puts `node` out of service before the run starts, as long since seen by its neighbours:
    /// `down` (not forwarding, its links' loss detected) or drained (avoided, its endpoint links
    /// cut as a drain cuts them). Traffic already goes around it when the run starts, so what
    /// that costs is the run's baseline, not loss the run's actions cause.
    pub fn start_out_of_service(&mut self, node: NodeId, down: bool) {
        let switch = &mut self.switches[node.0 as usize];
        if down {
            switch.down = true;
            switch.fabric_withdrawn = true;
            switch.access_withdrawn = true;
        } else {
            switch.drained = true;
            switch.drain_seen = true;
        }
        if !self.out_at_start.contains(&node) {
            self.out_at_start.push(node);
        }
    }

    /// Schedules `action` at `at`.
    pub fn schedule(&mut self, at: SimTime, action: Action) {
        self.engine.schedule(at, Event::Act(action));
    }

    /// The seed of the run.
    pub fn seed(&self) -> u64 {
        self.engine.seed()
    }

    /// Runs every scheduled action and the reactions they cause, then settles the accounts.
    pub fn run(self) -> Outcome {
        // On one of rayon's threads: each re-spread then hands half its parts to another
        // thread and spreads the rest itself, instead of waking the pool and sleeping until it
        // is done (the cost of a few hundred re-spreads per run).
        rayon::scope(move |_| self.run_here())
    }

    /// [`Simulation::run`] on the calling thread.
    fn run_here(mut self) -> Outcome {
        let mut dirty: Vec<bool> = vec![false; self.switches.len()];
        let mut dirty_nodes: Vec<NodeId> = std::mem::take(&mut self.out_at_start);
        for node in &dirty_nodes {
            dirty[node.0 as usize] = true;
        }
        // The fabric as it is when the run starts: switches already out are gone around first.
        self.settle(&mut dirty, &mut dirty_nodes, SimTime::ZERO);
        let baseline_loss_gbps = self.fluid.loss_rates();
        let baseline_overloaded = self.fluid.overloaded_now();
        let mut probes = Vec::new();
        let mut pending_probes: Vec<u32> = Vec::new();
        while let Some(now) = self.engine.peek_time() {
            while self.engine.peek_time() == Some(now) {
                let (_, event) = self.engine.next_event().expect("peeked");
                match event {
                    Event::Act(Action::Probe(tag)) => pending_probes.push(tag),
                    Event::ControlLost { epoch } => self.control_lost(epoch, now),
                    event => {
                        for node in self.handle(event) {
                            if !std::mem::replace(&mut dirty[node.0 as usize], true) {
                                dirty_nodes.push(node);
                            }
                        }
                    }
                }
            }
            self.settle(&mut dirty, &mut dirty_nodes, now);
            for tag in pending_probes.drain(..) {
                let exposure = self.fluid.exposure();
                probes.push(Probe { tag, at: now, exposure, flows_losing: self.fluid.flows_losing_now() });
            }
        }
        let end = self.engine.now();
        let events = self.engine.delivered();
        let Finished { losses, topology, flows, peak, evaluations } = self.fluid.finish(end);
        Outcome {
            topology,
            flows,
            losses,
            baseline_loss_gbps,
            baseline_overloaded,
            peak,
            probes,
            end,
            events,
            evaluations,
        }
    }

    /// Re-spreads the classes a status change at `now` can affect (see [`Change`]), then looks
    /// at core isolation and the control plane, which the change may have brought about.
    fn settle(&mut self, dirty: &mut [bool], dirty_nodes: &mut Vec<NodeId>, now: SimTime) {
        // Bounded: a round can only lift isolations, which change nothing the next round lifts.
        for _ in 0..4 {
            if dirty_nodes.is_empty() {
                return;
            }
            let mut classes: Vec<u32> = Vec::new();
            let mut changed: Vec<NodeId> = Vec::new();
            for node in dirty_nodes.drain(..) {
                dirty[node.0 as usize] = false;
                let status = self.status_of(node);
                let old = self.fluid.set_status(node, status);
                if old == status {
                    continue;
                }
                changed.push(node);
                let tier_one = self.fluid.topology.node(node).tier == 1;
                let through = &self.fluid.classes_through[node.0 as usize];
                let fluid = &self.fluid;
                // A hashed flow picks its next hop by its hash modulo the number of best next
                // hops: when that set changes anywhere on its way, it may move even if it never
                // crossed this switch, so every class that could cross it is re-spread.
                let change = if self.thorough || self.fluid.hashed() {
                    Change::Better
                } else {
                    Change::between(&old, &status, tier_one)
                };
                match change {
                    // A class losing traffic to a blackhole may come to blame this switch (a
                    // destination switch gone is blamed before the switch where the traffic
                    // stops); such a class is degraded. One that loses only to congestion is
                    // delivered in full by its spread, which a switch it never reaches cannot
                    // move: its losses are worked out again with the links' loads.
                    Change::OnlyWorse => select(through, &mut classes, |c| fluid.carries(c, node) || fluid.degraded(c)),
                    Change::UpToAvoid => select(through, &mut classes, |c| fluid.carries(c, node) || fluid.degraded(c)),
                    Change::LoneUp => select(through, &mut classes, |c| {
                        fluid.carries(c, node) || fluid.degraded(c) || fluid.alone_on(c, node)
                    }),
                    Change::Better => classes.extend_from_slice(through),
                }
            }
            if !classes.is_empty() {
                // One switch's classes come in order already; several are merged through a
                // bit per class.
                if changed.len() > 1 {
                    merge(&mut classes, &mut self.marks);
                }
                debug_assert!(classes.is_sorted(), "a switch's classes are listed in order");
                self.fluid.reevaluate(&classes, now);
            }
            if changed.is_empty() {
                return;
            }
            for leaf in self.watch_isolation(&changed) {
                if !std::mem::replace(&mut dirty[leaf.0 as usize], true) {
                    dirty_nodes.push(leaf);
                }
            }
            self.watch_control(now);
        }
    }

    fn status_of(&self, node: NodeId) -> Status {
        let switch = &self.switches[node.0 as usize];
        // Only tier-1 switches have endpoint links for a drain to take down.
        let access_drain = self.drain.access && self.fluid.topology.node(node).tier == 1;
        let cut = switch.drained && access_drain;
        let fabric = if switch.fabric_withdrawn {
            View::Withdrawn
        } else if switch.drain_seen && self.drain.fabric {
            View::Avoid
        } else {
            View::Use
        };
        // Endpoint links taken down by the drain are down for the endpoints at once (they see the
        // link go) and for the fabric (the switch withdraws its routes to them); once back up
        // they are avoided until the undrain converges.
        let access = if switch.access_withdrawn || switch.isolated || cut {
            View::Withdrawn
        } else if switch.drain_seen && access_drain {
            View::Avoid
        } else {
            View::Use
        };
        Status {
            forwarding: !switch.down && !switch.hung,
            fabric,
            access,
            lone: if switch.access_withdrawn { View::Withdrawn } else { View::Use },
            attached: !cut && !switch.isolated && !switch.down,
        }
    }

    /// Applies one event; returns the switches whose status may have changed.
    fn handle(&mut self, event: Event) -> Vec<NodeId> {
        let timers = self.timers;
        match event {
            Event::Act(action) => self.act(action, timers),
            Event::DrainSeen { node, epoch, drained } => {
                let switch = &mut self.switches[node.0 as usize];
                if switch.drain_epoch != epoch {
                    return Vec::new();
                }
                switch.drain_seen = drained;
                vec![node]
            }
            Event::Detected { node, epoch, fabric } => {
                let switch = &mut self.switches[node.0 as usize];
                if switch.oper_epoch != epoch {
                    return Vec::new();
                }
                if fabric {
                    switch.fabric_withdrawn = true;
                } else {
                    switch.access_withdrawn = true;
                }
                vec![node]
            }
            Event::UpSeen { node, epoch } => {
                let switch = &mut self.switches[node.0 as usize];
                if switch.oper_epoch != epoch {
                    return Vec::new();
                }
                switch.fabric_withdrawn = false;
                switch.access_withdrawn = false;
                vec![node]
            }
            Event::Isolated { node, epoch } => {
                let switch = &mut self.switches[node.0 as usize];
                if switch.isolation_epoch != epoch || !switch.isolation_pending {
                    return Vec::new();
                }
                switch.isolation_pending = false;
                switch.isolated = true;
                vec![node]
            }
            Event::ControlLost { .. } => Vec::new(),
        }
    }

    fn act(&mut self, action: Action, timers: Timers) -> Vec<NodeId> {
        match action {
            Action::Probe(_) => Vec::new(),
            Action::Drain(node) | Action::Undrain(node) => {
                let drained = matches!(action, Action::Drain(_));
                let switch = &mut self.switches[node.0 as usize];
                switch.drained = drained;
                switch.drain_epoch += 1;
                let epoch = switch.drain_epoch;
                self.engine.schedule_in(timers.drain_convergence_ms, Event::DrainSeen { node, epoch, drained });
                vec![node]
            }
            Action::Down(node) | Action::Hang(node) => {
                let hang = matches!(action, Action::Hang(_));
                let switch = &mut self.switches[node.0 as usize];
                switch.oper_epoch += 1;
                switch.down = !hang;
                switch.hung = hang;
                let epoch = switch.oper_epoch;
                let (fabric_ms, access_ms) = if hang {
                    (timers.fabric_detect_ms, timers.access_detect_ms)
                } else {
                    (timers.link_down_ms, timers.link_down_ms)
                };
                self.engine.schedule_in(fabric_ms, Event::Detected { node, epoch, fabric: true });
                self.engine.schedule_in(access_ms, Event::Detected { node, epoch, fabric: false });
                vec![node]
            }
            Action::Up(node) => {
                let switch = &mut self.switches[node.0 as usize];
                switch.oper_epoch += 1;
                switch.down = false;
                switch.hung = false;
                let epoch = switch.oper_epoch;
                let converge = self.up_convergence[node.0 as usize].unwrap_or(timers.up_convergence_ms);
                self.engine.schedule_in(converge, Event::UpSeen { node, epoch });
                vec![node]
            }
        }
    }

    /// Core isolation: a tier-1 switch whose every upper neighbour is withdrawn takes its
    /// endpoint links down after `core_isolation_ms`; it brings them back as soon as one is used
    /// again. Returns the switches whose isolation was lifted.
    fn watch_isolation(&mut self, changed: &[NodeId]) -> Vec<NodeId> {
        let Some(delay) = self.timers.core_isolation_ms else { return Vec::new() };
        let topology = &self.fluid.topology;
        let mut leafs: Vec<NodeId> = Vec::new();
        for node in changed {
            if topology.node(*node).tier == 2 {
                leafs.extend(topology.down[node.0 as usize].iter().map(|(n, _)| *n));
            }
        }
        leafs.sort_unstable();
        leafs.dedup();
        let mut restored = Vec::new();
        for leaf in leafs {
            let uppers = &self.fluid.topology.up[leaf.0 as usize];
            let cut_off = !uppers.is_empty()
                && uppers.iter().all(|(upper, _)| self.fluid.status[upper.0 as usize].fabric == View::Withdrawn);
            if cut_off {
                let culprit = uppers.first().map(|(upper, _)| *upper);
                self.fluid.set_blame(leaf, culprit);
            }
            let switch = &mut self.switches[leaf.0 as usize];
            if cut_off && !switch.isolated && !switch.isolation_pending {
                switch.isolation_epoch += 1;
                switch.isolation_pending = true;
                let (node, epoch) = (leaf, switch.isolation_epoch);
                self.engine.schedule_in(delay, Event::Isolated { node, epoch });
            } else if !cut_off && (switch.isolated || switch.isolation_pending) {
                switch.isolation_epoch += 1;
                switch.isolation_pending = false;
                if std::mem::replace(&mut switch.isolated, false) {
                    restored.push(leaf);
                }
                self.fluid.set_blame(leaf, None);
            }
        }
        restored
    }

    /// The control plane: when none of its switches is up, every flow is lost after its hold
    /// time; when one is back and used again, flows return.
    fn watch_control(&mut self, now: SimTime) {
        let Some(control) = &mut self.control else { return };
        let status = &self.fluid.status;
        let up = control.nodes.iter().any(|n| status[n.0 as usize].forwarding);
        let used = control
            .nodes
            .iter()
            .any(|n| status[n.0 as usize].forwarding && status[n.0 as usize].fabric != View::Withdrawn);
        if !up && !control.pending && !control.lost {
            control.epoch += 1;
            control.pending = true;
            let epoch = control.epoch;
            let hold = control.hold_ms;
            self.engine.schedule_in(hold, Event::ControlLost { epoch });
        } else if up && control.pending {
            control.epoch += 1;
            control.pending = false;
        }
        if used && control.lost {
            control.lost = false;
            self.fluid.set_overlay_lost(None, now);
        }
    }

    fn control_lost(&mut self, epoch: u32, now: SimTime) {
        let Some(control) = &mut self.control else { return };
        if control.epoch != epoch || !control.pending {
            return;
        }
        control.pending = false;
        control.lost = true;
        let culprit = control.nodes[0];
        self.fluid.set_overlay_lost(Some(culprit), now);
    }
}

#[cfg(test)]
mod tests {
    use super::merge;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn merging_through_marks_sorts_and_removes_repeats() {
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(5);
        for classes in [1usize, 63, 64, 65, 1000] {
            let mut marks = vec![0u64; classes.div_ceil(64)];
            for _ in 0..20 {
                let picked: Vec<u32> =
                    (0..rng.random_range(0..3 * classes)).map(|_| rng.random_range(0..classes as u32)).collect();
                let mut expected = picked.clone();
                expected.sort_unstable();
                expected.dedup();
                let mut merged = picked;
                merge(&mut merged, &mut marks);
                assert_eq!(merged, expected);
                assert!(marks.iter().all(|w| *w == 0), "the marks are left clear");
            }
        }
    }
}
