//! The Customers V3 backend (`--api v3`): for reads, filters in V3's names, the count, and the
//! customer list walked by cursor with addresses embedded (reference/bigcommerce-v3.md §4, §17);
//! for writes, batches of up to 10 customers per request (§5–8, §14, §20).
//!
//! - [`models`]: serde types for what `GET /v3/customers` sends, turned into the same
//!   [`Customer`](crate::api::Customer) and [`Address`](crate::api::Address) the V2 export
//!   writes, so one CSV writer serves both APIs byte for byte.
//! - [`pages`]: the export's walk over every matching customer, with the V2 pager's checks.
//! - [`write`]: the write requests (`POST`/`PUT`/`DELETE /v3/customers`, address batches,
//!   the `email:in` lookup) and the reading of a 422 into the items it names.
//! - [`batch`]: per-item writes gathered into batches of ≤ 10, with per-item results
//!   (`isolate` runs one batch: failure isolation and reconciliation).
//! - [`encode`]: the mapping's rows as V3 bodies.
//! - `credit`: store credit on PUT under a store that sets the balance or adds to it
//!   (§19.6 is open), learned once per run.
//!
//! Requests go through the one [`Client`] (same token, same quota and pacing as V2: §1.7);
//! only the path root and the query encoding differ.

pub mod batch;
mod credit;
pub mod encode;
mod isolate;
pub mod models;
pub mod pages;
pub mod read;
pub mod write;

use super::client::Client;
use super::error::{ApiError, ErrorKind};
use super::v2::pages::Query;
use crate::exit::UsageError;

/// The export's V2 filter names and their V3 counterparts (§4, §13.1). V2 takes one value;
/// V3's `:in` filters take a comma list, so one value is a list of one.
const FILTERS: &[(&str, &str)] = &[
    ("email", "email:in"),
    ("company", "company:in"),
    ("phone", "phone:in"),
    ("customer_group_id", "customer_group_id:in"),
    ("min_date_created", "date_created:min"),
    ("max_date_created", "date_created:max"),
    ("min_date_modified", "date_modified:min"),
    ("max_date_modified", "date_modified:max"),
];

/// The user's filters as V3 query parameters, validated once (before any request).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// `(V3 name, value)`, dates as ISO-8601 UTC.
    params: Vec<(&'static str, String)>,
}

impl Filters {
    /// Translate the validated V2 query. A filter V3 cannot express is a usage error naming it:
    /// V3 has no id range (`id:min`/`id:max` are not in SPEC3, §4), no first/last-name filter
    /// of its own (`name:in` matches "first last" together), none on the tax category or the
    /// store credit. Answering those anyway (client-side, or by ignoring them) would make
    /// `count` and `export` disagree with `--api v2` for the same command line.
    pub fn from_query(q: &Query) -> Result<Filters, UsageError> {
        let unsupported = |name: &str| {
            let names: Vec<&str> = FILTERS.iter().map(|(v2, _)| *v2).collect();
            UsageError(format!(
                "filter {name} cannot be expressed in the Customers V3 API (its list filters here: {}); use --api v2",
                names.join(", ")
            ))
        };
        if q.min_id.is_some() {
            return Err(unsupported("min_id"));
        }
        if q.max_id.is_some() {
            return Err(unsupported("max_id"));
        }
        let mut params = Vec::new();
        for (k, v) in &q.filters {
            let Some((_, v3)) = FILTERS.iter().find(|(v2, _)| v2 == k) else {
                return Err(unsupported(k));
            };
            let value = if v3.starts_with("date_") {
                // `parse_filters` left dates as RFC-2822 for V2; V3 shows and takes ISO-8601.
                chrono::DateTime::parse_from_rfc2822(v)
                    .map(|d| iso(d.with_timezone(&chrono::Utc)))
                    .map_err(|_| UsageError(format!("filter {k}={v:?}: not a date")))?
            } else if v.contains(',') {
                // V3 reads a comma as a list separator (`explode: false`, §4): `a,b` would
                // match either value instead of the one given.
                return Err(UsageError(format!(
                    "filter {k}={v:?}: a comma cannot be sent to the V3 API (it separates a list there); use --api v2"
                )));
            } else {
                v.clone()
            };
            params.push((*v3, value));
        }
        Ok(Filters { params })
    }

    /// The query string: these filters, then `extra`, encoded for V3 (see [`encode`]).
    pub fn query(&self, extra: &[(&str, String)]) -> String {
        let mut out = String::new();
        for (k, v) in self
            .params
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(extra.iter().map(|(k, v)| (*k, v.as_str())))
        {
            if !out.is_empty() {
                out.push('&');
            }
            encode(k, &mut out);
            out.push('=');
            encode(v, &mut out);
        }
        out
    }

