//! `export`: every customer (or those matching filters) to CSV, in ascending id, each once.
//!
//! Pages are fetched concurrently by id range ([`crate::api::pages`]) and written in id order.
//! The set of `form_field:<name>` columns is only known at the end, so each row goes to a
//! spill file, already encoded as its final CSV record with the form-field columns known so
//! far. An output file is also written as the pages arrive, with the header of the columns
//! seen on the first page, and started over from the spill if a later row brings a new column
//! ([`Direct`]); otherwise (stdout, or a `.gz` with a late column) the final pass writes the
//! header and copies the records, appending empty cells for columns found later. Memory stays
//! flat however many customers there are. Files are written atomically (temporary file in the
//! destination directory, synced, renamed), so a failed or interrupted export leaves the
//! previous backup untouched and no temporary file behind.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use futures::StreamExt;

use crate::api::pages::{self};
use crate::api::store::Reader;
use crate::api::{v3, Address, Client, Customer};
use crate::cmd::{connect, fatal_if_auth, parse_filters, GroupBook};
use crate::csvio::neutralise;
use crate::exit::{usage, Exit};
use crate::outfile::{OutputFile, RunFiles, UTF8_BOM};
use crate::report::{Progress, Summary};
use crate::settings::{ApiVersion, Settings};

/// The fixed columns, in the documented order; `form_field:<name>` columns follow.
pub const COLUMNS: [&str; 16] = [
    "id",
    "email",
    "first_name",
    "last_name",
    "company",
    "phone",
    "store_credit",
    "customer_group_id",
    "customer_group",
    "notes",
    "tax_exempt_category",
    "registration_ip_address",
    "accepts_marketing",
    "reset_pass_on_login",
    "date_created",
    "date_modified",
];

/// The columns of the `--addresses` file: the customer, the address id, the address fields
/// (the import's `mapping::columns::ADDRESS_COLUMNS` without their `address_` prefix, and
/// `country_iso2`).
pub const ADDRESSES_FILE_COLUMNS: [&str; 15] = [
    "customer_id",
    "customer_email",
    "address_id",
    "first_name",
    "last_name",
    "company",
    "street_1",
    "street_2",
    "city",
    "state",
    "zip",
    "country",
    "country_iso2",
    "phone",
    "address_type",
];

/// Write customers to CSV.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(after_help = crate::exit::EXPORT_EXIT_CODES)]
pub struct Args {
    /// Output file (`-` = stdout). `{date}` and `{datetime}` expand (UTC); a name ending in
    /// `.gz` is gzip-compressed.
    #[arg(long, short, value_name = "FILE", default_value = "-")]
    pub output: String,
    /// A V2 list filter, e.g. customer_group_id=2 or min_date_created=2024-01-01 (repeatable).
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Only customers modified since DATETIME (ISO-8601 or RFC-2822; sets min_date_modified).
    #[arg(long, value_name = "DATETIME")]
    pub since: Option<String>,
    /// Also write every address of the exported customers to FILE (V2: one request per
    /// customer; --api v3: embedded in the pages, no request more).
    #[arg(long, value_name = "FILE")]
    pub addresses: Option<String>,
    /// Keep only the newest N files matching the --output pattern (needs {date} or {datetime}),
    /// and likewise for an --addresses name with {date} or {datetime}.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Do not neutralise formula-like cells (=, +, -, @, tab, CR) with a leading '.
    #[arg(long)]
    pub raw: bool,
}

/// Run the export; SIGINT or SIGTERM (a systemd stop, a cron timeout) ends it like any other
/// failure: the temporary files are removed and the previous output stays as it was.
pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    tokio::select! {
        result = export(g, args) => result,
        signal = interrupted() => Err(anyhow::anyhow!(
            "export interrupted by {signal}; the previous output file (if any) is untouched"
        )),
    }
}

/// Resolves on the first SIGINT or SIGTERM (never, if the handlers cannot be installed).
async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    }
}

