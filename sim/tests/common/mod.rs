//! What the simulator's test files share.

use hitless_sim::Timers;

/// The timers the hand-calculated and reference tests are worked out with.
pub const TIMERS: Timers = Timers {
    drain_convergence_ms: 10_000,
    link_down_ms: 50,
    fabric_detect_ms: 900,
    access_detect_ms: 3_000,
    up_convergence_ms: 30_000,
    core_isolation_ms: None,
};
