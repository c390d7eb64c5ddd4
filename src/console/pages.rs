//! The console's pages, server-rendered (minijinja, every value escaped) and usable without
//! JavaScript; one small script of ours (`/static/live.js`) makes a job's page live. Stable
//! hooks for tests and scripts: each wizard step's container has `data-step` (`images`,
//! `assign`, `parameters`, `test-run`, `plan`, `upgrade`); each device row `data-device` and
//! `data-state` (the journal state's label); the progress `data-progress="DONE/TOTAL"`; the job
//! `data-job`.
//!
//! The wizard keeps what was chosen so far in one hidden field (`request`, the API's plan
//! request as JSON), so every step can be reloaded, and each step is checked again by the
//! library when it is posted.

use axum::Router;
use axum::extract::{Multipart, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;

use super::api::{self, Action, JobAnswer, JobRequest, Mode, PlanRequest};
use super::auth::{self, PageUser, Who};
use super::runner::DriverName;
use super::{ApiError, App, Shared};
use crate::select::{Assign, DeviceSelection, select};
use crate::workflow::report::{ImageReport, JobReport};
use crate::workflow::users::Role;

const LIVE_JS: &str = include_str!("templates/live.js");
const STYLE: &str = include_str!("templates/style.css");

/// The templates, compiled once.
pub fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    // `.html` templates escape every value (minijinja's default for the extension).
    for (name, text) in [
        ("base.html", include_str!("templates/base.html")),
        ("login.html", include_str!("templates/login.html")),
        ("error.html", include_str!("templates/error.html")),
        ("images.html", include_str!("templates/images.html")),
        ("fabrics.html", include_str!("templates/fabrics.html")),
        ("fabric.html", include_str!("templates/fabric.html")),
        ("assign.html", include_str!("templates/assign.html")),
        ("parameters.html", include_str!("templates/parameters.html")),
        ("test_run.html", include_str!("templates/test_run.html")),
        ("plan.html", include_str!("templates/plan.html")),
        ("jobs.html", include_str!("templates/jobs.html")),
        ("job.html", include_str!("templates/job.html")),
        ("logs.html", include_str!("templates/logs.html")),
        ("users.html", include_str!("templates/users.html")),
    ] {
        env.add_template(name, text).expect("the console's templates compile");
    }
    env.add_filter("utc", |unix: i64| match jiff::Timestamp::from_second(unix) {
        Ok(at) => at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => unix.to_string(),
    });
    env
}

pub fn routes(upload_limit: axum::extract::DefaultBodyLimit) -> Router<Shared> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/jobs") }))
        .route(
            "/static/live.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], LIVE_JS) }),
        )
        .route("/static/style.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/images", get(images).post(upload).layer(upload_limit))
        .route("/images/{name}/edit", post(edit_image))
        .route("/images/{name}/delete", post(delete_image))
        .route("/users", get(users).post(add_user))
        .route("/users/{name}/delete", post(remove_user))
        .route("/users/{name}/token", post(issue_token))
        .route("/fabrics", get(fabrics))
        .route("/fabrics/{name}", get(fabric))
        .route("/upgrade/{fabric}", get(assign_step))
        .route("/upgrade/{fabric}/parameters", post(parameters_step))
        .route("/upgrade/{fabric}/test-run", post(test_run_step))
        .route("/upgrade/{fabric}/plan", post(plan_step))
        .route("/upgrade/{fabric}/start", post(start_step))
        .route("/upgrade/{fabric}/report", post(plan_report))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/approve", post(|s, u, p, f| act(s, u, p, f, Action::Approve)))
        .route("/jobs/{id}/cancel", post(|s, u, p, f| act(s, u, p, f, Action::Cancel)))
        .route("/jobs/{id}/resume", post(|s, u, p, f| act(s, u, p, f, Action::Resume)))
        .route("/jobs/{id}/devices/{device}", get(logs))
        .route("/jobs/{id}/report", get(report))
}

