//! Scenario files: loading, validating and turning them into a [`Scenario`].
//!
//! A scenario is what a network engineer writes: the fabric, the images, what to upgrade and how.
//! Loading checks everything up front and reports every problem at once, each with the file, line
//! and column, so that `hitless validate` can list them all and nothing later has to re-check.

mod error;
mod raw;
pub mod settings;
mod sim_fields;
pub mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_saphyr::Location;

pub use error::{Problem, ScenarioError};
use raw::{RawFabric, RawScenario, Selector};

use crate::image::Image;
use crate::model::generate::Generate;
use crate::model::{Device, DeviceId, Engines, Fabric, Role};
use crate::select::{self, Assign, DeviceSelection, Selection};
use crate::timing::TimingProfile;
use crate::traffic::Traffic;
use crate::version::Version;
use settings::{Expect, SimSettings};
pub use sim_fields::has_external;

/// Default for `upgrade.max_batch_size`.
pub const DEFAULT_MAX_BATCH_SIZE: u32 = 4;
/// Largest `max_batch_size` accepted; larger batches are a typo, not a plan.
pub const MAX_BATCH_SIZE_LIMIT: u32 = 1024;
/// Largest fabric `generate:` may describe.
pub const GENERATED_DEVICES_MAX: u64 = 2_000_000;
/// Most servers `generate:` may describe.
pub const GENERATED_SERVERS_MAX: u64 = 4_000_000;
/// Most links `generate:` may describe.
pub const GENERATED_LINKS_MAX: u64 = 20_000_000;
/// Most members a virtual chassis may have (Junos allows ten).
pub const VC_MEMBERS_MAX: u32 = 10;

/// Where a scenario's images named only by name come from.
pub trait ImageCatalog {
    /// The catalog image called `name`, or why it cannot be had (for the operator).
    fn image(&self, name: &str) -> Result<Image, CatalogLookupError>;
}

/// Why an image named only by name could not be taken from a catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogLookupError {
    /// This command reads no catalog.
    #[error(
        "image {name} has only a name, so it comes from the image catalog, which this command does not read; \
         give its vendor, family, platforms and version inline"
    )]
    NoCatalog {
        /// The image.
        name: String,
    },
    /// The catalog has no such image.
    #[error(
        "image {name} is not in the image catalog at {} (add it with `hitless image add`, or give its fields inline)",
        catalog.display()
    )]
    NotFound {
        /// The image.
        name: String,
        /// Where the catalog is.
        catalog: PathBuf,
    },
    /// The catalog could not be read.
    #[error("image {name} comes from the image catalog, which cannot be read: {reason}")]
    Unreadable {
        /// The image.
        name: String,
        /// The store's reason.
        reason: String,
    },
}

/// No catalog: images named only by name are errors.
pub struct NoCatalog;

impl ImageCatalog for NoCatalog {
    fn image(&self, name: &str) -> Result<Image, CatalogLookupError> {
        Err(CatalogLookupError::NoCatalog { name: name.to_string() })
    }
}

/// A validated scenario, ready for the planner.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Devices the scenario declares out of service (`out_of_service: REASON` on a device),
    /// with the reason: down for the simulation gate, never upgraded with their partners out.
    pub out_of_service: Vec<(crate::model::DeviceId, String)>,
    /// The scenario's name.
    pub name: String,
    /// Free text for the reader.
    pub description: Option<String>,
    /// The fabric.
    pub fabric: Fabric,
    /// Images, in file order.
    pub images: Vec<Image>,
    /// Which devices get which image, and which are skipped.
    pub selection: Selection,
    /// Largest number of devices upgraded at once.
    pub max_batch_size: u32,
    /// Phase durations.
    pub timing: TimingProfile,
    /// Whether devices enter maintenance mode before their upgrade (`upgrade.drain`).
    pub drain: bool,
    /// What maintenance mode consists of (`upgrade.maintenance`).
    pub maintenance: crate::maintenance::MaintenanceMode,
    /// A hand-written plan (`upgrade.batches`) used instead of the planner's.
    pub fixed_batches: Option<Vec<Vec<DeviceId>>>,
    /// Traffic for the simulator.
    pub traffic: Traffic,
    /// The simulator's settings.
    pub simulation: SimSettings,
    /// The verdict the author expects.
    pub expect: Expect,
    /// Health-check limits (`upgrade.health_checks`).
    pub health_limits: crate::health::HealthLimits,
    /// Whether a failed health check stops that device (`upgrade.abort_on_health_check_failure`).
    pub abort_on_health_check_failure: bool,
    /// Faults the virtual driver and the lab inject.
    pub faults: Vec<crate::faults::Fault>,
    /// Devices in the first batch, run alone before the rest (`upgrade.canary`); 0: no canary.
    pub canary: u32,
    /// When the job stops for approval (`upgrade.pause`; default `after-canary` with a canary,
    /// else `never`).
    pub pause: settings::PausePolicy,
    /// What happens to a device whose upgrade fails (`upgrade.on_failure`, default `hold`).
    pub on_failure: settings::OnFailure,
    /// How devices reboot into their new software (`upgrade.method`, default `reload`); the
    /// devices it gives Smart System Upgrade are `timing.ssu_devices`.
    pub method: settings::UpgradeMethod,
    /// Who may approve a paused job (`upgrade.approval`, default `any`).
    pub approval: settings::Approval,
    /// The daily maintenance window no batch may run past (`upgrade.window`).
    pub window: Option<crate::window::Window>,
}

