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

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::countries;
use super::handlers::{self, ApiRequest, Reply};
use super::server::{now_secs, Shared};
use super::store::{Address, AddressPatch, AddressType, Customer, CustomerPatch, Store};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V3BatchCommit {
    /// All-or-nothing: the title "Create customers failed." and the absent `data` suggest
    /// validation before any write (§14). The default.
    Nothing,
    /// Rows before the first bad one are written: a store that writes row by row and stops.
    RowsBefore,
    /// Every valid row is written; only the first bad one is named.
    AllValid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V3IdInOrder {
    /// Ascending id, whatever order `id:in` lists them in. The default.
    Ascending,
    /// The order of the `id:in` list.
    Requested,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V3UnfilteredDelete {
    /// SPEC3: "A query is required to delete customers. If not provided, a 204 is returned,
    /// with no changes to the data." The default.
    NoOp204,
    /// A 422 naming the missing query, for stores that refuse it loudly.
    Refuse422,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V3ReadOnly {
    /// Dropped without a word, as docs PR #315's draft says of `origin_channel_id`. The default.
    Ignored,
    /// The row is rejected, `{"0.date_created": "field is read-only"}`, as Zynk's docs say
    /// ("will result in an error if you try to provide them").
    Rejected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

// ---- query strings ----

/// Decoded query parameters. `+` decodes to a space, as form decoding does: an email with a
/// `+` must be sent as `%2B` (§4).
struct Query {
    pairs: Vec<(String, String)>,
    /// Keys whose value arrived percent-encoded.
    encoded: HashSet<String>,
    refuse_encoded_dates: bool,
    exclusive_date_bounds: bool,
}

impl Query {
    fn parse(raw: &str, options: &V3Options) -> Query {
        let mut encoded = HashSet::new();
        for part in raw.split('&') {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            if value.contains('%') {
                let key = url::form_urlencoded::parse(key.as_bytes())
                    .next()
                    .map(|(k, _)| k.into_owned())
                    .unwrap_or_default();
                encoded.insert(key);
            }
        }
        Query {
            pairs: url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
            encoded,
            refuse_encoded_dates: options.refuse_encoded_dates,
            exclusive_date_bounds: options.exclusive_date_bounds,
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// 422 naming every parameter not in `known`.
    fn only(&self, known: &[&str]) -> Result<(), Reply> {
        let unknown: Vec<&str> = self
            .pairs
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !known.contains(k))
            .collect();
        match unknown.is_empty() {
            true => Ok(()),
            false => Err(invalid_filters(&unknown)),
        }
    }

    /// A comma list (`explode: false`, §4); `None` when absent.
    fn list(&self, key: &str) -> Option<Vec<String>> {
        self.get(key).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
    }

    fn ids(&self, key: &str) -> Result<Option<Vec<u64>>, Reply> {
        match self.list(key) {
            None => Ok(None),
            Some(items) => items
                .iter()
                .map(|s| s.parse::<u64>())
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
                .map_err(|_| invalid_filters(&[key])),
        }
    }

    fn date(&self, key: &str) -> Result<Option<i64>, Reply> {
        match self.get(key) {
            None => Ok(None),
            // "2024-10-19T20%3A00%3A00-0400 won't work, one must use 2024-10-19T20:00:00-0400"
            // (§4, bigcommerce/docs issue #620); the parameter *name* may be encoded.
            Some(_) if self.refuse_encoded_dates && self.encoded.contains(key) => {
                Err(invalid_filters(&[key]))
            }
            Some(v) => {
                // Unix seconds too: other V3 date filters take them (§4).
                let parsed = v.parse::<i64>().ok().or_else(|| handlers::parse_date(v));
                parsed.map(Some).ok_or_else(|| invalid_filters(&[key]))
            }
        }
    }

    /// `(page, limit)`: limit 1..=250, 413 above like V2 (§4: V3's maximum is unverified).
    fn paging(&self) -> Result<(usize, usize), Reply> {
        let number = |key: &str, default: usize| match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| invalid_filters(&[key])),
        };
        let page = number("page", 1)?;
        let limit = number("limit", DEFAULT_LIMIT)?;
        if limit > MAX_LIMIT {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("The limit parameter exceeded the maximum of {MAX_LIMIT}."),
            ));
        }
        Ok((page, limit))
    }
}

/// What `include=` asks to embed.
#[derive(Clone, Copy, Default)]
struct Includes {
    addresses: bool,
    storecredit: bool,
    formfields: bool,
    attributes: bool,
}

impl Includes {
    fn parse(q: &Query) -> Result<Includes, Reply> {
        let mut inc = Includes::default();
        for item in q.list("include").unwrap_or_default() {
            match item.as_str() {
                "addresses" => inc.addresses = true,
                "storecredit" => inc.storecredit = true,
                "formfields" => inc.formfields = true,
                "attributes" => inc.attributes = true,
                // Beta includes (§4) with nothing behind them in the sandbox.
                "shopper_profile_id" | "segment_ids" => {}
                _ => {
                    return Err(error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &format!("The include value {item} is not valid."),
                    ))
                }
            }
        }
        Ok(inc)
    }

    /// What a write's answer embeds: a create's answer carries `store_credit_amounts`
    /// without an include (§13, JH `bulk_create/201.json`), and the addresses just written.
    fn of_writes() -> Includes {
        Includes {
            addresses: true,
            storecredit: true,
            formfields: true,
            attributes: false,
        }
    }
}

// ---- rendering ----

/// ISO-8601 UTC, as V3 shows dates: `2023-01-30T00:49:10Z` (§13).
fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Ten-thousandths as a JSON number: whole amounts as integers (`{"amount":0}`, §5).
fn amount(credit: i64) -> Value {
    if credit % 10_000 == 0 {
        json!(credit / 10_000)
    } else {
        json!(credit as f64 / 10_000.0)
    }
}

