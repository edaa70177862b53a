//! `import FILE`: create or update one customer per CSV row, with bounded concurrency, and
//! write a results file saying what happened to every row.
//!
//! Per row: validate (invalid rows send nothing), find the store's customer (by `id`, else by
//! email), compare, and send only what changes: a row that would change nothing is
//! `unchanged` and costs no write. Creates are reconciled after an ambiguous failure (look
//! the email up before sending again), so a lost response never creates a customer twice.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};

use crate::api::reconcile::create_once;
use crate::api::{ApiError, Client};
use crate::cmd::{connect, fatal_if_auth, GroupBook};
use crate::csvio::normalize_header;
use crate::exit::{Exit, UsageError};
use crate::input::{is_empty_row, Dialect, InputFile};
use crate::lookup::{self, CustomerIndex, Found};
use crate::mapping::columns::{closest_known, Field, Layout};
use crate::mapping::presets::{BoundMapping, Mapping};
use crate::mapping::row::{parse_row, AddressData, Blank, RowData, Snapshot};
use crate::outfile::RunFiles;
use crate::pipeline::{self, Row, Turn};
use crate::report::{Progress, Summary, Tally};
use crate::results::{default_path, ResultsWriter, RowOutcome, RowResult};
use crate::rows::{check_resume, JournalSpec, Mark, RowRun};
use crate::settings::Settings;

/// What to do with a row's customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// Only create; a row whose customer exists fails.
    Create,
    /// Only update; a row whose customer does not exist fails.
    Update,
    /// Create or update, whichever applies.
    #[default]
    Upsert,
}

/// What identifies a row's customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MatchBy {
    /// The `id` column when filled, else the email.
    #[default]
    Id,
    /// Always the email; an `id` column is not used.
    Email,
}

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

/// The input as the import sees it: the file's own headers (echoed in the results file), and,
/// with `--preset`/`--mapping`, the mapping that turns each record into the import columns.
struct Input {
    /// The file's header row, as written.
    headers: csv::StringRecord,
    /// The import columns' layout (of the mapped record when there is a mapping).
    layout: Layout,
    mapping: Option<BoundMapping>,
    /// Source columns whose cells the mapping sends as a password: blanked in the results.
    secret: Vec<usize>,
    /// The file is an `export --addresses` file: its rows add addresses to existing customers.
    addresses_file: bool,
}

impl Input {
    /// The record in the import columns: the record itself, or what the mapping makes of it.
    /// A mapping error (a value missing from a strict value map) makes the row invalid.
    fn canonical<'r>(
        &self,
        record: &'r csv::StringRecord,
    ) -> Result<std::borrow::Cow<'r, csv::StringRecord>, String> {
        let Some(m) = &self.mapping else {
            return Ok(std::borrow::Cow::Borrowed(record));
        };
        // Checked here because the mapped record always has the mapping's width.
        if let Some(m) = crate::input::ragged_message(record, self.headers.len()) {
            return Err(m);
        }
        m.apply(record).map(std::borrow::Cow::Owned)
    }

    /// The record as echoed in the results file: password cells blanked.
    fn echo(&self, record: &csv::StringRecord) -> csv::StringRecord {
        if self.secret.is_empty() {
            return record.clone();
        }
        record
            .iter()
            .enumerate()
            .map(|(i, c)| if self.secret.contains(&i) { "" } else { c })
            .collect()
    }
}

struct Ctx {
    run: Arc<RowRun>,
    client: Client,
    layout: Layout,
    mode: Mode,
    dry_run: bool,
    blank: Blank,
    force_reset_new: bool,
    update_passwords: bool,
    create_missing_groups: bool,
    max_retries: u32,
    index: Mutex<CustomerIndex>,
    /// Async: creating a missing group awaits while holding it, so two rows never create one group twice.
    groups: tokio::sync::Mutex<GroupBook>,
    password_not_applied: AtomicBool,
    /// Groups this run created (or, in a dry run, would create), for the summary.
    groups_created: Mutex<Vec<String>>,
    /// Addresses known without asking the store, by customer id (see [`KnownAddresses`]).
    addresses: Mutex<HashMap<u64, KnownAddresses>>,
    /// An `export --addresses` file: rows only add addresses; they never create a customer
    /// or change its fields.
    addresses_only: bool,
}

/// What this run knows of a customer's addresses, as [`AddressData::fingerprint`]s: all of
/// them for a customer it created (`complete`: a later row for it needs no address read), or
/// the ones a dry run would have added (which the store cannot show yet).
#[derive(Default)]
struct KnownAddresses {
    complete: bool,
    prints: Vec<u64>,
}

