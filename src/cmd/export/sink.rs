//! The export's output files: plain or gzip ([`Sink`]) over an [`OutputFile`], and the check
//! that a named output can be written at all, made before any request.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::outfile::OutputFile;

/// An output file, gzip-compressed when its name ends in `.gz`, committed atomically (or
/// written in place: see [`OutputFile`]).
pub enum Sink {
    /// Bytes as written.
    Plain(OutputFile),
    /// gzip, default level (about 5× smaller for customer CSV).
    Gzip(flate2::write::GzEncoder<OutputFile>),
}

impl Sink {
    /// Wrap `file`, compressing when `path` ends in `.gz` (any case).
    pub fn new(file: OutputFile, path: &Path) -> Sink {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
        {
            Sink::Gzip(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::default(),
            ))
        } else {
            Sink::Plain(file)
        }
    }

    /// Finish the gzip stream if any; the file is then complete but not yet in place.
    pub fn finish(self) -> anyhow::Result<OutputFile> {
        match self {
            Sink::Plain(f) => Ok(f),
            Sink::Gzip(g) => g.finish().context("finishing the gzip stream"),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(f) => f.write(buf),
            Sink::Gzip(g) => g.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(f) => f.flush(),
            Sink::Gzip(g) => g.flush(),
        }
    }
}

/// An output that cannot be written fails before any request (a backup of a big store would
/// otherwise read every page first), in plain words rather than a temporary file's. Fatal
/// (exit 1) like any other file that cannot be written, not a usage error.
pub(super) fn check_output_path(flag: &str, path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!(
            "{flag} {}: {} is a directory; name a file in it (e.g. {})",
            path.display(),
            path.display(),
            path.join("customers.csv").display()
        );
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        anyhow::bail!(
            "{flag} {}: the directory {} does not exist (create it first)",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}
