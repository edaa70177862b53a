//! Header matching and the checks of the header line (empty, duplicated, a title above it).

use std::io::Read;

use anyhow::bail;

use super::delimiter::{delimiter_name, CANDIDATES};
use super::InputFile;

impl InputFile {
    /// Refuse an empty header, a one-column header that holds another delimiter, and a column
    /// named twice (also in another spelling that matches it).
    pub(super) fn check_header(&self) -> anyhow::Result<()> {
        let shown = self.path.display();
        let headers = &self.headers;
        if headers.is_empty()
            || headers
                .iter()
                .all(|h| h.trim().trim_start_matches('\u{feff}').is_empty())
        {
            bail!("{shown}: the file is empty (no header row)");
        }
        if headers.len() == 1 {
            let h = &headers[0];
            if let Some(&other) = CANDIDATES
                .iter()
                .find(|&&c| c != self.delimiter && h.as_bytes().contains(&c))
            {
                // Auto takes the delimiter the header uses, so this is (nearly always) a flag.
                bail!(
                    "{shown}: the header is a single column {:?} with the delimiter {}, but it contains {}: pass --delimiter {} (or leave --delimiter at auto)",
                    crate::csvio::truncate(h, 80),
                    delimiter_name(self.delimiter),
                    delimiter_name(other),
                    delimiter_name(other),
                );
            }
        }
        let mut seen = std::collections::HashMap::new();
        for h in headers.iter() {
            let n = normalize_header(h);
            if n.is_empty() || n.starts_with('_') {
                continue;
            }
            let h = h.trim_start_matches('\u{feff}').trim();
            match seen.insert(n, h) {
                Some(first) if first == h => {
                    bail!("{shown}: the column {h:?} appears twice in the header")
                }
                Some(first) => bail!(
                    "{shown}: the column {first:?} appears twice in the header, also as {h:?} (headers match ignoring case and _, - and spaces): keep one"
                ),
                None => {}
            }
        }
        Ok(())
    }

    /// "Customers export 2024" on line 1 and the column names on line 2: say so, instead of
    /// calling the title an unknown column.
    pub(super) fn check_title_line(
        &self,
        mut rdr: csv::Reader<Box<dyn Read + Send>>,
    ) -> anyhow::Result<()> {
        let filled = |r: &csv::StringRecord| r.iter().filter(|c| !c.trim().is_empty()).count();
        if filled(&self.headers) != 1 {
            return Ok(());
        }
        let title = self
            .headers
            .iter()
            .find(|c| !c.trim().is_empty())
            .unwrap_or("")
            .trim_start_matches('\u{feff}')
            .trim();
        if is_column_name(title) {
            return Ok(());
        }
        let mut record = csv::StringRecord::new();
        for _ in 0..5 {
            match rdr.read_record(&mut record) {
                Ok(true) => {}
                _ => return Ok(()),
            }
            match filled(&record) {
                0 | 1 => continue,
                _ => {
                    let line = record.position().map_or(2, |p| p.line());
                    let names: Vec<String> = record
                        .iter()
                        .filter(|c| !c.trim().is_empty())
                        .take(4)
                        .map(|c| format!("{:?}", c.trim()))
                        .collect();
                    bail!(
                        "{}: line 1 ({:?}) is not a header but a title: the column names seem to start on line {line} ({}, ...). Delete the line(s) above the header and run again",
                        self.path.display(),
                        crate::csvio::truncate(title, 60),
                        names.join(", ")
                    );
                }
            }
        }
        Ok(())
    }
}

/// A known column name of some row command (a one-column file of emails is no title).
pub(super) fn is_column_name(h: &str) -> bool {
    let n = normalize_header(h);
    !matches!(
        crate::mapping::columns::classify(h),
        crate::mapping::columns::Column::Unknown
    ) || n == "customer_id"
}

/// Header matching ignores case, surrounding spaces, a UTF-8 BOM, and the difference between
/// `_`, `-` and spaces (`First Name` = `first_name` = `first-name`): each run of them inside
/// a name is one `_`. A leading `_` (the results file's own `_row`, Magento's `_website`)
/// stays, so those columns are still told apart.
pub fn normalize_header(h: &str) -> String {
    let h = h.trim_start_matches('\u{feff}').trim().to_lowercase();
    let mut out = String::with_capacity(h.len());
    let mut chars = h.chars().peekable();
    if chars.peek() == Some(&'_') {
        out.push('_');
        while chars.peek().is_some_and(|c| is_separator(*c)) {
            chars.next();
        }
    }
    let mut pending = false;
    for c in chars {
        if is_separator(c) {
            pending = true;
        } else {
            if pending && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            pending = false;
            out.push(c);
        }
    }
    out
}

fn is_separator(c: char) -> bool {
    c == '_' || c == '-' || c.is_whitespace()
}
