//! `cardsgalore`: the shop's server and its admin command line. Parsing and dispatch only;
//! each subcommand lives in `commands/`.

mod cli;
mod commands;
mod kdf;
mod passphrase;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let default_level = if cli.is_serve() { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CARDSGALORE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
