//! A `cardsgalore serve` process on a random loopback port, and a small HTTP client that
//! behaves like a browser (cookies, form tokens).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::blocking::Client;

use super::{bin, Env, PASS};

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts `serve --listen 127.0.0.1:0 EXTRA…` and waits for its "serving on" line.
    pub fn start(env: &Env, extra: &[&str], stdin: Option<&str>) -> Server {
        let mut child = Command::new(bin())
            .arg("--data-dir")
            .arg(env.data())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // The server's log, kept for a failing test to look at.
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(env.path("server.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            let _ = input.write_all(text.as_bytes());
        }
        drop(input);
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(|addr| format!("http://{addr}"))
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        Server { child, base }
    }

    /// Starts with the passphrase on file descriptor 0 (unsealed at start).
    pub fn unsealed(env: &Env) -> Server {
        Server::start(env, &["--passphrase-fd", "0"], Some(&format!("{PASS}\n")))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn status(&self, path: &str) -> u16 {
        reqwest::blocking::get(self.url(path))
            .unwrap()
            .status()
            .as_u16()
    }

    pub fn text(&self, path: &str) -> String {
        reqwest::blocking::get(self.url(path))
            .unwrap()
            .text()
            .unwrap()
    }

    pub fn browser(&self) -> Browser {
        Browser {
            base: self.base.clone(),
            http: Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// SIGKILL.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Browser {
    pub base: String,
    pub http: Client,
}

/// The first `csrf_token` hidden input's value in a page.
pub fn form_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("a form token") + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

impl Browser {
    pub fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    /// GETs `form_page`, then POSTs `fields` plus its form token to `action`.
    pub fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> (u16, Vec<u8>) {
        let (_, html) = self.get(form_page);
        let token = form_token(&html);
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        let r = self
            .http
            .post(format!("{}{action}", self.base))
            .form(&all)
            .send()
            .unwrap();
        (r.status().as_u16(), r.bytes().unwrap().to_vec())
    }

    pub fn register_and_login(&self, name: &str, password: &str) {
        let (status, _) = self.submit(
            "/register.html",
            "/register.html",
            &[("uname", name), ("pword", password), ("pword2", password)],
        );
        assert_eq!(status, 303, "register {name}");
        let (status, _) = self.submit(
            "/login.html",
            "/login.html",
            &[("uname", name), ("pword", password)],
        );
        assert_eq!(status, 303, "login {name}");
    }

    /// Signs in an existing account.
    pub fn login(&self, name: &str, password: &str) {
        let (status, _) = self.submit(
            "/login.html",
            "/login.html",
            &[("uname", name), ("pword", password)],
        );
        assert_eq!(status, 303, "login {name}");
    }

    /// Buys product 1 for `amount`; returns the downloaded card on success.
    pub fn buy(&self, amount: &str) -> Option<Vec<u8>> {
        let (status, body) = self.submit("/buy/1", "/buy/1", &[("amount", amount)]);
        (status == 200).then_some(body)
    }
}
