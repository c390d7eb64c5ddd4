//! The lab's eAPI servers: one HTTPS listener per EOS device, `POST /command-api` with HTTP
//! Basic authentication, answering with [`super::eos::handle`]. The certificate is the lab's own
//! (made once with rcgen and kept in the state directory, so its fingerprint stays the one
//! clients pinned); a rebooting switch takes no connections, as a real one.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

use super::Lab;

/// Bytes of a request body the servers read; more is refused.
const BODY_LIMIT: usize = 1024 * 1024;

/// Who may call: the user name and password HTTP Basic must carry.
#[derive(Clone)]
pub struct EapiAuth {
    /// Login name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for EapiAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EapiAuth").field("user", &self.user).field("password", &"(hidden)").finish()
    }
}

/// The lab's certificate and key, and the certificate's SHA-256 fingerprint (hex, what clients
/// pin).
pub struct LabCertificate {
    /// DER.
    pub certificate: CertificateDer<'static>,
    /// The key, PEM as kept.
    key_pem: String,
    /// SHA-256 of the certificate, lower-case hex.
    pub fingerprint: String,
    /// The certificate as PEM (for clients that want a CA file).
    pub pem: String,
}

/// Why the certificate could not be had.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// Reading or writing its files.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// rcgen refused, or a kept file is not a certificate and key.
    #[error("the lab's eAPI certificate: {0}")]
    Invalid(String),
}

/// The certificate kept in `state_dir` (`lab-eapi-cert.pem`, `lab-eapi-key.pem`), made on first
/// use for `localhost` and 127.0.0.1.
pub fn certificate(state_dir: &Path) -> Result<LabCertificate, CertificateError> {
    let (cert_path, key_path) = (state_dir.join("lab-eapi-cert.pem"), state_dir.join("lab-eapi-key.pem"));
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| CertificateError::Io { path, source }
    };
    if !cert_path.exists() || !key_path.exists() {
        // A pair of which one half is gone is made again whole.
        let _ = std::fs::remove_file(&key_path);
        let made = make_certificate()?;
        std::fs::write(&cert_path, made.pem.as_bytes()).map_err(io(&cert_path))?;
        super::ssh::write_private(&key_path, made.key_pem.as_bytes()).map_err(io(&key_path))?;
        return Ok(made);
    }
    let pem = std::fs::read_to_string(&cert_path).map_err(io(&cert_path))?;
    let key = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
    from_pem(&pem, &key)
}

/// A fresh certificate, kept nowhere (tests).
pub fn make_certificate() -> Result<LabCertificate, CertificateError> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let made = rcgen::generate_simple_self_signed(names).map_err(|e| CertificateError::Invalid(e.to_string()))?;
    from_pem(&made.cert.pem(), &made.signing_key.serialize_pem())
}

fn from_pem(cert_pem: &str, key_pem: &str) -> Result<LabCertificate, CertificateError> {
    use rustls::pki_types::pem::PemObject;
    let invalid = |what: &str, e: rustls::pki_types::pem::Error| CertificateError::Invalid(format!("{what}: {e}"));
    let certificate = CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| invalid("certificate", e))?;
    // The key must read back as PKCS#8 before it is kept.
    PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| invalid("key", e))?;
    Ok(LabCertificate {
        fingerprint: fingerprint(&certificate),
        certificate,
        key_pem: key_pem.to_string(),
        pem: cert_pem.to_string(),
    })
}

pub use crate::driver::eos::https::fingerprint;

impl LabCertificate {
    /// The TLS settings of a server presenting this certificate.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, CertificateError> {
        let provider = crate::util::tls_provider();
        use rustls::pki_types::pem::PemObject;
        let key = PrivatePkcs8KeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| CertificateError::Invalid(format!("key: {e}")))?;
        let key = PrivateKeyDer::Pkcs8(key);
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| CertificateError::Invalid(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![self.certificate.clone()], key)
            .map_err(|e| CertificateError::Invalid(e.to_string()))?;
        Ok(Arc::new(config))
    }
}

