//! Health checks: the figures a device reports, the limits the operator sets, and the verdict.
//!
//! Checks fail closed: a figure the device did not report is a failed check naming what was
//! missing, never a zero. Lifetime counters (BGP flaps per peer, errors per port) are judged as
//! the change between two readings: the pre-upgrade check takes two readings
//! `sample_seconds` apart, and the post-upgrade check compares against the pre-upgrade reading.
//! A counter that went down was reset (the device rebooted), so its new value is the change.
//!
//! Scenario `upgrade.health_checks` (defaults in parentheses): `bgp_peers_down_max` (0),
//! `bgp_flaps_max` (5, between two readings), `alarms_max` (0, chassis and system alarms),
//! `re_cpu_idle_min_percent` (60, every routing engine), `interface_errors_max` (100, between two
//! readings, fabric and server ports only), `lacp_down_max` (0), `free_disk_min_mb` (the image
//! size plus 10 %, at least 1024, on every routing engine's filesystem holding `/var/tmp`),
//! `sample_seconds` (10). `upgrade.abort_on_health_check_failure` (true) decides whether a failed
//! check stops that device's upgrade.
//!
//! The snapshot diff (`crate::snapshot`, before maintenance mode and after it is lifted) has its
//! own settings here: `snapshot_diff` (true), `bgp_peers_lost_max` (0, peers Established before
//! and not after), `lldp_neighbours_lost_max` (0), `interfaces_down_max` (0, fabric and server
//! ports up before and not after), `lacp_down_max` (as above, bundles up before and not after),
//! `route_count_tolerance_percent` (10, per table), `mac_count_tolerance_percent` (20),
//! `new_alarms_max` (0).
//!
//! The verified drain: once maintenance mode is on, the device's fabric and server ports must
//! carry at most `drained_max_mbps` (1000, in plus out, summed) within `drain_verify_seconds`
//! (300), or maintenance mode is lifted again and the device is not touched.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One BGP peer as the device sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpPeer {
    /// The peer's address.
    pub address: String,
    /// True when the session is Established.
    pub established: bool,
    /// The lifetime flap count, if the device reported it.
    pub flaps: Option<u64>,
}

/// One active alarm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alarm {
    /// `Major` or `Minor`.
    pub class: String,
    /// What the device says.
    pub description: String,
}

/// What a device reports. A figure that could not be read is `None` and named in `missing`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthReport {
    /// BGP peers with their state and lifetime flap count.
    pub bgp_peers: Option<Vec<BgpPeer>>,
    /// Active alarms, chassis and system.
    pub alarms: Option<Vec<Alarm>>,
    /// CPU idle of each routing engine (or member), percent.
    pub re_cpu_idle_percent: Option<Vec<(String, u32)>>,
    /// Cumulative input plus output errors of each fabric and server port.
    pub interface_errors: Option<BTreeMap<String, u64>>,
    /// LAG members that are not collecting and distributing.
    pub lacp_down: Option<Vec<String>>,
    /// Free bytes on the filesystem holding `/var/tmp`, per routing engine (or member).
    pub free_disk_bytes: Option<Vec<(String, u64)>>,
    /// Every figure that could not be read, with why.
    pub missing: Vec<String>,
}

impl HealthReport {
    /// A report in which every figure was read and all is well (for virtual devices and tests).
    pub fn healthy(engines: &[&str], free_disk_bytes: u64) -> HealthReport {
        HealthReport {
            bgp_peers: Some(Vec::new()),
            alarms: Some(Vec::new()),
            re_cpu_idle_percent: Some(engines.iter().map(|e| (e.to_string(), 85)).collect()),
            interface_errors: Some(BTreeMap::new()),
            lacp_down: Some(Vec::new()),
            free_disk_bytes: Some(engines.iter().map(|e| (e.to_string(), free_disk_bytes)).collect()),
            missing: Vec::new(),
        }
    }
}

/// How often the executor reads a device's traffic while it proves the drain, in seconds of the
/// job's clock (the simulated schedule counts the same readings).
pub const DRAIN_POLL_SECONDS: u64 = 10;

