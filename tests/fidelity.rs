//! The simulator against hand calculations: each test builds a small fabric, works out by hand
//! (in the comments) what traffic must lose and when, and checks `hitless simulate` to the byte.
//!
//! Timings used throughout are the defaults (README, "Time estimates"): the pre-check's two
//! health readings 10 s apart (`sample_seconds`), then a leaf's phases drain 60 s, image copy 180,
//! install 480, reboot 480, convergence 120, post-check 60, undrain 60; a spine's reboot is 600.
//! So from the start of its batch a device is drained at 10 (traffic avoids it from 20 s,
//! `drain_convergence_seconds`), goes down at 10 + 60 + 180 + 480 = 730, is back at 730 + 480 =
//! 1210 (leaf) or 730 + 600 = 1330 (spine), is used again 120 s later (1330 or 1450), and is
//! undrained after the 60 s post-check (1390 or 1510); the drain's end is seen 10 s after that.

use hitless::simulate::report::{CauseKind, FlowLossReport, SimReport};

use crate::util::{hitless, write_temp};

/// Gbit to bytes, as the report counts them.
const BYTES_PER_GBIT: f64 = 1e9 / 8.0;

/// Two spines, four leafs, full mesh; a multihomed server on each leaf pair and one
/// single-homed server (`backup1`) on leaf4. `upgrade`, `traffic` and anything after are added.
const FABRIC: &str = "name: hand
fabric:
  devices:
    - {name: spine1, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.4R2}
    - {name: spine2, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.4R2}
    - {name: leaf1, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
    - {name: leaf2, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
    - {name: leaf3, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
    - {name: leaf4, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
  links: [[spine1, leaf1], [spine1, leaf2], [spine1, leaf3], [spine1, leaf4],
          [spine2, leaf1], [spine2, leaf2], [spine2, leaf3], [spine2, leaf4]]
  servers:
    - {name: bms1, links: [leaf1, leaf2]}
    - {name: bms2, links: [leaf3, leaf4]}
    - {name: backup1, links: [leaf4]}
images:
  - {name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5110-48s, qfx10002-36q], version: 19.1R1}
";

fn simulate(yaml: &str) -> SimReport {
    let (_dir, path) = write_temp("hand.yaml", yaml);
    let run = hitless(&["simulate", path.to_str().unwrap(), "--format", "json"]);
    assert!(run.code == 0 || run.code == 1, "simulate failed ({}): {}", run.code, run.stderr);
    serde_json::from_str(&run.stdout).expect("a SimReport")
}

fn flow<'a>(report: &'a SimReport, src: &str, dst: &str) -> &'a FlowLossReport {
    report
        .flows_with_loss
        .iter()
        .find(|f| f.src == src && f.dst == dst)
        .unwrap_or_else(|| panic!("{src} -> {dst} loses nothing: {:#?}", report.flows_with_loss))
}

/// Equal to within a millionth (the engine works in whole milliseconds and f64).
fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!((actual - expected).abs() <= expected.abs() * 1e-6 + 1.0, "{what}: {actual} bytes, expected {expected}");
}

#[test]
fn a_single_homed_server_behind_a_drained_leaf_is_cut_while_its_leaf_is_down() {
    // Maintenance mode disables only ESI-LAGs (multihomed servers'): backup1, on leaf4 alone, has
    // no other leaf to move to, so its link stays up and the drained leaf keeps serving it until
    // it goes down (730 s), and again once it is used after its reboot (1210 + 120 = 1330 s).
    //   bms1 -> backup1 at 2 Gbps: 2 x 600 = 1200 Gbit; backup1 -> bms1 at 1 Gbps: 600 Gbit.
    // bms2 (leaf3 and leaf4) moves to leaf3 at the drain: nothing lost.
    let yaml = format!(
        "{FABRIC}upgrade:\n  assign: [{{image: img, devices: [leaf4]}}]\n\
traffic: {{flows: [{{src: bms1, dst: backup1, gbps: 2}}, {{src: backup1, dst: bms1, gbps: 1}}, {{src: bms1, dst: bms2, gbps: 5}}]}}\n"
    );
    let report = simulate(&yaml);
    assert!(!report.hitless);
    let to = flow(&report, "bms1", "backup1");
    assert_close(to.blackhole_bytes, 2.0 * 600.0 * BYTES_PER_GBIT, "bms1 -> backup1");
    assert_close(flow(&report, "backup1", "bms1").blackhole_bytes, 600.0 * BYTES_PER_GBIT, "backup1 -> bms1");
    let cause = to.cause.as_ref().unwrap();
    assert_eq!((cause.device.as_str(), cause.at_seconds, cause.kind), ("leaf4", 730.0, CauseKind::Blackhole));
    assert_close(report.lost_bytes, 3.0 * 600.0 * BYTES_PER_GBIT, "total: bms2 lost nothing");
    assert_eq!(report.flows_with_loss_count, 2);
}

