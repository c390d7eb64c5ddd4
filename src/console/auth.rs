//! Who is asking: a session (the `hitless_session` cookie, HttpOnly, SameSite=Strict, Secure over
//! TLS; ended by logout, by an hour unused, or by the user's removal) or an API token
//! (`Authorization: Bearer hitless_...`). A session's state-changing requests carry its CSRF
//! token (a form's `csrf` field, or the API's `X-CSRF-Token` header); a token's requests need
//! none, since no browser sends a token by itself.
//!
//! Sessions live in this process: a restart signs everyone out, and nothing about a session is
//! ever written to disk.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use super::{ApiError, Shared};
use crate::workflow::users::{Role, User, random_secret, same};

/// The session cookie's name.
pub const COOKIE: &str = "hitless_session";

/// The most sessions kept at once; past it, the least recently used ends first.
const MAX_SESSIONS: usize = 10_000;

/// A signed-in browser.
#[derive(Clone, Debug)]
struct Session {
    user: String,
    csrf: String,
    last_seen: i64,
}

/// Every open session, by its secret's SHA-256 (the secret itself is only in the cookie).
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

fn digest(secret: &str) -> String {
    use sha2::Digest;
    crate::util::hex(&sha2::Sha256::digest(secret.as_bytes()))
}

impl Sessions {
    /// Opens a session for `user`: (cookie secret, CSRF token).
    pub fn open(&self, user: &str, now: i64) -> (String, String) {
        let (secret, csrf) = (random_secret(), random_secret());
        let mut open = self.open.lock().expect("sessions lock not poisoned");
        if open.len() >= MAX_SESSIONS {
            let oldest = open.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                open.remove(&oldest);
            }
        }
        open.insert(digest(&secret), Session { user: user.to_string(), csrf: csrf.clone(), last_seen: now });
        (secret, csrf)
    }

    /// The session of `secret` if it is open and was used within `idle` seconds (it counts as
    /// used now); an expired one is ended.
    fn touch(&self, secret: &str, now: i64, idle: i64) -> Option<Session> {
        let key = digest(secret);
        let mut open = self.open.lock().expect("sessions lock not poisoned");
        let session = open.get_mut(&key)?;
        if now - session.last_seen > idle {
            open.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends the session of `secret`.
    pub fn close(&self, secret: &str) {
        self.open.lock().expect("sessions lock not poisoned").remove(&digest(secret));
    }
}

/// How a request was authenticated.
#[derive(Clone, Debug)]
pub enum Via {
    /// A browser session, with its CSRF token and cookie secret.
    Session {
        /// The token its forms and API calls must carry.
        csrf: String,
        /// The cookie's secret (for logout).
        secret: String,
    },
    /// An API token.
    Token,
}

/// The signed-in user making a request.
#[derive(Clone, Debug)]
pub struct Who {
    /// As the store has them now.
    pub user: User,
    /// How.
    pub via: Via,
}

impl Who {
    /// The user as the journal records them: `alice on HOST`, as the CLI records its operator.
    pub fn operator(&self, app: &super::App) -> String {
        format!("{} on {}", self.user.name, app.config.host)
    }

    /// The CSRF token pages put in their forms (empty for token requests).
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            Via::Token => "",
        }
    }

    /// Refuses a state-changing request of a session that does not carry its CSRF token.
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), ApiError> {
        match &self.via {
            Via::Token => Ok(()),
            Via::Session { csrf, .. } if given.is_some_and(|g| same(g.as_bytes(), csrf.as_bytes())) => Ok(()),
            Via::Session { .. } => Err(ApiError::forbidden(
                "this request changes state and does not carry the session's CSRF token (the form's csrf field, or the X-CSRF-Token header): reload the page and try again",
            )
            .at("csrf")),
        }
    }

    /// Refuses a user whose role is below `role`, saying what `what` needs.
    pub fn require(&self, role: Role, what: &str) -> Result<(), ApiError> {
        if self.user.role >= role {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "{} is a{} {}; {what} needs the {} role (an admin can change it: `hitless user add`)",
            self.user.name,
            if self.user.role == Role::Admin || self.user.role == Role::Operator { "n" } else { "" },
            self.user.role.as_str(),
            role.as_str()
        )))
    }
}

/// The value of cookie `name` in `headers`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` value opening a session (`secure` over TLS).
pub fn session_cookie(secret: &str, secure: bool) -> String {
    format!("{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict{}", if secure { "; Secure" } else { "" })
}

/// The `Set-Cookie` value ending one.
pub fn cleared_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Who a request comes from, or None: the bearer token first, else the session cookie.
pub fn identify(app: &super::App, headers: &HeaderMap) -> Result<Option<Who>, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(token) = bearer {
        return Ok(app.service.authenticate_token(token)?.map(|user| Who { user, via: Via::Token }));
    }
    let Some(secret) = cookie(headers, COOKIE) else { return Ok(None) };
    let now = (app.caller.now)();
    let Some(session) = app.sessions.touch(secret, now, app.config.session_idle_seconds) else { return Ok(None) };
    match app.service.user(&session.user)? {
        Some(user) => Ok(Some(Who { user, via: Via::Session { csrf: session.csrf, secret: secret.to_string() } })),
        None => {
            // Removed since signing in: the session ends with them.
            app.sessions.close(secret);
            Ok(None)
        }
    }
}

/// An API request's user; 401 (JSON) when there is none.
pub struct ApiUser(pub Who);

impl FromRequestParts<Shared> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, Self::Rejection> {
        identify(app, &parts.headers)?.map(ApiUser).ok_or_else(ApiError::unauthorized)
    }
}

/// A page request's user; without one, the browser is sent to the login page and back.
pub struct PageUser(pub Who);

impl FromRequestParts<Shared> for PageUser {
    type Rejection = axum::response::Response;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        match identify(app, &parts.headers) {
            Ok(Some(who)) => Ok(PageUser(who)),
            Ok(None) => {
                let back = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let location = format!("/login?next={}", super::pages::url_encode(back));
                Err(axum::response::Redirect::to(&location).into_response())
            }
            Err(error) => Err(super::pages::error_page(app, None, &error)),
        }
    }
}
