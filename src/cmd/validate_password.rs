//! `validate-password --input FILE`: check each row's password against its customer with
//! `POST /customers/{id}/validate`; results `valid`, `invalid` (wrong password) or `failed`.
//!
//! BigCommerce protects this endpoint with "special rate limiting" beyond the store quota
//! (undocumented; the sandbox answers 429 above 10 concurrent validations), so at most
//! [`MAX_CONCURRENT_VALIDATIONS`] rows are in flight whatever `--concurrency` says. Passwords
//! are sent only in the request body: never printed, and blanked in the results file.

use std::path::PathBuf;
use std::sync::Arc;

use crate::api::Client;
use crate::cmd::targets::{locate, Columns, FileRun, Finder, Located, Spec, TargetCommand};
use crate::exit::Exit;
use crate::input::Dialect;
use crate::pipeline::Row;
use crate::results::{RowOutcome, RowResult};
use crate::rows::{Mark, RowRun};
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

/// The run's row command: each row's password checked against its customer.
struct Ctx {
    run: Arc<RowRun>,
    client: Client,
    finder: Finder,
    cols: Columns,
    /// `--concurrency` asked for more than [`MAX_CONCURRENT_VALIDATIONS`] (the summary says so).
    capped: bool,
}

/// Validate each row's password (at most two at a time), write the results file.
pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    let job = FileRun::open(
        g,
        Spec {
            command: "validate-password",
            input: &args.input,
            results: args.results.as_deref(),
            dialect: &args.dialect,
            options: String::new(),
            resume: args.resume,
            dry_run: None,
            needs_password: true,
            unit: "rows",
        },
    )?;
    // Rows with only an id validate directly; an email needs a lookup (to find the id, or to
    // check that it names the same customer as the id).
    let finder = job
        .finder(g, job.cols.id.is_none() || job.cols.email.is_some())
        .await?;
    let ctx = Ctx {
        run: Arc::clone(&job.run),
        client: job.client.clone(),
        finder,
        cols: job.cols,
        capped: g.rows_in_flight > MAX_CONCURRENT_VALIDATIONS,
    };
    let concurrency = g.rows_in_flight.min(MAX_CONCURRENT_VALIDATIONS);
    job.rows(g, concurrency, &ctx).await
}

impl TargetCommand for Ctx {
    fn columns(&self) -> &Columns {
        &self.cols
    }

    async fn process(&self, row: &Row) -> anyhow::Result<RowOutcome> {
        process(self, row).await
    }

    fn notices(&self) -> Vec<String> {
        match self.capped {
            true => vec![format!(
                "validations ran at most {MAX_CONCURRENT_VALIDATIONS} at a time (the endpoint has its own rate limits)"
            )],
            false => Vec::new(),
        }
    }
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
        _ => match locate(&ctx.run, &ctx.finder, &target).await? {
            Located::Found(k) => k.id,
            Located::Missing => return Ok(RowOutcome::failed(None, target.not_found())),
            Located::Answered(out) => return Ok(out),
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
