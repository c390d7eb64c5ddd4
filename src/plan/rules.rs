//! The planner's rules as data: which target devices may not share a batch.
//!
//! Two kinds of constraint come out of the fabric:
//! - **conflicts**, pairs that never share a batch: the leafs of every multihomed server, and
//!   the two switches of every MLAG pair;
//! - **groups** with a cap on how many members one batch may take down: each critical role
//!   (all spines, route reflectors, DC and DCI gateways, multicast gateways), the spines one leaf
//!   depends on, and the super-spines one spine depends on. The cap is half the group, rounded
//!   up, and never the whole group ([`group_cap`]).
//!
//! Rules that cannot hold (a group of one: a single spine, a leaf with one uplink) are relaxed to
//! a cap of one and reported as warnings saying the upgrade will not be hitless.

use std::collections::HashMap;

use crate::model::{CriticalRole, DeviceId, Fabric, Role};

/// How many members of a group of `members` devices one batch may hold: half, rounded up, and
/// never all of them. Zero for a group of one, where no batch can be safe.
pub fn group_cap(members: usize) -> usize {
    members.div_ceil(2).min(members.saturating_sub(1))
}

/// [`group_cap`], relaxed to at least one so that a plan exists even when it cannot be safe.
pub fn group_cap_relaxed(members: usize) -> usize {
    group_cap(members).max(1)
}

/// What a group protects, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupKind {
    /// Every spine of the fabric.
    AllSpines,
    /// Every device with a critical role.
    Critical(CriticalRole),
    /// The spines a leaf (the first one found) is linked to.
    UplinksOfLeaf(DeviceId),
    /// The super-spines a spine (the first one found) is linked to.
    UplinksOfSpine(DeviceId),
}

/// A redundancy group: at most `cap` of `members` in one batch.
#[derive(Clone, Debug)]
pub struct Group {
    /// What the group protects.
    pub kind: GroupKind,
    /// Every member in the fabric, targets or not, in fabric order.
    pub members: Vec<DeviceId>,
    /// Most members one batch may hold.
    pub cap: usize,
}

impl Group {
    /// The warning for a group of one, which no plan can keep up during its upgrade.
    pub fn no_redundancy_warning(&self, fabric: &Fabric) -> String {
        let name = |id: DeviceId| fabric.device(id).name.as_str();
        let only = name(self.members[0]);
        let what = match &self.kind {
            GroupKind::AllSpines => {
                format!("{only} is the only spine: every leaf loses its uplinks while it is upgraded")
            }
            GroupKind::Critical(role) => {
                format!("{only} is the only {}: that function is down while it is upgraded", role.as_str())
            }
            GroupKind::UplinksOfLeaf(leaf) => {
                format!("{} has a single spine, {only}: it is cut off while {only} is upgraded", name(*leaf))
            }
            GroupKind::UplinksOfSpine(spine) => {
                format!(
                    "{} has a single super-spine, {only}: its pod's traffic between pods stops while {only} is upgraded",
                    name(*spine)
                )
            }
        };
        format!("{what}, so the upgrade will not be hitless")
    }

    /// Describes the group for the operator, e.g. "the spines of leaf1 (spine1, spine2)".
    pub fn describe(&self, fabric: &Fabric) -> String {
        let names: Vec<&str> = self.members.iter().map(|m| fabric.device(*m).name.as_str()).collect();
        let list = names.join(", ");
        match &self.kind {
            GroupKind::AllSpines => format!("the spines ({list})"),
            GroupKind::Critical(role) => format!("the {} devices ({list})", role.as_str()),
            GroupKind::UplinksOfLeaf(leaf) => {
                format!("the spines of {} ({list})", fabric.device(*leaf).name)
            }
            GroupKind::UplinksOfSpine(spine) => format!("the super-spines of {} ({list})", fabric.device(*spine).name),
        }
    }
}

/// Constraints among the targets of one plan.
#[derive(Clone, Debug, Default)]
pub struct Constraints {
    /// For each device (indexed by id), the targets it may not share a batch with; sorted.
    pub conflicts: Vec<Vec<DeviceId>>,
    /// Redundancy groups that contain at least one target.
    pub groups: Vec<Group>,
    /// For each device, the groups it belongs to (indices into `groups`).
    pub groups_of: Vec<Vec<u32>>,
    /// Rules that cannot hold, for the operator.
    pub warnings: Vec<String>,
}