/// The operator's limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)]
pub struct HealthLimits {
    pub bgp_peers_down_max: u32,
    pub bgp_flaps_max: u32,
    pub alarms_max: u32,
    pub re_cpu_idle_min_percent: u32,
    pub interface_errors_max: u64,
    pub lacp_down_max: u32,
    /// `None`: the image size plus 10 %, at least 1024 MB.
    pub free_disk_min_mb: Option<u64>,
    /// Seconds between the two readings of the pre-upgrade check (and of a post-upgrade check
    /// that has no pre-upgrade reading to compare with, after a resume).
    pub sample_seconds: u32,
    /// Whether snapshots are taken before and after and their diff judged.
    pub snapshot_diff: bool,
    pub bgp_peers_lost_max: u32,
    pub lldp_neighbours_lost_max: u32,
    pub interfaces_down_max: u32,
    pub route_count_tolerance_percent: u32,
    pub mac_count_tolerance_percent: u32,
    pub new_alarms_max: u32,
    /// A drained device's fabric and server ports may carry at most this much (in plus out),
    /// Mbit/s, before anything disruptive is done to it.
    pub drained_max_mbps: u64,
    /// How long to wait for that, in seconds, before giving up (maintenance mode off again).
    pub drain_verify_seconds: u32,
}

impl Default for HealthLimits {
    fn default() -> Self {
        HealthLimits {
            bgp_peers_down_max: 0,
            bgp_flaps_max: 5,
            alarms_max: 0,
            re_cpu_idle_min_percent: 60,
            interface_errors_max: 100,
            lacp_down_max: 0,
            free_disk_min_mb: None,
            sample_seconds: 10,
            snapshot_diff: true,
            bgp_peers_lost_max: 0,
            lldp_neighbours_lost_max: 0,
            interfaces_down_max: 0,
            route_count_tolerance_percent: 10,
            mac_count_tolerance_percent: 20,
            new_alarms_max: 0,
            drained_max_mbps: 1000,
            drain_verify_seconds: 300,
        }
    }
}

/// How much a lifetime counter grew from `before` to `now`; a counter that went down was reset
/// (a reboot), so everything it shows now is new.
fn growth(before: u64, now: u64) -> u64 {
    if now >= before { now - before } else { now }
}

impl HealthLimits {
    /// The free space the image needs, in MB (10^6 bytes).
    pub fn disk_needed_mb(&self, image_size_bytes: u64) -> u64 {
        self.free_disk_min_mb.unwrap_or(((image_size_bytes / 1_000_000) * 11 / 10).max(1024))
    }

    /// Every limit `report` breaks, as sentences naming the figure; empty when healthy.
    /// `baseline` is an earlier reading of the same device: lifetime counters are judged by
    /// their growth since it. Without a baseline they are not judged (one reading of a lifetime
    /// counter says nothing about now).
    pub fn check(&self, report: &HealthReport, baseline: Option<&HealthReport>, image_size_bytes: u64) -> Vec<Finding> {
        let mut failures: Vec<Finding> =
            report.missing.iter().map(|m| Finding::Unreadable { what: m.clone() }).collect();
        let mut over = |figure: Figure, names: String, value: u64, max: u64| {
            if value > max {
                failures.push(Finding::OverLimit { figure, names, value, max });
            }
        };
        if let Some(peers) = &report.bgp_peers {
            let down: Vec<&str> = peers.iter().filter(|p| !p.established).map(|p| p.address.as_str()).collect();
            over(Figure::BgpPeersDown, named(&down), down.len() as u64, self.bgp_peers_down_max.into());
            if let Some(before) = baseline.and_then(|b| b.bgp_peers.as_ref()) {
                over(Figure::BgpFlaps, String::new(), flap_growth(before, peers), self.bgp_flaps_max.into());
            }
        }
        if let Some(alarms) = &report.alarms {
            let named_alarms: Vec<&str> = alarms.iter().map(|a| a.description.as_str()).collect();
            over(Figure::Alarms, named(&named_alarms), alarms.len() as u64, self.alarms_max.into());
        }
        if let (Some(now), Some(before)) =
            (&report.interface_errors, baseline.and_then(|b| b.interface_errors.as_ref()))
        {
            let (total, worst) = error_growth(before, now);
            let worst = worst.map_or(String::new(), |(port, n)| format!(" (most on {port}: {n})"));
            over(Figure::InterfaceErrors, worst, total, self.interface_errors_max);
        }
        if let Some(down) = &report.lacp_down {
            let names: Vec<&str> = down.iter().map(String::as_str).collect();
            over(Figure::LacpDown, named(&names), down.len() as u64, self.lacp_down_max.into());
        }
        for (engine, idle) in report.re_cpu_idle_percent.iter().flatten() {
            if *idle < self.re_cpu_idle_min_percent {
                failures.push(Finding::CpuIdleLow {
                    engine: engine.clone(),
                    idle_percent: *idle,
                    min_percent: self.re_cpu_idle_min_percent,
                });
            }
        }
        let needed = self.disk_needed_mb(image_size_bytes);
        for (engine, bytes) in report.free_disk_bytes.iter().flatten() {
            let mb = bytes / 1_000_000;
            if mb < needed {
                failures.push(Finding::DiskLow { engine: engine.clone(), free_mb: mb, needed_mb: needed });
            }
        }
        failures
    }
}

