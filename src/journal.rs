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
//! - `{"creating":N}` just before record N's `POST /customers` is sent: on resume, a record
//!   with this mark and no outcome may have been created (its response was never seen).
//!   Either way a resumed run looks the email up before creating: the mark decides only
//!   whether an existing customer is reported as this row's `created`.
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
    },
}

/// What an interrupted run left: finished rows, and rows whose write (a create, a delete, a
/// group change) was sent and may have happened.
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

    /// True when record `no`'s create (or, for set-group and delete, its write) was sent and
    /// its outcome never recorded.
    pub fn maybe_created(&self, no: u64) -> bool {
        self.creating.contains(&no) && !self.finished.contains_key(&no)
    }

    /// How many rows are in that doubt.
    pub fn in_doubt(&self) -> usize {
        self.creating
            .iter()
            .filter(|n| !self.finished.contains_key(n))
            .count()
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

/// Open the journal at `path` without following a symlink, as a file to append to.
fn open_journal(path: &Path, create_new: bool) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).append(true);
    if create_new {
        opts.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Private like the results file: its lines carry customer ids and row messages.
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    opts.open(path)
}

/// Take the journal's lock without waiting: false when another process holds it.
///
/// `flock` through `libc` (already a dependency) rather than `fs4`/`fd-lock`: one call, no new
/// crate. It locks the open file description, so the sync thread's clone of the file shares the
/// lock, and the kernel drops it when the process dies (a `kill -9` never leaves a stale lock).
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a file descriptor we own; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

/// The results file's lock, held from the start of a run to its end: a second run on the same
/// results file is refused before it sends any request, even while the first run is still
/// planning and has no journal yet (the journal itself exists only once a write was sent, so a
/// run refused at its first request leaves nothing to resume). `<journal>.lock` holds the
/// holder's pid; it is removed when the run ends, and one left by a `kill -9` is not locked
/// (the kernel drops a dead process's `flock`), so the next run simply takes it over.
pub struct RunLock {
    path: PathBuf,
    _file: File,
}

impl RunLock {
    /// Take the lock for `journal` (the journal path the run would use), or say who holds it.
    pub fn take(journal: &Path) -> anyhow::Result<RunLock> {
        let mut name = journal.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        // A few tries: a holder that ends between our open and our lock removes the file, and
        // a lock on an unlinked file would guard nothing.
        for _ in 0..5 {
            let file = match open_lock(&path) {
                Ok(file) => file,
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => anyhow::bail!(
                    "{} is a symbolic link: refusing to follow it (the lock of a run's results file is never a link)",
                    path.display()
                ),
                Err(e) => {
                    return Err(e).with_context(|| format!("opening {}", path.display()));
                }
            };
            if !file.metadata()?.is_file() {
                anyhow::bail!(
                    "{} is not a regular file: refusing to use it as the run's lock",
                    path.display()
                );
            }
            if !try_lock(&file).with_context(|| format!("locking {}", path.display()))? {
                let mut text = Vec::new();
                (&file).take(4096).read_to_end(&mut text)?;
                return Err(in_use(&path, &text));
            }
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0)?;
            (&file).write_all(
                format!("{}\n", serde_json::json!({ "pid": std::process::id() })).as_bytes(),
            )?;
            return Ok(RunLock { path, _file: file });
        }
        anyhow::bail!("{}: could not take the run's lock", path.display())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked: a run waiting on it sees the file gone and makes anew.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Open (or create, private) the lock file without following a symlink.
fn open_lock(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    opts.open(path)
}

/// Does `path` still name the file we hold open (not unlinked or replaced since)?
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, _path: &Path) -> bool {
    true
}

/// The pid in the last `{"pid":P}` line: the process that took the journal last.
fn holder_pid(text: &[u8]) -> Option<u32> {
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

fn in_use(path: &Path, text: &[u8]) -> anyhow::Error {
    let who = match holder_pid(text) {
        Some(pid) => format!("another bc-customers run (pid {pid})"),
        None => "another bc-customers run".into(),
    };
    anyhow::anyhow!(
        "{} is in use by {who}: two runs on the same results file would mix their records. Wait for it to end (or stop it), or choose another --results",
        path.display()
    )
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
        let mut lines = text.split_inclusive(|&b| b == b'\n').peekable();
        lines.next(); // the head, checked by `inspect`
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
                        Entry::Creating { creating: no } | Entry::Sending { sending: no } => {
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
        file.set_len(valid_end as u64)
            .and_then(|_| file.sync_all())
            .with_context(|| format!("writing the journal {}", path.display()))?;
        let journal = Journal::open(path, file)?;
        journal.append(&Entry::Owner {
            pid: std::process::id(),
        })?;
        Ok((journal, resumed))
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
