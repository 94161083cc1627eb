//! Replays the committed fuzz corpus (fuzz/corpus/csv_import) through the same checks as the
//! `csv_import` fuzz target, so CI (stable, no libFuzzer) keeps it passing.

mod fuzz_harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[test]
fn csv_import_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/csv_import");
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
            catch_unwind(AssertUnwindSafe(|| fuzz_harness::csv_import(&bytes))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failures.is_empty(), "panicked on {failures:#?}");
}