/// A figure a health check counts and holds to a maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// BGP peers not Established (`bgp_peers_down_max`).
    BgpPeersDown,
    /// BGP flaps between the two readings (`bgp_flaps_max`).
    BgpFlaps,
    /// Active chassis and system alarms (`alarms_max`).
    Alarms,
    /// Interface errors between the two readings (`interface_errors_max`).
    InterfaceErrors,
    /// LACP members not collecting and distributing (`lacp_down_max`).
    LacpDown,
}

impl Figure {
    fn label(self) -> &'static str {
        match self {
            Figure::BgpPeersDown => "BGP peers down",
            Figure::BgpFlaps => "BGP flaps since the last reading",
            Figure::Alarms => "active alarms",
            Figure::InterfaceErrors => "interface errors since the last reading",
            Figure::LacpDown => "LACP members down",
        }
    }
}

/// One reason a health check fails. Shown (`Display`) as the journal and the test run say it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// A figure could not be read: the check fails rather than pass on what it did not see.
    Unreadable {
        /// What, and why (the reading's own words).
        what: String,
    },
    /// A counted figure is over its maximum.
    OverLimit {
        /// Which.
        figure: Figure,
        /// The ones counted, as ` (a, b and 3 more)`, or the worst port; may be empty.
        names: String,
        /// The count.
        value: u64,
        /// The maximum allowed.
        max: u64,
    },
    /// A routing engine's CPU is busier than `re_cpu_idle_min_percent` allows.
    CpuIdleLow {
        /// The engine.
        engine: String,
        /// Its idle share.
        idle_percent: u32,
        /// The least allowed.
        min_percent: u32,
    },
    /// Too little free space in /var/tmp for the image.
    DiskLow {
        /// The engine.
        engine: String,
        /// Free, in MB.
        free_mb: u64,
        /// What the image needs, in MB.
        needed_mb: u64,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Unreadable { what } => write!(f, "{what}: the check fails when a figure cannot be read"),
            Finding::OverLimit { figure, names, value, max } => {
                write!(f, "{}{names} is {value}, more than the allowed {max}", figure.label())
            }
            Finding::CpuIdleLow { engine, idle_percent, min_percent } => {
                write!(f, "routing-engine CPU idle on {engine} is {idle_percent} %, below the required {min_percent} %")
            }
            Finding::DiskLow { engine, free_mb, needed_mb } => {
                write!(
                    f,
                    "free disk for /var/tmp on {engine} is {free_mb} MB, below the {needed_mb} MB the image needs"
                )
            }
        }
    }
}

