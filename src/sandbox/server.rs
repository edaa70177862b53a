//! The sandbox's HTTP front: its own accept loop over hyper's HTTP/1 connections, and the
//! per-request pipeline the API's behaviour under load depends on:
//! count → auth → quota (429) → dropped connection → injected 5xx → handle → latency →
//! lost response.
//!
//! A dropped connection must look like a transport failure to the client, not like a response.
//! The service returns `Err(DropConnection)` and hyper closes the connection without writing
//! anything (an axum handler cannot do this: it always produces a response).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::handlers::{self, Reply};
use super::seed;
use super::store::{Links, Store};
use super::{Counters, SandboxConfig};

/// Password validation gets its own gentle limit, as the API's "special rate limiting
/// protections" for that endpoint: more concurrent requests than this get 429.
const MAX_CONCURRENT_VALIDATIONS: usize = 10;

/// Largest request body read; the API's own bodies are a few hundred bytes.
const MAX_BODY_BYTES: usize = 1 << 20;

pub(crate) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// State shared by every connection of one sandbox.
pub(crate) struct Shared {
    pub cfg: SandboxConfig,
    pub links: Links,
    store: RwLock<Store>,
    counters: Mutex<Counters>,
    quota: Option<Mutex<QuotaWindow>>,
    pub faults: Faults,
    pub latency_ms: AtomicU64,
    /// Set by [`crate::sandbox::Sandbox::set_token_revoked`]: every request is then a 401.
    pub token_revoked: std::sync::atomic::AtomicBool,
    validations_in_flight: AtomicUsize,
    /// Requests between arrival and answer (for [`Counters::max_in_flight`]).
    in_flight: AtomicUsize,
    /// In-flight counts of the V3 routes with a concurrency limit.
    pub v3: super::v3::V3State,
    started: Instant,
}

/// Units used in the current fixed window.
struct QuotaWindow {
    index: u64,
    used: u32,
}

/// What the rate headers of one response say.
#[derive(Clone, Copy)]
struct RateState {
    quota: u32,
    left: u32,
    reset_ms: u64,
    window_ms: u64,
    exhausted: bool,
}

pub(crate) struct Faults {
    state: Mutex<FaultState>,
}

struct FaultState {
    fail_rate: f64,
    drop_rate: f64,
    lost_response_rate: f64,
    rng: fastrand::Rng,
}

/// The fault draws of one request, made together so one lock serves them all.
struct FaultDraw {
    drop: bool,
    fail: Option<InjectedFailure>,
    lose_response: bool,
}

struct InjectedFailure {
    status: StatusCode,
    /// 0 = V2 error array, 1 = plain text, 2 = HTML page: the shapes real 5xx bodies take.
    shape: u8,
}

impl Faults {
    pub fn set_rates(&self, fail_rate: f64, drop_rate: f64, lost_response_rate: f64) {
        let mut state = lock(&self.state);
        state.fail_rate = fail_rate;
        state.drop_rate = drop_rate;
        state.lost_response_rate = lost_response_rate;
    }

    fn draw(&self) -> FaultDraw {
        let mut guard = lock(&self.state);
        let state = &mut *guard;
        let rng = &mut state.rng;
        // Draw only for non-zero rates, so a sandbox without faults never touches the rng and
        // one with a single kind of fault gets the same sequence whatever the others are.
        let mut hit = |rate: f64| rate > 0.0 && rng.f64() < rate;
        let drop = hit(state.drop_rate);
        let fail = hit(state.fail_rate);
        let lose_response = hit(state.lost_response_rate);
        let fail = fail.then(|| InjectedFailure {
            status: [
                StatusCode::INTERNAL_SERVER_ERROR,
                StatusCode::BAD_GATEWAY,
                StatusCode::SERVICE_UNAVAILABLE,
            ][rng.usize(..3)],
            shape: rng.u8(..3),
        });
        FaultDraw {
            drop,
            fail,
            lose_response,
        }
    }
}

/// The error a service returns to make hyper close the connection without a response.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the sandbox's fault injection")
    }
}

