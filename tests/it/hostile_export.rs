//! Issue 11: an export is complete or it fails, against stores that are broken or hostile.
//!
//! Each store here is a small HTTP server on 127.0.0.1:0 serving `/stores/h/v2/customers`,
//! `/customers/count` and `/customer_groups` with one defect (a duplicate id on the first page,
//! a record without an id, `min_id`/`max_id` or `page` ignored, ids outside the range asked
//! for, the same page forever, a count far from what it holds). Against each, `export` must
//! exit 1 with a message saying what was wrong, write no output file and leave a previous file
//! at the same path as it was. Where the data is consistent but awkward (ids up to 2^64 - 1) it
//! must be complete instead. Also: `--keep N` never deletes the file just written, and a store
//! whose `min_id`/`max_id` exclude the id they name exports completely.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bc_customers::sandbox::SandboxConfig;
use serde_json::{json, Value};

use crate::common::*;

/// What is wrong with the store.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Defect {
    /// Nothing: a consistent store (for awkward ids or a wrong count).
    None,
    /// The first page repeats its first customer (and so holds one customer less).
    DuplicateOnFirstPage,
    /// Customer 300 is sent without its `id`.
    RecordWithoutId,
    /// `min_id` and `max_id` are ignored (`page` and `limit` are honoured).
    IgnoresIdBounds,
    /// `page` is ignored: every request gets the first page of what matches.
    IgnoresPage,
    /// A page asked for with `max_id` ends with a customer far above it.
    OutOfRangeIds,
    /// Every request gets the same first page, whatever it asks.
    SamePageForever,
    /// A page number past the end gets the last page (as some APIs clamp it).
    ClampsPage,
    /// Customers without end: any page asked for by `min_id` is full of ids after it.
    Endless,
}

struct Hostile {
    /// The store's customers, ascending.
    ids: Vec<u64>,
    /// What `/customers/count` says, whatever the filters.
    count: u64,
    defect: Defect,
    requests: AtomicU64,
}

fn customer(id: u64) -> Value {
    json!({
        "id": id,
        "email": format!("c{id}@example.com"),
        "first_name": "First",
        "last_name": "Last",
        "company": "",
        "phone": "",
        "store_credit": "0.0000",
        "customer_group_id": 0,
        "notes": "",
        "tax_exempt_category": "",
        "registration_ip_address": "",
        "accepts_marketing": false,
        "reset_pass_on_login": false,
        "date_created": "Tue, 05 Jan 2016 10:00:00 +0000",
        "date_modified": "Tue, 05 Jan 2016 10:00:00 +0000",
        "form_fields": [],
    })
}

fn list(h: &Hostile, q: &HashMap<String, String>) -> Response {
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<u64>().ok());
    let limit = num("limit").unwrap_or(50).min(250) as usize;
    let asked_page = num("page").unwrap_or(1).max(1) as usize;
    let (min, max) = (
        num("min_id").unwrap_or(0),
        num("max_id").unwrap_or(u64::MAX),
    );
    let honours_ids = !matches!(h.defect, Defect::IgnoresIdBounds | Defect::SamePageForever);
    let matching: Vec<u64> = h
        .ids
        .iter()
        .copied()
        .filter(|id| !honours_ids || (*id >= min && *id <= max))
        .collect();
    let page = match h.defect {
        Defect::IgnoresPage | Defect::SamePageForever => 1,
        Defect::ClampsPage => asked_page.min(matching.len().div_ceil(limit).max(1)),
        _ => asked_page,
    };
    if h.defect == Defect::Endless {
        let from = min.saturating_add(1).max(1);
        let rows: Vec<Value> = (from..=max)
            .skip((asked_page - 1).saturating_mul(limit))
            .take(limit)
            .map(customer)
            .collect();
        return axum::Json(rows).into_response();
    }
    let mut rows: Vec<Value> = matching
        .iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .map(|id| customer(*id))
        .collect();
    match h.defect {
        Defect::DuplicateOnFirstPage if page == 1 && min <= 1 && !rows.is_empty() => {
            rows.insert(1, rows[0].clone());
            rows.truncate(limit);
        }
        Defect::RecordWithoutId => {
            for r in &mut rows {
                if r["id"] == 300 {
                    r.as_object_mut().unwrap().remove("id");
                }
            }
        }
        Defect::OutOfRangeIds if max < u64::MAX - 1000 => {
            rows.truncate(limit - 1);
            rows.push(customer(max + 1000));
        }
        _ => {}
    }
    if rows.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        axum::Json(rows).into_response()
    }
}

