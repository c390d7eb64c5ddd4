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
}

/// How a job run ended.
#[derive(Clone, Debug)]
pub struct JobSummary {
    /// The job.
    pub job: String,
    /// Finished, halted or cancelled.
    pub state: JobState,
    /// Every device with its final state and last message.
    pub devices: Vec<JobDevice>,
    /// What the traffic lost during the execution, replayed through the traffic model.
    pub loss: ExecutionLoss,
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
    let clock: exec::Clock = Arc::new(move || (wall(), offset + start.elapsed().as_secs_f64() * scale));
    let journal: exec::SharedJournal = Arc::clone(store) as exec::SharedJournal;
    let ctx = Arc::new(JobContext {
        driver,
        journal,
        job: job.to_string(),
        limits: scenario.health_limits.clone(),
        abort_on_health_check_failure: scenario.abort_on_health_check_failure,
        boot_deadline_seconds: super::boot_deadline_seconds(scenario),
        health_sample: super::health_sample(scenario, scale),
        time_scale: scale,
        clock,
        on_event: settings.on_event,
        interrupted: settings.interrupted,
    });
    let state = exec::run_job(ctx, work).await?;
    let store = store.lock().expect("store lock not poisoned");
    let events = jobs::events(&store, job, None)?;
    let loss = replay(scenario, &events);
    let devices = jobs::devices(&store, job)?;
    Ok(JobSummary { job: job.to_string(), state, devices, loss })
}
