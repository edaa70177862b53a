//! The documented exit codes (PRODUCT.md § "Exit codes and output").

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
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error that should exit with code 2 (usage) rather than 1 (fatal).
/// Commands wrap flag-validation failures in it; `main` looks for it in the error chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Is this error a usage error (exit 2)? Either kind: a [`UsageError`], or two files of the run
/// that clash ([`crate::outfile::OutputConflict`]).
pub fn is_usage(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|c| c.is::<UsageError>() || c.is::<crate::outfile::OutputConflict>())
}

/// Shorthand for returning a usage error from a command.
pub fn usage<T>(msg: impl Into<String>) -> anyhow::Result<T> {
    Err(UsageError(msg.into()).into())
}
