//! The list filters whose meaning is exact (`email`, `customer_group_id`), checked on every
//! customer a store lists for them: a store that ignores a filter (bigcommerce-api.md §16.8
//! cites a client that got every order back from an ignored date filter) would otherwise have
//! `set-group --filter email=X` move every customer of the store, and a filtered export write
//! customers it was not asked for with exit 0. The first customer outside them fails the walk,
//! before anything is done with it. Names, company and phone are not checked: whether the
//! store matches them exactly is undocumented.

use super::error::{ApiError, ErrorKind};
use super::filters::{Filters, Name, Value};
use super::store::Page;

/// The exact filters of one walk (none: every page passes).
#[derive(Debug, Clone, Default)]
pub struct Matching {
    /// Compared without case (V3's `email:in` case rule is unverified, bigcommerce-v3.md §19.5).
    email: Option<String>,
    group: Option<u64>,
}

impl Matching {
    /// The exact filters among the user's (the same under every API).
    pub fn of(filters: &Filters) -> Matching {
        let mut m = Matching::default();
        for (name, value) in &filters.fields {
            match (name, value) {
                (Name::Email, Value::Text(e)) => m.email = Some(e.clone()),
                (Name::CustomerGroupId, Value::Id(g)) => m.group = Some(*g),
                _ => {}
            }
        }
        m
    }

    /// The page, or an error naming its first customer outside the filters.
    pub fn check(&self, page: Page) -> Result<Page, ApiError> {
        let outside = page.customers.iter().find(|c| {
            let email_differs = self
                .email
                .as_ref()
                .is_some_and(|e| !c.email.trim().eq_ignore_ascii_case(e));
            email_differs || self.group.is_some_and(|g| c.customer_group_id != g)
        });
        match outside {
            None => Ok(page),
            Some(c) => Err(ApiError {
                what: "GET /customers".into(),
                kind: ErrorKind::Decode {
                    message: format!(
                        "the store listed customer #{} ({}, group {}), which does not match the filter: it ignores the filter",
                        c.id, c.email, c.customer_group_id
                    ),
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Customer;

    fn page(email: &str, group: u64) -> Page {
        Page {
            customers: vec![Customer {
                id: 7,
                email: email.into(),
                customer_group_id: group,
                ..Customer::default()
            }],
            addresses: None,
        }
    }

    #[test]
    fn only_customers_outside_an_exact_filter_fail() {
        let of = |fields: Vec<(Name, Value)>| {
            Matching::of(&Filters {
                fields,
                ..Filters::default()
            })
        };
        let m = of(vec![
            (Name::Email, Value::Text("Ann@X.com".into())),
            (Name::CustomerGroupId, Value::Id(2)),
        ]);
        assert!(m.check(page("ann@x.com", 2)).is_ok());
        let err = m.check(page("bob@x.com", 2)).unwrap_err();
        assert!(err.message().contains("ignores the filter"), "{err}");
        assert!(m.check(page("ann@x.com", 3)).is_err());
        // No exact filter (names are not checked): every page passes.
        let email = of(vec![(Name::Email, Value::Text("ann@x.com".into()))]);
        assert!(email.check(page("bob@x.com", 9)).is_err());
        let names = of(vec![(Name::FirstName, Value::Text("Ann".into()))]);
        assert!(names.check(page("bob@x.com", 9)).is_ok());
    }
}
