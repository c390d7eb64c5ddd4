//! What automation asks an emulated device beyond an upgrade's own RPCs: the facts PyEZ and
//! Ansible gather (chassis inventory, the internal interfaces and `/etc/hosts.junos` that name
//! the routing engine, virtual-chassis membership, uptime, the user's home), files, storage
//! cleanup, LLDP neighbours consistent with the fabric, and the CLI (`<command>`, and `ssh
//! device 'show ...'`) for the commands whose RPCs the lab implements, in XML or text.

use std::fmt::Write as _;

use super::Lab;
use super::device::{LabDevice, LabEngine};
use super::rpc::rpc_error;
use crate::model::Engines;
use crate::netconf::xml::{self, Element, escape, leaf};

const JUNOS_NS: &str = "http://xml.juniper.net/junos/21.4R3/junos";

/// The user the lab's sessions run as (its home directory is what `file list ~` shows).
pub const USER: &str = "netops";

/// A serial number for a device or one of its parts, stable for a name.
pub fn serial(seed: &str) -> String {
    let hash = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("WS37{:08}", hash % 100_000_000)
}

/// A MAC address for a device, stable for its name (locally administered).
pub fn mac(seed: &str) -> String {
    let hash = seed.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let b = hash.to_be_bytes();
    format!("02:1a:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3])
}

/// Answers the operational RPCs of this module, or `None`.
pub fn handle(lab: &Lab, state: &mut LabDevice, request: &Element, now: u64) -> Option<String> {
    let reply = match request.name.as_str() {
        "get-chassis-inventory" => chassis_inventory(state),
        "get-virtual-chassis-information" => virtual_chassis(state),
        "get-system-uptime-information" => uptime(state, now),
        "get-chassis-cluster-status" => rpc_error("operation-failed", "Chassis cluster is not enabled.", None),
        "get-ethernet-switching-table-information" => {
            // The ELS summary: totals only (the lab's servers are not learned per MAC).
            "<l2ng-l2ald-rtb-macdb><l2ng-l2ald-ethernet-switching-table-summary><l2ng-l2-total-mac-count>0</l2ng-l2-total-mac-count><l2ng-l2-total-smac-count>0</l2ng-l2-total-smac-count></l2ng-l2ald-ethernet-switching-table-summary></l2ng-l2ald-rtb-macdb>".to_string()
        }
        "file-show" => file_show(state, request),
        "file-list" => file_list(state, request),
        "request-system-storage-cleanup" => storage_cleanup(state, request),
        "request-package-validate" => package_validate(state, request),
        "get-lldp-neighbors-information" => lldp_neighbors(lab, state),
        // ELS switches answer the first form, older (non-ELS) EX only the second; each refuses
        // the other as an unknown RPC.
        "get-lldp-interface-neighbors" if !non_els(state) => lldp_interface(lab, state, request),
        "get-lldp-interface-neighbors-information" if non_els(state) => lldp_interface(lab, state, request),
        "get-system-information" => system_information(state),
        "get-system-memory-information" => memory(state),
        _ => return None,
    };
    Some(reply)
}

fn chassis_inventory(state: &LabDevice) -> String {
    let model = state.model.to_uppercase();
    let mut out = format!(
        "<chassis-inventory xmlns=\"{JUNOS_NS}-chassis\"><chassis junos:style=\"inventory\" xmlns:junos=\"{JUNOS_NS}\"><name>Chassis</name>"
    );
    leaf(&mut out, "serial-number", serial(&state.name));
    leaf(&mut out, "description", &model);
    for engine in &state.engines {
        let (name, description) = match state.layout {
            Engines::VirtualChassis(_) => (format!("FPC {}", engine.slot), model.clone()),
            _ => (format!("Routing Engine {}", engine.slot), format!("{model} Routing Engine")),
        };
        out.push_str("<chassis-module>");
        leaf(&mut out, "name", &name);
        leaf(&mut out, "version", "REV 07");
        leaf(&mut out, "part-number", "650-084108");
        leaf(&mut out, "serial-number", serial(&format!("{}/{}", state.name, engine.name)));
        leaf(&mut out, "description", &description);
        out.push_str("</chassis-module>");
    }
    for psu in 0..2 {
        out.push_str("<chassis-module>");
        leaf(&mut out, "name", format!("Power Supply {psu}"));
        leaf(&mut out, "serial-number", serial(&format!("{}/psu{psu}", state.name)));
        leaf(&mut out, "description", "JPSU-650W-AC-AO");
        out.push_str("</chassis-module>");
    }
    out.push_str("</chassis></chassis-inventory>");
    out
}

/// A virtual chassis answers with its members; a switch that is not one answers as a
/// QFX5120 does: the command is not valid here.
fn virtual_chassis(state: &LabDevice) -> String {
    if !matches!(state.layout, Engines::VirtualChassis(_)) {
        return rpc_error("operation-failed", &format!("command is not valid on the {}", state.model), None);
    }
    let mut out = format!(
        "<virtual-chassis-information xmlns=\"{JUNOS_NS}-virtual-chassis\"><virtual-chassis-id-information junos:style=\"id-info\" xmlns:junos=\"{JUNOS_NS}\"><virtual-chassis-id>{}</virtual-chassis-id><virtual-chassis-mode>Enabled</virtual-chassis-mode></virtual-chassis-id-information><member-list junos:style=\"single-slot\" xmlns:junos=\"{JUNOS_NS}\">",
        &mac(&state.name).replace(':', "")[..12]
    );
    for engine in &state.engines {
        let role = match engine.slot {
            0 => "Master*",
            1 => "Backup",
            _ => "Linecard",
        };
        let _ = write!(
            out,
            "<member><member-status>Prsnt</member-status><member-id>{slot}</member-id><fpc-slot>(FPC {slot})</fpc-slot><member-serial-number>{}</member-serial-number><member-model>{}</member-model><member-priority>{}</member-priority><member-mixed-mode>N</member-mixed-mode><member-role>{role}</member-role><neighbor-list/></member>",
            serial(&format!("{}/{}", state.name, engine.name)),
            escape(&state.model),
            if engine.slot < 2 { 255 - engine.slot } else { 0 },
            slot = engine.slot,
        );
    }
    out.push_str("</member-list></virtual-chassis-information>");
    out
}

fn uptime(state: &LabDevice, now: u64) -> String {
    let one = |engine: &LabEngine| {
        let up = now.saturating_sub(engine.boot_unix);
        format!(
            "<system-uptime-information xmlns=\"{JUNOS_NS}\"><current-time><date-time junos:seconds=\"{now}\" xmlns:junos=\"{JUNOS_NS}\">{}</date-time></current-time>\
<system-booted-time><date-time junos:seconds=\"{}\" xmlns:junos=\"{JUNOS_NS}\">{}</date-time><time-length junos:seconds=\"{up}\" xmlns:junos=\"{JUNOS_NS}\">{}</time-length></system-booted-time>\
<uptime-information><date-time junos:seconds=\"{now}\" xmlns:junos=\"{JUNOS_NS}\">{}</date-time><up-time junos:seconds=\"{up}\" xmlns:junos=\"{JUNOS_NS}\">{}</up-time><active-user-count junos:format=\"1 user\" xmlns:junos=\"{JUNOS_NS}\">1</active-user-count></uptime-information></system-uptime-information>",
            clock(now),
            engine.boot_unix,
            clock(engine.boot_unix),
            duration(up),
            clock(now),
            duration(up),
        )
    };
    match state.layout {
        Engines::Single => one(state.master()),
        _ => wrapped(state, one),
    }
}

/// Memory in megabytes, per routing engine: a 16 GB switch, half of it free.
fn memory(state: &LabDevice) -> String {
    let one = |_: &LabEngine| {
        "<system-memory-information><system-memory-summary-information><system-memory-total>16384</system-memory-total><system-memory-reserved>1024</system-memory-reserved><system-memory-free>8192</system-memory-free></system-memory-summary-information></system-memory-information>".to_string()
    };
    match state.layout {
        Engines::Single => one(state.master()),
        _ => wrapped(state, one),
    }
}

fn system_information(state: &LabDevice) -> String {
    let mut out = String::from("<system-information>");
    leaf(&mut out, "hardware-model", &state.model);
    leaf(&mut out, "os-name", "junos");
    leaf(&mut out, "os-version", &state.master().version);
    leaf(&mut out, "serial-number", serial(&state.name));
    leaf(&mut out, "host-name", &state.name);
    out.push_str("</system-information>");
    out
}

fn wrapped(state: &LabDevice, inner: impl Fn(&LabEngine) -> String) -> String {
    let mut out = String::from("<multi-routing-engine-results>");
    for engine in &state.engines {
        let _ = write!(
            out,
            "<multi-routing-engine-item><re-name>{}</re-name>{}</multi-routing-engine-item>",
            engine.name,
            inner(engine)
        );
    }
    out.push_str("</multi-routing-engine-results>");
    out
}

fn clock(unix: u64) -> String {
    let at = i64::try_from(unix).ok().and_then(|s| jiff::Timestamp::from_second(s).ok()).unwrap_or_default();
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn duration(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    format!("{days}d {:02}:{:02}", rest / 3600, rest % 3600 / 60)
}

/// The files `file show` knows: the internal-routing host table that names the routing engine
/// (PyEZ's `current_re` reads it), the resolver's configuration, and the lab's own notes. Files
/// under /var/tmp are images: binary, so not shown.
fn file_show(state: &LabDevice, request: &Element) -> String {
    let name = request.text_of("filename").unwrap_or_default();
    let content = match name {
        "/etc/hosts.junos" => Some(
            "#\n# Internal host table of the routing engine.\n#\n128.0.0.1 master\n128.0.0.1 node\n128.0.0.1 fwdd\n128.0.0.1 member\n128.0.0.1 pfem\n128.0.0.4 re0\n128.0.0.5 re1\n128.0.0.16 fpc0\n128.0.0.17 fpc1\n128.0.0.32 feb0\n128.0.0.48 sfm0\n"
                .to_string(),
        ),
        "/etc/resolv.conf" => Some("domain lab.example\nnameserver 127.0.0.1\n".to_string()),
        _ => None,
    };
    match content {
        Some(text) => format!("<file-content filename=\"{}\">{}</file-content>", escape(name), escape(&text)),
        None if state.files.contains_key(name) => {
            rpc_error("operation-failed", &format!("could not show {name}: binary file"), Some(name))
        }
        None => rpc_error("operation-failed", &format!("could not resolve file: {name}"), Some(name)),
    }
}

/// `file list PATH`: the user's home (`~`), and /var/tmp with what was copied there.
fn file_list(state: &LabDevice, request: &Element) -> String {
    let path = request.text_of("path").unwrap_or("~").trim_end_matches('/');
    let home = format!("/var/home/{USER}");
    let directory = match path {
        "~" | "" => home.clone(),
        p if p == home || p == "/var/tmp" => p.to_string(),
        other => return rpc_error("operation-failed", &format!("{other}: No such file or directory"), Some(other)),
    };
    let prefix = format!("{directory}/");
    let mut out =
        format!("<directory-list root-path=\"{prefix}\"><directory><directory-name>{prefix}</directory-name>");
    for (file, info) in state.files.iter().filter(|(p, _)| p.starts_with(&prefix)) {
        let _ = write!(
            out,
            "<file-information><file-name>{}</file-name><file-size>{}</file-size><file-date junos:format=\"{}\" xmlns:junos=\"{JUNOS_NS}\">{}</file-date></file-information>",
            escape(file.trim_start_matches(&prefix)),
            info.size,
            clock(info.written_unix),
            info.written_unix
        );
    }
    out.push_str("</directory></directory-list>");
    out
}

/// `request system storage cleanup`: removes what lies in /var/tmp (as Junos does), except a
/// package an install is waiting on; `<dry-run/>` only lists.
fn storage_cleanup(state: &mut LabDevice, request: &Element) -> String {
    let dry = request.child("dry-run").is_some();
    let pending_package = state.engines.iter().any(|e| e.pending.is_some());
    let removable: Vec<String> =
        state.files.keys().filter(|p| p.starts_with("/var/tmp/") && !pending_package).cloned().collect();
    let mut out = String::from("<system-storage-cleanup-information><file-list>");
    for path in &removable {
        let info = &state.files[path];
        let _ = write!(
            out,
            "<file><size>{}</size><date>{}</date><file-name>{}</file-name></file>",
            info.size,
            clock(info.written_unix),
            escape(path)
        );
    }
    out.push_str("</file-list>");
    if !dry {
        for path in &removable {
            state.files.remove(path);
        }
        out.push_str("<success/>");
    }
    out.push_str("</system-storage-cleanup-information>");
    out
}

fn package_validate(state: &LabDevice, request: &Element) -> String {
    let package = request.text_of("package-name").unwrap_or_default();
    if !state.files.contains_key(package) {
        return format!(
            "<output>Fetching package...\nerror: {} does not exist</output><package-result>1</package-result>",
            escape(package)
        );
    }
    format!(
        "<output>Checking compatibility with configuration\nInitializing...\nVerified {}\nValidating against /config/juniper.conf.gz\nmgd: commit complete\nValidation succeeded</output><package-result>0</package-result>",
        escape(package.rsplit('/').next().unwrap_or(package))
    )
}

/// One LLDP neighbour of a device: local port, remote system, its chassis id, remote port and
/// management address.
struct Neighbour {
    local: String,
    system: String,
    chassis: String,
    port: String,
    description: String,
    address: String,
}

/// The device's neighbours, as its fabric links and servers say: the i-th fabric neighbour on
/// `et-0/0/(48+i)` (the remote port the same way from the other side), the i-th server bundle's
/// member `xe-0/0/i` to the server's NIC.
fn neighbours(lab: &Lab, state: &LabDevice) -> Vec<Neighbour> {
    let mut out = Vec::new();
    let mine = lab.neighbours.get(&state.name).cloned().unwrap_or_default();
    for (i, other) in mine.iter().enumerate() {
        let theirs = lab.neighbours.get(other).cloned().unwrap_or_default();
        let back = theirs.iter().position(|n| *n == state.name).unwrap_or(0);
        out.push(Neighbour {
            local: format!("et-0/0/{}", 48 + i),
            system: other.clone(),
            chassis: mac(other),
            port: match lab.devices_vendor(other) {
                crate::model::Vendor::Arista => format!("Ethernet{}/1", 49 + back),
                crate::model::Vendor::Juniper => format!("et-0/0/{}", 48 + back),
            },
            description: format!("to {}", state.name),
            address: management_address(lab, other),
        });
    }
    let lags = lab.server_lags.get(&state.name).cloned().unwrap_or_default();
    for (i, lag) in lags.iter().enumerate() {
        let Some(server) = lab.lag_servers.get(&(state.name.clone(), lag.clone())) else { continue };
        out.push(Neighbour {
            local: format!("xe-0/0/{i}"),
            system: server.clone(),
            chassis: mac(server),
            port: format!("eth{}", i % 2),
            description: format!("{server} NIC"),
            address: String::new(),
        });
    }
    out
}

fn management_address(lab: &Lab, device: &str) -> String {
    if let Some(address) = lab.management.get(device) {
        return address.clone();
    }
    let index = lab.neighbours.keys().position(|n| n == device).unwrap_or(0);
    format!("10.254.{}.{}", (index >> 8) & 0xff, index & 0xff)
}

fn lldp_neighbors(lab: &Lab, state: &LabDevice) -> String {
    if lldp_disabled(state) {
        return rpc_error("operation-failed", "LLDP is disabled", None);
    }
    let mut out = format!("<lldp-neighbors-information junos:style=\"brief\" xmlns:junos=\"{JUNOS_NS}\">");
    for n in neighbours(lab, state) {
        let parent = if n.local.starts_with("xe-") { lag_of(lab, state, &n.local) } else { "-".to_string() };
        let _ = write!(
            out,
            "<lldp-neighbor-information><lldp-local-port-id>{}</lldp-local-port-id><lldp-local-parent-interface-name>{}</lldp-local-parent-interface-name>\
<lldp-remote-chassis-id-subtype>Mac address</lldp-remote-chassis-id-subtype><lldp-remote-chassis-id>{}</lldp-remote-chassis-id>\
<lldp-remote-port-id-subtype>Interface name</lldp-remote-port-id-subtype><lldp-remote-port-id>{}</lldp-remote-port-id>\
<lldp-remote-system-name>{}</lldp-remote-system-name></lldp-neighbor-information>",
            n.local,
            parent,
            n.chassis,
            escape(&n.port),
            escape(&n.system)
        );
    }
    out.push_str("</lldp-neighbors-information>");
    out
}

fn lag_of(lab: &Lab, state: &LabDevice, member: &str) -> String {
    let index: usize = member.rsplit('/').next().and_then(|i| i.parse().ok()).unwrap_or(usize::MAX);
    lab.server_lags.get(&state.name).and_then(|l| l.get(index)).cloned().unwrap_or_else(|| "-".into())
}

fn lldp_disabled(state: &LabDevice) -> bool {
    state.effective().contains("protocols lldp disable")
}

/// One interface's neighbour in detail (`show lldp neighbors interface X`).
/// True for an older EX model that runs the non-ELS software (EX2200, EX3200, EX3300, EX4200,
/// EX4500, EX6200, EX8200).
fn non_els(state: &LabDevice) -> bool {
    let model = state.model.to_ascii_lowercase();
    ["ex2200", "ex3200", "ex3300", "ex4200", "ex4500", "ex6200", "ex8200"].iter().any(|m| model.starts_with(m))
}

fn lldp_interface(lab: &Lab, state: &LabDevice, request: &Element) -> String {
    let wanted = request.text_of("interface-device").or_else(|| request.text_of("interface-name")).unwrap_or("");
    let Some(n) = neighbours(lab, state).into_iter().find(|n| n.local == wanted) else {
        return rpc_error("operation-failed", &format!("no LLDP neighbor on interface {wanted}"), Some(wanted));
    };
    let mut out = format!(
        "<lldp-neighbors-information junos:style=\"detail\" xmlns:junos=\"{JUNOS_NS}\"><lldp-neighbor-information>"
    );
    leaf(&mut out, "lldp-index", 1);
    leaf(&mut out, "lldp-local-interface", &n.local);
    leaf(&mut out, "lldp-local-port-id", &n.local);
    leaf(&mut out, "lldp-remote-chassis-id-subtype", "Mac address");
    leaf(&mut out, "lldp-remote-chassis-id", &n.chassis);
    leaf(&mut out, "lldp-remote-port-id-subtype", "Interface name");
    leaf(&mut out, "lldp-remote-port-id", &n.port);
    leaf(&mut out, "lldp-remote-port-description", &n.description);
    leaf(&mut out, "lldp-remote-system-name", &n.system);
    leaf(&mut out, "lldp-system-description", "Juniper Networks, Inc. Junos OS");
    if !n.address.is_empty() {
        let _ = write!(
            out,
            "<lldp-remote-management-address-type>IPv4(1)</lldp-remote-management-address-type><lldp-remote-management-address>{}</lldp-remote-management-address>",
            n.address
        );
    }
    out.push_str("</lldp-neighbor-information></lldp-neighbors-information>");
    out
}

/// A CLI command as the lab understands it: the RPC it stands for, and how the output is to be
/// displayed.
pub struct Cli {
    /// The RPC (`<get-software-information/>` ...).
    pub rpc: Element,
    /// `| display xml rpc`: answer with the RPC itself.
    pub show_rpc: bool,
    /// `| display set` on `show configuration`.
    pub display_set: bool,
    /// `| match REGEX` / `| except REGEX` (a plain substring here), `| count`.
    pub filters: Vec<(String, String)>,
}

/// The RPC a CLI command stands for, or why the lab does not know it (Junos's words).
pub(crate) fn parse_cli(command: &str) -> Result<Cli, String> {
    let mut pieces = command.split('|').map(str::trim);
    let words: Vec<&str> = pieces.next().unwrap_or("").split_whitespace().collect();
    let mut cli = Cli { rpc: Element::default(), show_rpc: false, display_set: false, filters: Vec::new() };
    for pipe in pieces {
        let pipe_words: Vec<&str> = pipe.split_whitespace().collect();
        match pipe_words.as_slice() {
            ["display", "xml", "rpc"] => cli.show_rpc = true,
            ["display", "xml"] | ["no-more"] => {}
            ["display", "set"] => cli.display_set = true,
            ["match", rest @ ..] => cli.filters.push(("match".into(), rest.join(" "))),
            ["except", rest @ ..] => cli.filters.push(("except".into(), rest.join(" "))),
            ["count"] => cli.filters.push(("count".into(), String::new())),
            _ => return Err(format!("syntax error, expecting <pipe>: | {pipe}")),
        }
    }
    let element = |name: &str, children: Vec<Element>| Element { name: name.into(), children, ..Element::default() };
    let child = |name: &str, text: &str| Element { name: name.into(), text: text.into(), ..Element::default() };
    let flag = |name: &str| Element { name: name.into(), ..Element::default() };
    cli.rpc = match words.as_slice() {
        ["show", "version"] => element("get-software-information", vec![]),
        ["show", "version", "invoke-on", "all-routing-engines"] => {
            element("get-software-information", vec![flag("invoke-on-all-routing-engines")])
        }
        ["show", "version", "all-members"] => element("get-software-information", vec![flag("all-members")]),
        ["show", "chassis", "hardware"] => element("get-chassis-inventory", vec![]),
        ["show", "chassis", "routing-engine"] => element("get-route-engine-information", vec![]),
        ["show", "chassis", "alarms"] => element("get-alarm-information", vec![]),
        ["show", "system", "alarms"] => element("get-system-alarm-information", vec![]),
        ["show", "system", "storage"] => element("get-system-storage", vec![]),
        ["show", "system", "uptime"] => element("get-system-uptime-information", vec![]),
        ["show", "system", "information"] => element("get-system-information", vec![]),
        ["show", "interfaces", "terse"] => element("get-interface-information", vec![flag("terse")]),
        ["show", "interfaces", name, "terse"] | ["show", "interfaces", "terse", name] => {
            element("get-interface-information", vec![flag("terse"), child("interface-name", name)])
        }
        ["show", "interfaces"] => element("get-interface-information", vec![]),
        ["show", "interfaces", name] => element("get-interface-information", vec![child("interface-name", name)]),
        ["show", "lldp", "neighbors"] => element("get-lldp-neighbors-information", vec![]),
        ["show", "lldp", "neighbors", "interface", name] => {
            element("get-lldp-interface-neighbors", vec![child("interface-device", name)])
        }
        ["show", "bgp", "summary"] => element("get-bgp-summary-information", vec![]),
        ["show", "lacp", "interfaces"] => element("get-lacp-interface-information", vec![]),
        ["show", "virtual-chassis"] => element("get-virtual-chassis-information", vec![]),
        ["show", "virtual-chassis", "status"] => element("get-virtual-chassis-information", vec![]),
        ["file", "list"] => element("file-list", vec![child("path", "~")]),
        ["file", "list", path] => element("file-list", vec![child("path", path)]),
        ["file", "show", path] => element("file-show", vec![child("filename", path)]),
        ["show", "configuration", path @ ..] => {
            let mut filter = element("configuration", vec![]);
            // `show configuration system` narrows to a hierarchy (keywords only).
            let mut cursor = &mut filter;
            for word in path {
                cursor.children.push(element(word, vec![]));
                cursor = cursor.children.last_mut().expect("just pushed");
            }
            let mut rpc = element("get-configuration", vec![filter]);
            rpc.attributes.push(("database".into(), "committed".into()));
            rpc
        }
        ["show", "system", "software"] | ["show", "system", "processes", ..] => {
            return Err(format!("the lab does not emulate `{}`", words.join(" ")));
        }
        _ => return Err(format!("syntax error, expecting <command>: {}", words.join(" "))),
    };
    Ok(cli)
}

/// `<rpc>` for `| display xml rpc`.
pub fn rpc_itself(cli: &Cli) -> String {
    let mut out = String::from("<rpc>");
    write_element(&cli.rpc, &mut out);
    out.push_str("</rpc>");
    out
}

fn write_element(element: &Element, out: &mut String) {
    let _ = write!(out, "<{}", element.name);
    for (name, value) in &element.attributes {
        let _ = write!(out, " {name}=\"{}\"", escape(value));
    }
    if element.children.is_empty() && element.text.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    out.push_str(&escape(&element.text));
    for child in &element.children {
        write_element(child, out);
    }
    let _ = write!(out, "</{}>", element.name);
}

/// The text a CLI prints for `reply`, the answer to `cli.rpc`.
pub(crate) fn text(cli: &Cli, reply: &str) -> Result<String, String> {
    let parsed =
        xml::parse(&format!("<reply xmlns:junos=\"{JUNOS_NS}\">{reply}</reply>")).map_err(|e| e.to_string())?;
    if let Some(error) = parsed.child("rpc-error") {
        return Err(error.text_of("error-message").unwrap_or("error").to_string());
    }
    let body = parsed.children.first().cloned().unwrap_or_default();
    let mut out = match cli.rpc.name.as_str() {
        "get-software-information" => version_text(&body),
        "get-configuration" => match body.name.as_str() {
            "configuration-set" | "configuration-text" => body.text.clone(),
            _ => String::new(),
        },
        "get-interface-information" => interfaces_text(&body),
        "get-lldp-neighbors-information" => lldp_text(&body),
        "get-bgp-summary-information" => bgp_text(&body),
        "get-chassis-inventory" => inventory_text(&body),
        "file-show" => body.text.clone(),
        "file-list" => files_text(&body),
        _ => generic_text(&body, 0),
    };
    for (kind, pattern) in &cli.filters {
        out = match kind.as_str() {
            "match" => out.lines().filter(|l| l.contains(pattern.as_str())).map(|l| format!("{l}\n")).collect(),
            "except" => out.lines().filter(|l| !l.contains(pattern.as_str())).map(|l| format!("{l}\n")).collect(),
            _ => format!("Count: {} lines\n", out.lines().count()),
        };
    }
    Ok(out)
}

fn version_text(body: &Element) -> String {
    let mut out = String::new();
    let one = |info: &Element, out: &mut String| {
        let _ = writeln!(out, "Hostname: {}", info.text_of("host-name").unwrap_or(""));
        let _ = writeln!(out, "Model: {}", info.text_of("product-model").unwrap_or(""));
        if let Some(version) = info.text_of("junos-version") {
            let _ = writeln!(out, "Junos: {version}");
        }
        for package in info.children.iter().filter(|c| c.name == "package-information") {
            let _ = writeln!(out, "{}", package.text_of("comment").unwrap_or(""));
        }
    };
    if body.name == "multi-routing-engine-results" {
        for item in &body.children {
            let _ = writeln!(
                out,
                "\n{}:\n--------------------------------------------------------------------------",
                item.text_of("re-name").unwrap_or("")
            );
            if let Some(info) = item.child("software-information") {
                one(info, &mut out);
            }
        }
    } else {
        one(body, &mut out);
    }
    out
}

fn interfaces_text(body: &Element) -> String {
    let mut out = String::from("Interface               Admin Link Proto    Local                 Remote\n");
    for ifd in body.children.iter().filter(|c| c.name == "physical-interface") {
        let name = ifd.text_of("name").unwrap_or("").trim();
        let admin = ifd.text_of("admin-status").unwrap_or("").trim();
        let oper = ifd.text_of("oper-status").unwrap_or("").trim();
        let _ = writeln!(out, "{name:<24}{admin:<6}{oper}");
        for ifl in ifd.children.iter().filter(|c| c.name == "logical-interface") {
            let _ = writeln!(out, "{:<24}{admin:<6}{oper}", ifl.text_of("name").unwrap_or("").trim());
        }
    }
    out
}

fn lldp_text(body: &Element) -> String {
    let mut out =
        String::from("Local Interface    Parent Interface    Chassis Id          Port info          System Name\n");
    for n in body.children.iter().filter(|c| c.name == "lldp-neighbor-information") {
        let _ = writeln!(
            out,
            "{:<19}{:<20}{:<20}{:<19}{}",
            n.text_of("lldp-local-port-id").unwrap_or(""),
            n.text_of("lldp-local-parent-interface-name").unwrap_or("-"),
            n.text_of("lldp-remote-chassis-id").unwrap_or(""),
            n.text_of("lldp-remote-port-id").unwrap_or(""),
            n.text_of("lldp-remote-system-name").unwrap_or("")
        );
    }
    out
}

fn bgp_text(body: &Element) -> String {
    let mut out = format!(
        "Threading mode: BGP I/O\nGroups: {} Peers: {} Down peers: {}\nPeer                     AS      InPkt     OutPkt    OutQ   Flaps Last Up/Dwn State\n",
        body.text_of("group-count").unwrap_or("0"),
        body.text_of("peer-count").unwrap_or("0"),
        body.text_of("down-peer-count").unwrap_or("0")
    );
    for peer in body.children.iter().filter(|c| c.name == "bgp-peer") {
        let _ = writeln!(
            out,
            "{:<25}{:<8}{:>9}{:>11}{:>8}{:>8} {:>11} {}",
            peer.text_of("peer-address").unwrap_or(""),
            peer.text_of("peer-as").unwrap_or(""),
            0,
            0,
            0,
            peer.text_of("flap-count").unwrap_or("0"),
            "-",
            peer.text_of("peer-state").unwrap_or("")
        );
    }
    out
}

fn inventory_text(body: &Element) -> String {
    let mut out =
        String::from("Hardware inventory:\nItem             Version  Part number  Serial number     Description\n");
    if let Some(chassis) = body.child("chassis") {
        let _ = writeln!(
            out,
            "Chassis                                {:<18}{}",
            chassis.text_of("serial-number").unwrap_or(""),
            chassis.text_of("description").unwrap_or("")
        );
        for module in chassis.children.iter().filter(|c| c.name == "chassis-module") {
            let _ = writeln!(
                out,
                "{:<17}{:<9}{:<13}{:<18}{}",
                module.text_of("name").unwrap_or(""),
                module.text_of("version").unwrap_or(""),
                module.text_of("part-number").unwrap_or(""),
                module.text_of("serial-number").unwrap_or(""),
                module.text_of("description").unwrap_or("")
            );
        }
    }
    out
}

fn files_text(body: &Element) -> String {
    let mut out = String::new();
    if let Some(directory) = body.child("directory") {
        let _ = writeln!(out, "{}:", directory.text_of("directory-name").unwrap_or(""));
        for file in directory.children.iter().filter(|c| c.name == "file-information") {
            let _ = writeln!(out, "{}", file.text_of("file-name").unwrap_or(""));
        }
    }
    out
}

/// Text for a reply without a dedicated layout: each element on its own line, indented, as
/// `name: value`.
fn generic_text(element: &Element, depth: usize) -> String {
    let mut out = String::new();
    for child in &element.children {
        let pad = "  ".repeat(depth);
        if child.children.is_empty() {
            let _ = writeln!(out, "{pad}{}: {}", child.name, child.text.trim());
        } else {
            let _ = writeln!(out, "{pad}{}:", child.name);
            out.push_str(&generic_text(child, depth + 1));
        }
    }
    out
}