/// `text` made safe inside a URL's query.
pub fn url_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn render(app: &App, who: Option<&Who>, name: &str, ctx: minijinja::Value) -> Response {
    let common = context! {
        user => who.map(|w| context! { name => w.user.name.clone(), role => w.user.role.as_str() }),
        csrf => who.map_or("", |w| w.csrf()),
        insecure => app.config.plain_off_loopback(),
        can_run => who.is_some_and(|w| w.user.role >= Role::Operator),
        is_admin => who.is_some_and(|w| w.user.role >= Role::Admin),
    };
    let merged = context! { ..ctx, ..common };
    match app.templates.get_template(name).and_then(|t| t.render(merged)) {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, template = name, "a page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered; the log says why").into_response()
        }
    }
}

/// An error as a page, with its status.
pub fn error_page(app: &App, who: Option<&Who>, error: &ApiError) -> Response {
    let mut response = render(
        app,
        who,
        "error.html",
        context! { status => error.status.as_u16(), message => error.message.clone(), field => error.field.clone() },
    );
    *response.status_mut() = error.status;
    response
}

/// A page's answer: the page, or an error page.
type Page = Result<Response, Response>;

fn fail(app: &App, who: &Who) -> impl Fn(ApiError) -> Response {
    move |error| error_page(app, Some(who), &error)
}

/// The body of a form, as pairs in order (a key may repeat: `device=a&device=b`).
fn pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A form post's fields, after its CSRF token is checked.
fn checked_form(who: &Who, body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let pairs = pairs(body);
    who.check_csrf(field(&pairs, "csrf"))?;
    Ok(pairs)
}

/// A state-changing form of someone with at least `role` (for `what`): its fields, or the error
/// page (a missing CSRF token, a role too low).
fn admitted(app: &App, who: &Who, body: &[u8], role: Role, what: &str) -> Result<Vec<(String, String)>, Response> {
    let pairs = checked_form(who, body).map_err(fail(app, who))?;
    who.require(role, what).map_err(fail(app, who))?;
    Ok(pairs)
}

// Signing in and out.

#[derive(Deserialize)]
struct Next {
    #[serde(default)]
    next: Option<String>,
}

/// Where to go after signing in: a path of this site only. Browsers drop tabs and new lines
/// from a URL and read `\` as `/`, so `/\t/host` or `/\\host` would lead off the site: any of
/// them, or any other control or space character, and the answer is the jobs page.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace()) =>
        {
            n.to_string()
        }
        _ => "/jobs".to_string(),
    }
}

async fn login_page(State(app): State<Shared>, Query(next): Query<Next>) -> Response {
    render(&app, None, "login.html", context! { next => safe_next(next.next.as_deref()), failed => false })
}

async fn login(State(app): State<Shared>, body: axum::body::Bytes) -> Response {
    let pairs = pairs(&body);
    let name = field(&pairs, "name").unwrap_or_default().to_string();
    let password = field(&pairs, "password").unwrap_or_default().to_string();
    let next = safe_next(field(&pairs, "next"));
    let service = std::sync::Arc::clone(&app.service);
    let Ok(_permit) = app.logins.acquire().await else {
        return error_page(&app, None, &ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the console is stopping"));
    };
    let checked = tokio::task::spawn_blocking(move || service.authenticate_password(&name, &password)).await;
    match checked {
        Ok(Ok(Some(user))) => {
            let (secret, _) = app.sessions.open(&user.name, (app.caller.now)());
            tracing::info!(user = user.name, "signed in");
            let cookie = auth::session_cookie(&secret, app.config.tls.is_some());
            let mut response = Redirect::to(&next).into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("a cookie is ASCII"));
            response
        }
        Ok(Ok(None)) => {
            let mut response = render(&app, None, "login.html", context! { next => next, failed => true });
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
        Ok(Err(error)) => error_page(&app, None, &ApiError::from(error)),
        Err(error) => error_page(&app, None, &ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())),
    }
}

