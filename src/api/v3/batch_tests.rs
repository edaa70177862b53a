//! The batcher against the in-process sandbox: request counts, failure isolation (a
//! duplicate email, an unknown id, an error naming no row), every commit mode of a rejected
//! batch, lost answers after commit, the PUT concurrency limit, and deletes never unfiltered.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::*;
use crate::api::client::Client;
use crate::sandbox::{Sandbox, SandboxConfig, V3BatchCommit, V3Options};

async fn sandbox(cfg: SandboxConfig) -> Sandbox {
    Sandbox::start(
        SandboxConfig {
            rng_seed: 11,
            ..cfg
        },
        0,
    )
    .await
    .expect("sandbox starts")
}

fn client(sb: &Sandbox, concurrency: usize) -> Client {
    sb.client(concurrency, 8)
}

fn batcher(sb: &Sandbox, config: BatchConfig) -> Batcher {
    Batcher::new(Writes::new(client(sb, config.in_flight)), config)
}

fn default_batcher(sb: &Sandbox) -> Batcher {
    batcher(sb, BatchConfig::default())
}

fn person(i: usize) -> Value {
    json!({"email": format!("person{i}@example.com"), "first_name": format!("First{i}"), "last_name": "Last"})
}

fn route(sb: &Sandbox, r: &str) -> u64 {
    sb.counters().by_route.get(r).copied().unwrap_or(0)
}

/// Run `n` creates at once; results in item order.
async fn create_all(b: &Batcher, bodies: Vec<Value>) -> Vec<Result<u64, WriteError>> {
    let calls = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| b.create(i as u64, body));
    futures::future::join_all(calls).await
}

