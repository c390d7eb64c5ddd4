//! The Junos driver against the lab emulator over in-memory NETCONF sessions, and against
//! misbehaving device-side peers. Runs on tokio's paused clock: reboots of minutes take no time.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hitless::driver::junos::{Connector, JunosDriver, JunosSettings};
use hitless::exec::Driver;
use hitless::image::ImageFields;
use hitless::journal::{DeviceState, DriverKind, JobDevice, JobState};
use hitless::lab::{InMemory, Lab};
use hitless::netconf::{NetconfError, Session};
use hitless::scenario::Scenario;
use hitless::store::catalog::{self, StoreCatalog};
use hitless::store::{Store, jobs};
use hitless::version::Version;
use hitless::workflow::{self, RunSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FABRIC: &str = "name: lab
fabric:
  generate: {pods: 1, spines_per_pod: 4, leafs_per_pod: 12, servers_per_leaf_pair: 2, border_leafs: 2, version: 18.4R2-S3.4}
images:
  - {name: junos-21.4R3-S5.4}
upgrade:
  assign: [{image: junos-21.4R3-S5.4, devices: all}]
";

/// Two dual routing-engine spines (the second half-way through an earlier upgrade: its engines
/// run different versions), two virtual-chassis leafs of two and three members, two single-engine
/// leafs, and a multihomed server on each leaf pair.
pub const CHASSIS_FABRIC: &str = "name: chassis
fabric:
  devices:
    - {name: spine1, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.4R2-S3.4, routing_engines: 2}
    - {name: spine2, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.4R2-S3.4, routing_engines: 2,
       engine_versions: [18.4R2-S3.4, 18.1R3-S2]}
    - {name: leaf1, role: leaf, family: junos-qfx, platform: qfx5120-48y, version: 18.4R2-S3.4, vc_members: 2}
    - {name: leaf2, role: leaf, family: junos-qfx, platform: qfx5120-48y, version: 18.4R2-S3.4}
    - {name: leaf3, role: leaf, family: junos-qfx, platform: qfx5120-48y, version: 18.4R2-S3.4, vc_members: 3}
    - {name: leaf4, role: leaf, family: junos-qfx, platform: qfx5120-48y, version: 18.4R2-S3.4}
  links: [[spine1, leaf1], [spine1, leaf2], [spine1, leaf3], [spine1, leaf4],
          [spine2, leaf1], [spine2, leaf2], [spine2, leaf3], [spine2, leaf4]]
  servers:
    - {name: bms1, links: [leaf1, leaf2]}
    - {name: bms2, links: [leaf3, leaf4]}
images:
  - {name: junos-21.4R3-S5.4}
upgrade:
  assign: [{image: junos-21.4R3-S5.4, devices: all}]
";

/// A store with the image in its catalog, and the scenario (plus `extra`) loaded from it.
pub fn setup(dir: &Path, extra: &str) -> (Store, Scenario) {
    setup_fabric(dir, FABRIC, extra)
}

/// [`setup`] for the scenario `fabric` (plus `extra`).
pub fn setup_fabric(dir: &Path, fabric: &str, extra: &str) -> (Store, Scenario) {
    let mut store = Store::open(dir).unwrap();
    let file = dir.join("jinstall-host-qfx-5e-x86-64-21.4R3-S5.4-secure-signed.tgz");
    std::fs::write(&file, vec![7u8; 100_000]).unwrap();
    let fields = ImageFields {
        name: "junos-21.4R3-S5.4".into(),
        vendor: "juniper".into(),
        family: "junos-qfx".into(),
        platforms: vec!["qfx5120-48y".into(), "qfx10002-36q".into()],
        os_version: Version::parse("21.4R3-S5.4").unwrap(),
    };
    catalog::add(&mut store, &fields, &file, 0, &mut |_, _| {}).unwrap();
    let catalog = StoreCatalog::new(Some(dir.to_path_buf()));
    let scenario = Scenario::from_yaml_with(&format!("{fabric}{extra}"), Path::new("lab.yaml"), &catalog).unwrap();
    (store, scenario)
}

fn driver(lab: &Arc<Lab>) -> JunosDriver<InMemory> {
    let settings = JunosSettings { boot_poll_interval: Duration::from_secs(10), ..JunosSettings::default() };
    JunosDriver::new(InMemory(Arc::clone(lab)), settings)
}

/// Runs the planner's batches through the executor with the Junos driver; returns the job's
/// devices.
async fn upgrade(store: Store, scenario: &Scenario, lab: &Arc<Lab>) -> (JobState, Vec<JobDevice>) {
    run(store, scenario, driver(lab)).await
}

/// Like [`upgrade`] with any driver, opening the store in `dir`, for a lab whose clock runs
/// `time_scale` times faster than real time.
pub async fn run_with<D: Driver>(
    dir: &Path,
    scenario: &Scenario,
    driver: D,
    time_scale: f64,
) -> (JobState, Vec<JobDevice>) {
    run_scaled(Store::open(dir).unwrap(), scenario, driver, time_scale).await
}

async fn run<D: Driver>(store: Store, scenario: &Scenario, driver: D) -> (JobState, Vec<JobDevice>) {
    run_scaled(store, scenario, driver, 1.0).await
}

async fn run_scaled<D: Driver>(
    store: Store,
    scenario: &Scenario,
    driver: D,
    time_scale: f64,
) -> (JobState, Vec<JobDevice>) {
    let plan = workflow::plan(scenario);
    let mut store = store;
    let started = workflow::jobs::start(&mut store, scenario, "", &plan, DriverKind::Junos, 0, "a test").unwrap();
    let store = Arc::new(Mutex::new(store));
    let settings = RunSettings {
        time_scale,
        clock_offset_seconds: 0.0,
        wall_clock: Arc::new(|| 0),
        on_event: Arc::new(|_| {}),
        interrupted: Arc::new(AtomicBool::new(false)),
        lease: None,
        window: workflow::WindowChoice::Scenario,
        operator: "a test".into(),
    };
    let summary =
        workflow::run(&store, scenario, &started.job, Arc::new(driver), &started.devices, settings).await.unwrap();
    (summary.state, summary.devices)
}

fn lab_for(scenario: &Scenario) -> Arc<Lab> {
    Arc::new(Lab::new(&scenario.fabric, scenario.timing.clone(), scenario.faults.clone(), 1.0, 1_790_000_000))
}

#[tokio::test(start_paused = true)]
async fn the_junos_driver_upgrades_an_eighteen_device_lab_fabric() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) = setup(dir.path(), "");
    assert_eq!(scenario.fabric.len(), 18);
    let lab = lab_for(&scenario);
    let (state, devices) = upgrade(store, &scenario, &lab).await;
    assert_eq!(state, JobState::Finished, "{devices:#?}");
    for device in scenario.fabric.devices() {
        let emulated = lab.device(&device.name).unwrap();
        assert_eq!(emulated.version, "21.4R3-S5.4", "{}", device.name);
        assert_eq!(emulated.upgrades, 1, "{}", device.name);
        assert!(!emulated.in_maintenance(), "{} left in maintenance mode", device.name);
        assert!(
            emulated.committed().iter().all(|l| !l.ends_with(" disable")),
            "{}: {:?}",
            device.name,
            emulated.committed()
        );
        assert!(emulated.confirm.is_none(), "{}: commit confirmed left unconfirmed", device.name);
    }
}

