//! Ansible inventories, the operators' own list of their switches: YAML (`all: {children: ...,
//! hosts: ..., vars: ...}`) and INI (`[group]` sections, `host key=value ...` lines, `[group:vars]`
//! and `[group:children]`). hitless reads each host's `ansible_host`, `ansible_port` (default
//! 830, NETCONF) and `ansible_user`, inheriting group and `all` vars, and the groups it is in,
//! which name its role when they are called spine, leaf or super-spine (singular or plural).
//!
//! Written the other way by `hitless lab` ([`write`]), so the same playbooks run against the lab.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Role;

/// One host of an inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// The inventory name (the device's name in the fabric).
    pub name: String,
    /// `host:port` of its NETCONF service.
    pub address: String,
    /// `ansible_user`, if set.
    pub user: Option<String>,
    /// Every group it is in (directly or through `children`).
    pub groups: BTreeSet<String>,
    /// `ansible_network_os`, if set (`arista.eos.eos`, `junipernetworks.junos.junos`).
    pub network_os: Option<String>,
}

impl Host {
    /// True when its `ansible_network_os` is Arista EOS's (`arista.eos.eos`, or `eos`): it is
    /// reached over eAPI, at its `ansible_host` and `ansible_port` (443 when none is given).
    pub fn is_eos(&self) -> bool {
        self.network_os.as_deref().is_some_and(|os| os == "arista.eos.eos" || os == "eos")
    }

    /// The role its groups name, if exactly one role is named.
    pub fn role(&self) -> Option<Role> {
        let roles: BTreeSet<Role> = self.groups.iter().filter_map(|g| role_of_group(g)).collect();
        (roles.len() == 1).then(|| *roles.iter().next().expect("one role"))
    }
}

/// The role a group's name stands for.
pub fn role_of_group(group: &str) -> Option<Role> {
    match group.to_ascii_lowercase().replace('_', "-").as_str() {
        "leaf" | "leafs" | "leaves" => Some(Role::Leaf),
        "spine" | "spines" => Some(Role::Spine),
        "super-spine" | "super-spines" | "superspine" | "superspines" => Some(Role::SuperSpine),
        _ => None,
    }
}

/// Why an inventory cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// Not YAML or INI an Ansible inventory is written in.
    #[error("{file}{}: {message}", if *line > 0 { format!(":{line}") } else { String::new() })]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A host without an address.
    #[error("{file}: host {host} has no ansible_host, and its name is not an address either")]
    NoAddress {
        /// The file.
        file: String,
        /// The host.
        host: String,
    },
    /// No hosts at all.
    #[error("{file}: the inventory lists no hosts")]
    Empty {
        /// The file.
        file: String,
    },
}

/// Most hosts an inventory may list.
pub const HOSTS_MAX: usize = 100_000;

#[derive(Default)]
struct Collected {
    /// host -> vars (own), groups
    hosts: BTreeMap<String, (BTreeMap<String, String>, BTreeSet<String>)>,
    /// group -> vars
    group_vars: BTreeMap<String, BTreeMap<String, String>>,
    /// group -> children
    children: BTreeMap<String, BTreeSet<String>>,
}

