//! Where the tool's output files go, and what they may never overwrite.
//!
//! - A regular file (or a name that does not exist yet) is replaced atomically: the output is
//!   written to a temporary file in the same directory, synced, and renamed onto it, so a
//!   reader sees the previous file or the complete new one. A symlink is followed and its
//!   *target* is replaced (the link stays a link, pointing at the new file).
//! - Anything else is written in place: a character device (`/dev/null`, `/dev/full`, a
//!   terminal), a FIFO, or a descriptor the process inherited (`/dev/stdout`, `/dev/fd/3`).
//!   Renaming a regular file over one of them would, run as root, replace the machine's
//!   `/dev/null` with a file of customer data; a write error there (`/dev/full`: ENOSPC) is an
//!   ordinary fatal error.
//! - [`RunFiles`] checks a run's files before any request: two outputs naming the same file in
//!   any spelling, or an output naming an input, is a usage error ([`OutputConflict`]).
//! - Temporary files are named `.<name>.bc-customers-<pid>-<random>.tmp` and locked
//!   (`flock`) while their run lives; [`temp::sweep`] removes those of killed runs from a directory
//!   the current run writes to, and never one a live run holds.

mod conflicts;
mod temp;

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

pub use conflicts::{OutputConflict, RunFiles};
pub use temp::temp_file_in;

/// What every CSV starts with under `--bom` (what Excel needs to read UTF-8 as UTF-8).
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Symlink hops followed before giving up (the kernel's own limit is 40).
const MAX_LINKS: usize = 40;

/// What writing to a path means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A regular file at this path (symlinks followed), existing or to be created: replaced
    /// atomically.
    File(PathBuf),
    /// A descriptor this process inherited, named by `/dev/stdout`, `/dev/stderr`,
    /// `/dev/fd/N` or `/proc/self/fd/N`: written through that descriptor, so `>> log` keeps
    /// appending and a pipe gets the bytes (reopening the name would truncate the log, or
    /// replace it).
    Descriptor(i32),
    /// A character or block device, a FIFO or a socket at this path: opened and written.
    Special(PathBuf),
}

impl Target {
    /// Classify `path`, following symlinks.
    pub fn of(path: &Path) -> io::Result<Target> {
        let mut p = path.to_path_buf();
        for _ in 0..MAX_LINKS {
            if let Some(fd) = descriptor_spelling(&p) {
                return Ok(Target::Descriptor(fd));
            }
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    let link = std::fs::read_link(&p)?;
                    // A relative link is relative to the link's directory; `join` keeps an
                    // absolute one as it is.
                    p = match p.parent() {
                        Some(dir) => dir.join(link),
                        None => link,
                    };
                }
                Ok(m) if m.is_file() => return Ok(Target::File(p)),
                Ok(m) if m.is_dir() => {
                    return Err(io::Error::other(format!("{} is a directory", p.display())))
                }
                Ok(_) => return Ok(Target::Special(p)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::File(p)),
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(format!(
            "{}: too many levels of symbolic links",
            path.display()
        )))
    }
}

/// True when an output at `path` would be written in place (a device, a FIFO, an inherited
/// descriptor) rather than replaced: such an output has no directory of its own to keep a
/// journal or temporary files beside it.
pub fn writes_in_place(path: &Path) -> bool {
    matches!(
        Target::of(path),
        Ok(Target::Descriptor(_) | Target::Special(_))
    )
}

/// `/proc/self/fd/N`, `/dev/fd/N` (any spelling of those directories): descriptor N.
#[cfg(unix)]
fn descriptor_spelling(p: &Path) -> Option<i32> {
    let fd: i32 = p.file_name()?.to_str()?.parse().ok()?;
    let dir = std::fs::canonicalize(p.parent()?).ok()?;
    let own = PathBuf::from(format!("/proc/{}/fd", std::process::id()));
    // Linux: /dev/fd and /proc/self/fd resolve to /proc/<pid>/fd; macOS and the BSDs have a
    // real /dev/fd.
    (dir == own || dir == Path::new("/dev/fd")).then_some(fd)
}

#[cfg(not(unix))]
fn descriptor_spelling(_p: &Path) -> Option<i32> {
    None
}

/// A new handle on inherited descriptor `fd` (closing it leaves `fd` open).
#[cfg(unix)]
pub(super) fn dup_descriptor(fd: i32) -> io::Result<File> {
    use std::os::fd::BorrowedFd;
    // SAFETY: F_GETFD only asks whether `fd` is open; borrow_raw is sound only for an open
    // descriptor, which the check establishes, and the borrow ends with this function.
    unsafe {
        if libc::fcntl(fd, libc::F_GETFD) == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(File::from(BorrowedFd::borrow_raw(fd).try_clone_to_owned()?))
    }
}

#[cfg(not(unix))]
pub(super) fn dup_descriptor(fd: i32) -> io::Result<File> {
    Err(io::Error::other(format!(
        "descriptor {fd} cannot be reopened"
    )))
}

/// An output file: a regular file written to a temporary name in its directory, flushed,
/// synced and renamed into place by [`OutputFile::commit`], or a device, FIFO or inherited
/// descriptor written as it goes (see the module docs). Dropped without commit (an error, a
/// panic), a temporary file is removed and any previous file at the path is untouched.
pub struct OutputFile {
    dest: Dest,
    /// The path as the user gave it, for messages.
    path: PathBuf,
    /// Bytes written since the kernel was last asked to start writing them to disk.
    unsynced: usize,
    /// Synced by [`OutputFile::sync`], and nothing written since.
    synced: bool,
}

