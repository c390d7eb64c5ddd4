//! Congestion: which links are over capacity, and what each class loses on them, link level
//! by link level with proportional sharing.

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
        let mut affected: Vec<u32> = std::mem::take(&mut self.congested);
        let mut sources: Vec<NodeId> = self.overloaded.iter().map(|l| self.link_source(*l)).collect();
        sources.sort_unstable();
        sources.dedup();
        // A class reaches the sending switch of every link it crosses: its bloom of the switches
        // it reaches rules most classes out before their links are read; each class is read once.
        let mask = sources.iter().fold(0u64, |mask, node| mask | 1 << (node.0 % 64));
        let mut seen = vec![false; self.classes.len()];
        for from in sources {
            for &class in &self.classes_through[from.0 as usize] {
                let index = class as usize;
                if seen[index] || self.bloom[index] & mask == 0 {
                    continue;
                }
                seen[index] = true;
                if self.state[index].contributions.iter().any(|(l, _)| overloaded[l.0 as usize]) {
                    affected.push(class);
                }
            }
        }
        affected.sort_unstable();
        affected.dedup();
        // What the affected classes offer on each overloaded link, in one pass over them; the
        // rest of a link's load is the unaffected classes', which arrives unchanged. And the
        // levels at which each crosses an overloaded link (one bit per level): only there does
        // it bring anything to a level's overloaded links.
        let mut affected_offered = vec![0i64; link_count];
        let mut crossed: Vec<u64> = Vec::with_capacity(affected.len());
        for &class in &affected {
            let rate = self.classes[class as usize].rate_gbps;
            let mut levels = 0u64;
            for &(link, share) in &self.state[class as usize].contributions {
                if overloaded[link.0 as usize] {
                    affected_offered[link.0 as usize] += share_load(share, rate);
                    levels |= 1 << self.level[link.0 as usize].min(63);
                }
            }
            crossed.push(levels);
        }
        let mut survival = vec![1.0; link_count];
        let mut levels: Vec<u8> = self.overloaded.iter().map(|l| self.level[l.0 as usize]).collect();
        levels.sort_unstable();
        levels.dedup();
        let (mut carried, mut sole) = (Vec::new(), Vec::new());
        let mut arriving = vec![0.0f64; link_count];
        let mut at_level = vec![false; link_count];
        for level in levels {
            let links: Vec<LinkId> =
                self.overloaded.iter().copied().filter(|l| self.level[l.0 as usize] == level).collect();
            for link in &links {
                at_level[link.0 as usize] = true;
                arriving[link.0 as usize] = 0.0;
            }
            // What reaches this level's overloaded links, after the drops at lower levels: from
            // the classes that cross one of them (a spread touches only its class's links).
            let bit = 1u64 << level.min(63);
            for (&class, &levels) in affected.iter().zip(&crossed).filter(|(_, levels)| *levels & bit != 0) {
                let rate = self.classes[class as usize].rate_gbps;
                if !self.full_congestion && simple(levels, &self.state[class as usize]) {
                    // Nothing dropped before this level: what arrives is what it offers.
                    for &(link, share) in &self.state[class as usize].contributions {
                        if at_level[link.0 as usize] {
                            arriving[link.0 as usize] += f64::from(share) * rate;
                        }
                    }
                    continue;
                }
                self.spread_one(class as usize, &survival, &mut carried, &mut sole, &mut |link, fraction| {
                    if at_level[link.0 as usize] {
                        arriving[link.0 as usize] += fraction * rate;
                    }
                });
            }
            for link in links {
                let index = link.0 as usize;
                at_level[index] = false;
                let unaffected = (self.offered[index] - affected_offered[index]) as f64 / BITS_PER_GBIT;
                let load = unaffected + arriving[index];
                let capacity = self.topology.links[index].capacity_gbps;
                survival[index] = if load > capacity { capacity / load } else { 1.0 };
            }
        }
        for (&class, &levels) in affected.iter().zip(&crossed) {
            let rate = self.classes[class as usize].rate_gbps;
            let mut dropped: Vec<(LinkId, f64)> = Vec::new();
            let blackhole_fraction = if !self.full_congestion && simple(levels, &self.state[class as usize]) {
                // Drops at one level only, with nothing lost before or after: from its offer.
                for &(link, share) in &self.state[class as usize].contributions {
                    let lost = f64::from(share) * rate * (1.0 - survival[link.0 as usize]);
                    if lost > 0.0 {
                        dropped.push((link, lost));
                    }
                }
                0.0
            } else {
                // Spread with the links' survival, so what a blackhole further on takes is only
                // what got through the congestion before it (never counted twice).
                let mut on_link = |link: LinkId, fraction: f64| {
                    let lost = fraction * rate * (1.0 - survival[link.0 as usize]);
                    if lost > 0.0 {
                        dropped.push((link, lost));
                    }
                };
                self.spread_one(class as usize, &survival, &mut carried, &mut sole, &mut on_link).blackhole_fraction
            };
            let total: f64 = dropped.iter().map(|d| d.1).sum();
            // A link several of the class's paths cross (the last hop to a dual-homed server's
            // leaf and on) is reported once per path: its cause is the link losing the most
            // in all.
            dropped.sort_unstable_by_key(|d| d.0);
            dropped.dedup_by(|later, first| {
                let same = later.0 == first.0;
                if same {
                    first.1 += later.1;
                }
                same
            });
            let cause = dropped.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|d| d.0);
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

    /// The sending end of a link (for endpoint links, the switch it enters; that switch's
    /// classes are the ones that can cross it).
    pub(super) fn link_source(&self, link: LinkId) -> NodeId {
        self.link_node[link.0 as usize]
    }
}

/// A class whose congestion can be read off its offered load without spreading it again: it
/// crosses overloaded links at one level at most (nothing is dropped before them, and what
/// they drop meets no other drop) and loses nothing to a blackhole (so its blackhole share stays
/// nothing whatever survives).
fn simple(levels: u64, state: &ClassState) -> bool {
    levels.count_ones() <= 1 && state.blackhole_fraction == 0.0
}
