//! `import FILE`: create or update one customer per CSV row, with bounded concurrency, and
//! write a results file saying what happened to every row.
//!
//! Per row: validate (invalid rows send nothing), find the store's customer (by `id`, else by
//! email), compare, and send only what changes: a row that would change nothing is
//! `unchanged` and costs no write. Creates are reconciled after an ambiguous failure (look
//! the email up before sending again), so a lost response never creates a customer twice.
//!
//! The parts: `prepare` (the input checked before the first request, and each record mapped
//! and validated once), `plan` (pure: what a row does), `execute` (the only code that talks
//! to the store for a row); this file holds the flags and the run's order of events.

mod calls;
mod execute;
mod plan;
mod prepare;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;

use futures::StreamExt;

use crate::api::store::{Reader, Writer};
use crate::api::v3::batch::{BeforeSend, Op};
use crate::api::v3::Filters;
use crate::api::Client;

use crate::cmd::{connect, fatal_if_auth, GroupBook};
use crate::csvio::normalize_header;
use crate::exit::Exit;
use crate::input::{Dialect, InputFile};
use crate::lookup::{self, CustomerIndex};
use crate::mapping::row::Blank;
use crate::outfile::RunFiles;
use crate::pipeline::{self, Ended, Window};
use crate::report::{Progress, Summary, Tally};
use crate::results::{default_path, ResultsWriter};
use crate::rows::{check_resume, JournalSpec, Mark, RowRun};
use crate::settings::{ApiVersion, Settings};

use execute::{Importer, StoreCalls};
use plan::{address_not_added, Reading, RowSemantics};
pub use plan::{MatchBy, Mode};
use prepare::{Carried, FirstRows, Input, Item, Note, Work};

/// The reference a user fixing a file needs, at the end of `import --help`.
const IMPORT_REFERENCE: &str = "\
Columns (headers match ignoring case, surrounding spaces and _/-/space differences:
\"First Name\" = first_name; `bc-customers columns` says what each one holds):
  id, email, first_name, last_name, company, phone, store_credit, customer_group_id or
  customer_group (a name), notes, tax_exempt_category, registration_ip_address, password,
  password_confirmation, force_password_reset (or reset_pass_on_login); the address columns
  address_first_name, address_last_name, address_company, address_street_1, address_street_2,
  address_city, address_state, address_zip, address_country, address_phone, address_type.
  An export is accepted as it is (its read-only columns are not sent), and so is the
  --addresses file of an export (its addresses are added to existing customers).
";

/// Create or update customers from a CSV file.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(after_help = format!("{IMPORT_REFERENCE}\n{}", crate::exit::ROW_COMMAND_EXIT_CODES))]
pub struct Args {
    /// The CSV file (`-` for stdin).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// create, update or upsert.
    #[arg(long, value_enum, default_value_t = Mode::Upsert)]
    pub mode: Mode,
    /// Where to write the results file [default: <input stem>.results.csv beside the input].
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Validate and classify every row (would_create, would_update, unchanged, invalid) with
    /// read-only requests; send no write.
    #[arg(long)]
    pub dry_run: bool,
    /// The input is an earlier results file: process only its rows whose _result is invalid or
    /// failed, or that were never done (would_create, would_update of a dry run); the others
    /// keep their earlier result.
    #[arg(long)]
    pub only_failed: bool,
    /// Every customer created by this run must reset its password at next login.
    #[arg(long)]
    pub force_password_reset: bool,
    /// Also apply password cells to existing customers (otherwise only to new ones).
    #[arg(long)]
    pub update_passwords: bool,
    /// Create customer_group names that do not exist (otherwise such rows are invalid).
    #[arg(long)]
    pub create_missing_groups: bool,
    /// On update, a blank cell keeps the field (keep) or clears it (clear).
    #[arg(long, value_enum, default_value_t = Blank::Keep)]
    pub blank: Blank,
    /// Import even when the file has columns the tool does not know (they are not sent).
    #[arg(long)]
    pub ignore_unknown_columns: bool,
    /// How rows find their customer: `id` (a row with an id matches that customer, other rows
    /// match by email) or `email` (the id column is ignored: restoring a backup after
    /// customers were deleted, or copying customers to another store).
    #[arg(long = "match", value_enum, value_name = "BY", default_value_t = MatchBy::Id)]
    pub match_by: MatchBy,
    /// Map another platform's customer export to the import columns: shopify, woocommerce,
    /// magento or bigcommerce; and the extra address passes woocommerce-shipping,
    /// bigcommerce-address-2, bigcommerce-address-3 (see docs/migration.md).
    #[arg(long, value_name = "NAME", conflicts_with = "mapping")]
    pub preset: Option<String>,
    /// Map the file's columns with a TOML mapping file (see docs/mapping.md), or a built-in
    /// one: `builtin:NAME` with a preset's name.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Continue an interrupted run of the same input and results file: finished rows are not
    /// sent again, and no customer is created twice (see `<results>.journal`).
    #[arg(long)]
    pub resume: bool,
    /// store_credit uses a decimal comma: `1.234,56` and `12,50` (a European Excel).
    #[arg(long)]
    pub decimal_comma: bool,
    #[command(flatten)]
    pub dialect: Dialect,
}

