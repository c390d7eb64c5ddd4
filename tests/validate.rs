//! `hitless validate`: bad input gets an error naming the file, line and column.

use crate::util::{bundled_scenarios, hitless, relative, write_temp};

const DEVICES: &str = "    - {name: s1, role: spine, family: junos-qfx, platform: p1, version: 18.4R2}
    - {name: s2, role: spine, family: junos-qfx, platform: p1, version: 18.4R2}
    - {name: l1, role: leaf, family: junos-qfx, platform: p2, version: 18.4R2}
    - {name: l2, role: leaf, family: junos-qfx, platform: p2, version: 18.4R2}
";
const IMAGES: &str = "images:
  - {name: img, vendor: juniper, family: junos-qfx, platforms: [p1, p2], version: 19.1R1}
";

/// A scenario with the fabric devices above plus `fabric_rest` and `upgrade`.
fn scenario(fabric_rest: &str, upgrade: &str) -> String {
    format!("name: t\nfabric:\n  devices:\n{DEVICES}{fabric_rest}{IMAGES}upgrade:\n{upgrade}")
}

const ASSIGN_ALL: &str = "  assign: [{image: img, devices: all}]\n";

/// Runs validate on `text` and returns the problem lines (after the first), with the temporary
/// path replaced by `t.yaml`.
fn problems(text: &str) -> Vec<String> {
    let (_dir, path) = write_temp("t.yaml", text);
    let run = hitless(&["validate", path.to_str().unwrap()]);
    assert_eq!(run.code, 2, "expected an error, got: {}{}", run.stdout, run.stderr);
    let path = path.display().to_string();
    run.stderr.lines().skip(1).map(|l| l.trim().replace(&path, "t.yaml")).collect()
}

#[test]
fn bundled_scenarios_are_valid() {
    for path in bundled_scenarios() {
        let run = hitless(&["validate", &relative(&path)]);
        assert_eq!(run.code, 0, "{}: {}", path.display(), run.stderr);
        assert!(run.stdout.contains("is valid"), "{}", run.stdout);
    }
}

#[test]
fn a_good_scenario_validates() {
    let text = scenario("  links: [[s1, l1], [s2, l1], [s1, l2], [s2, l2]]\n", ASSIGN_ALL);
    let (_dir, path) = write_temp("t.yaml", &text);
    let run = hitless(&["validate", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("4 devices, 4 to upgrade, 0 skipped"), "{}", run.stdout);
}

#[test]
fn malformed_yaml_names_the_position() {
    let text = "name: t\nfabric:\n  devices: [\n    - {name: s1\n";
    let lines = problems(text);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("t.yaml:4:"), "{lines:?}");
}

#[test]
fn unknown_fields_are_named() {
    let text = scenario("", ASSIGN_ALL).replace("name: l2,", "name: l2, colour: red,");
    let lines = problems(&text);
    assert!(lines[0].starts_with("t.yaml:7:") && lines[0].contains("unknown field `colour`"), "{lines:?}");
    let text = scenario("", ASSIGN_ALL).replace("upgrade:\n", "upgrade:\n  batch: 3\n");
    let lines = problems(&text);
    assert!(lines[0].contains("unknown field `batch`"), "{lines:?}");
}

#[test]
fn every_fabric_problem_is_listed_at_once() {
    let text = format!(
        "name: t\nfabric:\n  devices:\n{DEVICES}    - {{name: l1, role: leaf, family: junos-qfx, platform: p2, version: 18.4R2}}\n  links: [[s1, l9], [l1, l2]]\n  servers:\n    - {{name: bms1, links: [l1, s1]}}\n{IMAGES}upgrade:\n{ASSIGN_ALL}"
    );
    let lines = problems(&text);
    assert_eq!(
        lines,
        vec![
            "t.yaml:8:14: duplicate device name l1 (first defined on line 6)",
            "t.yaml:9:16: link [s1, l9] names unknown device l9",
            "t.yaml:9:21: link [l1, l2] joins a leaf and a leaf; links join a leaf to a spine or a spine to a super-spine",
            "t.yaml:11:32: server bms1 is linked to s1 which is a spine; servers attach to leafs",
        ]
    );
}

#[test]
fn assignment_problems_name_image_and_device() {
    let upgrade = "  assign:\n    - {image: img, devices: [l1, l7]}\n    - {image: nope, devices: all}\n";
    let lines = problems(&scenario("", upgrade));
    assert_eq!(
        lines,
        vec![
            "t.yaml:12:34: assignment of image img names unknown device l7",
            "t.yaml:13:15: upgrade.assign names unknown image nope",
        ]
    );
}

#[test]
fn an_explicitly_named_incompatible_device_is_an_error() {
    let text = scenario("", "  assign: [{image: img, devices: [l1]}]\n")
        .replace("platform: p2, version: 18.4R2}\n    - {name: l2", "platform: p9, version: 18.4R2}\n    - {name: l2");
    let lines = problems(&text);
    assert_eq!(lines, vec!["t.yaml:11:35: image img supports platforms p1, p2, not p9 (l1)"]);
}

