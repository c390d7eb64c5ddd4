//! How long each phase of a device upgrade takes: the planner's estimates and the simulator's
//! schedule both come from one [`TimingProfile`].
//!
//! Defaults (seconds), chosen from Junos QFX practice where a reimage plus reboot takes roughly
//! 15 to 20 minutes:
//!
//! | phase         | leaf | spine, super-spine | what happens                                  |
//! |---------------|------|--------------------|-----------------------------------------------|
//! | `drain`       | 60   | 60                 | maintenance mode on, neighbours route around  |
//! | `image_copy`  | 180  | 180                | image to `/var/tmp`, checksum on the device   |
//! | `install`     | 480  | 480                | `request system software add`                 |
//! | `reboot`      | 480  | 600                | reboot until NETCONF answers again            |
//! | `convergence` | 120  | 120                | BGP, BFD, LACP back up, routes relearned      |
//! | `post_check`  | 60   | 60                 | the device watched in use, then health checks |
//! | `undrain`     | 60   | 60                 | maintenance mode off, traffic returns         |
//!
//! A leaf therefore takes 1,440 s (24 min) and a spine 1,560 s (26 min).
//!
//! A switch of an MLAG pair (Arista) keeps its MLAG ports down for the pair's reload-delay after
//! it boots, while the pair syncs (300 s on fixed systems; `timing.mlag_reload_delay_seconds`):
//! its convergence lasts at least that long, so it is not back in service, and its peer is not
//! taken down, before its servers can reach it again. Such a leaf takes 1,620 s by default.

use serde::Deserialize;

use crate::model::{DeviceId, Fabric, Role};

/// Durations of the phases of one device upgrade, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseDurations {
    /// Maintenance mode on until neighbours have moved traffic away.
    pub drain_seconds: u32,
    /// Copying the image to the device and verifying its checksum there.
    pub image_copy_seconds: u32,
    /// Installing the package.
    pub install_seconds: u32,
    /// Rebooting until the device answers again.
    pub reboot_seconds: u32,
    /// Protocols re-established and routes relearned.
    pub convergence_seconds: u32,
    /// The device watched in use after convergence, then the post-upgrade health checks.
    pub post_check_seconds: u32,
    /// Maintenance mode off until traffic has returned.
    pub undrain_seconds: u32,
}

impl PhaseDurations {
    /// The defaults for a role (see the module documentation).
    pub fn default_for(role: Role) -> PhaseDurations {
        let reboot_seconds = if role == Role::Leaf { 480 } else { 600 };
        PhaseDurations {
            drain_seconds: 60,
            image_copy_seconds: 180,
            install_seconds: 480,
            reboot_seconds,
            convergence_seconds: 120,
            post_check_seconds: 60,
            undrain_seconds: 60,
        }
    }

    /// Total time of one device upgrade, in seconds.
    pub fn total_seconds(&self) -> u64 {
        [
            self.drain_seconds,
            self.image_copy_seconds,
            self.install_seconds,
            self.reboot_seconds,
            self.convergence_seconds,
            self.post_check_seconds,
            self.undrain_seconds,
        ]
        .iter()
        .map(|&s| u64::from(s))
        .sum()
    }

    fn apply(&mut self, overrides: &PhaseOverrides) {
        let pairs = [
            (&mut self.drain_seconds, overrides.drain_seconds),
            (&mut self.image_copy_seconds, overrides.image_copy_seconds),
            (&mut self.install_seconds, overrides.install_seconds),
            (&mut self.reboot_seconds, overrides.reboot_seconds),
            (&mut self.convergence_seconds, overrides.convergence_seconds),
            (&mut self.post_check_seconds, overrides.post_check_seconds),
            (&mut self.undrain_seconds, overrides.undrain_seconds),
        ];
        for (slot, value) in pairs {
            if let Some(value) = value {
                *slot = value;
            }
        }
    }
}

