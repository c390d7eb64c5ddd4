//! Turning batches into a timed schedule of device actions, as the executor runs them, faults,
//! rollbacks, pauses and maintenance-window waits included.
//!
//! Batches run in order; the devices of a batch start together and the next batch starts when
//! the slowest has finished. Per device, the steps the executor journals, each as long as the
//! executor spends in it: the pre-check's two health readings `sample_seconds` apart, then from
//! the timing profile (each phase scaled by a seeded jitter factor when `simulation.jitter` is
//! set):
//!
//! ```text
//! pre-check | drain | copy | install | wait-boot (down) | booted: convergence | post-check | undrain
//!           ^Drain                   ^Down              ^Up                                ^Undrain
//! ```
//!
//! (the post-check watches the device `post_check_seconds` before its reading). Each device's
//! steps are kept with their times ([`Schedule::devices`]), named as the journal names them,
//! `failed` included; the job's own steps (`pause`, `window-wait`) in [`Schedule::job`].
//!
//! With `upgrade.drain: false` there is no drain or undrain phase and no maintenance mode. A
//! Smart System Upgrade device (`upgrade.method`, `TimingProfile::ssu_devices`) has none either:
//! it is not down during its reboot (the data plane forwards), but forwards nothing, links up,
//! for [`crate::timing::SSU_OUTAGE_MS`] at its end; one that fails is drained there.
//!
//! The scenario's faults play out as the virtual driver plays them and the executor answers
//! them: `slow` triples its phase; `hang` stops the device with its links up, and each call to
//! it then times out after [`HUNG_TIMEOUT_SECONDS`] (a retried call twice); `never-returns`
//! leaves it down until the boot deadline; a `drain-ineffective` device is polled every 10 s
//! for `drain_verify_seconds` and its maintenance mode lifted again; `lock-held` fails it at
//! once. A device whose copy, install or post-upgrade check fails is held in maintenance mode,
//! or with `upgrade.on_failure: rollback` rolled back (rebooted into its old software if it
//! runs the new one), checked and returned to service. A device that fails halts the job after
//! its batch, as the executor does: later batches do not run.
//!
//! Before each batch the job pauses where `upgrade.pause` asks (the schedule goes on as if
//! approved at once: a pause costs the job's clock nothing) and, given a maintenance window and
//! the second the job starts, keeps to the window as the executor does: a run's first batch
//! waits for the window to open if it does not fit, a later one pauses the job and its resume
//! waits.

use hitless_sim::{Action, SimTime};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::network::node;
use super::seconds_to_ms;
use crate::faults::{Fault, FaultKind, FaultPhase, HUNG_TIMEOUT_SECONDS, fault_at};
use crate::health::{DRAIN_POLL_SECONDS, HealthLimits};
use crate::journal::Step;
use crate::model::{DeviceId, Fabric};
use crate::timing::{PhaseDurations, TimingProfile};

/// When one batch ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The batch started (first drain).
    pub start: SimTime,
    /// The batch's slowest device finished.
    pub end: SimTime,
    /// Every device of the batch that goes down was down.
    pub all_down: SimTime,
}

/// A device that failed, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The device.
    pub device: DeviceId,
    /// The fault.
    pub kind: FaultKind,
    /// Where.
    pub at: FaultPhase,
}

/// One step in the schedule: the journal's step name, and when it starts and ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepSpan {
    /// The step, as the journal names it (`pre-check`, `drain`, `copy`, ...).
    pub step: Step,
    /// When it starts.
    pub start: SimTime,
    /// When it ends.
    pub end: SimTime,
}

/// What the executor keeps to beyond the batches: the scenario's settings that decide how long
/// it waits and what it does when something fails.
pub struct Rules<'a> {
    /// Each role's phase durations.
    pub timing: &'a TimingProfile,
    /// Maintenance mode around the upgrade (`upgrade.drain`).
    pub drain: bool,
    /// Health-check settings: the readings' spacing, the snapshot diff, the drain proof.
    pub limits: &'a HealthLimits,
    /// A failed check stops the device (`upgrade.abort_on_health_check_failure`).
    pub abort_on_health_check_failure: bool,
    /// A failed device is rolled back (`upgrade.on_failure: rollback`) rather than held.
    pub rollback_on_failure: bool,
    /// Devices whose image was staged ahead: their copy is a check, and takes no time.
    pub staged: &'a [DeviceId],
    /// `simulation.jitter`: each timed phase scaled by a factor within ±jitter.
    pub jitter: f64,
    /// The faults to play.
    pub faults: &'a [Fault],
    /// The batches (1-based) after which the job pauses for approval (`upgrade.pause`).
    pub pause_after: &'a [u32],
    /// The maintenance window, and the Unix second the job starts at.
    pub window: Option<(&'a crate::window::Window, i64)>,
}

