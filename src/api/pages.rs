//! Every customer matching some filters, as a stream of pages in ascending id, fetched
//! concurrently, each customer exactly once even while customers are created or deleted.
//!
//! Paging by page *number* skips or repeats rows when the store changes underneath, so we page
//! by id: the id space is cut into disjoint ranges expected to hold about 250 customers each
//! (from `/customers/count` and the highest id), each range is read with
//! `min_id`/`max_id` (following on while a page comes back full), ranges are fetched up to
//! `concurrency` at a time and yielded in order (`buffered`, so memory stays at a few ranges),
//! and an open-ended range after the highest id picks up customers created meanwhile.

use futures::stream::{self, BoxStream, StreamExt};

use super::client::Client;
use super::error::ApiError;
use super::models::Customer;

pub const PAGE: u64 = 250;

/// A query: the user's filters (never `page`/`limit`/`min_id`/`max_id`, which are ours) and
/// the id bounds.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub filters: Vec<(String, String)>,
    pub min_id: Option<u64>,
    pub max_id: Option<u64>,
}

/// The plan: how many customers and roughly how many requests (printed before an export).
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub count: u64,
    pub expected_requests: u64,
}

/// Count first (one request) so callers can print the plan, then stream.
pub async fn plan(client: &Client, q: &Query) -> Result<Plan, ApiError> {
    let count = client.count_customers(&q.count_params()).await?;
    // count + first page + last-page probe + one range per 250 + the open tail.
    let expected = if count <= PAGE {
        2
    } else {
        3 + count.div_ceil(PAGE) + 1
    };
    Ok(Plan {
        count,
        expected_requests: expected,
    })
}

impl Query {
    fn count_params(&self) -> Vec<(&str, String)> {
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

/// Read [lo, hi] (hi = None: to the end) by following `min_id` while pages come back full.
async fn read_range(
    client: &Client,
    q: &Query,
    lo: u64,
    hi: Option<u64>,
) -> Result<Vec<Customer>, ApiError> {
    let mut out = Vec::new();
    let mut next = lo;
    loop {
        if hi.is_some_and(|h| next > h) {
            return Ok(out);
        }
        let page = client.customers_page(&q.page_params(next, hi, &[])).await?;
        let full = page.len() as u64 >= PAGE;
        // Defensive: keep only rows inside the range and after what we have (ascending, once).
        let last = out.last().map(|c: &Customer| c.id);
        let mut max_seen = next.saturating_sub(1);
        for c in page {
            max_seen = max_seen.max(c.id);
            if c.id >= next && hi.is_none_or(|h| c.id <= h) && last.is_none_or(|l| c.id > l) {
                out.push(c);
            }
        }
        if !full {
            return Ok(out);
        }
        next = max_seen + 1;
    }
}

/// The first page, and the id ranges that cover everything after it.
async fn setup(
    client: &Client,
    q: &Query,
    count: u64,
) -> Result<(Vec<Customer>, Vec<(u64, Option<u64>)>), ApiError> {
    let start = q.min_id.unwrap_or(1);
    // The highest id: the last page by number. A changing store makes it approximate, which
    // the open range after it makes up for.
    let last_page = count.div_ceil(PAGE).max(1);
    let first_params = q.page_params(start, q.max_id, &[]);
    let probe_params = q.page_params(start, q.max_id, &[("page", last_page.to_string())]);
    // When the count says there is more than a page, the probe is needed anyway: send it
    // with the first page (one round trip, not two).
    let (first, early_probe) = if count > PAGE {
        let (first, probe) = tokio::join!(
            client.customers_page(&first_params),
            client.customers_page(&probe_params)
        );
        (first?, Some(probe?))
    } else {
        (client.customers_page(&first_params).await?, None)
    };
    if (first.len() as u64) < PAGE {
        return Ok((first, Vec::new()));
    }
    let lo = first.last().map(|c| c.id + 1).unwrap_or(start);
    let probe = match early_probe {
        Some(p) => p,
        None => client.customers_page(&probe_params).await?,
    };
    let hi = match (probe.last().map(|c| c.id), q.max_id) {
        (Some(m), Some(u)) => Some(m.min(u)),
        (Some(m), None) => Some(m),
        (None, u) => u,
    };
    let mut ranges = Vec::new();
    match hi.filter(|h| *h >= lo) {
        Some(hi) => {
            let span = hi - lo + 1;
            let chunks = count.saturating_sub(PAGE).div_ceil(PAGE).max(1);
            let width = span.div_ceil(chunks).max(1);
            let mut a = lo;
            while a <= hi {
                let b = (a + width - 1).min(hi);
                ranges.push((a, Some(b)));
                a = b + 1;
            }
            if q.max_id.is_none() {
                ranges.push((hi + 1, None));
            }
        }
        None => ranges.push((lo, q.max_id)),
    }
    Ok((first, ranges))
}

/// Stream every matching customer's page in ascending id. `count` is the plan's count.
pub fn customer_pages(
    client: Client,
    q: Query,
    count: u64,
    concurrency: usize,
) -> BoxStream<'static, Result<Vec<Customer>, ApiError>> {
    let start = async move {
        let (first, ranges) = setup(&client, &q, count).await?;
        Ok::<_, ApiError>((client, q, first, ranges))
    };
    stream::once(start)
        .flat_map(
            move |res| -> BoxStream<'static, Result<Vec<Customer>, ApiError>> {
                match res {
                    Err(e) => stream::iter([Err(e)]).boxed(),
                    Ok((client, q, first, ranges)) => stream::iter([Ok(first)])
                        .chain(
                            stream::iter(ranges)
                                .map(move |(a, b)| {
                                    let client = client.clone();
                                    let q = q.clone();
                                    // A task per range: the body is read and decoded while
                                    // the consumer writes earlier pages, on either core.
                                    tokio::spawn(async move { read_range(&client, &q, a, b).await })
                                })
                                // More ranges under way than requests allowed at once: the
                                // client's semaphore still caps requests at `concurrency`, but
                                // one slow page no longer idles the others' slots while it
                                // holds the head of the order (a few pages of memory).
                                .buffered(concurrency.max(1) * 4)
                                .map(|joined| {
                                    joined.unwrap_or_else(|e| {
                                        std::panic::resume_unwind(e.into_panic())
                                    })
                                }),
                        )
                        .boxed(),
                }
            },
        )
        .boxed()
}
