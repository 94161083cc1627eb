//! Replays the committed fuzz corpus (fuzz/corpus/keyring_load) through the same checks as the
//! `keyring_load` fuzz target, so CI (stable, no libFuzzer) keeps it passing.

mod fuzz_harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[test]
fn keyring_load_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/keyring_load");
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
            catch_unwind(AssertUnwindSafe(|| fuzz_harness::keyring_file(&bytes))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failures.is_empty(), "panicked on {failures:#?}");
}
