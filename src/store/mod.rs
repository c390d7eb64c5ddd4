//! The state store: everything hitless must remember across runs, in one crash-safe place.
//!
//! A state directory holds `hitless.db` (SQLite in WAL mode, so readers and one writer share it
//! safely across processes) and `blobs/` (image files, content-addressed by SHA-256). The
//! directory is chosen by `--state-dir`, then `HITLESS_HOME`, then the platform's data directory
//! ([`default_dir`]). Schema changes are numbered migrations ([`migrations`]); a newer binary
//! upgrades an older store, an older binary refuses a newer one.
//!
//! Only this module contains SQL.

pub mod blobs;
pub mod catalog;
pub mod jobs;
pub mod migrations;
pub mod snapshots;
pub mod users;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("state database {}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// The store was written by a newer hitless.
    #[error(
        "state store {} has schema version {found}, but this hitless knows only up to {known}: use a newer hitless",
        path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Version found in the file.
        found: i64,
        /// Newest version this binary knows.
        known: i64,
    },
    /// An image's fields are not acceptable.
    #[error(transparent)]
    InvalidImage(#[from] crate::image::ImageError),
    /// An image with this name exists already.
    #[error("image {0} already exists (names are unique; remove it first or pick another name)")]
    ImageExists(String),
    /// No image with this name.
    #[error("no image named {0} in the catalog (see `hitless image list`)")]
    ImageNotFound(String),
    /// A user with this name exists already.
    #[error("user {0} already exists (see `hitless user list`; remove them first to start again)")]
    UserExists(String),
    /// No user with this name.
    #[error("no user named {0} (see `hitless user list`)")]
    UserNotFound(String),
    /// Another job on the same fabric is still open.
    #[error(
        "job {job} is {state} on this fabric; resume it (`hitless resume {job}`) or cancel it (`hitless cancel {job}`) first"
    )]
    FabricBusy {
        /// The open job.
        job: String,
        /// Its state.
        state: String,
    },
    /// Neither `--state-dir`, `HITLESS_HOME` nor a home directory says where the state lives.
    #[error("no state directory: pass --state-dir DIR or set HITLESS_HOME")]
    NoStateDir,
    /// No job with this id.
    #[error("no job {0} (see `hitless jobs`)")]
    JobNotFound(String),
    /// No snapshot with this id.
    #[error("no snapshot {0} (`hitless snapshot SCENARIO` takes one and prints its id)")]
    SnapshotNotFound(i64),
    /// `image add` of something that is not a regular file.
    #[error("{} is not a regular file (a pipe, a device or a directory cannot be an image)", path.display())]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// Not enough free space for an image.
    #[error(
        "not enough free space in {} for the image: {needed} bytes needed (with 64 MiB to spare), {available} available",
        path.display()
    )]
    NoSpace {
        /// Where it would go.
        path: PathBuf,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// The database failed its integrity check.
    #[error(
        "state database {} is damaged ({details}); nothing was changed. Restore it from a backup, or move it aside to start a new one: image files under blobs/ are never deleted for it (`hitless image gc` lists files no image refers to)",
        path.display()
    )]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What SQLite's quick check says.
        details: String,
    },
    /// The job was taken over by another process: this one may change nothing more.
    #[error(
        "{job} was taken over by {by}: this process stops before its next change and writes nothing more to the job's journal"
    )]
    Fenced {
        /// The job.
        job: String,
        /// Who holds it now (`process 123 on host`, or `nobody`).
        by: String,
    },
    /// A device of a new job belongs to another open job.
    #[error(
        "device {device} belongs to job {job} ({state}, as {other}{address}); one open job per device: resume it (`hitless resume {job}`) or cancel it (`hitless cancel {job}`) first"
    )]
    DeviceBusy {
        /// The device, as the new job names it.
        device: String,
        /// The open job it belongs to.
        job: String,
        /// That job's state.
        state: String,
        /// The device as that job names it.
        other: String,
        /// `, at ADDRESS` when they were matched by address.
        address: String,
    },
    /// A process of this host that still exists holds the job.
    #[error(
        "{job} is held by process {pid} on this host, which still exists (perhaps stopped: its last sign of life {age} s ago); let it finish or end it, or take the job over with `hitless resume --force {job}` (process {pid} is then fenced: it stops before its next change)"
    )]
    JobHeldHere {
        /// The job.
        job: String,
        /// The holder's pid.
        pid: u32,
        /// Seconds since its last heartbeat.
        age: i64,
    },
    /// Another process is running the job.
    #[error(
        "{job} is being run by process {pid} on {host} (its last sign of life {age} s ago); wait for it to end, stop it, or `hitless cancel {job}`"
    )]
    JobOwned {
        /// The job.
        job: String,
        /// The owner's process id.
        pid: u32,
        /// The owner's host.
        host: String,
        /// Seconds since its last heartbeat.
        age: i64,
    },
    /// An unfinished job uses the image.
    #[error("image {name} is used by unfinished job {job}; finish or cancel the job first")]
    ImageInUse {
        /// The image.
        name: String,
        /// The job.
        job: String,
    },
}

