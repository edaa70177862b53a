//! One file per subcommand, each "args → run". Shared helpers for them live here.
pub mod bench;
pub mod columns;
pub mod count;
pub mod delete;
pub mod demo;
pub mod export;
pub mod groups;
pub mod import;
pub mod sandbox;
pub mod set_group;
pub mod targets;
pub mod validate_password;

use std::collections::HashMap;

use crate::api::filters::{Filters, Kind, Name, Value};
use crate::api::{ApiError, Client, Group};
use crate::settings::Settings;

/// The client for the run's store (its connection was validated when the settings were built).
pub fn connect(g: &Settings) -> anyhow::Result<Client> {
    g.client()
}

/// The store refused the credentials: fatal for the run. A type, so that the row engine can
/// tell that nothing the refused requests asked for happened (see `rows::RowRun::fatal`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthRefused(pub String);

/// Turn an auth failure, or a 404 on a collection (only a store that does not exist answers
/// that), into a fatal run error with advice; other errors pass through.
pub fn fatal_if_auth(e: ApiError) -> anyhow::Error {
    let said = said(&e);
    if e.is_auth() {
        AuthRefused(format!(
            "{said}: check the access token, its OAuth scopes (Customers: modify) and the store hash"
        ))
        .into()
    } else if e.status() == Some(404) && is_collection(&e.what) {
        anyhow::anyhow!(
            "{said}: check the store hash (--store-hash or BIGCOMMERCE_STORE_HASH: the short code in your API path /stores/HASH/v2), and that --api-url is only the API's base (https://api.bigcommerce.com)"
        )
    } else {
        anyhow::Error::new(e)
    }
}

/// The error as a sentence that advice can follow after a colon: the store's message often
/// ends in a full stop, and "valid.: check" reads badly.
pub fn said(e: &ApiError) -> String {
    e.to_string().trim_end().trim_end_matches('.').to_string()
}