#[test]
fn both_leafs_of_a_server_in_one_batch_cut_it_off_from_drain_to_undrain() {
    // Hand-written: leaf1 and leaf2 (both of bms1's leafs) together. Both disable their LAGs at
    // 10 s: bms1 has no way in or out until the undrain at 1390 s, for 1380 s.
    //   bms1 -> bms2 at 4 Gbps: 5520 Gbit; bms2 -> bms1 at 1 Gbps: 1380 Gbit.
    let yaml = format!(
        "{FABRIC}upgrade:\n  assign: [{{image: img, devices: [leaf1, leaf2]}}]\n  batches: [[leaf1, leaf2]]\n\
traffic: {{flows: [{{src: bms1, dst: bms2, gbps: 4}}, {{src: bms2, dst: bms1, gbps: 1}}]}}\n"
    );
    let report = simulate(&yaml);
    assert_close(flow(&report, "bms1", "bms2").blackhole_bytes, 4.0 * 1380.0 * BYTES_PER_GBIT, "bms1 -> bms2");
    assert_close(flow(&report, "bms2", "bms1").blackhole_bytes, 1380.0 * BYTES_PER_GBIT, "bms2 -> bms1");
    assert!(report.warnings.iter().any(|w| w.contains("breaks a rule")), "{:?}", report.warnings);
}

#[test]
fn an_undrained_reboot_is_detected_by_link_loss() {
    // No maintenance mode; spine1 alone. leaf1 sends half of bms1 -> bms2 (4 Gbps, 1 Gbps per
    // leaf-spine path... ) to spine1. Precisely: bms1 splits 2 + 2 over leaf1 and leaf2, each
    // leaf splits 1 + 1 over the spines: 2 Gbps reach spine1. spine1 goes down at 10 + 180 +
    // 480 = 670 s (no drain phase) and its links drop: the leafs notice after 50 ms
    // (`link_down_detection_ms`). Lost: 2 Gbps x 0.05 s = 0.1 Gbit. It comes back at 1270 s
    // and is used again only at 1390 s, once its protocols are up: nothing more is lost.
    let yaml = format!(
        "{FABRIC}upgrade:\n  drain: false\n  assign: [{{image: img, devices: [spine1]}}]\n\
traffic: {{flows: [{{src: bms1, dst: bms2, gbps: 4}}]}}\n"
    );
    let report = simulate(&yaml);
    let lost = flow(&report, "bms1", "bms2");
    assert_close(lost.blackhole_bytes, 2.0 * 0.05 * BYTES_PER_GBIT, "50 ms of link-loss detection");
    let cause = lost.cause.as_ref().unwrap();
    assert_eq!((cause.device.as_str(), cause.at_seconds), ("spine1", 670.0));
    // 200 ms to notice instead: four times the loss.
    let slower = simulate(&yaml.replace("traffic:", "simulation: {link_down_detection_ms: 200}\ntraffic:"));
    assert_close(flow(&slower, "bms1", "bms2").blackhole_bytes, 2.0 * 0.2 * BYTES_PER_GBIT, "200 ms");
}

