//! Every customer matching some filters through `GET /v3/customers`, as a stream of pages in
//! ascending id, each customer exactly once even while customers are created or deleted, with
//! their addresses embedded (`include=addresses`) when the export writes them.
//!
//! **Cursor paging** (reference/bigcommerce-v3.md §17). V3 has no `id:min`/`id:max` (not in
//! SPEC3's list filters, §4) and no `id` sort, so V2's id ranges cannot be asked for, and page
//! numbers over a changing list skip or repeat customers. `after=<end_cursor>` is a keyset on
//! the id (SPEC3's cursor examples decode to `{"id":204}`): customers created behind the cursor
//! are not seen (they were not there when it passed), those ahead are, deletions shift nothing.
//! The first page, asked without a cursor, carries both `meta.pagination.total` (the count
//! the export checks against, §4: "Both pagination and cursor_pagination would be returned in
//! the first page") and the cursor to follow, so the count costs no request of its own.
//!
//! **Concurrency.** A cursor is only known once the page before it is back, which would read
//! the pages one after the other. SPEC3's cursors are a keyset on the id (its examples
//! decode to `{"id":204}`), but that encoding is only inferred from examples, so it is not
//! assumed: when the first page's own `end_cursor` decodes to exactly `{"id":<its last id>}`,
//! the store has shown that a cursor is that and nothing more, and the rest of the id space is
//! read as consecutive id ranges, up to `--concurrency` at once, each from a cursor made for
//! the id before its start ([`Cursors`]): range `[a, b]` asks `after={"id":a-1}` and keeps the
//! ids up to `b` (following on while pages come back full below `b`). Range widths follow the
//! density of ids the pages show (contiguous ids: 250 ids, one request per range). The walk ends
//! with the first range whose last page was short with nothing beyond its end: no customer
//! lies past it. A store whose cursors look different is walked one cursor after the other
//! (a reader task [`AHEAD`] pages ahead of the writer), still complete, only slower.
//! (`id:in` lists of ranges are the other road, but the longest `id:in` V3 accepts is
//! unverified, §19.3.)
//!
//! **What the store sends is checked, never trusted**, as for V2: every record has an id, ids
//! are strictly ascending within a page and across pages (no duplicate, and a store that
//! ignores `after` and sends the first page again fails there), a full page carries a cursor
//! to go on with, and a store that keeps sending customers far beyond its count fails.
//!
//! **Addresses**: `include=addresses` embeds them at no extra request, but "Limited to 10"
//! (§4, `maxItems: 10`). A customer whose `address_count` is above what came embedded (or,
//! without `address_count`, who has 10 embedded) has all of its addresses read from
//! `GET /v3/customers/addresses?customer_id:in=…` instead, the customers of a page at the
//! cap together (§20.6: ⌈affected addresses / 250⌉ requests more).

//!
//! The pieces: [`ranges`] reads by id ranges from made cursors ([`Cursors`]), [`addresses`]
//! reads the addresses of customers past the embedded cap.

mod addresses;
mod ranges;

use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::mpsc;

use super::models::{CustomerPage, V3Customer};
use super::Filters;
use super::{MAX_CREATED_DURING, PAGE};
use crate::api::client::Client;
use crate::api::error::{ApiError, ErrorKind};
use crate::api::{Address, Customer};
use addresses::addresses_of;
use ranges::by_ranges;
pub use ranges::Cursors;

/// Pages read ahead of the writer (each ~150 KB; memory stays flat).
pub const AHEAD: usize = 2;

/// What `include=addresses` embeds per customer at most (SPEC3 `maxItems: 10`, §4).
pub const EMBEDDED_ADDRESSES: usize = 10;

/// Customers per `customer_id:in` list of the address fallback: a short URL whatever the ids.
const ADDRESS_LOOKUP_IDS: usize = 50;

/// One page of customers, ascending, and with `--addresses` each one's addresses (same order).
#[derive(Debug, Default)]
pub struct Page {
    pub customers: Vec<Customer>,
    pub addresses: Option<Vec<Vec<Address>>>,
}

/// The first page, with the store's count of the matching customers.
#[derive(Debug)]
pub struct FirstPage {
    /// `meta.pagination.total` of the first page: the customers matching when the walk began.
    pub total: u64,
    pub page: Page,
    /// Where to go on from (None: the first page was the last).
    next: Option<String>,
    last: Option<u64>,
}

