//! `serve`: the shop (wired to the site crate once it lands).

use std::process::ExitCode;

use anyhow::{bail, Result};
use cardsgalore_store::DataDir;

use crate::cli::{PassphraseArgs, ServeOpts};

pub fn run(_dir: &DataDir, _pass: &PassphraseArgs, _opts: ServeOpts) -> Result<ExitCode> {
    bail!("serve is not available yet")
}
