//! The client side of a NETCONF session: hello and capability exchange, framed RPCs with
//! message-id matching, `<rpc-error>` turned into typed errors that keep the device's message.
//! Every read has a deadline; a stalled peer is an error, never a hang.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::framing::{self, Decoder, Framing, FramingError};
use super::xml::{self, Element, XmlError};

/// The base:1.0 capability.
pub const BASE_10: &str = "urn:ietf:params:netconf:base:1.0";
/// The base:1.1 capability (chunked framing).
pub const BASE_11: &str = "urn:ietf:params:netconf:base:1.1";

/// Why a NETCONF exchange failed. Every variant names the device.
#[derive(Debug, thiserror::Error)]
pub enum NetconfError {
    /// Reading or writing the transport failed.
    #[error("{device}: connection error during {during}: {source}")]
    Io {
        /// Device.
        device: String,
        /// What was being done.
        during: String,
        /// The reason.
        source: std::io::Error,
    },
    /// The peer closed the session.
    #[error("{device}: session closed by the device during {during}")]
    Closed {
        /// Device.
        device: String,
        /// What was being done.
        during: String,
    },
    /// No complete message before the deadline.
    #[error("{device}: no reply to {during} within {seconds} s")]
    Timeout {
        /// Device.
        device: String,
        /// What was being done.
        during: String,
        /// The deadline.
        seconds: u64,
    },
    /// Bad framing.
    #[error("{device}: {source}")]
    Framing {
        /// Device.
        device: String,
        /// The framing problem.
        source: FramingError,
    },
    /// Not well-formed XML.
    #[error("{device}: reply to {during}: {source}")]
    Xml {
        /// Device.
        device: String,
        /// What was being done.
        during: String,
        /// The XML problem.
        source: XmlError,
    },
    /// The device broke the protocol (no hello, wrong message-id, ...).
    #[error("{device}: {message}")]
    Protocol {
        /// Device.
        device: String,
        /// What went wrong.
        message: String,
    },
    /// The device answered with `<rpc-error>`.
    #[error("{device}: {rpc} failed: {message} ({tag})")]
    Rpc {
        /// Device.
        device: String,
        /// The RPC.
        rpc: String,
        /// `error-tag`, e.g. `lock-denied`.
        tag: String,
        /// `error-message`, the device's own words.
        message: String,
    },
}

impl NetconfError {
    /// True for failures of the transport (the device may have acted on the request).
    pub fn is_transport(&self) -> bool {
        matches!(self, NetconfError::Io { .. } | NetconfError::Closed { .. } | NetconfError::Timeout { .. })
    }
}

/// An open client session.
pub struct Session<S> {
    stream: S,
    device: String,
    decoder: Decoder,
    framing: Framing,
    next_id: u64,
    /// The server's capabilities.
    pub capabilities: Vec<String>,
    /// The server's session id.
    pub session_id: Option<u64>,
}

