//! The JSON API under `/api/v1`. Every answer is JSON (the report is HTML, the events a stream);
//! every refusal is `{"error": {"message", "field"}}` with its status, and changes nothing.
//! Roles: viewers read and plan, operators also start, approve, cancel and resume jobs, admins
//! also manage images. A session's state-changing request carries `X-CSRF-Token`.

use axum::Json;
use axum::Router;
use axum::extract::{FromRequest, Multipart, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::auth::{ApiUser, Who};
use super::fabrics::{self, FabricEntry};
use super::runner::{DriverName, Started};
use super::{ApiError, Shared};
use crate::image::{ImageEdit, ImageFields};
use crate::journal::{DriverKind, JobState};
use crate::scenario::Scenario;
use crate::version::Version;
use crate::workflow::jobs::Reentry;
use crate::workflow::report::{DeviceReport, EventReport, ImageReport, JobReport};
use crate::workflow::tailor::Tailoring;
use crate::workflow::users::Role;
use crate::workflow::{self, Gate, TestRunRow};

pub fn routes(upload: axum::extract::DefaultBodyLimit) -> Router<Shared> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/images", get(list_images).post(upload_image).layer(upload))
        .route("/images/{name}", get(show_image).patch(edit_image).delete(remove_image))
        .route("/fabrics", get(list_fabrics))
        .route("/fabrics/{name}", get(show_fabric))
        .route("/plans", post(make_plan))
        .route("/jobs", get(list_jobs).post(start_job))
        .route("/jobs/{id}", get(show_job))
        .route("/jobs/{id}/events", get(super::events::stream))
        .route("/jobs/{id}/approve", post(approve))
        .route("/jobs/{id}/cancel", post(cancel))
        .route("/jobs/{id}/resume", post(resume))
        .route("/jobs/{id}/devices/{device}/logs", get(device_logs))
        .route("/jobs/{id}/report", get(report))
        .fallback(|| async { ApiError::not_found("no such API endpoint (GET /api/v1/openapi.json lists them)") })
}

/// A JSON body, with a JSON error (naming the line and column) when it is not the expected one.
pub struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::new(e.status(), format!("cannot read the request body: {}", e.body_text())))?;
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| ApiError::bad(format!("the request body is not what this endpoint takes: {e}")))
    }
}

fn csrf_header(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-csrf-token").and_then(|v| v.to_str().ok())
}

/// Checks a state-changing API request: the CSRF token of a session, and the role.
fn allow(who: &Who, headers: &HeaderMap, role: Role, what: &str) -> Result<(), ApiError> {
    who.check_csrf(csrf_header(headers))?;
    who.require(role, what)
}

// Images.

async fn list_images(State(app): State<Shared>, ApiUser(_): ApiUser) -> Result<Json<Vec<ImageReport>>, ApiError> {
    Ok(Json(app.service.images()?.iter().map(ImageReport::from).collect()))
}

async fn show_image(
    State(app): State<Shared>,
    ApiUser(_): ApiUser,
    UrlPath(name): UrlPath<String>,
) -> Result<Json<ImageReport>, ApiError> {
    Ok(Json(ImageReport::from(&app.service.image(&name)?)))
}

/// The fields of an image upload, as they came (text) before they are checked.
#[derive(Default)]
pub struct UploadFields {
    pub name: Option<String>,
    pub vendor: Option<String>,
    pub family: Option<String>,
    pub platforms: Vec<String>,
    pub os_version: Option<String>,
    pub csrf: Option<String>,
    /// The uploaded file, under its own name in a temporary directory of the state directory
    /// (removed with it).
    pub file: Option<(tempfile::TempDir, std::path::PathBuf)>,
}