impl Scenario {
    /// How `id` is rebooted into its new software, and why: Smart System Upgrade when
    /// `upgrade.method` gives it one, else a reload, with the reason SSU does not apply.
    pub fn method_of(&self, id: DeviceId) -> (crate::method::Method, String) {
        if self.timing.ssu_devices.contains(&id) {
            return (crate::method::Method::Ssu, format!("upgrade.method: {}", self.method.as_str()));
        }
        let why = match self.method {
            settings::UpgradeMethod::Reload => "upgrade.method: reload".to_string(),
            _ => {
                let target =
                    self.selection.targets.iter().find(|t| t.device == id).map(|t| &self.images[t.image].version);
                target
                    .and_then(|v| crate::method::ssu_blocker(self.fabric.device(id), v))
                    .unwrap_or_else(|| "not upgraded".to_string())
            }
        };
        (crate::method::Method::Reload, why)
    }

    /// Reads and validates a scenario file whose images are all inline.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::load_with(path, &NoCatalog)
    }

    /// Reads and validates a scenario file, taking images named only by name from `catalog`.
    pub fn load_with(path: &Path, catalog: &dyn ImageCatalog) -> Result<Scenario, ScenarioError> {
        let text = read_text(path)?;
        Scenario::from_yaml_with(&text, path, catalog)
    }

    /// The text of the scenario file at `path`, as [`Scenario::load_with`] reads it (for
    /// recording with a job).
    pub fn read(path: &Path) -> Result<String, ScenarioError> {
        read_text(path)
    }

    /// Validates scenario text whose images are all inline; `path` is only used in messages.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::from_yaml_with(text, path, &NoCatalog)
    }

    /// Validates scenario text, taking images named only by name from `catalog`.
    pub fn from_yaml_with(text: &str, path: &Path, catalog: &dyn ImageCatalog) -> Result<Scenario, ScenarioError> {
        let invalid = |problems| ScenarioError::Invalid { path: path.to_path_buf(), problems };
        // Room for explicit fabrics of a couple of million devices; alias and depth limits stay
        // at the library's defaults (they stop YAML bombs).
        let options = serde_saphyr::options! {
            budget: serde_saphyr::budget! {
                max_events: YAML_EVENTS_MAX,
                max_nodes: YAML_EVENTS_MAX,
                max_total_scalar_bytes: YAML_SCALAR_BYTES_MAX,
            },
        };
        let raw: RawScenario =
            serde_saphyr::from_str_with_options(text, options).map_err(|e| invalid(vec![syntax_problem(&e)]))?;
        let mut problems = Vec::new();
        let scenario = build(raw, catalog, &mut problems);
        problems.sort_by_key(|p| (p.line, p.column));
        match scenario {
            Some(scenario) if problems.is_empty() => Ok(scenario),
            _ => Err(invalid(problems)),
        }
    }
}

/// Reads a scenario file: a regular file of UTF-8 text; the first byte that is not UTF-8 is
/// named by line and column.
fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let read = |source| ScenarioError::Read { path: path.to_path_buf(), source };
    let kind = std::fs::metadata(path).map_err(read)?;
    if kind.is_dir() {
        let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, "it is a directory, not a scenario file");
        return Err(read(source));
    }
    let bytes = std::fs::read(path).map_err(read)?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() as u64 + 1;
        let column = valid.iter().rev().take_while(|b| **b != b'\n').count() as u64 + 1;
        let byte = e.as_bytes()[valid.len()];
        let problem =
            Problem { line, column, message: format!("byte 0x{byte:02x} is not UTF-8: scenario files are UTF-8 text") };
        ScenarioError::Invalid { path: path.to_path_buf(), problems: vec![problem] }
    })
}

