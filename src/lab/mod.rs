//! The lab emulator: one emulated Junos device per fabric device, speaking NETCONF with the RPCs
//! and reply shapes the Junos driver uses (see `shared/reference/junos-netconf.md`).
//!
//! The devices share one model of the fabric ([`Lab`]): a device's BGP summary shows its peers
//! down while they reboot, maintenance mode is visible in its configuration, an install takes
//! effect only after a reboot, and a rebooting device refuses sessions until it is back with the
//! new version and a new boot time. Time runs on tokio's clock, scaled by `time_scale` (virtual
//! seconds per real second). Faults from the scenario apply.
//!
//! A session is served over any `AsyncRead + AsyncWrite` stream ([`server::serve`]): an in-memory
//! pipe in tests, standard input and output under an SSH server's `Subsystem netconf`.

pub mod addresses;
pub mod config;
pub mod configure;
pub mod device;
pub mod eapi;
pub mod eos;
pub mod ops;
pub mod rpc;
pub mod scp;
pub mod server;
pub mod sftp;
pub mod ssh;

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::faults::{Fault, FaultKind, FaultPhase, fault_at};
use crate::model::{Fabric, Role};
use crate::timing::TimingProfile;
pub use device::LabDevice;

/// The emulated fabric.
pub struct Lab {
    pub(crate) devices: Mutex<BTreeMap<String, LabDevice>>,
    /// BGP neighbours of each device (its fabric links).
    pub(crate) neighbours: BTreeMap<String, Vec<String>>,
    /// Server-facing LAGs of each leaf (`ae0`, `ae1`, ...), one per attached server.
    pub(crate) server_lags: BTreeMap<String, Vec<String>>,
    /// Which server each (leaf, bundle) goes to.
    pub(crate) lag_servers: BTreeMap<(String, String), String>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) timing: TimingProfile,
    pub(crate) roles: BTreeMap<String, Role>,
    /// Each device's vendor: an Arista device answers eAPI ([`eos`]), a Juniper one NETCONF.
    pub(crate) vendors: BTreeMap<String, crate::model::Vendor>,
    /// Each MLAG member's peer.
    pub(crate) mlag: BTreeMap<String, String>,
    /// Virtual seconds per real second.
    pub time_scale: f64,
    /// Advertise base:1.1 (chunked framing), as Junos does with `rfc-compliant` and `version-1.1`.
    pub base_11: bool,
    /// An SSH session that sends nothing for this long is closed (real time), as a switch's SSH
    /// server closes idle sessions; keepalives count as something.
    pub ssh_idle_timeout: std::time::Duration,
    /// A connection that has not logged in within this long is closed (real time), as sshd's
    /// LoginGraceTime does: idle pre-login connections cannot pile up.
    pub pre_login_timeout: std::time::Duration,
    /// Connections one device serves at once; more are closed at once (as sshd's MaxStartups
    /// refuses them).
    pub connections_per_device: usize,
    /// Connections the whole lab serves at once.
    pub connections_total: usize,
    started: tokio::time::Instant,
    start_unix: u64,
    /// Each device's management address, as its LLDP neighbours advertise it (set by `hitless
    /// lab --loopback-port`); otherwise a made-up 10.254.x.y.
    pub management: BTreeMap<String, String>,
    /// The only host directory `file-copy` reads from (`hitless lab` gives its state directory):
    /// any other source, or none set, is refused with an `<rpc-error>`.
    pub copy_from: Option<std::path::PathBuf>,
    /// Logins per device: SSH logins accepted, and in memory each session and file copy, as a
    /// switch's AAA server would record them.
    logins: Mutex<BTreeMap<String, u64>>,
}

impl Lab {
    /// Counts a login to `device`.
    pub(crate) fn count_login(&self, device: &str) {
        *self.logins.lock().expect("not poisoned").entry(device.to_string()).or_default() += 1;
    }

    /// Logins to `device` so far (see [`Lab`]'s `logins`).
    pub fn logins(&self, device: &str) -> u64 {
        self.logins.lock().expect("not poisoned").get(device).copied().unwrap_or(0)
    }

