//! `set-group`: move customers into one customer group, named by a CSV of ids/emails or by
//! list filters, with a results file saying what happened to each customer.
//!
//! Cost per customer is one `PUT /customers/{id}` (none when it is already in the group) plus a
//! share of a 250-customer page read: `--filter` reads the matching customers with the id-range
//! pager, and `--input` reads the whole store in pages when that is cheaper than one lookup per
//! row (see `targets::Finder`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use reqwest::Method;
use tokio::sync::mpsc;

use crate::api::pages::{self, Query};
use crate::api::Client;
use crate::cmd::targets::{self, Columns, Finder, Known};
use crate::cmd::{connect, fatal_if_auth, parse_filters};
use crate::exit::Exit;
use crate::input::{Dialect, InputFile};
use crate::outfile::RunFiles;
use crate::pipeline::{self, Row};
use crate::report::{Progress, Summary};
use crate::results::{default_path, ResultsWriter, RowOutcome, RowResult};
use crate::rows::{check_resume, JournalSpec, Mark, RowRun};
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
    /// all must match).
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

/// The resolved target group.
#[derive(Debug, Clone)]
struct TargetGroup {
    id: u64,
    names: std::collections::HashMap<u64, String>,
}

impl TargetGroup {
    fn describe(&self, id: u64) -> String {
        match (id, self.names.get(&id)) {
            (0, _) => "no group (0)".into(),
            (_, Some(name)) => format!("{name} ({id})"),
            (_, None) => format!("group {id}"),
        }
    }
}

struct Ctx {
    run: Arc<RowRun>,
    client: Client,
    group: TargetGroup,
    dry_run: bool,
}

