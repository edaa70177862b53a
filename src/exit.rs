//! The documented exit codes: 0 ok, 1 fatal, 2 usage, 3 some rows failed, 130/143 interrupted.

/// How a run ended; `main` turns this into the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every row succeeded (or the command had no rows).
    Ok = 0,
    /// A fatal error: bad input file, authentication refused, store unreachable after retries.
    Fatal = 1,
    /// A usage error (bad flags or arguments).
    Usage = 2,
    /// The run finished but some rows are `invalid` or `failed`.
    RowsFailed = 3,
    /// Stopped by SIGINT (128 + 2, as a shell reports it); resumable.
    Sigint = 130,
    /// Stopped by SIGTERM (128 + 15); resumable.
    Sigterm = 143,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The exit of a run stopped by `sig`.
    pub fn interrupted(sig: crate::interrupt::Signal) -> Exit {
        match sig {
            crate::interrupt::Signal::Int => Exit::Sigint,
            crate::interrupt::Signal::Term => Exit::Sigterm,
        }
    }
}

/// An error that should exit with code 2 (usage) rather than 1 (fatal).
/// Commands wrap flag-validation failures in it; `main` looks for it in the error chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Is this error a usage error (exit 2)? Either kind: a [`UsageError`], or two files of the run
/// that clash (`outfile::OutputConflict`).
pub fn is_usage(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|c| c.is::<UsageError>() || c.is::<crate::outfile::OutputConflict>())
}

/// Shorthand for returning a usage error from a command.
pub fn usage<T>(msg: impl Into<String>) -> anyhow::Result<T> {
    Err(UsageError(msg.into()).into())
}

/// The exit codes of the commands that process rows, for the end of their `--help`.
pub const ROW_COMMAND_EXIT_CODES: &str = "\
Exit codes:
  0 every row succeeded; 1 fatal error (bad file, token refused, store unreachable);
  2 usage error; 3 some rows are invalid or failed (see the results file);
  130/143 interrupted by SIGINT/SIGTERM (continue with --resume).";

/// The exit codes of `export`, for the end of its `--help`.
pub const EXPORT_EXIT_CODES: &str = "\
Exit codes:
  0 the export is complete and in place; 1 fatal error (token refused, store unreachable,
  an incomplete answer from the store, a file that cannot be written, interrupted): any
  previous output file is untouched; 2 usage error.";