async fn logout(State(app): State<Shared>, PageUser(who): PageUser, body: axum::body::Bytes) -> Page {
    checked_form(&who, &body).map_err(fail(&app, &who))?;
    if let auth::Via::Session { secret, .. } = &who.via {
        app.sessions.close(secret);
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&auth::cleared_cookie()).expect("ASCII"));
    Ok(response)
}

// Images.

async fn images(State(app): State<Shared>, PageUser(who): PageUser) -> Page {
    let images: Vec<ImageReport> =
        app.service.images().map_err(|e| fail(&app, &who)(e.into()))?.iter().map(ImageReport::from).collect();
    Ok(render(&app, Some(&who), "images.html", context! { images => images }))
}

async fn upload(State(app): State<Shared>, PageUser(who): PageUser, multipart: Multipart) -> Page {
    let fail = fail(&app, &who);
    who.require(Role::Admin, "adding an image").map_err(&fail)?;
    let upload = api::read_upload(&app, multipart).await.map_err(&fail)?;
    who.check_csrf(upload.csrf.as_deref()).map_err(&fail)?;
    api::add_uploaded(&app, upload).await.map_err(&fail)?;
    Ok(Redirect::to("/images").into_response())
}

async fn edit_image(
    State(app): State<Shared>,
    PageUser(who): PageUser,
    UrlPath(name): UrlPath<String>,
    body: axum::body::Bytes,
) -> Page {
    let pairs = admitted(&app, &who, &body, Role::Admin, "editing an image")?;
    let fail = fail(&app, &who);
    let text = |key: &str| field(&pairs, key).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let patch = serde_json::json!({
        "vendor": text("vendor"), "family": text("family"),
        "platforms": text("platforms").map(|p| api::split_list(&p)), "os_version": text("os_version"),
    });
    let patch: api::ImagePatch = serde_json::from_value(patch).map_err(|e| fail(ApiError::bad(e.to_string())))?;
    api::apply_patch(&app, &name, patch).map_err(&fail)?;
    Ok(Redirect::to("/images").into_response())
}

async fn delete_image(
    State(app): State<Shared>,
    PageUser(who): PageUser,
    UrlPath(name): UrlPath<String>,
    body: axum::body::Bytes,
) -> Page {
    admitted(&app, &who, &body, Role::Admin, "deleting an image")?;
    app.service.remove_image(&name).map_err(|e| fail(&app, &who)(e.into()))?;
    Ok(Redirect::to("/images").into_response())
}

// Users (admins only).

fn users_page(app: &App, who: &Who, issued: Option<minijinja::Value>) -> Page {
    let fail = fail(app, who);
    who.require(Role::Admin, "managing users").map_err(&fail)?;
    let users = app.service.users().map_err(|e| fail(e.into()))?;
    Ok(render(app, Some(who), "users.html", context! { users => users, issued => issued }))
}

async fn users(State(app): State<Shared>, PageUser(who): PageUser) -> Page {
    users_page(&app, &who, None)
}

async fn add_user(State(app): State<Shared>, PageUser(who): PageUser, body: axum::body::Bytes) -> Page {
    let pairs = admitted(&app, &who, &body, Role::Admin, "managing users")?;
    let fail = fail(&app, &who);
    let name = field(&pairs, "name").unwrap_or_default().trim().to_string();
    let role = field(&pairs, "role")
        .and_then(Role::parse)
        .ok_or_else(|| fail(ApiError::bad("role must be viewer, operator or admin").at("role")))?;
    let password = field(&pairs, "password").unwrap_or_default().to_string();
    let (service, now) = (std::sync::Arc::clone(&app.service), (app.caller.now)());
    tokio::task::spawn_blocking(move || service.add_user(&name, role, &password, now))
        .await
        .map_err(|e| fail(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())))?
        .map_err(|e| fail(e.into()))?;
    Ok(Redirect::to("/users").into_response())
}