/// The request's shape: the filters and what to embed.
#[derive(Debug, Clone)]
struct Ask {
    filters: Filters,
    addresses: bool,
}

impl Ask {
    fn query(&self, after: Option<&str>) -> String {
        // `storecredit` and `formfields` are not embedded without being asked for (§13.1, §10).
        let include = if self.addresses {
            "addresses,storecredit,formfields"
        } else {
            "storecredit,formfields"
        };
        let mut extra = vec![
            ("include", include.to_string()),
            ("limit", PAGE.to_string()),
        ];
        if let Some(a) = after {
            extra.push(("after", a.to_string()));
        }
        self.filters.query(&extra)
    }
}

fn inconsistent(message: String) -> ApiError {
    ApiError {
        what: "GET /v3/customers".to_string(),
        kind: ErrorKind::Decode {
            message: format!("{message}; the export cannot be complete, so it stops"),
        },
    }
}

/// A page that passed the checks, and where it leaves the walk.
struct Fetched {
    page: Page,
    total: Option<u64>,
    next: Option<String>,
    last: Option<u64>,
}

/// Read one page (after `after`, whose last customer was `prev`) and check it.
async fn fetch(
    client: &Client,
    ask: &Ask,
    after: Option<&str>,
    prev: Option<u64>,
) -> Result<Fetched, ApiError> {
    let reply = client.get_v3("/customers", &ask.query(after)).await?;
    checked_page(client, ask, reply, after, prev).await
}

/// The answer to a page request (asked after `after`, whose last customer was `prev`),
/// decoded and checked, with the addresses of customers past the embedded cap read apart.
async fn checked_page(
    client: &Client,
    ask: &Ask,
    reply: crate::api::client::Reply,
    after: Option<&str>,
    prev: Option<u64>,
) -> Result<Fetched, ApiError> {
    let body: CustomerPage = if reply.status == 204 {
        CustomerPage::default()
    } else {
        client.decode_aside("/v3/customers", reply.body).await?
    };
    let full = body.data.len() as u64 >= PAGE;
    let total = body
        .meta
        .pagination
        .as_ref()
        .and_then(|p| super::models::strict_count(&p.total));
    let cursor = body
        .meta
        .cursor_pagination
        .map(|c| c.end_cursor)
        .filter(|c| !c.is_empty());
    let Records {
        customers,
        mut lists,
        capped,
        last,
    } = check_records(body.data, ask, prev)?;
    if !capped.is_empty() {
        let ids: Vec<u64> = capped.iter().map(|(_, id)| *id).collect();
        let mut all = addresses_of(client, &ids).await?;
        for (i, id) in capped {
            lists[i] = all.remove(&id).unwrap_or_default();
        }
    }
    let next = next_cursor(full, cursor, after)?;
    Ok(Fetched {
        page: Page {
            customers,
            addresses: ask.addresses.then_some(lists),
        },
        total,
        next,
        last,
    })
}

/// One page's records as V2-shaped customers, checked.
struct Records {
    customers: Vec<Customer>,
    /// Each customer's embedded addresses (same order).
    lists: Vec<Vec<Address>>,
    /// Customers at the embedded-address cap, whose addresses are read apart: (index, id).
    capped: Vec<(usize, u64)>,
    /// The last id (`prev` for an empty page).
    last: Option<u64>,
}

/// Check every record (an id; strictly ascending after `prev`, the last id before the page;
/// embedded addresses of this customer only) and note the customers at the address cap.
fn check_records(data: Vec<V3Customer>, ask: &Ask, prev: Option<u64>) -> Result<Records, ApiError> {
    let mut customers = Vec::with_capacity(data.len());
    let mut lists = Vec::with_capacity(data.len());
    let mut capped = Vec::new();
    let mut last = prev;
    for record in data {
        let (c, embedded, address_count) = record.into_v2();
        if c.id == 0 {
            return Err(inconsistent(format!(
                "the store sent a customer record without an id (email {:?})",
                c.email
            )));
        }
        if let Some(l) = last {
            if c.id == l {
                return Err(inconsistent(format!(
                    "the store sent customer {} twice",
                    c.id
                )));
            }
            if c.id < l {
                let why = if customers.is_empty() {
                    "after the cursor that follows it (it ignores `after`)"
                } else {
                    "on one page: the ids are not in ascending order"
                };
                return Err(inconsistent(format!(
                    "the store sent customer {} after customer {l} {why}",
                    c.id
                )));
            }
        }
        last = Some(c.id);
        if ask.addresses {
            let at_cap = match address_count {
                Some(n) => n > embedded.len() as u64,
                None => embedded.len() >= EMBEDDED_ADDRESSES,
            };
            if at_cap {
                capped.push((customers.len(), c.id));
            }
            if embedded
                .iter()
                .any(|a| a.customer_id != 0 && a.customer_id != c.id)
            {
                return Err(inconsistent(format!(
                    "the store embedded another customer's address in customer {}",
                    c.id
                )));
            }
        }
        customers.push(c);
        lists.push(embedded);
    }
    Ok(Records {
        customers,
        lists,
        capped,
        last,
    })
}

