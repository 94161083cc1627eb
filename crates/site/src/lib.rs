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
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

pub use error::SiteError;
pub use ratelimit::LoginLimits;
pub use routes::router;
pub use state::{AppState, SiteSettings};

/// Argon2 parameters for user passwords, re-exported for [`SiteSettings::password_params`].
pub use cardsgalore_cards::users::Params as PasswordParams;

/// How often expired sessions are purged from the database.
const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// How long a client may take to send a request's headers, and then its body.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long requests in flight may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves the site on `listener` until `shutdown` completes, then finishes the requests in
/// flight and returns. Also purges expired sessions periodically while it runs. A client
/// that does not send its headers within 10 s is disconnected, and a body that stalls for
/// 30 s is refused, so stalled connections cannot pile up.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let purge = tokio::spawn(session::purge_expired_periodically(
        state.clone(),
        SESSION_PURGE_INTERVAL,
    ));
    let app = router(state);
    let mut http = Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(connection) => connection,
                    Err(e) => {
                        // Typically out of file descriptors: back off instead of spinning.
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = app.clone().layer(axum::Extension(ConnectInfo(peer)));
                let connection = http
                    .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!("connection closed: {e}");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still running at shutdown were cut off");
        }
    }
    purge.abort();
    Ok(())
}