async fn remove_user(
    State(app): State<Shared>,
    PageUser(who): PageUser,
    UrlPath(name): UrlPath<String>,
    body: axum::body::Bytes,
) -> Page {
    admitted(&app, &who, &body, Role::Admin, "managing users")?;
    let fail = fail(&app, &who);
    if name == who.user.name {
        return Err(fail(ApiError::new(
            StatusCode::CONFLICT,
            "you cannot remove yourself here (it could leave no admin): another admin can, or `hitless user rm`",
        )));
    }
    app.service.remove_user(&name).map_err(|e| fail(e.into()))?;
    Ok(Redirect::to("/users").into_response())
}

async fn issue_token(
    State(app): State<Shared>,
    PageUser(who): PageUser,
    UrlPath(name): UrlPath<String>,
    body: axum::body::Bytes,
) -> Page {
    admitted(&app, &who, &body, Role::Admin, "managing users")?;
    let fail = fail(&app, &who);
    let token = app.service.issue_token(&name, (app.caller.now)()).map_err(|e| fail(e.into()))?;
    // Shown once, on this answer; never in a URL, a log or the store.
    users_page(&app, &who, Some(context! { user => name, token => token }))
}

// Fabrics.

async fn fabrics(State(app): State<Shared>, PageUser(who): PageUser) -> Page {
    let list = super::fabrics::list(&app.service, app.config.scenarios.as_deref()).map_err(fail(&app, &who))?;
    Ok(render(
        &app,
        Some(&who),
        "fabrics.html",
        context! { fabrics => list, has_dir => app.config.scenarios.is_some() },
    ))
}

async fn fabric(State(app): State<Shared>, PageUser(who): PageUser, UrlPath(name): UrlPath<String>) -> Page {
    let detail = api::fabric_detail(&app, &name).map_err(fail(&app, &who))?;
    Ok(render(&app, Some(&who), "fabric.html", context! { fabric => detail }))
}

// The wizard.

/// For each image of the fabric: the devices it can upgrade, and those it cannot with why.
async fn assign_step(State(app): State<Shared>, PageUser(who): PageUser, UrlPath(name): UrlPath<String>) -> Page {
    let fail = fail(&app, &who);
    let dir = super::fabrics::dir(&app.config).map_err(&fail)?;
    let loaded = super::fabrics::load(&app.service, dir, &name, &Default::default()).map_err(&fail)?;
    let scenario = &loaded.scenario;
    let chosen: std::collections::BTreeSet<(String, String)> =
        api::selection(scenario).0.into_iter().map(|t| (t.image, t.device)).collect();
    let mut offers = Vec::new();
    for (index, image) in scenario.images.iter().enumerate() {
        let all = [Assign { image: index, devices: DeviceSelection::All }];
        let (fits, unfit) = match select(&scenario.fabric, &scenario.images, &all) {
            Ok(selection) => (
                selection
                    .targets
                    .iter()
                    .map(|t| {
                        let device = scenario.fabric.device(t.device);
                        context! {
                            name => device.name.clone(), role => device.role.to_string(),
                            running => device.version.to_string(),
                            checked => chosen.contains(&(image.name.clone(), device.name.clone())),
                        }
                    })
                    .collect::<Vec<_>>(),
                selection
                    .skipped
                    .iter()
                    .map(|(id, why)| context! { name => scenario.fabric.device(*id).name.clone(), reason => why.clone() })
                    .collect::<Vec<_>>(),
            ),
            Err(errors) => (Vec::new(), errors.into_iter().map(|e| context! { name => "", reason => e.message }).collect()),
        };
        offers.push(context! {
            name => image.name.clone(), vendor => image.vendor.clone(), family => image.family.clone(),
            version => image.version.to_string(), platforms => image.platforms.clone(), fits => fits, unfit => unfit,
        });
    }
    Ok(render(
        &app,
        Some(&who),
        "assign.html",
        context! { fabric => name, scenario => scenario.name.clone(), offers => offers },
    ))
}

