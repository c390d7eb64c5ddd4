//! Interoperability with tools hitless did not write, against `hitless lab`: Junos PyEZ,
//! ncclient and Ansible's `junipernetworks.junos` (each step checking its effect on the device),
//! the OpenSSH client (the NETCONF subsystem, CLI commands and their exit status, `scp` in SFTP
//! and legacy mode to a directory or a file name), the Junos driver through an OpenSSH sshd
//! running the emulator, and pyeapi and napalm's EOS driver against the lab's EOS personality
//! over HTTPS.
//!
//! These need OpenSSH and a Python with junos-eznc, ansible and jxmlease, so they are their own
//! test target behind the `interop` feature: `cargo test --features interop --test interop`,
//! which `.ci/run` runs after installing them (a virtual environment in `.ci/venv`, or the one
//! `HITLESS_INTEROP_PYTHON` names), and fails if none ran. The README's `cargo test --workspace`
//! needs none of it.

#[path = "util.rs"]
#[allow(dead_code)]
mod util;

#[path = "lab_process.rs"]
mod lab_process;

#[path = "console_harness.rs"]
#[allow(dead_code)]
mod console_harness;

// The console in headless Chromium, through WebDriver.
#[path = "browser.rs"]
mod browser;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lab_process::{LAB_PASSWORD, prepare, start_lab};

/// The Python with the automation clients: `HITLESS_INTEROP_PYTHON`, else `.ci/venv`.
fn python() -> std::path::PathBuf {
    let python = std::env::var_os("HITLESS_INTEROP_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| util::root().join(".ci/venv/bin/python"));
    let has =
        Command::new(&python).args(["-c", "import jnpr.junos, ncclient, ansible, jxmlease, pyeapi, napalm"]).output();
    assert!(
        has.is_ok_and(|o| o.status.success()),
        "{} has no junos-eznc, ncclient, ansible, jxmlease, pyeapi and napalm: run .ci/run, or `python3 -m venv .ci/venv && .ci/venv/bin/pip install junos-eznc ansible jxmlease pyeapi napalm`",
        python.display()
    );
    python
}

/// The lab's recorded address of `device`: its port.
fn port_of(state: &Path, device: &str) -> String {
    let addresses: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("lab-addresses.json")).unwrap()).unwrap();
    addresses[device].as_str().unwrap().rsplit(':').next().unwrap().to_string()
}

/// Runs a conformance script; its output for the failure message.
fn run_script(program: &Path, args: &[&str]) -> String {
    let output = Command::new(program).args(args).current_dir(util::root()).output().unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{} {args:?} failed:\n{text}", program.display());
    text
}

/// The facts of `device` in the lab, read by hitless's own driver over SSH: an independent
/// check of what a client's script did.
fn facts_over_ssh(dir: &Path, state: &Path, device: &str) -> hitless::exec::Facts {
    use hitless::driver::junos::{JunosDriver, JunosSettings};
    use hitless::driver::ssh::{SshAuth, SshConnector, SshSettings};
    use hitless::exec::Driver;
    let settings = SshSettings {
        addresses: [(device.to_string(), format!("127.0.0.1:{}", port_of(state, device)))].into(),
        user: "netops".into(),
        auth: SshAuth::Password(LAB_PASSWORD.into()),
        known_hosts: dir.join("known_hosts_check"),
        trust_on_first_use: true,
        connect_timeout: Duration::from_secs(20),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        JunosDriver::new(SshConnector::new(settings), JunosSettings::default()).facts(device).await.unwrap()
    })
}

