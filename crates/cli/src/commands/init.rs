//! `init`: a new data directory with the built-in product catalog.

use std::process::ExitCode;

use anyhow::Result;
use cardsgalore_store::{create_store, load_catalog, AuditEvent, DataDir};

use crate::cli::{InitOpts, PassphraseArgs};
use crate::passphrase::{read_new, Source};

pub fn run(dir: &DataDir, pass: &PassphraseArgs, opts: InitOpts) -> Result<ExitCode> {
    if !dir.is_vacant()? {
        anyhow::bail!(
            "{} already exists and is not empty; refusing to touch it",
            dir.root().display()
        );
    }
    let kdf = opts.kdf.resolve()?;
    let secret = read_new(
        Source::from_options(pass.passphrase_fd, pass.passphrase_file.as_ref()),
        &format!("slot '{}'", opts.label),
    )?;
    let mut products = 0;
    create_store(dir, &opts.label, &secret, kdf, |conn| {
        products = load_catalog(conn)?.products.inserted;
        Ok(())
    })?;
    super::audit(
        dir,
        AuditEvent::new("keyring_created", true).with("slot", opts.label.as_str()),
    );
    println!(
        "Created {}: keyring with passphrase slot '{}' ({kdf}), encrypted database with {products} products.",
        dir.root().display(),
        opts.label
    );
    Ok(ExitCode::SUCCESS)
}
