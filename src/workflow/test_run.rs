//! The test run: every selected device's version (on every routing engine or member) and health,
//! changing nothing.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::exec::{Driver, Facts};
use crate::health::HealthLimits;
use crate::image::Image;
use crate::scenario::Scenario;

/// Devices asked at once: a fabric of hundreds is read in minutes, and no device sees more than
/// one session from it.
pub const PARALLEL_MAX: usize = 32;

/// One routing engine or member in the test run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EngineRow {
    /// `re0`, `fpc1`, ...
    pub name: String,
    /// The version it runs.
    pub version: String,
    /// True for the master.
    pub master: bool,
}

/// What the upgrade would do with a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Upgrade it.
    Upgrade,
    /// Leave it as it is, for this reason.
    Skip(String),
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Upgrade => f.write_str("upgrade"),
            Action::Skip(reason) => write!(f, "skip: {reason}"),
        }
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One device in the test run (`test-run --format json` prints a list of these).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestRunRow {
    /// Device name.
    pub device: String,
    /// The version it runs (its master's, as the device reports it; the scenario's for skipped
    /// devices).
    pub running: String,
    /// The version it would be upgraded to (empty for skipped devices).
    pub target: String,
    /// `upgrade`, or `skip: <reason>` (in JSON, that text).
    pub action: Action,
    /// Every check it would not pass, and every error reaching it; empty when all is well.
    pub problems: Vec<String>,
    /// Every routing engine or member with its version (empty when the device did not answer).
    pub engines: Vec<EngineRow>,
    /// What the operator should know that is not a failed check (a version that cannot be
    /// ordered, a downgrade, an install of hitless's that is pending, a platform the scenario
    /// gives otherwise than the device states it).
    pub notes: Vec<String>,
    /// The model the device states (its master's `product-model`; empty when it did not answer
    /// or does not say, as simulated devices).
    pub model: String,
    /// True when the device is simulated (the virtual driver): no switch was asked.
    pub simulated: bool,
}

