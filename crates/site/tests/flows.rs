//! The site's flows over real HTTP: register, login, buy, gift, use, download, logout.

// Helpers outside #[test] functions unwrap too: this is test code.
#![allow(clippy::unwrap_used)]

mod common;

use cardsgalore_cards::Card;
use common::{spawn, Page};
use reqwest::StatusCode;

#[tokio::test]
async fn index_and_aliases_render_the_catalog() {
    let site = spawn().await;
    let b = site.client();
    for path in ["/", "/index", "/index/", "/index.html"] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.is_html());
        assert!(page
            .body
            .contains("The Most Secure Place to Buy and Use Gift Cards"));
        assert!(page
            .body
            .contains("<title>Cards Galore — A card sale service</title>"));
        assert!(page.body.contains("Sign In / Register"));
        assert!(!page.body.contains("Sign Out"));
        for name in [
            "NYU Apparel Card",
            "Tuition Card",
            "NYU Gym Card",
            "Semester&#39;s Book Card",
        ] {
            assert!(page.body.contains(name), "{name} missing");
        }
        assert!(page.body.contains("href=\"/buy/7\""));
        assert!(page.body.contains("href=\"/gift/7\""));
        assert!(page.body.contains("src=\"/images/product_8.jpg\""));
        assert!(page.body.contains("$1999"));
    }
    for path in ["/buy", "/buy/", "/buy.html", "/buy/0", "/buy/1", "/buy/3"] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains("For all your card buying needs!"));
        assert!(page.body.contains("placeholder=\"$0.00\""));
        assert!(page.body.contains("Buy one"));
        assert!(page.body.contains("Gift one"));
    }
    assert!(b.get("/buy.html").await.body.contains("NYU Apparel Card"));
    assert!(b.get("/buy/3").await.body.contains("Price: 199"));
    for path in [
        "/login",
        "/login/",
        "/login.html",
        "/register",
        "/register/",
        "/register.html",
        "/logout",
        "/logout/",
        "/logout.html",
    ] {
        assert_eq!(b.get(path).await.status, StatusCode::OK, "{path}");
    }
    // Pages that need a session redirect anonymous visitors with an absolute Location.
    for path in [
        "/use",
        "/use/",
        "/use.html",
        "/gift",
        "/gift/",
        "/gift.html",
        "/gift/2",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), Some("/login.html"), "{path}");
    }
    site.stop().await;
}

#[tokio::test]
async fn unknown_product_and_bad_numbers_are_404_pages() {
    let site = spawn().await;
    let b = site.client();
    for path in [
        "/buy/99",
        "/buy/abc",
        "/buy/-1",
        "/buy/1/",
        "/buy/99999999999999999999999",
        "/gift/abc",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.is_html(), "{path}");
    }
    assert!(b
        .get("/buy/99")
        .await
        .body
        .contains("ERROR: 404 Not Found."));
    let alice = site.user("alice").await;
    let token = alice.token("/buy/1").await;
    let page = alice
        .post_form("/buy/99", &[("csrf_token", &token), ("amount", "10")])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("ERROR: 404 Not Found."));
    let gift = alice
        .post_form(
            "/gift/99",
            &[
                ("csrf_token", &token),
                ("amount", "10"),
                ("username", "test2"),
            ],
        )
        .await;
    assert_eq!(gift.status, StatusCode::NOT_FOUND);
    assert!(gift.body.contains("ERROR: 404 Not Found."));
    site.stop().await;
}

