//! Validation of the simulation-related parts of a scenario: `traffic`, `simulation`, `expect`,
//! and the `drain`/`batches` options of `upgrade`.

use serde_saphyr::Spanned;

use super::Problem;
use super::raw::{FlowsField, RawExpect, RawSimulation, RawTraffic, Text};
use super::settings::{Expect, SimSettings};
use crate::model::{DeviceId, Fabric};
use crate::traffic::{EXTERNAL, Endpoint, FLOWS_MAX, Flow, Pattern, Traffic};

/// Builds the traffic (`None` in the file gives the default pattern) and whether flows are
/// hashed onto one path each (`ecmp: hash`).
pub fn traffic(raw: Option<Spanned<RawTraffic>>, fabric: &Fabric, problems: &mut Vec<Problem>) -> (Traffic, bool) {
    let servers = fabric.servers().len();
    let Some(raw) = raw else { return (Traffic::default_for(servers), false) };
    let at = raw.referenced;
    let raw = raw.value;
    let hash = match &raw.ecmp {
        None => false,
        Some(ecmp) => match ecmp.value.as_str() {
            "fluid" => false,
            "hash" => true,
            other => {
                let message = format!("traffic.ecmp must be fluid or hash, not {other:?}");
                problems.push(Problem::at(ecmp.referenced, message));
                false
            }
        },
    };
    let gbps = raw.gbps.unwrap_or(1.0);
    if !(gbps > 0.0 && gbps.is_finite()) {
        problems.push(Problem::at(at, format!("traffic.gbps must be a positive number, not {gbps}")));
    }
    let traffic = match (raw.pattern, raw.flows) {
        (None, Some(Spanned { value: FlowsField::List(list), .. })) => {
            Traffic::List(flow_list(&list, fabric, problems))
        }
        (Some(pattern), flows) => {
            let count = match flows.map(|f| (f.value, f.referenced)) {
                None => servers as u64 * 8,
                Some((FlowsField::Count(n), _)) => n,
                Some((FlowsField::List(_), at)) => {
                    problems.push(Problem::at(
                        at,
                        "traffic.flows is a count when a pattern is given; list flows without a pattern",
                    ));
                    0
                }
            };
            let pattern = match pattern.value.as_str() {
                "all-to-all" => Pattern::AllToAll,
                "random-pairs" => Pattern::RandomPairs,
                "leaf-pairs" => Pattern::LeafPairs,
                other => {
                    let message =
                        format!("unknown traffic pattern {other:?}; expected all-to-all, random-pairs or leaf-pairs");
                    problems.push(Problem::at(pattern.referenced, message));
                    Pattern::RandomPairs
                }
            };
            Traffic::Pattern { pattern, flows: count, gbps, seed: raw.seed.unwrap_or(1) }
        }
        (None, _) => {
            problems.push(Problem::at(
                at,
                "traffic needs a pattern (all-to-all, random-pairs, leaf-pairs) or a list of flows",
            ));
            Traffic::default_for(servers)
        }
    };
    let count = traffic.flow_count(fabric.servers());
    if count > FLOWS_MAX {
        problems.push(Problem::at(at, format!("traffic has {count} flows; at most {FLOWS_MAX} are simulated")));
    }
    (traffic, hash)
}

fn flow_list(list: &[super::raw::RawFlow], fabric: &Fabric, problems: &mut Vec<Problem>) -> Vec<Flow> {
    let mut flows = Vec::with_capacity(list.len());
    for flow in list {
        let (Some(src), Some(dst)) = (endpoint(&flow.src, fabric, problems), endpoint(&flow.dst, fabric, problems))
        else {
            continue;
        };
        if src == dst {
            problems.push(Problem::at(flow.src.referenced, format!("flow from {} to itself", flow.src.value)));
        } else if !(flow.gbps > 0.0 && flow.gbps.is_finite()) {
            problems.push(Problem::at(flow.src.referenced, format!("flow gbps must be positive, not {}", flow.gbps)));
        } else {
            flows.push(Flow { src, dst, gbps: flow.gbps });
        }
    }
    flows
}

fn endpoint(name: &Text, fabric: &Fabric, problems: &mut Vec<Problem>) -> Option<Endpoint> {
    if name.value == EXTERNAL {
        if has_external(fabric) {
            return Some(Endpoint::External);
        }
        problems.push(Problem::at(name.referenced, "flow names external, but no device has critical role dc-gateway"));
        return None;
    }
    let found = fabric.servers().iter().position(|s| s.name == name.value).map(Endpoint::Server);
    if found.is_none() {
        problems.push(Problem::at(name.referenced, format!("flow names unknown server {}", name.value)));
    }
    found
}

/// True when the fabric has border leafs, so `external` exists.
pub fn has_external(fabric: &Fabric) -> bool {
    fabric.devices().iter().any(|d| d.critical_roles.contains(&crate::model::CriticalRole::DcGateway))
}

/// Most seconds any simulated timer may be: a day. More is a typo, and would overflow the
/// simulator's millisecond clock with the phases of a large plan.
pub const TIMER_SECONDS_MAX: u64 = 86_400;
/// Most Gbps a link may be given.
pub const LINK_GBPS_MAX: f64 = 1_000_000.0;

/// A numeric setting read within `range`, or its default with a problem at its position.
fn within<T: PartialOrd + Copy + std::fmt::Display>(
    value: Option<Spanned<T>>,
    default: T,
    range: std::ops::RangeInclusive<T>,
    name: &str,
    unit: &str,
    problems: &mut Vec<Problem>,
) -> T {
    match value {
        None => default,
        Some(v) if range.contains(&v.value) => v.value,
        Some(v) => {
            let message = format!(
                "simulation.{name} must be between {} and {}{unit}, not {}",
                range.start(),
                range.end(),
                v.value
            );
            problems.push(Problem::at(v.referenced, message));
            default
        }
    }
}

