//! `GET /v3/customers` (filters, sort, page and cursor paging, includes) and
//! `DELETE /v3/customers?id:in=` (reference/bigcommerce-v3.md §4, §7).

use std::collections::HashSet;

use hyper::StatusCode;
use serde_json::json;

use super::super::handlers::Reply;
use super::super::server::Shared;
use super::super::store::{Customer, Store};
use super::query::{Includes, Query};
use super::render::{cursor_meta, customer_json, decode_cursor, pagination, Page};
use super::{invalid_filters, one_error, Handled, V3IdInOrder, V3UnfilteredDelete};

/// The `GET /v3/customers` filters of §4 the sandbox serves.
#[derive(Default)]
pub(super) struct CustomerFilter {
    pub(super) ids: Option<Vec<u64>>,
    pub(super) emails: Option<Vec<String>>,
    pub(super) names: Option<Vec<String>>,
    pub(super) name_like: Option<Vec<String>>,
    pub(super) companies: Option<Vec<String>>,
    pub(super) phones: Option<Vec<String>>,
    pub(super) groups: Option<Vec<u64>>,
    pub(super) ips: Option<Vec<String>>,
    pub(super) created: DateRange,
    pub(super) modified: DateRange,
}

#[derive(Default)]
pub(super) struct DateRange {
    /// An exact date: a `YYYY-MM-DD` value covers its whole day.
    pub(super) exact: Option<(i64, i64)>,
    pub(super) min: Option<i64>,
    pub(super) max: Option<i64>,
    pub(super) exclusive: bool,
}

impl DateRange {
    pub(super) fn parse(q: &Query, key: &str) -> Result<DateRange, Reply> {
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

    pub(super) fn contains(&self, t: i64) -> bool {
        self.exact.is_none_or(|(a, b)| (a..=b).contains(&t))
            && self
                .min
                .is_none_or(|m| if self.exclusive { t > m } else { t >= m })
            && self
                .max
                .is_none_or(|m| if self.exclusive { t < m } else { t <= m })
    }
}

pub(super) fn lower(list: Option<Vec<String>>) -> Option<Vec<String>> {
    list.map(|l| l.into_iter().map(|s| s.to_lowercase()).collect())
}

impl CustomerFilter {
    pub(super) fn parse(q: &Query) -> Result<CustomerFilter, Reply> {
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

    pub(super) fn matches(&self, c: &Customer) -> bool {
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

    pub(super) fn is_empty(&self) -> bool {
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
    pub(super) fn candidates<'s>(&self, store: &'s Store) -> Option<Vec<&'s Customer>> {
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

pub(super) const CUSTOMER_LIST_PARAMS: &[&str] = &[
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
pub(super) enum Sort {
    DateCreated,
    DateModified,
    LastName,
}

/// `sort=field:asc|desc`: the SPEC3 enum (§4); there is no `id` sort. `(field, descending)`.
fn parse_sort(q: &Query) -> Result<Option<(Sort, bool)>, Reply> {
    let Some(s) = q.get("sort") else {
        return Ok(None);
    };
    let (field, dir) = s.split_once(':').unwrap_or((s, "asc"));
    let field = match field {
        "date_created" => Sort::DateCreated,
        "date_modified" => Sort::DateModified,
        "last_name" => Sort::LastName,
        _ => return Err(invalid_filters(&["sort"])),
    };
    match dir {
        "asc" => Ok(Some((field, false))),
        "desc" => Ok(Some((field, true))),
        _ => Err(invalid_filters(&["sort"])),
    }
}

fn parse_cursor(q: &Query, key: &str) -> Result<Option<u64>, Reply> {
    match q.get(key) {
        None => Ok(None),
        Some(c) => decode_cursor(c)
            .map(Some)
            .ok_or_else(|| invalid_filters(&[key])),
    }
}

pub(super) fn list_customers(shared: &Shared, q: &Query) -> Handled {
    q.only(CUSTOMER_LIST_PARAMS)?;
    let filter = CustomerFilter::parse(q)?;
    let inc = Includes::parse(q)?;
    let (page, limit) = q.paging()?;
    let sort = parse_sort(q)?;
    let (after, before) = (parse_cursor(q, "after")?, parse_cursor(q, "before")?);
    let address_limit = shared.cfg.v3.include_addresses_limit;
    let store = shared.read_store();
    let (items, meta) = if after.is_some() || before.is_some() {
        // Cursor paging walks by id and ignores `page` (SPEC3) and `sort` (whether they
        // combine is unverified, §17); only `cursor_pagination` comes back.
        let (items, more) = match (after, before) {
            (Some(a), _) => take_matching(store.customers_in(a + 1..), &filter, limit),
            (None, b) => {
                let b = b.expect("a cursor is present");
                let (mut items, more) =
                    take_matching(store.customers_in(..b).rev(), &filter, limit);
                items.reverse();
                (items, more)
            }
        };
        let meta = json!({"cursor_pagination": cursor_meta(&items, limit, more, after.is_some())});
        (items, meta)
    } else {
        let ascending = filter.ids.is_none() || shared.cfg.v3.id_in_order == V3IdInOrder::Ascending;
        let (total, items) = select_page(&store, &filter, sort, ascending, page, limit);
        let mut meta = json!({"pagination": pagination(total, items.len(), page, limit, q)});
        // SPEC3: "Both pagination and cursor_pagination would be returned in the first page.
        // Only pagination would be returned when page is greater than 1."
        if page == 1 {
            meta["cursor_pagination"] = cursor_meta(&items, limit, total > items.len(), true);
        }
        (items, meta)
    };
    let data: Vec<_> = items
        .iter()
        .map(|c| customer_json(&store, c, inc, address_limit))
        .collect();
    // Sized for the page up front (~760 bytes a customer with its addresses and fields):
    // growing a 190 KB answer by doubling copied it about eight times.
    let size = 1024 + data.len() * if inc.addresses { 1024 } else { 640 };
    Ok(Reply::json_sized(
        StatusCode::OK,
        &Page { data, meta },
        size,
    ))
}

/// The total of matching customers and the `page`-th `limit` of them. `ascending`: by id
/// (else in the order `id:in` lists them); then sorted as asked, stable.
fn select_page<'s>(
    store: &'s Store,
    filter: &CustomerFilter,
    sort: Option<(Sort, bool)>,
    ascending: bool,
    page: usize,
    limit: usize,
) -> (usize, Vec<&'s Customer>) {
    let skip = (page - 1).saturating_mul(limit);
    match (filter.candidates(store), sort) {
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
            if ascending {
                all.sort_by_key(|c| c.id);
            }
            if let Some((field, desc)) = sort {
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
    }
}

/// Up to `limit` matching customers, and whether more follow.
pub(super) fn take_matching<'s>(
    iter: impl Iterator<Item = &'s Customer>,
    filter: &CustomerFilter,
    limit: usize,
) -> (Vec<&'s Customer>, bool) {
    let mut iter = iter.filter(|c| filter.matches(c));
    let items: Vec<&Customer> = iter.by_ref().take(limit).collect();
    let more = iter.next().is_some();
    (items, more)
}

// ---- DELETE /v3/customers ----

pub(super) fn delete_customers(shared: &Shared, q: &Query) -> Handled {
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
