//! Running one V3 batch to a result for every item: failure isolation (a 422 fails the
//! items it names, an error naming none splits the batch), and the reconciliation of an
//! ambiguous create by one `email:in` lookup before anything is sent again
//! (reference/bigcommerce-v3.md §14, §20.3, §20.4). The rules are listed at the top of
//! [`super::batch`], which gathers the batches.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;

use super::batch::{AddressOutcome, Done, Item, Op, Shared};
use super::models::{V3Address, V3Customer};
use super::write::{self, WriteError};
use crate::api::client::backoff;
use crate::api::once;

/// Run one batch to a result for every item, holding one request slot throughout.
pub(super) async fn run(
    op: Op,
    batch: Vec<Item>,
    shared: Arc<Shared>,
    _slot: OwnedSemaphorePermit,
) {
    // The store's clock before this batch's first request: none of its items was sent
    // before it, so none of its customers can have been created earlier (the halves of a
    // split keep it: their items may have been written by the first request).
    let clock = shared.writes.client().store_clock();
    let mut work = vec![batch];
    while let Some(items) = work.pop() {
        let halves = match op {
            Op::Create => create(&shared, items, clock).await,
            _ => repeatable(&shared, op, items).await,
        };
        if let Some((a, b)) = halves {
            shared.counters.splits.fetch_add(1, Ordering::Relaxed);
            // The second half is run first off the stack; either order is fine.
            work.push(b);
            work.push(a);
        }
    }
}

/// Two halves to run apart, when the answer named no item.
type Split = Option<(Vec<Item>, Vec<Item>)>;

/// Run the hook for this request; `false` (items failed) when it refuses.
fn before_send(shared: &Shared, op: Op, items: &mut Vec<Item>) -> bool {
    let Some(hook) = shared.before_send.get() else {
        return true;
    };
    let keys: Vec<u64> = items.iter().map(|i| i.key).collect();
    match hook(op, &keys) {
        Ok(()) => true,
        Err(e) => {
            let message = format!("{e:#}");
            for item in items.drain(..) {
                item.finish(Err(WriteError::NotSent(message.clone())));
            }
            false
        }
    }
}

fn fail_all(items: Vec<Item>, err: &WriteError) {
    for item in items {
        item.finish(Err(err.clone()));
    }
}

fn split(mut items: Vec<Item>) -> Split {
    let b = items.split_off(items.len() / 2);
    Some((items, b))
}

/// Take out the items at `positions` (ascending or not), keeping the others in order.
fn take_out(items: Vec<Item>, positions: &[usize]) -> (Vec<Item>, Vec<Item>) {
    let mut named = Vec::new();
    let mut rest = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        if positions.contains(&i) {
            named.push(item);
        } else {
            rest.push(item);
        }
    }
    (named, rest)
}

/// What a failed batch request means for its items, the same for every kind of batch: a 413
/// halves the batch (a store with a lower limit than 10 still gets everything), a 422 names
/// the items it blames (possibly none), anything else fails every item.
enum Triage {
    Split,
    FailAll,
    Blamed(write::Blame),
}

fn triage(err: &WriteError, items: &[Item]) -> Triage {
    if is_status(err, 413) && items.len() > 1 {
        return Triage::Split;
    }
    if !is_status(err, 422) {
        return Triage::FailAll;
    }
    let emails: Vec<Option<&str>> = items.iter().map(|i| i.email.as_deref()).collect();
    Triage::Blamed(write::blame(
        err.api().expect("a status"),
        items.len(),
        &emails,
    ))
}

fn is_status(err: &WriteError, status: u16) -> bool {
    err.api().and_then(|e| e.status()) == Some(status)
}

