//! A class's spread, recorded as it is made and replayed later: to work out what reaches each
//! link when links upstream drop traffic (congestion), in one pass over its links instead of a
//! walk over the fabric's routing state.
//!
//! A spread is a sequence of steps: the class's traffic at one switch at one stage. Each step
//! either delivers what reaches it over one link, loses it all (a blackhole), or splits it
//! evenly over the links it leaves by (one link when hashing). So a link's share is what reached
//! its step divided by the links the step leaves by, and what a step passes on is that share
//! times what the link lets through. Those are the spread's own operations in the spread's own
//! order, so a replay gives the same numbers bit for bit.

use super::*;

/// The step a class's traffic starts from: its source endpoint.
pub(super) const ROOT: u16 = u16::MAX;
/// Where a link takes traffic out of the fabric: its destination endpoint.
pub(super) const DELIVERED: u16 = u16::MAX - 1;
/// A spread visits at most eight stages, each switch at most once per stage.
const STAGES: usize = 8;

/// Whether every spread over a fabric of `switches` switches has few enough steps to be
/// numbered: a stage holds each switch at most once.
pub(super) fn traceable(switches: usize) -> bool {
    switches.saturating_mul(STAGES) < usize::from(DELIVERED)
}

/// One link a class's traffic crosses, with the step the traffic leaves (low half of `word`)
/// and the step it reaches (high half, or [`DELIVERED`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Hop {
    pub(super) link: LinkId,
    word: u32,
}

impl Hop {
    pub(super) fn new(link: LinkId, from: u16, to: u16) -> Hop {
        Hop { link, word: u32::from(from) | u32::from(to) << 16 }
    }

    fn from(self) -> u16 {
        self.word as u16
    }

    fn to(self) -> u16 {
        (self.word >> 16) as u16
    }
}

/// Replays a spread recorded as `hops`: calls `on_link(link, share)` for each
/// link in the spread's order with what reaches it, the links letting `survival` through (all of
/// it when `None`), and returns the share lost to blackholes. `buffer` is reused between calls.
///
/// The spread handles its steps in order, each step's links one after another, so a step's
/// links are a run of the hops (their number is how many it splits over), every step reached
/// has all its traffic before its run, and a step with no run is one that lost what reached it.
pub(super) fn replay<F: FnMut(LinkId, f64)>(
    hops: &[Hop],
    survival: Option<&[f64]>,
    buffer: &mut Vec<f64>,
    on_link: &mut F,
) -> f64 {
    replay_below(hops, survival, None, buffer, on_link)
}

/// [`replay`], stopping at the first link whose level is above `until.1` (by the levels
/// `until.0`) when given: for a spread whose links' levels never fall, every link up to that
/// level is replayed as in full. What it returns is then meaningless.
pub(super) fn replay_below<F: FnMut(LinkId, f64)>(
    hops: &[Hop],
    survival: Option<&[f64]>,
    until: Option<(&[u8], u8)>,
    buffer: &mut Vec<f64>,
    on_link: &mut F,
) -> f64 {
    if hops.is_empty() {
        // Nothing left the source: lost there (no way in, or no overlay).
        return 1.0;
    }
    // Steps are numbered from 0 as they are first reached, each over at least one hop: there
    // are no more of them than hops. Zeros past the last step add nothing to the losses.
    buffer.clear();
    buffer.resize(hops.len(), 0.0);
    // Losses are added in step order, as the spread adds them.
    let mut lost = 0.0;
    let mut unseen = 0;
    let mut at = 0;
    while at < hops.len() {
        let from = hops[at].from();
        if until.is_some_and(|(level, top)| level[hops[at].link.0 as usize] > top) {
            break;
        }
        let run = hops[at..].iter().take_while(|hop| hop.from() == from).count();
        let reached = if from == ROOT {
            debug_assert_eq!(at, 0, "the source's links come first");
            1.0
        } else {
            let from = usize::from(from);
            debug_assert!(from >= unseen, "steps are handled in order");
            lost = buffer[unseen..from].iter().fold(lost, |lost, reached| lost + reached);
            unseen = from + 1;
            buffer[from]
        };
        let share = reached / run as f64;
        for hop in &hops[at..at + run] {
            on_link(hop.link, share);
            let to = usize::from(hop.to());
            if to != usize::from(DELIVERED) {
                buffer[to] += share * survival.map_or(1.0, |s| s[hop.link.0 as usize]);
            }
        }
        at += run;
    }
    buffer[unseen..].iter().fold(lost, |lost, reached| lost + reached)
}
