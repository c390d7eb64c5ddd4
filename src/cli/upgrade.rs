//! `hitless upgrade`, `hitless test-run` and `hitless resume`: the workflow the operator runs.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};

use super::{EXIT_NO, Format, render};
use crate::driver::Driver;
use crate::driver::any::AnyDriver;
use crate::driver::junos::{JunosDriver, JunosSettings};
use crate::driver::sim::SimDriver;
use crate::driver::ssh::{SshAuth, SshConnector, SshSettings};
use crate::exec::{self, JobContext, Outcome, Target};
use crate::journal::{DeviceState, Event, JobDevice, JobState};
use crate::plan::PlanOptions;
use crate::scenario::Scenario;
use crate::simulate::{PlanInput, SimOptions, input, simulate};
use crate::store::{Store, jobs};

/// Which driver talks to the devices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DriverKind {
    /// Simulated devices in virtual time (no switches needed).
    #[default]
    Sim,
    /// Junos over NETCONF/SSH, to real switches or the lab (`hitless lab`).
    Junos,
}

impl DriverKind {
    fn as_str(self) -> &'static str {
        match self {
            DriverKind::Sim => "sim",
            DriverKind::Junos => "junos",
        }
    }
}

/// How to reach Junos devices over SSH.
#[derive(Clone, Debug, Default)]
pub struct JunosOptions {
    /// Login name.
    pub user: String,
    /// Private key; without it the password comes from `HITLESS_SSH_PASSWORD`.
    pub key: Option<std::path::PathBuf>,
    /// known_hosts file; default `known_hosts` in the state directory.
    pub known_hosts: Option<std::path::PathBuf>,
    /// Record unknown host keys.
    pub trust_on_first_use: bool,
    /// Device seconds per real second (a lab started with `--time-scale`); 1 for real switches.
    pub time_scale: f64,
}

/// Options shared by `upgrade` and `resume`.
pub struct RunOptions {
    /// `None`: the simulated driver for a new job, the job's own driver on resume.
    pub driver: Option<DriverKind>,
    pub junos: JunosOptions,
    pub yes: bool,
    pub allow_loss: bool,
    pub format: Format,
    /// Simulated driver only: virtual seconds per real second; `None` runs on a paused clock
    /// (as fast as possible, deterministic).
    pub sim_speed: Option<f64>,
}

fn sim_driver(store: &Store, scenario: &Scenario, speed: Option<f64>) -> anyhow::Result<SimDriver> {
    let safe: String =
        scenario.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let path = store.dir().join("simdevices").join(format!("{safe}.json"));
    SimDriver::open(&path, &scenario.fabric, scenario.timing.clone(), scenario.faults.clone(), speed.unwrap_or(1.0))
        .with_context(|| format!("cannot open the simulated devices in {}", path.display()))
}

/// Builds the chosen driver.
fn make_driver(
    kind: DriverKind,
    store: &Store,
    scenario: &Scenario,
    options: &RunOptions,
) -> anyhow::Result<AnyDriver> {
    match kind {
        DriverKind::Sim => Ok(AnyDriver::Sim(sim_driver(store, scenario, options.sim_speed)?)),
        DriverKind::Junos => junos_driver(store, scenario, &options.junos).map(AnyDriver::Junos),
    }
}

/// The SSH password: `HITLESS_SSH_PASSWORD`, else asked on the terminal without echo. Never
/// taken from a scenario, never logged.
fn ssh_password(user: &str) -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("HITLESS_SSH_PASSWORD") {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no SSH credentials: set HITLESS_SSH_PASSWORD or pass --ssh-key FILE (there is no terminal to ask on)");
    }
    rpassword::prompt_password(format!("SSH password for {user}: ")).context("reading the SSH password")
}

