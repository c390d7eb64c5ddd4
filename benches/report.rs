//! Generating the HTML report of the benches' 1,006-device fabric with 10,000 flows (the data
//! model from a plan and its simulation, then the page). The simulation itself is benched in
//! `simulate`; here it is done once, outside the measurement.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use hitless::plan::PlanOptions;
use hitless::scenario::Scenario;
use hitless::simulate::{input, simulate};

fn bench_report(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench-1006.yaml");
    let scenario = Scenario::load(&path).expect("the bench scenario loads");
    let plan = input::for_scenario(&scenario, &PlanOptions::default());
    let report = hitless::view::plan_report(&scenario, &plan);
    let sim = simulate(&scenario, &plan, &hitless::view::sim_options(1));
    let mut group = c.benchmark_group("report_1006_devices_10000_flows");
    group.sample_size(10);
    group.bench_function("page", |b| {
        b.iter(|| {
            let page = hitless::view::for_plan(&scenario, &report, &sim);
            hitless::view::html(&page).expect("the page renders")
        })
    });
    group.finish();
}

criterion_group!(benches, bench_report);
criterion_main!(benches);
