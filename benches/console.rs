//! The console's event streams under load: 50 server-sent event streams watching one virtual job
//! on a 1,000-device fabric (10 pods x (4 spines + 96 leafs), plus super-spines), the job's
//! virtual clock running `SPEED` times real time so that it journals a few hundred events a
//! second (in fact as many as the journal takes: each event is a durable SQLite commit, about
//! 450 a second on this machine). Measured per run: the wall time to the job's end on every stream; printed: the worst
//! delay of any event on any stream behind the job's own clock, and the process's peak memory.
//!
//! The delay is an event's arrival on a stream minus when the job journaled it, the latter
//! reckoned from the job's clock (`at_seconds / SPEED` after the job's start, the start taken as
//! the earliest such reckoning over all events and streams, so delays are never negative and the
//! fastest delivery counts as zero).

use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hitless::console::Config;
use hitless::workflow::jobs::Holder;
use hitless::workflow::service::{LeaseHolder, Service};
use hitless::workflow::upgrade::Caller;
use hitless::workflow::users::Role;
use serde_json::{Value, json};

const STREAMS: usize = 50;
const SPEED: f64 = 20_000.0;

struct Served {
    base: String,
    token: String,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    let yaml = "name: streams-bench\nfabric:\n  generate: {pods: 10, spines_per_pod: 4, leafs_per_pod: 96, border_leafs: 0}\n\
images:\n  - {name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5120-48y, qfx10002-36q], version: 21.4R3-S5.4}\n\
upgrade:\n  assign: [{image: img, devices: all}]\n";
    std::fs::write(scenarios.join("big.yaml"), yaml).unwrap();
    let state = dir.path().join("state");
    let token = {
        let service = Service::open(Some(&state)).unwrap();
        service.add_user("bench", Role::Operator, "a bench password", 0).unwrap();
        service.issue_token("bench", 0).unwrap()
    };
    let service = Service::open(Some(&state)).unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), "bench".into());
    config.scenarios = Some(scenarios);
    let caller = Caller {
        operator: String::new(),
        lease: LeaseHolder { pid: std::process::id(), host: "bench".into(), token: "bench".into(), started: 0 },
        holder: Arc::new(|_| Holder::Unknown),
        now: Arc::new(|| 1_800_000_000),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready, address) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime
            .block_on(hitless::console::serve(
                service,
                config,
                caller,
                async {
                    let _ = stopped.await;
                },
                move |at| ready.send(at).unwrap(),
            ))
            .unwrap();
    });
    let at = address.recv().unwrap();
    Served { base: format!("http://{at}"), token, _dir: dir, stop: Some(stop), thread: Some(thread) }
}

/// Every event a stream received: (arrival, the job clock's seconds).
fn watch(base: &str, token: &str, job: &str) -> Vec<(Instant, f64)> {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let response = agent
        .get(format!("{base}/api/v1/jobs/{job}/events"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let mut seen = Vec::new();
    let mut ending = false;
    for line in BufReader::new(response.into_body().into_reader()).lines() {
        let line = line.unwrap();
        if line == "event: end" {
            ending = true;
        } else if let Some(data) = line.strip_prefix("data: ") {
            if ending {
                break;
            }
            let event: Value = serde_json::from_str(data).unwrap();
            seen.push((Instant::now(), event["at_seconds"].as_f64().unwrap()));
        }
    }
    seen
}

/// One run: the job started, watched by every stream to its end. The worst delay.
/// One run on a console of its own (a fresh state directory: the virtual devices of an earlier
/// run are upgraded already).
fn run() -> (Duration, Duration, usize) {
    let served = serve();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let began = Instant::now();
    let mut response = agent
        .post(format!("{}/api/v1/jobs", served.base))
        .header("Authorization", format!("Bearer {}", served.token))
        .send_json(json!({"mode": "upgrade", "fabric": "big", "driver": "virtual", "speed": SPEED}))
        .unwrap();
    let started: Value = response.body_mut().read_json().unwrap();
    let job = started["job"].as_str().unwrap_or_else(|| panic!("{started}")).to_string();
    let watchers: Vec<_> = (0..STREAMS)
        .map(|_| {
            let (base, token, job) = (served.base.clone(), served.token.clone(), job.clone());
            std::thread::spawn(move || watch(&base, &token, &job))
        })
        .collect();
    let seen: Vec<Vec<(Instant, f64)>> = watchers.into_iter().map(|w| w.join().unwrap()).collect();
    let elapsed = began.elapsed();
    let start =
        seen.iter().flatten().map(|(arrived, at)| *arrived - Duration::from_secs_f64(at / SPEED)).min().unwrap();
    let worst = seen
        .iter()
        .flatten()
        .map(|(arrived, at)| arrived.saturating_duration_since(start + Duration::from_secs_f64(at / SPEED)))
        .max()
        .unwrap();
    let events = seen[0].len();
    assert!(seen.iter().all(|s| s.len() == events), "every stream got every event");
    (elapsed, worst, events)
}

fn peak_memory_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn bench_streams(c: &mut Criterion) {
    let mut group = c.benchmark_group("console");
    group.sample_size(10).warm_up_time(Duration::from_millis(1)).measurement_time(Duration::from_secs(1));
    group.bench_function("50_streams_watch_a_1000_device_job", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let (elapsed, worst, events) = run();
                eprintln!(
                    "{events} events on each of {STREAMS} streams in {:.1} s; worst delay {:.3} s; peak memory {} MiB",
                    elapsed.as_secs_f64(),
                    worst.as_secs_f64(),
                    peak_memory_kib() / 1024
                );
                total += elapsed;
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, bench_streams);
criterion_main!(benches);
