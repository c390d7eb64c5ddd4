//! Jobs this console runs. Each runs on a thread of its own with its own runtime, as the CLI
//! runs one: virtual devices at full speed on a paused clock (virtual time), everything else in
//! real time. What a job does is journaled; streams learn that something was journaled from a
//! counter this module bumps ([`Runner::changes`]), and read the journal itself.
//!
//! A request that starts a job is answered once the job exists (or with why it does not: the
//! test run, the simulation gate, the window); the job then runs on without the request. A
//! console that stops leaves its jobs as a crash would: leased, then resumable.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde::Serialize;
use tokio::sync::{oneshot, watch};

use super::ApiError;
use crate::journal::{DriverKind, JobDevice};
use crate::scenario::Scenario;
use crate::simulate::PlanInput;
use crate::simulate::report::SimReport;
use crate::workflow::drivers::{DriverChoice, JunosOptions};
use crate::workflow::jobs::Reentry;
use crate::workflow::report::DeviceReport;
use crate::workflow::service::Service;
use crate::workflow::upgrade::{Caller, Confirmation, Frontend, Request, RunHooks, Upgrade};
use crate::workflow::{self, Gate, TestRunRow, WindowChoice};

/// How a job's devices are reached, as a request says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriverName {
    /// Virtual devices (the default for a scenario without management addresses).
    Virtual,
    /// Junos over NETCONF/SSH, with the credentials the console was started with.
    Junos,
    /// Each device through its vendor's protocol (Junos over NETCONF/SSH, EOS over eAPI), with
    /// the credentials the console was started with.
    Native,
    /// The scenario's default: virtual without addresses, else the request must say.
    #[default]
    Default,
}

/// A job started: its id and devices.
#[derive(Clone, Debug, Serialize)]
pub struct Started {
    /// The job.
    pub job: String,
    /// Its devices as journaled at the start.
    pub devices: Vec<DeviceReport>,
    /// True when its devices are simulated.
    pub simulated: bool,
}

/// Runs jobs for the console.
pub struct Runner {
    service: Arc<Service>,
    caller: Caller,
    junos: Option<JunosOptions>,
    changes: watch::Sender<u64>,
}

/// Why an upgrade request did not start a job, as the API answers it.
fn not_started(outcome: &Upgrade, frontend: &Web) -> ApiError {
    match outcome {
        Upgrade::NothingToUpgrade => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "nothing to upgrade: no device is assigned an image")
                .at("assign")
        }
        Upgrade::Unhealthy(rows) => {
            let list: Vec<String> = rows.iter().map(|r| format!("{}: {}", r.device, r.problems.join("; "))).collect();
            ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "refusing to upgrade: the test run found {} device(s) unreachable or unhealthy, and nothing was changed: {}",
                    rows.len(),
                    list.join(" | ")
                ),
            )
        }
        Upgrade::NotHitless => {
            let report = frontend.gate.lock().expect("not poisoned").clone();
            let detail = report.map_or(String::new(), |r| {
                format!(": {} flow(s) of {} would lose traffic", r.flows_with_loss_count, r.flow_count)
            });
            ApiError::new(
                StatusCode::CONFLICT,
                format!("refusing to upgrade: the simulation finds the plan NOT HITLESS{detail} (POST /api/v1/plans shows why; allow_loss accepts the loss)"),
            )
        }
        Upgrade::WindowTooShort => ApiError::new(
            StatusCode::CONFLICT,
            "refusing to upgrade: a batch takes longer than the maintenance window, so it could never start; widen upgrade.window or lower max_batch_size",
        )
        .at("parameters.window"),
        Upgrade::NotConfirmed(_) | Upgrade::Ran(_) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the job ended before it was reported started")
        }
    }
}

/// The console as the upgrade sequence's front end: the request is the confirmation; the
/// start is sent back to the waiting request; every journaled event bumps the counter.
struct Web {
    started: Mutex<Option<oneshot::Sender<Result<Started, ApiError>>>>,
    gate: Mutex<Option<SimReport>>,
    changes: watch::Sender<u64>,
    simulated: bool,
}

impl Frontend for Web {
    fn asking_devices(&self) {}

    fn test_run(&self, _rows: &[TestRunRow]) {}

    fn unhealthy_but_going_on(&self, rows: &[&TestRunRow]) {
        let names: Vec<&str> = rows.iter().map(|r| r.device.as_str()).collect();
        tracing::warn!(devices = ?names, "the test run found problems; going on (abort_on_health_check_failure is false)");
    }

