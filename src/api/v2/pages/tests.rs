//! Tests of the V2 pager: range planning, request counts, and every id layout read once
//! against the sandbox.

use super::range::split;
use super::*;

/// Ranges are disjoint, ascending, and cover [lo, hi].
fn ranges(lo: u64, hi: u64, customers: u64) -> Vec<(u64, u64)> {
    split(lo, hi, customers, PAGE as f64).collect()
}

fn check(lo: u64, hi: u64, customers: u64) {
    let ranges = ranges(lo, hi, customers);
    assert_eq!(ranges[0].0, lo);
    for w in ranges.windows(2) {
        assert_eq!(w[0].1 + 1, w[1].0, "adjacent, no gap, no overlap");
    }
    assert_eq!(ranges.last().unwrap().1, hi);
    assert!(ranges.iter().all(|(a, b)| a <= b));
}

#[test]
fn ranges_cover_the_id_span_once() {
    check(251, 100_000, 99_750);
    check(251, 5_000_000, 99_750);
    check(251, 260, 99_750); // more chunks than ids: width 1
    check(1_000, 1_000, 1);
    check(u64::MAX - 10, u64::MAX, 5);
    check(0, u64::MAX, u64::MAX);
    assert_eq!(ranges(251, 100_000, 99_750).len(), 399);
    assert_eq!(ranges(251, 900, 50), [(251, 900)]);
    assert!(ranges(251, 100, 300).is_empty());
    assert_eq!(ranges(u64::MAX, u64::MAX, 1), [(u64::MAX, u64::MAX)]);
}

/// A count of 10^12 over ids up to 10^15 (a broken store) plans at most MAX_RANGES
/// ranges, made one at a time, not one per 250 claimed customers.
#[test]
fn a_huge_count_plans_a_bounded_number_of_ranges() {
    assert_eq!(
        ranges(251, 1_000_000_000_000_000, 1_000_000_000_000).len() as u64,
        MAX_RANGES
    );
    check(251, 1_000_000_000_000_000, 1_000_000_000_000);
    assert_eq!(ranges(1, u64::MAX, u64::MAX).len() as u64, MAX_RANGES);
}

/// Requests [`read_range`] needs for one range of the sorted `ids` (a full page always
/// asks for the next one, unless it ended exactly on the range's last id).
fn range_requests(ids: &[u64], a: u64, b: Option<u64>) -> u64 {
    let from = ids.partition_point(|i| *i < a);
    let to = b.map_or(ids.len(), |b| ids.partition_point(|i| *i <= b));
    let inside = &ids[from..to];
    let n = inside.len() as u64;
    if n == 0 {
        1
    } else if n.is_multiple_of(PAGE) && b.is_some_and(|b| inside.last() == Some(&b)) {
        n / PAGE
    } else {
        n / PAGE + 1
    }
}

/// With ids missing at random, ranges sized for exactly 250 would overflow about half the
/// time (two requests each: 1.5× the ideal at 20% missing); the margin keeps it within
/// ~1.16×, and contiguous ids stay exact.
#[test]
fn ids_with_holes_rarely_need_follow_on_requests() {
    let mut rng = fastrand::Rng::with_seed(7);
    for missing in [0.0, 0.2, 0.5, 0.9] {
        let ids: Vec<u64> = (1..=400_000u64).filter(|_| rng.f64() >= missing).collect();
        let count = ids.len() as u64;
        let lo = ids[PAGE as usize - 1] + 1;
        let hi = *ids.last().unwrap();
        let ranges = ranges(lo, hi, count - PAGE);
        let sent: u64 = ranges
            .iter()
            .map(|(a, b)| range_requests(&ids, *a, Some(*b)))
            .sum();
        let ideal = (count - PAGE).div_ceil(PAGE);
        assert!(
            sent as f64 <= ideal as f64 * 1.17,
            "{missing}: {sent} requests for {count} customers (ideal {ideal})"
        );
        if missing == 0.0 {
            assert_eq!(sent, ideal, "contiguous ids: one request per page");
        }
    }
}

#[test]
fn expected_requests_per_count() {
    assert_eq!(expected_page_requests(0, true), 1);
    assert_eq!(expected_page_requests(249, true), 1);
    assert_eq!(expected_page_requests(250, true), 2);
    assert_eq!(expected_page_requests(251, true), 3);
    assert_eq!(expected_page_requests(100_000, true), 401);
    assert_eq!(expected_page_requests(100_000, false), 400);
}

