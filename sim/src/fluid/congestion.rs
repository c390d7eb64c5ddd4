//! Congestion: which links are over capacity, and what each class loses on them, link level
//! by link level with proportional sharing.

use super::replay::{Hop, replay, replay_below};
use super::*;

impl Fluid {
    /// Brings the overloaded list and the peak up to date after a re-spread: one pass over the
    /// links (cheaper than tracking which links each spread touched).
    pub(super) fn check_links(&mut self, now: SimTime) {
        // Mostly no link is overloaded or above the peak: one pass of integer comparisons
        // shows it, and nothing changes.
        self.overloaded.clear();
        if self.offered.iter().zip(&self.alarm).all(|(offered, alarm)| offered <= alarm) {
            return;
        }
        let mut busiest: Option<(usize, f64)> = None;
        for (index, (offered, inverse)) in self.offered.iter().zip(&self.inverse_capacity).enumerate() {
            let utilisation = *offered as f64 * inverse;
            if utilisation > 1.0 + 1e-12 {
                self.overloaded.push(LinkId(index as u32));
            }
            if busiest.is_none_or(|(_, u)| utilisation > u + 1e-12) {
                busiest = Some((index, utilisation));
            }
        }
        if let Some((index, utilisation)) = busiest
            && self.peak.is_none_or(|p| utilisation > p.utilisation + 1e-12)
        {
            self.peak = Some(Peak { link: LinkId(index as u32), utilisation, at: now });
        }
        // A link's alarm is a load it cannot exceed without being overloaded or above the peak
        // (by more than the tolerances above), less a margin far above rounding.
        let ceiling = self.peak.map_or(0.0, |p| p.utilisation).min(1.0) + 1e-12;
        for (alarm, inverse) in self.alarm.iter_mut().zip(&self.inverse_capacity) {
            *alarm = (ceiling / inverse * (1.0 - 1e-9)) as i64;
        }
    }

    /// Works out congestion losses at `now` for every class on an overloaded link, link level
    /// by link level, with proportional sharing; classes that were congested and no longer are
    /// go back to zero. Runs only while some link is (or was) overloaded.
    ///
    /// What reaches a level's overloaded links is what the classes crossing them bring after
    /// the drops at lower levels: each such class's spread is replayed with the lower levels'
    /// survival ([`replay`]), on every core, and the arrivals are summed in whole bits per
    /// second, so the sums, and everything after them, are the same on one thread and many.
    pub(super) fn congestion(&mut self, now: SimTime) {
        if self.overloaded.is_empty() && self.congested.is_empty() {
            return;
        }
        let link_count = self.offered.len();
        let mut overloaded = vec![false; link_count];
        for link in &self.overloaded {
            overloaded[link.0 as usize] = true;
        }
        // The classes on an overloaded link: each is among the classes through the link's
        // sending switch (each switch's list read once), and the ones that were congested.
        let affected: Vec<u32> = std::mem::take(&mut self.congested);
        let mut sources: Vec<NodeId> = self.overloaded.iter().map(|l| self.link_source(*l)).collect();
        sources.sort_unstable();
        sources.dedup();
        // A class reaches the sending switch of every link it crosses: its bloom of the switches
        // it reaches rules most classes out before their links are read; each class is read once.
        let mask = sources.iter().fold(0u64, |mask, node| mask | 1 << (node.0 % 64));
        // Each class read once, for the levels at which it crosses an overloaded link (one bit
        // per level) and whether its links' levels never fall along its spread.
        // The classes that were congested are kept whatever they cross now (they go back to
        // zero); the others only if they cross an overloaded link. Read on every core.
        let mut seen = vec![false; self.classes.len()];
        let mut candidates: Vec<(u32, bool)> = Vec::new();
        for &class in &affected {
            seen[class as usize] = true;
            candidates.push((class, true));
        }
        for from in sources {
            for &class in &self.classes_through[from.0 as usize] {
                let index = class as usize;
                if seen[index] || self.bloom[index] & mask == 0 {
                    continue;
                }
                seen[index] = true;
                candidates.push((class, false));
            }
        }
        let read = |&(class, kept): &(u32, bool)| {
            let crosses = self.crossing(class, &overloaded);
            (kept || crosses.levels != 0).then_some((class, crosses))
        };
        let mut crossing: Vec<(u32, Crossing)> = if self.threads > 1 && candidates.len() >= 2 * self.parallel_min {
            use rayon::prelude::*;
            candidates.par_iter().filter_map(read).collect()
        } else {
            candidates.iter().filter_map(read).collect()
        };
        crossing.sort_unstable_by_key(|c| c.0);
        crossing.dedup_by_key(|c| c.0);
        let affected: Vec<u32> = crossing.iter().map(|c| c.0).collect();
        let losses = if self.traceable && !self.full_congestion {
            self.trace(&crossing);
            self.resolve_by_replay(&crossing)
        } else {
            self.resolve_by_spreading(&crossing)
        };
        for (&class, (total, cause, blackhole_fraction)) in affected.iter().zip(losses) {
            let state = &self.state[class as usize];
            if (state.congestion_gbps - total).abs() > 1e-12
                || state.congestion_cause != cause
                || (state.blackhole_fraction - blackhole_fraction).abs() > 1e-15
            {
                let rate = self.classes[class as usize].rate_gbps;
                accrue(&mut self.state[class as usize], rate, now);
                let state = &mut self.state[class as usize];
                state.blackhole_fraction = blackhole_fraction;
                state.congestion_gbps = total;
                state.congestion_cause = cause;
                if let Some(link) = cause {
                    note_cause(&mut state.causes, Cause::Congestion(link), now, 0.0);
                }
            }
            let losing = losing(&self.state[class as usize]);
            self.flags[class as usize] = self.flags[class as usize] & !LOSING | losing;
            if total > 0.0 {
                self.congested.push(class);
            }
        }
    }

