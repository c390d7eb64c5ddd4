//! The job journal's rows.

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError};
use crate::journal::{DeviceState, Event, Job, JobDevice, JobState};

/// A new job's description.
pub struct NewJob<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// Fabric fingerprint.
    pub fabric: &'a str,
    /// Scenario text.
    pub scenario_yaml: &'a str,
    /// Plan JSON.
    pub plan: &'a str,
    /// Driver name.
    pub driver: &'a str,
    /// Devices: (name, batch, image, initial state, message).
    pub devices: &'a [JobDevice],
    /// Creation time.
    pub created_unix: i64,
}

/// Creates a job, refusing while another job on the same fabric is open.
pub fn create(store: &mut Store, job: &NewJob) -> Result<String, StoreError> {
    let db_path = store.db_path.clone();
    let sqlite = |source| StoreError::Sqlite { path: db_path.clone(), source };
    let tx = store.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sqlite)?;
    let open: Option<(String, String)> = tx
        .query_row(
            "SELECT id, state FROM jobs WHERE fabric = ?1 AND state IN ('running', 'halted') ORDER BY id LIMIT 1",
            [job.fabric],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sqlite)?;
    if let Some((id, state)) = open {
        return Err(StoreError::FabricBusy { job: id, state });
    }
    let count: i64 = tx.query_row("SELECT COUNT(*) FROM jobs", [], |r| r.get(0)).map_err(sqlite)?;
    let id = format!("job-{:04}", count + 1);
    tx.execute(
        "INSERT INTO jobs (id, scenario, fabric, state, created_unix, scenario_yaml, plan, driver, cancel_requested)
         VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7, 0)",
        params![id, job.scenario, job.fabric, job.created_unix, job.scenario_yaml, job.plan, job.driver],
    )
    .map_err(sqlite)?;
    for device in job.devices {
        tx.execute(
            "INSERT INTO job_devices (job, device, batch, image, state, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, device.device, device.batch, device.image, device.state.label(), device.message],
        )
        .map_err(sqlite)?;
        if !device.image.is_empty() {
            tx.execute("INSERT INTO job_images (job, image) VALUES (?1, ?2)", params![id, device.image])
                .map_err(sqlite)?;
        }
    }
    tx.commit().map_err(sqlite)?;
    Ok(id)
}

/// Appends an event and sets the device's state, in one transaction. Returns the event.
pub fn record(
    store: &mut Store,
    job: &str,
    device: &str,
    state: DeviceState,
    message: &str,
    at_unix: i64,
    at_seconds: f64,
) -> Result<Event, StoreError> {
    let db_path = store.db_path.clone();
    let sqlite = |source| StoreError::Sqlite { path: db_path.clone(), source };
    let tx = store.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sqlite)?;
    let seq: i64 = tx
        .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job = ?1", [job], |r| r.get(0))
        .map_err(sqlite)?;
    tx.execute(
        "INSERT INTO job_events (job, seq, at_unix, at_seconds, device, state, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![job, seq, at_unix, at_seconds, device, state.label(), message],
    )
    .map_err(sqlite)?;
    tx.execute(
        "UPDATE job_devices SET state = ?3, message = ?4 WHERE job = ?1 AND device = ?2",
        params![job, device, state.label(), message],
    )
    .map_err(sqlite)?;
    tx.commit().map_err(sqlite)?;
    Ok(Event { seq, at_unix, at_seconds, device: device.to_string(), state, message: message.to_string() })
}

/// Sets a job's state.
pub fn set_state(store: &Store, job: &str, state: JobState) -> Result<(), StoreError> {
    store
        .conn
        .execute("UPDATE jobs SET state = ?2 WHERE id = ?1", params![job, state.as_str()])
        .map_err(|e| store.sqlite(e))?;
    Ok(())
}

/// Asks a running job to stop (`hitless cancel`), or clears the request (on resume).
pub fn set_cancel_requested(store: &Store, job: &str, requested: bool) -> Result<(), StoreError> {
    get(store, job)?;
    store
        .conn
        .execute("UPDATE jobs SET cancel_requested = ?2 WHERE id = ?1", params![job, requested])
        .map_err(|e| store.sqlite(e))?;
    Ok(())
}

fn job_from_row(row: &Row) -> rusqlite::Result<Job> {
    let state: String = row.get(3)?;
    Ok(Job {
        id: row.get(0)?,
        scenario: row.get(1)?,
        fabric: row.get(2)?,
        state: parse_stored(&state)?,
        created_unix: row.get(4)?,
        scenario_yaml: row.get(5)?,
        plan: row.get(6)?,
        driver: row.get(7)?,
        cancel_requested: row.get(8)?,
    })
}

const JOB_COLUMNS: &str = "id, scenario, fabric, state, created_unix, scenario_yaml, plan, driver, cancel_requested";

/// Parses a state name read from the store; a bad one means a damaged store.
fn parse_stored<T: std::str::FromStr<Err = String>>(text: &str) -> rusqlite::Result<T> {
    text.parse().map_err(|e: String| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

/// One job.
pub fn get(store: &Store, job: &str) -> Result<Job, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1");
    store
        .conn
        .query_row(&sql, [job], job_from_row)
        .optional()
        .map_err(|e| store.sqlite(e))?
        .ok_or_else(|| StoreError::JobNotFound(job.to_string()))
}

/// Every job, oldest first.
pub fn list(store: &Store) -> Result<Vec<Job>, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id");
    let mut statement = store.conn.prepare(&sql).map_err(|e| store.sqlite(e))?;
    let rows = statement.query_map([], job_from_row).map_err(|e| store.sqlite(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| store.sqlite(e))
}

/// A job's devices, by batch then name.
pub fn devices(store: &Store, job: &str) -> Result<Vec<JobDevice>, StoreError> {
    let mut statement = store
        .conn
        .prepare("SELECT device, batch, image, state, message FROM job_devices WHERE job = ?1 ORDER BY batch, device")
        .map_err(|e| store.sqlite(e))?;
    let rows = statement
        .query_map([job], |r| {
            let state: String = r.get(3)?;
            Ok(JobDevice {
                device: r.get(0)?,
                batch: r.get(1)?,
                image: r.get(2)?,
                state: parse_stored(&state)?,
                message: r.get(4)?,
            })
        })
        .map_err(|e| store.sqlite(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| store.sqlite(e))
}

/// A job's events in order, optionally for one device.
pub fn events(store: &Store, job: &str, device: Option<&str>) -> Result<Vec<Event>, StoreError> {
    let mut statement = store
        .conn
        .prepare(
            "SELECT seq, at_unix, at_seconds, device, state, message FROM job_events
             WHERE job = ?1 AND (?2 IS NULL OR device = ?2) ORDER BY seq",
        )
        .map_err(|e| store.sqlite(e))?;
    let rows = statement
        .query_map(params![job, device], |r| {
            let state: String = r.get(4)?;
            Ok(Event {
                seq: r.get(0)?,
                at_unix: r.get(1)?,
                at_seconds: r.get(2)?,
                device: r.get(3)?,
                state: parse_stored(&state)?,
                message: r.get(5)?,
            })
        })
        .map_err(|e| store.sqlite(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| store.sqlite(e))
}
