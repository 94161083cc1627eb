//! The `products` table.

use rusqlite::{Connection, OptionalExtension, Row};

use crate::error::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub product_id: i64,
    pub product_name: String,
    pub product_image_path: String,
    pub recommended_price: i64,
    pub description: String,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        product_id: row.get(0)?,
        product_name: row.get(1)?,
        product_image_path: row.get(2)?,
        recommended_price: row.get(3)?,
        description: row.get(4)?,
    })
}

const COLUMNS: &str =
    "product_id, product_name, product_image_path, recommended_price, description";

pub fn list(conn: &Connection) -> Result<Vec<Product>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM products ORDER BY product_id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, product_id: i64) -> Result<Option<Product>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM products WHERE product_id = ?1"
        ))?
        .query_row([product_id], from_row)
        .optional()?)
}

/// Inserts a product with its explicit id. A taken id, name or image path is a `Conflict`.
pub fn insert(conn: &Connection, p: &Product) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT INTO products ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"
    ))?
    .execute((
        p.product_id,
        &p.product_name,
        &p.product_image_path,
        p.recommended_price,
        &p.description,
    ))
    .map_err(|e| {
        if StoreError::is_unique_violation(&e) {
            StoreError::Conflict(format!(
                "product {} ('{}') conflicts with an existing product id, name or image path",
                p.product_id, p.product_name
            ))
        } else {
            e.into()
        }
    })?;
    Ok(())
}

/// Overwrites the product with the same id.
pub fn update(conn: &Connection, p: &Product) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE products SET product_name = ?2, product_image_path = ?3, recommended_price = ?4,
         description = ?5 WHERE product_id = ?1",
    )?
    .execute((
        p.product_id,
        &p.product_name,
        &p.product_image_path,
        p.recommended_price,
        &p.description,
    ))
    .map_err(|e| {
        if StoreError::is_unique_violation(&e) {
            StoreError::Conflict(format!(
                "product {} ('{}') conflicts with another product's name or image path",
                p.product_id, p.product_name
            ))
        } else {
            e.into()
        }
    })?;
    Ok(())
}

pub fn exists(conn: &Connection, product_id: i64) -> Result<bool, StoreError> {
    Ok(get(conn, product_id)?.is_some())
}
