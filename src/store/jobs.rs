//! The job journal's rows.

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError};
use crate::journal::{DriverKind, Entry, Event, Job, JobDevice, JobState, Journal, JournalError, PauseKind};

/// The SQL list of the open job states (`'running', 'halted'`), from [`JobState::is_open`], so
/// the SQL cannot disagree with the code.
pub(crate) fn open_states_sql() -> String {
    let open: Vec<String> = JobState::ALL.iter().filter(|s| s.is_open()).map(|s| format!("'{}'", s.as_str())).collect();
    open.join(", ")
}

/// A new job's description.
pub struct NewJob<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// Fabric fingerprint.
    pub fabric: &'a str,
    /// Scenario text.
    pub scenario_yaml: &'a str,
    /// The plan as JSON: a list of batches, each a list of device names.
    pub plan: &'a str,
    /// The driver.
    pub driver: DriverKind,
    /// Every device with its batch, image, initial state and message.
    pub devices: &'a [JobDevice],
    /// Creation time.
    pub created_unix: i64,
    /// Each device's management address, where the scenario gives one.
    pub addresses: &'a std::collections::BTreeMap<String, String>,
    /// The journal's first event (who started the job), written in the same transaction: a job
    /// never exists without it.
    pub started: (&'a str, &'a str),
}

/// A device planned in an open job, with the job's state and its own there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenJobDevice {
    /// The job.
    pub job: String,
    /// The job's state (`running`, `halted`, `paused`).
    pub job_state: String,
    /// The device's name there.
    pub device: String,
    /// Its management address there ('' when none).
    pub address: String,
    /// Its state there.
    pub state: crate::journal::DeviceState,
}

