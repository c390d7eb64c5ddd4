//! Maintenance mode, described once: what hitless commits on a device to drain it (the Junos
//! driver's lines, which the lab interprets) and what that does to traffic (the simulator's
//! [`Effects`]). Both come from one [`MaintenanceMode`], so changing one changes the other.
//!
//! Maintenance mode on a fabric switch (see `shared/reference/junos-netconf.md` §5), each part
//! configurable under `upgrade.maintenance`:
//! - BGP graceful shutdown (RFC 8326, `bgp_graceful_shutdown`, on by default):
//!   `set protocols bgp graceful-shutdown sender`, so peers move their traffic to other paths
//!   while the session stays up;
//! - every multihomed server's LAG disabled (`disable_server_lags`, on by default): the device's
//!   LACP bundles that carry an EVPN Ethernet segment (`interfaces aeN esi ...` in its
//!   configuration, an ESI-LAG) get `set interfaces aeN disable`, so those servers move to their
//!   other leaf before the reboot. Bundles without an ESI are left alone: a single-homed server
//!   has no other leaf (disabling its bundle would only cut it off for longer), and uplinks or
//!   links to the world beyond a border leaf are not servers' at all. A bundle an operator had
//!   already disabled stays as it was; the ones hitless disables are recorded on the device
//!   (`apply-macro hitless-restore lag-aeN`) and only those are enabled again;
//! - `extra` lines a fabric adds (`set` lines, removed again with `delete` on the way out),
//!   committed as given and not modelled by the simulator;
//! - on a box with two routing engines, graceful Routing Engine switchover (GRES) and nonstop
//!   routing (NSR) turned off for the upgrade, as the seed's Contrail does, and turned back on
//!   after. Which of the two were on is recorded on the device itself, as the
//!   `apply-macro hitless-restore` statement, so a controller that dies in between still
//!   restores exactly what it found.

/// The configuration statement (without `set `) of BGP graceful shutdown.
pub const GRACEFUL_SHUTDOWN: &str = "protocols bgp graceful-shutdown sender";
/// The statement (without `set `) that marks a device hitless put in maintenance mode.
pub const MARKER: &str = "apply-macro hitless-maintenance active";
/// The marker's macro as a whole, which leaving maintenance mode deletes.
const MARKER_MACRO: &str = "apply-macro hitless-maintenance";
/// Graceful shutdown's statement as a whole.
const GRACEFUL_SHUTDOWN_CONTAINER: &str = "protocols bgp graceful-shutdown";

/// What maintenance mode consists of on a fabric (`upgrade.maintenance`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceMode {
    /// BGP graceful shutdown towards the device's peers.
    pub bgp_graceful_shutdown: bool,
    /// The device's multihomed servers' LAGs (ESI-LAGs) disabled.
    pub disable_server_lags: bool,
    /// More `set` lines the fabric's practice adds; not modelled by the simulator.
    pub extra: Vec<String>,
}

impl Default for MaintenanceMode {
    fn default() -> Self {
        MaintenanceMode { bgp_graceful_shutdown: true, disable_server_lags: true, extra: Vec::new() }
    }
}

/// What maintenance mode does to traffic, as the simulator models it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effects {
    /// Other switches route around the device where they can, once BGP converges.
    pub fabric_avoids: bool,
    /// The device's links to its multihomed servers are down: those servers move to their other
    /// leafs at once (and are cut off if every one of their leafs is in maintenance mode).
    /// Single-homed servers and the world beyond a border leaf keep their links.
    pub servers_cut: bool,
}

impl MaintenanceMode {
    /// What this maintenance mode does to traffic.
    pub fn effects(&self) -> Effects {
        Effects { fabric_avoids: self.bgp_graceful_shutdown, servers_cut: self.disable_server_lags }
    }

    /// Why an `extra` line cannot be used, if one cannot: only `set` lines can be taken back.
    pub fn check(&self) -> Result<(), NotSetLine> {
        match self.extra.iter().find(|l| !l.trim().starts_with("set ")) {
            Some(line) => Err(NotSetLine(line.clone())),
            None => Ok(()),
        }
    }
}

/// An `upgrade.maintenance.extra` line that is not a `set` line (so could not be taken back).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("upgrade.maintenance.extra lines must be `set` lines (to be deleted again after), not {0:?}")]
pub struct NotSetLine(pub String);

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

