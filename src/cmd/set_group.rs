//! `set-group`: move customers into one customer group, named by a CSV of ids/emails or by
//! list filters, with a results file saying what happened to each customer.
//!
//! Cost per customer is one `PUT /v2/customers/{id}` (none when it is already in the group),
//! or a tenth of a `PUT /v3/customers` batch under `--api v3` (at most 3 in flight, V3's
//! documented limit), plus a share of a 250-customer page read: `--filter` reads the
//! matching customers with the id-range pager, and `--input` reads the whole store in pages
//! when that is cheaper than one lookup per row (see `lookup::Finder`). The group itself is
//! found through V2's `/customer_groups` under either API (V3 has no groups API).

use std::path::PathBuf;
use std::sync::Arc;

use crate::api::{ApiError, Client};
use crate::cmd::targets::filter::FilterRun;
use crate::cmd::targets::group::{resolve_group, TargetGroup};
use crate::cmd::targets::run::{write_failure, Writes};
use crate::cmd::targets::{locate, Columns, FileRun, Finder, Known, Located, Spec, TargetCommand};
use crate::exit::Exit;
use crate::input::Dialect;
use crate::pipeline::Row;
use crate::results::{RowOutcome, RowResult};
use crate::rows::RowRun;
use crate::settings::Settings;

/// Move customers into a customer group.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = crate::exit::ROW_COMMAND_EXIT_CODES)]
pub struct Args {
    /// The target group: its id, or its name (case-insensitive). `0` takes customers out of
    /// every group.
    #[arg(long, value_name = "NAME_OR_ID")]
    pub group: String,
    /// A CSV naming the customers by `id` or `email` (`-` for stdin).
    #[arg(long, value_name = "FILE", conflicts_with = "filters")]
    pub input: Option<PathBuf>,
    /// Move every customer matching this V2 list filter, e.g. customer_group_id=2 (repeatable;
    /// all must match). Keeps no journal and needs none: to continue an interrupted or killed
    /// run, run the same command again. It lists the store as it is then, so a customer already
    /// moved no longer matches or is `unchanged` (no write), and a move sent twice is harmless.
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Where to write the results file [default: <input stem>.results.csv beside the input, or
    /// set-group.results.csv with --filter].
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Report would_update / unchanged for every customer; send no write.
    #[arg(long)]
    pub dry_run: bool,
    /// Continue an interrupted run of the same input and results file: finished rows are not
    /// sent again (with --filter, running the command again is the way to continue).
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub dialect: Dialect,
}

/// What every row of either source needs: the group, resolved once, and the run's writes.
struct Ctx {
    run: Arc<RowRun>,
    writes: Writes,
    group: TargetGroup,
    dry_run: bool,
}

impl Ctx {
    /// Resolve `--group` (one request, before any row; stopped by a signal) and start the
    /// run's writes.
    async fn open(
        g: &Settings,
        run: &Arc<RowRun>,
        client: &Client,
        args: &Args,
    ) -> anyhow::Result<Ctx> {
        let group = run.stop.guard(resolve_group(client, &args.group)).await?;
        Ok(Ctx {
            run: Arc::clone(run),
            writes: Writes::new(g, client, run),
            group,
            dry_run: args.dry_run,
        })
    }
}

/// Resolve the group, find the customers, change those not in it, write the results file.
pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    // Everything the user typed is checked before the first request. Neither source is
    // refused here rather than by clap, whose message would name one of them and, with the
    // connection set in the environment, list --store-hash and --api-url as if required.
    let Some(input) = &args.input else {
        if args.filters.is_empty() {
            return crate::exit::usage(
                "set-group needs the customers to move: --input FILE (a CSV with an id or email column) or --filter KEY=VALUE (every customer matching it, e.g. customer_group_id=2)",
            );
        }
        return by_filter(g, &args).await;
    };
    let job = FileRun::open(
        g,
        Spec {
            command: "set-group",
            input,
            results: args.results.as_deref(),
            dialect: &args.dialect,
            // The group is part of what a row means: resuming with another --group would mix runs.
            options: format!("--group {:?} ", args.group.trim()),
            resume: args.resume,
            dry_run: args.dry_run.then_some("a dry run sends no write"),
            needs_password: false,
            unit: "customers",
        },
    )?;
    let ctx = Ctx::open(g, &job.run, &job.client, &args).await?;
    let cmd = ByFile {
        finder: job.finder(g, true).await?,
        ctx,
        cols: job.cols,
    };
    job.rows(g, g.rows_in_flight, &cmd).await
}

/// `--input`'s row command: each row's customer found, then [`change`]d.
struct ByFile {
    ctx: Ctx,
    finder: Finder,
    cols: Columns,
}

impl TargetCommand for ByFile {
    fn columns(&self) -> &Columns {
        &self.cols
    }

    async fn process(&self, row: &Row) -> anyhow::Result<RowOutcome> {
        Ok(match self.cols.target(&row.record) {
            Err(m) => RowOutcome::invalid(m),
            Ok(target) => match locate(&self.ctx.run, &self.finder, &target).await? {
                Located::Found(known) => {
                    let out = change(&self.ctx, row.no, &known).await?;
                    if out.result == RowResult::Updated {
                        // A later row naming this customer sees it in the group.
                        self.finder.set_group(known.id, self.ctx.group.id);
                    }
                    out
                }
                Located::Missing => RowOutcome::failed(None, target.not_found()),
                Located::Answered(out) => out,
            },
        })
    }

    fn notices(&self) -> Vec<String> {
        let group = self.ctx.group.notice();
        std::iter::once(group).chain(self.finder.notice()).collect()
    }
}

/// `--filter`: every customer matching the filters, read by the pager while the writes run.
async fn by_filter(g: &Settings, args: &Args) -> anyhow::Result<Exit> {
    let job = FilterRun::open(
        g,
        "set-group",
        &args.filters,
        args.results.as_deref(),
        args.resume,
        args.dry_run,
    )?;
    let ctx = &Ctx::open(g, &job.run, &job.client, args).await?;
    let notices = vec![ctx.group.notice()];
    let work = move |no, known: Known| async move { change(ctx, no, &known).await };
    job.rows(g, work, notices).await
}

/// One customer (record `no`): nothing to do, would change, or `PUT {"customer_group_id": N}`.
async fn change(ctx: &Ctx, no: u64, known: &Known) -> anyhow::Result<RowOutcome> {
    let message = match ctx.group.change(known, ctx.run.in_doubt(no)) {
        Ok(message) => message,
        Err(done) => return Ok(done),
    };
    if ctx.dry_run {
        return Ok(RowOutcome::new(
            RowResult::WouldUpdate,
            Some(known.id),
            message,
        ));
    }
    match ctx.writes.set_group(no, known.id, ctx.group.id).await? {
        Ok(()) => Ok(RowOutcome::new(RowResult::Updated, Some(known.id), message)),
        Err(e) if e.api().is_some_and(ApiError::is_not_found) => Ok(RowOutcome::failed(
            Some(known.id),
            format!("no customer with id {} (deleted meanwhile)", known.id),
        )),
        Err(e) => write_failure(&ctx.run, e, known.id, "updating the customer's group"),
    }
}
