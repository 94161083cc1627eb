//! Disk faults: a full disk and a read-only data directory during `import`, `rotate-key` and
//! purchases on the running site. Every failure must be a clear one-line error (or an error
//! page), and the database must afterwards open, pass `verify` and hold exactly what it held.
//!
//! The data directory lives on a small tmpfs mounted for the test (`mount -t tmpfs`), so these
//! tests need root (CI runs as root); without it they say so and skip. Every mount is undone by
//! a guard, even when a test fails.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::server::{form_token, Browser, Server};
use common::*;

/// A tmpfs mounted on a directory; unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0")
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "16m") on `dir`; `None` (and a notice) when not root.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        if !is_root() {
            eprintln!("SKIPPED: disk fault tests need root to mount a tmpfs");
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs on {dir:?}");
        Some(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.dir)
            .status()
            .unwrap();
        assert!(status.success(), "remount {mode} {:?}", self.dir);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Fills the filesystem of `dir` until writes fail, then frees `slack` bytes. Returns the
/// filler file (delete it to free the space).
fn fill(dir: &Path, slack: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    for chunk in [1 << 20, 4096, 512] {
        let block = vec![0x5au8; chunk];
        // Bounded: a tmpfs of a few MiB fills in a few thousand writes.
        for _ in 0..100_000 {
            if file.write_all(&block).is_err() {
                break;
            }
        }
    }
    let _ = file.sync_all();
    let len = file.metadata().unwrap().len();
    file.set_len(len.saturating_sub(slack)).unwrap();
    path
}

/// Users and cards, independent of scan order.
const STATE: &str = "SELECT (SELECT count(*) FROM users) AS users, \
     (SELECT sum(length(password)) FROM users) AS pw, \
     (SELECT count(*) FROM cards) AS cards, \
     (SELECT group_concat(signature, ' ') FROM (SELECT signature FROM cards ORDER BY id)) AS sigs";

/// The names in the data directory, without SQLite's side files and the lock files.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm") && !n.ends_with(".lock"))
        .collect();
    names.sort();
    names
}

/// Asserts that a command failed with a clear error: non-zero exit, an `error:` line that
/// says what went wrong (`expect`, one of), no panic or internals.
fn assert_clear_error(out: &Output, what: &str, expect: &[&str]) {
    let err = stderr(out);
    assert!(!out.status.success(), "{what} succeeded: {err}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: not a clean exit: {err}"
    );
    assert!(leak(&err).is_none(), "{what}: leaks internals: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{what}: not one error line: {err}");
    assert!(
        expect.iter().any(|e| errors[0].contains(e)),
        "{what}: unclear error: {err}"
    );
    let parts: Vec<&str> = errors[0].split(": ").collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].contains(part),
            "{what}: the error repeats itself: {}",
            errors[0]
        );
    }
    eprintln!("{what}: {}", errors[0]);
}

