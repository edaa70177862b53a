//! The end-of-run summary: the counts and rates a run ends with, printed on stderr and written
//! as the `--summary-json` document.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::json::write_json;
use super::{plural, ResultCounts, Tally};
use crate::api::client::StatsSnapshot;
use crate::results::RowResult;

/// The end-of-run summary (also the `--summary-json` document).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub command: String,
    /// When the run began and ended, UTC ISO-8601, so a monitor need not trust file times.
    pub started_at: String,
    pub finished_at: String,
    pub rows: u64,
    pub results: ResultCounts,
    pub elapsed_seconds: f64,
    pub rows_per_second: f64,
    pub requests: u64,
    pub write_requests: u64,
    pub requests_per_row: f64,
    pub retries: u64,
    pub rate_limited: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
    /// How the input file was read (encoding, delimiter, byte-order mark), for the commands
    /// that read one; a person finds the same in the first notice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<crate::input::ReadAs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
    pub dry_run: bool,
    /// The process's exit code for this run (0, or 3 when rows are invalid or failed); a run
    /// that stops with an error writes [`write_failure_json`](super::write_failure_json) instead, with 1 or 2.
    pub exit_code: i32,
    /// `ok`, `rows_failed`, `interrupted` (a signal stopped the run; see `rows::RowRun::end`)
    /// or (see [`write_failure_json`](super::write_failure_json)) `error`.
    pub status: &'static str,
}

/// UTC, ISO-8601, to the millisecond: `2026-12-01T09:00:00.123Z`.
pub fn utc_timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Summary {
    pub fn new(
        command: &str,
        rows: u64,
        tally: Option<&Tally>,
        started: Instant,
        stats: StatsSnapshot,
    ) -> Summary {
        let elapsed = started.elapsed();
        let finished_at = chrono::Utc::now();
        let started_at = finished_at
            - chrono::Duration::from_std(elapsed).unwrap_or_else(|_| chrono::Duration::zero());
        let elapsed = elapsed.as_secs_f64();
        let results = tally.map(ResultCounts::of).unwrap_or_default();
        let problems = tally.is_some_and(|t| t.problems() > 0);
        Summary {
            command: command.to_string(),
            started_at: utc_timestamp(started_at),
            finished_at: utc_timestamp(finished_at),
            rows,
            results,
            elapsed_seconds: round3(elapsed),
            rows_per_second: round3(if elapsed > 0.0 {
                rows as f64 / elapsed
            } else {
                0.0
            }),
            requests: stats.requests,
            write_requests: stats.writes,
            requests_per_row: round3(if rows > 0 {
                stats.requests as f64 / rows as f64
            } else {
                0.0
            }),
            retries: stats.retries,
            rate_limited: stats.rate_limited,
            notices: Vec::new(),
            input: None,
            results_file: None,
            output_file: None,
            dry_run: false,
            exit_code: if problems { 3 } else { 0 },
            status: if problems { "rows_failed" } else { "ok" },
        }
    }

    /// Print to stderr and write `--summary-json` (always, when asked). With `--quiet` only
    /// a run with invalid or failed rows prints, and one line: exit code 3 alone does not say
    /// which rows, and a cron mail of that line does.
    pub fn emit(&self, quiet: bool, json_path: Option<&Path>) -> anyhow::Result<()> {
        if !quiet {
            eprintln!("{}", self.render());
        } else if let Some(line) = self.problem_line() {
            eprintln!("{line}");
        }
        if let Some(p) = json_path {
            write_json(p, self)?;
        }
        Ok(())
    }

    /// `import: 10 rows, 1 invalid, 1 failed; see in.results.csv`.
    pub fn problem_line(&self) -> Option<String> {
        let invalid = self.results.get(RowResult::Invalid);
        let failed = self.results.get(RowResult::Failed);
        if invalid + failed == 0 {
            return None;
        }
        let mut line = format!(
            "{}: {}, {invalid} invalid, {failed} failed",
            self.command,
            plural(self.rows, "row", "rows"),
        );
        if let Some(f) = &self.results_file {
            line.push_str(&format!("; see {f}"));
        }
        Some(line)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let title = if self.dry_run {
            format!("{} (dry run)", self.command)
        } else {
            self.command.clone()
        };
        out.push_str(&format!(
            "{title}: {} in {:.1}s ({:.1} rows/s)\n",
            plural(self.rows, "row", "rows"),
            self.elapsed_seconds,
            self.rows_per_second
        ));
        if !self.results.is_empty() {
            let parts: Vec<String> = self
                .results
                .0
                .iter()
                .map(|(k, v)| format!("{} {v}", k.as_str()))
                .collect();
            out.push_str(&format!("  results: {}\n", parts.join(", ")));
        }
        out.push_str(&format!(
            "  requests: {} ({}, {:.3} per row), retries: {}, 429s: {}\n",
            self.requests,
            plural(self.write_requests, "write", "writes"),
            self.requests_per_row,
            self.retries,
            self.rate_limited
        ));
        for n in &self.notices {
            out.push_str(&format!("  note: {n}\n"));
        }
        if let Some(f) = &self.results_file {
            out.push_str(&format!("  results file: {f}\n"));
        }
        if let Some(f) = &self.output_file {
            out.push_str(&format!("  output: {f}\n"));
        }
        out.trim_end().to_string()
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
