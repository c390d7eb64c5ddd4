//! Jobs: starting one from a plan, re-entering one, cancelling one, and the work its devices
//! still have to do.

use crate::exec::WorkItem;
use crate::journal::{DeviceState, DriverKind, Entry, JobDevice, JobState, Step};
use crate::scenario::{ImageCatalog, Scenario};
use crate::simulate::PlanInput;
use crate::store::jobs::{Acquired, Lease, LeaseHolder};
use crate::store::{Store, jobs};

use super::WorkflowError;

/// Every device of a new job: the planned ones `Pending` in their batch, the skipped ones
/// `Skipped` (batch 0) with the reason.
pub fn devices(scenario: &Scenario, plan: &PlanInput) -> Vec<JobDevice> {
    let mut devices = Vec::new();
    for (index, batch) in plan.batches.iter().enumerate() {
        for id in batch {
            let image = scenario
                .selection
                .targets
                .iter()
                .find(|t| t.device == *id)
                .map(|t| scenario.images[t.image].name.clone());
            devices.push(JobDevice {
                device: scenario.fabric.device(*id).name.clone(),
                batch: index as u32 + 1,
                image: image.unwrap_or_default(),
                state: DeviceState::Pending,
                message: String::new(),
            });
        }
    }
    for (id, reason) in &scenario.selection.skipped {
        devices.push(JobDevice {
            device: scenario.fabric.device(*id).name.clone(),
            batch: 0,
            image: String::new(),
            state: DeviceState::Skipped,
            message: reason.clone(),
        });
    }
    devices
}

/// The plan as recorded with a job: a JSON list of batches, each a list of device names.
pub fn plan_json(scenario: &Scenario, plan: &PlanInput) -> String {
    let names: Vec<Vec<&str>> =
        plan.batches.iter().map(|b| b.iter().map(|d| scenario.fabric.device(*d).name.as_str()).collect()).collect();
    serde_json::to_string(&names).expect("a list of lists of strings encodes")
}

/// A job just started: its id and its devices.
#[derive(Clone, Debug)]
pub struct Started {
    /// `job-0001`, ...
    pub job: String,
    /// Every device, as recorded.
    pub devices: Vec<JobDevice>,
}

/// Each device's management address, where the scenario gives one.
fn addresses(scenario: &Scenario) -> std::collections::BTreeMap<String, String> {
    scenario.fabric.devices().iter().filter_map(|d| Some((d.name.clone(), d.address.clone()?))).collect()
}

/// Refuses early, before anything is asked of a device, while another job on `scenario`'s
/// fabric is open, or while a device it would upgrade belongs to another open job (by name or
/// management address, whichever scenario named it). [`start`] checks both again as it records
/// the job, in one transaction.
pub fn check_fabric_free(store: &Store, scenario: &Scenario) -> Result<(), WorkflowError> {
    if let Some((job, state)) = jobs::open_on_fabric(store, &scenario.fabric.fingerprint())? {
        return Err(crate::store::StoreError::FabricBusy { job, state: state.as_str().to_string() }.into());
    }
    let addresses = addresses(scenario);
    let planned: Vec<(&str, &str)> = scenario
        .selection
        .targets
        .iter()
        .map(|t| {
            let name = scenario.fabric.device(t.device).name.as_str();
            (name, addresses.get(name).map_or("", String::as_str))
        })
        .collect();
    Ok(jobs::check_devices_free(store, &planned)?)
}

/// Records a new job for `plan` (refused while another job on the same fabric is open).
pub fn start(
    store: &mut Store,
    scenario: &Scenario,
    scenario_yaml: &str,
    plan: &PlanInput,
    driver: DriverKind,
    created_unix: i64,
    by: &str,
) -> Result<Started, WorkflowError> {
    let devices = devices(scenario, plan);
    let addresses = addresses(scenario);
    let planned = plan.batches.iter().map(Vec::len).sum::<usize>();
    let message = format!("started by {by}: {planned} device(s) in {} batch(es)", plan.batches.len());
    let new = jobs::NewJob {
        scenario: &scenario.name,
        fabric: &scenario.fabric.fingerprint(),
        scenario_yaml,
        plan: &plan_json(scenario, plan),
        driver,
        devices: &devices,
        created_unix,
        addresses: &addresses,
        started: (&message, by),
    };
    let job = jobs::create(store, &new)?;
    Ok(Started { job, devices })
}