    /// [`Fluid::congestion`]'s losses of `affected` (congestion in Gbps, its cause, and the
    /// share lost to blackholes), by spreading each class again with the links' survival,
    /// level by level: the reference the replay is held to.
    fn resolve_by_spreading(&mut self, crossing: &[(u32, Crossing)]) -> Vec<(f64, Option<LinkId>, f64)> {
        let link_count = self.offered.len();
        let mut survival = vec![1.0; link_count];
        let mut slot = vec![u32::MAX; link_count];
        let (mut carried, mut sole) = (Vec::new(), Vec::new());
        for (index, (level, links)) in self.overloaded_by_level().into_iter().enumerate() {
            if index == 0 {
                // Nothing is dropped below the lowest overloaded level: what reaches its links
                // is what is offered on them.
                for link in &links {
                    survival[link.0 as usize] = self.survival(*link, self.offered[link.0 as usize]);
                }
                continue;
            }
            for (at, link) in links.iter().enumerate() {
                slot[link.0 as usize] = at as u32;
            }
            let bit = 1u8 << level.min(7);
            let mut arriving = vec![0i64; links.len()];
            for &(class, _) in crossing.iter().filter(|(_, c)| c.levels & bit != 0) {
                let rate = self.classes[class as usize].rate_gbps;
                self.spread_one(class as usize, &survival, &mut carried, &mut sole, &mut |link, share| {
                    let at = slot[link.0 as usize];
                    if at != u32::MAX {
                        arriving[at as usize] += bits_per_second(share * rate);
                    }
                });
            }
            for (link, arriving) in links.iter().zip(arriving) {
                slot[link.0 as usize] = u32::MAX;
                survival[link.0 as usize] = self.survival(*link, arriving);
            }
        }
        let mut dropped = Drops::default();
        let mut losses = Vec::with_capacity(crossing.len());
        for &(class, _) in crossing {
            let rate = self.classes[class as usize].rate_gbps;
            // Spread with the links' survival, so what a blackhole further on takes is only
            // what got through the congestion before it (never counted twice).
            let mut on_link = |link: LinkId, share: f64| dropped.note(&survival, link, share * rate);
            let spread = self.spread_one(class as usize, &survival, &mut carried, &mut sole, &mut on_link);
            let (total, cause) = dropped.tally();
            losses.push((total, cause, spread.blackhole_fraction));
        }
        losses
    }

