//! One class's spread over the fabric: the walk from its source, switch by switch, over the
//! best valley-free next hops, with what it reads and what it writes kept apart.

use super::*;

/// The parts of the model spreads write: memos, marks and buffers, per-class records, loads.
pub(super) struct Writable<'a> {
    pub(super) memo: &'a mut [Memo],
    pub(super) bits: &'a mut [u64],
    pub(super) scratch: &'a mut [Scratch],
    pub(super) outputs: Outputs<'a>,
    pub(super) offered: &'a mut [i64],
    pub(super) loads: &'a mut [Vec<i64>],
}

/// The parts of the model a spread reads and never writes.
#[derive(Clone, Copy)]
pub(super) struct Ground<'a> {
    pub(super) topology: &'a Topology,
    pub(super) status: &'a [Status],
    pub(super) classes: &'a [Class],
    pub(super) dests: &'a [Vec<NodeId>],
    pub(super) dest_kinds: &'a [Attachment],
    /// Per endpoint, its kind of source ([`Fluid::source_kinds`]).
    pub(super) source_kinds: &'a [u32],
    pub(super) hop_table: &'a [(NodeId, LinkId)],
    pub(super) blame_to: &'a [Option<NodeId>],
    pub(super) dest_bump: &'a [u32],
    pub(super) node_bump: &'a [u32],
    /// Where each destination group's marks start in the model's bits.
    pub(super) bits_start: &'a [usize],
    /// Spreads are recorded as steps ([`Hop`]) as they are made.
    pub(super) tracing: bool,
    pub(super) clock: u32,
    pub(super) overlay_lost: Option<NodeId>,
}

/// Spreads classes of the destination groups from `first` on, for as many as its memo rows
/// cover. A spread only reads and writes the memos of its own class's destination group, so
/// walkers over disjoint groups can run at once, and a memo's value does not depend on which
/// walker computed it or when: the result is the same however the groups are divided.
pub(super) struct Walker<'a> {
    pub(super) ground: Ground<'a>,
    pub(super) first: u32,
    pub(super) memo: &'a mut [Memo],
    /// `bits[i]` is the model's bit word `bits_base + i`.
    pub(super) bits_base: usize,
    pub(super) bits: &'a mut [u64],
    pub(super) scratch: &'a mut Scratch,
    pub(super) evaluations: u64,
}