#[tokio::test(start_paused = true)]
async fn lab_faults_stop_the_device_with_the_devices_own_reason() {
    let cases = [
        ("install-fails", DeviceState::HitlessImageUpgradeFailed, "package validation failed", true),
        ("checksum-mismatch", DeviceState::HitlessImageUpgradeFailed, "the catalog says", true),
        ("lock-held", DeviceState::MaintenanceModeFailure, "configuration database locked by", false),
        ("never-returns", DeviceState::HitlessImageUpgradeFailed, "did not finish within 1800 s", true),
        (
            "health-check-fails",
            DeviceState::HealthCheckFailed,
            "interface errors since the last reading (most on et-0/0/48: 200) is 200, more than the allowed 100",
            false,
        ),
    ];
    for (kind, expected, reason, drained) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (store, scenario) = setup(dir.path(), &format!("faults:\n  - {{device: leaf3, kind: {kind}}}\n"));
        let lab = lab_for(&scenario);
        let (state, devices) = upgrade(store, &scenario, &lab).await;
        assert_eq!(state, JobState::Halted, "{kind}");
        let leaf3 = devices.iter().find(|d| d.device == "leaf3").unwrap();
        assert_eq!(leaf3.state, expected, "{kind}: {}", leaf3.message);
        assert!(leaf3.message.contains(reason), "{kind}: {}", leaf3.message);
        if kind != "never-returns" {
            assert_eq!(lab.device("leaf3").unwrap().in_maintenance(), drained, "{kind}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_session_dropped_during_the_install_is_checked_with_the_device_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) = setup(dir.path(), "faults:\n  - {device: leaf3, kind: ssh-drop}\n");
    let lab = lab_for(&scenario);
    let (state, devices) = upgrade(store, &scenario, &lab).await;
    assert_eq!(state, JobState::Finished, "{devices:#?}");
    assert_eq!(lab.device("leaf3").unwrap().upgrades, 1);
    let store = Store::open(dir.path()).unwrap();
    let events = jobs::events(&store, "job-0001", Some("leaf3")).unwrap();
    assert!(events.iter().any(|e| e.message.contains("the session dropped during the install")), "{events:#?}");
}

#[tokio::test(start_paused = true)]
async fn maintenance_mode_is_a_confirmed_configuration_change() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = setup(dir.path(), "");
    let lab = lab_for(&scenario);
    let driver = driver(&lab);
    let before = lab.device("leaf1").unwrap().committed();
    driver.set_maintenance("leaf1", true).await.unwrap();
    let emulated = lab.device("leaf1").unwrap();
    assert!(emulated.in_maintenance());
    assert!(emulated.committed().contains("interfaces ae0 disable"), "{:?}", emulated.committed());
    assert!(emulated.confirm.is_none() && emulated.lock.is_none());
    let facts = driver.facts("leaf1").await.unwrap();
    assert!(facts.maintenance);
    let health = driver.health("leaf1", &scenario.images[0]).await.unwrap();
    assert_eq!(health.lacp_down, Some(Vec::new()), "disabled LAGs are not counted as down");
    driver.set_maintenance("leaf1", false).await.unwrap();
    let emulated = lab.device("leaf1").unwrap();
    assert!(!emulated.in_maintenance() && emulated.committed() == before, "{:?}", emulated.committed());
    // An inline image cannot be installed: there is no checksum to verify.
    let mut inline = scenario.images[0].clone();
    inline.catalog = None;
    let error = driver.stage_image("leaf1", &inline).await.unwrap_err().to_string();
    assert!(error.contains("is not from the catalog"), "{error}");
}

/// Maintenance mode judges the configuration in effect, not as written: a bundle whose
/// `disable` is deactivated is live, so it is disabled for the upgrade (activated, and
/// deactivated again after); a deactivated GRES is not touched; a bundle disabled through an
/// applied group is already down. Leaving restores the configuration exactly.
#[tokio::test(start_paused = true)]
async fn maintenance_mode_reads_the_configuration_in_effect_and_restores_it_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = setup(dir.path(), "");
    let lab = lab_for(&scenario);
    let lags = lab.server_lags("leaf1");
    assert!(lags.len() >= 2, "{lags:?}");
    let (first, second) = (lags[0].clone(), lags[1].clone());
    let rpc = |request: &str| {
        let reply = hitless::lab::rpc::handle(&lab, "leaf1", 1, &hitless::netconf::xml::parse(request).unwrap());
        assert!(!reply.body.contains("<rpc-error>"), "{request}: {}", reply.body);
    };
    let text = format!(
        "interfaces {{ {first} {{ inactive: disable; }} }} chassis {{ redundancy {{ inactive: graceful-switchover; }} }}\n\
         groups {{ parked {{ interfaces {{ {second} {{ disable; }} }} }} }} apply-groups parked;"
    );
    rpc(&format!(
        "<load-configuration format=\"text\"><configuration-text>{}</configuration-text></load-configuration>",
        hitless::netconf::xml::escape(&text)
    ));
    rpc("<commit-configuration/>");
    let before = lab.device("leaf1").unwrap().committed();
    assert!(!lab.device("leaf1").unwrap().is_disabled(&first), "{first} is live: its disable is inactive");
    assert!(lab.device("leaf1").unwrap().is_disabled(&second), "{second} is down through a group");
    let driver = driver(&lab);
    driver.set_maintenance("leaf1", true).await.unwrap();
    let emulated = lab.device("leaf1").unwrap();
    assert!(emulated.in_maintenance());
    assert!(emulated.is_disabled(&first), "the live bundle {first} was left up through the upgrade");
    assert!(emulated.committed().contains("deactivate chassis redundancy graceful-switchover"), "GRES was touched");
    driver.set_maintenance("leaf1", false).await.unwrap();
    let emulated = lab.device("leaf1").unwrap();
    assert!(!emulated.in_maintenance());
    assert_eq!(emulated.committed(), before, "leaving maintenance mode restores the configuration exactly");
    assert!(!emulated.is_disabled(&first) && emulated.is_disabled(&second));
}

#[tokio::test(start_paused = true)]
async fn chunked_framing_is_used_when_both_sides_offer_base_1_1() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = setup(dir.path(), "");
    let mut lab = Lab::new(&scenario.fabric, scenario.timing.clone(), Vec::new(), 1.0, 1_790_000_000);
    lab.base_11 = true;
    let lab = Arc::new(lab);
    let stream = InMemory(Arc::clone(&lab)).connect("spine1").await.unwrap();
    let session = Session::open(stream, "spine1", Duration::from_secs(5)).await.unwrap();
    assert_eq!(session.framing(), hitless::netconf::framing::Framing::Chunked);
    session.close().await;
    let facts = driver(&lab).facts("spine1").await.unwrap();
    assert_eq!(facts.version().to_string(), "18.4R2-S3.4");
}

/// A device-side peer that sends a hello, reads one request, then answers with `reply`.
async fn misbehaving(reply: Vec<u8>) -> Result<hitless::netconf::xml::Element, NetconfError> {
    let (client, mut server) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let hello = b"<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities><session-id>1</session-id></hello>]]>]]>";
        server.write_all(hello).await.unwrap();
        let mut buffer = vec![0u8; 4096];
        let _ = server.read(&mut buffer).await; // the client's hello
        let _ = server.read(&mut buffer).await; // the request
        let _ = server.write_all(&reply).await;
        tokio::time::sleep(Duration::from_secs(3600)).await; // then stall
    });
    let mut session = Session::open(client, "leafX", Duration::from_secs(5)).await?;
    session.rpc("<get-software-information/>", Duration::from_secs(30)).await
}

#[tokio::test(start_paused = true)]
async fn bad_device_replies_are_clear_errors_not_panics() {
    let eom = |s: &str| [s.as_bytes(), b"]]>]]>"].concat();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (eom("<rpc-reply message-id=\"1\"><software-information>"), "malformed XML"),
        (eom("<rpc-reply message-id=\"9\"><ok/></rpc-reply>"), "carries message-id 9, expected 1"),
        (eom("<rpc-reply><ok/></rpc-reply>"), "has no message-id"),
        (
            eom(
                "<rpc-reply message-id=\"1\"><rpc-error><error-tag>operation-failed</error-tag><error-severity>error</error-severity><error-message>syntax error</error-message></rpc-error></rpc-reply>",
            ),
            "failed: syntax error (operation-failed)",
        ),
        (b"<rpc-reply message-id=\"1\">".to_vec(), "no reply to get-software-information within 30 s"),
        ([b"<rpc-reply message-id=\"1\">".as_slice(), &vec![b'x'; 65 << 20]].concat(), "larger than"),
    ];
    for (reply, expected) in cases {
        let error = misbehaving(reply).await.unwrap_err().to_string();
        assert!(error.starts_with("leafX: "), "{error}");
        assert!(error.contains(expected), "expected {expected:?} in {error}");
    }
}

/// Every engine of every lab device runs `version`, was installed exactly once, and the device
/// is back in service with its configuration as it was (GRES and NSR on the dual boxes).
pub fn assert_upgraded_once(lab: &Lab, scenario: &Scenario, version: &str) {
    for device in scenario.fabric.devices() {
        let emulated = lab.device(&device.name).unwrap();
        for engine in &emulated.engines {
            assert_eq!(engine.version, version, "{} {}", device.name, engine.name);
            assert_eq!(engine.installs, 1, "{} {}: installed once", device.name, engine.name);
        }
        assert!(!emulated.in_maintenance(), "{} left in maintenance mode", device.name);
        let dual = emulated.engines.len() == 2 && emulated.engines[0].name == "re0";
        for statement in [hitless::maintenance::GRES, hitless::maintenance::NSR] {
            assert_eq!(emulated.committed().contains(statement), dual, "{}: {statement}", device.name);
        }
        assert!(
            !emulated.committed().iter().any(|l| l.starts_with("apply-macro") || l.ends_with(" disable")),
            "{}: {:?}",
            device.name,
            emulated.committed()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn dual_engine_and_virtual_chassis_devices_upgrade_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) = setup_fabric(dir.path(), CHASSIS_FABRIC, "");
    let lab = lab_for(&scenario);
    let driver = driver(&lab);
    let facts = driver.facts("spine2").await.unwrap();
    assert_eq!(facts.versions(), "re0 18.4R2-S3.4, re1 18.1R3-S2", "a half-finished upgrade shows");
    let facts = driver.facts("leaf3").await.unwrap();
    assert_eq!(facts.chassis, hitless::exec::Chassis::VirtualChassis);
    assert_eq!(facts.engines.len(), 3);
    let (state, devices) = upgrade(store, &scenario, &lab).await;
    assert_eq!(state, JobState::Finished, "{devices:#?}");
    assert_upgraded_once(&lab, &scenario, "21.4R3-S5.4");
    let spine = devices.iter().find(|d| d.device == "spine1").unwrap();
    assert_eq!(spine.state, DeviceState::MaintenanceModeDeactivated);
    let store = Store::open(dir.path()).unwrap();
    let events = jobs::events(&store, "job-0001", Some("spine2")).unwrap();
    assert!(events.iter().any(|e| e.message == "running 21.4R3-S5.4 on re0 and re1"), "{events:#?}");
}

#[tokio::test(start_paused = true)]
async fn gres_and_nsr_are_off_in_maintenance_mode_and_restored_after() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = setup_fabric(dir.path(), CHASSIS_FABRIC, "");
    let lab = lab_for(&scenario);
    let driver = driver(&lab);
    driver.set_maintenance("spine1", true).await.unwrap();
    let drained = lab.device("spine1").unwrap();
    assert!(drained.in_maintenance());
    assert!(
        !drained.committed().contains(hitless::maintenance::GRES)
            && !drained.committed().contains(hitless::maintenance::NSR)
    );
    assert!(
        drained.committed().contains("apply-macro hitless-restore graceful-switchover"),
        "{:?}",
        drained.committed()
    );
    assert!(driver.facts("spine1").await.unwrap().maintenance);
    driver.set_maintenance("spine1", false).await.unwrap();
    let back = lab.device("spine1").unwrap();
    assert!(
        back.committed().contains(hitless::maintenance::GRES) && back.committed().contains(hitless::maintenance::NSR)
    );
    assert!(!back.in_maintenance() && !back.committed().iter().any(|l| l.starts_with("apply-macro")));
}

