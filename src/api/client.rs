//! The HTTP client: one connection pool, auth, a global in-flight limit, pacing, retries.
//!
//! Every request goes through [`Client::send`], which owns the retry loop:
//! 429 → everyone waits out the window ([`RateGate::block_for`]); 5xx, timeouts and dropped
//! connections → capped exponential backoff with jitter. A *non-idempotent* request (a create)
//! is never repeated blindly after an ambiguous failure: the error goes back to the caller,
//! which looks the record up first (PRODUCT.md: never create the same customer twice).

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

use super::error::{parse_error_body, ApiError, ErrorKind};
use super::models::{Address, Count, Customer, Group, HasId, Validation};
use super::rate::{RateGate, RateHeaders, Ticket};

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
    fn secrets<'a>(&'a self, body: Option<&'a Value>) -> Vec<&'a str> {
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

    async fn send_to(
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
        let headers = RateHeaders::from_headers(resp.headers());
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
        let text = super::error::scrub(&String::from_utf8_lossy(&body), secrets);
        let message = parse_error_body(status, text.as_bytes());
        Err((fail(ErrorKind::Status { status, message }), headers))
    }

    /// Decode a 2xx body, scrubbing the error (a decoder's message quotes what it read).
    fn decode<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &[u8],
        request: Option<&Value>,
    ) -> Result<T, ApiError> {
        decode(path, body).map_err(|e| e.scrubbed(&self.secrets(request)))
    }

    /// Decode one record (customer, address, group): a body without an id is not the record,
    /// whatever the status said, and never becomes a record with id 0. After a create (POST),
    /// a 2xx says the store accepted the write, so the create may have happened:
    /// [`ErrorKind::Unconfirmed`], which callers look up before sending it again.
    fn decode_record<T: DeserializeOwned + HasId>(
        &self,
        method: &Method,
        path: &str,
        body: &[u8],
        request: Option<&Value>,
    ) -> Result<T, ApiError> {
        let record = self.decode::<T>(path, body, request).and_then(|r: T| {
            if r.id() == 0 {
                Err(ApiError {
                    what: String::new(),
                    kind: ErrorKind::Decode {
                        message: "the answer has no id, so it is not the record asked for".into(),
                    },
                })
            } else {
                Ok(r)
            }
        });
        record.map_err(|e| {
            let message = match e.kind {
                ErrorKind::Decode { message } => message,
                other => {
                    return ApiError {
                        what: e.what,
                        kind: other,
                    }
                }
            };
            ApiError {
                what: format!("{method} {}", route_of(path)),
                kind: if *method == Method::POST {
                    ErrorKind::Unconfirmed { message }
                } else {
                    ErrorKind::Decode { message }
                },
            }
        })
    }

    /// GET a list page. `204 No Content` (an empty page, also past the last page) is an empty list.
    ///
    /// A big page (a full page of customers is ~150 KB, about a millisecond to parse) is parsed
    /// on the blocking pool: parsed on a runtime worker, it would hold up the other responses
    /// arriving at the same moment, whose request slots stay taken until their bodies are read
    /// (measured: +1.4 ms per round of 8 pages at 20 ms latency, 7% of an export's speed).
    pub async fn get_list<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ApiError> {
        const PARSE_ASIDE: usize = 16 * 1024;
        let reply = self.send(Method::GET, path, query, None, true).await?;
        if reply.status == 204 || reply.body.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Vec::new());
        }
        let secret = self.inner.secret.clone();
        let scrub = move |e: ApiError| e.scrubbed(&[secret.expose().trim()]);
        if reply.body.len() < PARSE_ASIDE {
            return decode(path, &reply.body).map_err(scrub);
        }
        let _parser = self
            .inner
            .parsers
            .acquire()
            .await
            .expect("semaphore never closed");
        let path = path.to_string();
        tokio::task::spawn_blocking(move || decode(&path, &reply.body).map_err(scrub))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// GET one resource; 404 is `None`.
    pub async fn get_one<T: DeserializeOwned + HasId>(
        &self,
        path: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.send(Method::GET, path, &[], None, true).await {
            Ok(reply) if reply.status == 204 => Ok(None),
            Ok(reply) => self
                .decode_record(&Method::GET, path, &reply.body, None)
                .map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn count_customers(&self, filters: &[(&str, String)]) -> Result<u64, ApiError> {
        let reply = self
            .send(Method::GET, "/customers/count", filters, None, true)
            .await?;
        let count: Count = self.decode("/customers/count", &reply.body, None)?;
        Ok(count.count)
    }

    /// One page of customers (ascending id), at most 250.
    pub async fn customers_page(
        &self,
        query: &[(&str, String)],
    ) -> Result<Vec<Customer>, ApiError> {
        self.get_list("/customers", query).await
    }

    pub async fn get_customer(&self, id: u64) -> Result<Option<Customer>, ApiError> {
        self.get_one(&format!("/customers/{id}")).await
    }

    /// The customer with this email (case-insensitive), if any.
    pub async fn find_customer_by_email(&self, email: &str) -> Result<Option<Customer>, ApiError> {
        let page = self
            .customers_page(&[("email", email.to_string()), ("limit", "250".into())])
            .await?;
        // Whether the API's email filter is exact or a substring match is not documented: check.
        Ok(page
            .into_iter()
            .find(|c| c.email.eq_ignore_ascii_case(email)))
    }

    /// POST /customers. Not idempotent: an ambiguous failure comes back to the caller.
    pub async fn create_customer(&self, body: &Value) -> Result<Customer, ApiError> {
        let reply = self
            .send(Method::POST, "/customers", &[], Some(body), false)
            .await
            .map_err(unconfirmed_if_unreadable)?;
        self.decode_record(&Method::POST, "/customers", &reply.body, Some(body))
    }

    pub async fn update_customer(&self, id: u64, body: &Value) -> Result<Customer, ApiError> {
        let path = format!("/customers/{id}");
        let reply = self.send(Method::PUT, &path, &[], Some(body), true).await?;
        self.decode_record(&Method::PUT, &path, &reply.body, Some(body))
    }

    /// One `DELETE /customers/{id}`; an ambiguous failure comes back instead of being
    /// repeated (see [`Client::delete_customer`] in `once`). There is deliberately no method
    /// for the collection `DELETE /customers`: it deletes every customer of the store.
    pub(super) async fn delete_customer_attempt(&self, id: u64) -> Result<(), ApiError> {
        self.send(
            Method::DELETE,
            &format!("/customers/{id}"),
            &[],
            None,
            false,
        )
        .await
        .map(|_| ())
    }

    /// `PUT /customers/{id}` of `{"customer_group_id": group}` (0 = no group). Setting a
    /// group is idempotent, so a lost answer is simply repeated; the answer's body is not
    /// needed (nothing but the group changed).
    pub async fn set_customer_group(&self, id: u64, group: u64) -> Result<(), ApiError> {
        let body = serde_json::json!({ "customer_group_id": group });
        self.send(
            Method::PUT,
            &format!("/customers/{id}"),
            &[],
            Some(&body),
            true,
        )
        .await
        .map(|_| ())
    }

    /// Every address of one customer (pages of 250).
    pub async fn addresses(&self, customer_id: u64) -> Result<Vec<Address>, ApiError> {
        self.get_all(&format!("/customers/{customer_id}/addresses"))
            .await
    }

    /// Every item of a small paged list (addresses of a customer, groups), by page number:
    /// these lists are short and rarely change during a run, unlike the customer list, which
    /// [`super::pages`] reads by id.
    async fn get_all<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
    ) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        for page in 1.. {
            let rows: Vec<T> = self
                .get_list(path, &[("page", page.to_string()), ("limit", "250".into())])
                .await?;
            let n = rows.len();
            all.extend(rows);
            if n < 250 {
                break;
            }
        }
        Ok(all)
    }

    /// POST an address. Not idempotent (the caller checks for the address after an ambiguous failure).
    pub async fn create_address(
        &self,
        customer_id: u64,
        body: &Value,
    ) -> Result<Address, ApiError> {
        let path = format!("/customers/{customer_id}/addresses");
        let reply = self
            .send(Method::POST, &path, &[], Some(body), false)
            .await
            .map_err(unconfirmed_if_unreadable)?;
        self.decode_record(&Method::POST, &path, &reply.body, Some(body))
    }

    /// Every customer group (pages of 250).
    pub async fn groups(&self) -> Result<Vec<Group>, ApiError> {
        self.get_all("/customer_groups").await
    }

    /// POST a group. Not idempotent; after an ambiguous failure look the name up.
    ///
    /// BigCommerce documents `207 {status, message}` for this request ("created, but the
    /// sitewide discount update failed"; reference/bigcommerce-api.md, customers.v2.yml): the
    /// group exists but the answer does not carry it, so it is looked up by name.
    pub async fn create_group(&self, name: &str) -> Result<Group, ApiError> {
        let body = serde_json::json!({ "name": name });
        let reply = self
            .send(Method::POST, "/customer_groups", &[], Some(&body), false)
            .await
            .map_err(unconfirmed_if_unreadable)?;
        if reply.status == 207 {
            let said = parse_error_body(207, &reply.body);
            let groups = self.groups().await?;
            return groups
                .into_iter()
                .find(|g| g.id != 0 && g.name.trim().eq_ignore_ascii_case(name.trim()))
                .ok_or_else(|| ApiError {
                    what: "POST /customer_groups".into(),
                    kind: ErrorKind::Decode {
                        message: format!(
                            "the store answered 207 ({}) but lists no group named {name:?}",
                            super::error::scrub(&said, &self.secrets(None))
                        ),
                    },
                });
        }
        self.decode_record(&Method::POST, "/customer_groups", &reply.body, Some(&body))
    }

    /// `POST /customers/{id}/validate`: true when the password is the customer's.
    pub async fn validate_password(
        &self,
        customer_id: u64,
        password: &str,
    ) -> Result<bool, ApiError> {
        let path = format!("/customers/{customer_id}/validate");
        let body = serde_json::json!({ "password": password });
        let reply = self
            .send(Method::POST, &path, &[], Some(&body), true)
            .await?;
        let v: Validation = self.decode(&path, &reply.body, Some(&body))?;
        Ok(v.success)
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

/// A 2xx to a create whose body could not be read (too big) says the store took the write.
fn unconfirmed_if_unreadable(e: ApiError) -> ApiError {
    match e.kind {
        ErrorKind::Decode { message } => ApiError {
            what: e.what,
            kind: ErrorKind::Unconfirmed { message },
        },
        kind => ApiError { what: e.what, kind },
    }
}

fn decode<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, ApiError> {
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