impl Walker<'_> {
    pub(super) fn slot(&self, node: NodeId, dest: u32) -> usize {
        debug_assert!(dest >= self.first, "a walker spreads only its own destination groups");
        (dest - self.first) as usize * self.ground.topology.node_count() + node.0 as usize
    }

    /// The clock reading a memo of (`node`, `dest`) must have been computed at to be valid.
    pub(super) fn valid_since(&self, node: NodeId, dest: u32) -> u32 {
        self.ground.dest_bump[dest as usize].max(self.ground.node_bump[node.0 as usize])
    }

    /// The next hops of `node` towards `dest`: a range of the hop table, looked up when the
    /// model was built (every slot a spread can visit was).
    pub(super) fn hops(&self, slot: usize) -> (usize, usize) {
        let memo = &self.memo[slot];
        assert!(memo.start != u32::MAX, "a spread reached a switch the path index never saw");
        (memo.start as usize, memo.len as usize)
    }

    /// The best quality of a path from `node` onward to `dest`, by what neighbours believe; for
    /// a destination switch, its attachment to the destination. Memoised until a switch it
    /// depends on changes.
    pub(super) fn reach(&mut self, node: NodeId, dest: u32, depth: usize) -> View {
        assert!(depth < 8, "a path crossed more than eight switches: the topology has a loop");
        let slot = self.slot(node, dest);
        let valid = self.valid_since(node, dest);
        let memo = self.memo[slot];
        if memo.reach_stamp >= valid {
            return memo.reach;
        }
        let ground = self.ground;
        let view = if memo.is_dest {
            ground.dest_kinds[dest as usize].view(&ground.status[node.0 as usize])
        } else {
            let (start, len) = self.hops(slot);
            let mut best = View::Withdrawn;
            for &(next, _) in &ground.hop_table[start..start + len] {
                let fabric = ground.status[next.0 as usize].fabric;
                if fabric <= best {
                    continue;
                }
                best = best.max(fabric.min(self.reach(next, dest, depth + 1)));
                if best == View::Use {
                    break;
                }
            }
            best
        };
        let memo = &mut self.memo[slot];
        memo.reach = view;
        memo.reach_stamp = ground.clock;
        view
    }

    /// Where `node` sends traffic for `dest` now: computed once per (switch, destination group)
    /// until a switch it depends on changes, and shared by every class going that way. The best
    /// next hops are marked in the slot's bits.
    pub(super) fn decision(&mut self, node: NodeId, dest: u32) -> Decision {
        let slot = self.slot(node, dest);
        let valid = self.valid_since(node, dest);
        let memo = self.memo[slot];
        if memo.decision_stamp >= valid {
            let Memo { start, len, bits_at, count, best, culprit, .. } = memo;
            return Decision { start, len, bits_at, count, best, culprit };
        }
        let ground = self.ground;
        let (start, len) = self.hops(slot);
        let mut ranked = std::mem::take(&mut self.scratch.ranked);
        ranked.clear();
        let mut best = View::Withdrawn;
        for &(hop, _) in &ground.hop_table[start..start + len] {
            let fabric = ground.status[hop.0 as usize].fabric;
            let quality = if fabric == View::Withdrawn { fabric } else { fabric.min(self.reach(hop, dest, 0)) };
            ranked.push(quality);
            best = best.max(quality);
        }
        let words = memo.bits_at as usize - self.bits_base;
        let mut count = 0;
        for word in &mut self.bits[words..words + len.div_ceil(64)] {
            *word = 0;
        }
        for (index, quality) in ranked.iter().enumerate() {
            if best != View::Withdrawn && *quality == best {
                self.bits[words + index / 64] |= 1 << (index % 64);
                count += 1;
            }
        }
        self.scratch.ranked = ranked;
        let culprit = if best == View::Withdrawn { ground.blame(node, dest) } else { node };
        let memo = &mut self.memo[slot];
        memo.decision_stamp = ground.clock;
        memo.count = count;
        memo.best = best;
        memo.culprit = culprit;
        Decision { start: start as u32, len: len as u32, bits_at: memo.bits_at, count, best, culprit }
    }

    /// Spreads class `class` from its source, stage by stage, merging the fractions that reach
    /// the same switch. Calls `on_link(link, fraction arriving, from, to)` for every link it
    /// puts traffic on, with the steps (see [`Hop`]) it leaves and reaches; `survival`, when
    /// given, is what each link lets through (congestion). Fills `carried` (a switch per step)
    /// and `sole`.
    ///
    /// Classes that differ only in their endpoints, on the same switches (servers of one rack
    /// to servers of another), spread alike but for the endpoints' own links: a spread is kept
    /// when the class to be spread next (`Alike::upcoming`) would spread alike, and that class,
    /// in the same state of the fabric, gets it back with its own endpoints' links, without a
    /// walk ([`Alike`]).
    pub(super) fn spread<F: FnMut(LinkId, f64, u16, u16)>(
        &mut self,
        class: usize,
        survival: Option<&[f64]>,
        carried: &mut Vec<NodeId>,
        sole: &mut Vec<NodeId>,
        on_link: &mut F,
    ) -> Spread {
        self.evaluations += 1;
        let ground = self.ground;
        let Class { src, dst, hash, .. } = ground.classes[class];
        // Congestion's spreads (with survival) depend on more than the fabric's state, and a
        // hashed flow on its own hash: neither is kept.
        if survival.is_some() || hash.is_some() {
            return self.walk(class, survival, carried, sole, on_link);
        }
        let key = self.alike_key(class);
        let mut alike = std::mem::take(&mut self.scratch.alike);
        if alike.key.is_some_and(|kept| ground.spread_alike(kept, key)) {
            let spread = alike.give(ground.topology, src, dst, carried, sole, on_link);
            self.scratch.alike = alike;
            return spread;
        }
        if !self.serves_next(&alike, key) {
            self.scratch.alike = alike;
            return self.walk(class, None, carried, sole, on_link);
        }
        alike.hops.clear();
        let hops = &mut alike.hops;
        let spread = self.walk(class, None, carried, sole, &mut |link, share, from, to| {
            hops.push(Kept { link, share, from, to, at: u32::MAX });
            on_link(link, share, from, to);
        });
        alike.keep(ground.topology, key, src, dst, &spread, carried, sole);
        self.scratch.alike = alike;
        spread
    }

    /// True when `class` can be given the kept spread and its shared links and shares
    /// ([`Alike::interior`]) without a walk; counted as a spread.
    pub(super) fn gives(&mut self, class: usize) -> bool {
        let alike = &self.scratch.alike;
        let gives = alike.interior.is_some()
            && alike.key.is_some_and(|kept| self.ground.spread_alike(kept, self.alike_key(class)));
        self.evaluations += u64::from(gives);
        gives
    }

    /// True when [`Walker::spread`] would keep the spread of `class` for the class after it.
    pub(super) fn will_keep(&self, class: usize) -> bool {
        let (ground, alike) = (self.ground, &self.scratch.alike);
        let key = self.alike_key(class);
        ground.classes[class].hash.is_none()
            && !alike.key.is_some_and(|kept| ground.spread_alike(kept, key))
            && self.serves_next(alike, key)
    }

    /// True when a spread made for `key`'s class would serve the class to be spread next.
    fn serves_next(&self, alike: &Alike, key: AlikeKey) -> bool {
        alike.upcoming.is_some_and(|next| self.ground.spread_alike(key, self.alike_key(next as usize)))
    }

    /// What a spread of `class` depends on besides its endpoints' own links.
    pub(super) fn alike_key(&self, class: usize) -> AlikeKey {
        let ground = self.ground;
        AlikeKey { class: class as u32, clock: ground.clock, overlay_lost: ground.overlay_lost }
    }

    /// [`Walker::spread`], walking the fabric.
    pub(super) fn walk<F: FnMut(LinkId, f64, u16, u16)>(
        &mut self,
        class: usize,
        survival: Option<&[f64]>,
        carried: &mut Vec<NodeId>,
        sole: &mut Vec<NodeId>,
        on_link: &mut F,
    ) -> Spread {
        let ground = self.ground;
        carried.clear();
        sole.clear();
        let Class { src, dst, dest, hash, overlay, .. } = ground.classes[class];
        let mut spread = Spread::default();
        if let Some(culprit) = ground.overlay_lost.filter(|_| overlay) {
            spread.blackhole_fraction = 1.0;
            spread.cause = Some((culprit, 1.0));
            spread.degraded = true;
            return spread;
        }
        let source = ground.topology.endpoint(src);
        let kind = Attachment::of(source);
        let access = |status: &Status| kind.view(status);
        let best = source.attachments.iter().map(|a| access(&ground.status[a.0.0 as usize])).max();
        let best = best.unwrap_or(View::Withdrawn);
        spread.degraded |= best != View::Use;
        if best == View::Withdrawn {
            let culprit = source.attachments.first().map_or(NodeId(0), |a| a.0);
            spread.lose(ground.blame_to[culprit.0 as usize].unwrap_or(culprit), 1.0);
            return spread;
        }
        let mut stage = std::mem::take(&mut self.scratch.stage);
        let mut next = std::mem::take(&mut self.scratch.next);
        stage.clear();
        let usable = |a: &&(NodeId, LinkId, LinkId)| access(&ground.status[a.0.0 as usize]) == best;
        let count = source.attachments.iter().filter(usable).count();
        let pick = hash.map(|h| (h % count as u64) as usize);
        for (i, &(leaf, sending, _)) in source.attachments.iter().filter(usable).enumerate() {
            let share = match pick {
                Some(p) if p == i => 1.0,
                Some(_) => continue,
                None => 1.0 / count as f64,
            };
            send(leaf, sending, share, survival, (ROOT, 0), &mut stage, on_link);
        }
        // Valley-free paths have at most five switches; the bound guards against a topology bug.
        for _ in 0..8 {
            if stage.is_empty() {
                break;
            }
            if let [(node, _)] = stage.as_slice() {
                sole.push(*node);
            }
            next.clear();
            // Steps are numbered in the order switches are carried: this stage's from
            // `carried.len()`, the next stage's after them.
            let first = carried.len();
            let next_first = first + stage.len();
            for (index, &(node, fraction)) in stage.iter().enumerate() {
                carried.push(node);
                let steps = (step_number(first + index), next_first);
                self.forward(node, fraction, dest, dst, hash, survival, steps, &mut next, &mut spread, on_link);
            }
            std::mem::swap(&mut stage, &mut next);
        }
        assert!(stage.is_empty(), "a flow crossed more than eight switches: the topology has a loop");
        self.scratch.stage = stage;
        self.scratch.next = next;
        if spread.delivered <= 0.0 {
            sole.clear();
        }
        spread
    }

    /// Handles `fraction` of a class at `node`: delivers it, loses it, or splits it over the
    /// best next hops into `next`. `steps` is this step's number and where the next stage's
    /// numbers start.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward<F: FnMut(LinkId, f64, u16, u16)>(
        &mut self,
        node: NodeId,
        fraction: f64,
        dest: u32,
        dst: EndpointId,
        hash: Option<u64>,
        survival: Option<&[f64]>,
        steps: (u16, usize),
        next: &mut Vec<(NodeId, f64)>,
        spread: &mut Spread,
        on_link: &mut F,
    ) {
        let ground = self.ground;
        let status = ground.status[node.0 as usize];
        if !status.forwarding {
            spread.lose(node, fraction);
            return;
        }
        let is_dest = self.memo[self.slot(node, dest)].is_dest;
        if is_dest || !spread.relayed.is_empty() {
            let path = (is_dest, hash, survival, steps);
            self.forward_off_the_beaten_path(node, fraction, dest, dst, path, next, spread, on_link);
            return;
        }
        let decision = self.decision(node, dest);
        spread.degraded |= decision.best != View::Use;
        if decision.count == 0 {
            spread.lose(decision.culprit, fraction);
            return;
        }
        let count = decision.count as usize;
        let pick = hash.map(|h| (mix(h ^ u64::from(node.0)) % count as u64) as usize);
        let even = fraction / count as f64;
        let words = decision.bits_at as usize - self.bits_base;
        let mut seen = 0;
        for word_index in 0..(decision.len as usize).div_ceil(64) {
            let mut word = self.bits[words + word_index];
            while word != 0 {
                let index = decision.start as usize + word_index * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let (hop, link) = ground.hop_table[index];
                let i = seen;
                seen += 1;
                let share = match pick {
                    Some(p) if p != i => continue,
                    Some(_) => fraction,
                    None => even,
                };
                send(hop, link, share, survival, steps, next, on_link);
            }
        }
    }

    /// [`Walker::forward`] at a destination switch, and for relayed traffic: delivers it, or,
    /// when the switch's link to a multihomed destination is down, relays it over the fabric to
    /// another switch the destination is attached to, as an EVPN leaf does for an Ethernet
    /// segment whose local link went down (traffic from the world or a single-homed server can
    /// still arrive there: they do not see the segment). Relayed traffic never goes back to a
    /// switch that relayed it.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    pub(super) fn forward_off_the_beaten_path<F: FnMut(LinkId, f64, u16, u16)>(
        &mut self,
        node: NodeId,
        fraction: f64,
        dest: u32,
        dst: EndpointId,
        (is_dest, hash, survival, steps): (bool, Option<u64>, Option<&[f64]>, (u16, usize)),
        next: &mut Vec<(NodeId, f64)>,
        spread: &mut Spread,
        on_link: &mut F,
    ) {
        let ground = self.ground;
        let mut hops = std::mem::take(&mut self.scratch.hops);
        hops.clear();
        if is_dest {
            let multihomed = ground.dest_kinds[dest as usize] == Attachment::Multihomed;
            if !multihomed || ground.status[node.0 as usize].attached {
                let endpoint = ground.topology.endpoint(dst);
                let link = endpoint.attachments.iter().find(|a| a.0 == node).expect("destination attaches here").2;
                on_link(link, fraction, steps.0, DELIVERED);
                spread.delivered += fraction * survival.map_or(1.0, |s| s[link.0 as usize]);
                self.scratch.hops = hops;
                return;
            }
            let elsewhere = ground.dests[dest as usize].iter().any(|d| {
                let other = &ground.status[d.0 as usize];
                *d != node && other.attached && other.fabric != View::Withdrawn && !spread.relayed.contains(d)
            });
            if !elsewhere {
                self.scratch.hops = hops;
                spread.lose(node, fraction);
                return;
            }
            if !spread.relayed.contains(&node) {
                spread.relayed.push(node);
            }
            hops.extend_from_slice(&ground.topology.up[node.0 as usize]);
        } else {
            hops_toward(ground.topology, &ground.dests[dest as usize], node, &mut hops);
            hops.retain(|(hop, _)| !spread.relayed.contains(hop));
        }
        let mut ranked = std::mem::take(&mut self.scratch.ranked);
        ranked.clear();
        let mut best = View::Withdrawn;
        for &(hop, _) in &hops {
            let fabric = ground.status[hop.0 as usize].fabric;
            let quality = if fabric == View::Withdrawn { fabric } else { fabric.min(self.reach(hop, dest, 0)) };
            ranked.push(quality);
            best = best.max(quality);
        }
        spread.degraded |= best != View::Use;
        if best == View::Withdrawn {
            self.scratch.hops = hops;
            self.scratch.ranked = ranked;
            let culprit = ground.blame(node, dest);
            spread.lose(culprit, fraction);
            return;
        }
        let count = ranked.iter().filter(|q| **q == best).count();
        let pick = hash.map(|h| (mix(h ^ u64::from(node.0)) % count as u64) as usize);
        let mut seen = 0;
        for (i, &(hop, link)) in hops.iter().enumerate() {
            if ranked[i] != best {
                continue;
            }
            let share = match pick {
                Some(p) if p != seen => {
                    seen += 1;
                    continue;
                }
                Some(_) => fraction,
                None => fraction / count as f64,
            };
            seen += 1;
            send(hop, link, share, survival, steps, next, on_link);
        }
        self.scratch.hops = hops;
        self.scratch.ranked = ranked;
    }
}