impl Constraints {
    /// Builds the constraints among `targets` (a flag per device of the fabric).
    pub fn build(fabric: &Fabric, is_target: &[bool]) -> Constraints {
        assert_eq!(is_target.len(), fabric.len(), "one flag per device");
        let mut constraints = Constraints {
            conflicts: vec![Vec::new(); fabric.len()],
            groups: Vec::new(),
            groups_of: vec![Vec::new(); fabric.len()],
            warnings: Vec::new(),
        };
        constraints.add_server_conflicts(fabric, is_target);
        for &(a, b) in fabric.mlag_pairs() {
            if is_target[a.index()] && is_target[b.index()] {
                add_conflict(&mut constraints.conflicts, a, b);
            }
        }
        for group in redundancy_groups(fabric) {
            constraints.add_group(fabric, is_target, group);
        }
        constraints
    }

    fn add_server_conflicts(&mut self, fabric: &Fabric, is_target: &[bool]) {
        for server in fabric.servers() {
            if !server.is_multihomed() {
                if let Some(&leaf) = server.leafs.first().filter(|l| is_target[l.index()]) {
                    self.warnings.push(format!(
                        "server {} is single-homed on {}: its traffic is lost while {} is upgraded, so the upgrade will not be hitless",
                        server.name,
                        fabric.device(leaf).name,
                        fabric.device(leaf).name
                    ));
                }
                continue;
            }
            for (i, &a) in server.leafs.iter().enumerate() {
                for &b in &server.leafs[i + 1..] {
                    if is_target[a.index()] && is_target[b.index()] {
                        self.conflicts[a.index()].push(b);
                        self.conflicts[b.index()].push(a);
                    }
                }
            }
        }
        for list in &mut self.conflicts {
            list.sort_unstable();
            list.dedup();
        }
    }

    fn add_group(&mut self, fabric: &Fabric, is_target: &[bool], mut group: Group) {
        let targets: Vec<DeviceId> = group.members.iter().copied().filter(|m| is_target[m.index()]).collect();
        if targets.is_empty() {
            return;
        }
        if group.cap == 0 {
            self.warnings.push(group.no_redundancy_warning(fabric));
            group.cap = 1;
        }
        // A pair that may not go down together is a conflict like the leafs of a server; as an
        // edge it also raises the packer's saturation, which places such pairs early and well.
        // Batches hold one role, so only a same-role pair can ever meet in one.
        let same_role = |a: DeviceId, b: DeviceId| fabric.device(a).role == fabric.device(b).role;
        if group.cap == 1 && targets.len() == 2 && same_role(targets[0], targets[1]) {
            add_conflict(&mut self.conflicts, targets[0], targets[1]);
        }
        let index = u32::try_from(self.groups.len()).expect("fewer than 2^32 groups");
        for target in targets {
            self.groups_of[target.index()].push(index);
        }
        self.groups.push(group);
    }
}

fn add_conflict(conflicts: &mut [Vec<DeviceId>], a: DeviceId, b: DeviceId) {
    if !conflicts[a.index()].contains(&b) {
        conflicts[a.index()].push(b);
        conflicts[b.index()].push(a);
        conflicts[a.index()].sort_unstable();
        conflicts[b.index()].sort_unstable();
    }
}

/// Every redundancy group of the fabric, deduplicated by member set, in a fixed order.
pub fn redundancy_groups(fabric: &Fabric) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut seen: HashMap<Vec<DeviceId>, ()> = HashMap::new();
    let spines: Vec<DeviceId> = fabric.iter().filter(|(_, d)| d.role == Role::Spine).map(|(id, _)| id).collect();
    if !spines.is_empty() {
        seen.insert(spines.clone(), ());
        groups.push(Group { kind: GroupKind::AllSpines, cap: group_cap(spines.len()), members: spines });
    }
    for role in
        [CriticalRole::RouteReflector, CriticalRole::DcGateway, CriticalRole::DciGateway, CriticalRole::McastGateway]
    {
        let members: Vec<DeviceId> =
            fabric.iter().filter(|(_, d)| d.critical_roles.contains(&role)).map(|(id, _)| id).collect();
        if !members.is_empty() {
            groups.push(Group { kind: GroupKind::Critical(role), cap: group_cap(members.len()), members });
        }
    }
    for (id, device) in fabric.iter() {
        let (upper, kind) = match device.role {
            Role::Leaf => (Role::Spine, GroupKind::UplinksOfLeaf(id)),
            Role::Spine => (Role::SuperSpine, GroupKind::UplinksOfSpine(id)),
            Role::SuperSpine => continue,
        };
        let mut members: Vec<DeviceId> = fabric.neighbours_with_role(id, upper).collect();
        if members.is_empty() {
            continue;
        }
        members.sort_unstable();
        if seen.insert(members.clone(), ()).is_none() {
            groups.push(Group { kind, cap: group_cap(members.len()), members });
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_are_half_rounded_up_and_never_all() {
        let caps: Vec<usize> = (0..=6).map(group_cap).collect();
        assert_eq!(caps, vec![0, 0, 1, 2, 2, 3, 3]);
        assert_eq!(group_cap_relaxed(1), 1);
    }
}
