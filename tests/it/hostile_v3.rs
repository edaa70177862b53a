//! The row commands under `--api v3` against a hostile store (the server of
//! `hostile_server.rs`, in front of the sandbox or on its own): lookups whose `id:in` /
//! `email:in` filter is ignored, create answers that are reordered, short, padded, doubled,
//! `data: null` or over the size cap, 429s that say nothing of when to come back, odd
//! credential checks. Lists that lie are in `hostile_v3_lists`; redirects and echoed secrets
//! under V3 in `hostile_store` (the V2 tests there run under both APIs).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;
use crate::hostile_server::{json, response, Action, Hostile, Outcome, Recorded};
use crate::hostile_store::run_via;
use bc_customers::sandbox::SandboxConfig;

pub(crate) fn seeded(n: usize) -> Store {
    Store::new(SandboxConfig {
        seed: n,
        ..config()
    })
}

/// The binary with `args` and `--api v3`, pointed at `url` instead of the sandbox.
pub(crate) fn run_v3(store: &Store, url: &str, args: &[&str]) -> Outcome {
    let args: Vec<&str> = args.iter().copied().chain(["--api", "v3"]).collect();
    run_via(store, url, &args)
}

/// The target without its `id:in=` and `email:in=` parameters: what a store that ignores
/// those filters answers is the sandbox's list of every customer.
fn without_filters(target: &str) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("id:in=") && !p.starts_with("email:in="))
        .collect();
    format!("{path}?{}", kept.join("&"))
}

/// A proxy whose customer reads ignore `id:in` and `email:in` (they answer with every
/// customer, up to the page's limit); everything else reaches the sandbox as sent.
fn ignoring_filters(store: &Store) -> Hostile {
    Hostile::start("127.0.0.1", Some(store.sb.addr()), |req, _| {
        let filtered = req.query().contains("id:in=") || req.query().contains("email:in=");
        if req.method == "GET" && req.path().ends_with("/v3/customers") && filtered {
            Action::ForwardTo(without_filters(&req.target))
        } else {
            Action::Forward
        }
    })
}

pub(crate) use crate::v3_targets::groups as group_of;

/// The ids every `DELETE /v3/customers?id:in=` of `seen` named (each must have the filter).
fn deleted_ids(seen: &[Recorded]) -> Vec<u64> {
    let mut named = Vec::new();
    for d in seen.iter().filter(|r| r.method == "DELETE") {
        let list = d
            .query()
            .strip_prefix("id:in=")
            .unwrap_or_else(|| panic!("a DELETE without id:in: {}", d.target));
        named.extend(list.split(',').map(|id| id.parse::<u64>().unwrap()));
    }
    named.sort_unstable();
    named
}

/// The items of every `method` request of `seen` (a V3 batch body is an array of them).
fn items_sent(seen: &[Recorded], method: &str) -> Vec<Value> {
    seen.iter()
        .filter(|r| r.method == method)
        .flat_map(|r| serde_json::from_slice::<Vec<Value>>(&r.body).unwrap())
        .collect()
}

/// The ids every `PUT /v3/customers` of `seen` carried.
fn put_ids(seen: &[Recorded]) -> HashSet<u64> {
    items_sent(seen, "PUT")
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect()
}

/// The `n` rows of results file `results` are all `created`, each with the id of the store's
/// customer holding the row's email (`what` names the case in a failure).
fn every_row_created_with_its_id(store: &Store, results: &str, n: usize, what: &str) {
    let rows = store.csv(results);
    assert_eq!(results_of(&rows), vec!["created"; n], "{what}: {rows:?}");
    for row in &rows {
        let c = customer(store, &row["email"]);
        assert_eq!(
            row["_customer_id"],
            c["id"].to_string(),
            "{what}: the id of the customer with the row's email: {row:?}"
        );
    }
}

/// Each customer's email by id.
fn emails_of(store: &Store) -> HashMap<u64, String> {
    store.by_id(|c| c["email"].as_str().unwrap().into())
}

