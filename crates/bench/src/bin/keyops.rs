//! Key operations, printed as Markdown tables:
//! - Argon2id calibration (parameters chosen) and unseal time (`open_store`) with them;
//! - passphrase change time, keyring bytes written, database bytes rewritten (hash before/after);
//! - `rotate_key` throughput on 10 MB and 100 MB databases (and 1 GB with
//!   `BENCH_ROTATE_1GB=1`) next to `cp` of the same file, with the page cache dropped before
//!   each timed operation when the kernel allows it.
//!
//! Environment: `BENCH_ROTATE_SIZES` (e.g. `10,100,1G`; overrides the default sizes),
//! `BENCH_ROTATE_1GB=1`, `BENCH_ROTATE_REPS` (default 3; 1 for sizes of 1 GB and more),
//! `BENCH_ROTATE_CACHE=warm` (do not drop the page cache), `BENCH_SKIP_CALIBRATION=1`
//! (rotation only).
//!
//! Run: `cargo run --release -p cardsgalore-bench --bin keyops`

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cardsgalore_bench::{
    big_tempdir, cheap_kdf, drop_page_cache, env_flag, env_u64, grow_to, median, mib, parse_size,
    passphrase, sha256_file, thread_cpu_time, time_cp, EncryptedStore,
};
use cardsgalore_keyring::{KdfParams, Keyring, UnlockedKeyring};
use cardsgalore_store::repo::users;
use cardsgalore_store::{create_store, open_connection, open_store, rotate_key, DataDir};
use secrecy::SecretString;

