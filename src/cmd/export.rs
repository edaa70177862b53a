//! `export`: every customer (or those matching filters) to CSV, in ascending id, each once.
//!
//! Pages are fetched concurrently by id range ([`crate::api::pages`]) and written in id order.
//! The set of `form_field:<name>` columns is only known at the end, so rows first go to a
//! spill file (fixed columns plus (field number, value) pairs) and the final CSV is written
//! from it: memory stays flat however many customers there are. Files are written atomically
//! (temporary file in the destination directory, synced, renamed), so a failed export leaves
//! the previous backup untouched and no temporary file behind.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use futures::StreamExt;

use crate::api::pages::{self};
use crate::api::{Address, Client, Customer};
use crate::cli::GlobalArgs;
use crate::cmd::{connect, fatal_if_auth, parse_filters, GroupBook};
use crate::csvio::{neutralise, AtomicFile};
use crate::exit::{usage, Exit};
use crate::report::{Progress, Summary};

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

pub const ADDRESS_COLUMNS: [&str; 15] = [
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
    /// Also write every address of the exported customers to FILE (one request per customer).
    #[arg(long, value_name = "FILE")]
    pub addresses: Option<String>,
    /// Keep only the newest N files matching the --output pattern (needs {date} or {datetime}).
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Do not neutralise formula-like cells (=, +, -, @, tab, CR) with a leading '.
    #[arg(long)]
    pub raw: bool,
}

pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<Exit> {
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
    let client = connect(g)?;
    let progress = Progress::new(None, g.quiet, "customers");
    // Two independent reads: one round trip instead of two before the first page.
    let (groups, plan) = tokio::join!(GroupBook::load(&client), pages::plan(&client, &query));
    let groups = groups?;
    let mut notices = Vec::new();
    if !groups.available {
        notices.push(
            "this store's plan has no customer groups: the customer_group column is empty"
                .to_string(),
        );
        progress.note("warning: this store's plan has no customer groups; the customer_group column will be empty");
    }
    let plan = plan.map_err(fatal_if_auth)?;
    progress.set_total(plan.count);
    let mut msg = format!(
        "exporting {} customers: about {} requests",
        plan.count, plan.expected_requests
    );
    if addresses_path.is_some() {
        msg.push_str(&format!(
            " + {} for addresses (V2 needs one request per customer)",
            plan.count
        ));
    }
    progress.note(&msg);

    // Outputs are created before the first page so that a bad path fails fast.
    let spill_dir = output
        .as_deref()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf);
    let spill = match &spill_dir {
        Some(d) => tempfile::Builder::new()
            .prefix(".bc-customers-spill.")
            .tempfile_in(d),
        None => tempfile::Builder::new()
            .prefix(".bc-customers-spill.")
            .tempfile_in(
                output
                    .as_ref()
                    .map(|_| Path::new("."))
                    .unwrap_or(&std::env::temp_dir()),
            ),
    }
    .context("creating the spill file")?;
    let out_file = output.as_deref().map(AtomicFile::create).transpose()?;
    let mut addr_wtr = match &addresses_path {
        Some(p) => {
            let mut w = csv::Writer::from_writer(Sink::new(AtomicFile::create(p)?, p));
            w.write_record(ADDRESS_COLUMNS)?;
            Some(w)
        }
        None => None,
    };

    let mut spill_wtr =
        csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(std::io::BufWriter::with_capacity(
                256 * 1024,
                spill.reopen()?,
            ));
    let mut ff = FormFieldColumns::default();
    let mut rec = SpillRecord {
        record: csv::StringRecord::new(),
        raw: args.raw,
    };
    let mut rows = 0u64;
    let mut pages =
        pages::customer_pages(client.clone(), query, plan.count, g.concurrency as usize);
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(fatal_if_auth)
            .context("export failed; the previous output file (if any) is untouched")?;
        if let Some(w) = addr_wtr.as_mut() {
            write_addresses(&client, &page, w, args.raw).await?;
        }
        for c in &page {
            spill_record(c, &groups, &mut ff, &mut rec);
            spill_wtr.write_record(&rec.record)?;
        }
        rows += page.len() as u64;
        progress.inc(page.len() as u64);
    }
    spill_wtr.flush()?;
    drop(spill_wtr);

    // Second pass: the final CSV with every form-field column.
    match (out_file, output.as_deref()) {
        (Some(f), Some(path)) => {
            write_final(spill.path(), Sink::new(f, path), &ff, args.raw)?.commit()?
        }
        _ => write_final(
            spill.path(),
            std::io::BufWriter::new(std::io::stdout().lock()),
            &ff,
            args.raw,
        )?
        .flush()?,
    }
    if let Some(w) = addr_wtr {
        let sink = w.into_inner().map_err(|e| e.into_error())?;
        sink.commit()?;
    }
    progress.finish();
    if let (Some(n), Some(_)) = (args.keep, &output) {
        for removed in apply_retention(&args.output, n)? {
            notices.push(format!("removed old backup {}", removed.display()));
        }
    }
    let mut summary = Summary::new("export", rows, None, started, client.stats());
    summary.notices = notices;
    summary.output_file = output.map(|p| p.display().to_string());
    summary.emit(g.quiet, g.summary_json.as_deref())?;
    Ok(Exit::Ok)
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

