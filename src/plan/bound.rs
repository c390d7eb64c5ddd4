//! A lower bound on the number of batches any valid plan needs, so the operator can see how close
//! a plan is to optimal.
//!
//! Batches hold one role, so the bound is a sum over roles of the largest of:
//! - the role's targets divided by the batch size, rounded up;
//! - for each redundancy group, its targets of that role divided by its cap, rounded up;
//! - the largest set of mutually conflicting targets (the target leafs of one multihomed server,
//!   which pairwise may not share a batch).

use super::rules::Constraints;
use crate::model::{DeviceId, Fabric, Role};

/// The lower bound for `targets` (all roles) under `constraints`.
/// `is_target` has one flag per device of the fabric.
pub fn lower_bound(fabric: &Fabric, is_target: &[bool], constraints: &Constraints, max_batch_size: usize) -> usize {
    Role::ALL.into_iter().map(|role| role_bound(fabric, is_target, constraints, max_batch_size, role)).sum()
}

/// The lower bound for the targets of one role.
pub fn role_bound(
    fabric: &Fabric,
    is_target: &[bool],
    constraints: &Constraints,
    max_batch_size: usize,
    role: Role,
) -> usize {
    let counted = |id: &DeviceId| is_target[id.index()] && fabric.device(*id).role == role;
    let count = fabric.iter().filter(|(id, _)| counted(id)).count();
    if count == 0 {
        return 0;
    }
    let by_size = count.div_ceil(max_batch_size);
    let by_group = constraints
        .groups
        .iter()
        .map(|group| {
            let in_group = group.members.iter().filter(|m| counted(m)).count();
            in_group.div_ceil(group.cap)
        })
        .max()
        .unwrap_or(0);
    let by_clique = if role == Role::Leaf {
        fabric.servers().iter().map(|server| server.leafs.iter().filter(|l| counted(l)).count()).max().unwrap_or(0)
    } else {
        0
    };
    by_size.max(by_group).max(by_clique)
}
