//! The image catalog: images uploaded long before the maintenance window, with their checksums.
//!
//! A wrong or corrupt image on a switch is an outage, so every image is checksummed on the way
//! in (SHA-256 and MD5), stored by content ([`super::blobs`]), and can be re-verified at any
//! time. Names are unique and immutable; every other field can be edited. The fields' rules are
//! [`crate::image::ImageFields`]'s; this module keeps the rows and files.

use std::collections::HashSet;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::blobs::{self, Staged};
use super::{Store, StoreError};
use crate::image::{CatalogImage, Digest, Image, ImageEdit, ImageFields};
use crate::scenario::{CatalogLookupError, ImageCatalog};
use crate::version::Version;

const COLUMNS: &str = "name, vendor, family, platforms, os_version, file_name, size_bytes, sha256, md5, uploaded_unix";

fn from_row(store: &Store, row: &Row) -> rusqlite::Result<CatalogImage> {
    let platforms: String = row.get(3)?;
    let version: String = row.get(4)?;
    let sha256: String = row.get(7)?;
    Ok(CatalogImage {
        fields: ImageFields {
            name: row.get(0)?,
            vendor: row.get(1)?,
            family: row.get(2)?,
            platforms: platforms.split(',').map(str::to_string).collect(),
            // Versions are validated before they are written; a bad one means a damaged store.
            os_version: Version::parse(&version).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
        },
        file_name: row.get(5)?,
        digest: Digest { size_bytes: row.get::<_, i64>(6)? as u64, md5: row.get(8)?, sha256: sha256.clone() },
        uploaded_unix: row.get(9)?,
        path: blobs::blob_path(&store.dir, &sha256),
    })
}

/// Every image, by name.
pub fn list(store: &Store) -> Result<Vec<CatalogImage>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM images ORDER BY name");
    let mut statement = store.conn.prepare(&sql).map_err(|e| store.sqlite(e))?;
    let rows = statement.query_map([], |row| from_row(store, row)).map_err(|e| store.sqlite(e))?;
    rows.collect::<Result<Vec<_>, _>>().map_err(|e| store.sqlite(e))
}

/// One image.
pub fn get(store: &Store, name: &str) -> Result<CatalogImage, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM images WHERE name = ?1");
    let found =
        store.conn.query_row(&sql, [name], |row| from_row(store, row)).optional().map_err(|e| store.sqlite(e))?;
    found.ok_or_else(|| StoreError::ImageNotFound(name.to_string()))
}

/// True when an image with this name exists.
pub fn exists(store: &Store, name: &str) -> Result<bool, StoreError> {
    let count: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM images WHERE name = ?1", [name], |r| r.get(0))
        .map_err(|e| store.sqlite(e))?;
    Ok(count > 0)
}

/// Records a staged file as a new image: moves the file into place and inserts the row in one
/// write transaction.
pub fn insert(
    store: &mut Store,
    fields: &ImageFields,
    file_name: &str,
    staged: &Staged,
    uploaded_unix: i64,
) -> Result<(), StoreError> {
    let db_path = store.db_path.clone();
    let sqlite = |source| StoreError::Sqlite { path: db_path.clone(), source };
    let tx = store.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sqlite)?;
    let taken: i64 =
        tx.query_row("SELECT COUNT(*) FROM images WHERE name = ?1", [&fields.name], |r| r.get(0)).map_err(sqlite)?;
    if taken > 0 {
        return Err(StoreError::ImageExists(fields.name.clone()));
    }
    blobs::commit(&store.dir, staged)?;
    let digest = &staged.digest;
    tx.execute(
        &format!("INSERT INTO images ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        params![
            fields.name,
            fields.vendor,
            fields.family,
            fields.platforms.join(","),
            fields.os_version.to_string(),
            file_name,
            digest.size_bytes as i64,
            digest.sha256,
            digest.md5,
            uploaded_unix
        ],
    )
    .map_err(sqlite)?;
    tx.commit().map_err(sqlite)
}

