//! A class's spread as it loads the links: each link with the share of the class's rate
//! offered on it, packed. A spread splits evenly, so a class has only a few distinct shares:
//! each is kept once, and a link names its share by a byte, in four bytes a link instead of
//! eight.
//!
//! The words: the number of distinct shares, a word per link, `link << 8 | share` (the share's
//! place among them), then the shares (`f32` bits). A link numbered at or beyond 2^24, or a
//! share beyond the first [`PALETTE`] distinct ones, takes three words instead: [`WIDE`], the
//! link, the share.

use super::*;

/// The byte of a link written in full in the two words after it.
const WIDE: u32 = 0xFF;

/// The most distinct shares a byte names; a class's further shares are written in full.
const PALETTE: usize = 32;

/// A class's links and shares, in its spread's order.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Shares {
    words: Vec<u32>,
}

impl Shares {
    /// The links and shares, in order.
    pub(super) fn iter(&self) -> Iter<'_> {
        let count = self.words.first().map_or(0, |n| *n as usize);
        let rest = self.words.get(1..).unwrap_or_default();
        let (entries, palette) = rest.split_at(rest.len() - count);
        Iter { palette, entries }
    }

    /// Replaces the links and shares by `entries`, in the same allocation when it is large
    /// enough (else in one its size, unless links are written in full).
    pub(super) fn set(&mut self, entries: &[(LinkId, f32)]) {
        let mut palette = [0u32; PALETTE];
        let mut count = 0;
        let words = &mut self.words;
        words.clear();
        words.reserve_exact(1 + entries.len());
        words.push(0);
        let mut last = 0;
        for &(link, share) in entries {
            let bits = share.to_bits();
            let index = if count > 0 && palette[last] == bits {
                Some(last)
            } else if let Some(index) = palette[..count].iter().position(|p| *p == bits) {
                Some(index)
            } else if count < PALETTE {
                palette[count] = bits;
                count += 1;
                Some(count - 1)
            } else {
                None
            };
            match index {
                Some(index) if link.0 < 1 << 24 => {
                    last = index;
                    words.push(link.0 << 8 | index as u32);
                }
                _ => words.extend_from_slice(&[WIDE, link.0, bits]),
            }
        }
        words.reserve_exact(count);
        words.extend_from_slice(&palette[..count]);
        words[0] = count as u32;
    }

    /// Lets go of the allocation.
    pub(super) fn release(&mut self) {
        self.words = Vec::new();
    }
}

/// The links and shares of [`Shares`], in order.
pub(super) struct Iter<'a> {
    palette: &'a [u32],
    entries: &'a [u32],
}

impl Iterator for Iter<'_> {
    type Item = (LinkId, f32);

    fn next(&mut self) -> Option<(LinkId, f32)> {
        let (&word, rest) = self.entries.split_first()?;
        if word == WIDE {
            let (wide, rest) = rest.split_at(2);
            self.entries = rest;
            return Some((LinkId(wide[0]), f32::from_bits(wide[1])));
        }
        self.entries = rest;
        Some((LinkId(word >> 8), f32::from_bits(self.palette[(word & WIDE) as usize])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Whatever is set is read back as it was: few shares or more than a byte names, links
    /// numbered below and beyond 2^24, set again over a longer or shorter spread; four bytes a
    /// link when the shares are few and the links numbered below 2^24.
    #[test]
    fn shares_read_back_what_was_set() {
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(3);
        let mut shares = Shares::default();
        assert_eq!(shares.iter().count(), 0);
        for round in 0..400 {
            let distinct = [1, 3, 8, 31, 32, 33, 300][round % 7];
            let palette: Vec<f32> = (0..distinct).map(|i| 1.0 / (i + 1) as f32).collect();
            let entries: Vec<(LinkId, f32)> = (0..rng.random_range(0..600))
                .map(|_| {
                    let wide = round % 3 == 0 && rng.random_bool(0.05);
                    let link = if wide { rng.random::<u32>() } else { rng.random_range(0..1 << 24) };
                    (LinkId(link), palette[rng.random_range(0..palette.len())])
                })
                .collect();
            let before = shares.words.capacity();
            shares.set(&entries);
            let read: Vec<(LinkId, f32)> = shares.iter().collect();
            assert_eq!(read, entries, "round {round}");
            if distinct <= PALETTE && round % 3 != 0 {
                assert!(shares.words.len() <= 1 + distinct + entries.len(), "round {round}: four bytes a link");
            }
            // Set in the allocation it had, or in one its size (links written in full aside).
            let capacity = shares.words.capacity();
            let full = round % 3 == 0 || distinct > PALETTE;
            let fits = capacity == before || capacity == shares.words.len() || full;
            assert!(fits, "round {round}: {capacity} for {before}");
        }
    }
}