#[test]
fn junos_pyez_gathers_facts_configures_installs_and_reboots() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = prepare(dir.path(), &state);
    // Every exchange logged (trace), to show the secrets PyEZ sends never reach the log.
    let log = dir.path().join("lab.log");
    let _lab = start_lab(&state, &scenario, &["-vvv", "--log-file", log.to_str().unwrap()]);
    let package = dir.path().join("jinstall-host-qfx-5e-x86-64-21.4R3-S5.4-secure-signed.tgz");
    std::fs::write(&package, (0..3_000_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>()).unwrap();
    let script = util::root().join("tests/interop/pyez.py");
    let port = port_of(&state, "leaf1");
    let package = package.to_str().unwrap();
    let out = run_script(
        &python,
        &[
            "-W",
            "ignore",
            script.to_str().unwrap(),
            "127.0.0.1",
            &port,
            "netops",
            LAB_PASSWORD,
            "leaf1",
            package,
            "21.4R3-S5.4",
            util::root().join("tests/fixtures/junos/qfx5120-leaf.conf").to_str().unwrap(),
        ],
    );
    assert!(out.contains("PASSED"), "{out}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("lab exchange") && logged.contains("authentication-key"), "the exchanges were logged");
    assert!(!logged.contains("pyez-s3cret"), "a BGP key PyEZ sent in clear reached the lab's log");
    assert!(!logged.contains("$9$"), "a concealed (reversible) key reached the lab's log");
    let at = logged.find("$6$").map(|i| &logged[i.saturating_sub(300)..(i + 100).min(logged.len())]);
    assert!(at.is_none(), "a password hash reached the lab's log: {at:?}");
    let facts = facts_over_ssh(dir.path(), &state, "leaf1");
    assert_eq!(facts.version().to_string(), "21.4R3-S5.4", "PyEZ's install and reboot took effect");
    assert!(!facts.maintenance && !facts.pending_install);
}

#[test]
fn ncclient_standard_and_junos_operations_take_effect() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = prepare(dir.path(), &state);
    let _lab = start_lab(&state, &scenario, &[]);
    let script = util::root().join("tests/interop/ncclient_ops.py");
    let port = port_of(&state, "leaf2");
    let out =
        run_script(&python, &["-W", "ignore", script.to_str().unwrap(), "127.0.0.1", &port, "netops", LAB_PASSWORD]);
    assert!(out.contains("PASSED"), "{out}");
}

