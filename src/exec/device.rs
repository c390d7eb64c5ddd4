//! One device's upgrade, from whatever state it is really in.

use super::{JobContext, Target};
use crate::driver::{Driver, DriverError, Facts};
use crate::journal::DeviceState::{self, *};
use crate::store::StoreError;

/// Upgrades one device; returns the state it ended in.
pub async fn upgrade<D: Driver>(ctx: &JobContext<D>, target: &Target) -> Result<DeviceState, StoreError> {
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
        ctx.record(device, MaintenanceModeDeactivated, format!("already running {wanted} and in service"))?;
        return Ok(MaintenanceModeDeactivated);
    }
    if &facts.version != wanted {
        if let Some(end) = drain_and_install(ctx, target, &facts).await? {
            return Ok(end);
        }
    } else {
        ctx.record(device, HitlessImageUpgradeSuccessful, format!("already running {wanted}; finishing the upgrade"))?;
    }
    return_to_service(ctx, target).await
}

/// Health check, maintenance mode on, image upgrade. `Some(state)` when the device stops there.
async fn drain_and_install<D: Driver>(
    ctx: &JobContext<D>,
    target: &Target,
    facts: &Facts,
) -> Result<Option<DeviceState>, StoreError> {
    let device = target.device.as_str();
    if facts.maintenance {
        ctx.record(device, MaintenanceModeActivated, "already in maintenance mode; continuing the upgrade")?;
    } else {
        if let Some(end) = health_check(ctx, target, "pre-upgrade").await? {
            return Ok(Some(end));
        }
        if ctx.cancelled() {
            ctx.record(device, Cancelled, "not started: the job was cancelled")?;
            return Ok(Some(Cancelled));
        }
        ctx.record(device, ActivatingMaintenanceMode, "draining traffic")?;
        if let Err(e) = retry_once(|| ctx.driver.set_maintenance(device, true)).await {
            return fail(ctx, device, MaintenanceModeFailure, format!("maintenance mode could not be turned on: {e}"))
                .map(Some);
        }
        ctx.record(device, MaintenanceModeActivated, "traffic drained")?;
    }
    if ctx.cancelled() {
        ctx.record(device, DeactivatingMaintenanceMode, "cancelled before the image upgrade; returning to service")?;
        if let Err(e) = retry_once(|| ctx.driver.set_maintenance(device, false)).await {
            return fail(ctx, device, MaintenanceModeFailure, format!("maintenance mode could not be turned off: {e}"))
                .map(Some);
        }
        ctx.record(device, Cancelled, "cancelled; not upgraded, back in service")?;
        return Ok(Some(Cancelled));
    }
    image_upgrade(ctx, target, facts).await
}

/// Copy, checksum, install, reboot, wait, verify.
async fn image_upgrade<D: Driver>(
    ctx: &JobContext<D>,
    target: &Target,
    facts: &Facts,
) -> Result<Option<DeviceState>, StoreError> {
    let (device, image) = (target.device.as_str(), &target.image);
    let stays = "the device stays in maintenance mode; see `hitless logs`, fix the cause and `hitless resume` the job";
    if facts.pending_install.as_ref() != Some(&image.version) {
        ctx.record(device, ImageUpgrade, format!("copying {} and verifying its checksum", image.name))?;
        if let Err(e) = retry_once(|| ctx.driver.stage_image(device, image)).await {
            return fail(ctx, device, HitlessImageUpgradeFailed, format!("{e}; {stays}")).map(Some);
        }
        ctx.record(device, ImageUpgrade, format!("installing {}", image.name))?;
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
    ctx.record(device, ImageUpgrade, "rebooting")?;
    match ctx.driver.reboot(device).await {
        Err(e) if !e.is_transport() => {
            return fail(ctx, device, HitlessImageUpgradeFailed, format!("{e}; {stays}")).map(Some);
        }
        _ => {} // A reboot tears the session down; the boot count below proves it happened.
    }
    ctx.record(
        device,
        ImageUpgrade,
        format!("waiting up to {} s for the device to come back", ctx.boot_deadline_seconds),
    )?;
    let booted = match ctx.driver.wait_for_boot(device, before, ctx.boot_deadline_seconds).await {
        Ok(facts) => facts,
        Err(e) => return fail(ctx, device, HitlessImageUpgradeFailed, format!("{e}; {stays}")).map(Some),
    };
    if booted.version != image.version {
        let message = format!("the device came back running {}, not {}; {stays}", booted.version, image.version);
        return fail(ctx, device, HitlessImageUpgradeFailed, message).map(Some);
    }
    ctx.record(device, HitlessImageUpgradeSuccessful, format!("running {}", booted.version))?;
    Ok(None)
}

/// Post-upgrade health check, then maintenance mode off.
async fn return_to_service<D: Driver>(ctx: &JobContext<D>, target: &Target) -> Result<DeviceState, StoreError> {
    let device = target.device.as_str();
    if let Some(end) = health_check(ctx, target, "post-upgrade").await? {
        return Ok(end);
    }
    ctx.record(device, DeactivatingMaintenanceMode, "returning traffic")?;
    if let Err(e) = retry_once(|| ctx.driver.set_maintenance(device, false)).await {
        return fail(ctx, device, MaintenanceModeFailure, format!("maintenance mode could not be turned off: {e}"));
    }
    ctx.record(
        device,
        MaintenanceModeDeactivated,
        format!("upgraded to {} and back in service", target.image.version),
    )?;
    Ok(MaintenanceModeDeactivated)
}

/// Runs the health checks; `Some(HealthCheckFailed)` when they fail and that stops the device.
async fn health_check<D: Driver>(
    ctx: &JobContext<D>,
    target: &Target,
    when: &str,
) -> Result<Option<DeviceState>, StoreError> {
    let device = target.device.as_str();
    ctx.record(device, HealthCheck, when.to_string())?;
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
        let advice =
            if when == "pre-upgrade" { "the device was not touched" } else { "the device stays in maintenance mode" };
        return fail(ctx, device, HealthCheckFailed, format!("{message}; {advice}")).map(Some);
    }
    ctx.record(device, HealthCheckFailed, format!("{message}; continuing (abort_on_health_check_failure is off)"))?;
    Ok(None)
}

fn fail<D: Driver>(
    ctx: &JobContext<D>,
    device: &str,
    state: DeviceState,
    message: String,
) -> Result<DeviceState, StoreError> {
    ctx.record(device, state, message)?;
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
