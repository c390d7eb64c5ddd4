//! Running a job's remaining work through the executor, then summing it up: how it ended, every
//! device's state, and what the traffic lost while it ran (the journal replayed through the
//! traffic model).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::WorkflowError;
use crate::exec::{self, Driver, JobContext, OnEvent};
use crate::journal::{JobDevice, JobState};
use crate::scenario::Scenario;
use crate::simulate::replay::{ExecutionLoss, replay};
use crate::store::jobs::LeaseHolder;
use crate::store::{Store, jobs};

/// How to run a job.
pub struct RunSettings {
    /// Job seconds per real second: 1 for real switches, the lab's time scale, or the virtual
    /// devices' speed.
    pub time_scale: f64,
    /// Where the job clock starts (the last event's time for a resumed job).
    pub clock_offset_seconds: f64,
    /// The wall clock, seconds since the Unix epoch (given by the caller, who owns the clock).
    pub wall_clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Called after every journaled event.
    pub on_event: OnEvent,
    /// Set by the caller when the operator presses Ctrl-C.
    pub interrupted: Arc<AtomicBool>,
    /// The job's lease, held by this process: renewed while the job runs, given up after. A
    /// lease found taken over stops the job (no new work starts).
    pub lease: Option<LeaseHolder>,
    /// How this run keeps to a maintenance window.
    pub window: WindowChoice,
    /// The operator running the job in this process (for the journal: who pressed Ctrl-C).
    pub operator: String,
}

/// How a run keeps to a maintenance window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WindowChoice {
    /// The scenario's `upgrade.window`, if it has one.
    #[default]
    Scenario,
    /// No batch may end after this time of day (its next occurrence, in the scenario window's
    /// zone or this machine's): `--window-end`.
    Until(jiff::civil::Time),
    /// Ignore any window in this run: `--now`.
    Ignore,
}

/// How a job run ended.
#[derive(Clone, Debug)]
pub struct JobSummary {
    /// The job.
    pub job: String,
    /// Finished, halted, cancelled or paused.
    pub state: JobState,
    /// Every device with its final state and last message.
    pub devices: Vec<JobDevice>,
    /// What the traffic lost during the execution, replayed through the traffic model.
    pub loss: ExecutionLoss,
    /// True when the devices are simulated (the virtual driver).
    pub simulated: bool,
    /// Why a paused job paused (empty otherwise).
    pub reason: String,
    /// For what a paused job waits.
    pub pause_kind: crate::journal::PauseKind,
}

