//! A class's spread as it loads the links: each link with the share of the class's rate
//! offered on it, packed. A spread splits evenly, so a class has only a few distinct shares:
//! each is kept once, and a link names its share by a byte, in four bytes a link instead of
//! eight.
//!
//! The words: the number of distinct shares, a word per link, `link << 8 | share` (the share's
//! place among them), then the shares (`f32` bits). A link numbered at or beyond 2^24 - 1, or a
//! share beyond the first [`PALETTE`] distinct ones, takes three words instead: [`WIDE`], the
//! link, the share. The link number 2^24 - 1 in a word is [`PLACE`], a place held for an
//! endpoint's own link.
//!
//! Classes whose endpoints hang off the same switches (servers of one rack to servers of
//! another) spread alike but for their endpoints' own links, and are mostly spread one after
//! another: such classes share one [`Interior`], the spread with a place held for each of
//! those links, and each keeps only its own endpoints' links ([`Contributions`]).

use std::sync::Arc;

use super::*;

/// The link an [`Interior`] lists where a class's own endpoint link goes (never a link's
/// number: that would take four billion links).
pub(super) const PLACE: LinkId = LinkId(u32::MAX);

/// The word of [`PLACE`]'s link number.
const PLACE_WORD: u32 = (1 << 24) - 1;

/// The byte of a link written in full in the two words after it.
const WIDE: u32 = 0xFF;

/// The most distinct shares a byte names; a class's further shares are written in full.
const PALETTE: usize = 32;

/// The links and shares `entries` packed, appended to `words`.
pub(super) fn pack(entries: &[(LinkId, f32)], words: &mut Vec<u32>) {
    let mut palette = [0u32; PALETTE];
    let mut count = 0;
    let at = words.len();
    words.reserve_exact(1 + entries.len());
    words.push(0);
    // The place of the last share looked up: a spread's links come in runs of one share.
    let mut last: Option<(u32, u32)> = None;
    for &(link, share) in entries {
        let bits = share.to_bits();
        let index = match last {
            Some((was, index)) if was == bits => Some(index),
            _ => {
                let index = match palette[..count].iter().position(|p| *p == bits) {
                    Some(index) => Some(index as u32),
                    None if count < PALETTE => {
                        palette[count] = bits;
                        count += 1;
                        Some(count as u32 - 1)
                    }
                    None => None,
                };
                last = index.map(|index| (bits, index));
                index
            }
        };
        match index {
            Some(index) if link.0 < PLACE_WORD || link == PLACE => words.push(link.0.min(PLACE_WORD) << 8 | index),
            _ => words.extend_from_slice(&[WIDE, link.0, bits]),
        }
    }
    words.reserve_exact(count);
    words.extend_from_slice(&palette[..count]);
    words[at] = count as u32;
}

/// The links and shares [`pack`] packed into `words`, in order.
pub(super) fn unpack(words: &[u32]) -> Iter<'_> {
    let count = words.first().map_or(0, |n| *n as usize);
    let rest = words.get(1..).unwrap_or_default();
    let (entries, palette) = rest.split_at(rest.len() - count);
    Iter { palette, entries }
}

/// The links and shares of [`unpack`], in order.
pub(super) struct Iter<'a> {
    palette: &'a [u32],
    entries: &'a [u32],
}

/// An entry's share as packed: its place among the distinct shares, or its bits written in full.
enum Share {
    At(usize),
    Full(u32),
}

impl Iter<'_> {
    /// The next entry as packed: its link ([`PLACE`] for a place) and its share.
    fn next_packed(&mut self) -> Option<(LinkId, Share)> {
        let (&word, rest) = self.entries.split_first()?;
        if word == WIDE {
            let (wide, rest) = rest.split_at(2);
            self.entries = rest;
            return Some((LinkId(wide[0]), Share::Full(wide[1])));
        }
        self.entries = rest;
        let link = if word >> 8 == PLACE_WORD { PLACE } else { LinkId(word >> 8) };
        Some((link, Share::At((word & WIDE) as usize)))
    }
}

impl Iterator for Iter<'_> {
    type Item = (LinkId, f32);

    fn next(&mut self) -> Option<(LinkId, f32)> {
        let (link, share) = self.next_packed()?;
        let bits = match share {
            Share::At(at) => self.palette[at],
            Share::Full(bits) => bits,
        };
        Some((link, f32::from_bits(bits)))
    }
}

