//! `sql`: one statement on the encrypted database, printed as CSV.

use std::process::ExitCode;

use anyhow::Result;
use cardsgalore_store::{open_connection, run_sql, DataDir};

use crate::cli::{PassphraseArgs, SqlOpts};

pub fn run(dir: &DataDir, pass: &PassphraseArgs, opts: SqlOpts) -> Result<ExitCode> {
    dir.require_initialized()?;
    let _lock = dir.lock_shared()?;
    let store = super::unlock(dir, pass)?;
    let conn = open_connection(&dir.db_path(), &store.data_key)?;
    let mut out = std::io::stdout().lock();
    let changed = run_sql(&conn, &opts.query, opts.write, &mut out)?;
    if opts.write {
        eprintln!("{changed} row(s) changed.");
    }
    Ok(ExitCode::SUCCESS)
}