    /// Builds the lab for a fabric. `start_unix` is the wall-clock time the lab's clock starts at.
    pub fn new(fabric: &Fabric, timing: TimingProfile, faults: Vec<Fault>, time_scale: f64, start_unix: u64) -> Lab {
        assert!(time_scale > 0.0, "lab time runs forwards");
        let mut devices = BTreeMap::new();
        let mut neighbours = BTreeMap::new();
        let mut server_lags: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut lag_servers: BTreeMap<(String, String), String> = BTreeMap::new();
        for (id, device) in fabric.iter() {
            devices.insert(device.name.clone(), LabDevice::new(device, start_unix));
            let names = fabric.neighbours(id).iter().map(|n| fabric.device(*n).name.clone()).collect();
            neighbours.insert(device.name.clone(), names);
        }
        // One LACP bundle per server on each of its leafs; a multihomed server's bundles carry
        // its EVPN Ethernet segment (an ESI-LAG, the same ESI on every leaf), a single-homed
        // server's carry none. A border leaf also has a bundle to the WAN router (no ESI): none
        // of these but the ESI-LAGs may be disabled by maintenance mode.
        for (index, server) in fabric.servers().iter().enumerate() {
            for leaf in &server.leafs {
                let name = fabric.device(*leaf).name.clone();
                let lags = server_lags.entry(name.clone()).or_default();
                let lag = format!("ae{}", lags.len());
                lags.push(lag.clone());
                lag_servers.insert((name.clone(), lag.clone()), server.name.clone());
                if server.leafs.len() > 1
                    && let Some(device) = devices.get_mut(&name)
                {
                    let esi = format!("00:00:00:00:00:00:00:00:{:02x}:{:02x}", (index >> 8) & 0xff, index & 0xff);
                    for line in
                        [format!("set interfaces {lag} esi {esi}"), format!("set interfaces {lag} esi all-active")]
                    {
                        device.config.apply(&line).expect("a valid ESI statement");
                    }
                }
            }
        }
        for device in fabric.devices() {
            if device.critical_roles.contains(&crate::model::CriticalRole::DcGateway) {
                server_lags.entry(device.name.clone()).or_default().push(WAN_LAG.to_string());
            }
        }
        base_configuration(fabric, &mut devices, &server_lags);
        for (id, device) in fabric.iter() {
            let Some(state) = devices.get_mut(&device.name) else { continue };
            let peer = fabric.mlag_peer(id).map(|p| fabric.device(p).name.clone());
            // The index the EOS replies number the device by (its place among the names).
            let index = neighbours.keys().position(|n| *n == device.name).unwrap_or(0);
            let mine: Vec<String> = fabric.neighbours(id).iter().map(|n| fabric.device(*n).name.clone()).collect();
            let lags = server_lags.get(&device.name).map_or(0, Vec::len);
            eos::base_configuration(state, index, &mine, lags, peer.as_deref(), timing.mlag_reload_delay_seconds);
        }
        let roles = fabric.devices().iter().map(|d| (d.name.clone(), d.role)).collect();
        let vendors = fabric.devices().iter().map(|d| (d.name.clone(), d.vendor())).collect();
        let mut mlag = BTreeMap::new();
        for (a, b) in fabric.mlag_pairs() {
            let (a, b) = (fabric.device(*a).name.clone(), fabric.device(*b).name.clone());
            mlag.insert(a.clone(), b.clone());
            mlag.insert(b, a);
        }
        Lab {
            devices: Mutex::new(devices),
            neighbours,
            server_lags,
            lag_servers,
            faults,
            timing,
            roles,
            vendors,
            mlag,
            time_scale,
            base_11: false,
            ssh_idle_timeout: std::time::Duration::from_secs(600),
            pre_login_timeout: std::time::Duration::from_secs(30),
            connections_per_device: 32,
            connections_total: 1024,
            started: tokio::time::Instant::now(),
            start_unix,
            management: BTreeMap::new(),
            copy_from: None,
            logins: Mutex::new(BTreeMap::new()),
        }
    }

    /// The lab's clock in virtual Unix seconds.
    pub fn now_unix(&self) -> u64 {
        self.start_unix + (self.started.elapsed().as_secs_f64() * self.time_scale) as u64
    }

    /// Real time for `seconds` of lab time.
    pub fn real(&self, seconds: u32) -> std::time::Duration {
        std::time::Duration::from_secs_f64(f64::from(seconds) / self.time_scale)
    }

    pub(crate) fn fault(&self, device: &str, phase: FaultPhase) -> Option<FaultKind> {
        fault_at(&self.faults, device, phase)
    }