/// A schedule: actions in time order, each batch's window, and the failures that halt the job.
pub struct Schedule {
    /// What to do when.
    pub actions: Vec<(SimTime, Action)>,
    /// Every device that runs, with its batch (1-based) and its steps in order.
    pub devices: Vec<(DeviceId, usize, Vec<StepSpan>)>,
    /// The job's own steps: its pauses and maintenance-window waits.
    pub job: Vec<StepSpan>,
    /// One window per batch that runs.
    pub windows: Vec<Window>,
    /// The devices that failed in the last batch that ran (the job halts after it).
    pub failures: Vec<Failure>,
    /// The batch (1-based) that can never start inside the maintenance window: the job pauses
    /// before it for good.
    pub never_fits: Option<usize>,
}

/// Builds the schedule of `batches` under `rules`. `seed` drives the jitter.
pub fn build(fabric: &Fabric, batches: &[Vec<DeviceId>], rules: &Rules, seed: u64) -> Schedule {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut schedule = Schedule {
        actions: Vec::new(),
        devices: Vec::new(),
        job: Vec::new(),
        windows: Vec::with_capacity(batches.len()),
        failures: Vec::new(),
        never_fits: None,
    };
    let mut start = SimTime::ZERO;
    // The first batch of a run (the job's start, or its resume after a pause) waits for a
    // window that has no room for it; a later one pauses the job.
    let mut first_of_run = true;
    for (index, batch) in batches.iter().enumerate() {
        let number = index + 1;
        if index > 0 && rules.pause_after.contains(&(index as u32)) {
            schedule.job.push(StepSpan { step: Step::Pause, start, end: start });
            first_of_run = true;
        }
        if let Some((window, start_unix)) = rules.window {
            let run = |d: &DeviceId| crate::timing::device_run_seconds_of(rules.timing, fabric, *d, rules.limits);
            let estimate = batch.iter().map(run).max().unwrap_or(0);
            let kept = keep_to_window(window, start_unix, estimate, first_of_run, &mut start, &mut schedule.job);
            if !kept {
                schedule.never_fits = Some(number);
                break;
            }
        }
        first_of_run = false;
        let mut end = start;
        let mut all_down = start;
        for &device in batch {
            let mut walk = DeviceWalk {
                device,
                fabric,
                rules,
                staged: rules.staged.contains(&device),
                actions: &mut schedule.actions,
                steps: Vec::new(),
            };
            let outcome = walk.walk(start, &mut |seconds: u32| {
                let factor = if rules.jitter > 0.0 { 1.0 + rng.random_range(-rules.jitter..rules.jitter) } else { 1.0 };
                seconds_to_ms(f64::from(seconds) * factor)
            });
            schedule.devices.push((device, number, std::mem::take(&mut walk.steps)));
            end = end.max(outcome.end);
            if let Some(down) = outcome.down {
                all_down = all_down.max(down);
            }
            schedule.failures.extend(outcome.failure);
        }
        schedule.windows.push(Window { start, end, all_down });
        start = end;
        if !schedule.failures.is_empty() {
            break;
        }
    }
    schedule.actions.sort_by_key(|(t, _)| *t);
    schedule
}

/// Before a batch of `seconds`, at `*at` of a job that started at Unix second `start_unix`: the
/// executor's rule ([`crate::window::before_batch`], its clock read in whole seconds), with every
/// pause resumed at once (a resume starts a run, which waits). Moves `*at` past any wait and
/// records the pauses and waits in `job`. False when the batch can never start.
fn keep_to_window(
    window: &crate::window::Window,
    start_unix: i64,
    seconds: u64,
    first_of_run: bool,
    at: &mut SimTime,
    job: &mut Vec<StepSpan>,
) -> bool {
    use crate::window::{BeforeBatch, before_batch};
    let now = |at: SimTime| start_unix + (at.millis() / 1000) as i64;
    let mut step = before_batch(window, now(*at), seconds, first_of_run);
    if let BeforeBatch::Pause { .. } = step {
        job.push(StepSpan { step: Step::Pause, start: *at, end: *at });
        step = before_batch(window, now(*at), seconds, true);
    }
    if let BeforeBatch::Wait { opens } = step {
        let waited = at.after_millis(u64::try_from(opens - now(*at)).unwrap_or(0) * 1000);
        job.push(StepSpan { step: Step::WindowWait, start: *at, end: waited });
        *at = waited;
        step = before_batch(window, now(*at), seconds, false);
    }
    if step == BeforeBatch::Go {
        return true;
    }
    // Paused again after a wait (the window has no room for it), or no window opens: for good.
    job.push(StepSpan { step: Step::Pause, start: *at, end: *at });
    false
}

