//! Sending one request: the retry loop, one exchange with the store, body caps and scrubbing.

use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::{backoff, Client, Reply, MAX_BODY, MAX_ERROR_BODY, MAX_RATE_LIMITED};
use crate::api::error::{parse_error_body, ApiError, ErrorKind};
use crate::api::rate::{RateHeaders, Ticket};

impl Client {
    pub(super) async fn send_to(
        &self,
        method: Method,
        url: String,
        what: String,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Reply, ApiError> {
        let body_bytes = body.map(|b| serde_json::to_vec(b).expect("JSON values always serialize"));
        let is_write = method != Method::GET;
        let secrets = self.secrets(body);
        let mut attempt: u32 = 0;
        let mut rate_limited: u32 = 0;
        loop {
            let result = {
                let _permit = self
                    .inner
                    .permits
                    .acquire()
                    .await
                    .expect("semaphore never closed");
                let sent = self.inner.gate.acquire().await;
                self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
                if is_write {
                    self.inner.stats.writes.fetch_add(1, Ordering::Relaxed);
                }
                let mut req = self
                    .inner
                    .http
                    .request(method.clone(), &url)
                    .header("X-Auth-Token", self.inner.token.clone());
                if !query.is_empty() {
                    req = req.query(query);
                }
                if let Some(b) = &body_bytes {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(b.clone());
                }
                self.exchange(req, &what, sent, &secrets).await
            };
            let err = match result {
                Ok(reply) => return Ok(reply),
                Err((err, headers)) => {
                    if err.status() == Some(429) {
                        self.inner
                            .stats
                            .rate_limited
                            .fetch_add(1, Ordering::Relaxed);
                        rate_limited += 1;
                        if rate_limited > MAX_RATE_LIMITED {
                            return Err(err);
                        }
                        // A wait longer than the store's own window is a broken header: capped.
                        let wait = self
                            .inner
                            .gate
                            .wait_for_429(&headers)
                            .unwrap_or_else(|| backoff(rate_limited - 1, is_write));
                        // Everyone waits, with a little jitter so the workers do not return in one burst.
                        self.inner
                            .gate
                            .block_for(wait + Duration::from_millis(fastrand::u64(0..=50)));
                        self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    err
                }
            };
            if !err.is_retryable()
                || attempt >= self.inner.max_retries
                || (!idempotent && err.is_ambiguous())
            {
                return Err(err);
            }
            self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(backoff(attempt, is_write)).await;
            attempt += 1;
        }
    }

    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
        sent: Ticket,
        secrets: &[&str],
    ) -> Result<Reply, (ApiError, RateHeaders)> {
        // Every error is built here, and scrubbed here: nothing the store sends reaches a
        // log line, a message or a results file with the token or a password in it.
        let fail = |kind: ErrorKind| {
            ApiError {
                what: what.to_string(),
                kind,
            }
            .scrubbed(secrets)
        };
        let transport = |e: reqwest::Error| {
            let maybe_sent = !e.is_connect();
            let message = describe_reqwest_error(&e);
            fail(ErrorKind::Transport {
                message,
                maybe_sent,
            })
        };
        let verbosity = self.inner.verbosity.load(Ordering::Relaxed);
        let sent_at = std::time::Instant::now();
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                self.inner.gate.finish(&RateHeaders::default(), sent);
                let err = transport(e);
                if verbosity > 0 {
                    eprintln!("[http] {what} -> {}", err.message());
                }
                return Err((err, RateHeaders::default()));
            }
        };
        let status = resp.status().as_u16();
        self.inner.clock.record(resp.headers());
        let headers = RateHeaders::from_headers(resp.headers());
        log_reply(verbosity, what, status, sent_at, &headers);
        if (300..400).contains(&status) {
            self.inner.gate.finish(&headers, sent);
            let location: String = resp
                .headers()
                .get(reqwest::header::LOCATION)
                // Named so the user can see where the store points, but kept to one short line.
                .map(|v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .chars()
                        .take(500)
                        .collect()
                })
                .unwrap_or_else(|| "(no Location header)".into());
            let message = format!(
                "the store answered with a redirect to {location}; BigCommerce's API never redirects, so it is not followed (check --api-url)"
            );
            return Err((fail(ErrorKind::Status { status, message }), headers));
        }
        let success = (200..300).contains(&status);
        let cap = if success { MAX_BODY } else { MAX_ERROR_BODY };
        let body = read_capped(&mut resp, cap).await;
        drop(resp);
        self.inner.gate.finish(&headers, sent);
        let body = match body {
            Ok(Capped::Whole(b)) => b,
            Ok(Capped::Cut(b)) if !success => b,
            Ok(Capped::Cut(_)) => {
                let message = format!(
                    "the answer is larger than {} MiB, which no real page reaches; it was not read further",
                    MAX_BODY >> 20
                );
                return Err((fail(ErrorKind::Decode { message }), headers));
            }
            Err(e) => {
                // The status line arrived but the body did not: the request was processed.
                let mut err = transport(e);
                if let ErrorKind::Transport { maybe_sent, .. } = &mut err.kind {
                    *maybe_sent = true;
                }
                return Err((err, headers));
            }
        };
        if success {
            return Ok(Reply { status, body });
        }
        // Scrubbed before parsing too: a plain-text message is cut to a few hundred
        // characters, and a cut could leave part of a secret that no longer matches.
        let text = crate::api::error::scrub(&String::from_utf8_lossy(&body), secrets);
        let message = parse_error_body(status, text.as_bytes());
        Err((fail(ErrorKind::Status { status, message }), headers))
    }
}

/// The `--verbose` line for one answer: the route, the status and the time, and at `-vv` the
/// rate-limit headers; nothing else (no query values, no bodies, no token).
fn log_reply(
    verbosity: u8,
    what: &str,
    status: u16,
    sent_at: std::time::Instant,
    headers: &RateHeaders,
) {
    match verbosity {
        0 => {}
        1 => eprintln!(
            "[http] {what} -> {status} ({} ms)",
            sent_at.elapsed().as_millis()
        ),
        _ => {
            let show = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |n| n.to_string());
            eprintln!(
                "[http] {what} -> {status} ({} ms) requests-left={} reset-ms={} retry-after-s={}",
                sent_at.elapsed().as_millis(),
                show(headers.left),
                show(headers.reset_ms),
                show(headers.retry_after_s)
            )
        }
    }
}

/// A body read up to a cap: whole, or cut at the cap (the rest was not read).
enum Capped {
    Whole(Vec<u8>),
    Cut(Vec<u8>),
}

/// Read the body as a stream (decompressed, when the store gzips it), stopping at `cap`
/// bytes: a body is never held in memory beyond the cap, whatever its announced length.
async fn read_capped(resp: &mut reqwest::Response, cap: usize) -> Result<Capped, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Ok(Capped::Cut(Vec::new()));
    }
    let mut body = Vec::with_capacity(resp.content_length().map_or(0, |n| n as usize));
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > cap {
            let room = cap - body.len();
            body.extend_from_slice(&chunk[..room]);
            return Ok(Capped::Cut(body));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Capped::Whole(body))
}

/// reqwest's errors print the URL (with its query string); say what happened without it.
fn describe_reqwest_error(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out waiting for the store".to_string()
    } else if e.is_connect() {
        "could not connect to the store".to_string()
    } else if e.is_body() || e.is_decode() {
        "the connection dropped while reading the response".to_string()
    } else {
        "the connection failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}
