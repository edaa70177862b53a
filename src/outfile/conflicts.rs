//! A run's files checked against each other before any request: two outputs naming one
//! file in any spelling, or an output naming an input, is a usage error.

use std::path::{Path, PathBuf};

use super::{dup_descriptor, parent_dir, Target};

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
