//! Finding the store's customer for a row, with as few requests as the API allows.
//!
//! Two strategies, chosen per run from `/customers/count` and the file's row count:
//! *per row* (one `GET /customers?email=` or `GET /customers/{id}` per row) when the file is
//! small next to the store, or *preloaded* (read the whole store in pages of 250 into a compact
//! index: an id and one hash per field per customer) when that costs fewer requests. Either
//! way, what this run itself created or changed is remembered, so a second row for the same
//! customer sees the first row's effect without asking the store again.

use std::collections::HashMap;

use futures::StreamExt;

use crate::api::pages::{self, Query};
use crate::api::{ApiError, Client, Customer};
use crate::mapping::row::Snapshot;

/// What the index knows about a row's customer.
pub enum Found {
    Yes(Snapshot),
    No,
}

#[derive(Default)]
pub struct CustomerIndex {
    /// True when every store customer was loaded: a miss means "no such customer".
    complete: bool,
    by_email: HashMap<String, u64>,
    by_id: HashMap<u64, (Snapshot, String)>,
}

/// Read the whole store when a page read per 250 customers is cheaper than one lookup per row.
pub fn should_preload(file_rows: Option<u64>, store_count: u64) -> bool {
    match file_rows {
        Some(rows) => store_count.div_ceil(pages::PAGE) + 3 < rows,
        // stdin: size unknown; a small store is cheap to read, a large one might not be.
        None => store_count <= 10 * pages::PAGE,
    }
}

impl CustomerIndex {
    /// An index that knows nothing yet (per-row lookups) — or, for an empty store, everything.
    pub fn empty(store_is_empty: bool) -> CustomerIndex {
        CustomerIndex {
            complete: store_is_empty,
            ..Default::default()
        }
    }

    /// Load every store customer (pages of 250, `concurrency` at a time); `on_page` is called
    /// after each page (the progress of the planning phase).
    pub async fn preload(
        client: &Client,
        count: u64,
        concurrency: usize,
        on_page: impl Fn(),
    ) -> Result<CustomerIndex, ApiError> {
        let mut idx = CustomerIndex {
            complete: true,
            ..Default::default()
        };
        let mut stream =
            pages::customer_pages(client.clone(), Query::default(), count, concurrency);
        while let Some(page) = stream.next().await {
            for c in page? {
                idx.remember(&c.email, Snapshot::of(&c));
            }
            on_page();
        }
        Ok(idx)
    }

    /// Look up locally; `None` means "ask the store".
    pub fn get(&self, id: Option<u64>, email: Option<&str>) -> Option<Found> {
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
    pub fn remember(&mut self, email: &str, snap: Snapshot) {
        let key = email.to_lowercase();
        if let Some((_, old_email)) = self.by_id.get(&snap.id) {
            if *old_email != key {
                self.by_email.remove(old_email);
            }
        }
        self.by_email.insert(key.clone(), snap.id);
        self.by_id.insert(snap.id, (snap, key));
    }

    /// Remember a customer just read from the store, unless this run already knows it: then
    /// what it knows is at least as new (every write of this run is remembered as it
    /// finishes), while the read may have been answered before that write was applied.
    /// Returns what the run now knows of the customer.
    pub fn remember_fetched(&mut self, email: &str, snap: Snapshot) -> Snapshot {
        if let Some((known, _)) = self.by_id.get(&snap.id) {
            return known.clone();
        }
        self.remember(email, snap.clone());
        snap
    }

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
