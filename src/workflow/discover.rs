//! `hitless discover`: the fabric as the devices describe it, written as a scenario. Each
//! inventory host is asked (over the Junos driver, with the same SSH trust as `upgrade`) for its
//! facts, its LLDP neighbours and its committed configuration; from those come the devices
//! (platform, family, version per routing engine or member), the fabric links (seen from both
//! ends), the servers (LLDP neighbours that are no switch) and their multihoming, the critical
//! roles the configuration shows, and the roles (the inventory's groups, else the tiers: leafs
//! face servers, spines face leafs, super-spines face spines). What cannot be told is a warning,
//! never a guess.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::driver::junos::parse::{LldpNeighbour, NeighbourKind};
use crate::driver::junos::{Connector, Discovered, JunosDriver};
use crate::exec::Chassis;
use crate::exec::DriverError;
use crate::inventory::Host;
use crate::model::{CriticalRole, Role};

/// Devices asked at once, unless told otherwise (`--parallel`).
pub const PARALLEL: usize = 32;

/// Reads what discovery needs of one device: the Junos driver over NETCONF, the EOS driver over
/// eAPI, or [`ByOs`] for an inventory of both.
pub trait Discoverer: Send + Sync + 'static {
    /// Facts, LLDP neighbours, configuration and MLAG peer-link ports of `device`.
    fn discover(&self, device: &str) -> impl std::future::Future<Output = Result<Discovered, DriverError>> + Send;
}

impl<C: Connector> Discoverer for JunosDriver<C> {
    async fn discover(&self, device: &str) -> Result<Discovered, DriverError> {
        JunosDriver::discover(self, device).await
    }
}

impl<T: crate::driver::eos::Eapi> Discoverer for crate::driver::eos::EosDriver<T> {
    async fn discover(&self, device: &str) -> Result<Discovered, DriverError> {
        crate::driver::eos::EosDriver::discover(self, device).await
    }
}

/// An inventory of Junos devices and Arista switches: each host through its own vendor's
/// driver, by its `ansible_network_os`.
pub struct ByOs<J: Discoverer, E: Discoverer> {
    /// For Junos hosts.
    pub junos: J,
    /// For Arista hosts.
    pub eos: E,
    /// The hosts whose `ansible_network_os` is EOS's.
    pub eos_hosts: BTreeSet<String>,
}

impl<J: Discoverer, E: Discoverer> Discoverer for ByOs<J, E> {
    async fn discover(&self, device: &str) -> Result<Discovered, DriverError> {
        if self.eos_hosts.contains(device) {
            self.eos.discover(device).await
        } else {
            self.junos.discover(device).await
        }
    }
}

/// What discovery found, and the scenario it wrote.
#[derive(Clone, Debug)]
pub struct Discovery {
    /// The scenario, as YAML with comments.
    pub yaml: String,
    /// Without an image, the same scenario with a stand-in image for every family in place
    /// of the commented template, so that the fabric it describes can be checked by loading it.
    pub checkable: String,
    /// What could not be told, for the operator.
    pub warnings: Vec<String>,
    /// Devices that answered.
    pub devices: usize,
    /// Fabric links (seen from both ends).
    pub links: usize,
    /// Servers.
    pub servers: usize,
    /// Hosts that did not answer.
    pub unreachable: usize,
    /// Addresses a walk from seeds found and did not ask (`--max-devices` reached): the
    /// scenario describes part of the fabric.
    pub not_asked: usize,
}

/// The family a Junos model belongs to (`qfx5120-48y` → `junos-qfx`).
pub fn family_of(model: &str) -> String {
    let model = model.to_ascii_lowercase();
    for prefix in ["qfx", "ex", "mx", "ptx", "srx", "acx"] {
        if model.starts_with(prefix) {
            return format!("junos-{prefix}");
        }
    }
    "junos".to_string()
}