fn main() -> Result<()> {
    // Child mode: one unseal in a fresh process, as the site or a CLI command pays it.
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "--unseal-once" {
        let dir = DataDir::new(&args[2]);
        let started = Instant::now();
        open_store(&dir, &passphrase())?;
        println!("{}", started.elapsed().as_secs_f64());
        return Ok(());
    }
    println!("## Key operations\n");
    if !env_flag("BENCH_SKIP_CALIBRATION") {
        keyslots()?;
    }
    rotation()?;
    Ok(())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Unseal times (s) of three fresh processes, as the site and each CLI command pay it.
fn fresh_unseal(dir: &DataDir) -> Result<Vec<f64>> {
    let mut fresh = Vec::new();
    for _ in 0..3 {
        let out = std::process::Command::new(std::env::current_exe()?)
            .arg("--unseal-once")
            .arg(dir.root())
            .output()
            .context("running the unseal child")?;
        let text = String::from_utf8_lossy(&out.stdout);
        fresh.push(
            text.trim()
                .parse::<f64>()
                .with_context(|| format!("unseal child said '{text}'"))?,
        );
    }
    Ok(fresh)
}

fn fmt_runs(runs: &[f64]) -> String {
    runs.iter()
        .map(|s| format!("{s:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Calibration, unseal and passphrase change on a store keyed with calibrated parameters.
fn keyslots() -> Result<()> {
    eprintln!("calibrating Argon2id to about 1 s…");
    let started = Instant::now();
    let params = KdfParams::calibrate(Duration::from_secs(1));
    let calibration = started.elapsed();

    // How the cost grows with the pass count: creating a keyring runs Argon2id once.
    let mut per_t = Vec::new();
    for t in [1, 3, params.t] {
        let p = KdfParams { t, ..params };
        let mut runs = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            drop(UnlockedKeyring::create("probe", &passphrase(), p)?);
            runs.push(secs(started.elapsed()));
        }
        per_t.push((t, median(&mut runs)));
    }

    let tmp = big_tempdir("keyslots")?;
    let dir = DataDir::new(tmp.path().join("data"));
    let started = Instant::now();
    create_store(&dir, "admin", &passphrase(), params, |_| Ok(())).context("create_store")?;
    let create = started.elapsed();
    {
        let opened = open_store(&dir, &passphrase())?;
        let mut conn = open_connection(&dir.db_path(), &opened.data_key)?;
        grow_to(&mut conn, 5 << 20)?;
    }

    // Unseal: what the site and every admin command pay at start.
    let mut unseal = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let opened = open_store(&dir, &passphrase()).context("open_store")?;
        unseal.push(secs(started.elapsed()));
        drop(opened);
    }
    let unseal_median = median(&mut unseal.clone());
    let fresh = fresh_unseal(&dir)?;
    let fresh_median = median(&mut fresh.clone());

    // Passphrase change, as `cardsgalore passphrase change` does it (with explicit parameters;
    // without them the CLI first calibrates, which adds the calibration time above).
    let db = dir.db_path();
    let db_hash_before = sha256_file(&db)?;
    let db_len = fs::metadata(&db)?.len();
    let keyring_before = fs::metadata(dir.keyring_path())?.len();
    let new_pass = SecretString::from("a brand new bench passphrase, long enough".to_string());
    let started = Instant::now();
    let mut store = open_store(&dir, &passphrase())?;
    let t_unlock = started.elapsed();
    store
        .keyring
        .change_passphrase("admin", &new_pass, params)?;
    let t_wrap = started.elapsed() - t_unlock;
    store.keyring.save(&dir.keyring_path())?;
    let change_total = started.elapsed();
    let t_save = change_total - t_unlock - t_wrap;
    let keyring_after = fs::metadata(dir.keyring_path())?.len();
    let db_hash_after = sha256_file(&db)?;
    let db_rewritten = if db_hash_before == db_hash_after {
        0
    } else {
        db_len
    };
    // The new passphrase opens the store, the old one no longer does.
    open_store(&dir, &new_pass).context("new passphrase")?;
    if open_store(&dir, &passphrase()).is_ok() {
        bail!("the old passphrase still opens the keyring");
    }
    if Keyring::load(&dir.keyring_path())?.slots().len() != 1 {
        bail!("expected one keyslot");
    }

    println!("### Argon2id keyslots (unseal) and passphrase change\n");
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| calibration (`KdfParams::calibrate(1 s)`) | {params} (m_kib={}, t={}, p={}), found in {:.2} s |",
        params.m_kib,
        params.t,
        params.p,
        secs(calibration)
    );
    println!(
        "| one Argon2id run (m=64 MiB, p=1) by pass count t, median of 3 | {} |",
        per_t
            .iter()
            .map(|(t, s)| format!("t={t}: {s:.3} s"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    println!(
        "| unseal in this process (`open_store`: load keyring, Argon2id, unwrap keys), median of 3 | {:.3} s (runs: {}) |",
        unseal_median,
        fmt_runs(&unseal)
    );
    println!(
        "| unseal in a fresh process (what the site and each CLI command pay), median of 3 | **{:.3} s** (runs: {}) |",
        fresh_median,
        fmt_runs(&fresh)
    );
    println!(
        "| create_store with these parameters (one Argon2id + schema) | {:.3} s |",
        secs(create)
    );
    println!(
        "| passphrase change, total (unlock + new slot + save) | {:.3} s (unlock {:.3} s, new slot {:.3} s, save {:.4} s); +{:.2} s when the CLI calibrates first |",
        secs(change_total),
        secs(t_unlock),
        secs(t_wrap),
        secs(t_save),
        secs(calibration)
    );
    println!(
        "| bytes rewritten by a passphrase change | keyring {keyring_after} B (was {keyring_before} B, rewritten whole, atomically); database {db_rewritten} B of {db_len} B (SHA-256 identical before/after: {}) |",
        db_hash_before == db_hash_after
    );
    println!();
    Ok(())
}

struct RotationRow {
    bytes: u64,
    reps: usize,
    cold: bool,
    cp: f64,
    cp_fsync: f64,
    rotate: f64,
    rotate_copy: f64,
    rotate_cpu: f64,
    rotate_runs: Vec<f64>,
    cp_runs: Vec<f64>,
}

fn rotation_sizes() -> Result<Vec<u64>> {
    if let Ok(list) = std::env::var("BENCH_ROTATE_SIZES") {
        return list.split(',').map(parse_size).collect();
    }
    let mut sizes = vec![10 << 20, 100 << 20];
    if env_flag("BENCH_ROTATE_1GB") {
        sizes.push(1 << 30);
    }
    Ok(sizes)
}

fn rotation() -> Result<()> {
    let mut rows = Vec::new();
    for size in rotation_sizes()? {
        rows.push(rotate_one(size)?);
    }
    println!("### Key rotation (`rotate_key`) vs `cp` of the same file\n");
    println!(
        "| database | runs | cache | `cp` | `cp` + fsync | `rotate_key` | of which page copy | rotate CPU time | rotate MB/s | `cp` MB/s | rotate / `cp` speed | rotate / (`cp`+fsync) | writers blocked |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let mb = mib(r.bytes);
        println!(
            "| {:.1} MiB | {} | {} | {:.3} s | {:.3} s | {:.3} s | {:.3} s | {:.3} s | {:.1} | {:.1} | **{:.2}×** | {:.2}× | {:.3} s (site stopped) |",
            mb,
            r.reps,
            if r.cold { "cold" } else { "warm" },
            r.cp,
            r.cp_fsync,
            r.rotate,
            r.rotate_copy,
            r.rotate_cpu,
            mb / r.rotate,
            mb / r.cp,
            r.cp / r.rotate,
            r.cp_fsync / r.rotate,
            r.rotate
        );
    }
    println!();
    for r in &rows {
        println!(
            "- {:.1} MiB: rotate runs {:?} s, cp runs {:?} s",
            mib(r.bytes),
            r.rotate_runs
                .iter()
                .map(|s| (s * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
            r.cp_runs
                .iter()
                .map(|s| (s * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>()
        );
    }
    println!(
        "\nMB/s are MiB/s of the database file. \"cold\" = `sync; echo 3 > /proc/sys/vm/drop_caches` before each timed \
         `cp` and each timed rotation. `rotate_key` fsyncs the new file, plain `cp` does not: the `cp` + fsync column \
         is the fair floor. Writers (and readers) are blocked for the whole rotation: the CLI rotation takes the \
         service lock, so the site must be stopped while it runs.\n"
    );
    Ok(())
}

fn rotate_one(size: u64) -> Result<RotationRow> {
    let store = EncryptedStore::create("rotate", cheap_kdf())?;
    let started = Instant::now();
    {
        let mut conn = store.connect()?;
        grow_to(&mut conn, size)?;
    }
    let db = store.db_path();
    let bytes = fs::metadata(&db)?.len();
    eprintln!(
        "rotation: generated {:.1} MiB in {:.1} s",
        mib(bytes),
        started.elapsed().as_secs_f64()
    );
    let default_reps = if size >= 1 << 30 { 1 } else { 3 };
    let reps = env_u64("BENCH_ROTATE_REPS", default_reps)?.max(1) as usize;
    let copy = store.tmp.path().join("cp-target.db");
    let warm = std::env::var("BENCH_ROTATE_CACHE").is_ok_and(|v| v == "warm");
    let mut cold = !warm;
    let (mut cp, mut cp_fsync, mut rotate, mut rotate_copy, mut rotate_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        if warm {
            // Read the file once so both operations start from a warm page cache.
            sha256_file(&db)?;
        } else {
            cold &= drop_page_cache();
        }
        let (t_cp, t_fsync) = time_cp(&db, &copy)?;
        fs::remove_file(&copy)?;
        cp.push(secs(t_cp));
        cp_fsync.push(secs(t_cp + t_fsync));

        let mut opened = open_store(&store.dir, &passphrase())?;
        let _service = store.dir.lock_service("rotating the data key")?;
        let _exclusive = store.dir.lock_exclusive()?;
        if warm {
            sha256_file(&db)?;
        } else {
            cold &= drop_page_cache();
        }
        let mut copy_done = None;
        let cpu_before = thread_cpu_time();
        let started = Instant::now();
        let report = rotate_key(&store.dir, &mut opened, &mut |done, total| {
            if done == total && copy_done.is_none() {
                copy_done = Some(started.elapsed());
            }
        })
        .context("rotate_key")?;
        let elapsed = started.elapsed();
        rotate_cpu.push(secs(thread_cpu_time() - cpu_before));
        rotate.push(secs(elapsed));
        rotate_copy.push(secs(copy_done.unwrap_or(elapsed)));
        if report.bytes != fs::metadata(&db)?.len() {
            bail!("rotate_key reported {} bytes", report.bytes);
        }
        // The rotated database opens with the new key and holds every row.
        let conn = open_connection(&db, &opened.data_key)?;
        if users::count(&conn)? == 0 {
            bail!("rotated database is empty");
        }
    }
    Ok(RotationRow {
        bytes,
        reps,
        cold,
        cp: median(&mut cp.clone()),
        cp_fsync: median(&mut cp_fsync),
        rotate: median(&mut rotate.clone()),
        rotate_copy: median(&mut rotate_copy),
        rotate_cpu: median(&mut rotate_cpu),
        rotate_runs: rotate,
        cp_runs: cp,
    })
}
