//! The Junos driver and the lab over real SSH on 127.0.0.1 (russh on both sides): an upgrade of
//! an 18-device fabric, and every refusal a careful operator expects.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hitless::driver::junos::{JunosDriver, JunosSettings};
use hitless::driver::ssh::{SshAuth, SshConnector, SshSettings};
use hitless::exec::Driver;
use hitless::lab::Lab;
use hitless::lab::ssh::{LabAuth, host_key, start};

const PASSWORD: &str = "correct horse battery staple";

async fn lab_over_ssh(
    dir: &std::path::Path,
    scale: f64,
    faults: &str,
) -> (Arc<Lab>, BTreeMap<String, String>, hitless::scenario::Scenario) {
    let (_store, scenario) = crate::junos::setup(dir, faults);
    serve(dir, scenario, scale, std::time::Duration::from_secs(600)).await
}

/// Starts a lab for `scenario` over SSH, whose sessions idle for `idle` (real time) are closed.
async fn serve(
    dir: &std::path::Path,
    scenario: hitless::scenario::Scenario,
    scale: f64,
    idle: std::time::Duration,
) -> (Arc<Lab>, BTreeMap<String, String>, hitless::scenario::Scenario) {
    let mut lab = Lab::new(&scenario.fabric, scenario.timing.clone(), scenario.faults.clone(), scale, 1_790_000_000);
    lab.ssh_idle_timeout = idle;
    let lab = Arc::new(lab);
    let listen = scenario.fabric.devices().iter().map(|d| (d.name.clone(), "127.0.0.1:0".parse().unwrap())).collect();
    let key = host_key(&dir.join("lab_host_key")).unwrap();
    let auth = LabAuth { password: Some(PASSWORD.into()), keys: Vec::new() };
    let bound = start(Arc::clone(&lab), listen, key, auth).await.unwrap();
    let addresses = bound.into_iter().map(|(d, a)| (d, a.to_string())).collect();
    (lab, addresses, scenario)
}