#[test]
fn a_device_assigned_two_images_is_an_error() {
    let text = scenario("", "  assign:\n    - {image: img, devices: all}\n    - {image: img2, devices: [l1]}\n")
        .replace(
            "images:\n",
            "images:\n  - {name: img2, vendor: juniper, family: junos-qfx, platforms: [p2], version: 19.1R2}\n",
        );
    let lines = problems(&text);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("device l1 is already assigned image img by assign entry 1"), "{lines:?}");
}

#[test]
fn bad_versions_roles_and_batch_sizes_are_named() {
    let text = scenario("", "  assign: [{image: img, devices: {role: leaf}}]\n  max_batch_size: 0\n")
        .replace("version: 19.1R1", "version: latest");
    let lines = problems(&text);
    assert!(lines[0].contains("image img: unparsable Junos version \"latest\""), "{lines:?}");
    assert!(lines[1].contains("max_batch_size must be between 1 and 1024, not 0"), "{lines:?}");
    let text = scenario("", "  assign: [{image: img, devices: {role: spline}}]\n");
    let lines = problems(&text);
    assert!(lines[0].contains("unknown variant `spline`"), "{lines:?}");
    let text = scenario("", "  assign: [{image: img, devices: everything}]\n");
    let lines = problems(&text);
    assert!(lines[0].contains("`all`, a list of device names"), "{lines:?}");
}

#[test]
fn names_that_could_forge_logs_or_paths_are_refused_where_they_are_written() {
    let text = scenario("  servers:\n    - {name: \"web 1\", links: [l1]}\n", ASSIGN_ALL)
        .replace("name: l2,", "name: \"l2\\n2026-01-01 leaf9 Maintenance Mode Deactivated\",");
    let lines = problems(&text);
    assert!(
        lines.iter().any(|l| l.starts_with("t.yaml:7:") && l.contains("device name") && l.contains("contains '\\n'")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("server name \"web 1\" contains ' '")), "{lines:?}");
}

#[test]
fn generate_and_explicit_devices_do_not_mix() {
    let text = scenario("  generate: {pods: 1}\n", ASSIGN_ALL);
    let lines = problems(&text);
    assert!(lines.iter().any(|l| l.contains("fabric has both generate and devices")), "{lines:?}");
    let text = "name: g\nfabric:\n  generate: {pods: 1, leafs: 3}\nupgrade: {assign: []}\n";
    let lines = problems(text);
    assert!(lines[0].contains("unknown field `leafs`"), "{lines:?}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let run = hitless(&["validate", "scenarios/no-such-file.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.starts_with("hitless: cannot read scenario scenarios/no-such-file.yaml:"), "{}", run.stderr);
}

#[test]
fn routing_engines_and_virtual_chassis_members_are_checked() {
    let text = scenario("", ASSIGN_ALL)
        .replace("name: s1, role: spine,", "name: s1, role: spine, routing_engines: 3,")
        .replace("name: s2, role: spine,", "name: s2, role: spine, routing_engines: 2, vc_members: 2,")
        .replace("name: l1, role: leaf,", "name: l1, role: leaf, vc_members: 11,")
        .replace(
            "name: l2, role: leaf,",
            "name: l2, role: leaf, vc_members: 2, engine_versions: [18.4R2, 18.1R3, 17.3R1],",
        );
    let lines = problems(&text);
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].starts_with("t.yaml:4:") && lines[0].ends_with("device s1: routing_engines must be 1 or 2, not 3"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("t.yaml:5:")
            && lines[1].ends_with("device s2: give routing_engines or vc_members, not both"),
        "{lines:?}"
    );
    assert!(lines[2].ends_with("device l1: vc_members must be between 2 and 10, not 11"), "{lines:?}");
    assert!(
        lines[3].ends_with("device l2: engine_versions lists 3 versions for 2 routing engines or members"),
        "{lines:?}"
    );
    let master = scenario("", ASSIGN_ALL).replace(
        "name: l2, role: leaf,",
        "name: l2, role: leaf, routing_engines: 2, engine_versions: [18.1R3, 18.4R2],",
    );
    let lines = problems(&master);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with("device l2: the first of engine_versions is the master's and must be its version 18.4R2"),
        "{lines:?}"
    );
}