/// Changes every field but the name.
pub fn update(store: &Store, name: &str, edit: &ImageEdit) -> Result<CatalogImage, StoreError> {
    let mut image = get(store, name)?;
    edit.apply(&mut image.fields);
    store
        .conn
        .execute(
            "UPDATE images SET vendor = ?2, family = ?3, platforms = ?4, os_version = ?5 WHERE name = ?1",
            params![
                name,
                image.fields.vendor,
                image.fields.family,
                image.fields.platforms.join(","),
                image.fields.os_version.to_string()
            ],
        )
        .map_err(|e| store.sqlite(e))?;
    Ok(image)
}

/// Removes an image, refusing while an unfinished job uses it. The file goes with the next
/// garbage collection if no other image shares its content.
pub fn remove(store: &mut Store, name: &str) -> Result<(), StoreError> {
    get(store, name)?;
    let sql = format!(
        "SELECT jobs.id FROM jobs JOIN job_images ON job_images.job = jobs.id
         WHERE job_images.image = ?1 AND jobs.state IN ({}) ORDER BY jobs.id LIMIT 1",
        super::jobs::open_states_sql()
    );
    let job: Option<String> =
        store.conn.query_row(&sql, [name], |r| r.get(0)).optional().map_err(|e| store.sqlite(e))?;
    if let Some(job) = job {
        return Err(StoreError::ImageInUse { name: name.to_string(), job });
    }
    let image = get(store, name)?;
    store.conn.execute("DELETE FROM images WHERE name = ?1", [name]).map_err(|e| store.sqlite(e))?;
    // Its file goes with it, unless another image has the same content.
    let shared = referenced_blobs(&store.conn).map_err(|e| store.sqlite(e))?.contains(&image.digest.sha256);
    if !shared && image.path.exists() {
        std::fs::remove_file(&image.path).map_err(|source| StoreError::Io {
            what: "cannot remove",
            path: image.path.clone(),
            source,
        })?;
    }
    Ok(())
}

/// SHA-256 of every image's file.
pub fn referenced_blobs(conn: &Connection) -> rusqlite::Result<HashSet<String>> {
    let mut statement = conn.prepare("SELECT sha256 FROM images")?;
    let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
    rows.collect()
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
    if exists(store, &fields.name)? {
        return Err(StoreError::ImageExists(fields.name.clone()));
    }
    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if let Some(problem) = crate::util::file_name_problem(&file_name) {
        return Err(crate::image::ImageError::BadFileName { name: file_name, problem }.into());
    }
    let staged = blobs::stage(store, file, progress)?;
    insert(store, fields, &file_name, &staged, uploaded_unix)?;
    get(store, &fields.name)
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

/// The catalog in a store, as a source of scenario images. The store is opened on first use, so
/// scenarios with inline images only never touch it (nor need a state directory).
pub struct StoreCatalog {
    dir: Option<std::path::PathBuf>,
    store: std::cell::OnceCell<Result<Store, String>>,
}

impl StoreCatalog {
    /// The catalog of the store in `dir`, else in [`super::default_dir`], opened when first asked.
    pub fn new(dir: Option<std::path::PathBuf>) -> StoreCatalog {
        StoreCatalog { dir, store: std::cell::OnceCell::new() }
    }

    fn open(&self) -> Result<Store, StoreError> {
        let dir = match &self.dir {
            Some(dir) => dir.clone(),
            None => super::default_dir().ok_or(StoreError::NoStateDir)?,
        };
        Store::open(&dir)
    }
}

impl ImageCatalog for StoreCatalog {
    fn image(&self, name: &str) -> Result<Image, CatalogLookupError> {
        let unreadable = |reason: String| CatalogLookupError::Unreadable { name: name.to_string(), reason };
        let store = self.store.get_or_init(|| self.open().map_err(|e| e.to_string()));
        let store = store.as_ref().map_err(|reason| unreadable(reason.clone()))?;
        match get(store, name) {
            Ok(image) => Ok(image.to_image()),
            Err(StoreError::ImageNotFound(_)) => {
                Err(CatalogLookupError::NotFound { name: name.to_string(), catalog: store.dir().to_path_buf() })
            }
            Err(e) => Err(unreadable(e.to_string())),
        }
    }
}
