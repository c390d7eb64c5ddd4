//! One controller upgrading emulated Junos devices through the real driver code (NETCONF
//! framing, XML, RPC sequences) over in-memory pipes, on tokio's paused clock so that reboots
//! cost no wall time: what is measured is the CPU both sides spend per device.
//!
//! Per device: facts, health, maintenance on (lock, load, commit check, commit confirmed,
//! confirm, unlock), image copy and checksum, install, reboot, wait for boot, health,
//! maintenance off: about 40 RPCs in 12 sessions.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hitless::driver::junos::{JunosDriver, JunosSettings};
use hitless::exec::Driver;
use hitless::image::{CatalogFile, Image};
use hitless::lab::{InMemory, Lab};
use hitless::scenario::Scenario;
use hitless::version::Version;

fn scenario(pods: u32) -> Scenario {
    let yaml = format!(
        "name: lab-bench\nfabric:\n  generate: {{pods: {pods}, spines_per_pod: 4, leafs_per_pod: 96, border_leafs: 0}}\n\
images:\n  - {{name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5120-48y, qfx10002-36q], version: 21.4R3-S5.4}}\n\
upgrade:\n  assign: [{{image: img, devices: all}}]\n"
    );
    Scenario::from_yaml(&yaml, Path::new("bench.yaml")).unwrap()
}

fn image(dir: &Path) -> Image {
    let path = dir.join("jinstall-host-qfx-5e-x86-64-21.4R3-S5.4-secure-signed.tgz");
    let content = vec![1u8; 4096];
    std::fs::write(&path, &content).unwrap();
    use md5::Digest;
    let md5: String = md5::Md5::digest(&content).iter().map(|b| format!("{b:02x}")).collect();
    Image {
        name: "img".into(),
        vendor: "juniper".into(),
        family: "junos-qfx".into(),
        platforms: vec![],
        version: Version::parse("21.4R3-S5.4").unwrap(),
        catalog: Some(CatalogFile {
            path,
            file_name: "jinstall-host-qfx-5e-x86-64-21.4R3-S5.4-secure-signed.tgz".into(),
            size_bytes: 4096,
            sha256: String::new(),
            md5,
        }),
    }
}

async fn upgrade_all(scenario: &Scenario, image: &Image) {
    let lab = Arc::new(Lab::new(&scenario.fabric, scenario.timing.clone(), Vec::new(), 1.0, 1_790_000_000));
    let settings = JunosSettings { boot_poll_interval: Duration::from_secs(60), ..JunosSettings::default() };
    let driver = JunosDriver::new(InMemory(Arc::clone(&lab)), settings);
    for device in scenario.fabric.devices() {
        let name = device.name.as_str();
        let before = driver.facts(name).await.unwrap();
        driver.health(name, image).await.unwrap();
        driver.set_maintenance(name, true).await.unwrap();
        driver.stage_image(name, image).await.unwrap();
        driver.install(name, image, &before).await.unwrap();
        driver.reboot(name, &before).await.unwrap();
        let after = driver.wait_for_boot(name, &before, 1800).await.unwrap();
        assert_eq!(after.version(), &image.version);
        driver.health(name, image).await.unwrap();
        driver.set_maintenance(name, false).await.unwrap();
    }
}

fn bench_lab(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path());
    let mut group = c.benchmark_group("driver_and_lab_upgrade");
    group.sample_size(10);
    for pods in [1u32, 10] {
        let scenario = scenario(pods);
        group.throughput(Throughput::Elements(scenario.fabric.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(scenario.fabric.len()), &scenario, |b, scenario| {
            b.iter(|| {
                let runtime =
                    tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
                runtime.block_on(upgrade_all(scenario, &image));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_lab);
criterion_main!(benches);