/// Most YAML events (and nodes) a scenario file may hold: about two million listed devices.
const YAML_EVENTS_MAX: usize = 25_000_000;
/// Most bytes of text a scenario's YAML scalars may hold.
const YAML_SCALAR_BYTES_MAX: usize = 1 << 30;

/// The library's messages, said for a scenario's author (without the library's own advice).
fn reword(said: &str) -> String {
    if let Some(key) = said.strip_prefix("duplicate mapping key: ") {
        let key = key.split(", set DuplicateKeyPolicy").next().unwrap_or(key);
        return format!("duplicate key `{key}`: give each field once");
    }
    if said.starts_with("budget breached") {
        return format!(
            "the file is too large or too deeply nested to read safely ({}); list at most about two million devices, or describe a large fabric with fabric.generate",
            said.trim_start_matches("budget breached: ")
        );
    }
    said.to_string()
}

fn syntax_problem(error: &serde_saphyr::Error) -> Problem {
    // The library's text may start with "error: line L column C: " and add a source snippet on
    // later lines; our own prefix carries the position, so keep only the message itself.
    let text = error.to_string();
    let first = text.lines().next().unwrap_or("malformed YAML").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = match first.strip_prefix("line ").and_then(|rest| rest.split_once(": ")) {
        Some((position, message)) if position.contains(" column ") => message,
        _ => first,
    };
    let message = reword(first);
    match error.location() {
        Some(location) => Problem::at(location, message),
        None => Problem::whole(message),
    }
}

fn build(raw: RawScenario, catalog: &dyn ImageCatalog, problems: &mut Vec<Problem>) -> Option<Scenario> {
    if raw.name.value.trim().is_empty() {
        problems.push(Problem::at(raw.name.referenced, "name must not be empty"));
    }
    let declared_out: Vec<(String, String)> =
        raw.fabric.devices.iter().filter_map(|d| Some((d.name.value.clone(), d.out_of_service.clone()?))).collect();
    let fabric = build_fabric(raw.fabric, problems)?;
    // No upgrade section: nothing assigned yet (see `RawScenario::upgrade`).
    let assigning = raw.upgrade.is_some();
    let upgrade = raw.upgrade.unwrap_or_default();
    let out_of_service = declared_out
        .into_iter()
        .filter_map(|(name, why)| {
            Some((fabric.lookup(&name)?, format!("declared out of service in the scenario: {why}")))
        })
        .collect();
    let images = build_images(&raw.images, catalog, problems);
    let invalid_images: Vec<&str> = raw
        .images
        .iter()
        .map(|i| i.name.value.as_str())
        .filter(|n| !images.iter().any(|(i, _)| i.name == *n))
        .collect();
    let max_batch_size = match upgrade.max_batch_size {
        None => DEFAULT_MAX_BATCH_SIZE,
        Some(size) if (1..=MAX_BATCH_SIZE_LIMIT).contains(&size.value) => size.value,
        Some(size) => {
            let message = format!("max_batch_size must be between 1 and {MAX_BATCH_SIZE_LIMIT}, not {}", size.value);
            problems.push(Problem::at(size.referenced, message));
            DEFAULT_MAX_BATCH_SIZE
        }
    };
    let selection = build_selection(&fabric, &images, &invalid_images, &upgrade.assign, assigning, problems)?;
    let (traffic, hash) = sim_fields::traffic(raw.traffic, &fabric, problems);
    let (simulation, old_convergence) = sim_fields::settings(raw.simulation, hash, problems);
    let mut timing = timing_with(&raw.timing, old_convergence, problems);
    let method = upgrade.method.as_ref().map_or(settings::UpgradeMethod::default(), |m| m.value);
    for target in &selection.targets {
        let (device, image) = (fabric.device(target.device), &images[target.image].0);
        let blocker = crate::method::ssu_blocker(device, &image.version);
        match (method, blocker) {
            (settings::UpgradeMethod::Reload, _) => {}
            (_, None) => {
                timing.ssu_devices.insert(target.device);
            }
            (settings::UpgradeMethod::Ssu, Some(why)) if device.vendor() == crate::model::Vendor::Arista => {
                let at = upgrade.method.as_ref().map_or(Location::UNKNOWN, |m| m.referenced);
                problems.push(Problem::at(
                    at,
                    format!("method: ssu, but {} cannot be upgraded by Smart System Upgrade: {why}; use method: auto to reload it instead", device.name),
                ));
            }
            (_, Some(_)) => {}
        }
    }
    let fixed_batches = sim_fields::fixed_batches(upgrade.batches, &fabric, problems);
    let mut faults = Vec::new();
    for fault in raw.faults {
        if fabric.lookup(&fault.device.value).is_none() {
            problems.push(Problem::at(
                fault.device.referenced,
                format!("fault names unknown device {}", fault.device.value),
            ));
            continue;
        }
        let at = fault.at.unwrap_or(fault.kind.default_phase());
        faults.push(crate::faults::Fault { device: fault.device.value, kind: fault.kind, at });
    }
    let maintenance = match upgrade.maintenance {
        None => crate::maintenance::MaintenanceMode::default(),
        Some(mode) => {
            if let Err(why) = mode.value.check() {
                problems.push(Problem::at(mode.referenced, why.to_string()));
            }
            mode.value
        }
    };
    let canary = match upgrade.canary {
        None => 0,
        Some(canary) if canary.value <= max_batch_size => canary.value,
        Some(canary) => {
            let message = format!(
                "canary must be at most max_batch_size ({max_batch_size}): the canary is one batch, not {}",
                canary.value
            );
            problems.push(Problem::at(canary.referenced, message));
            0
        }
    };
    let pause = match upgrade.pause {
        None if canary > 0 => settings::PausePolicy::AfterCanary,
        None => settings::PausePolicy::Never,
        Some(pause) => {
            if pause.value == settings::PausePolicy::AfterCanary && canary == 0 {
                let message = "pause: after-canary needs a canary: set upgrade.canary to the number of devices to try first, or use pause: every-batch";
                problems.push(Problem::at(pause.referenced, message));
            }
            pause.value
        }
    };
    let window = upgrade.window.and_then(|w| {
        match crate::window::Window::new(&w.value.start, &w.value.end, w.value.timezone.as_deref()) {
            Ok(window) => Some(window),
            Err(e) => {
                problems.push(Problem::at(w.referenced, format!("window: {e}")));
                None
            }
        }
    });
    Some(Scenario {
        window,
        canary,
        pause,
        on_failure: upgrade.on_failure.unwrap_or_default(),
        method,
        approval: upgrade.approval.unwrap_or_default(),
        maintenance,
        health_limits: upgrade.health_checks.unwrap_or_default(),
        abort_on_health_check_failure: upgrade.abort_on_health_check_failure.unwrap_or(true),
        faults,
        drain: upgrade.drain.unwrap_or(true),
        fixed_batches,
        traffic,
        simulation,
        expect: sim_fields::expect(raw.expect),
        name: raw.name.value,
        description: raw.description,
        fabric,
        images: images.into_iter().map(|(image, _)| image).collect(),
        selection,
        max_batch_size,
        timing,
        out_of_service,
    })
}

