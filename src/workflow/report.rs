//! The JSON shapes of jobs, their devices and their events (`jobs`, `status`, `logs` and
//! `upgrade`/`resume` with `--format json`). Fields may be added, never renamed. The journal's
//! own types are not serialised: these are their public faces.

use serde::Serialize;

use super::JobSummary;
use crate::journal::{Event, Job, JobDevice};
use crate::simulate::replay::ExecutionLoss;

/// A job, as `jobs --format json` lists it and `status --format json` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobReport {
    /// `job-0001`, ...
    pub id: String,
    /// Scenario name.
    pub scenario: String,
    /// Fingerprint of the fabric.
    pub fabric: String,
    /// `running`, `halted`, `finished`, `cancelled` or `paused`.
    pub state: &'static str,
    /// `virtual` or `junos`.
    pub driver: &'static str,
    /// True when its devices are simulated (the virtual driver): nothing real was touched.
    pub simulated: bool,
    /// When created, seconds since the Unix epoch.
    pub created_unix: i64,
    /// Set by `hitless cancel`.
    pub cancel_requested: bool,
    /// Why a paused job paused (only while it is paused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `approval` (go on with `approve`) or `window` (with `resume`), while it is paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_for: Option<&'static str>,
}

impl From<&Job> for JobReport {
    fn from(job: &Job) -> JobReport {
        JobReport {
            id: job.id.clone(),
            scenario: job.scenario.clone(),
            fabric: job.fabric.clone(),
            state: job.state.as_str(),
            driver: job.driver.as_str(),
            simulated: job.driver == crate::journal::DriverKind::Virtual,
            created_unix: job.created_unix,
            cancel_requested: job.cancel_requested,
            reason: (!job.reason.is_empty()).then(|| job.reason.clone()),
            paused_for: (job.state == crate::journal::JobState::Paused).then(|| job.pause_kind.as_str()),
        }
    }
}

/// One device of a job.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceReport {
    /// Device name.
    pub device: String,
    /// 1-based batch, 0 for skipped devices.
    pub batch: u32,
    /// Target image name.
    pub image: String,
    /// The state's label (`Maintenance Mode Deactivated`, ...).
    pub state: &'static str,
    /// Last message.
    pub message: String,
}

impl From<&JobDevice> for DeviceReport {
    fn from(device: &JobDevice) -> DeviceReport {
        DeviceReport {
            device: device.device.clone(),
            batch: device.batch,
            image: device.image.clone(),
            state: device.state.label(),
            message: device.message.clone(),
        }
    }
}

/// One journal entry (`logs --format json`, one per line; and the `upgrade --format json`
/// stream, with the job's id).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventReport {
    /// The job, in the `upgrade`/`resume` stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Position in the job's journal, from 1.
    pub seq: i64,
    /// Wall-clock time, seconds since the Unix epoch.
    pub at_unix: i64,
    /// Seconds since the job started, on the job's clock.
    pub at_seconds: f64,
    /// Device name.
    pub device: String,
    /// The state's label.
    pub state: &'static str,
    /// What the device is doing (`drain`, `reboot`, `booted`, ...).
    pub step: &'static str,
    /// For people; the reason of every failure.
    pub message: String,
    /// Who did it, for what an operator did to the job (start, resume, approve, cancel,
    /// take-over): `alice on host`. Absent otherwise.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub by: String,
    /// True when the device is simulated (the virtual driver).
    pub simulated: bool,
}

impl EventReport {
    /// The event, optionally tagged with its job; `simulated` when the job's devices are.
    pub fn new(event: &Event, job: Option<&str>, simulated: bool) -> EventReport {
        EventReport {
            job: job.map(str::to_string),
            seq: event.seq,
            at_unix: event.at_unix,
            at_seconds: event.at_seconds,
            device: event.device.clone(),
            state: event.state.label(),
            step: event.step.as_str(),
            message: event.message.clone(),
            by: event.by.clone(),
            simulated,
        }
    }
}

/// `status --format json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusReport {
    /// The job.
    pub job: JobReport,
    /// Its devices.
    pub devices: Vec<DeviceReport>,
}

/// The last line of `upgrade`/`resume --format json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SummaryReport {
    /// The job.
    pub job: String,
    /// `finished`, `halted`, `cancelled` or `paused`.
    pub outcome: &'static str,
    /// Why a paused job paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `approval` or `window`, for a paused job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_for: Option<&'static str>,
    /// Every device.
    pub devices: Vec<DeviceReport>,
    /// What the traffic lost during the execution.
    pub execution_loss: ExecutionLoss,
    /// True when the devices were simulated (the virtual driver): nothing real was touched.
    pub simulated: bool,
}

impl From<&JobSummary> for SummaryReport {
    fn from(summary: &JobSummary) -> SummaryReport {
        SummaryReport {
            job: summary.job.clone(),
            outcome: summary.state.as_str(),
            reason: (!summary.reason.is_empty()).then(|| summary.reason.clone()),
            paused_for: (summary.state == crate::journal::JobState::Paused).then(|| summary.pause_kind.as_str()),
            devices: summary.devices.iter().map(DeviceReport::from).collect(),
            execution_loss: summary.loss.clone(),
            simulated: summary.simulated,
        }
    }
}

/// A catalog image, as `image list/show --format json` and the API show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageReport {
    /// Unique, immutable name.
    pub name: String,
    /// Vendor (`juniper`).
    pub vendor: String,
    /// Device family (`qfx`).
    pub family: String,
    /// Platforms it supports.
    pub platforms: Vec<String>,
    /// The OS version it installs.
    pub os_version: String,
    /// The file's name as uploaded.
    pub file_name: String,
    /// Its size.
    pub size_bytes: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Its MD5, hex (what some devices report).
    pub md5: String,
    /// When it was added, UTC (`2026-12-07T02:52:27Z`).
    pub uploaded_at: String,
    /// Where the catalog keeps it.
    pub path: String,
}

impl From<&crate::image::CatalogImage> for ImageReport {
    fn from(image: &crate::image::CatalogImage) -> Self {
        let uploaded_at = match jiff::Timestamp::from_second(image.uploaded_unix) {
            Ok(at) => at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            Err(_) => format!("{} s after 1970", image.uploaded_unix),
        };
        ImageReport {
            name: image.fields.name.clone(),
            vendor: image.fields.vendor.clone(),
            family: image.fields.family.clone(),
            platforms: image.fields.platforms.clone(),
            os_version: image.fields.os_version.to_string(),
            file_name: image.file_name.clone(),
            size_bytes: image.digest.size_bytes,
            sha256: image.digest.sha256.clone(),
            md5: image.digest.md5.clone(),
            uploaded_at,
            path: image.path.display().to_string(),
        }
    }
}
