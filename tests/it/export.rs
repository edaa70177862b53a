//! Issue 4: `export` — consistency under change, the printed plan, filters, group names,
//! addresses, backups (atomic, dated names, retention, gzip, failures) and the lossless
//! export → import round trip of formula-like and awkward text.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use bc_customers::sandbox::SandboxConfig;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::common::*;

fn ids_of(rows: &[HashMap<String, String>]) -> Vec<u64> {
    rows.iter().map(|r| r["id"].parse().unwrap()).collect()
}

fn assert_ascending_unique(ids: &[u64]) {
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids must be strictly ascending (each once)"
    );
}

/// Files in the store's directory whose name starts with `.` (temporary and spill files).
fn hidden_files(store: &Store) -> Vec<String> {
    std::fs::read_dir(store.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn export_is_consistent_while_customers_are_created_and_deleted() {
    consistent_while_changing(false);
}

/// The same with a store whose `min_id`/`max_id` leave out the id they name (BigCommerce does
/// not document which it is).
#[test]
fn export_is_consistent_while_changing_with_exclusive_id_bounds() {
    consistent_while_changing(true);
}

fn consistent_while_changing(exclusive_id_bounds: bool) {
    let store = Store::new(SandboxConfig {
        seed: 5000,
        latency_ms: 20,
        exclusive_id_bounds,
        ..config()
    });
    let seeded: BTreeSet<u64> = (1..=5000).collect();
    // Deleted during the export: every 7th seeded customer. Never deleted: the rest.
    let doomed: Vec<u64> = (1..=5000).filter(|i| i % 7 == 0).collect();
    let done = AtomicBool::new(false);
    let mut created = Vec::new();
    let run = std::thread::scope(|s| {
        let mutator = s.spawn(|| {
            let mut created = Vec::new();
            let mut doomed = doomed.iter();
            let mut n = 0;
            // Start once the export is under way (the count request has been answered).
            while store.sb.counters().total < 3 && !done.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            while !done.load(Ordering::SeqCst) {
                for _ in 0..3 {
                    if let Some(id) = doomed.next() {
                        assert!(store.sb.delete_customer(*id));
                    }
                    created.push(store.sb.insert_customer(json!({
                        "email": format!("during{n}@example.com"),
                        "first_name": "New",
                        "last_name": "Customer",
                    })));
                    n += 1;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            // Whatever was not deleted yet is deleted now, so the "existed throughout" set
            // below is exact.
            for id in doomed {
                store.sb.delete_customer(*id);
            }
            created
        });
        let run = store.run(&["export", "--concurrency", "2", "-o", "live.csv"]);
        done.store(true, Ordering::SeqCst);
        created = mutator.join().unwrap();
        run
    });
    run.expect(0);
    assert!(created.len() >= 15, "the store changed during the export");
    let ids = ids_of(&store.csv("live.csv"));
    assert_ascending_unique(&ids);
    let exported: BTreeSet<u64> = ids.iter().copied().collect();
    let doomed: BTreeSet<u64> = doomed.into_iter().collect();
    for id in seeded.difference(&doomed) {
        assert!(
            exported.contains(id),
            "customer {id} existed throughout and is missing"
        );
    }
    let known: BTreeSet<u64> = seeded.iter().chain(&created).copied().collect();
    assert!(
        exported.is_subset(&known),
        "only customers that existed at some point"
    );
}

/// The "exporting N customers: about R requests" line: (N, R).
fn printed_plan(run: &Run) -> (u64, u64) {
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("exporting "))
        .unwrap_or_else(|| panic!("no plan line: {}", run.stderr));
    let number = |after: &str| -> u64 {
        line.split(after)
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number after {after:?} in {line:?}"))
    };
    (number("exporting "), number("about "))
}

#[test]
fn printed_plan_matches_the_requests_sent() {
    for seed in [0, 1, 249, 250, 251, 1000, 1234] {
        let store = Store::new(SandboxConfig { seed, ..config() });
        let run = store.run(&["export", "--concurrency", "3", "-o", "all.csv"]);
        run.expect(0);
        let (customers, expected) = printed_plan(&run);
        assert_eq!(customers, seed as u64);
        assert_eq!(
            expected,
            store.sb.counters().total,
            "seed {seed}: the plan says {expected} requests"
        );
        let ids = ids_of(&store.csv("all.csv"));
        assert_eq!(ids, (1..=seed as u64).collect::<Vec<_>>());
    }
}

#[test]
fn filters_select_the_same_customers_as_the_store() {
    let store = Store::new(SandboxConfig {
        seed: 1200,
        ..config()
    });
    let customers = store.sb.customers();
    let date = |c: &Value, k: &str| {
        chrono::DateTime::parse_from_rfc2822(c[k].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    // A creation date in the middle of the seeded ones.
    let mut created: Vec<_> = customers.iter().map(|c| date(c, "date_created")).collect();
    created.sort();
    let middle = created[created.len() / 2];
    let since = middle.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let email = customers[700]["email"].as_str().unwrap().to_uppercase();

    let cases: Vec<(Vec<String>, Vec<u64>)> = vec![
        (
            vec!["--filter".into(), "customer_group_id=2".into()],
            store.ids_where(|c| c["customer_group_id"] == 2),
        ),
        (
            vec![
                "--filter".into(),
                "min_id=100".into(),
                "--filter".into(),
                "max_id=899".into(),
            ],
            (100..=899).collect(),
        ),
        (
            vec![
                "--filter".into(),
                format!("min_date_created={since}"),
                "--filter".into(),
                "customer_group_id=1".into(),
            ],
            store.ids_where(|c| date(c, "date_created") >= middle && c["customer_group_id"] == 1),
        ),
        (
            vec![
                "--filter".into(),
                format!("max_date_created={}", middle.format("%Y-%m-%d")),
            ],
            store.ids_where(|c| {
                date(c, "date_created")
                    <= middle
                        .date_naive()
                        .and_time(chrono::NaiveTime::MIN)
                        .and_utc()
            }),
        ),
        (
            vec!["--since".into(), since.clone()],
            store.ids_where(|c| date(c, "date_modified") >= middle),
        ),
        (
            vec!["--filter".into(), format!("email={email}")],
            vec![customers[700]["id"].as_u64().unwrap()],
        ),
    ];
    for (i, (flags, want)) in cases.iter().enumerate() {
        assert!(!want.is_empty(), "case {i} selects someone");
        let out = format!("f{i}.csv");
        let mut args: Vec<&str> = vec!["export", "-o", &out];
        args.extend(flags.iter().map(String::as_str));
        store.run(&args).expect(0);
        assert_eq!(&ids_of(&store.csv(&out)), want, "export {flags:?}");
        let mut count: Vec<&str> = vec!["count"];
        count.extend(flags.iter().map(String::as_str));
        let run = store.run(&count);
        run.expect(0);
        assert_eq!(run.stdout.trim(), want.len().to_string(), "count {flags:?}");
    }
}

#[test]
fn bad_filters_are_usage_errors_before_any_request() {
    let store = Store::new(SandboxConfig {
        seed: 10,
        ..config()
    });
    for (args, needle) in [
        (vec!["export", "--filter", "colour=red"], "unknown filter"),
        (vec!["export", "--filter", "email"], "KEY=VALUE"),
        (
            vec!["export", "--filter", "min_date_created=yesterday"],
            "not a date",
        ),
        (vec!["export", "--since", "2024-13-45"], "not a date"),
        (vec!["export", "--filter", "min_id=-3"], "whole number"),
        (vec!["export", "--filter", "store_credit=lots"], "decimal"),
        (vec!["count", "--filter", "page=2"], "unknown filter"),
        (vec!["export", "--filter", "email="], "empty value"),
        (
            vec![
                "export",
                "--since",
                "2024-01-01",
                "--filter",
                "min_date_modified=2024-02-01",
            ],
            "twice",
        ),
        (vec!["export", "--addresses", "-"], "file name"),
        (
            vec!["export", "-o", "x.csv", "--addresses", "x.csv"],
            "different file",
        ),
        (
            vec!["export", "-o", "b-{date}.csv", "--keep", "0"],
            "at least 1",
        ),
        (vec!["count", "--since", "soon"], "not a date"),
    ] {
        let run = store.run(&args);
        run.expect(2);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
    assert_eq!(store.sb.counters().total, 0, "no request was sent");
}

#[test]
fn group_names_come_from_one_listing() {
    let store = Store::new(SandboxConfig {
        seed: 600,
        ..config()
    });
    store.run(&["export", "-o", "g.csv"]).expect(0);
    assert_eq!(store.count("GET /customer_groups"), 1);
    let names: HashMap<u64, String> = store
        .sb
        .groups()
        .iter()
        .map(|g| {
            (
                g["id"].as_u64().unwrap(),
                g["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    let rows = store.csv("g.csv");
    assert!(rows.iter().any(|r| r["customer_group_id"] != "0"));
    for r in &rows {
        let id: u64 = r["customer_group_id"].parse().unwrap();
        let want = names.get(&id).cloned().unwrap_or_default();
        assert_eq!(r["customer_group"], want, "customer {}", r["id"]);
    }
    let header = store.read("g.csv");
    assert!(header.starts_with("id,email,first_name,last_name,company,phone,store_credit,customer_group_id,customer_group,"));
}

#[test]
fn a_store_without_groups_gets_an_empty_column_and_one_warning() {
    let store = Store::new(SandboxConfig {
        seed: 300,
        groups_enabled: false,
        ..config()
    });
    let run = store.run(&["export", "-o", "ng.csv"]);
    run.expect(0);
    assert_eq!(
        run.stderr.matches("warning").count(),
        1,
        "exactly one warning: {}",
        run.stderr
    );
    assert!(run.stderr.contains("no customer groups"), "{}", run.stderr);
    let rows = store.csv("ng.csv");
    assert_eq!(rows.len(), 300);
    assert!(rows.iter().all(|r| r["customer_group"].is_empty()));
}

#[test]
fn addresses_file_has_one_row_per_address() {
    let store = Store::new(SandboxConfig {
        seed: 120,
        ..config()
    });
    let run = store.run(&["export", "-o", "c.csv", "--addresses", "a.csv"]);
    run.expect(0);
    assert!(
        run.stderr.contains("+ 120 for addresses"),
        "the cost is printed up front: {}",
        run.stderr
    );
    let text = store.read("a.csv");
    assert!(text.starts_with("customer_id,customer_email,address_id,first_name,last_name,company,street_1,street_2,city,state,zip,country,country_iso2,phone,address_type\n"), "{text}");
    let rows = store.csv("a.csv");
    let mut want = Vec::new();
    for c in store.sb.customers() {
        let id = c["id"].as_u64().unwrap();
        for a in store.sb.addresses(id) {
            want.push((
                id,
                c["email"].as_str().unwrap().to_string(),
                a["id"].as_u64().unwrap(),
                a["city"].as_str().unwrap().to_string(),
                a["zip"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert!(!want.is_empty(), "seeded customers have addresses");
    let got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r["customer_id"].parse::<u64>().unwrap(),
                r["customer_email"].clone(),
                r["address_id"].parse::<u64>().unwrap(),
                bc_customers::csvio::unneutralise(&r["city"]).to_string(),
                bc_customers::csvio::unneutralise(&r["zip"]).to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(store.count("GET /customers/{id}/addresses"), 120);
}

#[test]
fn dated_names_retention_and_gzip() {
    let store = Store::new(SandboxConfig {
        seed: 400,
        ..config()
    });
    for old in [
        "backup-2020-01-01.csv.gz",
        "backup-2020-01-02.csv.gz",
        "backup-2020-01-03.csv.gz",
    ] {
        store.write(old, "old");
    }
    // Not matching the pattern: never touched by retention.
    store.write("backup-latest.csv.gz", "keep me");
    store.write("backup-2020-01-01.csv", "other suffix");
    for old in ["addr-2020-01-01.csv", "addr-2020-01-02.csv"] {
        store.write(old, "old");
    }
    let run = store.run(&[
        "export",
        "-o",
        "backup-{date}.csv.gz",
        "--keep",
        "2",
        "--addresses",
        "addr-{date}.csv",
    ]);
    run.expect(0);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let mut names: Vec<String> = std::fs::read_dir(store.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want = vec![
        "addr-2020-01-02.csv".to_string(),
        format!("addr-{today}.csv"),
        "backup-2020-01-01.csv".to_string(),
        "backup-2020-01-03.csv.gz".to_string(),
        format!("backup-{today}.csv.gz"),
        "backup-latest.csv.gz".to_string(),
    ];
    want.sort();
    assert_eq!(names, want, "the newest 2 backups are kept: {}", run.stderr);

    let mut csv = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(store.path(&format!("backup-{today}.csv.gz"))).unwrap(),
    )
    .read_to_string(&mut csv)
    .unwrap();
    store.run(&["export", "-o", "plain.csv"]).expect(0);
    assert_eq!(csv, store.read("plain.csv"), "gzip holds the same CSV");

    // {datetime} expands too, without colons.
    store.run(&["export", "-o", "at-{datetime}.csv"]).expect(0);
    let stamped: Vec<String> = std::fs::read_dir(store.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("at-"))
        .collect();
    assert_eq!(stamped.len(), 1);
    assert!(
        stamped[0].starts_with(&format!("at-{today}T"))
            && stamped[0].ends_with("Z.csv")
            && !stamped[0].contains(':'),
        "{stamped:?}"
    );

    // --keep without a pattern is a usage error.
    store
        .run(&["export", "-o", "fixed.csv", "--keep", "3"])
        .expect(2);
}

#[test]
fn a_failing_store_leaves_the_previous_backup_untouched() {
    let store = Store::new(SandboxConfig {
        seed: 3000,
        latency_ms: 2,
        ..config()
    });
    store.write("backup.csv", "previous backup\n");
    store.write("addr.csv", "previous addresses\n");

    // The store starts failing in the middle of the export.
    let run = std::thread::scope(|s| {
        s.spawn(|| {
            while store.sb.counters().total < 6 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            store.sb.set_faults(1.0, 0.0, 0.0);
        });
        store.run(&[
            "export",
            "--max-retries",
            "0",
            "-o",
            "backup.csv",
            "--addresses",
            "addr.csv",
        ])
    });
    run.expect(1);
    assert!(run.stderr.contains("export failed"), "{}", run.stderr);
    assert_eq!(store.read("backup.csv"), "previous backup\n");
    assert_eq!(store.read("addr.csv"), "previous addresses\n");
    assert_eq!(
        hidden_files(&store),
        Vec::<String>::new(),
        "no temporary file left"
    );

    // Refused token.
    store.sb.set_faults(0.0, 0.0, 0.0);
    store.write("wrong.token", "not-the-token");
    let run = store.run(&["--token-file", "wrong.token", "export", "-o", "backup.csv"]);
    run.expect(1);
    assert!(run.stderr.contains("401"), "{}", run.stderr);
    assert_eq!(store.read("backup.csv"), "previous backup\n");
    assert_eq!(hidden_files(&store), Vec::<String>::new());

    // An unwritable destination fails before any page is read.
    let run = store.run(&["export", "-o", "no-such-dir/backup.csv"]);
    run.expect(1);
    assert!(run.stderr.contains("no-such-dir"), "{}", run.stderr);
}

#[test]
fn formula_cells_are_neutralised_unless_raw() {
    let store = Store::empty();
    store.sb.insert_customer(json!({
        "email": "f@example.com", "first_name": "=1+1", "last_name": "'quoted",
        "company": "@SUM(A1)", "notes": "-5", "phone": "+44 20",
    }));
    store.run(&["export", "-o", "n.csv"]).expect(0);
    let r = &store.csv("n.csv")[0];
    assert_eq!(r["first_name"], "'=1+1");
    assert_eq!(r["last_name"], "''quoted");
    assert_eq!(r["company"], "'@SUM(A1)");
    assert_eq!(r["notes"], "'-5");
    assert_eq!(r["phone"], "'+44 20");
    store.run(&["export", "-o", "r.csv", "--raw"]).expect(0);
    let r = &store.csv("r.csv")[0];
    assert_eq!(r["first_name"], "=1+1");
    assert_eq!(r["last_name"], "'quoted");
    assert_eq!(r["company"], "@SUM(A1)");
}

/// Text that stresses CSV and spreadsheets: formula starts, quotes, commas, newlines, CR,
/// tabs and non-ASCII. Surrounding spaces are left out of the free-text fields that import
/// compares trimmed (company): the API would keep them, but they are not the point here.
fn awkward() -> impl Strategy<Value = String> {
    let start = prop::sample::select(vec![
        "",
        "'",
        "''",
        "=",
        "+",
        "-",
        "@",
        "\t",
        "\r",
        "=HYPERLINK(\"x\")",
    ]);
    let body = "[a-zA-Z0-9 ,\"'=+@\\-\\n\\r\\téüß中😀]{0,12}";
    (start, body).prop_map(|(s, b)| format!("{s}{b}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    fn export_then_import_is_lossless(
        values in prop::collection::vec((awkward(), awkward()), 30)
    ) {
        let store = Store::empty();
        for (i, (notes, company)) in values.iter().enumerate() {
            let company = company.trim();
            store.sb.insert_customer(json!({
                "email": format!("rt{i}@example.com"), "first_name": "R", "last_name": format!("T{i}"),
                "notes": notes, "company": company,
            }));
        }
        store.run(&["export", "-o", "rt.csv"]).expect(0);
        let rows = store.csv("rt.csv");
        prop_assert_eq!(rows.len(), values.len());
        for (r, (notes, company)) in rows.iter().zip(&values) {
            prop_assert_eq!(bc_customers::csvio::unneutralise(&r["notes"]), notes.as_str());
            prop_assert_eq!(bc_customers::csvio::unneutralise(&r["company"]), company.trim());
        }
        store.sb.reset_counters();
        let run = store.run(&["import", "rt.csv", "--results", "rt.results.csv"]);
        run.expect(0);
        let results = store.csv("rt.results.csv");
        prop_assert!(results.iter().all(|r| r["_result"] == "unchanged"), "{:?}", results_of(&results));
        prop_assert_eq!(store.sb.counters().writes, 0);
        for (c, (notes, company)) in store.sb.customers().iter().zip(&values) {
            prop_assert_eq!(c["notes"].as_str().unwrap(), notes.as_str());
            prop_assert_eq!(c["company"].as_str().unwrap(), company.trim());
        }
    }
}

#[cfg(unix)]
#[test]
fn sigterm_removes_the_temporary_files_and_keeps_the_previous_backup() {
    use std::process::{Command, Stdio};
    let store = Store::new(SandboxConfig {
        seed: 2000,
        latency_ms: 300,
        ..config()
    });
    store.write("backup.csv", "previous backup\n");
    let child = store
        .command(&["export", "-o", "backup.csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Pages are being read (the spill and the temporary output exist) when the signal comes.
    while store.sb.counters().total < 4 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(hidden_files(&store).len(), 2, "spill and temporary output");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert_eq!(store.read("backup.csv"), "previous backup\n");
    assert_eq!(hidden_files(&store), Vec::<String>::new());
}

/// docs/backup.md's restore: a gzip backup, decompressed, without its id column, imported
/// with `--mode upsert` brings back deleted customers and leaves the others alone.
#[test]
fn a_gzip_backup_restores_with_import_upsert() {
    let store = Store::new(SandboxConfig {
        seed: 60,
        ..config()
    });
    store
        .run(&["export", "-o", "backup-{date}.csv.gz", "--quiet"])
        .expect(0);
    let before = store.sb.customers();
    for id in [5, 17, 42] {
        assert!(store.sb.delete_customer(id));
    }
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let mut gz = Vec::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(store.path(&format!("backup-{today}.csv.gz"))).unwrap(),
    )
    .read_to_end(&mut gz)
    .unwrap();
    // What `mlr --csv cut -x -f id` does.
    let mut rdr = csv::Reader::from_reader(gz.as_slice());
    let mut wtr = csv::Writer::from_writer(Vec::new());
    let headers = rdr.headers().unwrap().clone();
    wtr.write_record(headers.iter().skip(1)).unwrap();
    for r in rdr.records() {
        wtr.write_record(r.unwrap().iter().skip(1)).unwrap();
    }
    let plain = wtr.into_inner().unwrap();
    let run = store.run_with_stdin(
        &[
            "import",
            "-",
            "--mode",
            "upsert",
            "--results",
            "restore.csv",
        ],
        Some(&plain),
    );
    run.expect(0);
    let results = store.csv("restore.csv");
    let created = results.iter().filter(|r| r["_result"] == "created").count();
    let unchanged = results
        .iter()
        .filter(|r| r["_result"] == "unchanged")
        .count();
    assert_eq!((created, unchanged), (3, 57), "{:?}", results_of(&results));
    let emails = |cs: &[Value]| -> BTreeSet<String> {
        cs.iter()
            .map(|c| c["email"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(emails(&store.sb.customers()), emails(&before));
}

/// A customer deleted between its page and its address request (404) is not a reason to fail
/// a backup: the customer row stays (as read), its addresses are left out, a notice says so.
#[test]
fn customers_deleted_during_an_address_export_do_not_fail_it() {
    let store = Store::new(SandboxConfig {
        seed: 250,
        latency_ms: 3,
        ..config()
    });
    let run = std::thread::scope(|s| {
        s.spawn(|| {
            // The first page is read once address requests arrive; then delete from the top
            // down while the addresses are read from the bottom up.
            while store.count("GET /customers/{id}/addresses") < 1 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            for id in (1..=250).rev() {
                store.sb.delete_customer(id);
                std::thread::sleep(std::time::Duration::from_micros(500));
            }
        });
        store.run(&[
            "export",
            "--concurrency",
            "2",
            "-o",
            "c.csv",
            "--addresses",
            "a.csv",
        ])
    });
    run.expect(0);
    assert!(
        run.stderr.contains("deleted during the export"),
        "{}",
        run.stderr
    );
    assert_eq!(ids_of(&store.csv("c.csv")), (1..=250).collect::<Vec<_>>());
    let addr_ids: Vec<u64> = store
        .csv("a.csv")
        .iter()
        .map(|r| r["customer_id"].parse().unwrap())
        .collect();
    assert!(addr_ids.windows(2).all(|w| w[0] <= w[1]));
    assert!(addr_ids.iter().all(|id| (1..=250).contains(id)));
}

/// Ids far apart (a store with a long history of deletions): every customer once, in order,
/// with follow-on requests where a range turns out denser than expected.
#[test]
fn sparse_and_clustered_ids_export_completely() {
    let store = Store::empty();
    let mut want = Vec::new();
    for i in 0..700u64 {
        // 600 dense ids, then 100 spread over a million: density guessed from the first page
        // is wrong for the end, which the last-page probe reads as it is.
        let id = if i < 600 {
            5 + i
        } else {
            50_000 + (i - 600) * 10_000
        };
        store.sb.insert_customer(json!({
            "id": id, "email": format!("s{i}@example.com"), "first_name": "S", "last_name": "P",
        }));
        want.push(id);
    }
    let run = store.run(&["export", "--concurrency", "3", "-o", "s.csv"]);
    run.expect(0);
    assert_eq!(ids_of(&store.csv("s.csv")), want);
    // As planned: first page, one speculative range, the probe's page (kept), the open tail;
    // plus at most one: the first id is not 1, so the first page cannot show whether min_id
    // includes the id it names, and the speculative range that shows it holds one id less.
    let (customers, planned) = printed_plan(&run);
    assert_eq!(customers, 700);
    let sent = store.sb.counters().total;
    assert!(
        (planned..=planned + 1).contains(&sent),
        "{sent} requests, {planned} planned"
    );
    store
        .run(&["export", "-o", "m.csv", "--filter", "max_id=100000"])
        .expect(0);
    let below: Vec<u64> = want.iter().copied().filter(|i| *i <= 100_000).collect();
    assert_eq!(ids_of(&store.csv("m.csv")), below);
}

/// Under a small quota the concurrent range reads share the client's pacing: the export
/// completes with every customer and does not hammer the store with 429s.
#[test]
fn a_small_quota_export_is_complete() {
    let store = Store::new(SandboxConfig {
        seed: 2600,
        quota: Some(4),
        window_ms: 150,
        ..config()
    });
    let run = store.run(&["export", "--concurrency", "8", "-o", "q.csv"]);
    run.expect(0);
    assert_eq!(ids_of(&store.csv("q.csv")), (1..=2600).collect::<Vec<_>>());
    let c = store.sb.counters();
    assert!(
        c.rate_limited <= 4,
        "{} 429s for {} requests",
        c.rate_limited,
        c.total
    );
}

/// The file, its `.gz` and stdout hold the same CSV, whether the form-field columns all show
/// on the first page (the file is written while the pages arrive) or some first show up late
/// (a plain file starts over with the wider header, a `.gz` is written by the final pass); no
/// temporary file is left behind.
#[test]
fn file_gzip_and_stdout_hold_the_same_csv() {
    let gunzip = |path: &std::path::Path| {
        let mut csv = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_string(&mut csv)
            .unwrap();
        csv
    };
    // Seeded: form fields whose names first appear at 5%, 20%, … 98% of the ids.
    let late = Store::new(SandboxConfig {
        seed: 1_200,
        ..config()
    });
    // Every customer has the same two fields: the first page shows every column.
    let stable = Store::empty();
    for i in 1..=700u64 {
        stable.sb.insert_customer(json!({
            "id": i, "email": format!("s{i}@example.com"), "first_name": "S", "last_name": "P",
            "form_fields": [{"name": "Colour", "value": format!("c{i}")}, {"name": "=Size", "value": "9"}],
        }));
    }
    for store in [&late, &stable] {
        store
            .run(&["export", "-o", "plain.csv", "--concurrency", "3"])
            .expect(0);
        store.run(&["export", "-o", "packed.csv.gz"]).expect(0);
        let stdout = store.run(&["export", "--quiet"]);
        stdout.expect(0);
        let plain = store.read("plain.csv");
        assert_eq!(gunzip(&store.path("packed.csv.gz")), plain);
        assert_eq!(stdout.stdout, plain);
        let rows = store.csv("plain.csv");
        assert_eq!(rows.len(), store.sb.customers().len());
        assert_eq!(hidden_files(store), Vec::<String>::new());
    }
    let header = late.read("plain.csv");
    let header = header.lines().next().unwrap();
    assert!(
        header.ends_with("form_field:Referral code,form_field:VAT number"),
        "{header}"
    );
    let header = stable.read("plain.csv");
    assert!(header
        .lines()
        .next()
        .unwrap()
        .ends_with(",form_field:Colour,form_field:=Size"));
}

/// Injected 5xx answers and dropped connections on every kind of request the export sends
/// (count, groups, first page, last page, speculative and planned ranges): the export retries
/// them and writes exactly the file a clean run writes.
#[test]
fn an_export_through_5xx_and_dropped_connections_is_the_clean_export() {
    let store = Store::new(SandboxConfig {
        seed: 3_000,
        ..config()
    });
    store.run(&["export", "-o", "clean.csv"]).expect(0);
    store.sb.set_faults(0.2, 0.1, 0.0);
    let run = store.run(&[
        "export",
        "-o",
        "faulty.csv",
        "--concurrency",
        "8",
        "--max-retries",
        "10",
        "--summary-json",
        "summary.json",
    ]);
    run.expect(0);
    store.sb.set_faults(0.0, 0.0, 0.0);
    assert_eq!(store.read("faulty.csv"), store.read("clean.csv"));
    let summary: Value = serde_json::from_str(&store.read("summary.json")).unwrap();
    assert!(summary["retries"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(hidden_files(&store), Vec::<String>::new());
}
