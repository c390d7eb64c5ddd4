//! The upgrade executor: batches in order, the devices of a batch in parallel, each device
//! through the seed product's states, every state journaled before the action it announces.
//!
//! ```text
//!  run_job ──► batch 1 ──spawn──► upgrade_device(leaf1) ─┐   (one task per device, JoinSet)
//!          │           └─spawn──► upgrade_device(leaf3) ─┤──► journal (store, under a mutex)
//!          │   all done, none failed?                    │──► on_event (progress, JSON lines)
//!          └─► batch 2 ...                               └──► Driver calls
//! ```
//!
//! Each device first asks the device what is true ([`Driver::facts`]) and starts from there: a
//! device already at the target version is not upgraded again, one already in maintenance mode is
//! not drained twice, one with the target installed and pending is only rebooted. The same code
//! therefore runs a fresh job and resumes a killed one. A failed device stays in maintenance mode
//! (the safe place) and the job halts before the next batch. Cancelling stops new work: a device
//! that has not begun its image upgrade is returned to service, one that has is finished first.

mod device;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::driver::Driver;
use crate::health::HealthLimits;
use crate::image::Image;
use crate::journal::{DeviceState, Event, JobState};
use crate::store::{Store, StoreError, jobs};

/// One device to upgrade, and to what.
#[derive(Clone, Debug)]
pub struct Target {
    /// Device name.
    pub device: String,
    /// The image.
    pub image: Image,
    /// True when the journal shows the device already began (a resumed job).
    pub started: bool,
}

/// The job's clock: wall-clock Unix seconds, and seconds since the job started on the job's own
/// clock (virtual time for the simulated driver).
pub type Clock = Arc<dyn Fn() -> (i64, f64) + Send + Sync>;

/// Called after every journaled event (progress display, JSON event stream).
pub type OnEvent = Arc<dyn Fn(&Event) + Send + Sync>;

/// Everything a job's tasks share.
pub struct JobContext<D: Driver> {
    /// The driver.
    pub driver: Arc<D>,
    /// The store holding the journal.
    pub store: Arc<Mutex<Store>>,
    /// Job id.
    pub job: String,
    /// Health-check limits.
    pub limits: HealthLimits,
    /// Whether a failed health check stops the device's upgrade.
    pub abort_on_health_check_failure: bool,
    /// How long to wait for a device to come back from its reboot, in seconds.
    pub boot_deadline_seconds: u64,
    /// The job's clock.
    pub clock: Clock,
    /// Progress callback.
    pub on_event: OnEvent,
    /// Set by Ctrl-C.
    pub interrupted: Arc<AtomicBool>,
}

impl<D: Driver> JobContext<D> {
    /// Journals `state` for `device` (before the action it announces) and reports it.
    pub fn record(&self, device: &str, state: DeviceState, message: impl Into<String>) -> Result<(), StoreError> {
        let (at_unix, at_seconds) = (self.clock)();
        let message = message.into();
        let event = {
            let mut store = self.store.lock().expect("journal lock not poisoned");
            jobs::record(&mut store, &self.job, device, state, &message, at_unix, at_seconds)?
        };
        (self.on_event)(&event);
        Ok(())
    }

    /// True once the operator asked to stop (Ctrl-C here, or `hitless cancel` elsewhere).
    pub fn cancelled(&self) -> bool {
        if self.interrupted.load(Ordering::SeqCst) {
            return true;
        }
        let store = self.store.lock().expect("journal lock not poisoned");
        jobs::get(&store, &self.job).map(|j| j.cancel_requested).unwrap_or(false)
    }
}

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every device upgraded (or skipped).
    Finished,
    /// A device failed; the job stopped before the next batch.
    Halted,
    /// The operator cancelled.
    Cancelled,
}

/// Runs `batches` in order. Returns how the job ended; the job's state in the store says the
/// same.
pub async fn run_job<D: Driver>(ctx: Arc<JobContext<D>>, batches: Vec<Vec<Target>>) -> Result<Outcome, StoreError> {
    for batch in batches {
        // A batch none of whose devices began is simply not started; a begun one is run, and
        // each device then handles the cancel itself (finishing or returning to service).
        if ctx.cancelled() && batch.iter().all(|t| !t.started) {
            return finish(&ctx, Outcome::Cancelled, &batch_rest(&batch));
        }
        let mut tasks = tokio::task::JoinSet::new();
        for target in batch {
            let ctx = Arc::clone(&ctx);
            tasks.spawn(async move { device::upgrade(&ctx, &target).await });
        }
        let mut failed = false;
        let mut cancelled = false;
        while let Some(result) = tasks.join_next().await {
            let state = result.expect("device tasks do not panic")?;
            failed |= state.is_failure();
            cancelled |= state == DeviceState::Cancelled;
        }
        if failed {
            return finish(&ctx, Outcome::Halted, &[]);
        }
        if cancelled {
            return finish(&ctx, Outcome::Cancelled, &[]);
        }
    }
    finish(&ctx, Outcome::Finished, &[])
}

fn batch_rest(batch: &[Target]) -> Vec<String> {
    batch.iter().map(|t| t.device.clone()).collect()
}

fn finish<D: Driver>(ctx: &JobContext<D>, outcome: Outcome, not_started: &[String]) -> Result<Outcome, StoreError> {
    let store = ctx.store.lock().expect("journal lock not poisoned");
    if outcome == Outcome::Cancelled {
        let pending: Vec<String> = jobs::devices(&store, &ctx.job)?
            .into_iter()
            .filter(|d| d.state == DeviceState::Pending || not_started.contains(&d.device))
            .map(|d| d.device)
            .collect();
        drop(store);
        for device in pending {
            ctx.record(&device, DeviceState::Cancelled, "not started: the job was cancelled")?;
        }
        let store = ctx.store.lock().expect("journal lock not poisoned");
        jobs::set_state(&store, &ctx.job, JobState::Cancelled)?;
        return Ok(outcome);
    }
    let state = if outcome == Outcome::Finished { JobState::Finished } else { JobState::Halted };
    jobs::set_state(&store, &ctx.job, state)?;
    Ok(outcome)
}
