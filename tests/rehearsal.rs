//! The operator's rehearsal, process by process: `hitless lab` in one, `hitless upgrade --driver
//! junos` in another, over real SSH on 127.0.0.1; a controller killed mid-job and resumed. (The
//! same against OpenSSH's client and server is in the `interop` test target, which `.ci/run`
//! runs with the tools installed.)

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::lab_process::{hitless, prepare, start_lab};

const JUNOS: [&str; 6] = ["--driver", "junos", "--trust-on-first-use", "--time-scale", "1000", "--yes"];

#[test]
fn rehearse_an_upgrade_against_the_lab_then_resume_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = prepare(dir.path(), &state);
    let _lab = start_lab(&state, &scenario, &[]);

    // Kill the controller part-way through, then resume: the job finishes, nothing twice.
    let mut controller = hitless(&state)
        .arg("upgrade")
        .arg(&scenario)
        .args(JUNOS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the journal shows a device in its image upgrade (the test run, plan and gate
    // come first), then kill the controller there, mid-job.
    let started = Instant::now();
    loop {
        let status = hitless(&state).args(["status", "job-0001", "--format", "json"]).output().unwrap();
        let upgrading = serde_json::from_slice::<serde_json::Value>(&status.stdout)
            .ok()
            .and_then(|s| s["devices"].as_array().cloned())
            .is_some_and(|devices| devices.iter().any(|d| d["state"] == "Image Upgrade"));
        if upgrading {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "no device reached its image upgrade");
        std::thread::sleep(Duration::from_millis(20));
    }
    controller.kill().unwrap();
    controller.wait().unwrap();
    let log = dir.path().join("resume.log");
    let resumed = hitless(&state)
        .args(["resume", "job-0001", "--trust-on-first-use", "--time-scale", "1000", "--yes", "--format", "json"])
        .args(["-vvv", "--log-file", log.to_str().unwrap()])
        .output()
        .unwrap();
    // The most detailed log holds every NETCONF exchange, and never the password.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("netconf reply") && logged.contains("get-software-information"), "{logged}");
    assert!(!logged.contains(crate::lab_process::LAB_PASSWORD), "the password is in the log");
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    if !stderr.contains("has finished") {
        assert!(resumed.status.success(), "{stdout}\n{stderr}");
        let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(last["outcome"], "finished", "{last}");
    }

    // Every device reports the new version and is back in service, asked over SSH.
    let check = hitless(&state)
        .arg("test-run")
        .arg(&scenario)
        .args(["--driver", "junos", "--format", "json", "--time-scale", "1000"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(rows.len(), 18);
    for row in &rows {
        assert_eq!(row["running"], "18.4R2", "{row}");
        assert_eq!(row["action"], "skip: already running 18.4R2", "{row}");
        assert!(row["problems"].as_array().unwrap().is_empty(), "{row}");
    }
}

/// The lab listens on loopback whatever host a scenario's address names (only its port is used),
/// unless --bind says otherwise.
#[test]
fn the_lab_binds_loopback_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let text = "name: bind
fabric:
  devices:
    - {name: spine1, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.4R2, address: 192.0.2.10:0}
    - {name: leaf1, role: leaf, family: junos-qfx, platform: qfx5120-48y, version: 18.4R2, address: 0.0.0.0:0}
  links: [[spine1, leaf1]]
images:
  - {name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5120-48y, qfx10002-36q], version: 19.1R1}
upgrade:
  assign: [{image: img, devices: all}]
";
    let path = dir.path().join("bind.yaml");
    std::fs::write(&path, text).unwrap();
    let _lab = start_lab(&state, &path, &[]);
    let recorded: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(state.join("lab-addresses.json")).unwrap()).unwrap();
    assert_eq!(recorded.len(), 2);
    for (device, address) in &recorded {
        assert!(address.starts_with("127.0.0.1:"), "{device} listens on {address}");
    }
}

/// One lab per state directory: a second `hitless lab` on the same one is refused at once
/// (exit 2, saying why) and leaves the first one's addresses file as it was.
#[test]
fn a_second_lab_on_the_same_state_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = crate::util::root().join("scenarios/small-2spine-4leaf.yaml");
    let _first = start_lab(&state, &scenario, &[]);
    let addresses = std::fs::read_to_string(state.join("lab-addresses.json")).unwrap();
    let second = hitless(&state)
        .env("HITLESS_LAB_PASSWORD", crate::lab_process::LAB_PASSWORD)
        .args(["lab", scenario.to_str().unwrap()])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("another `hitless lab` is running on the state directory"), "{stderr}");
    assert_eq!(std::fs::read_to_string(state.join("lab-addresses.json")).unwrap(), addresses);
}
