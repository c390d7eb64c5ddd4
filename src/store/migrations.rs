//! Numbered schema migrations. `PRAGMA user_version` holds the store's version; each migration
//! runs in its own transaction, so a crash leaves the store at a whole version.

use super::{Store, StoreError};

/// The migrations, in order; version N is `MIGRATIONS[N - 1]`. Never edit one that has shipped:
/// add a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the image catalog.
    "CREATE TABLE images (
        name TEXT PRIMARY KEY,
        vendor TEXT NOT NULL,
        family TEXT NOT NULL,
        platforms TEXT NOT NULL,
        os_version TEXT NOT NULL,
        file_name TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        md5 TEXT NOT NULL,
        uploaded_unix INTEGER NOT NULL
    );",
    // 2: upgrade jobs, so that images in use by an unfinished job cannot be removed.
    "CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        scenario TEXT NOT NULL,
        fabric TEXT NOT NULL,
        state TEXT NOT NULL,
        created_unix INTEGER NOT NULL
    );
    CREATE TABLE job_images (
        job TEXT NOT NULL REFERENCES jobs(id),
        image TEXT NOT NULL
    );",
    // 3: the job journal: what each job is, every device's state, and every state change.
    "ALTER TABLE jobs ADD COLUMN scenario_yaml TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN plan TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN driver TEXT NOT NULL DEFAULT 'sim';
    ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE job_devices (
        job TEXT NOT NULL REFERENCES jobs(id),
        device TEXT NOT NULL,
        batch INTEGER NOT NULL,
        image TEXT NOT NULL,
        state TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (job, device)
    );
    CREATE TABLE job_events (
        job TEXT NOT NULL REFERENCES jobs(id),
        seq INTEGER NOT NULL,
        at_unix INTEGER NOT NULL,
        at_seconds REAL NOT NULL,
        device TEXT NOT NULL,
        state TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (job, seq)
    );",
    // 4: every event records what the device is doing as a typed step beside its message, so
    // nothing that decides reads the message. Events written before this are given the step their
    // wording meant, once, here; the driver formerly called "sim" is the virtual driver.
    "ALTER TABLE job_events ADD COLUMN step TEXT NOT NULL DEFAULT 'note';
    UPDATE job_events SET step = CASE
        WHEN state = 'Activating Maintenance Mode' THEN 'drain'
        WHEN state = 'Maintenance Mode Activated' THEN 'drained'
        WHEN state = 'Image Upgrade' AND message = 'rebooting' THEN 'reboot'
        WHEN state = 'Image Upgrade' AND message LIKE 'copying %' THEN 'copy'
        WHEN state = 'Image Upgrade' AND message LIKE 'installing %' THEN 'install'
        WHEN state = 'Image Upgrade' AND message LIKE 'waiting up to %' THEN 'wait-boot'
        WHEN state = 'Hitless Image Upgrade Successful' AND message LIKE 'running %' THEN 'booted'
        WHEN state = 'Deactivating Maintenance Mode' THEN 'undrain'
        WHEN state = 'Maintenance Mode Deactivated' THEN 'in-service'
        WHEN state = 'Health Check' AND message = 'pre-upgrade' THEN 'pre-check'
        WHEN state = 'Health Check' AND message = 'post-upgrade' THEN 'post-check'
        WHEN state IN ('Health Check Failed', 'Hitless Image Upgrade Failed', 'Maintenance Mode Failure') THEN 'failed'
        ELSE 'note' END;
    UPDATE jobs SET driver = 'virtual' WHERE driver = 'sim';",
    // 5: one owner per job: the process running it, and when it last said it was alive.
    "CREATE TABLE job_leases (
        job TEXT PRIMARY KEY REFERENCES jobs(id),
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        token TEXT NOT NULL,
        acquired_unix INTEGER NOT NULL,
        heartbeat_unix INTEGER NOT NULL
    );",
    // 6: pauses for approval (`upgrade.pause`): why a paused job paused, the batch it paused
    // after, and the last batch the operator approved going on from.
    "ALTER TABLE jobs ADD COLUMN reason TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN paused_after INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN approved_through INTEGER NOT NULL DEFAULT 0;",
    // 7: images staged ahead (`hitless stage`): which image is on which device of a fabric.
    "CREATE TABLE staged_images (
        fabric TEXT NOT NULL,
        device TEXT NOT NULL,
        image TEXT NOT NULL,
        at_unix INTEGER NOT NULL,
        PRIMARY KEY (fabric, device)
    );",
    // 8: a pause for the maintenance window (resumed with `resume`) apart from one for approval.
    "ALTER TABLE jobs ADD COLUMN pause_kind TEXT NOT NULL DEFAULT 'approval';",
    // 9: device snapshots (`hitless snapshot`, and a job's before and after each device's
    // upgrade), compared by `hitless diff` and by the job itself.
    "CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        fabric TEXT NOT NULL,
        label TEXT NOT NULL,
        taken_unix INTEGER NOT NULL,
        job TEXT
    );
    CREATE TABLE snapshot_devices (
        snapshot INTEGER NOT NULL REFERENCES snapshots(id),
        device TEXT NOT NULL,
        kind TEXT NOT NULL,
        json TEXT NOT NULL,
        PRIMARY KEY (snapshot, device)
    );",
    // 10: fencing and device locks: a lease holder's process start time (a reused pid is not
    // the holder), and each job device's management address (one open job per device, by name
    // or address, whichever scenario names it).
    "ALTER TABLE job_leases ADD COLUMN started INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE job_devices ADD COLUMN address TEXT NOT NULL DEFAULT '';",
    // 11: the store's own identity, which the maintenance markers a job commits carry (two
    // controllers' `job-0001` are not the same job).
    "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 12: job-level events get steps of their own (they were notes told apart by their words):
    // journals written before are given them once, here, by the words hitless wrote then.
    "UPDATE job_events SET step = 'pause' WHERE device = '' AND step = 'note' AND message LIKE 'paused %';
    UPDATE job_events SET step = 'approve' WHERE device = '' AND step = 'note' AND message LIKE 'approved by the operator%';
    UPDATE job_events SET step = 'take-over' WHERE device = '' AND step = 'note' AND message LIKE 'took the job over%';
    UPDATE job_events SET step = 'window-wait' WHERE device = '' AND step = 'note' AND message LIKE 'waiting for the maintenance window%';",
    // 13: the time scale a job's devices run at (a lab's `--time-scale`), which resume keeps.
    "ALTER TABLE jobs ADD COLUMN time_scale REAL NOT NULL DEFAULT 1.0;",
    // 14: who did what a job-level event records (started, resumed, approved, cancelled, took
    // over), as data beside the message; empty for what no one in particular did.
    "ALTER TABLE job_events ADD COLUMN actor TEXT NOT NULL DEFAULT '';",
    // 15: the people who use the console and the API: a role each, an Argon2id hash of the
    // password (never the password), and API tokens kept as SHA-256 digests (never the token).
    "CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, created_unix INTEGER NOT NULL);
    CREATE TABLE user_tokens (id TEXT PRIMARY KEY, user TEXT NOT NULL, digest TEXT NOT NULL, created_unix INTEGER NOT NULL);
    CREATE INDEX user_tokens_by_user ON user_tokens (user);",
];

/// The newest schema version this binary knows.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the store to the latest version, or refuses a store from a newer binary.
pub fn migrate(store: &mut Store) -> Result<(), StoreError> {
    let found: i64 = store.conn.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(|e| store.sqlite(e))?;
    if found > latest() {
        return Err(StoreError::NewerSchema { path: store.db_path.clone(), found, known: latest() });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let db_path = store.db_path.clone();
        let sqlite = |source| StoreError::Sqlite { path: db_path.clone(), source };
        let tx = store.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sqlite)?;
        // Another process may have migrated while we waited for the lock.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(sqlite)?;
        if now >= version {
            continue;
        }
        tx.execute_batch(sql).map_err(sqlite)?;
        tx.pragma_update(None, "user_version", version).map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
    }
    Ok(())
}

/// The store's schema version.
pub fn version(store: &Store) -> Result<i64, StoreError> {
    store.conn.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(|e| store.sqlite(e))
}
