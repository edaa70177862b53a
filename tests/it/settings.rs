//! The run's settings: requests in flight (`--concurrency`) and rows in flight
//! (`--rows-in-flight`) are separate knobs, and a setting that means nothing to a command is
//! refused before any request.

use std::time::{Duration, Instant};

use bc_customers::sandbox::SandboxConfig;

use crate::common::*;

/// With one row in flight the rows go one after another however many requests may be in
/// flight: 12 DELETEs at 100 ms each take at least 1.2 s (four rows at once would take 0.3 s).
#[test]
fn rows_in_flight_bounds_the_rows_whatever_the_concurrency() {
    let store = Store::new(SandboxConfig {
        seed: 12,
        ..config()
    });
    let ids: Vec<String> = store
        .sb
        .customers()
        .iter()
        .map(|c| c["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 12);
    store.write("gone.csv", &format!("id\n{}\n", ids.join("\n")));
    store.sb.set_latency_ms(100);
    let started = Instant::now();
    store
        .run(&[
            "delete",
            "--input",
            "gone.csv",
            "--yes",
            "--concurrency",
            "4",
            "--rows-in-flight",
            "1",
        ])
        .expect(0);
    let took = started.elapsed();
    assert_eq!(store.count("DELETE /customers/{id}"), 12);
    assert!(store.sb.customers().is_empty());
    assert!(
        took >= Duration::from_millis(1200),
        "12 rows one at a time at 100 ms each took {took:?}"
    );
}

#[test]
fn rows_in_flight_is_refused_where_no_rows_run_and_when_out_of_range() {
    let store = Store::empty();
    for args in [
        &["export", "--rows-in-flight", "8"][..],
        &["count", "--rows-in-flight", "8"],
        &["groups", "--rows-in-flight", "8", "list"],
        &["--rows-in-flight", "8", "columns"],
    ] {
        let run = store.run(args);
        run.expect(2);
        assert!(
            run.stderr.contains("--rows-in-flight does nothing for"),
            "{args:?}: {}",
            run.stderr
        );
    }
    for n in ["0", "1001", "many"] {
        store
            .run(&["delete", "--input", "x.csv", "--rows-in-flight", n])
            .expect(2);
    }
    assert_eq!(store.sb.counters().total, 0, "no request was sent");
}

/// The connection is checked once, before the command reads its input: a missing store
/// hash is named even when the input file is missing too.
#[test]
fn the_connection_is_checked_before_any_file() {
    let store = Store::empty();
    let run = store.run_with_env(
        &["import", "no-such-file.csv"],
        &[("BIGCOMMERCE_STORE_HASH", "")],
    );
    run.expect(2);
    assert!(run.stderr.contains("no store hash"), "{}", run.stderr);
    assert!(!run.stderr.contains("no-such-file"), "{}", run.stderr);
}
