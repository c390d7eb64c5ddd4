//! Spreading classes on several threads: the parts a re-spread is divided into, and the
//! per-class records each part writes.

use std::sync::Arc;

use super::*;
use shares::{Contributions, Held, Interior, PLACE};

/// The most threads one run spreads classes on.
pub(super) const MAX_THREADS: usize = 8;

/// The fewest classes to re-spread that are worth another thread: waking a pool thread costs
/// tens of microseconds, a class's spread under a microsecond. Measured on the bench scenario
/// (two cores): 48 was slower than 256, 1,024 no faster.
pub(super) const PARALLEL_MIN: usize = 256;

/// A run of whole destination groups `..dest_end`, whose classes are those `..class_end`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Part {
    pub(super) dest_end: u32,
    pub(super) class_end: usize,
}

/// The per-class records a spread writes, for the classes from `first` on.
pub(super) struct Outputs<'a> {
    pub(super) state: &'a mut [ClassState],
    pub(super) summary: &'a mut [Summary],
    pub(super) flags: &'a mut [u8],
    pub(super) bloom: &'a mut [u64],
    /// Empty while spreads are not recorded.
    pub(super) traces: &'a mut [Vec<Hop>],
    pub(super) first: usize,
}

impl<'a> Outputs<'a> {
    /// Divides the records at class `class`: those before it, and those from it on.
    pub(super) fn split_at(self, class: usize) -> (Outputs<'a>, Outputs<'a>) {
        let at = class - self.first;
        let (state, state_rest) = self.state.split_at_mut(at);
        let (summary, summary_rest) = self.summary.split_at_mut(at);
        let (flags, flags_rest) = self.flags.split_at_mut(at);
        let (bloom, bloom_rest) = self.bloom.split_at_mut(at);
        let (traces, traces_rest) = self.traces.split_at_mut(if self.traces.is_empty() { 0 } else { at });
        (
            Outputs { state, summary, flags, bloom, traces, first: self.first },
            Outputs {
                state: state_rest,
                summary: summary_rest,
                flags: flags_rest,
                bloom: bloom_rest,
                traces: traces_rest,
                first: class,
            },
        )
    }

    /// Closes class `class`'s accounting at `now`, spreads it again, and opens its accounting
    /// with the new spread, its load on `load` moved from the old spread to the new. Returns
    /// whether the spread moved: its links and shares, or its blackhole, differ from before.
    ///
    /// A class the walker can give its kept spread ([`Walker::gives`]) takes on the shared
    /// links and shares of the class it was kept for and only its own endpoints' links; what
    /// moving from its old shared links to the new does to the loads is worked out once for
    /// the classes that make the same move ([`Run`]).
    pub(super) fn open(&mut self, walker: &mut Walker<'_>, class: usize, load: &mut [i64], now: SimTime) -> bool {
        let index = class - self.first;
        let Class { src, dst, rate_gbps: rate, .. } = walker.ground.classes[class];
        let state = &mut self.state[index];
        accrue(state, rate, now);
        let tracing = walker.ground.tracing;
        let mut old = std::mem::take(&mut state.contributions);
        let mut ends = std::mem::take(&mut walker.scratch.ends);
        ends.clear();
        let mut old_ends = std::mem::take(&mut walker.scratch.old_ends);
        old_ends.clear();
        old_ends.extend(old.ends());
        let given = !tracing && walker.gives(class);
        let (interior, interior_same, spread) = if given {
            let alike = &walker.scratch.alike;
            alike.own_ends(walker.ground.topology, src, dst, &mut ends);
            let interior = alike.interior.as_ref().expect("a kept spread is given with its links");
            let same = walker.scratch.run.join(&old.interior, interior, rate, load);
            let interior = if same { std::mem::take(&mut old.interior) } else { Held::Shared(interior.clone()) };
            (interior, same, alike.spread.clone())
        } else {
            self.walk(walker, index, &mut old.interior, rate, &mut ends, load)
        };
        let state = &mut self.state[index];
        let mut contributions = Contributions { interior, ends: old.ends };
        // The endpoints' own links: all of the old off and all of the new on, if any differs.
        let new_shares = || contributions.interior.end_shares();
        let ends_same = ends.len() == old_ends.len()
            && ends.iter().zip(new_shares()).zip(&old_ends).all(|((link, share), was)| (*link, share) == *was);
        if !ends_same {
            for &(link, share) in &old_ends {
                load[link.0 as usize] -= share_load(share, rate);
            }
            for (link, share) in ends.iter().zip(new_shares()) {
                load[link.0 as usize] += share_load(share, rate);
            }
            contributions.ends.set(&ends);
        }
        walker.scratch.ends = ends;
        walker.scratch.old_ends = old_ends;
        let same = interior_same && ends_same;
        state.contributions = contributions;
        state.degraded = spread.degraded || spread.blackhole_fraction > 0.0;
        // The switches reached: the kept spread's, or those the walk left in the scratch.
        let Reached { carried, sole } = &walker.scratch.reached;
        let (carried, sole) =
            if given { (&walker.scratch.alike.carried, &walker.scratch.alike.sole) } else { (carried, sole) };
        let summary = Summary::of(carried, sole, state.degraded);
        self.flags[index] = u8::from(summary.sole != 0 || summary.len == Summary::OVERFLOW)
            | (u8::from(summary.degraded) << 1)
            | if tracing { TRACED } else { 0 };
        self.bloom[index] = if summary.len == Summary::OVERFLOW {
            u64::MAX
        } else {
            carried.iter().fold(0, |bloom, node| bloom | 1 << (node.0 % 64))
        };
        state.overflow = (summary.len == Summary::OVERFLOW)
            .then(|| Box::new(Reached { carried: carried.clone(), sole: sole.clone() }));
        self.summary[index] = summary;
        let cause = spread.cause.map(|c| c.0);
        let moved = !same || spread.blackhole_fraction != state.spread_blackhole || cause != state.blackhole_cause;
        state.spread_blackhole = spread.blackhole_fraction;
        // Unmoved, it keeps what congestion before a blackhole left of its blackhole share.
        if moved {
            state.blackhole_fraction = spread.blackhole_fraction;
        }
        self.flags[index] |= losing(state);
        state.blackhole_cause = cause;
        state.since = now;
        if let Some(node) = state.blackhole_cause {
            note_cause(&mut state.causes, Cause::Blackhole(node), now, 0.0);
        }
        moved
    }

