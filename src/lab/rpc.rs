//! The RPCs an emulated device answers, with Junos's reply shapes.

use std::fmt::Write;

use super::Lab;
use super::device::LabDevice;
use crate::faults::{FaultKind, FaultPhase};
use crate::netconf::xml::{Element, escape, leaf};
use crate::version::Version;

/// What to send back, and whether the session ends after it.
pub struct Reply {
    /// The content of `<rpc-reply>`.
    pub body: String,
    /// True after `<close-session/>` or `<request-reboot>`.
    pub close: bool,
    /// True when the connection drops before the reply is sent (the `ssh-drop` fault).
    pub drop: bool,
    /// How long the device works before it answers (an install takes minutes).
    pub delay: std::time::Duration,
}

impl Reply {
    fn ok(body: String) -> Reply {
        Reply { body, close: false, drop: false, delay: std::time::Duration::ZERO }
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
    let Some(state) = devices.get_mut(device) else {
        return Reply::ok(rpc_error("operation-failed", &format!("no device {device} in this lab"), None));
    };
    state.settle(now);
    let name = request.name.as_str();
    match name {
        "close-session" => Reply { body: "<ok/>".into(), close: true, ..Reply::ok(String::new()) },
        "get-software-information" => Reply::ok(software(state)),
        "get-route-engine-information" => Reply::ok(route_engine(state, now)),
        "get-alarm-information" => {
            Reply::ok(alarms(lab.fault(device, phase_of(state)) == Some(FaultKind::HealthCheckFails)))
        }
        "get-system-storage" => Reply::ok(storage()),
        "get-interface-information" => {
            let failing = lab.fault(device, phase_of(state)) == Some(FaultKind::HealthCheckFails);
            Reply::ok(interfaces(lab, state, failing))
        }
        "request-package-checks-pending-install" => Reply::ok(pending(state)),
        "get-configuration" => Reply::ok(configuration(state)),
        "lock-configuration" | "lock" => Reply::ok(lock(lab, state, session)),
        "unlock-configuration" | "unlock" => Reply::ok(unlock(state, session)),
        "load-configuration" => Reply::ok(load(state, session, request)),
        "commit-configuration" => Reply::ok(commit(state, session, request, now)),
        "file-copy" => Reply::ok(file_copy(state, request)),
        "get-checksum-information" => Reply::ok(checksum(lab, state, request)),
        "request-package-add" => {
            let body = package_add(lab, state, request);
            // The install completes on the device; only the session carrying the reply dies.
            let drop = lab.fault(device, FaultPhase::Install) == Some(FaultKind::SshDrop)
                && state.fired.insert("ssh-drop:install".into());
            let role = lab.roles.get(device).copied().unwrap_or(crate::model::Role::Leaf);
            let seconds = lab.timing.phases(role).install_seconds;
            Reply { body, close: drop, drop, delay: lab.real(seconds) }
        }
        "request-reboot" => reboot(lab, state, now),
        "get-bgp-summary-information" | "get-lacp-interface-information" => {
            let snapshot: Vec<(String, bool)> = devices.iter().map(|(n, d)| (n.clone(), d.is_up(now))).collect();
            let state = devices.get(device).expect("looked up above");
            let body = if name == "get-bgp-summary-information" {
                bgp_summary(lab, state, &snapshot)
            } else {
                lacp(lab, state)
            };
            Reply::ok(body)
        }
        other => Reply::ok(rpc_error("operation-failed", "syntax error", Some(other))),
    }
}

fn phase_of(state: &LabDevice) -> FaultPhase {
    if state.upgrades > 0 || state.pending_install.is_some() { FaultPhase::PostCheck } else { FaultPhase::HealthCheck }
}

fn software(state: &LabDevice) -> String {
    let mut out = String::from("<software-information>");
    leaf(&mut out, "host-name", &state.name);
    leaf(&mut out, "product-model", &state.model);
    leaf(&mut out, "product-name", &state.model);
    out.push_str("<jsr/>");
    leaf(&mut out, "junos-version", &state.version);
    out.push_str("<package-information><name>junos</name>");
    leaf(&mut out, "comment", format!("JUNOS Software Release [{}]", state.version));
    out.push_str("</package-information></software-information>");
    out
}

fn route_engine(state: &LabDevice, now: u64) -> String {
    format!(
        "<route-engine-information xmlns=\"{JUNOS_NS}-chassis\"><route-engine><slot>0</slot><mastership-state>master</mastership-state>\
<status>OK</status><model>QFX Routing Engine</model><cpu-idle>85</cpu-idle>\
<start-time junos:seconds=\"{}\" xmlns:junos=\"{JUNOS_NS}\">{}</start-time><up-time junos:seconds=\"{}\" xmlns:junos=\"{JUNOS_NS}\">{} seconds</up-time>\
<last-reboot-reason>Router rebooted after a normal shutdown.</last-reboot-reason></route-engine></route-engine-information>",
        state.boot_unix,
        state.boot_unix,
        now.saturating_sub(state.boot_unix),
        now.saturating_sub(state.boot_unix)
    )
}

fn alarms(failing: bool) -> String {
    if failing {
        return "<alarm-information><alarm-summary><active-alarm-count>1</active-alarm-count></alarm-summary><alarm-detail>\
<alarm-class>Major</alarm-class><alarm-description>FPC 0 Major Errors</alarm-description>\
<alarm-short-description>fpc-err</alarm-short-description><alarm-type>Chassis</alarm-type></alarm-detail></alarm-information>"
            .into();
    }
    "<alarm-information><alarm-summary><no-active-alarms/></alarm-summary></alarm-information>".into()
}

/// One physical interface per fabric link and per server LAG, with error counters (150 input
/// errors on the first when health checks are made to fail).
fn interfaces(lab: &Lab, state: &LabDevice, failing: bool) -> String {
    let links = lab.neighbours.get(&state.name).map_or(0, Vec::len);
    let lags = lab.server_lags.get(&state.name).cloned().unwrap_or_default();
    let mut names: Vec<String> = (0..links).map(|i| format!("et-0/0/{}", 48 + i)).collect();
    names.extend(lags);
    let mut out = format!("<interface-information xmlns=\"{JUNOS_NS}-interface\">");
    for (index, name) in names.iter().enumerate() {
        let disabled = state.is_disabled(name);
        let errors = if failing && index == 0 { 150 } else { 0 };
        let _ = write!(
            out,
            "<physical-interface><name>{name}</name><admin-status>{}</admin-status><oper-status>{}</oper-status>\
<input-error-list><input-errors>{errors}</input-errors><input-drops>0</input-drops></input-error-list>\
<output-error-list><output-errors>0</output-errors><carrier-transitions>1</carrier-transitions></output-error-list></physical-interface>",
            if disabled { "down" } else { "up" },
            if disabled { "down" } else { "up" }
        );
    }
    out.push_str("</interface-information>");
    out
}

fn storage() -> String {
    "<system-storage-information><filesystem><filesystem-name>/dev/gpt/var</filesystem-name><total-blocks>41943040</total-blocks>\
<used-blocks>4194304</used-blocks><available-blocks>37748736</available-blocks><used-percent>10</used-percent>\
<mounted-on>/var</mounted-on></filesystem></system-storage-information>"
        .into()
}

fn pending(state: &LabDevice) -> String {
    match &state.pending_install {
        Some(version) => format!(
            "<output>There is already an install pending.\nJUNOS {} will become active at next reboot\n</output><package-result>1</package-result>",
            escape(version)
        ),
        None => "<output>\n</output><package-result>0</package-result>".into(),
    }
}

fn configuration(state: &LabDevice) -> String {
    let lines: Vec<String> = state.committed.iter().map(|l| format!("set {l}")).collect();
    format!("<configuration-set>{}</configuration-set>", escape(&lines.join("\n")))
}

fn lock(lab: &Lab, state: &mut LabDevice, session: u64) -> String {
    if lab.fault(&state.name, FaultPhase::Maintenance) == Some(FaultKind::LockHeld) {
        return rpc_error(
            "lock-denied",
            "configuration database locked by: netops terminal p0 (pid 4242) on since 2026-11-25 09:14:56 UTC",
            None,
        );
    }
    match state.lock {
        Some(holder) if holder != session => {
            rpc_error("lock-denied", &format!("configuration database locked by session {holder}"), None)
        }
        _ => {
            state.lock = Some(session);
            "<ok/>".into()
        }
    }
}

fn unlock(state: &mut LabDevice, session: u64) -> String {
    if state.lock == Some(session) {
        state.lock = None;
        state.candidate = None;
    }
    "<ok/>".into()
}

fn load(state: &mut LabDevice, session: u64, request: &Element) -> String {
    if state.lock != Some(session) {
        return rpc_error("operation-failed", "configuration database is not locked by this session", None);
    }
    let text = request.text_of("configuration-set").unwrap_or_default().to_string();
    let candidate = state.candidate.get_or_insert_with(|| state.committed.clone());
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("set ") {
            candidate.insert(rest.to_string());
        } else if let Some(rest) = line.strip_prefix("delete ") {
            candidate.retain(|l| l != rest && !l.starts_with(&format!("{rest} ")));
        } else {
            let error = rpc_error("operation-failed", &format!("syntax error: {line}"), Some(line));
            return format!("<load-configuration-results>{error}</load-configuration-results>");
        }
    }
    "<load-configuration-results><ok/></load-configuration-results>".into()
}

