//! bc-customers: import and export BigCommerce customers as CSV through the Customers V2 API
//! or, with `--api v3`, Customers V3 (every command; customer groups stay on V2).
//!
//! Module map (`pub` only where the binary or the integration tests use it):
//! - [`cli`] (pub: `main`): clap types; turned once into `settings::Settings` by [`run`].
//!   It imports the commands' `Args`; nothing under `cmd` imports it.
//! - `settings`: the run's validated settings (connection, API version, requests and rows in
//!   flight, retries, output preferences), built before any I/O; every command reads them.
//! - [`exit`] (pub: `main`): the documented exit codes (0 ok, 1 fatal, 2 usage, 3 some rows
//!   failed, 130/143 interrupted).
//! - `cmd`: one file per subcommand (`import`, `export`, `count`, `groups`, `set_group`,
//!   `delete`, `validate_password`, `columns`, `sandbox`, `demo`, `bench`), each
//!   "`&Settings` + its `Args` → run" (`import/` is prepare → pure plan → execute);
//!   `targets` is what set-group, delete and validate-password share.
//! - [`api`] (pub: tests): the transport (the HTTP client: auth, pacing from rate-limit
//!   headers, retries; typed errors; writing exactly once; the records both APIs yield), one
//!   backend module per Customers API (`api::v2`, `api::v3`: routes, bodies, pagers, their
//!   encoding of the filters), the user's filters typed and API-neutral (`api::filters`),
//!   and the store seam (`api::store`: `Selection`, `Reader`/`Writer`, one arm per backend).
//! - [`mapping`] (pub: tests): canonical columns, row → payload and validation, presets,
//!   countries.
//! - `input`: input files: encoding, delimiter, header matching, the whole-file check.
//! - [`csvio`] (pub: tests): formula neutralisation.
//! - `outfile`: output files (atomic replace of regular files, devices and pipes written in
//!   place, same-file checks, temporary files of killed runs removed).
//! - `pipeline`: reader thread → bounded channel → one concurrent stage → ordered sink.
//! - `lookup`: finding a row's store customer (per-row lookups or a preloaded index).
//! - `journal`: the durable record of finished rows behind `--resume`.
//! - `rows`: what the row commands share: journal lifecycle, interrupts, failure policy;
//!   `rows::engine` is the one row engine (`RowCommand`: a command gives how a record becomes
//!   an item, its keys and how it is executed; `Job` does files, results, journal, summary).
//! - `interrupt`: SIGINT/SIGTERM for the row commands.
//! - `results`: the results file (`_row,_result,_customer_id,_message` + input columns).
//! - `report`: progress bar and the end-of-run summary (stderr and `--summary-json`).
//! - [`sandbox`] (pub: tests): the fake store used by tests, `demo`, `bench` and rehearsals.
pub mod api;
pub mod cli;
pub(crate) mod cmd;
pub mod csvio;
pub mod exit;
pub(crate) mod input;
pub(crate) mod interrupt;
pub(crate) mod journal;
pub(crate) mod lookup;
pub mod mapping;
pub(crate) mod outfile;
pub(crate) mod pipeline;
pub(crate) mod report;
pub(crate) mod results;
pub(crate) mod rows;
pub mod sandbox;
pub(crate) mod settings;

use cli::{Cli, Command};
use exit::Exit;
use settings::Settings;

