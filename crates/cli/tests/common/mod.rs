//! Helpers for driving the real `cardsgalore` binary as an operator would: temp data
//! directories, passphrases through `--passphrase-fd 0` or `--passphrase-file`, cheap Argon2id
//! parameters so tests stay fast.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const PASS: &str = "correct horse battery staple 42";
pub const CHEAP_KDF: [&str; 4] = ["--kdf-memory-kib", "64", "--kdf-time", "1"];

pub struct Env {
    pub tmp: tempfile::TempDir,
    /// The data directory (relative to `tmp`); `data` unless built with `with_data`.
    data_dir: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        Env::with_data("data")
    }

    /// An environment whose data directory is `tmp/<relative>` (e.g. inside a mount point).
    pub fn with_data(relative: &str) -> Env {
        Env {
            tmp: tempfile::tempdir().unwrap(),
            data_dir: PathBuf::from(relative),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub fn data(&self) -> PathBuf {
        self.tmp.path().join(&self.data_dir)
    }

    /// Writes a 0600 file holding `text` and returns its path.
    pub fn secret_file(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(name);
        std::fs::write(&path, format!("{text}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    /// Runs `cardsgalore --data-dir <data> ARGS` with `stdin` as its standard input.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(bin())
            .arg("--data-dir")
            .arg(self.data())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A command that needs no passphrase may exit before reading it.
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        child.wait_with_output().unwrap()
    }

    /// Runs a command with the passphrase `PASS` on file descriptor 0.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--passphrase-fd", "0"];
        all.extend_from_slice(args);
        self.run_with_stdin(&all, &format!("{PASS}\n"))
    }

    /// Like `run`, and asserts success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "cardsgalore {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn init(&self) {
        let mut args = vec!["init"];
        args.extend_from_slice(&CHEAP_KDF);
        self.ok(&args);
    }

    pub fn sql(&self, query: &str) -> String {
        self.ok(&["sql", query])
    }

    /// Writes `rows` generated legacy user rows as a CSV file and returns its path.
    pub fn users_csv(&self, name: &str, rows: usize) -> PathBuf {
        let mut text = String::new();
        for i in 0..rows {
            text.push_str(&format!(
                "{i},\"2020-10-01 12:51:48.124599\",user{i},000000000000000000000000000078d2${:064x}\n",
                i
            ));
        }
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cardsgalore")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn sha256_file(path: &Path) -> String {
    use std::process::Command;
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// Every regular file of a directory with its bytes.
pub fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// The 64-hex-character signature inside a JSON card file, if any.
pub fn card_signature(card: &[u8]) -> Option<String> {
    let marker = b"\"signature\": \"";
    let start = card.windows(marker.len()).position(|w| w == marker)? + marker.len();
    let hex = card.get(start..start + 64)?;
    hex.iter()
        .all(u8::is_ascii_hexdigit)
        .then(|| String::from_utf8_lossy(hex).into_owned())
}

/// A small xorshift generator; the seed comes from `seed_var` (or the clock) and is printed
/// so that a failure can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn from_env(seed_var: &str) -> Rng {
        let seed = std::env::var(seed_var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("{seed_var}={seed}");
        Rng(seed.max(1))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Text that must never reach a visitor or an operator: panics, internals, source paths.
pub const LEAKS: [&str; 6] = [
    "panicked",
    "rusqlite",
    "src/",
    "RUST_BACKTRACE",
    "stack backtrace",
    "SqliteFailure",
];

/// The first leak marker found in `text`.
pub fn leak(text: &str) -> Option<&'static str> {
    LEAKS.iter().copied().find(|m| text.contains(m))
}

/// The resident set size of a process in KiB (from /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs a Python script using the independent `sqlcipher3` binding (installed by .ci/run).
pub fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is installed");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub mod server;
