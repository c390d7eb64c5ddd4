//! The fabric model: devices, links and servers, indexed for the planner and the simulator.
//!
//! A [`Fabric`] is built once from a scenario (explicit lists or a [`generate::Generate`]
//! description) and is read-only afterwards. Devices are addressed by [`DeviceId`], a dense index,
//! so that planning a 100,000-device fabric touches vectors, not maps of strings.

pub mod generate;

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::version::Version;

/// Dense index of a device in [`Fabric::devices`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(pub u32);

impl DeviceId {
    /// The index as a `usize`, for indexing vectors.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a device sits in the Clos fabric. Upgrades go leaf, then spine, then super-spine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Top-of-rack switch; servers attach here.
    Leaf,
    /// Aggregates the leafs of one pod.
    Spine,
    /// Joins the pods of a 5-stage fabric.
    SuperSpine,
}

impl Role {
    /// All roles, in upgrade order.
    pub const ALL: [Role; 3] = [Role::Leaf, Role::Spine, Role::SuperSpine];

    /// The name used in scenario files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leaf => "leaf",
            Role::Spine => "spine",
            Role::SuperSpine => "super-spine",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A function some devices share and that must survive any single batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CriticalRole {
    /// BGP route reflector for the overlay.
    RouteReflector,
    /// Border leaf to the data-center gateway / WAN.
    DcGateway,
    /// Data-center interconnect gateway.
    DciGateway,
    /// Multicast gateway (e.g. for EVPN OISM).
    McastGateway,
}

impl CriticalRole {
    /// The name used in scenario files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CriticalRole::RouteReflector => "route-reflector",
            CriticalRole::DcGateway => "dc-gateway",
            CriticalRole::DciGateway => "dci-gateway",
            CriticalRole::McastGateway => "mcast-gateway",
        }
    }
}

/// What a switch is made of: its routing engines or virtual-chassis members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Engines {
    /// One routing engine (most fabric switches).
    #[default]
    Single,
    /// Two routing engines, `re0` (master) and `re1`.
    Dual,
    /// A virtual chassis of this many members (`fpc0` the master, `fpc1` the backup).
    VirtualChassis(u32),
}

impl Engines {
    /// The name engine `slot` has in a device's replies: `fpc0` on a single-engine EX/QFX switch,
    /// `re0`/`re1` with two routing engines, `fpcN` in a virtual chassis.
    pub fn engine_name(&self, slot: u32) -> String {
        match self {
            Engines::Dual => format!("re{slot}"),
            Engines::Single | Engines::VirtualChassis(_) => format!("fpc{slot}"),
        }
    }

    /// How many routing engines or members.
    pub fn count(&self) -> u32 {
        match self {
            Engines::Single => 1,
            Engines::Dual => 2,
            Engines::VirtualChassis(members) => *members,
        }
    }
}

/// One switch of the fabric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Unique name (the hostname).
    pub name: String,
    /// Position in the fabric.
    pub role: Role,
    /// Device family, e.g. `junos-qfx`; must match an image's family.
    pub family: String,
    /// Hardware platform, e.g. `qfx5120-48y`; must be in an image's platform list.
    pub platform: String,
    /// Network OS version the device runs now (its master routing engine's).
    pub version: Version,
    /// Its routing engines or members.
    pub engines: Engines,
    /// The version of each routing engine or member, when they differ (a half-finished upgrade);
    /// empty when all run `version`.
    pub engine_versions: Vec<Version>,
    /// Management address `host:port`, used by real drivers.
    pub address: Option<String>,
    /// Functions this device provides that its peers back up.
    pub critical_roles: Vec<CriticalRole>,
}

/// Who makes a device's network OS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Vendor {
    /// Junos.
    Juniper,
    /// EOS.
    Arista,
}

impl Vendor {
    /// The vendor's name as scenarios write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Juniper => "juniper",
            Vendor::Arista => "arista",
        }
    }
}

impl Device {
    /// Whose OS the device runs, as its version says (EOS versions are Arista's).
    pub fn vendor(&self) -> Vendor {
        if self.version.is_eos() { Vendor::Arista } else { Vendor::Juniper }
    }

    /// The version of engine `index` (0 is the master).
    pub fn engine_version(&self, index: usize) -> &Version {
        self.engine_versions.get(index).unwrap_or(&self.version)
    }
}

/// A server (bare-metal host) and the leafs it hangs on. Two or more leafs: multihomed (ESI-LAG).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// Unique name among servers.
    pub name: String,
    /// The leafs the server is linked to, in file order, without duplicates.
    pub leafs: Vec<DeviceId>,
}

impl Server {
    /// True when the server is attached to more than one leaf.
    pub fn is_multihomed(&self) -> bool {
        self.leafs.len() > 1
    }
}

/// The fabric: devices, device-to-device links and servers, with adjacency built once.
#[derive(Clone, Debug, Default)]
pub struct Fabric {
    devices: Vec<Device>,
    links: Vec<(DeviceId, DeviceId)>,
    servers: Vec<Server>,
    by_name: HashMap<String, DeviceId>,
    neighbours: Vec<Vec<DeviceId>>,
    /// MLAG pairs (Arista): two switches that are one LAG endpoint to their servers, each pair
    /// once, lower id first.
    mlag_pairs: Vec<(DeviceId, DeviceId)>,
}

