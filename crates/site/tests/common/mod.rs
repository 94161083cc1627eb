//! Test harness: a fresh encrypted data directory per test, the real server on
//! `127.0.0.1:0`, and reqwest clients with their own cookie stores.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cardsgalore_keyring::KdfParams;
use cardsgalore_site::{AppState, PasswordParams, SiteSettings};
use cardsgalore_store::{create_store, import_csv, load_catalog, DataDir, Database, ImportOptions};
use cardsgalore_vault::Vault;
use reqwest::header::HeaderMap;
use reqwest::{Client, Response, StatusCode};
use secrecy::SecretString;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The legacy seed users (legacy-site.md §4.2).
pub const LEGACY_USERS_CSV: &str = "\
6,\"2020-10-01 12:51:48.124599\",admin,000000000000000000000000000078d2$18821d89de11ab18488fdc0a01f1ddf4d290e198b0f80cd4974fc031dc2615a3
7,\"2020-10-02 12:53:48.124396\",test2,000000000000000000000000000078d2$3ce31585b23f69ac17ac91609ad325d9bd0ddeb9925816c390f3b5dcc74d4163
8,\"2020-10-02 12:55:48.124396\",victim,000000000000000000000000000078d2$671eebdfdf2c94e41a6d4d6082597160d22f5af5b98c74e6512c06fdff6d10a8
";

/// Admin's legacy hash, which the SQL injection of the legacy site revealed.
pub const ADMIN_HASH: &str = "18821d89de11ab18488fdc0a01f1ddf4d290e198b0f80cd4974fc031dc2615a3";

pub const PASSPHRASE: &str = "correct horse battery staple for tests";

