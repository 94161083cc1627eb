//! A sweep of hostile and malformed input: always a 4xx HTML page, never a 5xx, never
//! axum's plain-text rejections. Also the login and gift rate limits.

// Helpers outside #[test] functions unwrap too: this is test code.
#![allow(clippy::unwrap_used)]

mod common;

use common::{spawn, Page};
use reqwest::{Method, StatusCode};

fn assert_client_error(page: &Page, what: &str) {
    assert!(page.status.is_client_error(), "{what}: got {}", page.status);
    assert!(
        page.is_html(),
        "{what}: not an HTML page: {:?}",
        page.headers.get("content-type")
    );
}

#[tokio::test]
async fn wrong_methods_get_a_405_page() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    let paths = [
        "/",
        "/index.html",
        "/buy/1",
        "/buy.html",
        "/gift/2",
        "/login",
        "/register/",
        "/logout.html",
        "/use",
        "/cards/1/download",
        "/static/site.css",
        "/images/product_1.jpg",
    ];
    for path in paths {
        for method in [Method::PUT, Method::DELETE, Method::PATCH] {
            let resp = alice
                .http
                .request(method.clone(), alice.url(path))
                .send()
                .await
                .unwrap();
            let page = Page::from(resp).await;
            assert_eq!(
                page.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_client_error(&page, path);
        }
    }
    for path in ["/", "/index", "/cards/1/download", "/static/site.css"] {
        let page = alice.post_form(path, &[]).await;
        assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED, "POST {path}");
    }
    site.stop().await;
}

#[tokio::test]
async fn path_like_and_unknown_paths_are_404() {
    let site = spawn().await;
    let b = site.client();
    for path in [
        "/static/..%2F..%2FCargo.toml",
        "/static/%2e%2e%2fsrc%2flib.rs",
        "/images/..%2Fsrc%2Flib.rs",
        "/images/product_1.jpg%00.svg",
        "/images/product_1.jpg/x",
        "/etc/passwd",
        "/buy/1%2F..%2F2",
        "/cards/abc/download",
        "/index.php",
        "/%FF%FE",
        "/images/%FF",
        "/static/%FF%FE.css",
        "/cards/%FF/download",
        "/buy/%FF",
        "/gift/%C0",
    ] {
        let page = b.get(path).await;
        assert!(
            page.status == StatusCode::NOT_FOUND || page.status == StatusCode::SEE_OTHER,
            "{path}: {}",
            page.status
        );
    }
    site.stop().await;
}

#[tokio::test]
async fn malformed_forms_are_4xx() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    let token = alice.token("/use.html").await;
    let raw = |path: &str, content_type: &str, body: Vec<u8>| {
        let req = alice
            .http
            .post(alice.url(path))
            .header("content-type", content_type.to_owned())
            .body(body);
        async move { Page::from(req.send().await.unwrap()).await }
    };
    let urlencoded = "application/x-www-form-urlencoded";
    // Invalid UTF-8, raw and percent-encoded.
    let mut body = format!("csrf_token={token}&uname=").into_bytes();
    body.extend_from_slice(b"\xff\xfe&pword=%FF%FE");
    let page = raw("/login.html", urlencoded, body).await;
    assert_client_error(&page, "invalid utf-8 login");
    let page = raw(
        "/gift/1",
        urlencoded,
        format!("csrf_token={token}&username=%FF%C0&amount=%FF").into_bytes(),
    )
    .await;
    assert_client_error(&page, "invalid utf-8 gift");
    // Duplicate fields.
    let page = raw(
        "/buy/1",
        urlencoded,
        format!("csrf_token={token}&amount=1&amount=2").into_bytes(),
    )
    .await;
    assert_client_error(&page, "duplicate amount");
    // Wrong content types.
    let page = raw(
        "/login.html",
        "application/json",
        b"{\"uname\":\"a\"}".to_vec(),
    )
    .await;
    assert_eq!(page.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_client_error(&page, "json login");
    let page = raw("/use.html", "multipart/form-data", b"garbage".to_vec()).await;
    assert_client_error(&page, "multipart without boundary");
    let page = raw(
        "/use.html",
        "multipart/form-data; boundary=XYZ",
        b"--XYZ\r\ngarbage\r\n".to_vec(),
    )
    .await;
    assert_client_error(&page, "broken multipart");
    let page = raw("/use.html", "text/plain", b"card_id=1".to_vec()).await;
    assert_client_error(&page, "text/plain use");
    // Query strings.
    for path in [
        "/buy/1?director=%FF%FE",
        "/buy/1?director=a&director=b",
        "/cards/1/download?format=exe",
        "/login.html?registered=%ZZ",
    ] {
        let page = alice.get(path).await;
        assert!(!page.status.is_server_error(), "{path}: {}", page.status);
    }
    // A garbage session cookie is just no session.
    let resp = site
        .client()
        .http
        .get(site.url("/"))
        .header("cookie", "cg_session=<script>; other=1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    site.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    let token = alice.token("/login.html").await;
    let big = "x".repeat(100 * 1024);
    let page = alice
        .post_form(
            "/login.html",
            &[("csrf_token", &token), ("uname", &big), ("pword", "x")],
        )
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_client_error(&page, "big login");
    let page = alice.upload(vec![b'{'; 64 * 1024 + 1], "big").await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(page.body.contains("64 KiB"));
    let page = alice.upload(vec![b'{'; 200 * 1024], "huge").await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_client_error(&page, "huge upload");
    // At the limit: read, then refused as a card.
    let page = alice.upload(vec![b' '; 64 * 1024], "limit").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let page = alice.upload(Vec::new(), "empty").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    site.stop().await;
}

#[tokio::test]
async fn login_is_rate_limited_per_account_and_per_address() {
    let site = spawn().await;
    let b = site.client();
    for _ in 0..5 {
        assert_eq!(
            b.login("victim", "wrong guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let page = b.login("victim", "victim").await;
    assert_eq!(
        page.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the right password must not get through while blocked"
    );
    assert!(page.body.contains("Too many failed sign-in attempts"));
    // Another account from the same address is still fine.
    b.login_ok("test2", "test2").await;
    // Per address: 20 failures over many names block the address.
    for n in 5..20 {
        assert_eq!(
            site.client()
                .login(&format!("guess{n}"), "nope")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    let page = site.client().login("test2", "test2").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    site.stop().await;
}

#[tokio::test]
async fn gifts_to_unknown_users_are_rate_limited() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    for n in 0..10 {
        assert_eq!(
            alice.gift(1, "5", &format!("who{n}")).await.status,
            StatusCode::NOT_FOUND
        );
    }
    let page = alice.gift(1, "5", "test2").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(site.cards_of("test2").is_empty());
    site.stop().await;
}
