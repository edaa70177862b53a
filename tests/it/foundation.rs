//! Issue 2: the first end-to-end slice (round trip, paging edge cases, quota, 5xx, invalid
//! rows, secrets, the collection DELETE).

use crate::common::*;
use bc_customers::sandbox::SandboxConfig;

#[test]
fn round_trip_import_export_import_changes_nothing() {
    let store = Store::new(SandboxConfig {
        seed: 30,
        ..config()
    });
    store.write("customers.csv", &sample("customers.csv"));
    store.run(&["import", "customers.csv"]).expect(0);
    let results = store.csv("customers.results.csv");
    assert_eq!(results.len(), 50);
    assert!(
        results.iter().all(|r| r["_result"] == "created"),
        "{:?}",
        results_of(&results)
    );
    assert_eq!(store.sb.customers().len(), 80);
    assert_eq!(store.count("POST /customers"), 50, "one create per new row");

    store.run(&["export", "--output", "export.csv"]).expect(0);
    let export = store.csv("export.csv");
    assert_eq!(export.len(), 80);
    let ids: Vec<u64> = export.iter().map(|r| r["id"].parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending ids");
    let text = store.read("export.csv");
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("id,email,first_name,last_name,company,phone,store_credit,customer_group_id,customer_group,notes,tax_exempt_category,registration_ip_address,accepts_marketing,reset_pass_on_login,date_created,date_modified"));
    assert!(
        header.contains("form_field:"),
        "seeded form fields become columns: {header}"
    );
    // Formula-like cells are neutralised; dates are ISO-8601.
    assert!(export
        .iter()
        .any(|r| r["company"].starts_with("'=HYPERLINK")));
    assert!(export.iter().all(|r| r["date_created"].ends_with('Z')));

    store.sb.reset_counters();
    store
        .run(&["import", "export.csv", "--results", "again.csv"])
        .expect(0);
    let again = store.csv("again.csv");
    assert_eq!(again.len(), 80);
    assert!(
        again.iter().all(|r| r["_result"] == "unchanged"),
        "{:?}",
        results_of(&again)
    );
    assert_eq!(
        store.sb.counters().writes,
        0,
        "a re-import of an export sends no write"
    );
}

#[test]
fn empty_store_exports_a_header_only() {
    let store = Store::empty();
    let run = store.run(&["export"]);
    run.expect(0);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(run.stdout.starts_with("id,email,"));
}

#[test]
fn paging_past_the_end_and_limits() {
    // 251 customers: two pages, the second short; then a 204 past the end.
    let store = Store::new(SandboxConfig {
        seed: 251,
        ..config()
    });
    store.run(&["export", "-o", "all.csv"]).expect(0);
    assert_eq!(store.csv("all.csv").len(), 251);
    assert_eq!(
        store
            .sb
            .counters()
            .by_route
            .keys()
            .filter(|k| k.contains("413"))
            .count(),
        0
    );
    // A limit above 250 is refused by the store with 413; the client reports it, not retries.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let conn = bc_customers::api::Connection {
        api_url: url::Url::parse(&store.sb.base_url()).unwrap(),
        store_hash: store.sb.store_hash().into(),
        token: bc_customers::api::client::Secret::new(store.token.clone()),
        concurrency: 2,
        timeout: std::time::Duration::from_secs(5),
        max_retries: 3,
    };
    let client = bc_customers::api::Client::new(&conn).unwrap();
    let err = rt
        .block_on(client.customers_page(&[("limit", "251".into())]))
        .unwrap_err();
    assert_eq!(err.status(), Some(413));
    assert!(err.to_string().contains("limit"), "{err}");
    assert_eq!(client.stats().retries, 0);
    let empty = rt
        .block_on(client.customers_page(&[("min_id", "100000".into())]))
        .unwrap();
    assert!(empty.is_empty(), "204 is an empty page");
}

