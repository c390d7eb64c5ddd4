//! Reading Junos replies as real devices send them (`shared/reference/junos-netconf.md` §2 and
//! §6): pure functions from a reply's XML tree to facts and health figures, so every shape can
//! be tested against fixtures without a device.
//!
//! The rules real replies taught us:
//! - a dual-RE chassis or a virtual chassis answers inside
//!   `multi-routing-engine-results/multi-routing-engine-item` with `re-name` `re0`/`re1`, `fpcN`
//!   or `memberN`; the master is the engine whose `mastership-state` is `master`, never the first
//!   listed;
//! - before 15.1 there is no `junos-version`: the version is in the `junos` package's comment;
//! - storage counts 512-byte blocks; the filesystem holding `/var/tmp` is the one mounted on the
//!   longest prefix of it;
//! - an install succeeds with `package-result` 0, or without a `package-result` when no `output`
//!   says `ERROR:`; "There is already an install pending" is a pending install, not a failure;
//! - a rollback answers per engine or member: every `package-result` must be 0 and no `output`
//!   line may say `ERROR:`, "Cannot rollback" or "rollback aborted" (a single engine warns
//!   "Cannot rollback" with no result at all, and nothing was rolled back);
//! - an MX virtual chassis answers the route-engine RPC per member, a master and a backup in
//!   each; an EX virtual chassis lists only its master and backup members' engines while its
//!   software reply lists every member (line cards included);
//! - the MAC summary's total is `l2ng-l2-total-mac-count` (ELS) or `mac-table-total-count`
//!   (non-ELS); `mac-count-global` is a per-VLAN figure of the full table, not a total;
//! - LLDP neighbours say what they are (`lldp-remote-system-capabilities-enabled`: `Bridge
//!   Router`, `Station`); other vendors name ports `Ethernet1`, `GigabitEthernet0/0/0/0`;
//! - a port listed without a name cannot be attributed, and fails the reading;
//! - a figure missing from a reply is unknown, never zero.

use std::collections::BTreeMap;

/// A reply hitless cannot read: what is missing or wrong in it, in words (they go into the
/// driver's error, naming the device and the RPC).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReplyError(pub String);

impl From<String> for ReplyError {
    fn from(words: String) -> ReplyError {
        ReplyError(words)
    }
}

impl From<ReplyError> for String {
    fn from(error: ReplyError) -> String {
        error.0
    }
}

impl From<&str> for ReplyError {
    fn from(words: &str) -> ReplyError {
        ReplyError(words.to_string())
    }
}

use crate::exec::{Chassis, Engine};
use crate::health::{Alarm, BgpPeer};
use crate::netconf::xml::Element;
use crate::version::Version;

/// The path images are copied to, whose filesystem must have room.
pub const IMAGE_DIRECTORY: &str = "/var/tmp";

/// `(re-name, element)` for every `inner` element of a reply: one per
/// `multi-routing-engine-item` when the reply is wrapped, else the reply's own (with no name).
pub fn per_engine<'a>(reply: &'a Element, inner: &str) -> Vec<(Option<&'a str>, &'a Element)> {
    let mut items = Vec::new();
    reply.find_all("multi-routing-engine-item", &mut items);
    if items.is_empty() {
        let mut found = Vec::new();
        reply.find_all(inner, &mut found);
        return found.into_iter().map(|e| (None, e)).collect();
    }
    let mut out = Vec::new();
    for item in items {
        let name = item.text_of("re-name");
        let mut found = Vec::new();
        item.find_all(inner, &mut found);
        out.extend(found.into_iter().map(|e| (name, e)));
    }
    out
}

/// The slot or member number in an engine name: `re1` is 1, `fpc2` is 2, `member0` is 0.
pub fn slot_of(name: &str) -> Option<u32> {
    let digits: String = name.chars().rev().take_while(char::is_ascii_digit).collect();
    let digits: String = digits.chars().rev().collect();
    digits.parse().ok()
}

/// What `get-software-information` says about one engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Software {
    /// `re-name`, when the reply was wrapped.
    pub name: Option<String>,
    /// Host name.
    pub hostname: Option<String>,
    /// `product-model`.
    pub model: Option<String>,
    /// The version, or why it could not be read.
    pub version: Result<Version, ReplyError>,
}

