//! The upgrade workflow the operator runs, from selection to summary, as a library: the CLI
//! parses, asks, renders and maps to exit codes; everything it decides is here, so tests drive
//! the same code.
//!
//! Front ends hold a [`service::Service`] (the state directory) and call
//! [`upgrade::upgrade`], which runs the steps in order (the seed product's):
//! 1. selection (the scenario's, narrowed by `Scenario::reselect`);
//! 2. the test run ([`test_run`]): version and health of every selected device, nothing changed;
//! 3. the strategy plan and the simulation gate ([`gate`]);
//! 4. confirmation (asked of the front end, [`upgrade::Frontend::confirm`]);
//! 5. the job ([`jobs::start`]) and its execution ([`run`]), batch by batch through the executor;
//! 6. the summary ([`JobSummary`]) with the execution's own traffic loss, replayed through the
//!    traffic model.
//!
//! Re-entry is [`upgrade::reenter`] then [`upgrade::execute`] (after an exit, a crash or a halt),
//! stopping is [`jobs::cancel`].
//! [`drivers::make`] builds the driver the operator chose; [`stage::stage`] copies images ahead
//! of the window.

pub mod discover;
pub mod drivers;
pub mod fabric;
pub mod jobs;
pub mod report;
mod run;
pub mod service;
pub mod snapshot;
pub mod stage;
pub mod tailor;
mod test_run;
pub mod upgrade;
pub mod users;

use std::path::PathBuf;

pub use run::{JobSummary, RunSettings, WindowChoice, run};
pub use test_run::{Action, EngineRow, TestRunRow, blocking, test_run};

use crate::plan::PlanOptions;
use crate::scenario::Scenario;
use crate::simulate::report::SimReport;
use crate::simulate::{PlanInput, SimOptions, input, simulate};

/// Why a step of the workflow could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// `upgrade.drain: false` is a what-if for the simulator; the executor always drains.
    #[error(
        "scenario {scenario} sets upgrade.drain: false, a what-if for `hitless simulate` (what the upgrade would lose without maintenance mode); the executor always uses maintenance mode, so it does not run a plan simulated without it: remove `drain: false` to upgrade"
    )]
    DrainOff {
        /// The scenario.
        scenario: String,
    },
    /// A command that reads what was recorded found no store.
    #[error("no state store in {}: nothing was ever recorded there (give the --state-dir the job ran with)", dir.display())]
    NoStore {
        /// The state directory.
        dir: PathBuf,
    },
    /// An image's fields do not hold together.
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    /// The job journal failed.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// `upgrade.approval: other-user`, and the one approving started the job.
    #[error(
        "{job} was started by {user}, and its scenario sets upgrade.approval: other-user: someone else must approve it (nothing was changed; the job stays paused)"
    )]
    SameApprover {
        /// The job.
        job: String,
        /// Who started it and tried to approve it.
        user: String,
    },
    /// A user could not be added, or a password or token not checked.
    #[error(transparent)]
    User(#[from] users::UserError),
    /// A request's assignments or parameters could not be applied to its scenario.
    #[error(transparent)]
    Tailor(#[from] tailor::TailorError),
    /// A job's recorded scenario no longer loads.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// The virtual devices' state file cannot be used.
    #[error("cannot open the virtual devices in {}: {source}", path.display())]
    VirtualDevices {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A real upgrade was asked for with an image that has no stored file and checksums.
    #[error(
        "image {image} is inline (metadata only); a real upgrade uses catalog images with checksums: `hitless image add` it and name it by name alone in the scenario"
    )]
    InlineImage {
        /// The image.
        image: String,
    },
    /// No `--driver` for a scenario whose devices have management addresses.
    #[error(
        "the scenario gives devices management addresses ({devices}, ...): say which driver to use: --driver junos to work on them, or --driver virtual to rehearse on simulated devices"
    )]
    DriverNeeded {
        /// A few of the addressed devices.
        devices: String,
    },
    /// The Junos driver was chosen for a scenario with Arista EOS devices.
    #[error(
        "the scenario has Arista EOS devices ({devices}, ...), which the junos driver cannot reach (it speaks NETCONF only): use --driver native, which reaches each device through its own vendor's protocol (EOS over eAPI)"
    )]
    VendorNotReachable {
        /// A few of them.
        devices: String,
    },
    /// `--driver native` for a scenario with Arista EOS devices, without an eAPI password.
    #[error(
        "the scenario has Arista EOS devices ({devices}, ...), and eAPI logs in with a password only: set HITLESS_EAPI_PASSWORD (or give the SSH login a password, which eAPI then uses too)"
    )]
    EapiPasswordNeeded {
        /// A few of them.
        devices: String,
    },
    /// `resume` of a job that has finished.
    #[error("job {job} has finished; nothing to resume")]
    Finished {
        /// The job.
        job: String,
    },
    /// `resume` of a cancelled job.
    #[error("job {job} was cancelled; start a new one with `hitless upgrade`")]
    Cancelled {
        /// The job.
        job: String,
    },
    /// `resume` of a job paused for approval.
    #[error("job {job} is paused {reason}: `hitless approve {job}` runs the rest, `hitless cancel {job}` stops it")]
    AwaitsApproval {
        /// The job.
        job: String,
        /// Why it paused.
        reason: String,
    },
    /// `approve` of a job that is not paused.
    #[error(
        "job {job} is {state}, not paused: there is nothing to approve (`hitless resume {job}` re-enters a halted or interrupted job)"
    )]
    NotPaused {
        /// The job.
        job: String,
        /// Its state.
        state: &'static str,
    },
    /// `cancel` of a job that has ended.
    #[error("job {job} is already {state}")]
    AlreadyEnded {
        /// The job.
        job: String,
        /// Its state.
        state: &'static str,
    },
    /// A job names an image its scenario does not have (a damaged or hand-edited store).
    #[error("job {job} names image {image} that its scenario does not have")]
    UnknownImage {
        /// The job.
        job: String,
        /// The image.
        image: String,
    },
}

