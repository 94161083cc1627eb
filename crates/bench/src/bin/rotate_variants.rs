//! Profiling aid for key rotation: re-encrypts the same database in several ways, side by
//! side in one run, and prints wall and CPU time of each, next to `cp` and to the crypto floor
//! (`openssl speed`: AES-256-CBC encrypt and decrypt and HMAC-SHA512 twice per page).
//!
//! Variants: `rotate_key` as shipped; the same backup-API copy with the destination's journal
//! and syncs off and a large cache (the temp file is fsynced and checked before the swap
//! anyway); `PRAGMA rekey` in place (WAL); `sqlcipher_export` into an attached new file.
//!
//! Environment: `BENCH_VARIANTS_SIZE` (default 100M), `BENCH_VARIANTS_REPS` (default 2).
//!
//! Run: `cargo run --release -p cardsgalore-bench --bin rotate_variants`

use std::fs::{self, File};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cardsgalore_bench::{
    cheap_kdf, env_u64, grow_to, median, mib, parse_size, passphrase, run_pragma, thread_cpu_time,
    time_cp, EncryptedStore,
};
use cardsgalore_keyring::DataKey;
use cardsgalore_store::{open_connection, open_store, rotate_key};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::Connection;

struct Timing {
    wall: Duration,
    cpu: Duration,
}

fn timed(f: impl FnOnce() -> Result<()>) -> Result<Timing> {
    let cpu = thread_cpu_time();
    let started = Instant::now();
    f()?;
    Ok(Timing {
        wall: started.elapsed(),
        cpu: thread_cpu_time() - cpu,
    })
}

fn keyed(path: &Path, key: &DataKey) -> Result<Connection> {
    let conn = Connection::open(path)?;
    run_pragma(
        &conn,
        &format!("PRAGMA key = \"{}\"", key.sqlcipher_key().as_str()),
    )?;
    run_pragma(&conn, "PRAGMA cipher_log_level = NONE")?;
    Ok(conn)
}

/// The backup-API copy of `rotate_key`, with optional destination pragmas and step size.
fn backup_copy(
    src_path: &Path,
    key: &DataKey,
    dst_path: &Path,
    dst_pragmas: &[&str],
    step: i32,
) -> Result<()> {
    let src = open_connection(src_path, key)?;
    run_pragma(&src, "PRAGMA wal_checkpoint(TRUNCATE)")?;
    let new_key = DataKey::generate();
    File::create(dst_path)?;
    let mut dst = keyed(dst_path, &new_key)?;
    for p in dst_pragmas {
        run_pragma(&dst, p)?;
    }
    {
        let backup = Backup::new(&src, &mut dst)?;
        while backup.step(step)? != StepResult::Done {}
    }
    dst.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    dst.close().map_err(|(_, e)| e)?;
    File::open(dst_path)?.sync_all()?;
    fs::remove_file(dst_path)?;
    Ok(())
}

