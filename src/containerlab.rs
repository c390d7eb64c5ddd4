//! containerlab topologies (`*.clab.yml`) in and out: `import` turns one into a scenario,
//! `export` writes a scenario as one that containerlab can deploy with vJunos-switch nodes.
//!
//! The topology format is containerlab's: `name`, `topology.kinds` (defaults per kind),
//! `topology.defaults`, `topology.nodes` (`kind`, `image`, `labels`, ...) and `topology.links`
//! (`endpoints: ["node:interface", "node:interface"]`). Juniper kinds are devices; `linux` nodes
//! are servers. What a scenario needs and a topology does not say comes from labels
//! (`hitless.role`, `hitless.version`, `hitless.platform`, `hitless.family`,
//! `hitless.critical-roles`, `hitless.routing-engines`, `hitless.vc-members`,
//! `hitless.engine-versions`), else from the kind (platform and family, see [`KINDS`]), the
//! image's tag (the version), the node's name (`spine…`, `leaf…`, `superspine…`) or the
//! tiers. Kinds, nodes and links hitless cannot use are reported, never dropped silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::{CriticalRole, Engines, Role};
use crate::scenario::Scenario;
use crate::scenario::write::{Device, Written, tiers};

/// Juniper kinds: (kind, family, platform). vJunos-switch emulates an EX9214, vJunos-router
/// and vMX an MX, vQFX a QFX10000, vSRX an SRX, cRPD is Junos's routing stack in a container.
/// The `vr-` names are containerlab's older names for the same kinds.
pub const KINDS: &[(&str, &str, &str)] = &[
    ("juniper_vjunosswitch", "junos-ex", "ex9214"),
    ("juniper_vjunosrouter", "junos-mx", "mx240"),
    ("juniper_vjunosevolved", "junos-ptx", "ptx10001-36mr"),
    ("juniper_vqfx", "junos-qfx", "qfx10002-36q"),
    ("vr-vqfx", "junos-qfx", "qfx10002-36q"),
    ("juniper_vmx", "junos-mx", "vmx"),
    ("vr-vmx", "junos-mx", "vmx"),
    ("juniper_vsrx", "junos-srx", "vsrx"),
    ("juniper_vex", "junos-ex", "ex9214"),
    ("juniper_crpd", "junos-crpd", "crpd"),
    ("crpd", "junos-crpd", "crpd"),
];

/// The kind and image `export` writes for every device.
pub const EXPORT_KIND: &str = "juniper_vjunosswitch";
/// The image repository `export` writes (tagged with the device's version).
pub const EXPORT_IMAGE: &str = "vrnetlab/juniper_vjunos-switch";
/// The image `export` gives servers.
pub const SERVER_IMAGE: &str = "ghcr.io/hellt/network-multitool";

/// Why a topology cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// Not YAML, or not a topology.
    #[error("{file}{}: {message}", if *line > 0 { format!(":{line}") } else { String::new() })]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Things no scenario can be made without (each names its node or link).
    #[error("{file}: {}", problems.join("; "))]
    Invalid {
        /// The file.
        file: String,
        /// Each problem.
        problems: Vec<String>,
    },
}

/// What `import` made.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The scenario.
    pub written: Written,
    /// Kinds, nodes and links left out, and guesses worth a look.
    pub warnings: Vec<String>,
}

fn text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The version in an image reference's tag (`repo/name:23.2R1.14` → `23.2R1.14`).
fn tag_of(image: &str) -> Option<&str> {
    let (_, tag) = image.rsplit_once(':')?;
    (!tag.contains('/')).then_some(tag)
}

fn role_from_name(name: &str) -> Option<Role> {
    let name = name.to_ascii_lowercase();
    if name.starts_with("superspine") || name.starts_with("super-spine") || name.starts_with("ss") {
        Some(Role::SuperSpine)
    } else if name.starts_with("spine") {
        Some(Role::Spine)
    } else if name.starts_with("leaf") || name.starts_with("bl") || name.starts_with("border") {
        Some(Role::Leaf)
    } else {
        None
    }
}

