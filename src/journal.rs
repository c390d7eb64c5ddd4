//! The job journal's vocabulary: device and job states, the typed step each event records,
//! events, the job record, and the [`Journal`] port the executor writes through.
//!
//! Every state change is written before the action it announces, so a job can be re-entered
//! after the operator exits or the process dies. Device states are exactly the seed product's,
//! plus `Pending` (not started yet), `Cancelled` (not started because the job was cancelled), and
//! `Rolling Back` / `Rolled Back` (`upgrade.on_failure: rollback`).
//! Each event carries a [`Step`] beside its human message: what the device is doing, as data.
//! Whatever reads the journal to decide something (the traffic replay, reconciliation) reads the
//! step, never the message, so rewording a message changes no verdict.

use std::fmt;
use std::str::FromStr;

/// A stored name that is not one of a vocabulary's names: a damaged or newer store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}")]
pub struct UnknownName {
    /// Which vocabulary (`device state`, `job state`, `step`, `driver`).
    pub what: &'static str,
    /// The name found.
    pub name: String,
}

/// Where one device is in its upgrade. Serialised as its label ("Health Check", ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceState {
    /// Not started yet.
    Pending,
    /// Running health checks (before the upgrade, or after it when the message says so).
    HealthCheck,
    /// A health check failed; the message lists what.
    HealthCheckFailed,
    /// Turning maintenance mode on.
    ActivatingMaintenanceMode,
    /// Maintenance mode is on: traffic drained.
    MaintenanceModeActivated,
    /// Copying, checking, installing, rebooting, verifying (the message says which).
    ImageUpgrade,
    /// The device runs the new version.
    HitlessImageUpgradeSuccessful,
    /// The upgrade failed; the device stays in maintenance mode.
    HitlessImageUpgradeFailed,
    /// Turning maintenance mode off.
    DeactivatingMaintenanceMode,
    /// Done: upgraded and back in service.
    MaintenanceModeDeactivated,
    /// Maintenance mode could not be changed.
    MaintenanceModeFailure,
    /// Not upgraded, with the reason.
    Skipped,
    /// Not upgraded because the job was cancelled.
    Cancelled,
    /// Returning a device whose upgrade or post-upgrade check failed to the software it ran
    /// before (`upgrade.on_failure: rollback`); the message says which step.
    RollingBack,
    /// Rolled back to its old software, checked and back in service; the message says why. The
    /// job halts after the batch, as for a failure.
    RolledBack,
}

impl DeviceState {
    /// Every state, for parsing.
    pub const ALL: [DeviceState; 15] = [
        DeviceState::Pending,
        DeviceState::HealthCheck,
        DeviceState::HealthCheckFailed,
        DeviceState::ActivatingMaintenanceMode,
        DeviceState::MaintenanceModeActivated,
        DeviceState::ImageUpgrade,
        DeviceState::HitlessImageUpgradeSuccessful,
        DeviceState::HitlessImageUpgradeFailed,
        DeviceState::DeactivatingMaintenanceMode,
        DeviceState::MaintenanceModeDeactivated,
        DeviceState::MaintenanceModeFailure,
        DeviceState::Skipped,
        DeviceState::Cancelled,
        DeviceState::RollingBack,
        DeviceState::RolledBack,
    ];

    /// The name operators see.
    pub fn label(self) -> &'static str {
        match self {
            DeviceState::Pending => "Pending",
            DeviceState::HealthCheck => "Health Check",
            DeviceState::HealthCheckFailed => "Health Check Failed",
            DeviceState::ActivatingMaintenanceMode => "Activating Maintenance Mode",
            DeviceState::MaintenanceModeActivated => "Maintenance Mode Activated",
            DeviceState::ImageUpgrade => "Image Upgrade",
            DeviceState::HitlessImageUpgradeSuccessful => "Hitless Image Upgrade Successful",
            DeviceState::HitlessImageUpgradeFailed => "Hitless Image Upgrade Failed",
            DeviceState::DeactivatingMaintenanceMode => "Deactivating Maintenance Mode",
            DeviceState::MaintenanceModeDeactivated => "Maintenance Mode Deactivated",
            DeviceState::MaintenanceModeFailure => "Maintenance Mode Failure",
            DeviceState::Skipped => "Skipped",
            DeviceState::Cancelled => "Cancelled",
            DeviceState::RollingBack => "Rolling Back",
            DeviceState::RolledBack => "Rolled Back",
        }
    }

    /// A device "done", as progress counts it: upgraded and back in service, or skipped. Not one
    /// that failed, was rolled back or cancelled: counters add up to what was really done.
    pub fn is_done(self) -> bool {
        matches!(self, DeviceState::MaintenanceModeDeactivated | DeviceState::Skipped)
    }

    /// True when nothing more will happen to the device in this job.
    pub fn is_final(self) -> bool {
        matches!(self, DeviceState::MaintenanceModeDeactivated | DeviceState::Skipped | DeviceState::Cancelled)
            || self.is_failure()
    }

    /// True for the states that stop the job.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            DeviceState::HealthCheckFailed
                | DeviceState::HitlessImageUpgradeFailed
                | DeviceState::MaintenanceModeFailure
                | DeviceState::RolledBack
        )
    }
}

