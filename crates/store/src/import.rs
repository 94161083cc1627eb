//! Import of the legacy seed CSV files (no header row):
//! products `id, name, image path, price, description` and users
//! `id, last_login, username, password record`. All or nothing, in one transaction.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use cardsgalore_cards::amount::validate_amount;
use cardsgalore_cards::users::{is_valid_password_record, validate_username};
use rusqlite::Connection;

use crate::error::StoreError;
use crate::repo::products::{self, Product};
use crate::repo::users;
use crate::Progress;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnConflict {
    /// A row whose key already exists aborts the import.
    #[default]
    Error,
    /// Keep the existing row.
    Skip,
    /// Overwrite the existing row.
    Update,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ImportOptions {
    pub on_conflict: OnConflict,
    pub dry_run: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub inserted: u64,
    pub updated: u64,
    pub skipped: u64,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ImportReport {
    pub products: Counts,
    pub users: Counts,
}

/// Imports the given files in one transaction; the first bad row aborts it with
/// `FILE:LINE: reason` and nothing is imported. With `dry_run` everything is checked, then
/// rolled back. `progress` receives bytes read out of the total size of both files.
pub fn import_csv(
    conn: &mut Connection,
    products_csv: Option<&Path>,
    users_csv: Option<&Path>,
    options: ImportOptions,
    progress: Progress<'_>,
) -> Result<ImportReport, StoreError> {
    let open = |path: Option<&Path>| -> Result<Option<Source>, StoreError> {
        path.map(|p| {
            let file = File::open(p).map_err(StoreError::io(p))?;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            Ok(Source {
                name: p.display().to_string(),
                reader: Box::new(file),
                size,
            })
        })
        .transpose()
    };
    import_sources(
        conn,
        open(products_csv)?,
        open(users_csv)?,
        options,
        progress,
    )
}

/// A CSV input: a file, or text built into the binary.
pub(crate) struct Source {
    pub name: String,
    pub reader: Box<dyn Read>,
    pub size: u64,
}

pub(crate) fn import_sources(
    conn: &mut Connection,
    products_csv: Option<Source>,
    users_csv: Option<Source>,
    options: ImportOptions,
    progress: Progress<'_>,
) -> Result<ImportReport, StoreError> {
    let total: u64 = [&products_csv, &users_csv]
        .into_iter()
        .flatten()
        .map(|s| s.size)
        .sum();
    let mut report = ImportReport::default();
    let tx = conn.transaction()?;
    let mut offset = 0;
    if let Some(source) = products_csv {
        offset += each_row(source, 5, offset, total, progress, |row| {
            let product = parse_product(row)?;
            upsert(
                &mut report.products,
                options.on_conflict,
                || products::insert(&tx, &product),
                || products::exists(&tx, product.product_id),
                || products::update(&tx, &product),
                &format!("product id {}", product.product_id),
            )
        })?;
    }
    if let Some(source) = users_csv {
        each_row(source, 4, offset, total, progress, |row| {
            let (username, password, last_login) = parse_user(row)?;
            upsert(
                &mut report.users,
                options.on_conflict,
                || users::insert(&tx, None, username, password, last_login).map(|_| ()),
                || Ok(users::find_by_username(&tx, username)?.is_some()),
                || users::update_by_username(&tx, username, password, last_login),
                &format!("username '{username}'"),
            )
        })?;
    }
    if options.dry_run {
        tx.rollback()?;
    } else {
        tx.commit()?;
    }
    Ok(report)
}

/// Inserts, or on a key conflict skips, updates or fails as asked.
fn upsert(
    counts: &mut Counts,
    on_conflict: OnConflict,
    insert: impl FnOnce() -> Result<(), StoreError>,
    exists: impl FnOnce() -> Result<bool, StoreError>,
    update: impl FnOnce() -> Result<(), StoreError>,
    what: &str,
) -> Result<(), String> {
    match insert() {
        Ok(()) => counts.inserted += 1,
        Err(StoreError::Conflict(reason)) => {
            // A conflict on another unique column (say, a product name used by another id)
            // cannot be resolved by skipping or updating this key.
            if !exists().map_err(|e| e.to_string())? {
                return Err(reason);
            }
            match on_conflict {
                OnConflict::Error => {
                    return Err(format!(
                        "{what} already exists (use --on-conflict skip or update)"
                    ))
                }
                OnConflict::Skip => counts.skipped += 1,
                OnConflict::Update => {
                    update().map_err(|e| e.to_string())?;
                    counts.updated += 1;
                }
            }
        }
        Err(e) => return Err(e.to_string()),
    }
    Ok(())
}

/// Calls `handle` for every record of a headerless CSV file, turning any failure into
/// `FILE:LINE: reason`. Returns the file's size in bytes.
fn each_row(
    source: Source,
    fields: usize,
    offset: u64,
    total: u64,
    progress: Progress<'_>,
    mut handle: impl FnMut(&csv::StringRecord) -> Result<(), String>,
) -> Result<u64, StoreError> {
    let name = source.name;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(source.reader);
    let mut record = csv::StringRecord::new();
    let mut rows: u64 = 0;
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                return Err(StoreError::Csv {
                    file: name,
                    line,
                    reason: csv_reason(&e),
                });
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        let fail = |reason| StoreError::Csv {
            file: name.clone(),
            line,
            reason,
        };
        if record.len() != fields {
            return Err(fail(format!(
                "expected {fields} fields, found {}",
                record.len()
            )));
        }
        handle(&record).map_err(fail)?;
        rows += 1;
        if rows.is_multiple_of(4096) {
            progress(offset + reader.position().byte(), total);
        }
    }
    let size = reader.position().byte();
    progress(offset + size, total);
    Ok(size)
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

fn integer(field: &str, what: &str) -> Result<i64, String> {
    field
        .trim()
        .parse::<i64>()
        .map_err(|_| format!("{what} must be a whole number, found '{}'", shorten(field)))
}

fn text<'a>(field: &'a str, what: &str, max_chars: usize) -> Result<&'a str, String> {
    if field.trim().is_empty() {
        return Err(format!("{what} is empty"));
    }
    if field.chars().count() > max_chars {
        return Err(format!("{what} is longer than {max_chars} characters"));
    }
    if field.chars().any(char::is_control) {
        return Err(format!("{what} contains control characters"));
    }
    Ok(field)
}