fn junos_driver(
    store: &Store,
    scenario: &Scenario,
    options: &JunosOptions,
) -> anyhow::Result<JunosDriver<SshConnector>> {
    if let Some(image) = scenario.images.iter().find(|i| i.catalog.is_none()) {
        bail!(
            "image {} is inline (metadata only); a real upgrade uses catalog images with checksums: `hitless image add` it and name it by name alone in the scenario",
            image.name
        );
    }
    let mut addresses = super::lab::recorded_addresses(store.dir());
    for device in scenario.fabric.devices() {
        if let Some(address) = &device.address {
            addresses.insert(device.name.clone(), address.clone());
        }
    }
    let auth = match &options.key {
        Some(path) => SshAuth::Key(path.clone()),
        None => SshAuth::Password(ssh_password(&options.user)?),
    };
    let settings = SshSettings {
        addresses,
        user: options.user.clone(),
        auth,
        known_hosts: options.known_hosts.clone().unwrap_or_else(|| store.dir().join("known_hosts")),
        trust_on_first_use: options.trust_on_first_use,
        connect_timeout: std::time::Duration::from_secs(30),
    };
    let junos = JunosSettings { time_scale: options.time_scale, ..JunosSettings::default() };
    Ok(JunosDriver::new(SshConnector::new(settings), junos))
}

fn runtime(paused: bool) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(paused)
        .build()
        .context("starting the runtime")
}

