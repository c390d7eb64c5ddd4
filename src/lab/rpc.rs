//! The RPCs an emulated device answers, with Junos's reply shapes (`shared/reference/
//! junos-netconf.md` §2 and §6): dual routing engines and virtual-chassis members answer inside
//! `multi-routing-engine-results`, storage counts 512-byte blocks, a pending install answers as a
//! real one does (without naming a version), install replies vary as real ones do, and a release
//! before 15.1 has no `junos-version`.

use std::fmt::Write;

use super::Lab;
use super::device::{LabDevice, LabEngine};
use crate::faults::{FaultKind, FaultPhase};
use crate::model::Engines;
use crate::netconf::xml::{Element, escape, leaf};
use crate::version::Version;

/// What to send back, and whether the session ends after it.
pub struct Reply {
    /// The content of `<rpc-reply>`.
    pub body: String,
    /// True after `<close-session/>` or a reboot.
    pub close: bool,
    /// True when the connection drops before the reply is sent (the `ssh-drop` fault).
    pub drop: bool,
    /// How long the device works before it answers (an install takes minutes).
    pub delay: std::time::Duration,
    /// True when the device has hung: no reply, ever (the `hang` fault).
    pub hang: bool,
}

impl Reply {
    fn ok(body: String) -> Reply {
        Reply { body, close: false, drop: false, delay: std::time::Duration::ZERO, hang: false }
    }

    fn hang() -> Reply {
        Reply { hang: true, ..Reply::ok(String::new()) }
    }
}

const JUNOS_NS: &str = "http://xml.juniper.net/junos/21.4R3/junos";

/// An `<rpc-error>` in Junos's shape.
pub fn rpc_error(tag: &str, message: &str, bad_element: Option<&str>) -> String {
    let mut out = String::from("<rpc-error><error-type>protocol</error-type>");
    leaf(&mut out, "error-tag", tag);
    out.push_str("<error-severity>error</error-severity>");
    leaf(&mut out, "error-message", message);
    if let Some(bad) = bad_element {
        out.push_str("<error-info>");
        leaf(&mut out, "bad-element", bad);
        out.push_str("</error-info>");
    }
    out.push_str("</rpc-error>");
    out
}

/// Answers one request from session `session` on `device`.
pub fn handle(lab: &Lab, device: &str, session: u64, request: &Element) -> Reply {
    let now = lab.now_unix();
    let mut devices = lab.devices.lock().expect("not poisoned");
    if let Some(state) = devices.get_mut(device) {
        state.settle(now);
    }
    dispatch(lab, &mut devices, device, session, request, now)
}

/// `<command>`: the RPC the CLI command stands for, answered in XML, or as the CLI prints it
/// with `format="text"`; `| display xml rpc` answers with the RPC itself.
fn command(
    lab: &Lab,
    devices: &mut std::collections::BTreeMap<String, LabDevice>,
    device: &str,
    session: u64,
    request: &Element,
    now: u64,
) -> Reply {
    let text: String = request.text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cli = match super::ops::parse_cli(&text) {
        Ok(cli) => cli,
        Err(message) => return Reply::ok(rpc_error("operation-failed", &message, Some(&text))),
    };
    if cli.show_rpc {
        return Reply::ok(super::ops::rpc_itself(&cli));
    }
    let requested = request.attribute("format").unwrap_or("xml");
    let as_text = requested == "text";
    if cli.rpc.name == "get-configuration" {
        let format = match requested {
            "set" | "json" => requested,
            _ if cli.display_set => "set",
            "text" => "text",
            _ => "xml",
        };
        cli.rpc.attributes.push(("format".into(), format.into()));
    } else if !matches!(requested, "xml" | "text" | "ascii") {
        return Reply::ok(rpc_error(
            "operation-failed",
            &format!("the lab answers `{text}` in xml or text, not {requested}"),
            Some(requested),
        ));
    }
    if cli.rpc.name == "get-configuration" && matches!(requested, "set" | "json") {
        return dispatch(lab, devices, device, session, &cli.rpc, now);
    }
    let reply = dispatch(lab, devices, device, session, &cli.rpc, now);
    if !as_text || reply.hang || reply.drop {
        return reply;
    }
    match super::ops::text(&cli, &reply.body) {
        Ok(text) => Reply::ok(format!("<output>{}</output>", escape(&text))),
        Err(message) => Reply::ok(rpc_error("operation-failed", &message, Some(&cli.rpc.name))),
    }
}

