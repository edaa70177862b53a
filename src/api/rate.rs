//! Pacing shared by every worker, driven by the store's `X-Rate-Limit-*` headers.
//!
//! The quota is per store and shared with every other app, so we never assume the full quota:
//! each response tells us how many requests are left in the current window and when it resets.
//! Requests still in flight when a response arrives were not yet counted by the store when it
//! answered, so they are subtracted from `Requests-Left` (a conservative estimate: we may leave
//! a request or two unused, but we do not run into 429s). When the estimate reaches zero every
//! worker waits for the reset together; a 429 blocks everyone until the longer of
//! `X-Rate-Limit-Time-Reset-Ms` and `X-Retry-After`.
//!
//! The window's end is anchored at the moment the request was *sent*, not when its response
//! came back: the store counted the request on arrival, so `sent + reset` is early by the
//! request's way there, which the next request also travels before it is counted; anchoring at
//! the response would be late by the whole server time and idle every worker for that long at
//! each window's end. Requests are sent as fast as concurrency allows until the window's
//! allowance is spent, then everyone waits for the reset: the store's windows are fixed, so
//! the allowance unused at a reset is lost, and spreading requests evenly over the window
//! would only move our last requests past a reset whose time we know to a round trip.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest wait a store may ask for when it announces no window: BigCommerce's windows are
/// seconds long (30 s on every documented plan), so anything longer is a broken header.
pub const MAX_WAIT_WITHOUT_WINDOW: Duration = Duration::from_secs(5 * 60);

/// A window header longer than this is itself broken and is ignored.
const MAX_PLAUSIBLE_WINDOW: Duration = Duration::from_secs(60 * 60);

/// A store that says nothing is left, but neither its quota nor when it resets, is asked
/// again after this pause (one request), rather than never.
const PROBE_PAUSE: Duration = Duration::from_secs(1);

/// A wait the store asked for, bounded by its own window (or [`MAX_WAIT_WITHOUT_WINDOW`]):
/// the wait to use, and whether it was cut.
pub fn cap_wait(asked: Duration, window: Option<Duration>) -> (Duration, bool) {
    let limit = window
        .filter(|w| *w <= MAX_PLAUSIBLE_WINDOW)
        .unwrap_or(MAX_WAIT_WITHOUT_WINDOW);
    if asked > limit {
        (limit, true)
    } else {
        (asked, false)
    }
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

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

    /// The announced window, when it is plausible.
    pub fn window(&self) -> Option<Duration> {
        self.window_ms
            .map(Duration::from_millis)
            .filter(|w| *w <= MAX_PLAUSIBLE_WINDOW)
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
    /// The lowest `Requests-Left` the store reported in the current window: once every
    /// request is answered, that is exactly what is left (ours all counted, in any order).
    floor: Option<u64>,
    /// Requests let through since start: a response's `Requests-Left` is corrected by the
    /// requests sent after it, which it could not count.
    sent: u64,
}

/// A request let through by [`RateGate::acquire`]: when, and its place in the sending order.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    pub sent: Instant,
    seq: u64,
}

/// Shared pacing state; one per client, used by every request.
#[derive(Debug)]
pub struct RateGate {
    state: Mutex<State>,
    /// A capped wait is said once per run: a broken store may send the header on every answer.
    warned: AtomicBool,
    quiet: AtomicBool,
}

/// Margin after a window's reset before sending again: the store's clock and ours differ by
/// up to a round trip, and a request that arrives a few ms early is a 429.
const RESET_MARGIN: Duration = Duration::from_millis(15);