/// The class a spread was kept for, and the state of the fabric it was made in: the clock
/// moves with every change of a switch's status or blame, and losing the control plane is
/// the only other thing a spread reads that changes.
#[derive(Clone, Copy, Debug)]
pub(super) struct AlikeKey {
    class: u32,
    clock: u32,
    overlay_lost: Option<NodeId>,
}

/// One link of a kept spread; `at` places an endpoint's own link: for a link from the source,
/// the index of the source's attachment; for a link to the destination, the switch.
#[derive(Clone, Copy, Debug)]
pub(super) struct Kept {
    link: LinkId,
    share: f64,
    from: u16,
    to: u16,
    at: u32,
}

/// The last spread a walker kept to serve another class: see [`Walker::spread`].
#[derive(Debug, Default)]
pub(super) struct Alike {
    /// The class to be spread next, if known: a spread is kept only when it can serve it.
    pub(super) upcoming: Option<u32>,
    key: Option<AlikeKey>,
    hops: Vec<Kept>,
    /// The endpoints' own links among `hops`, in order.
    ends: Vec<Kept>,
    pub(super) spread: Spread,
    pub(super) carried: Vec<NodeId>,
    pub(super) sole: Vec<NodeId>,
    /// The kept spread's links and shares as the class it was kept for holds them, once that
    /// class has taken them on: the classes it serves share them ([`shares::Interior`]).
    pub(super) interior: Option<shares::Interior>,
}