impl std::error::Error for DropConnection {}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain data behind; keep serving it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub fn new(cfg: SandboxConfig, addr: SocketAddr) -> Shared {
        let mut store = Store::new(cfg.groups_enabled, cfg.rng_seed);
        if cfg.seed > 0 {
            let (customers, addresses) =
                seed::customers(cfg.seed, cfg.rng_seed, cfg.groups_enabled);
            store.load_seeded(customers, addresses);
        }
        let links = Links {
            api_root: format!("http://{addr}/stores/{}/v2", cfg.store_hash),
        };
        Shared {
            links,
            store: RwLock::new(store),
            counters: Mutex::new(Counters::default()),
            quota: cfg
                .quota
                .map(|_| Mutex::new(QuotaWindow { index: 0, used: 0 })),
            faults: Faults {
                state: Mutex::new(FaultState {
                    fail_rate: cfg.fail_rate,
                    drop_rate: cfg.drop_rate,
                    lost_response_rate: cfg.lost_response_rate,
                    rng: fastrand::Rng::with_seed(cfg.rng_seed),
                }),
            },
            latency_ms: AtomicU64::new(cfg.latency_ms),
            token_revoked: Default::default(),
            validations_in_flight: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            v3: Default::default(),
            started: Instant::now(),
            cfg,
        }
    }

    pub fn read_store(&self) -> RwLockReadGuard<'_, Store> {
        self.store
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn write_store(&self) -> RwLockWriteGuard<'_, Store> {
        self.store
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn counters_snapshot(&self) -> Counters {
        lock(&self.counters).clone()
    }

    pub fn reset_counters(&self) {
        *lock(&self.counters) = Counters::default();
    }

    pub(crate) fn count<F: FnOnce(&mut Counters)>(&self, update: F) {
        update(&mut lock(&self.counters));
    }

    /// Take one unit of the current window (if any is left) and say what the headers show.
    fn take_quota_unit(&self) -> Option<RateState> {
        let (quota, window) = (self.cfg.quota?, self.quota.as_ref()?);
        let window_ms = self.cfg.window_ms.max(1);
        let elapsed = self.started.elapsed().as_millis() as u64;
        let index = elapsed / window_ms;
        let reset_ms = window_ms - elapsed % window_ms;
        let mut window = lock(window);
        if window.index != index {
            window.index = index;
            window.used = 0;
        }
        let exhausted = window.used >= quota;
        if !exhausted {
            window.used += 1;
        }
        Some(RateState {
            quota,
            left: quota - window.used,
            reset_ms,
            window_ms,
            exhausted,
        })
    }

    fn authorized<B>(&self, req: &Request<B>) -> bool {
        req.headers()
            .get("x-auth-token")
            .is_some_and(|token| token.as_bytes() == self.cfg.token.as_bytes())
            && !self.token_revoked.load(Ordering::Relaxed)
    }
}

/// Serve until `stop` changes or its sender is dropped; open connections end then too.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Usually out of file descriptors: wait instead of spinning.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(shared.clone(), req));
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// One request. `--latency-ms` is the time from the request's arrival to its response (or
/// dropped connection), the store's own work included, as a client measures a real store's
/// latency: the handler runs first and the answer waits out the rest. Sleeping the full
/// latency *before* the work would add the sandbox's own serialisation time (a few ms for a
/// 250-customer page on a busy 2-core machine) to every request and skew the benchmarks' bound.
async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let arrived = tokio::time::Instant::now();
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.count(|c| c.max_in_flight = c.max_in_flight.max(now as u64));
    struct Leaving<'a>(&'a AtomicUsize);
    impl Drop for Leaving<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let _leaving = Leaving(&shared.in_flight);
    let mut delayed = false;
    // A password validation holds its concurrency slot until its answer leaves.
    let mut slot = Slots::default();
    let result = handle_now(&shared, req, &mut delayed, &mut slot).await;
    let latency = shared.latency_ms.load(Ordering::Relaxed);
    if delayed && latency > 0 {
        sleep_precisely_until(arrived + Duration::from_millis(latency)).await;
    }
    drop(slot);
    result
}

/// Wait until `deadline`, to within a few tens of microseconds.
///
/// Tokio's timer works in whole milliseconds and rounds deadlines up, so a plain `sleep_until`
/// answers 1–2 ms late (measured: 21.3 ms for a 20 ms latency), which made every benchmark's
/// bound (computed from the configured latency) unreachable by ~7% before the client did
/// anything. So: the timer for all but the last 2 ms, then the rest on a blocking-pool thread
/// with the OS's sleep (precise to tens of µs), which never ties up a runtime worker.
async fn sleep_precisely_until(deadline: tokio::time::Instant) {
    const COARSE: Duration = Duration::from_millis(2);
    if let Some(early) = deadline.checked_sub(COARSE) {
        tokio::time::sleep_until(early).await;
    }
    let rest = deadline.saturating_duration_since(tokio::time::Instant::now());
    if !rest.is_zero() {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
    }
}

