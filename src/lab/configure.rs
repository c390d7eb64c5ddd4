//! The configuration RPCs of an emulated device, Junos's and NETCONF's standard ones, over the
//! configuration tree ([`super::config`]): the shared candidate (changed by any session, unless
//! one holds the exclusive lock), private candidates, commits (checked, confirmed,
//! synchronised), rollbacks, and the four formats. An option the lab does not implement is
//! refused with the error Junos gives, never answered with a success that changed nothing.

use std::fmt::Write as _;

use super::Lab;
use super::config::{Config, ConfigError};
use super::device::LabDevice;
use super::rpc::rpc_error;
use crate::faults::{FaultKind, FaultPhase};
use crate::model::Engines;
use crate::netconf::xml::{Element, escape};

const JUNOS_NS: &str = "http://xml.juniper.net/junos/21.4R3/junos";

/// Answers a configuration RPC, or `None` when `request` is not one.
pub fn handle(lab: &Lab, state: &mut LabDevice, session: u64, request: &Element, now: u64) -> Option<String> {
    let reply = match request.name.as_str() {
        "get-configuration" => get_configuration(state, session, request),
        "load-configuration" => load_configuration(state, session, request),
        "commit-configuration" => commit_configuration(state, session, request, now),
        "lock-configuration" => lock(lab, state, session),
        "unlock-configuration" => unlock(state, session),
        "open-configuration" => open_configuration(state, session, request),
        "close-configuration" => close_configuration(state, session),
        "get-rollback-information" => rollback_information(state, request),
        // The standard operations (RFC 6241), as Junos implements them.
        "lock" | "unlock" => match datastore(request, "target") {
            Ok(_) if request.name == "lock" => lock(lab, state, session),
            Ok(_) => unlock(state, session),
            Err(e) => e,
        },
        "get-config" => get_config(state, session, request),
        "get" => data(&state.config.filtered(filter(request))),
        "edit-config" => edit_config(state, session, request),
        "validate" => match datastore(request, "source") {
            Ok(_) => "<ok/>".into(),
            Err(e) => e,
        },
        "discard-changes" => discard_changes(state, session),
        "commit" => standard_commit(state, session, request, now),
        _ => return None,
    };
    Some(reply)
}

fn refused(tag: &str, message: &str, element: Option<&str>) -> String {
    rpc_error(tag, message, element)
}

/// A configuration error as Junos answers it: the message, the hierarchy (`<error-path>`) and
/// the word (`<bad-element>`).
fn config_error(error: &ConfigError) -> String {
    let error_rpc = rpc_error("invalid-value", &error.message, Some(&error.element));
    let path = format!("<error-path>{}</error-path>", escape(&error.edit_path()));
    error_rpc.replacen("<error-message>", &format!("{path}<error-message>"), 1)
}

/// The candidate this session edits: its private one, or the shared one.
fn candidate(state: &LabDevice, session: u64) -> Config {
    if let Some((_, private)) = state.private.get(&session) {
        return private.clone();
    }
    state.candidate.as_ref().map_or_else(|| state.config.clone(), |(c, _)| c.clone())
}

/// May this session change the shared candidate? Not while another holds the exclusive lock.
fn may_edit(state: &LabDevice, session: u64) -> Result<(), String> {
    match state.lock {
        Some(holder) if holder != session && !state.private.contains_key(&session) => {
            Err(refused("lock-denied", &format!("configuration database locked by session {holder}"), None))
        }
        _ => Ok(()),
    }
}

fn store_candidate(state: &mut LabDevice, session: u64, config: Config) {
    if let Some((_, private)) = state.private.get_mut(&session) {
        *private = config;
        return;
    }
    state.candidate = if config == state.config { None } else { Some((config, session)) };
}