/// Run `import`: check the file, plan, process every row, write the results and the summary.
pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    check_resume(args.resume, Some(&args.file), args.dry_run)?;
    // Everything about the file (and the mapping) is checked before the first request.
    let file = InputFile::open(&args.file, &args.dialect)?;
    let rdr = file.reader()?;
    let input = Arc::new(prepare_input(&args, file.headers.clone())?);
    let layout = input.layout.clone();
    let result_col = input
        .headers
        .iter()
        .position(|h| normalize_header(h) == "_result");
    let row_col = input
        .headers
        .iter()
        .position(|h| normalize_header(h) == "_row");
    if args.only_failed && result_col.is_none() {
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
    let run = Arc::new(start_run(&args, &results_path)?);
    let concurrency = g.concurrency as usize;
    let progress = Progress::new(None, g.quiet, "rows");
    progress.watch(&client);

    let mut notices = vec![file.describe()];
    notices.extend(column_notices(&input));
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
    let file_rows = match (args.only_failed, result_col) {
        (true, Some(col)) => Some(count_failed_rows(&file, col)?),
        _ => Some(file.records),
    };
    progress.set_total(file.records);
    let index = run
        .stop
        .guard(plan(&client, file_rows, concurrency, &progress))
        .await?;
    progress.planned();

    let ctx = Arc::new(Ctx {
        run: Arc::clone(&run),
        client: client.clone(),
        layout: layout.clone(),
        mode: args.mode,
        dry_run: args.dry_run,
        blank: args.blank,
        force_reset_new: args.force_password_reset,
        update_passwords: args.update_passwords,
        create_missing_groups: args.create_missing_groups,
        max_retries: g.max_retries,
        index: Mutex::new(index),
        groups: tokio::sync::Mutex::new(groups),
        password_not_applied: AtomicBool::new(false),
        groups_created: Mutex::new(Vec::new()),
        addresses: Mutex::new(HashMap::new()),
        addresses_only: input.addresses_file,
    });
    if let Some(note) = &run.note {
        progress.note(note);
    }

    let only_failed = args.only_failed;
    // With --only-failed, rows that did not fail are not sent again; they are carried into the
    // new results file as they were, so it still lists every input record once, in order.
    let carried_from = only_failed
        .then(|| Carried::locate(&input.headers))
        .flatten();
    let rx = pipeline::read_rows(rdr, &args.file, |_, _| true);
    let bom = g.bom || file.had_bom;
    let mut writer = ResultsWriter::create(&results_path, &input.headers, bom)?;
    let mut tally = Tally::default();
    let mut carried_rows = 0u64;
    let key_input = Arc::clone(&input);
    let dup_input = Arc::clone(&input);
    let mut first_rows = FirstRows::default();
    let ended = run
        .rows(
            rx,
            concurrency,
            move |row| {
                if carried_from.is_some_and(|c| c.is_carried(&row.record)) {
                    return Vec::new();
                }
                // A row the mapping refuses has no key: it is invalid and sends nothing anyway.
                match key_input.canonical(&row.record) {
                    Ok(rec) => row_keys(&key_input.layout, &rec),
                    Err(_) => Vec::new(),
                }
            },
            |row, turn| {
                let ctx = Arc::clone(&ctx);
                let input = Arc::clone(&input);
                async move {
                    if is_empty_row(&row.record) {
                        return Ok((row, RowOutcome::new(RowResult::Skipped, None, "empty row")));
                    }
                    if let Some(out) = carried_from.and_then(|c| c.outcome(&row.record)) {
                        return Ok((row, out));
                    }
                    let out = match input.canonical(&row.record) {
                        Ok(rec) => {
                            let mut out = process(&ctx, &row, &turn, &rec).await?;
                            scrub_passwords(&ctx.layout, &rec, &mut out.message);
                            out
                        }
                        Err(m) => RowOutcome::invalid(m),
                    };
                    Ok((row, out))
                }
            },
            |row, mut out| {
                // A retry of a results file keeps the original row numbers.
                let no = match (only_failed, row_col) {
                    (true, Some(i)) => row
                        .record
                        .get(i)
                        .and_then(|s| s.trim().parse().ok())
                        .unwrap_or(row.no),
                    _ => row.no,
                };
                if carried_from.is_some_and(|c| c.is_carried(&row.record)) {
                    carried_rows += 1;
                    progress.record_earlier(out.result);
                } else {
                    tally.add(out.result);
                    if run.recovered(row.no).is_some() {
                        progress.record_earlier(out.result);
                    } else {
                        progress.record(out.result);
                    }
                    // An addresses file names each customer once per address: that is its shape.
                    if !dup_input.addresses_file {
                        let key = dup_input
                            .canonical(&row.record)
                            .ok()
                            .and_then(|rec| row_keys(&dup_input.layout, &rec).into_iter().next());
                        if let Some(first) = key.and_then(|k| first_rows.seen(&k, no)) {
                            let note = format!("same customer as row {first} (applied after it)");
                            out.message = if out.message.is_empty() {
                                note
                            } else {
                                format!("{}; {note}", out.message)
                            };
                        }
                    }
                }
                writer.write(no, &out, &input.echo(&row.record))?;
                Ok(())
            },
        )
        .await?;
    progress.finish();

    if carried_rows > 0 {
        notices.push(format!(
            "{} that had been done were not sent again; the results file keeps their earlier result",
            crate::report::plural(carried_rows, "row", "rows")
        ));
    }
    if ctx.password_not_applied.load(Ordering::Relaxed) {
        notices.push("password cells were not applied to existing customers (pass --update-passwords to do so)".into());
    }
    let created = ctx.groups_created.lock().unwrap().clone();
    if !created.is_empty() {
        notices.push(format!(
            "customer group(s) {}: {}",
            if args.dry_run {
                "that would be created"
            } else {
                "created"
            },
            created.join(", ")
        ));
    }
    notices.extend(progress.quota_notice());
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

/// Bind the mapping (if any) to the file's headers and check the columns, all before any
/// request: unknown columns are fatal unless ignored, and a file must name its customers.
fn prepare_input(args: &Args, headers: csv::StringRecord) -> anyhow::Result<Input> {
    let mapping = match (&args.preset, &args.mapping) {
        // An unknown preset name is a bad flag value (exit 2), like any other.
        (Some(name), _) => Some(Mapping::preset(name).map_err(|e| UsageError(format!("{e:#}")))?),
        (None, Some(path)) => Some(Mapping::from_toml_file(path)?),
        (None, None) => None,
    };
    // Which platform's export the file looks like, judged by the columns the import itself
    // does not know (for the messages that say which --preset to add).
    let looks_like = || {
        let unknown = Layout::new(&headers).unknown;
        crate::mapping::presets::suggest_preset(unknown.iter().map(String::as_str))
    };
    let bound = match &mapping {
        Some(m) => Some(m.bind(&headers).with_context(|| {
            let hint = match (looks_like(), &args.preset) {
                (Some((name, platform)), Some(given)) if !given.eq_ignore_ascii_case(name) => {
                    format!(" (the file looks like {platform}: use --preset {name})")
                }
                _ => String::new(),
            };
            format!("mapping the columns of {}{hint}", args.file.display())
        })?),
        None => None,
    };
    let addresses_file = bound.is_none() && is_addresses_export(&headers);
    let layout = match &bound {
        _ if addresses_file => Layout::new(&addresses_layout_headers(&headers)),
        Some(b) => {
            let mut l = Layout::new(&b.headers.iter().collect::<csv::StringRecord>());
            // The mapping decides about leading quotes (`strip_leading_quote`): the import's own
            // "remove exactly one leading '" would take a second one from a mapped cell.
            l.verbatim = true;
            l
        }
        None => Layout::new(&headers),
    };
    let mut layout = layout;
    layout.decimal_comma = args.decimal_comma;
    if args.match_by == MatchBy::Email {
        // The ids belong to another store, or to customers deleted since: not to be matched.
        layout.id = None;
    }
    if bound.is_some() && layout.id.is_some() {
        bail!(
            "the mapping gives the column id: a source platform's customer id is never a BigCommerce id (a row with an id updates that customer of this store). Map it to notes with a prefix instead, as the presets do (see docs/mapping.md)"
        );
    }
    if !layout.unknown.is_empty() && !args.ignore_unknown_columns {
        // A file with 100,000 stray columns must not make a 100,000-name message.
        let mut named: Vec<String> = layout
            .unknown
            .iter()
            .take(10)
            .map(|u| match closest_known(u) {
                Some(k) => format!("{u:?} (did you mean {k:?}?)"),
                None => format!("{u:?}"),
            })
            .collect();
        if layout.unknown.len() > named.len() {
            named.push(format!("and {} more", layout.unknown.len() - named.len()));
        }
        if let (None, Some((name, platform))) = (&bound, looks_like()) {
            let theirs: Vec<String> = layout
                .unknown
                .iter()
                .take(5)
                .map(|u| format!("{u:?}"))
                .collect();
            bail!(
                "{}: this looks like {platform} ({}, ... are its columns, not import columns): add --preset {name} (see docs/migrate-from-{name}.md)",
                args.file.display(),
                theirs.join(", ")
            );
        }
        bail!(
            "{}: unknown column(s) {}. Rename them to the import columns (`bc-customers columns` lists them), use --preset or --mapping for another platform's export, or pass --ignore-unknown-columns to import without them",
            args.file.display(),
            named.join(", ")
        );
    }
    if layout.id.is_none() && !layout.has(Field::Email) {
        bail!(
            "{}: the file needs an email or an id column to find or create customers",
            args.file.display()
        );
    }
    let secret = match &bound {
        Some(b) => secret_sources(b, headers.len()),
        None => Vec::new(),
    };
    Ok(Input {
        headers,
        layout,
        mapping: bound,
        secret,
        addresses_file,
    })
}

/// Is this the `--addresses` file of `export` (or a results file of one)? Its first columns
/// name the customer and the address: `customer_id`, `customer_email`, `address_id`.
fn is_addresses_export(headers: &csv::StringRecord) -> bool {
    let names: Vec<String> = headers.iter().map(normalize_header).collect();
    ["customer_id", "customer_email", "address_id"]
        .iter()
        .all(|n| names.iter().any(|h| h == n))
}

/// The import columns of an addresses file's columns: `customer_id` is the id and
/// `customer_email` the email that find the customer, the address fields become `address_*`,
/// and the store's own `address_id` and `country_iso2` (derived from the country) are not
/// data (a leading `_` makes a column ignored, as in a results file).
fn addresses_layout_headers(headers: &csv::StringRecord) -> csv::StringRecord {
    headers
        .iter()
        .map(|h| {
            let n = normalize_header(h);
            match n.as_str() {
                "customer_id" => "id".to_string(),
                "customer_email" => "email".to_string(),
                "address_id" | "country_iso2" => format!("_{n}"),
                "first_name" | "last_name" | "company" | "street_1" | "street_2" | "city"
                | "state" | "zip" | "country" | "phone" => format!("address_{n}"),
                _ => h.to_string(),
            }
        })
        .collect()
}

/// The source columns whose cells a mapping sends as `password`/`password_confirmation`,
/// found by mapping a probe value through each column alone. The results writer blanks
/// password columns by name, but a mapping can take a password from any header.
fn secret_sources(m: &BoundMapping, width: usize) -> Vec<usize> {
    const PROBE: &str = "7391046285193";
    let secret_out: Vec<usize> = m
        .headers
        .iter()
        .enumerate()
        .filter(|(_, h)| matches!(h.as_str(), "password" | "password_confirmation"))
        .map(|(i, _)| i)
        .collect();
    if secret_out.is_empty() {
        return Vec::new();
    }
    (0..width)
        .filter(|&i| {
            let probe: csv::StringRecord = (0..width)
                .map(|k| if k == i { PROBE } else { "" })
                .collect();
            m.apply(&probe).is_ok_and(|out| {
                secret_out
                    .iter()
                    .any(|&o| out.get(o).is_some_and(|c| c.contains(PROBE)))
            })
        })
        .collect()
}

/// What the summary says once about the file's columns.
fn column_notices(input: &Input) -> Vec<String> {
    let mut notices = Vec::new();
    if let Some(m) = &input.mapping {
        notices.extend(m.notices.iter().cloned());
    }
    let layout = &input.layout;
    if !layout.read_only.is_empty() {
        notices.push(format!(
            "read-only column(s) not sent (the V2 API cannot write them): {}",
            layout.read_only.join(", ")
        ));
    }
    if !layout.unknown.is_empty() {
        let hint = match crate::mapping::presets::suggest_preset(
            layout.unknown.iter().map(String::as_str),
        ) {
            Some((name, platform)) if input.mapping.is_none() => {
                format!(" (the file looks like {platform}: --preset {name} imports them)")
            }
            _ => String::new(),
        };
        notices.push(format!(
            "unknown column(s) ignored: {}{hint}",
            layout.unknown.join(", ")
        ));
    }
    notices
}

/// Choose how to find rows' customers with the fewest requests: nothing to find in an empty
/// store; otherwise one lookup per row, or the whole store in pages of 250 when that is
/// cheaper (see [`lookup::should_preload`]).
async fn plan(
    client: &Client,
    file_rows: Option<u64>,
    concurrency: usize,
    progress: &Progress,
) -> anyhow::Result<CustomerIndex> {
    let store_count = client.count_customers(&[]).await.map_err(fatal_if_auth)?;
    Ok(if store_count == 0 {
        CustomerIndex::empty(true)
    } else if lookup::should_preload(file_rows, store_count) {
        progress.note(&format!(
            "reading the store's {} in pages of 250 to plan the import",
            crate::report::plural(store_count, "customer", "customers")
        ));
        progress.planning(store_count.div_ceil(crate::api::pages::PAGE).max(1));
        CustomerIndex::preload(client, store_count, concurrency, || progress.page_read())
            .await
            .map_err(fatal_if_auth)?
    } else {
        CustomerIndex::empty(false)
    })
}

/// Where an earlier results file keeps its outcome columns (for `--only-failed`).
#[derive(Debug, Clone, Copy)]
struct Carried {
    result: usize,
    customer_id: Option<usize>,
    message: Option<usize>,
}

impl Carried {
    fn locate(headers: &csv::StringRecord) -> Option<Carried> {
        let find = |name: &str| headers.iter().position(|h| normalize_header(h) == name);
        Some(Carried {
            result: find("_result")?,
            customer_id: find("_customer_id"),
            message: find("_message"),
        })
    }

    /// True when the earlier run finished this row, so it is not sent again. Rows that are
    /// `invalid` or `failed`, and the `would_create` / `would_update` of a dry run (never
    /// done), are processed.
    fn is_carried(&self, record: &csv::StringRecord) -> bool {
        let earlier = record.get(self.result).map(str::trim).unwrap_or("");
        !still_to_do(earlier.as_bytes())
    }

    /// The earlier outcome of a row that is not retried (`None`: the row is retried).
    fn outcome(&self, record: &csv::StringRecord) -> Option<RowOutcome> {
        if !self.is_carried(record) {
            return None;
        }
        let earlier = record.get(self.result).map(str::trim).unwrap_or("");
        let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("");
        Some(RowOutcome::new(
            RowResult::parse(earlier).unwrap_or(RowResult::Skipped),
            cell(self.customer_id).trim().parse().ok(),
            cell(self.message),
        ))
    }
}

/// An earlier result that `--only-failed` processes again.
fn still_to_do(earlier: &[u8]) -> bool {
    matches!(
        earlier,
        b"invalid" | b"failed" | b"would_create" | b"would_update"
    )
}

/// The first row of each customer key, to say "same customer as row N" on later ones. Keys
/// are kept as 64-bit hashes: a file of a million rows costs 16 MB here, not its emails.
#[derive(Default)]
struct FirstRows(HashMap<u64, u64>);

impl FirstRows {
    /// The earlier row with this key, or `None` (and `no` is remembered as its first row).
    fn seen(&mut self, key: &str, no: u64) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        match self.0.entry(h.finish()) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(no);
                None
            }
        }
    }
}

