//! The HTTP client: one connection pool, auth, a global in-flight limit, pacing, retries.
//!
//! Every request goes through [`Client::send`], which owns the retry loop:
//! 429 → everyone waits out the window ([`RateGate::block_for`]); 5xx, timeouts and dropped
//! connections → capped exponential backoff with jitter. A *non-idempotent* request (a create)
//! is never repeated blindly after an ambiguous failure: the error goes back to the caller,
//! which looks the record up first (PRODUCT.md: never create the same customer twice).
//!
//! Split by concern: `exchange` sends one request and reads its answer (retries, body caps,
//! scrubbing); `clock` keeps the store's time from the `Date` of its answers. The typed V2 endpoint methods are `api::v2`'s, the V3 requests `api::v3`'s.

mod clock;
mod exchange;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::error::{ApiError, ErrorKind};
use super::rate::RateGate;

/// The access token. Its `Debug` never shows the value, so it cannot leak through `{:?}`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Secret {
        Secret(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// Validated connection settings (PRODUCT.md § Connection settings).
#[derive(Debug, Clone)]
pub struct Connection {
    pub api_url: url::Url,
    pub store_hash: String,
    pub token: Secret,
    pub concurrency: usize,
    pub timeout: Duration,
    pub max_retries: u32,
}

impl Connection {
    /// Check the API URL: `https://` anywhere, plain `http://` only to a loopback host, so a
    /// token is never sent in clear over a network.
    pub fn check_api_url(raw: &str) -> anyhow::Result<url::Url> {
        let url = url::Url::parse(raw.trim())
            .with_context(|| format!("--api-url {raw:?} is not a URL"))?;
        match url.scheme() {
            "https" => {}
            "http" => {
                let loopback = match url.host() {
                    Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                    Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                    Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                    None => false,
                };
                if !loopback {
                    bail!(
                        "refusing plain http:// to {}: the access token would cross the network unencrypted; use https:// (http:// is allowed only for loopback hosts such as 127.0.0.1 or localhost)",
                        url.host_str().unwrap_or("?")
                    );
                }
            }
            other => bail!("--api-url must start with https:// (got {other}://)"),
        }
        // Requests go to `{api-url}/stores/{hash}/...` and nowhere else: a query or fragment
        // would be dropped or mangled by that join, and user info would be sent (as Basic
        // auth) to whoever the URL names. Neither is named back: user info holds a password.
        if !url.username().is_empty() || url.password().is_some() {
            bail!("--api-url must not contain user info (user:password@): the store is authenticated with the access token only");
        }
        if url.query().is_some() {
            bail!("--api-url must not contain a query (?...): requests go to {{api-url}}/stores/{{hash}}/v2/...");
        }
        if url.fragment().is_some() {
            bail!("--api-url must not contain a fragment (#...): requests go to {{api-url}}/stores/{{hash}}/v2/...");
        }
        Ok(url)
    }

    pub fn check_store_hash(hash: &str) -> anyhow::Result<String> {
        let hash = hash.trim();
        if hash.is_empty()
            || !hash
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!("store hash {hash:?} is not valid: expected letters and digits, as in the API path /stores/{{hash}}/v2");
        }
        Ok(hash.to_string())
    }
}

/// Counters for the end-of-run summary.
#[derive(Debug, Default)]
pub struct ClientStats {
    pub requests: AtomicU64,
    pub writes: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
}

/// A plain snapshot of [`ClientStats`].
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub writes: u64,
    pub retries: u64,
    pub rate_limited: u64,
}

struct Inner {
    http: reqwest::Client,
    /// `{api-url}/stores/{hash}/v2`.
    root: String,
    /// `{api-url}/stores/{hash}/v3`: the Customers V3 routes (same token, same quota).
    root_v3: String,
    token: HeaderValue,
    /// The token as text, only to scrub it from what the store sends back.
    secret: Secret,
    gate: RateGate,
    permits: Semaphore,
    /// Big pages parsed at once, one per core: more would only add blocking-pool threads
    /// (each with its own allocator arena: peak memory grew by half without this limit).
    parsers: Semaphore,
    stats: ClientStats,
    max_retries: u32,
    /// `-v` count: 1 logs each request, 2 adds the rate-limit headers.
    verbosity: std::sync::atomic::AtomicU8,
    /// The latest `Date` the store sent (a reconciled create's "before it was sent").
    clock: clock::StoreClock,
}