#[test]
fn an_ansible_playbook_gathers_facts_runs_commands_configures_and_rolls_back() {
    // Four changes: a line, its rollback, two statements the lab does not model, their rollback.
    let python = python();
    let playbook = python.with_file_name("ansible-playbook");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = prepare(dir.path(), &state);
    let _lab = start_lab(&state, &scenario, &[]);
    let inventory = dir.path().join("inventory.ini");
    std::fs::write(
        &inventory,
        format!(
            "[lab]\nspine1 ansible_host=127.0.0.1 ansible_port={}\n\n[lab:vars]\nansible_connection=ansible.netcommon.netconf\n\
ansible_network_os=junipernetworks.junos.junos\nansible_user=netops\nansible_password={LAB_PASSWORD}\nansible_python_interpreter={}\n",
            port_of(&state, "spine1"),
            python.display()
        ),
    )
    .unwrap();
    let output = Command::new(&playbook)
        .arg("-i")
        .arg(&inventory)
        .arg(util::root().join("tests/interop/ansible.yml"))
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env("ANSIBLE_LOCAL_TEMP", dir.path().join("ansible-tmp"))
        .env("ANSIBLE_PERSISTENT_CONTROL_PATH_DIR", dir.path().join("ansible-cp"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("failed=0") && text.contains("changed=4"), "{text}");
}

/// A file's checksum on a lab device, asked over the OpenSSH client's NETCONF subsystem.
fn md5_on_device(ssh: &[&str], port: &str, path: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("ssh")
        .args(ssh)
        .args(["-p", port, "-s", "netops@127.0.0.1", "netconf"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    write!(
        stdin,
        "<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>\
<rpc message-id=\"1\"><get-checksum-information><path>{path}</path></get-checksum-information></rpc>]]>]]>\
<rpc message-id=\"2\"><close-session/></rpc>]]>]]>"
    )
    .unwrap();
    drop(stdin);
    let out = String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).to_string();
    out.split("<checksum>").nth(1).and_then(|r| r.split("</checksum>").next()).unwrap_or("").to_string()
}

#[test]
fn openssh_runs_cli_commands_with_exit_status_and_copies_files_with_scp() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = prepare(dir.path(), &state);
    let key = dir.path().join("id_ed25519");
    let made = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let public = dir.path().join("id_ed25519.pub");
    let _lab = start_lab(&state, &scenario, &["--authorized-key", public.to_str().unwrap()]);
    let port = port_of(&state, "leaf1");
    let key = key.to_str().unwrap();
    let options = [
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-i",
        key,
    ];
    // A CLI command: its text and exit status 0; an unknown one: Junos's error and exit status 1.
    let run =
        Command::new("ssh").args(options).args(["-p", &port, "netops@127.0.0.1", "show version"]).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("Hostname: leaf1"));
    let run =
        Command::new("ssh").args(options).args(["-p", &port, "netops@127.0.0.1", "show teleporter"]).output().unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stdout).contains("syntax error"));
    // scp, in SFTP mode (OpenSSH's default) and legacy mode (-O), to a directory and to a name.
    let file = dir.path().join("pkg.tgz");
    let bytes: Vec<u8> = (0..250_000u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    use md5::Digest;
    let expected = hitless::util::hex(&md5::Md5::digest(&bytes));
    for (mode, target, stored) in [
        (None, "/var/tmp/", "/var/tmp/pkg.tgz"),
        (None, "/var/tmp/sftp-named.tgz", "/var/tmp/sftp-named.tgz"),
        (Some("-O"), "/var/tmp", "/var/tmp/pkg.tgz"),
        (Some("-O"), "/var/tmp/legacy-named.tgz", "/var/tmp/legacy-named.tgz"),
    ] {
        let mut scp = Command::new("scp");
        scp.args(mode).args(options).args(["-P", &port]).arg(&file).arg(format!("netops@127.0.0.1:{target}"));
        let run = scp.output().unwrap();
        assert_eq!(run.status.code(), Some(0), "scp {mode:?} {target}: {}", String::from_utf8_lossy(&run.stderr));
        assert_eq!(md5_on_device(&options, &port, stored), expected, "scp {mode:?} {target} stored {stored}");
    }
    // A file outside /var/tmp and the home is refused, and the exit status says so.
    let run = Command::new("scp")
        .args(options)
        .args(["-P", &port])
        .arg(&file)
        .arg("netops@127.0.0.1:/etc/passwd")
        .output()
        .unwrap();
    assert_ne!(run.status.code(), Some(0));
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

/// Debian's Chromium (`HITLESS_CHROMIUM`, else `chromium` on the PATH).
fn chromium() -> std::path::PathBuf {
    let chromium = std::env::var_os("HITLESS_CHROMIUM")
        .map_or_else(|| std::path::PathBuf::from("chromium"), std::path::PathBuf::from);
    let has = Command::new(&chromium).arg("--version").output();
    assert!(
        has.is_ok_and(|o| o.status.success()),
        "no Chromium ({}): `apt-get install chromium`, as .ci/run does",
        chromium.display()
    );
    chromium
}

/// Runs headless Chromium on `page` with `args`, every host name unresolvable (so any fetch
/// would fail and be logged) and the console logged to standard error; returns (stdout, stderr).
fn headless(page: &Path, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium())
        .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .args(["--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--log-net-log={}", profile.path().join("net.json").display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    // Every host the browser asked for, but its own services (time, updates, accounts), which
    // it asks whatever the page: the page's own requests would be among the rest.
    let net = std::fs::read_to_string(profile.path().join("net.json")).unwrap_or_default();
    let own = ["google.com", "googleapis.com", "gstatic.com", "~notfound"];
    let mut fetched: Vec<String> = net
        .split("://")
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || ".-_~".contains(*c)).collect::<String>())
        .filter(|host| !host.is_empty() && !own.iter().any(|o| host == o || host.ends_with(&format!(".{o}"))))
        .collect();
    fetched.sort();
    fetched.dedup();
    assert!(fetched.is_empty(), "{}: the page made the browser ask {fetched:?}", page.display());
    (String::from_utf8_lossy(&output.stdout).to_string(), String::from_utf8_lossy(&output.stderr).to_string())
}

