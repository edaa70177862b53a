//! Finding the store's customer for a row, with as few requests as the API allows: the one
//! implementation behind `import` and the commands that name customers (set-group, delete,
//! validate-password).
//!
//! Two strategies, chosen per run from `/customers/count` and the file's row count:
//! *per row* (one `GET /customers?email=` or `GET /customers/{id}` per row) when the file is
//! small next to the store, or *preloaded* (read the whole store in pages of 250 into a compact
//! [`CustomerIndex`]) when that costs fewer requests; an empty store needs neither. Either
//! way, what this run read, created or changed is remembered, so a second row for the same
//! customer sees the first row's effect without asking the store again.
//!
//! What is kept per customer depends on the command ([`Entry`]): import keeps a
//! [`Snapshot`] (an id and one hash per field), the other commands a [`Known`] (id, email,
//! group).
//!
//! Under `--api v3` the [`Finder`] reads through V3 only: the count and the whole-store read
//! from `/v3/customers`, and instead of one lookup per row, one `id:in`/`email:in` read per
//! list of the file's keys ([`batched`]).

pub mod batched;

use std::collections::HashMap;
use std::sync::Mutex;

use futures::StreamExt;

use crate::api::store::{Pages, Reader};
use crate::api::{ApiError, Client, Customer};
use crate::mapping::row::Snapshot;
use crate::report::Progress;
use crate::settings::ApiVersion;

/// What the index keeps of one store customer.
pub trait Entry: Clone {
    fn of(c: &Customer) -> Self;
    fn id(&self) -> u64;
}

impl Entry for Snapshot {
    fn of(c: &Customer) -> Snapshot {
        Snapshot::of(c)
    }
    fn id(&self) -> u64 {
        self.id
    }
}

/// What set-group, delete and validate-password need to know about a store customer.
#[derive(Debug, Clone)]
pub struct Known {
    pub id: u64,
    /// As the store spells it (messages quote it).
    pub email: String,
    /// `customer_group_id` (0 = no group).
    pub group: u64,
}

impl Known {
    pub fn of(c: &Customer) -> Known {
        Known {
            id: c.id,
            email: c.email.clone(),
            group: c.customer_group_id,
        }
    }
}

impl Entry for Known {
    fn of(c: &Customer) -> Known {
        Known::of(c)
    }
    fn id(&self) -> u64 {
        self.id
    }
}

/// What the index knows about a row's customer.
pub enum Found<S = Snapshot> {
    Yes(S),
    No,
}

pub struct CustomerIndex<S = Snapshot> {
    /// True when every store customer is known: a miss means "no such customer".
    complete: bool,
    by_email: HashMap<String, u64>,
    /// The entry and its email, lowercased (the `by_email` key).
    by_id: HashMap<u64, (S, String)>,
}

impl<S> Default for CustomerIndex<S> {
    fn default() -> Self {
        CustomerIndex {
            complete: false,
            by_email: HashMap::new(),
            by_id: HashMap::new(),
        }
    }
}

/// Read the whole store when a page read per `page` customers (the backend's page:
/// [`Reader::page_size`]) is cheaper than one lookup per row.
pub fn should_preload(file_rows: Option<u64>, store_count: u64, page: u64) -> bool {
    match file_rows {
        Some(rows) => store_count.div_ceil(page) + 3 < rows,
        // stdin: size unknown; a small store is cheap to read, a large one might not be.
        None => store_count <= 10 * page,
    }
}

impl<S: Entry> CustomerIndex<S> {
    /// An index that knows nothing yet (per-row lookups) — or, for an empty store, everything.
    pub fn empty(store_is_empty: bool) -> CustomerIndex<S> {
        CustomerIndex {
            complete: store_is_empty,
            ..Default::default()
        }
    }

    /// Load every customer `reader` reads (its pages, `concurrency` at a time), of which the
    /// store counted `count`; `on_page` is called after each page (the progress of the
    /// planning phase).
    pub async fn preload(
        reader: &Reader,
        count: u64,
        concurrency: usize,
        on_page: impl Fn(),
    ) -> Result<CustomerIndex<S>, ApiError> {
        CustomerIndex::from_pages(reader.pages_counted(count, concurrency), on_page).await
    }

