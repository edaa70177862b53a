//! The V3 batcher: per-item write calls gathered into requests of up to 10 (DELETEs: 100 ids), with per-item
//! results (reference/bigcommerce-v3.md §14, §20; reviews/architecture-review.md §8.2:
//! batching lives inside the V3 store, the engine, journal and results see one item at a time).
//!
//! # Public API (stable: extend, do not break)
//!
//! ```text
//! Batcher::new(writes: Writes, config: BatchConfig) -> Batcher        // inside a Tokio runtime
//! Batcher::with_before_send(self, hook: BeforeSend) -> Batcher          // before it is cloned
//! batcher.create(key, body: Value)               -> Result<u64, WriteError>     // the new id
//! batcher.update(key, id, body: Value)           -> Result<(), WriteError>
//! batcher.update_credit(key, id, body, credit_was_zero: bool) -> Result<(), WriteError>
//! batcher.set_group(key, id, group_id)           -> Result<(), WriteError>
//! batcher.delete(key, id)                        -> Result<(), WriteError>
//! batcher.add_address(key, customer_id, body)    -> Result<AddressOutcome, WriteError>
//! batcher.stats()                                -> BatchStats
//! ```
//!
//! - `key` is the caller's name for the item (a row number). It is only handed to the hook.
//! - `body` is V3's JSON for one item, as [`super::encode`] builds it: a `customer_Post` for
//!   `create` (with its `email`), the changed fields of a `customer_Put` for `update` (the
//!   batcher adds `id`), an address without `customer_id` for `add_address` (added).
//! - Calls may come from any number of tasks at once; each waits for its own item's result.
//!   The batcher never puts two items of one customer (same id, same email) in one request;
//!   the caller keeps two items of one customer from being *in flight* together (file order).
//! - [`BeforeSend`]: `Fn(Op, &[u64]) -> anyhow::Result<()>`, called with the keys of every
//!   request just before it is sent (re-sends and split halves included), so a journal can
//!   mark the whole batch "sending" before the POST. If it fails, that request is not sent
//!   and its items fail with [`WriteError::NotSent`].
//!
//! # What happens to a batch
//!
//! Items of one [`Op`] queue until [`BatchConfig::max_batch`] (deletes:
//! [`BatchConfig::max_delete`]) are waiting or the first has
//! waited [`BatchConfig::linger`]; up to [`BatchConfig::in_flight`] batches run at once (and
//! the customer PUTs, `update` and `set_group`, never more than 3: see [`Writes`]).
//!
//! - **2xx**: every item succeeds; a create's id is matched by email, never by position.
//! - **422 naming items** (by index, or by the email its message quotes): those items fail
//!   with the store's words; the rest go again (the store names only the first bad item,
//!   so k bad items cost k + 1 requests).
//! - **422 naming none**: the batch is split in halves until the bad item is alone.
//! - **413**: split in halves (the limit is 10; a store with a lower one still works).
//! - **Ambiguous create answers** (lost answer, timeout, 5xx, a 2xx that is not the
//!   customers, or a duplicate-email 422 for an item already sent once): ONE `GET
//!   /v3/customers?email:in=` of the batch's emails first; the customers found with the
//!   names sent, created no earlier than the store's clock before the batch was first sent
//!   (its `Date`, less 2 s: `api::once::claim`), are created (their ids returned); an email
//!   found on any other customer fails its item ("email already used by customer #N":
//!   someone else holds it), only the others are sent again. A customer is never created
//!   twice.
//!   After `--max-retries` ambiguous rounds the items fail with the last error.
//! - Updates, deletes and address posts are safe to repeat (§14, §8: addresses de-duplicate),
//!   so the client repeats those itself. Except an update carrying store credit while the
//!   store's rule is not known to be "set": whether `store_credit_amounts` sets or adds is
//!   unverified (§19.6), so the batch sends T or T − C by the rule it learns, and reads the
//!   balances before sending such a PUT again ([`super::credit`]).
//! - Anything else (401, 403, a redirect, a 400): every item of the request fails with it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::credit::{ItemCredit, Rule};
use super::write::{self, WriteError, Writes};