/// Starts one eAPI server per device on the given addresses; returns the addresses bound (port
/// 0 picks a free port). The servers run until the runtime stops.
pub async fn start(
    lab: Arc<Lab>,
    listen: BTreeMap<String, SocketAddr>,
    tls: Arc<rustls::ServerConfig>,
    auth: EapiAuth,
) -> std::io::Result<BTreeMap<String, SocketAddr>> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let total = Arc::new(tokio::sync::Semaphore::new(lab.connections_total));
    let mut bound = BTreeMap::new();
    for (device, address) in listen {
        let listener = TcpListener::bind(address).await?;
        bound.insert(device.clone(), listener.local_addr()?);
        let (lab, acceptor, auth, total) = (Arc::clone(&lab), acceptor.clone(), auth.clone(), Arc::clone(&total));
        let own = Arc::new(tokio::sync::Semaphore::new(lab.connections_per_device));
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                if !lab.accepts(&device) {
                    drop(socket); // Reloading or dead: nobody answers (a hung switch takes it).
                    continue;
                }
                let places = (Arc::clone(&own).try_acquire_owned(), Arc::clone(&total).try_acquire_owned());
                let (Ok(mine), Ok(lab_wide)) = places else {
                    tracing::warn!(device, "too many eAPI connections: one closed at once");
                    continue;
                };
                let (lab, device, acceptor, auth) = (Arc::clone(&lab), device.clone(), acceptor.clone(), auth.clone());
                tokio::spawn(async move {
                    serve_connection(lab, device, acceptor, auth, socket).await;
                    drop((mine, lab_wide));
                });
            }
        });
    }
    Ok(bound)
}

async fn serve_connection(
    lab: Arc<Lab>,
    device: String,
    acceptor: tokio_rustls::TlsAcceptor,
    auth: EapiAuth,
    socket: tokio::net::TcpStream,
) {
    let grace = lab.pre_login_timeout;
    let Ok(Ok(stream)) = tokio::time::timeout(grace, acceptor.accept(socket)).await else { return };
    let service = hyper::service::service_fn(move |request| {
        let (lab, device, auth) = (Arc::clone(&lab), device.clone(), auth.clone());
        // An error from the service makes hyper drop the connection without a reply.
        async move { answer(&lab, &device, &auth, request).await.ok_or_else(|| std::io::Error::other("reply lost")) }
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3600), connection).await;
}

fn reply(status: StatusCode, body: impl Into<Bytes>, content_type: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// True when the request's `Authorization: Basic` names `auth`'s user and password.
fn authorized(request: &Request<Incoming>, auth: &EapiAuth) -> bool {
    use base64::Engine as _;
    let Some(value) = request.headers().get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else { return false };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
    let Ok(text) = String::from_utf8(decoded) else { return false };
    text.split_once(':').is_some_and(|(user, password)| user == auth.user && password == auth.password)
}

/// The response to `request`; `None` when the connection is to drop without one.
async fn answer(lab: &Lab, device: &str, auth: &EapiAuth, request: Request<Incoming>) -> Option<Response<Full<Bytes>>> {
    Some(match respond(lab, device, auth, request).await {
        Ok(response) => response,
        Err(Lost) => return None,
    })
}

/// The reply to a request was lost on the way (the `ssh-drop` fault).
struct Lost;

async fn respond(
    lab: &Lab,
    device: &str,
    auth: &EapiAuth,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Lost> {
    if request.uri().path() != "/command-api" {
        return Ok(reply(StatusCode::NOT_FOUND, "Not Found", "text/plain"));
    }
    if request.method() != hyper::Method::POST {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "POST only", "text/plain"));
    }
    if !authorized(&request, auth) {
        let mut response = reply(
            StatusCode::UNAUTHORIZED,
            "Unable to authenticate user: Bad username/password combination",
            "text/plain",
        );
        if let Ok(value) = "Basic realm=\"eAPI\"".parse() {
            response.headers_mut().insert(hyper::header::WWW_AUTHENTICATE, value);
        }
        return Ok(response);
    }
    lab.count_login(device);
    let body = match Limited::new(request.into_body(), BODY_LIMIT).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(reply(StatusCode::PAYLOAD_TOO_LARGE, "request too large", "text/plain")),
    };
    let value = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(value) => value,
        Err(error) => {
            serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("Parse error: {error}")}})
        }
    };
    match super::eos::answer(lab, device, &value) {
        super::eos::Outcome::Reply(answer) => {
            Ok(reply(StatusCode::OK, serde_json::to_vec(&answer).unwrap_or_default(), "application/json"))
        }
        // A hung switch holds the connection and says nothing, for good.
        super::eos::Outcome::Hang => std::future::pending().await,
        super::eos::Outcome::Dropped => Err(Lost),
    }
}