///
/// Only statements in effect count: one a `deactivate` line covers (the statement itself or
/// anything below it) is left out, as Junos leaves it out. An inactive `disable` on a bundle
/// does not disable it, and an inactive `esi` does not make it an ESI-LAG: reading either as in
/// effect would leave a live bundle up through a reboot, or cut a server off its only leaf.
fn statements<'a>(committed: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let lines: Vec<&str> = committed.into_iter().map(str::trim).collect();
    let inactive: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("deactivate ")).map(str::trim).collect();
    let covered =
        |s: &str| inactive.iter().any(|p| s == *p || s.strip_prefix(p).is_some_and(|rest| rest.starts_with(' ')));
    lines
        .into_iter()
        .filter(|l| !l.starts_with("deactivate ") && !l.starts_with("activate "))
        .map(statement)
        .filter(|s| !covered(s))
        .collect()
}

/// A `set` line's statement (the line itself when written without `set `).
fn statement(line: &str) -> &str {
    let line = line.trim();
    line.strip_prefix("set ").unwrap_or(line)
}

/// True when the configuration gives bundle `lag` an EVPN Ethernet segment (an ESI-LAG to a
/// multihomed server).
fn has_esi(committed: &[&str], lag: &str) -> bool {
    let prefix = format!("interfaces {lag} esi ");
    committed.iter().any(|s| s.starts_with(&prefix))
}

/// The restore-macro key prefix recording that maintenance mode activated bundle `lag`'s
/// deactivated `disable` (to deactivate it again on the way out).
const INACTIVE_LAG: &str = "inactive-lag-";

/// The restore-macro key recording that maintenance mode disabled bundle `lag`.
fn lag_key(lag: &str) -> String {
    format!("lag-{lag}")
}

/// The `set`/`delete` lines that turn `mode` on, given the device's LACP bundles (as
/// `get-lacp-interface-information` lists them) and its committed configuration (statements,
/// with or without `set `). Of the bundles, only ESI-LAGs not already disabled are disabled.
pub fn enter_lines<'a>(
    mode: &MaintenanceMode,
    lags: impl IntoIterator<Item = &'a str>,
    committed: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let written: Vec<&str> = committed.into_iter().collect();
    let committed = statements(written.iter().copied());
    let mut lines = vec![format!("set {MARKER}")];
    if mode.bgp_graceful_shutdown {
        lines.push(format!("set {GRACEFUL_SHUTDOWN}"));
    }
    if mode.disable_server_lags {
        for lag in lags.into_iter().filter(|l| is_lag(l) && has_esi(&committed, l)) {
            let disable = disable_statement(lag);
            if committed.contains(&disable.as_str()) {
                continue; // Disabled already: nothing to do, nothing to restore.
            }
            // A `disable` written but deactivated stays inactive whatever is set over it:
            // it is activated, and deactivated again on the way out.
            let inactive = written.iter().any(|l| statement(l) == disable);
            if inactive {
                lines.push(format!("activate {disable}"));
                lines.push(format!("set {RESTORE_MACRO} {INACTIVE_LAG}{lag}"));
            } else {
                lines.push(format!("set {disable}"));
                lines.push(format!("set {RESTORE_MACRO} {}", lag_key(lag)));
            }
        }
    }
    lines.extend(mode.extra.iter().map(|l| l.trim().to_string()));
    // NSR needs GRES, so both go in one commit; the macro says which to bring back.
    for (statement, key) in REDUNDANCY {
        if committed.contains(&statement) {
            lines.push(format!("delete {statement}"));
            lines.push(format!("set {RESTORE_MACRO} {key}"));
        }
    }
    lines
}

/// The lines that turn `mode` off, given the device's committed configuration as statements
/// (`set` lines with or without the `set `): graceful shutdown removed, the bundles maintenance
/// mode disabled (as the device's restore macro records them) enabled again, the extra lines
/// deleted, and GRES and NSR back if they were on.
pub fn leave_lines<'a>(mode: &MaintenanceMode, committed: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let committed = statements(committed);
    // Whole statements go: the marker's macro, and graceful shutdown with all it holds.
    let mut lines = vec![format!("delete {MARKER_MACRO}"), format!("delete {GRACEFUL_SHUTDOWN_CONTAINER}")];
    lines.extend(mode.extra.iter().filter_map(|l| l.trim().strip_prefix("set ")).map(|s| format!("delete {s}")));
    let mut restoring = false;
    let recorded = format!("{RESTORE_MACRO} lag-");
    let reactivated = format!("{RESTORE_MACRO} {INACTIVE_LAG}");
    for statement in &committed {
        if let Some(lag) = statement.strip_prefix(&recorded)
            && is_lag(lag)
        {
            lines.push(format!("delete {}", disable_statement(lag)));
            restoring = true;
        }
        if let Some(lag) = statement.strip_prefix(&reactivated)
            && is_lag(lag)
        {
            lines.push(format!("deactivate {}", disable_statement(lag)));
            restoring = true;
        }
    }
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

