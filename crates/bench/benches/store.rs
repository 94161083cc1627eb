//! Store-level benchmarks: every case runs on an encrypted store (created with `create_store`,
//! read through the `Database` pool or `open_connection`) and on a plain SQLite file with the
//! same schema, rows and pragmas, side by side in the same run. `cargo run --bin report`
//! turns the results into the ratio table of BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cardsgalore_bench::{
    card_data, cheap_kdf, open_plain, populate, run_pragma, same_settings, write_users_csv,
    Dataset, EncryptedStore, PlainStore, Rng,
};
use cardsgalore_store::repo::{cards, users};
use cardsgalore_store::{import_csv, open_connection, Database, ImportOptions};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use rusqlite::Connection;

/// Rows of the bulk-import case.
const IMPORT_USERS: u64 = 100_000;

struct Fixture {
    set: Dataset,
    enc: EncryptedStore,
    plain: PlainStore,
    db: Database,
}

fn fixture() -> Result<Fixture> {
    let set = Dataset::STANDARD;
    let started = Instant::now();
    let enc = EncryptedStore::create("store", cheap_kdf())?;
    populate(&mut enc.connect()?, set).context("populating the encrypted store")?;
    let plain = PlainStore::create("store")?;
    populate(&mut plain.connect()?, set).context("populating the plain store")?;
    let db = Database::open(&enc.db_path(), enc.key.clone(), 4).context("Database::open")?;
    same_settings(&*db.conn()?, &plain.connect()?)?;
    eprintln!(
        "fixture: {} users, {} cards, {} products in each database ({:.1} s)",
        set.users,
        set.cards,
        set.products,
        started.elapsed().as_secs_f64()
    );
    Ok(Fixture {
        set,
        enc,
        plain,
        db,
    })
}

/// Reads every page of the tables the read cases use, so "warm" means warm from the start.
fn warm(conn: &Connection) -> Result<()> {
    run_pragma(
        conn,
        "SELECT count(*), sum(length(password)), sum(length(username)) FROM users",
    )?;
    run_pragma(
        conn,
        "SELECT count(*), sum(length(data)), sum(length(signature)), sum(user_id) FROM cards",
    )?;
    Ok(())
}

fn point_read(c: &mut Criterion, f: &Fixture) -> Result<()> {
    let mut group = c.benchmark_group("point_read_user");
    let users_n = f.set.users;
    let enc = f.db.conn()?;
    warm(&enc)?;
    let plain = f.plain.connect()?;
    warm(&plain)?;
    for (name, conn) in [("encrypted", &*enc), ("plain", &plain)] {
        let mut rng = Rng::new(1);
        group.bench_function(name, |b| {
            b.iter(|| {
                let id = 1 + rng.below(users_n) as i64;
                let user = users::get(conn, black_box(id)).expect("users::get");
                black_box(user.expect("the user exists"))
            })
        });
    }
    group.finish();
    Ok(())
}

fn card_list(c: &mut Criterion, f: &Fixture) -> Result<()> {
    let mut group = c.benchmark_group("card_list_user");
    let enc = f.db.conn()?;
    warm(&enc)?;
    let plain = f.plain.connect()?;
    warm(&plain)?;
    let user = f.set.list_user;
    for (name, conn) in [("encrypted", &*enc), ("plain", &plain)] {
        assert_eq!(
            cards::list_for_user(conn, user).expect("list").len() as u64,
            f.set.list_cards
        );
        group.bench_function(name, |b| {
            b.iter(|| cards::list_for_user(conn, black_box(user)).expect("list_for_user"))
        });
    }
    group.finish();
    Ok(())
}

fn card_insert(c: &mut Criterion, f: &Fixture) -> Result<()> {
    let mut group = c.benchmark_group("card_insert_tx");
    let mut enc = f.db.conn()?;
    let mut plain = f.plain.connect()?;
    let users_n = f.set.users;
    for (name, conn) in [("encrypted", &mut *enc), ("plain", &mut plain)] {
        let mut rng = Rng::new(3);
        let mut serial = 1_000_000_000u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                serial += 1;
                let user_id = 1 + rng.below(users_n) as i64;
                let (data, signature) = card_data(serial, 1, 25, &mut rng);
                let tx = conn.transaction().expect("begin");
                let id = cards::insert(
                    &tx,
                    &cards::NewCard {
                        id: None,
                        data: &data,
                        product_id: 1,
                        amount: 25,
                        user_id,
                        signature: &signature,
                        used: false,
                        legacy: false,
                    },
                )
                .expect("cards::insert");
                tx.commit().expect("commit");
                id
            })
        });
    }
    group.finish();
    Ok(())
}

