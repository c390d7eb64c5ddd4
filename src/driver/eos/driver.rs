//! The EOS driver: the executor's [`Driver`] operations as eAPI commands, over any transport an
//! [`Eapi`] gives (HTTPS to a switch, [`super::https`], or the lab in this process).
//!
//! - Facts: `show version` (version, model, boot time: a later `bootupTimestamp` proves a
//!   reload) and `show boot-config` (an install is pending when the boot image carries another
//!   version than the running one); maintenance mode and its marker from `show running-config`.
//! - Maintenance mode: `maintenance` / `unit System` / `quiesce` in a configuration session,
//!   with a `!!` comment naming the job and the boot image in effect when it was set (what a
//!   rollback returns to), committed and saved (`copy running-config startup-config`): the
//!   switch reloads with its startup configuration, and must come back still drained.
//! - The image goes to `flash:` by SCP (over the SSH trust of the Junos driver) and its MD5 is
//!   verified with `verify /md5` (text: the command has no JSON model); the install is `boot
//!   system flash:IMAGE`, saved; the reload is `reload now`, proven by the boot time.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};

use super::eapi::{self, EapiError, Format};
use super::parse;
use crate::exec::{Chassis, Driver, DriverError, Engine, Facts, Installed};
use crate::health::{Alarm, BgpPeer, HealthReport};
use crate::image::Image;

/// Where images go.
pub const FLASH_DIRECTORY: &str = "/mnt/flash";

/// The marker comment maintenance mode carries: `!! hitless-maintenance OWNER boot=IMAGE`.
const MARKER: &str = "!! hitless-maintenance";

/// The configuration session the driver's changes are made in.
const SESSION: &str = "hitless-maintenance";

/// Why a transport call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Not reached: refused, dropped, reset.
    #[error("{0}")]
    Unreachable(String),
    /// Reached, and refused in a way waiting will not cure: the certificate is unknown or
    /// changed, the login was refused.
    #[error("{0}")]
    Refused(String),
    /// No answer in time.
    #[error("no answer within {0} s")]
    Timeout(u64),
}

/// Carries eAPI requests to devices, and images to their flash.
pub trait Eapi: Send + Sync + 'static {
    /// Posts one JSON-RPC body to `device`'s `/command-api`; the reply's JSON.
    fn post(&self, device: &str, body: Value) -> impl Future<Output = Result<Value, TransportError>> + Send;
    /// Copies the local file `local` to `device`'s flash as `name`.
    fn upload(
        &self,
        device: &str,
        local: &std::path::Path,
        name: &str,
    ) -> impl Future<Output = std::io::Result<()>> + Send;
}

/// Timeouts and pacing, as for Junos: RPC timeouts real time, waits for the device device time.
#[derive(Clone, Debug)]
pub struct EosSettings {
    /// Ordinary requests.
    pub rpc_timeout: Duration,
    /// Between attempts to reach a reloading switch (device time).
    pub boot_poll_interval: Duration,
    /// Virtual seconds per real second.
    pub time_scale: f64,
}

impl Default for EosSettings {
    fn default() -> Self {
        EosSettings {
            rpc_timeout: Duration::from_secs(60),
            boot_poll_interval: Duration::from_secs(15),
            time_scale: 1.0,
        }
    }
}

/// Drives Arista EOS switches.
pub struct EosDriver<T: Eapi> {
    transport: T,
    settings: EosSettings,
    owner: std::sync::Mutex<Option<String>>,
    ids: std::sync::atomic::AtomicU64,
}

/// The maintenance state the running configuration shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// `unit System` is quiesced.
    pub on: bool,
    /// The job its marker names.
    pub owner: Option<String>,
    /// The boot image its marker recorded.
    pub boot: Option<String>,
}

/// Reads maintenance mode out of `show running-config` text: the lines of `maintenance` /
/// `unit System`.
pub fn maintenance_in(config: &str) -> Maintenance {
    let mut found = Maintenance::default();
    let mut path: Vec<(usize, String)> = Vec::new();
    for line in config.lines() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed == "!" || trimmed.starts_with("! ") {
            continue;
        }
        let depth = line.len() - trimmed.len();
        while path.last().is_some_and(|(d, _)| *d >= depth) {
            path.pop();
        }
        let inside = path.len() == 2 && path[0].1 == "maintenance" && path[1].1 == "unit System";
        if inside && trimmed == "quiesce" {
            found.on = true;
        }
        if inside && let Some(rest) = trimmed.strip_prefix(MARKER) {
            for word in rest.split_whitespace() {
                match word.split_once('=') {
                    Some(("boot", image)) => found.boot = Some(image.to_string()),
                    Some(("owner", owner)) => found.owner = Some(owner.to_string()),
                    _ => {}
                }
            }
        }
        path.push((depth, trimmed.to_string()));
    }
    found
}

