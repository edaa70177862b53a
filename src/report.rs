//! What the user sees while and after a run: a progress bar on a terminal (silent otherwise),
//! notices said once, and the end-of-run summary on stderr and in `--summary-json`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::api::client::StatsSnapshot;
use crate::results::RowResult;

/// Callers never touch indicatif: without a terminal (cron, CI, tests) `bar` is `None`.
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    unit: String,
}

/// Rows, rate and ETA once the total is known; a spinner with the rate until then.
fn bar_style(unit: &str, total_known: bool) -> ProgressStyle {
    let template = if total_known {
        format!("{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/{{human_len}} {unit} ({{rate}}, ETA {{eta}})")
    } else {
        format!("{{spinner}} [{{elapsed_precise}}] {{human_pos}} {unit} ({{rate}})")
    };
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        // indicatif's {per_sec} prints four decimals; whole rows per second read better.
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        )
}

impl Progress {
    pub fn new(total: Option<u64>, quiet: bool, unit: &str) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                quiet,
                unit: unit.to_string(),
            };
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr())
            .with_style(bar_style(unit, total.is_some()));
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress {
            bar: Some(bar),
            quiet,
            unit: unit.to_string(),
        }
    }

    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    pub fn set_total(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_length(n);
            b.set_style(bar_style(&self.unit, true));
        }
    }

    /// Print a line without tearing the bar (stderr; nothing with --quiet).
    pub fn note(&self, msg: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(b) => b.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The end-of-run summary (also the `--summary-json` document).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub command: String,
    pub rows: u64,
    pub results: BTreeMap<String, u64>,
    pub elapsed_seconds: f64,
    pub rows_per_second: f64,
    pub requests: u64,
    pub write_requests: u64,
    pub requests_per_row: f64,
    pub retries: u64,
    pub rate_limited: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
    pub dry_run: bool,
    /// The process's exit code for this run (0, or 3 when rows are invalid or failed); a run
    /// that stops with an error writes [`write_failure_json`] instead, with 1 or 2.
    pub exit_code: i32,
    /// `ok`, `rows_failed` or (see [`write_failure_json`]) `error`.
    pub status: &'static str,
}

/// The `--summary-json` document of a run that stopped with an error.
pub fn write_failure_json(
    path: &Path,
    command: &str,
    code: crate::exit::Exit,
    err: &anyhow::Error,
) -> anyhow::Result<()> {
    let doc = serde_json::json!({
        "command": command,
        "status": "error",
        "exit_code": code.code(),
        "error": format!("{err:#}"),
    });
    let mut f = crate::outfile::OutputFile::create(path)?;
    serde_json::to_writer_pretty(&mut f, &doc)?;
    std::io::Write::write_all(&mut f, b"\n")?;
    f.commit()
}

/// Counts results as rows finish.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub counts: BTreeMap<RowResult, u64>,
}

impl Tally {
    pub fn add(&mut self, r: RowResult) {
        *self.counts.entry(r).or_default() += 1;
    }
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
    /// The run's exit code: 3 when some rows are `invalid` or `failed`, else 0.
    pub fn exit(&self) -> crate::exit::Exit {
        if self.problems() > 0 {
            crate::exit::Exit::RowsFailed
        } else {
            crate::exit::Exit::Ok
        }
    }

    pub fn problems(&self) -> u64 {
        self.counts
            .iter()
            .filter(|(r, _)| r.is_problem())
            .map(|(_, n)| n)
            .sum()
    }
}

impl Summary {
    pub fn new(
        command: &str,
        rows: u64,
        tally: Option<&Tally>,
        started: Instant,
        stats: StatsSnapshot,
    ) -> Summary {
        let elapsed = started.elapsed().as_secs_f64();
        let results = tally
            .map(|t| {
                t.counts
                    .iter()
                    .map(|(r, n)| (r.as_str().to_string(), *n))
                    .collect()
            })
            .unwrap_or_default();
        Summary {
            command: command.to_string(),
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
            results_file: None,
            output_file: None,
            dry_run: false,
            exit_code: if tally.is_some_and(|t| t.problems() > 0) {
                3
            } else {
                0
            },
            status: if tally.is_some_and(|t| t.problems() > 0) {
                "rows_failed"
            } else {
                "ok"
            },
        }
    }

    /// Print to stderr (unless quiet) and write `--summary-json` (always, when asked).
    pub fn emit(&self, quiet: bool, json_path: Option<&Path>) -> anyhow::Result<()> {
        if !quiet {
            eprintln!("{}", self.render());
        }
        if let Some(p) = json_path {
            let mut f = crate::outfile::OutputFile::create(p)?;
            serde_json::to_writer_pretty(&mut f, self)?;
            std::io::Write::write_all(&mut f, b"\n")?;
            f.commit()?;
        }
        Ok(())
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let title = if self.dry_run {
            format!("{} (dry run)", self.command)
        } else {
            self.command.clone()
        };
        out.push_str(&format!(
            "{title}: {} rows in {:.1}s ({:.1} rows/s)\n",
            self.rows, self.elapsed_seconds, self.rows_per_second
        ));
        if !self.results.is_empty() {
            let parts: Vec<String> = self
                .results
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            out.push_str(&format!("  results: {}\n", parts.join(", ")));
        }
        out.push_str(&format!(
            "  requests: {} ({} writes, {:.3} per row), retries: {}, 429s: {}\n",
            self.requests,
            self.write_requests,
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