/// Runs `job`'s remaining work (from its journaled `devices`) with `driver`, then sums it up.
pub async fn run<D: Driver>(
    store: &Arc<Mutex<Store>>,
    scenario: &Scenario,
    job: &str,
    driver: Arc<D>,
    devices: &[JobDevice],
    settings: RunSettings,
) -> Result<JobSummary, WorkflowError> {
    let work = super::jobs::work(&store.lock().expect("store lock not poisoned"), job, scenario, devices)?;
    let start = tokio::time::Instant::now();
    let (scale, offset, wall) = (settings.time_scale, settings.clock_offset_seconds, settings.wall_clock);
    // The job clock runs on tokio's clock: virtual (paused) for virtual devices at full speed.
    let job_wall = Arc::clone(&wall);
    let clock: exec::Clock = Arc::new(move || (job_wall(), offset + start.elapsed().as_secs_f64() * scale));
    let journal: exec::SharedJournal = Arc::clone(store) as exec::SharedJournal;
    let record = jobs::get(&store.lock().expect("store lock not poisoned"), job)?;
    // Virtual devices and labs keep their own time: the window is kept on the job's clock from
    // the job's creation; real switches keep the wall clock's.
    let job_time = record.driver == crate::journal::DriverKind::Virtual || (scale - 1.0).abs() > f64::EPSILON;
    let (created, real_wall) = (record.created_unix, Arc::clone(&wall));
    let wall_at: Arc<dyn Fn(f64) -> i64 + Send + Sync> =
        if job_time { Arc::new(move |seconds: f64| created + seconds as i64) } else { Arc::new(move |_| real_wall()) };
    let zone = scenario.window.as_ref().map_or_else(jiff::tz::TimeZone::system, |w| w.zone().clone());
    let span = match settings.window {
        WindowChoice::Ignore => None,
        WindowChoice::Scenario => scenario.window.clone().map(exec::WindowSpan::Daily),
        WindowChoice::Until(time) => Some(exec::WindowSpan::Until(next_at(&zone, wall_at(offset), time))),
    };
    if let Some(exec::WindowSpan::Until(end)) = &span {
        // Say which end `--window-end` came to mean (today's or tomorrow's), in the window's
        // zone and in UTC, so nobody has to guess.
        let at = |zone: jiff::tz::TimeZone| {
            jiff::Timestamp::from_second(*end)
                .map(|t| t.to_zoned_datetime(zone).strftime("%Y-%m-%d %H:%M %Z").to_string())
                .unwrap_or_else(|_| end.to_string())
        };
        let message = format!(
            "this run keeps to --window-end: no batch starts that would end after {} ({})",
            at(zone.clone()),
            at(jiff::tz::TimeZone::UTC)
        );
        let (at_unix, at_seconds) = (wall(), offset);
        let entry = crate::journal::Entry {
            device: "",
            state: crate::journal::DeviceState::Pending,
            step: crate::journal::Step::Note,
            message: &message,
            at_unix,
            at_seconds,
            by: "",
        };
        let event = jobs::record(&mut store.lock().expect("store lock not poisoned"), job, &entry)?;
        (settings.on_event)(&event);
    }
    let window = span.map(|span| exec::WindowRule { span, zone, wall_at });
    let driver_for_checks = Arc::clone(&driver);
    let host = settings.lease.as_ref().map_or("localhost", |l| l.host.as_str());
    let owner = format!("{job}/{}@{host}", store.lock().expect("store lock not poisoned").id()?);
    driver.set_maintenance_owner(&owner);
    let ctx = Arc::new(JobContext {
        driver,
        journal,
        job: job.to_string(),
        owner,
        limits: scenario.health_limits.clone(),
        abort_on_health_check_failure: scenario.abort_on_health_check_failure,
        rollback_on_failure: scenario.on_failure == crate::scenario::settings::OnFailure::Rollback,
        boot_deadline_seconds: super::boot_deadline_seconds(scenario),
        health_sample: super::health_sample(scenario, scale),
        time_scale: scale,
        clock,
        on_event: settings.on_event,
        interrupted: settings.interrupted,
        interrupt_noted: std::sync::atomic::AtomicBool::new(false),
        operator: settings.operator.clone(),
        pause_after: pause_after(scenario, devices),
        approved_through: record.approved_through,
        window,
        before_batch: Some(before_batch(scenario, &driver_for_checks, job)),
    });
    if let Some(me) = &settings.lease {
        // Fencing: from here on every journal write checks that the lease is still ours, so a
        // process whose job was taken over stops before its next change.
        store.lock().expect("store lock not poisoned").fence(job, me.clone());
    }
    let heartbeat = settings.lease.clone().map(|me| Heartbeat::start(store, job, me, wall, &ctx.interrupted));
    let state = exec::run_job(ctx, work).await;
    let stopped = heartbeat.map_or(Ok(()), |heartbeat| heartbeat.stop(store, job));
    if state.is_ok() && stopped.is_ok() {
        // The run ended as runs end (every device's work done or stopped) and the lease was
        // still ours: what this process writes to the job later (a console's cancel) is fenced
        // no more than another process's would be. A run that lost its job stays fenced for
        // good: anything of it still going writes nothing more.
        store.lock().expect("store lock not poisoned").unfence(job);
    }
    stopped?;
    let state = state?;
    let store = store.lock().expect("store lock not poisoned");
    let events = jobs::events(&store, job, None)?;
    let loss = replay(scenario, &events);
    let devices = jobs::devices(&store, job)?;
    let record = jobs::get(&store, job)?;
    let simulated = record.driver == crate::journal::DriverKind::Virtual;
    let (reason, pause_kind) = (record.reason, record.pause_kind);
    Ok(JobSummary { job: job.to_string(), state, devices, loss, simulated, reason, pause_kind })
}

