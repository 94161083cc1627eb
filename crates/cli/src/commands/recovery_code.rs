//! `recovery-code`: add a recovery slot; the code is printed once and never stored.

use std::process::ExitCode;

use anyhow::Result;
use cardsgalore_store::{AuditEvent, DataDir};

use crate::cli::{PassphraseArgs, RecoveryCodeOpts};

pub fn run(dir: &DataDir, pass: &PassphraseArgs, opts: RecoveryCodeOpts) -> Result<ExitCode> {
    dir.require_initialized()?;
    let kdf = opts.kdf.resolve()?;
    let _lock = dir.lock_exclusive()?;
    let mut store = super::unlock(dir, pass)?;
    let (label, code) = store.keyring.add_recovery_code(kdf)?;
    store.keyring.save(&dir.keyring_path())?;
    super::audit(
        dir,
        AuditEvent::new("recovery_code_added", true)
            .with("slot", label.as_str())
            .with("by", store.keyring.unlocked_with()),
    );
    eprintln!("Added recovery slot '{label}'. Write the code down and keep it offline; it is shown only once:");
    println!("{}", code.expose());
    Ok(ExitCode::SUCCESS)
}
