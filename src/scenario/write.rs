//! Writing a scenario from what another source says about a fabric (`discover`, `import
//! containerlab`): the devices, links and servers in the scenario format, each guess commented,
//! and an upgrade section (the image given, or a commented template). [`Written::checkable`]
//! is what of it loads (the template is a comment), so that what was written can be checked by
//! loading it before anyone uses it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::{CriticalRole, Engines, Role};

/// One device to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Where the role came from (a comment).
    pub role_from: String,
    /// `arista` for an EOS switch (the scenario's `vendor:`); `None` for Junos, the default.
    pub vendor: Option<&'static str>,
    /// Its MLAG peer, if it has one.
    pub mlag_peer: Option<String>,
    /// `junos-qfx`, `eos`, ...
    pub family: String,
    /// Platform (model).
    pub platform: String,
    /// The version it runs (its master's).
    pub version: String,
    /// Its management `host:port`, if known.
    pub address: Option<String>,
    /// Routing engines or members.
    pub engines: Engines,
    /// Each engine's version, master first, when they differ.
    pub engine_versions: Option<Vec<String>>,
    /// Critical roles.
    pub critical_roles: Vec<CriticalRole>,
}

/// A scenario to write.
#[derive(Clone, Debug, Default)]
pub struct Written {
    /// The first comment line (where it came from).
    pub header: String,
    /// The scenario's name.
    pub name: String,
    /// Devices, in the order written.
    pub devices: Vec<Device>,
    /// Links between devices.
    pub links: BTreeSet<(String, String)>,
    /// A comment for the links.
    pub links_from: String,
    /// Servers and the leafs they are linked to.
    pub servers: BTreeMap<String, Vec<String>>,
    /// A comment for the servers.
    pub servers_from: String,
    /// The catalog image to assign to every device, if given.
    pub image: Option<String>,
}

/// `text` as a YAML scalar that reads back as exactly `text`: plain when it is a name made of
/// letters, digits and `. _ - / : @ +` (as switch, port and version names are) that YAML would
/// not read as a number or a boolean, else double-quoted
/// with JSON's escapes (valid YAML). What the devices report (an LLDP system name, a model) is
/// never written into the scenario as YAML syntax.
pub fn scalar(text: &str) -> String {
    let plain = text.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:@+".contains(c))
        && !matches!(text.to_ascii_lowercase().as_str(), "true" | "false" | "null" | "yes" | "no" | "on" | "off")
        && text.parse::<f64>().is_err()
        && !text.to_ascii_lowercase().starts_with("0x")
        && !text.to_ascii_lowercase().starts_with("0o");
    if plain { text.to_string() } else { quoted(text) }
}

/// `text` double-quoted with JSON's escapes (a valid YAML double-quoted scalar).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

/// `text` on one line, for a comment.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

impl Written {
    fn fabric(&self) -> String {
        let mut yaml = String::new();
        let _ = writeln!(yaml, "# {}", one_line(&self.header));
        let _ = writeln!(yaml, "name: {}", scalar(&self.name));
        yaml.push_str("fabric:\n  devices:\n");
        for d in &self.devices {
            let mut fields = format!(
                "name: {}, role: {}, family: {}, platform: {}, version: {}",
                scalar(&d.name),
                d.role.as_str(),
                scalar(&d.family),
                scalar(&d.platform),
                scalar(&d.version)
            );
            if let Some(vendor) = d.vendor {
                let _ = write!(fields, ", vendor: {vendor}");
            }
            if let Some(peer) = &d.mlag_peer {
                let _ = write!(fields, ", mlag_peer: {}", scalar(peer));
            }
            if let Some(address) = &d.address {
                let _ = write!(fields, ", address: {}", quoted(address));
            }
            match d.engines {
                Engines::Single => {}
                Engines::Dual => fields.push_str(", routing_engines: 2"),
                Engines::VirtualChassis(n) => {
                    let _ = write!(fields, ", vc_members: {n}");
                }
            }
            if let Some(versions) = &d.engine_versions {
                let versions: Vec<String> = versions.iter().map(|v| scalar(v)).collect();
                let _ = write!(fields, ", engine_versions: [{}]", versions.join(", "));
            }
            if !d.critical_roles.is_empty() {
                let names: Vec<&str> = d.critical_roles.iter().map(|r| r.as_str()).collect();
                let _ = write!(fields, ", critical_roles: [{}]", names.join(", "));
            }
            let _ = writeln!(yaml, "    - {{{fields}}}   # role: {}", one_line(&d.role_from));
        }
        if self.links.is_empty() {
            yaml.push_str("  links: []\n");
        } else {
            let _ = writeln!(yaml, "  links:                 # {}", one_line(&self.links_from));
            for (a, b) in &self.links {
                let _ = writeln!(yaml, "    - [{}, {}]", scalar(a), scalar(b));
            }
        }
        if !self.servers.is_empty() {
            let _ = writeln!(yaml, "  servers:               # {}", one_line(&self.servers_from));
            for (server, leafs) in &self.servers {
                let leafs: Vec<String> = leafs.iter().map(|l| scalar(l)).collect();
                let _ = writeln!(yaml, "    - {{name: {}, links: [{}]}}", scalar(server), leafs.join(", "));
            }
        }
        yaml
    }