/// Where the input's own outcome columns are, when it is an earlier results file.
struct EarlierResults {
    /// `_result`: required by `--only-failed`.
    result: Option<usize>,
    /// `_row`: a retry of a results file keeps the original row numbers.
    row: Option<usize>,
}

impl EarlierResults {
    fn locate(headers: &csv::StringRecord) -> EarlierResults {
        let find = |name: &str| headers.iter().position(|h| normalize_header(h) == name);
        EarlierResults {
            result: find("_result"),
            row: find("_row"),
        }
    }
}

/// Run `import`: check the file, plan, process every row, write the results and the summary.
pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    check_resume(args.resume, Some(&args.file), args.dry_run)?;
    // Everything about the file (and the mapping) is checked before the first request.
    let file = InputFile::open(&args.file, &args.dialect)?;
    let rdr = file.reader()?;
    let caps = Writer::capabilities_of(g.api);
    let input = Arc::new(prepare::prepare_input(&args, file.headers.clone(), &caps)?);
    let earlier = EarlierResults::locate(&input.headers);
    if args.only_failed && earlier.result.is_none() {
        bail!(
            "--only-failed expects an earlier results file, but {} has no _result column",
            args.file.display()
        );
    }
    let results_path = args
        .results
        .clone()
        .unwrap_or_else(|| default_path(&args.file, "import"));
    crate::results::check_path(&args.file, &results_path)?;
    let mut files = RunFiles::new(g)
        .input("the input file", &args.file)
        .results(&results_path);
    if let Some(m) = &args.mapping {
        files = files.input("the --mapping file", m);
    }
    files.check()?;
    let client = connect(g)?;
    let sem = semantics(&args, &input);
    let run = Arc::new(start_run(&args, &sem, &results_path)?);
    let concurrency = g.concurrency as usize;
    let progress = Progress::new(None, g.quiet, "rows");
    progress.watch(&client);

    let mut notices = vec![file.describe()];
    notices.extend(prepare::column_notices(&input));
    let layout = &input.layout;
    let groups = if layout.has_groups() {
        run.stop.guard(GroupBook::load(&client)).await?
    } else {
        GroupBook::default()
    };
    if layout.has_groups() && !groups.available {
        notices.push(
            "this store's plan has no customer groups: rows asking for a group are invalid".into(),
        );
    }
    // Planning counts the rows that will be sent; the progress bar counts every record.
    let file_rows = match (args.only_failed, earlier.result) {
        (true, Some(col)) => Some(prepare::count_failed_rows(&file, col)?),
        _ => Some(file.records),
    };
    progress.set_total(file.records);
    let index = run
        .stop
        .guard(plan_lookups(g, &client, file_rows, concurrency, &progress))
        .await?;
    progress.planned();
    let writer = Writer::for_api(
        g.api,
        client.clone(),
        concurrency,
        Some(batch_hook(Arc::clone(&run))),
    );
    let calls = StoreCalls::new(client.clone(), g.max_retries, writer);
    let importer = Importer::new(Arc::clone(&run), calls, layout.clone(), sem, index, groups);
    if let Some(note) = &run.note {
        progress.note(note);
    }

    let rx = pipeline::read_rows(rdr, &args.file, |_, _| true);
    let bom = g.bom || file.had_bom;
    let mut writer = ResultsWriter::create(&results_path, &input.headers, bom)?;
    let rows = Rows {
        run: &run,
        input: &input,
        importer: &importer,
        progress: &progress,
        earlier: &earlier,
        args: &args,
    };
    // Rows in flight, not requests: on V2 they are equal (a row sends one request at a
    // time); a batching backend needs more rows waiting than requests (settings.rs).
    let (ended, counts) = rows
        .process(rx, Window::new(g.rows_in_flight), &mut writer)
        .await?;
    progress.finish();

    notices.extend(run_notices(&importer, &counts, args.dry_run));
    notices.extend(progress.quota_notice());
    let tally = counts.tally;
    let mut summary = Summary::new(
        "import",
        tally.total(),
        Some(&tally),
        run.started,
        client.stats(),
    );
    summary.notices = notices;
    summary.dry_run = args.dry_run;
    summary.results_file = Some(results_path.display().to_string());
    run.end(ended, writer, summary, g.quiet, g.summary_json.as_deref())
}

