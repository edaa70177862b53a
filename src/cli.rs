//! Command-line types (clap derive), and the `Settings` built from them once.
//!
//! "Low args → high args": raw flags and environment are turned into validated settings
//! before any I/O, so a typo fails fast with exit code 2. Nothing under `cmd` reads these
//! types but the commands' own `Args`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::cmd;
use crate::settings::{self, ApiVersion, Settings, StoreFlags};

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
    /// Requests in flight: the most the tool has sent and not yet had answered.
    #[arg(long, global = true, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Rows in flight in import, set-group, delete and validate-password: rows being looked
    /// up or written at once. Default: --concurrency with --api v2 (a row's requests go one
    /// after another), ten times --concurrency with --api v3 (a request writes up to ten
    /// customers, so ten rows must be waiting per request slot).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub rows_in_flight: Option<u16>,
    /// Request timeout in seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
    /// Retries per request (5xx, timeouts, dropped connections).
    #[arg(long, global = true, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub max_retries: u32,
    /// Customers API: v2, or v3 (every command that reads or writes customers). Customer
    /// groups use V2 either way (V3 has no groups API), with the same token.
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
    #[arg(long, global = true, help_heading = "Output")]
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
    /// List the columns import reads (and how headers are matched).
    Columns(cmd::columns::Args),
    /// Run a local fake BigCommerce store for tests and rehearsals.
    Sandbox(cmd::sandbox::Args),
    /// Import the sample customers into an in-process sandbox store and export them back.
    Demo(cmd::demo::Args),
    /// Measure import and export throughput against an in-process sandbox store.
    Bench(cmd::bench::Args),
}

/// Every flag of the store's client: none means anything to a command that is no client.
const EVERY_CLIENT_FLAG: &[&str] = &[
    "store_hash",
    "token_file",
    "api_url",
    "concurrency",
    "timeout",
    "max_retries",
    "api",
    "rows_in_flight",
];

/// Connection flags that mean nothing to a command: `sandbox` is the store rather than a
/// client of one, `bench` starts its own stores and clients with settings of its own, `demo`
/// talks to the store it starts, and the commands that process no rows have no rows in flight. They are hidden from its help, and refused on its command
/// line (the environment is not refused: it is often still set from a sandbox).
const NOT_FOR: &[(&str, &[&str])] = &[
    ("sandbox", EVERY_CLIENT_FLAG),
    ("bench", EVERY_CLIENT_FLAG),
    ("demo", &["store_hash", "token_file", "api_url", "api"]),
    ("export", &["rows_in_flight"]),
    ("count", &["rows_in_flight"]),
    ("groups", &["rows_in_flight"]),
    ("columns", &["rows_in_flight"]),
];

/// The clap command of [`Cli`], with the flags of `NOT_FOR` hidden where they do nothing.
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

/// Parse a command line (the program name first), refusing the flags of `NOT_FOR` given to
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
                    let why = if *id == "rows_in_flight" && !matches!(sub, "sandbox" | "bench") {
                        "it sizes the row commands (import, set-group, delete, validate-password)"
                    } else if sub == "demo" {
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
    /// The run's validated settings (flags win over environment). `needs_store`: the
    /// command talks to the store named by the flags, whose connection is checked here, before
    /// any request or file (a token file is read).
    pub fn settings(&self, needs_store: bool) -> anyhow::Result<Settings> {
        let mut settings = Settings {
            connection: None,
            api: self.api,
            concurrency: self.concurrency,
            rows_in_flight: settings::rows_in_flight(
                self.api,
                self.concurrency,
                self.rows_in_flight,
            ),
            timeout: Duration::from_secs(self.timeout),
            max_retries: self.max_retries,
            quiet: self.quiet,
            verbose: self.verbose,
            summary_json: self.summary_json.clone(),
            bom: self.bom,
            token_file: None,
        };
        if needs_store {
            let store = StoreFlags {
                store_hash: self.store_hash.clone(),
                api_url: self.api_url.clone(),
                token_file: self.token_file.clone(),
            };
            settings.connection = Some(settings.connection_to(&store)?);
            settings.token_file = store.token_file;
        }
        Ok(settings)
    }
}
