//! The plan as users' scripts see it: the `--format json` shape of `hitless plan`, which
//! `hitless simulate --plan FILE` reads back. Fields may be added, never renamed.

use serde::{Deserialize, Serialize};

use super::Plan;
use crate::model::Role;
use crate::scenario::Scenario;
use crate::select::Skipped;

/// `hitless plan --format json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanReport {
    /// Scenario name.
    pub scenario: String,
    /// Batch size the plan was made for.
    pub max_batch_size: u32,
    /// Batches in order.
    pub batches: Vec<BatchReport>,
    /// Devices not upgraded, with the reason.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// No valid plan has fewer batches.
    #[serde(default)]
    pub lower_bound_batches: usize,
    /// Rules a plan not made by the planner breaks (listed in the warnings), so that fewer
    /// batches than the lower bound are no achievement; absent when none is broken.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rules_broken: usize,
    /// Sum of the batch estimates.
    #[serde(default)]
    pub estimated_total_seconds: u64,
    /// Warnings for the operator.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The maintenance window (`upgrade.window`), as `02:00–05:30 Europe/Amsterdam`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// How many such windows the plan needs (batches placed in order, each starting only if its
    /// estimate ends inside the window); absent when a batch is longer than the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_needed: Option<usize>,
    /// How each device is rebooted into its new software, and why (`upgrade.method`); absent
    /// with the default `reload`, when every device is drained and reloaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<MethodReport>,
}

/// One device's method in [`PlanReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodReport {
    /// Device name.
    pub device: String,
    /// `ssu` (Smart System Upgrade, in service) or `reload` (drained and reloaded).
    pub method: String,
    /// Why.
    pub why: String,
}

/// One batch in [`PlanReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchReport {
    /// 1-based position.
    pub index: usize,
    /// Role of the batch's devices.
    pub role: Role,
    /// Device names.
    pub devices: Vec<String>,
    /// The batch's estimate: its slowest device.
    #[serde(default)]
    pub estimated_seconds: u64,
    /// True for the canary batch (`upgrade.canary`), run alone before the rest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub canary: bool,
}

impl PlanReport {
    /// Builds the report for `plan`, made from `scenario`.
    pub fn new(scenario: &Scenario, plan: &Plan) -> PlanReport {
        let name = |id: crate::model::DeviceId| scenario.fabric.device(id).name.clone();
        // What a window must hold of each batch: its estimate and the pre-check's readings, as
        // the executor keeps to a window.
        let readings = u64::from(scenario.health_limits.sample_seconds);
        let runs: Vec<u64> = plan.batches.iter().map(|b| b.estimated_seconds + readings).collect();
        let windows_needed = scenario.window.as_ref().and_then(|w| w.windows_needed(&runs));
        let mut warnings = plan.warnings.clone();
        if let Some(window) = &scenario.window
            && windows_needed.is_none()
        {
            let length = window.length_seconds().max(0) as u64;
            for (i, run) in runs.iter().enumerate().filter(|(_, run)| **run > length) {
                warnings.push(format!(
                    "batch {} is estimated at {run} s with its pre-check, longer than the maintenance window ({}, {length} s): it can never start inside it",
                    i + 1,
                    window.describe()
                ));
            }
        }
        PlanReport {
            scenario: scenario.name.clone(),
            max_batch_size: plan.max_batch_size,
            batches: plan
                .batches
                .iter()
                .enumerate()
                .map(|(i, batch)| BatchReport {
                    index: i + 1,
                    role: batch.role,
                    devices: batch.devices.iter().map(|d| name(*d)).collect(),
                    estimated_seconds: batch.estimated_seconds,
                    canary: plan.canary && i == 0,
                })
                .collect(),
            skipped: plan
                .skipped
                .iter()
                .map(|(d, reason)| Skipped { device: name(*d), reason: reason.clone() })
                .collect(),
            lower_bound_batches: plan.lower_bound_batches,
            rules_broken: 0,
            estimated_total_seconds: plan.estimated_total_seconds(),
            warnings,
            window: scenario.window.as_ref().map(crate::window::Window::describe),
            windows_needed,
            methods: methods(scenario, plan.batches.iter().flat_map(|b| b.devices.iter().copied())),
        }
    }
}

/// Each of `devices`' method and why, in order; empty with the default `upgrade.method:
/// reload`, when every device is drained and reloaded.
pub fn methods(scenario: &Scenario, devices: impl Iterator<Item = crate::model::DeviceId>) -> Vec<MethodReport> {
    if scenario.method == crate::scenario::settings::UpgradeMethod::Reload {
        return Vec::new();
    }
    devices
        .map(|id| {
            let (method, why) = scenario.method_of(id);
            MethodReport { device: scenario.fabric.device(id).name.clone(), method: method.as_str().to_string(), why }
        })
        .collect()
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
