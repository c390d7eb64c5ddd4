//! The EOS driver and the lab's EOS personality: a mixed Junos/Arista fabric upgraded end to end
//! over in-memory eAPI and NETCONF (paused clock), a kill and resume, MLAG pairs, the eAPI's
//! error shapes, and the HTTPS transport's certificate pinning against the lab's server on
//! 127.0.0.1.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hitless::driver::by_vendor::ByVendor;
use hitless::driver::eos::eapi::Format;
use hitless::driver::eos::https::{HttpsEapi, HttpsSettings};
use hitless::driver::eos::{Eapi, EosDriver, EosSettings, TransportError};
use hitless::driver::junos::{JunosDriver, JunosSettings};
use hitless::exec::{Driver, DriverError};
use hitless::image::ImageFields;
use hitless::journal::{DriverKind, JobState, Step};
use hitless::lab::{InMemory, Lab};
use hitless::scenario::Scenario;
use hitless::store::catalog::{self, StoreCatalog};
use hitless::store::{Store, jobs};
use hitless::version::Version;
use hitless::workflow::{self, RunSettings};

/// The bundled mixed scenario with its images taken from the catalog.
fn mixed(dir: &Path) -> (Store, Scenario) {
    let (store, scenario, _) = mixed_text(dir, "");
    (store, scenario)
}

/// [`mixed`] with `extra` at the end of the scenario, and the scenario's text.
fn mixed_text(dir: &Path, extra: &str) -> (Store, Scenario, String) {
    let mut store = Store::open(dir).unwrap();
    let images = [
        ("eos-4.32.2F", "arista", "eos", vec!["DCS-7050SX3-48YC8", "DCS-7280SR3-48YC8"], "4.32.2F", "EOS-4.32.2F.swi"),
        (
            "junos-qfx-23.4R2",
            "juniper",
            "junos-qfx",
            vec!["qfx10002-36q"],
            "23.4R2",
            "jinstall-host-qfx-5e-x86-64-23.4R2-secure-signed.tgz",
        ),
    ];
    for (name, vendor, family, platforms, version, file) in images {
        let path = dir.join(file);
        std::fs::write(&path, vec![3u8; 50_000]).unwrap();
        let fields = ImageFields {
            name: name.into(),
            vendor: vendor.into(),
            family: family.into(),
            platforms: platforms.into_iter().map(String::from).collect(),
            os_version: Version::parse(version).unwrap(),
        };
        catalog::add(&mut store, &fields, &path, 0, &mut |_, _| {}).unwrap();
    }
    let text = std::fs::read_to_string(crate::util::root().join("scenarios/mixed-junos-arista.yaml")).unwrap();
    let start = text.find("images:").unwrap();
    let end = text.find("upgrade:").unwrap();
    let text = format!(
        "{}images:\n  - {{name: eos-4.32.2F}}\n  - {{name: junos-qfx-23.4R2}}\n{}{extra}",
        &text[..start],
        &text[end..]
    );
    let catalog = StoreCatalog::new(Some(dir.to_path_buf()));
    let scenario = Scenario::from_yaml_with(&text, Path::new("mixed.yaml"), &catalog).unwrap();
    (store, scenario, text)
}

fn lab_for(scenario: &Scenario) -> Arc<Lab> {
    Arc::new(Lab::new(&scenario.fabric, scenario.timing.clone(), scenario.faults.clone(), 1.0, 1_790_000_000))
}

type Mixed = ByVendor<JunosDriver<InMemory>, EosDriver<InMemory>>;

fn driver(scenario: &Scenario, lab: &Arc<Lab>) -> Mixed {
    let junos = JunosDriver::new(
        InMemory(Arc::clone(lab)),
        JunosSettings { boot_poll_interval: Duration::from_secs(10), ..JunosSettings::default() },
    );
    let eos = EosDriver::new(
        InMemory(Arc::clone(lab)),
        EosSettings { boot_poll_interval: Duration::from_secs(10), ..EosSettings::default() },
    );
    ByVendor::new(&scenario.fabric, junos, eos)
}

fn settings() -> RunSettings {
    RunSettings {
        time_scale: 1.0,
        clock_offset_seconds: 0.0,
        wall_clock: Arc::new(|| 0),
        on_event: Arc::new(|_| {}),
        interrupted: Arc::new(AtomicBool::new(false)),
        lease: None,
        window: workflow::WindowChoice::Scenario,
        operator: "a test".into(),
    }
}

/// Every device on its new version, upgraded once, out of maintenance mode with nothing of
/// hitless's left in its configuration (running and startup alike).
fn assert_done(lab: &Lab, scenario: &Scenario) {
    for device in scenario.fabric.devices() {
        let emulated = lab.device(&device.name).unwrap();
        let eos = emulated.eos.as_ref();
        let want = if eos.is_some() { "4.32.2F" } else { "23.4R2" };
        assert_eq!(emulated.version, want, "{}", device.name);
        assert_eq!(emulated.upgrades, 1, "{}", device.name);
        assert_eq!(emulated.reboots.len(), 1, "{}: reloaded once", device.name);
        match eos {
            Some(eos) => {
                assert!(!eos.quiesced(), "{} left quiesced", device.name);
                assert_eq!(eos.boot_image, "flash:EOS-4.32.2F.swi", "{}", device.name);
                assert_eq!(eos.boot_changes, 1, "{}: boot system set once", device.name);
                for config in [&eos.running, &eos.startup] {
                    let lines = config.flat();
                    assert!(
                        !lines.iter().any(|l| l.contains("hitless") || l.ends_with("> quiesce")),
                        "{}: {lines:?}",
                        device.name
                    );
                }
                assert!(eos.sessions.is_empty(), "{}: a session left pending", device.name);
            }
            None => assert!(!emulated.in_maintenance(), "{} left in maintenance mode", device.name),
        }
    }
}

