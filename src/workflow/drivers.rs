//! Building the driver the operator chose: virtual devices kept beside the store, or Junos over
//! SSH to the addresses of the scenario (or of a running lab).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::WorkflowError;
use crate::driver::any::AnyDriver;
use crate::driver::junos::{JunosDriver, JunosSettings};
use crate::driver::ssh::{SshAuth, SshConnector, SshSettings};
use crate::driver::virt::VirtualDriver;
use crate::journal::DriverKind;
use crate::scenario::Scenario;

/// How to reach Junos devices over SSH.
#[derive(Clone, Debug)]
pub struct JunosOptions {
    /// Login name.
    pub user: String,
    /// Credentials (the caller reads the password from the environment or a prompt).
    pub auth: SshAuth,
    /// known_hosts file; default `known_hosts` in the state directory.
    pub known_hosts: Option<PathBuf>,
    /// Record unknown host keys.
    pub trust_on_first_use: bool,
    /// Device seconds per real second (a lab started with `--time-scale`); 1 for real switches.
    pub time_scale: f64,
    /// How long a device has to accept the SSH login (default 30 s).
    pub connect_timeout: Option<Duration>,
    /// `--driver native`: the password eAPI logins to Arista switches use (HTTP Basic; eAPI
    /// takes no SSH key). `None` when none was given: EOS devices are then refused.
    pub eapi_password: Option<crate::driver::eos::https::Password>,
    /// `--driver native`: verify eAPI certificates against this CA (PEM) instead of pins.
    pub eapi_ca: Option<PathBuf>,
}

/// The driver the operator chose, with what it needs.
#[derive(Clone, Debug)]
pub enum DriverChoice {
    /// Virtual devices. `speed`: virtual seconds per real second; `None` runs on tokio's paused
    /// clock (as fast as possible, deterministic).
    Virtual {
        /// See above.
        speed: Option<f64>,
    },
    /// Junos over NETCONF/SSH.
    Junos(JunosOptions),
    /// Each device through its vendor's protocol (Junos over NETCONF/SSH, EOS over eAPI), with
    /// the same login name, trust settings and time scale.
    Native(JunosOptions),
}

impl DriverChoice {
    /// The kind recorded in a job.
    pub fn kind(&self) -> DriverKind {
        match self {
            DriverChoice::Virtual { .. } => DriverKind::Virtual,
            DriverChoice::Junos(_) => DriverKind::Junos,
            DriverChoice::Native(_) => DriverKind::Native,
        }
    }

    /// True when the job should run on tokio's paused clock (virtual devices at full speed).
    pub fn paused_clock(&self) -> bool {
        matches!(self, DriverChoice::Virtual { speed: None })
    }

    /// Job seconds per real second: the virtual devices' speed, or the lab's time scale.
    pub fn time_scale(&self) -> f64 {
        match self {
            DriverChoice::Virtual { speed } => speed.unwrap_or(1.0),
            DriverChoice::Junos(options) | DriverChoice::Native(options) => options.time_scale,
        }
    }
}

/// Where the virtual devices of `scenario` keep their state in the store at `state_dir`.
pub fn virtual_devices_path(state_dir: &Path, scenario: &Scenario) -> PathBuf {
    let safe: String =
        scenario.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let path = state_dir.join("virtual-devices").join(format!("{safe}.json"));
    // Stores written before the virtual driver had its name kept the file in `simdevices/`.
    let old = state_dir.join("simdevices").join(format!("{safe}.json"));
    if !path.exists() && old.exists() && std::fs::create_dir_all(state_dir.join("virtual-devices")).is_ok() {
        // A failed move leaves the old file in place; the devices then start from the scenario.
        let _ = std::fs::rename(&old, &path);
    }
    path
}

/// The driver when the operator names none: the virtual devices, unless the scenario gives
/// devices management addresses — then it describes real switches, and rehearsing them on
/// simulated devices by default would be a dangerous surprise: the operator must say which.
pub fn default_driver(scenario: &Scenario) -> Result<DriverKind, WorkflowError> {
    let addressed: Vec<String> = scenario
        .fabric
        .devices()
        .iter()
        .filter_map(|d| d.address.as_ref().map(|a| format!("{} at {a}", d.name)))
        .take(3)
        .collect();
    if addressed.is_empty() {
        return Ok(DriverKind::Virtual);
    }
    Err(WorkflowError::DriverNeeded { devices: addressed.join(", ") })
}

