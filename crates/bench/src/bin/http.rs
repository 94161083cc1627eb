//! HTTP load against the real `cardsgalore serve` on 127.0.0.1: requests per second and p50/p99
//! latency at 1, 8 and 64 concurrent clients for the shop page, a signed-in card list and
//! buying a card (a write), on the encrypted database. Bounded: each (scenario, clients) cell
//! runs `BENCH_HTTP_SECONDS` (default 5) and stops by itself. The server and this load
//! generator share the machine's cores, so the figures are a floor.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use reqwest::Client;

const PASS: &str = "correct horse battery staple for benchmarks";
const CLIENTS: [usize; 3] = [1, 8, 64];
const CARDS_PER_USER: usize = 20;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .context("no parent directory")?
        .join("cardsgalore");
    if !path.exists() {
        bail!(
            "{} is missing: run `cargo build --release -p cardsgalore` first",
            path.display()
        );
    }
    Ok(path)
}

fn cardsgalore(data: &std::path::Path, args: &[&str]) -> Result<Child> {
    let mut child = Command::new(binary()?)
        .arg("--data-dir")
        .arg(data)
        .args(["--passphrase-fd", "0"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(format!("{PASS}\n").as_bytes())?;
    Ok(child)
}

fn token(html: &str) -> Result<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).context("no form token")? + marker.len();
    Ok(html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string())
}

/// A signed-in client and the form token of its session.
struct Shopper {
    http: Client,
    token: String,
}

async fn shopper(base: &str, name: &str) -> Result<Shopper> {
    let http = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let password = "a long benchmark password";
    let page = http
        .get(format!("{base}/register.html"))
        .send()
        .await?
        .text()
        .await?;
    let form = [
        ("csrf_token", token(&page)?),
        ("uname", name.to_string()),
        ("pword", password.to_string()),
        ("pword2", password.to_string()),
    ];
    http.post(format!("{base}/register.html"))
        .form(&form)
        .send()
        .await?;
    let page = http
        .get(format!("{base}/login.html"))
        .send()
        .await?
        .text()
        .await?;
    let form = [
        ("csrf_token", token(&page)?),
        ("uname", name.to_string()),
        ("pword", password.to_string()),
    ];
    let r = http
        .post(format!("{base}/login.html"))
        .form(&form)
        .send()
        .await?;
    if r.status().as_u16() != 303 {
        bail!("login of {name} failed: {}", r.status());
    }
    let page = http
        .get(format!("{base}/buy/1"))
        .send()
        .await?
        .text()
        .await?;
    Ok(Shopper {
        http,
        token: token(&page)?,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    ShopPage,
    CardList,
    Buy,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::ShopPage => "shop page `GET /index.html`",
            Scenario::CardList => "signed-in card list `GET /use.html`",
            Scenario::Buy => "buy a card `POST /buy/1` (write)",
        }
    }
}

async fn one(base: &str, s: &Shopper, scenario: Scenario) -> Result<bool> {
    let response = match scenario {
        Scenario::ShopPage => s.http.get(format!("{base}/index.html")).send().await?,
        Scenario::CardList => s.http.get(format!("{base}/use.html")).send().await?,
        Scenario::Buy => {
            s.http
                .post(format!("{base}/buy/1"))
                .form(&[("csrf_token", s.token.as_str()), ("amount", "10")])
                .send()
                .await?
        }
    };
    let ok = response.status().is_success();
    response.bytes().await?;
    Ok(ok)
}

struct Cell {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

async fn run(base: &str, shoppers: &[Arc<Shopper>], scenario: Scenario, seconds: u64) -> Cell {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for s in shoppers {
        let s = s.clone();
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                match one(&base, &s, scenario).await {
                    Ok(true) => latencies.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut cell = Cell {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        if let Ok((latencies, errors)) = task.await {
            cell.requests += latencies.len() + errors;
            cell.errors += errors;
            cell.latencies.extend(latencies);
        }
    }
    cell.elapsed = started.elapsed();
    cell.latencies.sort();
    cell
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let seconds: u64 = std::env::var("BENCH_HTTP_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let tmp = cardsgalore_bench::big_tempdir("http")?;
    let data = tmp.path().join("data");
    let init = cardsgalore(
        &data,
        &["init", "--kdf-memory-kib", "65536", "--kdf-time", "1"],
    )?;
    let out = init.wait_with_output()?;
    if !out.status.success() {
        bail!("init failed");
    }
    let mut child = cardsgalore(&data, &["serve", "--listen", "127.0.0.1:0"])?;
    let stdout = child.stdout.take().context("stdout")?;
    let _server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let base = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|addr| format!("http://{addr}"))
        .context("the server did not say where it listens")?;

    let max = CLIENTS.iter().copied().max().unwrap_or(1);
    let mut shoppers = Vec::new();
    for i in 0..max {
        let s = shopper(&base, &format!("bench{i}")).await?;
        for _ in 0..CARDS_PER_USER {
            one(&base, &s, Scenario::Buy).await?;
        }
        shoppers.push(Arc::new(s));
    }

    println!("### HTTP load (real server on 127.0.0.1, {seconds} s per cell, server and load generator share the cores)\n");
    println!("| scenario | clients | requests | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|---|---|");
    for scenario in [Scenario::ShopPage, Scenario::CardList, Scenario::Buy] {
        for clients in CLIENTS {
            let cell = run(&base, &shoppers[..clients], scenario, seconds).await;
            println!(
                "| {} | {clients} | {} | {:.0} | {:.2} | {:.2} | {} |",
                scenario.name(),
                cell.requests,
                cell.latencies.len() as f64 / cell.elapsed.as_secs_f64(),
                percentile(&cell.latencies, 0.50),
                percentile(&cell.latencies, 0.99),
                cell.errors
            );
        }
    }
    println!();
    Ok(())
}
