//! Backups: a consistent encrypted copy of the database plus the keyring, in a directory with
//! a manifest of checksums; and restoring one into an empty data directory.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::Path;

use cardsgalore_keyring::{fsync_dir, DataKey, Keyring, KEYRING_FILE};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::connection::{open_connection, open_keyed};
use crate::datadir::{
    create_private_file, make_private_dir, remove_stale_siblings, temp_sibling, DataDir,
};
use crate::error::StoreError;
use crate::migrate::schema_version;
use crate::verify::integrity_problems;

const DB_FILE: &str = "cardsgalore.db";
const MANIFEST: &str = "manifest.json";
const FORMAT: &str = "cardsgalore-backup";

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    created: String,
    schema_version: i64,
    /// File name → SHA-256 (hex).
    files: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct BackupReport {
    pub bytes: u64,
    pub schema_version: i64,
}

/// Writes a backup of `dir` to the new directory `out`. Safe while the site runs: the copy is
/// one read transaction (`VACUUM INTO`), encrypted with the same key. The caller holds the
/// shared lock, so the key cannot rotate meanwhile.
pub fn backup(dir: &DataDir, key: &DataKey, out: &Path) -> Result<BackupReport, StoreError> {
    if out.exists() {
        return Err(StoreError::Invalid(format!(
            "{} already exists; choose a new backup path",
            out.display()
        )));
    }
    remove_stale_siblings(out, "partial");
    let staging = temp_sibling(out, "partial");
    let result = (|| {
        make_private_dir(&staging)?;
        let conn = open_connection(&dir.db_path(), key)?;
        let db_copy = staging.join(DB_FILE);
        let target = db_copy
            .to_str()
            .ok_or_else(|| StoreError::Invalid("the backup path must be valid UTF-8".into()))?;
        create_private_file(&db_copy)?;
        conn.execute("VACUUM INTO ?1", [target])?;
        let version = schema_version(&conn)?;
        drop(conn);
        let keyring = fs::read(dir.keyring_path()).map_err(StoreError::io(dir.keyring_path()))?;
        let keyring_copy = staging.join(KEYRING_FILE);
        cardsgalore_keyring::write_file_atomically(&keyring_copy, &keyring, 0o600)
            .map_err(StoreError::io(&keyring_copy))?;

        let mut files = BTreeMap::new();
        for name in [DB_FILE, KEYRING_FILE] {
            let path = staging.join(name);
            files.insert(name.to_string(), sha256_file(&path)?);
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(StoreError::io(&path))?;
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            version: 1,
            created: crate::now_text(),
            schema_version: version,
            files,
        };
        let manifest_path = staging.join(MANIFEST);
        let text =
            serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Invalid(e.to_string()))?;
        cardsgalore_keyring::write_file_atomically(&manifest_path, &text, 0o600)
            .map_err(StoreError::io(&manifest_path))?;
        fs::rename(&staging, out).map_err(StoreError::io(out))?;
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            fsync_dir(parent).map_err(StoreError::io(parent))?;
        }
        let bytes = fs::metadata(out.join(DB_FILE))
            .map_err(StoreError::io(out.join(DB_FILE)))?
            .len();
        Ok(BackupReport {
            bytes,
            schema_version: version,
        })
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

/// Restores the backup at `from` into the empty (or missing) data directory `dir`, after
/// checking the manifest, unlocking the backup's keyring with `passphrase` and checking every
/// page of the copy.
pub fn restore(from: &Path, dir: &DataDir, passphrase: &SecretString) -> Result<(), StoreError> {
    let manifest_path = from.join(MANIFEST);
    let text = fs::read(&manifest_path).map_err(StoreError::io(&manifest_path))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
        StoreError::Invalid(format!(
            "{} is not a Cards Galore backup manifest: {e}",
            manifest_path.display()
        ))
    })?;
    if manifest.format != FORMAT || manifest.version != 1 {
        return Err(StoreError::Invalid(format!(
            "{}: unsupported backup format",
            manifest_path.display()
        )));
    }
    for name in [DB_FILE, KEYRING_FILE] {
        let expected = manifest.files.get(name).ok_or_else(|| {
            StoreError::Invalid(format!("{}: no entry for {name}", manifest_path.display()))
        })?;
        if &sha256_file(&from.join(name))? != expected {
            return Err(StoreError::Invalid(format!(
                "{}: checksum mismatch, the backup is damaged",
                from.join(name).display()
            )));
        }
    }
    let keyring = Keyring::load(&from.join(KEYRING_FILE))?.unlock(passphrase)?;
    let key = keyring.data_key()?;
    dir.create_with(|staging| {
        for name in [DB_FILE, KEYRING_FILE] {
            let target = staging.root().join(name);
            fs::copy(from.join(name), &target).map_err(StoreError::io(&target))?;
            File::open(&target)
                .and_then(|f| f.sync_all())
                .map_err(StoreError::io(&target))?;
        }
        let conn = open_keyed(&staging.db_path(), &key, rusqlite::OpenFlags::default())?;
        let problems = integrity_problems(&conn)?;
        if !problems.is_empty() {
            return Err(StoreError::Invalid(format!(
                "the backup's database fails its integrity check: {}",
                problems.join("; ")
            )));
        }
        Ok(())
    })
}

fn sha256_file(path: &Path) -> Result<String, StoreError> {
    let mut file = File::open(path).map_err(StoreError::io(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(StoreError::io(path))?;
    Ok(hex::encode(hasher.finalize()))
}