/// One device's walk through its steps.
struct DeviceWalk<'a, 'r> {
    device: DeviceId,
    fabric: &'a Fabric,
    rules: &'a Rules<'r>,
    /// Its image was staged ahead.
    staged: bool,
    actions: &'a mut Vec<(SimTime, Action)>,
    steps: Vec<StepSpan>,
}

/// Where a device's walk ended.
struct Walked {
    end: SimTime,
    down: Option<SimTime>,
    failure: Option<Failure>,
}

/// A hung device's call times out once; retried, twice.
const HUNG_MS: u64 = HUNG_TIMEOUT_SECONDS * 1000;

impl DeviceWalk<'_, '_> {
    fn fault(&self, phase: FaultPhase) -> Option<FaultKind> {
        fault_at(self.rules.faults, &self.fabric.device(self.device).name, phase)
    }

    /// The duration of `phase`, tripled by a `slow` fault there.
    fn duration(&self, phase: FaultPhase, seconds: u32, scaled: &mut dyn FnMut(u32) -> u64) -> u64 {
        let factor = if self.fault(phase) == Some(FaultKind::Slow) { 3 } else { 1 };
        scaled(seconds) * factor
    }

    /// Records `step` from `start` to `end`.
    fn step(&mut self, step: Step, start: SimTime, end: SimTime) {
        self.steps.push(StepSpan { step, start, end });
    }

    fn act(&mut self, at: SimTime, action: fn(hitless_sim::NodeId) -> Action) {
        self.actions.push((at, action(node(self.device))));
    }

    /// The device hangs at `at` in `step`, whose call (retried once) times out twice: the step
    /// lasts until then, and the device fails there.
    fn hangs(&mut self, step: Step, at: SimTime, phase: FaultPhase, down: Option<SimTime>) -> Walked {
        self.act(at, Action::Hang);
        let end = at.after_millis(2 * HUNG_MS);
        self.step(step, at, end);
        self.failed(end, phase, FaultKind::Hang, down)
    }

    /// Maintenance mode lifted at `at`: traffic returns over the role's undrain time (tripled by
    /// a `slow` maintenance fault); returns when.
    fn undrain(&mut self, at: SimTime, phases: &PhaseDurations, scaled: &mut dyn FnMut(u32) -> u64) -> SimTime {
        self.act(at, Action::Undrain);
        let back = at.after_millis(self.duration(FaultPhase::Maintenance, phases.undrain_seconds, scaled));
        self.step(Step::Undrain, at, back);
        back
    }

    /// The device fails at `at` (the journal's `failed`), and the walk ends there.
    fn failed(&mut self, at: SimTime, phase: FaultPhase, kind: FaultKind, down: Option<SimTime>) -> Walked {
        self.step(Step::Failed, at, at);
        Walked { end: at, down, failure: Some(Failure { device: self.device, kind, at: phase }) }
    }

    /// The upgrade failed at `at` with the device drained and answering: held in maintenance
    /// mode, or rolled back and returned to service. `runs_new`: it rebooted into the new
    /// software; `baseline`: the pre-check's reading is still at hand for the post-rollback
    /// check (one reading instead of two).
    #[allow(clippy::too_many_arguments)]
    fn give_up(
        &mut self,
        at: SimTime,
        phase: FaultPhase,
        kind: FaultKind,
        down: Option<SimTime>,
        runs_new: bool,
        baseline: bool,
        phases: &PhaseDurations,
        scaled: &mut dyn FnMut(u32) -> u64,
    ) -> Walked {
        let mut walked = self.failed(at, phase, kind, down);
        if self.rules.drain && self.rules.timing.ssu_devices.contains(&self.device) {
            // A Smart System Upgrade that fails is taken out of service: maintenance mode on
            // (as the executor does) before it is held or rolled back.
            self.act(at, Action::Drain);
        }
        if self.rules.rollback_on_failure {
            walked.end = self.roll_back(at, runs_new, baseline, phases, scaled);
        }
        walked
    }

