//! The `settings` table: server secrets and options that live inside the encrypted database.

use rand::RngCore;
use rusqlite::{Connection, OptionalExtension};
use zeroize::Zeroizing;

use crate::error::StoreError;

const CARD_KEY: &str = "card_hmac_key";

/// The key cards are signed with, created on first use. It never leaves the database except
/// in memory of the running site.
pub fn card_key(conn: &Connection) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let mut fresh = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(fresh.as_mut());
    conn.prepare_cached("INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)")?
        .execute((CARD_KEY, &fresh[..]))?;
    let stored: Zeroizing<Vec<u8>> = Zeroizing::new(
        conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([CARD_KEY], |r| r.get(0))
            .optional()?
            .unwrap_or_default(),
    );
    let key: [u8; 32] = stored
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Invalid("the stored card signing key is damaged".into()))?;
    Ok(Zeroizing::new(key))
}