fn get_configuration(state: &LabDevice, session: u64, request: &Element) -> String {
    for (name, value) in &request.attributes {
        let known = match name.as_str() {
            "format" => ["xml", "text", "set", "json"].contains(&value.as_str()),
            "database" => ["committed", "candidate"].contains(&value.as_str()),
            "compare" => value == "rollback",
            "rollback" => value.parse::<usize>().is_ok_and(|n| n < 50),
            "inherit" => ["inherit", "defaults"].contains(&value.as_str()),
            // The lab runs no commit scripts: with or without them the configuration is the same.
            "commit-scripts" => ["apply", "view", "apply-no-transients"].contains(&value.as_str()),
            "changed" | "groups" | "interface-ranges" => false,
            _ => false,
        };
        if !known {
            return refused("invalid-value", &format!("invalid value for attribute {name}: {value}"), Some(name));
        }
    }
    let format = request.attribute("format").unwrap_or("xml");
    let config = match request.attribute("database").unwrap_or("committed") {
        "candidate" => candidate(state, session),
        _ => state.config.clone(),
    };
    if request.attribute("compare") == Some("rollback") {
        let n: usize = request.attribute("rollback").and_then(|n| n.parse().ok()).unwrap_or(0);
        let Some(old) = rollback(state, n) else {
            return refused("invalid-value", &format!("rollback {n} does not exist"), None);
        };
        let diff = candidate(state, session).compare(&old);
        // Junos answers "no differences" with an output of one newline, not an empty element.
        let diff = if diff.is_empty() { "\n".to_string() } else { diff };
        return format!(
            "<configuration-information><configuration-output>{}</configuration-output></configuration-information>",
            escape(&diff)
        );
    }
    // `inherit`: the groups applied, as `| display inheritance` shows them.
    let config = if request.attribute("inherit").is_some() { config.inherited() } else { config };
    let config = config.filtered(request.child("configuration"));
    render(&config, format)
}

fn render(config: &Config, format: &str) -> String {
    match format {
        "text" => format!("<configuration-text>{}</configuration-text>", escape(&config.text())),
        "set" => {
            let lines: Vec<String> = config
                .set_lines()
                .into_iter()
                .map(|l| if l.starts_with("deactivate ") { l } else { format!("set {l}") })
                .collect();
            format!("<configuration-set>{}</configuration-set>", escape(&lines.join("\n")))
        }
        // Junos answers JSON as the reply's own text, no element around it (what PyEZ parses).
        "json" => format!("\n{}\n", escape(&config.json())),
        _ => {
            let xml = config.xml();
            // Junos marks the committed configuration with who and when.
            xml.replacen(
                "<configuration>",
                &format!(
                    "<configuration xmlns:junos=\"{JUNOS_NS}\" junos:commit-seconds=\"0\" junos:commit-user=\"netops\">"
                ),
                1,
            )
        }
    }
}

/// `rollback N`: 0 is the committed configuration.
fn rollback(state: &LabDevice, n: usize) -> Option<Config> {
    if n == 0 { Some(state.config.clone()) } else { state.history.get(n - 1).cloned() }
}

fn load_configuration(state: &mut LabDevice, session: u64, request: &Element) -> String {
    if let Err(e) = may_edit(state, session) {
        return e;
    }
    if request.attribute("url").is_some() {
        return refused("operation-not-supported", "the lab loads configuration text, not from a URL", Some("url"));
    }
    let mut config = candidate(state, session);
    let action = request.attribute("action").unwrap_or("merge");
    let format = request.attribute("format").unwrap_or("xml");
    let result: Result<Vec<String>, ConfigError> = if let Some(n) = request.attribute("rollback") {
        match n.parse::<usize>().ok().and_then(|n| rollback(state, n)) {
            Some(old) => {
                config = old;
                Ok(Vec::new())
            }
            None => return refused("invalid-value", &format!("rollback {n} does not exist"), Some("rollback")),
        }
    } else if let Some(set) = request.child("configuration-set") {
        if !matches!(action, "set" | "merge") {
            return refused("invalid-value", &format!("action {action} does not take set statements"), Some(action));
        }
        config.load_set(&set.text)
    } else if let Some(text) = request.child("configuration-text") {
        if action == "set" {
            config.load_set(&text.text)
        } else {
            config.load_text(&text.text, action).map(|()| Vec::new())
        }
    } else if let Some(xml) = request.child("configuration") {
        config.load_xml(xml, action).map(|()| Vec::new())
    } else if let Some(json) = request.child("configuration-json") {
        config.load_json(&json.text, action).map(|()| Vec::new())
    } else if format == "json" && !request.text.trim().is_empty() {
        config.load_json(&request.text, action).map(|()| Vec::new())
    } else {
        return refused(
            "missing-element",
            "load-configuration needs configuration, configuration-text or configuration-set",
            None,
        );
    };
    match result {
        Ok(warnings) => {
            store_candidate(state, session, config);
            let mut out = String::from("<load-configuration-results>");
            for warning in warnings {
                let _ = write!(
                    out,
                    "<rpc-error><error-type>protocol</error-type><error-severity>warning</error-severity><error-message>{}</error-message></rpc-error>",
                    escape(&warning)
                );
            }
            out.push_str("<load-success/></load-configuration-results>");
            out
        }
        Err(e) => format!(
            "<load-configuration-results>{}<load-error-count>1</load-error-count></load-configuration-results>",
            config_error(&e)
        ),
    }
}

