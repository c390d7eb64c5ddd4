//! The discrete-event engine: a virtual clock, an event queue and a seeded random generator.
//!
//! Events fire in time order; events at the same instant fire in the order they were scheduled
//! (ties are broken by a sequence number, never by the event's contents), so one seed and one
//! input always give the same run. The engine can record a trace of every event it delivers.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

use crate::time::SimTime;

/// A deterministic event queue over virtual time, generic in the event type.
#[derive(Debug)]
pub struct Engine<E> {
    now: SimTime,
    sequence: u64,
    queue: BinaryHeap<Entry<E>>,
    seed: u64,
    rng: ChaCha8Rng,
    trace: Option<Vec<(SimTime, E)>>,
    delivered: u64,
}

#[derive(Debug)]
struct Entry<E> {
    at: SimTime,
    sequence: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.sequence) == (other.at, other.sequence)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the earliest (then first scheduled) pops first.
        (other.at, other.sequence).cmp(&(self.at, self.sequence))
    }
}

impl<E: Clone> Engine<E> {
    /// A new engine at time zero whose random generator is seeded with `seed`.
    pub fn new(seed: u64) -> Engine<E> {
        Engine {
            now: SimTime::ZERO,
            sequence: 0,
            queue: BinaryHeap::new(),
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            trace: None,
            delivered: 0,
        }
    }

    /// Starts recording every delivered event.
    pub fn record_trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// The recorded trace, if recording was on.
    pub fn trace(&self) -> Option<&[(SimTime, E)]> {
        self.trace.as_deref()
    }

    /// The current virtual time: the time of the last delivered event.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The seed this engine was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The engine's random generator. Draw from it only while handling events, so that the
    /// draws happen in event order and the run stays reproducible.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// A separate generator for one subsystem, derived from the seed, so that adding draws in
    /// one subsystem does not shift the numbers another one sees.
    pub fn rng_for(&self, subsystem: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed ^ subsystem.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// Schedules `event` at `at`. Scheduling in the past is a bug in the caller.
    pub fn schedule(&mut self, at: SimTime, event: E) {
        assert!(at >= self.now, "cannot schedule at {at} before now ({})", self.now);
        self.sequence += 1;
        self.queue.push(Entry { at, sequence: self.sequence, event });
    }

    /// Schedules `event` `millis` milliseconds from now.
    pub fn schedule_in(&mut self, millis: u64, event: E) {
        self.schedule(self.now.after_millis(millis), event);
    }

    /// The time of the next event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.queue.peek().map(|e| e.at)
    }

    /// Delivers the next event, advancing the clock to its time.
    pub fn next_event(&mut self) -> Option<(SimTime, E)> {
        let entry = self.queue.pop()?;
        debug_assert!(entry.at >= self.now, "time never runs backwards");
        self.now = entry.at;
        self.delivered += 1;
        if let Some(trace) = &mut self.trace {
            trace.push((entry.at, entry.event.clone()));
        }
        Some((entry.at, entry.event))
    }

    /// Number of events delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Number of events still queued.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn events_fire_in_time_then_insertion_order() {
        let mut engine = Engine::new(1);
        engine.schedule(SimTime::from_secs(5), "late");
        engine.schedule(SimTime::from_secs(1), "first");
        engine.schedule(SimTime::from_secs(1), "second");
        let order: Vec<&str> = std::iter::from_fn(|| engine.next_event().map(|(_, e)| e)).collect();
        assert_eq!(order, ["first", "second", "late"]);
        assert_eq!(engine.now(), SimTime::from_secs(5));
        assert_eq!(engine.delivered(), 3);
    }

    #[test]
    fn one_seed_reproduces_a_run() {
        let run = |seed| {
            let mut engine: Engine<u32> = Engine::new(seed);
            engine.record_trace();
            engine.schedule(SimTime::ZERO, 0);
            while let Some((_, n)) = engine.next_event() {
                if n < 50 {
                    let delay = engine.rng().random_range(0..1000);
                    engine.schedule_in(delay, n + 1);
                }
            }
            engine.trace().unwrap().to_vec()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    #[should_panic(expected = "before now")]
    fn scheduling_in_the_past_is_a_bug() {
        let mut engine = Engine::new(1);
        engine.schedule(SimTime::from_secs(2), ());
        engine.next_event();
        engine.schedule(SimTime::from_secs(1), ());
    }
}
