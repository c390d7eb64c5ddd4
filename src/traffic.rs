//! Traffic for the simulator: which endpoints talk to which, and how fast.
//!
//! Endpoints are the fabric's servers and, when the fabric has border leafs (critical role
//! `dc-gateway`), `external`: the world beyond them. A scenario either lists flows or names a
//! pattern; patterns are generated deterministically from their seed.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// The name of the endpoint beyond the border leafs.
pub const EXTERNAL: &str = "external";
/// Most flows a scenario may ask for; more is a typo, not a simulation.
pub const FLOWS_MAX: u64 = 5_000_000;

/// One endpoint of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// A server, by index into the fabric's servers.
    Server(usize),
    /// The world beyond the border leafs.
    External,
}

/// One flow.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flow {
    /// Source.
    pub src: Endpoint,
    /// Destination.
    pub dst: Endpoint,
    /// Rate in Gbps.
    pub gbps: f64,
}

/// A generated traffic pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Every ordered pair of servers.
    AllToAll,
    /// `flows` random pairs of distinct endpoints (servers, and `external` if there is one).
    RandomPairs,
}

/// A scenario's traffic.
#[derive(Clone, Debug, PartialEq)]
pub enum Traffic {
    /// A generated pattern.
    Pattern {
        /// Which pattern.
        pattern: Pattern,
        /// Number of flows (random pairs only).
        flows: u64,
        /// Rate of each flow in Gbps.
        gbps: f64,
        /// Seed of the generator.
        seed: u64,
    },
    /// Flows listed one by one.
    List(Vec<Flow>),
}

impl Traffic {
    /// The traffic used when a scenario says nothing: 8 random flows per server at 1 Gbps.
    pub fn default_for(server_count: usize) -> Traffic {
        let flows = (server_count as u64 * 8).max(1);
        Traffic::Pattern { pattern: Pattern::RandomPairs, flows, gbps: 1.0, seed: 1 }
    }

    /// The flows, given how many servers there are and whether `external` exists.
    pub fn flows(&self, server_count: usize, has_external: bool) -> Vec<Flow> {
        match self {
            Traffic::List(flows) => flows.clone(),
            Traffic::Pattern { pattern: Pattern::AllToAll, gbps, .. } => {
                let mut flows = Vec::with_capacity(server_count * server_count.saturating_sub(1));
                for a in 0..server_count {
                    for b in (0..server_count).filter(|b| *b != a) {
                        flows.push(Flow { src: Endpoint::Server(a), dst: Endpoint::Server(b), gbps: *gbps });
                    }
                }
                flows
            }
            Traffic::Pattern { pattern: Pattern::RandomPairs, flows, gbps, seed } => {
                let endpoints = server_count + usize::from(has_external);
                if endpoints < 2 {
                    return Vec::new();
                }
                let pick = |i: usize| if i < server_count { Endpoint::Server(i) } else { Endpoint::External };
                let mut rng = ChaCha8Rng::seed_from_u64(*seed);
                (0..*flows)
                    .map(|_| {
                        let a = rng.random_range(0..endpoints);
                        let b = (a + rng.random_range(1..endpoints)) % endpoints;
                        Flow { src: pick(a), dst: pick(b), gbps: *gbps }
                    })
                    .collect()
            }
        }
    }

    /// How many flows this traffic has (for limits, before generating them).
    pub fn flow_count(&self, server_count: usize) -> u64 {
        match self {
            Traffic::List(flows) => flows.len() as u64,
            Traffic::Pattern { pattern: Pattern::AllToAll, .. } => {
                server_count as u64 * (server_count as u64).saturating_sub(1)
            }
            Traffic::Pattern { pattern: Pattern::RandomPairs, flows, .. } => *flows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_pairs_are_distinct_reproducible_and_reach_external() {
        let traffic = Traffic::Pattern { pattern: Pattern::RandomPairs, flows: 500, gbps: 2.0, seed: 9 };
        let flows = traffic.flows(10, true);
        assert_eq!(flows.len(), 500);
        assert!(flows.iter().all(|f| f.src != f.dst && f.gbps == 2.0));
        assert!(flows.iter().any(|f| f.dst == Endpoint::External));
        assert_eq!(flows, traffic.flows(10, true));
    }

    #[test]
    fn all_to_all_covers_every_ordered_pair() {
        let traffic = Traffic::Pattern { pattern: Pattern::AllToAll, flows: 0, gbps: 1.0, seed: 0 };
        assert_eq!(traffic.flows(4, true).len(), 12);
        assert_eq!(traffic.flow_count(4), 12);
    }
}
