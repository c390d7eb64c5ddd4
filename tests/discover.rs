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
            let peer =
                fabric.lookup(&d.name).and_then(|id| fabric.mlag_peer(id)).map(|p| fabric.device(p).name.clone());
            let what = format!(
                "{} {} {} {} {:?} engines {} critical {} vendor {:?} mlag {:?}",
                d.role.as_str(),
                d.family,
                d.platform,
                d.version,
                d.engines,
                engines.join("/"),
                critical.join("/"),
                d.vendor(),
                peer
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
    let sim = hitless::simulate::SimOptions {
        runs: 1,
        seed: 1,
        worst_flows: 1,
        exposure_per_batch: 0,
        faults: false,
        start_unix: None,
    };
    let (ra, rb) = (
        hitless::simulate::simulate(original, &hitless::simulate::input::for_scenario(original, &options), &sim),
        hitless::simulate::simulate(found, &hitless::simulate::input::for_scenario(found, &options), &sim),
    );
    assert_eq!(ra.hitless, rb.hitless, "verdicts");
}

#[test]
fn discovery_of_the_lab_round_trips_the_bundled_scenarios() {
    // mixed-junos-arista: its Arista leafs read over eAPI (HTTPS, pinned on first use), their
    // MLAG pairs from the peer-links LLDP sees.
    for name in ["small-2spine-4leaf", "evpn-esi-lag", "dual-engine-and-vc", "five-stage", "mixed-junos-arista"] {
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

/// containerlab's documented topology format in full: links in the long form (`type: veth`,
/// `endpoints: [{node, interface}]`), `groups` (a node's own, or the defaults'), labels merged
/// from defaults, kind, group and node, `${VAR:=default}` and `${VAR}` from the environment.
/// Links to the host, the management network or a macvlan are named and left out, and so is a
/// host's link to a spine; nothing is dropped silently, exit 0.
#[test]
fn containerlab_import_reads_the_documented_format() {
    let dir = tempfile::tempdir().unwrap();
    let topology = dir.path().join("long.clab.yml");
    std::fs::write(
        &topology,
        r#"name: long-form
topology:
  defaults:
    group: fabric
    labels: {hitless.family: junos-qfx}
  groups:
    fabric: {kind: juniper_vqfx, image: "vrnetlab/vr-vqfx:${QFX_VERSION:=20.2R1.10}", labels: {hitless.platform: qfx5120-48y}}
    hosts: {kind: linux, image: "${HOST_IMAGE}"}
  nodes:
    spine1: {}
    leaf1: {}
    leaf2: {labels: {hitless.platform: qfx5110-48s}}
    h1: {group: hosts}
  links:
    - type: veth
      endpoints:
        - {node: spine1, interface: xe-0/0/0}
        - {node: leaf1, interface: xe-0/0/0}
    - type: veth
      endpoints: [{node: spine1, interface: xe-0/0/1}, {node: leaf2, interface: xe-0/0/0}]
    - endpoints: ["leaf1:xe-0/0/1", "h1:eth1"]
    - endpoints: ["leaf2:xe-0/0/1", "h1:eth2"]
    - endpoints: ["spine1:xe-0/0/3", "h1:eth3"]
    - endpoints: ["leaf2:xe-0/0/5", "host:leaf2-xe5"]
    - endpoints: ["leaf2:xe-0/0/6", "mgmt-net:leaf2-xe6"]
    - type: macvlan
      endpoint: {node: leaf1, interface: xe-0/0/9}
      host-interface: enp0s3
"#,
    )
    .unwrap();
    let state = dir.path().join("state");
    let import = |version: Option<&str>| {
        let mut command = hitless(&state);
        command.env_remove("QFX_VERSION").env_remove("HOST_IMAGE");
        if let Some(version) = version {
            command.env("QFX_VERSION", version);
        }
        command.args(["import", "containerlab", topology.to_str().unwrap()]).output().unwrap()
    };
    let run = import(None);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let yaml = String::from_utf8_lossy(&run.stdout);
    assert!(
        yaml.contains("{name: leaf1, role: leaf, family: junos-qfx, platform: qfx5120-48y, version: 20.2R1.10}"),
        "{yaml}"
    );
    assert!(yaml.contains("{name: leaf2, role: leaf, family: junos-qfx, platform: qfx5110-48s,"), "{yaml}");
    assert!(yaml.contains("{name: spine1, role: spine,"), "{yaml}");
    assert!(yaml.contains("- [leaf1, spine1]") && yaml.contains("- [leaf2, spine1]"), "{yaml}");
    assert!(yaml.contains("{name: h1, links: [leaf1, leaf2]}"), "{yaml}");
    for said in [
        "link 5 (spine1:xe-0/0/3 - h1:eth3): host h1 is linked to spine1, a spine; servers attach to leafs",
        "link 6 (leaf2:xe-0/0/5 - host:leaf2-xe5): `host:` is an interface of the host",
        "link 7 (leaf2:xe-0/0/6 - mgmt-net:leaf2-xe6): `mgmt-net:` is the management network",
        "link 8 (type macvlan, leaf1:xe-0/0/9): joins the node to a host interface (macvlan)",
        "${HOST_IMAGE} is not set in the environment",
    ] {
        assert!(stderr.contains(said), "{said}: {stderr}");
    }
    // The environment's value wins over the default.
    let run = import(Some("21.4R3-S5.4"));
    assert!(run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stdout)
            .contains("{name: spine1, role: spine, family: junos-qfx, platform: qfx5120-48y, version: 21.4R3-S5.4}")
    );

    // A node whose name no scenario can hold is an error naming it, not a "bug".
    std::fs::write(&topology, std::fs::read_to_string(&topology).unwrap().replace("leaf2", "leaf 2")).unwrap();
    let run = import(None);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("node \"leaf 2\": its name contains ' '"), "{stderr}");
    assert!(!stderr.contains("bug"), "{stderr}");
}