/// Gives `on_link` each link an [`Interior`]'s `words` list, but the places, with the load
/// [`share_load`] puts on it for a class at `rate`: worked out once per distinct share.
pub(super) fn interior_loads(words: &[u32], rate: f64, mut on_link: impl FnMut(LinkId, i64)) {
    let mut entries = interior_entries(words);
    let mut loads = [0i64; PALETTE];
    for (load, bits) in loads.iter_mut().zip(entries.palette) {
        *load = share_load(f32::from_bits(*bits), rate);
    }
    while let Some((link, share)) = entries.next_packed() {
        // A place is a class's own link (its share may be written in full too).
        if link == PLACE {
            continue;
        }
        let load = match share {
            Share::At(at) => loads[at],
            Share::Full(bits) => share_load(f32::from_bits(bits), rate),
        };
        on_link(link, load);
    }
}

/// A spread as several classes share it, in one allocation: the number of places held for a
/// class's own endpoint links, their shares (`f32` bits), then the spread's links and shares,
/// [`PLACE`] where those links go, packed ([`pack`]).
pub(super) type Interior = Arc<[u32]>;

/// Packs `entries`, whose places' shares are `ends`, as an [`Interior`]'s words into `words`.
pub(super) fn pack_interior(entries: &[(LinkId, f32)], ends: &[f32], words: &mut Vec<u32>) {
    words.clear();
    words.reserve_exact(1 + ends.len() + 1 + entries.len());
    words.push(ends.len() as u32);
    words.extend(ends.iter().map(|share| share.to_bits()));
    pack(entries, words);
}

/// The links and shares of an [`Interior`]'s `words`, places and all, in order.
pub(super) fn interior_entries(words: &[u32]) -> Iter<'_> {
    let ends = words.first().map_or(0, |n| *n as usize);
    unpack(words.get(1 + ends..).unwrap_or_default())
}

/// A class's spread apart from its own endpoint links, as [`Interior`]'s words: nothing (it
/// puts nothing on any link), its own (set again in place when it moves), or shared with the
/// classes that spread alike.
#[derive(Clone, Debug, Default)]
pub(super) enum Held {
    #[default]
    Nothing,
    Own(Vec<u32>),
    Shared(Interior),
}

impl Held {
    /// Its words, as [`pack_interior`] packed them (none for [`Held::Nothing`]).
    pub(super) fn words(&self) -> &[u32] {
        match self {
            Held::Nothing => &[],
            Held::Own(words) => words,
            Held::Shared(words) => words,
        }
    }

    /// The links and shares, places and all, in order.
    pub(super) fn entries(&self) -> Iter<'_> {
        interior_entries(self.words())
    }

    /// The shares of the places, in order.
    pub(super) fn end_shares(&self) -> impl Iterator<Item = f32> + '_ {
        let words = self.words();
        let ends = words.first().map_or(0, |n| *n as usize);
        words.get(1..1 + ends).unwrap_or_default().iter().map(|bits| f32::from_bits(*bits))
    }

    /// The shared words, if shared.
    #[cfg(test)]
    pub(super) fn shared(&self) -> Option<&Interior> {
        match self {
            Held::Shared(words) => Some(words),
            _ => None,
        }
    }
}

/// A class's endpoint links for its places: a few held in place (an endpoint has a link or two
/// to each of a switch or two), reading them costs no look elsewhere in memory; more on the heap.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Ends {
    inline: [LinkId; Ends::INLINE],
    len: u8,
    more: Option<Box<[LinkId]>>,
}

impl Ends {
    const INLINE: usize = 4;

    pub(super) fn as_slice(&self) -> &[LinkId] {
        self.more.as_deref().unwrap_or(&self.inline[..self.len as usize])
    }

    /// Replaces the links by `links`.
    pub(super) fn set(&mut self, links: &[LinkId]) {
        if links.len() <= Ends::INLINE {
            self.inline[..links.len()].copy_from_slice(links);
            self.len = links.len() as u8;
            self.more = None;
        } else {
            self.more = Some(links.into());
        }
    }
}

