//! The Junos driver: the [`Driver`] operations as NETCONF RPCs, over any transport a
//! [`Connector`] opens (an SSH channel's `netconf` subsystem, or an in-memory pipe to the lab).
//! Replies are read by [`parse`], in the shapes real devices send.
//!
//! - Facts per routing engine or virtual-chassis member: `show version invoke-on
//!   all-routing-engines` (as PyEZ asks first; `get-software-information` when refused) and
//!   `get-route-engine-information`; the master by its mastership state.
//! - Maintenance mode is one configuration change, made safely: lock, load
//!   ([`crate::maintenance`]'s lines), commit check, commit confirmed, confirm, unlock
//!   (synchronised to both routing engines when GRES is on).
//! - The image is copied to `/var/tmp` by SCP over the same SSH trust and its MD5 verified on the
//!   device against the catalog's; it is installed on every routing engine (`<re0/>`, `<re1/>`)
//!   or member (`<member>N</member>`); the reboot goes to both engines or all members (Junos
//!   Evolved reboots with its own RPC) and is proven by every engine's start time, not by a
//!   dropped session. Every wait has a deadline sized to its job.

pub mod parse;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::exec::{Chassis, Driver, DriverError, Facts, Installed};
use crate::health::HealthReport;
use crate::image::Image;
use crate::maintenance;
use crate::netconf::xml::{Element, escape};
use crate::netconf::{NetconfError, Session};
use parse::InstallReply;

/// Opens a byte stream to a device's NETCONF service.
pub trait Connector: Send + Sync + 'static {
    /// The stream type.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Connects to `device`.
    fn connect(&self, device: &str) -> impl Future<Output = std::io::Result<Self::Stream>> + Send;
    /// Copies the local file `local` into `directory` on `device` as `name` (SCP over the same
    /// trust as the NETCONF session).
    fn upload(
        &self,
        device: &str,
        local: &std::path::Path,
        directory: &str,
        name: &str,
    ) -> impl Future<Output = std::io::Result<()>> + Send;
}

/// Timeouts and pacing. RPC timeouts are real time; waits for the device itself (a reboot) are
/// device time, divided by `time_scale` for a lab whose clock runs faster (1.0 for real switches).
#[derive(Clone, Debug)]
pub struct JunosSettings {
    /// Ordinary RPCs.
    pub rpc_timeout: Duration,
    /// The least time a package install may take before it is given up (device time). A real
    /// install can take 45 minutes; larger images get more (two seconds per MB).
    pub install_timeout_min: Duration,
    /// Between attempts to reach a rebooting device.
    pub boot_poll_interval: Duration,
    /// `commit confirmed` rolls back after this many minutes without confirmation.
    pub confirm_timeout_minutes: u32,
    /// Virtual seconds per real second.
    pub time_scale: f64,
    /// What maintenance mode commits.
    pub maintenance: maintenance::MaintenanceMode,
}

impl Default for JunosSettings {
    fn default() -> Self {
        JunosSettings {
            rpc_timeout: Duration::from_secs(60),
            install_timeout_min: Duration::from_secs(3600),
            boot_poll_interval: Duration::from_secs(15),
            confirm_timeout_minutes: 5,
            time_scale: 1.0,
            maintenance: maintenance::MaintenanceMode::default(),
        }
    }
}

/// Drives Junos devices.
pub struct JunosDriver<C: Connector> {
    connector: C,
    settings: JunosSettings,
    /// The job the maintenance marker names ([`Driver::set_maintenance_owner`]).
    owner: std::sync::Mutex<Option<String>>,
    /// One NETCONF session per device, kept open and reused by every read (facts, health,
    /// snapshots, the drain check's polls, checksums), so a device upgrade is a handful of
    /// logins, not dozens: real switches rate-limit SSH logins and AAA servers log each one.
    sessions: std::sync::Mutex<std::collections::HashMap<String, SessionSlot<C::Stream>>>,
}

impl<C: Connector> Drop for JunosDriver<C> {
    fn drop(&mut self) {
        // An SSH channel closes itself on a task of the runtime it was opened in; a driver
        // dropped outside any runtime (a command's end) leaves its kept sessions to end with the
        // process instead of panicking.
        if tokio::runtime::Handle::try_current().is_err() {
            let sessions = std::mem::take(self.sessions.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner));
            std::mem::forget(sessions);
        }
    }
}

/// A device's kept session, if open; the mutex keeps one operation at a time on it.
type SessionSlot<S> = std::sync::Arc<tokio::sync::Mutex<Option<Session<S>>>>;

