//! The virtual driver: virtual devices that answer [`Driver`] calls from the scenario's fabric
//! and timing profile, in virtual time. (Not to be confused with the simulator, `crate::simulate`,
//! which judges a plan against a traffic model: these devices carry no traffic.)
//!
//! Like real switches, their state (engines with their versions and boot counts, maintenance
//! mode, a pending install) outlives the executor: it is kept in a JSON file beside the store and
//! rewritten atomically on every change, so a killed executor can be resumed against the same
//! devices. A device has the routing engines or members the scenario gives it; an install goes to
//! each engine, a reboot boots each one, and a pending install is reported as Junos reports it:
//! pending, without saying which version. Phases take the timing profile's durations divided by
//! `speed`; on tokio's paused clock an upgrade of hours runs in moments and deterministically.
//!
//! Faults come from the scenario (`faults: [{device, kind, at}]`), see [`crate::faults`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::exec::{Chassis, Driver, DriverError, Engine, Facts, Installed};
use crate::faults::{Fault, FaultKind, FaultPhase, fault_at};
use crate::health::{Alarm, BgpPeer, HealthReport};
use crate::image::Image;
use crate::model::{Device, Fabric};
use crate::timing::TimingProfile;
use crate::version::Version;

/// One routing engine or member of a virtual device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualEngine {
    /// `re0`, `re1`, `fpc0`, ...
    pub name: String,
    /// Slot or member number; 0 is the master.
    pub slot: u32,
    /// Running version.
    pub version: String,
    /// Boots so far.
    pub boot_count: u64,
    /// Installed version waiting for a reboot.
    #[serde(default)]
    pub pending: Option<String>,
    /// The version it ran before its last reboot into another, which a rollback returns to.
    #[serde(default)]
    pub previous: Option<String>,
}

/// One virtual device's lasting state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualDevice {
    /// Running version (the master's).
    pub version: String,
    /// Every routing engine or member.
    #[serde(default)]
    pub engines: Vec<VirtualEngine>,
    /// Maintenance mode configured.
    pub maintenance: bool,
    /// The job its maintenance marker names, if any.
    #[serde(default)]
    pub maintenance_owner: Option<String>,
    /// Image staged in /var/tmp (name), if any.
    pub staged: Option<String>,
    /// Images copied to the device so far, to prove none is copied twice.
    #[serde(default)]
    pub copies: u32,
    /// Installed version waiting for a reboot, on some engine (as stores before engines kept it).
    #[serde(default)]
    pub pending_install: Option<String>,
    /// Boots so far (the master's).
    pub boot_count: u64,
    /// Completed upgrades (a reboot into a new version), to prove none happens twice.
    pub upgrades: u32,
    /// Completed rollbacks (a reboot back into the previous version).
    #[serde(default)]
    pub rollbacks: u32,
    /// A rollback is pending: the next reboot into another version is a rollback.
    #[serde(default)]
    pub rollback_pending: bool,
    /// Packages installed, summed over engines, to prove none is installed twice.
    #[serde(default)]
    pub installs: u32,
    /// True once the device has died for good (never-returns).
    pub dead: bool,
    /// True once the device has hung (the `hang` fault): it answers nothing, for good.
    #[serde(default)]
    pub hung: bool,
    /// Faults that fire once and already fired.
    pub fired: Vec<String>,
}

impl VirtualDevice {
    fn new(device: &Device) -> VirtualDevice {
        let mut virtual_device = VirtualDevice {
            version: device.version.to_string(),
            engines: Vec::new(),
            maintenance: false,
            staged: None,
            copies: 0,
            pending_install: None,
            boot_count: 1,
            upgrades: 0,
            rollbacks: 0,
            rollback_pending: false,
            installs: 0,
            dead: false,
            maintenance_owner: None,
            hung: false,
            fired: Vec::new(),
        };
        virtual_device.fill_engines(device);
        virtual_device
    }