/// The version of one `software-information`: `junos-version`, else (before 15.1) the bracketed
/// version in the `junos` package's comment, else in any package's comment.
fn software_version(software: &Element) -> Result<Version, ReplyError> {
    if let Some(text) = software.child("junos-version").map(|e| e.text.trim()) {
        return Version::parse(text).map_err(|e| ReplyError(e.to_string()));
    }
    let packages: Vec<&Element> = software.children_named("package-information").collect();
    let junos = packages.iter().find(|p| p.text_of("name") == Some("junos"));
    let comments = junos.into_iter().chain(packages.iter()).filter_map(|p| p.text_of("comment"));
    for comment in comments {
        if let Some(parsed) = Version::from_package_comment(comment) {
            return parsed.map_err(|e| ReplyError(e.to_string()));
        }
    }
    Err(ReplyError::from("no junos-version, and no package comment with a [version]".to_string()))
}

/// Every engine's software in a `get-software-information` (or `show version invoke-on
/// all-routing-engines`) reply.
pub fn software(reply: &Element) -> Vec<Software> {
    per_engine(reply, "software-information")
        .into_iter()
        .map(|(name, software)| Software {
            name: name.map(str::to_string),
            hostname: software.text_of("host-name").map(str::to_string),
            model: software.text_of("product-model").map(str::to_string),
            version: software_version(software),
        })
        .collect()
}

/// What `get-route-engine-information` says about one routing engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEngine {
    /// `re-name` of the wrapping item, when wrapped.
    pub name: Option<String>,
    /// Slot: `slot`, else the number in the item's name, else 0.
    pub slot: u32,
    /// `mastership-state`, lower-cased (`master`, `backup`, `linecard`), when reported.
    pub mastership: Option<String>,
    /// Start time in seconds, when reported.
    pub start: Option<u64>,
    /// CPU idle, percent, when reported.
    pub cpu_idle: Option<u32>,
    /// `model`.
    pub model: Option<String>,
}

/// Every routing engine of a `get-route-engine-information` reply.
pub fn route_engines(reply: &Element) -> Vec<RouteEngine> {
    per_engine(reply, "route-engine")
        .into_iter()
        .map(|(name, engine)| RouteEngine {
            name: name.map(str::to_string),
            slot: engine.text_of("slot").and_then(|s| s.parse().ok()).or_else(|| name.and_then(slot_of)).unwrap_or(0),
            mastership: engine.text_of("mastership-state").map(str::to_ascii_lowercase),
            start: engine.child("start-time").and_then(start_seconds),
            cpu_idle: engine.text_of("cpu-idle").and_then(|s| s.parse().ok()),
            model: engine.text_of("model").map(str::to_string),
        })
        .collect()
}

/// A start time: its `junos:seconds` attribute, else its text read as a date and time
/// (`2016-12-01 09:14:56 PST`), zone ignored, which is enough to see that it changed.
fn start_seconds(element: &Element) -> Option<u64> {
    if let Some(seconds) = element.attribute("seconds").and_then(|s| s.trim().parse().ok()) {
        return Some(seconds);
    }
    let text = element.text.trim();
    let civil = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", text.get(..19)?).ok()?;
    let seconds = jiff::tz::TimeZone::UTC.to_timestamp(civil).ok()?.as_second();
    u64::try_from(seconds).ok()
}