/// The interfaces `show running-config` puts in port-channel `channel` (`Port-Channel1000`):
/// those with `channel-group 1000 mode ...`.
pub fn members_of(config: &str, channel: &str) -> Vec<String> {
    let Some(number) = channel.strip_prefix("Port-Channel") else { return Vec::new() };
    let wanted = format!("channel-group {number} ");
    let mut members = Vec::new();
    let mut current: Option<&str> = None;
    for line in config.lines() {
        if !line.starts_with(' ') {
            current = line.strip_prefix("interface ");
            continue;
        }
        if let Some(interface) = current
            && line.trim().starts_with(&wanted)
        {
            members.push(interface.to_string());
        }
    }
    members
}

/// True when `show running-config` has `graceful-restart` in its `router bgp` block.
pub fn bgp_graceful_restart(config: &str) -> bool {
    let mut inside = false;
    for line in config.lines() {
        if !line.starts_with(' ') {
            inside = line.starts_with("router bgp ");
            continue;
        }
        if inside && line.trim() == "graceful-restart" {
            return true;
        }
    }
    false
}

/// The CPU idle percentage `show processes top once` prints (`%Cpu(s): ... 91.4 id, ...`).
pub fn cpu_idle(top: &str) -> Option<u32> {
    let line = top.lines().find(|l| l.starts_with("%Cpu"))?;
    let idle = line.split(',').find(|part| part.trim_end().ends_with(" id"))?;
    let value: f64 = idle.trim().trim_end_matches("id").trim().parse().ok()?;
    Some(value.round().clamp(0.0, 100.0) as u32)
}

/// Free bytes of flash from `dir flash:` (`... bytes total (N bytes free)`).
pub fn flash_free(dir: &str) -> Option<u64> {
    let line = dir.lines().rev().find(|l| l.contains("bytes free"))?;
    let inside = line.split_once('(')?.1;
    inside.split_whitespace().next()?.parse().ok()
}

/// The files `dir flash:` lists (its lines starting with their mode, `-rwx`; the name is the
/// last column), directories left out.
pub fn flash_files(dir: &str) -> impl Iterator<Item = &str> {
    dir.lines().filter(|line| line.trim_start().starts_with('-')).filter_map(|line| line.split_whitespace().last())
}

/// True when `dir flash:` lists a file named `name`.
pub fn flash_lists(dir: &str, name: &str) -> bool {
    flash_files(dir).any(|file| file == name)
}

/// The checksum `verify /md5 flash:X` prints (`verify /md5 (flash:X) = HEX`).
pub fn verified_sum(text: &str) -> Option<String> {
    let sum = text.lines().find_map(|l| l.rsplit_once(" = "))?.1.trim();
    (!sum.is_empty() && sum.chars().all(|c| c.is_ascii_hexdigit())).then(|| sum.to_ascii_lowercase())
}

impl<T: Eapi> EosDriver<T> {
    /// A driver over `transport`.
    pub fn new(transport: T, settings: EosSettings) -> EosDriver<T> {
        EosDriver { transport, settings, owner: std::sync::Mutex::new(None), ids: std::sync::atomic::AtomicU64::new(1) }
    }

    /// Runs `cmds` (after `enable`) on `device`; their results, in order. Asked for as JSON, a
    /// request of reads only (`show`, `dir`, `verify`) of which a command has no JSON model is
    /// asked again as text, as pyeapi does; a request that changes anything is never sent twice.
    pub async fn run(
        &self,
        device: &str,
        operation: &'static str,
        cmds: &[&str],
        format: Format,
    ) -> Result<Vec<Value>, DriverError> {
        let reads_only = cmds.iter().all(|c| ["show ", "dir ", "verify "].iter().any(|p| c.starts_with(p)));
        match self.run_once(device, operation, cmds, format).await {
            Err(Ok(EapiError::NoJsonModel { command })) if format == Format::Json && reads_only => {
                tracing::debug!(device, command, "no JSON model: asked again as text");
                self.run_once(device, operation, cmds, Format::Text).await.map_err(|e| self.error(device, operation, e))
            }
            other => other.map_err(|e| self.error(device, operation, e)),
        }
    }