fn customer_json(
    store: &Store,
    c: &Customer,
    inc: Includes,
    address_limit: Option<usize>,
) -> Value {
    let extras = store.v3_customers.get(&c.id).cloned().unwrap_or_default();
    let addresses = store.addresses_of(c.id);
    let mut v = json!({
        "id": c.id,
        "email": c.email,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "company": c.company,
        "phone": c.phone,
        "registration_ip_address": c.registration_ip_address,
        "notes": c.notes,
        "tax_exempt_category": c.tax_exempt_category,
        "customer_group_id": c.customer_group_id,
        "date_created": iso(c.date_created),
        "date_modified": iso(c.date_modified),
        "address_count": addresses.len(),
        "attribute_count": 0,
        "authentication": {"force_password_reset": c.reset_pass_on_login},
        "accepts_product_review_abandoned_cart_emails": c.accepts_marketing,
        "origin_channel_id": extras.origin_channel_id.unwrap_or(1),
        "channel_ids": extras.channel_ids,
    });
    if inc.addresses {
        let shown = address_limit.unwrap_or(usize::MAX);
        v["addresses"] = addresses
            .iter()
            .take(shown)
            .map(|a| address_json(store, a, inc.formfields))
            .collect();
    }
    if inc.storecredit {
        v["store_credit_amounts"] = json!([{"amount": amount(c.store_credit)}]);
    }
    if inc.formfields {
        v["form_fields"] = store
            .form_fields_of(c)
            .into_iter()
            .map(|(name, value)| json!({"name": name, "value": value, "customer_id": c.id}))
            .collect();
    }
    if inc.attributes {
        // The sandbox defines no customer attributes (§9).
        v["attributes"] = json!([]);
    }
    v
}

fn address_json(store: &Store, a: &Address, formfields: bool) -> Value {
    let mut v = json!({
        "id": a.id,
        "customer_id": a.customer_id,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "company": a.company,
        "address1": a.street_1,
        "address2": a.street_2,
        "city": a.city,
        "state_or_province": a.state,
        "postal_code": a.zip,
        "country_code": a.country_iso2,
        "country": a.country,
        "phone": a.phone,
        "address_type": a.address_type,
    });
    if formfields {
        v["form_fields"] = store
            .v3_address_form_fields
            .get(&a.id)
            .map(|list| {
                list.iter()
                    .map(|(name, value)| json!({"name": name, "value": value, "address_id": a.id}))
                    .collect()
            })
            .unwrap_or_else(|| json!([]));
    }
    v
}

/// `{data, meta: {pagination}}` for page-based paging (§4).
fn pagination(total: usize, count: usize, page: usize, limit: usize, q: &Query) -> Value {
    let total_pages = total.div_ceil(limit);
    // Links repeat the request's other parameters, as `?page=N&limit=L&…`.
    let link = |page: usize| {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        out.append_pair("page", &page.to_string());
        out.append_pair("limit", &limit.to_string());
        for (k, v) in &q.pairs {
            if k != "page" && k != "limit" {
                out.append_pair(k, v);
            }
        }
        format!("?{}", out.finish())
    };
    let mut links = Map::new();
    if page > 1 {
        links.insert("previous".into(), link(page - 1).into());
    }
    links.insert("current".into(), link(page).into());
    if page < total_pages {
        links.insert("next".into(), link(page + 1).into());
    }
    json!({
        "total": total,
        "count": count,
        "per_page": limit,
        "current_page": page,
        "total_pages": total_pages,
        "links": links,
    })
}

// ---- cursors ----

/// `{"id":N}` in unpadded base64, the shape of SPEC3's cursor examples (§4:
/// `eyJpZCI6MjA0fQ` = `{"id":204}`).
fn encode_cursor(id: u64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{{\"id\":{id}}}"))
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    use base64::Engine as _;
    // Both alphabets, padded or not: a client may send the URL-safe form.
    let standard: String = cursor
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(standard)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("id")?.as_u64()
}

// ---- GET /v3/customers ----

/// The `GET /v3/customers` filters of §4 the sandbox serves.
#[derive(Default)]
struct CustomerFilter {
    ids: Option<Vec<u64>>,
    emails: Option<Vec<String>>,
    names: Option<Vec<String>>,
    name_like: Option<Vec<String>>,
    companies: Option<Vec<String>>,
    phones: Option<Vec<String>>,
    groups: Option<Vec<u64>>,
    ips: Option<Vec<String>>,
    created: DateRange,
    modified: DateRange,
}

#[derive(Default)]
struct DateRange {
    /// An exact date: a `YYYY-MM-DD` value covers its whole day.
    exact: Option<(i64, i64)>,
    min: Option<i64>,
    max: Option<i64>,
    exclusive: bool,
}

impl DateRange {
    fn parse(q: &Query, key: &str) -> Result<DateRange, Reply> {
        let exact = match q.get(key) {
            None => None,
            Some(v) => {
                let start = q.date(key)?.expect("present");
                let whole_day = v.trim().len() == 10 && v.contains('-');
                Some((start, if whole_day { start + 86_399 } else { start }))
            }
        };
        Ok(DateRange {
            exact,
            // `:min` = "after this date", `:max` = "before this date"; whether the bounds
            // are inclusive is unverified (§4), hence the switch.
            min: q.date(&format!("{key}:min"))?,
            max: q.date(&format!("{key}:max"))?,
            exclusive: q.exclusive_date_bounds,
        })
    }

    fn contains(&self, t: i64) -> bool {
        self.exact.is_none_or(|(a, b)| (a..=b).contains(&t))
            && self
                .min
                .is_none_or(|m| if self.exclusive { t > m } else { t >= m })
            && self
                .max
                .is_none_or(|m| if self.exclusive { t < m } else { t <= m })
    }
}

fn lower(list: Option<Vec<String>>) -> Option<Vec<String>> {
    list.map(|l| l.into_iter().map(|s| s.to_lowercase()).collect())
}

impl CustomerFilter {
    fn parse(q: &Query) -> Result<CustomerFilter, Reply> {
        Ok(CustomerFilter {
            ids: q.ids("id:in")?,
            // Email matching ignores case, as the store's uniqueness does (§19.5 unverified).
            emails: lower(q.list("email:in")),
            names: lower(q.list("name:in")),
            name_like: lower(q.list("name:like")),
            companies: lower(q.list("company:in")),
            phones: q.list("phone:in"),
            groups: q.ids("customer_group_id:in")?,
            ips: q.list("registration_ip_address:in"),
            created: DateRange::parse(q, "date_created")?,
            modified: DateRange::parse(q, "date_modified")?,
        })
    }