    /// Gives a device from a state file written before engines their engines.
    fn fill_engines(&mut self, device: &Device) {
        if !self.engines.is_empty() {
            return;
        }
        let count = device.engines.count();
        self.engines = (0..count)
            .map(|slot| VirtualEngine {
                name: device.engines.engine_name(slot),
                slot,
                version: if slot == 0 {
                    self.version.clone()
                } else {
                    device.engine_version(slot as usize).to_string()
                },
                boot_count: self.boot_count,
                pending: self.pending_install.clone(),
                previous: None,
            })
            .collect();
    }

    fn chassis(&self) -> Chassis {
        match self.engines.first().map(|e| e.name.as_str()) {
            _ if self.engines.len() <= 1 => Chassis::Single,
            Some(name) if name.starts_with("re") => Chassis::DualEngine,
            _ => Chassis::VirtualChassis,
        }
    }
}

pub use crate::faults::HUNG_TIMEOUT_SECONDS;

/// The virtual fleet.
pub struct VirtualDriver {
    path: PathBuf,
    devices: Mutex<BTreeMap<String, VirtualDevice>>,
    faults: Vec<Fault>,
    timing: TimingProfile,
    roles: BTreeMap<String, crate::model::Role>,
    /// Each device's fabric neighbours (its BGP peers and LLDP neighbours).
    neighbours: BTreeMap<String, Vec<String>>,
    speed: f64,
    /// The fleet file as this process last wrote or read it (modification time and length):
    /// another process (a controller that took a job over) may have changed the devices since.
    seen: Mutex<Option<(std::time::SystemTime, u64)>>,
    /// The job the maintenance marker names ([`Driver::set_maintenance_owner`]).
    owner: Mutex<Option<String>>,
}

impl VirtualDriver {
    /// Opens (or creates from `fabric`) the fleet kept in `path`.
    pub fn open(
        path: &Path,
        fabric: &Fabric,
        timing: TimingProfile,
        faults: Vec<Fault>,
        speed: f64,
    ) -> std::io::Result<VirtualDriver> {
        assert!(speed > 0.0, "the virtual clock runs forwards");
        let mut devices: BTreeMap<String, VirtualDevice> = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(std::io::Error::other)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        for device in fabric.devices() {
            devices.entry(device.name.clone()).or_insert_with(|| VirtualDevice::new(device)).fill_engines(device);
        }
        let roles = fabric.devices().iter().map(|d| (d.name.clone(), d.role)).collect();
        let neighbours = fabric
            .iter()
            .map(|(id, d)| {
                (d.name.clone(), fabric.neighbours(id).iter().map(|n| fabric.device(*n).name.clone()).collect())
            })
            .collect();
        let driver = VirtualDriver {
            path: path.to_path_buf(),
            seen: Mutex::new(None),
            owner: Mutex::new(None),
            devices: Mutex::new(devices),
            faults,
            timing,
            roles,
            neighbours,
            speed,
        };
        driver.save(&driver.devices.lock().expect("not poisoned"))?;
        Ok(driver)
    }

    /// A snapshot of every device's state (for tests and reports).
    pub fn devices(&self) -> BTreeMap<String, VirtualDevice> {
        self.devices.lock().expect("not poisoned").clone()
    }

    fn save(&self, devices: &BTreeMap<String, VirtualDevice>) -> std::io::Result<()> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Unique per process and call: two processes saving at once must not rename each
        // other's half-written file.
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self.path.with_extension(format!("json.{}-{n}.tmp", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec_pretty(devices).map_err(std::io::Error::other)?)?;
        std::fs::rename(&tmp, &self.path)?;
        *self.seen.lock().expect("not poisoned") = Self::stamp(&self.path);
        Ok(())
    }