fn commit_configuration(state: &mut LabDevice, session: u64, request: &Element, now: u64) -> String {
    if request.child("at-time").is_some() {
        return refused("operation-not-supported", "the lab does not schedule commits", Some("at-time"));
    }
    // Junos's <confirm-timeout> is in minutes.
    let confirmed = request
        .child("confirmed")
        .map(|_| 60 * request.text_of("confirm-timeout").and_then(|m| m.parse::<u64>().ok()).unwrap_or(10));
    commit(state, session, request.child("check").is_some(), request.child("synchronize").is_some(), confirmed, now)
}

/// Commits this session's candidate (or only checks it); `confirmed` seconds to wait for the
/// confirmation before rolling back.
fn commit(
    state: &mut LabDevice,
    session: u64,
    check: bool,
    synchronize: bool,
    confirmed: Option<u64>,
    now: u64,
) -> String {
    if let Err(e) = may_edit(state, session) {
        return e;
    }
    if !check {
        let next = candidate(state, session);
        let previous = state.config.clone();
        if let Some((base, _)) = state.private.get(&session)
            && *base != state.config
        {
            return refused(
                "operation-failed",
                "configuration database modified: commit from a fresh private session",
                None,
            );
        }
        state.commit(next.clone());
        if let Some(private) = state.private.get_mut(&session) {
            *private = (next.clone(), next);
        } else {
            state.candidate = None;
        }
        if let Some(seconds) = confirmed {
            // A second confirmed commit extends the first; its rollback target stays.
            let target = state.confirm.take().map_or(previous, |(_, target)| target);
            state.confirm = Some((now + seconds.max(1), target));
        } else {
            state.confirm = None;
        }
    }
    commit_results(state, check, synchronize)
}

fn commit_results(state: &LabDevice, check: bool, synchronize: bool) -> String {
    let success = if check { "<commit-check-success/>" } else { "<commit-success/>" };
    // A synchronised commit answers for both routing engines.
    let engines: Vec<&str> = if synchronize && state.layout == Engines::Dual {
        vec!["re0", "re1"]
    } else {
        vec![state.engines[0].name.as_str()]
    };
    let mut out = String::from("<commit-results>");
    for engine in engines {
        let _ = write!(
            out,
            "<routing-engine junos:style=\"normal\" xmlns:junos=\"{JUNOS_NS}\"><name>{engine}</name>{success}</routing-engine>"
        );
    }
    out.push_str("</commit-results>");
    out
}

fn lock(lab: &Lab, state: &mut LabDevice, session: u64) -> String {
    if lab.fault(&state.name, FaultPhase::Maintenance) == Some(FaultKind::LockHeld) {
        return refused(
            "lock-denied",
            "configuration database locked by: netops terminal p0 (pid 4242) on since 2026-11-25 09:14:56 UTC",
            None,
        );
    }
    match (state.lock, &state.candidate) {
        (Some(holder), _) if holder != session => {
            refused("lock-denied", &format!("configuration database locked by session {holder}"), None)
        }
        // Junos refuses an exclusive lock over someone else's uncommitted changes.
        (_, Some((_, editor))) if *editor != session => {
            refused("lock-denied", "configuration database modified: another session has uncommitted changes", None)
        }
        _ => {
            state.lock = Some(session);
            "<ok/>".into()
        }
    }
}

fn unlock(state: &mut LabDevice, session: u64) -> String {
    match state.lock {
        Some(holder) if holder == session => {
            state.lock = None;
            "<ok/>".into()
        }
        Some(holder) => refused("lock-denied", &format!("configuration database locked by session {holder}"), None),
        None => refused("operation-failed", "configuration database is not locked", None),
    }
}

fn open_configuration(state: &mut LabDevice, session: u64, request: &Element) -> String {
    if request.child("private").is_some() {
        if let Some(holder) = state.lock.filter(|h| *h != session) {
            return refused("lock-denied", &format!("configuration database locked by session {holder}"), None);
        }
        state.private.insert(session, (state.config.clone(), state.config.clone()));
        return "<ok/>".into();
    }
    match request.children.first().map(|c| c.name.as_str()) {
        Some("exclusive") => lock_open(state, session),
        Some(other) => {
            refused("operation-not-supported", &format!("the lab does not open {other} databases"), Some(other))
        }
        None => "<ok/>".into(),
    }
}

fn lock_open(state: &mut LabDevice, session: u64) -> String {
    match state.lock {
        Some(holder) if holder != session => {
            refused("lock-denied", &format!("configuration database locked by session {holder}"), None)
        }
        _ => {
            state.lock = Some(session);
            "<ok/>".into()
        }
    }
}