#[tokio::test]
async fn static_assets_and_legacy_images() {
    let site = spawn().await;
    let b = site.client();
    let home = b.get("/").await;
    let css_start = home.body.find("/static/site.css?v=").expect("css link");
    let css_href: String = home.body[css_start..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let resp = b.http.get(b.url(&css_href)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/css; charset=utf-8");
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    for n in 1..=8 {
        let resp = b
            .http
            .get(b.url(&format!("/images/product_{n}.jpg")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "image/svg+xml");
        assert!(resp.text().await.unwrap().starts_with("<svg"));
    }
    for path in [
        "/images/product_9.jpg",
        "/static/nope.css",
        "/images/logo.svg",
        "/static/img%2F..%2Fsite.css",
        "/images/%2e%2e%2fCargo.toml",
    ] {
        assert_eq!(b.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    site.stop().await;
}

#[tokio::test]
async fn register_login_and_logout() {
    let site = spawn().await;
    let b = site.client();
    let page = b.register("alice", "a long enough password").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/login.html?registered=1"));
    // Registering does not sign in.
    assert!(b.get("/").await.body.contains("Sign In / Register"));
    assert!(b
        .get("/login.html?registered=1")
        .await
        .body
        .contains("Your account has been created"));

    let taken = b.register("alice", "another long password").await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.body.contains("That username is taken"));

    let mismatch = b.get("/register.html").await.csrf();
    let page = b
        .post_form(
            "/register.html",
            &[
                ("csrf_token", &mismatch),
                ("uname", "bob"),
                ("pword", "a long enough password"),
                ("pword2", "another"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("The two passwords do not match."));
    assert!(page.body.contains("value=\"bob\""));

    let weak = b.register("bob", "short").await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(weak.body.contains("at least 10 characters"));

    let failed = b.login("alice", "wrong password!").await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    assert!(failed.body.contains("Login Failed"));
    assert!(failed.body.contains("Please try again"));
    let unknown = b.login("nobody", "wrong password!").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.body.contains("Login Failed"));

    b.login_ok("alice", "a long enough password").await;
    let home = b.get("/index.html").await;
    assert!(home.body.contains("Sign Out"));
    assert!(home.body.contains("alice"));

    // GET /logout only asks; POST signs out.
    let confirm = b.get("/logout").await;
    assert!(confirm.body.contains("Sign Out"));
    assert!(b.get("/").await.body.contains("Sign Out"));
    let token = confirm.csrf();
    let out = b.post_form("/logout.html", &[("csrf_token", &token)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), Some("/index.html"));
    assert!(b.get("/").await.body.contains("Sign In / Register"));
    assert_eq!(b.get("/use.html").await.status, StatusCode::SEE_OTHER);
    site.stop().await;
}

#[tokio::test]
async fn legacy_users_log_in_and_are_upgraded_to_argon2id() {
    let site = spawn().await;
    for name in ["test2", "victim"] {
        let before = cardsgalore_store::repo::users::find_by_username(&site.conn(), name)
            .unwrap()
            .unwrap();
        assert!(before
            .password
            .starts_with("000000000000000000000000000078d2$"));
        let b = site.client();
        b.login_ok(name, name).await;
        let after = cardsgalore_store::repo::users::find_by_username(&site.conn(), name)
            .unwrap()
            .unwrap();
        assert!(
            after.password.starts_with("$argon2id$"),
            "{name} not upgraded"
        );
        assert!(after.last_login.is_some());
        // And the upgraded record still works.
        site.client().login_ok(name, name).await;
    }
    site.stop().await;
}

#[tokio::test]
async fn buy_downloads_a_signed_card() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    let resp = alice.buy(3, "123").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=newcard.gftcrd"
    );
    let bytes = resp.bytes().await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["merchant_id"], "Graduation Robe Card");
    assert_eq!(json["customer_id"], "alice");
    assert_eq!(json["records"][0]["record_type"], "amount_change");
    let card = Card::from_upload(&bytes).unwrap();
    assert_eq!(card.amount, 123);
    let rows = site.cards_of("alice");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].signature, card.signature.to_hex());
    assert_eq!(rows[0].product_id, 3);
    assert!(!rows[0].used);
    // Verify with the shop key from the database.
    let key = cardsgalore_store::repo::settings::card_key(&site.conn()).unwrap();
    card.verify(&cardsgalore_cards::CardKey::from_bytes(*key))
        .unwrap();

    // Empty amount = recommended price; product 0 and /buy.html mean product 1.
    let card = Card::from_upload(&alice.buy_ok(0, "").await).unwrap();
    assert_eq!(
        (card.merchant_id.as_str(), card.amount),
        ("NYU Apparel Card", 95)
    );
    site.stop().await;
}

#[tokio::test]
async fn anonymous_buy_redirects_to_login() {
    let site = spawn().await;
    let b = site.client();
    let token = b.token("/buy/1").await;
    let page = b
        .post_form("/buy/1", &[("csrf_token", &token), ("amount", "10")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/login.html"));
    assert_eq!(site.card_count(), 0);
    site.stop().await;
}

#[tokio::test]
async fn gift_goes_to_the_recipient() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    let form = alice.get("/gift/2?director=Dean").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Endorsed by Dean!"));
    assert!(form.body.contains("name=\"username\""));
    let page = alice.gift(2, "40", "test2").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Card given to test2"));
    let cards = site.cards_of("test2");
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].amount, 40);
    assert!(site.cards_of("alice").is_empty());
    let card = Card::from_upload(&cards[0].data).unwrap();
    assert_eq!(card.customer_id, "alice", "the card names the giver");

    // The recipient can use it.
    let test2 = site.client();
    test2.login_ok("test2", "test2").await;
    let page = test2.get("/use.html").await;
    assert!(page.body.contains("Choose a card to use!"));
    let used = test2.use_by_id(cards[0].id).await;
    assert_eq!(used.status, StatusCode::OK);
    assert!(used.body.contains("Card used!"));

    let nobody = alice.gift(2, "40", "no_such_user").await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    assert!(nobody.body.contains("No such user"));
    let missing = alice.gift(2, "40", "").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    site.stop().await;
}

