//! A run: the engine driving the fluid model with switch actions and the protocol timers that
//! follow them.
//!
//! The caller schedules [`Action`]s (drain, undrain, down, up, probe). The simulation adds the
//! reactions of the neighbours on its own timers: a drain is honoured after
//! `drain_convergence_ms`; a switch that stops forwarding is noticed after `fabric_detect_ms` by
//! other switches and after `access_detect_ms` by endpoints; a switch that comes back is used
//! again after `up_convergence_ms`. Until a failure is noticed, traffic sent to the switch is
//! blackholed.

use crate::engine::Engine;
use crate::fluid::{FlowLoss, FlowSpec, Fluid, Peak, View};
use crate::time::SimTime;
use crate::topology::{Detect, NodeId, Topology};

/// What the caller does to a switch, or asks of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Maintenance mode on: ask neighbours to route around the switch.
    Drain(NodeId),
    /// Maintenance mode off.
    Undrain(NodeId),
    /// Stop forwarding (install, reboot).
    Down(NodeId),
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
    /// From a switch stopping to other switches noticing.
    pub fabric_detect_ms: u64,
    /// From a switch stopping to endpoints noticing.
    pub access_detect_ms: u64,
    /// From a switch forwarding again to neighbours using it.
    pub up_convergence_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Act(Action),
    DrainSeen { node: NodeId, epoch: u32, drained: bool },
    Detected { node: NodeId, epoch: u32, detect: Detect },
    UpSeen { node: NodeId, epoch: u32 },
}

#[derive(Clone, Copy, Debug, Default)]
struct Switch {
    down: bool,
    drain_seen: bool,
    fabric_withdrawn: bool,
    access_withdrawn: bool,
    drain_epoch: u32,
    oper_epoch: u32,
}

/// How a switch's status changed, and so which flows can be affected.
enum Change {
    /// Nothing got better (drained, stopped, withdrawn; or it forwards again while still
    /// withdrawn): flows that send nothing through it did not choose it and still will not.
    OnlyWorse,
    /// A view rose from withdrawn to avoid and no further: only flows that carry traffic
    /// through it, or that had nothing better than avoid somewhere, can move.
    UpToAvoid,
    /// A view rose to "use": any flow that could cross it may move.
    Better,
}

