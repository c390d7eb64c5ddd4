//! `hitless report`, and `--report FILE` on `simulate` and `upgrade`: the page written to disk.

use std::path::Path;
use std::process::ExitCode;

use super::render;
use anyhow::Context;

use crate::scenario::Scenario;
use crate::simulate::input;
use crate::view::PageData;

/// Writes `page` as HTML to `out`.
pub fn write(page: &PageData, out: &Path) -> anyhow::Result<ExitCode> {
    let html = crate::view::html(page).context("rendering the report")?;
    render::write_atomically(out, html.as_bytes())
        .with_context(|| format!("the report {} was not written", out.display()))?;
    eprintln!("Report written to {} (open it in a browser; it needs no network).", out.display());
    Ok(ExitCode::SUCCESS)
}

/// The page for `scenario`'s plan (or the plan file's) and its simulation.
pub fn scenario(scenario: &Scenario, plan: Option<&Path>, seed: Option<u64>, out: &Path) -> anyhow::Result<ExitCode> {
    let options = crate::plan::PlanOptions::default();
    let (plan_input, plan_report) = match plan {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read plan {}", path.display()))?;
            let report: crate::plan::report::PlanReport = serde_json::from_str(&text)
                .with_context(|| format!("plan {} is not in the `hitless plan --format json` shape", path.display()))?;
            let plan_input = input::from_report(scenario, &report, &path.display().to_string(), &options)?;
            // The page judges the file's batches as the simulation does: its rules and warnings.
            let report = crate::view::plan_report(scenario, &plan_input);
            (plan_input, report)
        }
        None => {
            let plan_input = input::for_scenario(scenario, &options);
            let report = crate::view::plan_report(scenario, &plan_input);
            (plan_input, report)
        }
    };
    let seed = seed.unwrap_or(scenario.simulation.seed);
    let sim = crate::simulate::simulate(scenario, &plan_input, &crate::view::sim_options(seed));
    write(&crate::view::for_plan(scenario, &plan_report, &sim), out)
}
