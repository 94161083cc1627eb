//! The vault: sealed (no key in memory) or unsealed (keyed pool + card signing key).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use cardsgalore_cards::CardKey;
use cardsgalore_keyring::{Keyring, KeyringError, SlotKind};
use cardsgalore_store::repo::settings;
use cardsgalore_store::{
    migrate, open_store, schema_version, AuditEvent, AuditLog, DataDir, Database, StoreError,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// What the shop needs while it serves: dropped (and its keys zeroized) on seal.
pub struct Unsealed {
    pub db: Database,
    pub card_key: CardKey,
}

#[derive(Debug, thiserror::Error)]
pub enum UnsealError {
    #[error("wrong passphrase: it opens no keyslot")]
    WrongPassphrase,
    #[error("too many failed attempts; try again in {0} s")]
    TooSoon(u64),
    #[error("the shop is already unsealed")]
    AlreadyUnsealed,
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Counters exported on `/metrics`.
#[derive(Default)]
pub struct VaultCounters {
    pub unseal_attempts: AtomicU64,
    pub unseal_failures: AtomicU64,
}

/// What `cardsgalore status` shows: never a secret.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    pub sealed: bool,
    pub slots: Vec<String>,
    pub last_unseal: Option<LastUnseal>,
    pub database_bytes: u64,
    pub schema_version: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LastUnseal {
    pub at: String,
    pub slot: String,
    pub channel: String,
}

struct Backoff {
    failures: u32,
    not_before: Option<Instant>,
}

pub struct Vault {
    dir: DataDir,
    pool_size: u32,
    state: RwLock<Option<Arc<Unsealed>>>,
    unsealing: Mutex<()>,
    backoff: Mutex<Backoff>,
    last_unseal: Mutex<Option<LastUnseal>>,
    pub counters: VaultCounters,
}

/// Failures allowed before waits start; waits then double up to `MAX_WAIT`.
const FREE_FAILURES: u32 = 3;
const MAX_WAIT: Duration = Duration::from_secs(60);

impl Vault {
    /// A sealed vault for the data directory `dir`.
    pub fn new(dir: DataDir, pool_size: u32) -> Vault {
        Vault {
            dir,
            pool_size,
            state: RwLock::new(None),
            unsealing: Mutex::new(()),
            backoff: Mutex::new(Backoff {
                failures: 0,
                not_before: None,
            }),
            last_unseal: Mutex::new(None),
            counters: VaultCounters::default(),
        }
    }

    pub fn data_dir(&self) -> &DataDir {
        &self.dir
    }

    /// The unsealed state, or `None` while sealed.
    pub fn current(&self) -> Option<Arc<Unsealed>> {
        self.state.read().map(|s| s.clone()).unwrap_or(None)
    }

    pub fn is_sealed(&self) -> bool {
        self.current().is_none()
    }

    /// Unseals with a passphrase or recovery code: unlocks the keyring (one Argon2id run per
    /// slot tried), opens the pool, applies pending migrations and loads the card key.
    /// Blocking: run it off the async executor. `channel` and `peer` go to the audit log.
    pub fn unseal(
        &self,
        passphrase: &SecretString,
        channel: &str,
        peer: &str,
    ) -> Result<String, UnsealError> {
        let _one_at_a_time = self.unsealing.lock().unwrap_or_else(|e| e.into_inner());
        if !self.is_sealed() {
            return Err(UnsealError::AlreadyUnsealed);
        }
        if let Some(wait) = self.wait_left() {
            return Err(UnsealError::TooSoon(wait.as_secs().max(1)));
        }
        self.counters
            .unseal_attempts
            .fetch_add(1, Ordering::Relaxed);
        match self.open(passphrase) {
            Ok((unsealed, slot, kind)) => {
                if let Ok(mut state) = self.state.write() {
                    *state = Some(Arc::new(unsealed));
                }
                if let Ok(mut b) = self.backoff.lock() {
                    b.failures = 0;
                    b.not_before = None;
                }
                let at = cardsgalore_store::now_text();
                if let Ok(mut last) = self.last_unseal.lock() {
                    *last = Some(LastUnseal {
                        at,
                        slot: slot.clone(),
                        channel: channel.to_string(),
                    });
                }
                self.audit(
                    AuditEvent::new("unseal", true)
                        .with("slot", slot.as_str())
                        .with("channel", channel)
                        .with("peer", peer),
                );
                if kind == SlotKind::Recovery {
                    self.audit(
                        AuditEvent::new("recovery_code_used", true).with("slot", slot.as_str()),
                    );
                }
                tracing::info!(slot = %slot, channel, "unsealed");
                Ok(slot)
            }
            Err(e) => {
                self.counters
                    .unseal_failures
                    .fetch_add(1, Ordering::Relaxed);
                if matches!(e, UnsealError::WrongPassphrase) {
                    self.record_failure();
                }
                self.audit(
                    AuditEvent::new("unseal", false)
                        .with("channel", channel)
                        .with("peer", peer)
                        .with("reason", e.to_string()),
                );
                tracing::warn!(channel, peer, "unseal failed: {e}");
                Err(e)
            }
        }
    }

    /// Drops every key from memory and closes the pool (once in-flight requests finish).
    /// Returns whether the vault was unsealed.
    pub fn seal(&self, by: &str) -> bool {
        let was = self
            .state
            .write()
            .map(|mut s| s.take().is_some())
            .unwrap_or(false);
        if was {
            self.audit(AuditEvent::new("seal", true).with("by", by));
            tracing::info!(by, "sealed");
        }
        was
    }

    pub fn status(&self) -> Status {
        let slots = Keyring::load(&self.dir.keyring_path())
            .map(|k| k.slots().into_iter().map(|s| s.label).collect())
            .unwrap_or_default();
        let current = self.current();
        let schema_version = current
            .as_ref()
            .and_then(|u| u.db.conn().ok())
            .and_then(|c| schema_version(&c).ok());
        Status {
            sealed: current.is_none(),
            slots,
            last_unseal: self.last_unseal.lock().ok().and_then(|l| l.clone()),
            database_bytes: std::fs::metadata(self.dir.db_path())
                .map(|m| m.len())
                .unwrap_or(0),
            schema_version,
        }
    }

    fn open(&self, passphrase: &SecretString) -> Result<(Unsealed, String, SlotKind), UnsealError> {
        let store = open_store(&self.dir, passphrase).map_err(|e| match e {
            StoreError::Keyring(KeyringError::WrongPassphrase) => UnsealError::WrongPassphrase,
            other => UnsealError::Store(other),
        })?;
        let slot = store.keyring.unlocked_with().to_string();
        let kind = store
            .keyring
            .slots()
            .iter()
            .find(|s| s.label == slot)
            .map(|s| s.kind)
            .unwrap_or(SlotKind::Passphrase);
        let db = Database::open(&self.dir.db_path(), store.data_key, self.pool_size)?;
        let card_key = {
            let mut conn = db.conn()?;
            migrate(&mut conn)?;
            CardKey::from_bytes(*settings::card_key(&conn)?)
        };
        Ok((Unsealed { db, card_key }, slot, kind))
    }

    fn wait_left(&self) -> Option<Duration> {
        let b = self.backoff.lock().ok()?;
        let until = b.not_before?;
        until.checked_duration_since(Instant::now())
    }

    fn record_failure(&self) {
        if let Ok(mut b) = self.backoff.lock() {
            b.failures += 1;
            if b.failures >= FREE_FAILURES {
                let exp = (b.failures - FREE_FAILURES).min(6);
                let wait = Duration::from_secs(1 << exp).min(MAX_WAIT);
                b.not_before = Some(Instant::now() + wait);
            }
        }
    }

    fn audit(&self, event: AuditEvent<'_>) {
        if let Err(e) = AuditLog::for_dir(&self.dir).append(&event) {
            tracing::error!("cannot write the audit log: {e}");
        }
    }
}
