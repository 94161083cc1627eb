//! One attack test per legacy vulnerability (legacy-site.md §8, V1–V15). Each one performs
//! the attack that worked on the legacy site and checks that it fails here.

// Helpers outside #[test] functions unwrap too: this is test code.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cardsgalore_cards::{Card, CardKey, GftFile, GftRecord};
use cardsgalore_site::SiteSettings;
use common::{contains, files_under, spawn, spawn_with, test_settings, ADMIN_HASH};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

const CSRF_TEXT: &str = "Your form expired or did not come from this site";

#[tokio::test]
async fn v01_xss_director_is_escaped() {
    let site = spawn().await;
    let payload = "<script>alert(\"hello\")</script>";
    let query = "director=%3Cscript%3Ealert(%22hello%22)%3C%2Fscript%3E";
    let anon = site.client();
    let page = anon.get(&format!("/buy.html?{query}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains(payload));
    assert!(!page.body.contains("<script"));
    assert!(
        page.body
            .contains("Endorsed by &#60;script&#62;alert(&#34;hello&#34;)&#60;/script&#62;!"),
        "{}",
        page.body
    );
    // The gift page (signed in) too, and an attribute-breaking payload.
    let alice = site.user("alice").await;
    let page = alice.get(&format!("/gift/1?{query}")).await;
    assert!(!page.body.contains(payload));
    assert!(page.body.contains("Endorsed by &#60;script&#62;"));
    let page = alice
        .get("/buy/2?director=%22%20onmouseover%3D%22alert(1)")
        .await;
    assert!(!page.body.contains("\" onmouseover=\""));
    // Defence in depth: no script may run even if something slipped through.
    assert!(page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    // A username is escaped wherever it is shown (a user cannot even register markup).
    let reg = site
        .client()
        .register("<img src=x>", "a long enough password")
        .await;
    assert_eq!(reg.status, StatusCode::BAD_REQUEST);
    assert!(!reg.body.contains("<img src=x>"));
    site.stop().await;
}

#[tokio::test]
async fn v02_csrf_forged_requests_are_refused() {
    let site = spawn().await;
    let victim = site.client();
    victim.login_ok("victim", "victim").await;
    victim.buy_ok(1, "10").await;
    let victim_card = site.cards_of("victim")[0].id;

    // The legacy GET gift hack changes nothing.
    let page = victim.get("/gift/1?username=test2&amount=100").await;
    assert_eq!(page.status, StatusCode::OK);
    // A cross-site auto-submitted form carries no token.
    let page = victim
        .post_form("/gift/1", &[("username", "test2"), ("amount", "100")])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains(CSRF_TEXT));
    // The attacker's own token does not work in the victim's session.
    let attacker = site.client();
    let attacker_token = attacker.token("/login.html").await;
    let page = victim
        .post_form(
            "/gift/1",
            &[
                ("csrf_token", &attacker_token),
                ("username", "test2"),
                ("amount", "100"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // Even with the right token, a post from another origin is refused.
    let token = victim.token("/gift/1").await;
    for (header, value) in [
        ("origin", "http://evil.example"),
        ("referer", "http://evil.example/x.html"),
        ("origin", "null"),
    ] {
        let resp = victim
            .http
            .post(victim.url("/gift/1"))
            .header(header, value)
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", "test2"),
                ("amount", "100"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{header}: {value}");
    }
    assert!(
        site.cards_of("test2").is_empty(),
        "a forged gift went through"
    );

    // Buy, use and logout are protected the same way.
    let resp = victim
        .http
        .post(victim.url("/buy/1"))
        .form(&[("amount", "10")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let page = victim
        .post_form("/use.html", &[("card_id", &victim_card.to_string())])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = victim.post_form("/logout.html", &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        victim.get("/").await.body.contains("Sign Out"),
        "logout CSRF signed the victim out"
    );
    assert_eq!(site.cards_of("victim").len(), 1);
    assert!(!site.cards_of("victim")[0].used);
    // Login CSRF: a login without the form's token is refused.
    let page = site
        .client()
        .post_form("/login.html", &[("uname", "test2"), ("pword", "test2")])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // A same-origin post with the token works.
    let page = victim
        .http
        .post(victim.url("/gift/1"))
        .header("origin", site.base.clone())
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "test2"),
            ("amount", "100"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(site.cards_of("test2").len(), 1);
    site.stop().await;
}

#[tokio::test]
async fn v03_sql_injection_reveals_nothing() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    let injected = "' UNION SELECT password FROM users WHERE username='admin' --";
    let card = format!(
        "{{\"merchant_id\": \"NYU Apparel Card\", \"customer_id\": \"alice\", \"total_value\": 2000, \"records\": [{{\"record_type\": \"amount_change\", \"amount_added\": 2000, \"signature\": \"{}\"}}]}}",
        injected.replace('"', "\\\"")
    );
    let page = alice.upload(card.into_bytes(), "sqli").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(!page.body.contains(ADMIN_HASH));
    assert!(!page.body.contains("78d2$"));
    // Injection through the login, gift and use inputs.
    for name in ["admin' --", "' OR '1'='1", "admin\"; --"] {
        let page = site.client().login(name, "x' OR '1'='1").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{name}");
        let page = alice.gift(1, "10", name).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{name}");
    }
    let token = alice.token("/use.html").await;
    let page = alice
        .post_form(
            "/use.html",
            &[("csrf_token", &token), ("card_id", "1 OR 1=1")],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(site.card_count(), 0);
    // The tables are intact.
    assert!(
        cardsgalore_store::repo::users::find_by_username(&site.conn(), "admin")
            .unwrap()
            .is_some()
    );
    site.stop().await;
}

fn pwned_files() -> Vec<std::path::PathBuf> {
    let mut dirs = vec![std::env::temp_dir()];
    if let Ok(cwd) = std::env::current_dir() {
        dirs.push(cwd);
    }
    dirs.iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains("pwned"))
        })
        .collect()
}

#[tokio::test]
async fn v04_command_injection_runs_nothing() {
    let site = spawn().await;
    let before = pwned_files();
    let alice = site.user("alice").await;
    // A non-JSON upload made the legacy site run a shell with card_fname in it.
    let not_json = b"\x74\x00\x00\x00GiftCardz.com junk that is not a card".to_vec();
    for name in [
        "x; touch pwned; #",
        "x`touch pwned`",
        "$(touch pwned)",
        "x && touch pwned",
    ] {
        let page = alice.upload(not_json.clone(), name).await;
        assert!(page.status.is_client_error(), "{name}: {}", page.status);
        assert!(page.is_html());
    }
    // Anonymous, as on the legacy site: refused before anything is read.
    let anon = site.client();
    let token = anon.token("/login.html").await;
    let page = anon
        .upload_with_token(not_json, "x; touch pwned; #", &token)
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(pwned_files(), before, "a file named pwned appeared");
    assert!(files_under(site.tmp.path())
        .iter()
        .all(|p| !p.to_string_lossy().contains("pwned")));
    site.stop().await;
}

#[tokio::test]
async fn v05_passwords_are_stored_with_argon2id_and_unique_salts() {
    let site = spawn().await;
    site.user("alice").await;
    site.user("bob").await;
    let conn = site.conn();
    let alice = cardsgalore_store::repo::users::find_by_username(&conn, "alice")
        .unwrap()
        .unwrap();
    let bob = cardsgalore_store::repo::users::find_by_username(&conn, "bob")
        .unwrap()
        .unwrap();
    assert!(alice.password.starts_with("$argon2id$"));
    assert!(bob.password.starts_with("$argon2id$"));
    assert_ne!(
        alice.password, bob.password,
        "same password, same record: no per-user salt"
    );
    drop(conn);
    // Legacy salt$sha256 records are replaced at the first login.
    site.client().login_ok("test2", "test2").await;
    let test2 = cardsgalore_store::repo::users::find_by_username(&site.conn(), "test2")
        .unwrap()
        .unwrap();
    assert!(test2.password.starts_with("$argon2id$"));
    assert!(!test2.password.contains("78d2$"));
    site.stop().await;
}

#[tokio::test]
async fn v06_cards_can_only_be_used_by_their_owner() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    let bob = site.user("bob").await;
    let alice_json = alice.buy_ok(1, "10").await;
    let alice_card = site.cards_of("alice")[0].id;

    // IDOR by id.
    let page = bob.use_by_id(alice_card).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page
        .body
        .contains("That card is not yours or was already used"));
    let page = bob.use_by_id(alice_card + 1000).await;
    assert_eq!(
        page.status,
        StatusCode::NOT_FOUND,
        "a missing card looks like someone else's"
    );
    // By uploading alice's card file.
    let page = bob.upload(alice_json, "").await;
    assert!(page.status == StatusCode::FORBIDDEN || page.status == StatusCode::NOT_FOUND);
    // Downloading it.
    assert_eq!(
        bob.download(alice_card, "json").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bob.download(alice_card, "gft").await.status(),
        StatusCode::NOT_FOUND
    );
    // Anonymously.
    let anon = site.client();
    let token = anon.token("/login.html").await;
    let page = anon
        .post_form(
            "/use.html",
            &[("csrf_token", &token), ("card_id", &alice_card.to_string())],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anon.download(alice_card, "json").await.status(),
        StatusCode::SEE_OTHER
    );
    // Bob's list does not show it.
    assert!(!bob
        .get("/use.html")
        .await
        .body
        .contains(&format!("value=\"{alice_card}\"")));
    assert!(!site.cards_of("alice")[0].used);
    // The owner can, once.
    assert_eq!(alice.use_by_id(alice_card).await.status, StatusCode::OK);
    assert_eq!(
        alice.use_by_id(alice_card).await.status,
        StatusCode::CONFLICT
    );
    site.stop().await;
}

#[tokio::test]
async fn v07_forged_and_altered_cards_are_refused() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    let genuine = alice.buy_ok(1, "50").await;
    let text = String::from_utf8(genuine.clone()).unwrap();
    // Raise the value of a real card.
    let altered = text
        .replace("\"total_value\": 50", "\"total_value\": 9999")
        .replace("\"amount_added\": 50", "\"amount_added\": 9999");
    assert_ne!(altered, text);
    let page = alice.upload(altered.into_bytes(), "").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("This card&#39;s signature is not valid"),
        "{}",
        page.body
    );
    // A card made up with another key, or the legacy fake signature.
    let forged = Card::issue(&CardKey::generate(), "NYU Apparel Card", "alice", 10000).unwrap();
    let page = alice.upload(forged.to_json_bytes(), "").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let page = alice.upload(forged.to_gft_bytes().unwrap(), "").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let legacy_fake = br#"{"merchant_id": "NYU Apparel Card", "customer_id": "alice", "total_value": "123", "records": [{"record_type": "amount_change", "amount_added": 2000, "signature": "84bffa71cfdba27c5c5b43954b564d4c"}]}"#;
    let page = alice.upload(legacy_fake.to_vec(), "").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(!page.body.contains("Card used!"));
    // Nothing was used or created by the forgeries.
    assert_eq!(site.card_count(), 1);
    assert!(!site.cards_of("alice")[0].used);
    assert_eq!(alice.upload(genuine, "").await.status, StatusCode::OK);
    site.stop().await;
}

#[tokio::test]
async fn v08_amounts_must_be_whole_dollars_in_range() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    for amount in [
        "-5",
        "0",
        "10001",
        "99999999999999999999999",
        "12.50",
        "abc",
        "1e3",
        "$-1",
        "0x10",
    ] {
        let resp = alice.buy(1, amount).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "buy {amount}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("Amount must be"), "{amount}: {body}");
        let page = alice.gift(1, amount, "test2").await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "gift {amount}");
    }
    assert_eq!(site.card_count(), 0);
    let card = Card::from_upload(&alice.buy_ok(1, "$10000").await).unwrap();
    assert_eq!(card.amount, 10000);
    let card = Card::from_upload(&alice.buy_ok(1, " 1 ").await).unwrap();
    assert_eq!(card.amount, 1);
    site.stop().await;
}

