//! How the V2 pager lays out the id space after the first page: the probe of the last page,
//! the speculative ranges sent with it, the ranges cut from the count once the probe is back,
//! and the open range after the highest id (see [`super::pages_after`]).

use futures::stream::{self, StreamExt};
use tokio::sync::oneshot;

use super::range::{capacity, split, target, AbortOnDrop, RangeReader, Segment};
use super::{inconsistent, Checked, FirstPage, Pages, Query, PAGE};
use crate::api::client::Client;
use crate::api::error::ApiError;
use crate::api::models::Customer;

/// The pieces after the first page, in id order (unchecked across pages: see
/// [`super::walk::ascending`]).
pub(super) fn pages_in_order(
    client: Client,
    q: Query,
    count: u64,
    first: FirstPage,
    concurrency: usize,
) -> Pages {
    let ahead = concurrency.max(1) * 2;
    let start = q.min_id().unwrap_or(1);
    let end = q.max_id().unwrap_or(u64::MAX);
    let gap = gap_before(&q, &first, start, count);
    let (first_id, last_id) = (first.first.unwrap_or(start), first.last.unwrap_or(start));
    let full = first.full;
    // The first speculative range (below) names the first page's last customer as its
    // `min_id`, which shows in the same round trip whether the bounds are inclusive; the
    // re-read then waits for that answer and is skipped when they are (the usual store whose
    // first customer was deleted pays no request for it).
    let (told, answered) = oneshot::channel();
    let wait_for_proof = gap.is_some() && full && count.div_ceil(PAGE) >= 3 && concurrency > 1;
    let gap_pages = reread_gap(&client, &q, gap, wait_for_proof, answered);
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
        let rest = Segment::Range(lo, q.max_id()).into_pages(&client, &q);
        return head.chain(rest).boxed();
    }

    // The probe: sent now, with the speculative ranges.
    let probe = probe(&client, &q, start, last_page, last_id);
    let span = last_id - first_id + 1;
    let (speculative, covered) = Speculative {
        client: &client,
        q: &q,
        span,
        lo,
        end,
        last_page,
        concurrency,
    }
    .start(told);

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

/// The ids before the first one the first page sent, when they may need reading again.
///
/// The first page named `start` itself: unless `start` came back (which proves inclusive
/// bounds), exclusive bounds may have left it out, so the ids before the first one sent
/// may need reading again, overlapped, before the first page (the output stays in id
/// order). An empty store (count 0, nothing sent) needs nothing more.
fn gap_before(q: &Query, first: &FirstPage, start: u64, count: u64) -> Option<(u64, Option<u64>)> {
    if q.bounds.inclusive() {
        return None;
    }
    match first.first {
        Some(f) if f > start => Some((start, Some(f - 1))),
        Some(_) => None,
        None if count > 0 => Some((start, q.max_id())),
        None => None,
    }
}

/// The re-read of `gap` (if any), when it is read: after the first speculative range has
/// answered when `wait` (and skipped if that answer proved the bounds inclusive).
fn reread_gap(
    client: &Client,
    q: &Query,
    gap: Option<(u64, Option<u64>)>,
    wait: bool,
    answered: oneshot::Receiver<()>,
) -> Pages {
    let (client, q) = (client.clone(), q.clone());
    stream::once(async move {
        if wait {
            let _ = answered.await;
        }
        match gap {
            Some((a, b)) if !q.bounds.inclusive() => RangeReader::start(client, q, a, b).boxed(),
            _ => stream::empty().boxed(),
        }
    })
    .flatten()
    .boxed()
}

/// Read page `last_page` by number, in a task of its own (aborted when dropped).
fn probe(
    client: &Client,
    q: &Query,
    start: u64,
    last_page: u64,
    last_id: u64,
) -> AbortOnDrop<Result<Checked, ApiError>> {
    let (client, q) = (client.clone(), q.clone());
    AbortOnDrop(tokio::spawn(async move {
        let ask = q.ask(start, q.max_id());
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
}

/// The speculative ranges right after the first page, sized by its density (`span` ids).
struct Speculative<'a> {
    client: &'a Client,
    q: &'a Query,
    span: u64,
    lo: u64,
    end: u64,
    last_page: u64,
    concurrency: usize,
}

impl Speculative<'_> {
    /// Start as many as leave the probe a request slot, never more than the pages the count
    /// says lie between the first and the last; the first tells `told` when it is answered.
    /// Returns them and the last id they cover (`lo - 1`: none).
    fn start(self, told: oneshot::Sender<()>) -> (Vec<Segment>, u64) {
        let mut told = Some(told);
        let span = self.span;
        let width = (target(PAGE, span) * span as f64 / PAGE as f64 * capacity(self.q)
            / PAGE as f64)
            .ceil()
            .max(1.0) as u64;
        let mut speculative = Vec::new();
        let mut covered = self.lo - 1;
        for _ in 0..(self.concurrency.saturating_sub(1) as u64).min(self.last_page - 2) {
            if covered >= self.end {
                break;
            }
            let (a, b) = (covered + 1, covered.saturating_add(width).min(self.end));
            speculative.push(Segment::Started(RangeReader::start_telling(
                self.client.clone(),
                self.q.clone(),
                a,
                Some(b),
                told.take(),
            )));
            covered = b;
        }
        (speculative, covered)
    }
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
    let end = q.max_id().unwrap_or(u64::MAX);
    let rows: Vec<Customer> = probe.rows.into_iter().filter(|c| c.id > covered).collect();
    let (Some(p_min), Some(p_max)) = (probe.first, probe.last) else {
        // An empty last page: the store shrank since the count. One range reads on.
        let rest = covered
            .checked_add(1)
            .filter(|a| *a <= end)
            .map(|a| Segment::Range(a, q.max_id()));
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
    let tail = match (after, q.max_id()) {
        (Some(a), None) => Some(Segment::Range(a, None)),
        (Some(a), Some(_)) if probe.full => Some(Segment::Range(a, q.max_id())),
        _ => None,
    };
    Box::new(gap.into_iter().flatten().chain(rows).chain(tail))
}
