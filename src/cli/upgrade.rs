//! `hitless upgrade`, `hitless test-run` and `hitless resume`: prompts, progress and summaries
//! around the library's workflow (`crate::workflow`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};

use super::{EXIT_NO, Format, render};
use crate::driver::ssh::SshAuth;
use crate::exec;
use crate::journal::{DriverKind, Event, JobState};
use crate::scenario::Scenario;
use crate::simulate::PlanInput;
use crate::workflow::drivers::{DriverChoice, JunosOptions};
use crate::workflow::report::{EventReport, SummaryReport};
use crate::workflow::service::{Lease, LeaseHolder, Service};
use crate::workflow::upgrade::{Caller, Confirmation, Frontend, RunHooks, Upgrade};
use crate::workflow::{self, Gate, JobSummary, TestRunRow};

/// Which driver talks to the devices (`--driver`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DriverArg {
    /// Virtual devices in virtual time (no switches needed).
    #[default]
    #[value(alias = "sim")]
    Virtual,
    /// Junos over NETCONF/SSH, to real switches or the lab (`hitless lab`).
    Junos,
    /// Each device through its own vendor's protocol: Junos over NETCONF/SSH, Arista EOS over
    /// eAPI (HTTPS, images by SCP), to real switches or the lab.
    Native,
}

impl From<DriverArg> for DriverKind {
    fn from(arg: DriverArg) -> DriverKind {
        match arg {
            DriverArg::Virtual => DriverKind::Virtual,
            DriverArg::Junos => DriverKind::Junos,
            DriverArg::Native => DriverKind::Native,
        }
    }
}

/// How to reach Junos devices, as the flags say (credentials are read only when needed).
#[derive(Clone, Debug, Default)]
pub struct JunosFlags {
    /// Login name.
    pub user: String,
    /// Private key; without it the password comes from `HITLESS_SSH_PASSWORD` or a prompt.
    pub key: Option<std::path::PathBuf>,
    /// known_hosts file; default `known_hosts` in the state directory.
    pub known_hosts: Option<std::path::PathBuf>,
    /// Record unknown host keys.
    pub trust_on_first_use: bool,
    /// Native driver: a CA for eAPI certificates.
    pub eapi_ca: Option<std::path::PathBuf>,
    /// Device seconds per real second.
    pub time_scale: f64,
    /// True when `--time-scale` was given (else a re-entered job keeps its own).
    pub time_scale_given: bool,
}

/// Options shared by `test-run`, `upgrade` and `resume`.
#[derive(Clone)]
pub struct RunOptions {
    /// `None`: virtual devices for a new job, the job's own driver on resume.
    pub driver: Option<DriverKind>,
    pub junos: JunosFlags,
    pub yes: bool,
    pub allow_loss: bool,
    pub format: Format,
    /// Virtual devices only: virtual seconds per real second; `None` runs on a paused clock.
    pub virtual_speed: Option<f64>,
    /// How the run keeps to a maintenance window (`--window-end`, `--now`).
    pub window: workflow::WindowChoice,
    /// Write the job's HTML report here, when it starts and when this run ends (`--report`).
    pub report: Option<std::path::PathBuf>,
    /// `resume --force`: take the job over even from a process of this host that still exists.
    pub force: bool,
}

impl RunOptions {
    /// The driver choice for `kind` on `scenario`, reading SSH credentials only for Junos and
    /// only once nothing else stands in the way.
    fn choice(&self, scenario: &Scenario, kind: DriverKind) -> anyhow::Result<DriverChoice> {
        workflow::drivers::preflight(scenario, kind)?;
        Ok(match kind {
            DriverKind::Virtual => DriverChoice::Virtual { speed: self.virtual_speed },
            DriverKind::Junos | DriverKind::Native => {
                let auth = match &self.junos.key {
                    Some(path) => SshAuth::Key(path.clone()),
                    None => SshAuth::Password(ssh_password(&self.junos.user)?),
                };
                let options = JunosOptions {
                    connect_timeout: None,
                    user: self.junos.user.clone(),
                    eapi_password: eapi_password(&auth),
                    eapi_ca: self.junos.eapi_ca.clone(),
                    auth,
                    known_hosts: self.junos.known_hosts.clone(),
                    trust_on_first_use: self.junos.trust_on_first_use,
                    time_scale: self.junos.time_scale,
                };
                if kind == DriverKind::Native { DriverChoice::Native(options) } else { DriverChoice::Junos(options) }
            }
        })
    }
}