/// Every device planned in an open job (batch > 0), whichever fabric or scenario; on `conn`, so
/// a transaction can ask too.
fn claimed(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<OpenJobDevice>> {
    let sql = format!(
        "SELECT d.job, j.state, d.device, d.address, d.state FROM job_devices d JOIN jobs j ON j.id = d.job
         WHERE d.batch > 0 AND j.state IN ({}) ORDER BY d.job, d.device",
        open_states_sql()
    );
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map([], |r| {
        Ok(OpenJobDevice {
            job: r.get(0)?,
            job_state: r.get(1)?,
            device: r.get(2)?,
            address: r.get(3)?,
            state: parse_stored(&r.get::<_, String>(4)?)?,
        })
    })?;
    rows.collect()
}

/// The first of `devices` (name, address) that an open job already has: by the same name, or
/// by the same management address.
fn first_conflict(claimed: &[OpenJobDevice], devices: &[(&str, &str)]) -> Option<StoreError> {
    for (name, address) in devices {
        for other in claimed {
            let by_address = !address.is_empty() && *address == other.address;
            if other.device == *name || by_address {
                return Some(StoreError::DeviceBusy {
                    device: name.to_string(),
                    job: other.job.clone(),
                    state: other.job_state.clone(),
                    other: other.device.clone(),
                    address: if by_address { format!(", at {address}") } else { String::new() },
                });
            }
        }
    }
    None
}

/// Every planned device of every open job, with its state.
pub fn open_job_devices(store: &Store) -> Result<Vec<OpenJobDevice>, StoreError> {
    claimed(&store.conn).map_err(|e| store.sqlite(e))
}

/// Refuses when any of `devices` (name, management address) belongs to an open job.
pub fn check_devices_free(store: &Store, devices: &[(&str, &str)]) -> Result<(), StoreError> {
    let claimed = claimed(&store.conn).map_err(|e| store.sqlite(e))?;
    match first_conflict(&claimed, devices) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Creates a job, refusing while another job on the same fabric is open, or while one of its
/// planned devices belongs to another open job (by name or management address).
pub fn create(store: &mut Store, job: &NewJob) -> Result<String, StoreError> {
    let db_path = store.db_path.clone();
    let sqlite = |source| StoreError::Sqlite { path: db_path.clone(), source };
    let tx = store.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sqlite)?;
    let sql = format!(
        "SELECT id, state FROM jobs WHERE fabric = ?1 AND state IN ({}) ORDER BY id LIMIT 1",
        open_states_sql()
    );
    let open: Option<(String, String)> =
        tx.query_row(&sql, [job.fabric], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(sqlite)?;
    if let Some((id, state)) = open {
        return Err(StoreError::FabricBusy { job: id, state });
    }
    let planned: Vec<(&str, &str)> = job
        .devices
        .iter()
        .filter(|d| d.batch > 0)
        .map(|d| (d.device.as_str(), job.addresses.get(&d.device).map_or("", String::as_str)))
        .collect();
    if let Some(busy) = first_conflict(&claimed(&tx).map_err(sqlite)?, &planned) {
        return Err(busy);
    }
    let count: i64 = tx.query_row("SELECT COUNT(*) FROM jobs", [], |r| r.get(0)).map_err(sqlite)?;
    let id = format!("job-{:04}", count + 1);
    tx.execute(
        "INSERT INTO jobs (id, scenario, fabric, state, created_unix, scenario_yaml, plan, driver, cancel_requested)
         VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7, 0)",
        params![id, job.scenario, job.fabric, job.created_unix, job.scenario_yaml, job.plan, job.driver.as_str()],
    )
    .map_err(sqlite)?;
    for device in job.devices {
        tx.execute(
            "INSERT INTO job_devices (job, device, batch, image, state, message, address)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                device.device,
                device.batch,
                device.image,
                device.state.label(),
                device.message,
                job.addresses.get(&device.device).map_or("", String::as_str)
            ],
        )
        .map_err(sqlite)?;
        if !device.image.is_empty() {
            tx.execute("INSERT INTO job_images (job, image) VALUES (?1, ?2)", params![id, device.image])
                .map_err(sqlite)?;
        }
    }
    let (message, by) = job.started;
    tx.execute(
        "INSERT INTO job_events (job, seq, at_unix, at_seconds, device, state, step, message, actor)
         VALUES (?1, 1, ?2, 0.0, '', ?3, ?4, ?5, ?6)",
        params![
            id,
            job.created_unix,
            crate::journal::DeviceState::Pending.label(),
            crate::journal::Step::Start.as_str(),
            message,
            by
        ],
    )
    .map_err(sqlite)?;
    tx.commit().map_err(sqlite)?;
    Ok(id)
}

/// The open job on `fabric`, if any: `(id, state)`.
pub fn open_on_fabric(store: &Store, fabric: &str) -> Result<Option<(String, JobState)>, StoreError> {
    let sql = format!(
        "SELECT id, state FROM jobs WHERE fabric = ?1 AND state IN ({}) ORDER BY id LIMIT 1",
        open_states_sql()
    );
    store
        .conn
        .query_row(&sql, [fabric], |r| Ok((r.get(0)?, parse_stored(&r.get::<_, String>(1)?)?)))
        .optional()
        .map_err(|e| store.sqlite(e))
}

/// Appends an event and sets the device's state, in one transaction. Returns the event.
pub fn record(store: &mut Store, job: &str, entry: &Entry) -> Result<Event, StoreError> {
    let db_path = store.db_path.clone();
    let sqlite = |source| StoreError::Sqlite { path: db_path.clone(), source };
    let fence = store.fence_of(job);
    let tx = store.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sqlite)?;
    check_fence(&tx, fence.as_ref(), job).map_err(|e| fence_error(&db_path, e))?;
    let seq: i64 = tx
        .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job = ?1", [job], |r| r.get(0))
        .map_err(sqlite)?;
    tx.execute(
        "INSERT INTO job_events (job, seq, at_unix, at_seconds, device, state, step, message, actor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            job,
            seq,
            entry.at_unix,
            entry.at_seconds,
            entry.device,
            entry.state.label(),
            entry.step.as_str(),
            entry.message,
            entry.by
        ],
    )
    .map_err(sqlite)?;
    tx.execute(
        "UPDATE job_devices SET state = ?3, message = ?4 WHERE job = ?1 AND device = ?2",
        params![job, entry.device, entry.state.label(), entry.message],
    )
    .map_err(sqlite)?;
    tx.commit().map_err(sqlite)?;
    Ok(Event {
        seq,
        at_unix: entry.at_unix,
        at_seconds: entry.at_seconds,
        device: entry.device.to_string(),
        state: entry.state,
        step: entry.step,
        message: entry.message.to_string(),
        by: entry.by.to_string(),
    })
}