    /// [`Outputs::open`]'s spread of the class at `index` by the walker: its endpoints' own
    /// links into `ends`, what the rest of it changed put on `load`, the switches it reached
    /// into the walker's scratch; returns its shared links and shares, whether they are as
    /// before, and the spread.
    fn walk(
        &mut self,
        walker: &mut Walker<'_>,
        index: usize,
        old: &mut Held,
        rate: f64,
        ends: &mut Vec<LinkId>,
        load: &mut [i64],
    ) -> (Held, bool, Spread) {
        let class = self.first + index;
        let Reached { mut carried, mut sole } = std::mem::take(&mut walker.scratch.reached);
        let mut entries = std::mem::take(&mut walker.scratch.entries);
        let mut end_shares = std::mem::take(&mut walker.scratch.end_shares);
        entries.clear();
        end_shares.clear();
        let tracing = walker.ground.tracing;
        // A spread kept for the classes after it: what its move does to the loads is noted
        // for them ([`Run`]).
        let keeping = !tracing && walker.will_keep(class);
        let mut delta = std::mem::take(&mut walker.scratch.delta);
        delta.clear();
        let mut trace = if tracing { std::mem::take(&mut self.traces[index]) } else { Vec::new() };
        trace.clear();
        // The walk only lists the new spread's entries, an endpoint's own link as its place
        // (a small callback the walk inlines); it is read against the old one afterwards.
        let spread = if tracing {
            walker.spread(class, None, &mut carried, &mut sole, &mut |link, fraction, from, to| {
                note_entry(&mut entries, ends, &mut end_shares, link, fraction, from, to);
                trace.push(Hop::new(link, from, to));
            })
        } else {
            walker.spread(class, None, &mut carried, &mut sole, &mut |link, fraction, from, to| {
                note_entry(&mut entries, ends, &mut end_shares, link, fraction, from, to);
            })
        };
        let mut packed = std::mem::take(&mut walker.scratch.packed);
        let new: &[u32] = if entries.is_empty() {
            &[]
        } else {
            shares::pack_interior(&entries, &end_shares, &mut packed);
            &packed
        };
        let same = move_load(old.words(), new, rate, |link, change| {
            load[link.0 as usize] += change;
            if keeping {
                delta.push((link, change));
            }
        });
        if tracing {
            self.traces[index] = trace;
        }
        // Kept when it is the same. A class the walker kept its spread for shares what it
        // holds with the classes the kept spread serves (they mostly move from the same old
        // links and shares as it did: what that does to the loads is kept for them); any other
        // holds its own, set again in place (as every class does while spreads are recorded:
        // then none is given a kept spread here).
        let alike = &mut walker.scratch.alike;
        let keeper = keeping && !entries.is_empty() && alike.kept_for(class);
        debug_assert!(!keeping || alike.kept_for(class), "a spread is kept as foreseen");
        let interior = if same && !(keeper && matches!(old, Held::Own(_))) {
            std::mem::take(old)
        } else if entries.is_empty() {
            Held::Nothing
        } else if keeper {
            Held::Shared(packed[..].into())
        } else {
            let mut words = match std::mem::take(old) {
                Held::Own(words) => words,
                _ => Vec::new(),
            };
            words.clear();
            words.reserve_exact(packed.len());
            words.extend_from_slice(&packed);
            Held::Own(words)
        };
        walker.scratch.packed = packed;
        if keeper && let Held::Shared(shared) = &interior {
            alike.interior = Some(shared.clone());
            // The classes it serves mostly move from the same old links and shares, held by
            // others (a class's own are held by no other).
            let run = &mut walker.scratch.run;
            run.flush(load);
            if !same && !matches!(old, Held::Own(_)) {
                run.seed(old, shared, rate, &delta);
            }
        }
        walker.scratch.delta = delta;
        walker.scratch.entries = entries;
        walker.scratch.end_shares = end_shares;
        walker.scratch.reached = Reached { carried, sole };
        (interior, same, spread)
    }
}