    /// [`Fluid::resolve_by_spreading`] by replaying the classes' recorded spreads instead
    /// ([`replay`]), on as many threads as the model spreads on: each level's arrivals are
    /// summed in whole bits per second, so they, and everything after them, are the same on one
    /// thread and many.
    fn resolve_by_replay(&mut self, crossing: &[(u32, Crossing)]) -> Vec<(f64, Option<LinkId>, f64)> {
        let link_count = self.offered.len();
        let mut survival = vec![1.0; link_count];
        let mut slot = vec![u32::MAX; link_count];
        let parts = self.threads.min(crossing.len() / self.parallel_min).max(1);
        let chunk = crossing.len().div_ceil(parts).max(1);
        let (traces, classes, levels_of) = (&self.traces, &self.classes, &self.level[..]);
        let by_level = self.overloaded_by_level();
        // When the highest overloaded level is the links into the destinations, a class whose
        // levels never fall crosses them last: what reaches them is what its final replay finds
        // before their survival is known, so that replay also gives their arrivals, and their
        // drops are added to its losses afterwards ([`Pending`]) — one replay instead of two.
        let last = by_level.len().saturating_sub(1);
        let merged = by_level.len() > 1 && by_level[last].0 == DELIVERY_LEVEL;
        let mut top: (Vec<LinkId>, Vec<i64>) = (Vec::new(), Vec::new());
        for (index, (level, links)) in by_level.into_iter().enumerate() {
            let deferred = merged && index == last;
            let arriving: Vec<i64> = if index == 0 {
                // As in the reference: nothing is dropped below the lowest overloaded level.
                links.iter().map(|l| self.offered[l.0 as usize]).collect()
            } else {
                for (at, link) in links.iter().enumerate() {
                    slot[link.0 as usize] = at as u32;
                }
                let (slots, survival) = (&slot, &survival);
                let bit = 1u8 << level.min(7);
                let part = |mine: &[(u32, Crossing)]| {
                    let (mut sums, mut buffer) = (vec![0i64; links.len()], Vec::new());
                    let replayed = mine.iter().filter(|(_, c)| c.levels & bit != 0 && !(deferred && c.rising));
                    for &(class, crosses) in replayed {
                        let rate = classes[class as usize].rate_gbps;
                        // A spread whose levels never fall is replayed only up to this level.
                        let until = crosses.rising.then_some((levels_of, level));
                        replay_below(
                            &traces[class as usize],
                            Some(survival),
                            until,
                            &mut buffer,
                            &mut |link, share| {
                                let at = slots[link.0 as usize];
                                if at != u32::MAX {
                                    sums[at as usize] += bits_per_second(share * rate);
                                }
                            },
                        );
                    }
                    sums
                };
                let arriving = if parts == 1 {
                    part(crossing)
                } else {
                    use rayon::prelude::*;
                    crossing.par_chunks(chunk).map(part).reduce(|| vec![0i64; links.len()], add_sums)
                };
                if !deferred {
                    for link in &links {
                        slot[link.0 as usize] = u32::MAX;
                    }
                }
                arriving
            };
            if deferred {
                top = (links, arriving);
                continue;
            }
            for (link, arriving) in links.iter().zip(arriving) {
                survival[link.0 as usize] = self.survival(*link, arriving);
            }
        }
        // Replayed with the links' survival, so what a blackhole further on takes is only what
        // got through the congestion before it (never counted twice).
        let one = |survival: &[f64], (buffer, dropped): &mut (Vec<f64>, Drops), class: u32| {
            let rate = classes[class as usize].rate_gbps;
            let blackhole = replay(&traces[class as usize], Some(survival), buffer, &mut |link, share| {
                dropped.note(survival, link, share * rate)
            });
            let (total, cause) = dropped.tally();
            (total, cause, blackhole)
        };
        // When merged, the final replay of the classes whose levels never fall, before the
        // destinations' links' survival: their arrivals there complete those links' sums.
        let (top_links, mut top_sums) = top;
        let (slots, partial_survival) = (&slot, &survival);
        let part = |mine: &[(u32, Crossing)]| {
            let (mut sums, mut buffer, mut dropped) = (vec![0i64; top_links.len()], Vec::new(), Drops::default());
            let partials: Vec<Option<Pending>> = mine
                .iter()
                .map(|&(class, crosses)| {
                    if !crosses.rising {
                        return None;
                    }
                    let rate = classes[class as usize].rate_gbps;
                    let mut pending = Pending::default();
                    let blackhole =
                        replay(&traces[class as usize], Some(partial_survival), &mut buffer, &mut |link, share| {
                            let at = slots[link.0 as usize];
                            if at == u32::MAX {
                                dropped.note(partial_survival, link, share * rate);
                            } else {
                                sums[at as usize] += bits_per_second(share * rate);
                                pending.arrive(link, share * rate);
                            }
                        });
                    let (total, best) = dropped.settle();
                    pending.complete(total, best, blackhole)
                })
                .collect();
            (partials, sums)
        };
        let partials: Vec<Option<Pending>> = if !merged {
            // Every class is replayed once every survival is known.
            vec![None; crossing.len()]
        } else if parts == 1 {
            let (partials, sums) = part(crossing);
            top_sums = add_sums(top_sums, sums);
            partials
        } else {
            use rayon::prelude::*;
            let chunks: Vec<(Vec<Option<Pending>>, Vec<i64>)> = crossing.par_chunks(chunk).map(part).collect();
            let mut partials = Vec::with_capacity(crossing.len());
            for (mine, sums) in chunks {
                partials.extend(mine);
                top_sums = add_sums(top_sums, sums);
            }
            partials
        };
        for (link, arriving) in top_links.iter().zip(top_sums) {
            slot[link.0 as usize] = u32::MAX;
            survival[link.0 as usize] = self.survival(*link, arriving);
        }
        // The destinations' links' drops added to each such class's losses; any other class
        // (its levels fall somewhere, or it reaches its destination too many ways to hold)
        // replayed with every survival known.
        let survival = &survival[..];
        let finish = |buffers: &mut (Vec<f64>, Drops), (partial, (class, _)): (&Option<Pending>, &(u32, Crossing))| {
            match partial {
                Some(pending) => pending.losses(survival),
                None => one(survival, buffers, *class),
            }
        };
        if parts == 1 {
            let mut buffers = (Vec::new(), Drops::default());
            return partials.iter().zip(crossing).map(|pair| finish(&mut buffers, pair)).collect();
        }
        use rayon::prelude::*;
        partials.par_iter().zip(crossing).map_init(|| (Vec::new(), Drops::default()), finish).collect()
    }

