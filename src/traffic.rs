//! Traffic for the simulator: which endpoints talk to which, and how fast.
//!
//! Endpoints are the fabric's servers and, when the fabric has border leafs (critical role
//! `dc-gateway`), `external`: the world beyond them. A scenario either lists flows or names a
//! pattern; patterns are generated deterministically from their seed.

use std::collections::BTreeMap;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::model::{DeviceId, Server};

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
    /// A leaf-level matrix: every ordered pair of leafs that host servers, one aggregated flow
    /// each, from a server of the one to a server of the other (each leaf stands for itself by
    /// a server of its own where it can: the two leafs of a pair by different servers).
    LeafPairs,
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

    /// The flows, given the fabric's servers and whether `external` exists.
    pub fn flows(&self, servers: &[Server], has_external: bool) -> Vec<Flow> {
        let server_count = servers.len();
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
            Traffic::Pattern { pattern: Pattern::LeafPairs, gbps, .. } => {
                let stands = leaf_servers(servers);
                let mut flows = Vec::with_capacity(stands.len() * stands.len().saturating_sub(1));
                for &a in &stands {
                    for &b in stands.iter().filter(|b| **b != a) {
                        flows.push(Flow { src: Endpoint::Server(a), dst: Endpoint::Server(b), gbps: *gbps });
                    }
                }
                flows
            }
        }
    }

    /// How many flows this traffic has (for limits, before generating them).
    pub fn flow_count(&self, servers: &[Server]) -> u64 {
        let server_count = servers.len();
        match self {
            Traffic::Pattern { pattern: Pattern::LeafPairs, .. } => {
                let stands = leaf_servers(servers);
                let same = |a: &usize| stands.iter().filter(|b| *b == a).count() as u64;
                stands.iter().map(|a| stands.len() as u64 - same(a)).sum()
            }
            Traffic::List(flows) => flows.len() as u64,
            Traffic::Pattern { pattern: Pattern::AllToAll, .. } => {
                server_count as u64 * (server_count as u64).saturating_sub(1)
            }
            Traffic::Pattern { pattern: Pattern::RandomPairs, flows, .. } => *flows,
        }
    }
}

/// For each leaf that hosts servers (in the order of their ids), the server that stands for it:
/// the first of its servers no other leaf stands by yet, else its first.
fn leaf_servers(servers: &[Server]) -> Vec<usize> {
    let mut hosted: BTreeMap<DeviceId, Vec<usize>> = BTreeMap::new();
    for (index, server) in servers.iter().enumerate() {
        for leaf in &server.leafs {
            hosted.entry(*leaf).or_default().push(index);
        }
    }
    let mut taken = vec![false; servers.len()];
    hosted
        .values()
        .map(|own| {
            let stands = own.iter().copied().find(|s| !taken[*s]).unwrap_or(own[0]);
            taken[stands] = true;
            stands
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` servers, each on the leafs `on(i)` names (by id).
    fn servers(n: usize, on: impl Fn(usize) -> Vec<u32>) -> Vec<Server> {
        (0..n).map(|i| Server { name: format!("srv{i}"), leafs: on(i).into_iter().map(DeviceId).collect() }).collect()
    }

    #[test]
    fn random_pairs_are_distinct_reproducible_and_reach_external() {
        let traffic = Traffic::Pattern { pattern: Pattern::RandomPairs, flows: 500, gbps: 2.0, seed: 9 };
        let ten = servers(10, |i| vec![i as u32]);
        let flows = traffic.flows(&ten, true);
        assert_eq!(flows.len(), 500);
        assert!(flows.iter().all(|f| f.src != f.dst && f.gbps == 2.0));
        assert!(flows.iter().any(|f| f.dst == Endpoint::External));
        assert_eq!(flows, traffic.flows(&ten, true));
    }

    #[test]
    fn all_to_all_covers_every_ordered_pair() {
        let traffic = Traffic::Pattern { pattern: Pattern::AllToAll, flows: 0, gbps: 1.0, seed: 0 };
        let four = servers(4, |i| vec![i as u32]);
        assert_eq!(traffic.flows(&four, true).len(), 12);
        assert_eq!(traffic.flow_count(&four), 12);
    }

    /// Three leaf pairs (leafs 10 and 11, 12 and 13, 14 and 15), two servers on each pair, and
    /// a single-homed server on leaf 16: seven leafs host servers, 7 x 6 = 42 ordered pairs.
    /// Each leaf of a pair stands by its own server (leaf 10 by server 0, leaf 11 by server
    /// 1, ...), so no pair of leafs is a server talking to itself.
    #[test]
    fn leaf_pairs_is_every_ordered_pair_of_leafs_hosting_servers() {
        let mut fabric = servers(6, |i| vec![10 + 2 * (i as u32 / 2), 11 + 2 * (i as u32 / 2)]);
        fabric.push(Server { name: "lone".into(), leafs: vec![DeviceId(16)] });
        let traffic = Traffic::Pattern { pattern: Pattern::LeafPairs, flows: 0, gbps: 0.5, seed: 0 };
        let flows = traffic.flows(&fabric, true);
        assert_eq!(flows.len(), 42);
        assert_eq!(traffic.flow_count(&fabric), 42);
        assert_eq!(leaf_servers(&fabric), [0, 1, 2, 3, 4, 5, 6]);
        assert!(flows.iter().all(|f| f.src != f.dst && f.gbps == 0.5));
        // Every leaf sends to every other: 6 flows out of each standing server.
        for stands in 0..7 {
            assert_eq!(flows.iter().filter(|f| f.src == Endpoint::Server(stands)).count(), 6);
        }
        // A pair with one server between them: both leafs stand by it, and their flows to
        // each other (a server to itself) are left out: 3 x 2 - 2 = 4.
        let shared = servers(2, |i| if i == 0 { vec![1, 2] } else { vec![3] });
        assert_eq!(traffic.flows(&shared, false).len(), 4);
        assert_eq!(traffic.flow_count(&shared), 4);
    }
}