async fn export(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let query = parse_filters(&args.filters, args.since.as_deref())?;
    let now = chrono::Utc::now();
    let output = (args.output != "-").then(|| PathBuf::from(expand_name(&args.output, now)));
    let addresses_path = args
        .addresses
        .as_deref()
        .map(|a| PathBuf::from(expand_name(a, now)));
    if args.keep.is_some() && (output.is_none() || !has_pattern(&args.output)) {
        return usage("--keep N needs an --output name with {date} or {datetime} in it (the files to keep are those matching that pattern)");
    }
    if args.keep == Some(0) {
        return usage("--keep must be at least 1");
    }
    if args.addresses.as_deref() == Some("-") {
        return usage("--addresses needs a file name (stdout carries the customers)");
    }
    let mut files =
        RunFiles::new(g).output("--output", output.as_deref().unwrap_or(Path::new("-")));
    if let Some(p) = &addresses_path {
        files = files.output("--addresses", p);
    }
    for (flag, path) in [("--output", &output), ("--addresses", &addresses_path)] {
        if let Some(p) = path {
            check_output_path(flag, p)?;
        }
    }
    files.check()?;
    // With --api v3, a filter V3 cannot express is a usage error before any request.
    let v3_filters = match g.api {
        ApiVersion::V2 => None,
        ApiVersion::V3 => Some(v3::Filters::from_query(&query)?),
    };
    let client = connect(g)?;
    let reader = match v3_filters {
        None => Reader::V2(client.clone()),
        Some(f) => Reader::V3(client.clone(), f),
    };
    // Outputs are created before the first request, so that a bad path fails fast. The spill
    // file sits beside a replaced output (same filesystem, same permissions as the backup
    // itself); stdout, a device or a pipe has no such directory.
    let out_file = output.as_deref().map(OutputFile::create).transpose()?;
    let spill_dir = out_file
        .as_ref()
        .and_then(OutputFile::dir)
        .unwrap_or_else(std::env::temp_dir);
    let spill = crate::outfile::temp_file_in(&spill_dir, "export-spill")
        .context("creating the spill file")?;
    let mut addr_wtr = match &addresses_path {
        Some(p) => {
            let mut sink = Sink::new(OutputFile::create(p)?, p);
            if g.bom {
                sink.write_all(UTF8_BOM)?;
            }
            let mut w = csv::Writer::from_writer(sink);
            w.write_record(ADDRESSES_FILE_COLUMNS)?;
            Some(w)
        }
        None => None,
    };

    let progress = Progress::new(None, g.quiet, "customers");
    progress.watch(&client);
    // The group names (V2 on either API: V3 has none), the count and the first page are
    // independent: one round trip for all.
    let (groups, start) = futures::join!(
        GroupBook::load(&client),
        reader.start(&query, addresses_path.is_some())
    );
    let groups = groups?;
    let fail = "export failed; the previous output file (if any) is untouched";
    let start = start.map_err(fatal_if_auth).context(fail)?;
    let count = start.count;
    let mut notices = Vec::new();
    if !groups.available {
        // Said once, before the run (not again in the summary).
        progress.note("warning: this store's plan has no customer groups; the customer_group column will be empty");
    }
    progress.set_total(count);
    // Sent so far (group listing, count, first page) plus the pages still to come.
    let mut msg = format!(
        "exporting {}: about {}",
        crate::report::plural(count, "customer", "customers"),
        crate::report::plural(
            client.stats().requests + start.page_requests,
            "request",
            "requests"
        )
    );
    if addresses_path.is_some() && !start.addresses_embedded {
        msg.push_str(&format!(
            " + {} for addresses (V2 needs one request per customer)",
            count
        ));
    }
    progress.note(&msg);

    let untouched = |path: &Path| {
        format!(
            "writing {}; the previous file (if any) is untouched",
            path.display()
        )
    };
    let writing = || match output.as_deref() {
        Some(path) => untouched(path),
        None => "writing the export".to_string(),
    };
    // A device or a pipe cannot start over (what it was sent is gone) when a late form-field
    // column widens the header: it gets the final pass only, once every column is known.
    let (direct_file, mut final_file) = match out_file {
        Some(f) if !f.is_replaced() => (None, Some(f)),
        f => (f, None),
    };
    let direct = direct_file
        .zip(output.as_deref())
        .map(|(f, p)| Sink::new(f, p));
    // Rows modified after this are "changed during the export" for the completeness check
    // below; the margin covers a store clock behind ours.
    let changed_after = now - chrono::Duration::minutes(CLOCK_MARGIN_MINUTES);
    let mut spill_wtr =
        SpillWriter::new(spill.path(), args.raw, g.bom, direct)?.count_changes(changed_after, now);
    let final_query = query.clone();
    let mut rows = 0u64;
    // Customers deleted between their page and their address request.
    let mut gone = 0u64;
    let mut pages = reader.pages(query, start, g.concurrency as usize);
    while let Some(page) = pages.next().await {
        let page = page.map_err(fatal_if_auth).context(fail)?;
        if let Some(w) = addr_wtr.as_mut() {
            match &page.addresses {
                Some(lists) => {
                    for (c, list) in page.customers.iter().zip(lists) {
                        write_address_rows(c, list, w, args.raw)?;
                    }
                }
                None => {
                    gone += write_addresses(&client, &page.customers, w, args.raw)
                        .await
                        .context(
                            "export failed; the previous output files (if any) are untouched",
                        )?
                }
            }
        }
        let page = page.customers;
        for c in &page {
            spill_wtr.write(c, &groups).with_context(writing)?;
        }
        spill_wtr.end_page().with_context(writing)?;
        rows += page.len() as u64;
        progress.inc(page.len() as u64);
    }
    drop(pages);
    let changes = Changes {
        modified: spill_wtr.changed,
        created: spill_wtr.created,
        after: changed_after,
    };
    notices.extend(
        check_complete(&reader, &final_query, count, rows, changes)
            .await
            .context(fail)?,
    );
    let (ff, direct) = spill_wtr.finish().with_context(writing)?;

    // Unless the output was written as the pages came (see `Direct`), a second pass: the
    // header with every form-field column, then the rows, padded. Both files are completely
    // written before either is renamed into place, so a failure (a full disk) replaces neither.
    let finished = match (direct, output.as_deref()) {
        (Some(sink), Some(path)) => Some((sink.finish().with_context(|| untouched(path))?, path)),
        (None, Some(path)) => Some((
            write_final(
                spill.path(),
                Sink::new(
                    match final_file.take() {
                        Some(f) => f,
                        None => OutputFile::create(path)?,
                    },
                    path,
                ),
                &ff,
                g.bom,
            )
            .and_then(Sink::finish)
            .with_context(|| untouched(path))?,
            path,
        )),
        (_, None) => {
            write_final(
                spill.path(),
                std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout().lock()),
                &ff,
                g.bom,
            )
            .and_then(|mut out| Ok(out.flush()?))
            .context("writing the export to stdout")?;
            None
        }
    };
    let addr_finished = match (addr_wtr, addresses_path.as_deref()) {
        (Some(w), Some(path)) => Some((
            w.into_inner()
                .map_err(|e| anyhow::Error::new(e.into_error()))
                .and_then(Sink::finish)
                .with_context(|| untouched(path))?,
            path,
        )),
        _ => None,
    };
    let mut done: Vec<_> = finished.into_iter().chain(addr_finished).collect();
    // A device or a pipe gets its last bytes before anything is renamed into place: a write
    // error there (/dev/full, a closed pipe) fails the export with every file untouched.
    for (file, path) in &mut done {
        file.flush().with_context(|| untouched(path))?;
    }
    for (file, path) in done {
        file.commit().with_context(|| untouched(path))?;
    }
    progress.finish();
    if gone > 0 {
        notices.push(format!(
            "{gone} customers were deleted during the export: they are in the customer file (as read), their addresses are not"
        ));
    }
    if let (Some(n), Some(_)) = (args.keep, &output) {
        let mut patterns = vec![args.output.as_str()];
        patterns.extend(args.addresses.as_deref().filter(|a| has_pattern(a)));
        let written = [output.as_deref(), addresses_path.as_deref()];
        for (pattern, written) in patterns.into_iter().zip(written) {
            let kept = apply_retention(pattern, n, written.unwrap_or(Path::new("")))?;
            for newer in kept.newer {
                notices.push(format!(
                    "warning: {} is named with a later date than the file just written",
                    newer.display()
                ));
            }
            for removed in kept.removed {
                notices.push(format!("removed old backup {}", removed.display()));
            }
        }
    }
    notices.extend(progress.quota_notice());
    let mut summary = Summary::new("export", rows, None, started, client.stats());
    summary.notices = notices;
    summary.output_file = output.map(|p| p.display().to_string());
    summary.emit(g.quiet, g.summary_json.as_deref())?;
    Ok(Exit::Ok)
}

