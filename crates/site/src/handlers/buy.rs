//! Buying: the product page, and the purchase, which answers with the card file download.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use cardsgalore_cards::parse_amount;
use serde::Deserialize;

use super::{director, issue_card, product, DirectorQuery, ProductNumber};
use crate::auth::{MaybeUser, LOGIN_PAGE};
use crate::csrf::{CsrfField, CsrfForm};
use crate::error::SiteError;
use crate::state::AppState;
use crate::templates::{render, BuyPage, Nav, ProductView};

/// `GET /buy/{n}`: the product page (no sign-in needed to look).
pub async fn page(
    State(state): State<AppState>,
    ProductNumber(number): ProductNumber,
    visitor: MaybeUser,
    query: Result<Query<DirectorQuery>, QueryRejection>,
) -> Result<Response, SiteError> {
    let director = director(query)?;
    let product = state.db(move |conn, _| product(conn, number)).await?;
    let csrf = visitor.session.csrf_token(&state).await?;
    let page = BuyPage {
        nav: Nav::new(visitor.user.as_ref(), Some(csrf.clone())),
        product: ProductView::from(&product),
        director,
        csrf,
        signed_in_as: visitor.user.map(|u| u.username),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct BuyForm {
    amount: Option<String>,
    csrf_token: Option<String>,
}

impl CsrfField for BuyForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

/// `POST /buy/{n}`: issues a card to the buyer, stores it, and sends it as a download.
/// Anonymous visitors are sent to the login page.
pub async fn buy(
    State(state): State<AppState>,
    ProductNumber(number): ProductNumber,
    visitor: MaybeUser,
    req: Request,
) -> Result<Response, SiteError> {
    let Some(user) = visitor.user else {
        return Ok(Redirect::to(LOGIN_PAGE).into_response());
    };
    let CsrfForm(form) = CsrfForm::<BuyForm>::from_request(req, &state).await?;
    let amount_text = form.amount.unwrap_or_default();
    let data = state
        .write(move |tx, state| {
            let product = product(tx, number)?;
            let amount = parse_amount(&amount_text, product.recommended_price)?;
            let key = state.card_key()?;
            let data = issue_card(tx, key, &product, &user.username, user.id, amount)?;
            Ok(data)
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=newcard.gftcrd",
            ),
        ],
        data,
    )
        .into_response())
}
