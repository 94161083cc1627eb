//! Static assets compiled into the binary, served from fixed tables. A request path is only
//! ever used as a key into these tables: nothing is read from the filesystem at run time.

use std::sync::LazyLock;

use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::SiteError;

const CSS: &str = include_str!("../static/site.css");

/// The product illustrations, by the legacy image path a product refers to.
const PRODUCT_IMAGES: &[(&str, &str)] = &[
    ("product_1.jpg", include_str!("../static/img/apparel.svg")),
    ("product_2.jpg", include_str!("../static/img/food.svg")),
    ("product_3.jpg", include_str!("../static/img/robe.svg")),
    ("product_4.jpg", include_str!("../static/img/gift.svg")),
    ("product_5.jpg", include_str!("../static/img/books.svg")),
    (
        "product_6.jpg",
        include_str!("../static/img/electronics.svg"),
    ),
    ("product_7.jpg", include_str!("../static/img/tuition.svg")),
    ("product_8.jpg", include_str!("../static/img/gym.svg")),
];

/// Files under `/static/`.
const STATIC_FILES: &[(&str, &str, &str)] = &[
    ("site.css", "text/css; charset=utf-8", CSS),
    (
        "img/logo.svg",
        "image/svg+xml",
        include_str!("../static/img/logo.svg"),
    ),
    (
        "img/card.svg",
        "image/svg+xml",
        include_str!("../static/img/gift.svg"),
    ),
];

/// The generic illustration for a product whose image path is not one of ours.
const FALLBACK_IMAGE: &str = "/static/img/card.svg";

/// The stylesheet URL, with a content hash so it can be cached for a long time.
static CSS_URL: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(CSS.as_bytes());
    format!("/static/site.css?v={}", &hex_prefix(&digest))
});

fn hex_prefix(bytes: &[u8]) -> String {
    bytes[..6].iter().map(|b| format!("{b:02x}")).collect()
}

pub fn css_url() -> &'static str {
    CSS_URL.as_str()
}

/// The URL of a product's illustration: its legacy path if we have a picture for it,
/// otherwise the generic one.
pub fn product_image_url(image_path: &str) -> &str {
    match image_path.strip_prefix("/images/") {
        Some(name) if PRODUCT_IMAGES.iter().any(|(n, _)| *n == name) => image_path,
        _ => FALLBACK_IMAGE,
    }
}

/// `GET /images/{name}`: a legacy product image URL, answered with our own SVG.
pub async fn legacy_image(
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, SiteError> {
    let Path(name) = name?;
    PRODUCT_IMAGES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, svg)| asset("image/svg+xml", svg))
        .ok_or_else(|| SiteError::not_found("There is no such image."))
}

/// `GET /static/{*path}`.
pub async fn static_file(path: Result<Path<String>, PathRejection>) -> Result<Response, SiteError> {
    let Path(path) = path?;
    STATIC_FILES
        .iter()
        .find(|(n, _, _)| *n == path)
        .map(|(_, content_type, body)| asset(content_type, body))
        .ok_or_else(|| SiteError::not_found("There is no such file."))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=604800"),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_product_images() {
        assert_eq!(
            product_image_url("/images/product_5.jpg"),
            "/images/product_5.jpg"
        );
        assert_eq!(product_image_url("/images/../etc/passwd"), FALLBACK_IMAGE);
        assert_eq!(
            product_image_url("https://evil.example/x.jpg"),
            FALLBACK_IMAGE
        );
    }

    #[test]
    fn css_url_is_versioned() {
        assert!(css_url().starts_with("/static/site.css?v="));
    }
}