/// Starts `job`'s run with the Junos driver over `lab` in a task, and aborts it (a controller
/// killed) as soon as the journal shows `device` entering `step`.
async fn run_until(
    dir: &Path,
    scenario: &Scenario,
    lab: &Arc<Lab>,
    job: &str,
    devices: &[JobDevice],
    device: &str,
    step: hitless::journal::Step,
) {
    let store = Arc::new(Mutex::new(Store::open(dir).unwrap()));
    let (scenario_c, job_c, devices_c, driver) =
        (scenario.clone(), job.to_string(), devices.to_vec(), Arc::new(driver(lab)));
    let settings = RunSettings {
        time_scale: 1.0,
        clock_offset_seconds: 0.0,
        wall_clock: Arc::new(|| 0),
        on_event: Arc::new(|_| {}),
        interrupted: Arc::new(AtomicBool::new(false)),
        lease: None,
        window: workflow::WindowChoice::Scenario,
        operator: "a test".into(),
    };
    let task =
        tokio::spawn(async move { workflow::run(&store, &scenario_c, &job_c, driver, &devices_c, settings).await });
    let watcher = Store::open(dir).unwrap();
    // Bounded: the whole job takes a few virtual hours.
    for _ in 0..100_000 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let events = jobs::events(&watcher, job, Some(device)).unwrap();
        if events.iter().any(|e| e.step == step) {
            task.abort();
            let _ = task.await;
            return;
        }
    }
    panic!("{device} never reached {step:?}");
}

/// Re-enters `job` (as `hitless resume` does) and runs the rest of it with `driver`; returns the
/// store and the summary.
async fn resume<D: Driver>(dir: &Path, job: &str, driver: D) -> (Arc<Mutex<Store>>, workflow::JobSummary) {
    let mut store = Store::open(dir).unwrap();
    let (how, now) = (workflow::jobs::Reentry::Resume, 0);
    let catalog = StoreCatalog::new(Some(dir.to_path_buf()));
    let reopened = workflow::jobs::reopen(&mut store, job, &catalog, how, "tester", now).unwrap();
    let store = Arc::new(Mutex::new(store));
    let settings = RunSettings {
        time_scale: 1.0,
        clock_offset_seconds: reopened.clock_offset_seconds,
        wall_clock: Arc::new(|| 0),
        on_event: Arc::new(|_| {}),
        interrupted: Arc::new(AtomicBool::new(false)),
        lease: None,
        window: workflow::WindowChoice::Scenario,
        operator: "a test".into(),
    };
    let summary =
        workflow::run(&store, &reopened.scenario, job, Arc::new(driver), &reopened.devices, settings).await.unwrap();
    (store, summary)
}

#[tokio::test(start_paused = true)]
async fn a_job_killed_during_an_install_and_resumed_installs_exactly_once() {
    use hitless::journal::Step;
    for device in ["leaf1", "leaf2", "spine1"] {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, scenario) = setup_fabric(dir.path(), CHASSIS_FABRIC, "");
        let lab = lab_for(&scenario);
        let plan = workflow::plan(&scenario);
        let started =
            workflow::jobs::start(&mut store, &scenario, CHASSIS_FABRIC, &plan, DriverKind::Junos, 0, "a test")
                .unwrap();
        drop(store);
        run_until(dir.path(), &scenario, &lab, &started.job, &started.devices, device, Step::Install).await;
        // The controller is gone; the device goes on installing. Resume.
        let (store, summary) = resume(dir.path(), &started.job, driver(&lab)).await;
        assert_eq!(summary.state, JobState::Finished, "killed in {device}'s install: {:#?}", summary.devices);
        assert_upgraded_once(&lab, &scenario, "21.4R3-S5.4");
        let events = jobs::events(&store.lock().unwrap(), &started.job, Some(device)).unwrap();
        let copies = events.iter().filter(|e| e.step == Step::Copy).count();
        assert_eq!(copies, 1, "{device}: the image was copied once: {events:#?}");
        // The resumed run found the install pending and did not make it again.
        let noted = |text: &str| events.iter().any(|e| e.message.contains(text));
        let single = lab.device(device).unwrap().engines.len() == 1;
        let expected = if single {
            "is installed and pending; not installing it again"
        } else {
            "engines that had this job's install pending were left as they were"
        };
        assert!(noted(expected), "{device}: {events:#?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_pending_install_hitless_did_not_make_stops_the_device_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) = setup_fabric(dir.path(), CHASSIS_FABRIC, "");
    let lab = lab_for(&scenario);
    // Someone installed something on leaf2 by hand and did not reboot.
    lab.devices_mut(|devices| devices.get_mut("leaf2").unwrap().engines[0].pending = Some("19.1R1".into()));
    let (state, devices) = upgrade(store, &scenario, &lab).await;
    assert_eq!(state, JobState::Halted);
    let leaf2 = devices.iter().find(|d| d.device == "leaf2").unwrap();
    assert_eq!(leaf2.state, DeviceState::HealthCheckFailed, "{}", leaf2.message);
    assert!(
        leaf2.message.contains("an install is pending on the device that hitless did not make"),
        "{}",
        leaf2.message
    );
    assert!(leaf2.message.ends_with("the device was not touched"), "{}", leaf2.message);
    let emulated = lab.device("leaf2").unwrap();
    assert!(!emulated.in_maintenance());
    assert_eq!((emulated.engines[0].installs, emulated.engines[0].pending.as_deref()), (0, Some("19.1R1")));
}

/// One description of maintenance mode: what the driver commits on a device, read back as the
/// device acts on it (graceful shutdown configured, every server-facing bundle disabled), is
/// exactly what the simulator is told maintenance mode does, for every way a fabric sets it up.
#[tokio::test(start_paused = true)]
async fn the_maintenance_mode_the_driver_commits_is_the_one_the_simulator_plays() {
    use hitless::maintenance::{Effects, GRACEFUL_SHUTDOWN};
    for mode in [
        "{}",
        "{bgp_graceful_shutdown: false}",
        "{disable_server_lags: false}",
        "{bgp_graceful_shutdown: false, disable_server_lags: false, extra: ['set protocols lldp disable']}",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (_store, scenario) =
            setup_fabric(dir.path(), &FABRIC.replace("upgrade:\n", &format!("upgrade:\n  maintenance: {mode}\n")), "");
        let lab = lab_for(&scenario);
        let settings = JunosSettings { maintenance: scenario.maintenance.clone(), ..JunosSettings::default() };
        let driver = JunosDriver::new(InMemory(Arc::clone(&lab)), settings);
        // The device says which of its bundles are ESI-LAGs (multihomed servers'): its own
        // configuration, not the driver's idea of it.
        let esi = |device: &hitless::lab::LabDevice, lag: &str| {
            device.committed().iter().any(|l| l.starts_with(&format!("interfaces {lag} esi ")))
        };
        for name in ["leaf1", "bl1"] {
            driver.set_maintenance(name, true).await.unwrap();
            let drained = lab.device(name).unwrap();
            let lags = lab.server_lags(name);
            let (segments, others): (Vec<&String>, Vec<&String>) = lags.iter().partition(|lag| esi(&drained, lag));
            let effects = scenario.maintenance.effects();
            assert_eq!(drained.committed().contains(GRACEFUL_SHUTDOWN), effects.fabric_avoids, "{mode} {name}");
            if name == "leaf1" {
                assert!(!segments.is_empty(), "{name} has multihomed servers");
                let observed = Effects {
                    fabric_avoids: drained.committed().contains(GRACEFUL_SHUTDOWN),
                    servers_cut: segments.iter().all(|lag| drained.is_disabled(lag)),
                };
                assert_eq!(observed, effects, "{mode} {name}: {:?}", drained.committed());
            }
            assert!(others.iter().all(|lag| !drained.is_disabled(lag)), "{mode} {name}: only ESI-LAGs go down");
            for line in &scenario.maintenance.extra {
                assert!(drained.committed().contains(line.trim_start_matches("set ")), "{mode}: {line}");
            }
            driver.set_maintenance(name, false).await.unwrap();
            let back = lab.device(name).unwrap();
            assert!(!back.in_maintenance() && !back.committed().contains(GRACEFUL_SHUTDOWN), "{mode}");
            assert!(lags.iter().all(|lag| !back.is_disabled(lag)), "{mode}");
            assert!(!back.committed().iter().any(|l| l.starts_with("apply-macro")), "{mode}: {:?}", back.committed());
            assert!(
                scenario.maintenance.extra.iter().all(|l| !back.committed().contains(l.trim_start_matches("set ")))
            );
        }
        assert!(lab.server_lags("bl1").contains(&hitless::lab::WAN_LAG.to_string()), "a border leaf's WAN bundle");
    }
}

/// The lab's `hang`: the device keeps its connections and answers nothing, so the driver's
/// timeout ends the call; the device ends in the state of the phase it hung in, and its
/// neighbours' BGP sessions to it are down (BFD would see it).
#[tokio::test(start_paused = true)]
async fn a_hung_lab_device_times_out_where_it_hung_and_its_peers_see_it_down() {
    let cases = [
        ("maintenance", DeviceState::MaintenanceModeFailure, "did not finish within 60 s", false),
        ("install", DeviceState::HitlessImageUpgradeFailed, "did not finish within", true),
        ("post-check", DeviceState::HealthCheckFailed, "did not finish within 60 s", true),
    ];
    for (at, expected, reason, drained) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (store, scenario) = setup(dir.path(), &format!("faults:\n  - {{device: leaf3, kind: hang, at: {at}}}\n"));
        let lab = lab_for(&scenario);
        let (state, devices) = upgrade(store, &scenario, &lab).await;
        assert_eq!(state, JobState::Halted, "{at}");
        let leaf3 = devices.iter().find(|d| d.device == "leaf3").unwrap();
        assert_eq!(leaf3.state, expected, "{at}: {}", leaf3.message);
        assert!(leaf3.message.contains(reason), "{at}: {}", leaf3.message);
        let hung = lab.device("leaf3").unwrap();
        assert!(hung.hung, "{at}");
        assert_eq!(hung.in_maintenance(), drained, "{at}");
        assert!(!lab.is_up("leaf3"), "{at}");
        let report = driver(&lab).health("spine1", &scenario.images[0]).await.unwrap();
        let down = report.bgp_peers.unwrap().iter().filter(|p| !p.established).count();
        assert_eq!(down, 1, "{at}: spine1 sees exactly its session to leaf3 down");
    }
}

