//! `verify`: the checks an operator runs to trust a data directory.

use std::fs;
use std::io::Read;

use rusqlite::{Connection, OpenFlags};

use crate::connection::open_keyed;
use crate::datadir::DataDir;
use crate::error::StoreError;
use crate::migrate::pending_migrations;
use crate::unlock::OpenedStore;

#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub checks: Vec<Check>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    fn push(&mut self, name: &'static str, ok: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            ok,
            detail: detail.into(),
        });
    }
}

/// Runs every check on an opened store (the keyring has already been read, its checksum and
/// MAC checked and a slot opened, or `open_store` would have failed).
pub fn verify(dir: &DataDir, store: &OpenedStore) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport::default();
    let slots = store.keyring.slots();
    report.push(
        "keyring",
        true,
        format!(
            "{} keyslot(s), checksum and MAC valid, opened with '{}'",
            slots.len(),
            store.keyring.unlocked_with()
        ),
    );
    match open_keyed(&dir.db_path(), &store.data_key, OpenFlags::default()) {
        Ok(conn) => {
            report.push("data key", true, "opens the database");
            let cipher = cipher_problems(&conn)?;
            report.push(
                "cipher_integrity_check",
                cipher.is_empty(),
                if cipher.is_empty() {
                    "every page's HMAC verifies".to_string()
                } else {
                    cipher.join("; ")
                },
            );
            let sqlite = sqlite_problems(&conn)?;
            report.push(
                "integrity_check",
                sqlite.is_empty(),
                if sqlite.is_empty() {
                    "ok".to_string()
                } else {
                    sqlite.join("; ")
                },
            );
            let pending = pending_migrations(&conn)?;
            report.push(
                "schema",
                pending == 0,
                if pending == 0 {
                    "up to date".to_string()
                } else {
                    format!("{pending} migration(s) pending; run `cardsgalore migrate`")
                },
            );
        }
        Err(e) => report.push("data key", false, e.to_string()),
    }
    let plaintext = plaintext_files(dir)?;
    report.push(
        "no plaintext database files",
        plaintext.is_empty(),
        if plaintext.is_empty() {
            "no file in the data directory has a plaintext SQLite header".to_string()
        } else {
            format!("plaintext SQLite header in: {}", plaintext.join(", "))
        },
    );
    Ok(report)
}

/// Problems found by both page-level (HMAC) and b-tree integrity checks; empty when sound.
pub(crate) fn integrity_problems(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut problems = cipher_problems(conn)?;
    problems.extend(sqlite_problems(conn)?);
    Ok(problems)
}

fn cipher_problems(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare("PRAGMA cipher_integrity_check")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn sqlite_problems(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let rows: Vec<String> = rows.collect::<Result<_, _>>()?;
    Ok(rows.into_iter().filter(|r| r != "ok").collect())
}

fn plaintext_files(dir: &DataDir) -> Result<Vec<String>, StoreError> {
    let mut found = Vec::new();
    let entries = fs::read_dir(dir.root()).map_err(StoreError::io(dir.root()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let mut head = [0u8; 16];
        let read = fs::File::open(&path).and_then(|mut f| f.read(&mut head));
        if matches!(read, Ok(16)) && &head == b"SQLite format 3\0" {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(found)
}