fn commit(state: &mut LabDevice, session: u64, request: &Element, now: u64) -> String {
    if state.lock != Some(session) {
        return rpc_error("operation-failed", "configuration database is not locked by this session", None);
    }
    let success = if request.child("check").is_some() { "<commit-check-success/>" } else { "<commit-success/>" };
    if request.child("check").is_none() {
        let previous = state.committed.clone();
        if let Some(candidate) = state.candidate.clone() {
            state.committed = candidate;
        }
        if request.child("confirmed").is_some() {
            let minutes: u64 = request.text_of("confirm-timeout").and_then(|m| m.parse().ok()).unwrap_or(10);
            state.confirm = Some((now + minutes * 60, previous));
        } else {
            state.confirm = None;
        }
    }
    format!("<commit-results><routing-engine><name>fpc0</name>{success}</routing-engine></commit-results>")
}

fn file_copy(state: &mut LabDevice, request: &Element) -> String {
    let source = request.text_of("source").unwrap_or_default();
    let destination = request.text_of("destination").unwrap_or_default().to_string();
    let Some(path) = source.strip_prefix("file://") else {
        return rpc_error("operation-failed", &format!("the lab copies only file:// sources, not {source}"), None);
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return rpc_error("operation-failed", &format!("could not open {source}: {e}"), None),
    };
    use md5::{Digest, Md5};
    let md5 = crate::util::hex(&Md5::digest(&bytes));
    state.files.insert(destination, (bytes.len() as u64, md5, path.to_string()));
    "<ok/>".into()
}

