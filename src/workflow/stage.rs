//! Staging: copying each selected device's image ahead of the maintenance window and verifying
//! its checksum there, so the upgrade itself only installs. Nothing is changed on a device but
//! the file in `/var/tmp`; its configuration and software are not touched.

use std::sync::Arc;

use serde::Serialize;

use crate::exec::Driver;
use crate::health::HealthLimits;
use crate::image::Image;
use crate::scenario::Scenario;

/// Default for `stage --parallel`: copies at once.
pub const PARALLEL_DEFAULT: usize = 8;
/// Most copies at once `stage --parallel` accepts.
pub const PARALLEL_MAX: usize = 128;

/// What staging did on one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageOutcome {
    /// The image was copied and its checksum verified on the device.
    Staged,
    /// The file was already there with the right checksum; nothing was copied.
    AlreadyStaged,
    /// Not staged, for a reason that is no fault (not selected, already running the version).
    Skipped,
    /// Staging failed; the message says why (no room, unreachable, checksum mismatch).
    Failed,
}

/// One device in `hitless stage` (`--format json` prints a list of these).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StageRow {
    /// Device name.
    pub device: String,
    /// The image (empty for devices not selected).
    pub image: String,
    /// What happened.
    pub outcome: StageOutcome,
    /// For people: what was done, or why not.
    pub message: String,
    /// True when the device is simulated (the virtual driver).
    pub simulated: bool,
}

/// Stages every selected device's image with at most `parallel` copies at once, calling
/// `on_done` as each device finishes (progress). Rows come back in selection order, the
/// selection's skipped devices first.
pub async fn stage<D: Driver>(
    scenario: &Scenario,
    driver: &Arc<D>,
    parallel: usize,
    simulated: bool,
    on_done: &(dyn Fn(&StageRow) + Sync),
) -> Vec<StageRow> {
    assert!((1..=PARALLEL_MAX).contains(&parallel), "the CLI bounds --parallel");
    let mut rows: Vec<StageRow> = scenario
        .selection
        .skipped
        .iter()
        .map(|(id, reason)| StageRow {
            device: scenario.fabric.device(*id).name.clone(),
            image: String::new(),
            outcome: StageOutcome::Skipped,
            message: reason.clone(),
            simulated,
        })
        .collect();
    let targets: Vec<(String, Image)> = scenario
        .selection
        .targets
        .iter()
        .map(|t| (scenario.fabric.device(t.device).name.clone(), scenario.images[t.image].clone()))
        .collect();
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, (device, image)) in targets.iter().cloned().enumerate() {
        let (driver, limits, permits) = (Arc::clone(driver), scenario.health_limits.clone(), Arc::clone(&permits));
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("the semaphore is never closed");
            (index, one(&*driver, device, image, &limits, simulated).await)
        });
    }
    let mut done: Vec<Option<StageRow>> = vec![None; targets.len()];
    while let Some(finished) = tasks.join_next().await {
        let (index, row) = match finished {
            Ok(result) => result,
            // A bug in one device's task fails that device's staging, not the others'.
            Err(error) => {
                tracing::error!(%error, "a staging task failed internally");
                continue;
            }
        };
        on_done(&row);
        done[index] = Some(row);
    }
    for (index, row) in done.into_iter().enumerate() {
        rows.push(row.unwrap_or_else(|| StageRow {
            device: targets[index].0.clone(),
            image: targets[index].1.name.clone(),
            outcome: StageOutcome::Failed,
            message: "hitless failed internally while staging this device; please report it with the log".into(),
            simulated,
        }));
    }
    rows
}

async fn one<D: Driver>(driver: &D, device: String, image: Image, limits: &HealthLimits, simulated: bool) -> StageRow {
    let row = |outcome, message: String| StageRow {
        device: device.clone(),
        image: image.name.clone(),
        outcome,
        message,
        simulated,
    };
    let facts = match driver.facts(&device).await {
        Ok(facts) => facts,
        Err(e) => return row(StageOutcome::Failed, e.to_string()),
    };
    if facts.all_run(&image.version) {
        return row(StageOutcome::Skipped, format!("already running {}", image.version));
    }
    match driver.staged(&device, &image).await {
        Ok(true) => return row(StageOutcome::AlreadyStaged, "already on the device, checksum verified".into()),
        Ok(false) => {}
        Err(e) => return row(StageOutcome::Failed, e.to_string()),
    }
    // Room first: a copy that fills /var/tmp would hurt the running switch.
    let size = image.catalog.as_ref().map_or(0, |c| c.size_bytes);
    let needed_mb = limits.disk_needed_mb(size);
    match driver.health(&device, &image).await {
        Ok(health) => match &health.free_disk_bytes {
            None => return row(StageOutcome::Failed, "the device did not report its free disk space".into()),
            Some(engines) => {
                let short: Vec<String> = engines
                    .iter()
                    .filter(|(_, free)| free / 1_000_000 < needed_mb)
                    .map(|(engine, free)| format!("{engine} has {} MB free", free / 1_000_000))
                    .collect();
                if !short.is_empty() {
                    let message = format!(
                        "not enough free space for the image: {} and it needs {needed_mb} MB; clean up (`request system storage cleanup`) and stage again",
                        short.join(", ")
                    );
                    return row(StageOutcome::Failed, message);
                }
            }
        },
        Err(e) => return row(StageOutcome::Failed, e.to_string()),
    }
    match driver.stage_image(&device, &image).await {
        Ok(()) => row(StageOutcome::Staged, "copied, checksum verified".into()),
        Err(e) => row(StageOutcome::Failed, e.to_string()),
    }
}