/// The timing profile. `simulation.protocol_convergence_seconds` (the simulator's own figure
/// before there was one) sets `timing.convergence_seconds` for every role, unless `timing` gives
/// another: the planner's estimate and the simulation use one convergence time.
fn timing_with(
    overrides: &crate::timing::TimingOverrides,
    old: Option<serde_saphyr::Spanned<f64>>,
    problems: &mut Vec<Problem>,
) -> TimingProfile {
    let Some(old) = old else { return TimingProfile::from_overrides(overrides) };
    let seconds = old.value.round() as u32;
    let roles = [&overrides.leaf, &overrides.spine, &overrides.super_spine];
    let given =
        overrides.convergence_seconds.into_iter().chain(roles.iter().filter_map(|r| r.as_ref()?.convergence_seconds));
    let differing: Vec<u32> = given.filter(|g| *g != seconds).collect();
    if !differing.is_empty() {
        let message = format!(
            "simulation.protocol_convergence_seconds ({seconds}) and timing.convergence_seconds ({}) disagree; give the convergence time once, as timing.convergence_seconds",
            differing[0]
        );
        problems.push(Problem::at(old.referenced, message));
    }
    let mut merged = overrides.clone();
    merged.convergence_seconds = merged.convergence_seconds.or(Some(seconds));
    TimingProfile::from_overrides(&merged)
}

fn build_fabric(raw: RawFabric, problems: &mut Vec<Problem>) -> Option<Fabric> {
    match raw.generate {
        Some(generate) => {
            let explicit = !raw.devices.is_empty() || !raw.links.is_empty() || !raw.servers.is_empty();
            if explicit {
                let message = "fabric has both generate and devices/links/servers; use one or the other";
                problems.push(Problem::at(generate.referenced, message));
            }
            generated_fabric(&generate.value, generate.referenced, problems)
        }
        None if raw.devices.is_empty() => {
            problems.push(Problem::whole("fabric has no devices: list fabric.devices or use fabric.generate"));
            None
        }
        None => explicit_fabric(raw, problems),
    }
}

