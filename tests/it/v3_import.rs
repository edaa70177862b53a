//! Issue 14 item 3: `import --api v3`. The behaviour tests run against both APIs (the same
//! results, exit codes, store state); the V3 ones check what only batches can get wrong:
//! requests per row, a poisoned batch failing only its bad rows, a lost batch answer, a
//! kill -9 mid-batch then `--resume`, form fields and `accepts_marketing` written.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bc_customers::sandbox::SandboxConfig;
use serde_json::Value;

use crate::common::*;
use crate::hostile_server::{response, Action, Hostile};
use crate::hostile_store::run_via;

const APIS: [&str; 2] = ["v2", "v3"];

/// `args` with `--api api` after them.
fn with_api<'a>(args: &[&'a str], api: &'a str) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(["--api", api]);
    v
}

/// Creates the store committed, whichever API sent them.
fn create_requests(store: &Store) -> u64 {
    store.count("POST /customers") + store.count("POST /v3/customers")
}

/// `n` new customers, each with an address.
fn customers_with_addresses(n: usize, tag: &str) -> String {
    let mut s = String::from(
        "email,first_name,last_name,address_street_1,address_city,address_state,address_zip,address_country,address_phone\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "{tag}{i}@example.com,First{i},Last{i},{i} Main St,Springfield,Illinois,{:05},United States,555-{i:04}\n",
            10000 + i
        ));
    }
    s
}

fn by_email(store: &Store) -> HashMap<String, Value> {
    store
        .sb
        .customers()
        .into_iter()
        .map(|c| (c["email"].as_str().unwrap().to_lowercase(), c))
        .collect()
}

#[test]
fn v3_creates_100_customers_with_addresses_in_about_10_requests() {
    let store = Store::empty();
    store.write("in.csv", &customers_with_addresses(100, "a"));
    store.run(&["import", "in.csv", "--api", "v3"]).expect(0);
    let results = store.csv("in.results.csv");
    assert_eq!(results.len(), 100);
    assert!(
        results.iter().all(|r| r["_result"] == "created"),
        "{results:?}"
    );
    let c = store.sb.counters();
    let posts = store.count("POST /v3/customers");
    // 100 rows in batches of 10 is 10 POSTs. A batch also leaves when its first item has
    // waited 10 ms (the linger), so on a starved CPU (2 cores shared by the parallel tests
    // and the sandbox) a few leave short: the old bound of 12 failed once under a load of 8.
    // The promise is "about 10 requests" against V2's 200; 15 still fails a batcher that
    // sends 1 or 5 customers per request.
    assert!(
        (10..=15).contains(&posts),
        "{posts} POSTs: {:?}",
        c.by_route
    );
    assert_eq!(c.writes, posts, "no other write: {:?}", c.by_route);
    let customers = store.sb.customers();
    assert_eq!(customers.len(), 100);
    for c in &customers {
        let id = c["id"].as_u64().unwrap();
        let addrs = store.sb.addresses(id);
        assert_eq!(
            addrs.len(),
            1,
            "customer {id}: its address, nested in the create"
        );
    }
    // Every row's customer id is the store's customer of its email.
    let store_ids = by_email(&store);
    for r in &results {
        assert_eq!(
            r["_customer_id"],
            store_ids[&r["email"]]["id"].to_string(),
            "{r:?}"
        );
    }
}

/// A store with Ann (unchanged by the file) and Bob (changed by it).
fn store_with_two(cfg: SandboxConfig) -> Store {
    let store = Store::new(cfg);
    for (email, first) in [("ann@example.com", "Ann"), ("bob@example.com", "Bob")] {
        store.sb.insert_customer(serde_json::json!({
            "email": email, "first_name": first, "last_name": "Lee", "phone": "555-0100",
        }));
    }
    store
}

const MIXED: &str = "email,first_name,last_name,phone\n\
    ann@example.com,Ann,Lee,555-0100\n\
    bob@example.com,Robert,Lee,555-0100\n\
    new@example.com,New,Person,555-0101\n\
    broken,No,Mail,\n\
    NEW@example.com,Newer,Person,555-0101\n\
    other@example.com,Other,Person,555-0102\n";

