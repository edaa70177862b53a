//! `import FILE`: create or update one customer per CSV row, with bounded concurrency, and
//! write a results file saying what happened to every row.
//!
//! Per row: validate (invalid rows send nothing), find the store's customer (by `id`, else by
//! email), compare, and send only what changes: a row that would change nothing is
//! `unchanged` and costs no write. Creates are reconciled after an ambiguous failure (look
//! the email up before sending again), so a lost response never creates a customer twice.
//!
//! The parts: `prepare` (the input checked before the first request, and each record mapped
//! and validated once), `setup` (the planning before the first row: groups, lookups, the
//! writer), `plan` (pure: what a row does), `execute` (the only code that talks to the store
//! for a row); this file holds the flags, the run's order of events, and import's row command
//! for the row engine (`crate::rows::engine`), which runs everything around the rows.

mod calls;
mod execute;
mod plan;
mod prepare;
mod setup;

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::bail;

use crate::api::store::Writer;
use crate::csvio::normalize_header;
use crate::exit::Exit;
use crate::input::{Dialect, InputFile};
use crate::mapping::row::Blank;
use crate::pipeline::{self, Turn, Window};
use crate::results::RowOutcome;
use crate::rows::{check_resume, Counts, Files, Job, Line, RowCommand};
use crate::settings::Settings;

use execute::Importer;
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
/// The run around the rows is the row engine's ([`Job`]); import's own are the checks of its
/// file and mapping (before [`Job::open`]: they come before any request, like the engine's
/// own), its planning (groups, and the store read once when that is cheaper than a lookup
/// per row: between the engine's opening and its rows, like set-group's and delete's finder),
/// and its [`RowCommand`], [`ImportRows`].
pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    check_resume(args.resume, Some(&args.file), args.dry_run)?;
    // Everything about the file (and the mapping) is checked before the first request.
    let file = InputFile::open(&args.file, &args.dialect)?;
    let rdr = file.reader()?;
    let caps = Writer::capabilities_of(g.api);
    let input = prepare::prepare_input(&args, file.headers.clone(), &caps)?;
    let earlier = EarlierResults::locate(&input.headers);
    if args.only_failed && earlier.result.is_none() {
        bail!(
            "--only-failed expects an earlier results file, but {} has no _result column",
            args.file.display()
        );
    }
    let sem = semantics(&args, &input);
    let mut job = Job::open(
        g,
        Files {
            command: "import",
            input: Some(&args.file),
            results: args.results.as_deref(),
            also_reads: args
                .mapping
                .iter()
                .map(|m| ("the --mapping file", m.as_path()))
                .collect(),
            journal: journal(&args, &sem),
            resume: args.resume,
            unit: "rows",
            dry_run: args.dry_run,
        },
    )?;
    job.notices.push(file.describe());
    job.input = Some(file.read_as());
    job.notices.extend(prepare::column_notices(&input));
    let importer = setup::importer(g, &mut job, &args, &file, &earlier, &input, sem).await?;
    let cmd = ImportRows {
        // With --only-failed, rows that did not fail are not sent again; they are carried
        // into the new results file as they were, so it still lists every input record once,
        // in order.
        carried_from: args
            .only_failed
            .then(|| Carried::locate(&input.headers))
            .flatten(),
        input: &input,
        importer,
        earlier,
        args: &args,
        first_rows: Mutex::default(),
    };
    let rx = pipeline::read_rows(rdr, &args.file, |_, _| true);
    let bom = g.bom || file.had_bom;
    // Rows in flight, not requests: on V2 they are equal (a row sends one request at a
    // time); a batching backend needs more rows waiting than requests (settings.rs).
    let window = Window::new(g.rows_in_flight);
    job.rows(g, rx, window, &input.headers, bom, &cmd).await
}

/// Import's [`RowCommand`]: each record mapped and validated once (`prepare`), then planned
/// and executed by the importer; its results line keeps an earlier results file's row
/// numbers and blanks the password cells.
struct ImportRows<'a> {
    input: &'a Input,
    importer: Importer,
    earlier: EarlierResults,
    args: &'a Args,
    carried_from: Option<Carried>,
    /// The first row of each customer, for "same customer as row N" (in input order: the
    /// results lines are).
    first_rows: Mutex<FirstRows>,
}

impl RowCommand for ImportRows<'_> {
    type Note = Note;
    type Item = Item;

    fn prepare(&self, row: &pipeline::Row) -> (Note, Item) {
        prepare::prepare(self.input, self.carried_from, self.args.blank, &row.record)
    }

    fn keys(&self, item: &Item) -> Vec<String> {
        item.keys.clone()
    }

    async fn execute(
        &self,
        row: &pipeline::Row,
        item: Item,
        turn: &Turn,
    ) -> anyhow::Result<RowOutcome> {
        let (record, data) = match item.work {
            Work::Done(out) => return Ok(out),
            Work::Row { record, data } => (record, data),
        };
        let mut out = match data {
            Ok(mut data) => {
                let problem = data.address_problem.take();
                let out = self.importer.row(row, turn, *data).await?;
                match problem {
                    Some(p) => address_not_added(out, &p),
                    None => out,
                }
            }
            Err(m) => RowOutcome::invalid(m),
        };
        prepare::scrub_passwords(&self.input.layout, &record, &mut out.message);
        Ok(out)
    }

    fn line(&self, row: &pipeline::Row, note: Note, out: &mut RowOutcome) -> Line {
        let no = self.row_number(row);
        // An addresses file names each customer once per address: that is its shape.
        let first = note
            .first_key
            .filter(|_| !note.carried && !self.input.addresses_file);
        let earlier_row = first.and_then(|k| self.first_rows.lock().unwrap().seen(&k, no));
        if let Some(first) = earlier_row {
            let note = format!("same customer as row {first} (applied after it)");
            out.message = if out.message.is_empty() {
                note
            } else {
                format!("{}; {note}", out.message)
            };
        }
        Line {
            no,
            record: Some(self.input.echo(&row.record)),
            carried: note.carried,
        }
    }

    fn notices(&self, counts: &Counts) -> Vec<String> {
        run_notices(&self.importer, counts, self.args.dry_run)
    }
}

impl ImportRows<'_> {
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

/// The journal beside the results file, with the options that change the meaning of a row
/// (resuming with other options would mix two runs). Dry runs write nothing and stdin
/// cannot be identified again, so neither has one.
fn journal(args: &Args, sem: &RowSemantics) -> Result<String, &'static str> {
    if args.dry_run {
        Err("a dry run sends no write")
    } else if args.file.as_os_str() == "-" {
        Err("standard input cannot be resumed (rows already imported are found and reported unchanged)")
    } else {
        Ok(sem.fingerprint())
    }
}