/// With a fence set ([`Store::fence`]): an error carrying [`StoreError::Fenced`] (see
/// [`fence_error`]) unless `me` still holds `job`'s lease, read inside the caller's transaction.
pub(super) fn check_fence(conn: &rusqlite::Connection, me: Option<&LeaseHolder>, job: &str) -> rusqlite::Result<()> {
    let Some(me) = me else { return Ok(()) };
    let held: Option<Lease> = conn.query_row(LEASE_SQL, [job], lease_from_row).optional()?;
    match held {
        Some(lease) if lease.holder.pid == me.pid && lease.holder.token == me.token => Ok(()),
        other => {
            let by = other.map_or("another process, which has since given it up".to_string(), |l| {
                format!("process {} on {}", l.holder.pid, l.holder.host)
            });
            let fenced = StoreError::Fenced { job: job.to_string(), by };
            Err(rusqlite::Error::ToSqlConversionFailure(Box::new(FencedError(fenced))))
        }
    }
}

#[derive(Debug)]
struct FencedError(StoreError);

impl std::fmt::Display for FencedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for FencedError {}

/// [`StoreError::Fenced`] back out of the SQL error that carried it; any other SQL error as a
/// [`StoreError::Sqlite`] on `path`.
pub(super) fn fence_error(path: &std::path::Path, error: rusqlite::Error) -> StoreError {
    match error {
        rusqlite::Error::ToSqlConversionFailure(inner) => match inner.downcast::<FencedError>() {
            Ok(fenced) => fenced.0,
            Err(other) => {
                StoreError::Sqlite { path: path.to_path_buf(), source: rusqlite::Error::ToSqlConversionFailure(other) }
            }
        },
        other => StoreError::Sqlite { path: path.to_path_buf(), source: other },
    }
}

/// Runs `write` in one immediate transaction, after the fence check.
fn fenced_write(
    store: &mut Store,
    job: &str,
    write: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
) -> Result<(), StoreError> {
    let (fence, path) = (store.fence_of(job), store.db_path.clone());
    let outcome = store.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).and_then(|tx| {
        check_fence(&tx, fence.as_ref(), job)?;
        write(&tx)?;
        tx.commit()
    });
    outcome.map_err(|e| fence_error(&path, e))
}

/// Sets a job's state (and clears the reason a paused job had).
pub fn set_state(store: &mut Store, job: &str, state: JobState) -> Result<(), StoreError> {
    assert!(state != JobState::Paused, "a job is paused with `pause`, which says why");
    fenced_write(store, job, |tx| {
        tx.execute("UPDATE jobs SET state = ?2, reason = '' WHERE id = ?1", params![job, state.as_str()]).map(|_| ())
    })
}

/// Pauses a job after batch `after` (for approval or the window), with the reason.
pub fn pause(store: &mut Store, job: &str, after: u32, kind: PauseKind, reason: &str) -> Result<(), StoreError> {
    fenced_write(store, job, |tx| {
        tx.execute(
            "UPDATE jobs SET state = ?2, reason = ?3, paused_after = ?4, pause_kind = ?5 WHERE id = ?1",
            params![job, JobState::Paused.as_str(), reason, after, kind.as_str()],
        )
        .map(|_| ())
    })
}

/// Records the operator's approval of a paused job: the batches after the one it paused after
/// may start.
pub fn approve(store: &Store, job: &str) -> Result<(), StoreError> {
    store
        .conn
        .execute("UPDATE jobs SET approved_through = MAX(approved_through, paused_after) WHERE id = ?1", [job])
        .map_err(|e| store.sqlite(e))?;
    Ok(())
}

