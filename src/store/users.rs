//! The console's and the API's users: a name, a role, the hash of a password, and API tokens.
//! This module keeps the rows; what a password or a token is, and how either is checked, is
//! [`crate::workflow::users`]'s. No row ever holds a password or a token as given.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// A user as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    /// Unique name.
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// Argon2id, in PHC string form.
    pub password_hash: String,
    /// When the user was added.
    pub created_unix: i64,
    /// API tokens issued and not revoked.
    pub tokens: u32,
}

const COLUMNS: &str =
    "name, role, password_hash, created_unix, (SELECT COUNT(*) FROM user_tokens t WHERE t.user = users.name)";

fn from_row(row: &rusqlite::Row) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        name: row.get(0)?,
        role: row.get(1)?,
        password_hash: row.get(2)?,
        created_unix: row.get(3)?,
        tokens: row.get(4)?,
    })
}

/// Adds a user; refused when the name is taken.
pub fn add(store: &Store, name: &str, role: &str, password_hash: &str, now_unix: i64) -> Result<(), StoreError> {
    let added = store
        .conn
        .execute(
            "INSERT INTO users (name, role, password_hash, created_unix) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING",
            params![name, role, password_hash, now_unix],
        )
        .map_err(|e| store.sqlite(e))?;
    if added == 0 {
        return Err(StoreError::UserExists(name.to_string()));
    }
    Ok(())
}

/// Every user, by name.
pub fn list(store: &Store) -> Result<Vec<UserRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY name");
    let mut statement = store.conn.prepare(&sql).map_err(|e| store.sqlite(e))?;
    let rows = statement.query_map([], from_row).map_err(|e| store.sqlite(e))?;
    rows.collect::<Result<Vec<_>, _>>().map_err(|e| store.sqlite(e))
}

/// One user, if there is one by that name.
pub fn find(store: &Store, name: &str) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE name = ?1");
    store.conn.query_row(&sql, [name], from_row).optional().map_err(|e| store.sqlite(e))
}

/// Removes a user and revokes every token of theirs, together.
pub fn remove(store: &mut Store, name: &str) -> Result<(), StoreError> {
    let db = store.db_path.clone();
    let sqlite = |source| StoreError::Sqlite { path: db.clone(), source };
    let tx = store.conn.transaction().map_err(sqlite)?;
    let removed = tx.execute("DELETE FROM users WHERE name = ?1", [name]).map_err(sqlite)?;
    if removed == 0 {
        return Err(StoreError::UserNotFound(name.to_string()));
    }
    tx.execute("DELETE FROM user_tokens WHERE user = ?1", [name]).map_err(sqlite)?;
    tx.commit().map_err(sqlite)
}

/// Records a token of `user` by its id and the digest of its secret.
/// One statement: a `user rm` running at the same moment cannot leave a token behind for a
/// user of the same name added later.
pub fn add_token(store: &Store, user: &str, id: &str, digest: &str, now_unix: i64) -> Result<(), StoreError> {
    let added = store
        .conn
        .execute(
            "INSERT INTO user_tokens (id, user, digest, created_unix) SELECT ?1, name, ?3, ?4 FROM users WHERE name = ?2",
            params![id, user, digest, now_unix],
        )
        .map_err(|e| store.sqlite(e))?;
    if added == 0 {
        return Err(StoreError::UserNotFound(user.to_string()));
    }
    Ok(())
}

/// The user and the secret's digest of token `id`, if it exists.
pub fn token(store: &Store, id: &str) -> Result<Option<(String, String)>, StoreError> {
    store
        .conn
        .query_row("SELECT user, digest FROM user_tokens WHERE id = ?1", [id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(|e| store.sqlite(e))
}
