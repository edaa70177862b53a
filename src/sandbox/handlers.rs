//! The API's routes: request validation (read-only and unknown fields, required fields, types,
//! email syntax, passwords), filters and paging, and the V2 error shapes, applied to the store.
//!
//! Handlers are synchronous: they take the store lock, do their work and render the JSON
//! before releasing it, and never hold it across an await.

use axum::body::Body;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::server::{now_secs, Shared};
use super::store::{AddressPatch, AddressType, CustomerFilter, CustomerPatch, GroupPatch, Refused};

const MAX_LIMIT: u64 = 250;
const DEFAULT_LIMIT: u64 = 50;

/// A matched route of `/stores/{hash}/v2/...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Customers,
    CustomersCount,
    Customer(u64),
    Validate(u64),
    Addresses(u64),
    AddressesCount(u64),
    Address(u64, u64),
    Groups,
    GroupsCount,
    Group(u64),
    /// `/stores/{hash}/v3/...`, served by `sandbox/v3.rs` on the same store.
    V3(super::v3::Route),
}

impl Route {
    /// `None` for a wrong store hash, an unknown path or a non-numeric id (all 404).
    pub fn parse(path: &str, store_hash: &str) -> Option<Route> {
        let rest = path.strip_prefix("/stores/")?.strip_prefix(store_hash)?;
        if let Some(v3) = rest.strip_prefix("/v3/") {
            return super::v3::Route::parse(v3).map(Route::V3);
        }
        let rest = rest.strip_prefix("/v2/")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let segments: Vec<&str> = rest.split('/').collect();
        let id = |s: &str| s.parse::<u64>().ok();
        Some(match segments.as_slice() {
            ["customers"] => Route::Customers,
            ["customers", "count"] => Route::CustomersCount,
            ["customers", c] => Route::Customer(id(c)?),
            ["customers", c, "validate"] => Route::Validate(id(c)?),
            ["customers", c, "addresses"] => Route::Addresses(id(c)?),
            ["customers", c, "addresses", "count"] => Route::AddressesCount(id(c)?),
            ["customers", c, "addresses", a] => Route::Address(id(c)?, id(a)?),
            ["customer_groups"] => Route::Groups,
            ["customer_groups", "count"] => Route::GroupsCount,
            ["customer_groups", g] => Route::Group(id(g)?),
            _ => return None,
        })
    }

    /// The key of this route in [`super::Counters::by_route`].
    pub fn template(&self) -> &'static str {
        match self {
            Route::Customers => "/customers",
            Route::CustomersCount => "/customers/count",
            Route::Customer(_) => "/customers/{id}",
            Route::Validate(_) => "/customers/{id}/validate",
            Route::Addresses(_) => "/customers/{id}/addresses",
            Route::AddressesCount(_) => "/customers/{id}/addresses/count",
            Route::Address(..) => "/customers/{id}/addresses/{aid}",
            Route::Groups => "/customer_groups",
            Route::GroupsCount => "/customer_groups/count",
            Route::Group(_) => "/customer_groups/{id}",
            Route::V3(v3) => v3.template(),
        }
    }
}

/// What a handler gets of the HTTP request.
pub(crate) struct ApiRequest<'a> {
    pub method: &'a Method,
    pub route: Option<Route>,
    pub query: &'a str,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// A rendered response, and whether the request changed the store.
pub(crate) struct Reply {
    status: StatusCode,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    pub committed: bool,
}

impl Reply {
    pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Reply {
        Reply {
            status,
            content_type: Some("application/json"),
            body: serde_json::to_vec(value).expect("serializing sandbox JSON"),
            committed: false,
        }
    }

    /// The V2 error shape: `[{"status":N,"message":"..."}]`.
    pub fn error(status: StatusCode, message: &str) -> Reply {
        Reply::json(
            status,
            &json!([{"status": status.as_u16(), "message": message}]),
        )
    }