/// Classes that moved from one shared [`Interior`] to another, each at the same rate: the
/// change of load one such class makes, and how many have made it since it was added to the
/// loads. Whole numbers, so adding it `count` times is adding it for each class.
#[derive(Debug, Default)]
pub(super) struct Run {
    old: Option<Interior>,
    new: Option<Interior>,
    rate: f64,
    same: bool,
    delta: Vec<(LinkId, i64)>,
    count: i64,
}

impl Run {
    /// A class at `rate` moves from `old` to shared `new`: counts it in (its change of load
    /// added to `load` with the run's, now or later); returns whether `new` lists what `old`
    /// did.
    pub(super) fn join(&mut self, old: &Held, new: &Interior, rate: f64, load: &mut [i64]) -> bool {
        let old_shared = match old {
            Held::Shared(old) if Arc::ptr_eq(old, new) => return true,
            Held::Shared(old) => Some(old),
            Held::Nothing => None,
            // Its own: no other class moves from it.
            Held::Own(_) => return move_load(old.words(), new, rate, |link, change| load[link.0 as usize] += change),
        };
        let is = |a: Option<&Interior>, b: Option<&Interior>| match (a, b) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        let rate_is = rate.to_bits() == self.rate.to_bits();
        if !(is(old_shared, self.old.as_ref()) && is(Some(new), self.new.as_ref()) && rate_is) {
            self.flush(load);
            let delta = &mut self.delta;
            self.same = move_load(old.words(), new, rate, |link, change| delta.push((link, change)));
            self.old = old_shared.cloned();
            self.new = Some(new.clone());
            self.rate = rate;
        }
        self.count += 1;
        self.same
    }

    /// Starts a run, with nothing pending, by a class at `rate` that moved from `old` to a
    /// different `new`, changing the loads by `delta` (already added to them).
    pub(super) fn seed(&mut self, old: &Held, new: &Interior, rate: f64, delta: &[(LinkId, i64)]) {
        debug_assert!(self.count == 0 && self.delta.is_empty(), "a run is added to the loads before another starts");
        self.old = match old {
            Held::Shared(old) => Some(old.clone()),
            _ => None,
        };
        self.new = Some(new.clone());
        self.rate = rate;
        self.same = false;
        self.delta.extend_from_slice(delta);
    }

    /// Adds the run's changes of load to `load`, and ends it.
    pub(super) fn flush(&mut self, load: &mut [i64]) {
        for &(link, change) in &self.delta {
            load[link.0 as usize] += change * self.count;
        }
        self.delta.clear();
        self.count = 0;
        self.old = None;
        self.new = None;
    }
}

/// Lists a link of the spread being made in `entries`: an endpoint's own link (from the
/// source, or delivering) as a place, the link in `ends` and its share in `end_shares`.
#[inline]
fn note_entry(
    entries: &mut Vec<(LinkId, f32)>,
    ends: &mut Vec<LinkId>,
    end_shares: &mut Vec<f32>,
    link: LinkId,
    fraction: f64,
    from: u16,
    to: u16,
) {
    let share = fraction as f32;
    if from == ROOT || to == DELIVERED {
        ends.push(link);
        end_shares.push(share);
        entries.push((PLACE, share));
    } else {
        entries.push((link, share));
    }
}

/// Gives `change` what moving a class at `rate` from the spread packed as `old` to the one
/// packed as `new` ([`shares::pack_interior`]) does to the loads, and returns whether the two
/// are the same. Packing gives the same words for the same entries, so equal words move
/// nothing; else all of the old load comes off and all of the new goes on (whole numbers, so
/// the loads end as if only the entries that differ had moved).
fn move_load(old: &[u32], new: &[u32], rate: f64, mut change: impl FnMut(LinkId, i64)) -> bool {
    if old == new {
        return true;
    }
    shares::interior_loads(old, rate, |link, load| change(link, -load));
    shares::interior_loads(new, rate, change);
    false
}

/// The classes whose flag byte has `bit` set, in order; eight bytes are read at a time (few
/// classes are flagged at once).
pub(super) fn flagged(flags: &[u8], bit: u8) -> impl Iterator<Item = usize> + '_ {
    let mask = u64::from_ne_bytes([bit; 8]);
    flags.chunks(8).enumerate().flat_map(move |(chunk, bytes)| {
        let word = match <[u8; 8]>::try_from(bytes) {
            Ok(eight) => u64::from_ne_bytes(eight) & mask,
            Err(_) => u64::MAX,
        };
        let hits = if word == 0 { &[][..] } else { bytes };
        hits.iter().enumerate().filter(move |(_, f)| **f & bit != 0).map(move |(i, _)| chunk * 8 + i)
    })
}
