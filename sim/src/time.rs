//! Virtual time: milliseconds since the start of a run.

use std::fmt;

/// An instant of virtual time, in milliseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);

    /// An instant `millis` milliseconds after the start.
    pub const fn from_millis(millis: u64) -> SimTime {
        SimTime(millis)
    }

    /// An instant `seconds` after the start.
    pub const fn from_secs(seconds: u64) -> SimTime {
        SimTime(seconds * 1000)
    }

    /// Milliseconds since the start.
    pub const fn millis(self) -> u64 {
        self.0
    }

    /// Seconds since the start, as a float for reports.
    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// This instant plus `millis` milliseconds.
    pub const fn after_millis(self, millis: u64) -> SimTime {
        SimTime(self.0 + millis)
    }

    /// Milliseconds from `earlier` to `self` (zero if `earlier` is later).
    pub const fn millis_since(self, earlier: SimTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.secs_f64())
    }
}