/// Phase durations for every role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimingProfile {
    by_role: [PhaseDurations; 3],
    /// How long an MLAG switch keeps its MLAG ports down after it boots.
    pub mlag_reload_delay_seconds: u32,
    /// The devices upgraded by Arista's Smart System Upgrade (`upgrade.method`): no drain and
    /// no undrain (the data plane forwards through the reload), and no MLAG reload-delay (its
    /// ports never go down); the control plane is away for the reboot time, covered by BGP
    /// graceful restart, and the data plane pauses for [`SSU_OUTAGE_MS`] at its end.
    pub ssu_devices: std::collections::BTreeSet<DeviceId>,
}

/// How long a Smart System Upgrade stops the data plane at its end (about a second in Arista's
/// published runs: one ping lost).
pub const SSU_OUTAGE_MS: u64 = 1_000;

/// The MLAG reload-delay of fixed systems, EOS's default.
pub const MLAG_RELOAD_DELAY_SECONDS: u32 = 300;

impl Default for TimingProfile {
    fn default() -> Self {
        TimingProfile {
            by_role: Role::ALL.map(PhaseDurations::default_for),
            mlag_reload_delay_seconds: MLAG_RELOAD_DELAY_SECONDS,
            ssu_devices: std::collections::BTreeSet::new(),
        }
    }
}

impl TimingProfile {
    /// Builds a profile from the defaults and a scenario's `timing:` section. Fields at the top
    /// apply to every role; `leaf:`, `spine:` and `super-spine:` override them per role.
    pub fn from_overrides(overrides: &TimingOverrides) -> TimingProfile {
        let mut profile = TimingProfile::default();
        for (i, role) in Role::ALL.into_iter().enumerate() {
            profile.by_role[i].apply(&overrides.for_all_roles());
            let per_role = match role {
                Role::Leaf => &overrides.leaf,
                Role::Spine => &overrides.spine,
                Role::SuperSpine => &overrides.super_spine,
            };
            if let Some(per_role) = per_role {
                profile.by_role[i].apply(per_role);
            }
        }
        if let Some(delay) = overrides.mlag_reload_delay_seconds {
            profile.mlag_reload_delay_seconds = delay;
        }
        profile
    }

    /// Phase durations of device `id` of `fabric`: its role's, with a convergence of at least the
    /// MLAG reload-delay for a switch of an MLAG pair, and without drain and undrain for a
    /// device upgraded by Smart System Upgrade (whose ports never go down: no reload-delay).
    pub fn device_phases(&self, fabric: &Fabric, id: DeviceId) -> PhaseDurations {
        if self.ssu_devices.contains(&id) {
            let mut phases = *self.phases(fabric.device(id).role);
            phases.drain_seconds = 0;
            phases.undrain_seconds = 0;
            return phases;
        }
        self.reload_phases(fabric, id)
    }

    /// Phase durations of device `id` drained and reloaded, whatever `upgrade.method` gives it:
    /// what a switch that refuses Smart System Upgrade at run time goes through instead.
    pub fn reload_phases(&self, fabric: &Fabric, id: DeviceId) -> PhaseDurations {
        let mut phases = *self.phases(fabric.device(id).role);
        if fabric.mlag_peer(id).is_some() {
            phases.convergence_seconds = phases.convergence_seconds.max(self.mlag_reload_delay_seconds);
        }
        phases
    }

    /// Estimated time to upgrade device `id` of `fabric`, in seconds.
    pub fn device_seconds_of(&self, fabric: &Fabric, id: DeviceId) -> u64 {
        self.device_phases(fabric, id).total_seconds()
    }

    /// Phase durations of a device with `role`.
    pub fn phases(&self, role: Role) -> &PhaseDurations {
        &self.by_role[role as usize]
    }

    /// Estimated time to upgrade one device with `role`, in seconds.
    pub fn device_seconds(&self, role: Role) -> u64 {
        self.phases(role).total_seconds()
    }