/// Turns a containerlab topology (`text`, read from `file`) into a scenario; `image` as for
/// `discover`.
pub fn import(text_in: &str, file: &str, image: Option<&str>) -> Result<Imported, ImportError> {
    let root: serde_json::Value = serde_saphyr::from_str(text_in).map_err(|e| ImportError::Syntax {
        file: file.to_string(),
        line: e.location().map_or(0, |l| l.line() as usize),
        message: format!("not a containerlab topology: {e}"),
    })?;
    let syntax = |message: &str| ImportError::Syntax { file: file.to_string(), line: 0, message: message.to_string() };
    let topology = root.get("topology").ok_or_else(|| syntax("no `topology:` section"))?;
    let nodes = topology.get("nodes").and_then(|n| n.as_object()).ok_or_else(|| syntax("no `topology.nodes`"))?;
    let kinds = topology.get("kinds").and_then(|k| k.as_object()).cloned().unwrap_or_default();
    let defaults = topology.get("defaults").and_then(|d| d.as_object()).cloned().unwrap_or_default();
    let name = root.get("name").and_then(text).unwrap_or_else(|| "containerlab".to_string());
    // A node's setting: its own, else its kind's, else the defaults'.
    let setting = |node: &serde_json::Map<String, serde_json::Value>, key: &str| -> Option<serde_json::Value> {
        if let Some(v) = node.get(key) {
            return Some(v.clone());
        }
        let kind = node.get("kind").and_then(text).or_else(|| defaults.get("kind").and_then(text))?;
        kinds.get(&kind).and_then(|k| k.get(key)).cloned().or_else(|| defaults.get(key).cloned())
    };
    let mut warnings = Vec::new();
    let mut problems = Vec::new();
    let mut devices: BTreeMap<String, Device> = BTreeMap::new();
    let mut given: BTreeMap<String, (Role, &'static str)> = BTreeMap::new();
    let mut hosts: BTreeSet<String> = BTreeSet::new();
    for (node, body) in nodes {
        let empty = serde_json::Map::new();
        let body = body.as_object().unwrap_or(&empty);
        let kind = setting(body, "kind").and_then(|k| text(&k)).unwrap_or_default();
        let labels: BTreeMap<String, String> = setting(body, "labels")
            .and_then(|l| l.as_object().cloned())
            .map(|l| l.iter().filter_map(|(k, v)| text(v).map(|v| (k.clone(), v))).collect())
            .unwrap_or_default();
        if kind == "linux" {
            hosts.insert(node.clone());
            continue;
        }
        let Some((_, family, platform)) = KINDS.iter().find(|(k, _, _)| *k == kind) else {
            warnings.push(format!(
                "node {node}: kind {:?} is neither a Juniper kind hitless upgrades nor a linux host; left out",
                kind
            ));
            continue;
        };
        let image = setting(body, "image").and_then(|i| text(&i)).unwrap_or_default();
        let version = match labels.get("hitless.version").cloned().or_else(|| tag_of(&image).map(str::to_string)) {
            Some(v) if crate::version::Version::parse(&v).is_ok() => v,
            Some(v) => {
                problems.push(format!(
                    "node {node}: {v:?} (from its image tag or hitless.version) is not a Junos version; give one with the label hitless.version"
                ));
                continue;
            }
            None => {
                problems.push(format!(
                    "node {node}: its image {image:?} has no version tag; give one with the label hitless.version"
                ));
                continue;
            }
        };
        let role = match labels.get("hitless.role").map(String::as_str) {
            Some(role) => match role {
                "leaf" => Some((Role::Leaf, "label hitless.role")),
                "spine" => Some((Role::Spine, "label hitless.role")),
                "super-spine" => Some((Role::SuperSpine, "label hitless.role")),
                other => {
                    problems.push(format!("node {node}: hitless.role {other:?} is not leaf, spine or super-spine"));
                    continue;
                }
            },
            None => role_from_name(node).map(|r| (r, "its name")),
        };
        if let Some(role) = role {
            given.insert(node.clone(), role);
        }
        let mut critical_roles = Vec::new();
        for role in labels.get("hitless.critical-roles").map(|r| r.split(',')).into_iter().flatten() {
            let role = role.trim();
            match [
                CriticalRole::RouteReflector,
                CriticalRole::DcGateway,
                CriticalRole::DciGateway,
                CriticalRole::McastGateway,
            ]
            .into_iter()
            .find(|r| r.as_str() == role)
            {
                Some(r) => critical_roles.push(r),
                None => {
                    problems.push(format!("node {node}: hitless.critical-roles names {role:?}, not a critical role"))
                }
            }
        }
        let count = |key: &str| labels.get(key).and_then(|v| v.parse::<u32>().ok());
        let engines = match (count("hitless.routing-engines"), count("hitless.vc-members")) {
            (Some(2), _) => Engines::Dual,
            (_, Some(n)) if n > 1 => Engines::VirtualChassis(n),
            _ => Engines::Single,
        };
        let engine_versions =
            labels.get("hitless.engine-versions").map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
        devices.insert(
            node.clone(),
            Device {
                name: node.clone(),
                role: Role::Leaf,
                role_from: String::new(),
                family: labels.get("hitless.family").cloned().unwrap_or_else(|| family.to_string()),
                platform: labels.get("hitless.platform").cloned().unwrap_or_else(|| platform.to_string()),
                version,
                address: None,
                engines,
                engine_versions,
                critical_roles,
            },
        );
    }
    let mut links = BTreeSet::new();
    let mut servers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let empty = Vec::new();
    let list = topology.get("links").and_then(|l| l.as_array()).unwrap_or(&empty);
    for (index, link) in list.iter().enumerate() {
        let endpoints: Vec<String> = link
            .get("endpoints")
            .and_then(|e| e.as_array())
            .map(|e| e.iter().filter_map(text).collect())
            .unwrap_or_default();
        let ends: Vec<&str> = endpoints.iter().map(|e| e.split(':').next().unwrap_or("")).collect();
        let [a, b] = ends.as_slice() else {
            warnings.push(format!("link {} ({endpoints:?}): not two `node:interface` endpoints; left out", index + 1));
            continue;
        };
        let (a, b) = (a.to_string(), b.to_string());
        let known = |n: &str| devices.contains_key(n) || hosts.contains(n);
        match (devices.contains_key(&a), devices.contains_key(&b), hosts.contains(&a), hosts.contains(&b)) {
            (true, true, _, _) if a != b => {
                links.insert(if a < b { (a, b) } else { (b, a) });
            }
            (true, false, _, true) | (false, true, true, _) => {
                let (switch, host) = if devices.contains_key(&a) { (a, b) } else { (b, a) };
                let leafs = servers.entry(host).or_default();
                if !leafs.contains(&switch) {
                    leafs.push(switch);
                }
            }
            _ if !known(&a) || !known(&b) => {
                let missing = [&a, &b].into_iter().find(|n| !nodes.contains_key(n.as_str()));
                let joined = endpoints.join(" - ");
                match missing {
                    Some(missing) => {
                        problems.push(format!("link {} ({joined}): no node {missing} in topology.nodes", index + 1));
                    }
                    None => {
                        let left = if known(&a) { &b } else { &a };
                        warnings.push(format!("link {} ({joined}): {left} was left out, so is the link", index + 1));
                    }
                }
            }
            _ => warnings.push(format!(
                "link {} ({}): between two hosts (or a node and itself), nothing a fabric upgrade uses; left out",
                index + 1,
                endpoints.join(" - ")
            )),
        }
    }
    for host in &hosts {
        if !servers.contains_key(host) {
            warnings.push(format!("node {host}: a linux host linked to no switch; left out"));
        }
    }
    if devices.is_empty() {
        problems.push("no Juniper node: nothing to upgrade".to_string());
    }
    if !problems.is_empty() {
        return Err(ImportError::Invalid { file: file.to_string(), problems });
    }
    let names: Vec<String> = devices.keys().cloned().collect();
    let gateways: BTreeSet<String> = devices
        .values()
        .filter(|d| d.critical_roles.iter().any(|r| *r != CriticalRole::RouteReflector))
        .map(|d| d.name.clone())
        .collect();
    let (roles, guesses) = tiers(&names, &links, &servers, &gateways, given);
    for (name, why) in guesses {
        warnings.push(format!("node {name}: {why}"));
    }
    for device in devices.values_mut() {
        let (role, from) = roles[&device.name];
        device.role = role;
        device.role_from = from.to_string();
    }
    let written = Written {
        header: format!("Imported by hitless from the containerlab topology {file}; review the commented guesses."),
        name,
        devices: devices.into_values().collect(),
        links,
        links_from: "the topology's links between Juniper nodes".into(),
        servers,
        servers_from: "linux nodes; linked to two leafs: multihomed".into(),
        image: image.map(str::to_string),
    };
    Ok(Imported { written, warnings })
}

/// A containerlab topology for `scenario`: a vJunos-switch node per device (labelled with what
/// the scenario knows, so `import` gives it back), a linux node per server, a link per fabric
/// link and server link, interfaces numbered per node.
pub fn export(scenario: &Scenario) -> String {
    let fabric = &scenario.fabric;
    let mut next: BTreeMap<String, usize> = BTreeMap::new();
    let mut port = |node: &str, switch: bool| {
        let n = next.entry(node.to_string()).or_insert(0);
        *n += 1;
        if switch { format!("ge-0/0/{}", *n - 1) } else { format!("eth{n}") }
    };
    let mut out = format!(
        "# Written by hitless from scenario {}: deploy with `containerlab deploy -t FILE`.\nname: {}\ntopology:\n  nodes:\n",
        scenario.name, scenario.name
    );
    for device in fabric.devices() {
        let mut labels = vec![
            format!("hitless.role: {}", device.role.as_str()),
            format!("hitless.version: \"{}\"", device.version),
            format!("hitless.platform: {}", device.platform),
            format!("hitless.family: {}", device.family),
        ];
        if !device.critical_roles.is_empty() {
            let roles: Vec<&str> = device.critical_roles.iter().map(|r| r.as_str()).collect();
            labels.push(format!("hitless.critical-roles: \"{}\"", roles.join(",")));
        }
        match device.engines {
            Engines::Single => {}
            Engines::Dual => labels.push("hitless.routing-engines: \"2\"".into()),
            Engines::VirtualChassis(n) => labels.push(format!("hitless.vc-members: \"{n}\"")),
        }
        let versions: Vec<String> =
            (0..device.engines.count()).map(|i| device.engine_version(i as usize).to_string()).collect();
        if versions.iter().any(|v| *v != versions[0]) {
            labels.push(format!("hitless.engine-versions: \"{}\"", versions.join(",")));
        }
        let _ = writeln!(
            out,
            "    {}:\n      kind: {EXPORT_KIND}\n      image: {EXPORT_IMAGE}:{}\n      labels: {{{}}}",
            device.name,
            device.version,
            labels.join(", ")
        );
    }
    for server in fabric.servers() {
        let _ = writeln!(out, "    {}:\n      kind: linux\n      image: {SERVER_IMAGE}", server.name);
    }
    out.push_str("  links:\n");
    for (a, b) in fabric.links() {
        let (a, b) = (&fabric.device(*a).name, &fabric.device(*b).name);
        let _ = writeln!(out, "    - endpoints: [\"{a}:{}\", \"{b}:{}\"]", port(a, true), port(b, true));
    }
    for server in fabric.servers() {
        for leaf in &server.leafs {
            let leaf = &fabric.device(*leaf).name;
            let _ = writeln!(
                out,
                "    - endpoints: [\"{leaf}:{}\", \"{}:{}\"]",
                port(leaf, true),
                server.name,
                port(&server.name, false)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2-spine/4-leaf EVPN lab with linux hosts as containerlab's documentation writes them:
    /// kinds with default images, one leaf pair sharing two hosts, and a node of another vendor.
    const TOPOLOGY: &str = r#"name: evpn-lab
topology:
  kinds:
    juniper_vjunosswitch:
      image: vrnetlab/juniper_vjunos-switch:23.2R1.14
    linux:
      image: ghcr.io/hellt/network-multitool
  nodes:
    spine1: {kind: juniper_vjunosswitch}
    spine2: {kind: juniper_vjunosswitch}
    leaf1: {kind: juniper_vjunosswitch}
    leaf2: {kind: juniper_vjunosswitch}
    leaf3:
      kind: juniper_vjunosswitch
      labels: {hitless.platform: qfx5120-48y, hitless.family: junos-qfx}
    leaf4:
      kind: juniper_vjunosswitch
      image: vrnetlab/juniper_vjunos-switch:23.4R1.9
    client1: {kind: linux}
    client2: {kind: linux}
    srl1: {kind: nokia_srlinux, image: ghcr.io/nokia/srlinux}
  links:
    - endpoints: ["spine1:ge-0/0/0", "leaf1:ge-0/0/0"]
    - endpoints: ["spine1:ge-0/0/1", "leaf2:ge-0/0/0"]
    - endpoints: ["spine1:ge-0/0/2", "leaf3:ge-0/0/0"]
    - endpoints: ["spine1:ge-0/0/3", "leaf4:ge-0/0/0"]
    - endpoints: ["spine2:ge-0/0/0", "leaf1:ge-0/0/1"]
    - endpoints: ["spine2:ge-0/0/1", "leaf2:ge-0/0/1"]
    - endpoints: ["spine2:ge-0/0/2", "leaf3:ge-0/0/1"]
    - endpoints: ["spine2:ge-0/0/3", "leaf4:ge-0/0/1"]
    - endpoints: ["leaf1:ge-0/0/2", "client1:eth1"]
    - endpoints: ["leaf2:ge-0/0/2", "client1:eth2"]
    - endpoints: ["leaf3:ge-0/0/2", "client2:eth1"]
    - endpoints: ["spine1:ge-0/0/9", "srl1:e1-1"]
"#;

    #[test]
    fn a_documented_evpn_lab_imports() {
        let imported = import(TOPOLOGY, "lab.clab.yml", None).unwrap();
        let w = &imported.written;
        assert_eq!(w.name, "evpn-lab");
        let by_name: BTreeMap<&str, &Device> = w.devices.iter().map(|d| (d.name.as_str(), d)).collect();
        assert_eq!(by_name.len(), 6);
        assert_eq!((by_name["spine1"].role, by_name["leaf1"].role), (Role::Spine, Role::Leaf));
        assert_eq!((by_name["leaf1"].family.as_str(), by_name["leaf1"].platform.as_str()), ("junos-ex", "ex9214"));
        assert_eq!(
            (by_name["leaf3"].family.as_str(), by_name["leaf3"].platform.as_str()),
            ("junos-qfx", "qfx5120-48y")
        );
        assert_eq!((by_name["leaf1"].version.as_str(), by_name["leaf4"].version.as_str()), ("23.2R1.14", "23.4R1.9"));
        assert_eq!(w.links.len(), 8);
        assert_eq!(w.servers["client1"], ["leaf1", "leaf2"]);
        assert_eq!(w.servers["client2"], ["leaf3"]);
        assert!(
            imported.warnings.iter().any(|x| x.starts_with("node srl1: kind \"nokia_srlinux\"")),
            "{:?}",
            imported.warnings
        );
        assert!(
            imported.warnings.iter().any(|x| x.contains("srl1 was left out, so is the link")),
            "{:?}",
            imported.warnings
        );
        Scenario::from_yaml_with(&w.checkable(), std::path::Path::new("lab.yaml"), &crate::scenario::NoCatalog)
            .unwrap();
    }

    #[test]
    fn what_cannot_be_imported_is_named() {
        let bad = TOPOLOGY
            .replace(
                "spine2: {kind: juniper_vjunosswitch}",
                "spine2: {kind: juniper_vjunosswitch, image: vjunos:latest}",
            )
            .replace("[\"spine2:ge-0/0/3\", \"leaf4:ge-0/0/1\"]", "[\"spine2:ge-0/0/3\", \"leaf9:ge-0/0/1\"]");
        let error = import(&bad, "lab.clab.yml", None).unwrap_err().to_string();
        assert!(
            error.contains("node spine2: \"latest\" (from its image tag or hitless.version) is not a Junos version"),
            "{error}"
        );
        assert!(
            error.contains("link 8 (spine2:ge-0/0/3 - leaf9:ge-0/0/1): no node leaf9 in topology.nodes"),
            "{error}"
        );
        assert!(import("topology: [", "x.clab.yml", None).unwrap_err().to_string().starts_with("x.clab.yml:"));
    }
}
