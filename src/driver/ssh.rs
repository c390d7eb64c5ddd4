//! NETCONF over SSH to real switches (or the lab): the [`Connector`] the Junos driver uses.
//!
//! Host keys are verified against a known_hosts file; an unknown key is refused unless the
//! operator opted into trust-on-first-use, which records it; a changed key is always refused.
//! Authentication by password (given by the caller from an environment variable or a prompt,
//! never from a scenario, never logged) or by a private key file.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use russh::client;
use russh::keys::PublicKeyOrCertificate;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::junos::Connector;

/// How to log in.
#[derive(Clone)]
pub enum SshAuth {
    /// A password.
    Password(String),
    /// A private key file (unencrypted).
    Key(PathBuf),
}

impl std::fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SshAuth::Password(_) => f.write_str("Password(<hidden>)"),
            SshAuth::Key(path) => write!(f, "Key({})", path.display()),
        }
    }
}

/// SSH settings for reaching devices.
#[derive(Clone, Debug)]
pub struct SshSettings {
    /// `host:port` of each device's NETCONF service.
    pub addresses: BTreeMap<String, String>,
    /// User name.
    pub user: String,
    /// Credentials.
    pub auth: SshAuth,
    /// The known_hosts file.
    pub known_hosts: PathBuf,
    /// Record unknown host keys instead of refusing them.
    pub trust_on_first_use: bool,
    /// TCP connect plus SSH handshake.
    pub connect_timeout: Duration,
}

/// A byte stream SSH can run over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Opens the TCP connection under SSH: `(host, port)` to a stream. The default uses tokio's TCP;
/// deterministic tests pass a simulated network's.
pub type Dialer =
    Arc<dyn Fn(String, u16) -> Pin<Box<dyn Future<Output = std::io::Result<Box<dyn Io>>> + Send>> + Send + Sync>;

/// Opens `netconf` subsystem channels over SSH.
pub struct SshConnector {
    settings: SshSettings,
    config: Arc<client::Config>,
    dialer: Dialer,
}

impl SshConnector {
    /// A connector with these settings, over TCP.
    pub fn new(settings: SshSettings) -> SshConnector {
        let dialer: Dialer = Arc::new(|host: String, port: u16| {
            Box::pin(async move {
                let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream) as Box<dyn Io>)
            })
        });
        SshConnector::with_dialer(settings, dialer)
    }

    /// A connector that opens its connections with `dialer`.
    pub fn with_dialer(settings: SshSettings, dialer: Dialer) -> SshConnector {
        SshConnector { settings, config: Arc::new(client_config(KEEPALIVE_INTERVAL)), dialer }
    }

    /// The same connector with keepalives every `interval` instead of every 30 s.
    pub fn with_keepalive(mut self, interval: Duration) -> SshConnector {
        self.config = Arc::new(client_config(interval));
        self
    }
}

/// How often an idle session asks the device whether it is still there. A package install sends
/// nothing for up to 45 minutes; keepalives keep such a session open on both sides (the device's
/// inactivity timer sees them), and the RPC's own deadline still bounds the wait.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// Unanswered keepalives before a session is given up: a device that vanished is noticed within
/// a few intervals.
pub const KEEPALIVE_MAX: usize = 3;

fn client_config(keepalive: Duration) -> client::Config {
    client::Config {
        // No inactivity cut of our own: keepalives prove the device is there, and every RPC has
        // a deadline sized to its job.
        inactivity_timeout: None,
        keepalive_interval: Some(keepalive),
        keepalive_max: KEEPALIVE_MAX,
        ..Default::default()
    }
}

struct HostCheck {
    host: String,
    port: u16,
    known_hosts: PathBuf,
    trust_on_first_use: bool,
    refusal: Arc<Mutex<Option<String>>>,
}

