//! Every customer matching some filters, as a stream of pages in ascending id, fetched
//! concurrently, each customer exactly once even while customers are created or deleted.
//!
//! Walking pages by *number* skips or repeats rows when the store changes underneath, so we page
//! by id: the id space is cut into disjoint ranges expected to hold about 250 customers each
//! (from `/customers/count`, the first page and the last page), each range is read with
//! `min_id`/`max_id` (following on while a page comes back full) by its own task, a few ranges
//! ahead of the writer, and the pages are yielded in range order; each range hands over one
//! page at a time, so memory stays at a few pages however the ids cluster. One page asked for
//! by number is still a consistent slice (every matching customer between its lowest and
//! highest id), which is how the last page serves as a range of its own. An open-ended range
//! after the highest id picks up customers created meanwhile.
//!
//! **What the store sends is checked, never trusted** (an export is complete or it fails):
//! every record has an id, ids on a page are strictly ascending (no duplicate), every id lies
//! inside the bounds asked for (a store that ignores `min_id`/`max_id` fails there), the page
//! asked for by number lies after the first page (a store that ignores `page` fails there),
//! and a full page always moves the ids forward. Any of these ends the walk with an error.
//!
//! **Inclusive or exclusive bounds.** Whether `min_id`/`max_id` include the id they name is not
//! documented (reference/bigcommerce-api.md §9), so a range `[lo, hi]` is asked for as
//! `min_id = lo - 1`, `max_id = hi + 1`, and the one id of overlap on each side is dropped:
//! right under either meaning. The `max_id` overlap is free (a page is id-ascending, so the
//! extra id only shows when the page has room for it); the `min_id` one takes a page slot when
//! the bounds are inclusive, so as soon as the store has shown that they are (it sent back the
//! very id named by `min_id`), every later request names `lo` itself. The first page asks for
//! `min_id = start` exactly: on a store whose first customer exists this proves inclusiveness
//! in the first round trip, so the usual export costs no request more; otherwise the first
//! speculative range, which names the first page's last customer, shows it in the next round
//! trip, and only if the bounds are still unknown then is the id the first page may have left
//! out (`start`, if the bounds are exclusive) read once more.
//!
//! **Nothing grows without bound**: id arithmetic never wraps near 2^64, the number of ranges
//! planned from the count is capped ([`MAX_RANGES`]) however large the count claims, and a
//! store that keeps sending customers far beyond its count fails the walk
//! ([`MAX_CREATED_DURING`]).

//!
//! The pieces: [`range`] reads one id range (a task per range, [`range::split`] plans them),
//! [`order`] lays the ranges out after the first page (the probe, the speculative ranges),
//! [`walk`] checks the pages as yielded (ascending across pages, not endless).

mod order;
mod range;
#[cfg(test)]
mod tests;
mod walk;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};

use crate::api::client::Client;
use crate::api::error::{ApiError, ErrorKind};
use crate::api::filters::{Filters, Value};
use crate::api::models::Customer;
use order::pages_in_order;
use walk::ascending;

/// The page size: the API's maximum `limit`.
pub const PAGE: u64 = 250;

/// The most id ranges planned from one count. Each range costs at least one request, so a
/// count far above what the store holds (a broken or hostile store saying 10^12) must not turn
/// into billions of ranges; 10,000 ranges cover 2.5 million customers at one page each, and a
/// bigger store only gets ranges of more than a page (read on by `min_id`, a few more requests).
pub const MAX_RANGES: u64 = 10_000;

/// A query: the user's filters (which never hold `page`/`limit`, ours) in V2's terms, and
/// what one walk has learnt of the store's id bounds. Built from the neutral filters by
/// [`Query::new`]; the commands hold it only inside `store::Selection`.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The user's filters; `min_id`/`max_id` are where the id ranges start and end (no open
    /// tail after a `max_id`).
    filters: Filters,
    /// What the store has shown about its `min_id`, shared by every request of one walk.
    bounds: Bounds,
}

/// Whether the store has shown that `min_id` includes the id it names.
#[derive(Debug, Clone, Default)]
struct Bounds(Arc<AtomicBool>);

