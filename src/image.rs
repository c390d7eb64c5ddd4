//! Images: what a device can be upgraded to, and which devices an image fits.

use serde::Serialize;

use crate::model::Device;
use crate::version::Version;

/// An OS image as a scenario or the catalog describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Image {
    /// Unique, immutable name.
    pub name: String,
    /// Vendor, e.g. `juniper`.
    pub vendor: String,
    /// Device family the image is built for, e.g. `junos-qfx`.
    pub family: String,
    /// Hardware platforms the image supports.
    pub platforms: Vec<String>,
    /// The OS version the image installs.
    pub version: Version,
    /// For catalog images, the stored file and its checksums; `None` for inline images, which
    /// are metadata only (for planning and simulation) and cannot be installed.
    #[serde(skip)]
    pub catalog: Option<CatalogFile>,
}

/// A catalog image's stored file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogFile {
    /// Where the content is stored.
    pub path: std::path::PathBuf,
    /// The uploaded file's name (Junos package names carry the version).
    pub file_name: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// MD5, lower-case hex.
    pub md5: String,
}

impl Image {
    /// Checks that this image fits `device`; the error says why not, for the operator.
    pub fn fits(&self, device: &Device) -> Result<(), String> {
        if device.family != self.family {
            return Err(format!(
                "image {} is for family {}, device {} is {}",
                self.name, self.family, device.name, device.family
            ));
        }
        if !self.platforms.iter().any(|p| p == &device.platform) {
            return Err(format!(
                "image {} supports platforms {}, not {} ({})",
                self.name,
                self.platforms.join(", "),
                device.platform,
                device.name
            ));
        }
        Ok(())
    }
}