/// set-group by id and by email through a store whose lookups ignore the filter and answer
/// with all 40 customers: only the customers of the file are written, each row is answered
/// for its own customer, and the unknown ones are "not found", never another's.
#[test]
fn a_set_group_through_a_store_ignoring_id_in_and_email_in_writes_the_asked_only() {
    let store = seeded(40);
    let all = store.ids();
    let emails = emails_of(&store);
    let proxy = ignoring_filters(&store);
    let vip = store
        .sb
        .groups()
        .iter()
        .find(|g| g["name"] == "VIP")
        .map(|g| g["id"].as_u64().unwrap())
        .expect("the seed has a vip group");
    let before = group_of(&store);
    let moved: Vec<u64> = all
        .iter()
        .copied()
        .filter(|id| before[id] != vip)
        .take(4)
        .collect();
    // By id (one unknown), then by email (one unknown).
    store.write(
        "g.csv",
        &format!("id\n{}\n{}\n999999\n", moved[0], moved[1]),
    );
    store.write(
        "ge.csv",
        &format!(
            "email\n{}\n{}\nnobody@example.com\n",
            emails[&moved[2]], emails[&moved[3]]
        ),
    );
    for (file, results) in [("g.csv", "g.results.csv"), ("ge.csv", "ge.results.csv")] {
        let out = run_v3(
            &store,
            &proxy.url(),
            &[
                "set-group",
                "--group",
                "vip",
                "--input",
                file,
                "--results",
                results,
            ],
        );
        out.expect(3);
        let rows = store.csv(results);
        assert_eq!(
            results_of(&rows),
            ["updated", "updated", "failed"],
            "{rows:?}"
        );
        assert!(rows[2]["_message"].contains("no customer"), "{rows:?}");
    }
    let after = group_of(&store);
    for id in &all {
        let want = if moved.contains(id) { vip } else { before[id] };
        assert_eq!(after[id], want, "customer {id}");
    }
    let asked: HashSet<u64> = moved.iter().copied().collect();
    assert_eq!(
        put_ids(&proxy.requests()),
        asked,
        "PUTs name the asked only"
    );
}

/// delete by id and by email through the same store: only the customers of the file are
/// deleted (in `id:in` lists naming only them), each row reported for its own customer.
#[test]
fn a_delete_through_a_store_ignoring_id_in_and_email_in_deletes_the_asked_only() {
    let store = seeded(40);
    let all = store.ids();
    let emails = emails_of(&store);
    let proxy = ignoring_filters(&store);
    let gone = [all[5], all[9], all[20], all[33]];
    store.write("d.csv", &format!("id\n{}\n{}\n999999\n", gone[0], gone[1]));
    store.write(
        "de.csv",
        &format!(
            "email\n{}\nnobody@example.com\n{}\n",
            emails[&gone[2]], emails[&gone[3]]
        ),
    );
    for (file, results, want) in [
        ("d.csv", "d.results.csv", ["deleted", "deleted", "failed"]),
        ("de.csv", "de.results.csv", ["deleted", "failed", "deleted"]),
    ] {
        let out = run_v3(
            &store,
            &proxy.url(),
            &["delete", "--yes", "--input", file, "--results", results],
        );
        out.expect(3);
        let rows = store.csv(results);
        assert_eq!(results_of(&rows), want, "{rows:?}");
        for row in rows.iter().filter(|r| r["_result"] == "deleted") {
            let id: u64 = row["_customer_id"].parse().unwrap();
            assert!(gone.contains(&id), "{row:?}");
        }
    }
    let mut gone_sorted = gone.to_vec();
    gone_sorted.sort_unstable();
    assert_eq!(deleted_ids(&proxy.requests()), gone_sorted);
    let left = store.ids();
    let want: Vec<u64> = all
        .iter()
        .copied()
        .filter(|id| !gone.contains(id))
        .collect();
    assert_eq!(left, want, "only the asked customers were deleted");
}