/// [`handle`] without the latency; sets `delayed` once the request is past the checks that
/// answer at once (auth, quota).
async fn handle_now(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    delayed: &mut bool,
    slot: &mut Slots,
) -> Result<Response<Body>, DropConnection> {
    let shared = Arc::clone(shared);
    if req.uri().path() == "/__sandbox/counters" {
        return Ok(admin_counters(&shared, &req));
    }
    let method = req.method().clone();
    let route = handlers::Route::parse(req.uri().path(), &shared.cfg.store_hash);
    let is_write = matches!(method, Method::POST | Method::PUT | Method::DELETE);
    count_request(&shared, &method, route.as_ref());
    let rate = shared.take_quota_unit();
    if let Some(refused) = admit(&shared, &req, &method, route, rate, slot) {
        return Ok(refused);
    }

    *delayed = true;
    let faults = shared.faults.draw();
    if faults.drop {
        shared.count(|c| c.dropped += 1);
        return Err(DropConnection);
    }
    if let Some(failure) = faults.fail {
        shared.count(|c| c.injected_5xx += 1);
        return Ok(respond(injected_failure(failure), rate, None, &shared.cfg));
    }

    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let query = req.uri().query().unwrap_or("").to_string();
    let body = if matches!(method, Method::POST | Method::PUT) {
        match axum::body::to_bytes(Body::new(req.into_body()), MAX_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) => {
                let reply = Reply::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The request body is too large or was cut short.",
                );
                return Ok(respond(reply, rate, None, &shared.cfg));
            }
        }
    } else {
        Default::default()
    };

    let reply = handlers::dispatch(
        &shared,
        &handlers::ApiRequest {
            method: &method,
            route,
            query: &query,
            content_type: content_type.as_deref(),
            body: &body,
        },
    );
    if reply.committed {
        shared.count(|c| c.writes_committed += 1);
        if is_write && faults.lose_response {
            shared.count(|c| c.lost_responses += 1);
            return Err(DropConnection);
        }
    }
    Ok(respond(reply, rate, None, &shared.cfg))
}

/// Count one request: in total, by route template, as a write, as a collection delete.
fn count_request(shared: &Shared, method: &Method, route: Option<&handlers::Route>) {
    let is_write = matches!(*method, Method::POST | Method::PUT | Method::DELETE);
    shared.count(|c| {
        c.total += 1;
        let template = route.map_or("(no route)", handlers::Route::template);
        *c.by_route
            .entry(format!("{method} {template}"))
            .or_default() += 1;
        if is_write {
            c.writes += 1;
        }
        if *method == Method::DELETE && matches!(route, Some(handlers::Route::Customers)) {
            c.collection_deletes += 1;
        }
    });
}