fn main() -> Result<()> {
    let size = parse_size(&std::env::var("BENCH_VARIANTS_SIZE").unwrap_or_else(|_| "100".into()))?;
    let reps = env_u64("BENCH_VARIANTS_REPS", 2)?.max(1);
    let store = EncryptedStore::create("variants", cheap_kdf())?;
    grow_to(&mut store.connect()?, size)?;
    let db = store.db_path();
    let bytes = fs::metadata(&db)?.len();
    let work = store.tmp.path().join("work");
    fs::create_dir(&work)?;
    let out = work.join("out.db");

    type Variant = (&'static str, Box<dyn Fn() -> Result<()>>);
    let key = store.key.clone();
    let variants: Vec<Variant> = vec![
        (
            "`cp` (physical floor, page cache warm)",
            Box::new({
                let (db, out) = (db.clone(), out.clone());
                move || {
                    time_cp(&db, &out)?;
                    fs::remove_file(&out)?;
                    Ok(())
                }
            }),
        ),
        (
            "`rotate_key` as shipped (backup API, 1024 pages/step, destination journal DELETE, synchronous FULL, 2 MB cache)",
            Box::new({
                let dir = store.dir.clone();
                move || {
                    let mut opened = open_store(&dir, &passphrase())?;
                    rotate_key(&dir, &mut opened, &mut |_, _| {})?;
                    Ok(())
                }
            }),
        ),
        (
            "backup API, same settings as shipped (copy only)",
            Box::new({
                let (db, out, dir) = (db.clone(), out.clone(), store.dir.clone());
                move || {
                    let key = open_store(&dir, &passphrase())?.data_key;
                    backup_copy(&db, &key, &out, &[], 1024)
                }
            }),
        ),
        (
            "backup API, destination journal_mode=OFF, synchronous=OFF, cache_size=-65536, all pages in one step",
            Box::new({
                let (db, out, dir) = (db.clone(), out.clone(), store.dir.clone());
                move || {
                    let key = open_store(&dir, &passphrase())?.data_key;
                    backup_copy(
                        &db,
                        &key,
                        &out,
                        &[
                            "PRAGMA journal_mode = OFF",
                            "PRAGMA synchronous = OFF",
                            "PRAGMA cache_size = -65536",
                        ],
                        -1,
                    )
                }
            }),
        ),
        (
            "`PRAGMA rekey` in place on a copy (WAL; includes the closing checkpoint)",
            Box::new({
                let (db, out, dir) = (db.clone(), out.clone(), store.dir.clone());
                move || {
                    let key = open_store(&dir, &passphrase())?.data_key;
                    // The copy is not timed separately: subtract the `cp` row.
                    fs::copy(&db, &out)?;
                    let conn = open_connection(&out, &key)?;
                    let new_key = DataKey::generate();
                    run_pragma(
                        &conn,
                        &format!("PRAGMA rekey = \"{}\"", new_key.sqlcipher_key().as_str()),
                    )?;
                    conn.close().map_err(|(_, e)| e)?;
                    File::open(&out)?.sync_all()?;
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = fs::remove_file(format!("{}{suffix}", out.display()));
                    }
                    Ok(())
                }
            }),
        ),
        (
            "`sqlcipher_export` into an attached new file (rebuilds every b-tree)",
            Box::new({
                let (db, out, dir) = (db.clone(), out.clone(), store.dir.clone());
                move || {
                    let key = open_store(&dir, &passphrase())?.data_key;
                    let src = open_connection(&db, &key)?;
                    let new_key = DataKey::generate();
                    src.execute_batch(&format!(
                        "ATTACH DATABASE '{}' AS rot KEY \"{}\"",
                        out.display(),
                        new_key.sqlcipher_key().as_str()
                    ))?;
                    run_pragma(&src, "SELECT sqlcipher_export('rot')")?;
                    src.execute_batch("DETACH DATABASE rot")?;
                    drop(src);
                    File::open(&out)?.sync_all()?;
                    fs::remove_file(&out)?;
                    Ok(())
                }
            }),
        ),
    ];
    drop(key);

    let mut results: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); variants.len()];
    for rep in 0..reps {
        for (i, (name, run)) in variants.iter().enumerate() {
            // Every variant starts from a warm page cache.
            cardsgalore_bench::sha256_file(&db)?;
            let t = timed(run).with_context(|| name.to_string())?;
            eprintln!(
                "rep {rep}: {:.3} s wall, {:.3} s CPU: {name}",
                t.wall.as_secs_f64(),
                t.cpu.as_secs_f64()
            );
            results[i].0.push(t.wall.as_secs_f64());
            results[i].1.push(t.cpu.as_secs_f64());
        }
    }

    let floor = crypto_floor_mib_s();
    println!(
        "### Rotation variants on {:.1} MiB (median of {reps}, warm page cache)\n",
        mib(bytes)
    );
    println!("| variant | wall | CPU (main thread) | MiB/s | speed vs `cp` |");
    println!("|---|---|---|---|---|");
    let cp_wall = median(&mut results[0].0.clone());
    for ((name, _), (wall, cpu)) in variants.iter().zip(results.iter_mut()) {
        let w = median(wall);
        println!(
            "| {name} | {w:.3} s | {:.3} s | {:.1} | {:.2}× |",
            median(cpu),
            mib(bytes) / w,
            cp_wall / w
        );
    }
    if let Some(floor) = floor {
        println!(
            "| crypto floor from `openssl speed` (4 KiB blocks: AES-256-CBC decrypt + encrypt, 2 × HMAC-SHA512) | {:.3} s | | {floor:.1} | {:.2}× |",
            mib(bytes) / floor,
            cp_wall / (mib(bytes) / floor)
        );
    }
    println!();
    Ok(())
}

/// MiB/s at which one core can decrypt, verify, encrypt and authenticate pages, from
/// `openssl speed` on 4 KiB blocks; None when openssl is not installed.
fn crypto_floor_mib_s() -> Option<f64> {
    let speed = |args: &[&str]| -> Option<f64> {
        let out = Command::new("openssl")
            .args(["speed", "-seconds", "1", "-bytes", "4096"])
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text.lines().last()?;
        let kb = last.split_whitespace().last()?.trim_end_matches('k');
        Some(kb.parse::<f64>().ok()? * 1000.0 / (1024.0 * 1024.0))
    };
    let enc = speed(&["-evp", "aes-256-cbc"])?;
    let dec = speed(&["-decrypt", "-evp", "aes-256-cbc"])?;
    let hmac = speed(&["-hmac", "sha512"])?;
    Some(1.0 / (1.0 / enc + 1.0 / dec + 2.0 / hmac))
}
