//! Server-side sessions. The cookie `cg_session` carries a random 256-bit token; the database
//! keeps only its SHA-256 (`sessions.token_hash`) with the user (NULL before login), the CSRF
//! token and the expiry. A visitor gets a session only when a page shows them a form.
//!
//! The [`session_layer`] middleware loads the session of each request into a [`Session`]
//! handle (a request extension); handlers create, upgrade (login) or rotate (logout) it through
//! that handle, and the middleware writes the resulting `Set-Cookie` on the way out.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cardsgalore_store::repo::{sessions, users};
use cardsgalore_store::StoreError;
use rand::rngs::OsRng;
use rand::RngCore;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::error::SiteError;
use crate::state::AppState;

pub const COOKIE_NAME: &str = "cg_session";

/// The signed-in user of a session.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub id: i64,
    pub username: String,
}

#[derive(Clone)]
struct Loaded {
    token_hash: [u8; 32],
    user: Option<AuthUser>,
    csrf_token: String,
}

enum CookieChange {
    Set { token: String },
    Clear,
}

#[derive(Default)]
struct Slot {
    loaded: Option<Loaded>,
    change: Option<CookieChange>,
}

/// The session of the current request. Cheap to clone; all clones share one slot.
#[derive(Clone, Default)]
pub struct Session {
    slot: Arc<Mutex<Slot>>,
}