/// Joins what the two RPCs said into the device's engines. The route-engine reply says which
/// engines exist, which is master and when each booted; the software reply gives each one's
/// version, matched by slot. Two virtual-chassis shapes are read as real ones come:
/// - an MX virtual chassis answers the route-engine RPC per member (`member0`, `member1`), each
///   with its own master and backup engine, while the software reply has one entry per member:
///   the engines are the members, each booted when its master engine did;
/// - an EX virtual chassis lists only its master and backup members' routing engines (by member
///   number), while the software reply lists every member: a line-card member has no engine
///   entry of its own, and reboots with the chassis, so its boot is the master's.
pub fn engines(software: &[Software], route_engines: &[RouteEngine]) -> Result<(Chassis, Vec<Engine>), ReplyError> {
    if route_engines.is_empty() {
        return Err(ReplyError::from("get-route-engine-information lists no routing engine".to_string()));
    }
    if route_engines.iter().any(|r| r.name.as_deref().is_some_and(|n| n.starts_with("member"))) {
        return member_engines(software, route_engines);
    }
    let masters = route_engines.iter().filter(|r| r.mastership.as_deref() == Some("master")).count();
    let lone = route_engines.len() == 1 && route_engines[0].mastership.is_none();
    if masters != 1 && !lone {
        return Err(ReplyError::from(format!(
            "get-route-engine-information shows {masters} master routing engines, not one"
        )));
    }
    let mut engines = Vec::with_capacity(route_engines.len());
    for route_engine in route_engines {
        let master = lone || route_engine.mastership.as_deref() == Some("master");
        let matching = software.iter().find(|s| s.name.as_deref().and_then(slot_of) == Some(route_engine.slot));
        // An unwrapped software reply speaks for the engine that answered: the master.
        let found = matching.or_else(|| software.iter().find(|s| s.name.is_none() && master));
        let label = route_engine.name.clone().unwrap_or_else(|| format!("re{}", route_engine.slot));
        let Some(found) = found else {
            return Err(ReplyError::from(format!("the device reports no version for {label}")));
        };
        let version = found.version.clone().map_err(|e| format!("{label}: {e}"))?;
        let boot =
            route_engine.start.ok_or_else(|| format!("{label}: no start-time in get-route-engine-information"))?;
        engines.push(Engine {
            name: found.name.clone().or_else(|| route_engine.name.clone()).unwrap_or(label),
            slot: route_engine.slot,
            version,
            model: found.model.clone().or_else(|| route_engine.model.clone()).unwrap_or_default(),
            boot,
            master,
        });
    }
    // Members with a version but no routing-engine entry: an EX virtual chassis's line cards,
    // when the software reply names members (`fpcN`) and the engines are some of them.
    let members = software.iter().filter_map(|s| Some((s, slot_of(s.name.as_deref()?)?)));
    let master_boot = engines.iter().find(|e| e.master).map(|e| e.boot);
    for (member, slot) in members.filter(|(_, slot)| !route_engines.iter().any(|r| r.slot == *slot)) {
        let name = member.name.clone().unwrap_or_default();
        if !name.starts_with("fpc") {
            // A version for an engine the route-engine reply does not list: it would be neither
            // installed nor proven rebooted. Say so rather than leave it out.
            return Err(ReplyError::from(format!(
                "{name} reports a version but get-route-engine-information does not list it"
            )));
        }
        let version = member.version.clone().map_err(|e| format!("{name}: {e}"))?;
        let boot = master_boot.ok_or_else(|| format!("{name}: no master engine to take the boot time of"))?;
        engines.push(Engine {
            name,
            slot,
            version,
            model: member.model.clone().unwrap_or_default(),
            boot,
            master: false,
        });
    }
    engines.sort_by_key(|e| e.slot);
    let chassis = match engines.len() {
        1 => Chassis::Single,
        _ if engines.iter().all(|e| e.name.starts_with("re")) => Chassis::DualEngine,
        _ => Chassis::VirtualChassis,
    };
    Ok((chassis, engines))
}

/// An MX virtual chassis: route engines per member (`memberN`, each with its own master). The
/// engines are the members: version from the member's software entry, boot from its master
/// engine; the chassis's master is the lowest-numbered member (the route-engine reply does not
/// say which member leads the chassis, only which engine leads each member).
fn member_engines(software: &[Software], route_engines: &[RouteEngine]) -> Result<(Chassis, Vec<Engine>), ReplyError> {
    let mut names: Vec<&str> = route_engines.iter().filter_map(|r| r.name.as_deref()).collect();
    names.dedup();
    let mut engines = Vec::new();
    for name in names {
        let Some(member) = slot_of(name) else {
            return Err(ReplyError::from(format!("get-route-engine-information: {name} is not a member number")));
        };
        let own: Vec<&RouteEngine> = route_engines.iter().filter(|r| r.name.as_deref() == Some(name)).collect();
        let masters: Vec<&&RouteEngine> = own.iter().filter(|r| r.mastership.as_deref() == Some("master")).collect();
        let [master] = masters.as_slice() else {
            return Err(ReplyError::from(format!(
                "get-route-engine-information shows {} master engines in {name}, not one",
                masters.len()
            )));
        };
        let boot = master.start.ok_or_else(|| format!("{name}: no start-time for its master engine"))?;
        let Some(found) = software.iter().find(|s| s.name.as_deref() == Some(name)) else {
            return Err(ReplyError::from(format!("the device reports no version for {name}")));
        };
        let version = found.version.clone().map_err(|e| format!("{name}: {e}"))?;
        engines.push(Engine {
            name: name.to_string(),
            slot: member,
            version,
            model: found.model.clone().or_else(|| master.model.clone()).unwrap_or_default(),
            boot,
            master: false,
        });
    }
    if let Some(orphan) =
        software.iter().filter_map(|s| s.name.as_deref()).find(|n| !engines.iter().any(|e| e.name == *n))
    {
        return Err(ReplyError::from(format!(
            "{orphan} reports a version but get-route-engine-information does not list it"
        )));
    }
    engines.sort_by_key(|e| e.slot);
    if let Some(first) = engines.first_mut() {
        first.master = true;
    }
    let chassis = if engines.len() == 1 { Chassis::Single } else { Chassis::VirtualChassis };
    Ok((chassis, engines))
}

