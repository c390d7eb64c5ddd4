//! The lab over SSH: one russh server per emulated device on 127.0.0.1, offering the `netconf`
//! subsystem (and the `netconf` exec that Junos also accepts). Password authentication with the
//! operator's lab password, or public keys listed for the lab. While a device reboots its server
//! refuses every connection, as a rebooting switch does.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, Msg, Session};
use russh::{Channel, ChannelId};
use tokio::net::TcpListener;

use super::{Lab, server};

/// Who may log in to the lab's devices.
#[derive(Clone)]
pub struct LabAuth {
    /// The accepted password (never logged).
    pub password: Option<String>,
    /// Accepted public keys.
    pub keys: Vec<PublicKey>,
}

/// Why the lab's host key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    /// The stored key cannot be read or is not an OpenSSH private key.
    #[error("cannot load the lab's host key {}: {source}", path.display())]
    Load {
        /// The key file.
        path: std::path::PathBuf,
        /// Why.
        source: russh::keys::Error,
    },
    /// A new key cannot be made or written.
    #[error("cannot create the lab's host key {}: {reason}", path.display())]
    Create {
        /// The key file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

/// Why a public key for the lab cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("authorized key {}: {reason}", path.display())]
pub struct AuthorizedKeyError {
    /// The key file.
    pub path: std::path::PathBuf,
    /// Why.
    pub reason: String,
}

/// Reads an OpenSSH public key (`ssh-ed25519 AAAA... comment`) that may log in to the lab.
pub fn authorized_key(path: &Path) -> Result<PublicKey, AuthorizedKeyError> {
    let error = |reason: String| AuthorizedKeyError { path: path.to_path_buf(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot be read: {e}")))?;
    PublicKey::from_openssh(text.trim()).map_err(|e| error(format!("is not an OpenSSH public key: {e}")))
}

/// Loads the lab's host key from `path`, creating it (Ed25519) on first use, so known_hosts
/// entries stay valid across lab restarts.
pub fn host_key(path: &Path) -> Result<PrivateKey, HostKeyError> {
    if path.exists() {
        return russh::keys::load_secret_key(path, None)
            .map_err(|source| HostKeyError::Load { path: path.to_path_buf(), source });
    }
    let create = |reason: String| HostKeyError::Create { path: path.to_path_buf(), reason };
    let key =
        PrivateKey::random(&mut rand::rng(), russh::keys::Algorithm::Ed25519).map_err(|e| create(e.to_string()))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| create(e.to_string()))?;
    }
    let text = key.to_openssh(russh::keys::ssh_key::LineEnding::LF).map_err(|e| create(e.to_string()))?;
    write_private(path, text.as_bytes()).map_err(|e| create(e.to_string()))?;
    Ok(key)
}

/// Writes a new file only its owner may read (a private key); fails if it exists.
#[cfg(unix)]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

/// Writes a new file (a private key).
#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Starts one SSH server per device on the given addresses; returns the addresses bound (port 0
/// picks a free port). The servers run until the runtime stops.
pub async fn start(
    lab: Arc<Lab>,
    listen: BTreeMap<String, SocketAddr>,
    host_key: PrivateKey,
    auth: LabAuth,
) -> std::io::Result<BTreeMap<String, SocketAddr>> {
    let config = server_config(host_key, lab.ssh_idle_timeout);
    let total = Arc::new(tokio::sync::Semaphore::new(lab.connections_total));
    let mut bound = BTreeMap::new();
    for (device, address) in listen {
        let listener = TcpListener::bind(address).await?;
        bound.insert(device.clone(), listener.local_addr()?);
        let (lab, config, auth, total) = (Arc::clone(&lab), Arc::clone(&config), auth.clone(), Arc::clone(&total));
        let own = Arc::new(tokio::sync::Semaphore::new(lab.connections_per_device));
        tokio::spawn(async move {
            // Bounded by the process's life; each connection is its own task, holding a place
            // among the device's and the lab's connections until it ends.
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                if !lab.accepts(&device) {
                    drop(socket); // Rebooting: nobody answers.
                    continue;
                }
                let places = (Arc::clone(&own).try_acquire_owned(), Arc::clone(&total).try_acquire_owned());
                let (Ok(mine), Ok(lab_wide)) = places else {
                    tracing::warn!(device, "too many connections: one closed at once");
                    drop(socket);
                    continue;
                };
                let (lab, device, config, auth) = (Arc::clone(&lab), device.clone(), Arc::clone(&config), auth.clone());
                tokio::spawn(async move {
                    serve_connection(lab, &device, config, auth, socket).await;
                    drop((mine, lab_wide));
                });
            }
        });
    }
    Ok(bound)
}