fn generated_fabric(generate: &Generate, at: Location, problems: &mut Vec<Problem>) -> Option<Fabric> {
    let version = match Version::parse(&generate.version) {
        Ok(version) => version,
        Err(e) => {
            problems.push(Problem::at(at, format!("generate.version: {e}")));
            return None;
        }
    };
    let mut fits = true;
    for ((field, max), value) in Generate::LIMITS.iter().zip(generate.fields()) {
        if value > *max {
            problems.push(Problem::at(at, format!("generate.{field} is {value}; at most {max} is accepted")));
            fits = false;
        }
    }
    if !fits {
        return None;
    }
    let count = generate.device_count();
    if count == 0 || count > GENERATED_DEVICES_MAX {
        let message = format!("generate describes {count} devices; it must describe 1 to {GENERATED_DEVICES_MAX}");
        problems.push(Problem::at(at, message));
        return None;
    }
    for (what, count, max) in [
        ("servers", generate.server_count(), GENERATED_SERVERS_MAX),
        ("links", generate.link_count(), GENERATED_LINKS_MAX),
    ] {
        if count > max {
            problems.push(Problem::at(at, format!("generate describes {count} {what}; at most {max} are accepted")));
            return None;
        }
    }
    Some(generate.build(&version))
}

fn explicit_fabric(raw: RawFabric, problems: &mut Vec<Problem>) -> Option<Fabric> {
    let mut first_line: HashMap<String, u64> = HashMap::new();
    // (device, where it is defined, the peer it names)
    let mut peers: Vec<(String, Location, raw::Text)> = Vec::new();
    let mut devices = Vec::with_capacity(raw.devices.len());
    for device in raw.devices {
        let name = &device.name;
        if let Some(problem) = crate::util::name_problem(&name.value) {
            problems.push(Problem::at(name.referenced, format!("device name {:?} {problem}", name.value)));
            continue;
        }
        if let Some(line) = first_line.insert(name.value.clone(), name.referenced.line()) {
            let message = format!("duplicate device name {} (first defined on line {line})", name.value);
            problems.push(Problem::at(name.referenced, message));
            continue;
        }
        let version = Version::parse(&device.version.value).unwrap_or_else(|e| {
            problems.push(Problem::at(device.version.referenced, format!("device {}: {e}", name.value)));
            Version::parse("0.0R0").expect("placeholder version parses")
        });
        let engines = device_engines(&device, problems);
        let engine_versions = device_engine_versions(&device, &engines, &version, problems);
        device_vendor(&device, &version, problems);
        if let Some(peer) = &device.mlag_peer {
            peers.push((device.name.value.clone(), device.name.referenced, peer.clone()));
        }
        devices.push(Device {
            name: device.name.value,
            role: device.role,
            family: device.family,
            platform: device.platform,
            version,
            engines,
            engine_versions,
            address: device.address,
            critical_roles: device.critical_roles,
        });
    }
    let mut fabric = Fabric::new(devices).expect("duplicates were filtered above");
    add_links(&mut fabric, &raw.links, problems);
    add_servers(&mut fabric, &raw.servers, problems);
    add_mlag_pairs(&mut fabric, &peers, problems);
    Some(fabric)
}

/// `vendor:` must agree with the version's form: EOS versions are Arista's, Junos Juniper's.
fn device_vendor(device: &raw::RawDevice, version: &Version, problems: &mut Vec<Problem>) {
    let Some(vendor) = &device.vendor else { return };
    let name = &device.name.value;
    let said = match vendor.value.to_ascii_lowercase().as_str() {
        "juniper" => crate::model::Vendor::Juniper,
        "arista" => crate::model::Vendor::Arista,
        other => {
            let message = format!("device {name}: vendor {other:?} is not one hitless upgrades: juniper or arista");
            problems.push(Problem::at(vendor.referenced, message));
            return;
        }
    };
    let by_version = if version.is_eos() { crate::model::Vendor::Arista } else { crate::model::Vendor::Juniper };
    if said != by_version {
        let form = if version.is_eos() { "an EOS version (4.32.2F)" } else { "a Junos version (23.4R2)" };
        let message = format!(
            "device {name}: vendor {} but version {version} is {form}; give the {} form, or vendor {}",
            said.as_str(),
            if said == crate::model::Vendor::Arista { "EOS" } else { "Junos" },
            by_version.as_str()
        );
        problems.push(Problem::at(vendor.referenced, message));
    }
}

