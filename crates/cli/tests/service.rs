//! The running service: sealed start, the unseal channels, seal, crash recovery, hardening.
#![allow(clippy::unwrap_used)]

mod common;

use common::server::{form_token, Server};
use common::*;

fn unseal_cli(env: &Env, passphrase: &str) -> std::process::Output {
    env.run_with_stdin(
        &["--passphrase-fd", "0", "unseal"],
        &format!("{passphrase}\n"),
    )
}

#[test]
fn sealed_start_serves_maintenance_until_unsealed_through_the_socket() {
    let env = Env::new();
    env.init();
    let server = Server::start(&env, &["--sealed"], None);

    for path in [
        "/",
        "/index.html",
        "/buy/1",
        "/login.html",
        "/use.html",
        "/gift/2",
    ] {
        assert_eq!(server.status(path), 503, "{path}");
    }
    assert!(server.text("/").contains("maintenance"));
    assert_eq!(server.status("/health"), 503);
    assert_eq!(server.text("/health"), r#"{"state":"sealed"}"#);
    assert_eq!(server.status("/health?sealed_ok=1"), 200);
    assert_eq!(server.status("/metrics"), 200);
    assert!(server.text("/metrics").contains("cardsgalore_sealed 1"));
    assert_eq!(server.status("/admin/unseal"), 200);
    assert!(env.ok(&["status"]).contains("SEALED"));

    // A wrong passphrase is refused and counted.
    let wrong = unseal_cli(&env, "not the right passphrase");
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("wrong passphrase"),
        "{}",
        stderr(&wrong)
    );
    let metrics = server.text("/metrics");
    assert!(
        metrics.contains("cardsgalore_unseal_failures_total 1"),
        "{metrics}"
    );

    let ok = unseal_cli(&env, PASS);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(server.status("/"), 200);
    assert_eq!(server.text("/health"), r#"{"state":"unsealed"}"#);
    let status = env.ok(&["status"]);
    assert!(
        status.contains("unsealed") && status.contains("slot 'admin' via control socket"),
        "{status}"
    );

    // Seal: back to maintenance without stopping; a following unseal works.
    assert!(env.ok(&["seal"]).contains("sealed"));
    assert_eq!(server.status("/buy/1"), 503);
    assert!(unseal_cli(&env, PASS).status.success());
    assert_eq!(server.status("/buy/1"), 200);

    let log = std::fs::read_to_string(env.data().join("audit.log")).unwrap();
    assert!(log.contains("\"channel\":\"control socket\""));
    assert!(log.contains("\"event\":\"seal\""));
    assert!(!log.contains(PASS) && !log.contains("not the right passphrase"));
    assert!(env.ok(&["audit", "verify"]).contains("chain intact"));
}

#[test]
fn the_admin_page_unseals_and_seals() {
    let env = Env::new();
    env.init();
    let server = Server::start(&env, &["--sealed"], None);
    let admin = server.browser();
    let post = |path: &str, token: &str, passphrase: &str| {
        let r = admin
            .http
            .post(server.url(path))
            .form(&[("csrf_token", token), ("passphrase", passphrase)])
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let (status, page) = admin.get("/admin/unseal");
    assert_eq!(status, 200);
    assert!(
        page.contains("not protected by TLS"),
        "no warning without TLS"
    );
    let token = form_token(&page);

    // Without the form token (a cross-site post), nothing happens.
    let (status, _) = post("/admin/unseal", "forged", PASS);
    assert_eq!(status, 403);
    let (status, page) = post("/admin/unseal", &token, "wrong passphrase here");
    assert_eq!(status, 401, "{page}");
    assert_eq!(server.status("/"), 503);

    let (status, page) = post("/admin/unseal", &token, PASS);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Unsealed with keyslot"));
    assert_eq!(server.status("/"), 200);

    let (_, seal_page) = admin.get("/admin/seal");
    let token = form_token(&seal_page);
    let (status, _) = post("/admin/seal", &token, "wrong passphrase here");
    assert_eq!(status, 401);
    assert_eq!(server.status("/"), 200);
    let (status, _) = post("/admin/seal", &token, PASS);
    assert_eq!(status, 200);
    assert_eq!(server.status("/"), 503);
    // GET never changes the state.
    assert_eq!(server.status("/admin/unseal?passphrase=x"), 200);
    assert!(server
        .text("/metrics")
        .contains("cardsgalore_unseal_failures_total 1"));
}

#[test]
fn a_killed_server_restarts_sealed_and_loses_no_acknowledged_purchase() {
    let env = Env::new();
    env.init();
    let server = Server::unsealed(&env);
    let pid = server.child.id();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(core.split_whitespace().nth(4), Some("0"), "{core}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.lines().any(|l| l.starts_with("VmLck:")), "{status}");

    let shopper = server.browser();
    shopper.register_and_login("shopper", "a long shopper password");
    let mut acknowledged = 0;
    for i in 1..=25 {
        if shopper.buy(&i.to_string()).is_some() {
            acknowledged += 1;
        }
    }
    assert_eq!(acknowledged, 25);
    server.kill();

    let restarted = Server::start(&env, &[], None); // no terminal, no passphrase: sealed
    assert_eq!(restarted.status("/"), 503);
    assert!(unseal_cli(&env, PASS).status.success());
    let counted = env.sql("SELECT count(*) AS n FROM cards");
    assert_eq!(counted, format!("n\n{acknowledged}\n"));
    assert!(env.ok(&["verify"]).contains("All checks passed"));
}

#[test]
fn a_second_server_and_key_rotation_are_refused_while_serving() {
    let env = Env::new();
    env.init();
    let _server = Server::start(&env, &["--sealed"], None);
    let second = env.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(!second.status.success());
    assert!(
        stderr(&second).contains("the site is running"),
        "{}",
        stderr(&second)
    );
    let rotate = env.run(&["rotate-key", "--yes"]);
    assert!(stderr(&rotate).contains("the site is running"));
    // Read-only commands work alongside.
    assert!(env.ok(&["verify"]).contains("All checks passed"));
}