/// How far behind ours the store's clock may be for the completeness check to stay exact.
const CLOCK_MARGIN_MINUTES: i64 = 15;

/// What the rows written show of changes to the store during the export.
struct Changes {
    /// Rows last modified after `after`.
    modified: u64,
    /// Rows created after the export began.
    created: u64,
    /// The export's start, less a margin for a store clock behind ours.
    after: chrono::DateTime<chrono::Utc>,
}

/// An export is complete or it fails: the rows written against the store's count.
///
/// When the rows are the count of the start and none was created during the export, nothing
/// more is asked (the usual backup: no request more). Otherwise the customers created,
/// modified or deleted meanwhile make the first count useless either way, so one more count is
/// asked at the end: the customers matching the filters that were last modified before the
/// export began (`changes.after`). Every one of them existed throughout and matched throughout,
/// so each must be in the file: the rows not modified since then must be at least that many.
/// Customers created or changed meanwhile are visible (their `date_modified`) and left out on
/// both sides, deleted ones are in neither, so a legitimate export of a busy store passes, and
/// a short one (a store that loses customers, or counts far more than it sends) fails.
///
/// Whether `/customers/count` honours the list filters is not documented
/// (reviews/api-fidelity.md A10). Before failing, one more count asks for the customers last
/// modified before 1970 (none): a store that does not answer 0 ignores the date filter, and
/// the check falls back to the plain count at the end, allowing for the customers created in
/// the last moments (those seen, and a few more); with the user's filters on top it cannot
/// check at all, and says so instead of failing a backup that may well be complete.
/// Returns the notice for the summary, if any.
async fn check_complete(
    reader: &Reader,
    query: &pages::Query,
    counted: u64,
    rows: u64,
    changes: Changes,
) -> anyhow::Result<Option<String>> {
    if rows == counted && changes.created == 0 {
        return Ok(None);
    }
    let unchanged_rows = rows - changes.modified;
    let unchanged = reader
        .count_unchanged_since(query, changes.after)
        .await
        .map_err(fatal_if_auth)?;
    if unchanged_rows >= unchanged {
        return Ok(None);
    }
    let epoch = chrono::DateTime::UNIX_EPOCH;
    let before_1970 = reader
        .count_unchanged_since(query, epoch)
        .await
        .map_err(fatal_if_auth)?;
    if before_1970 == 0 {
        anyhow::bail!(
            "the store sent {rows} customers ({unchanged_rows} of them last modified before {}), \
             but it counts {unchanged} customers last modified before then ({counted} in all \
             at the start): the export would be incomplete",
            changes.after.format("%Y-%m-%dT%H:%M:%SZ")
        );
    }
    // The count ignores max_date_modified: `unchanged` is every matching customer now.
    if !query.filters.is_empty() {
        return Ok(Some(format!(
            "warning: the store's customer count ignores filters ({unchanged} counted, {rows} \
             exported): this filtered export could not be checked against it"
        )));
    }
    let slack = changes.created + (unchanged / 1000).max(10);
    if rows.saturating_add(slack) < unchanged {
        anyhow::bail!(
            "the store sent {rows} customers, but it counts {unchanged} now ({counted} at the \
             start; its count ignores max_date_modified, so customers changed meanwhile cannot \
             be told apart): the export would be incomplete"
        );
    }
    Ok(None)
}