/// The request carried by the wizard's hidden `request` field.
fn carried(pairs: &[(String, String)], fabric: &str) -> Result<PlanRequest, ApiError> {
    let mut request: PlanRequest = match field(pairs, "request") {
        Some(text) if !text.is_empty() => serde_json::from_str(text).map_err(|e| {
            ApiError::bad(format!("the wizard's carried request is damaged ({e}); start again")).at("request")
        })?,
        _ => PlanRequest::default(),
    };
    request.fabric = fabric.to_string();
    Ok(request)
}

fn request_json(request: &PlanRequest) -> String {
    serde_json::json!({
        "fabric": request.fabric, "assign": request.assign, "parameters": request.parameters, "allow_loss": request.allow_loss,
    })
    .to_string()
}

async fn parameters_step(
    State(app): State<Shared>,
    PageUser(who): PageUser,
    UrlPath(fabric): UrlPath<String>,
    body: axum::body::Bytes,
) -> Page {
    let fail = fail(&app, &who);
    let pairs = checked_form(&who, &body).map_err(&fail)?;
    let mut request = carried(&pairs, &fabric).map_err(&fail)?;
    let image = field(&pairs, "image").unwrap_or_default();
    let devices: Vec<&str> = pairs.iter().filter(|(k, _)| k == "device").map(|(_, v)| v.as_str()).collect();
    if image.is_empty() || devices.is_empty() {
        return Err(fail(ApiError::bad("choose an image and at least one of the devices it fits").at("image")));
    }
    request.assign = Some(serde_json::json!([{"image": image, "devices": devices}]));
    // The assignment is checked now, so a device the image does not fit is said on this step.
    let loaded = request.load(&app).map_err(&fail)?;
    let s = &loaded.scenario;
    let current = context! {
        max_batch_size => s.max_batch_size, canary => s.canary, pause => s.pause.as_str(),
        on_failure => format!("{:?}", s.on_failure).to_lowercase(),
        approval => if s.approval == crate::scenario::settings::Approval::OtherUser { "other-user" } else { "any" },
        abort => s.abort_on_health_check_failure,
        bgp_peers_down_max => s.health_limits.bgp_peers_down_max, alarms_max => s.health_limits.alarms_max,
        interface_errors_max => s.health_limits.interface_errors_max,
        re_cpu_idle_min_percent => s.health_limits.re_cpu_idle_min_percent,
        window => s.window.as_ref().map(|w| w.describe()),
    };
    Ok(render(
        &app,
        Some(&who),
        "parameters.html",
        context! {
            fabric => fabric, request => request_json(&request), current => current,
            targets => api::selection(s).0, skipped => api::selection(s).1,
        },
    ))
}

/// The parameters of the parameters form, into the request.
fn read_parameters(pairs: &[(String, String)], request: &mut PlanRequest) -> Result<(), ApiError> {
    let number = |key: &str| -> Result<Option<u64>, ApiError> {
        match field(pairs, key).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad(format!("{key} must be a whole number, not {v:?}")).at(format!("parameters.{key}"))
            }),
        }
    };
    let p = &mut request.parameters;
    if let Some(n) = number("max_batch_size")? {
        p.insert("max_batch_size".into(), n.into());
    }
    if let Some(n) = number("canary")? {
        p.insert("canary".into(), n.into());
    }
    for key in ["pause", "on_failure", "approval"] {
        if let Some(v) = field(pairs, key).filter(|v| !v.is_empty()) {
            p.insert(key.into(), v.into());
        }
    }
    p.insert("abort_on_health_check_failure".into(), field(pairs, "abort").is_some().into());
    let mut checks = serde_json::Map::new();
    for key in ["bgp_peers_down_max", "alarms_max", "interface_errors_max", "re_cpu_idle_min_percent"] {
        if let Some(n) = number(key)? {
            checks.insert(key.into(), n.into());
        }
    }
    if !checks.is_empty() {
        p.insert("health_checks".into(), checks.into());
    }
    let (start, end) =
        (field(pairs, "window_start").unwrap_or("").trim(), field(pairs, "window_end").unwrap_or("").trim());
    if !start.is_empty() || !end.is_empty() {
        let mut window = serde_json::json!({"start": start, "end": end});
        if let Some(zone) = field(pairs, "window_timezone").map(str::trim).filter(|z| !z.is_empty()) {
            window["timezone"] = zone.into();
        }
        p.insert("window".into(), window);
    }
    request.allow_loss = field(pairs, "allow_loss").is_some();
    Ok(())
}