/// The SSH server settings the lab uses: sessions idle for `idle` are closed.
pub fn server_config(host_key: PrivateKey, idle: std::time::Duration) -> Arc<russh::server::Config> {
    Arc::new(russh::server::Config {
        keys: vec![host_key],
        auth_rejection_time: std::time::Duration::from_millis(200),
        auth_rejection_time_initial: Some(std::time::Duration::ZERO),
        inactivity_timeout: Some(idle),
        ..Default::default()
    })
}

/// Serves one SSH connection to `device` over any byte stream (a TCP socket, or a simulated
/// network's stream in deterministic tests) until the client leaves.
pub async fn serve_connection<S>(
    lab: Arc<Lab>,
    device: &str,
    config: Arc<russh::server::Config>,
    auth: LabAuth,
    stream: S,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if !lab.accepts(device) {
        return; // Rebooting: nobody answers.
    }
    let logged_in = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let grace = lab.pre_login_timeout;
    let handler = DeviceSsh {
        lab,
        device: device.to_string(),
        auth,
        channels: HashMap::new(),
        logged_in: Arc::clone(&logged_in),
    };
    // A connection that has not logged in when the grace time is up is closed, whether it is
    // still to say hello, to exchange keys (a client that sent only its banner) or to give a
    // password. russh runs the session on a task of its own that dropping its handle does not
    // stop, so the stream itself is cut: the task reads end of file and the socket closes.
    let (stream, cut) = Cuttable::new(stream);
    let grace = tokio::time::sleep(grace);
    tokio::pin!(grace);
    let started = tokio::select! {
        started = russh::server::run_stream(config, stream, handler) => started,
        _ = &mut grace => return,
    };
    let Ok(session) = started else { return };
    tokio::pin!(session);
    tokio::select! {
        _ = &mut session => return,
        _ = &mut grace => {}
    }
    if logged_in.load(std::sync::atomic::Ordering::SeqCst) {
        let _ = session.await;
    } else {
        cut.cut();
        let _ = session.await;
    }
}

/// A stream that can be cut from outside: once cut, reads end (end of file) and writes fail, so
/// whatever task owns it finishes and drops it.
struct Cuttable<S> {
    inner: S,
    cut: Arc<CutSwitch>,
}

#[derive(Default)]
struct CutSwitch {
    done: std::sync::atomic::AtomicBool,
    waker: std::sync::Mutex<Option<std::task::Waker>>,
}

impl CutSwitch {
    fn cut(&self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(waker) = self.waker.lock().expect("not poisoned").take() {
            waker.wake();
        }
    }

