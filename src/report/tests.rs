//! Unit tests of `report` (a child module, so private items stay reachable).

use super::*;

#[test]
fn counts_come_in_a_logical_order() {
    let mut t = Tally::default();
    for r in [
        RowResult::Invalid,
        RowResult::Unchanged,
        RowResult::Updated,
        RowResult::Failed,
        RowResult::Created,
        RowResult::Skipped,
    ] {
        t.add(r);
    }
    let order: Vec<&str> = ResultCounts::of(&t)
        .0
        .iter()
        .map(|(r, _)| r.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "created",
            "updated",
            "unchanged",
            "skipped",
            "invalid",
            "failed"
        ]
    );
}
