//! Temporary files: named with the pid of their run and locked while it lives, so the next
//! run can remove what a killed one left and never what a live one holds.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use anyhow::Context;

/// An unlocked temporary file whose pid is alive is another program's pid by now (a live run
/// holds its lock) or a run in the instant between creating and locking it: it is only
/// removed once it is this old.
const STALE_AGE: Duration = Duration::from_secs(3600);

/// A temporary file in `dir` named `.<label>.bc-customers-<pid>-<random>.tmp`, locked for
/// as long as it is open (the lock goes with the process, even on `kill -9`). Temporary files
/// that killed runs left in `dir` are removed first.
pub fn temp_file_in(dir: &Path, label: &str) -> anyhow::Result<tempfile::NamedTempFile> {
    sweep(dir);
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{label}.{TEMP_MARK}{}-", std::process::id()))
        .suffix(".tmp")
        .rand_bytes(6)
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    // A filesystem without locks (some network mounts) still has the pid to go by.
    let _ = tmp.as_file().try_lock();
    Ok(tmp)
}

const TEMP_MARK: &str = "bc-customers-";

/// The pid in a temporary file name of ours (`.<label>.bc-customers-<pid>-<random>.tmp`).
pub(super) fn temp_pid(name: &str) -> Option<u32> {
    let stem = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (_, tail) = stem.rsplit_once('.')?;
    let (pid, random) = tail.strip_prefix(TEMP_MARK)?.split_once('-')?;
    (!random.is_empty() && random.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| pid.parse().ok())
        .flatten()
}

/// Remove the temporary files that killed runs of this tool left in `dir` (once per directory
/// per process). A file is left alone while a live run holds its lock, or while its pid is
/// alive and it is younger than [`STALE_AGE`]. Returns how many were removed.
pub fn sweep(dir: &Path) -> usize {
    static SWEPT: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !SWEPT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashSet::new)
        .insert(key)
    {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_pid) else {
            continue;
        };
        let path = entry.path();
        if is_stale(&path, pid) && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn is_stale(path: &Path, pid: u32) -> bool {
    // Only plain files: a symlink or a directory with such a name is not ours.
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    let old = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age > STALE_AGE);
    let Ok(file) = File::open(path) else {
        return false;
    };
    // The lock (if taken) is held until `file` is dropped, after the removal.
    match file.try_lock() {
        Ok(()) => !pid_alive(pid) || old,
        Err(std::fs::TryLockError::WouldBlock) => false,
        // Locks unsupported here: the pid and the age must both say the run is gone.
        Err(std::fs::TryLockError::Error(_)) => !pid_alive(pid) && old,
    }
}

#[cfg(unix)]
fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn pid_alive(_pid: u32) -> bool {
    true
}
