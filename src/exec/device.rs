//! One device's upgrade, from whatever state it is really in.

use super::{Driver, DriverError, Facts, JobContext, WorkItem};
use crate::journal::DeviceState::{self, *};
use crate::journal::{JournalError, Step};

/// Which health check: before the device is touched, or after its upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CheckStage {
    PreUpgrade,
    PostUpgrade,
}

impl CheckStage {
    fn label(self) -> &'static str {
        match self {
            CheckStage::PreUpgrade => "pre-upgrade",
            CheckStage::PostUpgrade => "post-upgrade",
        }
    }

    fn step(self) -> Step {
        match self {
            CheckStage::PreUpgrade => Step::PreCheck,
            CheckStage::PostUpgrade => Step::PostCheck,
        }
    }

    /// Where a device that fails this check is left.
    fn advice(self) -> &'static str {
        match self {
            CheckStage::PreUpgrade => "the device was not touched",
            CheckStage::PostUpgrade => "the device stays in maintenance mode",
        }
    }
}

/// Upgrades one device; returns the state it ended in.
pub async fn upgrade<D: Driver>(ctx: &JobContext<D>, target: &WorkItem) -> Result<DeviceState, JournalError> {
    let device = target.device.as_str();
    let facts = match ctx.driver.facts(device).await {
        Ok(facts) => facts,
        // A device that does not answer may be rebooting (a resumed job killed mid-reboot):
        // wait for it, within the boot deadline, before calling it failed.
        Err(e) if e.is_transport() => match ctx.driver.wait_for_boot(device, 0, ctx.boot_deadline_seconds).await {
            Ok(facts) => facts,
            Err(e) => {
                return fail(ctx, device, HitlessImageUpgradeFailed, format!("cannot read the device's state: {e}"));
            }
        },
        Err(e) => return fail(ctx, device, HitlessImageUpgradeFailed, format!("cannot read the device's state: {e}")),
    };
    let wanted = &target.image.version;
    if &facts.version == wanted && !facts.maintenance {
        ctx.record(device, MaintenanceModeDeactivated, Step::Note, format!("already running {wanted} and in service"))?;
        return Ok(MaintenanceModeDeactivated);
    }
    if &facts.version != wanted {
        if let Some(end) = drain_and_install(ctx, target, &facts).await? {
            return Ok(end);
        }
    } else {
        let message = format!("already running {wanted}; finishing the upgrade");
        ctx.record(device, HitlessImageUpgradeSuccessful, Step::Note, message)?;
    }
    return_to_service(ctx, target).await
}

/// Health check, maintenance mode on, image upgrade. `Some(state)` when the device stops there.
async fn drain_and_install<D: Driver>(
    ctx: &JobContext<D>,
    target: &WorkItem,
    facts: &Facts,
) -> Result<Option<DeviceState>, JournalError> {
    let device = target.device.as_str();
    if facts.maintenance {
        ctx.record(
            device,
            MaintenanceModeActivated,
            Step::Drained,
            "already in maintenance mode; continuing the upgrade",
        )?;
    } else {
        if let Some(end) = health_check(ctx, target, CheckStage::PreUpgrade).await? {
            return Ok(Some(end));
        }
        if ctx.cancelled() {
            ctx.record(device, Cancelled, Step::Note, "not started: the job was cancelled")?;
            return Ok(Some(Cancelled));
        }
        ctx.record(device, ActivatingMaintenanceMode, Step::Drain, "draining traffic")?;
        if let Err(e) = retry_once(|| ctx.driver.set_maintenance(device, true)).await {
            return fail(ctx, device, MaintenanceModeFailure, format!("maintenance mode could not be turned on: {e}"))
                .map(Some);
        }
        ctx.record(device, MaintenanceModeActivated, Step::Drained, "traffic drained")?;
    }
    if ctx.cancelled() {
        let message = "cancelled before the image upgrade; returning to service";
        ctx.record(device, DeactivatingMaintenanceMode, Step::Undrain, message)?;
        if let Err(e) = retry_once(|| ctx.driver.set_maintenance(device, false)).await {
            return fail(ctx, device, MaintenanceModeFailure, format!("maintenance mode could not be turned off: {e}"))
                .map(Some);
        }
        ctx.record(device, Cancelled, Step::InService, "cancelled; not upgraded, back in service")?;
        return Ok(Some(Cancelled));
    }
    image_upgrade(ctx, target, facts).await
}

