//! Planning generated fabrics of 1,000, 10,000 and 100,000 devices; and loading and planning
//! wide pods (16 pods of 16 spines with 1,500 or 6,000 leafs each).
//!
//! Targets: 100,000 devices planned in well under a second on one core, with time and memory
//! linear in fabric size (compare the three sizes within one run); the 6,000-leaf pods loaded and
//! planned in at most 5x the time of the 1,500-leaf ones (see the README for figures).

use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hitless::plan::{PlanOptions, plan};
use hitless::scenario::Scenario;

/// A scenario of `pods` pods of 4 spines and 96 leafs (100 devices a pod), plus 2 border leafs.
fn scenario(pods: u32) -> Scenario {
    let yaml = format!(
        "name: bench\nfabric:\n  generate: {{pods: {pods}, spines_per_pod: 4, leafs_per_pod: 96, servers_per_leaf_pair: 4, border_leafs: 2}}\n\
images:\n  - {{name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5120-48y, qfx10002-36q], version: 21.4R3-S5.4}}\n\
upgrade:\n  assign: [{{image: img, devices: all}}]\n"
    );
    Scenario::from_yaml(&yaml, Path::new("bench.yaml")).expect("bench scenario is valid")
}

fn bench_plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    for pods in [10u32, 100, 1000] {
        let scenario = scenario(pods);
        let devices = scenario.fabric.len() as u64;
        group.throughput(Throughput::Elements(devices));
        group.bench_with_input(BenchmarkId::from_parameter(devices), &scenario, |b, scenario| {
            b.iter(|| plan(scenario, &PlanOptions::default()))
        });
    }
    group.finish();
}

/// 16 pods of 16 spines and `leafs` leafs each, 16 super-spines: a spine has thousands of
/// neighbours.
fn wide_yaml(leafs: u32) -> String {
    format!(
        "name: wide\nfabric:\n  generate: {{pods: 16, spines_per_pod: 16, leafs_per_pod: {leafs}, super_spines: 16, servers_per_leaf_pair: 1, border_leafs: 2}}\n\
images:\n  - {{name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5120-48y, qfx10002-36q, qfx10008], version: 21.4R3-S5.4}}\n\
upgrade:\n  assign: [{{image: img, devices: all}}]\n"
    )
}

fn bench_wide_pods(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_and_plan_wide_pods");
    group.sample_size(10);
    for leafs in [1500u32, 6000] {
        let yaml = wide_yaml(leafs);
        group.bench_with_input(BenchmarkId::from_parameter(leafs), &yaml, |b, yaml| {
            b.iter(|| {
                let scenario = Scenario::from_yaml(yaml, Path::new("wide.yaml")).expect("valid");
                plan(&scenario, &PlanOptions::default())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_plan, bench_wide_pods);
criterion_main!(benches);
