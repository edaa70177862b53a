//! The sandbox store: a local fake of the BigCommerce Customers V2 and V3 APIs, on one store,
//! for tests, the `demo` command, benchmarks and users rehearsing a migration.
//!
//! It is written from the API documents (`reference/bigcommerce-api.md`, the V2 OpenAPI files),
//! not from the client's code, so a misunderstanding in one cannot be mirrored in the other.
//!
//! Layout: `store` holds the data and renders it as the API's JSON; `handlers` validates
//! requests and applies them to the store; `server` is the HTTP front (accept loop, counting,
//! auth, quota, latency and fault injection, dropped connections); `seed` makes the
//! deterministic seeded customers; `countries` derives `country_iso2`; `v3` serves the V3
//! routes on the same store.

mod countries;
mod handlers;
mod seed;
mod server;
mod store;
#[cfg(test)]
mod tests;
mod v3;
#[cfg(test)]
mod v3_tests;

pub use v3::{
    V3BatchCommit, V3IdInOrder, V3Options, V3ReadOnly, V3StoreCredit, V3UnfilteredDelete,
};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;

use server::Shared;

/// How the sandbox behaves: store identity, seeded data, quota, latency and injected faults.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// The `{store_hash}` in `/stores/{store_hash}/v2/...`; any other hash gets 404.
    pub store_hash: String,
    /// The only `X-Auth-Token` accepted; requests without it get 401.
    pub token: String,
    /// Number of customers seeded at start (ids 1..=seed).
    pub seed: usize,
    /// Requests allowed per window; `None` = unlimited and no rate headers.
    pub quota: Option<u32>,
    /// Length of a quota window in ms; windows are aligned to server start.
    pub window_ms: u64,
    /// Delay added to every API response (after auth and quota), without blocking other requests.
    pub latency_ms: u64,
    /// Probability that a request gets an injected 500/502/503 before anything is done.
    pub fail_rate: f64,
    /// Probability that the connection is closed without a response before anything is done.
    pub drop_rate: f64,
    /// Probability that a committed write (POST/PUT/DELETE) loses its response: the connection
    /// is closed after the change was made.
    pub lost_response_rate: f64,
    /// `false` sends 429s without any rate headers, as the platform does when overloaded.
    pub rate_headers_on_429: bool,
    /// `false` = a plan without customer groups: `/customer_groups` answers 403.
    pub groups_enabled: bool,
    /// Seed of the fault-injection draws and of the seeded data.
    pub rng_seed: u64,
    /// `true`: the `min_id`/`max_id` filters of `GET /customers` and `/customers/count` exclude
    /// the id they name (`>`/`<`); `false` (default): they include it. BigCommerce documents
    /// neither (reference/bigcommerce-api.md §9), so the export is tested under both.
    pub exclusive_id_bounds: bool,
    /// The status of "email already in use" (undocumented): 409 (default), 400 or 422.
    pub duplicate_email_status: u16,
    /// Answer `POST /customer_groups` with the documented `207 {status, message}` after
    /// creating the group ("created, but the sitewide discount update failed").
    pub group_create_207: bool,
    /// The V3 routes' limits and the switches for what BigCommerce's documents leave open.
    pub v3: V3Options,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            store_hash: "sandbox".to_string(),
            token: "sandbox-token".to_string(),
            seed: 0,
            quota: None,
            window_ms: 30_000,
            latency_ms: 0,
            fail_rate: 0.0,
            drop_rate: 0.0,
            lost_response_rate: 0.0,
            rate_headers_on_429: true,
            groups_enabled: true,
            rng_seed: 0,
            exclusive_id_bounds: false,
            duplicate_email_status: 409,
            group_create_207: false,
            v3: V3Options::default(),
        }
    }
}

