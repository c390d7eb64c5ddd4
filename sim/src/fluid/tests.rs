use super::*;
use rand::{RngExt, SeedableRng};

#[test]
fn flagged_finds_the_flagged_classes_of_any_length() {
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(7);
    for len in [0, 1, 7, 8, 9, 63, 64, 65, 1000] {
        let flags: Vec<u8> = (0..len).map(|_| if rng.random_bool(0.1) { rng.random::<u8>() } else { 0 }).collect();
        for bit in [1, 2, LOSING] {
            let expected: Vec<usize> = (0..len).filter(|i| flags[*i] & bit != 0).collect();
            assert_eq!(flagged(&flags, bit).collect::<Vec<_>>(), expected, "{len} flags, bit {bit}");
        }
    }
}

#[test]
fn a_summary_holds_switches_numbered_in_16_bits_and_overflows_beyond() {
    let carried = [NodeId(3), NodeId(65_535), NodeId(9)];
    let summary = Summary::of(&carried, &[NodeId(9)], false);
    assert_eq!((summary.len, &summary.nodes[..3], summary.sole), (3, &[3, 65_535, 9][..], 0b100));
    let summary = Summary::of(&[NodeId(3), NodeId(65_536)], &[], false);
    assert_eq!(summary.len, Summary::OVERFLOW, "a switch beyond 16 bits is not summarised");
}

/// The links' overloads and the peak, as the exact pass finds them: every link, every time.
fn scan(fluid: &Fluid, peak: Option<Peak>, now: SimTime) -> (Vec<LinkId>, Option<Peak>) {
    let mut overloaded = Vec::new();
    let mut busiest: Option<(usize, f64)> = None;
    for (index, (offered, inverse)) in fluid.offered.iter().zip(&fluid.inverse_capacity).enumerate() {
        let utilisation = *offered as f64 * inverse;
        if utilisation > 1.0 + 1e-12 {
            overloaded.push(LinkId(index as u32));
        }
        if busiest.is_none_or(|(_, u)| utilisation > u + 1e-12) {
            busiest = Some((index, utilisation));
        }
    }
    let mut peak = peak;
    if let Some((index, utilisation)) = busiest
        && peak.is_none_or(|p| utilisation > p.utilisation + 1e-12)
    {
        peak = Some(Peak { link: LinkId(index as u32), utilisation, at: now });
    }
    (overloaded, peak)
}

/// Link checks that skip the exact pass when no link is above its alarm find what the exact
/// pass finds, over random loads that rise and fall around the links' capacities and the
/// peak (some exactly at them).
#[test]
fn link_checks_with_alarms_find_what_scanning_every_link_finds() {
    let mut t = Topology::new();
    let spine = t.add_node("spine", 2);
    let leafs: Vec<NodeId> = (0..6).map(|i| t.add_node(format!("leaf{i}"), 1)).collect();
    for (i, leaf) in leafs.iter().enumerate() {
        t.add_link(*leaf, spine, 10.0 * (i + 1) as f64);
    }
    let fluid = Fluid::new(t, Vec::new(), Ecmp::Fluid);
    let mut fluid = fluid;
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(11);
    let mut reference_peak = fluid.peak;
    for step in 0..5_000u64 {
        let now = SimTime::from_millis(step);
        for (offered, inverse) in fluid.offered.iter_mut().zip(&fluid.inverse_capacity) {
            let capacity = 1.0 / inverse;
            *offered = match rng.random_range(0..10) {
                0 => capacity as i64,
                1 => capacity as i64 + 1,
                2..5 => (capacity * rng.random_range(0.0..1.2)) as i64,
                _ => (capacity * rng.random_range(0.0..0.5)) as i64,
            };
        }
        let (overloaded, peak) = scan(&fluid, reference_peak, now);
        reference_peak = peak;
        fluid.check_links(now);
        assert_eq!(fluid.overloaded, overloaded, "step {step}");
        assert_eq!(fluid.peak, peak, "step {step}");
    }
    assert!(reference_peak.is_some_and(|p| p.utilisation > 1.0), "the loads reached overload");
}

