//! Gifting: a card bought by the signed-in user and owned by the recipient.
//!
//! An unknown recipient gets a clear "No such user" answer. That tells whether a username
//! exists; it is accepted because gifting needs a signed-in account, needs a valid form
//! token, and failed look-ups are rate limited per account (10 per 15 minutes).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cardsgalore_cards::parse_amount;
use cardsgalore_store::repo::users;
use serde::Deserialize;

use super::{director, issue_card, product, DirectorQuery, ProductNumber};
use crate::auth::CurrentUser;
use crate::csrf::{CsrfField, CsrfForm};
use crate::error::SiteError;
use crate::state::AppState;
use crate::templates::{render, GiftPage, Nav, ProductView};

/// `GET /gift/{n}`: the gift form. Never changes anything.
pub async fn page(
    State(state): State<AppState>,
    ProductNumber(number): ProductNumber,
    current: CurrentUser,
    query: Result<Query<DirectorQuery>, QueryRejection>,
) -> Result<Response, SiteError> {
    let director = director(query)?;
    let product = state.db(move |conn, _| product(conn, number)).await?;
    let csrf = current.session.csrf_token(&state).await?;
    let page = GiftPage {
        nav: Nav::new(Some(&current.user), Some(csrf.clone())),
        product: ProductView::from(&product),
        director,
        csrf,
        given_to: None,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct GiftForm {
    amount: Option<String>,
    username: Option<String>,
    csrf_token: Option<String>,
}

impl CsrfField for GiftForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

/// `POST /gift/{n}`: issues a card owned by the recipient; the card names the giver.
pub async fn give(
    State(state): State<AppState>,
    ProductNumber(number): ProductNumber,
    current: CurrentUser,
    CsrfForm(form): CsrfForm<GiftForm>,
) -> Result<Response, SiteError> {
    let limiter_key = format!("user:{}", current.user.id);
    if state.gift_misses().is_blocked(&limiter_key) {
        return Err(SiteError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many gifts to unknown usernames. Please wait 15 minutes and try again.",
        ));
    }
    let recipient = form.username.unwrap_or_default().trim().to_owned();
    if recipient.is_empty() {
        return Err(SiteError::bad_request(
            "Enter the username of the person you are giving the card to.",
        ));
    }
    let amount_text = form.amount.unwrap_or_default();
    let giver = current.user.clone();
    let lookup = recipient.clone();
    let outcome = state
        .write(move |tx, state| {
            let product = product(tx, number)?;
            let amount = parse_amount(&amount_text, product.recommended_price)?;
            let Some(owner) = users::find_by_username(tx, &lookup)? else {
                return Ok(None);
            };
            let key = state.card_key()?;
            issue_card(tx, key, &product, &giver.username, owner.id, amount)?;
            Ok(Some(product))
        })
        .await?;
    let Some(product) = outcome else {
        state.gift_misses().record(&limiter_key);
        return Err(SiteError::not_found(
            "No such user: check the recipient's username and try again.",
        ));
    };
    let csrf = current.session.csrf_token(&state).await?;
    let page = GiftPage {
        nav: Nav::new(Some(&current.user), Some(csrf.clone())),
        product: ProductView::from(&product),
        director: None,
        csrf,
        given_to: Some(recipient),
    };
    render(StatusCode::OK, &page)
}
