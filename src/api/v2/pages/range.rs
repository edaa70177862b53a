//! One id range of the V2 pager: its planning ([`split`], sized from the count), its reader
//! task (following `min_id` while pages come back full), and the pieces the walk is made of.

use std::future::Future;

use futures::stream::{self, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::{inconsistent, Pages, Query, MAX_RANGES, PAGE};
use crate::api::client::Client;
use crate::api::error::ApiError;
use crate::api::models::Customer;

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

/// Ids per range so that a range of ids in which `customers` of `span` ids exist holds a little
/// less than a page.
///
/// A range holding 251 customers costs two requests, so ranges aim below 250: where ids have
/// holes (deleted customers, filters) the number in an id range of fixed width varies (about
/// binomially, variance `target × share of ids missing`), and the target leaves two standard
/// deviations of room, about the best trade between more ranges and overflowing ones (in a
/// simulation: 1.08, 1.12 and 1.16 requests per page of customers with 20%, 50% and 90% of ids
/// missing, against 1.5 at 20% without the margin). Contiguous ids (no holes) keep the full 250.
pub(super) fn target(customers: u64, span: u64) -> f64 {
    let missing = 1.0 - (customers.max(1) as f64 / span.max(1) as f64).min(1.0);
    (PAGE as f64 - 2.0 * (PAGE as f64 * missing).sqrt()).max(PAGE as f64 / 2.0)
}

/// How many customers one request can bring of a range: a page, or one less while the bounds
/// may be inclusive and `min_id = lo - 1` may name a customer that takes a slot.
pub(super) fn capacity(q: &Query) -> f64 {
    if q.bounds.inclusive() {
        PAGE as f64
    } else {
        (PAGE - 1) as f64
    }
}

/// Cut [lo, hi], where about `customers` customers are expected, into ranges of a little less
/// than `room` customers each (see [`target`]), at most [`MAX_RANGES`] of them, made as they
/// are needed.
pub(super) fn split(
    lo: u64,
    hi: u64,
    customers: u64,
    room: f64,
) -> impl Iterator<Item = (u64, u64)> {
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
pub(super) struct RangeReader {
    pages: mpsc::Receiver<Result<Vec<Customer>, ApiError>>,
    task: tokio::task::JoinHandle<()>,
}

impl RangeReader {
    pub(super) fn start(client: Client, q: Query, lo: u64, hi: Option<u64>) -> RangeReader {
        RangeReader::start_telling(client, q, lo, hi, None)
    }

    /// [`RangeReader::start`], saying on `answered` when the first page has come back.
    pub(super) fn start_telling(
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
pub(super) struct AbortOnDrop<T>(pub(super) tokio::task::JoinHandle<T>);

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
pub(super) enum Segment {
    /// A range whose reader is already running.
    Started(RangeReader),
    /// A range to read with `min_id`/`max_id` (hi = None: to the end).
    Range(u64, Option<u64>),
    /// Customers already read: the probe's page.
    Rows(Vec<Customer>),
}

impl Segment {
    pub(super) fn into_pages(self, client: &Client, q: &Query) -> Pages {
        match self {
            Segment::Started(reader) => reader.boxed(),
            Segment::Range(a, b) => RangeReader::start(client.clone(), q.clone(), a, b).boxed(),
            Segment::Rows(rows) => stream::iter([Ok(rows)]).boxed(),
        }
    }
}
