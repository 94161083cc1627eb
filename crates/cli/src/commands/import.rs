//! `import`: the legacy CSV seed files, all or nothing.

use std::process::ExitCode;

use anyhow::Result;
use cardsgalore_store::{import_csv, open_connection, DataDir, ImportOptions, OnConflict};

use crate::cli::{ImportOpts, OnConflictArg, PassphraseArgs};
use crate::progress;

pub fn run(dir: &DataDir, pass: &PassphraseArgs, opts: ImportOpts) -> Result<ExitCode> {
    dir.require_initialized()?;
    let _lock = dir.lock_shared()?;
    let store = super::unlock(dir, pass)?;
    let mut conn = open_connection(&dir.db_path(), &store.data_key)?;
    let options = ImportOptions {
        on_conflict: match opts.on_conflict {
            OnConflictArg::Error => OnConflict::Error,
            OnConflictArg::Skip => OnConflict::Skip,
            OnConflictArg::Update => OnConflict::Update,
        },
        dry_run: opts.dry_run,
    };
    let bar = progress::bar("importing", true);
    let report = import_csv(
        &mut conn,
        opts.products.as_deref(),
        opts.users.as_deref(),
        options,
        &mut progress::callback(&bar),
    );
    bar.finish_and_clear();
    let report = report?;
    let verb = if opts.dry_run {
        "Would import"
    } else {
        "Imported"
    };
    let parts = [
        ("products", opts.products.is_some(), report.products),
        ("users", opts.users.is_some(), report.users),
    ];
    for (what, _, counts) in parts.iter().filter(|p| p.1) {
        println!(
            "{verb} {what}: {} new, {} updated, {} skipped.",
            counts.inserted, counts.updated, counts.skipped
        );
    }
    if opts.dry_run {
        println!("Dry run: nothing was changed.");
    }
    Ok(ExitCode::SUCCESS)
}
