//! Packing the targets of one role into as few batches as the rules allow.
//!
//! A DSatur-style greedy colouring: repeatedly take the unplaced device whose conflict
//! neighbours already sit in the most distinct batches (its saturation), breaking ties by how
//! constrained it is and then by fabric order, and put it in the lowest-numbered batch that has
//! room, holds none of its conflicts, and whose groups are under their caps. Devices that are hard
//! to place go first, which is what keeps the batch count near the lower bound.
//!
//! Placing in the lowest-numbered batch ([`Fill::FirstFit`]) fragments at the end (nine leaf
//! pairs in batches of four end with two batches of one). [`Fill::Balanced`] starts with as many
//! batches as the lower bound and places each device in the least-loaded batch that accepts it,
//! opening a new batch only when none does. [`pack`] keeps first fit when it reaches the lower
//! bound, else runs the balanced fill too and keeps the one with fewer batches (balanced on a
//! tie: fewer devices down at once). Cost is O((V + E) log V) per fill plus
//! the batches each device is refused by, which the rules keep small.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use super::rules::Constraints;
use crate::model::DeviceId;

/// How a device picks among the batches that accept it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// The lowest-numbered batch.
    FirstFit,
    /// The least-loaded batch, starting from this many empty batches.
    Balanced(usize),
}

/// Packs `devices` (all of one role, in fabric order) into batches of at most `max_batch_size`,
/// trying both fills; `lower_bound` is the role's lower bound on the batch count. Returns the
/// batches ordered by their first device, each in fabric order.
pub fn pack(
    devices: &[DeviceId],
    constraints: &Constraints,
    max_batch_size: usize,
    lower_bound: usize,
) -> Vec<Vec<DeviceId>> {
    let first_fit = pack_with(devices, constraints, max_batch_size, Fill::FirstFit);
    if first_fit.len() <= lower_bound {
        return first_fit;
    }
    let balanced = pack_with(devices, constraints, max_batch_size, Fill::Balanced(lower_bound));
    if balanced.len() <= first_fit.len() { balanced } else { first_fit }
}

/// Packs with one fill strategy.
pub fn pack_with(
    devices: &[DeviceId],
    constraints: &Constraints,
    max_batch_size: usize,
    fill: Fill,
) -> Vec<Vec<DeviceId>> {
    assert!(max_batch_size > 0, "batches hold at least one device");
    let mut state = Packing::new(constraints, max_batch_size, fill);
    let mut heap = BinaryHeap::with_capacity(devices.len());
    for &device in devices {
        state.slots[device.index()].member = true;
        heap.push(state.heap_key(device));
    }
    while let Some((saturation, _, Reverse(device))) = heap.pop() {
        let slot = state.slots[device.index()];
        if slot.batch.is_some() || slot.saturation != saturation {
            continue;
        }
        let batch = state.place(device);
        for &neighbour in &constraints.conflicts[device.index()] {
            if state.saturate(neighbour, batch) {
                heap.push(state.heap_key(neighbour));
            }
        }
    }
    let mut batches: Vec<Vec<DeviceId>> = state.batches.into_iter().filter(|b| !b.is_empty()).collect();
    for batch in &mut batches {
        batch.sort_unstable();
    }
    batches.sort_unstable_by_key(|b| b[0]);
    batches
}

#[derive(Clone, Copy, Default)]
struct Slot {
    /// True for the devices being packed; conflicts with others are ignored.
    member: bool,
    batch: Option<u32>,
    saturation: u32,
}

struct Packing<'a> {
    constraints: &'a Constraints,
    max_batch_size: usize,
    fill: Fill,
    batches: Vec<Vec<DeviceId>>,
    /// Batches with room left, keyed so the preferred one comes first: `(0, index)` for first
    /// fit, `(load, index)` for the balanced fill.
    open: BTreeSet<(usize, u32)>,
    /// Per device of the fabric: its batch once placed, and its saturation.
    slots: Vec<Slot>,
    /// Per device, the distinct batches its conflict neighbours sit in, for saturation.
    neighbour_batches: Vec<Vec<u32>>,
    /// Members of each (group, batch) pair placed so far.
    group_counts: HashMap<(u32, u32), usize>,
}

impl<'a> Packing<'a> {
    fn new(constraints: &'a Constraints, max_batch_size: usize, fill: Fill) -> Self {
        let mut packing = Packing {
            constraints,
            max_batch_size,
            fill,
            batches: Vec::new(),
            open: BTreeSet::new(),
            slots: vec![Slot::default(); constraints.conflicts.len()],
            neighbour_batches: vec![Vec::new(); constraints.conflicts.len()],
            group_counts: HashMap::new(),
        };
        if let Fill::Balanced(count) = fill {
            for _ in 0..count {
                packing.open_batch();
            }
        }
        packing
    }

    fn open_batch(&mut self) -> u32 {
        let batch = u32::try_from(self.batches.len()).expect("fewer than 2^32 batches");
        self.batches.push(Vec::new());
        self.open.insert((0, batch));
        batch
    }

    fn open_key(&self, batch: u32) -> (usize, u32) {
        match self.fill {
            Fill::FirstFit => (0, batch),
            Fill::Balanced(_) => (self.batches[batch as usize].len(), batch),
        }
    }

    /// Heap key: saturation first, then how constrained, then fabric order (lowest id first).
    fn heap_key(&mut self, device: DeviceId) -> (u32, usize, Reverse<DeviceId>) {
        let slot = self.slots[device.index()];
        let weight =
            self.constraints.conflicts[device.index()].len() + self.constraints.groups_of[device.index()].len();
        (slot.saturation, weight, Reverse(device))
    }

    /// Records that a conflict neighbour of `device` went into `batch`; true if that raised the
    /// device's saturation (so it needs a fresh heap entry).
    fn saturate(&mut self, device: DeviceId, batch: u32) -> bool {
        let slot = &mut self.slots[device.index()];
        if !slot.member || slot.batch.is_some() {
            return false;
        }
        let seen = &mut self.neighbour_batches[device.index()];
        if seen.contains(&batch) {
            return false;
        }
        seen.push(batch);
        slot.saturation += 1;
        true
    }

    fn fits(&self, device: DeviceId, batch: u32) -> bool {
        let blocked_by_conflict = self.neighbour_batches[device.index()].contains(&batch);
        if blocked_by_conflict {
            return false;
        }
        self.constraints.groups_of[device.index()].iter().all(|&group| {
            let count = self.group_counts.get(&(group, batch)).copied().unwrap_or(0);
            count < self.constraints.groups[group as usize].cap
        })
    }

    fn place(&mut self, device: DeviceId) -> u32 {
        let found = self.open.iter().map(|&(_, b)| b).find(|&b| self.fits(device, b));
        let batch = found.unwrap_or_else(|| self.open_batch());
        self.open.remove(&self.open_key(batch));
        self.batches[batch as usize].push(device);
        if self.batches[batch as usize].len() < self.max_batch_size {
            self.open.insert(self.open_key(batch));
        }
        for &group in &self.constraints.groups_of[device.index()] {
            *self.group_counts.entry((group, batch)).or_default() += 1;
        }
        self.slots[device.index()].batch = Some(batch);
        batch
    }
}