    fn stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }

    /// The devices live in the fleet file, as a real device's state lives in the device: when
    /// another process changed the file since this one last saw it, its devices are read again.
    fn refresh(&self, devices: &mut BTreeMap<String, VirtualDevice>) -> std::io::Result<()> {
        let now = Self::stamp(&self.path);
        if now.is_none() || now == *self.seen.lock().expect("not poisoned") {
            return Ok(());
        }
        let text = std::fs::read_to_string(&self.path)?;
        let read: BTreeMap<String, VirtualDevice> = serde_json::from_str(&text).map_err(std::io::Error::other)?;
        for (name, device) in read {
            devices.insert(name, device);
        }
        *self.seen.lock().expect("not poisoned") = now;
        Ok(())
    }

    /// An exclusive lock on the fleet, across processes, for one read-change-write. A process
    /// that holds it and does not let go (stopped) makes the devices unreachable after 10 s,
    /// as a hung device would be, never a wait without end.
    fn lock_fleet(&self) -> std::io::Result<std::fs::File> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path.with_extension("lock"))?;
        for _ in 0..1000 {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(10)),
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
        Err(std::io::Error::other("the virtual devices are held by another process (for more than 10 s)"))
    }

    /// Reads `device` (as it is in the fleet file now) without writing the fleet back.
    fn read<T>(
        &self,
        device: &str,
        operation: &'static str,
        look: impl FnOnce(&VirtualDevice) -> T,
    ) -> Result<T, DriverError> {
        self.access(device, operation, false, |d| look(d))
    }

    /// Applies `change` to `device` and saves the fleet.
    fn update<T>(
        &self,
        device: &str,
        operation: &'static str,
        change: impl FnOnce(&mut VirtualDevice) -> T,
    ) -> Result<T, DriverError> {
        self.access(device, operation, true, change)
    }

    /// Reads (and for `write`, changes and saves) `device` under the fleet's lock: file I/O,
    /// done where it stalls no other device's task ([`crate::exec::blocking`]).
    fn access<T>(
        &self,
        device: &str,
        operation: &'static str,
        write: bool,
        change: impl FnOnce(&mut VirtualDevice) -> T,
    ) -> Result<T, DriverError> {
        crate::exec::blocking(|| {
            let io = |e: std::io::Error| DriverError::Rejected {
                device: device.to_string(),
                operation,
                message: format!("virtual device state could not be read from {}: {e}", self.path.display()),
            };
            let _fleet = self.lock_fleet().map_err(io)?;
            let mut devices = self.devices.lock().expect("not poisoned");
            self.refresh(&mut devices).map_err(io)?;
            let state = devices.get_mut(device).ok_or_else(|| DriverError::Rejected {
                device: device.to_string(),
                operation,
                message: "no such device in the virtual fabric".to_string(),
            })?;
            if state.dead {
                return Err(DriverError::Unreachable {
                    device: device.to_string(),
                    operation,
                    message: "no answer".to_string(),
                });
            }
            let before = write.then(|| state.clone());
            let out = change(state);
            tracing::debug!(
                device,
                operation,
                version = %state.version,
                maintenance = state.maintenance,
                "virtual device {}",
                if write { "changed" } else { "read" }
            );
            // A read, or a change that changed nothing, leaves the fleet file as it is.
            if before.as_ref().is_none_or(|before| before == state) {
                return Ok(out);
            }
            self.save(&devices).map_err(|e| DriverError::Rejected {
                device: device.to_string(),
                operation,
                message: format!("virtual device state could not be saved to {}: {e}", self.path.display()),
            })?;
            Ok(out)
        })
    }

    fn fault(&self, device: &str, phase: FaultPhase) -> Option<FaultKind> {
        fault_at(&self.faults, device, phase)
    }

    /// A hung device answers nothing: the call waits [`HUNG_TIMEOUT_SECONDS`] and times out. A
    /// `hang` fault at `phase` (when given) hangs the device here, for good.
    async fn answers(
        &self,
        device: &str,
        phase: Option<FaultPhase>,
        operation: &'static str,
    ) -> Result<(), DriverError> {
        let hangs_now = phase.is_some_and(|p| self.fault(device, p) == Some(FaultKind::Hang));
        let hung = {
            let mut devices = self.devices.lock().expect("not poisoned");
            let Some(state) = devices.get_mut(device) else { return Ok(()) };
            if hangs_now && !state.hung {
                state.hung = true;
                self.save(&devices).map_err(|e| DriverError::Rejected {
                    device: device.to_string(),
                    operation,
                    message: format!("virtual device state could not be saved to {}: {e}", self.path.display()),
                })?;
            }
            devices.get(device).is_some_and(|d| d.hung)
        };
        if !hung {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs_f64(HUNG_TIMEOUT_SECONDS as f64 / self.speed)).await;
        Err(DriverError::Timeout { device: device.to_string(), operation, seconds: HUNG_TIMEOUT_SECONDS })
    }

    /// True (once) when an ssh-drop fault fires at `phase`.
    fn drop_once(&self, device: &str, phase: FaultPhase, operation: &'static str) -> Result<(), DriverError> {
        if self.fault(device, phase) != Some(FaultKind::SshDrop) {
            return Ok(());
        }
        let key = format!("ssh-drop:{phase:?}");
        let fire = self.update(device, operation, |d| {
            let fire = !d.fired.contains(&key);
            if fire {
                d.fired.push(key.clone());
            }
            fire
        })?;
        if fire {
            return Err(DriverError::Unreachable {
                device: device.to_string(),
                operation,
                message: "connection closed by remote host".to_string(),
            });
        }
        Ok(())
    }

    async fn pass(&self, device: &str, phase: FaultPhase, seconds: u32) {
        let factor = if self.fault(device, phase) == Some(FaultKind::Slow) { 3.0 } else { 1.0 };
        tokio::time::sleep(Duration::from_secs_f64(f64::from(seconds) * factor / self.speed)).await;
    }

    fn phases(&self, device: &str) -> crate::timing::PhaseDurations {
        *self.timing.phases(self.roles.get(device).copied().unwrap_or(crate::model::Role::Leaf))
    }
}

