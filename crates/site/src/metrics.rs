//! Prometheus counters: requests by matched route and status, database errors, unseal
//! attempts and failures, and the seal state. Labels are route templates only (never raw
//! paths, query strings, usernames or anything a visitor typed).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use cardsgalore_vault::Vault;

use crate::state::AppState;

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    database_errors: AtomicU64,
}

impl Metrics {
    pub fn database_error(&self) {
        self.database_errors.fetch_add(1, Ordering::Relaxed);
    }

    fn request(&self, route: String, status: u16) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((route, status)).or_default() += 1;
        }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self, vault: &Vault) -> String {
        let mut out = String::new();
        out.push_str("# HELP cardsgalore_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE cardsgalore_http_requests_total counter\n");
        if let Ok(map) = self.requests.lock() {
            for ((route, status), count) in map.iter() {
                let route = route.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(
                    out,
                    "cardsgalore_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
                );
            }
        }
        let counters = [
            (
                "cardsgalore_database_errors_total",
                "Database operations that failed.",
                self.database_errors.load(Ordering::Relaxed),
            ),
            (
                "cardsgalore_unseal_attempts_total",
                "Unseal attempts, all channels.",
                vault.counters.unseal_attempts.load(Ordering::Relaxed),
            ),
            (
                "cardsgalore_unseal_failures_total",
                "Unseal attempts that failed.",
                vault.counters.unseal_failures.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP cardsgalore_sealed 1 while the shop is sealed (no key in memory).\n# TYPE cardsgalore_sealed gauge\ncardsgalore_sealed {}",
            u8::from(vault.is_sealed())
        );
        out
    }
}

/// Counts every response by matched route and status.
pub async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unmatched)", MatchedPath::as_str)
        .to_owned();
    let response = next.run(req).await;
    state.metrics().request(route, response.status().as_u16());
    response
}
