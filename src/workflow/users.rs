//! Who may use the console and the API, and as what: users with a role (`viewer` sees,
//! `operator` also runs upgrades, `admin` also manages users and images), a password kept only
//! as an Argon2id hash, and API tokens kept only as a SHA-256 digest of their secret. A token is
//! shown once, when it is issued; neither it nor a password is ever written anywhere in clear.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

use super::WorkflowError;
use super::service::Service;
use crate::store::users::{self, UserRow};

/// What a user may do; each role may do what the ones before it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Sees fabrics, plans, jobs and reports.
    Viewer,
    /// Also starts, approves, cancels and resumes jobs.
    Operator,
    /// Also manages users and images.
    Admin,
}

impl Role {
    /// The role's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// The role named `text` (`viewer`, `operator`, `admin`).
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// A user, without their secrets.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// Unique name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// When they were added (Unix seconds).
    pub created_unix: i64,
    /// API tokens issued to them and not revoked.
    pub tokens: u32,
}

/// Why a user could not be added or a token issued.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A name outside the allowed characters or length.
    #[error(
        "user name {0:?} is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    )]
    BadName(String),
    /// A password too short, or the name itself.
    #[error("the password for {0} is too weak: use at least {MIN_PASSWORD} characters, not the user name")]
    WeakPassword(String),
    /// The store holds a role or hash this hitless cannot read.
    #[error("user {0}'s stored record is damaged (role or password hash unreadable): remove and add them again")]
    Damaged(String),
    /// Hashing failed (the operating system's random source, or Argon2 itself).
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The fewest characters a password may have.
pub const MIN_PASSWORD: usize = 12;

/// The prefix of every API token (so a leaked one is recognisable for what it is).
pub const TOKEN_PREFIX: &str = "hitless_";

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn user_of(row: UserRow) -> Result<User, UserError> {
    let role = Role::parse(&row.role).ok_or_else(|| UserError::Damaged(row.name.clone()))?;
    Ok(User { name: row.name, role, created_unix: row.created_unix, tokens: row.tokens })
}

fn hex(bytes: &[u8]) -> String {
    crate::util::hex(bytes)
}

/// `a == b`, taking as long whatever the first difference (for secrets and their digests).
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 bytes from the operating system's random source, in hex: a secret (a token's, a
/// session's, a CSRF token).
pub fn random_secret() -> String {
    let mut bytes = argon2::password_hash::generate_salt().to_vec();
    bytes.extend(argon2::password_hash::generate_salt());
    hex(&bytes)
}

impl Service {
    /// Adds user `name` with `role` and `password` (kept as an Argon2id hash).
    pub fn add_user(&self, name: &str, role: Role, password: &str, now_unix: i64) -> Result<User, WorkflowError> {
        if !valid_name(name) {
            return Err(UserError::BadName(name.to_string()).into());
        }
        if password.chars().count() < MIN_PASSWORD || password == name {
            return Err(UserError::WeakPassword(name.to_string()).into());
        }
        let hash = Argon2::default()
            .hash_password(password.as_bytes())
            .map_err(|e| UserError::Hash(e.to_string()))?
            .to_string();
        let store = self.store();
        users::add(&store, name, role.as_str(), &hash, now_unix)?;
        let row = users::find(&store, name)?.ok_or_else(|| crate::store::StoreError::UserNotFound(name.into()))?;
        Ok(user_of(row)?)
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, WorkflowError> {
        let rows = users::list(&self.store())?;
        Ok(rows.into_iter().map(user_of).collect::<Result<_, _>>()?)
    }

    /// User `name` as the store has them now (None once removed): a console session asks on
    /// every request, so a removed user or a changed role takes effect at once.
    pub fn user(&self, name: &str) -> Result<Option<User>, WorkflowError> {
        let row = users::find(&self.store(), name)?;
        Ok(row.map(user_of).transpose()?)
    }

    /// Removes user `name`, and every token of theirs with them.
    pub fn remove_user(&self, name: &str) -> Result<(), WorkflowError> {
        Ok(users::remove(&mut self.store(), name)?)
    }

    /// Issues an API token for `name`: the returned text is the only copy there will be.
    pub fn issue_token(&self, name: &str, now_unix: i64) -> Result<String, WorkflowError> {
        let id = hex(&argon2::password_hash::generate_salt()[..6]);
        let secret = random_secret();
        let digest = hex(&Sha256::digest(secret.as_bytes()));
        users::add_token(&self.store(), name, &id, &digest, now_unix)?;
        Ok(format!("{TOKEN_PREFIX}{id}_{secret}"))
    }

    /// The user whose name and password these are, or None (an unknown user and a wrong
    /// password are answered alike).
    pub fn authenticate_password(&self, name: &str, password: &str) -> Result<Option<User>, WorkflowError> {
        let row = users::find(&self.store(), name)?;
        let Some(row) = row else {
            // As long as a wrong password takes, so that the answer's time does not say whether
            // the user exists.
            let _ = Argon2::default().hash_password(password.as_bytes());
            return Ok(None);
        };
        let hash = PasswordHash::new(&row.password_hash).map_err(|_| UserError::Damaged(name.to_string()))?;
        if Argon2::default().verify_password(password.as_bytes(), &hash).is_err() {
            return Ok(None);
        }
        Ok(Some(user_of(row)?))
    }

    /// The user an API token belongs to, or None for a token that is not one (or was revoked).
    pub fn authenticate_token(&self, token: &str) -> Result<Option<User>, WorkflowError> {
        let Some((id, secret)) = token.strip_prefix(TOKEN_PREFIX).and_then(|rest| rest.split_once('_')) else {
            return Ok(None);
        };
        let store = self.store();
        let Some((user, digest)) = users::token(&store, id)? else { return Ok(None) };
        if !same(hex(&Sha256::digest(secret.as_bytes())).as_bytes(), digest.as_bytes()) {
            return Ok(None);
        }
        let row = users::find(&store, &user)?;
        Ok(row.map(user_of).transpose()?)
    }
}