/// True when a `request-package-checks-pending-install` (or `request-package-add`) reply says
/// an install is pending.
pub fn pending(reply: &Element) -> bool {
    // PyEZ's reading: result 1 with something said, or the words themselves.
    let output = outputs(reply);
    output.contains("already an install pending")
        || (reply.text_of("package-result") == Some("1") && !output.is_empty())
}

/// Every `output` of a reply, joined (real installs send several).
pub fn outputs(reply: &Element) -> String {
    let mut found = Vec::new();
    reply.find_all("output", &mut found);
    found.iter().map(|o| o.text.trim()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join("\n")
}

/// What a `request-package-add` reply says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstallReply {
    /// Installed; active at the next reboot.
    Installed,
    /// Refused because an install is already pending.
    AlreadyPending,
    /// Failed, with the device's words.
    Failed(String),
}

/// Reads a `request-package-add` reply: `package-result` 0 is success; without a
/// `package-result`, success unless an `output` says `ERROR:`; "There is already an install
/// pending" is a pending install.
pub fn install(reply: &Element) -> InstallReply {
    let output = outputs(reply);
    if output.contains("There is already an install pending") {
        return InstallReply::AlreadyPending;
    }
    let failed = match reply.text_of("package-result") {
        Some(result) => result != "0",
        None => output.contains("ERROR:"),
    };
    if failed {
        let words = if output.is_empty() { "no output".to_string() } else { output };
        InstallReply::Failed(words)
    } else {
        InstallReply::Installed
    }
}

/// The words in a rollback's output that mean nothing was rolled back (PyEZ's `SW.rollback`
/// looks for the last two; `ERROR:` is the package RPCs' failure mark).
const ROLLBACK_FAILURES: [&str; 3] = ["ERROR:", "Cannot rollback", "rollback aborted"];

