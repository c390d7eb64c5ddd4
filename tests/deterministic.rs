//! The Junos driver and the lab's SSH server on turmoil's simulated network: seeded latency, a
//! partition in the middle, the full upgrade of a device, all in virtual time. One seed
//! reproduces a run exactly.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hitless::driver::junos::{JunosDriver, JunosSettings};
use hitless::driver::ssh::{Dialer, Io, SshAuth, SshConnector, SshSettings};
use hitless::exec::Driver;
use hitless::lab::Lab;
use hitless::lab::ssh::{LabAuth, host_key, serve_connection, server_config};

const PASSWORD: &str = "simulated";

/// Runs the scenario for `seed`; returns the controller's timeline (virtual milliseconds, what).
fn run(seed: u64) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let (_store, scenario) = crate::junos::setup(dir.path(), "");
    let image = scenario.images[0].clone();
    let key = host_key(&dir.path().join("lab_host_key")).unwrap();
    let trace = Arc::new(Mutex::new(Vec::new()));
    let phase = Arc::new(AtomicU8::new(0));
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .tick_duration(Duration::from_millis(10))
        .min_message_latency(Duration::from_millis(10))
        .max_message_latency(Duration::from_millis(60))
        .simulation_duration(Duration::from_secs(4 * 3600))
        .build();

    let (fabric, timing) = (scenario.fabric.clone(), scenario.timing.clone());
    sim.host("lab", move || {
        let (fabric, timing, key) = (fabric.clone(), timing.clone(), key.clone());
        async move {
            let lab = Arc::new(Lab::new(&fabric, timing, Vec::new(), 1.0, 1_790_000_000));
            let config = server_config(key, std::time::Duration::from_secs(600));
            let auth = LabAuth { password: Some(PASSWORD.into()), keys: Vec::new() };
            let listener = turmoil::net::TcpListener::bind("0.0.0.0:830").await?;
            loop {
                let (stream, _) = listener.accept().await?;
                let (lab, config, auth) = (Arc::clone(&lab), Arc::clone(&config), auth.clone());
                tokio::spawn(async move { serve_connection(lab, "leaf1", config, auth, stream).await });
            }
        }
    });

    let (client_trace, client_phase, known_hosts) =
        (Arc::clone(&trace), Arc::clone(&phase), dir.path().join("known_hosts"));
    sim.client("controller", async move {
        let dialer: Dialer = Arc::new(|host: String, port: u16| {
            Box::pin(async move {
                Ok(Box::new(turmoil::net::TcpStream::connect((host.as_str(), port)).await?) as Box<dyn Io>)
            })
        });
        let settings = SshSettings {
            addresses: [("leaf1".to_string(), "lab:830".to_string())].into(),
            user: "netops".into(),
            auth: SshAuth::Password(PASSWORD.into()),
            known_hosts,
            trust_on_first_use: true,
            connect_timeout: Duration::from_secs(20),
        };
        let junos = JunosSettings {
            rpc_timeout: Duration::from_secs(20),
            boot_poll_interval: Duration::from_secs(30),
            ..JunosSettings::default()
        };
        let driver = JunosDriver::new(SshConnector::with_dialer(settings, dialer), junos);
        let start = tokio::time::Instant::now();
        let note = |what: &str| client_trace.lock().unwrap().push(format!("{:>9} {what}", start.elapsed().as_millis()));

        let facts = driver.facts("leaf1").await.expect("reachable before the partition");
        note(&format!("facts {}", facts.version()));
        client_phase.store(1, Ordering::SeqCst); // the test partitions controller and lab
        tokio::time::sleep(Duration::from_secs(1)).await;
        let cut = driver.facts("leaf1").await.expect_err("unreachable while partitioned");
        note(&format!("partitioned: {}", if cut.is_transport() { "transport error" } else { "other error" }));
        client_phase.store(2, Ordering::SeqCst); // the test repairs the link
        tokio::time::sleep(Duration::from_secs(1)).await;

        driver.health("leaf1", &image).await.expect("health");
        driver.set_maintenance("leaf1", true).await.expect("maintenance on");
        note("maintenance on");
        driver.stage_image("leaf1", &image).await.expect("image staged and checked");
        driver.install("leaf1", &image, &facts).await.expect("installed");
        note("installed");
        driver.reboot("leaf1", &facts).await.expect("reboot requested");
        let back = driver.wait_for_boot("leaf1", &facts, 1800).await.expect("back after the reboot");
        note(&format!("rebooted into {}", back.version()));
        driver.set_maintenance("leaf1", false).await.expect("maintenance off");
        let done = driver.facts("leaf1").await.expect("facts");
        note(&format!("done: {} maintenance={}", done.version(), done.maintenance));
        Ok(())
    });

    let mut applied = 0;
    while !sim.step().expect("the simulation runs") {
        let wanted = phase.load(Ordering::SeqCst);
        if wanted != applied {
            match wanted {
                1 => sim.partition("controller", "lab"),
                _ => sim.repair("controller", "lab"),
            }
            applied = wanted;
        }
    }
    trace.lock().unwrap().clone()
}

#[test]
fn a_partition_is_survived_and_one_seed_reproduces_the_run() {
    let first = run(7);
    let steps: Vec<&str> = first.iter().map(|line| line.trim_start().split_once(' ').unwrap().1).collect();
    assert_eq!(
        steps,
        [
            "facts 18.4R2-S3.4",
            "partitioned: transport error",
            "maintenance on",
            "installed",
            "rebooted into 21.4R3-S5.4",
            "done: 21.4R3-S5.4 maintenance=false",
        ]
    );
    assert_eq!(first, run(7), "the same seed gives the same timeline, to the millisecond");
}
