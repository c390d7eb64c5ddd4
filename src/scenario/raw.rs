//! The scenario file exactly as written: serde types that mirror the YAML, with positions kept
//! (`Spanned`) wherever a later check needs to point at a line. Unknown fields are rejected.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::model::generate::Generate;
use crate::model::{CriticalRole, Role};
use crate::timing::TimingOverrides;

/// A text value with the position it was read from.
pub type Text = Spanned<String>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Text,
    #[serde(default)]
    pub description: Option<String>,
    pub fabric: RawFabric,
    #[serde(default)]
    pub images: Vec<RawImage>,
    /// Absent: nothing is assigned yet (a discovered fabric before its image is named); the
    /// scenario loads, and plans nothing. Present, it must assign something.
    #[serde(default)]
    pub upgrade: Option<RawUpgrade>,
    #[serde(default)]
    pub timing: TimingOverrides,
    #[serde(default)]
    pub traffic: Option<Spanned<RawTraffic>>,
    #[serde(default)]
    pub simulation: RawSimulation,
    #[serde(default)]
    pub expect: Option<RawExpect>,
    #[serde(default)]
    pub faults: Vec<RawFault>,
}

/// One entry of `faults:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub device: Text,
    pub kind: crate::faults::FaultKind,
    #[serde(default)]
    pub at: Option<crate::faults::FaultPhase>,
}

/// `traffic:` — a pattern, or explicit flows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    #[serde(default)]
    pub pattern: Option<Spanned<String>>,
    #[serde(default)]
    pub flows: Option<Spanned<FlowsField>>,
    #[serde(default)]
    pub gbps: Option<f64>,
    #[serde(default)]
    pub seed: Option<u64>,
    /// `fluid` (default) or `hash`.
    #[serde(default)]
    pub ecmp: Option<Spanned<String>>,
}

/// `traffic.flows` is a count (with a pattern) or a list of flows.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FlowsField {
    Count(u64),
    List(Vec<RawFlow>),
}

/// One entry of `traffic.flows`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    pub src: Text,
    pub dst: Text,
    pub gbps: f64,
}

/// `simulation:` — the traffic model's settings, each with its position for range errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSimulation {
    pub drain_convergence_seconds: Option<Spanned<f64>>,
    /// Superseded by `timing.convergence_seconds`; still read.
    pub protocol_convergence_seconds: Option<Spanned<f64>>,
    pub link_down_detection_ms: Option<Spanned<u64>>,
    pub bfd: Option<bool>,
    pub bfd_interval_ms: Option<Spanned<u64>>,
    pub bfd_multiplier: Option<Spanned<u64>>,
    pub bgp_hold_seconds: Option<Spanned<u64>>,
    pub lacp: Option<Spanned<String>>,
    pub core_isolation: Option<bool>,
    pub core_isolation_ms: Option<Spanned<u64>>,
    pub overlay_hold_seconds: Option<Spanned<u64>>,
    pub server_link_gbps: Option<Spanned<f64>>,
    pub leaf_spine_gbps: Option<Spanned<f64>>,
    pub spine_super_spine_gbps: Option<Spanned<f64>>,
    pub external_gbps: Option<Spanned<f64>>,
    pub jitter: Option<Spanned<f64>>,
    pub seed: Option<u64>,
}

/// `expect:` — the verdict the scenario's author expects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub hitless: Option<bool>,
    pub max_batches: Option<usize>,
}

/// `fabric:` — either explicit lists or `generate:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFabric {
    #[serde(default)]
    pub devices: Vec<RawDevice>,
    #[serde(default)]
    pub links: Vec<Spanned<Vec<Text>>>,
    #[serde(default)]
    pub servers: Vec<RawServer>,
    #[serde(default)]
    pub generate: Option<Spanned<Generate>>,
}

/// One entry of `fabric.devices`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    pub name: Text,
    pub role: Role,
    pub family: String,
    pub platform: String,
    pub version: Text,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub critical_roles: Vec<CriticalRole>,
    /// 1 or 2.
    #[serde(default)]
    pub routing_engines: Option<Spanned<u32>>,
    /// A virtual chassis of this many members.
    #[serde(default)]
    pub vc_members: Option<Spanned<u32>>,
    /// Per routing engine or member, when they differ.
    #[serde(default)]
    pub engine_versions: Option<Spanned<Vec<Text>>>,
    /// Out of service, and why (an RMA, a known fault): down for the simulation gate.
    #[serde(default)]
    pub out_of_service: Option<String>,
    /// `juniper` (the default) or `arista`; must agree with the version's form.
    #[serde(default)]
    pub vendor: Option<Spanned<String>>,
    /// The other switch of this one's MLAG pair (Arista): never down together.
    #[serde(default)]
    pub mlag_peer: Option<Text>,
}

/// One entry of `fabric.servers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub name: Text,
    pub links: Spanned<Vec<Text>>,
}

/// One entry of `images`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    pub name: Text,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default)]
    pub platforms: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub version: Option<Text>,
}

/// `upgrade:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpgrade {
    pub assign: Vec<RawAssign>,
    #[serde(default)]
    pub max_batch_size: Option<Spanned<u32>>,
    #[serde(default)]
    pub drain: Option<bool>,
    #[serde(default)]
    pub health_checks: Option<crate::health::HealthLimits>,
    #[serde(default)]
    pub abort_on_health_check_failure: Option<bool>,
    #[serde(default)]
    pub batches: Option<Vec<Vec<Text>>>,
    #[serde(default)]
    pub maintenance: Option<Spanned<crate::maintenance::MaintenanceMode>>,
    #[serde(default)]
    pub canary: Option<Spanned<u32>>,
    #[serde(default)]
    pub pause: Option<Spanned<super::settings::PausePolicy>>,
    #[serde(default)]
    pub on_failure: Option<super::settings::OnFailure>,
    #[serde(default)]
    pub method: Option<Spanned<super::settings::UpgradeMethod>>,
    #[serde(default)]
    pub approval: Option<super::settings::Approval>,
    #[serde(default)]
    pub window: Option<Spanned<RawWindow>>,
}

/// `upgrade.window`: a daily maintenance window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub timezone: Option<String>,
}

/// One entry of `upgrade.assign`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssign {
    pub image: Text,
    pub devices: Spanned<Selector>,
}

/// Which devices an assignment covers: `all`, a list of names, or `{role: ROLE}`.
#[derive(Debug)]
pub enum Selector {
    /// Every device of the fabric.
    All,
    /// The devices named, each with its position.
    Names(Vec<Text>),
    /// Every device with this role.
    Role(Role),
}

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SelectorVisitor)
    }
}

struct SelectorVisitor;

impl<'de> Visitor<'de> for SelectorVisitor {
    type Value = Selector;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`all`, a list of device names, or {role: leaf|spine|super-spine}")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Selector, E> {
        if value == "all" { Ok(Selector::All) } else { Err(E::invalid_value(de::Unexpected::Str(value), &self)) }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Selector, A::Error> {
        let mut names = Vec::new();
        while let Some(name) = seq.next_element::<Text>()? {
            names.push(name);
        }
        Ok(Selector::Names(names))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Selector, A::Error> {
        let mut role = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "role" {
                return Err(de::Error::unknown_field(&key, &["role"]));
            }
            role = Some(map.next_value::<Role>()?);
        }
        role.map(Selector::Role).ok_or_else(|| de::Error::missing_field("role"))
    }
}