#[test]
fn small_quota_import_completes_without_failures() {
    let store = Store::new(SandboxConfig {
        quota: Some(25),
        window_ms: 400,
        ..config()
    });
    store.write("new.csv", &new_customers_csv(150, "quota"));
    let run = store.run(&[
        "import",
        "new.csv",
        "--concurrency",
        "8",
        "--summary-json",
        "summary.json",
    ]);
    run.expect(0);
    let results = store.csv("new.results.csv");
    assert!(results.iter().all(|r| r["_result"] == "created"));
    assert_eq!(store.sb.customers().len(), 150);
    let c = store.sb.counters();
    assert!(
        c.rate_limited * 50 <= c.total,
        "429s stay under 2% of requests: {c:?}"
    );
}

#[test]
fn server_errors_are_retried() {
    let store = Store::new(SandboxConfig {
        fail_rate: 0.2,
        ..config()
    });
    store.write("new.csv", &new_customers_csv(60, "flaky"));
    store
        .run(&[
            "import",
            "new.csv",
            "--concurrency",
            "4",
            "--max-retries",
            "8",
        ])
        .expect(0);
    let results = store.csv("new.results.csv");
    assert!(
        results.iter().all(|r| r["_result"] == "created"),
        "{:?}",
        results_of(&results)
    );
    let customers = store.sb.customers();
    assert_eq!(customers.len(), 60, "no duplicates, none lost");
    assert!(store.sb.counters().injected_5xx > 0);
}

#[test]
fn invalid_rows_exit_3_with_messages() {
    let store = Store::empty();
    store.write(
        "bad.csv",
        "email,first_name,last_name,store_credit\nok@example.com,Ok,Row,1\nnot-an-email,A,B,\nx@example.com,,B,\ny@example.com,Y,Z,-4\n",
    );
    store.run(&["import", "bad.csv"]).expect(3);
    let r = store.csv("bad.results.csv");
    assert_eq!(results_of(&r), ["created", "invalid", "invalid", "invalid"]);
    assert!(r[1]["_message"].contains("email"));
    assert!(r[2]["_message"].contains("first_name"));
    assert!(r[3]["_message"].contains("negative"));
    assert_eq!(r[1]["_row"], "2");
    assert_eq!(store.sb.customers().len(), 1);
}

#[test]
fn passwords_and_token_never_echoed() {
    let store = Store::empty();
    store.write("pw.csv", "email,first_name,last_name,password,password_confirmation\np@example.com,P,Q,Sekr1tPass,Sekr1tPass\n");
    let run = store.run(&["import", "pw.csv", "--quiet"]);
    run.expect(0);
    let text = store.read("pw.results.csv");
    assert!(!text.contains("Sekr1tPass"), "{text}");
    assert!(!run.stderr.contains("Sekr1tPass"));
    let id = store.csv("pw.results.csv")[0]["_customer_id"]
        .parse()
        .unwrap();
    assert_eq!(store.sb.password_of(id).as_deref(), Some("Sekr1tPass"));
}

#[test]
fn wrong_token_is_fatal() {
    let store = Store::empty();
    store.write("new.csv", &new_customers_csv(3, "auth"));
    let tf = store.write("token.txt", "wrong-token");
    let run = store.run(&["import", "new.csv", "--token-file", tf.to_str().unwrap()]);
    run.expect(1);
    assert!(run.stderr.contains("401"), "{}", run.stderr);
    assert!(!run.stderr.contains("wrong-token"));
}

#[test]
fn count_and_groups_list() {
    let store = Store::new(SandboxConfig {
        seed: 42,
        ..config()
    });
    let run = store.run(&["count"]);
    run.expect(0);
    assert_eq!(run.stdout.trim(), "42");
    let run = store.run(&["groups", "list"]);
    run.expect(0);
    assert!(run.stdout.starts_with("id,name,is_default\n"));
    assert!(run.stdout.contains("Wholesale"));
}
