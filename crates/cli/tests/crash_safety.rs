//! Crash safety: `rotate-key`, `passphrase add/change/remove`, `import`, `backup`, `restore`,
//! `adopt` and a stream of purchases on the running site are SIGKILLed at random moments;
//! after every kill the store must open with a valid passphrase, `verify` must pass, nothing
//! acknowledged may be lost and nothing may be half-done.
//! `CRASH_KILLS=N` sets the kills per operation (CI defaults are small, see each test; the
//! long run uses 50). `CRASH_SEED=N` replays a run.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Kill points per operation: `CRASH_KILLS`, or `default` (sized so the file stays short in CI).
fn kills_or(default: usize) -> usize {
    std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn kills() -> usize {
    kills_or(12)
}

impl Rng {
    fn new() -> Rng {
        Rng::from_env("CRASH_SEED")
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
        interrupted * 4 >= kills(),
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
        interrupted * 4 >= kills(),
        "too few kills landed inside a change"
    );
}

/// A random delay in `[0, 1.3 × full)`: most kills land inside the operation, some after it.
fn random_delay(rng: &mut Rng, full: Duration) -> Duration {
    Duration::from_micros(rng.below(full.as_micros() as u64 * 13 / 10 + 1))
}

/// Asserts that the store of `env` opens with `PASS` and passes `verify`.
fn assert_verifies(env: &Env, what: &str) {
    let report = env.run(&["verify"]);
    assert!(
        report.status.success(),
        "{what}: verify failed: {}{}",
        String::from_utf8_lossy(&report.stdout),
        stderr(&report)
    );
}

/// The slot labels of `passphrase list`.
fn slot_labels(env: &Env) -> Vec<String> {
    env.ok(&["passphrase", "list"])
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next().map(str::to_owned))
        .collect()
}

#[test]
fn passphrase_add_and_remove_killed_at_random_moments_leave_a_whole_keyring() {
    let env = Env::new();
    env.init();
    env.ok(&["import", "--users", "../../seed/users.csv"]);
    let expected = env.sql(DIGEST);
    let db = env.data().join("cardsgalore.db");
    let db_hash = sha256_file(&db);
    let second = env.secret_file("second", "a second admin passphrase for crash tests");
    let second = second.to_str().unwrap().to_owned();
    let add = [
        "--passphrase-fd",
        "0",
        "passphrase",
        "add",
        "--label",
        "second",
        "--new-passphrase-file",
        &second,
        "--kdf-memory-kib",
        "8192",
        "--kdf-time",
        "1",
    ];
    let remove = [
        "--passphrase-fd",
        "0",
        "passphrase",
        "remove",
        "--label",
        "second",
    ];
    let stdin = format!("{PASS}\n");
    let started = Instant::now();
    assert!(env.run_with_stdin(&add, &stdin).status.success());
    let add_time = started.elapsed();
    let started = Instant::now();
    assert!(env.run_with_stdin(&remove, &stdin).status.success());
    let full = add_time.max(started.elapsed());

    let second_opens = || {
        env.run_with_stdin(&["--passphrase-file", &second, "sql", "SELECT 1"], "")
            .status
            .success()
    };
    let mut rng = Rng::new();
    let (mut interrupted, mut adds, mut removes) = (0, 0, 0);
    let n = kills_or(12);
    for i in 0..n {
        let present = slot_labels(&env).contains(&"second".to_owned());
        let args: &[&str] = if present { &remove } else { &add };
        if present {
            removes += 1;
        } else {
            adds += 1;
        }
        let delay = random_delay(&mut rng, full);
        if run_and_kill(&env, args, &stdin, delay) {
            interrupted += 1;
        }
        let what = format!(
            "kill {i} of {} after {delay:?}",
            if present { "remove" } else { "add" }
        );
        // The admin passphrase always opens the store; the second slot is either listed and
        // working, or gone and refused: never listed but broken.
        assert_verifies(&env, &what);
        let listed = slot_labels(&env).contains(&"second".to_owned());
        assert_eq!(listed, second_opens(), "{what}: slot listed = {listed}");
        assert_eq!(env.sql(DIGEST), expected, "{what}: rows changed");
    }
    assert_eq!(
        db_hash,
        sha256_file(&db),
        "a slot change touched the database"
    );
    eprintln!("passphrase add/remove: {interrupted} of {n} kills interrupted ({adds} adds, {removes} removes; one takes {full:?})");
    assert!(interrupted * 4 >= n, "too few kills landed inside a change");
}

/// A digest of the users table that depends neither on the scan order nor on the ids (the
/// importer assigns new ones).
const IMPORT_DIGEST: &str =
    "SELECT count(*), sum(length(password)), sum(length(username)), max(last_login) FROM users";

