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

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(super::hex(&[0, 15, 255, 0xa5]), "000fffa5");
        assert_eq!(super::hex(&[]), "");
    }
}
