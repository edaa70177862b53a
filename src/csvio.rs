//! CSV plumbing shared by every command: formula neutralisation (input files are
//! `crate::input`, output files `crate::outfile`).

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

// The reading side (encodings, delimiters, the whole-file check) lives in `crate::input`;
// these names stay here for the modules that use them.
pub use crate::input::{describe_csv_error, normalize_header, CsvReader};

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
