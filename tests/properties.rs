//! Property tests: on random fabrics, every plan keeps every rule.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

use hitless::model::Role;
use hitless::plan::{PlanOptions, check::check, plan};
use hitless::scenario::Scenario;
use proptest::prelude::*;

/// A random fabric, written as a scenario file so the whole loading path is exercised.
#[derive(Debug, Clone)]
struct RandomFabric {
    spines: usize,
    leafs: usize,
    super_spines: usize,
    /// Per leaf, a bit mask of the spines it links to (0 means all).
    uplinks: Vec<u8>,
    /// Servers as leaf indices (duplicates allowed; the loader removes them).
    servers: Vec<Vec<usize>>,
    /// Per device (spines, then leafs), a critical role index or none.
    critical: Vec<Option<usize>>,
    /// Per device, whether it already runs the target version.
    current: Vec<bool>,
    max_batch_size: u32,
}

const CRITICAL: [&str; 4] = ["route-reflector", "dc-gateway", "dci-gateway", "mcast-gateway"];

impl RandomFabric {
    fn yaml(&self) -> String {
        let mut y = String::from("name: random\nfabric:\n  devices:\n");
        let mut index = 0;
        let mut device = |y: &mut String, name: String, role: &str, platform: &str| {
            let version = if self.current[index] { "19.1R1" } else { "18.4R2" };
            let critical =
                self.critical[index].map(|c| format!(", critical_roles: [{}]", CRITICAL[c])).unwrap_or_default();
            writeln!(y, "    - {{name: {name}, role: {role}, family: junos-qfx, platform: {platform}, version: {version}{critical}}}").unwrap();
            index += 1;
        };
        for s in 0..self.super_spines {
            device(&mut y, format!("ss{s}"), "super-spine", "qfx10008");
        }
        for s in 0..self.spines {
            device(&mut y, format!("s{s}"), "spine", "qfx10002-36q");
        }
        for l in 0..self.leafs {
            device(&mut y, format!("l{l}"), "leaf", "qfx5120-48y");
        }
        let mut links = Vec::new();
        for (l, mask) in self.uplinks.iter().enumerate().take(self.leafs) {
            for s in 0..self.spines {
                if *mask == 0 || mask & (1 << s) != 0 {
                    links.push(format!("[s{s}, l{l}]"));
                }
            }
        }
        for s in 0..self.spines {
            for ss in 0..self.super_spines {
                links.push(format!("[ss{ss}, s{s}]"));
            }
        }
        writeln!(y, "  links: [{}]", links.join(", ")).unwrap();
        let servers: Vec<String> = self
            .servers
            .iter()
            .enumerate()
            .map(|(i, leafs)| {
                let names: Vec<String> = leafs.iter().map(|l| format!("l{}", l % self.leafs)).collect();
                format!("{{name: bms{i}, links: [{}]}}", names.join(", "))
            })
            .collect();
        writeln!(y, "  servers: [{}]", servers.join(", ")).unwrap();
        y.push_str("images:\n  - {name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5120-48y, qfx10002-36q, qfx10008], version: 19.1R1}\n");
        write!(y, "upgrade:\n  assign: [{{image: img, devices: all}}]\n  max_batch_size: {}\n", self.max_batch_size)
            .unwrap();
        y
    }
}

