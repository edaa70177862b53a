//! The journal of a row command (import, set-group, delete, validate-password): a durable,
//! append-only record of finished rows, so that `--resume` after a crash or `kill -9` sends
//! nothing for them, never creates a customer twice, and reports a delete that happened as
//! `deleted`.
//!
//! It lives beside the results file (`<results>.journal`) because the results file itself is
//! written atomically at the end (a reader never sees half of it), so it cannot double as a
//! progress record. The first line identifies the input (path, size, mtime, a hash of its
//! first 64 KiB, and the options that change what a row means); a resume against another
//! input is refused. Then one JSON line per event:
//!
//! - `{"creating":N,"clock":T}` just before record N's `POST /customers` is sent, `T` being
//!   the store's clock then (Unix seconds; absent when unknown, and in journals of earlier
//!   versions): on resume, a record with this mark and no outcome may have been created (its
//!   response was never seen). Either way a resumed run looks the email up before creating:
//!   the mark decides only whether an existing customer is reported as this row's `created`,
//!   and only one that could be this create (`api::once::claim`: the row's names, not created
//!   before `T`) is.
//! - `{"sending":N}` just before record N's `DELETE` (or set-group's `PUT`): on resume, a row
//!   with this mark and no outcome may have been done, so a customer found gone (or already in
//!   the group) is reported `deleted` (`updated`), not `failed` (`unchanged`).
//! - `{"no":N,"result":"created","id":7,"message":"…"}` when record N finished.
//! - `{"pid":P}` when a run takes the journal (created or resumed): the last one names the
//!   process holding it, for the message that refuses a second run.
//!
//! Each line is one `write` to the file (so it survives the process being killed), and a
//! background thread fsyncs the file every [`SYNC_EVERY_ROWS`] lines or [`SYNC_EVERY`] (so it
//! survives a power cut, up to that window). The journal is removed when the run completes.
//!
//! The journal is opened without following a symlink (`O_NOFOLLOW`: a link planted at the
//! predictable `<results>.journal` must not make the tool truncate another file), and locked
//! with `flock` while a run uses it, so two runs never interleave their records. A file at the
//! journal's path that is not a journal (its first line is not ours) is never truncated,
//! replaced or removed: the run refuses to start.

mod format;
mod lock;
mod sync;

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::results::RowOutcome;

pub use format::{records_anything, Fingerprint, Resumed};
pub use lock::RunLock;

use format::{Entry, Head, MAGIC, VERSION};
use lock::{in_use, open_journal, try_lock};
use sync::Syncer;

/// Sync the journal to disk at least every this many lines…
pub const SYNC_EVERY_ROWS: u32 = 50;
/// …or this often, whichever comes first.
pub const SYNC_EVERY: Duration = Duration::from_millis(200);

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

/// What a run finds at its journal's path before it sends anything (the file, when there is
/// one, is open and locked by this process from then on).
pub enum Found {
    /// No file: a journal is created at the first write.
    Nothing,
    /// The journal of this very run (same input and options): its text, to resume from.
    Same { file: File, text: Vec<u8> },
    /// A journal of another input or other options (or an empty file, a journal whose first
    /// write was cut off): replaced at this run's first write. `why` says how it differs.
    Other { file: File, why: String },
}