#[test]
fn a_hung_device_is_detected_by_bfd_or_else_the_bgp_hold_time() {
    // spine1 hangs at its pre-upgrade health check (0 s), before any drain: it forwards nothing
    // and its links stay up, so the leafs notice only when BFD times out, 3 x 300 ms = 0.9 s.
    //   2 Gbps (the half of bms1 -> bms2 on spine1) x 0.9 s = 1.8 Gbit.
    // The job halts there: the simulation ends with that batch.
    let yaml = format!(
        "{FABRIC}upgrade:\n  assign: [{{image: img, devices: [spine1, spine2]}}]\n\
traffic: {{flows: [{{src: bms1, dst: bms2, gbps: 4}}]}}\nfaults:\n  - {{device: spine1, kind: hang, at: health-check}}\n"
    );
    let report = simulate(&yaml);
    let lost = flow(&report, "bms1", "bms2");
    assert_close(lost.blackhole_bytes, 2.0 * 0.9 * BYTES_PER_GBIT, "BFD");
    assert_eq!(lost.cause.as_ref().unwrap().device, "spine1");
    assert_eq!(report.batches.len(), 1, "the job halts after the failing batch: {:?}", report.batches);
    assert!(report.warnings.iter().any(|w| w.contains("spine1 (hang at health-check)")), "{:?}", report.warnings);
    // Without BFD the BGP hold time, 90 s: 2 x 90 = 180 Gbit.
    let report = simulate(&yaml.replace("traffic:", "simulation: {bfd: false}\ntraffic:"));
    assert_close(flow(&report, "bms1", "bms2").blackhole_bytes, 2.0 * 90.0 * BYTES_PER_GBIT, "BGP hold");
}