/// The page in a real browser: its DOM has an element per batch and a timeline row per device,
/// the screenshot is not blank, the console shows no error, and nothing was fetched. For the
/// small fabric, a job, and the benches' 1,006-device fabric.
#[test]
fn reports_render_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let hitless = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hitless"))
            .current_dir(util::root())
            .arg("--state-dir")
            .arg(&state)
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let small = dir.path().join("small.html");
    let big = dir.path().join("big.html");
    let job = dir.path().join("job.html");
    assert_eq!(hitless(&["report", "scenarios/small-2spine-4leaf.yaml", "-o", small.to_str().unwrap()]).0, Some(0));
    assert_eq!(hitless(&["report", "tests/fixtures/bench-1006.yaml", "-o", big.to_str().unwrap()]).0, Some(0));
    assert_eq!(hitless(&["upgrade", "scenarios/canary.yaml", "--yes", "--report", job.to_str().unwrap()]).0, Some(1));
    for (page, batches, devices) in [(&small, 4, 6), (&big, 253, 1006), (&job, 5, 6)] {
        let (dom, log) = headless(page, &["--dump-dom"]);
        assert_eq!(dom.matches("<tr data-batch=\"").count(), batches, "{}", page.display());
        assert_eq!(dom.matches("<g data-device=\"").count(), devices, "{}", page.display());
        for bad in ["Uncaught", "Failed to load resource", "ERR_NAME_NOT_RESOLVED", "Not allowed to load"] {
            assert!(!log.contains(bad), "{}: {bad} in the browser's log:\n{log}", page.display());
        }
        let shot = dir.path().join("shot.png");
        let _ = std::fs::remove_file(&shot);
        headless(page, &[&format!("--screenshot={}", shot.display()), "--window-size=1200,1600"]);
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let pixels = &pixels[..info.buffer_size()];
        // Not blank: a good share of pixels differ from the first (the page's white).
        let step = info.color_type.samples();
        let first = &pixels[..step];
        let differ = pixels.chunks(step).filter(|p| *p != first).count();
        let share = differ as f64 / (pixels.len() / step) as f64;
        assert!(share > 0.05, "{}: only {:.1} % of the screenshot is drawn", page.display(), share * 100.0);
    }
}

/// Ansible itself (`ansible-inventory --list`) reads the inventory the lab writes, and a
/// hand-written INI inventory with group vars and children, as hitless does: the same hosts,
/// addresses, ports and users.
#[test]
fn ansible_reads_inventories_as_hitless_does() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let _lab = start_lab(&state, &util::root().join("scenarios/small-2spine-4leaf.yaml"), &[]);
    let ini = dir.path().join("hosts");
    std::fs::write(
        &ini,
        "[spine]\nspine1 ansible_host=10.0.0.1 ansible_port=8300\n[leaf:vars]\nansible_user=ops\n[leaf]\nleaf1 ansible_host=10.0.1.1\nleaf2\n[dc:children]\nspine\nleaf\n[all:vars]\nansible_port=2830\n",
    )
    .unwrap();
    let program = python().with_file_name("ansible-inventory");
    for path in [state.join("inventory.yaml"), ini] {
        let listed = Command::new(&program).arg("-i").arg(&path).arg("--list").output().unwrap();
        assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
        let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
        let theirs: std::collections::BTreeMap<String, (String, Option<String>)> = listed["_meta"]["hostvars"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, vars)| {
                let host = vars.get("ansible_host").and_then(|h| h.as_str()).unwrap_or(name).to_string();
                let port =
                    vars.get("ansible_port").map_or("830".to_string(), |p| p.to_string().trim_matches('"').to_string());
                let user = vars.get("ansible_user").and_then(|u| u.as_str()).map(str::to_string);
                (name.clone(), (format!("{host}:{port}"), user))
            })
            .collect();
        let text = std::fs::read_to_string(&path).unwrap();
        let ours: std::collections::BTreeMap<String, (String, Option<String>)> =
            hitless::inventory::parse(&text, "inventory")
                .unwrap()
                .into_iter()
                .map(|h| (h.name, (h.address, h.user)))
                .collect();
        assert_eq!(ours, theirs, "{}", path.display());
    }
}