/// Records the time scale `job`'s devices run at (a lab's `--time-scale`).
pub fn set_time_scale(store: &Store, job: &str, time_scale: f64) -> Result<(), StoreError> {
    store
        .conn
        .execute("UPDATE jobs SET time_scale = ?2 WHERE id = ?1", params![job, time_scale])
        .map_err(|e| store.sqlite(e))?;
    Ok(())
}

/// Records (or withdraws) the operator's request that a running job stop (`hitless cancel`).
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
    let driver: String = row.get(7)?;
    Ok(Job {
        id: row.get(0)?,
        scenario: row.get(1)?,
        fabric: row.get(2)?,
        state: parse_stored(&state)?,
        created_unix: row.get(4)?,
        scenario_yaml: row.get(5)?,
        plan: row.get(6)?,
        driver: parse_stored(&driver)?,
        cancel_requested: row.get(8)?,
        reason: row.get(9)?,
        approved_through: row.get(10)?,
        pause_kind: parse_stored(&row.get::<_, String>(11)?)?,
        time_scale: row.get(12)?,
    })
}

const JOB_COLUMNS: &str = "id, scenario, fabric, state, created_unix, scenario_yaml, plan, driver, cancel_requested, reason, approved_through, pause_kind, time_scale";

/// Parses a name read from the store; a bad one means a damaged (or newer) store.
fn parse_stored<T: std::str::FromStr<Err = crate::journal::UnknownName>>(text: &str) -> rusqlite::Result<T> {
    text.parse().map_err(|e: crate::journal::UnknownName| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
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
    events_after(store, job, device, 0, i64::MAX)
}

/// At most `limit` of a job's journal events after position `after`, in order: what a stream
/// that has seen up to `after` is owed next.
pub fn events_after(
    store: &Store,
    job: &str,
    device: Option<&str>,
    after: i64,
    limit: i64,
) -> Result<Vec<Event>, StoreError> {
    let mut statement = store
        .conn
        .prepare_cached(
            "SELECT seq, at_unix, at_seconds, device, state, step, message, actor FROM job_events
             WHERE job = ?1 AND (?2 IS NULL OR device = ?2) AND seq > ?3 ORDER BY seq LIMIT ?4",
        )
        .map_err(|e| store.sqlite(e))?;
    let rows = statement
        .query_map(params![job, device, after, limit], |r| {
            let state: String = r.get(4)?;
            let step: String = r.get(5)?;
            Ok(Event {
                seq: r.get(0)?,
                at_unix: r.get(1)?,
                at_seconds: r.get(2)?,
                device: r.get(3)?,
                state: parse_stored(&state)?,
                step: parse_stored(&step)?,
                message: r.get(6)?,
                by: r.get(7)?,
            })
        })
        .map_err(|e| store.sqlite(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| store.sqlite(e))
}

impl From<StoreError> for JournalError {
    fn from(error: StoreError) -> JournalError {
        JournalError(Box::new(error))
    }
}

/// The store is the journal a running job writes through.
impl Journal for Store {
    fn record(&mut self, job: &str, entry: &Entry) -> Result<Event, JournalError> {
        Ok(record(self, job, entry)?)
    }

    fn cancel_requested(&self, job: &str) -> Result<bool, JournalError> {
        Ok(get(self, job)?.cancel_requested)
    }

    fn devices(&self, job: &str) -> Result<Vec<JobDevice>, JournalError> {
        Ok(devices(self, job)?)
    }

    fn set_state(&mut self, job: &str, state: JobState) -> Result<(), JournalError> {
        Ok(set_state(self, job, state)?)
    }

    fn pause(&mut self, job: &str, after: u32, kind: PauseKind, reason: &str) -> Result<(), JournalError> {
        Ok(pause(self, job, after, kind, reason)?)
    }

    fn save_snapshot(
        &mut self,
        job: &str,
        device: &str,
        kind: crate::journal::SnapshotKind,
        snapshot: &crate::snapshot::Snapshot,
        at_unix: i64,
    ) -> Result<i64, JournalError> {
        let fabric = get(self, job)?.fabric;
        let label = format!("{job} {device} {}", kind.as_str());
        Ok(super::snapshots::save(self, &fabric, &label, Some(job), at_unix, &[(device, kind, snapshot)])?)
    }

    fn job_snapshot(
        &self,
        job: &str,
        device: &str,
        kind: crate::journal::SnapshotKind,
    ) -> Result<Option<(i64, crate::snapshot::Snapshot)>, JournalError> {
        Ok(super::snapshots::of_job(self, job, device, kind)?)
    }
}

/// The image each device of `fabric` has installed and pending by hitless, across every job on
/// the fabric: an install step not yet followed by a reboot that was waited for (nor by a
/// rollback, which backs it out or replaces it). Junos does not say which package is pending;
/// this does, for the installs hitless made.
pub fn pending_installs(store: &Store, fabric: &str) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
    Ok(pending_software(store, fabric)?
        .into_iter()
        .filter_map(|(device, pending)| match pending {
            PendingSoftware::Install(image) => Some((device, image)),
            PendingSoftware::Rollback => None,
        })
        .collect())
}

/// The devices of `fabric` on which hitless sent `request system software rollback` and has not
/// yet waited for a reboot: what is pending there (if anything) is hitless's rollback.
pub fn pending_rollbacks(store: &Store, fabric: &str) -> Result<std::collections::BTreeSet<String>, StoreError> {
    Ok(pending_software(store, fabric)?
        .into_iter()
        .filter_map(|(device, pending)| (pending == PendingSoftware::Rollback).then_some(device))
        .collect())
}

/// What hitless left pending on a device, by the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PendingSoftware {
    /// This image was installed.
    Install(String),
    /// A rollback was requested.
    Rollback,
}

