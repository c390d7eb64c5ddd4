//! The upgrade executor: batches in order, the devices of a batch in parallel, each device
//! through the seed product's states, every state journaled before the action it announces.
//!
//! ```text
//!  run_job ──► batch 1 ──spawn──► device::upgrade(leaf1) ─┐   (one task per device, JoinSet)
//!          │           └─spawn──► device::upgrade(leaf3) ─┤──► Journal (under a mutex)
//!          │   all done, none failed?                     │──► on_event (progress, JSON lines)
//!          └─► batch 2 ...                                └──► Driver calls
//! ```
//!
//! The executor owns two ports and imports neither implementation: [`Driver`] (how it reaches a
//! device; see `crate::driver`) and [`Journal`] (where it writes; the state store implements
//! it). Each device first asks the device what is true ([`Driver::facts`]) and starts from there:
//! a device already at the target version is not upgraded again, one already in maintenance mode
//! is not drained twice, one with the target installed and pending is only rebooted. The same
//! code therefore runs a fresh job and resumes a killed one. A failed device stays in maintenance
//! mode (the safe place) and the job halts before the next batch. Cancelling stops new work: a
//! device that has not begun its image upgrade is returned to service, one that has is finished
//! first. A pause for approval is taken before a batch starts, never inside one: a paused job
//! has every device either in service or not begun.

mod device;
pub mod driver;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub use driver::{Chassis, Driver, DriverError, Engine, Facts, Installed};

use crate::health::HealthLimits;
use crate::image::Image;
use crate::journal::{DeviceState, Entry, Event, JobState, Journal, JournalError, PauseKind, Step};

/// One device's work in a job: the device, and the image it is to run.
#[derive(Clone, Debug)]
pub struct WorkItem {
    /// Device name.
    pub device: String,
    /// The batch the job's plan put the device in (1-based; a resumed job keeps its numbers).
    pub batch: u32,
    /// The image.
    pub image: Image,
    /// The version the device ran before this job (the scenario's), which a rollback returns
    /// it to when the device itself no longer shows it.
    pub previous_version: crate::version::Version,
    /// True when the journal shows the device already began (a resumed job).
    pub started: bool,
    /// True when the journal shows that hitless installed this image on the device and has not
    /// rebooted it since: a pending install the device reports is then this image. Junos does
    /// not say which package is pending, so any other pending install stops the device.
    pub pending_is_ours: bool,
    /// True when the journal shows this device's upgrade already failed in this job (a failure
    /// after its install began, or a rollback begun): it is never upgraded again in the job. A
    /// resumed job finishes its rollback (`on_failure: rollback`) or holds it.
    pub failed_earlier: bool,
    /// True when the journal shows hitless requested this device's rollback and has not rebooted
    /// it since: a pending install the device reports is then that rollback.
    pub rollback_pending: bool,
    /// True when `hitless stage` recorded this image staged on the device: a copy found missing
    /// or changed then says so.
    pub staged_recorded: bool,
    /// Seconds the device's protocols take to converge after its reboot (its role's, the
    /// planner's figure): the post-upgrade check waits this long, so the device is back in use
    /// before maintenance mode is lifted and the next batch starts.
    pub convergence_seconds: u32,
    /// `Some` when the device is upgraded by Smart System Upgrade (`upgrade.method`): no
    /// maintenance mode, `reload fast-boot`, and this convergence (no MLAG reload-delay: its
    /// ports never go down). A switch that refuses it at run time is drained and reloaded, with
    /// `convergence_seconds`, `drain_seconds` and `undrain_seconds`.
    pub ssu_convergence_seconds: Option<u32>,
    /// Seconds the post-upgrade check watches the device (its role's `post_check_seconds`)
    /// before its reading: errors and flaps are counted from the pre-upgrade reading through
    /// this soak, so a device that degrades once in use is caught before traffic returns.
    pub post_check_seconds: u32,
    /// Seconds traffic takes to move off the device once maintenance mode is committed (its
    /// role's `drain_seconds`): nothing disruptive happens before they have passed.
    pub drain_seconds: u32,
    /// The device's estimated upgrade time as the executor runs it: its role's (the planner's
    /// figure) and the pre-check's readings. A batch starts in a maintenance window only if its
    /// slowest device ends inside it.
    pub estimated_seconds: u64,
    /// Seconds traffic takes to come back once maintenance mode is lifted (`undrain_seconds`):
    /// the device is done, and the next batch may start, only after them.
    pub undrain_seconds: u32,
}

/// When a job may run batches.
#[derive(Clone, Debug)]
pub enum WindowSpan {
    /// A daily window (`upgrade.window`).
    Daily(crate::window::Window),
    /// Until a time, then never (`--window-end`): Unix seconds.
    Until(i64),
}