#[test]
fn import_killed_at_random_moments_is_all_or_nothing() {
    const ROWS: usize = 50_000;
    let env = Env::new();
    env.init();
    let csv = env.users_csv("users.csv", ROWS);
    let csv = csv.to_str().unwrap();
    let import = ["--passphrase-fd", "0", "import", "--users", csv];
    let empty = env.sql(IMPORT_DIGEST);
    let started = Instant::now();
    env.ok(&import[2..]);
    let full = started.elapsed();
    let complete = env.sql(IMPORT_DIGEST);
    let count = "SELECT count(*) AS n FROM users";
    assert_eq!(env.sql(count), format!("n\n{ROWS}\n"));
    env.ok(&["sql", "--write", "DELETE FROM users"]);

    let mut rng = Rng::new();
    let (mut interrupted, mut completed) = (0, 0);
    let n = kills_or(8);
    for i in 0..n {
        let delay = random_delay(&mut rng, full);
        if run_and_kill(&env, &import, &format!("{PASS}\n"), delay) {
            interrupted += 1;
        }
        let what = format!("kill {i} after {delay:?}");
        assert_verifies(&env, &what);
        let digest = env.sql(IMPORT_DIGEST);
        if digest == complete {
            completed += 1;
            env.ok(&["sql", "--write", "DELETE FROM users"]);
        } else {
            assert_eq!(
                digest,
                empty,
                "{what}: a partial import ({})",
                env.sql(count)
            );
        }
    }
    eprintln!("import: {interrupted} of {n} kills interrupted an import of {ROWS} rows ({completed} completed; one takes {full:?})");
    assert!(
        interrupted * 4 >= n,
        "too few kills landed inside an import"
    );
}

/// Hidden staging directories (`.NAME.*`) left next to `dir` by killed commands.
fn staging_leftovers(parent: &std::path::Path) -> usize {
    std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .count()
}

/// Restores `backup` into a fresh environment and returns its `DIGEST`.
fn restore_digest(backup: &std::path::Path) -> String {
    let target = Env::new();
    let out = target.run(&["restore", backup.to_str().unwrap(), "--yes"]);
    assert!(
        out.status.success(),
        "restore of {backup:?}: {}",
        stderr(&out)
    );
    assert_verifies(&target, "restored backup");
    target.sql(DIGEST)
}

#[test]
fn backup_killed_at_random_moments_leaves_no_half_written_backup() {
    let env = Env::new();
    env.init();
    let csv = env.users_csv("users.csv", 100_000);
    env.ok(&["import", "--users", csv.to_str().unwrap()]);
    let expected = env.sql(DIGEST);
    let started = Instant::now();
    env.ok(&["backup", env.path("backup-first").to_str().unwrap()]);
    let full = started.elapsed();

    let mut rng = Rng::new();
    let (mut interrupted, mut completed) = (0, 0);
    let n = kills_or(8);
    for i in 0..n {
        let out = env.path(&format!("backup-{i}"));
        let delay = random_delay(&mut rng, full);
        let args = ["--passphrase-fd", "0", "backup", out.to_str().unwrap()];
        if run_and_kill(&env, &args, &format!("{PASS}\n"), delay) {
            interrupted += 1;
        }
        let what = format!("kill {i} after {delay:?}");
        assert_verifies(&env, &what);
        assert_eq!(env.sql(DIGEST), expected, "{what}: the source changed");
        if out.exists() {
            completed += 1;
            let mut names: Vec<String> = std::fs::read_dir(&out)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            assert_eq!(
                names,
                ["cardsgalore.db", "keyring.json", "manifest.json"],
                "{what}: a half-written backup"
            );
            assert_eq!(restore_digest(&out), expected, "{what}: the backup differs");
        }
    }
    eprintln!(
        "backup: {interrupted} of {n} kills interrupted a backup ({completed} completed and restored; one takes {full:?}; {} hidden staging directories left behind)",
        staging_leftovers(env.tmp.path())
    );
    assert!(interrupted * 4 >= n, "too few kills landed inside a backup");
}

