//! Schema migrations, embedded in the binary. Applied versions are recorded in a table (not in
//! `user_version`, which `sqlcipher_export` drops), so migrations keep working however the
//! database was created or copied.

use rusqlite::{Connection, OptionalExtension};

use crate::error::StoreError;

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial",
    sql: include_str!("../migrations/0001_initial.sql"),
}];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))";

/// Applies every pending migration, each in its own transaction. Returns the names applied.
pub fn migrate(conn: &mut Connection) -> Result<Vec<String>, StoreError> {
    conn.execute(CREATE_TABLE, [])?;
    let current = schema_version(conn)?;
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
            (m.version, m.name),
        )?;
        tx.commit()?;
        applied.push(format!("{:04}_{}", m.version, m.name));
    }
    Ok(applied)
}

/// The highest applied migration, 0 for an empty database.
pub fn schema_version(conn: &Connection) -> Result<i64, StoreError> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(0);
    }
    Ok(conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?)
}

/// How many embedded migrations the database has not applied yet.
pub fn pending_migrations(conn: &Connection) -> Result<usize, StoreError> {
    let current = schema_version(conn)?;
    Ok(MIGRATIONS.iter().filter(|m| m.version > current).count())
}
