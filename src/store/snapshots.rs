//! Device snapshots kept in the store: a snapshot (an id, its fabric, a label, when, the job that
//! took it, if any) holds one JSON [`Snapshot`] per device.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::journal::SnapshotKind;
use crate::snapshot::Snapshot;

/// A stored snapshot's description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Its id (`hitless diff A B`).
    pub id: i64,
    /// The fabric's fingerprint.
    pub fabric: String,
    /// What it is (`manual`, or the job, device and `before`/`after`).
    pub label: String,
    /// When, Unix seconds.
    pub taken_unix: i64,
}

/// Keeps the snapshot of each `(device, kind, snapshot)` under one new id.
pub fn save(
    store: &mut Store,
    fabric: &str,
    label: &str,
    job: Option<&str>,
    at_unix: i64,
    devices: &[(&str, SnapshotKind, &Snapshot)],
) -> Result<i64, StoreError> {
    let db_path = store.db_path.clone();
    let fence = job.and_then(|job| store.fence_of(job));
    let sqlite = |source| StoreError::Sqlite { path: db_path.clone(), source };
    let tx = store.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sqlite)?;
    // A job's snapshot is part of its journal: fenced like every other write of it.
    if let Some(job) = job {
        super::jobs::check_fence(&tx, fence.as_ref(), job).map_err(|e| super::jobs::fence_error(&db_path, e))?;
    }
    tx.execute(
        "INSERT INTO snapshots (fabric, label, taken_unix, job) VALUES (?1, ?2, ?3, ?4)",
        params![fabric, label, at_unix, job],
    )
    .map_err(sqlite)?;
    let id = tx.last_insert_rowid();
    for (device, kind, snapshot) in devices {
        let json = serde_json::to_string(snapshot).expect("a snapshot encodes");
        tx.execute(
            "INSERT INTO snapshot_devices (snapshot, device, kind, json) VALUES (?1, ?2, ?3, ?4)",
            params![id, device, kind.as_str(), json],
        )
        .map_err(sqlite)?;
    }
    tx.commit().map_err(sqlite)?;
    Ok(id)
}

fn decode(json: &str) -> rusqlite::Result<Snapshot> {
    serde_json::from_str(json).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Snapshot `id`: its description and each device's snapshot.
pub fn get(store: &Store, id: i64) -> Result<(SnapshotInfo, Vec<(String, Snapshot)>), StoreError> {
    let info = store
        .conn
        .query_row("SELECT id, fabric, label, taken_unix FROM snapshots WHERE id = ?1", [id], |r| {
            Ok(SnapshotInfo { id: r.get(0)?, fabric: r.get(1)?, label: r.get(2)?, taken_unix: r.get(3)? })
        })
        .optional()
        .map_err(|e| store.sqlite(e))?
        .ok_or(StoreError::SnapshotNotFound(id))?;
    let mut statement = store
        .conn
        .prepare("SELECT device, json FROM snapshot_devices WHERE snapshot = ?1 ORDER BY device")
        .map_err(|e| store.sqlite(e))?;
    let rows = statement
        .query_map([id], |r| Ok((r.get::<_, String>(0)?, decode(&r.get::<_, String>(1)?)?)))
        .map_err(|e| store.sqlite(e))?;
    let devices = rows.collect::<Result<_, _>>().map_err(|e| store.sqlite(e))?;
    Ok((info, devices))
}

/// The latest snapshot of `kind` that `job` took of `device`, with its id.
pub fn of_job(
    store: &Store,
    job: &str,
    device: &str,
    kind: SnapshotKind,
) -> Result<Option<(i64, Snapshot)>, StoreError> {
    store
        .conn
        .query_row(
            "SELECT s.id, d.json FROM snapshots s JOIN snapshot_devices d ON d.snapshot = s.id
             WHERE s.job = ?1 AND d.device = ?2 AND d.kind = ?3 ORDER BY s.id DESC LIMIT 1",
            params![job, device, kind.as_str()],
            |r| Ok((r.get::<_, i64>(0)?, decode(&r.get::<_, String>(1)?)?)),
        )
        .optional()
        .map_err(|e| store.sqlite(e))
}