enum Dest {
    /// A temporary file in `target`'s directory, renamed onto `target` by commit.
    Replace {
        tmp: BufWriter<tempfile::NamedTempFile>,
        target: PathBuf,
    },
    /// Written directly: nothing to rename, nothing to remove.
    InPlace(BufWriter<File>),
}

/// Every so many bytes written, ask the kernel to start writing the file to disk (Linux:
/// `sync_file_range`, which does not wait), so that the `fsync` before the rename finds little
/// left to do: for a 17.5 MB export it took 11 ms of the run's end, now a few.
const KICK_WRITEBACK: usize = 4 << 20;

impl OutputFile {
    pub fn create(path: &Path) -> anyhow::Result<OutputFile> {
        let target = Target::of(path).with_context(|| format!("writing {}", path.display()))?;
        let dest = match target {
            Target::File(target) => {
                let dir = parent_dir(&target);
                let name = target
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let tmp = temp_file_in(&dir, &name)?;
                Dest::Replace {
                    tmp: BufWriter::with_capacity(256 * 1024, tmp),
                    target,
                }
            }
            Target::Descriptor(fd) => {
                Dest::InPlace(BufWriter::new(dup_descriptor(fd).with_context(|| {
                    format!("writing {} (descriptor {fd})", path.display())
                })?))
            }
            Target::Special(p) => {
                // No create, no truncate: it exists and is not a regular file. A FIFO's open
                // waits for its reader, as any writer's does.
                let file = OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .with_context(|| format!("opening {}", path.display()))?;
                // Swapped for a regular file since it was looked at: writing into that in
                // place would leave its old tail behind.
                if file.metadata().is_ok_and(|m| m.is_file()) {
                    anyhow::bail!("{} changed while it was being opened", path.display());
                }
                Dest::InPlace(BufWriter::new(file))
            }
        };
        Ok(OutputFile {
            dest,
            path: path.to_path_buf(),
            unsynced: 0,
            synced: false,
        })
    }

    /// False for a device, FIFO or inherited descriptor: what was written cannot be taken
    /// back, so it cannot start over either.
    pub fn is_replaced(&self) -> bool {
        matches!(self.dest, Dest::Replace { .. })
    }

    /// The directory the temporary file is in (None when written in place).
    pub fn dir(&self) -> Option<PathBuf> {
        match &self.dest {
            Dest::Replace { target, .. } => Some(parent_dir(target)),
            Dest::InPlace(_) => None,
        }
    }

    /// Write the temporary file again from its start (None when written in place: what was
    /// sent cannot be taken back). The same file, overwritten, rather than a new one: a new
    /// one left the old one's blocks to free, and on a filesystem mounted with `discard` (as
    /// here) each rename or fsync after that waited for them to be trimmed (an export of
    /// 100,000 customers whose form fields appear late restarted six times: 55 MB written to
    /// disk and thrown away, and 60 ms of fsync and rename at its end).
    pub fn rewind(mut self) -> io::Result<Option<OutputFile>> {
        match &mut self.dest {
            Dest::InPlace(_) => Ok(None),
            Dest::Replace { tmp, .. } => {
                tmp.seek(SeekFrom::Start(0))?;
                Ok(Some(self))
            }
        }
    }

    /// Flush and, for a regular file, end it where it was last written (a rewound file may
    /// have been longer) and fsync it: all of [`OutputFile::commit`] that can fail for want of
    /// disk, so that every output of a run is made durable, at once, before any is renamed.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        let path = &self.path;
        let writing = || format!("writing {}", path.display());
        match &mut self.dest {
            Dest::InPlace(f) => f.flush().with_context(writing)?,
            Dest::Replace { tmp, .. } => {
                tmp.flush().with_context(writing)?;
                let file = tmp.get_mut();
                let end = file.stream_position().with_context(writing)?;
                file.as_file().set_len(end).with_context(writing)?;
                file.as_file()
                    .sync_all()
                    .with_context(|| format!("syncing {}", path.display()))?;
            }
        }
        self.synced = true;
        Ok(())
    }

    /// [`OutputFile::sync`] unless nothing was written since; for a regular file then rename
    /// it into place and fsync the directory.
    pub fn commit(mut self) -> anyhow::Result<()> {
        if !self.synced {
            self.sync()?;
        }
        match self.dest {
            Dest::InPlace(_) => Ok(()),
            Dest::Replace { tmp, target } => {
                let tmp = tmp
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(|| format!("writing {}", self.path.display()))?;
                tmp.persist(&target).map_err(|e| e.error).with_context(|| {
                    format!("renaming the finished file to {}", target.display())
                })?;
                if let Ok(d) = File::open(parent_dir(&target)) {
                    let _ = d.sync_all();
                }
                Ok(())
            }
        }
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.synced = false;
        match &mut self.dest {
            Dest::InPlace(f) => f.write(buf),
            Dest::Replace { tmp, .. } => {
                let n = tmp.write(buf)?;
                self.unsynced += n;
                if self.unsynced >= KICK_WRITEBACK {
                    self.unsynced = 0;
                    start_writeback(tmp.get_ref().as_file());
                }
                Ok(n)
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.dest {
            Dest::InPlace(f) => f.flush(),
            Dest::Replace { tmp, .. } => tmp.flush(),
        }
    }
}

/// Start writing what the kernel holds of `file` to disk, without waiting (a hint: errors
/// are for the `fsync` at commit to report).
#[cfg(target_os = "linux")]
fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall on a file descriptor this `File` owns for the whole call.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File) {}

/// The directory a file is in (`.` for a bare name).
pub(super) fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests;