/// Critical roles the committed configuration shows: a BGP group with a `cluster` id (route
/// reflector), external groups named for the WAN (`wan`: dc-gateway), interconnect (`dci`) or
/// multicast (`mcast`).
pub fn critical_roles_of(configuration: &str) -> Vec<CriticalRole> {
    let mut roles = BTreeSet::new();
    for line in configuration.lines().map(|l| l.trim().trim_start_matches("set ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["protocols", "bgp", "group", group, rest @ ..] = words.as_slice() {
            if rest.first() == Some(&"cluster") {
                roles.insert(CriticalRole::RouteReflector);
            }
            match group.to_ascii_lowercase().as_str() {
                "wan" | "dc-gateway" => {
                    roles.insert(CriticalRole::DcGateway);
                }
                "dci" => {
                    roles.insert(CriticalRole::DciGateway);
                }
                "mcast" | "multicast" => {
                    roles.insert(CriticalRole::McastGateway);
                }
                _ => {}
            }
        }
    }
    roles.into_iter().collect()
}

/// Asks every host, `PARALLEL` at once, calling `progress` as each answers, and writes the
/// scenario `name`. With `image`, the scenario's upgrade section assigns that catalog image to
/// every device; without, a commented template.
pub async fn discover<D: Discoverer>(
    driver: &Arc<D>,
    hosts: &[Host],
    name: &str,
    image: Option<&str>,
    parallel: usize,
    progress: &(dyn Fn(&str, Option<&str>) + Sync),
) -> Discovery {
    let answers = ask(driver, hosts, parallel, progress).await;
    assemble(hosts, answers, name, image, Vec::new())
}

/// Asks `hosts`, `PARALLEL` at once.
async fn ask<D: Discoverer>(
    driver: &Arc<D>,
    hosts: &[Host],
    parallel: usize,
    progress: &(dyn Fn(&str, Option<&str>) + Sync),
) -> Vec<Option<Result<Discovered, String>>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, host) in hosts.iter().enumerate() {
        let (driver, permits, device) = (Arc::clone(driver), Arc::clone(&permits), host.name.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("the semaphore is never closed");
            (index, driver.discover(&device).await)
        });
    }
    let mut answers: Vec<Option<Result<Discovered, String>>> = vec![None; hosts.len()];
    while let Some(done) = tasks.join_next().await {
        if let Ok((index, result)) = done {
            let result = result.map_err(|e| e.to_string());
            progress(&hosts[index].name, result.as_ref().err().map(String::as_str));
            answers[index] = Some(result);
        }
    }
    answers
}