    fn matches(&self, c: &Customer) -> bool {
        let full_name = || format!("{} {}", c.first_name, c.last_name).to_lowercase();
        let any = |list: &Option<Vec<String>>, f: &dyn Fn(&str) -> bool| {
            list.as_ref().is_none_or(|l| l.iter().any(|s| f(s)))
        };
        self.ids.as_ref().is_none_or(|ids| ids.contains(&c.id))
            && any(&self.emails, &|e| e == c.email.to_lowercase())
            && any(&self.names, &|n| n == full_name())
            && any(&self.name_like, &|n| full_name().contains(n))
            && any(&self.companies, &|n| n == c.company.to_lowercase())
            && any(&self.phones, &|p| p == c.phone)
            && any(&self.ips, &|p| p == c.registration_ip_address)
            && self
                .groups
                .as_ref()
                .is_none_or(|g| g.contains(&c.customer_group_id))
            && self.created.contains(c.date_created)
            && self.modified.contains(c.date_modified)
    }

    fn is_empty(&self) -> bool {
        self.ids.is_none()
            && self.emails.is_none()
            && self.names.is_none()
            && self.name_like.is_none()
            && self.companies.is_none()
            && self.phones.is_none()
            && self.groups.is_none()
            && self.ips.is_none()
            && self.created.exact.is_none()
            && self.created.min.is_none()
            && self.created.max.is_none()
            && self.modified.exact.is_none()
            && self.modified.min.is_none()
            && self.modified.max.is_none()
    }

    /// The customers an index can narrow the scan to (`id:in`, `email:in`), in the order
    /// asked for, without duplicates; `None` = scan everyone.
    fn candidates<'s>(&self, store: &'s Store) -> Option<Vec<&'s Customer>> {
        let ids: Vec<u64> = if let Some(ids) = &self.ids {
            ids.clone()
        } else {
            let emails = self.emails.as_ref()?;
            emails
                .iter()
                .filter_map(|e| store.customer_by_email(e))
                .collect()
        };
        let mut seen = HashSet::new();
        Some(
            ids.into_iter()
                .filter(|id| seen.insert(*id))
                .filter_map(|id| store.customer(id))
                .collect(),
        )
    }
}

const CUSTOMER_LIST_PARAMS: &[&str] = &[
    "page",
    "limit",
    "sort",
    "include",
    "after",
    "before",
    "id:in",
    "email:in",
    "name:in",
    "name:like",
    "company:in",
    "phone:in",
    "customer_group_id:in",
    "registration_ip_address:in",
    "date_created",
    "date_created:min",
    "date_created:max",
    "date_modified",
    "date_modified:min",
    "date_modified:max",
];

#[derive(Clone, Copy)]
enum Sort {
    DateCreated,
    DateModified,
    LastName,
}

fn list_customers(shared: &Shared, q: &Query) -> Handled {
    q.only(CUSTOMER_LIST_PARAMS)?;
    let filter = CustomerFilter::parse(q)?;
    let inc = Includes::parse(q)?;
    let (page, limit) = q.paging()?;
    let sort = match q.get("sort") {
        None => None,
        Some(s) => {
            // The SPEC3 enum (§4); there is no `id` sort.
            let (field, dir) = s.split_once(':').unwrap_or((s, "asc"));
            let field = match field {
                "date_created" => Sort::DateCreated,
                "date_modified" => Sort::DateModified,
                "last_name" => Sort::LastName,
                _ => return Err(invalid_filters(&["sort"])),
            };
            match dir {
                "asc" => Some((field, false)),
                "desc" => Some((field, true)),
                _ => return Err(invalid_filters(&["sort"])),
            }
        }
    };
    let cursor = |key: &str| match q.get(key) {
        None => Ok(None),
        Some(c) => decode_cursor(c)
            .map(Some)
            .ok_or_else(|| invalid_filters(&[key])),
    };
    let (after, before) = (cursor("after")?, cursor("before")?);
    let limit_shown = shared.cfg.v3.include_addresses_limit;
    let store = shared.read_store();
    let render = |list: &[&Customer]| -> Vec<Value> {
        list.iter()
            .map(|c| customer_json(&store, c, inc, limit_shown))
            .collect()
    };

    if after.is_some() || before.is_some() {
        // Cursor paging walks by id and ignores `page` (SPEC3) and `sort` (whether they
        // combine is unverified, §17); only `cursor_pagination` comes back.
        let (items, more) = match (after, before) {
            (Some(a), _) => take_matching(store.customers_in(a + 1..), &filter, limit),
            (None, Some(b)) => {
                let (mut items, more) =
                    take_matching(store.customers_in(..b).rev(), &filter, limit);
                items.reverse();
                (items, more)
            }
            (None, None) => unreachable!(),
        };
        let meta = json!({"cursor_pagination": cursor_meta(&items, limit, more, after.is_some())});
        return Ok(Reply::json(
            StatusCode::OK,
            &json!({"data": render(&items), "meta": meta}),
        ));
    }

    let skip = (page - 1).saturating_mul(limit);
    let (total, items): (usize, Vec<&Customer>) = match (filter.candidates(&store), sort) {
        (None, None) if filter.is_empty() => {
            // Unfiltered: the total without a scan, the page from the id order.
            let items = store.all_customers().skip(skip).take(limit).collect();
            (store.customer_total(), items)
        }
        (None, None) => {
            let mut total = 0;
            let mut items = Vec::new();
            for c in store.all_customers().filter(|c| filter.matches(c)) {
                if total >= skip && items.len() < limit {
                    items.push(c);
                }
                total += 1;
            }
            (total, items)
        }
        (candidates, sort) => {
            let mut all: Vec<&Customer> = match candidates {
                Some(list) => list.into_iter().filter(|c| filter.matches(c)).collect(),
                None => store
                    .all_customers()
                    .filter(|c| filter.matches(c))
                    .collect(),
            };
            if filter.ids.is_none() || shared.cfg.v3.id_in_order == V3IdInOrder::Ascending {
                all.sort_by_key(|c| c.id);
            }
            if let Some((field, desc)) = sort {
                // Stable, so ties keep id order.
                all.sort_by(|a, b| {
                    let ord = match field {
                        Sort::DateCreated => a.date_created.cmp(&b.date_created),
                        Sort::DateModified => a.date_modified.cmp(&b.date_modified),
                        Sort::LastName => a.last_name.cmp(&b.last_name),
                    };
                    if desc {
                        ord.reverse()
                    } else {
                        ord
                    }
                });
            }
            let total = all.len();
            (total, all.into_iter().skip(skip).take(limit).collect())
        }
    };
    let mut meta = json!({"pagination": pagination(total, items.len(), page, limit, q)});
    // SPEC3: "Both pagination and cursor_pagination would be returned in the first page.
    // Only pagination would be returned when page is greater than 1."
    if page == 1 {
        meta["cursor_pagination"] = cursor_meta(&items, limit, total > items.len(), true);
    }
    Ok(Reply::json(
        StatusCode::OK,
        &json!({"data": render(&items), "meta": meta}),
    ))
}

