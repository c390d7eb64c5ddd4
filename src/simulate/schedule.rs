//! Turning batches into a timed schedule of device actions.
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

use hitless_sim::{Action, SimTime};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::network::node;
use super::seconds_to_ms;
use crate::model::{DeviceId, Fabric};
use crate::timing::TimingProfile;

/// When one batch ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The batch started (first drain).
    pub start: SimTime,
    /// The batch's slowest device finished.
    pub end: SimTime,
    /// Every device of the batch was down (for the n+1 probe).
    pub all_down: SimTime,
}

/// A schedule: actions in time order, and each batch's window.
pub struct Schedule {
    /// What to do when.
    pub actions: Vec<(SimTime, Action)>,
    /// One window per batch.
    pub windows: Vec<Window>,
}

/// Builds the schedule of `batches`. `seed` drives the jitter.
pub fn build(
    fabric: &Fabric,
    batches: &[Vec<DeviceId>],
    timing: &TimingProfile,
    drain: bool,
    jitter: f64,
    seed: u64,
) -> Schedule {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut actions = Vec::new();
    let mut windows = Vec::with_capacity(batches.len());
    let mut start = SimTime::ZERO;
    for batch in batches {
        let mut end = start;
        let mut all_down = start;
        for &device in batch {
            let phases = timing.phases(fabric.device(device).role);
            let mut scaled = |seconds: u32| {
                let factor = if jitter > 0.0 { 1.0 + rng.random_range(-jitter..jitter) } else { 1.0 };
                seconds_to_ms(f64::from(seconds) * factor)
            };
            let id = node(device);
            let mut t = start;
            if drain {
                actions.push((t, Action::Drain(id)));
                t = t.after_millis(scaled(phases.drain_seconds));
            }
            t = t.after_millis(scaled(phases.image_copy_seconds) + scaled(phases.install_seconds));
            actions.push((t, Action::Down(id)));
            all_down = all_down.max(t);
            t = t.after_millis(scaled(phases.reboot_seconds));
            actions.push((t, Action::Up(id)));
            t = t.after_millis(scaled(phases.convergence_seconds) + scaled(phases.post_check_seconds));
            if drain {
                actions.push((t, Action::Undrain(id)));
                t = t.after_millis(scaled(phases.undrain_seconds));
            }
            end = end.max(t);
        }
        windows.push(Window { start, end, all_down });
        start = end;
    }
    actions.sort_by_key(|(t, _)| *t);
    Schedule { actions, windows }
}