    /// How long a device may take to come back from its reboot before the executor gives up
    /// on it: three times the longest expected reboot of any role, at least 15 minutes.
    pub fn boot_deadline_seconds(&self) -> u64 {
        let longest = Role::ALL.iter().map(|r| self.phases(*r).reboot_seconds).max().unwrap_or(600);
        (u64::from(longest) * 3).max(900)
    }
}

impl TimingOverrides {
    fn for_all_roles(&self) -> PhaseOverrides {
        PhaseOverrides {
            drain_seconds: self.drain_seconds,
            image_copy_seconds: self.image_copy_seconds,
            install_seconds: self.install_seconds,
            reboot_seconds: self.reboot_seconds,
            convergence_seconds: self.convergence_seconds,
            post_check_seconds: self.post_check_seconds,
            undrain_seconds: self.undrain_seconds,
        }
    }
}

/// Optional phase durations, as written in a scenario.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PhaseOverrides {
    pub drain_seconds: Option<u32>,
    pub image_copy_seconds: Option<u32>,
    pub install_seconds: Option<u32>,
    pub reboot_seconds: Option<u32>,
    pub convergence_seconds: Option<u32>,
    pub post_check_seconds: Option<u32>,
    pub undrain_seconds: Option<u32>,
}

/// A scenario's `timing:` section.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TimingOverrides {
    /// Override for every role (serde cannot flatten with `deny_unknown_fields`, hence the
    /// repetition of [`PhaseOverrides`]' fields).
    pub drain_seconds: Option<u32>,
    #[allow(missing_docs)]
    pub image_copy_seconds: Option<u32>,
    #[allow(missing_docs)]
    pub install_seconds: Option<u32>,
    #[allow(missing_docs)]
    pub reboot_seconds: Option<u32>,
    #[allow(missing_docs)]
    pub convergence_seconds: Option<u32>,
    #[allow(missing_docs)]
    pub post_check_seconds: Option<u32>,
    #[allow(missing_docs)]
    pub undrain_seconds: Option<u32>,
    /// The MLAG reload-delay (default 300 s).
    pub mlag_reload_delay_seconds: Option<u32>,
    /// Overrides for leafs.
    pub leaf: Option<PhaseOverrides>,
    /// Overrides for spines.
    pub spine: Option<PhaseOverrides>,
    /// Overrides for super-spines.
    #[serde(rename = "super-spine")]
    pub super_spine: Option<PhaseOverrides>,
}

/// How long the executor takes over one device of `role` when nothing goes wrong: the role's
/// phases and the pre-check's two health readings `sample_seconds` apart. What a maintenance
/// window must have room for (the planner's estimates leave the readings out).
pub fn device_run_seconds(timing: &TimingProfile, role: Role, limits: &crate::health::HealthLimits) -> u64 {
    timing.device_seconds(role) + u64::from(limits.sample_seconds)
}

/// [`device_run_seconds`] for device `id` of `fabric` (an MLAG switch waits out its
/// reload-delay).
pub fn device_run_seconds_of(
    timing: &TimingProfile,
    fabric: &Fabric,
    id: DeviceId,
    limits: &crate::health::HealthLimits,
) -> u64 {
    timing.device_seconds_of(fabric, id) + u64::from(limits.sample_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_totals() {
        let profile = TimingProfile::default();
        assert_eq!(profile.device_seconds(Role::Leaf), 1440);
        assert_eq!(profile.device_seconds(Role::Spine), 1560);
    }

    #[test]
    fn role_overrides_win_over_global_ones() {
        let overrides = TimingOverrides {
            reboot_seconds: Some(100),
            spine: Some(PhaseOverrides { reboot_seconds: Some(900), ..Default::default() }),
            ..Default::default()
        };
        let profile = TimingProfile::from_overrides(&overrides);
        assert_eq!(profile.phases(Role::Leaf).reboot_seconds, 100);
        assert_eq!(profile.phases(Role::Spine).reboot_seconds, 900);
        assert_eq!(profile.phases(Role::SuperSpine).reboot_seconds, 100);
    }
}