fn shorten(field: &str) -> String {
    let mut s: String = field.chars().take(40).collect();
    if s.len() < field.len() {
        s.push('…');
    }
    s.escape_debug().to_string()
}

fn parse_product(row: &csv::StringRecord) -> Result<Product, String> {
    let product_id = integer(&row[0], "product id")?;
    if product_id < 1 {
        return Err(format!("product id must be positive, found {product_id}"));
    }
    let product_name = text(&row[1], "product name", 50)?;
    if product_name.len() > cardsgalore_cards::card::MAX_ID_BYTES {
        return Err(format!(
            "product name is longer than {} bytes (cards carry it in a fixed-size field)",
            cardsgalore_cards::card::MAX_ID_BYTES
        ));
    }
    let image = text(&row[2], "image path", 100)?;
    let file = image.strip_prefix("/images/").unwrap_or("");
    let safe = !file.is_empty()
        && !file.starts_with('.')
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !safe {
        return Err(format!(
            "image path must look like /images/<name>.jpg, found '{}'",
            shorten(image)
        ));
    }
    let price = integer(&row[3], "recommended price")?;
    validate_amount(price).map_err(|e| format!("recommended price: {e}"))?;
    let description = text(&row[4], "description", 250)?;
    Ok(Product {
        product_id,
        product_name: product_name.to_string(),
        product_image_path: image.to_string(),
        recommended_price: price,
        description: description.to_string(),
    })
}

fn parse_user(row: &csv::StringRecord) -> Result<(&str, &str, Option<&str>), String> {
    integer(&row[0], "user id")?;
    let last_login = row[1].trim();
    let last_login = if last_login.is_empty() {
        None
    } else {
        Some(valid_timestamp(last_login)?)
    };
    let username = validate_username(&row[2]).map_err(|e| e.to_string())?;
    let password = &row[3];
    if !is_valid_password_record(password) {
        return Err(
            "password record must be 'salt$sha256' (32 and 64 hex digits) or an Argon2id hash"
                .to_string(),
        );
    }
    Ok((username, password, last_login))
}

/// Accepts `YYYY-MM-DD HH:MM:SS[.ffffff]`, as the legacy site wrote it.
fn valid_timestamp(text: &str) -> Result<&str, String> {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    time::PrimitiveDateTime::parse(text, format)
        .map(|_| text)
        .map_err(|_| {
            format!(
                "last_login must look like 2020-10-01 12:51:48.124599, found '{}'",
                shorten(text)
            )
        })
}