/// The check before each batch: the fabric as it is now. The batch's partners are asked again
/// ([`super::fabric`]), devices of later batches included; when one is out of service and the
/// batch, simulated with it out, is not hitless, the job halts before the batch, naming it.
fn before_batch<D: Driver>(scenario: &Scenario, driver: &Arc<D>, job: &str) -> exec::BeforeBatch {
    let (scenario, driver, job) = (Arc::new(scenario.clone()), Arc::clone(driver), job.to_string());
    Arc::new(move |remaining: Vec<Vec<String>>| {
        let (scenario, driver, job) = (Arc::clone(&scenario), Arc::clone(&driver), job.clone());
        Box::pin(async move {
            // This batch against the fabric as it is now: its partners include devices of later
            // batches (still in service, or not).
            let targets: Vec<crate::model::DeviceId> = remaining
                .first()
                .map(|b| b.iter().filter_map(|name| scenario.fabric.lookup(name)).collect())
                .unwrap_or_default();
            let batches = vec![targets.clone()];
            let partners = super::fabric::partners(&scenario, &targets);
            let out = super::fabric::out_of_service(&scenario, &driver, &partners, &Default::default()).await;
            if out.is_empty() {
                return Ok(());
            }
            let plan = crate::simulate::PlanInput {
                batches,
                warnings: Vec::new(),
                out_of_service: out,
                rules_broken: 0,
                staged: Vec::new(),
            };
            let gate = super::gate(&scenario, &plan, false);
            if let super::Gate::Pass(_) = gate {
                return Ok(());
            }
            let report = gate.report();
            let out: Vec<String> = report.out_of_service.iter().map(|o| format!("{} ({})", o.device, o.why)).collect();
            tracing::warn!(job, lost_bytes = report.lost_bytes, "the batch is not hitless with partners out");
            Err(format!(
                "out of service now: {}; with them out this batch is NOT HITLESS ({:.0} bytes lost in {} flows)",
                out.join(", "),
                report.lost_bytes,
                report.flows_with_loss_count
            ))
        })
    })
}

/// The next time the clock in `zone` shows `time` after `unix` (today's, or tomorrow's).
fn next_at(zone: &jiff::tz::TimeZone, unix: i64, time: jiff::civil::Time) -> i64 {
    let Ok(now) = jiff::Timestamp::from_second(unix) else { return unix };
    let today = now.to_zoned_datetime(zone.clone()).date();
    [Some(today), today.tomorrow().ok()]
        .into_iter()
        .flatten()
        .filter_map(|day| zone.to_timestamp(day.to_datetime(time)).ok())
        .map(|t| t.as_second())
        .find(|t| *t > unix)
        .unwrap_or(unix)
}

/// The batches after which `job` pauses for approval (`upgrade.pause`), with the reason each
/// records; never after the job's last batch.
pub fn pause_after(scenario: &Scenario, devices: &[JobDevice]) -> std::collections::BTreeMap<u32, String> {
    let last = devices.iter().map(|d| d.batch).max().unwrap_or(0);
    let names = |batch: u32| {
        let names: Vec<&str> = devices.iter().filter(|d| d.batch == batch).map(|d| d.device.as_str()).collect();
        names.join(", ")
    };
    scenario
        .pause
        .batches(last)
        .into_iter()
        .map(|batch| {
            let what = if batch == 1 && scenario.canary > 0 { "the canary batch" } else { "batch" };
            let reason = format!(
                "after {what} {batch} of {last} ({}), as upgrade.pause: {} asks",
                names(batch),
                scenario.pause.as_str()
            );
            (batch, reason)
        })
        .collect()
}

/// Renews a job's lease every few real seconds from its own thread (the job's clock may be
/// virtual and race ahead), until stopped; then gives the lease up.
struct Heartbeat {
    me: LeaseHolder,
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Heartbeat {
    fn start(
        store: &Arc<Mutex<Store>>,
        job: &str,
        me: LeaseHolder,
        wall: Arc<dyn Fn() -> i64 + Send + Sync>,
        interrupted: &Arc<AtomicBool>,
    ) -> Heartbeat {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let (store, job, holder, interrupted) =
            (Arc::clone(store), job.to_string(), me.clone(), Arc::clone(interrupted));
        let period = std::time::Duration::from_secs(super::jobs::HEARTBEAT_SECONDS);
        let thread = std::thread::spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                let ours = jobs::heartbeat(&store.lock().expect("store lock not poisoned"), &job, &holder, wall());
                match ours {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!(job, "the job's lease was taken over by another process: no new work starts");
                        interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
                        return;
                    }
                    Err(error) => tracing::warn!(job, %error, "could not renew the job's lease; trying again"),
                }
            }
        });
        Heartbeat { me, stop, thread }
    }

    fn stop(self, store: &Arc<Mutex<Store>>, job: &str) -> Result<(), WorkflowError> {
        drop(self.stop);
        let _ = self.thread.join();
        jobs::release_lease(&store.lock().expect("store lock not poisoned"), job, &self.me)?;
        Ok(())
    }
}