    pub fn error_with(status: StatusCode, message: &str, details: Value) -> Reply {
        Reply::json(
            status,
            &json!([{"status": status.as_u16(), "message": message, "details": details}]),
        )
    }

    pub fn raw(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type: Some(content_type),
            body,
            committed: false,
        }
    }

    pub(crate) fn no_content() -> Reply {
        Reply {
            status: StatusCode::NO_CONTENT,
            content_type: None,
            body: Vec::new(),
            committed: false,
        }
    }

    pub(crate) fn committed(mut self, committed: bool) -> Reply {
        self.committed = committed;
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        if let Some(content_type) = self.content_type {
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        response
    }
}

fn not_found() -> Reply {
    Reply::error(
        StatusCode::NOT_FOUND,
        "The requested resource was not found.",
    )
}

fn method_not_allowed() -> Reply {
    Reply::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "The requested method is not supported by this resource.",
    )
}

fn invalid(field: &str) -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        &format!("The field '{field}' is invalid."),
    )
}

fn read_only(field: &str) -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        &format!(
            "The field '{field}' cannot be written to. Please remove it from your request before trying again."
        ),
    )
}

fn missing(fields: &[&str]) -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        &format!("Required fields missing [{}]", fields.join(", ")),
    )
}

/// A create must carry every required field, non-blank ("Required fields missing [..]", all
/// of them at once); an update may leave them out but not blank one ("invalid").
fn check_required(
    fields: &serde_json::Map<String, Value>,
    required: &[&str],
    creating: bool,
    blank: impl Fn(&str) -> bool,
) -> Result<(), Reply> {
    if creating {
        let absent: Vec<&str> = required.iter().copied().filter(|key| blank(key)).collect();
        if !absent.is_empty() {
            return Err(missing(&absent));
        }
    } else if let Some(key) = required
        .iter()
        .find(|key| fields.contains_key(**key) && blank(key))
    {
        return Err(invalid(key));
    }
    Ok(())
}

/// The answer to a refused write. A duplicate email's status is not documented (409 is the
/// sandbox's guess; `duplicate_email_status` switches it to 400 or 422 so tests can prove the
/// client right under each plausible answer).
fn refused_by(shared: &Shared) -> impl Fn(Refused) -> Reply + '_ {
    move |why| match why {
        Refused::EmailInUse(email) => Reply::error_with(
            StatusCode::from_u16(shared.cfg.duplicate_email_status).unwrap_or(StatusCode::CONFLICT),
            &format!("The email address '{email}' is already in use by another customer."),
            json!({"conflict_reason": "A customer with this email address already exists."}),
        ),
        other => refused(other),
    }
}

fn refused(why: Refused) -> Reply {
    match why {
        Refused::EmailInUse(email) => Reply::error_with(
            StatusCode::CONFLICT,
            &format!("The email address '{email}' is already in use by another customer."),
            json!({"conflict_reason": "A customer with this email address already exists."}),
        ),
        Refused::UnknownGroup(id) => Reply::error_with(
            StatusCode::BAD_REQUEST,
            "The field 'customer_group_id' is invalid.",
            json!({"invalid_reason": format!("There is no customer group with id {id}.")}),
        ),
        Refused::GroupNameInUse(name) => Reply::error_with(
            StatusCode::CONFLICT,
            &format!("The customer group name '{name}' is already in use."),
            json!({"conflict_reason": "A customer group with this name already exists."}),
        ),
    }
}

