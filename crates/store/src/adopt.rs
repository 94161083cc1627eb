//! `adopt`: a new data directory built from an existing legacy database, either a plaintext
//! SQLite file in the Django layout (`LegacySite_user`, `LegacySite_product`,
//! `LegacySite_card`) or the same keyed directly with a passphrase in SQLCipher 4. The source
//! is opened read-only and never modified.

use std::path::Path;

use cardsgalore_keyring::KdfParams;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::connection::{has_plaintext_header, run_pragma};
use crate::datadir::DataDir;
use crate::error::StoreError;
use crate::repo::cards::{self, NewCard};
use crate::repo::products::{self, Product};
use crate::repo::users;
use crate::unlock::create_store;

pub enum AdoptSource<'a> {
    Plaintext(&'a Path),
    /// A SQLCipher 4 file keyed with `PRAGMA key = '<passphrase>'`.
    Passphrase(&'a Path, &'a SecretString),
}

#[derive(Debug, Default)]
pub struct AdoptReport {
    pub users: u64,
    pub products: u64,
    pub cards: u64,
}

const LEGACY_TABLES: [&str; 3] = ["LegacySite_user", "LegacySite_product", "LegacySite_card"];

/// Creates the data directory `dir` (first keyslot `label`) holding the users, products and
/// cards of the legacy database.
pub fn adopt(
    source: AdoptSource<'_>,
    dir: &DataDir,
    label: &str,
    passphrase: &SecretString,
    kdf: KdfParams,
) -> Result<AdoptReport, StoreError> {
    let src = open_source(&source)?;
    let mut report = AdoptReport::default();
    create_store(dir, label, passphrase, kdf, |conn| {
        let tx = conn.transaction()?;
        copy_rows(&src, &tx, &mut report)?;
        tx.commit()?;
        Ok(())
    })?;
    Ok(report)
}

fn open_source(source: &AdoptSource<'_>) -> Result<Connection, StoreError> {
    let path = match source {
        AdoptSource::Plaintext(p) | AdoptSource::Passphrase(p, _) => *p,
    };
    if !path.is_file() {
        return Err(StoreError::Invalid(format!(
            "{}: no such file",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    match source {
        AdoptSource::Plaintext(_) => {
            if !has_plaintext_header(path) {
                return Err(StoreError::Invalid(format!(
                    "{} is not a plaintext SQLite file; if it is a SQLCipher database keyed with a passphrase, pass --from-passphrase",
                    path.display()
                )));
            }
        }
        AdoptSource::Passphrase(_, secret) => {
            conn.pragma_update(None, "key", secret.expose_secret())?;
            run_pragma(&conn, "PRAGMA cipher_log_level = NONE")?;
        }
    }
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::NotADatabase => {
            return Err(StoreError::Invalid(format!(
                "the source passphrase does not open {}, or it is not a SQLCipher 4 database",
                path.display()
            )));
        }
        Err(e) => return Err(e.into()),
    }
    for table in LEGACY_TABLES {
        let found: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )?;
        if found == 0 {
            return Err(StoreError::Invalid(format!(
                "{} has no table {table}: it is not a legacy Cards Galore database",
                path.display()
            )));
        }
    }
    Ok(conn)
}

fn copy_rows(
    src: &Connection,
    dst: &Connection,
    report: &mut AdoptReport,
) -> Result<(), StoreError> {
    let mut stmt = src.prepare(
        "SELECT product_id, product_name, product_image_path, recommended_price, description
         FROM LegacySite_product ORDER BY product_id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        products::insert(
            dst,
            &Product {
                product_id: r.get(0)?,
                product_name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                product_image_path: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                recommended_price: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                description: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
            },
        )?;
        report.products += 1;
    }

    let mut stmt =
        src.prepare("SELECT id, username, password, last_login FROM LegacySite_user ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let last_login = match r.get_ref(3)? {
            ValueRef::Null => None,
            ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
            other => Some(format!("{other:?}")),
        };
        users::insert(
            dst,
            Some(r.get(0)?),
            &r.get::<_, String>(1)?,
            &r.get::<_, String>(2)?,
            last_login.as_deref(),
        )?;
        report.users += 1;
    }

    let mut stmt = src.prepare(
        "SELECT id, data, product_id, amount, user_id, used FROM LegacySite_card ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let data = match r.get_ref(1)? {
            ValueRef::Text(t) | ValueRef::Blob(t) => t.to_vec(),
            _ => Vec::new(),
        };
        let signature = legacy_signature(&data)
            .filter(|s| cards::find_by_signature(dst, s).ok().flatten().is_none())
            .unwrap_or_else(|| hex::encode(Sha256::digest(&data)));
        cards::insert(
            dst,
            &NewCard {
                id: Some(r.get(0)?),
                data: &data,
                product_id: r.get(2)?,
                amount: r.get(3)?,
                user_id: r.get(4)?,
                signature: &signature,
                used: r.get::<_, Option<bool>>(5)?.unwrap_or(false),
                legacy: true,
            },
        )?;
        report.cards += 1;
    }
    Ok(())
}

/// `records[0].signature` of a legacy JSON card, if it has one.
fn legacy_signature(data: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(data).ok()?;
    let sig = value.get("records")?.get(0)?.get("signature")?.as_str()?;
    (!sig.is_empty()).then(|| sig.to_string())
}