pub struct TestSite {
    pub base: String,
    pub vault: Arc<Vault>,
    pub passphrase: SecretString,
    pub addr: SocketAddr,
    pub db: Database,
    pub data_dir: PathBuf,
    pub tmp: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Cheap settings: fast password hashing so logins are quick in tests.
pub fn test_settings() -> SiteSettings {
    SiteSettings {
        password_params: PasswordParams::new(8, 1, 1, None).expect("valid argon2 params"),
        ..SiteSettings::default()
    }
}

pub async fn spawn() -> TestSite {
    spawn_with(test_settings()).await
}

pub async fn spawn_with(settings: SiteSettings) -> TestSite {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data_dir = tmp.path().join("data");
    let users_csv = tmp.path().join("users.csv");
    std::fs::write(&users_csv, LEGACY_USERS_CSV).expect("write users csv");
    let dir = DataDir::new(&data_dir);
    let passphrase = SecretString::from(PASSPHRASE);
    let vault = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            create_store(
                &dir,
                "site-tests",
                &passphrase,
                KdfParams {
                    m_kib: 64,
                    t: 1,
                    p: 1,
                },
                |conn| {
                    load_catalog(conn)?;
                    import_csv(
                        conn,
                        None,
                        Some(&users_csv),
                        ImportOptions::default(),
                        &mut |_, _| {},
                    )?;
                    Ok(())
                },
            )
            .expect("create store");
            let vault = Arc::new(Vault::new(dir, 4));
            vault.unseal(&passphrase, "tests", "tests").expect("unseal");
            vault
        })
        .await
        .expect("store task")
    };
    let db = vault.current().expect("unsealed").db.clone();
    let state = AppState::new(vault.clone(), settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(cardsgalore_site::serve(listener, state, async move {
        let _ = rx.await;
    }));
    TestSite {
        base: format!("http://{addr}"),
        vault,
        passphrase: SecretString::from(PASSPHRASE),
        addr,
        db,
        data_dir,
        tmp,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestSite {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A new browser: its own cookie store, no automatic redirects.
    pub fn client(&self) -> Browser {
        Browser {
            base: self.base.clone(),
            http: Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }

    /// A browser signed in as a freshly registered user.
    pub async fn user(&self, name: &str) -> Browser {
        let b = self.client();
        b.register(name, "a long enough password").await;
        b.login_ok(name, "a long enough password").await;
        b
    }

    pub fn conn(&self) -> cardsgalore_store::PooledConnection {
        self.db.conn().expect("conn")
    }

    pub fn user_id(&self, name: &str) -> i64 {
        cardsgalore_store::repo::users::find_by_username(&self.conn(), name)
            .expect("query")
            .expect("user exists")
            .id
    }

    pub fn cards_of(&self, name: &str) -> Vec<cardsgalore_store::repo::cards::CardRow> {
        let id = self.user_id(name);
        cardsgalore_store::repo::cards::list_for_user(&self.conn(), id).expect("query")
    }

    pub fn card_count(&self) -> i64 {
        cardsgalore_store::repo::cards::count(&self.conn()).expect("query")
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
    }
}

/// All regular files under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub async fn from(resp: Response) -> Page {
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.text().await.expect("body");
        Page {
            status,
            headers,
            body,
        }
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    pub fn csrf(&self) -> String {
        csrf_in(&self.body).unwrap_or_else(|| panic!("no csrf token in page:\n{}", self.body))
    }

    pub fn is_html(&self) -> bool {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
    }
}

/// The first `csrf_token` hidden input's value in `html`.
pub fn csrf_in(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

pub struct Browser {
    pub base: String,
    pub http: Client,
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Page {
        Page::from(self.http.get(self.url(path)).send().await.expect("GET")).await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Page::from(
            self.http
                .post(self.url(path))
                .form(form)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// The CSRF token of the form on `path`.
    pub async fn token(&self, path: &str) -> String {
        self.get(path).await.csrf()
    }

    pub async fn register(&self, name: &str, password: &str) -> Page {
        let token = self.token("/register.html").await;
        self.post_form(
            "/register.html",
            &[
                ("csrf_token", &token),
                ("uname", name),
                ("pword", password),
                ("pword2", password),
            ],
        )
        .await
    }

    pub async fn login(&self, name: &str, password: &str) -> Page {
        let token = self.token("/login.html").await;
        self.post_form(
            "/login.html",
            &[("csrf_token", &token), ("uname", name), ("pword", password)],
        )
        .await
    }

    pub async fn login_ok(&self, name: &str, password: &str) {
        let page = self.login(name, password).await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "login of {name} failed: {}",
            page.body
        );
        assert_eq!(page.location(), Some("/index.html"));
    }

    /// Buys product `n` for `amount`; returns the raw response.
    pub async fn buy(&self, n: i64, amount: &str) -> Response {
        let token = self.token(&format!("/buy/{n}")).await;
        self.http
            .post(self.url(&format!("/buy/{n}")))
            .form(&[("csrf_token", token.as_str()), ("amount", amount)])
            .send()
            .await
            .expect("buy")
    }

    /// Buys product `n` and returns the card file.
    pub async fn buy_ok(&self, n: i64, amount: &str) -> Vec<u8> {
        let resp = self.buy(n, amount).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.bytes().await.expect("card bytes").to_vec()
    }

    pub async fn gift(&self, n: i64, amount: &str, to: &str) -> Page {
        let token = self.token(&format!("/gift/{n}")).await;
        self.post_form(
            &format!("/gift/{n}"),
            &[("csrf_token", &token), ("amount", amount), ("username", to)],
        )
        .await
    }

    pub async fn use_by_id(&self, id: i64) -> Page {
        let token = self.token("/use.html").await;
        self.post_form(
            "/use.html",
            &[("csrf_token", &token), ("card_id", &id.to_string())],
        )
        .await
    }

    pub async fn upload(&self, data: Vec<u8>, label: &str) -> Page {
        let token = self.token("/use.html").await;
        self.upload_with_token(data, label, &token).await
    }

    pub async fn upload_with_token(&self, data: Vec<u8>, label: &str, token: &str) -> Page {
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", token.to_owned())
            .text("card_supplied", "True")
            .text("card_fname", label.to_owned())
            .part(
                "card_data",
                reqwest::multipart::Part::bytes(data).file_name("card.gftcrd"),
            );
        Page::from(
            self.http
                .post(self.url("/use.html"))
                .multipart(form)
                .send()
                .await
                .expect("upload"),
        )
        .await
    }

    pub async fn download(&self, id: i64, format: &str) -> Response {
        self.http
            .get(self.url(&format!("/cards/{id}/download?format={format}")))
            .send()
            .await
            .expect("download")
    }
}
