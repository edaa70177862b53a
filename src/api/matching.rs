//! The list filters whose meaning is exact (`email`, `customer_group_id`), checked on every
//! customer a store lists for them: a store that ignores a filter (bigcommerce-api.md §16.8
//! cites a client that got every order back from an ignored date filter) would otherwise have
//! `set-group --filter email=X` move every customer of the store, and a filtered export write
//! customers it was not asked for with exit 0. The first customer outside them fails the walk,
//! before anything is done with it. Names, company and phone are not checked: whether the
//! store matches them exactly is undocumented.

use super::error::{ApiError, ErrorKind};
use super::store::Page;

/// The exact filters of one walk (none: every page passes).
#[derive(Debug, Clone, Default)]
pub struct Matching {
    /// Compared without case (V3's `email:in` case rule is unverified, bigcommerce-v3.md §19.5).
    email: Option<String>,
    group: Option<u64>,
}

impl Matching {
    /// From a backend's encoded list parameters: V2's (`email`, `customer_group_id`) or
    /// V3's (`email:in`, `customer_group_id:in`, one value each: the encoding refuses a
    /// comma).
    pub fn of(params: &[(&str, String)]) -> Matching {
        let value = |keys: [&str; 2]| {
            params
                .iter()
                .find(|(k, _)| keys.contains(k))
                .map(|(_, v)| v.trim().to_string())
        };
        Matching {
            email: value(["email", "email:in"]),
            group: value(["customer_group_id", "customer_group_id:in"])
                .and_then(|g| g.parse().ok()),
        }
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
        let m = Matching::of(&[
            ("email:in", "Ann@X.com".into()),
            ("customer_group_id:in", "2".into()),
        ]);
        assert!(m.check(page("ann@x.com", 2)).is_ok());
        let err = m.check(page("bob@x.com", 2)).unwrap_err();
        assert!(err.message().contains("ignores the filter"), "{err}");
        assert!(m.check(page("ann@x.com", 3)).is_err());
        // No exact filter (names are not checked): every page passes.
        let v2 = Matching::of(&[("email", "ann@x.com".into())]);
        assert!(v2.check(page("bob@x.com", 9)).is_err());
        let names = Matching::of(&[("first_name", "Ann".into())]);
        assert!(names.check(page("bob@x.com", 9)).is_ok());
    }
}
