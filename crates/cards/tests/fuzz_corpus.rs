//! Replays the committed fuzz corpora (fuzz/corpus/gft_parse, fuzz/corpus/json_card) through
//! the same checks as the fuzz targets, so CI (stable, no libFuzzer) keeps them passing.
//! Crashes the fuzzer found are pinned below as byte literals, one test each.

mod fuzz_harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Runs `check` on every file of `fuzz/corpus/<target>/` and names every file that panics.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "{} is empty", dir.display());
    let failures: Vec<String> = paths
        .iter()
        .filter(|path| {
            let bytes = std::fs::read(path).expect("corpus file");
            catch_unwind(AssertUnwindSafe(|| check(&bytes))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failures.is_empty(), "panicked on {failures:#?}");
}

#[test]
fn gft_parse_corpus() {
    replay("gft_parse", fuzz_harness::gft);
}

#[test]
fn json_card_corpus() {
    replay("json_card", fuzz_harness::json);
}
