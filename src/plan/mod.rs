//! The strategy planner: turns a scenario's selection into ordered upgrade batches.
//!
//! The rules, as defaults a user can tune:
//! 1. Devices already at the target version are skipped, with the reason ([`crate::select`]).
//! 2. Leafs go before spines, spines before super-spines; a batch holds one role.
//! 3. A batch holds at most `max_batch_size` devices.
//! 4. Devices that back each other up never share a batch ([`rules`]).
//! 5. A single-homed server, or a rule that cannot hold, gives a warning naming the devices.
//! 6. The same input always gives the same plan.
//!
//! Within those rules the planner minimises the number of batches ([`pack`]) and reports a
//! [`bound`] so the operator sees how close to optimal the plan is. The planner does no I/O and
//! reads no clock.

pub mod bound;
pub mod check;
pub mod pack;
pub mod report;
pub mod rules;

use crate::model::{DeviceId, Role};
use crate::scenario::Scenario;

/// Knobs the operator can turn on the command line; they override the scenario.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Overrides `upgrade.max_batch_size`.
    pub max_batch_size: Option<u32>,
}

/// One batch: devices of one role upgraded together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The role of every device in the batch.
    pub role: Role,
    /// The devices, in fabric order.
    pub devices: Vec<DeviceId>,
    /// How long the batch takes: its slowest device.
    pub estimated_seconds: u64,
}

/// A complete plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The batch size the plan was made for.
    pub max_batch_size: u32,
    /// Batches in upgrade order.
    pub batches: Vec<Batch>,
    /// Selected devices that are not upgraded, with the reason.
    pub skipped: Vec<(DeviceId, String)>,
    /// No valid plan has fewer batches than this.
    pub lower_bound_batches: usize,
    /// Rules that cannot hold and losses to expect, for the operator.
    pub warnings: Vec<String>,
    /// True when the first batch is the canary (`upgrade.canary`), run alone before the rest.
    pub canary: bool,
}

impl Plan {
    /// Sum of the batches' estimates.
    pub fn estimated_total_seconds(&self) -> u64 {
        self.batches.iter().map(|b| b.estimated_seconds).sum()
    }

    /// Number of devices upgraded.
    pub fn device_count(&self) -> usize {
        self.batches.iter().map(|b| b.devices.len()).sum()
    }
}

/// Plans the upgrade a scenario describes.
pub fn plan(scenario: &Scenario, options: &PlanOptions) -> Plan {
    let fabric = &scenario.fabric;
    let max_batch_size = options.max_batch_size.unwrap_or(scenario.max_batch_size);
    assert!(max_batch_size > 0, "scenario loading and the CLI reject a batch size of 0");
    let mut is_target = vec![false; fabric.len()];
    for target in &scenario.selection.targets {
        is_target[target.device.index()] = true;
    }
    let constraints = rules::Constraints::build(fabric, &is_target);
    let mut batches = Vec::new();
    for role in Role::ALL {
        let devices: Vec<DeviceId> =
            scenario.selection.targets.iter().map(|t| t.device).filter(|d| fabric.device(*d).role == role).collect();
        let role_bound = bound::role_bound(fabric, &is_target, &constraints, max_batch_size as usize, role);
        for devices in pack::pack(&devices, &constraints, max_batch_size as usize, role_bound) {
            let estimated_seconds =
                devices.iter().map(|d| scenario.timing.device_seconds_of(fabric, *d)).max().unwrap_or(0);
            batches.push(Batch { role, devices, estimated_seconds });
        }
    }
    let lower_bound_batches = bound::lower_bound(fabric, &is_target, &constraints, max_batch_size as usize);
    let mut warnings = constraints.warnings;
    warnings.extend(downgrade_warnings(scenario, &is_target));
    let mut canary = false;
    if scenario.canary > 0 && !batches.is_empty() {
        let first = batches.remove(0);
        let (alone, rest, warning) = canary_split(scenario, first.devices);
        warnings.extend(warning);
        let estimate = |devices: &[DeviceId]| {
            devices.iter().map(|d| scenario.timing.device_seconds_of(&scenario.fabric, *d)).max()
        };
        if !rest.is_empty() {
            let estimated_seconds = estimate(&rest).unwrap_or(0);
            batches.insert(0, Batch { role: first.role, devices: rest, estimated_seconds });
        }
        let estimated_seconds = estimate(&alone).unwrap_or(0);
        batches.insert(0, Batch { role: first.role, devices: alone, estimated_seconds });
        canary = true;
    }
    assert!(batches.len() >= lower_bound_batches, "a plan cannot beat its lower bound");
    Plan { max_batch_size, batches, skipped: scenario.selection.skipped.clone(), lower_bound_batches, warnings, canary }
}

/// Splits the canary off a plan's first batch: its first `upgrade.canary` devices alone, then
/// the rest of it as a batch of their own. Any part of a batch keeps every rule the batch kept
/// (size, one role, no two devices that back each other up), so the plan stays valid. A first
/// batch smaller than the canary is the canary whole, with a warning saying so.
pub fn canary_split(scenario: &Scenario, first: Vec<DeviceId>) -> (Vec<DeviceId>, Vec<DeviceId>, Option<String>) {
    let wanted = scenario.canary as usize;
    let warning = (first.len() < wanted).then(|| {
        format!(
            "canary: the first batch has only {} device(s) ({}), so the canary is those, not {wanted}",
            first.len(),
            first.iter().map(|d| scenario.fabric.device(*d).name.as_str()).collect::<Vec<_>>().join(", ")
        )
    });
    let mut alone = first;
    let rest = alone.split_off(wanted.min(alone.len()));
    (alone, rest, warning)
}

/// Every warning the planner gives about upgrading the devices flagged in `is_target` (one flag
/// per device): rules that cannot hold on this fabric (a single-homed server, a group of one)
/// and downgrades. Plans not made by the planner get them too.
pub fn fabric_warnings(scenario: &Scenario, is_target: &[bool]) -> Vec<String> {
    let mut warnings = rules::Constraints::build(&scenario.fabric, is_target).warnings;
    warnings.extend(downgrade_warnings(scenario, is_target));
    warnings
}

fn downgrade_warnings<'a>(scenario: &'a Scenario, is_target: &'a [bool]) -> impl Iterator<Item = String> + 'a {
    scenario.selection.targets.iter().filter(|t| is_target[t.device.index()]).filter_map(|target| {
        let device = scenario.fabric.device(target.device);
        let image = &scenario.images[target.image];
        match device.version.partial_cmp(&image.version) {
            Some(std::cmp::Ordering::Greater) => Some(format!(
                "{} runs {}, newer than image {} ({}): this is a downgrade",
                device.name, device.version, image.name, image.version
            )),
            None => Some(format!(
                "{} runs {}, which cannot be ordered against image {} ({}): hitless cannot tell whether this is an upgrade",
                device.name, device.version, image.name, image.version
            )),
            _ => None,
        }
    })
}