#[test]
fn with_both_route_reflectors_down_the_overlay_is_lost_after_the_hold_time() {
    // Three spines; spine1 and spine2 are the route reflectors, and a hand-written plan takes
    // them down together. Drained at 10 s, traffic leaves them at 20 s (spine3 remains), so the
    // data plane loses nothing. They go down at 730 s; with no route reflector up, the overlay's
    // routes age out after `overlay_hold_seconds` (90): from 820 s every flow between leafs loses
    // everything, until a route reflector is back and used, at 730 + 600 + 120 = 1450 s.
    //   bms1 -> bms2 at 3 Gbps: 3 x (1450 - 820) = 1890 Gbit, blamed on spine1 at 820 s.
    // bms3 -> bms1 stays on one leaf pair (switched locally, no overlay needed): no loss.
    let yaml = "name: reflectors
fabric:
  devices:
    - {name: spine1, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.4R2, critical_roles: [route-reflector]}
    - {name: spine2, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.4R2, critical_roles: [route-reflector]}
    - {name: spine3, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.4R2}
    - {name: leaf1, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
    - {name: leaf2, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
    - {name: leaf3, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
    - {name: leaf4, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
  links: [[spine1, leaf1], [spine1, leaf2], [spine1, leaf3], [spine1, leaf4],
          [spine2, leaf1], [spine2, leaf2], [spine2, leaf3], [spine2, leaf4],
          [spine3, leaf1], [spine3, leaf2], [spine3, leaf3], [spine3, leaf4]]
  servers:
    - {name: bms1, links: [leaf1, leaf2]}
    - {name: bms2, links: [leaf3, leaf4]}
    - {name: bms3, links: [leaf1, leaf2]}
images:
  - {name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5110-48s, qfx10002-36q], version: 19.1R1}
upgrade:
  assign: [{image: img, devices: [spine1, spine2]}]
  batches: [[spine1, spine2]]
traffic: {flows: [{src: bms1, dst: bms2, gbps: 3}, {src: bms3, dst: bms1, gbps: 5}]}
";
    let report = simulate(yaml);
    let lost = flow(&report, "bms1", "bms2");
    assert_close(lost.blackhole_bytes, 3.0 * 630.0 * BYTES_PER_GBIT, "overlay lost 820 s to 1450 s");
    let cause = lost.cause.as_ref().unwrap();
    assert_eq!((cause.device.as_str(), cause.at_seconds), ("spine1", 820.0));
    assert!(report.flows_with_loss.iter().all(|f| f.src != "bms3"), "local traffic needs no overlay");
    assert_eq!(report.flows_with_loss_count, 1);
}

#[test]
fn a_leaf_that_loses_every_spine_isolates_itself_and_its_servers_move() {
    // leaf1 hangs on spine1 alone; bms1 is on leaf1 and leaf2; bms2 on leaf3. spine1 drained at
    // 10 s: leaf1's only uplink is avoided but still used (no other way). bms1 -> bms2 at 2 Gbps:
    // 1 Gbps enters leaf1. At 730 s spine1 goes down; leaf1 notices after 50 ms and, with no
    // spine left, takes its server links down 1 s later (EVPN core isolation): bms1 moves to
    // leaf2. Lost: 1 Gbps x 1.05 s = 1.05 Gbit, blamed on spine1.
    // bms2 -> bms1 goes by spine2 to leaf2 from the drain on: nothing lost.
    let yaml = "name: isolation
fabric:
  devices:
    - {name: spine1, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.4R2}
    - {name: spine2, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.4R2}
    - {name: leaf1, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
    - {name: leaf2, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
    - {name: leaf3, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
  links: [[spine1, leaf1], [spine1, leaf2], [spine1, leaf3], [spine2, leaf2], [spine2, leaf3]]
  servers:
    - {name: bms1, links: [leaf1, leaf2]}
    - {name: bms2, links: [leaf3]}
images:
  - {name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5110-48s, qfx10002-36q], version: 19.1R1}
upgrade:
  assign: [{image: img, devices: [spine1]}]
traffic: {flows: [{src: bms1, dst: bms2, gbps: 2}, {src: bms2, dst: bms1, gbps: 2}]}
";
    let report = simulate(yaml);
    let lost = flow(&report, "bms1", "bms2");
    assert_close(lost.blackhole_bytes, 1.05 * BYTES_PER_GBIT, "core isolation after 1 s");
    assert_eq!(lost.cause.as_ref().unwrap().device, "spine1");
    assert_eq!(report.flows_with_loss_count, 1, "{:#?}", report.flows_with_loss);
    // Without core isolation leaf1 keeps taking bms1's traffic and has nowhere to send it, from
    // 730 s until spine1 is used again at 730 + 600 + 120 = 1450 s: 1 x 720 = 720 Gbit.
    let report = simulate(&yaml.replace("traffic:", "simulation: {core_isolation: false}\ntraffic:"));
    assert_close(flow(&report, "bms1", "bms2").blackhole_bytes, 720.0 * BYTES_PER_GBIT, "no isolation");
}

/// Two spines; leaf1 (s1), leaf2 (s3), leaf3 (s2) on both; 100 Gbps leaf-spine links, server
/// links wide enough never to matter. `{F2}` is s2 -> s3's rate.
const SERIES: &str = "name: series
fabric:
  devices:
    - {name: spine1, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.4R2}
    - {name: spine2, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 18.4R2}
    - {name: leaf1, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
    - {name: leaf2, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
    - {name: leaf3, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
    - {name: leaf4, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}
  links: [[spine1, leaf1], [spine1, leaf2], [spine1, leaf3], [spine1, leaf4],
          [spine2, leaf1], [spine2, leaf2], [spine2, leaf3], [spine2, leaf4]]
  servers:
    - {name: s1, links: [leaf1]}
    - {name: s2, links: [leaf3]}
    - {name: s3, links: [leaf2]}
    - {name: s4, links: [leaf4]}
images:
  - {name: img, vendor: juniper, family: junos-qfx, platforms: [qfx5110-48s, qfx10002-36q], version: 19.1R1}
simulation: {server_link_gbps: 400, leaf_spine_gbps: 100}
traffic: {flows: [{src: s1, dst: s3, gbps: 150}, {src: s2, dst: s3, gbps: {F2}}]}
";

#[test]
fn congestion_on_two_links_in_series_is_counted_once() {
    // spine1 drained: from 20 s to 1520 s (undrain at 1510, seen 10 s later) everything goes by
    // spine2. Link A, leaf1 -> spine2 (100 Gbps), carries all of f1 (s1 -> s3, 150): 100 get
    // through, 50 are dropped. Link B, spine2 -> leaf2, carries what f1 has left (100) and f2
    // (s2 -> s3, 20): 120 on 100, so each keeps 100/120 of what it brings.
    //   f1 loses 50 + 100 x 20/120 = 66.667 Gbps (of the 150 it sends), f2 20 x 20/120 = 3.333.
    // Over 1500 s: f1 100,000 Gbit, f2 5,000 Gbit. Counting each link's excess on its own would
    // charge f1 50 + 70 x 150/170 = 111.8 Gbps.
    // Before the drain: 75 + 10 = 85 on each spine -> leaf2 link: no congestion.
    let yaml = format!("{}upgrade:\n  assign: [{{image: img, devices: [spine1]}}]\n", SERIES.replace("{F2}", "20"));
    let report = simulate(&yaml);
    let f1 = flow(&report, "s1", "s3");
    assert_close(f1.congestion_bytes, (50.0 + 100.0 * 20.0 / 120.0) * 1500.0 * BYTES_PER_GBIT, "f1");
    assert!(f1.congestion_bytes <= 150.0 * report.simulated_seconds * BYTES_PER_GBIT);
    assert_eq!(f1.blackhole_bytes, 0.0);
    let f2 = flow(&report, "s2", "s3");
    assert_close(f2.congestion_bytes, 20.0 * 20.0 / 120.0 * 1500.0 * BYTES_PER_GBIT, "f2");
    let cause = f1.cause.as_ref().unwrap();
    assert_eq!(cause.kind, CauseKind::Congestion);
    assert_eq!((cause.link.as_deref(), cause.at_seconds), (Some("leaf1->spine2"), 20.0), "dropped first on A");
    assert_eq!(report.baseline_lost_bytes, 0.0);
}

#[test]
fn congestion_before_anything_is_touched_is_baseline_not_upgrade_loss() {
    // f2 at 60 Gbps: with every device up each spine -> leaf2 link carries 75 + 30 = 105 on 100,
    // so each flow keeps 100/105 there: f1 loses 2 x 75 x 5/105 = 7.1429 Gbps, f2 2 x 30 x
    // 5/105 = 2.8571: 10 Gbps in all, for the whole run. Upgrading leaf4 (whose server s4 sends
    // nothing) changes none of it: the plan is hitless, and the 10 Gbps are reported apart, with
    // a warning.
    let yaml = format!("{}upgrade:\n  assign: [{{image: img, devices: [leaf4]}}]\n", SERIES.replace("{F2}", "60"));
    let report = simulate(&yaml);
    assert!(report.hitless, "{:#?}", report.flows_with_loss);
    assert_eq!(report.lost_bytes, 0.0);
    assert_close(report.baseline_lost_bytes, 10.0 * report.simulated_seconds * BYTES_PER_GBIT, "baseline");
    let warning = report.warnings.iter().find(|w| w.contains("congested before anything is touched"));
    let warning = warning.unwrap_or_else(|| panic!("{:?}", report.warnings));
    // It names the flows, most loss first (7.1429 and 2.8571 Gbps, by hand above), and the two
    // links over capacity (105 on 100 each).
    assert!(warning.contains("2 flows lose 10.0 Gbps"), "{warning}");
    assert!(warning.contains("s1 -> s3 (7.1 Gbps), s2 -> s3 (2.9 Gbps)"), "{warning}");
    assert!(warning.contains("spine1->leaf2 at 105 %") && warning.contains("spine2->leaf2 at 105 %"), "{warning}");

    // Upgrading spine1 on top of it: during the drain (1500 s) f1 loses 50 on A and, of the 100
    // it brings to B with f2's 60, 100 x 60/160 = 37.5: 87.5 Gbps instead of its baseline
    // 7.1429. Its upgrade loss is the difference over the drain: (87.5 - 7.1429) x 1500.
    let yaml = format!("{}upgrade:\n  assign: [{{image: img, devices: [spine1]}}]\n", SERIES.replace("{F2}", "60"));
    let report = simulate(&yaml);
    let f1 = flow(&report, "s1", "s3");
    let baseline = 2.0 * 75.0 * 5.0 / 105.0;
    assert_close(f1.congestion_bytes, (87.5 - baseline) * 1500.0 * BYTES_PER_GBIT, "f1 beyond its baseline");
    assert!(f1.lost_bytes <= 150.0 * report.simulated_seconds * BYTES_PER_GBIT, "never more than it sends");
}

#[test]
fn a_partner_out_of_service_from_the_start_leaves_its_servers_one_leaf() {
    // leaf3 is declared out of service (down before the run starts): bms2 (leaf3 and leaf4)
    // already reaches the fabric through leaf4 alone, and bms1 -> bms2 loses nothing before the
    // upgrade starts (the baseline is zero). Upgrading leaf4 alone: its drain at 10 s disables
    // bms2's ESI-LAG at once, so bms2 has no leaf until leaf4 is undrained at 1390 s, 1380 s on:
    //   bms1 -> bms2 at 5 Gbps: 5 x 1380 = 6900 Gbit, all blackholed.
    // The same upgrade with leaf3 in service moves bms2 to leaf3 and loses nothing.
    let traffic = "traffic: {flows: [{src: bms1, dst: bms2, gbps: 5}]}\n";
    let upgrade = "upgrade:\n  assign: [{image: img, devices: [leaf4]}]\n";
    let whole = simulate(&format!("{FABRIC}{upgrade}{traffic}"));
    assert!(whole.hitless, "{:#?}", whole.flows_with_loss);
    let out = FABRIC.replace(
        "{name: leaf3, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2}",
        "{name: leaf3, role: leaf, family: junos-qfx, platform: qfx5110-48s, version: 18.4R2, out_of_service: RMA}",
    );
    let report = simulate(&format!("{out}{upgrade}{traffic}"));
    assert!(!report.hitless);
    assert_eq!(report.baseline_lost_bytes, 0.0, "bms2 reaches the fabric through leaf4 before the upgrade");
    assert_eq!(report.out_of_service.len(), 1);
    assert_eq!((report.out_of_service[0].device.as_str(), report.out_of_service[0].down), ("leaf3", true));
    let lost = flow(&report, "bms1", "bms2");
    assert_close(lost.blackhole_bytes, 5.0 * 1380.0 * BYTES_PER_GBIT, "bms1 -> bms2");
    assert_close(report.lost_bytes, 5.0 * 1380.0 * BYTES_PER_GBIT, "total");
}

/// An MLAG pair (Arista leafs, `scenarios/mixed-junos-arista.yaml`): after its reboot a switch
/// keeps its MLAG ports down for the reload-delay, so it converges for max(120, delay) s and its
/// peer's batch starts only after. By hand, a leaf batch from 0: readings 10, drain 60, copy 180,
/// install 480, reboot 480 (back at 1210), then the reload-delay 300 (120 without MLAG), post-
/// check 60, undrain 60: 10 + 1260 + 300 + 60 = 1630 s. With a delay of 600: 1930 s; of 0: the
/// convergence's own 120 s, 1450 s, as any leaf. Spines (Junos, no MLAG) take 10 + 1560 = 1570 s.
#[test]
fn an_mlag_switch_is_back_only_after_its_reload_delay() {
    let text = std::fs::read_to_string(crate::util::root().join("scenarios/mixed-junos-arista.yaml")).unwrap();
    for (delay, leaf_batch) in [(None, 1630.0), (Some(600), 1930.0), (Some(0), 1450.0)] {
        let text = match delay {
            Some(delay) => format!("{text}timing:\n  mlag_reload_delay_seconds: {delay}\n"),
            None => text.clone(),
        };
        let scenario = hitless::scenario::Scenario::from_yaml(&text, std::path::Path::new("mixed.yaml")).unwrap();
        let plan = hitless::workflow::plan(&scenario);
        let report = match hitless::workflow::gate(&scenario, &plan, false) {
            hitless::workflow::Gate::Pass(report) => report,
            other => panic!("delay {delay:?}: not hitless: {other:?}"),
        };
        let spans: Vec<(f64, f64)> = report.batches.iter().map(|b| (b.start_seconds, b.end_seconds)).collect();
        let expected = [
            (0.0, leaf_batch),
            (leaf_batch, 2.0 * leaf_batch),
            (2.0 * leaf_batch, 2.0 * leaf_batch + 1570.0),
            (2.0 * leaf_batch + 1570.0, 2.0 * leaf_batch + 3140.0),
        ];
        assert_eq!(spans, expected, "delay {delay:?}");
        let estimates: Vec<u64> =
            hitless::plan::plan(&scenario, &Default::default()).batches.iter().map(|b| b.estimated_seconds).collect();
        let leaf = leaf_batch as u64 - 10;
        assert_eq!(
            estimates,
            vec![leaf, leaf, 1560, 1560],
            "delay {delay:?}: the planner's estimates leave the readings out"
        );
    }
}

/// Two Junos spines, two Arista MLAG pairs (DCS-7050SX3, which supports Smart System Upgrade),
/// a server on each pair. `upgrade` and `traffic` are added.
const ARISTA: &str = "name: ssu
fabric:
  devices:
    - {name: spine1, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 21.4R3}
    - {name: spine2, role: spine, family: junos-qfx, platform: qfx10002-36q, version: 21.4R3}
    - {name: leaf1, role: leaf, vendor: arista, family: eos, platform: DCS-7050SX3-48YC8, version: 4.30.1F, mlag_peer: leaf2}
    - {name: leaf2, role: leaf, vendor: arista, family: eos, platform: DCS-7050SX3-48YC8, version: 4.30.1F, mlag_peer: leaf1}
    - {name: leaf3, role: leaf, vendor: arista, family: eos, platform: DCS-7050SX3-48YC8, version: 4.30.1F, mlag_peer: leaf4}
    - {name: leaf4, role: leaf, vendor: arista, family: eos, platform: DCS-7050SX3-48YC8, version: 4.30.1F, mlag_peer: leaf3}
  links: [[spine1, leaf1], [spine1, leaf2], [spine1, leaf3], [spine1, leaf4],
          [spine2, leaf1], [spine2, leaf2], [spine2, leaf3], [spine2, leaf4]]
  servers:
    - {name: bms1, links: [leaf1, leaf2]}
    - {name: bms2, links: [leaf3, leaf4]}
images:
  - {name: eos, vendor: arista, family: eos, platforms: [DCS-7050SX3-48YC8], version: 4.32.2F}
";

/// A Smart System Upgrade (`upgrade.method: ssu`) of leaf1 alone: no drain, so from 0 s the
/// readings 10, copy 180, install 480, then `reload fast-boot`: the control plane is away for
/// the reboot's 480 s while the data plane forwards (graceful restart), and at its end the data
/// plane stops for one second with its links up: from 1149 to 1150 s. Then the convergence's
/// 120 s (no MLAG reload-delay: its ports never went down) and the 60 s post-check, no undrain:
/// the batch ends at 10 + 180 + 480 + 480 + 120 + 60 = 1330 s (a reload: 1630 s).
/// Lost, by hand: bms1 -> bms2 (4 Gbps) sends half, 2 Gbps, to leaf1; LACP would notice only
/// after 3 s, so the whole second is lost: 2 Gbit. bms2 -> bms1 (1 Gbps) reaches leaf1 through
/// the spines for half, 0.5 Gbps, until BFD notices (0.9 s): 0.45 Gbit; the spines use leaf1
/// again only after its convergence, and lose nothing more. The same with `method: reload` loses
/// nothing (drained first).
#[test]
fn a_smart_system_upgrade_pauses_the_data_plane_a_second_without_a_drain() {
    let traffic = "traffic: {flows: [{src: bms1, dst: bms2, gbps: 4}, {src: bms2, dst: bms1, gbps: 1}]}\n";
    let ssu = format!("{ARISTA}upgrade:\n  method: ssu\n  assign: [{{image: eos, devices: [leaf1]}}]\n{traffic}");
    let report = simulate(&ssu);
    assert!(!report.hitless, "a second of lost traffic is not hitless");
    let spans: Vec<(f64, f64)> = report.batches.iter().map(|b| (b.start_seconds, b.end_seconds)).collect();
    assert_eq!(spans, [(0.0, 1330.0)]);
    let out = flow(&report, "bms1", "bms2");
    assert_close(out.blackhole_bytes, 2.0 * 1.0 * BYTES_PER_GBIT, "bms1 -> bms2: the second's pause");
    let cause = out.cause.as_ref().unwrap();
    assert_eq!((cause.device.as_str(), cause.at_seconds, cause.kind), ("leaf1", 1149.0, CauseKind::Blackhole));
    assert_close(flow(&report, "bms2", "bms1").blackhole_bytes, 0.5 * 0.9 * BYTES_PER_GBIT, "bms2 -> bms1: BFD");
    assert_close(report.lost_bytes, 2.45 * BYTES_PER_GBIT, "total");
    let reload = simulate(&ssu.replace("method: ssu", "method: reload"));
    assert!(reload.hitless, "{:?}", reload.flows_with_loss);
    let spans: Vec<(f64, f64)> = reload.batches.iter().map(|b| (b.start_seconds, b.end_seconds)).collect();
    assert_eq!(spans, [(0.0, 1630.0)]);
}

/// `method: ssu` on a switch that cannot (a downgrade) is an error naming it; `auto` reloads it.
#[test]
fn ssu_is_refused_where_it_cannot_apply_and_auto_falls_back_to_a_reload() {
    let downgrade = ARISTA.replace("version: 4.32.2F}", "version: 4.29.1F}");
    let yaml = format!("{downgrade}upgrade:\n  method: ssu\n  assign: [{{image: eos, devices: [leaf1]}}]\n");
    let (_dir, path) = write_temp("hand.yaml", &yaml);
    let run = hitless(&["validate", path.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("hand.yaml:18:11")
            && run.stderr.contains("leaf1 cannot be upgraded by Smart System Upgrade"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("not an upgrade"), "{}", run.stderr);
    let auto = simulate(&yaml.replace("method: ssu", "method: auto"));
    assert!(auto.hitless, "auto reloads a downgrade: {:?}", auto.flows_with_loss);
}