/// What the sandbox has seen since start (or the last [`Sandbox::reset_counters`]).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Counters {
    /// Every HTTP request received, including 401s, 429s and injected faults.
    pub total: u64,
    /// Requests per `"METHOD /route-template"`, e.g. `"PUT /customers/{id}"`; V3 routes are
    /// prefixed, e.g. `"PUT /v3/customers"`.
    pub by_route: BTreeMap<String, u64>,
    /// POST/PUT/DELETE requests, any route, any outcome.
    pub writes: u64,
    /// Writes that changed the store.
    pub writes_committed: u64,
    /// 429s sent (quota or the validate concurrency limit).
    pub rate_limited: u64,
    /// Injected 5xx responses.
    pub injected_5xx: u64,
    /// Connections dropped before the request was processed.
    pub dropped: u64,
    /// Writes committed whose connection was then dropped without a response.
    pub lost_responses: u64,
    /// `DELETE /customers` (delete every customer) requests received.
    pub collection_deletes: u64,
    /// 401s sent.
    pub unauthorized: u64,
    /// `DELETE /v3/customers` requests without an `id:in` filter (refused or ignored, never
    /// applied): the tool must never send one.
    pub v3_unfiltered_deletes: u64,
    /// The most `PUT /v3/customers` requests seen in flight at once, counting the one refused
    /// with 429: above 3 means a client broke the limit.
    pub v3_max_concurrent_puts: u64,
    /// 429s sent because a V3 route's concurrency limit was exceeded (also in `rate_limited`).
    pub v3_concurrency_rejected: u64,
    /// The most requests (any route) seen in flight at once, from arrival to answer: above
    /// `--concurrency` (plus the group names read beside the first page) means a client sent
    /// more at once than it was told to.
    pub max_in_flight: u64,
}