/// An upsert by email through a store whose `email:in` lookups answer with every customer:
/// a row matches only the customer with its own email (updated), a row of a new email is
/// created, never taken as one of the customers the answer listed.
#[test]
fn an_email_in_answer_listing_other_customers_is_not_taken_as_a_match() {
    let store = seeded(30);
    let proxy = ignoring_filters(&store);
    let customers = store.sb.customers();
    let existing = customers[7]["email"].as_str().unwrap().to_string();
    store.write(
        "in.csv",
        &format!(
            "email,first_name,last_name\n{existing},Renamed,Person\nfresh1@example.com,Fresh,One\nfresh2@example.com,Fresh,Two\n"
        ),
    );
    let out = run_v3(&store, &proxy.url(), &["import", "in.csv"]);
    out.expect(0);
    let rows = store.csv("in.results.csv");
    assert_eq!(
        results_of(&rows),
        ["updated", "created", "created"],
        "{rows:?}"
    );
    let after = store.sb.customers();
    assert_eq!(after.len(), 32);
    for (row, email) in rows.iter().zip([
        existing.as_str(),
        "fresh1@example.com",
        "fresh2@example.com",
    ]) {
        let c = customer(&store, email);
        assert_eq!(row["_customer_id"], c["id"].to_string(), "{row:?}");
    }
    assert_eq!(customer(&store, &existing)["first_name"], "Renamed");
    // Nobody else was renamed.
    let renamed = after
        .iter()
        .filter(|c| c["first_name"] == "Renamed")
        .count();
    assert_eq!(renamed, 1);
    assert_eq!(put_ids(&proxy.requests()).len(), 1);

    // A lost create answer, reconciled through the same lookup: only the customers with the
    // batch's emails are taken as created, each for its own row.
    let dropped = Arc::new(AtomicUsize::new(0));
    let lossy = {
        let dropped = dropped.clone();
        Hostile::start("127.0.0.1", Some(store.sb.addr()), move |req, _| {
            let filtered = req.query().contains("email:in=");
            if req.method == "POST" && dropped.fetch_add(1, Ordering::SeqCst) == 0 {
                Action::ForwardThenDrop
            } else if req.method == "GET" && filtered {
                Action::ForwardTo(without_filters(&req.target))
            } else {
                Action::Forward
            }
        })
    };
    store.write("lost.csv", &new_customers_csv(5, "lost"));
    run_v3(&store, &lossy.url(), &["import", "lost.csv"]).expect(0);
    every_row_created_with_its_id(&store, "lost.results.csv", 5, "lost");
    assert_eq!(store.sb.customers().len(), 37, "none created twice");
    // Each email is POSTed once: the lost batch's customers were all found by the lookup,
    // so none of them is sent again. (Counted per email, not per request: on a starved CPU
    // the five rows may leave in two batches at the 10 ms linger, the second one answered.)
    let mut posted: Vec<String> = items_sent(&lossy.requests(), "POST")
        .iter()
        .map(|i| i["email"].as_str().unwrap().to_string())
        .collect();
    posted.sort();
    let rows = store.csv("lost.results.csv");
    let mut want: Vec<String> = rows.iter().map(|r| r["email"].clone()).collect();
    want.sort();
    assert_eq!(
        posted, want,
        "the lookup found the lost batch: nothing sent again"
    );
}

