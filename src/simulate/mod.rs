//! Proving a plan hitless: replay it in virtual time against the fluid traffic model.
//!
//! [`simulate`] builds the simulator's topology from the fabric ([`network`]), the flows from
//! the scenario's traffic, and a timed schedule from the batches ([`schedule`]); runs it (once,
//! or `runs` times with seeded jitter, keeping the worst); and reports the verdict, the worst
//! flows with the device and moment that caused their loss, the busiest link, and each batch's
//! n+1 exposure ([`report::SimReport`]).

pub mod input;
pub mod network;
pub mod replay;
pub mod report;
pub mod schedule;

use hitless_sim::{Action, Cause, FlowSpec, Outcome, SimTime, Simulation, Timers};

use crate::model::{DeviceId, Role};
use crate::scenario::Scenario;
use crate::scenario::settings::SimSettings;
use network::Network;
use report::{
    BYTES_PER_GBIT, BatchSimReport, CauseKind, CauseReport, ExposureReport, FlowLossReport, PeakReport, SimReport,
};

/// How to run the simulation.
#[derive(Clone, Copy, Debug)]
pub struct SimOptions {
    /// Runs to make (with jitter they differ); the worst is reported.
    pub runs: u32,
    /// Seed of the first run; run `i` uses `seed + i`.
    pub seed: u64,
    /// How many of the worst flows to list.
    pub worst_flows: usize,
    /// Exposure entries listed per batch.
    pub exposure_per_batch: usize,
}

/// The batches to simulate, and warnings about them.
#[derive(Clone, Debug, Default)]
pub struct PlanInput {
    /// Batches in order.
    pub batches: Vec<Vec<DeviceId>>,
    /// Warnings to carry into the report (plan warnings, rule violations).
    pub warnings: Vec<String>,
}

/// Simulates `plan` on `scenario` and reports the worst run.
pub fn simulate(scenario: &Scenario, plan: &PlanInput, options: &SimOptions) -> SimReport {
    assert!(options.runs >= 1, "at least one run");
    let network = Network::build(&scenario.fabric, &scenario.simulation);
    let flows = flows(scenario, &network);
    let mut worst: Option<(SimReport, f64)> = None;
    for run in 0..options.runs {
        let seed = options.seed.wrapping_add(u64::from(run));
        let report = run_once(scenario, plan, options, &network, &flows, seed);
        let lost = report.lost_bytes;
        if worst.as_ref().is_none_or(|(_, w)| lost > *w) {
            worst = Some((report, lost));
        }
    }
    let (mut report, _) = worst.expect("at least one run");
    report.runs = options.runs;
    report
}

/// The neighbours' reaction times for the engine, from the scenario's settings.
pub fn timers(settings: &SimSettings) -> Timers {
    let fabric_detect_ms = if settings.bfd {
        settings.bfd_interval_ms * settings.bfd_multiplier
    } else {
        settings.bgp_hold_seconds * 1000
    };
    Timers {
        drain_convergence_ms: seconds_to_ms(settings.drain_convergence_seconds),
        fabric_detect_ms,
        access_detect_ms: if settings.lacp_fast { 3_000 } else { 90_000 },
        up_convergence_ms: seconds_to_ms(settings.protocol_convergence_seconds),
    }
}

/// Whole milliseconds of a non-negative duration in seconds.
pub fn seconds_to_ms(seconds: f64) -> u64 {
    (seconds * 1000.0).round().max(0.0) as u64
}

/// The scenario's flows on the simulator's endpoints.
pub fn flows(scenario: &Scenario, network: &Network) -> Vec<FlowSpec> {
    scenario
        .traffic
        .flows(scenario.fabric.servers().len(), network.external.is_some())
        .into_iter()
        .filter_map(|f| {
            Some(FlowSpec { src: network.endpoint(f.src)?, dst: network.endpoint(f.dst)?, rate_gbps: f.gbps })
        })
        .collect()
}

/// The report line of flow `i` of a run.
pub fn flow_loss_report(outcome: &Outcome, i: usize) -> FlowLossReport {
    let topology = &outcome.topology;
    let (flow, loss) = (&outcome.flows[i], &outcome.losses[i]);
    FlowLossReport {
        src: topology.endpoint(flow.src).name.clone(),
        dst: topology.endpoint(flow.dst).name.clone(),
        lost_bytes: loss.total_gbit() * BYTES_PER_GBIT,
        blackhole_bytes: loss.blackhole_gbit * BYTES_PER_GBIT,
        congestion_bytes: loss.congestion_gbit * BYTES_PER_GBIT,
        cause: loss.cause.map(|(cause, at)| cause_report(topology, cause, at)),
    }
}

