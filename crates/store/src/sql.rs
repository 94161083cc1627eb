//! `sql`: one statement on the encrypted database, its rows written as CSV with a header.

use std::io::Write;

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use crate::connection::run_pragma;
use crate::error::StoreError;

/// Runs one SQL statement and writes its result to `out`. Without `write` the connection is
/// switched to `query_only` and a statement that would change anything is refused. Returns
/// the number of rows changed (0 for a query).
pub fn run_sql(
    conn: &Connection,
    query: &str,
    write: bool,
    out: &mut dyn Write,
) -> Result<u64, StoreError> {
    run_pragma(
        conn,
        if write {
            "PRAGMA query_only = OFF"
        } else {
            "PRAGMA query_only = ON"
        },
    )?;
    let mut stmt = conn.prepare(query)?;
    if !write && !stmt.readonly() {
        return Err(StoreError::Invalid(
            "this statement would change the database; pass --write to allow it".into(),
        ));
    }
    let columns = stmt.column_count();
    let mut csv = csv::Writer::from_writer(out);
    let io_err = |e: csv::Error| StoreError::Invalid(format!("cannot write the result: {e}"));
    if columns > 0 {
        csv.write_record(stmt.column_names()).map_err(io_err)?;
    }
    let mut rows = stmt.query([])?;
    let mut fields: Vec<String> = Vec::with_capacity(columns);
    while let Some(row) = rows.next()? {
        fields.clear();
        for i in 0..columns {
            fields.push(match row.get_ref(i)? {
                ValueRef::Null => String::new(),
                ValueRef::Integer(n) => n.to_string(),
                ValueRef::Real(x) => x.to_string(),
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                ValueRef::Blob(b) => match std::str::from_utf8(b) {
                    Ok(text) => text.to_string(),
                    Err(_) => format!("x'{}'", hex::encode(b)),
                },
            });
        }
        csv.write_record(&fields).map_err(io_err)?;
    }
    drop(rows);
    csv.flush()
        .map_err(|e| StoreError::Invalid(format!("cannot write the result: {e}")))?;
    Ok(if columns == 0 { conn.changes() } else { 0 })
}