/// Copy, checksum, install, reboot, wait, verify.
async fn image_upgrade<D: Driver>(
    ctx: &JobContext<D>,
    target: &WorkItem,
    facts: &Facts,
) -> Result<Option<DeviceState>, JournalError> {
    let (device, image) = (target.device.as_str(), &target.image);
    let stays = "the device stays in maintenance mode; see `hitless logs`, fix the cause and `hitless resume` the job";
    if facts.pending_install.as_ref() != Some(&image.version) {
        ctx.record(device, ImageUpgrade, Step::Copy, format!("copying {} and verifying its checksum", image.name))?;
        if let Err(e) = retry_once(|| ctx.driver.stage_image(device, image)).await {
            return fail(ctx, device, HitlessImageUpgradeFailed, format!("{e}; {stays}")).map(Some);
        }
        ctx.record(device, ImageUpgrade, Step::Install, format!("installing {}", image.name))?;
        if let Err(e) = ctx.driver.install(device, image).await {
            // A dropped session is not a failed install: ask the device what really happened.
            let installed = e.is_transport()
                && ctx.driver.facts(device).await.is_ok_and(|f| f.pending_install.as_ref() == Some(&image.version));
            if !installed {
                return fail(ctx, device, HitlessImageUpgradeFailed, format!("{e}; {stays}")).map(Some);
            }
            ctx.record(
                device,
                ImageUpgrade,
                Step::Note,
                format!(
                    "the session dropped during the install ({e}), but the device reports {} installed",
                    image.version
                ),
            )?;
        }
    }
    let before = match ctx.driver.facts(device).await {
        Ok(facts) => facts.boot_count,
        Err(e) => return fail(ctx, device, HitlessImageUpgradeFailed, format!("{e}; {stays}")).map(Some),
    };
    ctx.record(device, ImageUpgrade, Step::Reboot, "rebooting")?;
    match ctx.driver.reboot(device).await {
        Err(e) if !e.is_transport() => {
            return fail(ctx, device, HitlessImageUpgradeFailed, format!("{e}; {stays}")).map(Some);
        }
        _ => {} // A reboot tears the session down; the boot count below proves it happened.
    }
    let message = format!("waiting up to {} s for the device to come back", ctx.boot_deadline_seconds);
    ctx.record(device, ImageUpgrade, Step::WaitBoot, message)?;
    let booted = match ctx.driver.wait_for_boot(device, before, ctx.boot_deadline_seconds).await {
        Ok(facts) => facts,
        Err(e) => return fail(ctx, device, HitlessImageUpgradeFailed, format!("{e}; {stays}")).map(Some),
    };
    if booted.version != image.version {
        let message = format!("the device came back running {}, not {}; {stays}", booted.version, image.version);
        return fail(ctx, device, HitlessImageUpgradeFailed, message).map(Some);
    }
    ctx.record(device, HitlessImageUpgradeSuccessful, Step::Booted, format!("running {}", booted.version))?;
    Ok(None)
}

/// Post-upgrade health check, then maintenance mode off.
async fn return_to_service<D: Driver>(ctx: &JobContext<D>, target: &WorkItem) -> Result<DeviceState, JournalError> {
    let device = target.device.as_str();
    if let Some(end) = health_check(ctx, target, CheckStage::PostUpgrade).await? {
        return Ok(end);
    }
    ctx.record(device, DeactivatingMaintenanceMode, Step::Undrain, "returning traffic")?;
    if let Err(e) = retry_once(|| ctx.driver.set_maintenance(device, false)).await {
        return fail(ctx, device, MaintenanceModeFailure, format!("maintenance mode could not be turned off: {e}"));
    }
    let message = format!("upgraded to {} and back in service", target.image.version);
    ctx.record(device, MaintenanceModeDeactivated, Step::InService, message)?;
    Ok(MaintenanceModeDeactivated)
}

/// Runs the health checks; `Some(HealthCheckFailed)` when they fail and that stops the device.
async fn health_check<D: Driver>(
    ctx: &JobContext<D>,
    target: &WorkItem,
    stage: CheckStage,
) -> Result<Option<DeviceState>, JournalError> {
    let device = target.device.as_str();
    let when = stage.label();
    ctx.record(device, HealthCheck, stage.step(), when)?;
    let report = match retry_once(|| ctx.driver.health(device, &target.image)).await {
        Ok(report) => report,
        Err(e) => return fail(ctx, device, HealthCheckFailed, format!("{when}: {e}")).map(Some),
    };
    let size = target.image.catalog.as_ref().map_or(0, |c| c.size_bytes);
    let failures = ctx.limits.check(&report, size);
    if failures.is_empty() {
        return Ok(None);
    }
    let message = format!("{when}: {}", failures.join("; "));
    if ctx.abort_on_health_check_failure {
        return fail(ctx, device, HealthCheckFailed, format!("{message}; {}", stage.advice())).map(Some);
    }
    let message = format!("{message}; continuing (abort_on_health_check_failure is off)");
    ctx.record(device, HealthCheckFailed, Step::Note, message)?;
    Ok(None)
}

fn fail<D: Driver>(
    ctx: &JobContext<D>,
    device: &str,
    state: DeviceState,
    message: String,
) -> Result<DeviceState, JournalError> {
    ctx.record(device, state, Step::Failed, message)?;
    Ok(state)
}

/// Calls `operation`, and once more if the first call failed only on the way (a dropped
/// session): these operations are idempotent on the device.
async fn retry_once<T, F, Fut>(mut operation: F) -> Result<T, DriverError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, DriverError>>,
{
    match operation().await {
        Err(e) if e.is_transport() => operation().await,
        other => other,
    }
}
