//! `hitless plan` end to end.

use hitless::plan::report::PlanReport;

use crate::util::{bundled_scenarios, hitless, relative};

fn plan_json(path: &str, extra: &[&str]) -> PlanReport {
    let mut args = vec!["plan", path, "--format", "json"];
    args.extend_from_slice(extra);
    let run = hitless(&args);
    assert_eq!(run.code, 0, "plan {path} failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("plan --format json is a PlanReport")
}

#[test]
fn every_bundled_scenario_plans_as_snapshotted() {
    for path in bundled_scenarios() {
        let path = relative(&path);
        let report = plan_json(&path, &[]);
        let name = path.trim_start_matches("scenarios/").trim_end_matches(".yaml").to_string();
        insta::assert_json_snapshot!(format!("plan-{name}"), report);
    }
}

#[test]
fn table_output_lists_batches_skips_and_summary() {
    let run = hitless(&["plan", "scenarios/evpn-esi-lag.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("table-evpn-esi-lag", run.stdout);
}

/// On a terminal that says it is 0 columns wide (a pty nobody sized, a serial console) the
/// table is printed whole, not wrapped to one letter a line; on a narrow one it still wraps.
#[test]
fn a_terminal_of_no_width_gets_whole_tables() {
    let run = crate::util::on_terminal(&["plan", "scenarios/small-2spine-4leaf.yaml"], 0, "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("│ Batch ┆ Role  ┆ Devices      ┆ Estimate │"), "{}", run.stdout);
    assert!(run.stdout.contains("│ 1     ┆ leaf  ┆ leaf1, leaf3 ┆"), "{}", run.stdout);
    let narrow = crate::util::on_terminal(&["plan", "scenarios/small-2spine-4leaf.yaml"], 30, "");
    let table_lines = narrow.stdout.lines().filter(|l| l.starts_with(['│', '┌', '╞', '└', '├']));
    assert!(
        table_lines.clone().count() > 6 && table_lines.clone().all(|l| l.chars().count() <= 30),
        "{}",
        narrow.stdout
    );
}

#[test]
fn json_has_the_documented_shape() {
    let run = hitless(&["plan", "scenarios/small-2spine-4leaf.yaml", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    for key in [
        "scenario",
        "max_batch_size",
        "batches",
        "skipped",
        "lower_bound_batches",
        "estimated_total_seconds",
        "warnings",
    ] {
        assert!(value.get(key).is_some(), "missing {key}");
    }
    let batch = &value["batches"][0];
    for key in ["index", "role", "devices", "estimated_seconds"] {
        assert!(batch.get(key).is_some(), "batch is missing {key}");
    }
    assert_eq!(batch["index"], 1);
    assert_eq!(batch["role"], "leaf");
}

#[test]
fn evpn_plan_keeps_pairs_apart_and_skips_with_reasons() {
    let report = plan_json("scenarios/evpn-esi-lag.yaml", &[]);
    let batch_of = |name: &str| report.batches.iter().find(|b| b.devices.iter().any(|d| d == name)).map(|b| b.index);
    for (a, b) in [("leaf1", "leaf2"), ("leaf5", "leaf6"), ("leaf7", "leaf8"), ("bl1", "bl2"), ("spine1", "spine2")] {
        assert_ne!(batch_of(a), batch_of(b), "{a} and {b} back each other up");
    }
    let skipped: Vec<(&str, &str)> = report.skipped.iter().map(|s| (s.device.as_str(), s.reason.as_str())).collect();
    assert_eq!(skipped[0], ("leaf3", "already running 21.4R3-S5.4"));
    assert_eq!(skipped[1].0, "oob1");
    assert!(skipped[1].1.starts_with("not applicable: "), "{}", skipped[1].1);
    assert_eq!(batch_of("leaf3"), None);
    assert_eq!(report.batches.len(), report.lower_bound_batches);
}

#[test]
fn batch_size_flag_overrides_the_scenario() {
    let report = plan_json("scenarios/five-stage.yaml", &["--max-batch-size", "2"]);
    assert_eq!(report.max_batch_size, 2);
    assert!(report.batches.iter().all(|b| b.devices.len() <= 2));
    assert!(report.batches.len() >= report.lower_bound_batches);
    let run = hitless(&["plan", "scenarios/five-stage.yaml", "--max-batch-size", "0"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--max-batch-size"), "{}", run.stderr);
}

#[test]
fn impossible_fabrics_warn_and_name_the_devices() {
    let report = plan_json("scenarios/single-spine.yaml", &[]);
    assert!(
        report.warnings.iter().any(|w| w.contains("spine1 is the only spine") && w.contains("not be hitless")),
        "{:?}",
        report.warnings
    );
    let report = plan_json("scenarios/single-homed-server.yaml", &[]);
    assert!(report.warnings.iter().any(|w| w.contains("backup1") && w.contains("leaf4")), "{:?}", report.warnings);
    let report = plan_json("scenarios/small-2spine-4leaf.yaml", &[]);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn a_generated_fabric_of_ten_thousand_devices_plans_at_its_lower_bound() {
    let yaml = "name: big\nfabric:\n  generate: {pods: 100, spines_per_pod: 4, leafs_per_pod: 96, border_leafs: 2}\n\
images:\n  - {name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5120-48y, qfx10002-36q], version: 21.4R3-S5.4}\n\
upgrade:\n  assign: [{image: img, devices: all}]\n";
    let (_dir, path) = crate::util::write_temp("big.yaml", yaml);
    let report = plan_json(path.to_str().unwrap(), &[]);
    let devices: usize = report.batches.iter().map(|b| b.devices.len()).sum();
    assert_eq!(devices, 100 * 100 + 2);
    assert_eq!(report.batches.len(), report.lower_bound_batches);
}

/// MLAG peers never share a batch, even with no server in the scenario to say they back each
/// other up; a hand-written plan that puts them together is judged as breaking that rule.
#[test]
fn mlag_peers_are_never_in_one_batch() {
    let mut yaml = String::from("name: mlag\nfabric:\n  devices:\n");
    yaml.push_str("    - {name: s1, role: spine, family: junos-qfx, platform: q, version: 21.4R3}\n");
    yaml.push_str("    - {name: s2, role: spine, family: junos-qfx, platform: q, version: 21.4R3}\n");
    for i in 1..=8 {
        let peer = if i % 2 == 1 { i + 1 } else { i - 1 };
        yaml.push_str(&format!(
            "    - {{name: l{i}, role: leaf, vendor: arista, family: eos, platform: d, version: 4.30.1F, mlag_peer: l{peer}}}\n"
        ));
    }
    yaml.push_str("  links:\n");
    for i in 1..=8 {
        yaml.push_str(&format!("    - [s1, l{i}]\n    - [s2, l{i}]\n"));
    }
    yaml.push_str("images:\n  - {name: eos, vendor: arista, family: eos, platforms: [d], version: 4.32.2F}\n");
    yaml.push_str("upgrade:\n  assign: [{image: eos, devices: {role: leaf}}]\n  max_batch_size: 8\n");
    let scenario = hitless::scenario::Scenario::from_yaml(&yaml, std::path::Path::new("mlag.yaml")).unwrap();
    assert_eq!(scenario.fabric.mlag_pairs().len(), 4, "each pair once, though both name each other");
    let plan = hitless::plan::plan(&scenario, &hitless::plan::PlanOptions::default());
    // Hand count: 8 leafs, batches of up to 8, pairs split: two batches of 4.
    assert_eq!(plan.batches.len(), 2, "{:?}", plan.batches);
    let fabric = &scenario.fabric;
    for batch in &plan.batches {
        assert_eq!(batch.devices.len(), 4);
        for &(a, b) in fabric.mlag_pairs() {
            assert!(!(batch.devices.contains(&a) && batch.devices.contains(&b)), "{:?}", batch.devices);
        }
    }
    let ids = |names: &[&str]| names.iter().map(|n| fabric.lookup(n).unwrap()).collect::<Vec<_>>();
    let together = vec![ids(&["l1", "l2", "l3", "l5"]), ids(&["l4", "l6", "l7", "l8"])];
    let violations = hitless::plan::check::check(fabric, &together, 8);
    let messages: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
    assert!(messages.iter().any(|m| m.contains("l1 and l2 are an MLAG pair")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("l7 and l8 are an MLAG pair")), "{messages:?}");
    assert_eq!(messages.len(), 2, "{messages:?}");
}
