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
use super::filters::{self, Name, Value};
use crate::exit::UsageError;

/// Customers per page (`limit`). customers.v3.yml states no maximum for `limit`; every
/// client surveyed uses 250 and what V3 does above it is unverified (bigcommerce-v3.md §1.8,
/// §4), so 250, the same as V2's documented maximum.
pub const PAGE: u64 = 250;

/// Customers that may be created during one walk on top of twice the count of its start
/// (the V2 pager's bound too): customers do not sign up that fast, a store that keeps sending
/// new ones is inventing them.
pub const MAX_CREATED_DURING: u64 = 10_000;

/// The filters V3 can express, under their V3 names (§4, §13.1). V2 takes one value; V3's
/// `:in` filters take a comma list, so one value is a list of one.
const NAMES: &[(Name, &str)] = &[
    (Name::Email, "email:in"),
    (Name::Company, "company:in"),
    (Name::Phone, "phone:in"),
    (Name::CustomerGroupId, "customer_group_id:in"),
    (Name::MinDateCreated, "date_created:min"),
    (Name::MaxDateCreated, "date_created:max"),
    (Name::MinDateModified, "date_modified:min"),
    (Name::MaxDateModified, "date_modified:max"),
];

/// The user's filters as V3 query parameters, validated once (before any request).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// `(V3 name, value)`, dates as ISO-8601 UTC.
    params: Vec<(&'static str, String)>,
    /// The neutral filters these encode (none for an id list alone: the address pages), for
    /// the rules that are the same under every API (the completeness bound, the exact
    /// filters of `api::matching`).
    source: filters::Filters,
}

impl Filters {
    /// Encode the neutral filters. A filter V3 cannot express is a usage error naming it:
    /// V3 has no id range (`id:min`/`id:max` are not in SPEC3, §4), no first/last-name filter
    /// of its own (`name:in` matches "first last" together), none on the tax category or the
    /// store credit. Answering those anyway (client-side, or by ignoring them) would make
    /// `count` and `export` disagree with `--api v2` for the same command line.
    pub fn from_filters(f: &filters::Filters) -> Result<Filters, UsageError> {
        refuse(f)?;
        Ok(Filters::encoded(f))
    }

    /// `f` under V3's names, once [`refuse`] has passed it (each field has a V3 name).
    fn encoded(f: &filters::Filters) -> Filters {
        let params = f
            .fields
            .iter()
            .filter_map(|(name, value)| Some((v3_name(*name)?, v3_value(value))))
            .collect();
        Filters {
            params,
            source: f.clone(),
        }
    }

    /// An id list alone (`customer_id:in` of the address pages).
    pub(crate) fn customer_ids(ids: &str) -> Filters {
        Filters {
            params: vec![("customer_id:in", ids.to_string())],
            source: filters::Filters::default(),
        }
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

    /// The neutral filters (what `api::matching` checks each listed customer against).
    pub fn filters(&self) -> &filters::Filters {
        &self.source
    }

    /// The same filters with `date_modified:max` set to `before`, unless the user's own is
    /// earlier (for the export's completeness check: [`filters::Filters::modified_at_or_before`]).
    pub fn modified_at_or_before(&self, before: chrono::DateTime<chrono::Utc>) -> Filters {
        // Adding a date bound keeps the filters expressible in V3 (it has date_modified:max).
        Filters::encoded(&self.source.modified_at_or_before(before))
    }
}

/// What V3 cannot be asked, as a usage error naming it (see [`Filters::from_filters`]).
fn refuse(f: &filters::Filters) -> Result<(), UsageError> {
    let unsupported = |name: &str| {
        let names: Vec<&str> = NAMES.iter().map(|(n, _)| n.as_str()).collect();
        UsageError(format!(
            "filter {name} cannot be expressed in the Customers V3 API (its list filters here: {}); use --api v2",
            names.join(", ")
        ))
    };
    if f.min_id.is_some() {
        return Err(unsupported("min_id"));
    }
    if f.max_id.is_some() {
        return Err(unsupported("max_id"));
    }
    for (name, value) in &f.fields {
        if v3_name(*name).is_none() {
            return Err(unsupported(name.as_str()));
        }
        if let Value::Text(v) | Value::Decimal(v) = value {
            // V3 reads a comma as a list separator (`explode: false`, §4): `a,b` would
            // match either value instead of the one given.
            if v.contains(',') {
                return Err(UsageError(format!(
                    "filter {}={v:?}: a comma cannot be sent to the V3 API (it separates a list there); use --api v2",
                    name.as_str()
                )));
            }
        }
    }
    Ok(())
}

/// A filter's V3 name, if V3 has the filter.
fn v3_name(name: Name) -> Option<&'static str> {
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, v3)| *v3)
}

