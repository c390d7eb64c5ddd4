//! The operator's rehearsal, process by process: `hitless lab` in one, `hitless upgrade --driver
//! junos` in another, over real SSH on 127.0.0.1; a controller killed mid-job and resumed; and
//! the OpenSSH client (`ssh -s netconf`) talking to the emulator.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::root;

const LAB_PASSWORD: &str = "rehearsal-only";

/// A `hitless lab` process, killed when dropped.
struct LabProcess(Child);

impl Drop for LabProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hitless(state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hitless"));
    command.current_dir(root()).arg("--state-dir").arg(state).env("HITLESS_SSH_PASSWORD", LAB_PASSWORD);
    command
}

/// A catalog image in `state` and a scenario using it by name, written to `dir`.
fn prepare(dir: &Path, state: &Path) -> PathBuf {
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

fn start_lab(state: &Path, scenario: &Path, extra: &[&str]) -> LabProcess {
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
    let resumed = hitless(&state)
        .args(["resume", "job-0001", "--trust-on-first-use", "--time-scale", "1000", "--yes", "--format", "json"])
        .output()
        .unwrap();
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

#[test]
fn the_openssh_client_reaches_the_emulators_netconf_subsystem() {
    if Command::new("ssh").arg("-V").output().is_err() || Command::new("ssh-keygen").arg("--help").output().is_err() {
        panic!("the OpenSSH client (ssh, ssh-keygen) is required; .ci/run installs openssh-client");
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = prepare(dir.path(), &state);
    let key = dir.path().join("id_ed25519");
    let made = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let public = dir.path().join("id_ed25519.pub");
    let _lab = start_lab(&state, &scenario, &["--authorized-key", public.to_str().unwrap()]);
    let addresses: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("lab-addresses.json")).unwrap()).unwrap();
    let port = addresses["leaf1"].as_str().unwrap().rsplit(':').next().unwrap().to_string();
    let mut ssh = Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args(["-o", "LogLevel=ERROR", "-i"])
        .arg(&key)
        .args(["-p", &port, "-s", "netops@127.0.0.1", "netconf"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = ssh.stdin.take().unwrap();
    stdin
        .write_all(
            b"<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>\
<rpc message-id=\"101\"><get-software-information/></rpc>]]>]]>\
<rpc message-id=\"102\"><close-session/></rpc>]]>]]>",
        )
        .unwrap();
    drop(stdin);
    let output = ssh.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("<session-id>"), "no hello: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        stdout.contains("message-id=\"101\"") && stdout.contains("<junos-version>18.1R3-S2</junos-version>"),
        "{stdout}"
    );
    assert!(stdout.contains("message-id=\"102\"") && stdout.contains("<ok/>"), "{stdout}");
}

/// An OpenSSH sshd on 127.0.0.1, killed when dropped.
struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn the_driver_works_through_an_openssh_sshd_running_the_emulator() {
    let sshd = Path::new("/usr/sbin/sshd");
    assert!(sshd.exists(), "OpenSSH's sshd is required (.ci/run installs openssh-server)");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = prepare(dir.path(), &state);
    let keygen = |path: &Path| {
        let made = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(path).output().unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    };
    keygen(&dir.path().join("host_key"));
    keygen(&dir.path().join("user_key"));
    std::fs::copy(dir.path().join("user_key.pub"), dir.path().join("authorized_keys")).unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap(); // sshd's privilege-separation directory
    let port = free_port();
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_string();
    let subsystem = format!(
        "{} --state-dir {} lab {} --stdio leaf1",
        env!("CARGO_BIN_EXE_hitless"),
        state.display(),
        scenario.display()
    );
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nPasswordAuthentication no\n\
KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n\
AllowUsers {user}\nSubsystem netconf {subsystem}\n",
        dir.path().join("host_key").display(),
        dir.path().join("sshd.pid").display(),
        dir.path().join("authorized_keys").display(),
    );
    std::fs::write(dir.path().join("sshd_config"), config).unwrap();
    let _sshd = Sshd(
        Command::new(sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(dir.path().join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "sshd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        use hitless::driver::junos::{JunosDriver, JunosSettings};
        use hitless::driver::ssh::{SshAuth, SshConnector, SshSettings};
        use hitless::exec::Driver;
        let settings = SshSettings {
            addresses: [("leaf1".to_string(), format!("127.0.0.1:{port}"))].into(),
            user,
            auth: SshAuth::Key(dir.path().join("user_key")),
            known_hosts: dir.path().join("known_hosts"),
            trust_on_first_use: true,
            connect_timeout: Duration::from_secs(20),
        };
        let driver = JunosDriver::new(SshConnector::new(settings), JunosSettings::default());
        let facts = driver.facts("leaf1").await.expect("facts through OpenSSH sshd");
        assert_eq!(facts.hostname, "leaf1");
        assert_eq!(facts.version().to_string(), "18.1R3-S2");
        assert!(!facts.maintenance);
        let image = hitless::store::catalog::get(&hitless::store::Store::open(&state).unwrap(), "junos-18.4R2")
            .unwrap()
            .to_image();
        let health = driver.health("leaf1", &image).await.expect("health through OpenSSH sshd");
        assert!(health.missing.is_empty(), "{:?}", health.missing);
        let peers = health.bgp_peers.unwrap();
        assert!(!peers.is_empty() && peers.iter().all(|p| p.established), "{peers:?}");
        assert_eq!(health.alarms, Some(Vec::new()));
    });
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