impl fmt::Display for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for DeviceState {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceState::ALL
            .into_iter()
            .find(|d| d.label() == s)
            .ok_or_else(|| UnknownName { what: "device state", name: s.to_string() })
    }
}

/// Why a paused job paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseKind {
    /// For the operator's approval (`upgrade.canary`, `upgrade.pause`): `hitless approve`.
    Approval,
    /// The maintenance window closes (or closed) before the next batch would end: `hitless
    /// resume`, which waits for the next window.
    Window,
}

impl PauseKind {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PauseKind::Approval => "approval",
            PauseKind::Window => "window",
        }
    }
}

impl FromStr for PauseKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [PauseKind::Approval, PauseKind::Window]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName { what: "pause kind", name: s.to_string() })
    }
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Running, or died while running (resume it).
    Running,
    /// Stopped after a device failed; fix the cause, then resume.
    Halted,
    /// Every device done.
    Finished,
    /// Cancelled by the operator.
    Cancelled,
    /// Stopped between batches for the operator's approval (`upgrade.pause`); `hitless approve`
    /// runs the rest, `hitless cancel` stops it. The job's reason says why it paused.
    Paused,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 5] =
        [JobState::Running, JobState::Halted, JobState::Finished, JobState::Cancelled, JobState::Paused];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Halted => "halted",
            JobState::Finished => "finished",
            JobState::Cancelled => "cancelled",
            JobState::Paused => "paused",
        }
    }

    /// True when the job still holds its fabric (running, halted or paused).
    pub fn is_open(self) -> bool {
        matches!(self, JobState::Running | JobState::Halted | JobState::Paused)
    }
}

impl FromStr for JobState {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|j| j.as_str() == s)
            .ok_or_else(|| UnknownName { what: "job state", name: s.to_string() })
    }
}

/// What a device is doing, recorded with every event as data beside the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Bookkeeping that changes nothing on the device: pending, skipped, cancelled before it
    /// began, already done, a note about what the device reported.
    Note,
    /// The pre-upgrade health check starts.
    PreCheck,
    /// The post-upgrade health check starts.
    PostCheck,
    /// Maintenance mode is being turned on: neighbours start moving traffic away.
    Drain,
    /// Maintenance mode is on.
    Drained,
    /// The image is being copied to the device and its checksum verified.
    Copy,
    /// The package is being installed.
    Install,
    /// `request system software rollback` is being sent: the old software (or no pending
    /// install) at the next reboot.
    Rollback,
    /// The device is being rebooted: it stops forwarding now.
    Reboot,
    /// Waiting for the device to come back from its reboot.
    WaitBoot,
    /// The device is back and runs the target version: it forwards again.
    Booted,
    /// Maintenance mode is being turned off: traffic returns.
    Undrain,
    /// Maintenance mode is off and the device is in service.
    InService,
    /// Something failed; the state says what kind of failure and the message why.
    Failed,
    /// About the job (no device): it paused, for approval or the maintenance window.
    Pause,
    /// About the job: the operator approved going on after a pause.
    Approve,
    /// About the job: this process took it over from another (gone, silent or forced).
    TakeOver,
    /// About the job: it waits for the maintenance window to open.
    WindowWait,
    /// About the job: it halted before a batch, nothing of it touched (the fabric not as planned).
    Halt,
    /// About the job: an operator asked it to stop (`hitless cancel`, Ctrl-C), who and how.
    Cancel,
    /// About the job: an operator started it, who.
    Start,
    /// About the job: an operator re-entered it after an exit, a crash or a halt, who.
    Resume,
}

