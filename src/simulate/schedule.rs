//! Turning batches into a timed schedule of device actions, as the executor would run them,
//! faults included.
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
//! steps are kept with their times ([`Schedule::devices`]), named as the journal names them.
//!
//! With `upgrade.drain: false` there is no drain or undrain phase and no maintenance mode.
//!
//! The scenario's faults play out as the drivers play them: `slow` triples its phase; `hang`
//! stops the device at its phase with its links up; `never-returns` leaves it down after its
//! reboot; `install-fails`, `checksum-mismatch` and a failed post-check leave it in maintenance
//! mode; a failed pre-check or a held configuration lock leave it untouched. A device that fails
//! halts the job after its batch, as the executor does: later batches do not run.

use hitless_sim::{Action, SimTime};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::network::node;
use super::seconds_to_ms;
use crate::faults::{Fault, FaultKind, FaultPhase, fault_at};
use crate::model::{DeviceId, Fabric};
use crate::timing::TimingProfile;

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

/// One step of a device in the schedule: the journal's step name, and when it starts and ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepSpan {
    /// The step, as the journal names it (`pre-check`, `drain`, `copy`, ...).
    pub step: crate::journal::Step,
    /// When it starts.
    pub start: SimTime,
    /// When it ends.
    pub end: SimTime,
}

/// A schedule: actions in time order, each batch's window, and the failures that halt the job.
pub struct Schedule {
    /// What to do when.
    pub actions: Vec<(SimTime, Action)>,
    /// Every device that runs, with its batch (1-based) and its steps in order.
    pub devices: Vec<(DeviceId, usize, Vec<StepSpan>)>,
    /// One window per batch that runs.
    pub windows: Vec<Window>,
    /// The devices that failed in the last batch that ran (the job halts after it).
    pub failures: Vec<Failure>,
}

/// Builds the schedule of `batches`. `seed` drives the jitter.
#[allow(clippy::too_many_arguments)]
pub fn build(
    fabric: &Fabric,
    batches: &[Vec<DeviceId>],
    timing: &TimingProfile,
    drain: bool,
    sample_seconds: u32,
    staged: &[DeviceId],
    jitter: f64,
    seed: u64,
    faults: &[Fault],
) -> Schedule {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut actions = Vec::new();
    let mut windows = Vec::with_capacity(batches.len());
    let mut failures = Vec::new();
    let mut devices = Vec::new();
    let mut start = SimTime::ZERO;
    for (index, batch) in batches.iter().enumerate() {
        let mut end = start;
        let mut all_down = start;
        for &device in batch {
            let mut plan = DevicePlan {
                device,
                start,
                drain,
                sample_seconds,
                staged: staged.contains(&device),
                faults,
                fabric,
                actions: &mut actions,
                steps: Vec::new(),
            };
            let outcome = plan.walk(timing, &mut |seconds: u32| {
                let factor = if jitter > 0.0 { 1.0 + rng.random_range(-jitter..jitter) } else { 1.0 };
                seconds_to_ms(f64::from(seconds) * factor)
            });
            devices.push((device, index + 1, std::mem::take(&mut plan.steps)));
            end = end.max(outcome.end);
            if let Some(down) = outcome.down {
                all_down = all_down.max(down);
            }
            failures.extend(outcome.failure);
        }
        windows.push(Window { start, end, all_down });
        start = end;
        if !failures.is_empty() {
            break;
        }
    }
    actions.sort_by_key(|(t, _)| *t);
    Schedule { actions, devices, windows, failures }
}

/// One device's walk through its phases.
struct DevicePlan<'a> {
    device: DeviceId,
    start: SimTime,
    drain: bool,
    sample_seconds: u32,
    /// Its image was staged ahead: the copy is a check, and takes no time.
    staged: bool,
    faults: &'a [Fault],
    fabric: &'a Fabric,
    actions: &'a mut Vec<(SimTime, Action)>,
    steps: Vec<StepSpan>,
}

/// Where a device's walk ended.
struct Walked {
    end: SimTime,
    down: Option<SimTime>,
    failure: Option<Failure>,
}

