//! The sandbox's Customers V3 routes (`/stores/{hash}/v3/customers…`), served on the same store
//! as the V2 routes: a customer written through one API is read through the other, and both
//! draw on one quota window (reference/bigcommerce-v3.md §1.7, §16).
//!
//! Written from reference/bigcommerce-v3.md and BigCommerce's `customers.v3.yml`, not from the
//! client. Where those documents leave a behaviour open (§19), [`V3Options`] switches between
//! the plausible answers so tests can prove the tool right under each.
//!
//! Error bodies are V3's single object `{status, title, type, errors}` (§15). Three kinds, as
//! the captured bodies of §14 show:
//! * schema errors (a required field missing, a wrong JSON type) reject the whole request before
//!   anything is looked at, keyed by the bare field name: `{"id": "error.path.missing"}`;
//! * a row that is well-formed but invalid for the store is named by its index, first bad row
//!   only: `{"0.id": "invalid customer ID"}`;
//! * a duplicate email is named by the email only, unindexed:
//!   `{".customer_create": "Error creating customers: email X already in use"}`.
//!
//! Layout: this file holds the switches, routes, concurrency limits, error bodies and the
//! dispatch; `query` parses query strings and `include`; `list` serves `GET`/`DELETE
//! /v3/customers`; `customers` the customer writes; `addresses` the address routes and their
//! de-duplication; `credentials` validate-credentials; `body` the JSON body checks shared by
//! the writes; `render` the typed JSON of customers, addresses, pagination and cursors.

mod addresses;
mod body;
mod credentials;
mod customers;
mod list;
mod query;
mod render;
#[cfg(test)]
mod render_tests;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::handlers::{ApiRequest, Reply};
use super::server::Shared;
use addresses::{delete_addresses, list_addresses, write_addresses};
use credentials::validate_credentials;
use customers::write_customers;
use list::{delete_customers, list_customers};
use query::Query;

/// Rows per `POST`/`PUT /v3/customers`; more is 413 (§1.2, §14).
const MAX_BATCH: usize = 10;
/// No maximum is documented for V3 (§4); clients use 250 and V2 answers 413 above it.
const MAX_LIMIT: usize = 250;
const DEFAULT_LIMIT: usize = 50;
/// Addresses nested in one created customer (`maxItems: 10`, §5).
const MAX_NESTED_ADDRESSES: usize = 10;
/// Concurrency limits of §16 (SPEC3): more in flight at once get 429.
const PUT_CUSTOMERS_CONCURRENCY: usize = 3;
const POST_ADDRESSES_CONCURRENCY: usize = 10;
const PUT_ADDRESSES_CONCURRENCY: usize = 3;
const ERROR_TYPE: &str =
    "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes";
const SCHEMA_TITLE: &str = "JSON data is missing or invalid";

// ---- switches ----

/// The V3 limits and the answers to §19's open questions the sandbox plays.
#[derive(Clone, Debug)]
pub struct V3Options {
    /// What a rejected (422) customer or address batch leaves behind (§14, §19.1).
    pub batch_commit: V3BatchCommit,
    /// The order of `GET /v3/customers?id:in=…` results (§19.4: default order undocumented).
    pub id_in_order: V3IdInOrder,
    /// What `DELETE /v3/customers` without `id:in` answers (§7).
    pub unfiltered_delete: V3UnfilteredDelete,
    /// Whether `store_credit_amounts` on PUT sets or adds to the balance (§6, §19.6).
    pub store_credit_on_put: V3StoreCredit,
    /// Items per `POST`/`PUT /v3/customers/addresses`; 413 above. Undocumented (§8, §19.10);
    /// 10 is what clients use.
    pub address_batch_limit: usize,
    /// Concurrent `POST /v3/customers` allowed; `None` = no limit, as documented today (§16:
    /// "10 concurrent" until 2023-09).
    pub post_concurrency: Option<usize>,
    /// Addresses embedded per customer by `include=addresses`; `None` = all. SPEC3 says
    /// "Limited to 10" but whether it truncates is unverified (§4, §19.4).
    pub include_addresses_limit: Option<usize>,
    /// Refuse (422) a date filter whose value is percent-encoded: the docs say such a value
    /// "won't work" (§4), so a client must send `:` and `+` raw there.
    pub refuse_encoded_dates: bool,
    /// What read-only fields in a write do (§5, §6, §19.8: ignored or an error, unverified).
    pub read_only_fields: V3ReadOnly,
    /// `date_*:min`/`:max` exclude the bound itself ("after"/"before this date", §4);
    /// `false` (the default) includes it.
    pub exclusive_date_bounds: bool,
}

