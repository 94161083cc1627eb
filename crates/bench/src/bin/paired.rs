//! Paired encrypted/plain ratios, robust to a shared, noisy machine.
//!
//! Criterion (`benches/store.rs`) measures each side for seconds in a row, so a compile job
//! starting on the other core can land on one side only. Here every round times a short batch
//! of the encrypted case and a short batch of the plain case back to back (alternating which
//! goes first), computes the ratio of that round, and reports the median ratio over all rounds
//! with its interquartile range. Same databases, rows, pragmas and store functions as the
//! criterion benchmarks.
//!
//! Environment: `BENCH_PAIRED_ROUNDS` (default 31), `BENCH_PAIRED_BATCH_MS` (default 40),
//! `BENCH_PAIRED_SHA256=1` (adds an experiment: pages authenticated with HMAC-SHA256).
//!
//! Run: `cargo run --release -p cardsgalore-bench --bin paired`

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cardsgalore_bench::{
    big_tempdir, card_data, cheap_kdf, env_flag, env_u64, median, open_plain, populate, run_pragma,
    same_settings, write_users_csv, Dataset, EncryptedStore, PlainStore, Rng,
};
use cardsgalore_keyring::DataKey;
use cardsgalore_store::repo::{cards, users};
use cardsgalore_store::{import_csv, migrate, open_connection, Database, ImportOptions};
use rusqlite::Connection;

/// Runs `n` iterations and returns the time they took (setup excluded).
type Batch<'a> = Box<dyn FnMut(u64) -> Result<Duration> + 'a>;

struct Row {
    name: &'static str,
    target: &'static str,
    enc: f64,
    plain: f64,
    ratio: f64,
    q1: f64,
    q3: f64,
    rounds: usize,
}

fn quartiles(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.75))
}

fn paired(
    name: &'static str,
    target: &'static str,
    rounds: u64,
    batch: Duration,
    mut enc: Batch<'_>,
    mut plain: Batch<'_>,
) -> Result<Row> {
    // Iterations per batch: as many as fit in `batch` on the encrypted side (at least 1).
    let mut n = 1u64;
    loop {
        let t = enc(n)?;
        if t >= batch / 4 || n >= 1 << 24 {
            let per = t.as_secs_f64() / n as f64;
            n = ((batch.as_secs_f64() / per.max(1e-9)) as u64).max(1);
            break;
        }
        n *= 4;
    }
    plain(n)?;
    let (mut e, mut p, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (te, tp) = if round % 2 == 0 {
            let te = enc(n)?;
            (te, plain(n)?)
        } else {
            let tp = plain(n)?;
            (enc(n)?, tp)
        };
        let (te, tp) = (te.as_secs_f64() / n as f64, tp.as_secs_f64() / n as f64);
        e.push(te);
        p.push(tp);
        r.push(tp / te);
    }
    let (q1, q3) = quartiles(&mut r.clone());
    let row = Row {
        name,
        target,
        enc: median(&mut e),
        plain: median(&mut p),
        ratio: median(&mut r),
        q1,
        q3,
        rounds: r.len(),
    };
    eprintln!("paired: {name}: ratio {:.2} ({q1:.2}–{q3:.2})", row.ratio);
    Ok(row)
}

fn human(secs: f64) -> String {
    if secs >= 1.0 {
        format!("{secs:.3} s")
    } else if secs >= 1e-3 {
        format!("{:.3} ms", secs * 1e3)
    } else {
        format!("{:.2} µs", secs * 1e6)
    }
}

fn warm(conn: &Connection) -> Result<()> {
    run_pragma(conn, "SELECT count(*), sum(length(password)) FROM users")?;
    run_pragma(
        conn,
        "SELECT count(*), sum(length(data)), sum(user_id) FROM cards",
    )?;
    Ok(())
}

fn point_read(conn: &Connection, users_n: u64) -> Batch<'_> {
    let mut rng = Rng::new(1);
    Box::new(move |n| {
        let started = Instant::now();
        for _ in 0..n {
            let id = 1 + rng.below(users_n) as i64;
            black_box(users::get(conn, id)?.context("user exists")?);
        }
        Ok(started.elapsed())
    })
}

fn card_list(conn: &Connection, user: i64) -> Batch<'_> {
    Box::new(move |n| {
        let started = Instant::now();
        for _ in 0..n {
            black_box(cards::list_for_user(conn, black_box(user))?);
        }
        Ok(started.elapsed())
    })
}

