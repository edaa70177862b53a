//! Store credit on `PUT /v3/customers`: whether `store_credit_amounts` *sets* the balance or
//! *adds* to it is undocumented (reference/bigcommerce-v3.md §6, §13.1 "set-vs-add
//! UNVERIFIED", §19 question 6), so the batcher makes every credit update right under both
//! rules, and learns the store's rule once per run when it has to (§20.4: a PUT carrying
//! store credit is not repeated blindly).
//!
//! The rule, for one update item that changes the balance from C to T (the importer sends
//! credit only when the row's T differs from the balance its lookup read):
//!
//! - **C = 0**: set and add agree; T is sent, whatever the store's rule.
//! - **C ≠ 0, rule unknown**: learn it with a harmless probe on this customer, once per run:
//!   a one-customer PUT of amount 0 (repeated while its answer is lost: 0 is idempotent
//!   under both rules), then `GET id:in=<id>&include=storecredit`. 0 means "set" (the row's
//!   own PUT restores T right after), C means "add" (nothing changed). Anything else fails
//!   the row with both numbers, and the run sends no more credit (its rows fail saying why).
//! - **Set**: T is sent, and the PUT stays repeatable (the client repeats a lost answer).
//! - **Add**: T − C is sent, C read fresh by one `id:in` GET per batch just before the PUT
//!   (the planner's reading may be minutes old). A negative T − C is sent too; a store that
//!   refuses it fails the row with its words and why the amount was negative (the balance
//!   stays C).
//! - While the rule is not "set", such a PUT is **not repeatable**: after a lost answer, a
//!   5xx, or a 422 for another item of its batch, the balances are read (one `id:in` GET for
//!   the batch's credit items) before anything is sent again: T → it landed (done); C → sent
//!   again; anything else → the row fails naming both numbers.
//!
//! Under "set" a run costs at most three requests more than an update of any other field:
//! the balance read of the first batch with a C ≠ 0 item, the probe and its read back.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::batch::{Item, Op, Shared};
use super::write::WriteError;
use crate::api::error::{ApiError, ErrorKind};

/// What the run knows of the store's rule for `store_credit_amounts` on PUT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) enum Rule {
    #[default]
    Unknown,
    Set,
    Add,
    /// The probe read back neither 0 nor the balance: credit is not sent any more (why).
    Broken(String),
}

/// An update item's store credit: the balance it asks for and the one it starts from.
#[derive(Debug, Clone, Copy)]
pub(super) struct ItemCredit {
    /// T, in ten-thousandths (V2's precision, as the models' sums).
    pub(super) target: i64,
    /// C: `Some(0)` when the importer's lookup read no credit, otherwise read by the batch.
    pub(super) before: Option<i64>,
    /// Sent in a request whose outcome is unknown for it: read the balance before resending.
    pub(super) in_doubt: bool,
}

impl ItemCredit {
    /// The item's credit from its body (`store_credit_amounts: [{amount}]`, summed).
    pub(super) fn of(body: &Value, before_is_zero: bool) -> Option<ItemCredit> {
        let target = units(body.get("store_credit_amounts")?)?;
        Some(ItemCredit {
            target,
            before: before_is_zero.then_some(0),
            in_doubt: false,
        })
    }
}

/// The sum of `[{amount}]` in ten-thousandths; `None` when it is not such a list.
pub(crate) fn units(amounts: &Value) -> Option<i64> {
    let Value::Array(items) = amounts else {
        return None;
    };
    let mut total = 0i64;
    for item in items {
        let amount = item.get("amount")?;
        let f = match amount {
            Value::Number(n) => n.as_f64()?,
            Value::String(s) => s.trim().parse::<f64>().ok()?,
            _ => return None,
        };
        if !f.is_finite() {
            return None;
        }
        total = total.checked_add((f * 10_000.0).round() as i64)?;
    }
    Some(total)
}

/// `12.5`, `-3.25`, `0`: an amount in ten-thousandths as a person reads it.
pub(crate) fn show(units: i64) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let v = units.unsigned_abs();
    let frac = format!("{:04}", v % 10_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{}", v / 10_000)
    } else {
        format!("{sign}{}.{frac}", v / 10_000)
    }
}

fn set_amount(body: &mut Value, units: i64) {
    if let Some(obj) = body.as_object_mut() {
        obj.insert(
            "store_credit_amounts".into(),
            json!([{ "amount": units as f64 / 10_000.0 }]),
        );
    }
}

