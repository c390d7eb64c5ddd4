//! The lab's EOS personality: an emulated Arista switch answering eAPI's `runCmds`
//! (`shared/reference/arista-eos.md`) with the reply and error shapes of real EOS, over the same
//! model of the fabric as the Junos devices ([`super::Lab`]): its BGP peers go down while their
//! switches reload, maintenance mode (`maintenance` / `unit System` / `quiesce`) drains its
//! ports, `boot system` takes effect at the next `reload`, and a reload proves itself by a new
//! `bootupTimestamp`.
//!
//! What it keeps beside the device's common state ([`LabDevice`]): the running and startup
//! configurations as mode trees, the boot-config's image, and pending configuration sessions.
//! Files (`flash:`) are the device's `files` under `/mnt/flash/`, written by SCP as on a real
//! switch.
//!
//! Commands run in order and stop at the first that fails (code 1002, with EOS's words); a
//! command without a JSON model asked for as JSON fails with 1003; `format: text` answers
//! `{"output": ...}`. Configuration mode lasts for the request, a named session until it is
//! committed or aborted.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::device::LabDevice;
use super::{Lab, ops};
use crate::faults::{FaultKind, FaultPhase};

/// Where `flash:` is on the device's filesystem.
pub const FLASH: &str = "/mnt/flash/";

/// Bytes of the emulated flash.
const FLASH_TOTAL: u64 = 3_957_878_784;
const FLASH_USED_BY_SYSTEM: u64 = 1_100_000_000;

/// One line of configuration and the lines of the mode it opens.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// The line as entered (`interface Ethernet1`, `description to spine1`).
    pub line: String,
    /// The lines of its mode.
    pub children: Vec<Node>,
}

/// A configuration: the top-level lines and their modes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EosConfig {
    /// Top-level lines.
    pub root: Vec<Node>,
}

/// Lines that open a mode at the top level.
const TOP_MODES: &[&str] = &[
    "interface ",
    "maintenance",
    "router bgp ",
    "vlan ",
    "mlag configuration",
    "management api ",
    "vrf instance ",
    "ip access-list ",
    "route-map ",
    "daemon ",
    "management ssh",
];

/// Lines that open a mode inside the mode `parent` opened.
fn opens_mode(parent: &str, line: &str) -> bool {
    (parent == "maintenance" && line.starts_with("unit "))
        || (parent.starts_with("router bgp ") && (line.starts_with("address-family ") || line.starts_with("vrf ")))
        || (parent.starts_with("management api ") && line.starts_with("vrf "))
}

/// Statements of which a mode holds one: a new one replaces the old (by these leading words).
const SINGLE: &[&str] = &[
    "hostname",
    "description",
    "mtu",
    "ip address",
    "name",
    "switchport mode",
    "switchport access vlan",
    "reload-delay",
    "domain-id",
    "peer-address",
    "peer-link",
    "local-interface",
    "router-id",
    "speed",
    "channel-group",
];

fn same_key(a: &str, b: &str) -> bool {
    // A mode has one comment (`!! text`, what `comment` sets).
    a == b
        || (a.starts_with("!!") && b.starts_with("!!"))
        || SINGLE.iter().any(|key| a.starts_with(&format!("{key} ")) && b.starts_with(&format!("{key} ")))
}

impl EosConfig {
    /// The mode path of `lines` applied from the top (for building a base configuration).
    pub fn apply_all(&mut self, lines: &[&str]) {
        let mut path = Vec::new();
        for line in lines {
            self.apply(&mut path, line);
        }
    }

    /// Applies one configuration `line` in the mode `path` (the lines that opened it), which
    /// it may change: a mode line enters its mode, `exit` leaves one, `no X` removes X.
    pub fn apply(&mut self, path: &mut Vec<String>, line: &str) {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() || line == "!" {
            return;
        }
        if line == "exit" {
            path.pop();
            return;
        }
        if TOP_MODES.iter().any(|m| line.starts_with(m) || line == m.trim_end()) && !line.starts_with("no ") {
            path.clear();
        }
        let opens = path.is_empty() && TOP_MODES.iter().any(|m| line.starts_with(m) || line == m.trim_end())
            || path.last().is_some_and(|parent| opens_mode(parent, &line));
        let mode = self.mode_mut(path);
        if line == "no comment" {
            mode.retain(|n| !n.line.starts_with("!!"));
            return;
        }
        if let Some(removed) = line.strip_prefix("no ") {
            mode.retain(|n| !(n.line == removed || n.line.starts_with(&format!("{removed} "))));
            return;
        }
        if opens {
            if !mode.iter().any(|n| n.line == line) {
                mode.push(Node { line: line.clone(), children: Vec::new() });
            }
            path.push(line);
            return;
        }
        if let Some(existing) = mode.iter_mut().find(|n| same_key(&n.line, &line)) {
            existing.line = line;
        } else {
            mode.push(Node { line, children: Vec::new() });
        }
    }

    fn mode_mut(&mut self, path: &[String]) -> &mut Vec<Node> {
        let mut mode = &mut self.root;
        for step in path {
            let index = match mode.iter().position(|n| &n.line == step) {
                Some(index) => index,
                None => {
                    mode.push(Node { line: step.clone(), children: Vec::new() });
                    mode.len() - 1
                }
            };
            mode = &mut mode[index].children;
        }
        mode
    }

    /// The lines under `path`, if that mode exists.
    pub fn mode(&self, path: &[&str]) -> Option<&[Node]> {
        let mut mode: &[Node] = &self.root;
        for step in path {
            mode = &mode.iter().find(|n| n.line == *step)?.children;
        }
        Some(mode)
    }

    /// As `show running-config` prints it: modes indented by three spaces, `!` between blocks.
    pub fn text(&self, hostname: &str, version: &str) -> String {
        let mut out = format!("! Command: show running-config\n! device: {hostname} (vEOS-lab, EOS-{version})\n!\n");
        fn walk(nodes: &[Node], depth: usize, out: &mut String) {
            for node in nodes {
                let _ = writeln!(out, "{}{}", "   ".repeat(depth), node.line);
                walk(&node.children, depth + 1, out);
                if depth == 0 && !node.children.is_empty() {
                    out.push_str("!\n");
                }
            }
        }
        walk(&self.root, 0, &mut out);
        out.push_str("end\n");
        out
    }

    /// As `show running-config all` prints it: the defaults EOS shows there too (an interface
    /// that is not shut down says `no shutdown`; a VLAN its name and state).
    pub fn text_all(&self, hostname: &str, version: &str) -> String {
        let mut all = self.clone();
        for node in &mut all.root {
            if node.line.starts_with("interface ") && !node.children.iter().any(|c| c.line == "shutdown") {
                node.children.push(Node { line: "no shutdown".into(), children: Vec::new() });
            }
            if let Some(id) = node.line.strip_prefix("vlan ") {
                if !node.children.iter().any(|c| c.line.starts_with("name ")) {
                    let name = format!("name VLAN{:0>4}", id);
                    node.children.insert(0, Node { line: name, children: Vec::new() });
                }
                if !node.children.iter().any(|c| c.line.starts_with("state ")) {
                    node.children.push(Node { line: "state active".into(), children: Vec::new() });
                }
            }
        }
        all.text(hostname, version)
    }