/// Reads a `request-package-rollback` reply: `Ok(())` only when every engine or member said it
/// rolled back. Any `package-result` other than 0, or an `output` line with `ERROR:`, "Cannot
/// rollback" or "rollback aborted" — in any `multi-routing-engine-item` — is a failure, with the
/// engine's name and its own words; a reply with neither a result nor an output proves nothing
/// and is a failure too.
pub fn rollback(reply: &Element) -> Result<(), ReplyError> {
    let mut items = Vec::new();
    reply.find_all("multi-routing-engine-item", &mut items);
    let parts: Vec<(Option<&str>, &Element)> =
        if items.is_empty() { vec![(None, reply)] } else { items.iter().map(|i| (i.text_of("re-name"), *i)).collect() };
    let mut failures = Vec::new();
    for (name, part) in parts {
        let output = outputs(part);
        let mut results = Vec::new();
        part.find_all("package-result", &mut results);
        let bad_result = results.iter().find(|r| r.text.trim() != "0").map(|r| r.text.trim().to_string());
        let bad_lines: Vec<&str> = output
            .lines()
            .map(str::trim)
            .filter(|line| ROLLBACK_FAILURES.iter().any(|mark| line.contains(mark)))
            .collect();
        let who = name.map_or(String::new(), |n| format!("{n}: "));
        if !bad_lines.is_empty() {
            failures.push(format!("{who}{}", bad_lines.join(" / ")));
        } else if let Some(result) = bad_result {
            let words = if output.is_empty() { "no output".to_string() } else { output.replace('\n', " / ") };
            failures.push(format!("{who}package-result {result}: {words}"));
        } else if results.is_empty() && output.is_empty() {
            failures.push(format!("{who}the reply says neither a result nor an output"));
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(ReplyError::from(failures.join("; "))) }
}

/// Free bytes on the filesystem holding [`IMAGE_DIRECTORY`], per engine, from
/// `get-system-storage`: the filesystem mounted on the longest prefix of the path, its
/// `available-blocks` counted in 512-byte blocks.
pub fn free_disk(reply: &Element) -> Result<Vec<(String, u64)>, ReplyError> {
    let mut by_engine: Vec<(String, Vec<&Element>)> = Vec::new();
    for (name, filesystem) in per_engine(reply, "filesystem") {
        let name = name.unwrap_or("re0").to_string();
        match by_engine.iter_mut().find(|(n, _)| *n == name) {
            Some((_, list)) => list.push(filesystem),
            None => by_engine.push((name, vec![filesystem])),
        }
    }
    if by_engine.is_empty() {
        return Err(ReplyError::from("get-system-storage lists no filesystem".to_string()));
    }
    let mut out = Vec::new();
    for (engine, filesystems) in by_engine {
        let holding = filesystems
            .iter()
            .filter_map(|f| Some((f.text_of("mounted-on")?, *f)))
            .filter(|(mount, _)| holds(mount, IMAGE_DIRECTORY))
            .max_by_key(|(mount, _)| mount.len());
        let Some((mount, filesystem)) = holding else {
            return Err(ReplyError::from(format!(
                "{engine}: no filesystem is mounted on a prefix of {IMAGE_DIRECTORY}"
            )));
        };
        let blocks: u64 = filesystem
            .text_of("available-blocks")
            .and_then(|b| b.parse().ok())
            .ok_or_else(|| format!("{engine}: no available-blocks for {mount}"))?;
        out.push((engine, blocks * 512));
    }
    Ok(out)
}

/// True when a filesystem mounted on `mount` holds `path` (whole path components).
fn holds(mount: &str, path: &str) -> bool {
    let mount = mount.trim_end_matches('/');
    mount.is_empty() || path == mount || path.starts_with(&format!("{mount}/"))
}

/// Active alarms of a `get-alarm-information` or `get-system-alarm-information` reply (every
/// engine's, when wrapped).
pub fn alarms(reply: &Element, what: &str) -> Result<Vec<Alarm>, ReplyError> {
    let informations = per_engine(reply, "alarm-information");
    if informations.is_empty() {
        return Err(ReplyError::from(format!("{what}: no alarm-information in the reply")));
    }
    let mut alarms = Vec::new();
    for (_, information) in informations {
        let details: Vec<Alarm> = information
            .children_named("alarm-detail")
            .map(|d| Alarm {
                class: d.text_of("alarm-class").unwrap_or("unknown").to_string(),
                description: d.text_of("alarm-description").unwrap_or("no description").to_string(),
            })
            .collect();
        let summary = information.child("alarm-summary");
        let count = summary.and_then(|s| s.text_of("active-alarm-count")).and_then(|c| c.parse::<usize>().ok());
        let none = summary.is_some_and(|s| s.child("no-active-alarms").is_some());
        match (count, none) {
            (Some(count), _) => {
                let unnamed = count.saturating_sub(details.len());
                alarms.extend(details);
                alarms.extend((0..unnamed).map(|_| Alarm { class: "unknown".into(), description: "an alarm".into() }));
            }
            (None, true) => {}
            (None, false) if !details.is_empty() => alarms.extend(details),
            (None, false) => {
                return Err(ReplyError::from(format!("{what}: neither active-alarm-count nor no-active-alarms")));
            }
        }
    }
    Ok(alarms)
}

/// Every `bgp-peer` of a `get-bgp-summary-information` reply with its address and state
/// (trimmed); a peer without either is an error.
fn bgp_peer_entries(reply: &Element) -> Result<Vec<(&Element, &str, &str)>, ReplyError> {
    if reply.find("bgp-information").is_none() {
        return Err(ReplyError::from("BGP peers: no bgp-information in the reply".to_string()));
    }
    let mut peers = Vec::new();
    reply.find_all("bgp-peer", &mut peers);
    peers
        .into_iter()
        .map(|peer| {
            let address = peer.text_of("peer-address").ok_or("BGP peers: a bgp-peer without peer-address")?.trim();
            let state = peer.text_of("peer-state").ok_or_else(|| format!("BGP peer {address}: no peer-state"))?.trim();
            Ok((peer, address, state))
        })
        .collect()
}

/// The BGP peers of a `get-bgp-summary-information` reply.
pub fn bgp_peers(reply: &Element) -> Result<Vec<BgpPeer>, ReplyError> {
    Ok(bgp_peer_entries(reply)?
        .into_iter()
        .map(|(peer, address, state)| BgpPeer {
            address: address.to_string(),
            established: state.eq_ignore_ascii_case("established"),
            flaps: peer.text_of("flap-count").and_then(|f| f.trim().parse().ok()),
        })
        .collect())
}

/// True for the ports a fabric check reads: physical Ethernet ports (`et-`, `xe-`, `ge-`,
/// `mge-`, `fte-`), not management (`me0`, `em0`, `fxp0`), internal or aggregate interfaces.
pub fn is_fabric_or_server_port(name: &str) -> bool {
    ["et-", "xe-", "ge-", "mge-", "fte-"].iter().any(|p| name.starts_with(p))
}

/// The fabric and server ports of a `get-interface-information` reply, by name. Fails closed:
/// a `physical-interface` without a name (as some virtual-chassis members list them) cannot be
/// told apart, and a reply that lists no fabric or server port at all proves nothing, so either
/// is an error for `what`, never "no errors" or "no traffic".
fn fabric_ports<'a>(reply: &'a Element, what: &str) -> Result<Vec<(&'a str, &'a Element)>, ReplyError> {
    let mut interfaces = Vec::new();
    reply.find_all("physical-interface", &mut interfaces);
    let mut ports = Vec::new();
    for interface in interfaces {
        let Some(name) = interface.text_of("name").map(str::trim).filter(|n| !n.is_empty()) else {
            return Err(ReplyError::from(format!(
                "{what}: the reply lists a port without a name, whose figures cannot be attributed"
            )));
        };
        if is_fabric_or_server_port(name) {
            ports.push((name, interface));
        }
    }
    if ports.is_empty() {
        return Err(ReplyError::from(format!("{what}: the reply lists no fabric or server port")));
    }
    Ok(ports)
}

