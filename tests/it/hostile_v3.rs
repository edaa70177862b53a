//! `--api v3` against a hostile store (the server of `hostile_server.rs`, in front of the
//! sandbox or on its own): lookups whose `id:in` / `email:in` filter is ignored, batch
//! answers that are reordered, short, padded or `data: null`, 429s without a wait on the PUT
//! limit, pagination that lies, and 200s of the wrong shape. Redirects and echoed secrets
//! under V3 are in `hostile_store` (the V2 tests there run under both APIs).

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;
use crate::hostile_server::{json, response, run_bounded, Action, Hostile, Outcome, Recorded};
use bc_customers::sandbox::SandboxConfig;

fn seeded(n: usize) -> Store {
    Store::new(SandboxConfig {
        seed: n,
        ..config()
    })
}

/// The binary with `args` and `--api v3`, pointed at `url` instead of the sandbox.
fn run_v3(store: &Store, url: &str, args: &[&str]) -> Outcome {
    let mut cmd: Command = store.command(args);
    cmd.args(["--api", "v3"]).env("BIGCOMMERCE_API_URL", url);
    let out = run_bounded(cmd, Duration::from_secs(90));
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(&store.token), "the token leaked:\n{text}");
    }
    out
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

fn ids_of(store: &Store) -> Vec<u64> {
    store
        .sb
        .customers()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect()
}

fn group_of(store: &Store) -> HashMap<u64, u64> {
    store
        .sb
        .customers()
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().unwrap(),
                c["customer_group_id"].as_u64().unwrap(),
            )
        })
        .collect()
}

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