    /// Every line with its mode path, `mode > line`, for comparing configurations.
    pub fn flat(&self) -> Vec<String> {
        fn walk(nodes: &[Node], prefix: &str, out: &mut Vec<String>) {
            for node in nodes {
                let me = if prefix.is_empty() { node.line.clone() } else { format!("{prefix} > {}", node.line) };
                out.push(me.clone());
                walk(&node.children, &me, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.root, "", &mut out);
        out
    }
}

/// What an emulated EOS switch keeps beyond a device's common state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EosState {
    /// The running configuration.
    pub running: EosConfig,
    /// The startup configuration (`copy running-config startup-config`).
    pub startup: EosConfig,
    /// The image the boot-config names, `flash:EOS-4.30.1F.swi`.
    pub boot_image: String,
    /// Configuration sessions not committed yet: name to the configuration they hold.
    pub sessions: BTreeMap<String, EosConfig>,
    /// Boot-config changes (`boot system` to another image), to prove none is made twice.
    pub boot_changes: u32,
    /// The last reload was `reload fast-boot` (Smart System Upgrade): its ports never went down,
    /// so MLAG has no reload-delay to wait out.
    pub fast_booted: bool,
    /// `reload fast-boot` reloads done, to prove which method a switch got.
    pub fast_boots: u32,
}

impl EosState {
    /// A switch as the lab starts it: hostname, eAPI on, LLDP on, its boot image.
    pub fn new(name: &str, version: &str) -> EosState {
        let mut running = EosConfig::default();
        running.apply_all(&[
            &format!("hostname {name}"),
            "username admin privilege 15 role network-admin secret sha512 $6$lab$adminsecret",
            "management api http-commands",
            "no shutdown",
        ]);
        EosState {
            startup: running.clone(),
            running,
            boot_image: format!("flash:EOS-{version}.swi"),
            sessions: BTreeMap::new(),
            boot_changes: 0,
            fast_booted: false,
            fast_boots: 0,
        }
    }