/// Cumulative input plus output errors of every fabric and server port of a
/// `get-interface-information` reply (`<extensive/>` or `<statistics/>`).
pub fn interface_errors(reply: &Element) -> Result<BTreeMap<String, u64>, ReplyError> {
    let mut errors = BTreeMap::new();
    for (name, interface) in fabric_ports(reply, "interface errors")? {
        let count =
            |list: &str, counter: &str| interface.child(list).and_then(|l| l.text_of(counter)?.parse::<u64>().ok());
        let input = count("input-error-list", "input-errors");
        let output = count("output-error-list", "output-errors");
        let (Some(input), Some(output)) = (input, output) else {
            return Err(ReplyError::from(format!("interface errors: {name} reports no input-errors or output-errors")));
        };
        errors.insert(name.to_string(), input + output);
    }
    Ok(errors)
}

/// LAG members that are not collecting and distributing, from `get-lacp-interface-information`.
pub fn lacp_down(reply: &Element) -> Vec<String> {
    let mut protocols = Vec::new();
    reply.find_all("lag-lacp-protocol", &mut protocols);
    protocols
        .iter()
        .filter(|p| p.text_of("lacp-mux-state").is_none_or(|s| s != "Collecting distributing"))
        .map(|p| p.text_of("name").unwrap_or("a LAG member").to_string())
        .collect()
}

/// The LAGs of a `get-lacp-interface-information` reply.
pub fn lags(reply: &Element) -> Vec<String> {
    let mut names = Vec::new();
    reply.find_all("aggregate-name", &mut names);
    names.iter().map(|n| n.text.trim().to_string()).collect()
}

/// CPU idle per engine, named as [`engines`] names them.
pub fn cpu_idle(route_engines: &[RouteEngine]) -> Result<Vec<(String, u32)>, ReplyError> {
    route_engines
        .iter()
        .map(|r| {
            // An MX virtual chassis's members each have two engines: `member0-re1`.
            let name = match &r.name {
                Some(member) if member.starts_with("member") => format!("{member}-re{}", r.slot),
                Some(name) => name.clone(),
                None => format!("re{}", r.slot),
            };
            r.cpu_idle.map(|idle| (name.clone(), idle)).ok_or_else(|| ReplyError(format!("{name}: no cpu-idle")))
        })
        .collect()
}

/// BGP peers and their states (`peer-state`), from `get-bgp-summary-information`.
pub fn bgp_states(reply: &Element) -> Result<BTreeMap<String, String>, ReplyError> {
    Ok(bgp_peer_entries(reply)?.into_iter().map(|(_, a, s)| (a.to_string(), s.to_string())).collect())
}

/// Active routes per table from the summary's own `bgp-rib` entries (not the per-peer ones).
pub fn bgp_routes(reply: &Element) -> Result<BTreeMap<String, u64>, ReplyError> {
    let information = reply.find("bgp-information").ok_or("route counts: no bgp-information in the reply")?;
    information
        .children_named("bgp-rib")
        .map(|rib| {
            let name = rib.text_of("name").ok_or("route counts: a bgp-rib without a name")?;
            let active = rib
                .text_of("active-prefix-count")
                .and_then(|c| c.trim().parse().ok())
                .ok_or_else(|| format!("route counts: {name} has no active-prefix-count"))?;
            Ok((name.trim().to_string(), active))
        })
        .collect()
}