fn parse(version: &str) -> Version {
    Version::parse(version).expect("virtual devices hold versions that parse")
}

fn facts_of(device: &str, state: &VirtualDevice) -> Facts {
    let engines = state
        .engines
        .iter()
        .map(|e| Engine {
            name: e.name.clone(),
            slot: e.slot,
            version: parse(&e.version),
            model: String::new(),
            boot: e.boot_count,
            master: e.slot == 0,
        })
        .collect();
    Facts {
        hostname: device.to_string(),
        chassis: state.chassis(),
        engines,
        maintenance: state.maintenance,
        maintenance_owner: state.maintenance.then(|| state.maintenance_owner.clone()).flatten(),
        pending_install: state.engines.iter().any(|e| e.pending.is_some()),
    }
}

impl Driver for VirtualDriver {
    async fn facts(&self, device: &str) -> Result<Facts, DriverError> {
        self.answers(device, None, "get facts").await?;
        self.read(device, "get facts", |d| facts_of(device, d))
    }

    async fn health(&self, device: &str, _image: &Image) -> Result<HealthReport, DriverError> {
        let (post, names) = self.read(device, "health check", |d| {
            let names: Vec<String> = d.engines.iter().map(|e| e.name.clone()).collect();
            // After an upgrade, until it is rolled back: a post-check fault is the new image's.
            (d.upgrades > d.rollbacks || d.engines.iter().any(|e| e.pending.is_some()), names)
        })?;
        let phase = if post { FaultPhase::PostCheck } else { FaultPhase::HealthCheck };
        self.answers(device, Some(phase), "health check").await?;
        self.drop_once(device, phase, "health check")?;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut report = HealthReport::healthy(&names, 12_000_000_000);
        if self.fault(device, phase) == Some(FaultKind::HealthCheckFails) {
            let down = |n: u32| BgpPeer { address: format!("10.0.0.{n}"), established: false, flaps: Some(1) };
            report.bgp_peers = Some(vec![down(1), down(2)]);
            report.alarms = Some(vec![Alarm { class: "Major".into(), description: "FPC 0 Major Errors".into() }]);
        }
        Ok(report)
    }

