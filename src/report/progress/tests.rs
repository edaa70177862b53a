//! Unit tests of `report::progress` (a child module, so private items stay reachable).

use std::time::{Duration, Instant};

use super::*;

#[test]
fn rows_of_an_earlier_run_are_done_but_not_in_the_rate() {
    let p = Progress::new(Some(1000), true, "rows");
    for _ in 0..900 {
        p.record_earlier(RowResult::Created);
    }
    p.record_earlier(RowResult::Failed);
    *p.live.since.lock().unwrap() = Instant::now() - Duration::from_secs(10);
    for _ in 0..20 {
        p.record(RowResult::Created);
    }
    p.record(RowResult::Invalid);
    let s = p.live.status();
    // 21 rows in 10 s: 2.1/s, 78 left: about 37 s; not 922 rows in 10 s.
    assert!(s.starts_with("922/1,000 rows, 2.1 rows/s"), "{s}");
    assert!(s.contains("1 failed, 1 invalid"), "{s}");
    assert!(s.contains("ETA 37s"), "{s}");
}

#[test]
fn planning_shows_pages() {
    let p = Progress::new(Some(10), true, "rows");
    p.planning(4);
    p.page_read();
    assert_eq!(p.live.status(), "reading the store to plan: 1/4 pages");
    p.planned();
    assert!(p.live.status().starts_with("0/10 rows"));
}

#[test]
fn durations_read_at_a_glance() {
    assert_eq!(format_duration(35.2), "35s");
    assert_eq!(format_duration(266.0), "4m 26s");
    assert_eq!(format_duration(7500.0), "2h 05m");
}