/// A driver with a bug: it panics when asked to install on one device.
struct PanicsOnInstall {
    inner: JunosDriver<InMemory>,
    device: &'static str,
}

impl Driver for PanicsOnInstall {
    async fn facts(&self, device: &str) -> Result<hitless::exec::Facts, hitless::exec::DriverError> {
        self.inner.facts(device).await
    }
    async fn health(
        &self,
        device: &str,
        image: &hitless::image::Image,
    ) -> Result<hitless::health::HealthReport, hitless::exec::DriverError> {
        self.inner.health(device, image).await
    }
    async fn set_maintenance(&self, device: &str, on: bool) -> Result<(), hitless::exec::DriverError> {
        self.inner.set_maintenance(device, on).await
    }
    async fn snapshot(&self, device: &str) -> Result<hitless::snapshot::Snapshot, hitless::exec::DriverError> {
        self.inner.snapshot(device).await
    }
    async fn traffic_mbps(&self, device: &str) -> Result<u64, hitless::exec::DriverError> {
        self.inner.traffic_mbps(device).await
    }
    async fn stage_image(&self, device: &str, image: &hitless::image::Image) -> Result<(), hitless::exec::DriverError> {
        self.inner.stage_image(device, image).await
    }
    async fn staged(&self, device: &str, image: &hitless::image::Image) -> Result<bool, hitless::exec::DriverError> {
        self.inner.staged(device, image).await
    }
    async fn install(
        &self,
        device: &str,
        image: &hitless::image::Image,
        facts: &hitless::exec::Facts,
    ) -> Result<hitless::exec::Installed, hitless::exec::DriverError> {
        assert!(device != self.device, "a bug in the install of {device}");
        self.inner.install(device, image, facts).await
    }
    async fn rollback(
        &self,
        device: &str,
        facts: &hitless::exec::Facts,
        to: &hitless::version::Version,
    ) -> Result<(), hitless::exec::DriverError> {
        self.inner.rollback(device, facts, to).await
    }
    async fn reboot(&self, device: &str, facts: &hitless::exec::Facts) -> Result<(), hitless::exec::DriverError> {
        self.inner.reboot(device, facts).await
    }
    async fn wait_for_boot(
        &self,
        device: &str,
        before: &hitless::exec::Facts,
        deadline_seconds: u64,
    ) -> Result<hitless::exec::Facts, hitless::exec::DriverError> {
        self.inner.wait_for_boot(device, before, deadline_seconds).await
    }
}

/// A bug in one device's task fails that device where it stands (here: drained, nothing
/// installed) and halts the job after its batch; its batch mates finish, the process lives on.
#[tokio::test(start_paused = true)]
async fn a_panic_in_one_device_task_fails_that_device_and_halts_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) = setup(dir.path(), "");
    let lab = lab_for(&scenario);
    let (state, devices) = run(store, &scenario, PanicsOnInstall { inner: driver(&lab), device: "leaf3" }).await;
    assert_eq!(state, JobState::Halted);
    let leaf3 = devices.iter().find(|d| d.device == "leaf3").unwrap();
    assert_eq!(leaf3.state, DeviceState::HitlessImageUpgradeFailed);
    assert!(leaf3.message.contains("hitless failed internally") && leaf3.message.contains("a bug in the install"));
    assert!(lab.device("leaf3").unwrap().in_maintenance(), "left as it stood: drained");
    assert_eq!(lab.device("leaf3").unwrap().installs(), 0);
    let batch = devices.iter().find(|d| d.device == "leaf3").unwrap().batch;
    for mate in devices.iter().filter(|d| d.batch == batch && d.device != "leaf3") {
        assert_eq!(mate.state, DeviceState::MaintenanceModeDeactivated, "{}", mate.device);
    }
    assert!(devices.iter().filter(|d| d.batch > batch).all(|d| d.state == DeviceState::Pending));
}

/// A session that takes the configuration lock and then drops (no unlock, no close) releases it,
/// as Junos does: the next change is not refused with lock-denied.
#[tokio::test(start_paused = true)]
async fn a_dropped_session_releases_its_configuration_lock() {
    use hitless::driver::junos::Connector;
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = setup(dir.path(), "");
    let lab = lab_for(&scenario);
    let stream = InMemory(Arc::clone(&lab)).connect("leaf1").await.unwrap();
    let mut session = Session::open(stream, "leaf1", Duration::from_secs(60)).await.unwrap();
    session.rpc("<lock><target><candidate/></target></lock>", Duration::from_secs(60)).await.unwrap();
    assert!(lab.device("leaf1").unwrap().lock.is_some());
    drop(session);
    // The lab notices the end of the session as its server task ends.
    for _ in 0..100 {
        if lab.device("leaf1").unwrap().lock.is_none() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(lab.device("leaf1").unwrap().lock.is_none(), "the lock outlived its session");
    driver(&lab).set_maintenance("leaf1", true).await.unwrap();
}

/// What the lab does not implement it refuses with an `<rpc-error>` naming the part it does not
/// do, and changes nothing: a client testing against it must never see a success that a real
/// device would not have given (or would have given with an effect the lab did not apply).
#[test]
fn the_lab_refuses_what_it_does_not_implement_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = setup(dir.path(), "");
    let lab = lab_for(&scenario);
    let before = lab.device("leaf1").unwrap();
    let requests = [
        ("<get-frobnicator-information/>", "get-frobnicator-information"),
        ("<load-configuration url=\"ftp://10.0.0.1/base.conf\" action=\"override\"/>", "url"),
        (
            // JSON it takes; JSON that is not JSON it refuses.
            "<load-configuration format=\"json\"><configuration-json>{\"configuration\": </configuration-json></load-configuration>",
            "not JSON",
        ),
        ("<get-configuration format=\"yaml\"/>", "yaml"),
        ("<commit-configuration><at-time>02:00</at-time></commit-configuration>", "at-time"),
        ("<open-configuration><ephemeral/></open-configuration>", "ephemeral"),
        ("<edit-config><target><running/></target><config><configuration/></config></edit-config>", "running"),
        ("<edit-config><target><candidate/></target><url>ftp://10.0.0.1/x</url></edit-config>", "url"),
        ("<command>show frobnicator</command>", "frobnicator"),
        ("<command format=\"json\">show version</command>", "json"),
    ];
    for (request, names) in requests {
        let element = hitless::netconf::xml::parse(request).unwrap();
        let reply = hitless::lab::rpc::handle(&lab, "leaf1", 1, &element);
        assert!(!reply.hang && !reply.drop, "{request}");
        assert!(reply.body.contains("<rpc-error>"), "{request} answered without an error: {}", reply.body);
        assert!(
            reply.body.contains("<error-severity>error</error-severity>"),
            "{request}: not an error-severity reply: {}",
            reply.body
        );
        assert!(reply.body.contains(names), "{request}: the error does not name {names}: {}", reply.body);
        assert!(!reply.body.contains("<ok/>"), "{request}: {}", reply.body);
    }
    // A missing package is not an rpc-error on Junos: the reply carries the failure as
    // package-result 1 with "ERROR: … is not found" in its output (reference §3), which PyEZ reads.
    let request = "<request-package-add><package-name>/var/tmp/none.tgz</package-name></request-package-add>";
    let reply = hitless::lab::rpc::handle(&lab, "leaf1", 1, &hitless::netconf::xml::parse(request).unwrap());
    assert!(reply.body.contains("<package-result>1</package-result>"), "{}", reply.body);
    assert!(reply.body.contains("ERROR: /var/tmp/none.tgz is not found"), "{}", reply.body);
    let after = lab.device("leaf1").unwrap();
    assert_eq!(after.committed(), before.committed(), "a refused request changed the configuration");
    assert_eq!((after.version.as_str(), after.upgrades), (before.version.as_str(), before.upgrades));
    assert!(after.engines.iter().all(|e| e.pending.is_none()), "a refused install left a pending package");
}

