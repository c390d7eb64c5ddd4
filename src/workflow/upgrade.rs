//! The upgrade sequence, the same for every front end: the test run, the block-or-warn decision,
//! the fabric as it is, the plan, the simulation gate, the window check, the confirmation, the
//! job, its lease and its execution. A front end supplies what only it can (how it shows each
//! step, how it asks for confirmation, who the operator is, the clock) through [`Frontend`] and
//! [`Caller`], and renders the [`Upgrade`] it gets back; it decides nothing of the sequence.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::drivers::DriverChoice;
use super::jobs::{Holder, Reentry, Reopened};
use super::service::{Lease, LeaseHolder, Service};
use super::test_run::{TestRunRow, blocking, test_run};
use super::{Gate, JobSummary, RunSettings, WindowChoice, WorkflowError, fabric, gate, health_sample, plan};
use crate::driver::any::AnyDriver;
use crate::exec::OnEvent;
use crate::journal::{DriverKind, JobDevice};
use crate::scenario::Scenario;
use crate::simulate::PlanInput;

/// Who runs the sequence, as the front end knows them: it owns the process, the environment
/// and the clock.
#[derive(Clone)]
pub struct Caller {
    /// The operator, for the journal (`alice on host`, or the console's user).
    pub operator: String,
    /// This process, as a job's lease names it.
    pub lease: LeaseHolder,
    /// What this host knows of a lease's holder (alive, gone, or cannot tell).
    pub holder: Arc<dyn Fn(&Lease) -> Holder + Send + Sync>,
    /// The wall clock, seconds since the Unix epoch.
    pub now: Arc<dyn Fn() -> i64 + Send + Sync>,
}

/// What a front end is told, and asked, as the sequence goes.
pub trait Frontend {
    /// Nothing stands in the way of asking the devices (the fabric is free): they are asked now.
    fn asking_devices(&self);
    /// The test run's rows, before anything is decided on them.
    fn test_run(&self, rows: &[TestRunRow]);
    /// The test run found these devices unhealthy or unreachable, and the sequence goes on
    /// because `upgrade.abort_on_health_check_failure` is false.
    fn unhealthy_but_going_on(&self, rows: &[&TestRunRow]);
    /// The simulation gate's verdict (pass, refuse, or loss accepted by `allow_loss`).
    fn gate(&self, gate: &Gate);
    /// Asked once, before the job is created; anything but `Confirmed` changes nothing.
    fn confirm(&self, scenario: &Scenario, plan: &PlanInput) -> Confirmation;
    /// The job is created and held by this process: how its events are shown, and the flag the
    /// front end sets to cancel it. Called on the runtime, so it may spawn.
    fn started(&self, job: &str, devices: &[JobDevice], plan: &PlanInput) -> RunHooks;
}

/// The operator's answer to "upgrade these devices?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// Yes (or `--yes`).
    Confirmed,
    /// No.
    Declined,
    /// Nobody could be asked (no terminal, and no `--yes`).
    CannotAsk,
}

/// How a front end follows a running job.
pub struct RunHooks {
    /// Called after every journaled event.
    pub on_event: OnEvent,
    /// Set when the operator cancels from this front end (Ctrl-C).
    pub interrupted: Arc<AtomicBool>,
}

/// How an upgrade request ended.
#[derive(Debug)]
pub enum Upgrade {
    /// The scenario assigns no image to any device: nothing was asked of any device.
    NothingToUpgrade,
    /// The test run found devices unreachable or unhealthy (these), and
    /// `abort_on_health_check_failure` holds: nothing was changed.
    Unhealthy(Vec<TestRunRow>),
    /// The simulation gate refused the plan (the front end was shown why): nothing was changed.
    NotHitless,
    /// A batch is longer than the maintenance window, so it could never start: nothing changed.
    WindowTooShort,
    /// The operator did not confirm (declined, or could not be asked): nothing was changed.
    NotConfirmed(Confirmation),
    /// The job ran (to its end, a pause, a halt or a cancel).
    Ran(Box<JobSummary>),
}

/// What to upgrade, and how.
pub struct Request<'a> {
    /// The scenario (its selection is what is upgraded).
    pub scenario: &'a Scenario,
    /// Its text, kept with the job so that re-entry loads the same scenario.
    pub scenario_yaml: &'a str,
    /// The driver the operator chose.
    pub choice: &'a DriverChoice,
    /// Go on past a plan the simulation finds lossy (`--allow-loss`).
    pub allow_loss: bool,
    /// How this run keeps to a maintenance window.
    pub window: WindowChoice,
}