    /// Records the spreads of `crossing`'s classes that are not recorded as they are now (each
    /// spread again, as it stands), and from now on every spread as it is made.
    fn trace(&mut self, crossing: &[(u32, Crossing)]) {
        if !self.tracing {
            self.tracing = true;
            self.traces.resize_with(self.classes.len(), Vec::new);
        }
        let stale: Vec<u32> =
            crossing.iter().map(|c| c.0).filter(|class| self.flags[*class as usize] & TRACED == 0).collect();
        if stale.is_empty() {
            return;
        }
        let mut traces = std::mem::take(&mut self.traces);
        let (mut carried, mut sole) = (Vec::new(), Vec::new());
        let mut walker = self.walker();
        for &class in &stale {
            let trace = &mut traces[class as usize];
            trace.clear();
            walker.spread(class as usize, None, &mut carried, &mut sole, &mut |link, _, from, to| {
                trace.push(Hop::new(link, from, to));
            });
        }
        let evaluations = walker.evaluations;
        self.evaluations += evaluations;
        self.traces = traces;
        for class in stale {
            self.flags[class as usize] |= TRACED;
        }
    }

    /// Where class `class` crosses the links marked `overloaded`.
    fn crossing(&self, class: u32, overloaded: &[bool]) -> Crossing {
        let (mut levels, mut rising, mut last) = (0u8, true, 0u8);
        for (link, _) in self.state[class as usize].contributions.iter() {
            let level = self.level[link.0 as usize];
            rising &= level >= last;
            last = level;
            if overloaded[link.0 as usize] {
                levels |= 1 << level.min(7);
            }
        }
        Crossing { levels, rising }
    }

    /// The overloaded links of each level that has some, lowest level first.
    fn overloaded_by_level(&self) -> Vec<(u8, Vec<LinkId>)> {
        let mut levels: Vec<u8> = self.overloaded.iter().map(|l| self.level[l.0 as usize]).collect();
        levels.sort_unstable();
        levels.dedup();
        let at = |level: u8| self.overloaded.iter().copied().filter(|l| self.level[l.0 as usize] == level).collect();
        levels.into_iter().map(|level| (level, at(level))).collect()
    }

    /// What `link` lets through when `arriving` bits per second reach it.
    fn survival(&self, link: LinkId, arriving: i64) -> f64 {
        let load = arriving as f64 / BITS_PER_GBIT;
        let capacity = self.topology.links[link.0 as usize].capacity_gbps;
        if load > capacity { capacity / load } else { 1.0 }
    }

    /// The sending end of a link (for endpoint links, the switch it enters; that switch's
    /// classes are the ones that can cross it).
    pub(super) fn link_source(&self, link: LinkId) -> NodeId {
        self.link_node[link.0 as usize]
    }
}

/// Where a class crosses overloaded links: the levels (a bit per level), and whether the
/// levels of its links never fall along its spread (relayed traffic goes down and up again).
#[derive(Clone, Copy, Debug)]
struct Crossing {
    levels: u8,
    rising: bool,
}

/// What each link drops of one class, merged per link as it is noted: a link several of the
/// class's paths cross (the last hop to a dual-homed server's leaf and on, traffic relayed) is
/// noted once per path.
#[derive(Default)]
struct Drops {
    /// Per link, 1 + its place in `links`, or 0.
    marks: Vec<u32>,
    links: Vec<(LinkId, f64)>,
    total: f64,
}