#[test]
fn restore_killed_at_random_moments_leaves_nothing_or_a_complete_data_dir() {
    let source = Env::new();
    source.init();
    let csv = source.users_csv("users.csv", 100_000);
    source.ok(&["import", "--users", csv.to_str().unwrap()]);
    let expected = source.sql(DIGEST);
    let backup = source.path("backup");
    source.ok(&["backup", backup.to_str().unwrap()]);
    let backup = backup.to_str().unwrap();
    let first = Env::new();
    let started = Instant::now();
    first.ok(&["restore", backup, "--yes"]);
    let full = started.elapsed();
    assert_eq!(first.sql(DIGEST), expected);

    let mut rng = Rng::new();
    let (mut interrupted, mut completed, mut leftovers) = (0, 0, 0);
    let n = kills_or(8);
    for i in 0..n {
        let target = Env::new();
        let delay = random_delay(&mut rng, full);
        let args = ["--passphrase-fd", "0", "restore", backup, "--yes"];
        if run_and_kill(&target, &args, &format!("{PASS}\n"), delay) {
            interrupted += 1;
        }
        let what = format!("kill {i} after {delay:?}");
        leftovers += staging_leftovers(target.tmp.path());
        let data = target.data();
        if data.join("keyring.json").exists() {
            completed += 1;
        } else {
            // Nothing was put in place: the directory is missing or empty, and a second
            // restore works.
            let vacant = !data.exists() || std::fs::read_dir(&data).unwrap().next().is_none();
            assert!(vacant, "{what}: a half-restored data directory");
            let again = target.run(&["restore", backup, "--yes"]);
            assert!(
                again.status.success(),
                "{what}: restore again: {}",
                stderr(&again)
            );
        }
        assert_verifies(&target, &what);
        assert_eq!(target.sql(DIGEST), expected, "{what}: restored rows differ");
    }
    eprintln!("restore: {interrupted} of {n} kills interrupted a restore ({completed} had completed; one takes {full:?}; {leftovers} hidden staging directories left behind)");
    assert!(
        interrupted * 4 >= n,
        "too few kills landed inside a restore"
    );
}

/// A legacy plaintext database with `users` users and `cards` cards, written by Python.
fn big_legacy_db(env: &Env, users: usize, cards: usize) -> std::path::PathBuf {
    let path = env.path("legacy.sqlite3");
    let script = r#"
import sys, sqlite3
conn = sqlite3.connect(sys.argv[1])
users, cards = int(sys.argv[2]), int(sys.argv[3])
conn.executescript('''
CREATE TABLE "LegacySite_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "last_login" datetime NULL, "username" varchar(30) NOT NULL UNIQUE, "password" varchar(97) NOT NULL);
CREATE TABLE "LegacySite_product" ("product_id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "product_name" varchar(50) NOT NULL UNIQUE, "product_image_path" varchar(100) NOT NULL UNIQUE, "recommended_price" integer NOT NULL, "description" varchar(250) NOT NULL);
CREATE TABLE "LegacySite_card" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "data" BLOB NOT NULL UNIQUE, "amount" integer NOT NULL, "fp" varchar(100) NOT NULL UNIQUE, "used" bool NOT NULL, "product_id" integer NOT NULL REFERENCES "LegacySite_product" ("product_id"), "user_id" integer NOT NULL REFERENCES "LegacySite_user" ("id"));
INSERT INTO LegacySite_product VALUES (1, 'NYU Apparel Card', '/images/product_1.jpg', 95, 'Use this card to buy NYU Clothing!');
''')
conn.executemany('INSERT INTO LegacySite_user VALUES (?, NULL, ?, ?)',
    ((i, 'user%d' % i, '000000000000000000000000000078d2$%064x' % i) for i in range(1, users + 1)))
conn.executemany('INSERT INTO LegacySite_card VALUES (?, ?, 95, ?, 0, 1, ?)',
    ((i, ('{"merchant_id": "NYU Apparel Card", "customer_id": "user%d", "total_value": 95, "records": [{"record_type": "amount_change", "amount_added": 95, "signature": "%032x"}]}' % (i, i)).encode(), '/tmp/card_%d' % i, i) for i in range(1, cards + 1)))
conn.commit()
conn.close()
"#;
    python(
        script,
        &[
            path.to_str().unwrap(),
            &users.to_string(),
            &cards.to_string(),
        ],
    );
    path
}

#[test]
fn adopt_killed_at_random_moments_leaves_nothing_or_a_complete_data_dir() {
    let legacy = Env::new();
    let src = big_legacy_db(&legacy, 50_000, 20_000);
    let src_hash = sha256_file(&src);
    let src = src.to_str().unwrap();
    let mut adopt = vec!["--passphrase-fd", "0", "adopt", src];
    adopt.extend_from_slice(&CHEAP_KDF);
    let adopt = adopt;
    let counts =
        "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM cards) AS cards";
    let expected = "users,cards\n50000,20000\n";
    let first = Env::new();
    let started = Instant::now();
    first.ok(&adopt[2..]);
    let full = started.elapsed();
    assert_eq!(first.sql(counts), expected);

    let mut rng = Rng::new();
    let (mut interrupted, mut completed, mut leftovers) = (0, 0, 0);
    let n = kills_or(8);
    for i in 0..n {
        let target = Env::new();
        let delay = random_delay(&mut rng, full);
        if run_and_kill(&target, &adopt, &format!("{PASS}\n"), delay) {
            interrupted += 1;
        }
        let what = format!("kill {i} after {delay:?}");
        assert_eq!(
            sha256_file(std::path::Path::new(src)),
            src_hash,
            "{what}: the source changed"
        );
        leftovers += staging_leftovers(target.tmp.path());
        let data = target.data();
        if data.join("keyring.json").exists() {
            completed += 1;
        } else {
            let vacant = !data.exists() || std::fs::read_dir(&data).unwrap().next().is_none();
            assert!(vacant, "{what}: a half-adopted data directory");
            let again = target.run(&adopt[2..]);
            assert!(
                again.status.success(),
                "{what}: adopt again: {}",
                stderr(&again)
            );
        }
        assert_verifies(&target, &what);
        assert_eq!(target.sql(counts), expected, "{what}: adopted rows differ");
    }
    eprintln!("adopt: {interrupted} of {n} kills interrupted an adoption ({completed} had completed; one takes {full:?}; {leftovers} hidden staging directories left behind)");
    assert!(
        interrupted * 4 >= n,
        "too few kills landed inside an adoption"
    );
}

