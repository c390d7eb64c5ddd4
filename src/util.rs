//! Small helpers that belong to no layer: they import nothing from the crate, so every module may
//! use them.

/// Lower-case hex of bytes (how checksums and fingerprints are written).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    out
}

/// The longest name hitless accepts for a device, a server or an image.
pub const NAME_MAX: usize = 64;

/// Why `name` cannot name a device, server or image, if it cannot. Names are 1 to
/// [`NAME_MAX`] characters of ASCII letters, digits, `.`, `_`, `-` and `:`, starting with a
/// letter or digit: they go into files, logs, tables, XML and shell-like output, where anything
/// else (a newline, an escape code, a slash) could forge lines or paths.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".to_string());
    }
    if name.len() > NAME_MAX {
        return Some(format!("is {} characters long; at most {NAME_MAX} are allowed", name.len()));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))) {
        return Some(format!("contains {bad:?}; names are ASCII letters, digits, '.', '_', '-' and ':'"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("must start with a letter or a digit".to_string());
    }
    None
}

/// Why `name` cannot name an image file on a device, if it cannot: 1 to 255 characters of ASCII
/// letters, digits, `.`, `_`, `-` and `+`, starting with a letter or digit (Junos package names
/// such as `jinstall-host-qfx-5e-x86-64-21.4R3-S5.4-secure-signed.tgz` are).
pub fn file_name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 255 {
        return Some(format!("must be 1 to 255 characters long, not {}", name.len()));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))) {
        return Some(format!("contains {bad:?}; image file names are ASCII letters, digits, '.', '_', '-' and '+'"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("must start with a letter or a digit".to_string());
    }
    None
}

/// rustls's ring provider, for the TLS this crate speaks itself (eAPI, both ends): ring, as for
/// SSH. rustls marks it deprecated for want of post-quantum key exchange, which only its
/// aws-lc-rs provider has; that one needs a C build this project avoids.
#[allow(deprecated)]
pub fn tls_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_that_could_forge_output_or_paths_are_refused() {
        for good in ["leaf1", "p2-leaf12", "bl1.dc1", "spine_a", "fw:1", "junos-qfx-21.4R3-S5.4"] {
            assert_eq!(super::name_problem(good), None, "{good}");
        }
        for bad in ["", "leaf\n1", "leaf 1", "../x", "a/b", "\u{1b}[31mred", "-leaf", &"x".repeat(65)] {
            assert!(super::name_problem(bad).is_some(), "{bad:?}");
        }
        assert_eq!(super::file_name_problem("jinstall-host-qfx-5e-x86-64-21.4R3-S5.4-secure-signed.tgz"), None);
        for bad in ["a\nb.tgz", "a b.tgz", ".hidden", "a/b", ""] {
            assert!(super::file_name_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(super::hex(&[0, 15, 255, 0xa5]), "000fffa5");
        assert_eq!(super::hex(&[]), "");
    }
}