/// With `--only-failed`, the rows that will be sent (for the plan), counted before the run.
fn count_failed_rows(file: &InputFile, result_col: usize) -> anyhow::Result<u64> {
    let mut rdr = file.reader()?;
    let mut rec = csv::StringRecord::new();
    let mut n = 0;
    // The whole-file check has read this file already: errors cannot happen here.
    while let Ok(true) = rdr.read_record(&mut rec) {
        if rec
            .get(result_col)
            .is_some_and(|c| still_to_do(c.trim().as_bytes()))
        {
            n += 1
        }
    }
    Ok(n)
}

/// The keys of the customer a row names (its id and its email, when filled): rows sharing
/// one run one after another, in file order (see `pipeline::Chains`).
fn row_keys(layout: &Layout, record: &csv::StringRecord) -> Vec<String> {
    let cell = |i: Option<usize>| {
        i.and_then(|i| record.get(i))
            .map(|c| layout.clean(c).trim())
            .filter(|c| !c.is_empty())
    };
    let mut keys = Vec::new();
    if let Some(id) = cell(layout.id) {
        keys.push(match id.parse::<u64>() {
            Ok(n) => pipeline::id_key(n),
            Err(_) => format!("#{id}"),
        });
    }
    keys.extend(cell(layout.fields[Field::Email.index()]).map(pipeline::email_key));
    keys
}

