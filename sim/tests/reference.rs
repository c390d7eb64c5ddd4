//! The congestion resolution against a reference written the plain way: every flow's paths
//! listed one by one, every link's arriving load summed from them, each link's survival
//! (capacity over what arrives, at most one) set, and the whole repeated until nothing changes.
//! It shares no code with the simulator: it builds its own picture of the fabric (who is wired
//! to whom) from the same random draws, and routes by the rule the topology documents — up from
//! the source's leaf only as far as needed, then down, splitting equally at every switch over the
//! next hops that go that way. Hundreds of small fabrics, idle to four times over capacity,
//! compared flow by flow; and the same with spines and super-spines in maintenance mode, once
//! the fabric has settled around them (a drained switch is used only where no other is left).

use hitless_sim::{Cause, Detect, EndpointId, FlowSpec, NodeId, SimTime, Simulation, Topology};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

mod common;
use common::TIMERS;

/// The reference's own picture of a fabric: switches by tier, directed links with capacities,
/// and endpoints with the leafs they attach to.
#[derive(Clone, Default)]
struct Fabric {
    tier: Vec<u8>,
    names: Vec<String>,
    /// Directed links: (from, to, capacity). Switches are 0..tier.len(); endpoint e is
    /// `ENDPOINT + e`.
    links: Vec<(usize, usize, f64)>,
    endpoints: Vec<Vec<usize>>,
    endpoint_names: Vec<String>,
    /// Switches in maintenance mode: avoided as a next hop where an equal one is not.
    drained: Vec<usize>,
}

const ENDPOINT: usize = 1 << 20;

impl Fabric {
    fn link(&self, from: usize, to: usize) -> usize {
        self.links.iter().position(|&(a, b, _)| a == from && b == to).expect("wired")
    }

    fn neighbours(&self, node: usize, tier: u8) -> Vec<usize> {
        self.links
            .iter()
            .filter(|&&(a, b, _)| a == node && b < ENDPOINT && self.tier[b] == tier)
            .map(|&(_, b, _)| b)
            .collect()
    }

    /// Whether `node` reaches one of `targets` going only down.
    fn reaches_down(&self, node: usize, targets: &[usize]) -> bool {
        targets.contains(&node)
            || (self.tier[node] > 1
                && self.neighbours(node, self.tier[node] - 1).iter().any(|&n| self.reaches_down(n, targets)))
    }

    /// The next hops the rule allows from `node`: down towards a destination leaf when one is
    /// below, else up (while still rising); and whether the path is still rising.
    fn candidates(&self, node: usize, rising: bool, targets: &[usize]) -> (Vec<usize>, bool) {
        let tier = self.tier[node];
        let down: Vec<usize> = if tier > 1 {
            self.neighbours(node, tier - 1).into_iter().filter(|&n| self.reaches_down(n, targets)).collect()
        } else {
            Vec::new()
        };
        if !down.is_empty() {
            (down, false)
        } else if rising {
            (self.neighbours(node, tier + 1), true)
        } else {
            (Vec::new(), false)
        }
    }

    /// How good a next hop is: 2 in use, 1 drained (or only drained ways on from it).
    fn quality(&self, hop: usize, rising: bool, targets: &[usize]) -> u8 {
        let own = if self.drained.contains(&hop) { 1 } else { 2 };
        if targets.contains(&hop) {
            return own;
        }
        let (next, rising) = self.candidates(hop, rising, targets);
        let onward = next.iter().map(|&h| self.quality(h, rising, targets)).max().unwrap_or(0);
        own.min(onward)
    }

