//! `delete --input FILE --yes`: delete the customers a CSV names, one `DELETE /customers/{id}`
//! each, with a results file. Without `--yes` it only reports what it would delete.
//!
//! The collection `DELETE /customers` deletes every customer of the store; the client has no
//! method for it and this command never builds that path. A DELETE whose answer was lost may
//! have happened: when its retry meets 404, the customer is gone because of us, so the row is
//! `deleted` (a 404 on the first attempt is "no customer with id …"). Likewise after a kill:
//! each DELETE is marked in the journal before it is sent, so `--resume` reports a customer
//! found gone as this row's `deleted`, not `failed`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use reqwest::Method;

use crate::api::client::backoff;
use crate::api::{ApiError, Client};
use crate::cmd::connect;
use crate::cmd::fatal_if_auth;
use crate::cmd::targets::{self, Columns, Finder, Target};
use crate::exit::Exit;
use crate::input::{Dialect, InputFile};
use crate::outfile::RunFiles;
use crate::pipeline::{self, Row};
use crate::report::{Progress, Summary};
use crate::results::{default_path, ResultsWriter, RowOutcome, RowResult};
use crate::rows::{check_resume, JournalSpec, Mark, RowRun};
use crate::settings::Settings;

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

struct Ctx {
    run: Arc<RowRun>,
    client: Client,
    finder: Finder,
    cols: Columns,
    yes: bool,
    max_retries: u32,
    /// Customers this run deleted, so a second row naming one is `skipped`, not `failed`.
    deleted: Mutex<Deleted>,
}

#[derive(Default)]
struct Deleted {
    ids: HashSet<u64>,
    emails: HashSet<String>,
}

