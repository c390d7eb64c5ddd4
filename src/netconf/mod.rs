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
/// element and JSON names).
const SECRET_WORDS: [&str; 9] = [
    "encrypted-password",
    "plain-text-password",
    "secret",
    "authentication-key",
    "pre-shared-key",
    "ascii-text",
    "hexadecimal",
    "privacy-key",
    "ssh-",
];

/// Whether an element, JSON name or keyword names a secret.
fn is_secret(name: &str) -> bool {
    name.contains("password")
        || name.contains("secret")
        || name.ends_with("-key")
        || SECRET_WORDS.iter().any(|w| if w.ends_with('-') { name.starts_with(w) } else { name == *w })
}

/// [`redact`]ed `text` on one line, for a log line: new lines and carriage returns written as
/// `\n` and `\r`, so a multi-line reply stays one line of a text log.
pub fn for_log(text: &str) -> String {
    redact(text).replace('\r', "\\r").replace('\n', "\\n")
}

/// `text` (a NETCONF message) with every secret replaced by `<redacted>`, for logs: the content
/// of any element whose name names a secret (`<encrypted-password>`, `<authentication-key>`,
/// `<secret>`), the string of any such JSON name, and the word (a quoted string whole) after a
/// secret keyword in configuration text (`encrypted-password "$6$..."`, `secret "..."`,
/// `ssh-ed25519 AAAA...`). In a message about SNMP, community names are secrets too.
pub fn redact(text: &str) -> String {
    let snmp = text.contains("snmp");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Elements first: <name ...>secret</name>; under SNMP, <community><name>secret</name>.
    let mut community = false;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else { break };
        let tag = &rest[open + 1..open + close];
        let name = tag.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("");
        let opening = !tag.starts_with('/') && !tag.ends_with('/');
        let secret = opening && (is_secret(name) || (community && name == "name"));
        community = snmp && opening && name == "community";
        out.push_str(&rest[..open + close + 1]);
        rest = &rest[open + close + 1..];
        if secret && let Some(end) = rest.find('<') {
            out.push_str("<redacted>");
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    // JSON and configuration text inside an element arrive with their quotes escaped; the log
    // shows them as quotes.
    let out = out.replace("&quot;", "\"");
    redact_words(&redact_json(&out, snmp), snmp)
}

/// The end (exclusive) of the JSON or Junos string that opens at `start` (a `"`).
fn string_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Replaces the string value of each secret JSON name (`"authentication-key": "..."`), and
/// under SNMP the `name` of a `community`.
fn redact_json(text: &str, snmp: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    let mut community = false;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let end = string_end(text, i);
        if end <= i + 1 || bytes[end - 1] != b'"' {
            break; // An unterminated string: nothing after it is a name.
        }
        let key = &text[i + 1..end - 1];
        let mut j = end;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= bytes.len() || bytes[j] != b':' {
            i = end;
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let secret = is_secret(key) || (community && key == "name");
        if snmp && key == "community" {
            community = true;
        } else if key == "name" {
            community = false;
        }
        if secret && j < bytes.len() && bytes[j] == b'"' {
            let value_end = string_end(text, j);
            out.push_str(&text[copied..j]);
            out.push_str("\"<redacted>\"");
            copied = value_end;
            i = value_end;
        } else {
            i = j;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Replaces the word after each secret keyword of configuration text (a quoted string whole,
/// a closing `;` kept).
fn redact_words(text: &str, snmp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut redact_next = false;
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        if c.is_whitespace() {
            if c == '\n' {
                redact_next = false;
            }
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let end = if c == '"' {
            string_end(text, i)
        } else {
            text[i..].find(char::is_whitespace).map_or(text.len(), |n| i + n)
        };
        let token = &text[i..end];
        let word = token.rsplit('>').next().unwrap_or(token).trim_matches('"');
        // `pre-shared-key ascii-text "..."`: the secret follows the second keyword.
        if redact_next && !matches!(word, "ascii-text" | "hexadecimal") {
            out.push_str("<redacted>");
            if c != '"' && token.ends_with(';') {
                out.push(';');
            }
            redact_next = false;
        } else {
            out.push_str(token);
            redact_next = is_secret(word) || (snmp && word == "community");
        }
        i = end;
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
        assert!(out.contains("set snmp community <redacted>"), "an SNMP community is a secret: {out}");
    }

    #[test]
    fn secrets_in_every_form_of_the_configuration_never_reach_a_log() {
        let cases = [
            // A quoted secret with a space goes whole; the `;` and the rest of the line stay.
            ("authentication-key \"two words\"; ## SECRET-DATA\nhost-name leaf1;", "two words", "host-name leaf1;"),
            ("encrypted-password \"$6$lab$rootsecret\"; ## SECRET-DATA", "rootsecret", "SECRET-DATA"),
            ("set security ike proposal p pre-shared-key ascii-text \"$9$abc\"", "$9$abc", "set security ike"),
            ("{\"authentication-key\":\"$9$json\",\"host-name\":\"leaf1\"}", "$9$json", "\"host-name\":\"leaf1\""),
            ("{\"secret\" : \"esc\\\"aped\"}", "aped", "\"secret\""),
            ("<privacy-key>$9$priv</privacy-key>", "$9$priv", "<privacy-key>"),
            (
                "<rpc-reply>{&quot;encrypted-password&quot;:&quot;$6$hash&quot;}</rpc-reply>",
                "$6$hash",
                "encrypted-password",
            ),
            ("snmp { community dc1-ro { authorization read-only; } }", "dc1-ro", "authorization read-only"),
            (
                "<snmp><community><name>dc1-ro</name><authorization>read-only</authorization></community></snmp>",
                "dc1-ro",
                "read-only",
            ),
            (
                "{\"snmp\":{\"community\":[{\"name\":\"dc1-ro\",\"authorization\":\"read-only\"}]}}",
                "dc1-ro",
                "read-only",
            ),
        ];
        for (text, secret, kept) in cases {
            let out = super::redact(text);
            assert!(!out.contains(secret), "{secret} reached the log: {out}");
            assert!(out.contains(kept), "{kept} was lost: {out}");
        }
        // Policy communities outside SNMP are not secrets.
        let policy = "policy-options { community fabric members target:65000:1; }";
        assert_eq!(super::redact(policy), policy);
    }
}
