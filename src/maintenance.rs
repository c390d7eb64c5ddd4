//! Maintenance mode as configuration: what hitless commits on a device to drain it, and how to
//! recognise and undo it. The Junos driver commits these lines and the lab interprets them, so
//! the two cannot drift apart.
//!
//! Maintenance mode on a fabric switch (see `shared/reference/junos-netconf.md` §5):
//! - BGP graceful shutdown (RFC 8326): `set protocols bgp graceful-shutdown sender`, so peers
//!   move their traffic to other paths while the session stays up;
//! - every server-facing LAG disabled (`set interfaces aeN disable`), so multihomed servers
//!   rehash onto their other leaf before the reboot;
//! - on a box with two routing engines, graceful Routing Engine switchover (GRES) and nonstop
//!   routing (NSR) turned off for the upgrade, as the seed's Contrail does, and turned back on
//!   after. Which of the two were on is recorded on the device itself, as the
//!   `apply-macro hitless-restore` statement, so a controller that dies in between still
//!   restores exactly what it found.

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

/// Graceful Routing Engine switchover.
pub const GRES: &str = "chassis redundancy graceful-switchover";
/// Nonstop routing (needs GRES).
pub const NSR: &str = "routing-options nonstop-routing";
/// The statement that records, on the device, what maintenance mode turned off.
pub const RESTORE_MACRO: &str = "apply-macro hitless-restore";

/// The redundancy features maintenance mode turns off, with their key in the restore macro.
const REDUNDANCY: [(&str, &str); 2] = [(GRES, "graceful-switchover"), (NSR, "nonstop-routing")];

fn statements<'a>(committed: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    committed.into_iter().map(|s| s.trim()).map(|s| s.strip_prefix("set ").unwrap_or(s)).collect()
}

/// The `set`/`delete` lines that turn maintenance mode on, given the device's server-facing LAGs
/// and its committed configuration (statements, with or without `set `).
pub fn enter_lines<'a>(
    server_lags: impl IntoIterator<Item = &'a str>,
    committed: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let committed = statements(committed);
    let mut lines = vec![format!("set {GRACEFUL_SHUTDOWN}")];
    lines.extend(server_lags.into_iter().filter(|l| is_lag(l)).map(|l| format!("set {}", disable_statement(l))));
    // NSR needs GRES, so both go in one commit; the macro says which to bring back.
    for (statement, key) in REDUNDANCY {
        if committed.contains(&statement) {
            lines.push(format!("delete {statement}"));
            lines.push(format!("set {RESTORE_MACRO} {key}"));
        }
    }
    lines
}

/// The lines that turn maintenance mode off, given the device's committed configuration as
/// statements (`set` lines with or without the `set `): graceful shutdown removed, every LAG
/// that maintenance mode disabled enabled again, and GRES and NSR back if they were on.
pub fn leave_lines<'a>(committed: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let committed = statements(committed);
    let mut lines = vec![format!("delete {GRACEFUL_SHUTDOWN}")];
    for statement in &committed {
        if let Some(lag) = statement.strip_prefix("interfaces ").and_then(|r| r.strip_suffix(" disable"))
            && is_lag(lag)
        {
            lines.push(format!("delete {statement}"));
        }
    }
    let mut restoring = false;
    for (statement, key) in REDUNDANCY {
        if committed.contains(&format!("{RESTORE_MACRO} {key}").as_str()) {
            lines.push(format!("set {statement}"));
            restoring = true;
        }
    }
    if restoring {
        lines.push(format!("delete {RESTORE_MACRO}"));
    }
    lines
}

/// True when the configuration has GRES on, or maintenance mode will turn it back on: commits
/// on such a box are synchronised to both routing engines.
pub fn synchronized<'a>(committed: impl IntoIterator<Item = &'a str>) -> bool {
    statements(committed).iter().any(|s| *s == GRES || *s == format!("{RESTORE_MACRO} graceful-switchover"))
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
        let on = enter_lines(["ae0", "ae1", "et-0/0/48"], []);
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

#[cfg(test)]
mod redundancy_tests {
    use super::*;

    /// Applies `set`/`delete` lines to a configuration of statements, as Junos does.
    fn apply(config: &mut Vec<String>, lines: &[String]) {
        for line in lines {
            if let Some(statement) = line.strip_prefix("set ") {
                if !config.iter().any(|s| s == statement) {
                    config.push(statement.to_string());
                }
            } else if let Some(statement) = line.strip_prefix("delete ") {
                config.retain(|s| s != statement && !s.starts_with(&format!("{statement} ")));
            }
        }
    }

    #[test]
    fn gres_and_nsr_are_off_during_maintenance_and_back_after() {
        let original: Vec<String> = vec![GRES.into(), NSR.into(), "system host-name spine1".into()];
        let mut config = original.clone();
        let on = enter_lines([], config.iter().map(String::as_str));
        apply(&mut config, &on);
        assert!(is_on(config.iter().map(String::as_str)));
        assert!(!config.iter().any(|s| s == GRES || s == NSR), "{config:?}");
        assert!(synchronized(config.iter().map(String::as_str)), "still a dual-engine commit");
        let off = leave_lines(config.iter().map(String::as_str));
        apply(&mut config, &off);
        let mut sorted = config.clone();
        sorted.sort();
        let mut expected = original.clone();
        expected.sort();
        assert_eq!(sorted, expected);
        // A box that had neither gets neither.
        let mut plain: Vec<String> = vec!["system host-name leaf1".into()];
        let on = enter_lines(["ae0"], plain.iter().map(String::as_str));
        apply(&mut plain, &on);
        let off = leave_lines(plain.iter().map(String::as_str));
        apply(&mut plain, &off);
        assert_eq!(plain, ["system host-name leaf1"]);
        assert!(!synchronized(plain.iter().map(String::as_str)));
    }
}