/// Opens a connection per iteration while another connection stays open (as in the pool, so
/// the WAL is not recovered or checkpointed on every open); the close is not timed.
fn open_cost(c: &mut Criterion, f: &Fixture) -> Result<()> {
    let mut group = c.benchmark_group("open_connection");
    let _keeper_enc = f.db.conn()?;
    let _keeper_plain = f.plain.connect()?;
    let enc_path = f.enc.db_path();
    let key = f.enc.key.clone();
    group.bench_function("encrypted", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let conn = open_connection(&enc_path, &key).expect("open_connection");
                total += started.elapsed();
                drop(black_box(conn));
            }
            total
        })
    });
    let plain_path = f.plain.path.clone();
    group.bench_function("plain", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let conn = open_plain(&plain_path).expect("open_plain");
                total += started.elapsed();
                drop(black_box(conn));
            }
            total
        })
    });
    group.finish();

    // What a request pays when the pool has an idle connection (encrypted only: the plain
    // side has no pool).
    let mut group = c.benchmark_group("pool_checkout");
    group.bench_function("encrypted", |b| {
        b.iter(|| drop(black_box(f.db.conn().expect("pool checkout"))))
    });
    group.finish();
    Ok(())
}

/// For contrast: a connection keyed with a passphrase, as the legacy system did, pays
/// SQLCipher's PBKDF2 (256 000 iterations of HMAC-SHA512) on every open.
fn open_passphrase(c: &mut Criterion, f: &Fixture) -> Result<()> {
    let path = f.enc.tmp.path().join("legacy-passphrase.db");
    {
        let conn = Connection::open(&path)?;
        run_pragma(&conn, "PRAGMA key = 'legacy passphrase'")?;
        conn.execute_batch(
            "CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT); INSERT INTO t (y) VALUES ('a');",
        )?;
    }
    let mut group = c.benchmark_group("open_connection_passphrase");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("encrypted", |b| {
        b.iter(|| open_with_passphrase(&path).expect("passphrase open"))
    });
    group.finish();
    Ok(())
}

fn open_with_passphrase(path: &Path) -> Result<i64> {
    let conn = Connection::open(path)?;
    run_pragma(&conn, "PRAGMA key = 'legacy passphrase'")?;
    Ok(conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?)
}

/// `import_csv` of 100 000 user rows into a fresh database, in one transaction.
fn bulk_import(c: &mut Criterion, f: &Fixture) -> Result<()> {
    let csv = f.enc.tmp.path().join("import-users.csv");
    write_users_csv(&csv, 1, IMPORT_USERS, 11)?;
    let mut group = c.benchmark_group("bulk_import_users");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(IMPORT_USERS));
    let run = |conn: &mut Connection| {
        let report = import_csv(
            conn,
            None,
            Some(&csv),
            ImportOptions::default(),
            &mut |_, _| {},
        )
        .expect("import_csv");
        assert_eq!(report.users.inserted, IMPORT_USERS);
    };
    group.bench_function("encrypted", |b| {
        b.iter_batched(
            || {
                let store = EncryptedStore::create("import", cheap_kdf()).expect("store");
                let conn = store.connect().expect("connect");
                (store, conn)
            },
            |(store, mut conn)| {
                run(&mut conn);
                (store, conn)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("plain", |b| {
        b.iter_batched(
            || {
                let store = PlainStore::create("import").expect("store");
                let conn = store.connect().expect("connect");
                (store, conn)
            },
            |(store, mut conn)| {
                run(&mut conn);
                (store, conn)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    Ok(())
}

fn all(c: &mut Criterion) {
    let f = fixture().expect("building the benchmark databases");
    point_read(c, &f).expect("point_read_user");
    card_list(c, &f).expect("card_list_user");
    open_cost(c, &f).expect("open_connection");
    open_passphrase(c, &f).expect("open_connection_passphrase");
    // Writes last: they change the databases the read cases use.
    card_insert(c, &f).expect("card_insert_tx");
    bulk_import(c, &f).expect("bulk_import_users");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = all
}
criterion_main!(benches);