impl Alike {
    /// Keeps the spread just made for `key`'s class (its links in `hops` already), placing its
    /// endpoints' links.
    #[allow(clippy::too_many_arguments)]
    fn keep(
        &mut self,
        topology: &Topology,
        key: AlikeKey,
        src: EndpointId,
        dst: EndpointId,
        spread: &Spread,
        carried: &[NodeId],
        sole: &[NodeId],
    ) {
        let (source, target) = (topology.endpoint(src), topology.endpoint(dst));
        self.ends.clear();
        for kept in &mut self.hops {
            if kept.from == ROOT {
                let index = source.attachments.iter().position(|a| a.1 == kept.link);
                kept.at = index.expect("a source's first links are its own") as u32;
                self.ends.push(*kept);
            } else if kept.to == DELIVERED {
                let switch = target.attachments.iter().find(|a| a.2 == kept.link);
                kept.at = switch.expect("traffic is delivered over the destination's links").0.0;
                self.ends.push(*kept);
            }
        }
        self.key = Some(key);
        self.interior = None;
        self.spread.clone_from(spread);
        self.carried.clear();
        self.carried.extend_from_slice(carried);
        self.sole.clear();
        self.sole.extend_from_slice(sole);
    }

    /// The kept spread, for a class from `src` to `dst`: its own endpoints' links put in.
    fn give<F: FnMut(LinkId, f64, u16, u16)>(
        &self,
        topology: &Topology,
        src: EndpointId,
        dst: EndpointId,
        carried: &mut Vec<NodeId>,
        sole: &mut Vec<NodeId>,
        on_link: &mut F,
    ) -> Spread {
        for kept in &self.hops {
            on_link(Alike::own_link(topology, src, dst, kept), kept.share, kept.from, kept.to);
        }
        carried.clone_from(&self.carried);
        sole.clone_from(&self.sole);
        self.spread.clone()
    }

