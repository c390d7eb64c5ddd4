//! The Junos driver: the [`Driver`] operations as NETCONF RPCs, over any transport a
//! [`Connector`] opens (an SSH channel's `netconf` subsystem, or an in-memory pipe to the lab).
//!
//! Maintenance mode is one configuration change, made safely: lock, load (`set`/`delete`
//! lines: BGP graceful shutdown, and the server-facing LAGs disabled), commit check, commit
//! confirmed, confirm, unlock. The image is copied to `/var/tmp` by SCP over the same SSH trust
//! and its MD5 is verified on the device against the catalog's. A reboot is proven by a changed routing-engine start time, not
//! by a dropped session; every wait has a deadline sized to its job.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::exec::{Driver, DriverError, Facts};
use crate::health::HealthReport;
use crate::image::Image;
use crate::maintenance;
use crate::netconf::xml::{Element, escape};
use crate::netconf::{NetconfError, Session};
use crate::version::Version;

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
    /// The package install (an RPC that can run for many minutes).
    pub install_timeout: Duration,
    /// Between attempts to reach a rebooting device.
    pub boot_poll_interval: Duration,
    /// `commit confirmed` rolls back after this many minutes without confirmation.
    pub confirm_timeout_minutes: u32,
    /// Virtual seconds per real second.
    pub time_scale: f64,
}

impl Default for JunosSettings {
    fn default() -> Self {
        JunosSettings {
            rpc_timeout: Duration::from_secs(60),
            install_timeout: Duration::from_secs(1800),
            boot_poll_interval: Duration::from_secs(15),
            confirm_timeout_minutes: 5,
            time_scale: 1.0,
        }
    }
}

/// Drives Junos devices.
pub struct JunosDriver<C: Connector> {
    connector: C,
    settings: JunosSettings,
}

impl<C: Connector> JunosDriver<C> {
    /// A driver that reaches devices through `connector`.
    pub fn new(connector: C, settings: JunosSettings) -> JunosDriver<C> {
        JunosDriver { connector, settings }
    }

    fn real(&self, device_time: Duration) -> Duration {
        device_time.div_f64(self.settings.time_scale)
    }

    async fn session(&self, device: &str, operation: &'static str) -> Result<Session<C::Stream>, DriverError> {
        let stream = self.connector.connect(device).await.map_err(|e| DriverError::Unreachable {
            device: device.to_string(),
            operation,
            message: e.to_string(),
        })?;
        Session::open(stream, device, self.settings.rpc_timeout).await.map_err(|e| convert(device, operation, e))
    }

    /// Runs RPCs in one session; the session is closed afterwards.
    async fn call(
        &self,
        device: &str,
        operation: &'static str,
        bodies: &[&str],
        timeout: Duration,
    ) -> Result<Vec<Element>, DriverError> {
        let mut session = self.session(device, operation).await?;
        let mut replies = Vec::with_capacity(bodies.len());
        for body in bodies {
            let reply = session.rpc(body, timeout).await.map_err(|e| convert(device, operation, e))?;
            replies.push(reply);
        }
        session.close().await;
        Ok(replies)
    }

