//! Pacing shared by every worker, driven by the store's `X-Rate-Limit-*` headers.
//!
//! The quota is per store and shared with every other app, so we never assume the full quota:
//! each response tells us how many requests are left in the current window and when it resets.
//! Requests still in flight when a response arrives were not yet counted by the store when it
//! answered, so they are subtracted from `Requests-Left` (a conservative estimate: we may leave
//! a request or two unused, but we do not run into 429s). When the estimate reaches zero every
//! worker waits for the reset together; a 429 blocks everyone until the longer of
//! `X-Rate-Limit-Time-Reset-Ms` and `X-Retry-After`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What one response said about the quota.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateHeaders {
    pub left: Option<u64>,
    pub quota: Option<u64>,
    pub reset_ms: Option<u64>,
    pub window_ms: Option<u64>,
    pub retry_after_s: Option<u64>,
}

impl RateHeaders {
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> RateHeaders {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(|n| n as u64)
        };
        RateHeaders {
            left: num("x-rate-limit-requests-left"),
            quota: num("x-rate-limit-requests-quota"),
            reset_ms: num("x-rate-limit-time-reset-ms"),
            window_ms: num("x-rate-limit-time-window-ms"),
            retry_after_s: num("x-retry-after"),
        }
    }

    pub fn has_any(&self) -> bool {
        self.left.is_some() || self.reset_ms.is_some() || self.retry_after_s.is_some()
    }
}

#[derive(Debug)]
struct State {
    /// Requests we may still send in the current window (None: the store sent no headers yet).
    left: Option<u64>,
    quota: Option<u64>,
    window: Option<Duration>,
    /// When the store's current window ends (estimated from the last response).
    reset_at: Option<Instant>,
    /// Everyone waits until then (after a 429 or a backoff on a header-less 429).
    blocked_until: Option<Instant>,
    /// Requests sent and not yet answered.
    in_flight: u64,
}

/// Shared pacing state; one per client, used by every request.
#[derive(Debug)]
pub struct RateGate {
    state: Mutex<State>,
}

/// Margin after a window's reset before sending again: the store's clock and ours differ by
/// up to a round trip, and a request that arrives a few ms early is a 429.
const RESET_MARGIN: Duration = Duration::from_millis(15);

impl Default for RateGate {
    fn default() -> Self {
        Self::new()
    }
}

impl RateGate {
    pub fn new() -> RateGate {
        RateGate {
            state: Mutex::new(State {
                left: None,
                quota: None,
                window: None,
                reset_at: None,
                blocked_until: None,
                in_flight: 0,
            }),
        }
    }

    /// Wait until a request may be sent, and count it as in flight.
    /// Every call must be paired with [`RateGate::finish`].
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().unwrap();
                let now = Instant::now();
                match s.blocked_until {
                    Some(until) if until > now => Some(until - now),
                    _ => {
                        s.blocked_until = None;
                        if let (Some(reset_at), Some(quota)) = (s.reset_at, s.quota) {
                            if now >= reset_at + RESET_MARGIN {
                                // A new window has begun; in-flight requests may land in it.
                                s.left = Some(quota.saturating_sub(s.in_flight));
                                s.reset_at =
                                    s.window.map(|w| reset_at + w).filter(|t| *t > now).or(Some(
                                        now + s.window.unwrap_or(Duration::from_secs(30)),
                                    ));
                            }
                        }
                        match s.left {
                            Some(0) => {
                                let until = s
                                    .reset_at
                                    .map(|r| r + RESET_MARGIN)
                                    .unwrap_or(now + Duration::from_millis(100));
                                Some(
                                    until
                                        .saturating_duration_since(now)
                                        .max(Duration::from_millis(1)),
                                )
                            }
                            Some(n) => {
                                s.left = Some(n - 1);
                                s.in_flight += 1;
                                None
                            }
                            None => {
                                s.in_flight += 1;
                                None
                            }
                        }
                    }
                }
            };
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Record a response (or a failure with no response: pass default headers).
    pub fn finish(&self, headers: &RateHeaders) {
        let mut s = self.state.lock().unwrap();
        s.in_flight = s.in_flight.saturating_sub(1);
        let now = Instant::now();
        if let Some(q) = headers.quota {
            s.quota = Some(q);
        }
        if let Some(w) = headers.window_ms {
            s.window = Some(Duration::from_millis(w));
        }
        let implied_reset = headers.reset_ms.map(|r| now + Duration::from_millis(r));
        // A response to a request counted in an earlier window (it was in flight when the
        // window turned) describes that window: its `left` would undo our roll-over.
        if let (Some(r), Some(current), Some(w)) = (implied_reset, s.reset_at, s.window) {
            if r + w / 2 < current {
                return;
            }
        }
        if let Some(r) = implied_reset {
            s.reset_at = Some(r);
        }
        if let Some(left) = headers.left {
            // Requests still in flight were not counted when the store answered this one.
            let estimate = left.saturating_sub(s.in_flight);
            s.left = Some(match s.left {
                // Never raise the estimate above what we already believe for this window:
                // a late, out-of-order response carries a stale, higher count.
                Some(current) if implied_reset.is_none() => current.min(estimate),
                _ => estimate,
            });
        }
    }

    /// A 429: every worker waits until `wait` has passed.
    pub fn block_for(&self, wait: Duration) {
        let mut s = self.state.lock().unwrap();
        let until = Instant::now() + wait;
        if s.blocked_until.is_none_or(|b| b < until) {
            s.blocked_until = Some(until);
        }
        if s.quota.is_some() {
            s.left = Some(0);
            s.reset_at = Some(until);
        }
    }

    /// Requests left in the window as we estimate it (for adaptive concurrency and tests).
    pub fn estimated_left(&self) -> Option<u64> {
        self.state.lock().unwrap().left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_reset_when_spent() {
        let gate = RateGate::new();
        gate.acquire().await;
        gate.finish(&RateHeaders {
            left: Some(0),
            quota: Some(2),
            reset_ms: Some(80),
            window_ms: Some(80),
            retry_after_s: None,
        });
        let start = Instant::now();
        gate.acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(80));
        gate.finish(&RateHeaders::default());
    }

    #[tokio::test]
    async fn subtracts_in_flight_requests() {
        let gate = RateGate::new();
        for _ in 0..3 {
            gate.acquire().await;
        }
        gate.finish(&RateHeaders {
            left: Some(5),
            quota: Some(10),
            reset_ms: Some(10_000),
            window_ms: Some(10_000),
            retry_after_s: None,
        });
        // Two requests are still in flight: 5 - 2 = 3 left.
        assert_eq!(gate.estimated_left(), Some(3));
    }
}