/// Route one authorised request that got past quota and fault injection.
pub(crate) fn dispatch(shared: &Shared, req: &ApiRequest<'_>) -> Reply {
    let Some(route) = req.route else {
        return not_found();
    };
    if matches!(req.method, &Method::POST | &Method::PUT) {
        let is_json = req
            .content_type
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
        if !req.body.is_empty() && !is_json {
            let (status, message) = (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The Content-Type header must be application/json.",
            );
            return match route {
                Route::V3(_) => super::v3::error(status, message),
                _ => Reply::error(status, message),
            };
        }
    }
    if let Route::V3(v3_route) = route {
        return super::v3::dispatch(shared, v3_route, req);
    }
    let query = Query::parse(req.query);
    let groups_route = matches!(route, Route::Groups | Route::GroupsCount | Route::Group(_));
    if groups_route && !shared.cfg.groups_enabled {
        return Reply::error(
            StatusCode::FORBIDDEN,
            "Customer groups are not available on this store's plan.",
        );
    }
    let result = match (req.method, route) {
        (&Method::GET, Route::Customers) => list_customers(shared, &query),
        (&Method::POST, Route::Customers) => create_customer(shared, req.body),
        (&Method::DELETE, Route::Customers) => {
            let deleted = shared.write_store().delete_all_customers();
            Ok(Reply::no_content().committed(deleted))
        }
        (&Method::GET, Route::CustomersCount) => count_customers(shared, &query),
        (&Method::GET, Route::Customer(id)) => {
            let store = shared.read_store();
            match store.customer(id) {
                Some(c) => Ok(Reply::json(
                    StatusCode::OK,
                    &store.customer_view(c, &shared.links),
                )),
                None => Err(not_found()),
            }
        }
        (&Method::PUT, Route::Customer(id)) => update_customer(shared, id, req.body),
        (&Method::DELETE, Route::Customer(id)) => {
            if shared.write_store().delete_customer(id) {
                Ok(Reply::no_content().committed(true))
            } else {
                Err(not_found())
            }
        }
        (&Method::POST, Route::Validate(id)) => validate_password(shared, id, req.body),
        (&Method::GET, Route::Addresses(id)) => list_addresses(shared, id, &query),
        (&Method::POST, Route::Addresses(id)) => create_address(shared, id, req.body),
        (&Method::DELETE, Route::Addresses(id)) => {
            let mut store = shared.write_store();
            if store.customer(id).is_none() {
                Err(not_found())
            } else {
                let deleted = store.delete_addresses_of(id);
                Ok(Reply::no_content().committed(deleted))
            }
        }
        (&Method::GET, Route::AddressesCount(id)) => {
            let store = shared.read_store();
            match store.customer(id) {
                Some(_) => Ok(count_reply(store.addresses_of(id).len())),
                None => Err(not_found()),
            }
        }
        (&Method::GET, Route::Address(id, aid)) => {
            let store = shared.read_store();
            match store.address(id, aid) {
                Some(a) => Ok(Reply::json(StatusCode::OK, a)),
                None => Err(not_found()),
            }
        }
        (&Method::PUT, Route::Address(id, aid)) => update_address(shared, id, aid, req.body),
        (&Method::DELETE, Route::Address(id, aid)) => {
            if shared.write_store().delete_address(id, aid) {
                Ok(Reply::no_content().committed(true))
            } else {
                Err(not_found())
            }
        }
        (&Method::GET, Route::Groups) => list_groups(shared, &query),
        (&Method::POST, Route::Groups) => create_group(shared, req.body),
        (&Method::GET, Route::GroupsCount) => {
            let store = shared.read_store();
            Ok(count_reply(store.groups().count()))
        }
        (&Method::GET, Route::Group(id)) => {
            let store = shared.read_store();
            match store.group(id) {
                Some(g) => Ok(Reply::json(StatusCode::OK, g)),
                None => Err(not_found()),
            }
        }
        (&Method::PUT, Route::Group(id)) => update_group(shared, id, req.body),
        (&Method::DELETE, Route::Group(id)) => {
            if shared.write_store().delete_group(id) {
                Ok(Reply::no_content().committed(true))
            } else {
                Err(not_found())
            }
        }
        _ => Err(method_not_allowed()),
    };
    result.unwrap_or_else(|error| error)
}

type Handled = Result<Reply, Reply>;

fn count_reply(count: usize) -> Reply {
    Reply::json(StatusCode::OK, &json!({ "count": count }))
}