    /// True when maintenance mode drains the switch (`unit System` quiesced).
    pub fn quiesced(&self) -> bool {
        self.running.mode(&["maintenance", "unit System"]).is_some_and(|unit| unit.iter().any(|n| n.line == "quiesce"))
    }
}

pub use crate::driver::eos::parse::version_in_image_name;

/// What an Arista switch's configuration holds before anyone touches it, as a leaf of an EVPN
/// fabric runs: a routed port per fabric link (the i-th `Ethernet{49+i}/1`), an EBGP session to
/// each neighbour (the addresses its BGP summary shows), a port-channel per server (the i-th
/// `Port-Channel{1+i}` on `Ethernet{1+i}`, an MLAG id on a pair), and on an MLAG member the
/// peer-link, its VLAN and the `mlag configuration` with its reload-delay. Junos devices are left as they are.
pub fn base_configuration(
    state: &mut LabDevice,
    index: usize,
    neighbours: &[String],
    lags: usize,
    mlag_peer: Option<&str>,
    reload_delay: u32,
) {
    let Some(eos) = state.eos.as_mut() else { return };
    let mut lines: Vec<String> = vec!["ip routing".into(), "vlan 10".into(), "name servers".into()];
    if let Some(peer) = mlag_peer {
        // The lower name of the pair takes the lower peer address.
        let mine = if state.name.as_str() < peer { 1 } else { 2 };
        lines.extend([
            "vlan 4094".to_string(),
            "name mlag-peer".into(),
            "trunk group mlagpeer".into(),
            "interface Ethernet47".into(),
            format!("description mlag peer-link to {peer}"),
            "channel-group 1000 mode active".into(),
            "interface Ethernet48".into(),
            format!("description mlag peer-link to {peer}"),
            "channel-group 1000 mode active".into(),
            "interface Port-Channel1000".into(),
            "description mlag peer-link".into(),
            "switchport mode trunk".into(),
            "switchport trunk group mlagpeer".into(),
            "interface Vlan4094".into(),
            format!("ip address 10.255.255.{mine}/30"),
        ]);
        lines.extend([
            "mlag configuration".to_string(),
            "domain-id mlag1".into(),
            "local-interface Vlan4094".into(),
            format!("peer-address 10.255.255.{}", 3 - mine),
            "peer-link Port-Channel1000".into(),
            format!("reload-delay mlag {reload_delay}"),
            format!("reload-delay non-mlag {reload_delay}"),
        ]);
    }
    for i in 0..lags {
        lines.extend([
            format!("interface Ethernet{}", i + 1),
            format!("description server bundle {}", i + 1),
            format!("channel-group {} mode active", i + 1),
            format!("interface Port-Channel{}", i + 1),
            "switchport access vlan 10".into(),
        ]);
        if mlag_peer.is_some() {
            lines.push(format!("mlag {}", i + 1));
        }
    }
    for (i, neighbour) in neighbours.iter().enumerate() {
        lines.extend([
            format!("interface Ethernet{}/1", 49 + i),
            format!("description to {neighbour}"),
            "no switchport".into(),
            format!("ip address 10.{}.{}.{}/31", 100 + index / 250, index % 250, 2 * i),
        ]);
    }
    lines.extend([
        "interface Management1".to_string(),
        format!("ip address 192.168.0.{}/24", index % 250 + 1),
        format!("router bgp {}", 65000 + index),
        format!("router-id 10.255.0.{}", index % 250 + 1),
        "maximum-paths 4 ecmp 4".into(),
        "graceful-restart".into(),
    ]);
    for (i, neighbour) in neighbours.iter().enumerate() {
        let address = format!("10.0.{}.{}", i / 250, i % 250 + 1);
        lines.push(format!("neighbor {address} remote-as {}", 65000 + i));
        lines.push(format!("neighbor {address} description {neighbour}"));
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    eos.running.apply_all(&refs);
    eos.startup = eos.running.clone();
}

/// What becomes of one eAPI request: a reply, or the faults that keep it from its client.
#[derive(Debug)]
pub enum Outcome {
    /// The reply to send.
    Reply(Value),
    /// The switch hung (the `hang` fault): it took the request and will never answer.
    Hang,
    /// The commands ran, and the connection dropped before the reply went (`ssh-drop`, as the
    /// SSH session of a Junos device drops).
    Dropped,
}

/// The phase of the upgrade a request's commands belong to, for the `hang` fault: a change's
/// own phase, and for the health check's reads, before the upgrade or after the new version.
fn phase_of(state: &LabDevice, cmds: &[String]) -> Option<FaultPhase> {
    let has = |prefix: &str| cmds.iter().any(|c| c.starts_with(prefix));
    if has("reload") {
        return Some(FaultPhase::Reboot);
    }
    if has("boot system") {
        return Some(FaultPhase::Install);
    }
    if has("verify /") {
        return Some(FaultPhase::ImageCopy);
    }
    let quiescing = cmds.iter().any(|c| c == "quiesce");
    if quiescing && state.upgrades <= state.rollbacks {
        return Some(FaultPhase::Maintenance);
    }
    if has("show ip bgp summary") || has("show interfaces counters errors") || has("show system environment") {
        let pending = state.engines.iter().any(|e| e.pending.is_some());
        return if state.upgrades > state.rollbacks {
            Some(FaultPhase::PostCheck)
        } else if !state.eos.as_ref().is_some_and(EosState::quiesced) && !pending {
            Some(FaultPhase::HealthCheck)
        } else {
            None
        };
    }
    None
}

/// One eAPI request with the scenario's faults: [`handle`], unless the switch hangs on it or
/// the reply is lost on the way.
pub fn answer(lab: &Lab, device: &str, body: &Value) -> Outcome {
    let cmds: Vec<String> = body
        .get("params")
        .and_then(|p| p.get("cmds"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| match c {
                    Value::String(line) => line.clone(),
                    other => other.get("cmd").and_then(Value::as_str).unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    {
        let now = lab.now_unix();
        let mut devices = lab.devices.lock().expect("not poisoned");
        if let Some(state) = devices.get_mut(device) {
            state.settle(now);
            let hangs = phase_of(state, &cmds).is_some_and(|phase| lab.fault(device, phase) == Some(FaultKind::Hang));
            if state.hung || hangs {
                state.hung = true;
                return Outcome::Hang;
            }
        }
    }
    let reply = handle(lab, device, body);
    let installing = cmds.iter().any(|c| c.starts_with("boot system"));
    if installing && reply.get("result").is_some() && lab.fault(device, FaultPhase::Install) == Some(FaultKind::SshDrop)
    {
        let fired = lab.devices_mut(|d| d.get_mut(device).is_some_and(|s| s.fired.insert("ssh-drop:install".into())));
        if fired {
            return Outcome::Dropped;
        }
    }
    Outcome::Reply(reply)
}

/// The lab side of one eAPI request: the reply to a JSON-RPC body from an authenticated user.
pub fn handle(lab: &Lab, device: &str, body: &Value) -> Value {
    let id = body.get("id").cloned().unwrap_or(Value::Null);
    let envelope = |code: i64, message: &str| json!({"jsonrpc": "2.0", "id": Value::Null, "error": {"code": code, "message": message}});
    if body.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return envelope(-32600, "Expected field 'jsonrpc' not specified");
    }
    if body.get("method").and_then(Value::as_str) != Some("runCmds") {
        return envelope(-32601, "Method not found");
    }
    let params = body.get("params").cloned().unwrap_or(Value::Null);
    let Some(cmds) = params.get("cmds").and_then(Value::as_array) else {
        return envelope(-32602, "Expected field 'cmds' not specified");
    };
    let text = match params.get("format").and_then(Value::as_str).unwrap_or("json") {
        "json" => false,
        "text" => true,
        other => return envelope(-32602, &format!("Invalid format '{other}'")),
    };
    let now = lab.now_unix();
    let mut devices = lab.devices.lock().expect("not poisoned");
    for state in devices.values_mut() {
        state.settle(now);
    }
    let up: BTreeMap<String, Answering> = devices
        .iter()
        .map(|(n, d)| {
            let fast = d.eos.as_ref().is_some_and(|e| e.fast_booted);
            (n.clone(), (d.is_up(now), d.master().boot_unix, d.reboots.clone(), fast))
        })
        .collect();
    let Some(state) = devices.get_mut(device) else {
        return envelope(-32603, &format!("no device {device} in this lab"));
    };
    let mut run = Run { lab, up: &up, now, mode: Mode::Exec, path: Vec::new() };
    let mut results = Vec::new();
    let total = cmds.len();
    for (index, cmd) in cmds.iter().enumerate() {
        let line = match cmd {
            Value::String(line) => line.clone(),
            other => other.get("cmd").and_then(Value::as_str).unwrap_or_default().to_string(),
        };
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        match run.command(state, &line, text) {
            Ok(result) => results.push(result),
            Err(failure) => {
                let (code, why, entry) = match failure {
                    Failure::Invalid(error) => {
                        let entry = if text {
                            json!({"errors": [error.clone()], "output": format!("% {error}\n")})
                        } else {
                            json!({"errors": [error.clone()]})
                        };
                        (1002, "invalid command".to_string(), entry)
                    }
                    Failure::NoJsonModel => (
                        1003,
                        "unconverted command".to_string(),
                        json!({"errors": ["Command cannot be run in JSON format"]}),
                    ),
                };
                results.push(entry);
                let message = format!("CLI command {} of {total} '{line}' failed: {why}", index + 1);
                return json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message, "data": results}});
            }
        }
    }
    json!({"jsonrpc": "2.0", "id": id, "result": results})
}

/// A device as the others see it: answering, its boot time, its reboots, back from a fast boot.
type Answering = (bool, u64, Vec<u64>, bool);

/// Two names: a port and its neighbour, or a bundle and its member.
type Pair = (String, String);

/// Why a command failed.
enum Failure {
    /// EOS's message (`Invalid input`, `Image file does not exist`).
    Invalid(String),
    /// The command has no JSON model.
    NoJsonModel,
}

#[derive(Clone, Debug, PartialEq)]
enum Mode {
    Exec,
    /// Configuring the running configuration directly.
    Config,
    /// Configuring in a named session.
    Session(String),
}

struct Run<'a> {
    lab: &'a Lab,
    /// Every device: answering, its boot time, its reboots, back from a fast boot.
    up: &'a BTreeMap<String, Answering>,
    now: u64,
    mode: Mode,
    path: Vec<String>,
}

fn invalid(token: usize, word: &str) -> Failure {
    Failure::Invalid(format!("Invalid input (at token {token}: '{word}')"))
}

fn output(text: bool, json_model: Value, cli: impl FnOnce() -> String) -> Result<Value, Failure> {
    Ok(if text { json!({"output": cli()}) } else { json_model })
}

fn text_only(text: bool, cli: String) -> Result<Value, Failure> {
    if text { Ok(json!({"output": cli})) } else { Err(Failure::NoJsonModel) }
}