    /// The link of the kept spread's `kept` for a class from `src` to `dst`: its endpoints'
    /// own where the kept one was an endpoint's.
    fn own_link(topology: &Topology, src: EndpointId, dst: EndpointId, kept: &Kept) -> LinkId {
        if kept.from == ROOT {
            topology.endpoint(src).attachments[kept.at as usize].1
        } else if kept.to == DELIVERED {
            let target = topology.endpoint(dst);
            target.attachments.iter().find(|a| a.0.0 == kept.at).expect("destination attaches here").2
        } else {
            kept.link
        }
    }

    /// True when the kept spread was kept for `class`, which has not taken it on yet.
    pub(super) fn kept_for(&self, class: usize) -> bool {
        self.interior.is_none() && self.key.is_some_and(|key| key.class as usize == class)
    }

    /// Appends the endpoints' own links of the kept spread for a class from `src` to `dst`.
    pub(super) fn own_ends(&self, topology: &Topology, src: EndpointId, dst: EndpointId, out: &mut Vec<LinkId>) {
        out.extend(self.ends.iter().map(|kept| Alike::own_link(topology, src, dst, kept)));
    }
}

impl Ground<'_> {
    /// True when the spread kept for `kept` serves `key`'s class: the fabric is as it was,
    /// and the two classes go to the same destination group from sources of the same kind on
    /// the same switches, in the same order, neither hashed.
    pub(super) fn spread_alike(&self, kept: AlikeKey, key: AlikeKey) -> bool {
        if kept.clock != key.clock || kept.overlay_lost != key.overlay_lost {
            return false;
        }
        let (one, other) = (&self.classes[kept.class as usize], &self.classes[key.class as usize]);
        if one.dest != other.dest || one.hash.is_some() || other.hash.is_some() {
            return false;
        }
        self.source_kinds[one.src.0 as usize] == self.source_kinds[other.src.0 as usize]
    }

    /// The switch to blame when `node` has no route to `dest`: a withdrawn destination switch
    /// if there is one (the route ran out because of it), else a withdrawn next hop, else `node`.
    pub(super) fn blame(&self, node: NodeId, dest: u32) -> NodeId {
        let gone = |n: &NodeId| {
            let status = &self.status[n.0 as usize];
            !status.forwarding || status.fabric == View::Withdrawn || status.access == View::Withdrawn
        };
        let dest_leaf = self.dests[dest as usize].iter().find(|n| gone(n)).copied();
        let mut hops = Vec::new();
        hops_toward(self.topology, &self.dests[dest as usize], node, &mut hops);
        let culprit = dest_leaf.or_else(|| hops.iter().map(|h| h.0).find(|n| gone(n))).unwrap_or(node);
        self.blame_to[culprit.0 as usize].unwrap_or(culprit)
    }
}