/// A running hostile store; dropping it stops the server.
struct HostileStore {
    state: Arc<Hostile>,
    url: String,
    _runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl HostileStore {
    fn start(ids: Vec<u64>, count: u64, defect: Defect) -> HostileStore {
        let state = Arc::new(Hostile {
            ids,
            count,
            defect,
            requests: AtomicU64::new(0),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app =
            axum::Router::new()
                .route(
                    "/stores/h/v2/customers",
                    get(
                        |State(h): State<Arc<Hostile>>,
                         Query(q): Query<HashMap<String, String>>| async move {
                            h.requests.fetch_add(1, Ordering::Relaxed);
                            list(&h, &q)
                        },
                    ),
                )
                .route(
                    "/stores/h/v2/customers/count",
                    get(|State(h): State<Arc<Hostile>>| async move {
                        h.requests.fetch_add(1, Ordering::Relaxed);
                        axum::Json(json!({ "count": h.count }))
                    }),
                )
                .route(
                    "/stores/h/v2/customer_groups",
                    get(|State(h): State<Arc<Hostile>>| async move {
                        h.requests.fetch_add(1, Ordering::Relaxed);
                        StatusCode::NO_CONTENT
                    }),
                )
                .with_state(state.clone());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
        HostileStore {
            state,
            url,
            _runtime: runtime,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_bc-customers"))
            .args(args)
            .current_dir(self.dir.path())
            .env("BIGCOMMERCE_API_URL", &self.url)
            .env("BIGCOMMERCE_STORE_HASH", "h")
            .env("BIGCOMMERCE_ACCESS_TOKEN", "hostile-token")
            .stdin(Stdio::null())
            .output()
            .expect("binary runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Every file in the store's directory.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// Export to a path that holds a previous backup, then to a new one: both fail with exit 1
/// and `fragment` in the message, the previous backup is as it was, the new path does not
/// exist, and no temporary or spill file is left.
fn fails_with(store: &HostileStore, fragment: &str) -> Run {
    let previous = store.dir.path().join("backup.csv");
    std::fs::write(&previous, "previous backup\n").unwrap();
    let run = store.run(&["export", "-o", "backup.csv"]);
    run.expect(1);
    assert!(
        run.stderr.contains("export failed") && run.stderr.contains(fragment),
        "expected {fragment:?} in:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&previous).unwrap(),
        "previous backup\n"
    );
    let run = store.run(&["export", "-o", "new.csv"]);
    run.expect(1);
    assert!(run.stderr.contains(fragment), "{}", run.stderr);
    assert_eq!(
        store.files(),
        ["backup.csv"],
        "no output, temporary or spill file"
    );
    run
}

/// Ids 1..=n.
fn ids(n: u64) -> Vec<u64> {
    (1..=n).collect()
}

/// Today's pager deduplicated the first page and then took its 249 rows for a short page:
/// a 1,000-customer backup held 249 rows with exit 0.
#[test]
fn a_duplicate_id_on_the_first_page_fails_the_export() {
    let store = HostileStore::start(ids(1000), 1000, Defect::DuplicateOnFirstPage);
    fails_with(&store, "customer 1 twice on one page");
}

#[test]
fn a_record_without_an_id_fails_the_export() {
    let store = HostileStore::start(ids(1000), 1000, Defect::RecordWithoutId);
    fails_with(&store, "a customer record without an id");
}

#[test]
fn a_store_that_ignores_min_id_and_max_id_fails_the_export() {
    let store = HostileStore::start(ids(1000), 1000, Defect::IgnoresIdBounds);
    fails_with(&store, "it ignores min_id/max_id");
}

#[test]
fn a_store_that_ignores_page_fails_the_export() {
    let store = HostileStore::start(ids(1000), 1000, Defect::IgnoresPage);
    fails_with(&store, "it ignores the page parameter");
}

#[test]
fn ids_outside_the_range_asked_for_fail_the_export() {
    let store = HostileStore::start(ids(1000), 1000, Defect::OutOfRangeIds);
    fails_with(&store, "outside the id range asked for");
}

/// The same full page whatever is asked: ids never advance, and the export neither loops
/// nor writes the 250 customers as if they were all.
#[test]
fn the_same_page_forever_fails_the_export() {
    let store = HostileStore::start(ids(1000), 1000, Defect::SamePageForever);
    fails_with(&store, "outside the id range asked for");
    assert!(store.requests() < 40, "{} requests", store.requests());
}

/// Ids that always go on (a full page after any `min_id`): the export stops, with a message,
/// after twice the count plus 10,000 customers (and the count asked again) instead of reading
/// until ids reach 2^64.
#[test]
fn a_store_that_never_stops_sending_customers_fails_the_export() {
    let store = HostileStore::start(Vec::new(), 1000, Defect::Endless);
    fails_with(&store, "keeps sending more, while it counts 1000");
    let most = 2 * (2 * 1000 + bc_customers::api::v2::pages::MAX_CREATED_DURING) / 250 + 40;
    assert!(store.requests() < most, "{} requests", store.requests());
}

/// The store holds 300 customers and counts 10^12: the 300 are not a complete export.
#[test]
fn a_count_far_above_what_the_store_sends_fails_the_export() {
    let store = HostileStore::start(ids(300), 1_000_000_000_000, Defect::None);
    fails_with(&store, "the export would be incomplete");
}

/// Whether `/customers/count` honours filters is not documented. A store whose count ignores
/// them, and counts 3 customers more than the list holds (created in the last moments of the
/// export, say): an unfiltered backup passes (the plain count, within what a busy store
/// explains), and a filtered one passes with a warning that it could not be checked.
#[test]
fn a_count_that_ignores_filters_does_not_fail_a_complete_export() {
    let store = HostileStore::start(ids(1000), 1003, Defect::None);
    let run = store.run(&["export", "-o", "all.csv"]);
    run.expect(0);
    let rows = read_csv(&store.dir.path().join("all.csv"), "hostile-token");
    assert_eq!(rows.len(), 1000);
    let run = store.run(&[
        "export",
        "-o",
        "some.csv",
        "--filter",
        "customer_group_id=0",
    ]);
    run.expect(0);
    assert!(
        run.stderr.contains("could not be checked"),
        "{}",
        run.stderr
    );
}

/// A count of 10^12 and a store that answers any page past its end with its last page (ids
/// near 10^15): the ranges planned for the ids in between are capped (one per 250 claimed
/// customers would be four billion), the export ends, and fails on the count.
#[test]
fn a_huge_count_with_sparse_high_ids_plans_a_bounded_number_of_ranges() {
    let high = 1_000_000_000_000_000u64;
    let ids: Vec<u64> = (1..=250).chain(high..high + 250).collect();
    let store = HostileStore::start(ids, 1_000_000_000_000, Defect::ClampsPage);
    let previous = store.dir.path().join("backup.csv");
    std::fs::write(&previous, "previous backup\n").unwrap();
    let run = store.run(&["export", "--concurrency", "16", "-o", "backup.csv"]);
    run.expect(1);
    assert!(
        run.stderr.contains("the export would be incomplete"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&previous).unwrap(),
        "previous backup\n"
    );
    assert_eq!(store.files(), ["backup.csv"]);
    let most = bc_customers::api::v2::pages::MAX_RANGES + 40;
    assert!(store.requests() <= most, "{} requests", store.requests());
}

/// Ids up to u64::MAX: `max_seen + 1` must not wrap to 0 (a loop from the start, or a
/// panic), and the last id must not be read twice. The store is consistent, so the export
/// is complete: each customer once, ascending.
#[test]
fn ids_near_2_pow_64_export_each_customer_once() {
    let ids: Vec<u64> = (1..=250).chain(u64::MAX - 299..=u64::MAX).collect();
    for concurrency in ["1", "4"] {
        let store = HostileStore::start(ids.clone(), ids.len() as u64, Defect::None);
        let run = store.run(&["export", "--concurrency", concurrency, "-o", "all.csv"]);
        run.expect(0);
        let got: Vec<u64> = read_csv(&store.dir.path().join("all.csv"), "hostile-token")
            .iter()
            .map(|r| r["id"].parse().unwrap())
            .collect();
        assert_eq!(got, ids, "concurrency {concurrency}");
        assert!(store.requests() < 20, "{} requests", store.requests());
    }
}

/// `--keep 1` with a backup named with a later date (a clock set wrong, a file copied in by
/// hand) kept that one and deleted the backup just written.
#[test]
fn keep_never_deletes_the_file_just_written() {
    let store = Store::new(SandboxConfig {
        seed: 20,
        ..config()
    });
    for (name, text) in [
        ("b-2099-01-01.csv", "from the future\n"),
        ("b-2020-01-01.csv", "old\n"),
        ("b-2020-01-02.csv", "old\n"),
    ] {
        store.write(name, text);
    }
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let written = format!("b-{today}.csv");
    // Two kept: the file just written and the newest other.
    let run = store.run(&["export", "-o", "b-{date}.csv", "--keep", "2"]);
    run.expect(0);
    assert_eq!(store.csv(&written).len(), 20, "{}", run.stderr);
    assert_eq!(store.read("b-2099-01-01.csv"), "from the future\n");
    assert!(!store.path("b-2020-01-01.csv").exists());
    assert!(!store.path("b-2020-01-02.csv").exists());
    assert!(
        run.stderr
            .contains("b-2099-01-01.csv is named with a later date"),
        "the future-dated name is pointed out: {}",
        run.stderr
    );
    // One kept: the file just written, however late the other's date.
    let run = store.run(&["export", "-o", "b-{date}.csv", "--keep", "1"]);
    run.expect(0);
    assert_eq!(store.csv(&written).len(), 20, "{}", run.stderr);
    assert!(!store.path("b-2099-01-01.csv").exists(), "{}", run.stderr);
}

/// Whether `min_id`/`max_id` include the id they name is not documented: with a store where
/// they exclude it, every customer is exported once, with and without the user's id filters,
/// also when the first customers were deleted, and the rows equal the count (no extra request
/// for the completeness check).
#[test]
fn exclusive_id_bounds_lose_no_customer() {
    let store = Store::new(SandboxConfig {
        seed: 1200,
        exclusive_id_bounds: true,
        ..config()
    });
    let run = store.run(&["export", "--concurrency", "3", "-o", "all.csv"]);
    run.expect(0);
    let got: Vec<u64> = store
        .csv("all.csv")
        .iter()
        .map(|r| r["id"].parse().unwrap())
        .collect();
    assert_eq!(got, ids(1200));
    let run = store.run(&[
        "export",
        "-o",
        "some.csv",
        "--filter",
        "min_id=251",
        "--filter",
        "max_id=1000",
    ]);
    run.expect(0);
    let got: Vec<u64> = store
        .csv("some.csv")
        .iter()
        .map(|r| r["id"].parse().unwrap())
        .collect();
    assert_eq!(got, (251..=1000).collect::<Vec<_>>());
    for id in 1..=3 {
        store.sb.delete_customer(id);
    }
    store.run(&["export", "-o", "rest.csv"]).expect(0);
    let got: Vec<u64> = store
        .csv("rest.csv")
        .iter()
        .map(|r| r["id"].parse().unwrap())
        .collect();
    assert_eq!(got, (4..=1200).collect::<Vec<_>>());
}

/// The completeness check must never fail a legitimate export of a store being changed: a
/// filtered export (`customer_group_id=2`) while customers are moved into and out of the group,
/// others deleted and new ones created. Every customer in the group and untouched throughout
/// is in the file, and the export exits 0.
#[test]
fn a_filtered_export_of_a_store_being_changed_passes_the_checks() {
    let store = Store::new(SandboxConfig {
        seed: 4000,
        latency_ms: 40,
        ..config()
    });
    let before = store.sb.customers();
    let group = |c: &Value| c["customer_group_id"].as_u64().unwrap();
    // Touched during the export: every 5th customer (moved into group 2 or out of it, as a
    // delete and re-insert under the same id, which is how the store sees an update), every
    // 11th deleted.
    let touched = |id: u64| id.is_multiple_of(5) || id.is_multiple_of(11);
    let done = std::sync::atomic::AtomicBool::new(false);
    let run = std::thread::scope(|s| {
        s.spawn(|| {
            while store.sb.counters().total < 3 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let mut n = 0;
            for c in &before {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                let id = c["id"].as_u64().unwrap();
                if id.is_multiple_of(11) {
                    store.sb.delete_customer(id);
                } else if id.is_multiple_of(5) {
                    store.sb.delete_customer(id);
                    let moved = if group(c) == 2 { 1 } else { 2 };
                    store.sb.insert_customer(json!({
                        "id": id,
                        "email": c["email"],
                        "first_name": "Moved",
                        "last_name": "Customer",
                        "customer_group_id": moved,
                    }));
                } else {
                    continue;
                }
                if n % 4 == 0 {
                    store.sb.insert_customer(json!({
                        "email": format!("new{n}@example.com"),
                        "first_name": "New",
                        "last_name": "Customer",
                        "customer_group_id": 2,
                    }));
                }
                n += 1;
                std::thread::sleep(std::time::Duration::from_micros(300));
            }
        });
        let run = store.run(&[
            "export",
            "--concurrency",
            "2",
            "--filter",
            "customer_group_id=2",
            "-o",
            "group2.csv",
        ]);
        done.store(true, Ordering::SeqCst);
        run
    });
    run.expect(0);
    let exported: std::collections::BTreeSet<u64> = store
        .csv("group2.csv")
        .iter()
        .map(|r| r["id"].parse().unwrap())
        .collect();
    let mut untouched = 0;
    for c in &before {
        let id = c["id"].as_u64().unwrap();
        if group(c) == 2 && !touched(id) {
            assert!(exported.contains(&id), "customer {id} is missing");
            untouched += 1;
        }
    }
    assert!(untouched > 500, "{untouched}");
    // The store changed under the export, so the check at the end counted again, and passed.
    assert_eq!(store.count("GET /customers/count"), 2, "{}", run.stderr);
    assert!(
        store.sb.customers().len() < before.len(),
        "customers were deleted meanwhile"
    );
}
