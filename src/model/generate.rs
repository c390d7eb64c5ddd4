//! Deterministic generation of large Clos fabrics from a few numbers.
//!
//! A scenario can say `fabric: {generate: {...}}` instead of listing devices, so that fabrics of
//! 100,000 devices can be planned, simulated and benchmarked without a giant file. The same
//! numbers always give the same fabric, device for device and in the same order.

use serde::Deserialize;

use super::{Device, DeviceId, Fabric, Role};
use crate::model::CriticalRole;
use crate::version::Version;

/// Family of every generated device.
pub const GENERATED_FAMILY: &str = "junos-qfx";
/// Platform of generated leafs (and border leafs).
pub const LEAF_PLATFORM: &str = "qfx5120-48y";
/// Platform of generated spines.
pub const SPINE_PLATFORM: &str = "qfx10002-36q";
/// Platform of generated super-spines.
pub const SUPER_SPINE_PLATFORM: &str = "qfx10008";
/// Version of generated devices unless `generate.version` says otherwise.
pub const DEFAULT_VERSION: &str = "18.4R2-S3.4";

/// The numbers that describe a generated fabric. Every field has a default.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Generate {
    /// Number of pods (3-stage fabrics have one).
    pub pods: u32,
    /// Spines in each pod; every leaf of the pod links to every spine of the pod.
    pub spines_per_pod: u32,
    /// Leafs in each pod, paired (1-2, 3-4, ...) for multihomed servers.
    pub leafs_per_pod: u32,
    /// Super-spines (5-stage); every spine links to every super-spine.
    pub super_spines: u32,
    /// Multihomed servers on each leaf pair.
    pub servers_per_leaf_pair: u32,
    /// Single-homed servers in the whole fabric, spread round-robin over the pod leafs.
    pub single_homed_servers: u32,
    /// Border leafs (critical role `dc-gateway`), added to pod 1.
    pub border_leafs: u32,
    /// Version every generated device runs.
    pub version: String,
}

impl Default for Generate {
    fn default() -> Self {
        Generate {
            pods: 1,
            spines_per_pod: 4,
            leafs_per_pod: 32,
            super_spines: 0,
            servers_per_leaf_pair: 4,
            single_homed_servers: 0,
            border_leafs: 2,
            version: DEFAULT_VERSION.to_string(),
        }
    }
}

impl Generate {
    /// Servers it describes (multihomed and single-homed).
    pub fn server_count(&self) -> u64 {
        u64::from(self.pods) * u64::from(self.leafs_per_pod / 2) * u64::from(self.servers_per_leaf_pair)
            + u64::from(self.single_homed_servers)
    }

    /// Links it describes.
    pub fn link_count(&self) -> u64 {
        let per_spine = u64::from(self.leafs_per_pod) + u64::from(self.super_spines);
        u64::from(self.pods) * u64::from(self.spines_per_pod) * per_spine
            + u64::from(self.border_leafs) * u64::from(self.spines_per_pod)
    }

