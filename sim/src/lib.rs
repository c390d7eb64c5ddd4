//! hitless-sim: a deterministic discrete-event simulator of a switch fabric's forwarding and
//! traffic.
//!
//! # Brief overview
//!
//! - [`Engine`] is the discrete-event core: a virtual clock ([`SimTime`]), an event queue whose
//!   ties fire in insertion order, a seeded random generator and an optional trace. One seed
//!   reproduces a run exactly.
//! - [`Topology`] holds switches in tiers, links with capacities and endpoints (servers, the
//!   outside world) attached to tier-1 switches.
//! - [`Simulation`] drives a fluid (flow-level) model of ECMP forwarding with switch
//!   [`Action`]s — drain, undrain, down, up — and the neighbours' reactions on [`Timers`], and
//!   returns an [`Outcome`]: every flow's loss to blackholes and congestion with its cause, the
//!   peak link utilisation, and n+1 probes.
//!
//! The crate knows nodes, links, flows and timers. It knows nothing of any network OS, images
//! or upgrade batches.
//!
//! ```
//! use hitless_sim::{Action, Detect, FlowSpec, SimTime, Simulation, Timers, Topology};
//!
//! let mut topology = Topology::new();
//! let leaf1 = topology.add_node("leaf1", 1);
//! let leaf2 = topology.add_node("leaf2", 1);
//! let spine = topology.add_node("spine", 2);
//! topology.add_link(leaf1, spine, 100.0);
//! topology.add_link(leaf2, spine, 100.0);
//! let a = topology.add_endpoint("a", &[leaf1], 25.0, Detect::Access);
//! let b = topology.add_endpoint("b", &[leaf2], 25.0, Detect::Access);
//! let timers = Timers {
//!     drain_convergence_ms: 5_000,
//!     link_down_ms: 50,
//!     fabric_detect_ms: 900,
//!     access_detect_ms: 3_000,
//!     up_convergence_ms: 30_000,
//!     core_isolation_ms: None,
//! };
//! let mut sim = Simulation::new(topology, vec![FlowSpec { src: a, dst: b, rate_gbps: 1.0 }], timers, 42);
//! sim.schedule(SimTime::from_secs(10), Action::Down(spine));
//! sim.schedule(SimTime::from_secs(20), Action::Up(spine));
//! let outcome = sim.run();
//! // The only spine is down for 10 s plus the 30 s it takes to be used again: 40 Gbit lost.
//! // (Its neighbours notice its links going down after 50 ms, but there is no other way.)
//! assert!((outcome.losses[0].total_gbit() - 40.0).abs() < 1e-9);
//! ```
#![deny(missing_docs)]

mod engine;
mod fluid;
mod sim;
mod time;
mod topology;

pub use engine::Engine;
pub use fluid::{Cause, Ecmp, FlowLoss, FlowSpec, Peak, Status, View};
pub use sim::{Action, Drain, Outcome, Probe, Simulation, Timers};
pub use time::SimTime;
pub use topology::{Detect, Endpoint, EndpointId, Link, LinkId, Node, NodeId, Topology};
