//! Device snapshots: what a device's control and data plane look like (BGP peers and states,
//! routes per table, LLDP neighbours, LACP bundles, interfaces up, MAC count, routing-engine CPU,
//! alarms), taken before maintenance mode and after it is lifted, and the diff between two judged
//! with the operator's tolerances (`upgrade.health_checks`). A health check asks "is the device
//! healthy now"; the diff asks "is it the same device it was": a BGP peer that vanished from the
//! configuration, an LLDP neighbour that did not come back, a table with a tenth fewer routes.
//!
//! Like health checks, diffs fail closed: a figure the first snapshot had and the second could
//! not read is a finding, never a match.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::health::HealthLimits;

/// One device's snapshot. A figure that could not be read is `None` and named in `missing`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// BGP peers: address to state (`Established`, `Active`, ...).
    pub bgp_peers: Option<BTreeMap<String, String>>,
    /// Active routes per table (`inet.0`, `bgp.evpn.0`, ...).
    pub routes: Option<BTreeMap<String, u64>>,
    /// LLDP neighbours: local port to `system port`.
    pub lldp: Option<BTreeMap<String, String>>,
    /// LACP bundles: name to true when every member is collecting and distributing.
    pub lacp: Option<BTreeMap<String, bool>>,
    /// Fabric and server ports that are up.
    pub interfaces_up: Option<BTreeSet<String>>,
    /// MAC addresses learned.
    pub macs: Option<u64>,
    /// CPU idle per routing engine or member, percent.
    pub re_cpu_idle_percent: Option<BTreeMap<String, u32>>,
    /// Active alarms (chassis and system), by description.
    pub alarms: Option<Vec<String>>,
    /// Every figure that could not be read, with why.
    #[serde(default)]
    pub missing: Vec<String>,
}

/// `part` of `total` is more than `percent` % of it away.
fn beyond(before: u64, after: u64, percent: u32) -> bool {
    let change = before.abs_diff(after);
    // change / before > percent / 100, in integers.
    u128::from(change) * 100 > u128::from(before) * u128::from(percent)
}

/// What of a snapshot can be compared while the device is still in maintenance mode: its BGP
/// peers (graceful shutdown keeps them established), its route tables, its alarms and its CPU.
/// Server-facing bundles, their ports, LLDP on them and learned MACs are down by design there,
/// and are compared once the device is back in service.
pub fn in_maintenance(snapshot: &Snapshot) -> Snapshot {
    Snapshot {
        bgp_peers: snapshot.bgp_peers.clone(),
        routes: snapshot.routes.clone(),
        alarms: snapshot.alarms.clone(),
        re_cpu_idle_percent: snapshot.re_cpu_idle_percent.clone(),
        missing: snapshot.missing.clone(),
        ..Snapshot::default()
    }
}