/// The same file, the same flags: the same results file (byte for byte), exit code and
/// store, whichever API writes.
#[test]
fn both_apis_give_the_same_results_for_create_update_upsert_and_dry_run() {
    for (flags, code, want) in [
        (
            vec![],
            3,
            vec![
                "unchanged",
                "updated",
                "created",
                "invalid",
                "updated",
                "created",
            ],
        ),
        (
            vec!["--mode", "create"],
            3,
            vec![
                "failed", "failed", "created", "invalid", "failed", "created",
            ],
        ),
        (
            vec!["--mode", "update"],
            3,
            vec![
                "unchanged",
                "updated",
                "failed",
                "invalid",
                "failed",
                "failed",
            ],
        ),
        (
            vec!["--dry-run"],
            3,
            vec![
                "unchanged",
                "would_update",
                "would_create",
                "invalid",
                "would_update",
                "would_create",
            ],
        ),
    ] {
        let mut files = Vec::new();
        for api in APIS {
            let store = store_with_two(config());
            store.write("in.csv", MIXED);
            store.sb.reset_counters();
            let mut args = vec!["import", "in.csv"];
            args.extend(&flags);
            let run = store.run(&with_api(&args, api));
            run.expect(code);
            let rows = store.csv("in.results.csv");
            assert_eq!(results_of(&rows), want, "{api} {flags:?}: {rows:?}");
            if flags.contains(&"--dry-run") {
                assert_eq!(
                    store.sb.counters().writes,
                    0,
                    "{api}: a dry run sends no write"
                );
            }
            let mut state: Vec<(String, String)> = store
                .sb
                .customers()
                .iter()
                .map(|c| {
                    let email = c["email"].as_str().unwrap().to_lowercase();
                    (email, c["first_name"].as_str().unwrap().to_string())
                })
                .collect();
            state.sort();
            // Ids are given in the order the store sees the creates: the same ids, maybe
            // swapped; each row's id is its email's customer.
            let by = by_email(&store);
            let mut text = Vec::new();
            for mut r in rows {
                let id = std::mem::take(r.get_mut("_customer_id").unwrap());
                if let Some(c) = by.get(&r["email"].to_lowercase()) {
                    assert!(
                        id.is_empty() || id.parse::<u64>().ok() == c["id"].as_u64(),
                        "{api}: {r:?}"
                    );
                }
                // The message may name the id too ("already exists (id 4; ..."): it must be
                // the email's customer, and is compared without the number, since the two
                // new customers of the file can be created in either order.
                let msg = r.get_mut("_message").unwrap();
                if let Some(at) = msg.find("(id ") {
                    let digits: String = msg[at + 4..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    let c = &by[&r["email"].to_lowercase()];
                    assert_eq!(digits.parse::<u64>().ok(), c["id"].as_u64(), "{api}: {r:?}");
                    let msg = r.get_mut("_message").unwrap();
                    msg.replace_range(at + 4..at + 4 + digits.len(), "N");
                }
                let mut cells: Vec<(String, String)> = r.into_iter().collect();
                cells.sort();
                text.push(cells);
            }
            files.push((text, state));
        }
        assert_eq!(
            files[0].0, files[1].0,
            "{flags:?}: the results files differ"
        );
        assert_eq!(files[0].1, files[1].1, "{flags:?}: the stores differ");
    }
}

#[test]
fn both_apis_apply_rows_of_one_customer_in_file_order() {
    // An empty store, a preloaded one, and per-row lookups (19 rows next to 6,000).
    for seed in [0, 600, 6000] {
        for api in APIS {
            let store = Store::new(SandboxConfig {
                seed,
                latency_ms: 2,
                ..config()
            });
            let mut csv = String::from("email,first_name,last_name\n");
            for i in 0..6 {
                csv.push_str(&format!("dup@example.com,Name{i},Same\n"));
                csv.push_str(&format!("DUP@Example.com,Name{i},Same\n"));
                csv.push_str(&format!("other{i}@example.com,O,Ther\n"));
            }
            csv.push_str("Dup@example.com,Final,Same\n");
            store.write("in.csv", &csv);
            store
                .run(&with_api(&["import", "in.csv", "--concurrency", "8"], api))
                .expect(0);
            let results = store.csv("in.results.csv");
            let dup: Vec<&str> = results
                .iter()
                .filter(|r| r["email"].eq_ignore_ascii_case("dup@example.com"))
                .map(|r| r["_result"].as_str())
                .collect();
            let mut want = vec!["created", "unchanged"];
            for _ in 1..6 {
                want.extend(["updated", "unchanged"]);
            }
            want.push("updated");
            assert_eq!(dup, want, "{api} seed {seed}");
            assert_eq!(customer(&store, "dup@example.com")["first_name"], "Final");
            let dups = store
                .sb
                .customers()
                .iter()
                .filter(|c| {
                    c["email"]
                        .as_str()
                        .unwrap()
                        .eq_ignore_ascii_case("dup@example.com")
                })
                .count();
            assert_eq!(dups, 1, "{api} seed {seed}: one customer");
        }
    }
}

/// Every fault at once (5xx, dropped connections, answers lost after the write): every row
/// is created exactly once, with its address once, under both APIs.
#[test]
fn both_apis_create_every_row_exactly_once_under_faults() {
    for api in APIS {
        let store = Store::new(SandboxConfig {
            fail_rate: 0.05,
            drop_rate: 0.05,
            lost_response_rate: 0.1,
            rng_seed: 7,
            ..config()
        });
        let n = 300;
        store.write("in.csv", &customers_with_addresses(n, "f"));
        store
            .run(&with_api(
                &[
                    "import",
                    "in.csv",
                    "--concurrency",
                    "4",
                    "--max-retries",
                    "8",
                ],
                api,
            ))
            .expect(0);
        let rows = store.csv("in.results.csv");
        assert_eq!(rows.len(), n);
        assert!(
            rows.iter().all(|r| r["_result"] == "created"),
            "{api}: {rows:?}"
        );
        let by = by_email(&store);
        assert_eq!(by.len(), n, "{api}: one customer per row");
        assert_eq!(store.sb.customers().len(), n, "{api}: none twice");
        for r in &rows {
            let c = &by[&r["email"]];
            assert_eq!(r["_customer_id"], c["id"].to_string(), "{api}");
            assert_eq!(
                store.sb.addresses(c["id"].as_u64().unwrap()).len(),
                1,
                "{api}"
            );
        }
    }
}

/// Every answer to a write is lost after the store committed it: the batch's emails are
/// looked up once and the customers found are the rows' (no customer created twice).
#[test]
fn a_lost_batch_answer_after_commit_creates_no_customer_twice() {
    for api in APIS {
        let store = Store::new(SandboxConfig {
            lost_response_rate: 1.0,
            ..config()
        });
        store.write("in.csv", &new_customers_csv(40, "l"));
        store.run(&with_api(&["import", "in.csv"], api)).expect(0);
        let rows = store.csv("in.results.csv");
        assert!(
            rows.iter().all(|r| r["_result"] == "created"),
            "{api}: {rows:?}"
        );
        assert_eq!(store.sb.customers().len(), 40, "{api}");
        let by = by_email(&store);
        for r in &rows {
            assert_eq!(r["_customer_id"], by[&r["email"]]["id"].to_string());
        }
        if api == "v3" {
            assert!(
                create_requests(&store) <= 8,
                "{:?}",
                store.sb.counters().by_route
            );
        }
    }
}

/// Wait (bounded) until the store has answered `route` at least once, then a little more,
/// so a change made now lands after the run's planning read and before its writes (the
/// answer is held for the store's latency).
fn after_planning(store: &Store, route: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while store.count(route) == 0 {
        assert!(std::time::Instant::now() < deadline, "no {route}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    std::thread::sleep(std::time::Duration::from_millis(40));
}

/// Emails taken behind the run's back (after it read the store): only the store sees the
/// duplicate. The batch's 422 names the first email only; those rows fail with the store's
/// words, every other row is created exactly once.
#[test]
fn a_batch_poisoned_by_a_taken_email_fails_only_that_row() {
    let store = Store::new(SandboxConfig {
        seed: 20,
        latency_ms: 300,
        ..config()
    });
    store.write("in.csv", &new_customers_csv(30, "p"));
    let child = store
        .command(&["import", "in.csv", "--api", "v3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    after_planning(&store, "GET /v3/customers");
    // Rows 3 and 25: in different batches of 10.
    for i in [2, 24] {
        store.sb.insert_customer(serde_json::json!({
            "email": format!("p{i}@example.com"), "first_name": "Taken", "last_name": "Already",
        }));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = store.csv("in.results.csv");
    for (i, r) in rows.iter().enumerate() {
        if i == 2 || i == 24 {
            assert_eq!(r["_result"], "failed", "{r:?}");
            assert!(r["_message"].contains("already in use"), "{r:?}");
        } else {
            assert_eq!(r["_result"], "created", "{r:?}");
        }
    }
    let by = by_email(&store);
    assert_eq!(store.sb.customers().len(), 20 + 30, "no customer twice");
    assert_eq!(by[&"p2@example.com".to_string()]["first_name"], "Taken");
    // k bad items in a batch cost k + 1 requests: 3 batches, 2 of them poisoned once.
    let posts = store.count("POST /v3/customers");
    assert!(posts <= 3 + 2 + 1, "{posts} POSTs");
}

/// A customer deleted behind the run's back: the update batch's 422 names its index; only
/// that row fails, the others are updated.
#[test]
fn a_batch_poisoned_by_an_unknown_id_fails_only_that_row() {
    let store = Store::new(SandboxConfig {
        seed: 30,
        latency_ms: 300,
        ..config()
    });
    let mut csv = String::from("id,first_name\n");
    for id in 1..=20 {
        csv.push_str(&format!("{id},Renamed{id}\n"));
    }
    store.write("in.csv", &csv);
    let child = store
        .command(&["import", "in.csv", "--api", "v3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    after_planning(&store, "GET /v3/customers");
    assert!(store.sb.delete_customer(7));
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = store.csv("in.results.csv");
    for (i, r) in rows.iter().enumerate() {
        if i == 6 {
            assert_eq!(r["_result"], "failed", "{r:?}");
            assert!(r["_message"].contains("invalid customer ID"), "{r:?}");
        } else {
            assert_eq!(r["_result"], "updated", "{r:?}");
        }
    }
    for c in store.sb.customers() {
        let id = c["id"].as_u64().unwrap();
        let want = if id <= 20 {
            format!("Renamed{id}")
        } else {
            c["first_name"].as_str().unwrap().to_string()
        };
        assert_eq!(c["first_name"], want.as_str());
    }
    assert!(store.count("PUT /v3/customers") <= 2 + 1);
}

/// A schema error names a field, not a row: the batch is split until the bad row is alone;
/// the other nine are created once.
#[test]
fn an_error_naming_no_row_splits_the_batch_until_the_bad_row_is_alone() {
    let store = Store::empty();
    let mut csv = String::from("email,first_name,last_name,company\n");
    for i in 0..10 {
        let company = if i == 6 {
            "C".repeat(300)
        } else {
            format!("Co{i}")
        };
        csv.push_str(&format!("s{i}@example.com,F{i},L{i},{company}\n"));
    }
    store.write("in.csv", &csv);
    store.run(&["import", "in.csv", "--api", "v3"]).expect(3);
    let rows = store.csv("in.results.csv");
    for (i, r) in rows.iter().enumerate() {
        let want = if i == 6 { "failed" } else { "created" };
        assert_eq!(r["_result"], want, "{r:?}");
    }
    assert!(rows[6]["_message"].contains("company"), "{:?}", rows[6]);
    assert_eq!(store.sb.customers().len(), 9);
    // Halving 10 down to the one: at most 2·log2(10) + 1 requests.
    let posts = store.count("POST /v3/customers");
    assert!((2..=9).contains(&posts), "{posts}");
}

/// What V2 cannot write: form fields and the marketing consent, written by V3 and read back
/// by `export --api v3`; an existing customer's address goes through an address batch.
#[test]
fn v3_writes_form_fields_and_accepts_marketing_and_exports_them_back() {
    let store = store_with_two(config());
    store.write(
        "in.csv",
        "email,first_name,last_name,accepts_marketing,form_field:Shoe size,address_street_1,address_city,address_state,address_zip,address_country,address_phone\n\
         ann@example.com,Ann,Lee,true,42,1 Elm St,Austin,Texas,78701,United States,555-0100\n\
         zed@example.com,Zed,New,false,39,2 Oak St,Austin,Texas,78702,United States,555-0101\n",
    );
    let run = store.run(&["import", "in.csv", "--api", "v3"]);
    run.expect(0);
    assert!(!run.stderr.contains("read-only"), "{}", run.stderr);
    let rows = store.csv("in.results.csv");
    assert_eq!(results_of(&rows), ["updated", "created"]);
    assert_eq!(
        store.count("POST /v3/customers/addresses"),
        1,
        "Ann's address"
    );
    store
        .run(&["export", "--api", "v3", "-o", "out.csv"])
        .expect(0);
    let out = store.csv("out.csv");
    let row = |email: &str| out.iter().find(|r| r["email"] == email).unwrap().clone();
    assert_eq!(row("ann@example.com")["accepts_marketing"], "true");
    assert_eq!(row("ann@example.com")["form_field:Shoe size"], "42");
    assert_eq!(row("zed@example.com")["accepts_marketing"], "false");
    assert_eq!(row("zed@example.com")["form_field:Shoe size"], "39");
    let ann = customer(&store, "ann@example.com")["id"].as_u64().unwrap();
    assert_eq!(store.sb.addresses(ann).len(), 1);
    // V2 keeps refusing them: read-only columns, not sent.
    let v2 = store_with_two(config());
    v2.write("in.csv", &store.read("in.csv"));
    let run = v2.run(&["import", "in.csv", "--api", "v2"]);
    assert!(run.stderr.contains("read-only"), "{}", run.stderr);
}

/// Issue 14: the V3 lookups read form fields and the marketing consent back, so importing an
/// `export --api v3` of the same store changes nothing and sends no write, through the
/// whole-store read (the file names every customer) and through per-row lookups (a few rows
/// of a larger store). A changed form field is still `updated`.
#[test]
fn v3_reimport_of_a_v3_export_is_unchanged_and_sends_no_put() {
    let store = Store::new(SandboxConfig {
        seed: 400,
        ..config()
    });
    store
        .run(&["export", "--api", "v3", "-o", "all.csv"])
        .expect(0);
    let all = store.read("all.csv");
    assert!(
        all.lines().next().unwrap().contains("form_field:"),
        "seeded form fields"
    );
    let few: String = all.lines().take(4).map(|l| format!("{l}\n")).collect();
    store.write("few.csv", &few);
    for file in ["all.csv", "few.csv"] {
        let before = store.sb.counters().writes;
        store.run(&["import", file, "--api", "v3"]).expect(0);
        let results = file.replace(".csv", ".results.csv");
        let rows = store.csv(&results);
        let not_unchanged: Vec<_> = rows
            .iter()
            .filter(|r| r["_result"] != "unchanged")
            .collect();
        assert!(
            not_unchanged.is_empty(),
            "{file}: {:?}",
            &not_unchanged[..not_unchanged.len().min(3)]
        );
        assert_eq!(
            store.sb.counters().writes,
            before,
            "{file}: {:?}",
            store.sb.counters().by_route
        );
    }
    // One form field changed (the first of the header), the rest as exported.
    let header: Vec<&str> = few.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| h.starts_with("form_field:"))
        .unwrap();
    let mut changed = csv::ReaderBuilder::new().from_reader(few.as_bytes());
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(changed.headers().unwrap()).unwrap();
    for (i, rec) in changed.records().enumerate() {
        let mut rec: Vec<String> = rec.unwrap().iter().map(str::to_string).collect();
        if i == 0 {
            rec[col] = "changed by the test".into();
        }
        out.write_record(&rec).unwrap();
    }
    store.write(
        "changed.csv",
        &String::from_utf8(out.into_inner().unwrap()).unwrap(),
    );
    store
        .run(&["import", "changed.csv", "--api", "v3"])
        .expect(0);
    assert_eq!(
        results_of(&store.csv("changed.results.csv")),
        ["updated", "unchanged", "unchanged"]
    );
}

/// A proxy in front of the sandbox whose email index lags and whose create answers are
/// lost, for the emails containing one of `taken`: until a create naming one has been
/// seen, its lookups answer "no such customer" (with the store's `Date`, as any answer);
/// a create naming one is forwarded (the store refuses the email) and its answer dropped.
fn lagging_index_and_lost_creates(store: &Store, taken: &'static [&'static str]) -> Hostile {
    let posted = Arc::new(Mutex::new(HashSet::<&str>::new()));
    Hostile::start("127.0.0.1", Some(store.sb.addr()), move |req, _| {
        if !req.path().ends_with("/customers") {
            return Action::Forward;
        }
        let mut posted = posted.lock().unwrap();
        if req.method == "POST" {
            let body = String::from_utf8_lossy(&req.body);
            let named: Vec<&str> = taken.iter().copied().filter(|t| body.contains(t)).collect();
            if named.is_empty() {
                return Action::Forward;
            }
            posted.extend(named);
            return Action::ForwardThenDrop;
        }
        let stale = taken
            .iter()
            .any(|t| req.query().contains(t) && !posted.contains(t));
        if req.method != "GET" || !stale {
            return Action::Forward;
        }
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let headers = [
            ("Date", date.as_str()),
            ("Content-Type", "application/json"),
        ];
        match req.path().contains("/v3/") {
            true => Action::Raw(response(200, &headers, br#"{"data":[],"meta":{}}"#)),
            false => Action::Raw(response(204, &headers[..1], b"")),
        }
    })
}

/// Issue 14: a reconciled create must be ours, by the store's clock as well as the names.
/// Two customers held emails of the file before the run: one with the very names the row
/// sends (created in 2020), one with other names. The store's index lags, so the importer's
/// lookups miss both and it creates; the store refuses the taken emails and the answer is
/// lost; the lookup that follows finds them. Neither can be this run's create (before the
/// clock check the first was reported `created` with its id and, under V2, given the row's
/// address; before V2 compared names, so was the second): their rows fail naming them,
/// nothing is written to them, and the file's third row is created once.
#[test]
fn a_reconciled_v2_create_never_takes_a_customer_created_before_it_was_sent() {
    reconciled_create_never_takes_an_earlier_customer("v2");
}

#[test]
fn a_reconciled_v3_create_never_takes_a_customer_created_before_it_was_sent() {
    reconciled_create_never_takes_an_earlier_customer("v3");
}

fn reconciled_create_never_takes_an_earlier_customer(api: &str) {
    const TAKEN: &[&str] = &["same-names", "other-names"];
    let store = Store::empty();
    let old = store.sb.insert_customer(serde_json::json!({
        "email": "same-names@example.com", "first_name": "Ann", "last_name": "Lee",
        "date_created": "2020-01-30T00:49:10Z",
    }));
    let other = store.sb.insert_customer(serde_json::json!({
        "email": "other-names@example.com", "first_name": "Someone", "last_name": "Else",
    }));
    let address = "1 Main St,Springfield,Illinois,62701,United States,555-0100";
    store.write(
        "in.csv",
        &format!(
            "email,first_name,last_name,address_street_1,address_city,address_state,address_zip,address_country,address_phone\n\
             same-names@example.com,Ann,Lee,{address}\n\
             other-names@example.com,Bo,Ray,{address}\n\
             fresh@example.com,Cy,Dee,{address}\n"
        ),
    );
    let proxy = lagging_index_and_lost_creates(&store, TAKEN);
    let out = run_via(&store, &proxy.url(), &with_api(&["import", "in.csv"], api));
    assert_eq!(out.code, 3, "{api}: {}", out.stderr);
    assert!(!out.stderr.contains(&store.token) && !out.stdout.contains(&store.token));
    let rows = store.csv("in.results.csv");
    let taken = |i: usize, id: u64, why: &str| {
        let r = &rows[i];
        assert_eq!(r["_result"], "failed", "{api}: {r:?}");
        assert!(r["_message"].contains(&format!("#{id}")), "{api}: {r:?}");
        assert!(r["_message"].contains(why), "{api}: {r:?}");
        assert_ne!(r["_customer_id"], id.to_string(), "{api}: {r:?}");
    };
    taken(
        0,
        old,
        "(created 2020-01-30T00:49:10Z, before this run's create was sent)",
    );
    taken(1, other, "its name is not the one sent");
    assert_eq!(rows[2]["_result"], "created", "{api}: {rows:?}");
    let by = by_email(&store);
    assert_eq!(by.len(), 3, "{api}: no customer twice");
    for (id, email, first) in [
        (old, "same-names@example.com", "Ann"),
        (other, "other-names@example.com", "Someone"),
    ] {
        assert_eq!(by[email]["first_name"], first, "{api}");
        assert!(
            store.sb.addresses(id).is_empty(),
            "{api}: {email} got the row's address"
        );
    }
    let fresh = by["fresh@example.com"]["id"].as_u64().unwrap();
    assert_eq!(rows[2]["_customer_id"], fresh.to_string());
    assert_eq!(store.sb.addresses(fresh).len(), 1, "{api}");
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.method == "POST" && String::from_utf8_lossy(&r.body).contains("same-names")),
        "{api}: the create was sent (the lookup missed the customer)"
    );
}

/// The clock check is best effort and a broken `Date` cannot turn it against the run: a
/// store whose every answer carries a far-future `Date` (which, believed, would date every
/// create the run made before its own send), or a 1970 or unreadable one, and loses every
/// create's answer after committing it, still gets each row created once and reported with
/// its own id: such a `Date` is ignored and the names decide, as before the clock was kept.
#[test]
fn a_broken_date_header_never_fails_a_create_the_run_made() {
    const BROKEN: [&[&str]; 2] = [
        &["Fri, 31 Dec 9999 23:59:59 GMT"],
        &["Thu, 01 Jan 1970 00:00:00 GMT", "the day after tomorrow"],
    ];
    for (api, dates) in APIS.iter().flat_map(|a| BROKEN.map(|d| (*a, d))) {
        let store = Store::empty();
        store.write("in.csv", &new_customers_csv(12, "d"));
        let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), move |req, no| {
            if req.method == "POST" && req.path().ends_with("/customers") {
                return Action::ForwardThenDrop;
            }
            // Before the store's own `Date`: the one a client reads.
            Action::ForwardWithHeaders(vec![("Date".into(), dates[no % dates.len()].into())])
        });
        let out = run_via(&store, &proxy.url(), &with_api(&["import", "in.csv"], api));
        assert_eq!(out.code, 0, "{api} {dates:?}: {}", out.stderr);
        let rows = store.csv("in.results.csv");
        let by = by_email(&store);
        assert_eq!(by.len(), 12, "{api}: each once");
        for r in &rows {
            assert_eq!(r["_result"], "created", "{api} {dates:?}: {r:?}");
            assert_eq!(r["_customer_id"], by[&r["email"]]["id"].to_string());
        }
        let posts: Vec<String> = proxy
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect();
        for r in &rows {
            let sent = posts
                .iter()
                .filter(|b| b.contains(&format!("\"{}\"", r["email"])))
                .count();
            assert_eq!(
                sent, 1,
                "{api} {dates:?}: {} sent once, answer lost",
                r["email"]
            );
        }
    }
}
