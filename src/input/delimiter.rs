//! Delimiters: `--delimiter`, and sniffing the one the header line uses.

use super::header::is_column_name;

/// `--delimiter`: `None` = auto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DelimiterArg(pub Option<u8>);

pub(super) fn parse_delimiter(s: &str) -> Result<DelimiterArg, String> {
    match s {
        "auto" => Ok(DelimiterArg(None)),
        "," | "comma" => Ok(DelimiterArg(Some(b','))),
        ";" | "semicolon" => Ok(DelimiterArg(Some(b';'))),
        "tab" | "\t" | "\\t" => Ok(DelimiterArg(Some(b'\t'))),
        "|" | "pipe" => Ok(DelimiterArg(Some(b'|'))),
        other => Err(format!(
            "{other:?} is not a delimiter the tool reads: use auto, ',', ';', tab or '|'"
        )),
    }
}

/// The delimiters `auto` chooses from, in the order that wins a tie.
pub(super) const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

/// A delimiter as `--delimiter` spells it: `tab`, `';'`.
pub(super) fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".to_string(),
        d => format!("'{}'", d as char),
    }
}

/// The delimiter the header line uses most (outside quotes), `,` when it uses none. A line
/// with none of them (a title above the header) gives way to the next line that has one.
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let text = head.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(head);
    let mut counts = [0usize; CANDIDATES.len()];
    let mut in_quotes = false;
    let mut lines = 0;
    let mut line_start = 0;
    for (at, &b) in text.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' | b'\r' if !in_quotes => {
                if counts.iter().any(|&n| n > 0) {
                    break;
                }
                // A one-column file ("email") is comma-separated; only a title line gives
                // way to the lines below it.
                let line = String::from_utf8_lossy(&text[line_start..at]);
                if is_column_name(line.trim_matches('"')) {
                    break;
                }
                line_start = at + 1;
                lines += 1;
                if lines >= 10 {
                    break;
                }
            }
            _ if !in_quotes => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let best = (0..CANDIDATES.len())
        .rev()
        .max_by_key(|&i| counts[i])
        .filter(|&i| counts[i] > 0);
    best.map_or(b',', |i| CANDIDATES[i])
}