/// Reads a multipart upload: the file (field `file`) streamed to a temporary file in the state
/// directory, the other fields as text.
pub async fn read_upload(app: &super::App, mut multipart: Multipart) -> Result<UploadFields, ApiError> {
    use std::io::Write;
    let mut fields = UploadFields::default();
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::new(e.status(), format!("cannot read the upload: {}", e.body_text()))
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            // The catalog keeps the file's own name: its last component only, never a path.
            let given = field.file_name().map(|f| f.rsplit(['/', '\\']).next().unwrap_or_default().to_string());
            let file_name = given.filter(|f| !f.is_empty()).ok_or_else(|| {
                ApiError::bad("the file field has no file name (the image file's own name, as the catalog keeps it)")
                    .at("file")
            })?;
            let dir = tempfile::TempDir::new_in(app.service.dir()).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot make a temporary directory in the state directory: {e}"),
                )
            })?;
            let path = dir.path().join(&file_name);
            let mut file = std::fs::File::create(&path).map_err(|e| {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("cannot keep a file named {file_name:?}: {e}"))
                    .at("file")
            })?;
            while let Some(chunk) = field.chunk().await.map_err(bad)? {
                file.write_all(&chunk).map_err(|e| {
                    ApiError::new(StatusCode::INSUFFICIENT_STORAGE, format!("cannot write the upload: {e}"))
                })?;
            }
            fields.file = Some((dir, path));
            continue;
        }
        let text = field.text().await.map_err(bad)?;
        match name.as_str() {
            "name" => fields.name = Some(text.trim().to_string()),
            "vendor" => fields.vendor = Some(text.trim().to_string()),
            "family" => fields.family = Some(text.trim().to_string()),
            "platforms" => fields.platforms.extend(split_list(&text)),
            "os_version" => fields.os_version = Some(text.trim().to_string()),
            "csrf" => fields.csrf = Some(text),
            other => return Err(ApiError::bad(format!(
                "unknown upload field {other:?}: the fields are name, vendor, family, platforms, os_version and file"
            ))
            .at(other)),
        }
    }
    Ok(fields)
}

/// Platforms as a form gives them: separated by commas or white space.
pub fn split_list(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n', '\r', '\t']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Adds an uploaded image to the catalog.
pub async fn add_uploaded(app: &super::App, upload: UploadFields) -> Result<ImageReport, ApiError> {
    let need = |value: Option<String>, field: &str| {
        value.filter(|v| !v.is_empty()).ok_or_else(|| ApiError::bad(format!("the upload has no {field}")).at(field))
    };
    let os_version = need(upload.os_version, "os_version")?;
    let os_version = Version::parse(&os_version)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).at("os_version"))?;
    let fields = ImageFields {
        name: need(upload.name, "name")?,
        vendor: need(upload.vendor, "vendor")?,
        family: need(upload.family, "family")?,
        platforms: upload.platforms,
        os_version,
    };
    let file = upload.file.ok_or_else(|| ApiError::bad("the upload has no file").at("file"))?;
    let now = (app.caller.now)();
    let service = std::sync::Arc::clone(&app.service);
    // Checksumming a large file takes a while: not on the request threads.
    let image = tokio::task::spawn_blocking(move || {
        let (dir, path) = file;
        let added = service.add_image(&fields, &path, now, &mut |_, _| {});
        drop(dir);
        added
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(ImageReport::from(&image))
}

async fn upload_image(
    State(app): State<Shared>,
    ApiUser(who): ApiUser,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<(StatusCode, Json<ImageReport>), ApiError> {
    // The role and the header are checked before a byte of the file is read.
    allow(&who, &headers, Role::Admin, "adding an image")?;
    let upload = read_upload(&app, multipart).await?;
    Ok((StatusCode::CREATED, Json(add_uploaded(&app, upload).await?)))
}

/// `PATCH /images/{name}`: the fields to change; a name cannot be changed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    vendor: Option<String>,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    platforms: Option<Vec<String>>,
    #[serde(default)]
    os_version: Option<String>,
}

/// Applies a patch to image `name`.
pub fn apply_patch(app: &super::App, name: &str, patch: ImagePatch) -> Result<ImageReport, ApiError> {
    if patch.name.as_deref().is_some_and(|n| n != name) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("image names are immutable: to call {name} otherwise, upload the file again under the new name and delete {name}"),
        )
        .at("name"));
    }
    let os_version = patch
        .os_version
        .as_deref()
        .map(Version::parse)
        .transpose()
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).at("os_version"))?;
    let edit = ImageEdit { vendor: patch.vendor, family: patch.family, platforms: patch.platforms, os_version };
    Ok(ImageReport::from(&app.service.edit_image(name, &edit)?))
}