/// The eAPI password: `HITLESS_EAPI_PASSWORD`, else the SSH login's password (one account on
/// the switch); `None` with an SSH key and no variable. Never taken from a scenario, never logged.
pub(crate) fn eapi_password(auth: &SshAuth) -> Option<crate::driver::eos::https::Password> {
    match (std::env::var("HITLESS_EAPI_PASSWORD"), auth) {
        (Ok(password), _) if !password.is_empty() => Some(crate::driver::eos::https::Password(password)),
        (_, SshAuth::Password(password)) => Some(crate::driver::eos::https::Password(password.clone())),
        _ => None,
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

/// The runtime a command runs on: virtual devices at full speed run on one thread and a paused
/// clock (virtual time, reproducible); everything else (switches, the lab, virtual devices in
/// real time) on a multi-threaded runtime, where a journal write blocks no other device's task.
fn runtime(paused: bool) -> anyhow::Result<tokio::runtime::Runtime> {
    let built = if paused {
        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    };
    built.context("starting the runtime")
}

/// `hitless test-run`: version and health of every selected device, changing nothing.
pub fn test_run(scenario: &Scenario, service: &Service, options: &RunOptions) -> anyhow::Result<ExitCode> {
    let kind = match options.driver {
        Some(kind) => kind,
        None => workflow::drivers::default_driver(scenario)?,
    };
    let choice = options.choice(scenario, kind)?;
    let driver = Arc::new(workflow::drivers::make(service.dir(), scenario, &choice)?);
    let pending = service.pending_installs(scenario)?;
    let sample = workflow::health_sample(scenario, choice.time_scale());
    let rows = runtime(choice.kind() == DriverKind::Virtual)?.block_on(workflow::test_run(
        scenario,
        &driver,
        &pending,
        sample,
        choice.kind() == DriverKind::Virtual,
    ));
    print_test_run(&rows, options.format)?;
    let failing = rows.iter().filter(|r| !r.problems.is_empty()).count();
    if failing > 0 {
        eprintln!("hitless: {failing} device(s) would not pass their checks; see the table");
        return Ok(ExitCode::from(EXIT_NO));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_test_run(rows: &[TestRunRow], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        render::say!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    let mut table = render::table(&["Device", "Running", "Target", "Action", "Health", "Notes"]);
    for row in rows {
        let health = if row.problems.is_empty() {
            "ok".to_string()
        } else {
            render::inert(&row.problems.join("; ")).into_owned()
        };
        let running = if row.engines.len() > 1 {
            let engines: Vec<String> = row
                .engines
                .iter()
                .map(|e| format!("{} {}{}", e.name, e.version, if e.master { " (master)" } else { "" }))
                .collect();
            engines.join("\n")
        } else {
            row.running.clone()
        };
        let notes = row.notes.join("; ");
        table.add_row(vec![row.device.clone(), running, row.target.clone(), row.action.to_string(), health, notes]);
    }
    if rows.iter().any(|r| r.simulated) {
        render::say!(
            "Test run on SIMULATED devices (the virtual driver; no switch was asked, nothing was changed):\n{table}"
        );
    } else {
        render::say!("Test run (nothing was changed):\n{table}");
    }
    Ok(())
}

/// What `hitless discover` was asked.
pub struct DiscoverOptions {
    pub inventory: Option<std::path::PathBuf>,
    pub seeds: Vec<String>,
    pub max_devices: usize,
    pub image: Option<String>,
    pub name: Option<String>,
    pub output: Option<std::path::PathBuf>,
    pub user: Option<String>,
    pub key: Option<std::path::PathBuf>,
    pub known_hosts: Option<std::path::PathBuf>,
    pub trust_on_first_use: bool,
    pub time_scale: f64,
    /// How long a device has to accept the SSH login (`--timeout`).
    pub timeout: std::time::Duration,
    /// Devices asked at once (`--parallel`).
    pub parallel: usize,
}

/// `hitless discover --inventory FILE`: asks every host, writes the scenario (checked by loading
/// it before it is written), lists the warnings.
pub fn discover(service: &Service, options: &DiscoverOptions) -> anyhow::Result<ExitCode> {
    let hosts = match &options.inventory {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the inventory {}", path.display()))?;
            crate::inventory::parse(&text, &path.display().to_string())?
        }
        None => Vec::new(),
    };
    for seed in &options.seeds {
        if seed.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err()) {
            bail!("--seed {seed:?} is not HOST:PORT (the device's NETCONF port, 830 on a switch)");
        }
    }
    let inventory_users: std::collections::BTreeSet<&str> = hosts.iter().filter_map(|h| h.user.as_deref()).collect();
    let user = match (&options.user, inventory_users.len()) {
        (Some(user), _) => user.clone(),
        (None, 1) => inventory_users.iter().next().expect("one user").to_string(),
        (None, 0) => "netops".to_string(),
        (None, _) => bail!(
            "the inventory names several ansible_user values ({}); say which to log in as with --ssh-user",
            inventory_users.iter().copied().collect::<Vec<_>>().join(", ")
        ),
    };
    if let Some(image) = &options.image {
        crate::scenario::ImageCatalog::image(&service.catalog(), image)?;
    }
    let auth = match &options.key {
        Some(key) => SshAuth::Key(key.clone()),
        None => SshAuth::Password(ssh_password(&user)?),
    };
    let junos = JunosOptions {
        connect_timeout: Some(options.timeout),
        user,
        eapi_password: eapi_password(&auth),
        eapi_ca: None,
        auth,
        known_hosts: options.known_hosts.clone(),
        trust_on_first_use: options.trust_on_first_use,
        time_scale: options.time_scale,
    };
    let name = options.name.clone().unwrap_or_else(|| match &options.inventory {
        Some(path) => {
            path.file_stem().map_or("discovered".to_string(), |s| s.to_string_lossy().replace(['.', ' '], "-"))
        }
        None => "discovered".to_string(),
    });
    let done = std::sync::atomic::AtomicUsize::new(0);
    let progress = |device: &str, error: Option<&str>| {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        match error {
            None => eprintln!("[{n}] {}: read", render::inert(device)),
            Some(why) => eprintln!("[{n}] {}: {}", render::inert(device), render::inert(why)),
        }
    };
    let runtime = runtime(false)?;
    let discovery = if options.seeds.is_empty() {
        // Junos hosts over NETCONF, Arista hosts (`ansible_network_os: arista.eos.eos`) over eAPI.
        let driver = Arc::new(workflow::drivers::discoverer_at(service.dir(), &hosts, &junos)?);
        runtime.block_on(workflow::discover::discover(
            &driver,
            &hosts,
            &name,
            options.image.as_deref(),
            options.parallel,
            &progress,
        ))
    } else {
        let driver_for = |addresses| Arc::new(workflow::drivers::junos_at(service.dir(), addresses, &junos));
        runtime.block_on(workflow::discover::discover_from_seeds(
            &driver_for,
            &options.seeds,
            options.max_devices,
            options.parallel,
            &name,
            options.image.as_deref(),
            &progress,
        ))
    };
    // The scenario written must load: check it as `upgrade` would read it.
    let catalog = service.catalog();
    let target = options.output.clone().unwrap_or_else(|| std::path::PathBuf::from(format!("{name}.yaml")));
    let loads = Scenario::from_yaml_with(&discovery.checkable, &target, &catalog);
    if options.image.is_none() {
        eprintln!(
            "hitless: the scenario's upgrade section is a commented template: name the image (or pass --image) before `hitless upgrade`"
        );
    }
    // A discovery that failed (a device unreachable, or a scenario that does not load) never
    // replaces the file it was to write: what it saw goes beside it, as `NAME.partial.yaml`.
    let failed = discovery.unreachable > 0 || discovery.not_asked > 0 || loads.is_err();
    match &options.output {
        Some(out) if failed => {
            let partial = out.with_extension("partial.yaml");
            render::write_atomically(&partial, discovery.yaml.as_bytes())?;
            eprintln!(
                "hitless: the discovery is incomplete ({} device(s) unreachable, {} not asked): {} was left as it was; what was seen ({} device(s)) is in {}",
                discovery.unreachable,
                discovery.not_asked,
                out.display(),
                discovery.devices,
                partial.display()
            );
        }
        Some(out) => {
            render::write_atomically(out, discovery.yaml.as_bytes())?;
            eprintln!(
                "Discovered {} device(s), {} link(s), {} server(s): written to {}.",
                discovery.devices,
                discovery.links,
                discovery.servers,
                out.display()
            );
        }
        None => print!("{}", discovery.yaml),
    }
    for warning in &discovery.warnings {
        eprintln!("hitless: warning: {}", render::inert(warning));
    }
    if let Err(e) = loads {
        let because = if discovery.warnings.is_empty() {
            "what the devices answered does not make a scenario that loads"
        } else {
            "the fabric seen was incomplete (see the warnings)"
        };
        eprintln!(
            "hitless: the scenario written does not load, because {because}: {e}\nComplete it by hand, or discover more of the fabric."
        );
        return Ok(ExitCode::from(EXIT_NO));
    }
    if discovery.unreachable > 0 {
        return Ok(ExitCode::from(EXIT_NO));
    }
    if discovery.not_asked > 0 {
        eprintln!(
            "hitless: the walk was cut short by --max-devices: {} address(es) found were not asked, so the scenario describes part of the fabric; raise --max-devices",
            discovery.not_asked
        );
        return Ok(ExitCode::from(EXIT_NO));
    }
    Ok(ExitCode::SUCCESS)
}

/// `hitless stage`: copies images ahead, with a progress bar on a terminal.
pub fn stage(
    scenario: &Scenario,
    service: &Service,
    options: &RunOptions,
    parallel: usize,
) -> anyhow::Result<ExitCode> {
    use workflow::stage::StageOutcome;
    let kind = match options.driver {
        Some(kind) => kind,
        None => workflow::drivers::default_driver(scenario)?,
    };
    let choice = options.choice(scenario, kind)?;
    // Two controllers copying the same file at once would corrupt it: not while a job runs.
    if let Some(job) = service.running_on(scenario)? {
        bail!(
            "job {job} is running on this fabric and copies images itself; stage before it starts, while it is paused, or after `hitless cancel {job}`"
        );
    }
    say_if_simulated(&choice, options.format);
    let driver = Arc::new(workflow::drivers::make(service.dir(), scenario, &choice)?);
    let simulated = choice.kind() == DriverKind::Virtual;
    let bar = (options.format == Format::Table && std::io::stdout().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(scenario.selection.targets.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} devices staged or checked  [{elapsed}]")
                .expect("valid template"),
        );
        bar
    });
    let on_done = |row: &workflow::stage::StageRow| {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        tracing::info!(device = row.device, outcome = ?row.outcome, "{}", row.message);
    };
    let rows = runtime(choice.paused_clock())?
        .block_on(workflow::stage::stage(scenario, &driver, parallel, simulated, &on_done));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    for row in rows.iter().filter(|r| matches!(r.outcome, StageOutcome::Staged | StageOutcome::AlreadyStaged)) {
        service.record_staged(scenario, &row.device, &row.image, unix_now())?;
    }
    if options.format == Format::Json {
        render::say!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let mut table = render::table(&["Device", "Image", "Outcome", "Message"]);
        for row in &rows {
            let outcome = serde_json::to_value(row.outcome)?.as_str().unwrap_or_default().to_string();
            table.add_row(vec![row.device.clone(), row.image.clone(), outcome, row.message.clone()]);
        }
        let what = if simulated { "Staging on SIMULATED devices" } else { "Staging" };
        render::say!("{what}:\n{table}");
    }
    let failed = rows.iter().filter(|r| r.outcome == StageOutcome::Failed).count();
    if failed > 0 {
        eprintln!(
            "hitless: {failed} device(s) could not be staged; see the table. Fix them and stage again: staged devices are skipped"
        );
        return Ok(ExitCode::from(EXIT_NO));
    }
    Ok(ExitCode::SUCCESS)
}

