//! The store seam for reads: one [`Reader`] over either Customers API, yielding the same
//! [`Page`]s of V2-shaped customers (and addresses), so `export` writes the same bytes from
//! either backend (reviews/architecture-review.md §8: backends as an enum chosen once from
//! the settings, no dyn; a V3 gap is a compile error in the match).

use futures::stream::{BoxStream, StreamExt};

use super::client::Client;
use super::error::ApiError;
use super::pages::{self, Query};
use super::v3;

pub use super::v3::pages::Page;

/// The backend, with what it needs validated up front.
#[derive(Clone)]
pub enum Reader {
    /// `/v2/customers`, paged by id range; addresses are one request per customer.
    V2(Client),
    /// `/v3/customers`, paged by cursor, addresses embedded; the filters under V3's names.
    V3(Client, v3::Filters),
}

/// What the first round trip tells: the count, the first page, the plan.
pub struct Start {
    /// Matching customers when the export started.
    pub count: u64,
    /// Page requests still to come (for the plan printed before an export).
    pub page_requests: u64,
    /// Addresses come with the pages (no request per customer).
    pub addresses_embedded: bool,
    first: First,
}

enum First {
    V2(pages::FirstPage),
    V3(v3::pages::FirstPage),
}

impl Reader {
    pub fn client(&self) -> &Client {
        match self {
            Reader::V2(c) | Reader::V3(c, _) => c,
        }
    }

    /// The count and the first page. V2: `/customers/count` and the first page at once (one
    /// round trip); V3: the first page alone, which carries the count.
    pub async fn start(&self, q: &Query, addresses: bool) -> Result<Start, ApiError> {
        match self {
            Reader::V2(client) => {
                let (plan, first) =
                    futures::join!(pages::plan(client, q), pages::first_page(client, q));
                let plan = plan?;
                Ok(Start {
                    count: plan.count,
                    page_requests: plan.page_requests.saturating_sub(1),
                    addresses_embedded: false,
                    first: First::V2(first?),
                })
            }
            Reader::V3(client, filters) => {
                let first = v3::pages::first_page(client, filters, addresses).await?;
                Ok(Start {
                    count: first.total,
                    page_requests: v3::pages::expected_page_requests(first.total).saturating_sub(1),
                    addresses_embedded: addresses,
                    first: First::V3(first),
                })
            }
        }
    }

    /// The first page, then every matching customer after it, ascending, each once.
    pub fn pages(
        &self,
        q: Query,
        start: Start,
        concurrency: usize,
    ) -> BoxStream<'static, Result<Page, ApiError>> {
        match (self, start.first) {
            (Reader::V2(client), First::V2(first)) => {
                pages::pages_after(client.clone(), q, start.count, first, concurrency)
                    .map(|page| {
                        page.map(|customers| Page {
                            customers,
                            addresses: None,
                        })
                    })
                    .boxed()
            }
            (Reader::V3(client, filters), First::V3(first)) => v3::pages::pages_after(
                client.clone(),
                filters.clone(),
                first,
                start.addresses_embedded,
                concurrency,
            ),
            _ => unreachable!("a Start comes from the same Reader"),
        }
    }

    /// The matching customers last modified at or before `before`, counted now (see
    /// [`pages::count_unchanged_since`]), through the same API as the pages.
    pub async fn count_unchanged_since(
        &self,
        q: &Query,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, ApiError> {
        match self {
            Reader::V2(client) => pages::count_unchanged_since(client, q, before).await,
            Reader::V3(client, filters) => {
                v3::count(client, &filters.modified_at_or_before(before)).await
            }
        }
    }
}
