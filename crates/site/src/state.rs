//! The settings the binary passes in, and the one shared state of every request.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use cardsgalore_cards::users::{Params, PasswordHasher};
use cardsgalore_cards::CardKey;
use cardsgalore_store::PooledConnection;
use cardsgalore_vault::{Unsealed, Vault};
use rand::RngCore;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use zeroize::Zeroizing;

use crate::error::SiteError;
use crate::metrics::Metrics;
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

/// Shared state of the site: cheap to clone. Inside a database task it also carries the
/// unsealed keys the task runs with.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    unsealed: Option<Arc<Unsealed>>,
}

struct Inner {
    vault: Arc<Vault>,
    settings: SiteSettings,
    hasher: PasswordHasher,
    metrics: Metrics,
    /// Signs the admin forms' CSRF tokens (those pages work while sealed, without sessions).
    admin_form_key: Zeroizing<[u8; 32]>,
    unseal_attempts: RateLimiter,
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

/// Begins a transaction that takes the write lock at once. A deferred transaction that reads
/// first fails immediately with SQLITE_BUSY(_SNAPSHOT) when another writer commits meanwhile
/// (no busy handler can help it); taking the lock up front waits for it instead.
pub(crate) fn immediate(conn: &mut Connection) -> Result<Transaction<'_>, SiteError> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

/// Unseal attempts one client address may make per window through the admin page.
const UNSEAL_ATTEMPTS_PER_WINDOW: u32 = 10;
const UNSEAL_WINDOW: Duration = Duration::from_secs(15 * 60);

impl AppState {
    /// The state of a site whose keys live in `vault` (sealed or not).
    pub fn new(vault: Arc<Vault>, settings: SiteSettings) -> AppState {
        let limits = settings.login_limits;
        let mut admin_form_key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(admin_form_key.as_mut());
        AppState {
            inner: Arc::new(Inner {
                hasher: PasswordHasher::new(settings.password_params.clone()),
                account_failures: RateLimiter::new(limits.per_account, limits.window),
                address_failures: RateLimiter::new(limits.per_address, limits.window),
                gift_misses: RateLimiter::new(GIFT_MISSES_PER_WINDOW, GIFT_MISS_WINDOW),
                unseal_attempts: RateLimiter::new(UNSEAL_ATTEMPTS_PER_WINDOW, UNSEAL_WINDOW),
                metrics: Metrics::default(),
                admin_form_key,
                vault,
                settings,
            }),
            unsealed: None,
        }
    }

    pub(crate) fn vault(&self) -> &Arc<Vault> {
        &self.inner.vault
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn admin_form_key(&self) -> &[u8; 32] {
        &self.inner.admin_form_key
    }

    pub(crate) fn unseal_attempts(&self) -> &RateLimiter {
        &self.inner.unseal_attempts
    }

    pub(crate) fn settings(&self) -> &SiteSettings {
        &self.inner.settings
    }

    /// The card signing key; only inside a database task (the shop is unsealed there).
    pub(crate) fn card_key(&self) -> Result<&CardKey, SiteError> {
        self.unsealed
            .as_ref()
            .map(|u| &u.card_key)
            .ok_or_else(SiteError::sealed)
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

    /// Runs blocking database work on the blocking pool with a pooled connection. While the
    /// shop is sealed this fails with the maintenance page.
    pub(crate) async fn db<T, F>(&self, work: F) -> Result<T, SiteError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PooledConnection, &AppState) -> Result<T, SiteError> + Send + 'static,
    {
        let unsealed = self.inner.vault.current().ok_or_else(SiteError::sealed)?;
        let state = AppState {
            inner: self.inner.clone(),
            unsealed: Some(unsealed),
        };
        let result = tokio::task::spawn_blocking(move || {
            let db = &state.unsealed.as_ref().ok_or_else(SiteError::sealed)?.db;
            let mut conn = db.conn()?;
            work(&mut conn, &state)
        })
        .await
        .map_err(|e| SiteError::internal(anyhow::Error::new(e).context("a database task died")))?;
        if let Err(e) = &result {
            if e.status().is_server_error() {
                self.inner.metrics.database_error();
            }
        }
        result
    }

    /// Runs a user-facing change as one transaction that takes the write lock up front, and
    /// commits it when `work` succeeds.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, SiteError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &AppState) -> Result<T, SiteError> + Send + 'static,
    {
        self.db(move |conn, state| {
            let tx = immediate(conn)?;
            let value = work(&tx, state)?;
            tx.commit()?;
            Ok(value)
        })
        .await
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