/// Find each row's customer, delete it (only with `--yes`), write the results file.
pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    check_resume(args.resume, Some(&args.input), !args.yes)?;
    let file = InputFile::open(&args.input, &args.dialect)?;
    let rdr = file.reader()?;
    let headers = file.headers.clone();
    let cols = Columns::locate(&headers, &args.input)?;
    let results_path = args
        .results
        .clone()
        .unwrap_or_else(|| default_path(&args.input, "delete"));
    crate::results::check_path(&args.input, &results_path)?;
    RunFiles::new(g)
        .input("the input file", &args.input)
        .results(&results_path)
        .check()?;
    let client = connect(g)?;
    // Without --yes nothing is written, and stdin cannot be read again: no journal.
    let journaled = args.yes && args.input.as_os_str() != "-";
    let run = Arc::new(RowRun::start(
        "delete",
        journaled.then(|| JournalSpec {
            input: &args.input,
            results: &results_path,
            options: format!("delete --yes {}", args.dialect.journal_key()),
            resume: args.resume,
        }),
        if args.yes {
            "standard input cannot be resumed"
        } else {
            "nothing was deleted (no --yes)"
        },
    )?);
    let concurrency = g.concurrency as usize;
    let progress = Progress::new(None, g.quiet, "rows");
    progress.watch(&client);
    if let Some(note) = &run.note {
        progress.note(note);
    }
    // With --yes and ids only, each row is one DELETE and needs no lookup (a 404 says the
    // customer does not exist); emails, or an id to check against an email, need one.
    let rows_need_lookups = !args.yes || cols.email.is_some();
    let finder = run
        .stop
        .guard(async {
            Finder::plan(
                &client,
                file.records,
                concurrency,
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
        yes: args.yes,
        max_retries: g.max_retries,
        deleted: Mutex::new(Deleted::default()),
    });

    let rx = pipeline::read_rows(rdr, &args.input, |_, _| true);
    let bom = g.bom || file.had_bom;
    let mut writer = ResultsWriter::create(&results_path, &headers, bom)?;
    let (ended, tally) = targets::run_rows(
        &run,
        rx,
        cols,
        g.rows_in_flight,
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
        "delete",
        tally.total(),
        Some(&tally),
        run.started,
        client.stats(),
    );
    summary.notices.push(file.describe());
    summary.dry_run = !args.yes;
    if !args.yes {
        summary
            .notices
            .push("nothing was deleted: pass --yes to delete the would_delete rows".into());
    }
    summary.results_file = Some(results_path.display().to_string());
    run.end(ended, writer, summary, g.quiet, g.summary_json.as_deref())
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
    let direct = ctx.yes && ctx.cols.email.is_none() && !ctx.finder.is_preloaded();
    let (id, email) = match (direct, target.id) {
        (true, Some(id)) => (id, None),
        _ => {
            let known = match ctx.finder.find(&target).await {
                Ok(Some(k)) => k,
                // Gone because another row of this file (naming it differently) deleted it.
                Ok(None) => match already_deleted(ctx, &target) {
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
                Err(e) => return ctx.run.row_failure(e, target.id, "looking the customer up"),
            };
            if let Some(m) = target.mismatch(&known) {
                return Ok(RowOutcome::failed(Some(known.id), m));
            }
            (known.id, Some(known.email))
        }
    };
    // Claim the customer before deleting it: two rows naming it differently (an id here, an
    // email there) run concurrently, and only the first to claim it deletes it.
    if !claim(ctx, id, email.as_deref().or(target.email.as_deref())) {
        return Ok(skipped(ctx, Some(id)));
    }
    if !ctx.yes {
        return Ok(RowOutcome::new(
            RowResult::WouldDelete,
            Some(id),
            email.unwrap_or_default(),
        ));
    }
    ctx.run.before_write(row.no, Mark::Sending)?;
    let gone = match delete_customer(ctx, id).await {
        Ok(g) => g,
        Err(e) => {
            unclaim(ctx, id);
            return ctx.run.row_failure(e, Some(id), "deleting the customer");
        }
    };
    let message = match gone {
        Gone::Deleted => String::new(),
        Gone::LostAnswer => {
            "the store's answer was lost and the retry found the customer gone: deleted by this run"
                .into()
        }
        Gone::NotFound if ctx.run.in_doubt(row.no) => DELETED_BEFORE.into(),
        Gone::NotFound => {
            unclaim(ctx, id);
            return Ok(RowOutcome::failed(None, target.not_found()));
        }
    };
    ctx.finder.forget(id);
    Ok(RowOutcome::new(RowResult::Deleted, Some(id), message))
}

/// The `_message` of a row whose DELETE the interrupted run sent (its journal mark) and whose
/// customer a resumed run finds gone.
const DELETED_BEFORE: &str = "deleted by the interrupted run (confirmed on resume)";

/// Mark the customer as deleted (or, without --yes, as one this run would delete) by this
/// row; false when an earlier row already did.
fn claim(ctx: &Ctx, id: u64, email: Option<&str>) -> bool {
    let mut d = ctx.deleted.lock().unwrap();
    if !d.ids.insert(id) {
        return false;
    }
    if let Some(e) = email {
        d.emails.insert(e.to_lowercase());
    }
    true
}

/// The DELETE did not happen: a later row for this customer may try again.
fn unclaim(ctx: &Ctx, id: u64) {
    ctx.deleted.lock().unwrap().ids.remove(&id);
}

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
    let d = ctx.deleted.lock().unwrap();
    let id_hit = target.id.filter(|id| d.ids.contains(id));
    let email_hit = target
        .email
        .as_ref()
        .is_some_and(|e| d.emails.contains(&e.to_lowercase()));
    drop(d);
    (id_hit.is_some() || (target.id.is_none() && email_hit)).then(|| skipped(ctx, id_hit))
}

enum Gone {
    Deleted,
    /// An earlier attempt's answer was lost and a retry got 404: our attempt deleted it.
    LostAnswer,
    /// 404 on the first attempt: there was no such customer.
    NotFound,
}

/// `DELETE /customers/{id}` with our own retry of ambiguous failures, so that a 404 after a
/// lost answer can be told from a 404 for a customer that never existed.
async fn delete_customer(ctx: &Ctx, id: u64) -> Result<Gone, ApiError> {
    // Always one customer's path: never the collection.
    let path = format!("/customers/{id}");
    let mut maybe_done = false;
    let mut attempt = 0;
    loop {
        match ctx
            .client
            .send(Method::DELETE, &path, &[], None, false)
            .await
        {
            Ok(_) => return Ok(Gone::Deleted),
            Err(e) if e.is_not_found() => {
                return Ok(if maybe_done {
                    Gone::LostAnswer
                } else {
                    Gone::NotFound
                })
            }
            Err(e) if e.is_ambiguous() => {
                maybe_done = true;
                attempt += 1;
                if attempt > ctx.max_retries {
                    return Err(e);
                }
                tokio::time::sleep(backoff(attempt, true)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
