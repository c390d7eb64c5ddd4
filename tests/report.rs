//! `hitless report`: the page's data model (snapshotted), its structure (an element per batch
//! and per device, nothing fetched, no script), its size on the benches' 1,006-device fabric,
//! and a job's report. Rendering in a browser is in the `interop` target (headless Chromium).

use std::path::Path;

use hitless::scenario::Scenario;

use crate::util::{hitless, root};

fn page_of(path: &Path) -> hitless::view::PageData {
    let scenario = Scenario::load(path).unwrap();
    let plan = hitless::simulate::input::for_scenario(&scenario, &hitless::plan::PlanOptions::default());
    let report = hitless::view::plan_report(&scenario, &plan);
    let sim = hitless::simulate::simulate(&scenario, &plan, &hitless::view::sim_options(scenario.simulation.seed));
    hitless::view::for_plan(&scenario, &report, &sim)
}

/// What the page shows for the small fabric, as data: four batches (leaf1+leaf3, leaf2+leaf4,
/// spine1, spine2), each device drawn in its batch's colour, each server's two links.
#[test]
fn the_pages_data_for_the_small_fabric() {
    let page = page_of(&root().join("scenarios/small-2spine-4leaf.yaml"));
    insta::assert_json_snapshot!("report-small-2spine-4leaf", page);
}

/// Every batch has an element with `data-batch`, every upgraded device a timeline row with
/// `data-device`; the page has no script and refers to nothing outside itself (the SVG
/// namespace is a name, not a fetch).
#[test]
fn the_page_has_an_element_per_batch_and_per_device_and_fetches_nothing() {
    for name in ["small-2spine-4leaf", "evpn-esi-lag", "five-stage"] {
        let page = page_of(&root().join(format!("scenarios/{name}.yaml")));
        let html = hitless::view::html(&page).unwrap();
        for batch in &page.batches {
            assert!(html.contains(&format!("data-batch=\"{}\"", batch.index)), "{name}: batch {}", batch.index);
        }
        assert_eq!(html.matches("data-batch=\"").count(), page.batches.len(), "{name}");
        let devices: usize = page.batches.iter().map(|b| b.devices.len()).sum();
        assert_eq!(html.matches("<g data-device=\"").count(), devices, "{name}");
        assert!(!html.contains("<script"), "{name}");
        for attribute in [" src=", " href=", "url(", "@import"] {
            assert!(!html.contains(attribute), "{name}: {attribute}");
        }
        let outside: Vec<&str> = html
            .match_indices("http")
            .map(|(i, _)| &html[i..(i + 30).min(html.len())])
            .filter(|s| !s.starts_with("http://www.w3.org/2000/svg"))
            .collect();
        assert!(outside.is_empty(), "{name}: {outside:?}");
    }
}

/// The benches' 1,006-device fabric with 10,000 flows: the fabric is drawn by pod and role (10
/// pods of leafs and of spines, the super-spines, the border leafs: 22 boxes, not 1,006
/// overlapping labels), every device still has its timeline row, and the page stays under 5 MB.
#[test]
fn the_report_of_a_thousand_devices_stays_small() {
    let page = page_of(&root().join("tests/fixtures/bench-1006.yaml"));
    assert!(page.fabric.grouped);
    let boxes: usize = page.fabric.tiers.iter().map(|(_, nodes)| nodes.len()).sum();
    assert_eq!(boxes, 22);
    let html = hitless::view::html(&page).unwrap();
    assert_eq!(html.matches("<g data-device=\"").count(), 1006);
    assert!(html.len() < 5_000_000, "{} bytes", html.len());
}