    /// The scenario, with comments.
    pub fn yaml(&self) -> String {
        let mut yaml = self.fabric();
        match &self.image {
            Some(image) => {
                let _ = writeln!(
                    yaml,
                    "images:\n  - {{name: {image}}}\nupgrade:\n  assign:\n    - {{image: {image}, devices: all}}",
                    image = scalar(image)
                );
            }
            None => {
                yaml.push_str(
                    "# images:                  # the image to install, from the catalog (`hitless image list`):\n",
                );
                yaml.push_str("#   - {name: NAME}\n");
                yaml.push_str("# upgrade:\n#   assign:\n#     - {image: NAME, devices: all}\n");
            }
        }
        yaml
    }

    /// The scenario as it loads: with the image given, itself; without, its fabric alone (a
    /// scenario with no upgrade section loads, and `upgrade` says there is nothing to do).
    pub fn checkable(&self) -> String {
        if self.image.is_some() { self.yaml() } else { self.fabric() }
    }
}

/// Each device's role and where it came from (a comment).
pub type Roles = BTreeMap<String, (Role, &'static str)>;

/// Roles for `devices` (those `given` keep theirs, with its reason): leafs face servers (or,
/// for `gateways`, the WAN), spines face leafs, super-spines face the spines of two pods or
/// more; else what the name says. The second list holds each role that is a guess, with why, for
/// a warning: a device that nothing tells is written as a leaf, and so is one that faces only the
/// spines of one pod and no server (an out-of-band or service switch, not a super-spine: a
/// super-spine joins pods).
pub fn tiers(
    devices: &[String],
    links: &BTreeSet<(String, String)>,
    servers: &BTreeMap<String, Vec<String>>,
    gateways: &BTreeSet<String>,
    given: Roles,
) -> (Roles, Vec<(String, &'static str)>) {
    let mut roles = given;
    let mut neighbours: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in links {
        neighbours.entry(a.as_str()).or_default().push(b.as_str());
        neighbours.entry(b.as_str()).or_default().push(a.as_str());
    }
    let neighbours_of = |name: &str| -> Vec<&str> { neighbours.get(name).cloned().unwrap_or_default() };
    let with_servers: BTreeSet<&str> = servers.values().flatten().map(String::as_str).collect();
    for name in devices {
        if !roles.contains_key(name) && (with_servers.contains(name.as_str()) || gateways.contains(name)) {
            roles.insert(name.clone(), (Role::Leaf, "faces servers or the WAN"));
        }
    }
    let has = |roles: &Roles, name: &str, role: Role| roles.get(name).is_some_and(|(r, _)| *r == role);
    let faces_leafs: Vec<String> = devices
        .iter()
        .filter(|n| !roles.contains_key(*n))
        .filter(|n| neighbours_of(n).iter().any(|m| has(&roles, m, Role::Leaf)))
        .cloned()
        .collect();
    for name in faces_leafs {
        roles.insert(name, (Role::Spine, "faces leafs"));
    }
    // Pods: spines that share a leaf are in one pod.
    let mut pod: BTreeMap<&str, usize> = BTreeMap::new();
    for name in devices.iter().filter(|n| has(&roles, n, Role::Spine)) {
        let next = pod.len();
        pod.insert(name.as_str(), next);
    }
    loop {
        let mut merged = false;
        for leaf in devices.iter().filter(|n| has(&roles, n, Role::Leaf)) {
            let ids: Vec<usize> = neighbours_of(leaf).iter().filter_map(|s| pod.get(s).copied()).collect();
            let Some(&lowest) = ids.iter().min() else { continue };
            for id in ids.into_iter().filter(|id| *id != lowest) {
                for value in pod.values_mut().filter(|v| **v == id) {
                    *value = lowest;
                    merged = true;
                }
            }
        }
        if !merged {
            break;
        }
    }
    let mut guesses = Vec::new();
    let faces_spines: Vec<(String, usize)> = devices
        .iter()
        .filter(|n| !roles.contains_key(*n))
        .filter_map(|n| {
            let pods: BTreeSet<usize> = neighbours_of(n).iter().filter_map(|m| pod.get(m).copied()).collect();
            (!pods.is_empty()).then(|| (n.clone(), pods.len()))
        })
        .collect();
    for (name, pods) in faces_spines {
        if pods > 1 {
            roles.insert(name, (Role::SuperSpine, "faces the spines of several pods"));
        } else {
            roles.insert(name.clone(), (Role::Leaf, "faces the spines of one pod and no server: check"));
            guesses.push((
                name,
                "faces only the spines of one pod and no server (an out-of-band or service switch?); written as a leaf, check it",
            ));
        }
    }
    // What the tiers cannot tell (a part of a fabric), the names may: `superspine…`, `…spine…`,
    // `…leaf…`.
    for name in devices {
        if roles.contains_key(name) {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        let by_name = if lower.contains("superspine") || lower.contains("super-spine") {
            Some(Role::SuperSpine)
        } else if lower.contains("spine") {
            Some(Role::Spine)
        } else if lower.contains("leaf") {
            Some(Role::Leaf)
        } else {
            None
        };
        match by_name {
            Some(role) => {
                roles.insert(name.clone(), (role, "its name (the tiers do not tell)"));
            }
            None => {
                guesses.push((
                    name.clone(),
                    "its role cannot be told (no label, name or tier); written as a leaf, check it",
                ));
                roles.insert(name.clone(), (Role::Leaf, "unknown: check"));
            }
        }
    }
    (roles, guesses)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names a device reports (an LLDP system name, a model) that are YAML syntax are written
    /// quoted: the scenario holds exactly what was reported, and nothing more.
    #[test]
    fn hostile_or_numeric_names_read_back_as_themselves() {
        let hostile = "evil]}\n    - {name: spine9, role: spine";
        let mut written = Written {
            header: "a test\nwith: a second line".into(),
            name: "found".into(),
            links_from: "x".into(),
            servers_from: "y".into(),
            ..Default::default()
        };
        for name in ["leaf1", "123", "true"] {
            written.devices.push(Device {
                name: name.into(),
                role: Role::Leaf,
                role_from: "hand\nmade".into(),
                vendor: None,
                mlag_peer: None,
                family: "junos-qfx".into(),
                platform: "qfx5120-48y # not a comment".into(),
                version: "18.4R2".into(),
                address: Some("h\"x:830".into()),
                engines: Engines::Single,
                engine_versions: None,
                critical_roles: Vec::new(),
            });
        }
        written.servers.insert("bms1".to_string(), vec!["leaf1".into(), "123".into()]);
        let yaml = written.checkable();
        let scenario = crate::scenario::Scenario::from_yaml(&yaml, std::path::Path::new("w.yaml"))
            .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let names: Vec<&str> = scenario.fabric.devices().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["leaf1", "123", "true"], "{yaml}");
        assert_eq!(scenario.fabric.devices()[0].platform, "qfx5120-48y # not a comment");
        assert_eq!(scenario.fabric.devices()[0].address.as_deref(), Some("h\"x:830"));
        assert_eq!(scenario.fabric.servers()[0].leafs.len(), 2);
        assert!(yaml.contains("version: 18.4R2"), "versions stay plain: {yaml}");
        // A name that is YAML syntax stays one (refused) name: it adds no device.
        written.servers.insert(hostile.to_string(), vec!["leaf1".into()]);
        let yaml = written.checkable();
        let error =
            crate::scenario::Scenario::from_yaml(&yaml, std::path::Path::new("w.yaml")).unwrap_err().to_string();
        assert!(error.contains("server name") && !error.contains("spine9 "), "{error}\n{yaml}");
        assert!(!yaml.lines().any(|l| l.trim_start().starts_with("- {name: spine9")), "{yaml}");
    }
}