fn dispatch(
    lab: &Lab,
    devices: &mut std::collections::BTreeMap<String, LabDevice>,
    device: &str,
    session: u64,
    request: &Element,
    now: u64,
) -> Reply {
    if request.name == "command" {
        return command(lab, devices, device, session, request, now);
    }
    let Some(state) = devices.get_mut(device) else {
        return Reply::ok(rpc_error("operation-failed", &format!("no device {device} in this lab"), None));
    };
    let name = request.name.as_str();
    let hangs = hang_phase(state, name).is_some_and(|phase| lab.fault(device, phase) == Some(FaultKind::Hang));
    if state.hung || hangs {
        state.hung = true;
        return Reply::hang();
    }
    let failing = lab.fault(device, phase_of(state)) == Some(FaultKind::HealthCheckFails);
    if let Some(reply) = super::configure::handle(lab, state, session, request, now) {
        return Reply::ok(reply);
    }
    if let Some(reply) = super::ops::handle(lab, state, request, now) {
        return Reply::ok(reply);
    }
    match name {
        "close-session" => Reply { body: "<ok/>".into(), close: true, ..Reply::ok(String::new()) },
        "get-software-information" => Reply::ok(software_request(state, request)),
        "get-route-engine-information" => Reply::ok(route_engines(state, now)),
        "get-alarm-information" => Reply::ok(alarms(state, failing)),
        "get-system-alarm-information" => Reply::ok(alarms(state, false)),
        "get-system-storage" => Reply::ok(storage(state)),
        "get-interface-information" => Reply::ok(interface_request(lab, state, request, failing, now)),
        "request-package-checks-pending-install" => Reply::ok(pending(state)),
        "file-copy" => Reply::ok(file_copy(lab, state, request, now)),
        "get-checksum-information" | "get-sha1-checksum-information" | "get-sha256-checksum-information" => {
            Reply::ok(checksum(lab, state, request))
        }
        "request-package-add" => {
            let body = package_add(lab, state, request);
            // The install completes on the device; only the session carrying the reply dies.
            let drop = lab.fault(device, FaultPhase::Install) == Some(FaultKind::SshDrop)
                && state.fired.insert("ssh-drop:install".into());
            let role = lab.roles.get(device).copied().unwrap_or(crate::model::Role::Leaf);
            let seconds = lab.timing.phases(role).install_seconds;
            Reply { body, close: drop, drop, delay: lab.real(seconds), hang: false }
        }
        "request-reboot" | "request-system-reboot" => reboot(lab, state, request, now),
        "request-package-rollback" => Reply::ok(package_rollback(lab, state, request)),
        "get-bgp-summary-information" | "get-lacp-interface-information" => {
            let up: Vec<(String, bool, Vec<u64>)> =
                devices.iter().map(|(n, d)| (n.clone(), d.is_up(now), d.reboots.clone())).collect();
            let state = devices.get(device).expect("looked up above");
            let body =
                if name == "get-bgp-summary-information" { bgp_summary(lab, state, &up) } else { lacp(lab, state) };
            Reply::ok(body)
        }
        other => Reply::ok(rpc_error("operation-failed", "syntax error", Some(other))),
    }
}