impl Default for V3Options {
    fn default() -> Self {
        V3Options {
            batch_commit: V3BatchCommit::Nothing,
            id_in_order: V3IdInOrder::Ascending,
            unfiltered_delete: V3UnfilteredDelete::NoOp204,
            store_credit_on_put: V3StoreCredit::Set,
            address_batch_limit: 10,
            post_concurrency: None,
            include_addresses_limit: Some(10),
            refuse_encoded_dates: true,
            read_only_fields: V3ReadOnly::Ignored,
            exclusive_date_bounds: false,
        }
    }
}

/// The rows of a 422 batch that are nevertheless written (the answer is 422 in every case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum V3BatchCommit {
    /// All-or-nothing: the title "Create customers failed." and the absent `data` suggest
    /// validation before any write (§14). The default.
    Nothing,
    /// Rows before the first bad one are written: a store that writes row by row and stops.
    RowsBefore,
    /// Every valid row is written; only the first bad one is named.
    AllValid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum V3IdInOrder {
    /// Ascending id, whatever order `id:in` lists them in. The default.
    Ascending,
    /// The order of the `id:in` list.
    Requested,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum V3UnfilteredDelete {
    /// SPEC3: "A query is required to delete customers. If not provided, a 204 is returned,
    /// with no changes to the data." The default.
    #[value(name = "no-op")]
    NoOp204,
    /// A 422 naming the missing query, for stores that refuse it loudly.
    #[value(name = "refuse")]
    Refuse422,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum V3ReadOnly {
    /// Dropped without a word, as docs PR #315's draft says of `origin_channel_id`. The default.
    Ignored,
    /// The row is rejected, `{"0.date_created": "field is read-only"}`, as Zynk's docs say
    /// ("will result in an error if you try to provide them").
    Rejected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum V3StoreCredit {
    /// The balance becomes the sum of the amounts sent, like V2's `store_credit`. The default.
    Set,
    /// The amounts sent are added to the balance.
    Add,
}

// ---- routes ----

/// A matched route of `/stores/{hash}/v3/...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Customers,
    Addresses,
    ValidateCredentials,
}

impl Route {
    /// `rest` is the path after `/v3/`.
    pub fn parse(rest: &str) -> Option<Route> {
        match rest.strip_suffix('/').unwrap_or(rest) {
            "customers" => Some(Route::Customers),
            "customers/addresses" => Some(Route::Addresses),
            "customers/validate-credentials" => Some(Route::ValidateCredentials),
            _ => None,
        }
    }

    pub fn template(&self) -> &'static str {
        match self {
            Route::Customers => "/v3/customers",
            Route::Addresses => "/v3/customers/addresses",
            Route::ValidateCredentials => "/v3/customers/validate-credentials",
        }
    }
}

// ---- concurrency limits ----

/// In-flight requests of the V3 routes that have a concurrency limit.
#[derive(Default)]
pub(crate) struct V3State {
    in_flight: [AtomicUsize; 4],
}

const PUT_CUSTOMERS: usize = 0;
const POST_CUSTOMERS: usize = 1;
const POST_ADDRESSES: usize = 2;
const PUT_ADDRESSES: usize = 3;

/// One in-flight request of a limited route, released when its answer has left.
pub(crate) struct ConcurrencySlot {
    shared: Arc<Shared>,
    kind: usize,
}

impl ConcurrencySlot {
    /// `Ok(None)` for routes without a limit; `Err` is the 429 to send.
    pub fn take(
        shared: &Arc<Shared>,
        method: &Method,
        route: Route,
    ) -> Result<Option<ConcurrencySlot>, Reply> {
        let (kind, limit) = match (method, route) {
            (&Method::PUT, Route::Customers) => (PUT_CUSTOMERS, PUT_CUSTOMERS_CONCURRENCY),
            (&Method::POST, Route::Customers) => match shared.cfg.v3.post_concurrency {
                Some(limit) => (POST_CUSTOMERS, limit),
                None => return Ok(None),
            },
            (&Method::POST, Route::Addresses) => (POST_ADDRESSES, POST_ADDRESSES_CONCURRENCY),
            (&Method::PUT, Route::Addresses) => (PUT_ADDRESSES, PUT_ADDRESSES_CONCURRENCY),
            _ => return Ok(None),
        };
        let counter = &shared.v3.in_flight[kind];
        let now = counter.fetch_add(1, Ordering::SeqCst) + 1;
        if kind == PUT_CUSTOMERS {
            // Counted before refusing, so a tool that sends a 4th PUT shows up as 4.
            shared.count(|c| c.v3_max_concurrent_puts = c.v3_max_concurrent_puts.max(now as u64));
        }
        if now > limit {
            counter.fetch_sub(1, Ordering::SeqCst);
            shared.count(|c| c.v3_concurrency_rejected += 1);
            // §16: excess concurrent requests "will fail with 429"; the body is that of §11.
            return Err(error(StatusCode::TOO_MANY_REQUESTS, "Too many requests"));
        }
        Ok(Some(ConcurrencySlot {
            shared: Arc::clone(shared),
            kind,
        }))
    }
}

impl Drop for ConcurrencySlot {
    fn drop(&mut self) {
        self.shared.v3.in_flight[self.kind].fetch_sub(1, Ordering::SeqCst);
    }
}

// ---- error bodies ----

/// V3's error object with an empty `errors` map.
pub(crate) fn error(status: StatusCode, title: &str) -> Reply {
    error_with(status, title, Map::new())
}

fn error_with(status: StatusCode, title: &str, errors: Map<String, Value>) -> Reply {
    Reply::json(
        status,
        &json!({"status": status.as_u16(), "title": title, "type": ERROR_TYPE, "errors": errors}),
    )
}

fn one_error(title: &str, key: &str, message: &str) -> Reply {
    let mut errors = Map::new();
    errors.insert(key.to_string(), Value::String(message.to_string()));
    error_with(StatusCode::UNPROCESSABLE_ENTITY, title, errors)
}

/// A schema error: the whole request is rejected, keyed by the bare field path (§14).
#[derive(Debug)]
struct Schema {
    path: String,
    code: &'static str,
}

impl Schema {
    fn new(path: impl Into<String>, code: &'static str) -> Schema {
        Schema {
            path: path.into(),
            code,
        }
    }

    fn reply(self) -> Reply {
        one_error(SCHEMA_TITLE, &self.path, self.code)
    }
}

fn too_large(limit: usize) -> Reply {
    // §5: the 413 text of SPEC3; its body shape is undocumented, so V3's error object.
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("The request payload is too large. The maximum number of items allowed in the array is {limit}."),
    )
}

