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

/// Connection and output settings, accepted before or after the command name. In every
/// command's help they come under their own headings, after the command's own flags.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection")]
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
    /// Customers API: v2, or v3 (for export and count; import, set-group and delete refuse it
    /// for now). Customer groups and validate-password use V2 either way (V3 has no groups
    /// API), with the same token.
    #[arg(
        long = "api",
        global = true,
        env = "BIGCOMMERCE_API_VERSION",
        value_name = "VERSION",
        value_enum,
        default_value_t = ApiVersion::V2
    )]
    pub api: ApiVersion,
    /// Print nothing but errors (and one line when rows failed).
    #[arg(long, short, global = true, help_heading = "Output")]
    pub quiet: bool,
    /// Log every request to stderr (-v: method, route, status, time; -vv: also the rate-limit
    /// headers). Routes name no ids, emails or query values, and never the token.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,
    /// Also write the end-of-run summary as JSON to FILE.
    #[arg(long, global = true, value_name = "FILE", help_heading = "Output")]
    pub summary_json: Option<PathBuf>,
    /// Start every CSV the tool writes (export files, results files, `groups list`) with a
    /// UTF-8 byte-order mark, which Excel needs to show accents. A results file gets one
    /// anyway when its input had one.
    #[arg(long, global = true)]
    pub bom: bool,
}

/// Which BigCommerce Customers API a command uses (`--api`, `BIGCOMMERCE_API_VERSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ApiVersion {
    /// Customers V2 (`/v2/customers`): every command.
    #[default]
    V2,
    /// Customers V3 (`/v3/customers`): export (addresses at no extra request) and count.
    V3,
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
    /// List the columns import reads (and how headers are matched).
    Columns(cmd::columns::Args),
    /// Run a local fake BigCommerce store for tests and rehearsals.
    Sandbox(cmd::sandbox::Args),
    /// Import the sample customers into an in-process sandbox store and export them back.
    Demo(cmd::demo::Args),
    /// Measure import and export throughput against an in-process sandbox store.
    Bench(cmd::bench::Args),
}

/// Connection flags that mean nothing to a command: `sandbox` is the store rather than a
/// client of one, `bench` starts its own stores and clients with settings of its own, `demo`
/// talks to the store it starts. They are hidden from its help, and refused on its command
/// line (the environment is not refused: it is often still set from a sandbox).
const NOT_FOR: &[(&str, &[&str])] = &[
    (
        "sandbox",
        &[
            "store_hash",
            "token_file",
            "api_url",
            "concurrency",
            "timeout",
            "max_retries",
            "api",
        ],
    ),
    (
        "bench",
        &[
            "store_hash",
            "token_file",
            "api_url",
            "concurrency",
            "timeout",
            "max_retries",
            "api",
        ],
    ),
    ("demo", &["store_hash", "token_file", "api_url", "api"]),
];

/// The clap command of [`Cli`], with the flags of [`NOT_FOR`] hidden where they do nothing.
pub fn command() -> clap::Command {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Global flags are copied into the subcommands when the command is built, except where
    // the subcommand has an argument of the same id: give those subcommands hidden copies.
    // (Changing the copies after the build would break clap's index of the arguments.)
    for (sub, ids) in NOT_FOR {
        let hidden: Vec<clap::Arg> = cmd
            .get_arguments()
            .filter(|a| ids.contains(&a.get_id().as_str()))
            .map(|a| a.clone().global(false).hide(true))
            .collect();
        cmd = cmd.mut_subcommand(*sub, |sc| sc.args(hidden));
    }
    cmd
}

/// Parse a command line (the program name first), refusing the flags of [`NOT_FOR`] given to
/// a command they mean nothing to.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::FromArgMatches;
    let mut cmd = command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    if let Some((sub, _)) = matches.subcommand() {
        for (_, ids) in NOT_FOR.iter().filter(|(n, _)| *n == sub) {
            for id in *ids {
                if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
                    let why = if sub == "demo" {
                        "demo talks to the sandbox store it starts itself"
                    } else if sub == "sandbox" {
                        "the sandbox is a store, not a client of one"
                    } else {
                        "bench starts its own sandbox stores and clients, with settings of its own"
                    };
                    return Err(cmd.error(
                        clap::error::ErrorKind::ArgumentConflict,
                        format!("--{} does nothing for `{sub}`: {why}", id.replace('_', "-")),
                    ));
                }
            }
        }
    }
    Cli::from_arg_matches(&matches)
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
            let text = read_token_file(path)?;
            warn_if_readable_by_others(path, self.quiet);
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
}

/// A token is tens of characters; a file far bigger is the wrong file (or `/dev/zero`), and
/// is refused after reading at most this much rather than read to its end.
const MAX_TOKEN_FILE: u64 = 4 << 10;

fn read_token_file(path: &std::path::Path) -> anyhow::Result<String> {
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
