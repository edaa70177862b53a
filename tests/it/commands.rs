//! Issue 6 items 1–4: `set-group`, `delete`, `validate-password`, `groups list|create`,
//! against the sandbox: results files, store state and request counts.

use std::collections::HashMap;

use crate::common::*;
use bc_customers::sandbox::SandboxConfig;

/// id → (email, customer_group_id) of every store customer.
fn directory(store: &Store) -> HashMap<u64, (String, u64)> {
    store.by_id(|c| {
        (
            c["email"].as_str().unwrap().to_string(),
            c["customer_group_id"].as_u64().unwrap(),
        )
    })
}

/// The Customers APIs the row commands write through: tests of behaviour run under both.
const APIS: [&str; 2] = ["v2", "v3"];

/// `args` with `--api api`.
fn on<'a>(api: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(["--api", api]);
    v
}

/// Write requests of `method` on customers: one per customer under V2, one per batch of up
/// to ten under V3 (`DELETE` at most ten ids, `PUT` ten customers).
fn writes(store: &Store, api: &str, method: &str) -> u64 {
    match api {
        "v2" => store.count(&format!("{method} /customers/{{id}}")),
        _ => {
            assert_eq!(
                store.count(&format!("{method} /customers/{{id}}")),
                0,
                "no V2 write under V3"
            );
            store.count(&format!("{method} /v3/customers"))
        }
    }
}

/// Under V2 exactly `n` writes; under V3 between one and `n` batches (how many rows share one
/// depends on timing).
fn assert_writes(store: &Store, api: &str, method: &str, n: u64) {
    let got = writes(store, api, method);
    match api {
        "v2" => assert_eq!(got, n, "one {method} per customer"),
        _ if n == 0 => assert_eq!(got, 0, "no {method}"),
        _ => assert!(
            got >= n.div_ceil(10) && got <= n,
            "{got} {method} batches for {n} customers"
        ),
    }
}

fn seeded(n: usize) -> Store {
    Store::new(SandboxConfig {
        seed: n,
        ..config()
    })
}

#[test]
fn set_group_from_emails_writes_only_customers_not_in_the_group() {
    for api in APIS {
        let store = seeded(40);
        let before = directory(&store);
        let mut ids: Vec<u64> = before.keys().copied().collect();
        ids.sort();
        let chosen = &ids[..12];
        let already = chosen.iter().filter(|id| before[id].1 == 3).count();
        assert!(already > 0 && already < 12, "the seed mixes groups");
        let mut csv = String::from("email,note\n");
        for id in chosen {
            // Case does not matter for emails.
            csv.push_str(&format!("{},x\n", before[id].0.to_uppercase()));
        }
        csv.push_str("nobody@example.com,y\n");
        store.write("move.csv", &csv);

        store
            .run(&on(
                api,
                &["set-group", "--group", "vip", "--input", "move.csv"],
            ))
            .expect(3);
        let results = store.csv("move.results.csv");
        assert_eq!(results.len(), 13);
        for (i, id) in chosen.iter().enumerate() {
            let r = &results[i];
            assert_eq!(r["_row"], (i + 1).to_string());
            assert_eq!(r["_customer_id"], id.to_string());
            assert_eq!(r["note"], "x", "input columns are echoed");
            let want = if before[id].1 == 3 {
                "unchanged"
            } else {
                "updated"
            };
            assert_eq!(r["_result"], want, "{r:?}");
        }
        assert_eq!(results[12]["_result"], "failed");
        assert!(
            results[12]["_message"].contains("no customer with email nobody@example.com"),
            "{:?}",
            results[12]
        );
        // Customers already in the group cost no write.
        assert_writes(&store, api, "PUT", (12 - already) as u64);
        let after = directory(&store);
        for (id, (_, group)) in &after {
            if chosen.contains(id) {
                assert_eq!(*group, 3);
            } else {
                assert_eq!(*group, before[id].1, "customer {id} was not in the file");
            }
        }
    }
}