/// `hitless test-run`: version and health of every selected device, changing nothing.
pub fn test_run(scenario: &Scenario, store: &Store, options: &RunOptions, format: Format) -> anyhow::Result<ExitCode> {
    let kind = options.driver.unwrap_or_default();
    let driver = make_driver(kind, store, scenario, options)?;
    let rows = runtime(kind == DriverKind::Sim)?.block_on(test_run_rows(scenario, &driver));
    print_test_run(&rows, format)?;
    let failing = rows.iter().filter(|r| !r.problems.is_empty()).count();
    if failing > 0 {
        eprintln!("hitless: {failing} device(s) would not pass their checks; see the table");
        return Ok(ExitCode::from(EXIT_NO));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct TestRunRow {
    device: String,
    running: String,
    target: String,
    action: String,
    problems: Vec<String>,
}

async fn test_run_rows<D: Driver>(scenario: &Scenario, driver: &D) -> Vec<TestRunRow> {
    let mut rows = Vec::new();
    for (id, reason) in &scenario.selection.skipped {
        let device = scenario.fabric.device(*id);
        let row = TestRunRow {
            device: device.name.clone(),
            running: device.version.to_string(),
            target: String::new(),
            action: format!("skip: {reason}"),
            problems: Vec::new(),
        };
        rows.push(row);
    }
    for target in &scenario.selection.targets {
        let name = scenario.fabric.device(target.device).name.clone();
        let image = &scenario.images[target.image];
        let mut row = TestRunRow {
            device: name.clone(),
            running: String::new(),
            target: image.version.to_string(),
            action: "upgrade".into(),
            problems: Vec::new(),
        };
        match driver.facts(&name).await {
            Ok(facts) => {
                row.running = facts.version.to_string();
                if facts.version == image.version {
                    row.action = format!("skip: already running {}", image.version);
                }
                if facts.maintenance {
                    row.problems.push("already in maintenance mode".into());
                }
            }
            Err(e) => row.problems.push(e.to_string()),
        }
        match driver.health(&name, image).await {
            Ok(report) => {
                let size = image.catalog.as_ref().map_or(0, |c| c.size_bytes);
                row.problems.extend(scenario.health_limits.check(&report, size));
            }
            Err(e) => row.problems.push(e.to_string()),
        }
        rows.push(row);
    }
    rows
}

fn print_test_run(rows: &[TestRunRow], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    let mut table = render::table(&["Device", "Running", "Target", "Action", "Health"]);
    for row in rows {
        let health = if row.problems.is_empty() { "ok".to_string() } else { row.problems.join("; ") };
        table.add_row(vec![row.device.clone(), row.running.clone(), row.target.clone(), row.action.clone(), health]);
    }
    println!("Test run (nothing was changed):\n{table}");
    Ok(())
}

/// `hitless upgrade`.
pub fn upgrade(
    scenario: &Scenario,
    scenario_yaml: &str,
    store: Store,
    options: &RunOptions,
) -> anyhow::Result<ExitCode> {
    let kind = options.driver.unwrap_or_default();
    let driver = make_driver(kind, &store, scenario, options)?;
    let rows =
        runtime(kind == DriverKind::Sim && options.sim_speed.is_none())?.block_on(test_run_rows(scenario, &driver));
    if options.format == Format::Table {
        print_test_run(&rows, options.format)?;
    }
    let plan = input::for_scenario(scenario, &PlanOptions::default());
    if !gate(scenario, &plan, options)? {
        return Ok(ExitCode::from(EXIT_NO));
    }
    confirm(scenario, &plan, options)?;
    let devices = job_devices(scenario, &plan);
    let plan_json = plan_json(scenario, &plan)?;
    let mut store = store;
    let created = crate::store::jobs::NewJob {
        scenario: &scenario.name,
        fabric: &scenario.fabric.fingerprint(),
        scenario_yaml,
        plan: &plan_json,
        driver: kind.as_str(),
        devices: &devices,
        created_unix: unix_now(),
    };
    let job = jobs::create(&mut store, &created)?;
    if options.format == Format::Table {
        println!(
            "Started {job}: {} devices in {} batches. Re-enter with `hitless resume {job}` if interrupted.",
            plan.batches.iter().map(Vec::len).sum::<usize>(),
            plan.batches.len()
        );
    }
    execute(scenario, store, &job, (kind, driver), devices, options, 0.0)
}

/// `hitless resume JOB`.
pub fn resume(
    job_id: &str,
    store: Store,
    options: &RunOptions,
    state_dir: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let job = jobs::get(&store, job_id)?;
    match job.state {
        JobState::Finished => bail!("job {job_id} has finished; nothing to resume"),
        JobState::Cancelled => bail!("job {job_id} was cancelled; start a new one with `hitless upgrade`"),
        JobState::Running | JobState::Halted => {}
    }
    let open = || super::image::open_store_dir(state_dir);
    let catalog = crate::store::catalog::StoreCatalog::new(&open);
    let scenario = Scenario::from_yaml_with(&job.scenario_yaml, std::path::Path::new(&job.scenario), &catalog)?;
    let devices = jobs::devices(&store, job_id)?;
    let offset = jobs::events(&store, job_id, None)?.last().map_or(0.0, |e| e.at_seconds);
    jobs::set_state(&store, job_id, JobState::Running)?;
    let kind = options.driver.unwrap_or(if job.driver == "junos" { DriverKind::Junos } else { DriverKind::Sim });
    let driver = make_driver(kind, &store, &scenario, options)?;
    if options.format == Format::Table {
        println!("Resuming {job_id} ({}): asking every unfinished device for its real state first.", job.scenario);
    }
    execute(&scenario, store, job_id, (kind, driver), devices, options, offset)
}

fn gate(scenario: &Scenario, plan: &PlanInput, options: &RunOptions) -> anyhow::Result<bool> {
    let report = simulate(
        scenario,
        plan,
        &SimOptions { runs: 1, seed: scenario.simulation.seed, worst_flows: 3, exposure_per_batch: 0 },
    );
    if report.hitless {
        if options.format == Format::Table {
            println!(
                "Simulation gate: the plan is HITLESS ({} flows, {} batches).",
                report.flow_count,
                report.batches.len()
            );
        }
        return Ok(true);
    }
    let worst = report.flows_with_loss.first().map(|f| {
        let cause =
            f.cause.as_ref().map_or(String::new(), |c| format!(", caused by {} at {:.0} s", c.device, c.at_seconds));
        format!("; worst: {} -> {} loses {}{cause}", f.src, f.dst, render::bytes(f.lost_bytes))
    });
    let summary = format!(
        "the plan is NOT HITLESS: {} lost in {} of {} flows{}",
        render::bytes(report.lost_bytes),
        report.flows_with_loss_count,
        report.flow_count,
        worst.unwrap_or_default()
    );
    if !options.allow_loss {
        eprintln!(
            "hitless: refusing to upgrade: {summary}. Run `hitless simulate` for details; fix the plan, or pass --allow-loss to accept the loss."
        );
        return Ok(false);
    }
    eprintln!("hitless: warning: {summary}; continuing because of --allow-loss");
    Ok(true)
}

fn confirm(scenario: &Scenario, plan: &PlanInput, options: &RunOptions) -> anyhow::Result<()> {
    if options.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to start without confirmation: there is no terminal to ask on; pass --yes to confirm");
    }
    let devices: usize = plan.batches.iter().map(Vec::len).sum();
    print!("Upgrade {devices} devices of {} in {} batches? [y/N] ", scenario.name, plan.batches.len());
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("not confirmed; nothing was changed");
    }
    Ok(())
}

