//! bc-customers: import and export BigCommerce customers as CSV through the Customers V2 API.
//!
//! Module map:
//! - [`cli`]: clap types; the validated [`api::Connection`] built once from flags and environment.
//! - [`exit`]: the documented exit codes (0 ok, 1 fatal, 2 usage, 3 some rows failed).
//! - [`cmd`]: one file per subcommand (`import`, `export`, `count`, `groups`, `set_group`,
//!   `delete`, `validate_password`, `columns`, `sandbox`, `demo`, `bench`), each "args → run".
//! - [`api`]: the HTTP client (auth, pacing from rate-limit headers, retries), typed errors, models.
//! - [`mapping`]: canonical columns, row → payload and validation, presets, countries.
//! - [`input`]: input files: encoding, delimiter, header matching, the whole-file check.
//! - [`csvio`]: formula neutralisation.
//! - [`outfile`]: output files (atomic replace of regular files, devices and pipes written in
//!   place, same-file checks, temporary files of killed runs removed).
//! - [`pipeline`]: reader thread → bounded channel → one concurrent stage → ordered sink.
//! - [`lookup`]: finding a row's store customer (per-row lookups or a preloaded index).
//! - [`journal`]: the durable record of finished rows behind `--resume`.
//! - [`rows`]: what the row commands share: journal lifecycle, interrupts, failure policy.
//! - [`interrupt`]: SIGINT/SIGTERM for the row commands.
//! - [`results`]: the results file (`_row,_result,_customer_id,_message` + input columns).
//! - [`report`]: progress bar and the end-of-run summary (stderr and `--summary-json`).
//! - [`sandbox`]: the fake store used by tests, `demo`, `bench` and rehearsals.
pub mod api;
pub mod cli;
pub mod cmd;
pub mod csvio;
pub mod exit;
pub mod input;
pub mod interrupt;
pub mod journal;
pub mod lookup;
pub mod mapping;
pub mod outfile;
pub mod pipeline;
pub mod report;
pub mod results;
pub mod rows;
pub mod sandbox;

use cli::{Cli, Command};
use exit::Exit;

/// Run one parsed command line. Errors are fatal (exit 1) unless they carry a
/// [`exit::UsageError`] (exit 2); per-row problems are not errors but exit code 3.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    report::mark_start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .thread_name("bc-customers")
        .build()?;
    let g = cli.global;
    let name = command_name(&cli.command);
    // The writes have no V3 backend yet: refused before any request or file is touched,
    // rather than run on V2 under a flag that says V3.
    if g.api == cli::ApiVersion::V3
        && matches!(
            cli.command,
            Command::Import(_) | Command::SetGroup(_) | Command::Delete(_)
        )
    {
        let refused: anyhow::Error = exit::UsageError(format!(
            "--api v3 is not available for {name} yet; use --api v2"
        ))
        .into();
        if let Some(path) = g.summary_json.as_deref() {
            if let Err(write_err) = report::write_failure_json(path, name, Exit::Usage, &refused) {
                eprintln!("warning: could not write {}: {write_err:#}", path.display());
            }
        }
        return Err(refused);
    }
    if g.bom && !writes_csv(&cli.command) {
        return exit::usage(format!(
            "--bom is for the commands that write CSV; {name} writes none"
        ));
    }
    let result = rt.block_on(async {
        match cli.command {
            Command::Import(args) => cmd::import::run(&g, args).await,
            Command::Export(args) => cmd::export::run(&g, args).await,
            Command::Count(args) => cmd::count::run(&g, args).await,
            Command::Groups(args) => cmd::groups::run(&g, args).await,
            Command::SetGroup(args) => cmd::set_group::run(&g, args).await,
            Command::Delete(args) => cmd::delete::run(&g, args).await,
            Command::ValidatePassword(args) => cmd::validate_password::run(&g, args).await,
            Command::Columns(args) => cmd::columns::run(args),
            Command::Sandbox(args) => cmd::sandbox::run(&g, args).await,
            Command::Demo(args) => cmd::demo::run(&g, args).await,
            Command::Bench(args) => cmd::bench::run(&g, args).await,
        }
    });
    // Stopped by a signal before any row was processed: not an error; 130/143 as for any
    // interrupted run, with an `interrupted` summary.
    if let Err(e) = &result {
        if let Some(i) = e.downcast_ref::<interrupt::Interrupted>() {
            let exit = Exit::interrupted(i.0);
            eprintln!("{name}: {e}");
            if let Some(path) = g.summary_json.as_deref() {
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
    if let (Err(e), Some(path)) = (&result, g.summary_json.as_deref()) {
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