/// A create batch's 200 answer edited by the store: reordered, short of an item, padded with
/// a customer that was not sent, `data: null`, an item listed twice under a made-up id.
/// Every row gets the id of the customer with its email, and no customer is created twice.
#[test]
fn create_batch_answers_reordered_short_padded_or_null_give_each_row_its_own_id() {
    let store = seeded(1);
    let outsider = store.sb.customers()[0].clone();
    type Edit = fn(Value, &Value) -> Value;
    let edits: [(&str, Edit); 6] = [
        ("reversed", |mut a, _| {
            a["data"].as_array_mut().unwrap().reverse();
            a
        }),
        ("short", |mut a, _| {
            a["data"].as_array_mut().unwrap().pop();
            a
        }),
        ("padded", |mut a, outsider| {
            a["data"].as_array_mut().unwrap().push(outsider.clone());
            a
        }),
        ("null", |_, _| json!({"data": null, "meta": {}})),
        ("empty", |_, _| json!({})),
        ("twice", |mut a, _| {
            let list = a["data"].as_array_mut().unwrap();
            let mut copy = list[0].clone();
            copy["id"] = json!(copy["id"].as_u64().unwrap() + 100_000);
            list.push(copy);
            a
        }),
    ];
    for (name, edit) in edits {
        let outsider = outsider.clone();
        let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), move |req, _| {
            if req.method == "POST" && req.path().ends_with("/v3/customers") {
                let outsider = outsider.clone();
                Action::ForwardThenEdit(Box::new(move |body| {
                    let answer: Value = serde_json::from_slice(body).unwrap();
                    serde_json::to_vec(&edit(answer, &outsider)).unwrap()
                }))
            } else {
                Action::Forward
            }
        });
        let file = format!("{name}.csv");
        let results = format!("{name}.results.csv");
        store.write(&file, &new_customers_csv(10, name));
        let out = run_v3(
            &store,
            &proxy.url(),
            &["import", &file, "--results", &results],
        );
        out.expect(0);
        every_row_created_with_its_id(&store, &results, 10, name);
        let posts = proxy
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count();
        assert_eq!(posts, 1, "{name}: one batch, never sent again");
    }
    let emails: HashSet<String> = store
        .sb
        .customers()
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(emails.len(), 61, "each customer once");
    assert_eq!(store.sb.customers().len(), 61);
}

/// The PUT limit answered with 429s that say nothing of when to come back (no Retry-After,
/// no X-Rate-Limit-* headers): the PUTs are sent again after a backoff, not in a storm, and
/// every row lands.
#[test]
fn headerless_429s_on_the_put_limit_are_backed_off_and_every_row_lands() {
    let store = seeded(30);
    let refused = Arc::new(AtomicUsize::new(0));
    let proxy = {
        let refused = refused.clone();
        Hostile::start("127.0.0.1", Some(store.sb.addr()), move |req, _| {
            if req.method == "PUT" && refused.fetch_add(1, Ordering::SeqCst) < 6 {
                Action::Raw(json(
                    429,
                    r#"{"status":429,"title":"Too many requests","errors":{}}"#,
                ))
            } else {
                Action::Forward
            }
        })
    };
    let ids = store.ids();
    let mut csv = String::from("id\n");
    for id in &ids {
        csv.push_str(&format!("{id}\n"));
    }
    store.write("all.csv", &csv);
    let out = run_v3(
        &store,
        &proxy.url(),
        &["set-group", "--group", "vip", "--input", "all.csv"],
    );
    out.expect(0);
    let vip = store
        .sb
        .groups()
        .iter()
        .find(|g| g["name"] == "VIP")
        .map(|g| g["id"].as_u64().unwrap())
        .unwrap();
    assert!(group_of(&store).values().all(|g| *g == vip));
    let puts: Vec<Recorded> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(refused.load(Ordering::SeqCst), puts.len());
    // The six refused sent again, and three (or four) batches of 10; a few more when
    // batches leave short at their 10 ms linger on a starved CPU, never a PUT per customer.
    assert!(
        (9..=6 + 8).contains(&puts.len()),
        "three (or four) batches and the six refused sent again: {}",
        puts.len()
    );
    // After the first 429, the next PUT waits (a backoff of at least a quarter second).
    let first = puts[0].at;
    let refused_at: Vec<Duration> = puts[1..].iter().map(|r| r.at - first).collect();
    let soon = refused_at
        .iter()
        .filter(|d| **d < Duration::from_millis(200))
        .count();
    assert!(soon <= 2, "PUTs right after a 429: {refused_at:?}");
    assert!(store.sb.counters().rate_limited == 0);
}