/// The checks that answer at once, before latency and faults: auth (401), quota (429), the
/// password validation limit and the V3 concurrency limits (429). `Some` is the answer (the
/// request goes no further), `None` admits it; the slots taken are held in `slot` until the
/// request's answer leaves.
fn admit<B>(
    shared: &Arc<Shared>,
    req: &Request<B>,
    method: &Method,
    route: Option<handlers::Route>,
    rate: Option<RateState>,
    slot: &mut Slots,
) -> Option<Response<Body>> {
    // V3 routes answer in V3's error object (reference/bigcommerce-v3.md §15), V2 in its array.
    let is_v3 = matches!(route, Some(handlers::Route::V3(_)));
    let error = |status, message: &str| match is_v3 {
        true => super::v3::error(status, message),
        false => Reply::error(status, message),
    };
    if !shared.authorized(req) {
        shared.count(|c| c.unauthorized += 1);
        let reply = error(
            StatusCode::UNAUTHORIZED,
            "The X-Auth-Token header is missing or the token is not valid.",
        );
        return Some(respond(reply, rate, None, &shared.cfg));
    }
    if rate.is_some_and(|r| r.exhausted) {
        shared.count(|c| c.rate_limited += 1);
        let reply = error(
            StatusCode::TOO_MANY_REQUESTS,
            "You have exceeded your request quota.",
        );
        let retry_after = rate.map(|r| r.reset_ms.div_ceil(1000).max(1));
        return Some(respond(reply, rate, retry_after, &shared.cfg));
    }
    let validates = matches!(
        route,
        Some(handlers::Route::Validate(_))
            | Some(handlers::Route::V3(super::v3::Route::ValidateCredentials))
    );
    if validates {
        match ValidationSlot::take(shared) {
            Some(taken) => slot.validation = Some(taken),
            None => {
                shared.count(|c| c.rate_limited += 1);
                let reply = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many concurrent password validation requests.",
                );
                return Some(respond(reply, rate, Some(1), &shared.cfg));
            }
        }
    }
    if let Some(handlers::Route::V3(v3_route)) = route {
        match super::v3::ConcurrencySlot::take(shared, method, v3_route) {
            Ok(taken) => slot.v3 = taken,
            Err(reply) => {
                shared.count(|c| c.rate_limited += 1);
                return Some(respond(reply, rate, Some(1), &shared.cfg));
            }
        }
    }
    None
}

/// The concurrency slots a request holds until its answer leaves.
#[derive(Default)]
struct Slots {
    validation: Option<ValidationSlot>,
    v3: Option<super::v3::ConcurrencySlot>,
}

/// Holds one of the [`MAX_CONCURRENT_VALIDATIONS`] slots until dropped.
struct ValidationSlot(Arc<Shared>);

impl ValidationSlot {
    fn take(shared: &Arc<Shared>) -> Option<ValidationSlot> {
        let counter = &shared.validations_in_flight;
        if counter.fetch_add(1, Ordering::SeqCst) >= MAX_CONCURRENT_VALIDATIONS {
            counter.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(ValidationSlot(Arc::clone(shared)))
    }
}

impl Drop for ValidationSlot {
    fn drop(&mut self) {
        self.0.validations_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `GET /__sandbox/counters`: for out-of-process users; not counted, no quota, no faults.
fn admin_counters(shared: &Shared, req: &Request<Incoming>) -> Response<Body> {
    let reply = if !shared.authorized(req) {
        Reply::error(
            StatusCode::UNAUTHORIZED,
            "The X-Auth-Token header is missing or the token is not valid.",
        )
    } else if req.method() != Method::GET {
        Reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "The requested method is not allowed for this resource.",
        )
    } else {
        Reply::json(StatusCode::OK, &shared.counters_snapshot())
    };
    reply.into_response()
}

fn injected_failure(failure: InjectedFailure) -> Reply {
    let status = failure.status;
    match failure.shape {
        0 => Reply::error(
            status,
            "An internal error has occurred (injected by the sandbox).",
        ),
        1 => Reply::raw(
            status,
            "text/plain; charset=utf-8",
            "An error has occurred.".into(),
        ),
        _ => {
            let reason = status.canonical_reason().unwrap_or("Error");
            let code = status.as_u16();
            Reply::raw(
                status,
                "text/html; charset=utf-8",
                format!("<html><head><title>{code} {reason}</title></head><body><h1>{code} {reason}</h1></body></html>\n")
                    .into_bytes(),
            )
        }
    }
}

/// Turn a reply into a response with the rate headers the quota asks for. `retry_after`
/// (seconds) marks a 429, which loses every rate header when `rate_headers_on_429` is off.
fn respond(
    reply: Reply,
    rate: Option<RateState>,
    retry_after: Option<u64>,
    cfg: &SandboxConfig,
) -> Response<Body> {
    let mut response = reply.into_response();
    if retry_after.is_some() && !cfg.rate_headers_on_429 {
        return response;
    }
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: u64| {
        headers.insert(name, HeaderValue::from(value));
    };
    if let Some(rate) = rate {
        set("x-rate-limit-requests-left", u64::from(rate.left));
        set("x-rate-limit-requests-quota", u64::from(rate.quota));
        set("x-rate-limit-time-reset-ms", rate.reset_ms);
        set("x-rate-limit-time-window-ms", rate.window_ms);
    }
    if let Some(seconds) = retry_after {
        set("x-retry-after", seconds);
    }
    response
}
