//! A run's outcome does not depend on how many threads spread its classes (every loss, cause,
//! peak and probe is identical), nor on re-spreading only the classes a change can move (the
//! same as re-spreading every class that could cross the switch, up to rounding), on fabrics
//! and plans drawn from a seed.

use hitless_sim::{Action, Detect, Drain, FlowSpec, NodeId, Outcome, SimTime, Simulation, Timers, Topology};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

const TIMERS: Timers = Timers {
    drain_convergence_ms: 5_000,
    link_down_ms: 50,
    fabric_detect_ms: 900,
    access_detect_ms: 3_000,
    up_convergence_ms: 20_000,
    core_isolation_ms: Some(1_000),
};

/// A 5-stage fabric (pods of leafs and spines under super-spines) with dual-homed, single-homed
/// and outside endpoints, flows between random pairs (some heavy enough to congest), and a
/// random plan of drains, reboots, hangs and probes over every switch.
fn run(seed: u64, hash: bool, threads: usize, min_classes: usize, thorough: bool) -> Outcome {
    run_loaded(seed, hash, threads, min_classes, thorough, 1.0, false)
}

/// [`run`] with every flow's rate times `load`, congestion resolved in `full` (see
/// `Simulation::set_full_congestion`).
fn run_loaded(
    seed: u64,
    hash: bool,
    threads: usize,
    min_classes: usize,
    thorough: bool,
    load: f64,
    full: bool,
) -> Outcome {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = Topology::new();
    let pods = rng.random_range(2..=4);
    let supers: Vec<NodeId> = (0..rng.random_range(1..=3)).map(|i| t.add_node(format!("ss{i}"), 3)).collect();
    let mut leafs = Vec::new();
    let mut switches = supers.clone();
    for pod in 0..pods {
        let spines: Vec<NodeId> = (0..rng.random_range(1..=3)).map(|i| t.add_node(format!("p{pod}s{i}"), 2)).collect();
        for &spine in &spines {
            for &upper in &supers {
                t.add_link(spine, upper, 400.0);
            }
        }
        for i in 0..rng.random_range(2..=6) {
            let leaf = t.add_node(format!("p{pod}l{i}"), 1);
            for &spine in &spines {
                t.add_link(leaf, spine, 100.0);
            }
            leafs.push(leaf);
        }
        switches.extend(spines);
    }
    switches.extend(&leafs);
    let mut endpoints = Vec::new();
    for (i, pair) in leafs.chunks(2).enumerate() {
        for j in 0..3 {
            let on: &[NodeId] = if j == 0 { &pair[..1] } else { pair };
            endpoints.push(t.add_endpoint(format!("srv{i}-{j}"), on, 100.0, Detect::Access));
        }
    }
    endpoints.push(t.add_endpoint("world", &leafs[..1], 400.0, Detect::Fabric));
    let flows: Vec<FlowSpec> = (0..rng.random_range(200..600))
        .map(|_| {
            let src = endpoints[rng.random_range(0..endpoints.len())];
            let dst = endpoints[rng.random_range(0..endpoints.len())];
            FlowSpec { src, dst, rate_gbps: load * if rng.random_bool(0.05) { 40.0 } else { 0.5 } }
        })
        .filter(|f| f.src != f.dst)
        .collect();
    let mut sim = Simulation::with_ecmp(t, flows, TIMERS, seed, hash);
    sim.set_drain(Drain { fabric: true, access: rng.random_bool(0.5) });
    sim.set_parallelism(threads, min_classes);
    sim.set_thorough(thorough);
    sim.set_full_congestion(full);
    let mut at = 1_000;
    for (tag, &switch) in switches.iter().enumerate() {
        if rng.random_bool(0.7) {
            sim.schedule(SimTime::from_millis(at), Action::Drain(switch));
        }
        at += rng.random_range(0..8_000);
        let action = if rng.random_bool(0.2) { Action::Hang(switch) } else { Action::Down(switch) };
        sim.schedule(SimTime::from_millis(at), action);
        sim.schedule(SimTime::from_millis(at + 100), Action::Probe(tag as u32));
        at += rng.random_range(0..60_000);
        sim.schedule(SimTime::from_millis(at), Action::Up(switch));
        sim.schedule(SimTime::from_millis(at + rng.random_range(0..40_000)), Action::Undrain(switch));
        at += rng.random_range(0..20_000);
    }
    sim.run()
}

