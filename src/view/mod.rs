//! `hitless report`: one self-contained HTML page for a plan, its simulation and (for a job) what
//! really happened. [`PageData`] is everything the page shows, built from the same report
//! structures as `--format json` (the plan, the simulation, the job's journal); `render` lays it
//! out as inline SVG and tables with a template (minijinja) and draws the charts (plotters).

mod render;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::journal::{DeviceState, Event, Job, JobDevice, Step};
use crate::model::Role;
use crate::plan::report::PlanReport;
use crate::scenario::Scenario;
use crate::simulate::report::SimReport;

pub use render::html;

/// Above this many devices the fabric is drawn grouped by pod and role, not device by device.
pub const DRAW_EACH_MAX: usize = 160;

/// Everything the page shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PageData {
    /// The page's title.
    pub title: String,
    /// Scenario name.
    pub scenario: String,
    /// Counts and verdicts at a glance.
    pub summary: Summary,
    /// The fabric by tiers.
    pub fabric: FabricView,
    /// The plan's batches with their simulated windows and exposure.
    pub batches: Vec<BatchView>,
    /// Devices not upgraded, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Each device's method and why (`upgrade.method`); empty with the default `reload`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<crate::plan::report::MethodReport>,
    /// The plan's and the simulation's warnings.
    pub warnings: Vec<String>,
    /// Every device's phases over time.
    pub timeline: Timeline,
    /// The worst flows of the simulation.
    pub worst_flows: Vec<FlowView>,
    /// The busiest link, as a sentence.
    pub peak: Option<String>,
    /// For a job: what really happened.
    pub job: Option<JobView>,
}

/// The page's headline figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Devices upgraded.
    pub devices: usize,
    /// Batches.
    pub batches: usize,
    /// No plan has fewer batches.
    pub lower_bound_batches: usize,
    /// Rules the plan breaks (a plan not made by the planner); absent when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub rules_broken: usize,
    /// Sum of the batch estimates.
    pub estimated_seconds: u64,
    /// Simulated duration.
    pub simulated_seconds: f64,
    /// The simulation's verdict.
    pub hitless: bool,
    /// Bytes lost in the simulation.
    pub lost_bytes: f64,
    /// Flows simulated.
    pub flows: usize,
    /// Flows that lost anything.
    pub flows_with_loss: usize,
    /// The batch after which the scenario's faults halt the job, if they do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halted_after_batch: Option<usize>,
}

/// A drawable box: a device, or a group of devices of one role and batch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Node {
    /// Its label (a device name, or `12 leafs`).
    pub label: String,
    /// Device names in it.
    pub devices: Vec<String>,
    /// Batch (0: not upgraded).
    pub batch: usize,
    /// Critical roles, if any.
    pub critical: Vec<String>,
    /// For a group: the share of its devices in each batch, (batch, fraction), drawn as
    /// stripes in the batches' colours.
    pub stripes: Vec<(usize, f64)>,
    /// Position and size, in SVG units.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// A line between two points.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Line {
    /// From.
    pub x1: f64,
    /// From.
    pub y1: f64,
    /// To.
    pub x2: f64,
    /// To.
    pub y2: f64,
    /// A multihomed server's link.
    pub multihomed: bool,
}

/// The fabric by tiers: super-spines, spines, leafs, servers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FabricView {
    /// True when devices are grouped (a large fabric).
    pub grouped: bool,
    /// Each tier's name and boxes.
    pub tiers: Vec<(String, Vec<Node>)>,
    /// Links (device to device, server to leaf) when drawn device by device.
    pub links: Vec<Line>,
    /// Width and height of the drawing.
    pub width: f64,
    /// Height.
    pub height: f64,
    /// Servers, and how many are multihomed.
    pub servers: usize,
    /// Multihomed servers.
    pub multihomed: usize,
}

/// One batch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BatchView {
    /// 1-based.
    pub index: usize,
    /// Role.
    pub role: String,
    /// Device names.
    pub devices: Vec<String>,
    /// The canary batch.
    pub canary: bool,
    /// The planner's estimate.
    pub estimated_seconds: u64,
    /// Simulated start and end.
    pub start_seconds: f64,
    /// End.
    pub end_seconds: f64,
    /// Flows losing traffic while it is down.
    pub losing_flows: usize,
    /// n+1: `device: flows`.
    pub exposure: Vec<String>,
    /// Flows one more failure would cut, summed.
    pub exposed_flows: usize,
}