/// `hitless snapshot`: every selected device's snapshot, kept under one id.
pub fn snapshot(scenario: &Scenario, service: &Service, options: &RunOptions) -> anyhow::Result<ExitCode> {
    let kind = match options.driver {
        Some(kind) => kind,
        None => workflow::drivers::default_driver(scenario)?,
    };
    let choice = options.choice(scenario, kind)?;
    say_if_simulated(&choice, options.format);
    let driver = Arc::new(workflow::drivers::make(service.dir(), scenario, &choice)?);
    let taken = runtime(choice.paused_clock())?.block_on(workflow::snapshot::take(scenario, &driver));
    let devices: Vec<(&str, crate::journal::SnapshotKind, &crate::snapshot::Snapshot)> =
        taken.iter().map(|(name, snapshot)| (name.as_str(), crate::journal::SnapshotKind::Manual, snapshot)).collect();
    let label =
        format!("{} (manual{})", scenario.name, if choice.kind() == DriverKind::Virtual { ", SIMULATED" } else { "" });
    let id = service.save_snapshot(scenario, &label, unix_now(), &devices)?;
    let incomplete = taken.iter().filter(|(_, s)| !s.missing.is_empty()).count();
    if options.format == Format::Json {
        let devices: std::collections::BTreeMap<&str, &crate::snapshot::Snapshot> =
            taken.iter().map(|(n, s)| (n.as_str(), s)).collect();
        render::say!("{}", serde_json::to_string_pretty(&serde_json::json!({"id": id, "devices": devices}))?);
    } else {
        let mut table = render::table(&["Device", "BGP Established", "LLDP", "Routes", "Interfaces up", "Not read"]);
        for (name, s) in &taken {
            let count = |n: Option<usize>| n.map_or("-".to_string(), |n| n.to_string());
            let established = s.bgp_peers.as_ref().map(|p| {
                format!("{}/{}", p.values().filter(|v| v.eq_ignore_ascii_case("established")).count(), p.len())
            });
            let routes =
                s.routes.as_ref().map(|r| r.iter().map(|(t, c)| format!("{t} {c}")).collect::<Vec<_>>().join(", "));
            table.add_row(vec![
                name.clone(),
                established.unwrap_or_else(|| "-".into()),
                count(s.lldp.as_ref().map(|l| l.len())),
                routes.unwrap_or_else(|| "-".into()),
                count(s.interfaces_up.as_ref().map(|i| i.len())),
                s.missing.join("; "),
            ]);
        }
        render::say!(
            "{table}\nSnapshot {id}: {} device(s). Compare with another: `hitless diff {id} LATER`.",
            taken.len()
        );
    }
    if incomplete > 0 {
        eprintln!("hitless: {incomplete} device(s) could not be read completely; see the table");
        return Ok(ExitCode::from(EXIT_NO));
    }
    Ok(ExitCode::SUCCESS)
}

