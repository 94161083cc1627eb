//! `verify`: a short report; exit status 1 when any check fails.

use std::process::ExitCode;

use anyhow::Result;
use cardsgalore_store::{verify, DataDir};

use crate::cli::PassphraseArgs;

pub fn run(dir: &DataDir, pass: &PassphraseArgs) -> Result<ExitCode> {
    dir.require_initialized()?;
    let _lock = dir.lock_shared()?;
    let store = super::unlock(dir, pass)?;
    let report = verify(dir, &store)?;
    for check in &report.checks {
        let mark = if check.ok { "ok  " } else { "FAIL" };
        println!("{mark} {}: {}", check.name, check.detail);
    }
    if report.ok() {
        println!("All checks passed.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("Verification FAILED.");
        Ok(ExitCode::FAILURE)
    }
}