/// What kind of answer an error is, for a front end that answers in kinds (an HTTP status):
/// decided here, on the typed error, so no front end reads the store's errors or the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// What was named does not exist (a job, an image, a user).
    NotFound,
    /// It exists, but its state does not allow this now (a busy fabric, a finished job, a name
    /// taken, a job another process holds).
    Conflict,
    /// What was given does not hold together (a scenario, an image's fields, a parameter).
    Invalid,
    /// This person may not do this (the four-eyes rule).
    Forbidden,
    /// hitless or its state failed: not the request's fault.
    Internal,
}

impl WorkflowError {
    /// What kind of answer this error is.
    pub fn kind(&self) -> ErrorKind {
        use crate::store::StoreError as S;
        match self {
            WorkflowError::Store(store) => match store {
                S::ImageNotFound(_) | S::UserNotFound(_) | S::JobNotFound(_) | S::SnapshotNotFound(_) => {
                    ErrorKind::NotFound
                }
                S::ImageExists(_)
                | S::UserExists(_)
                | S::FabricBusy { .. }
                | S::DeviceBusy { .. }
                | S::Fenced { .. }
                | S::JobHeldHere { .. }
                | S::JobOwned { .. } => ErrorKind::Conflict,
                S::InvalidImage(_) | S::NotAFile { .. } => ErrorKind::Invalid,
                _ => ErrorKind::Internal,
            },
            WorkflowError::SameApprover { .. } => ErrorKind::Forbidden,
            WorkflowError::Finished { .. }
            | WorkflowError::Cancelled { .. }
            | WorkflowError::AwaitsApproval { .. }
            | WorkflowError::NotPaused { .. }
            | WorkflowError::AlreadyEnded { .. } => ErrorKind::Conflict,
            WorkflowError::Image(_)
            | WorkflowError::Scenario(_)
            | WorkflowError::Tailor(_)
            | WorkflowError::User(users::UserError::BadName(_) | users::UserError::WeakPassword(_))
            | WorkflowError::DrainOff { .. }
            | WorkflowError::DriverNeeded { .. }
            | WorkflowError::VendorNotReachable { .. }
            | WorkflowError::EapiPasswordNeeded { .. }
            | WorkflowError::InlineImage { .. }
            | WorkflowError::UnknownImage { .. } => ErrorKind::Invalid,
            WorkflowError::User(_)
            | WorkflowError::NoStore { .. }
            | WorkflowError::Journal(_)
            | WorkflowError::VirtualDevices { .. } => ErrorKind::Internal,
        }
    }
}

/// What the simulation gate decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Gate {
    /// The plan simulates hitless.
    Pass(SimReport),
    /// The plan loses traffic and the operator did not accept loss: nothing may start.
    Refuse(SimReport),
    /// The plan loses traffic and the operator accepted it (`--allow-loss`).
    Accept(SimReport),
}

impl Gate {
    /// The simulation the decision rests on.
    pub fn report(&self) -> &SimReport {
        match self {
            Gate::Pass(report) | Gate::Refuse(report) | Gate::Accept(report) => report,
        }
    }
}

/// The strategy plan: the planner's batches, or the scenario's hand-written ones (judged).
pub fn plan(scenario: &Scenario) -> PlanInput {
    input::for_scenario(scenario, &PlanOptions::default())
}

/// The simulation gate: simulates `plan` with the scenario's seed and decides whether the upgrade
/// may start. `allow_loss` is the operator's `--allow-loss`.
pub fn gate(scenario: &Scenario, plan: &PlanInput, allow_loss: bool) -> Gate {
    let options = SimOptions {
        runs: 1,
        seed: scenario.simulation.seed,
        worst_flows: 3,
        exposure_per_batch: 0,
        faults: false,
        start_unix: None,
    };
    let report = simulate(scenario, plan, &options);
    match (report.hitless, allow_loss) {
        (true, _) => Gate::Pass(report),
        (false, false) => Gate::Refuse(report),
        (false, true) => Gate::Accept(report),
    }
}

/// The images hitless installed on devices of `scenario`'s fabric and has not rebooted into
/// (by device): what a pending install the device reports really is.
pub fn pending_installs(
    store: &crate::store::Store,
    scenario: &Scenario,
) -> Result<std::collections::BTreeMap<String, String>, WorkflowError> {
    Ok(crate::store::jobs::pending_installs(store, &scenario.fabric.fingerprint())?)
}

/// Real time between the two readings of a health check, for a job whose clock runs
/// `time_scale` times faster than real time.
pub fn health_sample(scenario: &Scenario, time_scale: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(f64::from(scenario.health_limits.sample_seconds) / time_scale)
}

/// How long a device may take to come back from its reboot: three times its expected reboot, at
/// least 15 minutes.
pub fn boot_deadline_seconds(scenario: &Scenario) -> u64 {
    scenario.timing.boot_deadline_seconds()
}
