//! The `cards` table. A card belongs to one user (`user_id`, the owner) and is used once.

use rusqlite::{Connection, OptionalExtension, Row};

use crate::error::StoreError;

#[derive(Clone, Debug)]
pub struct CardRow {
    pub id: i64,
    pub data: Vec<u8>,
    pub product_id: i64,
    pub amount: i64,
    pub user_id: i64,
    pub used: bool,
    pub signature: String,
    pub legacy: bool,
    pub created_at: String,
}

pub struct NewCard<'a> {
    /// An explicit id (adoption of legacy cards); `None` for a new card.
    pub id: Option<i64>,
    pub data: &'a [u8],
    pub product_id: i64,
    pub amount: i64,
    pub user_id: i64,
    pub signature: &'a str,
    pub used: bool,
    pub legacy: bool,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<CardRow> {
    Ok(CardRow {
        id: row.get(0)?,
        data: row.get(1)?,
        product_id: row.get(2)?,
        amount: row.get(3)?,
        user_id: row.get(4)?,
        used: row.get(5)?,
        signature: row.get(6)?,
        legacy: row.get(7)?,
        created_at: row.get(8)?,
    })
}

const COLUMNS: &str = "id, data, product_id, amount, user_id, used, signature, legacy, created_at";

pub fn insert(conn: &Connection, card: &NewCard<'_>) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO cards (id, data, product_id, amount, user_id, used, signature, legacy)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute((
        card.id,
        card.data,
        card.product_id,
        card.amount,
        card.user_id,
        card.used,
        card.signature,
        card.legacy,
    ))
    .map_err(|e| {
        if StoreError::is_unique_violation(&e) {
            StoreError::Conflict("a card with the same data or signature already exists".into())
        } else {
            e.into()
        }
    })?;
    Ok(conn.last_insert_rowid())
}

/// The owner's cards, newest first, used ones included.
pub fn list_for_user(conn: &Connection, user_id: i64) -> Result<Vec<CardRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM cards WHERE user_id = ?1 ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map([user_id], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<CardRow>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM cards WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn find_by_signature(
    conn: &Connection,
    signature: &str,
) -> Result<Option<CardRow>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM cards WHERE signature = ?1"))?
        .query_row([signature], from_row)
        .optional()?)
}

/// A card adopted from the legacy site, matched by its exact bytes.
pub fn find_legacy_by_data(conn: &Connection, data: &[u8]) -> Result<Option<CardRow>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM cards WHERE data = ?1 AND legacy = 1"
        ))?
        .query_row([data], from_row)
        .optional()?)
}

/// Marks a card used if, and only if, it belongs to `user_id` and is unused. Returns whether
/// it did; the check and the change are one statement, so a card cannot be used twice.
pub fn mark_used(conn: &Connection, id: i64, user_id: i64) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached("UPDATE cards SET used = 1 WHERE id = ?1 AND user_id = ?2 AND used = 0")?
        .execute((id, user_id))?;
    Ok(changed == 1)
}

pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM cards", [], |r| r.get(0))?)
}
