//! The settings the binary passes in, and the one shared state of every request.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use cardsgalore_cards::users::{Params, PasswordHasher};
use cardsgalore_cards::CardKey;
use cardsgalore_store::{repo, Database, PooledConnection, StoreError};

use crate::error::SiteError;
use crate::ratelimit::{LoginLimits, RateLimiter};

/// The site's settings, built once by the binary.
#[derive(Clone, Debug)]
pub struct SiteSettings {
    /// Set the `Secure` flag on the session cookie: true when the site is served over TLS.
    pub secure_cookies: bool,
    /// Trust a reverse proxy's `X-Forwarded-Proto: https` (then the cookie is `Secure` on
    /// those requests) and its `X-Forwarded-For` (the client address for rate limiting).
    /// Only set this when every request goes through that proxy.
    pub trust_proxy: bool,
    /// How long a session lives, from its creation (login or first form shown).
    pub session_ttl: Duration,
    /// Argon2id parameters for hashing user passwords.
    pub password_params: Params,
    /// Login rate limits.
    pub login_limits: LoginLimits,
}

impl Default for SiteSettings {
    fn default() -> Self {
        SiteSettings {
            secure_cookies: false,
            trust_proxy: false,
            session_ttl: Duration::from_secs(12 * 60 * 60),
            password_params: Params::DEFAULT,
            login_limits: LoginLimits::default(),
        }
    }
}

/// Shared state of the site: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    settings: SiteSettings,
    card_key: CardKey,
    hasher: PasswordHasher,
    account_failures: RateLimiter,
    address_failures: RateLimiter,
    gift_misses: RateLimiter,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// Failed recipient look-ups a user may make per window when gifting (limits username
/// enumeration through the gift form).
const GIFT_MISSES_PER_WINDOW: u32 = 10;
const GIFT_MISS_WINDOW: Duration = Duration::from_secs(15 * 60);

impl AppState {
    /// Builds the state: reads the card signing key from the database (creating it on first
    /// use). Blocking: call it before serving, or inside `spawn_blocking`.
    pub fn new(db: Database, settings: SiteSettings) -> Result<AppState, StoreError> {
        let card_key = {
            let conn = db.conn()?;
            let bytes = repo::settings::card_key(&conn)?;
            CardKey::from_bytes(*bytes)
        };
        let limits = settings.login_limits;
        Ok(AppState {
            inner: Arc::new(Inner {
                hasher: PasswordHasher::new(settings.password_params.clone()),
                account_failures: RateLimiter::new(limits.per_account, limits.window),
                address_failures: RateLimiter::new(limits.per_address, limits.window),
                gift_misses: RateLimiter::new(GIFT_MISSES_PER_WINDOW, GIFT_MISS_WINDOW),
                db,
                settings,
                card_key,
            }),
        })
    }

    pub(crate) fn settings(&self) -> &SiteSettings {
        &self.inner.settings
    }

    pub(crate) fn card_key(&self) -> &CardKey {
        &self.inner.card_key
    }

    pub(crate) fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    pub(crate) fn account_failures(&self) -> &RateLimiter {
        &self.inner.account_failures
    }

    pub(crate) fn address_failures(&self) -> &RateLimiter {
        &self.inner.address_failures
    }

    pub(crate) fn gift_misses(&self) -> &RateLimiter {
        &self.inner.gift_misses
    }

    /// Runs blocking database work on the blocking pool with a pooled connection.
    pub(crate) async fn db<T, F>(&self, work: F) -> Result<T, SiteError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PooledConnection, &AppState) -> Result<T, SiteError> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = state.inner.db.conn()?;
            work(&mut conn, &state)
        })
        .await
        .map_err(|e| SiteError::internal(anyhow::Error::new(e).context("a database task died")))?
    }

    /// Whether the session cookie of this request gets the `Secure` flag.
    pub(crate) fn cookie_is_secure(&self, headers: &HeaderMap) -> bool {
        let settings = &self.inner.settings;
        settings.secure_cookies
            || (settings.trust_proxy
                && headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("https")))
    }
}
