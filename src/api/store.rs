//! The store seam: [`Reader`] for reads, [`Writer`] for writes (at the end). One [`Reader`]
//! over either Customers API, reading the customers a [`Selection`] (the neutral filters in
//! that backend's terms) names and yielding the same [`Page`]s of V2-shaped customers (and
//! addresses), so `export` writes the same bytes from either backend
//! (reviews/architecture-review.md §8: backends as an enum chosen once from the settings, no
//! dyn; a V3 gap is a compile error in the match).

use futures::stream::{self, BoxStream, StreamExt};

use super::client::Client;
use super::error::ApiError;
use super::filters::Filters;
use super::models::Customer;
use super::once::Deleted;
use super::{v2, v3};
use crate::exit::UsageError;
use crate::mapping::columns::Field;
use crate::mapping::row::{AddressData, Capabilities, RowData};
use crate::settings::ApiVersion;

pub use super::v3::pages::Page;

/// The customers a read selects, in one backend's terms: the neutral [`Filters`] encoded
/// before any request, so a filter the backend cannot express is a usage error naming it
/// before the run touches a file or the store.
#[derive(Debug, Clone)]
pub enum Selection {
    /// V2's list parameters (dates as RFC-2822), and the id-range walk's state.
    V2(v2::pages::Query),
    /// V3's names and ISO-8601 dates (V3 has no id range: `min_id`/`max_id` are refused).
    V3(v3::Filters),
}

impl Selection {
    pub fn for_api(api: ApiVersion, filters: &Filters) -> Result<Selection, UsageError> {
        Ok(match api {
            ApiVersion::V2 => Selection::V2(v2::pages::Query::new(filters)),
            ApiVersion::V3 => Selection::V3(v3::Filters::from_filters(filters)?),
        })
    }

    /// Every customer (no filter: what every backend expresses).
    pub fn everyone(api: ApiVersion) -> Selection {
        match api {
            ApiVersion::V2 => Selection::V2(v2::pages::Query::default()),
            ApiVersion::V3 => Selection::V3(v3::Filters::default()),
        }
    }
}

/// The backend, with the customers it reads (checked up front: [`Selection`]).
#[derive(Clone)]
pub enum Reader {
    /// `/v2/customers`, paged by id range; addresses are one request per customer.
    V2(Client, v2::pages::Query),
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
    V2(v2::pages::FirstPage),
    V3(v3::pages::FirstPage),
}

/// A walk's pages, in ascending id.
pub type Pages = BoxStream<'static, Result<Page, ApiError>>;

impl Reader {
    pub fn new(client: Client, selection: Selection) -> Reader {
        match selection {
            Selection::V2(q) => Reader::V2(client, q),
            Selection::V3(f) => Reader::V3(client, f),
        }
    }

    /// Every customer of the store, through `api`.
    pub fn everyone(api: ApiVersion, client: Client) -> Reader {
        Reader::new(client, Selection::everyone(api))
    }

    pub fn client(&self) -> &Client {
        match self {
            Reader::V2(c, _) | Reader::V3(c, _) => c,
        }
    }

    /// Customers per page read: what a caller planning "read the store, or look rows up"
    /// weighs against one lookup per row. Both APIs' pages are 250 today (`v2::pages::PAGE`,
    /// `v3::PAGE`).
    pub fn page_size(&self) -> u64 {
        match self {
            Reader::V2(..) => v2::pages::PAGE,
            Reader::V3(..) => v3::PAGE,
        }
    }

    /// The number of matching customers, in one request: V2's `/customers/count`, V3's
    /// `meta.pagination.total` of a one-customer page.
    pub async fn count(&self) -> Result<u64, ApiError> {
        match self {
            Reader::V2(client, q) => client.count_customers(&q.count_params()).await,
            Reader::V3(client, filters) => v3::count(client, filters).await,
        }
    }

