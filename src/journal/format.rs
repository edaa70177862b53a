//! The journal's file format: the head line that identifies a run (`Fingerprint`), the
//! entry lines, and reading them back into what an interrupted run left (`Resumed`).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::results::{RowOutcome, RowResult};

pub(super) const MAGIC: &str = "bc-customers import journal";
pub(super) const VERSION: u32 = 1;

/// What identifies an import run: the input file and the options that change what a row means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The input path as given, made absolute.
    pub input: String,
    pub size: u64,
    /// Modification time, ns since the Unix epoch (0 when the platform has none).
    pub mtime_ns: u128,
    /// FNV-1a 64 of the first 64 KiB (header and first rows), as hex.
    pub head_hash: String,
    /// `--mode`, `--only-failed` and the mapping, as the command line spelled them.
    pub options: String,
}

impl Fingerprint {
    /// Fingerprint `input` (a real file: stdin cannot be resumed) with `options`.
    pub fn of(input: &Path, options: &str) -> anyhow::Result<Fingerprint> {
        let meta = std::fs::metadata(input)
            .with_context(|| format!("reading the metadata of {}", input.display()))?;
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut head = Vec::with_capacity(64 * 1024);
        File::open(input)
            .with_context(|| format!("opening {}", input.display()))?
            .take(64 * 1024)
            .read_to_end(&mut head)
            .with_context(|| format!("reading {}", input.display()))?;
        let abs = std::path::absolute(input).unwrap_or_else(|_| input.to_path_buf());
        Ok(Fingerprint {
            input: abs.display().to_string(),
            size: meta.len(),
            mtime_ns,
            head_hash: format!("{:016x}", fnv1a(&head)),
            options: options.to_string(),
        })
    }

    /// Why a journal written for `self` cannot be resumed with `now`, if it cannot.
    pub(super) fn mismatch(&self, now: &Fingerprint) -> Option<String> {
        if self.input != now.input {
            return Some(format!(
                "it was written for the input {}, not {}",
                self.input, now.input
            ));
        }
        if self.options != now.options {
            return Some(format!(
                "it was written with the options [{}], not [{}]",
                self.options, now.options
            ));
        }
        if self.size != now.size || self.head_hash != now.head_hash || self.mtime_ns != now.mtime_ns
        {
            return Some(format!(
                "{} changed since the interrupted run (size, content or modification time)",
                now.input
            ));
        }
        None
    }
}
/// FNV-1a 64: tiny, stable across Rust versions (std's hasher is not), good enough to tell
/// two files apart; the path, size and mtime carry the rest.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Head {
    pub(super) journal: String,
    pub(super) version: u32,
    pub(super) fingerprint: Fingerprint,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum Entry {
    Owner {
        pid: u32,
    },
    Sending {
        sending: u64,
    },
    Done {
        no: u64,
        result: RowResult,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
    },
    Creating {
        creating: u64,
        /// The store's clock (Unix seconds, the `Date` of its latest answer) just before the
        /// create was sent: on resume, a customer found with the row's email that the store
        /// created more than `api::once::CLOCK_SLACK_SECS` earlier is not this create.
        /// Absent when the store had sent no usable `Date`, and in journals written before
        /// it was kept (those resume with the names-only rule); a version that does not know
        /// it ignores it, so the format stays 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clock: Option<i64>,
    },
}

/// What an interrupted run left: finished rows, and rows whose write (a create, a delete, a
/// group change) was sent and may have happened.
#[derive(Debug, Default)]
pub struct Resumed {
    pub finished: HashMap<u64, RowOutcome>,
    pub creating: HashSet<u64>,
    /// The store's clock recorded with a row's first create mark (`None`: not known then).
    pub clocks: HashMap<u64, Option<i64>>,
}

impl Resumed {
    /// The outcome of record `no`, when the interrupted run finished it.
    pub fn outcome(&self, no: u64) -> Option<&RowOutcome> {
        self.finished.get(&no)
    }

