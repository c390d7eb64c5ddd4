//! Proving a plan hitless: replay it in virtual time against the fluid traffic model.
//!
//! [`simulate`] builds the simulator's topology from the fabric ([`network`]), the flows from
//! the scenario's traffic, and a timed schedule from the batches and the scenario's faults
//! ([`schedule`]); configures the run as the fabric behaves ([`configure`]: what maintenance
//! mode does to traffic, from the same description the Junos driver commits; each role's
//! convergence time, the planner's; the route reflectors as the overlay's control plane; EVPN
//! core isolation); runs it (once, or `runs` times with seeded jitter on every core, keeping the
//! worst); and reports the verdict, the worst flows with the device and moment that caused their
//! loss, the busiest link, and each batch's n+1 exposure ([`report::SimReport`]). Loss the
//! traffic suffers before anything is touched (baseline congestion) is reported apart, and does
//! not count against the plan.

pub mod input;
pub mod network;
pub mod replay;
pub mod report;
pub mod schedule;

use hitless_sim::{Action, Cause, Drain, FlowSpec, Outcome, SimTime, Simulation, Timers};

use crate::model::{CriticalRole, DeviceId, Role};
use crate::scenario::Scenario;
use crate::scenario::settings::SimSettings;
use crate::timing::TimingProfile;
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
    /// Replay the scenario's faults (`simulate` does; the upgrade's gate judges the plan alone).
    pub faults: bool,
    /// The Unix second the job starts at: given, the schedule keeps to the scenario's
    /// maintenance window as the executor would (its waits and pauses); without it, batches run
    /// back to back.
    pub start_unix: Option<i64>,
}

/// The batches to simulate, and warnings about them.
#[derive(Clone, Debug, Default)]
pub struct PlanInput {
    /// Batches in order.
    pub batches: Vec<Vec<DeviceId>>,
    /// Warnings to carry into the report (plan warnings, rule violations).
    pub warnings: Vec<String>,
    /// Devices out of service before the first batch (the fabric as it is): down, or drained.
    pub out_of_service: Vec<OutOfService>,
    /// How many of the planner's rules a plan not made by the planner breaks (each is also a
    /// warning); 0 for the planner's own.
    pub rules_broken: usize,
    /// Devices whose image was staged ahead (`hitless stage`): the executor verifies it and
    /// copies nothing, so their copy takes no time.
    pub staged: Vec<DeviceId>,
}

/// A device out of service before the upgrade starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutOfService {
    /// The device.
    pub device: DeviceId,
    /// Down (not forwarding); otherwise drained (in maintenance mode).
    pub down: bool,
    /// Why, as found (for the report).
    pub why: String,
}

/// Simulates `plan` on `scenario` and reports the worst run. Runs go to every core; the result
/// is the same as on one (the worst by lost bytes, the lowest seed among equals).
pub fn simulate(scenario: &Scenario, plan: &PlanInput, options: &SimOptions) -> SimReport {
    assert!(options.runs >= 1, "at least one run");
    let network = Network::build(&scenario.fabric, &scenario.simulation);
    let flows = flows(scenario, &network);
    let seeds: Vec<u64> = (0..options.runs).map(|run| options.seed.wrapping_add(u64::from(run))).collect();
    let workers = std::thread::available_parallelism().map_or(1, usize::from).min(seeds.len()).max(1);
    let mut reports: Vec<SimReport> = if workers == 1 {
        seeds.iter().map(|seed| run_once(scenario, plan, options, &network, &flows, *seed)).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|worker| {
                    let (seeds, network, flows) = (&seeds, &network, &flows);
                    scope.spawn(move || {
                        seeds
                            .iter()
                            .skip(worker)
                            .step_by(workers)
                            .map(|seed| run_once(scenario, plan, options, network, flows, *seed))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("simulation runs do not panic")).collect()
        })
    };
    reports.sort_by(|a, b| b.lost_bytes.total_cmp(&a.lost_bytes).then(a.seed.cmp(&b.seed)));
    let mut report = reports.swap_remove(0);
    report.runs = options.runs;
    report
}