/// The hook run before each request with the keys of its items (see the module docs).
pub type BeforeSend = Arc<dyn Fn(Op, &[u64]) -> anyhow::Result<()> + Send + Sync>;

/// The kind of a batch: one request route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `POST /v3/customers`.
    Create,
    /// `PUT /v3/customers` (`update` and `set_group`).
    Update,
    /// `DELETE /v3/customers?id:in=`.
    Delete,
    /// `POST /v3/customers/addresses`.
    AddAddress,
}

const OPS: [Op; 4] = [Op::Create, Op::Update, Op::Delete, Op::AddAddress];

impl Op {
    fn index(self) -> usize {
        self as usize
    }
}

/// How items are gathered.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Items per request, 1..=10 (larger is clamped to V3's 10).
    pub max_batch: usize,
    /// Ids per `DELETE ?id:in=`, 1..=100 ([`write::MAX_DELETE_IDS`]; larger is clamped):
    /// a delete is one id in the URL, not a body item, so it is not held to the ten.
    pub max_delete: usize,
    /// How long the first item of a batch waits for more before it is sent anyway.
    pub linger: Duration,
    /// Batches in flight at once, all ops together: the request concurrency.
    pub in_flight: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_batch: write::MAX_BATCH,
            max_delete: write::MAX_DELETE_IDS,
            linger: Duration::from_millis(10),
            in_flight: 8,
        }
    }
}

/// What became of an address sent with [`Batcher::add_address`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressOutcome {
    /// Created with this id.
    Added(u64),
    /// The customer already had this address: the store left it out of its answer (§8).
    AlreadyThere,
}

/// Counters since start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Write requests sent (each attempt of each batch).
    pub requests: u64,
    /// Items handed in.
    pub items: u64,
    /// Batches split because an error named no item (or a 413).
    pub splits: u64,
    /// `email:in` lookups made to reconcile an ambiguous create.
    pub reconciliations: u64,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) requests: AtomicU64,
    items: AtomicU64,
    pub(super) splits: AtomicU64,
    pub(super) reconciliations: AtomicU64,
}

/// One item's result before it is typed for its call.
pub(super) enum Done {
    Id(u64),
    Unit,
    Address(AddressOutcome),
}

type Reply = oneshot::Sender<Result<Done, WriteError>>;

pub(super) struct Item {
    pub(super) key: u64,
    pub(super) body: Value,
    /// Lowercased, for matching answers and keeping one customer per batch.
    pub(super) email: Option<String>,
    /// `Update`/`Delete`: the customer; `AddAddress`: the address's customer.
    pub(super) id: Option<u64>,
    /// Sent before in a request whose outcome is unknown for it (an ambiguous answer, or a
    /// 422 for another item, after which a store that is not all-or-nothing may have
    /// written it): a duplicate-email refusal of it may be our own earlier write.
    pub(super) sent_before: bool,
    /// `Update` with `store_credit_amounts`: what it asks of the balance ([`super::credit`]).
    pub(super) credit: Option<ItemCredit>,
    reply: Reply,
}

impl Item {
    pub(super) fn finish(self, result: Result<Done, WriteError>) {
        // The caller may have stopped waiting (a cancelled row); nothing to tell then.
        let _ = self.reply.send(result);
    }

    /// What must not appear twice in one request.
    fn conflict_keys(&self, op: Op) -> Vec<String> {
        match op {
            Op::AddAddress => vec![self.body.to_string()],
            _ => self
                .id
                .map(|id| format!("#{id}"))
                .into_iter()
                .chain(self.email.clone())
                .collect(),
        }
    }
}

/// The per-item V3 writer (see the module docs). Cheap to clone; clones share the queues.
#[derive(Clone)]
pub struct Batcher {
    queues: Arc<[mpsc::UnboundedSender<Item>; 4]>,
    shared: Arc<Shared>,
}