/// Findings as one line, `; ` between them.
pub fn joined(findings: &[Finding]) -> String {
    findings.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

fn named(names: &[&str]) -> String {
    const SHOWN: usize = 4;
    if names.is_empty() {
        return String::new();
    }
    let more = names.len().saturating_sub(SHOWN);
    let list = names.iter().take(SHOWN).copied().collect::<Vec<_>>().join(", ");
    if more > 0 { format!(" ({list} and {more} more)") } else { format!(" ({list})") }
}

fn flap_growth(before: &[BgpPeer], now: &[BgpPeer]) -> u64 {
    now.iter()
        .filter_map(|peer| {
            let flaps = peer.flaps?;
            let earlier = before.iter().find(|b| b.address == peer.address).and_then(|b| b.flaps);
            Some(earlier.map_or(0, |e| growth(e, flaps)))
        })
        .sum()
}

fn error_growth(before: &BTreeMap<String, u64>, now: &BTreeMap<String, u64>) -> (u64, Option<(String, u64)>) {
    let mut total = 0;
    let mut worst: Option<(String, u64)> = None;
    for (port, errors) in now {
        let grown = before.get(port).map_or(0, |b| growth(*b, *errors));
        total += grown;
        if grown > 0 && worst.as_ref().is_none_or(|(_, w)| grown > *w) {
            worst = Some((port.clone(), grown));
        }
    }
    (total, worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(address: &str, established: bool, flaps: u64) -> BgpPeer {
        BgpPeer { address: address.into(), established, flaps: Some(flaps) }
    }

    #[test]
    fn a_healthy_report_passes_and_each_limit_is_named() {
        let limits = HealthLimits::default();
        let healthy = HealthReport::healthy(&["re0"], 8_000_000_000);
        assert!(limits.check(&healthy, Some(&healthy), 1_500_000_000).is_empty());
        let mut sick = healthy.clone();
        sick.bgp_peers = Some(vec![peer("10.0.0.1", false, 0), peer("10.0.0.2", false, 0)]);
        sick.alarms =
            Some(vec![Alarm { class: "Minor".into(), description: "Rescue configuration is not set".into() }]);
        sick.re_cpu_idle_percent = Some(vec![("re0".into(), 20)]);
        sick.free_disk_bytes = Some(vec![("re0".into(), 100_000_000)]);
        let found = limits.check(&sick, None, 1_500_000_000);
        // Typed: what failed, by how much, against which limit.
        assert_eq!(
            found[0],
            Finding::OverLimit {
                figure: Figure::BgpPeersDown,
                names: " (10.0.0.1, 10.0.0.2)".into(),
                value: 2,
                max: 0
            }
        );
        assert_eq!(found[2], Finding::CpuIdleLow { engine: "re0".into(), idle_percent: 20, min_percent: 60 });
        assert_eq!(found[3], Finding::DiskLow { engine: "re0".into(), free_mb: 100, needed_mb: 1650 });
        let failures: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(failures.len(), 4, "{failures:?}");
        assert_eq!(failures[0], "BGP peers down (10.0.0.1, 10.0.0.2) is 2, more than the allowed 0");
        assert!(failures[1].contains("Rescue configuration is not set"), "{failures:?}");
        assert!(failures[3].contains("on re0 is 100 MB, below the 1650 MB the image needs"), "{failures:?}");
    }

    #[test]
    fn a_figure_that_cannot_be_read_fails_the_check() {
        let mut report = HealthReport::healthy(&["re0"], 8_000_000_000);
        report.alarms = None;
        report.missing.push("chassis alarms (no active-alarm-count in get-alarm-information)".into());
        let failures: Vec<String> =
            HealthLimits::default().check(&report, None, 0).iter().map(ToString::to_string).collect();
        assert_eq!(failures.len(), 1);
        assert!(failures[0].starts_with("chassis alarms (no active-alarm-count"), "{failures:?}");
    }

    #[test]
    fn lifetime_counters_are_judged_by_their_growth_between_readings() {
        let limits = HealthLimits::default();
        let mut before = HealthReport::healthy(&["re0"], 8_000_000_000);
        before.bgp_peers = Some(vec![peer("10.0.0.1", true, 40), peer("10.0.0.2", true, 7)]);
        before.interface_errors = Some(BTreeMap::from([("et-0/0/48".into(), 5_000), ("xe-0/0/1".into(), 9)]));
        // Thousands of old errors and forty old flaps: one reading alone judges nothing.
        assert!(limits.check(&before, None, 0).is_empty());
        assert!(limits.check(&before, Some(&before), 0).is_empty());
        let mut now = before.clone();
        now.bgp_peers = Some(vec![peer("10.0.0.1", true, 44), peer("10.0.0.2", true, 9)]);
        now.interface_errors = Some(BTreeMap::from([("et-0/0/48".into(), 5_150), ("xe-0/0/1".into(), 9)]));
        let failures: Vec<String> = limits.check(&now, Some(&before), 0).iter().map(ToString::to_string).collect();
        assert_eq!(
            failures,
            [
                "BGP flaps since the last reading is 6, more than the allowed 5",
                "interface errors since the last reading (most on et-0/0/48: 150) is 150, more than the allowed 100",
            ]
        );
        // After a reboot the counters start again: what they show is all new.
        let mut rebooted = before.clone();
        rebooted.interface_errors = Some(BTreeMap::from([("et-0/0/48".into(), 3), ("xe-0/0/1".into(), 0)]));
        rebooted.bgp_peers = Some(vec![peer("10.0.0.1", true, 0), peer("10.0.0.2", true, 1)]);
        assert!(limits.check(&rebooted, Some(&before), 0).is_empty());
    }
}