/// Walks the fabric from `seeds` (`host:port`): each device answers with its facts and LLDP
/// neighbours, and every neighbour on a switch port that advertises a management address is
/// asked next (at that address, on the seed's port), breadth first, up to `max_devices`.
/// `driver_for` builds the driver for a set of addresses (each its own name).
pub async fn discover_from_seeds<C: Connector>(
    driver_for: &dyn Fn(BTreeMap<String, String>) -> Arc<JunosDriver<C>>,
    seeds: &[String],
    max_devices: usize,
    parallel: usize,
    name: &str,
    image: Option<&str>,
    progress: &(dyn Fn(&str, Option<&str>) + Sync),
) -> Discovery {
    let mut warnings = Vec::new();
    let mut seen: BTreeSet<String> = seeds.iter().cloned().collect();
    let mut frontier: Vec<String> = seeds.to_vec();
    let mut hosts: Vec<Host> = Vec::new();
    let mut answers: Vec<Option<Result<Discovered, String>>> = Vec::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut not_asked = 0;
    while !frontier.is_empty() {
        let room = max_devices.saturating_sub(hosts.len());
        if frontier.len() > room {
            not_asked += frontier.len() - room;
            warnings.push(format!(
                "--max-devices {max_devices} reached: {} address(es) not asked ({}...)",
                frontier.len() - room,
                frontier[room..].iter().take(3).cloned().collect::<Vec<_>>().join(", ")
            ));
            frontier.truncate(room);
        }
        if frontier.is_empty() {
            break;
        }
        let driver = driver_for(frontier.iter().map(|a| (a.clone(), a.clone())).collect());
        let wave: Vec<Host> = frontier
            .iter()
            .map(|a| Host {
                name: a.clone(),
                address: a.clone(),
                user: None,
                groups: BTreeSet::new(),
                network_os: None,
            })
            .collect();
        let replies = ask(&driver, &wave, parallel, progress).await;
        let mut next = Vec::new();
        for (mut host, reply) in wave.into_iter().zip(replies) {
            if let Some(Ok(discovered)) = &reply {
                let hostname = discovered.facts.hostname.clone();
                if let Some(first) = names.get(&hostname) {
                    warnings.push(format!("{hostname} answers at {first} and at {}: kept once", host.address));
                    continue;
                }
                names.insert(hostname.clone(), host.address.clone());
                let port = host.address.rsplit_once(':').map_or("830", |(_, p)| p).to_string();
                let switch_ports: Vec<String> = discovered
                    .lldp
                    .iter()
                    .flatten()
                    .filter(|n| n.kind() == NeighbourKind::NetworkDevice)
                    .map(|n| n.local.clone())
                    .collect();
                match driver.lldp_management(&host.address, &switch_ports).await {
                    Ok(addresses) => {
                        for port in switch_ports.iter().filter(|p| !addresses.contains_key(*p)) {
                            warnings.push(format!(
                                "{hostname} {port}: its neighbour advertises no management address over LLDP; not followed"
                            ));
                        }
                        for address in addresses.into_values() {
                            let target = format!("{address}:{port}");
                            if seen.insert(target.clone()) {
                                next.push(target);
                            }
                        }
                    }
                    Err(e) => warnings
                        .push(format!("{hostname}: its neighbours' management addresses could not be read ({e})")),
                }
                host.name = hostname;
            }
            hosts.push(host);
            answers.push(reply);
        }
        frontier = next;
    }
    let mut discovery = assemble(&hosts, answers, name, image, warnings);
    discovery.not_asked = not_asked;
    discovery
}

