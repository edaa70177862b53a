//! The import journal: a durable, append-only record of finished rows, so that `--resume`
//! after a crash or `kill -9` sends nothing for them and never creates a customer twice.
//!
//! It lives beside the results file (`<results>.journal`) because the results file itself is
//! written atomically at the end (a reader never sees half of it), so it cannot double as a
//! progress record. The first line identifies the input (path, size, mtime, a hash of its
//! first 64 KiB, and the options that change what a row means); a resume against another
//! input is refused. Then one JSON line per event:
//!
//! - `{"creating":N}` just before record N's `POST /customers` is sent: on resume, a record
//!   with this mark and no outcome may have been created (its response was never seen).
//!   Either way a resumed run looks the email up before creating: the mark decides only
//!   whether an existing customer is reported as this row's `created`.
//! - `{"no":N,"result":"created","id":7,"message":"…"}` when record N finished.
//!
//! Each line is one `write` to the file (so it survives the process being killed), and a
//! background thread fsyncs the file every [`SYNC_EVERY_ROWS`] lines or [`SYNC_EVERY`] (so it
//! survives a power cut, up to that window). The journal is removed when the run completes.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::results::{RowOutcome, RowResult};

/// Sync the journal to disk at least every this many lines…
pub const SYNC_EVERY_ROWS: u32 = 50;
/// …or this often, whichever comes first.
pub const SYNC_EVERY: Duration = Duration::from_millis(200);

