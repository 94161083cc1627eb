//! `adopt SRC`: a new data directory from a legacy database.

use std::process::ExitCode;

use anyhow::{bail, Result};
use cardsgalore_store::{adopt, AdoptSource, AuditEvent, DataDir};

use crate::cli::{AdoptOpts, PassphraseArgs};
use crate::passphrase::{read_existing, read_new, Source};

pub fn run(dir: &DataDir, pass: &PassphraseArgs, opts: AdoptOpts) -> Result<ExitCode> {
    if !dir.is_vacant()? {
        bail!(
            "{} already exists and is not empty; refusing to touch it",
            dir.root().display()
        );
    }
    let source_secret = if opts.from_passphrase {
        Some(read_existing(
            Source::from_options(
                opts.source_passphrase.source_passphrase_fd,
                opts.source_passphrase.source_passphrase_file.as_ref(),
            ),
            "Passphrase of the source database: ",
        )?)
    } else {
        None
    };
    let kdf = opts.kdf.resolve()?;
    let secret = read_new(
        Source::from_options(pass.passphrase_fd, pass.passphrase_file.as_ref()),
        &format!("slot '{}'", opts.label),
    )?;
    let source = match &source_secret {
        Some(s) => AdoptSource::Passphrase(&opts.source, s),
        None => AdoptSource::Plaintext(&opts.source),
    };
    let report = adopt(source, dir, &opts.label, &secret, kdf)?;
    super::audit(
        dir,
        AuditEvent::new("keyring_created", true)
            .with("slot", opts.label.as_str())
            .with("adopted_from", opts.source.display().to_string()),
    );
    println!(
        "Adopted {} into {}: {} users, {} products, {} cards. The source was not modified.",
        opts.source.display(),
        dir.root().display(),
        report.users,
        report.products,
        report.cards
    );
    eprintln!(
        "Reminder: destroy the old source and every copy of it (for example `shred -u {}`); it is not protected by the new keys.",
        opts.source.display()
    );
    Ok(ExitCode::SUCCESS)
}
