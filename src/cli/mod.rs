//! The `hitless` command line. Only this module knows clap, terminals, output formats and exit
//! codes.
//!
//! Exit codes: 0 success; 1 the command ran but the answer is "no" (reserved for verdicts such as
//! a plan that is not hitless); 2 an error (bad input, unreadable file), printed as
//! `hitless: ...` on standard error.

mod image;
mod jobs;
mod lab;
mod plan;
mod render;
mod report;
mod serve;
mod simulate;
mod upgrade;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::workflow::service::Service;
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
    /// Log more: -v what the job does (job, batch, device spans with their durations), -vv each
    /// driver call, -vvv every NETCONF message (secrets redacted). RUST_LOG, when set, decides
    /// instead (e.g. RUST_LOG=hitless=debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Write the log to FILE (appended) instead of standard error.
    #[arg(long, global = true, value_name = "FILE")]
    log_file: Option<PathBuf>,
    /// The log's format.
    #[arg(long, global = true, value_enum, default_value_t)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How the log is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// One line per event, for people.
    #[default]
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

/// Starts the log: warnings and errors by default; more with -v, or as RUST_LOG says.
fn init_logging(cli: &Cli) -> anyhow::Result<()> {
    use tracing_subscriber::fmt::format::FmtSpan;
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => tracing_subscriber::EnvFilter::try_new(&directives)
            .map_err(|e| anyhow::anyhow!("RUST_LOG={directives:?} is not a log filter: {e}"))?,
        _ => tracing_subscriber::EnvFilter::new(match cli.verbose {
            0 => "warn",
            1 => "warn,hitless=info",
            2 => "warn,hitless=debug",
            _ => "info,hitless=trace",
        }),
    };
    // Spans report their duration when they close, from -v on.
    let spans = if cli.verbose > 0 { FmtSpan::CLOSE } else { FmtSpan::NONE };
    let writer: tracing_subscriber::fmt::writer::BoxMakeWriter = match &cli.log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("cannot open the log file {}: {e}", path.display()))?;
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::sync::Mutex::new(file))
        }
        None => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    let ansi = cli.log_file.is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_span_events(spans).with_writer(writer).with_ansi(ansi);
    match cli.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).try_init(),
    }
    .map_err(|e| anyhow::anyhow!("cannot start the log: {e}"))
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
    /// Users of the console and the API: add, list, rm, token.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Serve the console (the upgrade wizard, live jobs) and the HTTP API.
    Serve(serve::ServeArgs),
    /// Check every selected device's version and health, changing nothing.
    TestRun {
        /// The scenario file (YAML).
        scenario: PathBuf,
        #[command(flatten)]
        select: SelectFlags,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Copy each selected device's image ahead of the upgrade and verify its checksum there
    /// (checks free space first; skips devices that already hold it).
    Stage {
        /// The scenario file (YAML).
        scenario: PathBuf,
        #[command(flatten)]
        select: SelectFlags,
        #[command(flatten)]
        run: RunFlags,
        /// Copies at once.
        #[arg(long, default_value_t = crate::workflow::stage::PARALLEL_DEFAULT, value_parser = parallel)]
        parallel: usize,
    },
    /// Take a snapshot of every selected device (BGP, routes, LLDP, LACP, interfaces, MACs, CPU,
    /// alarms), keep it in the store and print its id.
    Snapshot {
        /// The scenario file (YAML).
        scenario: PathBuf,
        #[command(flatten)]
        select: SelectFlags,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Compare two kept snapshots device by device, with the default tolerances (or a
    /// scenario's upgrade.health_checks).
    Diff {
        /// The first snapshot's id.
        a: i64,
        /// The second snapshot's id.
        b: i64,
        /// Take the tolerances from this scenario's upgrade.health_checks.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Emulate the scenario's fabric on this machine: one Junos device per fabric device, each an
    /// SSH server with the netconf subsystem on 127.0.0.1.
    Lab {
        /// The scenario file (YAML).
        scenario: PathBuf,
        /// Lab seconds per real second (a reboot of 480 s takes 0.48 s at 1000).
        #[arg(long, default_value_t = 1.0, value_parser = positive_speed)]
        time_scale: f64,
        /// First port when devices have no address (default: any free port).
        #[arg(long)]
        base_port: Option<u16>,
        /// The IP address to listen on (a device's scenario address gives only its port). The
        /// default keeps the lab on this machine; give another address only on a network you
        /// trust.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Accept this OpenSSH public key (repeatable); the password is $HITLESS_LAB_PASSWORD.
        #[arg(long)]
        authorized_key: Vec<PathBuf>,
        /// Serve one NETCONF session of DEVICE on standard input/output (for `Subsystem netconf`).
        #[arg(long, value_name = "DEVICE")]
        stdio: Option<String>,
        /// Advertise base:1.1 (chunked framing), as Junos with rfc-compliant and version-1.1.
        #[arg(long)]
        base_1_1: bool,
        /// Give each device its own loopback address (127.1.x.y) on this one port, advertised as
        /// its LLDP management address, so `hitless discover --seed` can walk the lab.
        #[arg(long, value_name = "PORT", conflicts_with_all = ["base_port", "bind"])]
        loopback_port: Option<u16>,
    },
    /// Test run, plan, simulation gate, confirmation, then the upgrade, batch by batch.
    Upgrade {
        /// The scenario file (YAML).
        scenario: PathBuf,
        #[command(flatten)]
        select: SelectFlags,
        #[command(flatten)]
        run: RunFlags,
        /// Upgrade even if the simulation finds loss (the loss is shown first).
        #[arg(long)]
        allow_loss: bool,
        #[command(flatten)]
        window: WindowFlags,
        /// Write the job's HTML report here when it starts and when it ends.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Re-enter a job after an exit, a crash or a halt.
    Resume {
        /// The job id (see `hitless jobs`).
        job: String,
        /// Take the job over even from a process of this host that still exists (a stopped or
        /// hung `upgrade`): that process is fenced and changes nothing more.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        run: RunFlags,
        #[command(flatten)]
        window: WindowFlags,
    },
    /// Walk the fabric over NETCONF (facts, LLDP, configuration) from an Ansible inventory and
    /// write the scenario it describes.
    Discover {
        /// The Ansible inventory (YAML or INI) naming the devices and their addresses.
        #[arg(long, required_unless_present = "seed", conflicts_with = "seed")]
        inventory: Option<PathBuf>,
        /// Start from these devices (HOST:PORT, comma separated) and follow the management
        /// addresses their LLDP neighbours advertise, breadth first.
        #[arg(long, value_delimiter = ',')]
        seed: Option<Vec<String>>,
        /// With --seed: ask at most this many devices.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        max_devices: u32,
        /// Assign this catalog image to every device in the scenario written.
        #[arg(long)]
        image: Option<String>,
        /// The scenario's name (default: the inventory file's stem).
        #[arg(long)]
        name: Option<String>,
        /// Write the scenario here instead of standard output.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// SSH user (default: the inventory's ansible_user, else netops).
        #[arg(long)]
        ssh_user: Option<String>,
        /// SSH private key (else the password from $HITLESS_SSH_PASSWORD).
        #[arg(long)]
        ssh_key: Option<PathBuf>,
        /// known_hosts file (default: known_hosts in the state directory).
        #[arg(long)]
        known_hosts: Option<PathBuf>,
        /// Record unknown host keys instead of refusing them.
        #[arg(long)]
        trust_on_first_use: bool,
        /// Device seconds per real second of a lab started with --time-scale.
        #[arg(long, default_value_t = 1.0, value_parser = positive_speed)]
        time_scale: f64,
        /// Seconds a device has to accept the SSH login before it is counted unreachable.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
        timeout: u64,
        /// Devices asked at once.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
        parallel: u64,
    },
    /// Write one self-contained HTML page for a plan and its simulation, or for an executed job.
    Report {
        /// The scenario file (YAML); or --job.
        #[arg(required_unless_present = "job", conflicts_with = "job")]
        scenario: Option<PathBuf>,
        /// Report this plan (the `plan --format json` shape) instead of the planner's.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// The simulation's seed (default: the scenario's simulation.seed).
        #[arg(long)]
        seed: Option<u64>,
        /// Report an executed job (see `hitless jobs`).
        #[arg(long)]
        job: Option<String>,
        /// Where to write the page.
        #[arg(short = 'o', long = "output", default_value = "report.html")]
        output: PathBuf,
    },
    /// Make a scenario from another tool's description of a fabric.
    Import {
        #[command(subcommand)]
        from: ImportFrom,
    },
    /// Write a scenario's fabric in another tool's format.
    Export {
        #[command(subcommand)]
        to: ExportTo,
    },
    /// Approve a paused job (`upgrade.canary`, `upgrade.pause`) and run the rest of it, as
    /// resume does.
    Approve {
        /// The job id (see `hitless jobs`).
        job: String,
        #[command(flatten)]
        run: RunFlags,
        #[command(flatten)]
        window: WindowFlags,
    },
    /// List upgrade jobs.
    Jobs {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show a job and the state of each of its devices.
    Status {
        /// The job id.
        job: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show a job's journal: every state change, with the reason for every failure.
    Logs {
        /// The job id.
        job: String,
        /// Only this device.
        #[arg(long)]
        device: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Stop a job: no new work starts, undrained devices return to service.
    Cancel {
        /// The job id.
        job: String,
    },
}

/// Selection overrides.
#[derive(Debug, clap::Args)]
struct SelectFlags {
    /// Upgrade the selected devices to this image (one of the scenario's), instead of upgrade.assign.
    #[arg(long)]
    image: Option<String>,
    /// Only these devices, comma separated.
    #[arg(long, value_delimiter = ',')]
    devices: Option<Vec<String>>,
    /// Take the devices' management addresses from this Ansible inventory (YAML or INI).
    #[arg(long)]
    inventory: Option<PathBuf>,
}

impl SelectFlags {
    fn apply(&self, scenario: &mut crate::scenario::Scenario) -> anyhow::Result<()> {
        if let Some(path) = &self.inventory {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::Error::from(e).context(format!("cannot read the inventory {}", path.display())))?;
            let hosts = crate::inventory::parse(&text, &path.display().to_string())?;
            for host in &hosts {
                match scenario.fabric.lookup(&host.name) {
                    Some(id) => scenario.fabric.set_address(id, Some(host.address.clone())),
                    None => eprintln!(
                        "hitless: warning: inventory host {} is not a device of scenario {}; ignored",
                        host.name, scenario.name
                    ),
                }
            }
        }
        Ok(scenario.reselect(self.image.as_deref(), self.devices.as_deref())?)
    }
}

#[derive(Debug, clap::Subcommand)]
enum ImportFrom {
    /// A containerlab topology (Juniper kinds as devices, linux nodes as servers).
    Containerlab {
        /// The topology file (`*.clab.yml`).
        topology: PathBuf,
        /// Assign this catalog image to every device.
        #[arg(long)]
        image: Option<String>,
        /// Write the scenario here instead of standard output.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Subcommand)]
enum ExportTo {
    /// A containerlab topology with vJunos-switch nodes and linux hosts.
    Containerlab {
        /// The scenario file (YAML).
        scenario: PathBuf,
        /// Write the topology here instead of standard output.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct WindowFlags {
    /// No batch starts that would end after this time of day (HH:MM, in upgrade.window's time
    /// zone, else this machine's), instead of upgrade.window.
    #[arg(long, value_parser = window_time, conflicts_with = "now")]
    window_end: Option<jiff::civil::Time>,
    /// Start at once and ignore the maintenance window in this run.
    #[arg(long)]
    now: bool,
}

impl WindowFlags {
    fn choice(&self) -> crate::workflow::WindowChoice {
        match (self.window_end, self.now) {
            (_, true) => crate::workflow::WindowChoice::Ignore,
            (Some(end), false) => crate::workflow::WindowChoice::Until(end),
            (None, false) => crate::workflow::WindowChoice::Scenario,
        }
    }
}

fn window_time(text: &str) -> Result<jiff::civil::Time, String> {
    crate::window::parse_time(text).map_err(|e| e.to_string())
}

/// How the Junos driver logs in to devices (on `upgrade`, `test-run`, `resume`, ... and `serve`).
#[derive(Debug, clap::Args)]
pub(crate) struct SshFlags {
    /// Junos driver: SSH user name.
    #[arg(long, default_value = "netops")]
    pub ssh_user: String,
    /// Junos driver: SSH private key (else the password from $HITLESS_SSH_PASSWORD).
    #[arg(long)]
    pub ssh_key: Option<PathBuf>,
    /// Junos driver: known_hosts file (default: known_hosts in the state directory).
    #[arg(long)]
    pub known_hosts: Option<PathBuf>,
    /// Junos and native drivers: record unknown host keys (and, native, unknown eAPI
    /// certificates) instead of refusing them.
    #[arg(long)]
    pub trust_on_first_use: bool,
    /// Native driver: verify Arista switches' eAPI certificates against this CA (PEM) instead of
    /// the pins in eapi_known_certs in the state directory. The eAPI password comes from
    /// $HITLESS_EAPI_PASSWORD, else the SSH password.
    #[arg(long)]
    pub eapi_ca: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct RunFlags {
    /// Which driver talks to the devices (default: virtual; on resume, the job's driver).
    #[arg(long, value_enum)]
    driver: Option<upgrade::DriverArg>,
    #[command(flatten)]
    ssh: SshFlags,
    /// Junos driver: device seconds per real second of a lab started with --time-scale (default
    /// 1; `resume` and `approve` keep the job's own).
    #[arg(long, value_parser = positive_speed)]
    time_scale: Option<f64>,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long)]
    yes: bool,
    /// Output format: `json` streams one JSON object per state change.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Virtual driver: run this many times faster than real time instead of on a paused clock.
    #[arg(long, alias = "sim-speed", value_parser = positive_speed)]
    virtual_speed: Option<f64>,
}

/// The slowest and fastest clock a job or the lab may run on, in seconds per real second.
const SPEED_RANGE: std::ops::RangeInclusive<f64> = 0.001..=1_000_000.0;

fn positive_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if SPEED_RANGE.contains(&v) => Ok(v),
        _ => Err(format!(
            "{text:?} is not a speed hitless runs at: give a number from {} to {} (seconds per real second)",
            SPEED_RANGE.start(),
            SPEED_RANGE.end()
        )),
    }
}

fn parallel(text: &str) -> Result<usize, String> {
    let max = crate::workflow::stage::PARALLEL_MAX;
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("{text:?} is not a number of copies at once: give a whole number from 1 to {max}")),
    }
}

impl RunFlags {
    fn options(&self, allow_loss: bool) -> upgrade::RunOptions {
        let junos = upgrade::JunosFlags {
            user: self.ssh.ssh_user.clone(),
            key: self.ssh.ssh_key.clone(),
            known_hosts: self.ssh.known_hosts.clone(),
            trust_on_first_use: self.ssh.trust_on_first_use,
            eapi_ca: self.ssh.eapi_ca.clone(),
            time_scale: self.time_scale.unwrap_or(1.0),
            time_scale_given: self.time_scale.is_some(),
        };
        upgrade::RunOptions {
            driver: self.driver.map(Into::into),
            junos,
            yes: self.yes,
            allow_loss,
            format: self.format,
            virtual_speed: self.virtual_speed,
            window: crate::workflow::WindowChoice::Scenario,
            report: None,
            force: false,
        }
    }
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
    /// Also write the HTML report of the plan and its simulation here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// When the job starts (RFC 3339, `2026-12-07T01:30:00Z`, or Unix seconds as `@1796607000`):
    /// the schedule then keeps to the scenario's maintenance window as the upgrade would, with
    /// its waits and pauses. Without it, batches run back to back.
    #[arg(long, value_parser = parse_start, value_name = "TIME")]
    start: Option<i64>,
}

/// `--start`: an RFC 3339 timestamp or `@` and Unix seconds.
fn parse_start(text: &str) -> Result<i64, String> {
    if let Some(seconds) = text.strip_prefix('@') {
        return seconds.parse::<i64>().map_err(|_| format!("`{text}`: after `@`, Unix seconds (digits)"));
    }
    text.parse::<jiff::Timestamp>().map(|t| t.as_second()).map_err(|e| {
        format!("`{text}` is not a time with its offset (RFC 3339, as 2026-12-07T01:30:00Z) nor @UNIX-SECONDS: {e}")
    })
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
    if let Err(error) = init_logging(&cli) {
        eprintln!("hitless: {}", render::inert_block(&explain(&error)));
        return ExitCode::from(EXIT_ERROR);
    }
    // A command that only reports ends quietly when its reader goes away. One that drives devices
    // (upgrade, resume, the lab) must never die of it: it goes on, and its output is dropped.
    if !matches!(
        cli.command,
        Command::Upgrade { .. }
            | Command::Resume { .. }
            | Command::Approve { .. }
            | Command::Stage { .. }
            | Command::Snapshot { .. }
            | Command::Discover { .. }
            | Command::Lab { .. }
            | Command::Serve(_)
    ) {
        quiet_on_broken_pipe();
    }
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("hitless: {}", render::inert_block(&explain(&error)));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let state_dir = cli.state_dir.as_deref();
    match cli.command {
        Command::Image(cmd) => image::run(cmd, state_dir),
        Command::User(cmd) => user::run(cmd, state_dir),
        Command::Serve(args) => serve::serve(args, state_dir),
        Command::TestRun { scenario, select, run } => {
            let mut loaded = load_scenario(&scenario, state_dir)?;
            select.apply(&mut loaded)?;
            upgrade::test_run(&loaded, &Service::open(state_dir)?, &run.options(false))
        }
        Command::Snapshot { scenario, select, run } => {
            let mut loaded = load_scenario(&scenario, state_dir)?;
            select.apply(&mut loaded)?;
            upgrade::snapshot(&loaded, &Service::open(state_dir)?, &run.options(false))
        }
        Command::Discover {
            inventory,
            seed,
            max_devices,
            image,
            name,
            output,
            ssh_user,
            ssh_key,
            known_hosts,
            trust_on_first_use,
            time_scale,
            timeout,
            parallel,
        } => {
            let service = Service::open(state_dir)?;
            let options = upgrade::DiscoverOptions {
                timeout: std::time::Duration::from_secs(timeout),
                parallel: parallel as usize,
                inventory,
                seeds: seed.unwrap_or_default(),
                max_devices: max_devices as usize,
                image,
                name,
                output,
                user: ssh_user,
                key: ssh_key,
                known_hosts,
                trust_on_first_use,
                time_scale,
            };
            upgrade::discover(&service, &options)
        }
        Command::Report { scenario, plan, seed, job, output } => match (scenario, job) {
            (_, Some(job)) => {
                let page = Service::open(state_dir)?.job_page(&job)?;
                report::write(&page, &output)
            }
            (Some(path), None) => {
                let loaded = load_scenario(&path, state_dir)?;
                report::scenario(&loaded, plan.as_deref(), seed, &output)
            }
            (None, None) => anyhow::bail!("give a scenario file, or --job JOB"),
        },
        Command::Import { from: ImportFrom::Containerlab { topology, image, output } } => {
            let text = std::fs::read_to_string(&topology)
                .map_err(|e| anyhow::Error::from(e).context(format!("cannot read {}", topology.display())))?;
            let env = |name: &str| std::env::var(name).ok();
            let imported = crate::containerlab::import(&text, &topology.display().to_string(), image.as_deref(), &env)?;
            let target = output.clone().unwrap_or_else(|| PathBuf::from("imported.yaml"));
            if image.is_some() {
                let catalog = crate::workflow::service::catalog(state_dir);
                crate::scenario::Scenario::from_yaml_with(&imported.written.checkable(), &target, &catalog)?;
            } else {
                crate::scenario::Scenario::from_yaml_with(
                    &imported.written.checkable(),
                    &target,
                    &crate::scenario::NoCatalog,
                )
                .map_err(|e| {
                    anyhow::Error::from(e).context(
                        "the scenario made of this topology does not load (the lines below name what); change the topology, or import it and edit the scenario",
                    )
                })?;
            }
            let yaml = imported.written.yaml();
            match &output {
                Some(out) => {
                    render::write_atomically(out, yaml.as_bytes())?;
                    eprintln!(
                        "Imported {} device(s), {} link(s), {} server(s): written to {}.",
                        imported.written.devices.len(),
                        imported.written.links.len(),
                        imported.written.servers.len(),
                        out.display()
                    );
                }
                None => print!("{yaml}"),
            }
            for warning in &imported.warnings {
                eprintln!("hitless: warning: {}", render::inert(warning));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { to: ExportTo::Containerlab { scenario, output } } => {
            let loaded = load_scenario(&scenario, state_dir)?;
            let topology = crate::containerlab::export(&loaded);
            match output {
                Some(out) => render::write_atomically(&out, topology.as_bytes())?,
                None => print!("{topology}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff { a, b, scenario, format } => {
            let limits = match scenario {
                Some(path) => load_scenario(&path, state_dir)?.health_limits,
                None => crate::health::HealthLimits::default(),
            };
            jobs::diff(&Service::open_existing(state_dir)?, a, b, &limits, format)
        }
        Command::Stage { scenario, select, run, parallel } => {
            let mut loaded = load_scenario(&scenario, state_dir)?;
            select.apply(&mut loaded)?;
            upgrade::stage(&loaded, &Service::open(state_dir)?, &run.options(false), parallel)
        }
        Command::Lab { scenario, time_scale, base_port, bind, authorized_key, stdio, base_1_1, loopback_port } => {
            let loaded = load_scenario(&scenario, state_dir)?;
            let service = Service::open(state_dir)?;
            let options = lab::LabOptions {
                time_scale,
                base_port,
                bind,
                authorized_keys: authorized_key,
                stdio,
                base_11: base_1_1,
                loopback_port,
            };
            lab::run(&loaded, service.dir(), &options)
        }
        Command::Upgrade { scenario, select, run, allow_loss, window, report } => {
            let mut loaded = load_scenario(&scenario, state_dir)?;
            select.apply(&mut loaded)?;
            let text = crate::scenario::Scenario::read(&scenario)?;
            let mut options = run.options(allow_loss);
            options.window = window.choice();
            options.report = report;
            upgrade::upgrade(&loaded, &text, Service::open(state_dir)?, &options)
        }
        Command::Resume { job, force, run, window } => {
            let mut options = run.options(false);
            options.window = window.choice();
            options.force = force;
            upgrade::resume(&job, Service::open_existing(state_dir)?, &options)
        }
        Command::Jobs { format } => jobs::list(&Service::open(state_dir)?, format),
        Command::Status { job, format } => jobs::status(&Service::open_existing(state_dir)?, &job, format),
        Command::Logs { job, device, format } => {
            jobs::logs(&Service::open_existing(state_dir)?, &job, device.as_deref(), format)
        }
        Command::Cancel { job } => jobs::cancel(&Service::open_existing(state_dir)?, &job),
        Command::Approve { job, run, window } => {
            let mut options = run.options(false);
            options.window = window.choice();
            upgrade::approve(&job, Service::open_existing(state_dir)?, &options)
        }
        Command::Plan(args) => plan::plan(&load_scenario(&args.scenario, state_dir)?, args.format, args.max_batch_size),
        Command::Validate(args) => plan::validate(&args.scenario, &load_scenario(&args.scenario, state_dir)?),
        Command::Simulate(args) => {
            let loaded = load_scenario(&args.scenario, state_dir)?;
            // Images staged ahead in this state directory skip their copy, as they will when
            // the upgrade runs; without a store, nothing is staged.
            let staged = match Service::open_existing(state_dir) {
                Ok(service) => service.staged(&loaded)?,
                Err(_) => Vec::new(),
            };
            simulate::run(simulate::SimulateArgs {
                scenario: &loaded,
                staged,
                scenario_path: &args.scenario,
                plan: args.plan.as_deref(),
                format: args.format,
                runs: args.runs,
                seed: args.seed,
                worst: args.worst,
                max_batch_size: args.max_batch_size,
                report: args.report.as_deref(),
                start_unix: args.start,
            })
        }
    }
}

/// Loads a scenario; images named only by name come from the catalog in the state store, which
/// is opened only if the scenario has such images.
fn load_scenario(
    path: &std::path::Path,
    state_dir: Option<&std::path::Path>,
) -> anyhow::Result<crate::scenario::Scenario> {
    let catalog = crate::workflow::service::catalog(state_dir);
    Ok(crate::scenario::Scenario::load_with(path, &catalog)?)
}

/// `hitless simulate ... | head`: when the reader goes away, end quietly as other Unix tools do
/// (the default action of SIGPIPE) instead of failing on the next write.
fn quiet_on_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// An error and its causes on one line, each cause said once: a cause whose text its message
/// already carries (most of ours name their operating-system reason) is not repeated.
fn explain(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