/// What the rows added up to.
#[derive(Default)]
struct Counts {
    tally: Tally,
    /// `--only-failed` rows carried over as they were.
    carried: u64,
}

/// The row stage of a run: what the pipeline's closures share.
struct Rows<'a> {
    run: &'a RowRun,
    input: &'a Input,
    importer: &'a Importer,
    progress: &'a Progress,
    earlier: &'a EarlierResults,
    args: &'a Args,
}

impl Rows<'_> {
    /// Every row through the pipeline: prepared once, worked on by the importer, and written
    /// to the results file in input order.
    async fn process(
        &self,
        rx: tokio::sync::mpsc::Receiver<anyhow::Result<pipeline::Row>>,
        window: Window,
        writer: &mut ResultsWriter,
    ) -> anyhow::Result<(Ended, Counts)> {
        // With --only-failed, rows that did not fail are not sent again; they are carried into
        // the new results file as they were, so it still lists every input record once, in order.
        let carried_from = self
            .args
            .only_failed
            .then(|| Carried::locate(&self.input.headers))
            .flatten();
        let blank = self.args.blank;
        let mut counts = Counts::default();
        let mut first_rows = FirstRows::default();
        let ended = self
            .run
            .rows_prepared(
                rx,
                window,
                |row| prepare::prepare(self.input, carried_from, blank, &row.record),
                |item: &Item| item.keys.clone(),
                |row, item: Item, turn| async move {
                    let out = match item.work {
                        Work::Done(out) => out,
                        Work::Row { record, data } => {
                            let mut out = match data {
                                Ok(mut data) => {
                                    let problem = data.address_problem.take();
                                    let out = self.importer.row(&row, &turn, *data).await?;
                                    match problem {
                                        Some(p) => address_not_added(out, &p),
                                        None => out,
                                    }
                                }
                                Err(m) => crate::results::RowOutcome::invalid(m),
                            };
                            prepare::scrub_passwords(&self.input.layout, &record, &mut out.message);
                            out
                        }
                    };
                    Ok((row, out))
                },
                |row, note: Note, mut out| {
                    let no = self.row_number(&row);
                    if note.carried {
                        counts.carried += 1;
                        self.progress.record_earlier(out.result);
                    } else {
                        counts.tally.add(out.result);
                        if self.run.recovered(row.no).is_some() {
                            self.progress.record_earlier(out.result);
                        } else {
                            self.progress.record(out.result);
                        }
                        // An addresses file names each customer once per address: that is its shape.
                        let first = note.first_key.filter(|_| !self.input.addresses_file);
                        if let Some(first) = first.and_then(|k| first_rows.seen(&k, no)) {
                            let note = format!("same customer as row {first} (applied after it)");
                            out.message = if out.message.is_empty() {
                                note
                            } else {
                                format!("{}; {note}", out.message)
                            };
                        }
                    }
                    writer.write(no, &out, &self.input.echo(&row.record))?;
                    Ok(())
                },
            )
            .await?;
        Ok((ended, counts))
    }

    /// The row's number in the results file: a retry of a results file keeps the original ones.
    fn row_number(&self, row: &pipeline::Row) -> u64 {
        match (self.args.only_failed, self.earlier.row) {
            (true, Some(i)) => row
                .record
                .get(i)
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(row.no),
            _ => row.no,
        }
    }
}

/// What the summary says once about what the rows did.
fn run_notices(importer: &Importer, counts: &Counts, dry_run: bool) -> Vec<String> {
    let mut notices = Vec::new();
    if counts.carried > 0 {
        notices.push(format!(
            "{} that had been done were not sent again; the results file keeps their earlier result",
            crate::report::plural(counts.carried, "row", "rows")
        ));
    }
    if importer.password_not_applied() {
        notices.push("password cells were not applied to existing customers (pass --update-passwords to do so)".into());
    }
    let created = importer.groups_created();
    if !created.is_empty() {
        notices.push(format!(
            "customer group(s) {}: {}",
            if dry_run {
                "that would be created"
            } else {
                "created"
            },
            created.join(", ")
        ));
    }
    notices
}