/// Run one parsed command line. Errors are fatal (exit 1) unless they carry a
/// [`exit::UsageError`] (exit 2); per-row problems are not errors but exit code 3.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    report::mark_start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .thread_name("bc-customers")
        .build()?;
    let name = command_name(&cli.command);
    let summary_json = cli.global.summary_json.clone();
    if cli.global.bom && !writes_csv(&cli.command) {
        return exit::usage(format!(
            "--bom is for the commands that write CSV; {name} writes none"
        ));
    }
    // Settings once, before the command reads a file or sends a request; their errors end
    // the run like the command's own (with a failure summary).
    let result = match cli.global.settings(talks_to_store(&cli.command)) {
        Ok(g) => rt.block_on(dispatch(&g, cli.command)),
        Err(e) => Err(e),
    };

    // Stopped by a signal before any row was processed: not an error; 130/143 as for any
    // interrupted run, with an `interrupted` summary.
    if let Err(e) = &result {
        if let Some(i) = e.downcast_ref::<interrupt::Interrupted>() {
            let exit = Exit::interrupted(i.0);
            eprintln!("{name}: {e}");
            if let Some(path) = summary_json.as_deref() {
                if let Err(write_err) = report::write_interrupted_json(path, name, exit, e) {
                    eprintln!("warning: could not write {}: {write_err:#}", path.display());
                }
            }
            return Ok(exit);
        }
    }
    // A run that stopped with an error still replaces `--summary-json`: a monitor reading the
    // file after a nightly backup must not see the previous night's success.
    // Except when the summary path is one of two files that clash: it may be the very file
    // the check protects (`--summary-json in.csv`).
    if let (Err(e), Some(path)) = (&result, summary_json.as_deref()) {
        let at_stake = e
            .chain()
            .filter_map(|c| c.downcast_ref::<outfile::OutputConflict>())
            .any(|c| c.summary_at_stake);
        if at_stake {
            return result;
        }
        let code = if exit::is_usage(e) {
            Exit::Usage
        } else {
            Exit::Fatal
        };
        if let Err(write_err) = report::write_failure_json(path, name, code, e) {
            eprintln!("warning: could not write {}: {write_err:#}", path.display());
        }
    }
    result
}

async fn dispatch(g: &Settings, command: Command) -> anyhow::Result<Exit> {
    match command {
        Command::Import(args) => cmd::import::run(g, args).await,
        Command::Export(args) => cmd::export::run(g, args).await,
        Command::Count(args) => cmd::count::run(g, args).await,
        Command::Groups(args) => cmd::groups::run(g, args).await,
        Command::SetGroup(args) => cmd::set_group::run(g, args).await,
        Command::Delete(args) => cmd::delete::run(g, args).await,
        Command::ValidatePassword(args) => cmd::validate_password::run(g, args).await,
        Command::Columns(args) => cmd::columns::run(args),
        Command::Sandbox(args) => cmd::sandbox::run(g, args).await,
        Command::Demo(args) => cmd::demo::run(g, args).await,
        Command::Bench(args) => cmd::bench::run(g, args).await,
    }
}

/// The commands that talk to the store the connection flags name (`demo` and `bench` start
/// their own; `columns` and `sandbox` need none).
fn talks_to_store(c: &Command) -> bool {
    match c {
        Command::Import(_)
        | Command::Export(_)
        | Command::Count(_)
        | Command::Groups(_)
        | Command::SetGroup(_)
        | Command::Delete(_)
        | Command::ValidatePassword(_) => true,
        Command::Columns(_) | Command::Sandbox(_) | Command::Demo(_) | Command::Bench(_) => false,
    }
}

/// The commands `--bom` applies to (a flag that changes nothing is refused, not ignored).
fn writes_csv(c: &Command) -> bool {
    match c {
        Command::Groups(g) => matches!(g.action, cmd::groups::Action::List),
        Command::Count(_) | Command::Sandbox(_) | Command::Bench(_) => false,
        _ => true,
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Import(_) => "import",
        Command::Export(_) => "export",
        Command::Count(_) => "count",
        Command::Groups(_) => "groups",
        Command::SetGroup(_) => "set-group",
        Command::Delete(_) => "delete",
        Command::ValidatePassword(_) => "validate-password",
        Command::Columns(_) => "columns",
        Command::Sandbox(_) => "sandbox",
        Command::Demo(_) => "demo",
        Command::Bench(_) => "bench",
    }
}
