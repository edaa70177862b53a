//! The whole-file check: one pass over the raw records before the first request.

use std::io::Read;
use std::path::Path;

use super::describe_csv_error;

/// Where a field is: the line of its first byte and its column.
#[derive(Debug)]
pub(super) struct Spot {
    pub(super) line: u64,
    pub(super) field: usize,
}

impl Spot {
    pub(super) fn column(&self, names: &[String]) -> String {
        names
            .get(self.field)
            .cloned()
            .unwrap_or_else(|| format!("field {} (beyond the header)", self.field + 1))
    }
}

#[derive(Debug)]
pub(super) struct UnclosedQuote {
    pub(super) line: u64,
    pub(super) field: usize,
    pub(super) fields: usize,
}

/// What the whole-file check found.
#[derive(Debug, Default)]
pub(super) struct Verdict {
    pub(super) header_names: Vec<String>,
    pub(super) records: u64,
    /// The first field that is not UTF-8.
    pub(super) first_invalid_utf8: Option<Spot>,
    /// The first line with non-ASCII text that is valid UTF-8.
    pub(super) first_utf8_text: Option<u64>,
    pub(super) unclosed_quote: Option<UnclosedQuote>,
}

/// Read every record of `stream` as bytes: count them, find the first non-UTF-8 field and the
/// first UTF-8 text (to tell Windows-1252 from UTF-8), and a quote that swallows lines.
pub(super) fn check_records(
    stream: Box<dyn Read + Send>,
    delimiter: u8,
    shown: &str,
) -> anyhow::Result<Verdict> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(stream);
    let mut verdict = Verdict::default();
    let mut record = csv::ByteRecord::new();
    let mut width = 0;
    let mut first = true;
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(describe_csv_error(&e, Path::new(shown))),
        }
        let start = record.position().map_or(1, |p| p.line());
        let mut line = start;
        for (i, field) in record.iter().enumerate() {
            match std::str::from_utf8(field) {
                Ok(_) => {
                    if verdict.first_utf8_text.is_none() && !field.is_ascii() {
                        verdict.first_utf8_text = Some(line);
                    }
                }
                Err(e) => {
                    if verdict.first_invalid_utf8.is_none() {
                        let before = &field[..e.valid_up_to()];
                        let at = line + before.iter().filter(|&&b| b == b'\n').count() as u64;
                        verdict.first_invalid_utf8 = Some(Spot { line: at, field: i });
                    }
                }
            }
            line += field.iter().filter(|&&b| b == b'\n').count() as u64;
        }
        if first {
            first = false;
            width = record.len();
            verdict.header_names = record
                .iter()
                .map(|h| {
                    String::from_utf8_lossy(h)
                        .trim_start_matches('\u{feff}')
                        .trim()
                        .to_string()
                })
                .collect();
            continue;
        }
        verdict.records += 1;
        let filled = (0..record.len())
            .rev()
            .find(|&i| !record[i].trim_ascii().is_empty())
            .map_or(0, |i| i + 1);
        if verdict.unclosed_quote.is_none() && (filled > width || record.len() < width) {
            if let Some(field) = record
                .iter()
                .position(|f| f.contains(&b'\n') || f.contains(&b'\r'))
            {
                verdict.unclosed_quote = Some(UnclosedQuote {
                    line: start,
                    field,
                    fields: filled.max(record.len().min(width)),
                });
            }
        }
    }
    Ok(verdict)
}
