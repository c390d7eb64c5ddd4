//! `hitless plan` and `hitless validate`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::{Format, render};
use crate::plan::report::PlanReport;
use crate::plan::{PlanOptions, plan as make_plan};
use crate::scenario::Scenario;

pub fn plan(scenario: &Scenario, format: Format, max_batch_size: Option<u32>) -> anyhow::Result<ExitCode> {
    let plan = make_plan(scenario, &PlanOptions { max_batch_size });
    let report = PlanReport::new(scenario, &plan);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report).context("encoding the plan")?),
        Format::Table => print!("{}", plan_table(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn validate(path: &Path, scenario: &Scenario) -> anyhow::Result<ExitCode> {
    let targets = scenario.selection.targets.len();
    let skipped = scenario.selection.skipped.len();
    println!(
        "{}: scenario {} is valid: {} devices, {targets} to upgrade, {skipped} skipped",
        path.display(),
        scenario.name,
        scenario.fabric.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// The human form of a plan: batches, then skipped devices, warnings and a summary line.
pub fn plan_table(report: &PlanReport) -> String {
    let mut out = String::new();
    let mut table = render::table(&["Batch", "Role", "Devices", "Estimate"]);
    for batch in &report.batches {
        table.add_row(vec![
            if batch.canary { format!("{} (canary)", batch.index) } else { batch.index.to_string() },
            batch.role.to_string(),
            batch.devices.join(", "),
            render::duration(batch.estimated_seconds),
        ]);
    }
    out.push_str(&format!("Upgrade plan for {}\n{table}\n", report.scenario));
    if !report.skipped.is_empty() {
        let mut skipped = render::table(&["Skipped", "Reason"]);
        for skip in &report.skipped {
            skipped.add_row(vec![skip.device.clone(), skip.reason.clone()]);
        }
        out.push_str(&format!("{skipped}\n"));
    }
    if !report.methods.is_empty() {
        let mut methods = render::table(&["Device", "Method", "Why"]);
        for method in &report.methods {
            let name = if method.method == "ssu" { "Smart System Upgrade" } else { "drain and reload" };
            methods.add_row(vec![method.device.clone(), name.to_string(), method.why.clone()]);
        }
        out.push_str(&format!("{methods}\n"));
    }
    for warning in &report.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    let devices: usize = report.batches.iter().map(|b| b.devices.len()).sum();
    out.push_str(&format!(
        "{devices} devices in {} batches of at most {} (lower bound {}), {} skipped, estimated {}\n",
        report.batches.len(),
        report.max_batch_size,
        report.lower_bound_batches,
        report.skipped.len(),
        render::duration(report.estimated_total_seconds)
    ));
    if let (Some(window), Some(needed)) = (&report.window, report.windows_needed) {
        out.push_str(&format!("needs {needed} maintenance window(s) of {window}\n"));
    }
    out
}