/// Up to `limit` matching customers, and whether more follow.
fn take_matching<'s>(
    iter: impl Iterator<Item = &'s Customer>,
    filter: &CustomerFilter,
    limit: usize,
) -> (Vec<&'s Customer>, bool) {
    let mut iter = iter.filter(|c| filter.matches(c));
    let items: Vec<&Customer> = iter.by_ref().take(limit).collect();
    let more = iter.next().is_some();
    (items, more)
}

fn cursor_meta(items: &[&Customer], limit: usize, more: bool, forward: bool) -> Value {
    let start = items.first().map(|c| encode_cursor(c.id));
    let end = items.last().map(|c| encode_cursor(c.id));
    let mut links = Map::new();
    if let (true, Some(end)) = (forward && more, &end) {
        links.insert("next".into(), format!("?limit={limit}&after={end}").into());
    }
    if let (true, Some(start)) = (!forward && more, &start) {
        links.insert(
            "previous".into(),
            format!("?limit={limit}&before={start}").into(),
        );
    }
    json!({
        "count": items.len(),
        "per_page": limit,
        "start_cursor": start,
        "end_cursor": end,
        "links": links,
    })
}

// ---- DELETE /v3/customers ----

fn delete_customers(shared: &Shared, q: &Query) -> Handled {
    q.only(&["id:in"])?;
    let ids = q.ids("id:in")?.unwrap_or_default();
    if ids.is_empty() {
        // Never applied, whatever the answer: V3 cannot wipe the store (§7).
        shared.count(|c| c.v3_unfiltered_deletes += 1);
        return match shared.cfg.v3.unfiltered_delete {
            V3UnfilteredDelete::NoOp204 => Ok(Reply::no_content()),
            V3UnfilteredDelete::Refuse422 => Err(one_error(
                "A query is required to delete customers.",
                "id:in",
                "error.path.missing",
            )),
        };
    }
    let mut store = shared.write_store();
    // Unknown ids are ignored, so a repeated delete answers 204 again (§7, unverified).
    let mut deleted = false;
    for id in ids {
        deleted |= store.delete_customer(id);
    }
    Ok(Reply::no_content().committed(deleted))
}

// ---- JSON body helpers ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Update,
}

/// The body as an array of 1..=`limit` objects; 413 above the limit (checked before the items).
fn batch(body: &[u8], limit: usize) -> Result<Vec<Map<String, Value>>, Reply> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| Schema::new("obj", "error.expected.jsvalue").reply())?;
    let Value::Array(items) = value else {
        return Err(Schema::new("obj", "error.expected.jsarray").reply());
    };
    if items.len() > limit {
        return Err(too_large(limit));
    }
    if items.is_empty() {
        return Err(Schema::new("obj", "error.minLength").reply());
    }
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(map) => Ok(map),
            _ => Err(Schema::new("obj", "error.expected.jsobject").reply()),
        })
        .collect()
}

fn path(prefix: &str, key: &str) -> String {
    match prefix {
        "" => key.to_string(),
        _ => format!("{prefix}.{key}"),
    }
}

/// An optional string of `min..=max` characters; `null` counts as absent.
fn text(
    obj: &Map<String, Value>,
    prefix: &str,
    key: &str,
    min: usize,
    max: usize,
) -> Result<Option<String>, Schema> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n < min {
                Err(Schema::new(path(prefix, key), "error.minLength"))
            } else if n > max {
                Err(Schema::new(path(prefix, key), "error.maxLength"))
            } else {
                Ok(Some(s.clone()))
            }
        }
        Some(_) => Err(Schema::new(path(prefix, key), "error.expected.jsstring")),
    }
}

fn required<T>(value: Option<T>, prefix: &str, key: &str) -> Result<T, Schema> {
    value.ok_or_else(|| Schema::new(path(prefix, key), "error.path.missing"))
}

fn integer(obj: &Map<String, Value>, prefix: &str, key: &str) -> Result<Option<u64>, Schema> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| Schema::new(path(prefix, key), "error.expected.jsnumber")),
    }
}

fn boolean(obj: &Map<String, Value>, prefix: &str, key: &str) -> Result<Option<bool>, Schema> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Schema::new(path(prefix, key), "error.expected.jsboolean")),
    }
}

fn array<'a>(
    obj: &'a Map<String, Value>,
    prefix: &str,
    key: &str,
) -> Result<Option<&'a Vec<Value>>, Schema> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(Schema::new(path(prefix, key), "error.expected.jsarray")),
    }
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Schema> {
    value
        .as_object()
        .ok_or_else(|| Schema::new(path, "error.expected.jsobject"))
}