async fn test_run_step(
    State(app): State<Shared>,
    PageUser(who): PageUser,
    UrlPath(fabric): UrlPath<String>,
    body: axum::body::Bytes,
) -> Page {
    let pairs = admitted(&app, &who, &body, Role::Operator, "a test run")?;
    let fail = fail(&app, &who);
    let mut request = carried(&pairs, &fabric).map_err(&fail)?;
    if field(&pairs, "from") == Some("parameters") {
        read_parameters(&pairs, &mut request).map_err(&fail)?;
    }
    let job = JobRequest { mode: Mode::TestRun, plan: request.clone(), driver: DriverName::Default, speed: None };
    let rows = match api::run_job_request(&app, &who, job).await.map_err(&fail)? {
        JobAnswer::TestRun(answer) => answer.rows,
        JobAnswer::Started(_) => Vec::new(),
    };
    let rows: Vec<minijinja::Value> = rows
        .iter()
        .map(|r| context! {
            device => r.device.clone(), running => r.running.clone(), target => r.target.clone(),
            action => r.action.to_string(), problems => r.problems.clone(), notes => r.notes.clone(), simulated => r.simulated,
        })
        .collect();
    let failing = rows.iter().filter(|r| r.get_attr("problems").ok().and_then(|p| p.len()).unwrap_or(0) > 0).count();
    Ok(render(
        &app,
        Some(&who),
        "test_run.html",
        context! { fabric => fabric, request => request_json(&request), rows => rows, failing => failing },
    ))
}

async fn plan_step(
    State(app): State<Shared>,
    PageUser(who): PageUser,
    UrlPath(fabric): UrlPath<String>,
    body: axum::body::Bytes,
) -> Page {
    let fail = fail(&app, &who);
    let pairs = checked_form(&who, &body).map_err(&fail)?;
    let request = carried(&pairs, &fabric).map_err(&fail)?;
    let answer = api::plan(&app, &request).await.map_err(&fail)?;
    let sim = &answer.simulation;
    let batches: Vec<minijinja::Value> = sim
        .batches
        .iter()
        .map(|b| {
            context! {
                index => b.index, role => b.role.to_string(), devices => b.devices.clone(),
                start => format!("{:.0}", b.start_seconds), end => format!("{:.0}", b.end_seconds),
                minutes => format!("{:.1}", (b.end_seconds - b.start_seconds) / 60.0),
                exposed => b.flows_losing_when_down,
            }
        })
        .collect();
    let worst: Vec<minijinja::Value> = sim
        .flows_with_loss
        .iter()
        .take(10)
        .map(|f| {
            context! { src => f.src.clone(), dst => f.dst.clone(), lost => format!("{:.0}", f.lost_bytes),
            cause => f.cause.as_ref().map(|c| c.device.clone()) }
        })
        .collect();
    Ok(render(
        &app,
        Some(&who),
        "plan.html",
        context! {
            fabric => fabric, request => request_json(&request), hitless => answer.hitless, may_start => answer.may_start,
            batches => batches, worst => worst, warnings => answer.warnings, skipped => answer.skipped,
            flows => sim.flow_count, losing => sim.flows_with_loss_count, total_minutes => format!("{:.1}", sim.simulated_seconds / 60.0),
        },
    ))
}