/// `mlag_peer:` pairs: the peer exists, is not the device itself, is a leaf like it, and names
/// no other peer; a device is in one pair at most.
fn add_mlag_pairs(fabric: &mut Fabric, peers: &[(String, Location, raw::Text)], problems: &mut Vec<Problem>) {
    let named: HashMap<&str, &str> = peers.iter().map(|(d, _, p)| (d.as_str(), p.value.as_str())).collect();
    for (device, _, peer) in peers {
        let Some(id) = fabric.lookup(device) else { continue };
        let Some(other) = resolve(fabric, peer, &format!("device {device}: mlag_peer"), problems) else { continue };
        let at = peer.referenced;
        if other == id {
            problems.push(Problem::at(at, format!("device {device}: mlag_peer names the device itself")));
            continue;
        }
        if let Some(back) = named.get(peer.value.as_str()).filter(|back| **back != device.as_str()) {
            let message = format!(
                "device {device}: mlag_peer {} names {back} as its peer; an MLAG pair is two switches that name each other (or one that names the other)",
                peer.value
            );
            problems.push(Problem::at(at, message));
            continue;
        }
        let (role, other_role) = (fabric.device(id).role, fabric.device(other).role);
        if role != Role::Leaf || other_role != Role::Leaf {
            let message = format!(
                "device {device}: an MLAG pair is two leafs; {device} is a {role} and {} a {other_role}",
                peer.value
            );
            problems.push(Problem::at(at, message));
            continue;
        }
        if let Some(existing) =
            fabric.mlag_peer(id).filter(|p| *p != other).or(fabric.mlag_peer(other).filter(|p| *p != id))
        {
            let message = format!(
                "device {device}: {} is already in an MLAG pair with {}; a switch has one MLAG peer",
                peer.value,
                fabric.device(existing).name
            );
            problems.push(Problem::at(at, message));
            continue;
        }
        fabric.add_mlag_pair(id, other);
    }
}

fn device_engines(device: &raw::RawDevice, problems: &mut Vec<Problem>) -> Engines {
    let name = &device.name.value;
    match (&device.routing_engines, &device.vc_members) {
        (Some(res), Some(_)) => {
            let message = format!("device {name}: give routing_engines or vc_members, not both");
            problems.push(Problem::at(res.referenced, message));
            Engines::Single
        }
        (Some(res), None) => match res.value {
            1 => Engines::Single,
            2 => Engines::Dual,
            n => {
                let message = format!("device {name}: routing_engines must be 1 or 2, not {n}");
                problems.push(Problem::at(res.referenced, message));
                Engines::Single
            }
        },
        (None, Some(members)) if (2..=VC_MEMBERS_MAX).contains(&members.value) => {
            Engines::VirtualChassis(members.value)
        }
        (None, Some(members)) => {
            let message =
                format!("device {name}: vc_members must be between 2 and {VC_MEMBERS_MAX}, not {}", members.value);
            problems.push(Problem::at(members.referenced, message));
            Engines::Single
        }
        (None, None) => Engines::Single,
    }
}

fn device_engine_versions(
    device: &raw::RawDevice,
    engines: &Engines,
    version: &Version,
    problems: &mut Vec<Problem>,
) -> Vec<Version> {
    let Some(list) = &device.engine_versions else { return Vec::new() };
    let name = &device.name.value;
    if list.value.len() != engines.count() as usize {
        let message = format!(
            "device {name}: engine_versions lists {} versions for {} routing engines or members",
            list.value.len(),
            engines.count()
        );
        problems.push(Problem::at(list.referenced, message));
        return Vec::new();
    }
    let mut versions = Vec::with_capacity(list.value.len());
    for text in &list.value {
        match Version::parse(&text.value) {
            Ok(parsed) => versions.push(parsed),
            Err(e) => problems.push(Problem::at(text.referenced, format!("device {name}: {e}"))),
        }
    }
    if versions.first().is_some_and(|master| master != version) {
        let message =
            format!("device {name}: the first of engine_versions is the master's and must be its version {version}");
        problems.push(Problem::at(list.referenced, message));
    }
    versions
}

fn resolve(fabric: &Fabric, name: &raw::Text, what: &str, problems: &mut Vec<Problem>) -> Option<DeviceId> {
    let id = fabric.lookup(&name.value);
    if id.is_none() {
        problems.push(Problem::at(name.referenced, format!("{what} names unknown device {}", name.value)));
    }
    id
}