/// Buys product 1 for `amount` without panicking on a dead server: `Ok(Some(card))` for an
/// acknowledged purchase (200 and a card file), `Ok(None)` for a refusal, `Err` when the
/// connection failed (the server is gone).
fn try_buy(b: &server::Browser, amount: &str) -> Result<Option<Vec<u8>>, ()> {
    let page = b
        .http
        .get(format!("{}/buy/1", b.base))
        .send()
        .map_err(drop)?;
    let html = page.text().map_err(drop)?;
    let token = server::form_token(&html);
    let r = b
        .http
        .post(format!("{}/buy/1", b.base))
        .form(&[("csrf_token", token.as_str()), ("amount", amount)])
        .send()
        .map_err(drop)?;
    let status = r.status().as_u16();
    let body = r.bytes().map_err(drop)?.to_vec();
    Ok((status == 200).then_some(body))
}

#[test]
fn a_purchase_stream_killed_at_random_moments_loses_no_acknowledged_card() {
    const CLIENTS: usize = 4;
    let env = Env::new();
    env.init();
    let mut server = server::Server::unsealed(&env);
    let names: Vec<String> = (0..CLIENTS).map(|c| format!("crashbuyer{c}")).collect();
    for name in &names {
        server
            .browser()
            .register_and_login(name, "a long buyer password 1");
    }
    let mut acknowledged: Vec<String> = Vec::new();
    let mut rng = Rng::new();
    let n = kills_or(8);
    let mut in_flight_kills = 0;
    for round in 0..n {
        let stop_at = Duration::from_millis(100 + rng.below(900));
        let base = server.base.clone();
        let threads: Vec<_> = names
            .iter()
            .map(|name| {
                let b = server.browser();
                assert_eq!(b.base, base);
                b.login(name, "a long buyer password 1");
                std::thread::spawn(move || {
                    let mut cards = Vec::new();
                    let mut died = false;
                    // Bounded: the server is killed within a second.
                    for i in 0..10_000 {
                        match try_buy(&b, &(1 + i % 50).to_string()) {
                            Ok(Some(card)) => cards.push(card),
                            Ok(None) => {}
                            Err(()) => {
                                died = true;
                                break;
                            }
                        }
                    }
                    (cards, died)
                })
            })
            .collect();
        std::thread::sleep(stop_at);
        server.kill();
        let mut round_acks = 0;
        for t in threads {
            let (cards, died) = t.join().unwrap();
            if died {
                in_flight_kills += 1;
            }
            for card in cards {
                acknowledged.push(card_signature(&card).expect("a card file with a signature"));
                round_acks += 1;
            }
        }
        // Restart as under systemd (sealed), unseal by the socket, then check.
        server = server::Server::start(&env, &[], None);
        assert_eq!(server.status("/"), 503, "round {round}: not sealed");
        let unseal = env.run(&["unseal"]);
        assert!(
            unseal.status.success(),
            "round {round}: {}",
            stderr(&unseal)
        );
        assert_verifies(&env, &format!("round {round}"));
        let stored = env.sql("SELECT signature FROM cards");
        let stored: std::collections::HashSet<&str> = stored.lines().skip(1).collect();
        assert!(
            stored.len() >= acknowledged.len(),
            "round {round}: {} cards stored, {} acknowledged",
            stored.len(),
            acknowledged.len()
        );
        for sig in &acknowledged {
            assert!(
                stored.contains(sig.as_str()),
                "round {round}: acknowledged card {sig} lost"
            );
        }
        eprintln!(
            "round {round}: killed after {stop_at:?}, {round_acks} purchases acknowledged, {} stored in all",
            stored.len()
        );
    }
    eprintln!(
        "purchases: {n} server kills, {} acknowledged purchases all present ({in_flight_kills} client streams cut mid-request)",
        acknowledged.len()
    );
    assert!(!acknowledged.is_empty());
}