/// `file-copy` reads only regular files inside the lab's copy directory: `/etc/passwd`, `/dev/zero`,
/// a symbolic link out of the directory and a lab with no directory are refused with an
/// `<rpc-error>` and the device has no new file; a file inside it is copied.
#[test]
fn the_lab_copies_files_only_from_its_own_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = setup(dir.path(), "");
    let mut lab = Lab::new(&scenario.fabric, scenario.timing.clone(), Vec::new(), 1.0, 1_790_000_000);
    let copies = dir.path().join("copies");
    std::fs::create_dir(&copies).unwrap();
    std::fs::write(copies.join("image.tgz"), b"an image").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", copies.join("passwd-link")).unwrap();
    let copy = |lab: &Lab, source: &str| {
        let request =
            format!("<file-copy><source>{source}</source><destination>/var/tmp/copied</destination></file-copy>");
        let reply = hitless::lab::rpc::handle(lab, "leaf1", 1, &hitless::netconf::xml::parse(&request).unwrap());
        let copied = lab.device("leaf1").unwrap().files.contains_key("/var/tmp/copied");
        (reply.body, copied)
    };
    let inside = format!("file://{}", copies.join("image.tgz").display());
    let (body, copied) = copy(&lab, &inside);
    assert!(body.contains("<rpc-error>") && !copied, "no copy directory: refused: {body}");
    lab.copy_from = Some(copies.clone());
    let link = format!("file://{}", copies.join("passwd-link").display());
    for source in ["file:///etc/passwd", "file:///dev/zero", link.as_str(), "file:///proc/self/environ"] {
        let (body, copied) = copy(&lab, source);
        assert!(body.contains("<rpc-error>"), "{source}: {body}");
        assert!(!copied, "{source} was copied");
    }
    let (body, copied) = copy(&lab, &inside);
    assert!(copied && !body.contains("<rpc-error>"), "{body}");
}

/// `stage` copies each image once and verifies it on the device; a second `stage` copies
/// nothing; the upgrade then verifies the staged file's checksum instead of copying it again.
/// Proof of "once": the lab stamps a file with the time it was written.
#[tokio::test(start_paused = true)]
async fn staging_copies_each_image_once_and_the_upgrade_only_verifies_it() {
    use hitless::workflow::stage::{StageOutcome, stage};
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) = setup(dir.path(), "");
    let lab = lab_for(&scenario);
    let path = format!("/var/tmp/{}", scenario.images[0].catalog.as_ref().unwrap().file_name);
    let staging = Arc::new(driver(&lab));
    let rows = stage(&scenario, &staging, 8, false, &|_| {}).await;
    assert_eq!(rows.len(), 18);
    assert!(rows.iter().all(|r| r.outcome == StageOutcome::Staged), "{rows:?}");
    let written = |lab: &Lab| -> Vec<(String, u64)> {
        scenario
            .fabric
            .devices()
            .iter()
            .map(|d| (d.name.clone(), lab.device(&d.name).unwrap().files.get(&path).expect("staged file").written_unix))
            .collect()
    };
    let first = written(&lab);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let again = stage(&scenario, &staging, 3, false, &|_| {}).await;
    assert!(again.iter().all(|r| r.outcome == StageOutcome::AlreadyStaged), "{again:?}");
    assert_eq!(written(&lab), first, "a second stage copied again");

    let (state, devices) = upgrade(store, &scenario, &lab).await;
    assert_eq!(state, JobState::Finished, "{devices:?}");
    assert_eq!(written(&lab), first, "the upgrade copied a staged image again");
    assert_upgraded_once(&lab, &scenario, "21.4R3-S5.4");
    let store = Store::open(dir.path()).unwrap();
    let events = jobs::events(&store, "job-0001", None).unwrap();
    for device in scenario.fabric.devices() {
        let copy: Vec<&str> = events
            .iter()
            .filter(|e| e.device == device.name && e.step == hitless::journal::Step::Copy)
            .map(|e| e.message.as_str())
            .collect();
        assert_eq!(copy, ["image already staged, checksum verified"], "{}", device.name);
    }
}

/// A file whose checksum does not match the catalog's is not "staged": stage reports the
/// mismatch and fails that device, and nothing else.
#[tokio::test(start_paused = true)]
async fn staging_fails_a_device_whose_copy_does_not_verify() {
    use hitless::workflow::stage::{StageOutcome, stage};
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = setup(dir.path(), "faults:\n  - {device: leaf2, kind: checksum-mismatch}\n");
    let lab = lab_for(&scenario);
    let rows = stage(&scenario, &Arc::new(driver(&lab)), 8, false, &|_| {}).await;
    let leaf2 = rows.iter().find(|r| r.device == "leaf2").unwrap();
    assert_eq!(leaf2.outcome, StageOutcome::Failed);
    assert!(leaf2.message.contains("sha-256") && leaf2.message.contains("catalog says"), "{}", leaf2.message);
    assert!(rows.iter().filter(|r| r.device != "leaf2").all(|r| r.outcome == StageOutcome::Staged), "{rows:?}");
}

/// Over NETCONF to the lab, with `on_failure: rollback`: a post-upgrade check that fails on the
/// new image (a lab fault) makes the driver send `request-package-rollback` to every engine and
/// reboot; the lab boots the old version on every engine, passes the check there, and the device
/// leaves maintenance mode exactly as it entered it (its configuration as before the job). Both
/// devices are virtual chassis (of two and three members): every member goes back.
#[tokio::test(start_paused = true)]
async fn a_post_check_failure_on_the_lab_is_rolled_back_on_every_engine_and_back_in_service() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "faults:\n  - {device: leaf1, kind: health-check-fails, at: post-check}\n  - {device: leaf3, kind: health-check-fails, at: post-check}\n";
    let fabric = CHASSIS_FABRIC.replace("upgrade:\n", "upgrade:\n  on_failure: rollback\n");
    let (store, scenario) = setup_fabric(dir.path(), &fabric, extra);
    let lab = lab_for(&scenario);
    let before: Vec<_> = ["leaf1", "leaf3"].iter().map(|d| lab.device(d).unwrap().committed()).collect();
    let (state, devices) = upgrade(store, &scenario, &lab).await;
    assert_eq!(state, JobState::Halted);
    for (name, committed) in ["leaf1", "leaf3"].iter().zip(before) {
        let job = devices.iter().find(|d| d.device == *name).unwrap();
        assert_eq!(job.state, DeviceState::RolledBack, "{name}: {}", job.message);
        let emulated = lab.device(name).unwrap();
        assert!(emulated.engines.iter().all(|e| e.version == "18.4R2-S3.4" && e.pending.is_none()), "{name}");
        assert_eq!((emulated.upgrades, emulated.rollbacks), (1, 1), "{name}");
        assert!(!emulated.in_maintenance(), "{name}");
        assert_eq!(emulated.committed(), committed, "{name}: the configuration is not as it was");
    }
    // The batch mates that passed their checks are upgraded; later batches never started.
    for device in &devices {
        if ["leaf1", "leaf3"].contains(&device.device.as_str()) {
            continue;
        }
        let emulated = lab.device(&device.device).unwrap();
        match device.state {
            DeviceState::MaintenanceModeDeactivated => assert_eq!(emulated.version, "21.4R3-S5.4"),
            DeviceState::Pending => assert_eq!(emulated.upgrades, 0),
            other => panic!("{}: {other}", device.device),
        }
    }
}