/// The mixed scenario's lab, with its EOS switches' eAPI addresses.
fn eos_lab(state: &Path) -> (lab_process::LabProcess, serde_json::Value) {
    let lab = start_lab(state, &util::root().join("scenarios/mixed-junos-arista.yaml"), &[]);
    let eapi: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("lab-eapi-addresses.json")).unwrap()).unwrap();
    (lab, eapi)
}

/// `show running-config` of an EOS switch in the lab, read by hitless's own EOS driver over
/// HTTPS (trust on first use): an independent check of what a client's script did.
fn eos_running_config(state: &Path, device: &str, address: &str) -> String {
    use hitless::driver::eos::https::{HttpsEapi, HttpsSettings};
    use hitless::driver::eos::{EosDriver, EosSettings, eapi::Format};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let https = HttpsEapi::new(
            HttpsSettings {
                addresses: [(device.to_string(), address.to_string())].into(),
                user: "netops".into(),
                password: LAB_PASSWORD.into(),
                known_certs: state.join("eapi_known_certs"),
                trust_on_first_use: true,
                ca: None,
                connect_timeout: Duration::from_secs(10),
            },
            None,
        );
        let driver = EosDriver::new(https, EosSettings::default());
        let reply = driver.run(device, "check", &["show running-config"], Format::Text).await.unwrap();
        reply[0]["output"].as_str().unwrap().to_string()
    })
}

#[test]
fn pyeapi_reads_configures_and_uses_its_api_modules_against_the_eos_lab() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (_lab, eapi) = eos_lab(&state);
    let address = eapi["leaf1"].as_str().unwrap();
    let port = address.rsplit(':').next().unwrap();
    let script = util::root().join("tests/interop/pyeapi_eos.py");
    let out =
        run_script(&python, &["-W", "ignore", script.to_str().unwrap(), "127.0.0.1", port, "netops", LAB_PASSWORD]);
    let json: serde_json::Value = serde_json::from_str(out.lines().find(|l| l.starts_with('{')).unwrap()).unwrap();
    assert_eq!(json["version"], "4.30.1F");
    assert_eq!(json["model"], "DCS-7050SX3-48YC8");
    assert_eq!(json["flash_encoding"], "text", "pyeapi did not fall back to text on 1003: {json}");
    assert!(json["flash_text"].as_str().unwrap().contains("EOS-4.30.1F.swi"), "{json}");
    assert_eq!(json["error"]["code"], 1002, "{json}");
    assert!(json["error"]["command_error"].as_str().unwrap().contains("Invalid input"), "{json}");
    // The interfaces module read every configured interface, with its type's fields.
    let before = json["interfaces_before"].as_object().unwrap();
    for name in ["Ethernet1", "Ethernet49/1", "Port-Channel1", "Port-Channel1000", "Vlan4094"] {
        assert!(before.contains_key(name), "{name} missing: {:?}", before.keys().collect::<Vec<_>>());
    }
    assert_eq!(before["Ethernet49/1"]["description"], "to spine1");
    assert_eq!(before["Ethernet1"]["shutdown"], false);
    assert_eq!(before["Port-Channel1"]["members"], serde_json::json!(["Ethernet1"]), "{json}");
    assert_eq!(before["Port-Channel1"]["lacp_mode"], "active");
    assert_eq!(json["set_description"], true);
    assert_eq!(json["ethernet1"]["description"], "set by pyeapi");
    assert_eq!(json["vlans_before"], serde_json::json!(["10", "4094"]));
    assert_eq!(json["vlan30"]["name"], "pyeapi-made", "{json}");
    assert_eq!(json["vlan30"]["state"], "active");
    assert_eq!(json["system_before"]["hostname"], "leaf1");
    assert_eq!(json["system_before"]["iprouting"], true);
    assert_eq!(json["system_after"]["hostname"], "leaf1-pyeapi");
    assert_eq!(json["show_hostname"], "leaf1-pyeapi");
    assert_eq!(json["config_results"].as_array().unwrap().len(), 2, "{json}");
    assert!(json["wrong_password"].as_str().unwrap().contains("Unauthorized"), "{json}");
    // The changes are on the switch, read back by hitless's own driver.
    let config = eos_running_config(&state, "leaf1", address);
    for line in [
        "hostname leaf1-pyeapi",
        "   description set by pyeapi",
        "vlan 30\n   name pyeapi-made",
        "   description also pyeapi",
    ] {
        assert!(config.contains(line), "{line:?} not in\n{config}");
    }
}