    /// Every path of a flow from `src` to `dst` endpoint, with its share of the flow: out over the
    /// source's attachments equally; at a switch, delivered if it is one of the destination's
    /// leafs, else down over the neighbours below that reach one, else up over all neighbours
    /// above (as far as needed), equally.
    fn paths(&self, src: usize, dst: usize) -> Vec<(Vec<usize>, f64)> {
        let targets = &self.endpoints[dst];
        let mut out = Vec::new();
        let first = &self.endpoints[src];
        for &leaf in first {
            let start = vec![self.link(ENDPOINT + src, leaf)];
            self.walk(leaf, true, targets, dst, start, 1.0 / first.len() as f64, &mut out);
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        node: usize,
        rising: bool,
        targets: &[usize],
        dst: usize,
        path: Vec<usize>,
        share: f64,
        out: &mut Vec<(Vec<usize>, f64)>,
    ) {
        if targets.contains(&node) {
            let mut path = path;
            path.push(self.link(node, ENDPOINT + dst));
            out.push((path, share));
            return;
        }
        let (next, still_rising) = self.candidates(node, rising, targets);
        assert!(!next.is_empty(), "the reference fabrics always have a way: {}", self.names[node]);
        // Of those, the best: a drained switch, or one whose every way on is through a drained
        // switch, only when no other is left.
        let best = next.iter().map(|&h| self.quality(h, still_rising, targets)).max().unwrap_or(0);
        let next: Vec<usize> = next.into_iter().filter(|&h| self.quality(h, still_rising, targets) == best).collect();
        for &hop in &next {
            let mut path = path.clone();
            path.push(self.link(node, hop));
            self.walk(hop, still_rising, targets, dst, path, share / next.len() as f64, out);
        }
    }
}

#[derive(Clone)]
struct Case {
    fabric: Fabric,
    /// The simulator's ids of the reference's switches.
    ids: Vec<NodeId>,
    topology: Topology,
    flows: Vec<FlowSpec>,
    /// The reference's endpoint index of each flow's source and destination.
    ends: Vec<(usize, usize)>,
}

/// A random fabric (one to four pods, with or without super-spines) and its traffic, built
/// twice from the same draws: as the simulator's topology and as the reference's picture.
fn case(seed: u64, load: f64) -> Case {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = Topology::new();
    let mut f = Fabric::default();
    let add = |t: &mut Topology, f: &mut Fabric, name: String, tier: u8| -> (NodeId, usize) {
        f.tier.push(tier);
        f.names.push(name.clone());
        (t.add_node(name, tier), f.tier.len() - 1)
    };
    let wire = |t: &mut Topology, f: &mut Fabric, a: (NodeId, usize), b: (NodeId, usize), capacity: f64| {
        t.add_link(a.0, b.0, capacity);
        f.links.push((a.1, b.1, capacity));
        f.links.push((b.1, a.1, capacity));
    };
    let pods = rng.random_range(1..=4);
    let super_count = if pods == 1 && rng.random_bool(0.5) { 0 } else { rng.random_range(1..=3) };
    let supers: Vec<_> = (0..super_count).map(|i| add(&mut t, &mut f, format!("ss{i}"), 3)).collect();
    let mut leafs = Vec::new();
    for pod in 0..pods {
        let spines: Vec<_> =
            (0..rng.random_range(1..=3)).map(|i| add(&mut t, &mut f, format!("p{pod}s{i}"), 2)).collect();
        for &spine in &spines {
            for &upper in &supers {
                wire(&mut t, &mut f, spine, upper, 400.0);
            }
        }
        for i in 0..rng.random_range(2..=6) {
            let leaf = add(&mut t, &mut f, format!("p{pod}l{i}"), 1);
            for &spine in &spines {
                wire(&mut t, &mut f, leaf, spine, 100.0);
            }
            leafs.push((leaf, pod));
        }
    }
    // Servers on leaf pairs within a pod (single- and dual-homed), and the world on one leaf.
    let mut endpoints: Vec<EndpointId> = Vec::new();
    let attach = |t: &mut Topology, f: &mut Fabric, name: String, on: &[(NodeId, usize)], capacity: f64, detect| {
        let id = t.add_endpoint(name.clone(), &on.iter().map(|l| l.0).collect::<Vec<_>>(), capacity, detect);
        let index = f.endpoints.len();
        f.endpoints.push(on.iter().map(|l| l.1).collect());
        f.endpoint_names.push(name.clone());
        for leaf in on {
            f.links.push((ENDPOINT + index, leaf.1, capacity));
            f.links.push((leaf.1, ENDPOINT + index, capacity));
        }
        id
    };
    let mut index = 0;
    for pod_leafs in leafs.chunk_by(|a, b| a.1 == b.1) {
        let pod_leafs: Vec<(NodeId, usize)> = pod_leafs.iter().map(|l| l.0).collect();
        for pair in pod_leafs.chunks(2) {
            for j in 0..3 {
                let on = if j == 0 || pair.len() == 1 { &pair[..1] } else { pair };
                endpoints.push(attach(&mut t, &mut f, format!("srv{index}-{j}"), on, 100.0, Detect::Access));
            }
            index += 1;
        }
    }
    endpoints.push(attach(&mut t, &mut f, "world".into(), &[leafs[0].0], 400.0, Detect::Fabric));
    let mut flows = Vec::new();
    let mut ends = Vec::new();
    for _ in 0..rng.random_range(20..200) {
        let (src, dst) = (rng.random_range(0..endpoints.len()), rng.random_range(0..endpoints.len()));
        if src == dst {
            continue;
        }
        let rate = load * if rng.random_bool(0.05) { 40.0 } else { rng.random_range(0.5..8.0) };
        flows.push(FlowSpec { src: endpoints[src], dst: endpoints[dst], rate_gbps: rate });
        ends.push((src, dst));
    }
    let ids = (0..f.tier.len()).map(|i| NodeId(i as u32)).collect();
    Case { fabric: f, ids, topology: t, flows, ends }
}

/// Per flow: what it loses (Gbps), and the link where it loses most — when one link clearly
/// does (two links losing it the same amount have no one answer).
fn reference(case: &Case) -> Vec<(f64, Option<usize>)> {
    let fabric = &case.fabric;
    let paths: Vec<Vec<(Vec<usize>, f64)>> = case.ends.iter().map(|&(s, d)| fabric.paths(s, d)).collect();
    let mut survival = vec![1.0f64; fabric.links.len()];
    let mut rounds = 0;
    loop {
        let mut arriving = vec![0.0f64; fabric.links.len()];
        for (flow, flow_paths) in case.flows.iter().zip(&paths) {
            for (path, share) in flow_paths {
                let mut carried = flow.rate_gbps * share;
                for &link in path {
                    arriving[link] += carried;
                    carried *= survival[link];
                }
            }
        }
        let next: Vec<f64> = arriving
            .iter()
            .zip(&fabric.links)
            .map(|(&load, &(_, _, capacity))| if load > capacity { capacity / load } else { 1.0 })
            .collect();
        rounds += 1;
        if next == survival {
            break;
        }
        assert!(rounds < 50, "the reference did not converge");
        survival = next;
    }
    case.flows
        .iter()
        .zip(&paths)
        .map(|(flow, flow_paths)| {
            let mut lost_on = vec![0.0f64; fabric.links.len()];
            for (path, share) in flow_paths {
                let mut carried = flow.rate_gbps * share;
                for &link in path {
                    lost_on[link] += carried * (1.0 - survival[link]);
                    carried *= survival[link];
                }
            }
            let total: f64 = lost_on.iter().sum();
            let mut ranked: Vec<(usize, f64)> = lost_on.iter().copied().enumerate().filter(|(_, l)| *l > 0.0).collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            let clear = match ranked.as_slice() {
                [] => None,
                [(link, _)] => Some(*link),
                [(link, most), (_, next), ..] => (most - next > 1e-6 * most).then_some(*link),
            };
            (total, clear)
        })
        .collect()
}

/// The name of a reference link's ends, as the simulator's topology names them.
fn ends(fabric: &Fabric, link: usize) -> (String, String) {
    let name =
        |n: usize| if n >= ENDPOINT { fabric.endpoint_names[n - ENDPOINT].clone() } else { fabric.names[n].clone() };
    (name(fabric.links[link].0), name(fabric.links[link].1))
}

#[test]
fn congestion_agrees_with_a_plain_reference_flow_by_flow() {
    let (mut compared, mut losing, mut causes) = (0, 0, 0);
    for seed in 0..300u64 {
        let load = [0.2, 1.0, 2.0, 4.0][seed as usize % 4];
        let case = case(seed, load);
        let expected = reference(&case);
        let mut sim = Simulation::new(case.topology.clone(), case.flows.clone(), TIMERS, seed);
        sim.schedule(SimTime::from_secs(1), hitless_sim::Action::Probe(0));
        let outcome = sim.run();
        for (index, (&(lost, worst), actual)) in expected.iter().zip(&outcome.baseline_loss_gbps).enumerate() {
            let what = format!("seed {seed} (load x{load}), flow {index} of {}", case.flows[index].rate_gbps);
            // The simulator keeps each class's share of a link in single precision.
            let tolerance = 1e-5 * case.flows[index].rate_gbps.max(1.0);
            assert!((lost - actual).abs() <= tolerance, "{what}: the reference loses {lost}, the simulator {actual}");
            compared += 1;
            if lost > tolerance {
                losing += 1;
            }
            // Where it loses most, when that is clear.
            let Some(link) = worst else { continue };
            let Some((Cause::Congestion(cause), at)) = outcome.losses[index].cause else {
                panic!("{what}: it loses {lost} and the simulator names no congested link");
            };
            assert_eq!(at, SimTime::ZERO, "{what}");
            let named = outcome.topology.link(cause);
            assert_eq!((named.from.clone(), named.to.clone()), ends(&case.fabric, link), "{what}: where it loses most");
            causes += 1;
        }
    }
    println!("{compared} flows compared, {losing} losing, {causes} causes");
    // The cases did reach and pass capacity.
    assert!(compared > 10_000 && losing > 1_000 && causes > 500, "{compared} {losing} {causes}");
}

/// What each flow loses once the fabric has settled with some spines and super-spines in
/// maintenance mode: the difference between two runs that end 100 s apart, long after the
/// drains converged, over those 100 s.
#[test]
fn congestion_agrees_with_the_reference_while_switches_are_drained() {
    use hitless_sim::{Action, Drain};
    let (mut compared, mut losing, mut moved) = (0, 0, 0);
    for seed in 0..200u64 {
        let load = [1.0, 2.0, 4.0][seed as usize % 3];
        let mut case = case(1_000 + seed, load);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let upper: Vec<usize> = (0..case.fabric.tier.len()).filter(|&n| case.fabric.tier[n] >= 2).collect();
        for _ in 0..rng.random_range(1..=2) {
            let pick = upper[rng.random_range(0..upper.len())];
            if !case.fabric.drained.contains(&pick) {
                case.fabric.drained.push(pick);
            }
        }
        let run = |until: u64| {
            let mut sim = Simulation::new(case.topology.clone(), case.flows.clone(), TIMERS, seed);
            sim.set_drain(Drain { fabric: true, access: false });
            for &node in &case.fabric.drained {
                sim.schedule(SimTime::from_secs(1), Action::Drain(case.ids[node]));
            }
            sim.schedule(SimTime::from_secs(until), Action::Probe(0));
            sim.run()
        };
        let (early, late) = (run(100), run(200));
        let expected = reference(&case);
        let mut undrained = case.clone();
        undrained.fabric.drained.clear();
        let idle = reference(&undrained);
        for (index, (&(lost, _), (a, b))) in expected.iter().zip(early.losses.iter().zip(&late.losses)).enumerate() {
            let what = format!("seed {seed} (load x{load}, drained {:?}), flow {index}", case.fabric.drained);
            let actual = (b.congestion_gbit - a.congestion_gbit + b.blackhole_gbit - a.blackhole_gbit) / 100.0;
            let tolerance = 1e-5 * case.flows[index].rate_gbps.max(1.0);
            assert!((lost - actual).abs() <= tolerance, "{what}: the reference loses {lost}, the simulator {actual}");
            compared += 1;
            if lost > tolerance {
                losing += 1;
            }
            if (lost - idle[index].0).abs() > tolerance {
                moved += 1;
            }
        }
    }
    println!("{compared} flows compared, {losing} losing, {moved} losing otherwise than undrained");
    assert!(compared > 10_000 && losing > 1_000 && moved > 500, "{compared} {losing} {moved}");
}
