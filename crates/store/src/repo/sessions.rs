//! The `sessions` table: server-side sessions keyed by the SHA-256 of the cookie token.

use rusqlite::{Connection, OptionalExtension};

use crate::error::StoreError;

#[derive(Clone, Debug)]
pub struct SessionRow {
    pub user_id: Option<i64>,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn create(
    conn: &Connection,
    token_hash: &[u8; 32],
    session: &SessionRow,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute((
        &token_hash[..],
        session.user_id,
        &session.csrf_token,
        session.created_at,
        session.expires_at,
    ))?;
    Ok(())
}

/// The session for a token hash, if it exists and has not expired at `now`.
pub fn get(
    conn: &Connection,
    token_hash: &[u8; 32],
    now: i64,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT user_id, csrf_token, created_at, expires_at FROM sessions
             WHERE token_hash = ?1 AND expires_at > ?2",
        )?
        .query_row((&token_hash[..], now), |r| {
            Ok(SessionRow {
                user_id: r.get(0)?,
                csrf_token: r.get(1)?,
                created_at: r.get(2)?,
                expires_at: r.get(3)?,
            })
        })
        .optional()?)
}

pub fn delete(conn: &Connection, token_hash: &[u8; 32]) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?
        .execute([&token_hash[..]])?;
    Ok(())
}

pub fn delete_for_user(conn: &Connection, user_id: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
        .execute([user_id])?;
    Ok(())
}

/// Removes expired sessions; returns how many.
pub fn delete_expired(conn: &Connection, now: i64) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")?
        .execute([now])?)
}