/// A page of a list: a bare JSON array, or 204 with no body when it is empty.
fn page_reply<T: Serialize>(items: &[T]) -> Reply {
    if items.is_empty() {
        Reply::no_content()
    } else {
        Reply::json(StatusCode::OK, items)
    }
}

// ---- query strings ----

/// Query parameters, decoded; the first of repeated keys wins; unknown keys are ignored.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: &str) -> Query {
        Query(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn parsed<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, Reply> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| invalid(key)),
        }
    }

    fn date(&self, key: &str) -> Result<Option<i64>, Reply> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_date(v).map(Some).ok_or_else(|| invalid(key)),
        }
    }

    fn text(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_string)
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, Reply> {
        match self.get(key) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(_) => Err(invalid(key)),
        }
    }

    /// `page` (1-based, default 1) and `limit` (default 50, max 250 → 413).
    fn paging(&self) -> Result<(usize, usize), Reply> {
        let limit = match self.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(limit) if limit > MAX_LIMIT => {
                    return Err(Reply::error_with(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "The specified limit exceeds the maximum allowed.",
                        json!({ "max_limit": MAX_LIMIT }),
                    ))
                }
                Ok(limit) if limit >= 1 => limit,
                _ => return Err(invalid("limit")),
            },
        };
        let page = match self.get("page") {
            None => 1,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(page) if page >= 1 => page,
                _ => return Err(invalid("page")),
            },
        };
        Ok((usize::try_from(page).unwrap_or(usize::MAX), limit as usize))
    }
}

/// Accept RFC-2822 (`Thu, 20 Apr 2017 11:32:00 -0400`), ISO-8601 / RFC-3339 with or without
/// an offset (no offset = UTC), and a plain `YYYY-MM-DD` (midnight UTC). Unix seconds.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc2822(text) {
        return Some(t.timestamp());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.timestamp());
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// A non-negative amount given as a number or a decimal string, in ten-thousandths.
pub(crate) fn parse_credit(value: &Value) -> Result<i64, ()> {
    let amount = match value {
        Value::Number(n) => n.as_f64().ok_or(())?,
        Value::String(s) if !s.trim().is_empty() => s.trim().parse::<f64>().map_err(|_| ())?,
        _ => return Err(()),
    };
    if !amount.is_finite() || !(0.0..=1e12).contains(&amount) {
        return Err(());
    }
    Ok((amount * 10_000.0).round() as i64)
}

// ---- customers ----

/// The customer filters of a list or count request. `exclusive_ids`: `min_id`/`max_id` exclude
/// the id they name (BigCommerce does not document which; see [`crate::sandbox::SandboxConfig`]).
fn customer_filter(q: &Query, exclusive_ids: bool) -> Result<CustomerFilter, Reply> {
    let (mut min_id, mut max_id): (Option<u64>, Option<u64>) =
        (q.parsed("min_id")?, q.parsed("max_id")?);
    if exclusive_ids {
        // `> m` is `>= m + 1` and `< m` is `<= m - 1`; nothing is above u64::MAX or below 0,
        // which leaves an empty range (min 1, max 0).
        let empty = min_id == Some(u64::MAX) || max_id == Some(0);
        min_id = min_id.map(|m| m.saturating_add(1));
        max_id = max_id.map(|m| m.saturating_sub(1));
        if empty {
            (min_id, max_id) = (Some(1), Some(0));
        }
    }
    Ok(CustomerFilter {
        email: q.text("email").map(|e| e.to_lowercase()),
        first_name: q.text("first_name").map(|v| v.to_lowercase()),
        last_name: q.text("last_name").map(|v| v.to_lowercase()),
        company: q.text("company").map(|v| v.to_lowercase()),
        phone: q.text("phone").map(|v| v.to_lowercase()),
        tax_exempt_category: q.text("tax_exempt_category").map(|v| v.to_lowercase()),
        store_credit: match q.get("store_credit") {
            None => None,
            Some(v) => Some(
                parse_credit(&Value::String(v.to_string())).map_err(|_| invalid("store_credit"))?,
            ),
        },
        customer_group_id: q.parsed("customer_group_id")?,
        min_id,
        max_id,
        min_date_created: q.date("min_date_created")?,
        max_date_created: q.date("max_date_created")?,
        min_date_modified: q.date("min_date_modified")?,
        max_date_modified: q.date("max_date_modified")?,
    })
}