    fn gate(&self, gate: &Gate) {
        *self.gate.lock().expect("not poisoned") = Some(gate.report().clone());
    }

    fn confirm(&self, _scenario: &Scenario, _plan: &PlanInput) -> Confirmation {
        Confirmation::Confirmed
    }

    fn started(&self, job: &str, devices: &[JobDevice], _plan: &PlanInput) -> RunHooks {
        let started = Started {
            job: job.to_string(),
            devices: devices.iter().map(DeviceReport::from).collect(),
            simulated: self.simulated,
        };
        if let Some(tx) = self.started.lock().expect("not poisoned").take() {
            let _ = tx.send(Ok(started));
        }
        bump(&self.changes);
        let changes = self.changes.clone();
        RunHooks {
            on_event: Arc::new(move |_| bump(&changes)),
            interrupted: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }
}

fn bump(changes: &watch::Sender<u64>) {
    changes.send_modify(|n| *n = n.wrapping_add(1));
}

/// Runs `work` on a thread of its own, on a runtime as the CLI would build for `paused`.
fn on_own_thread<F, Fut>(name: String, paused: bool, work: F) -> Result<(), ApiError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let runtime = if paused {
                tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build()
            } else {
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
            };
            match runtime {
                Ok(runtime) => runtime.block_on(work()),
                Err(error) => tracing::error!(%error, "cannot start a job's runtime"),
            }
        })
        .map(|_| ())
        .map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot start a thread for the job: {e}"))
        })
}

impl Runner {
    /// A runner over `service`, running as `caller` (its operator is replaced per request).
    pub fn new(service: Arc<Service>, caller: Caller, junos: Option<JunosOptions>) -> Runner {
        Runner { service, caller, junos, changes: watch::Sender::new(0) }
    }