    /// Every customer of a whole store's `pages`, as a complete index (a customer missing
    /// from every page is not in the store); `on_page` is called after each page.
    pub async fn from_pages(
        mut pages: Pages,
        on_page: impl Fn(),
    ) -> Result<CustomerIndex<S>, ApiError> {
        let mut idx = CustomerIndex::empty(true);
        while let Some(page) = pages.next().await {
            for c in page?.customers {
                idx.remember(&c.email, S::of(&c));
            }
            on_page();
        }
        Ok(idx)
    }

    pub fn is_complete(&self) -> bool {
        self.complete
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Look up locally; `None` means "ask the store".
    pub fn get(&self, id: Option<u64>, email: Option<&str>) -> Option<Found<S>> {
        let hit = match (id, email) {
            (Some(id), _) => self.by_id.get(&id).map(|(s, _)| s.clone()),
            (None, Some(e)) => self
                .by_email
                .get(&e.to_lowercase())
                .and_then(|id| self.by_id.get(id))
                .map(|(s, _)| s.clone()),
            (None, None) => return Some(Found::No),
        };
        match hit {
            Some(s) => Some(Found::Yes(s)),
            None if self.complete => Some(Found::No),
            None => None,
        }
    }

    /// Remember a customer as it is now in the store (after a read or a write of ours).
    pub fn remember(&mut self, email: &str, entry: S) {
        let key = email.to_lowercase();
        let id = entry.id();
        if let Some((_, old_email)) = self.by_id.get(&id) {
            if *old_email != key {
                self.by_email.remove(old_email);
            }
        }
        self.by_email.insert(key.clone(), id);
        self.by_id.insert(id, (entry, key));
    }

    /// Remember a customer just read from the store, unless this run already knows it: then
    /// what it knows is at least as new (every write of this run is remembered as it
    /// finishes), while the read may have been answered before that write was applied.
    /// Returns what the run now knows of the customer.
    pub fn remember_fetched(&mut self, email: &str, entry: S) -> S {
        if let Some((known, _)) = self.by_id.get(&entry.id()) {
            return known.clone();
        }
        self.remember(email, entry.clone());
        entry
    }

    /// Change what is known of customer `id` (a write of this run), if it is known.
    pub fn update(&mut self, id: u64, change: impl FnOnce(&mut S)) {
        if let Some((entry, _)) = self.by_id.get_mut(&id) {
            change(entry);
        }
    }

    /// Forget a customer (deleted). A complete index then answers "no such customer".
    pub fn forget(&mut self, id: u64) {
        if let Some((_, email)) = self.by_id.remove(&id) {
            self.by_email.remove(&email);
        }
    }

    /// The customer's email, lowercased.
    pub fn email_of(&self, id: u64) -> Option<&str> {
        self.by_id.get(&id).map(|(_, e)| e.as_str())
    }
}

/// Ask the store for one customer by id or email.
pub async fn fetch(
    client: &Client,
    id: Option<u64>,
    email: Option<&str>,
) -> Result<Option<Customer>, ApiError> {
    match (id, email) {
        (Some(id), _) => client.get_customer(id).await,
        (None, Some(e)) => client.find_customer_by_email(e).await,
        (None, None) => Ok(None),
    }
}

/// Choose the plan for a file of `file_rows` rows (`None`: unknown) from the count of the
/// customers `reader` reads (one request): an empty store is known without a read, a big
/// file next to the store reads it in pages (saying so with `note`), otherwise each row is
/// looked up when it comes.
pub async fn plan<S: Entry>(
    reader: &Reader,
    file_rows: Option<u64>,
    concurrency: usize,
    progress: &Progress,
    note: &str,
) -> Result<CustomerIndex<S>, ApiError> {
    let store_count = reader.count().await?;
    if store_count == 0 {
        return Ok(CustomerIndex::empty(true));
    }
    let page = reader.page_size();
    if !should_preload(file_rows, store_count, page) {
        return Ok(CustomerIndex::empty(false));
    }
    progress.note(&format!(
        "reading the store's {} in pages of {page} {note}",
        crate::report::plural(store_count, "customer", "customers")
    ));
    progress.planning(store_count.div_ceil(page).max(1));
    let index =
        CustomerIndex::preload(reader, store_count, concurrency, || progress.page_read()).await?;
    progress.planned();
    Ok(index)
}

/// Finds rows' customers for set-group, delete and validate-password: an index of what the
/// run knows, and for what it does not, one request per row (V2) or per lookup list (V3).
pub struct Finder {
    client: Client,
    index: Mutex<CustomerIndex<Known>>,
    /// The store was read in pages (said in the summary).
    preloaded: bool,
    /// `--api v3`: the file's keys in lookup lists; a key in none is looked up alone, through
    /// V3 too.
    v3: Option<batched::Batches>,
}

/// Under V3, read the whole store (pages of 250) when that is cheaper than the file's
/// lookup lists, with the same margin of three requests as [`should_preload`].
pub fn should_preload_v3(lookups: u64, store_count: u64) -> bool {
    crate::api::v3::pages::expected_page_requests(store_count) + 3 < lookups
}

impl Finder {
    /// Plan (see [`plan`]) for a file of `file_rows` records. `rows_need_lookups = false`
    /// (every row names its customer by id and the command can act on an id alone) sends no
    /// count and never preloads: there is nothing to look up.
    pub async fn plan(
        client: &Client,
        file_rows: u64,
        concurrency: usize,
        progress: &Progress,
        rows_need_lookups: bool,
    ) -> Result<Finder, ApiError> {
        // The whole-file check counted the records (stdin too: it is spooled first).
        progress.set_total(file_rows);
        let index = if rows_need_lookups {
            plan(
                &Reader::everyone(ApiVersion::V2, client.clone()),
                Some(file_rows),
                concurrency,
                progress,
                "(cheaper than one lookup per row)",
            )
            .await?
        } else {
            CustomerIndex::empty(false)
        };
        Ok(Finder {
            client: client.clone(),
            preloaded: index.is_complete() && !index.is_empty(),
            index: Mutex::new(index),
            v3: None,
        })
    }