#[test]
fn napalm_reads_facts_and_neighbours_and_commits_a_merge_against_the_eos_lab() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (_lab, eapi) = eos_lab(&state);
    let address = eapi["leaf3"].as_str().unwrap();
    let port = address.rsplit(':').next().unwrap();
    let script = util::root().join("tests/interop/napalm_eos.py");
    let out =
        run_script(&python, &["-W", "ignore", script.to_str().unwrap(), "127.0.0.1", port, "netops", LAB_PASSWORD]);
    let json: serde_json::Value = serde_json::from_str(out.lines().find(|l| l.starts_with('{')).unwrap()).unwrap();
    let facts = &json["facts"];
    assert_eq!(facts["hostname"], "leaf3");
    assert_eq!(facts["vendor"], "Arista");
    assert_eq!(facts["model"], "DCS-7280SR3-48YC8");
    assert!(facts["os_version"].as_str().unwrap().starts_with("4.29.2F"), "{facts}");
    assert!(facts["interface_list"].as_array().unwrap().contains(&serde_json::json!("Ethernet49/1")), "{facts}");
    assert_eq!(json["interfaces"]["Ethernet49/1"]["is_up"], true);
    assert_eq!(json["interfaces"]["Ethernet49/1"]["speed"], 100000.0);
    // Its BGP peers are its spines, Established; its LLDP neighbours the spines' ports.
    let peers = json["bgp"]["global"]["peers"].as_object().unwrap();
    assert_eq!(peers.len(), 2, "{json}");
    assert!(peers.values().all(|p| p["is_up"] == true && p["remote_as"].as_u64().is_some()), "{json}");
    let descriptions: Vec<&str> = peers.values().map(|p| p["description"].as_str().unwrap()).collect();
    assert_eq!(descriptions, ["spine1", "spine2"]);
    let lldp = json["lldp"].as_object().unwrap();
    assert_eq!(lldp["Ethernet49/1"][0]["hostname"], "spine1");
    assert!(lldp["Ethernet49/1"][0]["port"].as_str().unwrap().starts_with("et-0/0/"), "a Junos spine's port: {json}");
    // The merge's diff names what it adds; after the commit there is nothing left to compare.
    let diff = json["diff"].as_str().unwrap();
    assert!(diff.contains("+   description merged by napalm") && diff.contains("+vlan 40"), "{diff}");
    assert_eq!(json["diff_after_commit"], "");
    assert_eq!(json["interfaces_after"]["Ethernet3"], "merged by napalm", "{json}");
    let config = eos_running_config(&state, "leaf3", address);
    assert!(config.contains("vlan 40\n   name napalm-vlan"), "{config}");
    assert!(!config.contains("vlan 41"), "the discarded candidate was committed:\n{config}");
}