    fn is_cut(&self, cx: &std::task::Context<'_>) -> bool {
        *self.waker.lock().expect("not poisoned") = Some(cx.waker().clone());
        self.done.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl<S> Cuttable<S> {
    fn new(inner: S) -> (Cuttable<S>, Arc<CutSwitch>) {
        let cut = Arc::new(CutSwitch::default());
        (Cuttable { inner, cut: Arc::clone(&cut) }, cut)
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Cuttable<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.cut.is_cut(cx) {
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Cuttable<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.cut.is_cut(cx) {
            return std::task::Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        }
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

struct DeviceSsh {
    lab: Arc<Lab>,
    device: String,
    auth: LabAuth,
    channels: HashMap<ChannelId, Channel<Msg>>,
    logged_in: Arc<std::sync::atomic::AtomicBool>,
}

impl DeviceSsh {
    fn decide(&self, accepted: bool) -> Auth {
        if accepted {
            self.lab.count_login(&self.device);
            self.logged_in.store(true, std::sync::atomic::Ordering::SeqCst);
            Auth::Accept
        } else {
            Auth::reject()
        }
    }
}

impl DeviceSsh {
    fn netconf(&mut self, id: ChannelId, session: &mut Session) -> Result<(), russh::Error> {
        // An EOS switch of the lab speaks eAPI (HTTPS); its SSH server takes files (SCP, SFTP).
        if self.lab.devices_vendor(&self.device) == crate::model::Vendor::Arista {
            return session.channel_failure(id);
        }
        let Some(channel) = self.channels.remove(&id) else {
            return session.channel_failure(id);
        };
        session.channel_success(id)?;
        let (lab, device, handle) = (Arc::clone(&self.lab), self.device.clone(), session.handle());
        tokio::spawn(async move {
            let served = server::serve(&lab, &device, channel.into_stream()).await;
            finish(&handle, id, u32::from(served.is_err())).await;
        });
        Ok(())
    }
}

impl russh::server::Handler for DeviceSsh {
    type Error = russh::Error;

    async fn auth_password(&mut self, _user: &str, password: &str) -> Result<Auth, Self::Error> {
        let accepted = self.auth.password.as_deref().is_some_and(|p| p == password);
        Ok(self.decide(accepted))
    }

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let accepted = self.auth.keys.iter().any(|k| k.key_data() == key.public_key.key_data());
        Ok(self.decide(accepted))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn subsystem_request(&mut self, id: ChannelId, name: &str, session: &mut Session) -> Result<(), Self::Error> {
        if name == "netconf" {
            return self.netconf(id, session);
        }
        if name == "sftp" {
            let Some(channel) = self.channels.remove(&id) else { return session.channel_failure(id) };
            session.channel_success(id)?;
            let sftp = super::sftp::Session::new(Arc::clone(&self.lab), &self.device);
            // The SFTP server runs on its own task; a pipe between it and the channel tells
            // when the client is done, so the channel ends with an exit status as sshd's does.
            let (ours, theirs) = tokio::io::duplex(1 << 20);
            russh_sftp::server::run(theirs, sftp).await;
            let handle = session.handle();
            tokio::spawn(async move {
                let mut channel = channel.into_stream();
                let mut ours = ours;
                let copied = tokio::io::copy_bidirectional(&mut channel, &mut ours).await;
                finish(&handle, id, u32::from(copied.is_err())).await;
            });
            return Ok(());
        }
        session.channel_failure(id)
    }

    async fn exec_request(&mut self, id: ChannelId, data: &[u8], session: &mut Session) -> Result<(), Self::Error> {
        // `ssh host netconf` and ncclient's fallback `xml-mode netconf need-trailer`.
        let command = String::from_utf8_lossy(data).trim().to_string();
        if command == "netconf" || command == "xml-mode netconf need-trailer" {
            return self.netconf(id, session);
        }
        // An image upload: `scp -t /var/tmp` (options such as -p or -v before -t are accepted).
        if let Some(target) =
            command.strip_prefix("scp ").and_then(|rest| rest.split(" -t ").nth(1).or(rest.strip_prefix("-t ")))
        {
            let Some(channel) = self.channels.remove(&id) else { return session.channel_failure(id) };
            session.channel_success(id)?;
            let (lab, device, target) = (Arc::clone(&self.lab), self.device.clone(), target.trim().to_string());
            let handle = session.handle();
            tokio::spawn(async move {
                let mut stream = channel.into_stream();
                let copied = super::scp::sink(&lab, &device, &target, &mut stream).await;
                let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
                finish(&handle, id, u32::from(!matches!(copied, Ok(true)))).await;
            });
            return Ok(());
        }
        // A CLI command, as `ssh device 'show version'` runs one: its text, exit status 0; or
        // Junos's error and exit status 1.
        let Some(channel) = self.channels.remove(&id) else { return session.channel_failure(id) };
        session.channel_success(id)?;
        let (lab, device, handle) = (Arc::clone(&self.lab), self.device.clone(), session.handle());
        tokio::spawn(async move {
            let (text, status) = cli(&lab, &device, &command);
            let mut stream = channel.into_stream();
            let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, text.as_bytes()).await;
            let _ = tokio::io::AsyncWriteExt::flush(&mut stream).await;
            finish(&handle, id, status).await;
        });
        Ok(())
    }
}

/// Ends a channel as sshd does: its exit status, then end of file and close (without an exit
/// status OpenSSH's `ssh` exits 255 and `scp` reports failure).
async fn finish(handle: &russh::server::Handle, id: ChannelId, status: u32) {
    let _ = handle.exit_status_request(id, status).await;
    let _ = handle.eof(id).await;
    let _ = handle.close(id).await;
}

/// Runs one CLI command on `device`: its text output and exit status.
fn cli(lab: &Lab, device: &str, command: &str) -> (String, u32) {
    let request = crate::netconf::xml::Element {
        name: "command".into(),
        attributes: vec![("format".into(), "text".into())],
        text: command.to_string(),
        children: Vec::new(),
    };
    let reply = super::rpc::handle(lab, device, 0, &request);
    let parsed = crate::netconf::xml::parse(&format!("<reply>{}</reply>", reply.body));
    match parsed {
        Ok(parsed) if parsed.child("output").is_some() => {
            let mut text = parsed.child("output").map(|o| o.text.clone()).unwrap_or_default();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            (text, 0)
        }
        Ok(parsed) => {
            let message = parsed.child("rpc-error").and_then(|e| e.text_of("error-message")).unwrap_or("error");
            (format!("error: {message}\n"), 1)
        }
        Err(e) => (format!("error: {e}\n"), 1),
    }
}