fn list_customers(shared: &Shared, q: &Query) -> Handled {
    let (page, limit) = q.paging()?;
    let filter = customer_filter(q, shared.cfg.exclusive_id_bounds)?;
    let store = shared.read_store();
    let views: Vec<_> = store
        .list_customers(&filter, page, limit)
        .into_iter()
        .map(|c| store.customer_view(c, &shared.links))
        .collect();
    Ok(page_reply(&views))
}

fn count_customers(shared: &Shared, q: &Query) -> Handled {
    let filter = customer_filter(q, shared.cfg.exclusive_id_bounds)?;
    Ok(count_reply(shared.read_store().count_customers(&filter)))
}

fn create_customer(shared: &Shared, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let patch = customer_patch(&fields, true)?;
    let mut store = shared.write_store();
    let id = store
        .create_customer(patch, now_secs())
        .map_err(refused_by(shared))?;
    let c = store.customer(id).expect("the customer just created");
    Ok(Reply::json(StatusCode::OK, &store.customer_view(c, &shared.links)).committed(true))
}

fn update_customer(shared: &Shared, id: u64, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let patch = customer_patch(&fields, false)?;
    let mut store = shared.write_store();
    if store.customer(id).is_none() {
        return Err(not_found());
    }
    store
        .update_customer(id, patch, now_secs())
        .map_err(refused_by(shared))?;
    let c = store.customer(id).expect("the customer just updated");
    Ok(Reply::json(StatusCode::OK, &store.customer_view(c, &shared.links)).committed(true))
}

fn validate_password(shared: &Shared, id: u64, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let password = match fields.get("password") {
        Some(Value::String(p)) => p.clone(),
        Some(Value::Null) | None => return Err(missing(&["password"])),
        Some(_) => return Err(invalid("password")),
    };
    let actual = shared.read_store().password_of(id).ok_or_else(not_found)?;
    Ok(Reply::json(
        StatusCode::OK,
        &json!({ "success": actual == password }),
    ))
}

const CUSTOMER_READ_ONLY: &[&str] = &[
    "id",
    "date_created",
    "date_modified",
    "accepts_marketing",
    "addresses",
    "form_fields",
];
const CUSTOMER_REQUIRED: &[&str] = &["first_name", "last_name", "email"];

fn json_object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Reply::error(
            StatusCode::BAD_REQUEST,
            "The request body is empty.",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(Reply::error(
            StatusCode::BAD_REQUEST,
            "The request body must be a JSON object.",
        )),
        Err(_) => Err(Reply::error(
            StatusCode::BAD_REQUEST,
            "The request body is not valid JSON.",
        )),
    }
}

/// A string field: `Ok(None)` when absent, `""` for null; anything else but a string is
/// invalid. `numbers_ok` accepts numbers too (SPEC examples show bare-number zips and phones).
fn text_field(
    fields: &Map<String, Value>,
    key: &str,
    max_len: usize,
    numbers_ok: bool,
) -> Result<Option<String>, Reply> {
    let text = match fields.get(key) {
        None => return Ok(None),
        Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if numbers_ok => n.to_string(),
        Some(_) => return Err(invalid(key)),
    };
    if text.chars().count() > max_len {
        return Err(invalid(key));
    }
    Ok(Some(text))
}

fn bool_field(fields: &Map<String, Value>, key: &str) -> Result<Option<bool>, Reply> {
    match fields.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(key)),
    }
}