fn random_fabric() -> impl Strategy<Value = RandomFabric> {
    (1usize..5, 1usize..14, 0usize..3, 1u32..6).prop_flat_map(|(spines, leafs, super_spines, max_batch_size)| {
        let devices = spines + leafs + super_spines;
        (
            prop::collection::vec(any::<u8>(), leafs),
            prop::collection::vec(prop::collection::vec(0..leafs, 1..4), 0..12),
            prop::collection::vec(prop::option::weighted(0.2, 0usize..4), devices),
            prop::collection::vec(prop::bool::weighted(0.15), devices),
        )
            .prop_map(move |(uplinks, servers, critical, current)| RandomFabric {
                spines,
                leafs,
                super_spines,
                uplinks,
                servers,
                critical,
                current,
                max_batch_size,
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn plans_keep_every_rule(fabric in random_fabric()) {
        let yaml = fabric.yaml();
        let scenario = Scenario::from_yaml(&yaml, Path::new("random.yaml")).expect("random scenarios are valid");
        let plan = plan(&scenario, &PlanOptions::default());

        // Every target exactly once; skipped devices never.
        let mut seen: HashMap<_, usize> = HashMap::new();
        for batch in &plan.batches {
            for device in &batch.devices {
                *seen.entry(*device).or_default() += 1;
            }
        }
        prop_assert_eq!(seen.len(), scenario.selection.targets.len());
        for target in &scenario.selection.targets {
            prop_assert_eq!(seen.get(&target.device), Some(&1));
        }
        for (skipped, _) in &plan.skipped {
            prop_assert!(!seen.contains_key(skipped));
        }

        // No rule broken, as judged by the independent checker.
        let batches: Vec<_> = plan.batches.iter().map(|b| b.devices.clone()).collect();
        let violations = check(&scenario.fabric, &batches, fabric.max_batch_size as usize);
        prop_assert!(violations.is_empty(), "{:?}\n{}", violations, yaml);

        // Roles in order, one role per batch, within the size, at or above the bound.
        let roles: Vec<Role> = plan.batches.iter().map(|b| b.role).collect();
        prop_assert!(roles.windows(2).all(|w| w[0] <= w[1]));
        for batch in &plan.batches {
            prop_assert!(batch.devices.iter().all(|d| scenario.fabric.device(*d).role == batch.role));
            prop_assert!(batch.devices.len() <= fabric.max_batch_size as usize);
        }
        prop_assert!(plan.batches.len() >= plan.lower_bound_batches);

        // The same input gives the same plan.
        prop_assert_eq!(&plan, &hitless::plan::plan(&scenario, &PlanOptions::default()));
    }
}

#[test]
fn the_checker_catches_broken_plans() {
    let scenario = Scenario::load(&crate::util::root().join("scenarios/evpn-esi-lag.yaml")).unwrap();
    let id = |name: &str| scenario.fabric.lookup(name).unwrap();
    let batches = vec![
        vec![id("spine1"), id("spine2"), id("spine3")],
        vec![id("leaf1"), id("leaf2"), id("bl1"), id("bl2"), id("leaf5")],
        vec![id("leaf5"), id("spine4")],
    ];
    let violations: Vec<String> = check(&scenario.fabric, &batches, 4).iter().map(ToString::to_string).collect();
    let expected = [
        "batch 1: takes down 3 of the spines (spine1, spine2, spine3, spine4); at most 2 may be down at once",
        "batch 1: takes down 2 of the route-reflector devices (spine1, spine2); at most 1 may be down at once",
        "batch 1: takes down 2 of the spines of oob1 (spine1, spine2); at most 1 may be down at once",
        "batch 2: 5 devices, more than the maximum of 4",
        "batch 2: upgrades a leaf after a batch of spines; leafs go before spines, spines before super-spines",
        "batch 2: leaf1 and leaf2 both carry multihomed server web1",
        "batch 2: bl1 and bl2 both carry multihomed server fw1",
        "batch 2: takes down 2 of the dc-gateway devices (bl1, bl2); at most 1 may be down at once",
        "batch 3: leaf5 is already upgraded in batch 2",
        "batch 3: mixes roles: leaf5 is a leaf, spine4 is a spine",
    ];
    for line in expected {
        assert!(violations.iter().any(|v| v == line), "missing {line:?} in {violations:#?}");
    }
    assert_eq!(violations.len(), expected.len(), "{violations:#?}");
}

/// A random 3- or 5-stage fabric for the traffic model, random flows (rates up to 1.5 link
/// capacities, so links overload), and random switch actions.
#[derive(Debug, Clone)]
struct RandomRun {
    spines: usize,
    super_spines: usize,
    /// Per leaf, a bit mask of the spines it links to (0 means all).
    uplinks: Vec<u8>,
    /// Per endpoint, a bit mask of the leafs it attaches to (0 means the first).
    endpoints: Vec<u8>,
    /// (source, destination, Gbps) as endpoint indices.
    flows: Vec<(usize, usize, f64)>,
    /// (switch index, action kind, at seconds).
    actions: Vec<(usize, u8, u64)>,
    drain_access: bool,
    core_isolation: bool,
    hash: bool,
    reflectors: usize,
}

fn random_run() -> impl Strategy<Value = RandomRun> {
    (1usize..=4, 0usize..=2, 2usize..=6, 2usize..=6).prop_flat_map(|(spines, super_spines, leafs, endpoints)| {
        let switches = spines + super_spines + leafs;
        (
            Just(spines),
            Just(super_spines),
            prop::collection::vec(0u8..16, leafs),
            prop::collection::vec(0u8..64, endpoints),
            prop::collection::vec((0..endpoints, 0..endpoints, 1.0f64..150.0), 1..12),
            prop::collection::vec((0..switches, 0u8..5, 0u64..200), 0..16),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0usize..=2,
        )
            .prop_map(
                |(
                    spines,
                    super_spines,
                    uplinks,
                    endpoints,
                    flows,
                    actions,
                    drain_access,
                    core_isolation,
                    hash,
                    reflectors,
                )| RandomRun {
                    spines,
                    super_spines,
                    uplinks,
                    endpoints,
                    flows,
                    actions,
                    drain_access,
                    core_isolation,
                    hash,
                    reflectors,
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Congestion is counted once along a path and blackholes take only what is sent: no flow
    /// ever loses more than it offered over the run, whatever the fabric, the flows and what is
    /// done to the switches; and nothing is lost when nothing is done and no link is full.
    #[test]
    fn no_flow_loses_more_than_it_sends(run in random_run()) {
        use hitless_sim::{Action, Detect, Drain, FlowSpec, SimTime, Simulation, Timers, Topology};
        let mut topology = Topology::new();
        let leafs: Vec<_> = (0..run.uplinks.len()).map(|i| topology.add_node(format!("leaf{i}"), 1)).collect();
        let spines: Vec<_> = (0..run.spines).map(|i| topology.add_node(format!("spine{i}"), 2)).collect();
        let supers: Vec<_> = (0..run.super_spines).map(|i| topology.add_node(format!("super{i}"), 3)).collect();
        for (leaf, mask) in leafs.iter().zip(&run.uplinks) {
            for (i, spine) in spines.iter().enumerate() {
                if *mask == 0 || mask & (1 << i) != 0 {
                    topology.add_link(*leaf, *spine, 100.0);
                }
            }
        }
        for spine in &spines {
            for upper in &supers {
                topology.add_link(*spine, *upper, 100.0);
            }
        }
        let endpoints: Vec<_> = run
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, mask)| {
                let mut attached: Vec<_> =
                    leafs.iter().enumerate().filter(|(l, _)| mask & (1 << l) != 0).map(|(_, n)| *n).collect();
                if attached.is_empty() {
                    attached.push(leafs[0]);
                }
                topology.add_endpoint(format!("e{i}"), &attached, 100.0, Detect::Access)
            })
            .collect();
        let flows: Vec<FlowSpec> = run
            .flows
            .iter()
            .filter(|(s, d, _)| s != d)
            .map(|&(s, d, rate)| FlowSpec { src: endpoints[s], dst: endpoints[d], rate_gbps: rate })
            .collect();
        prop_assume!(!flows.is_empty());
        let switches: Vec<_> = leafs.iter().chain(&spines).chain(&supers).copied().collect();
        let timers = Timers {
            drain_convergence_ms: 10_000,
            link_down_ms: 50,
            fabric_detect_ms: 900,
            access_detect_ms: 3_000,
            up_convergence_ms: 30_000,
            core_isolation_ms: run.core_isolation.then_some(1_000),
        };
        let mut sim = Simulation::with_ecmp(topology, flows.clone(), timers, 7, run.hash);
        sim.set_drain(Drain { fabric: true, access: run.drain_access });
        sim.set_control_plane(spines.iter().take(run.reflectors).copied().collect(), 90_000);
        for &(switch, kind, at) in &run.actions {
            let node = switches[switch];
            let action = match kind {
                0 => Action::Drain(node),
                1 => Action::Undrain(node),
                2 => Action::Down(node),
                3 => Action::Hang(node),
                _ => Action::Up(node),
            };
            sim.schedule(SimTime::from_secs(at), action);
        }
        sim.schedule(SimTime::from_secs(300), Action::Probe(0));
        let outcome = sim.run();
        let seconds = outcome.end.secs_f64();
        for (flow, loss) in flows.iter().zip(&outcome.losses) {
            let offered = flow.rate_gbps * seconds;
            prop_assert!(loss.blackhole_gbit >= 0.0 && loss.congestion_gbit >= 0.0, "{loss:?}");
            prop_assert!(
                loss.total_gbit() <= offered * (1.0 + 1e-9) + 1e-9,
                "{flow:?} lost {} Gbit of the {offered} it sent: {loss:?}", loss.total_gbit()
            );
        }
        for (flow, baseline) in flows.iter().zip(&outcome.baseline_loss_gbps) {
            prop_assert!(*baseline <= flow.rate_gbps * (1.0 + 1e-9), "{flow:?} baseline {baseline}");
        }
        if run.actions.is_empty() {
            for (loss, baseline) in outcome.losses.iter().zip(&outcome.baseline_loss_gbps) {
                prop_assert!((loss.total_gbit() - baseline * seconds).abs() <= 1e-6 * (1.0 + loss.total_gbit()));
            }
        }
    }
}

/// A word of a configuration statement: a keyword the lab models, a value, a bracket, or any
/// text (quoted when it needs to be, with its quotes and backslashes escaped).
fn config_word() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec![
        "system",
        "host-name",
        "interfaces",
        "ae0",
        "xe-0/0/1",
        "unit",
        "0",
        "family",
        "inet",
        "address",
        "10.0.0.1/31",
        "protocols",
        "bgp",
        "group",
        "g1",
        "neighbor",
        "10.0.0.2",
        "peer-as",
        "65001",
        "description",
        "location",
        "building",
        "snmp",
        "community",
        "public",
        "members",
        "[",
        "]",
        "apply-groups",
        "groups",
        "<*>",
        "disable",
        "mtu",
        "9216",
        "policy-options",
        "then",
        "accept",
        "authentication-key",
        "secret",
        "file",
        "esi",
        "all-active",
        "apply-macro",
        "vlans",
        "v10",
        "vlan-id",
    ])
    .prop_map(str::to_string);
    // (An empty value is left out: XML writes `host-name ""` and a flag `host-name` alike.)
    let any = "\\PC{1,6}".prop_map(|w: String| format!("\"{}\"", w.replace('\\', "\\\\").replace('"', "\\\"")));
    prop_oneof![4 => known, 1 => any]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// No text, however hostile, panics a load or the log redaction; a refused load changes
    /// nothing.
    #[test]
    fn no_configuration_text_panics_the_lab(text in "\\PC{0,200}") {
        use hitless::lab::config::Config;
        let mut c = Config::default();
        c.apply("set system host-name leaf1").unwrap();
        let before = c.clone();
        for result in [
            c.clone().load_text(&text, "merge").map(|_| ()),
            c.clone().load_json(&text, "merge").map(|_| ()),
            c.clone().load_set(&text).map(|_| ()),
            c.clone().apply(&text).map(|_| ()),
        ] {
            let _ = result;
        }
        if c.load_text(&text, "merge").is_err() {
            prop_assert_eq!(&c, &before);
        }
        let _ = hitless::netconf::redact(&text);
        let _ = hitless::netconf::redact(&format!("{{\"secret\": \"{text}"));
    }

    /// Whatever set statements are taken, the configuration says the same set lines when read
    /// back from its own text, XML and JSON.
    #[test]
    fn a_configuration_reads_back_from_each_of_its_forms(
        lines in prop::collection::vec(prop::collection::vec(config_word(), 1..7), 1..12)
    ) {
        use hitless::lab::config::Config;
        let mut c = Config::default();
        for words in &lines {
            let _ = c.apply(&format!("set {}", words.join(" ")));
        }
        let expected = c.set_lines();
        let mut from_text = Config::default();
        from_text.load_text(&c.text(), "merge").map_err(|e| TestCaseError::fail(format!("{e}\n{}", c.text())))?;
        prop_assert_eq!(from_text.set_lines(), expected.clone(), "text:\n{}", c.text());
        let xml = hitless::netconf::xml::parse(&c.xml()).map_err(|e| TestCaseError::fail(format!("{e:?}\n{}", c.xml())))?;
        let mut from_xml = Config::default();
        from_xml.load_xml(&xml, "merge").map_err(|e| TestCaseError::fail(format!("{e}\n{}", c.xml())))?;
        prop_assert_eq!(from_xml.set_lines(), expected.clone(), "xml:\n{}", c.xml());
        let mut from_json = Config::default();
        from_json.load_json(&c.json(), "merge").map_err(|e| TestCaseError::fail(format!("{e}\n{}", c.json())))?;
        prop_assert_eq!(from_json.set_lines(), expected, "json:\n{}", c.json());
    }
}