/// Look at the journal path before the run sends anything: refuse a symlink, a file that is
/// not a journal, or a journal another run holds; otherwise keep the file open and locked.
pub fn inspect(path: &Path, fp: &Fingerprint) -> anyhow::Result<Found> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(e) => {
            return Err(e).with_context(|| format!("reading the journal {}", path.display()))
        }
        Ok(m) if m.file_type().is_symlink() => bail!(
            "{} is a symbolic link: a journal is never followed (it could point at any file); remove the link or choose another --results",
            path.display()
        ),
        Ok(m) if !m.is_file() => bail!(
            "{} is not a regular file, so it cannot be this run's journal; remove it or choose another --results",
            path.display()
        ),
        Ok(_) => {}
    }
    let mut file = open_journal(path, false)
        .with_context(|| format!("opening the journal {}", path.display()))?;
    let mut text = Vec::new();
    file.read_to_end(&mut text)
        .with_context(|| format!("reading the journal {}", path.display()))?;
    if !try_lock(&file).with_context(|| format!("locking the journal {}", path.display()))? {
        return Err(in_use(path, &text));
    }
    if text.is_empty() {
        return Ok(Found::Other {
            file,
            why: "it is empty".into(),
        });
    }
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let head = match serde_json::from_slice::<Head>(first) {
        Ok(h) if h.journal == MAGIC => h,
        _ => bail!(
            "{} exists and is not a bc-customers journal: it is left as it is. Move it away, or choose another --results",
            path.display()
        ),
    };
    if head.version != VERSION {
        return Ok(Found::Other {
            file,
            why: format!(
                "it was written by another version of bc-customers (format {})",
                head.version
            ),
        });
    }
    Ok(match head.fingerprint.mismatch(fp) {
        None => Found::Same { file, text },
        Some(why) => Found::Other { file, why },
    })
}

impl Journal {
    /// Start a new journal for `fp` at `path`: in `file` (an earlier journal, open and locked,
    /// which is emptied), or in a new file. Called just before the run's first write.
    pub fn start(path: &Path, file: Option<File>, fp: &Fingerprint) -> anyhow::Result<Journal> {
        let mut file = match file {
            Some(f) => {
                f.set_len(0)
                    .with_context(|| format!("emptying the journal {}", path.display()))?;
                f
            }
            None => match open_journal(path, true) {
                Ok(f) => {
                    if !try_lock(&f)
                        .with_context(|| format!("locking the journal {}", path.display()))?
                    {
                        return Err(in_use(path, b""));
                    }
                    f
                }
                // Created since the run started: another run on the same results file.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(in_use(path, &std::fs::read(path).unwrap_or_default()))
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("creating the journal {}", path.display()))
                }
            },
        };
        let head = Head {
            journal: MAGIC.into(),
            version: VERSION,
            fingerprint: fp.clone(),
        };
        let mut lines = serde_json::to_vec(&head)?;
        lines.push(b'\n');
        lines.extend(serde_json::to_vec(&Entry::Owner {
            pid: std::process::id(),
        })?);
        lines.push(b'\n');
        file.write_all(&lines)
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

    /// Continue the journal of an interrupted run (found by [`inspect`] as [`Found::Same`]):
    /// read what it recorded, cut a torn last line, and keep appending to it.
    pub fn resume(path: &Path, file: File, text: &[u8]) -> anyhow::Result<(Journal, Resumed)> {
        let (resumed, valid_end) = format::read_entries(path, text)?;
        file.set_len(valid_end as u64)
            .and_then(|_| file.sync_all())
            .with_context(|| format!("writing the journal {}", path.display()))?;
        let journal = Journal::open(path, file)?;
        journal.append(&Entry::Owner {
            pid: std::process::id(),
        })?;
        Ok((journal, resumed))
    }

    /// Record that record `no`'s create is about to be sent: this mark is what lets a
    /// resumed run tell "created by the interrupted run" from "existed before". It survives a
    /// kill at once (one `write`); it is fsynced with the batch, not alone: a power cut that
    /// loses it only changes the label a resumed run gives the row ("unchanged", or "already
    /// exists" in `--mode create`), never creates twice (the email is looked up first), and a
    /// sync per create would serialise the workers on the disk.
    ///
    /// `clock` is the store's clock just before the send ([`crate::api::Client::store_clock`]).
    pub fn creating(&self, no: u64, clock: Option<i64>) -> anyhow::Result<()> {
        self.append(&Entry::Creating {
            creating: no,
            clock,
        })
    }

    /// Record that record `no`'s delete (or group change) is about to be sent: on resume, a
    /// customer found gone (or in the group) is then this run's doing.
    pub fn sending(&self, no: u64) -> anyhow::Result<()> {
        self.append(&Entry::Sending { sending: no })
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
mod tests;