impl Spread {
    pub(super) fn lose(&mut self, node: NodeId, fraction: f64) {
        self.blackhole_fraction += fraction;
        if self.cause.is_none_or(|c| fraction > c.1) {
            self.cause = Some((node, fraction));
        }
    }
}

pub(super) fn note_cause(causes: &mut Vec<(Cause, SimTime, f64)>, cause: Cause, at: SimTime, gbit: f64) {
    match causes.iter_mut().find(|c| c.0 == cause) {
        Some(entry) => entry.2 += gbit,
        None => causes.push((cause, at, gbit)),
    }
}

/// Puts `share` of a class on `link` towards `hop`: reports it to `on_link` with the steps it
/// leaves and reaches (`steps`: the step it leaves, and where the next stage's numbers start),
/// and adds what the link lets through (`survival`) to what reaches `hop` in the next stage.
#[inline(always)]
pub(super) fn send<F: FnMut(LinkId, f64, u16, u16)>(
    hop: NodeId,
    link: LinkId,
    share: f64,
    survival: Option<&[f64]>,
    (from, next_first): (u16, usize),
    next: &mut Vec<(NodeId, f64)>,
    on_link: &mut F,
) {
    let position = next.iter().position(|(n, _)| *n == hop);
    on_link(link, share, from, step_number(next_first + position.unwrap_or(next.len())));
    let passed = share * survival.map_or(1.0, |s| s[link.0 as usize]);
    match position {
        Some(position) => next[position].1 += passed,
        None => next.push((hop, passed)),
    }
}