async fn edit_image(
    State(app): State<Shared>,
    ApiUser(who): ApiUser,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
    Body(patch): Body<ImagePatch>,
) -> Result<Json<ImageReport>, ApiError> {
    allow(&who, &headers, Role::Admin, "editing an image")?;
    Ok(Json(apply_patch(&app, &name, patch)?))
}

async fn remove_image(
    State(app): State<Shared>,
    ApiUser(who): ApiUser,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> Result<StatusCode, ApiError> {
    allow(&who, &headers, Role::Admin, "deleting an image")?;
    app.service.remove_image(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

// Fabrics.

async fn list_fabrics(State(app): State<Shared>, ApiUser(_): ApiUser) -> Result<Json<Vec<FabricEntry>>, ApiError> {
    Ok(Json(fabrics::list(&app.service, app.config.scenarios.as_deref())?))
}

/// A device of a fabric.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceEntry {
    pub name: String,
    pub role: String,
    pub family: String,
    pub platform: String,
    pub version: String,
    pub address: Option<String>,
}

/// An image a fabric's scenario offers.
#[derive(Clone, Debug, Serialize)]
pub struct OfferedImage {
    pub name: String,
    pub vendor: String,
    pub family: String,
    pub platforms: Vec<String>,
    pub os_version: String,
}

/// A device the selection upgrades.
#[derive(Clone, Debug, Serialize)]
pub struct TargetEntry {
    pub device: String,
    pub image: String,
    pub running: String,
    pub target: String,
}

/// A device the selection leaves alone, and why.
#[derive(Clone, Debug, Serialize)]
pub struct SkippedEntry {
    pub device: String,
    pub reason: String,
}

/// One fabric in full.
#[derive(Clone, Debug, Serialize)]
pub struct FabricDetail {
    pub name: String,
    pub scenario: String,
    pub description: Option<String>,
    pub devices: Vec<DeviceEntry>,
    pub images: Vec<OfferedImage>,
    pub targets: Vec<TargetEntry>,
    pub skipped: Vec<SkippedEntry>,
    pub open_job: Option<String>,
}

/// The selection of `scenario`: what is upgraded to what, and what is skipped.
pub fn selection(scenario: &Scenario) -> (Vec<TargetEntry>, Vec<SkippedEntry>) {
    let targets = scenario
        .selection
        .targets
        .iter()
        .map(|t| {
            let device = scenario.fabric.device(t.device);
            let image = &scenario.images[t.image];
            TargetEntry {
                device: device.name.clone(),
                image: image.name.clone(),
                running: device.version.to_string(),
                target: image.version.to_string(),
            }
        })
        .collect();
    let skipped = scenario
        .selection
        .skipped
        .iter()
        .map(|(id, reason)| SkippedEntry { device: scenario.fabric.device(*id).name.clone(), reason: reason.clone() })
        .collect();
    (targets, skipped)
}

/// Fabric `name` in full.
pub fn fabric_detail(app: &super::App, name: &str) -> Result<FabricDetail, ApiError> {
    let dir = fabrics::dir(&app.config)?;
    let loaded = fabrics::load(&app.service, dir, name, &Tailoring::default())?;
    let scenario = &loaded.scenario;
    let devices = scenario
        .fabric
        .devices()
        .iter()
        .map(|d| DeviceEntry {
            name: d.name.clone(),
            role: d.role.to_string(),
            family: d.family.clone(),
            platform: d.platform.clone(),
            version: d.version.to_string(),
            address: d.address.clone(),
        })
        .collect();
    let images = scenario
        .images
        .iter()
        .map(|i| OfferedImage {
            name: i.name.clone(),
            vendor: i.vendor.clone(),
            family: i.family.clone(),
            platforms: i.platforms.clone(),
            os_version: i.version.to_string(),
        })
        .collect();
    let (targets, skipped) = selection(scenario);
    Ok(FabricDetail {
        name: name.to_string(),
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        devices,
        images,
        targets,
        skipped,
        open_job: fabrics::open_job(&app.service, scenario)?,
    })
}

async fn show_fabric(
    State(app): State<Shared>,
    ApiUser(_): ApiUser,
    UrlPath(name): UrlPath<String>,
) -> Result<Json<FabricDetail>, ApiError> {
    Ok(Json(fabric_detail(&app, &name)?))
}

// Plans.

/// What a plan, a test run or an upgrade is asked for.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// The fabric (a scenario file's stem).
    pub fabric: String,
    /// Other assignments than the scenario's (`[{image, devices}]`).
    #[serde(default)]
    pub assign: Option<serde_json::Value>,
    /// Other parameters (`upgrade` fields: health_checks, canary, pause, ...).
    #[serde(default)]
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// Go on past a plan the simulation finds lossy.
    #[serde(default)]
    pub allow_loss: bool,
}

impl PlanRequest {
    /// The fabric, tailored.
    pub fn load(&self, app: &super::App) -> Result<fabrics::Loaded, ApiError> {
        let dir = fabrics::dir(&app.config)?;
        let tailoring = Tailoring { assign: self.assign.clone(), parameters: self.parameters.clone() };
        fabrics::load(&app.service, dir, &self.fabric, &tailoring)
    }
}

/// A plan and its simulation.
#[derive(Clone, Debug, Serialize)]
pub struct PlanAnswer {
    pub fabric: String,
    pub scenario: String,
    /// The simulation finds the plan hitless.
    pub hitless: bool,
    /// An upgrade with the same request would be let through the gate (hitless, or loss
    /// accepted).
    pub may_start: bool,
    pub batches: Vec<Vec<String>>,
    pub targets: Vec<TargetEntry>,
    pub skipped: Vec<SkippedEntry>,
    pub warnings: Vec<String>,
    /// The simulation, as `hitless simulate --format json` prints it.
    pub simulation: crate::simulate::report::SimReport,
}

/// Plans and simulates a request (CPU-bound: on the blocking pool).
pub async fn plan(app: &super::App, request: &PlanRequest) -> Result<PlanAnswer, ApiError> {
    let loaded = request.load(app)?;
    let mut scenario = loaded.scenario;
    let staged = app.service.staged(&scenario)?;
    let (allow_loss, fabric) = (request.allow_loss, request.fabric.clone());
    tokio::task::spawn_blocking(move || {
        let mut input = workflow::plan(&scenario);
        input.staged = staged;
        let decision = workflow::gate(&scenario, &input, allow_loss);
        let (targets, skipped) = selection(&scenario);
        let batches =
            input.batches.iter().map(|b| b.iter().map(|d| scenario.fabric.device(*d).name.clone()).collect()).collect();
        let may_start = !matches!(decision, Gate::Refuse(_));
        let report = match decision {
            Gate::Pass(r) | Gate::Refuse(r) | Gate::Accept(r) => r,
        };
        PlanAnswer {
            fabric,
            scenario: std::mem::take(&mut scenario.name),
            hitless: report.hitless,
            may_start,
            batches,
            targets,
            skipped,
            warnings: input.warnings,
            simulation: report,
        }
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn make_plan(
    State(app): State<Shared>,
    ApiUser(_): ApiUser,
    Body(request): Body<PlanRequest>,
) -> Result<Json<PlanAnswer>, ApiError> {
    Ok(Json(plan(&app, &request).await?))
}

// Jobs.

/// `POST /jobs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// `test-run` or `upgrade`.
    pub mode: Mode,
    #[serde(flatten)]
    pub plan: PlanRequest,
    /// How the devices are reached (`virtual`, `junos`; default: the scenario's).
    #[serde(default)]
    pub driver: DriverName,
    /// Virtual devices: virtual seconds per real second (default: as fast as they go).
    #[serde(default)]
    pub speed: Option<f64>,
}

/// What `POST /jobs` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Version and health of every selected device; nothing changed, nothing recorded.
    TestRun,
    /// The upgrade: test run, plan, gate, then the job.
    Upgrade,
}

/// A test run's answer.
#[derive(Clone, Debug, Serialize)]
pub struct TestRunAnswer {
    pub mode: Mode,
    pub fabric: String,
    pub rows: Vec<TestRunRow>,
}

/// Runs a job request: a test run (answered with its rows) or an upgrade (answered once the job
/// exists).
pub async fn run_job_request(app: &super::App, who: &Who, request: JobRequest) -> Result<JobAnswer, ApiError> {
    let loaded = request.plan.load(app)?;
    let choice = app.runner.choice(&loaded.scenario, request.driver, request.speed, None)?;
    match request.mode {
        Mode::TestRun => {
            let rows = app.runner.test_run(loaded.scenario, choice).await?;
            Ok(JobAnswer::TestRun(TestRunAnswer { mode: Mode::TestRun, fabric: request.plan.fabric, rows }))
        }
        Mode::Upgrade => {
            who.require(Role::Operator, "starting an upgrade")?;
            let started = app
                .runner
                .upgrade(loaded.scenario, loaded.text, choice, request.plan.allow_loss, who.operator(app))
                .await?;
            Ok(JobAnswer::Started(started))
        }
    }
}

/// What `POST /jobs` answers.
pub enum JobAnswer {
    TestRun(TestRunAnswer),
    Started(Started),
}

async fn start_job(
    State(app): State<Shared>,
    ApiUser(who): ApiUser,
    headers: HeaderMap,
    Body(request): Body<JobRequest>,
) -> Result<Response, ApiError> {
    // A test run asks the devices too: operators only, as the CLI's `test-run` needs access.
    allow(&who, &headers, Role::Operator, "a test run or an upgrade")?;
    Ok(match run_job_request(&app, &who, request).await? {
        JobAnswer::TestRun(answer) => Json(answer).into_response(),
        JobAnswer::Started(started) => (StatusCode::CREATED, Json(started)).into_response(),
    })
}

async fn list_jobs(State(app): State<Shared>, ApiUser(_): ApiUser) -> Result<Json<Vec<JobReport>>, ApiError> {
    Ok(Json(app.service.jobs()?.iter().map(JobReport::from).collect()))
}

/// Devices done of devices to do (skipped devices are not counted).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// A job, its devices and its progress.
#[derive(Clone, Debug, Serialize)]
pub struct JobDetail {
    pub job: JobReport,
    pub devices: Vec<DeviceReport>,
    pub progress: Progress,
}

/// Job `id` in full.
pub fn job_detail(app: &super::App, id: &str) -> Result<JobDetail, ApiError> {
    let job = app.service.job(id)?;
    let devices = app.service.devices(id)?;
    let counted = devices.iter().filter(|d| d.batch > 0);
    let progress = Progress { done: counted.clone().filter(|d| d.state.is_done()).count(), total: counted.count() };
    Ok(JobDetail { job: JobReport::from(&job), devices: devices.iter().map(DeviceReport::from).collect(), progress })
}

async fn show_job(
    State(app): State<Shared>,
    ApiUser(_): ApiUser,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<JobDetail>, ApiError> {
    Ok(Json(job_detail(&app, &id)?))
}

/// Approves, resumes or cancels job `id` for `who`; the job as it is then.
pub async fn act(app: &super::App, who: &Who, id: &str, action: Action) -> Result<JobDetail, ApiError> {
    who.require(Role::Operator, action.what())?;
    let job = app.service.job(id)?;
    match action {
        Action::Approve => {
            if job.state != JobState::Paused {
                return Err(
                    workflow::WorkflowError::NotPaused { job: id.to_string(), state: job.state.as_str() }.into()
                );
            }
            app.runner.reenter(id, Reentry::Approve, who.operator(app)).await?;
        }
        Action::Resume => app.runner.reenter(id, Reentry::Resume, who.operator(app)).await?,
        Action::Cancel => {
            app.runner.cancel(id, &who.operator(app), (app.caller.now)())?;
        }
    }
    job_detail(app, id)
}

/// What an operator does to a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Approve,
    Resume,
    Cancel,
}

impl Action {
    fn what(self) -> &'static str {
        match self {
            Action::Approve => "approving a job",
            Action::Resume => "resuming a job",
            Action::Cancel => "cancelling a job",
        }
    }
}

async fn approve(
    State(app): State<Shared>,
    ApiUser(who): ApiUser,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<JobDetail>, ApiError> {
    allow(&who, &headers, Role::Operator, "approving a job")?;
    Ok(Json(act(&app, &who, &id, Action::Approve).await?))
}

async fn cancel(
    State(app): State<Shared>,
    ApiUser(who): ApiUser,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<JobDetail>, ApiError> {
    allow(&who, &headers, Role::Operator, "cancelling a job")?;
    Ok(Json(act(&app, &who, &id, Action::Cancel).await?))
}

async fn resume(
    State(app): State<Shared>,
    ApiUser(who): ApiUser,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<JobDetail>, ApiError> {
    allow(&who, &headers, Role::Operator, "resuming a job")?;
    Ok(Json(act(&app, &who, &id, Action::Resume).await?))
}

/// One device's part of job `id`'s journal; 404 for a device the job does not have.
pub fn device_events(app: &super::App, id: &str, device: &str) -> Result<Vec<EventReport>, ApiError> {
    let job = app.service.job(id)?;
    if !app.service.devices(id)?.iter().any(|d| d.device == device) {
        return Err(ApiError::not_found(format!("job {id} has no device {device:?}")).at("device"));
    }
    let simulated = job.driver == DriverKind::Virtual;
    Ok(app.service.events(id, Some(device))?.iter().map(|e| EventReport::new(e, Some(id), simulated)).collect())
}

async fn device_logs(
    State(app): State<Shared>,
    ApiUser(_): ApiUser,
    UrlPath((id, device)): UrlPath<(String, String)>,
) -> Result<Json<Vec<EventReport>>, ApiError> {
    Ok(Json(device_events(&app, &id, &device)?))
}

/// The report page of a request's plan (as `hitless report SCENARIO`: the fabric, the plan, a
/// timeline, the traffic), for the wizard's plan step.
pub async fn plan_report_page(app: &super::App, request: &PlanRequest) -> Result<Response, ApiError> {
    let loaded = request.load(app)?;
    let scenario = loaded.scenario;
    let staged = app.service.staged(&scenario)?;
    let html = tokio::task::spawn_blocking(move || {
        let mut input = workflow::plan(&scenario);
        input.staged = staged;
        let report = crate::view::plan_report(&scenario, &input);
        let sim = crate::simulate::simulate(&scenario, &input, &crate::view::sim_options(scenario.simulation.seed));
        crate::view::html(&crate::view::for_plan(&scenario, &report, &sim))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(crate::view::ViewError::from)?;
    Ok(Html(html).into_response())
}

/// The job's report page (the same as `hitless report`).
pub fn report_page(app: &super::App, id: &str) -> Result<Response, ApiError> {
    let page = app.service.job_page(id)?;
    let html = crate::view::html(&page).map_err(crate::view::ViewError::from)?;
    Ok(Html(html).into_response())
}

async fn report(
    State(app): State<Shared>,
    ApiUser(_): ApiUser,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    report_page(&app, &id)
}

async fn openapi() -> Json<serde_json::Value> {
    Json(super::openapi::document())
}
