//! `export`: every customer (or those matching filters) to CSV, in ascending id, each once.
//!
//! Pages are fetched concurrently through the store seam ([`crate::api::store::Reader`]: V2 by
//! id range, V3 by cursor) and written in id order.
//! The set of `form_field:<name>` columns is only known at the end, so each row goes to a
//! spill file, already encoded as its final CSV record with the form-field columns known so
//! far. An output file is also written as the pages arrive, with the header of the columns
//! seen on the first page, and started over from the spill if a later row brings a new column
//! ([`spill`]); otherwise (stdout, or a `.gz` with a late column) the final pass writes the
//! header and copies the records, appending empty cells for columns found later. Memory stays
//! flat however many customers there are. Files are written atomically (temporary file in the
//! destination directory, synced, renamed), so a failed or interrupted export leaves the
//! previous backup untouched and no temporary file behind.
//!
//! This file holds the flags and the order of the steps; each concern has its own file:
//! - [`spill`]: the late-column CSV writer (spill file, direct output, final pass).
//! - [`dates`]: V2's RFC-2822 dates as the ISO-8601 UTC the file carries.
//! - [`addresses`]: the `--addresses` file.
//! - [`complete`]: the end-of-export check of the rows against the store's count.
//! - [`backup`]: `{date}`/`{datetime}` names and `--keep` retention.
//! - [`sink`]: output files (gzip or plain) and the path check before any request.

mod addresses;
mod backup;
mod complete;
mod dates;
mod sink;
mod spill;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use futures::stream::{BoxStream, StreamExt};

use crate::api::store::{Page, Reader, Selection, Start};
use crate::api::{ApiError, Client};
use crate::cmd::{connect, fatal_if_auth, parse_filters, GroupBook};
use crate::exit::{usage, Exit};
use crate::outfile::{OutputFile, RunFiles};
use crate::report::{Progress, Summary};
use crate::settings::Settings;

pub use backup::expand_name;
pub use sink::Sink;

use complete::{check_complete, Changes, CLOCK_MARGIN_MINUTES};
use spill::{write_final, SpillWriter};

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
    let filters = parse_filters(&args.filters, args.since.as_deref())?;
    let now = chrono::Utc::now();
    let names = Names::check(g, &args, now)?;
    // With --api v3, a filter V3 cannot express is a usage error before any request.
    let selection = Selection::for_api(g.api, &filters)?;
    let client = connect(g)?;
    let reader = Reader::new(client.clone(), selection);
    let mut outputs = Outputs::create(&names, g.bom)?;

    let progress = Progress::new(None, g.quiet, "customers");
    progress.watch(&client);
    // The group names (V2 on either API: V3 has none), the count and the first page are
    // independent: one round trip for all.
    let (groups, start) = futures::join!(
        GroupBook::load(&client),
        reader.start(names.addresses.is_some())
    );
    let groups = groups?;
    let start = start.map_err(fatal_if_auth).context(FAILED)?;
    let count = start.count;
    if !groups.available {
        // Said once, before the run (not again in the summary).
        progress.note("warning: this store's plan has no customer groups; the customer_group column will be empty");
    }
    progress.set_total(count);
    announce(&progress, &client, &start, names.addresses.is_some());

    // Rows modified after this are "changed during the export" for the completeness check
    // below; the margin covers a store clock behind ours.
    let changed_after = now - chrono::Duration::minutes(CLOCK_MARGIN_MINUTES);
    let mut spill_wtr =
        SpillWriter::new(outputs.spill.path(), args.raw, g.bom, outputs.direct.take())?
            .count_changes(changed_after, now);
    let pages = reader.pages(start, g.concurrency as usize);
    let mut page_writer = PageWriter {
        spill: &mut spill_wtr,
        addresses: outputs.addresses.as_mut(),
        client: &client,
        groups: &groups,
        raw: args.raw,
        writing: names.writing(),
        progress: &progress,
    };
    let written = page_writer.write_all(pages).await?;
    let changes = Changes {
        modified: spill_wtr.changed,
        created: spill_wtr.created,
        after: changed_after,
    };
    let mut notices = Vec::new();
    notices.extend(
        check_complete(&reader, &filters, count, written.rows, changes)
            .await
            .context(FAILED)?,
    );
    outputs.finish(spill_wtr, &names, g.bom)?;
    progress.finish();
    if written.gone > 0 {
        notices.push(format!(
            "{} customers were deleted during the export: they are in the customer file (as read), their addresses are not",
            written.gone
        ));
    }
    if let (Some(n), Some(_)) = (args.keep, &names.output) {
        notices.extend(backup::retain(&args, n, &names)?);
    }
    notices.extend(progress.quota_notice());
    let mut summary = Summary::new("export", written.rows, None, started, client.stats());
    summary.notices = notices;
    summary.output_file = names.output.map(|p| p.display().to_string());
    summary.emit(g.quiet, g.summary_json.as_deref())?;
    Ok(Exit::Ok)
}