/// LLDP neighbours: local port to `system port`, from `get-lldp-neighbors-information`.
pub fn lldp(reply: &Element) -> Result<BTreeMap<String, String>, ReplyError> {
    if reply.find("lldp-neighbors-information").is_none() {
        return Err(ReplyError::from("LLDP neighbours: no lldp-neighbors-information in the reply".to_string()));
    }
    let mut neighbours = Vec::new();
    reply.find_all("lldp-neighbor-information", &mut neighbours);
    Ok(neighbours
        .iter()
        .filter_map(|n| {
            let local = n.text_of("lldp-local-port-id").or_else(|| n.text_of("lldp-local-interface"))?;
            let system = n.text_of("lldp-remote-system-name").unwrap_or("-");
            let port = n.text_of("lldp-remote-port-id").or_else(|| n.text_of("lldp-remote-port-description"));
            Some((local.trim().to_string(), format!("{} {}", system.trim(), port.unwrap_or("-").trim())))
        })
        .collect())
}

/// LACP bundles: name to true when every member collects and distributes.
pub fn lacp_bundles(reply: &Element) -> BTreeMap<String, bool> {
    let mut informations = Vec::new();
    reply.find_all("lacp-interface-information", &mut informations);
    informations
        .iter()
        .filter_map(|info| {
            let name = info.child("lag-lacp-header")?.text_of("aggregate-name")?.trim().to_string();
            let up = info
                .children_named("lag-lacp-protocol")
                .all(|p| p.text_of("lacp-mux-state").is_some_and(|s| s.trim() == "Collecting distributing"));
            Some((name, up))
        })
        .collect()
}

/// Fabric and server ports that are up (`oper-status`), from `get-interface-information`.
pub fn interfaces_up(reply: &Element) -> Result<std::collections::BTreeSet<String>, ReplyError> {
    if reply.find("interface-information").is_none() {
        return Err(ReplyError::from("interfaces: no interface-information in the reply".to_string()));
    }
    Ok(fabric_ports(reply, "interfaces")?
        .into_iter()
        .filter(|(_, i)| i.text_of("oper-status").is_some_and(|s| s.trim() == "up"))
        .map(|(name, _)| name.to_string())
        .collect())
}

/// MAC addresses learned, from `get-ethernet-switching-table-information` with `<summary/>`,
/// as real switches answer it: ELS switches (QFX, EX4300 and later) give the total as
/// `l2ng-l2ald-ethernet-switching-table-summary/l2ng-l2-total-mac-count`, older non-ELS EX as
/// `ethernet-switching-table/mac-table-entry/mac-table-total-count`. `mac-count-global` is not a
/// total (it belongs to the full table's per-VLAN blocks and repeats across them), so a reply
/// with neither total is a missing figure, never a sum of those.
pub fn mac_count(reply: &Element) -> Result<u64, ReplyError> {
    let total = reply
        .find("l2ng-l2ald-ethernet-switching-table-summary")
        .and_then(|s| s.text_of("l2ng-l2-total-mac-count"))
        .or_else(|| reply.find("mac-table-entry").and_then(|e| e.text_of("mac-table-total-count")));
    let Some(total) = total else {
        return Err(ReplyError::from(
            "MAC count: the reply has no l2ng-l2-total-mac-count (ELS) nor mac-table-total-count (non-ELS)".to_string(),
        ));
    };
    total.trim().parse::<u64>().map_err(|_| ReplyError(format!("MAC count: {total:?} is not a number")))
}

/// The traffic on the fabric and server ports of a `get-interface-information` reply
/// (`<extensive/>` or `<statistics/>`): `traffic-statistics` input plus output bit/s, summed,
/// in Mbit/s. A port that reports no rate is an error: the drain cannot be proven without it.
pub fn traffic_mbps(reply: &Element) -> Result<u64, ReplyError> {
    let mut bps: u64 = 0;
    for (name, interface) in fabric_ports(reply, "interface traffic")? {
        let rate = |which: &str| {
            interface
                .child("traffic-statistics")
                .and_then(|t| t.text_of(which))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let (Some(input), Some(output)) = (rate("input-bps"), rate("output-bps")) else {
            return Err(ReplyError::from(format!("interface traffic: {name} reports no input-bps or output-bps")));
        };
        bps = bps.saturating_add(input).saturating_add(output);
    }
    Ok(bps / 1_000_000)
}

/// One LLDP neighbour as `get-lldp-neighbors-information` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LldpNeighbour {
    /// The local port (`et-0/0/48`, `xe-0/0/3`).
    pub local: String,
    /// The local bundle the port is in (`ae3`), if any (`-` is none).
    pub parent: Option<String>,
    /// The neighbour's system name.
    pub system: String,
    /// The neighbour's port.
    pub port: String,
    /// What the neighbour says it is (`lldp-remote-system-capabilities-enabled`, else
    /// `-supported`: `Bridge Router`, `Station`, `WLAN Access Point Router`), when it says.
    pub capabilities: Option<String>,
}