/// Read the sandbox's customers with [`customer_pages`]; return the ids in the order
/// yielded and the page requests sent.
async fn read_all(
    sandbox: &crate::sandbox::Sandbox,
    q: Query,
    count: u64,
    concurrency: usize,
) -> (Vec<u64>, u64) {
    let client = sandbox.client(concurrency, 0);
    let before = client.stats().requests;
    let mut ids = Vec::new();
    let mut pages = customer_pages(client.clone(), q, count, concurrency);
    while let Some(page) = pages.next().await {
        ids.extend(page.unwrap().iter().map(|c| c.id));
    }
    (ids, client.stats().requests - before)
}

async fn seeded(customers: usize, exclusive: bool) -> crate::sandbox::Sandbox {
    let cfg = crate::sandbox::SandboxConfig {
        seed: customers,
        exclusive_id_bounds: exclusive,
        ..Default::default()
    };
    crate::sandbox::Sandbox::start(cfg, 0).await.unwrap()
}

fn store_ids(sandbox: &crate::sandbox::Sandbox) -> Vec<u64> {
    let mut ids: Vec<u64> = sandbox
        .customers()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// Every customer once, in order, whatever the ids look like and however wrong the first
/// page's density or the count is; contiguous ids cost exactly the expected requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_layout_reads_each_customer_once() {
    every_layout(false).await;
}

/// The same when `min_id`/`max_id` exclude the id they name (BigCommerce does not say):
/// nothing is lost; the first page then cannot prove the bounds inclusive, so the id before
/// its first customer is read once more (one request) and ranges aim at 249 customers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_layout_reads_each_customer_once_with_exclusive_bounds() {
    every_layout(true).await;
}

async fn every_layout(exclusive: bool) {
    // Requests allowed above the inclusive store's: the re-read before the first page,
    // and ranges of 249 (about one more request per 62,000 customers).
    let slack = if exclusive { 2 } else { 0 };
    let sandbox = seeded(12_000, exclusive).await;
    let all = store_ids(&sandbox);
    assert_eq!(all.len(), 12_000);
    let n = all.len() as u64;

    // Contiguous ids, several concurrencies: the expected number of requests exactly.
    for concurrency in [1, 4, 8, 64] {
        let (ids, requests) = read_all(&sandbox, Query::default(), n, concurrency).await;
        assert_eq!(ids, all, "concurrency {concurrency}");
        let expected = expected_page_requests(n, true);
        assert!(
            (expected..=expected + slack).contains(&requests),
            "c{concurrency}: {requests} requests, {expected} expected"
        );
    }
    // A count that is too high (the store shrank: the probe's page is empty) or too low
    // (it grew: the probe's page is not the last).
    for count in [n * 3, n / 3, 251, 250] {
        let (ids, _) = read_all(&sandbox, Query::default(), count, 8).await;
        assert_eq!(ids, all, "count {count}");
    }
    // The user's max_id and min_id.
    let q = Query::new(&Filters {
        min_id: Some(all[300]),
        max_id: Some(all[9_000]),
        ..Filters::default()
    });
    let (ids, requests) = read_all(&sandbox, q, 8_701, 8).await;
    assert_eq!(ids, all[300..=9_000]);
    let expected = expected_page_requests(8_701, false);
    assert!(
        (expected..=expected + slack).contains(&requests),
        "{requests}"
    );

    // First page dense, then sparse (keep every 10th id after the first 250).
    for id in &all[250..] {
        if id % 10 != 0 {
            sandbox.delete_customer(*id);
        }
    }
    let now = store_ids(&sandbox);
    let (ids, requests) = read_all(&sandbox, Query::default(), now.len() as u64, 8).await;
    assert_eq!(ids, now);
    // 1,175 customers: 5 pages at best; the speculative ranges guessed 250 ids each.
    assert!(
        requests <= expected_page_requests(now.len() as u64, true) + 7,
        "{requests}"
    );

    // First page sparse, then dense: the first 250 customers are spread over ~2,500 ids.
    let sandbox = seeded(12_000, exclusive).await;
    let all = store_ids(&sandbox);
    for id in &all[..2_500] {
        if id % 10 != 0 {
            sandbox.delete_customer(*id);
        }
    }
    let now = store_ids(&sandbox);
    let (ids, requests) = read_all(&sandbox, Query::default(), now.len() as u64, 8).await;
    assert_eq!(ids, now);
    // Ranges 10× too wide at first: follow-on requests, about one per page still.
    let ideal = expected_page_requests(now.len() as u64, true);
    assert!(requests <= ideal + 8, "{requests} vs {ideal}");

    // Half the ids missing at random.
    let mut rng = fastrand::Rng::with_seed(3);
    for id in &now {
        if rng.bool() {
            sandbox.delete_customer(*id);
        }
    }
    let now = store_ids(&sandbox);
    let (ids, requests) = read_all(&sandbox, Query::default(), now.len() as u64, 8).await;
    assert_eq!(ids, now);
    let ideal = expected_page_requests(now.len() as u64, true);
    assert!(
        requests as f64 <= ideal as f64 * 1.25,
        "{requests} vs {ideal}"
    );
}