fn pending_software(
    store: &Store,
    fabric: &str,
) -> Result<std::collections::BTreeMap<String, PendingSoftware>, StoreError> {
    use crate::journal::Step;
    let mut statement = store
        .conn
        .prepare(
            "SELECT e.device, e.step, d.image FROM job_events e
             JOIN jobs j ON j.id = e.job
             JOIN job_devices d ON d.job = e.job AND d.device = e.device
             WHERE j.fabric = ?1 AND e.step IN ('install', 'rollback', 'wait-boot', 'booted')
             ORDER BY j.rowid, e.seq",
        )
        .map_err(|e| store.sqlite(e))?;
    let rows = statement
        .query_map([fabric], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .map_err(|e| store.sqlite(e))?;
    let mut pending = std::collections::BTreeMap::new();
    for row in rows {
        let (device, step, image) = row.map_err(|e| store.sqlite(e))?;
        match parse_stored::<Step>(&step).map_err(|e| store.sqlite(e))? {
            Step::Install => {
                pending.insert(device, PendingSoftware::Install(image));
            }
            Step::Rollback => {
                pending.insert(device, PendingSoftware::Rollback);
            }
            _ => {
                pending.remove(&device);
            }
        }
    }
    Ok(pending)
}

/// A process that runs jobs: who it is, so another can tell whether it is still there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolder {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// Unique to this process's life (pid numbers are reused).
    pub token: String,
    /// When the process started, in the kernel's clock ticks since boot (Linux `/proc/PID/stat`
    /// field 22; 0 when unknown): a process with the same pid and another start time is not
    /// the holder.
    pub started: u64,
}

/// A job's lease as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it.
    pub holder: LeaseHolder,
    /// When it was taken.
    pub acquired_unix: i64,
    /// The holder's last sign of life.
    pub heartbeat_unix: i64,
}

/// How a lease was taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acquired {
    /// Nobody held it.
    Free,
    /// A holder that is gone held it: taken over.
    TookOver(Lease),
}

const LEASE_SQL: &str =
    "SELECT pid, host, token, acquired_unix, heartbeat_unix, started FROM job_leases WHERE job = ?1";