    /// The plan under `--api v3` for a file of `file_rows` records whose keys are in
    /// `batches`: no request when there is nothing to look up; else the store's count (one
    /// `GET /v3/customers?limit=1`), after which an empty store is known without a read, a
    /// store cheaper to read than the lookup lists is read in V3 pages, and otherwise each
    /// list is read when its first row comes.
    pub async fn plan_v3(
        client: &Client,
        file_rows: u64,
        batches: batched::Batches,
        concurrency: usize,
        progress: &Progress,
    ) -> Result<Finder, ApiError> {
        progress.set_total(file_rows);
        let mut index = CustomerIndex::empty(false);
        if batches.lookups() > 0 {
            let reader = Reader::everyone(ApiVersion::V3, client.clone());
            let store_count = reader.count().await?;
            if store_count == 0 {
                index = CustomerIndex::empty(true);
            } else if should_preload_v3(batches.lookups(), store_count) {
                index = preload_v3(&reader, store_count, concurrency, progress).await?;
            }
        }
        Ok(Finder {
            client: client.clone(),
            preloaded: index.is_complete() && !index.is_empty(),
            index: Mutex::new(index),
            v3: Some(batches),
        })
    }

    /// True when the store was read in pages (no per-row lookups).
    pub fn is_preloaded(&self) -> bool {
        self.preloaded
    }

    /// The summary's line saying the store was read in pages, if it was.
    pub fn notice(&self) -> Option<String> {
        self.preloaded
            .then(|| "read the store in pages instead of one lookup per row".to_string())
    }