/// The scenario's flows on the simulator's endpoints.
pub fn flows(scenario: &Scenario, network: &Network) -> Vec<FlowSpec> {
    let mut flows: Vec<FlowSpec> = scenario
        .traffic
        .flows(scenario.fabric.servers(), network.external.is_some())
        .into_iter()
        .filter_map(|f| {
            Some(FlowSpec { src: network.endpoint(f.src)?, dst: network.endpoint(f.dst)?, rate_gbps: f.gbps })
        })
        .collect();
    // Collected in place, in the generated flows' larger allocation: kept for the whole run.
    flows.shrink_to_fit();
    flows
}

/// The neighbours' reaction times for the engine, from the scenario's settings; `timing` gives
/// the convergence time (a role's own is set per device by [`configure`]).
pub fn timers(settings: &SimSettings, timing: &TimingProfile) -> Timers {
    let fabric_detect_ms = if settings.bfd {
        settings.bfd_interval_ms * settings.bfd_multiplier
    } else {
        settings.bgp_hold_seconds * 1000
    };
    Timers {
        drain_convergence_ms: seconds_to_ms(settings.drain_convergence_seconds),
        link_down_ms: settings.link_down_detection_ms,
        fabric_detect_ms,
        access_detect_ms: if settings.lacp_fast { 3_000 } else { 90_000 },
        up_convergence_ms: u64::from(timing.phases(Role::Leaf).convergence_seconds) * 1000,
        core_isolation_ms: settings.core_isolation.then_some(settings.core_isolation_ms),
    }
}

/// A simulation of `scenario` over `network` carrying `flows`, configured as the fabric
/// behaves: what maintenance mode does (the description the Junos driver commits), each
/// device's convergence time (its role's, as the planner estimates), and the route reflectors
/// as the overlay's control plane.
pub fn configure(scenario: &Scenario, network: &Network, flows: Vec<FlowSpec>, seed: u64) -> Simulation {
    let settings = &scenario.simulation;
    let timers = timers(settings, &scenario.timing);
    let mut sim = Simulation::with_ecmp(network.topology.clone(), flows, timers, seed, settings.ecmp_hash);
    let effects = scenario.maintenance.effects();
    sim.set_drain(Drain { fabric: effects.fabric_avoids, access: effects.servers_cut });
    for (id, _) in scenario.fabric.iter() {
        let seconds = scenario.timing.device_phases(&scenario.fabric, id).convergence_seconds;
        sim.set_up_convergence(network::node(id), u64::from(seconds) * 1000);
    }
    let reflectors: Vec<_> = scenario
        .fabric
        .iter()
        .filter(|(_, d)| d.critical_roles.contains(&CriticalRole::RouteReflector))
        .map(|(id, _)| network::node(id))
        .collect();
    sim.set_control_plane(reflectors, settings.overlay_hold_seconds * 1000);
    sim
}

/// Whole milliseconds of a non-negative duration in seconds.
pub fn seconds_to_ms(seconds: f64) -> u64 {
    (seconds * 1000.0).round().max(0.0) as u64
}

/// How long after a batch's last device went down its failures are detected and traffic has
/// settled: the n+1 exposure is measured then.
fn settle_ms(settings: &SimSettings) -> u64 {
    let isolation = if settings.core_isolation { settings.core_isolation_ms } else { 0 };
    settings.link_down_detection_ms + isolation + 1
}

/// Per flow, the Gbit it lost to the upgrade: its loss less what it was losing before anything
/// was touched, over the run (baseline congestion), taken from congestion first.
fn upgrade_losses(outcome: &Outcome) -> Vec<(f64, f64)> {
    let seconds = outcome.end.secs_f64();
    outcome
        .losses
        .iter()
        .zip(&outcome.baseline_loss_gbps)
        .map(|(loss, baseline)| {
            let baseline = baseline * seconds;
            let congestion = (loss.congestion_gbit - baseline).max(0.0);
            let rest = (baseline - loss.congestion_gbit).max(0.0);
            ((loss.blackhole_gbit - rest).max(0.0), congestion)
        })
        .collect()
}

