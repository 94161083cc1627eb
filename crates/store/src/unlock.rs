//! Creating a store, and opening one: unlock the keyring, then find the data key that opens
//! the database, finishing or undoing a key rotation that a crash interrupted.

use std::fs;

use cardsgalore_keyring::{DataKey, KdfParams, Keyring, UnlockedKeyring};
use rusqlite::{Connection, OpenFlags};
use secrecy::SecretString;

use crate::connection::{open_connection, open_keyed};
use crate::datadir::{create_private_file, DataDir};
use crate::error::StoreError;
use crate::migrate::migrate;
use crate::repo::settings;

/// An unlocked keyring and the data key that opens the database.
pub struct OpenedStore {
    pub keyring: UnlockedKeyring,
    pub data_key: DataKey,
}

/// Creates a new data directory: keyring with one passphrase slot, encrypted database with the
/// schema and a card signing key, then whatever `populate` adds. Built in a staging directory,
/// so nothing is left behind if any step fails.
pub fn create_store(
    dir: &DataDir,
    label: &str,
    passphrase: &SecretString,
    kdf: KdfParams,
    populate: impl FnOnce(&mut Connection) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    dir.create_with(|staging| {
        let keyring = UnlockedKeyring::create(label, passphrase, kdf)?;
        let key = keyring.data_key()?;
        create_private_file(&staging.db_path())?;
        let mut conn = open_connection(&staging.db_path(), &key)?;
        migrate(&mut conn)?;
        settings::card_key(&conn)?;
        populate(&mut conn)?;
        conn.close().map_err(|(_, e)| StoreError::from(e))?;
        keyring.save(&staging.keyring_path())?;
        Ok(())
    })
}

/// Unlocks the keyring of `dir` with a passphrase or recovery code and returns the data key
/// that opens its database. The caller holds the data directory lock.
pub fn open_store(dir: &DataDir, passphrase: &SecretString) -> Result<OpenedStore, StoreError> {
    dir.require_initialized()?;
    let mut keyring = Keyring::load(&dir.keyring_path())?.unlock(passphrase)?;
    let data_key = settle_rotation(dir, &mut keyring)?;
    Ok(OpenedStore { keyring, data_key })
}

/// A rotation is pending only if the process doing it died (it holds the exclusive lock while
/// alive). The database then opens with exactly one of the two keys: keep that one.
fn settle_rotation(dir: &DataDir, keyring: &mut UnlockedKeyring) -> Result<DataKey, StoreError> {
    let current = keyring.data_key()?;
    let Some(pending) = keyring.pending_data_key()? else {
        return Ok(current);
    };
    let db = dir.db_path();
    let key = match open_keyed(&db, &current, OpenFlags::default()) {
        Ok(_) => {
            keyring.abort_rotation();
            current
        }
        Err(StoreError::WrongDataKey(_)) => {
            open_keyed(&db, &pending, OpenFlags::default())?;
            keyring.finish_rotation();
            pending
        }
        Err(e) => return Err(e),
    };
    keyring.save(&dir.keyring_path())?;
    remove_rotation_leftovers(dir)?;
    tracing::info!("settled a key rotation that was interrupted");
    Ok(key)
}

/// Deletes partial copies left by an interrupted rotation.
pub(crate) fn remove_rotation_leftovers(dir: &DataDir) -> Result<(), StoreError> {
    let prefix = format!(
        ".{}.rotate-",
        dir.db_path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let entries = fs::read_dir(dir.root()).map_err(StoreError::io(dir.root()))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            fs::remove_file(entry.path()).map_err(StoreError::io(entry.path()))?;
        }
    }
    Ok(())
}