/// A job re-entered: its scenario as it was started, its devices, where its clock stood, and the
/// driver it ran with.
#[derive(Debug)]
pub struct Reopened {
    /// The scenario the job started with.
    pub scenario: Scenario,
    /// Every device with its journaled state.
    pub devices: Vec<JobDevice>,
    /// The job clock at its last event, so resumed events continue from there.
    pub clock_offset_seconds: f64,
    /// The driver the job ran with.
    pub driver: DriverKind,
    /// The time scale it ran at (a lab's `--time-scale`).
    pub time_scale: f64,
}

/// How a job is re-entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reentry {
    /// `resume`: after an exit, a crash or a halt. A paused job is not resumed: it waits for
    /// approval.
    Resume,
    /// `approve`: the operator approves a paused job's next batches.
    Approve,
}

/// Re-enters `job`: loads what it started with and marks it running again. A finished or
/// cancelled job cannot be re-entered; a paused one only by approving it, and approving is only
/// for a paused one.
pub fn reopen(
    store: &mut Store,
    job: &str,
    catalog: &dyn ImageCatalog,
    how: Reentry,
    by: &str,
    now_unix: i64,
) -> Result<Reopened, WorkflowError> {
    let record = jobs::get(store, job)?;
    match (record.state, how) {
        (JobState::Finished, _) => return Err(WorkflowError::Finished { job: job.to_string() }),
        (JobState::Cancelled, _) => return Err(WorkflowError::Cancelled { job: job.to_string() }),
        (JobState::Paused, Reentry::Resume) if record.pause_kind == crate::journal::PauseKind::Approval => {
            return Err(WorkflowError::AwaitsApproval { job: job.to_string(), reason: record.reason });
        }
        (JobState::Running | JobState::Halted, Reentry::Approve) => {
            return Err(WorkflowError::NotPaused { job: job.to_string(), state: record.state.as_str() });
        }
        (JobState::Running | JobState::Halted | JobState::Paused, Reentry::Resume)
        | (JobState::Paused, Reentry::Approve) => {}
    }
    let scenario = Scenario::from_yaml_with(&record.scenario_yaml, std::path::Path::new(&record.scenario), catalog)?;
    let devices = jobs::devices(store, job)?;
    let clock_offset_seconds = jobs::events(store, job, None)?.last().map_or(0.0, |e| e.at_seconds);
    if how == Reentry::Approve && scenario.approval == crate::scenario::settings::Approval::OtherUser {
        // Four eyes: whoever started the job does not approve it.
        let events = jobs::events(store, job, None)?;
        let started_by = events.iter().find(|e| e.step == Step::Start).map(|e| e.by.clone()).unwrap_or_default();
        if started_by == by {
            return Err(WorkflowError::SameApprover { job: job.to_string(), user: by.to_string() });
        }
    }
    if how == Reentry::Approve {
        let message = format!("approved by {by}: the job, paused {}, goes on", record.reason);
        job_event(store, job, Step::Approve, &message, by, (now_unix, clock_offset_seconds))?;
        jobs::approve(store, job)?;
    } else {
        let message = format!("resumed by {by}: the job, {}, goes on", record.state.as_str());
        job_event(store, job, Step::Resume, &message, by, (now_unix, clock_offset_seconds))?;
    }
    jobs::set_state(store, job, JobState::Running)?;
    Ok(Reopened { scenario, devices, clock_offset_seconds, driver: record.driver, time_scale: record.time_scale })
}

