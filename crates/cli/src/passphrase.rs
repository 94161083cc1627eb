//! Reading passphrases: from a file descriptor, a file, or the terminal without echo. Never
//! from argv or the environment. Each is read once into a `SecretString`.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// Where a passphrase comes from.
pub enum Source<'a> {
    Fd(i32),
    File(&'a Path),
    Terminal,
}

impl<'a> Source<'a> {
    pub fn from_options(fd: Option<i32>, file: Option<&'a PathBuf>) -> Source<'a> {
        match (fd, file) {
            (Some(fd), _) => Source::Fd(fd),
            (None, Some(path)) => Source::File(path),
            (None, None) => Source::Terminal,
        }
    }
}

const MAX_BYTES: u64 = 4096;
const MIN_LEN: usize = 12;

/// Reads an existing passphrase (to unlock something).
pub fn read_existing(source: Source<'_>, prompt: &str) -> Result<SecretString> {
    let secret = match source {
        Source::Fd(fd) => read_first_line(&fd_path(fd), &format!("file descriptor {fd}"))?,
        Source::File(path) => {
            warn_if_exposed(path);
            read_first_line(path, &path.display().to_string())?
        }
        Source::Terminal => prompt_terminal(prompt)?,
    };
    if secret.expose_secret().is_empty() {
        bail!("the passphrase is empty");
    }
    Ok(secret)
}

/// Reads a new passphrase: asked twice on a terminal, and refused when empty or weak.
pub fn read_new(source: Source<'_>, what: &str) -> Result<SecretString> {
    let interactive = matches!(source, Source::Terminal);
    let secret = read_existing(source, &format!("New passphrase for {what}: "))?;
    check_strength(&secret)?;
    if interactive {
        let again = prompt_terminal("Repeat the new passphrase: ")?;
        if again.expose_secret() != secret.expose_secret() {
            bail!("the two passphrases differ");
        }
    }
    Ok(secret)
}

/// Refuses empty, short and easily guessed passphrases, saying why.
pub fn check_strength(secret: &SecretString) -> Result<()> {
    let text = secret.expose_secret();
    if text.chars().count() < MIN_LEN {
        bail!("the passphrase is too short: use at least {MIN_LEN} characters (a few unrelated words work well)");
    }
    let entropy = zxcvbn::zxcvbn(text, &["cardsgalore", "cards", "galore", "admin"]);
    if entropy.score() < zxcvbn::Score::Three {
        let hint = entropy
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "it would be guessed quickly".to_string());
        bail!("the passphrase is too weak: {hint}; add more unrelated words");
    }
    Ok(())
}

/// Asks a yes/no question on the terminal; without a terminal, `--yes` is required.
pub fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("not running on a terminal: pass --yes to confirm");
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        bail!("cancelled")
    }
}

fn fd_path(fd: i32) -> PathBuf {
    PathBuf::from(format!("/dev/fd/{fd}"))
}

fn read_first_line(path: &Path, what: &str) -> Result<SecretString> {
    let file =
        File::open(path).with_context(|| format!("cannot read the passphrase from {what}"))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read the passphrase from {what}"))?;
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    if end as u64 > MAX_BYTES {
        bail!("the passphrase from {what} is longer than {MAX_BYTES} bytes");
    }
    let mut line = &bytes[..end];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let text = std::str::from_utf8(line)
        .map_err(|_| anyhow!("the passphrase from {what} is not valid UTF-8"))?;
    Ok(SecretString::from(text.to_string()))
}

fn prompt_terminal(prompt: &str) -> Result<SecretString> {
    if File::open("/dev/tty").is_err() {
        bail!("no passphrase given and no terminal to ask on: use --passphrase-fd or --passphrase-file");
    }
    let text = rpassword::prompt_password(prompt)
        .context("cannot read the passphrase from the terminal")?;
    Ok(SecretString::from(text))
}

fn warn_if_exposed(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: {} is readable by group or others; make it mode 0600",
                path.display()
            );
        }
    }
}