/// Every input with a limit says which field, where, and the limit; nothing crashes or runs away.
#[test]
fn inputs_beyond_their_limits_are_named_with_the_limit() {
    let generate = |fields: &str| format!("name: g\nfabric:\n  generate: {{{fields}}}\n{IMAGES}upgrade:\n{ASSIGN_ALL}");
    let lines = problems(&generate("servers_per_leaf_pair: 4294967295"));
    assert!(
        lines[0].starts_with("t.yaml:3:")
            && lines[0].contains("generate.servers_per_leaf_pair is 4294967295; at most 1024"),
        "{lines:?}"
    );
    let lines = problems(&generate("pods: 10000, spines_per_pod: 512, leafs_per_pod: 100"));
    assert!(lines[0].contains("generate describes 6120002 devices; it must describe 1 to 2000000"), "{lines:?}");
    let lines = problems(&generate("pods: 1000, spines_per_pod: 512, leafs_per_pod: 1000, servers_per_leaf_pair: 1"));
    assert!(lines[0].contains("links; at most 20000000"), "{lines:?}");
    let lines = problems("name: a\nname: b\n");
    assert!(
        lines[0].starts_with("t.yaml:2:1:") && lines[0].contains("duplicate key `name`: give each field once"),
        "{lines:?}"
    );
    let (_dir, path) = write_temp("t.yaml", "name: x\n");
    std::fs::write(&path, b"name: ok\ndescription: caf\xe9\n").unwrap();
    let run = hitless(&["validate", path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("t.yaml:2:17: byte 0xe9 is not UTF-8"), "{}", run.stderr);
    let run = hitless(&["validate", "scenarios"]);
    assert!(
        run.stderr.contains("cannot read scenario scenarios: it is a directory, not a scenario file"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("(os error 21): "), "said once: {}", run.stderr);
    for speed in ["1e-300", "0", "-1", "1e9", "NaN"] {
        let flag = format!("--virtual-speed={speed}");
        let run = hitless(&["upgrade", "scenarios/small-2spine-4leaf.yaml", &flag]);
        assert_eq!(run.code, 2, "{speed}");
        assert!(run.stderr.contains("give a number from 0.001 to 1000000"), "{speed}: {}", run.stderr);
    }
}

/// `hitless simulate ... | head`: the reader goes away, the command ends quietly.
#[test]
fn a_closed_pipe_ends_a_report_quietly() {
    use std::io::Read;
    // A plan of 20,000 devices: megabytes of JSON, far more than a pipe holds.
    let (_dir, path) = write_temp(
        "big.yaml",
        &format!("name: big\nfabric:\n  generate: {{pods: 1, leafs_per_pod: 20000}}\n{IMAGES}upgrade:\n{ASSIGN_ALL}"),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hitless"))
        .args(["plan", path.to_str().unwrap(), "--format", "json"])
        .current_dir(crate::util::root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!matches!(output.status.code(), Some(101)), "{stderr}");
}

/// `upgrade.approval` takes `any` or `other-user`; anything else is named with its position.
#[test]
fn an_approval_that_is_not_one_is_named_with_its_position() {
    let found = problems(&scenario("", &format!("{ASSIGN_ALL}  approval: the-boss\n")));
    let all = found.join("\n");
    // Line 12 (name, fabric, devices and four, images and one, upgrade, assign), column 13.
    assert!(all.contains("t.yaml:12:13:"), "{all}");
    assert!(all.contains("the-boss") || all.contains("unknown variant"), "{all}");
    assert!(all.contains("other-user"), "the error says what is allowed: {all}");
}

/// `vendor:` and `mlag_peer:` on devices: each problem at its line and column.
#[test]
fn vendors_and_mlag_peers_are_checked_where_they_are_written() {
    let eos = "    - {name: a1, role: leaf, vendor: arista, family: eos, platform: p3, version: 4.30.1F, mlag_peer: a2}
    - {name: a2, role: leaf, vendor: arista, family: eos, platform: p3, version: 4.30.1F}
    - {name: a3, role: leaf, vendor: arista, family: eos, platform: p3, version: 18.4R2, mlag_peer: a3}
    - {name: a4, role: leaf, vendor: cisco, family: eos, platform: p3, version: 4.30.1F, mlag_peer: s1}
    - {name: a5, role: leaf, vendor: juniper, family: eos, platform: p3, version: 4.30.1F, mlag_peer: a1}
    - {name: a6, role: leaf, family: eos, platform: p3, version: 4.30.1F, mlag_peer: nope}
";
    let text = scenario(eos, ASSIGN_ALL);
    let lines = problems(&text);
    let expected = [
        "t.yaml:10:38: device a3: vendor arista but version 18.4R2 is a Junos version (23.4R2); give the EOS form, or vendor juniper",
        "t.yaml:10:101: device a3: mlag_peer names the device itself",
        "t.yaml:11:38: device a4: vendor \"cisco\" is not one hitless upgrades: juniper or arista",
        "t.yaml:11:101: device a4: an MLAG pair is two leafs; a4 is a leaf and s1 a spine",
        "t.yaml:12:38: device a5: vendor juniper but version 4.30.1F is an EOS version (4.32.2F); give the Junos form, or vendor arista",
        "t.yaml:12:103: device a5: mlag_peer a1 names a2 as its peer; an MLAG pair is two switches that name each other (or one that names the other)",
        "t.yaml:13:86: device a6: mlag_peer names unknown device nope",
    ];
    assert_eq!(lines, expected);
}
