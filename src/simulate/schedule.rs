//! Turning batches into a timed schedule of device actions, as the executor would run them,
//! faults included.
//!
//! Batches run in order; the devices of a batch start together and the next batch starts when
//! the slowest has finished. Per device, from the timing profile (each phase scaled by a seeded
//! jitter factor when `simulation.jitter` is set):
//!
//! ```text
//! drain | image copy | install | reboot (down) | convergence | post-check | undrain
//! ^Drain                       ^Down           ^Up                        ^Undrain
//! ```
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

/// A schedule: actions in time order, each batch's window, and the failures that halt the job.
pub struct Schedule {
    /// What to do when.
    pub actions: Vec<(SimTime, Action)>,
    /// One window per batch that runs.
    pub windows: Vec<Window>,
    /// The devices that failed in the last batch that ran (the job halts after it).
    pub failures: Vec<Failure>,
}

/// Builds the schedule of `batches`. `seed` drives the jitter.
pub fn build(
    fabric: &Fabric,
    batches: &[Vec<DeviceId>],
    timing: &TimingProfile,
    drain: bool,
    jitter: f64,
    seed: u64,
    faults: &[Fault],
) -> Schedule {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut actions = Vec::new();
    let mut windows = Vec::with_capacity(batches.len());
    let mut failures = Vec::new();
    let mut start = SimTime::ZERO;
    for batch in batches {
        let mut end = start;
        let mut all_down = start;
        for &device in batch {
            let mut plan = DevicePlan { device, start, drain, faults, fabric, actions: &mut actions };
            let outcome = plan.walk(timing, &mut |seconds: u32| {
                let factor = if jitter > 0.0 { 1.0 + rng.random_range(-jitter..jitter) } else { 1.0 };
                seconds_to_ms(f64::from(seconds) * factor)
            });
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
    Schedule { actions, windows, failures }
}

/// One device's walk through its phases.
struct DevicePlan<'a> {
    device: DeviceId,
    start: SimTime,
    drain: bool,
    faults: &'a [Fault],
    fabric: &'a Fabric,
    actions: &'a mut Vec<(SimTime, Action)>,
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

    fn walk(&mut self, timing: &TimingProfile, scaled: &mut dyn FnMut(u32) -> u64) -> Walked {
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
            Some(kind @ HealthCheckFails) => return self.failed(HealthCheck, kind, t, None),
            _ => {}
        }
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
            t = t.after_millis(self.duration(Maintenance, phases.drain_seconds, scaled));
        }
        for (phase, seconds, failing) in
            [(ImageCopy, phases.image_copy_seconds, ChecksumMismatch), (Install, phases.install_seconds, InstallFails)]
        {
            if self.fault(phase) == Some(Hang) {
                self.actions.push((t, Action::Hang(id)));
                return self.failed(phase, Hang, t, Some(t));
            }
            t = t.after_millis(self.duration(phase, seconds, scaled));
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
        t = t.after_millis(self.duration(Reboot, phases.reboot_seconds, scaled));
        self.actions.push((t, Action::Up(id)));
        t = t.after_millis(scaled(phases.convergence_seconds));
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
        t = t.after_millis(scaled(phases.post_check_seconds));
        if self.drain {
            self.actions.push((t, Action::Undrain(id)));
            t = t.after_millis(self.duration(Maintenance, phases.undrain_seconds, scaled));
        }
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
