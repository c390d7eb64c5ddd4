//! The simulator's settings as a scenario states them (`simulation:`): link capacities, the
//! neighbours' reaction times, jitter and seed. `simulate` turns them into the engine's timers.
//!
//! Defaults (scenario field under `simulation:`):
//!
//! | setting | default | meaning |
//! |---|---|---|
//! | `drain_convergence_seconds` | 10 | maintenance mode on/off until neighbours route accordingly |
//! | `link_down_detection_ms` | 50 | a rebooting device's links go down: neighbours and servers notice |
//! | `bfd` | true | a hung device (links up) is noticed by BFD; else by the BGP hold time |
//! | `bfd_interval_ms` x `bfd_multiplier` | 300 x 3 | BFD detection time (0.9 s) |
//! | `bgp_hold_seconds` | 90 | detection time without BFD |
//! | `lacp` | `fast` | servers notice a hung leaf after 3 s (`slow`: 90 s) |
//! | `core_isolation` | true | a leaf that loses every spine takes its ESI-LAGs down (EVPN core isolation) |
//! | `core_isolation_ms` | 1000 | from losing the last spine to its multihomed servers moving away |
//! | `overlay_hold_seconds` | 90 | with every route reflector down, overlay routes age out after this |
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
    pub link_down_detection_ms: u64,
    /// See the module table.
    pub core_isolation: bool,
    /// See the module table.
    pub core_isolation_ms: u64,
    /// See the module table.
    pub overlay_hold_seconds: u64,
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
    /// Hash each flow onto one of its equal-cost paths (`traffic.ecmp: hash`) instead of
    /// spreading it over all of them.
    pub ecmp_hash: bool,
    /// See the module table.
    pub seed: u64,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            drain_convergence_seconds: 10.0,
            link_down_detection_ms: 50,
            core_isolation: true,
            core_isolation_ms: 1000,
            overlay_hold_seconds: 90,
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
            ecmp_hash: false,
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

/// When a running job stops for the operator's approval (`upgrade.pause`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PausePolicy {
    /// Never: every batch runs in one go.
    Never,
    /// After the canary batch (`upgrade.canary`), once.
    AfterCanary,
    /// After every batch but the last.
    EveryBatch,
}

impl PausePolicy {
    /// The name a scenario uses.
    pub fn as_str(self) -> &'static str {
        match self {
            PausePolicy::Never => "never",
            PausePolicy::AfterCanary => "after-canary",
            PausePolicy::EveryBatch => "every-batch",
        }
    }

    /// The batches (1-based) after which a job of `last` batches pauses; never after the last.
    pub fn batches(self, last: u32) -> Vec<u32> {
        let batches: Vec<u32> = match self {
            PausePolicy::Never => Vec::new(),
            PausePolicy::AfterCanary => vec![1],
            PausePolicy::EveryBatch => (1..last).collect(),
        };
        batches.into_iter().filter(|batch| *batch < last).collect()
    }
}

/// Who may approve a paused job (`upgrade.approval`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Approval {
    /// Anyone allowed to run upgrades, the one who started it included (the default).
    #[default]
    Any,
    /// Only someone other than the one who started the job (four eyes).
    OtherUser,
}

/// What happens to a device whose upgrade or post-upgrade check fails (`upgrade.on_failure`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// It stays in maintenance mode, as it is, for the operator (the default).
    #[default]
    Hold,
    /// It is returned to the software it ran before, rebooted, checked, and only then put back
    /// in service (`Rolled Back`); the job still halts after the batch.
    Rollback,
}

/// How devices are rebooted into their new software (`upgrade.method`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeMethod {
    /// Drain, reload, converge, undrain: every device (the default).
    #[default]
    Reload,
    /// Arista Smart System Upgrade (`reload fast-boot`) for every Arista device upgraded; one
    /// that cannot (its platform, a downgrade) is an error. Junos devices reload.
    Ssu,
    /// Smart System Upgrade where a device can, a reload elsewhere (each device's reason shown).
    Auto,
}

impl UpgradeMethod {
    /// As the scenario spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            UpgradeMethod::Reload => "reload",
            UpgradeMethod::Ssu => "ssu",
            UpgradeMethod::Auto => "auto",
        }
    }
}
