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
        let mut affected: Vec<u32> = std::mem::take(&mut self.congested);
        for &link in &self.overloaded.clone() {
            let from = self.link_source(link);
            for &class in &self.classes_through[from.0 as usize] {
                if self.state[class as usize].contributions.iter().any(|(l, _)| *l == link) {
                    affected.push(class);
                }
            }
        }
        affected.sort_unstable();
        affected.dedup();
        let mut survival = vec![1.0; self.offered.len()];
        let mut levels: Vec<u8> = self.overloaded.iter().map(|l| self.level[l.0 as usize]).collect();
        levels.sort_unstable();
        levels.dedup();
        let (mut carried, mut sole) = (Vec::new(), Vec::new());
        for level in levels {
            let links: Vec<LinkId> =
                self.overloaded.iter().copied().filter(|l| self.level[l.0 as usize] == level).collect();
            // What reaches this level's overloaded links, after the drops at lower levels.
            let mut arriving: HashMap<LinkId, f64> = links.iter().map(|l| (*l, 0.0)).collect();
            for &class in &affected {
                let rate = self.classes[class as usize].rate_gbps;
                self.spread_one(class as usize, &survival, &mut carried, &mut sole, &mut |link, fraction| {
                    if let Some(total) = arriving.get_mut(&link) {
                        *total += fraction * rate;
                    }
                });
            }
            for link in links {
                // Classes not affected bring their offered load unchanged.
                let affected_offered: i64 = affected
                    .iter()
                    .flat_map(|c| {
                        let rate = self.classes[*c as usize].rate_gbps;
                        self.state[*c as usize]
                            .contributions
                            .iter()
                            .map(move |(l, share)| (*l, share_load(*share, rate)))
                    })
                    .filter(|(l, _)| *l == link)
                    .map(|(_, bits)| bits)
                    .sum();
                let unaffected = (self.offered[link.0 as usize] - affected_offered) as f64 / BITS_PER_GBIT;
                let load = unaffected + arriving[&link];
                let capacity = self.topology.links[link.0 as usize].capacity_gbps;
                survival[link.0 as usize] = if load > capacity { capacity / load } else { 1.0 };
            }
        }
        for &class in &affected {
            let rate = self.classes[class as usize].rate_gbps;
            let mut dropped: Vec<(LinkId, f64)> = Vec::new();
            // Spread with the links' survival, so what a blackhole further on takes is only what
            // got through the congestion before it (never counted twice).
            let spread = self.spread_one(class as usize, &survival, &mut carried, &mut sole, &mut |link, fraction| {
                let lost = fraction * rate * (1.0 - survival[link.0 as usize]);
                if lost > 0.0 {
                    dropped.push((link, lost));
                }
            });
            let total: f64 = dropped.iter().map(|d| d.1).sum();
            let cause = dropped.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|d| d.0);
            let state = &self.state[class as usize];
            if (state.congestion_gbps - total).abs() > 1e-12
                || state.congestion_cause != cause
                || (state.blackhole_fraction - spread.blackhole_fraction).abs() > 1e-15
            {
                let rate = self.classes[class as usize].rate_gbps;
                accrue(&mut self.state[class as usize], rate, now);
                let state = &mut self.state[class as usize];
                state.blackhole_fraction = spread.blackhole_fraction;
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
