//! `migrate`: apply pending schema migrations.

use std::process::ExitCode;

use anyhow::Result;
use cardsgalore_store::{migrate, open_connection, schema_version, DataDir};

use crate::cli::PassphraseArgs;

pub fn run(dir: &DataDir, pass: &PassphraseArgs) -> Result<ExitCode> {
    dir.require_initialized()?;
    let _service = dir.lock_service("running migrations")?;
    let _lock = dir.lock_exclusive()?;
    let store = super::unlock(dir, pass)?;
    let mut conn = open_connection(&dir.db_path(), &store.data_key)?;
    let applied = migrate(&mut conn)?;
    let version = schema_version(&conn)?;
    if applied.is_empty() {
        println!("Schema is up to date (version {version}).");
    } else {
        println!("Applied {}; schema version {version}.", applied.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