    async fn configure(&self, device: &str, lines: &[String]) -> Result<(), DriverError> {
        const OPERATION: &str = "maintenance mode";
        let mut session = self.session(device, OPERATION).await?;
        let timeout = self.settings.rpc_timeout;
        let set = escape(&lines.join("\n"));
        let confirmed = format!(
            "<commit-configuration><confirmed/><confirm-timeout>{}</confirm-timeout><log>hitless maintenance mode</log></commit-configuration>",
            self.settings.confirm_timeout_minutes
        );
        let load = format!(
            "<load-configuration action=\"set\" format=\"text\"><configuration-set>{set}</configuration-set></load-configuration>"
        );
        let steps = [
            "<lock-configuration/>",
            load.as_str(),
            "<commit-configuration><check/></commit-configuration>",
            confirmed.as_str(),
            "<commit-configuration><log>hitless: confirmed</log></commit-configuration>",
        ];
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

/// Input plus output errors over every physical interface.
fn interface_errors(reply: &Element) -> u64 {
    let mut interfaces = Vec::new();
    reply.find_all("physical-interface", &mut interfaces);
    let count =
        |interface: &Element, list: &str, counter: &str| interface.child(list).map_or(0, |l| number(l, counter));
    interfaces
        .iter()
        .map(|i| count(i, "input-error-list", "input-errors") + count(i, "output-error-list", "output-errors"))
        .sum()
}

fn number(element: &Element, name: &str) -> u64 {
    element.text_of(name).and_then(|t| t.parse().ok()).unwrap_or(0)
}

fn parse_facts(
    device: &str,
    software: &Element,
    engine: &Element,
    config: &Element,
    pending: &Element,
) -> Result<Facts, DriverError> {
    let bad = |message: String| DriverError::Rejected { device: device.to_string(), operation: "get facts", message };
    let version_text =
        software.text_of("junos-version").ok_or_else(|| bad("no junos-version in get-software-information".into()))?;
    let version = Version::parse(version_text).map_err(|e| bad(e.to_string()))?;
    let boot = engine
        .find("start-time")
        .and_then(|e| e.attribute("seconds"))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no routing-engine start-time in get-route-engine-information".into()))?;
    let set = config.text_of("configuration-set").unwrap_or_default();
    let maintenance = maintenance::is_on(set.lines());
    let pending_install = (pending.text_of("package-result") == Some("1"))
        .then(|| {
            pending
                .text_of("output")
                .unwrap_or_default()
                .split_whitespace()
                .skip_while(|w| *w != "JUNOS")
                .nth(1)
                .map(str::to_string)
        })
        .flatten()
        .and_then(|v| Version::parse(&v).ok());
    Ok(Facts {
        hostname: software.text_of("host-name").unwrap_or(device).to_string(),
        version,
        maintenance,
        pending_install,
        boot_count: boot,
    })
}

impl<C: Connector> Driver for JunosDriver<C> {
    async fn facts(&self, device: &str) -> Result<Facts, DriverError> {
        let bodies = [
            "<get-software-information/>",
            "<get-route-engine-information/>",
            "<get-configuration database=\"committed\" format=\"set\"/>",
            "<request-package-checks-pending-install/>",
        ];
        let replies = self.call(device, "get facts", &bodies, self.settings.rpc_timeout).await?;
        parse_facts(device, &replies[0], &replies[1], &replies[2], &replies[3])
    }

    async fn health(&self, device: &str, _image: &Image) -> Result<HealthReport, DriverError> {
        let bodies = [
            "<get-bgp-summary-information/>",
            "<get-alarm-information/>",
            "<get-route-engine-information/>",
            "<get-lacp-interface-information/>",
            "<get-system-storage/>",
            "<get-interface-information><extensive/></get-interface-information>",
        ];
        let r = self.call(device, "health check", &bodies, self.settings.rpc_timeout).await?;
        let mut peers = Vec::new();
        r[0].find_all("bgp-peer", &mut peers);
        let mut muxes = Vec::new();
        r[3].find_all("lacp-mux-state", &mut muxes);
        let mut filesystems = Vec::new();
        r[4].find_all("filesystem", &mut filesystems);
        let var = filesystems.iter().find(|f| f.text_of("mounted-on") == Some("/var")).or(filesystems.first());
        Ok(HealthReport {
            bgp_peers_down: number(&r[0], "down-peer-count") as u32,
            bgp_flaps: peers.iter().map(|p| number(p, "flap-count") as u32).sum(),
            alarms: number(&r[1], "active-alarm-count") as u32,
            re_cpu_idle_percent: number(&r[2], "cpu-idle") as u32,
            interface_errors: interface_errors(&r[5]),
            lacp_down: muxes.iter().filter(|m| m.text.trim() != "Collecting distributing").count() as u32,
            free_disk_mb: var.map_or(0, |f| number(f, "available-blocks") / 1024),
        })
    }

    async fn set_maintenance(&self, device: &str, on: bool) -> Result<(), DriverError> {
        let lines = if on {
            let lacp = self
                .call(device, "maintenance mode", &["<get-lacp-interface-information/>"], self.settings.rpc_timeout)
                .await?;
            let mut lags = Vec::new();
            lacp[0].find_all("aggregate-name", &mut lags);
            maintenance::enter_lines(lags.iter().map(|l| l.text.trim()))
        } else {
            let config = self
                .call(
                    device,
                    "maintenance mode",
                    &["<get-configuration database=\"committed\" format=\"set\"/>"],
                    self.settings.rpc_timeout,
                )
                .await?;
            maintenance::leave_lines(config[0].text_of("configuration-set").unwrap_or_default().lines())
        };
        self.configure(device, &lines).await
    }

    async fn stage_image(&self, device: &str, image: &Image) -> Result<(), DriverError> {
        let Some(file) = &image.catalog else {
            return Err(DriverError::Rejected {
                device: device.to_string(),
                operation: "image copy",
                message: format!(
                    "image {} is not from the catalog; a real upgrade needs a catalog image (`hitless image add`) whose checksum can be verified",
                    image.name
                ),
            });
        };
        let destination = format!("/var/tmp/{}", file.file_name);
        // Sized to the image: a minute, plus a generous 10 MB/s for the copy and the hashing.
        let sized = self.settings.rpc_timeout + Duration::from_secs(file.size_bytes / 10_000_000);
        let upload = self.connector.upload(device, &file.path, "/var/tmp", &file.file_name);
        let copied = tokio::time::timeout(sized, upload).await.map_err(|_| DriverError::Timeout {
            device: device.to_string(),
            operation: "image copy",
            seconds: sized.as_secs(),
        })?;
        copied.map_err(|e| DriverError::Unreachable {
            device: device.to_string(),
            operation: "image copy",
            message: e.to_string(),
        })?;
        let checksum =
            format!("<get-checksum-information><path>{}</path></get-checksum-information>", escape(&destination));
        let replies = self.call(device, "image checksum", &[&checksum], sized).await?;
        let found = replies[0].text_of("checksum").unwrap_or_default();
        if found != file.md5 {
            return Err(DriverError::Rejected {
                device: device.to_string(),
                operation: "image checksum",
                message: format!("md5 of {destination} on the device is {found}, the catalog says {}", file.md5),
            });
        }
        Ok(())
    }

    async fn install(&self, device: &str, image: &Image) -> Result<(), DriverError> {
        let file_name = image.catalog.as_ref().map_or(image.name.as_str(), |c| c.file_name.as_str());
        let body = format!(
            "<request-package-add><no-validate/><package-name>/var/tmp/{}</package-name></request-package-add>",
            escape(file_name)
        );
        let reply = self.call(device, "package install", &[&body], self.settings.install_timeout).await?;
        if reply[0].text_of("package-result") != Some("0") {
            let output = reply[0].text_of("output").unwrap_or("no output");
            return Err(DriverError::Rejected {
                device: device.to_string(),
                operation: "package install",
                message: output.to_string(),
            });
        }
        Ok(())
    }

    async fn reboot(&self, device: &str) -> Result<(), DriverError> {
        self.call(device, "reboot", &["<request-reboot><in>0</in></request-reboot>"], self.settings.rpc_timeout)
            .await
            .map(|_| ())
    }

    async fn wait_for_boot(
        &self,
        device: &str,
        previous_boot_count: u64,
        deadline_seconds: u64,
    ) -> Result<Facts, DriverError> {
        let deadline = tokio::time::Instant::now() + self.real(Duration::from_secs(deadline_seconds));
        let timeout = DriverError::Timeout {
            device: device.to_string(),
            operation: "waiting for the device to boot",
            seconds: deadline_seconds,
        };
        // Bounded: at most deadline / interval attempts.
        loop {
            tokio::time::sleep(self.real(self.settings.boot_poll_interval)).await;
            if tokio::time::Instant::now() >= deadline {
                return Err(timeout);
            }
            match self.facts(device).await {
                Ok(facts) if facts.boot_count > previous_boot_count => return Ok(facts),
                Ok(_) | Err(DriverError::Unreachable { .. } | DriverError::Timeout { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
    }
}
