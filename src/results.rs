//! The results file: one line per input record, in input order, saying what happened.
//!
//! Columns: `_row,_result,_customer_id,_message`, then the input's own columns in their
//! original order (an earlier run's own results columns are not repeated). Password cells are
//! blanked. Written through [`OutputFile`], so a reader never sees a half-written results file
//! (a device or pipe named by `--results` gets the rows as they finish). It starts with a UTF-8
//! BOM under `--bom`, and when the input had one: a file saved by Excel comes back in a form
//! Excel reads the same way.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::csvio::normalize_header;
use crate::outfile::{OutputFile, UTF8_BOM};

/// What happened to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowResult {
    Created,
    Updated,
    Unchanged,
    Skipped,
    Invalid,
    Failed,
    WouldCreate,
    WouldUpdate,
    Deleted,
    WouldDelete,
    Valid,
}

impl RowResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RowResult::Created => "created",
            RowResult::Updated => "updated",
            RowResult::Unchanged => "unchanged",
            RowResult::Skipped => "skipped",
            RowResult::Invalid => "invalid",
            RowResult::Failed => "failed",
            RowResult::WouldCreate => "would_create",
            RowResult::WouldUpdate => "would_update",
            RowResult::Deleted => "deleted",
            RowResult::WouldDelete => "would_delete",
            RowResult::Valid => "valid",
        }
    }

    pub fn parse(s: &str) -> Option<RowResult> {
        serde_json::from_value(serde_json::Value::String(s.trim().to_string())).ok()
    }

    /// Rows that make the run exit with code 3.
    pub fn is_problem(self) -> bool {
        matches!(self, RowResult::Invalid | RowResult::Failed)
    }
}

/// The outcome of one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowOutcome {
    pub result: RowResult,
    pub customer_id: Option<u64>,
    pub message: String,
}

impl RowOutcome {
    pub fn new(
        result: RowResult,
        customer_id: Option<u64>,
        message: impl Into<String>,
    ) -> RowOutcome {
        RowOutcome {
            result,
            customer_id,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> RowOutcome {
        RowOutcome::new(RowResult::Invalid, None, message)
    }
    pub fn failed(customer_id: Option<u64>, message: impl Into<String>) -> RowOutcome {
        RowOutcome::new(RowResult::Failed, customer_id, message)
    }
}

/// The columns the results file puts first. An input that has them (an earlier results file)
/// is not echoed twice; other `_` columns are data to someone (Magento's `_address_*`) and
/// are echoed, so that `--only-failed` can import them again.
pub const RESULT_COLUMNS: [&str; 4] = ["_row", "_result", "_customer_id", "_message"];

/// Is this input column a password (its cells are never written anywhere)?
pub fn is_secret_column(header: &str) -> bool {
    let h = normalize_header(header);
    h.contains("password") && !h.contains("reset") || h == "user_pass" || h == "password_hash"
}

/// Writes the results file; see the module docs.
pub struct ResultsWriter {
    wtr: csv::Writer<OutputFile>,
    /// Input columns echoed (indices), skipping `_`-prefixed ones.
    echo: Vec<usize>,
    /// For each echoed column: blank it (a password).
    secret: Vec<bool>,
    buf: csv::StringRecord,
}

impl ResultsWriter {
    /// `bom`: start the file with a UTF-8 BOM (`--bom`, or when the input had one: `InputFile::had_bom`).
    pub fn create(
        path: &Path,
        input_headers: &csv::StringRecord,
        bom: bool,
    ) -> anyhow::Result<ResultsWriter> {
        let mut file = OutputFile::create(path)?;
        if bom {
            std::io::Write::write_all(&mut file, UTF8_BOM)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let mut wtr = csv::WriterBuilder::new().flexible(false).from_writer(file);
        let echo: Vec<usize> = input_headers
            .iter()
            .enumerate()
            .filter(|(_, h)| !RESULT_COLUMNS.contains(&normalize_header(h).as_str()))
            .map(|(i, _)| i)
            .collect();
        let secret = echo
            .iter()
            .map(|&i| is_secret_column(&input_headers[i]))
            .collect();
        let mut header = csv::StringRecord::new();
        for h in RESULT_COLUMNS {
            header.push_field(h);
        }
        for &i in &echo {
            header.push_field(input_headers[i].trim_start_matches('\u{feff}'));
        }
        wtr.write_record(&header)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(ResultsWriter {
            wtr,
            echo,
            secret,
            buf: csv::StringRecord::new(),
        })
    }

    pub fn write(
        &mut self,
        row: u64,
        outcome: &RowOutcome,
        record: &csv::StringRecord,
    ) -> anyhow::Result<()> {
        self.buf.clear();
        self.buf.push_field(&row.to_string());
        self.buf.push_field(outcome.result.as_str());
        match outcome.customer_id {
            Some(id) => self.buf.push_field(&id.to_string()),
            None => self.buf.push_field(""),
        }
        self.buf.push_field(&outcome.message);
        for (k, &i) in self.echo.iter().enumerate() {
            let cell = record.get(i).unwrap_or("");
            self.buf.push_field(if self.secret[k] { "" } else { cell });
        }
        self.wtr
            .write_record(&self.buf)
            .context("writing the results file")?;
        Ok(())
    }

    /// Flush and rename into place.
    pub fn finish(self) -> anyhow::Result<()> {
        let file = self
            .wtr
            .into_inner()
            .map_err(|e| e.into_error())
            .context("writing the results file")?;
        file.commit()
    }
}

/// Refuse a results path that would destroy the input (`--results` naming the input file)
/// or that is not a file (`-`): a usage error before anything is read or sent. The run's
/// other files (`--summary-json`, the journal, `--mapping`) are [`crate::outfile::RunFiles`]'s.
pub fn check_path(input: &Path, results: &Path) -> anyhow::Result<()> {
    if results.as_os_str() == "-" {
        return crate::exit::usage(
            "--results must name a file (the results file is written atomically, not to stdout)",
        );
    }
    if input.as_os_str() != "-" {
        let same = match (std::fs::canonicalize(input), absolute_target(results)) {
            (Ok(a), Some(b)) => a == b,
            _ => false,
        };
        if same {
            return crate::exit::usage(format!(
                "--results {} is the input file: it would be overwritten; choose another name",
                results.display()
            ));
        }
    }
    Ok(())
}

/// The canonical path a file would have once written (its directory must exist).
fn absolute_target(p: &Path) -> Option<std::path::PathBuf> {
    if let Ok(c) = std::fs::canonicalize(p) {
        return Some(c);
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(p.file_name()?))
}

/// The default results path: `<input stem>.results.csv` beside the input, or
/// `<command>.results.csv` for stdin.
pub fn default_path(input: &Path, command: &str) -> std::path::PathBuf {
    if input.as_os_str() == "-" {
        return std::path::PathBuf::from(format!("{command}.results.csv"));
    }
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| command.to_string());
    // PRODUCT.md: `<input stem>.results.csv`, also for a results file fed back with
    // --only-failed (`x.results.csv` → `x.results.results.csv`), so the earlier file is kept.
    input.with_file_name(format!("{stem}.results.csv"))
}

#[cfg(test)]
mod tests;