impl Bounds {
    fn inclusive(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The plan: how many customers and roughly how many requests (printed before an export).
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Matching customers when the export started.
    pub count: u64,
    /// The count request plus [`Plan::page_requests`].
    pub expected_requests: u64,
    /// Requests still to come for the pages (see [`expected_page_requests`]).
    pub page_requests: u64,
}

/// Count first (one request) so callers can print the plan, then stream.
pub async fn plan(client: &Client, q: &Query) -> Result<Plan, ApiError> {
    let count = client.count_customers(&q.count_params()).await?;
    let page_requests = expected_page_requests(count, q.max_id().is_none());
    Ok(Plan {
        count,
        expected_requests: 1 + page_requests,
        page_requests,
    })
}

/// The page requests [`customer_pages`] sends for `count` customers with contiguous ids: the
/// first page, one per page between it and the last page (speculative ranges, then ranges),
/// the last-page probe (its customers are kept) and the open range after it. Ids with holes
/// get narrower ranges, hence a few more requests.
pub fn expected_page_requests(count: u64, open_tail: bool) -> u64 {
    match count {
        // The first page comes back short: it was the only one.
        c if c < PAGE => 1,
        // A full first page and no probe: one range reads whatever came after it.
        c if c == PAGE => 2,
        c => c.div_ceil(PAGE) + u64::from(open_tail),
    }
}

/// The customers matching the filters that were last modified at or before `before`, counted
/// now (the end of an export). Each of them existed before the export began, was not changed
/// during it and still exists, so a complete export holds every one of them: a lower bound
/// that customers created, changed or deleted meanwhile cannot break.
pub async fn count_unchanged_since(
    client: &Client,
    q: &Query,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<u64, ApiError> {
    let bounded = Query::new(&q.filters.modified_at_or_before(before));
    client.count_customers(&bounded.count_params()).await
}

/// What an answer must be for the pager to trust it: a `GET /customers` that says something
/// the API cannot mean (the request is fine; the store is broken, or not BigCommerce).
fn inconsistent(message: String) -> ApiError {
    ApiError {
        what: "GET /customers".to_string(),
        kind: ErrorKind::Decode {
            message: format!("{message}; the export cannot be complete, so it stops"),
        },
    }
}

/// One request for the customers in [lo, hi] (hi None: no upper end): the bounds as sent.
#[derive(Debug, Clone, Copy)]
struct Ask {
    lo: u64,
    hi: Option<u64>,
    min_id: u64,
    /// None: no `max_id` (no upper end, or hi is u64::MAX: nothing lies above it).
    max_id: Option<u64>,
}

/// A page that passed the checks.
struct Checked {
    /// The customers inside [lo, hi], ascending.
    rows: Vec<Customer>,
    /// The store sent a full page (counted before dropping the overlap ids: there may be more).
    full: bool,
    /// The lowest and highest ids the store sent (overlap ids included).
    first: Option<u64>,
    last: Option<u64>,
}

impl Query {
    /// The walk over the customers matching `filters` (V2 expresses every filter).
    pub fn new(filters: &Filters) -> Query {
        Query {
            filters: filters.clone(),
            bounds: Bounds::default(),
        }
    }

    /// The neutral filters this query encodes (what `api::matching` checks each listed
    /// customer against).
    pub fn filters(&self) -> &Filters {
        &self.filters
    }

    /// The field filters as V2 list parameters, in the order given: V2's names (the
    /// command line's, which are V2's), dates as RFC-2822 (reference/bigcommerce-api.md).
    pub fn filter_params(&self) -> Vec<(&'static str, String)> {
        self.filters
            .fields
            .iter()
            .map(|(name, value)| (name.as_str(), v2_value(value)))
            .collect()
    }

    /// The filters and id bounds as query parameters (for `/customers/count`).
    pub fn count_params(&self) -> Vec<(&'static str, String)> {
        let mut p = self.filter_params();
        if let Some(m) = self.filters.min_id {
            p.push(("min_id", m.to_string()));
        }
        if let Some(m) = self.filters.max_id {
            p.push(("max_id", m.to_string()));
        }
        p
    }

    /// The user's `min_id`: where the id ranges start.
    fn min_id(&self) -> Option<u64> {
        self.filters.min_id
    }

    /// The user's `max_id`: where they end (no open tail then).
    fn max_id(&self) -> Option<u64> {
        self.filters.max_id
    }

    /// [lo, hi] asked for so that it is right whether the bounds include their id or not.
    fn ask(&self, lo: u64, hi: Option<u64>) -> Ask {
        Ask {
            lo,
            hi,
            min_id: if self.bounds.inclusive() {
                lo
            } else {
                lo.saturating_sub(1)
            },
            max_id: hi.and_then(|h| h.checked_add(1)),
        }
    }

    fn page_params(
        &self,
        ask: &Ask,
        extra: &[(&'static str, String)],
    ) -> Vec<(&'static str, String)> {
        let mut p = self.filter_params();
        p.push(("min_id", ask.min_id.to_string()));
        if let Some(m) = ask.max_id {
            p.push(("max_id", m.to_string()));
        }
        p.push(("limit", PAGE.to_string()));
        p.extend(extra.iter().cloned());
        p
    }

    /// Check a page against its request and keep the customers of [lo, hi]; learn from it
    /// whether `min_id` is inclusive (the store sent the very id it names).
    fn check(&self, page: Vec<Customer>, ask: &Ask) -> Result<Checked, ApiError> {
        let bounds = || match ask.max_id {
            Some(max) => format!("min_id={}&max_id={max}", ask.min_id),
            None => format!("min_id={}", ask.min_id),
        };
        let mut prev: Option<u64> = None;
        for c in &page {
            if c.id == 0 {
                return Err(inconsistent(format!(
                    "the store sent a customer record without an id (email {:?})",
                    c.email
                )));
            }
            match prev {
                Some(p) if c.id == p => {
                    return Err(inconsistent(format!(
                        "the store sent customer {} twice on one page",
                        c.id
                    )))
                }
                Some(p) if c.id < p => {
                    return Err(inconsistent(format!(
                        "the store sent customer {} after customer {p}: the ids of a page are not in ascending order",
                        c.id
                    )))
                }
                _ => {}
            }
            if c.id < ask.min_id || ask.max_id.is_some_and(|m| c.id > m) {
                return Err(inconsistent(format!(
                    "the store sent customer {} for {}: outside the id range asked for (it ignores min_id/max_id)",
                    c.id,
                    bounds()
                )));
            }
            prev = Some(c.id);
        }
        if ask.min_id >= 1 && page.first().is_some_and(|c| c.id == ask.min_id) {
            self.bounds.0.store(true, Ordering::Relaxed);
        }
        let (first, last) = (page.first().map(|c| c.id), page.last().map(|c| c.id));
        let full = page.len() as u64 >= PAGE;
        let rows = page
            .into_iter()
            .filter(|c| c.id >= ask.lo && ask.hi.is_none_or(|h| c.id <= h))
            .collect();
        Ok(Checked {
            rows,
            full,
            first,
            last,
        })
    }
}

/// A filter's value as V2 reads it: dates in RFC-2822, the date format of the V2 API.
fn v2_value(value: &Value) -> String {
    value.param(chrono::DateTime::to_rfc2822)
}

/// The first page of customers (from the user's `min_id`, or the start). With the count, it
/// tells how the ids are spread; the export asks for both at once, in one round trip.
#[derive(Debug, Default)]
pub struct FirstPage {
    /// Its customers inside the user's id bounds, ascending.
    pub rows: Vec<Customer>,
    /// The store sent a full page: there are more.
    full: bool,
    /// The lowest and highest ids the store sent.
    first: Option<u64>,
    last: Option<u64>,
}

/// Ask for the first page with `min_id` = the start itself (see the module comment: when the
/// first customer comes back, the bounds are proven inclusive at no cost).
pub async fn first_page(client: &Client, q: &Query) -> Result<FirstPage, ApiError> {
    let start = q.min_id().unwrap_or(1);
    let ask = Ask {
        min_id: start,
        ..q.ask(start, q.max_id())
    };
    let page = client.customers_page(&q.page_params(&ask, &[])).await?;
    let checked = q.check(page, &ask)?;
    Ok(FirstPage {
        rows: checked.rows,
        full: checked.full,
        first: checked.first,
        last: checked.last,
    })
}

type Pages = BoxStream<'static, Result<Vec<Customer>, ApiError>>;

/// Stream every matching customer's page in ascending id: [`first_page`], then
/// [`pages_after`]. `count` is the plan's count.
pub fn customer_pages(client: Client, q: Query, count: u64, concurrency: usize) -> Pages {
    stream::once(async move {
        let first = first_page(&client, &q).await;
        (client, q, first)
    })
    .flat_map(move |(client, q, first)| match first {
        Ok(first) => pages_after(client, q, count, first, concurrency),
        Err(e) => stream::iter([Err(e)]).boxed(),
    })
    .boxed()
}

/// Customers that may be created during one walk on top of twice the count of its start:
/// customers do not sign up that fast, a store that keeps sending new ones is inventing them.
pub const MAX_CREATED_DURING: u64 = 10_000;

/// The first page, then every matching customer after it, in ascending id, each once.
///
/// After a full first page, one round trip does two things at once: a *probe* reads the last
/// page by number (`count` says which), whose customers are every matching customer between
/// its lowest and highest id (a page is a contiguous slice of the id-sorted list), and
/// `concurrency - 1` *speculative* ranges read the ids right after the first page, sized by
/// the first page's density, so no request slot idles while the layout is unknown. The ids
/// left between the speculative ranges and the probe's page are then cut into ranges of about
/// a page each (from the count), and an open range after the highest id picks up customers
/// created meanwhile (unless the user gave `max_id`). A wrong guess (ids much denser or
/// sparser than the first page) costs requests or time, never a customer: the pieces are
/// disjoint and cover every id.
///
/// Each range is read by its own task, so responses are parsed on every core while the caller
/// writes earlier pages; `2 × concurrency` ranges are started ahead (the client's semaphore
/// still allows only `concurrency` requests at once), so one slow range does not leave request
/// slots idle. Memory: at most two pages per range started, however the ids cluster.
pub fn pages_after(
    client: Client,
    q: Query,
    count: u64,
    first: FirstPage,
    concurrency: usize,
) -> Pages {
    let pages = pages_in_order(client.clone(), q.clone(), count, first, concurrency);
    ascending(pages, client, q, count)
}