/// Resolve the group, find the customers, change those not in it, write the results file.
pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    // Everything the user typed is checked before the first request. Neither source is
    // refused here rather than by clap, whose message would name one of them and, with the
    // connection set in the environment, list --store-hash and --api-url as if required.
    if args.input.is_none() && args.filters.is_empty() {
        return crate::exit::usage(
            "set-group needs the customers to move: --input FILE (a CSV with an id or email column) or --filter KEY=VALUE (every customer matching it, e.g. customer_group_id=2)",
        );
    }
    check_resume(args.resume, args.input.as_deref(), args.dry_run)?;
    let query = if args.input.is_none() {
        Some(parse_filters(&args.filters, None)?)
    } else {
        None
    };
    let input = match &args.input {
        Some(path) => {
            let file = InputFile::open(path, &args.dialect)?;
            let rdr = file.reader()?;
            let headers = file.headers.clone();
            let cols = Columns::locate(&headers, path)?;
            Some((file, rdr, headers, cols))
        }
        None => None,
    };
    let results_path = args.results.clone().unwrap_or_else(|| match &args.input {
        Some(p) => default_path(p, "set-group"),
        None => default_path(Path::new("-"), "set-group"),
    });
    crate::results::check_path(
        args.input.as_deref().unwrap_or(Path::new("-")),
        &results_path,
    )?;
    let mut files = RunFiles::new(g).results(&results_path);
    if let Some(p) = &args.input {
        files = files.input("the input file", p);
    }
    files.check()?;
    let client = connect(g)?;
    // The group is part of what a row means: resuming with another --group would mix runs.
    let journal = match &args.input {
        Some(path) if !args.dry_run && path.as_os_str() != "-" => Some(JournalSpec {
            input: path,
            results: &results_path,
            options: format!(
                "set-group --group {:?} {}",
                args.group.trim(),
                args.dialect.journal_key()
            ),
            resume: args.resume,
        }),
        _ => None,
    };
    let run = Arc::new(RowRun::start(
        "set-group",
        journal,
        match (&args.input, args.dry_run) {
            (_, true) => "a dry run sends no write",
            (None, _) => "with --filter, the customers already moved no longer match",
            (Some(_), _) => "standard input cannot be resumed",
        },
    )?);
    let concurrency = g.concurrency as usize;
    let group = run.stop.guard(resolve_group(&client, &args.group)).await?;
    let progress = Progress::new(None, g.quiet, "customers");
    progress.watch(&client);
    if let Some(note) = &run.note {
        progress.note(note);
    }
    let mut notices = Vec::new();

    let ctx = Arc::new(Ctx {
        run: Arc::clone(&run),
        client: client.clone(),
        group,
        dry_run: args.dry_run,
    });
    let (ended, tally, writer) = match (input, query) {
        (Some((file, rdr, headers, cols)), _) => {
            notices.push(file.describe());
            let path = file.path.clone();
            let finder = Arc::new(
                run.stop
                    .guard(async {
                        Finder::plan(&client, file.records, concurrency, &progress, true)
                            .await
                            .map_err(fatal_if_auth)
                    })
                    .await?,
            );
            if finder.is_preloaded() {
                notices.push("read the store in pages instead of one lookup per row".into());
            }
            let rx = pipeline::read_rows(rdr, &path, |_, _| true);
            let bom = g.bom || file.had_bom;
            let mut writer = ResultsWriter::create(&results_path, &headers, bom)?;
            let (ended, tally) = targets::run_rows(
                &run,
                rx,
                cols,
                g.rows_in_flight,
                |row| {
                    let ctx = Arc::clone(&ctx);
                    let finder = Arc::clone(&finder);
                    async move {
                        let out = process_row(&ctx, &finder, &cols, &row).await?;
                        Ok((row, out))
                    }
                },
                &mut writer,
                &progress,
            )
            .await?;
            (ended, tally, writer)
        }
        (None, Some(query)) => {
            let count = run
                .stop
                .guard(async {
                    Ok(pages::plan(&client, &query)
                        .await
                        .map_err(fatal_if_auth)?
                        .count)
                })
                .await?;
            progress.set_total(count);
            let rx = matching_rows(client.clone(), query, count, concurrency);
            let headers = csv::StringRecord::from(vec!["id", "email"]);
            let mut writer = ResultsWriter::create(&results_path, &headers, g.bom)?;
            let (ended, tally) = run
                .rows_to_results(
                    rx,
                    g.rows_in_flight,
                    |row| vec![pipeline::id_key(row.record[0].parse().unwrap_or(0))],
                    |row, _turn| {
                        let ctx = Arc::clone(&ctx);
                        async move {
                            let known = Known {
                                id: row.record[0].parse()?,
                                email: row.record[1].to_string(),
                                group: row.record[2].parse()?,
                            };
                            let out = change(&ctx, row.no, &known).await?;
                            Ok((row, out))
                        }
                    },
                    &mut writer,
                    &progress,
                )
                .await?;
            (ended, tally, writer)
        }
        (None, None) => unreachable!("checked above: --input or --filter"),
    };
    progress.finish();

    notices.extend(progress.quota_notice());
    let mut summary = Summary::new(
        "set-group",
        tally.total(),
        Some(&tally),
        run.started,
        client.stats(),
    );
    notices.insert(
        0,
        format!("target group: {}", ctx.group.describe(ctx.group.id)),
    );
    summary.notices = notices;
    summary.dry_run = args.dry_run;
    summary.results_file = Some(results_path.display().to_string());
    run.end(ended, writer, summary, g.quiet, g.summary_json.as_deref())
}

/// Find the group by id or case-insensitive name, once per run. Unknown → a fatal error that
/// lists the store's groups.
async fn resolve_group(client: &Client, spec: &str) -> anyhow::Result<TargetGroup> {
    let spec = spec.trim();
    if spec.is_empty() {
        return crate::exit::usage("--group is empty: give a group id or name");
    }
    let groups = match client.groups().await {
        Ok(g) => g,
        Err(e) if e.status() == Some(404) => {
            anyhow::bail!("this store's plan has no customer groups ({})", e.message())
        }
        // 403 on /customer_groups alone means a plan without groups, or a token without the
        // Customers scope; say both.
        Err(e) if e.status() == Some(403) => anyhow::bail!(
            "{e}: this store's plan has no customer groups, or the token lacks the Customers scope"
        ),
        Err(e) => return Err(fatal_if_auth(e)),
    };
    let names = groups.iter().map(|g| (g.id, g.name.clone())).collect();
    let by_id = spec
        .parse::<u64>()
        .ok()
        .filter(|id| *id == 0 || groups.iter().any(|g| g.id == *id));
    // A name wins over an id only when no group has that id (a group may be named "2024").
    let id = by_id.or_else(|| {
        groups
            .iter()
            .find(|g| g.name.trim().eq_ignore_ascii_case(spec))
            .map(|g| g.id)
    });
    match id {
        Some(id) => Ok(TargetGroup { id, names }),
        None => {
            let list: Vec<String> = groups
                .iter()
                .map(|g| format!("{} {:?}", g.id, g.name))
                .collect();
            anyhow::bail!(
                "no customer group {spec:?} in this store; its groups are: {} (or 0 for no group; create one with `bc-customers groups create NAME`)",
                if list.is_empty() { "none".to_string() } else { list.join(", ") }
            )
        }
    }
}