    fn error(&self, device: &str, operation: &'static str, error: Result<EapiError, DriverError>) -> DriverError {
        match error {
            Err(driver) => driver,
            Ok(EapiError::Malformed(why)) => {
                DriverError::Rejected { device: device.into(), operation, message: format!("eAPI reply: {why}") }
            }
            Ok(other) => DriverError::Rejected { device: device.into(), operation, message: other.to_string() },
        }
    }

    /// One request: the results, or eAPI's error (`Ok`) or the transport's (`Err`).
    async fn run_once(
        &self,
        device: &str,
        operation: &'static str,
        cmds: &[&str],
        format: Format,
    ) -> Result<Vec<Value>, Result<EapiError, DriverError>> {
        let mut all = vec![json!("enable")];
        all.extend(cmds.iter().map(|c| json!(c)));
        let id = format!("hitless-{}", self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let body = eapi::request(&id, &all, format);
        let reply = match tokio::time::timeout(self.settings.rpc_timeout, self.transport.post(device, body)).await {
            Err(_) => {
                let seconds = self.settings.rpc_timeout.as_secs();
                return Err(Err(DriverError::Timeout { device: device.into(), operation, seconds }));
            }
            Ok(Err(TransportError::Unreachable(message))) => {
                return Err(Err(DriverError::Unreachable { device: device.into(), operation, message }));
            }
            Ok(Err(TransportError::Refused(message))) => {
                return Err(Err(DriverError::Refused { device: device.into(), operation, message }));
            }
            Ok(Err(TransportError::Timeout(seconds))) => {
                return Err(Err(DriverError::Timeout { device: device.into(), operation, seconds }));
            }
            Ok(Ok(reply)) => reply,
        };
        let mut results = eapi::results(&reply, &all).map_err(Ok)?;
        results.remove(0);
        Ok(results)
    }

    async fn one(
        &self,
        device: &str,
        operation: &'static str,
        cmd: &str,
        format: Format,
    ) -> Result<Value, DriverError> {
        let mut results = self.run(device, operation, &[cmd], format).await?;
        Ok(results.pop().unwrap_or(Value::Null))
    }

    async fn text(&self, device: &str, operation: &'static str, cmd: &str) -> Result<String, DriverError> {
        let result = self.one(device, operation, cmd, Format::Text).await?;
        Ok(result.get("output").and_then(Value::as_str).unwrap_or_default().to_string())
    }

    fn unreadable(device: &str, operation: &'static str, why: impl std::fmt::Display) -> DriverError {
        DriverError::Rejected { device: device.into(), operation, message: why.to_string() }
    }

    /// The running configuration's maintenance state.
    pub async fn maintenance(&self, device: &str) -> Result<Maintenance, DriverError> {
        Ok(maintenance_in(&self.text(device, "maintenance state", "show running-config").await?))
    }

    async fn boot_image(&self, device: &str) -> Result<String, DriverError> {
        let reply = self.one(device, "boot-config", "show boot-config", Format::Json).await?;
        reply
            .get("softwareImage")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Self::unreadable(device, "boot-config", "no softwareImage in show boot-config"))
    }

    /// One configuration change in a session, committed and saved.
    async fn configure(&self, device: &str, operation: &'static str, lines: &[String]) -> Result<(), DriverError> {
        let sessions = self.one(device, operation, "show configuration sessions", Format::Json).await?;
        let pending: Vec<&String> = sessions
            .get("sessions")
            .and_then(Value::as_object)
            .map(|s| {
                s.iter()
                    .filter(|(_, v)| v.get("state").and_then(Value::as_str) == Some("pending"))
                    .map(|(k, _)| k)
                    .collect()
            })
            .unwrap_or_default();
        // A session of ours left pending by a controller that died is abandoned; another's is
        // someone's unfinished change, which a commit of ours would not carry but which says
        // someone is at work on the switch.
        if pending.iter().any(|name| *name != SESSION) {
            let names: Vec<&str> = pending.iter().map(|n| n.as_str()).collect();
            return Err(DriverError::Rejected {
                device: device.into(),
                operation,
                message: format!(
                    "configuration sessions are pending on the switch ({}): someone else is changing it",
                    names.join(", ")
                ),
            });
        }
        let mut cmds: Vec<String> = Vec::new();
        if !pending.is_empty() {
            cmds.push(format!("configure session {SESSION} abort"));
        }
        cmds.push(format!("configure session {SESSION}"));
        cmds.extend(lines.iter().cloned());
        cmds.push("commit".into());
        cmds.push("copy running-config startup-config".into());
        let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
        self.run(device, operation, &refs, Format::Json).await.map(|_| ())
    }