#[test]
fn set_group_dry_run_sends_no_write() {
    for api in APIS {
        let store = seeded(20);
        let before = directory(&store);
        let mut csv = String::from("id\n");
        for id in 1..=20u64 {
            csv.push_str(&format!("{id}\n"));
        }
        store.write("ids.csv", &csv);
        store
            .run(&on(
                api,
                &[
                    "set-group",
                    "--group",
                    "2",
                    "--input",
                    "ids.csv",
                    "--dry-run",
                    "--results",
                    "plan.csv",
                ],
            ))
            .expect(0);
        let results = store.csv("plan.csv");
        assert_eq!(results.len(), 20);
        for r in &results {
            let id: u64 = r["id"].parse().unwrap();
            let want = if before[&id].1 == 2 {
                "unchanged"
            } else {
                "would_update"
            };
            assert_eq!(r["_result"], want, "{r:?}");
        }
        assert_writes(&store, api, "PUT", 0);
        assert_eq!(store.sb.counters().writes, 0);
        assert_eq!(directory(&store), before);
    }
}

#[test]
fn set_group_by_filter_moves_every_match_once() {
    // More than two pages of matches, so the id-range pager runs concurrently.
    let store = seeded(1200);
    let before = directory(&store);
    let in_two: Vec<u64> = before
        .iter()
        .filter(|(_, (_, g))| *g == 2)
        .map(|(id, _)| *id)
        .collect();
    assert!(in_two.len() > 250, "{} in group 2", in_two.len());
    let run = store.run(&[
        "set-group",
        "--group",
        "VIP",
        "--filter",
        "customer_group_id=2",
        "--concurrency",
        "8",
        "--summary-json",
        "summary.json",
    ]);
    run.expect(0);
    let results = store.csv("set-group.results.csv");
    assert_eq!(results.len(), in_two.len());
    let mut seen = Vec::new();
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["_row"], (i + 1).to_string());
        assert_eq!(r["_result"], "updated");
        assert_eq!(r["_customer_id"], r["id"]);
        let id: u64 = r["id"].parse().unwrap();
        assert_eq!(r["email"], before[&id].0);
        seen.push(id);
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "ascending, each once");
    let after = directory(&store);
    for (id, (_, g)) in &after {
        let want = if before[id].1 == 2 { 3 } else { before[id].1 };
        assert_eq!(*g, want, "customer {id}");
    }
    assert_eq!(store.count("PUT /customers/{id}"), in_two.len() as u64);
    let summary: serde_json::Value = serde_json::from_str(&store.read("summary.json")).unwrap();
    let per_row = summary["requests_per_row"].as_f64().unwrap();
    // One PUT each plus a share of the page reads (count, probe, ranges).
    assert!(per_row < 1.05, "requests per customer: {per_row}");

    // Nothing left to move: the filter matches no one.
    store.sb.reset_counters();
    store
        .run(&[
            "set-group",
            "--group",
            "3",
            "--filter",
            "customer_group_id=2",
        ])
        .expect(0);
    assert_eq!(store.csv("set-group.results.csv").len(), 0);
    assert_eq!(store.sb.counters().writes, 0);
}

#[test]
fn set_group_filter_counts_members_as_unchanged() {
    let store = seeded(60);
    let before = directory(&store);
    store
        .run(&[
            "set-group",
            "--group",
            "Wholesale",
            "--filter",
            "max_id=30",
            "--results",
            "r.csv",
        ])
        .expect(0);
    let results = store.csv("r.csv");
    assert_eq!(results.len(), 30);
    let mut writes = 0;
    for r in &results {
        let id: u64 = r["id"].parse().unwrap();
        if before[&id].1 == 2 {
            assert_eq!(r["_result"], "unchanged");
        } else {
            assert_eq!(r["_result"], "updated");
            writes += 1;
        }
    }
    assert_eq!(store.count("PUT /customers/{id}"), writes);
}

