//! The fabric as it is, not as the scenario draws it: before the simulation gate (and again
//! before each batch), the state of every device whose loss matters to the plan. A partner that
//! is already down, drained, or in the middle of another job's upgrade is out of service in the
//! simulation, so the gate refuses a plan that would take down the other side of its pair.
//!
//! Whose loss matters ([`partners`]): every device within two links of a device to upgrade (a
//! leaf's spines and the spines' other leafs; a spine's leafs and their other spines; the tiers
//! above), the other leafs of every server it serves, and every device with a critical role
//! (route reflectors, border leafs). What makes one out of service ([`out_of_service`]): it does
//! not answer or its state cannot be read (down: fail closed), it is in maintenance mode
//! (drained), another open job has begun on it (down: it may reboot at any moment), or the
//! scenario declares it out (down).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::exec::Driver;
use crate::journal::DeviceState;
use crate::model::DeviceId;
use crate::scenario::Scenario;
use crate::simulate::OutOfService;
use crate::store::Store;

use super::WorkflowError;

/// Devices asked at once.
const PARALLEL: usize = 32;

/// The devices, not among `targets`, whose state matters to upgrading `targets`.
pub fn partners(scenario: &Scenario, targets: &[DeviceId]) -> Vec<DeviceId> {
    let fabric = &scenario.fabric;
    let upgrading: BTreeSet<DeviceId> = targets.iter().copied().collect();
    let mut found = BTreeSet::new();
    for &target in targets {
        for &near in fabric.neighbours(target) {
            found.insert(near);
            found.extend(fabric.neighbours(near).iter().copied());
        }
        for server in fabric.servers().iter().filter(|s| s.leafs.contains(&target)) {
            found.extend(server.leafs.iter().copied());
        }
    }
    found.extend(fabric.iter().filter(|(_, d)| !d.critical_roles.is_empty()).map(|(id, _)| id));
    found.retain(|id| !upgrading.contains(id));
    // In fabric (file) order.
    fabric.iter().map(|(id, _)| id).filter(|id| found.contains(id)).collect()
}

/// What the store says of `devices`: those another open job (not `job`) has begun on and not
/// returned to service.
pub fn busy_in_other_jobs(
    store: &Store,
    scenario: &Scenario,
    devices: &[DeviceId],
    job: Option<&str>,
) -> Result<BTreeMap<DeviceId, String>, WorkflowError> {
    let names: BTreeMap<&str, DeviceId> =
        devices.iter().map(|id| (scenario.fabric.device(*id).name.as_str(), *id)).collect();
    let addresses: BTreeMap<&str, DeviceId> =
        devices.iter().filter_map(|id| Some((scenario.fabric.device(*id).address.as_deref()?, *id))).collect();
    let mut busy = BTreeMap::new();
    for other in crate::store::jobs::open_job_devices(store)? {
        if Some(other.job.as_str()) == job {
            continue;
        }
        let untouched = matches!(
            other.state,
            DeviceState::Pending
                | DeviceState::Skipped
                | DeviceState::Cancelled
                | DeviceState::MaintenanceModeDeactivated
                | DeviceState::RolledBack
        );
        if untouched {
            continue;
        }
        let id = names.get(other.device.as_str()).or_else(|| addresses.get(other.address.as_str()));
        if let Some(id) = id {
            busy.entry(*id).or_insert_with(|| format!("job {} has it in state {}", other.job, other.state));
        }
    }
    Ok(busy)
}

/// The devices of `partners` that are out of service, and why, in fabric order: the scenario's
/// declarations, the store's other jobs (`busy`, from [`busy_in_other_jobs`]), and each device's
/// own answer (asked at most [`PARALLEL`] at once).
pub async fn out_of_service<D: Driver>(
    scenario: &Scenario,
    driver: &Arc<D>,
    partners: &[DeviceId],
    busy: &BTreeMap<DeviceId, String>,
) -> Vec<OutOfService> {
    let declared: BTreeMap<DeviceId, &String> = scenario.out_of_service.iter().map(|(id, why)| (*id, why)).collect();
    let permits = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut tasks = tokio::task::JoinSet::new();
    for &id in partners {
        let (driver, permits) = (Arc::clone(driver), Arc::clone(&permits));
        let name = scenario.fabric.device(id).name.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("the semaphore is never closed");
            let found = match driver.facts(&name).await {
                Err(e) if e.is_transport() => Some((true, format!("it does not answer ({e})"))),
                // A refused login or an unusable reply: its state cannot be known, so it is
                // taken as down (fail closed).
                Err(e) => Some((true, format!("its state cannot be read ({e})"))),
                Ok(facts) if facts.maintenance => Some((
                    false,
                    match &facts.maintenance_owner {
                        Some(job) => format!("it is in maintenance mode (for job {job})"),
                        None => "it is in maintenance mode".to_string(),
                    },
                )),
                Ok(_) => None,
            };
            (id, found)
        });
    }
    let mut asked: BTreeMap<DeviceId, (bool, String)> = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((id, Some(found))) => {
                asked.insert(id, found);
            }
            Ok((_, None)) => {}
            // A task that died proves nothing about its device: fail closed.
            Err(e) => tracing::error!(error = %e, "a fabric-state task failed"),
        }
    }
    let mut out = Vec::new();
    for &id in partners {
        let mut reasons = Vec::new();
        let mut down = false;
        if let Some(why) = declared.get(&id) {
            reasons.push((*why).clone());
            down = true;
        }
        if let Some(why) = busy.get(&id) {
            reasons.push(why.clone());
            down = true;
        }
        if let Some((is_down, why)) = asked.get(&id) {
            reasons.push(why.clone());
            down |= *is_down;
        }
        if !reasons.is_empty() {
            out.push(OutOfService { device: id, down, why: reasons.join("; ") });
        }
    }
    // Declared devices are out whether or not they are partners of this selection.
    let targets: Vec<DeviceId> = scenario.selection.targets.iter().map(|t| t.device).collect();
    for declared in crate::simulate::input::declared_out(scenario, &[targets]) {
        if !out.iter().any(|o| o.device == declared.device) {
            out.push(declared);
        }
    }
    out
}