/// The checks for both POST (`creating`) and PUT; the store checks email and group after.
fn customer_patch(fields: &Map<String, Value>, creating: bool) -> Result<CustomerPatch, Reply> {
    const WRITABLE: &[&str] = &[
        "first_name",
        "last_name",
        "email",
        "company",
        "phone",
        "notes",
        "registration_ip_address",
        "tax_exempt_category",
        "store_credit",
        "customer_group_id",
        "reset_pass_on_login",
        "_authentication",
    ];
    for key in fields.keys() {
        if CUSTOMER_READ_ONLY.contains(&key.as_str()) {
            return Err(read_only(key));
        }
        if !WRITABLE.contains(&key.as_str()) {
            return Err(invalid(key));
        }
    }
    let blank = |key: &str| match fields.get(key) {
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Null) | None => true,
        Some(_) => false,
    };
    check_required(fields, CUSTOMER_REQUIRED, creating, blank)?;

    let mut patch = CustomerPatch {
        first_name: text_field(fields, "first_name", 255, false)?,
        last_name: text_field(fields, "last_name", 255, false)?,
        email: text_field(fields, "email", 255, false)?,
        company: text_field(fields, "company", 255, false)?,
        phone: text_field(fields, "phone", 50, false)?,
        notes: text_field(fields, "notes", 65_535, false)?,
        registration_ip_address: text_field(fields, "registration_ip_address", 45, false)?,
        tax_exempt_category: text_field(fields, "tax_exempt_category", 255, false)?,
        store_credit: match fields.get("store_credit") {
            None => None,
            Some(v) => Some(parse_credit(v).map_err(|_| invalid("store_credit"))?),
        },
        customer_group_id: match fields.get("customer_group_id") {
            None => None,
            Some(Value::Null) => Some(0),
            Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| invalid("customer_group_id"))?),
            Some(Value::String(s)) => {
                Some(s.trim().parse().map_err(|_| invalid("customer_group_id"))?)
            }
            Some(_) => return Err(invalid("customer_group_id")),
        },
        reset_pass_on_login: bool_field(fields, "reset_pass_on_login")?,
        password: None,
    };
    if let Some(email) = &patch.email {
        if !valid_email(email) {
            return Err(invalid("email"));
        }
    }
    match fields.get("_authentication") {
        None | Some(Value::Null) => {}
        Some(Value::Object(auth)) => apply_authentication(auth, &mut patch)?,
        Some(_) => return Err(invalid("_authentication")),
    }
    Ok(patch)
}

/// `_authentication: {password, password_confirmation, force_reset}`, all optional.
fn apply_authentication(auth: &Map<String, Value>, patch: &mut CustomerPatch) -> Result<(), Reply> {
    for key in auth.keys() {
        if !matches!(
            key.as_str(),
            "password" | "password_confirmation" | "force_reset"
        ) {
            return Err(invalid(&format!("_authentication.{key}")));
        }
    }
    let password = match auth.get("password") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if acceptable_password(p) => Some(p.clone()),
        Some(_) => return Err(invalid("password")),
    };
    match (auth.get("password_confirmation"), &password) {
        (None | Some(Value::Null), _) => {}
        (Some(Value::String(confirmation)), Some(p)) if confirmation == p => {}
        _ => {
            return Err(Reply::error(
                StatusCode::BAD_REQUEST,
                "The field 'password_confirmation' is invalid: it does not match 'password'.",
            ))
        }
    }
    patch.password = password;
    match auth.get("force_reset") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(force)) => patch.reset_pass_on_login = Some(*force),
        Some(_) => return Err(invalid("force_reset")),
    }
    Ok(())
}

/// The store's default password rule: at least 7 characters, letters and digits.
pub(crate) fn acceptable_password(p: &str) -> bool {
    p.chars().count() >= 7
        && p.chars().any(char::is_alphabetic)
        && p.chars().any(|c| c.is_ascii_digit())
}

/// `local@domain.tld`: one `@`, no spaces, a dotted domain without empty labels.
pub(crate) fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let no_space = |s: &str| !s.chars().any(|c| c.is_whitespace() || c.is_control());
    !local.is_empty()
        && local.len() <= 64
        && no_space(local)
        && !domain.contains('@')
        && no_space(domain)
        && domain.contains('.')
        && domain
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

