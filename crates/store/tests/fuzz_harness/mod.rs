//! The checks behind the `csv_import` fuzz target (fuzz/fuzz_targets/), shared with
//! `tests/fuzz_corpus.rs`, which replays the committed corpus on stable in CI.
//!
//! One keyed SQLCipher database (fixed data key, migrated, holding the legacy seed rows so the
//! conflict paths are reachable) is opened once per process. Every input is imported as a dry
//! run, which rolls back, so each run sees the same database and a crash always reproduces.
//!
//! Input layout: byte 0 holds flags (bit 0: a products file, bit 1: a users file, bits 2-3:
//! on-conflict error/skip/update/error); the rest is the products CSV, then a 0xFF byte, then
//! the users CSV.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use cardsgalore_keyring::DataKey;
use cardsgalore_store::{import_csv, migrate, open_connection, ImportOptions, OnConflict};
use rusqlite::Connection;
use tempfile::TempDir;

const SEED_PRODUCTS: &str = include_str!("../../../../seed/products.csv");
const SEED_USERS: &str = include_str!("../../../../seed/users.csv");

struct Fixture {
    conn: Connection,
    products: PathBuf,
    users: PathBuf,
    /// Row counts of the seeded database, which no dry run may change.
    counts: (i64, i64),
    _dir: TempDir,
}

fn fixture() -> &'static Mutex<Fixture> {
    static FIXTURE: OnceLock<Mutex<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let products = dir.path().join("products.csv");
        let users = dir.path().join("users.csv");
        let mut conn = open_connection(
            &dir.path().join("fuzz.db"),
            &DataKey::from_bytes([0x42; 32]),
        )
        .expect("open the database");
        migrate(&mut conn).expect("migrate");
        std::fs::write(&products, SEED_PRODUCTS).expect("write seed");
        std::fs::write(&users, SEED_USERS).expect("write seed");
        import_csv(
            &mut conn,
            Some(&products),
            Some(&users),
            ImportOptions::default(),
            &mut |_, _| {},
        )
        .expect("the seed files import");
        let counts = counts(&conn);
        Mutex::new(Fixture {
            conn,
            products,
            users,
            counts,
            _dir: dir,
        })
    })
}

fn counts(conn: &Connection) -> (i64, i64) {
    let count = |table: &str| {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count rows")
    };
    (count("products"), count("users"))
}

/// `csv_import`: import the CSV files encoded in `data` (see the module docs) as a dry run.
pub fn csv_import(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (products_csv, users_csv) = match rest.iter().position(|&b| b == 0xff) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let on_conflict = match (flags >> 2) & 3 {
        1 => OnConflict::Skip,
        2 => OnConflict::Update,
        _ => OnConflict::Error,
    };
    let mut fixture = fixture()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let fixture = &mut *fixture;
    std::fs::write(&fixture.products, products_csv).expect("write input");
    std::fs::write(&fixture.users, users_csv).expect("write input");
    let result = import_csv(
        &mut fixture.conn,
        (flags & 1 != 0).then_some(fixture.products.as_path()),
        (flags & 2 != 0).then_some(fixture.users.as_path()),
        ImportOptions {
            on_conflict,
            dry_run: true,
        },
        &mut |done, total| assert!(done <= total, "progress {done} of {total}"),
    );
    if let Err(error) = &result {
        // Every error names its cause; none is empty.
        assert!(!error.to_string().is_empty());
    }
    assert_eq!(
        counts(&fixture.conn),
        fixture.counts,
        "a dry run changed the database"
    );
    assert!(
        fixture.conn.is_autocommit(),
        "the import left a transaction open"
    );
}