/// `report --job` after a canary job: the journal's pause and approval are on the page, with
/// every device's final state; `upgrade --report` writes it as the job starts and ends.
#[test]
fn a_jobs_report_shows_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let early = dir.path().join("early.html");
    let run = hitless(&[
        "--state-dir",
        state,
        "upgrade",
        "scenarios/canary.yaml",
        "--yes",
        "--report",
        early.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let text = std::fs::read_to_string(&early).unwrap();
    assert!(text.contains("job job-0001: paused"), "the report after the run shows the pause");
    assert_eq!(hitless(&["--state-dir", state, "approve", "job-0001", "--yes"]).code, 0);
    let out = dir.path().join("job.html");
    let run = hitless(&["--state-dir", state, "report", "--job", "job-0001", "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("job job-0001: finished"));
    assert!(html.contains("paused after the canary batch 1 of 5 (leaf1)"));
    assert!(html.contains("approved by "));
    // Six devices done: once in the devices' table, once among the journal's key events.
    assert_eq!(html.matches("Maintenance Mode Deactivated</td>").count(), 12);
    assert_eq!(hitless(&["--state-dir", state, "report", "--job", "job-0099"]).code, 2);
}

/// Hostile text is inert: a scenario whose name, description, platforms and family carry markup,
/// and a journal whose messages carry a device's words with markup, give a page in which all of
/// it is text (escaped), never an element or a script.
#[test]
fn no_scenario_or_journal_text_becomes_markup_in_a_report() {
    const HOSTILE: &str = "<script>alert(1)</script>";
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/small-2spine-4leaf.yaml"))
        .unwrap()
        .replacen("name: small-2spine-4leaf", "name: \"x<script>alert(1)</script>\"", 1)
        .replace("description: Two spines", "description: \"<img src=x onerror=alert(2)> Two spines")
        .replace("multihomed servers.", "multihomed servers.\"")
        .replace("qfx5110-48s", "\"qfx5110<b onmouseover=alert(3)>\"")
        .replace("family: junos-qfx", "family: \"junos-qfx<iframe>\"");
    let scenario = dir.path().join("hostile.yaml");
    std::fs::write(&scenario, &text).unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let run = hitless(&["--state-dir", state, "upgrade", scenario.to_str().unwrap(), "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // A device's reply quoted in the journal, as a failure message would quote it.
    let mut store = hitless::store::Store::open(std::path::Path::new(state)).unwrap();
    let message = format!("device said: {HOSTILE}<img src=x onerror=alert(4)>");
    let entry = hitless::journal::Entry {
        device: "leaf1",
        state: hitless::journal::DeviceState::MaintenanceModeDeactivated,
        step: hitless::journal::Step::Note,
        message: &message,
        at_unix: 0,
        at_seconds: 1.0,
        by: "",
    };
    hitless::store::jobs::record(&mut store, "job-0001", &entry).unwrap();
    drop(store);
    let plan_page = dir.path().join("plan.html");
    let job_page = dir.path().join("job.html");
    let run = hitless(&["report", scenario.to_str().unwrap(), "-o", plan_page.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = hitless(&["--state-dir", state, "report", "--job", "job-0001", "-o", job_page.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for page in [&plan_page, &job_page] {
        let html = std::fs::read_to_string(page).unwrap().to_lowercase();
        for markup in ["<script", "<img", "<iframe", "<b "] {
            assert!(!html.contains(markup), "{}: {markup} is markup in the page", page.display());
        }
        assert!(html.contains("&lt;script&gt;alert(1)"), "{}: the name is shown as text", page.display());
    }
    let html = std::fs::read_to_string(&job_page).unwrap();
    assert!(html.contains("device said: &lt;script&gt;"), "the journal's words are shown as text");
}

/// A simulation whose faults halt the job says so in its headline and names the fault as the
/// scenario spells it, not by internal names.
#[test]
fn a_report_of_faults_says_where_they_halt_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("faults.html");
    let run = hitless(&["report", "scenarios/faults-in-execution.yaml", "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(
        html.contains("until the scenario&#x27;s faults halt the job after batch 1")
            || html.contains("until the scenario's faults halt the job after batch 1"),
        "headline"
    );
    assert!(html.contains("never-returns at reboot"), "the fault as written");
    assert!(!html.contains("NeverReturns"), "no internal names");
}
