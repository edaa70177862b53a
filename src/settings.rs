//! The run's settings, built and validated once from the flags and the environment before
//! any request or file is touched, then handed to every command as `&Settings`.
//!
//! A leaf: it knows the API client's [`Connection`] but nothing of the command line (`cli`
//! builds it from the clap flags) or of the commands (they only read it), so `cli → cmd →
//! settings` has no cycle, and `demo` builds one of its own for the store it starts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::api::client::{Connection, Secret};
use crate::api::Client;
use crate::exit::UsageError;

/// Which BigCommerce Customers API a command uses (`--api`, `BIGCOMMERCE_API_VERSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ApiVersion {
    /// Customers V2 (`/v2/customers`): every command.
    #[default]
    V2,
    /// Customers V3 (`/v3/customers`): every command, writes in batches of up to 10 customers,
    /// addresses in the export pages; customer groups stay on V2.
    V3,
}

/// V3 writes customers in batches of up to 10 per request (bigcommerce-v3.md §20): to fill
/// every request slot, ten rows per slot must be waiting.
pub const V3_ROWS_PER_REQUEST: usize = 10;

/// The validated settings of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The store to talk to: `None` for the commands that talk to none (`columns`,
    /// `sandbox`) or start their own (`demo`, `bench`).
    pub connection: Option<Connection>,
    /// The Customers API of the customer reads and writes.
    pub api: ApiVersion,
    /// Requests in flight (`--concurrency`): the client never has more outstanding.
    pub concurrency: u16,
    /// Rows in flight in the row commands (`--rows-in-flight`): by default equal to the
    /// requests in flight on V2 (one row, one request at a time) and ten times as many on V3,
    /// whose batches need ten waiting rows per request slot.
    pub rows_in_flight: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries per request (5xx, timeouts, dropped connections).
    pub max_retries: u32,
    /// Print nothing but errors (and one line when rows failed).
    pub quiet: bool,
    /// Request log level (`-v`, `-vv`).
    pub verbose: u8,
    /// Where the end-of-run summary is also written as JSON.
    pub summary_json: Option<PathBuf>,
    /// Start every CSV the run writes with a UTF-8 byte-order mark.
    pub bom: bool,
    /// The token file read, kept so that no output of the run may overwrite it.
    pub token_file: Option<PathBuf>,
}

/// Where the store is, as given (flags, or their environment variables).
#[derive(Debug, Clone, Default)]
pub struct StoreFlags {
    pub store_hash: Option<String>,
    pub api_url: Option<String>,
    pub token_file: Option<PathBuf>,
}

impl Settings {
    /// The client for the run's store (fails, without a request, when the run has none).
    pub fn client(&self) -> anyhow::Result<Client> {
        let conn = self
            .connection
            .as_ref()
            .context("this command talks to no store")?;
        Ok(Client::new(conn)?
            .with_verbosity(self.verbose)
            .with_quiet(self.quiet))
    }

    /// The same settings aimed at another store (`demo` at the sandbox it starts): the store
    /// is validated like one given on the command line, and the summary file stays the outer
    /// run's alone.
    pub fn for_store(&self, store: &StoreFlags) -> anyhow::Result<Settings> {
        Ok(Settings {
            connection: Some(self.connection_to(store)?),
            token_file: store.token_file.clone(),
            summary_json: None,
            ..self.clone()
        })
    }

    /// Validate `store` into a connection with this run's request settings.
    pub fn connection_to(&self, store: &StoreFlags) -> anyhow::Result<Connection> {
        let store_hash = match &store.store_hash {
            Some(h) if !h.trim().is_empty() => h.clone(),
            _ => {
                return Err(UsageError(
                    "no store hash: pass --store-hash HASH or set BIGCOMMERCE_STORE_HASH".into(),
                )
                .into())
            }
        };
        let store_hash =
            Connection::check_store_hash(&store_hash).map_err(|e| UsageError(format!("{e:#}")))?;
        let api_url = store
            .api_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| "https://api.bigcommerce.com".into());
        let api_url =
            Connection::check_api_url(&api_url).map_err(|e| UsageError(format!("{e:#}")))?;
        let token = token(store.token_file.as_deref(), self.quiet)?;
        Ok(Connection {
            api_url,
            store_hash,
            token,
            concurrency: self.concurrency as usize,
            timeout: self.timeout,
            max_retries: self.max_retries,
        })
    }
}

/// Rows in flight: `given` (`--rows-in-flight`) when set, otherwise derived from the requests
/// in flight and the backend.
pub fn rows_in_flight(api: ApiVersion, requests: u16, given: Option<u16>) -> usize {
    match (given, api) {
        (Some(n), _) => n.max(1) as usize,
        (None, ApiVersion::V2) => requests.max(1) as usize,
        (None, ApiVersion::V3) => requests.max(1) as usize * V3_ROWS_PER_REQUEST,
    }
}

/// The access token: from the token file when given, otherwise `BIGCOMMERCE_ACCESS_TOKEN`.
fn token(file: Option<&Path>, quiet: bool) -> anyhow::Result<Secret> {
    if let Some(path) = file {
        let text = read_token_file(path)?;
        warn_if_readable_by_others(path, quiet);
        // Old Notepad saves a UTF-8 BOM first; it is no part of any token.
        let token = text.trim_start_matches('\u{feff}').trim().to_string();
        if token.is_empty() {
            anyhow::bail!("the token file {} is empty", path.display());
        }
        return Ok(Secret::new(token));
    }
    match std::env::var("BIGCOMMERCE_ACCESS_TOKEN") {
        Ok(t) if !t.trim().is_empty() => Ok(Secret::new(t.trim().to_string())),
        _ => Err(UsageError(
            "no access token: pass --token-file FILE or set BIGCOMMERCE_ACCESS_TOKEN".into(),
        )
        .into()),
    }
}

/// A token is tens of characters; a file far bigger is the wrong file (or `/dev/zero`), and
/// is refused after reading at most this much rather than read to its end.
const MAX_TOKEN_FILE: u64 = 4 << 10;

fn read_token_file(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let reading = || format!("reading the token file {}", path.display());
    let file = std::fs::File::open(path).with_context(reading)?;
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(reading)?;
    if bytes.len() as u64 > MAX_TOKEN_FILE {
        anyhow::bail!(
            "the token file {} is larger than {} KiB: it should hold only the access token",
            path.display(),
            MAX_TOKEN_FILE >> 10
        );
    }
    String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "the token file {} is not text (UTF-8): it should hold only the access token",
            path.display()
        )
    })
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, quiet: bool) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 && !quiet {
            eprintln!(
                "warning: the token file {} is readable by group or others (mode {:o}); run: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path, _quiet: bool) {}

#[cfg(test)]
mod tests;