/// The scenario from the answers of `hosts` (one per host, in order).
fn assemble(
    hosts: &[Host],
    answers: Vec<Option<Result<Discovered, String>>>,
    name: &str,
    image: Option<&str>,
    mut warnings: Vec<String>,
) -> Discovery {
    let mut found: BTreeMap<String, (Host, Discovered)> = BTreeMap::new();
    for (host, answer) in hosts.iter().zip(answers) {
        match answer {
            Some(Ok(discovered)) => {
                if discovered.facts.hostname != host.name && !discovered.facts.hostname.is_empty() {
                    warnings.push(format!(
                        "{} answers as {}: it is called {} here, as in the inventory",
                        host.name, discovered.facts.hostname, host.name
                    ));
                }
                found.insert(host.name.clone(), (host.clone(), discovered));
            }
            Some(Err(why)) => warnings.push(format!("{} ({}): {why}; left out", host.name, host.address)),
            None => warnings.push(format!("{}: hitless failed internally while asking it; left out", host.name)),
        }
    }
    let inventory: BTreeSet<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    let mut lldp: BTreeMap<&str, &[LldpNeighbour]> = BTreeMap::new();
    for (name, (_, discovered)) in &found {
        match &discovered.lldp {
            Ok(neighbours) => {
                lldp.insert(name.as_str(), neighbours.as_slice());
            }
            Err(e) => warnings.push(format!("{name} answers no LLDP ({e}): its links and servers are not known")),
        }
    }
    // Links, seen from both ends.
    let mut links: BTreeSet<(String, String)> = BTreeSet::new();
    let mut mlag: BTreeMap<String, String> = BTreeMap::new();
    let mut servers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, neighbours) in &lldp {
        for n in *neighbours {
            if n.kind() == NeighbourKind::Management {
                // The out-of-band network: neither a fabric link nor a server.
                continue;
            }
            if found.contains_key(&n.system) {
                let back = lldp.get(n.system.as_str()).is_some_and(|theirs| theirs.iter().any(|t| t.system == *name));
                // Two switches that see each other on their MLAG peer-links are an MLAG pair.
                let peer_link =
                    found[*name].1.mlag_ports.contains(&n.local) && found[&n.system].1.mlag_ports.contains(&n.port);
                if back && peer_link {
                    mlag.insert(name.to_string(), n.system.clone());
                } else if back {
                    let pair = if *name < n.system.as_str() {
                        (name.to_string(), n.system.clone())
                    } else {
                        (n.system.clone(), name.to_string())
                    };
                    links.insert(pair);
                } else if lldp.contains_key(n.system.as_str()) {
                    warnings.push(format!(
                        "{name} {} sees {} {}, which does not see {name}: a one-sided link, left out",
                        n.local, n.system, n.port
                    ));
                }
            } else if inventory.contains(n.system.as_str()) {
                warnings.push(format!("{name} {} leads to {}, which did not answer", n.local, n.system));
            } else if n.kind() == NeighbourKind::NetworkDevice {
                let says = n.capabilities.as_deref().map_or(String::new(), |c| format!(", capabilities {c}"));
                warnings.push(format!(
                    "{name} {}: neighbour {} ({}{says}) is a network device that is not in the inventory; left out, not a server",
                    n.local, n.system, n.port
                ));
            } else if let Some(why) = crate::util::name_problem(&n.system) {
                // What a host's LLDP says its name is, is its to say: a name hitless cannot
                // use (YAML, a newline, an escape) is left out, never written.
                warnings.push(format!(
                    "{name} {}: neighbour {:?} is left out: its name {why}",
                    n.local,
                    n.system.chars().take(80).collect::<String>()
                ));
            } else {
                let leafs = servers.entry(n.system.clone()).or_default();
                if !leafs.iter().any(|l| l == name) {
                    leafs.push(name.to_string());
                }
            }
        }
    }
    // Roles: the inventory's groups, else the tiers.
    let mut roles: BTreeMap<String, (Role, &'static str)> = BTreeMap::new();
    let mut critical: BTreeMap<String, Vec<CriticalRole>> = BTreeMap::new();
    for (name, (host, discovered)) in &found {
        critical.insert(name.clone(), critical_roles_of(&discovered.configuration));
        if let Some(role) = host.role() {
            roles.insert(name.clone(), (role, "inventory group"));
        }
    }
    let gateways: BTreeSet<String> = critical
        .iter()
        .filter(|(_, roles)| roles.iter().any(|r| *r != CriticalRole::RouteReflector))
        .map(|(name, _)| name.clone())
        .collect();
    let names: Vec<String> = found.keys().cloned().collect();
    let (roles, guesses) = crate::scenario::write::tiers(&names, &links, &servers, &gateways, roles);
    for (name, why) in guesses {
        warnings.push(format!("{name}: {why}"));
    }
    // The scenario.
    let mut written = crate::scenario::write::Written {
        header: format!("Discovered by hitless from {} device(s); review the commented guesses.", found.len()),
        name: name.to_string(),
        links_from: "seen by LLDP from both ends".into(),
        servers_from: "LLDP neighbours that are no switch; two leafs: multihomed".into(),
        image: image.map(str::to_string),
        ..Default::default()
    };
    for (name, (host, discovered)) in &found {
        let facts = &discovered.facts;
        let master = facts.master();
        let (role, why) = roles[name];
        let engines = match facts.chassis {
            Chassis::Single => crate::model::Engines::Single,
            Chassis::DualEngine => crate::model::Engines::Dual,
            Chassis::VirtualChassis => crate::model::Engines::VirtualChassis(facts.engines.len() as u32),
        };
        let engine_versions = (!facts.all_run(facts.version())).then(|| {
            let mut engines = facts.engines.clone();
            engines.sort_by_key(|e| (!e.master, e.slot));
            engines.iter().map(|e| e.version.to_string()).collect()
        });
        let eos = facts.version().is_eos();
        if eos && !discovered.mlag_ports.is_empty() && !mlag.contains_key(name) {
            warnings.push(format!(
                "{name} has an MLAG peer-link ({}) on which no MLAG peer of the inventory answers: no mlag_peer written",
                discovered.mlag_ports.join(", ")
            ));
        }
        written.devices.push(crate::scenario::write::Device {
            name: name.clone(),
            role,
            role_from: why.to_string(),
            vendor: eos.then_some("arista"),
            mlag_peer: mlag.get(name).cloned(),
            family: if eos { "eos".to_string() } else { family_of(&master.model) },
            platform: master.model.clone(),
            version: facts.version().to_string(),
            address: Some(host.address.clone()),
            engines,
            engine_versions,
            critical_roles: critical[name].clone(),
        });
    }
    let (link_count, server_count) = (links.len(), servers.len());
    written.links = links;
    written.servers = servers;
    let (yaml, checkable) = (written.yaml(), written.checkable());
    let unreachable = hosts.len().saturating_sub(found.len());
    Discovery {
        yaml,
        checkable,
        warnings,
        devices: found.len(),
        links: link_count,
        servers: server_count,
        unreachable,
        not_asked: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(name: &str, neighbours: Vec<crate::driver::junos::parse::LldpNeighbour>) -> Discovered {
        let facts = crate::exec::Facts {
            hostname: name.into(),
            chassis: Chassis::Single,
            engines: vec![crate::exec::Engine {
                name: "fpc0".into(),
                slot: 0,
                version: crate::version::Version::parse("21.4R3").unwrap(),
                model: "qfx5120-48y".into(),
                boot: 1,
                master: true,
            }],
            maintenance: false,
            maintenance_owner: None,
            pending_install: false,
        };
        Discovered { facts, lldp: Ok(neighbours), configuration: String::new(), mlag_ports: Vec::new() }
    }

    /// A host's LLDP may say anything of its name: one hitless cannot use (YAML syntax, a
    /// newline) is left out with a warning, and the scenario still loads.
    #[test]
    fn a_neighbour_whose_name_is_no_name_is_left_out_and_said() {
        let host = |name: &str| Host {
            name: name.into(),
            address: format!("{name}:830"),
            user: None,
            groups: BTreeSet::new(),
            network_os: None,
        };
        let neighbour = |system: &str| crate::driver::junos::parse::LldpNeighbour {
            local: "xe-0/0/1".into(),
            parent: None,
            system: system.into(),
            port: "eth0".into(),
            capabilities: None,
        };
        let hostile = "bms9]}\n    - {name: spine9, role: spine";
        let answers = vec![Some(Ok(answered("leaf1", vec![neighbour("bms1"), neighbour(hostile)])))];
        let found = assemble(&[host("leaf1")], answers, "found", None, Vec::new());
        assert_eq!(found.servers, 1, "{}", found.yaml);
        assert!(
            found.warnings.iter().any(|w| w.contains("is left out") && w.contains("contains ']'")),
            "{:?}",
            found.warnings
        );
        assert!(!found.yaml.contains("spine9"), "{}", found.yaml);
        crate::scenario::Scenario::from_yaml(&found.checkable, std::path::Path::new("f.yaml")).unwrap();
    }

    #[test]
    fn families_come_from_model_names() {
        assert_eq!(family_of("qfx5120-48y"), "junos-qfx");
        assert_eq!(family_of("EX4650-48Y"), "junos-ex");
        assert_eq!(family_of("vjunos-switch"), "junos");
    }

    #[test]
    fn critical_roles_come_from_the_bgp_configuration() {
        let configuration = "set protocols bgp group overlay type internal
set protocols bgp group overlay cluster 10.255.0.1
set protocols bgp group wan type external
set protocols bgp group underlay type external";
        assert_eq!(critical_roles_of(configuration), [CriticalRole::RouteReflector, CriticalRole::DcGateway]);
        assert!(critical_roles_of("set protocols bgp group underlay type external").is_empty());
    }
}