fn card_insert(conn: &mut Connection, users_n: u64, seed: u64) -> Batch<'_> {
    let mut rng = Rng::new(seed);
    let mut serial = 2_000_000_000u64 + seed * 100_000_000;
    Box::new(move |n| {
        let started = Instant::now();
        for _ in 0..n {
            serial += 1;
            let user_id = 1 + rng.below(users_n) as i64;
            let (data, signature) = card_data(serial, 1, 25, &mut rng);
            let tx = conn.transaction()?;
            cards::insert(
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
            )?;
            tx.commit()?;
        }
        Ok(started.elapsed())
    })
}

/// WAL frames (pages) written per single-card commit, with automatic checkpoints off.
fn frames_per_commit(conn: &mut Connection, users_n: u64, seed: u64) -> Result<f64> {
    const N: u64 = 200;
    run_pragma(conn, "PRAGMA wal_checkpoint(TRUNCATE)")?;
    run_pragma(conn, "PRAGMA wal_autocheckpoint = 0")?;
    card_insert(conn, users_n, seed)(N)?;
    let frames: i64 = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?;
    run_pragma(conn, "PRAGMA wal_autocheckpoint = 1000")?;
    Ok(frames as f64 / N as f64)
}

fn open_batch<'a>(open: impl Fn() -> Result<Connection> + 'a) -> Batch<'a> {
    Box::new(move |n| {
        let mut total = Duration::ZERO;
        for _ in 0..n {
            let started = Instant::now();
            let conn = open()?;
            total += started.elapsed();
            drop(conn);
        }
        Ok(total)
    })
}

/// Experiment only (not the product's setting): an encrypted connection whose pages are
/// authenticated with HMAC-SHA256 instead of SQLCipher 4's default HMAC-SHA512.
fn open_sha256(path: &std::path::Path, key: &DataKey) -> Result<Connection> {
    let conn = Connection::open(path)?;
    run_pragma(
        &conn,
        &format!("PRAGMA key = \"{}\"", key.sqlcipher_key().as_str()),
    )?;
    run_pragma(&conn, "PRAGMA cipher_hmac_algorithm = HMAC_SHA256")?;
    run_pragma(&conn, "PRAGMA cipher_log_level = NONE")?;
    run_pragma(&conn, "SELECT count(*) FROM sqlite_master")?;
    for p in cardsgalore_bench::PRAGMAS {
        run_pragma(&conn, p)?;
    }
    Ok(conn)
}