    /// True when record `no`'s create (or, for set-group and delete, its write) was sent and
    /// its outcome never recorded.
    pub fn maybe_created(&self, no: u64) -> bool {
        self.creating.contains(&no) && !self.finished.contains_key(&no)
    }

    /// For a row whose create is in doubt ([`Resumed::maybe_created`]): the store's clock
    /// recorded with its mark (`Some(None)` when none was: an older journal, or a store that
    /// sent no usable `Date`); `None` when the row is not in doubt.
    pub fn create_clock(&self, no: u64) -> Option<Option<i64>> {
        self.maybe_created(no)
            .then(|| self.clocks.get(&no).copied().flatten())
    }

    /// How many rows are in that doubt.
    pub fn in_doubt(&self) -> usize {
        self.creating
            .iter()
            .filter(|n| !self.finished.contains_key(n))
            .count()
    }
}

/// The pid in the last `{"pid":P}` line: the process that took the journal last.
pub(super) fn holder_pid(text: &[u8]) -> Option<u32> {
    text.rsplit(|&b| b == b'\n').find_map(|l| {
        match serde_json::from_slice::<Entry>(l.trim_ascii()).ok()? {
            Entry::Owner { pid } => Some(pid),
            _ => None,
        }
    })
}

/// True when a journal's text records a finished row or a write in doubt (not only its head
/// and owners): then starting over would throw something away.
pub fn records_anything(text: &[u8]) -> bool {
    text.split(|&b| b == b'\n').skip(1).any(|l| {
        matches!(
            serde_json::from_slice::<Entry>(l.trim_ascii()),
            Ok(Entry::Done { .. } | Entry::Creating { .. } | Entry::Sending { .. })
        )
    })
}

/// Read the entries after the head (checked by `inspect`) into what the interrupted run left,
/// and the length of the text up to its last whole entry: a torn tail after it is to be cut.
pub(super) fn read_entries(path: &Path, text: &[u8]) -> anyhow::Result<(Resumed, usize)> {
    let mut lines = text.split_inclusive(|&b| b == b'\n').peekable();
    lines.next(); // the head
    let mut resumed = Resumed::default();
    let mut line_no = 1;
    // Bytes up to the end of the last whole entry; a torn tail after it is cut off.
    let mut valid_end = text.len() - lines.clone().map(<[u8]>::len).sum::<usize>();
    while let Some(line) = lines.next() {
        line_no += 1;
        let whole = line.ends_with(b"\n");
        let body = line.trim_ascii();
        if body.is_empty() {
            valid_end += line.len();
            continue;
        }
        match serde_json::from_slice::<Entry>(body) {
                Ok(entry) if whole => {
                    valid_end += line.len();
                    match entry {
                        Entry::Done {
                            no,
                            result,
                            id,
                            message,
                        } => {
                            resumed
                                .finished
                                .insert(no, RowOutcome::new(result, id, message));
                        }
                        Entry::Creating {
                            creating: no,
                            clock,
                        } => {
                            resumed.creating.insert(no);
                            // A create sent more than once (a batch split, or a resumed run
                            // killed again) may have been made by its first send: the clock
                            // before that one is the bound, later marks' are not.
                            resumed.clocks.entry(no).or_insert(clock);
                        }
                        Entry::Sending { sending: no } => {
                            resumed.creating.insert(no);
                        }
                        Entry::Owner { .. } => {}
                    }
                }
                // A kill can cut the last line short; anything else is damage we must not guess past.
                _ if lines.peek().is_none() => {}
                // Only the last line can lack its newline, and that one was handled above.
                Ok(_) => {}
                Err(e) => bail!(
                    "the journal {} is damaged at line {line_no} ({e}); delete it and run without --resume",
                    path.display()
                ),
            }
    }
    Ok((resumed, valid_end))
}
