//! Crash safety: `rotate-key` and `passphrase change` are SIGKILLed at random moments; after
//! every kill the store must open, `verify` must pass and no row may be lost.
//! `CRASH_KILLS=N` sets the kills per operation (default 20; the long run uses 60).

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::*;

fn kills() -> usize {
    std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

/// A small xorshift generator; the seed is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("CRASH_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Starts `cardsgalore ARGS` with `stdin` written to it, kills it with SIGKILL after `delay`,
/// and returns whether it was still running when killed.
fn run_and_kill(env: &Env, args: &[&str], stdin: &str, delay: Duration) -> bool {
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(env.data())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    running
}

const DIGEST: &str = "SELECT count(*), total(id), sum(length(password)), group_concat(substr(username, -3), '') FROM users";

#[test]
fn rotate_key_killed_at_random_moments_loses_nothing() {
    let env = Env::new();
    env.init();
    let csv = env.users_csv("users.csv", 100_000);
    env.ok(&["import", "--users", csv.to_str().unwrap()]);
    let expected = env.sql(DIGEST);

    let started = Instant::now();
    env.ok(&["rotate-key", "--yes"]);
    let full = started.elapsed();

    let mut rng = Rng::new();
    let mut interrupted = 0;
    for i in 0..kills() {
        let delay = Duration::from_micros(rng.below(full.as_micros() as u64 * 13 / 10));
        let args = ["--passphrase-fd", "0", "rotate-key", "--yes"];
        if run_and_kill(&env, &args, &format!("{PASS}\n"), delay) {
            interrupted += 1;
        }
        let report = env.run(&["verify"]);
        assert!(
            report.status.success(),
            "kill {i} after {delay:?}: verify failed: {}{}",
            String::from_utf8_lossy(&report.stdout),
            stderr(&report)
        );
        assert_eq!(
            env.sql(DIGEST),
            expected,
            "kill {i} after {delay:?} lost rows"
        );
    }
    eprintln!(
        "{interrupted} of {} kills interrupted a rotation (one takes {full:?})",
        kills()
    );
    assert!(
        interrupted * 3 >= kills(),
        "too few kills landed inside a rotation"
    );
}

#[test]
fn passphrase_change_killed_at_random_moments_keeps_one_working_passphrase() {
    let env = Env::new();
    env.init();
    env.ok(&["import", "--users", "../../seed/users.csv"]);
    let expected = env.sql(DIGEST);
    let db = env.data().join("cardsgalore.db");
    let db_hash = sha256_file(&db);
    let passes = [PASS, "second passphrase for the crash test 5"];
    let files = [
        env.secret_file("p0", passes[0]),
        env.secret_file("p1", passes[1]),
    ];
    let kdf = ["--kdf-memory-kib", "8192", "--kdf-time", "1"];

    let change = |from: usize, to: usize| -> Vec<String> {
        let mut args: Vec<String> = ["--passphrase-file", files[from].to_str().unwrap()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for a in [
            "passphrase",
            "change",
            "--label",
            "admin",
            "--new-passphrase-file",
        ] {
            args.push(a.into());
        }
        args.push(files[to].to_str().unwrap().into());
        args.extend(kdf.iter().map(|s| s.to_string()));
        args
    };
    let started = Instant::now();
    let args = change(0, 1);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(env.run_with_stdin(&refs, "").status.success());
    let full = started.elapsed();
    let mut current = 1;

    let mut rng = Rng::new();
    let mut interrupted = 0;
    for i in 0..kills() {
        let delay = Duration::from_micros(rng.below(full.as_micros() as u64 * 13 / 10));
        let args = change(current, 1 - current);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        if run_and_kill(&env, &refs, "", delay) {
            interrupted += 1;
        }
        let works: Vec<usize> = (0..2)
            .filter(|&p| {
                let f = files[p].to_str().unwrap();
                env.run_with_stdin(&["--passphrase-file", f, "sql", "SELECT 1"], "")
                    .status
                    .success()
            })
            .collect();
        assert_eq!(
            works.len(),
            1,
            "kill {i} after {delay:?}: passphrases that work: {works:?}"
        );
        current = works[0];
        let f = files[current].to_str().unwrap();
        let out = env.run_with_stdin(&["--passphrase-file", f, "sql", DIGEST], "");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            expected,
            "kill {i}: rows changed"
        );
    }
    assert_eq!(
        db_hash,
        sha256_file(&db),
        "a passphrase change touched the database"
    );
    eprintln!(
        "{interrupted} of {} kills interrupted a passphrase change (one takes {full:?})",
        kills()
    );
    assert!(
        interrupted * 3 >= kills(),
        "too few kills landed inside a change"
    );
}
