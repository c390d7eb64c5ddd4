//! Validation of the simulation-related parts of a scenario: `traffic`, `simulation`, `expect`,
//! and the `drain`/`batches` options of `upgrade`.

use serde_saphyr::Spanned;

use super::Problem;
use super::raw::{FlowsField, RawExpect, RawSimulation, RawTraffic, Text};
use super::settings::{Expect, SimSettings};
use crate::model::{DeviceId, Fabric};
use crate::traffic::{EXTERNAL, Endpoint, FLOWS_MAX, Flow, Pattern, Traffic};

/// Builds the traffic; `None` in the file gives the default pattern.
pub fn traffic(raw: Option<Spanned<RawTraffic>>, fabric: &Fabric, problems: &mut Vec<Problem>) -> Traffic {
    let servers = fabric.servers().len();
    let Some(raw) = raw else { return Traffic::default_for(servers) };
    let at = raw.referenced;
    let raw = raw.value;
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
                other => {
                    let message = format!("unknown traffic pattern {other:?}; expected all-to-all or random-pairs");
                    problems.push(Problem::at(pattern.referenced, message));
                    Pattern::RandomPairs
                }
            };
            Traffic::Pattern { pattern, flows: count, gbps, seed: raw.seed.unwrap_or(1) }
        }
        (None, _) => {
            problems.push(Problem::at(at, "traffic needs a pattern (all-to-all, random-pairs) or a list of flows"));
            Traffic::default_for(servers)
        }
    };
    let count = traffic.flow_count(servers);
    if count > FLOWS_MAX {
        problems.push(Problem::at(at, format!("traffic has {count} flows; at most {FLOWS_MAX} are simulated")));
    }
    traffic
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

/// Builds the simulation settings from the defaults and the file.
pub fn settings(raw: RawSimulation, problems: &mut Vec<Problem>) -> SimSettings {
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
    let jitter = match raw.jitter {
        None => defaults.jitter,
        Some(j) if (0.0..1.0).contains(&j.value) => j.value,
        Some(j) => {
            problems.push(Problem::at(
                j.referenced,
                format!("simulation.jitter must be at least 0 and below 1, not {}", j.value),
            ));
            0.0
        }
    };
    let positive = |value: Option<f64>, default: f64, name: &str, problems: &mut Vec<Problem>| match value {
        Some(v) if v.is_finite() && v >= 0.0 => v,
        Some(v) => {
            problems.push(Problem::whole(format!("simulation.{name} must be a non-negative number, not {v}")));
            default
        }
        None => default,
    };
    SimSettings {
        drain_convergence_seconds: positive(
            raw.drain_convergence_seconds,
            defaults.drain_convergence_seconds,
            "drain_convergence_seconds",
            problems,
        ),
        protocol_convergence_seconds: positive(
            raw.protocol_convergence_seconds,
            defaults.protocol_convergence_seconds,
            "protocol_convergence_seconds",
            problems,
        ),
        bfd: raw.bfd.unwrap_or(defaults.bfd),
        bfd_interval_ms: raw.bfd_interval_ms.unwrap_or(defaults.bfd_interval_ms),
        bfd_multiplier: raw.bfd_multiplier.unwrap_or(defaults.bfd_multiplier),
        bgp_hold_seconds: raw.bgp_hold_seconds.unwrap_or(defaults.bgp_hold_seconds),
        lacp_fast,
        server_link_gbps: capacity(raw.server_link_gbps, defaults.server_link_gbps, "server_link_gbps", problems),
        leaf_spine_gbps: capacity(raw.leaf_spine_gbps, defaults.leaf_spine_gbps, "leaf_spine_gbps", problems),
        spine_super_spine_gbps: capacity(
            raw.spine_super_spine_gbps,
            defaults.spine_super_spine_gbps,
            "spine_super_spine_gbps",
            problems,
        ),
        external_gbps: capacity(raw.external_gbps, defaults.external_gbps, "external_gbps", problems),
        jitter,
        seed: raw.seed.unwrap_or(defaults.seed),
    }
}

fn capacity(value: Option<f64>, default: f64, name: &str, problems: &mut Vec<Problem>) -> f64 {
    match value {
        Some(v) if v > 0.0 && v.is_finite() => v,
        Some(v) => {
            problems.push(Problem::whole(format!("simulation.{name} must be a positive capacity in Gbps, not {v}")));
            default
        }
        None => default,
    }
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
