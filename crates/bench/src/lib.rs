//! Shared helpers of the Cards Galore benchmarks.
//!
//! Every figure we publish is a ratio measured side by side in the same run, so this module
//! builds two databases with the same schema and the same rows: an encrypted store created
//! exactly as the product does ([`create_store`], [`open_store`], [`open_connection`]) and a
//! plain SQLite file (a connection that is never keyed is plain SQLite, even with bundled
//! SQLCipher) on which the store's own migrations ran, with the pragmas of `open_connection`.
//!
//! Nothing here writes outside temporary directories.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cardsgalore_keyring::{DataKey, KdfParams};
use cardsgalore_store::repo::{cards, products, users};
use cardsgalore_store::{create_store, migrate, open_connection, open_store, DataDir};
use rusqlite::Connection;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// The admin passphrase of every benchmark store.
pub const PASSPHRASE: &str = "bench passphrase: correct horse battery staple";

/// The pragmas `cardsgalore_store::open_connection` sets after keying (its busy handler is
/// left out: the benchmarks run one connection at a time). The plain connection
/// gets the same ones; [`same_settings`] checks at run time that they still match.
pub const PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -32768",
];

/// Where large temporary files go (not a tmpfs, so file sizes are real disk sizes).
pub const BIG_TMP: &str = "/var/tmp";

pub fn passphrase() -> SecretString {
    SecretString::from(PASSPHRASE.to_string())
}

/// Cheap Argon2id parameters (1 MiB, one pass): store-level benchmarks measure the database,
/// not the keyslot KDF, which `keyops` measures with calibrated parameters.
pub fn cheap_kdf() -> KdfParams {
    KdfParams {
        m_kib: 1024,
        t: 1,
        p: 1,
    }
}

/// A temporary directory under [`BIG_TMP`], removed on drop.
pub fn big_tempdir(tag: &str) -> Result<TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("cardsgalore-bench-{tag}-"))
        .tempdir_in(BIG_TMP)
        .with_context(|| format!("creating a temporary directory in {BIG_TMP}"))
}

/// An encrypted store in a temporary directory, made by the product's own functions.
pub struct EncryptedStore {
    pub tmp: TempDir,
    pub dir: DataDir,
    pub key: DataKey,
}

impl EncryptedStore {
    /// `create_store` (keyring + encrypted database + migrations), then `open_store` to get
    /// the data key back through the keyring, as the site does at start.
    pub fn create(tag: &str, kdf: KdfParams) -> Result<EncryptedStore> {
        let tmp = big_tempdir(tag)?;
        let dir = DataDir::new(tmp.path().join("data"));
        create_store(&dir, "admin", &passphrase(), kdf, |_| Ok(())).context("create_store")?;
        let opened = open_store(&dir, &passphrase()).context("open_store")?;
        Ok(EncryptedStore {
            tmp,
            dir,
            key: opened.data_key,
        })
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.db_path()
    }

    /// A connection exactly as the pool opens it.
    pub fn connect(&self) -> Result<Connection> {
        open_connection(&self.db_path(), &self.key).context("open_connection")
    }
}

/// A plain SQLite database in a temporary directory, with the store's schema.
pub struct PlainStore {
    pub tmp: TempDir,
    pub path: PathBuf,
}

impl PlainStore {
    /// Runs the store's migrations (the SQL of `crates/store/migrations/*.sql`) on a
    /// connection that is never keyed.
    pub fn create(tag: &str) -> Result<PlainStore> {
        let tmp = big_tempdir(tag)?;
        let path = tmp.path().join("plain.db");
        let mut conn = open_plain(&path)?;
        migrate(&mut conn).context("migrations on the plain database")?;
        Ok(PlainStore { tmp, path })
    }

    pub fn connect(&self) -> Result<Connection> {
        open_plain(&self.path)
    }
}

/// Opens a plain (never keyed) connection with the pragmas of `open_connection`.
pub fn open_plain(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    for pragma in PRAGMAS {
        run_pragma(&conn, pragma)?;
    }
    Ok(conn)
}