pub(super) struct Shared {
    pub(super) writes: Writes,
    config: BatchConfig,
    pub(super) before_send: std::sync::OnceLock<BeforeSend>,
    pub(super) counters: Counters,
    /// Whether this store sets or adds `store_credit_amounts` on PUT, once learned.
    pub(super) credit_rule: tokio::sync::Mutex<Rule>,
}

impl Batcher {
    /// Start the queues' flusher tasks (one per [`Op`]). Must be called inside a Tokio
    /// runtime; the tasks end when the last clone is dropped.
    pub fn new(writes: Writes, config: BatchConfig) -> Batcher {
        let mut config = config;
        config.max_batch = config.max_batch.clamp(1, write::MAX_BATCH);
        config.max_delete = config.max_delete.clamp(1, write::MAX_DELETE_IDS);
        config.in_flight = config.in_flight.max(1);
        let shared = Arc::new(Shared {
            writes,
            config,
            before_send: std::sync::OnceLock::new(),
            counters: Counters::default(),
            credit_rule: tokio::sync::Mutex::new(Rule::Unknown),
        });
        let slots = Arc::new(Semaphore::new(shared.config.in_flight));
        let queues = OPS.map(|op| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(flusher(op, rx, Arc::clone(&shared), Arc::clone(&slots)));
            tx
        });
        Batcher {
            queues: Arc::new(queues),
            shared,
        }
    }

    /// Set the hook run before every request (see [`BeforeSend`]). Set it once, before the
    /// first item; a second hook is ignored.
    pub fn with_before_send(self, hook: BeforeSend) -> Batcher {
        let _ = self.shared.before_send.set(hook);
        self
    }

    pub fn writes(&self) -> &Writes {
        &self.shared.writes
    }

    pub fn stats(&self) -> BatchStats {
        let c = &self.shared.counters;
        BatchStats {
            requests: c.requests.load(Ordering::Relaxed),
            items: c.items.load(Ordering::Relaxed),
            splits: c.splits.load(Ordering::Relaxed),
            reconciliations: c.reconciliations.load(Ordering::Relaxed),
        }
    }

    /// Create one customer (`body`: a `customer_Post` with `email`); its new id.
    pub async fn create(&self, key: u64, body: Value) -> Result<u64, WriteError> {
        let Some(email) = body
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_lowercase)
        else {
            return Err(WriteError::Refused(
                "a V3 create needs an email (the batch matches its answer by email)".into(),
            ));
        };
        match self
            .submit(Op::Create, key, body, Some(email), None, None)
            .await?
        {
            Done::Id(id) => Ok(id),
            _ => unreachable!("a create answers an id"),
        }
    }

    /// Update customer `id` with `body` (the changed fields of a `customer_Put`). A body with
    /// `store_credit_amounts` asks for that balance, whatever the customer had: see
    /// [`Batcher::update_credit`] (here the balance before is read by the batch).
    pub async fn update(&self, key: u64, id: u64, body: Value) -> Result<(), WriteError> {
        self.update_credit(key, id, body, false).await
    }

    /// [`Batcher::update`] when the caller knows whether the customer's store credit was 0
    /// before (`credit_was_zero`: its lookup read no credit). The amount in the body is the
    /// balance wanted (T); the batcher sends T or the difference, by the store's rule
    /// ([`super::credit`], reference/bigcommerce-v3.md §19.6).
    pub async fn update_credit(
        &self,
        key: u64,
        id: u64,
        mut body: Value,
        credit_was_zero: bool,
    ) -> Result<(), WriteError> {
        let Some(obj) = body.as_object_mut().filter(|_| id > 0) else {
            return Err(WriteError::Refused(
                "a V3 update is a JSON object for a customer id above 0".into(),
            ));
        };
        obj.insert("id".into(), json!(id));
        let email = obj
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_lowercase);
        let credit = ItemCredit::of(&body, credit_was_zero);
        if body.get("store_credit_amounts").is_some() && credit.is_none() {
            return Err(WriteError::Refused(
                "store_credit_amounts is not a list of amounts".into(),
            ));
        }
        self.submit(Op::Update, key, body, email, Some(id), credit)
            .await
            .map(|_| ())
    }

    /// Put customer `id` in group `group_id` (0: no group); a PUT like [`Batcher::update`].
    pub async fn set_group(&self, key: u64, id: u64, group_id: u64) -> Result<(), WriteError> {
        self.update(key, id, json!({ "customer_group_id": group_id }))
            .await
    }

    /// Delete customer `id` (ids are gathered into one `DELETE ?id:in=`).
    pub async fn delete(&self, key: u64, id: u64) -> Result<(), WriteError> {
        if id == 0 {
            return Err(WriteError::Refused("0 is not a customer id".into()));
        }
        self.submit(Op::Delete, key, json!(id), None, Some(id), None)
            .await
            .map(|_| ())
    }

    /// Give customer `customer_id` the address `body` (V3's `address1`, `country_code`, …).
    pub async fn add_address(
        &self,
        key: u64,
        customer_id: u64,
        mut body: Value,
    ) -> Result<AddressOutcome, WriteError> {
        let Some(obj) = body.as_object_mut().filter(|_| customer_id > 0) else {
            return Err(WriteError::Refused(
                "a V3 address is a JSON object for a customer id above 0".into(),
            ));
        };
        obj.insert("customer_id".into(), json!(customer_id));
        match self
            .submit(Op::AddAddress, key, body, None, Some(customer_id), None)
            .await?
        {
            Done::Address(outcome) => Ok(outcome),
            _ => unreachable!("an address answers an outcome"),
        }
    }

    async fn submit(
        &self,
        op: Op,
        key: u64,
        body: Value,
        email: Option<String>,
        id: Option<u64>,
        credit: Option<ItemCredit>,
    ) -> Result<Done, WriteError> {
        let (reply, answer) = oneshot::channel();
        let item = Item {
            key,
            body,
            email,
            id,
            sent_before: false,
            credit,
            reply,
        };
        self.shared.counters.items.fetch_add(1, Ordering::Relaxed);
        self.queues[op.index()]
            .send(item)
            .map_err(|_| WriteError::Stopped)?;
        answer.await.unwrap_or(Err(WriteError::Stopped))
    }
}

