//! `passphrase list|add|change|remove`: keyslot management. Only the keyring is rewritten.

use std::process::ExitCode;

use anyhow::Result;
use cardsgalore_keyring::Keyring;
use cardsgalore_store::{AuditEvent, DataDir};

use crate::cli::{PassphraseArgs, PassphraseCommand};
use crate::passphrase::{read_new, Source};

pub fn run(dir: &DataDir, pass: &PassphraseArgs, cmd: PassphraseCommand) -> Result<ExitCode> {
    dir.require_initialized()?;
    if let PassphraseCommand::List = cmd {
        let _lock = dir.lock_shared()?;
        let keyring = Keyring::load(&dir.keyring_path())?;
        println!("label,kind,created,kdf");
        for slot in keyring.slots() {
            println!("{},{},{},{}", slot.label, slot.kind, slot.created, slot.kdf);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let _lock = dir.lock_exclusive()?;
    let mut store = super::unlock(dir, pass)?;
    let (event, label, message) = match cmd {
        PassphraseCommand::List => unreachable!("handled above"),
        PassphraseCommand::Add(opts) => {
            let kdf = opts.kdf.resolve()?;
            let new = read_new(
                Source::from_options(
                    opts.new_passphrase.new_passphrase_fd,
                    opts.new_passphrase.new_passphrase_file.as_ref(),
                ),
                &format!("slot '{}'", opts.label),
            )?;
            store.keyring.add_passphrase(&opts.label, &new, kdf)?;
            let message = format!("Added passphrase slot '{}'.", opts.label);
            ("passphrase_added", opts.label, message)
        }
        PassphraseCommand::Change(opts) => {
            let kdf = opts.kdf.resolve()?;
            let new = read_new(
                Source::from_options(
                    opts.new_passphrase.new_passphrase_fd,
                    opts.new_passphrase.new_passphrase_file.as_ref(),
                ),
                &format!("slot '{}'", opts.label),
            )?;
            store.keyring.change_passphrase(&opts.label, &new, kdf)?;
            let message = format!("Changed the passphrase of slot '{}'.", opts.label);
            ("passphrase_changed", opts.label, message)
        }
        PassphraseCommand::Remove(opts) => {
            store.keyring.remove_slot(&opts.label)?;
            let message = format!("Removed slot '{}'.", opts.label);
            ("passphrase_removed", opts.label, message)
        }
    };
    store.keyring.save(&dir.keyring_path())?;
    super::audit(
        dir,
        AuditEvent::new(event, true)
            .with("slot", label)
            .with("by", store.keyring.unlocked_with()),
    );
    println!("{message} The database was not touched.");
    Ok(ExitCode::SUCCESS)
}