/// The report line of flow `i` of a run, with `(blackhole, congestion)` Gbit lost.
pub fn flow_loss_report(outcome: &Outcome, i: usize, lost: (f64, f64)) -> FlowLossReport {
    let topology = &outcome.topology;
    let (flow, loss) = (&outcome.flows[i], &outcome.losses[i]);
    FlowLossReport {
        src: topology.endpoint(flow.src).name.clone(),
        dst: topology.endpoint(flow.dst).name.clone(),
        lost_bytes: (lost.0 + lost.1) * BYTES_PER_GBIT,
        blackhole_bytes: lost.0 * BYTES_PER_GBIT,
        congestion_bytes: lost.1 * BYTES_PER_GBIT,
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
    let faults = if options.faults { scenario.faults.as_slice() } else { &[] };
    let pause_after = scenario.pause.batches(plan.batches.len() as u32);
    let rules = schedule::Rules {
        timing: &scenario.timing,
        drain: scenario.drain,
        limits: &scenario.health_limits,
        abort_on_health_check_failure: scenario.abort_on_health_check_failure,
        rollback_on_failure: scenario.on_failure == crate::scenario::settings::OnFailure::Rollback,
        staged: &plan.staged,
        jitter: settings.jitter,
        faults,
        pause_after: &pause_after,
        window: scenario.window.as_ref().zip(options.start_unix),
    };
    let schedule = schedule::build(&scenario.fabric, &plan.batches, &rules, seed);
    let mut sim = configure(scenario, network, flows.to_vec(), seed);
    for out in &plan.out_of_service {
        sim.start_out_of_service(network::node(out.device), out.down);
    }
    for (at, action) in &schedule.actions {
        sim.schedule(*at, *action);
    }
    let settle = settle_ms(settings);
    for (index, window) in schedule.windows.iter().enumerate() {
        sim.schedule(window.all_down.after_millis(settle), Action::Probe(index as u32));
    }
    let outcome = sim.run();
    report(scenario, plan, options, &outcome, &schedule, seed)
}

fn report(
    scenario: &Scenario,
    plan: &PlanInput,
    options: &SimOptions,
    outcome: &Outcome,
    schedule: &schedule::Schedule,
    seed: u64,
) -> SimReport {
    let topology = &outcome.topology;
    let losses = upgrade_losses(outcome);
    let total = |l: &(f64, f64)| l.0 + l.1;
    let lost_bytes: f64 = losses.iter().map(total).sum::<f64>() * BYTES_PER_GBIT;
    let baseline_lost_bytes: f64 =
        outcome.baseline_loss_gbps.iter().sum::<f64>() * outcome.end.secs_f64() * BYTES_PER_GBIT;
    let mut lossy: Vec<usize> = (0..losses.len()).filter(|i| total(&losses[*i]) > 0.0).collect();
    lossy.sort_by(|a, b| total(&losses[*b]).total_cmp(&total(&losses[*a])).then(a.cmp(b)));
    let flows_with_loss =
        lossy.iter().take(options.worst_flows).map(|&i| flow_loss_report(outcome, i, losses[i])).collect();
    let batches: Vec<BatchSimReport> = schedule
        .windows
        .iter()
        .enumerate()
        .map(|(i, window)| {
            let devices = &plan.batches[i];
            let probe = outcome.probes.iter().find(|p| p.tag == i as u32).expect("one probe per batch");
            BatchSimReport {
                index: i + 1,
                role: devices.first().map_or(Role::Leaf, |d| scenario.fabric.device(*d).role),
                devices: devices.iter().map(|d| scenario.fabric.device(*d).name.clone()).collect(),
                start_seconds: window.start.secs_f64(),
                end_seconds: window.end.secs_f64(),
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
    let mut warnings = plan.warnings.clone();
    warnings.extend(baseline_warning(outcome, baseline_lost_bytes));
    warnings.extend(halt_warning(scenario, plan, schedule));
    if let (Some(batch), Some(window)) = (schedule.never_fits, &scenario.window) {
        warnings.push(format!(
            "batch {batch} can never start inside the maintenance window ({}): the job would pause before it for good",
            window.describe()
        ));
    }
    SimReport {
        scenario: scenario.name.clone(),
        seed,
        runs: 1,
        hitless: lost_bytes < 1.0,
        lost_bytes,
        baseline_lost_bytes,
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
        window: scenario.window.as_ref().map(crate::window::Window::describe),
        windows_needed: scenario.window.as_ref().and_then(|w| {
            let durations: Vec<u64> =
                batches.iter().map(|b| (b.end_seconds - b.start_seconds).max(0.0).ceil() as u64).collect();
            w.windows_needed(&durations)
        }),
        batches,
        devices: schedule
            .devices
            .iter()
            .map(|(device, batch, steps)| report::DeviceScheduleReport {
                device: scenario.fabric.device(*device).name.clone(),
                batch: *batch,
                phases: steps.iter().map(phase_report).collect(),
            })
            .collect(),
        job_phases: schedule.job.iter().map(phase_report).collect(),
        warnings,
        events: outcome.events,
        evaluations: outcome.evaluations,
        halted_after_batch: (!schedule.failures.is_empty()).then_some(schedule.windows.len()),
        out_of_service: plan
            .out_of_service
            .iter()
            .map(|o| report::OutOfServiceReport {
                device: scenario.fabric.device(o.device).name.clone(),
                down: o.down,
                why: o.why.clone(),
            })
            .collect(),
    }
}

/// How many of the flows and links losing traffic before anything is touched the warning names.
const BASELINE_NAMED: usize = 3;

fn baseline_warning(outcome: &Outcome, baseline_lost_bytes: f64) -> Option<String> {
    let topology = &outcome.topology;
    let mut losing: Vec<(usize, f64)> =
        outcome.baseline_loss_gbps.iter().copied().enumerate().filter(|(_, g)| *g > 0.0).collect();
    if losing.is_empty() {
        return None;
    }
    losing.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let named: Vec<String> = losing
        .iter()
        .take(BASELINE_NAMED)
        .map(|(i, gbps)| {
            let flow = &outcome.flows[*i];
            format!("{} -> {} ({gbps:.1} Gbps)", topology.endpoint(flow.src).name, topology.endpoint(flow.dst).name)
        })
        .collect();
    let more =
        |shown: usize, all: usize| if all > shown { format!(" and {} more", all - shown) } else { String::new() };
    let mut links: Vec<(hitless_sim::LinkId, f64)> = outcome.baseline_overloaded.clone();
    links.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.0.cmp(&b.0.0)));
    let link_names: Vec<String> = links
        .iter()
        .take(BASELINE_NAMED)
        .map(|(link, utilisation)| format!("{} at {:.0} %", link_name(topology, *link), utilisation * 100.0))
        .collect();
    let over = if link_names.is_empty() {
        String::new()
    } else {
        format!(", over capacity on {}{}", link_names.join(", "), more(link_names.len(), links.len()))
    };
    Some(format!(
        "the traffic is congested before anything is touched: {} flows lose {:.1} Gbps with every device up ({:.3e} bytes over the run): {}{}{over}; this baseline congestion is reported apart and not counted against the plan",
        losing.len(),
        outcome.baseline_loss_gbps.iter().sum::<f64>(),
        baseline_lost_bytes,
        named.join(", "),
        more(named.len(), losing.len())
    ))
}

fn phase_report(span: &schedule::StepSpan) -> report::PhaseReport {
    report::PhaseReport {
        step: span.step.as_str().to_string(),
        start_seconds: span.start.secs_f64(),
        end_seconds: span.end.secs_f64(),
    }
}

fn halt_warning(scenario: &Scenario, plan: &PlanInput, schedule: &schedule::Schedule) -> Option<String> {
    let batch = schedule.windows.len();
    (!schedule.failures.is_empty()).then(|| {
        let failed: Vec<String> = schedule
            .failures
            .iter()
            .map(|f| format!("{} ({} at {})", scenario.fabric.device(f.device).name, kebab(&f.kind), kebab(&f.at)))
            .collect();
        format!(
            "the scenario's faults fail {} in batch {batch}: the job halts there, and {} later batches do not run",
            failed.join(", "),
            plan.batches.len() - batch
        )
    })
}

/// A fault kind or phase as the scenario spells it (`never-returns`, `post-check`).
fn kebab<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
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
