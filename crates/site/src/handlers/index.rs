//! The landing page: the catalog from the database.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cardsgalore_store::repo::products;

use crate::auth::MaybeUser;
use crate::error::SiteError;
use crate::state::AppState;
use crate::templates::{render, IndexPage, Nav, ProductView};

pub async fn page(
    State(state): State<AppState>,
    visitor: MaybeUser,
) -> Result<Response, SiteError> {
    let products = state.db(|conn, _| Ok(products::list(conn)?)).await?;
    let page = IndexPage {
        nav: Nav::new(visitor.user.as_ref(), visitor.session.existing_csrf_token()),
        products: products.iter().map(ProductView::from).collect(),
    };
    render(StatusCode::OK, &page)
}