/// One row, already in the import columns (`record`): validate, find, create or update.
async fn process(
    ctx: &Ctx,
    row: &Row,
    turn: &Turn,
    record: &csv::StringRecord,
) -> anyhow::Result<RowOutcome> {
    let mut data = match parse_row(&ctx.layout, record, ctx.blank) {
        Ok(d) => d,
        Err(m) => return Ok(RowOutcome::invalid(m)),
    };
    let address_problem = data.address_problem.take();
    let out = process_customer(ctx, row, turn, &mut data).await?;
    Ok(match address_problem {
        Some(problem) => address_not_added(out, &problem),
        None => out,
    })
}

/// A customer is never refused because of its address: the row did what it asks of the
/// customer, and its result is `invalid` (with the customer's id) because its address was
/// not added. `invalid` makes the run exit 3 and is what `--only-failed` picks up, so fixing
/// the address cells in the results file and re-running adds the address to the customer.
fn address_not_added(out: RowOutcome, problem: &str) -> RowOutcome {
    let fix = "fix the address cells and run again with --only-failed to add it";
    let detail = |m: &str| {
        if m.is_empty() {
            String::new()
        } else {
            format!(" ({m})")
        }
    };
    let message = match out.result {
        RowResult::Created => format!(
            "customer created{}; address not added: {problem}; {fix}",
            detail(&out.message)
        ),
        RowResult::Updated => format!(
            "customer updated{}; address not added: {problem}; {fix}",
            detail(&out.message)
        ),
        RowResult::Unchanged => format!("customer unchanged; address not added: {problem}; {fix}"),
        RowResult::WouldCreate => {
            format!("the customer would be created; its address would not be added: {problem}")
        }
        RowResult::WouldUpdate => format!(
            "the customer would be updated{}; its address would not be added: {problem}",
            detail(&out.message)
        ),
        // The row has a problem of its own; the address is mentioned after it.
        _ => {
            return RowOutcome {
                message: format!(
                    "{}; the address is not valid either: {problem}",
                    out.message
                ),
                ..out
            }
        }
    };
    RowOutcome::new(RowResult::Invalid, out.customer_id, message)
}

