//! How a device is rebooted into its new software: drained and reloaded, or, for an Arista
//! switch that can, by Smart System Upgrade (`reload fast-boot`: the data plane forwards while
//! the control plane restarts, covered by BGP graceful restart, and pauses about a second at the
//! end; `shared/reference/arista-eos.md` §6).
//!
//! What can be known before the run is decided here: the vendor, the platform, and that the
//! change is an upgrade (SSU never downgrades). What only the switch knows (`show reload
//! fast-boot` clean, graceful restart configured) is asked by the driver just before; a switch
//! that says no is drained and reloaded instead, and the journal says why.

use crate::model::{Device, Vendor};
use crate::version::Version;

/// How a device is rebooted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Maintenance mode, reload, convergence, maintenance mode off.
    Reload,
    /// Smart System Upgrade: no maintenance mode; `reload fast-boot`.
    Ssu,
}

impl Method {
    /// As plans and reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Reload => "reload",
            Method::Ssu => "ssu",
        }
    }
}

/// Platform families that support Smart System Upgrade, by model prefix: Arista's fixed leaf
/// systems. Modular and spine systems (7300, 7500, 7800) do not; a platform not listed is
/// treated as not supporting it.
pub const SSU_PLATFORMS: &[&str] =
    &["DCS-7050SX3", "DCS-7050CX3", "DCS-7050TX3", "DCS-7050SX2", "DCS-7060CX", "DCS-7280SR", "DCS-7280CR", "DCS-7020"];

/// Why `device` cannot be upgraded to `target` by Smart System Upgrade; `None` when it can (as
/// far as can be known before the run).
pub fn ssu_blocker(device: &Device, target: &Version) -> Option<String> {
    if device.vendor() != Vendor::Arista {
        return Some("Smart System Upgrade is Arista's; Junos devices reload".into());
    }
    if !SSU_PLATFORMS.iter().any(|prefix| device.platform.to_ascii_uppercase().starts_with(prefix)) {
        return Some(format!("{} is not a platform known to support Smart System Upgrade", device.platform));
    }
    match device.version.partial_cmp(target) {
        Some(std::cmp::Ordering::Less) => None,
        Some(_) => Some(format!("{} to {target} is not an upgrade (SSU never downgrades)", device.version)),
        None => Some(format!("{} and {target} cannot be ordered (SSU only upgrades)", device.version)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn device(platform: &str, version: &str) -> Device {
        Device {
            name: "leaf1".into(),
            role: Role::Leaf,
            family: "eos".into(),
            platform: platform.into(),
            version: Version::parse(version).unwrap(),
            engines: crate::model::Engines::Single,
            engine_versions: Vec::new(),
            address: None,
            critical_roles: Vec::new(),
        }
    }

    #[test]
    fn only_an_upgrade_of_a_listed_arista_platform_may_use_ssu() {
        let target = Version::parse("4.32.2F").unwrap();
        assert_eq!(ssu_blocker(&device("DCS-7050SX3-48YC8", "4.30.1F"), &target), None);
        assert_eq!(ssu_blocker(&device("DCS-7280SR3-48YC8", "4.29.2F"), &target), None);
        assert!(ssu_blocker(&device("DCS-7508R", "4.30.1F"), &target).unwrap().contains("not a platform"));
        assert!(ssu_blocker(&device("DCS-7050SX3-48YC8", "4.33.1F"), &target).unwrap().contains("not an upgrade"));
        assert!(ssu_blocker(&device("DCS-7050SX3-48YC8", "4.32.2M"), &target).unwrap().contains("cannot be ordered"));
        assert!(ssu_blocker(&device("qfx5120-48y", "21.4R3"), &Version::parse("23.4R2").unwrap()).is_some());
    }
}
