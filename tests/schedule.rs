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

/// Every device's simulated steps against the journal of a virtual run, step by step: the
/// journal's steps of each device (its notes aside) are the simulated ones, in order, each at
/// the second it is simulated to start; the job's pauses and window waits too. `simulate`
/// gets `extra` arguments (`--start`). Returns the steps compared.
fn compare_with(scenario: &str, dir: &Path, extra: &[&str], what: &str) -> usize {
    let mut args = vec!["simulate", scenario, "--format", "json"];
    args.extend_from_slice(extra);
    let simulated = in_store(dir, &args);
    let report: serde_json::Value =
        serde_json::from_str(&simulated.stdout).unwrap_or_else(|e| panic!("{e}: {scenario}: {}", simulated.stderr));
    let logs = in_store(dir, &["logs", "job-0001", "--format", "json"]);
    assert_eq!(logs.code, 0, "{what}: {}", logs.stderr);
    let events: Vec<serde_json::Value> = logs.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let journaled = |device: &str, steps: &[&str]| -> Vec<(String, f64)> {
        events
            .iter()
            .filter(|e| e["device"] == device && steps.contains(&e["step"].as_str().unwrap()))
            .map(|e| (e["step"].as_str().unwrap().to_string(), e["at_seconds"].as_f64().unwrap()))
            .collect()
    };
    let starts = |phases: &serde_json::Value| -> Vec<(String, f64)> {
        phases
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["step"].as_str().unwrap().to_string(), p["start_seconds"].as_f64().unwrap()))
            .collect()
    };
    let mut compared = 0;
    for device in report["devices"].as_array().unwrap() {
        let name = device["device"].as_str().unwrap();
        let simulated = starts(&device["phases"]);
        let device_steps = [
            "pre-check",
            "drain",
            "drained",
            "copy",
            "install",
            "rollback",
            "reboot",
            "wait-boot",
            "booted",
            "post-check",
            "undrain",
            "in-service",
            "failed",
        ];
        assert_eq!(journaled(name, &device_steps), simulated, "{what}: {name}: journaled, simulated");
        compared += simulated.len();
    }
    let job = starts(report.get("job_phases").unwrap_or(&serde_json::json!([])));
    assert_eq!(journaled("", &["pause", "window-wait"]), job, "{what}: the job's own steps: journaled, simulated");
    compared + job.len()
}

/// `phases` (a `simulate --format json` list of steps) as (step, start, end).
fn spans(phases: &serde_json::Value) -> Vec<(&str, f64, f64)> {
    phases
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (p["step"].as_str().unwrap(), p["start_seconds"].as_f64().unwrap(), p["end_seconds"].as_f64().unwrap())
        })
        .collect()
}