/// A running sandbox. Dropping it shuts the server down.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    /// Dropping (or sending on) it stops the accept loop and every open connection.
    stop: Option<watch::Sender<bool>>,
    /// The runtime of [`Sandbox::spawn`], whose worker threads serve the requests; `None` for
    /// [`Sandbox::start`], which serves on the caller's runtime.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Sandbox {
    /// Start on 127.0.0.1:port (0 = any free port) on the current tokio runtime.
    pub async fn start(cfg: SandboxConfig, port: u16) -> anyhow::Result<Sandbox> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("binding the sandbox to 127.0.0.1:{port}"))?;
        Sandbox::launch(cfg, listener, None)
    }

    /// Start on its own multi-thread tokio runtime (2 worker threads) on any free port, for
    /// synchronous tests that run the CLI binary as a subprocess.
    pub fn spawn(cfg: SandboxConfig) -> anyhow::Result<Sandbox> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bc-sandbox")
            .enable_all()
            .build()
            .context("starting the sandbox runtime")?;
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .context("binding the sandbox to 127.0.0.1")?;
        listener.set_nonblocking(true)?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener)?
        };
        Sandbox::launch(cfg, listener, Some(runtime))
    }

    fn launch(
        cfg: SandboxConfig,
        listener: TcpListener,
        runtime: Option<tokio::runtime::Runtime>,
    ) -> anyhow::Result<Sandbox> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(cfg, addr));
        let (stop, stopped) = watch::channel(false);
        let serving = server::serve(listener, shared.clone(), stopped);
        match &runtime {
            Some(runtime) => drop(runtime.spawn(serving)),
            None => drop(tokio::spawn(serving)),
        }
        Ok(Sandbox {
            shared,
            addr,
            stop: Some(stop),
            runtime,
        })
    }

    /// The listening address (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A client of this store for the library's own tests: `concurrency` requests at once,
    /// `max_retries` repeats.
    #[cfg(test)]
    pub(crate) fn client(&self, concurrency: usize, max_retries: u32) -> crate::api::Client {
        use crate::api::client::{Connection, Secret};
        crate::api::Client::new(&Connection {
            api_url: url::Url::parse(&self.base_url()).expect("the sandbox's own URL"),
            store_hash: self.store_hash().to_string(),
            token: Secret::new(self.token().to_string()),
            concurrency,
            timeout: std::time::Duration::from_secs(30),
            max_retries,
        })
        .expect("a client of the sandbox")
    }

    /// `http://127.0.0.1:PORT`; the client appends `/stores/{hash}/v2/...`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn store_hash(&self) -> &str {
        &self.shared.cfg.store_hash
    }

    pub fn token(&self) -> &str {
        &self.shared.cfg.token
    }

    /// A snapshot of the request counters.
    pub fn counters(&self) -> Counters {
        self.shared.counters_snapshot()
    }

    pub fn reset_counters(&self) {
        self.shared.reset_counters();
    }

    /// Every customer, ascending id, as `GET /customers/{id}` renders it.
    pub fn customers(&self) -> Vec<serde_json::Value> {
        self.shared.read_store().customers_json(&self.shared.links)
    }

    /// The addresses of one customer, ascending id (empty when the customer does not exist).
    pub fn addresses(&self, customer_id: u64) -> Vec<serde_json::Value> {
        self.shared.read_store().addresses_json(customer_id)
    }

    /// Every customer group, ascending id.
    pub fn groups(&self) -> Vec<serde_json::Value> {
        self.shared.read_store().groups_json()
    }

    /// The customer's current password (generated ones included); `None` if no such customer.
    pub fn password_of(&self, customer_id: u64) -> Option<String> {
        self.shared.read_store().password_of(customer_id)
    }

    /// Add a customer directly, bypassing quota, faults, counters and most validation.
    /// Takes the customer JSON of the API (plus `_authentication.password` if wanted; `id`,
    /// dates and `form_fields` are honoured) and fills what is missing. Returns the id.
    ///
    /// Panics if the email is already used or the id taken: that is a bug in the test.
    pub fn insert_customer(&self, customer: serde_json::Value) -> u64 {
        let result = self.shared.write_store().insert_raw(&customer);
        match result {
            Ok(id) => id,
            Err(msg) => panic!("Sandbox::insert_customer: {msg}"),
        }
    }

    /// Delete a customer (and its addresses) directly; `false` if it did not exist.
    pub fn delete_customer(&self, id: u64) -> bool {
        self.shared.write_store().delete_customer(id)
    }

    /// Change the fault rates of the running sandbox.
    pub fn set_faults(&self, fail_rate: f64, drop_rate: f64, lost_response_rate: f64) {
        self.shared
            .faults
            .set_rates(fail_rate, drop_rate, lost_response_rate);
    }

    /// Revoke the access token (as a merchant deleting the API account mid-run: every request
    /// from now on gets 401), or accept it again (`false`).
    pub fn set_token_revoked(&self, revoked: bool) {
        self.shared
            .token_revoked
            .store(revoked, std::sync::atomic::Ordering::Relaxed);
    }

    /// Change the latency added to every API response.
    pub fn set_latency_ms(&self, ms: u64) {
        self.shared
            .latency_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stop serving; open connections are closed.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        // shutdown_background, unlike dropping the runtime, is allowed inside async code.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Run until ctrl-c (the `bc-customers sandbox` command): prints the environment settings to
/// use the sandbox as `export K=V` lines on stdout, then a line saying where it listens.
pub async fn run_forever(cfg: SandboxConfig, port: u16) -> anyhow::Result<()> {
    let seeded = cfg.seed;
    let sandbox = Sandbox::start(cfg, port).await?;
    println!("export BIGCOMMERCE_API_URL={}", sandbox.base_url());
    println!(
        "export BIGCOMMERCE_STORE_HASH={}",
        shell_quote(sandbox.store_hash())
    );
    println!(
        "export BIGCOMMERCE_ACCESS_TOKEN={}",
        shell_quote(sandbox.token())
    );
    println!(
        "# sandbox store listening on {} with {seeded} seeded customers; press Ctrl-C to stop",
        sandbox.base_url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    let counters = sandbox.counters();
    eprintln!(
        "sandbox stopped after {} requests ({} writes, {} rate-limited)",
        counters.total, counters.writes, counters.rate_limited
    );
    sandbox.shutdown();
    Ok(())
}

/// Quote a value for a POSIX shell `export` line when it needs it.
fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}