impl client::Handler for HostCheck {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            *self.refusal.lock().expect("not poisoned") = Some("host certificates are not supported".into());
            return Ok(false);
        };
        let refuse = |why: String| {
            *self.refusal.lock().expect("not poisoned") = Some(why);
            Ok(false)
        };
        match russh::keys::check_known_hosts_path(&self.host, self.port, key, &self.known_hosts) {
            Ok(true) => Ok(true),
            Ok(false) if self.trust_on_first_use => {
                match russh::keys::known_hosts::learn_known_hosts_path(&self.host, self.port, key, &self.known_hosts) {
                    Ok(()) => Ok(true),
                    Err(e) => refuse(format!("cannot record the host key in {}: {e}", self.known_hosts.display())),
                }
            }
            Ok(false) => refuse(format!(
                "unknown host key for {}:{} (not in {}); check it and add it, or pass --trust-on-first-use",
                self.host,
                self.port,
                self.known_hosts.display()
            )),
            Err(russh::keys::Error::KeyChanged { line }) => refuse(format!(
                "HOST KEY CHANGED for {}:{} (known_hosts line {line}): refusing to connect",
                self.host, self.port
            )),
            Err(e) => refuse(format!("cannot read {}: {e}", self.known_hosts.display())),
        }
    }
}

/// A `netconf` channel, keeping its SSH connection alive.
pub struct SshStream {
    stream: russh::ChannelStream<client::Msg>,
    _connection: client::Handle<HostCheck>,
}

impl AsyncRead for SshStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

fn other(message: String) -> std::io::Error {
    std::io::Error::other(message)
}

/// A refusal that waiting will not cure: a host key that does not match, a login refused, a
/// setting that cannot work. The driver fails the device with it at once.
fn refused(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, message)
}

impl Connector for SshConnector {
    type Stream = SshStream;

    async fn upload(&self, device: &str, local: &std::path::Path, directory: &str, name: &str) -> std::io::Result<()> {
        let handle = self.login(device).await?;
        let channel = handle.channel_open_session().await.map_err(|e| other(e.to_string()))?;
        channel
            .exec(true, format!("scp -t {directory}"))
            .await
            .map_err(|e| other(format!("scp refused by {device}: {e}")))?;
        let mut stream = SshStream { stream: channel.into_stream(), _connection: handle };
        super::scp::send(&mut stream, local, name).await
    }

    async fn connect(&self, device: &str) -> std::io::Result<SshStream> {
        let handle = self.login(device).await?;
        let channel = handle.channel_open_session().await.map_err(|e| other(e.to_string()))?;
        channel
            .request_subsystem(true, "netconf")
            .await
            .map_err(|e| other(format!("netconf subsystem refused by {device}: {e}")))?;
        Ok(SshStream { stream: channel.into_stream(), _connection: handle })
    }
}

impl SshConnector {
    /// Connects and logs in to `device`, verifying its host key.
    async fn login(&self, device: &str) -> std::io::Result<client::Handle<HostCheck>> {
        let address = self.settings.addresses.get(device).ok_or_else(|| {
            refused(format!("no management address for {device}: give it `address: host:port` in the scenario"))
        })?;
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| refused(format!("address {address} of {device} is not host:port")))?;
        let port: u16 = port.parse().map_err(|_| refused(format!("address {address} of {device} has a bad port")))?;
        let refusal = Arc::new(Mutex::new(None));
        let check = HostCheck {
            host: host.to_string(),
            port,
            known_hosts: self.settings.known_hosts.clone(),
            trust_on_first_use: self.settings.trust_on_first_use,
            refusal: Arc::clone(&refusal),
        };
        let timeout = self.settings.connect_timeout;
        let connect = async {
            let tcp = (self.dialer)(host.to_string(), port).await?;
            let mut handle = client::connect_stream(Arc::clone(&self.config), tcp, check).await.map_err(|e| {
                match refusal.lock().expect("not poisoned").take() {
                    Some(why) => refused(why),
                    None => other(format!("SSH handshake with {address} failed: {e}")),
                }
            })?;
            let authenticated = match &self.settings.auth {
                SshAuth::Password(password) => handle.authenticate_password(&self.settings.user, password).await,
                SshAuth::Key(path) => {
                    let key = russh::keys::load_secret_key(path, None)
                        .map_err(|e| refused(format!("cannot load key {}: {e}", path.display())))?;
                    let hash = handle.best_supported_rsa_hash().await.map_err(|e| other(e.to_string()))?.flatten();
                    let key = russh::keys::PrivateKeyWithHashAlg::new(Arc::new(key), hash);
                    handle.authenticate_publickey(&self.settings.user, key).await
                }
            }
            .map_err(|e| other(format!("SSH authentication with {address} failed: {e}")))?;
            if !authenticated.success() {
                return Err(refused(format!("SSH authentication as {} on {address} was refused", self.settings.user)));
            }
            Ok(handle)
        };
        tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| other(format!("connecting to {device} at {address} timed out")))?
    }
}