/// containerlab's own example labs with Juniper kinds (the topologies of its lab-examples,
/// written here again: cRPD, vJunos-switch, vJunosEvolved, cJunosEvolved, vSRX, vMX, and vMX
/// with host links) import: each Juniper node becomes a device at the image's version; the
/// SR Linux nodes, host links and guessed roles are named.
#[test]
fn containerlabs_own_juniper_examples_import() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let srl = |juniper: &str, kind: &str, image: &str, ports: &[&str]| {
        let mut text = format!(
            "name: ex\ntopology:\n  nodes:\n    srl:\n      kind: nokia_srlinux\n      image: ghcr.io/nokia/srlinux:23.7.1\n    {juniper}:\n      kind: {kind}\n      image: {image}\n  links:\n"
        );
        for (i, port) in ports.iter().enumerate() {
            text.push_str(&format!("    - endpoints: [\"srl:e1-{}\", \"{juniper}:{port}\"]\n", i + 1));
        }
        text
    };
    let examples = [
        ("srlcrpd01", srl("crpd", "juniper_crpd", "crpd:20.2R1.10", &["eth1"]), "crpd", "junos-crpd", "20.2R1.10"),
        (
            "srlvjunos01",
            srl("vswitch", "juniper_vjunosswitch", "vrnetlab/vr-vjunosswitch:23.2R1.14", &["eth1", "eth2", "eth3"]),
            "vswitch",
            "junos-ex",
            "23.2R1.14",
        ),
        (
            "srlvjunos02",
            srl("vevo", "juniper_vjunosevolved", "vrnetlab/vr-vjunosevolved:23.2R1-S1.8-EVO", &["eth1", "eth2"]),
            "vevo",
            "junos-ptx",
            "23.2R1-S1.8-EVO",
        ),
        (
            "srlcjunosevo",
            srl("cevo", "juniper_cjunosevolved", "cjunosevolved:25.2R1.8-EVO", &["eth4", "eth5", "eth6"]),
            "cevo",
            "junos-ptx",
            "25.2R1.8-EVO",
        ),
        ("vr02", srl("vmx", "juniper_vmx", "vrnetlab/vr-vmx:20.2R1.10", &["eth1"]), "vmx", "junos-mx", "20.2R1.10"),
        (
            "vsrx01",
            "name: vsrx1\ntopology:\n  nodes:\n    srx1:\n      kind: juniper_vsrx\n      image: vrnetlab/vr-vsrx:23.2R1.13\n    client1:\n      kind: \"linux\"\n      image: wbitt/network-multitool:alpine-extra\n    client2:\n      kind: \"linux\"\n      image: wbitt/network-multitool:alpine-extra\n  links:\n    - endpoints: [\"srx1:eth1\", \"client1:eth1\"]\n    - endpoints: [\"srx1:eth2\", \"client2:eth1\"]\n".to_string(),
            "srx1",
            "junos-srx",
            "23.2R1.13",
        ),
        (
            "vxlan-vmx",
            "name: vxlan\ntopology:\n  nodes:\n    vmx:\n      kind: juniper_vmx\n      image: vrnetlab/vr-vmx:20.4R1.12\n  links:\n    - endpoints: [\"vmx:eth1\", \"host:vmx-eth1\"]\n    - endpoints: [\"vmx:eth2\", \"host:vmx-eth2\"]\n".to_string(),
            "vmx",
            "junos-mx",
            "20.4R1.12",
        ),
    ];
    for (name, text, device, family, version) in examples {
        let path = dir.path().join(format!("{name}.clab.yml"));
        std::fs::write(&path, &text).unwrap();
        let run = hitless(&state).args(["import", "containerlab", path.to_str().unwrap()]).output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{name}: {stderr}");
        let yaml = String::from_utf8_lossy(&run.stdout);
        let line = yaml
            .lines()
            .find(|l| l.contains(&format!("{{name: {device},")))
            .unwrap_or_else(|| panic!("{name}: {yaml}"));
        assert!(
            line.contains(&format!("family: {family},")) && line.contains(&format!("version: {version}")),
            "{name}: {line}"
        );
        if text.contains("nokia_srlinux") {
            assert!(stderr.contains("node srl: kind \"nokia_srlinux\""), "{name}: {stderr}");
            assert!(stderr.contains(&format!("node {device}: its role cannot be told")), "{name}: {stderr}");
        }
        if name == "vsrx01" {
            assert!(
                yaml.contains("{name: client1, links: [srx1]}") && yaml.contains("{name: client2, links: [srx1]}"),
                "{yaml}"
            );
            assert!(stderr.is_empty() || !stderr.contains("warning"), "{stderr}");
        }
        if name == "vxlan-vmx" {
            assert!(
                stderr.contains("link 1 (vmx:eth1 - host:vmx-eth1): `host:` is an interface of the host"),
                "{stderr}"
            );
            assert!(stderr.contains("link 2 (vmx:eth2 - host:vmx-eth2)"), "{stderr}");
        }
    }
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

