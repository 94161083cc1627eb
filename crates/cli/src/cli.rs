//! The command line, declared with clap derive.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::kdf::KdfArgs;

#[derive(Parser, Debug)]
#[command(
    name = "cardsgalore",
    version,
    about = "Cards Galore: gift card shop on an encrypted database"
)]
pub struct Cli {
    /// Data directory (keyring and encrypted database); created with mode 0700.
    #[arg(long, global = true, default_value = "./data", value_name = "DIR")]
    pub data_dir: PathBuf,

    #[command(flatten)]
    pub passphrase: PassphraseArgs,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    pub fn is_serve(&self) -> bool {
        matches!(self.command, Command::Serve(_))
    }
}

/// The passphrase that unlocks the target data directory (for `init` and `adopt`: the first
/// slot's passphrase; for `restore`: a passphrase of the backup). Without either option it is
/// asked on the terminal. There is deliberately no way to give it in argv or the environment.
#[derive(Args, Debug, Default)]
pub struct PassphraseArgs {
    /// Read the passphrase from this open file descriptor (first line).
    #[arg(
        long,
        global = true,
        value_name = "N",
        conflicts_with = "passphrase_file"
    )]
    pub passphrase_fd: Option<i32>,
    /// Read the passphrase from the first line of this file.
    #[arg(long, global = true, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
}

/// The passphrase being added or set by `passphrase add` or `passphrase change`.
#[derive(Args, Debug, Default)]
pub struct NewPassphraseArgs {
    /// Read the new passphrase from this open file descriptor (first line).
    #[arg(long, value_name = "N", conflicts_with = "new_passphrase_file")]
    pub new_passphrase_fd: Option<i32>,
    /// Read the new passphrase from the first line of this file.
    #[arg(long, value_name = "PATH")]
    pub new_passphrase_file: Option<PathBuf>,
}

/// The passphrase of a passphrase-keyed source database (`adopt --from-passphrase`).
#[derive(Args, Debug, Default)]
pub struct SourcePassphraseArgs {
    /// Read the source database's passphrase from this open file descriptor (first line).
    #[arg(long, value_name = "N", conflicts_with = "source_passphrase_file")]
    pub source_passphrase_fd: Option<i32>,
    /// Read the source database's passphrase from the first line of this file.
    #[arg(long, value_name = "PATH")]
    pub source_passphrase_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a data directory: keyring, encrypted database, schema and product catalog.
    Init(InitOpts),
    /// Apply pending schema migrations.
    Migrate,
    /// Import the legacy CSV seed files (no header row), all or nothing.
    Import(ImportOpts),
    /// Run one SQL statement and print the result as CSV (read-only unless --write).
    Sql(SqlOpts),
    /// Check the keyring, the key, every page of the database, and for plaintext files.
    Verify,
    /// Manage admin passphrase keyslots.
    #[command(subcommand)]
    Passphrase(PassphraseCommand),
    /// Add a recovery-code keyslot and print the code once.
    RecoveryCode(RecoveryCodeOpts),
    /// Re-encrypt every page of the database under a new random data key.
    RotateKey(ConfirmOpts),
    /// Write a consistent encrypted copy of the database and keyring to a new directory.
    Backup(BackupOpts),
    /// Restore a backup into an empty data directory.
    Restore(RestoreOpts),
    /// Build a new data directory from a legacy database (plaintext or passphrase-keyed).
    Adopt(AdoptOpts),
    /// Export the raw database key for the stock SQLCipher 4 tools.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Serve the shop.
    Serve(ServeOpts),
    /// Unseal the running service (sends the passphrase over its control socket).
    Unseal,
    /// Seal the running service: every key dropped from memory, the shop in maintenance.
    Seal,
    /// Report whether the service is sealed, its keyslots, last unseal and database size.
    Status,
    /// The audit log of key events.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain of the audit log; exit status 1 if a line was edited or removed.
    Verify,
}

#[derive(Args, Debug)]
pub struct InitOpts {
    /// Label of the first passphrase slot.
    #[arg(long, default_value = "admin")]
    pub label: String,
    #[command(flatten)]
    pub kdf: KdfArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OnConflictArg {
    Error,
    Skip,
    Update,
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("files").required(true).multiple(true))]
pub struct ImportOpts {
    /// products.csv: id, name, image path, price, description.
    #[arg(long, value_name = "FILE", group = "files")]
    pub products: Option<PathBuf>,
    /// users.csv: id, last_login, username, password record.
    #[arg(long, value_name = "FILE", group = "files")]
    pub users: Option<PathBuf>,
    /// What to do with a row whose key already exists.
    #[arg(long, value_enum, default_value = "error")]
    pub on_conflict: OnConflictArg,
    /// Check everything, import nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct SqlOpts {
    /// The SQL statement.
    pub query: String,
    /// Allow statements that change the database.
    #[arg(long)]
    pub write: bool,
}

#[derive(Subcommand, Debug)]
pub enum PassphraseCommand {
    /// List keyslots (labels, kinds, Argon2id parameters).
    List,
    /// Add a passphrase slot.
    Add(SlotOpts),
    /// Change the passphrase of a slot.
    Change(SlotOpts),
    /// Remove a slot (the last passphrase slot cannot be removed).
    Remove(RemoveOpts),
}

#[derive(Args, Debug)]
pub struct SlotOpts {
    #[arg(long)]
    pub label: String,
    #[command(flatten)]
    pub new_passphrase: NewPassphraseArgs,
    #[command(flatten)]
    pub kdf: KdfArgs,
}

#[derive(Args, Debug)]
pub struct RemoveOpts {
    #[arg(long)]
    pub label: String,
}

#[derive(Args, Debug)]
pub struct RecoveryCodeOpts {
    #[command(flatten)]
    pub kdf: KdfArgs,
}

#[derive(Args, Debug)]
pub struct ConfirmOpts {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Args, Debug)]
pub struct BackupOpts {
    /// New directory to write the backup to.
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct RestoreOpts {
    /// Backup directory written by `cardsgalore backup`.
    pub from: PathBuf,
    #[command(flatten)]
    pub confirm: ConfirmOpts,
}

#[derive(Args, Debug)]
pub struct AdoptOpts {
    /// The legacy database file.
    pub source: PathBuf,
    /// The source is a SQLCipher 4 file keyed with a passphrase.
    #[arg(long)]
    pub from_passphrase: bool,
    #[command(flatten)]
    pub source_passphrase: SourcePassphraseArgs,
    /// Label of the new directory's first passphrase slot.
    #[arg(long, default_value = "admin")]
    pub label: String,
    #[command(flatten)]
    pub kdf: KdfArgs,
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Print `PRAGMA key = "x'…'";` for the stock SQLCipher 4 shell.
    Export(ConfirmOpts),
}

#[derive(Args, Debug)]
pub struct ServeOpts {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Mark the session cookie Secure (set when TLS is terminated in front of the shop).
    #[arg(long)]
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-Proto` and `X-Forwarded-For` from a reverse proxy.
    #[arg(long)]
    pub trust_proxy: bool,
    /// Start sealed: serve the maintenance page until an admin unseals the shop. This is also
    /// what happens with no terminal and no passphrase source (e.g. under systemd).
    #[arg(long, conflicts_with_all = ["ask_password"])]
    pub sealed: bool,
    /// Ask for the passphrase with `systemd-ask-password` (automation; weaker than unsealing
    /// by hand, see the runbook).
    #[arg(long)]
    pub ask_password: bool,
    /// Database connections in the pool.
    #[arg(long, default_value_t = 8)]
    pub pool_size: u32,
    #[command(flatten)]
    pub kdf: KdfArgs,
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
