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
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, without causes whose text the line already says
/// (an I/O or SQLite error is often both in its wrapper's message and its source).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        // rusqlite's innermost cause repeats the message behind "Error code N: ".
        let core = text
            .strip_prefix("Error code ")
            .and_then(|rest| rest.split_once(": "))
            .map_or(text.as_str(), |(_, message)| message);
        if line.contains(core) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