/// The customers matching the filters, as pipeline rows `[id, email, group]` in ascending id,
/// read by the pager while the writes run.
fn matching_rows(
    client: Client,
    query: Query,
    count: u64,
    concurrency: usize,
) -> mpsc::Receiver<anyhow::Result<Row>> {
    let (tx, rx) = mpsc::channel(512);
    tokio::spawn(async move {
        let mut stream = pages::customer_pages(client, query, count, concurrency);
        let mut seq = 0u64;
        while let Some(page) = stream.next().await {
            match page {
                Ok(customers) => {
                    for c in customers {
                        let record = csv::StringRecord::from(vec![
                            c.id.to_string(),
                            c.email,
                            c.customer_group_id.to_string(),
                        ]);
                        let row = Row {
                            no: seq + 1,
                            seq,
                            record,
                        };
                        seq += 1;
                        if tx.send(Ok(row)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(fatal_if_auth(e))).await;
                    return;
                }
            }
        }
    });
    rx
}

async fn process_row(
    ctx: &Ctx,
    finder: &Finder,
    cols: &Columns,
    row: &Row,
) -> anyhow::Result<RowOutcome> {
    let target = match cols.target(&row.record) {
        Ok(t) => t,
        Err(m) => return Ok(RowOutcome::invalid(m)),
    };
    let known = match finder.find(&target).await {
        Ok(Some(k)) => k,
        Ok(None) => return Ok(RowOutcome::failed(None, target.not_found())),
        Err(e) => return ctx.run.row_failure(e, target.id, "looking the customer up"),
    };
    if let Some(m) = target.mismatch(&known) {
        return Ok(RowOutcome::failed(Some(known.id), m));
    }
    let out = change(ctx, row.no, &known).await?;
    if out.result == RowResult::Updated {
        finder.set_group(known.id, ctx.group.id);
    }
    Ok(out)
}

/// One customer (record `no`): nothing to do, would change, or `PUT {"customer_group_id": N}`.
async fn change(ctx: &Ctx, no: u64, known: &Known) -> anyhow::Result<RowOutcome> {
    let to = ctx.group.id;
    if known.group == to && ctx.run.in_doubt(no) {
        // The interrupted run sent this row's PUT (its journal mark) and did not see the answer.
        return Ok(RowOutcome::new(
            RowResult::Updated,
            Some(known.id),
            format!(
                "moved to {} by the interrupted run (confirmed on resume)",
                ctx.group.describe(to)
            ),
        ));
    }
    if known.group == to {
        return Ok(RowOutcome::new(
            RowResult::Unchanged,
            Some(known.id),
            format!("already in {}", ctx.group.describe(to)),
        ));
    }
    let message = format!(
        "{} → {}",
        ctx.group.describe(known.group),
        ctx.group.describe(to)
    );
    if ctx.dry_run {
        return Ok(RowOutcome::new(
            RowResult::WouldUpdate,
            Some(known.id),
            message,
        ));
    }
    ctx.run.before_write(no, Mark::Sending)?;
    let body = serde_json::json!({ "customer_group_id": to });
    // Setting a group is idempotent, so the client may repeat it after a lost response.
    match ctx
        .client
        .send(
            Method::PUT,
            &format!("/customers/{}", known.id),
            &[],
            Some(&body),
            true,
        )
        .await
    {
        Ok(_) => Ok(RowOutcome::new(RowResult::Updated, Some(known.id), message)),
        Err(e) if e.is_not_found() => Ok(RowOutcome::failed(
            Some(known.id),
            format!("no customer with id {} (deleted meanwhile)", known.id),
        )),
        Err(e) => ctx
            .run
            .row_failure(e, Some(known.id), "updating the customer's group"),
    }
}