/// A fabric too large to number its spreads' steps resolves congestion by spreading again: the
/// same losses as replaying recorded spreads (which start being recorded at the first
/// congestion), through drains, failures and recoveries at and over capacity.
#[test]
fn untraced_spreads_lose_what_replayed_ones_do() {
    use crate::topology::Detect;
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(5);
    let (mut t, leafs) = five_stage(3, 2, 2, 40.0);
    let endpoints: Vec<EndpointId> = leafs
        .chunks(2)
        .enumerate()
        .flat_map(|(i, pair)| {
            let dual = t.add_endpoint(format!("srv{i}"), pair, 25.0, Detect::Access);
            let single = t.add_endpoint(format!("one{i}"), &pair[..1], 25.0, Detect::Access);
            [dual, single]
        })
        .collect();
    let flows: Vec<FlowSpec> = (0..400)
        .map(|_| FlowSpec {
            src: endpoints[rng.random_range(0..endpoints.len())],
            dst: endpoints[rng.random_range(0..endpoints.len())],
            rate_gbps: rng.random_range(0.5..4.0),
        })
        .filter(|f| f.src != f.dst)
        .collect();
    let switches = t.node_count();
    let mut traced = Fluid::with_tracing(t.clone(), flows.clone(), Ecmp::Fluid, true);
    let mut untraced = Fluid::with_tracing(t, flows, Ecmp::Fluid, false);
    assert!(traced.traceable && !untraced.traceable);
    let all: Vec<u32> = (0..traced.classes.len() as u32).collect();
    let drained = Status { fabric: View::Avoid, access: View::Avoid, ..Status::UP };
    let down = Status {
        forwarding: false,
        fabric: View::Withdrawn,
        access: View::Withdrawn,
        lone: View::Withdrawn,
        attached: false,
    };
    let mut now = 0;
    for step in 0..60 {
        let node = NodeId(rng.random_range(0..switches as u32));
        let status = [drained, down, Status::UP][step % 3];
        now += rng.random_range(1_000..30_000);
        for fluid in [&mut traced, &mut untraced] {
            fluid.set_status(node, status);
            fluid.reevaluate(&all, SimTime::from_millis(now));
        }
    }
    assert!(traced.tracing && !untraced.tracing, "spreads were recorded once congestion began");
    let end = SimTime::from_millis(now + 10_000);
    let (replayed, spread) = (traced.finish(end).losses, untraced.finish(end).losses);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * a.abs().max(b.abs()).max(1.0);
    for (index, (r, s)) in replayed.iter().zip(&spread).enumerate() {
        assert!(close(r.blackhole_gbit, s.blackhole_gbit), "flow {index}: {r:?} vs {s:?}");
        assert!(close(r.congestion_gbit, s.congestion_gbit), "flow {index}: {r:?} vs {s:?}");
    }
    assert!(replayed.iter().any(|l| l.congestion_gbit > 0.0), "the fabric was congested");
    assert!(replayed.iter().any(|l| l.blackhole_gbit > 0.0), "switches went down under traffic");
}

#[test]
fn spreads_are_traced_in_fabrics_whose_steps_a_step_number_can_count() {
    // Eight stages of at most every switch each, numbered below the two reserved numbers.
    assert!(replay::traceable(8_191));
    assert!(!replay::traceable(8_192));
    assert!(!replay::traceable(usize::MAX));
}

/// A class reaching more switches than its summary holds keeps them beside it: asking whether
/// it crosses a switch, and which switches are its single points of failure, gives what its
/// spread lists, as for a class the summary holds.
#[test]
fn classes_reaching_more_switches_than_a_summary_holds_are_asked_about_alike() {
    use crate::topology::Detect;
    // 12 spines under 6 super-spines per pod: an inter-pod class reaches 2 + 12 + 6 + 12 + 2
    // switches, more than a summary's 28; one within a pod, 2 + 12 + 2.
    let (mut t, leafs) = five_stage(2, 12, 6, 100.0);
    let mut endpoints: Vec<EndpointId> = leafs
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| t.add_endpoint(format!("srv{i}"), pair, 25.0, Detect::Access))
        .collect();
    endpoints.push(t.add_endpoint("lone", &leafs[..1], 25.0, Detect::Access));
    let flows: Vec<FlowSpec> = endpoints
        .iter()
        .flat_map(|src| endpoints.iter().filter(move |dst| *dst != src).map(|dst| (*src, *dst)))
        .map(|(src, dst)| FlowSpec { src, dst, rate_gbps: 1.0 })
        .collect();
    let switches = t.node_count();
    let mut fluid = Fluid::new(t, flows, Ecmp::Fluid);
    let classes = fluid.classes.len();
    let overflowing = (0..classes).filter(|c| fluid.state[*c].overflow.is_some()).count();
    assert!(overflowing > 0 && overflowing < classes, "{overflowing} of {classes} overflow");
    let mut counts = vec![0usize; switches];
    for class in 0..classes {
        let (mut carried, mut sole) = (Vec::new(), Vec::new());
        let survival = vec![1.0; fluid.offered.len()];
        fluid.spread_one(class, &survival, &mut carried, &mut sole, &mut |_, _| {});
        for node in 0..switches as u32 {
            let node = NodeId(node);
            assert_eq!(fluid.carries(class as u32, node), carried.contains(&node), "class {class}, {node:?}");
        }
        for node in sole {
            counts[node.0 as usize] += fluid.classes[class].flows as usize;
        }
    }
    let mut expected: Vec<(NodeId, usize)> =
        counts.into_iter().enumerate().filter(|(_, n)| *n > 0).map(|(node, n)| (NodeId(node as u32), n)).collect();
    expected.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(fluid.exposure(), expected);
    assert!(!expected.is_empty(), "the lone server's leaf is a single point of failure");
}