/// What can be refused before any credential is asked for: a real upgrade needs catalog images,
/// whose checksums can be verified on the device.
pub fn preflight(scenario: &Scenario, kind: DriverKind) -> Result<(), WorkflowError> {
    // The Junos driver speaks NETCONF; an EOS switch (its target or a partner it checks) is
    // reached through eAPI, which is not built yet: refused before anything is asked.
    if kind == DriverKind::Junos {
        let arista = scenario.fabric.names_of_vendor(crate::model::Vendor::Arista, 3);
        if !arista.is_empty() {
            return Err(WorkflowError::VendorNotReachable { devices: arista.join(", ") });
        }
    }
    if matches!(kind, DriverKind::Junos | DriverKind::Native)
        && let Some(image) = scenario.images.iter().find(|i| i.catalog.is_none())
    {
        return Err(WorkflowError::InlineImage { image: image.name.clone() });
    }
    Ok(())
}

/// Builds the driver for `scenario`. `state_dir` holds the virtual devices, the known_hosts file
/// and a running lab's recorded addresses.
pub fn make(state_dir: &Path, scenario: &Scenario, choice: &DriverChoice) -> Result<AnyDriver, WorkflowError> {
    match choice {
        DriverChoice::Virtual { speed } => {
            let path = virtual_devices_path(state_dir, scenario);
            let driver = VirtualDriver::open(
                &path,
                &scenario.fabric,
                scenario.timing.clone(),
                scenario.faults.clone(),
                speed.unwrap_or(1.0),
            )
            .map_err(|source| WorkflowError::VirtualDevices { path, source })?;
            Ok(AnyDriver::Virtual(driver))
        }
        DriverChoice::Junos(options) => junos(state_dir, scenario, options).map(AnyDriver::Junos),
        DriverChoice::Native(options) => native(state_dir, scenario, options),
    }
}

/// Where a running lab's eAPI servers listen (EOS devices), beside its SSH record.
const LAB_EAPI_ADDRESSES: &str = "lab-eapi-addresses.json";

