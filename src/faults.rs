//! The fault vocabulary: what can go wrong on a device during an upgrade, and when.
//!
//! Faults are scenario input (`faults: [{device, kind, at}]`). The virtual driver and the lab
//! inject them into an execution, and `simulate` replays what they do to traffic; they are data
//! here and nothing more.

use serde::{Deserialize, Serialize};

/// How long a call to a hung device waits before it times out (the Junos driver's RPC
/// timeout): the virtual driver waits this long, and the simulated schedule counts it.
pub const HUNG_TIMEOUT_SECONDS: u64 = 60;

/// What goes wrong on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// The device never comes back from its reboot.
    NeverReturns,
    /// The phase takes three times as long.
    Slow,
    /// The package install is rejected.
    InstallFails,
    /// The image's checksum on the device does not match.
    ChecksumMismatch,
    /// Health checks fail (BGP peers down, an alarm).
    HealthCheckFails,
    /// The management session drops once in the middle of the phase's call.
    SshDrop,
    /// Another user holds the configuration lock (maintenance mode cannot be changed).
    LockHeld,
    /// The device stops forwarding and answering, and its links stay up: neighbours notice only
    /// by their timers (BFD, the BGP hold time, LACP).
    Hang,
    /// On the new image one BGP peer is gone from the device's BGP summary (as if its
    /// configuration was lost): no peer is down, so the health check passes, and only the
    /// snapshot diff sees it. Strikes after the upgrade (`post-check`).
    BgpPeerLost,
    /// Maintenance mode is committed but the traffic does not move off the device (a neighbour
    /// ignores graceful shutdown): its ports keep carrying traffic. Strikes at `maintenance`.
    DrainIneffective,
    /// `request system software rollback` fails: a single engine warns "Cannot rollback" and
    /// rolls nothing back; on several engines or members the last answers `ERROR: ... rollback
    /// aborted` with result 1 while the others succeed. Strikes at `rollback`.
    RollbackFails,
}

/// Where in the upgrade a fault strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultPhase {
    /// The pre-upgrade health check.
    HealthCheck,
    /// Turning maintenance mode on or off.
    Maintenance,
    /// Copying and checking the image.
    ImageCopy,
    /// Installing the package.
    Install,
    /// Rebooting.
    Reboot,
    /// The post-upgrade health check.
    PostCheck,
    /// Rolling back to the old software (`upgrade.on_failure: rollback`).
    Rollback,
}

impl FaultKind {
    /// The phase a fault of this kind strikes when the scenario does not say.
    pub fn default_phase(self) -> FaultPhase {
        match self {
            FaultKind::NeverReturns | FaultKind::Slow => FaultPhase::Reboot,
            FaultKind::InstallFails | FaultKind::SshDrop | FaultKind::Hang => FaultPhase::Install,
            FaultKind::ChecksumMismatch => FaultPhase::ImageCopy,
            FaultKind::HealthCheckFails => FaultPhase::HealthCheck,
            FaultKind::BgpPeerLost => FaultPhase::PostCheck,
            FaultKind::LockHeld | FaultKind::DrainIneffective => FaultPhase::Maintenance,
            FaultKind::RollbackFails => FaultPhase::Rollback,
        }
    }
}

/// One injected fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Device name.
    pub device: String,
    /// What goes wrong.
    pub kind: FaultKind,
    /// When.
    pub at: FaultPhase,
}

/// The kind of fault, if any, that `faults` puts on `device` at `phase`.
pub fn fault_at(faults: &[Fault], device: &str, phase: FaultPhase) -> Option<FaultKind> {
    faults.iter().find(|f| f.device == device && f.at == phase).map(|f| f.kind)
}