fn assert_same(one: &Outcome, many: &Outcome, what: &str) {
    assert_eq!(one.losses, many.losses, "{what}: losses");
    assert_eq!(one.baseline_loss_gbps, many.baseline_loss_gbps, "{what}: baseline");
    assert_eq!(one.peak, many.peak, "{what}: peak");
    assert_eq!(one.probes, many.probes, "{what}: probes");
    assert_eq!((one.end, one.events, one.evaluations), (many.end, many.events, many.evaluations), "{what}: counts");
}

#[test]
fn one_thread_and_many_give_the_same_outcome() {
    let mut lost = 0.0;
    for seed in 0..12 {
        for hash in [false, true] {
            let one = run(seed, hash, 1, 1, false);
            lost += one.losses.iter().map(|l| l.total_gbit()).sum::<f64>();
            // Every re-spread divided as finely as it goes, on 2, 3 and 8 threads.
            for threads in [2, 3, 8] {
                let many = run(seed, hash, threads, 1, false);
                assert_same(&one, &many, &format!("seed {seed}, hash {hash}, {threads} threads"));
            }
        }
    }
    // The plans do hurt: the comparison is not between two empty outcomes.
    assert!(lost > 0.0);
}

#[test]
fn re_spreading_only_what_a_change_can_move_loses_nothing() {
    let (mut lost, mut saved) = (0.0, 0);
    for seed in 0..40 {
        for hash in [false, true] {
            let selective = run(seed, hash, 1, 1, false);
            let thorough = run(seed, hash, 1, 1, true);
            let what = format!("seed {seed}, hash {hash}");
            for (index, (s, t)) in selective.losses.iter().zip(&thorough.losses).enumerate() {
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
                assert!(close(s.blackhole_gbit, t.blackhole_gbit), "{what}: flow {index}: {s:?} vs {t:?}");
                assert!(close(s.congestion_gbit, t.congestion_gbit), "{what}: flow {index}: {s:?} vs {t:?}");
                assert_eq!(s.cause, t.cause, "{what}: flow {index}: cause: {s:?} vs {t:?}");
                lost += s.total_gbit();
            }
            assert_eq!(selective.probes, thorough.probes, "{what}: probes");
            assert_eq!(selective.peak.map(|p| (p.link, p.at)), thorough.peak.map(|p| (p.link, p.at)), "{what}");
            saved += thorough.evaluations - selective.evaluations;
        }
    }
    // The plans hurt, and the selection does skip spreads.
    assert!(lost > 0.0 && saved > 0);
}

/// Congestion resolved by replaying each class's recorded spread (from the lowest overloaded
/// level's offered load up, and only as far as a level needs) against the full resolution
/// (every affected class spread again over the fabric at every level), flow by flow and bit for
/// bit, on hundreds of random fabrics and plans from idle to far over capacity.
#[test]
fn replaying_spreads_for_congestion_agrees_with_spreading_every_class_at_every_level() {
    let (mut congested, mut saved) = (0.0, 0);
    for seed in 0..150 {
        let hash = seed % 3 == 0;
        let load = [1.0, 2.0, 4.0, 8.0][seed as usize % 4];
        let fast = run_loaded(seed, hash, 1, 1, false, load, false);
        let full = run_loaded(seed, hash, 1, 1, false, load, true);
        let what = format!("seed {seed}, hash {hash}, load x{load}");
        assert_eq!(fast.losses.len(), full.losses.len(), "{what}");
        for (index, (f, r)) in fast.losses.iter().zip(&full.losses).enumerate() {
            // A replay does the spread's own arithmetic in the spread's own order.
            assert_eq!(f, r, "{what}: flow {index}");
            congested += f.congestion_gbit;
        }
        assert_eq!(fast.peak, full.peak, "{what}: peak");
        assert_eq!(fast.probes, full.probes, "{what}: probes");
        saved += full.evaluations - fast.evaluations;
    }
    // Congestion was there to resolve, and replays did stand in for spreads.
    assert!(congested > 0.0 && saved > 0, "{congested} {saved}");
}
