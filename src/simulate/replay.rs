//! Replaying what an execution actually did through the traffic model: the loss of the
//! execution itself, not just of its plan (the timeline comes from the job's journal).

use hitless_sim::{Action, SimTime};

use super::network::{Network, node};
use super::report::{BYTES_PER_GBIT, FlowLossReport};
use crate::journal::{Event, Step};
use crate::scenario::Scenario;

/// What the traffic lost while the job ran.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ExecutionLoss {
    /// Bytes the execution lost over all flows (baseline congestion not counted).
    pub lost_bytes: f64,
    /// Flows that lost anything.
    pub flows_with_loss_count: usize,
    /// The worst flow, if any lost.
    pub worst: Option<FlowLossReport>,
}

/// Turns journal events into device actions by their typed step (never their wording): drain
/// when maintenance mode starts, down at the reboot, up when the new version answers, undrain
/// when maintenance mode ends. A Smart System Upgrade device (`upgrade.method`) rebooted with
/// no maintenance mode around it went through `reload fast-boot`: not down at its reboot, but
/// forwarding nothing, links up, for the second before it answers again.
pub fn timeline(scenario: &Scenario, events: &[Event]) -> Vec<(SimTime, Action)> {
    let mut actions = Vec::new();
    let mut drained = std::collections::BTreeSet::new();
    let mut fast = std::collections::BTreeSet::new();
    for event in events {
        let Some(id) = scenario.fabric.lookup(&event.device) else { continue };
        let at = SimTime::from_millis((event.at_seconds * 1000.0).round().max(0.0) as u64);
        let action = match event.step {
            Step::Drain => {
                drained.insert(id);
                Action::Drain(node(id))
            }
            Step::Reboot if scenario.timing.ssu_devices.contains(&id) && !drained.contains(&id) => {
                fast.insert(id);
                continue;
            }
            Step::Reboot => Action::Down(node(id)),
            Step::Booted if fast.remove(&id) => {
                let pause = SimTime::from_millis(at.millis().saturating_sub(crate::timing::SSU_OUTAGE_MS));
                actions.push((pause, Action::Hang(node(id))));
                Action::Up(node(id))
            }
            Step::Booted => Action::Up(node(id)),
            Step::Undrain => {
                drained.remove(&id);
                Action::Undrain(node(id))
            }
            _ => continue,
        };
        actions.push((at, action));
    }
    actions.sort_by_key(|(at, _)| *at);
    actions
}

/// Runs the timeline against the scenario's traffic, configured as `simulate` configures it.
pub fn replay(scenario: &Scenario, events: &[Event]) -> ExecutionLoss {
    let network = Network::build(&scenario.fabric, &scenario.simulation);
    let flows = super::flows(scenario, &network);
    let mut sim = super::configure(scenario, &network, flows, scenario.simulation.seed);
    for (at, action) in timeline(scenario, events) {
        sim.schedule(at, action);
    }
    let outcome = sim.run();
    let losses = super::upgrade_losses(&outcome);
    let total = |i: usize| losses[i].0 + losses[i].1;
    let lost_bytes = (0..losses.len()).map(total).sum::<f64>() * BYTES_PER_GBIT;
    let flows_with_loss_count = (0..losses.len()).filter(|i| total(*i) > 0.0).count();
    let worst = (0..losses.len())
        .filter(|i| total(*i) > 0.0)
        .max_by(|a, b| total(*a).total_cmp(&total(*b)))
        .map(|i| super::flow_loss_report(&outcome, i, losses[i]));
    ExecutionLoss { lost_bytes, flows_with_loss_count, worst }
}
