//! One file per subcommand, each with a `run`. Shared steps (unlocking) live here.

mod adopt;
mod audit;
mod backup;
mod control;
mod import;
mod init;
mod key;
mod migrate;
mod passphrase;
mod recovery_code;
mod restore;
mod rotate_key;
mod serve;
mod sql;
mod verify;

use std::process::ExitCode;

use anyhow::Result;
use cardsgalore_keyring::{KeyringError, SlotKind};
use cardsgalore_store::{open_store, AuditEvent, AuditLog, DataDir, OpenedStore, StoreError};

use crate::cli::{Cli, Command, PassphraseArgs};
use crate::passphrase::{read_existing, Source};

pub fn run(cli: Cli) -> Result<ExitCode> {
    let dir = DataDir::new(&cli.data_dir);
    let pass = &cli.passphrase;
    match cli.command {
        Command::Init(opts) => init::run(&dir, pass, opts),
        Command::Migrate => migrate::run(&dir, pass),
        Command::Import(opts) => import::run(&dir, pass, opts),
        Command::Sql(opts) => sql::run(&dir, pass, opts),
        Command::Verify => verify::run(&dir, pass),
        Command::Passphrase(cmd) => passphrase::run(&dir, pass, cmd),
        Command::RecoveryCode(opts) => recovery_code::run(&dir, pass, opts),
        Command::RotateKey(opts) => rotate_key::run(&dir, pass, opts),
        Command::Backup(opts) => backup::run(&dir, pass, opts),
        Command::Restore(opts) => restore::run(&dir, pass, opts),
        Command::Adopt(opts) => adopt::run(&dir, pass, opts),
        Command::Key(cmd) => key::run(&dir, pass, cmd),
        Command::Serve(opts) => serve::run(&dir, pass, opts),
        Command::Audit(cmd) => audit::run(&dir, cmd),
        Command::Unseal => control::unseal(&dir, pass),
        Command::Seal => control::seal(&dir),
        Command::Status => control::status(&dir),
    }
}

/// Reads the passphrase of `dir` (once) and unlocks its store. The caller has checked that
/// `dir` is initialized and holds a lock.
fn unlock(dir: &DataDir, pass: &PassphraseArgs) -> Result<OpenedStore> {
    let secret = read_existing(
        Source::from_options(pass.passphrase_fd, pass.passphrase_file.as_ref()),
        "Passphrase: ",
    )?;
    match open_store(dir, &secret) {
        Ok(store) => {
            let label = store.keyring.unlocked_with().to_string();
            let recovery = store
                .keyring
                .slots()
                .iter()
                .any(|s| s.label == label && s.kind == SlotKind::Recovery);
            if recovery {
                audit(
                    dir,
                    AuditEvent::new("recovery_code_used", true).with("slot", label),
                );
            }
            Ok(store)
        }
        Err(e @ StoreError::Keyring(KeyringError::WrongPassphrase)) => {
            audit(
                dir,
                AuditEvent::new("unlock", false).with("channel", "command line"),
            );
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Records a key event in the audit log; a failure to write it is reported, not fatal.
fn audit(dir: &DataDir, event: AuditEvent<'_>) {
    if let Err(e) = AuditLog::for_dir(dir).append(&event) {
        eprintln!("warning: could not write the audit log: {e}");
    }
}
