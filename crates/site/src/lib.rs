//! The Cards Galore web site: server-rendered HTML over axum 0.8 with askama templates.
//!
//! This crate owns the HTTP side of the shop: the route table (`routes.rs`), the thin
//! handlers of each feature (`handlers/`), the page templates (`templates/`, compiled and
//! auto-escaped), the embedded static assets (`static/`), sessions kept as rows of the
//! encrypted database (`session.rs`), CSRF protection (`csrf.rs`), the security headers
//! (`security.rs`), login rate limiting (`ratelimit.rs`) and the one error type that renders
//! every failure as a page with the right status ([`SiteError`]).
//!
//! It must not touch the database file, the keyring or key material other than through
//! `cardsgalore-store` (a `Database` handed in by the caller, and the card signing key read
//! once from it), must not read files or spawn processes at run time (assets are compiled in),
//! and must never log or show request bodies, cookies, passwords or card contents.
//!
//! The binary calls [`AppState::new`] once, then [`serve`].

mod assets;
mod auth;
mod csrf;
mod error;
mod handlers;
mod metrics;
mod ratelimit;
mod routes;
mod security;
mod session;
mod state;
mod templates;
mod trace;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

pub use error::SiteError;
pub use ratelimit::LoginLimits;
pub use routes::router;
pub use state::{AppState, SiteSettings};

/// Argon2 parameters for user passwords, re-exported for [`SiteSettings::password_params`].
pub use cardsgalore_cards::users::Params as PasswordParams;

/// How often expired sessions are purged from the database.
const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// Serves the site on `listener` until `shutdown` completes, then finishes the requests in
/// flight and returns. Also purges expired sessions periodically while it runs.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let purge = tokio::spawn(session::purge_expired_periodically(
        state.clone(),
        SESSION_PURGE_INTERVAL,
    ));
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    purge.abort();
    result.map_err(|e| anyhow::Error::new(e).context("the web server failed"))
}
