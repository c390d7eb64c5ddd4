//! hitless: plans, proves and executes hitless network OS upgrades of data-center switch fabrics.
//!
//! # Brief overview
//!
//! The pipeline reads top to bottom, and so do the layers (ARCHITECTURE.md; modules import only
//! downward):
//!
//! - the vocabulary: [`model::Fabric`], [`version::Version`], [`image::Image`],
//!   [`timing::TimingProfile`], [`traffic::Traffic`], [`faults`], [`health`], [`maintenance`],
//!   [`select::Selection`] and the [`journal`];
//! - [`scenario`] loads and validates a scenario file into a [`scenario::Scenario`];
//! - [`plan`] turns the selection into ordered batches ([`plan::Plan`]) under the redundancy
//!   rules, with time estimates and a lower bound on the batch count; [`simulate`] proves a plan
//!   hitless (or not) against a traffic model;
//! - [`exec`] runs a job through its ports, [`exec::Driver`] and [`journal::Journal`];
//! - [`driver`] (virtual devices, Junos over NETCONF/SSH), [`netconf`], [`lab`] (the Junos
//!   emulator) and [`store`] (SQLite: catalog and journal) are the outside world;
//! - [`workflow`] is the operator's workflow from test run to summary;
//! - [`cli`] is the `hitless` command line; only it knows terminals, formats and exit codes.
//!
//! ```
//! use hitless::scenario::Scenario;
//! use std::path::Path;
//!
//! let yaml = r#"
//! name: tiny
//! fabric:
//!   devices:
//!     - {name: s1, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.1R1}
//!     - {name: s2, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.1R1}
//!     - {name: l1, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.1R1}
//!     - {name: l2, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.1R1}
//!   links: [[s1, l1], [s1, l2], [s2, l1], [s2, l2]]
//!   servers: [{name: bms1, links: [l1, l2]}]
//! images:
//!   - {name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5110-48s, qfx10002-36q], version: 18.4R2}
//! upgrade:
//!   assign: [{image: img, devices: all}]
//! "#;
//! let scenario = Scenario::from_yaml(yaml, Path::new("tiny.yaml")).unwrap();
//! let plan = hitless::plan::plan(&scenario, &Default::default());
//! // l1 and l2 carry the same server, s1 and s2 back each other up: four batches.
//! assert_eq!(plan.batches.len(), 4);
//! assert_eq!(plan.lower_bound_batches, 4);
//! ```
#![deny(missing_docs)]

pub mod cli;
pub mod console;
pub mod containerlab;
pub mod driver;
pub mod exec;
pub mod faults;
pub mod health;
pub mod image;
pub mod inventory;
pub mod journal;
pub mod lab;
pub mod maintenance;
pub mod method;
pub mod model;
pub mod netconf;
pub mod plan;
pub mod scenario;
pub mod select;
pub mod simulate;
pub mod snapshot;
pub mod store;
pub mod timing;
pub mod traffic;
pub mod util;
pub mod version;
pub mod view;
pub mod window;
pub mod workflow;