/// The customer part of a row: validate, find, create or update.
async fn process_customer(
    ctx: &Ctx,
    row: &Row,
    turn: &Turn,
    data: &mut RowData,
) -> anyhow::Result<RowOutcome> {
    if data.id.is_none() && data.email().is_none() {
        return Ok(RowOutcome::invalid(
            "the row has neither an id nor an email: fill one of them",
        ));
    }
    if let Err(m) = resolve_group(ctx, row, data).await? {
        return Ok(RowOutcome::invalid(m));
    }
    let existing = match find(ctx, data).await {
        Ok(e) => e,
        Err(e) => return ctx.run.row_failure(e, data.id, "looking the customer up"),
    };
    let existing = match existing {
        Some(snap) => Some(after_earlier_rows(ctx, turn, snap).await),
        None => None,
    };
    match existing {
        None if ctx.addresses_only => Ok(conflict(
            ctx,
            None,
            match data.id {
                Some(id) => format!("no customer with id {id}: an addresses file adds addresses to existing customers; import the customers first (the customers file of the same backup), and use --match email when restoring into another store"),
                None => format!("no customer with email {}: an addresses file adds addresses to existing customers; import the customers first (the customers file of the same backup)", data.email().unwrap_or_default()),
            },
        )),
        None => create(ctx, row, data).await,
        Some(snap) if ctx.run.in_doubt(row.no) => {
            finish_interrupted_create(ctx, data, snap).await
        }
        Some(snap) => update(ctx, data, snap).await,
    }
}

/// Rows about one customer are applied in file order, however they name it: this row may
/// name customer C by email while an earlier row, still running, names it by id (their keys
/// differ, so the pipeline could not chain them before the lookup). Now that the row knows
/// its customer, wait for every earlier row about C; if there were any, what the row read
/// of C is older than what they did to it, so take what the run knows now (each write of the
/// run is remembered in the index as it finishes).
async fn after_earlier_rows(ctx: &Ctx, turn: &Turn, snap: Snapshot) -> Snapshot {
    let keys: Vec<String> = {
        let index = ctx.index.lock().unwrap();
        std::iter::once(pipeline::id_key(snap.id))
            .chain(index.email_of(snap.id).map(pipeline::email_key))
            .collect()
    };
    if !turn.wait_for(&keys).await {
        return snap;
    }
    match ctx.index.lock().unwrap().get(Some(snap.id), None) {
        Some(Found::Yes(now)) => now,
        _ => snap,
    }
}