/// The marker's key naming the job that put the device in maintenance mode:
/// `apply-macro hitless-maintenance job JOB/STORE@CONTROLLER`.
const OWNER_KEY: &str = "job";

/// The statement naming `owner` (a job's tag: `job-0001/STORE@HOST`) on the marker. Characters
/// outside `A-Z a-z 0-9 . _ - / @ :` become `_`, so the tag is one word of configuration.
pub fn owner_line(owner: &str) -> String {
    let tag: String =
        owner.chars().map(|c| if c.is_ascii_alphanumeric() || "._-/@:".contains(c) { c } else { '_' }).collect();
    format!("set {MARKER_MACRO} {OWNER_KEY} {tag}")
}

/// The job the committed configuration's marker names, if it names one.
pub fn owner<'a>(committed: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let prefix = format!("{MARKER_MACRO} {OWNER_KEY} ");
    committed.into_iter().find_map(|s| {
        let s = s.trim();
        let s = s.strip_prefix("set ").unwrap_or(s);
        s.strip_prefix(prefix.as_str()).map(|tag| tag.trim().trim_matches('"').to_string())
    })
}

/// The part of an owner tag that names the job in its store (`job-0001/STORE`): the same job
/// resumed by another process or host has the same.
pub fn owner_job(tag: &str) -> &str {
    tag.split('@').next().unwrap_or(tag)
}