/// `validate-credentials` answered 200 with what is not a yes for this customer: no
/// `is_valid`, a string, a yes without the customer's id or for another customer, a list,
/// `data: null`, HTML. No row is `valid`; the password is never shown.
#[test]
fn a_v3_credentials_check_answered_oddly_is_never_valid() {
    let store = seeded(3);
    let id = store.ids()[1];
    store.write("pw.csv", &format!("id,password\n{id},Correct9Horse!\n"));
    for body in [
        "{}".to_string(),
        r#"{"is_valid":"true","customer_id":ID}"#.replace("ID", &id.to_string()),
        r#"{"is_valid":true}"#.to_string(),
        r#"{"is_valid":true,"customer_id":999999}"#.to_string(),
        r#"{"is_valid":true,"customer_id":"Correct9Horse!"}"#.to_string(),
        r#"[{"is_valid":true}]"#.to_string(),
        r#"{"data":null}"#.to_string(),
        "<html>ok</html>".to_string(),
    ] {
        let answer = json(200, &body);
        let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), move |req, _| {
            if req.path().ends_with("/validate-credentials") {
                Action::Raw(answer.clone())
            } else {
                Action::Forward
            }
        });
        let out = run_v3(
            &store,
            &proxy.url(),
            &["validate-password", "--input", "pw.csv"],
        );
        assert_ne!(out.code, 0, "{body}: {}", out.stderr);
        let rows = store.csv("pw.results.csv");
        assert_ne!(rows[0]["_result"], "valid", "{body}: {rows:?}");
        for text in [&out.stdout, &out.stderr, &store.read("pw.results.csv")] {
            assert!(!text.contains("Correct9Horse!"), "{body}: {text}");
        }
        assert!(
            proxy
                .requests()
                .iter()
                .any(|r| r.path().ends_with("/validate-credentials")),
            "{body}: the check was asked"
        );
    }
}

/// Creates refused with 429s that say nothing of when to come back: a 429 is not a create
/// that may have happened, so the batch is sent again after a backoff, and each customer
/// is created once.
#[test]
fn headerless_429s_on_creates_are_sent_again_and_create_each_customer_once() {
    let store = Store::empty();
    let refused = Arc::new(AtomicUsize::new(0));
    let proxy = {
        let refused = refused.clone();
        Hostile::start("127.0.0.1", Some(store.sb.addr()), move |req, _| {
            if req.method == "POST" && refused.fetch_add(1, Ordering::SeqCst) < 3 {
                Action::Raw(response(429, &[], b""))
            } else {
                Action::Forward
            }
        })
    };
    store.write("in.csv", &new_customers_csv(25, "busy"));
    run_v3(&store, &proxy.url(), &["import", "in.csv"]).expect(0);
    let rows = store.csv("in.results.csv");
    assert_eq!(results_of(&rows), vec!["created"; 25]);
    assert_eq!(store.sb.customers().len(), 25);
    for row in &rows {
        assert_eq!(
            row["_customer_id"],
            customer(&store, &row["email"])["id"].to_string()
        );
    }
}

/// A create committed by the store and answered 200 with a body over the cap (read no
/// further than the cap): an unreadable yes, so the customers may exist; they are looked up
/// by email and each row gets its customer's id, none created twice, under both APIs.
#[test]
fn a_create_answered_with_an_oversized_body_is_looked_up_not_failed() {
    for api in ["v2", "v3"] {
        let store = Store::empty();
        let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), |req, _| {
            if req.method == "POST" {
                Action::ForwardThenEdit(Box::new(|_| {
                    let mut big = b"[".to_vec();
                    big.resize(40 << 20, b' ');
                    big
                }))
            } else {
                Action::Forward
            }
        });
        store.write("in.csv", &new_customers_csv(3, "big"));
        let out = run_via(&store, &proxy.url(), &["import", "in.csv", "--api", api]);
        assert_eq!(out.code, 0, "{api}: {}", out.stderr);
        every_row_created_with_its_id(&store, "in.results.csv", 3, api);
        assert_eq!(store.sb.customers().len(), 3, "{api}: none twice");
    }
}