fn main() -> Result<()> {
    let rounds = env_u64("BENCH_PAIRED_ROUNDS", 31)?.max(3);
    let batch = Duration::from_millis(env_u64("BENCH_PAIRED_BATCH_MS", 40)?);
    let set = Dataset::STANDARD;
    let enc_store = EncryptedStore::create("paired", cheap_kdf())?;
    populate(&mut enc_store.connect()?, set)?;
    let plain_store = PlainStore::create("paired")?;
    populate(&mut plain_store.connect()?, set)?;
    let db = Database::open(&enc_store.db_path(), enc_store.key.clone(), 4)?;

    let mut rows = Vec::new();
    {
        let enc = db.conn()?;
        let plain = plain_store.connect()?;
        same_settings(&enc, &plain)?;
        warm(&enc)?;
        warm(&plain)?;
        rows.push(paired(
            "point read of a user by primary key (warm, 100k users)",
            "≥ 0.85",
            rounds,
            batch,
            point_read(&enc, set.users),
            point_read(&plain, set.users),
        )?);
        rows.push(paired(
            "a user's card list (50 cards among 100k, warm)",
            "≥ 0.85",
            rounds,
            batch,
            card_list(&enc, set.list_user),
            card_list(&plain, set.list_user),
        )?);
    }
    {
        let _keep_enc = db.conn()?;
        let _keep_plain = plain_store.connect()?;
        let (path, key) = (enc_store.db_path(), enc_store.key.clone());
        let plain_path = plain_store.path.clone();
        rows.push(paired(
            "open a pooled connection (`open_connection`, raw key)",
            "≤ 1 ms",
            rounds,
            batch,
            open_batch(move || Ok(open_connection(&path, &key)?)),
            open_batch(move || open_plain(&plain_path)),
        )?);
    }
    let frames = {
        let mut enc = db.conn()?;
        let mut plain = plain_store.connect()?;
        (
            frames_per_commit(&mut enc, set.users, 5)?,
            frames_per_commit(&mut plain, set.users, 6)?,
        )
    };
    {
        let mut enc = db.conn()?;
        let mut plain = plain_store.connect()?;
        rows.push(paired(
            "card insert, single-row transaction",
            "report",
            rounds,
            batch,
            card_insert(&mut enc, set.users, 1),
            card_insert(&mut plain, set.users, 2),
        )?);
    }
    {
        let csv = enc_store.tmp.path().join("paired-users.csv");
        let rows_n = 100_000u64;
        write_users_csv(&csv, 1, rows_n, 11)?;
        let import = |conn: &mut Connection| -> Result<Duration> {
            let started = Instant::now();
            let report = import_csv(
                conn,
                None,
                Some(&csv),
                ImportOptions::default(),
                &mut |_, _| {},
            )?;
            let took = started.elapsed();
            anyhow::ensure!(report.users.inserted == rows_n, "short import");
            Ok(took)
        };
        let enc_batch: Batch<'_> = Box::new(|n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                let store = EncryptedStore::create("paired-import", cheap_kdf())?;
                total += import(&mut store.connect()?)?;
            }
            Ok(total)
        });
        let plain_batch: Batch<'_> = Box::new(|n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                let store = PlainStore::create("paired-import")?;
                total += import(&mut store.connect()?)?;
            }
            Ok(total)
        });
        rows.push(paired(
            "bulk import: `import_csv` of 100k user rows",
            "≥ 0.85",
            (rounds / 4).max(5),
            Duration::from_millis(1),
            enc_batch,
            plain_batch,
        )?);
    }

    if env_flag("BENCH_PAIRED_SHA256") {
        let tmp = big_tempdir("paired-sha256")?;
        let key = DataKey::generate();
        let csv = tmp.path().join("users.csv");
        write_users_csv(&csv, 1, 100_000, 11)?;
        let import = |conn: &mut Connection| -> Result<Duration> {
            let started = Instant::now();
            import_csv(
                conn,
                None,
                Some(&csv),
                ImportOptions::default(),
                &mut |_, _| {},
            )?;
            Ok(started.elapsed())
        };
        let mut k = 0;
        let enc_batch: Batch<'_> = Box::new(|n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                k += 1;
                let path = tmp.path().join(format!("s{k}.db"));
                let mut conn = open_sha256(&path, &key)?;
                migrate(&mut conn)?;
                total += import(&mut conn)?;
                drop(conn);
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Ok(total)
        });
        let plain_batch: Batch<'_> = Box::new(|n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                let store = PlainStore::create("paired-import")?;
                total += import(&mut store.connect()?)?;
            }
            Ok(total)
        });
        rows.push(paired(
            "experiment, not the product: bulk import with HMAC-SHA256 pages",
            "≥ 0.85",
            (rounds / 4).max(5),
            Duration::from_millis(1),
            enc_batch,
            plain_batch,
        )?);
        let path = tmp.path().join("insert.db");
        let mut enc = open_sha256(&path, &key)?;
        migrate(&mut enc)?;
        populate(&mut enc, set)?;
        let mut plain = plain_store.connect()?;
        rows.push(paired(
            "experiment, not the product: card insert with HMAC-SHA256 pages",
            "report",
            rounds,
            batch,
            card_insert(&mut enc, set.users, 3),
            card_insert(&mut plain, set.users, 4),
        )?);
    }

    println!("### Store level, paired rounds (encrypted and plain batches back to back)\n");
    println!(
        "| case | encrypted (median per op) | plain (median per op) | encrypted / plain speed, median (IQR) | rounds | target |"
    );
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        let verdict = if r.target.starts_with('≥') {
            if r.ratio >= 0.85 {
                "met"
            } else {
                "**missed**"
            }
        } else if r.target.starts_with('≤') {
            if r.enc <= 1e-3 {
                "met"
            } else {
                "**missed**"
            }
        } else {
            ""
        };
        println!(
            "| {} | {} | {} | **{:.2}** ({:.2}–{:.2}) | {} | {} {} |",
            r.name,
            human(r.enc),
            human(r.plain),
            r.ratio,
            r.q1,
            r.q3,
            r.rounds,
            r.target,
            verdict
        );
    }
    println!(
        "\nA single-card commit writes {:.1} pages to the WAL on the encrypted database and {:.1} on the plain one \
         (each encrypted page: AES-256-CBC with a fresh IV + HMAC-SHA512 of 4 KiB).\n",
        frames.0, frames.1
    );
    Ok(())
}
