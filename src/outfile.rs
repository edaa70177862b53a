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
//!   (`flock`) while their run lives; [`sweep`] removes those of killed runs from a directory
//!   the current run writes to, and never one a live run holds.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use anyhow::Context;

/// What every CSV starts with under `--bom` (what Excel needs to read UTF-8 as UTF-8).
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Symlink hops followed before giving up (the kernel's own limit is 40).
const MAX_LINKS: usize = 40;

/// An unlocked temporary file whose pid is alive is another program's pid by now (a live run
/// holds its lock) or a run in the instant between creating and locking it: it is only
/// removed once it is this old.
const STALE_AGE: Duration = Duration::from_secs(3600);

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
fn dup_descriptor(fd: i32) -> io::Result<File> {
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
fn dup_descriptor(fd: i32) -> io::Result<File> {
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
    /// The path as the user gave it, for messages and to start over.
    path: PathBuf,
    /// Bytes written since the kernel was last asked to start writing them to disk.
    unsynced: usize,
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
        })
    }

    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.path
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

    /// Flush; for a regular file also fsync, rename into place and fsync the directory.
    pub fn commit(self) -> anyhow::Result<()> {
        let path = self.path;
        match self.dest {
            Dest::InPlace(mut f) => f
                .flush()
                .with_context(|| format!("writing {}", path.display())),
            Dest::Replace { tmp, target } => {
                let tmp = tmp
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(|| format!("writing {}", path.display()))?;
                tmp.as_file()
                    .sync_all()
                    .with_context(|| format!("syncing {}", path.display()))?;
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
fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

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
fn temp_pid(name: &str) -> Option<u32> {
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

/// Two outputs of one run naming the same file, or an output naming an input: a usage error
/// (exit 2), found before any request.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct OutputConflict {
    pub message: String,
    /// `--summary-json` is one of the two: the failure document must not be written there
    /// either (it would overwrite the very file the check protects).
    pub summary_at_stake: bool,
}

const SUMMARY: &str = "--summary-json";

/// The files one run reads and writes, checked together by [`RunFiles::check`].
#[derive(Debug, Default)]
pub struct RunFiles {
    inputs: Vec<(String, PathBuf)>,
    outputs: Vec<(String, PathBuf)>,
    /// Checked after the command's own outputs, so that a message names those first.
    summary: Option<PathBuf>,
}

impl RunFiles {
    /// The files every command has: the `--token-file` it reads and the `--summary-json` it
    /// writes.
    pub fn new(g: &crate::settings::Settings) -> RunFiles {
        let mut files = RunFiles::default();
        if let Some(p) = &g.token_file {
            files = files.input("the --token-file", p);
        }
        files.summary = g.summary_json.clone();
        files
    }

    /// A file the run reads (`-`: standard input).
    pub fn input(mut self, what: &str, path: &Path) -> RunFiles {
        self.inputs.push((what.to_string(), path.to_path_buf()));
        self
    }

    /// A file the run writes (`-`: standard output).
    pub fn output(mut self, what: &str, path: &Path) -> RunFiles {
        self.outputs.push((what.to_string(), path.to_path_buf()));
        self
    }

    /// The results file and the journal kept beside it (`<results>.journal`).
    pub fn results(self, path: &Path) -> RunFiles {
        self.output("the results file", path).output(
            "the results file's journal",
            &crate::journal::path_for(path),
        )
    }

    /// Refuse two outputs naming one file, or an output naming an input. Character devices
    /// are exempt: `/dev/null` or a terminal has no content to destroy.
    pub fn check(&self) -> anyhow::Result<()> {
        let summary = self
            .summary
            .iter()
            .map(|p| (SUMMARY.to_string(), p.clone()));
        let all: Vec<(String, PathBuf)> = self.outputs.iter().cloned().chain(summary).collect();
        let outputs: Vec<_> = all
            .iter()
            .map(|(what, p)| (what, p, identity(p, 1)))
            .collect();
        for (i, (what, path, id)) in outputs.iter().enumerate() {
            let Some(id) = id else { continue };
            if let Some((first, first_path, _)) =
                outputs[..i].iter().find(|(_, _, o)| o.as_ref() == Some(id))
            {
                return Err(OutputConflict {
                    message: format!(
                        "{first} {} and {what} {} are the same file: one would overwrite the other; give each output a different file name",
                        shown(first_path, "standard output"),
                        shown(path, "standard output")
                    ),
                    summary_at_stake: [first.as_str(), what.as_str()].contains(&SUMMARY),
                }
                .into());
            }
            for (in_what, in_path) in &self.inputs {
                if identity(in_path, 0).as_ref() == Some(id) {
                    return Err(OutputConflict {
                        message: format!(
                            "{what} {} is {in_what} ({}): it would be overwritten; choose another name",
                            shown(path, "standard output"),
                            shown(in_path, "standard input")
                        ),
                        summary_at_stake: what.as_str() == SUMMARY,
                    }
                    .into());
                }
            }
        }
        Ok(())
    }
}

/// A path for a message, `-` said in words.
fn shown(path: &Path, dash: &str) -> String {
    if path.as_os_str() == "-" {
        format!("- ({dash})")
    } else {
        path.display().to_string()
    }
}

/// What makes two spellings one file: the inode of an existing file, else the canonical path
/// it would be created at.
#[derive(Debug, PartialEq, Eq)]
enum Identity {
    Inode { dev: u64, ino: u64 },
    Name(PathBuf),
}

/// `path`'s identity; `-` is descriptor `dash` (0 for inputs, 1 for outputs). None for a
/// character device (nothing to overwrite) or what cannot be looked at (opening it will say
/// why).
fn identity(path: &Path, dash: i32) -> Option<Identity> {
    if path.as_os_str() == "-" {
        return descriptor_identity(dash);
    }
    match Target::of(path).ok()? {
        Target::Descriptor(fd) => descriptor_identity(fd),
        Target::File(p) | Target::Special(p) => match std::fs::metadata(&p) {
            Ok(m) => inode(&m),
            Err(_) => {
                let dir = std::fs::canonicalize(parent_dir(&p)).ok()?;
                Some(Identity::Name(dir.join(p.file_name()?)))
            }
        },
    }
}

#[cfg(unix)]
fn descriptor_identity(fd: i32) -> Option<Identity> {
    inode(&dup_descriptor(fd).ok()?.metadata().ok()?)
}

#[cfg(not(unix))]
fn descriptor_identity(_fd: i32) -> Option<Identity> {
    None
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> Option<Identity> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    (!m.file_type().is_char_device()).then(|| Identity::Inode {
        dev: m.dev(),
        ino: m.ino(),
    })
}

#[cfg(not(unix))]
fn inode(_m: &std::fs::Metadata) -> Option<Identity> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_file_leaves_nothing_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old").unwrap();
        {
            let mut f = OutputFile::create(&path).unwrap();
            f.write_all(b"new").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let mut f = OutputFile::create(&path).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }

    #[test]
    fn temp_names_carry_the_pid() {
        assert_eq!(temp_pid(".out.csv.bc-customers-123-aB9xYz.tmp"), Some(123));
        assert_eq!(temp_pid(".a.b.bc-customers-7-x.tmp"), Some(7));
        assert_eq!(temp_pid(".out.csv.bc-customers-123-.tmp"), None);
        assert_eq!(temp_pid(".out.csv.XyZ123.tmp"), None);
        assert_eq!(temp_pid("out.csv.bc-customers-123-abc.tmp"), None);
        assert_eq!(temp_pid(".out.csv.bc-customers-x1-abc.tmp"), None);
        let dir = tempfile::tempdir().unwrap();
        let tmp = temp_file_in(dir.path(), "out.csv").unwrap();
        let name = tmp
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(temp_pid(&name), Some(std::process::id()), "{name}");
    }

    #[cfg(unix)]
    #[test]
    fn descriptors_and_devices_are_not_replaced() {
        assert_eq!(
            Target::of(Path::new("/dev/stdout")).unwrap(),
            Target::Descriptor(1)
        );
        assert_eq!(
            Target::of(Path::new("/dev/fd/2")).unwrap(),
            Target::Descriptor(2)
        );
        assert!(matches!(
            Target::of(Path::new("/dev/null")).unwrap(),
            Target::Special(_)
        ));
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("target.csv", &link).unwrap();
        assert_eq!(
            Target::of(&link).unwrap(),
            Target::File(dir.path().join("target.csv"))
        );
        assert!(Target::of(dir.path()).is_err());
    }
}
