//! `hitless snapshot`: every selected device's snapshot at once (bounded parallelism), kept in
//! the store under one id; and `hitless diff`: two kept snapshots compared device by device.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::exec::Driver;
use crate::health::HealthLimits;
use crate::scenario::Scenario;
use crate::snapshot::Snapshot;

/// Devices asked at once.
pub const PARALLEL: usize = 16;

/// Takes the snapshot of every device the scenario's selection names (to upgrade or skipped).
/// A device that cannot be reached gets a snapshot whose `missing` says why.
pub async fn take<D: Driver>(scenario: &Scenario, driver: &Arc<D>) -> Vec<(String, Snapshot)> {
    let mut names: Vec<String> =
        scenario.selection.targets.iter().map(|t| scenario.fabric.device(t.device).name.clone()).collect();
    names.extend(scenario.selection.skipped.iter().map(|(id, _)| scenario.fabric.device(*id).name.clone()));
    names.sort();
    let permits = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, name) in names.iter().cloned().enumerate() {
        let (driver, permits) = (Arc::clone(driver), Arc::clone(&permits));
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("the semaphore is never closed");
            let snapshot = match driver.snapshot(&name).await {
                Ok(snapshot) => snapshot,
                Err(e) => Snapshot { missing: vec![e.to_string()], ..Snapshot::default() },
            };
            (index, snapshot)
        });
    }
    let mut taken: Vec<Option<Snapshot>> = vec![None; names.len()];
    while let Some(done) = tasks.join_next().await {
        if let Ok((index, snapshot)) = done {
            taken[index] = Some(snapshot);
        }
    }
    names
        .into_iter()
        .zip(taken)
        .map(|(name, snapshot)| {
            let snapshot = snapshot.unwrap_or_else(|| Snapshot {
                missing: vec!["hitless failed internally while taking this snapshot".into()],
                ..Snapshot::default()
            });
            (name, snapshot)
        })
        .collect()
}

/// One device in `hitless diff` (`--format json` prints a list of these).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceDiff {
    /// Device name.
    pub device: String,
    /// Every way the second snapshot differs beyond the tolerances; empty when the same.
    pub findings: Vec<String>,
}

/// What the first snapshot of a device did not read, as findings: a figure missing from the
/// baseline cannot be compared, so it is never reported as "the same".
fn unread_baseline(before: &Snapshot) -> Vec<String> {
    let figures = [
        ("BGP peers", before.bgp_peers.is_none()),
        ("routes", before.routes.is_none()),
        ("LLDP neighbours", before.lldp.is_none()),
        ("LACP bundles", before.lacp.is_none()),
        ("interfaces", before.interfaces_up.is_none()),
        ("the MAC count", before.macs.is_none()),
        ("routing-engine CPU", before.re_cpu_idle_percent.is_none()),
        ("alarms", before.alarms.is_none()),
    ];
    let unread: Vec<&str> = figures.iter().filter(|(_, missing)| *missing).map(|(what, _)| *what).collect();
    if unread.is_empty() {
        return Vec::new();
    }
    let why = if before.missing.is_empty() { String::new() } else { format!(" ({})", before.missing.join("; ")) };
    if unread.len() == figures.len() {
        return vec![format!(
            "the first snapshot read nothing of this device{why}: there is no baseline to compare with"
        )];
    }
    vec![format!("not compared, because the first snapshot did not read them: {}{why}", unread.join(", "))]
}

/// Compares `b` with `a`, device by device. A figure the first snapshot did not read is a
/// finding (it cannot be compared). A device in `a` and not in `b` is a finding; one
/// only in `b` is listed with nothing to compare.
pub fn compare(a: &[(String, Snapshot)], b: &[(String, Snapshot)], limits: &HealthLimits) -> Vec<DeviceDiff> {
    let later: BTreeMap<&str, &Snapshot> = b.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let mut out: Vec<DeviceDiff> = a
        .iter()
        .map(|(name, before)| {
            let mut findings = unread_baseline(before);
            match later.get(name.as_str()) {
                Some(after) => findings.extend(crate::snapshot::diff(before, after, limits)),
                None => findings.push("not in the second snapshot".to_string()),
            }
            DeviceDiff { device: name.clone(), findings }
        })
        .collect();
    for (name, _) in b.iter().filter(|(n, _)| !a.iter().any(|(m, _)| m == n)) {
        out.push(DeviceDiff { device: name.clone(), findings: vec!["not in the first snapshot".to_string()] });
    }
    out
}
