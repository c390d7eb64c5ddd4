//! One emulated device's state.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Device;

/// What an emulated Junos device remembers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabDevice {
    /// Hostname.
    pub name: String,
    /// Model (the fabric's platform).
    pub model: String,
    /// Running version.
    pub version: String,
    /// Last boot, virtual Unix seconds (`start-time` of the routing engine).
    pub boot_unix: u64,
    /// Rebooting until this virtual time.
    pub down_until: Option<u64>,
    /// Never coming back.
    pub dead: bool,
    /// Committed configuration, as `set` lines without the `set `.
    pub committed: BTreeSet<String>,
    /// Candidate configuration while a change is under way.
    pub candidate: Option<BTreeSet<String>>,
    /// Session holding the configuration lock.
    pub lock: Option<u64>,
    /// A `commit confirmed` waiting for its confirmation: (deadline, configuration to roll back to).
    pub confirm: Option<(u64, BTreeSet<String>)>,
    /// Installed version waiting for a reboot.
    pub pending_install: Option<String>,
    /// Files in /var/tmp: path to (size, md5, source path).
    pub files: BTreeMap<String, (u64, String, String)>,
    /// Completed upgrades (reboots into a new version).
    pub upgrades: u32,
    /// One-shot faults that already fired.
    pub fired: BTreeSet<String>,
}

impl LabDevice {
    /// A device as the fabric describes it, booted at `boot_unix`.
    pub fn new(device: &Device, boot_unix: u64) -> LabDevice {
        LabDevice {
            name: device.name.clone(),
            model: device.platform.clone(),
            version: device.version.to_string(),
            boot_unix: boot_unix.saturating_sub(86_400),
            down_until: None,
            dead: false,
            committed: BTreeSet::new(),
            candidate: None,
            lock: None,
            confirm: None,
            pending_install: None,
            files: BTreeMap::new(),
            upgrades: 0,
            fired: BTreeSet::new(),
        }
    }

    /// Applies what time has done: a finished reboot brings the device back with its pending
    /// version; an unconfirmed `commit confirmed` rolls back.
    pub fn settle(&mut self, now: u64) {
        if let Some(until) = self.down_until
            && now >= until
            && !self.dead
        {
            self.down_until = None;
            self.boot_unix = until;
            if let Some(version) = self.pending_install.take() {
                self.version = version;
                self.upgrades += 1;
            }
        }
        if let Some((deadline, previous)) = &self.confirm
            && now >= *deadline
        {
            self.committed = previous.clone();
            self.confirm = None;
        }
    }

    /// True when the device answers.
    pub fn is_up(&self, now: u64) -> bool {
        !self.dead && self.down_until.is_none_or(|until| now >= until)
    }

    /// True when maintenance mode is committed.
    pub fn in_maintenance(&self) -> bool {
        crate::maintenance::is_on(self.committed.iter().map(String::as_str))
    }

    /// True when interface `name` is disabled in the committed configuration.
    pub fn is_disabled(&self, name: &str) -> bool {
        self.committed.contains(&crate::maintenance::disable_statement(name))
    }
}
