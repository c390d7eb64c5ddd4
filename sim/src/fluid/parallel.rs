//! Spreading classes on several threads: the parts a re-spread is divided into, and the
//! per-class records each part writes.

use super::*;

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
    pub(super) fn open(&mut self, walker: &mut Walker<'_>, class: usize, load: &mut [i64], now: SimTime) -> bool {
        let index = class - self.first;
        let rate = walker.ground.classes[class].rate_gbps;
        let state = &mut self.state[index];
        accrue(state, rate, now);
        let mut contributions = std::mem::take(&mut state.contributions);
        let Reached { mut carried, mut sole } = std::mem::take(&mut walker.scratch.reached);
        let mut entries = std::mem::take(&mut walker.scratch.entries);
        entries.clear();
        let tracing = walker.ground.tracing;
        let mut trace = if tracing { std::mem::take(&mut self.traces[index]) } else { Vec::new() };
        trace.clear();
        // The new spread is read against the old one, entry by entry, noting any difference;
        // the load moves only where an entry differs (the old entry's load off, the new one's
        // on: whole numbers, so the loads end as if all of the old had been taken off and all
        // of the new put on).
        let mut old = contributions.iter();
        let mut same = true;
        let spread = walker.spread(class, None, &mut carried, &mut sole, &mut |link, fraction, from, to| {
            let entry = (link, fraction as f32);
            match old.next() {
                Some(was) if was == entry => {}
                was => {
                    same = false;
                    if let Some((link, share)) = was {
                        load[link.0 as usize] -= share_load(share, rate);
                    }
                    load[link.0 as usize] += share_load(entry.1, rate);
                }
            }
            entries.push(entry);
            if tracing {
                trace.push(Hop::new(link, from, to));
            }
        });
        for (link, share) in old {
            same = false;
            load[link.0 as usize] -= share_load(share, rate);
        }
        if !same {
            contributions.set(&entries);
        }
        walker.scratch.entries = entries;
        if tracing {
            self.traces[index] = trace;
        }
        state.contributions = contributions;
        state.degraded = spread.degraded || spread.blackhole_fraction > 0.0;
        let summary = Summary::of(&carried, &sole, state.degraded);
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
        walker.scratch.reached = Reached { carried, sole };
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