impl Change {
    fn between(old: &crate::fluid::Status, new: &crate::fluid::Status) -> Change {
        let views_better = new.fabric > old.fabric || new.access > old.access;
        if !views_better {
            Change::OnlyWorse
        } else if new.fabric <= View::Avoid && new.access <= View::Avoid {
            Change::UpToAvoid
        } else {
            Change::Better
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
    /// The highest link utilisation reached.
    pub peak: Option<Peak>,
    /// Probes in time order.
    pub probes: Vec<Probe>,
    /// When the last event fired.
    pub end: SimTime,
    /// Events delivered.
    pub events: u64,
    /// Flow spreads computed.
    pub evaluations: u64,
}

/// A simulation run being set up.
pub struct Simulation {
    engine: Engine<Event>,
    fluid: Fluid,
    switches: Vec<Switch>,
    timers: Timers,
}

impl Simulation {
    /// A run over `topology` carrying `flows`, every switch up and in service.
    pub fn new(topology: Topology, flows: Vec<FlowSpec>, timers: Timers, seed: u64) -> Simulation {
        let switches = vec![Switch::default(); topology.node_count()];
        Simulation { engine: Engine::new(seed), fluid: Fluid::new(topology, flows), switches, timers }
    }

    /// Schedules `action` at `at`.
    pub fn schedule(&mut self, at: SimTime, action: Action) {
        self.engine.schedule(at, Event::Act(action));
    }

    /// The engine, e.g. for a seeded generator (`rng_for`).
    pub fn seed(&self) -> u64 {
        self.engine.seed()
    }

    /// Runs every scheduled action and the reactions they cause, then settles the accounts.
    pub fn run(mut self) -> Outcome {
        let mut probes = Vec::new();
        let mut dirty: Vec<bool> = vec![false; self.switches.len()];
        let mut dirty_nodes: Vec<NodeId> = Vec::new();
        let mut pending_probes: Vec<u32> = Vec::new();
        while let Some(now) = self.engine.peek_time() {
            while self.engine.peek_time() == Some(now) {
                let (_, event) = self.engine.next_event().expect("peeked");
                if let Event::Act(Action::Probe(tag)) = event {
                    pending_probes.push(tag);
                } else if let Some(node) = self.handle(event)
                    && !std::mem::replace(&mut dirty[node.0 as usize], true)
                {
                    dirty_nodes.push(node);
                }
            }
            self.settle(&mut dirty, &mut dirty_nodes, now);
            for tag in pending_probes.drain(..) {
                let exposure = self.fluid.exposure();
                probes.push(Probe { tag, at: now, exposure, flows_losing: self.fluid.flows_losing_now() });
            }
        }
        let end = self.engine.now();
        let losses = self.fluid.finish(end);
        let peak = self.fluid.peak();
        let evaluations = self.fluid.evaluations;
        let events = self.engine.delivered();
        let flows = self.fluid.flows().to_vec();
        let Fluid { topology, .. } = self.fluid;
        Outcome { topology, flows, losses, peak, probes, end, events, evaluations }
    }

    /// Re-spreads the flows a status change at `now` can affect (see [`Change`]).
    fn settle(&mut self, dirty: &mut [bool], dirty_nodes: &mut Vec<NodeId>, now: SimTime) {
        let mut flows: Vec<u32> = Vec::new();
        for node in dirty_nodes.drain(..) {
            dirty[node.0 as usize] = false;
            let status = self.status_of(node);
            let old = std::mem::replace(&mut self.fluid.status[node.0 as usize], status);
            if old == status {
                continue;
            }
            let through = self.fluid.flows_through[node.0 as usize].iter().copied();
            let fluid = &self.fluid;
            match Change::between(&old, &status) {
                Change::OnlyWorse => flows.extend(through.filter(|f| fluid.carries(*f, node))),
                Change::UpToAvoid => flows.extend(through.filter(|f| fluid.carries(*f, node) || fluid.degraded(*f))),
                Change::Better => flows.extend(through),
            }
        }
        if flows.is_empty() {
            return;
        }
        flows.sort_unstable();
        flows.dedup();
        self.fluid.reevaluate(&flows, now);
    }

    fn status_of(&self, node: NodeId) -> crate::fluid::Status {
        let switch = &self.switches[node.0 as usize];
        let view = |withdrawn: bool| {
            if withdrawn {
                View::Withdrawn
            } else if switch.drain_seen {
                View::Avoid
            } else {
                View::Use
            }
        };
        // Only endpoints look at the access view, and they attach to tier 1 only.
        let tier_one = self.fluid.topology.node(node).tier == 1;
        crate::fluid::Status {
            forwarding: !switch.down,
            fabric: view(switch.fabric_withdrawn),
            access: if tier_one { view(switch.access_withdrawn) } else { View::Use },
        }
    }

    /// Applies one event; returns the switch whose status may have changed.
    fn handle(&mut self, event: Event) -> Option<NodeId> {
        let timers = self.timers;
        match event {
            Event::Act(action) => self.act(action, timers),
            Event::DrainSeen { node, epoch, drained } => {
                let switch = &mut self.switches[node.0 as usize];
                (switch.drain_epoch == epoch).then(|| {
                    switch.drain_seen = drained;
                    node
                })
            }
            Event::Detected { node, epoch, detect } => {
                let switch = &mut self.switches[node.0 as usize];
                (switch.oper_epoch == epoch).then(|| {
                    match detect {
                        Detect::Fabric => switch.fabric_withdrawn = true,
                        Detect::Access => switch.access_withdrawn = true,
                    }
                    node
                })
            }
            Event::UpSeen { node, epoch } => {
                let switch = &mut self.switches[node.0 as usize];
                (switch.oper_epoch == epoch).then(|| {
                    switch.fabric_withdrawn = false;
                    switch.access_withdrawn = false;
                    node
                })
            }
        }
    }

    fn act(&mut self, action: Action, timers: Timers) -> Option<NodeId> {
        let (node, delays) = match action {
            Action::Probe(_) => return None,
            Action::Drain(node) | Action::Undrain(node) => {
                let drained = matches!(action, Action::Drain(_));
                let switch = &mut self.switches[node.0 as usize];
                switch.drain_epoch += 1;
                let epoch = switch.drain_epoch;
                self.engine.schedule_in(timers.drain_convergence_ms, Event::DrainSeen { node, epoch, drained });
                return Some(node);
            }
            Action::Down(node) => (node, true),
            Action::Up(node) => (node, false),
        };
        let switch = &mut self.switches[node.0 as usize];
        switch.oper_epoch += 1;
        switch.down = delays;
        let epoch = switch.oper_epoch;
        if delays {
            self.engine.schedule_in(timers.fabric_detect_ms, Event::Detected { node, epoch, detect: Detect::Fabric });
            self.engine.schedule_in(timers.access_detect_ms, Event::Detected { node, epoch, detect: Detect::Access });
        } else {
            self.engine.schedule_in(timers.up_convergence_ms, Event::UpSeen { node, epoch });
        }
        Some(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fluid::Cause;
    use crate::topology::EndpointId;

    const TIMERS: Timers = Timers {
        drain_convergence_ms: 5_000,
        fabric_detect_ms: 900,
        access_detect_ms: 3_000,
        up_convergence_ms: 30_000,
    };

    /// Two spines, two leafs, a server on each leaf; `rate` Gbps from a to b, uplinks of `uplink` Gbps.
    fn two_spines(rate: f64, uplink: f64) -> (Simulation, [NodeId; 4]) {
        let mut t = Topology::new();
        let l1 = t.add_node("leaf1", 1);
        let l2 = t.add_node("leaf2", 1);
        let s1 = t.add_node("spine1", 2);
        let s2 = t.add_node("spine2", 2);
        for (l, s) in [(l1, s1), (l1, s2), (l2, s1), (l2, s2)] {
            t.add_link(l, s, uplink);
        }
        let a = t.add_endpoint("a", &[l1], 400.0, Detect::Access);
        let b = t.add_endpoint("b", &[l2], 400.0, Detect::Access);
        let flows = vec![FlowSpec { src: a, dst: b, rate_gbps: rate }];
        (Simulation::new(t, flows, TIMERS, 1), [l1, l2, s1, s2])
    }

    fn reboot(sim: &mut Simulation, node: NodeId, drain: bool) {
        if drain {
            sim.schedule(SimTime::from_secs(100), Action::Drain(node));
        }
        sim.schedule(SimTime::from_secs(160), Action::Down(node));
        sim.schedule(SimTime::from_secs(600), Action::Up(node));
        if drain {
            sim.schedule(SimTime::from_secs(700), Action::Undrain(node));
        }
    }

    #[test]
    fn a_drained_spine_reboots_without_loss() {
        let (mut sim, [_, _, s1, _]) = two_spines(10.0, 100.0);
        reboot(&mut sim, s1, true);
        let outcome = sim.run();
        assert_eq!(outcome.losses[0].total_gbit(), 0.0);
    }

    #[test]
    fn an_undrained_spine_blackholes_its_share_until_detected() {
        let (mut sim, [_, _, s1, _]) = two_spines(10.0, 100.0);
        reboot(&mut sim, s1, false);
        let outcome = sim.run();
        // Half of 10 Gbps hashes to spine1 for the 0.9 s BFD takes.
        let loss = &outcome.losses[0];
        assert!((loss.blackhole_gbit - 4.5).abs() < 1e-9, "{loss:?}");
        assert_eq!(loss.cause, Some((Cause::Blackhole(s1), SimTime::from_secs(160))));
    }

    #[test]
    fn too_little_capacity_left_is_congestion_not_blackhole() {
        // 150 Gbps over two 100G uplinks is fine; over one it loses 50 Gbps.
        let (mut sim, [_, _, s1, _]) = two_spines(150.0, 100.0);
        reboot(&mut sim, s1, true);
        let outcome = sim.run();
        let loss = &outcome.losses[0];
        assert_eq!(loss.blackhole_gbit, 0.0, "{loss:?}");
        // Overloaded from drain convergence (105 s) until undrain convergence (705 s): 600 s at
        // 50 Gbps over on the leaf1 uplink, and the same again on the spine2-to-leaf2 link.
        assert!((loss.congestion_gbit - 2.0 * 50.0 * 600.0).abs() < 1e-6, "{loss:?}");
        assert!(matches!(loss.cause, Some((Cause::Congestion(_), t)) if t == SimTime::from_secs(105)));
        assert!(outcome.peak.unwrap().utilisation > 1.49);
    }

    #[test]
    fn probes_name_the_single_points_of_failure() {
        let (mut sim, [l1, l2, s1, s2]) = two_spines(1.0, 100.0);
        sim.schedule(SimTime::from_secs(1), Action::Probe(0));
        reboot(&mut sim, s1, true);
        sim.schedule(SimTime::from_secs(300), Action::Probe(1));
        let outcome = sim.run();
        let nodes = |p: &Probe| p.exposure.iter().map(|e| e.0).collect::<Vec<_>>();
        assert_eq!(nodes(&outcome.probes[0]), vec![l1, l2]);
        assert_eq!(nodes(&outcome.probes[1]), vec![l1, l2, s2]);
        let _ = EndpointId(0);
    }
}