    /// Each field with the largest value accepted: beyond these a fabric is a typo, not a data
    /// centre, and would only exhaust memory.
    pub const LIMITS: [(&'static str, u32); 7] = [
        ("pods", 10_000),
        ("spines_per_pod", 512),
        ("leafs_per_pod", 1_000_000),
        ("super_spines", 1_024),
        ("servers_per_leaf_pair", 1_024),
        ("single_homed_servers", 1_000_000),
        ("border_leafs", 1_024),
    ];

    /// The fields in [`Generate::LIMITS`] order.
    pub fn fields(&self) -> [u32; 7] {
        [
            self.pods,
            self.spines_per_pod,
            self.leafs_per_pod,
            self.super_spines,
            self.servers_per_leaf_pair,
            self.single_homed_servers,
            self.border_leafs,
        ]
    }

    /// Number of devices this description produces.
    pub fn device_count(&self) -> u64 {
        let per_pod = u64::from(self.spines_per_pod) + u64::from(self.leafs_per_pod);
        u64::from(self.pods) * per_pod + u64::from(self.super_spines) + u64::from(self.border_leafs)
    }

    /// Builds the fabric. `version` must already have been validated by the caller.
    pub fn build(&self, version: &Version) -> Fabric {
        let names = Names { multi_pod: self.pods > 1 };
        let mut devices = Vec::with_capacity(self.device_count() as usize);
        let device = |name: String, role: Role, platform: &str| Device {
            name,
            role,
            family: GENERATED_FAMILY.to_string(),
            platform: platform.to_string(),
            version: version.clone(),
            engines: super::Engines::Single,
            engine_versions: Vec::new(),
            address: None,
            critical_roles: Vec::new(),
        };
        for s in 1..=self.super_spines {
            devices.push(device(format!("superspine{s}"), Role::SuperSpine, SUPER_SPINE_PLATFORM));
        }
        for pod in 1..=self.pods {
            for s in 1..=self.spines_per_pod {
                devices.push(device(names.of(pod, "spine", s), Role::Spine, SPINE_PLATFORM));
            }
            for l in 1..=self.leafs_per_pod {
                devices.push(device(names.of(pod, "leaf", l), Role::Leaf, LEAF_PLATFORM));
            }
        }
        for b in 1..=self.border_leafs {
            let mut border = device(format!("bl{b}"), Role::Leaf, LEAF_PLATFORM);
            border.critical_roles.push(CriticalRole::DcGateway);
            devices.push(border);
        }
        let mut fabric = Fabric::new(devices).expect("generated names are unique");
        self.link(&mut fabric);
        self.attach_servers(&mut fabric, &names);
        fabric
    }

    fn pod_base(&self, pod: u32) -> u32 {
        self.super_spines + (pod - 1) * (self.spines_per_pod + self.leafs_per_pod)
    }

    fn spine(&self, pod: u32, s: u32) -> DeviceId {
        DeviceId(self.pod_base(pod) + s)
    }

    fn leaf(&self, pod: u32, l: u32) -> DeviceId {
        DeviceId(self.pod_base(pod) + self.spines_per_pod + l)
    }

    fn link(&self, fabric: &mut Fabric) {
        for pod in 1..=self.pods {
            for s in 0..self.spines_per_pod {
                for l in 0..self.leafs_per_pod {
                    fabric.add_link(self.spine(pod, s), self.leaf(pod, l));
                }
                for ss in 0..self.super_spines {
                    fabric.add_link(self.spine(pod, s), DeviceId(ss));
                }
            }
        }
        let border_base = self.super_spines + self.pods * (self.spines_per_pod + self.leafs_per_pod);
        if self.pods > 0 {
            for b in 0..self.border_leafs {
                for s in 0..self.spines_per_pod {
                    fabric.add_link(self.spine(1, s), DeviceId(border_base + b));
                }
            }
        }
    }

    fn attach_servers(&self, fabric: &mut Fabric, names: &Names) {
        for pod in 1..=self.pods {
            for pair in 0..self.leafs_per_pod / 2 {
                let leafs = vec![self.leaf(pod, 2 * pair), self.leaf(pod, 2 * pair + 1)];
                for k in 1..=self.servers_per_leaf_pair {
                    let n = pair * self.servers_per_leaf_pair + k;
                    fabric.add_server(names.of(pod, "bms", n), leafs.clone());
                }
            }
        }
        let leafs_total = self.pods * self.leafs_per_pod;
        if leafs_total == 0 {
            return;
        }
        for k in 0..self.single_homed_servers {
            let slot = k % leafs_total;
            let leaf = self.leaf(slot / self.leafs_per_pod + 1, slot % self.leafs_per_pod);
            fabric.add_server(format!("single{}", k + 1), vec![leaf]);
        }
    }
}

struct Names {
    multi_pod: bool,
}

impl Names {
    fn of(&self, pod: u32, kind: &str, n: u32) -> String {
        if self.multi_pod { format!("p{pod}-{kind}{n}") } else { format!("{kind}{n}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fabric_has_the_promised_shape() {
        let generate = Generate::default();
        let fabric = generate.build(&Version::parse(DEFAULT_VERSION).unwrap());
        assert_eq!(fabric.len() as u64, generate.device_count());
        assert_eq!(fabric.len(), 4 + 32 + 2);
        let leaf1 = fabric.lookup("leaf1").unwrap();
        assert_eq!(fabric.neighbours_with_role(leaf1, Role::Spine).count(), 4);
        assert_eq!(fabric.servers().len(), 16 * 4);
        assert!(fabric.servers().iter().all(|s| s.is_multihomed()));
        let bl2 = fabric.lookup("bl2").unwrap();
        assert_eq!(fabric.device(bl2).critical_roles, vec![CriticalRole::DcGateway]);
    }

    #[test]
    fn five_stage_names_pods_and_links_super_spines() {
        let generate = Generate { pods: 2, super_spines: 2, single_homed_servers: 3, ..Generate::default() };
        let fabric = generate.build(&Version::parse("18.4R2").unwrap());
        let spine = fabric.lookup("p2-spine4").unwrap();
        assert_eq!(fabric.neighbours_with_role(spine, Role::SuperSpine).count(), 2);
        assert_eq!(fabric.neighbours_with_role(spine, Role::Leaf).count(), 32);
        let singles: Vec<_> = fabric.servers().iter().filter(|s| !s.is_multihomed()).collect();
        assert_eq!(singles.len(), 3);
        assert_eq!(fabric.device(singles[2].leafs[0]).name, "p1-leaf3");
    }
}