/// Every way `after` differs from `before` beyond the tolerances in `limits`, as sentences;
/// empty when the device is the same as it was.
pub fn diff(before: &Snapshot, after: &Snapshot, limits: &HealthLimits) -> Vec<String> {
    let mut findings = Vec::new();
    let mut unreadable = |what: &str| findings.push(format!("{what} could not be read the second time"));
    let peers = match (&before.bgp_peers, &after.bgp_peers) {
        (Some(b), Some(a)) => Some((b, a)),
        (Some(_), None) => {
            unreadable("BGP peers");
            None
        }
        _ => None,
    };
    let lldp = match (&before.lldp, &after.lldp) {
        (Some(b), Some(a)) => Some((b, a)),
        (Some(_), None) => {
            unreadable("LLDP neighbours");
            None
        }
        _ => None,
    };
    let lacp = match (&before.lacp, &after.lacp) {
        (Some(b), Some(a)) => Some((b, a)),
        (Some(_), None) => {
            unreadable("LACP bundles");
            None
        }
        _ => None,
    };
    let interfaces = match (&before.interfaces_up, &after.interfaces_up) {
        (Some(b), Some(a)) => Some((b, a)),
        (Some(_), None) => {
            unreadable("interfaces");
            None
        }
        _ => None,
    };
    let routes = match (&before.routes, &after.routes) {
        (Some(b), Some(a)) => Some((b, a)),
        (Some(_), None) => {
            unreadable("route counts");
            None
        }
        _ => None,
    };
    let macs = match (before.macs, after.macs) {
        (Some(b), Some(a)) => Some((b, a)),
        (Some(_), None) => {
            unreadable("the MAC count");
            None
        }
        _ => None,
    };
    let alarms = match (&before.alarms, &after.alarms) {
        (Some(b), Some(a)) => Some((b, a)),
        (Some(_), None) => {
            unreadable("alarms");
            None
        }
        _ => None,
    };
    if let Some((before, after)) = peers {
        let lost: Vec<String> = before
            .iter()
            .filter(|(_, state)| state.eq_ignore_ascii_case("established"))
            .filter_map(|(peer, _)| match after.get(peer) {
                Some(state) if state.eq_ignore_ascii_case("established") => None,
                Some(state) => Some(format!("{peer} ({state})")),
                None => Some(format!("{peer} (gone)")),
            })
            .collect();
        if lost.len() as u64 > u64::from(limits.bgp_peers_lost_max) {
            findings.push(format!(
                "BGP peers Established before and not after: {} ({}, more than the allowed {})",
                lost.join(", "),
                lost.len(),
                limits.bgp_peers_lost_max
            ));
        }
    }
    if let Some((before, after)) = lldp {
        let lost: Vec<String> = before
            .iter()
            .filter(|(port, neighbour)| after.get(*port) != Some(neighbour))
            .map(|(port, neighbour)| match after.get(port) {
                Some(now) => format!("{port}: {neighbour}, now {now}"),
                None => format!("{port}: {neighbour}, now none"),
            })
            .collect();
        if lost.len() as u64 > u64::from(limits.lldp_neighbours_lost_max) {
            findings.push(format!(
                "LLDP neighbours not as before: {} ({}, more than the allowed {})",
                lost.join("; "),
                lost.len(),
                limits.lldp_neighbours_lost_max
            ));
        }
    }
    if let Some((before, after)) = lacp {
        let down: Vec<&str> = before
            .iter()
            .filter(|(_, up)| **up)
            .filter(|(lag, _)| after.get(*lag) != Some(&true))
            .map(|(lag, _)| lag.as_str())
            .collect();
        if down.len() as u64 > u64::from(limits.lacp_down_max) {
            findings.push(format!(
                "LACP bundles up before and not after: {} ({}, more than the allowed {})",
                down.join(", "),
                down.len(),
                limits.lacp_down_max
            ));
        }
    }
    if let Some((before, after)) = interfaces {
        let down: Vec<&str> = before.difference(after).map(String::as_str).collect();
        if down.len() as u64 > u64::from(limits.interfaces_down_max) {
            findings.push(format!(
                "interfaces up before and not after: {} ({}, more than the allowed {})",
                down.join(", "),
                down.len(),
                limits.interfaces_down_max
            ));
        }
    }
    if let Some((before, after)) = routes {
        for (table, count) in before {
            let now = after.get(table).copied().unwrap_or(0);
            if beyond(*count, now, limits.route_count_tolerance_percent) {
                findings.push(format!(
                    "routes in {table}: {now}, were {count} (more than {} % apart)",
                    limits.route_count_tolerance_percent
                ));
            }
        }
    }
    if let Some((before, after)) = macs
        && beyond(before, after, limits.mac_count_tolerance_percent)
    {
        findings.push(format!(
            "MAC addresses: {after}, were {before} (more than {} % apart)",
            limits.mac_count_tolerance_percent
        ));
    }
    if let Some((before, after)) = alarms {
        let new: Vec<&str> = after.iter().filter(|a| !before.contains(a)).map(String::as_str).collect();
        if new.len() as u64 > u64::from(limits.new_alarms_max) {
            findings.push(format!(
                "new alarms: {} ({}, more than the allowed {})",
                new.join("; "),
                new.len(),
                limits.new_alarms_max
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            bgp_peers: Some(
                [("10.0.0.1", "Established"), ("10.0.0.2", "Established"), ("10.0.0.3", "Active")]
                    .into_iter()
                    .map(|(a, s)| (a.to_string(), s.to_string()))
                    .collect(),
            ),
            routes: Some([("inet.0".to_string(), 200), ("bgp.evpn.0".to_string(), 1000)].into_iter().collect()),
            lldp: Some([("et-0/0/48".to_string(), "spine1 et-0/0/1".to_string())].into_iter().collect()),
            lacp: Some([("ae0".to_string(), true), ("ae1".to_string(), false)].into_iter().collect()),
            interfaces_up: Some(["et-0/0/48".to_string(), "xe-0/0/0".to_string()].into_iter().collect()),
            macs: Some(100),
            re_cpu_idle_percent: Some([("re0".to_string(), 85)].into_iter().collect()),
            alarms: Some(vec!["PEM 1 Not OK".to_string()]),
            missing: Vec::new(),
        }
    }

    #[test]
    fn the_same_device_has_no_findings() {
        assert!(diff(&snapshot(), &snapshot(), &HealthLimits::default()).is_empty());
    }

    /// Routes: 10 % of 200 is 20, so 180 is within and 179 beyond; of 1000, 900 within, 899
    /// beyond. MACs: 20 % of 100, so 80 within and 79 beyond. A peer that was Active before may
    /// stay Active; an alarm present before is not new.
    #[test]
    fn tolerances_are_percentages_of_the_first_snapshot() {
        let limits = HealthLimits::default();
        let mut after = snapshot();
        after.routes = Some([("inet.0".to_string(), 180), ("bgp.evpn.0".to_string(), 900)].into_iter().collect());
        after.macs = Some(80);
        assert!(diff(&snapshot(), &after, &limits).is_empty());
        after.routes = Some([("inet.0".to_string(), 179), ("bgp.evpn.0".to_string(), 899)].into_iter().collect());
        after.macs = Some(79);
        let findings = diff(&snapshot(), &after, &limits);
        assert_eq!(findings.len(), 3, "{findings:?}");
        assert!(findings[0].starts_with("routes in bgp.evpn.0: 899, were 1000"));
        assert!(findings[1].starts_with("routes in inet.0: 179, were 200"));
        assert!(findings[2].starts_with("MAC addresses: 79, were 100"));
    }

    #[test]
    fn a_peer_gone_or_down_a_neighbour_moved_a_bundle_down_and_a_new_alarm_are_findings() {
        let mut after = snapshot();
        after.bgp_peers.as_mut().unwrap().remove("10.0.0.1");
        after.bgp_peers.as_mut().unwrap().insert("10.0.0.2".into(), "Idle".into());
        after.lldp.as_mut().unwrap().insert("et-0/0/48".into(), "spine2 et-0/0/1".into());
        after.lacp.as_mut().unwrap().insert("ae0".into(), false);
        after.interfaces_up.as_mut().unwrap().remove("xe-0/0/0");
        after.alarms.as_mut().unwrap().push("FPC 0 Major Errors".into());
        let findings = diff(&snapshot(), &after, &HealthLimits::default());
        assert_eq!(
            findings,
            [
                "BGP peers Established before and not after: 10.0.0.1 (gone), 10.0.0.2 (Idle) (2, more than the allowed 0)",
                "LLDP neighbours not as before: et-0/0/48: spine1 et-0/0/1, now spine2 et-0/0/1 (1, more than the allowed 0)",
                "LACP bundles up before and not after: ae0 (1, more than the allowed 0)",
                "interfaces up before and not after: xe-0/0/0 (1, more than the allowed 0)",
                "new alarms: FPC 0 Major Errors (1, more than the allowed 0)",
            ]
        );
    }

    #[test]
    fn a_figure_that_cannot_be_read_the_second_time_is_a_finding() {
        let after = Snapshot { missing: vec!["everything".into()], ..Snapshot::default() };
        let findings = diff(&snapshot(), &after, &HealthLimits::default());
        assert_eq!(findings.len(), 7, "{findings:?}");
        assert!(findings.iter().all(|f| f.ends_with("could not be read the second time")));
    }
}
