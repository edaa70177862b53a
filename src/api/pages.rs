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

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::client::Client;
use super::error::{ApiError, ErrorKind};
use super::models::Customer;

/// The page size: the API's maximum `limit`.
pub const PAGE: u64 = 250;

/// The most id ranges planned from one count. Each range costs at least one request, so a
/// count far above what the store holds (a broken or hostile store saying 10^12) must not turn
/// into billions of ranges; 10,000 ranges cover 2.5 million customers at one page each, and a
/// bigger store only gets ranges of more than a page (read on by `min_id`, a few more requests).
pub const MAX_RANGES: u64 = 10_000;

/// A query: the user's filters (never `page`/`limit`/`min_id`/`max_id`, which are ours) and
/// the id bounds.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Validated `(key, value)` filters, sent as given (dates already RFC-2822).
    pub filters: Vec<(String, String)>,
    /// The user's `min_id` filter: where the id ranges start.
    pub min_id: Option<u64>,
    /// The user's `max_id` filter: where they end (no open tail then).
    pub max_id: Option<u64>,
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
    let page_requests = expected_page_requests(count, q.max_id.is_none());
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
    let mut params = q.count_params();
    let user = params.iter().position(|(k, _)| *k == "max_date_modified");
    let keep_user = user.is_some_and(|i| {
        chrono::DateTime::parse_from_rfc2822(&params[i].1)
            .map_or(true, |d| d.with_timezone(&chrono::Utc) <= before)
    });
    if !keep_user {
        if let Some(i) = user {
            params.remove(i);
        }
        params.push(("max_date_modified", before.to_rfc2822()));
    }
    client.count_customers(&params).await
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
    /// The filters and id bounds as query parameters (for `/customers/count`).
    pub fn count_params(&self) -> Vec<(&str, String)> {
        let mut p: Vec<(&str, String)> = self
            .filters
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        if let Some(m) = self.min_id {
            p.push(("min_id", m.to_string()));
        }
        if let Some(m) = self.max_id {
            p.push(("max_id", m.to_string()));
        }
        p
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

    fn page_params(&self, ask: &Ask, extra: &[(&'static str, String)]) -> Vec<(&str, String)> {
        let mut p: Vec<(&str, String)> = self
            .filters
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
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

/// Read [lo, hi] (hi = None: to the end) by following `min_id` while pages come back full,
/// sending each page as it arrives. Stops after sending an error, or when nobody listens.
async fn read_range(
    client: Client,
    q: Query,
    lo: u64,
    hi: Option<u64>,
    tx: mpsc::Sender<Result<Vec<Customer>, ApiError>>,
    mut answered: Option<oneshot::Sender<()>>,
) {
    let mut next = lo;
    loop {
        // Decided per request: a proof of inclusive bounds from any range helps every later one.
        let ask = q.ask(next, hi);
        let checked = match client.customers_page(&q.page_params(&ask, &[])).await {
            Ok(page) => q.check(page, &ask),
            Err(e) => Err(e),
        };
        // Whoever waits for this range's first answer (and what it showed about the bounds).
        if let Some(answered) = answered.take() {
            let _ = answered.send(());
        }
        let checked = match checked {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        if !checked.rows.is_empty() && tx.send(Ok(checked.rows)).await.is_err() {
            return;
        }
        // A short page is the end of the range; so is a full one that reached hi.
        let Some(last) = checked.last.filter(|_| checked.full) else {
            return;
        };
        if hi.is_some_and(|h| last >= h) {
            return;
        }
        // Nothing lies above u64::MAX: `last + 1` must not wrap to 0 and start over.
        let Some(after) = last.checked_add(1) else {
            return;
        };
        if after <= next {
            // Cannot pass the checks above (250 ascending ids from next - 1 on), but a loop
            // must not depend on that: a full page that does not move on would repeat forever.
            let _ = tx
                .send(Err(inconsistent(format!(
                    "the store sent a full page ending at customer {last} for ids from {next}: the ids do not advance"
                ))))
                .await;
            return;
        }
        next = after;
    }
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
    let start = q.min_id.unwrap_or(1);
    let ask = Ask {
        min_id: start,
        ..q.ask(start, q.max_id)
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

/// Ids per range so that a range of ids in which `customers` of `span` ids exist holds a little
/// less than a page.
///
/// A range holding 251 customers costs two requests, so ranges aim below 250: where ids have
/// holes (deleted customers, filters) the number in an id range of fixed width varies (about
/// binomially, variance `target × share of ids missing`), and the target leaves two standard
/// deviations of room, about the best trade between more ranges and overflowing ones (in a
/// simulation: 1.08, 1.12 and 1.16 requests per page of customers with 20%, 50% and 90% of ids
/// missing, against 1.5 at 20% without the margin). Contiguous ids (no holes) keep the full 250.
fn target(customers: u64, span: u64) -> f64 {
    let missing = 1.0 - (customers.max(1) as f64 / span.max(1) as f64).min(1.0);
    (PAGE as f64 - 2.0 * (PAGE as f64 * missing).sqrt()).max(PAGE as f64 / 2.0)
}

/// How many customers one request can bring of a range: a page, or one less while the bounds
/// may be inclusive and `min_id = lo - 1` may name a customer that takes a slot.
fn capacity(q: &Query) -> f64 {
    if q.bounds.inclusive() {
        PAGE as f64
    } else {
        (PAGE - 1) as f64
    }
}

/// Cut [lo, hi], where about `customers` customers are expected, into ranges of a little less
/// than `room` customers each (see [`target`]), at most [`MAX_RANGES`] of them, made as they
/// are needed.
fn split(lo: u64, hi: u64, customers: u64, room: f64) -> impl Iterator<Item = (u64, u64)> {
    let span = if hi < lo {
        0
    } else {
        (hi - lo).saturating_add(1)
    };
    // Unique ids: no more customers than ids.
    let customers = customers.clamp(1, span.max(1));
    let per_range = target(customers, span) * room / PAGE as f64;
    let chunks = ((customers as f64 / per_range).ceil() as u64).clamp(1, MAX_RANGES);
    let width = span.div_ceil(chunks).max(1);
    let mut next = (span > 0).then_some(lo);
    std::iter::from_fn(move || {
        let a = next?;
        let b = a.saturating_add(width - 1).min(hi);
        next = b.checked_add(1).filter(|n| *n <= hi);
        Some((a, b))
    })
}

/// The pages of one range, read by a spawned task; the task is aborted when this is dropped,
/// so after an error the export stops at once instead of finishing the ranges already started.
///
/// The channel holds one page: a range denser than expected (clustered ids) waits for the
/// writer instead of piling up in memory.
struct RangeReader {
    pages: mpsc::Receiver<Result<Vec<Customer>, ApiError>>,
    task: tokio::task::JoinHandle<()>,
}

impl RangeReader {
    fn start(client: Client, q: Query, lo: u64, hi: Option<u64>) -> RangeReader {
        RangeReader::start_telling(client, q, lo, hi, None)
    }

    /// [`RangeReader::start`], saying on `answered` when the first page has come back.
    fn start_telling(
        client: Client,
        q: Query,
        lo: u64,
        hi: Option<u64>,
        answered: Option<oneshot::Sender<()>>,
    ) -> RangeReader {
        let (tx, pages) = mpsc::channel(1);
        let task = tokio::spawn(read_range(client, q, lo, hi, tx, answered));
        RangeReader { pages, task }
    }
}

impl Drop for RangeReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl futures::Stream for RangeReader {
    type Item = Result<Vec<Customer>, ApiError>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        match self.pages.poll_recv(cx) {
            Poll::Ready(None) => {
                // The sender is gone: the task ended. A panic must not pass for "no more rows".
                match std::pin::Pin::new(&mut self.task).poll(cx) {
                    Poll::Ready(Err(e)) if e.is_panic() => {
                        std::panic::resume_unwind(e.into_panic())
                    }
                    Poll::Ready(_) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            }
            other => other,
        }
    }
}

/// A spawned task aborted when dropped (the probe: nobody needs it after an error).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = T;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        // Only this guard aborts the task, so an error here is the task's panic.
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())))
    }
}

/// One piece of the id space, in the order the pieces are written.
enum Segment {
    /// A range whose reader is already running.
    Started(RangeReader),
    /// A range to read with `min_id`/`max_id` (hi = None: to the end).
    Range(u64, Option<u64>),
    /// Customers already read: the probe's page.
    Rows(Vec<Customer>),
}

type Pages = BoxStream<'static, Result<Vec<Customer>, ApiError>>;

impl Segment {
    fn into_pages(self, client: &Client, q: &Query) -> Pages {
        match self {
            Segment::Started(reader) => reader.boxed(),
            Segment::Range(a, b) => RangeReader::start(client.clone(), q.clone(), a, b).boxed(),
            Segment::Rows(rows) => stream::iter([Ok(rows)]).boxed(),
        }
    }
}

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

/// The walk as yielded (see [`ascending`]).
struct Walk {
    pages: Pages,
    client: Client,
    q: Query,
    last: Option<u64>,
    rows: u64,
    most: u64,
    failed: bool,
}

impl Walk {
    async fn check(&mut self, page: Vec<Customer>) -> Result<Vec<Customer>, ApiError> {
        if let (Some(l), Some(f)) = (self.last, page.first()) {
            if f.id <= l {
                return Err(inconsistent(format!(
                    "the store sent customer {} again after customer {l}",
                    f.id
                )));
            }
        }
        self.last = page.last().map(|c| c.id).or(self.last);
        self.rows += page.len() as u64;
        if self.rows > self.most {
            // A count far too low (stale, or a store that grew a lot) is not a reason to stop:
            // ask again, once per doubling, before calling the store endless.
            let now = self.client.count_customers(&self.q.count_params()).await?;
            self.most = now.saturating_mul(2).saturating_add(MAX_CREATED_DURING);
            if self.rows > self.most {
                return Err(inconsistent(format!(
                    "the store has sent {} customers and keeps sending more, while it counts {now}",
                    self.rows
                )));
            }
        }
        Ok(page)
    }
}

/// The pages as yielded must be strictly ascending across pages too: the pieces are disjoint
/// by construction, and this makes sure of it whatever the store did (a duplicate is an error,
/// never a row written twice). And they must end: past twice the count plus
/// [`MAX_CREATED_DURING`] customers the count is asked again, and a store that sends more than
/// that allows is sending customers forever (ids that always go on), which fails the walk.
fn ascending(pages: Pages, client: Client, q: Query, count: u64) -> Pages {
    let walk = Walk {
        pages,
        client,
        q,
        last: None,
        rows: 0,
        most: count.saturating_mul(2).saturating_add(MAX_CREATED_DURING),
        failed: false,
    };
    stream::unfold(walk, |mut walk| async move {
        if walk.failed {
            return None;
        }
        let checked = match walk.pages.next().await? {
            Ok(page) => walk.check(page).await,
            Err(e) => Err(e),
        };
        walk.failed = checked.is_err();
        Some((checked, walk))
    })
    .boxed()
}

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

fn pages_in_order(
    client: Client,
    q: Query,
    count: u64,
    first: FirstPage,
    concurrency: usize,
) -> Pages {
    let ahead = concurrency.max(1) * 2;
    let start = q.min_id.unwrap_or(1);
    let end = q.max_id.unwrap_or(u64::MAX);
    // The first page named `start` itself: unless `start` came back (which proves inclusive
    // bounds), exclusive bounds may have left it out, so the ids before the first one sent
    // may need reading again, overlapped, before the first page (the output stays in id
    // order). An empty store (count 0, nothing sent) needs nothing more.
    let gap = if q.bounds.inclusive() {
        None
    } else {
        match first.first {
            Some(f) if f > start => Some((start, Some(f - 1))),
            Some(_) => None,
            None if count > 0 => Some((start, q.max_id)),
            None => None,
        }
    };
    let (first_id, last_id) = (first.first.unwrap_or(start), first.last.unwrap_or(start));
    let full = first.full;
    // The first speculative range (below) names the first page's last customer as its
    // `min_id`, which shows in the same round trip whether the bounds are inclusive; the
    // re-read then waits for that answer and is skipped when they are (the usual store whose
    // first customer was deleted pays no request for it).
    let (told, answered) = oneshot::channel();
    let mut told = Some(told);
    let wait_for_proof = gap.is_some() && full && count.div_ceil(PAGE) >= 3 && concurrency > 1;
    let gap_pages = {
        let (client, q) = (client.clone(), q.clone());
        stream::once(async move {
            if wait_for_proof {
                let _ = answered.await;
            }
            match gap {
                Some((a, b)) if !q.bounds.inclusive() => {
                    RangeReader::start(client, q, a, b).boxed()
                }
                _ => stream::empty().boxed(),
            }
        })
        .flatten()
    };
    let head = gap_pages.chain(stream::iter(
        (!first.rows.is_empty()).then_some(Ok(first.rows)),
    ));
    // A short first page was the only one; a full one ending at `end` (or at u64::MAX) too.
    let lo = match last_id.checked_add(1) {
        Some(lo) if full && last_id < end => lo,
        _ => return head.boxed(),
    };
    let last_page = count.div_ceil(PAGE);
    if last_page < 2 {
        // The count said one page, yet it came back full (the store grew): read on from there.
        let rest = Segment::Range(lo, q.max_id).into_pages(&client, &q);
        return head.chain(rest).boxed();
    }

    // The probe: sent now, with the speculative ranges.
    let probe = {
        let (client, q) = (client.clone(), q.clone());
        AbortOnDrop(tokio::spawn(async move {
            let ask = q.ask(start, q.max_id);
            let params = q.page_params(&ask, &[("page", last_page.to_string())]);
            let page = client.customers_page(&params).await?;
            let checked = q.check(page, &ask)?;
            // Page `last_page` >= 2 of the id-sorted list lies after the first page: new
            // customers get higher ids and deletions only move later ones forward, so a full
            // page ending within page 1 is page 1 again: the store ignores `page`. (Not "any id
            // before page 1's last": customers entering a filtered list meanwhile, or the
            // probe's overlapped `min_id`, can legitimately shift a few of page 1's customers
            // onto page 2; those are dropped below as already read.)
            if let Some(last) = checked.last.filter(|l| checked.full && *l <= last_id) {
                return Err(inconsistent(format!(
                    "the store sent customers up to {last} on page {last_page}, all within page 1 (up to customer {last_id}): it ignores the page parameter"
                )));
            }
            Ok(checked)
        }))
    };
    // Speculative ranges: as many as leave the probe a request slot, never more than the
    // pages the count says lie between the first and the last.
    let span = last_id - first_id + 1;
    let width = (target(PAGE, span) * span as f64 / PAGE as f64 * capacity(&q) / PAGE as f64)
        .ceil()
        .max(1.0) as u64;
    let mut speculative = Vec::new();
    // The last id the speculative ranges cover (lo - 1: none).
    let mut covered = lo - 1;
    for _ in 0..(concurrency.saturating_sub(1) as u64).min(last_page - 2) {
        if covered >= end {
            break;
        }
        let (a, b) = (covered + 1, covered.saturating_add(width).min(end));
        speculative.push(Segment::Started(RangeReader::start_telling(
            client.clone(),
            q.clone(),
            a,
            Some(b),
            told.take(),
        )));
        covered = b;
    }

    let rest = {
        let q = q.clone();
        stream::once(async move {
            let probe = probe.await?;
            Ok(after_probe(&q, count, lo, covered, probe))
        })
        .flat_map(
            |segments: Result<Box<dyn Iterator<Item = Segment> + Send>, ApiError>| match segments {
                Ok(s) => stream::iter(s).map(Ok).boxed(),
                Err(e) => stream::iter([Err(e)]).boxed(),
            },
        )
    };
    let pieces =
        stream::iter(speculative)
            .map(Ok)
            .chain(rest)
            .map(move |s: Result<Segment, ApiError>| {
                futures::future::ready(match s {
                    Ok(s) => s.into_pages(&client, &q),
                    Err(e) => stream::iter([Err(e)]).boxed(),
                })
            });
    head.chain(pieces.buffered(ahead).flatten()).boxed()
}

/// What is left to read once the probe's page is back: the ids between the speculative
/// ranges (which cover up to `covered`) and the probe's page, the page itself (what the
/// speculative ranges did not cover), and what may lie after it: the open range (customers
/// created meanwhile), or with the user's `max_id` the ids up to it when the probe's page was
/// full (then it may not have been the last).
fn after_probe(
    q: &Query,
    count: u64,
    lo: u64,
    covered: u64,
    probe: Checked,
) -> Box<dyn Iterator<Item = Segment> + Send> {
    let end = q.max_id.unwrap_or(u64::MAX);
    let rows: Vec<Customer> = probe.rows.into_iter().filter(|c| c.id > covered).collect();
    let (Some(p_min), Some(p_max)) = (probe.first, probe.last) else {
        // An empty last page: the store shrank since the count. One range reads on.
        let rest = covered
            .checked_add(1)
            .filter(|a| *a <= end)
            .map(|a| Segment::Range(a, q.max_id));
        return Box::new(rest.into_iter());
    };
    let mut gap = None;
    if p_min.saturating_sub(1) > covered {
        // Customers in [lo, p_min - 1] when counted, spread evenly: the share in the gap.
        let between = count.saturating_sub(PAGE + rows.len() as u64);
        let (a, b) = (covered + 1, p_min - 1);
        let share = (between as u128 * (b - a + 1) as u128 / (p_min - lo).max(1) as u128) as u64;
        gap = Some(split(a, b, share, capacity(q)).map(|(a, b)| Segment::Range(a, Some(b))));
    }
    let rows = (!rows.is_empty()).then_some(Segment::Rows(rows));
    let after = p_max.max(covered).checked_add(1).filter(|a| *a <= end);
    let tail = match (after, q.max_id) {
        (Some(a), None) => Some(Segment::Range(a, None)),
        (Some(a), Some(_)) if probe.full => Some(Segment::Range(a, q.max_id)),
        _ => None,
    };
    Box::new(gap.into_iter().flatten().chain(rows).chain(tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ranges are disjoint, ascending, and cover [lo, hi].
    fn ranges(lo: u64, hi: u64, customers: u64) -> Vec<(u64, u64)> {
        split(lo, hi, customers, PAGE as f64).collect()
    }

    fn check(lo: u64, hi: u64, customers: u64) {
        let ranges = ranges(lo, hi, customers);
        assert_eq!(ranges[0].0, lo);
        for w in ranges.windows(2) {
            assert_eq!(w[0].1 + 1, w[1].0, "adjacent, no gap, no overlap");
        }
        assert_eq!(ranges.last().unwrap().1, hi);
        assert!(ranges.iter().all(|(a, b)| a <= b));
    }

    #[test]
    fn ranges_cover_the_id_span_once() {
        check(251, 100_000, 99_750);
        check(251, 5_000_000, 99_750);
        check(251, 260, 99_750); // more chunks than ids: width 1
        check(1_000, 1_000, 1);
        check(u64::MAX - 10, u64::MAX, 5);
        check(0, u64::MAX, u64::MAX);
        assert_eq!(ranges(251, 100_000, 99_750).len(), 399);
        assert_eq!(ranges(251, 900, 50), [(251, 900)]);
        assert!(ranges(251, 100, 300).is_empty());
        assert_eq!(ranges(u64::MAX, u64::MAX, 1), [(u64::MAX, u64::MAX)]);
    }

    /// A count of 10^12 over ids up to 10^15 (a broken store) plans at most MAX_RANGES
    /// ranges, made one at a time, not one per 250 claimed customers.
    #[test]
    fn a_huge_count_plans_a_bounded_number_of_ranges() {
        assert_eq!(
            ranges(251, 1_000_000_000_000_000, 1_000_000_000_000).len() as u64,
            MAX_RANGES
        );
        check(251, 1_000_000_000_000_000, 1_000_000_000_000);
        assert_eq!(ranges(1, u64::MAX, u64::MAX).len() as u64, MAX_RANGES);
    }

    /// Requests [`read_range`] needs for one range of the sorted `ids` (a full page always
    /// asks for the next one, unless it ended exactly on the range's last id).
    fn range_requests(ids: &[u64], a: u64, b: Option<u64>) -> u64 {
        let from = ids.partition_point(|i| *i < a);
        let to = b.map_or(ids.len(), |b| ids.partition_point(|i| *i <= b));
        let inside = &ids[from..to];
        let n = inside.len() as u64;
        if n == 0 {
            1
        } else if n.is_multiple_of(PAGE) && b.is_some_and(|b| inside.last() == Some(&b)) {
            n / PAGE
        } else {
            n / PAGE + 1
        }
    }

    /// With ids missing at random, ranges sized for exactly 250 would overflow about half the
    /// time (two requests each: 1.5× the ideal at 20% missing); the margin keeps it within
    /// ~1.16×, and contiguous ids stay exact.
    #[test]
    fn ids_with_holes_rarely_need_follow_on_requests() {
        let mut rng = fastrand::Rng::with_seed(7);
        for missing in [0.0, 0.2, 0.5, 0.9] {
            let ids: Vec<u64> = (1..=400_000u64).filter(|_| rng.f64() >= missing).collect();
            let count = ids.len() as u64;
            let lo = ids[PAGE as usize - 1] + 1;
            let hi = *ids.last().unwrap();
            let ranges = ranges(lo, hi, count - PAGE);
            let sent: u64 = ranges
                .iter()
                .map(|(a, b)| range_requests(&ids, *a, Some(*b)))
                .sum();
            let ideal = (count - PAGE).div_ceil(PAGE);
            assert!(
                sent as f64 <= ideal as f64 * 1.17,
                "{missing}: {sent} requests for {count} customers (ideal {ideal})"
            );
            if missing == 0.0 {
                assert_eq!(sent, ideal, "contiguous ids: one request per page");
            }
        }
    }

    #[test]
    fn expected_requests_per_count() {
        assert_eq!(expected_page_requests(0, true), 1);
        assert_eq!(expected_page_requests(249, true), 1);
        assert_eq!(expected_page_requests(250, true), 2);
        assert_eq!(expected_page_requests(251, true), 3);
        assert_eq!(expected_page_requests(100_000, true), 401);
        assert_eq!(expected_page_requests(100_000, false), 400);
    }

    /// Read the sandbox's customers with [`customer_pages`]; return the ids in the order
    /// yielded and the page requests sent.
    async fn read_all(
        sandbox: &crate::sandbox::Sandbox,
        q: Query,
        count: u64,
        concurrency: usize,
    ) -> (Vec<u64>, u64) {
        use crate::api::client::{Connection, Secret};
        let client = Client::new(&Connection {
            api_url: Connection::check_api_url(&sandbox.base_url()).unwrap(),
            store_hash: sandbox.store_hash().to_string(),
            token: Secret::new(sandbox.token().to_string()),
            concurrency,
            timeout: std::time::Duration::from_secs(30),
            max_retries: 0,
        })
        .unwrap();
        let before = client.stats().requests;
        let mut ids = Vec::new();
        let mut pages = customer_pages(client.clone(), q, count, concurrency);
        while let Some(page) = pages.next().await {
            ids.extend(page.unwrap().iter().map(|c| c.id));
        }
        (ids, client.stats().requests - before)
    }

    async fn seeded(customers: usize, exclusive: bool) -> crate::sandbox::Sandbox {
        let cfg = crate::sandbox::SandboxConfig {
            seed: customers,
            exclusive_id_bounds: exclusive,
            ..Default::default()
        };
        crate::sandbox::Sandbox::start(cfg, 0).await.unwrap()
    }

    fn store_ids(sandbox: &crate::sandbox::Sandbox) -> Vec<u64> {
        let mut ids: Vec<u64> = sandbox
            .customers()
            .iter()
            .map(|c| c["id"].as_u64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Every customer once, in order, whatever the ids look like and however wrong the first
    /// page's density or the count is; contiguous ids cost exactly the expected requests.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_layout_reads_each_customer_once() {
        every_layout(false).await;
    }

    /// The same when `min_id`/`max_id` exclude the id they name (BigCommerce does not say):
    /// nothing is lost; the first page then cannot prove the bounds inclusive, so the id before
    /// its first customer is read once more (one request) and ranges aim at 249 customers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_layout_reads_each_customer_once_with_exclusive_bounds() {
        every_layout(true).await;
    }

    async fn every_layout(exclusive: bool) {
        // Requests allowed above the inclusive store's: the re-read before the first page,
        // and ranges of 249 (about one more request per 62,000 customers).
        let slack = if exclusive { 2 } else { 0 };
        let sandbox = seeded(12_000, exclusive).await;
        let all = store_ids(&sandbox);
        assert_eq!(all.len(), 12_000);
        let n = all.len() as u64;

        // Contiguous ids, several concurrencies: the expected number of requests exactly.
        for concurrency in [1, 4, 8, 64] {
            let (ids, requests) = read_all(&sandbox, Query::default(), n, concurrency).await;
            assert_eq!(ids, all, "concurrency {concurrency}");
            let expected = expected_page_requests(n, true);
            assert!(
                (expected..=expected + slack).contains(&requests),
                "c{concurrency}: {requests} requests, {expected} expected"
            );
        }
        // A count that is too high (the store shrank: the probe's page is empty) or too low
        // (it grew: the probe's page is not the last).
        for count in [n * 3, n / 3, 251, 250] {
            let (ids, _) = read_all(&sandbox, Query::default(), count, 8).await;
            assert_eq!(ids, all, "count {count}");
        }
        // The user's max_id and min_id.
        let q = Query {
            min_id: Some(all[300]),
            max_id: Some(all[9_000]),
            ..Query::default()
        };
        let (ids, requests) = read_all(&sandbox, q, 8_701, 8).await;
        assert_eq!(ids, all[300..=9_000]);
        let expected = expected_page_requests(8_701, false);
        assert!(
            (expected..=expected + slack).contains(&requests),
            "{requests}"
        );

        // First page dense, then sparse (keep every 10th id after the first 250).
        for id in &all[250..] {
            if id % 10 != 0 {
                sandbox.delete_customer(*id);
            }
        }
        let now = store_ids(&sandbox);
        let (ids, requests) = read_all(&sandbox, Query::default(), now.len() as u64, 8).await;
        assert_eq!(ids, now);
        // 1,175 customers: 5 pages at best; the speculative ranges guessed 250 ids each.
        assert!(
            requests <= expected_page_requests(now.len() as u64, true) + 7,
            "{requests}"
        );

        // First page sparse, then dense: the first 250 customers are spread over ~2,500 ids.
        let sandbox = seeded(12_000, exclusive).await;
        let all = store_ids(&sandbox);
        for id in &all[..2_500] {
            if id % 10 != 0 {
                sandbox.delete_customer(*id);
            }
        }
        let now = store_ids(&sandbox);
        let (ids, requests) = read_all(&sandbox, Query::default(), now.len() as u64, 8).await;
        assert_eq!(ids, now);
        // Ranges 10× too wide at first: follow-on requests, about one per page still.
        let ideal = expected_page_requests(now.len() as u64, true);
        assert!(requests <= ideal + 8, "{requests} vs {ideal}");

        // Half the ids missing at random.
        let mut rng = fastrand::Rng::with_seed(3);
        for id in &now {
            if rng.bool() {
                sandbox.delete_customer(*id);
            }
        }
        let now = store_ids(&sandbox);
        let (ids, requests) = read_all(&sandbox, Query::default(), now.len() as u64, 8).await;
        assert_eq!(ids, now);
        let ideal = expected_page_requests(now.len() as u64, true);
        assert!(
            requests as f64 <= ideal as f64 * 1.25,
            "{requests} vs {ideal}"
        );
    }
}