    /// The vendor of `device` (Juniper for a name the lab does not know).
    pub fn devices_vendor(&self, device: &str) -> crate::model::Vendor {
        self.vendors.get(device).copied().unwrap_or(crate::model::Vendor::Juniper)
    }

    /// True when the device has hung: it accepts connections and answers nothing.
    pub fn is_hung(&self, device: &str) -> bool {
        self.devices.lock().expect("not poisoned").get(device).is_some_and(|d| d.hung)
    }

    /// The LACP bundles of `device` (one per server it attaches, and a border leaf's bundle to the
    /// WAN), as its LACP reports them.
    pub fn server_lags(&self, device: &str) -> Vec<String> {
        self.server_lags.get(device).cloned().unwrap_or_default()
    }

    /// True while the device takes connections: it is up, or hung (it takes them and then says
    /// nothing).
    pub fn accepts(&self, device: &str) -> bool {
        self.is_up(device) || self.is_hung(device)
    }

    /// True while the device answers (not rebooting, not dead, not hung).
    pub fn is_up(&self, device: &str) -> bool {
        let now = self.now_unix();
        self.devices.lock().expect("not poisoned").get(device).is_some_and(|d| d.is_up(now))
    }

    /// Changes devices by hand, as an operator at the console would (for tests).
    pub fn devices_mut<T>(&self, change: impl FnOnce(&mut BTreeMap<String, LabDevice>) -> T) -> T {
        change(&mut self.devices.lock().expect("not poisoned"))
    }

    /// A snapshot of one device (for tests and reports).
    pub fn device(&self, device: &str) -> Option<LabDevice> {
        let now = self.now_unix();
        let mut devices = self.devices.lock().expect("not poisoned");
        let state = devices.get_mut(device)?;
        state.settle(now);
        Some(state.clone())
    }
}

/// What a fabric switch's configuration holds before anyone touches it, as a data-centre
/// switch runs: a routed `et-` port per fabric link (`/31` addresses), an EBGP underlay session to
/// each neighbour (an AS per device), the LACP bundles to servers with their member ports, and
/// the EVPN overlay on leafs. The interface names are those the lab's operational replies use
/// (`et-0/0/48 + i` for the i-th neighbour, `xe-0/0/i` for the i-th bundle's member).
fn base_configuration(
    fabric: &Fabric,
    devices: &mut BTreeMap<String, LabDevice>,
    server_lags: &BTreeMap<String, Vec<String>>,
) {
    let index: BTreeMap<&str, usize> = fabric.devices().iter().enumerate().map(|(i, d)| (d.name.as_str(), i)).collect();
    let mut links: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (id, device) in fabric.iter() {
        let me = index[device.name.as_str()];
        let Some(state) = devices.get_mut(&device.name) else { continue };
        let mut lines = vec![
            format!("set routing-options router-id 10.255.{}.{}", (me >> 8) & 0xff, me & 0xff),
            format!("set routing-options autonomous-system {}", 65_000 + me),
            "set protocols bgp group underlay type external".to_string(),
        ];
        for (i, neighbour) in fabric.neighbours(id).iter().enumerate() {
            let other = neighbour.0 as usize;
            let key = (me.min(other), me.max(other));
            let next = links.len();
            let link = *links.entry(key).or_insert(next);
            let (base, mine) = (link * 2, usize::from(me > other));
            let address =
                |host: usize| format!("10.{}.{}.{}", (base >> 16) & 0xff, (base >> 8) & 0xff, (base & 0xff) + host);
            let port = format!("et-0/0/{}", 48 + i);
            lines.push(format!("set interfaces {port} description \"to {}\"", fabric.device(*neighbour).name));
            lines.push(format!("set interfaces {port} unit 0 family inet address {}/31", address(mine)));
            lines.push(format!(
                "set protocols bgp group underlay neighbor {} peer-as {}",
                address(1 - mine),
                65_000 + other
            ));
        }
        let lags = server_lags.get(&device.name).cloned().unwrap_or_default();
        if !lags.is_empty() {
            lines.push(format!("set chassis aggregated-devices ethernet device-count {}", lags.len().max(1)));
        }
        for (i, lag) in lags.iter().enumerate() {
            lines.push(format!("set interfaces xe-0/0/{i} ether-options 802.3ad {lag}"));
            lines.push(format!("set interfaces {lag} aggregated-ether-options lacp active"));
            lines.push(format!("set interfaces {lag} aggregated-ether-options lacp periodic fast"));
        }
        // Critical roles show in the configuration as a fabric's do: a route reflector's
        // internal group carries a `cluster` id; the gateways' external groups are named for
        // what they reach (`wan`, `dci`), a multicast gateway runs PIM towards the WAN.
        for role in &device.critical_roles {
            let router_id = format!("10.255.{}.{}", (me >> 8) & 0xff, me & 0xff);
            match role {
                crate::model::CriticalRole::RouteReflector => {
                    lines.push("set protocols bgp group overlay type internal".to_string());
                    lines.push(format!("set protocols bgp group overlay cluster {router_id}"));
                }
                crate::model::CriticalRole::DcGateway => {
                    lines.push("set protocols bgp group wan type external".to_string());
                    lines.push("set protocols bgp group wan neighbor 192.0.2.1 peer-as 64900".to_string());
                }
                crate::model::CriticalRole::DciGateway => {
                    lines.push("set protocols bgp group dci type external".to_string());
                    lines.push("set protocols bgp group dci neighbor 192.0.2.5 peer-as 64901".to_string());
                }
                crate::model::CriticalRole::McastGateway => {
                    lines.push("set protocols bgp group mcast type external".to_string());
                    lines.push("set protocols bgp group mcast neighbor 192.0.2.9 peer-as 64902".to_string());
                }
            }
        }
        if device.role == crate::model::Role::Leaf && !lags.is_empty() {
            lines.push("set protocols evpn encapsulation vxlan".to_string());
            lines.push("set protocols evpn extended-vni-list all".to_string());
        }
        for line in lines {
            state.config.apply(&line).expect("the lab's base configuration is valid");
        }
    }
}

