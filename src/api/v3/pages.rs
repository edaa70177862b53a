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

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::mpsc;

use super::models::{AddressPage, CustomerPage};
use super::Filters;
use crate::api::client::Client;
use crate::api::error::{ApiError, ErrorKind};
use crate::api::pages::{MAX_CREATED_DURING, PAGE};
use crate::api::{Address, Customer};

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
    let mut customers = Vec::with_capacity(body.data.len());
    let mut lists = Vec::with_capacity(body.data.len());
    // Customers at the embedded-address cap, whose addresses are read apart.
    let mut capped = Vec::new();
    let mut last = prev;
    for record in body.data {
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
    if !capped.is_empty() {
        let ids: Vec<u64> = capped.iter().map(|(_, id)| *id).collect();
        let mut all = addresses_of(client, &ids).await?;
        for (i, id) in capped {
            lists[i] = all.remove(&id).unwrap_or_default();
        }
    }
    let next = match (full, cursor) {
        (false, _) => None,
        (true, Some(c)) if after == Some(c.as_str()) => {
            return Err(inconsistent(format!(
                "the store sent a full page with the same cursor it was asked for ({c}): the walk does not advance"
            )))
        }
        (true, Some(c)) => Some(c),
        (true, None) => {
            return Err(inconsistent(
                "the store sent a full page of customers without a cursor to the next one (meta.cursor_pagination.end_cursor)".into(),
            ))
        }
    };
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

/// Every address of these customers, by customer, each list in the store's order (address
/// id ascending). Paged by number: a few customers' addresses hardly change during the
/// export, and each is checked (an id, one of the customers asked for, never twice).
async fn addresses_of(
    client: &Client,
    customers: &[u64],
) -> Result<HashMap<u64, Vec<Address>>, ApiError> {
    let mut out: HashMap<u64, Vec<Address>> = HashMap::new();
    let mut seen = HashSet::new();
    let bad = |message: String| ApiError {
        what: "GET /v3/customers/addresses".to_string(),
        kind: ErrorKind::Decode {
            message: format!("{message}; the export cannot be complete, so it stops"),
        },
    };
    for chunk in customers.chunks(ADDRESS_LOOKUP_IDS) {
        let ids: Vec<String> = chunk.iter().map(u64::to_string).collect();
        let filters = Filters {
            params: vec![("customer_id:in", ids.join(","))],
        };
        for page in 1u64.. {
            let q = filters.query(&[("limit", PAGE.to_string()), ("page", page.to_string())]);
            let reply = client.get_v3("/customers/addresses", &q).await?;
            let body: AddressPage = if reply.status == 204 {
                AddressPage::default()
            } else {
                client
                    .decode_aside("/v3/customers/addresses", reply.body)
                    .await?
            };
            let n = body.data.len() as u64;
            for a in body.data {
                let a = a.into_v2();
                if a.id == 0 {
                    return Err(bad("the store sent an address without an id".into()));
                }
                if !chunk.contains(&a.customer_id) {
                    return Err(bad(format!(
                        "the store sent address {} of customer {} for customer_id:in={}: it ignores the filter",
                        a.id,
                        a.customer_id,
                        ids.join(",")
                    )));
                }
                if !seen.insert(a.id) {
                    return Err(bad(format!("the store sent address {} twice", a.id)));
                }
                out.entry(a.customer_id).or_default().push(a);
            }
            if n < PAGE {
                break;
            }
            if page > 1 + (customers.len() as u64 * 10_000) / PAGE {
                return Err(bad("the store keeps sending addresses".into()));
            }
        }
    }
    Ok(out)
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

/// How this store spells a cursor for "after customer N": base64 of `{"id":N}`, in the
/// alphabet and padding the store's own cursor used. Learnt from the first page, never assumed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursors {
    url_safe: bool,
    padded: bool,
}

impl Cursors {
    /// `Some` when `cursor` is exactly the cursor this codec makes for `last` (so decoding it
    /// gives `{"id":last}` and nothing else, and making it again gives the same text).
    pub fn learn(cursor: &str, last: u64) -> Option<Cursors> {
        let url_safe = cursor.contains(['-', '_']);
        let padded = cursor.ends_with('=');
        let codec = Cursors { url_safe, padded };
        (codec.after(last) == cursor).then_some(codec)
    }

    /// The cursor for the customers after id `id`.
    pub fn after(&self, id: u64) -> String {
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        use base64::Engine as _;
        let engine = match (self.url_safe, self.padded) {
            (false, false) => &STANDARD_NO_PAD,
            (false, true) => &STANDARD,
            (true, false) => &URL_SAFE_NO_PAD,
            (true, true) => &URL_SAFE,
        };
        engine.encode(format!("{{\"id\":{id}}}"))
    }
}

/// What one id range gave: its customers (ids in `[a, b]`), and whether its last page showed
/// the end of the id space (short, nothing beyond `b`).
struct RangeOut {
    page: Page,
    end: bool,
}

/// The density of ids the latest full page showed (customers per id), shared by the ranges.
struct Density(std::sync::Mutex<f64>);

impl Density {
    /// Ids per range: 250 for contiguous ids (one request per range, ending on its last id);
    /// with holes, aimed at 90% of a page so that a range rarely holds more than a page.
    fn width(&self) -> u64 {
        let d = *self.0.lock().expect("not poisoned");
        if d >= 0.999 {
            PAGE
        } else {
            ((PAGE as f64 * 0.9 / d.max(1e-9)).min(1e15) as u64).max(1)
        }
    }

    fn saw(&self, customers: &[Customer]) {
        if let (Some(f), Some(l)) = (customers.first(), customers.last()) {
            if customers.len() as u64 >= PAGE {
                let span = (l.id - f.id).saturating_add(1) as f64;
                *self.0.lock().expect("not poisoned") = customers.len() as f64 / span;
            }
        }
    }
}

async fn read_range(
    client: Client,
    ask: Ask,
    cursors: Cursors,
    density: Arc<Density>,
    a: u64,
    b: u64,
) -> Result<RangeOut, ApiError> {
    let mut out = Page {
        customers: Vec::new(),
        addresses: ask.addresses.then(Vec::new),
    };
    let mut from = a;
    loop {
        let prev = from - 1;
        let fetched = fetch(&client, &ask, Some(&cursors.after(prev)), Some(prev)).await?;
        density.saw(&fetched.page.customers);
        let full = fetched.next.is_some();
        let beyond = fetched.last.is_some_and(|l| l > b);
        let lists = fetched.page.addresses.map(Vec::into_iter);
        let mut lists = lists.into_iter().flatten();
        for c in fetched.page.customers {
            let list = lists.next();
            if c.id > b {
                break;
            }
            out.customers.push(c);
            if let (Some(all), Some(list)) = (out.addresses.as_mut(), list) {
                all.push(list);
            }
        }
        match fetched.last {
            // Full, and still inside the range: read on after its last customer.
            Some(l) if full && l < b => from = l + 1,
            _ => {
                return Ok(RangeOut {
                    page: out,
                    end: !full && !beyond,
                })
            }
        }
    }
}

/// The first page, then consecutive id ranges after it, `concurrency` in flight, yielded in
/// order, until the first range that showed the end of the ids.
fn by_ranges(
    client: Client,
    ask: Ask,
    first: FirstPage,
    cursors: Cursors,
    concurrency: usize,
    most: u64,
) -> BoxStream<'static, Result<Page, ApiError>> {
    let FirstPage { page, last, .. } = first;
    let density = Arc::new(Density(std::sync::Mutex::new(1.0)));
    density.saw(&page.customers);
    let ended = Arc::new(AtomicBool::new(false));
    // The ranges, made as they are needed (so widths follow the latest density), and no more
    // once a range has shown the end.
    let mut next = last.and_then(|l| l.checked_add(1));
    let ranges = {
        let (density, ended) = (density.clone(), ended.clone());
        std::iter::from_fn(move || {
            if ended.load(Ordering::Relaxed) {
                return None;
            }
            let a = next?;
            let b = a.saturating_add(density.width() - 1);
            next = b.checked_add(1);
            Some((a, b))
        })
    };
    let reads = stream::iter(ranges)
        .map(move |(a, b)| {
            let (client, ask, density, ended) =
                (client.clone(), ask.clone(), density.clone(), ended.clone());
            async move {
                let out = read_range(client, ask, cursors, density, a, b).await;
                if matches!(&out, Ok(r) if r.end) {
                    ended.store(true, Ordering::Relaxed);
                }
                out
            }
        })
        .buffered(concurrency);
    // The walk's own checks across ranges: ascending across the whole walk (ranges are
    // disjoint by construction; this makes sure whatever the store did), and not endless.
    struct Walk<S> {
        reads: S,
        last: Option<u64>,
        rows: u64,
        done: bool,
    }
    let walk = Walk {
        reads,
        last,
        rows: page.customers.len() as u64,
        done: false,
    };
    let rest = stream::unfold(walk, move |mut w| async move {
        if w.done {
            return None;
        }
        let item = match w.reads.next().await? {
            Err(e) => Err(e),
            Ok(r) => {
                w.done = r.end;
                let first = r.page.customers.first().map(|c| c.id);
                w.rows += r.page.customers.len() as u64;
                if let (Some(f), Some(l)) = (first, w.last) {
                    if f <= l {
                        w.done = true;
                        return Some((
                            Err(inconsistent(format!(
                                "the store sent customer {f} again after customer {l}"
                            ))),
                            w,
                        ));
                    }
                }
                w.last = r.page.customers.last().map(|c| c.id).or(w.last);
                if w.rows > most {
                    Err(inconsistent(format!(
                        "the store has sent {} customers and keeps sending more, while it counted far fewer at the start",
                        w.rows
                    )))
                } else {
                    Ok(r.page)
                }
            }
        };
        w.done |= item.is_err();
        Some((item, w))
    })
    // Ranges that held nobody (holes in the ids) are not pages.
    .filter(|p| futures::future::ready(!matches!(p, Ok(p) if p.customers.is_empty())));
    stream::iter([Ok(page)]).chain(rest).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_learnt_only_when_they_are_keysets_on_the_id() {
        // SPEC3's examples: `{"id":204}` and `{"id":205}`.
        let c = Cursors::learn("eyJpZCI6MjA0fQ", 204).unwrap();
        assert_eq!(c.after(205), "eyJpZCI6MjA1fQ");
        assert!(Cursors::learn("eyJpZCI6MjA0fQ", 205).is_none());
        assert!(Cursors::learn("opaque-token-123", 204).is_none());
        let padded = Cursors::learn("eyJpZCI6MjA0fQ==", 204).unwrap();
        assert_eq!(padded.after(7), "eyJpZCI6N30=");
        assert_eq!(
            Cursors {
                url_safe: false,
                padded: false
            }
            .after(u64::MAX)
            .len(),
            36
        );
    }
}