/// The CLI as the upgrade sequence's front end: tables or JSON lines, the prompt, Ctrl-C.
struct Cli<'a> {
    service: &'a Service,
    options: &'a RunOptions,
    simulated: bool,
}

impl Frontend for Cli<'_> {
    fn asking_devices(&self) {
        if self.simulated {
            say_if_simulated(&DriverChoice::Virtual { speed: None }, self.options.format);
        }
    }

    fn test_run(&self, rows: &[TestRunRow]) {
        if self.options.format == Format::Table {
            let _ = print_test_run(rows, self.options.format);
        }
    }

    fn unhealthy_but_going_on(&self, rows: &[&TestRunRow]) {
        eprintln!(
            "hitless: warning: the test run found problems on {} device(s) ({}); continuing because upgrade.abort_on_health_check_failure is false",
            rows.len(),
            unhealthy(rows).join("; ")
        );
    }

    fn gate(&self, decision: &Gate) {
        gate(decision, self.options.format);
    }

    fn confirm(&self, scenario: &Scenario, plan: &PlanInput) -> Confirmation {
        confirm(scenario, plan, self.options)
    }

    fn started(&self, job: &str, devices: &[crate::journal::JobDevice], plan: &PlanInput) -> RunHooks {
        if self.options.format == Format::Table {
            render::say!(
                "Started {job}: {} devices in {} batches. Re-enter with `hitless resume {job}` if interrupted.",
                plan.batches.iter().map(Vec::len).sum::<usize>(),
                plan.batches.len()
            );
        }
        if let Some(out) = &self.options.report {
            write_job_report(self.service, job, out);
        }
        hooks(job, self.options.format, devices, self.simulated)
    }
}