/// A span of one phase.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Segment {
    /// `check`, `drain`, `image`, `reboot`, `converge`, `undrain`.
    pub phase: String,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

/// One device's row on the timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// Device.
    pub device: String,
    /// Batch.
    pub batch: usize,
    /// The estimate (the simulated batch window, split by the role's phases).
    pub estimated: Vec<Segment>,
    /// What the journal says happened (a job only).
    pub actual: Vec<Segment>,
    /// Its final state (a job only).
    pub state: Option<String>,
    /// True when it failed.
    pub failed: bool,
}

/// The timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timeline {
    /// Its length, seconds.
    pub seconds: f64,
    /// Rows, by batch then device.
    pub rows: Vec<Row>,
    /// When the job paused (a job only).
    pub pauses: Vec<f64>,
}

/// A lossy flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowView {
    /// `src -> dst`.
    pub flow: String,
    /// Bytes lost.
    pub lost_bytes: f64,
    /// Cause, as a sentence.
    pub cause: String,
    /// When the loss began.
    pub at_seconds: Option<f64>,
}

/// A job's own story.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobView {
    /// Id.
    pub id: String,
    /// State.
    pub state: String,
    /// Why it paused, if it did.
    pub reason: String,
    /// True for virtual devices.
    pub simulated: bool,
    /// Every device: batch, state, last message.
    pub devices: Vec<(String, u32, String, String)>,
    /// The journal's key events: the job's own notes, failures, devices done.
    pub events: Vec<(f64, String, String, String)>,
    /// What the traffic lost during the execution, replayed.
    pub lost_bytes: f64,
    /// Flows that lost anything in the replay.
    pub flows_with_loss: usize,
}

fn phases_of(scenario: &Scenario, device: Option<crate::model::DeviceId>, role: Role, start: f64) -> Vec<Segment> {
    let p = device.map_or(*scenario.timing.phases(role), |id| scenario.timing.device_phases(&scenario.fabric, id));
    let parts = [
        ("drain", p.drain_seconds),
        ("image", p.image_copy_seconds + p.install_seconds),
        ("reboot", p.reboot_seconds),
        ("converge", p.convergence_seconds + p.post_check_seconds),
        ("undrain", p.undrain_seconds),
    ];
    let mut t = start;
    parts
        .iter()
        .filter(|(_, s)| *s > 0)
        .map(|(phase, seconds)| {
            let segment = Segment { phase: phase.to_string(), start: t, end: t + f64::from(*seconds) };
            t += f64::from(*seconds);
            segment
        })
        .collect()
}

/// What a device's journal events say happened, as phases.
fn actual_of(events: &[&Event]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut open: Option<(&str, f64)> = None;
    for event in events {
        let next = match event.step {
            Step::PreCheck => Some("check"),
            Step::Drain => Some("drain"),
            Step::Copy | Step::Install | Step::Rollback => Some("image"),
            Step::Reboot => Some("reboot"),
            Step::Booted => Some("converge"),
            Step::Undrain => Some("undrain"),
            Step::InService | Step::Failed => None,
            _ => continue,
        };
        if let Some((phase, start)) = open {
            if Some(phase) == next {
                continue;
            }
            out.push(Segment { phase: phase.to_string(), start, end: event.at_seconds });
        }
        open = next.map(|p| (p, event.at_seconds));
    }
    out
}

