//! `serve`: the shop. On a fresh machine it offers to create the data directory; otherwise
//! it unseals with the passphrase from a file descriptor, a file, `systemd-ask-password` or
//! the terminal, or, with none of these (or `--sealed`), starts sealed and waits for an admin
//! to unseal it through the control socket or the admin page.

use std::io::IsTerminal;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use cardsgalore_site::{AppState, SiteSettings};
use cardsgalore_store::{create_store, load_catalog, AuditEvent, DataDir};
use cardsgalore_vault::{harden_process, serve_control_socket, UnsealError, Vault, CONTROL_SOCKET};
use secrecy::SecretString;

use crate::cli::{PassphraseArgs, ServeOpts};
use crate::passphrase::{confirm, read_existing, read_new, Source};

const TERMINAL_TRIES: usize = 3;

pub fn run(dir: &DataDir, pass: &PassphraseArgs, opts: ServeOpts) -> Result<ExitCode> {
    for warning in harden_process() {
        eprintln!("warning: {warning}");
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let given = pass.passphrase_fd.is_some() || pass.passphrase_file.is_some();

    let mut first_passphrase = None;
    if let Err(missing) = dir.require_initialized() {
        if opts.sealed || given || !interactive {
            return Err(missing.into());
        }
        first_passphrase = Some(create_interactively(dir, &opts)?);
    }
    let _service = dir.lock_service("starting a second server")?;
    let vault = Arc::new(Vault::new(dir.clone(), opts.pool_size));

    if let Some(secret) = first_passphrase {
        vault.unseal(&secret, "terminal", "local")?;
    } else if given {
        let secret = read_existing(
            Source::from_options(pass.passphrase_fd, pass.passphrase_file.as_ref()),
            "",
        )?;
        vault.unseal(&secret, "passphrase file", "local")?;
    } else if opts.ask_password {
        let secret = ask_password()?;
        vault.unseal(&secret, "systemd-ask-password", "local")?;
    } else if interactive && !opts.sealed {
        unseal_on_terminal(&vault)?;
    } else {
        eprintln!(
            "Starting SEALED: unseal with `cardsgalore --data-dir {} unseal` or at /admin/unseal.",
            dir.root().display()
        );
    }

    let settings = SiteSettings {
        secure_cookies: opts.secure_cookies,
        trust_proxy: opts.trust_proxy,
        ..SiteSettings::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("cannot listen on {}", opts.listen))?;
        let control = tokio::spawn(serve_control_socket(vault.clone()));
        let state = AppState::new(vault.clone(), settings);
        println!(
            "Cards Galore is serving on http://{} ({}).",
            listener.local_addr().unwrap_or(opts.listen),
            if vault.is_sealed() {
                "sealed"
            } else {
                "unsealed"
            }
        );
        let served = cardsgalore_site::serve(listener, state, shutdown_signal()).await;
        control.abort();
        served
    });
    vault.seal("shutdown");
    let _ = std::fs::remove_file(dir.root().join(CONTROL_SOCKET));
    result?;
    Ok(ExitCode::SUCCESS)
}

/// First start on a fresh machine: offer to create the data directory.
fn create_interactively(dir: &DataDir, opts: &ServeOpts) -> Result<SecretString> {
    confirm(
        &format!(
            "There is no data directory at {}. Create one now?",
            dir.root().display()
        ),
        false,
    )?;
    let kdf = opts.kdf.resolve()?;
    let secret = read_new(Source::Terminal, "slot 'admin'")?;
    create_store(dir, "admin", &secret, kdf, |conn| {
        load_catalog(conn)?;
        Ok(())
    })?;
    if let Err(e) = cardsgalore_store::AuditLog::for_dir(dir)
        .append(&AuditEvent::new("keyring_created", true).with("slot", "admin"))
    {
        eprintln!("warning: could not write the audit log: {e}");
    }
    eprintln!(
        "Created {} with passphrase slot 'admin'.",
        dir.root().display()
    );
    Ok(secret)
}

fn unseal_on_terminal(vault: &Vault) -> Result<()> {
    for attempt in 1..=TERMINAL_TRIES {
        let secret = read_existing(Source::Terminal, "Passphrase to unseal the shop: ")?;
        eprintln!("Unsealing...");
        match vault.unseal(&secret, "terminal", "local") {
            Ok(slot) => {
                eprintln!("Unsealed with slot '{slot}'.");
                return Ok(());
            }
            Err(e @ (UnsealError::WrongPassphrase | UnsealError::TooSoon(_)))
                if attempt < TERMINAL_TRIES =>
            {
                eprintln!("{e}; try again.");
            }
            Err(e) => return Err(e.into()),
        }
    }
    bail!("could not unseal")
}

/// Reads the passphrase through `systemd-ask-password` (a fixed command line, no input in it).
fn ask_password() -> Result<SecretString> {
    let output = Command::new("systemd-ask-password")
        .args(["--timeout=0", "Cards Galore passphrase:"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run systemd-ask-password")?;
    if !output.status.success() {
        bail!("systemd-ask-password failed");
    }
    let mut bytes = zeroize::Zeroizing::new(output.stdout);
    while bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    let text = std::str::from_utf8(&bytes).context("the passphrase is not valid UTF-8")?;
    Ok(SecretString::from(text))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