impl Run<'_> {
    fn command(&mut self, state: &mut LabDevice, line: &str, text: bool) -> Result<Value, Failure> {
        if state.eos.is_none() {
            return Err(Failure::Invalid("not an EOS device".into()));
        }
        if self.mode != Mode::Exec {
            return self.configure(state, line, text);
        }
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["enable"] | ["terminal", "length", ..] | ["terminal", "dont-ask"] => Ok(json!({})),
            ["configure"] | ["configure", "terminal"] => {
                self.mode = Mode::Config;
                Ok(json!({}))
            }
            ["configure", "session", name] => {
                let eos = state.eos.as_mut().expect("checked");
                let running = eos.running.clone();
                eos.sessions.entry(name.to_string()).or_insert(running);
                self.mode = Mode::Session(name.to_string());
                Ok(json!({}))
            }
            ["configure", "session", name, "abort"] => {
                state.eos.as_mut().expect("checked").sessions.remove(*name);
                Ok(json!({}))
            }
            ["configure", "session", name, "commit"] => {
                self.commit(state, name)?;
                Ok(json!({}))
            }
            ["show", "version"] => self.show_version(state, text),
            ["show", "hostname"] => {
                let eos = state.eos.as_ref().expect("checked");
                let configured = eos.running.root.iter().find_map(|n| n.line.strip_prefix("hostname "));
                let name = configured.unwrap_or(&state.name).to_string();
                output(text, json!({"hostname": name, "fqdn": name}), || format!("Hostname: {name}\nFQDN:     {name}\n"))
            }
            ["show", "boot-config"] => {
                let image = state.eos.as_ref().expect("checked").boot_image.clone();
                output(text, json!({"softwareImage": image, "consoleSpeed": 0, "memTestIterations": 0, "abootPassword": "(not set)"}), || {
                    format!("Software image: {image}\nConsole speed: (not set)\nAboot password (encrypted): (not set)\nMemory test iterations: (not set)\n")
                })
            }
            ["show", "running-config"] => {
                let eos = state.eos.as_ref().expect("checked");
                text_only(text, eos.running.text(&state.name, &state.version))
            }
            ["show", "running-config", "all"] => {
                let eos = state.eos.as_ref().expect("checked");
                text_only(text, eos.running.text_all(&state.name, &state.version))
            }
            ["show", "startup-config"] => {
                let eos = state.eos.as_ref().expect("checked");
                text_only(text, eos.startup.text(&state.name, &state.version))
            }
            ["show", "configuration", "sessions"] | ["show", "configuration", "sessions", "detail"] => {
                let eos = state.eos.as_ref().expect("checked");
                let mut sessions: serde_json::Map<String, Value> = eos
                    .sessions
                    .keys()
                    .map(|n| (n.clone(), json!({"state": "pending", "completedTime": 0, "commitUser": "", "description": "", "instances": {}})))
                    .collect();
                // `lock-held`: another user's session is open and pending for good.
                if self.lab.fault(&state.name, FaultPhase::Maintenance) == Some(FaultKind::LockHeld) {
                    sessions.insert("noc-change-4711".into(), json!({"state": "pending", "completedTime": 0, "commitUser": "", "description": "held by another user", "instances": {}}));
                }
                output(text, json!({"sessions": sessions, "maxSavedSessions": 1, "maxOpenSessions": 5}), || {
                    let mut out = "Maximum number of completed sessions: 1\nMaximum number of pending sessions: 5\n\n   Name    State     User    Terminal\n   ----    -----     ----    --------\n".to_string();
                    for name in eos.sessions.keys() {
                        let _ = writeln!(out, "   {name}    pending");
                    }
                    out
                })
            }
            ["show", "session-config", "named", name, "diffs"] => {
                let eos = state.eos.as_ref().expect("checked");
                let Some(session) = eos.sessions.get(*name) else {
                    return Err(Failure::Invalid(format!("Session {name} does not exist")));
                };
                text_only(text, diff(&eos.running, session))
            }
            ["show", "ip", "bgp", "summary", rest @ ..] if rest.is_empty() || rest == ["vrf", "all"] => {
                Ok(self.bgp_summary(state))
            }
            ["show", "interfaces", "counters", "rates"] => Ok(self.rates(state)),
            ["show", "interfaces", "counters", "errors"] => Ok(self.errors(state)),
            ["show", "interfaces", "status"] => Ok(self.status(state)),
            ["show", "interfaces"] => Ok(self.interfaces(state)),
            ["show", "lldp", "neighbors"] => Ok(self.lldp(state)),
            ["show", "lldp", "neighbors", "detail"] => Ok(self.lldp_detail(state)),
            ["show", "port-channel"] | ["show", "port-channel", "detailed"] => Ok(self.port_channels(state)),
            ["show", "mlag"] => Ok(self.mlag(state)),
            ["show", "vlan"] => Ok(json!({"vlans": {"1": {"name": "default", "status": "active", "interfaces": {}, "dynamic": false}}, "sourceDetail": ""})),
            ["show", "system", "environment", "temperature"] => {
                Ok(json!({"systemStatus": if self.failing(state) { "temperatureCritical" } else { "temperatureOk" }, "shutdownOnOverheat": "True", "tempSensors": []}))
            }
            ["show", "system", "environment", "cooling"] => Ok(json!({"systemStatus": "coolingOk", "fanTraySlots": [], "airflowDirection": "frontToBackAirflow"})),
            ["show", "system", "environment", "power"] => {
                Ok(json!({"powerSupplies": {"1": {"state": "ok", "modelName": "PWR-500AC-F", "capacity": 500.0}, "2": {"state": "ok", "modelName": "PWR-500AC-F", "capacity": 500.0}}}))
            }
            ["show", "processes", "top", "once"] => text_only(
                text,
                "top - 10:00:00 up 1 day,  1 user,  load average: 0.20, 0.25, 0.30\nTasks: 250 total,   1 running, 249 sleeping,   0 stopped,   0 zombie\n%Cpu(s):  6.1 us,  2.0 sy,  0.0 ni, 91.4 id,  0.0 wa,  0.3 hi,  0.2 si,  0.0 st\nKiB Mem:   8012345 total,  5123456 free\n".to_string(),
            ),
            ["dir", "flash:"] | ["dir", "flash:/"] => text_only(text, self.dir(state)),
            ["verify", algorithm, file] if matches!(*algorithm, "/md5" | "/sha512" | "/sha256") => {
                let path = flash_path(file).ok_or_else(|| invalid(2, file))?;
                let Some(found) = state.files.get(&path) else {
                    return Err(Failure::Invalid(format!("Error: {file}: No such file or directory")));
                };
                let mut sum = match *algorithm {
                    "/md5" => found.md5.clone(),
                    "/sha256" => found.sha256.clone(),
                    _ => return Err(Failure::Invalid("% sha512 is not offered by the lab".into())),
                };
                if self.lab.fault(&state.name, FaultPhase::ImageCopy) == Some(FaultKind::ChecksumMismatch) {
                    sum = sum.chars().rev().collect();
                }
                text_only(text, format!("verify {algorithm} ({file}) = {sum}\n"))
            }
            ["delete", file] => {
                let path = flash_path(file).ok_or_else(|| invalid(1, file))?;
                state.files.remove(&path);
                Ok(json!({}))
            }
            ["copy", from @ ("running-config" | "startup-config"), file] if file.starts_with("flash:") => {
                let path = flash_path(file).ok_or_else(|| invalid(2, file))?;
                let eos = state.eos.as_ref().expect("checked");
                let config = if *from == "running-config" { &eos.running } else { &eos.startup };
                let mut hasher = super::device::LabFile::hasher();
                hasher.update(config.text(&state.name, &state.version).as_bytes());
                state.files.insert(path, hasher.finish(self.now));
                output(text, json!({"messages": ["Copy completed successfully."]}), || "Copy completed successfully.\n".into())
            }
            ["show", "port-channel", number, "all-ports"] => {
                let (_, lags) = self.ports(state);
                let Some((lag, member)) = lags.iter().find(|(lag, _)| lag.trim_start_matches("Port-Channel") == *number) else {
                    return text_only(text, String::new());
                };
                text_only(
                    text,
                    format!("Port Channel {lag}:\n  Active Ports:\n       Port            Time Became Active       Protocol    Mode\n    --------------- ------------------------ -------------- ------\n       {member}       0:01:00                  LACP        Active\n"),
                )
            }
            ["show", "ipv6", "bgp", "summary", "vrf", "all"] => {
                Ok(json!({"vrfs": {"default": {"vrf": "default", "routerId": format!("10.255.0.{}", self.index(state) % 250 + 1), "asn": (65000 + self.index(state)).to_string(), "peers": {}}}}))
            }
            ["show", "ip", "bgp", "neighbors", "vrf", "all"] => Ok(self.bgp_neighbors(state)),
            ["show", "ipv6", "bgp", "peers", "vrf", "all"] => Ok(json!({"vrfs": {"default": {"peerList": []}}})),
            ["copy", "running-config", "startup-config"] | ["write", "memory"] | ["write"] => {
                let eos = state.eos.as_mut().expect("checked");
                eos.startup = eos.running.clone();
                output(text, json!({"messages": ["Copy completed successfully."]}), || "Copy completed successfully.\n".into())
            }
            ["reload", "now"] | ["reload", "force"] | ["reload", "now", "force"] => {
                self.reload(state, false)?;
                Ok(json!({}))
            }
            ["reload", "fast-boot", "now"] | ["reload", "fast-boot", "force"] => {
                if let Some(why) = self.fast_boot_warning(state) {
                    return Err(Failure::Invalid(why));
                }
                self.reload(state, true)?;
                Ok(json!({}))
            }
            ["show", "reload", "fast-boot"] => {
                let said = self
                    .fast_boot_warning(state)
                    .unwrap_or_else(|| "No warnings or unsupported configuration found.".into());
                text_only(text, format!("{said}\n"))
            }
            ["show", ..] => Err(invalid(words.len().saturating_sub(1), words.last().copied().unwrap_or_default())),
            _ => Err(invalid(0, words.first().copied().unwrap_or_default())),
        }
    }

    /// A line in configuration mode.
    fn configure(&mut self, state: &mut LabDevice, line: &str, text: bool) -> Result<Value, Failure> {
        let session = match &self.mode {
            Mode::Session(name) => Some(name.clone()),
            _ => None,
        };
        match line {
            "end" => {
                self.mode = Mode::Exec;
                self.path.clear();
                return Ok(json!({}));
            }
            "exit" if self.path.is_empty() => {
                self.mode = Mode::Exec;
                return Ok(json!({}));
            }
            "commit" => {
                let Some(name) = session else { return Err(invalid(0, "commit")) };
                self.commit(state, &name)?;
                self.mode = Mode::Exec;
                self.path.clear();
                return Ok(json!({}));
            }
            "abort" => {
                let Some(name) = session else { return Err(invalid(0, "abort")) };
                state.eos.as_mut().expect("checked").sessions.remove(&name);
                self.mode = Mode::Exec;
                self.path.clear();
                return Ok(json!({}));
            }
            _ => {}
        }
        if line.starts_with("show ") || line.starts_with("copy ") || line.starts_with("write") {
            // Exec commands run from configuration mode too.
            let mode = std::mem::replace(&mut self.mode, Mode::Exec);
            let result = self.command(state, line, text);
            self.mode = mode;
            return result;
        }
        if let Some(image) = line.strip_prefix("boot system ") {
            let path = flash_path(image).ok_or_else(|| invalid(2, image))?;
            if !state.files.contains_key(&path) {
                return Err(Failure::Invalid(format!("Image file {image} does not exist")));
            }
            if version_in_image_name(&path).is_none() {
                return Err(Failure::Invalid(format!("{image} is not an EOS software image")));
            }
            if self.lab.fault(&state.name, FaultPhase::Install) == Some(FaultKind::InstallFails) {
                return Err(Failure::Invalid(format!(
                    "Image {image} failed validation: its signature does not verify"
                )));
            }
            // `rollback-fails`: going back to the software it ran before (or backing out the
            // pending image for the running one) is refused.
            let engine = state.master();
            let back = version_in_image_name(&path).map(|v| v.to_string());
            let backing_out = back.as_deref() == Some(engine.version.as_str())
                && state
                    .eos
                    .as_ref()
                    .is_some_and(|e| version_in_image_name(&e.boot_image).map(|v| v.to_string()) != back);
            let returning = back.is_some() && back == engine.previous;
            if (backing_out || returning)
                && self.lab.fault(&state.name, FaultPhase::Rollback) == Some(FaultKind::RollbackFails)
            {
                return Err(Failure::Invalid(format!(
                    "Image {image} could not be set as the boot image: flash is write-protected"
                )));
            }
            let eos = state.eos.as_mut().expect("checked");
            let name = format!("flash:{}", path.trim_start_matches(FLASH));
            // `boot system` rewrites the boot-config at once, even in a session.
            if eos.boot_image != name {
                eos.boot_image = name;
                eos.boot_changes += 1;
            }
            return Ok(json!({}));
        }
        let eos = state.eos.as_mut().expect("checked");
        let config = match &session {
            Some(name) => eos.sessions.entry(name.clone()).or_default(),
            None => &mut eos.running,
        };
        config.apply(&mut self.path, line);
        Ok(json!({}))
    }

    fn commit(&mut self, state: &mut LabDevice, name: &str) -> Result<(), Failure> {
        let eos = state.eos.as_mut().expect("checked");
        let Some(session) = eos.sessions.remove(name) else {
            return Err(Failure::Invalid(format!("Session {name} does not exist")));
        };
        eos.running = session;
        Ok(())
    }

    fn failing(&self, state: &LabDevice) -> bool {
        let phase = if state.upgrades > state.rollbacks { FaultPhase::PostCheck } else { FaultPhase::HealthCheck };
        self.lab.fault(&state.name, phase) == Some(FaultKind::HealthCheckFails)
    }

    fn show_version(&self, state: &LabDevice, text: bool) -> Result<Value, Failure> {
        let boot = state.master().boot_unix;
        let model = json!({
            "mfgName": "Arista", "modelName": state.model, "hardwareRevision": "11.01",
            "serialNumber": ops::serial(&state.name), "systemMacAddress": ops::mac(&state.name),
            "hwMacAddress": ops::mac(&state.name), "configMacAddress": "00:00:00:00:00:00",
            "version": state.version, "architecture": "x86_64",
            "internalVersion": format!("{}-{}.lab", state.version, 31_000_000 + boot % 1_000_000),
            "internalBuildId": "1a2b3c4d-0000-4000-8000-1a2b3c4d5e6f", "imageFormatVersion": "3.0",
            "imageOptimization": "Default", "bootupTimestamp": boot as f64 + 0.5,
            "uptime": self.now.saturating_sub(boot) as f64, "memTotal": 8_012_345, "memFree": 5_123_456,
            "isIntlVersion": false
        });
        output(text, model, || {
            format!(
                "Arista {}\nHardware version: 11.01\nSerial number: {}\nSystem MAC address: {}\n\nSoftware image version: {}\nArchitecture: x86_64\n",
                state.model,
                ops::serial(&state.name),
                ops::mac(&state.name),
                state.version
            )
        })
    }

    /// What `show reload fast-boot` warns about: configuration SSU cannot keep forwarding
    /// through (spanning-tree MST, VRRP), or a platform without it.
    fn fast_boot_warning(&self, state: &LabDevice) -> Option<String> {
        let eos = state.eos.as_ref()?;
        if !crate::method::SSU_PLATFORMS.iter().any(|p| state.model.to_ascii_uppercase().starts_with(p)) {
            return Some(format!("Warning: fast-boot is not supported on {}", state.model));
        }
        let flat = eos.running.flat();
        if flat.iter().any(|l| l == "spanning-tree mode mstp") {
            return Some("Warning: spanning-tree mode mstp is not supported with fast-boot".into());
        }
        if flat.iter().any(|l| l.contains("> vrrp ")) {
            return Some("Warning: VRRP is not supported with fast-boot".into());
        }
        None
    }

    fn reload(&self, state: &mut LabDevice, fast: bool) -> Result<(), Failure> {
        let eos = state.eos.as_ref().expect("checked");
        let Some(next) = version_in_image_name(&eos.boot_image) else {
            return Err(Failure::Invalid(format!("boot image {} cannot be booted", eos.boot_image)));
        };
        let next = next.to_string();
        let role = self.lab.roles.get(&state.name).copied().unwrap_or(crate::model::Role::Leaf);
        let mut seconds = u64::from(self.lab.timing.phases(role).reboot_seconds);
        match self.lab.fault(&state.name, FaultPhase::Reboot) {
            Some(FaultKind::NeverReturns) => state.dead = true,
            Some(FaultKind::Slow) => seconds *= 3,
            _ => {}
        }
        let engine = &mut state.engines[0];
        if next != engine.version {
            state.rollback_pending = engine.previous.as_deref() == Some(next.as_str());
            engine.pending = Some(next);
            if !state.rollback_pending {
                engine.installs += 1;
            }
        }
        // A reload loses what was not saved: the switch boots with its startup configuration.
        let eos = state.eos.as_mut().expect("checked");
        eos.running = eos.startup.clone();
        eos.sessions.clear();
        eos.fast_booted = fast;
        if fast {
            eos.fast_boots += 1;
        }
        state.reboot(vec![0], self.now, seconds);
        Ok(())
    }

    fn peers(&self, state: &LabDevice) -> Vec<(usize, String)> {
        let mut peers: Vec<(usize, String)> =
            self.lab.neighbours.get(&state.name).cloned().unwrap_or_default().into_iter().enumerate().collect();
        if state.upgrades > state.rollbacks
            && self.lab.fault(&state.name, FaultPhase::PostCheck) == Some(FaultKind::BgpPeerLost)
        {
            peers.retain(|(index, _)| *index != 0);
        }
        peers
    }

    fn is_up(&self, device: &str) -> bool {
        self.up.get(device).is_some_and(|d| d.0)
    }

    fn bgp_summary(&self, state: &LabDevice) -> Value {
        let quiesced = state.eos.as_ref().is_some_and(EosState::quiesced);
        let since = state.master().boot_unix;
        let mut peers = serde_json::Map::new();
        for (index, peer) in self.peers(state) {
            let established = self.is_up(&peer);
            let flaps = self.up.get(&peer).map_or(0, |p| p.2.iter().filter(|t| **t > since).count());
            let (up_down, state_name) = if established { (since, "Established") } else { (self.now, "Active") };
            peers.insert(
                format!("10.0.{}.{}", index / 250, index % 250 + 1),
                json!({"description": peer, "version": 4, "msgReceived": 1000 + flaps, "msgSent": 1000, "inMsgQueue": 0,
                    "outMsgQueue": 0, "asn": (65000 + index).to_string(), "prefixAccepted": if established { 16 } else { 0 },
                    "prefixReceived": if established { 16 } else { 0 }, "upDownTime": up_down as f64,
                    "underMaintenance": quiesced, "peerState": state_name}),
            );
        }
        json!({"vrfs": {"default": {"vrf": "default", "routerId": format!("10.255.0.{}", self.index(state) % 250 + 1),
            "asn": (65000 + self.index(state)).to_string(), "peers": peers}}})
    }

    /// `show ip bgp neighbors vrf all`: each peer's detail (napalm's `get_bgp_neighbors`).
    fn bgp_neighbors(&self, state: &LabDevice) -> Value {
        let since = state.master().boot_unix;
        let mut list = Vec::new();
        for (index, peer) in self.peers(state) {
            let established = self.is_up(&peer);
            list.push(json!({
                "peerAddress": format!("10.0.{}.{}", index / 250, index % 250 + 1), "localAsn": (65000 + self.index(state)).to_string(),
                "asn": (65000 + index).to_string(), "routerId": format!("10.255.1.{}", index % 250 + 1),
                "state": if established { "Established" } else { "Active" }, "description": peer,
                "establishedTime": if established { self.now.saturating_sub(since) } else { 0 },
                "prefixesReceived": if established { 16 } else { 0 }, "prefixesSent": 16,
                "v6PrefixesReceived": 0, "v6PrefixesSent": 0, "updownTime": since as f64
            }));
        }
        json!({"vrfs": {"default": {"peerList": list}}})
    }

    fn index(&self, state: &LabDevice) -> usize {
        self.lab.neighbours.keys().position(|n| *n == state.name).unwrap_or(0)
    }

    /// The switch's fabric ports (`Ethernet49/1`, ...) with their neighbours, and its server
    /// bundles (`Port-Channel1` on `Ethernet1`, ...).
    fn ports(&self, state: &LabDevice) -> (Vec<Pair>, Vec<Pair>) {
        let fabric = self
            .lab
            .neighbours
            .get(&state.name)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, n)| (format!("Ethernet{}/1", 49 + i), n.clone()))
            .collect();
        let lags = self
            .lab
            .server_lags
            .get(&state.name)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, _)| (format!("Port-Channel{}", i + 1), format!("Ethernet{}", i + 1)))
            .collect();
        (fabric, lags)
    }

    fn drained(&self, state: &LabDevice) -> bool {
        state.eos.as_ref().is_some_and(EosState::quiesced)
            && self.lab.fault(&state.name, FaultPhase::Maintenance) != Some(FaultKind::DrainIneffective)
    }

    fn rates(&self, state: &LabDevice) -> Value {
        let drained = self.drained(state);
        let (fabric, lags) = self.ports(state);
        let mut interfaces = serde_json::Map::new();
        let mut add = |name: &str, bps: f64| {
            interfaces.insert(
                name.to_string(),
                json!({"description": "", "interval": 300, "inBpsRate": bps, "inPktsRate": bps / 8000.0,
                    "inPpsRate": bps / 8000.0, "outBpsRate": bps, "outPktsRate": bps / 8000.0, "outPpsRate": bps / 8000.0,
                    "lastUpdateTimestamp": self.now as f64}),
            );
        };
        for (port, _) in &fabric {
            add(port, if drained { 24_000.0 } else { 5_000_000_000.0 });
        }
        for (_, member) in &lags {
            add(member, if drained { 24_000.0 } else { 2_000_000_000.0 });
        }
        add("Management1", 100_000.0);
        json!({"interfaces": interfaces})
    }

    fn errors(&self, state: &LabDevice) -> Value {
        let (fabric, lags) = self.ports(state);
        let failing = self.failing(state);
        let mut counters = serde_json::Map::new();
        for (i, port) in fabric.iter().map(|p| &p.0).chain(lags.iter().map(|l| &l.1)).enumerate() {
            let growing = if failing && i == 0 { 20 * self.now.saturating_sub(state.master().boot_unix) } else { 0 };
            counters.insert(
                port.clone(),
                json!({"fcsErrors": 0, "alignmentErrors": 0, "symbolErrors": 0, "rxPause": 0, "inErrors": 3 + growing,
                    "frameTooLongs": 0, "frameTooShorts": 0, "outErrors": 0}),
            );
        }
        json!({"interfaceErrorCounters": counters})
    }

    /// The interfaces the running configuration has: name, description, shut down.
    fn configured(state: &LabDevice) -> Vec<(String, String, bool)> {
        let Some(eos) = state.eos.as_ref() else { return Vec::new() };
        eos.running
            .root
            .iter()
            .filter_map(|node| {
                let name = node.line.strip_prefix("interface ")?;
                let description = node
                    .children
                    .iter()
                    .find_map(|c| c.line.strip_prefix("description "))
                    .unwrap_or_default()
                    .to_string();
                Some((name.to_string(), description, node.children.iter().any(|c| c.line == "shutdown")))
            })
            .collect()
    }

    fn bandwidth(name: &str) -> u64 {
        if name.contains('/') {
            100_000_000_000
        } else if name.starts_with("Management") {
            1_000_000_000
        } else {
            10_000_000_000
        }
    }

    fn status(&self, state: &LabDevice) -> Value {
        let mut statuses = serde_json::Map::new();
        for (name, description, shut) in Self::configured(state) {
            let routed = name.contains('/') || name.starts_with("Vlan") || name.starts_with("Management");
            statuses.insert(
                name.clone(),
                json!({"description": description, "linkStatus": if shut { "disabled" } else { "connected" },
                    "vlanInformation": if routed { json!({"interfaceMode": "routed", "interfaceForwardingModel": "routed"}) }
                        else { json!({"interfaceMode": "bridged", "vlanId": 10, "interfaceForwardingModel": "bridged"}) },
                    "bandwidth": Self::bandwidth(&name), "interfaceType": if name.starts_with("Ethernet") { "10GBASE-SR" } else { "N/A" },
                    "duplex": "duplexFull", "autoNegotiateActive": false}),
            );
        }
        json!({"interfaceStatuses": statuses})
    }

    fn interfaces(&self, state: &LabDevice) -> Value {
        let mut out = serde_json::Map::new();
        for (name, description, shut) in Self::configured(state) {
            let mac = ops::mac(&format!("{}/{name}", state.name));
            let hardware = match name.split(|c: char| c.is_ascii_digit()).next().unwrap_or_default() {
                "Port-Channel" => "portChannel",
                "Vlan" => "vlan",
                _ => "ethernet",
            };
            out.insert(
                name.clone(),
                json!({"name": name, "description": description,
                    "interfaceStatus": if shut { "disabled" } else { "connected" },
                    "lineProtocolStatus": if shut { "down" } else { "up" },
                    "hardware": hardware, "physicalAddress": mac, "burnedInAddress": mac,
                    "bandwidth": Self::bandwidth(&name), "mtu": if name.starts_with("Management") { 1500 } else { 9214 },
                    "lastStatusChangeTimestamp": state.master().boot_unix as f64 + 30.0, "forwardingModel": "routed",
                    "interfaceAddress": [], "l2Mtu": 9214,
                    "interfaceCounters": {"inOctets": 1_000_000, "outOctets": 1_000_000, "inUcastPkts": 1000, "outUcastPkts": 1000,
                        "inMulticastPkts": 10, "outMulticastPkts": 10, "inBroadcastPkts": 1, "outBroadcastPkts": 1,
                        "inDiscards": 0, "outDiscards": 0, "totalInErrors": 0, "totalOutErrors": 0}}),
            );
        }
        json!({"interfaces": out})
    }

    /// The switch's LLDP neighbours: (local port, neighbour, its port, a switch?): its fabric
    /// neighbours that answer, its MLAG peer on the peer-link's two ports, and its servers
    /// (`eth0`/`eth1`, as the Junos devices' servers).
    fn neighbours(&self, state: &LabDevice) -> Vec<(String, String, String, bool)> {
        let (fabric, lags) = self.ports(state);
        let mut out = Vec::new();
        for (port, other) in fabric {
            if !self.is_up(&other) {
                continue;
            }
            let back =
                self.lab.neighbours.get(&other).and_then(|n| n.iter().position(|x| *x == state.name)).unwrap_or(0);
            let theirs = match self.lab.devices_vendor(&other) {
                crate::model::Vendor::Arista => format!("Ethernet{}/1", 49 + back),
                crate::model::Vendor::Juniper => format!("et-0/0/{}", 48 + back),
            };
            out.push((port, other, theirs, true));
        }
        if let Some(peer) = self.lab.mlag.get(&state.name)
            && self.is_up(peer)
        {
            for port in ["Ethernet47", "Ethernet48"] {
                out.push((port.to_string(), peer.clone(), port.to_string(), true));
            }
        }
        for (i, (_, member)) in lags.iter().enumerate() {
            if let Some(server) = self.lab.lag_servers.get(&(state.name.clone(), format!("ae{i}"))) {
                out.push((member.clone(), server.clone(), format!("eth{}", i % 2), false));
            }
        }
        out
    }

    fn lldp(&self, state: &LabDevice) -> Value {
        let neighbours: Vec<Value> = self
            .neighbours(state)
            .into_iter()
            .map(|(port, other, theirs, _)| json!({"port": port, "neighborDevice": other, "neighborPort": theirs, "ttl": 120}))
            .collect();
        json!({"tablesLastChangeTime": state.master().boot_unix as f64, "tablesAgeOuts": 0, "tablesInserts": neighbours.len(),
            "tablesDeletes": 0, "tablesDrops": 0, "lldpNeighbors": neighbours})
    }

    /// `show lldp neighbors detail`: per local port, its neighbours' details as real switches
    /// give them (a host's port id is its MAC, its name the description).
    fn lldp_detail(&self, state: &LabDevice) -> Value {
        let mut ports = serde_json::Map::new();
        for (port, other, theirs, switch) in self.neighbours(state) {
            let remote = if switch {
                json!({"interfaceIdType": "interfaceName", "interfaceId": format!("\"{theirs}\""), "interfaceId_v2": theirs,
                    "interfaceDescription": format!("to {}", state.name)})
            } else {
                json!({"interfaceIdType": "macAddress", "interfaceId": ops::mac(&format!("{other}/{theirs}")),
                    "interfaceDescription": theirs, "linkAggregationStatus": "capableAndEnabled"})
            };
            let info = json!({"systemCapabilities": {"bridge": switch, "router": switch}, "neighborInterfaceInfo": remote,
                "systemName": other, "systemDescription": if switch { "network switch" } else { "Linux server" },
                "chassisId": ops::mac(&other), "chassisIdType": "macAddress", "ttl": 120,
                "lastChangeTime": state.master().boot_unix as f64, "managementAddresses": []});
            ports.entry(port).or_insert_with(|| json!({"lldpNeighborInfo": []}))["lldpNeighborInfo"]
                .as_array_mut()
                .expect("a list")
                .push(info);
        }
        json!({"lldpNeighbors": ports})
    }

    fn port_channels(&self, state: &LabDevice) -> Value {
        let (_, lags) = self.ports(state);
        let mut channels = serde_json::Map::new();
        for (lag, member) in lags {
            channels.insert(
                lag,
                json!({"activePorts": {member: {"protocol": "lacp", "lacpMode": "active", "timeBecameActive": state.master().boot_unix as f64 + 40.0}}, "inactivePorts": {}, "recircFeature": [], "inactiveLag": false}),
            );
        }
        json!({"portChannels": channels})
    }

    /// `show mlag`: connected while the peer answers; its ports active on both sides once both
    /// switches have been up for the reload-delay.
    fn mlag(&self, state: &LabDevice) -> Value {
        let Some(peer) = self.lab.mlag.get(&state.name) else {
            return json!({"state": "disabled", "negStatus": "", "peerLinkStatus": "", "localIntfStatus": "", "mlagPorts": {}});
        };
        let peer_up = self.is_up(peer);
        let delay = u64::from(self.lab.timing.mlag_reload_delay_seconds);
        let settling = |boot: u64| self.now < boot + delay;
        // A switch back from `reload fast-boot` never took its ports down: no reload-delay.
        let mine_settling = !state.eos.as_ref().is_some_and(|e| e.fast_booted) && settling(state.master().boot_unix);
        let peer_settling = self.up.get(peer).is_some_and(|p| p.0 && !p.3 && settling(p.1));
        let partial = !peer_up || mine_settling || peer_settling;
        let ports = self.lab.server_lags.get(&state.name).map_or(0, Vec::len);
        json!({
            "domainId": "mlag1", "localInterface": "Vlan4094", "peerAddress": "10.255.255.2", "peerLink": "Port-Channel1000",
            "state": "active", "negStatus": if peer_up { "connected" } else { "connecting" },
            "peerLinkStatus": if peer_up { "up" } else { "down" }, "localIntfStatus": "up",
            "configSanity": "consistent", "reloadDelay": delay, "reloadDelayNonMlag": delay,
            "mlagPorts": {"Disabled": 0, "Configured": 0, "Inactive": 0,
                "Active-partial": if partial { ports } else { 0 }, "Active-full": if partial { 0 } else { ports }},
            "portsErrdisabled": false
        })
    }

    fn dir(&self, state: &LabDevice) -> String {
        let mut out = "Directory of flash:/\n\n".to_string();
        let mut used = FLASH_USED_BY_SYSTEM;
        for (path, file) in state.files.iter().filter(|(p, _)| p.starts_with(FLASH)) {
            used += file.size;
            let _ = writeln!(
                out,
                "       -rwx  {:>12}  {:>12}  {}",
                file.size,
                file.written_unix,
                path.trim_start_matches(FLASH)
            );
        }
        let _ = writeln!(out, "\n{FLASH_TOTAL} bytes total ({} bytes free)", FLASH_TOTAL.saturating_sub(used));
        out
    }
}

