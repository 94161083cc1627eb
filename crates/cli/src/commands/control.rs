//! `unseal`, `seal` and `status`: talk to the running service over its control socket.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use cardsgalore_keyring::Keyring;
use cardsgalore_store::DataDir;
use cardsgalore_vault::{request, ControlRequest, ControlResponse};

use crate::cli::PassphraseArgs;
use crate::passphrase::{read_existing, Source};

pub fn unseal(dir: &DataDir, pass: &PassphraseArgs) -> Result<ExitCode> {
    dir.require_initialized()?;
    let secret = read_existing(
        Source::from_options(pass.passphrase_fd, pass.passphrase_file.as_ref()),
        "Passphrase to unseal the shop: ",
    )?;
    eprintln!("Unsealing (Argon2id takes about a second per keyslot tried)...");
    let response = send(dir, ControlRequest::Unseal(&secret))?;
    drop(secret);
    finish(response)
}

pub fn seal(dir: &DataDir) -> Result<ExitCode> {
    dir.require_initialized()?;
    finish(send(dir, ControlRequest::Seal)?)
}

pub fn status(dir: &DataDir) -> Result<ExitCode> {
    dir.require_initialized()?;
    match request(dir, ControlRequest::Status) {
        Ok(ControlResponse {
            status: Some(s), ..
        }) => {
            println!(
                "service: running, {}",
                if s.sealed { "SEALED" } else { "unsealed" }
            );
            println!("keyslots: {}", s.slots.join(", "));
            match s.last_unseal {
                Some(l) => println!(
                    "last unseal: {} with slot '{}' via {}",
                    l.at, l.slot, l.channel
                ),
                None => println!("last unseal: never since start"),
            }
            println!("database: {} bytes", s.database_bytes);
            match s.schema_version {
                Some(v) => println!("schema version: {v}"),
                None => println!("schema version: unknown while sealed"),
            }
        }
        Ok(other) => bail!("the service answered: {}", other.message),
        Err(_) => {
            let keyring = Keyring::load(&dir.keyring_path())?;
            let labels: Vec<String> = keyring.slots().into_iter().map(|s| s.label).collect();
            println!("service: not running");
            println!("keyslots: {}", labels.join(", "));
            let bytes = std::fs::metadata(dir.db_path())
                .map(|m| m.len())
                .unwrap_or(0);
            println!("database: {bytes} bytes");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn send(dir: &DataDir, req: ControlRequest<'_>) -> Result<ControlResponse> {
    request(dir, req).with_context(|| {
        format!(
            "no running service answers on {}/control.sock (is `cardsgalore serve` running?)",
            dir.root().display()
        )
    })
}

fn finish(response: ControlResponse) -> Result<ExitCode> {
    if response.ok {
        println!("{}", response.message);
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("{}", response.message)
    }
}