fn unhealthy(rows: &[&TestRunRow]) -> Vec<String> {
    rows.iter().map(|r| format!("{}: {}", r.device, render::inert(&r.problems.join("; ")))).collect()
}

/// This process and operator, for the workflow.
pub(super) fn caller() -> Caller {
    Caller { operator: operator(), lease: lease_holder(), holder: Arc::new(holder_state), now: Arc::new(unix_now) }
}

/// `hitless upgrade`.
pub fn upgrade(
    scenario: &Scenario,
    scenario_yaml: &str,
    service: Service,
    options: &RunOptions,
) -> anyhow::Result<ExitCode> {
    let kind = match options.driver {
        Some(kind) => kind,
        None => workflow::drivers::default_driver(scenario)?,
    };
    let choice = if scenario.selection.targets.is_empty() && scenario.selection.skipped.is_empty() {
        // Nothing to upgrade: no credentials are asked for.
        DriverChoice::Virtual { speed: None }
    } else {
        options.choice(scenario, kind)?
    };
    let simulated = choice.kind() == DriverKind::Virtual;
    let frontend = Cli { service: &service, options, simulated };
    let request = workflow::upgrade::Request {
        scenario,
        scenario_yaml,
        choice: &choice,
        allow_loss: options.allow_loss,
        window: options.window,
    };
    let outcome = runtime(choice.paused_clock())?.block_on(workflow::upgrade::upgrade(
        &service,
        request,
        &caller(),
        &frontend,
    ))?;
    match outcome {
        Upgrade::NothingToUpgrade => {
            eprintln!(
                "hitless: nothing to upgrade: scenario {} assigns no image to any device: list the image under images and assign it in an upgrade section",
                scenario.name
            );
            Ok(ExitCode::from(EXIT_NO))
        }
        Upgrade::Unhealthy(rows) => {
            let rows: Vec<&TestRunRow> = rows.iter().collect();
            eprintln!(
                "hitless: refusing to upgrade: the test run found {} device(s) unreachable or unhealthy, and nothing was changed:\n  {}\nFix them, or drop them from the selection (--devices), or set upgrade.abort_on_health_check_failure: false to upgrade the others regardless.",
                rows.len(),
                unhealthy(&rows).join("\n  ")
            );
            Ok(ExitCode::from(EXIT_NO))
        }
        Upgrade::NotHitless => Ok(ExitCode::from(EXIT_NO)),
        Upgrade::WindowTooShort => {
            let window = scenario.window.as_ref().map_or_else(String::new, |w| w.describe());
            eprintln!(
                "hitless: refusing to upgrade: a batch takes longer than the maintenance window ({window}) is long, so it could never start; widen upgrade.window, lower max_batch_size, or pass --now to ignore the window"
            );
            Ok(ExitCode::from(EXIT_NO))
        }
        Upgrade::NotConfirmed(Confirmation::CannotAsk) => {
            bail!("refusing to start without confirmation: there is no terminal to ask on; pass --yes to confirm")
        }
        Upgrade::NotConfirmed(_) => bail!("not confirmed; nothing was changed"),
        Upgrade::Ran(summary) => finish(&service, &summary, options),
    }
}