/// A class handed the spread kept for the class before it (same destination group, sources on
/// the same switches) gets what walking the fabric gives it, link for link, in fabrics with
/// switches drained, down, hung and cut off from their servers at random.
#[test]
fn a_class_given_a_kept_spread_gets_what_walking_the_fabric_gives() {
    use crate::topology::Detect;
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(5);
    let (mut t, leafs) = five_stage(3, 2, 2, 100.0);
    let mut endpoints = Vec::new();
    for (i, pair) in leafs.chunks(2).enumerate() {
        for j in 0..3 {
            endpoints.push(t.add_endpoint(format!("srv{i}-{j}"), pair, 25.0, Detect::Access));
        }
        endpoints.push(t.add_endpoint(format!("lone{i}"), &pair[..1], 25.0, Detect::Access));
    }
    endpoints.push(t.add_endpoint("world", &leafs[..2], 100.0, Detect::Fabric));
    let flows: Vec<FlowSpec> = endpoints
        .iter()
        .flat_map(|src| endpoints.iter().filter(move |dst| *dst != src).map(|dst| (*src, *dst)))
        .map(|(src, dst)| FlowSpec { src, dst, rate_gbps: 1.0 })
        .collect();
    let switches = t.node_count() as u32;
    let mut fluid = Fluid::new(t, flows, Ecmp::Fluid);
    let (mut given, mut lost) = (0, 0);
    for round in 0..40 {
        if round > 0 {
            for node in (0..switches).map(NodeId) {
                fluid.set_status(node, random_status(&mut rng, 0.8));
            }
        }
        let mut walker = fluid.walker();
        for class in 1..walker.ground.classes.len() {
            let walked = {
                let mut links = Vec::new();
                let (mut carried, mut sole) = (Vec::new(), Vec::new());
                let spread =
                    walker.walk(class, None, &mut carried, &mut sole, &mut |l, s, f, t| links.push((l, s, f, t)));
                (links, spread, carried, sole)
            };
            // The class before it spread (and kept), then this one.
            let (mut carried, mut sole) = (Vec::new(), Vec::new());
            walker.scratch.alike.upcoming = Some(class as u32);
            walker.spread(class - 1, None, &mut carried, &mut sole, &mut |_, _, _, _| {});
            let alike = walker.ground.spread_alike(walker.alike_key(class - 1), walker.alike_key(class));
            let mut links = Vec::new();
            let spread =
                walker.spread(class, None, &mut carried, &mut sole, &mut |l, s, f, t| links.push((l, s, f, t)));
            assert_eq!(
                (links, spread, carried, sole),
                walked,
                "round {round}, class {class}, given a kept spread: {alike}"
            );
            given += usize::from(alike);
            lost += usize::from(alike && walked.1.blackhole_fraction > 0.0);
        }
    }
    // Most classes are handed a kept spread, some of them one that loses traffic.
    assert!(given > 10_000 && lost > 1_000, "{given} given, {lost} of them losing");
}