/// How often a request waiting for an answer near a window's end looks again.
const ENDGAME_POLL: Duration = Duration::from_millis(2);

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
                floor: None,
                sent: 0,
            }),
            warned: AtomicBool::new(false),
            quiet: AtomicBool::new(false),
        }
    }

    /// `--quiet`: the capped-wait line is not printed.
    pub fn set_quiet(&self, quiet: bool) {
        self.quiet.store(quiet, Ordering::Relaxed);
    }

    /// What a 429 asks everyone to wait: the longer of `Reset-Ms` and `X-Retry-After` (None:
    /// neither was sent), each bounded by the store's window ([`cap_wait`]; the gate's known
    /// window when this answer announced none), with one line on stderr (once per run) when a
    /// wait was cut. `X-Retry-After` counts whole seconds, so it may round a window up to the
    /// next second (the sandbox's 300 ms windows send `1`): that is not a broken header.
    /// Header values were saturated into u64 when parsed, and nothing here multiplies them.
    pub fn wait_for_429(&self, headers: &RateHeaders) -> Option<Duration> {
        let window = headers
            .window()
            .or_else(|| self.state.lock().unwrap().window);
        let reset = headers
            .reset_ms
            .map(|ms| self.bounded_by(Duration::from_millis(ms), window, false));
        let retry = headers
            .retry_after_s
            .map(|s| self.bounded_by(Duration::from_secs(s), window, true));
        reset.max(retry)
    }

    /// `whole_seconds`: the wait was given in whole seconds, so the window it is held to is
    /// rounded up to the next second (the line still names the window itself).
    fn bounded_by(
        &self,
        asked: Duration,
        window: Option<Duration>,
        whole_seconds: bool,
    ) -> Duration {
        let limit = match window {
            Some(w) if whole_seconds => Some(Duration::from_secs(w.as_secs_f64().ceil() as u64)),
            other => other,
        };
        let (wait, capped) = cap_wait(asked, limit);
        if capped
            && !self.warned.swap(true, Ordering::Relaxed)
            && !self.quiet.load(Ordering::Relaxed)
        {
            let whose = match window.filter(|w| *w <= MAX_PLAUSIBLE_WINDOW) {
                Some(w) => format!("the store's own rate-limit window of {}", seconds(w)),
                None => format!("{} (the store announced no window)", seconds(wait)),
            };
            eprintln!(
                "warning: the store asked to wait {}, longer than {whose}: a broken header; the wait is capped at {}",
                seconds(asked),
                seconds(wait)
            );
        }
        wait
    }

    /// Wait until a request may be sent, and count it as in flight; returns when it was let
    /// through (pass it to [`RateGate::finish`]). Every call must be paired with `finish`.
    pub async fn acquire(&self) -> Ticket {
        loop {
            let (wait, seq) = {
                let mut s = self.state.lock().unwrap();
                let seq = s.sent;
                let now = Instant::now();
                let wait = match s.blocked_until {
                    Some(until) if until > now => Some(until - now),
                    _ => {
                        s.blocked_until = None;
                        if let (None, _) | (_, None) = (s.reset_at, s.quota) {
                            if s.left == Some(0) {
                                // Without a quota the count cannot be rolled over at the reset
                                // (and without a reset time, not at all), and with nothing sent
                                // no answer will ever raise it: once the reset (or, when none
                                // was sent, a short pause) has passed, one request asks again.
                                match s.reset_at {
                                    Some(r) if now >= r + RESET_MARGIN => {
                                        s.left = Some(1);
                                        s.floor = None;
                                        s.reset_at = None;
                                    }
                                    Some(_) => {}
                                    None => s.reset_at = Some(now + PROBE_PAUSE),
                                }
                            }
                        } else if let (Some(reset_at), Some(quota)) = (s.reset_at, s.quota) {
                            if now >= reset_at + RESET_MARGIN {
                                // A new window has begun; in-flight requests may land in it.
                                s.left = Some(quota.saturating_sub(s.in_flight));
                                s.floor = None;
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
                            // The last few of a window: each waits for an answer first, so
                            // that other apps' use of the shared quota, which only the store's
                            // counts show, is seen before we spend what they may have taken.
                            Some(n) if n <= s.in_flight => Some(ENDGAME_POLL),
                            Some(n) => {
                                s.left = Some(n - 1);
                                s.in_flight += 1;
                                s.sent += 1;
                                None
                            }
                            None => {
                                s.in_flight += 1;
                                s.sent += 1;
                                None
                            }
                        }
                    }
                };
                (wait, seq)
            };
            match wait {
                None => {
                    return Ticket {
                        sent: Instant::now(),
                        seq,
                    }
                }
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Record a response (or a failure with no response: pass default headers) to the
    /// request [`RateGate::acquire`] let through at `sent`.
    pub fn finish(&self, headers: &RateHeaders, ticket: Ticket) {
        let sent = ticket.sent;
        let mut s = self.state.lock().unwrap();
        s.in_flight = s.in_flight.saturating_sub(1);
        if let Some(q) = headers.quota {
            s.quota = Some(q);
        }
        if let Some(w) = headers.window() {
            s.window = Some(w);
        }
        let window = s.window;
        // An absurd reset (1e300 ms) is capped before it is added to an instant (which would
        // overflow) or makes every worker wait for ever.
        let implied_reset = headers
            .reset_ms
            .map(|r| sent + self.bounded_by(Duration::from_millis(r), window, false));
        // A response to a request counted in an earlier window (it was in flight when the
        // window turned) describes that window: its `left` would undo our roll-over.
        if let (Some(r), Some(current), Some(w)) = (implied_reset, s.reset_at, s.window) {
            if r + w / 2 < current {
                return;
            }
        }
        let same_window = match (implied_reset, s.reset_at, s.window) {
            (Some(r), Some(current), Some(w)) => r < current + w / 2,
            _ => false,
        };
        if let Some(r) = implied_reset {
            // Each `sent + reset` is early by that request's way to the store (a request that
            // waited for a connection or a core is early by that wait too), never late: within
            // one window the latest is the best estimate. One more than half a window later is
            // a window we have not rolled over to yet.
            s.reset_at = Some(match (s.reset_at, s.window) {
                (Some(current), Some(w)) if r < current + w / 2 => current.max(r),
                _ => r,
            });
        }
        if let Some(left) = headers.left {
            // The store could not count the requests we sent after this one (in flight, or
            // answered already and out of order): they come off its count. Requests sent
            // earlier and still in flight were counted already, so they must not.
            let after = s.sent.saturating_sub(ticket.seq + 1);
            let estimate = left.saturating_sub(after);
            let floor = match s.floor {
                Some(f) if same_window => f.min(left),
                _ => left,
            };
            s.floor = Some(floor);
            s.left = Some(match s.left {
                // Nothing in flight: every request we sent was counted, the count is exact.
                _ if s.in_flight == 0 && implied_reset.is_some() => floor,
                // Within one window, never raise the estimate: requests reach the store out
                // of order across connections, so a response can carry a count that misses a
                // request sent before it, and believing it is a 429 at the window's end.
                // (Without a reset time we cannot tell the window either: same rule.)
                Some(current) if same_window || implied_reset.is_none() => current.min(estimate),
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

    /// Until when no request may be sent at all (a 429's block, or the window's allowance
    /// spent): what the progress line reports as a wait for the store's rate limit.
    pub fn waiting_until(&self) -> Option<Instant> {
        let s = self.state.lock().unwrap();
        let now = Instant::now();
        let until = match (s.blocked_until, s.left, s.reset_at) {
            (Some(b), _, _) if b > now => b,
            (_, Some(0), Some(r)) => r + RESET_MARGIN,
            _ => return None,
        };
        (until > now).then_some(until)
    }

    /// Time until the current window ends, as we estimate it (None: unknown or past).
    pub fn estimated_reset_in(&self) -> Option<Duration> {
        let s = self.state.lock().unwrap();
        s.reset_at
            .and_then(|r| r.checked_duration_since(Instant::now()))
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
        let sent = gate.acquire().await;
        gate.finish(
            &RateHeaders {
                left: Some(0),
                quota: Some(2),
                reset_ms: Some(80),
                window_ms: Some(80),
                retry_after_s: None,
            },
            sent,
        );
        let next = gate.acquire().await;
        assert!(sent.sent.elapsed() >= Duration::from_millis(80));
        gate.finish(&RateHeaders::default(), next);
    }

    #[tokio::test]
    async fn subtracts_in_flight_requests() {
        let gate = RateGate::new();
        let mut sent = Vec::new();
        for _ in 0..3 {
            sent.push(gate.acquire().await);
        }
        gate.finish(
            &RateHeaders {
                left: Some(5),
                quota: Some(10),
                reset_ms: Some(10_000),
                window_ms: Some(10_000),
                retry_after_s: None,
            },
            sent[0],
        );
        // Two requests were sent after the answered one: 5 - 2 = 3 left.
        assert_eq!(gate.estimated_left(), Some(3));
    }

    #[tokio::test]
    async fn reset_is_anchored_at_the_send_time() {
        let gate = RateGate::new();
        let sent = gate.acquire().await;
        // The response comes back 50 ms after the store counted the request.
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.finish(
            &RateHeaders {
                left: Some(3),
                quota: Some(10),
                reset_ms: Some(100),
                window_ms: Some(1_000),
                retry_after_s: None,
            },
            sent,
        );
        // sent + 100 ms, of which at least 50 have passed (anchored at the response: ~100).
        let left = gate.estimated_reset_in().unwrap_or_default();
        assert!(left <= Duration::from_millis(50), "{left:?}");
    }

    #[tokio::test]
    async fn out_of_order_counts_never_raise_the_estimate_and_settle_when_all_answered() {
        let gate = RateGate::new();
        let (a, b, c) = (
            gate.acquire().await,
            gate.acquire().await,
            gate.acquire().await,
        );
        let said = |left| RateHeaders {
            left: Some(left),
            quota: Some(10),
            reset_ms: Some(20_000),
            window_ms: Some(30_000),
            retry_after_s: None,
        };
        // The store counted c, then a, then b (they travelled on different connections).
        gate.finish(&said(8), a);
        // 8, less b and c sent after a.
        assert_eq!(gate.estimated_left(), Some(6));
        // c's 9 missed a and b; believing it would overshoot.
        gate.finish(&said(9), c);
        assert_eq!(gate.estimated_left(), Some(6));
        // All answered: the lowest count is exact.
        gate.finish(&said(7), b);
        assert_eq!(gate.estimated_left(), Some(7));
    }

    #[tokio::test]
    async fn the_last_requests_of_a_window_wait_for_an_answer() {
        let gate = RateGate::new();
        let said = |left| RateHeaders {
            left: Some(left),
            quota: Some(10),
            reset_ms: Some(20_000),
            window_ms: Some(30_000),
            retry_after_s: None,
        };
        let a = gate.acquire().await;
        gate.finish(&said(2), a);
        let b = gate.acquire().await;
        // One left and one in flight: the next request waits for b's answer, however long.
        let early = tokio::time::timeout(Duration::from_millis(30), gate.acquire()).await;
        assert!(early.is_err(), "sent before the store's count came back");
        gate.finish(&said(1), b);
        let c = tokio::time::timeout(Duration::from_secs(5), gate.acquire())
            .await
            .expect("let through once b is answered");
        assert_eq!(gate.estimated_left(), Some(0));
        gate.finish(&said(0), c);
    }

    #[test]
    fn waits_are_capped_by_the_window_or_five_minutes() {
        let ms = Duration::from_millis;
        assert_eq!(cap_wait(ms(200), Some(ms(300))), (ms(200), false));
        assert_eq!(cap_wait(ms(3_600_000), Some(ms(300))), (ms(300), true));
        // 1e30 s, saturated when parsed: no window → five minutes, never an overflow.
        let huge = RateHeaders {
            retry_after_s: Some(u64::MAX),
            reset_ms: Some(u64::MAX),
            ..RateHeaders::default()
        };
        let gate = RateGate::new();
        assert_eq!(gate.wait_for_429(&huge), Some(MAX_WAIT_WITHOUT_WINDOW));
        let asked = Duration::from_secs(u64::MAX);
        assert_eq!(cap_wait(asked, None), (MAX_WAIT_WITHOUT_WINDOW, true));
        // An absurd window is no window.
        assert_eq!(
            cap_wait(asked, Some(Duration::from_secs(u64::MAX))),
            (MAX_WAIT_WITHOUT_WINDOW, true)
        );
        let _ = Instant::now() + cap_wait(asked, None).0;
        // Whole seconds of X-Retry-After round a short window up: not capped.
        let rounded = RateHeaders {
            retry_after_s: Some(1),
            reset_ms: Some(250),
            window_ms: Some(300),
            ..RateHeaders::default()
        };
        assert_eq!(gate.wait_for_429(&rounded), Some(Duration::from_secs(1)));
    }

    #[tokio::test]
    async fn nothing_left_without_a_quota_is_asked_again_after_a_pause() {
        let gate = RateGate::new();
        let a = gate.acquire().await;
        gate.finish(
            &RateHeaders {
                left: Some(0),
                ..RateHeaders::default()
            },
            a,
        );
        let started = Instant::now();
        let b = tokio::time::timeout(Duration::from_secs(5), gate.acquire())
            .await
            .expect("one request probes the store again");
        assert!(started.elapsed() >= PROBE_PAUSE);
        gate.finish(&RateHeaders::default(), b);
    }
}