/// An output that cannot be written fails before any request (a backup of a big store would
/// otherwise read every page first), in plain words rather than a temporary file's. Fatal
/// (exit 1) like any other file that cannot be written, not a usage error.
fn check_output_path(flag: &str, path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!(
            "{flag} {}: {} is a directory; name a file in it (e.g. {})",
            path.display(),
            path.display(),
            path.join("customers.csv").display()
        );
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        anyhow::bail!(
            "{flag} {}: the directory {} does not exist (create it first)",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Form-field names in the order first seen, with their column numbers.
#[derive(Default)]
struct FormFieldColumns {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl FormFieldColumns {
    fn column(&mut self, name: &str) -> usize {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), self.names.len() - 1);
        self.names.len() - 1
    }
}

/// Writes each customer as its final CSV record (already neutralised) with the form-field
/// columns known so far, framed as `[u32 length][u32 columns known][record bytes]`, and, while
/// it can, straight into the output as well (see [`Direct`]).
///
/// Columns are numbered in first-seen order, so a column found later is always to the right
/// of every earlier record: the final pass only appends empty cells (commas) to short records
/// and copies the bytes, instead of parsing and re-encoding every cell.
struct SpillWriter<D: Output> {
    out: std::io::BufWriter<std::fs::File>,
    /// The spill's path, to read it back when the direct output starts over.
    spill: PathBuf,
    direct: Direct<D>,
    /// Encodes one record at a time into `record` (reused, never grows past the largest row).
    rec: csv::Writer<RecordBuf>,
    record: RecordBuf,
    ff: FormFieldColumns,
    /// Form-field values of the current row by column number (reused).
    ff_cells: Vec<Option<usize>>,
    num: String,
    date: String,
    raw: bool,
    bom: bool,
    /// ISO-8601 UTC times after which a `date_modified` counts as changed during the export
    /// (with a margin for the store's clock) and a `date_created` as created during it (none).
    changed_after: Option<(String, String)>,
    /// Rows whose `date_modified` is after the first: created or modified meanwhile, maybe.
    changed: u64,
    /// Rows whose `date_created` is after the second: created during the export.
    created: u64,
}

/// The output file written while the pages arrive, so that the export ends with the last page
/// instead of a second pass over everything (and a `.gz` is compressed while waiting for the
/// store, not after). The header needs every form-field column, which only the whole store
/// tells; it is written after the first page, with the columns seen so far. When a later row
/// brings a new column (a field added to the sign-up form years into the store's life), a
/// plain file starts over from the spill with the wider header (a copy, while the next pages
/// are on their way); a `.gz` output is dropped instead (compressing everything again for each
/// late column would cost more than the final pass) and the final pass writes it.
enum Direct<D> {
    /// Nothing written yet; the first page's framed records wait here.
    Waiting(D, Vec<u8>),
    /// The header is written with this many form-field columns; rows follow as they come.
    Writing(D, usize),
    /// No direct output (stdout), or it was dropped: the final pass writes the output.
    Off,
}

/// An output the export can write while the pages arrive.
trait Output: Write + Sized {
    /// The same output, empty, to start over (None: not worth it, the final pass writes it).
    fn restart(self) -> anyhow::Result<Option<Self>>;
}

impl Output for Sink {
    fn restart(self) -> anyhow::Result<Option<Sink>> {
        match self {
            // A new temporary file beside the destination; the old one is removed on drop.
            Sink::Plain(f) if f.is_replaced() => {
                Ok(Some(Sink::Plain(OutputFile::create(f.path())?)))
            }
            // Written in place: what it was sent cannot be taken back.
            Sink::Plain(_) => Ok(None),
            Sink::Gzip(_) => Ok(None),
        }
    }
}

impl<D: Output> SpillWriter<D> {
    /// `spill`: an empty file to spill to. `direct`: the output file, written while the pages
    /// arrive (None: the final pass writes the output, as for stdout). `bom`: the direct
    /// output starts with a UTF-8 BOM.
    fn new(
        spill: &Path,
        raw: bool,
        bom: bool,
        direct: Option<D>,
    ) -> anyhow::Result<SpillWriter<D>> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(spill)
            .context("opening the spill file")?;
        let record = RecordBuf::default();
        Ok(SpillWriter {
            out: std::io::BufWriter::with_capacity(256 * 1024, file),
            spill: spill.to_path_buf(),
            direct: direct.map_or(Direct::Off, |d| Direct::Waiting(d, Vec::new())),
            rec: csv::WriterBuilder::new()
                .flexible(true)
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(record.clone()),
            record,
            ff: FormFieldColumns::default(),
            ff_cells: Vec::new(),
            num: String::new(),
            date: String::new(),
            raw,
            bom,
            changed_after: None,
            changed: 0,
            created: 0,
        })
    }

    /// Count the rows modified after `modified` and those created after `created`.
    fn count_changes(
        mut self,
        modified: chrono::DateTime<chrono::Utc>,
        created: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let iso = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        self.changed_after = Some((iso(modified), iso(created)));
        self
    }

    /// The last date converted by [`SpillWriter::date`] is after `after`. ISO-8601 UTC strings
    /// compare as the times they name; a date that did not convert counts as not after (the
    /// check this feeds only gets stricter).
    fn last_date_after(&self, after: &str) -> bool {
        let d = self.date.as_bytes();
        d.len() == 20 && d[10] == b'T' && d[19] == b'Z' && self.date.as_str() > after
    }

    fn cell(&mut self, value: &str) -> csv::Result<()> {
        if self.raw {
            self.rec.write_field(value)
        } else {
            self.rec.write_field(neutralise(value).as_ref())
        }
    }

    fn number(&mut self, n: u64) -> csv::Result<()> {
        use std::fmt::Write as _;
        self.num.clear();
        let _ = write!(self.num, "{n}");
        self.rec.write_field(self.num.as_bytes())
    }

    fn date(&mut self, rfc2822: &str) -> csv::Result<()> {
        let mut date = std::mem::take(&mut self.date);
        iso_date_into(rfc2822, &mut date);
        let r = self.cell(&date);
        self.date = date;
        r
    }

    fn write(&mut self, c: &Customer, groups: &GroupBook) -> anyhow::Result<()> {
        self.number(c.id)?;
        self.cell(&c.email)?;
        self.cell(&c.first_name)?;
        self.cell(&c.last_name)?;
        self.cell(&c.company)?;
        self.cell(&c.phone)?;
        self.cell(&c.store_credit)?;
        self.number(c.customer_group_id)?;
        self.cell(groups.name_of(c.customer_group_id).unwrap_or(""))?;
        self.cell(&c.notes)?;
        self.cell(&c.tax_exempt_category)?;
        self.cell(&c.registration_ip_address)?;
        self.rec
            .write_field(if c.accepts_marketing { "true" } else { "false" })?;
        self.rec.write_field(if c.reset_pass_on_login {
            "true"
        } else {
            "false"
        })?;
        self.date(&c.date_created)?;
        if let Some((_, created)) = &self.changed_after {
            self.created += u64::from(self.last_date_after(created));
        }
        self.date(&c.date_modified)?;
        if let Some((modified, _)) = &self.changed_after {
            self.changed += u64::from(self.last_date_after(modified));
        }
        if !c.form_fields.is_empty() {
            for (i, f) in c.form_fields.iter().enumerate() {
                let col = self.ff.column(&f.name);
                if self.ff_cells.len() <= col {
                    self.ff_cells.resize(col + 1, None);
                }
                // A name sent twice keeps its last value.
                self.ff_cells[col] = Some(i);
            }
            for col in 0..self.ff.names.len() {
                match self.ff_cells.get_mut(col).and_then(Option::take) {
                    Some(i) => self.cell(&c.form_fields[i].value)?,
                    None => self.rec.write_field("")?,
                }
            }
        } else {
            for _ in 0..self.ff.names.len() {
                self.rec.write_field("")?;
            }
        }
        self.rec.write_record(None::<&[u8]>)?;
        self.rec.flush()?;
        let mut bytes = self.record.0.lock().expect("not poisoned");
        let record = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let len = u32::try_from(record.len()).context("a customer record over 4 GB")?;
        let known = self.ff.names.len();
        let frame = [len.to_le_bytes(), (known as u32).to_le_bytes()];
        self.out.write_all(frame.as_flattened())?;
        self.out.write_all(record)?;
        match &mut self.direct {
            Direct::Waiting(_, first) => {
                first.extend_from_slice(frame.as_flattened());
                first.extend_from_slice(record);
            }
            Direct::Writing(out, width) if known <= *width => {
                write_padded(out, record, known, *width)?
            }
            Direct::Writing(..) => {
                drop(bytes);
                self.start_over()?;
                return Ok(());
            }
            Direct::Off => {}
        }
        bytes.clear();
        Ok(())
    }

    /// A row brought a form-field column the header lacks: write the output again from the
    /// spill (this row included) with every column known now, or leave it to the final pass.
    fn start_over(&mut self) -> anyhow::Result<()> {
        self.record.0.lock().expect("not poisoned").clear();
        let Direct::Writing(out, _) = std::mem::replace(&mut self.direct, Direct::Off) else {
            return Ok(());
        };
        let Some(mut out) = out.restart()? else {
            return Ok(());
        };
        self.out.flush().context("writing the spill file")?;
        let width = self.ff.names.len();
        write_header(&mut out, &self.ff, self.bom)?;
        let mut rdr = std::io::BufReader::with_capacity(
            256 * 1024,
            std::fs::File::open(&self.spill).context("reading the spill file")?,
        );
        copy_frames(&mut rdr, &mut out, width)?;
        self.direct = Direct::Writing(out, width);
        Ok(())
    }

    /// A page is written: after the first with any rows, the header goes out with the columns
    /// seen so far, then the rows held back.
    fn end_page(&mut self) -> anyhow::Result<()> {
        match &self.direct {
            Direct::Waiting(_, first) if !first.is_empty() => self.start_writing(),
            _ => Ok(()),
        }
    }

    fn start_writing(&mut self) -> anyhow::Result<()> {
        if let Direct::Waiting(..) = self.direct {
            let Direct::Waiting(mut out, first) = std::mem::replace(&mut self.direct, Direct::Off)
            else {
                unreachable!("matched above");
            };
            let width = self.ff.names.len();
            write_header(&mut out, &self.ff, self.bom)?;
            copy_frames(&mut first.as_slice(), &mut out, width)?;
            self.direct = Direct::Writing(out, width);
        }
        Ok(())
    }

    /// Flush the spill; hand back the form-field columns (the header's tail) and the direct
    /// output when it is complete (None: the final pass must write the output).
    fn finish(mut self) -> anyhow::Result<(FormFieldColumns, Option<D>)> {
        self.out.flush().context("writing the spill file")?;
        self.start_writing()?;
        let done = match self.direct {
            Direct::Writing(out, width) if width == self.ff.names.len() => Some(out),
            _ => None,
        };
        Ok((self.ff, done))
    }
}

