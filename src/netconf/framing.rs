//! NETCONF message framing over SSH (RFC 6242): end-of-message `]]>]]>` (base:1.0), and chunked
//! framing (base:1.1) once both sides advertised it. Hellos always use end-of-message.

/// The base:1.0 message delimiter.
pub const EOM: &[u8] = b"]]>]]>";
/// Largest message accepted; a bigger reply is an error, not an out-of-memory.
pub const MESSAGE_BYTES_MAX: usize = 64 << 20;

/// Which framing a session uses now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `message]]>]]>`.
    EndOfMessage,
    /// `\n#len\n...` chunks closed by `\n##\n`.
    Chunked,
}

/// Why the byte stream is not framed NETCONF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A chunk header is not `\n#<1..4294967295>\n`.
    #[error("bad chunk header {0:?}")]
    BadChunk(String),
    /// The message grew past the limit.
    #[error("message larger than {MESSAGE_BYTES_MAX} bytes")]
    TooLarge,
    /// Not UTF-8.
    #[error("message is not UTF-8")]
    NotUtf8,
}

/// Frames one message.
pub fn encode(message: &str, framing: Framing) -> Vec<u8> {
    match framing {
        Framing::EndOfMessage => [message.as_bytes(), b"\n", EOM, b"\n"].concat(),
        Framing::Chunked if message.is_empty() => b"\n##\n".to_vec(),
        Framing::Chunked => [format!("\n#{}\n", message.len()).as_bytes(), message.as_bytes(), b"\n##\n"].concat(),
    }
}

/// Splits an incoming byte stream into messages. Feed it what arrives; take messages out.
#[derive(Debug, Default)]
pub struct Decoder {
    buffer: Vec<u8>,
    /// Chunked: the message assembled so far.
    partial: Vec<u8>,
    /// End-of-message: how much of `buffer` has been searched already, so a large message is
    /// scanned once, not once per read.
    scanned: usize,
}

impl Decoder {
    /// A decoder with nothing buffered.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Adds received bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), FramingError> {
        if self.buffer.len() + self.partial.len() + bytes.len() > MESSAGE_BYTES_MAX + 64 {
            return Err(FramingError::TooLarge);
        }
        self.buffer.extend_from_slice(bytes);
        Ok(())
    }

    /// The next complete message, if one has arrived.
    pub fn next_message(&mut self, framing: Framing) -> Result<Option<String>, FramingError> {
        let bytes = match framing {
            Framing::EndOfMessage => self.next_eom(),
            Framing::Chunked => self.next_chunked()?,
        };
        bytes.map(|b| String::from_utf8(b).map_err(|_| FramingError::NotUtf8)).transpose()
    }

    fn next_eom(&mut self) -> Option<Vec<u8>> {
        let from = self.scanned.saturating_sub(EOM.len() - 1);
        let Some(found) = self.buffer[from..].windows(EOM.len()).position(|w| w == EOM) else {
            self.scanned = self.buffer.len();
            return None;
        };
        let at = from + found;
        let message = self.buffer[..at].to_vec();
        self.buffer.drain(..at + EOM.len());
        self.scanned = 0;
        Some(message)
    }

    fn next_chunked(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        loop {
            // Each chunk header starts "\n#"; tolerate extra newlines between messages.
            let Some(first) = self.buffer.iter().position(|b| *b != b'\n') else {
                let keep = self.buffer.len().min(1);
                self.buffer.drain(..self.buffer.len() - keep);
                return Ok(None);
            };
            if first == 0 {
                return Err(FramingError::BadChunk(
                    String::from_utf8_lossy(&self.buffer[..self.buffer.len().min(16)]).into_owned(),
                ));
            }
            self.buffer.drain(..first - 1);
            let Some(header_end) = self.buffer.iter().skip(1).position(|b| *b == b'\n').map(|p| p + 1) else {
                if self.buffer.len() > 13 {
                    return Err(FramingError::BadChunk(String::from_utf8_lossy(&self.buffer[..13]).into_owned()));
                }
                return Ok(None);
            };
            let header = String::from_utf8_lossy(&self.buffer[1..header_end]).into_owned();
            if header == "##" {
                self.buffer.drain(..=header_end);
                return Ok(Some(std::mem::take(&mut self.partial)));
            }
            let length = header
                .strip_prefix('#')
                .filter(|digits| !digits.starts_with('0') && (1..=10).contains(&digits.len()))
                .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|digits| digits.parse::<u64>().ok())
                .filter(|n| (1..=u64::from(u32::MAX)).contains(n))
                .ok_or_else(|| FramingError::BadChunk(header.clone()))? as usize;
            if self.partial.len() + length > MESSAGE_BYTES_MAX {
                return Err(FramingError::TooLarge);
            }
            let data_start = header_end + 1;
            if self.buffer.len() < data_start + length {
                return Ok(None);
            }
            self.partial.extend_from_slice(&self.buffer[data_start..data_start + length]);
            self.buffer.drain(..data_start + length);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_message_survives_any_split() {
        let wire = [encode("<a/>", Framing::EndOfMessage), encode("<b/>", Framing::EndOfMessage)].concat();
        for cut in 0..wire.len() {
            let mut decoder = Decoder::new();
            decoder.feed(&wire[..cut]).unwrap();
            let mut got = Vec::new();
            while let Some(m) = decoder.next_message(Framing::EndOfMessage).unwrap() {
                got.push(m);
            }
            decoder.feed(&wire[cut..]).unwrap();
            while let Some(m) = decoder.next_message(Framing::EndOfMessage).unwrap() {
                got.push(m);
            }
            assert_eq!(got.iter().map(|m| m.trim()).collect::<Vec<_>>(), ["<a/>", "<b/>"], "cut at {cut}");
        }
    }

    #[test]
    fn chunked_messages_reassemble_across_chunks_and_splits() {
        let wire = b"\n#4\n<rpc\n#9\n-reply/>\n\n##\n\n#3\n<x/\n#1\n>\n##\n".to_vec();
        for cut in 0..wire.len() {
            let mut decoder = Decoder::new();
            let mut got = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                decoder.feed(part).unwrap();
                while let Some(m) = decoder.next_message(Framing::Chunked).unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got, ["<rpc-reply/>\n", "<x/>"], "cut at {cut}");
        }
        assert_eq!(encode("<a/>", Framing::Chunked), b"\n#4\n<a/>\n##\n");
    }

    #[test]
    fn bad_chunk_headers_are_errors() {
        for bad in [&b"\n#0\nx\n##\n"[..], b"\n#01\nx\n##\n", b"\n#x\n", b"\n#99999999999\n"] {
            let mut decoder = Decoder::new();
            decoder.feed(bad).unwrap();
            assert!(matches!(decoder.next_message(Framing::Chunked), Err(FramingError::BadChunk(_))), "{bad:?}");
        }
    }
}
