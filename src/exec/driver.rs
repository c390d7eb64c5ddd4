//! The executor's port to devices: the [`Driver`] trait, what a device says about itself
//! ([`Facts`], one [`Engine`] per routing engine or virtual-chassis member) and why a call failed
//! ([`DriverError`]). The drivers (`crate::driver`) implement it: virtual devices in virtual time,
//! and Junos over NETCONF/SSH.
//!
//! Every call names the device by its fabric name and returns a [`DriverError`] that keeps the
//! device's own message. Calls are cancel-safe in the sense the executor relies on: dropping a
//! call's future never leaves the device half-changed by the driver itself (a device may still
//! be mid-install on its own, which [`Driver::facts`] then reports).

use std::future::Future;

use crate::health::HealthReport;
use crate::image::Image;
use crate::version::Version;

/// One routing engine of a device, or one member of a virtual chassis. A single-engine switch
/// has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Engine {
    /// As the device names it: `re0`, `re1`, `fpc0`, `member1`.
    pub name: String,
    /// Slot or member number.
    pub slot: u32,
    /// The version it runs.
    pub version: Version,
    /// Its model.
    pub model: String,
    /// When it last booted, seconds on the device's clock; a later value proves a reboot.
    pub boot: u64,
    /// True for the master, by its mastership state (never by its place in a reply).
    pub master: bool,
}

/// What a device is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chassis {
    /// One routing engine.
    Single,
    /// Two routing engines (`re0`, `re1`): installs go to each, reboots to both.
    DualEngine,
    /// A virtual chassis: installs go to each member, reboots to all.
    VirtualChassis,
}

/// What a device says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Hostname.
    pub hostname: String,
    /// What the device is made of.
    pub chassis: Chassis,
    /// Every routing engine or member, by slot; exactly one is the master.
    pub engines: Vec<Engine>,
    /// True while maintenance mode (drain) is configured.
    pub maintenance: bool,
    /// The job whose maintenance mode it is, as its marker names it (`job-0001/STORE@HOST`);
    /// `None` when the marker names none (set by hand, or by a hitless before the name).
    pub maintenance_owner: Option<String>,
    /// True when an installed package waits for a reboot. Junos does not say which package:
    /// the executor knows from the journal whether it installed it.
    pub pending_install: bool,
}

impl Facts {
    /// The master routing engine (or member).
    pub fn master(&self) -> &Engine {
        assert!(self.engines.iter().filter(|e| e.master).count() == 1, "drivers report exactly one master");
        self.engines.iter().find(|e| e.master).expect("one master")
    }

    /// The version the device runs: its master's.
    pub fn version(&self) -> &Version {
        &self.master().version
    }

    /// True when every engine runs `version`.
    pub fn all_run(&self, version: &Version) -> bool {
        self.engines.iter().all(|e| &e.version == version)
    }

    /// `re0 18.4R2, re1 18.1R3`: every engine with its version.
    pub fn versions(&self) -> String {
        self.engines.iter().map(|e| format!("{} {}", e.name, e.version)).collect::<Vec<_>>().join(", ")
    }

    /// The engines that did not boot since `before` (by start time, each engine by its slot),
    /// or that `before` did not know; empty when every engine rebooted.
    pub fn not_rebooted_since(&self, before: &Facts) -> Vec<String> {
        let mut stale = Vec::new();
        for engine in &before.engines {
            match self.engines.iter().find(|e| e.slot == engine.slot) {
                Some(now) if now.boot > engine.boot => {}
                Some(now) => stale.push(now.name.clone()),
                None => stale.push(format!("{} (missing from the reply)", engine.name)),
            }
        }
        stale
    }
}

/// What an install request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installed {
    /// The package was installed on every engine and is active at the next reboot.
    Done,
    /// The device (or some engine) answered that an install is already pending, and installed
    /// nothing there; the other engines were installed.
    AlreadyPending,
}

/// Why a driver call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The device could not be reached (connection refused, dropped, timed out).
    #[error("{device}: unreachable during {operation}: {message}")]
    Unreachable {
        /// Device name.
        device: String,
        /// What was being done.
        operation: &'static str,
        /// Details.
        message: String,
    },
    /// The device answered with an error.
    #[error("{device}: {operation} failed: {message}")]
    Rejected {
        /// Device name.
        device: String,
        /// What was being done.
        operation: &'static str,
        /// The device's own message.
        message: String,
    },
    /// The device (or its SSH server) refused us in a way that waiting will not cure: its host
    /// key changed, the login was refused, the address is unusable.
    #[error("{device}: {operation} refused: {message}")]
    Refused {
        /// Device name.
        device: String,
        /// What was being done.
        operation: &'static str,
        /// Why.
        message: String,
    },
    /// A wait ran past its deadline.
    #[error("{device}: {operation} did not finish within {seconds} s")]
    Timeout {
        /// Device name.
        device: String,
        /// What was being waited for.
        operation: &'static str,
        /// The deadline that passed.
        seconds: u64,
    },
}