/// The header: the fixed columns and one per form field, after a UTF-8 BOM under `--bom`
/// (every writer of the customer file starts with the header, so the BOM goes with it).
fn write_header<W: Write>(out: &mut W, ff: &FormFieldColumns, bom: bool) -> anyhow::Result<()> {
    if bom {
        out.write_all(UTF8_BOM)?;
    }
    // Header names never start with a formula character ("form_field:" comes first).
    let mut header = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    header.write_record(
        COLUMNS
            .iter()
            .map(|s| s.to_string())
            .chain(ff.names.iter().map(|n| format!("form_field:{n}"))),
    )?;
    header.flush()?;
    Ok(())
}

/// One record that knew `known` form-field columns, padded to `width` of them.
fn write_padded<W: Write>(
    out: &mut W,
    record: &[u8],
    known: usize,
    width: usize,
) -> std::io::Result<()> {
    const COMMAS: [u8; 64] = [b','; 64];
    out.write_all(record)?;
    let mut pad = width - known;
    while pad > 0 {
        let n = pad.min(COMMAS.len());
        out.write_all(&COMMAS[..n])?;
        pad -= n;
    }
    out.write_all(b"\n")
}

/// Every framed record of `spill`, padded to `width` form-field columns, into `out`.
fn copy_frames<R: std::io::Read, W: Write>(
    spill: &mut R,
    out: &mut W,
    width: usize,
) -> anyhow::Result<()> {
    let mut frame = [0u8; 8];
    let mut record = Vec::with_capacity(4096);
    loop {
        match spill.read_exact(&mut frame) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(anyhow::Error::new(e).context("reading the spill file")),
        }
        let len = u32::from_le_bytes(frame[..4].try_into().expect("4 bytes")) as usize;
        let known = u32::from_le_bytes(frame[4..].try_into().expect("4 bytes")) as usize;
        record.resize(len, 0);
        spill
            .read_exact(&mut record)
            .context("reading the spill file")?;
        write_padded(out, &record, known, width)?;
    }
}

