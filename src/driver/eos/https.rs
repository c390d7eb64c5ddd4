//! eAPI over HTTPS: `POST /command-api` with HTTP Basic authentication, one connection per
//! request. The switch's certificate is verified before the password is sent: against a CA the
//! operator names, or against the certificate pinned for its address in a `known_certs` file
//! (`host:port SHA256HEX` per line, as known_hosts is for SSH host keys): an unknown
//! certificate is refused unless trust on first use records it, a changed one always.
//! Images go by SCP over SSH (the Junos driver's connector), to `/mnt/flash`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::Value;

use super::driver::{Eapi, FLASH_DIRECTORY, TransportError};
use crate::driver::junos::Connector as _;

/// Bytes of a reply read at most (a `show running-config` of a large switch fits many times).
const REPLY_LIMIT: usize = 64 * 1024 * 1024;

/// A password, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

/// How to reach EOS switches.
#[derive(Clone)]
pub struct HttpsSettings {
    /// Device name to `host:port` (443 when no port is given).
    pub addresses: BTreeMap<String, String>,
    /// Login name.
    pub user: String,
    /// Password (HTTP Basic; eAPI has no keys).
    pub password: String,
    /// Pinned certificates.
    pub known_certs: PathBuf,
    /// Record the certificate of an address not yet pinned.
    pub trust_on_first_use: bool,
    /// Verify certificates against this CA (PEM) instead of pins.
    pub ca: Option<PathBuf>,
    /// How long a switch has to accept the connection and finish the handshake.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for HttpsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsSettings")
            .field("addresses", &self.addresses)
            .field("user", &self.user)
            .field("password", &"(hidden)")
            .field("known_certs", &self.known_certs)
            .field("trust_on_first_use", &self.trust_on_first_use)
            .field("ca", &self.ca)
            .finish()
    }
}

/// eAPI over HTTPS, with SCP for images.
pub struct HttpsEapi {
    settings: HttpsSettings,
    /// SCP for images (the Junos driver's SSH connector); `None`: images cannot be copied.
    scp: Option<crate::driver::ssh::SshConnector>,
    /// Serialises reading and appending the pins file.
    pins: Arc<Mutex<()>>,
}

impl HttpsEapi {
    /// A transport with these settings; `scp` copies images.
    pub fn new(settings: HttpsSettings, scp: Option<crate::driver::ssh::SshConnector>) -> HttpsEapi {
        HttpsEapi { settings, scp, pins: Arc::new(Mutex::new(())) }
    }

    fn address(&self, device: &str) -> Result<(String, u16), TransportError> {
        let address = self.settings.addresses.get(device).ok_or_else(|| {
            TransportError::Refused(format!("no eAPI address for {device}: give it `address:` in the scenario"))
        })?;
        Ok(split_address(address))
    }

    async fn tls(&self, host: &str, port: u16) -> Result<tokio_rustls::TlsConnector, TransportError> {
        let provider = crate::util::tls_provider();
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::Refused(e.to_string()))?;
        let config = match &self.settings.ca {
            Some(ca) => {
                use rustls::pki_types::pem::PemObject;
                let mut roots = rustls::RootCertStore::empty();
                let certificates = CertificateDer::pem_file_iter(ca)
                    .map_err(|e| TransportError::Refused(format!("the CA file {}: {e}", ca.display())))?;
                for certificate in certificates {
                    let certificate = certificate
                        .map_err(|e| TransportError::Refused(format!("the CA file {}: {e}", ca.display())))?;
                    roots
                        .add(certificate)
                        .map_err(|e| TransportError::Refused(format!("the CA file {}: {e}", ca.display())))?;
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            None => {
                let verifier = Pinned {
                    key: format!("{host}:{port}"),
                    file: self.settings.known_certs.clone(),
                    trust_on_first_use: self.settings.trust_on_first_use,
                    provider,
                    lock: Arc::clone(&self.pins),
                };
                builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier)).with_no_client_auth()
            }
        };
        Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
    }
}

/// `host:port`, `[v6]:port` or `host` (443).
fn split_address(address: &str) -> (String, u16) {
    if let Some(rest) = address.strip_prefix('[')
        && let Some((host, tail)) = rest.split_once(']')
    {
        return (host.to_string(), tail.strip_prefix(':').and_then(|p| p.parse().ok()).unwrap_or(443));
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host.to_string(), port.parse().unwrap_or(443)),
        _ => (address.to_string(), 443),
    }
}

/// SHA-256 of a DER certificate, lower-case hex: what is pinned.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    crate::util::hex(&sha2::Sha256::digest(der))
}

/// The pins file's entry for `key`, if any.
fn pinned(file: &std::path::Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let (address, sum) = line.split_once(' ')?;
        (address == key).then(|| sum.trim().to_string())
    })
}