fn add_links(fabric: &mut Fabric, links: &[serde_saphyr::Spanned<Vec<raw::Text>>], problems: &mut Vec<Problem>) {
    for link in links {
        let [a, b] = link.value.as_slice() else {
            let message = format!("a link joins exactly two devices, this one lists {}", link.value.len());
            problems.push(Problem::at(link.referenced, message));
            continue;
        };
        let label = format!("link [{}, {}]", a.value, b.value);
        let (Some(x), Some(y)) = (resolve(fabric, a, &label, problems), resolve(fabric, b, &label, problems)) else {
            continue;
        };
        let mut roles = [fabric.device(x).role, fabric.device(y).role];
        roles.sort();
        let allowed = matches!(roles, [Role::Leaf, Role::Spine] | [Role::Spine, Role::SuperSpine]);
        if !allowed {
            let message = format!(
                "{label} joins a {} and a {}; links join a leaf to a spine or a spine to a super-spine",
                roles[0], roles[1]
            );
            problems.push(Problem::at(link.referenced, message));
            continue;
        }
        fabric.add_link(x, y);
    }
}

fn add_servers(fabric: &mut Fabric, servers: &[raw::RawServer], problems: &mut Vec<Problem>) {
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for server in servers {
        let name = &server.name.value;
        if let Some(problem) = crate::util::name_problem(name) {
            problems.push(Problem::at(server.name.referenced, format!("server name {name:?} {problem}")));
        }
        if let Some(line) = seen.insert(name, server.name.referenced.line()) {
            let message = format!("duplicate server name {name} (first defined on line {line})");
            problems.push(Problem::at(server.name.referenced, message));
        }
        if fabric.lookup(name).is_some() {
            problems.push(Problem::at(server.name.referenced, format!("server {name} has the name of a device")));
        }
        if server.links.value.is_empty() {
            problems.push(Problem::at(server.links.referenced, format!("server {name} has no links")));
            continue;
        }
        let mut leafs = Vec::new();
        for link in &server.links.value {
            let Some(id) = resolve(fabric, link, &format!("server {name}"), problems) else {
                continue;
            };
            let role = fabric.device(id).role;
            if role == Role::Leaf {
                leafs.push(id);
            } else {
                let message =
                    format!("server {name} is linked to {} which is a {role}; servers attach to leafs", link.value);
                problems.push(Problem::at(link.referenced, message));
            }
        }
        fabric.add_server(name.clone(), leafs);
    }
}

fn build_images(
    images: &[raw::RawImage],
    catalog: &dyn ImageCatalog,
    problems: &mut Vec<Problem>,
) -> Vec<(Image, Location)> {
    let mut out: Vec<(Image, Location)> = Vec::new();
    for image in images {
        let name = &image.name;
        if let Some(problem) = crate::util::name_problem(&name.value) {
            problems.push(Problem::at(name.referenced, format!("image name {:?} {problem}", name.value)));
            continue;
        }
        if let Some((_, first)) = out.iter().find(|(i, _)| i.name == name.value) {
            let message = format!("duplicate image name {} (first defined on line {})", name.value, first.line());
            problems.push(Problem::at(name.referenced, message));
            continue;
        }
        let built = match (&image.vendor, &image.family, &image.platforms, &image.version) {
            (None, None, None, None) => match catalog.image(&name.value) {
                Ok(image) => image,
                Err(why) => {
                    problems.push(Problem::at(name.referenced, why.to_string()));
                    continue;
                }
            },
            (Some(vendor), Some(family), Some(platforms), Some(version)) => {
                if platforms.value.is_empty() {
                    problems
                        .push(Problem::at(platforms.referenced, format!("image {} lists no platforms", name.value)));
                }
                let version = match Version::parse(&version.value) {
                    Ok(parsed) => parsed,
                    Err(e) => {
                        problems.push(Problem::at(version.referenced, format!("image {}: {e}", name.value)));
                        continue;
                    }
                };
                Image {
                    name: name.value.clone(),
                    vendor: vendor.clone(),
                    family: family.clone(),
                    platforms: platforms.value.clone(),
                    version,
                    catalog: None,
                }
            }
            _ => {
                let message = format!(
                    "image {}: give vendor, family, platforms and version, or only the name to take the image from the catalog",
                    name.value
                );
                problems.push(Problem::at(name.referenced, message));
                continue;
            }
        };
        out.push((built, name.referenced));
    }
    out
}

