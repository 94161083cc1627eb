//! End to end in a real headless Chromium (Debian's `chromium` + `chromium-driver`), driven
//! over WebDriver: register, sign in, buy a card (the browser downloads `newcard.gftcrd`),
//! upload that file on the use page and see "Card used!". A screenshot of the shop page is
//! saved next to the test binaries (`shop.png` under the target's tmp directory).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::Server;
use common::*;
use fantoccini::{Client, ClientBuilder, Locator};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_chromedriver() -> (Driver, u16) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (apt-get install chromium chromium-driver)");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (Driver(child), port)
}

async fn connect(port: u16, profile: &Path, downloads: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
            },
        }),
    );
    ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect to chromedriver")
}

async fn fill(browser: &Client, field: &str, value: &str) {
    browser
        .find(Locator::Css(&format!("input[name='{field}']")))
        .await
        .unwrap()
        .send_keys(value)
        .await
        .unwrap();
}

async fn submit(browser: &Client, form_action: &str) {
    browser
        .find(Locator::Css(&format!(
            "form[action='{form_action}'] button[type='submit']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits until the page that a form submission leads to shows `css`.
async fn wait_for(browser: &Client, css: &str) -> Result<(), fantoccini::error::CmdError> {
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .map(drop)
}

fn wait_for_download(dir: &Path) -> PathBuf {
    let started = Instant::now();
    loop {
        let done = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "gftcrd"));
        if let Some(path) = done {
            return path;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the card was not downloaded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_buys_downloads_and_uses_a_card_in_chromium() {
    let env = Env::new();
    env.init();
    let server = Server::unsealed(&env);
    let (_driver, port) = start_chromedriver();
    let profile = env.path("chromium-profile");
    let downloads = env.path("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let browser = connect(port, &profile, &downloads).await;

    let result = async {
        browser.goto(&server.url("/register.html")).await?;
        fill(&browser, "uname", "chromium").await;
        fill(&browser, "pword", "chromium's long password").await;
        fill(&browser, "pword2", "chromium's long password").await;
        submit(&browser, "/register.html").await;
        wait_for(&browser, "p.notice.success").await?;

        browser.goto(&server.url("/login.html")).await?;
        fill(&browser, "uname", "chromium").await;
        fill(&browser, "pword", "chromium's long password").await;
        submit(&browser, "/login.html").await;
        wait_for(&browser, "form[action='/logout.html']").await?;

        browser.goto(&server.url("/index.html")).await?;
        let shop = browser.source().await?;
        assert!(shop.contains("Signed in as"), "not signed in");
        assert!(shop.contains("NYU Apparel Card"));
        let png = browser.screenshot().await?;
        let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shop.png");
        std::fs::write(&shot, png).unwrap();
        eprintln!("screenshot of the shop page: {}", shot.display());

        browser.goto(&server.url("/buy/1")).await?;
        fill(&browser, "amount", "25").await;
        submit(&browser, "/buy/1").await;
        let card = wait_for_download(&downloads);
        assert_eq!(card.file_name().unwrap(), "newcard.gftcrd");
        let bytes = std::fs::read(&card).unwrap();
        assert!(bytes.starts_with(b"{\"merchant_id\": \"NYU Apparel Card\""));

        browser.goto(&server.url("/use.html")).await?;
        assert!(browser.source().await?.contains("Choose a card to use!"));
        browser
            .find(Locator::Css("input[name='card_data']"))
            .await?
            .send_keys(card.to_str().unwrap())
            .await?;
        fill(&browser, "card_fname", "my card").await;
        browser
            .find(Locator::Css(
                "form[enctype='multipart/form-data'] button[type='submit']",
            ))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::XPath("//*[contains(text(), 'Card used!')]"))
            .await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    browser.close().await.unwrap();
    result.unwrap();
    let used = env.sql("SELECT used FROM cards");
    assert_eq!(used, "used\n1\n");
}
