//! The integration tests: one binary, one module per area (ripgrep's layout).

// Helpers: run the `hitless` binary, temporary directories.
mod util;

// Helpers: `hitless lab` and the binary against it as separate processes.
mod lab_process;

// `hitless plan` on every bundled scenario, snapshotted; planner behaviour end to end.
mod plan;

// `hitless validate`: every kind of bad input gets a clear error naming file, line and column.
mod validate;

// `hitless simulate`: verdicts, causes, foreign plans, seeds and expectations.
mod simulate;

// The simulator against hand calculations, written out in each test.
mod fidelity;

// `hitless image`: the catalog and the state store, crash and concurrency included.
mod image;

// `hitless user`: console and API users, passwords and tokens never kept as given.
mod users;

// `hitless upgrade` on the virtual driver: states, faults, crashes, cancel, refusals.
mod upgrade;

// `hitless serve`: the console's pages and the HTTP API, over HTTP on 127.0.0.1.
mod console;
mod console_harness;

// Operator controls: canary, pauses, approve, cancel while paused.
mod controls;

// The Junos driver against the lab emulator, and misbehaving device-side peers.
mod junos;

// The EOS driver and the lab's EOS personality: a mixed fabric, eAPI errors, HTTPS pinning.
mod eos;

// `hitless discover` against the lab: round trips, tiers, bad input; inventories.
mod discover;

// `hitless report`: the page's data, structure and size.
mod report;

// The Junos driver's reading of replies in real devices' shapes, from fixtures.
mod replies;

// One schedule: the simulated steps of every device are the executor's, to the second.
mod schedule;

// The Junos driver and the lab over real SSH on loopback.
mod ssh;

// The rehearsal across processes: hitless lab, upgrade --driver junos, kill and resume, OpenSSH.
mod rehearsal;

// The driver and lab on turmoil's simulated network: partitions, reproducible for a seed.
mod deterministic;

// Property tests: the planner keeps every rule on random fabrics.
mod properties;

// The architecture's invariants on the source: layers, no cycles, what lives where.
mod architecture;
