//! One device's upgrade, from whatever state it is really in.

use super::{Driver, DriverError, Facts, Installed, JobContext, WorkItem};
use crate::health::HealthReport;
use crate::journal::DeviceState::{self, *};
use crate::journal::{JournalError, SnapshotKind, Step};

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

/// What one device's walk carries from step to step.
struct Walk<'a, D: Driver> {
    ctx: &'a JobContext<D>,
    item: &'a WorkItem,
    /// The pre-upgrade reading, the baseline of the post-upgrade check.
    baseline: Option<HealthReport>,
    /// The version the device ran when this walk found it, if not the target: what a rollback
    /// returns it to.
    previous: Option<crate::version::Version>,
    /// True when an install pending on the device is hitless's: the journal said so at the
    /// start, or this walk installed it.
    ours_pending: bool,
    /// True while the device is upgraded by Smart System Upgrade: never drained, rebooted by
    /// `fast_reboot`. A failure after its reboot takes it out of service first.
    ssu: bool,
    /// True once this walk asked the device to reboot.
    rebooted: bool,
}

const STAYS: &str =
    "the device stays in maintenance mode; see `hitless logs`, fix the cause and `hitless resume` the job";

/// Upgrades one device; returns the state it ended in.
pub async fn upgrade<D: Driver>(ctx: &JobContext<D>, item: &WorkItem) -> Result<DeviceState, JournalError> {
    let mut walk = Walk {
        ctx,
        item,
        baseline: None,
        previous: None,
        ours_pending: item.pending_is_ours,
        ssu: false,
        rebooted: false,
    };
    walk.run().await
}

