//! Command-line types (clap derive) and the connection settings built from them once.
//!
//! "Low args → high args": raw flags and environment are turned into a validated
//! [`Connection`] before any I/O, so a typo fails fast with exit code 2.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::api::client::{Connection, Secret};
use crate::cmd;
use crate::exit::UsageError;

/// Import and export BigCommerce customers as CSV through the store's REST API (Customers V2).
#[derive(Debug, Parser)]
#[command(name = "bc-customers", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Connection and output settings, accepted before or after the command name.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Store hash (the `{hash}` in /stores/{hash}/v2).
    #[arg(
        long,
        global = true,
        env = "BIGCOMMERCE_STORE_HASH",
        value_name = "HASH"
    )]
    pub store_hash: Option<String>,
    /// File holding the API access token (otherwise BIGCOMMERCE_ACCESS_TOKEN). There is no
    /// token flag on purpose: it would leak into `ps` and shell history.
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// API base URL.
    #[arg(long, global = true, env = "BIGCOMMERCE_API_URL", value_name = "URL")]
    pub api_url: Option<String>,
    /// Maximum concurrent requests.
    #[arg(long, global = true, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Request timeout in seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
    /// Retries per request (5xx, timeouts, dropped connections).
    #[arg(long, global = true, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub max_retries: u32,
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log every request to stderr (-v: method, route, status, time; -vv: also the rate-limit
    /// headers). Routes name no ids, emails or query values, and never the token.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Also write the end-of-run summary as JSON to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Start every CSV the tool writes (export files, results files, `groups list`) with a
    /// UTF-8 byte-order mark, which Excel needs to show accents. A results file gets one
    /// anyway when its input had one.
    #[arg(long, global = true)]
    pub bom: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update customers from a CSV file.
    Import(cmd::import::Args),
    /// Write customers to CSV.
    Export(cmd::export::Args),
    /// Print the number of customers.
    Count(cmd::count::Args),
    /// List or create customer groups.
    Groups(cmd::groups::Args),
    /// Move customers (from a CSV of ids/emails, or matching filters) into a customer group.
    SetGroup(cmd::set_group::Args),
    /// Delete the customers named in a CSV (only with --yes; otherwise report what would go).
    Delete(cmd::delete::Args),
    /// Check customers' passwords (POST /customers/{id}/validate).
    ValidatePassword(cmd::validate_password::Args),
    /// Run a local fake BigCommerce store for tests and rehearsals.
    Sandbox(cmd::sandbox::Args),
    /// Import the sample customers into an in-process sandbox store and export them back.
    Demo(cmd::demo::Args),
    /// Measure import and export throughput against an in-process sandbox store.
    Bench(cmd::bench::Args),
}

impl GlobalArgs {
    /// Build the validated connection settings (flags win over environment).
    pub fn connection(&self) -> anyhow::Result<Connection> {
        let store_hash = match &self.store_hash {
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
        let api_url = self
            .api_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| "https://api.bigcommerce.com".into());
        let api_url =
            Connection::check_api_url(&api_url).map_err(|e| UsageError(format!("{e:#}")))?;
        let token = self.token()?;
        Ok(Connection {
            api_url,
            store_hash,
            token,
            concurrency: self.concurrency as usize,
            timeout: Duration::from_secs(self.timeout),
            max_retries: self.max_retries,
        })
    }

    fn token(&self) -> anyhow::Result<Secret> {
        if let Some(path) = &self.token_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the token file {}", path.display()))?;
            warn_if_readable_by_others(path, self.quiet);
            let token = text.trim().to_string();
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
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &std::path::Path, quiet: bool) {
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
fn warn_if_readable_by_others(_path: &std::path::Path, _quiet: bool) {}
