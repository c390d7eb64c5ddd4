//! The job journal's vocabulary: device and job states, events, and the job record.
//!
//! Every state change is written to the store before the action it announces, so a job can be
//! re-entered after the operator exits or the process dies. Device states are exactly the seed
//! product's, plus `Pending` (not started yet) and `Cancelled` (not started because the job was
//! cancelled).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
}

impl DeviceState {
    /// Every state, for parsing.
    pub const ALL: [DeviceState; 13] = [
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
        }
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
        )
    }
}

impl Serialize for DeviceState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.label())
    }
}

impl<'de> Deserialize<'de> for DeviceState {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for DeviceState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceState::ALL.into_iter().find(|d| d.label() == s).ok_or_else(|| format!("unknown device state {s:?}"))
    }
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    /// Running, or died while running (resume it).
    Running,
    /// Stopped after a device failed; fix the cause, then resume.
    Halted,
    /// Every device done.
    Finished,
    /// Cancelled by the operator.
    Cancelled,
}

impl JobState {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Halted => "halted",
            JobState::Finished => "finished",
            JobState::Cancelled => "cancelled",
        }
    }

    /// True when the job still holds its fabric (running or halted).
    pub fn is_open(self) -> bool {
        matches!(self, JobState::Running | JobState::Halted)
    }
}

impl FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [JobState::Running, JobState::Halted, JobState::Finished, JobState::Cancelled]
            .into_iter()
            .find(|j| j.as_str() == s)
            .ok_or_else(|| format!("unknown job state {s:?}"))
    }
}

/// One journal entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the job's journal, from 1.
    pub seq: i64,
    /// Wall-clock time, seconds since the Unix epoch.
    pub at_unix: i64,
    /// Seconds since the job started, on the job's clock (virtual for the simulated driver).
    pub at_seconds: f64,
    /// Device name.
    pub device: String,
    /// The state entered.
    pub state: DeviceState,
    /// Why, or what exactly (the reason of every failure is here).
    pub message: String,
}

/// One device of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// `job-0001`, ...
    pub id: String,
    /// Scenario name.
    pub scenario: String,
    /// Fingerprint of the fabric (its device names): one open job per fabric.
    pub fabric: String,
    /// State.
    pub state: JobState,
    /// Driver name.
    pub driver: String,
    /// When created, seconds since the Unix epoch.
    pub created_unix: i64,
    /// The scenario text, so a job resumes from what it started with.
    #[serde(skip)]
    pub scenario_yaml: String,
    /// The plan, in the `plan --format json` shape.
    #[serde(skip)]
    pub plan: String,
    /// Set by `hitless cancel`.
    pub cancel_requested: bool,
}