/// Make the batch's credit items ready to send under the store's rule (see the module docs):
/// items that already landed are answered, items that cannot be sent fail; the rest come
/// back with their amounts written into their bodies. The flag: the PUT may be repeated by
/// the client (no credit item needs a read after a lost answer).
pub(super) async fn prepare(shared: &Shared, items: Vec<Item>) -> Option<(Vec<Item>, bool)> {
    if items.iter().all(|i| i.credit.is_none()) {
        return Some((items, true));
    }
    let mut rule = shared.credit_rule.lock().await.clone();
    if rule == Rule::Set {
        // Set: T as it is in the body; repeating it is harmless.
        return Some((items, true));
    }
    let needs_read = |items: &[Item]| {
        items
            .iter()
            .any(|i| i.credit.is_some_and(|c| c.in_doubt || c.before.is_none()))
    };
    let mut items = items;
    if rule == Rule::Unknown && needs_read(&items) {
        // The first batch that needs the rule learns it while the others wait, so under
        // "set" they read nothing: the run costs a constant, not a read per batch.
        let mut guard = shared.credit_rule.lock().await;
        rule = guard.clone();
        if rule == Rule::Unknown {
            items = read_balances(shared, items).await?;
            // Until the rule is known, only C = 0 items can be sent (set and add agree
            // there); a probe that fails fails its item, and the next C ≠ 0 item probes.
            while *guard == Rule::Unknown {
                let Some(at) = items
                    .iter()
                    .position(|i| i.credit.is_some_and(|c| c.before != Some(0)))
                else {
                    break;
                };
                learn(shared, &mut guard, &mut items, at).await;
            }
            rule = guard.clone();
        }
    }
    if let Rule::Broken(why) = &rule {
        return Some(refuse_credit(items, why));
    }
    if rule != Rule::Set && needs_read(&items) {
        items = read_balances(shared, items).await?;
    }
    let mut ready = Vec::with_capacity(items.len());
    for mut item in items {
        let Some(credit) = item.credit else {
            ready.push(item);
            continue;
        };
        let before = credit.before.unwrap_or(0);
        let amount = match &rule {
            Rule::Set => credit.target,
            Rule::Add | Rule::Unknown => credit.target - before,
            Rule::Broken(why) => {
                item.finish(Err(WriteError::Refused(why.clone())));
                continue;
            }
        };
        set_amount(&mut item.body, amount);
        ready.push(item);
    }
    Some((ready, rule == Rule::Set))
}

/// The rule is broken: credit items fail with why; the others go on.
fn refuse_credit(items: Vec<Item>, why: &str) -> (Vec<Item>, bool) {
    let (credit, rest): (Vec<Item>, Vec<Item>) =
        items.into_iter().partition(|i| i.credit.is_some());
    for item in credit {
        item.finish(Err(WriteError::Refused(why.to_string())));
    }
    (rest, true)
}

/// One `id:in` read of the balances the batch needs: C of each credit item not known to be
/// 0, and, for an item in doubt, whether its last PUT landed. `None`: the read failed and
/// every item failed with it.
async fn read_balances(shared: &Shared, items: Vec<Item>) -> Option<Vec<Item>> {
    let ids: Vec<u64> = items
        .iter()
        .filter(|i| i.credit.is_some_and(|c| c.in_doubt || c.before.is_none()))
        .filter_map(|i| i.id)
        .collect();
    if ids.is_empty() {
        return Some(items);
    }
    let balances = match shared.writes.balances(&ids).await {
        Ok(b) => b,
        Err(e) => {
            for item in items {
                item.finish(Err(e.clone()));
            }
            return None;
        }
    };
    let mut rest = Vec::with_capacity(items.len());
    for mut item in items {
        let Some(mut credit) = item.credit else {
            rest.push(item);
            continue;
        };
        if !(credit.in_doubt || credit.before.is_none()) {
            rest.push(item);
            continue;
        }
        let id = item.id.unwrap_or(0);
        let Some(&now) = balances.get(&id) else {
            item.finish(Err(WriteError::Refused(format!(
                "the store did not show customer #{id}'s store credit (GET /v3/customers?id:in={id}&include=storecredit), so it was not changed"
            ))));
            continue;
        };
        if credit.in_doubt {
            let before = credit.before.unwrap_or(0);
            if now == credit.target {
                // It landed: the answer was lost, the write was not.
                item.finish(Ok(super::batch::Done::Unit));
                continue;
            }
            if now != before {
                item.finish(Err(WriteError::Refused(format!(
                    "store credit: the answer to the update was lost and the balance is now {} (it was {}, the row asks for {}); not sent again, since this store may add the amount to the balance",
                    show(now),
                    show(before),
                    show(credit.target)
                ))));
                continue;
            }
            credit.in_doubt = false;
        } else {
            credit.before = Some(now);
        }
        item.credit = Some(credit);
        rest.push(item);
    }
    Some(rest)
}