/// `hitless upgrade`: the whole sequence, from the test run to the job's summary.
pub async fn upgrade(
    service: &Service,
    request: Request<'_>,
    caller: &Caller,
    frontend: &dyn Frontend,
) -> Result<Upgrade, WorkflowError> {
    let (scenario, choice) = (request.scenario, request.choice);
    if scenario.selection.targets.is_empty() && scenario.selection.skipped.is_empty() {
        return Ok(Upgrade::NothingToUpgrade);
    }
    // The gate proves the schedule the executor keeps; without maintenance mode it would prove
    // a different one.
    if !scenario.drain {
        return Err(WorkflowError::DrainOff { scenario: scenario.name.clone() });
    }
    super::jobs::check_fabric_free(&service.store(), scenario)?;
    frontend.asking_devices();
    let driver = Arc::new(super::drivers::make(service.dir(), scenario, choice)?);
    let pending = service.pending_installs(scenario)?;
    let sample = health_sample(scenario, choice.time_scale());
    let simulated = choice.kind() == DriverKind::Virtual;
    let rows = test_run(scenario, &driver, &pending, sample, simulated).await;
    frontend.test_run(&rows);
    let unhealthy = blocking(&rows);
    if !unhealthy.is_empty() {
        if scenario.abort_on_health_check_failure {
            return Ok(Upgrade::Unhealthy(unhealthy.into_iter().cloned().collect()));
        }
        frontend.unhealthy_but_going_on(&unhealthy);
    }
    // The fabric as it is: partners already down, drained or in another job's hands are out of
    // service in the simulation, so a plan that would take down the other side is refused.
    let targets: Vec<crate::model::DeviceId> = scenario.selection.targets.iter().map(|t| t.device).collect();
    let partners = fabric::partners(scenario, &targets);
    let busy = fabric::busy_in_other_jobs(&service.store(), scenario, &partners, None)?;
    let mut plan = plan(scenario);
    plan.staged = service.staged(scenario)?;
    plan.out_of_service = fabric::out_of_service(scenario, &driver, &partners, &busy).await;
    let decision = gate(scenario, &plan, request.allow_loss);
    frontend.gate(&decision);
    if let Gate::Refuse(_) = decision {
        return Ok(Upgrade::NotHitless);
    }
    // A window no batch fits in would only ever pause the job: refused before it is created.
    if scenario.window.is_some()
        && request.window == WindowChoice::Scenario
        && decision.report().windows_needed.is_none()
    {
        return Ok(Upgrade::WindowTooShort);
    }
    match frontend.confirm(scenario, &plan) {
        Confirmation::Confirmed => {}
        other => return Ok(Upgrade::NotConfirmed(other)),
    }
    let now = (caller.now)();
    let started = super::jobs::start(
        &mut service.store(),
        scenario,
        request.scenario_yaml,
        &plan,
        choice.kind(),
        now,
        &caller.operator,
    )?;
    let job = started.job;
    crate::store::jobs::set_time_scale(&service.store(), &job, choice.time_scale())?;
    super::jobs::take_lease(&mut service.store(), &job, &caller.lease, now, &*caller.holder, false)?;
    let hooks = frontend.started(&job, &started.devices, &plan);
    let summary =
        execute(service, scenario, &job, driver, &started.devices, choice, 0.0, caller, hooks, request.window).await?;
    Ok(Upgrade::Ran(Box::new(summary)))
}

/// `hitless resume` and `hitless approve`, up to the execution: takes the job's lease (`force`:
/// even from a process of this host that still exists), then re-opens it on behalf of the
/// caller. The front end then chooses the driver for [`Reopened::driver`] and calls [`execute`].
pub fn reenter(
    service: &Service,
    job: &str,
    how: Reentry,
    caller: &Caller,
    force: bool,
) -> Result<Reopened, WorkflowError> {
    let now = (caller.now)();
    service.take_lease(job, &caller.lease, now, &*caller.holder, force)?;
    service.reopen(job, how, &caller.lease, &caller.operator, now)
}

/// Runs a job's unfinished `devices` with `driver`, batch by batch, from the job clock
/// `clock_offset_seconds`, and sums it up.
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    service: &Service,
    scenario: &Scenario,
    job: &str,
    driver: Arc<AnyDriver>,
    devices: &[JobDevice],
    choice: &DriverChoice,
    clock_offset_seconds: f64,
    caller: &Caller,
    hooks: RunHooks,
    window: WindowChoice,
) -> Result<JobSummary, WorkflowError> {
    let settings = RunSettings {
        time_scale: choice.time_scale(),
        clock_offset_seconds,
        wall_clock: Arc::clone(&caller.now),
        on_event: hooks.on_event,
        interrupted: hooks.interrupted,
        lease: Some(caller.lease.clone()),
        window,
        operator: caller.operator.clone(),
    };
    super::run(service.shared(), scenario, job, driver, devices, settings).await
}