impl Collected {
    fn finish(mut self, file: &str) -> Result<Vec<Host>, InventoryError> {
        if self.hosts.is_empty() {
            return Err(InventoryError::Empty { file: file.to_string() });
        }
        // Groups reach their hosts through children (bounded: an inventory with a loop of
        // children is cut at the number of groups).
        let groups: Vec<String> = self.children.keys().cloned().collect();
        for _ in 0..=groups.len() {
            let mut changed = false;
            for group in &groups {
                let kids = self.children.get(group).cloned().unwrap_or_default();
                for (_, (_, member_of)) in self.hosts.iter_mut() {
                    if !member_of.contains(group) && kids.iter().any(|k| member_of.contains(k)) {
                        member_of.insert(group.clone());
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let all = self.group_vars.get("all").cloned().unwrap_or_default();
        let mut out = Vec::with_capacity(self.hosts.len());
        for (name, (own, groups)) in self.hosts {
            let mut vars = all.clone();
            for group in &groups {
                if let Some(g) = self.group_vars.get(group) {
                    vars.extend(g.clone());
                }
            }
            vars.extend(own);
            let host = vars.get("ansible_host").cloned().unwrap_or_else(|| name.clone());
            if host.is_empty() {
                return Err(InventoryError::NoAddress { file: file.to_string(), host: name });
            }
            let network_os = vars.get("ansible_network_os").cloned();
            let eos = network_os.as_deref().is_some_and(|os| os == "arista.eos.eos" || os == "eos");
            let default_port = if eos { "443" } else { "830" };
            let port = vars.get("ansible_port").cloned().unwrap_or_else(|| default_port.to_string());
            if port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(InventoryError::Syntax {
                    file: file.to_string(),
                    line: 0,
                    message: format!("host {name}: ansible_port {port:?} is not a port (1 to 65535)"),
                });
            }
            let address = if host.contains(':') && !host.starts_with('[') && host.matches(':').count() > 1 {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let mut groups = groups;
            groups.remove("all");
            out.push(Host { name, address, user: vars.get("ansible_user").cloned(), groups, network_os });
        }
        Ok(out)
    }
}

/// Reads an inventory (YAML or INI, told apart by its first meaningful line) from `text`;
/// `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Vec<Host>, InventoryError> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'));
    match first {
        None => Err(InventoryError::Empty { file: file.to_string() }),
        Some(line) if line.starts_with('[') => parse_ini(text, file),
        Some(line) if !line.contains(':') => parse_ini(text, file),
        _ => parse_yaml(text, file),
    }
}

fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn parse_yaml(text: &str, file: &str) -> Result<Vec<Host>, InventoryError> {
    let root: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| InventoryError::Syntax {
        file: file.to_string(),
        line: e.location().map_or(0, |l| l.line() as usize),
        message: format!("not an Ansible inventory in YAML: {e}"),
    })?;
    let serde_json::Value::Object(groups) = root else {
        return Err(InventoryError::Syntax {
            file: file.to_string(),
            line: 1,
            message: "an inventory in YAML is a mapping of groups (`all:` at the top)".into(),
        });
    };
    let mut collected = Collected::default();
    let mut stack: Vec<(String, serde_json::Value, usize)> = groups.into_iter().map(|(g, v)| (g, v, 0)).collect();
    while let Some((group, body, depth)) = stack.pop() {
        if depth > 64 || collected.hosts.len() > HOSTS_MAX {
            return Err(InventoryError::Syntax {
                file: file.to_string(),
                line: 0,
                message: format!("groups nested deeper than 64, or more than {HOSTS_MAX} hosts"),
            });
        }
        let serde_json::Value::Object(body) = body else { continue };
        if let Some(serde_json::Value::Object(vars)) = body.get("vars") {
            let entry = collected.group_vars.entry(group.clone()).or_default();
            entry.extend(vars.iter().map(|(k, v)| (k.clone(), scalar(v))));
        }
        if let Some(serde_json::Value::Object(hosts)) = body.get("hosts") {
            for (host, vars) in hosts {
                let (own, member_of) = collected.hosts.entry(host.clone()).or_default();
                member_of.insert(group.clone());
                if let serde_json::Value::Object(vars) = vars {
                    own.extend(vars.iter().map(|(k, v)| (k.clone(), scalar(v))));
                }
            }
        }
        if let Some(serde_json::Value::Object(children)) = body.get("children") {
            for (child, child_body) in children {
                collected.children.entry(group.clone()).or_default().insert(child.clone());
                stack.push((child.clone(), child_body.clone(), depth + 1));
            }
        }
    }
    collected.finish(file)
}

fn parse_ini(text: &str, file: &str) -> Result<Vec<Host>, InventoryError> {
    #[derive(PartialEq)]
    enum Section {
        Hosts(String),
        Vars(String),
        Children(String),
    }
    let mut collected = Collected::default();
    let mut section = Section::Hosts("ungrouped".to_string());
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let syntax = |message: String| InventoryError::Syntax { file: file.to_string(), line: index + 1, message };
        if let Some(header) = line.strip_prefix('[') {
            let header =
                header.strip_suffix(']').ok_or_else(|| syntax(format!("a section header without `]`: {line}")))?;
            section = match header.split_once(':') {
                None => Section::Hosts(header.to_string()),
                Some((group, "vars")) => Section::Vars(group.to_string()),
                Some((group, "children")) => Section::Children(group.to_string()),
                Some((_, other)) => return Err(syntax(format!("unknown section kind :{other} (vars or children)"))),
            };
            continue;
        }
        match &section {
            Section::Hosts(group) => {
                let mut words = line.split_whitespace();
                let host = words.next().expect("a non-empty line has a word").to_string();
                if collected.hosts.len() >= HOSTS_MAX {
                    return Err(syntax(format!("more than {HOSTS_MAX} hosts")));
                }
                let (own, member_of) = collected.hosts.entry(host).or_default();
                member_of.insert(group.clone());
                for word in words {
                    let (key, value) =
                        word.split_once('=').ok_or_else(|| syntax(format!("{word:?} is not key=value")))?;
                    own.insert(key.to_string(), value.trim_matches(|c| c == '"' || c == '\'').to_string());
                }
            }
            Section::Vars(group) => {
                let (key, value) = line.split_once('=').ok_or_else(|| syntax(format!("{line:?} is not key=value")))?;
                let value = value.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
                collected.group_vars.entry(group.clone()).or_default().insert(key.trim().to_string(), value);
            }
            Section::Children(group) => {
                collected.children.entry(group.clone()).or_default().insert(line.to_string());
            }
        }
    }
    collected.finish(file)
}

/// An inventory in Ansible's YAML format for `hosts` (name, role, `host:port`, an Arista EOS
/// switch reached over eAPI at that address): grouped by role (`spine`, `leaf`, `super_spine`),
/// with the variables Ansible's Junos modules need, and for EOS switches those of
/// `arista.eos` over `httpapi` with TLS.
pub fn write(hosts: &[(String, Role, String, bool)], user: &str) -> String {
    let mut out = String::from(
        "# Written by hitless: the devices of this lab, for Ansible and `hitless discover --inventory`.\n",
    );
    out.push_str("all:\n  vars:\n");
    out.push_str("    ansible_connection: ansible.netcommon.netconf\n");
    out.push_str("    ansible_network_os: junipernetworks.junos.junos\n");
    out.push_str(&format!("    ansible_user: {user}\n"));
    out.push_str("  children:\n");
    for role in Role::ALL {
        let members: Vec<&(String, Role, String, bool)> = hosts.iter().filter(|(_, r, _, _)| *r == role).collect();
        if members.is_empty() {
            continue;
        }
        out.push_str(&format!("    {}:\n      hosts:\n", role.as_str().replace('-', "_")));
        for (name, _, address, eos) in members {
            let (host, port) = address.rsplit_once(':').unwrap_or((address.as_str(), "830"));
            let eapi = if *eos {
                ", ansible_network_os: arista.eos.eos, ansible_connection: ansible.netcommon.httpapi, ansible_httpapi_use_ssl: true"
            } else {
                ""
            };
            out.push_str(&format!("        {name}: {{ansible_host: \"{host}\", ansible_port: {port}{eapi}}}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_inventories_inherit_vars_and_name_roles_by_group() {
        let text = "all:
  vars: {ansible_user: netops}
  children:
    spines:
      hosts:
        spine1: {ansible_host: 10.0.0.1}
    leafs:
      vars: {ansible_port: 2222}
      hosts:
        leaf1: {ansible_host: 10.0.1.1, ansible_user: admin}
        leaf2:
    fabric:
      children:
        spines:
        leafs:
";
        let hosts = parse(text, "inv.yml").unwrap();
        assert_eq!(hosts.len(), 3);
        let leaf1 = hosts.iter().find(|h| h.name == "leaf1").unwrap();
        assert_eq!((leaf1.address.as_str(), leaf1.user.as_deref()), ("10.0.1.1:2222", Some("admin")));
        assert_eq!(leaf1.role(), Some(Role::Leaf));
        assert!(leaf1.groups.contains("fabric"));
        let leaf2 = hosts.iter().find(|h| h.name == "leaf2").unwrap();
        assert_eq!(leaf2.address, "leaf2:2222", "a host without ansible_host is reached by its name");
        let spine1 = hosts.iter().find(|h| h.name == "spine1").unwrap();
        assert_eq!((spine1.address.as_str(), spine1.user.as_deref()), ("10.0.0.1:830", Some("netops")));
        assert_eq!(spine1.role(), Some(Role::Spine));
    }

    #[test]
    fn ini_inventories_read_as_ansible_does() {
        let text = "# fabric
[spine]
spine1 ansible_host=10.0.0.1 ansible_port=830

[leaf]
leaf1 ansible_host=10.0.1.1
leaf2 ansible_host=\"10.0.1.2\"

[leaf:vars]
ansible_user=ops

[dc:children]
spine
leaf
";
        let hosts = parse(text, "hosts").unwrap();
        assert_eq!(hosts.len(), 3);
        let leaf2 = hosts.iter().find(|h| h.name == "leaf2").unwrap();
        assert_eq!((leaf2.address.as_str(), leaf2.user.as_deref()), ("10.0.1.2:830", Some("ops")));
        assert!(leaf2.groups.contains("dc") && leaf2.role() == Some(Role::Leaf));
    }

    #[test]
    fn bad_inventories_name_the_line() {
        let error = parse("[leaf]\nleaf1 ansible_host\n", "hosts").unwrap_err();
        assert_eq!(error.to_string(), "hosts:2: \"ansible_host\" is not key=value");
        assert_eq!(parse("# nothing\n", "hosts").unwrap_err().to_string(), "hosts: the inventory lists no hosts");
        assert_eq!(
            parse("[leaf]\nleaf1 ansible_port=99999\n", "hosts").unwrap_err().to_string(),
            "hosts: host leaf1: ansible_port \"99999\" is not a port (1 to 65535)"
        );
        assert!(parse("all: [1, 2\n", "inv.yml").unwrap_err().to_string().starts_with("inv.yml:"));
    }

    #[test]
    fn what_the_lab_writes_reads_back() {
        let hosts = vec![
            ("spine1".to_string(), Role::Spine, "127.0.0.1:40001".to_string(), false),
            ("leaf1".to_string(), Role::Leaf, "127.0.0.1:40002".to_string(), false),
            ("leaf2".to_string(), Role::Leaf, "127.0.0.1:40443".to_string(), true),
        ];
        let read = parse(&write(&hosts, "netops"), "inventory.yaml").unwrap();
        let back: Vec<(String, Option<Role>, String, bool)> =
            read.into_iter().map(|h| (h.name.clone(), h.role(), h.address.clone(), h.is_eos())).collect();
        assert_eq!(
            back,
            vec![
                ("leaf1".to_string(), Some(Role::Leaf), "127.0.0.1:40002".to_string(), false),
                ("leaf2".to_string(), Some(Role::Leaf), "127.0.0.1:40443".to_string(), true),
                ("spine1".to_string(), Some(Role::Spine), "127.0.0.1:40001".to_string(), false),
            ]
        );
        // An EOS host without a port is reached at eAPI's 443.
        let eos =
            parse("all:\n  hosts:\n    sw1: {ansible_host: 10.0.0.9, ansible_network_os: arista.eos.eos}\n", "i.yml")
                .unwrap();
        assert_eq!(eos[0].address, "10.0.0.9:443");
    }
}
