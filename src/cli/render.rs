//! Small helpers for human output.

/// Formats seconds as `1h 36m`, `24m` or `45s`.
pub fn duration(seconds: u64) -> String {
    let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{rest}s"),
        (0, m) if rest == 0 => format!("{m}m"),
        (0, m) => format!("{m}m {rest}s"),
        (h, m) => format!("{h}h {m:02}m"),
    }
}

/// Formats a byte count with a decimal unit: `0 B`, `1.2 GB`.
pub fn bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes.max(0.0);
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{value:.0} {}", UNITS[0]) } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// Formats seconds since the Unix epoch as `2026-11-25T14:55:00Z`.
pub fn utc(unix: i64) -> String {
    match jiff::Timestamp::from_second(unix) {
        Ok(at) => at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => format!("{unix} s after 1970"),
    }
}

/// Text from a device, a scenario or the journal made inert for a terminal, on one line: every
/// control character (escape sequences, carriage returns, new lines, bells, C1 controls) is
/// written as its escape (`\u{1b}`, `\r`, `\n`), so nothing can move the cursor, recolour the
/// screen or forge another line.
pub fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// [`inert`], but new lines (and tabs) kept: for whole blocks of output such as tables.
pub fn inert_block(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    text.split('\n')
        .map(|line| line.split('\t').map(inert).collect::<Vec<_>>().join("\t"))
        .collect::<Vec<_>>()
        .join("\n")
        .into()
}

/// Writes `bytes` to `path` all at once: into a temporary file in the same directory, synced,
/// then renamed over `path`. A failure leaves an existing file as it was; a reader never sees
/// half a file. An existing file's permissions are kept; a new one is readable by all (0644).
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let cannot = || format!("cannot write {}", path.display());
    let mut file = tempfile::NamedTempFile::new_in(dir).with_context(cannot)?;
    file.write_all(bytes).with_context(cannot)?;
    let permissions =
        std::fs::metadata(path).map_or_else(|_| std::fs::Permissions::from_mode(0o644), |m| m.permissions());
    file.as_file().set_permissions(permissions).with_context(cannot)?;
    file.as_file().sync_all().with_context(cannot)?;
    file.persist(path).map_err(|e| e.error).with_context(cannot)?;
    Ok(())
}

/// A table with the project's look.
pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    // Wrapped to the terminal's width; a terminal that reports almost none (0 columns: a serial
    // console, a pty nobody sized) gets the table unwrapped rather than one letter per line.
    let narrowest = 20;
    if table.width().is_none_or(|width| width >= narrowest) {
        table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    }
    table.set_header(header.to_vec());
    table
}

/// `println!` that never panics: when stdout is closed (its reader went away), the line is
/// dropped and the command goes on. For commands that drive devices.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let _ = writeln!(std::io::stdout().lock(), "{}", $crate::cli::render::inert_block(&text));
    }};
}
pub(crate) use say;

#[cfg(test)]
mod tests {
    #[test]
    fn device_text_is_inert_on_a_terminal() {
        let hostile = "ok\u{1b}[2J\u{1b}]0;pwned\u{7}\rfaked\nleaf9: Maintenance Mode Deactivated\u{9b}31m";
        let line = super::inert(hostile);
        assert!(!line.chars().any(char::is_control), "{line}");
        assert_eq!(line, "ok\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\rfaked\\nleaf9: Maintenance Mode Deactivated\\u{9b}31m");
        let block = super::inert_block("a\tb\nc\u{1b}d");
        assert_eq!(block, "a\tb\nc\\u{1b}d");
        assert_eq!(super::inert("plain"), "plain");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(super::duration(45), "45s");
        assert_eq!(super::duration(1440), "24m");
        assert_eq!(super::duration(1470), "24m 30s");
        assert_eq!(super::duration(5760), "1h 36m");
        assert_eq!(super::bytes(0.0), "0 B");
        assert_eq!(super::utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc(1_795_272_900), "2026-11-21T14:55:00Z");
        assert_eq!(super::utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::bytes(1.25e9), "1.2 GB");
    }
}
