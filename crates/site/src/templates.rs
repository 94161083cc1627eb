//! One template struct per page (askama, compiled and HTML-escaped). Every page extends
//! `templates/base.html`, which renders the navbar from [`Nav`].

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use cardsgalore_store::repo::products::Product;

use crate::assets;
use crate::error::SiteError;
use crate::session::AuthUser;

/// What the navbar needs: who is signed in, and the token of the "Sign Out" form.
#[derive(Default)]
pub struct Nav {
    pub user: Option<String>,
    pub csrf: Option<String>,
}

impl Nav {
    pub fn new(user: Option<&AuthUser>, csrf: Option<String>) -> Nav {
        Nav {
            user: user.map(|u| u.username.clone()),
            csrf,
        }
    }

    pub fn css_url(&self) -> &'static str {
        assets::css_url()
    }
}

/// A product as the pages show it.
pub struct ProductView {
    pub id: i64,
    pub name: String,
    pub image_url: String,
    pub price: i64,
    pub description: String,
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> ProductView {
        ProductView {
            id: p.product_id,
            name: p.product_name.clone(),
            image_url: assets::product_image_url(&p.product_image_path).to_owned(),
            price: p.recommended_price,
            description: p.description.clone(),
        }
    }
}

/// Renders a page with a status.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Result<Response, SiteError> {
    Ok((status, Html(page.render()?)).into_response())
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub nav: Nav,
    pub products: Vec<ProductView>,
}

#[derive(Template)]
#[template(path = "buy.html")]
pub struct BuyPage {
    pub nav: Nav,
    pub product: ProductView,
    pub director: Option<String>,
    pub csrf: String,
    pub signed_in_as: Option<String>,
}

#[derive(Template)]
#[template(path = "gift.html")]
pub struct GiftPage {
    pub nav: Nav,
    pub product: ProductView,
    pub director: Option<String>,
    pub csrf: String,
    pub given_to: Option<String>,
}

/// A card on the use page.
pub struct CardView {
    pub id: i64,
    pub product_name: String,
    pub image_url: String,
    pub description: String,
    pub amount: i64,
    pub used: bool,
    pub legacy: bool,
    pub created_at: String,
}

#[derive(Template)]
#[template(path = "use.html")]
pub struct UsePage {
    pub nav: Nav,
    pub csrf: String,
    pub heading: &'static str,
    pub notice: Option<String>,
    pub cards: Vec<CardView>,
    pub has_unused: bool,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub nav: Nav,
    pub csrf: String,
    pub failed: bool,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub username: String,
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub nav: Nav,
    pub csrf: String,
    pub error: Option<String>,
    pub username: String,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage {
    pub nav: Nav,
    pub csrf: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub nav: Nav,
    pub status: u16,
    pub reason: &'a str,
    pub message: &'a str,
}

#[derive(Template)]
#[template(path = "admin.html")]
pub struct AdminPage {
    pub nav: Nav,
    pub unseal: bool,
    pub sealed: bool,
    pub insecure: bool,
    pub csrf: String,
    pub message: Option<String>,
    pub failed: bool,
}