/// `hitless resume JOB`.
pub fn resume(job: &str, service: Service, options: &RunOptions) -> anyhow::Result<ExitCode> {
    reenter(job, service, options, workflow::jobs::Reentry::Resume)
}

/// `hitless approve JOB`: asks (unless `--yes`), then runs the rest of a paused job.
pub fn approve(job: &str, service: Service, options: &RunOptions) -> anyhow::Result<ExitCode> {
    let record = service.job(job)?;
    if record.state != JobState::Paused {
        return Err(workflow::WorkflowError::NotPaused { job: job.to_string(), state: record.state.as_str() }.into());
    }
    if !options.yes {
        if !std::io::stdin().is_terminal() {
            bail!("refusing to approve without confirmation: there is no terminal to ask on; pass --yes to approve");
        }
        let devices = service.devices(job)?;
        let left = devices.iter().filter(|d| d.state == crate::journal::DeviceState::Pending).count();
        print!("{job} is paused {}. Approve it and upgrade its remaining {left} device(s)? [y/N] ", record.reason);
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            // The operator's "no" is an answer, not a usage error: exit 1, as any refusal.
            eprintln!("hitless: not approved; {job} stays paused and nothing was changed");
            return Ok(ExitCode::from(EXIT_NO));
        }
    }
    reenter(job, service, options, workflow::jobs::Reentry::Approve)
}

fn reenter(
    job: &str,
    service: Service,
    options: &RunOptions,
    how: workflow::jobs::Reentry,
) -> anyhow::Result<ExitCode> {
    // One process runs a job: take it before touching anything, or learn who has it.
    let caller = caller();
    let reopened = workflow::upgrade::reenter(&service, job, how, &caller, options.force)?;
    // The job's own time scale (a lab's), unless this run says another.
    let mut options = options.clone();
    if !options.junos.time_scale_given {
        options.junos.time_scale = reopened.time_scale;
    }
    let options = &options;
    let choice = options.choice(&reopened.scenario, options.driver.unwrap_or(reopened.driver))?;
    say_if_simulated(&choice, options.format);
    let driver = Arc::new(workflow::drivers::make(service.dir(), &reopened.scenario, &choice)?);
    if options.format == Format::Table {
        render::say!(
            "Resuming {job} ({}): asking every unfinished device for its real state first.",
            reopened.scenario.name
        );
    }
    let simulated = choice.kind() == DriverKind::Virtual;
    let (scenario, devices) = (&reopened.scenario, &reopened.devices);
    let summary = runtime(choice.paused_clock())?.block_on(async {
        let hooks = hooks(job, options.format, devices, simulated);
        let offset = reopened.clock_offset_seconds;
        workflow::upgrade::execute(
            &service,
            scenario,
            job,
            driver,
            devices,
            &choice,
            offset,
            &caller,
            hooks,
            options.window,
        )
        .await
    })?;
    finish(&service, &summary, options)
}

/// After a run: the report (`--report`), then the summary.
fn finish(service: &Service, summary: &JobSummary, options: &RunOptions) -> anyhow::Result<ExitCode> {
    if let Some(out) = &options.report {
        write_job_report(service, &summary.job, out);
    }
    print_summary(summary, options.format)
}

/// How this process follows a running job: progress lines, and Ctrl-C as a cancel (spawned on
/// the job's runtime).
fn hooks(job: &str, format: Format, devices: &[crate::journal::JobDevice], simulated: bool) -> RunHooks {
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupted);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            eprintln!("hitless: cancelling: no new work starts; devices mid-upgrade finish first");
        }
    });
    RunHooks { on_event: progress(job.to_string(), format, devices, simulated), interrupted }
}