/// `POST /v3/customers` until every item has a result (see the module docs); `clock`: the
/// store's clock before the items were first sent.
async fn create(shared: &Shared, mut items: Vec<Item>, clock: Option<i64>) -> Split {
    let max_retries = shared.writes.client().max_retries();
    let mut ambiguous_rounds = 0;
    while !items.is_empty() {
        if !before_send(shared, Op::Create, &mut items) {
            return None;
        }
        let bodies: Vec<Value> = items.iter().map(|i| i.body.clone()).collect();
        shared.counters.requests.fetch_add(1, Ordering::Relaxed);
        let err = match shared.writes.create_customers(&bodies).await {
            Ok(created) => {
                let (done, rest) = claim(items, &created);
                done.into_iter()
                    .for_each(|(item, id)| item.finish(Ok(Done::Id(id))));
                if rest.is_empty() {
                    return None;
                }
                // A yes that leaves some out: they may exist; look before sending again.
                items = rest;
                WriteError::Api(crate::api::ApiError {
                    what: "POST /v3/customers".into(),
                    kind: crate::api::error::ErrorKind::Unconfirmed {
                        message: "the answer did not list every customer sent".into(),
                    },
                })
            }
            Err(err) => err,
        };
        let ambiguous = err.api().is_some_and(|e| e.is_ambiguous());
        if ambiguous {
            items.iter_mut().for_each(|i| i.sent_before = true);
            // `None`: the lookup failed and every item has its result (no halves to run).
            items = reconcile(shared, items, &err, clock).await?;
            ambiguous_rounds += 1;
            if ambiguous_rounds > max_retries {
                fail_all(items, &err);
                return None;
            }
            if !items.is_empty() {
                shared.writes.client().count_retry();
                tokio::time::sleep(backoff(ambiguous_rounds, true)).await;
            }
            continue;
        }
        let blame = match triage(&err, &items) {
            Triage::Split => return split(items),
            Triage::FailAll => {
                fail_all(items, &err);
                return None;
            }
            Triage::Blamed(blame) => blame,
        };
        if blame.is_empty() {
            // A store that is not all-or-nothing may have written some: see `sent_before`.
            items.iter_mut().for_each(|i| i.sent_before = true);
            if items.len() == 1 {
                fail_all(items, &err);
                return None;
            }
            return split(items);
        }
        if blame.by_email.iter().any(|&i| items[i].sent_before) {
            // "Already in use" for an email this run already sent: maybe our own write.
            // Named by email, which is unique in a batch (the caller's keys need not be).
            let named: HashSet<String> =
                blame.all().filter_map(|i| items[i].email.clone()).collect();
            let rest = reconcile(shared, items, &err, clock).await?;
            let (failed, rest): (Vec<Item>, Vec<Item>) = rest
                .into_iter()
                .partition(|i| i.email.as_ref().is_some_and(|e| named.contains(e)));
            fail_all(failed, &err);
            items = rest;
            continue;
        }
        let positions: Vec<usize> = blame.all().collect();
        let (named, rest) = take_out(items, &positions);
        fail_all(named, &err);
        items = rest;
        items.iter_mut().for_each(|i| i.sent_before = true);
    }
    None
}

/// Match created customers to items by email: `(item, id)` for each found, and the items
/// not found. Of several customers with one email (channel-specific ones may share it,
/// §12), the newest (highest id) is the one just created.
fn claim(items: Vec<Item>, found: &[V3Customer]) -> (Vec<(Item, u64)>, Vec<Item>) {
    let refs: Vec<&V3Customer> = found.iter().collect();
    claim_refs(items, &refs)
}

fn claim_refs(items: Vec<Item>, found: &[&V3Customer]) -> (Vec<(Item, u64)>, Vec<Item>) {
    let mut done = Vec::new();
    let mut rest = Vec::new();
    for item in items {
        let id = found
            .iter()
            .filter(|c| c.id > 0 && item.email.as_deref() == Some(&c.email.to_lowercase()))
            .map(|c| c.id)
            .max();
        match id {
            Some(id) => done.push((item, id)),
            None => rest.push(item),
        }
    }
    (done, rest)
}

/// ONE `email:in` lookup of the items' emails: the items found are created (answered with
/// their ids); the others come back to be sent again. `None` when the lookup itself failed:
/// then every item failed with `cause` (whether they exist is unknown; a journal that marked
/// them before the POST resolves them on resume).
async fn reconcile(
    shared: &Shared,
    items: Vec<Item>,
    cause: &WriteError,
    clock: Option<i64>,
) -> Option<Vec<Item>> {
    shared
        .counters
        .reconciliations
        .fetch_add(1, Ordering::Relaxed);
    let emails: Vec<&str> = items.iter().filter_map(|i| i.email.as_deref()).collect();
    let Ok(found) = shared.writes.find_by_emails(&emails).await else {
        fail_all(items, cause);
        return None;
    };
    let mut rest = Vec::new();
    for item in items {
        match settle(&item, &found, clock) {
            Settled::Ours(id) => item.finish(Ok(Done::Id(id))),
            Settled::Taken(why) => item.finish(Err(WriteError::Refused(why))),
            Settled::Absent => rest.push(item),
        }
    }
    Some(rest)
}

/// What the lookup says of one item.
enum Settled {
    /// Created by this run: its customer's id.
    Ours(u64),
    /// The email is held by a customer that is not this run's (another client took it, or
    /// the importer's lookup missed it, issue 14): the row's failure, naming it.
    Taken(String),
    /// Not there: to be sent again.
    Absent,
}

/// The item's customer among `found`: one with its email that [`once::claim`] takes as this
/// create's (the names sent, not created before `clock`). Of several customers with one
/// email (channel-specific ones may share it, §12), the newest (highest id) of ours.
fn settle(item: &Item, found: &[V3Customer], clock: Option<i64>) -> Settled {
    let sent = once::Sent::of_body(&item.body, clock);
    let claims: Vec<(u64, once::Claim)> = found
        .iter()
        .filter(|c| item.email.as_deref() == Some(&c.email.to_lowercase()))
        .map(|c| {
            let seen = once::Found {
                first_name: &c.first_name,
                last_name: &c.last_name,
                date_created: &c.date_created,
            };
            (c.id, once::claim(&sent, &seen))
        })
        .collect();
    let ours = claims
        .iter()
        .filter(|(id, claim)| *id > 0 && *claim == once::Claim::Ours)
        .map(|(id, _)| *id)
        .max();
    if let Some(id) = ours {
        return Settled::Ours(id);
    }
    match claims.iter().max_by_key(|(id, _)| *id) {
        Some((id, claim)) => Settled::Taken(
            claim
                .refusal(*id)
                .unwrap_or_else(|| format!("email already used by customer #{id}")),
        ),
        None => Settled::Absent,
    }
}

