//! Thin handlers, one file per feature, and the small extractors they share.

pub mod account;
pub mod admin;
pub mod buy;
pub mod download;
pub mod gift;
pub mod index;
pub mod use_card;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Query, RawPathParams};
use axum::http::request::Parts;
use cardsgalore_cards::{Card, CardError, CardKey};
use cardsgalore_store::repo::cards::{self, NewCard};
use cardsgalore_store::repo::products::{self, Product};
use rusqlite::Connection;
use serde::Deserialize;

use crate::error::SiteError;
use crate::state::AppState;

/// The product number of `/buy/{n}` and `/gift/{n}`: digits only (anything else is a 404,
/// as on the legacy site); 0 or absent means product 1.
pub struct ProductNumber(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for ProductNumber {
    type Rejection = SiteError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| SiteError::no_such_product())?;
        let number = match params.iter().find(|(name, _)| *name == "n") {
            None => 1,
            Some((_, text)) => parse_id(text).ok_or_else(SiteError::no_such_product)?,
        };
        Ok(ProductNumber(if number == 0 { 1 } else { number }))
    }
}

/// A non-negative decimal id; `None` for anything else (signs, spaces, overflow).
pub fn parse_id(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The optional `director` query parameter of the buy and gift pages (shown escaped).
#[derive(Deserialize)]
pub struct DirectorQuery {
    director: Option<String>,
}

/// The longest endorsement shown.
const MAX_DIRECTOR_CHARS: usize = 80;

impl DirectorQuery {
    pub fn director(self) -> Option<String> {
        self.director
            .map(|d| {
                d.trim()
                    .chars()
                    .take(MAX_DIRECTOR_CHARS)
                    .collect::<String>()
            })
            .filter(|d| !d.is_empty())
    }
}

/// Reads the `director` parameter, turning a malformed query into our 400 page.
pub fn director(
    query: Result<Query<DirectorQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Option<String>, SiteError> {
    Ok(query?.0.director())
}

/// The product, or the legacy "ERROR: 404 Not Found." page.
pub fn product(conn: &Connection, number: i64) -> Result<Product, SiteError> {
    products::get(conn, number)?.ok_or_else(SiteError::no_such_product)
}

/// Issues a card of `product` bought by `customer` for `amount` and stores it as owned by
/// `owner_id` (the buyer, or a gift's recipient). Returns the card file.
pub fn issue_card(
    conn: &Connection,
    key: &CardKey,
    product: &Product,
    customer: &str,
    owner_id: i64,
    amount: i64,
) -> Result<Vec<u8>, SiteError> {
    let card = Card::issue(key, &product.product_name, customer, amount).map_err(|e| match e {
        CardError::Amount(e) => SiteError::from(e),
        other => SiteError::internal(anyhow::Error::new(other).context("issuing a card failed")),
    })?;
    let data = card.to_json_bytes();
    cards::insert(
        conn,
        &NewCard {
            id: None,
            data: &data,
            product_id: product.product_id,
            amount,
            user_id: owner_id,
            signature: &card.signature.to_hex(),
            used: false,
            legacy: false,
        },
    )?;
    Ok(data)
}

/// The client's address for rate limiting: the connection's peer, or with `trust_proxy`
/// the last `X-Forwarded-For` entry (the one our proxy added).
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = SiteError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.settings().trust_proxy {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                .and_then(|last| last.trim().parse::<IpAddr>().ok());
            if let Some(ip) = forwarded {
                return Ok(ClientAddr(ip.to_string()));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok(ClientAddr(peer.unwrap_or_else(|| "unknown".to_owned())))
    }
}
