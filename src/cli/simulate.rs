//! `hitless simulate`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::{EXIT_ERROR, EXIT_NO, Format, render};
use crate::plan::PlanOptions;
use crate::plan::report::PlanReport;
use crate::scenario::Scenario;
use crate::simulate::report::SimReport;
use crate::simulate::{SimOptions, input, simulate};

/// Arguments of `hitless simulate`, already parsed.
pub struct SimulateArgs<'a> {
    pub scenario: &'a Scenario,
    /// Devices whose image is staged ahead (their copy takes no time).
    pub staged: Vec<crate::model::DeviceId>,
    pub scenario_path: &'a Path,
    pub plan: Option<&'a Path>,
    pub format: Format,
    pub runs: u32,
    pub seed: Option<u64>,
    pub worst: usize,
    pub max_batch_size: Option<u32>,
    pub report: Option<&'a Path>,
    /// When the job starts (Unix seconds): the schedule keeps to the maintenance window.
    pub start_unix: Option<i64>,
}

pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let scenario = args.scenario;
    let plan_options = PlanOptions { max_batch_size: args.max_batch_size };
    let mut plan = match args.plan {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read plan {}", path.display()))?;
            let report: PlanReport = serde_json::from_str(&text)
                .with_context(|| format!("plan {} is not in the `hitless plan --format json` shape", path.display()))?;
            input::from_report(scenario, &report, &path.display().to_string(), &plan_options)?
        }
        None => input::for_scenario(scenario, &plan_options),
    };
    plan.staged = args.staged;
    if args.start_unix.is_some() && scenario.window.is_none() {
        eprintln!(
            "hitless: {}: --start changes nothing: the scenario has no upgrade.window to keep",
            args.scenario_path.display()
        );
    }
    let seed = args.seed.unwrap_or(scenario.simulation.seed);
    let options = SimOptions {
        runs: args.runs,
        seed,
        worst_flows: args.worst,
        exposure_per_batch: 5,
        faults: true,
        start_unix: args.start_unix,
    };
    if args.format == Format::Table {
        println!(
            "Simulating {}: {} batches, seed {seed}, {} run(s); replay with: hitless simulate {} --seed {seed}",
            scenario.name,
            plan.batches.len(),
            args.runs,
            args.scenario_path.display()
        );
        if !plan.staged.is_empty() {
            println!(
                "{} device(s) have their image staged ahead (`hitless stage`): their copy takes no time, as it will when the upgrade runs.",
                plan.staged.len()
            );
        }
    }
    let report = simulate(scenario, &plan, &options);
    if let Some(out) = args.report {
        // The page shows more than the table: its own simulation, with more flows and exposure.
        let detailed = simulate(scenario, &plan, &crate::view::sim_options(seed));
        // A plan file's batches are judged as the simulation judged them: rules and warnings.
        let plan_report = crate::view::plan_report(scenario, &plan);
        super::report::write(&crate::view::for_plan(scenario, &plan_report, &detailed), out)?;
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report).context("encoding the report")?),
        Format::Table => print!("{}", table(&report)),
    }
    // `expect:` speaks of the scenario's own plan; a plan file is judged on its own.
    let contradictions = if args.plan.is_none() { contradictions(scenario, &report) } else { Vec::new() };
    if !contradictions.is_empty() {
        for contradiction in &contradictions {
            eprintln!("hitless: {}: {contradiction}", args.scenario_path.display());
        }
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    Ok(if report.hitless { ExitCode::SUCCESS } else { ExitCode::from(EXIT_NO) })
}

/// Where the result contradicts the scenario's `expect:`.
pub fn contradictions(scenario: &Scenario, report: &SimReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(expected) = scenario.expect.hitless
        && expected != report.hitless
    {
        let verdict = if report.hitless { "HITLESS" } else { "NOT HITLESS" };
        out.push(format!(
            "expected hitless: {expected}, but the simulation says {verdict} ({} lost in {} flows)",
            render::bytes(report.lost_bytes),
            report.flows_with_loss_count
        ));
    }
    if let Some(max) = scenario.expect.max_batches
        && report.batches.len() > max
    {
        out.push(format!("expected at most {max} batches, the plan has {}", report.batches.len()));
    }
    out
}

fn table(report: &SimReport) -> String {
    let mut out = String::new();
    let verdict = if report.hitless { "HITLESS" } else { "NOT HITLESS" };
    out.push_str(&format!(
        "Verdict: {verdict}: {} lost in {} of {} flows; simulated {}{}\n",
        render::bytes(report.lost_bytes),
        report.flows_with_loss_count,
        report.flow_count,
        render::duration(report.simulated_seconds.round() as u64),
        if report.drain { "" } else { " without maintenance mode" }
    ));
    if !report.flows_with_loss.is_empty() {
        let mut flows = render::table(&["Flow", "Lost", "Cause", "At"]);
        for flow in &report.flows_with_loss {
            let cause = flow.cause.as_ref().map_or(String::new(), |c| match &c.link {
                Some(link) => format!("congestion on {link}"),
                None => format!("{} blackholes", c.device),
            });
            let at = flow.cause.as_ref().map_or(String::new(), |c| format!("{:.1}s", c.at_seconds));
            flows.add_row(vec![format!("{} -> {}", flow.src, flow.dst), render::bytes(flow.lost_bytes), cause, at]);
        }
        out.push_str(&format!("Worst flows:\n{flows}\n"));
    }
    if let Some(peak) = &report.peak_link_utilisation {
        out.push_str(&format!(
            "Peak link utilisation: {:.0}% on {} at {:.1}s\n",
            peak.utilisation * 100.0,
            peak.link,
            peak.at_seconds
        ));
    }
    let mut batches =
        render::table(&["Batch", "Role", "Devices", "Window", "Losing", "One more failure would cut (n+1)"]);
    for batch in &report.batches {
        let exposure: Vec<String> = batch.exposure.iter().map(|e| format!("{}: {} flows", e.device, e.flows)).collect();
        batches.add_row(vec![
            batch.index.to_string(),
            batch.role.to_string(),
            batch.devices.join(", "),
            format!("{}-{}", render::duration(batch.start_seconds as u64), render::duration(batch.end_seconds as u64)),
            batch.flows_losing_when_down.to_string(),
            exposure.join(", "),
        ]);
    }
    out.push_str(&format!("{batches}\n"));
    if let Some(window) = &report.window {
        match report.windows_needed {
            Some(needed) => out.push_str(&format!("Needs {needed} maintenance window(s) of {window}\n")),
            None => {
                out.push_str(&format!("A batch is longer than the maintenance window ({window}): it can never start\n"))
            }
        }
    }
    for warning in &report.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    out
}