/// A border leaf's bundle to the WAN router: LACP, no ESI, never a server's.
pub const WAN_LAG: &str = "ae90";

/// Connects the Junos driver to lab devices in this process through in-memory pipes.
pub struct InMemory(pub std::sync::Arc<Lab>);

impl crate::driver::junos::Connector for InMemory {
    type Stream = tokio::io::DuplexStream;

    async fn connect(&self, device: &str) -> std::io::Result<Self::Stream> {
        if !self.0.accepts(device) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                format!("{device}: connection refused"),
            ));
        }
        self.0.count_login(device);
        let (client, server) = tokio::io::duplex(256 * 1024);
        let lab = std::sync::Arc::clone(&self.0);
        let device = device.to_string();
        tokio::spawn(async move {
            let _ = server::serve(&lab, &device, server).await;
        });
        Ok(client)
    }

    async fn upload(&self, device: &str, local: &std::path::Path, directory: &str, name: &str) -> std::io::Result<()> {
        if !self.0.accepts(device) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                format!("{device}: connection refused"),
            ));
        }
        self.0.count_login(device);
        let (mut client, server) = tokio::io::duplex(256 * 1024);
        let (lab, device, directory) = (std::sync::Arc::clone(&self.0), device.to_string(), directory.to_string());
        let sink = tokio::spawn(async move { scp::sink(&lab, &device, &directory, server).await });
        crate::driver::scp::send(&mut client, local, name).await?;
        match sink.await.map_err(std::io::Error::other)?? {
            true => Ok(()),
            false => Err(std::io::Error::other(format!("the device refused the copy of {name}"))),
        }
    }
}

impl crate::driver::eos::Eapi for InMemory {
    async fn post(
        &self,
        device: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, crate::driver::eos::TransportError> {
        if !self.0.accepts(device) {
            return Err(crate::driver::eos::TransportError::Unreachable(format!("{device}: connection refused")));
        }
        self.0.count_login(device);
        match eos::answer(&self.0, device, &body) {
            eos::Outcome::Reply(reply) => Ok(reply),
            eos::Outcome::Hang => std::future::pending().await,
            eos::Outcome::Dropped => {
                Err(crate::driver::eos::TransportError::Unreachable(format!("{device}: connection reset")))
            }
        }
    }

    async fn upload(&self, device: &str, local: &std::path::Path, name: &str) -> std::io::Result<()> {
        crate::driver::junos::Connector::upload(self, device, local, crate::driver::eos::driver::FLASH_DIRECTORY, name)
            .await
    }
}