    /// The MD5 of `flash:NAME` as the switch computes it; `None` when the file is not on flash
    /// (by `dir flash:`, not by the wording of an error).
    async fn verify_md5(&self, device: &str, name: &str) -> Result<Option<String>, DriverError> {
        let listing = self.text(device, "image checksum", "dir flash:").await?;
        if !flash_lists(&listing, name) {
            return Ok(None);
        }
        let text = self.text(device, "image checksum", &format!("verify /md5 flash:{name}")).await?;
        Ok(verified_sum(&text))
    }

    /// What `hitless discover` reads of a switch: its facts, its LLDP neighbours (`show lldp
    /// neighbors detail`, with their capabilities), its running configuration, and the ports of
    /// its MLAG peer-link (`show mlag`'s `peerLink` and the interfaces in that channel).
    pub async fn discover(&self, device: &str) -> Result<crate::driver::junos::Discovered, DriverError> {
        let facts = self.facts(device).await?;
        let configuration = self.text(device, "discovery", "show running-config").await?;
        let lldp = self
            .one(device, "LLDP neighbours", "show lldp neighbors detail", Format::Json)
            .await
            .and_then(|reply| parse::lldp_detail(&reply).map_err(|e| Self::unreadable(device, "LLDP neighbours", e)));
        let mlag = self.one(device, "discovery", "show mlag", Format::Json).await?;
        let mlag_ports = match mlag.get("peerLink").and_then(Value::as_str) {
            Some(link) if mlag.get("state").and_then(Value::as_str) != Some("disabled") => {
                members_of(&configuration, link)
            }
            _ => Vec::new(),
        };
        Ok(crate::driver::junos::Discovered { facts, lldp, configuration, mlag_ports })
    }

    fn owner(&self) -> Option<String> {
        self.owner.lock().expect("not poisoned").clone()
    }
}

fn file_name(device: &str, image: &Image, operation: &'static str) -> Result<String, DriverError> {
    image.catalog.as_ref().map(|c| c.file_name.clone()).ok_or_else(|| DriverError::Rejected {
        device: device.into(),
        operation,
        message: format!("image {} has no file in the catalog to copy", image.name),
    })
}

impl<T: Eapi> Driver for EosDriver<T> {
    async fn facts(&self, device: &str) -> Result<Facts, DriverError> {
        let results = self.run(device, "facts", &["show version", "show boot-config"], Format::Json).await?;
        let version = parse::show_version(&results[0]).map_err(|e| Self::unreadable(device, "facts", e))?;
        let boot = results[1].get("softwareImage").and_then(Value::as_str).unwrap_or_default();
        let maintenance = self.maintenance(device).await?;
        // Pending: the boot-config names an image of another version than the running one. An
        // image whose name carries no version (`EOS.swi`) cannot say; it counts as not pending.
        let pending_install = parse::version_in_image_name(boot).is_some_and(|v| v != version.version);
        Ok(Facts {
            hostname: device.to_string(),
            chassis: Chassis::Single,
            engines: vec![Engine {
                name: "switch".into(),
                slot: 0,
                version: version.version,
                model: version.model,
                boot: version.booted_unix as u64,
                master: true,
            }],
            maintenance: maintenance.on,
            maintenance_owner: maintenance.owner,
            pending_install,
        })
    }

