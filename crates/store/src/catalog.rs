//! The built-in product catalog: the seven products of the legacy site, loaded by `init`.

use rusqlite::Connection;

use crate::error::StoreError;
use crate::import::{import_sources, ImportOptions, ImportReport, Source};

const PRODUCTS_CSV: &str = include_str!("../../../seed/products.csv");

/// Loads the built-in catalog through the same importer as `cardsgalore import`.
pub fn load_catalog(conn: &mut Connection) -> Result<ImportReport, StoreError> {
    let source = Source {
        name: "built-in catalog".into(),
        reader: Box::new(PRODUCTS_CSV.as_bytes()),
        size: PRODUCTS_CSV.len() as u64,
    };
    import_sources(
        conn,
        Some(source),
        None,
        ImportOptions::default(),
        &mut |_, _| {},
    )
}