/// Each neutral filter as V2 sends it, one at a time: V2's name, the value as given (ids as
/// numbers, decimals in their normal form) and dates in RFC-2822, in UTC whatever offset the
/// user gave; the id bounds follow the field filters in the count's parameters.
#[test]
fn each_filter_is_sent_under_its_v2_name_with_rfc_2822_dates() {
    use crate::api::filters::{Filters, Name, Value};
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let text = |s: &str| Value::Text(s.into());
    let cases = [
        (Name::Email, text("A@Example.com"), "email", "A@Example.com"),
        (Name::FirstName, text("Ann"), "first_name", "Ann"),
        (Name::LastName, text("Lee"), "last_name", "Lee"),
        (Name::Company, text("a,b"), "company", "a,b"),
        (Name::Phone, text("+1 555"), "phone", "+1 555"),
        (
            Name::CustomerGroupId,
            Value::Id(2),
            "customer_group_id",
            "2",
        ),
        (
            Name::MinDateCreated,
            Value::Date(at("2024-05-01T00:00:00Z")),
            "min_date_created",
            "Wed, 1 May 2024 00:00:00 +0000",
        ),
        (
            Name::MaxDateCreated,
            Value::Date(at("2024-05-01T15:00:00+02:00")),
            "max_date_created",
            "Wed, 1 May 2024 13:00:00 +0000",
        ),
        (
            Name::MinDateModified,
            Value::Date(at("2024-12-31T23:59:59Z")),
            "min_date_modified",
            "Tue, 31 Dec 2024 23:59:59 +0000",
        ),
        (
            Name::MaxDateModified,
            Value::Date(at("2025-01-01T00:00:00-05:00")),
            "max_date_modified",
            "Wed, 1 Jan 2025 05:00:00 +0000",
        ),
        (
            Name::TaxExemptCategory,
            text("A"),
            "tax_exempt_category",
            "A",
        ),
        (
            Name::StoreCredit,
            Value::Decimal("12.5".into()),
            "store_credit",
            "12.5",
        ),
    ];
    assert_eq!(cases.len(), Name::ALL.len(), "a case per filter");
    for (name, value, v2, sent) in cases {
        let q = Query::new(&Filters {
            fields: vec![(name, value)],
            ..Filters::default()
        });
        assert_eq!(q.filter_params(), [(v2, sent.to_string())], "{name:?}");
    }
    let q = Query::new(&Filters {
        fields: vec![
            (Name::Phone, text("1")),
            (Name::CustomerGroupId, Value::Id(3)),
        ],
        min_id: Some(10),
        max_id: Some(20),
    });
    let expected = [
        ("phone", "1"),
        ("customer_group_id", "3"),
        ("min_id", "10"),
        ("max_id", "20"),
    ];
    let expected: Vec<(&str, String)> = expected.iter().map(|(k, v)| (*k, v.to_string())).collect();
    assert_eq!(q.count_params(), expected);
}

/// The end-of-export count: the bound replaces a later user `max_date_modified` and keeps an
/// earlier one, in RFC-2822 (the rule is `Filters::modified_at_or_before`'s; this is V2's
/// encoding of it).
#[test]
fn the_completeness_bound_is_sent_in_rfc_2822() {
    use crate::api::filters::{Filters, Name, Value};
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let user = Filters {
        fields: vec![(
            Name::MaxDateModified,
            Value::Date(at("2024-05-01T00:00:00Z")),
        )],
        ..Filters::default()
    };
    for (before, sent) in [
        ("2025-01-01T00:00:00Z", "Wed, 1 May 2024 00:00:00 +0000"),
        ("2020-01-01T00:00:00Z", "Wed, 1 Jan 2020 00:00:00 +0000"),
    ] {
        let q = Query::new(&user.modified_at_or_before(at(before)));
        assert_eq!(
            q.count_params(),
            [("max_date_modified", sent.to_string())],
            "{before}"
        );
    }
}