    async fn health(&self, device: &str, image: &Image) -> Result<HealthReport, DriverError> {
        let _ = image;
        let mut report = HealthReport::default();
        match self
            .one(device, "health", "show ip bgp summary vrf all", Format::Json)
            .await
            .map(|r| parse::bgp_summary(&r))
        {
            Ok(Ok(peers)) => {
                report.bgp_peers = Some(
                    peers
                        .into_iter()
                        .map(|(address, p)| BgpPeer { address, established: p.state == "Established", flaps: None })
                        .collect(),
                )
            }
            Ok(Err(e)) => report.missing.push(format!("BGP peers ({e})")),
            Err(e) => report.missing.push(format!("BGP peers ({e})")),
        }
        match self.alarms(device).await {
            Ok(alarms) => report.alarms = Some(alarms),
            Err(e) => report.missing.push(format!("alarms ({e})")),
        }
        match self.text(device, "health", "show processes top once").await.map(|t| cpu_idle(&t)) {
            Ok(Some(idle)) => report.re_cpu_idle_percent = Some(vec![("switch".into(), idle)]),
            Ok(None) => report.missing.push("CPU idle (no %Cpu line in show processes top once)".into()),
            Err(e) => report.missing.push(format!("CPU idle ({e})")),
        }
        match self.one(device, "health", "show interfaces counters errors", Format::Json).await {
            Ok(reply) => match reply.get("interfaceErrorCounters").and_then(Value::as_object) {
                Some(counters) => {
                    let errors: BTreeMap<String, u64> = counters
                        .iter()
                        .filter(|(name, _)| name.starts_with("Ethernet"))
                        .map(|(name, c)| {
                            let sum = ["inErrors", "outErrors", "fcsErrors", "alignmentErrors", "symbolErrors"]
                                .iter()
                                .filter_map(|f| c.get(*f).and_then(Value::as_u64))
                                .sum();
                            (name.clone(), sum)
                        })
                        .collect();
                    report.interface_errors = Some(errors);
                }
                None => report.missing.push("interface errors (no interfaceErrorCounters)".into()),
            },
            Err(e) => report.missing.push(format!("interface errors ({e})")),
        }
        match self.one(device, "health", "show port-channel", Format::Json).await {
            Ok(reply) => match reply.get("portChannels").and_then(Value::as_object) {
                Some(channels) => {
                    let down = channels
                        .iter()
                        .flat_map(|(lag, c)| {
                            c.get("inactivePorts")
                                .and_then(Value::as_object)
                                .into_iter()
                                .flat_map(move |ports| ports.keys().map(move |p| format!("{lag} {p}")))
                        })
                        .collect();
                    report.lacp_down = Some(down);
                }
                None => report.missing.push("LACP (no portChannels in show port-channel)".into()),
            },
            Err(e) => report.missing.push(format!("LACP ({e})")),
        }
        match self.text(device, "health", "dir flash:").await.map(|t| flash_free(&t)) {
            Ok(Some(free)) => report.free_disk_bytes = Some(vec![("flash:".into(), free)]),
            Ok(None) => report.missing.push("free flash (no `bytes free` in dir flash:)".into()),
            Err(e) => report.missing.push(format!("free flash ({e})")),
        }
        Ok(report)
    }

    async fn snapshot(&self, device: &str) -> Result<crate::snapshot::Snapshot, DriverError> {
        let mut snapshot = crate::snapshot::Snapshot::default();
        match self
            .one(device, "snapshot", "show ip bgp summary vrf all", Format::Json)
            .await
            .map(|r| parse::bgp_summary(&r))
        {
            Ok(Ok(peers)) => snapshot.bgp_peers = Some(peers.into_iter().map(|(a, p)| (a, p.state)).collect()),
            Ok(Err(e)) => snapshot.missing.push(format!("BGP peers ({e})")),
            Err(e) => snapshot.missing.push(format!("BGP peers ({e})")),
        }
        match self.one(device, "snapshot", "show lldp neighbors", Format::Json).await {
            Ok(reply) => match reply.get("lldpNeighbors").and_then(Value::as_array) {
                Some(list) => {
                    snapshot.lldp = Some(
                        list.iter()
                            .filter_map(|n| {
                                let port = n.get("port")?.as_str()?;
                                let system = n.get("neighborDevice")?.as_str()?;
                                let theirs = n.get("neighborPort")?.as_str()?;
                                Some((port.to_string(), format!("{system} {theirs}")))
                            })
                            .collect(),
                    )
                }
                None => snapshot.missing.push("LLDP (no lldpNeighbors)".into()),
            },
            Err(e) => snapshot.missing.push(format!("LLDP ({e})")),
        }
        match self.one(device, "snapshot", "show port-channel", Format::Json).await {
            Ok(reply) => match reply.get("portChannels").and_then(Value::as_object) {
                Some(channels) => {
                    snapshot.lacp = Some(
                        channels
                            .iter()
                            .map(|(lag, c)| {
                                let inactive =
                                    c.get("inactivePorts").and_then(Value::as_object).is_some_and(|p| !p.is_empty());
                                let active =
                                    c.get("activePorts").and_then(Value::as_object).is_some_and(|p| !p.is_empty());
                                (lag.clone(), active && !inactive)
                            })
                            .collect(),
                    )
                }
                None => snapshot.missing.push("LACP (no portChannels)".into()),
            },
            Err(e) => snapshot.missing.push(format!("LACP ({e})")),
        }
        match self.one(device, "snapshot", "show interfaces status", Format::Json).await {
            Ok(reply) => match reply.get("interfaceStatuses").and_then(Value::as_object) {
                Some(statuses) => {
                    snapshot.interfaces_up = Some(
                        statuses
                            .iter()
                            .filter(|(name, s)| {
                                !name.starts_with("Management")
                                    && s.get("linkStatus").and_then(Value::as_str) == Some("connected")
                            })
                            .map(|(name, _)| name.clone())
                            .collect(),
                    )
                }
                None => snapshot.missing.push("interfaces (no interfaceStatuses)".into()),
            },
            Err(e) => snapshot.missing.push(format!("interfaces ({e})")),
        }
        match self.alarms(device).await {
            Ok(alarms) => snapshot.alarms = Some(alarms.into_iter().map(|a| a.description).collect()),
            Err(e) => snapshot.missing.push(format!("alarms ({e})")),
        }
        match self.text(device, "snapshot", "show processes top once").await.map(|t| cpu_idle(&t)) {
            Ok(Some(idle)) => snapshot.re_cpu_idle_percent = Some([("switch".to_string(), idle)].into()),
            Ok(None) => snapshot.missing.push("CPU idle".into()),
            Err(e) => snapshot.missing.push(format!("CPU idle ({e})")),
        }
        snapshot.missing.push("route counts and the MAC count (not read from EOS yet)".into());
        Ok(snapshot)
    }

