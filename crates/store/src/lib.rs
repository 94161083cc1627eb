//! The encrypted store of Cards Galore: one SQLCipher 4 database per data directory.
//!
//! This crate owns the data directory layout, the one function that opens a connection
//! ([`open_connection`]: raw data key first, then a key check, then pragmas), the connection
//! pool, schema migrations, the queries of each aggregate ([`repo`]), and the whole-database
//! operations: CSV import, key rotation, backup and restore, adoption of legacy databases and
//! verification. Keys come from `cardsgalore-keyring`; this crate never sees a passphrase
//! except to hand it to the keyring, and never prints or logs key material.

mod adopt;
mod audit;
mod backup;
mod catalog;
mod connection;
mod datadir;
mod error;
mod import;
mod migrate;
pub mod repo;
mod rotate;
mod sql;
mod unlock;
mod verify;

pub use adopt::{adopt, AdoptReport, AdoptSource};
pub use audit::{AuditEvent, AuditLog, AuditReport};
pub use backup::{backup, restore, BackupReport};
pub use catalog::load_catalog;
pub use connection::{open_connection, Database, PooledConnection};
pub use datadir::{DataDir, DirLock};
pub use error::StoreError;
pub use import::{import_csv, ImportOptions, ImportReport, OnConflict};
pub use migrate::{migrate, pending_migrations, schema_version};
pub use rotate::{rotate_key, RotateReport};
pub use sql::run_sql;
pub use unlock::{create_store, open_store, OpenedStore};
pub use verify::{verify, Check, VerifyReport};

/// A progress callback: `(done, total)` in the operation's own unit (pages or bytes).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// The current UTC time as RFC 3339, to the second.
pub fn now_text() -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}