/// The phase of the upgrade a request belongs to, for the `hang` fault: the operation's own
/// phase, and for reads, the health check before or after the upgrade.
fn hang_phase(state: &LabDevice, request: &str) -> Option<FaultPhase> {
    match request {
        "close-session" => None,
        "request-package-add" => Some(FaultPhase::Install),
        "request-reboot" | "request-system-reboot" => Some(FaultPhase::Reboot),
        "file-copy" | "get-checksum-information" => Some(FaultPhase::ImageCopy),
        "lock-configuration" | "lock" | "load-configuration" | "commit-configuration"
            if state.upgrades <= state.rollbacks && !state.in_maintenance() =>
        {
            Some(FaultPhase::Maintenance)
        }
        // The health check's own reads (facts are read all along the upgrade, and belong to no
        // phase): before the upgrade, or after the reboot into the new version.
        "get-alarm-information"
        | "get-system-alarm-information"
        | "get-system-storage"
        | "get-interface-information"
        | "get-bgp-summary-information" => {
            if state.upgrades > state.rollbacks {
                Some(FaultPhase::PostCheck)
            } else if !state.in_maintenance() && state.engines.iter().all(|e| e.pending.is_none()) {
                Some(FaultPhase::HealthCheck)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn phase_of(state: &LabDevice) -> FaultPhase {
    let pending = state.engines.iter().any(|e| e.pending.is_some());
    // After an upgrade, until it is rolled back: a post-check fault is the new image's.
    if state.upgrades > state.rollbacks || pending { FaultPhase::PostCheck } else { FaultPhase::HealthCheck }
}

/// `<multi-routing-engine-results>` around one item per engine, each built by `inner`.
fn wrapped(engines: &[LabEngine], inner: impl Fn(&LabEngine) -> String) -> String {
    let mut out = String::from("<multi-routing-engine-results>");
    for engine in engines {
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

/// One engine's `software-information`. Releases before 15.1 have no `junos-version`: the
/// version is only in the package comment, in brackets.
fn software(state: &LabDevice, engine: &LabEngine) -> String {
    let mut out = String::from("<software-information>");
    leaf(&mut out, "host-name", &state.name);
    leaf(&mut out, "product-model", &state.model);
    leaf(&mut out, "product-name", &state.model);
    let modern = Version::parse(&engine.version).is_ok_and(|v| v.train() >= (15, 1));
    if modern {
        out.push_str("<jsr/>");
        leaf(&mut out, "junos-version", &engine.version);
    }
    out.push_str("<package-information><name>junos</name>");
    let suite = if modern { "JUNOS Software Release" } else { "JUNOS EX  Software Suite" };
    leaf(&mut out, "comment", format!("{suite} [{}]", engine.version));
    out.push_str("</package-information></software-information>");
    out
}

/// `get-software-information` without options: the engine that answers (the master) on a dual
/// routing-engine box, every member of a virtual chassis.
fn software_plain(state: &LabDevice) -> String {
    match state.layout {
        Engines::VirtualChassis(_) => wrapped(&state.engines, |e| software(state, e)),
        Engines::Single | Engines::Dual => software(state, state.master()),
    }
}

/// `get-software-information`: every routing engine with `invoke-on-all-routing-engines`, every
/// member with `all-members` (a virtual chassis only); `all-servers` is for JDM, not a switch.
fn software_request(state: &LabDevice, request: &Element) -> String {
    if request.child("all-servers").is_some() {
        return rpc_error("operation-failed", "syntax error", Some("all-servers"));
    }
    if request.child("all-members").is_some() && !matches!(state.layout, Engines::VirtualChassis(_)) {
        return rpc_error("operation-failed", "syntax error", Some("all-members"));
    }
    if request.child("invoke-on-all-routing-engines").is_some() || request.child("all-members").is_some() {
        return wrapped(&state.engines, |e| software(state, e));
    }
    software_plain(state)
}

/// `get-interface-information`: the internal routing instance (`__juniper_private1__`, where
/// the routing engine's internal interface names it, as PyEZ's `current_re` reads), or the
/// device's ports, narrowed by `interface-name` (a name, or a glob such as `[afgxe][et]-*`).
fn interface_request(lab: &Lab, state: &LabDevice, request: &Element, failing: bool, now: u64) -> String {
    if let Some(instance) = request.text_of("routing-instance") {
        if instance != "__juniper_private1__" {
            return rpc_error("operation-failed", &format!("routing instance {instance} not found"), Some(instance));
        }
        let addresses = ["128.0.0.1/2", "128.0.0.16/2", "128.0.0.32/2"];
        let mut out = format!(
            "<interface-information xmlns=\"{JUNOS_NS}-interface\" junos:style=\"terse\" xmlns:junos=\"{JUNOS_NS}\"><physical-interface><name>bme0</name><admin-status>up</admin-status><oper-status>up</oper-status><logical-interface><name>bme0.32768</name><admin-status>up</admin-status><oper-status>up</oper-status><address-family><address-family-name>inet</address-family-name>"
        );
        for address in addresses {
            let _ = write!(
                out,
                "<interface-address><ifa-local junos:emit=\"emit\">{address}</ifa-local></interface-address>"
            );
        }
        out.push_str("</address-family></logical-interface></physical-interface></interface-information>");
        return out;
    }
    let all = interfaces(lab, state, failing, now);
    let Some(pattern) = request.text_of("interface-name") else { return all };
    let Ok(parsed) = crate::netconf::xml::parse(&all) else { return all };
    let kept: Vec<&Element> =
        parsed.children.iter().filter(|ifd| ifd.text_of("name").is_some_and(|n| glob(pattern, n.trim()))).collect();
    if kept.is_empty() {
        return rpc_error("operation-failed", &format!("device {pattern} not found"), Some(pattern));
    }
    let mut out = format!(
        "<interface-information xmlns=\"{JUNOS_NS}-interface\" junos:style=\"normal\" xmlns:junos=\"{JUNOS_NS}\">"
    );
    for ifd in kept {
        let start = all.find(&format!("<name>\n{}\n</name>", ifd.text_of("name").unwrap_or("").trim()));
        if let Some(start) = start.and_then(|s| all[..s].rfind("<physical-interface>"))
            && let Some(len) = all[start..].find("</physical-interface>")
        {
            out.push_str(&all[start..start + len + "</physical-interface>".len()]);
        }
    }
    out.push_str("</interface-information>");
    out
}

/// Junos interface-name matching: `*` any run, `?` one character, `[abc]` one of them.
fn glob(pattern: &str, name: &str) -> bool {
    fn matches(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| matches(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && matches(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().position(|c| *c == ']') else { return false };
                !n.is_empty() && p[1..close].contains(&n[0]) && matches(&p[close + 1..], &n[1..])
            }
            Some(c) => n.first() == Some(c) && matches(&p[1..], &n[1..]),
        }
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    matches(&p, &n)
}

fn route_engine(engine: &LabEngine, mastership: &str, now: u64) -> String {
    let up = now.saturating_sub(engine.boot_unix);
    format!(
        "<route-engine><slot>{}</slot><mastership-state>{mastership}</mastership-state>\
<mastership-priority>{mastership}</mastership-priority><status>OK</status><model>QFX Routing Engine</model>\
<cpu-user>9</cpu-user><cpu-background>0</cpu-background><cpu-system>5</cpu-system><cpu-interrupt>1</cpu-interrupt><cpu-idle>85</cpu-idle>\
<start-time junos:seconds=\"{}\" xmlns:junos=\"{JUNOS_NS}\">{}</start-time><up-time junos:seconds=\"{up}\" xmlns:junos=\"{JUNOS_NS}\">{up} seconds</up-time>\
<last-reboot-reason>Router rebooted after a normal shutdown.</last-reboot-reason></route-engine>",
        engine.slot,
        engine.boot_unix,
        start_text(engine.boot_unix),
    )
}

/// A start time as Junos writes it, `2026-11-25 09:14:56 UTC`.
fn start_text(unix: u64) -> String {
    let at = i64::try_from(unix).ok().and_then(|s| jiff::Timestamp::from_second(s).ok()).unwrap_or_default();
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `get-route-engine-information`: one `route-engine` per routing engine (the backup listed
/// first on a dual box, as real ones often do), or one wrapped item per virtual-chassis member.
fn route_engines(state: &LabDevice, now: u64) -> String {
    let open = format!("<route-engine-information xmlns=\"{JUNOS_NS}-chassis\">");
    match state.layout {
        Engines::Single => format!("{open}{}</route-engine-information>", route_engine(state.master(), "master", now)),
        Engines::Dual => {
            let mut out = open;
            for engine in state.engines.iter().rev() {
                out.push_str(&route_engine(engine, if engine.slot == 0 { "master" } else { "backup" }, now));
            }
            out.push_str("</route-engine-information>");
            out
        }
        Engines::VirtualChassis(_) => wrapped(&state.engines, |e| {
            let role = match e.slot {
                0 => "master",
                1 => "backup",
                _ => "linecard",
            };
            format!("{open}{}</route-engine-information>", route_engine(e, role, now))
        }),
    }
}

fn alarms(state: &LabDevice, failing: bool) -> String {
    let one = |_: &LabEngine| {
        if failing {
            return "<alarm-information><alarm-summary><active-alarm-count>1</active-alarm-count></alarm-summary><alarm-detail>\
<alarm-class>Major</alarm-class><alarm-description>FPC 0 Major Errors</alarm-description>\
<alarm-short-description>fpc-err</alarm-short-description><alarm-type>Chassis</alarm-type></alarm-detail></alarm-information>"
                .to_string();
        }
        "<alarm-information><alarm-summary><no-active-alarms/></alarm-summary></alarm-information>".to_string()
    };
    match state.layout {
        Engines::Single => one(state.master()),
        _ => wrapped(&state.engines, one),
    }
}

/// Interfaces with cumulative error counters: one `et-` port per fabric link (a few old errors
/// each), one `xe-` member and its `ae` bundle per server LAG, and the management port `me0`
/// with many errors that no fabric check should read. When health checks are made to fail, the
/// first fabric port's errors grow by 20 a second.
fn interfaces(lab: &Lab, state: &LabDevice, failing: bool, now: u64) -> String {
    let links = lab.neighbours.get(&state.name).map_or(0, Vec::len);
    let lags = lab.server_lags.get(&state.name).cloned().unwrap_or_default();
    let mut ports: Vec<(String, bool, u64)> = Vec::new();
    // The configuration in effect, worked out once for every port.
    let effective = state.effective();
    let disabled = |name: &str| effective.contains(&crate::maintenance::disable_statement(name));
    let in_maintenance = crate::maintenance::is_on(effective.iter().map(String::as_str));
    for i in 0..links {
        let growing = if failing && i == 0 { 20 * now.saturating_sub(state.master().boot_unix) } else { 0 };
        ports.push((format!("et-0/0/{}", 48 + i), false, 7 + growing));
    }
    for (i, lag) in lags.iter().enumerate() {
        ports.push((format!("xe-0/0/{i}"), false, 0));
        ports.push((lag.clone(), disabled(lag), 0));
    }
    ports.push(("me0".to_string(), false, 4711));
    let mut out = format!(
        "<interface-information xmlns=\"{JUNOS_NS}-interface\" junos:style=\"normal\" xmlns:junos=\"{JUNOS_NS}\">"
    );
    for (name, disabled, errors) in ports {
        let status = if disabled { "down" } else { "up" };
        let speed = if name.starts_with("et-") {
            "100Gbps"
        } else if name.starts_with("xe-") {
            "10Gbps"
        } else {
            "1000mbps"
        };
        let mtu = if name.starts_with("me") { 1514 } else { 9216 };
        let mac = super::ops::mac(&format!("{}/{name}", state.name));
        // In service a port carries its share of the fabric's traffic; once maintenance mode
        // has moved the traffic away (unless a `drain-ineffective` fault keeps it), only
        // control traffic. A disabled port carries nothing.
        let drained =
            in_maintenance && lab.fault(&state.name, FaultPhase::Maintenance) != Some(FaultKind::DrainIneffective);
        let bps: u64 = match (disabled, drained, name.starts_with("et-"), name.starts_with("xe-")) {
            (true, ..) => 0,
            (false, true, true, _) | (false, true, _, true) => 24_000,
            (false, false, true, _) => 5_000_000_000,
            (false, false, _, true) => 2_000_000_000,
            _ => 100_000,
        };
        let _ = write!(
            out,
            "<physical-interface><name>\n{name}\n</name><admin-status junos:format=\"Enabled\">{status}</admin-status><oper-status>{status}</oper-status>\
<if-type>Ethernet</if-type><mtu>{mtu}</mtu><speed>{speed}</speed><current-physical-address>{mac}</current-physical-address><hardware-physical-address>{mac}</hardware-physical-address>\
<input-error-list><input-errors>{errors}</input-errors><input-drops>0</input-drops><framing-errors>0</framing-errors></input-error-list>\
<output-error-list><carrier-transitions>1</carrier-transitions><output-errors>0</output-errors><output-drops>0</output-drops></output-error-list>\
<traffic-statistics junos:style=\"brief\"><input-bps>{bps}</input-bps><output-bps>{bps}</output-bps></traffic-statistics></physical-interface>"
        );
    }
    out.push_str("</interface-information>");
    out
}

/// `get-system-storage` in 512-byte blocks with `junos:format`, per engine: the root, and `/var`
/// (which holds `/var/tmp`) on its own partition.
fn storage(state: &LabDevice) -> String {
    let filesystem = |name: &str, mount: &str, total: u64, used: u64| {
        let available = total - used;
        let human = |blocks: u64| format!("{:.1}G", blocks as f64 * 512.0 / 1e9);
        format!(
            "<filesystem><filesystem-name>{name}</filesystem-name><total-blocks junos:format=\"{}\">{total}</total-blocks>\
<used-blocks junos:format=\"{}\">{used}</used-blocks><available-blocks junos:format=\"{}\">{available}</available-blocks>\
<used-percent>{}</used-percent><mounted-on>{mount}</mounted-on></filesystem>",
            human(total),
            human(used),
            human(available),
            used * 100 / total
        )
    };
    let one = |_: &LabEngine| {
        format!(
            "<system-storage-information xmlns:junos=\"{JUNOS_NS}\">{}{}{}</system-storage-information>",
            filesystem("/dev/gpt/junos", "/", 2_621_440, 2_200_000),
            filesystem("/dev/gpt/var", "/var", 41_943_040, 4_194_304),
            filesystem("tmpfs", "/tmp", 1_048_576, 8_192),
        )
    };
    match state.layout {
        Engines::Single => one(state.master()),
        _ => wrapped(&state.engines, one),
    }
}

/// The real reply: pending or not, never which version.
fn pending(state: &LabDevice) -> String {
    if state.master().pending.is_some() {
        return "<output>There is already an install pending.\nUse the 'request system reboot' command to complete the install,\nor the 'request system software rollback' command to back it out.\n</output><package-result>1</package-result>".into();
    }
    "<output>\n</output><package-result>0</package-result>".into()
}

/// The most `file-copy` reads into a device's memory.
const COPY_MAX_BYTES: u64 = 16 << 30;

/// `file-copy` from a `file://` source under the lab's copy directory ([`Lab::copy_from`]):
/// a regular file, its real path (symbolic links followed) inside that directory. Anything else
/// (`/etc/passwd`, `/dev/zero`, a link out of the directory) is an `<rpc-error>`, nothing read.
fn file_copy(lab: &Lab, state: &mut LabDevice, request: &Element, now: u64) -> String {
    let source = request.text_of("source").unwrap_or_default();
    let destination = request.text_of("destination").unwrap_or_default().to_string();
    let Some(path) = source.strip_prefix("file://") else {
        return rpc_error("operation-failed", &format!("the lab copies only file:// sources, not {source}"), None);
    };
    let refused = |why: &str| rpc_error("operation-failed", &format!("could not copy {source}: {why}"), Some("source"));
    let Some(root) = lab.copy_from.as_ref().and_then(|r| r.canonicalize().ok()) else {
        return refused("this lab copies from no host directory");
    };
    let real = match std::path::Path::new(path).canonicalize() {
        Ok(real) => real,
        Err(e) => return rpc_error("operation-failed", &format!("could not open {source}: {e}"), None),
    };
    if !real.starts_with(&root) {
        return refused(&format!("outside the lab's copy directory {}", root.display()));
    }
    match std::fs::metadata(&real) {
        Ok(meta) if meta.is_file() && meta.len() <= COPY_MAX_BYTES => {}
        Ok(meta) if meta.is_file() => return refused(&format!("larger than {COPY_MAX_BYTES} bytes")),
        Ok(_) => return refused("not a regular file"),
        Err(e) => return rpc_error("operation-failed", &format!("could not open {source}: {e}"), None),
    }
    let bytes = match std::fs::read(&real) {
        Ok(bytes) => bytes,
        Err(e) => return rpc_error("operation-failed", &format!("could not open {source}: {e}"), None),
    };
    let mut hasher = super::device::LabFile::hasher();
    hasher.update(&bytes);
    state.files.insert(destination, hasher.finish(now));
    "<ok/>".into()
}

/// `get-checksum-information` (MD5), `get-sha1-checksum-information`,
/// `get-sha256-checksum-information`.
fn checksum(lab: &Lab, state: &LabDevice, request: &Element) -> String {
    let path = request.text_of("path").unwrap_or_default();
    let Some(file) = state.files.get(path) else {
        return rpc_error("operation-failed", &format!("Could not open {path}: No such file or directory"), None);
    };
    let (method, sum) = match request.name.as_str() {
        "get-sha1-checksum-information" => ("SHA1", file.sha1.clone()),
        "get-sha256-checksum-information" => ("SHA256", file.sha256.clone()),
        _ => ("MD5", file.md5.clone()),
    };
    let sum = if lab.fault(&state.name, FaultPhase::ImageCopy) == Some(FaultKind::ChecksumMismatch) {
        "0".repeat(sum.len())
    } else {
        sum
    };
    format!(
        "<checksum-information><file-checksum><computation-method>{method}</computation-method><input-file>{}</input-file><checksum>{sum}</checksum></file-checksum></checksum-information>",
        escape(path)
    )
}

/// The version a Junos package file name carries (`...-21.4R3-S5.4-secure-signed.tgz`).
pub fn version_in_package_name(name: &str) -> Option<String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let tokens: Vec<&str> = base.trim_end_matches(".tgz").split('-').collect();
    for i in 0..tokens.len() {
        for take in [2, 1] {
            if i + take <= tokens.len()
                && let Ok(version) = Version::parse(&tokens[i..i + take].join("-"))
            {
                return Some(version.to_string());
            }
        }
    }
    None
}

/// The engines a `request-package-add` or `request-reboot` addresses: `<re0/>`, `<re1/>`,
/// `<member>N</member>`; without one, the engine that answers (the master) on a dual box and
/// every member of a virtual chassis.
fn addressed(state: &LabDevice, request: &Element) -> Vec<u32> {
    let mut slots: Vec<u32> = request
        .children
        .iter()
        .filter_map(|c| match c.name.as_str() {
            "re0" => Some(0),
            "re1" => Some(1),
            "member" => c.text.trim().parse().ok(),
            _ => None,
        })
        .filter(|slot| state.engines.iter().any(|e| e.slot == *slot))
        .collect();
    if slots.is_empty() {
        slots = match state.layout {
            Engines::VirtualChassis(_) => state.engines.iter().map(|e| e.slot).collect(),
            Engines::Single | Engines::Dual => vec![0],
        };
    }
    slots
}

/// `request system software rollback` on the addressed engines: an install pending there is
/// backed out; otherwise the software the engine ran before its last reboot becomes pending.
/// (No reply to this RPC was recorded from a real device: the wording is the lab's, in the
/// `<output>` shape of the other package RPCs, with `ERROR:` on failure.)
fn package_rollback(lab: &Lab, state: &mut LabDevice, request: &Element) -> String {
    let slots = addressed(state, request);
    let engines: Vec<&LabEngine> = state.engines.iter().filter(|e| slots.contains(&e.slot)).collect();
    if engines.iter().any(|e| e.pending.is_none() && e.previous.is_none()) {
        return "<output>ERROR: There is no previous software package to roll back to</output><package-result>1</package-result>".into();
    }
    if lab.fault(&state.name, FaultPhase::Rollback) == Some(FaultKind::RollbackFails) {
        return failed_rollback(state, &slots);
    }
    let mut lines = Vec::new();
    for slot in slots {
        let engine = state.engines.iter_mut().find(|e| e.slot == slot).expect("addressed engines exist");
        if let Some(pending) = engine.pending.take() {
            lines.push(format!("{}: the pending install of {pending} was removed", engine.name));
        } else if let Some(previous) = engine.previous.take() {
            lines.push(format!("{}: rollback to {previous} will take effect at the next reboot", engine.name));
            engine.pending = Some(previous);
            state.rollback_pending = true;
        }
    }
    format!("<output>{}</output><package-result>0</package-result>", escape(&lines.join("\n")))
}

/// A rollback that does not happen, in the shapes real devices answer with (nothing changes):
/// one engine warns "Cannot rollback" without a result; several answer one
/// `multi-routing-engine-item` each, the last with `ERROR: ... rollback aborted` and result 1.
fn failed_rollback(state: &LabDevice, slots: &[u32]) -> String {
    if slots.len() == 1 && !matches!(state.layout, Engines::VirtualChassis(_)) {
        return "<output>WARNING: Cannot rollback, /packages/junos.old is not valid</output>".into();
    }
    let last = slots.last().copied();
    let mut items = String::new();
    for slot in slots {
        let name =
            state.engines.iter().find(|e| e.slot == *slot).map_or_else(|| format!("fpc{slot}"), |e| e.name.clone());
        let (output, result) = if Some(*slot) == last {
            (format!("ERROR: cannot locate the previous package on {name}: rollback aborted"), 1)
        } else {
            (format!("Rolling back to the previous package on {name} ..."), 0)
        };
        items.push_str(&format!(
            "<multi-routing-engine-item><re-name>{name}</re-name><output>{}</output><package-result>{result}</package-result></multi-routing-engine-item>",
            escape(&output)
        ));
    }
    format!("<multi-routing-engine-results>{items}</multi-routing-engine-results>")
}

/// Install replies vary as real ones do: some devices send one `output` and `package-result`,
/// some several `output`s, some no `package-result` at all.
fn reply_style(name: &str) -> u8 {
    (name.bytes().map(u32::from).sum::<u32>() % 3) as u8
}

fn package_add(lab: &Lab, state: &mut LabDevice, request: &Element) -> String {
    let package = request.text_of("package-name").unwrap_or_default().to_string();
    let style = reply_style(&state.name);
    let failure = |text: &str| {
        let text = escape(text);
        if style == 2 {
            format!("<output>{text}</output>")
        } else {
            format!("<output>{text}</output><package-result>1</package-result>")
        }
    };
    let slots = addressed(state, request);
    if slots.iter().any(|slot| state.engines[*slot as usize].pending.is_some()) {
        return "<output>There is already an install pending.\nUse the 'request system reboot' command to complete the install,\nor the 'request system software rollback' command to back it out.\n</output><package-result>1</package-result>".into();
    }
    if lab.fault(&state.name, FaultPhase::Install) == Some(FaultKind::InstallFails) {
        return failure("Installing package ...\nERROR: package validation failed: insufficient space in /var");
    }
    if !state.files.contains_key(&package) {
        return failure(&format!("ERROR: {package} is not found"));
    }
    let Some(version) = version_in_package_name(&package) else {
        return failure(&format!("ERROR: cannot read the package version from {package}"));
    };
    for slot in &slots {
        let engine = &mut state.engines[*slot as usize];
        engine.pending = Some(version.clone());
        engine.installs += 1;
    }
    let package = escape(&package);
    let first = format!(
        "Installing package '{package}' ...\nVerified {package} signed by PackageProductionEc_2022 method ECDSA256+SHA256"
    );
    let second = "WARNING: A reboot is required to load this software correctly\nWARNING:     Use the 'request system reboot' command\nWARNING:         when software installation is complete\nSaving state for rollback ...";
    match style {
        0 => format!("<output>{first}\n{second}</output><package-result>0</package-result>"),
        1 => format!("<output>{first}</output><output>{second}</output><package-result>0</package-result>"),
        _ => format!("<output>{first}</output><output>{second}</output>"),
    }
}

/// A reboot: the addressed engines go down (`<both-routing-engines/>` or `<all-members/>` for
/// all of them; otherwise the master on a dual box, every member of a virtual chassis) and the
/// device answers nothing until they are back.
fn reboot(lab: &Lab, state: &mut LabDevice, request: &Element, now: u64) -> Reply {
    let role = lab.roles.get(&state.name).copied().unwrap_or(crate::model::Role::Leaf);
    let mut seconds = u64::from(lab.timing.phases(role).reboot_seconds);
    match lab.fault(&state.name, FaultPhase::Reboot) {
        Some(FaultKind::NeverReturns) => state.dead = true,
        Some(FaultKind::Slow) => seconds *= 3,
        _ => {}
    }
    let everything = request.child("both-routing-engines").is_some() || request.child("all-members").is_some();
    let slots = if everything { state.engines.iter().map(|e| e.slot).collect() } else { addressed(state, request) };
    state.reboot(slots, now, seconds);
    let body = format!(
        "<request-reboot-results><request-reboot-status reboot-time=\"{now}\">Shutdown NOW!\n[pid 17221]</request-reboot-status></request-reboot-results>"
    );
    Reply { body, close: true, ..Reply::ok(String::new()) }
}

/// BGP peers: the device's fabric neighbours, Established while they answer. A peer's
/// `flap-count` is a lifetime counter: the times the peer went down since this device booted.
/// The summary's own `bgp-rib` entries count the routes the Established peers bring (4 in
/// `inet.0` and 12 in `bgp.evpn.0` each). With a `bgp-peer-lost` fault, the new image has lost
/// the first peer's configuration: it is not listed at all.
fn bgp_summary(lab: &Lab, state: &LabDevice, up: &[(String, bool, Vec<u64>)]) -> String {
    let mut peers: Vec<(usize, String)> =
        lab.neighbours.get(&state.name).cloned().unwrap_or_default().into_iter().enumerate().collect();
    if state.upgrades > state.rollbacks && lab.fault(&state.name, FaultPhase::PostCheck) == Some(FaultKind::BgpPeerLost)
    {
        peers.retain(|(index, _)| *index != 0);
    }
    let find = |name: &str| up.iter().find(|(n, _, _)| n == name);
    let is_up = |name: &str| find(name).is_some_and(|p| p.1);
    let since = state.master().boot_unix;
    let down = peers.iter().filter(|(_, p)| !is_up(p)).count();
    let established = (peers.len() - down) as u64;
    let mut out = format!(
        "<bgp-information xmlns=\"{JUNOS_NS}-routing\"><bgp-thread-mode>BGP I/O</bgp-thread-mode><group-count>1</group-count><peer-count>{}</peer-count><down-peer-count>{down}</down-peer-count>",
        peers.len()
    );
    for (table, per_peer) in [("inet.0", 4), ("bgp.evpn.0", 12)] {
        let count = per_peer * established;
        let _ = write!(
            out,
            "<bgp-rib junos:style=\"brief\" xmlns:junos=\"{JUNOS_NS}\"><name>{table}</name><total-prefix-count>{count}</total-prefix-count><received-prefix-count>{count}</received-prefix-count><accepted-prefix-count>{count}</accepted-prefix-count><active-prefix-count>{count}</active-prefix-count><suppressed-prefix-count>0</suppressed-prefix-count><history-prefix-count>0</history-prefix-count><damped-prefix-count>0</damped-prefix-count><pending-prefix-count>0</pending-prefix-count><bgp-rib-state>BGP restart is complete</bgp-rib-state></bgp-rib>"
        );
    }
    for (index, peer) in &peers {
        let established = is_up(peer);
        let flaps = find(peer).map_or(0, |p| p.2.iter().filter(|t| **t > since).count());
        let _ = write!(
            out,
            "<bgp-peer junos:style=\"terse\" xmlns:junos=\"{JUNOS_NS}\"><peer-address>10.0.{}.{}</peer-address><peer-as>{}</peer-as><description>{}</description><flap-count>{flaps}</flap-count><peer-state junos:format=\"{}\">{}</peer-state></bgp-peer>",
            index / 250,
            index % 250 + 1,
            65000 + index,
            escape(peer),
            if established { "Establ" } else { "Active" },
            if established { "Established" } else { "Active" }
        );
    }
    out.push_str("</bgp-information>");
    out
}

fn lacp(lab: &Lab, state: &LabDevice) -> String {
    let mut out = format!("<lacp-interface-information-list xmlns=\"{JUNOS_NS}-lacpd\">");
    let effective = state.effective();
    for (i, lag) in lab.server_lags.get(&state.name).into_iter().flatten().enumerate() {
        if effective.contains(&crate::maintenance::disable_statement(lag)) {
            continue; // A disabled bundle has no LACP state to show.
        }
        let _ = write!(
            out,
            "<lacp-interface-information><lag-lacp-header><aggregate-name>{lag}</aggregate-name></lag-lacp-header>\
<lag-lacp-protocol><name>xe-0/0/{i}</name><lacp-receive-state>Current</lacp-receive-state>\
<lacp-transmit-state>Fast periodic</lacp-transmit-state><lacp-mux-state>Collecting distributing</lacp-mux-state></lag-lacp-protocol>\
</lacp-interface-information>"
        );
    }
    out.push_str("</lacp-interface-information-list>");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_come_out_of_junos_package_names() {
        let cases = [
            ("/var/tmp/jinstall-host-qfx-5e-x86-64-21.4R3-S5.4-secure-signed.tgz", Some("21.4R3-S5.4")),
            ("junos-qfx-18.4R2.tgz", Some("18.4R2")),
            ("/var/tmp/notes.txt", None),
        ];
        for (name, expected) in cases {
            assert_eq!(super::version_in_package_name(name).as_deref(), expected, "{name}");
        }
    }
}