    async fn traffic_mbps(&self, device: &str) -> Result<u64, DriverError> {
        let reply = self.one(device, "traffic", "show interfaces counters rates", Format::Json).await?;
        let interfaces = reply
            .get("interfaces")
            .and_then(Value::as_object)
            .ok_or_else(|| Self::unreadable(device, "traffic", "no interfaces in show interfaces counters rates"))?;
        let bps: f64 = interfaces
            .iter()
            .filter(|(name, _)| name.starts_with("Ethernet"))
            .map(|(_, r)| {
                r.get("inBpsRate").and_then(Value::as_f64).unwrap_or(0.0)
                    + r.get("outBpsRate").and_then(Value::as_f64).unwrap_or(0.0)
            })
            .sum();
        Ok((bps / 1_000_000.0).round() as u64)
    }

    async fn set_maintenance(&self, device: &str, on: bool) -> Result<(), DriverError> {
        let lines: Vec<String> = if on {
            let boot = self.boot_image(device).await?;
            let owner = self.owner().unwrap_or_else(|| "unnamed".into());
            let owner: String = owner.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect();
            let boot: String = boot.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect();
            vec![
                "maintenance".into(),
                "unit System".into(),
                "quiesce".into(),
                format!("{MARKER} owner={owner} boot={boot}"),
            ]
        } else {
            vec!["maintenance".into(), "unit System".into(), "no quiesce".into(), "no comment".into()]
        };
        self.configure(device, "maintenance mode", &lines).await
    }

    fn set_maintenance_owner(&self, owner: &str) {
        *self.owner.lock().expect("not poisoned") = Some(owner.to_string());
    }

    async fn stage_image(&self, device: &str, image: &Image) -> Result<(), DriverError> {
        let name = file_name(device, image, "image copy")?;
        let catalog = image.catalog.as_ref().expect("file_name checked");
        self.transport.upload(device, &catalog.path, &name).await.map_err(|e| DriverError::Unreachable {
            device: device.into(),
            operation: "image copy",
            message: e.to_string(),
        })?;
        match self.verify_md5(device, &name).await? {
            Some(sum) if sum == catalog.md5 => Ok(()),
            Some(sum) => Err(DriverError::Rejected {
                device: device.into(),
                operation: "image copy",
                message: format!("flash:{name} has MD5 {sum}; the catalog says {}", catalog.md5),
            }),
            None => Err(DriverError::Rejected {
                device: device.into(),
                operation: "image copy",
                message: format!("flash:{name} is not on the switch after the copy"),
            }),
        }
    }

    async fn staged(&self, device: &str, image: &Image) -> Result<bool, DriverError> {
        let name = file_name(device, image, "image check")?;
        let md5 = &image.catalog.as_ref().expect("file_name checked").md5;
        Ok(self.verify_md5(device, &name).await?.as_ref() == Some(md5))
    }