/// The byte buffer the spill's CSV encoder writes one record into; shared so the record can
/// be framed and the buffer cleared without rebuilding the encoder (the csv writer has no
/// `get_mut`).
#[derive(Clone, Default)]
struct RecordBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for RecordBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_final<W: Write>(
    spill: &Path,
    mut out: W,
    ff: &FormFieldColumns,
    bom: bool,
) -> anyhow::Result<W> {
    let mut rdr = std::io::BufReader::with_capacity(
        256 * 1024,
        std::fs::File::open(spill).context("reading the spill file")?,
    );
    write_header(&mut out, ff, bom)?;
    copy_frames(&mut rdr, &mut out, ff.names.len())?;
    Ok(out)
}

/// Fetch the addresses of one page of customers (up to --concurrency at once) and write them
/// in customer order. Returns how many customers were deleted since their page was read
/// (404): the store changing underneath is not a reason to fail a backup.
async fn write_addresses<W: Write>(
    client: &Client,
    page: &[Customer],
    w: &mut csv::Writer<W>,
    raw: bool,
) -> anyhow::Result<u64> {
    let lists: Vec<Result<Vec<Address>, crate::api::ApiError>> =
        futures::stream::iter(page.iter().map(|c| client.addresses(c.id)))
            .buffered(64)
            .collect()
            .await;
    let mut gone = 0;
    for (c, list) in page.iter().zip(lists) {
        let list = match list {
            Err(e) if e.status() == Some(404) => {
                gone += 1;
                continue;
            }
            other => other
                .map_err(fatal_if_auth)
                .with_context(|| format!("reading the addresses of customer {}", c.id))?,
        };
        write_address_rows(c, &list, w, raw)?;
    }
    Ok(gone)
}

/// One customer's addresses as rows of the `--addresses` file (either API).
fn write_address_rows<W: Write>(
    c: &Customer,
    list: &[Address],
    w: &mut csv::Writer<W>,
    raw: bool,
) -> anyhow::Result<()> {
    let id = c.id.to_string();
    for a in list {
        let address_id = a.id.to_string();
        let cells = [
            id.as_str(),
            c.email.as_str(),
            address_id.as_str(),
            &a.first_name,
            &a.last_name,
            &a.company,
            &a.street_1,
            &a.street_2,
            &a.city,
            &a.state,
            &a.zip,
            &a.country,
            &a.country_iso2,
            &a.phone,
            &a.address_type,
        ];
        for cell in cells {
            if raw {
                w.write_field(cell)?;
            } else {
                w.write_field(neutralise(cell).as_ref())?;
            }
        }
        w.write_record(None::<&[u8]>)?;
    }
    Ok(())
}

/// RFC-2822 from the API → ISO-8601 UTC; anything unparsable is passed through as sent.
#[cfg(test)]
pub fn iso_date(s: &str) -> String {
    let mut out = String::new();
    iso_date_into(s, &mut out);
    out
}

/// [`iso_date`] into a reused buffer (two dates per row: no allocation each).
fn iso_date_into(s: &str, out: &mut String) {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write as _;
    out.clear();
    if s.trim().is_empty() {
        return;
    }
    if utc_rfc2822_fast(s, out) {
        return;
    }
    // Already the form written (V3 sends ISO-8601, normalised to UTC `Z` by its backend):
    // kept as is. V2 never sends this shape, and an RFC-2822 parse of it would fail and pass
    // it through anyway, so V2's output is unchanged.
    let b = s.as_bytes();
    if b.len() == 20 && b[10] == b'T' && b[19] == b'Z' {
        out.push_str(s);
        return;
    }
    match chrono::DateTime::parse_from_rfc2822(s.trim()) {
        Ok(d) => {
            let d = d.with_timezone(&chrono::Utc);
            let _ = write!(
                out,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            );
        }
        Err(_) => out.push_str(s),
    }
}

/// The shape the API always sends, `Wed, 10 Jan 2018 21:02:23 +0000`, rewritten without a
/// full RFC-2822 parse (two dates per row made it a tenth of the export's CPU). Anything
/// else (other offsets, one-digit days, comments) returns false and goes to chrono.
fn utc_rfc2822_fast(s: &str, out: &mut String) -> bool {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 31
        || &b[3..5] != b", "
        || !b[..3].iter().all(u8::is_ascii_alphabetic)
        || !digits(5..7)
        || b[7] != b' '
        || b[11] != b' '
        || !digits(12..16)
        || b[16] != b' '
        || !digits(17..19)
        || b[19] != b':'
        || !digits(20..22)
        || b[22] != b':'
        || !digits(23..25)
        || &b[25..] != b" +0000"
    {
        return false;
    }
    let Some(month) = MONTHS.iter().position(|m| *m == &b[8..11]) else {
        return false;
    };
    // The weekday is not checked against the date here: chrono would refuse a wrong one, so
    // only take the fast path for a date chrono also accepts as valid calendar-wise.
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
    let (year, day) = (num(12..16) as i32, num(5..7));
    if chrono::NaiveDate::from_ymd_opt(year, month as u32 + 1, day).is_none()
        || num(17..19) > 23
        || num(20..22) > 59
        || num(23..25) > 60
    {
        return false;
    }
    out.push_str(&s[12..16]);
    out.push('-');
    out.push(char::from(b'0' + (month as u8 + 1) / 10));
    out.push(char::from(b'0' + (month as u8 + 1) % 10));
    out.push('-');
    out.push_str(&s[5..7]);
    out.push('T');
    out.push_str(&s[17..25]);
    out.push('Z');
    true
}

fn has_pattern(name: &str) -> bool {
    name.contains("{date}") || name.contains("{datetime}")
}

/// `{date}` → 2026-11-26, `{datetime}` → 2026-11-26T211500Z (UTC; no colons, which some
/// filesystems and tools refuse).
pub fn expand_name(template: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    template
        .replace("{datetime}", &now.format("%Y-%m-%dT%H%M%SZ").to_string())
        .replace("{date}", &now.format("%Y-%m-%d").to_string())
}

/// What [`apply_retention`] did.
#[derive(Debug, Default)]
struct Retention {
    removed: Vec<PathBuf>,
    /// Matching files whose names sort after the file just written (a later date in the name).
    newer: Vec<PathBuf>,
}

