//! The image catalog's rows.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::blobs::{self, Digest, Staged};
use super::{Store, StoreError};
use crate::catalog::{CatalogImage, ImageEdit, ImageFields};
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
    let job: Option<String> = store
        .conn
        .query_row(
            "SELECT jobs.id FROM jobs JOIN job_images ON job_images.job = jobs.id
             WHERE job_images.image = ?1 AND jobs.state NOT IN ('finished', 'cancelled') ORDER BY jobs.id LIMIT 1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| store.sqlite(e))?;
    if let Some(job) = job {
        return Err(StoreError::ImageInUse { name: name.to_string(), job });
    }
    store.conn.execute("DELETE FROM images WHERE name = ?1", [name]).map_err(|e| store.sqlite(e))?;
    blobs::collect_garbage(store)
}

/// SHA-256 of every image's file.
pub fn referenced_blobs(conn: &Connection) -> rusqlite::Result<HashSet<String>> {
    let mut statement = conn.prepare("SELECT sha256 FROM images")?;
    let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
    rows.collect()
}
