//! `hitless discover` against the lab over SSH: the scenario it writes describes the fabric the
//! lab emulates (devices, roles, links, servers and their multihoming, versions, engines,
//! critical roles), with the lab's inventory and with a bare inventory whose roles must be told
//! from the topology; and bad input is named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;

use hitless::scenario::Scenario;

use crate::lab_process::{hitless, start_lab};
use crate::util::root;

/// What a comparison looks at: each device's role, family, platform, version, engines and
/// critical roles; the links; each server's leafs.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    devices: BTreeMap<String, String>,
    links: BTreeSet<(String, String)>,
    servers: BTreeMap<String, BTreeSet<String>>,
}

fn shape(scenario: &Scenario) -> Shape {
    let fabric = &scenario.fabric;
    let devices = fabric
        .devices()
        .iter()
        .map(|d| {
            let engines: Vec<String> =
                (0..d.engines.count()).map(|i| d.engine_version(i as usize).to_string()).collect();
            let critical: Vec<&str> = d.critical_roles.iter().map(|r| r.as_str()).collect();
            let what = format!(
                "{} {} {} {} {:?} engines {} critical {}",
                d.role.as_str(),
                d.family,
                d.platform,
                d.version,
                d.engines,
                engines.join("/"),
                critical.join("/")
            );
            (d.name.clone(), what)
        })
        .collect();
    let links = fabric
        .links()
        .iter()
        .map(|(a, b)| {
            let (a, b) = (fabric.device(*a).name.clone(), fabric.device(*b).name.clone());
            if a < b { (a, b) } else { (b, a) }
        })
        .collect();
    let servers = fabric
        .servers()
        .iter()
        .map(|s| (s.name.clone(), s.leafs.iter().map(|l| fabric.device(*l).name.clone()).collect()))
        .collect();
    Shape { devices, links, servers }
}

