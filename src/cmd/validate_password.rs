//! `validate-password --input FILE`: check each row's password against its customer with
//! `POST /customers/{id}/validate`; results `valid`, `invalid` (wrong password) or `failed`.
//!
//! BigCommerce protects this endpoint with "special rate limiting" beyond the store quota
//! (undocumented; the sandbox answers 429 above 10 concurrent validations), so at most
//! [`MAX_CONCURRENT_VALIDATIONS`] rows are in flight whatever `--rows-in-flight` says. Passwords
//! are sent only in the request body: never printed, and blanked in the results file.

use std::path::PathBuf;
use std::sync::Arc;

use crate::api::Client;
use crate::cmd::targets::{self, Columns, Finder};
use crate::cmd::{connect, fatal_if_auth};
use crate::exit::Exit;
use crate::input::{Dialect, InputFile};
use crate::outfile::RunFiles;
use crate::pipeline::{self, Row};
use crate::report::{Progress, Summary};
use crate::results::{default_path, ResultsWriter, RowOutcome, RowResult};
use crate::rows::{check_resume, JournalSpec, Mark, RowRun};
use crate::settings::Settings;

/// The most validations in flight at once (the endpoint's extra protection; see module docs).
pub const MAX_CONCURRENT_VALIDATIONS: usize = 2;

/// Check customers' passwords.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = crate::exit::ROW_COMMAND_EXIT_CODES)]
pub struct Args {
    /// A CSV with `id` or `email`, and `password` (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write the results file [default: <input stem>.results.csv beside the input].
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Continue an interrupted run of the same input and results file: rows already checked
    /// are not sent again.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub dialect: Dialect,
}

struct Ctx {
    run: Arc<RowRun>,
    client: Client,
    finder: Finder,
    cols: Columns,
}

/// Validate each row's password (at most two at a time), write the results file.
pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    check_resume(args.resume, Some(&args.input), false)?;
    let file = InputFile::open(&args.input, &args.dialect)?;
    let rdr = file.reader()?;
    let headers = file.headers.clone();
    let cols = Columns::locate(&headers, &args.input)?;
    if cols.password.is_none() {
        anyhow::bail!(
            "{}: the file needs a password column (and an id or email column)",
            args.input.display()
        );
    }
    let results_path = args
        .results
        .clone()
        .unwrap_or_else(|| default_path(&args.input, "validate-password"));
    crate::results::check_path(&args.input, &results_path)?;
    RunFiles::new(g)
        .input("the input file", &args.input)
        .results(&results_path)
        .check()?;
    let client = connect(g)?;
    let run = Arc::new(RowRun::start(
        "validate-password",
        (args.input.as_os_str() != "-").then(|| JournalSpec {
            input: &args.input,
            results: &results_path,
            options: format!("validate-password {}", args.dialect.journal_key()),
            resume: args.resume,
        }),
        "standard input cannot be resumed",
    )?);
    let concurrency = g.rows_in_flight.min(MAX_CONCURRENT_VALIDATIONS);
    let progress = Progress::new(None, g.quiet, "rows");
    progress.watch(&client);
    if let Some(note) = &run.note {
        progress.note(note);
    }
    // Rows with only an id validate directly; an email needs a lookup (to find the id, or to
    // check that it names the same customer as the id).
    let rows_need_lookups = cols.id.is_none() || cols.email.is_some();
    let finder = run
        .stop
        .guard(async {
            Finder::plan(
                &client,
                file.records,
                g.concurrency as usize,
                &progress,
                rows_need_lookups,
            )
            .await
            .map_err(fatal_if_auth)
        })
        .await?;
    let ctx = Arc::new(Ctx {
        run: Arc::clone(&run),
        client: client.clone(),
        finder,
        cols,
    });

    let rx = pipeline::read_rows(rdr, &args.input, |_, _| true);
    let bom = g.bom || file.had_bom;
    let mut writer = ResultsWriter::create(&results_path, &headers, bom)?;
    let (ended, tally) = targets::run_rows(
        &run,
        rx,
        cols,
        concurrency,
        |row| {
            let ctx = Arc::clone(&ctx);
            async move {
                let out = process(&ctx, &row).await?;
                Ok((row, out))
            }
        },
        &mut writer,
        &progress,
    )
    .await?;
    progress.finish();

    let mut summary = Summary::new(
        "validate-password",
        tally.total(),
        Some(&tally),
        run.started,
        client.stats(),
    );
    summary.notices.push(file.describe());
    if g.rows_in_flight > MAX_CONCURRENT_VALIDATIONS {
        summary.notices.push(format!(
            "validations ran at most {MAX_CONCURRENT_VALIDATIONS} at a time (the endpoint has its own rate limits)"
        ));
    }
    summary.results_file = Some(results_path.display().to_string());
    run.end(ended, writer, summary, g.quiet, g.summary_json.as_deref())
}

async fn process(ctx: &Ctx, row: &Row) -> anyhow::Result<RowOutcome> {
    // A row that cannot be checked is `failed`: `invalid` here means "wrong password".
    let target = match ctx.cols.target(&row.record) {
        Ok(t) => t,
        Err(m) => return Ok(RowOutcome::failed(None, m)),
    };
    let Some(password) = ctx.cols.password(&row.record) else {
        return Ok(RowOutcome::failed(target.id, "the password cell is empty"));
    };
    // An id alone is checked directly; with an email too, both must name the same customer
    // (as in set-group and delete): a stale file must not check someone else's password.
    let id = match (target.id, &target.email) {
        (Some(id), None) => id,
        _ => match ctx.finder.find(&target).await {
            Ok(Some(k)) => match target.mismatch(&k) {
                Some(m) => return Ok(RowOutcome::failed(Some(k.id), m)),
                None => k.id,
            },
            Ok(None) => return Ok(RowOutcome::failed(None, target.not_found())),
            Err(e) => return ctx.run.row_failure(e, target.id, "looking the customer up"),
        },
    };
    // Not a change to the store, but what the journal is for: a resumed run does not spend
    // the endpoint's extra rate limit on rows already checked.
    ctx.run.before_write(row.no, Mark::None)?;
    match ctx.client.validate_password(id, password).await {
        Ok(true) => Ok(RowOutcome::new(RowResult::Valid, Some(id), "")),
        Ok(false) => Ok(RowOutcome::new(
            RowResult::Invalid,
            Some(id),
            "wrong password",
        )),
        Err(e) if e.is_not_found() => Ok(RowOutcome::failed(None, target.not_found())),
        Err(e) => ctx.run.row_failure(e, Some(id), "validating the password"),
    }
}
