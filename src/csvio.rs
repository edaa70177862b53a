//! CSV plumbing shared by every command: opening input (`-` = stdin), header matching,
//! formula neutralisation. Output files are [`crate::outfile`]'s.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{bail, Context};

/// A CSV reader over a file or stdin. `flexible` so that a ragged row becomes one invalid
/// row with a clear message instead of ending the run.
pub type CsvReader = csv::Reader<Box<dyn Read + Send>>;

/// Open a CSV file (`-` = stdin). Gzip input (a `.csv.gz` backup) is recognised by its magic
/// bytes and decompressed on the fly, so a backup restores with `import` as it is.
pub fn open_reader(path: &Path) -> anyhow::Result<CsvReader> {
    let raw: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).with_context(|| format!("opening {}", path.display()))?)
    };
    let mut buffered = io::BufReader::with_capacity(256 * 1024, raw);
    let is_gzip = {
        use std::io::BufRead;
        let head = buffered
            .fill_buf()
            .with_context(|| format!("reading {}", path.display()))?;
        head.starts_with(&[0x1f, 0x8b])
    };
    let input: Box<dyn Read + Send> = if is_gzip {
        Box::new(io::BufReader::with_capacity(
            256 * 1024,
            flate2::read::MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    };
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(input))
}

/// Read and check the header row.
pub fn read_headers(rdr: &mut CsvReader, path: &Path) -> anyhow::Result<csv::StringRecord> {
    let headers = rdr
        .headers()
        .map_err(|e| describe_csv_error(&e, path))?
        .clone();
    if headers.is_empty()
        || (headers.len() == 1 && headers[0].trim().trim_start_matches('\u{feff}').is_empty())
    {
        bail!("{}: the file is empty (no header row)", path.display());
    }
    if headers.len() == 1 && (headers[0].contains(';') || headers[0].contains('\t')) {
        bail!(
            "{}: the header has a single column {:?}; the file looks semicolon- or tab-delimited, but CSV with commas is expected (re-save it as comma-separated CSV, UTF-8)",
            path.display(),
            truncate(&headers[0], 80)
        );
    }
    let mut seen = std::collections::HashSet::new();
    for h in headers.iter() {
        let n = normalize_header(h);
        if !n.is_empty() && !n.starts_with('_') && !seen.insert(n.clone()) {
            bail!(
                "{}: the column {:?} appears twice in the header",
                path.display(),
                h.trim()
            );
        }
    }
    Ok(headers)
}

/// Header matching is case-insensitive, ignores surrounding spaces and a UTF-8 BOM.
pub fn normalize_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}').trim().to_lowercase()
}

/// Turn a csv error into a message with the line number a person can go to.
pub fn describe_csv_error(e: &csv::Error, path: &Path) -> anyhow::Error {
    let line = e.position().map(|p| p.line());
    let what = match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!(
            "invalid UTF-8 in field {} (save the file as UTF-8)",
            err.field() + 1
        ),
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        _ => e.to_string(),
    };
    match line {
        Some(l) => anyhow::anyhow!("{} line {l}: {what}", path.display()),
        None => anyhow::anyhow!("{}: {what}", path.display()),
    }
}

/// True when a spreadsheet would run this cell as a formula (or it already carries our `'`).
fn needs_quote_prefix(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'')
    )
}

/// Prefix formula-like cells with `'` (and a cell starting with `'` gets one more), so that
/// [`unneutralise`] restores the exact original.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if needs_quote_prefix(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Remove exactly one leading `'` (the inverse of [`neutralise`]).
pub fn unneutralise(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// Write a small secret (a token) to a file only its owner can read (mode 600 on Unix).
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralise_round_trips() {
        for s in [
            "=1+1", "+44 20", "-5", "@SUM", "\tx", "\rx", "'quoted", "''", "plain", "", "a=b",
        ] {
            assert_eq!(unneutralise(&neutralise(s)), s);
        }
        assert_eq!(neutralise("=1"), "'=1");
        assert_eq!(neutralise("plain"), "plain");
    }
}