fn settings(dir: &std::path::Path, addresses: &BTreeMap<String, String>, password: &str, tofu: bool) -> SshSettings {
    SshSettings {
        addresses: addresses.clone(),
        user: "netops".into(),
        auth: SshAuth::Password(password.into()),
        known_hosts: dir.join("known_hosts"),
        trust_on_first_use: tofu,
        connect_timeout: Duration::from_secs(10),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_upgrades_a_lab_fabric_over_ssh() {
    let dir = tempfile::tempdir().unwrap();
    let (lab, addresses, scenario) = lab_over_ssh(dir.path(), 2000.0, "").await;
    let junos = JunosSettings { time_scale: 2000.0, ..JunosSettings::default() };
    let driver = JunosDriver::new(SshConnector::new(settings(dir.path(), &addresses, PASSWORD, true)), junos);
    let facts = driver.facts("spine1").await.unwrap();
    assert_eq!(facts.version().to_string(), "18.4R2-S3.4");
    let (state, devices) = crate::junos::run_with(dir.path(), &scenario, driver, 2000.0).await;
    assert_eq!(state, hitless::journal::JobState::Finished, "{devices:#?}");
    for device in scenario.fabric.devices() {
        let emulated = lab.device(&device.name).unwrap();
        assert_eq!((emulated.version.as_str(), emulated.upgrades), ("21.4R3-S5.4", 1), "{}", device.name);
        assert!(!emulated.in_maintenance(), "{}", device.name);
    }
    let known = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    assert_eq!(
        known.lines().filter(|l| !l.trim().is_empty()).count(),
        18,
        "trust on first use recorded each device once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_changed_host_keys_and_bad_passwords_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_lab, addresses, _) = lab_over_ssh(dir.path(), 1.0, "").await;
    let junos = JunosSettings::default;
    let refused = |settings: SshSettings| async move {
        let case = format!(
            "{:?} tofu={} known_hosts={:?}",
            settings.auth,
            settings.trust_on_first_use,
            std::fs::read_to_string(&settings.known_hosts).ok()
        );
        match JunosDriver::new(SshConnector::new(settings), junos()).facts("leaf1").await {
            Ok(facts) => panic!("{case}: connected ({})", facts.hostname),
            // Refused for good, not "unreachable" (which the executor may wait out as a reboot).
            Err(e @ hitless::exec::DriverError::Refused { .. }) => e.to_string(),
            Err(e) => panic!("{case}: {e} is not a refusal"),
        }
    };
    let error = refused(settings(dir.path(), &addresses, PASSWORD, false)).await;
    assert!(error.contains("unknown host key") && error.contains("--trust-on-first-use"), "{error}");
    let error = refused(SshSettings {
        auth: SshAuth::Password("wrong".into()),
        ..settings(dir.path(), &addresses, PASSWORD, true)
    })
    .await;
    assert!(error.contains("was refused"), "{error}");
    assert!(!error.contains("wrong"), "the password never appears in an error: {error}");
    // Now leaf1's key is known; a lab with another host key on the same address is an impostor.
    let known = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    let other = hitless::lab::ssh::host_key(&dir.path().join("other_key")).unwrap();
    let forged = known.lines().find(|l| !l.trim().is_empty()).unwrap().split(' ').take(1).collect::<Vec<_>>().join(" ")
        + " "
        + &other.public_key().to_openssh().unwrap();
    std::fs::write(dir.path().join("known_hosts"), forged + "\n").unwrap();
    let error = refused(settings(dir.path(), &addresses, PASSWORD, true)).await;
    assert!(error.contains("HOST KEY CHANGED"), "{error}");
    let mut missing = addresses.clone();
    missing.remove("leaf1");
    let error = refused(settings(dir.path(), &missing, PASSWORD, true)).await;
    assert!(error.contains("no management address for leaf1"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_over_ssh_halt_the_job_with_the_devices_reason() {
    let dir = tempfile::tempdir().unwrap();
    let faults = "faults:\n  - {device: leaf3, kind: install-fails}\n  - {device: leaf1, kind: ssh-drop}\n";
    let (lab, addresses, scenario) = lab_over_ssh(dir.path(), 2000.0, faults).await;
    let junos = JunosSettings { time_scale: 2000.0, ..JunosSettings::default() };
    let driver = JunosDriver::new(SshConnector::new(settings(dir.path(), &addresses, PASSWORD, true)), junos);
    let (state, devices) = crate::junos::run_with(dir.path(), &scenario, driver, 2000.0).await;
    assert_eq!(state, hitless::journal::JobState::Halted);
    let leaf3 = devices.iter().find(|d| d.device == "leaf3").unwrap();
    assert!(leaf3.message.contains("package validation failed"), "{}", leaf3.message);
    assert!(lab.device("leaf3").unwrap().in_maintenance(), "a failed device stays in maintenance mode");
    let leaf1 = devices.iter().find(|d| d.device == "leaf1").unwrap();
    assert_eq!(
        leaf1.state,
        hitless::journal::DeviceState::MaintenanceModeDeactivated,
        "the dropped session was survived"
    );
    assert_eq!(lab.device("leaf1").unwrap().upgrades, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_engine_and_virtual_chassis_devices_upgrade_over_ssh() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = crate::junos::setup_fabric(dir.path(), crate::junos::CHASSIS_FABRIC, "");
    let (lab, addresses, scenario) = serve(dir.path(), scenario, 2000.0, Duration::from_secs(600)).await;
    let junos = JunosSettings { time_scale: 2000.0, ..JunosSettings::default() };
    let driver = JunosDriver::new(SshConnector::new(settings(dir.path(), &addresses, PASSWORD, true)), junos);
    let (state, devices) = crate::junos::run_with(dir.path(), &scenario, driver, 2000.0).await;
    assert_eq!(state, hitless::journal::JobState::Finished, "{devices:#?}");
    crate::junos::assert_upgraded_once(&lab, &scenario, "21.4R3-S5.4");
}

/// An install that sends nothing for longer than the device's SSH idle timeout: keepalives keep
/// the session (and the install's reply) alive; without them the device closes the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_keep_a_long_install_from_being_cut() {
    for (keepalive, survives) in [(Duration::from_millis(300), true), (Duration::from_secs(60), false)] {
        let dir = tempfile::tempdir().unwrap();
        // The install takes 480 s of lab time; at x120 that is 4 s of real time, against a
        // 1.5 s idle timeout.
        let (_store, scenario) = crate::junos::setup(dir.path(), "");
        let (lab, addresses, scenario) = serve(dir.path(), scenario, 120.0, Duration::from_millis(1500)).await;
        let junos = JunosSettings { time_scale: 120.0, ..JunosSettings::default() };
        let connector = SshConnector::new(settings(dir.path(), &addresses, PASSWORD, true)).with_keepalive(keepalive);
        let driver = JunosDriver::new(connector, junos);
        let image = &scenario.images[0];
        let facts = driver.facts("leaf1").await.unwrap();
        driver.stage_image("leaf1", image).await.unwrap();
        let installed = driver.install("leaf1", image, &facts).await;
        assert_eq!(installed.is_ok(), survives, "keepalive every {keepalive:?}: {installed:?}");
        // Either way the device finished its install: only the reply's fate differs.
        assert_eq!(lab.device("leaf1").unwrap().engines[0].installs, 1);
    }
}

/// A refused login stops the job at once with the reason: the executor does not wait out a boot
/// deadline for it, and nothing is changed on any device. (The first batch's partners cannot be
/// read either, so the job may halt before the batch, the journal naming the refusal; or its
/// devices fail their checks with it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_fails_the_device_at_once_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (lab, addresses, scenario) = lab_over_ssh(dir.path(), 1.0, "").await;
    let wrong =
        SshSettings { auth: SshAuth::Password("wrong".into()), ..settings(dir.path(), &addresses, PASSWORD, true) };
    let driver = JunosDriver::new(SshConnector::new(wrong), JunosSettings::default());
    // Bounded far below the 1,800 s boot deadline a wait would take.
    let (state, devices) =
        tokio::time::timeout(Duration::from_secs(120), crate::junos::run_with(dir.path(), &scenario, driver, 1.0))
            .await
            .expect("the refusal is immediate, not a boot deadline waited out");
    assert_eq!(state, hitless::journal::JobState::Halted);
    let failed: Vec<_> =
        devices.iter().filter(|d| d.state == hitless::journal::DeviceState::HealthCheckFailed).collect();
    for device in &failed {
        assert!(device.message.contains("was refused") && device.message.contains("not touched"), "{}", device.message);
    }
    let store = hitless::store::Store::open(dir.path()).unwrap();
    let events = hitless::store::jobs::events(&store, "job-0001", None).unwrap();
    let halted_before = events.iter().any(|e| {
        e.device.is_empty() && e.message.contains("halted before batch 1") && e.message.contains("was refused")
    });
    assert!(halted_before || !failed.is_empty(), "{events:#?}");
    assert!(
        devices.iter().all(|d| d.state == hitless::journal::DeviceState::Pending
            || failed.iter().any(|f| f.device == d.device)
            || d.state == hitless::journal::DeviceState::Skipped),
        "{devices:#?}"
    );
    for device in scenario.fabric.devices() {
        assert!(!lab.device(&device.name).unwrap().in_maintenance(), "{}", device.name);
    }
}

/// Idle connections that never log in cannot lock operators out: each device takes only so many
/// at once (more are closed at once), and one that has not logged in within the grace time is
/// closed, so the driver gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_pre_login_connections_cannot_lock_the_lab_out() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = crate::junos::setup(dir.path(), "");
    let mut lab = Lab::new(&scenario.fabric, scenario.timing.clone(), Vec::new(), 1.0, 1_790_000_000);
    lab.pre_login_timeout = Duration::from_secs(1);
    lab.connections_per_device = 4;
    let lab = Arc::new(lab);
    let listen = scenario.fabric.devices().iter().map(|d| (d.name.clone(), "127.0.0.1:0".parse().unwrap())).collect();
    let key = host_key(&dir.path().join("lab_host_key")).unwrap();
    let auth = LabAuth { password: Some(PASSWORD.into()), keys: Vec::new() };
    let bound = start(Arc::clone(&lab), listen, key, auth).await.unwrap();
    let addresses: BTreeMap<String, String> = bound.iter().map(|(d, a)| (d.clone(), a.to_string())).collect();
    // Twenty connections to leaf1 that never say a word.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(tokio::net::TcpStream::connect(bound["leaf1"]).await.unwrap());
    }
    // The extra ones are closed at once: reading gives end of file (or a reset), not a wait.
    let mut closed = 0;
    for stream in &mut idle[4..] {
        let mut buffer = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(5), tokio::io::AsyncReadExt::read(stream, &mut buffer))
            .await
            .expect("an extra connection is closed, not held");
        if matches!(read, Ok(0) | Err(_)) {
            closed += 1;
        }
    }
    assert_eq!(closed, 16, "beyond 4 per device, connections are closed at once");
    // The first four are dropped after the 1 s grace; the driver then logs in (bounded retries).
    let driver =
        JunosDriver::new(SshConnector::new(settings(dir.path(), &addresses, PASSWORD, true)), JunosSettings::default());
    let mut attempts = 0;
    let facts = loop {
        match driver.facts("leaf1").await {
            Ok(facts) => break facts,
            Err(e) => {
                attempts += 1;
                assert!(attempts < 50, "never got through: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(facts.hostname, "leaf1");
    drop(idle);
}

/// A client that sends only its SSH banner and then nothing (no key exchange) is dropped once
/// the pre-login grace time is up (30 s by default, as sshd's LoginGraceTime; 1 s here): the
/// connection ends, it is not held open by the session's own task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_only_its_banner_is_dropped_after_the_grace_time() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = crate::junos::setup(dir.path(), "");
    let mut lab = Lab::new(&scenario.fabric, scenario.timing.clone(), Vec::new(), 1.0, 1_790_000_000);
    assert_eq!(lab.pre_login_timeout, Duration::from_secs(30), "the default grace time");
    lab.pre_login_timeout = Duration::from_secs(1);
    let lab = Arc::new(lab);
    let listen = scenario.fabric.devices().iter().map(|d| (d.name.clone(), "127.0.0.1:0".parse().unwrap())).collect();
    let key = host_key(&dir.path().join("lab_host_key")).unwrap();
    let auth = LabAuth { password: Some(PASSWORD.into()), keys: Vec::new() };
    let bound = start(Arc::clone(&lab), listen, key, auth).await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(bound["leaf1"]).await.unwrap();
    stream.write_all(b"SSH-2.0-banner_only_probe\r\n").await.unwrap();
    // Read what the server says (its banner, its key exchange offer) until it closes. A bound
    // on the wait, so a connection held open fails the test instead of hanging it.
    let closed = tokio::time::timeout(Duration::from_secs(45), async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a banner-only client is still connected after 45 s");
}
