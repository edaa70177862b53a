//! The user's customer filters (`--filter KEY=VALUE`, `--since`), API-neutral: typed values
//! checked once by `cmd::parse_filters` before any request. Each backend encodes them in
//! its own terms: V2 as its list parameters with RFC-2822 dates (`api::v2::pages::Query`),
//! V3 under its own names with ISO-8601 dates, refusing what it cannot express
//! (`api::v3::Filters`); the store seam (`store::Selection`) picks the one of the run's API.

use chrono::{DateTime, Utc};

/// A field filter, named as the command line names it (`--filter email=…`), which is how
/// messages quote it whatever the backend calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    Email,
    FirstName,
    LastName,
    Company,
    Phone,
    CustomerGroupId,
    MinDateCreated,
    MaxDateCreated,
    MinDateModified,
    MaxDateModified,
    TaxExemptCategory,
    StoreCredit,
}

/// What a filter's value is, and so how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Id,
    Decimal,
    Date,
}

impl Name {
    pub const ALL: [Name; 12] = [
        Name::Email,
        Name::FirstName,
        Name::LastName,
        Name::Company,
        Name::Phone,
        Name::CustomerGroupId,
        Name::MinDateCreated,
        Name::MaxDateCreated,
        Name::MinDateModified,
        Name::MaxDateModified,
        Name::TaxExemptCategory,
        Name::StoreCredit,
    ];

    /// The filter a command-line name (lowercase) names.
    pub fn from_cli(name: &str) -> Option<Name> {
        Name::ALL.into_iter().find(|n| n.as_str() == name)
    }

    /// The filter's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Name::Email => "email",
            Name::FirstName => "first_name",
            Name::LastName => "last_name",
            Name::Company => "company",
            Name::Phone => "phone",
            Name::CustomerGroupId => "customer_group_id",
            Name::MinDateCreated => "min_date_created",
            Name::MaxDateCreated => "max_date_created",
            Name::MinDateModified => "min_date_modified",
            Name::MaxDateModified => "max_date_modified",
            Name::TaxExemptCategory => "tax_exempt_category",
            Name::StoreCredit => "store_credit",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Name::Email
            | Name::FirstName
            | Name::LastName
            | Name::Company
            | Name::Phone
            | Name::TaxExemptCategory => Kind::Text,
            Name::CustomerGroupId => Kind::Id,
            Name::StoreCredit => Kind::Decimal,
            Name::MinDateCreated
            | Name::MaxDateCreated
            | Name::MinDateModified
            | Name::MaxDateModified => Kind::Date,
        }
    }
}

/// A checked value, of its filter's [`Kind`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Trimmed, never empty.
    Text(String),
    Id(u64),
    /// Normalised (`12.50` → `12.5`: `mapping::row::normalise_decimal`).
    Decimal(String),
    Date(DateTime<Utc>),
}

impl Value {
    /// The value as a query parameter: text and numbers as they are, a date as `date`
    /// writes it (each backend's own date format).
    pub fn param(&self, date: impl Fn(&DateTime<Utc>) -> String) -> String {
        match self {
            Value::Text(s) | Value::Decimal(s) => s.clone(),
            Value::Id(n) => n.to_string(),
            Value::Date(d) => date(d),
        }
    }
}

/// The filters of one read: field filters in the order given, and the id bounds, which are
/// apart because a pager reads by id itself (V2 pages by `min_id`/`max_id`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// At most one per [`Name`].
    pub fields: Vec<(Name, Value)>,
    /// The lowest id wanted (`--filter min_id=`).
    pub min_id: Option<u64>,
    /// The highest id wanted (`--filter max_id=`).
    pub max_id: Option<u64>,
}

impl Filters {
    /// The same filters, also asking that customers were last modified at or before
    /// `before`, unless the user's own `max_date_modified` is earlier (the export's
    /// completeness check counts the customers unchanged since it began: `Reader::
    /// count_unchanged_since`). The bound replaces the user's and goes last.
    pub fn modified_at_or_before(&self, before: DateTime<Utc>) -> Filters {
        let mut out = self.clone();
        let user = out
            .fields
            .iter()
            .position(|(n, _)| *n == Name::MaxDateModified);
        if let Some(i) = user {
            if matches!(out.fields[i].1, Value::Date(d) if d <= before) {
                return out;
            }
            out.fields.remove(i);
        }
        out.fields
            .push((Name::MaxDateModified, Value::Date(before)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// The completeness bound: (the user's max_date_modified, the bound) → what is asked.
    #[test]
    fn the_completeness_bound_keeps_an_earlier_user_bound_and_goes_last() {
        let cases: &[(Option<&str>, &str, &str)] = &[
            (None, "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
            (
                Some("2024-05-01T00:00:00Z"),
                "2025-01-01T00:00:00Z",
                "2024-05-01T00:00:00Z",
            ),
            (
                Some("2024-05-01T00:00:00Z"),
                "2024-05-01T00:00:00Z",
                "2024-05-01T00:00:00Z",
            ),
            (
                Some("2024-05-01T00:00:00Z"),
                "2020-01-01T00:00:00Z",
                "2020-01-01T00:00:00Z",
            ),
        ];
        for (user, before, want) in cases {
            let mut f = Filters::default();
            if let Some(u) = user {
                f.fields.push((Name::MaxDateModified, Value::Date(at(u))));
            }
            f.fields
                .push((Name::Email, Value::Text("a@example.com".into())));
            let bounded = f.modified_at_or_before(at(before));
            let dates: Vec<&(Name, Value)> = bounded
                .fields
                .iter()
                .filter(|(n, _)| *n == Name::MaxDateModified)
                .collect();
            assert_eq!(
                dates,
                [&(Name::MaxDateModified, Value::Date(at(want)))],
                "{user:?} {before}"
            );
            assert_eq!(bounded.fields.len(), 2, "{user:?} {before}");
        }
    }
}