fn close_configuration(state: &mut LabDevice, session: u64) -> String {
    state.private.remove(&session);
    "<ok/>".into()
}

fn rollback_information(state: &LabDevice, request: &Element) -> String {
    let n: usize = request.text_of("rollback").and_then(|n| n.parse().ok()).unwrap_or(0);
    let Some(config) = rollback(state, n) else {
        return refused("invalid-value", &format!("rollback {n} does not exist"), Some("rollback"));
    };
    if let Some(compare) = request.text_of("compare") {
        let Some(other) = compare.parse().ok().and_then(|m: usize| rollback(state, m)) else {
            return refused("invalid-value", &format!("rollback {compare} does not exist"), Some("compare"));
        };
        return format!(
            "<rollback-information><configuration-information><configuration-output>{}</configuration-output></configuration-information></rollback-information>",
            escape(&config.compare(&other))
        );
    }
    format!(
        "<rollback-information>{}</rollback-information>",
        render(&config, request.text_of("format").unwrap_or("text"))
    )
}

/// The datastore named under `<target>` or `<source>`: `candidate` or `running`.
fn datastore<'a>(request: &'a Element, which: &str) -> Result<&'a str, String> {
    let Some(target) = request.child(which).and_then(|t| t.children.first()) else {
        return Err(refused("missing-element", &format!("{} needs a <{which}>", request.name), Some(which)));
    };
    match target.name.as_str() {
        "candidate" | "running" => Ok(target.name.as_str()),
        other => Err(refused("invalid-value", &format!("datastore {other} is not supported"), Some(other))),
    }
}

/// A `<filter>` (subtree) holding a `<configuration>`, if any.
fn filter(request: &Element) -> Option<&Element> {
    request.child("filter").and_then(|f| f.child("configuration"))
}

fn data(config: &Config) -> String {
    format!("<data>{}</data>", config.xml())
}

fn get_config(state: &LabDevice, session: u64, request: &Element) -> String {
    let config = match datastore(request, "source") {
        Ok("candidate") => candidate(state, session),
        Ok(_) => state.config.clone(),
        Err(e) => return e,
    };
    data(&config.filtered(filter(request)))
}

fn edit_config(state: &mut LabDevice, session: u64, request: &Element) -> String {
    match datastore(request, "target") {
        Ok("candidate") => {}
        Ok(_) => {
            return refused(
                "operation-not-supported",
                "the running configuration is not writable; edit the candidate",
                Some("running"),
            );
        }
        Err(e) => return e,
    }
    if let Err(e) = may_edit(state, session) {
        return e;
    }
    if request.child("url").is_some() {
        return refused("operation-not-supported", "the lab edits from inline configuration, not a URL", Some("url"));
    }
    let operation = request.text_of("default-operation").unwrap_or("merge");
    let action = match operation {
        "merge" => "merge",
        "replace" => "override",
        "none" => "merge",
        other => return refused("invalid-value", &format!("default-operation {other}"), Some(other)),
    };
    let mut config = candidate(state, session);
    let loaded = if let Some(xml) = request.child("config").and_then(|c| c.child("configuration")) {
        config.load_xml(xml, action)
    } else if let Some(text) = request.child("config-text").and_then(|c| c.child("configuration-text")) {
        config.load_text(&text.text, action)
    } else {
        return refused(
            "missing-element",
            "edit-config needs <config><configuration> or <config-text>",
            Some("config"),
        );
    };
    match loaded {
        Ok(()) => {
            if request.text_of("test-option") != Some("test-only") {
                store_candidate(state, session, config);
            }
            "<ok/>".into()
        }
        Err(e) => config_error(&e),
    }
}

fn discard_changes(state: &mut LabDevice, session: u64) -> String {
    if let Err(e) = may_edit(state, session) {
        return e;
    }
    if let Some((base, private)) = state.private.get_mut(&session) {
        *private = base.clone();
    } else {
        state.candidate = None;
    }
    "<ok/>".into()
}

fn standard_commit(state: &mut LabDevice, session: u64, request: &Element, now: u64) -> String {
    if request.child("persist").is_some() || request.child("persist-id").is_some() {
        return refused("operation-not-supported", "persistent confirmed commits are not supported", Some("persist"));
    }
    // RFC 6241's <confirm-timeout> is in seconds (600 by default).
    let confirmed = request
        .child("confirmed")
        .map(|_| request.text_of("confirm-timeout").and_then(|s| s.parse::<u64>().ok()).unwrap_or(600));
    let reply = commit(state, session, false, false, confirmed, now);
    if reply.contains("<rpc-error>") { reply } else { "<ok/>".into() }
}
