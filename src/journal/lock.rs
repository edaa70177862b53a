//! Opening and locking: the journal opened without following a symlink, the `flock` that
//! keeps two runs apart, and the run's lock file (`<journal>.lock`) with its holder's pid.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::format::holder_pid;

/// Open the journal at `path` without following a symlink, as a file to append to.
pub(super) fn open_journal(path: &Path, create_new: bool) -> std::io::Result<File> {
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
pub(super) fn try_lock(file: &File) -> std::io::Result<bool> {
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
pub(super) fn try_lock(_file: &File) -> std::io::Result<bool> {
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

pub(super) fn in_use(path: &Path, text: &[u8]) -> anyhow::Error {
    let who = match holder_pid(text) {
        Some(pid) => format!("another bc-customers run (pid {pid})"),
        None => "another bc-customers run".into(),
    };
    anyhow::anyhow!(
        "{} is in use by {who}: two runs on the same results file would mix their records. Wait for it to end (or stop it), or choose another --results",
        path.display()
    )
}