/// Cheap to clone; every clone shares the pool, the pacing and the counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// A successful response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The most a 2xx answer may hold. A full page of 250 customers is ~150 KB; with long notes
/// and many form fields perhaps a few MB. 32 MiB is over 200 times a typical page, so only a
/// broken or hostile store reaches it, and memory stays bounded whatever it sends: the body is
/// read as a stream and counted after gzip decompression (a 1 MB gzip can inflate to 1 GiB).
pub const MAX_BODY: usize = 32 << 20;

/// Error bodies are read only for their message: the rest is not read.
const MAX_ERROR_BODY: usize = 64 << 10;

/// How many 429s one request may meet before it gives up. They do not use the `--max-retries`
/// budget: a 429 with headers is the store telling us when to come back, not a fault.
const MAX_RATE_LIMITED: u32 = 30;

impl Client {
    pub fn new(conn: &Connection) -> anyhow::Result<Client> {
        let mut token = HeaderValue::from_str(conn.token.expose().trim()).map_err(|_| {
            anyhow::anyhow!("the access token contains characters that cannot be sent in a header")
        })?;
        token.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        let http = reqwest::Client::builder()
            .user_agent(concat!("bc-customers/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(conn.timeout)
            .connect_timeout(conn.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(conn.concurrency.max(1) * 2)
            .https_only(conn.api_url.scheme() == "https")
            // BigCommerce's API never redirects. Following one (reqwest follows 10 by default)
            // would send the token, the method and the body to whatever URL the answer names,
            // e.g. a 307 of `DELETE /customers/7` to the collection `DELETE /customers`.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the HTTP client")?;
        let base = conn.api_url.as_str().trim_end_matches('/');
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                root: format!("{base}/stores/{}/v2", conn.store_hash),
                root_v3: format!("{base}/stores/{}/v3", conn.store_hash),
                token,
                secret: conn.token.clone(),
                gate: RateGate::new(),
                permits: Semaphore::new(conn.concurrency.max(1)),
                parsers: Semaphore::new(
                    std::thread::available_parallelism().map_or(2, |n| n.get()),
                ),
                stats: ClientStats::default(),
                max_retries: conn.max_retries,
                verbosity: Default::default(),
                clock: Default::default(),
            }),
        })
    }

    /// Log requests to stderr (see `--verbose`). Only what is safe to show is logged: the
    /// method, the route template (ids replaced), the status, the time and the rate headers;
    /// never the token, a query value (emails) or a body (passwords).
    pub fn with_verbosity(self, level: u8) -> Client {
        self.inner.verbosity.store(level, Ordering::Relaxed);
        self
    }

    /// `--quiet`: the client's own warnings (a capped wait) are not printed.
    pub fn with_quiet(self, quiet: bool) -> Client {
        self.inner.gate.set_quiet(quiet);
        self
    }

    /// What must never come back out of the store's words for this request: the token, and
    /// any password in the body.
    pub(in crate::api) fn secrets<'a>(&'a self, body: Option<&'a Value>) -> Vec<&'a str> {
        let mut out = vec![self.inner.secret.expose().trim()];
        if let Some(b) = body {
            passwords_in(b, false, &mut out);
        }
        out
    }

    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.inner.stats;
        StatsSnapshot {
            requests: s.requests.load(Ordering::Relaxed),
            writes: s.writes.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            rate_limited: s.rate_limited.load(Ordering::Relaxed),
        }
    }

    /// Count a re-send that a caller made itself (a create repeated after reconciling).
    pub fn count_retry(&self) {
        self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// The store's time by its own clock: the `Date` of the latest answer that carried a
    /// plausible one, in Unix seconds (`None` before any). Taken before a request is sent,
    /// it is no later than the store's time when the request arrives.
    pub fn store_clock(&self) -> Option<i64> {
        self.inner.clock.latest()
    }

    pub fn gate(&self) -> &RateGate {
        &self.inner.gate
    }

    /// Send one request, retrying what is safe to retry. `idempotent = false` (creates) returns
    /// ambiguous failures to the caller instead of repeating them.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Reply, ApiError> {
        let what = format!("{method} {}", route_of(path));
        let url = format!("{}{}", self.inner.root, path);
        self.send_to(method, url, what, query, body, idempotent)
            .await
    }

    /// A V3 GET (`path` under `/v3`) with its query already encoded: V3 filter names carry a
    /// `:` (`id:in`, `date_modified:max`) and date values must reach the store unencoded
    /// (reference/bigcommerce-v3.md §4: `2024-10-19T20%3A00%3A00-0400` "won't work"), which
    /// the form encoder behind [`Client::send`] would not leave alone. Errors name the route
    /// as `GET /v3/customers`.
    pub async fn get_v3(&self, path: &str, encoded_query: &str) -> Result<Reply, ApiError> {
        self.send_v3(Method::GET, path, encoded_query, None, true)
            .await
    }

    /// Any V3 request, encoded as [`Client::get_v3`] encodes it, with the same retries,
    /// pacing and scrubbing as [`Client::send`] (the V3 batch writes: `api::v3::write`).
    pub async fn send_v3(
        &self,
        method: Method,
        path: &str,
        encoded_query: &str,
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Reply, ApiError> {
        let what = format!("{method} /v3{}", route_of(path));
        let mut url = format!("{}{}", self.inner.root_v3, path);
        if !encoded_query.is_empty() {
            url.push('?');
            url.push_str(encoded_query);
        }
        self.send_to(method, url, what, &[], body, idempotent).await
    }

    /// `--max-retries`: how often a failed request is sent again.
    pub fn max_retries(&self) -> u32 {
        self.inner.max_retries
    }

    /// Decode a big 2xx body on the blocking pool (see [`Client::get_list`] for why), a small
    /// one in place; the token is scrubbed from any decoder message.
    pub async fn decode_aside<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, ApiError> {
        const PARSE_ASIDE: usize = 16 * 1024;
        let secret = self.inner.secret.clone();
        let scrub = move |e: ApiError| e.scrubbed(&[secret.expose().trim()]);
        if body.len() < PARSE_ASIDE {
            return decode(path, &body).map_err(scrub);
        }
        let _parser = self
            .inner
            .parsers
            .acquire()
            .await
            .expect("semaphore never closed");
        let path = path.to_string();
        tokio::task::spawn_blocking(move || decode(&path, &body).map_err(scrub))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }
}