    /// The count and the first page. V2: `/customers/count` and the first page at once (one
    /// round trip); V3: the first page alone, which carries the count.
    pub async fn start(&self, addresses: bool) -> Result<Start, ApiError> {
        match self {
            Reader::V2(client, q) => {
                let (plan, first) =
                    futures::join!(v2::pages::plan(client, q), v2::pages::first_page(client, q));
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
    pub fn pages(&self, start: Start, concurrency: usize) -> Pages {
        let pages = match (self, start.first) {
            (Reader::V2(client, q), First::V2(first)) => {
                v2::pages::pages_after(client.clone(), q.clone(), start.count, first, concurrency)
                    .map(|page| page.map(v2_page))
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
        };
        self.checked(pages)
    }

    /// Every customer listed checked against the exact filters (see `api::matching`): a
    /// store that ignores one fails the walk.
    fn checked(&self, pages: Pages) -> Pages {
        let matching = match self {
            Reader::V2(_, q) => super::matching::Matching::of(q.filters()),
            Reader::V3(_, f) => super::matching::Matching::of(f.filters()),
        };
        pages
            .map(move |page| page.and_then(|p| matching.check(p)))
            .boxed()
    }

    /// Every matching customer's page when the caller has the count already ([`Reader::count`]:
    /// planning a lookup), without addresses: V2 plans its ranges from `count`; V3 reads its
    /// first page, then on.
    pub fn pages_counted(&self, count: u64, concurrency: usize) -> Pages {
        let pages = match self {
            Reader::V2(client, q) => {
                v2::pages::customer_pages(client.clone(), q.clone(), count, concurrency)
                    .map(|page| page.map(v2_page))
                    .boxed()
            }
            Reader::V3(client, filters) => {
                let (client, filters) = (client.clone(), filters.clone());
                stream::once(async move {
                    let first = v3::pages::first_page(&client, &filters, false).await;
                    (client, filters, first)
                })
                .flat_map(move |(client, filters, first)| match first {
                    Ok(first) => v3::pages::pages_after(client, filters, first, false, concurrency),
                    Err(e) => stream::iter([Err(e)]).boxed(),
                })
                .boxed()
            }
        };
        self.checked(pages)
    }

    /// The matching customers last modified at or before `before`, counted now (the end of
    /// an export: see `v2::pages::count_unchanged_since`), through the same API as the pages.
    pub async fn count_unchanged_since(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, ApiError> {
        match self {
            Reader::V2(client, q) => v2::pages::count_unchanged_since(client, q, before).await,
            Reader::V3(client, filters) => {
                v3::count(client, &filters.modified_at_or_before(before)).await
            }
        }
    }
}

/// A V2 page as the seam's: V2 sends no addresses with its customers.
fn v2_page(customers: Vec<Customer>) -> Page {
    Page {
        customers,
        addresses: None,
    }
}

/// The store seam for writes: one [`Writer`] over either Customers API, taking the mapping's
/// neutral rows ([`RowData`], [`AddressData`]) one item at a time with one result per item,
/// so a row engine drives both alike. V3 gathers the items into batches behind these calls
/// ([`v3::batch`]); V2 sends one request per item. Both create exactly once: an ambiguous
/// create is looked up by email before it is sent again.
#[derive(Clone)]
pub enum Writer {
    /// `/v2/customers…`: one request per write (reference/bigcommerce-api.md).
    V2(Client),
    /// `/v3/customers…` through the batcher.
    V3(v3::batch::Batcher),
}

pub use super::error::WriteError;
pub use super::v3::batch::AddressOutcome;

impl Writer {
    /// The writer for `--api` (see [`crate::settings::Settings`]): V3 with up to `concurrency`
    /// batches in flight (the request slots) and the before-send `hook`; V2 sends each item
    /// as its own request (and has no hook: the caller marks each row itself).
    pub fn for_api(
        api: ApiVersion,
        client: Client,
        concurrency: usize,
        hook: Option<v3::batch::BeforeSend>,
    ) -> Writer {
        match api {
            ApiVersion::V2 => Writer::V2(client),
            ApiVersion::V3 => Writer::v3(
                client,
                v3::batch::BatchConfig {
                    in_flight: concurrency,
                    ..v3::batch::BatchConfig::default()
                },
                hook,
            ),
        }
    }

    /// The V3 writer: starts the batcher's tasks, so it must be called inside a Tokio runtime.
    /// `hook` runs before each request with its items' keys (see [`v3::batch::BeforeSend`]).
    pub fn v3(
        client: Client,
        config: v3::batch::BatchConfig,
        hook: Option<v3::batch::BeforeSend>,
    ) -> Writer {
        let batcher = v3::batch::Batcher::new(v3::write::Writes::new(client), config);
        Writer::V3(match hook {
            Some(hook) => batcher.with_before_send(hook),
            None => batcher,
        })
    }

    pub fn client(&self) -> &Client {
        match self {
            Writer::V2(c) => c,
            Writer::V3(b) => b.writes().client(),
        }
    }

    /// What this backend writes, for the mapping ([`Layout::for_capabilities`]) and the
    /// executor (rows in flight per request slot; an address request after a create or not).
    ///
    /// [`Layout::for_capabilities`]: crate::mapping::columns::Layout::for_capabilities
    pub fn capabilities(&self) -> Capabilities {
        Writer::capabilities_of(match self {
            Writer::V2(_) => ApiVersion::V2,
            Writer::V3(_) => ApiVersion::V3,
        })
    }

    /// [`Writer::capabilities`] before the writer exists (the input is checked before the
    /// run connects).
    pub fn capabilities_of(api: ApiVersion) -> Capabilities {
        match api {
            ApiVersion::V2 => Capabilities {
                batch_size: 1,
                writable_form_fields: false,
                addresses_inline: false,
            },
            ApiVersion::V3 => Capabilities {
                batch_size: v3::write::MAX_BATCH,
                writable_form_fields: true,
                addresses_inline: true,
            },
        }
    }

    /// Create the row's customer; its id. With [`Capabilities::addresses_inline`] the row's
    /// address is created with it; otherwise the caller adds it with [`Writer::add_address`].
    /// `key` names the item to the V3 hook (a row number).
    pub async fn create(
        &self,
        key: u64,
        row: &RowData,
        force_reset: bool,
    ) -> Result<u64, WriteError> {
        match self {
            Writer::V2(client) => Ok(v2::write::create(client, row, force_reset).await?),
            Writer::V3(b) => {
                b.create(key, v3::encode::create_body(row, force_reset))
                    .await
            }
        }
    }

    /// Update customer `id` with the row's `fields` (those that differ from the store), and
    /// its password when `with_password`. Under V3 the row's form fields and marketing
    /// consent go too. V2 answers the customer as stored; a V3 batch answers only that it
    /// was written (`None`). `credit_was_zero`: the caller's lookup read no store credit, so
    /// under V3 the row's amount is right whether the store sets or adds it (otherwise the
    /// batch reads the balance and learns the rule, `v3::credit`); V2's `store_credit` sets.
    pub async fn update(
        &self,
        key: u64,
        id: u64,
        row: &RowData,
        fields: &[Field],
        with_password: bool,
        credit_was_zero: bool,
    ) -> Result<Option<Customer>, WriteError> {
        match self {
            Writer::V2(client) => Ok(Some(
                v2::write::update(client, id, row, fields, with_password).await?,
            )),
            Writer::V3(b) => {
                let body = v3::encode::update_body(row, fields, with_password);
                b.update_credit(key, id, body, credit_was_zero).await?;
                Ok(None)
            }
        }
    }

    /// Put customer `id` in group `group_id` (0: no group).
    pub async fn set_group(&self, key: u64, id: u64, group_id: u64) -> Result<(), WriteError> {
        match self {
            Writer::V2(client) => Ok(client.set_customer_group(id, group_id).await?),
            Writer::V3(b) => b.set_group(key, id, group_id).await,
        }
    }

    /// Delete customer `id`. Neither arm can send a collection delete: V2 deletes by path
    /// (`/customers/{id}`), V3 by a non-empty `id:in`. V2 tells a customer that was not there
    /// ([`Deleted::NotFound`]) from one whose lost answer a repeat confirmed; V3 cannot (the
    /// store ignores unknown ids, §7), so its callers look the customer up first.
    pub async fn delete(&self, key: u64, id: u64) -> Result<Deleted, WriteError> {
        match self {
            Writer::V2(client) => {
                if id == 0 {
                    return Err(WriteError::Refused("0 is not a customer id".into()));
                }
                Ok(client.delete_customer(id).await?)
            }
            Writer::V3(b) => b.delete(key, id).await.map(|()| Deleted::Yes),
        }
    }

    /// Give customer `customer_id` the address `a`. V2 always creates it (the caller checks
    /// the customer's addresses first); V3's store leaves out one the customer already has.
    pub async fn add_address(
        &self,
        key: u64,
        customer_id: u64,
        a: &AddressData,
    ) -> Result<AddressOutcome, WriteError> {
        match self {
            Writer::V2(client) => Ok(AddressOutcome::Added(
                v2::write::add_address(client, customer_id, a).await?,
            )),
            Writer::V3(b) => {
                b.add_address(key, customer_id, v3::encode::address_body(a))
                    .await
            }
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