    /// The store customer a row names (by its id when it has one, else its email), if any.
    pub async fn find(
        &self,
        id: Option<u64>,
        email: Option<&str>,
    ) -> Result<Option<Known>, ApiError> {
        if let Some(found) = self.index.lock().unwrap().get(id, email) {
            return Ok(match found {
                Found::Yes(k) => Some(k),
                Found::No => None,
            });
        }
        let c = match &self.v3 {
            Some(batches) => match batches.list_of(id, email) {
                Some(n) => return self.read_list(batches, n, id, email).await,
                None => crate::api::v3::read::find_customer(&self.client, id, email).await?,
            },
            None => fetch(&self.client, id, email).await?,
        };
        Ok(c.map(|c| {
            self.index
                .lock()
                .unwrap()
                .remember_fetched(&c.email, Known::of(&c))
        }))
    }

    /// Read lookup list `n` (once for all its rows), then answer from the index: a key of a
    /// list read names no customer unless the answer held it.
    async fn read_list(
        &self,
        batches: &batched::Batches,
        n: usize,
        id: Option<u64>,
        email: Option<&str>,
    ) -> Result<Option<Known>, ApiError> {
        batches
            .read(&self.client, n, |c| {
                self.index
                    .lock()
                    .unwrap()
                    .remember_fetched(&c.email, Known::of(c));
            })
            .await?;
        Ok(match self.index.lock().unwrap().get(id, email) {
            Some(Found::Yes(k)) => Some(k),
            _ => None,
        })
    }

    /// Record a group change this run made (a later row about the same customer sees it).
    pub fn set_group(&self, id: u64, group: u64) {
        self.index.lock().unwrap().update(id, |k| k.group = group);
    }

    /// Record a deletion this run made.
    pub fn forget(&self, id: u64) {
        self.index.lock().unwrap().forget(id);
    }
}

/// Read the whole store through V3 (`reader`'s pages, `concurrency` at a time) into a
/// complete index, saying so first.
async fn preload_v3(
    reader: &Reader,
    store_count: u64,
    concurrency: usize,
    progress: &Progress,
) -> Result<CustomerIndex<Known>, ApiError> {
    progress.note(&format!(
        "reading the store's {} in pages of {} (cheaper than the lookups of the file's keys)",
        crate::report::plural(store_count, "customer", "customers"),
        reader.page_size()
    ));
    let start = reader.start(false).await?;
    // The pages include the first one.
    progress.planning(start.page_requests + 1);
    let idx = CustomerIndex::from_pages(reader.pages(start, concurrency), || progress.page_read())
        .await?;
    progress.planned();
    Ok(idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(id: u64, email: &str, group: u64) -> Known {
        Known {
            id,
            email: email.into(),
            group,
        }
    }

    #[test]
    fn a_partial_index_asks_the_store_a_complete_one_answers_no() {
        let mut idx: CustomerIndex<Known> = CustomerIndex::empty(false);
        assert!(idx.get(Some(1), None).is_none());
        idx.remember("A@x.co", known(1, "A@x.co", 0));
        assert!(matches!(idx.get(None, Some("a@X.co")), Some(Found::Yes(k)) if k.id == 1));
        idx.forget(1);
        assert!(idx.get(None, Some("a@x.co")).is_none());
        let mut all: CustomerIndex<Known> = CustomerIndex::empty(true);
        all.remember("b@x.co", known(2, "b@x.co", 0));
        all.forget(2);
        assert!(matches!(all.get(Some(2), None), Some(Found::No)));
        assert!(matches!(all.get(None, Some("b@x.co")), Some(Found::No)));
    }

    #[test]
    fn what_the_run_wrote_wins_over_a_later_read() {
        let mut idx: CustomerIndex<Known> = CustomerIndex::empty(false);
        idx.remember("a@x.co", known(1, "a@x.co", 0));
        idx.update(1, |k| k.group = 5);
        // A read answered before the write was applied still says group 0.
        let now = idx.remember_fetched("a@x.co", known(1, "a@x.co", 0));
        assert_eq!(now.group, 5);
        // An email change moves the email key.
        idx.remember("new@x.co", known(1, "new@x.co", 5));
        assert!(idx.get(None, Some("a@x.co")).is_none());
        assert_eq!(idx.email_of(1), Some("new@x.co"));
    }
}