impl Step {
    /// Every step.
    pub const ALL: [Step; 22] = [
        Step::Note,
        Step::PreCheck,
        Step::PostCheck,
        Step::Drain,
        Step::Drained,
        Step::Copy,
        Step::Install,
        Step::Rollback,
        Step::Reboot,
        Step::WaitBoot,
        Step::Booted,
        Step::Undrain,
        Step::InService,
        Step::Failed,
        Step::Pause,
        Step::Approve,
        Step::TakeOver,
        Step::WindowWait,
        Step::Halt,
        Step::Cancel,
        Step::Start,
        Step::Resume,
    ];

    /// The name stored and shown in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Note => "note",
            Step::PreCheck => "pre-check",
            Step::PostCheck => "post-check",
            Step::Drain => "drain",
            Step::Drained => "drained",
            Step::Copy => "copy",
            Step::Install => "install",
            Step::Rollback => "rollback",
            Step::Reboot => "reboot",
            Step::WaitBoot => "wait-boot",
            Step::Booted => "booted",
            Step::Undrain => "undrain",
            Step::InService => "in-service",
            Step::Failed => "failed",
            Step::Pause => "pause",
            Step::Approve => "approve",
            Step::TakeOver => "take-over",
            Step::WindowWait => "window-wait",
            Step::Halt => "halt",
            Step::Cancel => "cancel",
            Step::Start => "start",
            Step::Resume => "resume",
        }
    }
}

impl FromStr for Step {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Step::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| UnknownName { what: "step", name: s.to_string() })
    }
}

/// Which snapshot of a device a job (or an operator) took.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SnapshotKind {
    /// Before its upgrade, in service: the baseline.
    Before,
    /// In maintenance mode, drained: compared with the baseline before the reboot.
    InMaintenance,
    /// After its upgrade, back in service.
    After,
    /// Taken on demand (`hitless snapshot`).
    Manual,
}

impl SnapshotKind {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotKind::Before => "before",
            SnapshotKind::InMaintenance => "in-maintenance",
            SnapshotKind::After => "after",
            SnapshotKind::Manual => "manual",
        }
    }
}

/// Which driver a job runs with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DriverKind {
    /// Virtual devices in virtual time (no switches needed).
    #[default]
    Virtual,
    /// Junos over NETCONF/SSH, to real switches or the lab.
    Junos,
    /// Each device through its own vendor's protocol: Junos over NETCONF/SSH, Arista EOS over
    /// eAPI (HTTPS), to real switches or the lab.
    Native,
}

impl DriverKind {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DriverKind::Virtual => "virtual",
            DriverKind::Junos => "junos",
            DriverKind::Native => "native",
        }
    }
}

impl FromStr for DriverKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            // Stores written before the virtual driver had its name say "sim".
            "virtual" | "sim" => Ok(DriverKind::Virtual),
            "junos" => Ok(DriverKind::Junos),
            "native" => Ok(DriverKind::Native),
            _ => Err(UnknownName { what: "driver", name: s.to_string() }),
        }
    }
}

/// One journal entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Position in the job's journal, from 1.
    pub seq: i64,
    /// Wall-clock time, seconds since the Unix epoch.
    pub at_unix: i64,
    /// Seconds since the job started, on the job's clock (virtual for the virtual driver).
    pub at_seconds: f64,
    /// Device name.
    pub device: String,
    /// The state entered.
    pub state: DeviceState,
    /// What the device is doing, as data.
    pub step: Step,
    /// Why, or what exactly, for people (the reason of every failure is here).
    pub message: String,
    /// Who did it, for a job-level event an operator caused (start, resume, approve, cancel,
    /// take-over): `alice on host`; empty otherwise.
    pub by: String,
}

/// A journal event as one typed value: a device's state change, or what happened to the job
/// and who did it. What front ends stream and render; the message is for people only.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum JobEvent<'a> {
    /// A device entered `state`, doing `step`.
    Device {
        /// The device.
        device: &'a str,
        /// The state entered.
        state: DeviceState,
        /// What it is doing.
        step: Step,
    },
    /// An operator started the job.
    Started {
        /// Who.
        by: &'a str,
    },
    /// An operator re-entered the job.
    Resumed {
        /// Who.
        by: &'a str,
    },
    /// An operator approved the job's next batches after a pause.
    Approved {
        /// Who.
        by: &'a str,
    },
    /// An operator asked the job to stop (`hitless cancel`, Ctrl-C).
    CancelRequested {
        /// Who.
        by: &'a str,
    },
    /// A process took the job over from another.
    TakenOver {
        /// The process that took it.
        by: &'a str,
    },
    /// The job paused (for approval, or for the maintenance window); the message says why.
    Paused,
    /// The job waits for the maintenance window to open; the message says until when.
    WaitingForWindow,
    /// The job halted before a batch, touching nothing of it; the message says why.
    Halted,
    /// Anything else about the job (a note).
    Note,
}

