//! Turns the criterion results of `benches/store.rs` into the Markdown ratio table of
//! BENCHMARKS.md. Reads `<dir>/<group>/<function>/new/estimates.json` (median estimates).
//!
//! Run: `cargo run --release -p cardsgalore-bench --bin report -- target/criterion`

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

/// Median time of one iteration, in seconds, with its 95 % confidence interval.
struct Estimate {
    median: f64,
    low: f64,
    high: f64,
}

fn estimate(dir: &Path, group: &str, function: &str) -> Result<Option<Estimate>> {
    let path = dir.join(group).join(function).join("new/estimates.json");
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let json: Value = serde_json::from_str(&text).with_context(|| path.display().to_string())?;
    let get = |ptr: &str| {
        json.pointer(ptr)
            .and_then(Value::as_f64)
            .map(|ns| ns / 1e9)
            .with_context(|| format!("{ptr} in {}", path.display()))
    };
    Ok(Some(Estimate {
        median: get("/median/point_estimate")?,
        low: get("/median/confidence_interval/lower_bound")?,
        high: get("/median/confidence_interval/upper_bound")?,
    }))
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

fn cell(e: &Option<Estimate>) -> String {
    match e {
        Some(e) => format!("{} ({}–{})", human(e.median), human(e.low), human(e.high)),
        None => "–".to_string(),
    }
}

fn main() -> Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/criterion"));
    let cases: &[(&str, &str, &str)] = &[
        (
            "point_read_user",
            "point read of a user by primary key (warm, 100k users)",
            "≥ 0.85",
        ),
        (
            "card_list_user",
            "a user's card list (50 cards among 100k, warm)",
            "≥ 0.85",
        ),
        (
            "card_insert_tx",
            "card insert, single-row transaction (WAL, synchronous=NORMAL)",
            "report",
        ),
        (
            "bulk_import_users",
            "bulk import: `import_csv` of 100k user rows",
            "≥ 0.85",
        ),
        (
            "open_connection",
            "open a pooled connection (`open_connection`, raw key)",
            "≤ 1 ms",
        ),
    ];
    println!("### Store level: encrypted vs plain, same run\n");
    println!(
        "| case | encrypted (median, 95 % CI) | plain (median, 95 % CI) | encrypted / plain speed | target |"
    );
    println!("|---|---|---|---|---|");
    for (group, what, target) in cases {
        let enc = estimate(&dir, group, "encrypted")?;
        let plain = estimate(&dir, group, "plain")?;
        let ratio = match (&enc, &plain) {
            (Some(e), Some(p)) => format!("**{:.2}**", p.median / e.median),
            _ => "–".to_string(),
        };
        let target = if *group == "open_connection" {
            match &enc {
                Some(e) if e.median <= 1e-3 => format!("{target}: met"),
                Some(_) => format!("{target}: **missed**"),
                None => target.to_string(),
            }
        } else if target.starts_with('≥') {
            match (&enc, &plain) {
                (Some(e), Some(p)) if p.median / e.median >= 0.85 => format!("{target}: met"),
                (Some(_), Some(_)) => format!("{target}: **missed**"),
                _ => target.to_string(),
            }
        } else {
            target.to_string()
        };
        println!(
            "| {what} | {} | {} | {ratio} | {target} |",
            cell(&enc),
            cell(&plain)
        );
    }
    let checkout = estimate(&dir, "pool_checkout", "encrypted")?;
    println!(
        "| pool checkout of an idle connection (`Database::conn`) | {} | – | – | – |",
        cell(&checkout)
    );
    let pass = estimate(&dir, "open_connection_passphrase", "encrypted")?;
    let raw = estimate(&dir, "open_connection", "encrypted")?;
    let contrast = match (&pass, &raw) {
        (Some(p), Some(r)) => format!("{:.0}× slower than the raw-key open", p.median / r.median),
        _ => "–".to_string(),
    };
    println!(
        "| for contrast: open with a passphrase key (`PRAGMA key = 'passphrase'`, legacy) | {} | – | {contrast} | – |",
        cell(&pass)
    );
    println!(
        "\n\"encrypted / plain speed\" = plain time ÷ encrypted time (1.00 = no cost; 0.50 = encrypted takes twice as long).\n"
    );
    Ok(())
}
