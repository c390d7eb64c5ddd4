//! The `hitless` command line. Only this module knows clap, terminals, output formats and exit
//! codes.
//!
//! Exit codes: 0 success; 1 the command ran but the answer is "no" (reserved for verdicts such as
//! a plan that is not hitless); 2 an error (bad input, unreadable file), printed as
//! `hitless: ...` on standard error.

mod image;
mod plan;
mod render;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit status when the command ran and the answer is "no" (e.g. not hitless).
pub const EXIT_NO: u8 = 1;
/// Exit status for errors, including a result that contradicts a scenario's `expect:`.
pub const EXIT_ERROR: u8 = 2;

/// Plans, proves and executes hitless network OS upgrades of switch fabrics.
#[derive(Debug, Parser)]
#[command(name = "hitless", version, about)]
pub struct Cli {
    /// The state directory (image catalog, jobs). Default: $HITLESS_HOME, else the platform's
    /// data directory (~/.local/share/hitless on Linux).
    #[arg(long, global = true, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Plan the upgrade batches of a scenario.
    Plan(PlanArgs),
    /// Check a scenario file and list every problem in it.
    Validate(ValidateArgs),
    /// Replay the plan against the traffic model: is it hitless? Exit 0 only if so.
    Simulate(SimulateCmd),
    /// The image catalog: add, list, show, edit, rm, verify.
    #[command(subcommand)]
    Image(image::ImageCmd),
}

#[derive(Debug, clap::Args)]
struct SimulateCmd {
    /// The scenario file (YAML).
    scenario: PathBuf,
    /// Judge this plan (the `plan --format json` shape) instead of planning.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Repeat with seeded jitter and report the worst run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
    /// Seed of the first run (default: the scenario's simulation.seed, else 1).
    #[arg(long)]
    seed: Option<u64>,
    /// How many of the worst flows to list.
    #[arg(long, default_value_t = 10)]
    worst: usize,
    /// Override the scenario's upgrade.max_batch_size when planning.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::scenario::MAX_BATCH_SIZE_LIMIT)))]
    max_batch_size: Option<u32>,
}

/// Output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for people.
    #[default]
    Table,
    /// JSON for scripts (a stable shape).
    Json,
}

#[derive(Debug, clap::Args)]
struct PlanArgs {
    /// The scenario file (YAML).
    scenario: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Override the scenario's upgrade.max_batch_size.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::scenario::MAX_BATCH_SIZE_LIMIT)))]
    max_batch_size: Option<u32>,
}

#[derive(Debug, clap::Args)]
struct ValidateArgs {
    /// The scenario file (YAML).
    scenario: PathBuf,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("hitless: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let state_dir = cli.state_dir.as_deref();
    match cli.command {
        Command::Image(cmd) => image::run(cmd, state_dir),
        Command::Plan(args) => plan::plan(&load_scenario(&args.scenario, state_dir)?, args.format, args.max_batch_size),
        Command::Validate(args) => plan::validate(&args.scenario, &load_scenario(&args.scenario, state_dir)?),
        Command::Simulate(args) => simulate::run(simulate::SimulateArgs {
            scenario: &load_scenario(&args.scenario, state_dir)?,
            scenario_path: &args.scenario,
            plan: args.plan.as_deref(),
            format: args.format,
            runs: args.runs,
            seed: args.seed,
            worst: args.worst,
            max_batch_size: args.max_batch_size,
        }),
    }
}

/// Loads a scenario; images named only by name come from the catalog in the state store, which
/// is opened only if the scenario has such images.
fn load_scenario(
    path: &std::path::Path,
    state_dir: Option<&std::path::Path>,
) -> anyhow::Result<crate::scenario::Scenario> {
    let open = || image::open_store(state_dir).map_err(|e| format!("{e:#}"));
    let catalog = crate::catalog::StoreCatalog::new(&open);
    Ok(crate::scenario::Scenario::load_with(path, &catalog)?)
}
