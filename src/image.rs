//! Images: what a device can be upgraded to, which devices an image fits, and the catalog's
//! rules for the fields an operator gives an image.
//!
//! The catalog itself (rows and files) lives in the store (`store::catalog`); this module is its
//! vocabulary: [`ImageFields`] (validated), [`ImageEdit`] (everything but the name),
//! [`CatalogImage`] (a stored image) and [`Digest`] (what a file's content hashes to).

use std::path::PathBuf;

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
    pub path: PathBuf,
    /// The uploaded file's name (Junos package names carry the version).
    pub file_name: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// MD5, lower-case hex.
    pub md5: String,
}

/// Why an image does not fit a device.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    /// The image is built for another device family.
    #[error("image {image} is for family {family}, device {device} is {device_family}")]
    Family {
        /// The image.
        image: String,
        /// The image's family.
        family: String,
        /// The device.
        device: String,
        /// The device's family.
        device_family: String,
    },
    /// The device's platform is not among the image's.
    #[error("image {image} supports platforms {}, not {platform} ({device})", platforms.join(", "))]
    Platform {
        /// The image.
        image: String,
        /// The image's platforms.
        platforms: Vec<String>,
        /// The device.
        device: String,
        /// The device's platform.
        platform: String,
    },
}

impl Image {
    /// Checks that this image fits `device`; the error says why not, for the operator.
    pub fn fits(&self, device: &Device) -> Result<(), FitError> {
        if device.family != self.family {
            return Err(FitError::Family {
                image: self.name.clone(),
                family: self.family.clone(),
                device: device.name.clone(),
                device_family: device.family.clone(),
            });
        }
        if !self.platforms.iter().any(|p| p == &device.platform) {
            return Err(FitError::Platform {
                image: self.name.clone(),
                platforms: self.platforms.clone(),
                device: device.name.clone(),
                platform: device.platform.clone(),
            });
        }
        Ok(())
    }
}

/// What a file's content hashes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// MD5, lower-case hex (what Junos `file checksum md5` prints).
    pub md5: String,
    /// Size in bytes.
    pub size_bytes: u64,
}

/// Why an image's fields are not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// A required field is blank.
    #[error("image {field} must not be empty")]
    Empty {
        /// `name`, `vendor` or `family`.
        field: &'static str,
    },
    /// No platform given.
    #[error("image {name} needs at least one platform")]
    NoPlatforms {
        /// The image.
        name: String,
    },
    /// The name is not one hitless accepts.
    #[error("image name {name:?} {problem}")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        problem: String,
    },
    /// The file's name is not one a device's file system and the driver accept.
    #[error("image file name {name:?} {problem}; rename the file")]
    BadFileName {
        /// The name.
        name: String,
        /// Why.
        problem: String,
    },
    /// A platform is blank or would break the stored comma-separated list.
    #[error("image {name}: platform {platform:?} is empty or contains a comma")]
    BadPlatform {
        /// The image.
        name: String,
        /// The offending platform.
        platform: String,
    },
}

/// The fields an operator gives an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageFields {
    /// Unique, immutable name.
    pub name: String,
    /// Vendor, e.g. `juniper`.
    pub vendor: String,
    /// Device family, e.g. `junos-qfx`.
    pub family: String,
    /// Supported platforms.
    pub platforms: Vec<String>,
    /// OS version the image installs, normalised.
    pub os_version: Version,
}

impl ImageFields {
    /// Checks the fields: all required, platforms without blanks or commas.
    pub fn validate(&self) -> Result<(), ImageError> {
        for (field, value) in [("name", &self.name), ("vendor", &self.vendor), ("family", &self.family)] {
            if value.trim().is_empty() {
                return Err(ImageError::Empty { field });
            }
        }
        if let Some(problem) = crate::util::name_problem(&self.name) {
            return Err(ImageError::BadName { name: self.name.clone(), problem });
        }
        if self.platforms.is_empty() {
            return Err(ImageError::NoPlatforms { name: self.name.clone() });
        }
        if let Some(bad) = self.platforms.iter().find(|p| p.trim().is_empty() || p.contains(',')) {
            return Err(ImageError::BadPlatform { name: self.name.clone(), platform: bad.clone() });
        }
        Ok(())
    }
}

/// An image in the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogImage {
    /// What the operator said.
    pub fields: ImageFields,
    /// The uploaded file's name (without directories).
    pub file_name: String,
    /// Size and checksums of the content.
    pub digest: Digest,
    /// Upload time, seconds since the Unix epoch (UTC).
    pub uploaded_unix: i64,
    /// Where the content is stored.
    pub path: PathBuf,
}

impl CatalogImage {
    /// The image as the planner and selection see it.
    pub fn to_image(&self) -> Image {
        Image {
            name: self.fields.name.clone(),
            vendor: self.fields.vendor.clone(),
            family: self.fields.family.clone(),
            platforms: self.fields.platforms.clone(),
            version: self.fields.os_version.clone(),
            catalog: Some(CatalogFile {
                path: self.path.clone(),
                file_name: self.file_name.clone(),
                size_bytes: self.digest.size_bytes,
                sha256: self.digest.sha256.clone(),
                md5: self.digest.md5.clone(),
            }),
        }
    }
}

/// Changes to an image; `None` keeps the field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageEdit {
    /// New vendor.
    pub vendor: Option<String>,
    /// New family.
    pub family: Option<String>,
    /// New platforms.
    pub platforms: Option<Vec<String>>,
    /// New OS version.
    pub os_version: Option<Version>,
}

impl ImageEdit {
    /// Applies the changes to `fields`.
    pub fn apply(&self, fields: &mut ImageFields) {
        if let Some(vendor) = &self.vendor {
            fields.vendor = vendor.clone();
        }
        if let Some(family) = &self.family {
            fields.family = family.clone();
        }
        if let Some(platforms) = &self.platforms {
            fields.platforms = platforms.clone();
        }
        if let Some(version) = &self.os_version {
            fields.os_version = version.clone();
        }
    }

    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == ImageEdit::default()
    }
}