/// The eAPI addresses the last `hitless lab` with this state directory recorded.
pub fn lab_eapi_addresses(state_dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(state_dir.join(LAB_EAPI_ADDRESSES))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// The file a lab records its eAPI addresses in.
pub fn lab_eapi_addresses_path(state_dir: &Path) -> PathBuf {
    state_dir.join(LAB_EAPI_ADDRESSES)
}

/// `--driver native`: Junos devices over NETCONF/SSH as [`junos`] reaches them, Arista switches
/// over eAPI (HTTPS to the scenario's `address`, port 443 unless it names one, or to a running
/// lab's eAPI server), their images by SCP (to the lab's SSH server, or port 22 of the address).
fn native(state_dir: &Path, scenario: &Scenario, options: &JunosOptions) -> Result<AnyDriver, WorkflowError> {
    preflight(scenario, DriverKind::Native)?;
    let arista = scenario.fabric.names_of_vendor(crate::model::Vendor::Arista, 3);
    let password = match (&options.eapi_password, arista.is_empty()) {
        (Some(password), _) => password.0.clone(),
        (None, true) => String::new(),
        (None, false) => return Err(WorkflowError::EapiPasswordNeeded { devices: arista.join(", ") }),
    };
    let mut ssh = crate::lab::addresses::recorded(state_dir);
    let mut eapi = lab_eapi_addresses(state_dir);
    for device in scenario.fabric.devices() {
        let Some(address) = &device.address else { continue };
        if device.vendor() == crate::model::Vendor::Arista {
            eapi.insert(device.name.clone(), address.clone());
            let host = match address.rsplit_once(':') {
                Some((host, port)) if port.parse::<u16>().is_ok() && !host.contains(':') => host.to_string(),
                _ => address.clone(),
            };
            // SCP goes to the switch's SSH port, unless a running lab recorded its own.
            ssh.entry(device.name.clone()).or_insert_with(|| format!("{host}:22"));
        } else {
            ssh.insert(device.name.clone(), address.clone());
        }
    }
    let ssh_settings = |addresses| ssh_settings(state_dir, addresses, options);
    let junos = JunosDriver::new(
        SshConnector::new(ssh_settings(ssh.clone())),
        JunosSettings {
            time_scale: options.time_scale,
            maintenance: scenario.maintenance.clone(),
            ..JunosSettings::default()
        },
    );
    let eos = eos_at(state_dir, eapi, password, options, Some(SshConnector::new(ssh_settings(ssh))));
    Ok(AnyDriver::Native(Box::new(crate::driver::by_vendor::ByVendor::new(&scenario.fabric, junos, eos))))
}

/// The EOS driver over eAPI (HTTPS) to the switches at `addresses`, with `password`, the
/// certificates pinned in `eapi_known_certs` of `state_dir` (or verified against the options'
/// CA), and `scp` for images.
fn eos_at(
    state_dir: &Path,
    addresses: BTreeMap<String, String>,
    password: String,
    options: &JunosOptions,
    scp: Option<SshConnector>,
) -> crate::driver::eos::EosDriver<crate::driver::eos::https::HttpsEapi> {
    let https = crate::driver::eos::https::HttpsEapi::new(
        crate::driver::eos::https::HttpsSettings {
            addresses,
            user: options.user.clone(),
            password,
            known_certs: state_dir.join("eapi_known_certs"),
            trust_on_first_use: options.trust_on_first_use,
            ca: options.eapi_ca.clone(),
            connect_timeout: options.connect_timeout.unwrap_or(Duration::from_secs(30)),
        },
        scp,
    );
    crate::driver::eos::EosDriver::new(
        https,
        crate::driver::eos::EosSettings { time_scale: options.time_scale, ..Default::default() },
    )
}

/// The drivers `hitless discover --inventory` reads `hosts` with: Junos hosts over NETCONF at
/// their addresses, hosts whose `ansible_network_os` is EOS's over eAPI (HTTPS, the certificate
/// pinned in `eapi_known_certs` or verified against `options.eapi_ca`, the eAPI password).
pub fn discoverer_at(
    state_dir: &Path,
    hosts: &[crate::inventory::Host],
    options: &JunosOptions,
) -> Result<
    super::discover::ByOs<
        JunosDriver<SshConnector>,
        crate::driver::eos::EosDriver<crate::driver::eos::https::HttpsEapi>,
    >,
    WorkflowError,
> {
    let (eos, junos): (Vec<&crate::inventory::Host>, Vec<&crate::inventory::Host>) =
        hosts.iter().partition(|h| h.is_eos());
    let password = match (&options.eapi_password, eos.is_empty()) {
        (Some(password), _) => password.0.clone(),
        (None, true) => String::new(),
        (None, false) => {
            let names: Vec<&str> = eos.iter().take(3).map(|h| h.name.as_str()).collect();
            return Err(WorkflowError::EapiPasswordNeeded { devices: names.join(", ") });
        }
    };
    let addresses = eos.iter().map(|h| (h.name.clone(), h.address.clone())).collect();
    let eos_driver = eos_at(state_dir, addresses, password, options, None);
    let addresses = junos.iter().map(|h| (h.name.clone(), h.address.clone())).collect();
    Ok(super::discover::ByOs {
        junos: junos_at(state_dir, addresses, options),
        eos: eos_driver,
        eos_hosts: eos.iter().map(|h| h.name.clone()).collect(),
    })
}

/// The Junos driver over SSH to the devices at `addresses` (name to `host:port`), as
/// `discover` reaches an inventory's hosts.
pub fn junos_at(
    state_dir: &Path,
    addresses: BTreeMap<String, String>,
    options: &JunosOptions,
) -> JunosDriver<SshConnector> {
    let junos = JunosSettings { time_scale: options.time_scale, ..JunosSettings::default() };
    JunosDriver::new(SshConnector::new(ssh_settings(state_dir, addresses, options)), junos)
}

/// SSH to the devices at `addresses` as `options` say (known_hosts in `state_dir` unless named).
fn ssh_settings(state_dir: &Path, addresses: BTreeMap<String, String>, options: &JunosOptions) -> SshSettings {
    SshSettings {
        addresses,
        user: options.user.clone(),
        auth: options.auth.clone(),
        known_hosts: options.known_hosts.clone().unwrap_or_else(|| state_dir.join("known_hosts")),
        trust_on_first_use: options.trust_on_first_use,
        connect_timeout: options.connect_timeout.unwrap_or(Duration::from_secs(30)),
    }
}

fn junos(
    state_dir: &Path,
    scenario: &Scenario,
    options: &JunosOptions,
) -> Result<JunosDriver<SshConnector>, WorkflowError> {
    preflight(scenario, DriverKind::Junos)?;
    let mut addresses = crate::lab::addresses::recorded(state_dir);
    for device in scenario.fabric.devices() {
        if let Some(address) = &device.address {
            addresses.insert(device.name.clone(), address.clone());
        }
    }
    let settings = SshSettings {
        addresses,
        user: options.user.clone(),
        auth: options.auth.clone(),
        known_hosts: options.known_hosts.clone().unwrap_or_else(|| state_dir.join("known_hosts")),
        trust_on_first_use: options.trust_on_first_use,
        connect_timeout: Duration::from_secs(30),
    };
    let junos = JunosSettings {
        time_scale: options.time_scale,
        maintenance: scenario.maintenance.clone(),
        ..JunosSettings::default()
    };
    Ok(JunosDriver::new(SshConnector::new(settings), junos))
}
