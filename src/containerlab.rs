//! containerlab topologies (`*.clab.yml`) in and out: `import` turns one into a scenario,
//! `export` writes a scenario as one that containerlab can deploy with vJunos-switch nodes.
//!
//! The topology format is containerlab's: `name`, `topology.kinds` (defaults per kind),
//! `topology.groups` (a node's `group`, else `defaults.group`), `topology.defaults`,
//! `topology.nodes` (`kind`, `image`, `labels`, ...; a setting is the node's, else its group's,
//! its kind's, the defaults'), `topology.links` (brief `endpoints: ["node:interface", ...]` or
//! long `type: veth` with `endpoints: [{node, interface}]`; the other types join a node to the
//! host and are named, not imported), and `${VAR}` / `${VAR:=default}` expanded from the
//! environment before the YAML is read. Juniper kinds are devices; `linux` nodes are servers.
//! What a scenario needs and a topology does not say comes from labels (`hitless.role`,
//! `hitless.version`, `hitless.platform`, `hitless.family`, `hitless.critical-roles`,
//! `hitless.routing-engines`, `hitless.vc-members`, `hitless.engine-versions`), else from the
//! kind (platform and family, see [`KINDS`]), the image's tag (the version), the node's name
//! (`spine…`, `leaf…`, `superspine…`) or the tiers. Kinds, nodes and links hitless cannot use
//! are reported, never dropped silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::{CriticalRole, Engines, Role};
use crate::scenario::Scenario;
use crate::scenario::write::{Device, Written, tiers};

/// Juniper kinds: (kind, family, platform). vJunos-switch emulates an EX9214, vJunos-router
/// and vMX an MX, vQFX a QFX10000, vSRX and cSRX an SRX, vJunosEvolved and cJunosEvolved a PTX,
/// cRPD is Junos's routing stack in a container. The `vr-` names (and `crpd`, `cjunosevolved`)
/// are containerlab's other names for the same kinds.
pub const KINDS: &[(&str, &str, &str)] = &[
    ("juniper_vjunosswitch", "junos-ex", "ex9214"),
    ("juniper_vjunosrouter", "junos-mx", "mx240"),
    ("juniper_vjunosevolved", "junos-ptx", "ptx10001-36mr"),
    ("juniper_cjunosevolved", "junos-ptx", "ptx10001-36mr"),
    ("cjunosevolved", "junos-ptx", "ptx10001-36mr"),
    ("juniper_vqfx", "junos-qfx", "qfx10002-36q"),
    ("vr-vqfx", "junos-qfx", "qfx10002-36q"),
    ("vr-juniper_vqfx", "junos-qfx", "qfx10002-36q"),
    ("juniper_vmx", "junos-mx", "vmx"),
    ("vr-vmx", "junos-mx", "vmx"),
    ("vr-juniper_vmx", "junos-mx", "vmx"),
    ("juniper_vsrx", "junos-srx", "vsrx"),
    ("vr-vsrx", "junos-srx", "vsrx"),
    ("vr-juniper_vsrx", "junos-srx", "vsrx"),
    ("juniper_csrx", "junos-srx", "csrx"),
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

/// containerlab's environment variables in a topology's text, as it expands them before
/// reading the YAML: `${VAR}` is the variable's value, left as written when it is not set;
/// `${VAR:=default}` and `${VAR:-default}` give the default when it is unset or empty,
/// `${VAR=default}` and `${VAR-default}` when it is unset. The second value lists the variables
/// left as written.
pub fn expand_variables(text: &str, env: &dyn Fn(&str) -> Option<String>) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut unset = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &after[..end];
        let written = &rest[start..start + 2 + end + 1];
        rest = &after[end + 1..];
        let name_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
        let (name, op) = inner.split_at(name_end);
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(written);
            continue;
        }
        let value = env(name);
        let (empty_too, default) = if let Some(d) = op.strip_prefix(":=").or_else(|| op.strip_prefix(":-")) {
            (true, Some(d))
        } else if let Some(d) = op.strip_prefix('=').or_else(|| op.strip_prefix('-')) {
            (false, Some(d))
        } else if op.is_empty() {
            (false, None)
        } else {
            // Not a form containerlab expands: as written.
            out.push_str(written);
            continue;
        };
        match (value, default) {
            (Some(v), Some(d)) if empty_too && v.is_empty() => out.push_str(d),
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                out.push_str(written);
                if !unset.iter().any(|u| u == name) {
                    unset.push(name.to_string());
                }
            }
        }
    }
    out.push_str(rest);
    (out, unset)
}

