//! Simulating a full upgrade of a generated 1,000-device fabric with 100,000 flows, and the
//! discrete-event engine alone.
//!
//! Targets (README): the full upgrade with 100,000 flows in a second (re-spreads use every core;
//! the outcome is the same on one); the engine at millions of events per second; cost roughly
//! linear in flows x events (compare the flow counts).

use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hitless::plan::PlanOptions;
use hitless::scenario::Scenario;
use hitless::simulate::{SimOptions, input, simulate};
use hitless_sim::{Engine, SimTime};

/// 10 pods of 4 spines and 96 leafs, 4 super-spines, 2 border leafs: 1,006 devices.
fn scenario(flows: u64) -> Scenario {
    with_traffic(&format!("{{pattern: random-pairs, flows: {flows}, gbps: 0.1, seed: 3}}"))
}

/// The bench fabric with `traffic` (a scenario's `traffic:` value).
fn with_traffic(traffic: &str) -> Scenario {
    let yaml = format!(
        "name: bench\nfabric:\n  generate: {{pods: 10, spines_per_pod: 4, leafs_per_pod: 96, super_spines: 4, servers_per_leaf_pair: 4, border_leafs: 2}}\n\
images:\n  - {{name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5120-48y, qfx10002-36q, qfx10008], version: 21.4R3-S5.4}}\n\
upgrade:\n  assign: [{{image: img, devices: all}}]\n\
traffic: {traffic}\n"
    );
    Scenario::from_yaml(&yaml, Path::new("bench.yaml")).expect("bench scenario is valid")
}

/// One run, seed 1, as `simulate` reports it; no faults, no window.
fn options() -> SimOptions {
    SimOptions { runs: 1, seed: 1, worst_flows: 10, exposure_per_batch: 5, faults: false, start_unix: None }
}

fn bench_full_upgrade(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate_full_upgrade_1006_devices");
    group.sample_size(10);
    group.measurement_time(std::time::Duration::from_secs(30));
    let options = options();
    for flows in [10_000u64, 100_000] {
        let scenario = scenario(flows);
        let plan = input::for_scenario(&scenario, &PlanOptions::default());
        group.throughput(Throughput::Elements(flows));
        group.bench_with_input(BenchmarkId::from_parameter(flows), &scenario, |b, scenario| {
            b.iter(|| {
                let report = simulate(scenario, &plan, &options);
                assert!(report.hitless, "the planner's plan is hitless");
                report
            })
        });
    }
    group.finish();
}

fn bench_engine(c: &mut Criterion) {
    const EVENTS: u64 = 1_000_000;
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("schedule_and_deliver_1m_events", |b| {
        b.iter(|| {
            let mut engine: Engine<u64> = Engine::new(1);
            // A thousand timers in flight, each rescheduling itself: a realistic queue depth.
            for i in 0..1000 {
                engine.schedule(SimTime::from_millis(i), i);
            }
            let (mut delivered, mut scheduled) = (0u64, 1000u64);
            while let Some((_, n)) = engine.next_event() {
                delivered += 1;
                if scheduled < EVENTS {
                    scheduled += 1;
                    engine.schedule_in(1 + n % 997, n + 1);
                }
            }
            assert_eq!(delivered, EVENTS);
        })
    });
    group.finish();
}

/// The same upgrade with links near and over capacity while devices are drained (100,000 flows
/// of 0.4 Gbps: 1.26 at peak), congested throughout (100,000 flows of 1.0 Gbps: 3.16 at peak;
/// about half a minute an iteration, so several minutes in all), and the leaf-level matrix
/// (920,640 flows of 0.01 Gbps). Targets (README): within twice the idle case, and 5 s.
fn bench_at_capacity(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate_at_capacity_1006_devices");
    group.sample_size(10);
    group.measurement_time(std::time::Duration::from_secs(60));
    let options = options();
    for (name, traffic) in [
        ("random_pairs_100000_at_0.4_gbps", "{pattern: random-pairs, flows: 100000, gbps: 0.4, seed: 3}"),
        ("random_pairs_100000_at_1.0_gbps", "{pattern: random-pairs, flows: 100000, gbps: 1.0, seed: 3}"),
        ("leaf_pairs_at_0.01_gbps", "{pattern: leaf-pairs, gbps: 0.01}"),
    ] {
        let scenario = with_traffic(traffic);
        let plan = input::for_scenario(&scenario, &PlanOptions::default());
        group.bench_function(name, |b| b.iter(|| simulate(&scenario, &plan, &options)));
    }
    group.finish();
}

criterion_group!(benches, bench_full_upgrade, bench_at_capacity, bench_engine);
criterion_main!(benches);