/// Runs a statement and discards its rows (pragmas answer with rows).
pub fn run_pragma(conn: &Connection, sql: &str) -> Result<()> {
    let mut stmt = conn.prepare(sql).with_context(|| sql.to_string())?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// The connection settings that matter for speed, to check both sides use the same.
pub fn settings_of(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for name in [
        "journal_mode",
        "synchronous",
        "foreign_keys",
        "temp_store",
        "cache_size",
        "page_size",
        "mmap_size",
        "wal_autocheckpoint",
    ] {
        let value: String = conn.query_row(&format!("PRAGMA {name}"), [], |r| {
            // SQLCipher answers page_size as text, SQLite as an integer: compare the text.
            Ok(match r.get::<_, rusqlite::types::Value>(0)? {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
        })?;
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// Fails when the encrypted and the plain connection do not use the same settings.
pub fn same_settings(encrypted: &Connection, plain: &Connection) -> Result<()> {
    let (a, b) = (settings_of(encrypted)?, settings_of(plain)?);
    if a != b {
        bail!("encrypted and plain connections differ: {a:?} vs {b:?}");
    }
    Ok(())
}

/// A small, fast, deterministic pseudo-random generator (xorshift64*): benchmark data only.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `len` random lowercase hex digits.
    pub fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len + 16);
        while s.len() < len {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(len);
        s
    }
}

/// A legacy `salt$sha256hex` password record (32 + 64 hex digits), as the old site wrote.
pub fn legacy_password(rng: &mut Rng) -> String {
    format!("{}${}", rng.hex(32), rng.hex(64))
}

pub fn username(i: u64) -> String {
    format!("user{i:08}")
}

/// A card's stored bytes (JSON of about 200 bytes) and its unique signature.
pub fn card_data(i: u64, product_id: i64, amount: i64, rng: &mut Rng) -> (Vec<u8>, String) {
    let data = format!(
        "{{\"version\":1,\"product\":\"Product {product_id}\",\"amount\":{amount},\"serial\":\"{i:012}-{}\",\"issued\":\"2026-01-01T00:00:00Z\",\"nonce\":\"{}\"}}",
        rng.hex(24),
        rng.hex(32)
    );
    let signature = format!("{i:016x}{}", rng.hex(48));
    (data.into_bytes(), signature)
}

/// Products 1..=n with unique names and image paths.
pub fn insert_products(conn: &Connection, n: i64) -> Result<()> {
    for id in 1..=n {
        products::insert(conn, &product(id))?;
    }
    Ok(())
}

pub fn product(id: i64) -> products::Product {
    products::Product {
        product_id: id,
        product_name: format!("Product {id}"),
        product_image_path: format!("/images/p{id}.jpg"),
        recommended_price: 1 + (id * 7919) % 10_000,
        description: format!("Gift card number {id}: valid in every shop of the network"),
    }
}

/// The data set of the store-level benchmarks.
#[derive(Clone, Copy, Debug)]
pub struct Dataset {
    pub users: u64,
    pub products: i64,
    pub cards: u64,
    /// The user whose card list is read.
    pub list_user: i64,
    /// How many cards `list_user` owns (spread evenly through the table).
    pub list_cards: u64,
}

impl Dataset {
    pub const STANDARD: Dataset = Dataset {
        users: 100_000,
        products: 100,
        cards: 100_000,
        list_user: 4242,
        list_cards: 50,
    };
}

/// Fills an empty database (encrypted or plain) with the data set, through the store's
/// repository functions, in one transaction.
pub fn populate(conn: &mut Connection, set: Dataset) -> Result<()> {
    let tx = conn.transaction()?;
    let mut rng = Rng::new(42);
    insert_products(&tx, set.products)?;
    for i in 1..=set.users {
        users::insert(
            &tx,
            None,
            &username(i),
            &legacy_password(&mut rng),
            Some("2020-10-01 12:51:48.124599"),
        )?;
    }
    let every = set.cards / set.list_cards.max(1);
    for i in 0..set.cards {
        let user_id = if every > 0 && i % every == every / 2 {
            set.list_user
        } else {
            loop {
                let u = 1 + rng.below(set.users) as i64;
                if u != set.list_user {
                    break u;
                }
            }
        };
        let product_id = 1 + rng.below(set.products as u64) as i64;
        let amount = 1 + rng.below(500) as i64;
        let (data, signature) = card_data(i, product_id, amount, &mut rng);
        cards::insert(
            &tx,
            &cards::NewCard {
                id: None,
                data: &data,
                product_id,
                amount,
                user_id,
                signature: &signature,
                used: false,
                legacy: false,
            },
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Adds rows (a batch of users, each with a card) until the database is at least
/// `target_bytes` large. Returns the database size in bytes.
pub fn grow_to(conn: &mut Connection, target_bytes: u64) -> Result<u64> {
    const BATCH: u64 = 5_000;
    let mut rng = Rng::new(7);
    let first_user: i64 = users::count(conn)?;
    if products::list(conn)?.is_empty() {
        insert_products(conn, 100)?;
    }
    let mut next = u64::try_from(first_user).unwrap_or(0) + 1;
    loop {
        let size = db_size(conn)?;
        if size >= target_bytes {
            return Ok(size);
        }
        let tx = conn.transaction()?;
        for _ in 0..BATCH {
            let user_id =
                users::insert(&tx, None, &username(next), &legacy_password(&mut rng), None)?;
            let product_id = 1 + rng.below(100) as i64;
            let amount = 1 + rng.below(500) as i64;
            let (data, signature) = card_data(next, product_id, amount, &mut rng);
            cards::insert(
                &tx,
                &cards::NewCard {
                    id: None,
                    data: &data,
                    product_id,
                    amount,
                    user_id,
                    signature: &signature,
                    used: false,
                    legacy: false,
                },
            )?;
            next += 1;
        }
        tx.commit()?;
    }
}

/// Logical database size: page count times page size (the WAL not yet checkpointed counts).
pub fn db_size(conn: &Connection) -> Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    // SQLCipher answers page_size as text (it is routed to cipher_page_size).
    let page: i64 = conn.query_row("PRAGMA page_size", [], |r| {
        Ok(match r.get::<_, rusqlite::types::Value>(0)? {
            rusqlite::types::Value::Integer(i) => i,
            rusqlite::types::Value::Text(t) => t.parse().unwrap_or(4096),
            _ => 4096,
        })
    })?;
    Ok(u64::try_from(pages * page)?)
}

/// Writes the legacy users CSV (`id, last_login, username, password record`, no header).
/// Usernames start at `first`.
pub fn write_users_csv(path: &Path, first: u64, n: u64, seed: u64) -> Result<u64> {
    let mut rng = Rng::new(seed);
    let mut out = BufWriter::new(File::create(path)?);
    for i in first..first + n {
        let last_login = if i % 4 == 0 {
            String::new()
        } else {
            format!(
                "2020-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
                1 + i % 12,
                1 + i % 28,
                i % 24,
                i % 60,
                (i / 60) % 60,
                i % 1_000_000
            )
        };
        writeln!(
            out,
            "{i},{last_login},{},{}",
            username(i),
            legacy_password(&mut rng)
        )?;
    }
    out.flush()?;
    Ok(fs::metadata(path)?.len())
}

/// Writes the legacy products CSV (`id, name, image path, price, description`, no header):
/// unique ids, names and image paths, prices 1..=10000.
pub fn write_products_csv(path: &Path, n: i64) -> Result<u64> {
    let mut out = BufWriter::new(File::create(path)?);
    for id in 1..=n {
        let p = product(id);
        writeln!(
            out,
            "{},{},{},{},{}",
            p.product_id, p.product_name, p.product_image_path, p.recommended_price, p.description
        )?;
    }
    out.flush()?;
    Ok(fs::metadata(path)?.len())
}

/// SHA-256 of a file, to show that an operation did not touch it.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Flushes dirty pages and drops the page cache, so a timed copy reads from disk. Needs root;
/// returns false when the kernel refused.
pub fn drop_page_cache() -> bool {
    let _ = Command::new("sync").status();
    fs::write("/proc/sys/vm/drop_caches", b"3\n").is_ok()
}

/// CPU time the calling thread has spent on a CPU so far (`/proc/thread-self/schedstat`,
/// nanoseconds), to tell CPU-bound from waiting in a timed operation.
pub fn thread_cpu_time() -> Duration {
    fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// Times `cp SRC DST` run as a process, then (separately) an fsync of the copy.
pub fn time_cp(src: &Path, dst: &Path) -> Result<(Duration, Duration)> {
    let started = Instant::now();
    let status = Command::new("cp")
        .arg(src)
        .arg(dst)
        .status()
        .context("running cp")?;
    let copy = started.elapsed();
    if !status.success() {
        bail!("cp failed: {status}");
    }
    let started = Instant::now();
    File::open(dst)?.sync_all()?;
    Ok((copy, started.elapsed()))
}

pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Reads a size such as `100`, `100M`, `1G` (MiB without a suffix).
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim().to_ascii_uppercase();
    let (num, mult) = if let Some(n) = t.strip_suffix('G') {
        (n, 1u64 << 30)
    } else if let Some(n) = t.strip_suffix('M') {
        (n, 1u64 << 20)
    } else {
        (t.as_str(), 1u64 << 20)
    };
    let n: u64 = num
        .trim()
        .parse()
        .with_context(|| format!("bad size '{text}'"))?;
    Ok(n * mult)
}

/// An environment variable parsed as a number, or a default.
pub fn env_u64(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name} must be a whole number, found '{v}'")),
        Err(_) => Ok(default),
    }
}

/// True when an environment variable is set to 1/true/yes.
pub fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| matches!(v.trim(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("10").unwrap(), 10 << 20);
        assert_eq!(parse_size("100M").unwrap(), 100 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert!(parse_size("x").is_err());
    }

    #[test]
    fn both_stores_have_the_same_schema_and_settings() {
        let enc = EncryptedStore::create("test", cheap_kdf()).unwrap();
        let plain = PlainStore::create("test").unwrap();
        let (a, b) = (enc.connect().unwrap(), plain.connect().unwrap());
        same_settings(&a, &b).unwrap();
        let schema = |c: &Connection| -> Vec<String> {
            let mut s = c
                .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
                .unwrap();
            s.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(schema(&a), schema(&b));
        // The plain file really is plain, the encrypted one really is not.
        let head = |p: &Path| fs::read(p).unwrap()[..16].to_vec();
        assert_eq!(head(&plain.path), b"SQLite format 3\0");
        assert_ne!(head(&enc.db_path()), b"SQLite format 3\0");
    }

    #[test]
    fn generated_csv_imports() {
        let enc = EncryptedStore::create("test", cheap_kdf()).unwrap();
        let users_csv = enc.tmp.path().join("users.csv");
        let products_csv = enc.tmp.path().join("products.csv");
        write_users_csv(&users_csv, 1, 100, 1).unwrap();
        write_products_csv(&products_csv, 50).unwrap();
        let mut conn = enc.connect().unwrap();
        let report = cardsgalore_store::import_csv(
            &mut conn,
            Some(&products_csv),
            Some(&users_csv),
            Default::default(),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(report.users.inserted, 100);
        assert_eq!(report.products.inserted, 50);
    }

    #[test]
    fn populate_gives_the_list_user_its_cards() {
        let plain = PlainStore::create("test").unwrap();
        let mut conn = plain.connect().unwrap();
        let set = Dataset {
            users: 1000,
            products: 10,
            cards: 1000,
            list_user: 42,
            list_cards: 50,
        };
        populate(&mut conn, set).unwrap();
        assert_eq!(cards::list_for_user(&conn, 42).unwrap().len(), 50);
    }
}