/// Over NETCONF to the lab, with `on_failure: rollback` and a rollback the devices refuse in
/// the shapes real ones use (a virtual chassis whose last member answers `ERROR: ... rollback
/// aborted` with result 1; a dual-engine spine and a single-engine leaf that warn "Cannot
/// rollback" with no result): nothing is read as "Rolled Back". Each device ends failed, with its
/// own words, in maintenance mode, and nothing was rebooted into the old software.
#[tokio::test(start_paused = true)]
async fn a_rollback_the_device_refuses_leaves_it_failed_in_maintenance_mode() {
    let dir = tempfile::tempdir().unwrap();
    let mut extra = String::from("faults:\n");
    for device in ["leaf3", "leaf4", "spine1"] {
        extra.push_str(&format!("  - {{device: {device}, kind: health-check-fails, at: post-check}}\n"));
        extra.push_str(&format!("  - {{device: {device}, kind: rollback-fails}}\n"));
    }
    let fabric = CHASSIS_FABRIC.replace("upgrade:\n", "upgrade:\n  on_failure: rollback\n");
    let (store, scenario) = setup_fabric(dir.path(), &fabric, &extra);
    let lab = lab_for(&scenario);
    let (state, devices) = upgrade(store, &scenario, &lab).await;
    assert_eq!(state, JobState::Halted);
    let failed: Vec<&JobDevice> =
        devices.iter().filter(|d| d.state == DeviceState::HitlessImageUpgradeFailed).collect();
    assert!(!failed.is_empty(), "{devices:?}");
    for job in &failed {
        let name = job.device.as_str();
        assert!(["leaf3", "leaf4", "spine1"].contains(&name), "{name}: {}", job.message);
        assert!(job.message.contains("the rollback to 18.4R2-S3.4 failed"), "{name}: {}", job.message);
        let words = if name == "leaf3" { "rollback aborted" } else { "Cannot rollback" };
        assert!(job.message.contains(words), "{name}: {}", job.message);
        let emulated = lab.device(name).unwrap();
        assert!(emulated.in_maintenance(), "{name} is held in maintenance mode");
        assert_eq!(emulated.rollbacks, 0, "{name}");
    }
    assert!(devices.iter().all(|d| d.state != DeviceState::RolledBack), "{devices:?}");
}

/// Over NETCONF to the lab: a peer gone from the BGP summary on the new image fails the
/// snapshot diff taken in maintenance mode (the health checks pass: no peer is down), and the
/// device is held there; every other device's diff is clean.
#[tokio::test(start_paused = true)]
async fn on_the_lab_a_bgp_peer_gone_after_the_upgrade_fails_the_snapshot_diff() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) = setup(dir.path(), "faults:\n  - {device: leaf1, kind: bgp-peer-lost}\n");
    let lab = lab_for(&scenario);
    let (state, devices) = upgrade(store, &scenario, &lab).await;
    assert_eq!(state, JobState::Halted);
    let leaf1 = devices.iter().find(|d| d.device == "leaf1").unwrap();
    assert_eq!(leaf1.state, DeviceState::HealthCheckFailed);
    assert!(leaf1.message.contains("BGP peers Established before and not after: 10.0.0.1 (gone)"), "{}", leaf1.message);
    assert!(
        leaf1.message.contains("routes in inet.0") && leaf1.message.contains("routes in bgp.evpn.0"),
        "{}",
        leaf1.message
    );
    assert!(
        lab.device("leaf1").unwrap().in_maintenance(),
        "held in maintenance mode, never in service with a peer missing"
    );
    let batch = leaf1.batch;
    for mate in devices.iter().filter(|d| d.batch == batch && d.device != "leaf1") {
        assert_eq!(mate.state, DeviceState::MaintenanceModeDeactivated, "{}: {}", mate.device, mate.message);
    }
}

/// Over NETCONF to the lab: a drain the fabric ignores (the ports keep their rates) is not
/// proven; maintenance mode comes off and the device's configuration is as it was, with nothing
/// copied or installed. The drains of the other devices are proven from their port rates.
#[tokio::test(start_paused = true)]
async fn on_the_lab_an_unproven_drain_is_lifted_and_the_device_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) = setup(dir.path(), "faults:\n  - {device: leaf1, kind: drain-ineffective}\n");
    let lab = lab_for(&scenario);
    let before = lab.device("leaf1").unwrap().committed();
    let (state, devices) = upgrade(store, &scenario, &lab).await;
    assert_eq!(state, JobState::Halted);
    let leaf1 = devices.iter().find(|d| d.device == "leaf1").unwrap();
    assert_eq!(leaf1.state, DeviceState::MaintenanceModeFailure, "{}", leaf1.message);
    assert!(leaf1.message.contains("Mbit/s after 300 s in maintenance mode"), "{}", leaf1.message);
    let emulated = lab.device("leaf1").unwrap();
    assert_eq!(emulated.committed(), before, "the configuration is not as it was");
    assert!(emulated.files.is_empty() && emulated.engines.iter().all(|e| e.installs == 0));
    let store = Store::open(dir.path()).unwrap();
    let proven = jobs::events(&store, "job-0001", None)
        .unwrap()
        .iter()
        .filter(|e| e.message.starts_with("drain verified"))
        .count();
    assert!(proven >= 3, "the batch mates proved their drains ({proven})");
}

/// A device with LLDP turned off (`set protocols lldp disable`) answers no neighbours: discovery
/// says so, and its links are one-sided from its neighbours' view, named and left out, never
/// guessed.
#[tokio::test(start_paused = true)]
async fn discovery_names_a_device_that_answers_no_lldp() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = setup(dir.path(), "");
    let lab = lab_for(&scenario);
    let stream = InMemory(Arc::clone(&lab)).connect("leaf1").await.unwrap();
    let mut session = Session::open(stream, "leaf1", Duration::from_secs(60)).await.unwrap();
    for rpc in [
        "<lock><target><candidate/></target></lock>",
        "<load-configuration action=\"set\" format=\"text\"><configuration-set>set protocols lldp disable</configuration-set></load-configuration>",
        "<commit-configuration/>",
        "<unlock><target><candidate/></target></unlock>",
    ] {
        session.rpc(rpc, Duration::from_secs(60)).await.unwrap();
    }
    let hosts = crate::util::hosts_of(&scenario, "127.0.0.1:830", |_| None);
    let found = hitless::workflow::discover::discover(
        &Arc::new(driver(&lab)),
        &hosts,
        "lab",
        None,
        hitless::workflow::discover::PARALLEL,
        &|_, _| {},
    )
    .await;
    assert_eq!(found.devices, 18);
    assert!(found.warnings.iter().any(|w| w.starts_with("leaf1 answers no LLDP")), "{:?}", found.warnings);
    let one_sided: Vec<&String> = found.warnings.iter().filter(|w| w.contains("which does not see leaf1")).collect();
    assert!(one_sided.is_empty(), "a device without LLDP is not 'one-sided' but unknown: {one_sided:?}");
    assert!(
        !found.yaml.contains("leaf1, spine") && !found.yaml.contains("[leaf1,"),
        "leaf1's links were guessed:\n{}",
        found.yaml
    );
}

/// A driver whose devices' ports never drain (a fabric that ignores maintenance mode).
struct NeverDrains(JunosDriver<InMemory>);

impl Driver for NeverDrains {
    async fn facts(&self, device: &str) -> Result<hitless::exec::Facts, hitless::exec::DriverError> {
        self.0.facts(device).await
    }
    async fn health(
        &self,
        device: &str,
        image: &hitless::image::Image,
    ) -> Result<hitless::health::HealthReport, hitless::exec::DriverError> {
        self.0.health(device, image).await
    }
    async fn snapshot(&self, device: &str) -> Result<hitless::snapshot::Snapshot, hitless::exec::DriverError> {
        self.0.snapshot(device).await
    }
    async fn traffic_mbps(&self, _device: &str) -> Result<u64, hitless::exec::DriverError> {
        Ok(50_000)
    }
    async fn set_maintenance(&self, device: &str, on: bool) -> Result<(), hitless::exec::DriverError> {
        self.0.set_maintenance(device, on).await
    }
    async fn stage_image(&self, device: &str, image: &hitless::image::Image) -> Result<(), hitless::exec::DriverError> {
        self.0.stage_image(device, image).await
    }
    async fn staged(&self, device: &str, image: &hitless::image::Image) -> Result<bool, hitless::exec::DriverError> {
        self.0.staged(device, image).await
    }
    async fn install(
        &self,
        device: &str,
        image: &hitless::image::Image,
        facts: &hitless::exec::Facts,
    ) -> Result<hitless::exec::Installed, hitless::exec::DriverError> {
        self.0.install(device, image, facts).await
    }
    async fn rollback(
        &self,
        device: &str,
        facts: &hitless::exec::Facts,
        to: &hitless::version::Version,
    ) -> Result<(), hitless::exec::DriverError> {
        self.0.rollback(device, facts, to).await
    }
    async fn reboot(&self, device: &str, facts: &hitless::exec::Facts) -> Result<(), hitless::exec::DriverError> {
        self.0.reboot(device, facts).await
    }
    async fn wait_for_boot(
        &self,
        device: &str,
        before: &hitless::exec::Facts,
        deadline_seconds: u64,
    ) -> Result<hitless::exec::Facts, hitless::exec::DriverError> {
        self.0.wait_for_boot(device, before, deadline_seconds).await
    }
}

