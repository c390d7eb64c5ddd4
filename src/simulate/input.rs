//! Where the batches to simulate come from: the planner, the scenario's hand-written
//! `upgrade.batches`, or a plan file in the `plan --format json` shape. Plans not made by the
//! planner are still simulated — the simulator is the judge — with their rule violations listed
//! as warnings.

use super::PlanInput;
use crate::model::DeviceId;
use crate::plan::report::PlanReport;
use crate::plan::{PlanOptions, check::check, plan};
use crate::scenario::Scenario;

/// The planner's plan for the scenario (or its `upgrade.batches` when it has them), with the
/// devices the scenario declares out of service (those not planned) down from the start.
pub fn for_scenario(scenario: &Scenario, options: &PlanOptions) -> PlanInput {
    let mut input = planned(scenario, options);
    input.out_of_service = declared_out(scenario, &input.batches);
    input
}

/// The devices `scenario` declares out of service, other than those in `batches`.
pub fn declared_out(scenario: &Scenario, batches: &[Vec<crate::model::DeviceId>]) -> Vec<super::OutOfService> {
    scenario
        .out_of_service
        .iter()
        .filter(|(id, _)| !batches.iter().any(|b| b.contains(id)))
        .map(|(id, why)| super::OutOfService { device: *id, down: true, why: why.clone() })
        .collect()
}

fn planned(scenario: &Scenario, options: &PlanOptions) -> PlanInput {
    match &scenario.fixed_batches {
        Some(batches) => {
            let mut batches = batches.clone();
            let mut canary_warning = None;
            if scenario.canary > 0 && !batches.is_empty() {
                let (alone, rest, warning) = crate::plan::canary_split(scenario, batches.remove(0));
                canary_warning = warning;
                if !rest.is_empty() {
                    batches.insert(0, rest);
                }
                batches.insert(0, alone);
            }
            let mut input = judged(scenario, batches, "upgrade.batches", options);
            input.warnings.extend(canary_warning);
            input
        }
        None => {
            let plan = plan(scenario, options);
            PlanInput {
                batches: plan.batches.into_iter().map(|b| b.devices).collect(),
                warnings: plan.warnings,
                out_of_service: Vec::new(),
                rules_broken: 0,
                staged: Vec::new(),
            }
        }
    }
}

/// Why a plan file cannot be judged against a scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanFileError {
    /// The plan names devices the scenario does not have.
    #[error("plan {file} names devices that are not in scenario {scenario}: {}", unknown.join(", "))]
    UnknownDevices {
        /// The plan file.
        file: String,
        /// The scenario.
        scenario: String,
        /// Each unknown device, with its batch.
        unknown: Vec<String>,
    },
}

/// A plan read from a file: names resolved, rules checked. Unknown devices are errors.
pub fn from_report(
    scenario: &Scenario,
    report: &PlanReport,
    source: &str,
    options: &PlanOptions,
) -> Result<PlanInput, PlanFileError> {
    let mut batches = Vec::with_capacity(report.batches.len());
    let mut unknown = Vec::new();
    for batch in &report.batches {
        let mut ids = Vec::with_capacity(batch.devices.len());
        for name in &batch.devices {
            match scenario.fabric.lookup(name) {
                Some(id) => ids.push(id),
                None => unknown.push(format!("{name} (batch {})", batch.index)),
            }
        }
        batches.push(ids);
    }
    if !unknown.is_empty() {
        return Err(PlanFileError::UnknownDevices {
            file: source.to_string(),
            scenario: scenario.name.clone(),
            unknown,
        });
    }
    let options = PlanOptions { max_batch_size: Some(options.max_batch_size.unwrap_or(report.max_batch_size)) };
    Ok(judged(scenario, batches, source, &options))
}

/// A plan not made by the planner, with its violations (and coverage gaps) as warnings, and
/// every warning the planner gives about the fabric and the selection (a single-homed server, a
/// leaf with one uplink, a downgrade), for the devices the plan upgrades.
fn judged(scenario: &Scenario, batches: Vec<Vec<DeviceId>>, source: &str, options: &PlanOptions) -> PlanInput {
    let max_batch_size = options.max_batch_size.unwrap_or(scenario.max_batch_size) as usize;
    let mut is_target = vec![false; scenario.fabric.len()];
    for device in batches.iter().flatten() {
        is_target[device.index()] = true;
    }
    let mut warnings = crate::plan::fabric_warnings(scenario, &is_target);
    let violations = check(&scenario.fabric, &batches, max_batch_size);
    let rules_broken = violations.len();
    warnings.extend(violations.into_iter().map(|v| format!("{source} breaks a rule: {v}")));
    let planned: std::collections::HashSet<DeviceId> = batches.iter().flatten().copied().collect();
    for target in &scenario.selection.targets {
        if !planned.contains(&target.device) {
            let name = &scenario.fabric.device(target.device).name;
            warnings.push(format!("{source} leaves out {name}, which is selected for upgrade"));
        }
    }
    for (device, reason) in &scenario.selection.skipped {
        if planned.contains(device) {
            let name = &scenario.fabric.device(*device).name;
            warnings.push(format!("{source} upgrades {name}, which the selection skips ({reason})"));
        }
    }
    PlanInput { batches, warnings, out_of_service: Vec::new(), rules_broken, staged: Vec::new() }
}