/// Learn the store's rule with a probe on the item at `at` (C ≠ 0): PUT amount 0, read it
/// back. The caller holds the rule's lock throughout, so a run probes once. A probe that fails fails
/// its item (taken out of `items`); the rule stays unknown then, and the next batch probes.
async fn learn(shared: &Shared, guard: &mut Rule, items: &mut Vec<Item>, at: usize) {
    let id = items[at].id.unwrap_or(0);
    let before = items[at].credit.and_then(|c| c.before).unwrap_or(0);
    let fail = |why: String| WriteError::Refused(format!("store credit: {why}"));
    if let Some(hook) = shared.before_send.get() {
        if let Err(e) = hook(Op::Update, &[items[at].key]) {
            let item = items.remove(at);
            item.finish(Err(WriteError::NotSent(format!("{e:#}"))));
            return;
        }
    }
    shared
        .counters
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = json!([{ "id": id, "store_credit_amounts": [{ "amount": 0 }] }]);
    let probe = probe.as_array().expect("a list");
    let read = match shared.writes.update_customers(probe).await {
        Ok(_) => shared.writes.balances(&[id]).await,
        Err(e) => Err(e),
    };
    let now = match read {
        Ok(b) => b.get(&id).copied(),
        Err(e) => {
            let item = items.remove(at);
            item.finish(Err(with_context(
                e,
                "learning whether this store sets or adds store credit (a PUT of amount 0, then a read)",
            )));
            return;
        }
    };
    let learned = match now {
        Some(0) => Rule::Set,
        Some(n) if n == before => Rule::Add,
        other => {
            let seen = other.map_or("no balance".to_string(), show);
            let why = format!(
                "a PUT of store_credit_amounts [{{amount: 0}}] to customer #{id} (balance {}) left {seen}: neither 0 (the amount sets the balance) nor {} (it adds to it), so this run sends no store credit",
                show(before),
                show(before)
            );
            let item = items.remove(at);
            item.finish(Err(fail(why.clone())));
            Rule::Broken(fail(why).message())
        }
    };
    if learned == Rule::Set {
        // The probe left 0: that is the balance the row's own PUT now starts from.
        if let Some(c) = items[at].credit.as_mut() {
            c.before = Some(0);
        }
    }
    *guard = learned;
}

/// An error with what the tool was doing put before the store's words.
fn with_context(e: WriteError, doing: &str) -> WriteError {
    match e {
        WriteError::Api(mut api) => {
            if let ErrorKind::Status { message, .. } = &mut api.kind {
                *message = format!("{doing}: {message}");
            }
            WriteError::Api(api)
        }
        other => other,
    }
}

/// A refusal of an item's credit under "add" where the amount sent was negative: the store's
/// words, and why the tool sent a negative amount (the balance stays as it was).
pub(super) fn explain_refusal(err: &WriteError, item: &Item, rule: &Rule) -> WriteError {
    let Some(credit) = item.credit else {
        return err.clone();
    };
    let before = credit.before.unwrap_or(0);
    if *rule != Rule::Add || credit.target >= before {
        return err.clone();
    }
    let mut api: ApiError = match err.api() {
        Some(e) => e.clone(),
        None => return err.clone(),
    };
    if let ErrorKind::Status { message, .. } = &mut api.kind {
        *message = format!(
            "{message} (this store adds store_credit_amounts to the balance, so lowering it from {} to {} needs an amount of {}, which it refused; the balance is still {})",
            show(before),
            show(credit.target),
            show(credit.target - before),
            show(before)
        );
    }
    WriteError::Api(api)
}

/// The balances of these customers as the store shows them (`include=storecredit`).
pub(super) fn balances_of(customers: &[super::models::V3Customer]) -> HashMap<u64, i64> {
    customers
        .iter()
        .filter_map(|c| Some((c.id, c.store_credit_amounts.units()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_sum_in_ten_thousandths_and_show_plainly() {
        assert_eq!(units(&json!([{"amount": 43.15}])), Some(431_500));
        assert_eq!(
            units(&json!([{"amount": 1}, {"amount": "2.5"}])),
            Some(35_000)
        );
        assert_eq!(units(&json!([])), Some(0));
        assert_eq!(units(&Value::Null), None);
        assert_eq!(units(&json!([{"x": 1}])), None);
        assert_eq!(show(22_500), "2.25");
        assert_eq!(show(-12_500), "-1.25");
        assert_eq!(show(0), "0");
        assert_eq!(show(500_000), "50");
    }
}