/// A spill record: the 16 fixed cells, then (form-field number, value) pairs, every value
/// already neutralised (unless `raw`) so that the second pass only moves bytes.
fn spill_record(
    c: &Customer,
    groups: &GroupBook,
    ff: &mut FormFieldColumns,
    rec: &mut SpillRecord,
) {
    rec.clear();
    rec.push_field(&c.id.to_string());
    rec.push_field(&c.email);
    rec.push_field(&c.first_name);
    rec.push_field(&c.last_name);
    rec.push_field(&c.company);
    rec.push_field(&c.phone);
    rec.push_field(&c.store_credit);
    rec.push_field(&c.customer_group_id.to_string());
    rec.push_field(groups.name_of(c.customer_group_id).unwrap_or(""));
    rec.push_field(&c.notes);
    rec.push_field(&c.tax_exempt_category);
    rec.push_field(&c.registration_ip_address);
    rec.push_field(if c.accepts_marketing { "true" } else { "false" });
    rec.push_field(if c.reset_pass_on_login {
        "true"
    } else {
        "false"
    });
    rec.push_field(&iso_date(&c.date_created));
    rec.push_field(&iso_date(&c.date_modified));
    for f in &c.form_fields {
        let col = ff.column(&f.name);
        rec.record.push_field(&col.to_string());
        rec.push_field(&f.value);
    }
}

/// The spill record being built, and whether its values are written as they are (`--raw`).
struct SpillRecord {
    record: csv::StringRecord,
    raw: bool,
}

impl SpillRecord {
    fn clear(&mut self) {
        self.record.clear();
    }

    fn push_field(&mut self, value: &str) {
        if self.raw {
            self.record.push_field(value);
        } else {
            self.record.push_field(&neutralise(value));
        }
    }
}

fn write_final<W: Write>(
    spill: &Path,
    out: W,
    ff: &FormFieldColumns,
    raw: bool,
) -> anyhow::Result<W> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(spill)
        .context("reading the spill file")?;
    let mut wtr = csv::Writer::from_writer(out);
    let mut header: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
    header.extend(ff.names.iter().map(|n| format!("form_field:{n}")));
    wtr.write_record(header.iter().map(|h| {
        if raw {
            h.clone()
        } else {
            neutralise(h).into_owned()
        }
    }))?;
    let width = COLUMNS.len() + ff.names.len();
    // Bytes, not strings: the spill holds finished values (we wrote them as UTF-8), so the
    // second pass skips UTF-8 validation and reuses its buffers, no allocation per cell.
    let mut rec = csv::ByteRecord::new();
    let mut cells: Vec<Vec<u8>> = vec![Vec::new(); width];
    while rdr.read_byte_record(&mut rec)? {
        for c in cells.iter_mut() {
            c.clear();
        }
        for (i, cell) in rec.iter().take(COLUMNS.len()).enumerate() {
            cells[i].extend_from_slice(cell);
        }
        let mut pairs = rec.iter().skip(COLUMNS.len());
        while let (Some(k), Some(v)) = (pairs.next(), pairs.next()) {
            let k = std::str::from_utf8(k)
                .ok()
                .and_then(|k| k.parse::<usize>().ok());
            if let Some(k) = k {
                cells[COLUMNS.len() + k].extend_from_slice(v);
            }
        }
        wtr.write_record(&cells)?;
    }
    wtr.into_inner()
        .map_err(|e| anyhow::anyhow!("writing the output: {}", e.error()))
}

/// Fetch the addresses of one page of customers (up to --concurrency at once) and write them
/// in customer order.
async fn write_addresses<W: Write>(
    client: &Client,
    page: &[Customer],
    w: &mut csv::Writer<W>,
    raw: bool,
) -> anyhow::Result<()> {
    let lists: Vec<Result<Vec<Address>, crate::api::ApiError>> =
        futures::stream::iter(page.iter().map(|c| client.addresses(c.id)))
            .buffered(64)
            .collect()
            .await;
    for (c, list) in page.iter().zip(lists) {
        let list = list
            .map_err(fatal_if_auth)
            .with_context(|| format!("reading the addresses of customer {}", c.id))?;
        for a in list {
            let cells = [
                c.id.to_string(),
                c.email.clone(),
                a.id.to_string(),
                a.first_name,
                a.last_name,
                a.company,
                a.street_1,
                a.street_2,
                a.city,
                a.state,
                a.zip,
                a.country,
                a.country_iso2,
                a.phone,
                a.address_type,
            ];
            if raw {
                w.write_record(&cells)?;
            } else {
                w.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
            }
        }
    }
    Ok(())
}

/// RFC-2822 from the API → ISO-8601 UTC; anything unparsable is passed through as sent.
pub fn iso_date(s: &str) -> String {
    if s.trim().is_empty() {
        return String::new();
    }
    match chrono::DateTime::parse_from_rfc2822(s.trim()) {
        Ok(d) => {
            // Fixed-width fields by hand: chrono's strftime parser ran per cell, twice a row.
            use chrono::{Datelike, Timelike};
            let d = d.with_timezone(&chrono::Utc);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            )
        }
        Err(_) => s.to_string(),
    }
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

/// Delete all but the newest `keep` files matching the pattern (names sort by date).
fn apply_retention(template: &str, keep: usize) -> anyhow::Result<Vec<PathBuf>> {
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
    let excess = matches.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for (_, p) in matches.into_iter().take(excess) {
        std::fs::remove_file(&p).with_context(|| format!("removing old backup {}", p.display()))?;
        removed.push(p);
    }
    Ok(removed)
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

/// An output file, gzip-compressed when its name ends in `.gz`, committed atomically.
pub enum Sink {
    Plain(AtomicFile),
    Gzip(flate2::write::GzEncoder<AtomicFile>),
}

impl Sink {
    pub fn new(file: AtomicFile, path: &Path) -> Sink {
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

    pub fn commit(self) -> anyhow::Result<()> {
        match self {
            Sink::Plain(f) => f.commit(),
            Sink::Gzip(g) => g.finish().context("finishing the gzip stream")?.commit(),
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
}
