//! `audit verify`: check the audit log's hash chain.

use std::process::ExitCode;

use anyhow::Result;
use cardsgalore_store::{AuditLog, DataDir};

use crate::cli::AuditCommand;

pub fn run(dir: &DataDir, cmd: AuditCommand) -> Result<ExitCode> {
    let AuditCommand::Verify = cmd;
    dir.require_initialized()?;
    let log = AuditLog::for_dir(dir);
    let report = log.verify()?;
    match report.broken {
        None => {
            println!(
                "{}: {} lines, chain intact.",
                log.path().display(),
                report.lines
            );
            Ok(ExitCode::SUCCESS)
        }
        Some((line, reason)) => {
            println!("{}:{line}: {reason}", log.path().display());
            println!("Audit log verification FAILED.");
            Ok(ExitCode::FAILURE)
        }
    }
}
