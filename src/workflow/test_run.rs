//! The test run: every selected device's version and health, changing nothing.

use serde::Serialize;

use crate::exec::Driver;
use crate::scenario::Scenario;

/// One device in the test run (`test-run --format json` prints a list of these).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestRunRow {
    /// Device name.
    pub device: String,
    /// The version it runs (as the device reports it; the scenario's for skipped devices).
    pub running: String,
    /// The version it would be upgraded to (empty for skipped devices).
    pub target: String,
    /// `upgrade`, or `skip: <reason>`.
    pub action: String,
    /// Every check it would not pass, and every error reaching it; empty when all is well.
    pub problems: Vec<String>,
}

/// Asks every selected device for its version and health; skipped devices are listed with their
/// reason. Nothing is changed on any device.
pub async fn test_run<D: Driver>(scenario: &Scenario, driver: &D) -> Vec<TestRunRow> {
    let mut rows = Vec::new();
    for (id, reason) in &scenario.selection.skipped {
        let device = scenario.fabric.device(*id);
        rows.push(TestRunRow {
            device: device.name.clone(),
            running: device.version.to_string(),
            target: String::new(),
            action: format!("skip: {reason}"),
            problems: Vec::new(),
        });
    }
    for target in &scenario.selection.targets {
        let name = scenario.fabric.device(target.device).name.clone();
        let image = &scenario.images[target.image];
        let mut row = TestRunRow {
            device: name.clone(),
            running: String::new(),
            target: image.version.to_string(),
            action: "upgrade".into(),
            problems: Vec::new(),
        };
        match driver.facts(&name).await {
            Ok(facts) => {
                row.running = facts.version.to_string();
                if facts.version == image.version {
                    row.action = format!("skip: already running {}", image.version);
                }
                if facts.maintenance {
                    row.problems.push("already in maintenance mode".into());
                }
            }
            Err(e) => row.problems.push(e.to_string()),
        }
        match driver.health(&name, image).await {
            Ok(report) => {
                let size = image.catalog.as_ref().map_or(0, |c| c.size_bytes);
                row.problems.extend(scenario.health_limits.check(&report, size));
            }
            Err(e) => row.problems.push(e.to_string()),
        }
        rows.push(row);
    }
    rows
}