/// Resumed after a kill during its install, a device found in maintenance mode with the install
/// pending whose drain cannot be proven is not lifted out of maintenance mode: it would return to
/// service with new software waiting for its next reboot. It stays drained, failed, pending.
#[tokio::test(start_paused = true)]
async fn an_unproven_drain_never_returns_a_device_with_a_pending_install_to_service() {
    use hitless::journal::Step;
    let dir = tempfile::tempdir().unwrap();
    let (mut store, scenario) = setup(dir.path(), "");
    let lab = lab_for(&scenario);
    let plan = workflow::plan(&scenario);
    let started = workflow::jobs::start(&mut store, &scenario, FABRIC, &plan, DriverKind::Junos, 0, "a test").unwrap();
    drop(store);
    run_until(dir.path(), &scenario, &lab, &started.job, &started.devices, "leaf1", Step::Install).await;
    let (_store, summary) = resume(dir.path(), &started.job, NeverDrains(driver(&lab))).await;
    assert_eq!(summary.state, JobState::Halted);
    let leaf1 = summary.devices.iter().find(|d| d.device == "leaf1").unwrap();
    assert_eq!(leaf1.state, DeviceState::HitlessImageUpgradeFailed, "{}", leaf1.message);
    assert!(
        leaf1.message.contains("an install is pending on it, so it stays in maintenance mode"),
        "{}",
        leaf1.message
    );
    let emulated = lab.device("leaf1").unwrap();
    assert!(emulated.in_maintenance(), "returned to service with an install pending");
    assert!(emulated.engines.iter().any(|e| e.pending.is_some()), "the install was pending");
}

/// Across hosts, where no process table can be read: the owner on host `a` is silent past the
/// stale limit (a partition), so a controller on host `b` takes the job over without `--force`.
/// The first owner, still running, is fenced: its next journal write fails, it writes nothing
/// more to the journal and starts nothing more on the devices. `b` then finishes the job and
/// every device is upgraded exactly once.
#[tokio::test(start_paused = true)]
async fn across_hosts_a_fenced_owner_changes_nothing_after_the_takeover() {
    use hitless::store::jobs::LeaseHolder;
    use hitless::workflow::jobs::Holder;
    let dir = tempfile::tempdir().unwrap();
    let (mut store, scenario) = setup(dir.path(), "");
    let lab = lab_for(&scenario);
    let plan = workflow::plan(&scenario);
    let started = workflow::jobs::start(&mut store, &scenario, FABRIC, &plan, DriverKind::Junos, 0, "a test").unwrap();
    let a = LeaseHolder { pid: 100, host: "a".into(), token: "a-100".into(), started: 1 };
    workflow::jobs::take_lease(&mut store, &started.job, &a, 0, &|_| Holder::Unknown, false).unwrap();
    // `b` takes the job over the first time a device is drained, two minutes after `a` last
    // renewed its lease (at 0).
    let at_takeover = Arc::new(Mutex::new(None::<usize>));
    let (dir_b, job_b, seen) = (dir.path().to_path_buf(), started.job.clone(), Arc::clone(&at_takeover));
    let on_event: hitless::exec::OnEvent = Arc::new(move |event| {
        let mut seen = seen.lock().unwrap();
        if seen.is_none() && event.step == hitless::journal::Step::Drained {
            let mut other = Store::open(&dir_b).unwrap();
            let b = LeaseHolder { pid: 200, host: "b".into(), token: "b-200".into(), started: 1 };
            workflow::jobs::take_lease(&mut other, &job_b, &b, 120, &|_| Holder::Unknown, false).unwrap();
            *seen = Some(jobs::events(&other, &job_b, None).unwrap().len());
        }
    });
    let store = Arc::new(Mutex::new(store));
    let settings = RunSettings {
        time_scale: 1.0,
        clock_offset_seconds: 0.0,
        wall_clock: Arc::new(|| 0),
        on_event,
        interrupted: Arc::new(AtomicBool::new(false)),
        lease: Some(a),
        window: workflow::WindowChoice::Scenario,
        operator: "a test".into(),
    };
    let ran = workflow::run(&store, &scenario, &started.job, Arc::new(driver(&lab)), &started.devices, settings).await;
    let error = ran.expect_err("the fenced owner stops").to_string();
    assert!(error.contains("was taken over by process 200 on b"), "{error}");
    let taken = at_takeover.lock().unwrap().expect("the takeover happened");
    let watcher = Store::open(dir.path()).unwrap();
    let events = jobs::events(&watcher, &started.job, None).unwrap();
    assert_eq!(events.len(), taken, "the fenced owner wrote after the takeover: {:?}", &events[taken..]);
    assert!(events.last().unwrap().message.contains("which has been silent too long"));
    drop(watcher);
    let (_store, summary) = resume(dir.path(), &started.job, driver(&lab)).await;
    assert_eq!(summary.state, JobState::Finished, "{:?}", summary.devices);
    assert_upgraded_once(&lab, &scenario, "21.4R3-S5.4");
}

/// Two controllers (two state stores), one fabric: controller A's job drains leaf1 and dies
/// there. The marker it committed names its job (`job-0001/STORE@HOST`). Controller B's job on
/// the same fabric finds that marker on leaf1 and does not touch it (B's own `job-0001` is
/// another job): leaf1 fails untouched, its configuration still A's.
#[tokio::test(start_paused = true)]
async fn a_device_in_maintenance_mode_for_another_controllers_job_is_not_touched() {
    use hitless::journal::Step;
    let dir_a = tempfile::tempdir().unwrap();
    let (mut store_a, scenario) = setup(dir_a.path(), "");
    let lab = lab_for(&scenario);
    let plan = workflow::plan(&scenario);
    let started =
        workflow::jobs::start(&mut store_a, &scenario, FABRIC, &plan, DriverKind::Junos, 0, "a test").unwrap();
    let store_a_id = store_a.id().unwrap();
    drop(store_a);
    run_until(dir_a.path(), &scenario, &lab, &started.job, &started.devices, "leaf1", Step::Drained).await;
    let marked = lab.device("leaf1").unwrap().committed();
    let marker = format!("apply-macro hitless-maintenance job job-0001/{store_a_id}@");
    assert!(marked.iter().any(|line| line.contains(&marker)), "{marked:?}");

    let dir_b = tempfile::tempdir().unwrap();
    let (_store_b, scenario_b) = setup(dir_b.path(), "");
    let (_state, devices) = run_with(dir_b.path(), &scenario_b, driver(&lab), 1.0).await;
    let leaf1 = devices.iter().find(|d| d.device == "leaf1").unwrap();
    let store_b = Store::open(dir_b.path()).unwrap();
    let events = jobs::events(&store_b, "job-0001", None).unwrap();
    let halted_before = events.iter().any(|e| e.device.is_empty() && e.message.contains("for job job-0001/"));
    if leaf1.state == DeviceState::Pending {
        assert!(halted_before, "{events:#?}");
    } else {
        assert_eq!(leaf1.state, DeviceState::HealthCheckFailed, "{}", leaf1.message);
        assert!(leaf1.message.contains("in maintenance mode for another job (job-0001/"), "{}", leaf1.message);
    }
    assert_eq!(lab.device("leaf1").unwrap().committed(), marked, "controller B changed leaf1");
}

/// The image is verified on the device with SHA-256, as Junos computes it (MD5 only where a
/// device refuses the SHA-256 RPC): a staged copy that does not match says which sum differed.
#[tokio::test(start_paused = true)]
async fn the_image_is_verified_on_the_device_with_sha_256() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = setup(dir.path(), "faults:\n  - {device: leaf2, kind: checksum-mismatch}\n");
    let lab = lab_for(&scenario);
    let driver = driver(&lab);
    let image = &scenario.images[0];
    driver.stage_image("leaf1", image).await.unwrap();
    assert!(driver.staged("leaf1", image).await.unwrap());
    let error = driver.stage_image("leaf2", image).await.unwrap_err().to_string();
    let sha256 = &image.catalog.as_ref().unwrap().sha256;
    assert!(error.contains("sha-256 of /var/tmp/") && error.contains(&format!("the catalog says {sha256}")), "{error}");
    assert!(!driver.staged("leaf2", image).await.unwrap());
}