/// Every string under a key naming a password (`password`, `password_confirmation`,
/// `new_password`, also nested as in `_authentication`): the secrets of a request body.
fn passwords_in<'a>(v: &'a Value, under_password: bool, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) if under_password => out.push(s),
        Value::Object(map) => {
            for (k, v) in map {
                passwords_in(v, under_password || k.contains("password"), out);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| passwords_in(v, under_password, out)),
        _ => {}
    }
}

pub(in crate::api) fn decode<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError {
        what: format!("GET {}", route_of(path)),
        kind: ErrorKind::Decode {
            message: e.to_string(),
        },
    })
}

/// `/customers/123/addresses` → `/customers/{id}/addresses`, for messages and counters.
pub fn route_of(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Capped exponential backoff with jitter: 250 ms, 500 ms, 1 s, … up to 10 s (writes wait
/// twice as long, as BigCommerce advises), each drawn uniformly from [d/2, d].
pub fn backoff(attempt: u32, write: bool) -> Duration {
    let base: u64 = if write { 500 } else { 250 };
    let d = base.saturating_mul(1u64 << attempt.min(16)).min(10_000);
    Duration::from_millis(fastrand::u64(d / 2..=d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_only_to_loopback() {
        assert!(Connection::check_api_url("https://api.bigcommerce.com").is_ok());
        assert!(Connection::check_api_url("http://127.0.0.1:8080").is_ok());
        assert!(Connection::check_api_url("http://localhost:1").is_ok());
        assert!(Connection::check_api_url("http://[::1]:1").is_ok());
        assert!(Connection::check_api_url("http://example.com").is_err());
        assert!(Connection::check_api_url("http://10.0.0.1").is_err());
        assert!(Connection::check_api_url("ftp://x").is_err());
    }

    #[test]
    fn routes_hide_ids() {
        assert_eq!(
            route_of("/customers/12/addresses"),
            "/customers/{id}/addresses"
        );
    }

    #[test]
    fn backoff_is_capped() {
        for attempt in 0..40 {
            assert!(backoff(attempt, true) <= Duration::from_secs(10));
        }
    }
}