impl<D: Driver> Walk<'_, D> {
    fn device(&self) -> &str {
        &self.item.device
    }

    fn record(&self, state: DeviceState, step: Step, message: impl Into<String>) -> Result<(), JournalError> {
        self.ctx.record(self.device(), state, step, message)
    }

    fn fail(&self, state: DeviceState, message: String) -> Result<DeviceState, JournalError> {
        self.record(state, Step::Failed, message)?;
        Ok(state)
    }

    /// The image upgrade failed for `reason` with the device drained and reachable: held in
    /// maintenance mode, or (`upgrade.on_failure: rollback`) rolled back and returned to service.
    async fn give_up(&mut self, state: DeviceState, reason: String) -> Result<Option<DeviceState>, JournalError> {
        self.drain_failed_ssu().await?;
        if self.ctx.rollback_on_failure {
            return self.roll_back(state, reason).await.map(Some);
        }
        self.fail(state, format!("{reason}; {STAYS}")).map(Some)
    }

    /// Returns the device to the software it ran before (`request system software rollback`,
    /// and a reboot unless only a pending install had to be backed out), checks that every
    /// engine runs it and that the device is healthy, and only then lifts maintenance mode.
    /// Anything that goes wrong on the way leaves the device held in maintenance mode.
    async fn roll_back(&mut self, failed: DeviceState, reason: String) -> Result<DeviceState, JournalError> {
        self.drain_failed_ssu().await?;
        let old = self.previous.clone().unwrap_or_else(|| self.item.previous_version.clone());
        self.record(failed, Step::Failed, format!("{reason}; rolling back to {old} (upgrade.on_failure: rollback)"))?;
        self.rollback_steps(reason).await
    }

    /// The rollback itself, from whatever state the device is in: after a failure just now, or
    /// after a resume that found the device's upgrade failed earlier in the job (a controller
    /// that died mid-rollback). The failed image is never installed again.
    async fn rollback_steps(&mut self, reason: String) -> Result<DeviceState, JournalError> {
        let (ctx, device) = (self.ctx, self.device().to_string());
        let old = self.previous.clone().unwrap_or_else(|| self.item.previous_version.clone());
        let new = self.item.image.version.clone();
        let hold = |walk: &Self, why: String| {
            walk.fail(HitlessImageUpgradeFailed, format!("{reason}; the rollback to {old} failed: {why}; {STAYS}"))
        };
        let facts = match ctx.driver.facts(&device).await {
            Ok(facts) => facts,
            Err(e) => return hold(self, e.to_string()),
        };
        if facts.all_run(&old) {
            if facts.pending_install && !self.ours_pending && !self.item.rollback_pending {
                return hold(self, "an install is pending on the device that hitless did not make".into());
            }
            if facts.pending_install {
                let message = "backing out the pending install (request system software rollback)";
                self.record(RollingBack, Step::Rollback, message)?;
                if let Err(e) = ctx.driver.rollback(&device, &facts, &old).await {
                    return hold(self, e.to_string());
                }
                match ctx.driver.facts(&device).await {
                    Ok(after) if !after.pending_install => {}
                    Ok(_) => return hold(self, "the install is still pending after the rollback".into()),
                    Err(e) => return hold(self, e.to_string()),
                }
            } else {
                self.record(RollingBack, Step::Note, format!("still running {old}: no software to undo"))?;
            }
        } else {
            if facts.pending_install && self.item.rollback_pending {
                // A controller that died after requesting the rollback: it is what is pending.
                let message = format!("the rollback to {old} is already pending on the device; rebooting into it");
                self.record(RollingBack, Step::Note, message)?;
            } else if facts.pending_install && !self.ours_pending {
                return hold(self, "an install is pending on the device that hitless did not make".into());
            } else {
                let message = format!("restoring {old} (request system software rollback)");
                self.record(RollingBack, Step::Rollback, message)?;
                if let Err(e) = ctx.driver.rollback(&device, &facts, &old).await {
                    return hold(self, e.to_string());
                }
            }
            self.record(RollingBack, Step::Reboot, format!("rebooting into {old}"))?;
            match ctx.driver.reboot(&device, &facts).await {
                Err(e) if !e.is_transport() => return hold(self, e.to_string()),
                _ => {}
            }
            let message = format!("waiting up to {} s for the device to come back", ctx.boot_deadline_seconds);
            self.record(RollingBack, Step::WaitBoot, message)?;
            let booted = match ctx.driver.wait_for_boot(&device, &facts, ctx.boot_deadline_seconds).await {
                Ok(booted) => booted,
                Err(e) => return hold(self, e.to_string()),
            };
            if !booted.all_run(&old) {
                return hold(self, format!("the device came back running {}", booted.versions()));
            }
            self.record(RollingBack, Step::Booted, format!("running {old} again"))?;
            let converge = self.item.convergence_seconds;
            let message = format!("waiting {converge} s for its protocols to converge before the check");
            self.record(RollingBack, Step::Note, message)?;
            self.sleep(converge).await;
        }
        self.record(RollingBack, Step::PostCheck, "post-rollback")?;
        let baseline = match self.baseline.take() {
            Some(pre) => pre,
            None => match self.reading().await {
                Ok(first) => {
                    tokio::time::sleep(ctx.health_sample).await;
                    first
                }
                Err(e) => return self.fail(HealthCheckFailed, format!("post-rollback: {e}; {STAYS}")),
            },
        };
        let report = match self.reading().await {
            Ok(report) => report,
            Err(e) => return self.fail(HealthCheckFailed, format!("post-rollback: {e}; {STAYS}")),
        };
        let size = self.item.image.catalog.as_ref().map_or(0, |c| c.size_bytes);
        let failures = ctx.limits.check(&report, Some(&baseline), size);
        if !failures.is_empty() {
            let found = crate::health::joined(&failures);
            return self.fail(HealthCheckFailed, format!("post-rollback: {found}; {STAYS}"));
        }
        self.record(DeactivatingMaintenanceMode, Step::Undrain, "returning traffic after the rollback")?;
        if let Err(e) =
            self.retry_once(DeactivatingMaintenanceMode, || ctx.driver.set_maintenance(&device, false)).await
        {
            return self.fail(MaintenanceModeFailure, format!("maintenance mode could not be turned off: {e}"));
        }
        self.wait_for_undrain().await?;
        let message = format!("rolled back to {old} and back in service; the upgrade to {new} failed: {reason}");
        self.record(RolledBack, Step::InService, message)?;
        Ok(RolledBack)
    }

    /// A device upgraded by Smart System Upgrade never left service: once it has rebooted, one
    /// that fails is taken out of service (maintenance mode on, its traffic moved) before it is
    /// held or rolled back, as a drained device would be. Before its reboot it runs its old
    /// software in service, and stays so.
    async fn drain_failed_ssu(&mut self) -> Result<(), JournalError> {
        if !(self.ssu && self.rebooted) {
            return Ok(());
        }
        self.ssu = false;
        let message = "taking it out of service (maintenance mode) before it is held or rolled back";
        self.record(ActivatingMaintenanceMode, Step::Drain, message)?;
        let ctx = self.ctx;
        if let Err(e) =
            self.retry_once(ActivatingMaintenanceMode, || ctx.driver.set_maintenance(self.device(), true)).await
        {
            let message = format!("maintenance mode could not be turned on: {e}; the device is still in service");
            return self.record(MaintenanceModeFailure, Step::Note, message);
        }
        self.wait_for_drain(ActivatingMaintenanceMode).await
    }

    /// The upgrade as `upgrade.method` gives it: Smart System Upgrade when the item has it and
    /// the switch agrees now, else (and for every other device) drained and reloaded.
    async fn upgrade_by_method(&mut self, facts: &Facts) -> Result<Option<DeviceState>, JournalError> {
        let fresh = !facts.maintenance && !facts.pending_install;
        if self.item.ssu_convergence_seconds.is_some() && fresh {
            let why = match self.ctx.driver.ssu_blocker(self.device()).await {
                Ok(None) => return self.ssu_upgrade(facts).await,
                Ok(Some(why)) => why,
                Err(e) => format!("it could not be asked: {e}"),
            };
            let message = format!("Smart System Upgrade is not possible now ({why}); draining and reloading instead");
            self.record(HealthCheck, Step::Note, message)?;
        } else if self.item.ssu_convergence_seconds.is_some() {
            let message = "already drained or with an install pending (a re-entered job): finishing by drain and reload, not Smart System Upgrade";
            self.record(HealthCheck, Step::Note, message)?;
        }
        self.drain_and_install(facts).await
    }

    /// Health check and snapshot, then the image upgraded in service: no maintenance mode, the
    /// reboot by `fast_reboot`.
    async fn ssu_upgrade(&mut self, facts: &Facts) -> Result<Option<DeviceState>, JournalError> {
        if let Some(end) = self.health_check(CheckStage::PreUpgrade).await? {
            return Ok(Some(end));
        }
        if let Some(end) = self.snapshot_before().await? {
            return Ok(Some(end));
        }
        if self.ctx.cancelled() {
            self.record(Cancelled, Step::Note, "not started: the job was cancelled")?;
            return Ok(Some(Cancelled));
        }
        self.ssu = true;
        let message = "upgrading by Smart System Upgrade (upgrade.method): no maintenance mode; the data plane forwards through the reload and pauses about a second at its end";
        self.record(ImageUpgrade, Step::Note, message)?;
        self.image_upgrade(facts).await
    }

    async fn run(&mut self) -> Result<DeviceState, JournalError> {
        let facts = match self.first_facts().await {
            Ok(facts) => facts,
            // Never touched by this job: nothing to undo, and nothing was upgraded.
            Err(e) if !self.item.started => {
                return self.fail(
                    HealthCheckFailed,
                    format!("cannot read the device's state: {e}; the device was not touched"),
                );
            }
            Err(e) => return self.fail(HitlessImageUpgradeFailed, format!("cannot read the device's state: {e}")),
        };
        let wanted = &self.item.image.version;
        if !facts.all_run(wanted) && facts.all_run(facts.version()) {
            self.previous = Some(facts.version().clone());
        }
        if facts.maintenance
            && let Some(other) = &facts.maintenance_owner
            && crate::maintenance::owner_job(other) != crate::maintenance::owner_job(&self.ctx.owner)
        {
            // Another job (of this controller's store or another's) drained it: its device.
            return self.fail(
                HealthCheckFailed,
                format!(
                    "the device is in maintenance mode for another job ({other}, as its marker says); the device was not touched: let that job finish, or take it out of maintenance mode by hand"
                ),
            );
        }
        if self.item.failed_earlier {
            return self.after_earlier_failure(&facts).await;
        }
        if facts.pending_install && !self.item.pending_is_ours {
            // Junos does not say what is pending; only the journal can, and it says not ours.
            let (state, advice) = if facts.maintenance {
                (HitlessImageUpgradeFailed, "the device stays in maintenance mode")
            } else {
                (HealthCheckFailed, "the device was not touched")
            };
            return self.fail(
                state,
                format!(
                    "an install is pending on the device that hitless did not make, so its version is unknown; reboot into it or roll it back (`request system software rollback`) first; {advice}"
                ),
            );
        }
        if facts.all_run(wanted)
            && !facts.maintenance
            && self.item.started
            && self.item.ssu_convergence_seconds.is_some()
        {
            // A Smart System Upgrade never leaves service: one the controller died during may
            // have booted moments ago, and is checked before it counts as done.
            let message = format!(
                "already running {wanted} and in service (its Smart System Upgrade went through before the job was re-entered); finishing the upgrade"
            );
            self.record(HitlessImageUpgradeSuccessful, Step::Note, message)?;
            self.ssu = true;
            self.rebooted = true;
            self.converge_after_resume().await?;
            return self.return_to_service().await;
        }
        if facts.all_run(wanted) && !facts.maintenance {
            self.record(MaintenanceModeDeactivated, Step::Note, format!("already running {wanted} and in service"))?;
            return Ok(MaintenanceModeDeactivated);
        }
        if facts.all_run(wanted) {
            let message = format!("already running {wanted}; finishing the upgrade");
            self.record(HitlessImageUpgradeSuccessful, Step::Note, message)?;
            self.converge_after_resume().await?;
        } else if let Some(end) = self.upgrade_by_method(&facts).await? {
            return Ok(end);
        }
        self.return_to_service().await
    }

    /// A resumed device whose upgrade already failed in this job: it is never upgraded again.
    /// With `on_failure: rollback` its rollback is finished (the process that began it died);
    /// otherwise it is held as it is, unless it came back on the target by itself, when it is
    /// checked and returned to service as any upgraded device.
    async fn after_earlier_failure(&mut self, facts: &Facts) -> Result<DeviceState, JournalError> {
        let wanted = self.item.image.version.clone();
        let reason = format!("the upgrade to {wanted} failed earlier in this job");
        if self.ctx.rollback_on_failure {
            let old = self.previous.clone().unwrap_or_else(|| self.item.previous_version.clone());
            let message = format!("{reason}; finishing its rollback to {old} (it is never upgraded again in this job)");
            self.record(RollingBack, Step::Note, message)?;
            return self.rollback_steps(reason).await;
        }
        if facts.all_run(&wanted) && facts.maintenance {
            let message = format!("{reason}, but the device now runs {wanted}; finishing the upgrade");
            self.record(HitlessImageUpgradeSuccessful, Step::Note, message)?;
            self.converge_after_resume().await?;
            return self.return_to_service().await;
        }
        let (state, left) = if facts.maintenance {
            (HitlessImageUpgradeFailed, STAYS.to_string())
        } else {
            (HitlessImageUpgradeFailed, format!("it is in service running {}; nothing was changed", facts.versions()))
        };
        self.fail(
            state,
            format!("{reason}; it is not upgraded again in this job (start a new job once the cause is fixed); {left}"),
        )
    }

    /// The device's state at the start. A device that does not answer may be rebooting (a
    /// resumed job killed mid-reboot): wait for it, within the boot deadline, before calling it
    /// failed.
    async fn first_facts(&self) -> Result<Facts, String> {
        let (ctx, device) = (self.ctx, self.device());
        match ctx.driver.facts(device).await {
            Err(first) if first.is_transport() => {
                let nothing = Facts {
                    hostname: device.to_string(),
                    chassis: super::Chassis::Single,
                    engines: Vec::new(),
                    maintenance: false,
                    maintenance_owner: None,
                    pending_install: false,
                };
                // It may be rebooting (a resumed job): give it the boot deadline to come back.
                ctx.driver.wait_for_boot(device, &nothing, ctx.boot_deadline_seconds).await.map_err(|_| {
                    format!(
                        "the device does not answer ({first}), and did not within {} s after",
                        ctx.boot_deadline_seconds
                    )
                })
            }
            other => other.map_err(|e| e.to_string()),
        }
    }

    /// Health check, maintenance mode on, image upgrade. `Some(state)` when the device stops
    /// there.
    async fn drain_and_install(&mut self, facts: &Facts) -> Result<Option<DeviceState>, JournalError> {
        let ctx = self.ctx;
        if facts.maintenance {
            self.record(
                MaintenanceModeActivated,
                Step::Drained,
                "already in maintenance mode; continuing the upgrade",
            )?;
            // When it was put there is unknown (a crash right after the commit): let the drain
            // take effect before anything disruptive.
            self.wait_for_drain(MaintenanceModeActivated).await?;
            if let Some(end) = self.verify_drain(MaintenanceModeActivated, !facts.pending_install).await? {
                return Ok(Some(end));
            }
        } else {
            if let Some(end) = self.health_check(CheckStage::PreUpgrade).await? {
                return Ok(Some(end));
            }
            if let Some(end) = self.snapshot_before().await? {
                return Ok(Some(end));
            }
            if ctx.cancelled() {
                self.record(Cancelled, Step::Note, "not started: the job was cancelled")?;
                return Ok(Some(Cancelled));
            }
            self.record(ActivatingMaintenanceMode, Step::Drain, "draining traffic")?;
            if let Err(e) =
                self.retry_once(ActivatingMaintenanceMode, || ctx.driver.set_maintenance(self.device(), true)).await
            {
                let message = format!("maintenance mode could not be turned on: {e}");
                return self.fail(MaintenanceModeFailure, message).map(Some);
            }
            self.wait_for_drain(ActivatingMaintenanceMode).await?;
            if let Some(end) = self.verify_drain(ActivatingMaintenanceMode, true).await? {
                return Ok(Some(end));
            }
            self.record(MaintenanceModeActivated, Step::Drained, "traffic drained")?;
        }
        if ctx.cancelled() {
            // An install already on the device is finished first: a device never returns to
            // service with a new OS waiting for its next reboot.
            if facts.pending_install {
                let message = "the job was cancelled, but the install this job made is pending; finishing the upgrade before returning to service";
                self.record(MaintenanceModeActivated, Step::Note, message)?;
            } else {
                return self.cancel_to_service().await.map(Some);
            }
        }
        self.image_upgrade(facts).await
    }

    /// Waits the role's drain time after maintenance mode is committed: traffic moves off the
    /// device (the simulator's drain phase) before the upgrade goes on.
    async fn wait_for_drain(&self, state: DeviceState) -> Result<(), JournalError> {
        let seconds = self.item.drain_seconds;
        if seconds > 0 {
            let message = format!("waiting {seconds} s for traffic to move off it");
            self.record(state, Step::Note, message)?;
            self.sleep(seconds).await;
        }
        Ok(())
    }

    /// Proves the drain: the device's fabric and server ports must carry at most
    /// `drained_max_mbps` within `drain_verify_seconds`, read every [`crate::health::DRAIN_POLL_SECONDS`] of the job's clock.
    /// Otherwise maintenance mode is lifted again and the device fails untouched (Maintenance
    /// Mode Failure): nothing disruptive is done to a device that still carries traffic.
    /// A device with an install pending (`may_lift` false: a resumed job found it so) is not
    /// returned to service with the new software waiting for its next reboot: it stays in
    /// maintenance mode, failed, for the operator.
    async fn verify_drain(&self, state: DeviceState, may_lift: bool) -> Result<Option<DeviceState>, JournalError> {
        let (ctx, device) = (self.ctx, self.device());
        let (limit, deadline) = (ctx.limits.drained_max_mbps, ctx.limits.drain_verify_seconds);
        let start = (ctx.clock)().1;
        let last = loop {
            let reading = ctx.driver.traffic_mbps(device).await;
            match &reading {
                Ok(mbps) if *mbps <= limit => {
                    self.record(
                        state,
                        Step::Note,
                        format!("drain verified: its ports carry {mbps} Mbit/s (at most {limit})"),
                    )?;
                    return Ok(None);
                }
                _ if (ctx.clock)().1 - start >= f64::from(deadline) => break reading,
                _ => self.sleep(crate::health::DRAIN_POLL_SECONDS as u32).await,
            }
        };
        let why = match last {
            Ok(mbps) => {
                format!("its ports still carry {mbps} Mbit/s after {deadline} s in maintenance mode (at most {limit})")
            }
            Err(e) => format!("its traffic could not be read within {deadline} s ({e})"),
        };
        if !may_lift {
            let message = format!(
                "the drain is not proven: {why}; an install is pending on it, so it stays in maintenance mode rather than return to service with the new software waiting; {STAYS}"
            );
            return self.fail(HitlessImageUpgradeFailed, message).map(Some);
        }
        self.record(
            DeactivatingMaintenanceMode,
            Step::Undrain,
            format!("the drain is not proven: {why}; lifting maintenance mode"),
        )?;
        if let Err(e) = self.retry_once(DeactivatingMaintenanceMode, || ctx.driver.set_maintenance(device, false)).await
        {
            let message = format!("the drain is not proven: {why}; and maintenance mode could not be turned off: {e}");
            return self.fail(MaintenanceModeFailure, message).map(Some);
        }
        let message =
            format!("the drain is not proven: {why}; maintenance mode is off again and the device was not touched");
        self.fail(MaintenanceModeFailure, message).map(Some)
    }

    /// Waits the role's undrain time after maintenance mode is lifted: traffic is back on the
    /// device before it counts as done and the next batch starts.
    async fn wait_for_undrain(&self) -> Result<(), JournalError> {
        let seconds = self.item.undrain_seconds;
        if seconds > 0 {
            let message = format!("waiting {seconds} s for traffic to return to it");
            self.record(DeactivatingMaintenanceMode, Step::Note, message)?;
            self.sleep(seconds).await;
        }
        Ok(())
    }

    /// Sleeps `seconds` of the job's clock.
    async fn sleep(&self, seconds: u32) {
        tokio::time::sleep(std::time::Duration::from_secs_f64(f64::from(seconds) / self.ctx.time_scale)).await;
    }

    async fn cancel_to_service(&self) -> Result<DeviceState, JournalError> {
        let message = "cancelled before the image upgrade; returning to service";
        self.record(DeactivatingMaintenanceMode, Step::Undrain, message)?;
        if let Err(e) =
            self.retry_once(DeactivatingMaintenanceMode, || self.ctx.driver.set_maintenance(self.device(), false)).await
        {
            return self.fail(MaintenanceModeFailure, format!("maintenance mode could not be turned off: {e}"));
        }
        self.wait_for_undrain().await?;
        self.record(Cancelled, Step::InService, "cancelled; not upgraded, back in service")?;
        Ok(Cancelled)
    }

    /// Copy, checksum, install (unless this job's install is pending), reboot, wait, verify.
    async fn image_upgrade(&mut self, facts: &Facts) -> Result<Option<DeviceState>, JournalError> {
        let (ctx, item) = (self.ctx, self.item);
        let (device, image) = (item.device.as_str(), &item.image);
        if !facts.pending_install {
            // Staged ahead (`hitless stage`): the checksum is verified again and nothing copied.
            // A device that cannot say is simply copied to, as if nothing were staged.
            let staged = ctx.driver.staged(device, image).await.unwrap_or(false);
            if staged {
                self.record(ImageUpgrade, Step::Copy, "image already staged, checksum verified")?;
            } else {
                let why = if item.staged_recorded {
                    " (it was staged with `hitless stage`, but is no longer on the device with the catalog's checksum: deleted or changed since)"
                } else {
                    ""
                };
                self.record(
                    ImageUpgrade,
                    Step::Copy,
                    format!("copying {} and verifying its checksum{why}", image.name),
                )?;
                if let Err(e) = self.retry_once(ImageUpgrade, || ctx.driver.stage_image(device, image)).await {
                    return self.give_up(HitlessImageUpgradeFailed, e.to_string()).await;
                }
            }
            if let Some(end) = self.install(facts, false).await? {
                return Ok(Some(end));
            }
        } else if facts.engines.len() > 1 {
            // This job's install is pending, but perhaps not on every engine (a crash between
            // engines): ask each again; one that has it pending says so and installs nothing.
            if let Some(end) = self.install(facts, true).await? {
                return Ok(Some(end));
            }
        } else {
            self.record(
                ImageUpgrade,
                Step::Note,
                format!("{} is installed and pending; not installing it again", image.name),
            )?;
        }
        self.reboot_and_verify().await
    }

    /// Installs on every engine. `resuming`: this job's install is known pending somewhere.
    async fn install(&mut self, facts: &Facts, resuming: bool) -> Result<Option<DeviceState>, JournalError> {
        let (ctx, item) = (self.ctx, self.item);
        let (device, image) = (item.device.as_str(), &item.image);
        let on = if facts.engines.len() > 1 { format!(" on {}", engine_names(facts)) } else { String::new() };
        self.record(ImageUpgrade, Step::Install, format!("installing {}{on}", image.name))?;
        let installed = ctx.driver.install(device, image, facts).await;
        // Installed, or the session dropped during the install: what is pending now is ours.
        if matches!(&installed, Ok(Installed::Done)) || installed.as_ref().is_err_and(DriverError::is_transport) {
            self.ours_pending = true;
        }
        match installed {
            Ok(Installed::Done) => Ok(None),
            Ok(Installed::AlreadyPending) if resuming => {
                self.record(
                    ImageUpgrade,
                    Step::Note,
                    "engines that had this job's install pending were left as they were",
                )?;
                Ok(None)
            }
            Ok(Installed::AlreadyPending) => {
                let message = format!(
                    "the device answers that an install is already pending, which this job did not make; {STAYS}"
                );
                self.fail(HitlessImageUpgradeFailed, message).map(Some)
            }
            Err(e) if e.is_transport() => {
                // A dropped session is not a failed install: ask the device what really happened.
                match ctx.driver.facts(device).await {
                    Ok(now) if now.pending_install => {
                        let message = format!(
                            "the session dropped during the install ({e}), but the device reports the install pending"
                        );
                        self.record(ImageUpgrade, Step::Note, message)?;
                        Ok(None)
                    }
                    Ok(_) => self.give_up(HitlessImageUpgradeFailed, e.to_string()).await,
                    Err(_) => self.fail(HitlessImageUpgradeFailed, format!("{e}; {STAYS}")).map(Some),
                }
            }
            Err(e) => self.give_up(HitlessImageUpgradeFailed, e.to_string()).await,
        }
    }

    async fn reboot_and_verify(&mut self) -> Result<Option<DeviceState>, JournalError> {
        let (ctx, item) = (self.ctx, self.item);
        let (device, image) = (item.device.as_str(), &item.image);
        let before = match ctx.driver.facts(device).await {
            Ok(facts) => facts,
            Err(e) => return self.fail(HitlessImageUpgradeFailed, format!("{e}; {STAYS}")).map(Some),
        };
        let whom = if self.ssu {
            "rebooting in service (Smart System Upgrade: reload fast-boot)".to_string()
        } else if before.engines.len() > 1 {
            format!("rebooting {}", engine_names(&before))
        } else {
            "rebooting".to_string()
        };
        self.record(ImageUpgrade, Step::Reboot, whom)?;
        self.rebooted = true;
        let asked = if self.ssu {
            ctx.driver.fast_reboot(device, &before).await
        } else {
            ctx.driver.reboot(device, &before).await
        };
        match asked {
            Err(e) if !e.is_transport() => {
                return self.give_up(HitlessImageUpgradeFailed, e.to_string()).await;
            }
            _ => {} // A reboot tears the session down; the start times below prove it happened.
        }
        let message = format!("waiting up to {} s for the device to come back", ctx.boot_deadline_seconds);
        self.record(ImageUpgrade, Step::WaitBoot, message)?;
        let booted = match ctx.driver.wait_for_boot(device, &before, ctx.boot_deadline_seconds).await {
            Ok(facts) => facts,
            Err(e) => {
                // A rollback needs a device that answers: say why none was tried.
                let why = if ctx.rollback_on_failure {
                    "; no rollback was tried (on_failure: rollback), as the device does not answer"
                } else {
                    ""
                };
                return self.fail(HitlessImageUpgradeFailed, format!("{e}{why}; {STAYS}")).map(Some);
            }
        };
        if !booted.all_run(&image.version) {
            let message = if booted.engines.len() > 1 {
                format!(
                    "the routing engines ended on different versions ({}), not all on {}: the upgrade failed on the others",
                    booted.versions(),
                    image.version
                )
            } else {
                format!("the device came back running {}, not {}", booted.version(), image.version)
            };
            return self.give_up(HitlessImageUpgradeFailed, message).await;
        }
        let running = if booted.engines.len() > 1 {
            format!("running {} on {}", image.version, engine_names(&booted))
        } else {
            format!("running {}", image.version)
        };
        self.record(HitlessImageUpgradeSuccessful, Step::Booted, running)?;
        let converge = match self.item.ssu_convergence_seconds {
            Some(seconds) if self.ssu => seconds,
            _ => self.item.convergence_seconds,
        };
        let message = format!("waiting {converge} s for its protocols to converge before the post-upgrade check");
        self.record(HitlessImageUpgradeSuccessful, Step::Note, message)?;
        self.sleep(converge).await;
        Ok(None)
    }

    /// A resumed device found already running its new version may have rebooted moments ago
    /// (the controller died while it was down): its protocols, and an MLAG pair's reload-delay,
    /// get their whole convergence time again before the post-upgrade check, which would
    /// otherwise judge — or pass, and release its peer for its own reboot — a device still
    /// settling. Its boot time is on the device's clock, not ours, so the wait is not shortened.
    async fn converge_after_resume(&self) -> Result<(), JournalError> {
        let converge = self.item.convergence_seconds;
        let message = format!(
            "waiting {converge} s for its protocols to converge before the post-upgrade check (it may have booted just now)"
        );
        self.record(HitlessImageUpgradeSuccessful, Step::Note, message)?;
        self.sleep(converge).await;
        Ok(())
    }

    /// Post-upgrade health check, the snapshot diff of what can be compared in maintenance mode,
    /// then maintenance mode off (and the rest of the diff).
    async fn return_to_service(&mut self) -> Result<DeviceState, JournalError> {
        if let Some(end) = self.health_check(CheckStage::PostUpgrade).await? {
            return Ok(end);
        }
        if let Some(end) = self.snapshot_in_maintenance().await? {
            return Ok(end);
        }
        if self.ssu {
            // Never out of service: the whole diff now, and nothing to lift.
            if let Some(end) = self.snapshot_after().await? {
                return Ok(end);
            }
            let message =
                format!("upgraded to {} by Smart System Upgrade, in service throughout", self.item.image.version);
            self.record(MaintenanceModeDeactivated, Step::InService, message)?;
            return Ok(MaintenanceModeDeactivated);
        }
        self.record(DeactivatingMaintenanceMode, Step::Undrain, "returning traffic")?;
        if let Err(e) =
            self.retry_once(DeactivatingMaintenanceMode, || self.ctx.driver.set_maintenance(self.device(), false)).await
        {
            return self.fail(MaintenanceModeFailure, format!("maintenance mode could not be turned off: {e}"));
        }
        self.wait_for_undrain().await?;
        if let Some(end) = self.snapshot_after().await? {
            return Ok(end);
        }
        let message = format!("upgraded to {} and back in service", self.item.image.version);
        self.record(MaintenanceModeDeactivated, Step::InService, message)?;
        Ok(MaintenanceModeDeactivated)
    }

    /// The snapshot before maintenance mode (`upgrade.health_checks.snapshot_diff`), kept in the
    /// store for the diff after. One that cannot be taken stops the device untouched (with
    /// `abort_on_health_check_failure`): there would be nothing to compare with.
    async fn snapshot_before(&self) -> Result<Option<DeviceState>, JournalError> {
        let ctx = self.ctx;
        if !ctx.limits.snapshot_diff {
            return Ok(None);
        }
        let snapshot = match ctx.driver.snapshot(self.device()).await {
            Ok(snapshot) => snapshot,
            Err(e) if ctx.abort_on_health_check_failure => {
                let message =
                    format!("the snapshot before the upgrade could not be taken: {e}; the device was not touched");
                return self.fail(HealthCheckFailed, message).map(Some);
            }
            Err(e) => {
                let message = format!(
                    "the snapshot before the upgrade could not be taken: {e}; continuing without a diff (abort_on_health_check_failure is off)"
                );
                self.record(HealthCheck, Step::Note, message)?;
                return Ok(None);
            }
        };
        let (at_unix, _) = (ctx.clock)();
        let id = super::blocking(|| {
            ctx.journal.lock().expect("journal lock not poisoned").save_snapshot(
                &ctx.job,
                self.device(),
                SnapshotKind::Before,
                &snapshot,
                at_unix,
            )
        })?;
        let unread = if snapshot.missing.is_empty() {
            String::new()
        } else {
            format!(" (not read: {})", snapshot.missing.join("; "))
        };
        self.record(HealthCheck, Step::Note, format!("snapshot {id} taken before maintenance mode{unread}"))?;
        Ok(None)
    }

    /// Before maintenance mode is lifted: a snapshot compared with the one from before the
    /// upgrade on what maintenance mode does not change ([`crate::snapshot::in_maintenance`]:
    /// BGP peers, routes, alarms, CPU). A device that differs there never returns to service on
    /// the new image: it is rolled back (`on_failure: rollback`) or held in maintenance mode
    /// (with `abort_on_health_check_failure`).
    async fn snapshot_in_maintenance(&mut self) -> Result<Option<DeviceState>, JournalError> {
        let ctx = self.ctx;
        if !ctx.limits.snapshot_diff {
            return Ok(None);
        }
        let before = self.baseline_snapshot()?;
        let Some((before_id, before)) = before else {
            return Ok(None); // Said after maintenance mode, where the whole diff is skipped.
        };
        let (now_id, now) = self.snapshot_now(SnapshotKind::InMaintenance).await?;
        let findings = crate::snapshot::diff(
            &crate::snapshot::in_maintenance(&before),
            &crate::snapshot::in_maintenance(&now),
            &ctx.limits,
        );
        if findings.is_empty() {
            let message = format!(
                "snapshot {now_id} (in maintenance mode) matches snapshot {before_id} on BGP peers, routes, alarms and CPU"
            );
            self.record(HealthCheck, Step::Note, message)?;
            return Ok(None);
        }
        let found = format!(
            "on the new image, still in maintenance mode, the device is not as it was (snapshots {before_id} and {now_id}, `hitless diff {before_id} {now_id}`): {}",
            findings.join("; ")
        );
        if !ctx.abort_on_health_check_failure {
            let message = format!("{found}; continuing (abort_on_health_check_failure is off)");
            self.record(HealthCheck, Step::Note, message)?;
            return Ok(None);
        }
        self.drain_failed_ssu().await?;
        if ctx.rollback_on_failure {
            return self.roll_back(HealthCheckFailed, found).await.map(Some);
        }
        self.fail(HealthCheckFailed, format!("{found}; {STAYS}")).map(Some)
    }

    /// The snapshot this job took of the device before its upgrade, with its id, if it took one.
    fn baseline_snapshot(&self) -> Result<Option<(i64, crate::snapshot::Snapshot)>, JournalError> {
        let ctx = self.ctx;
        super::blocking(|| {
            ctx.journal.lock().expect("journal lock not poisoned").job_snapshot(
                &ctx.job,
                self.device(),
                SnapshotKind::Before,
            )
        })
    }

    /// A snapshot of the device now, kept in the store as `kind` of this job; what could not
    /// be read is in its `missing`. Returns its id and the snapshot.
    async fn snapshot_now(&self, kind: SnapshotKind) -> Result<(i64, crate::snapshot::Snapshot), JournalError> {
        let ctx = self.ctx;
        let snapshot = match ctx.driver.snapshot(self.device()).await {
            Ok(snapshot) => snapshot,
            Err(e) => crate::snapshot::Snapshot { missing: vec![e.to_string()], ..Default::default() },
        };
        let (at_unix, _) = (ctx.clock)();
        let id = super::blocking(|| {
            ctx.journal.lock().expect("journal lock not poisoned").save_snapshot(
                &ctx.job,
                self.device(),
                kind,
                &snapshot,
                at_unix,
            )
        })?;
        Ok((id, snapshot))
    }

    /// The snapshot after maintenance mode is lifted, compared with the one from before. A
    /// device that is not as it was fails its check (with `abort_on_health_check_failure`): it
    /// is back in service, and the job halts after the batch.
    async fn snapshot_after(&self) -> Result<Option<DeviceState>, JournalError> {
        let ctx = self.ctx;
        if !ctx.limits.snapshot_diff {
            return Ok(None);
        }
        let before = self.baseline_snapshot()?;
        let Some((before_id, before)) = before else {
            let message =
                "no snapshot from before the upgrade (the job was re-entered after it drained the device): no diff";
            self.record(DeactivatingMaintenanceMode, Step::Note, message)?;
            return Ok(None);
        };
        let (after_id, after) = self.snapshot_now(SnapshotKind::After).await?;
        let findings = crate::snapshot::diff(&before, &after, &ctx.limits);
        if findings.is_empty() {
            let message = format!("snapshot {after_id} matches snapshot {before_id} from before the upgrade");
            self.record(DeactivatingMaintenanceMode, Step::Note, message)?;
            return Ok(None);
        }
        let found = format!(
            "after the upgrade the device is not as it was (snapshots {before_id} and {after_id}, `hitless diff {before_id} {after_id}`): {}",
            findings.join("; ")
        );
        if ctx.abort_on_health_check_failure {
            let message = format!(
                "{found}; it runs {} and is back in service; the job halts after this batch",
                self.item.image.version
            );
            return self.fail(HealthCheckFailed, message).map(Some);
        }
        self.record(
            DeactivatingMaintenanceMode,
            Step::Note,
            format!("{found}; continuing (abort_on_health_check_failure is off)"),
        )?;
        Ok(None)
    }

    /// Runs the health checks; `Some(HealthCheckFailed)` when they fail and that stops the
    /// device. Lifetime counters need a baseline: the pre-upgrade check takes two readings, the
    /// post-upgrade check compares with the pre-upgrade reading (or takes two, after a resume).
    async fn health_check(&mut self, stage: CheckStage) -> Result<Option<DeviceState>, JournalError> {
        let when = stage.label();
        self.record(HealthCheck, stage.step(), when)?;
        let soak = self.item.post_check_seconds;
        if stage == CheckStage::PostUpgrade && soak > 0 {
            let message = format!("watching it for {soak} s in use before the post-upgrade reading");
            self.record(HealthCheck, Step::Note, message)?;
            self.sleep(soak).await;
        }
        let baseline = match (stage, self.baseline.take()) {
            (CheckStage::PostUpgrade, Some(pre)) => pre,
            _ => match self.reading().await {
                Ok(first) => {
                    tokio::time::sleep(self.ctx.health_sample).await;
                    first
                }
                Err(e) => return self.fail(HealthCheckFailed, format!("{when}: {e}")).map(Some),
            },
        };
        let report = match self.reading().await {
            Ok(report) => report,
            Err(e) => return self.fail(HealthCheckFailed, format!("{when}: {e}")).map(Some),
        };
        let size = self.item.image.catalog.as_ref().map_or(0, |c| c.size_bytes);
        let failures = self.ctx.limits.check(&report, Some(&baseline), size);
        if stage == CheckStage::PreUpgrade {
            self.baseline = Some(report);
        }
        if failures.is_empty() {
            return Ok(None);
        }
        let message = format!("{when}: {}", crate::health::joined(&failures));
        if self.ctx.abort_on_health_check_failure && stage == CheckStage::PostUpgrade {
            self.drain_failed_ssu().await?;
        }
        if self.ctx.abort_on_health_check_failure && stage == CheckStage::PostUpgrade && self.ctx.rollback_on_failure {
            return self.roll_back(HealthCheckFailed, message).await.map(Some);
        }
        if self.ctx.abort_on_health_check_failure {
            return self.fail(HealthCheckFailed, format!("{message}; {}", stage.advice())).map(Some);
        }
        let message = format!("{message}; continuing (abort_on_health_check_failure is off)");
        self.record(HealthCheckFailed, Step::Note, message)?;
        Ok(None)
    }

    async fn reading(&self) -> Result<HealthReport, DriverError> {
        self.retry_once(HealthCheck, || self.ctx.driver.health(self.device(), &self.item.image)).await
    }

    /// Calls `operation`, and once more if the first call failed only on the way (a dropped
    /// session): these operations are idempotent on the device. The retried failure is written
    /// to the journal (as a note in `state`) and the log, so it leaves a trace.
    async fn retry_once<T, F, Fut>(&self, state: DeviceState, mut operation: F) -> Result<T, DriverError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, DriverError>>,
    {
        match operation().await {
            Err(e) if e.is_transport() => {
                tracing::warn!(device = self.device(), error = %e, "retrying once after a transport failure");
                if let Err(journal) = self.record(state, Step::Note, format!("{e}; trying once more")) {
                    tracing::error!(device = self.device(), error = %journal, "could not journal the retry");
                }
                operation().await
            }
            other => other,
        }
    }
}

fn engine_names(facts: &Facts) -> String {
    facts.engines.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(" and ")
}