/// Prints the gate's decision; true when the upgrade may go on.
fn gate(gate: &Gate, format: Format) -> bool {
    let report = gate.report();
    if !report.out_of_service.is_empty() {
        let out: Vec<String> = report
            .out_of_service
            .iter()
            .map(|o| format!("{} ({}): {}", o.device, if o.down { "down" } else { "drained" }, render::inert(&o.why)))
            .collect();
        eprintln!("hitless: out of service before the upgrade, and so in the simulation:\n  {}", out.join("\n  "));
    }
    if let Gate::Pass(_) = gate {
        if format == Format::Table {
            render::say!(
                "Simulation gate: the plan is HITLESS ({} flows, {} batches).",
                report.flow_count,
                report.batches.len()
            );
        }
        return true;
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
    if let Gate::Refuse(_) = gate {
        let partners = if report.out_of_service.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = report.out_of_service.iter().map(|o| o.device.as_str()).collect();
            format!(" with {} out of service (listed above): bring them back first", names.join(", "))
        };
        eprintln!(
            "hitless: refusing to upgrade: {summary}{partners}. Run `hitless simulate` for details; fix the plan, or pass --allow-loss to accept the loss."
        );
        return false;
    }
    eprintln!("hitless: warning: {summary}; continuing because of --allow-loss");
    true
}

fn confirm(scenario: &Scenario, plan: &PlanInput, options: &RunOptions) -> Confirmation {
    if options.yes {
        return Confirmation::Confirmed;
    }
    if !std::io::stdin().is_terminal() {
        return Confirmation::CannotAsk;
    }
    let devices: usize = plan.batches.iter().map(Vec::len).sum();
    print!("Upgrade {devices} devices of {} in {} batches? [y/N] ", scenario.name, plan.batches.len());
    let mut answer = String::new();
    let asked = std::io::stdout().flush().and_then(|()| std::io::stdin().lock().read_line(&mut answer));
    match asked {
        Ok(_) if matches!(answer.trim(), "y" | "Y" | "yes") => Confirmation::Confirmed,
        Ok(_) => Confirmation::Declined,
        Err(_) => Confirmation::CannotAsk,
    }
}

/// Tells the operator, before anything else, when the devices are simulated.
fn say_if_simulated(choice: &DriverChoice, format: Format) {
    if choice.kind() == DriverKind::Virtual && format == Format::Table {
        render::say!(
            "Devices are SIMULATED (the virtual driver): nothing real is touched. `--driver junos` works on switches."
        );
    }
}

/// This process, as a job's lease names it.
fn lease_holder() -> LeaseHolder {
    static HOLDER: std::sync::OnceLock<LeaseHolder> = std::sync::OnceLock::new();
    HOLDER
        .get_or_init(|| {
            let pid = std::process::id();
            let started =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            let since_boot = process_start("self").unwrap_or(0);
            LeaseHolder { pid, host: host_name(), token: format!("{pid}-{started}"), started: since_boot }
        })
        .clone()
}

/// The host's name (Linux: the kernel's), or `localhost` when it cannot be read.
pub(super) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|name| !name.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}

/// What this host says of a lease's holder (on Linux, where `/proc` says): gone when its
/// process no longer exists, is a zombie (dead, not yet reaped by its parent) or is another
/// process with the same pid (started at another time); alive otherwise, running or stopped.
/// Holders on other hosts are judged by their heartbeat alone.
fn holder_state(lease: &Lease) -> workflow::jobs::Holder {
    use workflow::jobs::Holder;
    if lease.holder.host != host_name() || !Path::new("/proc/self/stat").exists() {
        return Holder::Unknown;
    }
    let Some((state, started)) = process_stat(&lease.holder.pid.to_string()) else {
        return Holder::Gone;
    };
    if matches!(state, 'Z' | 'X' | 'x') || (lease.holder.started != 0 && started != lease.holder.started) {
        return Holder::Gone;
    }
    Holder::Alive
}

/// A process's state letter and start time (clock ticks since boot) from `/proc/PID/stat`.
fn process_stat(pid: &str) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: the command may hold spaces and parentheses, so the fields
    // are counted from the last `)`; the start time is field 22 of the line.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let started = fields.get(19)?.parse().ok()?;
    Some((state, started))
}

/// A process's start time (clock ticks since boot).
fn process_start(pid: &str) -> Option<u64> {
    process_stat(pid).map(|(_, started)| started)
}

/// The operator, as this host knows them (`USER`, else `LOGNAME`), for the journal.
pub(super) fn operator() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
    let user: String = user.chars().filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).take(64).collect();
    if user.is_empty() { format!("an unnamed user on {}", host_name()) } else { format!("{user} on {}", host_name()) }
}

pub(super) fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The job's page, written to `out`; a failure to write it is said, and does not change how the
/// job ended.
fn write_job_report(service: &Service, job: &str, out: &Path) {
    match service.job_page(job).map_err(anyhow::Error::from) {
        Ok(page) => {
            if let Err(e) = super::report::write(&page, out) {
                eprintln!("hitless: warning: the report could not be written: {e:#}");
            }
        }
        Err(e) => eprintln!("hitless: warning: the report could not be made: {e:#}"),
    }
}