/// The original's top-level sections after its fabric (images, upgrade, timing, traffic,
/// simulation; not `expect`), to put under the discovered fabric so both plan the same upgrade.
fn upgrade_sections(text: &str) -> String {
    let mut out = String::new();
    let mut keep = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.starts_with('#') && !line.is_empty() {
            let key = line.split(':').next().unwrap_or("");
            keep = ["images", "upgrade", "timing", "traffic", "simulation"].contains(&key);
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Runs the lab for `scenario`, then `discover` with `inventory` (the lab's, or one written
/// from it by `rewrite`); returns the original and discovered scenarios (with the original's
/// upgrade sections) and discover's standard error.
fn round_trip(scenario: &Path, rewrite: Option<&dyn Fn(&str) -> String>) -> (Scenario, Scenario, String) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let _lab = start_lab(&state, scenario, &[]);
    let mut inventory = state.join("inventory.yaml");
    if let Some(rewrite) = rewrite {
        let text = std::fs::read_to_string(&inventory).unwrap();
        inventory = dir.path().join("hosts");
        std::fs::write(&inventory, rewrite(&text)).unwrap();
    }
    let out = dir.path().join("found.yaml");
    let run = hitless(&state)
        .args(["discover", "--inventory", inventory.to_str().unwrap(), "--trust-on-first-use"])
        .args(["--time-scale", "1000", "-o", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(run.status.success(), "{stderr}");
    // Written without --image, the scenario loads as it stands (its upgrade section a template).
    let validated = hitless(&state).args(["validate", out.to_str().unwrap()]).output().unwrap();
    assert!(validated.status.success(), "{}", String::from_utf8_lossy(&validated.stderr));
    let original_text = std::fs::read_to_string(scenario).unwrap();
    let found_text = std::fs::read_to_string(&out).unwrap();
    let combined = format!("{found_text}{}", upgrade_sections(&original_text));
    let original = Scenario::load(scenario).unwrap();
    let found = Scenario::from_yaml_with(&combined, &out, &hitless::scenario::NoCatalog)
        .unwrap_or_else(|e| panic!("{e}\n{combined}"));
    (original, found, stderr)
}

/// The two plan the same number of batches, both kept every rule, and simulate to the same
/// verdict. (Which devices pair up can differ: the planner goes in file order, and discovery
/// writes devices by name.)
fn same_upgrade(original: &Scenario, found: &Scenario) {
    let options = hitless::plan::PlanOptions::default();
    let (a, b) = (hitless::plan::plan(original, &options), hitless::plan::plan(found, &options));
    assert_eq!(a.batches.len(), b.batches.len(), "batches");
    let ids: Vec<Vec<_>> = b.batches.iter().map(|x| x.devices.clone()).collect();
    assert!(hitless::plan::check::check(&found.fabric, &ids, found.max_batch_size as usize).is_empty());
    let sim = hitless::simulate::SimOptions { runs: 1, seed: 1, worst_flows: 1, exposure_per_batch: 0, faults: false };
    let (ra, rb) = (
        hitless::simulate::simulate(original, &hitless::simulate::input::for_scenario(original, &options), &sim),
        hitless::simulate::simulate(found, &hitless::simulate::input::for_scenario(found, &options), &sim),
    );
    assert_eq!(ra.hitless, rb.hitless, "verdicts");
}

#[test]
fn discovery_of_the_lab_round_trips_the_bundled_scenarios() {
    for name in ["small-2spine-4leaf", "evpn-esi-lag", "dual-engine-and-vc", "five-stage"] {
        let path = root().join(format!("scenarios/{name}.yaml"));
        let (original, found, stderr) = round_trip(&path, None);
        assert_eq!(shape(&found), shape(&original), "{name}: {stderr}");
        assert!(!stderr.contains("warning"), "{name}: {stderr}");
        same_upgrade(&original, &found);
    }
}

/// With no groups in the inventory (an INI list of hosts), the roles come from the topology:
/// leafs face servers (or the WAN), spines face leafs, super-spines face spines.
#[test]
fn without_groups_roles_are_told_from_the_tiers() {
    let ini = |yaml: &str| -> String {
        let mut out = String::from("# no groups\n");
        for line in yaml.lines() {
            let line = line.trim();
            if let Some((name, rest)) = line.split_once(": {ansible_host: \"") {
                let (host, rest) = rest.split_once('"').unwrap();
                let port = rest.split("ansible_port: ").nth(1).unwrap().trim_end_matches('}');
                out.push_str(&format!("{name} ansible_host={host} ansible_port={port}\n"));
            }
        }
        out
    };
    let path = root().join("scenarios/five-stage.yaml");
    let (original, found, stderr) = round_trip(&path, Some(&ini));
    assert_eq!(shape(&found), shape(&original), "{stderr}");
}

/// A neighbour that is not in the inventory (a switch: its port is a switch port) is named and
/// left out; a host that does not answer is named, and discover exits 1.
#[test]
fn unknown_neighbours_and_silent_hosts_are_named() {
    let path = root().join("scenarios/small-2spine-4leaf.yaml");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let _lab = start_lab(&state, &path, &[]);
    let text = std::fs::read_to_string(state.join("inventory.yaml")).unwrap();
    let without: String = text.lines().filter(|l| !l.contains("leaf4:")).map(|l| format!("{l}\n")).collect();
    let with_ghost = without
        .replace("      hosts:\n", "      hosts:\n        ghost: {ansible_host: \"127.0.0.1\", ansible_port: 1}\n");
    let inventory = dir.path().join("inventory.yaml");
    std::fs::write(&inventory, with_ghost).unwrap();
    let run = hitless(&state)
        .args(["discover", "--inventory", inventory.to_str().unwrap(), "--trust-on-first-use", "--time-scale", "1000"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ghost (127.0.0.1:1):") && stderr.contains("left out"), "{stderr}");
    assert!(
        stderr.contains("neighbour leaf4 (et-0/0/")
            && stderr.contains("is a network device that is not in the inventory"),
        "{stderr}"
    );
    let bad = dir.path().join("bad.ini");
    std::fs::write(&bad, "[leaf]\nleaf1 ansible_host\n").unwrap();
    let run = hitless(&state).args(["discover", "--inventory", bad.to_str().unwrap()]).output().unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("bad.ini:2: \"ansible_host\" is not key=value"));
}

/// `--inventory` gives `test-run` (and `upgrade`, `stage`) the devices' addresses: with the
/// lab's recorded addresses gone, the scenario alone reaches no device, and with the lab's
/// inventory it reaches every one.
#[test]
fn the_labs_inventory_gives_test_run_its_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = crate::lab_process::prepare(dir.path(), &state);
    let _lab = start_lab(&state, &scenario, &[]);
    std::fs::remove_file(state.join("lab-addresses.json")).unwrap();
    let test_run = |extra: &[&str]| {
        hitless(&state)
            .arg("test-run")
            .arg(&scenario)
            .args(["--driver", "junos", "--trust-on-first-use", "--time-scale", "1000", "--format", "json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let without = test_run(&[]);
    assert_eq!(without.status.code(), Some(1), "{}", String::from_utf8_lossy(&without.stderr));
    let inventory = state.join("inventory.yaml");
    let with = test_run(&["--inventory", inventory.to_str().unwrap()]);
    assert!(with.status.success(), "{}", String::from_utf8_lossy(&with.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&with.stdout).unwrap();
    assert_eq!(rows.len(), 18);
    assert!(
        rows.iter().all(|r| r["running"] == "18.1R3-S2" && r["problems"].as_array().unwrap().is_empty()),
        "{rows:?}"
    );
}

/// `export containerlab` then `import containerlab` gives back the fabric: devices (roles,
/// families, platforms, versions, engines, critical roles), links and servers, for every
/// bundled scenario with a listed or generated fabric.
#[test]
fn containerlab_export_then_import_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    for name in ["small-2spine-4leaf", "evpn-esi-lag", "dual-engine-and-vc", "five-stage", "single-homed-server"] {
        let path = root().join(format!("scenarios/{name}.yaml"));
        let topology = dir.path().join(format!("{name}.clab.yml"));
        let out = dir.path().join(format!("{name}.yaml"));
        let export = hitless(&state)
            .args(["export", "containerlab", path.to_str().unwrap(), "-o"])
            .arg(&topology)
            .output()
            .unwrap();
        assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
        let text = std::fs::read_to_string(&topology).unwrap();
        assert!(text.contains("kind: juniper_vjunosswitch") && text.contains("endpoints: ["), "{text}");
        let import = hitless(&state)
            .args(["import", "containerlab", topology.to_str().unwrap(), "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&import.stderr);
        assert!(import.status.success(), "{name}: {stderr}");
        assert!(!stderr.contains("warning"), "{name}: {stderr}");
        let combined = format!(
            "{}{}",
            std::fs::read_to_string(&out).unwrap(),
            upgrade_sections(&std::fs::read_to_string(&path).unwrap())
        );
        let found = Scenario::from_yaml_with(&combined, &out, &hitless::scenario::NoCatalog)
            .unwrap_or_else(|e| panic!("{e}\n{combined}"));
        let original = Scenario::load(&path).unwrap();
        assert_eq!(shape(&found), shape(&original), "{name}");
        same_upgrade(&original, &found);
    }
}

/// A topology with a kind hitless does not upgrade: named and left out (with its links), the
/// rest imported; a link to a node that does not exist is an error naming the link.
#[test]
fn containerlab_import_names_what_it_leaves_out() {
    let dir = tempfile::tempdir().unwrap();
    let topology = dir.path().join("mixed.clab.yml");
    std::fs::write(
        &topology,
        "name: mixed
topology:
  kinds:
    juniper_vqfx: {image: vrnetlab/vr-vqfx:20.2R1.10}
  nodes:
    spine1: {kind: juniper_vqfx}
    leaf1: {kind: juniper_vqfx}
    ceos1: {kind: arista_ceos, image: ceos:4.30}
    h1: {kind: linux, image: alpine}
  links:
    - endpoints: [\"spine1:xe-0/0/0\", \"leaf1:xe-0/0/0\"]
    - endpoints: [\"spine1:xe-0/0/1\", \"ceos1:eth1\"]
    - endpoints: [\"leaf1:xe-0/0/1\", \"h1:eth1\"]
",
    )
    .unwrap();
    let state = dir.path().join("state");
    let run = hitless(&state).args(["import", "containerlab", topology.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("node ceos1: kind \"arista_ceos\""), "{stderr}");
    assert!(stderr.contains("link 2 (spine1:xe-0/0/1 - ceos1:eth1): ceos1 was left out"), "{stderr}");
    let yaml = String::from_utf8_lossy(&run.stdout);
    assert!(
        yaml.contains("name: leaf1, role: leaf, family: junos-qfx, platform: qfx10002-36q, version: 20.2R1.10"),
        "{yaml}"
    );
    assert!(yaml.contains("{name: h1, links: [leaf1]}"), "{yaml}");
    std::fs::write(&topology, std::fs::read_to_string(&topology).unwrap().replace("\"h1:eth1\"", "\"h9:eth1\""))
        .unwrap();
    let run = hitless(&state).args(["import", "containerlab", topology.to_str().unwrap()]).output().unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&run.stderr)
            .contains("link 3 (leaf1:xe-0/0/1 - h9:eth1): no node h9 in topology.nodes")
    );
}

/// From one seed: `hitless lab --loopback-port` puts each device on its own 127.1.x.y and
/// advertises it by LLDP; `discover --seed` walks from one device to all of them, breadth first,
/// and the scenario is the lab's fabric (roles from the tiers, there being no inventory).
/// `--max-devices` bounds the walk, saying so, and exits 1.
#[test]
fn discovery_from_one_seed_walks_the_whole_fabric() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    for name in ["small-2spine-4leaf", "five-stage"] {
        let path = root().join(format!("scenarios/{name}.yaml"));
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let _lab = start_lab(&state, &path, &["--loopback-port", &port]);
        let out = dir.path().join("found.yaml");
        let seed = format!("127.1.0.1:{port}");
        let run = hitless(&state)
            .args(["discover", "--seed", &seed, "--trust-on-first-use", "--time-scale", "1000", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{name}: {stderr}");
        assert!(!stderr.contains("warning"), "{name}: {stderr}");
        let original_text = std::fs::read_to_string(&path).unwrap();
        let combined = format!("{}{}", std::fs::read_to_string(&out).unwrap(), upgrade_sections(&original_text));
        let found = Scenario::from_yaml_with(&combined, &out, &hitless::scenario::NoCatalog).unwrap();
        let original = Scenario::load(&path).unwrap();
        assert_eq!(shape(&found), shape(&original), "{name}");
        if name == "five-stage" {
            let bounded = hitless(&state)
                .args([
                    "discover",
                    "--seed",
                    &seed,
                    "--trust-on-first-use",
                    "--time-scale",
                    "1000",
                    "--max-devices",
                    "5",
                ])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&bounded.stderr);
            assert!(stderr.contains("--max-devices 5 reached"), "{stderr}");
            // A walk cut short is no success: the scenario describes part of the fabric.
            assert_eq!(bounded.status.code(), Some(1), "{stderr}");
            assert!(stderr.contains("the walk was cut short by --max-devices"), "{stderr}");
            let yaml = String::from_utf8_lossy(&bounded.stdout);
            assert_eq!(yaml.matches("    - {name: ").count() - yaml.matches("links: [").count(), 5, "{yaml}");
        }
    }
}

/// A switch linked to two spines of one pod and to no server (evpn-esi-lag's `oob1`, an
/// out-of-band switch) is no super-spine: a super-spine joins pods. Discovered from a seed, it is
/// written as a leaf, with a warning that the role is a guess; nothing becomes a super-spine.
#[test]
fn a_switch_facing_one_pods_spines_is_not_a_super_spine() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let _lab = start_lab(&state, &root().join("scenarios/evpn-esi-lag.yaml"), &["--loopback-port", &port]);
    let seed = format!("127.1.0.1:{port}");
    let run = hitless(&state)
        .args(["discover", "--seed", &seed, "--trust-on-first-use", "--time-scale", "1000"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let yaml = String::from_utf8_lossy(&run.stdout);
    let oob = yaml.lines().find(|l| l.contains("{name: oob1,")).unwrap_or_else(|| panic!("{yaml}"));
    assert!(oob.contains("role: leaf"), "{oob}");
    assert!(!yaml.contains("super-spine"), "{yaml}");
    assert!(stderr.contains("warning: oob1: faces only the spines of one pod and no server"), "{stderr}");
    // The spines stay spines, the other leafs leafs.
    assert!(yaml.lines().any(|l| l.contains("{name: spine3, role: spine,")), "{yaml}");
    assert!(yaml.lines().any(|l| l.contains("{name: bl1, role: leaf,")), "{yaml}");
}

/// A discovery that fails (a wrong password: no device can be read) leaves the file `-o` names
/// as it was, byte for byte, and puts what it saw beside it (`keep.partial.yaml`); the same goes
/// for an export whose scenario does not load.
#[test]
fn a_failed_discovery_or_export_leaves_the_existing_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let _lab = start_lab(&state, &root().join("scenarios/small-2spine-4leaf.yaml"), &[]);
    let keep = dir.path().join("keep.yaml");
    let good = std::fs::read_to_string(root().join("scenarios/evpn-esi-lag.yaml")).unwrap();
    std::fs::write(&keep, &good).unwrap();
    let run = hitless(&state)
        .env("HITLESS_SSH_PASSWORD", "the-wrong-password")
        .args(["discover", "--inventory", state.join("inventory.yaml").to_str().unwrap(), "--trust-on-first-use"])
        .args(["--time-scale", "1000", "-o", keep.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert_eq!(std::fs::read_to_string(&keep).unwrap(), good, "the existing scenario was replaced: {stderr}");
    assert!(stderr.contains("was left as it was"), "{stderr}");
    assert!(dir.path().join("keep.partial.yaml").exists(), "{stderr}");

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "name: broken\nfabric: [\n").unwrap();
    let topology = dir.path().join("lab.clab.yml");
    std::fs::write(&topology, "name: kept\n").unwrap();
    let run = hitless(&state)
        .args(["export", "containerlab", broken.to_str().unwrap(), "-o", topology.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&topology).unwrap(), "name: kept\n");
}

/// Hosts that accept TCP and never say a word cost `--timeout` seconds each, `--parallel` at
/// once: three silent hosts with `--timeout 1 --parallel 3` are all reported unreachable, and
/// the discovery fails (exit 1) naming them, instead of waiting 30 s apiece.
#[test]
fn silent_hosts_cost_the_timeout_given() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // Listeners that accept and hold connections silently (kept open by the test).
    let listeners: Vec<std::net::TcpListener> =
        (0..3).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    let mut inventory = String::from("all:\n  hosts:\n");
    for (i, listener) in listeners.iter().enumerate() {
        let port = listener.local_addr().unwrap().port();
        inventory.push_str(&format!("    quiet{i}: {{ansible_host: \"127.0.0.1\", ansible_port: {port}}}\n"));
    }
    let path = dir.path().join("hosts.yaml");
    std::fs::write(&path, inventory).unwrap();
    let holders: Vec<std::thread::JoinHandle<()>> = listeners
        .into_iter()
        .map(|listener| {
            std::thread::spawn(move || {
                // Accept one connection and keep it until the client goes.
                if let Ok((mut stream, _)) = listener.accept() {
                    let mut buffer = [0u8; 1024];
                    while matches!(std::io::Read::read(&mut stream, &mut buffer), Ok(n) if n > 0) {}
                }
            })
        })
        .collect();
    let run = hitless(&state)
        .args(["discover", "--inventory", path.to_str().unwrap(), "--trust-on-first-use", "--timeout", "1"])
        .args(["--parallel", "3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    for i in 0..3 {
        let said = stderr
            .lines()
            .any(|l| l.contains(&format!("connecting to quiet{i} at 127.0.0.1:")) && l.ends_with("timed out"));
        assert!(said, "quiet{i}: {stderr}");
    }
    drop(run);
    for holder in holders {
        holder.join().unwrap();
    }
    let bad =
        hitless(&state).args(["discover", "--inventory", path.to_str().unwrap(), "--timeout", "0"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