#[test]
fn set_group_large_file_reads_the_store_in_pages() {
    let store = seeded(600);
    let mut csv = String::from("id\n");
    for id in 1..=600u64 {
        csv.push_str(&format!("{id}\n"));
    }
    store.write("all.csv", &csv);
    store
        .run(&[
            "set-group",
            "--group",
            "1",
            "--input",
            "all.csv",
            "--dry-run",
        ])
        .expect(0);
    assert_eq!(
        store.count("GET /customers/{id}"),
        0,
        "no per-row lookups when the file covers the store"
    );
    assert!(store.count("GET /customers") <= 8);
}

#[test]
fn set_group_unknown_group_lists_the_groups() {
    let store = seeded(5);
    store.write("ids.csv", "id\n1\n");
    let run = store.run(&["set-group", "--group", "Platinum", "--input", "ids.csv"]);
    run.expect(1);
    assert!(
        run.stderr.contains("Platinum") && run.stderr.contains("Wholesale"),
        "{}",
        run.stderr
    );
    assert_eq!(store.sb.counters().writes, 0);
    // --input and --filter together is a usage error.
    store
        .run(&[
            "set-group",
            "--group",
            "1",
            "--input",
            "ids.csv",
            "--filter",
            "min_id=1",
        ])
        .expect(2);
}

#[test]
fn delete_without_yes_only_reports() {
    for api in APIS {
        let store = seeded(10);
        store.write("gone.csv", "id,email\n3,\n,nobody@example.com\n99,\n");
        store
            .run(&on(api, &["delete", "--input", "gone.csv"]))
            .expect(3);
        let results = store.csv("gone.results.csv");
        assert_eq!(results_of(&results), ["would_delete", "failed", "failed"]);
        assert!(results[1]["_message"].contains("no customer with email nobody@example.com"));
        assert!(results[2]["_message"].contains("no customer with id 99"));
        assert_writes(&store, api, "DELETE", 0);
        assert_eq!(store.sb.customers().len(), 10);
    }
}

#[test]
fn delete_with_yes_deletes_by_id_and_email() {
    for api in APIS {
        let store = seeded(10);
        let dir = directory(&store);
        let email5 = dir[&5].0.clone();
        let csv = format!(
            "id,email\n2,\n,{email5}\n2,\n77,\n4,{}\n6,not-its-email@example.com\n",
            dir[&4].0
        );
        store.write("gone.csv", &csv);
        store
            .run(&on(api, &["delete", "--input", "gone.csv", "--yes"]))
            .expect(3);
        let results = store.csv("gone.results.csv");
        assert_eq!(
            results_of(&results),
            ["deleted", "deleted", "skipped", "failed", "deleted", "failed"]
        );
        assert!(results[3]["_message"].contains("no customer with id 77"));
        assert!(results[5]["_message"].contains("not-its-email@example.com"));
        let left = store.ids();
        assert_eq!(left, [1, 3, 6, 7, 8, 9, 10]);
        // The file is large next to this small store, so the store was read in one page: the
        // unknown id was known to be missing without sending it a DELETE.
        assert_writes(&store, api, "DELETE", 3);
        assert_eq!(store.count("GET /customers/{id}"), 0);
    }
}

#[test]
fn delete_whose_answer_is_lost_counts_as_deleted() {
    let store = Store::new(SandboxConfig {
        seed: 6,
        lost_response_rate: 1.0,
        ..config()
    });
    store.write("gone.csv", "id\n1\n2\n3\n");
    store
        .run(&["delete", "--input", "gone.csv", "--yes"])
        .expect(0);
    let results = store.csv("gone.results.csv");
    assert_eq!(results_of(&results), ["deleted", "deleted", "deleted"]);
    assert!(results[0]["_message"].contains("lost"), "{:?}", results[0]);
    assert_eq!(store.sb.customers().len(), 3);
    assert_eq!(store.sb.counters().lost_responses, 3);
}