async fn find(ctx: &Ctx, data: &RowData) -> Result<Option<Snapshot>, ApiError> {
    let local = ctx.index.lock().unwrap().get(data.id, data.email());
    match local {
        Some(Found::Yes(s)) => Ok(Some(s)),
        Some(Found::No) => Ok(None),
        None => {
            let c = lookup::fetch(&ctx.client, data.id, data.email()).await?;
            Ok(c.map(|c| {
                ctx.index
                    .lock()
                    .unwrap()
                    .remember_fetched(&c.email, Snapshot::of(&c))
            }))
        }
    }
}

/// Resolve `customer_group` names and check group ids, against the one listing of this run.
/// The outer error is fatal; the inner one makes the row invalid.
async fn resolve_group(
    ctx: &Ctx,
    row: &Row,
    data: &mut RowData,
) -> anyhow::Result<Result<(), String>> {
    if !ctx.layout.has_groups() {
        return Ok(Ok(()));
    }
    let mut book = ctx.groups.lock().await;
    if let Some(id) = data
        .get(Field::CustomerGroupId)
        .and_then(|v| v.parse::<u64>().ok())
    {
        // `customer_group_id` wins over `customer_group` when both are filled.
        if id != 0 && !book.available {
            return Ok(Err(format!(
                "customer_group_id {id}: this store's plan has no customer groups"
            )));
        }
        if id != 0 && !book.has_id(id) {
            return Ok(Err(format!("customer_group_id {id} is not a customer group of this store (see `bc-customers groups list`)")));
        }
        return Ok(Ok(()));
    }
    let Some(name) = data.group_name.clone() else {
        return Ok(Ok(()));
    };
    if !book.available {
        return Ok(Err(format!(
            "customer_group {name:?}: this store's plan has no customer groups"
        )));
    }
    if let Some(id) = book.id_of(&name) {
        data.values[Field::CustomerGroupId.index()] = Some(id.to_string());
        return Ok(Ok(()));
    }
    if !ctx.create_missing_groups {
        return Ok(Err(format!(
            "customer_group {name:?} does not exist in the store: create it (bc-customers groups create {name:?}) or pass --create-missing-groups"
        )));
    }
    if ctx.dry_run {
        // Nothing is created in a dry run; the row would get the new group.
        let mut said = ctx.groups_created.lock().unwrap();
        if !said.iter().any(|n| n.eq_ignore_ascii_case(name.trim())) {
            said.push(name.trim().to_string());
        }
        // No id yet: a placeholder that equals no store group id, so an existing customer
        // shows the group as a change (would_update) rather than unchanged.
        data.values[Field::CustomerGroupId.index()] = Some(format!("new group {name:?}"));
        return Ok(Ok(()));
    }
    // The book stays locked while the group is created, so rows naming the same new group
    // (even at the same moment) create it once and the others find it in the book.
    ctx.run.before_write(row.no, Mark::None)?;
    match crate::cmd::groups::create_reconciled(&ctx.client, &name, ctx.max_retries).await {
        Ok(g) => {
            book.add(&g);
            ctx.groups_created.lock().unwrap().push(g.name.clone());
            data.values[Field::CustomerGroupId.index()] = Some(g.id.to_string());
            Ok(Ok(()))
        }
        Err(e) if e.is_fatal() => Err(fatal_if_auth(e)),
        Err(e) => Ok(Err(format!(
            "customer_group {name:?} could not be created: {}",
            e.message()
        ))),
    }
}

/// A row the mode forbids (create of an existing customer, update of a missing one, an id
/// that matches nobody): `failed` in a real run ("create fails a row whose customer exists").
/// A dry run classifies rows only as would_create, would_update, unchanged or invalid, so
/// there it is `invalid`, with the real run's message word for word and what the real run
/// will report, so that the dry run still predicts the real run's results file.
fn conflict(ctx: &Ctx, id: Option<u64>, message: String) -> RowOutcome {
    if ctx.dry_run {
        RowOutcome::new(
            RowResult::Invalid,
            id,
            format!("{message}; the real run reports this row as failed"),
        )
    } else {
        RowOutcome::failed(id, message)
    }
}