/// A filter's value as V3 reads it: dates as ISO-8601 (V3 shows and takes them so).
fn v3_value(value: &Value) -> String {
    value.param(|d| iso(*d))
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

    /// Neutral filters from `(name, value)`: dates in RFC-2822 or RFC-3339, ids as numbers.
    fn query(filters: &[(&str, &str)]) -> filters::Filters {
        let value = |name: Name, v: &str| match name.kind() {
            filters::Kind::Date => Value::Date(
                chrono::DateTime::parse_from_rfc2822(v)
                    .or_else(|_| chrono::DateTime::parse_from_rfc3339(v))
                    .unwrap()
                    .with_timezone(&chrono::Utc),
            ),
            filters::Kind::Id => Value::Id(v.parse().unwrap()),
            filters::Kind::Decimal => Value::Decimal(v.into()),
            filters::Kind::Text => Value::Text(v.into()),
        };
        filters::Filters {
            fields: filters
                .iter()
                .map(|(k, v)| {
                    let name = Name::from_cli(k).unwrap();
                    (name, value(name, v))
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn filters_translate_to_v3_names_and_encoding() {
        let f = Filters::from_filters(&query(&[
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

    /// Each filter V3 has, one at a time: its V3 name and its value as sent (dates ISO-8601
    /// UTC with a `Z`, whatever offset the user gave).
    #[test]
    fn each_filter_v3_has_is_sent_under_its_v3_name() {
        let cases = [
            ("email", "ann@example.com", "email:in=ann%40example.com"),
            ("company", "Acme Ltd", "company:in=Acme%20Ltd"),
            ("phone", "+1 555", "phone:in=%2B1%20555"),
            ("customer_group_id", "7", "customer_group_id:in=7"),
            (
                "min_date_created",
                "2024-05-01T15:00:00+02:00",
                "date_created:min=2024-05-01T13:00:00Z",
            ),
            (
                "max_date_created",
                "Wed, 1 May 2024 09:00:00 -0400",
                "date_created:max=2024-05-01T13:00:00Z",
            ),
            (
                "min_date_modified",
                "2024-05-01T00:00:00Z",
                "date_modified:min=2024-05-01T00:00:00Z",
            ),
            (
                "max_date_modified",
                "2024-12-31T23:59:59Z",
                "date_modified:max=2024-12-31T23:59:59Z",
            ),
        ];
        for (name, value, sent) in cases {
            let f = Filters::from_filters(&query(&[(name, value)])).unwrap();
            assert_eq!(f.query(&[]), sent, "{name}");
        }
        assert_eq!(cases.len(), NAMES.len(), "a case per V3 filter");
    }

    /// What V3 cannot be asked, and the start of the usage error that says so.
    #[test]
    fn each_filter_v3_lacks_is_refused_with_its_message() {
        let refused = |f: &filters::Filters| Filters::from_filters(f).unwrap_err().0;
        let cannot = |name: &str| {
            format!("filter {name} cannot be expressed in the Customers V3 API (its list filters here: email, company, phone, customer_group_id, min_date_created, max_date_created, min_date_modified, max_date_modified); use --api v2")
        };
        let cases: [(&[(&str, &str)], String); 6] = [
            (&[("first_name", "Ann")], cannot("first_name")),
            (&[("last_name", "Lee")], cannot("last_name")),
            (&[("tax_exempt_category", "A")], cannot("tax_exempt_category")),
            (&[("store_credit", "1.5")], cannot("store_credit")),
            (
                &[("company", "a,b")],
                "filter company=\"a,b\": a comma cannot be sent to the V3 API (it separates a list there); use --api v2".into(),
            ),
            // The first refusal in the order given.
            (
                &[("email", "a@b.c"), ("phone", "1,2"), ("first_name", "x")],
                "filter phone=\"1,2\": a comma cannot be sent to the V3 API (it separates a list there); use --api v2".into(),
            ),
        ];
        for (given, message) in cases {
            assert_eq!(refused(&query(given)), message, "{given:?}");
        }
        let ids = |min_id, max_id| filters::Filters {
            min_id,
            max_id,
            ..Default::default()
        };
        assert_eq!(refused(&ids(Some(5), None)), cannot("min_id"));
        assert_eq!(refused(&ids(None, Some(5))), cannot("max_id"));
        assert_eq!(refused(&ids(Some(1), Some(5))), cannot("min_id"));
    }

    #[test]
    fn what_v3_cannot_express_is_a_usage_error_naming_it() {
        for name in [
            "first_name",
            "last_name",
            "tax_exempt_category",
            "store_credit",
        ] {
            let err = Filters::from_filters(&query(&[(name, "x")])).unwrap_err();
            assert!(
                err.0.contains(name) && err.0.contains("--api v2"),
                "{}",
                err.0
            );
        }
        let q = filters::Filters {
            min_id: Some(5),
            ..Default::default()
        };
        let err = Filters::from_filters(&q).unwrap_err();
        assert!(err.0.contains("min_id"));
        assert!(Filters::from_filters(&query(&[("company", "a,b")])).is_err());
    }

    #[test]
    fn the_completeness_bound_keeps_an_earlier_user_bound() {
        let t = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        let f = Filters::from_filters(&query(&[(
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