/// No switch of an MLAG pair reloaded while its peer was down or in its reload-delay: each
/// reload starts after the peer's reload, its reboot and its reload-delay.
fn assert_mlag_apart(lab: &Lab, scenario: &Scenario) {
    let reboot = u64::from(scenario.timing.phases(hitless::model::Role::Leaf).reboot_seconds);
    let delay = u64::from(scenario.timing.mlag_reload_delay_seconds);
    for (a, b) in scenario.fabric.mlag_pairs() {
        let (a, b) = (&scenario.fabric.device(*a).name, &scenario.fabric.device(*b).name);
        let (ra, rb) = (lab.device(a).unwrap().reboots, lab.device(b).unwrap().reboots);
        for x in &ra {
            for y in &rb {
                let (first, second) = if x <= y { (x, y) } else { (y, x) };
                assert!(
                    *second >= first + reboot + delay,
                    "{a} reloaded at {x}, {b} at {y}: less than the reboot ({reboot} s) and reload-delay ({delay} s) apart"
                );
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_mixed_fabric_upgrades_through_each_vendor_s_own_driver() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) = mixed(dir.path());
    let lab = lab_for(&scenario);
    let (store, job, summary) = run_job(store, &scenario, &lab).await;
    assert_eq!(summary.state, JobState::Finished, "{:#?}", summary.devices);
    assert_done(&lab, &scenario);
    assert_mlag_apart(&lab, &scenario);
    // The EOS switches were drained and verified through eAPI: the journal says so.
    let events = jobs::events(&store.lock().unwrap(), &job, Some("leaf1")).unwrap();
    for step in [Step::Copy, Step::Install, Step::Reboot, Step::Booted] {
        assert!(events.iter().any(|e| e.step == step), "leaf1 has no {step:?}: {events:#?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_job_killed_during_an_eos_reload_and_resumed_upgrades_nothing_twice() {
    for step in [Step::Install, Step::Reboot, Step::WaitBoot] {
        let dir = tempfile::tempdir().unwrap();
        let (store, scenario, text) = mixed_text(dir.path(), "");
        drop(store);
        let lab = lab_for(&scenario);
        let (store, job, summary) = kill_at_and_resume(dir.path(), &scenario, &text, &lab, step).await;
        let events = jobs::events(&store.lock().unwrap(), &job, Some("leaf1")).unwrap();
        let told: Vec<String> = events.iter().map(|e| format!("{} {:?} {}", e.at_seconds, e.step, e.message)).collect();
        assert_eq!(summary.state, JobState::Finished, "killed at {step:?}: {told:#?}");
        assert_done(&lab, &scenario);
        assert_mlag_apart(&lab, &scenario);
    }
}

#[tokio::test(start_paused = true)]
async fn maintenance_mode_is_saved_so_the_switch_reloads_still_drained_and_names_its_job() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = mixed(dir.path());
    let lab = lab_for(&scenario);
    let eos = EosDriver::new(InMemory(Arc::clone(&lab)), EosSettings::default());
    eos.set_maintenance_owner("job-0007/store@host");
    let before = eos.facts("leaf1").await.unwrap();
    assert!(!before.maintenance);
    assert_eq!(before.master().model, "DCS-7050SX3-48YC8");
    let busy = eos.traffic_mbps("leaf1").await.unwrap();
    eos.set_maintenance("leaf1", true).await.unwrap();
    let drained = eos.traffic_mbps("leaf1").await.unwrap();
    assert!(drained < busy / 100, "{busy} Mbit/s before, {drained} after");
    // Peers see the drain in BGP: the switch's peers are marked under maintenance.
    let summary = eos.run("leaf1", "test", &["show ip bgp summary vrf all"], Format::Json).await.unwrap();
    let peers = hitless::driver::eos::parse::bgp_summary(&summary[0]).unwrap();
    assert!(!peers.is_empty() && peers.values().all(|p| p.under_maintenance), "{peers:?}");
    eos.reboot("leaf1", &before).await.unwrap();
    let after = eos.wait_for_boot("leaf1", &before, 3600).await.unwrap();
    assert!(after.master().boot > before.master().boot);
    assert!(after.maintenance, "the switch came back in service: maintenance mode was not saved");
    assert_eq!(after.maintenance_owner.as_deref(), Some("job-0007/store@host"));
    eos.set_maintenance("leaf1", false).await.unwrap();
    let facts = eos.facts("leaf1").await.unwrap();
    assert!(!facts.maintenance && facts.maintenance_owner.is_none());
}

#[tokio::test(start_paused = true)]
async fn eos_errors_reach_the_operator_with_eos_s_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = mixed(dir.path());
    let lab = lab_for(&scenario);
    let eos = EosDriver::new(InMemory(Arc::clone(&lab)), EosSettings::default());
    let error = eos.run("leaf1", "test", &["show version", "show bogus"], Format::Json).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("show bogus") && text.contains("Invalid input"), "{text}");
    // A read with no JSON model asked for as JSON is asked again as text, the whole request.
    let read = eos.run("leaf1", "test", &["show hostname", "dir flash:"], Format::Json).await.unwrap();
    assert!(read[0]["output"].as_str().unwrap().contains("Hostname: leaf1"), "{read:?}");
    assert!(read[1]["output"].as_str().unwrap().contains("bytes free"), "{read:?}");
    // A request that changes something is never sent twice: its error says what to do.
    let error = eos.run("leaf1", "test", &["configure", "end", "dir flash:"], Format::Json).await.unwrap_err();
    assert!(error.to_string().contains("no JSON model"), "{error}");
    // A pending session of someone else's stops a maintenance change, which changes nothing.
    eos.run(
        "leaf1",
        "test",
        &["configure session operator-work", "interface Ethernet9", "description wip", "end"],
        Format::Json,
    )
    .await
    .unwrap();
    let error = eos.set_maintenance("leaf1", true).await.unwrap_err();
    assert!(error.to_string().contains("operator-work"), "{error}");
    assert!(!eos.facts("leaf1").await.unwrap().maintenance);
    // An image that is not on flash cannot be booted; the boot-config is unchanged.
    let error =
        eos.run("leaf1", "test", &["configure", "boot system flash:EOS-9.9.9F.swi"], Format::Json).await.unwrap_err();
    assert!(error.to_string().contains("does not exist"), "{error}");
    assert_eq!(lab.device("leaf1").unwrap().eos.unwrap().boot_image, "flash:EOS-4.30.1F.swi");
}

#[tokio::test(start_paused = true)]
async fn a_failed_check_after_the_reload_rolls_an_eos_switch_back_to_its_old_image() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "faults:\n  - {device: leaf3, kind: health-check-fails, at: post-check}\n";
    let (store, _, text) = mixed_text(dir.path(), extra);
    let catalog = StoreCatalog::new(Some(dir.path().to_path_buf()));
    let text = text.replace("upgrade:\n", "upgrade:\n  on_failure: rollback\n");
    let scenario = Scenario::from_yaml_with(&text, Path::new("mixed.yaml"), &catalog).unwrap();
    let lab = lab_for(&scenario);
    let (store, job, summary) = run_job(store, &scenario, &lab).await;
    assert_ne!(summary.state, JobState::Finished);
    let events = jobs::events(&store.lock().unwrap(), &job, Some("leaf3")).unwrap();
    let leaf3 = lab.device("leaf3").unwrap();
    assert_eq!(leaf3.version, "4.29.2F", "leaf3 not rolled back: {events:#?}");
    assert_eq!(leaf3.rollbacks, 1);
    let eos = leaf3.eos.unwrap();
    assert_eq!(eos.boot_image, "flash:EOS-4.29.2F.swi");
    assert!(!eos.quiesced(), "leaf3 left in maintenance mode after its rollback");
    let job = summary.devices.iter().find(|d| d.device == "leaf3").unwrap();
    assert_eq!(job.state, hitless::journal::DeviceState::RolledBack, "{}", job.message);
}