    async fn traffic_mbps(&self, device: &str) -> Result<u64, DriverError> {
        self.answers(device, None, "interface traffic").await?;
        let drained = self.read(device, "interface traffic", |d| d.maintenance)?;
        let stuck = self.fault(device, FaultPhase::Maintenance) == Some(FaultKind::DrainIneffective);
        let ports = self.neighbours.get(device).map_or(0, Vec::len) as u64;
        // 10 Gbit/s per fabric port in service; control traffic only once drained.
        Ok(if drained && !stuck { ports } else { ports * 10_000 })
    }

    async fn snapshot(&self, device: &str) -> Result<crate::snapshot::Snapshot, DriverError> {
        self.answers(device, None, "snapshot").await?;
        let (upgraded, engines) = self.read(device, "snapshot", |d| {
            (d.upgrades > d.rollbacks, d.engines.iter().map(|e| e.name.clone()).collect::<Vec<_>>())
        })?;
        let lost = upgraded && self.fault(device, FaultPhase::PostCheck) == Some(FaultKind::BgpPeerLost);
        let neighbours = self.neighbours.get(device).cloned().unwrap_or_default();
        let mut snapshot = crate::snapshot::Snapshot::default();
        let peers: std::collections::BTreeMap<String, String> = neighbours
            .iter()
            .enumerate()
            .skip(usize::from(lost))
            .map(|(i, _)| (format!("10.0.{}.{}", i / 250, i % 250 + 1), "Established".to_string()))
            .collect();
        let established = peers.len() as u64;
        snapshot.bgp_peers = Some(peers);
        snapshot.routes = Some([("inet.0".to_string(), 4 * established)].into_iter().collect());
        snapshot.lldp = Some(
            neighbours
                .iter()
                .enumerate()
                .map(|(i, n)| (format!("et-0/0/{}", 48 + i), format!("{n} et-0/0/{i}")))
                .collect(),
        );
        snapshot.lacp = Some(Default::default());
        snapshot.interfaces_up = Some((0..neighbours.len()).map(|i| format!("et-0/0/{}", 48 + i)).collect());
        snapshot.macs = Some(0);
        snapshot.re_cpu_idle_percent = Some(engines.into_iter().map(|e| (e, 85)).collect());
        snapshot.alarms = Some(Vec::new());
        Ok(snapshot)
    }

    async fn set_maintenance(&self, device: &str, on: bool) -> Result<(), DriverError> {
        self.answers(device, on.then_some(FaultPhase::Maintenance), "maintenance mode").await?;
        self.drop_once(device, FaultPhase::Maintenance, "maintenance mode")?;
        if self.fault(device, FaultPhase::Maintenance) == Some(FaultKind::LockHeld) {
            return Err(DriverError::Rejected {
                device: device.to_string(),
                operation: "maintenance mode",
                message: "configuration database locked by: netops terminal p0 (pid 4242)".to_string(),
            });
        }
        // The commit itself is quick; the executor waits the drain (or undrain) time after it.
        // A `slow` maintenance phase makes the commit take twice that, so the phase lasts three
        // times as long in all, as the simulator plays it.
        if self.fault(device, FaultPhase::Maintenance) == Some(FaultKind::Slow) {
            let phases = self.phases(device);
            let seconds = if on { phases.drain_seconds } else { phases.undrain_seconds };
            tokio::time::sleep(Duration::from_secs_f64(f64::from(seconds) * 2.0 / self.speed)).await;
        }
        let owner = self.owner.lock().expect("not poisoned").clone();
        self.update(device, "maintenance mode", |d| {
            d.maintenance = on;
            d.maintenance_owner = if on { owner } else { None };
        })
    }

    fn set_maintenance_owner(&self, owner: &str) {
        *self.owner.lock().expect("not poisoned") = Some(owner.to_string());
    }