impl Drops {
    /// Notes what `link` drops of `gbps` arriving on it, if anything.
    fn note(&mut self, survival: &[f64], link: LinkId, gbps: f64) {
        let lost = gbps * (1.0 - survival[link.0 as usize]);
        if lost <= 0.0 {
            return;
        }
        self.total += lost;
        if self.marks.len() < survival.len() {
            self.marks.resize(survival.len(), 0);
        }
        match self.marks[link.0 as usize] {
            0 => {
                self.links.push((link, lost));
                self.marks[link.0 as usize] = self.links.len() as u32;
            }
            at => self.links[at as usize - 1].1 += lost,
        }
    }

    /// The class's congestion loss in all and its cause: the link losing the most of it (of
    /// equals, the highest numbered). Ready for the next class.
    fn tally(&mut self) -> (f64, Option<LinkId>) {
        let (total, most) = self.settle();
        (total, most.map(|m| m.0))
    }

    /// The class's congestion loss in all, and the link losing the most of it with what it
    /// loses ([`Drops::tally`]). Ready for the next class.
    fn settle(&mut self) -> (f64, Option<(LinkId, f64)>) {
        let most = self.links.iter().copied().max_by(more);
        for (link, _) in self.links.drain(..) {
            self.marks[link.0 as usize] = 0;
        }
        (std::mem::take(&mut self.total), most)
    }
}

/// Orders two links' drops of a class: by what they lose, then (of equals) by number.
fn more(a: &(LinkId, f64), b: &(LinkId, f64)) -> std::cmp::Ordering {
    a.1.total_cmp(&b.1).then(a.0.cmp(&b.0))
}

/// Adds `more` into `sums`.
fn add_sums(mut sums: Vec<i64>, more: Vec<i64>) -> Vec<i64> {
    sums.iter_mut().zip(more).for_each(|(sum, more)| *sum += more);
    sums
}

/// The level of the links into the destinations, the last every path crosses.
const DELIVERY_LEVEL: u8 = 5;

/// The most times a class's final replay reaches a destination's link that [`Pending`] holds
/// (a dual-homed destination reached at one stage: two); a class reaching them more often is
/// replayed again instead.
const ARRIVALS: usize = 4;

/// A class's losses from its final replay made before the destinations' links' survival was
/// known (it crosses them last): everything but their drops, and what reached them, in order.
#[derive(Clone, Copy, Debug)]
struct Pending {
    total: f64,
    most: Option<(LinkId, f64)>,
    blackhole: f64,
    arrivals: [(LinkId, f64); ARRIVALS],
    count: usize,
    /// More arrivals than fit: the class is replayed again.
    overflow: bool,
}

impl Default for Pending {
    fn default() -> Pending {
        Pending {
            total: 0.0,
            most: None,
            blackhole: 0.0,
            arrivals: [(LinkId(0), 0.0); ARRIVALS],
            count: 0,
            overflow: false,
        }
    }
}

impl Pending {
    fn arrive(&mut self, link: LinkId, gbps: f64) {
        match self.arrivals.get_mut(self.count) {
            Some(slot) => {
                *slot = (link, gbps);
                self.count += 1;
            }
            None => self.overflow = true,
        }
    }

    /// The replay's other losses; `None` when the arrivals did not fit.
    fn complete(mut self, total: f64, most: Option<(LinkId, f64)>, blackhole: f64) -> Option<Pending> {
        (!self.overflow).then(|| {
            (self.total, self.most, self.blackhole) = (total, most, blackhole);
            self
        })
    }

    /// The class's losses, the destinations' links letting `survival` through: their drops
    /// noted as [`Drops::note`] notes them, in the replay's order, merged per link.
    fn losses(&self, survival: &[f64]) -> (f64, Option<LinkId>, f64) {
        let (mut total, mut most) = (self.total, self.most);
        let mut links: [(LinkId, f64); ARRIVALS] = [(LinkId(0), 0.0); ARRIVALS];
        let mut merged = 0;
        for &(link, gbps) in &self.arrivals[..self.count] {
            let lost = gbps * (1.0 - survival[link.0 as usize]);
            if lost <= 0.0 {
                continue;
            }
            total += lost;
            match links[..merged].iter_mut().find(|l| l.0 == link) {
                Some(entry) => entry.1 += lost,
                None => {
                    links[merged] = (link, lost);
                    merged += 1;
                }
            }
        }
        for entry in &links[..merged] {
            if most.is_none_or(|m| more(entry, &m).is_gt()) {
                most = Some(*entry);
            }
        }
        (total, most.map(|m| m.0), self.blackhole)
    }
}