/// The lab's eAPI server on 127.0.0.1 with a fresh certificate; its address.
async fn https_lab(scenario: &Scenario) -> (Arc<Lab>, std::net::SocketAddr, String) {
    let (lab, address, certificate) = https_lab_with(scenario).await;
    (lab, address, certificate.fingerprint)
}

/// [`https_lab`], with the certificate itself.
async fn https_lab_with(scenario: &Scenario) -> (Arc<Lab>, std::net::SocketAddr, hitless::lab::eapi::LabCertificate) {
    let lab = lab_for(scenario);
    let certificate = hitless::lab::eapi::make_certificate().unwrap();
    let listen = [("leaf1".to_string(), "127.0.0.1:0".parse().unwrap())].into();
    let auth = hitless::lab::eapi::EapiAuth { user: "netops".into(), password: "lab-secret".into() };
    let bound =
        hitless::lab::eapi::start(Arc::clone(&lab), listen, certificate.server_config().unwrap(), auth).await.unwrap();
    (lab, bound["leaf1"], certificate)
}

fn https(dir: &Path, address: std::net::SocketAddr, password: &str, trust_on_first_use: bool) -> HttpsEapi {
    HttpsEapi::new(
        HttpsSettings {
            addresses: [("leaf1".to_string(), address.to_string())].into(),
            user: "netops".into(),
            password: password.into(),
            known_certs: dir.join("known_certs"),
            trust_on_first_use,
            ca: None,
            connect_timeout: Duration::from_secs(10),
        },
        None,
    )
}

#[tokio::test]
async fn over_https_the_certificate_is_pinned_before_any_password_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = mixed(dir.path());
    let (lab, address, fingerprint) = https_lab(&scenario).await;
    let request = hitless::driver::eos::eapi::request("t-1", &[serde_json::json!("show version")], Format::Json);
    // Unknown certificate, no trust on first use: refused, naming the fingerprint; nothing sent.
    let error = https(dir.path(), address, "lab-secret", false).post("leaf1", request.clone()).await.unwrap_err();
    let TransportError::Refused(message) = &error else { panic!("{error:?}") };
    assert!(message.contains(&fingerprint) && message.contains("--trust-on-first-use"), "{message}");
    assert_eq!(lab.logins("leaf1"), 0, "a request went to a switch whose certificate was not verified");
    // Trust on first use records it; afterwards the pin alone is enough.
    let reply = https(dir.path(), address, "lab-secret", true).post("leaf1", request.clone()).await.unwrap();
    assert_eq!(reply["result"][0]["modelName"], "DCS-7050SX3-48YC8");
    let pins = std::fs::read_to_string(dir.path().join("known_certs")).unwrap();
    assert_eq!(pins.trim(), format!("{address} {fingerprint}"));
    https(dir.path(), address, "lab-secret", false).post("leaf1", request.clone()).await.unwrap();
    // A wrong password is a refusal that says what to check.
    let error = https(dir.path(), address, "wrong", false).post("leaf1", request.clone()).await.unwrap_err();
    assert!(matches!(&error, TransportError::Refused(m) if m.contains("401")), "{error:?}");
    // A changed certificate is refused even with trust on first use.
    std::fs::write(dir.path().join("known_certs"), format!("{address} {}\n", "ab".repeat(32))).unwrap();
    let error = https(dir.path(), address, "lab-secret", true).post("leaf1", request).await.unwrap_err();
    assert!(matches!(&error, TransportError::Refused(m) if m.contains("changed")), "{error:?}");
}