/// The options that change what a row means, once, from the flags (see [`RowSemantics`]).
fn semantics(args: &Args, input: &Input) -> RowSemantics {
    RowSemantics {
        mode: args.mode,
        blank: args.blank,
        match_by: args.match_by,
        update_passwords: args.update_passwords,
        force_password_reset: args.force_password_reset,
        create_missing_groups: args.create_missing_groups,
        dry_run: args.dry_run,
        addresses_only: input.addresses_file,
        reading: Reading {
            only_failed: args.only_failed,
            ignore_unknown_columns: args.ignore_unknown_columns,
            preset: args.preset.clone(),
            mapping: args.mapping.clone(),
            dialect: args.dialect.journal_key(),
            decimal_comma: args.decimal_comma,
        },
    }
}

/// The V3 batches' before-send hook: every create of a request is marked in the journal
/// just before the POST (so `--resume` after a kill -9 mid-batch looks each of them up by
/// email before creating it: never twice), and no request starts after a signal (the rows
/// are then abandoned and done on resume).
fn batch_hook(run: Arc<RowRun>) -> BeforeSend {
    Arc::new(move |op, keys| {
        if op != Op::Create {
            return run.before_write(0, Mark::None);
        }
        keys.iter()
            .try_for_each(|&no| run.before_write(no, Mark::Creating))
    })
}

/// Choose how to find rows' customers with the fewest requests: nothing to find in an empty
/// store; otherwise one lookup per row, or the whole store in pages of 250 when that is
/// cheaper (see [`lookup::should_preload`]). Under `--api v3` the store is read through V3's
/// `GET /v3/customers` (its count, its cursor pages), as the writes will see it.
async fn plan_lookups(
    g: &Settings,
    client: &Client,
    file_rows: Option<u64>,
    concurrency: usize,
    progress: &Progress,
) -> anyhow::Result<CustomerIndex> {
    if g.api == ApiVersion::V3 {
        return plan_lookups_v3(client, file_rows, concurrency, progress).await;
    }
    let store_count = client.count_customers(&[]).await.map_err(fatal_if_auth)?;
    Ok(if store_count == 0 {
        CustomerIndex::empty(true)
    } else if lookup::should_preload(file_rows, store_count) {
        progress.note(&format!(
            "reading the store's {} in pages of 250 to plan the import",
            crate::report::plural(store_count, "customer", "customers")
        ));
        progress.planning(store_count.div_ceil(crate::api::v2::pages::PAGE).max(1));
        CustomerIndex::preload(client, store_count, concurrency, || progress.page_read())
            .await
            .map_err(fatal_if_auth)?
    } else {
        CustomerIndex::empty(false)
    })
}

/// [`plan_lookups`] through Customers V3: the first page carries the count.
async fn plan_lookups_v3(
    client: &Client,
    file_rows: Option<u64>,
    concurrency: usize,
    progress: &Progress,
) -> anyhow::Result<CustomerIndex> {
    let reader = Reader::V3(client.clone(), Filters::default());
    let query = crate::api::v2::pages::Query::default();
    let start = reader.start(&query, false).await.map_err(fatal_if_auth)?;
    let store_count = start.count;
    if store_count == 0 {
        return Ok(CustomerIndex::empty(true));
    }
    if !lookup::should_preload(file_rows, store_count) {
        return Ok(CustomerIndex::empty(false));
    }
    progress.note(&format!(
        "reading the store's {} through Customers V3 to plan the import",
        crate::report::plural(store_count, "customer", "customers")
    ));
    progress.planning(start.page_requests + 1);
    // Complete: a customer missing from every page is not in the store.
    let mut index = CustomerIndex::empty(true);
    let mut pages = reader.pages(query, start, concurrency);
    while let Some(page) = pages.next().await {
        for c in page.map_err(fatal_if_auth)?.customers {
            index.remember(&c.email, crate::mapping::row::Snapshot::of(&c));
        }
        progress.page_read();
    }
    Ok(index)
}

// ---- `--resume`: the journal of finished rows (see `crate::rows` and `crate::journal`) ----

/// Check and lock the journal beside the results file. Dry runs write nothing and stdin
/// cannot be identified again, so neither has a journal.
fn start_run(args: &Args, sem: &RowSemantics, results_path: &Path) -> anyhow::Result<RowRun> {
    if args.dry_run || args.file.as_os_str() == "-" {
        return RowRun::start(
            "import",
            None,
            if args.dry_run {
                "a dry run sends no write"
            } else {
                "standard input cannot be resumed (rows already imported are found and reported unchanged)"
            },
        );
    }
    RowRun::start(
        "import",
        Some(JournalSpec {
            input: &args.file,
            results: results_path,
            // What changes the meaning of a row: resuming with other options would mix two runs.
            options: sem.fingerprint(),
            resume: args.resume,
        }),
        "",
    )
}