/// Every customer with this email (case-insensitive) in the sandbox.
fn with_email(sb: &Sandbox, email: &str) -> Vec<u64> {
    sb.customers()
        .iter()
        .filter(|c| c["email"].as_str().unwrap().eq_ignore_ascii_case(email))
        .map(|c| c["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn ten_creates_are_one_request_and_each_gets_its_own_id() {
    let sb = sandbox(SandboxConfig::default()).await;
    let b = default_batcher(&sb);
    let results = create_all(&b, (0..10).map(person).collect()).await;
    assert_eq!(route(&sb, "POST /v3/customers"), 1);
    for (i, r) in results.iter().enumerate() {
        let id = *r.as_ref().expect("created");
        assert_eq!(with_email(&sb, &format!("person{i}@example.com")), vec![id]);
    }
}

#[tokio::test]
async fn a_duplicate_email_fails_only_its_row_at_most_two_extra_requests() {
    for commit in [
        V3BatchCommit::Nothing,
        V3BatchCommit::RowsBefore,
        V3BatchCommit::AllValid,
    ] {
        let sb = sandbox(SandboxConfig {
            v3: V3Options {
                batch_commit: commit,
                ..V3Options::default()
            },
            ..SandboxConfig::default()
        })
        .await;
        let existing = sb.insert_customer(
            json!({"email": "person4@example.com", "first_name": "Old", "last_name": "One"}),
        );
        let b = default_batcher(&sb);
        let results = create_all(&b, (0..10).map(person).collect()).await;
        let err = results[4].as_ref().expect_err("the duplicate fails");
        assert!(
            err.message().contains("already in use"),
            "{commit:?}: {err}"
        );
        for (i, r) in results.iter().enumerate().filter(|(i, _)| *i != 4) {
            let id = *r
                .as_ref()
                .unwrap_or_else(|e| panic!("{commit:?} row {i}: {e}"));
            assert_eq!(
                with_email(&sb, &format!("person{i}@example.com")),
                vec![id],
                "{commit:?}: row {i} exactly once"
            );
        }
        assert_eq!(with_email(&sb, "person4@example.com"), vec![existing]);
        let requests = route(&sb, "POST /v3/customers") + route(&sb, "GET /v3/customers");
        // All-or-nothing: the 422, then the 9. Rows before the bad one written: the 422, the
        // 9 (duplicate of a row sent before), the lookup, the rest.
        let bound = if commit == V3BatchCommit::RowsBefore {
            4
        } else {
            3
        };
        assert!(requests <= bound, "{commit:?}: {requests} requests");
    }
}

#[tokio::test]
async fn an_index_named_refusal_under_every_commit_mode_creates_the_others_once() {
    for commit in [
        V3BatchCommit::Nothing,
        V3BatchCommit::RowsBefore,
        V3BatchCommit::AllValid,
    ] {
        let sb = sandbox(SandboxConfig {
            v3: V3Options {
                batch_commit: commit,
                ..V3Options::default()
            },
            ..SandboxConfig::default()
        })
        .await;
        let b = default_batcher(&sb);
        let mut bodies: Vec<Value> = (0..10).map(person).collect();
        // A password the store refuses: named by index (`5.authentication.new_password`).
        bodies[5]["authentication"] = json!({"new_password": "short"});
        let results = create_all(&b, bodies).await;
        assert!(results[5].is_err(), "{commit:?}");
        assert!(with_email(&sb, "person5@example.com").is_empty());
        for (i, r) in results.iter().enumerate().filter(|(i, _)| *i != 5) {
            let id = *r
                .as_ref()
                .unwrap_or_else(|e| panic!("{commit:?} row {i}: {e}"));
            assert_eq!(with_email(&sb, &format!("person{i}@example.com")), vec![id]);
        }
        assert_eq!(sb.customers().len(), 9, "{commit:?}");
    }
}

#[tokio::test]
async fn an_unknown_id_fails_only_its_row() {
    let sb = sandbox(SandboxConfig {
        seed: 10,
        ..SandboxConfig::default()
    })
    .await;
    let b = default_batcher(&sb);
    // Ids 1..=10 exist; the 4th item names 999.
    let ids: Vec<u64> = (1..=10).map(|i| if i == 4 { 999 } else { i }).collect();
    let calls = ids
        .iter()
        .map(|&id| b.update(id, id, json!({"company": format!("Company {id}")})));
    let results = futures::future::join_all(calls).await;
    for (id, r) in ids.iter().zip(&results) {
        if *id == 999 {
            let err = r.as_ref().expect_err("unknown id");
            assert!(err.message().contains("invalid customer ID"), "{err}");
        } else {
            r.as_ref().unwrap_or_else(|e| panic!("id {id}: {e}"));
        }
    }
    let companies: Vec<String> = sb
        .customers()
        .iter()
        .map(|c| c["company"].as_str().unwrap().to_string())
        .collect();
    for id in ids.iter().filter(|id| **id != 999) {
        assert_eq!(companies[*id as usize - 1], format!("Company {id}"));
    }
    assert!(route(&sb, "PUT /v3/customers") <= 2, "{:?}", sb.counters());
}

#[tokio::test]
async fn an_error_naming_no_row_is_split_until_the_bad_row_is_alone() {
    let sb = sandbox(SandboxConfig::default()).await;
    let b = default_batcher(&sb);
    let mut bodies: Vec<Value> = (0..10).map(person).collect();
    // A schema error: the whole request is refused, keyed `first_name`, no index (§14).
    bodies[7]["first_name"] = json!("x".repeat(101));
    let results = create_all(&b, bodies).await;
    assert!(results[7].is_err());
    for (i, r) in results.iter().enumerate().filter(|(i, _)| *i != 7) {
        let id = *r.as_ref().unwrap_or_else(|e| panic!("row {i}: {e}"));
        assert_eq!(with_email(&sb, &format!("person{i}@example.com")), vec![id]);
    }
    // Halving 10 → 5 → 3 → 2 → 1: at most 2 requests per level after the first.
    let posts = route(&sb, "POST /v3/customers");
    assert!(posts <= 9, "{posts} requests");
    assert!(b.stats().splits >= 3);
}

#[tokio::test]
async fn a_lost_answer_after_commit_is_reconciled_without_a_duplicate() {
    let sb = sandbox(SandboxConfig::default()).await;
    let b = default_batcher(&sb);
    sb.set_faults(0.0, 0.0, 1.0);
    let results = create_all(&b, (0..10).map(person).collect()).await;
    sb.set_faults(0.0, 0.0, 0.0);
    for (i, r) in results.iter().enumerate() {
        let id = *r.as_ref().unwrap_or_else(|e| panic!("row {i}: {e}"));
        assert_eq!(with_email(&sb, &format!("person{i}@example.com")), vec![id]);
    }
    let c = sb.counters();
    assert_eq!(c.lost_responses, 1);
    // One POST (committed, answer lost), one lookup, nothing sent again.
    assert_eq!(route(&sb, "POST /v3/customers"), 1);
    assert_eq!(route(&sb, "GET /v3/customers"), 1);
    assert_eq!(b.stats().reconciliations, 1);
}

/// Issue 14: a reconciled create must be ours. A store that writes the valid rows of a
/// batch refused for one taken email, and whose answer is then lost: the `email:in` lookup
/// finds our customer and the other client's. Only ours is `created`; the taken email's row
/// fails naming the customer that holds it (before: reported created with its id).
#[tokio::test]
async fn a_reconciled_create_takes_only_a_customer_with_the_names_sent() {
    let sb = sandbox(SandboxConfig {
        v3: V3Options {
            batch_commit: V3BatchCommit::AllValid,
            ..V3Options::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    let theirs = sb.insert_customer(json!({
        "email": "person1@example.com", "first_name": "Someone", "last_name": "Else",
    }));
    let b = default_batcher(&sb);
    sb.set_faults(0.0, 0.0, 1.0);
    let results = create_all(&b, (0..2).map(person).collect()).await;
    sb.set_faults(0.0, 0.0, 0.0);
    let ours = *results[0].as_ref().expect("created");
    assert_eq!(with_email(&sb, "person0@example.com"), vec![ours]);
    let err = results[1]
        .as_ref()
        .expect_err("the email is someone else's");
    assert!(
        err.message().contains(&format!("#{theirs}")),
        "{}",
        err.message()
    );
    assert_eq!(with_email(&sb, "person1@example.com"), vec![theirs]);
}

#[tokio::test]
async fn faults_everywhere_never_create_a_customer_twice() {
    let sb = sandbox(SandboxConfig::default()).await;
    let b = batcher(
        &sb,
        BatchConfig {
            in_flight: 4,
            ..BatchConfig::default()
        },
    );
    sb.set_faults(0.2, 0.15, 0.3);
    let results = create_all(&b, (0..60).map(person).collect()).await;
    sb.set_faults(0.0, 0.0, 0.0);
    let c = sb.counters();
    assert!(
        c.lost_responses > 0 && c.dropped + c.injected_5xx > 0,
        "{c:?}"
    );
    for (i, r) in results.iter().enumerate() {
        let found = with_email(&sb, &format!("person{i}@example.com"));
        assert!(found.len() <= 1, "row {i} created {} times", found.len());
        match r {
            Ok(id) => assert_eq!(found, vec![*id], "row {i}"),
            // Out of retries: the row may exist (the journal resolves it on resume), but once.
            Err(e) => assert!(e.api().is_some(), "row {i}: {e}"),
        }
    }
    assert!(results.iter().filter(|r| r.is_ok()).count() >= 55);
}

#[tokio::test]
async fn twenty_concurrent_updates_never_exceed_three_puts_in_flight() {
    let sb = sandbox(SandboxConfig {
        seed: 20,
        latency_ms: 40,
        ..SandboxConfig::default()
    })
    .await;
    // One item per request and 8 request slots: only the PUT limit holds them at 3.
    let b = batcher(
        &sb,
        BatchConfig {
            max_batch: 1,
            in_flight: 8,
            ..BatchConfig::default()
        },
    );
    let other = b.clone();
    let calls = (1..=20u64).map(|id| {
        let b = if id % 2 == 0 {
            b.clone()
        } else {
            other.clone()
        };
        async move { b.update(id, id, json!({"notes": format!("n{id}")})).await }
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let c = sb.counters();
    assert_eq!(c.v3_concurrency_rejected, 0, "{c:?}");
    assert_eq!(c.rate_limited, 0);
    assert_eq!(
        c.v3_max_concurrent_puts, 3,
        "the limit was reached, never passed"
    );
    assert_eq!(route(&sb, "PUT /v3/customers"), 20);
}

#[tokio::test]
async fn set_group_is_one_put_per_ten_customers() {
    let sb = sandbox(SandboxConfig {
        seed: 10,
        ..SandboxConfig::default()
    })
    .await;
    let group = sb.groups()[0]["id"].as_u64().expect("a seeded group");
    let b = default_batcher(&sb);
    let results = futures::future::join_all((1..=10u64).map(|id| b.set_group(id, id, group))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(route(&sb, "PUT /v3/customers"), 1);
    assert!(sb
        .customers()
        .iter()
        .all(|c| c["customer_group_id"].as_u64() == Some(group)));
}

#[tokio::test]
async fn deletes_are_batched_by_100_and_never_unfiltered() {
    let sb = sandbox(SandboxConfig {
        seed: 150,
        ..SandboxConfig::default()
    })
    .await;
    let writes = Writes::new(client(&sb, 4));
    let refused = writes.delete_customers(&[]).await;
    assert!(
        matches!(refused, Err(WriteError::Refused(_))),
        "{refused:?}"
    );
    assert_eq!(sb.counters().total, 0, "refused before any request");
    let b = Batcher::new(writes, BatchConfig::default());
    assert!(b.delete(0, 0).await.is_err());
    let results = futures::future::join_all((1..=150u64).map(|id| b.delete(id, id))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(sb.customers().is_empty());
    let c = sb.counters();
    assert_eq!(c.v3_unfiltered_deletes, 0);
    assert_eq!(c.collection_deletes, 0);
    // 150 ids: 100 + 50 (a delete names ids in its URL, not ten items in a body).
    assert_eq!(route(&sb, "DELETE /v3/customers"), 2);
}

#[tokio::test]
async fn the_hook_sees_every_request_before_it_is_sent() {
    let sb = sandbox(SandboxConfig::default()).await;
    // (op, keys, writes sent before the hook ran)
    type Seen = Vec<(Op, Vec<u64>, u64)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let log = Arc::clone(&seen);
    let counted = client(&sb, 8);
    let probe = counted.clone();
    let b = Batcher::new(Writes::new(counted), BatchConfig::default()).with_before_send(Arc::new(
        move |op, keys: &[u64]| {
            // The requests sent so far: the hook runs before its own request.
            log.lock()
                .unwrap()
                .push((op, keys.to_vec(), probe.stats().writes));
            Ok(())
        },
    ));
    let mut bodies: Vec<Value> = (0..10).map(person).collect();
    bodies[2]["authentication"] = json!({"new_password": "short"});
    let results = create_all(&b, bodies).await;
    assert!(results[2].is_err());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let mut first = seen[0].1.clone();
    first.sort_unstable();
    assert_eq!(first, (0..10).collect::<Vec<u64>>());
    assert_eq!(seen[0].2, 0);
    assert!(!seen[1].1.contains(&2) && seen[1].1.len() == 9);
    assert_eq!(seen[1].2, 1);

    // A refusing hook: nothing is sent and the items say why.
    let sb2 = sandbox(SandboxConfig::default()).await;
    let b2 = default_batcher(&sb2)
        .with_before_send(Arc::new(|_, _: &[u64]| anyhow::bail!("journal full")));
    let r = b2.create(1, person(1)).await;
    assert!(
        matches!(&r, Err(WriteError::NotSent(m)) if m.contains("journal full")),
        "{r:?}"
    );
    assert_eq!(sb2.counters().total, 0);
}

#[tokio::test]
async fn addresses_go_in_batches_and_a_duplicate_is_already_there() {
    let sb = sandbox(SandboxConfig::default()).await;
    let b = default_batcher(&sb);
    let ids: Vec<u64> = create_all(&b, (0..4).map(person).collect())
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let address = |street: &str| {
        json!({"first_name": "Ann", "last_name": "Lee", "address1": street, "city": "Austin",
               "state_or_province": "Texas", "postal_code": "78701", "country_code": "US"})
    };
    assert!(matches!(
        b.add_address(0, ids[0], address("1 Main St")).await,
        Ok(AddressOutcome::Added(_))
    ));
    sb.reset_counters();
    let calls = ids
        .iter()
        .map(|&id| b.add_address(id, id, address("1 Main St")));
    let outcomes = futures::future::join_all(calls).await;
    assert_eq!(outcomes[0].as_ref().unwrap(), &AddressOutcome::AlreadyThere);
    for (id, o) in ids.iter().zip(&outcomes).skip(1) {
        let AddressOutcome::Added(address_id) = o.as_ref().unwrap() else {
            panic!("{o:?}");
        };
        let stored = sb.addresses(*id);
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0]["id"].as_u64(), Some(*address_id));
    }
    assert_eq!(route(&sb, "POST /v3/customers/addresses"), 1);
}

#[tokio::test]
async fn a_thousand_concurrent_creates_leave_in_full_batches() {
    let sb = sandbox(SandboxConfig {
        latency_ms: 20,
        ..SandboxConfig::default()
    })
    .await;
    let b = default_batcher(&sb);
    let started = std::time::Instant::now();
    let results = create_all(&b, (0..1000).map(person).collect()).await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(sb.customers().len(), 1000);
    // 8 requests in flight, 10 customers each: every batch leaves full.
    assert_eq!(route(&sb, "POST /v3/customers"), 100);
    eprintln!(
        "1000 creates, 20 ms latency, 8 in flight: {} requests in {:.2} s ({:.0} rows/s)",
        route(&sb, "POST /v3/customers"),
        elapsed.as_secs_f64(),
        1000.0 / elapsed.as_secs_f64()
    );
}

#[tokio::test]
async fn a_duplicate_of_our_own_earlier_write_is_reconciled_whatever_the_keys() {
    // A store that writes the rows before the bad one: the re-send of the other 9 meets
    // "already in use" for the first of them, which was our own write; rows 6..9 were not
    // written and go again.
    let sb = sandbox(SandboxConfig {
        v3: V3Options {
            batch_commit: V3BatchCommit::RowsBefore,
            ..V3Options::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    let b = default_batcher(&sb);
    let mut bodies: Vec<Value> = (0..10).map(person).collect();
    bodies[5]["authentication"] = json!({"new_password": "short"});
    // Every item under one key: the batcher must not rely on the caller's keys.
    let results = futures::future::join_all(bodies.into_iter().map(|body| b.create(0, body))).await;
    assert!(results[5].is_err());
    for (i, r) in results.iter().enumerate().filter(|(i, _)| *i != 5) {
        let id = *r.as_ref().unwrap_or_else(|e| panic!("row {i}: {e}"));
        assert_eq!(with_email(&sb, &format!("person{i}@example.com")), vec![id]);
    }
    assert_eq!(b.stats().reconciliations, 1);
    assert_eq!(route(&sb, "POST /v3/customers"), 3);
}

#[tokio::test]
async fn a_store_with_a_lower_batch_limit_splits_on_413_and_still_writes_everything() {
    // Addresses per request are undocumented (§8, §19.10): a store taking 3 answers 413 above.
    let sb = sandbox(SandboxConfig {
        v3: V3Options {
            address_batch_limit: 3,
            ..V3Options::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    let b = default_batcher(&sb);
    let ids: Vec<u64> = create_all(&b, (0..10).map(person).collect())
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let address = json!({"first_name": "Ann", "last_name": "Lee", "address1": "1 Main St",
        "city": "Austin", "state_or_province": "Texas", "postal_code": "78701", "country_code": "US"});
    let calls = ids.iter().map(|&id| b.add_address(id, id, address.clone()));
    let outcomes = futures::future::join_all(calls).await;
    for (id, o) in ids.iter().zip(&outcomes) {
        assert!(matches!(o, Ok(AddressOutcome::Added(_))), "{id}: {o:?}");
        assert_eq!(sb.addresses(*id).len(), 1);
    }
    assert!(b.stats().splits >= 2);
    // 10 → 5 + 5 → (2 + 3) + (2 + 3): 7 requests, 3 of them refused.
    assert!(route(&sb, "POST /v3/customers/addresses") <= 7);
}