/// The work a job's devices still have, batch by batch: every planned device not yet back in
/// service. A device the journal shows begun is marked `started`; one with this image installed
/// by hitless and not rebooted since, `pending_is_ours`.
pub fn work(
    store: &Store,
    job: &str,
    scenario: &Scenario,
    devices: &[JobDevice],
) -> Result<Vec<Vec<WorkItem>>, WorkflowError> {
    let fabric = jobs::get(store, job)?.fabric;
    let pending = jobs::pending_installs(store, &fabric)?;
    let rollbacks = jobs::pending_rollbacks(store, &fabric)?;
    let staged = jobs::staged(store, &fabric)?;
    let events = jobs::events(store, job, None)?;
    let failed = failed_upgrades(&events);
    let mut batches: Vec<Vec<WorkItem>> = Vec::new();
    // Done: back in service upgraded, or rolled back (never upgraded again in this job).
    let done = |state: DeviceState| matches!(state, DeviceState::MaintenanceModeDeactivated | DeviceState::RolledBack);
    for device in devices.iter().filter(|d| d.batch > 0 && !done(d.state)) {
        let image = scenario
            .images
            .iter()
            .find(|i| i.name == device.image)
            .ok_or_else(|| WorkflowError::UnknownImage { job: job.to_string(), image: device.image.clone() })?;
        let index = device.batch as usize - 1;
        if batches.len() <= index {
            batches.resize_with(index + 1, Vec::new);
        }
        let started = device.state != DeviceState::Pending;
        let pending_is_ours = pending.get(&device.device) == Some(&device.image);
        let fabric_device = scenario.fabric.lookup(&device.device).map(|id| scenario.fabric.device(id));
        let role = fabric_device.map_or(crate::model::Role::Leaf, |d| d.role);
        let previous_version = fabric_device.map_or_else(|| image.version.clone(), |d| d.version.clone());
        let id = scenario.fabric.lookup(&device.device);
        // The reload's phases; a Smart System Upgrade device keeps them for the fallback.
        let phases = id.map_or(*scenario.timing.phases(role), |id| scenario.timing.reload_phases(&scenario.fabric, id));
        let ssu_convergence_seconds = id
            .filter(|id| scenario.timing.ssu_devices.contains(id))
            .map(|id| scenario.timing.device_phases(&scenario.fabric, id).convergence_seconds);
        batches[index].push(WorkItem {
            device: device.device.clone(),
            batch: device.batch,
            image: image.clone(),
            previous_version,
            started,
            pending_is_ours,
            failed_earlier: failed.contains(device.device.as_str()),
            rollback_pending: rollbacks.contains(&device.device),
            staged_recorded: staged.get(&device.device).is_some_and(|(image, _)| *image == device.image),
            convergence_seconds: phases.convergence_seconds,
            ssu_convergence_seconds,
            post_check_seconds: phases.post_check_seconds,
            estimated_seconds: id.map_or_else(
                || crate::timing::device_run_seconds(&scenario.timing, role, &scenario.health_limits),
                |id| {
                    crate::timing::device_run_seconds_of(
                        &scenario.timing,
                        &scenario.fabric,
                        id,
                        &scenario.health_limits,
                    )
                },
            ),
            drain_seconds: phases.drain_seconds,
            undrain_seconds: phases.undrain_seconds,
        });
    }
    batches.retain(|b| !b.is_empty());
    Ok(batches)
}

/// The devices whose upgrade failed in a job, from its journal (by typed states and steps): a
/// failure after the device's install began, or a rollback begun.
fn failed_upgrades(events: &[crate::journal::Event]) -> std::collections::BTreeSet<&str> {
    let mut installing = std::collections::BTreeSet::new();
    let mut failed = std::collections::BTreeSet::new();
    for event in events.iter().filter(|e| !e.device.is_empty()) {
        match (event.state, event.step) {
            (_, Step::Install) => {
                installing.insert(event.device.as_str());
            }
            (DeviceState::RollingBack | DeviceState::RolledBack, _) => {
                failed.insert(event.device.as_str());
            }
            (_, Step::Failed) if installing.contains(event.device.as_str()) => {
                failed.insert(event.device.as_str());
            }
            _ => {}
        }
    }
    failed
}

/// What `cancel` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancel {
    /// The job was halted: it is cancelled now; failed devices stay in maintenance mode.
    Halted,
    /// The job was paused between batches: it is cancelled now; devices not begun never will.
    Paused,
    /// The job is running: the request is recorded, and the process running it (or the next
    /// `resume`) stops starting new work and returns undrained devices to service.
    Requested,
}