    async fn stage_image(&self, device: &str, image: &Image) -> Result<(), DriverError> {
        self.answers(device, Some(FaultPhase::ImageCopy), "image copy").await?;
        self.drop_once(device, FaultPhase::ImageCopy, "image copy")?;
        self.pass(device, FaultPhase::ImageCopy, self.phases(device).image_copy_seconds).await;
        if self.fault(device, FaultPhase::ImageCopy) == Some(FaultKind::ChecksumMismatch) {
            return Err(DriverError::Rejected {
                device: device.to_string(),
                operation: "image checksum",
                message: format!("sha-256 of /var/tmp/{} is {}, expected another", image.name, "0".repeat(64)),
            });
        }
        self.update(device, "image copy", |d| {
            d.staged = Some(image.name.clone());
            d.copies += 1;
        })
    }

    async fn staged(&self, device: &str, image: &Image) -> Result<bool, DriverError> {
        self.answers(device, None, "image checksum").await?;
        let mismatch = self.fault(device, FaultPhase::ImageCopy) == Some(FaultKind::ChecksumMismatch);
        let staged = self.read(device, "image checksum", |d| d.staged.as_deref() == Some(image.name.as_str()))?;
        Ok(staged && !mismatch)
    }

    async fn install(&self, device: &str, image: &Image, _facts: &Facts) -> Result<Installed, DriverError> {
        self.answers(device, Some(FaultPhase::Install), "package install").await?;
        self.pass(device, FaultPhase::Install, self.phases(device).install_seconds).await;
        if self.fault(device, FaultPhase::Install) == Some(FaultKind::InstallFails) {
            return Err(DriverError::Rejected {
                device: device.to_string(),
                operation: "package install",
                message: "ERROR: package validation failed: insufficient space in /var".to_string(),
            });
        }
        let staged = self.update(device, "package install", |d| d.staged.clone())?;
        if staged.as_deref() != Some(image.name.as_str()) {
            return Err(DriverError::Rejected {
                device: device.to_string(),
                operation: "package install",
                message: format!("ERROR: /var/tmp/{} is not found", image.name),
            });
        }
        // The install completes on the device even if the session drops before the reply.
        let version = image.version.to_string();
        let outcome = self.update(device, "package install", |d| {
            let mut outcome = Installed::Done;
            for engine in &mut d.engines {
                if engine.pending.is_some() {
                    outcome = Installed::AlreadyPending;
                } else {
                    engine.pending = Some(version.clone());
                    d.installs += 1;
                }
            }
            outcome
        })?;
        self.drop_once(device, FaultPhase::Install, "package install")?;
        Ok(outcome)
    }

    async fn rollback(&self, device: &str, _facts: &Facts, _to: &crate::version::Version) -> Result<(), DriverError> {
        self.answers(device, None, "software rollback").await?;
        if self.fault(device, FaultPhase::Rollback) == Some(FaultKind::RollbackFails) {
            return Err(DriverError::Rejected {
                device: device.to_string(),
                operation: "software rollback",
                message: "Cannot rollback, the previous software is not valid: nothing was rolled back".to_string(),
            });
        }
        self.update(device, "software rollback", |d| {
            if d.engines.iter().all(|e| e.pending.is_none() && e.previous.is_none()) {
                return Err("there is no previous software to roll back to".to_string());
            }
            for engine in &mut d.engines {
                if engine.pending.take().is_some() {
                    d.pending_install = None;
                } else if let Some(previous) = engine.previous.take() {
                    engine.pending = Some(previous);
                    d.rollback_pending = true;
                }
            }
            Ok(())
        })?
        .map_err(|message| DriverError::Rejected {
            device: device.to_string(),
            operation: "software rollback",
            message,
        })
    }

    /// Virtual devices can always reboot in service: the scenario's method decided who does.
    async fn ssu_blocker(&self, device: &str) -> Result<Option<String>, DriverError> {
        self.answers(device, None, "fast-boot check").await?;
        Ok(None)
    }