fn job_devices(scenario: &Scenario, plan: &PlanInput) -> Vec<JobDevice> {
    let mut devices = Vec::new();
    for (index, batch) in plan.batches.iter().enumerate() {
        for id in batch {
            let image = scenario
                .selection
                .targets
                .iter()
                .find(|t| t.device == *id)
                .map(|t| scenario.images[t.image].name.clone());
            devices.push(JobDevice {
                device: scenario.fabric.device(*id).name.clone(),
                batch: index as u32 + 1,
                image: image.unwrap_or_default(),
                state: DeviceState::Pending,
                message: String::new(),
            });
        }
    }
    for (id, reason) in &scenario.selection.skipped {
        let message = reason.clone();
        devices.push(JobDevice {
            device: scenario.fabric.device(*id).name.clone(),
            batch: 0,
            image: String::new(),
            state: DeviceState::Skipped,
            message,
        });
    }
    devices
}

fn plan_json(scenario: &Scenario, plan: &PlanInput) -> anyhow::Result<String> {
    let names: Vec<Vec<&str>> =
        plan.batches.iter().map(|b| b.iter().map(|d| scenario.fabric.device(*d).name.as_str()).collect()).collect();
    Ok(serde_json::to_string(&names)?)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Runs the job's unfinished devices, batch by batch, and prints the summary.
fn execute(
    scenario: &Scenario,
    store: Store,
    job: &str,
    (kind, driver): (DriverKind, AnyDriver),
    devices: Vec<JobDevice>,
    options: &RunOptions,
    offset_seconds: f64,
) -> anyhow::Result<ExitCode> {
    let batches = batches_to_run(scenario, &devices)?;
    let total = devices.iter().filter(|d| d.batch > 0).count();
    let store = Arc::new(Mutex::new(store));
    let (speed, paused) = match kind {
        DriverKind::Sim => (options.sim_speed.unwrap_or(1.0), options.sim_speed.is_none()),
        DriverKind::Junos => (options.junos.time_scale, false),
    };
    let runtime = runtime(paused)?;
    let outcome = runtime.block_on(async {
        let start = tokio::time::Instant::now();
        let clock: exec::Clock = Arc::new(move || (unix_now(), offset_seconds + start.elapsed().as_secs_f64() * speed));
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&interrupted);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                eprintln!("hitless: cancelling: no new work starts; devices mid-upgrade finish first");
            }
        });
        let ctx = Arc::new(JobContext {
            driver: Arc::new(driver),
            store: Arc::clone(&store),
            job: job.to_string(),
            limits: scenario.health_limits.clone(),
            abort_on_health_check_failure: scenario.abort_on_health_check_failure,
            boot_deadline_seconds: boot_deadline(scenario),
            clock,
            on_event: progress(job.to_string(), options.format, total),
            interrupted,
        });
        exec::run_job(ctx, batches).await
    })?;
    let store = store.lock().expect("not poisoned");
    let events = jobs::events(&store, job, None)?;
    let loss = crate::simulate::replay::replay(scenario, &events);
    summary(&store, job, outcome, &loss, options.format)
}

/// How long a device may take to come back from its reboot: three times its expected reboot, at
/// least 15 minutes.
fn boot_deadline(scenario: &Scenario) -> u64 {
    let longest =
        crate::model::Role::ALL.iter().map(|r| scenario.timing.phases(*r).reboot_seconds).max().unwrap_or(600);
    (u64::from(longest) * 3).max(900)
}