/// containerlab's link types that join a node to something other than another node (the
/// host, its management network, a host interface, a tunnel, nothing), with what that is.
const NOT_BETWEEN_NODES: &[(&str, &str)] = &[
    ("host", "an interface of the host"),
    ("mgmt-net", "the management network"),
    ("macvlan", "a host interface (macvlan)"),
    ("vxlan", "a VXLAN tunnel to another host"),
    ("vxlan-stitch", "a VXLAN tunnel to another host"),
    ("dummy", "nothing (a dummy interface)"),
];

/// One end of a link: the node and its interface.
struct End {
    node: String,
    interface: String,
}

/// A link's ends, or why it joins no two nodes (left out, with a warning).
fn link_ends(link: &serde_json::Value, nodes: &serde_json::Map<String, serde_json::Value>) -> Result<Vec<End>, String> {
    let kind = link.get("type").and_then(text);
    match kind.as_deref() {
        None | Some("veth") | Some("brief") => {}
        Some(other) => {
            let what = NOT_BETWEEN_NODES.iter().find(|(t, _)| *t == other).map(|(_, what)| *what);
            let endpoint = link
                .get("endpoint")
                .and_then(|e| Some(format!("{}:{}", e.get("node").and_then(text)?, e.get("interface").and_then(text)?)))
                .unwrap_or_else(|| "?".into());
            return Err(match what {
                Some(what) => format!("(type {other}, {endpoint}): joins the node to {what}, not to another node"),
                None => format!("type {other:?}: not a link type hitless knows"),
            });
        }
    }
    let Some(items) = link.get("endpoints").and_then(|e| e.as_array()) else {
        return Err("no `endpoints`".into());
    };
    let mut ends = Vec::new();
    for item in items {
        let end = match item {
            serde_json::Value::String(brief) => match brief.split_once(':') {
                Some((node, interface)) => End { node: node.to_string(), interface: interface.to_string() },
                None => End { node: brief.clone(), interface: String::new() },
            },
            serde_json::Value::Object(long) => End {
                node: long.get("node").and_then(text).unwrap_or_default(),
                interface: long.get("interface").and_then(text).unwrap_or_default(),
            },
            _ => return Err("an endpoint is neither `node:interface` nor {node, interface}".into()),
        };
        ends.push(end);
    }
    // The brief form's special nodes, unless a node of the topology has that name.
    for end in &ends {
        if !nodes.contains_key(&end.node)
            && let Some((_, what)) = NOT_BETWEEN_NODES.iter().find(|(t, _)| *t == end.node)
        {
            let joined = ends.iter().map(|e| format!("{}:{}", e.node, e.interface)).collect::<Vec<_>>().join(" - ");
            return Err(format!("({joined}): `{}:` is {what}, not another node", end.node));
        }
    }
    if ends.len() != 2 {
        return Err(format!("{} endpoints, not two", ends.len()));
    }
    Ok(ends)
}