/// Verifies a switch's certificate against its pin (or records it on first use), and the
/// handshake's signatures as rustls does.
#[derive(Debug)]
struct Pinned {
    key: String,
    file: PathBuf,
    trust_on_first_use: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
    lock: Arc<Mutex<()>>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = fingerprint(end_entity);
        let _guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match pinned(&self.file, &self.key) {
            Some(pin) if pin == seen => Ok(ServerCertVerified::assertion()),
            Some(pin) => Err(rustls::Error::General(format!(
                "the eAPI certificate of {} changed (pinned SHA-256 {pin}, presented {seen}): if the switch's certificate was replaced on purpose, remove its line from {}",
                self.key,
                self.file.display()
            ))),
            None if self.trust_on_first_use => {
                use std::io::Write;
                let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.file).map_err(|e| {
                    rustls::Error::General(format!("cannot record the pin in {}: {e}", self.file.display()))
                })?;
                writeln!(file, "{} {seen}", self.key).map_err(|e| {
                    rustls::Error::General(format!("cannot record the pin in {}: {e}", self.file.display()))
                })?;
                tracing::info!(address = %self.key, fingerprint = %seen, "pinned an eAPI certificate on first use");
                Ok(ServerCertVerified::assertion())
            }
            None => Err(rustls::Error::General(format!(
                "the eAPI certificate of {} (SHA-256 {seen}) is not pinned in {}: check it and rerun with --trust-on-first-use, or add the line `{} {seen}`",
                self.key,
                self.file.display(),
                self.key
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a TLS handshake failed, told as refused (our verifier, a certificate problem) or as
/// unreachable (the connection itself).
fn handshake_error(error: std::io::Error) -> TransportError {
    let text = error.to_string();
    match error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::General(message)) => TransportError::Refused(message.clone()),
        Some(rustls::Error::InvalidCertificate(why)) => {
            TransportError::Refused(format!("the switch's certificate does not verify: {why:?}"))
        }
        _ => TransportError::Unreachable(format!("TLS handshake: {text}")),
    }
}

impl Eapi for HttpsEapi {
    async fn post(&self, device: &str, body: Value) -> Result<Value, TransportError> {
        use base64::Engine as _;
        let (host, port) = self.address(device)?;
        let connector = self.tls(&host, port).await?;
        let wait = self.settings.connect_timeout;
        let tcp = tokio::time::timeout(wait, tokio::net::TcpStream::connect((host.as_str(), port)))
            .await
            .map_err(|_| TransportError::Timeout(wait.as_secs()))?
            .map_err(|e| TransportError::Unreachable(format!("{host}:{port}: {e}")))?;
        let name = ServerName::try_from(host.clone())
            .map_err(|e| TransportError::Refused(format!("{host} is not a host name: {e}")))?;
        let tls = tokio::time::timeout(wait, connector.connect(name, tcp))
            .await
            .map_err(|_| TransportError::Timeout(wait.as_secs()))?
            .map_err(handshake_error)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| TransportError::Unreachable(e.to_string()))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.settings.user, self.settings.password));
        let bytes = serde_json::to_vec(&body).map_err(|e| TransportError::Refused(e.to_string()))?;
        let request = hyper::Request::post("/command-api")
            .header(hyper::header::HOST, format!("{host}:{port}"))
            .header(hyper::header::CONTENT_TYPE, "application/json-rpc")
            .header(hyper::header::AUTHORIZATION, format!("Basic {credentials}"))
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| TransportError::Refused(e.to_string()))?;
        let response = sender.send_request(request).await.map_err(|e| TransportError::Unreachable(e.to_string()))?;
        let status = response.status();
        if status == hyper::StatusCode::UNAUTHORIZED {
            return Err(TransportError::Refused(format!(
                "eAPI refused the login of {} (HTTP 401): check the user and password",
                self.settings.user
            )));
        }
        let body = Limited::new(response.into_body(), REPLY_LIMIT)
            .collect()
            .await
            .map_err(|e| TransportError::Unreachable(format!("reading the reply: {e}")))?
            .to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).to_string();
            return Err(TransportError::Refused(format!("eAPI answered HTTP {status}: {text}")));
        }
        serde_json::from_slice(&body).map_err(|e| TransportError::Refused(format!("the eAPI reply is not JSON: {e}")))
    }

    async fn upload(&self, device: &str, local: &std::path::Path, name: &str) -> std::io::Result<()> {
        let Some(scp) = &self.scp else {
            return Err(std::io::Error::other(format!(
                "{device}: images go to EOS switches by SCP, and no SSH credentials were given"
            )));
        };
        scp.upload(device, local, FLASH_DIRECTORY, name).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_default_to_port_443() {
        assert_eq!(super::split_address("10.0.0.1"), ("10.0.0.1".into(), 443));
        assert_eq!(super::split_address("leaf1.dc:8443"), ("leaf1.dc".into(), 8443));
        assert_eq!(super::split_address("[::1]:9443"), ("::1".into(), 9443));
    }
}