#[test]
fn validate_password_reports_valid_invalid_failed_and_never_echoes() {
    let store = seeded(8);
    store.sb.set_latency_ms(20);
    let dir = directory(&store);
    let p1 = store.sb.password_of(1).unwrap();
    let p2 = store.sb.password_of(2).unwrap();
    let secret_wrong = "WrongPass-9f3a1c";
    let mut csv = String::from("id,email,password\n");
    csv.push_str(&format!("1,,{p1}\n"));
    csv.push_str(&format!("2,,{secret_wrong}\n"));
    csv.push_str(&format!(",{},{p2}\n", dir[&2].0));
    csv.push_str(&format!("404,,{p1}\n"));
    csv.push_str(&format!(",nobody@example.com,{p1}\n"));
    csv.push_str("3,,\n");
    for _ in 0..12 {
        csv.push_str(&format!("1,,{p1}\n"));
    }
    store.write("check.csv", &csv);
    let run = store.run(&[
        "validate-password",
        "--input",
        "check.csv",
        "--concurrency",
        "16",
    ]);
    run.expect(3);
    let results = store.csv("check.results.csv");
    assert_eq!(
        results_of(&results)[..6],
        ["valid", "invalid", "valid", "failed", "failed", "failed"]
    );
    assert!(results[6..].iter().all(|r| r["_result"] == "valid"));
    assert!(results[3]["_message"].contains("no customer with id 404"));
    assert!(results[4]["_message"].contains("no customer with email nobody@example.com"));
    assert!(results.iter().all(|r| r["password"].is_empty()));
    let text = store.read("check.results.csv");
    for secret in [p1.as_str(), p2.as_str(), secret_wrong] {
        assert!(
            !text.contains(secret),
            "a password reached the results file"
        );
        assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret));
    }
    assert_eq!(
        store.sb.counters().rate_limited,
        0,
        "validations stay under the endpoint's concurrency limit"
    );
    assert_eq!(store.count("POST /customers/{id}/validate"), 16);
}