impl DriverError {
    /// True when the call may have failed only on the way (the device might have acted).
    pub fn is_transport(&self) -> bool {
        matches!(self, DriverError::Unreachable { .. } | DriverError::Timeout { .. })
    }
}

/// The operations the executor needs from a device.
pub trait Driver: Send + Sync + 'static {
    /// Hostname, engines (version, boot time, mastership), maintenance mode, pending install.
    fn facts(&self, device: &str) -> impl Future<Output = Result<Facts, DriverError>> + Send;
    /// Health figures (BGP, alarms, CPU, interfaces, LACP, disk); what cannot be read is missing.
    fn health(&self, device: &str, image: &Image) -> impl Future<Output = Result<HealthReport, DriverError>> + Send;
    /// What the device's control and data plane look like now (BGP, routes, LLDP, LACP,
    /// interfaces, MACs, CPU, alarms); what cannot be read is missing.
    fn snapshot(&self, device: &str) -> impl Future<Output = Result<crate::snapshot::Snapshot, DriverError>> + Send;
    /// The traffic the device's fabric and server ports carry now, in plus out, Mbit/s.
    fn traffic_mbps(&self, device: &str) -> impl Future<Output = Result<u64, DriverError>> + Send;
    /// Maintenance mode on (`true`) or off, as one committed configuration change; on, its
    /// marker names the job set with [`Driver::set_maintenance_owner`].
    fn set_maintenance(&self, device: &str, on: bool) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// The job (`job-0001/STORE@HOST`) the maintenance markers this driver commits name from now
    /// on. Drivers that cannot name one ignore it.
    fn set_maintenance_owner(&self, _owner: &str) {}
    /// Copies the image to the device and verifies its checksum there.
    fn stage_image(&self, device: &str, image: &Image) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// True when the image's file is already on the device with the catalog's checksum (staged
    /// ahead, `hitless stage`); false when it is missing or its checksum differs.
    fn staged(&self, device: &str, image: &Image) -> impl Future<Output = Result<bool, DriverError>> + Send;
    /// Installs the staged image on every engine of `facts` (pending until reboot).
    fn install(
        &self,
        device: &str,
        image: &Image,
        facts: &Facts,
    ) -> impl Future<Output = Result<Installed, DriverError>> + Send;
    /// Backs out an install pending on every engine of `facts`, or, where none is pending, makes
    /// the software the engine ran before pending for the next reboot (Junos's `request system
    /// software rollback`).
    /// `to` is the version to return to (the executor's: what the device ran before the job);
    /// drivers whose device remembers its previous software (Junos) need not use it.
    fn rollback(
        &self,
        device: &str,
        facts: &Facts,
        to: &Version,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Reboots the device: every engine of `facts`.
    fn reboot(&self, device: &str, facts: &Facts) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Waits until every engine of `before` has booted again and the device answers, up to
    /// `deadline_seconds`.
    fn wait_for_boot(
        &self,
        device: &str,
        before: &Facts,
        deadline_seconds: u64,
    ) -> impl Future<Output = Result<Facts, DriverError>> + Send;
    /// Smart System Upgrade: why `device` cannot reboot in service into the image installed for
    /// its next boot now (`Some(reason)`: EOS's `show reload fast-boot` warns, BGP graceful
    /// restart is not configured), or `None` when it can. Drivers without it always say why.
    fn ssu_blocker(&self, device: &str) -> impl Future<Output = Result<Option<String>, DriverError>> + Send {
        let _ = device;
        async { Ok(Some("this driver does not offer Smart System Upgrade".to_string())) }
    }
    /// Reboots `device` in service (Smart System Upgrade, `reload fast-boot`): the data plane
    /// forwards while the control plane restarts. Proven, as any reboot, by
    /// [`Driver::wait_for_boot`].
    fn fast_reboot(&self, device: &str, facts: &Facts) -> impl Future<Output = Result<(), DriverError>> + Send {
        let (device, _) = (device.to_string(), facts);
        async move {
            Err(DriverError::Rejected {
                device,
                operation: "fast reboot",
                message: "this driver does not offer Smart System Upgrade".into(),
            })
        }
    }
}
