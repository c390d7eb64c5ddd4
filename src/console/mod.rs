//! `hitless serve`: the console (server-rendered pages, the upgrade wizard, live jobs) and the
//! HTTP API under `/api/v1`, one process over the same state directory as the CLI. A front end
//! like the CLI: it authenticates, parses, renders and streams; the workflow decides.
//!
//! - [`auth`]: sessions (cookie, idle expiry, CSRF token) and API tokens; roles.
//! - [`fabrics`]: the scenarios of `--scenarios DIR`, by name.
//! - [`runner`]: jobs this process runs, each on its own thread and runtime.
//! - [`api`]: the JSON endpoints; [`events`]: the server-sent event streams.
//! - [`pages`]: the HTML pages, rendered from `templates/` with minijinja.
//!
//! A job started here is an ordinary job of the store: `hitless jobs`, `status`, `cancel` and
//! `resume` see it, and the job's lease decides which process runs it.

mod api;
mod auth;
mod error;
mod events;
mod fabrics;
mod openapi;
mod pages;
mod runner;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use error::ApiError;

use crate::workflow::drivers::JunosOptions;
use crate::workflow::service::Service;
use crate::workflow::upgrade::Caller;

/// How `hitless serve` was asked to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen (`--bind`, default 127.0.0.1:8080; port 0 picks one).
    pub bind: SocketAddr,
    /// The scenarios shown as fabrics (`--scenarios DIR`).
    pub scenarios: Option<PathBuf>,
    /// TLS certificate and key, PEM (`--tls-cert`, `--tls-key`).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Serve plain HTTP on an address other than loopback (`--insecure`): every page says so.
    pub insecure: bool,
    /// A session unused this long ends (seconds).
    pub session_idle_seconds: i64,
    /// How to reach Junos devices for jobs with `driver: junos`; None when the console was
    /// started without SSH credentials (such jobs are refused, with the reason).
    pub junos: Option<JunosOptions>,
    /// This host's name, for the journal (`alice on HOST`).
    pub host: String,
    /// The largest image upload accepted, bytes.
    pub max_upload_bytes: usize,
}

impl Config {
    /// The defaults for `bind` and `host`: loopback, sessions idle for an hour at most, uploads
    /// up to 8 GiB, no TLS, no Junos credentials.
    pub fn new(bind: SocketAddr, host: String) -> Config {
        Config {
            bind,
            scenarios: None,
            tls: None,
            insecure: false,
            session_idle_seconds: 3600,
            junos: None,
            host,
            max_upload_bytes: 8 << 30,
        }
    }

    /// True when pages must say the connection is not encrypted off this machine.
    fn plain_off_loopback(&self) -> bool {
        self.tls.is_none() && !self.bind.ip().is_loopback()
    }
}

/// Why the console could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Plain HTTP on an address other than loopback, without `--insecure`.
    #[error(
        "{bind} is not a loopback address: plain HTTP there would carry passwords and session cookies in clear; give --tls-cert FILE --tls-key FILE, or --insecure to serve plain HTTP anyway (every page then says so)"
    )]
    PlainOffLoopback {
        /// The address.
        bind: SocketAddr,
    },
    /// The certificate or key cannot be used.
    #[error("cannot use the TLS certificate {} and key {}: {source}", cert.display(), key.display())]
    Tls {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The address cannot be listened on.
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        /// The address.
        bind: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// `--scenarios` is not a readable directory.
    #[error("--scenarios {}: {source}", dir.display())]
    Scenarios {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed after it started.
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

/// What every request handler shares.
pub(crate) struct App {
    service: Arc<Service>,
    config: Config,
    caller: Caller,
    sessions: auth::Sessions,
    /// Password checks at once (Argon2 is slow on purpose: a flood of logins waits here instead
    /// of taking every core).
    logins: tokio::sync::Semaphore,
    runner: runner::Runner,
    templates: minijinja::Environment<'static>,
}

type Shared = Arc<App>;

/// Serves until `shutdown` completes; `ready` is told the address actually listened on (port 0
/// picks a free one) once connections are accepted.
pub async fn serve(
    service: Service,
    config: Config,
    caller: Caller,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    if config.tls.is_none() && !config.bind.ip().is_loopback() && !config.insecure {
        return Err(ServeError::PlainOffLoopback { bind: config.bind });
    }
    if let Some(dir) = &config.scenarios {
        std::fs::read_dir(dir).map_err(|source| ServeError::Scenarios { dir: dir.clone(), source })?;
    }
    let service = Arc::new(service);
    let app = Arc::new(App {
        runner: runner::Runner::new(Arc::clone(&service), caller.clone(), config.junos.clone()),
        service,
        sessions: auth::Sessions::default(),
        logins: tokio::sync::Semaphore::new(2),
        templates: pages::templates(),
        caller,
        config: config.clone(),
    });
    let router = router(Arc::clone(&app));
    match &config.tls {
        None => {
            let listener = tokio::net::TcpListener::bind(config.bind)
                .await
                .map_err(|source| ServeError::Bind { bind: config.bind, source })?;
            let local = listener.local_addr().map_err(|source| ServeError::Bind { bind: config.bind, source })?;
            tracing::info!(address = %local, "serving the console and the API over plain HTTP");
            ready(local);
            axum::serve(listener, router).with_graceful_shutdown(shutdown).await.map_err(ServeError::Serve)
        }
        Some((cert, key)) => {
            // ring, as for SSH (rustls marks it deprecated for want of post-quantum key exchange,
            // which only its aws-lc-rs provider has; that one needs a C build this project
            // avoids). Installing it twice (a second server in one process) is harmless.
            #[allow(deprecated)]
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|source| ServeError::Tls { cert: cert.clone(), key: key.clone(), source })?;
            let listener = std::net::TcpListener::bind(config.bind)
                .map_err(|source| ServeError::Bind { bind: config.bind, source })?;
            listener.set_nonblocking(true).map_err(|source| ServeError::Bind { bind: config.bind, source })?;
            let local = listener.local_addr().map_err(|source| ServeError::Bind { bind: config.bind, source })?;
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
            });
            tracing::info!(address = %local, "serving the console and the API over HTTPS");
            ready(local);
            axum_server::from_tcp_rustls(listener, tls)
                .map_err(ServeError::Serve)?
                .handle(handle)
                .serve(router.into_make_service())
                .await
                .map_err(ServeError::Serve)
        }
    }
}

fn router(app: Shared) -> Router {
    // Bodies are read whole up to axum's default limit (2 MB): forms and JSON. Only image
    // uploads, which are streamed to disk, may be larger.
    let upload = DefaultBodyLimit::max(app.config.max_upload_bytes);
    Router::new()
        .merge(pages::routes(upload))
        .nest("/api/v1", api::routes(upload))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(app)
}

/// Headers every answer carries: no framing by other sites, no sniffing, scripts and styles
/// only from this server, nothing cached that a session showed.
async fn security_headers(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::HeaderValue;
    use axum::http::header;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // A page that needs more (the job's report, with its own inline script) sets its own.
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
    ));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}
