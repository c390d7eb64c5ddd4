//! Health checks: the figures a device reports, the limits the operator sets, and the verdict.
//!
//! Scenario `upgrade.health_checks` (defaults in parentheses): `bgp_peers_down_max` (0),
//! `bgp_flaps_max` (5), `alarms_max` (0), `re_cpu_idle_min_percent` (60),
//! `interface_errors_max` (100), `lacp_down_max` (0), `free_disk_min_mb` (image size + 10 %, at
//! least 1024). `upgrade.abort_on_health_check_failure` (true) decides whether a failed check
//! stops that device's upgrade.

use serde::{Deserialize, Serialize};

/// What a device reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// BGP peers not Established.
    pub bgp_peers_down: u32,
    /// BGP session flaps since the last check window.
    pub bgp_flaps: u32,
    /// Active alarms.
    pub alarms: u32,
    /// Routing-engine CPU idle, percent.
    pub re_cpu_idle_percent: u32,
    /// Interface input/output errors.
    pub interface_errors: u64,
    /// Server LAG members not collecting/distributing.
    pub lacp_down: u32,
    /// Free space in /var/tmp, MB.
    pub free_disk_mb: u64,
}

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
        }
    }
}

impl HealthLimits {
    /// Every limit `report` breaks, as sentences naming the figure; empty when healthy.
    pub fn check(&self, report: &HealthReport, image_size_bytes: u64) -> Vec<String> {
        let disk_min = self.free_disk_min_mb.unwrap_or(((image_size_bytes / 1_000_000) * 11 / 10).max(1024));
        let mut failures = Vec::new();
        let mut over = |what: &str, value: u64, max: u64| {
            if value > max {
                failures.push(format!("{what} is {value}, more than the allowed {max}"));
            }
        };
        over("BGP peers down", report.bgp_peers_down.into(), self.bgp_peers_down_max.into());
        over("BGP flaps", report.bgp_flaps.into(), self.bgp_flaps_max.into());
        over("active alarms", report.alarms.into(), self.alarms_max.into());
        over("interface errors", report.interface_errors, self.interface_errors_max);
        over("LACP members down", report.lacp_down.into(), self.lacp_down_max.into());
        if report.re_cpu_idle_percent < self.re_cpu_idle_min_percent {
            failures.push(format!(
                "routing-engine CPU idle is {} %, below the required {} %",
                report.re_cpu_idle_percent, self.re_cpu_idle_min_percent
            ));
        }
        if report.free_disk_mb < disk_min {
            failures.push(format!("free disk is {} MB, below the {disk_min} MB the image needs", report.free_disk_mb));
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_report_passes_and_each_limit_is_named() {
        let limits = HealthLimits::default();
        let healthy = HealthReport { re_cpu_idle_percent: 90, free_disk_mb: 8000, ..Default::default() };
        assert!(limits.check(&healthy, 1_500_000_000).is_empty());
        let sick = HealthReport { bgp_peers_down: 2, alarms: 1, re_cpu_idle_percent: 20, free_disk_mb: 100, ..healthy };
        let failures = limits.check(&sick, 1_500_000_000);
        assert_eq!(failures.len(), 4, "{failures:?}");
        assert!(failures[0].contains("BGP peers down is 2"));
        assert!(failures[3].contains("below the 1650 MB the image needs"));
    }
}