// ---- addresses ----

const ADDRESS_REQUIRED: &[&str] = &[
    "first_name",
    "last_name",
    "phone",
    "street_1",
    "city",
    "state",
    "zip",
    "country",
];

fn list_addresses(shared: &Shared, id: u64, q: &Query) -> Handled {
    let (page, limit) = q.paging()?;
    let store = shared.read_store();
    if store.customer(id).is_none() {
        return Err(not_found());
    }
    let page: Vec<_> = store
        .addresses_of(id)
        .iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .collect();
    Ok(page_reply(&page))
}

fn create_address(shared: &Shared, id: u64, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let patch = address_patch(&fields, id, true)?;
    let mut store = shared.write_store();
    if store.customer(id).is_none() {
        return Err(not_found());
    }
    let address_id = store.create_address(id, patch);
    let address = store
        .address(id, address_id)
        .expect("the address just created");
    Ok(Reply::json(StatusCode::OK, address).committed(true))
}

fn update_address(shared: &Shared, id: u64, address_id: u64, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let patch = address_patch(&fields, id, false)?;
    let mut store = shared.write_store();
    if !store.update_address(id, address_id, patch) {
        return Err(not_found());
    }
    let address = store
        .address(id, address_id)
        .expect("the address just updated");
    Ok(Reply::json(StatusCode::OK, address).committed(true))
}

fn address_patch(
    fields: &Map<String, Value>,
    customer_id: u64,
    creating: bool,
) -> Result<AddressPatch, Reply> {
    const WRITABLE: &[&str] = &[
        "first_name",
        "last_name",
        "company",
        "street_1",
        "street_2",
        "city",
        "state",
        "zip",
        "country",
        "phone",
        "address_type",
        "customer_id",
    ];
    for key in fields.keys() {
        if matches!(key.as_str(), "id" | "country_iso2" | "form_fields") {
            return Err(read_only(key));
        }
        if !WRITABLE.contains(&key.as_str()) {
            return Err(invalid(key));
        }
    }
    // The customer is the one in the path; a body naming another one is a mistake.
    if let Some(v) = fields.get("customer_id") {
        if v.as_u64() != Some(customer_id) {
            return Err(invalid("customer_id"));
        }
    }
    // "state … cannot be null; for countries without states pass a space": only it may be blank.
    let blank = |key: &str| match fields.get(key) {
        Some(Value::String(s)) if key == "state" => s.is_empty(),
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Number(_)) => false,
        Some(_) | None => true,
    };
    check_required(fields, ADDRESS_REQUIRED, creating, blank)?;
    Ok(AddressPatch {
        first_name: text_field(fields, "first_name", 255, false)?,
        last_name: text_field(fields, "last_name", 255, false)?,
        company: text_field(fields, "company", 255, false)?,
        street_1: text_field(fields, "street_1", 255, false)?,
        street_2: text_field(fields, "street_2", 255, false)?,
        city: text_field(fields, "city", 100, false)?,
        state: text_field(fields, "state", 100, false)?,
        zip: text_field(fields, "zip", 30, true)?,
        country: text_field(fields, "country", 100, false)?,
        phone: text_field(fields, "phone", 50, true)?,
        address_type: match fields.get("address_type") {
            None => None,
            Some(Value::String(t)) if t == "residential" => Some(AddressType::Residential),
            Some(Value::String(t)) if t == "commercial" => Some(AddressType::Commercial),
            Some(_) => return Err(invalid("address_type")),
        },
    })
}

// ---- customer groups ----

