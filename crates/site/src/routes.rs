//! The route table: every URL of the site, in one place. Legacy aliases (`/buy`, `/buy/`,
//! `/buy.html`, …) are kept, since old links and bookmarks use them.

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, MethodRouter};
use axum::Router;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::assets;
use crate::csrf;
use crate::error::SiteError;
use crate::handlers::{account, admin, buy, download, gift, index, use_card};
use crate::metrics;
use crate::security;
use crate::session;
use crate::state::AppState;
use crate::trace;

/// The body limit of every form but the card upload.
const FORM_BODY_LIMIT: usize = 16 * 1024;

/// Adds `route` under each of `paths`.
fn aliases(
    mut router: Router<AppState>,
    paths: &[&str],
    route: MethodRouter<AppState>,
) -> Router<AppState> {
    for path in paths {
        router = router.route(path, route.clone());
    }
    router
}

/// The whole site. [`crate::serve`] serves it; tests may drive it directly.
pub fn router(state: AppState) -> Router {
    let mut pages = Router::new();
    pages = aliases(
        pages,
        &["/", "/index", "/index/", "/index.html"],
        get(index::page),
    );
    pages = aliases(
        pages,
        &["/buy", "/buy/", "/buy.html", "/buy/{n}"],
        get(buy::page).post(buy::buy),
    );
    pages = aliases(
        pages,
        &["/gift", "/gift/", "/gift.html", "/gift/{n}"],
        get(gift::page).post(gift::give),
    );
    pages = aliases(
        pages,
        &["/login", "/login/", "/login.html"],
        get(account::login_page).post(account::login),
    );
    pages = aliases(
        pages,
        &["/register", "/register/", "/register.html"],
        get(account::register_page).post(account::register),
    );
    pages = aliases(
        pages,
        &["/logout", "/logout/", "/logout.html"],
        get(account::logout_page).post(account::logout),
    );
    pages = aliases(
        pages,
        &["/use", "/use/", "/use.html"],
        get(use_card::page)
            .post(use_card::submit)
            .layer(DefaultBodyLimit::max(use_card::MAX_UPLOAD_BODY)),
    );
    let pages = pages
        .route("/cards/{id}/download", get(download::card))
        .layer(from_fn_with_state(state.clone(), session::session_layer))
        .layer(from_fn_with_state(state.clone(), admin::maintenance))
        .layer(from_fn(csrf::origin_check));

    // The operator's routes work while sealed.
    let operator = Router::new()
        .route("/health", get(admin::health))
        .route("/metrics", get(admin::metrics))
        .route("/admin/unseal", get(admin::unseal_page).post(admin::unseal))
        .route("/admin/seal", get(admin::seal_page).post(admin::seal))
        .layer(from_fn(csrf::origin_check));

    let assets = Router::new()
        .route("/static/{*path}", get(assets::static_file))
        .route("/images/{name}", get(assets::legacy_image));

    Router::new()
        .merge(pages)
        .merge(operator)
        .merge(assets)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
        .layer(RequestBodyTimeoutLayer::new(crate::BODY_READ_TIMEOUT))
        .layer(from_fn(security::security_headers))
        .layer(from_fn_with_state(state.clone(), metrics::count_requests))
        .layer(from_fn(trace::request_span))
        .with_state(state)
}

async fn not_found() -> SiteError {
    SiteError::not_found("There is no page at this address.")
}

async fn method_not_allowed() -> SiteError {
    SiteError::method_not_allowed()
}