    /// The same filters with `date_modified:max` set to `before`, unless the user's own is
    /// earlier (for the export's completeness check, as V2's `count_unchanged_since`).
    pub fn modified_at_or_before(&self, before: chrono::DateTime<chrono::Utc>) -> Filters {
        let mut params = self.params.clone();
        let user = params.iter().position(|(k, _)| *k == "date_modified:max");
        let keep_user = user.is_some_and(|i| {
            chrono::DateTime::parse_from_rfc3339(&params[i].1)
                .map_or(true, |d| d.with_timezone(&chrono::Utc) <= before)
        });
        if !keep_user {
            if let Some(i) = user {
                params.remove(i);
            }
            params.push(("date_modified:max", iso(before)));
        }
        Filters { params }
    }
}

/// ISO-8601 UTC with a `Z` (no `+00:00`: a `+` would have to be encoded, §20.7).
fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Percent-encode all but the unreserved characters and the two V3 needs raw: `:` (in filter
/// names, and in date values, which the store does not decode: §4, bigcommerce/docs #620) and
/// `,` (the list separator). `+` becomes `%2B`, so an email `a+b@x` is not read as `a b@x`.
fn encode(text: &str, out: &mut String) {
    use std::fmt::Write as _;
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' | b',' => {
                out.push(char::from(b))
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// `id:in=1,2,3`: the filter of a read or a delete naming these customers.
fn ids_in(ids: &[u64]) -> String {
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    format!("id:in={}", list.join(","))
}

/// `email:in=a%2Bb@x.com,c@y.com`: each email percent-encoded by [`encode`], `,` between
/// them (so an email with a comma cannot be one of a list: callers send it alone).
fn emails_in<S: AsRef<str>>(emails: &[S]) -> String {
    let mut query = String::from("email:in=");
    for (i, e) in emails.iter().enumerate() {
        if i > 0 {
            query.push(',');
        }
        encode(e.as_ref(), &mut query);
    }
    query
}

/// The number of customers matching `filters`: `meta.pagination.total` of a one-customer
/// page (V3 has no count route; §4: the total comes with page-based requests).
pub async fn count(client: &Client, filters: &Filters) -> Result<u64, ApiError> {
    let reply = client
        .get_v3("/customers", &filters.query(&[("limit", "1".into())]))
        .await?;
    let page: models::CountPage = client.decode_aside("/v3/customers", reply.body).await?;
    page.total().ok_or_else(|| ApiError {
        what: "GET /v3/customers".into(),
        kind: ErrorKind::Decode {
            message: "the answer has no meta.pagination.total (a whole number of customers)".into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(filters: &[(&str, &str)]) -> Query {
        let mut q = Query::default();
        q.filters = filters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        q
    }

    #[test]
    fn filters_translate_to_v3_names_and_encoding() {
        let f = Filters::from_query(&query(&[
            ("email", "a+b@example.com"),
            ("customer_group_id", "2"),
            ("min_date_created", "Wed, 1 May 2024 13:00:00 +0200"),
        ]))
        .unwrap();
        assert_eq!(
            f.query(&[("limit", "1".into())]),
            "email:in=a%2Bb@example.com&customer_group_id:in=2&date_created:min=2024-05-01T11:00:00Z&limit=1"
                .replace('@', "%40")
        );
    }

    #[test]
    fn what_v3_cannot_express_is_a_usage_error_naming_it() {
        for name in [
            "first_name",
            "last_name",
            "tax_exempt_category",
            "store_credit",
        ] {
            let err = Filters::from_query(&query(&[(name, "x")])).unwrap_err();
            assert!(
                err.0.contains(name) && err.0.contains("--api v2"),
                "{}",
                err.0
            );
        }
        let mut q = Query::default();
        q.min_id = Some(5);
        let err = Filters::from_query(&q).unwrap_err();
        assert!(err.0.contains("min_id"));
        assert!(Filters::from_query(&query(&[("company", "a,b")])).is_err());
    }

    #[test]
    fn the_completeness_bound_keeps_an_earlier_user_bound() {
        let t = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        let f = Filters::from_query(&query(&[(
            "max_date_modified",
            "Wed, 1 May 2024 00:00:00 +0000",
        )]))
        .unwrap();
        let later = f.modified_at_or_before(t("2025-01-01T00:00:00Z"));
        assert_eq!(later.query(&[]), "date_modified:max=2024-05-01T00:00:00Z");
        let earlier = f.modified_at_or_before(t("2020-01-01T00:00:00Z"));
        assert_eq!(earlier.query(&[]), "date_modified:max=2020-01-01T00:00:00Z");
    }
}