    /// Bumped whenever a job of this process journals something.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The driver choice for `name` on `scenario`; `speed` is virtual seconds per real second
    /// for virtual devices (None: as fast as they go), `time_scale` a lab's.
    pub fn choice(
        &self,
        scenario: &Scenario,
        name: DriverName,
        speed: Option<f64>,
        time_scale: Option<f64>,
    ) -> Result<DriverChoice, ApiError> {
        let kind = match name {
            DriverName::Virtual => DriverKind::Virtual,
            DriverName::Junos => DriverKind::Junos,
            DriverName::Native => DriverKind::Native,
            DriverName::Default => {
                workflow::drivers::default_driver(scenario).map_err(|e| ApiError::from(e).at("driver"))?
            }
        };
        workflow::drivers::preflight(scenario, kind).map_err(|e| ApiError::from(e).at("driver"))?;
        if let Some(speed) = speed
            && !(speed.is_finite() && speed > 0.0 && speed <= 1e6)
        {
            return Err(ApiError::bad(
                "speed must be a number of virtual seconds per real second, above 0 and at most 1000000",
            )
            .at("speed"));
        }
        match kind {
            DriverKind::Virtual => Ok(DriverChoice::Virtual { speed }),
            DriverKind::Junos | DriverKind::Native => {
                let mut options = self.junos.clone().ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "this console was started without SSH credentials, so it cannot reach Junos devices: restart `hitless serve` with --ssh-user and --ssh-key, or use driver: virtual",
                    )
                    .at("driver")
                })?;
                if let Some(scale) = time_scale {
                    options.time_scale = scale;
                }
                Ok(if kind == DriverKind::Native {
                    DriverChoice::Native(options)
                } else {
                    DriverChoice::Junos(options)
                })
            }
        }
    }

    /// The test run: every selected device's version and health, nothing changed.
    pub async fn test_run(&self, scenario: Scenario, choice: DriverChoice) -> Result<Vec<TestRunRow>, ApiError> {
        let service = Arc::clone(&self.service);
        let (tx, rx) = oneshot::channel();
        on_own_thread("hitless-test-run".into(), choice.paused_clock(), move || async move {
            let run = async {
                let driver = Arc::new(workflow::drivers::make(service.dir(), &scenario, &choice)?);
                let pending = service.pending_installs(&scenario)?;
                let sample = workflow::health_sample(&scenario, choice.time_scale());
                let simulated = choice.kind() == DriverKind::Virtual;
                Ok::<_, workflow::WorkflowError>(
                    workflow::test_run(&scenario, &driver, &pending, sample, simulated).await,
                )
            };
            let _ = tx.send(run.await.map_err(ApiError::from));
        })?;
        rx.await.map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the test run stopped unexpectedly"))?
    }

    /// Starts an upgrade of `scenario` (loaded from `text`) for `operator`: answered once the
    /// job exists, or with why none was started (nothing is changed then).
    pub async fn upgrade(
        &self,
        scenario: Scenario,
        text: String,
        choice: DriverChoice,
        allow_loss: bool,
        operator: String,
    ) -> Result<Started, ApiError> {
        let service = Arc::clone(&self.service);
        let mut caller = self.caller.clone();
        caller.operator = operator;
        let changes = self.changes.clone();
        let (tx, rx) = oneshot::channel();
        let name = format!("hitless-job-{}", scenario.name.chars().take(32).collect::<String>());
        on_own_thread(name, choice.paused_clock(), move || async move {
            let web = Web {
                started: Mutex::new(Some(tx)),
                gate: Mutex::new(None),
                changes,
                simulated: choice.kind() == DriverKind::Virtual,
            };
            let request = Request {
                scenario: &scenario,
                scenario_yaml: &text,
                choice: &choice,
                allow_loss,
                window: WindowChoice::Scenario,
            };
            let outcome = workflow::upgrade::upgrade(&service, request, &caller, &web).await;
            let waiting = web.started.lock().expect("not poisoned").take();
            match (outcome, waiting) {
                (Ok(outcome), Some(tx)) => {
                    let _ = tx.send(Err(not_started(&outcome, &web)));
                }
                (Err(error), Some(tx)) => {
                    let _ = tx.send(Err(ApiError::from(error)));
                }
                (Ok(Upgrade::Ran(summary)), None) => {
                    tracing::info!(job = summary.job, state = summary.state.as_str(), "job run ended");
                }
                (Ok(_), None) => {}
                (Err(error), None) => tracing::error!(%error, "job run failed"),
            }
            bump(&web.changes);
        })?;
        rx.await.map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the job stopped before it started"))?
    }

    /// Approves or resumes `job` for `operator`: answered once this process holds the job and
    /// runs it (or with why not: another process holds it, it is finished, ...).
    pub async fn reenter(&self, job: &str, how: Reentry, operator: String) -> Result<(), ApiError> {
        let service = Arc::clone(&self.service);
        let mut caller = self.caller.clone();
        caller.operator = operator;
        let reopened = {
            let (service, job, caller) = (Arc::clone(&service), job.to_string(), caller.clone());
            tokio::task::spawn_blocking(move || workflow::upgrade::reenter(&service, &job, how, &caller, false))
                .await
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??
        };
        let speed = None;
        let choice =
            match self.choice(&reopened.scenario, driver_name(reopened.driver), speed, Some(reopened.time_scale)) {
                Ok(choice) => choice,
                Err(error) => {
                    // Cannot run it here: give the lease back so another process may.
                    let _ = service.release_lease(job, &caller.lease);
                    return Err(error);
                }
            };
        let changes = self.changes.clone();
        let job = job.to_string();
        on_own_thread(format!("hitless-{job}"), choice.paused_clock(), move || async move {
            let driver = match workflow::drivers::make(service.dir(), &reopened.scenario, &choice) {
                Ok(driver) => Arc::new(driver),
                Err(error) => {
                    tracing::error!(%error, job, "cannot reach the job's devices");
                    let _ = service.release_lease(&job, &caller.lease);
                    return;
                }
            };
            let hooks_changes = changes.clone();
            let hooks = RunHooks {
                on_event: Arc::new(move |_| bump(&hooks_changes)),
                interrupted: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            };
            bump(&changes);
            let summary = workflow::upgrade::execute(
                &service,
                &reopened.scenario,
                &job,
                driver,
                &reopened.devices,
                &choice,
                reopened.clock_offset_seconds,
                &caller,
                hooks,
                WindowChoice::Scenario,
            )
            .await;
            match summary {
                Ok(summary) => tracing::info!(job = summary.job, state = summary.state.as_str(), "job run ended"),
                Err(error) => tracing::error!(%error, job, "job run failed"),
            }
            bump(&changes);
        })
    }

    /// Asks `job` to stop, for `operator`.
    pub fn cancel(&self, job: &str, operator: &str, now: i64) -> Result<crate::workflow::jobs::Cancel, ApiError> {
        let cancel = self.service.cancel(job, operator, now)?;
        bump(&self.changes);
        Ok(cancel)
    }
}

fn driver_name(kind: DriverKind) -> DriverName {
    match kind {
        DriverKind::Virtual => DriverName::Virtual,
        DriverKind::Junos => DriverName::Junos,
        DriverKind::Native => DriverName::Native,
    }
}