fn batches_to_run(scenario: &Scenario, devices: &[JobDevice]) -> anyhow::Result<Vec<Vec<Target>>> {
    let mut batches: Vec<Vec<Target>> = Vec::new();
    for device in devices.iter().filter(|d| d.batch > 0 && d.state != DeviceState::MaintenanceModeDeactivated) {
        let image = scenario
            .images
            .iter()
            .find(|i| i.name == device.image)
            .with_context(|| format!("job names image {} that its scenario does not have", device.image))?;
        let index = device.batch as usize - 1;
        if batches.len() <= index {
            batches.resize_with(index + 1, Vec::new);
        }
        let started = device.state != DeviceState::Pending;
        batches[index].push(Target { device: device.device.clone(), image: image.clone(), started });
    }
    batches.retain(|b| !b.is_empty());
    Ok(batches)
}

/// Progress: one line per state change with the job's clock and the overall count; on a
/// terminal, also an overall bar (indicatif) kept below the lines. `--format json`: one JSON
/// object per state change.
fn progress(job: String, format: Format, total: usize) -> exec::OnEvent {
    let done = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let bar = (format == Format::Table && std::io::stdout().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} devices done  [{elapsed}]")
                .expect("valid template"),
        );
        bar
    });
    Arc::new(move |event: &Event| {
        if format == Format::Json {
            let line = serde_json::json!({"job": job, "seq": event.seq, "at_seconds": event.at_seconds, "device": event.device, "state": event.state.label(), "message": event.message});
            println!("{line}");
            return;
        }
        let mut done = done.lock().expect("not poisoned");
        if event.state.is_final() {
            done.insert(event.device.clone());
        }
        let line = format!(
            "[{:>8}] {}/{} {:<12} {}: {}",
            render::duration(event.at_seconds as u64),
            done.len(),
            total,
            event.device,
            event.state,
            event.message
        );
        match &bar {
            Some(bar) => {
                bar.println(line);
                bar.set_position(done.len() as u64);
                if done.len() == total {
                    bar.finish_and_clear();
                }
            }
            None => println!("{line}"),
        }
    })
}

fn summary(
    store: &Store,
    job: &str,
    outcome: Outcome,
    loss: &crate::simulate::replay::ExecutionLoss,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let devices = jobs::devices(store, job)?;
    let code = if outcome == Outcome::Finished { ExitCode::SUCCESS } else { ExitCode::from(EXIT_NO) };
    let verdict = match outcome {
        Outcome::Finished => "finished: every device upgraded or skipped".to_string(),
        Outcome::Halted => format!(
            "halted after a failure; failed devices stay in maintenance mode. Read `hitless logs {job}`, fix the cause, then `hitless resume {job}`"
        ),
        Outcome::Cancelled => {
            format!("cancelled; devices not upgraded are back in service. `hitless status {job}` shows each device")
        }
    };
    if format == Format::Json {
        let outcome = format!("{outcome:?}").to_lowercase();
        let line = serde_json::json!({"job": job, "outcome": outcome, "devices": devices, "execution_loss": loss});
        println!("{line}");
        return Ok(code);
    }
    println!("{}\nJob {job} {verdict}.", super::jobs::device_table(&devices));
    let traffic = if loss.lost_bytes < 1.0 {
        "HITLESS: no flow lost a byte".to_string()
    } else {
        let worst = loss.worst.as_ref().map_or(String::new(), |w| {
            let cause = w.cause.as_ref().map_or(String::new(), |c| format!(" ({} at {:.0} s)", c.device, c.at_seconds));
            format!("; worst {} -> {} lost {}{cause}", w.src, w.dst, render::bytes(w.lost_bytes))
        });
        format!("NOT HITLESS: {} lost in {} flows{worst}", render::bytes(loss.lost_bytes), loss.flows_with_loss_count)
    };
    println!("Traffic during this execution, replayed through the traffic model: {traffic}.");
    Ok(code)
}