#[test]
fn groups_list_and_create() {
    let store = seeded(0);
    let run = store.run(&["groups", "list"]);
    run.expect(0);
    assert!(run.stdout.starts_with("id,name,is_default\n"));
    assert!(run.stdout.contains("2,Wholesale,false"), "{}", run.stdout);

    let run = store.run(&["groups", "create", "Trade Partners"]);
    run.expect(0);
    assert_eq!(run.stdout.trim(), "4");
    assert!(store
        .sb
        .groups()
        .iter()
        .any(|g| g["name"] == "Trade Partners"));

    let run = store.run(&["groups", "create", "trade partners"]);
    run.expect(1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(store.sb.groups().len(), 4);
}

#[test]
fn groups_create_after_a_lost_answer_makes_one_group() {
    let store = Store::new(SandboxConfig {
        lost_response_rate: 1.0,
        ..config()
    });
    let run = store.run(&["groups", "create", "Outlet"]);
    run.expect(0);
    assert_eq!(run.stdout.trim(), "4");
    assert_eq!(store.sb.groups().len(), 4);
    assert_eq!(store.count("POST /customer_groups"), 1);
}

#[test]
fn set_group_survives_server_errors_and_lost_answers() {
    let store = Store::new(SandboxConfig {
        seed: 24,
        fail_rate: 0.1,
        lost_response_rate: 0.25,
        rng_seed: 7,
        ..config()
    });
    // Read the starting state before faults matter (direct access bypasses them).
    let before = directory(&store);
    let mut csv = String::from("id\n");
    for id in 1..=24u64 {
        csv.push_str(&format!("{id}\n"));
    }
    store.write("ids.csv", &csv);
    store
        .run(&[
            "set-group",
            "--group",
            "Wholesale",
            "--input",
            "ids.csv",
            "--concurrency",
            "8",
        ])
        .expect(0);
    let results = store.csv("ids.results.csv");
    assert_eq!(results.len(), 24);
    for r in &results {
        let id: u64 = r["id"].parse().unwrap();
        let want = if before[&id].1 == 2 {
            "unchanged"
        } else {
            "updated"
        };
        assert_eq!(r["_result"], want, "{r:?}");
    }
    assert!(directory(&store).values().all(|(_, g)| *g == 2));
    assert!(store.sb.counters().injected_5xx > 0 && store.sb.counters().lost_responses > 0);
}

#[test]
fn set_group_on_a_plan_without_groups_is_fatal() {
    let store = Store::new(SandboxConfig {
        seed: 3,
        groups_enabled: false,
        ..config()
    });
    let run = store.run(&["set-group", "--group", "2", "--filter", "min_id=1"]);
    run.expect(1);
    assert!(run.stderr.contains("no customer groups"), "{}", run.stderr);
    assert_eq!(store.sb.counters().writes, 0);
}

#[test]
fn a_refused_token_is_fatal_and_writes_nothing() {
    let store = seeded(5);
    store.write("bad-token", "not-the-token\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            store.path("bad-token"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    store.write("ids.csv", "id,password\n1,whatever1\n");
    for args in [
        &["set-group", "--group", "2", "--input", "ids.csv"][..],
        &["delete", "--input", "ids.csv", "--yes"][..],
        &["validate-password", "--input", "ids.csv"][..],
    ] {
        let mut full = args.to_vec();
        full.extend(["--token-file", "bad-token"]);
        let run = store.run(&full);
        run.expect(1);
        assert!(run.stderr.contains("401"), "{}", run.stderr);
    }
    assert_eq!(store.sb.counters().writes_committed, 0);
    assert_eq!(store.sb.customers().len(), 5);
}

#[test]
fn validate_password_from_stdin_by_email() {
    let store = seeded(4);
    let dir = directory(&store);
    let p3 = store.sb.password_of(3).unwrap();
    let input = format!("email,password\n{},{p3}\n{},{p3}\n", dir[&3].0, dir[&4].0);
    let run = store.run_with_stdin(
        &["validate-password", "--input", "-"],
        Some(input.as_bytes()),
    );
    run.expect(3);
    let results = store.csv("validate-password.results.csv");
    assert_eq!(results_of(&results), ["valid", "invalid"]);
    assert_eq!(results[0]["_customer_id"], "3");
    assert!(!store.read("validate-password.results.csv").contains(&p3));
}

#[test]
fn set_group_small_file_looks_each_row_up() {
    let store = seeded(1200);
    let before = directory(&store);
    let target = if before[&10].1 == 1 { 2 } else { 1 };
    let csv = format!(
        "id,email\n10,\n,{}\n5000,\n10,{}\n",
        before[&20].0, before[&10].0
    );
    store.write("few.csv", &csv);
    store
        .run(&[
            "set-group",
            "--group",
            &target.to_string(),
            "--input",
            "few.csv",
        ])
        .expect(3);
    let results = store.csv("few.results.csv");
    let want20 = if before[&20].1 == target {
        "unchanged"
    } else {
        "updated"
    };
    // Row 4 names customer 10 again: the first row already moved it.
    assert_eq!(
        results_of(&results),
        ["updated", want20, "failed", "unchanged"]
    );
    assert!(results[2]["_message"].contains("no customer with id 5000"));
    // One lookup per customer: row 4 names customer 10 again, which the run already knows
    // (it moved it), as import remembers what it read and wrote.
    assert_eq!(
        store.count("GET /customers/{id}"),
        2,
        "one lookup per customer named by id"
    );
    let writes = 1 + u64::from(want20 == "updated");
    assert_eq!(store.count("PUT /customers/{id}"), writes);
    assert_eq!(directory(&store)[&10].1, target);
}

/// Another platform's export names its own ids `Customer ID` (Shopify); only the tool's own
/// `customer_id` spelling (its addresses file) may name BigCommerce ids, or a delete fed a
/// Shopify file would delete the BigCommerce customers that happen to have those numbers.
#[test]
fn delete_never_reads_another_platforms_customer_id_as_bigcommerce_ids() {
    let store = seeded(10);
    let dir = directory(&store);
    let email7 = dir[&7].0.clone();
    // Shopify's id 3 is not BigCommerce's customer 3: the row names customer 7 by email.
    store.write(
        "shopify.csv",
        &format!("Customer ID,First Name,Email\n3,Ann,{email7}\n"),
    );
    store
        .run(&["delete", "--input", "shopify.csv", "--yes"])
        .expect(0);
    let left = store.ids();
    assert_eq!(left, [1, 2, 3, 4, 5, 6, 8, 9, 10]);
}
