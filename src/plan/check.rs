//! Checks any plan — ours, hand-edited or foreign — against the planning rules, independently of
//! how the planner builds its batches. The simulator uses it to list a foreign plan's rule
//! violations as warnings; the property tests use it to hold the planner to the rules.

use std::collections::HashMap;
use std::fmt;

use super::rules::{group_cap_relaxed, redundancy_groups};
use crate::model::{DeviceId, Fabric};

/// One broken rule, in one batch (1-based) or in the plan as a whole (batch 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// 1-based batch number, or 0 for the whole plan.
    pub batch: usize,
    /// What is wrong, naming the devices.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.batch == 0 { f.write_str(&self.message) } else { write!(f, "batch {}: {}", self.batch, self.message) }
    }
}

/// Lists every rule `batches` breaks. An empty list means the plan keeps every rule that can be
/// kept on this fabric (a group of one is allowed one member per batch: it cannot do better).
pub fn check(fabric: &Fabric, batches: &[Vec<DeviceId>], max_batch_size: usize) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut seen_in: HashMap<DeviceId, usize> = HashMap::new();
    let mut previous_role = None;
    for (i, batch) in batches.iter().enumerate() {
        let number = i + 1;
        let mut say = |message: String| violations.push(Violation { batch: number, message });
        if batch.is_empty() {
            say("the batch is empty".to_string());
            continue;
        }
        if batch.len() > max_batch_size {
            say(format!("{} devices, more than the maximum of {max_batch_size}", batch.len()));
        }
        for device in batch {
            if let Some(first) = seen_in.insert(*device, number) {
                say(format!("{} is already upgraded in batch {first}", fabric.device(*device).name));
            }
        }
        let role = fabric.device(batch[0]).role;
        if let Some(other) = batch.iter().find(|d| fabric.device(**d).role != role) {
            let other = fabric.device(*other);
            say(format!(
                "mixes roles: {} is a {role}, {} is a {}",
                fabric.device(batch[0]).name,
                other.name,
                other.role
            ));
        }
        if let Some(previous) = previous_role.filter(|p| *p > role) {
            say(format!(
                "upgrades a {role} after a batch of {previous}s; leafs go before spines, spines before super-spines"
            ));
        }
        previous_role = Some(role);
    }
    check_servers(fabric, batches, &mut violations);
    check_mlag(fabric, batches, &mut violations);
    check_groups(fabric, batches, &mut violations);
    violations.sort_by_key(|v| v.batch);
    violations
}

fn check_servers(fabric: &Fabric, batches: &[Vec<DeviceId>], violations: &mut Vec<Violation>) {
    let mut batch_of: HashMap<DeviceId, usize> = HashMap::new();
    for (i, batch) in batches.iter().enumerate() {
        for device in batch {
            batch_of.entry(*device).or_insert(i + 1);
        }
    }
    let mut reported: HashMap<(DeviceId, DeviceId), ()> = HashMap::new();
    for server in fabric.servers().iter().filter(|s| s.is_multihomed()) {
        for (i, a) in server.leafs.iter().enumerate() {
            for b in &server.leafs[i + 1..] {
                let (Some(x), Some(y)) = (batch_of.get(a), batch_of.get(b)) else {
                    continue;
                };
                if x == y && reported.insert((*a, *b), ()).is_none() {
                    let message = format!(
                        "{} and {} both carry multihomed server {}",
                        fabric.device(*a).name,
                        fabric.device(*b).name,
                        server.name
                    );
                    violations.push(Violation { batch: *x, message });
                }
            }
        }
    }
}

/// MLAG peers are never in one batch: together they are their servers' only way in.
fn check_mlag(fabric: &Fabric, batches: &[Vec<DeviceId>], violations: &mut Vec<Violation>) {
    for (i, batch) in batches.iter().enumerate() {
        for &(a, b) in fabric.mlag_pairs() {
            if batch.contains(&a) && batch.contains(&b) {
                let message = format!("{} and {} are an MLAG pair", fabric.device(a).name, fabric.device(b).name);
                violations.push(Violation { batch: i + 1, message });
            }
        }
    }
}

fn check_groups(fabric: &Fabric, batches: &[Vec<DeviceId>], violations: &mut Vec<Violation>) {
    let groups = redundancy_groups(fabric);
    let mut groups_of: HashMap<DeviceId, Vec<usize>> = HashMap::new();
    for (index, group) in groups.iter().enumerate() {
        for member in &group.members {
            groups_of.entry(*member).or_default().push(index);
        }
    }
    for (i, batch) in batches.iter().enumerate() {
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for device in batch {
            for group in groups_of.get(device).into_iter().flatten() {
                *counts.entry(*group).or_default() += 1;
            }
        }
        let mut over: Vec<(usize, usize)> = counts.into_iter().collect();
        over.sort_unstable();
        for (group, count) in over {
            let cap = group_cap_relaxed(groups[group].members.len());
            if count > cap {
                let message = format!(
                    "takes down {count} of {}; at most {cap} may be down at once",
                    groups[group].describe(fabric)
                );
                violations.push(Violation { batch: i + 1, message });
            }
        }
    }
}
