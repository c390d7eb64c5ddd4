//! Serving one NETCONF session of an emulated device over any byte stream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Lab;
use super::rpc::{self, Reply};
use crate::netconf::framing::{self, Decoder, Framing};
use crate::netconf::session::{BASE_10, BASE_11};
use crate::netconf::xml;

static SESSIONS: AtomicU64 = AtomicU64::new(4000);

/// How long the emulator waits for a client's next message before closing the session.
const IDLE: Duration = Duration::from_secs(600);

/// Serves `device` over `stream` until the client closes, the session ends, or the device
/// reboots. A device that is down closes the stream at once, as a rebooting switch drops TCP.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(lab: &Lab, device: &str, mut stream: S) -> std::io::Result<()> {
    if lab.is_hung(device) {
        // A hung switch accepts the connection and says nothing: the client times out.
        return hold_silently(&mut stream).await;
    }
    if !lab.is_up(device) {
        return Ok(());
    }
    let session = SESSIONS.fetch_add(1, Ordering::Relaxed);
    let mut capabilities = format!("<capability>{BASE_10}</capability>");
    if lab.base_11 {
        capabilities.push_str(&format!("<capability>{BASE_11}</capability>"));
    }
    // What a Junos switch advertises (21.4): the candidate, confirmed commits, validate, the
    // Junos extensions and DMI schema.
    for capability in [
        "urn:ietf:params:netconf:capability:candidate:1.0",
        "urn:ietf:params:netconf:capability:confirmed-commit:1.0",
        "urn:ietf:params:netconf:capability:validate:1.0",
        "urn:ietf:params:netconf:capability:url:1.0?scheme=http,ftp,file",
        "urn:ietf:params:xml:ns:netconf:base:1.0",
        "urn:ietf:params:xml:ns:netconf:capability:candidate:1.0",
        "urn:ietf:params:xml:ns:netconf:capability:confirmed-commit:1.0",
        "urn:ietf:params:xml:ns:netconf:capability:validate:1.0",
        "http://xml.juniper.net/netconf/junos/1.0",
        "http://xml.juniper.net/dmi/system/1.0",
    ] {
        capabilities.push_str(&format!("<capability>{capability}</capability>"));
    }
    let hello = format!(
        "<!-- No zombies were killed during the creation of this user interface -->\n<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities>{capabilities}</capabilities><session-id>{session}</session-id></hello>"
    );
    stream.write_all(&framing::encode(&hello, Framing::EndOfMessage)).await?;
    stream.flush().await?;
    let served = session_loop(lab, device, session, &mut stream).await;
    // However the session ended (closed, dropped, broken, hung), Junos releases its
    // configuration lock.
    unlock_on_exit(lab, device, session);
    served
}

async fn session_loop<S: AsyncRead + AsyncWrite + Unpin>(
    lab: &Lab,
    device: &str,
    session: u64,
    stream: &mut S,
) -> std::io::Result<()> {
    let mut decoder = Decoder::new();
    let Some(client_hello) = read(stream, &mut decoder, Framing::EndOfMessage).await? else { return Ok(()) };
    let both_11 = lab.base_11 && client_hello.contains(BASE_11);
    let framing = if both_11 { Framing::Chunked } else { Framing::EndOfMessage };
    while let Some(message) = read(stream, &mut decoder, framing).await? {
        let (reply, close, drop, delay, hang) = answer(lab, device, session, &message);
        if hang {
            unlock_on_exit(lab, device, session);
            return hold_silently(stream).await;
        }
        tokio::time::sleep(delay).await;
        if drop {
            return Ok(());
        }
        stream.write_all(&framing::encode(&reply, framing)).await?;
        stream.flush().await?;
        if close {
            break;
        }
    }
    Ok(())
}

/// The reply to one message, whether the session ends after it, and whether the connection
/// drops instead of replying (the `ssh-drop` fault).
fn answer(lab: &Lab, device: &str, session: u64, message: &str) -> (String, bool, bool, Duration, bool) {
    let wrap = |attributes: &str, body: &str| {
        format!(
            "<rpc-reply xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\" xmlns:junos=\"http://xml.juniper.net/junos/21.4R3/junos\"{attributes}>{body}</rpc-reply>"
        )
    };
    let rpc = match xml::parse(message) {
        Ok(rpc) if rpc.name == "rpc" => rpc,
        Ok(other) => {
            let error = rpc::rpc_error("malformed-message", &format!("expected <rpc>, got <{}>", other.name), None);
            return (wrap("", &error), false, false, Duration::ZERO, false);
        }
        Err(e) => {
            return (
                wrap("", &rpc::rpc_error("malformed-message", &e.to_string(), None)),
                false,
                false,
                Duration::ZERO,
                false,
            );
        }
    };
    // Junos echoes the attributes of <rpc> onto <rpc-reply>; namespace declarations are ours to
    // write, so only the others (message-id above all) are echoed.
    let attributes: String = rpc
        .attributes
        .iter()
        .filter(|(k, _)| k != "xmlns" && !k.starts_with("xmlns"))
        .map(|(k, v)| format!(" {k}=\"{}\"", xml::escape(v)))
        .collect();
    let Some(request) = rpc.children.first() else {
        return (
            wrap(&attributes, &rpc::rpc_error("missing-element", "empty <rpc>", None)),
            false,
            false,
            Duration::ZERO,
            false,
        );
    };
    let Reply { body, close, drop, delay, hang } = rpc::handle(lab, device, session, request);
    tracing::debug!(device, session, rpc = %request.name, "lab request");
    tracing::trace!(device, session, request = %crate::netconf::redact(message), reply = %crate::netconf::redact(&body), "lab exchange");
    (wrap(&attributes, &body), close, drop, delay, hang)
}

/// Reads and ignores whatever the client sends until it gives up and closes: a hung device,
/// whose sessions stay open and silent (no idle timeout either: a hung box closes nothing).
pub(crate) async fn hold_silently<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
}

async fn read<S: AsyncRead + Unpin>(
    stream: &mut S,
    decoder: &mut Decoder,
    framing: Framing,
) -> std::io::Result<Option<String>> {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match decoder.next_message(framing) {
            Ok(Some(message)) => return Ok(Some(message)),
            Ok(None) => {}
            Err(_) => return Ok(None), // A client that breaks framing gets the session closed.
        }
        let read = match tokio::time::timeout(IDLE, stream.read(&mut buffer)).await {
            Ok(read) => read?,
            Err(_) => return Ok(None),
        };
        if read == 0 || decoder.feed(&buffer[..read]).is_err() {
            return Ok(None);
        }
    }
}

/// What ends with a session: its exclusive lock (and, as on Junos, the uncommitted changes made
/// under it) and its private candidate.
fn unlock_on_exit(lab: &Lab, device: &str, session: u64) {
    if let Some(state) = lab.devices.lock().expect("not poisoned").get_mut(device) {
        if state.lock == Some(session) {
            state.lock = None;
            state.candidate = None;
        }
        state.private.remove(&session);
    }
}