/// Why a fabric could not be assembled. Scenario loading checks these first, with file positions.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FabricError {
    /// Two devices share a name.
    #[error("duplicate device name {0}")]
    DuplicateDevice(String),
    /// A link or server refers to a device that does not exist.
    #[error("unknown device {0}")]
    UnknownDevice(String),
}

impl Fabric {
    /// Builds a fabric from devices; links and servers are added with [`Fabric::add_link`] and
    /// [`Fabric::add_server`].
    pub fn new(devices: Vec<Device>) -> Result<Fabric, FabricError> {
        let mut by_name = HashMap::with_capacity(devices.len());
        for (index, device) in devices.iter().enumerate() {
            let id = DeviceId(u32::try_from(index).expect("fewer than 2^32 devices"));
            if by_name.insert(device.name.clone(), id).is_some() {
                return Err(FabricError::DuplicateDevice(device.name.clone()));
            }
        }
        let neighbours = vec![Vec::new(); devices.len()];
        Ok(Fabric { devices, links: Vec::new(), servers: Vec::new(), by_name, neighbours, mlag_pairs: Vec::new() })
    }

    /// Adds a device-to-device link. A repeated link is kept once (parallel links are one
    /// adjacency for planning purposes).
    pub fn add_link(&mut self, a: DeviceId, b: DeviceId) {
        assert!(a != b, "a link joins two different devices");
        // Look in the shorter list: a spine of a wide pod has thousands of neighbours, its
        // leafs a handful, so building a fabric stays linear in its links.
        let (a_list, b_list) = (&self.neighbours[a.index()], &self.neighbours[b.index()]);
        let known = if a_list.len() <= b_list.len() { a_list.contains(&b) } else { b_list.contains(&a) };
        if known {
            return;
        }
        self.links.push((a, b));
        self.neighbours[a.index()].push(b);
        self.neighbours[b.index()].push(a);
    }

    /// Makes `a` and `b` an MLAG pair (kept once, whichever order it is given in).
    pub fn add_mlag_pair(&mut self, a: DeviceId, b: DeviceId) {
        assert!(a != b, "an MLAG pair is two different devices");
        let pair = if a < b { (a, b) } else { (b, a) };
        if !self.mlag_pairs.contains(&pair) {
            self.mlag_pairs.push(pair);
        }
    }

    /// Every MLAG pair, lower id first.
    pub fn mlag_pairs(&self) -> &[(DeviceId, DeviceId)] {
        &self.mlag_pairs
    }

    /// The names of the first `most` devices of `vendor`, in fabric order.
    pub fn names_of_vendor(&self, vendor: Vendor, most: usize) -> Vec<&str> {
        self.devices.iter().filter(|d| d.vendor() == vendor).map(|d| d.name.as_str()).take(most).collect()
    }

    /// The MLAG peer of `id`, if it has one.
    pub fn mlag_peer(&self, id: DeviceId) -> Option<DeviceId> {
        self.mlag_pairs.iter().find_map(|&(a, b)| (a == id).then_some(b).or((b == id).then_some(a)))
    }

    /// Adds a server attached to `leafs` (duplicates removed, order kept).
    pub fn add_server(&mut self, name: String, leafs: Vec<DeviceId>) {
        let mut unique: Vec<DeviceId> = Vec::with_capacity(leafs.len());
        for leaf in leafs {
            if !unique.contains(&leaf) {
                unique.push(leaf);
            }
        }
        self.servers.push(Server { name, leafs: unique });
    }

    /// All devices, indexed by [`DeviceId`].
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// One device.
    pub fn device(&self, id: DeviceId) -> &Device {
        &self.devices[id.index()]
    }

    /// Iterates over `(id, device)` pairs in file order.
    pub fn iter(&self) -> impl Iterator<Item = (DeviceId, &Device)> {
        self.devices.iter().enumerate().map(|(i, d)| (DeviceId(i as u32), d))
    }

    /// Sets a device's management address (`host:port`), as an inventory gives it.
    pub fn set_address(&mut self, id: DeviceId, address: Option<String>) {
        self.devices[id.index()].address = address;
    }

    /// Looks a device up by name.
    pub fn lookup(&self, name: &str) -> Option<DeviceId> {
        self.by_name.get(name).copied()
    }

    /// Device-to-device links, each once.
    pub fn links(&self) -> &[(DeviceId, DeviceId)] {
        &self.links
    }

    /// Servers in file order.
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// Devices linked to `id`, in the order the links were added.
    pub fn neighbours(&self, id: DeviceId) -> &[DeviceId] {
        &self.neighbours[id.index()]
    }

    /// Neighbours of `id` that have role `role`, e.g. a leaf's spines.
    pub fn neighbours_with_role(&self, id: DeviceId, role: Role) -> impl Iterator<Item = DeviceId> {
        self.neighbours(id).iter().copied().filter(move |n| self.device(*n).role == role)
    }

    /// A short fingerprint of the fabric (its device names), identifying it across scenario files:
    /// the store allows one open job per fingerprint.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut names: Vec<&str> = self.devices.iter().map(|d| d.name.as_str()).collect();
        names.sort_unstable();
        let digest = Sha256::digest(names.join("\n").as_bytes());
        crate::util::hex(&digest[..8])
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// True when the fabric has no devices.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
}
