//! The image catalog: images uploaded long before the maintenance window, with their checksums.
//!
//! A wrong or corrupt image on a switch is an outage, so every image is checksummed on the way
//! in (SHA-256 and MD5), stored by content, and can be re-verified at any time. Names are unique
//! and immutable; every other field can be edited. The rows and files live in the
//! [`crate::store`].

use std::path::{Path, PathBuf};

use crate::image::Image;
use crate::store::blobs::{self, Digest};
use crate::store::{Store, StoreError, catalog as rows};
use crate::version::Version;

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
    pub fn validate(&self) -> Result<(), StoreError> {
        let invalid = |m: String| Err(StoreError::InvalidImage(m));
        for (field, value) in [("name", &self.name), ("vendor", &self.vendor), ("family", &self.family)] {
            if value.trim().is_empty() {
                return invalid(format!("image {field} must not be empty"));
            }
        }
        if self.platforms.is_empty() {
            return invalid(format!("image {} needs at least one platform", self.name));
        }
        if let Some(bad) = self.platforms.iter().find(|p| p.trim().is_empty() || p.contains(',')) {
            return invalid(format!("image {}: platform {bad:?} is empty or contains a comma", self.name));
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
            catalog: Some(crate::image::CatalogFile {
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

/// Adds `file` to the catalog as `fields`: copies it into the store while hashing it, then
/// records it. `progress(done, total)` follows the copy; `uploaded_unix` is the upload time.
pub fn add(
    store: &mut Store,
    fields: &ImageFields,
    file: &Path,
    uploaded_unix: i64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<CatalogImage, StoreError> {
    fields.validate()?;
    // Checked again inside the write transaction; this early check spares copying a large file.
    if rows::exists(store, &fields.name)? {
        return Err(StoreError::ImageExists(fields.name.clone()));
    }
    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let staged = blobs::stage(store, file, progress)?;
    rows::insert(store, fields, &file_name, &staged, uploaded_unix)?;
    rows::get(store, &fields.name)
}

/// The outcome of verifying one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verified {
    /// The stored content still hashes to the recorded SHA-256.
    Intact,
    /// The content changed.
    Corrupt {
        /// Recorded SHA-256.
        expected: String,
        /// SHA-256 now.
        found: String,
    },
    /// The stored file is gone.
    Missing,
}

/// Re-hashes an image's stored file.
pub fn verify(image: &CatalogImage) -> Result<Verified, StoreError> {
    if !image.path.exists() {
        return Ok(Verified::Missing);
    }
    let digest = blobs::hash_file(&image.path)?;
    Ok(if digest.sha256 == image.digest.sha256 && digest.size_bytes == image.digest.size_bytes {
        Verified::Intact
    } else {
        Verified::Corrupt { expected: image.digest.sha256.clone(), found: digest.sha256 }
    })
}

pub use rows::{get, list, remove, update};

/// The catalog in a store, as a source of scenario images. The store is opened on first use, so
/// scenarios with inline images only never touch it.
pub struct StoreCatalog<'a> {
    open: &'a dyn Fn() -> Result<Store, String>,
    store: std::cell::OnceCell<Result<Store, String>>,
}

impl<'a> StoreCatalog<'a> {
    /// A catalog that opens its store with `open` when first asked.
    pub fn new(open: &'a dyn Fn() -> Result<Store, String>) -> StoreCatalog<'a> {
        StoreCatalog { open, store: std::cell::OnceCell::new() }
    }
}

impl crate::scenario::ImageCatalog for StoreCatalog<'_> {
    fn image(&self, name: &str) -> Result<Image, String> {
        let store = self.store.get_or_init(|| (self.open)()).as_ref().map_err(Clone::clone)?;
        match get(store, name) {
            Ok(image) => Ok(image.to_image()),
            Err(StoreError::ImageNotFound(_)) => Err(format!(
                "image {name} is not in the image catalog at {} (add it with `hitless image add`, or give its fields inline)",
                store.dir().display()
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}
