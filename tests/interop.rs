//! Interoperability with tools hitless did not write: the OpenSSH client reaching the lab's
//! NETCONF subsystem, and the Junos driver through an OpenSSH sshd running the emulator.
//!
//! These need OpenSSH installed, so they are their own test target behind the `interop` feature:
//! `cargo test --features interop --test interop`, which `.ci/run` runs after installing the
//! tools (and fails if none ran). The README's `cargo test --workspace` does not need them.

#[path = "util.rs"]
#[allow(dead_code)]
mod util;

#[path = "lab_process.rs"]
mod lab_process;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lab_process::{prepare, start_lab};

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
