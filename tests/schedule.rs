//! One schedule: `simulate --format json` lists every device's steps with their times, and a
//! virtual run of the same scenario journals every one of those steps at the same second (the
//! simulation proves the timeline the executor keeps, not a neighbouring one).

use std::path::Path;

use crate::util::{Run, bundled_scenarios, hitless, relative};

fn in_store(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--state-dir", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    hitless(&all)
}

/// Every device's simulated steps against the journal of a virtual run: each step's start is
/// the second the journal first records that step for that device. Returns the steps compared.
fn compare(scenario: &str, dir: &Path) -> usize {
    let simulated = in_store(dir, &["simulate", scenario, "--format", "json"]);
    let report: serde_json::Value =
        serde_json::from_str(&simulated.stdout).unwrap_or_else(|e| panic!("{e}: {scenario}"));
    let logs = in_store(dir, &["logs", "job-0001", "--format", "json"]);
    assert_eq!(logs.code, 0, "{scenario}: {}", logs.stderr);
    let events: Vec<serde_json::Value> = logs.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut compared = 0;
    for device in report["devices"].as_array().unwrap() {
        let name = device["device"].as_str().unwrap();
        for phase in device["phases"].as_array().unwrap() {
            let step = phase["step"].as_str().unwrap();
            let start = phase["start_seconds"].as_f64().unwrap();
            let journaled = events
                .iter()
                .find(|e| e["device"] == name && e["step"] == step)
                .unwrap_or_else(|| panic!("{scenario}: {name} never journaled {step} (simulated at {start} s)"));
            let at = journaled["at_seconds"].as_f64().unwrap();
            assert!((at - start).abs() < 1e-6, "{scenario}: {name} {step} simulated at {start} s, journaled at {at} s");
            compared += 1;
        }
    }
    compared
}

#[test]
fn every_bundled_scenario_runs_to_its_simulated_schedule() {
    let mut total = 0;
    for path in bundled_scenarios() {
        let scenario = relative(&path);
        let dir = tempfile::tempdir().unwrap();
        let run = in_store(
            dir.path(),
            &["upgrade", &scenario, "--driver", "virtual", "--yes", "--allow-loss", "--format", "json"],
        );
        if scenario.ends_with("unsafe-no-drain.yaml") {
            // A plan simulated without maintenance mode is not one the executor keeps: refused.
            assert_eq!(run.code, 2, "{}", run.stderr);
            assert!(run.stderr.contains("upgrade.drain: false, a what-if for `hitless simulate`"), "{}", run.stderr);
            continue;
        }
        // The canary's job pauses after its first batch; approved, it goes on from where its
        // clock stood (a pause costs the job's clock nothing).
        let mut code = run.code;
        for _ in 0..10 {
            if code != 1 || !in_store(dir.path(), &["status", "job-0001"]).stdout.contains(": paused") {
                break;
            }
            code = in_store(dir.path(), &["approve", "job-0001", "--yes"]).code;
        }
        let compared = compare(&scenario, dir.path());
        assert!(compared > 0, "{scenario}: no step compared");
        total += compared;
    }
    // Thirteen scenarios, each device with up to eleven steps.
    assert!(total > 900, "{total} steps compared");
}

/// The steps a device's schedule lists, in order, are the journal's for a default leaf; its
/// times worked out by hand from the default timing (pre-check 10 s of health sampling, drain 60,
/// copy 180, install 480, reboot 480, convergence 120, post-check 60, undrain 60).
#[test]
fn a_leafs_schedule_is_the_executors_steps_at_hand_calculated_times() {
    let simulated = hitless(&["simulate", "scenarios/small-2spine-4leaf.yaml", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&simulated.stdout).unwrap();
    let leaf1 = report["devices"].as_array().unwrap().iter().find(|d| d["device"] == "leaf1").unwrap();
    assert_eq!(leaf1["batch"], 1);
    let phases: Vec<(String, f64, f64)> = leaf1["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["step"].as_str().unwrap().to_string(),
                p["start_seconds"].as_f64().unwrap(),
                p["end_seconds"].as_f64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("pre-check", 0.0, 10.0),
        ("drain", 10.0, 70.0), // 10 + 60
        ("drained", 70.0, 70.0),
        ("copy", 70.0, 250.0),     // + 180
        ("install", 250.0, 730.0), // + 480
        ("reboot", 730.0, 730.0),
        ("wait-boot", 730.0, 1210.0),   // + 480
        ("booted", 1210.0, 1330.0),     // + 120 of convergence
        ("post-check", 1330.0, 1390.0), // + 60
        ("undrain", 1390.0, 1450.0),    // + 60
        ("in-service", 1450.0, 1450.0),
    ];
    let expected: Vec<(String, f64, f64)> = expected.iter().map(|(s, a, b)| (s.to_string(), *a, *b)).collect();
    assert_eq!(phases, expected);
}

/// Images staged ahead (`hitless stage`) are copied no more: `simulate` in the same state
/// directory skips their copy, and the virtual run journals every step at the simulated second.
#[test]
fn staged_images_keep_the_schedule_too() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = "scenarios/small-2spine-4leaf.yaml";
    let staged = in_store(dir.path(), &["stage", scenario, "--driver", "virtual"]);
    assert_eq!(staged.code, 0, "{}", staged.stderr);
    let simulated = in_store(dir.path(), &["simulate", scenario, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&simulated.stdout).unwrap();
    let leaf1 = report["devices"].as_array().unwrap().iter().find(|d| d["device"] == "leaf1").unwrap();
    let copy = leaf1["phases"].as_array().unwrap().iter().find(|p| p["step"] == "copy").unwrap();
    assert_eq!((copy["start_seconds"].as_f64(), copy["end_seconds"].as_f64()), (Some(70.0), Some(70.0)), "{copy}");
    let run = in_store(dir.path(), &["upgrade", scenario, "--driver", "virtual", "--yes", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(compare(scenario, dir.path()) > 60);
}
