//! `backup OUT`: consistent encrypted copy of the database and keyring.

use std::process::ExitCode;

use anyhow::Result;
use cardsgalore_store::{backup, AuditEvent, DataDir};

use crate::cli::{BackupOpts, PassphraseArgs};

pub fn run(dir: &DataDir, pass: &PassphraseArgs, opts: BackupOpts) -> Result<ExitCode> {
    dir.require_initialized()?;
    let _lock = dir.lock_shared()?;
    let store = super::unlock(dir, pass)?;
    let report = backup(dir, &store.data_key, &opts.out)?;
    super::audit(
        dir,
        AuditEvent::new("backup", true)
            .with("by", store.keyring.unlocked_with())
            .with("to", opts.out.display().to_string()),
    );
    println!(
        "Backup written to {} ({} bytes, schema version {}). It is encrypted and opens with the passphrases valid now.",
        opts.out.display(),
        report.bytes,
        report.schema_version
    );
    Ok(ExitCode::SUCCESS)
}