/// Delete all but the newest `keep` files matching the pattern (names sort by date), never
/// `written`, the file this run has just written: it is always one of the `keep`, even when
/// another name carries a later date (a clock set wrong, a file copied in by hand), which
/// would otherwise make it the oldest and delete the backup just made.
fn apply_retention(template: &str, keep: usize, written: &Path) -> anyhow::Result<Retention> {
    let path = Path::new(template);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name_tpl = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut matches: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if matches_template(&name_tpl, &name) && entry.file_type()?.is_file() {
            matches.push((name, entry.path()));
        }
    }
    matches.sort();
    let written_name = written
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    let mut kept = Retention::default();
    if let Some(w) = &written_name {
        kept.newer = matches
            .iter()
            .filter(|(n, _)| n > w)
            .map(|(_, p)| p.clone())
            .collect();
    }
    let before = matches.len();
    matches.retain(|(n, _)| Some(n) != written_name.as_ref());
    // The file just written is one of the `keep` (when it was listed, as it always is).
    let others = keep - usize::from(matches.len() < before);
    let excess = matches.len().saturating_sub(others);
    for (_, p) in matches.into_iter().take(excess) {
        std::fs::remove_file(&p).with_context(|| format!("removing old backup {}", p.display()))?;
        kept.removed.push(p);
    }
    Ok(kept)
}

/// Does `name` fit the template, with `{date}` = YYYY-MM-DD and `{datetime}` = YYYY-MM-DDTHHMMSSZ?
fn matches_template(tpl: &str, name: &str) -> bool {
    fn go(tpl: &str, name: &str) -> bool {
        if let Some(rest) = tpl.strip_prefix("{datetime}") {
            return name.len() >= 18
                && is_shape(&name[..18], "dddd-dd-ddTddddddZ")
                && go(rest, &name[18..]);
        }
        if let Some(rest) = tpl.strip_prefix("{date}") {
            return name.len() >= 10
                && is_shape(&name[..10], "dddd-dd-dd")
                && go(rest, &name[10..]);
        }
        match (tpl.chars().next(), name.chars().next()) {
            (None, None) => true,
            (Some(a), Some(b)) if a == b => go(&tpl[a.len_utf8()..], &name[b.len_utf8()..]),
            _ => false,
        }
    }
    fn is_shape(s: &str, shape: &str) -> bool {
        s.is_char_boundary(s.len())
            && s.len() == shape.len()
            && s.bytes().zip(shape.bytes()).all(|(c, m)| {
                if m == b'd' {
                    c.is_ascii_digit()
                } else {
                    c == m
                }
            })
    }
    name.is_ascii() && go(tpl, name)
}

/// An output file, gzip-compressed when its name ends in `.gz`, committed atomically (or
/// written in place: see [`OutputFile`]).
pub enum Sink {
    /// Bytes as written.
    Plain(OutputFile),
    /// gzip, default level (about 5× smaller for customer CSV).
    Gzip(flate2::write::GzEncoder<OutputFile>),
}

