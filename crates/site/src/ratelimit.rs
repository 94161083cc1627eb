//! In-memory rate limiting: fixed windows of failures per key (an account, a client address).
//! Memory is bounded: expired entries are dropped when the table grows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Login failure limits.
#[derive(Clone, Copy, Debug)]
pub struct LoginLimits {
    /// Failed logins per username per window.
    pub per_account: u32,
    /// Failed logins per client address per window.
    pub per_address: u32,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_account: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Entries kept before expired ones are swept.
const SWEEP_THRESHOLD: usize = 10_000;

pub struct RateLimiter {
    max: u32,
    window: Duration,
    entries: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(max: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            max,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn with_entries<T>(&self, f: impl FnOnce(&mut HashMap<String, (Instant, u32)>) -> T) -> T {
        // A poisoned lock only means another request panicked mid-update of a counter.
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// True when `key` has used up its failures in the current window.
    pub fn is_blocked(&self, key: &str) -> bool {
        let now = Instant::now();
        self.with_entries(|entries| {
            entries.get(key).is_some_and(|(start, count)| {
                now.duration_since(*start) < self.window && *count >= self.max
            })
        })
    }

    /// Counts one failure for `key`.
    pub fn record(&self, key: &str) {
        let now = Instant::now();
        let window = self.window;
        self.with_entries(|entries| {
            if entries.len() >= SWEEP_THRESHOLD {
                entries.retain(|_, (start, _)| now.duration_since(*start) < window);
            }
            let entry = entries.entry(key.to_owned()).or_insert((now, 0));
            if now.duration_since(entry.0) >= window {
                *entry = (now, 0);
            }
            entry.1 = entry.1.saturating_add(1);
        });
    }

    /// Forgets the failures of `key` (after a successful login).
    pub fn reset(&self, key: &str) {
        self.with_entries(|entries| {
            entries.remove(key);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_and_resets() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        assert!(!limiter.is_blocked("a"));
        limiter.record("a");
        assert!(!limiter.is_blocked("a"));
        limiter.record("a");
        assert!(limiter.is_blocked("a"));
        assert!(!limiter.is_blocked("b"));
        limiter.reset("a");
        assert!(!limiter.is_blocked("a"));
    }

    #[test]
    fn window_expires() {
        let limiter = RateLimiter::new(1, Duration::from_millis(1));
        limiter.record("a");
        std::thread::sleep(Duration::from_millis(5));
        assert!(!limiter.is_blocked("a"));
    }
}
