//! One type for whichever driver the operator chose, so the command line needs no generics.

use super::by_vendor::ByVendor;
use super::eos::EosDriver;
use super::eos::https::HttpsEapi;
use super::junos::JunosDriver;
use super::ssh::SshConnector;
use super::virt::VirtualDriver;
use crate::exec::{Driver, DriverError, Facts, Installed};
use crate::health::HealthReport;
use crate::image::Image;

/// The virtual driver or the Junos driver over SSH.
pub enum AnyDriver {
    /// Virtual devices.
    Virtual(VirtualDriver),
    /// Junos over NETCONF/SSH.
    Junos(JunosDriver<SshConnector>),
    /// Each device through its vendor's protocol: Junos over NETCONF/SSH, EOS over eAPI.
    Native(Box<ByVendor<JunosDriver<SshConnector>, EosDriver<HttpsEapi>>>),
}

macro_rules! delegate {
    ($self:ident, $driver:ident => $call:expr) => {
        match $self {
            AnyDriver::Virtual($driver) => $call.await,
            AnyDriver::Junos($driver) => $call.await,
            AnyDriver::Native($driver) => $call.await,
        }
    };
}

impl Driver for AnyDriver {
    async fn facts(&self, device: &str) -> Result<Facts, DriverError> {
        delegate!(self, d => d.facts(device))
    }
    async fn health(&self, device: &str, image: &Image) -> Result<HealthReport, DriverError> {
        delegate!(self, d => d.health(device, image))
    }
    async fn set_maintenance(&self, device: &str, on: bool) -> Result<(), DriverError> {
        delegate!(self, d => d.set_maintenance(device, on))
    }
    fn set_maintenance_owner(&self, owner: &str) {
        match self {
            AnyDriver::Virtual(d) => d.set_maintenance_owner(owner),
            AnyDriver::Junos(d) => d.set_maintenance_owner(owner),
            AnyDriver::Native(d) => d.set_maintenance_owner(owner),
        }
    }
    async fn stage_image(&self, device: &str, image: &Image) -> Result<(), DriverError> {
        delegate!(self, d => d.stage_image(device, image))
    }
    async fn traffic_mbps(&self, device: &str) -> Result<u64, DriverError> {
        delegate!(self, d => d.traffic_mbps(device))
    }
    async fn snapshot(&self, device: &str) -> Result<crate::snapshot::Snapshot, DriverError> {
        delegate!(self, d => d.snapshot(device))
    }
    async fn staged(&self, device: &str, image: &Image) -> Result<bool, DriverError> {
        delegate!(self, d => d.staged(device, image))
    }
    async fn install(&self, device: &str, image: &Image, facts: &Facts) -> Result<Installed, DriverError> {
        delegate!(self, d => d.install(device, image, facts))
    }
    async fn rollback(&self, device: &str, facts: &Facts, to: &crate::version::Version) -> Result<(), DriverError> {
        delegate!(self, d => d.rollback(device, facts, to))
    }
    async fn reboot(&self, device: &str, facts: &Facts) -> Result<(), DriverError> {
        delegate!(self, d => d.reboot(device, facts))
    }
    async fn wait_for_boot(&self, device: &str, before: &Facts, deadline_seconds: u64) -> Result<Facts, DriverError> {
        delegate!(self, d => d.wait_for_boot(device, before, deadline_seconds))
    }
    async fn ssu_blocker(&self, device: &str) -> Result<Option<String>, DriverError> {
        delegate!(self, d => d.ssu_blocker(device))
    }
    async fn fast_reboot(&self, device: &str, facts: &Facts) -> Result<(), DriverError> {
        delegate!(self, d => d.fast_reboot(device, facts))
    }
}