/// The page for a plan and its simulation.
pub fn for_plan(scenario: &Scenario, plan: &PlanReport, sim: &SimReport) -> PageData {
    let batch_of: BTreeMap<&str, usize> =
        plan.batches.iter().flat_map(|b| b.devices.iter().map(move |d| (d.as_str(), b.index))).collect();
    let batches: Vec<BatchView> = sim
        .batches
        .iter()
        .map(|b| {
            let planned = plan.batches.iter().find(|p| p.index == b.index);
            BatchView {
                index: b.index,
                role: b.role.as_str().to_string(),
                devices: b.devices.clone(),
                canary: planned.is_some_and(|p| p.canary),
                estimated_seconds: planned.map_or(0, |p| p.estimated_seconds),
                start_seconds: b.start_seconds,
                end_seconds: b.end_seconds,
                losing_flows: b.flows_losing_when_down,
                exposure: b.exposure.iter().map(|e| format!("{}: {} flows", e.device, e.flows)).collect(),
                exposed_flows: b.exposure.iter().map(|e| e.flows).sum(),
            }
        })
        .collect();
    let mut rows = Vec::new();
    for batch in &batches {
        for device in &batch.devices {
            let id = scenario.fabric.lookup(device);
            let role = id.map_or(Role::Leaf, |id| scenario.fabric.device(id).role);
            rows.push(Row {
                device: device.clone(),
                batch: batch.index,
                estimated: phases_of(scenario, id, role, batch.start_seconds),
                actual: Vec::new(),
                state: None,
                failed: false,
            });
        }
    }
    let mut warnings = plan.warnings.clone();
    for w in &sim.warnings {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    let worst_flows = sim
        .flows_with_loss
        .iter()
        .map(|f| FlowView {
            flow: format!("{} -> {}", f.src, f.dst),
            lost_bytes: f.lost_bytes,
            cause: f.cause.as_ref().map_or("unknown".into(), |c| match &c.link {
                Some(link) => format!("congestion on {link} ({})", c.device),
                None => format!("{} blackholes", c.device),
            }),
            at_seconds: f.cause.as_ref().map(|c| c.at_seconds),
        })
        .collect();
    PageData {
        title: format!("hitless: {}", scenario.name),
        scenario: scenario.name.clone(),
        summary: Summary {
            devices: plan.batches.iter().map(|b| b.devices.len()).sum(),
            batches: plan.batches.len(),
            lower_bound_batches: plan.lower_bound_batches,
            rules_broken: plan.rules_broken,
            estimated_seconds: plan.estimated_total_seconds,
            simulated_seconds: sim.simulated_seconds,
            hitless: sim.hitless,
            lost_bytes: sim.lost_bytes,
            flows: sim.flow_count,
            flows_with_loss: sim.flows_with_loss_count,
            halted_after_batch: sim.halted_after_batch,
        },
        fabric: render::fabric(scenario, &batch_of),
        batches,
        skipped: plan.skipped.iter().map(|s| (s.device.clone(), s.reason.clone())).collect(),
        methods: plan.methods.clone(),
        warnings,
        timeline: Timeline { seconds: sim.simulated_seconds.max(1.0), rows, pauses: Vec::new() },
        worst_flows,
        peak: sim
            .peak_link_utilisation
            .as_ref()
            .map(|p| format!("{:.0} % on {} at {:.0} s", p.utilisation * 100.0, p.link, p.at_seconds)),
        job: None,
    }
}

/// The page for an executed job: its plan and simulation as [`for_plan`], with what the journal
/// says happened laid over the estimate.
pub fn for_job(
    scenario: &Scenario,
    plan: &PlanReport,
    sim: &SimReport,
    job: &Job,
    devices: &[JobDevice],
    events: &[Event],
    loss: &crate::simulate::replay::ExecutionLoss,
) -> PageData {
    let mut page = for_plan(scenario, plan, sim);
    page.title = format!("hitless: {} ({})", job.id, scenario.name);
    let mut by_device: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in events {
        by_device.entry(event.device.as_str()).or_default().push(event);
    }
    let last = events.last().map_or(0.0, |e| e.at_seconds);
    for row in &mut page.timeline.rows {
        let mine = by_device.get(row.device.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        row.actual = actual_of(mine);
        if let Some(device) = devices.iter().find(|d| d.device == row.device) {
            row.state = Some(device.state.label().to_string());
            row.failed = device.state.is_failure();
        }
    }
    page.timeline.seconds = page.timeline.seconds.max(last);
    page.timeline.pauses =
        events.iter().filter(|e| e.device.is_empty() && e.step == Step::Pause).map(|e| e.at_seconds).collect();
    let key = |e: &&Event| {
        e.device.is_empty() || e.step == Step::Failed || e.state.is_final() && e.state != DeviceState::Pending
    };
    page.job = Some(JobView {
        id: job.id.clone(),
        state: job.state.as_str().to_string(),
        reason: job.reason.clone(),
        simulated: job.driver == crate::journal::DriverKind::Virtual,
        devices: devices
            .iter()
            .map(|d| (d.device.clone(), d.batch, d.state.label().to_string(), d.message.clone()))
            .collect(),
        events: events
            .iter()
            .filter(key)
            .map(|e| {
                let (who, state) = if e.device.is_empty() {
                    ("(job)".to_string(), String::new())
                } else {
                    (e.device.clone(), e.state.label().to_string())
                };
                (e.at_seconds, who, state, e.message.clone())
            })
            .collect(),
        lost_bytes: loss.lost_bytes,
        flows_with_loss: loss.flows_with_loss_count,
    });
    page
}

/// The plan report for `plan` as made from `scenario` (the planner's, the scenario's own
/// batches, or a job's): batches with their roles and estimates, skipped devices, warnings.
pub fn plan_report(scenario: &Scenario, plan: &crate::simulate::PlanInput) -> PlanReport {
    let planner = crate::plan::plan(scenario, &crate::plan::PlanOptions::default());
    let batches: Vec<crate::plan::report::BatchReport> = plan
        .batches
        .iter()
        .enumerate()
        .map(|(i, devices)| {
            let role = devices.first().map_or(Role::Leaf, |d| scenario.fabric.device(*d).role);
            let estimated_seconds =
                devices.iter().map(|d| scenario.timing.device_seconds_of(&scenario.fabric, *d)).max().unwrap_or(0);
            crate::plan::report::BatchReport {
                index: i + 1,
                role,
                devices: devices.iter().map(|d| scenario.fabric.device(*d).name.clone()).collect(),
                estimated_seconds,
                canary: scenario.canary > 0 && i == 0,
            }
        })
        .collect();
    PlanReport {
        scenario: scenario.name.clone(),
        max_batch_size: scenario.max_batch_size,
        estimated_total_seconds: batches.iter().map(|b| b.estimated_seconds).sum(),
        batches,
        skipped: scenario
            .selection
            .skipped
            .iter()
            .map(|(d, reason)| crate::select::Skipped {
                device: scenario.fabric.device(*d).name.clone(),
                reason: reason.clone(),
            })
            .collect(),
        lower_bound_batches: planner.lower_bound_batches,
        rules_broken: plan.rules_broken,
        warnings: plan.warnings.clone(),
        window: scenario.window.as_ref().map(crate::window::Window::describe),
        windows_needed: None,
        methods: crate::plan::report::methods(scenario, plan.batches.iter().flat_map(|b| b.iter().copied())),
    }
}

/// Simulation settings for a report: one run, the worst 50 flows, the five most exposed
/// devices per batch.
pub fn sim_options(seed: u64) -> crate::simulate::SimOptions {
    crate::simulate::SimOptions {
        runs: 1,
        seed,
        worst_flows: 50,
        exposure_per_batch: 5,
        faults: true,
        start_unix: None,
    }
}

/// The page for an executed job, from the store: its scenario and plan as it started, its
/// devices and journal, and the execution replayed through the traffic model.
pub fn job_page(
    store: &crate::store::Store,
    job: &str,
    catalog: &dyn crate::scenario::ImageCatalog,
) -> Result<PageData, ViewError> {
    let record = crate::store::jobs::get(store, job)?;
    let scenario = Scenario::from_yaml_with(&record.scenario_yaml, std::path::Path::new(&record.scenario), catalog)?;
    let names: Vec<Vec<String>> = serde_json::from_str(&record.plan).map_err(|e| ViewError::Plan(e.to_string()))?;
    let batches = names.iter().map(|batch| batch.iter().filter_map(|n| scenario.fabric.lookup(n)).collect()).collect();
    let plan = crate::simulate::PlanInput {
        batches,
        warnings: Vec::new(),
        out_of_service: Vec::new(),
        rules_broken: 0,
        staged: Vec::new(),
    };
    let report = plan_report(&scenario, &plan);
    let sim = crate::simulate::simulate(&scenario, &plan, &sim_options(scenario.simulation.seed));
    let devices = crate::store::jobs::devices(store, job)?;
    let events = crate::store::jobs::events(store, job, None)?;
    let loss = crate::simulate::replay::replay(&scenario, &events);
    Ok(for_job(&scenario, &report, &sim, &record, &devices, &events, &loss))
}

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The job's scenario no longer loads.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// The job's recorded plan is damaged.
    #[error("the job's recorded plan cannot be read: {0}")]
    Plan(String),
    /// The template failed (a bug).
    #[error("the report page could not be rendered: {0}")]
    Render(#[from] minijinja::Error),
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