const MAGIC: &str = "bc-customers import journal";
const VERSION: u32 = 1;

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
    fn mismatch(&self, now: &Fingerprint) -> Option<String> {
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
struct Head {
    journal: String,
    version: u32,
    fingerprint: Fingerprint,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Entry {
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
    },
}

/// What an interrupted run left: finished rows, and rows whose create may have happened.
#[derive(Debug, Default)]
pub struct Resumed {
    pub finished: HashMap<u64, RowOutcome>,
    pub creating: HashSet<u64>,
}

impl Resumed {
    /// The outcome of record `no`, when the interrupted run finished it.
    pub fn outcome(&self, no: u64) -> Option<&RowOutcome> {
        self.finished.get(&no)
    }

    /// True when record `no`'s create was sent and its outcome never recorded.
    pub fn maybe_created(&self, no: u64) -> bool {
        self.creating.contains(&no) && !self.finished.contains_key(&no)
    }
}

/// Fsyncs the journal off the workers' path: a background thread syncs every
/// [`SYNC_EVERY_ROWS`] lines, or [`SYNC_EVERY`] after a line, whichever comes first. Syncing
/// inline blocked a runtime worker and every other row's append behind the lock: 1,100–1,650
/// rows/s against the sandbox versus ~2,050 without a journal (debug build, shared machine);
/// off the path, the difference is within that machine's noise.
#[derive(Default)]
struct Syncer {
    state: Mutex<SyncState>,
    wake: Condvar,
}

#[derive(Default)]
struct SyncState {
    unsynced: u32,
    stop: bool,
    /// A failed fsync, reported by the next append.
    failed: Option<String>,
}

impl Syncer {
    fn run(&self, file: File) {
        loop {
            let mut s = self.state.lock().unwrap();
            let mut waited_since_line = false;
            while !s.stop && s.unsynced < SYNC_EVERY_ROWS && !(waited_since_line && s.unsynced > 0)
            {
                let (guard, timeout) = self.wake.wait_timeout(s, SYNC_EVERY).unwrap();
                s = guard;
                waited_since_line = timeout.timed_out();
            }
            let (pending, stop) = (s.unsynced, s.stop);
            s.unsynced = 0;
            drop(s);
            if pending > 0 {
                if let Err(e) = file.sync_data() {
                    self.state.lock().unwrap().failed = Some(e.to_string());
                }
            }
            if stop {
                return;
            }
        }
    }
}

/// An open journal, appended to by every worker.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    syncer: Arc<Syncer>,
    sync_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// `<results>.journal`.
pub fn path_for(results: &Path) -> PathBuf {
    let mut name = results.file_name().unwrap_or_default().to_os_string();
    name.push(".journal");
    results.with_file_name(name)
}

impl Journal {
    /// Start a new journal at `path` (replacing any earlier one) for `fp`.
    pub fn create(path: &Path, fp: &Fingerprint) -> anyhow::Result<Journal> {
        // Private like the results file: its lines carry customer ids and row messages.
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts
            .open(path)
            .with_context(|| format!("creating the journal {}", path.display()))?;
        let head = Head {
            journal: MAGIC.into(),
            version: VERSION,
            fingerprint: fp.clone(),
        };
        let mut line = serde_json::to_vec(&head)?;
        line.push(b'\n');
        file.write_all(&line)
            .and_then(|_| file.sync_all())
            .with_context(|| format!("writing the journal {}", path.display()))?;
        Journal::open(path, file)
    }

    fn open(path: &Path, file: File) -> anyhow::Result<Journal> {
        let for_sync = file
            .try_clone()
            .with_context(|| format!("opening the journal {}", path.display()))?;
        let syncer = Arc::new(Syncer::default());
        let thread = {
            let syncer = Arc::clone(&syncer);
            std::thread::Builder::new()
                .name("journal-sync".into())
                .spawn(move || syncer.run(for_sync))
                .context("starting the journal's sync thread")?
        };
        Ok(Journal {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            syncer,
            sync_thread: Mutex::new(Some(thread)),
        })
    }

    /// Open the journal of an interrupted run for `fp`: read what it recorded, then keep
    /// appending to it. Refuses a journal written for another input or other options.
    pub fn resume(path: &Path, fp: &Fingerprint) -> anyhow::Result<(Journal, Resumed)> {
        let text = std::fs::read(path)
            .with_context(|| format!("reading the journal {}", path.display()))?;
        let mut lines = text.split_inclusive(|&b| b == b'\n').peekable();
        let head: Head = lines
            .next()
            .and_then(|l| serde_json::from_slice(l).ok())
            .filter(|h: &Head| h.journal == MAGIC)
            .with_context(|| {
                format!(
                    "{} is not a bc-customers import journal; delete it or choose another --results",
                    path.display()
                )
            })?;
        if head.version != VERSION {
            bail!(
                "the journal {} was written by another version of bc-customers (format {}); delete it and run without --resume",
                path.display(),
                head.version
            );
        }
        if let Some(why) = head.fingerprint.mismatch(fp) {
            bail!(
                "cannot resume from {}: {why}. Run without --resume to start over (rows already imported are then found and reported unchanged), or pass the same input and options as the interrupted run",
                path.display()
            );
        }
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
                        Entry::Creating { creating } => {
                            resumed.creating.insert(creating);
                        }
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
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("opening the journal {}", path.display()))?;
        file.set_len(valid_end as u64)
            .and_then(|_| file.sync_all())
            .with_context(|| format!("writing the journal {}", path.display()))?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("opening the journal {}", path.display()))?;
        Ok((Journal::open(path, file)?, resumed))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record that record `no`'s create is about to be sent: this mark is what lets a
    /// resumed run tell "created by the interrupted run" from "existed before". It survives a
    /// kill at once (one `write`); it is fsynced with the batch, not alone: a power cut that
    /// loses it only changes the label a resumed run gives the row ("unchanged", or "already
    /// exists" in `--mode create`), never creates twice (the email is looked up first), and a
    /// sync per create would serialise the workers on the disk.
    pub fn creating(&self, no: u64) -> anyhow::Result<()> {
        self.append(&Entry::Creating { creating: no })
    }

    /// Record record `no`'s outcome.
    pub fn finished(&self, no: u64, outcome: &RowOutcome) -> anyhow::Result<()> {
        self.append(&Entry::Done {
            no,
            result: outcome.result,
            id: outcome.customer_id,
            message: outcome.message.clone(),
        })
    }

    fn append(&self, entry: &Entry) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        // One write per line, unbuffered: once it returns, a killed process loses nothing.
        self.file
            .lock()
            .unwrap()
            .write_all(&line)
            .with_context(|| format!("writing the journal {}", self.path.display()))?;
        let mut s = self.syncer.state.lock().unwrap();
        if let Some(e) = s.failed.take() {
            bail!("syncing the journal {}: {e}", self.path.display());
        }
        s.unsynced += 1;
        if s.unsynced == 1 || s.unsynced >= SYNC_EVERY_ROWS {
            self.syncer.wake.notify_one();
        }
        Ok(())
    }

    /// Sync what is left and stop the sync thread (idempotent).
    fn stop_syncing(&self) {
        self.syncer.state.lock().unwrap().stop = true;
        self.syncer.wake.notify_one();
        if let Some(t) = self.sync_thread.lock().unwrap().take() {
            let _ = t.join();
        }
    }

    /// The run completed and its results file is in place: the journal has served.
    pub fn remove(&self) -> anyhow::Result<()> {
        self.stop_syncing();
        std::fs::remove_file(&self.path)
            .with_context(|| format!("removing the journal {}", self.path.display()))
    }

    /// True when the journal at `path` was written for `fp` (an interrupted run of this very
    /// import), so that starting over would throw its record away.
    pub fn resume_check(path: &Path, fp: &Fingerprint) -> bool {
        std::fs::read(path).ok().is_some_and(|text| {
            let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
            serde_json::from_slice::<Head>(first)
                .is_ok_and(|h| h.journal == MAGIC && h.fingerprint.mismatch(fp).is_none())
        })
    }
}

