//! `delete --input FILE --yes`: delete the customers a CSV names, with a results file; one
//! `DELETE /v2/customers/{id}` each, or under `--api v3` batches of `DELETE
//! /v3/customers?id:in=…`. Without `--yes` it only reports what it would delete.
//!
//! Neither collection delete is ever sent (V2's `DELETE /customers` deletes every customer;
//! V3's without `id:in` names none): the client has no method for V2's, and the V3 batcher
//! refuses an empty id list. A DELETE whose answer was lost may have happened: when its
//! retry meets 404 (V2), the customer is gone because of us, so the row is `deleted` (a 404
//! on the first attempt is "no customer with id …"). Likewise after a kill: each DELETE (each
//! V3 batch, all its rows) is marked in the journal before it is sent, so `--resume` reports
//! a customer found gone as this row's `deleted`, not `failed`.

use std::path::PathBuf;
use std::sync::Arc;

use crate::api::Deleted;
use crate::cmd::targets::run::{write_failure, Writes};
use crate::cmd::targets::{
    locate, Claims, Columns, FileRun, Finder, Located, Spec, Target, TargetCommand,
};
use crate::exit::Exit;
use crate::input::Dialect;
use crate::pipeline::Row;
use crate::results::{RowOutcome, RowResult};
use crate::rows::RowRun;
use crate::settings::{ApiVersion, Settings};

/// Delete the customers named in a CSV.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = crate::exit::ROW_COMMAND_EXIT_CODES)]
pub struct Args {
    /// A CSV naming the customers by `id` or `email` (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Really delete. Without it, nothing is deleted: every row is reported as would_delete
    /// (or failed when no such customer exists).
    #[arg(long)]
    pub yes: bool,
    /// Where to write the results file [default: <input stem>.results.csv beside the input].
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Continue an interrupted run of the same input and results file: finished rows are not
    /// sent again, and a customer the interrupted run deleted is reported `deleted`.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub dialect: Dialect,
}

/// The run's row command: each row's customer found, claimed and deleted.
struct Ctx {
    run: Arc<RowRun>,
    writes: Writes,
    finder: Finder,
    cols: Columns,
    yes: bool,
    /// Customers this run deleted, so a second row naming one is `skipped`, not `failed`.
    deleted: Claims,
}

/// Find each row's customer, delete it (only with `--yes`), write the results file.
pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    let job = FileRun::open(
        g,
        Spec {
            command: "delete",
            input: &args.input,
            results: args.results.as_deref(),
            dialect: &args.dialect,
            options: "--yes ".into(),
            resume: args.resume,
            dry_run: (!args.yes).then_some("nothing was deleted (no --yes)"),
            needs_password: false,
            unit: "rows",
        },
    )?;
    // With --yes and ids only, each V2 row is one DELETE and needs no lookup (a 404 says the
    // customer does not exist); emails, or an id to check against an email, need one, and so
    // does every V3 row (its DELETE answers 204 for an unknown id too).
    let v3 = g.api == ApiVersion::V3;
    let finder = job
        .finder(g, !args.yes || job.cols.email.is_some() || v3)
        .await?;
    let ctx = Ctx {
        run: Arc::clone(&job.run),
        writes: Writes::new(g, &job.client, &job.run),
        finder,
        cols: job.cols,
        yes: args.yes,
        deleted: Claims::default(),
    };
    job.rows(g, g.rows_in_flight, &ctx).await
}

impl TargetCommand for Ctx {
    fn columns(&self) -> &Columns {
        &self.cols
    }

    async fn process(&self, row: &Row) -> anyhow::Result<RowOutcome> {
        process(self, row).await
    }

    fn notices(&self) -> Vec<String> {
        match self.yes {
            true => Vec::new(),
            false => {
                vec!["nothing was deleted: pass --yes to delete the would_delete rows".into()]
            }
        }
    }
}

async fn process(ctx: &Ctx, row: &Row) -> anyhow::Result<RowOutcome> {
    let target = match ctx.cols.target(&row.record) {
        Ok(t) => t,
        Err(m) => return Ok(RowOutcome::invalid(m)),
    };
    if let Some(out) = already_deleted(ctx, &target) {
        return Ok(out);
    }
    // With --yes, a file of ids only goes straight to its DELETEs. When the file has an email
    // column, every row is looked up first, so that a later row naming the same customer by
    // email is recognised as already deleted (as in the dry run) rather than "not found".
    let direct =
        ctx.yes && ctx.cols.email.is_none() && !ctx.finder.is_preloaded() && !ctx.writes.batched();
    let (id, email) = match (direct, target.id) {
        (true, Some(id)) => (id, None),
        _ => match locate(&ctx.run, &ctx.finder, &target).await? {
            Located::Found(k) => (k.id, Some(k.email)),
            Located::Answered(out) => return Ok(out),
            // Gone because another row of this file (naming it differently) deleted it.
            Located::Missing => match already_deleted(ctx, &target) {
                Some(out) => return Ok(out),
                // Gone because the interrupted run deleted it (its DELETE was marked).
                None if ctx.run.in_doubt(row.no) => {
                    return Ok(RowOutcome::new(
                        RowResult::Deleted,
                        target.id,
                        DELETED_BEFORE,
                    ))
                }
                None => return Ok(RowOutcome::failed(None, target.not_found())),
            },
        },
    };
    // Claim the customer before deleting it: two rows naming it differently (an id here, an
    // email there) run concurrently, and only the first to claim it deletes it.
    if !ctx
        .deleted
        .claim(id, email.as_deref().or(target.email.as_deref()))
    {
        return Ok(skipped(ctx, Some(id)));
    }
    if !ctx.yes {
        return Ok(RowOutcome::new(
            RowResult::WouldDelete,
            Some(id),
            email.unwrap_or_default(),
        ));
    }
    let message = match ctx.writes.delete(row.no, id).await? {
        Ok(Deleted::Yes) => String::new(),
        Ok(Deleted::AnswerLost) => {
            "the store's answer was lost and the retry found the customer gone: deleted by this run"
                .into()
        }
        Ok(Deleted::NotFound) if ctx.run.in_doubt(row.no) => DELETED_BEFORE.into(),
        Ok(Deleted::NotFound) => {
            ctx.deleted.release(id);
            return Ok(RowOutcome::failed(None, target.not_found()));
        }
        Err(e) => {
            ctx.deleted.release(id);
            return write_failure(&ctx.run, e, id, "deleting the customer");
        }
    };
    ctx.finder.forget(id);
    Ok(RowOutcome::new(RowResult::Deleted, Some(id), message))
}

/// The `_message` of a row whose DELETE the interrupted run sent (its journal mark) and whose
/// customer a resumed run finds gone.
const DELETED_BEFORE: &str = "deleted by the interrupted run (confirmed on resume)";

fn skipped(ctx: &Ctx, id: Option<u64>) -> RowOutcome {
    RowOutcome::new(
        RowResult::Skipped,
        id,
        if ctx.yes {
            "already deleted by an earlier row of this file"
        } else {
            "an earlier row of this file already deletes this customer"
        },
    )
}

/// A row naming a customer an earlier row of this run deleted is `skipped` (not a failure).
fn already_deleted(ctx: &Ctx, target: &Target) -> Option<RowOutcome> {
    ctx.deleted.claimed(target).map(|id| skipped(ctx, id))
}