async fn plan_report(
    State(app): State<Shared>,
    PageUser(who): PageUser,
    UrlPath(fabric): UrlPath<String>,
    body: axum::body::Bytes,
) -> Page {
    let fail = fail(&app, &who);
    let pairs = checked_form(&who, &body).map_err(&fail)?;
    let request = carried(&pairs, &fabric).map_err(&fail)?;
    api::plan_report_page(&app, &request).await.map_err(&fail)
}

async fn start_step(
    State(app): State<Shared>,
    PageUser(who): PageUser,
    UrlPath(fabric): UrlPath<String>,
    body: axum::body::Bytes,
) -> Page {
    let pairs = admitted(&app, &who, &body, Role::Operator, "starting an upgrade")?;
    let fail = fail(&app, &who);
    let request = carried(&pairs, &fabric).map_err(&fail)?;
    let speed = match field(&pairs, "speed").map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<f64>().map_err(|_| fail(ApiError::bad(format!("speed {s:?} is not a number")).at("speed")))?,
        ),
    };
    let job = JobRequest { mode: Mode::Upgrade, plan: request, driver: DriverName::Default, speed };
    match api::run_job_request(&app, &who, job).await.map_err(&fail)? {
        JobAnswer::Started(started) => Ok(Redirect::to(&format!("/jobs/{}", url_encode(&started.job))).into_response()),
        JobAnswer::TestRun(_) => Err(fail(ApiError::bad("not an upgrade"))),
    }
}

// Jobs.

async fn jobs(State(app): State<Shared>, PageUser(who): PageUser) -> Page {
    let jobs: Vec<JobReport> =
        app.service.jobs().map_err(|e| fail(&app, &who)(e.into()))?.iter().rev().map(JobReport::from).collect();
    Ok(render(&app, Some(&who), "jobs.html", context! { jobs => jobs }))
}

async fn job(State(app): State<Shared>, PageUser(who): PageUser, UrlPath(id): UrlPath<String>) -> Page {
    let detail = api::job_detail(&app, &id).map_err(fail(&app, &who))?;
    let last = app.service.events_after(&id, 0, i64::MAX).map_err(|e| fail(&app, &who)(e.into()))?;
    let last_seq = last.last().map_or(0, |e| e.seq);
    let notes: Vec<String> =
        last.iter().filter(|e| e.device.is_empty()).rev().take(5).map(|e| e.message.clone()).collect();
    Ok(render(&app, Some(&who), "job.html", context! { detail => detail, last_seq => last_seq, notes => notes }))
}

async fn act(
    State(app): State<Shared>,
    PageUser(who): PageUser,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
    action: Action,
) -> Page {
    let fail = fail(&app, &who);
    checked_form(&who, &body).map_err(&fail)?;
    api::act(&app, &who, &id, action).await.map_err(&fail)?;
    Ok(Redirect::to(&format!("/jobs/{}", url_encode(&id))).into_response())
}

async fn logs(
    State(app): State<Shared>,
    PageUser(who): PageUser,
    UrlPath((id, device)): UrlPath<(String, String)>,
) -> Page {
    let events = api::device_events(&app, &id, &device).map_err(fail(&app, &who))?;
    Ok(render(&app, Some(&who), "logs.html", context! { job => id, device => device, events => events }))
}

async fn report(
    State(app): State<Shared>,
    PageUser(who): PageUser,
    UrlPath(id): UrlPath<String>,
    _headers: HeaderMap,
) -> Page {
    api::report_page(&app, &id).map_err(fail(&app, &who))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_of_this_site_are_followed_after_signing_in() {
        for (given, kept) in [
            ("/fabrics/canary?x=1", "/fabrics/canary?x=1"),
            ("//evil.example/", "/jobs"),
            ("/\\evil.example/", "/jobs"),
            ("/\t/evil.example/", "/jobs"),
            ("/\n/evil.example/", "/jobs"),
            ("/ /evil.example/", "/jobs"),
            ("https://evil.example/", "/jobs"),
            ("", "/jobs"),
        ] {
            assert_eq!(safe_next(Some(given)), kept, "{given:?}");
        }
        assert_eq!(safe_next(None), "/jobs");
    }
}
