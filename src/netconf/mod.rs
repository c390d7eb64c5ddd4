//! NETCONF as Junos speaks it: framing ([`framing`]), a bounded XML tree ([`xml`]) and the client
//! session ([`session`]). The transport is any `AsyncRead + AsyncWrite` stream — an SSH channel's
//! `netconf` subsystem in production, an in-memory pipe or a simulated network in tests — so the
//! same code is exercised everywhere.
//!
//! Only this module, the Junos driver and the lab emulator speak NETCONF.

pub mod framing;
pub mod session;
pub mod xml;

pub use session::{NetconfError, Session};

/// Words after which a configuration or a reply carries a secret (Junos `set` syntax, and
/// element names in XML).
const SECRET_WORDS: [&str; 6] =
    ["encrypted-password", "plain-text-password", "secret", "authentication-key", "pre-shared-key", "ssh-"];

/// [`redact`]ed `text` on one line, for a log line: new lines and carriage returns written as
/// `\n` and `\r`, so a multi-line reply stays one line of a text log.
pub fn for_log(text: &str) -> String {
    redact(text).replace('\r', "\\r").replace('\n', "\\n")
}

/// `text` (a NETCONF message) with every secret replaced by `<redacted>`, for logs: the content
/// of any element whose name contains `password`, `secret` or `-key` (`<encrypted-password>`,
/// `<authentication-key>`), and the word after a secret keyword in configuration text
/// (`encrypted-password "$6$..."`, `secret "..."`, `ssh-ed25519 AAAA...`).
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Elements first: <name ...>secret</name>.
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else { break };
        let tag = &rest[open + 1..open + close];
        let name = tag.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("");
        let secret = !tag.starts_with('/')
            && !tag.ends_with('/')
            && (name.contains("password") || name.contains("secret") || name.ends_with("-key"));
        out.push_str(&rest[..open + close + 1]);
        rest = &rest[open + close + 1..];
        if secret && let Some(end) = rest.find('<') {
            out.push_str("<redacted>");
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    redact_words(&out)
}

/// Replaces the word after each secret keyword of configuration text, line by line.
fn redact_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (number, line) in text.split('\n').enumerate() {
        if number > 0 {
            out.push('\n');
        }
        let mut redact_next = false;
        for (index, piece) in line.split(' ').enumerate() {
            if index > 0 {
                out.push(' ');
            }
            if redact_next && !piece.is_empty() {
                out.push_str("<redacted>");
                redact_next = false;
                continue;
            }
            out.push_str(piece);
            let word = piece.rsplit('>').next().unwrap_or(piece);
            if SECRET_WORDS.iter().any(|w| if w.ends_with('-') { word.starts_with(w) } else { word == *w }) {
                redact_next = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod redact_tests {
    #[test]
    fn a_message_is_one_line_in_a_log() {
        let out = super::for_log("<rpc-reply>\n<output>\r\nline one\nline two</output>\n</rpc-reply>");
        assert!(!out.contains('\n') && !out.contains('\r'), "{out}");
        assert_eq!(out, "<rpc-reply>\\n<output>\\r\\nline one\\nline two</output>\\n</rpc-reply>");
    }

    #[test]
    fn secrets_never_reach_a_log() {
        let xml = "<configuration><system><root-authentication><encrypted-password>$6$abc$def</encrypted-password></root-authentication>\
<authentication-key>s3cr3t</authentication-key><host-name>leaf1</host-name></system></configuration>";
        let out = super::redact(xml);
        assert!(!out.contains("$6$abc") && !out.contains("s3cr3t"), "{out}");
        assert!(out.contains("<host-name>leaf1</host-name>"), "{out}");
        let set = "set system login user netops authentication encrypted-password \"$6$xyz\"\nset system login user a authentication ssh-ed25519 \"AAAAC3Nza\"\nset snmp community public";
        let out = super::redact(set);
        assert!(!out.contains("$6$xyz") && !out.contains("AAAAC3Nza"), "{out}");
        assert!(out.contains("set snmp community public"), "{out}");
    }
}
