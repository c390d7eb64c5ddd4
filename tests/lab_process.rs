//! Running `hitless lab` (and the binary against it) as separate processes, for the rehearsal
//! and interop tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::root;

pub const LAB_PASSWORD: &str = "rehearsal-only";

/// A `hitless lab` process, killed when dropped.
pub struct LabProcess(Child);

impl Drop for LabProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn hitless(state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hitless"));
    command.current_dir(root()).arg("--state-dir").arg(state).env("HITLESS_SSH_PASSWORD", LAB_PASSWORD);
    command
}

/// A catalog image in `state` and a scenario using it by name, written to `dir`.
pub fn prepare(dir: &Path, state: &Path) -> PathBuf {
    let package = dir.join("jinstall-host-qfx-5e-x86-64-18.4R2-secure-signed.tgz");
    std::fs::write(&package, vec![42u8; 50_000]).unwrap();
    let added = hitless(state)
        .args(["image", "add", "--name", "junos-18.4R2", "--file", package.to_str().unwrap(), "--vendor", "juniper"])
        .args(["--family", "junos-qfx", "--platforms", "qfx5120-48y,qfx10002-36q", "--os-version", "18.4R2"])
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    // 18 devices: 4 spines, 12 leafs in ESI-LAG pairs, 2 border leafs.
    let text = "name: rehearsal\nfabric:\n  generate: {pods: 1, spines_per_pod: 4, leafs_per_pod: 12, servers_per_leaf_pair: 2, border_leafs: 2, version: 18.1R3-S2}\n\
images:\n  - {name: junos-18.4R2}\nupgrade:\n  assign: [{image: junos-18.4R2, devices: all}]\n";
    let path = dir.join("rehearsal.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn start_lab(state: &Path, scenario: &Path, extra: &[&str]) -> LabProcess {
    let child = hitless(state)
        .env("HITLESS_LAB_PASSWORD", LAB_PASSWORD)
        .args(["lab", scenario.to_str().unwrap(), "--time-scale", "1000"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lab = LabProcess(child);
    let started = Instant::now();
    while !state.join("lab-addresses.json").exists() {
        assert!(started.elapsed() < Duration::from_secs(30), "the lab did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    lab
}
