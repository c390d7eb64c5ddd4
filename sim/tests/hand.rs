//! The traffic model against hand calculations, at the engine's level.

use hitless_sim::{Action, Cause, Detect, Drain, FlowSpec, SimTime, Simulation, Topology};

mod common;
use common::TIMERS;

/// f1 (150 Gbps) crosses link A then link B, both 100 Gbps; f2 (60 Gbps) joins on B.
///   A drops 50 of f1. B gets f1's surviving 100 and f2's 60: 160 on 100, each keeps 100/160.
///   f1 loses 50 + 100 x 60/160 = 87.5 Gbps (of 150); f2 loses 60 x 60/160 = 22.5 Gbps.
/// Over 10 s: 875 and 225 Gbit. (Charging each link's excess on its own would give f1
/// 50 + 110 x 150/210 = 128.6 Gbps.)
#[test]
fn congestion_in_series_drops_where_it_first_exceeds_and_only_survivors_go_on() {
    let mut t = Topology::new();
    let leaf1 = t.add_node("leaf1", 1);
    let leaf2 = t.add_node("leaf2", 1);
    let leaf3 = t.add_node("leaf3", 1);
    let spine = t.add_node("spine", 2);
    for leaf in [leaf1, leaf2, leaf3] {
        t.add_link(leaf, spine, 100.0);
    }
    let s1 = t.add_endpoint("s1", &[leaf1], 400.0, Detect::Access);
    let s2 = t.add_endpoint("s2", &[leaf3], 400.0, Detect::Access);
    let s3 = t.add_endpoint("s3", &[leaf2], 400.0, Detect::Access);
    let flows = vec![FlowSpec { src: s1, dst: s3, rate_gbps: 150.0 }, FlowSpec { src: s2, dst: s3, rate_gbps: 60.0 }];
    let mut sim = Simulation::new(t, flows, TIMERS, 1);
    sim.schedule(SimTime::from_secs(10), Action::Probe(0));
    let outcome = sim.run();
    assert!((outcome.losses[0].congestion_gbit - 875.0).abs() < 1e-9, "{:?}", outcome.losses[0]);
    assert!((outcome.losses[1].congestion_gbit - 225.0).abs() < 1e-9, "{:?}", outcome.losses[1]);
    assert!((outcome.baseline_loss_gbps[0] - 87.5).abs() < 1e-12);
    let (cause, at) = outcome.losses[0].cause.unwrap();
    let Cause::Congestion(link) = cause else { panic!("{cause:?}") };
    assert_eq!(
        (outcome.topology.link(link).from.as_str(), outcome.topology.link(link).to.as_str()),
        ("leaf1", "spine")
    );
    assert_eq!(at, SimTime::ZERO);
}

/// With per-flow hashing a flow takes one of its paths, so a dead spine costs it everything or
/// nothing; the fluid split charges every flow half. Two spines, 64 flows of 1 Gbps between two
/// single-homed servers, spine1 down for 100 s (+30 s before it is used again; its links drop
/// and are noticed after 50 ms, then everything takes spine2).
///   Fluid: each flow loses 0.5 Gbps x 0.05 s = 0.025 Gbit.
///   Hashing: each flow loses 0 or 1 Gbps x 0.05 s = 0.05 Gbit; the total is the number of
///   flows hashed onto spine1 times 0.05, and some but not all are.
#[test]
fn hashed_flows_lose_all_or_nothing_where_fluid_flows_lose_a_share() {
    let build = |hash: bool| {
        let mut t = Topology::new();
        let leaf1 = t.add_node("leaf1", 1);
        let leaf2 = t.add_node("leaf2", 1);
        let spine1 = t.add_node("spine1", 2);
        let spine2 = t.add_node("spine2", 2);
        for leaf in [leaf1, leaf2] {
            t.add_link(leaf, spine1, 100.0);
            t.add_link(leaf, spine2, 100.0);
        }
        let a = t.add_endpoint("a", &[leaf1], 100.0, Detect::Access);
        let b = t.add_endpoint("b", &[leaf2], 100.0, Detect::Access);
        let flows = vec![FlowSpec { src: a, dst: b, rate_gbps: 1.0 }; 64];
        let mut sim = Simulation::with_ecmp(t, flows, TIMERS, 9, hash);
        sim.schedule(SimTime::from_secs(10), Action::Down(spine1));
        sim.schedule(SimTime::from_secs(110), Action::Up(spine1));
        sim.run()
    };
    let fluid = build(false);
    assert!(fluid.losses.iter().all(|l| (l.total_gbit() - 0.025).abs() < 1e-12), "{:?}", fluid.losses[0]);
    let hashed = build(true);
    let hit = hashed.losses.iter().filter(|l| l.total_gbit() > 0.0).count();
    assert!(hashed.losses.iter().all(|l| l.total_gbit() == 0.0 || (l.total_gbit() - 0.05).abs() < 1e-12));
    assert!(hit > 0 && hit < 64, "{hit} of 64 flows hashed onto spine1");
}