/// Progress: one line per state change with the job's clock and the overall count; on a
/// terminal, also an overall bar (indicatif) kept below the lines. `--format json`: one JSON
/// object per state change.
fn progress(job: String, format: Format, devices: &[crate::journal::JobDevice], simulated: bool) -> exec::OnEvent {
    let total = devices.iter().filter(|d| d.batch > 0).count();
    // A re-entered job counts the devices its earlier runs finished.
    let finished = devices.iter().filter(|d| d.batch > 0 && super::jobs::is_done(d.state)).map(|d| d.device.clone());
    let done = Arc::new(Mutex::new(finished.collect::<std::collections::BTreeSet<String>>()));
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
            let line = serde_json::to_string(&EventReport::new(event, Some(&job), simulated)).expect("events encode");
            render::say!("{line}");
            return;
        }
        let mut done = done.lock().expect("not poisoned");
        if super::jobs::is_done(event.state) {
            done.insert(event.device.clone());
        }
        let line = if !matches!(event.kind(), crate::journal::JobEvent::Device { .. }) {
            // About the job itself (a pause, an approval, a takeover), not a device.
            format!(
                "[{:>8}] {}/{} {:<12} {}",
                render::duration(event.at_seconds as u64),
                done.len(),
                total,
                "(job)",
                render::inert(&event.message)
            )
        } else {
            format!(
                "[{:>8}] {}/{} {:<12} {}: {}",
                render::duration(event.at_seconds as u64),
                done.len(),
                total,
                event.device,
                event.state,
                render::inert(&event.message)
            )
        };
        match &bar {
            Some(bar) => {
                bar.println(line);
                bar.set_position(done.len() as u64);
                if done.len() == total {
                    bar.finish_and_clear();
                }
            }
            None => render::say!("{line}"),
        }
    })
}

fn print_summary(summary: &JobSummary, format: Format) -> anyhow::Result<ExitCode> {
    let job = &summary.job;
    let code = if summary.state == JobState::Finished { ExitCode::SUCCESS } else { ExitCode::from(EXIT_NO) };
    if format == Format::Json {
        render::say!("{}", serde_json::to_string(&SummaryReport::from(summary))?);
        return Ok(code);
    }
    let verdict = match summary.state {
        JobState::Finished => {
            let rolled_back: Vec<&str> = summary
                .devices
                .iter()
                .filter(|d| d.state == crate::journal::DeviceState::RolledBack)
                .map(|d| d.device.as_str())
                .collect();
            if rolled_back.is_empty() {
                "finished: every device upgraded or skipped".to_string()
            } else {
                format!(
                    "finished; rolled back to their old software, and not upgraded: {} (`hitless logs {job}` says why)",
                    rolled_back.join(", ")
                )
            }
        }
        JobState::Cancelled => {
            format!("cancelled; devices not upgraded are back in service. `hitless status {job}` shows each device")
        }
        JobState::Paused if summary.pause_kind == crate::journal::PauseKind::Window => format!(
            "is PAUSED {}. `hitless resume {job}` goes on in the next window (it waits for it to open; `--now` starts at once, `--window-end HH:MM` gives another end), or `hitless cancel {job}` stops here",
            summary.reason
        ),
        JobState::Paused => format!(
            "is PAUSED {}. Check the devices done so far (`hitless status {job}`), then `hitless approve {job}` runs the rest, or `hitless cancel {job}` stops here",
            summary.reason
        ),
        JobState::Halted | JobState::Running => {
            let rolled_back = summary.devices.iter().any(|d| d.state == crate::journal::DeviceState::RolledBack);
            let held = if rolled_back {
                "rolled-back devices are back in service on their old software, other failed devices stay in maintenance mode"
            } else {
                "failed devices stay in maintenance mode"
            };
            format!(
                "halted after a failure; {held}. Read `hitless logs {job}`, fix the cause, then `hitless resume {job}`"
            )
        }
    };
    render::say!("{}\nJob {job} {verdict}.", super::jobs::device_table(&summary.devices));
    let loss = &summary.loss;
    let traffic = if loss.lost_bytes < 1.0 {
        "HITLESS: no flow lost a byte".to_string()
    } else {
        let worst = loss.worst.as_ref().map_or(String::new(), |w| {
            let cause = w.cause.as_ref().map_or(String::new(), |c| format!(" ({} at {:.0} s)", c.device, c.at_seconds));
            format!("; worst {} -> {} lost {}{cause}", w.src, w.dst, render::bytes(w.lost_bytes))
        });
        format!("NOT HITLESS: {} lost in {} flows{worst}", render::bytes(loss.lost_bytes), loss.flows_with_loss_count)
    };
    render::say!("Traffic during this execution, replayed through the traffic model: {traffic}.");
    Ok(code)
}