async fn create(ctx: &Ctx, row: &Row, data: &RowData) -> anyhow::Result<RowOutcome> {
    if let Some(id) = data.id {
        return Ok(conflict(ctx, None, format!("no customer with id {id} (an id can only match an existing customer; clear it, or use --match email, to create a new one)")));
    }
    let email = data.email().unwrap_or_default().to_string();
    if ctx.mode == Mode::Update {
        return Ok(conflict(
            ctx,
            None,
            format!("no customer with email {email} (--mode update does not create customers)"),
        ));
    }
    if let Some(m) = data.missing_for_create() {
        return Ok(RowOutcome::invalid(m));
    }
    if ctx.dry_run {
        // Later rows for the same email see this one as existing.
        let placeholder = u64::MAX - row.seq;
        ctx.index.lock().unwrap().remember(
            &email,
            Snapshot::created(placeholder, data, ctx.force_reset_new),
        );
        know_created(ctx, placeholder, data.address.as_ref());
        return Ok(RowOutcome::new(
            RowResult::WouldCreate,
            None,
            if data.address.is_some() {
                "with an address"
            } else {
                ""
            },
        ));
    }
    // Marked before the POST is sent, so a resumed run knows the create may have happened.
    ctx.run.before_write(row.no, Mark::Creating)?;
    let id = match create_customer(ctx, data, &email).await {
        Ok(id) => id,
        Err(e) => return ctx.run.row_failure(e, None, "creating the customer"),
    };
    ctx.index
        .lock()
        .unwrap()
        .remember(&email, Snapshot::created(id, data, ctx.force_reset_new));
    know_created(ctx, id, None);
    if let Some(addr) = &data.address {
        if let Err(e) = create_address(ctx, id, addr).await {
            // Whether the address exists is unknown now: later rows ask the store.
            ctx.addresses.lock().unwrap().remove(&id);
            return ctx.run.row_failure(
                e,
                Some(id),
                "the customer was created but adding its address failed (run again to add it)",
            );
        }
        added_address(ctx, id, addr);
        return Ok(RowOutcome::new(
            RowResult::Created,
            Some(id),
            "with an address",
        ));
    }
    Ok(RowOutcome::new(RowResult::Created, Some(id), ""))
}

/// POST /customers, reconciling an ambiguous failure by looking the email up first.
async fn create_customer(ctx: &Ctx, data: &RowData, email: &str) -> Result<u64, ApiError> {
    let body = data.create_payload(ctx.force_reset_new);
    create_once(
        &ctx.client,
        ctx.max_retries,
        || async { ctx.client.create_customer(&body).await.map(|c| c.id) },
        || async {
            Ok(ctx
                .client
                .find_customer_by_email(email)
                .await?
                .map(|c| c.id))
        },
    )
    .await
}

/// POST an address, reconciling an ambiguous failure by listing the customer's addresses.
async fn create_address(ctx: &Ctx, customer_id: u64, addr: &AddressData) -> Result<(), ApiError> {
    let body = addr.payload();
    create_once(
        &ctx.client,
        ctx.max_retries,
        || async {
            ctx.client
                .create_address(customer_id, &body)
                .await
                .map(|_| ())
        },
        || async {
            let list = ctx.client.addresses(customer_id).await?;
            Ok(list.iter().any(|a| addr.matches(a)).then_some(()))
        },
    )
    .await
}

async fn update(ctx: &Ctx, data: &RowData, snap: Snapshot) -> anyhow::Result<RowOutcome> {
    let shown_id = (snap.id < u64::MAX / 2).then_some(snap.id);
    if ctx.mode == Mode::Create {
        let what = if data.id.is_some() {
            "this id"
        } else {
            "this email"
        };
        return Ok(conflict(ctx, shown_id, match shown_id {
            Some(id) => format!("the customer with {what} already exists (id {id}; --mode create does not update)"),
            None => "an earlier row of this file creates this customer (--mode create does not update)".into(),
        }));
    }
    apply_update(ctx, data, snap).await
}

/// Bring an existing customer in line with the row (whatever the mode).
async fn apply_update(ctx: &Ctx, data: &RowData, snap: Snapshot) -> anyhow::Result<RowOutcome> {
    let id = snap.id;
    let shown_id = (id < u64::MAX / 2).then_some(id);
    // An addresses file's email only finds the customer; it never changes one.
    let changes = if ctx.addresses_only {
        Vec::new()
    } else {
        data.changes(&snap)
    };
    let with_password = data.password.is_some() && ctx.update_passwords;
    if data.password.is_some() && !ctx.update_passwords {
        ctx.password_not_applied.store(true, Ordering::Relaxed);
    }
    let needs_address = match &data.address {
        Some(addr) => match needs_address(ctx, id, addr).await {
            Ok(needed) => needed,
            Err(e) => {
                return ctx
                    .run
                    .row_failure(e, shown_id, "reading the customer's addresses")
            }
        },
        None => false,
    };
    if changes.is_empty() && !with_password && !needs_address {
        return Ok(RowOutcome::new(RowResult::Unchanged, shown_id, ""));
    }
    let mut what: Vec<&str> = changes.iter().map(|f| f.api_name()).collect();
    if with_password {
        what.push("password");
    }
    if needs_address {
        what.push("new address");
    }
    let message = format!("changes: {}", what.join(", "));
    if ctx.dry_run {
        if let (Some(addr), true) = (&data.address, needs_address) {
            // A later row with this address must not "add" it a second time.
            added_address(ctx, id, addr);
        }
        // Later rows for this customer compare with what this row would have made of it.
        let mut index = ctx.index.lock().unwrap();
        let email = data
            .email()
            .map(str::to_string)
            .or_else(|| index.email_of(id).map(str::to_string));
        if let Some(email) = email {
            index.remember(&email, snap.apply(data));
        }
        return Ok(RowOutcome::new(RowResult::WouldUpdate, shown_id, message));
    }
    // The first write of a run creates its journal (no mark: an update is idempotent).
    ctx.run.before_write(0, Mark::None)?;
    if !changes.is_empty() || with_password {
        let body = data.update_payload(&changes, with_password);
        match ctx.client.update_customer(id, &body).await {
            Ok(c) => ctx
                .index
                .lock()
                .unwrap()
                .remember(&c.email, Snapshot::of(&c)),
            Err(e) => return ctx.run.row_failure(e, Some(id), "updating the customer"),
        }
    }
    if let (Some(addr), true) = (&data.address, needs_address) {
        if let Err(e) = create_address(ctx, id, addr).await {
            return ctx.run.row_failure(e, Some(id), "adding the address");
        }
        added_address(ctx, id, addr);
    }
    Ok(RowOutcome::new(RowResult::Updated, Some(id), message))
}