/// The context of an error that ends the export before any file is replaced.
const FAILED: &str = "export failed; the previous output file (if any) is untouched";

/// The context of an error writing `path`.
fn untouched(path: &Path) -> String {
    format!(
        "writing {}; the previous file (if any) is untouched",
        path.display()
    )
}

/// The files of one export, their `{date}`/`{datetime}` expanded, checked before any request.
struct Names {
    /// The customer file (None: stdout).
    output: Option<PathBuf>,
    /// The `--addresses` file.
    addresses: Option<PathBuf>,
}

impl Names {
    /// Expand and check the names: the flags that go together, the same-file checks against
    /// every other file of the run, and a directory that exists for each.
    fn check(
        g: &Settings,
        args: &Args,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<Names> {
        let output = (args.output != "-").then(|| PathBuf::from(expand_name(&args.output, now)));
        let addresses = args
            .addresses
            .as_deref()
            .map(|a| PathBuf::from(expand_name(a, now)));
        if args.keep.is_some() && (output.is_none() || !backup::has_pattern(&args.output)) {
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
        if let Some(p) = &addresses {
            files = files.output("--addresses", p);
        }
        for (flag, path) in [("--output", &output), ("--addresses", &addresses)] {
            if let Some(p) = path {
                sink::check_output_path(flag, p)?;
            }
        }
        files.check()?;
        Ok(Names { output, addresses })
    }

    /// The context of an error writing the customer file.
    fn writing(&self) -> String {
        match self.output.as_deref() {
            Some(path) => untouched(path),
            None => "writing the export".to_string(),
        }
    }
}

/// The plan, printed before the pages: customers, and the requests sent so far (group
/// listing, count, first page) plus the pages still to come.
fn announce(progress: &Progress, client: &Client, start: &Start, addresses: bool) {
    let count = start.count;
    let mut msg = format!(
        "exporting {}: about {}",
        crate::report::plural(count, "customer", "customers"),
        crate::report::plural(
            client.stats().requests + start.page_requests,
            "request",
            "requests"
        )
    );
    if addresses && !start.addresses_embedded {
        msg.push_str(&format!(
            " + {} for addresses (V2 needs one request per customer)",
            count
        ));
    }
    progress.note(&msg);
}

/// The files written, opened before the first request so that a bad path fails fast.
struct Outputs {
    /// The customer file, written as the pages arrive (see [`spill`]); taken by the writer.
    direct: Option<Sink>,
    /// The customer file when it is a device or a pipe: it cannot start over (what it was
    /// sent is gone) when a late form-field column widens the header, so it gets the final
    /// pass only, once every column is known.
    final_file: Option<OutputFile>,
    /// Every row as its final CSV record, for the final pass (and a direct output's restart).
    spill: tempfile::NamedTempFile,
    /// The `--addresses` file, its header written.
    addresses: Option<csv::Writer<Sink>>,
}

impl Outputs {
    fn create(names: &Names, bom: bool) -> anyhow::Result<Outputs> {
        // The spill file sits beside a replaced output (same filesystem, same permissions as
        // the backup itself); stdout, a device or a pipe has no such directory.
        let out_file = names
            .output
            .as_deref()
            .map(OutputFile::create)
            .transpose()?;
        let spill_dir = out_file
            .as_ref()
            .and_then(OutputFile::dir)
            .unwrap_or_else(std::env::temp_dir);
        let spill = crate::outfile::temp_file_in(&spill_dir, "export-spill")
            .context("creating the spill file")?;
        let addresses = names
            .addresses
            .as_deref()
            .map(|p| addresses::create(p, bom))
            .transpose()?;
        let (direct, final_file) = match out_file {
            Some(f) if !f.is_replaced() => (None, Some(f)),
            f => (
                f.zip(names.output.as_deref()).map(|(f, p)| Sink::new(f, p)),
                None,
            ),
        };
        Ok(Outputs {
            direct,
            final_file,
            spill,
            addresses,
        })
    }

    /// Complete every file, then put them in place. Unless the customer file was written as
    /// the pages came, a second pass: the header with every form-field column, then the rows,
    /// padded. Every file is completely written before any is renamed into place, so a failure
    /// (a full disk) replaces none.
    fn finish(
        mut self,
        spill_wtr: SpillWriter<Sink>,
        names: &Names,
        bom: bool,
    ) -> anyhow::Result<()> {
        let (ff, direct) = spill_wtr.finish().with_context(|| names.writing())?;
        let spill = self.spill.path();
        let finished = match (direct, names.output.as_deref()) {
            (Some(sink), Some(path)) => {
                Some((sink.finish().with_context(|| untouched(path))?, path))
            }
            (None, Some(path)) => {
                let file = match self.final_file.take() {
                    Some(f) => f,
                    None => OutputFile::create(path)?,
                };
                let file = write_final(spill, Sink::new(file, path), &ff, bom)
                    .and_then(Sink::finish)
                    .with_context(|| untouched(path))?;
                Some((file, path))
            }
            (_, None) => {
                let stdout =
                    std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
                write_final(spill, stdout, &ff, bom)
                    .and_then(|mut out| Ok(out.flush()?))
                    .context("writing the export to stdout")?;
                None
            }
        };
        let addr_finished = match (self.addresses, names.addresses.as_deref()) {
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
        // Every file gets its last bytes and is synced before anything is renamed into
        // place: a write error (/dev/full, a closed pipe, a full disk) fails the export with
        // every file untouched. Each in a thread of its own: the customer file's fsync waits
        // for the disk (35-40 ms for 17.5 MB here), and the addresses file's wait overlaps it
        // instead of following it.
        std::thread::scope(|s| {
            let syncs: Vec<_> = done
                .iter_mut()
                .map(|(file, path)| {
                    let path = *path;
                    s.spawn(move || file.sync().with_context(|| untouched(path)))
                })
                .collect();
            syncs
                .into_iter()
                .try_for_each(|t| t.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        })?;
        for (file, path) in done {
            file.commit().with_context(|| untouched(path))?;
        }
        Ok(())
    }
}

/// What the page loop wrote.
struct Written {
    rows: u64,
    /// Customers deleted between their page and their address request.
    gone: u64,
}

/// The page loop's writers: each page to the spill (and the direct output), its addresses
/// to the `--addresses` file.
struct PageWriter<'a> {
    spill: &'a mut SpillWriter<Sink>,
    addresses: Option<&'a mut csv::Writer<Sink>>,
    client: &'a Client,
    groups: &'a GroupBook,
    raw: bool,
    /// The context of an error writing the customer file.
    writing: String,
    progress: &'a Progress,
}

impl PageWriter<'_> {
    async fn write_all(
        &mut self,
        mut pages: BoxStream<'static, Result<Page, ApiError>>,
    ) -> anyhow::Result<Written> {
        let mut written = Written { rows: 0, gone: 0 };
        while let Some(page) = pages.next().await {
            let page = page.map_err(fatal_if_auth).context(FAILED)?;
            if let Some(w) = self.addresses.as_deref_mut() {
                match &page.addresses {
                    Some(lists) => {
                        for (c, list) in page.customers.iter().zip(lists) {
                            addresses::write_rows(c, list, w, self.raw)?;
                        }
                    }
                    None => {
                        written.gone += addresses::fetch_and_write(
                            self.client,
                            &page.customers,
                            w,
                            self.raw,
                        )
                        .await
                        .context(
                            "export failed; the previous output files (if any) are untouched",
                        )?
                    }
                }
            }
            let page = page.customers;
            for c in &page {
                self.spill
                    .write(c, self.groups)
                    .with_context(|| self.writing.clone())?;
            }
            self.spill
                .end_page()
                .with_context(|| self.writing.clone())?;
            written.rows += page.len() as u64;
            self.progress.inc(page.len() as u64);
        }
        Ok(written)
    }
}
