//! One emulated device's state: its routing engines or virtual-chassis members, configuration,
//! files and what time has done to it.

use std::collections::{BTreeMap, BTreeSet};

use super::config::Config;
use crate::model::{Device, Engines};

/// One routing engine or member of an emulated device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabEngine {
    /// `fpc0` on a single-engine switch (as EX/QFX name it), `re0`/`re1`, or `fpcN` in a virtual
    /// chassis.
    pub name: String,
    /// Slot or member number; 0 is the master.
    pub slot: u32,
    /// Running version.
    pub version: String,
    /// Last boot, virtual Unix seconds (its `start-time`).
    pub boot_unix: u64,
    /// Installed version waiting for a reboot.
    pub pending: Option<String>,
    /// Packages installed on this engine, to prove none is installed twice.
    pub installs: u32,
    /// The version it ran before its last reboot into another (what a rollback returns to).
    pub previous: Option<String>,
}

/// A file on an emulated device: its size and checksums (the content itself is not kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabFile {
    /// Bytes.
    pub size: u64,
    /// MD5, SHA-1 and SHA-256, lower-case hex.
    pub md5: String,
    /// SHA-1.
    pub sha1: String,
    /// SHA-256.
    pub sha256: String,
    /// When it was written, virtual Unix seconds.
    pub written_unix: u64,
}

impl LabFile {
    /// Hashes `bytes` as they arrive.
    pub fn hasher() -> FileHasher {
        FileHasher::default()
    }
}

/// Hashes a file's content in every algorithm the device offers.
#[derive(Default)]
pub struct FileHasher {
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    size: u64,
}

impl FileHasher {
    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        use md5::Digest;
        self.md5.update(bytes);
        self.sha1.update(bytes);
        self.sha256.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// The file, written at `now`.
    pub fn finish(self, now: u64) -> LabFile {
        use md5::Digest;
        LabFile {
            size: self.size,
            md5: crate::util::hex(&self.md5.finalize()),
            sha1: crate::util::hex(&self.sha1.finalize()),
            sha256: crate::util::hex(&self.sha256.finalize()),
            written_unix: now,
        }
    }
}

/// What an emulated Junos device remembers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabDevice {
    /// Hostname.
    pub name: String,
    /// Model (the fabric's platform).
    pub model: String,
    /// Running version (the master's).
    pub version: String,
    /// What the device is made of.
    pub layout: Engines,
    /// Every routing engine or member, by slot.
    pub engines: Vec<LabEngine>,
    /// Rebooting until this virtual time.
    pub down_until: Option<u64>,
    /// The engines that reboot (and boot again at `down_until`).
    pub rebooting: Vec<u32>,
    /// Never coming back.
    pub dead: bool,
    /// Hung (the `hang` fault): its links stay up but it forwards and answers nothing, for good.
    pub hung: bool,
    /// The committed configuration.
    pub config: Config,
    /// Earlier committed configurations, newest first: `rollback 1`, `rollback 2`, ... (49 kept).
    pub history: Vec<Config>,
    /// The shared candidate while it differs from the committed configuration, and the session
    /// that last changed it.
    pub candidate: Option<(Config, u64)>,
    /// Private candidates (`open-configuration private`) by session: the committed configuration
    /// each started from, and the candidate.
    pub private: BTreeMap<u64, (Config, Config)>,
    /// Session holding the configuration lock (exclusive).
    pub lock: Option<u64>,
    /// A `commit confirmed` waiting for its confirmation: (deadline, configuration to roll back to).
    pub confirm: Option<(u64, Config)>,
    /// Files on the device (under /var/tmp and the user's home): path to what is known of it.
    pub files: BTreeMap<String, LabFile>,
    /// Completed upgrades (reboots into a new version).
    pub upgrades: u32,
    /// Completed rollbacks (reboots back into the previous version).
    pub rollbacks: u32,
    /// A rollback is pending: the next reboot into another version is a rollback.
    pub rollback_pending: bool,
    /// When the device rebooted (its neighbours count these as BGP flaps).
    pub reboots: Vec<u64>,
    /// One-shot faults that already fired.
    pub fired: BTreeSet<String>,
    /// An Arista switch's own state (configuration trees, boot-config); `None` on Junos.
    pub eos: Option<super::eos::EosState>,
}

