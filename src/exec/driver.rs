//! The executor's port to devices: the [`Driver`] trait, what a device says about itself
//! ([`Facts`]) and why a call failed ([`DriverError`]). The drivers (`crate::driver`) implement
//! it: virtual devices in virtual time, and Junos over NETCONF/SSH.
//!
//! Every call names the device by its fabric name and returns a [`DriverError`] that keeps the
//! device's own message. Calls are cancel-safe in the sense the executor relies on: dropping a
//! call's future never leaves the device half-changed by the driver itself (a device may still
//! be mid-install on its own, which [`Driver::facts`] then reports).

use std::future::Future;

use crate::health::HealthReport;
use crate::image::Image;
use crate::version::Version;

/// What a device says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Hostname.
    pub hostname: String,
    /// Running OS version.
    pub version: Version,
    /// True while maintenance mode (drain) is configured.
    pub maintenance: bool,
    /// A package installed and waiting for a reboot, if any.
    pub pending_install: Option<Version>,
    /// Increases with every boot; a changed value proves a reboot happened.
    pub boot_count: u64,
}

/// Why a driver call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The device could not be reached (connection refused, dropped, timed out).
    #[error("{device}: unreachable during {operation}: {message}")]
    Unreachable {
        /// Device name.
        device: String,
        /// What was being done.
        operation: &'static str,
        /// Details.
        message: String,
    },
    /// The device answered with an error.
    #[error("{device}: {operation} failed: {message}")]
    Rejected {
        /// Device name.
        device: String,
        /// What was being done.
        operation: &'static str,
        /// The device's own message.
        message: String,
    },
    /// A wait ran past its deadline.
    #[error("{device}: {operation} did not finish within {seconds} s")]
    Timeout {
        /// Device name.
        device: String,
        /// What was being waited for.
        operation: &'static str,
        /// The deadline that passed.
        seconds: u64,
    },
}

impl DriverError {
    /// True when the call may have failed only on the way (the device might have acted).
    pub fn is_transport(&self) -> bool {
        matches!(self, DriverError::Unreachable { .. } | DriverError::Timeout { .. })
    }
}

/// The operations the executor needs from a device.
pub trait Driver: Send + Sync + 'static {
    /// Hostname, version, maintenance mode, pending install, boot count.
    fn facts(&self, device: &str) -> impl Future<Output = Result<Facts, DriverError>> + Send;
    /// Health figures (BGP, alarms, CPU, interfaces, LACP, disk).
    fn health(&self, device: &str, image: &Image) -> impl Future<Output = Result<HealthReport, DriverError>> + Send;
    /// Maintenance mode on (`true`) or off, as one committed configuration change.
    fn set_maintenance(&self, device: &str, on: bool) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Copies the image to the device and verifies its checksum there.
    fn stage_image(&self, device: &str, image: &Image) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Installs the staged image (pending until reboot).
    fn install(&self, device: &str, image: &Image) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Reboots the device.
    fn reboot(&self, device: &str) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Waits until the device answers again after a reboot, up to `deadline_seconds`.
    fn wait_for_boot(
        &self,
        device: &str,
        previous_boot_count: u64,
        deadline_seconds: u64,
    ) -> impl Future<Output = Result<Facts, DriverError>> + Send;
}