    async fn install(&self, device: &str, image: &Image, facts: &Facts) -> Result<Installed, DriverError> {
        let _ = facts;
        let name = file_name(device, image, "install")?;
        let target = format!("flash:{name}");
        if self.boot_image(device).await? == target {
            return Ok(Installed::AlreadyPending);
        }
        let cmds = [
            "configure".to_string(),
            format!("boot system {target}"),
            "end".into(),
            "copy running-config startup-config".into(),
        ];
        let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
        self.run(device, "install", &refs, Format::Json).await?;
        match self.boot_image(device).await? {
            now if now == target => Ok(Installed::Done),
            now => Err(DriverError::Rejected {
                device: device.into(),
                operation: "install",
                message: format!("the boot-config names {now} after `boot system {target}`"),
            }),
        }
    }

    async fn rollback(&self, device: &str, facts: &Facts, to: &crate::version::Version) -> Result<(), DriverError> {
        let _ = facts;
        // The image of the version to return to, found on flash by the version its name
        // carries; else the boot image the maintenance marker recorded when the switch was
        // drained, if it is of that version.
        let listing = self.text(device, "software rollback", "dir flash:").await?;
        let on_flash = flash_files(&listing)
            .find(|name| parse::version_in_image_name(name).as_ref() == Some(to))
            .map(|name| format!("flash:{name}"));
        let marked = self
            .maintenance(device)
            .await?
            .boot
            .filter(|image| parse::version_in_image_name(image).as_ref() == Some(to));
        let Some(previous) = on_flash.or(marked) else {
            return Err(DriverError::Rejected {
                device: device.into(),
                operation: "software rollback",
                message: format!(
                    "no image of {to} on flash (by its name) to return to; copy one and set `boot system` by hand"
                ),
            });
        };
        let cmds = [
            "configure".to_string(),
            format!("boot system {previous}"),
            "end".into(),
            "copy running-config startup-config".into(),
        ];
        let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
        self.run(device, "software rollback", &refs, Format::Json).await.map(|_| ())
    }

    async fn reboot(&self, device: &str, facts: &Facts) -> Result<(), DriverError> {
        let _ = facts;
        // The switch drops the connection as it goes down: a transport error here is expected
        // (the executor proves the reload by the boot time).
        self.run(device, "reboot", &["reload now"], Format::Json).await.map(|_| ())
    }

    /// `show reload fast-boot` must find nothing to warn about, and BGP graceful restart must be
    /// configured (without it the peers drop the switch's routes while its control plane
    /// restarts).
    async fn ssu_blocker(&self, device: &str) -> Result<Option<String>, DriverError> {
        let check = self.text(device, "fast-boot check", "show reload fast-boot").await?;
        if !check.contains("No warnings or unsupported configuration found") {
            let said: Vec<&str> = check.lines().map(str::trim).filter(|l| !l.is_empty()).take(3).collect();
            return Ok(Some(format!("show reload fast-boot: {}", said.join(" / "))));
        }
        let config = self.text(device, "fast-boot check", "show running-config").await?;
        if !bgp_graceful_restart(&config) {
            return Ok(Some("BGP graceful restart is not configured (router bgp: graceful-restart)".into()));
        }
        Ok(None)
    }

    async fn fast_reboot(&self, device: &str, facts: &Facts) -> Result<(), DriverError> {
        let _ = facts;
        self.run(device, "fast reboot", &["reload fast-boot now"], Format::Json).await.map(|_| ())
    }

    async fn wait_for_boot(&self, device: &str, before: &Facts, deadline_seconds: u64) -> Result<Facts, DriverError> {
        let scale = self.settings.time_scale.max(1e-6);
        let real_deadline = Duration::from_secs_f64(deadline_seconds as f64 / scale);
        let poll = Duration::from_secs_f64(self.settings.boot_poll_interval.as_secs_f64() / scale);
        let started = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(poll).await;
            if let Ok(facts) = self.facts(device).await
                && facts.not_rebooted_since(before).is_empty()
            {
                return Ok(facts);
            }
            if started.elapsed() >= real_deadline {
                return Err(DriverError::Timeout {
                    device: device.into(),
                    operation: "reload",
                    seconds: deadline_seconds,
                });
            }
        }
    }
}