impl Sink {
    /// Wrap `file`, compressing when `path` ends in `.gz` (any case).
    pub fn new(file: OutputFile, path: &Path) -> Sink {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
        {
            Sink::Gzip(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::default(),
            ))
        } else {
            Sink::Plain(file)
        }
    }

    /// Finish the gzip stream if any; the file is then complete but not yet in place.
    pub fn finish(self) -> anyhow::Result<OutputFile> {
        match self {
            Sink::Plain(f) => Ok(f),
            Sink::Gzip(g) => g.finish().context("finishing the gzip stream"),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(f) => f.write(buf),
            Sink::Gzip(g) => g.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(f) => f.flush(),
            Sink::Gzip(g) => g.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Output for Vec<u8> {
        fn restart(self) -> anyhow::Result<Option<Vec<u8>>> {
            Ok(Some(Vec::new()))
        }
    }
    use crate::api::models::FormField;
    use crate::csvio::unneutralise;
    use proptest::prelude::*;

    /// Customers through the spill and the final pass, read back with a CSV reader.
    fn spill_and_read(customers: &[Customer], raw: bool) -> Vec<csv::StringRecord> {
        let spill = tempfile::NamedTempFile::new().unwrap();
        let mut w = SpillWriter::<Vec<u8>>::new(spill.path(), raw, false, None).unwrap();
        for c in customers {
            w.write(c, &GroupBook::default()).unwrap();
        }
        let (ff, direct) = w.finish().unwrap();
        assert!(direct.is_none());
        let out = write_final(spill.path(), Vec::new(), &ff, false).unwrap();
        let mut rdr = csv::Reader::from_reader(out.as_slice());
        let mut rows = vec![rdr.headers().unwrap().clone()];
        rows.extend(rdr.records().map(Result::unwrap));
        rows
    }

    fn cell() -> impl Strategy<Value = String> {
        let start = prop::sample::select(vec!["", "'", "=", "+", "-", "@", "\t", "\r", "\n", " "]);
        (start, "[a-z ,\"'=+@\\-\n\r\té中😀]{0,10}").prop_map(|(s, b)| format!("{s}{b}"))
    }

    proptest! {
        /// neutralise → CSV writer → CSV reader → unneutralise gives back every cell exactly,
        /// and no neutralised cell starts with a formula character; form-field columns are
        /// padded for customers seen before a column appeared.
        #[test]
        fn cells_round_trip_through_the_spill(
            rows in prop::collection::vec((cell(), cell(), prop::option::of(cell()), prop::option::of(cell())), 1..20)
        ) {
            let customers: Vec<Customer> = rows
                .iter()
                .enumerate()
                .map(|(i, (notes, company, a, b))| Customer {
                    id: i as u64 + 1,
                    notes: notes.clone(),
                    company: company.clone(),
                    form_fields: a
                        .iter()
                        .map(|v| FormField { name: "a".into(), value: v.clone() })
                        .chain(b.iter().map(|v| FormField { name: "=b".into(), value: v.clone() }))
                        .collect(),
                    ..Customer::default()
                })
                .collect();
            let out = spill_and_read(&customers, false);
            let header = &out[0];
            let width = header.len();
            let col = |name: &str| header.iter().position(|h| h == name);
            for (rec, (notes, company, a, b)) in out[1..].iter().zip(&rows) {
                prop_assert_eq!(rec.len(), width);
                for cell in rec.iter() {
                    prop_assert!(!matches!(cell.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')));
                }
                prop_assert_eq!(unneutralise(&rec[9]), notes.as_str());
                prop_assert_eq!(unneutralise(&rec[4]), company.as_str());
                for (name, want) in [("form_field:a", a), ("form_field:=b", b)] {
                    if let Some(i) = col(name) {
                        prop_assert_eq!(unneutralise(&rec[i]), want.as_deref().unwrap_or(""));
                    } else {
                        prop_assert!(want.is_none());
                    }
                }
            }
            let raw = spill_and_read(&customers, true);
            for (rec, (notes, _, _, _)) in raw[1..].iter().zip(&rows) {
                prop_assert_eq!(&rec[9], notes.as_str());
            }
        }
    }

    #[test]
    fn dates_become_iso() {
        assert_eq!(
            iso_date("Wed, 10 Jan 2018 21:02:23 +0000"),
            "2018-01-10T21:02:23Z"
        );
        assert_eq!(
            iso_date("Wed, 10 Jan 2018 23:02:23 +0200"),
            "2018-01-10T21:02:23Z"
        );
        assert_eq!(iso_date(""), "");
        assert_eq!(
            iso_date("Tue, 29 Feb 2028 00:00:59 +0000"),
            "2028-02-29T00:00:59Z"
        );
        assert_eq!(
            iso_date("Mon, 1 Jan 2018 21:02:23 +0000"),
            "2018-01-01T21:02:23Z"
        );
        assert_eq!(iso_date("not a date"), "not a date");
    }

    proptest! {
        /// The fast path and chrono agree on every date the API could send.
        #[test]
        fn fast_dates_agree_with_chrono(secs in 0i64..4_102_444_800) {
            let d = chrono::DateTime::from_timestamp(secs, 0).unwrap();
            let sent = d.to_rfc2822();
            let mut fast = String::new();
            if utc_rfc2822_fast(&sent, &mut fast) {
                prop_assert_eq!(fast, d.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            }
            prop_assert_eq!(iso_date(&sent), d.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
    }

    #[test]
    fn name_patterns() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T21:15:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(expand_name("b-{date}.csv", now), "b-2026-11-26.csv");
        assert_eq!(
            expand_name("b-{datetime}.csv.gz", now),
            "b-2026-11-26T211500Z.csv.gz"
        );
        assert!(matches_template("b-{date}.csv", "b-2026-11-26.csv"));
        assert!(!matches_template("b-{date}.csv", "b-2026-11-26.csv.tmp"));
        assert!(!matches_template("b-{date}.csv", "c-2026-11-26.csv"));
        assert!(matches_template(
            "b-{datetime}.csv",
            "b-2026-11-26T211500Z.csv"
        ));
    }

    /// An output that cannot start over, like a `.gz`.
    struct NoRestart(Vec<u8>);

    impl Write for NoRestart {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Output for NoRestart {
        fn restart(self) -> anyhow::Result<Option<NoRestart>> {
            Ok(None)
        }
    }

    /// Customers in pages through a spill writer with a direct output; returns the direct
    /// output (if complete) and what the final pass writes from the spill.
    fn direct_and_final<D: Output>(pages: &[Vec<Customer>], out: D) -> (Option<D>, Vec<u8>) {
        let spill = tempfile::NamedTempFile::new().unwrap();
        let mut w = SpillWriter::new(spill.path(), false, false, Some(out)).unwrap();
        for page in pages {
            for c in page {
                w.write(c, &GroupBook::default()).unwrap();
            }
            w.end_page().unwrap();
        }
        let (ff, direct) = w.finish().unwrap();
        (
            direct,
            write_final(spill.path(), Vec::new(), &ff, false).unwrap(),
        )
    }

    proptest! {
        /// The output written while the pages arrive is byte for byte what the final pass
        /// writes, however late a form-field column first shows up; an output that cannot
        /// start over is given up exactly when a column shows up after the first page.
        #[test]
        fn direct_output_equals_the_final_pass(
            pages in prop::collection::vec(
                prop::collection::vec(prop::collection::vec((0..5usize, cell()), 0..3), 0..6),
                0..6,
            )
        ) {
            let mut id = 0;
            let pages: Vec<Vec<Customer>> = pages
                .iter()
                .map(|page| {
                    page.iter()
                        .map(|fields| {
                            id += 1;
                            Customer {
                                id,
                                email: format!("c{id}@example.com"),
                                form_fields: fields
                                    .iter()
                                    .map(|(n, v)| FormField { name: format!("f{n}"), value: v.clone() })
                                    .collect(),
                                ..Customer::default()
                            }
                        })
                        .collect()
                })
                .collect();
            let (direct, want) = direct_and_final(&pages, Vec::new());
            prop_assert_eq!(direct.as_deref(), Some(want.as_slice()));

            let names = |page: &[Customer]| -> std::collections::HashSet<String> {
                page.iter().flat_map(|c| c.form_fields.iter().map(|f| f.name.clone())).collect()
            };
            let first_page = pages.iter().find(|p| !p.is_empty()).map(|p| names(p)).unwrap_or_default();
            let late = pages.iter().any(|p| !names(p).is_subset(&first_page));
            let (direct, want) = direct_and_final(&pages, NoRestart(Vec::new()));
            match direct {
                Some(out) => {
                    prop_assert!(!late);
                    prop_assert_eq!(out.0, want);
                }
                None => prop_assert!(late),
            }
        }
    }
}
