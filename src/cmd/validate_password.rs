//! `validate-password --input FILE`: check each row's password against its customer with
//! `POST /customers/{id}/validate`, or under `--api v3` `POST
//! /v3/customers/validate-credentials` with the customer's email (reference/bigcommerce-v3.md
//! §11); results `valid`, `invalid` (wrong password) or `failed`, the same for both APIs.
//!
//! V3 checks a login by email, so every V3 row finds its customer first (through V3, in
//! `id:in`/`email:in` lists): that gives the email for a row with an id only, the customer id
//! the results file reports for a wrong password, and "no customer with …" for a row naming
//! none (V3's answer to an unknown email is only `is_valid: false`). The check is the
//! default storefront's (channel 1, what V3 uses without a `channel_id`).
//!
//! BigCommerce protects this endpoint with "special rate limiting" beyond the store quota
//! (undocumented; the sandbox answers 429 above 10 concurrent validations), so at most
//! [`MAX_CONCURRENT_VALIDATIONS`] rows are in flight whatever `--concurrency` says. Passwords
//! are sent only in the request body: never printed, and blanked in the results file.

use std::path::PathBuf;
use std::sync::Arc;

use crate::api::{ApiError, Client};
use crate::cmd::targets::{locate, Columns, FileRun, Finder, Located, Spec, TargetCommand};
use crate::exit::Exit;
use crate::input::Dialect;
use crate::pipeline::Row;
use crate::results::{RowOutcome, RowResult};
use crate::rows::{Mark, RowRun};
use crate::settings::{ApiVersion, Settings};

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
    /// `--api v3`: validate-credentials by email.
    v3: bool,
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
    // Under V2, rows with only an id validate directly; an email needs a lookup (to find the
    // id, or to check that it names the same customer as the id). Under V3 every row does.
    let v3 = g.api == ApiVersion::V3;
    let finder = job
        .finder(g, v3 || job.cols.id.is_none() || job.cols.email.is_some())
        .await?;
    let ctx = Ctx {
        run: Arc::clone(&job.run),
        client: job.client.clone(),
        finder,
        cols: job.cols,
        capped: g.rows_in_flight > MAX_CONCURRENT_VALIDATIONS,
        v3,
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
    let (id, email) = match (target.id, &target.email, ctx.v3) {
        (Some(id), None, false) => (id, None),
        _ => match locate(&ctx.run, &ctx.finder, &target).await? {
            Located::Found(k) => (k.id, Some(k.email)),
            Located::Missing => return Ok(RowOutcome::failed(None, target.not_found())),
            Located::Answered(out) => return Ok(out),
        },
    };
    // Not a change to the store, but what the journal is for: a resumed run does not spend
    // the endpoint's extra rate limit on rows already checked.
    ctx.run.before_write(row.no, Mark::None)?;
    let checked = match (ctx.v3, email) {
        (true, Some(email)) => validate_v3(&ctx.client, id, &email, password).await,
        _ => ctx.client.validate_password(id, password).await.map(Ok),
    };
    match checked {
        Ok(Ok(true)) => Ok(RowOutcome::new(RowResult::Valid, Some(id), "")),
        Ok(Ok(false)) => Ok(RowOutcome::new(
            RowResult::Invalid,
            Some(id),
            "wrong password",
        )),
        Ok(Err(other)) => Ok(RowOutcome::failed(Some(id), other)),
        Err(e) if e.is_not_found() => Ok(RowOutcome::failed(None, target.not_found())),
        Err(e) => ctx.run.row_failure(e, Some(id), "validating the password"),
    }
}

/// V3's check of customer `id`'s password by its `email`: whether it is valid, or the row's
/// `_message` when the store logged in another customer with that email (channel-specific
/// customers may share one, §12), which says nothing about this customer's password.
async fn validate_v3(
    client: &Client,
    id: u64,
    email: &str,
    password: &str,
) -> Result<Result<bool, String>, ApiError> {
    let answer = crate::api::v3::read::validate_credentials(client, email, password).await?;
    Ok(match (answer.is_valid, answer.customer_id) {
        (false, _) => Ok(false),
        (true, Some(found)) if found == id => Ok(true),
        (true, found) => Err(format!(
            "the store accepted the password for {}, not customer {id} (customers sharing the email {email}): not checked",
            found.map_or("no customer id".to_string(), |f| format!("customer {f}"))
        )),
    })
}