/// True when the committed configuration (statements, with or without `set `) has maintenance
/// mode on: hitless's marker (or, from a hitless before the marker, graceful shutdown).
pub fn is_on<'a>(committed: impl IntoIterator<Item = &'a str>) -> bool {
    statements(committed).into_iter().any(|s| s == MARKER || s == GRACEFUL_SHUTDOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaving_undoes_exactly_what_entering_did() {
        let mode = MaintenanceMode::default();
        // ae0 and ae1 are ESI-LAGs; ae2 (a single-homed server's) and ae9 (to the WAN) have no
        // ESI; ae1 was already disabled by an operator.
        let before = [
            "interfaces ae0 esi 00:11:22:33:44:55:66:77:88:99",
            "interfaces ae0 esi all-active",
            "interfaces ae1 esi 00:11:22:33:44:55:66:77:88:aa",
            "interfaces ae1 disable",
            "interfaces ae2 aggregated-ether-options lacp active",
            "interfaces xe-0/0/3 disable",
        ];
        let on = enter_lines(&mode, ["ae0", "ae1", "ae2", "ae9", "et-0/0/48"], before);
        assert_eq!(
            on,
            [
                "set apply-macro hitless-maintenance active",
                "set protocols bgp graceful-shutdown sender",
                "set interfaces ae0 disable",
                "set apply-macro hitless-restore lag-ae0",
            ]
        );
        assert!(is_on(on.iter().map(String::as_str)));
        let committed: Vec<String> = before.iter().map(|s| s.to_string()).chain(on.iter().cloned()).collect();
        let off = leave_lines(&mode, committed.iter().map(String::as_str));
        assert_eq!(
            off,
            [
                "delete apply-macro hitless-maintenance",
                "delete protocols bgp graceful-shutdown",
                "delete interfaces ae0 disable",
                "delete apply-macro hitless-restore",
            ],
            "the operator's ae1 and xe-0/0/3 stay disabled"
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
        let mode = MaintenanceMode::default();
        let mut config = original.clone();
        let on = enter_lines(&mode, [], config.iter().map(String::as_str));
        apply(&mut config, &on);
        assert!(is_on(config.iter().map(String::as_str)));
        assert!(!config.iter().any(|s| s == GRES || s == NSR), "{config:?}");
        assert!(synchronized(config.iter().map(String::as_str)), "still a dual-engine commit");
        let off = leave_lines(&mode, config.iter().map(String::as_str));
        apply(&mut config, &off);
        let mut sorted = config.clone();
        sorted.sort();
        let mut expected = original.clone();
        expected.sort();
        assert_eq!(sorted, expected);
        // A box that had neither gets neither.
        let mut plain: Vec<String> = vec!["system host-name leaf1".into()];
        let on = enter_lines(&mode, ["ae0"], plain.iter().map(String::as_str));
        apply(&mut plain, &on);
        let off = leave_lines(&mode, plain.iter().map(String::as_str));
        apply(&mut plain, &off);
        assert_eq!(plain, ["system host-name leaf1"]);
        // Extra lines go in and come out again; parts switched off are not committed.
        let mode = MaintenanceMode {
            bgp_graceful_shutdown: false,
            disable_server_lags: false,
            extra: vec!["set protocols isis overload".into()],
        };
        let on = enter_lines(&mode, ["ae0"], plain.iter().map(String::as_str));
        assert_eq!(on, ["set apply-macro hitless-maintenance active", "set protocols isis overload"]);
        apply(&mut plain, &on);
        assert!(is_on(plain.iter().map(String::as_str)));
        let off = leave_lines(&mode, plain.iter().map(String::as_str));
        apply(&mut plain, &off);
        assert_eq!(plain, ["system host-name leaf1"]);
        assert!(
            MaintenanceMode { extra: vec!["delete system syslog".into()], ..MaintenanceMode::default() }
                .check()
                .is_err()
        );
        assert!(!synchronized(plain.iter().map(String::as_str)));
    }

    /// Deactivated statements are not in effect, and maintenance mode reads them so: a bundle
    /// whose `disable` is inactive is live and is disabled (and restored); one whose `esi` is
    /// inactive is single-homed and is left alone; a whole inactive interface is left alone;
    /// an inactive GRES is neither removed nor "restored"; an inactive marker is not "on".
    #[test]
    fn deactivated_statements_are_read_as_junos_reads_them() {
        let mode = MaintenanceMode::default();
        let before = [
            "set interfaces ae0 esi 00:11:22:33:44:55:66:77:88:99",
            "set interfaces ae1 esi 00:11:22:33:44:55:66:77:88:aa",
            "set interfaces ae1 disable",
            "set interfaces ae2 esi 00:11:22:33:44:55:66:77:88:bb",
            "set interfaces ae3 esi 00:11:22:33:44:55:66:77:88:cc",
            "set chassis redundancy graceful-switchover",
            "deactivate interfaces ae1 disable",
            "deactivate interfaces ae2 esi",
            "deactivate interfaces ae3",
            "deactivate chassis redundancy graceful-switchover",
        ];
        let on = enter_lines(&mode, ["ae0", "ae1", "ae2", "ae3"], before);
        assert!(on.contains(&"set interfaces ae0 disable".to_string()), "{on:?}");
        // ae1's written `disable` is inactive: set again it would stay so; it is activated.
        assert!(on.contains(&"activate interfaces ae1 disable".to_string()), "{on:?}");
        assert!(on.contains(&format!("set {RESTORE_MACRO} inactive-lag-ae1")), "{on:?}");
        let mut after: Vec<String> = before.iter().map(|l| l.to_string()).collect();
        after.retain(|l| l != "deactivate interfaces ae1 disable");
        after.push(format!("set {RESTORE_MACRO} inactive-lag-ae1"));
        let off = leave_lines(&mode, after.iter().map(String::as_str));
        assert!(off.contains(&"deactivate interfaces ae1 disable".to_string()), "{off:?}");
        assert!(!off.contains(&"delete interfaces ae1 disable".to_string()), "{off:?}");
        assert!(!on.iter().any(|l| l.contains("ae2") || l.contains("ae3")), "{on:?}");
        assert!(!on.iter().any(|l| l.contains("graceful-switchover")), "{on:?}");
        assert!(!is_on(["set apply-macro hitless-maintenance active", "deactivate apply-macro hitless-maintenance"]));
        assert!(is_on([format!("set {MARKER}").as_str()]));
        // A statement whose name only begins like a deactivated one is not covered by it.
        assert_eq!(
            statements(["set interfaces ae10 disable", "deactivate interfaces ae1"]),
            ["interfaces ae10 disable"]
        );
    }
}