/// A class's spread as it loads the links: what it holds of it ([`Held`]) and its own
/// endpoint links for the places there, in order.
#[derive(Clone, Debug, Default)]
pub(super) struct Contributions {
    pub(super) interior: Held,
    pub(super) ends: Ends,
}

impl Contributions {
    /// The links and shares, in the spread's order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (LinkId, f32)> + '_ {
        let mut ends = self.ends.as_slice().iter();
        self.interior.entries().map(move |(link, share)| {
            let link = if link == PLACE { *ends.next().expect("a link for every place") } else { link };
            (link, share)
        })
    }

    /// The endpoint links and their shares, in order.
    pub(super) fn ends(&self) -> impl Iterator<Item = (LinkId, f32)> + '_ {
        self.ends.as_slice().iter().copied().zip(self.interior.end_shares())
    }

    /// Lets go of the allocations.
    pub(super) fn release(&mut self) {
        *self = Contributions::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Whatever is packed is read back as it was: few shares or more than a byte names, links
    /// numbered below and beyond 2^24 (2^24 - 1 among them, whose word is a place's), places;
    /// four bytes a link when the shares are few and the links numbered below 2^24 - 1. The
    /// loads read from the packed words are each entry's. And a class's links read back with
    /// its own endpoint links in their places.
    #[test]
    fn shares_read_back_what_was_packed() {
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(3);
        let mut words = Vec::new();
        assert_eq!(unpack(&words).count(), 0);
        for round in 0..400 {
            let distinct = [1, 3, 8, 31, 32, 33, 300][round % 7];
            let palette: Vec<f32> = (0..distinct).map(|i| 1.0 / (i + 1) as f32).collect();
            let entries: Vec<(LinkId, f32)> = (0..rng.random_range(0..600))
                .map(|_| {
                    let wide = round % 3 == 0 && rng.random_bool(0.05);
                    let link = match rng.random_range(0..40) {
                        0 => PLACE.0,
                        1 => PLACE_WORD,
                        _ if wide => rng.random_range(0..PLACE.0),
                        _ => rng.random_range(0..1 << 24),
                    };
                    (LinkId(link), palette[rng.random_range(0..palette.len())])
                })
                .collect();
            words.clear();
            pack(&entries, &mut words);
            let read: Vec<(LinkId, f32)> = unpack(&words).collect();
            assert_eq!(read, entries, "round {round}");
            let full_width = entries.iter().filter(|e| e.0.0 == PLACE_WORD).count();
            if distinct <= PALETTE && round % 3 != 0 {
                let most = 1 + distinct + entries.len() + 2 * full_width;
                assert!(words.len() <= most, "round {round}: four bytes a link");
            }
            // The same links as a class's: each place given a link of its own.
            let places: Vec<f32> = entries.iter().filter(|e| e.0 == PLACE).map(|e| e.1).collect();
            let own: Vec<LinkId> = (0..places.len()).map(|i| LinkId(1 << 25 | i as u32)).collect();
            pack_interior(&entries, &places, &mut words);
            // The loads it puts on its links, each share's worked out once: as each entry's own.
            let rate = [0.1, 0.37, 40.0][round % 3];
            let mut loads = Vec::new();
            interior_loads(&words, rate, |link, load| loads.push((link, load)));
            let each: Vec<(LinkId, i64)> =
                entries.iter().filter(|e| e.0 != PLACE).map(|&(link, share)| (link, share_load(share, rate))).collect();
            assert_eq!(loads, each, "round {round}");
            let interior = if round % 2 == 0 { Held::Shared(words[..].into()) } else { Held::Own(words.clone()) };
            let mut contributions = Contributions { interior, ends: Ends::default() };
            contributions.ends.set(&own);
            let mut own_links = own.iter();
            let expected: Vec<(LinkId, f32)> = entries
                .iter()
                .map(|&(link, share)| if link == PLACE { (*own_links.next().unwrap(), share) } else { (link, share) })
                .collect();
            assert_eq!(contributions.iter().collect::<Vec<_>>(), expected, "round {round}");
            let ends: Vec<(LinkId, f32)> = own.iter().copied().zip(places.iter().copied()).collect();
            assert_eq!(contributions.ends().collect::<Vec<_>>(), ends, "round {round}");
        }
    }
}