    /// As a reboot: the virtual devices carry no traffic, so the two differ only in the job's
    /// steps (no maintenance mode around it).
    async fn fast_reboot(&self, device: &str, facts: &Facts) -> Result<(), DriverError> {
        self.reboot(device, facts).await
    }

    async fn reboot(&self, device: &str, _facts: &Facts) -> Result<(), DriverError> {
        self.answers(device, Some(FaultPhase::Reboot), "reboot").await?;
        let never = self.fault(device, FaultPhase::Reboot) == Some(FaultKind::NeverReturns);
        self.update(device, "reboot", |d| {
            let before = d.version.clone();
            for engine in &mut d.engines {
                if let Some(version) = engine.pending.take() {
                    engine.previous = Some(std::mem::replace(&mut engine.version, version));
                }
                engine.boot_count += 1;
            }
            d.version = d.engines.first().map_or(before.clone(), |e| e.version.clone());
            if d.version != before && d.rollback_pending {
                d.rollbacks += 1;
            } else if d.version != before {
                d.upgrades += 1;
            }
            d.rollback_pending = false;
            d.pending_install = None;
            d.boot_count += 1;
            d.staged = None;
            d.dead = never;
        })?;
        // The reboot request tears the session down: the reply is lost, as on a real switch.
        self.drop_once(device, FaultPhase::Reboot, "reboot")
    }

    async fn wait_for_boot(&self, device: &str, before: &Facts, deadline_seconds: u64) -> Result<Facts, DriverError> {
        let reboot = self.phases(device).reboot_seconds;
        let slow = if self.fault(device, FaultPhase::Reboot) == Some(FaultKind::Slow) { 3 } else { 1 };
        let needed = u64::from(reboot) * slow;
        let gone = self.devices.lock().expect("not poisoned").get(device).is_none_or(|d| d.dead || d.hung);
        if needed > deadline_seconds || gone {
            tokio::time::sleep(Duration::from_secs_f64(deadline_seconds as f64 / self.speed)).await;
            return Err(DriverError::Timeout {
                device: device.to_string(),
                operation: "waiting for the device to boot",
                seconds: deadline_seconds,
            });
        }
        tokio::time::sleep(Duration::from_secs_f64(needed as f64 / self.speed)).await;
        let facts = self.facts(device).await?;
        let stale = facts.not_rebooted_since(before);
        if !stale.is_empty() {
            return Err(DriverError::Rejected {
                device: device.to_string(),
                operation: "reboot",
                message: format!("{} did not reboot: the boot count did not change", stale.join(", ")),
            });
        }
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads, and changes that change nothing, leave the fleet file untouched (not rewritten:
    /// the same inode's contents, its modification time); a real change rewrites it.
    #[tokio::test(start_paused = true)]
    async fn only_a_change_rewrites_the_fleet_file() {
        let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/small-2spine-4leaf.yaml"))
            .expect("the bundled scenario");
        let scenario =
            crate::scenario::Scenario::from_yaml_with(&yaml, Path::new("small.yaml"), &crate::scenario::NoCatalog)
                .expect("it loads");
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("fleet.json");
        let driver =
            VirtualDriver::open(&path, &scenario.fabric, scenario.timing.clone(), Vec::new(), 1.0).expect("opens");
        // Stamp the file with an old time, so that any rewrite shows.
        let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let stamp = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).expect("a time");
        std::fs::File::options().write(true).open(&path).and_then(|f| f.set_modified(old)).expect("stamped");
        driver.facts("leaf1").await.expect("facts");
        driver.set_maintenance("leaf1", false).await.expect("already out of maintenance mode");
        assert_eq!(stamp(&path), old, "a read or a no-op change rewrote the fleet file");
        driver.set_maintenance("leaf1", true).await.expect("into maintenance mode");
        assert_ne!(stamp(&path), old, "a change was not saved");
        assert!(std::fs::read_to_string(&path).expect("the file").contains("\"maintenance\": true"));
    }
}
