//! Replaying what an execution actually did through the traffic model: the loss of the
//! execution itself, not just of its plan (the timeline comes from the job's journal).

use hitless_sim::{Action, SimTime, Simulation};

use super::network::{Network, node};
use super::report::{BYTES_PER_GBIT, FlowLossReport};
use crate::journal::{Event, Step};
use crate::scenario::Scenario;

/// What the traffic lost while the job ran.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ExecutionLoss {
    /// Bytes lost over all flows.
    pub lost_bytes: f64,
    /// Flows that lost anything.
    pub flows_with_loss_count: usize,
    /// The worst flow, if any lost.
    pub worst: Option<FlowLossReport>,
}

/// Turns journal events into device actions by their typed step (never their wording): drain
/// when maintenance mode starts, down at the reboot, up when the new version answers, undrain
/// when maintenance mode ends.
pub fn timeline(scenario: &Scenario, events: &[Event]) -> Vec<(SimTime, Action)> {
    let mut actions = Vec::new();
    for event in events {
        let Some(id) = scenario.fabric.lookup(&event.device) else { continue };
        let at = SimTime::from_millis((event.at_seconds * 1000.0).round().max(0.0) as u64);
        let action = match event.step {
            Step::Drain => Action::Drain(node(id)),
            Step::Reboot => Action::Down(node(id)),
            Step::Booted => Action::Up(node(id)),
            Step::Undrain => Action::Undrain(node(id)),
            _ => continue,
        };
        actions.push((at, action));
    }
    actions.sort_by_key(|(at, _)| *at);
    actions
}

/// Runs the timeline against the scenario's traffic.
pub fn replay(scenario: &Scenario, events: &[Event]) -> ExecutionLoss {
    let network = Network::build(&scenario.fabric, &scenario.simulation);
    let flows = super::flows(scenario, &network);
    let mut sim =
        Simulation::new(network.topology.clone(), flows, super::timers(&scenario.simulation), scenario.simulation.seed);
    for (at, action) in timeline(scenario, events) {
        sim.schedule(at, action);
    }
    let outcome = sim.run();
    let lost_bytes = outcome.losses.iter().map(|l| l.total_gbit()).sum::<f64>() * BYTES_PER_GBIT;
    let flows_with_loss_count = outcome.losses.iter().filter(|l| l.total_gbit() > 0.0).count();
    let worst = (0..outcome.losses.len())
        .filter(|i| outcome.losses[*i].total_gbit() > 0.0)
        .max_by(|a, b| outcome.losses[*a].total_gbit().total_cmp(&outcome.losses[*b].total_gbit()))
        .map(|i| super::flow_loss_report(&outcome, i));
    ExecutionLoss { lost_bytes, flows_with_loss_count, worst }
}
