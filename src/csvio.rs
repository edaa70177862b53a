//! CSV plumbing shared by every command: formula neutralisation, and output files that appear
//! complete or not at all (input files are `crate::input`).

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

// The reading side (encodings, delimiters, the whole-file check) lives in `crate::input`;
// these names stay here for the modules that use them.
pub use crate::input::{describe_csv_error, normalize_header, CsvReader};

/// True when a spreadsheet would run this cell as a formula (or it already carries our `'`).
fn needs_quote_prefix(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'')
    )
}

/// Prefix formula-like cells with `'` (and a cell starting with `'` gets one more), so that
/// [`unneutralise`] restores the exact original.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if needs_quote_prefix(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Remove exactly one leading `'` (the inverse of [`neutralise`]).
pub fn unneutralise(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// Write a small secret (a token) to a file only its owner can read (mode 600 on Unix).
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// A file written to a temporary name in the destination directory, flushed, synced and
/// renamed into place by [`AtomicFile::commit`]. Dropped without commit (an error, a panic),
/// the temporary file is removed and any previous file at `path` is untouched.
pub struct AtomicFile {
    tmp: BufWriter<tempfile::NamedTempFile>,
    path: PathBuf,
    /// Bytes written since the kernel was last asked to start writing them to disk.
    unsynced: usize,
}

/// Every so many bytes written, ask the kernel to start writing the file to disk (Linux:
/// `sync_file_range`, which does not wait), so that the `fsync` before the rename finds little
/// left to do: for a 17.5 MB export it took 11 ms of the run's end, now a few.
const KICK_WRITEBACK: usize = 4 << 20;

impl AtomicFile {
    pub fn create(path: &Path) -> anyhow::Result<AtomicFile> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(&dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        Ok(AtomicFile {
            tmp: BufWriter::with_capacity(256 * 1024, tmp),
            path: path.to_path_buf(),
            unsynced: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush, fsync, rename into place, fsync the directory.
    pub fn commit(self) -> anyhow::Result<()> {
        let path = self.path;
        let tmp = self
            .tmp
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", path.display()))?;
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("syncing {}", path.display()))?;
        tmp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("renaming the finished file to {}", path.display()))?;
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tmp.write(buf)?;
        self.unsynced += n;
        if self.unsynced >= KICK_WRITEBACK {
            self.unsynced = 0;
            start_writeback(self.tmp.get_ref().as_file());
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralise_round_trips() {
        for s in [
            "=1+1", "+44 20", "-5", "@SUM", "\tx", "\rx", "'quoted", "''", "plain", "", "a=b",
        ] {
            assert_eq!(unneutralise(&neutralise(s)), s);
        }
        assert_eq!(neutralise("=1"), "'=1");
        assert_eq!(neutralise("plain"), "plain");
    }

    #[test]
    fn atomic_file_leaves_nothing_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old").unwrap();
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.write_all(b"new").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }
}
