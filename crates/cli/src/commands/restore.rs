//! `restore IN`: a backup into an empty data directory.

use std::process::ExitCode;

use anyhow::{bail, Result};
use cardsgalore_store::{restore, AuditEvent, DataDir};

use crate::cli::{PassphraseArgs, RestoreOpts};
use crate::passphrase::{confirm, read_existing, Source};

pub fn run(dir: &DataDir, pass: &PassphraseArgs, opts: RestoreOpts) -> Result<ExitCode> {
    if !dir.is_vacant()? {
        bail!(
            "{} is not empty: restore only into an empty or new data directory",
            dir.root().display()
        );
    }
    confirm(
        &format!(
            "Restore {} into {}?",
            opts.from.display(),
            dir.root().display()
        ),
        opts.confirm.yes,
    )?;
    let secret = read_existing(
        Source::from_options(pass.passphrase_fd, pass.passphrase_file.as_ref()),
        "Passphrase of the backup: ",
    )?;
    restore(&opts.from, dir, &secret)?;
    super::audit(
        dir,
        AuditEvent::new("restore", true).with("from", opts.from.display().to_string()),
    );
    println!(
        "Restored {} into {}; every page verified.",
        opts.from.display(),
        dir.root().display()
    );
    Ok(ExitCode::SUCCESS)
}
