//! `hitless simulate`: verdicts, causes, foreign plans, determinism and `expect:`.

use hitless::simulate::report::{CauseKind, SimReport};

use crate::util::{bundled_scenarios, hitless, relative, write_temp};

fn simulate(args: &[&str]) -> (i32, SimReport) {
    let mut all = vec!["simulate"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let run = hitless(&all);
    assert!(run.code == 0 || run.code == 1, "simulate {args:?} failed ({}): {}", run.code, run.stderr);
    (run.code, serde_json::from_str(&run.stdout).expect("simulate --format json is a SimReport"))
}

/// Every bundled scenario meets its `expect:` (the binary exits 2 when it does not), and the
/// exit code is 0 exactly when the plan is hitless.
#[test]
fn every_bundled_scenario_meets_its_expectation() {
    for path in bundled_scenarios() {
        let path = relative(&path);
        let text = std::fs::read_to_string(crate::util::root().join(&path)).unwrap();
        assert!(text.contains("expect:"), "{path} states its expected verdict");
        let (code, report) = simulate(&[&path]);
        assert_eq!(code == 0, report.hitless, "{path}: exit code follows the verdict");
        assert_eq!(report.hitless, report.lost_bytes == 0.0, "{path}");
    }
}

#[test]
fn both_leafs_of_a_server_in_one_batch_cut_it_off() {
    let (code, report) = simulate(&["scenarios/unsafe-pair-in-one-batch.yaml"]);
    assert_eq!(code, 1);
    assert!(
        report.warnings.iter().any(|w| w.contains("leaf1 and leaf2 both carry multihomed server bms1")),
        "{:?}",
        report.warnings
    );
    let worst = &report.flows_with_loss[0];
    assert!([&worst.src, &worst.dst].iter().any(|e| *e == "bms1" || *e == "bms2"), "{worst:?}");
    let cause = worst.cause.as_ref().unwrap();
    assert!(cause.device == "leaf1" || cause.device == "leaf2", "{cause:?}");
    assert_eq!(cause.kind, CauseKind::Blackhole);
    assert!(worst.blackhole_bytes > 0.0 && worst.congestion_bytes == 0.0);
}

#[test]
fn all_spines_at_once_blackholes_between_leaf_pairs() {
    let (_, report) = simulate(&["scenarios/unsafe-all-spines.yaml"]);
    assert!(!report.hitless);
    let cause = report.flows_with_loss[0].cause.as_ref().unwrap();
    assert!(cause.device.starts_with("spine"), "{cause:?}");
    let spine_batch = &report.batches[2];
    assert_eq!(spine_batch.devices, ["spine1", "spine2"]);
    assert!(spine_batch.flows_losing_when_down > 0);
    assert!(cause.at_seconds >= spine_batch.start_seconds && cause.at_seconds <= spine_batch.end_seconds);
}

#[test]
fn skipping_maintenance_mode_loses_the_detection_window() {
    let (_, safe) = simulate(&["scenarios/small-2spine-4leaf.yaml"]);
    let (_, unsafe_) = simulate(&["scenarios/unsafe-no-drain.yaml"]);
    assert!(safe.hitless && safe.drain);
    assert!(!unsafe_.hitless && !unsafe_.drain);
    // Losses are seconds' worth (BFD 0.9 s, LACP 3 s), not reboots' worth.
    for flow in &unsafe_.flows_with_loss {
        assert!(flow.lost_bytes < 10.0 * 1e9 / 8.0 * 10.0, "{flow:?}");
    }
}

#[test]
fn congestion_is_reported_as_congestion_and_a_slower_plan_avoids_it() {
    let (_, report) = simulate(&["scenarios/unsafe-congestion.yaml"]);
    assert!(!report.hitless);
    assert!(report.flows_with_loss.iter().all(|f| f.blackhole_bytes == 0.0 && f.congestion_bytes > 0.0));
    let cause = report.flows_with_loss[0].cause.as_ref().unwrap();
    assert_eq!(cause.kind, CauseKind::Congestion);
    assert!(cause.link.as_ref().unwrap().contains("spine"), "{cause:?}");
    assert!(report.peak_link_utilisation.as_ref().unwrap().utilisation > 1.0);
    let (code, safe) = simulate(&["scenarios/congestion-safe.yaml"]);
    assert_eq!(code, 0);
    assert!(safe.peak_link_utilisation.unwrap().utilisation <= 1.0);
}

#[test]
fn a_single_homed_server_is_blamed_on_its_leaf() {
    let (_, report) = simulate(&["scenarios/single-homed-server.yaml"]);
    for flow in &report.flows_with_loss {
        assert!(flow.src == "backup1" || flow.dst == "backup1", "{flow:?}");
        assert_eq!(flow.cause.as_ref().unwrap().device, "leaf4");
    }
    // While leaf2 and leaf4 are down, leaf4 is what every backup1 flow depended on.
    assert!(report.batches[0].exposure.iter().any(|e| e.device == "leaf4"));
}

#[test]
fn a_plan_file_round_trips_and_a_foreign_plan_is_judged() {
    let run = hitless(&["plan", "scenarios/small-2spine-4leaf.yaml", "--format", "json"]);
    let (_dir, path) = write_temp("plan.json", &run.stdout);
    let (code, report) = simulate(&["scenarios/small-2spine-4leaf.yaml", "--plan", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // Both spines in one batch: a rule broken, and traffic between the leaf pairs cut.
    let mut bad: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let batches = bad["batches"].as_array_mut().unwrap();
    batches[2]["devices"] = serde_json::json!(["spine1", "spine2"]);
    batches.truncate(3);
    let bad = bad.to_string();
    let (_dir2, bad_path) = write_temp("bad.json", &bad);
    let (code, report) = simulate(&["scenarios/small-2spine-4leaf.yaml", "--plan", bad_path.to_str().unwrap()]);
    assert_eq!(code, 1, "{:?}", report.batches);
    assert!(report.warnings.iter().any(|w| w.contains("breaks a rule")), "{:?}", report.warnings);
    // Its page does not boast of 3 batches against a lower bound of 4: it says a rule is broken.
    for (plan, broken) in [(&path, false), (&bad_path, true)] {
        let page = _dir2.path().join("page.html");
        let run = hitless(&[
            "report",
            "scenarios/small-2spine-4leaf.yaml",
            "--plan",
            plan.to_str().unwrap(),
            "-o",
            page.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let html = std::fs::read_to_string(&page).unwrap();
        assert_eq!(html.contains("this plan breaks 1 rule(s)"), broken, "{plan:?}");
        assert_eq!(html.contains("breaks a rule: batch 3: takes down 2 of the spines"), broken, "{plan:?}");
    }
    let unknown = run.stdout.replace("\"leaf1\"", "\"leaf9\"");
    let (_dir3, unknown_path) = write_temp("unknown.json", &unknown);
    let run = hitless(&["simulate", "scenarios/small-2spine-4leaf.yaml", "--plan", unknown_path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("leaf9 (batch 1)"), "{}", run.stderr);
    let run = hitless(&["simulate", "scenarios/small-2spine-4leaf.yaml", "--plan", "Cargo.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is not in the `hitless plan --format json` shape"), "{}", run.stderr);
}

#[test]
fn one_seed_reproduces_a_run_and_jitter_runs_report_the_worst() {
    let jittery = std::fs::read_to_string(crate::util::root().join("scenarios/unsafe-no-drain.yaml"))
        .unwrap()
        .replace("expect:", "simulation: {jitter: 0.2}\nexpect:");
    let (_dir, path) = write_temp("jitter.yaml", &jittery);
    let path = path.to_str().unwrap();
    let once = hitless(&["simulate", path, "--seed", "7", "--format", "json"]).stdout;
    let again = hitless(&["simulate", path, "--seed", "7", "--format", "json"]).stdout;
    assert_eq!(once, again);
    let other: SimReport =
        serde_json::from_str(&hitless(&["simulate", path, "--seed", "8", "--format", "json"]).stdout).unwrap();
    let once: SimReport = serde_json::from_str(&once).unwrap();
    assert_ne!(once.simulated_seconds, other.simulated_seconds, "jitter changes the timeline");
    let (_, worst) = simulate(&[path, "--seed", "7", "--runs", "4"]);
    assert_eq!(worst.runs, 4);
    assert!(worst.lost_bytes >= once.lost_bytes);
    assert!((7..11).contains(&worst.seed));
}

#[test]
fn a_contradicted_expectation_fails_with_a_clear_message() {
    let text = std::fs::read_to_string(crate::util::root().join("scenarios/unsafe-all-spines.yaml"))
        .unwrap()
        .replace("hitless: false", "hitless: true\n  max_batches: 2");
    let (_dir, path) = write_temp("wrong.yaml", &text);
    let run = hitless(&["simulate", path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("expected hitless: true, but the simulation says NOT HITLESS"), "{}", run.stderr);
    assert!(run.stderr.contains("expected at most 2 batches, the plan has 3"), "{}", run.stderr);
}

#[test]
fn the_json_report_has_the_documented_shape() {
    let run = hitless(&["simulate", "scenarios/unsafe-pair-in-one-batch.yaml", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    for key in ["hitless", "lost_bytes", "simulated_seconds", "flows_with_loss", "batches"] {
        assert!(value.get(key).is_some(), "missing {key}");
    }
    let flow = &value["flows_with_loss"][0];
    for key in ["src", "dst", "lost_bytes"] {
        assert!(flow.get(key).is_some(), "flow is missing {key}");
    }
    assert!(flow["cause"]["device"].is_string() && flow["cause"]["at_seconds"].is_number());
}

#[test]
fn bad_traffic_and_simulation_settings_are_named() {
    let base = std::fs::read_to_string(crate::util::root().join("scenarios/small-2spine-4leaf.yaml")).unwrap();
    for (extra, message) in [
        ("traffic: {pattern: everything}\n", "unknown traffic pattern \"everything\""),
        ("traffic: {flows: [{src: bms1, dst: nobody, gbps: 1}]}\n", "flow names unknown server nobody"),
        ("traffic: {flows: [{src: bms1, dst: external, gbps: 1}]}\n", "no device has critical role dc-gateway"),
        ("simulation: {lacp: medium}\n", "simulation.lacp must be fast or slow"),
        ("simulation: {jitter: 1.5}\n", "simulation.jitter must be at least 0 and below 1"),
        ("simulation: {leaf_spine_gbps: 0}\n", "leaf_spine_gbps must be a positive capacity"),
        ("upgrade2: {}\n", "unknown field `upgrade2`"),
    ] {
        let (_dir, path) = write_temp("t.yaml", &format!("{base}{extra}"));
        let run = hitless(&["validate", path.to_str().unwrap()]);
        assert_eq!(run.code, 2, "{extra}");
        assert!(run.stderr.contains(message), "{extra}: {}", run.stderr);
    }
}

/// `traffic: {pattern: leaf-pairs}` on the small fabric: four leafs host servers (two pairs, two
/// servers each), so 4 x 3 = 12 ordered pairs, one flow each, every leaf standing by a server of
/// its own. A pattern it does not know is named with the ones it does, where it is written.
#[test]
fn a_leaf_pairs_matrix_is_one_flow_per_ordered_pair_of_leafs() {
    let text = std::fs::read_to_string(crate::util::root().join("scenarios/small-2spine-4leaf.yaml")).unwrap();
    let text: String = text.lines().filter(|l| !l.starts_with("traffic:")).map(|l| format!("{l}\n")).collect();
    let (_dir, path) = write_temp("pairs.yaml", &format!("{text}traffic: {{pattern: leaf-pairs, gbps: 2}}\n"));
    let (code, report) = simulate(&[path.to_str().unwrap()]);
    assert_eq!(report.flow_count, 12);
    assert_eq!(code, 0, "the planner's plan keeps a leaf-level matrix whole: {:?}", report.warnings);
    let bad = format!("{text}traffic: {{pattern: leaf-pair, gbps: 2}}\n");
    let (_dir, bad_path) = write_temp("bad.yaml", &bad);
    let run = hitless(&["validate", bad_path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    let line = bad.lines().count();
    assert!(run.stderr.contains(&format!("bad.yaml:{line}:")), "{}", run.stderr);
    assert!(run.stderr.contains("expected all-to-all, random-pairs or leaf-pairs"), "{}", run.stderr);
}
