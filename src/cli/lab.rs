//! `hitless lab`: an emulated copy of the fabric on this machine, to rehearse an upgrade.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};

use super::render;
use crate::lab::Lab;
use crate::lab::ssh::{LabAuth, authorized_key, host_key, start};
use crate::scenario::Scenario;

/// Options of `hitless lab`.
pub struct LabOptions {
    pub time_scale: f64,
    pub base_port: Option<u16>,
    pub bind: std::net::IpAddr,
    pub authorized_keys: Vec<PathBuf>,
    pub stdio: Option<String>,
    pub base_11: bool,
    /// Each device on its own 127.1.x.y at this port, advertised by LLDP.
    pub loopback_port: Option<u16>,
}

/// The loopback address of the `index`-th device (`--loopback-port`): 127.1.0.1, 127.1.0.2, ...
fn loopback(index: usize) -> std::net::IpAddr {
    let n = index + 1;
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 1, ((n >> 8) & 0xff) as u8, (n & 0xff) as u8))
}

pub fn run(scenario: &Scenario, state_dir: &Path, options: &LabOptions) -> anyhow::Result<ExitCode> {
    let start_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let mut lab = Lab::new(
            &scenario.fabric,
            scenario.timing.clone(),
            scenario.faults.clone(),
            options.time_scale,
            start_unix,
        );
        lab.base_11 = options.base_11;
        // `file-copy` reads only from the lab's state directory, never any host path.
        lab.copy_from = Some(state_dir.to_path_buf());
        if options.loopback_port.is_some() {
            if scenario.fabric.len() > 65_000 {
                bail!("--loopback-port gives each device an address in 127.1.0.0/16: at most 65,000 devices");
            }
            lab.management = scenario
                .fabric
                .devices()
                .iter()
                .enumerate()
                .map(|(i, d)| (d.name.clone(), loopback(i).to_string()))
                .collect();
        }
        let lab = Arc::new(lab);
        if let Some(device) = &options.stdio {
            let Some(id) = scenario.fabric.lookup(device) else {
                bail!("no device {device} in scenario {}", scenario.name);
            };
            if scenario.fabric.device(id).vendor() == crate::model::Vendor::Arista {
                bail!("{device} is an Arista EOS device: it speaks eAPI over HTTPS, not NETCONF on standard input");
            }
            // One NETCONF session on standard input and output, for an SSH server's
            // `Subsystem netconf` line. Nothing else may be printed on standard output.
            let stream = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
            crate::lab::server::serve(&lab, device, stream).await?;
            return Ok(ExitCode::SUCCESS);
        }
        serve_ssh(scenario, state_dir, options, lab).await
    })
}

