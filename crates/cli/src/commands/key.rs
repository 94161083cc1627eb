//! `key export`: the raw database key, for the stock SQLCipher 4 tools.

use std::process::ExitCode;

use anyhow::Result;
use cardsgalore_store::{AuditEvent, DataDir};

use crate::cli::{KeyCommand, PassphraseArgs};
use crate::passphrase::confirm;

pub fn run(dir: &DataDir, pass: &PassphraseArgs, cmd: KeyCommand) -> Result<ExitCode> {
    let KeyCommand::Export(opts) = cmd;
    dir.require_initialized()?;
    let _lock = dir.lock_shared()?;
    let store = super::unlock(dir, pass)?;
    confirm(
        "Print the raw database key? Anyone who sees it can read the whole database until the next rotate-key.",
        opts.yes,
    )?;
    super::audit(
        dir,
        AuditEvent::new("key_export", true).with("by", store.keyring.unlocked_with()),
    );
    println!(
        "PRAGMA key = \"{}\";",
        store.data_key.sqlcipher_key().as_str()
    );
    eprintln!("Run `cardsgalore rotate-key` once the key is no longer needed outside.");
    Ok(ExitCode::SUCCESS)
}
