//! `hitless upgrade` end to end on the virtual driver: states, faults, crashes, cancel.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::{Run, hitless, root};

const SMALL: &str = "scenarios/small-2spine-4leaf.yaml";

fn in_store(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--state-dir", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    hitless(&all)
}

/// The small scenario with `extra` appended (faults, options), written into `dir`.
fn scenario_with(dir: &Path, extra: &str) -> String {
    let text = std::fs::read_to_string(root().join(SMALL)).unwrap();
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, format!("{text}{extra}")).unwrap();
    path.to_str().unwrap().to_string()
}

/// Runs `upgrade --yes --format json`; returns the exit code, the events, and the final line.
fn upgrade(dir: &Path, scenario: &str, extra: &[&str]) -> (i32, Vec<serde_json::Value>, serde_json::Value) {
    let mut args = vec!["upgrade", scenario, "--yes", "--format", "json"];
    args.extend_from_slice(extra);
    let run = in_store(dir, &args);
    let mut lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{}", run.stderr)))
        .collect();
    let last = lines.pop().unwrap_or_else(|| panic!("no output; stderr: {}", run.stderr));
    (run.code, lines, last)
}

/// The virtual devices' lasting state.
fn fleet(dir: &Path, scenario_name: &str) -> BTreeMap<String, serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("virtual-devices").join(format!("{scenario_name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// job-0001's journal events (as `logs --format json` gives them) whose step is `step`.
fn job_events_with_step(dir: &Path, step: &str) -> Vec<serde_json::Value> {
    let logs = in_store(dir, &["logs", "job-0001", "--format", "json"]);
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    logs.stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["step"] == step)
        .collect()
}

fn states_of(events: &[serde_json::Value], device: &str) -> Vec<String> {
    events.iter().filter(|e| e["device"] == device).map(|e| e["state"].as_str().unwrap().to_string()).collect()
}

fn final_state(last: &serde_json::Value, device: &str) -> (String, String) {
    let d = last["devices"].as_array().unwrap().iter().find(|d| d["device"] == device).unwrap();
    (d["state"].as_str().unwrap().to_string(), d["message"].as_str().unwrap().to_string())
}

#[test]
fn a_simulated_upgrade_walks_every_state_and_upgrades_each_device_once() {
    let dir = tempfile::tempdir().unwrap();
    let (code, events, last) = upgrade(dir.path(), SMALL, &[]);
    assert_eq!(code, 0);
    assert_eq!(last["outcome"], "finished");
    assert_eq!(last["execution_loss"]["lost_bytes"], 0.0, "the execution itself lost nothing");
    let expected = [
        "Health Check",
        "Health Check", // the snapshot before maintenance mode
        "Activating Maintenance Mode",
        "Activating Maintenance Mode", // waiting for the drain to take effect
        "Activating Maintenance Mode", // the drain verified from the port rates
        "Maintenance Mode Activated",
        "Image Upgrade",
        "Image Upgrade",
        "Image Upgrade",
        "Image Upgrade",
        "Hitless Image Upgrade Successful",
        "Hitless Image Upgrade Successful", // waiting for convergence
        "Health Check",
        "Health Check", // watching it in use for post_check_seconds before the reading
        "Health Check", // the snapshot in maintenance mode matches the one before
        "Deactivating Maintenance Mode",
        "Deactivating Maintenance Mode", // waiting for traffic to return
        "Deactivating Maintenance Mode", // the snapshot after matches the one before
        "Maintenance Mode Deactivated",
    ];
    for device in ["leaf1", "leaf2", "leaf3", "leaf4", "spine1", "spine2"] {
        assert_eq!(states_of(&events, device), expected, "{device}");
    }
    // Leafs before spines, and the pair leaf1/leaf2 never in maintenance together.
    let first =
        |device: &str, state: &str| events.iter().position(|e| e["device"] == device && e["state"] == state).unwrap();
    assert!(first("leaf2", "Activating Maintenance Mode") > first("leaf1", "Maintenance Mode Deactivated"));
    assert!(first("spine1", "Health Check") > first("leaf4", "Maintenance Mode Deactivated"));
    for (name, device) in fleet(dir.path(), "small-2spine-4leaf") {
        assert_eq!(device["version"], "18.4R2", "{name}");
        assert_eq!(device["upgrades"], 1, "{name}");
        assert_eq!(device["maintenance"], false, "{name}");
    }
    // The journal holds the same story; a second upgrade finds nothing left to do.
    let logs = in_store(dir.path(), &["logs", "job-0001", "--device", "spine2"]);
    assert_eq!(logs.stdout.lines().count(), expected.len());
    let run = in_store(dir.path(), &["test-run", SMALL]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.matches("skip: already running 18.4R2").count(), 6, "{}", run.stdout);
}

#[test]
fn faults_end_in_the_right_state_with_the_reason_in_the_logs() {
    let cases = [
        ("never-returns", "Hitless Image Upgrade Failed", "did not finish within", true),
        ("install-fails", "Hitless Image Upgrade Failed", "package validation failed", true),
        ("checksum-mismatch", "Hitless Image Upgrade Failed", "sha-256 of /var/tmp/junos-qfx-18.4R2", true),
        ("health-check-fails, at: post-check", "Health Check Failed", "BGP peers down (10.0.0.1, 10.0.0.2) is 2", true),
    ];
    for (kind, state, reason, in_maintenance) in cases {
        let dir = tempfile::tempdir().unwrap();
        let scenario = scenario_with(dir.path(), &format!("faults:\n  - {{device: leaf3, kind: {kind}}}\n"));
        let (code, _, last) = upgrade(dir.path(), &scenario, &[]);
        assert_eq!(code, 1, "{kind}: halted safely");
        assert_eq!(last["outcome"], "halted", "{kind}");
        let (final_, message) = final_state(&last, "leaf3");
        assert_eq!(final_, state, "{kind}");
        assert!(message.contains(reason), "{kind}: {message}");
        assert_eq!(final_state(&last, "leaf2").0, "Pending", "{kind}: the next batch never starts");
        assert_eq!(final_state(&last, "leaf1").0, "Maintenance Mode Deactivated", "{kind}: its batch mate finishes");
        let devices = fleet(dir.path(), "small-2spine-4leaf");
        assert_eq!(
            devices["leaf3"]["maintenance"], in_maintenance,
            "{kind}: a failed device stays drained, an untouched one does not"
        );
        assert_eq!(devices["leaf2"]["maintenance"], false);
        let logs = in_store(dir.path(), &["logs", "job-0001", "--device", "leaf3"]);
        assert!(logs.stdout.contains(reason), "{kind}: {}", logs.stdout);
        let status = in_store(dir.path(), &["status", "job-0001"]);
        assert!(status.stdout.contains("halted"), "{}", status.stdout);
    }
}

/// A device the test run finds unhealthy or unreachable stops the upgrade before anything is
/// drained (with `abort_on_health_check_failure`, the default): no job, no device touched.
#[test]
fn a_device_the_test_run_finds_unhealthy_or_unreachable_stops_the_upgrade_before_anything_is_drained() {
    for (fault, found) in [
        ("health-check-fails", "leaf3: BGP peers down (10.0.0.1, 10.0.0.2) is 2"),
        ("hang, at: health-check", "leaf3: leaf3: health check did not finish within 60 s"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let scenario = scenario_with(dir.path(), &format!("faults:\n  - {{device: leaf3, kind: {fault}}}\n"));
        let run = in_store(dir.path(), &["upgrade", &scenario, "--yes"]);
        assert_eq!(run.code, 1, "{fault}: {}", run.stderr);
        assert!(run.stderr.contains("refusing to upgrade: the test run found 1 device(s)"), "{}", run.stderr);
        assert!(run.stderr.contains(found), "{fault}: {}", run.stderr);
        assert_eq!(in_store(dir.path(), &["jobs", "--format", "json"]).stdout.trim(), "[]", "{fault}: no job");
        for (name, device) in fleet(dir.path(), "small-2spine-4leaf") {
            assert_eq!(device["maintenance"], false, "{fault}: {name} drained");
            assert_eq!(device["upgrades"], 0, "{fault}: {name}");
        }
    }
}

/// A hung device (links up, answering nothing) at each phase: the call times out, the device
/// ends in the state of the phase it hung in, the job halts, and the simulator replays the same
/// fault as a halt after the batch.
#[test]
fn a_hung_device_times_out_where_it_hung_and_halts_the_job() {
    let cases = [
        ("maintenance", "Maintenance Mode Failure", "maintenance mode did not finish within 60 s", false),
        ("image-copy", "Hitless Image Upgrade Failed", "image copy did not finish within 60 s", true),
        ("install", "Hitless Image Upgrade Failed", "package install did not finish within 60 s", true),
        ("reboot", "Hitless Image Upgrade Failed", "boot did not finish within", true),
        ("post-check", "Health Check Failed", "health check did not finish within 60 s", true),
    ];
    for (at, state, reason, in_maintenance) in cases {
        let dir = tempfile::tempdir().unwrap();
        let scenario = scenario_with(dir.path(), &format!("faults:\n  - {{device: leaf3, kind: hang, at: {at}}}\n"));
        let (code, _, last) = upgrade(dir.path(), &scenario, &[]);
        assert_eq!(code, 1, "{at}: halted safely");
        assert_eq!(last["outcome"], "halted", "{at}");
        let (final_, message) = final_state(&last, "leaf3");
        assert_eq!(final_, state, "{at}: {message}");
        assert!(message.contains(reason), "{at}: {message}");
        assert_eq!(final_state(&last, "leaf2").0, "Pending", "{at}: the next batch never starts");
        let devices = fleet(dir.path(), "small-2spine-4leaf");
        assert_eq!(devices["leaf3"]["hung"], true, "{at}");
        assert_eq!(devices["leaf3"]["maintenance"], in_maintenance, "{at}");
        let simulated = crate::util::hitless(&["simulate", &scenario, "--format", "json"]);
        let report: serde_json::Value = serde_json::from_str(&simulated.stdout).unwrap();
        let warnings = report["warnings"].to_string();
        assert!(warnings.contains("leaf3 (hang at"), "{at}: {warnings}");
        assert_eq!(report["batches"].as_array().unwrap().len(), 1, "{at}: the simulation halts after the batch too");
    }
}

#[test]
fn recoverable_faults_do_not_stop_the_job() {
    for (fault, note) in [
        ("{device: leaf3, kind: slow}", ""),
        ("{device: leaf3, kind: ssh-drop}", "the session dropped during the install"),
        ("{device: leaf3, kind: ssh-drop, at: maintenance}", ""),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let scenario = scenario_with(dir.path(), &format!("faults:\n  - {fault}\n"));
        let (code, events, last) = upgrade(dir.path(), &scenario, &[]);
        assert_eq!(code, 0, "{fault}: {last}");
        assert!(events.iter().any(|e| e["message"].as_str().unwrap().contains(note)), "{fault}");
        assert_eq!(fleet(dir.path(), "small-2spine-4leaf")["leaf3"]["upgrades"], 1, "{fault}");
    }
    // With abort_on_health_check_failure off, a failed check is reported and the upgrade goes on.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(SMALL))
        .unwrap()
        .replace("  max_batch_size: 4\n", "  max_batch_size: 4\n  abort_on_health_check_failure: false\n");
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, format!("{text}faults:\n  - {{device: leaf3, kind: health-check-fails}}\n")).unwrap();
    let (code, events, _) = upgrade(dir.path(), path.to_str().unwrap(), &[]);
    assert_eq!(code, 0);
    assert!(
        events
            .iter()
            .any(|e| e["state"] == "Health Check Failed" && e["message"].as_str().unwrap().contains("continuing"))
    );
}

/// Starts `upgrade` of `scenario` in `dir` as a child process at `speed` virtual seconds per
/// real second, its JSON event stream piped: the caller reads events and acts on them.
fn spawn_upgrade(dir: &Path, scenario: &str, speed: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_hitless"))
        .args(["--state-dir", dir.to_str().unwrap(), "upgrade", scenario, "--yes", "--virtual-speed", speed])
        .args(["--format", "json"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads `child`'s event stream until `wanted` is true of an event (returned) or the stream ends
/// (None).
fn wait_for(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    mut wanted: impl FnMut(&serde_json::Value) -> bool,
) -> Option<serde_json::Value> {
    for line in lines {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event.get("device").is_some() && wanted(&event) {
            return Some(event);
        }
    }
    None
}

/// Kills (SIGKILL) an upgrade of the small scenario right after its `n`-th journal event; true
/// if it was killed mid-job, false if the job ended first.
fn kill_after_events(dir: &Path, n: usize) -> bool {
    use std::io::BufRead;
    let mut child = spawn_upgrade(dir, SMALL, "2000");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = 0;
    let killed = wait_for(&mut lines, |_| {
        seen += 1;
        seen >= n
    })
    .is_some();
    child.kill().unwrap();
    child.wait().unwrap();
    killed
}

/// Every device upgraded exactly once, in service, with nothing pending.
fn assert_all_upgraded_once(dir: &Path, when: &str) {
    for (name, device) in fleet(dir, "small-2spine-4leaf") {
        assert_eq!(device["upgrades"], 1, "{when}: {name} {device}");
        assert_eq!(device["maintenance"], false, "{when}: {name} left drained");
        assert_eq!(device["version"], "18.4R2", "{when}: {name}");
        assert!(device["engines"].as_array().unwrap().iter().all(|e| e["pending"].is_null()), "{when}: {name}");
    }
}

#[test]
fn a_job_killed_at_every_journal_write_resumes_and_upgrades_each_device_exactly_once() {
    // The small scenario journals about 80 events; the kill lands right after each in turn.
    let mut n = 1;
    loop {
        let dir = tempfile::tempdir().unwrap();
        if !kill_after_events(dir.path(), n) {
            assert!(n > 60, "the job journals more than 60 events before it ends");
            break;
        }
        let resumed = in_store(dir.path(), &["resume", "job-0001", "--yes", "--format", "json"]);
        // On a loaded machine the job can end between the event and the kill.
        if !resumed.stderr.contains("has finished") {
            assert_eq!(resumed.code, 0, "killed after event {n}: {}{}", resumed.stdout, resumed.stderr);
        }
        assert_all_upgraded_once(dir.path(), &format!("killed after event {n}"));
        let status = in_store(dir.path(), &["status", "job-0001", "--format", "json"]);
        let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(status["job"]["state"], "finished", "killed after event {n}");
        n += 3;
    }
}

#[test]
fn a_job_killed_anywhere_then_cancelled_leaves_no_device_in_service_with_a_pending_install() {
    let mut n = 2;
    loop {
        let dir = tempfile::tempdir().unwrap();
        if !kill_after_events(dir.path(), n) {
            break;
        }
        let cancel = in_store(dir.path(), &["cancel", "job-0001"]);
        if cancel.stderr.contains("is already finished") {
            // On a loaded machine the job can end between the event and the kill.
            assert_all_upgraded_once(dir.path(), &format!("finished before the kill after event {n}"));
            n += 2;
            continue;
        }
        assert_eq!(cancel.code, 0, "killed after event {n}: {}", cancel.stderr);
        let resumed = in_store(dir.path(), &["resume", "job-0001", "--yes", "--format", "json"]);
        assert!(
            resumed.code == 0 || resumed.code == 1 || resumed.stderr.contains("was cancelled"),
            "killed after event {n}: {}{}",
            resumed.stdout,
            resumed.stderr
        );
        for (name, device) in fleet(dir.path(), "small-2spine-4leaf") {
            let pending = device["engines"].as_array().unwrap().iter().any(|e| !e["pending"].is_null());
            assert!(
                !(pending && device["maintenance"] == false),
                "killed after event {n}, cancelled: {name} is in service with an install pending: {device}"
            );
            assert!(device["upgrades"].as_u64().unwrap() <= 1, "killed after event {n}: {name}");
        }
        n += 2;
    }
}

#[test]
fn a_second_process_cannot_run_a_running_job_and_a_dead_ones_job_is_taken_over() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_upgrade(dir.path(), SMALL, "200");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    wait_for(&mut lines, |e| e["state"] == "Maintenance Mode Activated").expect("the job runs");
    // While the first process runs the job, neither a resume nor a second one may.
    for _ in 0..2 {
        let second = in_store(dir.path(), &["resume", "job-0001", "--yes"]);
        assert_eq!(second.code, 2, "{}{}", second.stdout, second.stderr);
        assert!(second.stderr.contains("job-0001 is being run by process"), "{}", second.stderr);
        assert!(second.stderr.contains(&child.id().to_string()), "the owner is named: {}", second.stderr);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Its process is gone: the next resume takes the job over, and the journal says so.
    let resumed = in_store(dir.path(), &["resume", "job-0001", "--yes", "--format", "json"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    let logs = in_store(dir.path(), &["logs", "job-0001"]);
    assert!(logs.stdout.contains(&format!("took the job over from process {}", child.id())), "{}", logs.stdout);
    assert_all_upgraded_once(dir.path(), "taken over");
}

#[test]
fn cancel_from_another_shell_leaves_nothing_drained() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_upgrade(dir.path(), SMALL, "3000");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // Cancel once the first batch is under way (its devices drained), not after a guessed sleep.
    wait_for(&mut lines, |e| e["state"] == "Maintenance Mode Activated").expect("the job runs");
    let cancel = in_store(dir.path(), &["cancel", "job-0001"]);
    assert_eq!(cancel.code, 0, "{}", cancel.stderr);
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let last: serde_json::Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(last["outcome"], "cancelled");
    let cancelled = last["devices"].as_array().unwrap().iter().filter(|d| d["state"] == "Cancelled").count();
    assert!(cancelled > 0, "something was left undone: {last}");
    // The counters add up: cancelled devices are not "done".
    let upgraded =
        last["devices"].as_array().unwrap().iter().filter(|d| d["state"] == "Maintenance Mode Deactivated").count();
    let status = in_store(dir.path(), &["status", "job-0001"]);
    assert!(status.stdout.contains(&format!(": cancelled, {upgraded} of 6 devices done")), "{}", status.stdout);
    for (name, device) in fleet(dir.path(), "small-2spine-4leaf") {
        assert_eq!(device["maintenance"], false, "{name} left drained");
        assert!(device["upgrades"].as_u64().unwrap() <= 1);
    }
    let again = in_store(dir.path(), &["cancel", "job-0001"]);
    assert!(again.stderr.contains("already cancelled"), "{}", again.stderr);
    // Who asked is in the journal, as a job-level event of its own.
    let asked = job_events_with_step(dir.path(), "cancel");
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0]["message"].as_str().unwrap().starts_with("cancel requested by "), "{asked:?}");
    assert!(asked[0]["by"].as_str().is_some_and(|by| by.contains(" on ")), "{asked:?}");
}

#[test]
fn refusals_are_clear_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // No terminal and no --yes.
    let run = in_store(dir.path(), &["upgrade", SMALL]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("pass --yes to confirm"), "{}", run.stderr);
    // A plan that is not hitless.
    let run = in_store(dir.path(), &["upgrade", "scenarios/unsafe-all-spines.yaml", "--yes"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("refusing to upgrade: the plan is NOT HITLESS"), "{}", run.stderr);
    assert!(in_store(dir.path(), &["jobs", "--format", "json"]).stdout.trim() == "[]");
    // A real upgrade needs catalog images, whose checksums can be verified on the device.
    let run = in_store(dir.path(), &["upgrade", SMALL, "--yes", "--driver", "junos"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("image junos-qfx-18.4R2 is inline (metadata only)"), "{}", run.stderr);
    // A second job on a fabric whose first job halted.
    let scenario = scenario_with(dir.path(), "faults:\n  - {device: leaf3, kind: install-fails}\n");
    assert_eq!(upgrade(dir.path(), &scenario, &[]).0, 1);
    let run = in_store(dir.path(), &["upgrade", SMALL, "--yes"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("job job-0001 is halted on this fabric"), "{}", run.stderr);
    let run = in_store(dir.path(), &["status", "job-0042"]);
    assert!(run.stderr.contains("no job job-0042"), "{}", run.stderr);
}

#[test]
fn allow_loss_upgrades_a_lossy_plan_after_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, last) = upgrade(dir.path(), "scenarios/unsafe-all-spines.yaml", &["--allow-loss"]);
    assert_eq!(code, 0);
    assert_eq!(last["outcome"], "finished");
    // Replaying what the execution did through the traffic model shows the loss it caused.
    let loss = &last["execution_loss"];
    assert!(loss["lost_bytes"].as_f64().unwrap() > 0.0, "{loss}");
    assert!(loss["worst"]["cause"]["device"].as_str().unwrap().starts_with("spine"), "{loss}");
}

#[test]
fn devices_and_image_flags_narrow_the_selection() {
    let dir = tempfile::tempdir().unwrap();
    let run = in_store(dir.path(), &["test-run", SMALL, "--devices", "leaf1,spine1", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    let mut names: Vec<&str> = rows.iter().map(|r| r["device"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["leaf1", "spine1"]);
    let (code, _, last) = upgrade(dir.path(), SMALL, &["--devices", "leaf1,leaf3", "--image", "junos-qfx-18.4R2"]);
    assert_eq!(code, 0);
    let done: Vec<&str> = last["devices"].as_array().unwrap().iter().map(|d| d["device"].as_str().unwrap()).collect();
    assert_eq!(done, ["leaf1", "leaf3"]);
    let devices = fleet(dir.path(), "small-2spine-4leaf");
    assert_eq!((devices["leaf1"]["upgrades"].as_u64(), devices["leaf2"]["upgrades"].as_u64()), (Some(1), Some(0)));
    for (args, message) in [
        (vec!["test-run", SMALL, "--devices", "leaf9"], "--devices names unknown device leaf9"),
        (
            vec!["test-run", SMALL, "--image", "junos-99"],
            "--image names unknown image junos-99; the scenario has junos-qfx-18.4R2",
        ),
    ] {
        let run = in_store(dir.path(), &args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn rewording_the_journal_changes_no_traffic_verdict() {
    use hitless::journal::Step;
    use hitless::simulate::replay::replay;
    use hitless::store::{Store, jobs};

    let dir = tempfile::tempdir().unwrap();
    let (code, _, last) = upgrade(dir.path(), "scenarios/unsafe-all-spines.yaml", &["--allow-loss"]);
    assert_eq!(code, 0);
    let reported = last["execution_loss"]["lost_bytes"].as_f64().unwrap();
    assert!(reported > 0.0, "this execution loses traffic: {last}");
    let events = jobs::events(&Store::open(dir.path()).unwrap(), "job-0001", None).unwrap();
    let scenario = hitless::scenario::Scenario::load(&root().join("scenarios/unsafe-all-spines.yaml")).unwrap();
    let original = replay(&scenario, &events);
    assert_eq!(original.lost_bytes, reported);
    // Every message rewritten, including into the words the replay once matched on.
    for wording in ["", "rebooting", "running 21.4R3", "x"] {
        let mut reworded = events.clone();
        reworded.iter_mut().for_each(|e| e.message = wording.to_string());
        assert_eq!(replay(&scenario, &reworded), original, "messages rewritten to {wording:?}");
    }
    // The typed step is what decides: without it the replay sees nothing happen.
    let mut stepless = events.clone();
    stepless.iter_mut().for_each(|e| e.step = Step::Note);
    assert_eq!(replay(&scenario, &stepless).lost_bytes, 0.0);
}

#[test]
fn the_old_names_of_the_virtual_driver_still_work() {
    // `--driver sim` and `--sim-speed` were spelled out before the virtual driver had its name.
    let dir = tempfile::tempdir().unwrap();
    let run = in_store(dir.path(), &["test-run", SMALL, "--driver", "sim", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (code, _, last) = upgrade(dir.path(), SMALL, &["--driver", "sim", "--sim-speed", "1000000"]);
    assert_eq!((code, last["outcome"].as_str()), (0, Some("finished")));
    let jobs = in_store(dir.path(), &["jobs", "--format", "json"]);
    let jobs: serde_json::Value = serde_json::from_str(&jobs.stdout).unwrap();
    assert_eq!(jobs[0]["driver"], "virtual");
}

/// Runs `upgrade` on `scenario` in `dir` as a child process and kills it (SIGKILL) as soon as its
/// event stream shows `device` entering `step`: the kill lands at a known point, not after a
/// guessed sleep. Returns false if the job ended first.
fn kill_at(dir: &Path, scenario: &str, device: &str, step: &str) -> bool {
    use std::io::BufRead;
    let state = dir.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hitless"))
        .args(["--state-dir", state, "upgrade", scenario, "--yes", "--virtual-speed", "2000", "--format", "json"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["device"] == device && event["step"] == step {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
    }
    child.wait().unwrap();
    false
}

#[test]
fn virtual_devices_killed_during_an_install_are_installed_exactly_once_on_every_engine() {
    let scenario = "scenarios/dual-engine-and-vc.yaml";
    for device in ["leaf1", "leaf2", "spine2"] {
        let dir = tempfile::tempdir().unwrap();
        assert!(kill_at(dir.path(), scenario, device, "install"), "{device} never installed");
        let resumed = in_store(dir.path(), &["resume", "job-0001", "--yes", "--format", "json"]);
        assert_eq!(resumed.code, 0, "{device}: {}{}", resumed.stdout, resumed.stderr);
        for (name, state) in fleet(dir.path(), "dual-engine-and-vc") {
            let engines = state["engines"].as_array().unwrap();
            assert_eq!(
                state["installs"].as_u64(),
                Some(engines.len() as u64),
                "killed in {device}'s install: {name} {state}"
            );
            assert!(engines.iter().all(|e| e["version"] == "21.4R3-S5.4" && e["pending"].is_null()), "{name} {state}");
            assert_eq!(
                (state["upgrades"].as_u64(), &state["maintenance"]),
                (Some(1), &serde_json::json!(false)),
                "{name}"
            );
        }
    }
}

/// A scenario whose devices have management addresses describes real switches: without
/// --driver, neither test-run nor upgrade goes on simulated devices by surprise; with the
/// virtual driver, every output says the devices are simulated.
#[test]
fn simulated_devices_are_never_a_surprise() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(SMALL))
        .unwrap()
        .replace("name: leaf1, role: leaf,", "name: leaf1, role: leaf, address: 10.0.0.11:830,");
    assert!(text.contains("10.0.0.11:830"));
    let path = dir.path().join("real.yaml");
    std::fs::write(&path, text).unwrap();
    for command in ["test-run", "upgrade"] {
        let run = in_store(dir.path(), &[command, path.to_str().unwrap(), "--yes"]);
        assert_eq!(run.code, 2, "{command}");
        assert!(
            run.stderr.contains("leaf1 at 10.0.0.11:830") && run.stderr.contains("--driver junos"),
            "{}",
            run.stderr
        );
    }
    // Said as simulated: the table outputs, the JSON stream and the status.
    let run = in_store(dir.path(), &["test-run", path.to_str().unwrap(), "--driver", "virtual"]);
    assert!(run.stdout.contains("SIMULATED devices"), "{}", run.stdout);
    let run = in_store(dir.path(), &["upgrade", SMALL, "--yes"]);
    assert!(run.stdout.contains("Devices are SIMULATED"), "{}", run.stdout);
    let (_, events, last) = upgrade(tempfile::tempdir().unwrap().path(), SMALL, &[]);
    assert!(events.iter().all(|e| e["simulated"] == true) && last["simulated"] == true, "{last}");
    let status = in_store(dir.path(), &["status", "job-0001"]);
    assert!(status.stdout.contains("SIMULATED devices"), "{}", status.stdout);
    let status = in_store(dir.path(), &["status", "job-0001", "--format", "json"]);
    assert!(status.stdout.contains("\"simulated\": true"), "{}", status.stdout);
}

/// -v and --log-format json write the job's spans (job, batch, device, with durations) and each
/// state change to the log file, one JSON object a line; without -v the log stays quiet.
#[test]
fn the_log_shows_the_job_batch_by_batch_device_by_device() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hitless.log");
    let run = in_store(
        dir.path(),
        &["upgrade", SMALL, "--yes", "-v", "--log-format", "json", "--log-file", log.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().any(|l| l["fields"]["message"] == "batch starts" && l["span"]["job"] == "job-0001"));
    let closed_devices =
        lines.iter().filter(|l| l["span"]["name"] == "device" && l["fields"]["time.busy"].is_string()).count();
    assert_eq!(closed_devices, 6, "each device's span closes with its duration");
    assert!(
        lines.iter().any(|l| l["fields"]["state"] == "Maintenance Mode Deactivated" && l["span"]["device"] == "spine2")
    );
    let quiet = in_store(tempfile::tempdir().unwrap().path(), &["upgrade", SMALL, "--yes"]);
    assert!(!quiet.stderr.contains("INFO"), "{}", quiet.stderr);
}

/// A stopped owner (SIGSTOP, as a hung or suspended `upgrade`) is not taken over on its own host,
/// however long it has been silent: `resume` names its pid and `--force`. `resume --force` takes
/// the job over and finishes it; the stopped process, continued, is fenced: it writes nothing
/// more to the journal (no "Cancelled", the job stays finished) and exits saying so.
#[test]
fn a_stopped_owner_is_not_taken_over_without_force_and_is_fenced_after() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_upgrade(dir.path(), SMALL, "200");
    let pid = child.id().to_string();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    wait_for(&mut lines, |e| e["state"] == "Maintenance Mode Activated").expect("the job runs");
    // Stopped between two of its journal writes (a process stopped inside a write keeps the
    // database locked, so it is let go on to its next event and stopped again), with its last
    // sign of life two minutes ago, as if it had been stopped that long.
    let db = rusqlite::Connection::open(dir.path().join("hitless.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_millis(300)).unwrap();
    let mut stopped_between_writes = false;
    for _ in 0..50 {
        assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
        let fleet = std::fs::File::open(dir.path().join("virtual-devices/small-2spine-4leaf.lock")).unwrap();
        let fleet_free = fleet.try_lock().is_ok();
        drop(fleet);
        if fleet_free && db.execute("UPDATE job_leases SET heartbeat_unix = heartbeat_unix - 120", []).is_ok() {
            stopped_between_writes = true;
            break;
        }
        assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
        wait_for(&mut lines, |_| true).expect("the job runs on");
    }
    assert!(stopped_between_writes, "the owner was always stopped inside a write");
    drop(db);
    let refused = in_store(dir.path(), &["resume", "job-0001", "--yes"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains(&format!("held by process {pid} on this host")), "{}", refused.stderr);
    assert!(refused.stderr.contains("hitless resume --force job-0001"), "{}", refused.stderr);

    let forced = in_store(dir.path(), &["resume", "job-0001", "--force", "--yes", "--format", "json"]);
    assert_eq!(forced.code, 0, "{}{}", forced.stdout, forced.stderr);
    let events_at_takeover = in_store(dir.path(), &["logs", "job-0001", "--format", "json"]).stdout.lines().count();
    assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}\n{rest:?}");
    assert!(stderr.contains("job-0001 was taken over by"), "{stderr}");
    let logs = in_store(dir.path(), &["logs", "job-0001", "--format", "json"]);
    assert_eq!(logs.stdout.lines().count(), events_at_takeover, "the fenced process wrote to the journal");
    assert!(logs.stdout.contains("taken over with --force"), "{}", logs.stdout);
    assert!(!logs.stdout.contains("Cancelled"), "{}", logs.stdout);
    let status = in_store(dir.path(), &["status", "job-0001", "--format", "json"]);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["job"]["state"], "finished");
    assert_all_upgraded_once(dir.path(), "after a forced takeover");
}

/// An owner killed and not yet reaped (a zombie: its `/proc` entry is still there) is gone:
/// `resume` takes the job over at once instead of waiting for its lease to go stale.
#[test]
fn a_killed_owner_not_yet_reaped_is_taken_over_at_once() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_upgrade(dir.path(), SMALL, "200");
    let pid = child.id().to_string();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    wait_for(&mut lines, |e| e["state"] == "Maintenance Mode Activated").expect("the job runs");
    // SIGKILL without waiting: the process stays a zombie until this test reaps it.
    assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    let zombie = (0..500).any(|_| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie {
            std::thread::yield_now();
        }
        zombie
    });
    assert!(zombie, "the killed process is a zombie until reaped");
    let resumed = in_store(dir.path(), &["resume", "job-0001", "--yes", "--format", "json"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    child.wait().unwrap();
    let logs = in_store(dir.path(), &["logs", "job-0001"]);
    assert!(logs.stdout.contains(&format!("took the job over from process {pid}")), "{}", logs.stdout);
    assert_all_upgraded_once(dir.path(), "after a zombie owner");
}

/// One open job per device, whichever scenario names it: while a job on the small fabric is open
/// (halted), a second scenario naming some of the same switches (another fabric fingerprint) is
/// refused, naming the job and the device; so is one that calls a switch by another name at the
/// same management address. Once the first job is cancelled, the second may start.
#[test]
fn two_scenarios_sharing_switches_cannot_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let addressed = std::fs::read_to_string(root().join(SMALL))
        .unwrap()
        .replace("version: 18.1R3-S2}", "version: 18.1R3-S2, address: ADDR}")
        .lines()
        .map(|line| match line.split("name: ").nth(1).and_then(|rest| rest.split(',').next()) {
            Some(name) if line.contains("ADDR") => {
                line.replace("ADDR", &format!("192.0.2.{}", name.len() + name.chars().last().unwrap() as usize))
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let first = dir.path().join("small.yaml");
    std::fs::write(&first, format!("{addressed}\nfaults:\n  - {{device: leaf3, kind: install-fails}}\n")).unwrap();
    let run = in_store(dir.path(), &["upgrade", first.to_str().unwrap(), "--driver", "virtual", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // A part of the same fabric: two spines, one leaf pair, one server.
    let part: String = addressed
        .lines()
        .filter(|l| !["leaf3", "leaf4", "bms2", "bms3", "bms4"].iter().any(|d| l.contains(d)))
        .map(|l| {
            format!(
                "{}\n",
                l.replace("name: small-2spine-4leaf", "name: part").replace("max_batches: 4", "max_batches: 3")
            )
        })
        .collect();
    let second = dir.path().join("part.yaml");
    std::fs::write(&second, &part).unwrap();
    let refused = in_store(dir.path(), &["upgrade", second.to_str().unwrap(), "--driver", "virtual", "--yes"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("belongs to job job-0001 (halted"), "{}", refused.stderr);
    // The same switch under another name, at the same address.
    let renamed = dir.path().join("renamed.yaml");
    std::fs::write(
        &renamed,
        part.replace("leaf1", "tor-a")
            .replace("spine1", "core-a")
            .replace("spine2", "core-b")
            .replace("leaf2", "tor-b"),
    )
    .unwrap();
    let refused = in_store(dir.path(), &["upgrade", renamed.to_str().unwrap(), "--driver", "virtual", "--yes"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("belongs to job job-0001") && refused.stderr.contains(", at 192.0.2."),
        "{}",
        refused.stderr
    );
    assert_eq!(
        in_store(dir.path(), &["jobs", "--format", "json"]).stdout.matches("\"id\"").count(),
        1,
        "no second job"
    );
    assert_eq!(in_store(dir.path(), &["cancel", "job-0001"]).code, 0);
    let run = in_store(dir.path(), &["upgrade", second.to_str().unwrap(), "--driver", "virtual", "--yes"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// The case, on the virtual driver: a job halts with leaf3 failed (it never came back
/// from its reboot) and is cancelled; upgrading leaf3's ESI-LAG partner leaf4 alone is then
/// refused by the gate, which names leaf3 as out of service, and leaf4 is not touched. Upgrading
/// leaf2 (whose pair is whole) goes on, with leaf3 down in its simulation.
#[test]
fn a_partner_already_down_makes_the_gate_refuse_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = "scenarios/faults-in-execution.yaml";
    assert_eq!(in_store(dir.path(), &["upgrade", scenario, "--yes"]).code, 1);
    assert_eq!(in_store(dir.path(), &["cancel", "job-0001"]).code, 0);
    let refused = in_store(dir.path(), &["upgrade", scenario, "--devices", "leaf4", "--yes"]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("leaf3 (down): it does not answer"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("refusing to upgrade") && refused.stderr.contains("with leaf3 out of service"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stdout.contains("HITLESS"), "{}", refused.stdout);
    let leaf4 = &fleet(dir.path(), "faults-in-execution")["leaf4"];
    assert_eq!((leaf4["upgrades"].as_u64(), leaf4["maintenance"].as_bool()), (Some(0), Some(false)), "{leaf4}");
    assert_eq!(
        in_store(dir.path(), &["jobs", "--format", "json"]).stdout.matches("\"id\"").count(),
        1,
        "no job started"
    );

    let other = in_store(dir.path(), &["upgrade", scenario, "--devices", "leaf2", "--yes"]);
    assert_eq!(other.code, 0, "{}{}", other.stdout, other.stderr);
    assert!(other.stdout.contains("Simulation gate: the plan is HITLESS"), "{}", other.stdout);
}

/// A partner held in maintenance mode (its install failed, `on_failure: hold`) is drained in the
/// gate's simulation: its pair partner is refused, naming it.
#[test]
fn a_partner_held_in_maintenance_mode_makes_the_gate_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_with(dir.path(), "faults:\n  - {device: leaf3, kind: install-fails}\n");
    assert_eq!(in_store(dir.path(), &["upgrade", &scenario, "--yes"]).code, 1);
    assert_eq!(in_store(dir.path(), &["cancel", "job-0001"]).code, 0);
    assert_eq!(fleet(dir.path(), "small-2spine-4leaf")["leaf3"]["maintenance"], true);
    let refused = in_store(dir.path(), &["upgrade", &scenario, "--devices", "leaf4", "--yes"]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("leaf3 (drained): it is in maintenance mode"), "{}", refused.stderr);
    assert_eq!(fleet(dir.path(), "small-2spine-4leaf")["leaf4"]["upgrades"], 0);
}

/// A scenario may declare a device out of service (`out_of_service: REASON`): `simulate` goes
/// around it from the start and reports it; upgrading its pair partner alone loses traffic.
#[test]
fn a_device_declared_out_of_service_is_down_in_the_simulation() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(SMALL))
        .unwrap()
        .replace(
            "{name: leaf2, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.1R3-S2}",
            "{name: leaf2, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.1R3-S2, out_of_service: \"RMA: PSU\"}",
        )
        .replace("{image: junos-qfx-18.4R2, devices: all}", "{image: junos-qfx-18.4R2, devices: [leaf1]}");
    let path = dir.path().join("declared.yaml");
    std::fs::write(&path, text).unwrap();
    let run = hitless(&["simulate", path.to_str().unwrap(), "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stderr));
    assert_eq!(report["hitless"], false, "{report}");
    assert_eq!(report["out_of_service"][0]["device"], "leaf2");
    assert!(report["out_of_service"][0]["why"].as_str().unwrap().contains("RMA: PSU"));
    // bms1 and bms2 hang off leaf1 and leaf2 alone: they lose; bms3 and bms4 do not.
    let losers: Vec<&str> =
        report["flows_with_loss"].as_array().unwrap().iter().map(|f| f["src"].as_str().unwrap()).collect();
    assert!(
        !losers.is_empty() && losers.iter().all(|s| ["bms1", "bms2", "bms3", "bms4", "external"].contains(s)),
        "{losers:?}"
    );
    assert_eq!(
        report["baseline_lost_bytes"], 0.0,
        "nothing is lost before leaf1 is touched: leaf2's servers use leaf1"
    );
}

/// A log kept at its default level (warnings and errors) still says why a job halted: each
/// device failure and the job's end are warnings (`--log-format json --log-file F`, no `-v`).
#[test]
fn failures_and_a_halted_end_are_warnings_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hitless.log");
    let run = in_store(
        dir.path(),
        &[
            "--log-format",
            "json",
            "--log-file",
            log.to_str().unwrap(),
            "upgrade",
            "scenarios/faults-in-execution.yaml",
            "--yes",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let failed = lines.iter().find(|l| l["fields"]["state"] == "Hitless Image Upgrade Failed");
    let failed = failed.unwrap_or_else(|| panic!("no failure in the log: {text}"));
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["fields"]["device"], "leaf3");
    assert!(lines.iter().any(|l| l["level"] == "WARN" && l["fields"]["state"] == "halted"), "{text}");
}

/// Ctrl-C (SIGINT) is journaled as a cancel request, once, before the job stops.
#[test]
fn ctrl_c_is_journaled_as_a_cancel_request() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_upgrade(dir.path(), SMALL, "3000");
    let pid = child.id().to_string();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    wait_for(&mut lines, |e| e["state"] == "Maintenance Mode Activated").expect("the job runs");
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    let last: serde_json::Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(last["outcome"], "cancelled", "{last}");
    let asked = job_events_with_step(dir.path(), "cancel");
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0]["message"].as_str().unwrap().contains("Ctrl-C"), "{asked:?}");
    // Who pressed it: the operator running the job, in the message and as data.
    let by = asked[0]["by"].as_str().unwrap_or_default();
    assert!(by.contains(" on ") && asked[0]["message"].as_str().unwrap().contains(by), "{asked:?}");
}

/// Commands that only read a job or a snapshot do not create a store where none is: on an empty
/// state directory they say so (exit 2) and leave it empty.
#[test]
fn reading_commands_on_an_empty_state_directory_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["status", "job-0001"],
        vec!["logs", "job-0001"],
        vec!["diff", "1", "2"],
        vec!["cancel", "job-0001"],
        vec!["resume", "job-0001", "--yes"],
    ] {
        let run = in_store(dir.path(), &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("no state store in"), "{args:?}: {}", run.stderr);
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "something was created");
}

/// A scenario with no upgrade section (a discovered fabric before its image is named) loads and
/// plans nothing; `upgrade` says there is nothing to upgrade and creates no job.
#[test]
fn a_scenario_that_assigns_nothing_loads_and_upgrades_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(SMALL)).unwrap();
    let fabric_only = &text[..text.find("images:").unwrap()];
    let path = dir.path().join("fabric-only.yaml");
    std::fs::write(&path, fabric_only).unwrap();
    let path = path.to_str().unwrap();
    let validated = hitless(&["validate", path]);
    assert_eq!(validated.code, 0, "{}", validated.stderr);
    assert!(validated.stdout.contains("0 to upgrade"), "{}", validated.stdout);
    let run = in_store(dir.path(), &["upgrade", path, "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("nothing to upgrade"), "{}", run.stderr);
    assert_eq!(in_store(dir.path(), &["jobs", "--format", "json"]).stdout.matches("\"id\"").count(), 0);
    // An upgrade section that assigns nothing is still an error where it is written.
    std::fs::write(dir.path().join("empty.yaml"), format!("{fabric_only}upgrade:\n  assign: []\n")).unwrap();
    assert_eq!(hitless(&["validate", dir.path().join("empty.yaml").to_str().unwrap()]).code, 2);
}

/// `-vv` shows what the virtual driver does (each device read or changed, at debug level); without
/// it, none of that is in the log.
#[test]
fn debug_logging_shows_the_virtual_devices_calls() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("debug.log");
    let run = in_store(dir.path(), &["-vv", "--log-file", log.to_str().unwrap(), "upgrade", SMALL, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("virtual device changed") && text.contains("operation=\"maintenance mode\""), "{text}");
    let quiet = dir.path().join("quiet.log");
    let other = tempfile::tempdir().unwrap();
    let run = in_store(other.path(), &["--log-file", quiet.to_str().unwrap(), "upgrade", SMALL, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!std::fs::read_to_string(&quiet).unwrap().contains("virtual device"));
}

/// The confirmation is the front end's to ask: without `--yes` and without a terminal the
/// upgrade refuses (exit 2); on a terminal, "n" declines (exit 2); either way no job is created
/// and no device touched. "y" goes on.
#[test]
fn an_upgrade_starts_only_once_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let scenario = "scenarios/small-2spine-4leaf.yaml";
    let no_terminal = in_store(dir.path(), &["upgrade", scenario]);
    assert_eq!(no_terminal.code, 2, "{}", no_terminal.stderr);
    assert!(
        no_terminal.stderr.contains("there is no terminal to ask on; pass --yes to confirm"),
        "{}",
        no_terminal.stderr
    );
    let declined = crate::util::on_terminal(&["--state-dir", state, "upgrade", scenario], 120, "n\n");
    assert_eq!(declined.code, 2, "{}", declined.stdout);
    assert!(
        declined.stdout.contains("Upgrade 6 devices of small-2spine-4leaf in 4 batches? [y/N]"),
        "{}",
        declined.stdout
    );
    assert!(declined.stdout.contains("not confirmed; nothing was changed"), "{}", declined.stdout);
    let jobs = in_store(dir.path(), &["jobs", "--format", "json"]);
    assert_eq!(jobs.stdout.trim(), "[]", "no job was created");
    let confirmed = crate::util::on_terminal(&["--state-dir", state, "upgrade", scenario], 120, "y\n");
    assert_eq!(confirmed.code, 0, "{}", confirmed.stdout);
    assert!(confirmed.stdout.contains("finished: every device upgraded or skipped"), "{}", confirmed.stdout);
}

/// A fabric with Arista EOS devices runs on virtual devices; the Junos driver and the lab, which
/// speak NETCONF and emulate Junos, refuse it before anything is asked or started.
#[test]
fn eos_devices_are_upgraded_virtually_and_refused_by_the_junos_driver() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let virtual_run = crate::util::hitless(&[
        "--state-dir",
        state,
        "upgrade",
        "scenarios/mixed-junos-arista.yaml",
        "--yes",
        "--format",
        "json",
    ]);
    assert_eq!(virtual_run.code, 0, "{}", virtual_run.stderr);
    let summary: serde_json::Value = serde_json::from_str(virtual_run.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["outcome"], "finished");
    let versions: Vec<(String, String)> = virtual_run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["step"] == "in-service")
        .map(|e| (e["device"].as_str().unwrap().to_string(), e["message"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(versions.len(), 6, "{versions:?}");
    for (device, message) in &versions {
        let want = if device.starts_with("leaf") { "4.32.2F" } else { "23.4R2" };
        assert!(message.contains(want), "{device}: {message}");
    }
    let other = dir.path().join("other");
    let other = other.to_str().unwrap();
    let junos = crate::util::hitless(&[
        "--state-dir",
        other,
        "upgrade",
        "scenarios/mixed-junos-arista.yaml",
        "--driver",
        "junos",
        "--yes",
    ]);
    assert_eq!(junos.code, 2);
    assert!(junos.stderr.contains("Arista EOS devices (leaf1, leaf2, leaf3, ...)"), "{}", junos.stderr);
    let jobs = crate::util::hitless(&["--state-dir", other, "jobs", "--format", "json"]);
    if jobs.code == 0 {
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&jobs.stdout).unwrap(),
            serde_json::json!([]),
            "no job was made"
        );
    }
    assert!(junos.stderr.contains("--driver native"), "{}", junos.stderr);
}
