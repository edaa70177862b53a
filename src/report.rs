//! What the user sees while and after a run: a progress bar on a terminal, a progress line
//! every 30 s without one (cron, a log file), notices said once, and the end-of-run summary on
//! stderr and in `--summary-json`.
//!
//! The bar and the lines say the same thing, built by one function ([`Live::status`]): rows
//! done of the total, the rate, the rows that failed or were invalid so far and the ETA; the
//! pages read while planning; and, while the store's quota is spent, "waiting for the store's
//! rate limit (resets in N s)" rather than a rate falling towards zero. The rate counts only the
//! rows this run did: rows finished by an interrupted run (`--resume`) or carried over from an
//! earlier results file (`--only-failed`) are counted as done, but not as work of this run, so
//! they do not inflate the rate or shrink the ETA.

mod json;
mod progress;
mod summary;

use serde::Serialize;

use crate::results::RowResult;

pub use json::{mark_start, write_failure_json, write_interrupted_json};
pub use progress::Progress;
pub use summary::{utc_timestamp, Summary};

/// "1 row", "2 rows": summaries say what they count in the right number.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Result counts in the order a person reads a run: what was done, what was left as it was,
/// then the problems last (not alphabetically).
#[derive(Debug, Clone, Default)]
pub struct ResultCounts(pub Vec<(RowResult, u64)>);

impl ResultCounts {
    fn rank(r: RowResult) -> u8 {
        match r {
            RowResult::Created => 0,
            RowResult::WouldCreate => 1,
            RowResult::Updated => 2,
            RowResult::WouldUpdate => 3,
            RowResult::Deleted => 4,
            RowResult::WouldDelete => 5,
            RowResult::Valid => 6,
            RowResult::Unchanged => 7,
            RowResult::Skipped => 8,
            RowResult::Invalid => 9,
            RowResult::Failed => 10,
        }
    }

    pub fn of(tally: &Tally) -> ResultCounts {
        let mut v: Vec<(RowResult, u64)> = tally.counts.iter().map(|(r, n)| (*r, *n)).collect();
        v.sort_by_key(|(r, _)| Self::rank(*r));
        ResultCounts(v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, r: RowResult) -> u64 {
        self.0
            .iter()
            .find(|(k, _)| *k == r)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    }
}

impl Serialize for ResultCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (r, n) in &self.0 {
            m.serialize_entry(r.as_str(), n)?;
        }
        m.end()
    }
}
/// Counts results as rows finish.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub counts: std::collections::BTreeMap<RowResult, u64>,
}

impl Tally {
    pub fn add(&mut self, r: RowResult) {
        *self.counts.entry(r).or_default() += 1;
    }
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
    pub fn problems(&self) -> u64 {
        self.counts
            .iter()
            .filter(|(r, _)| r.is_problem())
            .map(|(_, n)| n)
            .sum()
    }
}

#[cfg(test)]
mod tests;
