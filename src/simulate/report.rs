//! The simulation report: the `--format json` shape of `hitless simulate`. Fields may be added,
//! never renamed.

use serde::{Deserialize, Serialize};

use crate::model::Role;

/// Bytes in a gigabit.
pub const BYTES_PER_GBIT: f64 = 1e9 / 8.0;

/// `hitless simulate --format json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimReport {
    /// Scenario name.
    pub scenario: String,
    /// Seed of the reported (worst) run.
    pub seed: u64,
    /// Runs made; the report is the worst.
    pub runs: u32,
    /// True when no flow lost a byte.
    pub hitless: bool,
    /// Bytes the upgrade lost over all flows (baseline congestion not counted).
    pub lost_bytes: f64,
    /// Bytes the traffic would lose over the run with every device up (baseline congestion),
    /// reported apart from the upgrade's loss.
    #[serde(default)]
    pub baseline_lost_bytes: f64,
    /// Virtual time from the first drain to the last reaction.
    pub simulated_seconds: f64,
    /// Whether devices entered maintenance mode.
    pub drain: bool,
    /// Flows simulated.
    pub flow_count: usize,
    /// Flows that lost anything.
    pub flows_with_loss_count: usize,
    /// The worst flows, most loss first.
    pub flows_with_loss: Vec<FlowLossReport>,
    /// The busiest link.
    pub peak_link_utilisation: Option<PeakReport>,
    /// Batches with their windows and their n+1 exposure.
    pub batches: Vec<BatchSimReport>,
    /// Every device that runs, with its batch and its steps as the executor journals them
    /// (`pre-check`, `drain`, `drained`, `copy`, `install`, `reboot`, `wait-boot`, `booted`,
    /// `post-check`, `undrain`, `in-service`; `failed`, `rollback` and the rollback's own
    /// `reboot` to `in-service` where a fault strikes) and when each starts and ends: the schedule a
    /// virtual run of the same plan keeps to the second.
    #[serde(default)]
    pub devices: Vec<DeviceScheduleReport>,
    /// The job's own steps (`pause` for approval or for the maintenance window, `window-wait`)
    /// and when each starts and ends, as the job's journal records them; absent when the job
    /// neither pauses nor waits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_phases: Vec<PhaseReport>,
    /// Plan warnings and rule violations.
    pub warnings: Vec<String>,
    /// Events the engine delivered.
    pub events: u64,
    /// Flow spreads the model computed (a measure of the simulation's work).
    #[serde(default)]
    pub evaluations: u64,
    /// The maintenance window (`upgrade.window`), as `02:00–05:30 Europe/Amsterdam`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// How many such windows the simulated batches need (each batch's simulated duration,
    /// placed in order); absent when a batch is longer than the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_needed: Option<usize>,
    /// Devices out of service when the run starts (down or in maintenance mode, and why), as
    /// the upgrade found the fabric: the run goes around them from the start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_of_service: Vec<OutOfServiceReport>,
    /// With the scenario's faults replayed: the batch after which they halt the job (later
    /// batches are not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halted_after_batch: Option<usize>,
}

/// A device out of service before the upgrade starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfServiceReport {
    /// Device name.
    pub device: String,
    /// True when it is down (not forwarding); false when it is drained (maintenance mode).
    pub down: bool,
    /// Why it is out, as found.
    pub why: String,
}

/// One lossy flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowLossReport {
    /// Source endpoint.
    pub src: String,
    /// Destination endpoint.
    pub dst: String,
    /// Bytes lost in all.
    pub lost_bytes: f64,
    /// Of which to blackholes.
    pub blackhole_bytes: f64,
    /// Of which to congestion.
    pub congestion_bytes: f64,
    /// The cause of most of the loss.
    pub cause: Option<CauseReport>,
}

/// What caused a loss, and when it began.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CauseReport {
    /// The device that blackholed traffic, or that sends on the congested link.
    pub device: String,
    /// When the loss began.
    pub at_seconds: f64,
    /// `blackhole` or `congestion`.
    pub kind: CauseKind,
    /// The congested link, `from->to`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub link: Option<String>,
}

/// How traffic was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CauseKind {
    /// Sent to a device that did not forward it, or that had no route.
    Blackhole,
    /// Offered above a link's capacity.
    Congestion,
}

/// The busiest link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeakReport {
    /// `from->to`.
    pub link: String,
    /// Offered load over capacity.
    pub utilisation: f64,
    /// When it was first reached.
    pub at_seconds: f64,
}

/// One device's schedule in the simulation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceScheduleReport {
    /// The device.
    pub device: String,
    /// Its batch (1-based).
    pub batch: usize,
    /// Its steps, in order.
    pub phases: Vec<PhaseReport>,
}

/// One step of a device's schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseReport {
    /// The journal's step name.
    pub step: String,
    /// When it starts, seconds from the job's start.
    pub start_seconds: f64,
    /// When it ends.
    pub end_seconds: f64,
}

/// One batch in the simulation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchSimReport {
    /// 1-based position.
    pub index: usize,
    /// Role of its devices (of the first, for foreign plans).
    pub role: Role,
    /// Device names.
    pub devices: Vec<String>,
    /// When the batch started.
    pub start_seconds: f64,
    /// When its slowest device finished.
    pub end_seconds: f64,
    /// Flows losing traffic while all its devices were down.
    pub flows_losing_when_down: usize,
    /// The devices whose failure, while this batch was down, would cut flows off entirely.
    pub exposure: Vec<ExposureReport>,
}

/// n+1: one more failure and these flows are gone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExposureReport {
    /// The device.
    pub device: String,
    /// Flows it alone carries.
    pub flows: usize,
}