fn lease_from_row(r: &Row) -> rusqlite::Result<Lease> {
    Ok(Lease {
        holder: LeaseHolder { pid: r.get(0)?, host: r.get(1)?, token: r.get(2)?, started: r.get::<_, i64>(5)? as u64 },
        acquired_unix: r.get(3)?,
        heartbeat_unix: r.get(4)?,
    })
}

/// The job's lease, if any process holds it.
pub fn lease(store: &Store, job: &str) -> Result<Option<Lease>, StoreError> {
    store.conn.query_row(LEASE_SQL, [job], lease_from_row).optional().map_err(|e| store.sqlite(e))
}

/// Takes `job`'s lease for `me` at `now`, in one transaction: free, already ours, or held by
/// another holder that `may_take` lets go (taken over); otherwise `may_take`'s refusal.
pub fn acquire_lease(
    store: &mut Store,
    job: &str,
    me: &LeaseHolder,
    now: i64,
    may_take: &dyn Fn(&Lease) -> Result<(), StoreError>,
) -> Result<Acquired, StoreError> {
    let db_path = store.db_path.clone();
    let sqlite = |source| StoreError::Sqlite { path: db_path.clone(), source };
    let tx = store.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sqlite)?;
    let held: Option<Lease> = tx.query_row(LEASE_SQL, [job], lease_from_row).optional().map_err(sqlite)?;
    let acquired = match held {
        None => Acquired::Free,
        Some(lease) if lease.holder == *me => Acquired::Free,
        Some(lease) => {
            may_take(&lease)?;
            Acquired::TookOver(lease)
        }
    };
    tx.execute(
        "INSERT OR REPLACE INTO job_leases (job, pid, host, token, acquired_unix, heartbeat_unix, started)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
        params![job, me.pid, me.host, me.token, now, me.started as i64],
    )
    .map_err(sqlite)?;
    tx.commit().map_err(sqlite)?;
    Ok(acquired)
}

/// Renews `me`'s lease on `job` at `now`; false when the lease is no longer ours (taken over).
pub fn heartbeat(store: &Store, job: &str, me: &LeaseHolder, now: i64) -> Result<bool, StoreError> {
    let changed = store
        .conn
        .execute(
            "UPDATE job_leases SET heartbeat_unix = ?4 WHERE job = ?1 AND pid = ?2 AND token = ?3",
            params![job, me.pid, me.token, now],
        )
        .map_err(|e| store.sqlite(e))?;
    Ok(changed == 1)
}

/// Gives `job`'s lease up, if `me` holds it.
pub fn release_lease(store: &Store, job: &str, me: &LeaseHolder) -> Result<(), StoreError> {
    store
        .conn
        .execute("DELETE FROM job_leases WHERE job = ?1 AND pid = ?2 AND token = ?3", params![job, me.pid, me.token])
        .map_err(|e| store.sqlite(e))?;
    Ok(())
}

/// Records that `image` was found staged (copied, checksum verified) on `device` of `fabric`.
pub fn record_staged(store: &Store, fabric: &str, device: &str, image: &str, at_unix: i64) -> Result<(), StoreError> {
    store
        .conn
        .execute(
            "INSERT INTO staged_images (fabric, device, image, at_unix) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (fabric, device) DO UPDATE SET image = ?3, at_unix = ?4",
            params![fabric, device, image, at_unix],
        )
        .map_err(|e| store.sqlite(e))?;
    Ok(())
}

/// What `hitless stage` recorded for `fabric`: device to (image, when).
pub fn staged(store: &Store, fabric: &str) -> Result<std::collections::BTreeMap<String, (String, i64)>, StoreError> {
    let mut statement = store
        .conn
        .prepare("SELECT device, image, at_unix FROM staged_images WHERE fabric = ?1")
        .map_err(|e| store.sqlite(e))?;
    let rows = statement
        .query_map([fabric], |r| Ok((r.get::<_, String>(0)?, (r.get::<_, String>(1)?, r.get::<_, i64>(2)?))))
        .map_err(|e| store.sqlite(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| store.sqlite(e))
}
