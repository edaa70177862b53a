//! The late-column CSV writer: each customer as its final CSV record, spilled to a file with
//! the form-field columns known so far, written straight into the output while it can, and
//! copied (padded) by a final pass when a column shows up late.
//!
//! The set of `form_field:<name>` columns is only known once the whole store is read, so
//! memory would otherwise grow with the store; with the spill it stays flat.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::dates::iso_date_into;
use super::sink::Sink;
use super::COLUMNS;
use crate::api::Customer;
use crate::cmd::GroupBook;
use crate::csvio::neutralise;
use crate::outfile::UTF8_BOM;

/// Form-field names in the order first seen, with their column numbers.
#[derive(Default)]
pub(super) struct FormFieldColumns {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl FormFieldColumns {
    /// Up to this many columns, a scan of the names finds one faster than hashing the name.
    const SCANNED: usize = 16;

    fn column(&mut self, name: &str) -> usize {
        if self.names.len() <= Self::SCANNED {
            if let Some(i) = self.names.iter().position(|n| n == name) {
                return i;
            }
        } else if let Some(i) = self.index.get(name) {
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
pub(super) struct SpillWriter<D: Output> {
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
    pub(super) changed: u64,
    /// Rows whose `date_created` is after the second: created during the export.
    pub(super) created: u64,
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
pub(super) trait Output: Write + Sized {
    /// The same output, empty, to start over (None: not worth it, the final pass writes it).
    fn restart(self) -> anyhow::Result<Option<Self>>;
}

impl Output for Sink {
    fn restart(self) -> anyhow::Result<Option<Sink>> {
        match self {
            // The temporary file beside the destination, written again from its start; None
            // when written in place (what it was sent cannot be taken back).
            Sink::Plain(f) => Ok(f.rewind()?.map(Sink::Plain)),
            Sink::Gzip(_) => Ok(None),
        }
    }
}

impl<D: Output> SpillWriter<D> {
    /// `spill`: an empty file to spill to. `direct`: the output file, written while the pages
    /// arrive (None: the final pass writes the output, as for stdout). `bom`: the direct
    /// output starts with a UTF-8 BOM.
    pub(super) fn new(
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
    pub(super) fn count_changes(
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

    pub(super) fn write(&mut self, c: &Customer, groups: &GroupBook) -> anyhow::Result<()> {
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
        self.form_field_cells(c)?;
        self.rec.write_record(None::<&[u8]>)?;
        self.rec.flush()?;
        self.emit()
    }

    /// One cell per form-field column known (this row's own included), empty where the row
    /// has no value.
    fn form_field_cells(&mut self, c: &Customer) -> csv::Result<()> {
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
        Ok(())
    }

    /// The record just encoded, framed into the spill, and into the direct output while it
    /// has every column the record has (else the direct output starts over).
    fn emit(&mut self) -> anyhow::Result<()> {
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
    pub(super) fn end_page(&mut self) -> anyhow::Result<()> {
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
    pub(super) fn finish(mut self) -> anyhow::Result<(FormFieldColumns, Option<D>)> {
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

/// The final pass: the header with every form-field column, then every spilled record,
/// padded to them.
pub(super) fn write_final<W: Write>(
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

#[cfg(test)]
mod tests;