impl Session {
    fn with_slot<T>(&self, f: impl FnOnce(&mut Slot) -> T) -> T {
        let mut guard = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<AuthUser> {
        self.with_slot(|s| s.loaded.as_ref().and_then(|l| l.user.clone()))
    }

    /// The session's CSRF token, if there is a session.
    pub fn existing_csrf_token(&self) -> Option<String> {
        self.with_slot(|s| s.loaded.as_ref().map(|l| l.csrf_token.clone()))
    }

    /// The session's CSRF token, creating an anonymous session first if there is none (a page
    /// about to show a form).
    pub async fn csrf_token(&self, state: &AppState) -> Result<String, SiteError> {
        if let Some(token) = self.existing_csrf_token() {
            return Ok(token);
        }
        let (token, loaded) = state
            .db(|conn, state| new_session(conn, state, None))
            .await?;
        let csrf = loaded.csrf_token.clone();
        self.with_slot(|s| {
            s.loaded = Some(loaded);
            s.change = Some(CookieChange::Set { token });
        });
        Ok(csrf)
    }

    /// The token hash of the current session row, if any.
    fn token_hash(&self) -> Option<[u8; 32]> {
        self.with_slot(|s| s.loaded.as_ref().map(|l| l.token_hash))
    }

    /// Signs `user` in, inside the caller's blocking database work: deletes the old session
    /// row and creates a new one (new token, new CSRF token). Call [`Session::install`] with
    /// the result afterwards.
    pub fn rotate_blocking(
        &self,
        conn: &Connection,
        state: &AppState,
        user: Option<AuthUser>,
    ) -> Result<Rotated, SiteError> {
        if let Some(old) = self.token_hash() {
            sessions::delete(conn, &old)?;
        }
        let (token, loaded) = new_session(conn, state, user)?;
        Ok(Rotated { token, loaded })
    }

    /// Makes a rotated session current; the response will carry its cookie.
    pub fn install(&self, rotated: Rotated) {
        self.with_slot(|s| {
            s.loaded = Some(rotated.loaded);
            s.change = Some(CookieChange::Set {
                token: rotated.token,
            });
        });
    }

    /// Signs out: deletes the session row and replaces the cookie with a fresh anonymous
    /// session, so the old token is worthless.
    pub async fn logout(&self, state: &AppState) -> Result<(), SiteError> {
        let this = self.clone();
        let rotated = state
            .db(move |conn, state| this.rotate_blocking(conn, state, None))
            .await?;
        self.install(rotated);
        Ok(())
    }
}

/// A new session row, ready to install.
pub struct Rotated {
    token: String,
    loaded: Loaded,
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// 256 random bits, base64url without padding.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn new_session(
    conn: &Connection,
    state: &AppState,
    user: Option<AuthUser>,
) -> Result<(String, Loaded), SiteError> {
    let token = random_token();
    let token_hash = hash_token(&token);
    let now = now_unix();
    let ttl = i64::try_from(state.settings().session_ttl.as_secs()).unwrap_or(i64::MAX);
    let row = sessions::SessionRow {
        user_id: user.as_ref().map(|u| u.id),
        csrf_token: random_token(),
        created_at: now,
        expires_at: now.saturating_add(ttl),
    };
    sessions::create(conn, &token_hash, &row)?;
    Ok((
        token,
        Loaded {
            token_hash,
            user,
            csrf_token: row.csrf_token,
        },
    ))
}

fn load(conn: &Connection, token_hash: [u8; 32]) -> Result<Option<Loaded>, StoreError> {
    let Some(row) = sessions::get(conn, &token_hash, now_unix())? else {
        return Ok(None);
    };
    let user = match row.user_id {
        Some(id) => match users::get(conn, id)? {
            Some(u) => Some(AuthUser {
                id: u.id,
                username: u.username,
            }),
            // The user is gone: the session is worthless.
            None => return Ok(None),
        },
        None => None,
    };
    Ok(Some(Loaded {
        token_hash,
        user,
        csrf_token: row.csrf_token,
    }))
}

fn session_cookie(state: &AppState, secure: bool, change: &CookieChange) -> Option<HeaderValue> {
    let cookie = match change {
        CookieChange::Set { token } => {
            let max_age = time::Duration::seconds(
                i64::try_from(state.settings().session_ttl.as_secs()).unwrap_or(i64::MAX),
            );
            Cookie::build((COOKIE_NAME, token.clone())).max_age(max_age)
        }
        CookieChange::Clear => Cookie::build((COOKIE_NAME, "")).max_age(time::Duration::ZERO),
    }
    .http_only(true)
    .same_site(SameSite::Strict)
    .path("/")
    .secure(secure)
    .build();
    HeaderValue::from_str(&cookie.encoded().to_string()).ok()
}

/// Loads the request's session, runs the handler, and writes any cookie change.
pub async fn session_layer(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let secure = state.cookie_is_secure(req.headers());
    let presented = CookieJar::from_headers(req.headers())
        .get(COOKIE_NAME)
        .map(|c| c.value().to_owned());
    let had_cookie = presented.is_some();
    // Our tokens are 43 characters; anything else is not one of ours.
    let token = presented.filter(|t| t.len() == 43);
    let loaded = match token {
        Some(token) => {
            let hash = hash_token(&token);
            match state.db(move |conn, _| Ok(load(conn, hash)?)).await {
                Ok(loaded) => loaded,
                Err(e) => return e.into_response(),
            }
        }
        None => None,
    };
    let stale_cookie = had_cookie && loaded.is_none();
    let session = Session {
        slot: Arc::new(Mutex::new(Slot {
            loaded,
            change: None,
        })),
    };
    req.extensions_mut().insert(session.clone());
    let mut response = next.run(req).await;
    let change = session
        .with_slot(|s| s.change.take())
        .or(stale_cookie.then_some(CookieChange::Clear));
    if let Some(value) = change.and_then(|c| session_cookie(&state, secure, &c)) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// Deletes expired sessions every `every`, for as long as the site runs.
pub async fn purge_expired_periodically(state: AppState, every: Duration) {
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        if state.vault().is_sealed() {
            continue;
        }
        match state
            .db(|conn, _| Ok(sessions::delete_expired(conn, now_unix())?))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "expired sessions removed"),
            Err(e) => tracing::warn!("purging expired sessions failed: {e:?}"),
        }
    }
}

/// Deletes expired sessions now (also done at each login).
pub fn purge_expired(conn: &Connection) -> Result<usize, StoreError> {
    sessions::delete_expired(conn, now_unix())
}