impl<T: Eapi> EosDriver<T> {
    /// Environment (temperature, cooling, power) and MLAG, as alarms: a pair that is not
    /// connected, or whose ports are active on one side only (a peer in its reload-delay), has
    /// no redundancy to lose.
    async fn alarms(&self, device: &str) -> Result<Vec<Alarm>, DriverError> {
        let cmds = [
            "show system environment temperature",
            "show system environment cooling",
            "show system environment power",
            "show mlag",
        ];
        let results = self.run(device, "alarms", &cmds, Format::Json).await?;
        let mut alarms = Vec::new();
        let major = |description: String| Alarm { class: "Major".into(), description };
        let status = |r: &Value| r.get("systemStatus").and_then(Value::as_str).unwrap_or("unknown").to_string();
        let temperature = status(&results[0]);
        if temperature != "temperatureOk" {
            alarms.push(major(format!("temperature: {temperature}")));
        }
        let cooling = status(&results[1]);
        if cooling != "coolingOk" {
            alarms.push(major(format!("cooling: {cooling}")));
        }
        if let Some(supplies) = results[2].get("powerSupplies").and_then(Value::as_object) {
            for (slot, supply) in supplies {
                let state = supply.get("state").and_then(Value::as_str).unwrap_or("unknown");
                if state != "ok" {
                    alarms.push(major(format!("power supply {slot}: {state}")));
                }
            }
        }
        let mlag = &results[3];
        let text = |field: &str| mlag.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
        if text("state") != "disabled" {
            if text("negStatus") != "connected" || text("peerLinkStatus") != "up" {
                alarms.push(major(format!(
                    "MLAG: peer {} (negotiation {}, peer-link {})",
                    "not connected",
                    text("negStatus"),
                    text("peerLinkStatus")
                )));
            }
            let count =
                |field: &str| mlag.get("mlagPorts").and_then(|p| p.get(field)).and_then(Value::as_u64).unwrap_or(0);
            let partial = count("Active-partial") + count("Inactive");
            if partial > 0 {
                alarms.push(major(format!(
                    "MLAG: {partial} ports active on one peer only (a peer in its reload-delay, or down)"
                )));
            }
        }
        Ok(alarms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_read_only_inside_unit_system() {
        let config = "! Command: show running-config\nhostname leaf1\n!\nmaintenance\n   unit System\n      quiesce\n      !! hitless-maintenance owner=job-0001/s@h boot=flash:EOS-4.30.1F.swi\n!\ninterface Ethernet1\n   description quiesce\nend\n";
        let found = maintenance_in(config);
        assert_eq!(
            found,
            Maintenance { on: true, owner: Some("job-0001/s@h".into()), boot: Some("flash:EOS-4.30.1F.swi".into()) }
        );
        let config = "interface Ethernet47\n   channel-group 1000 mode active\n!\ninterface Ethernet1\n   channel-group 1 mode active\ninterface Ethernet48\n   channel-group 1000 mode active\nend\n";
        assert_eq!(members_of(config, "Port-Channel1000"), ["Ethernet47", "Ethernet48"]);
        assert!(members_of(config, "Vlan10").is_empty());
        assert!(bgp_graceful_restart("router bgp 65001\n   router-id 1.1.1.1\n   graceful-restart\n!\nend\n"));
        assert!(!bgp_graceful_restart(
            "router bgp 65001\n   router-id 1.1.1.1\n!\ninterface Ethernet1\n   graceful-restart\nend\n"
        ));
        let other_unit = "maintenance\n   unit Port-Channel1\n      quiesce\nend\n";
        assert_eq!(maintenance_in(other_unit), Maintenance::default());
    }

    #[test]
    fn cpu_flash_and_checksum_texts() {
        assert_eq!(cpu_idle("%Cpu(s):  6.1 us,  2.0 sy,  0.0 ni, 91.4 id,  0.0 wa"), Some(91));
        assert_eq!(cpu_idle("nothing"), None);
        assert_eq!(
            flash_free("Directory of flash:/\n\n3957878784 bytes total (2857878784 bytes free)\n"),
            Some(2_857_878_784)
        );
        assert_eq!(verified_sum("verify /md5 (flash:EOS-4.32.2F.swi) = 0123ABCDEF\n").as_deref(), Some("0123abcdef"));
        assert_eq!(verified_sum("% Error"), None);
        let dir = "Directory of flash:/\n\n       -rwx  1024000000  Dec 1 10:00  EOS-4.30.1F.swi\n       drwx        4096  Dec 1 10:00  persist\n";
        assert!(flash_lists(dir, "EOS-4.30.1F.swi"));
        assert!(!flash_lists(dir, "EOS-4.30.1F") && !flash_lists(dir, "persist"));
    }
}