/// Update, delete or add addresses: requests the client may repeat itself (see the module
/// docs), so only refusals are handled here. An update batch with store credit the store
/// may add is the exception: sent once, and its balances read before it goes again
/// ([`super::credit`]).
async fn repeatable(shared: &Shared, op: Op, mut items: Vec<Item>) -> Split {
    let max_retries = shared.writes.client().max_retries();
    let mut lost_rounds = 0;
    while !items.is_empty() {
        let mut once = false;
        if op == Op::Update {
            // `None`: the balance read failed, and every item has its result.
            let (ready, may_repeat) = super::credit::prepare(shared, items).await?;
            items = ready;
            once = !may_repeat;
            if items.is_empty() {
                return None;
            }
        }
        if !before_send(shared, op, &mut items) {
            return None;
        }
        shared.counters.requests.fetch_add(1, Ordering::Relaxed);
        let result = match op {
            Op::Update => {
                let bodies: Vec<Value> = items.iter().map(|i| i.body.clone()).collect();
                let sent = if once {
                    shared.writes.update_customers_once(&bodies).await
                } else {
                    shared.writes.update_customers(&bodies).await
                };
                sent.map(|_| None)
            }
            Op::Delete => {
                let ids: Vec<u64> = items.iter().filter_map(|i| i.id).collect();
                shared.writes.delete_customers(&ids).await.map(|()| None)
            }
            Op::AddAddress => {
                let bodies: Vec<Value> = items.iter().map(|i| i.body.clone()).collect();
                shared.writes.create_addresses(&bodies).await.map(Some)
            }
            Op::Create => unreachable!("creates are not repeatable"),
        };
        let err = match result {
            Ok(addresses) => {
                for item in items {
                    let done = match &addresses {
                        Some(list) => Done::Address(address_outcome(&item.body, list)),
                        None => Done::Unit,
                    };
                    item.finish(Ok(done));
                }
                return None;
            }
            Err(err) => err,
        };
        if once {
            // Whatever the answer, the store may have written some: read before resending.
            for c in items.iter_mut().filter_map(|i| i.credit.as_mut()) {
                c.in_doubt = true;
            }
            if err.api().is_some_and(|e| e.is_ambiguous()) {
                lost_rounds += 1;
                if lost_rounds > max_retries {
                    fail_all(items, &err);
                    return None;
                }
                shared.writes.client().count_retry();
                tokio::time::sleep(backoff(lost_rounds, true)).await;
                continue;
            }
        }
        let blame = match triage(&err, &items) {
            Triage::Split => return split(items),
            Triage::FailAll => {
                fail_all(items, &err);
                return None;
            }
            Triage::Blamed(blame) => blame,
        };
        if blame.is_empty() {
            if items.len() == 1 {
                fail_refused(shared, items, &err).await;
                return None;
            }
            return split(items);
        }
        let positions: Vec<usize> = blame.all().collect();
        let (named, rest) = take_out(items, &positions);
        fail_refused(shared, named, &err).await;
        items = rest;
    }
    None
}

/// Fail items the store refused; a refused credit decrease under "add" says why the amount
/// sent was negative.
async fn fail_refused(shared: &Shared, items: Vec<Item>, err: &WriteError) {
    if items.iter().all(|i| i.credit.is_none()) {
        return fail_all(items, err);
    }
    let rule = shared.credit_rule.lock().await.clone();
    for item in items {
        let err = super::credit::explain_refusal(err, &item, &rule);
        item.finish(Err(err));
    }
}

/// The address the store created for `body`, matched by content (the store's answer leaves
/// out the duplicates it did not create, so positions mean nothing, §8, §20.2).
fn address_outcome(body: &Value, created: &[V3Address]) -> AddressOutcome {
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_lowercase()
    };
    let same = |a: &str, k: &str| a.trim().to_lowercase() == field(k);
    let customer_id = body.get("customer_id").and_then(Value::as_u64);
    created
        .iter()
        .find(|a| {
            Some(a.customer_id) == customer_id
                && same(&a.first_name, "first_name")
                && same(&a.last_name, "last_name")
                && same(&a.address1, "address1")
                && same(&a.address2, "address2")
                && same(&a.city, "city")
                && same(&a.postal_code, "postal_code")
                && same(&a.country_code, "country_code")
        })
        .map_or(AddressOutcome::AlreadyThere, |a| {
            AddressOutcome::Added(a.id)
        })
}