/// Operations that change the device and must not be sent twice: each gets a session of its
/// own (a reused session that turns out dead could leave in doubt whether the request went).
const ONCE_ONLY: [&str; 3] = ["package install", "reboot", "software rollback"];

/// The RPCs of a facts reading.
const SHOW_VERSION_ALL: &str = "<command>show version invoke-on all-routing-engines</command>";
const SOFTWARE: &str = "<get-software-information/>";
const ROUTE_ENGINES: &str = "<get-route-engine-information/>";
/// The committed configuration with its groups applied (`inherit`): what is in effect, which is
/// what maintenance mode must judge (a bundle disabled through a group is disabled).
const COMMITTED_SET: &str = "<get-configuration database=\"committed\" format=\"set\" inherit=\"inherit\"/>";
const PENDING: &str = "<request-package-checks-pending-install/>";

impl<C: Connector> JunosDriver<C> {
    /// A driver that reaches devices through `connector`.
    pub fn new(connector: C, settings: JunosSettings) -> JunosDriver<C> {
        JunosDriver {
            connector,
            settings,
            owner: std::sync::Mutex::new(None),
            sessions: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn real(&self, device_time: Duration) -> Duration {
        device_time.div_f64(self.settings.time_scale)
    }

    /// How long an install of `image` may take, in real time.
    fn install_timeout(&self, image: &Image) -> Duration {
        let size_mb = image.catalog.as_ref().map_or(0, |c| c.size_bytes / 1_000_000);
        self.real(self.settings.install_timeout_min.max(Duration::from_secs(2 * size_mb)))
    }

    async fn session(&self, device: &str, operation: &'static str) -> Result<Session<C::Stream>, DriverError> {
        let stream = self.connector.connect(device).await.map_err(|e| connect_error(device, operation, &e))?;
        Session::open(stream, device, self.settings.rpc_timeout).await.map_err(|e| convert(device, operation, e))
    }

    /// Runs RPCs in one session; the first failure ends it.
    async fn call(
        &self,
        device: &str,
        operation: &'static str,
        bodies: &[&str],
        timeout: Duration,
    ) -> Result<Vec<Element>, DriverError> {
        self.call_each(device, operation, bodies, timeout)
            .await?
            .into_iter()
            .map(|reply| reply.map_err(|e| convert(device, operation, e)))
            .collect()
    }

    /// Runs RPCs in one session, keeping each one's `<rpc-error>` as its own result; a failure
    /// of the transport ends the session and the call.
    async fn call_each(
        &self,
        device: &str,
        operation: &'static str,
        bodies: &[&str],
        timeout: Duration,
    ) -> Result<Vec<Result<Element, NetconfError>>, DriverError> {
        use tracing::Instrument;
        let span = tracing::debug_span!("rpc", device, operation, rpcs = bodies.len());
        self.call_each_in_session(device, operation, bodies, timeout).instrument(span).await
    }

    async fn call_each_in_session(
        &self,
        device: &str,
        operation: &'static str,
        bodies: &[&str],
        timeout: Duration,
    ) -> Result<Vec<Result<Element, NetconfError>>, DriverError> {
        if ONCE_ONLY.contains(&operation) {
            let mut session = self.session(device, operation).await?;
            let mut replies = Vec::with_capacity(bodies.len());
            for body in bodies {
                match session.rpc(body, timeout).await {
                    Err(e) if e.is_transport() => return Err(convert(device, operation, e)),
                    reply => replies.push(reply),
                }
            }
            session.close().await;
            if operation == "reboot" {
                // The kept session goes down with the device.
                self.forget(device).await;
            }
            return Ok(replies);
        }
        let slot = self.slot(device);
        let mut kept = slot.lock().await;
        // Bounded: a kept session found dead is replaced once.
        for attempt in 0..2 {
            let reused = kept.is_some();
            if kept.is_none() {
                *kept = Some(self.session(device, operation).await?);
            }
            let session = kept.as_mut().expect("opened just above");
            let mut replies = Vec::with_capacity(bodies.len());
            let mut broken = None;
            let mut in_doubt = false;
            for body in bodies {
                match session.rpc(body, timeout).await {
                    Err(e) if e.is_transport() => {
                        broken = Some(e);
                        break;
                    }
                    // A reply that cannot be read is that request's answer, but leaves the
                    // session in doubt: it is not kept.
                    Err(e) if !matches!(e, NetconfError::Rpc { .. }) => {
                        in_doubt = true;
                        replies.push(Err(e));
                    }
                    reply => replies.push(reply),
                }
            }
            let Some(error) = broken else {
                if in_doubt {
                    *kept = None;
                }
                return Ok(replies);
            };
            *kept = None;
            if reused && replies.is_empty() && attempt == 0 {
                // A kept session that died while idle (a reboot, an idle timeout): reads are
                // safe to ask again, on a new session.
                tracing::debug!(device, %error, "the kept session is gone; opening a new one");
                continue;
            }
            return Err(convert(device, operation, error));
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// The kept-session slot of `device`.
    fn slot(&self, device: &str) -> SessionSlot<C::Stream> {
        let mut sessions = self.sessions.lock().expect("not poisoned");
        std::sync::Arc::clone(sessions.entry(device.to_string()).or_default())
    }

    /// Drops `device`'s kept session (it rebooted).
    async fn forget(&self, device: &str) {
        let slot = self.slot(device);
        *slot.lock().await = None;
    }

    async fn configure(&self, device: &str, lines: &[String], synchronize: bool) -> Result<(), DriverError> {
        const OPERATION: &str = "maintenance mode";
        let mut session = self.session(device, OPERATION).await?;
        let timeout = self.settings.rpc_timeout;
        let set = escape(&lines.join("\n"));
        let sync = if synchronize { "<synchronize/>" } else { "" };
        let check = format!("<commit-configuration><check/>{sync}</commit-configuration>");
        let confirmed = format!(
            "<commit-configuration><confirmed/><confirm-timeout>{}</confirm-timeout>{sync}<log>hitless maintenance mode</log></commit-configuration>",
            self.settings.confirm_timeout_minutes
        );
        let confirm = format!("<commit-configuration>{sync}<log>hitless: confirmed</log></commit-configuration>");
        let load = format!(
            "<load-configuration action=\"set\" format=\"text\"><configuration-set>{set}</configuration-set></load-configuration>"
        );
        let steps = ["<lock-configuration/>", load.as_str(), check.as_str(), confirmed.as_str(), confirm.as_str()];
        let mut result = Ok(());
        for step in steps {
            if let Err(e) = session.rpc(step, timeout).await {
                result = Err(convert(device, OPERATION, e));
                break;
            }
        }
        // Unlock whatever happened; a failed unlock only matters if all else went well.
        let unlocked = session.rpc("<unlock-configuration/>", timeout).await;
        session.close().await;
        result?;
        unlocked.map(|_| ()).map_err(|e| convert(device, OPERATION, e))
    }

    /// What discovery reads from a device: its facts, its LLDP neighbours and its committed
    /// configuration (for bundles with an EVPN Ethernet segment and critical roles).
    pub async fn discover(&self, device: &str) -> Result<Discovered, DriverError> {
        let facts = self.facts(device).await?;
        let mut replies = self
            .call_each(
                device,
                "discovery",
                &["<get-lldp-neighbors-information/>", COMMITTED_SET],
                self.settings.rpc_timeout,
            )
            .await?;
        let configuration = match replies.pop().expect("two replies") {
            Ok(reply) => reply.text_of("configuration-set").unwrap_or_default().to_string(),
            Err(e) => return Err(convert(device, "discovery", e)),
        };
        let lldp = match replies.pop().expect("two replies") {
            Ok(reply) => parse::lldp_neighbours(&reply).map_err(|why| rejected(device, "discovery", why)),
            Err(e) => Err(convert(device, "LLDP neighbours", e)),
        };
        Ok(Discovered { facts, lldp, configuration, mlag_ports: Vec::new() })
    }

    /// The management address each neighbour on `ports` advertises over LLDP (`show lldp
    /// neighbors interface X`), for discovery from a seed. Ports whose neighbour advertises none
    /// are left out.
    pub async fn lldp_management(
        &self,
        device: &str,
        ports: &[String],
    ) -> Result<BTreeMap<String, String>, DriverError> {
        let bodies: Vec<String> = ports
            .iter()
            .map(|p| format!("<get-lldp-interface-neighbors><interface-device>{}</interface-device></get-lldp-interface-neighbors>", escape(p)))
            .collect();
        let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
        let mut replies = self.call_each(device, "LLDP neighbours", &refs, self.settings.rpc_timeout).await?;
        // An older (non-ELS) EX knows only `get-lldp-interface-neighbors-information` with
        // `<interface-name>`: asked again that way when the first form is refused as unknown.
        let refused = |r: &Result<Element, NetconfError>| matches!(r, Err(e) if RpcErrorKind::of(e) == Some(RpcErrorKind::SyntaxError));
        if !replies.is_empty() && replies.iter().all(refused) {
            let bodies: Vec<String> = ports
                .iter()
                .map(|p| format!("<get-lldp-interface-neighbors-information><interface-name>{}</interface-name></get-lldp-interface-neighbors-information>", escape(p)))
                .collect();
            let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
            replies = self.call_each(device, "LLDP neighbours", &refs, self.settings.rpc_timeout).await?;
        }
        Ok(ports
            .iter()
            .zip(replies)
            .filter_map(|(port, reply)| {
                let address = reply.ok()?.find("lldp-remote-management-address")?.text.trim().to_string();
                (!address.is_empty()).then(|| (port.clone(), address))
            })
            .collect())
    }

    async fn committed(&self, device: &str) -> Result<String, DriverError> {
        let config = self.call(device, "maintenance mode", &[COMMITTED_SET], self.settings.rpc_timeout).await?;
        Ok(config[0].text_of("configuration-set").unwrap_or_default().to_string())
    }
}

fn convert(device: &str, operation: &'static str, error: NetconfError) -> DriverError {
    let device = device.to_string();
    match error {
        NetconfError::Timeout { seconds, .. } => DriverError::Timeout { device, operation, seconds },
        e if e.is_transport() => DriverError::Unreachable { device, operation, message: e.to_string() },
        NetconfError::Rpc { message, tag, .. } => {
            DriverError::Rejected { device, operation, message: format!("{message} ({tag})") }
        }
        other => DriverError::Rejected { device, operation, message: other.to_string() },
    }
}

/// A failed connection: refused for good (host key, login, address: the connector says
/// `PermissionDenied`), or unreachable (perhaps rebooting).
fn connect_error(device: &str, operation: &'static str, error: &std::io::Error) -> DriverError {
    let (device, message) = (device.to_string(), error.to_string());
    if error.kind() == std::io::ErrorKind::PermissionDenied {
        DriverError::Refused { device, operation, message }
    } else {
        DriverError::Unreachable { device, operation, message }
    }
}

fn rejected(device: &str, operation: &'static str, message: impl Into<String>) -> DriverError {
    DriverError::Rejected { device: device.to_string(), operation, message: message.into() }
}

/// The options of an RPC that address every engine of `facts` one at a time: `<re0/>`,
/// `<re1/>`; `<member>N</member>`; nothing for a single engine.
fn per_engine_targets(facts: &Facts) -> Vec<String> {
    match facts.chassis {
        Chassis::Single => vec![String::new()],
        Chassis::DualEngine => facts.engines.iter().map(|e| format!("<re{}/>", e.slot)).collect(),
        Chassis::VirtualChassis => facts.engines.iter().map(|e| format!("<member>{}</member>", e.slot)).collect(),
    }
}

/// The reboot RPC for `facts`: both routing engines, all members, and Junos Evolved's own RPC.
pub fn reboot_rpc(facts: &Facts) -> String {
    let scope = match facts.chassis {
        Chassis::Single => "",
        Chassis::DualEngine => "<both-routing-engines/>",
        Chassis::VirtualChassis => "<all-members/>",
    };
    if facts.engines.iter().any(|e| e.version.is_evolved()) {
        format!("<request-system-reboot>{scope}</request-system-reboot>")
    } else {
        format!("<request-reboot>{scope}<in>0</in></request-reboot>")
    }
}

/// A checksum the device computed of a file.
struct DeviceSum {
    /// `sha-256`, or `md5` where the device offers nothing better.
    method: &'static str,
    /// Lower-case hex, as the device printed it.
    value: String,
}

impl DeviceSum {
    fn expected<'a>(&self, file: &'a crate::image::CatalogFile) -> &'a str {
        if self.method == "md5" { &file.md5 } else { &file.sha256 }
    }

    fn matches(&self, file: &crate::image::CatalogFile) -> bool {
        self.value.eq_ignore_ascii_case(self.expected(file))
    }
}

impl<C: Connector> JunosDriver<C> {
    /// The device's checksum of `path`: SHA-256 (`get-sha256-checksum-information`) where Junos
    /// offers it, MD5 (`get-checksum-information`) only where the device refuses that RPC as
    /// unknown ("syntax error", as Junos answers an RPC it lacks), which the log says. `None`
    /// when the file is not there ("No such file or directory", as PyEZ reads it).
    async fn device_checksum(
        &self,
        device: &str,
        path: &str,
        timeout: Duration,
    ) -> Result<Option<DeviceSum>, DriverError> {
        let path = escape(path);
        let sha256 = format!("<get-sha256-checksum-information><path>{path}</path></get-sha256-checksum-information>");
        let mut replies = self.call_each(device, "image checksum", &[&sha256], timeout).await?;
        let (method, reply) = match replies.remove(0) {
            Err(e) if RpcErrorKind::of(&e) == Some(RpcErrorKind::SyntaxError) => {
                tracing::warn!(device, "the device does not offer SHA-256 checksums; verifying the image with MD5");
                let md5 = format!("<get-checksum-information><path>{path}</path></get-checksum-information>");
                let mut replies = self.call_each(device, "image checksum", &[&md5], timeout).await?;
                ("md5", replies.remove(0))
            }
            other => ("sha-256", other),
        };
        match reply {
            Ok(reply) => Ok(Some(DeviceSum {
                method,
                value: reply.text_of("checksum").unwrap_or_default().trim().to_ascii_lowercase(),
            })),
            Err(e) if RpcErrorKind::of(&e) == Some(RpcErrorKind::NoSuchFile) => Ok(None),
            Err(e) => Err(convert(device, "image checksum", e)),
        }
    }
}

impl<C: Connector> Driver for JunosDriver<C> {
    async fn facts(&self, device: &str) -> Result<Facts, DriverError> {
        let bodies = [SHOW_VERSION_ALL, SOFTWARE, ROUTE_ENGINES, COMMITTED_SET, PENDING];
        let mut replies = self.call_each(device, "get facts", &bodies, self.settings.rpc_timeout).await?.into_iter();
        let mut next = || replies.next().expect("one reply per request");
        let (all, plain) = (next(), next());
        // `show version invoke-on all-routing-engines` speaks for every engine; a device that
        // refuses it answers for the engine that was asked.
        let software = all.or(plain).map_err(|e| convert(device, "get facts", e))?;
        let route_engines = next().map_err(|e| convert(device, "get facts", e))?;
        let config = next().map_err(|e| convert(device, "get facts", e))?;
        // A device that does not know the pending check (before 15.1) says so with an error;
        // an install it has pending still refuses a second install, which the executor reads.
        let pending = next().is_ok_and(|reply| parse::pending(&reply));
        let software = parse::software(&software);
        let (chassis, engines) = parse::engines(&software, &parse::route_engines(&route_engines))
            .map_err(|message| rejected(device, "get facts", message))?;
        let hostname = software.iter().find_map(|s| s.hostname.clone()).unwrap_or_else(|| device.to_string());
        let committed = config.text_of("configuration-set").unwrap_or_default();
        let maintenance = maintenance::is_on(committed.lines());
        let maintenance_owner = maintenance.then(|| maintenance::owner(committed.lines())).flatten();
        Ok(Facts { hostname, chassis, engines, maintenance, maintenance_owner, pending_install: pending })
    }

    async fn health(&self, device: &str, _image: &Image) -> Result<HealthReport, DriverError> {
        let bodies = [
            "<get-bgp-summary-information/>",
            "<get-alarm-information/>",
            "<get-system-alarm-information/>",
            ROUTE_ENGINES,
            "<get-lacp-interface-information/>",
            "<get-system-storage/>",
            "<get-interface-information><extensive/></get-interface-information>",
        ];
        let replies = self.call_each(device, "health check", &bodies, self.settings.rpc_timeout).await?;
        Ok(health_report(&replies))
    }

    async fn traffic_mbps(&self, device: &str) -> Result<u64, DriverError> {
        let body = "<get-interface-information><extensive/></get-interface-information>";
        let replies = self.call(device, "interface traffic", &[body], self.settings.rpc_timeout).await?;
        parse::traffic_mbps(&replies[0]).map_err(|why| rejected(device, "interface traffic", why))
    }

    async fn snapshot(&self, device: &str) -> Result<crate::snapshot::Snapshot, DriverError> {
        let bodies = [
            "<get-bgp-summary-information/>",
            "<get-lldp-neighbors-information/>",
            "<get-lacp-interface-information/>",
            "<get-interface-information><terse/></get-interface-information>",
            "<get-ethernet-switching-table-information><summary/></get-ethernet-switching-table-information>",
            ROUTE_ENGINES,
            "<get-alarm-information/>",
            "<get-system-alarm-information/>",
        ];
        let replies = self.call_each(device, "snapshot", &bodies, self.settings.rpc_timeout).await?;
        Ok(snapshot_of(&replies))
    }

    async fn set_maintenance(&self, device: &str, on: bool) -> Result<(), DriverError> {
        let committed = self.committed(device).await?;
        let lines = if on {
            let lacp = self
                .call_each(
                    device,
                    "maintenance mode",
                    &["<get-lacp-interface-information/>"],
                    self.settings.rpc_timeout,
                )
                .await?;
            let lags = match &lacp[0] {
                Ok(reply) => parse::lags(reply),
                Err(e) if lacp_not_running(e) => Vec::new(),
                Err(_) => {
                    let message = "cannot list the server-facing LAGs (get-lacp-interface-information failed)";
                    return Err(rejected(device, "maintenance mode", message));
                }
            };
            let mut lines = maintenance::enter_lines(
                &self.settings.maintenance,
                lags.iter().map(String::as_str),
                committed.lines(),
            );
            if let Some(owner) = self.owner.lock().expect("not poisoned").as_deref() {
                lines.insert(1, maintenance::owner_line(owner));
            }
            lines
        } else {
            maintenance::leave_lines(&self.settings.maintenance, committed.lines())
        };
        self.configure(device, &lines, maintenance::synchronized(committed.lines())).await
    }

    fn set_maintenance_owner(&self, owner: &str) {
        *self.owner.lock().expect("not poisoned") = Some(owner.to_string());
    }

    async fn stage_image(&self, device: &str, image: &Image) -> Result<(), DriverError> {
        let Some(file) = &image.catalog else {
            return Err(rejected(
                device,
                "image copy",
                format!(
                    "image {} is not from the catalog; a real upgrade needs a catalog image (`hitless image add`) whose checksum can be verified",
                    image.name
                ),
            ));
        };
        let destination = format!("{}/{}", parse::IMAGE_DIRECTORY, file.file_name);
        // Sized to the image: a minute, plus a generous 10 MB/s for the copy and the hashing.
        let sized = self.settings.rpc_timeout + Duration::from_secs(file.size_bytes / 10_000_000);
        let upload = self.connector.upload(device, &file.path, parse::IMAGE_DIRECTORY, &file.file_name);
        let copied = tokio::time::timeout(sized, upload).await.map_err(|_| DriverError::Timeout {
            device: device.to_string(),
            operation: "image copy",
            seconds: sized.as_secs(),
        })?;
        copied.map_err(|e| connect_error(device, "image copy", &e))?;
        match self.device_checksum(device, &destination, sized).await? {
            Some(sum) if sum.matches(file) => Ok(()),
            Some(sum) => Err(rejected(
                device,
                "image checksum",
                format!(
                    "{} of {destination} on the device is {}, the catalog says {}",
                    sum.method,
                    sum.value,
                    sum.expected(file)
                ),
            )),
            None => {
                Err(rejected(device, "image checksum", format!("{destination} is not on the device after the copy")))
            }
        }
    }

    async fn staged(&self, device: &str, image: &Image) -> Result<bool, DriverError> {
        let Some(file) = &image.catalog else {
            return Err(rejected(
                device,
                "image checksum",
                format!("image {} is not from the catalog; its checksum cannot be verified", image.name),
            ));
        };
        let destination = format!("{}/{}", parse::IMAGE_DIRECTORY, file.file_name);
        let sized = self.settings.rpc_timeout + Duration::from_secs(file.size_bytes / 10_000_000);
        Ok(self.device_checksum(device, &destination, sized).await?.is_some_and(|sum| sum.matches(file)))
    }

    async fn rollback(&self, device: &str, facts: &Facts, _to: &crate::version::Version) -> Result<(), DriverError> {
        for target in per_engine_targets(facts) {
            let body = format!("<request-package-rollback>{target}</request-package-rollback>");
            let reply = self.call(device, "software rollback", &[&body], self.settings.rpc_timeout).await?;
            // Every engine's or member's result and every output line (`parse::rollback`): one
            // that could not roll back fails the whole rollback.
            if let Err(words) = parse::rollback(&reply[0]) {
                let on = if target.is_empty() { String::new() } else { format!(" ({target})") };
                return Err(rejected(device, "software rollback", format!("{words}{on}")));
            }
        }
        Ok(())
    }

    async fn install(&self, device: &str, image: &Image, facts: &Facts) -> Result<Installed, DriverError> {
        let file_name = image.catalog.as_ref().map_or(image.name.as_str(), |c| c.file_name.as_str());
        let package = escape(&format!("{}/{file_name}", parse::IMAGE_DIRECTORY));
        let mut outcome = Installed::Done;
        // One engine at a time, as PyEZ does: each engine's result is read on its own.
        for target in per_engine_targets(facts) {
            let body = format!(
                "<request-package-add><no-validate/>{target}<package-name>{package}</package-name></request-package-add>"
            );
            let reply = self.call(device, "package install", &[&body], self.install_timeout(image)).await?;
            match parse::install(&reply[0]) {
                InstallReply::Installed => {}
                InstallReply::AlreadyPending => outcome = Installed::AlreadyPending,
                InstallReply::Failed(output) => {
                    let on = if target.is_empty() { String::new() } else { format!(" ({target})") };
                    return Err(rejected(device, "package install", format!("{output}{on}")));
                }
            }
        }
        Ok(outcome)
    }

    async fn reboot(&self, device: &str, facts: &Facts) -> Result<(), DriverError> {
        self.call(device, "reboot", &[&reboot_rpc(facts)], self.settings.rpc_timeout).await.map(|_| ())
    }

    async fn wait_for_boot(&self, device: &str, before: &Facts, deadline_seconds: u64) -> Result<Facts, DriverError> {
        let deadline = tokio::time::Instant::now() + self.real(Duration::from_secs(deadline_seconds));
        let mut stale: Vec<String> = Vec::new();
        // Bounded: at most deadline / interval attempts.
        loop {
            tokio::time::sleep(self.real(self.settings.boot_poll_interval)).await;
            if tokio::time::Instant::now() >= deadline {
                let operation = if stale.is_empty() {
                    "waiting for the device to boot"
                } else {
                    "waiting for every routing engine to boot"
                };
                let mut error =
                    DriverError::Timeout { device: device.to_string(), operation, seconds: deadline_seconds };
                if !stale.is_empty() {
                    let message = format!("{} did not reboot within {deadline_seconds} s", stale.join(", "));
                    error = rejected(device, "reboot", message);
                }
                return Err(error);
            }
            match self.facts(device).await {
                Ok(facts) => {
                    stale = facts.not_rebooted_since(before);
                    if stale.is_empty() {
                        return Ok(facts);
                    }
                }
                Err(DriverError::Unreachable { .. } | DriverError::Timeout { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
    }
}

/// True for the error a switch without LACP configured gives: no LAGs, not a failure.
fn lacp_not_running(error: &NetconfError) -> bool {
    RpcErrorKind::of(error) == Some(RpcErrorKind::LacpNotRunning)
}

/// What a Junos `<rpc-error>` means to the driver, told from its message here and nowhere else;
/// every decision on an error matches on this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcErrorKind {
    /// The RPC (or an element of it) is unknown to this Junos: an older or other release.
    SyntaxError,
    /// The file named does not exist.
    NoSuchFile,
    /// LACP is not configured on the device (so it has no LAGs).
    LacpNotRunning,
    /// Any other refusal.
    Other,
}

impl RpcErrorKind {
    /// The kind of `error` when it is an `<rpc-error>`; `None` for a transport failure.
    pub fn of(error: &NetconfError) -> Option<RpcErrorKind> {
        // The device's own words: read here, where they are classified once.
        let NetconfError::Rpc { message: words, .. } = error else { return None };
        Some(if words.contains("syntax error") {
            RpcErrorKind::SyntaxError
        } else if words.contains("No such file or directory") {
            RpcErrorKind::NoSuchFile
        } else if words.contains("lacp subsystem not running") {
            RpcErrorKind::LacpNotRunning
        } else {
            RpcErrorKind::Other
        })
    }
}

/// The health report from the replies to the health RPCs (in the order [`Driver::health`] asks);
/// every figure that cannot be read is missing, with why.
pub fn health_report(replies: &[Result<Element, NetconfError>]) -> HealthReport {
    let mut missing = Vec::new();
    let bgp = read(replies, 0, "BGP peers", &mut missing).map(parse::bgp_peers);
    let chassis = read(replies, 1, "chassis alarms", &mut missing).map(|r| parse::alarms(r, "chassis alarms"));
    let system = read(replies, 2, "system alarms", &mut missing).map(|r| parse::alarms(r, "system alarms"));
    let cpu = read(replies, 3, "routing-engine CPU", &mut missing).map(|r| parse::cpu_idle(&parse::route_engines(r)));
    let storage = read(replies, 5, "free disk", &mut missing).map(parse::free_disk);
    let errors = read(replies, 6, "interface errors", &mut missing).map(parse::interface_errors);
    let lacp_down = match &replies[4] {
        Ok(reply) => Some(parse::lacp_down(reply)),
        Err(e) if lacp_not_running(e) => Some(Vec::new()),
        Err(e) => {
            missing.push(format!("LACP state (the device answered: {e})"));
            None
        }
    };
    let bgp_peers = take(bgp, &mut missing);
    let alarms = match (take(chassis, &mut missing), take(system, &mut missing)) {
        (Some(mut chassis), Some(system)) => {
            chassis.extend(system);
            Some(chassis)
        }
        _ => None,
    };
    let re_cpu_idle_percent = take(cpu, &mut missing);
    let free_disk_bytes = take(storage, &mut missing);
    let interface_errors = take(errors, &mut missing);
    HealthReport { bgp_peers, alarms, re_cpu_idle_percent, interface_errors, lacp_down, free_disk_bytes, missing }
}

/// What discovery read from one device.
#[derive(Clone, Debug)]
pub struct Discovered {
    /// Hostname, engines (versions, models), chassis.
    pub facts: Facts,
    /// LLDP neighbours, or why they could not be read (LLDP off, say).
    pub lldp: Result<Vec<parse::LldpNeighbour>, DriverError>,
    /// The committed configuration as `set` statements (Junos), or `show running-config`
    /// (EOS).
    pub configuration: String,
    /// The local ports of its MLAG peer-link (EOS): a link seen on them from both ends joins an
    /// MLAG pair, not the fabric. Empty on Junos.
    pub mlag_ports: Vec<String>,
}

/// A snapshot from the replies to [`JunosDriver::snapshot`]'s RPCs, in their order.
pub fn snapshot_of(replies: &[Result<Element, NetconfError>]) -> crate::snapshot::Snapshot {
    let mut missing = Vec::new();
    let bgp = read(replies, 0, "BGP peers", &mut missing);
    let bgp_peers = take(bgp.map(parse::bgp_states), &mut missing);
    let routes = take(bgp.map(parse::bgp_routes), &mut missing);
    let lldp = take(read(replies, 1, "LLDP neighbours", &mut missing).map(parse::lldp), &mut missing);
    let lacp = match &replies[2] {
        Ok(reply) => Some(parse::lacp_bundles(reply)),
        Err(e) if lacp_not_running(e) => Some(Default::default()),
        Err(e) => {
            missing.push(format!("LACP bundles (the device answered: {e})"));
            None
        }
    };
    let interfaces_up = take(read(replies, 3, "interfaces", &mut missing).map(parse::interfaces_up), &mut missing);
    let macs = take(read(replies, 4, "MAC count", &mut missing).map(parse::mac_count), &mut missing);
    let cpu = read(replies, 5, "routing-engine CPU", &mut missing).map(|r| parse::cpu_idle(&parse::route_engines(r)));
    let re_cpu_idle_percent = take(cpu, &mut missing).map(|list| list.into_iter().collect());
    let chassis = read(replies, 6, "chassis alarms", &mut missing).map(|r| parse::alarms(r, "chassis alarms"));
    let system = read(replies, 7, "system alarms", &mut missing).map(|r| parse::alarms(r, "system alarms"));
    let alarms = match (take(chassis, &mut missing), take(system, &mut missing)) {
        (Some(chassis), Some(system)) => {
            Some(chassis.into_iter().chain(system).map(|a| format!("{}: {}", a.class, a.description)).collect())
        }
        _ => None,
    };
    crate::snapshot::Snapshot {
        bgp_peers,
        routes,
        lldp,
        lacp,
        interfaces_up,
        macs,
        re_cpu_idle_percent,
        alarms,
        missing,
    }
}

/// Reply `index`, or `None` with `what` noted as missing when the device refused the RPC.
fn read<'a>(
    replies: &'a [Result<Element, NetconfError>],
    index: usize,
    what: &str,
    missing: &mut Vec<String>,
) -> Option<&'a Element> {
    match &replies[index] {
        Ok(reply) => Some(reply),
        Err(e) => {
            missing.push(format!("{what} (the device answered: {e})"));
            None
        }
    }
}

/// The figure, or `None` with why noted as missing.
fn take<T>(parsed: Option<Result<T, parse::ReplyError>>, missing: &mut Vec<String>) -> Option<T> {
    match parsed? {
        Ok(value) => Some(value),
        Err(why) => {
            missing.push(why.0);
            None
        }
    }
}