fn compare(scenario: &str, dir: &Path) -> usize {
    compare_with(scenario, dir, &[], scenario)
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
    let phases = spans(&leaf1["phases"]);
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

/// The small fabric with `upgrade_extra` lines in its upgrade section and `faults`, written to
/// `dir`; its path.
fn small_variant(dir: &Path, upgrade_extra: &str, faults: &str) -> String {
    let text = std::fs::read_to_string(crate::util::root().join("scenarios/small-2spine-4leaf.yaml")).unwrap();
    assert!(text.contains("  max_batch_size: 4\n") && !text.contains("\nfaults:"));
    let text = text.replace("  max_batch_size: 4\n", &format!("  max_batch_size: 4\n{upgrade_extra}"));
    let path = dir.join("variant.yaml");
    std::fs::write(&path, format!("{text}\nfaults:\n{faults}")).unwrap();
    path.to_str().unwrap().to_string()
}

/// Faults in the first batch (leaf1 and leaf3), held and rolled back: every step of the
/// schedule, the failures, the rollbacks (with and without a reboot into the old software)
/// and what is left of the job, journaled at the simulated second.
#[test]
fn faults_and_rollbacks_keep_the_schedule() {
    let variants = [
        ("on_failure: hold", "install-fails", "at: install", "health-check-fails", "at: post-check"),
        ("on_failure: rollback", "install-fails", "at: install", "health-check-fails", "at: post-check"),
        ("on_failure: rollback", "checksum-mismatch", "at: image-copy", "bgp-peer-lost", "at: post-check"),
        ("on_failure: rollback", "slow", "at: reboot", "rollback-fails", "at: rollback"),
        ("on_failure: hold", "drain-ineffective", "at: maintenance", "never-returns", "at: reboot"),
        ("on_failure: rollback", "hang", "at: image-copy", "hang", "at: reboot"),
        ("on_failure: hold", "hang", "at: install", "hang", "at: post-check"),
        ("on_failure: hold", "slow", "at: maintenance", "lock-held", "at: maintenance"),
        // A failed check that does not stop the device (a failed pre-check would stop the
        // whole upgrade at its test run otherwise).
        (
            "abort_on_health_check_failure: false",
            "health-check-fails",
            "at: health-check",
            "bgp-peer-lost",
            "at: post-check",
        ),
        ("abort_on_health_check_failure: false", "slow", "at: maintenance", "health-check-fails", "at: post-check"),
        ("on_failure: rollback", "ssh-drop", "at: install", "slow", "at: install"),
    ];
    for (policy, leaf1, at1, leaf3, at3) in variants {
        let dir = tempfile::tempdir().unwrap();
        let mut faults =
            format!("  - {{device: leaf1, kind: {leaf1}, {at1}}}\n  - {{device: leaf3, kind: {leaf3}, {at3}}}\n");
        if leaf3 == "rollback-fails" {
            // A rollback needs a failure first: the new image fails its post-upgrade check.
            faults.push_str("  - {device: leaf3, kind: health-check-fails, at: post-check}\n");
        }
        let scenario = small_variant(dir.path(), &format!("  {policy}\n"), &faults);
        let run = in_store(dir.path(), &["upgrade", &scenario, "--driver", "virtual", "--yes", "--format", "json"]);
        let what = format!("{policy}, leaf1 {leaf1} {at1}, leaf3 {leaf3} {at3}");
        assert!(run.code <= 1, "{what}: {}", run.stderr);
        assert!(!run.stdout.is_empty(), "{what}: no job ran: {}", run.stderr);
        let compared = compare_with(&scenario, dir.path(), &[], &what);
        assert!(compared >= 10, "{what}: {compared} steps compared");
    }
}

/// A rollback after an injected fault, worked out by hand: leaf3's new image fails its
/// post-upgrade check (at 1,390 s: 10 pre-check + 60 drain + 180 copy + 480 install + 480
/// reboot + 120 convergence + 60 watched), so it is rolled back: rebooted at once (480 s back),
/// 120 s of convergence, two readings 10 s apart, 60 s of undrain.
#[test]
fn a_rollback_is_scheduled_as_the_executor_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = small_variant(
        dir.path(),
        "  on_failure: rollback\n",
        "  - {device: leaf3, kind: health-check-fails, at: post-check}\n",
    );
    let simulated = hitless(&["simulate", &scenario, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&simulated.stdout).unwrap();
    let leaf3 = report["devices"].as_array().unwrap().iter().find(|d| d["device"] == "leaf3").unwrap();
    let phases = &spans(&leaf3["phases"])[8..];
    assert_eq!(
        phases,
        [
            ("post-check", 1330.0, 1390.0),
            ("failed", 1390.0, 1390.0),
            ("rollback", 1390.0, 1390.0),
            ("reboot", 1390.0, 1390.0),
            ("wait-boot", 1390.0, 1870.0),  // + 480
            ("booted", 1870.0, 1990.0),     // + 120
            ("post-check", 1990.0, 2000.0), // + 10: two readings
            ("undrain", 2000.0, 2060.0),    // + 60
            ("in-service", 2060.0, 2060.0),
        ]
    );
    // The job halts after the batch: one batch ran.
    assert_eq!(report["batches"].as_array().unwrap().len(), 1, "{}", report["batches"]);
}

/// A maintenance window (UTC) that opens about 10 minutes from now and lasts 55 minutes: the
/// job waits for it, runs batches 1 and 2 (1,450 s each with the pre-check's readings: 1,450 +
/// 1,450 = 2,900 s of the window's 3,300 fit), pauses before batch 3 (1,570 s more would overrun
/// the close), and
/// its resume waits for the next day's window. `simulate --start` at the second the job was
/// created schedules the same waits and pauses, and every device's steps, to the second.
#[test]
fn a_maintenance_windows_waits_and_pauses_keep_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let at =
        |minutes: i64| now.checked_add(jiff::SignedDuration::from_mins(minutes)).unwrap().strftime("%H:%M").to_string();
    let window = format!("  window: {{start: \"{}\", end: \"{}\", timezone: UTC}}\n", at(10), at(65));
    let scenario = small_variant(dir.path(), &window, "  []\n");
    let run = in_store(dir.path(), &["upgrade", &scenario, "--driver", "virtual", "--yes", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let last: serde_json::Value = serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["paused_for"], "window", "{last}");
    assert!(last["reason"].as_str().unwrap().starts_with("before batch 3"), "{last}");
    let resumed = in_store(dir.path(), &["resume", "job-0001", "--yes", "--format", "json"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let jobs: serde_json::Value =
        serde_json::from_str(&in_store(dir.path(), &["jobs", "--format", "json"]).stdout).unwrap();
    let created = jobs[0]["created_unix"].as_i64().unwrap();
    let start = format!("@{created}");
    let compared = compare_with(&scenario, dir.path(), &["--start", &start], "a window");
    assert!(compared > 60, "{compared}");
    // The simulated job: a wait, a pause before batch 3 and the wait for the next window.
    let simulated = in_store(dir.path(), &["simulate", &scenario, "--format", "json", "--start", &start]);
    let report: serde_json::Value = serde_json::from_str(&simulated.stdout).unwrap();
    let steps: Vec<&str> =
        report["job_phases"].as_array().unwrap().iter().map(|p| p["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["window-wait", "pause", "window-wait"], "{}", report["job_phases"]);
    let first_wait = report["job_phases"][0]["end_seconds"].as_f64().unwrap();
    assert!((540.0..=600.0).contains(&first_wait), "{first_wait}");
    // The second wait ends a day after the first.
    assert_eq!(report["job_phases"][2]["end_seconds"].as_f64().unwrap() - first_wait, 86_400.0);
    // Without --start, batches run back to back.
    let plain: serde_json::Value =
        serde_json::from_str(&in_store(dir.path(), &["simulate", &scenario, "--format", "json"]).stdout).unwrap();
    assert!(plain.get("job_phases").is_none(), "{plain}");
    // A start that is not a time is refused, saying what is expected.
    for (bad, said) in [("tomorrow", "RFC 3339"), ("@soon", "after `@`, Unix seconds")] {
        let run = hitless(&["simulate", "scenarios/small-2spine-4leaf.yaml", "--start", bad]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("invalid value '{bad}' for '--start <TIME>'")) && run.stderr.contains(said),
            "{}",
            run.stderr
        );
    }
    // A scenario without a window: --start is said to change nothing.
    let windowless = hitless(&["simulate", "scenarios/small-2spine-4leaf.yaml", "--start", &start]);
    assert_eq!(windowless.code, 0, "{}", windowless.stderr);
    assert!(
        windowless.stderr.contains("--start changes nothing: the scenario has no upgrade.window"),
        "{}",
        windowless.stderr
    );
}

/// A window exactly as long as the planner's estimate of a leaf batch (24 minutes: 1,440 s)
/// has no room for the batch as the executor runs it (10 s of pre-check readings more, 1,450 s):
/// `plan` says no number of such windows will do, and the schedule from the window's opening
/// waits a day for the next one and pauses there for good, with the same warning; a window one
/// minute longer takes each leaf batch.
#[test]
fn a_window_must_hold_the_pre_check_too() {
    let dir = tempfile::tempdir().unwrap();
    let tight = small_variant(dir.path(), "  window: {start: \"02:00\", end: \"02:24\", timezone: UTC}\n", "  []\n");
    let plan: serde_json::Value = serde_json::from_str(&hitless(&["plan", &tight, "--format", "json"]).stdout).unwrap();
    assert!(plan.get("windows_needed").is_none(), "{plan}");
    let warned = plan["warnings"].as_array().unwrap().iter().any(|w| {
        w.as_str()
            .unwrap()
            .starts_with("batch 1 is estimated at 1450 s with its pre-check, longer than the maintenance window")
    });
    assert!(warned, "{}", plan["warnings"]);
    let simulated = hitless(&["simulate", &tight, "--format", "json", "--start", "2026-12-07T02:00:00Z"]);
    let report: serde_json::Value = serde_json::from_str(&simulated.stdout).unwrap();
    let steps = spans(&report["job_phases"]);
    assert_eq!(steps, [("window-wait", 0.0, 86_400.0), ("pause", 86_400.0, 86_400.0)]);
    assert!(report["devices"].as_array().unwrap().is_empty(), "{}", report["devices"]);
    assert!(
        report["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("batch 1 can never start")),
        "{}",
        report["warnings"]
    );
    let roomy = small_variant(dir.path(), "  window: {start: \"02:00\", end: \"02:25\", timezone: UTC}\n", "  []\n");
    let plan: serde_json::Value = serde_json::from_str(&hitless(&["plan", &roomy, "--format", "json"]).stdout).unwrap();
    // Two leaf batches (1,450 s each) and two spine batches (1,570 s: longer than 1,500 s).
    assert!(plan.get("windows_needed").is_none(), "{plan}");
    let simulated = hitless(&["simulate", &roomy, "--format", "json", "--start", "2026-12-07T02:00:00Z"]);
    let report: serde_json::Value = serde_json::from_str(&simulated.stdout).unwrap();
    // Batch 1 runs at the opening; batch 2 pauses the job and its resume waits for the next
    // day's window; batch 3 (a spine, 1,570 s) pauses, waits a day more and can never start.
    let leaf1 = report["devices"].as_array().unwrap().iter().find(|d| d["device"] == "leaf1").unwrap();
    assert_eq!(leaf1["phases"][0]["start_seconds"], 0.0);
    let steps: Vec<&str> =
        report["job_phases"].as_array().unwrap().iter().map(|p| p["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["pause", "window-wait", "pause", "window-wait", "pause"], "{}", report["job_phases"]);
    assert_eq!(report["job_phases"][1]["end_seconds"], 86_400.0);
}