const READ_CHUNK: usize = 64 * 1024;

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// Sends our hello (without waiting for the server's, as ncclient does), reads the server's,
    /// and switches to chunked framing when both sides advertise base:1.1.
    pub async fn open(stream: S, device: &str, timeout: Duration) -> Result<Session<S>, NetconfError> {
        let mut session = Session {
            stream,
            device: device.to_string(),
            decoder: Decoder::new(),
            framing: Framing::EndOfMessage,
            next_id: 1,
            capabilities: Vec::new(),
            session_id: None,
        };
        let hello = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities><capability>{BASE_10}</capability><capability>{BASE_11}</capability></capabilities></hello>"
        );
        // Hellos are always framed end-of-message (RFC 6242 §4.1), whatever comes after.
        session.write(&hello, "hello", Framing::EndOfMessage).await?;
        let reply = session.read_message("hello", Framing::EndOfMessage, timeout).await?;
        let root = xml::parse(&reply).map_err(|source| session.xml_error("hello", source))?;
        if root.name != "hello" {
            return Err(session.protocol(format!("expected <hello>, got <{}>", root.name)));
        }
        let capabilities: Vec<String> = root
            .child("capabilities")
            .map(|list| list.children_named("capability").map(|c| c.text.trim().to_string()).collect())
            .unwrap_or_default();
        session.session_id = root.text_of("session-id").and_then(|s| s.parse().ok());
        if capabilities.iter().any(|c| c == BASE_11) {
            session.framing = Framing::Chunked;
        }
        session.capabilities = capabilities;
        Ok(session)
    }

    /// The framing in use after the hellos.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Sends `<rpc>` around `body` and returns the matching `<rpc-reply>`. Errors of severity
    /// `error` become [`NetconfError::Rpc`]; warnings are ignored.
    pub async fn rpc(&mut self, body: &str, timeout: Duration) -> Result<Element, NetconfError> {
        let rpc_name = body
            .trim_start_matches('<')
            .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .next()
            .unwrap_or("rpc")
            .to_string();
        let id = self.next_id;
        self.next_id += 1;
        let message =
            format!("<rpc xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\" message-id=\"{id}\">{body}</rpc>");
        tracing::trace!(device = %self.device, rpc = %rpc_name, sent = %super::for_log(&message), "netconf request");
        let started = tokio::time::Instant::now();
        self.write(&message, &rpc_name, self.framing).await?;
        let text = self.read_message(&rpc_name, self.framing, timeout).await?;
        tracing::trace!(
            device = %self.device,
            rpc = %rpc_name,
            ms = started.elapsed().as_millis() as u64,
            received = %super::for_log(&text),
            "netconf reply"
        );
        let reply = xml::parse(&text).map_err(|source| self.xml_error(&rpc_name, source))?;
        if reply.name != "rpc-reply" {
            return Err(self.protocol(format!("expected <rpc-reply> to {rpc_name}, got <{}>", reply.name)));
        }
        match reply.attribute("message-id") {
            Some(got) if got == id.to_string() => {}
            Some(got) => {
                return Err(self.protocol(format!("reply to {rpc_name} carries message-id {got}, expected {id}")));
            }
            None => return Err(self.protocol(format!("reply to {rpc_name} has no message-id"))),
        }
        let mut errors = Vec::new();
        reply.find_all("rpc-error", &mut errors);
        if let Some(error) = errors.into_iter().find(|e| e.text_of("error-severity") != Some("warning")) {
            return Err(NetconfError::Rpc {
                device: self.device.clone(),
                rpc: rpc_name,
                tag: error.text_of("error-tag").unwrap_or("operation-failed").to_string(),
                message: error.text_of("error-message").unwrap_or("no message").to_string(),
            });
        }
        Ok(reply)
    }

    /// Ends the session politely (`<close-session/>`); errors are ignored, the stream is dropped.
    pub async fn close(mut self) {
        let _ = self.rpc("<close-session/>", Duration::from_secs(5)).await;
    }

    async fn write(&mut self, message: &str, during: &str, framing: Framing) -> Result<(), NetconfError> {
        let bytes = framing::encode(message, framing);
        let io = |source| NetconfError::Io { device: self.device.clone(), during: during.to_string(), source };
        self.stream.write_all(&bytes).await.map_err(io)?;
        self.stream.flush().await.map_err(|source| NetconfError::Io {
            device: self.device.clone(),
            during: during.to_string(),
            source,
        })
    }

    async fn read_message(
        &mut self,
        during: &str,
        framing: Framing,
        timeout: Duration,
    ) -> Result<String, NetconfError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut buffer = vec![0u8; READ_CHUNK];
        loop {
            let framing_error = |source| NetconfError::Framing { device: self.device.clone(), source };
            if let Some(message) = self.decoder.next_message(framing).map_err(framing_error)? {
                return Ok(message);
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut buffer)).await.map_err(|_| {
                NetconfError::Timeout {
                    device: self.device.clone(),
                    during: during.to_string(),
                    seconds: timeout.as_secs(),
                }
            })?;
            let read = read.map_err(|source| NetconfError::Io {
                device: self.device.clone(),
                during: during.to_string(),
                source,
            })?;
            if read == 0 {
                return Err(NetconfError::Closed { device: self.device.clone(), during: during.to_string() });
            }
            self.decoder
                .feed(&buffer[..read])
                .map_err(|source| NetconfError::Framing { device: self.device.clone(), source })?;
        }
    }

    fn protocol(&self, message: String) -> NetconfError {
        NetconfError::Protocol { device: self.device.clone(), message }
    }

    fn xml_error(&self, during: &str, source: XmlError) -> NetconfError {
        NetconfError::Xml { device: self.device.clone(), during: during.to_string(), source }
    }
}