/// Remove the temporary results files (`.<name>.*.tmp`, see [`crate::outfile::OutputFile`]) that
/// a killed run of this import could not clean up; returns how many. Only called on
/// `--resume`, when we know the run that wrote them is dead.
pub fn remove_stale_temp_files(results: &Path) -> usize {
    let name = results.file_name().unwrap_or_default().to_string_lossy();
    let prefix = format!(".{name}.");
    let dir = match results.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&prefix) && n.ends_with(".tmp")
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.stop_syncing();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("in.csv");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn round_trip_and_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let inp = input(dir.path(), "email\na@x.com\n");
        let fp = Fingerprint::of(&inp, "upsert").unwrap();
        let jp = path_for(&dir.path().join("r.csv"));
        assert!(jp.ends_with("r.csv.journal"));
        let j = Journal::create(&jp, &fp).unwrap();
        j.creating(1).unwrap();
        j.creating(2).unwrap();
        j.finished(
            1,
            &RowOutcome::new(RowResult::Created, Some(7), "with an address"),
        )
        .unwrap();
        drop(j);
        // A crash mid-line.
        OpenOptions::new()
            .append(true)
            .open(&jp)
            .unwrap()
            .write_all(b"{\"no\":3,\"res")
            .unwrap();
        let (j, r) = Journal::resume(&jp, &fp).unwrap();
        assert_eq!(r.outcome(1).unwrap().customer_id, Some(7));
        assert!(r.outcome(3).is_none());
        assert!(!r.maybe_created(1), "finished rows are not in doubt");
        assert!(r.maybe_created(2));
        j.finished(2, &RowOutcome::invalid("x")).unwrap();
        drop(j);
        let (j, r) = Journal::resume(&jp, &fp).unwrap();
        assert_eq!(r.outcome(2).unwrap().result, RowResult::Invalid);
        j.remove().unwrap();
        assert!(!jp.exists());
    }

    #[test]
    fn another_input_or_options_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inp = input(dir.path(), "email\na@x.com\n");
        let jp = dir.path().join("r.journal");
        Journal::create(&jp, &Fingerprint::of(&inp, "upsert").unwrap()).unwrap();
        let e = Journal::resume(&jp, &Fingerprint::of(&inp, "create").unwrap())
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("options"), "{e:#}");
        std::fs::write(&inp, "email\nb@x.com\n").unwrap();
        let e = Journal::resume(&jp, &Fingerprint::of(&inp, "upsert").unwrap())
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("changed"), "{e:#}");
        std::fs::write(&jp, "garbage\n").unwrap();
        let e = Journal::resume(&jp, &Fingerprint::of(&inp, "upsert").unwrap())
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("not a bc-customers"), "{e:#}");
    }
}