#[tokio::test]
async fn over_https_the_driver_reads_facts_and_maps_a_dead_address_to_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = mixed(dir.path());
    let (_lab, address, _) = https_lab(&scenario).await;
    let eos = EosDriver::new(https(dir.path(), address, "lab-secret", true), EosSettings::default());
    let facts = eos.facts("leaf1").await.unwrap();
    assert_eq!(facts.version().to_string(), "4.30.1F");
    // Nobody listens on a port just closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let eos = EosDriver::new(https(dir.path(), closed, "lab-secret", true), EosSettings::default());
    let error = eos.facts("leaf1").await.unwrap_err();
    assert!(matches!(error, DriverError::Unreachable { .. }), "{error:?}");
}

/// The catalog images of the mixed scenario added through the CLI, and the scenario using them.
fn prepare_mixed(dir: &Path, state: &Path) -> std::path::PathBuf {
    use crate::lab_process::hitless;
    let images = [
        ("eos-4.32.2F", "arista", "eos", "DCS-7050SX3-48YC8,DCS-7280SR3-48YC8", "4.32.2F", "EOS-4.32.2F.swi"),
        ("junos-qfx-23.4R2", "juniper", "junos-qfx", "qfx10002-36q", "23.4R2", "jinstall-qfx-23.4R2-signed.tgz"),
    ];
    for (name, vendor, family, platforms, version, file) in images {
        let path = dir.join(file);
        std::fs::write(&path, vec![9u8; 40_000]).unwrap();
        let added = hitless(state)
            .args(["image", "add", "--name", name, "--file", path.to_str().unwrap(), "--vendor", vendor])
            .args(["--family", family, "--platforms", platforms, "--os-version", version])
            .output()
            .unwrap();
        assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    }
    let text = std::fs::read_to_string(crate::util::root().join("scenarios/mixed-junos-arista.yaml")).unwrap();
    let (start, end) = (text.find("images:").unwrap(), text.find("upgrade:").unwrap());
    let text = format!(
        "{}images:\n  - {{name: eos-4.32.2F}}\n  - {{name: junos-qfx-23.4R2}}\n{}",
        &text[..start],
        &text[end..]
    );
    let path = dir.join("mixed.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn hitless_upgrade_with_the_native_driver_upgrades_the_mixed_lab_over_netconf_and_eapi() {
    use crate::lab_process::{hitless, start_lab};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = prepare_mixed(dir.path(), &state);
    let _lab = start_lab(&state, &scenario, &[]);
    let eapi: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(state.join("lab-eapi-addresses.json")).unwrap()).unwrap();
    assert_eq!(eapi.keys().collect::<Vec<_>>(), ["leaf1", "leaf2", "leaf3", "leaf4"]);
    // The test run reads each switch through its own protocol: the model the device states.
    let test_run = hitless(&state)
        .args(["test-run", scenario.to_str().unwrap(), "--driver", "native", "--trust-on-first-use"])
        .args(["--time-scale", "1000", "--format", "json"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&test_run.stdout).to_string();
    assert!(test_run.status.success(), "{said}\n{}", String::from_utf8_lossy(&test_run.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&said).unwrap();
    let model = |device: &str| {
        rows.iter().find(|r| r["device"] == device).map(|r| r["model"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(model("leaf3").as_deref(), Some("DCS-7280SR3-48YC8"), "{said}");
    assert_eq!(model("spine1").as_deref(), Some("qfx10002-36q"), "{said}");
    std::fs::remove_file(state.join("eapi_known_certs")).unwrap();
    // Without trust on first use, the lab's certificate is not pinned: refused, nothing done.
    let refused = hitless(&state)
        .args(["upgrade", scenario.to_str().unwrap(), "--driver", "native", "--yes", "--time-scale", "1000"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stdout).to_string() + &String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("--trust-on-first-use"), "{said}");
    let run = hitless(&state)
        .args(["upgrade", scenario.to_str().unwrap(), "--driver", "native", "--yes", "--trust-on-first-use"])
        .args(["--time-scale", "1000", "--format", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["outcome"], "finished", "{stdout}");
    let in_service: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["step"] == "in-service")
        .map(|e| (e["device"].as_str().unwrap().to_string(), e["message"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(in_service.len(), 6, "{in_service:?}");
    for (device, message) in &in_service {
        let want = if device.starts_with("leaf") { "4.32.2F" } else { "23.4R2" };
        assert!(message.contains(want), "{device}: {message}");
    }
    // The pins were recorded, one per EOS switch; the journal names the driver.
    let pins = std::fs::read_to_string(state.join("eapi_known_certs")).unwrap();
    assert_eq!(pins.lines().count(), 4, "{pins}");
    let jobs = hitless(&state).args(["jobs", "--format", "json"]).output().unwrap();
    let jobs: serde_json::Value = serde_json::from_slice(&jobs.stdout).unwrap();
    assert_eq!(jobs.as_array().unwrap().iter().filter(|j| j["driver"] == "native").count(), 1, "{jobs}");
}

/// The mixed scenario with `upgrade.method: auto` (and `extra`), loaded from the catalog.
fn mixed_auto(dir: &Path, extra: &str) -> (Store, Scenario) {
    let (store, _, text) = mixed_text(dir, extra);
    let text = text.replace("upgrade:\n", "upgrade:\n  method: auto\n");
    let catalog = StoreCatalog::new(Some(dir.to_path_buf()));
    (store, Scenario::from_yaml_with(&text, Path::new("mixed.yaml"), &catalog).unwrap())
}

async fn run_job(
    store: Store,
    scenario: &Scenario,
    lab: &Arc<Lab>,
) -> (Arc<Mutex<Store>>, String, workflow::JobSummary) {
    let mut store = store;
    let plan = workflow::plan(scenario);
    let started = workflow::jobs::start(&mut store, scenario, "", &plan, DriverKind::Junos, 0, "a test").unwrap();
    let store = Arc::new(Mutex::new(store));
    let summary =
        workflow::run(&store, scenario, &started.job, Arc::new(driver(scenario, lab)), &started.devices, settings())
            .await
            .unwrap();
    (store, started.job, summary)
}

/// Starts a job of `scenario` (`text`) and runs it until leaf1 journals `step`, then drops the
/// controller (as a kill would), re-enters the job as `hitless resume` does and runs the rest.
async fn kill_at_and_resume(
    dir: &Path,
    scenario: &Scenario,
    text: &str,
    lab: &Arc<Lab>,
    step: Step,
) -> (Arc<Mutex<Store>>, String, workflow::JobSummary) {
    let mut store = Store::open(dir).unwrap();
    let plan = workflow::plan(scenario);
    let started = workflow::jobs::start(&mut store, scenario, text, &plan, DriverKind::Junos, 0, "a test").unwrap();
    drop(store);
    {
        let store = Arc::new(Mutex::new(Store::open(dir).unwrap()));
        let (s, job, devices, d) =
            (scenario.clone(), started.job.clone(), started.devices.clone(), Arc::new(driver(scenario, lab)));
        let task = tokio::spawn(async move { workflow::run(&store, &s, &job, d, &devices, settings()).await });
        let watcher = Store::open(dir).unwrap();
        let mut reached = false;
        // Bounded: the whole job takes a few virtual hours.
        for _ in 0..100_000 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if jobs::events(&watcher, &started.job, Some("leaf1")).unwrap().iter().any(|e| e.step == step) {
                reached = true;
                break;
            }
        }
        assert!(reached, "leaf1 never reached {step:?}");
        task.abort();
        let _ = task.await;
    }
    let mut store = Store::open(dir).unwrap();
    let catalog = StoreCatalog::new(Some(dir.to_path_buf()));
    let reopened =
        workflow::jobs::reopen(&mut store, &started.job, &catalog, workflow::jobs::Reentry::Resume, "tester", 0)
            .unwrap();
    let store = Arc::new(Mutex::new(store));
    let mut resumed = settings();
    resumed.clock_offset_seconds = reopened.clock_offset_seconds;
    let summary = workflow::run(
        &store,
        &reopened.scenario,
        &started.job,
        Arc::new(driver(scenario, lab)),
        &reopened.devices,
        resumed,
    )
    .await
    .unwrap();
    (store, started.job, summary)
}

fn steps_of(store: &Arc<Mutex<Store>>, job: &str, device: &str) -> Vec<(Step, String)> {
    jobs::events(&store.lock().unwrap(), job, Some(device)).unwrap().into_iter().map(|e| (e.step, e.message)).collect()
}

#[tokio::test(start_paused = true)]
async fn with_method_auto_the_arista_leafs_upgrade_in_service_by_smart_system_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) = mixed_auto(dir.path(), "");
    assert_eq!(scenario.timing.ssu_devices.len(), 4, "every Arista leaf can");
    let lab = lab_for(&scenario);
    let (store, job, summary) = run_job(store, &scenario, &lab).await;
    assert_eq!(summary.state, JobState::Finished, "{:#?}", summary.devices);
    for leaf in ["leaf1", "leaf2", "leaf3", "leaf4"] {
        let emulated = lab.device(leaf).unwrap();
        let eos = emulated.eos.as_ref().unwrap();
        assert_eq!(emulated.version, "4.32.2F", "{leaf}");
        assert_eq!((eos.fast_boots, emulated.reboots.len()), (1, 1), "{leaf}: one reload, a fast boot");
        let steps = steps_of(&store, &job, leaf);
        // The journal says the method; nothing drained the switch.
        assert!(steps.iter().any(|(_, m)| m.contains("upgrading by Smart System Upgrade")), "{leaf}: {steps:#?}");
        assert!(steps.iter().any(|(s, m)| *s == Step::Reboot && m.contains("reload fast-boot")), "{leaf}: {steps:#?}");
        assert!(!steps.iter().any(|(s, _)| matches!(s, Step::Drain | Step::Undrain)), "{leaf} was drained: {steps:#?}");
        assert!(steps.iter().any(|(_, m)| m.contains("in service throughout")), "{leaf}: {steps:#?}");
    }
    // The Junos spines reload as ever, drained.
    for spine in ["spine1", "spine2"] {
        let steps = steps_of(&store, &job, spine);
        assert!(steps.iter().any(|(s, _)| *s == Step::Drain), "{spine}: {steps:#?}");
        assert_eq!(lab.device(spine).unwrap().version, "23.4R2");
    }
    // Replayed through the traffic model, the job lost what the plan's simulation said: each
    // leaf's second of pause, nothing of a reboot.
    let events = jobs::events(&store.lock().unwrap(), &job, None).unwrap();
    let replayed = hitless::simulate::replay::replay(&scenario, &events);
    let simulated = match workflow::gate(&scenario, &workflow::plan(&scenario), true) {
        workflow::Gate::Accept(report) => report,
        other => panic!("an SSU plan loses its seconds of pause: {other:?}"),
    };
    assert!(simulated.lost_bytes > 0.0);
    let ratio = replayed.lost_bytes / simulated.lost_bytes;
    assert!(
        (0.99..=1.01).contains(&ratio),
        "replayed {} bytes, simulated {}",
        replayed.lost_bytes,
        simulated.lost_bytes
    );
}

#[tokio::test(start_paused = true)]
async fn a_switch_whose_fast_boot_check_warns_is_drained_and_reloaded_instead() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) = mixed_auto(dir.path(), "");
    let lab = lab_for(&scenario);
    // An operator's MST configuration on leaf3, saved: SSU cannot keep forwarding through it.
    let eos = EosDriver::new(InMemory(Arc::clone(&lab)), EosSettings::default());
    eos.run("leaf3", "test", &["configure", "spanning-tree mode mstp", "end", "write memory"], Format::Json)
        .await
        .unwrap();
    let (store, job, summary) = run_job(store, &scenario, &lab).await;
    assert_eq!(summary.state, JobState::Finished, "{:#?}", summary.devices);
    let steps = steps_of(&store, &job, "leaf3");
    let said =
        steps.iter().find(|(_, m)| m.contains("Smart System Upgrade is not possible now")).map(|(_, m)| m.clone());
    assert!(
        said.as_ref().is_some_and(|m| m.contains("spanning-tree mode mstp") && m.contains("draining and reloading")),
        "{steps:#?}"
    );
    assert!(steps.iter().any(|(s, _)| *s == Step::Drain), "{steps:#?}");
    let leaf3 = lab.device("leaf3").unwrap();
    assert_eq!((leaf3.version.as_str(), leaf3.eos.as_ref().unwrap().fast_boots), ("4.32.2F", 0));
    assert!(!leaf3.eos.unwrap().quiesced());
    // Its peer had no warning, and went in service.
    assert_eq!(lab.device("leaf4").unwrap().eos.unwrap().fast_boots, 1);
}

#[tokio::test(start_paused = true)]
async fn an_ssu_switch_that_fails_its_post_check_is_taken_out_of_service_and_held() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) =
        mixed_auto(dir.path(), "faults:\n  - {device: leaf1, kind: health-check-fails, at: post-check}\n");
    let lab = lab_for(&scenario);
    let (store, job, summary) = run_job(store, &scenario, &lab).await;
    assert_eq!(summary.state, JobState::Halted, "{:#?}", summary.devices);
    let steps = steps_of(&store, &job, "leaf1");
    assert!(steps.iter().any(|(s, m)| *s == Step::Drain && m.contains("taking it out of service")), "{steps:#?}");
    let leaf1 = lab.device("leaf1").unwrap();
    let eos = leaf1.eos.unwrap();
    assert!(eos.quiesced(), "a failed in-service upgrade was left carrying traffic");
    assert_eq!(leaf1.version, "4.32.2F");
    let failed = summary.devices.iter().find(|d| d.device == "leaf1").unwrap();
    assert!(failed.message.contains("stays in maintenance mode"), "{}", failed.message);
}

#[tokio::test(start_paused = true)]
async fn a_job_killed_during_a_smart_system_upgrade_is_checked_on_resume_and_reloads_nothing_twice() {
    for step in [Step::Install, Step::WaitBoot] {
        let dir = tempfile::tempdir().unwrap();
        let (store, _, text) = mixed_text(dir.path(), "");
        let text = text.replace("upgrade:\n", "upgrade:\n  method: auto\n");
        let catalog = StoreCatalog::new(Some(dir.path().to_path_buf()));
        let scenario = Scenario::from_yaml_with(&text, Path::new("mixed.yaml"), &catalog).unwrap();
        drop(store);
        let lab = lab_for(&scenario);
        let (store, job, summary) = kill_at_and_resume(dir.path(), &scenario, &text, &lab, step).await;
        let steps = steps_of(&store, &job, "leaf1");
        assert_eq!(summary.state, JobState::Finished, "killed at {step:?}: {steps:#?}");
        let leaf1 = lab.device("leaf1").unwrap();
        assert_eq!((leaf1.version.as_str(), leaf1.reboots.len()), ("4.32.2F", 1), "killed at {step:?}: {steps:#?}");
        assert!(!leaf1.eos.as_ref().unwrap().quiesced());
        // Whatever the resumed run found, leaf1 had its post-upgrade check after its reload.
        let rebooted = steps.iter().rposition(|(s, _)| *s == Step::Reboot).unwrap();
        assert!(steps[rebooted..].iter().any(|(s, _)| *s == Step::PostCheck), "killed at {step:?}: {steps:#?}");
    }
}

#[test]
fn plan_and_report_say_each_device_s_method_and_why() {
    let text = std::fs::read_to_string(crate::util::root().join("scenarios/mixed-junos-arista.yaml")).unwrap();
    let auto = text.replace("upgrade:\n", "upgrade:\n  method: auto\n");
    let (dir, path) = crate::util::write_temp("mixed.yaml", &auto);
    let run = crate::util::hitless(&["plan", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let methods: Vec<(String, String)> = plan["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["device"].as_str().unwrap().to_string(), m["method"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(methods.len(), 6, "{plan}");
    for (device, method) in &methods {
        assert_eq!(method, if device.starts_with("leaf") { "ssu" } else { "reload" }, "{device}");
    }
    assert!(plan["methods"].as_array().unwrap().iter().all(|m| !m["why"].as_str().unwrap().is_empty()));
    let table = crate::util::hitless(&["plan", path.to_str().unwrap()]);
    assert!(
        table.stdout.contains("Smart System Upgrade") && table.stdout.contains("Junos devices reload"),
        "{}",
        table.stdout
    );
    let page = dir.path().join("report.html");
    let report = crate::util::hitless(&["report", path.to_str().unwrap(), "-o", page.to_str().unwrap()]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("data-method=\"ssu\"").count(), 4, "the report's methods");
    // With the default method nothing changes: no methods in the plan.
    let plain = crate::util::hitless(&["plan", "scenarios/mixed-junos-arista.yaml", "--format", "json"]);
    let plain: serde_json::Value = serde_json::from_str(&plain.stdout).unwrap();
    assert!(plain.get("methods").is_none(), "{plain}");
}

#[tokio::test]
async fn with_a_ca_the_certificate_is_verified_against_it_and_nothing_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = mixed(dir.path());
    let (lab, address, certificate) = https_lab_with(&scenario).await;
    let request = hitless::driver::eos::eapi::request("t-1", &[serde_json::json!("show hostname")], Format::Json);
    let with_ca = |ca: &Path| {
        HttpsEapi::new(
            HttpsSettings {
                addresses: [("leaf1".to_string(), address.to_string())].into(),
                user: "netops".into(),
                password: "lab-secret".into(),
                known_certs: dir.path().join("known_certs"),
                trust_on_first_use: false,
                ca: Some(ca.to_path_buf()),
                connect_timeout: Duration::from_secs(10),
            },
            None,
        )
    };
    // The lab's own certificate as the CA (it is self-signed): verified, by name (127.0.0.1).
    let good = dir.path().join("lab-ca.pem");
    std::fs::write(&good, &certificate.pem).unwrap();
    let reply = with_ca(&good).post("leaf1", request.clone()).await.unwrap();
    assert_eq!(reply["result"][0]["hostname"], "leaf1");
    assert!(!dir.path().join("known_certs").exists(), "a CA-verified certificate is not pinned");
    // Another CA: refused before any request goes.
    let other = hitless::lab::eapi::make_certificate().unwrap();
    let wrong = dir.path().join("other-ca.pem");
    std::fs::write(&wrong, &other.pem).unwrap();
    let before = lab.logins("leaf1");
    let error = with_ca(&wrong).post("leaf1", request).await.unwrap_err();
    assert!(matches!(&error, TransportError::Refused(m) if m.contains("does not verify")), "{error:?}");
    assert_eq!(lab.logins("leaf1"), before, "a request went to a switch whose certificate did not verify");
}

#[tokio::test(start_paused = true)]
async fn eos_lab_faults_stop_the_switch_with_its_own_reason() {
    use hitless::journal::DeviceState;
    let cases = [
        ("install-fails", "", DeviceState::HitlessImageUpgradeFailed, "signature does not verify", true),
        ("checksum-mismatch", "", DeviceState::HitlessImageUpgradeFailed, "the catalog says", true),
        ("lock-held", "", DeviceState::MaintenanceModeFailure, "noc-change-4711", false),
        ("never-returns", "", DeviceState::HitlessImageUpgradeFailed, "did not finish within", true),
        ("health-check-fails", "", DeviceState::HealthCheckFailed, "temperature: temperatureCritical", false),
        ("hang", ", at: install", DeviceState::HitlessImageUpgradeFailed, "did not finish within 60 s", true),
        ("rollback-fails", "", DeviceState::HitlessImageUpgradeFailed, "flash is write-protected", true),
    ];
    for (kind, at, expected, reason, drained) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut extra = format!("faults:\n  - {{device: leaf3, kind: {kind}{at}}}\n");
        if kind == "rollback-fails" {
            // A post-check failure with rollback: the rollback's boot system is refused.
            extra.push_str("  - {device: leaf3, kind: health-check-fails, at: post-check}\n");
        }
        let (store, _, text) = mixed_text(dir.path(), &extra);
        let text = if kind == "rollback-fails" {
            text.replace("upgrade:\n", "upgrade:\n  on_failure: rollback\n")
        } else {
            text
        };
        let catalog = StoreCatalog::new(Some(dir.path().to_path_buf()));
        let scenario = Scenario::from_yaml_with(&text, Path::new("mixed.yaml"), &catalog).unwrap();
        let lab = lab_for(&scenario);
        let (_store, _job, summary) = run_job(store, &scenario, &lab).await;
        assert_eq!(summary.state, JobState::Halted, "{kind}");
        let leaf3 = summary.devices.iter().find(|d| d.device == "leaf3").unwrap();
        assert_eq!(leaf3.state, expected, "{kind}: {}", leaf3.message);
        assert!(leaf3.message.contains(reason), "{kind}: {}", leaf3.message);
        if !matches!(kind, "never-returns" | "hang") {
            let quiesced = lab.device("leaf3").unwrap().eos.unwrap().quiesced();
            assert_eq!(quiesced, drained, "{kind}: in maintenance mode");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_reply_lost_after_boot_system_is_checked_on_the_switch_and_the_upgrade_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _, text) = mixed_text(dir.path(), "faults:\n  - {device: leaf3, kind: ssh-drop}\n");
    let catalog = StoreCatalog::new(Some(dir.path().to_path_buf()));
    let scenario = Scenario::from_yaml_with(&text, Path::new("mixed.yaml"), &catalog).unwrap();
    let lab = lab_for(&scenario);
    let (store, job, summary) = run_job(store, &scenario, &lab).await;
    assert_eq!(summary.state, JobState::Finished, "{:#?}", summary.devices);
    let leaf3 = lab.device("leaf3").unwrap();
    assert_eq!((leaf3.version.as_str(), leaf3.eos.unwrap().boot_changes), ("4.32.2F", 1));
    let steps = steps_of(&store, &job, "leaf3");
    assert!(steps.iter().any(|(_, m)| m.contains("the session dropped during the install")), "{steps:#?}");
}

#[tokio::test(start_paused = true)]
async fn discovery_reads_the_arista_switches_over_eapi_with_their_mlag_pairs() {
    use hitless::workflow::discover::{ByOs, discover};
    let text = std::fs::read_to_string(crate::util::root().join("scenarios/mixed-junos-arista.yaml")).unwrap();
    let scenario = Scenario::from_yaml(&text, Path::new("mixed.yaml")).unwrap();
    let lab = lab_for(&scenario);
    let hosts = crate::util::hosts_of(&scenario, "127.0.0.1:443", |name| {
        name.starts_with("leaf").then(|| "arista.eos.eos".to_string())
    });
    let junos = JunosDriver::new(InMemory(Arc::clone(&lab)), JunosSettings::default());
    let eos = EosDriver::new(InMemory(Arc::clone(&lab)), EosSettings::default());
    let eos_hosts = hosts.iter().filter(|h| h.is_eos()).map(|h| h.name.clone()).collect();
    let driver = Arc::new(ByOs { junos, eos, eos_hosts });
    let found = discover(&driver, &hosts, "found", None, 4, &|_, _| {}).await;
    assert_eq!((found.devices, found.links, found.servers), (6, 8, 4), "{:#?}\n{}", found.warnings, found.yaml);
    let written = Scenario::from_yaml(&found.checkable, Path::new("found.yaml")).unwrap();
    for name in ["leaf1", "leaf2", "leaf3", "leaf4"] {
        let id = written.fabric.lookup(name).unwrap();
        let device = written.fabric.device(id);
        assert_eq!((device.vendor(), device.family.as_str()), (hitless::model::Vendor::Arista, "eos"), "{name}");
        let original = scenario.fabric.device(scenario.fabric.lookup(name).unwrap());
        assert_eq!((device.platform.as_str(), &device.version), (original.platform.as_str(), &original.version));
    }
    let pairs: Vec<(String, String)> = written
        .fabric
        .mlag_pairs()
        .iter()
        .map(|(a, b)| (written.fabric.device(*a).name.clone(), written.fabric.device(*b).name.clone()))
        .collect();
    assert_eq!(pairs.len(), 2, "{}", found.yaml);
    for (a, b) in &pairs {
        let peer = scenario.fabric.mlag_peer(scenario.fabric.lookup(a).unwrap()).unwrap();
        assert_eq!(&scenario.fabric.device(peer).name, b, "{}", found.yaml);
    }
    // Servers dual-homed to their pair, as in the scenario; no link between the peers.
    for server in written.fabric.servers() {
        assert_eq!(server.leafs.len(), 2, "{}: {}", server.name, found.yaml);
    }
    assert!(!found.yaml.contains("    - [leaf1, leaf2]\n"), "the peer-link is not a fabric link:\n{}", found.yaml);
}

#[test]
fn with_loopback_ports_each_eos_switch_serves_eapi_on_the_next_port_of_its_own_address() {
    use crate::lab_process::start_lab;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _lab = start_lab(
        &state,
        &crate::util::root().join("scenarios/mixed-junos-arista.yaml"),
        &["--loopback-port", &port.to_string()],
    );
    let eapi: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(state.join("lab-eapi-addresses.json")).unwrap()).unwrap();
    let ssh: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(state.join("lab-addresses.json")).unwrap()).unwrap();
    for (device, address) in &eapi {
        let (host, eapi_port) = address.rsplit_once(':').unwrap();
        assert!(host.starts_with("127.1."), "{device}: {address}");
        assert_eq!(eapi_port, (port + 1).to_string(), "{device}");
        assert_eq!(ssh[device], format!("{host}:{port}"), "{device}: SSH on the port itself");
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let facts = runtime.block_on(async {
        let eos = EosDriver::new(https_to(dir.path(), &eapi["leaf4"]), EosSettings::default());
        eos.facts("leaf4").await.unwrap()
    });
    assert_eq!(facts.version().to_string(), "4.29.2F");
}

/// eAPI over HTTPS to `address` as `leaf4`, pinning on first use, with the lab processes' password.
fn https_to(dir: &Path, address: &str) -> HttpsEapi {
    HttpsEapi::new(
        HttpsSettings {
            addresses: [("leaf4".to_string(), address.to_string())].into(),
            user: "netops".into(),
            password: crate::lab_process::LAB_PASSWORD.into(),
            known_certs: dir.join("known_certs"),
            trust_on_first_use: true,
            ca: None,
            connect_timeout: Duration::from_secs(10),
        },
        None,
    )
}

#[tokio::test(start_paused = true)]
async fn a_switch_whose_mlag_peer_is_already_down_is_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) = mixed(dir.path());
    let lab = lab_for(&scenario);
    // leaf2 died before the job: its pair has no redundancy left to lose. The check before the
    // batch finds it out and, simulated so, leaf1's batch not hitless: the job halts untouched.
    lab.devices_mut(|devices| devices.get_mut("leaf2").unwrap().dead = true);
    let (store, job, summary) = run_job(store, &scenario, &lab).await;
    assert_eq!(summary.state, JobState::Halted, "{:#?}", summary.devices);
    let events = jobs::events(&store.lock().unwrap(), &job, None).unwrap();
    let said: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    assert!(said.iter().any(|m| m.contains("leaf2") && m.contains("NOT HITLESS")), "{said:#?}");
    let emulated = lab.device("leaf1").unwrap();
    assert_eq!((emulated.version.as_str(), emulated.reboots.len()), ("4.30.1F", 0));
    assert!(!emulated.eos.unwrap().quiesced(), "leaf1 was drained with its peer down");
    // And the switch's own health says so, should anything ask it first.
    let eos = EosDriver::new(InMemory(Arc::clone(&lab)), EosSettings::default());
    let image = &scenario.images[0];
    let health = eos.health("leaf1", image).await.unwrap();
    let alarms: Vec<String> = health.alarms.unwrap().into_iter().map(|a| a.description).collect();
    assert!(alarms.iter().any(|a| a.contains("MLAG: peer not connected")), "{alarms:?}");
    // A peer back but within its reload-delay: its ports are active on one side only.
    let healthy = eos.health("leaf3", image).await.unwrap();
    assert!(healthy.alarms.unwrap().is_empty());
    let leaf4 = eos.facts("leaf4").await.unwrap();
    eos.reboot("leaf4", &leaf4).await.unwrap();
    eos.wait_for_boot("leaf4", &leaf4, 3600).await.unwrap();
    let settling = eos.health("leaf3", image).await.unwrap();
    let alarms: Vec<String> = settling.alarms.unwrap().into_iter().map(|a| a.description).collect();
    assert!(alarms.iter().any(|a| a.contains("active on one peer only")), "{alarms:?}");
}