fn list_groups(shared: &Shared, q: &Query) -> Handled {
    let (page, limit) = q.paging()?;
    let name = q.get("name");
    let name_like = q.get("name:like").map(str::to_lowercase);
    let is_default = q.boolean("is_default")?;
    let for_guests = q.boolean("is_group_for_guests")?;
    let store = shared.read_store();
    let page: Vec<_> = store
        .groups()
        .filter(|g| name.is_none_or(|n| g.name == n))
        .filter(|g| {
            name_like
                .as_ref()
                .is_none_or(|n| g.name.to_lowercase().contains(n.as_str()))
        })
        .filter(|g| is_default.is_none_or(|v| g.is_default == v))
        .filter(|g| for_guests.is_none_or(|v| g.is_group_for_guests == v))
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .collect();
    Ok(page_reply(&page))
}

fn create_group(shared: &Shared, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let patch = group_patch(&fields, true)?;
    let mut store = shared.write_store();
    let id = store.create_group(patch, now_secs()).map_err(refused)?;
    if shared.cfg.group_create_207 {
        // reference/bigcommerce-api.md (customers.v2.yml): "207 Multi-Status: the group was
        // created, but the sitewide discount update failed": the answer carries no group.
        return Ok(Reply::json(
            StatusCode::MULTI_STATUS,
            &json!({"status": 207, "message": "The customer group was created, but the sitewide discount update failed. You may retry the update."}),
        )
        .committed(true));
    }
    Ok(Reply::json(
        StatusCode::OK,
        store.group(id).expect("the group just created"),
    )
    .committed(true))
}

fn update_group(shared: &Shared, id: u64, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let patch = group_patch(&fields, false)?;
    let mut store = shared.write_store();
    if !store.update_group(id, patch, now_secs()).map_err(refused)? {
        return Err(not_found());
    }
    Ok(Reply::json(
        StatusCode::OK,
        store.group(id).expect("the group just updated"),
    )
    .committed(true))
}

fn group_patch(fields: &Map<String, Value>, creating: bool) -> Result<GroupPatch, Reply> {
    for key in fields.keys() {
        match key.as_str() {
            "id" | "date_created" | "date_modified" => return Err(read_only(key)),
            "name"
            | "is_default"
            | "category_access"
            | "discount_rules"
            | "is_group_for_guests" => {}
            _ => return Err(invalid(key)),
        }
    }
    let name = match fields.get("name") {
        None if creating => return Err(missing(&["name"])),
        None => None,
        Some(Value::String(n)) if n.trim().is_empty() && creating => {
            return Err(missing(&["name"]))
        }
        Some(Value::String(n)) if !n.trim().is_empty() && n.chars().count() <= 255 => {
            Some(n.clone())
        }
        Some(_) => return Err(invalid("name")),
    };
    let category_access = match fields.get("category_access") {
        None => None,
        Some(v @ Value::Object(access)) => {
            let kind = access.get("type").and_then(Value::as_str);
            let categories_ok = access.get("categories").is_none_or(|c| {
                c.as_array()
                    .is_some_and(|ids| ids.iter().all(|id| id.as_u64().is_some()))
            });
            if !matches!(kind, Some("all" | "specific" | "none")) || !categories_ok {
                return Err(invalid("category_access"));
            }
            Some(v.clone())
        }
        Some(_) => return Err(invalid("category_access")),
    };
    let discount_rules = match fields.get("discount_rules") {
        None => None,
        Some(v @ Value::Array(rules)) => {
            let rule_ok = |rule: &Value| {
                let kind = rule.get("type").and_then(Value::as_str);
                let method = rule.get("method").and_then(Value::as_str);
                matches!(kind, Some("price_list" | "all" | "category" | "product"))
                    && (kind == Some("price_list")
                        || matches!(method, Some("percent" | "fixed" | "price")))
            };
            if !rules.iter().all(rule_ok) {
                return Err(invalid("discount_rules"));
            }
            Some(v.clone())
        }
        Some(_) => return Err(invalid("discount_rules")),
    };
    Ok(GroupPatch {
        name,
        is_default: bool_field(fields, "is_default")?,
        category_access,
        discount_rules,
        is_group_for_guests: bool_field(fields, "is_group_for_guests")?,
    })
}