    /// The rollback from `at`; returns when it ends.
    fn roll_back(
        &mut self,
        at: SimTime,
        runs_new: bool,
        baseline: bool,
        phases: &PhaseDurations,
        scaled: &mut dyn FnMut(u32) -> u64,
    ) -> SimTime {
        let mut t = at;
        if runs_new {
            self.step(Step::Rollback, t, t);
            if self.fault(FaultPhase::Rollback) == Some(FaultKind::RollbackFails) {
                self.step(Step::Failed, t, t);
                return t;
            }
            self.step(Step::Reboot, t, t);
            self.act(t, Action::Down);
            let needed = self.duration(FaultPhase::Reboot, phases.reboot_seconds, scaled);
            self.act(t.after_millis(needed), Action::Up);
            let deadline = self.rules.timing.boot_deadline_seconds() * 1000;
            if needed > deadline {
                let end = t.after_millis(deadline);
                self.step(Step::WaitBoot, t, end);
                self.step(Step::Failed, end, end);
                return end;
            }
            let up = t.after_millis(needed);
            self.step(Step::WaitBoot, t, up);
            let converged = up.after_millis(scaled(phases.convergence_seconds));
            self.step(Step::Booted, up, converged);
            t = converged;
        }
        let checked = if baseline { t } else { t.after_millis(u64::from(self.rules.limits.sample_seconds) * 1000) };
        self.step(Step::PostCheck, t, checked);
        t = checked;
        if self.rules.drain {
            t = self.undrain(t, phases, scaled);
        }
        self.step(Step::InService, t, t);
        t
    }