/// The ids every `PUT /v3/customers` of `seen` carried.
fn put_ids(seen: &[Recorded]) -> HashSet<u64> {
    seen.iter()
        .filter(|r| r.method == "PUT")
        .flat_map(|r| {
            let items: Vec<Value> = serde_json::from_slice(&r.body).unwrap();
            items
                .into_iter()
                .map(|i| i["id"].as_u64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// delete and set-group by id and by email through a store whose lookups ignore the filter
/// and answer with all 40 customers: only the customers of the file are written, each row is
/// answered for its own customer, and the unknown ones are "not found", never another's.
#[test]
fn a_store_ignoring_id_in_and_email_in_gets_writes_for_the_asked_customers_only() {
    let store = seeded(40);
    let all = ids_of(&store);
    let emails: HashMap<u64, String> = store
        .sb
        .customers()
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().unwrap(),
                c["email"].as_str().unwrap().into(),
            )
        })
        .collect();
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
    let left = ids_of(&store);
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
    let rows = store.csv("lost.results.csv");
    assert_eq!(results_of(&rows), vec!["created"; 5], "{rows:?}");
    for row in &rows {
        let c = customer(&store, &row["email"]);
        assert_eq!(row["_customer_id"], c["id"].to_string(), "{row:?}");
    }
    assert_eq!(store.sb.customers().len(), 37, "none created twice");
    let posts = lossy
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "the lookup found all five: nothing sent again");
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
        let rows = store.csv(&results);
        assert_eq!(results_of(&rows), vec!["created"; 10], "{name}: {rows:?}");
        for row in &rows {
            let c = customer(&store, &row["email"]);
            assert_eq!(
                row["_customer_id"],
                c["id"].to_string(),
                "{name}: the id of the customer with the row's email"
            );
        }
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
    let ids = ids_of(&store);
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
    assert!(
        (9..=10).contains(&puts.len()),
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

// ---- Pagination that lies, 200s of the wrong shape ----

/// What a hostile V3 customer list does wrong.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lie {
    /// `meta.pagination.total` far above the 600 it sends.
    TotalFarAbove,
    /// The second (full) page's cursor points back to before the first page (followed, it
    /// repeats the first page; the id ranges of keyset cursors do not follow it).
    CursorLoops,
    /// `links.next` to page 1 forever and `total_pages: 0`, with correct cursors: the
    /// export follows the cursors and writes every customer.
    LinksLoopTotalPagesZero,
    /// The second page is `{"data": null}` with the first page's meta.
    DataNullMidway,
    /// The first page: `data: null` with a total of 600.
    DataNullFirst,
    /// The first page is `{}`.
    EmptyObject,
    /// The first page is a V2-shaped `[]`.
    V2Array,
    /// The first page is HTML.
    Html,
}

const HELD: u64 = 600;

fn v3_customer(id: u64) -> Value {
    json!({
        "id": id, "email": format!("c{id}@example.com"), "first_name": "F", "last_name": "L",
        "company": "", "phone": "", "notes": "", "tax_exempt_category": "",
        "registration_ip_address": "", "customer_group_id": 0,
        "date_created": "2016-01-05T10:00:00Z", "date_modified": "2016-01-05T10:00:00Z",
        "store_credit_amounts": [{"amount": 0}], "authentication": {"force_password_reset": false},
        "accepts_product_review_abandoned_cart_emails": false, "form_fields": [],
    })
}

/// Base64 (standard, no padding) of `{"id":N}`: SPEC3's cursors, which the export reads as
/// id ranges, concurrently.
fn keyset_cursor(id: u64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{{\"id\":{id}}}"))
}

fn keyset_id(cursor: &str) -> Option<u64> {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(cursor)
        .ok()?;
    let v: Value = serde_json::from_slice(&text).ok()?;
    v["id"].as_u64()
}

/// A page of the lying store for `query`: opaque cursors `c<last id>`, followed one by one,
/// or keyset ones.
fn lying_page(lie: Lie, keyset: bool, query: &str) -> Vec<u8> {
    let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let limit: u64 = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(50);
    let after: Option<u64> = q.get("after").and_then(|a| match keyset {
        true => keyset_id(a),
        false => a.strip_prefix('c').and_then(|a| a.parse().ok()),
    });
    let cursor = |id: u64| match keyset {
        true => keyset_cursor(id),
        false => format!("c{id}"),
    };
    let first = after.is_none();
    match lie {
        Lie::EmptyObject if first => return json(200, "{}"),
        Lie::V2Array if first => return json(200, "[]"),
        Lie::Html if first => {
            return response(200, &[("Content-Type", "text/html")], b"<html>ok</html>")
        }
        _ => {}
    }
    let start = after.unwrap_or(0) + 1;
    let ids: Vec<u64> = (start..=HELD).take(limit as usize).collect();
    let mut end = ids.last().map(|l| cursor(*l));
    if lie == Lie::CursorLoops && start > limit {
        end = Some(cursor(0));
    }
    let total = if lie == Lie::TotalFarAbove {
        1_000_000_000
    } else {
        HELD
    };
    let mut pagination = json!({"total": total, "count": ids.len(), "per_page": limit});
    if lie == Lie::LinksLoopTotalPagesZero {
        pagination["total_pages"] = json!(0);
        pagination["current_page"] = json!(1);
        pagination["links"] =
            json!({"next": format!("?page=1&limit={limit}"), "current": "?page=1"});
    }
    let meta = json!({"pagination": pagination, "cursor_pagination": {"end_cursor": end}});
    let data = match lie {
        Lie::DataNullMidway if !first => Value::Null,
        Lie::DataNullFirst if first => Value::Null,
        _ => Value::Array(ids.iter().map(|id| v3_customer(*id)).collect()),
    };
    json(200, &json!({"data": data, "meta": meta}).to_string())
}

fn lying_store(lie: Lie, keyset: bool) -> Hostile {
    Hostile::start("127.0.0.1", None, move |req, _| {
        if req.path().ends_with("/v2/customer_groups") {
            Action::Raw(json(200, "[]"))
        } else if req.method == "GET" && req.path().ends_with("/v3/customers") {
            Action::Raw(lying_page(lie, keyset, req.query()))
        } else {
            Action::Raw(json(404, r#"{"status":404,"title":"Not found"}"#))
        }
    })
}

/// Export and count of a store whose list lies, with opaque cursors (read one after the
/// other) and with keyset ones (read as id ranges, concurrently): the export fails (exit 1, the previous file
/// untouched, nothing left behind) in a bounded number of requests, or, where only fields the
/// tool does not use lie, writes every customer; the count is printed only when it is one.
#[test]
fn v3_pagination_lies_never_give_a_short_export_or_a_made_up_count() {
    let store = Store::empty();
    let lies = [
        Lie::TotalFarAbove,
        Lie::CursorLoops,
        Lie::LinksLoopTotalPagesZero,
        Lie::DataNullMidway,
        Lie::DataNullFirst,
        Lie::EmptyObject,
        Lie::V2Array,
        Lie::Html,
    ];
    for (lie, keyset) in lies.iter().flat_map(|l| [(*l, false), (*l, true)]) {
        let server = lying_store(lie, keyset);
        store.write("backup.csv", "previous backup\n");
        let out = run_v3(
            &store,
            &server.url(),
            &["export", "-o", "backup.csv", "--addresses", "a.csv"],
        );
        let pages = server.requests().len();
        assert!(pages < 40, "{lie:?} keyset={keyset}: {pages} requests");
        // Lies in what the walk does not read: the links, and (when the export makes its own
        // cursors for id ranges) the cursor a page returns.
        let unread = lie == Lie::LinksLoopTotalPagesZero || (lie == Lie::CursorLoops && keyset);
        if unread {
            assert_eq!(out.code, 0, "{lie:?} keyset={keyset}: {}", out.stderr);
            let rows = store.csv("backup.csv");
            let ids: HashSet<&str> = rows.iter().map(|r| r["id"].as_str()).collect();
            assert_eq!((rows.len(), ids.len()), (600, 600), "{lie:?} {keyset}");
        } else {
            assert_eq!(out.code, 1, "{lie:?} keyset={keyset}: {}", out.stderr);
            assert_eq!(store.read("backup.csv"), "previous backup\n", "{lie:?}");
            assert!(!store.path("a.csv").exists(), "{lie:?}");
        }
        let mut names: Vec<String> = std::fs::read_dir(store.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "backup.csv" && n != "a.csv")
            .collect();
        names.sort();
        assert!(names.is_empty(), "{lie:?}: left behind {names:?}");
        let _ = std::fs::remove_file(store.path("a.csv"));

        let count = run_v3(&store, &server.url(), &["count"]);
        match lie {
            // The store's own number, the only one there is.
            Lie::TotalFarAbove => assert_eq!(count.expect(0).stdout.trim(), "1000000000"),
            Lie::CursorLoops
            | Lie::LinksLoopTotalPagesZero
            | Lie::DataNullMidway
            | Lie::DataNullFirst => assert_eq!(count.expect(0).stdout.trim(), "600"),
            Lie::EmptyObject | Lie::V2Array | Lie::Html => {
                count.expect(1);
                assert!(count.stdout.is_empty(), "{lie:?}: {}", count.stdout);
            }
        }
    }
}

/// Lookups (`id:in`, `email:in`) and writes answered 200 with something that is not a V3
/// list: `{}`, `[]`, `{"data": null}`, a string, HTML. delete and set-group never report a
/// row done that was not, nothing is deleted or changed, and nothing panics.
#[test]
fn wrong_shaped_200s_to_v3_lookups_are_never_success() {
    let store = seeded(5);
    let ids = ids_of(&store);
    let email = store.sb.customers()[1]["email"]
        .as_str()
        .unwrap()
        .to_string();
    store.write("ids.csv", &format!("id\n{}\n{}\n", ids[0], ids[2]));
    store.write("emails.csv", &format!("email\n{email}\n"));
    let before = store.sb.customers();
    for body in ["{}", "[]", r#"{"data":null}"#, r#""ok""#, "<html>ok</html>"] {
        let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), move |req, _| {
            if req.path().ends_with("/v3/customers") {
                Action::Raw(json(200, body))
            } else {
                Action::Forward
            }
        });
        for args in [
            &["delete", "--yes", "--input", "ids.csv"][..],
            &["delete", "--yes", "--input", "emails.csv"][..],
            &["set-group", "--group", "vip", "--input", "ids.csv"][..],
            &["set-group", "--group", "vip", "--input", "emails.csv"][..],
        ] {
            let out = run_v3(&store, &proxy.url(), args);
            assert_ne!(out.code, 0, "{body} {args:?}: {}", out.stderr);
            let results = format!(
                "{}.results.csv",
                args[args.len() - 1].trim_end_matches(".csv")
            );
            if store.path(&results).exists() {
                let rows = store.csv(&results);
                for row in &rows {
                    assert!(
                        !["deleted", "updated", "unchanged"].contains(&row["_result"].as_str()),
                        "{body} {args:?}: {rows:?}"
                    );
                }
            }
        }
    }
    assert_eq!(
        store.sb.customers(),
        before,
        "nothing was deleted or changed"
    );
}

/// `validate-credentials` answered 200 with what is not a yes for this customer: no
/// `is_valid`, a string, a yes without the customer's id or for another customer, a list,
/// `data: null`, HTML. No row is `valid`; the password is never shown.
#[test]
fn a_v3_credentials_check_answered_oddly_is_never_valid() {
    let store = seeded(3);
    let id = ids_of(&store)[1];
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

/// `set-group --filter` and `export --filter` through a store whose list ignores the filter
/// (it answers with every customer): no customer outside the filter is written or exported,
/// and the run fails saying why, under both APIs.
#[test]
fn a_store_ignoring_the_filter_fails_set_group_and_export_by_filter() {
    for api in ["v2", "v3"] {
        let store = seeded(30);
        let target = store.sb.customers()[4].clone();
        let email = target["email"].as_str().unwrap().to_string();
        // V2 sends `email=`, V3 `email:in=`: both dropped.
        let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), |req, _| {
            let (path, query) = (req.path().to_string(), req.query().to_string());
            if req.method == "GET" && path.contains("/customers") && query.contains("email") {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|p| !p.starts_with("email"))
                    .collect();
                Action::ForwardTo(format!("{path}?{}", kept.join("&")))
            } else {
                Action::Forward
            }
        });
        let before = group_of(&store);
        let mut cmd = store.command(&[
            "set-group",
            "--group",
            "Wholesale",
            "--filter",
            &format!("email={email}"),
            "--api",
            api,
        ]);
        cmd.env("BIGCOMMERCE_API_URL", proxy.url());
        let out = run_bounded(cmd, Duration::from_secs(60));
        let after = group_of(&store);
        let moved: Vec<u64> = after
            .iter()
            .filter(|(id, g)| before[*id] != **g)
            .map(|(id, _)| *id)
            .collect();
        let id = target["id"].as_u64().unwrap();
        assert!(
            moved.iter().all(|m| *m == id),
            "{api}: customers outside the filter were moved: {moved:?} (exit {}, {})",
            out.code,
            out.stderr
        );
        assert_eq!(out.code, 1, "{api}: {}", out.stderr);
        assert!(
            out.stderr.contains("ignores the filter"),
            "{api}: {}",
            out.stderr
        );
        // The export of the same filter fails too, instead of a file of every customer.
        store.write("one.csv", "previous\n");
        let mut cmd = store.command(&[
            "export",
            "-o",
            "one.csv",
            "--filter",
            &format!("email={email}"),
            "--api",
            api,
        ]);
        cmd.env("BIGCOMMERCE_API_URL", proxy.url());
        let out = run_bounded(cmd, Duration::from_secs(60));
        assert_eq!(out.code, 1, "{api}: {}", out.stderr);
        assert!(out.stderr.contains("ignores the filter"), "{}", out.stderr);
        assert_eq!(store.read("one.csv"), "previous\n", "{api}");
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
        let mut cmd = store.command(&["import", "in.csv", "--api", api]);
        cmd.env("BIGCOMMERCE_API_URL", proxy.url());
        let out = run_bounded(cmd, Duration::from_secs(60));
        assert_eq!(out.code, 0, "{api}: {}", out.stderr);
        let rows = store.csv("in.results.csv");
        assert_eq!(results_of(&rows), vec!["created"; 3], "{api}: {rows:?}");
        for row in &rows {
            let c = customer(&store, &row["email"]);
            assert_eq!(row["_customer_id"], c["id"].to_string(), "{api}");
        }
        assert_eq!(store.sb.customers().len(), 3, "{api}: none twice");
    }
}