/// A route naming no single record (`GET /customers`, `GET /customers/count`,
/// `GET /customer_groups`): a 404 there means the store itself was not found.
fn is_collection(what: &str) -> bool {
    !what.split(['/', ' ']).any(|seg| {
        seg.starts_with('{') || (!seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Like [`fatal_if_auth`] for `/customer_groups`, where a 403 usually means the store's plan
/// has no customer groups rather than a bad token (the token's other requests worked).
pub fn fatal_for_groups(e: ApiError) -> anyhow::Error {
    if e.status() == Some(403) {
        anyhow::anyhow!(
            "{}: this store's plan has no customer groups (or the token lacks the Customers scope)",
            said(&e)
        )
    } else {
        fatal_if_auth(e)
    }
}

/// The store's customer groups, read once per run (never once per row).
#[derive(Debug, Default, Clone)]
pub struct GroupBook {
    /// False when the store's plan has no customer groups (the endpoint answers 403).
    pub available: bool,
    by_id: HashMap<u64, String>,
    by_name: HashMap<String, u64>,
}

impl GroupBook {
    pub async fn load(client: &Client) -> anyhow::Result<GroupBook> {
        match client.groups().await {
            Ok(groups) => {
                let mut book = GroupBook {
                    available: true,
                    ..Default::default()
                };
                for g in groups {
                    book.add(&g);
                }
                Ok(book)
            }
            // A plan without customer groups answers 403 on /customer_groups only. A 404 there
            // is a store that does not exist (a wrong store hash): fatal, with that advice.
            Err(e) if e.status() == Some(403) => Ok(GroupBook::default()),
            Err(e) => Err(fatal_if_auth(e)),
        }
    }

    pub fn add(&mut self, g: &Group) {
        self.by_id.insert(g.id, g.name.clone());
        self.by_name.insert(g.name.trim().to_lowercase(), g.id);
    }

    pub fn name_of(&self, id: u64) -> Option<&str> {
        self.by_id.get(&id).map(String::as_str)
    }

    /// Group names match case-insensitively, ignoring surrounding spaces.
    pub fn id_of(&self, name: &str) -> Option<u64> {
        self.by_name.get(&name.trim().to_lowercase()).copied()
    }

    pub fn has_id(&self, id: u64) -> bool {
        self.by_id.contains_key(&id)
    }
}

/// What `--filter KEY=VALUE` accepts, in the order the usage error lists them: the field
/// filters and, between them, the id bounds.
#[derive(Clone, Copy)]
enum Key {
    Field(Name),
    MinId,
    MaxId,
}

const FILTERS: &[Key] = &[
    Key::Field(Name::Email),
    Key::Field(Name::FirstName),
    Key::Field(Name::LastName),
    Key::Field(Name::Company),
    Key::Field(Name::Phone),
    Key::Field(Name::CustomerGroupId),
    Key::MinId,
    Key::MaxId,
    Key::Field(Name::MinDateCreated),
    Key::Field(Name::MaxDateCreated),
    Key::Field(Name::MinDateModified),
    Key::Field(Name::MaxDateModified),
    Key::Field(Name::TaxExemptCategory),
    Key::Field(Name::StoreCredit),
];

impl Key {
    fn as_str(self) -> &'static str {
        match self {
            Key::Field(name) => name.as_str(),
            Key::MinId => "min_id",
            Key::MaxId => "max_id",
        }
    }
}

/// Turn `--filter KEY=VALUE …` and `--since` into checked, typed filters (each backend
/// encodes them: `api::store::Selection`); a bad key or value is a usage error before any
/// request.
pub fn parse_filters(raw: &[String], since: Option<&str>) -> anyhow::Result<Filters> {
    use crate::exit::UsageError;
    let mut q = Filters::default();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for f in raw {
        let Some((k, v)) = f.split_once('=') else {
            return Err(UsageError(format!("--filter {f:?} is not KEY=VALUE")).into());
        };
        pairs.push((k.trim().to_lowercase(), v.trim().to_string()));
    }
    if let Some(s) = since {
        pairs.push(("min_date_modified".into(), s.trim().to_string()));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in pairs {
        if !seen.insert(k.clone()) {
            let hint = if k == "min_date_modified" && since.is_some() {
                " (--since sets min_date_modified)"
            } else {
                ""
            };
            return Err(UsageError(format!("filter {k} is given twice{hint}")).into());
        }
        if v.is_empty() {
            return Err(UsageError(format!(
                "filter {k} has an empty value (the API would ignore it or match empty {k}s)"
            ))
            .into());
        }
        let Some(key) = FILTERS.iter().find(|key| key.as_str() == k) else {
            let names: Vec<&str> = FILTERS.iter().map(|key| key.as_str()).collect();
            return Err(UsageError(format!(
                "unknown filter {k:?}; the V2 list filters are: {}",
                names.join(", ")
            ))
            .into());
        };
        let whole = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| UsageError(format!("filter {k}={v:?}: expected a whole number")))
        };
        let name = match *key {
            Key::MinId => {
                q.min_id = Some(whole(&v)?);
                continue;
            }
            Key::MaxId => {
                q.max_id = Some(whole(&v)?);
                continue;
            }
            Key::Field(name) => name,
        };
        let value = match name.kind() {
            Kind::Text => Value::Text(v),
            Kind::Id => Value::Id(whole(&v)?),
            Kind::Decimal => Value::Decimal(
                crate::mapping::row::normalise_decimal(&v).ok_or_else(|| {
                    UsageError(format!("filter {k}={v:?}: expected a decimal number"))
                })?,
            ),
            Kind::Date => Value::Date(parse_datetime(&v).ok_or_else(|| {
                UsageError(format!(
                    "filter {k}={v:?}: not a date; use ISO-8601 (2024-05-01, 2024-05-01T13:00:00Z) or RFC-2822"
                ))
            })?),
        };
        q.fields.push((name, value));
    }
    Ok(q)
}

/// ISO-8601 (date, or date and time with or without an offset; UTC assumed) or RFC-2822.
pub fn parse_datetime(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parsed filters as V2 sends them: the values' normal forms (dates in RFC-2822)
    /// are the V2 encoding's, so the test reads them through it.
    #[derive(Debug)]
    struct Sent {
        filters: Vec<(String, String)>,
        min_id: Option<u64>,
        max_id: Option<u64>,
    }

    fn parse(raw: &[&str], since: Option<&str>) -> anyhow::Result<Sent> {
        let raw: Vec<String> = raw.iter().map(|s| s.to_string()).collect();
        let f = parse_filters(&raw, since)?;
        let v2 = crate::api::v2::pages::Query::new(&f);
        Ok(Sent {
            filters: v2
                .filter_params()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            min_id: f.min_id,
            max_id: f.max_id,
        })
    }

    fn usage_message(raw: &[&str], since: Option<&str>) -> String {
        let err = parse(raw, since).unwrap_err();
        assert!(err.is::<crate::exit::UsageError>(), "{err:#}");
        format!("{err:#}")
    }

    #[test]
    fn filters_are_validated_and_normalised() {
        let q = parse(
            &[
                " Email = A@Example.com ",
                "customer_group_id=2",
                "min_id=10",
                "max_id=20",
                "store_credit=12.50",
                "min_date_created=2024-05-01",
            ],
            Some("2024-05-01T15:00:00+02:00"),
        )
        .unwrap();
        assert_eq!((q.min_id, q.max_id), (Some(10), Some(20)));
        let get = |k: &str| {
            q.filters
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("email").as_deref(), Some("A@Example.com"));
        assert_eq!(get("customer_group_id").as_deref(), Some("2"));
        assert_eq!(
            get("min_date_created").as_deref(),
            Some("Wed, 1 May 2024 00:00:00 +0000")
        );
        assert_eq!(
            get("min_date_modified").as_deref(),
            Some("Wed, 1 May 2024 13:00:00 +0000")
        );
        assert!(get("store_credit").is_some());
    }

    #[test]
    fn bad_filters_are_usage_errors() {
        assert!(usage_message(&["colour=red"], None).contains("unknown filter"));
        assert!(usage_message(&["page=2"], None).contains("unknown filter"));
        assert!(usage_message(&["email"], None).contains("KEY=VALUE"));
        assert!(usage_message(&["email="], None).contains("empty value"));
        assert!(usage_message(&["min_id=x"], None).contains("whole number"));
        assert!(usage_message(&["store_credit=lots"], None).contains("decimal"));
        assert!(usage_message(&["max_date_modified=tomorrow"], None).contains("not a date"));
        assert!(usage_message(&[], Some("2024-02-30")).contains("not a date"));
        assert!(usage_message(&["email=a@b.c", "EMAIL=d@e.f"], None).contains("twice"));
        assert!(
            usage_message(&["min_date_modified=2024-01-01"], Some("2024-02-01"))
                .contains("--since")
        );
    }

    #[test]
    fn datetimes_in_every_documented_shape() {
        let want = "2024-05-01T13:00:00Z";
        for s in [
            "2024-05-01T13:00:00Z",
            "2024-05-01T15:00:00+02:00",
            "2024-05-01T13:00:00",
            "2024-05-01 13:00:00",
            "2024-05-01T13:00",
            "Wed, 01 May 2024 13:00:00 +0000",
            "Wed, 01 May 2024 09:00:00 -0400",
        ] {
            assert_eq!(
                parse_datetime(s).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                Some(want.to_string()),
                "{s}"
            );
        }
        assert_eq!(
            parse_datetime("2024-05-01").unwrap().to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        assert!(parse_datetime("05/01/2024").is_none());
        assert!(parse_datetime("").is_none());
    }
}