/// Cancels `job`, at the request of `by` (the operator, as the front end knows them), which
/// the journal records.
pub fn cancel(store: &mut Store, job: &str, by: &str, now_unix: i64) -> Result<Cancel, WorkflowError> {
    let record = jobs::get(store, job)?;
    if record.state.is_open() {
        let at_seconds = jobs::events(store, job, None)?.last().map_or(0.0, |e| e.at_seconds);
        let message = format!("cancel requested by {by} (`hitless cancel`)");
        job_event(store, job, Step::Cancel, &message, by, (now_unix, at_seconds))?;
    }
    match record.state {
        JobState::Finished | JobState::Cancelled => {
            Err(WorkflowError::AlreadyEnded { job: job.to_string(), state: record.state.as_str() })
        }
        JobState::Halted => {
            jobs::set_state(store, job, JobState::Cancelled)?;
            Ok(Cancel::Halted)
        }
        JobState::Paused => {
            // Between batches nothing is under way: every device is in service or not begun.
            let at_seconds = jobs::events(store, job, None)?.last().map_or(0.0, |e| e.at_seconds);
            for device in jobs::devices(store, job)?.iter().filter(|d| d.state == DeviceState::Pending) {
                let entry = Entry {
                    device: &device.device,
                    state: DeviceState::Cancelled,
                    step: Step::Note,
                    message: "not started: the job was cancelled while paused",
                    at_unix: now_unix,
                    at_seconds,
                    by: "",
                };
                jobs::record(store, job, &entry)?;
            }
            jobs::set_state(store, job, JobState::Cancelled)?;
            Ok(Cancel::Paused)
        }
        JobState::Running => {
            jobs::set_cancel_requested(store, job, true)?;
            Ok(Cancel::Requested)
        }
    }
}

/// How long a lease holder may stay silent before another process may take the job over.
pub const LEASE_STALE_SECONDS: i64 = 60;

/// How often a running job renews its lease.
pub const HEARTBEAT_SECONDS: u64 = 5;

/// What the host says of a lease's holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// Its process no longer exists on this host (or is a zombie, or its pid now belongs to a
    /// process started at another time).
    Gone,
    /// Its process exists on this host, running or stopped.
    Alive,
    /// It is on another host (or this one cannot say): judged by its heartbeat alone.
    Unknown,
}

/// Takes `job`'s lease for this process (`me`), so that no other process runs it at the same
/// time. A holder that is gone is taken over, and the journal says so. A holder whose process
/// still exists on this host (even stopped) is taken over only with `force`; one elsewhere only
/// once silent for more than [`LEASE_STALE_SECONDS`]. Either way the old holder is fenced: its
/// next journal write fails, so it changes nothing more.
pub fn take_lease(
    store: &mut Store,
    job: &str,
    me: &LeaseHolder,
    now: i64,
    holder: &dyn Fn(&Lease) -> Holder,
    force: bool,
) -> Result<(), WorkflowError> {
    use crate::store::StoreError;
    let may_take = |lease: &Lease| -> Result<(), StoreError> {
        let age = now - lease.heartbeat_unix;
        match holder(lease) {
            Holder::Gone => Ok(()),
            _ if force => Ok(()),
            Holder::Alive if age > LEASE_STALE_SECONDS => {
                Err(StoreError::JobHeldHere { job: job.to_string(), pid: lease.holder.pid, age })
            }
            Holder::Unknown if age > LEASE_STALE_SECONDS => Ok(()),
            Holder::Alive | Holder::Unknown => Err(StoreError::JobOwned {
                job: job.to_string(),
                pid: lease.holder.pid,
                host: lease.holder.host.clone(),
                age,
            }),
        }
    };
    if let Acquired::TookOver(old) = jobs::acquire_lease(store, job, me, now, &may_take)? {
        let at_seconds = jobs::events(store, job, None)?.last().map_or(0.0, |e| e.at_seconds);
        let why = match holder(&old) {
            Holder::Gone => "which is gone".to_string(),
            Holder::Alive => {
                "which still exists: taken over with --force; it is fenced and changes nothing more".to_string()
            }
            Holder::Unknown if force => {
                "on another host: taken over with --force; it is fenced and changes nothing more".to_string()
            }
            Holder::Unknown => "which has been silent too long; it is fenced and changes nothing more".to_string(),
        };
        let taker = format!("process {} on {}", me.pid, me.host);
        let message = format!(
            "took the job over from process {} on {}, {why} (last sign of life {} s before)",
            old.holder.pid,
            old.holder.host,
            now - old.heartbeat_unix
        );
        job_event(store, job, Step::TakeOver, &message, &taker, (now, at_seconds))?;
    }
    Ok(())
}

/// Records an event about `job` itself (no device): `step`, its message, who did it (`by`, or
/// empty), and when (`at`: wall clock, job clock).
fn job_event(
    store: &mut Store,
    job: &str,
    step: Step,
    message: &str,
    by: &str,
    at: (i64, f64),
) -> Result<(), WorkflowError> {
    let (at_unix, at_seconds) = at;
    let entry = Entry { device: "", state: DeviceState::Pending, step, message, at_unix, at_seconds, by };
    jobs::record(store, job, &entry)?;
    Ok(())
}