impl LabDevice {
    /// A device as the fabric describes it, booted a day before `start_unix`. A dual routing
    /// engine box starts with GRES and NSR configured, as such boxes run.
    pub fn new(device: &Device, start_unix: u64) -> LabDevice {
        let boot_unix = start_unix.saturating_sub(86_400);
        let engines = (0..device.engines.count())
            .map(|slot| LabEngine {
                name: device.engines.engine_name(slot),
                slot,
                version: device.engine_version(slot as usize).to_string(),
                boot_unix,
                pending: None,
                installs: 0,
                previous: None,
            })
            .collect();
        let mut config = Config::default();
        let base = [
            format!("set system host-name {}", device.name),
            "set system root-authentication encrypted-password \"$6$lab$rootsecret\"".to_string(),
            "set system services ssh".to_string(),
            "set system services netconf ssh".to_string(),
            "set protocols lldp interface all".to_string(),
        ];
        for line in base {
            config.apply(&line).expect("the lab's base configuration is valid");
        }
        if device.engines == Engines::Dual {
            config.apply(&format!("set {}", crate::maintenance::GRES)).expect("valid");
            config.apply(&format!("set {}", crate::maintenance::NSR)).expect("valid");
        }
        // An EOS switch boots from an image on its flash, which stays there (a rollback boots
        // it again).
        let mut files = BTreeMap::new();
        if device.vendor() == crate::model::Vendor::Arista {
            let mut hasher = LabFile::hasher();
            hasher.update(format!("EOS-{} {}", device.version, device.platform).as_bytes());
            let mut file = hasher.finish(boot_unix);
            file.size = 1_024_000_000;
            files.insert(format!("{}EOS-{}.swi", super::eos::FLASH, device.version), file);
        }
        LabDevice {
            name: device.name.clone(),
            model: device.platform.clone(),
            version: device.version.to_string(),
            layout: device.engines.clone(),
            engines,
            down_until: None,
            rebooting: Vec::new(),
            dead: false,
            hung: false,
            config,
            history: Vec::new(),
            candidate: None,
            private: BTreeMap::new(),
            lock: None,
            confirm: None,
            files,
            upgrades: 0,
            rollbacks: 0,
            rollback_pending: false,
            reboots: Vec::new(),
            fired: BTreeSet::new(),
            eos: (device.vendor() == crate::model::Vendor::Arista)
                .then(|| super::eos::EosState::new(&device.name, &device.version.to_string())),
        }
    }

    /// Applies what time has done: a finished reboot brings the rebooted engines back with their
    /// pending versions; an unconfirmed `commit confirmed` rolls back.
    pub fn settle(&mut self, now: u64) {
        if let Some(until) = self.down_until
            && now >= until
            && !self.dead
        {
            self.down_until = None;
            for slot in std::mem::take(&mut self.rebooting) {
                if let Some(engine) = self.engines.iter_mut().find(|e| e.slot == slot) {
                    engine.boot_unix = until;
                    if let Some(version) = engine.pending.take() {
                        engine.previous = Some(std::mem::replace(&mut engine.version, version));
                    }
                }
            }
            let master = self.engines[0].version.clone();
            if master != self.version {
                self.version = master;
                if self.rollback_pending {
                    self.rollbacks += 1;
                } else {
                    self.upgrades += 1;
                }
            }
            self.rollback_pending = false;
        }
        if let Some((deadline, previous)) = &self.confirm
            && now >= *deadline
        {
            let previous = previous.clone();
            self.commit(previous);
            self.confirm = None;
        }
    }

    /// Starts a reboot of `slots` at `now`, lasting `seconds`: the device answers nothing until
    /// it is back.
    pub fn reboot(&mut self, slots: Vec<u32>, now: u64, seconds: u64) {
        self.down_until = Some(now + seconds.max(1));
        self.rebooting = slots;
        self.reboots.push(now);
        self.lock = None;
        self.candidate = None;
        self.private.clear();
    }

    /// Makes `config` the committed configuration, keeping the one it replaces as `rollback 1`.
    pub fn commit(&mut self, config: Config) {
        let previous = std::mem::replace(&mut self.config, config);
        self.history.insert(0, previous);
        self.history.truncate(49);
    }

    /// The committed configuration as `set` statements (without `set `).
    pub fn committed(&self) -> BTreeSet<String> {
        self.config.set_lines().into_iter().collect()
    }

    /// True when the device answers (and, for its BGP peers, forwards).
    pub fn is_up(&self, now: u64) -> bool {
        !self.dead && !self.hung && self.down_until.is_none_or(|until| now >= until)
    }

    /// The committed configuration as it takes effect (groups applied, deactivated statements
    /// left out), as `set` statements: what the device's behaviour follows.
    pub fn effective(&self) -> BTreeSet<String> {
        self.config.effective().set_lines().into_iter().collect()
    }

    /// True when maintenance mode is committed (and in effect).
    pub fn in_maintenance(&self) -> bool {
        crate::maintenance::is_on(self.config.effective().set_lines().iter().map(String::as_str))
    }

    /// True when interface `name` is disabled in the configuration in effect: by a statement of
    /// its own or a group's, and not deactivated.
    pub fn is_disabled(&self, name: &str) -> bool {
        self.effective().contains(&crate::maintenance::disable_statement(name))
    }

    /// The master engine.
    pub fn master(&self) -> &LabEngine {
        &self.engines[0]
    }

    /// Packages installed, summed over engines.
    pub fn installs(&self) -> u32 {
        self.engines.iter().map(|e| e.installs).sum()
    }
}
