//! Issue 14: `--api v3` for `export` and `count`. The same store exported through both APIs
//! gives the same files byte for byte (customers and addresses), at about one V3 request per
//! 250 customers and none per customer for addresses; counts agree with and without filters;
//! faults do not change the file; a hostile V3 store fails the export; an unknown version is
//! refused before any request; `BIGCOMMERCE_API_VERSION` is honoured (import included).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use bc_customers::sandbox::SandboxConfig;
use serde_json::{json, Value};

use crate::common::*;

fn bytes(store: &Store, name: &str) -> Vec<u8> {
    std::fs::read(store.path(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

/// Export through both APIs; assert the customer and address files are equal byte for byte.
fn both_apis_agree(store: &Store, extra: &[&str]) {
    let mut v2 = vec![
        "export",
        "--api",
        "v2",
        "-o",
        "v2.csv",
        "--addresses",
        "v2a.csv",
    ];
    v2.extend(extra);
    store.run(&v2).expect(0);
    let mut v3 = vec![
        "export",
        "--api",
        "v3",
        "-o",
        "v3.csv",
        "--addresses",
        "v3a.csv",
    ];
    v3.extend(extra);
    store.run(&v3).expect(0);
    let (a, b) = (bytes(store, "v2.csv"), bytes(store, "v3.csv"));
    assert!(
        a == b,
        "customer files differ:\n--- v2\n{}\n--- v3\n{}",
        String::from_utf8_lossy(&a[..a.len().min(3000)]),
        String::from_utf8_lossy(&b[..b.len().min(3000)])
    );
    let (a, b) = (bytes(store, "v2a.csv"), bytes(store, "v3a.csv"));
    assert!(
        a == b,
        "address files differ:\n--- v2\n{}\n--- v3\n{}",
        String::from_utf8_lossy(&a[..a.len().min(3000)]),
        String::from_utf8_lossy(&b[..b.len().min(3000)])
    );
}

#[test]
fn v3_export_writes_the_v2_files_byte_for_byte_in_few_requests() {
    let store = Store::new(SandboxConfig {
        seed: 1200,
        ..config()
    });
    both_apis_agree(&store, &[]);
    let text = store.read("v3.csv");
    // The seed has what the mapping must get right: form fields, groups, store credit,
    // addresses (every third customer).
    let header = text.lines().next().unwrap();
    assert!(header.contains(",form_field:"), "{header}");
    let rows = store.csv("v3.csv");
    assert_eq!(rows.len(), 1200);
    assert!(rows.iter().any(|r| !r["customer_group"].is_empty()));
    assert!(rows.iter().any(|r| r["store_credit"] != "0.0000"));
    assert!(rows.iter().any(|r| r["accepts_marketing"] == "true"));
    assert!(store.csv("v3a.csv").len() >= 400);

    // The V3 run's requests alone: ⌈1200 / 250⌉ pages, the groups listing, nothing per
    // customer (V2 needed 1,200 address requests for the same file).
    store.sb.reset_counters();
    let run = store.run(&[
        "export",
        "--api",
        "v3",
        "-o",
        "again.csv",
        "--addresses",
        "againa.csv",
    ]);
    run.expect(0);
    assert_eq!(bytes(&store, "again.csv"), bytes(&store, "v2.csv"));
    // Ranges are read --concurrency (4) at once, so up to 3 may be in flight past the end.
    let c = store.sb.counters();
    let pages = store.count("GET /v3/customers");
    assert!((5..=8).contains(&pages), "{:?}", c.by_route);
    assert_eq!(store.count("GET /customer_groups"), 1);
    assert_eq!(c.total, pages + 1, "{:?}", c.by_route);
    assert!(
        !run.stderr.contains("for addresses"),
        "no per-customer cost is announced: {}",
        run.stderr
    );

    // Without --addresses, and to stdout: the same bytes too.
    let v2 = store.run(&["export"]);
    let v3 = store.run(&["export", "--api", "v3"]);
    v2.expect(0);
    v3.expect(0);
    assert!(v2.stdout == v3.stdout, "stdout exports differ");
}

#[test]
fn filtered_exports_agree_too() {
    let store = Store::new(SandboxConfig {
        seed: 600,
        ..config()
    });
    let group = store.csv_first_group();
    both_apis_agree(&store, &["--filter", &format!("customer_group_id={group}")]);
    assert!(!store.csv("v3.csv").is_empty());
    both_apis_agree(&store, &["--since", "2020-01-01"]);
}

impl Store {
    /// A customer group id that some seeded customer is in.
    fn csv_first_group(&self) -> u64 {
        self.sb
            .customers()
            .iter()
            .map(|c| c["customer_group_id"].as_u64().unwrap())
            .find(|g| *g != 0)
            .expect("seeded customers are in groups")
    }
}

/// Customers with more addresses than `include=addresses` embeds have theirs read from
/// `/v3/customers/addresses` (one request per page's customers at the cap), and the file is
/// still V2's byte for byte.
#[test]
fn customers_at_the_embedded_address_cap_are_read_apart() {
    let mut cfg = SandboxConfig {
        seed: 600,
        ..config()
    };
    cfg.v3.include_addresses_limit = Some(1);
    let store = Store::new(cfg);
    let several = store
        .sb
        .customers()
        .iter()
        .filter(|c| store.sb.addresses(c["id"].as_u64().unwrap()).len() > 1)
        .count();
    assert!(
        several > 0,
        "some seeded customers have two addresses or more"
    );
    both_apis_agree(&store, &[]);
    // Three pages, each with customers at the cap: a request (of ≤ 50 customers) or a few.
    let fallback = store.count("GET /v3/customers/addresses");
    assert!(
        (3..=3 + several as u64 / 50 + 3).contains(&fallback),
        "{fallback} address requests for {several} customers at the cap"
    );
}

#[test]
fn counts_agree_with_and_without_filters() {
    let store = Store::new(SandboxConfig {
        seed: 700,
        ..config()
    });
    let group = store.csv_first_group();
    let email = store.sb.customers()[17]["email"]
        .as_str()
        .unwrap()
        .to_string();
    let company = store
        .sb
        .customers()
        .iter()
        .map(|c| c["company"].as_str().unwrap().to_string())
        .find(|c| !c.is_empty() && !c.contains(','))
        .unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec![],
        vec!["--filter".into(), format!("customer_group_id={group}")],
        vec!["--filter".into(), format!("email={email}")],
        vec!["--filter".into(), format!("company={company}")],
        vec!["--filter".into(), "min_date_created=2021-06-01".into()],
        vec![
            "--filter".into(),
            "max_date_created=2022-01-01T12:00:00Z".into(),
            "--since".into(),
            "2019-01-01".into(),
        ],
    ];
    for case in cases {
        let args: Vec<&str> = case.iter().map(String::as_str).collect();
        let mut v2 = vec!["count", "--api", "v2"];
        v2.extend(&args);
        let mut v3 = vec!["count", "--api", "v3"];
        v3.extend(&args);
        store.sb.reset_counters();
        let (a, b) = (store.run(&v2), store.run(&v3));
        a.expect(0);
        b.expect(0);
        assert_eq!(a.stdout, b.stdout, "{case:?}");
        assert_eq!(store.count("GET /v3/customers"), 1, "{case:?}");
        let n: u64 = a.stdout.trim().parse().unwrap();
        if !case.is_empty() {
            assert!(n < 700, "{case:?}: the filter selects: {n}");
        }
        assert!(n > 0, "{case:?}");
    }
    // A filter V3 cannot express: a usage error naming it, before any request.
    store.sb.reset_counters();
    for filter in ["first_name=Ann", "min_id=5", "store_credit=1.5"] {
        let run = store.run(&["count", "--api", "v3", "--filter", filter]);
        run.expect(2);
        let name = filter.split('=').next().unwrap();
        assert!(run.stderr.contains(name), "{}", run.stderr);
        let run = store.run(&["export", "--api", "v3", "--filter", filter, "-o", "x.csv"]);
        run.expect(2);
        assert!(run.stderr.contains(name), "{}", run.stderr);
    }
    assert_eq!(store.sb.counters().total, 0);
    assert!(!store.path("x.csv").exists());
}

#[test]
fn a_v3_export_through_faults_equals_the_clean_one() {
    let store = Store::new(SandboxConfig {
        seed: 1500,
        rng_seed: 11,
        ..config()
    });
    store
        .run(&[
            "export",
            "--api",
            "v3",
            "-o",
            "clean.csv",
            "--addresses",
            "cleana.csv",
        ])
        .expect(0);
    store.sb.set_faults(0.15, 0.1, 0.0);
    let run = store.run(&[
        "export",
        "--api",
        "v3",
        "--max-retries",
        "12",
        "-o",
        "faulty.csv",
        "--addresses",
        "faultya.csv",
    ]);
    run.expect(0);
    let c = store.sb.counters();
    assert!(c.injected_5xx + c.dropped > 0, "faults were injected");
    assert_eq!(bytes(&store, "clean.csv"), bytes(&store, "faulty.csv"));
    assert_eq!(bytes(&store, "cleana.csv"), bytes(&store, "faultya.csv"));
}

/// Customers created and deleted while the export runs: ascending ids, each once, every
/// customer that existed throughout in the file.
#[test]
fn a_v3_export_is_consistent_while_customers_change() {
    let store = Store::new(SandboxConfig {
        seed: 3000,
        latency_ms: 15,
        ..config()
    });
    let child = store
        .command(&["export", "--api", "v3", "-o", "c.csv"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut created = Vec::new();
    let mut deleted = Vec::new();
    for i in 0..40u64 {
        std::thread::sleep(std::time::Duration::from_millis(8));
        created.push(store.sb.insert_customer(json!({
            "email": format!("new{i}@example.com"), "first_name": "N", "last_name": "C"
        })));
        let doomed = 1 + i * 71;
        store.sb.delete_customer(doomed);
        deleted.push(doomed);
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<u64> = store
        .csv("c.csv")
        .iter()
        .map(|r| r["id"].parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending, each once");
    for id in (1..=3000u64).filter(|id| !deleted.contains(id)) {
        assert!(ids.binary_search(&id).is_ok(), "customer {id} is missing");
    }
}

#[test]
fn import_takes_api_v3_from_the_environment_and_an_unknown_version_is_refused() {
    let store = Store::new(SandboxConfig {
        seed: 5,
        ..config()
    });
    store.write("in.csv", "email,first_name,last_name\na@example.com,A,B\n");
    // An unknown version is a usage error, before any request.
    store.run(&["count", "--api", "v4"]).expect(2);
    store
        .run_with_env(&["count"], &[("BIGCOMMERCE_API_VERSION", "v9")])
        .expect(2);
    store
        .run_with_env(&["import", "in.csv"], &[("BIGCOMMERCE_API_VERSION", "v4")])
        .expect(2);
    assert_eq!(store.sb.counters().total, 0);
    assert!(!store.path("in.results.csv").exists(), "no results file");
    // `import` through V3 when the environment says so: its create is a V3 batch.
    store
        .run_with_env(&["import", "in.csv"], &[("BIGCOMMERCE_API_VERSION", "v3")])
        .expect(0);
    assert_eq!(store.count("POST /v3/customers"), 1);
    assert_eq!(store.count("POST /customers"), 0);
    assert_eq!(store.sb.customers().len(), 6);
}

#[test]
fn the_environment_chooses_the_api_and_the_flag_wins() {
    let store = Store::new(SandboxConfig {
        seed: 30,
        ..config()
    });
    let run = store.run_with_env(&["count"], &[("BIGCOMMERCE_API_VERSION", "v3")]);
    run.expect(0);
    assert_eq!(run.stdout.trim(), "30");
    assert_eq!(store.count("GET /v3/customers"), 1);
    assert_eq!(store.count("GET /customers/count"), 0);
    let run = store.run_with_env(
        &["count", "--api", "v2"],
        &[("BIGCOMMERCE_API_VERSION", "v3")],
    );
    run.expect(0);
    assert_eq!(store.count("GET /customers/count"), 1);
    store.sb.reset_counters();
    store
        .run_with_env(
            &["export", "-o", "e.csv"],
            &[("BIGCOMMERCE_API_VERSION", "v3")],
        )
        .expect(0);
    assert_eq!(store.count("GET /v3/customers"), 1);
    assert_eq!(store.count("GET /customers"), 0);
    assert_eq!(store.csv("e.csv").len(), 30);
}

// ---- a hostile V3 store ----

#[derive(Clone, Copy, Debug, PartialEq)]
enum Defect {
    /// The second page repeats the first page's last customer.
    DuplicateAcrossPages,
    /// A customer twice on one page.
    DuplicateOnPage,
    /// `after` is ignored: every request gets the first page.
    IgnoresCursor,
    /// A full page without a cursor to the next.
    NoCursor,
    /// A record without an id.
    RecordWithoutId,
    /// The total says 1,000 but only 600 come.
    CountsMore,
}

struct Hostile {
    defect: Defect,
    /// Cursors as SPEC3's examples spell them (base64 of `{"id":N}`), which the export reads
    /// as id ranges, concurrently; otherwise opaque ones it must follow one by one.
    keyset_cursors: bool,
    requests: AtomicU64,
}

/// Base64 (standard alphabet, no padding) of `{"id":N}` and back: SPEC3's cursors, which the
/// export reads as id ranges, concurrently.
pub(crate) fn keyset_cursor(id: u64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{{\"id\":{id}}}"))
}

pub(crate) fn cursor_id(cursor: &str) -> Option<u64> {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(cursor)
        .ok()?;
    let v: Value = serde_json::from_slice(&text).ok()?;
    v["id"].as_u64()
}

/// A customer as V3 lists it, with everything the export reads.
pub(crate) fn v3_customer(id: u64) -> Value {
    json!({
        "id": id, "email": format!("c{id}@example.com"), "first_name": "F", "last_name": "L",
        "company": "", "phone": "", "notes": "", "tax_exempt_category": "",
        "registration_ip_address": "", "customer_group_id": 0,
        "date_created": "2016-01-05T10:00:00Z", "date_modified": "2016-01-05T10:00:00Z",
        "store_credit_amounts": [{"amount": 0}], "authentication": {"force_password_reset": false},
        "accepts_product_review_abandoned_cart_emails": false, "form_fields": [],
    })
}

fn hostile_page(h: &Hostile, q: &HashMap<String, String>) -> Value {
    h.requests.fetch_add(1, Ordering::Relaxed);
    let held = if h.defect == Defect::CountsMore {
        600
    } else {
        1000
    };
    let limit: u64 = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(50);
    let after = q.get("after").and_then(|a| match h.keyset_cursors {
        true => cursor_id(a),
        false => a.strip_prefix("id").and_then(|a| a.parse::<u64>().ok()),
    });
    let after = if h.defect == Defect::IgnoresCursor {
        None
    } else {
        after
    };
    let start = after.unwrap_or(0) + 1;
    let mut ids: Vec<u64> = (start..=held).take(limit as usize).collect();
    match h.defect {
        Defect::DuplicateAcrossPages if after.is_some() => ids[0] -= 1,
        Defect::DuplicateOnPage if after.is_some() => ids[1] = ids[0],
        _ => {}
    }
    let mut data: Vec<Value> = ids.iter().map(|id| v3_customer(*id)).collect();
    if h.defect == Defect::RecordWithoutId && after.is_some() {
        data[3].as_object_mut().unwrap().remove("id");
    }
    let end = ids.last().map(|l| match h.keyset_cursors {
        true => keyset_cursor(*l),
        false => format!("id{l}"),
    });
    let mut meta = json!({"pagination": {"total": 1000, "count": data.len()}});
    if h.defect != Defect::NoCursor {
        meta["cursor_pagination"] = json!({"end_cursor": end});
    }
    if limit == 1 {
        data.truncate(1);
    }
    json!({"data": data, "meta": meta})
}

fn hostile_fails(defect: Defect, keyset_cursors: bool, fragment: &str) {
    let state = Arc::new(Hostile {
        defect,
        keyset_cursors,
        requests: AtomicU64::new(0),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route(
            "/stores/h/v3/customers",
            get(
                |State(h): State<Arc<Hostile>>, Query(q): Query<HashMap<String, String>>| async move {
                    axum::Json(hostile_page(&h, &q))
                },
            ),
        )
        .route(
            "/stores/h/v2/customer_groups",
            get(|| async { StatusCode::NO_CONTENT }),
        )
        .with_state(state.clone());
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        axum::serve(listener, app).await.unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("backup.csv"), "previous backup\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bc-customers"))
        .args([
            "export",
            "--api",
            "v3",
            "-o",
            "backup.csv",
            "--addresses",
            "a.csv",
        ])
        .current_dir(dir.path())
        .env("BIGCOMMERCE_API_URL", &url)
        .env("BIGCOMMERCE_STORE_HASH", "h")
        .env("BIGCOMMERCE_ACCESS_TOKEN", "hostile-token")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{defect:?}: {stderr}");
    assert!(
        stderr.contains("export failed") && stderr.contains(fragment),
        "{defect:?}: expected {fragment:?} in {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("backup.csv")).unwrap(),
        "previous backup\n"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["backup.csv"],
        "{defect:?}: no output, temporary or spill file"
    );
    assert!(state.requests.load(Ordering::Relaxed) < 50, "{defect:?}");
}

#[test]
fn a_hostile_v3_store_fails_the_export() {
    // Opaque cursors: followed one by one. Keyset cursors: id ranges read concurrently.
    for keyset in [false, true] {
        hostile_fails(Defect::DuplicateAcrossPages, keyset, "twice");
        hostile_fails(Defect::DuplicateOnPage, keyset, "twice");
        hostile_fails(Defect::IgnoresCursor, keyset, "ignores `after`");
        hostile_fails(Defect::NoCursor, keyset, "without a cursor");
        hostile_fails(Defect::RecordWithoutId, keyset, "without an id");
        hostile_fails(Defect::CountsMore, keyset, "incomplete");
    }
}

/// Ids with holes (a sparse stretch, then half missing at random): the id ranges adapt to the
/// density, follow on where a range holds more than a page, and the file is still V2's.
#[test]
fn ids_with_holes_export_the_same_at_any_concurrency() {
    let store = Store::new(SandboxConfig {
        seed: 4000,
        ..config()
    });
    let mut rng = fastrand::Rng::with_seed(5);
    for id in 1..=4000u64 {
        let sparse = (600..2600).contains(&id) && id % 10 != 0;
        if sparse || (id > 2600 && rng.bool()) {
            store.sb.delete_customer(id);
        }
    }
    store
        .run(&["export", "--api", "v2", "-o", "v2.csv"])
        .expect(0);
    let want = bytes(&store, "v2.csv");
    for concurrency in ["1", "3", "8"] {
        store.sb.reset_counters();
        store
            .run(&[
                "export",
                "--api",
                "v3",
                "--concurrency",
                concurrency,
                "-o",
                "v3.csv",
            ])
            .expect(0);
        assert!(want == bytes(&store, "v3.csv"), "concurrency {concurrency}");
        let rows = store.csv("v3.csv").len() as u64;
        // A page per 250 customers, plus ranges sized for a density that has just changed
        // (up to --concurrency in flight) and those in flight past the end.
        let pages = store.count("GET /v3/customers");
        let c: u64 = concurrency.parse().unwrap();
        assert!(
            pages <= rows / 250 + 2 * c + 4,
            "concurrency {concurrency}: {pages} requests for {rows} customers"
        );
    }
}

/// `--concurrency` bounds the requests in flight, whatever the API: the V3 walk keeps twice as
/// many id ranges under way as it may send requests (so that one slow answer does not idle the
/// others), and only `--concurrency` of them may be waiting for the store at once; V2 reads
/// the addresses one request per customer. (V2 on a small store: that is 1 request a row.)
#[test]
fn an_export_never_has_more_requests_in_flight_than_its_concurrency() {
    for (api, seed) in [("v3", 4000), ("v2", 300)] {
        let store = Store::new(SandboxConfig {
            seed,
            latency_ms: 20,
            ..config()
        });
        for concurrency in [2u64, 3, 5] {
            store.sb.reset_counters();
            store
                .run(&[
                    "export",
                    "--api",
                    api,
                    "--concurrency",
                    &concurrency.to_string(),
                    "-o",
                    "out.csv",
                    "--addresses",
                    "addresses.csv",
                ])
                .expect(0);
            assert_eq!(store.csv("out.csv").len(), seed);
            let most = store.sb.counters().max_in_flight;
            assert!(
                most <= concurrency,
                "--api {api} --concurrency {concurrency}: {most} requests in flight at once"
            );
        }
    }
}