/// Re-spreading classes that share their links and shares ([`shares::Contributions`]) leaves
/// each class with what walking the fabric gives it, and every link's load the sum of each
/// class's load on it: classes of different rates, re-spread in random subsets (so that
/// classes that shared links before no longer all do), on one thread and two.
#[test]
fn classes_sharing_their_spreads_load_the_links_as_each_alone_would() {
    use crate::topology::Detect;
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(9);
    let (mut t, leafs) = five_stage(3, 2, 2, 100.0);
    let mut endpoints = Vec::new();
    for (i, pair) in leafs.chunks(2).enumerate() {
        for j in 0..4 {
            endpoints.push(t.add_endpoint(format!("srv{i}-{j}"), pair, 25.0, Detect::Access));
        }
        endpoints.push(t.add_endpoint(format!("lone{i}"), &pair[..1], 25.0, Detect::Access));
    }
    // Every pair once, some twice (a class of two flows), at three rates, short of congestion
    // (which records spreads, and then nothing is shared).
    let rates = [0.03, 0.1, 0.27];
    let mut flows = Vec::new();
    for src in &endpoints {
        for dst in endpoints.iter().filter(|dst| *dst != src) {
            for _ in 0..if rng.random_bool(0.1) { 2 } else { 1 } {
                flows.push(FlowSpec { src: *src, dst: *dst, rate_gbps: rates[rng.random_range(0..3)] });
            }
        }
    }
    let switches = t.node_count() as u32;
    let mut fluid = Fluid::new(t, flows, Ecmp::Fluid);
    let mut shared = 0;
    for round in 0..60 {
        if round % 2 == 1 {
            fluid.set_parallelism(2, 8);
        } else {
            fluid.set_parallelism(1, 8);
        }
        for node in (0..switches).map(NodeId) {
            fluid.set_status(node, random_status(&mut rng, 0.85));
        }
        let keep = [1.0, 0.9, 0.5][round % 3];
        let classes: Vec<u32> = (0..fluid.classes.len() as u32).filter(|_| rng.random_bool(keep)).collect();
        fluid.reevaluate(&classes, SimTime::from_millis(round as u64 * 1000));
        let mut expected = vec![0i64; fluid.offered.len()];
        for (class, state) in fluid.classes.iter().zip(&fluid.state) {
            for (link, share) in state.contributions.iter() {
                expected[link.0 as usize] += share_load(share, class.rate_gbps);
            }
        }
        assert_eq!(fluid.offered, expected, "round {round}: the loads are the sum of the classes' loads");
        let mut walker = fluid.walker();
        let walked: Vec<Vec<(LinkId, f32)>> = classes
            .iter()
            .map(|&class| {
                let mut links = Vec::new();
                let (mut carried, mut sole) = (Vec::new(), Vec::new());
                let on_link = &mut |l, s: f64, _, _| links.push((l, s as f32));
                walker.walk(class as usize, None, &mut carried, &mut sole, on_link);
                links
            })
            .collect();
        for (&class, links) in classes.iter().zip(walked) {
            let held: Vec<(LinkId, f32)> = fluid.state[class as usize].contributions.iter().collect();
            assert_eq!(held, links, "round {round}, class {class}");
        }
        let interiors = fluid.state.iter().filter_map(|s| s.contributions.interior.shared());
        shared += interiors.filter(|i| std::sync::Arc::strong_count(i) > 1).count();
    }
    // Most classes share their links and shares with others (48,257 of the 60 rounds' 52,200).
    assert!(shared > 30_000, "{shared} classes sharing");
}

/// A switch's status: up with probability `up`, else forwarding or not, its views and its
/// servers' links at random.
fn random_status(rng: &mut rand::rngs::ChaCha8Rng, up: f64) -> Status {
    if rng.random_bool(up) {
        return Status::UP;
    }
    let views = [View::Withdrawn, View::Avoid, View::Use];
    Status {
        forwarding: rng.random_bool(0.7),
        fabric: views[rng.random_range(0..3)],
        access: views[rng.random_range(0..3)],
        lone: views[rng.random_range(0..3)],
        attached: rng.random_bool(0.6),
    }
}

/// A 5-stage fabric: `pods` pods of `spines` spines and four leafs each, under `supers`
/// super-spines (links of 100 Gbps), each leaf linked to every spine of its pod at
/// `leaf_gbps`. Returns it with its leafs, in pairs by pod.
fn five_stage(pods: usize, spines: usize, supers: usize, leaf_gbps: f64) -> (Topology, Vec<NodeId>) {
    let mut t = Topology::new();
    let supers: Vec<NodeId> = (0..supers).map(|i| t.add_node(format!("ss{i}"), 3)).collect();
    let mut leafs = Vec::new();
    for pod in 0..pods {
        let spines: Vec<NodeId> = (0..spines).map(|i| t.add_node(format!("p{pod}s{i}"), 2)).collect();
        for &spine in &spines {
            for &upper in &supers {
                t.add_link(spine, upper, 100.0);
            }
        }
        for i in 0..4 {
            let leaf = t.add_node(format!("p{pod}l{i}"), 1);
            for &spine in &spines {
                t.add_link(leaf, spine, leaf_gbps);
            }
            leafs.push(leaf);
        }
    }
    (t, leafs)
}