/// Does the customer lack this address? Asks the store (one request) unless this run created
/// the customer and so knows all its addresses.
async fn needs_address(ctx: &Ctx, id: u64, addr: &AddressData) -> Result<bool, ApiError> {
    let print = addr.fingerprint();
    let complete = {
        let known = ctx.addresses.lock().unwrap();
        match known.get(&id) {
            Some(k) if k.prints.contains(&print) => return Ok(false),
            Some(k) => k.complete,
            None => false,
        }
    };
    // A dry run's placeholder id is no store customer: nothing to read.
    if complete || id >= u64::MAX / 2 {
        return Ok(true);
    }
    let list = ctx.client.addresses(id).await?;
    Ok(!list.iter().any(|a| addr.matches(a)))
}

/// A customer this run created (or would create): it has exactly the row's address, if any.
fn know_created(ctx: &Ctx, id: u64, addr: Option<&AddressData>) {
    let known = KnownAddresses {
        complete: true,
        prints: addr.map(AddressData::fingerprint).into_iter().collect(),
    };
    ctx.addresses.lock().unwrap().insert(id, known);
}

/// Remember an address this run added (or would add) to a customer. For a customer the run
/// did not create, only dry runs need this (a real run's next read shows the address).
fn added_address(ctx: &Ctx, id: u64, addr: &AddressData) {
    let mut known = ctx.addresses.lock().unwrap();
    match known.get_mut(&id) {
        Some(k) => k.prints.push(addr.fingerprint()),
        None if ctx.dry_run => {
            known.insert(
                id,
                KnownAddresses {
                    complete: false,
                    prints: vec![addr.fingerprint()],
                },
            );
        }
        None => {}
    }
}

/// A store's error message could quote what it was sent; a password never reaches the
/// results file, the journal or the terminal, whatever the message says.
fn scrub_passwords(layout: &Layout, record: &csv::StringRecord, message: &mut String) {
    for i in [layout.password, layout.password_confirmation]
        .into_iter()
        .flatten()
    {
        // Very short cells would blank ordinary words of the message; the store refuses
        // passwords that short anyway, and such a message names the rule, not the value.
        match record.get(i).map(str::trim) {
            Some(p) if p.chars().count() >= 4 && message.contains(p) => {
                *message = message.replace(p, "****");
            }
            _ => {}
        }
    }
}

// ---- `--resume`: the journal of finished rows (see `crate::rows` and `crate::journal`) ----

/// Check and lock the journal beside the results file. Dry runs write nothing and stdin
/// cannot be identified again, so neither has a journal.
fn start_run(args: &Args, results_path: &std::path::Path) -> anyhow::Result<RowRun> {
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
    // What changes the meaning of a row: resuming with other options would mix two runs.
    let options = format!(
        "import mode={:?} only_failed={} blank={:?} update_passwords={} force_password_reset={} create_missing_groups={} ignore_unknown_columns={} match={:?} preset={:?} mapping={:?} encoding={:?} delimiter={:?} decimal_comma={}",
        args.mode,
        args.only_failed,
        args.blank,
        args.update_passwords,
        args.force_password_reset,
        args.create_missing_groups,
        args.ignore_unknown_columns,
        args.match_by,
        args.preset,
        args.mapping,
        args.dialect.encoding,
        args.dialect.delimiter.0.map(char::from),
        args.decimal_comma
    );
    RowRun::start(
        "import",
        Some(JournalSpec {
            input: &args.file,
            results: results_path,
            options,
            resume: args.resume,
        }),
        "",
    )
}

/// The interrupted run's create of this row happened (the customer exists now, and did not
/// when the create was sent): report `created`, and finish what the row still asks for
/// (e.g. its address), whatever the mode — in `--mode create` this is not "already exists".
async fn finish_interrupted_create(
    ctx: &Ctx,
    data: &RowData,
    snap: Snapshot,
) -> anyhow::Result<RowOutcome> {
    // The password went with the create; sending it again would be an update of it.
    let data = RowData {
        password: None,
        password_confirmation: None,
        ..data.clone()
    };
    let out = apply_update(ctx, &data, snap).await?;
    Ok(match out.result {
        RowResult::Updated | RowResult::Unchanged => RowOutcome::new(
            RowResult::Created,
            out.customer_id,
            "created by the interrupted run (confirmed on resume)",
        ),
        _ => out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_scrubbed_from_messages() {
        let headers = csv::StringRecord::from(vec!["email", "password"]);
        let layout = Layout::new(&headers);
        let record = csv::StringRecord::from(vec!["a@x.com", "Secret99"]);
        let mut m = "HTTP 400: password Secret99 is too weak".to_string();
        scrub_passwords(&layout, &record, &mut m);
        assert_eq!(m, "HTTP 400: password **** is too weak");
    }
}