fn names_in(dir: &std::path::Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn v09_card_names_never_become_paths() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    let card = alice.buy_ok(1, "10").await;
    let tmp_before = names_in(&std::env::temp_dir());
    let data_before = names_in(&site.data_dir);
    let label = "../../../../tmp/cg_v09_escape";
    let page = alice.upload(card, label).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .body
        .contains("Card used! (../../../../tmp/cg_v09_escape)"));
    let long = "a".repeat(65);
    let card2 = alice.buy_ok(1, "10").await;
    let page = alice.upload(card2.clone(), &long).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("at most 64 characters"));
    let page = alice.upload(card2, "bad\u{0}name").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let tmp_after = names_in(&std::env::temp_dir());
    assert!(tmp_after
        .iter()
        .all(|n| !n.contains("cg_v09_escape") && !n.contains("_parser.gftcrd")));
    assert!(!tmp_before.iter().any(|n| n.contains("cg_v09_escape")));
    assert_eq!(
        names_in(&site.data_dir).difference(&data_before).count(),
        0,
        "new files in the data dir"
    );
    assert!(files_under(site.tmp.path())
        .iter()
        .all(|p| !p.to_string_lossy().contains("cg_v09")));
    site.stop().await;
}

#[tokio::test]
async fn v10_hostile_card_files_are_rejected_safely() {
    let site = spawn().await;
    let alice = site.user("alice").await;
    alice.buy_ok(2, "25").await;
    let id = site.cards_of("alice")[0].id;
    let gft = alice
        .download(id, "gft")
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let token = alice.token("/use.html").await;
    let mut hostile: Vec<Vec<u8>> = Vec::new();
    for len in 0..gft.len() {
        hostile.push(gft[..len].to_vec());
    }
    for i in 0..gft.len() {
        let mut flipped = gft.clone();
        flipped[i] ^= 0x41;
        hostile.push(flipped);
    }
    let animated = GftFile {
        merchant_id: "Tandon Food Court Card".into(),
        customer_id: "alice".into(),
        records: vec![GftRecord::Animated {
            message: "hi".into(),
            program: vec![0xff; 256],
        }],
    };
    hostile.push(animated.to_bytes());
    hostile.push(vec![0xff; 4096]);
    hostile.push(b"{\"merchant_id\": \"".repeat(1000));
    hostile.push(b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".repeat(100));
    let mut huge_count = gft.clone();
    huge_count[68..72].copy_from_slice(&u32::MAX.to_le_bytes());
    hostile.push(huge_count);
    for (n, bytes) in hostile.into_iter().enumerate() {
        let page = alice.upload_with_token(bytes, "", &token).await;
        assert!(page.status.is_client_error(), "case {n}: {}", page.status);
        assert!(page.is_html(), "case {n}");
    }
    assert!(!site.cards_of("alice")[0].used);
    // The server is fine and the genuine file still works.
    let page = alice.upload_with_token(gft, "", &token).await;
    assert_eq!(page.status, StatusCode::OK);
    site.stop().await;
}

#[tokio::test]
async fn v11_concurrent_uploads_share_no_state() {
    let site = spawn().await;
    let data_before = names_in(&site.data_dir);
    let mut browsers = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let b = site.user(name).await;
        let mut cards = Vec::new();
        for _ in 0..4 {
            cards.push(b.buy_ok(3, "7").await);
        }
        browsers.push((name, b, cards));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (name, b, cards) in browsers {
        let b = Arc::new(b);
        let token = b.token("/use.html").await;
        for card in cards {
            let b = b.clone();
            let token = token.clone();
            tasks.spawn(async move { (name, b.upload_with_token(card, name, &token).await) });
        }
    }
    while let Some(result) = tasks.join_next().await {
        let (name, page) = result.unwrap();
        assert_eq!(page.status, StatusCode::OK, "{name}: {}", page.body);
        assert!(page.body.contains(&format!("Card used! ({name})")));
    }
    for name in ["alice", "bob", "carol"] {
        let cards = site.cards_of(name);
        assert_eq!(cards.len(), 4);
        assert!(cards.iter().all(|c| c.used));
    }
    assert!(!std::path::Path::new("tmp_file").exists());
    let added: Vec<_> = names_in(&site.data_dir)
        .difference(&data_before)
        .cloned()
        .collect();
    assert!(
        added.iter().all(|n| n.starts_with("cardsgalore.db")),
        "unexpected files: {added:?}"
    );
    site.stop().await;
}

/// Everything the site logs during the tests of this binary.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buffer
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn v12_no_debug_pages_stack_traces_or_secrets() {
    let logs = captured_logs();
    let site = spawn().await;
    let b = site.client();
    // 404: no list of routes, no framework details.
    for path in ["/admin/", "/nope", "/buy/1/", "/metrics.html"] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        for leak in [
            "{n}",
            "{id}",
            "/cards/",
            "URLconf",
            "Traceback",
            "axum",
            "panicked",
        ] {
            assert!(!page.body.contains(leak), "{path} leaks {leak}");
        }
    }
    // Flows with a secret password and a card whose contents must not be shown or logged.
    let password = "v12 very secret password";
    let user = site.client();
    user.register("v12user", password).await;
    user.login_ok("v12user", password).await;
    let card = user.buy_ok(1, "42").await;
    let signature = Card::from_upload(&card).unwrap().signature.to_hex();
    let mut altered = String::from_utf8(card.clone())
        .unwrap()
        .replace(": 42", ": 43");
    altered.push(' ');
    let page = user.upload(altered.into_bytes(), "").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        !page.body.contains(&signature),
        "an error page shows card contents"
    );
    assert!(!page.body.contains("merchant_id"));
    // The metrics (HW3 leaked passwords through them) hold no password, username or card.
    let metrics = b.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.body.contains("cardsgalore_http_requests_total"));
    for leak in [password, "v12user", signature.as_str()] {
        assert!(!metrics.body.contains(leak), "/metrics leaks {leak}");
    }
    // A 500 is generic: break the database under the site.
    site.conn()
        .execute_batch("DROP TABLE cards; DROP TABLE products")
        .unwrap();
    let page = b.get("/").await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(page.is_html());
    assert!(page.body.contains("Something went wrong on our side"));
    for leak in [
        "no such table",
        "products",
        "sqlite",
        "rusqlite",
        "src/",
        "panicked",
    ] {
        assert!(
            !page.body.to_lowercase().contains(leak),
            "500 page leaks {leak}"
        );
    }
    site.stop().await;
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("served"), "the request log is missing");
    assert!(
        logs.contains("no such table"),
        "the 500's cause is not logged"
    );
    for secret in [password, signature.as_str(), "cg_session=", "merchant_id"] {
        assert!(!logs.contains(secret), "the logs contain {secret}");
    }
}