impl Event {
    /// The event as a [`JobEvent`].
    pub fn kind(&self) -> JobEvent<'_> {
        if !self.device.is_empty() {
            return JobEvent::Device { device: &self.device, state: self.state, step: self.step };
        }
        let by = self.by.as_str();
        match self.step {
            Step::Start => JobEvent::Started { by },
            Step::Resume => JobEvent::Resumed { by },
            Step::Approve => JobEvent::Approved { by },
            Step::Cancel => JobEvent::CancelRequested { by },
            Step::TakeOver => JobEvent::TakenOver { by },
            Step::Pause => JobEvent::Paused,
            Step::WindowWait => JobEvent::WaitingForWindow,
            Step::Halt => JobEvent::Halted,
            _ => JobEvent::Note,
        }
    }
}

/// One device of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobDevice {
    /// Device name.
    pub device: String,
    /// 1-based batch, 0 for skipped devices.
    pub batch: u32,
    /// Target image name.
    pub image: String,
    /// Current state.
    pub state: DeviceState,
    /// Last message.
    pub message: String,
}

/// A job as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// `job-0001`, ...
    pub id: String,
    /// Scenario name.
    pub scenario: String,
    /// Fingerprint of the fabric (its device names): one open job per fabric.
    pub fabric: String,
    /// State.
    pub state: JobState,
    /// The driver the job runs with.
    pub driver: DriverKind,
    /// When created, seconds since the Unix epoch.
    pub created_unix: i64,
    /// The scenario text, so a job resumes from what it started with.
    pub scenario_yaml: String,
    /// The plan as JSON: a list of batches, each a list of device names.
    pub plan: String,
    /// Set by `hitless cancel`.
    pub cancel_requested: bool,
    /// Why a paused job paused (empty in every other state).
    pub reason: String,
    /// The last batch after which the operator approved going on (`hitless approve`); 0 if none.
    pub approved_through: u32,
    /// Why a paused job paused (meaningful while it is paused).
    pub pause_kind: PauseKind,
    /// Device seconds per real second the job runs at (a lab's `--time-scale`; 1 for real
    /// switches), kept so a re-entered job keeps it.
    pub time_scale: f64,
}

/// What one journal write says: the device, the state it enters, the step, and the message.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// Device name.
    pub device: &'a str,
    /// The state entered.
    pub state: DeviceState,
    /// What the device is doing.
    pub step: Step,
    /// For people.
    pub message: &'a str,
    /// Wall-clock time, seconds since the Unix epoch.
    pub at_unix: i64,
    /// Seconds since the job started, on the job's clock.
    pub at_seconds: f64,
    /// Who did it (an operator's start, resume, approval, cancel or take-over); empty otherwise.
    pub by: &'a str,
}

/// Why the journal could not be written or read.
#[derive(Debug, thiserror::Error)]
#[error("job journal: {0}")]
pub struct JournalError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Where a running job writes its journal: the executor's port to the state store.
pub trait Journal: Send {
    /// Appends an event for `job` and sets the device's state, in one transaction.
    fn record(&mut self, job: &str, entry: &Entry) -> Result<Event, JournalError>;
    /// True once someone asked `job` to stop (`hitless cancel`).
    fn cancel_requested(&self, job: &str) -> Result<bool, JournalError>;
    /// `job`'s devices with their current states.
    fn devices(&self, job: &str) -> Result<Vec<JobDevice>, JournalError>;
    /// Sets `job`'s state.
    fn set_state(&mut self, job: &str, state: JobState) -> Result<(), JournalError>;
    /// Pauses `job` after batch `after` (for approval, or for the maintenance window), saying why.
    fn pause(&mut self, job: &str, after: u32, kind: PauseKind, reason: &str) -> Result<(), JournalError>;
    /// Keeps `device`'s snapshot of `kind`; returns its id.
    fn save_snapshot(
        &mut self,
        job: &str,
        device: &str,
        kind: SnapshotKind,
        snapshot: &crate::snapshot::Snapshot,
        at_unix: i64,
    ) -> Result<i64, JournalError>;
    /// The latest snapshot of `kind` this job took of `device`, with its id.
    fn job_snapshot(
        &self,
        job: &str,
        device: &str,
        kind: SnapshotKind,
    ) -> Result<Option<(i64, crate::snapshot::Snapshot)>, JournalError>;
}