/// An older (non-ELS) EX answers only `get-lldp-interface-neighbors-information` with an
/// `<interface-name>`: the driver asks again that way when the ELS form is refused, and reads the
/// neighbours' management addresses all the same.
#[tokio::test(start_paused = true)]
async fn lldp_management_addresses_fall_back_to_the_non_els_form() {
    let fabric = CHASSIS_FABRIC
        .replace("qfx5120-48y, version: 18.4R2-S3.4}", "ex4200-48t, version: 18.4R2-S3.4}")
        .replace("platforms: [qfx5120-48y", "platforms: [ex4200-48t")
        .replace(
            "- {name: junos-21.4R3-S5.4}",
            "- {name: img, vendor: juniper, family: junos-qfx, platforms: [ex4200-48t, qfx10002-36q], version: 21.4R3-S5.4}",
        )
        .replace("{image: junos-21.4R3-S5.4,", "{image: img,");
    let scenario = Scenario::from_yaml_with(&fabric, Path::new("lab.yaml"), &hitless::scenario::NoCatalog).unwrap();
    let lab = lab_for(&scenario);
    let driver = driver(&lab);
    let lldp = driver.discover("leaf2").await.unwrap().lldp.unwrap();
    let ports: Vec<String> = lldp.iter().filter(|n| n.system.starts_with("spine")).map(|n| n.local.clone()).collect();
    assert_eq!(ports.len(), 2, "{lldp:?}");
    let addresses = driver.lldp_management("leaf2", &ports).await.unwrap();
    assert_eq!(addresses.len(), 2, "both spines' addresses, through the non-ELS form: {addresses:?}");
}

/// Logins per device upgrade are few and bounded (README: at most 8 for a device of one
/// routing engine, one more per other engine or member): the reads of a whole upgrade (facts,
/// health, snapshots, checksums, the drain check's polls) share one kept session per device,
/// re-opened only after the reboot; the copy, the two maintenance-mode commits, each install,
/// and the reboot each log in once. A drain that is never proven (30 polls of the port rates)
/// logs in no more than one that is.
#[tokio::test(start_paused = true)]
async fn a_device_upgrade_logs_in_a_bounded_number_of_times_and_polls_reuse_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scenario) =
        setup_fabric(dir.path(), CHASSIS_FABRIC, "faults:\n  - {device: leaf4, kind: drain-ineffective}\n");
    let lab = lab_for(&scenario);
    let (_state, devices) = upgrade(store, &scenario, &lab).await;
    let mut counted = Vec::new();
    for device in &devices {
        let engines = scenario.fabric.device(scenario.fabric.lookup(&device.device).unwrap()).engines.count() as u64;
        let logins = lab.logins(&device.device);
        counted.push((device.device.clone(), device.state, engines, logins));
    }
    for (name, state, engines, logins) in &counted {
        match state {
            DeviceState::MaintenanceModeDeactivated => {
                assert!(
                    *logins <= 8 + 2 * (engines - 1),
                    "{name}: {logins} logins for {engines} engine(s): {counted:?}"
                )
            }
            // The unproven drain: 30 polls, yet no more logins than a drain and its undoing.
            DeviceState::MaintenanceModeFailure => assert!(*logins <= 4, "{name}: {logins} logins: {counted:?}"),
            _ => assert!(*logins <= 8 + (engines - 1), "{name}: {logins}: {counted:?}"),
        }
    }
    assert!(
        counted.iter().any(|(name, state, ..)| name == "leaf4" && *state == DeviceState::MaintenanceModeFailure),
        "{counted:?}"
    );
    eprintln!("{counted:?}");
}

/// Every write of a fenced process's job fails once another process holds its lease: events,
/// the job's state, and its snapshots alike (a snapshot is part of the job's journal).
#[test]
fn a_fenced_store_writes_nothing_more_of_the_job() {
    use hitless::store::jobs::LeaseHolder;
    use hitless::workflow::jobs::Holder;
    let dir = tempfile::tempdir().unwrap();
    let (mut store, scenario) = setup(dir.path(), "");
    let plan = workflow::plan(&scenario);
    let job = workflow::jobs::start(&mut store, &scenario, FABRIC, &plan, DriverKind::Junos, 0, "a test").unwrap().job;
    let a = LeaseHolder { pid: 1, host: "a".into(), token: "a-1".into(), started: 1 };
    workflow::jobs::take_lease(&mut store, &job, &a, 0, &|_| Holder::Unknown, false).unwrap();
    store.fence(&job, a);
    let snapshot = hitless::snapshot::Snapshot::default();
    let fabric = scenario.fabric.fingerprint();
    // Still its own: writes go through.
    hitless::store::snapshots::save(
        &mut store,
        &fabric,
        "ok",
        Some(&job),
        0,
        &[("leaf1", hitless::journal::SnapshotKind::Before, &snapshot)],
    )
    .unwrap();
    let mut other = Store::open(dir.path()).unwrap();
    let b = LeaseHolder { pid: 2, host: "b".into(), token: "b-2".into(), started: 1 };
    workflow::jobs::take_lease(&mut other, &job, &b, 120, &|_| Holder::Unknown, false).unwrap();
    let saved = hitless::store::snapshots::save(
        &mut store,
        &fabric,
        "late",
        Some(&job),
        0,
        &[("leaf1", hitless::journal::SnapshotKind::After, &snapshot)],
    );
    assert!(saved.unwrap_err().to_string().contains("was taken over by process 2 on b"));
    assert!(jobs::set_state(&mut store, &job, JobState::Cancelled).is_err());
    assert_eq!(jobs::get(&other, &job).unwrap().state, JobState::Running, "the fenced write changed the job");
    assert!(
        hitless::store::snapshots::of_job(&other, &job, "leaf1", hitless::journal::SnapshotKind::After)
            .unwrap()
            .is_none()
    );
}

/// `<get-configuration format="json">` is answered as Junos answers it (PyEZ's recorded
/// `get-configuration.json` reply): the JSON is the reply's own text, `{"configuration": ...}`,
/// with no element around it — what PyEZ hands to `json.loads`.
#[test]
fn the_configuration_as_json_is_the_replys_own_text() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = setup(dir.path(), "");
    let lab = lab_for(&scenario);
    for request in ["<get-configuration format=\"json\"/>", "<command format=\"json\">show configuration</command>"] {
        let reply = hitless::lab::rpc::handle(&lab, "leaf1", 1, &hitless::netconf::xml::parse(request).unwrap());
        let wrapped = hitless::netconf::xml::parse(&format!("<rpc-reply>{}</rpc-reply>", reply.body)).unwrap();
        assert!(wrapped.children.is_empty(), "{request}: an element around the JSON: {}", reply.body);
        let json: serde_json::Value = serde_json::from_str(wrapped.text.trim())
            .unwrap_or_else(|e| panic!("{request}: not JSON ({e}): {}", reply.body));
        assert_eq!(json["configuration"]["system"]["host-name"], "leaf1", "{json}");
    }
}

/// A statement the lab models takes effect however it is configured: through a group applied
/// with a wildcard, and not when it is deactivated. Read through the RPCs a client reads.
#[test]
fn modelled_statements_take_effect_through_groups_and_not_when_deactivated() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = setup(dir.path(), "");
    let lab = lab_for(&scenario);
    let rpc = |request: &str| {
        let reply = hitless::lab::rpc::handle(&lab, "leaf1", 1, &hitless::netconf::xml::parse(request).unwrap());
        assert!(!reply.body.contains("<rpc-error>"), "{request}: {}", reply.body);
        reply.body
    };
    let load = |text: &str| {
        rpc(&format!(
            "<load-configuration format=\"text\" action=\"merge\"><configuration-text>{}</configuration-text></load-configuration>",
            hitless::netconf::xml::escape(text)
        ));
        rpc("<commit-configuration/>");
    };
    // What the interface RPC reports for the bundle: its admin status follows is_disabled.
    let status = |name: &str| {
        let body = rpc("<get-interface-information/>");
        let at = body.find(&format!("<name>\n{name}\n</name>")).expect("the bundle is listed");
        let rest = &body[at..];
        let admin = rest.find("<admin-status").map(|i| &rest[i..i + 60]).unwrap_or("");
        assert_eq!(admin.contains(">down<"), lab.device("leaf1").unwrap().is_disabled(name));
        admin.contains(">down<")
    };
    let lag = lab.server_lags("leaf1").first().cloned().expect("leaf1 has an ESI-LAG");
    assert!(!status(&lag), "{lag} starts up");
    load("groups { parked { interfaces { <ae*> { disable; } } } } apply-groups parked;");
    assert!(status(&lag), "a group's wildcard disables {lag}");
    let inherited = rpc("<get-configuration inherit=\"inherit\" format=\"set\"/>");
    assert!(inherited.contains(&format!("interfaces {lag} disable")), "{inherited}");
    load("inactive: apply-groups parked;");
    assert!(!status(&lag), "a deactivated apply-groups has no effect");
    load(&format!("interfaces {{ inactive: {lag} {{ disable; }} }}"));
    assert!(!status(&lag), "nor does a deactivated interface's disable");
}