fn set_cookie(page: &common::Page) -> String {
    page.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("cg_session="))
        .unwrap_or_else(|| panic!("no session cookie set"))
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie["cg_session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn v13_session_cookie_is_hardened_and_rotated() {
    let site = spawn().await;
    let b = site.client();
    let page = b.get("/login.html").await;
    let cookie = set_cookie(&page);
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(flag), "{flag} missing in {cookie}");
    }
    assert!(!cookie.contains("Secure"));
    let anonymous = cookie_value(&cookie);
    assert_eq!(anonymous.len(), 43);
    // Only the token's hash is stored.
    let stored = |token: &str, hashed: bool| -> i64 {
        let key: Vec<u8> = if hashed {
            Sha256::digest(token.as_bytes()).to_vec()
        } else {
            token.as_bytes().to_vec()
        };
        site.conn()
            .query_row(
                "SELECT count(*) FROM sessions WHERE token_hash = ?1",
                [&key[..]],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(stored(&anonymous, true), 1);
    assert_eq!(stored(&anonymous, false), 0);
    // Login rotates the token; the old one is gone.
    let token = page.csrf();
    let login = b
        .post_form(
            "/login.html",
            &[
                ("csrf_token", &token),
                ("uname", "test2"),
                ("pword", "test2"),
            ],
        )
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    let signed_in = cookie_value(&set_cookie(&login));
    assert_ne!(signed_in, anonymous);
    assert_eq!(stored(&anonymous, true), 0);
    let with_cookie = |value: String| {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let url = site.url("/use.html");
        async move {
            http.get(url)
                .header("cookie", format!("cg_session={value}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(with_cookie(signed_in.clone()).await, StatusCode::OK);
    assert_eq!(with_cookie(anonymous.clone()).await, StatusCode::SEE_OTHER);
    // Logout destroys the session and rotates the cookie.
    let token = b.token("/logout.html").await;
    let out = b.post_form("/logout.html", &[("csrf_token", &token)]).await;
    let after = cookie_value(&set_cookie(&out));
    assert_ne!(after, signed_in);
    assert_eq!(
        with_cookie(signed_in).await,
        StatusCode::SEE_OTHER,
        "the old session still works"
    );
    assert_eq!(with_cookie("x".repeat(43)).await, StatusCode::SEE_OTHER);
    site.stop().await;

    // Secure when configured, or when a trusted proxy says https.
    let site = spawn_with(SiteSettings {
        secure_cookies: true,
        ..test_settings()
    })
    .await;
    assert!(set_cookie(&site.client().get("/login.html").await).contains("Secure"));
    site.stop().await;
    let site = spawn_with(SiteSettings {
        trust_proxy: true,
        ..test_settings()
    })
    .await;
    let resp = site
        .client()
        .http
        .get(site.url("/login.html"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(common::Page::from(resp).await.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Secure"));
    site.stop().await;
    let site = spawn().await;
    let resp = site
        .client()
        .http
        .get(site.url("/login.html"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(!common::Page::from(resp).await.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Secure"));
    site.stop().await;

    // Expired sessions are ignored.
    let site = spawn_with(SiteSettings {
        session_ttl: Duration::from_secs(1),
        ..test_settings()
    })
    .await;
    let b = site.client();
    b.login_ok("victim", "victim").await;
    assert_eq!(b.get("/use.html").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(b.get("/use.html").await.status, StatusCode::SEE_OTHER);
    site.stop().await;
}

#[tokio::test]
async fn v14_bad_input_gets_helpful_4xx_pages() {
    let site = spawn().await;
    let anon = site.client();
    let token = anon.token("/login.html").await;
    let page = anon
        .post_form("/login.html", &[("csrf_token", &token)])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("Enter your username and your password."));
    let token = anon.token("/register.html").await;
    let page = anon
        .post_form(
            "/register.html",
            &[("csrf_token", &token), ("uname", "carol")],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page
        .body
        .contains("Fill in the username and both password fields."));
    // A duplicate username is a clear 409, not a 500.
    let page = anon.register("test2", "a long enough password").await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("That username is taken"));

    let alice = site.user("alice").await;
    let token = alice.token("/use.html").await;
    let page = alice
        .post_form("/use.html", &[("csrf_token", &token)])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("card_id"));
    let page = alice
        .post_form("/use.html", &[("csrf_token", &token), ("card_id", "abc")])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", token.clone())
        .text("card_supplied", "True");
    let page = common::Page::from(
        alice
            .http
            .post(alice.url("/use.html"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("Choose a card file"));
    let page = alice.gift(1, "10", "").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    // Redirects are absolute from every alias.
    for path in ["/use/", "/gift/", "/use"] {
        assert_eq!(anon.get(path).await.location(), Some("/login.html"));
    }
    // Wrong method: a 405 page.
    let resp = alice.http.put(alice.url("/register")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(resp.text().await.unwrap().contains("<html"));
    site.stop().await;
}

#[tokio::test]
async fn v15_nothing_readable_at_rest() {
    let site = spawn().await;
    let alice = site.user("alice_v15").await;
    let card = alice.buy_ok(6, "321").await;
    alice.buy_ok(1, "12").await;
    alice.gift(7, "55", "victim").await;
    let first = site.cards_of("alice_v15")[1].id;
    alice.use_by_id(first).await;
    let signatures: Vec<String> = site
        .cards_of("alice_v15")
        .into_iter()
        .chain(site.cards_of("victim"))
        .map(|c| c.signature)
        .collect();
    assert_eq!(signatures.len(), 3);
    let sig_bytes: Vec<Vec<u8>> = signatures.iter().map(|s| hex_decode(s)).collect();
    let files = files_under(&site.data_dir);
    assert!(
        files.iter().any(|p| p.to_string_lossy().ends_with("-wal")),
        "expected a WAL file: {files:?}"
    );
    let mut needles: Vec<Vec<u8>> = vec![
        b"alice_v15".to_vec(),
        b"victim".to_vec(),
        b"NYU Apparel Card".to_vec(),
        b"Tuition Card".to_vec(),
        b"NYU Gym Card".to_vec(),
        b"amount_change".to_vec(),
        b"$argon2id$".to_vec(),
        card[..40].to_vec(),
    ];
    needles.extend(signatures.iter().map(|s| s.as_bytes().to_vec()));
    needles.extend(sig_bytes);
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in &needles {
            assert!(
                !contains(&bytes, needle),
                "{} contains {:?} in plaintext",
                file.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
    site.stop().await;
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