async fn serve_ssh(
    scenario: &Scenario,
    state_dir: &Path,
    options: &LabOptions,
    lab: Arc<Lab>,
) -> anyhow::Result<ExitCode> {
    let password = std::env::var("HITLESS_LAB_PASSWORD").ok().filter(|p| !p.is_empty());
    let keys = options.authorized_keys.iter().map(|path| authorized_key(path)).collect::<Result<Vec<_>, _>>()?;
    if password.is_none() && keys.is_empty() {
        bail!(
            "nobody could log in: set HITLESS_LAB_PASSWORD (the password the lab accepts) or pass --authorized-key FILE"
        );
    }
    let arista = scenario.fabric.names_of_vendor(crate::model::Vendor::Arista, 3);
    if !arista.is_empty() && password.is_none() {
        bail!(
            "the scenario has Arista EOS devices ({}, ...), whose eAPI logs in with a password only: set HITLESS_LAB_PASSWORD",
            arista.join(", ")
        );
    }
    let mut listen = BTreeMap::new();
    let mut eapi_listen = BTreeMap::new();
    for (index, device) in scenario.fabric.devices().iter().enumerate() {
        let eos = device.vendor() == crate::model::Vendor::Arista;
        if let Some(port) = options.loopback_port {
            listen.insert(device.name.clone(), SocketAddr::new(loopback(index), port));
            if eos {
                let next =
                    port.checked_add(1).context("--loopback-port leaves no port for eAPI (it uses the next one)")?;
                eapi_listen.insert(device.name.clone(), SocketAddr::new(loopback(index), next));
            }
            continue;
        }
        if eos {
            // An EOS device's scenario address is its eAPI's; its SSH (SCP) port is any free one.
            let port = match &device.address {
                Some(address) => address
                    .rsplit_once(':')
                    .and_then(|(_, port)| port.parse::<u16>().ok())
                    .with_context(|| format!("address {address} of {} is not host:port", device.name))?,
                None => 0,
            };
            eapi_listen.insert(device.name.clone(), SocketAddr::new(options.bind, port));
            listen.insert(device.name.clone(), SocketAddr::new(options.bind, 0));
            continue;
        }
        // Only the port of a scenario address is used: the lab listens on --bind (loopback by
        // default), whatever host the scenario names.
        let port = match (&device.address, options.base_port) {
            (Some(address), _) => address
                .rsplit_once(':')
                .and_then(|(_, port)| port.parse::<u16>().ok())
                .with_context(|| format!("address {address} of {} is not host:port", device.name))?,
            (None, Some(base)) => base
                .checked_add(u16::try_from(index).unwrap_or(u16::MAX))
                .with_context(|| format!("--base-port {base} leaves no port for {}", device.name))?,
            (None, None) => 0,
        };
        listen.insert(device.name.clone(), SocketAddr::new(options.bind, port));
    }
    std::fs::create_dir_all(state_dir)?;
    // One lab per state directory: a second would overwrite the first one's addresses and
    // inventory under the controllers using them. The lock is held for the life of this lab.
    let lock_path = state_dir.join("lab.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    if let Err(std::fs::TryLockError::WouldBlock) = lock.try_lock() {
        anyhow::bail!(
            "another `hitless lab` is running on the state directory {}: stop it first, or give this one another --state-dir",
            state_dir.display()
        );
    }
    let key = host_key(&state_dir.join("lab_host_key"))?;
    let eapi_password = password.clone();
    let bound = start(Arc::clone(&lab), listen, key, LabAuth { password, keys })
        .await
        .context("starting the lab's SSH servers")?;
    // EOS devices: eAPI over HTTPS with the lab's certificate (kept in the state directory, so
    // the fingerprint clients pinned stays valid across restarts).
    let mut eapi_bound = BTreeMap::new();
    let mut fingerprint = None;
    if !eapi_listen.is_empty() {
        let certificate = crate::lab::eapi::certificate(state_dir)?;
        let auth = crate::lab::eapi::EapiAuth {
            user: crate::lab::ops::USER.to_string(),
            password: eapi_password.unwrap_or_default(),
        };
        eapi_bound = crate::lab::eapi::start(Arc::clone(&lab), eapi_listen, certificate.server_config()?, auth)
            .await
            .context("starting the lab's eAPI servers")?;
        fingerprint = Some(certificate.fingerprint);
    }
    let eapi: BTreeMap<String, String> = eapi_bound.iter().map(|(d, a)| (d.clone(), a.to_string())).collect();
    let eapi_file = crate::workflow::drivers::lab_eapi_addresses_path(state_dir);
    super::render::write_atomically(&eapi_file, serde_json::to_string_pretty(&eapi)?.as_bytes())
        .with_context(|| format!("cannot record the lab's eAPI addresses in {}", eapi_file.display()))?;
    let addresses: BTreeMap<String, String> = bound.iter().map(|(d, a)| (d.clone(), a.to_string())).collect();
    // An EOS device is reached over eAPI: the inventory gives its eAPI address.
    let hosts: Vec<(String, crate::model::Role, String, bool)> = scenario
        .fabric
        .devices()
        .iter()
        .filter_map(|d| match eapi.get(&d.name) {
            Some(https) => Some((d.name.clone(), d.role, https.clone(), true)),
            None => addresses.get(&d.name).map(|a| (d.name.clone(), d.role, a.clone(), false)),
        })
        .collect();
    let inventory = state_dir.join("inventory.yaml");
    super::render::write_atomically(&inventory, crate::inventory::write(&hosts, "netops").as_bytes())
        .with_context(|| format!("cannot write the lab's inventory {}", inventory.display()))?;
    // The addresses file says the lab is ready (tests and scripts wait for it): written last.
    crate::lab::addresses::record(state_dir, &addresses)
        .with_context(|| format!("cannot record the lab's addresses in {}", state_dir.display()))?;
    let file = crate::lab::addresses::path(state_dir);
    let mut table = render::table(&["Device", "Vendor", "SSH (NETCONF, SCP)", "eAPI (HTTPS)"]);
    for (device, address) in &addresses {
        let (vendor, https) = match eapi.get(device) {
            Some(https) => ("Arista EOS", https.clone()),
            None => ("Junos", String::new()),
        };
        table.add_row(vec![device.clone(), vendor.to_string(), address.clone(), https]);
    }
    let certificate = match &fingerprint {
        Some(sum) => format!(
            "\neAPI certificate SHA-256 {sum} ({}); user {}.",
            state_dir.join("lab-eapi-cert.pem").display(),
            crate::lab::ops::USER
        ),
        None => String::new(),
    };
    render::say!(
        "Lab for {}: {} emulated devices ({} Arista EOS), time x{} (addresses recorded in {}; Ansible inventory in {}).\n{table}{certificate}\nStop with Ctrl-C.",
        scenario.name,
        addresses.len(),
        eapi.len(),
        options.time_scale,
        file.display(),
        inventory.display()
    );
    tokio::signal::ctrl_c().await?;
    crate::lab::addresses::forget(state_dir);
    let _ = std::fs::remove_file(&eapi_file);
    Ok(ExitCode::SUCCESS)
}
