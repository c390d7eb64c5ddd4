//! One driver over a mixed fabric: each device is reached through its own vendor's protocol
//! (`--driver native`): Junos devices through the Junos driver, Arista switches through the EOS
//! driver. The vendor is each device's (`crate::model::Device::vendor`), never the run's.

use std::collections::BTreeMap;

use crate::exec::{Driver, DriverError, Facts, Installed};
use crate::health::HealthReport;
use crate::image::Image;
use crate::model::Vendor;

/// Routes each call by the device's vendor.
pub struct ByVendor<J: Driver, E: Driver> {
    /// For Junos devices.
    pub junos: J,
    /// For Arista switches.
    pub eos: E,
    vendors: BTreeMap<String, Vendor>,
}

impl<J: Driver, E: Driver> ByVendor<J, E> {
    /// A driver for the devices of `fabric`.
    pub fn new(fabric: &crate::model::Fabric, junos: J, eos: E) -> ByVendor<J, E> {
        let vendors = fabric.devices().iter().map(|d| (d.name.clone(), d.vendor())).collect();
        ByVendor { junos, eos, vendors }
    }

    fn is_eos(&self, device: &str) -> bool {
        self.vendors.get(device) == Some(&Vendor::Arista)
    }
}

macro_rules! route {
    ($self:ident, $device:expr, $driver:ident => $call:expr) => {
        if $self.is_eos($device) {
            let $driver = &$self.eos;
            $call.await
        } else {
            let $driver = &$self.junos;
            $call.await
        }
    };
}

impl<J: Driver, E: Driver> Driver for ByVendor<J, E> {
    async fn facts(&self, device: &str) -> Result<Facts, DriverError> {
        route!(self, device, d => d.facts(device))
    }
    async fn health(&self, device: &str, image: &Image) -> Result<HealthReport, DriverError> {
        route!(self, device, d => d.health(device, image))
    }
    async fn snapshot(&self, device: &str) -> Result<crate::snapshot::Snapshot, DriverError> {
        route!(self, device, d => d.snapshot(device))
    }
    async fn traffic_mbps(&self, device: &str) -> Result<u64, DriverError> {
        route!(self, device, d => d.traffic_mbps(device))
    }
    async fn set_maintenance(&self, device: &str, on: bool) -> Result<(), DriverError> {
        route!(self, device, d => d.set_maintenance(device, on))
    }
    fn set_maintenance_owner(&self, owner: &str) {
        self.junos.set_maintenance_owner(owner);
        self.eos.set_maintenance_owner(owner);
    }
    async fn stage_image(&self, device: &str, image: &Image) -> Result<(), DriverError> {
        route!(self, device, d => d.stage_image(device, image))
    }
    async fn staged(&self, device: &str, image: &Image) -> Result<bool, DriverError> {
        route!(self, device, d => d.staged(device, image))
    }
    async fn install(&self, device: &str, image: &Image, facts: &Facts) -> Result<Installed, DriverError> {
        route!(self, device, d => d.install(device, image, facts))
    }
    async fn rollback(&self, device: &str, facts: &Facts, to: &crate::version::Version) -> Result<(), DriverError> {
        route!(self, device, d => d.rollback(device, facts, to))
    }
    async fn reboot(&self, device: &str, facts: &Facts) -> Result<(), DriverError> {
        route!(self, device, d => d.reboot(device, facts))
    }
    async fn wait_for_boot(&self, device: &str, before: &Facts, deadline_seconds: u64) -> Result<Facts, DriverError> {
        route!(self, device, d => d.wait_for_boot(device, before, deadline_seconds))
    }
    async fn ssu_blocker(&self, device: &str) -> Result<Option<String>, DriverError> {
        route!(self, device, d => d.ssu_blocker(device))
    }
    async fn fast_reboot(&self, device: &str, facts: &Facts) -> Result<(), DriverError> {
        route!(self, device, d => d.fast_reboot(device, facts))
    }
}