/// Where a page leaves the walk: nowhere after a short page; a full page must carry a cursor,
/// and one other than the cursor it was asked with (else the walk would not advance).
fn next_cursor(
    full: bool,
    cursor: Option<String>,
    after: Option<&str>,
) -> Result<Option<String>, ApiError> {
    match (full, cursor) {
        (false, _) => Ok(None),
        (true, Some(c)) if after == Some(c.as_str()) => Err(inconsistent(format!(
            "the store sent a full page with the same cursor it was asked for ({c}): the walk does not advance"
        ))),
        (true, Some(c)) => Ok(Some(c)),
        (true, None) => Err(inconsistent(
            "the store sent a full page of customers without a cursor to the next one (meta.cursor_pagination.end_cursor)".into(),
        )),
    }
}

/// The first page and the count, in one request.
pub async fn first_page(
    client: &Client,
    filters: &Filters,
    addresses: bool,
) -> Result<FirstPage, ApiError> {
    let ask = Ask {
        filters: filters.clone(),
        addresses,
    };
    let first = fetch(client, &ask, None, None).await?;
    let total = first.total.ok_or_else(|| {
        inconsistent(
            "the first page has no meta.pagination.total (a whole number of customers)".into(),
        )
    })?;
    Ok(FirstPage {
        total,
        page: first.page,
        next: first.next,
        last: first.last,
    })
}

/// The first page, then every page after it: by id ranges read `concurrency` at once when
/// the store's cursors are keysets on the id, else by cursor, read [`AHEAD`] of the caller.
pub fn pages_after(
    client: Client,
    filters: Filters,
    first: FirstPage,
    addresses: bool,
    concurrency: usize,
) -> BoxStream<'static, Result<Page, ApiError>> {
    let ask = Ask { filters, addresses };
    let most = first
        .total
        .saturating_mul(2)
        .saturating_add(MAX_CREATED_DURING);
    if let (Some(cursor), Some(last)) = (&first.next, first.last) {
        if let Some(cursors) = Cursors::learn(cursor, last) {
            return by_ranges(client, ask, first, cursors, concurrency.max(1), most);
        }
    }
    let (tx, rx) = mpsc::channel::<Result<Page, ApiError>>(AHEAD);
    let FirstPage {
        page, next, last, ..
    } = first;
    let reader = tokio::spawn(async move {
        let mut rows = page.customers.len() as u64;
        if tx.send(Ok(page)).await.is_err() {
            return;
        }
        let (mut next, mut last) = (next, last);
        while let Some(cursor) = next.take() {
            let fetched = match fetch(&client, &ask, Some(&cursor), last).await {
                Ok(f) => f,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            rows += fetched.page.customers.len() as u64;
            if rows > most {
                let _ = tx
                    .send(Err(inconsistent(format!(
                        "the store has sent {rows} customers and keeps sending more, while it counted far fewer at the start"
                    ))))
                    .await;
                return;
            }
            (next, last) = (fetched.next, fetched.last);
            if tx.send(Ok(fetched.page)).await.is_err() {
                return;
            }
        }
    });
    // The reader stops when the stream is dropped (an export that failed elsewhere).
    let guard = Abort(reader);
    stream::unfold((rx, guard), |(mut rx, guard)| async move {
        let item = rx.recv().await?;
        Some((item, (rx, guard)))
    })
    .boxed()
}

struct Abort(tokio::task::JoinHandle<()>);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The page requests a walk over `count` customers sends (without address fallbacks).
pub fn expected_page_requests(count: u64) -> u64 {
    // A last page exactly full asks once more and gets an empty page.
    count / PAGE + 1
}