/// Turns a containerlab topology (`text`, read from `file`) into a scenario; `image` as for
/// `discover`; `env` looks up the environment variables the topology names.
pub fn import(
    text_in: &str,
    file: &str,
    image: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Imported, ImportError> {
    let (expanded, unset) = expand_variables(text_in, env);
    let root: serde_json::Value = serde_saphyr::from_str(&expanded).map_err(|e| ImportError::Syntax {
        file: file.to_string(),
        line: e.location().map_or(0, |l| l.line() as usize),
        message: format!("not a containerlab topology: {e}"),
    })?;
    let syntax = |message: &str| ImportError::Syntax { file: file.to_string(), line: 0, message: message.to_string() };
    let topology = root.get("topology").ok_or_else(|| syntax("no `topology:` section"))?;
    let nodes = topology.get("nodes").and_then(|n| n.as_object()).ok_or_else(|| syntax("no `topology.nodes`"))?;
    let kinds = topology.get("kinds").and_then(|k| k.as_object()).cloned().unwrap_or_default();
    let groups = topology.get("groups").and_then(|g| g.as_object()).cloned().unwrap_or_default();
    let defaults = topology.get("defaults").and_then(|d| d.as_object()).cloned().unwrap_or_default();
    let name = root.get("name").and_then(text).unwrap_or_else(|| "containerlab".to_string());
    let mut warnings: Vec<String> = unset
        .iter()
        .map(|v| format!("${{{v}}} is not set in the environment and has no default: left as written"))
        .collect();
    let mut problems = Vec::new();
    let empty = serde_json::Map::new();
    // As containerlab reads a node: its own setting, else its group's (its own `group`, else the
    // defaults'), else its kind's, else the defaults'. Labels merge in the same order.
    let group_of = |node: &serde_json::Map<String, serde_json::Value>| {
        node.get("group").and_then(text).or_else(|| defaults.get("group").and_then(text))
    };
    let group_body = |node: &serde_json::Map<String, serde_json::Value>| {
        group_of(node).and_then(|g| groups.get(&g)).and_then(|g| g.as_object())
    };
    let kind_of = |node: &serde_json::Map<String, serde_json::Value>| {
        node.get("kind")
            .and_then(text)
            .or_else(|| group_body(node).and_then(|g| g.get("kind")).and_then(text))
            .or_else(|| defaults.get("kind").and_then(text))
    };
    let setting = |node: &serde_json::Map<String, serde_json::Value>, key: &str| -> Option<serde_json::Value> {
        node.get(key)
            .or_else(|| group_body(node).and_then(|g| g.get(key)))
            .or_else(|| kind_of(node).and_then(|k| kinds.get(&k)).and_then(|k| k.get(key)))
            .or_else(|| defaults.get(key))
            .cloned()
    };
    let labels_of = |node: &serde_json::Map<String, serde_json::Value>| -> BTreeMap<String, String> {
        let layers = [
            Some(&defaults),
            kind_of(node).and_then(|k| kinds.get(&k)).and_then(|k| k.as_object()),
            group_body(node),
            Some(node),
        ];
        let mut labels = BTreeMap::new();
        for layer in layers.into_iter().flatten() {
            for (k, v) in layer.get("labels").and_then(|l| l.as_object()).into_iter().flatten() {
                if let Some(v) = text(v) {
                    labels.insert(k.clone(), v);
                }
            }
        }
        labels
    };
    let mut devices: BTreeMap<String, Device> = BTreeMap::new();
    let mut given: BTreeMap<String, (Role, &'static str)> = BTreeMap::new();
    let mut hosts: BTreeSet<String> = BTreeSet::new();
    for (node, body) in nodes {
        let body = body.as_object().unwrap_or(&empty);
        if let Some(group) = group_of(body)
            && !groups.contains_key(&group)
        {
            problems.push(format!("node {node}: its group {group:?} is not in topology.groups"));
            continue;
        }
        let kind = kind_of(body).unwrap_or_default();
        let labels = labels_of(body);
        let usable = KINDS.iter().any(|(k, _, _)| *k == kind) || kind == "linux";
        if usable && let Some(problem) = crate::util::name_problem(node) {
            problems.push(format!(
                "node {node:?}: its name {problem}; a scenario names devices and servers so, rename the node"
            ));
            continue;
        }
        if kind == "linux" {
            hosts.insert(node.clone());
            continue;
        }
        let Some((_, family, platform)) = KINDS.iter().find(|(k, _, _)| *k == kind) else {
            let what = match kind.as_str() {
                "bridge" | "ovs-bridge" => "a bridge: a shared segment, not a switch hitless upgrades".to_string(),
                "" => "no kind (neither its own, its group's nor the defaults')".to_string(),
                _ => format!("kind {kind:?} is neither a Juniper kind hitless upgrades nor a linux host"),
            };
            warnings.push(format!("node {node}: {what}; left out"));
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
                // An EOS version makes it an Arista switch (the scenario's vendor must agree).
                vendor: crate::version::Version::parse(&version).ok().filter(|v| v.is_eos()).map(|_| "arista"),
                mlag_peer: None,
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
    // Each server's switches, with the link that joins them (for a warning).
    let mut servers: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let none = Vec::new();
    let list = topology.get("links").and_then(|l| l.as_array()).unwrap_or(&none);
    for (index, link) in list.iter().enumerate() {
        let ends = match link_ends(link, nodes) {
            Ok(ends) => ends,
            Err(why) => {
                let space = if why.starts_with('(') { " " } else { ": " };
                warnings.push(format!("link {}{space}{why}; left out", index + 1));
                continue;
            }
        };
        let joined = ends.iter().map(|e| format!("{}:{}", e.node, e.interface)).collect::<Vec<_>>().join(" - ");
        let (a, b) = (ends[0].node.clone(), ends[1].node.clone());
        let known = |n: &str| devices.contains_key(n) || hosts.contains(n);
        match (devices.contains_key(&a), devices.contains_key(&b), hosts.contains(&a), hosts.contains(&b)) {
            (true, true, _, _) if a != b => {
                links.insert(if a < b { (a, b) } else { (b, a) });
            }
            (true, false, _, true) | (false, true, true, _) => {
                let (switch, host) = if devices.contains_key(&a) { (a, b) } else { (b, a) };
                let switches = servers.entry(host).or_default();
                if !switches.iter().any(|(s, _)| *s == switch) {
                    switches.push((switch, format!("link {} ({joined})", index + 1)));
                }
            }
            _ if !known(&a) || !known(&b) => {
                let missing = [&a, &b].into_iter().find(|n| !nodes.contains_key(n.as_str()));
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
                "link {} ({joined}): between two hosts (or a node and itself), nothing a fabric upgrade uses; left out",
                index + 1
            )),
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
    let by_switch: BTreeMap<String, Vec<String>> = servers
        .iter()
        .map(|(host, switches)| (host.clone(), switches.iter().map(|(s, _)| s.clone()).collect()))
        .collect();
    let (roles, guesses) = tiers(&names, &links, &by_switch, &gateways, given);
    for (name, why) in guesses {
        warnings.push(format!("node {name}: {why}"));
    }
    // Servers attach to leafs: a host linked to a spine keeps only its leafs.
    let mut server_leafs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (host, switches) in servers {
        let mut leafs = Vec::new();
        for (switch, link) in switches {
            let role = roles[&switch].0;
            if role == Role::Leaf {
                leafs.push(switch);
            } else {
                warnings.push(format!(
                    "{link}: host {host} is linked to {switch}, a {}; servers attach to leafs, so the link is left out",
                    role.as_str()
                ));
            }
        }
        if !leafs.is_empty() {
            server_leafs.insert(host, leafs);
        }
    }
    for host in &hosts {
        if !server_leafs.contains_key(host) {
            warnings.push(format!("node {host}: a linux host linked to no leaf; left out"));
        }
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
        servers: server_leafs,
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
        let imported = import(TOPOLOGY, "lab.clab.yml", None, &|_| None).unwrap();
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
        let error = import(&bad, "lab.clab.yml", None, &|_| None).unwrap_err().to_string();
        assert!(
            error.contains("node spine2: \"latest\" (from its image tag or hitless.version) is not a Junos version"),
            "{error}"
        );
        assert!(
            error.contains("link 8 (spine2:ge-0/0/3 - leaf9:ge-0/0/1): no node leaf9 in topology.nodes"),
            "{error}"
        );
        assert!(
            import("topology: [", "x.clab.yml", None, &|_| None).unwrap_err().to_string().starts_with("x.clab.yml:")
        );
    }

    /// containerlab's variable forms, each worked out by hand: set, unset, set but empty.
    #[test]
    fn variables_expand_as_containerlab_expands_them() {
        let env = |name: &str| match name {
            "SET" => Some("23.2R1.14".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let cases = [
            ("${SET}", "23.2R1.14"),
            ("${UNSET}", "${UNSET}"),
            ("${UNSET:=20.2R1.10}", "20.2R1.10"),
            ("${SET:=20.2R1.10}", "23.2R1.14"),
            ("${EMPTY:=20.2R1.10}", "20.2R1.10"),
            ("${EMPTY:-x}", "x"),
            ("${EMPTY=x}", ""),
            ("${UNSET-x}", "x"),
            ("${SET?oops}", "${SET?oops}"),
            ("$SET ${1X} ${", "$SET ${1X} ${"),
            ("a${SET}b${UNSET:=c}d", "a23.2R1.14bcd"),
        ];
        for (text, expanded) in cases {
            assert_eq!(expand_variables(text, &env).0, expanded, "{text}");
        }
        assert_eq!(expand_variables("${UNSET} ${UNSET} ${SET}", &env).1, ["UNSET"]);
    }
}