impl crate::window::Opening for WindowSpan {
    fn open_until(&self, unix: i64) -> Option<i64> {
        match self {
            WindowSpan::Daily(window) => window.open_at(unix),
            WindowSpan::Until(end) => (unix < *end).then_some(*end),
        }
    }

    fn next_open(&self, unix: i64) -> Option<i64> {
        match self {
            WindowSpan::Daily(window) => window.next_open(unix),
            WindowSpan::Until(_) => None,
        }
    }
}

/// The maintenance window a job keeps to, and how its clock maps to the wall clock.
#[derive(Clone)]
pub struct WindowRule {
    /// The window.
    pub span: WindowSpan,
    /// The window's zone, for messages.
    pub zone: jiff::tz::TimeZone,
    /// Wall-clock Unix seconds at a reading of the job's clock (virtual time for virtual devices
    /// and labs, so a window is kept in their time).
    pub wall_at: Arc<dyn Fn(f64) -> i64 + Send + Sync>,
}

impl WindowRule {
    fn describe(&self) -> String {
        match &self.span {
            WindowSpan::Daily(window) => window.describe(),
            WindowSpan::Until(end) => format!("until {}", self.describe_time(*end)),
        }
    }

    fn describe_time(&self, unix: i64) -> String {
        jiff::Timestamp::from_second(unix)
            .map(|t| t.to_zoned_datetime(self.zone.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_else(|_| unix.to_string())
    }
}

/// The job's clock: wall-clock Unix seconds, and seconds since the job started on the job's own
/// clock (virtual time for the virtual driver).
pub type Clock = Arc<dyn Fn() -> (i64, f64) + Send + Sync>;

/// Called after every journaled event (progress display, JSON event stream).
pub type OnEvent = Arc<dyn Fn(&Event) + Send + Sync>;

/// The journal a job writes through, shared by its device tasks.
pub type SharedJournal = Arc<Mutex<dyn Journal>>;

/// Everything a job's tasks share.
pub struct JobContext<D: Driver> {
    /// The driver.
    pub driver: Arc<D>,
    /// Where the job's journal is written.
    pub journal: SharedJournal,
    /// Job id.
    pub job: String,
    /// The job's tag on the maintenance markers it commits (`job-0001/STORE@HOST`): a device in
    /// maintenance mode whose marker names another job is not touched.
    pub owner: String,
    /// Health-check limits.
    pub limits: HealthLimits,
    /// Whether a failed health check stops the device's upgrade.
    pub abort_on_health_check_failure: bool,
    /// Whether a device whose upgrade or post-upgrade check failed is rolled back to its old
    /// software and returned to service (`upgrade.on_failure: rollback`) instead of held.
    pub rollback_on_failure: bool,
    /// How long to wait for a device to come back from its reboot, in seconds.
    pub boot_deadline_seconds: u64,
    /// Real time between the two readings of a health check (`sample_seconds` on the job's
    /// clock).
    pub health_sample: std::time::Duration,
    /// Job seconds per real second (1 for real switches; a lab's time scale; the virtual
    /// devices' speed).
    pub time_scale: f64,
    /// The job's clock.
    pub clock: Clock,
    /// Progress callback.
    pub on_event: OnEvent,
    /// Set by Ctrl-C.
    pub interrupted: Arc<AtomicBool>,
    /// Whether the journal already says Ctrl-C was pressed.
    pub interrupt_noted: AtomicBool,
    /// The operator running the job in this process (who pressed Ctrl-C), for the journal.
    pub operator: String,
    /// The batches (by number) after which the job pauses for the operator's approval, each
    /// with the reason to record (`upgrade.pause`). The job's last batch never pauses.
    pub pause_after: std::collections::BTreeMap<u32, String>,
    /// The last batch after which the operator approved going on: pauses up to it are taken.
    pub approved_through: u32,
    /// The maintenance window the job keeps to, if any.
    pub window: Option<WindowRule>,
    /// Asked before a batch none of whose devices began (the fabric as it is then): `Err` with
    /// the reason halts the job before the batch, nothing touched.
    pub before_batch: Option<BeforeBatch>,
}

/// The check before a batch: given the batch's devices and every later batch's, by name.
pub type BeforeBatch = Arc<
    dyn Fn(Vec<Vec<String>>) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

impl<D: Driver> JobContext<D> {
    /// Journals `state` and `step` for `device` (before the action it announces) and reports it.
    pub fn record(
        &self,
        device: &str,
        state: DeviceState,
        step: Step,
        message: impl Into<String>,
    ) -> Result<(), JournalError> {
        let (at_unix, at_seconds) = (self.clock)();
        let message = message.into();
        // A device's failure is a warning in the log, so a log kept at its default level (warnings
        // and errors) still says why a job halted.
        if step == Step::Failed || state == DeviceState::RolledBack {
            tracing::warn!(device, state = state.label(), step = step.as_str(), at_seconds, "{message}");
        } else {
            tracing::info!(device, state = state.label(), step = step.as_str(), at_seconds, "{message}");
        }
        let entry = Entry { device, state, step, message: &message, at_unix, at_seconds, by: "" };
        let event = blocking(|| self.journal.lock().expect("journal lock not poisoned").record(&self.job, &entry))?;
        (self.on_event)(&event);
        Ok(())
    }

    /// True once the operator asked to stop (Ctrl-C here, or `hitless cancel` elsewhere). The
    /// first time Ctrl-C is seen, the journal says so.
    pub fn cancelled(&self) -> bool {
        if self.interrupted.load(Ordering::SeqCst) {
            if !self.interrupt_noted.swap(true, Ordering::SeqCst) {
                let message =
                    format!("cancel requested by {} with Ctrl-C in the terminal running the job", self.operator);
                // A process whose job was taken over cannot write: it stops all the same.
                if let Err(error) = job_note_by(self, Step::Cancel, &message, &self.operator) {
                    tracing::warn!(%error, "the Ctrl-C could not be journaled");
                }
            }
            return true;
        }
        blocking(|| {
            self.journal.lock().expect("journal lock not poisoned").cancel_requested(&self.job).unwrap_or(false)
        })
    }
}

/// Runs `batches` in order. Returns the state the job stopped in (finished, halted, cancelled,
/// or paused for approval after a batch `pause_after` names); the journal says the same.
pub async fn run_job<D: Driver>(
    ctx: Arc<JobContext<D>>,
    batches: Vec<Vec<WorkItem>>,
) -> Result<JobState, JournalError> {
    use tracing::Instrument;
    let span = tracing::info_span!("job", job = %ctx.job);
    async move {
        let state = run_batches(&ctx, batches).await;
        match &state {
            Ok(state @ (JobState::Halted | JobState::Cancelled)) => tracing::warn!(state = state.as_str(), "job ended"),
            Ok(state) => tracing::info!(state = state.as_str(), "job ended"),
            Err(error) => tracing::error!(%error, "job stopped: its journal cannot be written"),
        }
        state
    }
    .instrument(span)
    .await
}

async fn run_batches<D: Driver>(
    ctx: &Arc<JobContext<D>>,
    batches: Vec<Vec<WorkItem>>,
) -> Result<JobState, JournalError> {
    use tracing::Instrument;
    let names: Vec<Vec<String>> = batches.iter().map(|b| b.iter().map(|t| t.device.clone()).collect()).collect();
    for (index, batch) in batches.into_iter().enumerate() {
        let batch_number = batch.first().map_or(index as u32 + 1, |item| item.batch);
        tracing::info!(batch = batch_number, devices = batch.len(), "batch starts");
        // A batch none of whose devices began is simply not started; a begun one is run, and
        // each device then handles the cancel itself (finishing or returning to service).
        if ctx.cancelled() && batch.iter().all(|t| !t.started) {
            return finish(ctx, JobState::Cancelled, &batch_rest(&batch));
        }
        // A pause is taken before the next batch starts, not as the previous one ends, so a
        // process that dies in between still pauses when the job is resumed.
        let previous = batch_number.saturating_sub(1);
        if previous > ctx.approved_through
            && batch.iter().all(|t| !t.started)
            && let Some(reason) = ctx.pause_after.get(&previous)
        {
            return pause(ctx, previous, PauseKind::Approval, reason);
        }
        if let Some(rule) = &ctx.window
            && batch.iter().all(|t| !t.started)
        {
            let estimate = batch.iter().map(|t| t.estimated_seconds).max().unwrap_or(0);
            if let Some(stop) = keep_to_window(ctx, rule, index == 0, batch_number, estimate).await? {
                return Ok(stop);
            }
        }
        if let Some(check) = &ctx.before_batch
            && batch.iter().all(|t| !t.started)
            && let Err(why) = check(names[index..].to_vec()).await
        {
            let message = format!(
                "halted before batch {batch_number}, nothing of it touched: {why}; bring the devices back, then `hitless resume {}`",
                ctx.job
            );
            job_note(ctx, Step::Halt, &message)?;
            tracing::warn!(batch = batch_number, why, "halted before a batch: the fabric is not as planned");
            return finish(ctx, JobState::Halted, &[]);
        }
        let mut tasks = tokio::task::JoinSet::new();
        let mut names = std::collections::HashMap::new();
        for item in batch {
            let ctx = Arc::clone(ctx);
            let device = item.device.clone();
            let span = tracing::info_span!("device", batch = batch_number, device = %item.device);
            let handle = tasks.spawn(async move { device::upgrade(&ctx, &item).await }.instrument(span));
            names.insert(handle.id(), device);
        }
        let mut failed = false;
        let mut cancelled = false;
        while let Some(result) = tasks.join_next_with_id().await {
            let state = match result {
                Ok((_, state)) => state?,
                // A bug in one device's task fails that device, not the job's process: the
                // device is left as it is, and the job halts after the batch.
                Err(error) => {
                    let device = names.get(&error.id()).cloned().unwrap_or_default();
                    internal_failure(ctx, &device, error)?
                }
            };
            failed |= state.is_failure();
            cancelled |= state == DeviceState::Cancelled;
        }
        if failed {
            return finish(ctx, JobState::Halted, &[]);
        }
        if cancelled {
            return finish(ctx, JobState::Cancelled, &[]);
        }
    }
    finish(ctx, JobState::Finished, &[])
}

/// Records a note about the job itself (not a device).
fn job_note<D: Driver>(ctx: &JobContext<D>, step: Step, message: &str) -> Result<(), JournalError> {
    job_note_by(ctx, step, message, "")
}

/// [`job_note`] of what `by` did.
fn job_note_by<D: Driver>(ctx: &JobContext<D>, step: Step, message: &str, by: &str) -> Result<(), JournalError> {
    let (at_unix, at_seconds) = (ctx.clock)();
    let entry = Entry { device: "", state: DeviceState::Pending, step, message, at_unix, at_seconds, by };
    let event = blocking(|| ctx.journal.lock().expect("journal lock not poisoned").record(&ctx.job, &entry))?;
    (ctx.on_event)(&event);
    Ok(())
}

/// Before batch `batch` (estimated `estimate` seconds) starts: inside the window with room for
/// it, go on (`None`); before the window opens, at the start of a run, wait for it; otherwise
/// pause the job for the window (`Some(Paused)`), or stop if cancelled while waiting.
async fn keep_to_window<D: Driver>(
    ctx: &JobContext<D>,
    rule: &WindowRule,
    first_of_run: bool,
    batch: u32,
    estimate: u64,
) -> Result<Option<JobState>, JournalError> {
    use crate::window::{BeforeBatch, before_batch};
    let when = |unix: i64| rule.describe_time(unix);
    let now = || (rule.wall_at)((ctx.clock)().1);
    let mut step = before_batch(&rule.span, now(), estimate, first_of_run);
    if let BeforeBatch::Wait { opens } = step {
        let wait = (opens - now()).max(0);
        let message = format!(
            "waiting for the maintenance window ({}): it opens at {} (in {} min); `--now` starts at once",
            rule.describe(),
            when(opens),
            (wait + 59) / 60
        );
        job_note(ctx, Step::WindowWait, &message)?;
        tracing::info!(opens, "waiting for the maintenance window");
        // In steps, so Ctrl-C or `hitless cancel` ends the wait.
        while now() < opens {
            if ctx.interrupted.load(Ordering::SeqCst) {
                // Ctrl-C stops the wait, not the job: nothing has begun, and the job stays
                // paused for the window, to be resumed (`hitless cancel` ends it).
                let reason = format!(
                    "before batch {batch}: the wait for the maintenance window ({}) was stopped with Ctrl-C",
                    rule.describe()
                );
                return pause(ctx, batch.saturating_sub(1), PauseKind::Window, &reason).map(Some);
            }
            if ctx.cancelled() {
                return finish(ctx, JobState::Cancelled, &[]).map(Some);
            }
            let left = (opens - now()) as f64 / ctx.time_scale;
            tokio::time::sleep(std::time::Duration::from_secs_f64(left.clamp(0.001, 5.0))).await;
        }
        // Open now: the batch starts if it fits; waiting again would only loop.
        step = before_batch(&rule.span, now(), estimate, false);
    }
    let reason = match step {
        BeforeBatch::Go => return Ok(None),
        BeforeBatch::Over => format!("before batch {batch}: the maintenance window ({}) is over", rule.describe()),
        BeforeBatch::Pause { closes: Some(closes) } => format!(
            "before batch {batch}: it is estimated at {} min and would end after the maintenance window ({}) closes at {}",
            estimate.div_ceil(60),
            rule.describe(),
            when(closes)
        ),
        BeforeBatch::Pause { closes: None } | BeforeBatch::Wait { .. } => {
            format!("before batch {batch}: the maintenance window ({}) is closed", rule.describe())
        }
    };
    pause(ctx, batch.saturating_sub(1), PauseKind::Window, &reason).map(Some)
}

/// Pauses the job after batch `after`, for approval or for the maintenance window.
fn pause<D: Driver>(ctx: &JobContext<D>, after: u32, kind: PauseKind, reason: &str) -> Result<JobState, JournalError> {
    let (at_unix, at_seconds) = (ctx.clock)();
    let job = &ctx.job;
    let message = match kind {
        PauseKind::Approval => {
            format!("paused {reason}; `hitless approve {job}` goes on, `hitless cancel {job}` stops")
        }
        PauseKind::Window => {
            format!("paused {reason}; `hitless resume {job}` goes on in the next window, `hitless cancel {job}` stops")
        }
    };
    let entry = Entry {
        device: "",
        state: DeviceState::Pending,
        step: Step::Pause,
        message: &message,
        at_unix,
        at_seconds,
        by: "",
    };
    let event = blocking(|| {
        let mut journal = ctx.journal.lock().expect("journal lock not poisoned");
        journal.pause(job, after, kind, reason)?;
        journal.record(job, &entry)
    })?;
    (ctx.on_event)(&event);
    tracing::info!(after_batch = after, kind = kind.as_str(), reason, "job paused");
    Ok(JobState::Paused)
}

/// Records that `device`'s task died of a bug (a panic, or was aborted): the device fails
/// where it stands.
fn internal_failure<D: Driver>(
    ctx: &JobContext<D>,
    device: &str,
    error: tokio::task::JoinError,
) -> Result<DeviceState, JournalError> {
    let why = if error.is_panic() {
        let payload = error.into_panic();
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string())
    } else {
        "the task was aborted".to_string()
    };
    tracing::error!(device, why, "a device task failed internally");
    let message = format!(
        "hitless failed internally while working on this device ({why}); the device is left as it is (in maintenance mode if it was put there) and the job halts after this batch; please report this with `hitless logs`"
    );
    ctx.record(device, DeviceState::HitlessImageUpgradeFailed, Step::Failed, message)?;
    Ok(DeviceState::HitlessImageUpgradeFailed)
}

fn batch_rest(batch: &[WorkItem]) -> Vec<String> {
    batch.iter().map(|t| t.device.clone()).collect()
}

fn finish<D: Driver>(ctx: &JobContext<D>, end: JobState, not_started: &[String]) -> Result<JobState, JournalError> {
    assert!(
        matches!(end, JobState::Finished | JobState::Halted | JobState::Cancelled),
        "a job ends finished, halted or cancelled"
    );
    if end == JobState::Cancelled {
        let devices = blocking(|| ctx.journal.lock().expect("journal lock not poisoned").devices(&ctx.job))?;
        let pending =
            devices.into_iter().filter(|d| d.state == DeviceState::Pending || not_started.contains(&d.device));
        for device in pending {
            ctx.record(&device.device, DeviceState::Cancelled, Step::Note, "not started: the job was cancelled")?;
        }
    }
    blocking(|| ctx.journal.lock().expect("journal lock not poisoned").set_state(&ctx.job, end))?;
    Ok(end)
}

/// Runs `write` (a journal write: an SQLite transaction and its fsync) where it stalls no other
/// device's task: on a multi-threaded runtime the worker first hands its other tasks to another
/// thread (`block_in_place`); on the current-thread runtime of virtual time (where every task
/// waits on the paused clock anyway, and order is what makes a run reproducible), in place.
pub(crate) fn blocking<T>(write: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(write)
        }
        _ => write(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;
    use std::time::Duration;

    /// On the multi-threaded runtime a journal write hands the worker's other tasks away: with a
    /// single worker busy in a write that waits for another task, that task still runs. (Were the
    /// write done in place, it would wait out its bound and fail.)
    #[test]
    fn a_journal_write_stalls_no_other_task_on_the_multi_threaded_runtime() {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
        runtime.block_on(async {
            let (started_tx, started) = channel();
            let (done_tx, done) = channel::<()>();
            let writer = tokio::spawn(async move {
                started_tx.send(()).expect("the test waits");
                super::blocking(|| done.recv_timeout(Duration::from_secs(60)).is_ok())
            });
            started.recv_timeout(Duration::from_secs(60)).expect("the writer started");
            tokio::spawn(async move { done_tx.send(()).expect("the writer waits") });
            assert!(writer.await.expect("the writer ends"), "the other task never ran during the write");
        });
    }
}