/// `flash:NAME` or `flash:/NAME` as a path on the device.
fn flash_path(file: &str) -> Option<String> {
    let name = file.strip_prefix("flash:")?.trim_start_matches('/');
    (!name.is_empty() && !name.contains("..") && !name.contains('/')).then(|| format!("{FLASH}{name}"))
}

/// A session's changes against the running configuration, as `show session-config named X
/// diffs` prints them: a unified diff of the two texts.
fn diff(running: &EosConfig, session: &EosConfig) -> String {
    let lines = |c: &EosConfig| -> Vec<String> {
        let text = c.text("", "");
        text.lines().skip(3).map(str::to_string).collect()
    };
    let (a, b) = (lines(running), lines(session));
    // Longest common subsequence, the configurations being small.
    let mut table = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            table[i][j] = if a[i] == b[j] { table[i + 1][j + 1] + 1 } else { table[i + 1][j].max(table[i][j + 1]) };
        }
    }
    // The edit script: (' ', '-', '+') with each line.
    let mut edits: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            edits.push((' ', &a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || table[i][j + 1] >= table[i + 1][j]) {
            edits.push(('+', &b[j]));
            j += 1;
        } else {
            edits.push(('-', &a[i]));
            i += 1;
        }
    }
    // Hunks with three lines of context, as `diff -u` prints them.
    const CONTEXT: usize = 3;
    let changed: Vec<usize> = edits.iter().enumerate().filter(|(_, e)| e.0 != ' ').map(|(k, _)| k).collect();
    let mut out = "--- system:/running-config\n+++ session:/session-config\n".to_string();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut last = changed[k];
        while k + 1 < changed.len() && changed[k + 1] <= last + 2 * CONTEXT + 1 {
            k += 1;
            last = changed[k];
        }
        let end = (last + CONTEXT + 1).min(edits.len());
        let line_a = 1 + edits[..start].iter().filter(|e| e.0 != '+').count();
        let line_b = 1 + edits[..start].iter().filter(|e| e.0 != '-').count();
        let count_a = edits[start..end].iter().filter(|e| e.0 != '+').count();
        let count_b = edits[start..end].iter().filter(|e| e.0 != '-').count();
        let _ = writeln!(out, "@@ -{line_a},{count_a} +{line_b},{count_b} @@");
        for (mark, line) in &edits[start..end] {
            let _ = writeln!(out, "{mark}{line}");
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_nest_and_no_removes() {
        let mut config = EosConfig::default();
        config.apply_all(&[
            "hostname a",
            "maintenance",
            "unit System",
            "quiesce",
            "interface Ethernet1",
            "description x",
        ]);
        assert!(config.mode(&["maintenance", "unit System"]).unwrap().iter().any(|n| n.line == "quiesce"));
        assert_eq!(config.mode(&["interface Ethernet1"]).unwrap()[0].line, "description x");
        config.apply_all(&["interface Ethernet1", "description y", "maintenance", "unit System", "no quiesce"]);
        assert_eq!(config.mode(&["interface Ethernet1"]).unwrap().len(), 1);
        assert!(config.mode(&["maintenance", "unit System"]).unwrap().is_empty());
        let text = config.text("a", "4.30.1F");
        assert!(text.contains("maintenance\n   unit System\n"), "{text}");
    }

    #[test]
    fn image_names_carry_their_version() {
        assert_eq!(version_in_image_name("flash:EOS-4.32.2F.swi").unwrap().to_string(), "4.32.2F");
        assert_eq!(version_in_image_name("/mnt/flash/EOS64-4.31.1.1M.swi").unwrap().to_string(), "4.31.1.1M");
        assert!(version_in_image_name("flash:notes.txt").is_none());
        assert!(version_in_image_name("flash:EOS-23.4R2.swi").is_none());
    }
}