impl DevicePlan<'_> {
    fn fault(&self, phase: FaultPhase) -> Option<FaultKind> {
        fault_at(self.faults, &self.fabric.device(self.device).name, phase)
    }

    fn failed(&self, at: FaultPhase, kind: FaultKind, end: SimTime, down: Option<SimTime>) -> Walked {
        Walked { end, down, failure: Some(Failure { device: self.device, kind, at }) }
    }

    /// The duration of `phase`, tripled by a `slow` fault there.
    fn duration(&self, phase: FaultPhase, seconds: u32, scaled: &mut dyn FnMut(u32) -> u64) -> u64 {
        let factor = if self.fault(phase) == Some(FaultKind::Slow) { 3 } else { 1 };
        scaled(seconds) * factor
    }

    /// Records `step` from `start` to `end`.
    fn step(&mut self, step: crate::journal::Step, start: SimTime, end: SimTime) {
        self.steps.push(StepSpan { step, start, end });
    }

    fn walk(&mut self, timing: &TimingProfile, scaled: &mut dyn FnMut(u32) -> u64) -> Walked {
        use crate::journal::Step;
        use FaultKind::*;
        use FaultPhase::*;
        let id = node(self.device);
        let phases = *timing.phases(self.fabric.device(self.device).role);
        let mut t = self.start;
        match self.fault(HealthCheck) {
            Some(Hang) => {
                self.actions.push((t, Action::Hang(id)));
                return self.failed(HealthCheck, Hang, t, Some(t));
            }
            Some(kind @ HealthCheckFails) => {
                let end = t.after_millis(seconds_to_ms(f64::from(self.sample_seconds)));
                return self.failed(HealthCheck, kind, end, None);
            }
            _ => {}
        }
        // The pre-check: two health readings `sample_seconds` apart (never jittered: it is the
        // executor's own wait).
        let checked = t.after_millis(seconds_to_ms(f64::from(self.sample_seconds)));
        self.step(Step::PreCheck, t, checked);
        t = checked;
        if self.drain {
            match self.fault(Maintenance) {
                Some(kind @ LockHeld) => return self.failed(Maintenance, kind, t, None),
                // The traffic never left: the verified drain gives up and lifts maintenance
                // mode again, the device untouched (no traffic effect).
                Some(kind @ DrainIneffective) => return self.failed(Maintenance, kind, t, None),
                Some(Hang) => {
                    self.actions.push((t, Action::Hang(id)));
                    return self.failed(Maintenance, Hang, t, Some(t));
                }
                _ => {}
            }
            self.actions.push((t, Action::Drain(id)));
            let drained = t.after_millis(self.duration(Maintenance, phases.drain_seconds, scaled));
            self.step(Step::Drain, t, drained);
            self.step(Step::Drained, drained, drained);
            t = drained;
        }
        let copy_seconds = if self.staged { 0 } else { phases.image_copy_seconds };
        for (phase, step, seconds, failing) in [
            (ImageCopy, Step::Copy, copy_seconds, ChecksumMismatch),
            (Install, Step::Install, phases.install_seconds, InstallFails),
        ] {
            if self.fault(phase) == Some(Hang) {
                self.actions.push((t, Action::Hang(id)));
                return self.failed(phase, Hang, t, Some(t));
            }
            let done = t.after_millis(self.duration(phase, seconds, scaled));
            self.step(step, t, done);
            t = done;
            if self.fault(phase) == Some(failing) {
                return self.failed(phase, failing, t, None);
            }
        }
        let down = t;
        match self.fault(Reboot) {
            Some(Hang) => {
                self.actions.push((t, Action::Hang(id)));
                return self.failed(Reboot, Hang, t, Some(t));
            }
            Some(NeverReturns) => {
                self.actions.push((t, Action::Down(id)));
                return self.failed(Reboot, NeverReturns, t, Some(t));
            }
            _ => self.actions.push((t, Action::Down(id))),
        }
        self.step(Step::Reboot, t, t);
        let up = t.after_millis(self.duration(Reboot, phases.reboot_seconds, scaled));
        self.step(Step::WaitBoot, t, up);
        t = up;
        self.actions.push((t, Action::Up(id)));
        let converged = t.after_millis(scaled(phases.convergence_seconds));
        self.step(Step::Booted, t, converged);
        t = converged;
        match self.fault(PostCheck) {
            Some(Hang) => {
                self.actions.push((t, Action::Hang(id)));
                return self.failed(PostCheck, Hang, t, Some(down));
            }
            Some(kind @ HealthCheckFails) => {
                let end = t.after_millis(scaled(phases.post_check_seconds));
                return self.failed(PostCheck, kind, end, Some(down));
            }
            _ => {}
        }
        let checked = t.after_millis(scaled(phases.post_check_seconds));
        self.step(Step::PostCheck, t, checked);
        t = checked;
        if self.drain {
            self.actions.push((t, Action::Undrain(id)));
            let back = t.after_millis(self.duration(Maintenance, phases.undrain_seconds, scaled));
            self.step(Step::Undrain, t, back);
            t = back;
        }
        self.step(Step::InService, t, t);
        // Seen by the snapshot diff once the device is back in service: the job halts after
        // the batch (the lost peer's effect on paths is not modelled).
        let failure = (self.fault(PostCheck) == Some(BgpPeerLost)).then_some(Failure {
            device: self.device,
            kind: BgpPeerLost,
            at: PostCheck,
        });
        Walked { end: t, down: Some(down), failure }
    }
}
