//! Maintenance mode as configuration: what hitless commits on a device to drain it, and how to
//! recognise and undo it. The Junos driver commits these lines and the lab interprets them, so
//! the two cannot drift apart.
//!
//! Maintenance mode on a fabric switch (see `shared/reference/junos-netconf.md` §5):
//! - BGP graceful shutdown (RFC 8326): `set protocols bgp graceful-shutdown sender`, so peers
//!   move their traffic to other paths while the session stays up;
//! - every server-facing LAG disabled (`set interfaces aeN disable`), so multihomed servers
//!   rehash onto their other leaf before the reboot.

/// The configuration statement (without `set `) that marks maintenance mode.
pub const GRACEFUL_SHUTDOWN: &str = "protocols bgp graceful-shutdown sender";

/// The statement (without `set `) that disables interface `name`.
pub fn disable_statement(name: &str) -> String {
    format!("interfaces {name} disable")
}

/// True when `name` is an aggregated Ethernet bundle (`ae0`, `ae12`), the server-facing LAGs.
pub fn is_lag(name: &str) -> bool {
    name.strip_prefix("ae").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The `set` lines that turn maintenance mode on, given the device's server-facing LAGs.
pub fn enter_lines<'a>(server_lags: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut lines = vec![format!("set {GRACEFUL_SHUTDOWN}")];
    lines.extend(server_lags.into_iter().filter(|l| is_lag(l)).map(|l| format!("set {}", disable_statement(l))));
    lines
}

/// The lines that turn maintenance mode off, given the device's committed configuration as
/// statements (`set` lines with or without the `set `): graceful shutdown removed, and every LAG
/// that maintenance mode disabled enabled again.
pub fn leave_lines<'a>(committed: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut lines = vec![format!("delete {GRACEFUL_SHUTDOWN}")];
    for statement in committed {
        let statement = statement.trim();
        let statement = statement.strip_prefix("set ").unwrap_or(statement);
        if let Some(lag) = statement.strip_prefix("interfaces ").and_then(|r| r.strip_suffix(" disable"))
            && is_lag(lag)
        {
            lines.push(format!("delete {statement}"));
        }
    }
    lines
}

/// True when the committed configuration (statements, with or without `set `) has maintenance
/// mode on.
pub fn is_on<'a>(committed: impl IntoIterator<Item = &'a str>) -> bool {
    committed.into_iter().any(|s| {
        let s = s.trim();
        s.strip_prefix("set ").unwrap_or(s) == GRACEFUL_SHUTDOWN
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaving_undoes_exactly_what_entering_did() {
        let on = enter_lines(["ae0", "ae1", "et-0/0/48"]);
        assert_eq!(
            on,
            ["set protocols bgp graceful-shutdown sender", "set interfaces ae0 disable", "set interfaces ae1 disable"]
        );
        assert!(is_on(on.iter().map(String::as_str)));
        // An operator's own disabled physical port is not touched on the way out.
        let committed = [on.as_slice(), &["set interfaces xe-0/0/3 disable".to_string()]].concat();
        let off = leave_lines(committed.iter().map(String::as_str));
        assert_eq!(
            off,
            [
                "delete protocols bgp graceful-shutdown sender",
                "delete interfaces ae0 disable",
                "delete interfaces ae1 disable"
            ]
        );
        assert!(!is_on(["set interfaces ae0 disable"]));
    }
}