fn build_selection(
    fabric: &Fabric,
    images: &[(Image, Location)],
    invalid_images: &[&str],
    raw_assigns: &[raw::RawAssign],
    assigning: bool,
    problems: &mut Vec<Problem>,
) -> Option<Selection> {
    let mut assigns = Vec::new();
    let mut places: Vec<(&raw::RawAssign, HashMap<DeviceId, Location>)> = Vec::new();
    for raw_assign in raw_assigns {
        let Some(image) = images.iter().position(|(i, _)| i.name == raw_assign.image.value) else {
            if invalid_images.contains(&raw_assign.image.value.as_str()) {
                continue; // Already reported where the image is defined.
            }
            let message = format!("upgrade.assign names unknown image {}", raw_assign.image.value);
            problems.push(Problem::at(raw_assign.image.referenced, message));
            continue;
        };
        let mut where_named = HashMap::new();
        let devices = match &raw_assign.devices.value {
            Selector::All => DeviceSelection::All,
            Selector::Role(role) => DeviceSelection::Role(*role),
            Selector::Names(names) => {
                let mut ids = Vec::new();
                for name in names {
                    if let Some(id) =
                        resolve(fabric, name, &format!("assignment of image {}", raw_assign.image.value), problems)
                    {
                        where_named.insert(id, name.referenced);
                        ids.push(id);
                    }
                }
                DeviceSelection::Devices(ids)
            }
        };
        assigns.push(Assign { image, devices });
        places.push((raw_assign, where_named));
    }
    if assigning && raw_assigns.is_empty() {
        problems.push(Problem::whole("upgrade.assign is empty: assign at least one image to some devices"));
    }
    let images: Vec<Image> = images.iter().map(|(i, _)| i.clone()).collect();
    match select::select(fabric, &images, &assigns) {
        Ok(selection) => Some(selection),
        Err(errors) => {
            for error in errors {
                let (raw_assign, where_named) = &places[error.assign];
                let at = error.device.and_then(|d| where_named.get(&d).copied());
                problems.push(Problem::at(at.unwrap_or(raw_assign.devices.referenced), error.message));
            }
            None
        }
    }
}

/// The directory holding the bundled scenarios, for tests and examples.
pub fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Why a selection from the command line (`--devices`, `--image`) cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// `--devices` names a device the scenario does not have.
    #[error("--devices names unknown device {device} (not in scenario {scenario})")]
    UnknownDevice {
        /// The name given.
        device: String,
        /// The scenario.
        scenario: String,
    },
    /// `--image` names an image the scenario does not have.
    #[error("--image names unknown image {image}; the scenario has {}", known.join(", "))]
    UnknownImage {
        /// The name given.
        image: String,
        /// The scenario's images.
        known: Vec<String>,
    },
    /// The image does not fit a named device (or another selection rule breaks).
    #[error("{}", messages.join("; "))]
    Unfit {
        /// Every problem, for the operator.
        messages: Vec<String>,
    },
    /// A named device has no image assigned.
    #[error("device {device} is not assigned an image; pass --image")]
    NoImage {
        /// The device.
        device: String,
    },
}

impl Scenario {
    /// Narrows or overrides the selection from the command line: `image` assigns that image (of
    /// the scenario's) to the selected devices; `devices` keeps only those devices. Named devices
    /// that an image does not fit are errors, as in the scenario itself.
    pub fn reselect(&mut self, image: Option<&str>, devices: Option<&[String]>) -> Result<(), SelectionError> {
        let mut ids = None;
        if let Some(names) = devices {
            let mut found = Vec::with_capacity(names.len());
            for name in names {
                found.push(self.fabric.lookup(name).ok_or_else(|| SelectionError::UnknownDevice {
                    device: name.clone(),
                    scenario: self.name.clone(),
                })?);
            }
            ids = Some(found);
        }
        if let Some(image) = image {
            let index =
                self.images.iter().position(|i| i.name == image).ok_or_else(|| SelectionError::UnknownImage {
                    image: image.to_string(),
                    known: self.images.iter().map(|i| i.name.clone()).collect(),
                })?;
            let selection = ids.clone().map_or(DeviceSelection::All, DeviceSelection::Devices);
            let assign = Assign { image: index, devices: selection };
            self.selection = select::select(&self.fabric, &self.images, &[assign]).map_err(|errors| {
                SelectionError::Unfit { messages: errors.into_iter().map(|e| e.message).collect() }
            })?;
        }
        if let Some(ids) = ids {
            self.selection.targets.retain(|t| ids.contains(&t.device));
            self.selection.skipped.retain(|(d, _)| ids.contains(d));
            let covered = |id: &DeviceId| {
                self.selection.targets.iter().any(|t| t.device == *id)
                    || self.selection.skipped.iter().any(|(d, _)| d == id)
            };
            if let Some(missing) = ids.iter().find(|id| !covered(id)) {
                return Err(SelectionError::NoImage { device: self.fabric.device(*missing).name.clone() });
            }
        }
        Ok(())
    }
}