/// A topology's text is shown inert: a node name carrying a terminal escape (a left-out kind's
/// warning, an unusable name's error) reaches stderr with its control characters escaped.
#[test]
fn hostile_names_in_a_topology_reach_the_terminal_inert() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let topology = dir.path().join("hostile.clab.yml");
    let write = |names: (&str, &str)| {
        let text = format!(
            "name: hostile\ntopology:\n  nodes:\n    leaf1: {{kind: juniper_vqfx, image: \"vr-vqfx:20.2R1.10\"}}\n    \"{}\": {{kind: {}, image: x}}\n",
            names.0, names.1
        );
        std::fs::write(&topology, text).unwrap();
    };
    // A kind hitless leaves out: a warning naming the node.
    write(("evil\\e[2J", "arista_ceos"));
    let warned = hitless(&state).args(["import", "containerlab", topology.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&warned.stderr);
    assert!(warned.status.success(), "{stderr}");
    assert!(stderr.contains("node evil") && !stderr.contains('\u{1b}'), "{stderr:?}");
    // A Juniper node whose name no scenario can hold: an error naming it.
    write(("evil\\e[2J", "juniper_vqfx"));
    let refused = hitless(&state).args(["import", "containerlab", topology.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("its name contains") && !stderr.contains('\u{1b}'), "{stderr:?}");
}
