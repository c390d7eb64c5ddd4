//! Operator controls: the canary, pauses for approval, `approve`, and cancelling a paused job —
//! on the virtual driver, across kills, and against the lab over SSH.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::{Run, hitless, root, write_temp};

const CANARY: &str = "scenarios/canary.yaml";

fn in_store(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--state-dir", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    hitless(&all)
}

fn json_lines(run: &Run) -> Vec<serde_json::Value> {
    run.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{}", run.stderr))).collect()
}

/// The virtual devices' lasting state: device name to its record.
fn fleet(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("virtual-devices").join("canary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn upgrades(dir: &Path) -> Vec<(String, u64)> {
    fleet(dir).into_iter().map(|(name, d)| (name, d["upgrades"].as_u64().unwrap())).collect()
}

fn status(dir: &Path) -> serde_json::Value {
    let run = in_store(dir, &["status", "job-0001", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

/// The plan for `canary.yaml` by hand: the planner's first batch is one leaf of each ESI pair
/// (leaf1, leaf3); the canary is its first device alone, the rest of that batch follows, then
/// the other leafs, then one spine at a time: 1 + 1 + 2 + 1 + 1 = 6 devices in 5 batches.
#[test]
fn the_canary_is_the_first_device_of_the_planners_first_batch_and_the_plan_keeps_every_rule() {
    let run = hitless(&["plan", CANARY, "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let batches: Vec<(Vec<String>, bool)> = plan["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let devices = b["devices"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
            (devices, b["canary"].as_bool().unwrap_or(false))
        })
        .collect();
    let expected: Vec<(Vec<String>, bool)> = [
        (vec!["leaf1"], true),
        (vec!["leaf3"], false),
        (vec!["leaf2", "leaf4"], false),
        (vec!["spine1"], false),
        (vec!["spine2"], false),
    ]
    .into_iter()
    .map(|(d, c)| (d.into_iter().map(String::from).collect(), c))
    .collect();
    assert_eq!(batches, expected);
    // The independent checker agrees the plan keeps every rule.
    let scenario = hitless::scenario::Scenario::load(&root().join(CANARY)).unwrap();
    let made = hitless::plan::plan(&scenario, &hitless::plan::PlanOptions::default());
    assert!(made.canary);
    let ids: Vec<Vec<_>> = made.batches.iter().map(|b| b.devices.clone()).collect();
    assert!(hitless::plan::check::check(&scenario.fabric, &ids, 4).is_empty());
    // And the simulation gate judges the plan that runs, canary included.
    let run = hitless(&["simulate", CANARY, "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["batches"].as_array().unwrap().len(), 5, "{report}");
}

#[test]
fn a_canary_job_pauses_after_its_first_batch_and_approve_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let started = in_store(dir.path(), &["upgrade", CANARY, "--yes", "--format", "json"]);
    assert_eq!(started.code, 1, "a paused job is not a success: {}", started.stderr);
    let lines = json_lines(&started);
    let last = lines.last().unwrap();
    assert_eq!(last["outcome"], "paused", "{last}");
    let reason = last["reason"].as_str().unwrap();
    assert!(reason.contains("canary batch 1 of 5 (leaf1)"), "{reason}");
    // Only the canary was touched.
    for (name, count) in upgrades(dir.path()) {
        assert_eq!(count, u64::from(name == "leaf1"), "{name}");
    }
    let job = status(dir.path());
    assert_eq!(job["job"]["state"], "paused");
    assert_eq!(job["job"]["reason"], reason);

    // `resume` does not run past a pause, and `approve` without a terminal needs --yes: both
    // leave the job paused and every device as it was.
    let resumed = in_store(dir.path(), &["resume", "job-0001", "--yes"]);
    assert_eq!(resumed.code, 2);
    assert!(
        resumed.stderr.contains("is paused after the canary batch")
            && resumed.stderr.contains("hitless approve job-0001"),
        "{}",
        resumed.stderr
    );
    let unconfirmed = in_store(dir.path(), &["approve", "job-0001"]);
    assert_eq!(unconfirmed.code, 2);
    assert!(unconfirmed.stderr.contains("--yes"), "{}", unconfirmed.stderr);
    assert_eq!(status(dir.path())["job"]["state"], "paused");
    assert_eq!(upgrades(dir.path()).iter().map(|(_, c)| c).sum::<u64>(), 1);

    // On a terminal, the operator's "no" is an answer, not a usage error: exit 1, job paused.
    let declined =
        crate::util::on_terminal(&["--state-dir", dir.path().to_str().unwrap(), "approve", "job-0001"], 100, "n\n");
    assert_eq!(declined.code, 1, "{}", declined.stdout);
    assert!(declined.stdout.contains("Approve it and upgrade its remaining 5 device(s)? [y/N]"), "{}", declined.stdout);
    assert!(
        declined.stdout.contains("not approved; job-0001 stays paused and nothing was changed"),
        "{}",
        declined.stdout
    );
    assert_eq!(status(dir.path())["job"]["state"], "paused");
    assert_eq!(upgrades(dir.path()).iter().map(|(_, c)| c).sum::<u64>(), 1);

    let approved = in_store(dir.path(), &["approve", "job-0001", "--yes", "--format", "json"]);
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    let lines = json_lines(&approved);
    assert_eq!(lines.last().unwrap()["outcome"], "finished");
    // The approval is journaled, before the rest runs.
    let logs = in_store(dir.path(), &["logs", "job-0001"]);
    // The approval names who approved: the operator as this host knows them.
    assert!(logs.stdout.contains("(job)        approved by "), "{}", logs.stdout);
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
    if !user.is_empty() {
        assert!(logs.stdout.contains(&format!("approved by {user} on ")), "{}", logs.stdout);
    }
    for (name, count) in upgrades(dir.path()) {
        assert_eq!(count, 1, "{name} upgraded once");
    }
    // Approving a finished job is refused.
    let again = in_store(dir.path(), &["approve", "job-0001", "--yes"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("has finished") || again.stderr.contains("not paused"), "{}", again.stderr);
}

#[test]
fn every_batch_pauses_before_each_next_batch_and_cancel_while_paused_touches_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(root().join(CANARY)).unwrap().replace("pause: after-canary", "pause: every-batch");
    let path = dir.path().join("every.yaml");
    std::fs::write(&path, text).unwrap();
    let first = in_store(dir.path(), &["upgrade", path.to_str().unwrap(), "--yes", "--format", "json"]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    // Batches 1 and 2 with an approval between: 2 devices done, then paused after batch 2.
    let second = in_store(dir.path(), &["approve", "job-0001", "--yes", "--format", "json"]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(json_lines(&second).last().unwrap()["reason"].as_str().unwrap().starts_with("after batch 2 of 5 (leaf3)"));
    let done: Vec<String> = upgrades(dir.path()).into_iter().filter(|(_, c)| *c == 1).map(|(n, _)| n).collect();
    assert_eq!(done, ["leaf1", "leaf3"]);

    let cancelled = in_store(dir.path(), &["cancel", "job-0001"]);
    assert_eq!(cancelled.code, 0, "{}", cancelled.stderr);
    let job = status(dir.path());
    assert_eq!(job["job"]["state"], "cancelled");
    assert!(job["job"].get("reason").is_none(), "a cancelled job is not paused: {job}");
    for device in job["devices"].as_array().unwrap() {
        let upgraded = ["leaf1", "leaf3"].contains(&device["device"].as_str().unwrap());
        let expected = if upgraded { "Maintenance Mode Deactivated" } else { "Cancelled" };
        assert_eq!(device["state"], expected, "{device}");
    }
    // Nothing more was touched, nothing is drained, and the job cannot be approved or resumed.
    for (name, device) in fleet(dir.path()) {
        assert_eq!(device["maintenance"], false, "{name}");
        assert_eq!(device["upgrades"].as_u64().unwrap(), u64::from(done.contains(&name)), "{name}");
    }
    assert_eq!(in_store(dir.path(), &["approve", "job-0001", "--yes"]).code, 2);
    assert_eq!(in_store(dir.path(), &["resume", "job-0001", "--yes"]).code, 2);
}

/// Kills the canary upgrade right after its `n`-th journal event; true if it was killed before
/// the job stopped by itself.
fn kill_after_events(dir: &Path, n: usize) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hitless"))
        .args(["--state-dir", dir.to_str().unwrap(), "upgrade", CANARY, "--yes", "--virtual-speed", "2000"])
        .args(["--format", "json"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = 0;
    let mut killed = false;
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event.get("seq").is_some() {
            seen += 1;
            if seen >= n {
                killed = true;
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    killed
}

/// Wherever the controller dies during the canary, or at the pause itself, a resumed job still
/// stops for approval before the second batch: no device after the canary begins until the
/// operator approves, and every device is upgraded exactly once in the end.
#[test]
fn a_kill_anywhere_up_to_the_pause_still_pauses_before_the_next_batch() {
    let mut n = 1;
    loop {
        let dir = tempfile::tempdir().unwrap();
        if !kill_after_events(dir.path(), n) {
            assert!(n > 10, "the canary journals more than 10 events before the pause");
            break;
        }
        let state = status(dir.path())["job"]["state"].as_str().unwrap().to_string();
        if state != "paused" {
            let resumed = in_store(dir.path(), &["resume", "job-0001", "--yes", "--format", "json"]);
            assert_eq!(resumed.code, 1, "killed after event {n}: {}", resumed.stderr);
            assert_eq!(json_lines(&resumed).last().unwrap()["outcome"], "paused", "killed after event {n}");
        }
        for (name, count) in upgrades(dir.path()) {
            assert_eq!(count, u64::from(name == "leaf1"), "killed after event {n}: {name} before approval");
        }
        let approved = in_store(dir.path(), &["approve", "job-0001", "--yes"]);
        assert_eq!(approved.code, 0, "killed after event {n}: {}", approved.stderr);
        for (name, count) in upgrades(dir.path()) {
            assert_eq!(count, 1, "killed after event {n}: {name}");
        }
        // In the journal, every event of a device after the canary comes after the approval.
        let logs = in_store(dir.path(), &["logs", "job-0001", "--format", "json"]);
        let events: Vec<serde_json::Value> = json_lines(&logs);
        let approval = events
            .iter()
            .position(|e| e["step"] == "approve")
            .unwrap_or_else(|| panic!("killed after event {n}: no approval journaled"));
        let early: Vec<&serde_json::Value> =
            events[..approval].iter().filter(|e| !["", "leaf1"].contains(&e["device"].as_str().unwrap())).collect();
        assert!(early.is_empty(), "killed after event {n}: began before the approval: {early:?}");
        n += 2;
    }
}

#[test]
fn canary_and_pause_settings_are_checked_where_they_are_written() {
    let base = std::fs::read_to_string(root().join(CANARY)).unwrap();
    let too_big = base.replace("canary: 1 ", "canary: 5 ");
    let (_dir, path) = write_temp("t.yaml", &too_big);
    let run = hitless(&["validate", path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    let line = too_big.lines().position(|l| l.contains("canary: 5")).unwrap() + 1;
    assert!(run.stderr.contains(&format!("t.yaml:{line}:")), "{}", run.stderr);
    assert!(run.stderr.contains("canary must be at most max_batch_size (4)"), "{}", run.stderr);

    let no_canary = base.replace("  canary: 1 ", "  # no canary ");
    let (_dir, path) = write_temp("t.yaml", &no_canary);
    let run = hitless(&["validate", path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("pause: after-canary needs a canary"), "{}", run.stderr);

    let unknown = base.replace("pause: after-canary", "pause: sometimes");
    let (_dir, path) = write_temp("t.yaml", &unknown);
    let run = hitless(&["validate", path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("sometimes"), "{}", run.stderr);
}

/// Through the lab over SSH: a canary of two devices, paused, then approved.
#[test]
fn against_the_lab_a_canary_pauses_and_approve_finishes_the_job() {
    use crate::lab_process::{hitless as in_lab_store, prepare, start_lab};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = prepare(dir.path(), &state);
    let text = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(&scenario, format!("{text}  canary: 2\n")).unwrap();
    let _lab = start_lab(&state, &scenario, &[]);
    let junos = ["--driver", "junos", "--trust-on-first-use", "--time-scale", "1000", "--yes", "--format", "json"];
    let versions = || -> Vec<(String, String)> {
        let check = in_lab_store(&state)
            .arg("test-run")
            .arg(&scenario)
            .args(["--driver", "junos", "--format", "json", "--time-scale", "1000"])
            .output()
            .unwrap();
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&check.stdout).unwrap();
        rows.iter()
            .map(|r| (r["device"].as_str().unwrap().to_string(), r["running"].as_str().unwrap().to_string()))
            .collect()
    };
    let started = in_lab_store(&state).arg("upgrade").arg(&scenario).args(junos).output().unwrap();
    assert_eq!(started.status.code(), Some(1), "{}", String::from_utf8_lossy(&started.stderr));
    let stdout = String::from_utf8_lossy(&started.stdout);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["outcome"], "paused", "{last}");
    let canary: Vec<String> = last["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["batch"] == 1)
        .map(|d| d["device"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(canary.len(), 2, "{last}");
    // Asked over SSH: the canary runs the new version, every other device the old one.
    for (device, running) in versions() {
        let expected = if canary.contains(&device) { "18.4R2" } else { "18.1R3-S2" };
        assert_eq!(running, expected, "{device}");
    }
    let approved = in_lab_store(&state)
        // No --time-scale: the job keeps the lab's own (1000), recorded when it started.
        .args(["approve", "job-0001", "--trust-on-first-use", "--yes", "--format", "json"])
        .output()
        .unwrap();
    assert!(approved.status.success(), "{}", String::from_utf8_lossy(&approved.stderr));
    let stdout = String::from_utf8_lossy(&approved.stdout);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["outcome"], "finished", "{last}");
    let all = versions();
    assert_eq!(all.len(), 18);
    assert!(all.iter().all(|(_, running)| running == "18.4R2"), "{all:?}");
}

const SMALL: &str = "scenarios/small-2spine-4leaf.yaml";

fn small_fleet(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("virtual-devices").join("small-2spine-4leaf.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn stage_then_upgrade_copies_each_image_once_on_the_virtual_driver() {
    let dir = tempfile::tempdir().unwrap();
    let staged = in_store(dir.path(), &["stage", SMALL, "--format", "json", "--parallel", "2"]);
    assert_eq!(staged.code, 0, "{}", staged.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&staged.stdout).unwrap();
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r["outcome"] == "staged" && r["simulated"] == true), "{rows:?}");
    // Staging changes nothing but the file: no upgrade, no maintenance mode.
    for (name, device) in small_fleet(dir.path()) {
        assert_eq!((device["copies"].as_u64(), device["upgrades"].as_u64()), (Some(1), Some(0)), "{name}");
        assert_eq!(device["maintenance"], false, "{name}");
    }
    let again = in_store(dir.path(), &["stage", SMALL, "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&again.stdout).unwrap();
    assert!(rows.iter().all(|r| r["outcome"] == "already-staged"), "{rows:?}");
    let upgraded = in_store(dir.path(), &["upgrade", SMALL, "--yes", "--format", "json"]);
    assert_eq!(upgraded.code, 0, "{}", upgraded.stderr);
    let copies: Vec<serde_json::Value> = json_lines(&upgraded).into_iter().filter(|e| e["step"] == "copy").collect();
    assert_eq!(copies.len(), 6);
    assert!(copies.iter().all(|e| e["message"] == "image already staged, checksum verified"), "{copies:?}");
    for (name, device) in small_fleet(dir.path()) {
        assert_eq!((device["copies"].as_u64(), device["upgrades"].as_u64()), (Some(1), Some(1)), "{name}");
    }
    // Now every device runs the image: staging skips them all.
    let after = in_store(dir.path(), &["stage", SMALL, "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&after.stdout).unwrap();
    assert!(rows.iter().all(|r| r["outcome"] == "skipped"), "{rows:?}");
}

#[test]
fn stage_checks_free_space_first_and_bounds_its_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(SMALL))
        .unwrap()
        .replace("  max_batch_size: 4\n", "  max_batch_size: 4\n  health_checks: {free_disk_min_mb: 100000000}\n");
    let path = dir.path().join("small-2spine-4leaf.yaml");
    std::fs::write(&path, text).unwrap();
    let run = in_store(dir.path(), &["stage", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    for row in &rows {
        assert_eq!(row["outcome"], "failed", "{row}");
        let message = row["message"].as_str().unwrap();
        assert!(message.contains("not enough free space") && message.contains("100000000 MB"), "{message}");
    }
    for (name, device) in small_fleet(dir.path()) {
        assert_eq!(device["copies"].as_u64(), Some(0), "{name}: copied although there was no room");
    }
    for bad in ["0", "129", "many"] {
        let run = in_store(dir.path(), &["stage", SMALL, "--parallel", bad]);
        assert_eq!(run.code, 2, "--parallel {bad}");
        assert!(run.stderr.contains("copies at once"), "{}", run.stderr);
    }
}

/// Killed mid-way, staging is simply run again: what was copied is verified and kept, the rest
/// copied, and no device is copied to twice.
#[test]
fn staging_killed_mid_way_is_run_again_and_copies_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    // At 20 virtual seconds per real second a copy (60 s) takes 3 real seconds; with one copy
    // at a time the kill lands after the first device finished.
    let mut child = Command::new(env!("CARGO_BIN_EXE_hitless"))
        .args(["--state-dir", dir.path().to_str().unwrap(), "stage", SMALL, "--parallel", "1"])
        .args(["--virtual-speed", "20", "-v"])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first device's outcome in the log, then kill.
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        if line.unwrap().contains("copied, checksum verified") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let copied: u64 = small_fleet(dir.path()).values().map(|d| d["copies"].as_u64().unwrap()).sum();
    assert!((1..6).contains(&copied), "the kill landed mid-way: {copied} copied");
    let rerun = in_store(dir.path(), &["stage", SMALL, "--format", "json"]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&rerun.stdout).unwrap();
    let already = rows.iter().filter(|r| r["outcome"] == "already-staged").count() as u64;
    assert_eq!(already, copied, "{rows:?}");
    for (name, device) in small_fleet(dir.path()) {
        assert_eq!(device["copies"].as_u64(), Some(1), "{name}");
    }
}

/// The small scenario with `upgrade.on_failure: rollback` and `faults`, written into `dir`.
fn rollback_scenario(dir: &Path, faults: &str) -> String {
    let text = std::fs::read_to_string(root().join(SMALL))
        .unwrap()
        .replace("  max_batch_size: 4\n", "  max_batch_size: 4\n  on_failure: rollback\n");
    let path = dir.join("small-2spine-4leaf.yaml");
    std::fs::write(&path, format!("{text}faults:\n{faults}")).unwrap();
    path.to_str().unwrap().to_string()
}

/// A post-upgrade check that fails on the new image: with `on_failure: rollback` the device is
/// put back on 18.1R3-S2 (one more reboot), checked healthy there (the fault is the new
/// image's), and only then returned to service; the job halts after the batch. Its batch mate
/// finishes normally; nothing after the batch starts.
#[test]
fn a_post_check_failure_on_the_new_image_is_rolled_back_and_the_device_returns_to_service() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = rollback_scenario(dir.path(), "  - {device: leaf1, kind: health-check-fails, at: post-check}\n");
    let run = in_store(dir.path(), &["upgrade", &scenario, "--yes", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = json_lines(&run);
    let last = lines.last().unwrap();
    assert_eq!(last["outcome"], "halted");
    let state =
        |name: &str| last["devices"].as_array().unwrap().iter().find(|d| d["device"] == name).unwrap()["state"].clone();
    assert_eq!(state("leaf1"), "Rolled Back");
    assert_eq!(state("leaf3"), "Maintenance Mode Deactivated");
    assert_eq!(state("leaf2"), "Pending");
    let leaf1: Vec<(String, String)> = lines
        .iter()
        .filter(|e| e["device"] == "leaf1")
        .map(|e| (e["state"].as_str().unwrap().to_string(), e["step"].as_str().unwrap().to_string()))
        .collect();
    // The order of what was done after the failed check, as the journal says it.
    let after: Vec<&str> = leaf1
        .iter()
        .skip_while(|(state, _)| state != "Health Check Failed")
        .map(|(_, step)| step.as_str())
        .filter(|step| *step != "note")
        .collect();
    assert_eq!(
        after,
        ["failed", "rollback", "reboot", "wait-boot", "booted", "post-check", "undrain", "in-service"],
        "{leaf1:?}"
    );
    let fleet = small_fleet(dir.path());
    let device = &fleet["leaf1"];
    assert_eq!(device["version"], "18.1R3-S2");
    assert_eq!(device["maintenance"], false);
    assert_eq!((device["upgrades"].as_u64(), device["rollbacks"].as_u64()), (Some(1), Some(1)));
    assert!(device["engines"].as_array().unwrap().iter().all(|e| e["pending"].is_null()));
    assert_eq!(fleet["leaf3"]["version"], "18.4R2");
    assert_eq!(fleet["leaf2"]["upgrades"], 0);
    // Every reboot was behind maintenance mode: the replayed traffic lost nothing.
    assert_eq!(last["execution_loss"]["lost_bytes"], 0.0, "{last}");
}

/// An install the device rejects leaves the old software running: nothing to undo, no reboot;
/// the device is checked and returned to service. With the default `hold` it stays drained.
#[test]
fn a_rejected_install_is_rolled_back_without_a_reboot_and_held_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = rollback_scenario(dir.path(), "  - {device: leaf3, kind: install-fails}\n");
    let run = in_store(dir.path(), &["upgrade", &scenario, "--yes", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = json_lines(&run);
    let leaf3: Vec<&serde_json::Value> = lines.iter().filter(|e| e["device"] == "leaf3").collect();
    assert!(
        leaf3.iter().any(|e| e["message"].as_str().unwrap().contains("still running 18.1R3-S2: no software to undo"))
    );
    assert!(!leaf3.iter().any(|e| e["step"] == "reboot"), "nothing to reboot into");
    assert_eq!(leaf3.last().unwrap()["state"], "Rolled Back");
    let device = &small_fleet(dir.path())["leaf3"];
    assert_eq!((device["maintenance"].as_bool(), device["boot_count"].as_u64()), (Some(false), Some(1)));

    let held = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&scenario).unwrap().replace("  on_failure: rollback\n", "");
    let path = held.path().join("small-2spine-4leaf.yaml");
    std::fs::write(&path, text).unwrap();
    let run = in_store(held.path(), &["upgrade", path.to_str().unwrap(), "--yes", "--format", "json"]);
    assert_eq!(run.code, 1);
    let last = json_lines(&run).pop().unwrap();
    let leaf3 = last["devices"].as_array().unwrap().iter().find(|d| d["device"] == "leaf3").unwrap().clone();
    assert_eq!(leaf3["state"], "Hitless Image Upgrade Failed", "{leaf3}");
    assert_eq!(small_fleet(held.path())["leaf3"]["maintenance"], true, "held in maintenance mode");
}

/// Killed anywhere during a rollback and resumed, the device ends rolled back (old software, in
/// service, nothing pending): the resumed job finishes the rollback and never installs the failed
/// image again (one install, at most one rollback reboot, in every case).
#[test]
fn a_kill_during_a_rollback_leaves_the_device_rolled_back_or_held_never_half_done() {
    let probe = tempfile::tempdir().unwrap();
    let faults = "  - {device: leaf1, kind: health-check-fails, at: post-check}\n";
    let scenario = rollback_scenario(probe.path(), faults);
    let run = in_store(probe.path(), &["upgrade", &scenario, "--yes", "--format", "json"]);
    let events = json_lines(&run);
    let first = events.iter().position(|e| e["device"] == "leaf1" && e["state"] == "Health Check Failed").unwrap();
    let last = events.iter().rposition(|e| e["device"] == "leaf1").unwrap();
    for n in (first + 1)..=(last + 1) {
        let dir = tempfile::tempdir().unwrap();
        let scenario = rollback_scenario(dir.path(), faults);
        let mut child = Command::new(env!("CARGO_BIN_EXE_hitless"))
            .args(["--state-dir", dir.path().to_str().unwrap(), "upgrade", &scenario, "--yes"])
            .args(["--virtual-speed", "2000", "--format", "json"])
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut seen = 0;
        for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
            let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            if event.get("seq").is_some() {
                seen += 1;
                if seen >= n {
                    break;
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let resumed = in_store(dir.path(), &["resume", "job-0001", "--yes", "--format", "json"]);
        // Halted by the rollback, or (killed after it ended) finished: the rolled-back device is
        // done and the other batches go on; never an error.
        assert!(resumed.code == 1 || resumed.code == 0, "killed after {n}: {}", resumed.stderr);
        let job = in_store(dir.path(), &["status", "job-0001", "--format", "json"]);
        let job: serde_json::Value = serde_json::from_str(&job.stdout).unwrap();
        let leaf1 = job["devices"].as_array().unwrap().iter().find(|d| d["device"] == "leaf1").unwrap().clone();
        let device = small_fleet(dir.path())["leaf1"].clone();
        let pending = device["engines"].as_array().unwrap().iter().any(|e| !e["pending"].is_null());
        assert_eq!(leaf1["state"], "Rolled Back", "killed after {n}: {leaf1}");
        assert_eq!(device["version"], "18.1R3-S2", "killed after {n}");
        assert_eq!(device["maintenance"], false, "killed after {n}");
        assert!(!pending, "killed after {n}");
        assert_eq!(device["installs"], 1, "killed after {n}: the failed image was installed again");
        assert_eq!(device["upgrades"], 1, "killed after {n}: rebooted into the failed image again");
        assert_eq!(device["rollbacks"], 1, "killed after {n}");
    }
}

/// A window that is open now and closes in about 40 minutes, then opens again 10 minutes after
/// (start = now + 50 min, end = now + 40 min, UTC: it spans midnight and is open 23h 50m a day).
fn window_closing_soon() -> (String, String) {
    window_closing_in(40, 50)
}

/// A window (UTC) open now, closing in about `closes` minutes (HH:MM truncates the seconds) and
/// opening again `opens` minutes from now: (start, end).
fn window_closing_in(closes: i64, opens: i64) -> (String, String) {
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let at =
        |minutes: i64| now.checked_add(jiff::SignedDuration::from_mins(minutes)).unwrap().strftime("%H:%M").to_string();
    (at(opens), at(closes))
}

fn small_with(dir: &Path, upgrade_extra: &str) -> String {
    let text = std::fs::read_to_string(root().join(SMALL))
        .unwrap()
        .replace("  max_batch_size: 4\n", &format!("  max_batch_size: 4\n{upgrade_extra}"));
    let path = dir.join("small-2spine-4leaf.yaml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The window closes about 40 minutes into the job: batch 1 (estimated 24 min 10 s with the
/// pre-check's readings) runs, batch 2 (as long again) would end after the close, so the job pauses for the window. `resume` waits
/// (in the virtual devices' time) for the window to open 10 minutes later and finishes. Every
/// device's work, from drain to back in service, lies inside a window.
#[test]
fn a_window_that_closes_mid_plan_pauses_the_job_and_resume_waits_for_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let (start, end) = window_closing_soon();
    let scenario =
        small_with(dir.path(), &format!("  window: {{start: \"{start}\", end: \"{end}\", timezone: UTC}}\n"));
    let first = in_store(dir.path(), &["upgrade", &scenario, "--yes", "--format", "json"]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    let last = json_lines(&first).pop().unwrap();
    assert_eq!((last["outcome"].as_str(), last["paused_for"].as_str()), (Some("paused"), Some("window")), "{last}");
    // 1,440 s of phases and the pre-check's 10 s: 24 min 10 s, said as 25 min.
    assert!(last["reason"].as_str().unwrap().starts_with("before batch 2: it is estimated at 25 min"), "{last}");
    let done: Vec<&str> = last["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["state"] == "Maintenance Mode Deactivated")
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    assert_eq!(done, ["leaf1", "leaf3"]);

    let resumed = in_store(dir.path(), &["resume", "job-0001", "--yes", "--format", "json"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let lines = json_lines(&resumed);
    assert!(
        lines
            .iter()
            .any(|e| e["device"] == ""
                && e["message"].as_str().unwrap().starts_with("waiting for the maintenance window"))
    );
    assert_eq!(lines.last().unwrap()["outcome"], "finished");

    let window = hitless::window::Window::new(&start, &end, Some("UTC")).unwrap();
    let created =
        serde_json::from_str::<serde_json::Value>(&in_store(dir.path(), &["jobs", "--format", "json"]).stdout).unwrap()
            [0]["created_unix"]
            .as_i64()
            .unwrap();
    let logs = json_lines(&in_store(dir.path(), &["logs", "job-0001", "--format", "json"]));
    // Who started the job and who resumed it are in its journal: the first event, and the
    // resume's at the clock where the job stood.
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
    let first = &logs[0];
    assert_eq!((first["device"].as_str(), first["step"].as_str()), (Some(""), Some("start")), "{first}");
    assert!(first["message"].as_str().unwrap().starts_with(&format!("started by {user}")), "{first}");
    assert!(first["message"].as_str().unwrap().ends_with(": 6 device(s) in 4 batch(es)"), "{first}");
    // Who, as data beside the message (the console streams it).
    assert!(
        first["by"].as_str().unwrap().starts_with(&user) && first["by"].as_str().unwrap().contains(" on "),
        "{first}"
    );
    let resume: Vec<&serde_json::Value> = logs.iter().filter(|e| e["step"] == "resume").collect();
    assert_eq!(resume.len(), 1, "{logs:?}");
    assert!(resume[0]["message"].as_str().unwrap().starts_with(&format!("resumed by {user}")), "{}", resume[0]);
    assert_eq!(resume[0]["by"], first["by"], "{}", resume[0]);
    // A device's events name nobody.
    assert!(logs.iter().filter(|e| e["device"] != "").all(|e| e.get("by").is_none()), "{logs:?}");
    for device in ["leaf1", "leaf2", "leaf3", "leaf4", "spine1", "spine2"] {
        let at: Vec<i64> = logs
            .iter()
            .filter(|e| e["device"] == device && ["drain", "in-service"].contains(&e["step"].as_str().unwrap()))
            .map(|e| created + e["at_seconds"].as_f64().unwrap() as i64)
            .collect();
        assert_eq!(at.len(), 2, "{device}");
        let closes = window.open_at(at[0]).unwrap_or_else(|| panic!("{device} drained outside the window"));
        assert!(at[1] <= closes, "{device} was still at work when the window closed");
    }
}

/// `--now` ignores the window for the run; `--window-end` gives another end; a window in the
/// scenario is checked where it is written; `plan` counts the windows a plan needs.
#[test]
fn window_flags_and_the_windows_a_plan_needs() {
    let dir = tempfile::tempdir().unwrap();
    let (start, end) = window_closing_soon();
    let scenario =
        small_with(dir.path(), &format!("  window: {{start: \"{start}\", end: \"{end}\", timezone: UTC}}\n"));
    assert_eq!(in_store(dir.path(), &["upgrade", &scenario, "--yes"]).code, 1);
    let now = in_store(dir.path(), &["resume", "job-0001", "--yes", "--now", "--format", "json"]);
    assert_eq!(now.code, 0, "{}", now.stderr);
    assert!(!json_lines(&now).iter().any(|e| e["message"].as_str().is_some_and(|m| m.starts_with("waiting for"))));

    // A window end 30 minutes away (HH:MM truncates: 29-30 min of room): batch 1 (24 min) fits,
    // batch 2 does not.
    let other = tempfile::tempdir().unwrap();
    let plain = small_with(other.path(), "");
    let until = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .checked_add(jiff::SignedDuration::from_mins(30))
        .unwrap()
        .strftime("%H:%M")
        .to_string();
    let run = in_store(other.path(), &["upgrade", &plain, "--yes", "--window-end", &until, "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = json_lines(&run);
    let last = lines.last().unwrap();
    assert_eq!(last["paused_for"], "window", "{last}");
    assert!(last["reason"].as_str().unwrap().starts_with("before batch 2"), "{last}");
    // The end it came to mean is said, in the zone and in UTC.
    let said =
        lines.iter().find(|e| e["message"].as_str().is_some_and(|m| m.starts_with("this run keeps to --window-end")));
    let said = said.unwrap_or_else(|| panic!("the effective end is not said: {lines:?}"))["message"].as_str().unwrap();
    assert!(said.contains(&format!(" {until} ")) && said.contains("UTC"), "{said}");
    assert_eq!(in_store(other.path(), &["upgrade", &plain, "--yes", "--window-end", "25:00"]).code, 2);

    // Batches of 1,440, 1,440, 1,560 and 1,560 s, each 10 s more with the pre-check's readings,
    // in a 3,600 s window: 1,450 + 1,450 = 2,900 fit the first; 1,570 + 1,570 = 3,140 the second.
    let hour = small_with(other.path(), "  window: {start: \"02:00\", end: \"03:00\", timezone: Europe/Amsterdam}\n");
    let plan: serde_json::Value = serde_json::from_str(&hitless(&["plan", &hour, "--format", "json"]).stdout).unwrap();
    assert_eq!(plan["windows_needed"], 2, "{plan}");
    assert_eq!(plan["window"], "02:00–03:00 Europe/Amsterdam");
    assert!(hitless(&["plan", &hour]).stdout.contains("needs 2 maintenance window(s) of 02:00–03:00 Europe/Amsterdam"));
    let short = small_with(other.path(), "  window: {start: \"02:00\", end: \"02:20\", timezone: UTC}\n");
    let plan: serde_json::Value = serde_json::from_str(&hitless(&["plan", &short, "--format", "json"]).stdout).unwrap();
    assert!(plan.get("windows_needed").is_none(), "{plan}");
    assert!(
        plan["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("can never start inside it"))
    );

    for (window, error) in [
        ("{start: \"2:00\", end: \"03:00\"}", "is not a time of day"),
        ("{start: \"02:00\", end: \"03:00\", timezone: Mars/Olympus}", "is not an IANA time zone"),
        ("{start: \"02:00\", end: \"02:00\"}", "opens and closes at the same time"),
    ] {
        let text = std::fs::read_to_string(root().join(SMALL))
            .unwrap()
            .replace("  max_batch_size: 4\n", &format!("  max_batch_size: 4\n  window: {window}\n"));
        let (_dir, path) = write_temp("t.yaml", &text);
        let run = hitless(&["validate", path.to_str().unwrap()]);
        assert_eq!(run.code, 2);
        let line = text.lines().position(|l| l.contains("window:")).unwrap() + 1;
        assert!(run.stderr.contains(&format!("t.yaml:{line}:")) && run.stderr.contains(error), "{}", run.stderr);
    }
}

/// Through the lab over SSH (its clock 1000 times faster): the window closes mid-plan, the job
/// pauses, `resume` waits for the window to open again and finishes; every device runs the new
/// version. At 1000 times, the controller's own real time per batch is close to an hour of lab
/// time, so the window closes 40 minutes in and opens again only 5 hours later: the first batch
/// overruns the close (as an estimate may), and the second waits.
#[test]
fn against_the_lab_a_window_pauses_the_job_and_resume_finishes_it() {
    use crate::lab_process::{hitless as in_lab_store, prepare, start_lab};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = prepare(dir.path(), &state);
    let (start, end) = window_closing_in(40, 300);
    let text = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(&scenario, format!("{text}  window: {{start: \"{start}\", end: \"{end}\", timezone: UTC}}\n"))
        .unwrap();
    let _lab = start_lab(&state, &scenario, &[]);
    let junos = ["--driver", "junos", "--trust-on-first-use", "--time-scale", "1000", "--yes", "--format", "json"];
    let started = in_lab_store(&state).arg("upgrade").arg(&scenario).args(junos).output().unwrap();
    assert_eq!(started.status.code(), Some(1), "{}", String::from_utf8_lossy(&started.stderr));
    let stdout = String::from_utf8_lossy(&started.stdout);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["paused_for"], "window", "{last}");
    let resumed = in_lab_store(&state)
        .args(["resume", "job-0001", "--trust-on-first-use", "--time-scale", "1000", "--yes", "--format", "json"])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    assert!(stdout.contains("waiting for the maintenance window"), "{stdout}");
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["outcome"], "finished", "{last}");
    assert!(last["devices"].as_array().unwrap().iter().all(|d| d["state"] == "Maintenance Mode Deactivated"));
}

/// A BGP peer gone on the new image (its configuration lost): no peer is down, so the health
/// checks pass; the snapshot diff taken while the device is still in maintenance mode sees it,
/// fails the device, which stays in maintenance mode (it never carries traffic with a peer
/// missing), and halts the job. `hitless diff` of the two snapshots the log names says the same;
/// a diff of a device with itself finds nothing.
#[test]
fn a_bgp_peer_gone_after_the_upgrade_fails_the_snapshot_diff() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = rollback_scenario(dir.path(), "  - {device: leaf1, kind: bgp-peer-lost}\n");
    let text = std::fs::read_to_string(&scenario).unwrap().replace("  on_failure: rollback\n", "");
    std::fs::write(&scenario, text).unwrap();
    let run = in_store(dir.path(), &["upgrade", &scenario, "--yes", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let last = json_lines(&run).pop().unwrap();
    assert_eq!(last["outcome"], "halted");
    let leaf1 = last["devices"].as_array().unwrap().iter().find(|d| d["device"] == "leaf1").unwrap().clone();
    assert_eq!(leaf1["state"], "Health Check Failed");
    let message = leaf1["message"].as_str().unwrap();
    assert!(message.contains("BGP peers Established before and not after: 10.0.0.1 (gone)"), "{message}");
    assert!(
        message.contains("still in maintenance mode") && message.contains("stays in maintenance mode"),
        "{message}"
    );
    let device = &small_fleet(dir.path())["leaf1"];
    assert_eq!((device["version"].as_str(), device["maintenance"].as_bool()), (Some("18.4R2"), Some(true)));
    // Its batch mate passed its own diff.
    let leaf3 = last["devices"].as_array().unwrap().iter().find(|d| d["device"] == "leaf3").unwrap().clone();
    assert_eq!(leaf3["state"], "Maintenance Mode Deactivated");
    let logs = in_store(dir.path(), &["logs", "job-0001", "--device", "leaf3"]).stdout;
    assert!(logs.contains("taken before maintenance mode") && logs.contains("matches snapshot"), "{logs}");

    let ids: Vec<String> = message
        .split("`hitless diff ")
        .nth(1)
        .unwrap()
        .split('`')
        .next()
        .unwrap()
        .split(' ')
        .map(String::from)
        .collect();
    let diff = in_store(dir.path(), &["diff", &ids[0], &ids[1], "--format", "json"]);
    assert_eq!(diff.code, 1, "{}", diff.stderr);
    let diffs: Vec<serde_json::Value> = serde_json::from_str(&diff.stdout).unwrap();
    assert_eq!(diffs.len(), 1);
    assert!(diffs[0]["findings"][0].as_str().unwrap().contains("10.0.0.1 (gone)"));
    let same = in_store(dir.path(), &["diff", &ids[0], &ids[0]]);
    assert_eq!(same.code, 0, "{}", same.stderr);
    assert_eq!(in_store(dir.path(), &["diff", &ids[0], "999"]).code, 2);
}

/// With `on_failure: rollback`, a diff that fails while the device is still in maintenance mode
/// rolls it back: it returns to service on its old software with every peer, never on the new
/// image with one missing.
#[test]
fn a_diff_that_fails_in_maintenance_mode_rolls_the_device_back() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = rollback_scenario(dir.path(), "  - {device: leaf1, kind: bgp-peer-lost}\n");
    let run = in_store(dir.path(), &["upgrade", &scenario, "--yes", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = json_lines(&run);
    let undrained_on_new = lines.iter().any(|e| {
        e["device"] == "leaf1" && e["step"] == "undrain" && e["state"] == "Deactivating Maintenance Mode" && {
            // Only the undrain after the rollback may happen.
            !lines.iter().any(|r| {
                r["device"] == "leaf1" && r["state"] == "Rolling Back" && r["seq"].as_u64() < e["seq"].as_u64()
            })
        }
    });
    assert!(!undrained_on_new, "leaf1 was returned to service on the new image");
    let last = lines.last().unwrap();
    let leaf1 = last["devices"].as_array().unwrap().iter().find(|d| d["device"] == "leaf1").unwrap().clone();
    assert_eq!(leaf1["state"], "Rolled Back", "{leaf1}");
    let device = &small_fleet(dir.path())["leaf1"];
    assert_eq!((device["version"].as_str(), device["maintenance"].as_bool()), (Some("18.1R3-S2"), Some(false)));
}

/// `hitless snapshot` keeps every selected device's snapshot under one id; after an upgrade,
/// another snapshot diffs clean against it.
#[test]
fn snapshots_on_demand_and_their_diff() {
    let dir = tempfile::tempdir().unwrap();
    let first = in_store(dir.path(), &["snapshot", SMALL, "--format", "json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let first: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(first["devices"].as_object().unwrap().len(), 6);
    // spine1 has four fabric links: four peers, four LLDP neighbours, 4 x 4 routes.
    let spine1 = &first["devices"]["spine1"];
    assert_eq!(spine1["bgp_peers"].as_object().unwrap().len(), 4);
    assert_eq!(spine1["lldp"].as_object().unwrap().len(), 4);
    assert_eq!(spine1["routes"]["inet.0"], 16);
    assert_eq!(in_store(dir.path(), &["upgrade", SMALL, "--yes"]).code, 0);
    let second = in_store(dir.path(), &["snapshot", SMALL, "--format", "json"]);
    let second: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    let (a, b) = (first["id"].to_string(), second["id"].to_string());
    let diff = in_store(dir.path(), &["diff", &a, &b]);
    assert_eq!(diff.code, 0, "{}", diff.stdout);
    assert!(diff.stdout.contains("0 of 6 device(s) differ"), "{}", diff.stdout);
}

/// A baseline that read nothing is no baseline: `diff` against a snapshot whose devices could
/// not be read (a wrong password, say) names each device as not compared and exits 1, never "the
/// same"; against a snapshot that holds no device at all it is an error naming it.
#[test]
fn a_diff_against_a_baseline_that_read_nothing_is_never_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let good = in_store(dir.path(), &["snapshot", SMALL, "--format", "json"]);
    assert_eq!(good.code, 0, "{}", good.stderr);
    let good: serde_json::Value = serde_json::from_str(&good.stdout).unwrap();
    let fabric = hitless::scenario::Scenario::load(&root().join(SMALL)).unwrap().fabric.fingerprint();
    let mut store = hitless::store::Store::open(dir.path()).unwrap();
    let unread = hitless::snapshot::Snapshot { missing: vec!["the login was refused".into()], ..Default::default() };
    let names = ["leaf1", "leaf2", "leaf3", "leaf4", "spine1", "spine2"];
    let devices: Vec<(&str, hitless::journal::SnapshotKind, &hitless::snapshot::Snapshot)> =
        names.iter().map(|n| (*n, hitless::journal::SnapshotKind::Manual, &unread)).collect();
    let empty = hitless::store::snapshots::save(&mut store, &fabric, "unread", None, 0, &devices).unwrap();
    let none = hitless::store::snapshots::save(&mut store, &fabric, "nothing", None, 0, &[]).unwrap();
    drop(store);
    let diff = in_store(dir.path(), &["diff", &empty.to_string(), &good["id"].to_string(), "--format", "json"]);
    assert_eq!(diff.code, 1, "{}\n{}", diff.stdout, diff.stderr);
    let devices: Vec<serde_json::Value> = serde_json::from_str(&diff.stdout).unwrap();
    assert_eq!(devices.len(), 6);
    for device in &devices {
        let findings = device["findings"].as_array().unwrap();
        assert!(
            findings
                .iter()
                .any(|f| f.as_str().unwrap().contains("no baseline")
                    && f.as_str().unwrap().contains("login was refused")),
            "{device}"
        );
    }
    let diff = in_store(dir.path(), &["diff", &empty.to_string(), &good["id"].to_string()]);
    assert!(!diff.stdout.contains("the same"), "{}", diff.stdout);
    let diff = in_store(dir.path(), &["diff", &none.to_string(), &good["id"].to_string()]);
    assert_eq!(diff.code, 2, "{}", diff.stdout);
    assert!(diff.stderr.contains(&format!("snapshot {none} (nothing) holds no device")), "{}", diff.stderr);
}

/// Maintenance mode is committed but the traffic stays (a `drain-ineffective` fault): the drain
/// is not proven within `drain_verify_seconds` (300 s), maintenance mode is lifted again, the
/// device fails untouched (nothing copied, installed or rebooted) and the job halts.
#[test]
fn a_drain_that_moves_no_traffic_is_undone_and_the_device_is_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = rollback_scenario(dir.path(), "  - {device: leaf1, kind: drain-ineffective}\n");
    let run = in_store(dir.path(), &["upgrade", &scenario, "--yes", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = json_lines(&run);
    let leaf1: Vec<&serde_json::Value> = lines.iter().filter(|e| e["device"] == "leaf1").collect();
    let last = leaf1.last().unwrap();
    assert_eq!(last["state"], "Maintenance Mode Failure");
    let message = last["message"].as_str().unwrap();
    assert!(message.contains("still carry 20000 Mbit/s after 300 s") && message.contains("not touched"), "{message}");
    // Drain at 10 s, the drain time (60 s), then 300 s of readings before giving up.
    let drain = leaf1.iter().find(|e| e["step"] == "drain").unwrap()["at_seconds"].as_f64().unwrap();
    let undrain = leaf1.iter().find(|e| e["step"] == "undrain").unwrap()["at_seconds"].as_f64().unwrap();
    assert!((undrain - drain - 360.0).abs() < 11.0, "gave up after {} s", undrain - drain);
    let device = &small_fleet(dir.path())["leaf1"];
    assert_eq!(device["maintenance"], false);
    assert_eq!(
        (device["copies"].as_u64(), device["installs"].as_u64(), device["boot_count"].as_u64()),
        (Some(0), Some(0), Some(1))
    );
    // Every other device of a clean run proves its drain.
    let clean = tempfile::tempdir().unwrap();
    let run = in_store(clean.path(), &["upgrade", SMALL, "--yes", "--format", "json"]);
    let verified = json_lines(&run)
        .iter()
        .filter(|e| e["message"].as_str().is_some_and(|m| m.starts_with("drain verified: its ports carry 2 Mbit/s")))
        .count();
    assert_eq!(verified, 4, "the four leafs (two fabric ports each) prove their drains");
}

/// The fabric is asked again before each batch: while the canary job is paused, leaf4 (leaf3's
/// pair partner) stops answering; on approval the job halts before batch 2 (leaf3) with leaf4
/// named, and leaf3 is not touched. With leaf4 back, `resume` goes on and finishes.
#[test]
fn a_partner_lost_between_batches_halts_the_job_before_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = in_store(dir.path(), &["upgrade", CANARY, "--yes"]);
    assert_eq!(run.code, 1, "paused after the canary: {}", run.stderr);
    let path = dir.path().join("virtual-devices").join("canary.json");
    let set_dead = |dead: bool| {
        let mut devices = fleet(dir.path());
        devices["leaf4"]["dead"] = serde_json::Value::Bool(dead);
        std::fs::write(&path, serde_json::to_string_pretty(&devices).unwrap()).unwrap();
    };
    set_dead(true);
    let approved = in_store(dir.path(), &["approve", "job-0001", "--yes", "--format", "json"]);
    assert_eq!(approved.code, 1, "{}{}", approved.stdout, approved.stderr);
    let last = json_lines(&approved).pop().unwrap();
    assert_eq!(last["outcome"], "halted", "{last}");
    let logs = in_store(dir.path(), &["logs", "job-0001"]).stdout;
    assert!(logs.contains("halted before batch 2, nothing of it touched: out of service now: leaf4"), "{logs}");
    assert_eq!(upgrades(dir.path()).into_iter().filter(|(_, n)| *n > 0).count(), 1, "only the canary");
    assert_eq!(fleet(dir.path())["leaf3"]["maintenance"], false);
    set_dead(false);
    let resumed = in_store(dir.path(), &["resume", "job-0001", "--yes"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    for (name, count) in upgrades(dir.path()) {
        assert_eq!(count, 1, "{name}");
    }
}

/// A window shorter than a batch could never let that batch start: the upgrade is refused before
/// any job exists (the plan already warns); `--now` ignores the window and runs.
#[test]
fn a_window_no_batch_fits_in_is_refused_before_a_job_exists() {
    let dir = tempfile::tempdir().unwrap();
    // Ten minutes a day; every batch of the small fabric is estimated at over 20 minutes.
    let scenario = small_with(dir.path(), "  window: {start: \"02:00\", end: \"02:10\", timezone: UTC}\n");
    let refused = in_store(dir.path(), &["upgrade", &scenario, "--yes"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("could never start"), "{}", refused.stderr);
    let jobs = in_store(dir.path(), &["jobs", "--format", "json"]);
    assert_eq!(jobs.stdout.matches("\"id\"").count(), 0, "a job was created: {}", jobs.stdout);
    let now = in_store(dir.path(), &["upgrade", &scenario, "--yes", "--now"]);
    assert_eq!(now.code, 0, "{}", now.stderr);
}

/// With `on_failure: rollback`, a device that never comes back from its reboot cannot be rolled
/// back: it is held, and its failure says why no rollback was tried.
#[test]
fn a_device_that_never_returns_says_why_it_was_not_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = rollback_scenario(dir.path(), "  - {device: leaf1, kind: never-returns}\n");
    let run = in_store(dir.path(), &["upgrade", &scenario, "--yes", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let last = json_lines(&run).pop().unwrap();
    let leaf1 = last["devices"].as_array().unwrap().iter().find(|d| d["device"] == "leaf1").unwrap().clone();
    assert_eq!(leaf1["state"], "Hitless Image Upgrade Failed", "{leaf1}");
    assert!(leaf1["message"].as_str().unwrap().contains("no rollback was tried"), "{leaf1}");
}

/// Ctrl-C while the job waits for its maintenance window stops the wait, not the job: nothing has
/// begun, the job stays paused for the window (resumable), and no device is cancelled.
#[test]
fn ctrl_c_while_waiting_for_the_window_stops_the_wait_not_the_job() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    // Closed now; opens in an hour (36 s of real time at 100 virtual seconds a second), for one.
    let (start, end) = window_closing_in(120, 60);
    let scenario =
        small_with(dir.path(), &format!("  window: {{start: \"{start}\", end: \"{end}\", timezone: UTC}}\n"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_hitless"))
        .args(["--state-dir", dir.path().to_str().unwrap(), "upgrade", &scenario, "--yes", "--virtual-speed", "100"])
        .args(["--format", "json"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let waiting = lines
        .by_ref()
        .map(|l| serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap())
        .find(|e| e["step"] == "window-wait");
    assert!(waiting.is_some(), "the job never waited for the window");
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let rest: Vec<serde_json::Value> = lines.map(|l| serde_json::from_str(&l.unwrap()).unwrap()).collect();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    let last = rest.last().unwrap();
    assert_eq!((last["outcome"].as_str(), last["paused_for"].as_str()), (Some("paused"), Some("window")), "{last}");
    assert!(last["reason"].as_str().unwrap().contains("stopped with Ctrl-C"), "{last}");
    assert!(last["devices"].as_array().unwrap().iter().all(|d| d["state"] == "Pending"), "{last}");
}

/// A staged image found gone from the device at upgrade time is copied again, and the journal
/// says why (it was staged, and is no longer there with the catalog's checksum).
#[test]
fn a_staged_image_found_gone_is_copied_again_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(in_store(dir.path(), &["stage", SMALL, "--format", "json"]).code, 0);
    // Someone deletes leaf1's staged file.
    let path = dir.path().join("virtual-devices").join("small-2spine-4leaf.json");
    let mut fleet = small_fleet(dir.path());
    fleet["leaf1"]["staged"] = serde_json::Value::Null;
    std::fs::write(&path, serde_json::to_string_pretty(&fleet).unwrap()).unwrap();
    let upgraded = in_store(dir.path(), &["upgrade", SMALL, "--yes", "--format", "json"]);
    assert_eq!(upgraded.code, 0, "{}", upgraded.stderr);
    let copy = |device: &str| {
        json_lines(&upgraded)
            .into_iter()
            .find(|e| e["device"] == device && e["step"] == "copy")
            .map(|e| e["message"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert!(
        copy("leaf1").contains("it was staged with `hitless stage`, but is no longer on the device"),
        "{}",
        copy("leaf1")
    );
    assert_eq!(copy("leaf2"), "image already staged, checksum verified");
}

/// `upgrade.approval: other-user`: the one who started a job cannot approve it (refused, the
/// job stays paused and nothing more is upgraded); someone else can, and the journal says who
/// started it and who approved it.
#[test]
fn with_approval_by_another_user_the_starter_cannot_approve_their_own_job() {
    let text = std::fs::read_to_string(root().join(CANARY)).unwrap().replace(
        "  pause: after-canary       # the default with a canary: never | after-canary | every-batch\n",
        "  pause: after-canary\n  approval: other-user\n",
    );
    assert!(text.contains("approval: other-user"));
    let (dir, scenario) = write_temp("four-eyes.yaml", &text);
    let as_user = |user: &str, args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_hitless"))
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .args(args)
            .env("USER", user)
            .env_remove("LOGNAME")
            .current_dir(root())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run {
            code: output.status.code().unwrap(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    };
    let started = as_user("alice", &["upgrade", scenario.to_str().unwrap(), "--yes", "--format", "json"]);
    assert_eq!(started.code, 1, "paused after the canary: {}", started.stderr);
    let own = as_user("alice", &["approve", "job-0001", "--yes"]);
    assert_ne!(own.code, 0, "the starter approved their own job: {}", own.stdout);
    assert!(own.stderr.contains("job-0001 was started by alice on"), "{}", own.stderr);
    assert!(own.stderr.contains("upgrade.approval: other-user"), "{}", own.stderr);
    let state = dir.path().join("state");
    let status = in_store(&state, &["status", "job-0001", "--format", "json"]);
    let job: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(job["job"]["state"], "paused", "a refused approval changes nothing");
    let approved = as_user("bob", &["approve", "job-0001", "--yes"]);
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    let logs = in_store(&state, &["logs", "job-0001"]);
    assert!(logs.stdout.contains("approved by bob on"), "{}", logs.stdout);
}