/// Asks every selected device for its versions and health; skipped devices are listed with their
/// reason. Nothing is changed on any device. Health is read twice, `sample` apart, so lifetime
/// counters are judged by their growth. `pending_ours` names, per device, the image hitless
/// installed and has not rebooted into.
pub async fn test_run<D: Driver>(
    scenario: &Scenario,
    driver: &Arc<D>,
    pending_ours: &BTreeMap<String, String>,
    sample: Duration,
    simulated: bool,
) -> Vec<TestRunRow> {
    let mut rows = Vec::new();
    for (id, reason) in &scenario.selection.skipped {
        let device = scenario.fabric.device(*id);
        rows.push(TestRunRow {
            device: device.name.clone(),
            running: device.version.to_string(),
            target: String::new(),
            action: Action::Skip(reason.to_string()),
            problems: Vec::new(),
            engines: Vec::new(),
            notes: Vec::new(),
            model: String::new(),
            simulated,
        });
    }
    let targets: Vec<(String, Image)> = scenario
        .selection
        .targets
        .iter()
        .map(|t| (scenario.fabric.device(t.device).name.clone(), scenario.images[t.image].clone()))
        .collect();
    let mut checked: Vec<Option<TestRunRow>> = vec![None; targets.len()];
    for chunk in (0..targets.len()).collect::<Vec<_>>().chunks(PARALLEL_MAX) {
        let mut tasks = tokio::task::JoinSet::new();
        for &index in chunk {
            let (name, image) = targets[index].clone();
            let platform = scenario.fabric.lookup(&name).map(|id| scenario.fabric.device(id).platform.clone());
            let ours = pending_ours.get(&name) == Some(&image.name);
            let (driver, limits) = (Arc::clone(driver), scenario.health_limits.clone());
            let platform = platform.unwrap_or_default();
            tasks.spawn(async move {
                (index, check(&*driver, name, &platform, image, ours, &limits, sample, simulated).await)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (index, row) = done.expect("test-run tasks do not panic");
            checked[index] = Some(row);
        }
    }
    rows.extend(checked.into_iter().map(|row| row.expect("every target was checked")));
    rows
}

#[allow(clippy::too_many_arguments)]
async fn check<D: Driver>(
    driver: &D,
    device: String,
    platform: &str,
    image: Image,
    pending_is_ours: bool,
    limits: &HealthLimits,
    sample: Duration,
    simulated: bool,
) -> TestRunRow {
    let mut row = TestRunRow {
        device: device.clone(),
        running: String::new(),
        target: image.version.to_string(),
        action: Action::Upgrade,
        problems: Vec::new(),
        engines: Vec::new(),
        notes: Vec::new(),
        model: String::new(),
        simulated,
    };
    match driver.facts(&device).await {
        Ok(facts) => {
            read_facts(&mut row, &facts, &image, pending_is_ours);
            judge_model(&mut row, platform, &image);
        }
        Err(e) => row.problems.push(e.to_string()),
    }
    let first = driver.health(&device, &image).await;
    tokio::time::sleep(sample).await;
    match (first, driver.health(&device, &image).await) {
        (Ok(first), Ok(second)) => {
            let size = image.catalog.as_ref().map_or(0, |c| c.size_bytes);
            row.problems.extend(limits.check(&second, Some(&first), size).iter().map(ToString::to_string));
        }
        (Err(e), _) | (_, Err(e)) => row.problems.push(e.to_string()),
    }
    row
}

/// The image is judged against the model the device states, not the scenario's word for it:
/// an image whose platforms do not list that model is not installed (a problem); a scenario
/// platform other than the stated model is said (a note).
fn judge_model(row: &mut TestRunRow, platform: &str, image: &Image) {
    let model = row.model.clone();
    if model.is_empty() {
        return;
    }
    if !image.platforms.iter().any(|p| p.eq_ignore_ascii_case(&model)) {
        row.problems.push(format!(
            "the device states it is a {model}, which image {} does not list ({}): it is not installed on a model it was not made for",
            image.name,
            image.platforms.join(", ")
        ));
    }
    if !platform.eq_ignore_ascii_case(&model) {
        row.notes.push(format!("the scenario gives platform {platform}; the device states it is a {model}"));
    }
}

fn read_facts(row: &mut TestRunRow, facts: &Facts, image: &Image, pending_is_ours: bool) {
    let running = facts.version();
    row.running = running.to_string();
    row.model = facts.master().model.trim().to_string();
    row.engines = facts
        .engines
        .iter()
        .map(|e| EngineRow { name: e.name.clone(), version: e.version.to_string(), master: e.master })
        .collect();
    if !facts.all_run(running) {
        row.notes.push(format!(
            "the routing engines run different versions ({}): the upgrade installs the image on every one",
            facts.versions()
        ));
    }
    if facts.all_run(&image.version) {
        row.action = Action::Skip(format!("already running {}", image.version));
    }
    match running.partial_cmp(&image.version) {
        None => row.notes.push(format!(
            "{running} cannot be ordered against {}: hitless cannot tell whether this is an upgrade or a downgrade",
            image.version
        )),
        Some(Ordering::Greater) => {
            row.notes.push(format!("{running} is newer than {}: this is a downgrade", image.version))
        }
        _ => {}
    }
    if facts.maintenance {
        row.problems.push("already in maintenance mode".into());
    }
    if facts.pending_install && pending_is_ours {
        row.notes.push(format!("hitless's install of {} is pending: the upgrade reboots into it", image.name));
    } else if facts.pending_install {
        row.problems.push(
            "an install is pending that hitless did not make; reboot into it or roll it back (`request system software rollback`) first"
                .into(),
        );
    }
}

/// The devices to upgrade that the test run found unreachable or unhealthy, with what it found:
/// with `abort_on_health_check_failure` on, any of them stops the upgrade before anything is
/// drained.
pub fn blocking(rows: &[TestRunRow]) -> Vec<&TestRunRow> {
    rows.iter().filter(|r| r.action == Action::Upgrade && !r.problems.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: &str) -> TestRunRow {
        TestRunRow {
            device: "leaf1".into(),
            running: "18.4R2".into(),
            target: "23.4R2".into(),
            action: Action::Upgrade,
            problems: Vec::new(),
            engines: Vec::new(),
            notes: Vec::new(),
            model: model.into(),
            simulated: false,
        }
    }

    fn image(platforms: &[&str]) -> Image {
        Image {
            name: "img".into(),
            vendor: "juniper".into(),
            family: "junos-qfx".into(),
            platforms: platforms.iter().map(|p| p.to_string()).collect(),
            version: crate::version::Version::parse("23.4R2").unwrap(),
            catalog: None,
        }
    }

    #[test]
    fn the_image_is_judged_against_the_model_the_device_states() {
        // As the scenario says: nothing to say.
        let mut same = row("QFX5110-48S");
        judge_model(&mut same, "qfx5110-48s", &image(&["qfx5110-48s"]));
        assert!(same.problems.is_empty() && same.notes.is_empty(), "case does not matter: {same:?}");
        // Another model than the scenario's, which the image supports: a note only.
        let mut other = row("qfx5120-48y");
        judge_model(&mut other, "qfx5110-48s", &image(&["qfx5110-48s", "qfx5120-48y"]));
        assert!(other.problems.is_empty());
        assert_eq!(other.notes, ["the scenario gives platform qfx5110-48s; the device states it is a qfx5120-48y"]);
        // A model the image does not list: a problem, whatever the scenario says.
        let mut wrong = row("qfx5220-32cd");
        judge_model(&mut wrong, "qfx5110-48s", &image(&["qfx5110-48s"]));
        assert_eq!(wrong.problems.len(), 1, "{wrong:?}");
        assert!(wrong.problems[0].contains("states it is a qfx5220-32cd, which image img does not list (qfx5110-48s)"));
        // A device that does not say (simulated devices): nothing judged.
        let mut silent = row("");
        judge_model(&mut silent, "qfx5110-48s", &image(&["qfx5110-48s"]));
        assert!(silent.problems.is_empty() && silent.notes.is_empty());
    }
}