fn run_once(
    scenario: &Scenario,
    plan: &PlanInput,
    options: &SimOptions,
    network: &Network,
    flows: &[FlowSpec],
    seed: u64,
) -> SimReport {
    let settings = &scenario.simulation;
    let schedule =
        schedule::build(&scenario.fabric, &plan.batches, &scenario.timing, scenario.drain, settings.jitter, seed);
    let mut sim = Simulation::new(network.topology.clone(), flows.to_vec(), timers(settings), seed);
    for (at, action) in &schedule.actions {
        sim.schedule(*at, *action);
    }
    for (index, window) in schedule.windows.iter().enumerate() {
        sim.schedule(window.all_down.after_millis(1), Action::Probe(index as u32));
    }
    let outcome = sim.run();
    report(scenario, plan, options, &outcome, &schedule.windows, seed)
}

fn report(
    scenario: &Scenario,
    plan: &PlanInput,
    options: &SimOptions,
    outcome: &Outcome,
    windows: &[schedule::Window],
    seed: u64,
) -> SimReport {
    let topology = &outcome.topology;
    let lost_bytes: f64 = outcome.losses.iter().map(|l| l.total_gbit()).sum::<f64>() * BYTES_PER_GBIT;
    let mut lossy: Vec<usize> = (0..outcome.losses.len()).filter(|i| outcome.losses[*i].total_gbit() > 0.0).collect();
    lossy.sort_by(|a, b| outcome.losses[*b].total_gbit().total_cmp(&outcome.losses[*a].total_gbit()).then(a.cmp(b)));
    let flows_with_loss = lossy.iter().take(options.worst_flows).map(|&i| flow_loss_report(outcome, i)).collect();
    let batches = plan
        .batches
        .iter()
        .enumerate()
        .map(|(i, devices)| {
            let probe = outcome.probes.iter().find(|p| p.tag == i as u32).expect("one probe per batch");
            BatchSimReport {
                index: i + 1,
                role: devices.first().map_or(Role::Leaf, |d| scenario.fabric.device(*d).role),
                devices: devices.iter().map(|d| scenario.fabric.device(*d).name.clone()).collect(),
                start_seconds: windows[i].start.secs_f64(),
                end_seconds: windows[i].end.secs_f64(),
                flows_losing_when_down: probe.flows_losing,
                exposure: probe
                    .exposure
                    .iter()
                    .take(options.exposure_per_batch)
                    .map(|(node, flows)| ExposureReport { device: topology.node(*node).name.clone(), flows: *flows })
                    .collect(),
            }
        })
        .collect();
    SimReport {
        scenario: scenario.name.clone(),
        seed,
        runs: 1,
        hitless: lost_bytes < 1.0,
        lost_bytes,
        simulated_seconds: outcome.end.secs_f64(),
        drain: scenario.drain,
        flow_count: outcome.flows.len(),
        flows_with_loss_count: lossy.len(),
        flows_with_loss,
        peak_link_utilisation: outcome.peak.map(|p| PeakReport {
            link: link_name(topology, p.link),
            utilisation: p.utilisation,
            at_seconds: p.at.secs_f64(),
        }),
        batches,
        warnings: plan.warnings.clone(),
        events: outcome.events,
        evaluations: outcome.evaluations,
    }
}

fn link_name(topology: &hitless_sim::Topology, link: hitless_sim::LinkId) -> String {
    let link = topology.link(link);
    format!("{}->{}", link.from, link.to)
}

fn cause_report(topology: &hitless_sim::Topology, cause: Cause, at: SimTime) -> CauseReport {
    match cause {
        Cause::Blackhole(node) => CauseReport {
            device: topology.node(node).name.clone(),
            at_seconds: at.secs_f64(),
            kind: CauseKind::Blackhole,
            link: None,
        },
        Cause::Congestion(link) => CauseReport {
            device: topology.link(link).from.clone(),
            at_seconds: at.secs_f64(),
            kind: CauseKind::Congestion,
            link: Some(link_name(topology, link)),
        },
    }
}