/// Where the state lives when neither `--state-dir` nor `HITLESS_HOME` says: the platform's data
/// directory (`$XDG_DATA_HOME/hitless` or `~/.local/share/hitless` on Linux,
/// `~/Library/Application Support/hitless` on macOS, `%APPDATA%\hitless` on Windows).
pub fn default_dir() -> Option<PathBuf> {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(home) = env("HITLESS_HOME") {
        return Some(home);
    }
    if cfg!(target_os = "windows") {
        return env("APPDATA").map(|d| d.join("hitless"));
    }
    if cfg!(target_os = "macos") {
        return env("HOME").map(|h| h.join("Library/Application Support/hitless"));
    }
    env("XDG_DATA_HOME").or_else(|| env("HOME").map(|h| h.join(".local/share"))).map(|d| d.join("hitless"))
}

/// An open state store.
pub struct Store {
    dir: PathBuf,
    db_path: PathBuf,
    conn: Connection,
    /// The leases this store's process runs jobs under, by job ([`Store::fence`]): every
    /// journal write of such a job first checks, in its own transaction, that the lease is still
    /// ours. Other jobs' writes (a cancel of a job another process runs) are not fenced.
    fences: std::collections::HashMap<String, jobs::LeaseHolder>,
}

impl Store {
    /// True when `dir` holds a store (something was recorded there).
    pub fn exists_in(dir: &Path) -> bool {
        dir.join("hitless.db").exists()
    }

    /// Opens (creating if needed) the store in `dir`, checks the database's integrity (SQLite's
    /// quick check), migrates its schema, and clears the staging files an interrupted earlier
    /// `image add` left (see [`blobs::clear_abandoned_staging`]).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            what: "cannot create state directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let db_path = dir.join("hitless.db");
        let sqlite = |source| StoreError::Sqlite { path: db_path.clone(), source };
        let conn = Connection::open(&db_path).map_err(sqlite)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        let mut store = Store { dir: dir.to_path_buf(), db_path, conn, fences: std::collections::HashMap::new() };
        store.check()?;
        let sqlite = |source| StoreError::Sqlite { path: store.db_path.clone(), source };
        store.conn.pragma_update(None, "journal_mode", "WAL").map_err(sqlite)?;
        store.conn.pragma_update(None, "synchronous", "FULL").map_err(sqlite)?;
        store.conn.pragma_update(None, "foreign_keys", "ON").map_err(sqlite)?;
        migrations::migrate(&mut store)?;
        blobs::clear_abandoned_staging(&store)?;
        Ok(store)
    }

    /// From now on, every write to `job`'s journal through this store (events, job states,
    /// pauses, snapshots) first checks, in the same transaction, that `holder` still holds the
    /// job's lease, and fails with [`StoreError::Fenced`] once another process took it over.
    pub fn fence(&mut self, job: &str, holder: jobs::LeaseHolder) {
        self.fences.insert(job.to_string(), holder);
    }

    /// Ends [`Store::fence`] for `job`: its run in this process is over (a process that serves
    /// several jobs, the console, then writes to it as any other process would).
    pub fn unfence(&mut self, job: &str) {
        self.fences.remove(job);
    }

    /// The lease `job`'s writes are fenced by, if any.
    fn fence_of(&self, job: &str) -> Option<jobs::LeaseHolder> {
        self.fences.get(job).cloned()
    }

    /// The store's identity: 16 hex digits made when it was created, kept in the database.
    pub fn id(&self) -> Result<String, StoreError> {
        use rusqlite::OptionalExtension;
        let read = || {
            self.conn
                .query_row("SELECT value FROM store_meta WHERE key = 'id'", [], |r| r.get::<_, String>(0))
                .optional()
                .map_err(|e| self.sqlite(e))
        };
        if let Some(id) = read()? {
            return Ok(id);
        }
        use sha2::{Digest, Sha256};
        // Unique enough to tell two controllers' stores apart: the kernel's random UUID where
        // there is one (Linux), with the directory and process.
        let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap_or_default();
        let seed = format!("{}\n{}\n{}", self.dir.display(), std::process::id(), uuid.trim());
        let id = crate::util::hex(&Sha256::digest(seed.as_bytes())[..8]);
        // Two processes making it at once: the first one written is the store's.
        self.conn
            .execute("INSERT OR IGNORE INTO store_meta (key, value) VALUES ('id', ?1)", [&id])
            .map_err(|e| self.sqlite(e))?;
        Ok(read()?.unwrap_or(id))
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// SQLite's quick check: a damaged database is refused before anything reads or writes it.
    fn check(&self) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare("PRAGMA quick_check").map_err(|e| self.damaged(&e))?;
        let rows: Vec<String> = statement
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(|e| self.damaged(&e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.damaged(&e))?;
        if rows.len() == 1 && rows[0] == "ok" {
            return Ok(());
        }
        Err(StoreError::Damaged { path: self.db_path.clone(), details: rows.join("; ") })
    }

    fn damaged(&self, error: &rusqlite::Error) -> StoreError {
        StoreError::Damaged { path: self.db_path.clone(), details: error.to_string() }
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.db_path.clone(), source }
    }
}