fn invalid_filters(names: &[&str]) -> Reply {
    // The captured body of §4: the names in the title, `errors` empty.
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        &format!(
            "The filter(s): {} are not valid filter parameter(s).",
            names.join(", ")
        ),
    )
}

type Handled = Result<Reply, Reply>;

// ---- dispatch ----

/// Route one authorised V3 request that got past quota, concurrency and fault injection.
pub(crate) fn dispatch(shared: &Shared, route: Route, req: &ApiRequest<'_>) -> Reply {
    let query = Query::parse(req.query, &shared.cfg.v3);
    let result = match (req.method, route) {
        (&Method::GET, Route::Customers) => list_customers(shared, &query),
        (&Method::POST, Route::Customers) => write_customers(shared, req.body, Op::Create),
        (&Method::PUT, Route::Customers) => write_customers(shared, req.body, Op::Update),
        (&Method::DELETE, Route::Customers) => delete_customers(shared, &query),
        (&Method::GET, Route::Addresses) => list_addresses(shared, &query),
        (&Method::POST, Route::Addresses) => write_addresses(shared, req.body, Op::Create),
        (&Method::PUT, Route::Addresses) => write_addresses(shared, req.body, Op::Update),
        (&Method::DELETE, Route::Addresses) => delete_addresses(shared, &query),
        (&Method::POST, Route::ValidateCredentials) => validate_credentials(shared, req.body),
        _ => Err(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "The requested method is not supported by this resource.",
        )),
    };
    result.unwrap_or_else(|reply| reply)
}

/// Whether a write creates (POST) or updates (PUT).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Update,
}
