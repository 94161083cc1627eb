//! The `users` table.

use rusqlite::{Connection, OptionalExtension, Row};

use crate::error::StoreError;

#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// Argon2id PHC string or legacy `salt$sha256` record. Not a secret in itself, but never
    /// shown or logged.
    pub password: String,
    pub last_login: Option<String>,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        password: row.get(2)?,
        last_login: row.get(3)?,
    })
}

const COLUMNS: &str = "id, username, password, last_login";

pub fn find_by_username(conn: &Connection, username: &str) -> Result<Option<User>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE username = ?1"))?
        .query_row([username], from_row)
        .optional()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<User>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// Creates a user; a taken username is a `Conflict`.
pub fn create(conn: &Connection, username: &str, password: &str) -> Result<i64, StoreError> {
    insert(conn, None, username, password, None)
}

/// Inserts a user with an explicit id (import, adoption) or a new one.
pub fn insert(
    conn: &Connection,
    id: Option<i64>,
    username: &str,
    password: &str,
    last_login: Option<&str>,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO users (id, username, password, last_login) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute((id, username, password, last_login))
    .map_err(|e| {
        if StoreError::is_unique_violation(&e) {
            StoreError::Conflict(format!("the username '{username}' is already taken"))
        } else {
            e.into()
        }
    })?;
    Ok(conn.last_insert_rowid())
}

pub fn update_password(conn: &Connection, id: i64, password: &str) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE users SET password = ?2 WHERE id = ?1")?
        .execute((id, password))?;
    Ok(())
}

/// Overwrites the password record and last login of an existing username (CSV import).
pub fn update_by_username(
    conn: &Connection,
    username: &str,
    password: &str,
    last_login: Option<&str>,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE users SET password = ?2, last_login = ?3 WHERE username = ?1")?
        .execute((username, password, last_login))?;
    Ok(())
}

pub fn touch_last_login(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE users SET last_login = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = ?1",
    )?
    .execute([id])?;
    Ok(())
}

pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?)
}
