//! Backup file names: `{date}`/`{datetime}` in `--output` and `--addresses`, and `--keep N`
//! retention of the files matching such a name.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Args, Names};

/// The notices of `--keep n` after a run that wrote `names`: the old backups removed, and
/// files named with a later date than the one just written. The `--output` pattern always;
/// the `--addresses` name only when it has a pattern of its own.
pub(super) fn retain(args: &Args, n: usize, names: &Names) -> anyhow::Result<Vec<String>> {
    let mut notices = Vec::new();
    let mut patterns = vec![args.output.as_str()];
    patterns.extend(args.addresses.as_deref().filter(|a| has_pattern(a)));
    let written = [names.output.as_deref(), names.addresses.as_deref()];
    for (pattern, written) in patterns.into_iter().zip(written) {
        let kept = apply_retention(pattern, n, written.unwrap_or(Path::new("")))?;
        for newer in kept.newer {
            notices.push(format!(
                "warning: {} is named with a later date than the file just written",
                newer.display()
            ));
        }
        for removed in kept.removed {
            notices.push(format!("removed old backup {}", removed.display()));
        }
    }
    Ok(notices)
}

pub(super) fn has_pattern(name: &str) -> bool {
    name.contains("{date}") || name.contains("{datetime}")
}

/// `{date}` → 2026-11-26, `{datetime}` → 2026-11-26T211500Z (UTC; no colons, which some
/// filesystems and tools refuse).
pub fn expand_name(template: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    template
        .replace("{datetime}", &now.format("%Y-%m-%dT%H%M%SZ").to_string())
        .replace("{date}", &now.format("%Y-%m-%d").to_string())
}

/// What [`apply_retention`] did.
#[derive(Debug, Default)]
struct Retention {
    removed: Vec<PathBuf>,
    /// Matching files whose names sort after the file just written (a later date in the name).
    newer: Vec<PathBuf>,
}

/// Delete all but the newest `keep` files matching the pattern (names sort by date), never
/// `written`, the file this run has just written: it is always one of the `keep`, even when
/// another name carries a later date (a clock set wrong, a file copied in by hand), which
/// would otherwise make it the oldest and delete the backup just made.
fn apply_retention(template: &str, keep: usize, written: &Path) -> anyhow::Result<Retention> {
    let path = Path::new(template);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name_tpl = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut matches: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if matches_template(&name_tpl, &name) && entry.file_type()?.is_file() {
            matches.push((name, entry.path()));
        }
    }
    matches.sort();
    let written_name = written
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    let mut kept = Retention::default();
    if let Some(w) = &written_name {
        kept.newer = matches
            .iter()
            .filter(|(n, _)| n > w)
            .map(|(_, p)| p.clone())
            .collect();
    }
    let before = matches.len();
    matches.retain(|(n, _)| Some(n) != written_name.as_ref());
    // The file just written is one of the `keep` (when it was listed, as it always is).
    let others = keep - usize::from(matches.len() < before);
    let excess = matches.len().saturating_sub(others);
    for (_, p) in matches.into_iter().take(excess) {
        std::fs::remove_file(&p).with_context(|| format!("removing old backup {}", p.display()))?;
        kept.removed.push(p);
    }
    Ok(kept)
}

/// Does `name` fit the template, with `{date}` = YYYY-MM-DD and `{datetime}` = YYYY-MM-DDTHHMMSSZ?
fn matches_template(tpl: &str, name: &str) -> bool {
    fn go(tpl: &str, name: &str) -> bool {
        if let Some(rest) = tpl.strip_prefix("{datetime}") {
            return name.len() >= 18
                && is_shape(&name[..18], "dddd-dd-ddTddddddZ")
                && go(rest, &name[18..]);
        }
        if let Some(rest) = tpl.strip_prefix("{date}") {
            return name.len() >= 10
                && is_shape(&name[..10], "dddd-dd-dd")
                && go(rest, &name[10..]);
        }
        match (tpl.chars().next(), name.chars().next()) {
            (None, None) => true,
            (Some(a), Some(b)) if a == b => go(&tpl[a.len_utf8()..], &name[b.len_utf8()..]),
            _ => false,
        }
    }
    fn is_shape(s: &str, shape: &str) -> bool {
        s.is_char_boundary(s.len())
            && s.len() == shape.len()
            && s.bytes().zip(shape.bytes()).all(|(c, m)| {
                if m == b'd' {
                    c.is_ascii_digit()
                } else {
                    c == m
                }
            })
    }
    name.is_ascii() && go(tpl, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_patterns() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T21:15:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(expand_name("b-{date}.csv", now), "b-2026-11-26.csv");
        assert_eq!(
            expand_name("b-{datetime}.csv.gz", now),
            "b-2026-11-26T211500Z.csv.gz"
        );
        assert!(matches_template("b-{date}.csv", "b-2026-11-26.csv"));
        assert!(!matches_template("b-{date}.csv", "b-2026-11-26.csv.tmp"));
        assert!(!matches_template("b-{date}.csv", "c-2026-11-26.csv"));
        assert!(matches_template(
            "b-{datetime}.csv",
            "b-2026-11-26T211500Z.csv"
        ));
    }
}
