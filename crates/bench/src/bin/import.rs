//! CSV import throughput: generates legacy users and products CSV files (1 000 000 rows by
//! default, one in five a product), imports them with `import_csv` into a fresh encrypted
//! store and into a fresh plain database with the same schema, alternately (encrypted, plain,
//! plain, encrypted, …), and prints rows/s and the ratio as Markdown.
//!
//! Environment: `BENCH_IMPORT_ROWS` (default 1000000), `BENCH_IMPORT_PRODUCTS_PCT`
//! (default 20), `BENCH_IMPORT_REPS` (runs per side, default 2).
//!
//! Run: `cargo run --release -p cardsgalore-bench --bin import`

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use cardsgalore_bench::{
    big_tempdir, cheap_kdf, env_u64, median, mib, write_products_csv, write_users_csv,
    EncryptedStore, PlainStore,
};
use cardsgalore_store::{import_csv, ImportOptions};
use rusqlite::Connection;

struct Run {
    import: f64,
    close: f64,
}

fn main() -> Result<()> {
    let rows = env_u64("BENCH_IMPORT_ROWS", 1_000_000)?;
    let pct = env_u64("BENCH_IMPORT_PRODUCTS_PCT", 20)?.min(100);
    let reps = env_u64("BENCH_IMPORT_REPS", 2)?.max(1);
    let n_products = rows * pct / 100;
    let n_users = rows - n_products;

    let tmp = big_tempdir("import")?;
    let products_csv = tmp.path().join("products.csv");
    let users_csv = tmp.path().join("users.csv");
    let started = Instant::now();
    let p_bytes = write_products_csv(&products_csv, i64::try_from(n_products)?)?;
    let u_bytes = write_users_csv(&users_csv, 1, n_users, 5)?;
    eprintln!(
        "import: generated {n_products} products ({:.1} MiB) and {n_users} users ({:.1} MiB) in {:.1} s",
        mib(p_bytes),
        mib(u_bytes),
        started.elapsed().as_secs_f64()
    );

    let (mut enc, mut plain) = (Vec::new(), Vec::new());
    for i in 0..reps * 2 {
        // ABBA order, so drift on a shared machine hits both sides alike.
        let encrypted_turn = matches!(i % 4, 0 | 3);
        let run = if encrypted_turn {
            let store = EncryptedStore::create("import-enc", cheap_kdf())?;
            let run = import_into(store.connect()?, &products_csv, &users_csv, rows)?;
            let size = fs::metadata(store.db_path())?.len();
            eprintln!(
                "import: encrypted {:.2} s (+{:.2} s close), {:.1} MiB",
                run.import,
                run.close,
                mib(size)
            );
            run
        } else {
            let store = PlainStore::create("import-plain")?;
            let run = import_into(store.connect()?, &products_csv, &users_csv, rows)?;
            let size = fs::metadata(&store.path)?.len();
            eprintln!(
                "import: plain {:.2} s (+{:.2} s close), {:.1} MiB",
                run.import,
                run.close,
                mib(size)
            );
            run
        };
        if encrypted_turn {
            enc.push(run);
        } else {
            plain.push(run);
        }
    }

    let med =
        |runs: &[Run], f: fn(&Run) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
    let (e_imp, p_imp) = (med(&enc, |r| r.import), med(&plain, |r| r.import));
    let (e_all, p_all) = (
        med(&enc, |r| r.import + r.close),
        med(&plain, |r| r.import + r.close),
    );
    let rate = |secs: f64| rows as f64 / secs;
    println!("### CSV import ({rows} rows: {n_users} users + {n_products} products)\n");
    println!(
        "| database | `import_csv` (median of {reps}) | rows/s | with close (WAL checkpoint) | rows/s incl. close |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| encrypted | {e_imp:.2} s | **{:.0}** | {e_all:.2} s | {:.0} |",
        rate(e_imp),
        rate(e_all)
    );
    println!(
        "| plain | {p_imp:.2} s | {:.0} | {p_all:.2} s | {:.0} |",
        rate(p_imp),
        rate(p_all)
    );
    println!(
        "| **encrypted / plain speed** | | **{:.2}** | | {:.2} |",
        p_imp / e_imp,
        p_all / e_all
    );
    println!(
        "\nTarget: ≥ 200 000 rows/s encrypted ({}), ratio ≥ 0.85 ({}).\n",
        if rate(e_imp) >= 200_000.0 {
            "met"
        } else {
            "missed"
        },
        if p_imp / e_imp >= 0.85 {
            "met"
        } else {
            "missed"
        }
    );
    Ok(())
}

fn import_into(mut conn: Connection, products: &Path, users: &Path, rows: u64) -> Result<Run> {
    let started = Instant::now();
    let report = import_csv(
        &mut conn,
        Some(products),
        Some(users),
        ImportOptions::default(),
        &mut |_, _| {},
    )?;
    let import = started.elapsed().as_secs_f64();
    let inserted = report.products.inserted + report.users.inserted;
    if inserted != rows {
        bail!("imported {inserted} rows, expected {rows}");
    }
    let started = Instant::now();
    conn.close().map_err(|(_, e)| e)?;
    Ok(Run {
        import,
        close: started.elapsed().as_secs_f64(),
    })
}
