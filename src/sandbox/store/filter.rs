//! The `GET /customers` and `/customers/count` filters of the V2 routes.

use super::Customer;

#[derive(Default)]
pub(crate) struct CustomerFilter {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub tax_exempt_category: Option<String>,
    pub store_credit: Option<i64>,
    pub customer_group_id: Option<u64>,
    pub min_id: Option<u64>,
    pub max_id: Option<u64>,
    pub min_date_created: Option<i64>,
    pub max_date_created: Option<i64>,
    pub min_date_modified: Option<i64>,
    pub max_date_modified: Option<i64>,
}

impl CustomerFilter {
    pub(super) fn matches(&self, c: &Customer) -> bool {
        // Filter values arrive lower-cased; comparisons ignore case, as the store's database does.
        fn same(wanted: &Option<String>, actual: &str) -> bool {
            wanted.as_ref().is_none_or(|w| {
                if actual.is_ascii() {
                    w.eq_ignore_ascii_case(actual)
                } else {
                    *w == actual.to_lowercase()
                }
            })
        }
        same(&self.email, &c.email)
            && same(&self.first_name, &c.first_name)
            && same(&self.last_name, &c.last_name)
            && same(&self.company, &c.company)
            && same(&self.phone, &c.phone)
            && same(&self.tax_exempt_category, &c.tax_exempt_category)
            && self.store_credit.is_none_or(|v| v == c.store_credit)
            && self
                .customer_group_id
                .is_none_or(|v| v == c.customer_group_id)
            && self.min_date_created.is_none_or(|v| c.date_created >= v)
            && self.max_date_created.is_none_or(|v| c.date_created <= v)
            && self.min_date_modified.is_none_or(|v| c.date_modified >= v)
            && self.max_date_modified.is_none_or(|v| c.date_modified <= v)
    }

    /// Only an id range: counts need no scan of the other fields.
    pub(super) fn is_id_range_only(&self) -> bool {
        let CustomerFilter {
            email,
            first_name,
            last_name,
            company,
            phone,
            tax_exempt_category,
            store_credit,
            customer_group_id,
            min_id: _,
            max_id: _,
            min_date_created,
            max_date_created,
            min_date_modified,
            max_date_modified,
        } = self;
        email.is_none()
            && first_name.is_none()
            && last_name.is_none()
            && company.is_none()
            && phone.is_none()
            && tax_exempt_category.is_none()
            && store_credit.is_none()
            && customer_group_id.is_none()
            && min_date_created.is_none()
            && max_date_created.is_none()
            && min_date_modified.is_none()
            && max_date_modified.is_none()
    }
}
