//! The V2 API's routes: request validation (read-only and unknown fields, required fields,
//! types, email syntax, passwords), filters and paging, and the V2 error shapes, applied to the
//! store; `/v3/...` requests are handed to `sandbox/v3`.
//!
//! Handlers are synchronous: they take the store lock, do their work and render the JSON
//! before releasing it, and never hold it across an await.
//!
//! Layout: this file holds the routes, the reply type and the dispatch; `fields` the error
//! replies and body field checks; `query` query strings, dates and amounts; `customers`,
//! `addresses` and `groups` the routes of each resource.

mod addresses;
mod customers;
mod fields;
mod groups;
mod query;

use axum::body::Body;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use super::server::Shared;
pub(crate) use customers::{acceptable_password, valid_email};
use query::Query;
pub(crate) use query::{parse_credit, parse_date};

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
        // serde_json::to_vec's own starting size.
        Reply::json_sized(status, value, 128)
    }

    /// [`Reply::json`] into a buffer of `size` bytes to begin with (a big answer).
    pub fn json_sized<T: Serialize + ?Sized>(status: StatusCode, value: &T, size: usize) -> Reply {
        let mut body = Vec::with_capacity(size);
        serde_json::to_writer(&mut body, value).expect("serializing sandbox JSON");
        Reply {
            status,
            content_type: Some("application/json"),
            body,
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

/// Route one authorised request that got past quota and fault injection.
pub(crate) fn dispatch(shared: &Shared, req: &ApiRequest<'_>) -> Reply {
    let Some(route) = req.route else {
        return fields::not_found();
    };
    if let Some(reply) = unsupported_media_type(route, req) {
        return reply;
    }
    let query = Query::parse(req.query);
    let (method, body) = (req.method, req.body);
    let result = match route {
        Route::V3(v3_route) => return super::v3::dispatch(shared, v3_route, req),
        Route::Customers | Route::CustomersCount | Route::Customer(_) | Route::Validate(_) => {
            customers::dispatch(shared, method, route, &query, body)
        }
        Route::Addresses(_) | Route::AddressesCount(_) | Route::Address(..) => {
            addresses::dispatch(shared, method, route, &query, body)
        }
        Route::Groups | Route::GroupsCount | Route::Group(_) => {
            groups::dispatch(shared, method, route, &query, body)
        }
    };
    result.unwrap_or_else(|error| error)
}

/// A POST or PUT whose body is not JSON: 415, in the error shape of its API.
fn unsupported_media_type(route: Route, req: &ApiRequest<'_>) -> Option<Reply> {
    if !matches!(req.method, &Method::POST | &Method::PUT) {
        return None;
    }
    let is_json = req
        .content_type
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    if req.body.is_empty() || is_json {
        return None;
    }
    let (status, message) = (
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "The Content-Type header must be application/json.",
    );
    Some(match route {
        Route::V3(_) => super::v3::error(status, message),
        _ => Reply::error(status, message),
    })
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
