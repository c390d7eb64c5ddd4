//! The simulator's settings as a scenario states them (`simulation:`): link capacities, the
//! neighbours' reaction times, jitter and seed. `simulate` turns them into the engine's timers.
//!
//! Defaults (scenario field under `simulation:`):
//!
//! | setting | default | meaning |
//! |---|---|---|
//! | `drain_convergence_seconds` | 10 | maintenance mode on/off until neighbours route accordingly |
//! | `protocol_convergence_seconds` | 60 | after a reboot, until neighbours use the device again |
//! | `bfd` | true | fabric failures detected by BFD; else by the BGP hold time |
//! | `bfd_interval_ms` x `bfd_multiplier` | 300 x 3 | BFD detection time (0.9 s) |
//! | `bgp_hold_seconds` | 90 | detection time without BFD |
//! | `lacp` | `fast` | server LAGs notice a dead leaf after 3 s (`slow`: 90 s) |
//! | `server_link_gbps` | 25 | server to leaf |
//! | `leaf_spine_gbps` | 100 | leaf to spine |
//! | `spine_super_spine_gbps` | 400 | spine to super-spine |
//! | `external_gbps` | 400 | border leaf to the outside |
//! | `jitter` | 0 | each phase lasts its duration times a uniform factor in [1 - j, 1 + j] |
//! | `seed` | 1 | seed of the run (jitter); `--seed` overrides |

/// Validated `simulation:` settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SimSettings {
    /// See the module table.
    pub drain_convergence_seconds: f64,
    /// See the module table.
    pub protocol_convergence_seconds: f64,
    /// See the module table.
    pub bfd: bool,
    /// See the module table.
    pub bfd_interval_ms: u64,
    /// See the module table.
    pub bfd_multiplier: u64,
    /// See the module table.
    pub bgp_hold_seconds: u64,
    /// True for LACP fast (3 s), false for slow (90 s).
    pub lacp_fast: bool,
    /// See the module table.
    pub server_link_gbps: f64,
    /// See the module table.
    pub leaf_spine_gbps: f64,
    /// See the module table.
    pub spine_super_spine_gbps: f64,
    /// See the module table.
    pub external_gbps: f64,
    /// See the module table.
    pub jitter: f64,
    /// See the module table.
    pub seed: u64,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            drain_convergence_seconds: 10.0,
            protocol_convergence_seconds: 60.0,
            bfd: true,
            bfd_interval_ms: 300,
            bfd_multiplier: 3,
            bgp_hold_seconds: 90,
            lacp_fast: true,
            server_link_gbps: 25.0,
            leaf_spine_gbps: 100.0,
            spine_super_spine_gbps: 400.0,
            external_gbps: 400.0,
            jitter: 0.0,
            seed: 1,
        }
    }
}

/// What a scenario's author expects of the simulation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// The verdict.
    pub hitless: Option<bool>,
    /// The most batches the plan may have.
    pub max_batches: Option<usize>,
}
