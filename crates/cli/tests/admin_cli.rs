//! The admin command line, driven through the built binary as an operator would.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;

use common::*;

#[test]
fn init_creates_an_encrypted_store_and_no_plaintext_reaches_disk() {
    let env = Env::new();
    env.init();
    env.ok(&["import", "--users", "../../seed/users.csv"]);
    let data = env.data();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );

    let out = env.ok(&["verify"]);
    assert!(out.contains("All checks passed"), "{out}");
    assert!(env
        .sql("SELECT product_name FROM products")
        .contains("NYU Apparel Card"));

    for (path, bytes) in files(&data) {
        assert!(
            !bytes.starts_with(b"SQLite format 3"),
            "{path:?} is plaintext"
        );
        for needle in ["NYU Apparel Card", "Tandon Food Court", "victim", "test2"] {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{path:?} holds '{needle}' in plaintext"
            );
        }
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{path:?} is readable by others: {mode:o}");
    }

    let again = env.run(&["init", "--kdf-memory-kib", "64", "--kdf-time", "1"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn weak_or_empty_passphrases_are_refused_and_nothing_is_created() {
    let env = Env::new();
    for (pass, reason) in [
        ("", "empty"),
        ("short", "too short"),
        ("password1234", "too weak"),
    ] {
        let out = env.run_with_stdin(
            &[
                "--passphrase-fd",
                "0",
                "init",
                "--kdf-memory-kib",
                "64",
                "--kdf-time",
                "1",
            ],
            &format!("{pass}\n"),
        );
        assert!(!out.status.success());
        assert!(stderr(&out).contains(reason), "{pass}: {}", stderr(&out));
        assert!(!env.data().exists());
    }
    // No passphrase in argv, ever.
    let out = env.run_with_stdin(&["init", "--passphrase", PASS], "");
    assert!(!out.status.success());
}

#[test]
fn wrong_passphrase_damaged_keyring_and_wrong_data_key_are_three_errors() {
    let env = Env::new();
    env.init();
    let wrong = env.run_with_stdin(
        &["--passphrase-fd", "0", "verify"],
        "not the passphrase at all\n",
    );
    assert!(!wrong.status.success());
    let wrong = stderr(&wrong);
    assert!(wrong.contains("wrong passphrase"), "{wrong}");
    assert_eq!(wrong.lines().count(), 1, "one line: {wrong}");

    // A second store: its database does not open with the first keyring's data key.
    let other = Env::new();
    other.init();
    let keyring = env.data().join("keyring.json");
    let text = fs::read_to_string(&keyring).unwrap();
    fs::copy(
        other.data().join("cardsgalore.db"),
        env.data().join("cardsgalore.db"),
    )
    .unwrap();
    let wrong_key = stderr(&env.run(&["sql", "SELECT 1"]));
    assert!(
        wrong_key.contains("data key from the keyring does not open"),
        "{wrong_key}"
    );
    let report = env.run(&["verify"]);
    assert!(!report.status.success());
    let report = String::from_utf8(report.stdout).unwrap();
    assert!(report.contains("FAIL data key"), "{report}");

    fs::write(&keyring, text.replacen("\"created\"", "\"creatod\"", 1)).unwrap();
    let damaged = stderr(&env.run(&["verify"]));
    assert!(damaged.contains("damaged"), "{damaged}");
    assert!(!damaged.contains("panicked") && !damaged.contains("backtrace"));
}

#[test]
fn passphrase_changes_rewrite_only_the_keyring() {
    let env = Env::new();
    env.init();
    let db = env.data().join("cardsgalore.db");
    env.ok(&["sql", "SELECT 1"]);
    let before = sha256_file(&db);

    let bob = env.secret_file("bob", "bob's own long passphrase 7");
    let bob_arg = bob.to_str().unwrap();
    let mut add = vec![
        "passphrase",
        "add",
        "--label",
        "bob",
        "--new-passphrase-file",
        bob_arg,
    ];
    add.extend_from_slice(&CHEAP_KDF);
    env.ok(&add);
    let new_admin = env.secret_file("admin-new", "a brand new admin passphrase 9");
    let mut change = vec![
        "passphrase",
        "change",
        "--label",
        "admin",
        "--new-passphrase-file",
        new_admin.to_str().unwrap(),
    ];
    change.extend_from_slice(&CHEAP_KDF);
    env.ok(&change);

    // The old admin passphrase no longer works; bob's and the new one do.
    assert!(stderr(&env.run(&["sql", "SELECT 1"])).contains("wrong passphrase"));
    let with = |file: &std::path::Path, args: &[&str]| {
        let mut all = vec!["--passphrase-file", file.to_str().unwrap()];
        all.extend_from_slice(args);
        env.run_with_stdin(&all, "")
    };
    assert!(with(&bob, &["verify"]).status.success());
    assert!(with(&new_admin, &["sql", "SELECT 1"]).status.success());

    let list = String::from_utf8(with(&bob, &["passphrase", "list"]).stdout).unwrap();
    assert!(
        list.contains("admin,passphrase") && list.contains("bob,passphrase"),
        "{list}"
    );

    assert!(with(&bob, &["passphrase", "remove", "--label", "admin"])
        .status
        .success());
    let last = with(&bob, &["passphrase", "remove", "--label", "bob"]);
    assert!(!last.status.success());
    assert!(
        stderr(&last).contains("last passphrase slot"),
        "{}",
        stderr(&last)
    );

    assert_eq!(before, sha256_file(&db), "the database file was rewritten");
}

#[test]
fn recovery_code_opens_the_store() {
    let env = Env::new();
    env.init();
    let mut args = vec!["recovery-code"];
    args.extend_from_slice(&CHEAP_KDF);
    let code = env.ok(&args).trim().to_string();
    assert!(code.starts_with("RC-"), "{code}");
    let out = env.run_with_stdin(
        &["--passphrase-fd", "0", "verify"],
        &format!("{}\n", code.to_lowercase()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let list = env.ok(&["passphrase", "list"]);
    assert!(list.contains("recovery-1,recovery code"), "{list}");
}

#[test]
fn rotate_key_re_encrypts_every_page_and_keeps_every_row() {
    let env = Env::new();
    env.init();
    let csv = env.users_csv("users.csv", 3000);
    env.ok(&["import", "--users", csv.to_str().unwrap()]);
    let rows_before = env.sql("SELECT id, username, password FROM users ORDER BY id");
    let old_key = env.ok(&["key", "export", "--yes"]);
    let db = env.data().join("cardsgalore.db");
    let before = fs::read(&db).unwrap();

    let not_confirmed = env.run(&["rotate-key"]);
    assert!(
        stderr(&not_confirmed).contains("--yes"),
        "{}",
        stderr(&not_confirmed)
    );

    let out = env.ok(&["rotate-key", "--yes"]);
    assert!(out.contains("Rotated the data key"), "{out}");
    let after = fs::read(&db).unwrap();
    // Every 4 KiB page differs (fresh IVs under a new key).
    let same_pages = before
        .chunks(4096)
        .zip(after.chunks(4096))
        .filter(|(a, b)| a == b)
        .count();
    assert_eq!(same_pages, 0);
    assert_eq!(
        rows_before,
        env.sql("SELECT id, username, password FROM users ORDER BY id")
    );
    assert!(env.ok(&["verify"]).contains("All checks passed"));
    let new_key = env.ok(&["key", "export", "--yes"]);
    assert_ne!(old_key, new_key);
    let keyring = fs::read_to_string(env.data().join("keyring.json")).unwrap();
    assert!(!keyring.contains("pending"), "old key material remains");
}

#[test]
fn backup_and_restore_round_trip() {
    let env = Env::new();
    env.init();
    env.ok(&["import", "--users", "../../seed/users.csv"]);
    let backup = env.path("backup-1");
    env.ok(&["backup", backup.to_str().unwrap()]);
    for (path, bytes) in files(&backup) {
        assert!(!bytes.starts_with(b"SQLite format 3"), "{path:?}");
        assert!(!contains(&bytes, b"victim"), "{path:?}");
    }
    let exists = env.run(&["backup", backup.to_str().unwrap()]);
    assert!(stderr(&exists).contains("already exists"));

    let restored = Env::new();
    let out = restored.run(&["restore", backup.to_str().unwrap(), "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let query = "SELECT * FROM users ORDER BY id";
    assert_eq!(env.sql(query), restored.sql(query));
    assert!(restored.ok(&["verify"]).contains("All checks passed"));

    let again = restored.run(&["restore", backup.to_str().unwrap(), "--yes"]);
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));

    // A damaged backup is refused and nothing is created.
    let db = backup.join("cardsgalore.db");
    let mut bytes = fs::read(&db).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 0xff;
    fs::write(&db, bytes).unwrap();
    let third = Env::new();
    let out = third.run(&["restore", backup.to_str().unwrap(), "--yes"]);
    assert!(stderr(&out).contains("damaged"), "{}", stderr(&out));
    assert!(!third.data().exists());
}

const LEGACY_SCHEMA: &str = r#"
import sys
db = sys.argv[1]
conn = connect(db)
setup(conn)
conn.executescript('''
CREATE TABLE "LegacySite_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "last_login" datetime NULL, "username" varchar(30) NOT NULL UNIQUE, "password" varchar(97) NOT NULL);
CREATE TABLE "LegacySite_product" ("product_id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "product_name" varchar(50) NOT NULL UNIQUE, "product_image_path" varchar(100) NOT NULL UNIQUE, "recommended_price" integer NOT NULL, "description" varchar(250) NOT NULL);
CREATE TABLE "LegacySite_card" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "data" BLOB NOT NULL UNIQUE, "amount" integer NOT NULL, "fp" varchar(100) NOT NULL UNIQUE, "used" bool NOT NULL, "product_id" integer NOT NULL REFERENCES "LegacySite_product" ("product_id"), "user_id" integer NOT NULL REFERENCES "LegacySite_user" ("id"));
INSERT INTO LegacySite_user VALUES (1, '2020-10-01 12:51:48.124599', 'admin', '000000000000000000000000000078d2$18821d89de11ab18488fdc0a01f1ddf4d290e198b0f80cd4974fc031dc2615a3');
INSERT INTO LegacySite_user VALUES (2, NULL, 'test2', '000000000000000000000000000078d2$3ce31585b23f69ac17ac91609ad325d9bd0ddeb9925816c390f3b5dcc74d4163');
INSERT INTO LegacySite_user VALUES (3, NULL, 'victim', '000000000000000000000000000078d2$671eebdfdf2c94e41a6d4d6082597160d22f5af5b98c74e6512c06fdff6d10a8');
INSERT INTO LegacySite_product VALUES (1, 'NYU Apparel Card', '/images/product_1.jpg', 95, 'Use this card to buy NYU Clothing!');
INSERT INTO LegacySite_product VALUES (3, 'Graduation Robe Card', '/images/product_3.jpg', 199, 'Why worry about this later?');
INSERT INTO LegacySite_card VALUES (1, CAST('{"merchant_id": "Graduation Robe Card", "customer_id": "victim", "total_value": "123", "records": [{"record_type": "amount_change", "amount_added": 2000, "signature": "84bffa71cfdba27c5c5b43954b564d4c"}]}' AS BLOB), 123, '/tmp/addedcard_3_1.gftcrd', 0, 3, 3);
INSERT INTO LegacySite_card VALUES (2, CAST('{"merchant_id": "NYU Apparel Card", "customer_id": "test2", "total_value": 95, "records": [{"record_type": "amount_change", "amount_added": 2000, "signature": "00112233445566778899aabbccddeeff"}]}' AS BLOB), 95, '/tmp/addedcard_2_1.gftcrd', 1, 1, 2);
''')
conn.commit()
conn.close()
"#;

fn legacy_db(env: &Env, keyed_with: Option<&str>) -> std::path::PathBuf {
    let path = env.path("legacy.sqlite3");
    let prelude = match keyed_with {
        None => "from sqlite3 import connect\ndef setup(c): pass\n".to_string(),
        Some(pass) => format!(
            "from sqlcipher3 import connect\ndef setup(c): c.execute(\"PRAGMA key = '{pass}'\")\n"
        ),
    };
    python(
        &format!("{prelude}{LEGACY_SCHEMA}"),
        &[path.to_str().unwrap()],
    );
    path
}

fn check_adopted(env: &Env) {
    let users = env.sql("SELECT id, username, password FROM users ORDER BY id");
    assert!(
        users.contains("3,victim,000000000000000000000000000078d2$671eebdf"),
        "{users}"
    );
    let cards =
        env.sql("SELECT id, product_id, amount, user_id, used, legacy FROM cards ORDER BY id");
    assert_eq!(
        cards,
        "id,product_id,amount,user_id,used,legacy\n1,3,123,3,0,1\n2,1,95,2,1,1\n"
    );
    let data = env.sql("SELECT data FROM cards WHERE id = 1");
    assert!(data.contains("84bffa71cfdba27c5c5b43954b564d4c"), "{data}");
    assert!(env.ok(&["verify"]).contains("All checks passed"));
    for (path, bytes) in files(&env.data()) {
        assert!(!contains(&bytes, b"victim"), "{path:?}");
    }
}

#[test]
fn adopt_a_plaintext_legacy_database_without_modifying_it() {
    let env = Env::new();
    let src = legacy_db(&env, None);
    let before = sha256_file(&src);
    let mut args = vec!["adopt", src.to_str().unwrap()];
    args.extend_from_slice(&CHEAP_KDF);
    let out = env.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 users, 2 products, 2 cards"));
    assert!(stderr(&out).contains("destroy"), "{}", stderr(&out));
    assert_eq!(before, sha256_file(&src), "the source was modified");
    check_adopted(&env);

    // Without --from-passphrase an encrypted source gets a helpful message.
    let other = Env::new();
    let keyed = legacy_db(&other, Some("legacy secret"));
    let mut args = vec!["adopt", keyed.to_str().unwrap()];
    args.extend_from_slice(&CHEAP_KDF);
    let err = stderr(&other.run(&args));
    assert!(err.contains("--from-passphrase"), "{err}");
}

#[test]
fn adopt_a_passphrase_keyed_sqlcipher_database() {
    let env = Env::new();
    let src = legacy_db(&env, Some("legacy secret"));
    let before = sha256_file(&src);
    let wrong = env.secret_file("wrong-src", "not it");
    let mut args = vec![
        "adopt",
        src.to_str().unwrap(),
        "--from-passphrase",
        "--source-passphrase-file",
        wrong.to_str().unwrap(),
    ];
    args.extend_from_slice(&CHEAP_KDF);
    let err = stderr(&env.run(&args));
    assert!(err.contains("source passphrase does not open"), "{err}");
    assert!(!env.data().exists());

    let right = env.secret_file("src-pass", "legacy secret");
    args[4] = right.to_str().unwrap();
    let out = env.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(before, sha256_file(&src));
    check_adopted(&env);
}

#[test]
fn exported_key_opens_the_database_in_an_independent_sqlcipher_binding() {
    let env = Env::new();
    env.init();
    env.ok(&["import", "--users", "../../seed/users.csv"]);
    let pragma = env.ok(&["key", "export", "--yes"]);
    assert!(
        pragma.starts_with("PRAGMA key = \"x'") && pragma.trim_end().ends_with("'\";"),
        "{pragma}"
    );
    let backup = env.path("copy");
    env.ok(&["backup", backup.to_str().unwrap()]);
    let script = r#"
import sys, sqlcipher3
conn = sqlcipher3.connect(sys.argv[1])
conn.executescript(sys.argv[2])
print(conn.execute("PRAGMA cipher_version").fetchone()[0])
print(",".join(r[0] for r in conn.execute("SELECT username FROM users ORDER BY id")))
bad = sqlcipher3.connect(sys.argv[1])
try:
    bad.execute("SELECT count(*) FROM sqlite_master").fetchall()
    print("opened without key")
except Exception:
    print("refused without key")
"#;
    let out = python(
        script,
        &[backup.join("cardsgalore.db").to_str().unwrap(), &pragma],
    );
    assert!(out.contains("admin,test2,victim"), "{out}");
    assert!(out.contains("refused without key"), "{out}");
}

#[test]
fn import_is_all_or_nothing_with_file_and_line_errors() {
    let env = Env::new();
    env.init();
    let csv = env.path("users.csv");
    fs::write(
        &csv,
        "1,\"2020-10-01 12:51:48.124599\",alice,000000000000000000000000000078d2$3ce31585b23f69ac17ac91609ad325d9bd0ddeb9925816c390f3b5dcc74d4163\n\
         2,,bob,000000000000000000000000000078d2$3ce31585b23f69ac17ac91609ad325d9bd0ddeb9925816c390f3b5dcc74d4163\n\
         3,,carol,not-a-hash\n",
    )
    .unwrap();
    let out = env.run(&["import", "--users", csv.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("users.csv:3: password record"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(env.sql("SELECT count(*) AS n FROM users"), "n\n0\n");

    let products = env.path("products.csv");
    fs::write(&products, "8,\"Gift\",/images/../../etc/passwd,10,\"x\"\n").unwrap();
    let err = stderr(&env.run(&["import", "--products", products.to_str().unwrap()]));
    assert!(err.contains("products.csv:1: image path"), "{err}");
    fs::write(&products, "8,\"Gift\",/images/p8.jpg,ten,\"x\"\n").unwrap();
    let err = stderr(&env.run(&["import", "--products", products.to_str().unwrap()]));
    assert!(
        err.contains("products.csv:1: recommended price must be a whole number"),
        "{err}"
    );
    fs::write(&products, "8,\"Gift\",/images/p8.jpg\n").unwrap();
    let err = stderr(&env.run(&["import", "--products", products.to_str().unwrap()]));
    assert!(err.contains("expected 5 fields, found 3"), "{err}");

    let seed = "../../seed/users.csv";
    let dry = env.ok(&["import", "--users", seed, "--dry-run"]);
    assert!(dry.contains("Would import users: 3 new"), "{dry}");
    assert_eq!(env.sql("SELECT count(*) AS n FROM users"), "n\n0\n");
    env.ok(&["import", "--users", seed]);
    let dup = stderr(&env.run(&["import", "--users", seed]));
    assert!(
        dup.contains("users.csv:1: username 'admin' already exists"),
        "{dup}"
    );
    let skip = env.ok(&["import", "--users", seed, "--on-conflict", "skip"]);
    assert!(skip.contains("0 new, 0 updated, 3 skipped"), "{skip}");
    let update = env.ok(&["import", "--users", seed, "--on-conflict", "update"]);
    assert!(update.contains("0 new, 3 updated, 0 skipped"), "{update}");
    let products = env.ok(&[
        "import",
        "--products",
        "../../seed/products.csv",
        "--on-conflict",
        "skip",
    ]);
    assert!(
        products.contains("0 new, 0 updated, 7 skipped"),
        "{products}"
    );
}

#[test]
fn sql_is_read_only_unless_asked() {
    let env = Env::new();
    env.init();
    let out = env.run(&["sql", "DELETE FROM products"]);
    assert!(stderr(&out).contains("--write"));
    let out = env.run(&["sql", "SELECT 1; DELETE FROM products"]);
    assert!(!out.status.success());
    assert_eq!(env.sql("SELECT count(*) AS n FROM products"), "n\n7\n");
    env.ok(&[
        "sql",
        "--write",
        "DELETE FROM products WHERE product_id = 7",
    ]);
    assert_eq!(env.sql("SELECT count(*) AS n FROM products"), "n\n6\n");
    let bad = stderr(&env.run(&["sql", "SELEC nonsense"]));
    assert!(
        bad.starts_with("error: ") && bad.lines().count() == 1,
        "{bad}"
    );
}

#[test]
fn migrate_is_idempotent_and_key_changes_wait_for_a_stopped_site() {
    let env = Env::new();
    env.init();
    assert!(env.ok(&["migrate"]).contains("up to date"));
    // Hold the lock a running site holds.
    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(env.data().join("service.lock"))
        .unwrap();
    lock.lock().unwrap();
    for args in [vec!["rotate-key", "--yes"], vec!["migrate"]] {
        let out = env.run(&args);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("the site is running"),
            "{}",
            stderr(&out)
        );
    }
    assert!(env.ok(&["verify"]).contains("All checks passed"));
    let backup = env.path("b");
    env.ok(&["backup", backup.to_str().unwrap()]);
    drop(lock);
    env.ok(&["rotate-key", "--yes"]);
}

#[test]
fn key_events_are_audited_and_an_edited_line_is_detected() {
    let env = Env::new();
    env.init();
    let mut args = vec!["recovery-code"];
    args.extend_from_slice(&CHEAP_KDF);
    env.ok(&args);
    env.ok(&["key", "export", "--yes"]);
    env.ok(&["rotate-key", "--yes"]);
    let wrong = env.run_with_stdin(
        &["--passphrase-fd", "0", "sql", "SELECT 1"],
        "wrong guess here\n",
    );
    assert!(!wrong.status.success());

    let log = env.data().join("audit.log");
    let text = fs::read_to_string(&log).unwrap();
    for event in [
        "keyring_created",
        "recovery_code_added",
        "key_export",
        "rotation_started",
        "rotation_finished",
    ] {
        assert!(text.contains(event), "{event} missing from {text}");
    }
    assert!(text
        .lines()
        .any(|l| l.contains("\"event\":\"unlock\"") && l.contains("\"ok\":false")));
    assert!(!text.contains(PASS) && !text.contains("wrong guess"));
    assert!(env.ok(&["audit", "verify"]).contains("chain intact"));

    fs::write(&log, text.replacen("key_export", "key_exporT", 1)).unwrap();
    let out = env.run(&["audit", "verify"]);
    assert!(!out.status.success());
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains(":3: content does not match"), "{report}");
}
