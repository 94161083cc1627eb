//! The operator's pages: health and metrics for probes, and unseal/seal for an admin on duty
//! who is not at the server. These work while the shop is sealed, so their forms are protected
//! without sessions (which live in the encrypted database): the CSRF token is an HMAC, under a
//! key that exists only in this process, of a random nonce kept in a SameSite=Strict cookie.

use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use cardsgalore_keyring::Keyring;
use cardsgalore_vault::UnsealError;
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::SiteError;
use crate::handlers::ClientAddr;
use crate::session::random_token;
use crate::state::AppState;
use crate::templates::{render, AdminPage, Nav};

const ADMIN_COOKIE: &str = "cg_admin";

#[derive(Deserialize)]
pub struct HealthQuery {
    /// `?sealed_ok=1`: answer 200 while sealed (load-balancer probes that must not restart us).
    sealed_ok: Option<String>,
}

/// `GET /health`: 200 `{"state":"unsealed"}`, or 503 `{"state":"sealed"}`.
pub async fn health(
    State(state): State<AppState>,
    query: Result<Query<HealthQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let sealed = state.vault().is_sealed();
    let sealed_ok = query.is_ok_and(|Query(q)| q.sealed_ok.is_some_and(|v| v != "0"));
    let status = if sealed && !sealed_ok {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = if sealed {
        r#"{"state":"sealed"}"#
    } else {
        r#"{"state":"unsealed"}"#
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// While sealed, every shop page is the maintenance page (503).
pub async fn maintenance(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.vault().is_sealed() {
        return SiteError::sealed().into_response();
    }
    next.run(req).await
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().render(state.vault()),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct AdminForm {
    csrf_token: Option<String>,
    passphrase: Option<Zeroizing<String>>,
}

/// `GET /admin/unseal`.
pub async fn unseal_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response, SiteError> {
    page(&state, &headers, jar, Mode::Unseal, StatusCode::OK, None)
}

/// `GET /admin/seal`.
pub async fn seal_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response, SiteError> {
    page(&state, &headers, jar, Mode::Seal, StatusCode::OK, None)
}

/// `POST /admin/unseal`: the passphrase unseals the running shop.
pub async fn unseal(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<AdminForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, SiteError> {
    let (secret, jar) = checked(&state, &addr, jar, form)?;
    let vault = state.vault().clone();
    let peer = format!("address {addr}");
    let outcome = tokio::task::spawn_blocking(move || vault.unseal(&secret, "admin page", &peer))
        .await
        .map_err(|e| SiteError::internal(anyhow::Error::new(e)))?;
    let (status, message) = match outcome {
        Ok(slot) => {
            state.unseal_attempts().reset(&addr);
            (
                StatusCode::OK,
                format!("Unsealed with keyslot '{slot}'. The shop is open."),
            )
        }
        Err(e @ UnsealError::WrongPassphrase) => (StatusCode::UNAUTHORIZED, e.to_string()),
        Err(e @ UnsealError::TooSoon(_)) => (StatusCode::TOO_MANY_REQUESTS, e.to_string()),
        Err(e @ UnsealError::AlreadyUnsealed) => (StatusCode::CONFLICT, e.to_string()),
        Err(UnsealError::Store(e)) => return Err(SiteError::from(e)),
    };
    page(&state, &headers, jar, Mode::Unseal, status, Some(message))
}

/// `POST /admin/seal`: an admin passphrase (checked against the keyring) seals the shop.
pub async fn seal(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<AdminForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, SiteError> {
    let (secret, jar) = checked(&state, &addr, jar, form)?;
    let path = state.vault().data_dir().keyring_path();
    let checked = tokio::task::spawn_blocking(move || {
        Keyring::load(&path).and_then(|k| k.unlock(&secret).map(|u| u.unlocked_with().to_string()))
    })
    .await
    .map_err(|e| SiteError::internal(anyhow::Error::new(e)))?;
    let (status, message) = match checked {
        Ok(slot) => {
            state.unseal_attempts().reset(&addr);
            let was = state
                .vault()
                .seal(&format!("admin page, address {addr}, slot {slot}"));
            let message = if was {
                "Sealed: every key was dropped from memory; the shop shows its maintenance page."
            } else {
                "The shop was already sealed."
            };
            (StatusCode::OK, message.to_string())
        }
        Err(_) => (
            StatusCode::UNAUTHORIZED,
            "wrong passphrase: it opens no keyslot".to_string(),
        ),
    };
    page(&state, &headers, jar, Mode::Seal, status, Some(message))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Unseal,
    Seal,
}

/// Checks the rate limit, the form token and the passphrase field.
fn checked(
    state: &AppState,
    addr: &str,
    jar: CookieJar,
    form: Result<Form<AdminForm>, axum::extract::rejection::FormRejection>,
) -> Result<(SecretString, CookieJar), SiteError> {
    if state.unseal_attempts().is_blocked(addr) {
        return Err(SiteError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts from your address; wait a few minutes and try again.",
        ));
    }
    state.unseal_attempts().record(addr);
    let Form(form) = form?;
    let nonce = jar.get(ADMIN_COOKIE).map(|c| c.value().to_owned());
    let valid = match (nonce, form.csrf_token.as_deref()) {
        (Some(nonce), Some(token)) => {
            bool::from(form_token(state, &nonce).as_bytes().ct_eq(token.as_bytes()))
        }
        _ => false,
    };
    if !valid {
        return Err(SiteError::csrf());
    }
    let passphrase = form
        .passphrase
        .filter(|p| !p.is_empty())
        .ok_or_else(|| SiteError::bad_request("The passphrase field is empty."))?;
    Ok((SecretString::from(passphrase.as_str()), jar))
}

fn form_token(state: &AppState, nonce: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(state.admin_form_key())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(nonce.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn page(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    mode: Mode,
    status: StatusCode,
    message: Option<String>,
) -> Result<Response, SiteError> {
    let (nonce, jar) = match jar.get(ADMIN_COOKIE).map(|c| c.value().to_owned()) {
        Some(nonce) => (nonce, jar),
        None => {
            let nonce = random_token();
            let cookie = Cookie::build((ADMIN_COOKIE, nonce.clone()))
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(state.cookie_is_secure(headers))
                .path("/admin")
                .max_age(time::Duration::seconds(
                    Duration::from_secs(3600).as_secs() as i64
                ))
                .build();
            (nonce, jar.add(cookie))
        }
    };
    let view = AdminPage {
        nav: Nav::default(),
        unseal: mode == Mode::Unseal,
        sealed: state.vault().is_sealed(),
        insecure: !state.cookie_is_secure(headers),
        csrf: form_token(state, &nonce),
        message,
        failed: !status.is_success(),
    };
    Ok((jar, render(status, &view)?).into_response())
}