#[tokio::test]
async fn use_by_selection() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    let empty = alice.get("/use.html").await;
    assert!(empty.body.contains("Consider buying a card today!"));
    alice.buy_ok(1, "10").await;
    alice.buy_ok(2, "20").await;
    let page = alice.get("/use/").await;
    assert!(page.body.contains("Choose a card to use!"));
    assert_eq!(page.body.matches("Use This Card").count(), 2);
    let ids: Vec<i64> = site.cards_of("alice").iter().map(|c| c.id).collect();
    let page = alice.use_by_id(ids[0]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Card used!"));
    assert!(page.body.contains("Choose a card to use!"));
    let page = alice.use_by_id(ids[1]).await;
    assert!(page.body.contains("<h1>Card used!</h1>"));
    assert!(site.cards_of("alice").iter().all(|c| c.used));
    // Used cards are still listed, without the button.
    let page = alice.get("/use").await;
    assert_eq!(page.body.matches("Use This Card").count(), 0);
    assert!(page.body.contains("Used"));
    // Twice: refused.
    let again = alice.use_by_id(ids[0]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again
        .body
        .contains("That card is not yours or was already used"));
    site.stop().await;
}

#[tokio::test]
async fn use_by_upload_json_and_gft() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    let json = alice.buy_ok(4, "50").await;
    alice.buy_ok(5, "60").await;
    let rows = site.cards_of("alice");
    let (gft_row, json_row) = (&rows[0], &rows[1]);

    // Download again, both formats.
    let resp = alice.download(json_row.id, "json").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".gftcrd"));
    assert_eq!(resp.bytes().await.unwrap().to_vec(), json);
    let resp = alice.download(gft_row.id, "gft").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let gft = resp.bytes().await.unwrap().to_vec();
    assert_ne!(gft.first(), Some(&b'{'));
    assert_eq!(
        Card::from_upload(&gft).unwrap().signature.to_hex(),
        gft_row.signature
    );

    let page = alice.upload(json.clone(), "My <b>card</b>").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Card used!"));
    assert!(
        page.body.contains("My &#60;b&#62;card&#60;/b&#62;"),
        "{}",
        page.body
    );
    let page = alice.upload(gft, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Card used!"));
    assert!(site.cards_of("alice").iter().all(|c| c.used));

    let replay = alice.upload(json, "").await;
    assert_eq!(replay.status, StatusCode::CONFLICT);
    assert!(replay.body.contains("This card was already used"));
    site.stop().await;
}

#[tokio::test]
async fn legacy_cards_are_used_by_exact_bytes() {
    let site = spawn().await;
    let victim = site.client();
    victim.login_ok("victim", "victim").await;
    let legacy = br#"{"merchant_id": "NYU Apparel Card", "customer_id": "victim", "total_value": "123", "records": [{"record_type": "amount_change", "amount_added": 2000, "signature": "84bffa71cfdba27c5c5b43954b564d4c"}]}"#;
    let victim_id = site.user_id("victim");
    cardsgalore_store::repo::cards::insert(
        &site.conn(),
        &cardsgalore_store::repo::cards::NewCard {
            id: None,
            data: legacy,
            product_id: 1,
            amount: 123,
            user_id: victim_id,
            signature: "84bffa71cfdba27c5c5b43954b564d4c",
            used: false,
            legacy: true,
        },
    )
    .unwrap();
    // Altered by one byte: not the legacy card, and no valid signature either.
    let mut altered = legacy.to_vec();
    altered[80] = b'9';
    let page = victim.upload(altered, "").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let page = victim.upload(legacy.to_vec(), "old").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Card used!"));
    assert!(site.cards_of("victim")[0].used);
    site.stop().await;
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    for path in [
        "/",
        "/buy/1",
        "/gift/1",
        "/use.html",
        "/login.html",
        "/nope",
        "/static/site.css",
    ] {
        let page: Page = alice.get(path).await;
        let h = &page.headers;
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(!page.body.contains("<script"), "{path} has a script");
        if !path.starts_with("/static") {
            assert_eq!(h["cache-control"], "no-store", "{path}");
        }
    }
    site.stop().await;
}