fn assert_verifies(env: &Env, what: &str) {
    let out = env.run(&["verify"]);
    assert!(
        out.status.success(),
        "{what}: verify failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

const FULL: [&str; 3] = ["full", "No space left", "space"];

#[test]
fn a_full_disk_fails_import_and_rotation_cleanly_and_changes_nothing() {
    let env = Env::with_data("mnt/data");
    let Some(mnt) = Tmpfs::mount(&env.path("mnt"), "24m") else {
        return;
    };
    env.init();
    let base = env.users_csv("base.csv", 20_000);
    env.ok(&["import", "--users", base.to_str().unwrap()]);
    let big = env.users_csv("big.csv", 150_000);
    let renamed = std::fs::read_to_string(&big)
        .unwrap()
        .replace(",user", ",bulk");
    std::fs::write(&big, renamed).unwrap();
    let big = big.to_str().unwrap();
    for i in 0..5 {
        env.ok(&["sql", "--write", &format!("INSERT INTO cards (data, product_id, amount, user_id, signature, used, legacy, created_at) VALUES (x'7b7d{i:02x}', 1, 10, 1, '{:064x}', 0, 0, '2024-01-01 00:00:00')", i)]);
    }
    let state = env.sql(STATE);
    let files = names(&env.data());
    let key = env.ok(&["key", "export", "--yes"]);

    let filler = fill(&mnt.dir, 256 * 1024);
    let import = env.run(&["import", "--users", big]);
    assert_clear_error(&import, "import on a full disk", &FULL);
    assert_eq!(
        env.sql(STATE),
        state,
        "a failed import changed the database"
    );
    assert_verifies(&env, "after the failed import");

    let rotate = env.run(&["rotate-key", "--yes"]);
    assert_clear_error(&rotate, "rotate-key on a full disk", &FULL);
    assert_eq!(
        env.ok(&["key", "export", "--yes"]),
        key,
        "a failed rotation changed the key"
    );
    assert_eq!(
        env.sql(STATE),
        state,
        "a failed rotation changed the database"
    );
    assert_verifies(&env, "after the failed rotation");
    assert_eq!(
        names(&env.data()),
        files,
        "files left behind on a full disk"
    );

    // Space freed: the same store, and both operations now work.
    std::fs::remove_file(filler).unwrap();
    assert_verifies(&env, "after freeing space");
    assert_eq!(env.sql(STATE), state);
    assert_eq!(names(&env.data()), files);
    env.ok(&["rotate-key", "--yes"]);
    let small = env.users_csv("small.csv", 1000);
    let renamed = std::fs::read_to_string(&small)
        .unwrap()
        .replace(",user", ",late");
    std::fs::write(&small, renamed).unwrap();
    env.ok(&["import", "--users", small.to_str().unwrap()]);
    assert_verifies(&env, "after import and rotation");
}

/// Buys product 1 with a bounded client; `Ok(Some(card))` for an acknowledged purchase,
/// `Ok(None)` for an error page (checked to be a clean HTML page), `Err` for no answer.
fn buy_checked(b: &Browser, what: &str) -> Result<Option<Vec<u8>>, String> {
    let page = b
        .http
        .get(format!("{}/buy/1", b.base))
        .send()
        .map_err(|e| format!("{what}: GET /buy/1: {e}"))?;
    let status = page.status().as_u16();
    let html = page.text().map_err(|e| e.to_string())?;
    assert!(leak(&html).is_none(), "{what}: GET /buy/1 leaks: {html}");
    if status != 200 {
        assert!(
            html.contains("<html") || html.contains("<!DOCTYPE"),
            "{what}: {status} not a page"
        );
        return Ok(None);
    }
    let token = form_token(&html);
    let r = b
        .http
        .post(format!("{}/buy/1", b.base))
        .form(&[("csrf_token", token.as_str()), ("amount", "25")])
        .send()
        .map_err(|e| format!("{what}: POST /buy/1: {e}"))?;
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    let body = r.bytes().map_err(|e| e.to_string())?.to_vec();
    if status == 200 {
        return Ok(Some(body));
    }
    let text = String::from_utf8_lossy(&body);
    assert!(
        (400..600).contains(&status) && content_type.starts_with("text/html"),
        "{what}: {status} {content_type}"
    );
    assert!(leak(&text).is_none(), "{what}: error page leaks: {text}");
    if status == 503 {
        assert!(
            text.contains("cannot store anything right now"),
            "{what}: {text}"
        );
    }
    Ok(None)
}

#[test]
fn a_full_disk_under_the_running_site_gives_error_pages_and_loses_no_acknowledged_card() {
    let env = Env::with_data("mnt/data");
    let Some(mnt) = Tmpfs::mount(&env.path("mnt"), "16m") else {
        return;
    };
    env.init();
    let mut server = Server::unsealed(&env);
    let shopper = server.browser();
    shopper.register_and_login("fullshopper", "a long shopper password 1");
    let mut acknowledged = Vec::new();
    for _ in 0..5 {
        acknowledged.push(buy_checked(&shopper, "before").unwrap().unwrap());
    }

    let filler = fill(&mnt.dir, 0);
    let (mut refused, mut ok_while_full) = (0, 0);
    let started = Instant::now();
    for i in 0..200 {
        match buy_checked(&shopper, &format!("full disk purchase {i}")) {
            Ok(Some(card)) => {
                ok_while_full += 1;
                acknowledged.push(card);
            }
            Ok(None) => refused += 1,
            Err(e) => panic!("the site stopped answering on a full disk: {e}"),
        }
    }
    let elapsed = started.elapsed();
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );
    eprintln!("full disk: {refused} purchases refused with an error page, {ok_while_full} fitted, in {elapsed:?}");
    assert!(refused > 0, "the disk never filled up");
    let log = std::fs::read_to_string(env.path("server.log")).unwrap_or_default();
    assert!(
        log.contains("status=503"),
        "no 503 page was served on the full disk"
    );
    assert!(
        !log.contains("status=500"),
        "a full disk gave a 500 instead of the 503 page"
    );
    assert!(
        elapsed < Duration::from_secs(60),
        "purchases on a full disk were slow: {elapsed:?}"
    );
    let home = server.status("/");
    assert!(home == 200 || (400..600).contains(&home), "GET / {home}");

    // Space freed: the running site recovers without a restart.
    std::fs::remove_file(filler).unwrap();
    for i in 0..5 {
        let card = buy_checked(&shopper, &format!("after freeing {i}"))
            .unwrap()
            .unwrap_or_else(|| panic!("purchase {i} after freeing space was refused"));
        acknowledged.push(card);
    }
    server.kill();
    server = Server::start(&env, &[], None);
    assert!(env.run(&["unseal"]).status.success());
    assert_verifies(&env, "after the full disk");
    let stored = env.sql("SELECT signature FROM cards");
    let stored: std::collections::HashSet<&str> = stored.lines().skip(1).collect();
    assert_eq!(
        stored.len(),
        acknowledged.len(),
        "cards stored vs acknowledged"
    );
    for card in &acknowledged {
        let sig = card_signature(card).unwrap();
        assert!(
            stored.contains(sig.as_str()),
            "acknowledged card {sig} lost"
        );
    }
    drop(server);
}

/// Runs a command that must finish within `limit` (a refused `serve` must not hang).
fn run_bounded(env: &Env, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(env.data())
        .args(["--passphrase-fd", "0"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASS}\n").as_bytes());
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let mut out = String::new();
            let _ = child.stdout.take().unwrap().read_to_string(&mut out);
            panic!("cardsgalore {args:?} did not stop within {limit:?}: {out}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_read_only_data_dir_refuses_import_rotation_and_serving_and_changes_nothing() {
    let env = Env::with_data("mnt/data");
    let Some(mnt) = Tmpfs::mount(&env.path("mnt"), "16m") else {
        return;
    };
    env.init();
    env.ok(&["import", "--users", "../../seed/users.csv"]);
    let state = env.sql(STATE);
    let db = env.data().join("cardsgalore.db");
    let keyring = env.data().join("keyring.json");
    let hashes = (sha256_file(&db), sha256_file(&keyring));
    let files = names(&env.data());
    let csv = env.users_csv("more.csv", 1000);

    mnt.remount("ro");
    const RO: [&str; 2] = ["Read-only file system", "read-only"];
    let limit = Duration::from_secs(30);
    let import = run_bounded(&env, &["import", "--users", csv.to_str().unwrap()], limit);
    assert_clear_error(&import, "import on a read-only data dir", &RO);
    let rotate = run_bounded(&env, &["rotate-key", "--yes"], limit);
    assert_clear_error(&rotate, "rotate-key on a read-only data dir", &RO);
    // The site cannot take its lock: it refuses to start rather than serve without storage.
    // (Linux refuses to remount a filesystem read-only while a running server holds files
    // open for writing, so "read-only under a running site" cannot happen this way.)
    let serve = run_bounded(&env, &["serve", "--listen", "127.0.0.1:0"], limit);
    assert_clear_error(&serve, "serve on a read-only data dir", &RO);
    mnt.remount("rw");

    assert_eq!(
        (sha256_file(&db), sha256_file(&keyring)),
        hashes,
        "files changed"
    );
    assert_eq!(names(&env.data()), files);
    assert_verifies(&env, "after the read-only period");
    assert_eq!(env.sql(STATE), state);
    env.ok(&["import", "--users", csv.to_str().unwrap()]);
    env.ok(&["rotate-key", "--yes"]);
}