    fn walk(&mut self, start: SimTime, scaled: &mut dyn FnMut(u32) -> u64) -> Walked {
        use FaultKind::*;
        use FaultPhase::*;
        let rules = self.rules;
        let phases = rules.timing.device_phases(self.fabric, self.device);
        let abort = rules.abort_on_health_check_failure;
        let sample = u64::from(rules.limits.sample_seconds) * 1000;
        let deadline = rules.timing.boot_deadline_seconds() * 1000;
        let mut t = start;
        // The pre-check: two health readings `sample_seconds` apart (never jittered: it is the
        // executor's own wait).
        match self.fault(HealthCheck) {
            Some(Hang) => return self.hangs(Step::PreCheck, t, HealthCheck, Some(t)),
            Some(kind @ HealthCheckFails) if abort => {
                let end = t.after_millis(sample);
                self.step(Step::PreCheck, t, end);
                return self.failed(end, HealthCheck, kind, None);
            }
            _ => {}
        }
        let checked = t.after_millis(sample);
        self.step(Step::PreCheck, t, checked);
        t = checked;
        // Smart System Upgrade: no maintenance mode; the data plane forwards through the reload.
        let ssu = rules.timing.ssu_devices.contains(&self.device);
        if rules.drain && !ssu {
            match self.fault(Maintenance) {
                Some(kind @ LockHeld) => {
                    self.step(Step::Drain, t, t);
                    return self.failed(t, Maintenance, kind, None);
                }
                Some(Hang) => return self.hangs(Step::Drain, t, Maintenance, Some(t)),
                // The traffic never moves (no traffic effect): the drain is read every 10 s
                // until `drain_verify_seconds` have passed, and maintenance mode is lifted again.
                Some(kind @ DrainIneffective) => {
                    let drained = t.after_millis(scaled(phases.drain_seconds));
                    let polls = u64::from(rules.limits.drain_verify_seconds).div_ceil(DRAIN_POLL_SECONDS);
                    let end = drained.after_millis(polls * DRAIN_POLL_SECONDS * 1000);
                    self.step(Step::Drain, t, end);
                    self.step(Step::Undrain, end, end);
                    return self.failed(end, Maintenance, kind, None);
                }
                _ => {}
            }
            self.act(t, Action::Drain);
            let drained = t.after_millis(self.duration(Maintenance, phases.drain_seconds, scaled));
            self.step(Step::Drain, t, drained);
            self.step(Step::Drained, drained, drained);
            t = drained;
        }
        // A staged image is checked, not copied, unless its checksum no longer matches.
        let copy_seconds =
            if self.staged && self.fault(ImageCopy) != Some(ChecksumMismatch) { 0 } else { phases.image_copy_seconds };
        if self.fault(ImageCopy) == Some(Hang) {
            let mut walked = self.hangs(Step::Copy, t, ImageCopy, Some(t));
            if rules.rollback_on_failure {
                // The rollback begins by asking the device, which does not answer.
                walked.end = walked.end.after_millis(HUNG_MS);
                self.step(Step::Failed, walked.end, walked.end);
            }
            return walked;
        }
        let copied = t.after_millis(self.duration(ImageCopy, copy_seconds, scaled));
        self.step(Step::Copy, t, copied);
        t = copied;
        if self.fault(ImageCopy) == Some(ChecksumMismatch) {
            return self.give_up(t, ImageCopy, ChecksumMismatch, None, false, true, &phases, scaled);
        }
        if self.fault(Install) == Some(Hang) {
            // The install times out, and so does the question what became of it.
            return self.hangs(Step::Install, t, Install, Some(t));
        }
        let installed = t.after_millis(self.duration(Install, phases.install_seconds, scaled));
        self.step(Step::Install, t, installed);
        t = installed;
        if self.fault(Install) == Some(InstallFails) {
            return self.give_up(t, Install, InstallFails, None, false, true, &phases, scaled);
        }
        let down = t;
        match self.fault(Reboot) {
            Some(Hang) => {
                // The reboot request times out (a transport failure, taken for the reboot's own),
                // then the device never answers again.
                self.act(t, Action::Hang);
                let asked = t.after_millis(HUNG_MS);
                self.step(Step::Reboot, t, asked);
                let end = asked.after_millis(deadline);
                self.step(Step::WaitBoot, asked, end);
                return self.failed(end, Reboot, Hang, Some(t));
            }
            Some(NeverReturns) => {
                self.act(t, Action::Down);
                self.step(Step::Reboot, t, t);
                let end = t.after_millis(deadline);
                self.step(Step::WaitBoot, t, end);
                return self.failed(end, Reboot, NeverReturns, Some(t));
            }
            _ if ssu => {}
            _ => self.act(t, Action::Down),
        }
        self.step(Step::Reboot, t, t);
        let needed = self.duration(Reboot, phases.reboot_seconds, scaled);
        let up = t.after_millis(needed);
        if ssu {
            // The control plane restarts (graceful restart keeps its routes in use) while the
            // data plane forwards; at the end it stops, links up, for about a second.
            let outage = crate::timing::SSU_OUTAGE_MS.min(needed);
            self.actions.push((t.after_millis(needed - outage), Action::Hang(node(self.device))));
        }
        self.act(up, Action::Up);
        if needed > deadline {
            // Back too late: the executor has given up on it by then (drained, it stays so).
            let end = t.after_millis(deadline);
            self.step(Step::WaitBoot, t, end);
            return self.failed(end, Reboot, Slow, Some(down));
        }
        self.step(Step::WaitBoot, t, up);
        let converged = up.after_millis(scaled(phases.convergence_seconds));
        self.step(Step::Booted, up, converged);
        t = converged;
        // The post-check watches the device `post_check_seconds`, then reads its health.
        let read = t.after_millis(scaled(phases.post_check_seconds));
        match self.fault(PostCheck) {
            Some(Hang) => {
                self.act(read, Action::Hang);
                let end = read.after_millis(2 * HUNG_MS);
                self.step(Step::PostCheck, t, end);
                return self.failed(end, PostCheck, Hang, Some(down));
            }
            // A failed reading; or one BGP peer gone, which the snapshot diff taken in
            // maintenance mode finds (the health check does not: no peer is down).
            Some(kind @ HealthCheckFails) if abort => {
                self.step(Step::PostCheck, t, read);
                return self.give_up(read, PostCheck, kind, Some(down), true, false, &phases, scaled);
            }
            Some(kind @ BgpPeerLost) if abort && rules.limits.snapshot_diff => {
                self.step(Step::PostCheck, t, read);
                return self.give_up(read, PostCheck, kind, Some(down), true, false, &phases, scaled);
            }
            _ => {}
        }
        self.step(Step::PostCheck, t, read);
        t = read;
        if rules.drain && !ssu {
            t = self.undrain(t, &phases, scaled);
        }
        self.step(Step::InService, t, t);
        Walked { end: t, down: Some(down), failure: None }
    }
}