fn checksum(lab: &Lab, state: &LabDevice, request: &Element) -> String {
    let path = request.text_of("path").unwrap_or_default();
    let Some((_, md5, _)) = state.files.get(path) else {
        return rpc_error("operation-failed", &format!("Could not open {path}: No such file or directory"), None);
    };
    let md5 = if lab.fault(&state.name, FaultPhase::ImageCopy) == Some(FaultKind::ChecksumMismatch) {
        "0".repeat(32)
    } else {
        md5.clone()
    };
    format!(
        "<checksum-information><file-checksum><computation-method>MD5</computation-method><input-file>{}</input-file><checksum>{md5}</checksum></file-checksum></checksum-information>",
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

fn package_add(lab: &Lab, state: &mut LabDevice, request: &Element) -> String {
    let package = request.text_of("package-name").unwrap_or_default().to_string();
    let failure = |text: &str| format!("<output>{}</output><package-result>1</package-result>", escape(text));
    if lab.fault(&state.name, FaultPhase::Install) == Some(FaultKind::InstallFails) {
        return failure("ERROR: package validation failed: insufficient space in /var");
    }
    if !state.files.contains_key(&package) {
        return failure(&format!("ERROR: {package} is not found"));
    }
    let Some(version) = version_in_package_name(&package) else {
        return failure(&format!("ERROR: cannot read the package version from {package}"));
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<output>Installing package '{}' ...\nJUNOS {} will become active at next reboot\nWARNING: A reboot is required to load this software correctly\n</output><package-result>0</package-result>",
        escape(&package),
        escape(&version)
    );
    state.pending_install = Some(version);
    out
}

fn reboot(lab: &Lab, state: &mut LabDevice, now: u64) -> Reply {
    let role = lab.roles.get(&state.name).copied().unwrap_or(crate::model::Role::Leaf);
    let mut seconds = u64::from(lab.timing.phases(role).reboot_seconds);
    match lab.fault(&state.name, FaultPhase::Reboot) {
        Some(FaultKind::NeverReturns) => state.dead = true,
        Some(FaultKind::Slow) => seconds *= 3,
        _ => {}
    }
    state.down_until = Some(now + seconds.max(1));
    state.lock = None;
    state.candidate = None;
    let body = format!(
        "<request-reboot-results><request-reboot-status reboot-time=\"{now}\">Shutdown NOW!\n[pid 17221]</request-reboot-status></request-reboot-results>"
    );
    Reply { body, close: true, ..Reply::ok(String::new()) }
}

fn bgp_summary(lab: &Lab, state: &LabDevice, up: &[(String, bool)]) -> String {
    let peers = lab.neighbours.get(&state.name).cloned().unwrap_or_default();
    let is_up = |name: &str| up.iter().any(|(n, u)| n == name && *u);
    let down = peers.iter().filter(|p| !is_up(p)).count();
    let mut out = format!(
        "<bgp-information xmlns=\"{JUNOS_NS}-routing\"><group-count>1</group-count><peer-count>{}</peer-count><down-peer-count>{down}</down-peer-count>",
        peers.len()
    );
    for (index, peer) in peers.iter().enumerate() {
        let established = is_up(peer);
        let _ = write!(
            out,
            "<bgp-peer><peer-address>10.0.{}.{}</peer-address><description>{}</description><flap-count>{}</flap-count><peer-state>{}</peer-state></bgp-peer>",
            index / 250,
            index % 250 + 1,
            escape(peer),
            u32::from(!established),
            if established { "Established" } else { "Active" }
        );
    }
    out.push_str("</bgp-information>");
    out
}

fn lacp(lab: &Lab, state: &LabDevice) -> String {
    let mut out = format!("<lacp-interface-information-list xmlns=\"{JUNOS_NS}-lacpd\">");
    for lag in lab.server_lags.get(&state.name).into_iter().flatten() {
        if state.is_disabled(lag) {
            continue; // A disabled bundle has no LACP state to show.
        }
        let _ = write!(
            out,
            "<lacp-interface-information><lag-lacp-header><aggregate-name>{lag}</aggregate-name></lag-lacp-header>\
<lag-lacp-protocol><name>xe-0/0/{}</name><lacp-receive-state>Current</lacp-receive-state>\
<lacp-transmit-state>Fast periodic</lacp-transmit-state><lacp-mux-state>Collecting distributing</lacp-mux-state></lag-lacp-protocol>\
</lacp-interface-information>",
            lag.trim_start_matches("ae")
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
