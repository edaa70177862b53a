//! Every customer matching some filters, as a stream of pages in ascending id, fetched
//! concurrently, each customer exactly once even while customers are created or deleted.
//!
//! Paging by page *number* skips or repeats rows when the store changes underneath, so we page
//! by id: the id space is cut into disjoint ranges expected to hold about 250 customers each
//! (from `/customers/count` and the highest id), each range is read with
//! `min_id`/`max_id` (following on while a page comes back full) by its own task, a few ranges
//! ahead of the writer, and the pages are yielded in range order; each range hands over one
//! page at a time, so memory stays at a few pages however the ids cluster. An open-ended range
//! after the highest id picks up customers created meanwhile.

use std::future::Future;

use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::mpsc;

use super::client::Client;
use super::error::ApiError;
use super::models::Customer;

/// The page size: the API's maximum `limit`.
pub const PAGE: u64 = 250;

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

/// The page requests [`layout`] and [`customer_pages`] send for `count` customers with
/// contiguous ids: the first page, the last-page probe, one per range and the open tail. Ids
/// with holes get narrower ranges ([`Layout::requests`] has the exact number once laid out).
pub fn expected_page_requests(count: u64, open_tail: bool) -> u64 {
    match count {
        // The first page comes back short: it was the only one.
        c if c < PAGE => 1,
        // A full first page and no probe: one open range reads whatever came after it.
        c if c == PAGE => 2,
        c => 2 + c.saturating_sub(PAGE).div_ceil(PAGE) + u64::from(open_tail),
    }
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

    fn page_params(
        &self,
        min_id: u64,
        max_id: Option<u64>,
        extra: &[(&'static str, String)],
    ) -> Vec<(&str, String)> {
        let mut p: Vec<(&str, String)> = self
            .filters
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        p.push(("min_id", min_id.to_string()));
        if let Some(m) = max_id {
            p.push(("max_id", m.to_string()));
        }
        p.push(("limit", PAGE.to_string()));
        p.extend(extra.iter().cloned());
        p
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
) {
    let mut next = lo;
    while hi.is_none_or(|h| next <= h) {
        let page = match client.customers_page(&q.page_params(next, hi, &[])).await {
            Ok(page) => page,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let full = page.len() as u64 >= PAGE;
        let max_seen = page.iter().map(|c| c.id).max().unwrap_or(0);
        // Defensive: only rows inside the range and after the previous page, ascending, once,
        // whatever the server sent.
        let mut rows: Vec<Customer> = page
            .into_iter()
            .filter(|c| c.id >= next && hi.is_none_or(|h| c.id <= h))
            .collect();
        rows.sort_unstable_by_key(|c| c.id);
        rows.dedup_by_key(|c| c.id);
        if !rows.is_empty() && tx.send(Ok(rows)).await.is_err() {
            return;
        }
        if !full || max_seen < next {
            return;
        }
        next = max_seen + 1;
    }
}

/// The first page, and the id ranges that cover everything after it: what
/// [`customer_pages`] will read, known before the bulk of the requests.
#[derive(Debug, Default)]
pub struct Layout {
    first: Vec<Customer>,
    ranges: Vec<(u64, Option<u64>)>,
}

impl Layout {
    /// Requests still to come: one per range (more where a range is denser than expected).
    pub fn requests(&self) -> u64 {
        self.ranges.len() as u64
    }
}

/// Read the first page and probe the highest id (one round trip), and cut the ids in between
/// into ranges. `count` is the plan's count.
pub async fn layout(client: &Client, q: &Query, count: u64) -> Result<Layout, ApiError> {
    let start = q.min_id.unwrap_or(1);
    let first_params = q.page_params(start, q.max_id, &[]);
    // The highest id: the last page by number, asked together with the first page (both only
    // need the count) so that setting up costs one round trip. A changing store makes it
    // approximate, which the open range after it makes up for.
    let last_page = count.div_ceil(PAGE).max(1);
    let probe_params = q.page_params(start, q.max_id, &[("page", last_page.to_string())]);
    let (first, probe) = if last_page > 1 {
        let (first, probe) = futures::join!(
            client.customers_page(&first_params),
            client.customers_page(&probe_params)
        );
        (first?, Some(probe?))
    } else {
        (client.customers_page(&first_params).await?, None)
    };
    if (first.len() as u64) < PAGE {
        return Ok(Layout {
            first,
            ranges: Vec::new(),
        });
    }
    let lo = first.last().map(|c| c.id + 1).unwrap_or(start);
    let probe_max = probe.as_ref().and_then(|p| p.last()).map(|c| c.id);
    let hi = match (probe_max, q.max_id) {
        (Some(m), Some(u)) => Some(m.min(u)),
        (Some(m), None) => Some(m),
        (None, u) => u,
    };
    Ok(Layout {
        first,
        ranges: split(lo, hi, count, q.max_id.is_none()),
    })
}

/// Cut [lo, hi] into ranges expected to hold a little less than a page each, plus the open
/// tail when `open_tail`.
///
/// A range holding 251 customers costs two requests, so ranges aim below 250: where ids have
/// holes (deleted customers, filters) the number in an id range of fixed width varies (about
/// binomially, variance `target × share of ids missing`), and the target leaves two standard
/// deviations of room, about the best trade between more ranges and overflowing ones (in a
/// simulation: 1.08, 1.12 and 1.16 requests per page of customers with 20%, 50% and 90% of ids
/// missing, against 1.5 at 20% without the margin). Contiguous ids (no holes) keep the full 250.
fn split(lo: u64, hi: Option<u64>, count: u64, open_tail: bool) -> Vec<(u64, Option<u64>)> {
    let mut ranges = Vec::new();
    match hi.filter(|h| *h >= lo) {
        Some(hi) => {
            let span = hi - lo + 1;
            // The first page is already read, so `count - PAGE` customers are left in [lo, hi].
            let left = count.saturating_sub(PAGE).max(1);
            let missing = 1.0 - (left as f64 / span as f64).min(1.0);
            let target =
                (PAGE as f64 - 2.0 * (PAGE as f64 * missing).sqrt()).max(PAGE as f64 / 2.0);
            let chunks = ((left as f64 / target).ceil() as u64).max(1);
            let width = span.div_ceil(chunks).max(1);
            let mut a = lo;
            while a <= hi {
                let b = (a + width - 1).min(hi);
                ranges.push((a, Some(b)));
                a = b + 1;
            }
            if open_tail {
                ranges.push((hi + 1, None));
            }
        }
        None if open_tail => ranges.push((lo, None)),
        None => ranges.push((lo, hi)),
    }
    ranges
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
        let (tx, pages) = mpsc::channel(1);
        let task = tokio::spawn(read_range(client, q, lo, hi, tx));
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

/// Stream every matching customer's page in ascending id: [`layout`], then [`laid_out_pages`].
/// `count` is the plan's count.
pub fn customer_pages(
    client: Client,
    q: Query,
    count: u64,
    concurrency: usize,
) -> BoxStream<'static, Result<Vec<Customer>, ApiError>> {
    stream::once(async move {
        let layout = layout(&client, &q, count).await;
        (client, q, layout)
    })
    .flat_map(move |(client, q, layout)| match layout {
        Ok(layout) => laid_out_pages(client, q, layout, concurrency),
        Err(e) => stream::iter([Err(e)]).boxed(),
    })
    .boxed()
}

/// Stream every matching customer's page in ascending id, as laid out by [`layout`].
///
/// Each range is read by its own task, so responses are parsed on every core while the caller
/// writes earlier pages; `2 × concurrency` ranges are started ahead (the client's semaphore
/// still allows only `concurrency` requests at once), so one slow range does not leave
/// request slots idle. Memory: at most two pages per range started, however the ids cluster.
pub fn laid_out_pages(
    client: Client,
    q: Query,
    layout: Layout,
    concurrency: usize,
) -> BoxStream<'static, Result<Vec<Customer>, ApiError>> {
    let ahead = concurrency.max(1) * 2;
    let Layout { first, ranges } = layout;
    stream::iter([Ok(first)])
        .chain(
            stream::iter(ranges)
                .map(move |(a, b)| {
                    futures::future::ready(RangeReader::start(client.clone(), q.clone(), a, b))
                })
                .buffered(ahead)
                .flatten(),
        )
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ranges are disjoint, ascending, and cover [lo, hi] (plus the open tail when asked).
    fn check(lo: u64, hi: u64, count: u64) {
        let ranges = split(lo, Some(hi), count, true);
        let (last, tail) = ranges.split_at(ranges.len() - 1);
        assert_eq!(tail, [(hi + 1, None)]);
        assert_eq!(last[0].0, lo);
        for w in last.windows(2) {
            assert_eq!(w[0].1.unwrap() + 1, w[1].0, "adjacent, no gap, no overlap");
        }
        assert_eq!(last.last().unwrap().1, Some(hi));
        assert!(last.iter().all(|(a, b)| *a <= b.unwrap()));
    }

    #[test]
    fn ranges_cover_the_id_span_once() {
        check(251, 100_000, 100_000);
        check(251, 5_000_000, 100_000);
        check(251, 260, 100_000); // more chunks than ids: width 1
        check(1_000, 1_000, 251);
        assert_eq!(split(251, Some(100_000), 100_000, true).len(), 399 + 1);
        assert_eq!(split(251, None, 300, true), [(251, None)]);
        assert_eq!(split(251, Some(900), 300, false), [(251, Some(900))]);
        assert_eq!(split(251, Some(100), 300, true), [(251, None)]);
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
            let ranges = split(lo, Some(hi), count, true);
            let sent: u64 = ranges
                .iter()
                .map(|(a, b)| range_requests(&ids, *a, *b))
                .sum();
            let ideal = (count - PAGE).div_ceil(PAGE) + 1;
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
        assert_eq!(expected_page_requests(251, true), 4);
        assert_eq!(expected_page_requests(100_000, true), 402);
        assert_eq!(expected_page_requests(100_000, false), 401);
    }
}