/// `form_fields: [{name, value}]`, value a string, number or string array (§10).
fn form_fields(
    obj: &Map<String, Value>,
    prefix: &str,
) -> Result<Option<Vec<(String, Value)>>, Schema> {
    let Some(items) = array(obj, prefix, "form_fields")? else {
        return Ok(None);
    };
    let here = path(prefix, "form_fields");
    items
        .iter()
        .map(|item| {
            let field = object(item, &here)?;
            let name = required(text(field, &here, "name", 1, 255)?, &here, "name")?;
            let value = match field.get("value") {
                Some(v @ (Value::String(_) | Value::Number(_))) => v.clone(),
                Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
                    Value::Array(list.clone())
                }
                Some(_) => {
                    return Err(Schema::new(path(&here, "value"), "error.expected.jsstring"))
                }
                None => return Err(Schema::new(path(&here, "value"), "error.path.missing")),
            };
            Ok((name, value))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Replace the values of the names given, keep the others: whether V3 replaces or upserts
/// form fields is unverified (§10); upserting cannot lose data.
fn upsert_fields(list: &mut Vec<(String, Value)>, new: Vec<(String, Value)>) {
    for (name, value) in new {
        match list.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => list.push((name, value)),
        }
    }
}

// ---- addresses: parsed rows ----

/// A well-formed address of a V3 write, in the store's (V2) terms.
struct AddressRow {
    /// `id` on PUT; `customer_id` on POST (nested addresses get theirs when created).
    id: Option<u64>,
    customer_id: Option<u64>,
    patch: AddressPatch,
    /// The ISO-2 code as sent, checked against the store's country list later.
    country_code: Option<String>,
    form_fields: Option<Vec<(String, Value)>>,
}

/// Parse an address object. `required` lists the fields a create must carry.
fn address_row(
    obj: &Map<String, Value>,
    prefix: &str,
    required_fields: &[&str],
) -> Result<AddressRow, Schema> {
    for key in required_fields {
        if obj.get(*key).is_none_or(Value::is_null) {
            return Err(Schema::new(path(prefix, key), "error.path.missing"));
        }
    }
    let address_type = match obj.get("address_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t == "residential" => Some(AddressType::Residential),
        Some(Value::String(t)) if t == "commercial" => Some(AddressType::Commercial),
        Some(_) => return Err(Schema::new(path(prefix, "address_type"), "error.invalid")),
    };
    Ok(AddressRow {
        id: integer(obj, prefix, "id")?,
        customer_id: integer(obj, prefix, "customer_id")?,
        country_code: text(obj, prefix, "country_code", 2, 2)?,
        patch: AddressPatch {
            first_name: text(obj, prefix, "first_name", 1, 255)?,
            last_name: text(obj, prefix, "last_name", 1, 255)?,
            company: text(obj, prefix, "company", 0, 255)?,
            street_1: text(obj, prefix, "address1", 1, 255)?,
            street_2: text(obj, prefix, "address2", 0, 255)?,
            city: text(obj, prefix, "city", 1, 100)?,
            state: text(obj, prefix, "state_or_province", 0, 100)?,
            zip: text(obj, prefix, "postal_code", 0, 30)?,
            country: None,
            phone: text(obj, prefix, "phone", 0, 50)?,
            address_type,
        },
        form_fields: form_fields(obj, prefix)?,
    })
}

/// Resolve `country_code` to the stored country name, and require a state and postal code
/// where the store needs them (the US, Canada and Australia, as the V2 routes do). `Err` is
/// the `(field, message)` to name.
fn check_address(row: &mut AddressRow) -> Result<(), (&'static str, String)> {
    if let Some(code) = &row.country_code {
        match countries::name_of_iso2(code) {
            Some(name) => row.patch.country = Some(name.to_string()),
            None => return Err(("country_code", format!("invalid country code {code}"))),
        }
    }
    let needs_state = row
        .country_code
        .as_deref()
        .is_some_and(|c| ["US", "CA", "AU"].contains(&c.to_ascii_uppercase().as_str()));
    if needs_state {
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if blank(&row.patch.state) {
            return Err((
                "state_or_province",
                "state_or_province is required for this country".to_string(),
            ));
        }
        if blank(&row.patch.zip) {
            return Err((
                "postal_code",
                "postal_code is required for this country".to_string(),
            ));
        }
    }
    Ok(())
}

/// The 12 fields that make an address unique (§8).
type AddressKey = [String; 11];

fn address_key(a: &Address) -> (u64, AddressKey) {
    let t = |s: &str| s.to_string();
    let kind = match a.address_type {
        AddressType::Residential => "residential",
        AddressType::Commercial => "commercial",
    };
    (
        a.customer_id,
        [
            t(&a.first_name),
            t(&a.last_name),
            t(&a.company),
            t(&a.phone),
            t(kind),
            t(&a.street_1),
            t(&a.street_2),
            t(&a.city),
            t(a.country_iso2),
            t(&a.state),
            t(&a.zip),
        ],
    )
}

/// The key an address would have after `patch` (None = unchanged field of `base`).
fn patched_key(customer_id: u64, base: Option<&Address>, row: &AddressRow) -> (u64, AddressKey) {
    let p = &row.patch;
    let pick = |new: &Option<String>, old: Option<&str>| {
        new.clone()
            .unwrap_or_else(|| old.unwrap_or_default().to_string())
    };
    let kind = match p
        .address_type
        .or(base.map(|a| a.address_type))
        .unwrap_or(AddressType::Residential)
    {
        AddressType::Residential => "residential",
        AddressType::Commercial => "commercial",
    };
    let iso2 = match &row.country_code {
        Some(code) => code.to_ascii_uppercase(),
        None => base.map(|a| a.country_iso2.to_string()).unwrap_or_default(),
    };
    (
        customer_id,
        [
            pick(&p.first_name, base.map(|a| &*a.first_name)),
            pick(&p.last_name, base.map(|a| &*a.last_name)),
            pick(&p.company, base.map(|a| &*a.company)),
            pick(&p.phone, base.map(|a| &*a.phone)),
            kind.to_string(),
            pick(&p.street_1, base.map(|a| &*a.street_1)),
            pick(&p.street_2, base.map(|a| &*a.street_2)),
            pick(&p.city, base.map(|a| &*a.city)),
            iso2,
            pick(&p.state, base.map(|a| &*a.state)),
            pick(&p.zip, base.map(|a| &*a.zip)),
        ],
    )
}

fn clone_patch(p: &AddressPatch) -> AddressPatch {
    AddressPatch {
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        company: p.company.clone(),
        street_1: p.street_1.clone(),
        street_2: p.street_2.clone(),
        city: p.city.clone(),
        state: p.state.clone(),
        zip: p.zip.clone(),
        country: p.country.clone(),
        phone: p.phone.clone(),
        address_type: p.address_type,
    }
}

/// Create an address unless the customer already has an identical one (§8: then nothing
/// changes and it is absent from the answer). The new id, or `None` for a duplicate.
fn create_address_deduped(store: &mut Store, customer_id: u64, row: &AddressRow) -> Option<u64> {
    let key = patched_key(customer_id, None, row);
    if store
        .addresses_of(customer_id)
        .iter()
        .any(|a| address_key(a) == key)
    {
        return None;
    }
    let id = store.create_address(customer_id, clone_patch(&row.patch));
    if let Some(fields) = &row.form_fields {
        store.v3_address_form_fields.insert(id, fields.clone());
    }
    Some(id)
}

// ---- customers: parsed rows ----

/// A well-formed customer of a V3 write.
struct CustomerRow {
    id: Option<u64>,
    patch: CustomerPatch,
    accepts: Option<bool>,
    /// Summed `store_credit_amounts`, in ten-thousandths.
    store_credit: Option<i64>,
    /// `Some(None)` = `channel_ids: null` (global).
    channel_ids: Option<Option<Vec<u64>>>,
    origin_channel_id: Option<u64>,
    form_fields: Option<Vec<(String, Value)>>,
    addresses: Vec<AddressRow>,
    has_attributes: bool,
    /// The first read-only field the row carried, if any.
    read_only: Option<&'static str>,
}

const NESTED_ADDRESS_REQUIRED: &[&str] = &[
    "first_name",
    "last_name",
    "address1",
    "city",
    "country_code",
];

fn customer_row(obj: &Map<String, Value>, op: Op) -> Result<CustomerRow, Schema> {
    let creating = op == Op::Create;
    // §5: POST email ≤250; PUT keeps 255.
    let email_max = if creating { 250 } else { 255 };
    let email = text(obj, "", "email", 3, email_max)?;
    let first_name = text(obj, "", "first_name", 1, 100)?;
    let last_name = text(obj, "", "last_name", 1, 100)?;
    let id = integer(obj, "", "id")?;
    if creating {
        required(email.as_ref(), "", "email")?;
        required(first_name.as_ref(), "", "first_name")?;
        required(last_name.as_ref(), "", "last_name")?;
    } else {
        // JH: `{"id":"error.path.missing"}`, no index (§6).
        required(id, "", "id")?;
    }
    let mut patch = CustomerPatch {
        first_name,
        last_name,
        email,
        company: text(obj, "", "company", 0, 255)?,
        phone: text(obj, "", "phone", 0, 50)?,
        notes: text(obj, "", "notes", 0, 65_535)?,
        tax_exempt_category: text(obj, "", "tax_exempt_category", 0, 255)?,
        customer_group_id: integer(obj, "", "customer_group_id")?,
        // Read-only on PUT and absent from the POST schema (§5, §6): ignored.
        registration_ip_address: None,
        ..CustomerPatch::default()
    };
    if let Some(auth) = obj.get("authentication").filter(|v| !v.is_null()) {
        let auth = object(auth, "authentication")?;
        patch.reset_pass_on_login = boolean(auth, "authentication", "force_password_reset")?;
        patch.password = text(auth, "authentication", "new_password", 0, 100)?;
    }
    let store_credit = match array(obj, "", "store_credit_amounts")? {
        None => None,
        Some(items) => {
            let mut sum = 0i64;
            for item in items {
                let item = object(item, "store_credit_amounts")?;
                let credit = item
                    .get("amount")
                    .filter(|v| v.is_number())
                    .and_then(|v| handlers::parse_credit(v).ok())
                    .ok_or_else(|| {
                        Schema::new("store_credit_amounts.amount", "error.expected.jsnumber")
                    })?;
                sum += credit;
            }
            Some(sum)
        }
    };
    let channel_ids = match obj.get("channel_ids") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Array(items)) => Some(Some(
            items
                .iter()
                .map(|v| {
                    v.as_u64()
                        .ok_or_else(|| Schema::new("channel_ids", "error.expected.jsnumber"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Some(_) => return Err(Schema::new("channel_ids", "error.expected.jsarray")),
    };
    let mut addresses = Vec::new();
    if creating {
        for item in array(obj, "", "addresses")?.into_iter().flatten() {
            let address = object(item, "addresses")?;
            addresses.push(address_row(address, "addresses", NESTED_ADDRESS_REQUIRED)?);
        }
    }
    // Checked for type, no effect: the sandbox sends no email (§5).
    boolean(obj, "", "trigger_account_created_notification")?;
    Ok(CustomerRow {
        id,
        patch,
        accepts: boolean(obj, "", "accepts_product_review_abandoned_cart_emails")?,
        store_credit,
        channel_ids,
        // Settable on POST only; on PUT it is immutable and ignored (§6, docs PR #315).
        origin_channel_id: if creating {
            integer(obj, "", "origin_channel_id")?
        } else {
            None
        },
        form_fields: form_fields(obj, "")?,
        addresses,
        has_attributes: array(obj, "", "attributes")?.is_some_and(|a| !a.is_empty()),
        read_only: read_only_sent(obj, op),
    })
}

/// The read-only fields of a customer write: SPEC3's list for PUT; for POST, those Zynk's
/// docs name (§5).
fn read_only_sent(obj: &Map<String, Value>, op: Op) -> Option<&'static str> {
    let fields: &[&'static str] = match op {
        Op::Create => &[
            "id",
            "date_created",
            "date_modified",
            "registration_ip_address",
            "address_count",
            "attribute_count",
        ],
        Op::Update => &[
            "registration_ip_address",
            "date_created",
            "date_modified",
            "origin_channel_id",
            "address_count",
            "attribute_count",
        ],
    };
    fields.iter().copied().find(|f| obj.contains_key(*f))
}

/// Why a well-formed row cannot be written: the reply naming it.
fn check_customer_row(
    store: &Store,
    index: usize,
    row: &mut CustomerRow,
    op: Op,
    claimed: &HashSet<String>,
    read_only_mode: V3ReadOnly,
) -> Result<(), Reply> {
    let title = match op {
        Op::Create => "Create customers failed.",
        Op::Update => "Update customers failed.",
    };
    let named = |field: &str, message: &str| one_error(title, &format!("{index}.{field}"), message);
    if let Some(id) = row.id.filter(|_| op == Op::Update) {
        if store.customer(id).is_none() {
            // JH: `{"0.id": "invalid customer ID"}` (§6).
            return Err(named("id", "invalid customer ID"));
        }
    }
    if let Some(email) = &row.patch.email {
        if !handlers::valid_email(email) {
            return Err(named("email", "email is not a valid email address"));
        }
        let owner = store.customer_by_email(email);
        let taken = owner.is_some_and(|owner| Some(owner) != row.id.filter(|_| op == Op::Update))
            || claimed.contains(&email.to_lowercase());
        if taken {
            // The documented bodies name the email only, no index (§14).
            let (key, verb) = match op {
                Op::Create => (".customer_create", "creating"),
                Op::Update => (".customer_update", "updating"),
            };
            return Err(one_error(
                title,
                key,
                &format!("Error {verb} customers: email {email} already in use"),
            ));
        }
    }
    if let Some(p) = &row.patch.password {
        if !handlers::acceptable_password(p) {
            return Err(named(
                "authentication.new_password",
                "Password must be at least 7 characters and contain letters and numbers",
            ));
        }
    }
    if let Some(group) = row.patch.customer_group_id {
        if group != 0 && store.group(group).is_none() {
            return Err(named("customer_group_id", "invalid customer group ID"));
        }
    }
    if let Some(Some(channels)) = &row.channel_ids {
        if channels.is_empty() {
            // §12: "This array cannot be empty"; null means global.
            return Err(named("channel_ids", "channel_ids cannot be empty"));
        }
    }
    if let (Some(field), V3ReadOnly::Rejected) = (row.read_only, read_only_mode) {
        return Err(named(field, "field is read-only"));
    }
    if row.has_attributes {
        // The sandbox defines no attributes, and they must exist before use (§9).
        return Err(named("attributes.attribute_id", "invalid attribute ID"));
    }
    if row.addresses.len() > MAX_NESTED_ADDRESSES {
        return Err(named(
            "addresses",
            "a customer can be created with at most 10 addresses",
        ));
    }
    for (j, address) in row.addresses.iter_mut().enumerate() {
        if let Err((field, message)) = check_address(address) {
            return Err(named(&format!("addresses.{j}.{field}"), &message));
        }
    }
    Ok(())
}

/// Apply one checked row; its id.
fn apply_customer_row(
    store: &mut Store,
    row: CustomerRow,
    op: Op,
    mode: V3StoreCredit,
    now: i64,
) -> u64 {
    let CustomerRow {
        id,
        mut patch,
        accepts,
        store_credit,
        channel_ids,
        origin_channel_id,
        form_fields,
        addresses,
        has_attributes: _,
        read_only: _,
    } = row;
    let id = match (op, id) {
        (Op::Update, Some(id)) => {
            if let Some(add) = store_credit {
                let old = store.customer(id).map_or(0, |c| c.store_credit);
                patch.store_credit = Some(match mode {
                    V3StoreCredit::Set => add,
                    V3StoreCredit::Add => old + add,
                });
            }
            // Checked just before, under the same lock.
            let _ = store.update_customer(id, patch, now);
            id
        }
        _ => {
            patch.store_credit = store_credit;
            store
                .create_customer(patch, now)
                .expect("checked under the same lock")
        }
    };
    // Seeded form fields are derived, so the current values are read out before the upsert.
    let mut fields = form_fields.map(|new| {
        let mut list = store
            .customer(id)
            .map(|c| store.form_fields_of(c))
            .unwrap_or_default();
        upsert_fields(&mut list, new);
        list
    });
    if let Some(c) = store.customer_mut(id) {
        if let Some(accepts) = accepts {
            c.accepts_marketing = accepts;
        }
        if let Some(list) = fields.take() {
            c.form_fields = super::store::FormFields::Listed(list);
        }
    }
    if channel_ids.is_some() || origin_channel_id.is_some() {
        let extras = store.v3_customers.entry(id).or_default();
        if let Some(channels) = channel_ids {
            extras.channel_ids = channels;
        }
        if let Some(origin) = origin_channel_id {
            extras.origin_channel_id = Some(origin);
        }
    }
    for address in &addresses {
        // §19.10: whether nested addresses de-duplicate is unverified; they do here, as
        // address POSTs do.
        create_address_deduped(store, id, address);
    }
    id
}

// ---- POST/PUT /v3/customers ----

fn write_customers(shared: &Shared, body: &[u8], op: Op) -> Handled {
    let items = batch(body, MAX_BATCH)?;
    // Schema first, for the whole request: nothing is looked at until every row parses.
    let mut rows = items
        .iter()
        .map(|obj| customer_row(obj, op))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Schema::reply)?;
    let mode = shared.cfg.v3.batch_commit;
    let read_only_mode = shared.cfg.v3.read_only_fields;
    let mut store = shared.write_store();
    let mut claimed = HashSet::new();
    let mut valid = Vec::new();
    let mut first_error = None;
    for (index, row) in rows.iter_mut().enumerate() {
        match check_customer_row(&store, index, row, op, &claimed, read_only_mode) {
            Ok(()) => {
                if let Some(email) = &row.patch.email {
                    claimed.insert(email.to_lowercase());
                }
                valid.push(index);
            }
            Err(reply) => {
                // Only the first bad row is named (§14), even when later ones are bad too.
                first_error.get_or_insert(reply);
                if mode != V3BatchCommit::AllValid {
                    break;
                }
            }
        }
    }
    if first_error.is_some() && mode == V3BatchCommit::Nothing {
        valid.clear();
    }
    let now = now_secs();
    let credit_mode = shared.cfg.v3.store_credit_on_put;
    let mut written = Vec::new();
    let mut rows: Vec<Option<CustomerRow>> = rows.into_iter().map(Some).collect();
    for index in valid {
        let row = rows[index].take().expect("each row once");
        written.push(apply_customer_row(&mut store, row, op, credit_mode, now));
    }
    let committed = !written.is_empty();
    if let Some(reply) = first_error {
        return Err(reply.committed(committed));
    }
    let data: Vec<Value> = written
        .iter()
        .filter_map(|id| store.customer(*id))
        .map(|c| customer_json(&store, c, Includes::of_writes(), None))
        .collect();
    Ok(Reply::json(StatusCode::OK, &json!({"data": data, "meta": {}})).committed(committed))
}

// ---- /v3/customers/addresses ----

const ADDRESS_POST_REQUIRED: &[&str] = &[
    "customer_id",
    "first_name",
    "last_name",
    "address1",
    "city",
    "country_code",
    "state_or_province",
    "postal_code",
];

fn write_addresses(shared: &Shared, body: &[u8], op: Op) -> Handled {
    let items = batch(body, shared.cfg.v3.address_batch_limit)?;
    let required_fields: &[&str] = match op {
        Op::Create => ADDRESS_POST_REQUIRED,
        Op::Update => &["id"],
    };
    let mut rows = items
        .iter()
        .map(|obj| address_row(obj, "", required_fields))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Schema::reply)?;
    let title = match op {
        Op::Create => "Create customer addresses failed.",
        Op::Update => "Update customer addresses failed.",
    };
    let mode = shared.cfg.v3.batch_commit;
    let mut store = shared.write_store();
    let mut valid = Vec::new();
    let mut first_error = None;
    for (index, row) in rows.iter_mut().enumerate() {
        let problem = match op {
            // `customer_id` is not accepted on PUT (§8): the address's own owner counts.
            Op::Create => row
                .customer_id
                .filter(|id| store.customer(*id).is_none())
                .map(|_| ("customer_id", "invalid customer ID".to_string())),
            Op::Update => match row.id.and_then(|id| store.owner_of_address(id)) {
                None => Some(("id", "invalid address ID".to_string())),
                Some(owner) => {
                    row.customer_id = Some(owner);
                    None
                }
            },
        };
        match problem.map_or_else(|| check_address(row), Err) {
            Ok(()) => valid.push(index),
            Err((field, message)) => {
                first_error
                    .get_or_insert_with(|| one_error(title, &format!("{index}.{field}"), &message));
                if mode != V3BatchCommit::AllValid {
                    break;
                }
            }
        }
    }
    if first_error.is_some() && mode == V3BatchCommit::Nothing {
        valid.clear();
    }
    let mut written = Vec::new();
    for index in valid {
        let row = &rows[index];
        let customer_id = row.customer_id.expect("checked");
        let id = match op {
            Op::Create => create_address_deduped(&mut store, customer_id, row),
            Op::Update => update_address_deduped(&mut store, customer_id, row),
        };
        written.extend(id.map(|id| (customer_id, id)));
    }
    let committed = !written.is_empty();
    if let Some(reply) = first_error {
        return Err(reply.committed(committed));
    }
    // Duplicates are absent from `data`, with 200 (§8).
    let data: Vec<Value> = written
        .iter()
        .filter_map(|(customer_id, id)| store.address(*customer_id, *id))
        .map(|a| address_json(&store, a, true))
        .collect();
    Ok(Reply::json(StatusCode::OK, &json!({"data": data, "meta": {}})).committed(committed))
}

/// §8: an update that would make the address identical to *another* address of the customer
/// changes nothing and is absent from the answer.
fn update_address_deduped(store: &mut Store, customer_id: u64, row: &AddressRow) -> Option<u64> {
    let id = row.id?;
    let base = store.address(customer_id, id)?;
    let key = patched_key(customer_id, Some(base), row);
    let duplicate = store
        .addresses_of(customer_id)
        .iter()
        .any(|a| a.id != id && address_key(a) == key);
    if duplicate {
        return None;
    }
    store.update_address(customer_id, id, clone_patch(&row.patch));
    if let Some(fields) = &row.form_fields {
        let list = store.v3_address_form_fields.entry(id).or_default();
        upsert_fields(list, fields.clone());
    }
    Some(id)
}

fn list_addresses(shared: &Shared, q: &Query) -> Handled {
    q.only(&[
        "page",
        "limit",
        "include",
        "id:in",
        "customer_id:in",
        "company:in",
        "name:in",
    ])?;
    let (page, limit) = q.paging()?;
    let ids = q.ids("id:in")?;
    let customers = q.ids("customer_id:in")?;
    let companies = lower(q.list("company:in"));
    let names = lower(q.list("name:in"));
    let formfields = match q.list("include").unwrap_or_default().as_slice() {
        [] => false,
        [one] if one == "formfields" => true,
        _ => return Err(invalid_filters(&["include"])),
    };
    let store = shared.read_store();
    let mut all: Vec<&Address> = match &customers {
        Some(list) => {
            let unique: HashSet<u64> = list.iter().copied().collect();
            unique
                .into_iter()
                .flat_map(|c| store.addresses_of(c).iter())
                .collect()
        }
        None => store.all_addresses(),
    };
    all.sort_unstable_by_key(|a| a.id);
    all.retain(|a| {
        ids.as_ref().is_none_or(|ids| ids.contains(&a.id))
            && companies
                .as_ref()
                .is_none_or(|l| l.contains(&a.company.to_lowercase()))
            && names.as_ref().is_none_or(|l| {
                l.contains(&format!("{} {}", a.first_name, a.last_name).to_lowercase())
            })
    });
    let total = all.len();
    let skip = (page - 1).saturating_mul(limit);
    let data: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(limit)
        .map(|a| address_json(&store, a, formfields))
        .collect();
    let meta = json!({"pagination": pagination(total, data.len(), page, limit, q)});
    Ok(Reply::json(
        StatusCode::OK,
        &json!({"data": data, "meta": meta}),
    ))
}

fn delete_addresses(shared: &Shared, q: &Query) -> Handled {
    q.only(&["id:in"])?;
    let ids = q.ids("id:in")?.unwrap_or_default();
    if ids.is_empty() {
        // `id:in` is a required parameter of this DELETE (§8).
        return Err(one_error(
            "A query is required to delete customer addresses.",
            "id:in",
            "error.path.missing",
        ));
    }
    let mut store = shared.write_store();
    let mut deleted = false;
    for id in ids {
        if let Some(owner) = store.owner_of_address(id) {
            deleted |= store.delete_address(owner, id);
        }
    }
    Ok(Reply::no_content().committed(deleted))
}

// ---- POST /v3/customers/validate-credentials ----

fn validate_credentials(shared: &Shared, body: &[u8]) -> Handled {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| Schema::new("obj", "error.expected.jsvalue").reply())?;
    let obj = object(&value, "obj").map_err(Schema::reply)?;
    let parsed = (|| {
        let email = required(text(obj, "", "email", 1, 255)?, "", "email")?;
        let password = required(text(obj, "", "password", 1, 255)?, "", "password")?;
        // "If this field is empty we will use channel 1" (§11).
        let channel = integer(obj, "", "channel_id")?.unwrap_or(1);
        Ok::<_, Schema>((email, password, channel))
    })();
    let (email, password, channel) = parsed.map_err(Schema::reply)?;
    let store = shared.read_store();
    let customer_id = store.customer_by_email(&email).filter(|id| {
        let channel_ok = match store
            .v3_customers
            .get(id)
            .and_then(|e| e.channel_ids.as_ref())
        {
            Some(channels) => channels.contains(&channel),
            // A global customer logs in where global logins are allowed: by default only
            // the storefront, channel 1 (§12).
            None => channel == 1,
        };
        channel_ok && store.password_of(*id).as_deref() == Some(password.as_str())
    });
    Ok(Reply::json(
        StatusCode::OK,
        &json!({"is_valid": customer_id.is_some(), "customer_id": customer_id}),
    ))
}
