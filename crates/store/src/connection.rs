//! The one way to open a connection, and the pool built on it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cardsgalore_keyring::DataKey;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use zeroize::Zeroizing;

use crate::error::StoreError;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Opens (or creates) the database at `path` with the data key: the raw key is the very first
/// statement, then a cheap check that the key opens the file (no key derivation runs), then
/// the pragmas every connection uses.
pub fn open_connection(path: &Path, key: &DataKey) -> Result<Connection, StoreError> {
    let mut conn = open_keyed(path, key, OpenFlags::default())?;
    for pragma in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA foreign_keys = ON",
        "PRAGMA temp_store = MEMORY",
        "PRAGMA cache_size = -32768",
    ] {
        run_pragma(&conn, pragma)?;
    }
    conn.busy_handler(Some(wait_for_lock))?;
    Ok(conn)
}

/// SQLite's own busy timeout sleeps in steps that grow to 100 ms, so under many concurrent
/// writers a waiting transaction wakes up long after the lock was freed (p99 latency of a
/// purchase was ~80 ms at 8 clients). Poll finely at first instead, for up to about 10 s.
fn wait_for_lock(attempt: i32) -> bool {
    let pause = match attempt {
        0..=199 => Duration::from_micros(50),
        200..=1199 => Duration::from_micros(500),
        1200..=2099 => Duration::from_millis(10),
        _ => return false,
    };
    std::thread::sleep(pause);
    true
}

/// Opens with the key and checks it, without changing any setting of the file.
pub(crate) fn open_keyed(
    path: &Path,
    key: &DataKey,
    flags: OpenFlags,
) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags)?;
    let statement = Zeroizing::new(format!("PRAGMA key = \"{}\"", key.sqlcipher_key().as_str()));
    run_pragma(&conn, &statement)?;
    run_pragma(&conn, "PRAGMA cipher_log_level = NONE")?;
    check_key(&conn, path)?;
    Ok(conn)
}

/// Reads page 1: fails with a clear error when the key does not open the file.
pub(crate) fn check_key(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::NotADatabase => {
            if has_plaintext_header(path) {
                Err(StoreError::Plaintext(path.to_path_buf()))
            } else {
                Err(StoreError::WrongDataKey(path.to_path_buf()))
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// True when the file starts with the plaintext SQLite magic.
pub(crate) fn has_plaintext_header(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|()| &head == SQLITE_MAGIC)
        .unwrap_or(false)
}

/// Runs a statement and discards any rows it returns (pragmas answer with rows).
pub(crate) fn run_pragma(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// Opens connections for the pool with [`open_connection`].
pub struct ConnectionManager {
    path: PathBuf,
    key: DataKey,
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = Connection;
    type Error = StoreError;

    fn connect(&self) -> Result<Connection, StoreError> {
        open_connection(&self.path, &self.key)
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), StoreError> {
        conn.execute_batch("")?;
        Ok(())
    }

    fn has_broken(&self, _conn: &mut Connection) -> bool {
        false
    }
}

pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// A pool of keyed connections to one database. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<ConnectionManager>,
    path: PathBuf,
}

impl Database {
    /// Opens a pool of at most `max_size` connections. The first connection is opened (and the
    /// key checked) before this returns.
    pub fn open(path: &Path, key: DataKey, max_size: u32) -> Result<Database, StoreError> {
        // Check the key on a connection of our own first, so a wrong key gives its clear error
        // rather than a pool time-out.
        drop(open_connection(path, &key)?);
        let manager = ConnectionManager {
            path: path.to_path_buf(),
            key,
        };
        let pool = r2d2::Pool::builder()
            .max_size(max_size.max(1))
            .min_idle(Some(1))
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(30))
            .build(manager)?;
        Ok(Database {
            pool,
            path: path.to_path_buf(),
        })
    }

    pub fn conn(&self) -> Result<PooledConnection, StoreError> {
        Ok(self.pool.get()?)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