/// Gather one op's items into batches and start each when a request slot is free. Waiting
/// for the slot *before* gathering means that while every slot is busy, items pile up and
/// the next batch leaves full.
async fn flusher(
    op: Op,
    mut rx: mpsc::UnboundedReceiver<Item>,
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
) {
    let mut carry: Option<Item> = None;
    loop {
        let first = match carry.take() {
            Some(item) => item,
            None => match rx.recv().await {
                Some(item) => item,
                None => return,
            },
        };
        // A slot is taken only once there is an item to send: the four flushers share the
        // slots, and an idle one holding a slot while it waits would starve the others
        // (with 2 slots, set-group's PUTs stopped after the first batch).
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("never closed");
        let mut seen: HashSet<String> = first.conflict_keys(op).into_iter().collect();
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + shared.config.linger;
        let max = match op {
            Op::Delete => shared.config.max_delete,
            _ => shared.config.max_batch,
        };
        while batch.len() < max {
            let item = match rx.try_recv() {
                Ok(item) => item,
                Err(_) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(item)) => item,
                    Ok(None) | Err(_) => break,
                },
            };
            let keys = item.conflict_keys(op);
            if keys.iter().any(|k| seen.contains(k)) {
                // The same customer twice: the second starts the next batch.
                carry = Some(item);
                break;
            }
            seen.extend(keys);
            batch.push(item);
        }
        tokio::spawn(super::isolate::run(op, batch, Arc::clone(&shared), slot));
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