/// What an LLDP neighbour is, by what LLDP says of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeighbourKind {
    /// Seen on a management port (`me0`, `em0`, `fxp0`, `vme`): the out-of-band network, never a
    /// link of the fabric nor a server.
    Management,
    /// A network device (a switch or router of any vendor, a firewall): it says it routes, or it
    /// bridges on a port named as switches name theirs; without capabilities, its port's name is
    /// a switch's or router's.
    NetworkDevice,
    /// A host: it says it is a station, or it bridges on a host's port (a hypervisor), or says
    /// nothing and its port is no switch's.
    Host,
}

/// True for a local management port: `me0`, `em0`, `em1`, `fxp0`, `vme`, `re0:mgmt-0`.
pub fn is_management_port(local: &str) -> bool {
    let base = local.split('.').next().unwrap_or(local);
    ["me", "em", "fxp"]
        .iter()
        .any(|p| base.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())))
        || base == "vme"
        || base.contains(":mgmt-")
}

/// True when a port name is how network devices name ports: Junos (`et-0/0/1`), Arista and
/// Cumulus (`Ethernet1`, `swp1`), Cisco (`GigabitEthernet0/0/0/0`, `TenGigE0/0/0/1`,
/// `HundredGigE0/0/0/0`, `Eth1/1`), and others' `ge-`/`xe-` styles.
pub fn is_network_port_name(port: &str) -> bool {
    let junos = ["et-", "xe-", "ge-", "mge-", "fte-"].iter().any(|p| port.starts_with(p));
    let numbered = |prefix: &str| {
        port.strip_prefix(prefix).is_some_and(|rest| rest.chars().next().is_some_and(|c| c.is_ascii_digit()))
    };
    let others = [
        "Ethernet",
        "Eth",
        "swp",
        "GigabitEthernet",
        "TenGigabitEthernet",
        "TenGigE",
        "TwentyFiveGigE",
        "FortyGigE",
        "FortyGigabitEthernet",
        "HundredGigE",
        "HundredGigabitEthernet",
        "FourHundredGigE",
        "Te",
        "Gi",
        "Fo",
        "Hu",
    ]
    .iter()
    .any(|p| numbered(p));
    junos || others
}

impl LldpNeighbour {
    /// What the neighbour is: management, network device or host (see [`NeighbourKind`]).
    pub fn kind(&self) -> NeighbourKind {
        if is_management_port(&self.local) {
            return NeighbourKind::Management;
        }
        let switch_port = is_network_port_name(&self.port);
        match self.capabilities.as_deref().map(str::to_ascii_lowercase) {
            Some(caps) if caps.contains("router") && !caps.contains("station") => NeighbourKind::NetworkDevice,
            Some(caps) if caps.contains("bridge") && switch_port => NeighbourKind::NetworkDevice,
            Some(caps) if caps.contains("bridge") || caps.contains("station") => NeighbourKind::Host,
            _ if switch_port => NeighbourKind::NetworkDevice,
            _ => NeighbourKind::Host,
        }
    }
}

/// Every LLDP neighbour, in the reply's order.
pub fn lldp_neighbours(reply: &Element) -> Result<Vec<LldpNeighbour>, ReplyError> {
    if reply.find("lldp-neighbors-information").is_none() {
        return Err(ReplyError::from("LLDP neighbours: no lldp-neighbors-information in the reply".to_string()));
    }
    let mut list = Vec::new();
    reply.find_all("lldp-neighbor-information", &mut list);
    Ok(list
        .iter()
        .filter_map(|n| {
            let local = n.text_of("lldp-local-port-id").or_else(|| n.text_of("lldp-local-interface"))?.trim();
            let parent =
                n.text_of("lldp-local-parent-interface-name").map(str::trim).filter(|p| !p.is_empty() && *p != "-");
            let system = n.text_of("lldp-remote-system-name")?.trim();
            let port =
                n.text_of("lldp-remote-port-id").or_else(|| n.text_of("lldp-remote-port-description")).unwrap_or("-");
            let capabilities = n
                .text_of("lldp-remote-system-capabilities-enabled")
                .or_else(|| n.text_of("lldp-remote-system-capabilities-supported"))
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty());
            Some(LldpNeighbour {
                local: local.to_string(),
                parent: parent.map(str::to_string),
                system: system.to_string(),
                port: port.trim().to_string(),
                capabilities,
            })
        })
        .collect())
}