/// A step's number; in a fabric too large to number its steps ([`super::replay::traceable`])
/// the numbers are not used, and any will do.
fn step_number(step: usize) -> u16 {
    u16::try_from(step).unwrap_or(ROOT).min(DELIVERED - 1)
}

/// A fast, well-spread 64-bit mix (SplitMix64's finaliser), for hashing flows onto paths.
pub(super) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Every next hop (switch, link) from `node` towards the destination switches `leafs`,
/// valley-free: a tier-1 switch not among them goes up; a tier-2 switch goes down to the ones
/// below it, or up if there are none; a higher switch goes down to the tier-2 switches that serve
/// them. Lookups start from the destination (a handful of switches) and go up, so the cost does
/// not grow with how many switches hang below a spine.
pub(super) fn hops_toward(topo: &Topology, leafs: &[NodeId], node: NodeId, out: &mut Vec<(NodeId, LinkId)>) {
    let above = |n: NodeId| &topo.from_above[n.0 as usize];
    match topo.node(node).tier {
        1 if leafs.binary_search(&node).is_ok() => {}
        1 => out.extend_from_slice(&topo.up[node.0 as usize]),
        2 => {
            for leaf in leafs {
                if let Some(&(_, link)) = above(*leaf).iter().find(|(upper, _)| *upper == node) {
                    out.push((*leaf, link));
                }
            }
            if out.is_empty() {
                out.extend_from_slice(&topo.up[node.0 as usize]);
            }
        }
        _ => {
            for leaf in leafs {
                for &(spine, _) in above(*leaf) {
                    if out.iter().any(|(s, _)| *s == spine) {
                        continue;
                    }
                    if let Some(&(_, link)) = above(spine).iter().find(|(upper, _)| *upper == node) {
                        out.push((spine, link));
                    }
                }
            }
        }
    }
}