/// Builds the simulation settings from the defaults and the file. Also returns
/// `protocol_convergence_seconds` when given (it now sets `timing.convergence_seconds`).
pub fn settings(raw: RawSimulation, hash: bool, problems: &mut Vec<Problem>) -> (SimSettings, Option<Spanned<f64>>) {
    let defaults = SimSettings::default();
    let lacp_fast = match raw.lacp {
        None => defaults.lacp_fast,
        Some(lacp) => match lacp.value.as_str() {
            "fast" => true,
            "slow" => false,
            other => {
                problems
                    .push(Problem::at(lacp.referenced, format!("simulation.lacp must be fast or slow, not {other:?}")));
                true
            }
        },
    };
    let seconds = TIMER_SECONDS_MAX as f64;
    let ms = TIMER_SECONDS_MAX * 1000;
    let gbps = |value: Option<Spanned<f64>>, default, name: &str, problems: &mut Vec<Problem>| match value {
        None => default,
        Some(v) if v.value > 0.0 && v.value <= LINK_GBPS_MAX => v.value,
        Some(v) => {
            let message = format!(
                "simulation.{name} must be a positive capacity of at most {LINK_GBPS_MAX} Gbps, not {}",
                v.value
            );
            problems.push(Problem::at(v.referenced, message));
            default
        }
    };
    let settings = SimSettings {
        drain_convergence_seconds: within(
            raw.drain_convergence_seconds,
            defaults.drain_convergence_seconds,
            0.0..=seconds,
            "drain_convergence_seconds",
            " s",
            problems,
        ),
        link_down_detection_ms: within(
            raw.link_down_detection_ms,
            defaults.link_down_detection_ms,
            0..=ms,
            "link_down_detection_ms",
            " ms",
            problems,
        ),
        bfd: raw.bfd.unwrap_or(defaults.bfd),
        bfd_interval_ms: within(
            raw.bfd_interval_ms,
            defaults.bfd_interval_ms,
            1..=60_000,
            "bfd_interval_ms",
            " ms",
            problems,
        ),
        bfd_multiplier: within(raw.bfd_multiplier, defaults.bfd_multiplier, 1..=255, "bfd_multiplier", "", problems),
        bgp_hold_seconds: within(
            raw.bgp_hold_seconds,
            defaults.bgp_hold_seconds,
            3..=65_535,
            "bgp_hold_seconds",
            " s",
            problems,
        ),
        lacp_fast,
        core_isolation: raw.core_isolation.unwrap_or(defaults.core_isolation),
        core_isolation_ms: within(
            raw.core_isolation_ms,
            defaults.core_isolation_ms,
            0..=ms,
            "core_isolation_ms",
            " ms",
            problems,
        ),
        overlay_hold_seconds: within(
            raw.overlay_hold_seconds,
            defaults.overlay_hold_seconds,
            0..=TIMER_SECONDS_MAX,
            "overlay_hold_seconds",
            " s",
            problems,
        ),
        server_link_gbps: gbps(raw.server_link_gbps, defaults.server_link_gbps, "server_link_gbps", problems),
        leaf_spine_gbps: gbps(raw.leaf_spine_gbps, defaults.leaf_spine_gbps, "leaf_spine_gbps", problems),
        spine_super_spine_gbps: gbps(
            raw.spine_super_spine_gbps,
            defaults.spine_super_spine_gbps,
            "spine_super_spine_gbps",
            problems,
        ),
        external_gbps: gbps(raw.external_gbps, defaults.external_gbps, "external_gbps", problems),
        jitter: match raw.jitter {
            None => defaults.jitter,
            Some(j) if (0.0..1.0).contains(&j.value) => j.value,
            Some(j) => {
                let message = format!("simulation.jitter must be at least 0 and below 1, not {}", j.value);
                problems.push(Problem::at(j.referenced, message));
                0.0
            }
        },
        ecmp_hash: hash,
        seed: raw.seed.unwrap_or(defaults.seed),
    };
    let convergence = raw.protocol_convergence_seconds.filter(|c| {
        let ok = (0.0..=seconds).contains(&c.value);
        if !ok {
            let message =
                format!("simulation.protocol_convergence_seconds must be between 0 and {seconds} s, not {}", c.value);
            problems.push(Problem::at(c.referenced, message));
        }
        ok
    });
    (settings, convergence)
}

/// Builds `expect:`.
pub fn expect(raw: Option<RawExpect>) -> Expect {
    raw.map(|r| Expect { hitless: r.hitless, max_batches: r.max_batches }).unwrap_or_default()
}

/// Resolves a hand-written `upgrade.batches` plan.
pub fn fixed_batches(
    raw: Option<Vec<Vec<Text>>>,
    fabric: &Fabric,
    problems: &mut Vec<Problem>,
) -> Option<Vec<Vec<DeviceId>>> {
    let raw = raw?;
    let mut batches = Vec::with_capacity(raw.len());
    for batch in raw {
        let mut ids = Vec::with_capacity(batch.len());
        for name in batch {
            match fabric.lookup(&name.value) {
                Some(id) => ids.push(id),
                None => problems
                    .push(Problem::at(name.referenced, format!("upgrade.batches names unknown device {}", name.value))),
            }
        }
        batches.push(ids);
    }
    Some(batches)
}