/// Maintenance mode disables a leaf's ESI-LAGs (multihomed servers), not a single-homed
/// server's link nor its routed links to the world: a drained border leaf that is the only way
/// out still carries traffic to the outside, and to a server on it alone, until it goes down.
///   Both lose only while the leaf is down: 20 s, and 30 s more before it is used again. To the
///   world at 2 Gbps: 100 Gbit; to the lone server at 1 Gbps: 50 Gbit.
///   A server on the border leaf and leaf2 moves to leaf2 at the drain and loses nothing.
#[test]
fn a_drain_cuts_esi_lags_only() {
    let mut t = Topology::new();
    let border = t.add_node("bl1", 1);
    let leaf = t.add_node("leaf1", 1);
    let leaf2 = t.add_node("leaf2", 1);
    let spine = t.add_node("spine", 2);
    for switch in [border, leaf, leaf2] {
        t.add_link(switch, spine, 100.0);
    }
    let world = t.add_endpoint("external", &[border], 400.0, Detect::Fabric);
    let server = t.add_endpoint("bms", &[leaf], 100.0, Detect::Access);
    let lonely = t.add_endpoint("lonely", &[border], 100.0, Detect::Access);
    let both = t.add_endpoint("both", &[border, leaf2], 100.0, Detect::Access);
    let flows = vec![
        FlowSpec { src: server, dst: world, rate_gbps: 2.0 },
        FlowSpec { src: server, dst: lonely, rate_gbps: 1.0 },
        FlowSpec { src: server, dst: both, rate_gbps: 1.0 },
        FlowSpec { src: both, dst: server, rate_gbps: 1.0 },
    ];
    let mut sim = Simulation::new(t, flows, TIMERS, 1);
    sim.set_drain(Drain { fabric: true, access: true });
    sim.schedule(SimTime::from_secs(5), Action::Drain(border));
    sim.schedule(SimTime::from_secs(40), Action::Down(border));
    sim.schedule(SimTime::from_secs(60), Action::Up(border));
    sim.schedule(SimTime::from_secs(100), Action::Undrain(border));
    let outcome = sim.run();
    let lost: Vec<f64> = outcome.losses.iter().map(|l| l.total_gbit()).collect();
    assert!((lost[0] - 100.0).abs() < 1e-9 && (lost[1] - 50.0).abs() < 1e-9, "{lost:?}");
    assert_eq!(&lost[2..], [0.0, 0.0]);
}

/// The world does not see a border leaf's Ethernet segments: in the 10 s its drain takes to
/// converge it keeps sending half of its traffic for a firewall on both border leafs to the
/// drained one, whose link to the firewall is already down. That leaf relays it over the fabric
/// to the other border leaf (EVPN: the segment's other PE): nothing is lost. Had the other leaf
/// been down too, the traffic would have been lost at the drained leaf, blamed on it.
#[test]
fn a_leaf_whose_segment_is_down_relays_to_the_segments_other_leaf() {
    let build = |other_down: bool| {
        let mut t = Topology::new();
        let bl1 = t.add_node("bl1", 1);
        let bl2 = t.add_node("bl2", 1);
        let spine = t.add_node("spine", 2);
        t.add_link(bl1, spine, 100.0);
        t.add_link(bl2, spine, 100.0);
        let world = t.add_endpoint("external", &[bl1, bl2], 400.0, Detect::Fabric);
        let firewall = t.add_endpoint("fw1", &[bl1, bl2], 100.0, Detect::Access);
        let mut sim = Simulation::new(t, vec![FlowSpec { src: world, dst: firewall, rate_gbps: 4.0 }], TIMERS, 1);
        sim.set_drain(Drain { fabric: true, access: true });
        sim.schedule(SimTime::from_secs(5), Action::Drain(bl2));
        if other_down {
            sim.schedule(SimTime::from_secs(5), Action::Down(bl1));
            sim.schedule(SimTime::from_secs(6), Action::Up(bl1));
        }
        sim.schedule(SimTime::from_secs(100), Action::Undrain(bl2));
        sim.run()
    };
    assert_eq!(build(false).losses[0].total_gbit(), 0.0, "relayed");
    // bl1 down from 5 s as well: for the 50 ms before the world notices its links went, half
    // the traffic (2 Gbps) dies at bl1 and half at bl2 (nowhere to relay to): 0.2 Gbit. Then the
    // world sends everything to bl2, which can neither deliver nor relay until bl1 is used again
    // at 6 + 30 = 36 s: 4 Gbps x 30.95 s = 123.8 Gbit. In all 124 Gbit.
    let lost = &build(true).losses[0];
    assert!((lost.total_gbit() - 124.0).abs() < 1e-9, "{lost:?}");
}
