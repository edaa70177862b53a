//! Input files as spreadsheets really save them: the CSV dialect (encoding, delimiter), the
//! check of the whole file before the first request, and the reader every row command uses.
//!
//! Every command that reads a CSV (`import`, `set-group`, `delete`, `validate-password`) opens
//! it with [`InputFile::open`], which reads the file once from start to end: it settles the
//! encoding (UTF-8, UTF-16 with a byte-order mark or with the NUL bytes of UTF-16 in its
//! header line, or Windows-1252 when the bytes are not UTF-8, which is what Excel on Windows
//! saves), sniffs the delimiter from the header line,
//! and refuses a file it could not read to the end (an encoding error, a quote that is never
//! closed, a title line above the header) with the line number an editor shows (the header is
//! line 1) and the column's name. So a problem in row 90,000 stops the run before row 1 is
//! sent, not after. Standard input is copied to a private temporary file first, so it gets the
//! same check and can be read twice.
//!
//! Decoding is `encoding_rs` (the WHATWG Encoding Standard, as browsers decode) through
//! `encoding_rs_io`'s streaming reader: the file is transcoded to UTF-8 on the fly and never
//! held in memory. Windows-1252 is ASCII-compatible, so the check can parse the CSV structure
//! on the raw bytes and decide between UTF-8 and Windows-1252 in the same pass.

mod check;
mod delimiter;
mod encoding;
mod header;

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

pub use delimiter::{sniff_delimiter, DelimiterArg};
pub use encoding::{Encoding, EncodingArg};
pub use header::normalize_header;

use check::check_records;
use delimiter::{delimiter_name, parse_delimiter};
use encoding::sniff_bom;

/// How the input files of a row command are read (flattened into each command's flags).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Dialect {
    /// The input's encoding: auto, utf-8, windows-1252, latin-1 or utf-16. `auto` reads UTF-8
    /// (with or without a BOM), UTF-16 with a BOM or, without one, told little- or big-endian
    /// by the NUL bytes of its header line, and otherwise, when the file is not valid UTF-8,
    /// Windows-1252 (what Excel on Windows saves). A BOM always wins.
    #[arg(long, value_enum, value_name = "ENCODING", default_value_t = EncodingArg::Auto)]
    pub encoding: EncodingArg,
    /// The input's delimiter: auto, ',', ';', tab or '|'. `auto` takes the one the header
    /// line uses most (a European Excel saves ';').
    #[arg(long, value_name = "DELIM", default_value = "auto", value_parser = parse_delimiter)]
    pub delimiter: DelimiterArg,
}

impl Dialect {
    /// For a journal's options: a resumed run must read the file as the interrupted one did.
    pub fn journal_key(&self) -> String {
        format!(
            "encoding={:?} delimiter={:?}",
            self.encoding,
            self.delimiter.0.map(char::from)
        )
    }
}

/// A CSV reader over an input file, positioned after the header. Empty cells beyond the
/// header's width (Excel's leftovers) are dropped from each record, so a row is ragged only
/// when it has more *filled* cells than the header has columns.
pub struct CsvReader {
    inner: csv::Reader<Box<dyn Read + Send>>,
    width: usize,
}

impl CsvReader {
    /// The next record (false at the end of the file).
    pub fn read_record(&mut self, record: &mut csv::StringRecord) -> csv::Result<bool> {
        let more = self.inner.read_record(record)?;
        if more {
            while record.len() > self.width
                && record
                    .get(record.len() - 1)
                    .is_some_and(|c| c.trim().is_empty())
            {
                record.truncate(record.len() - 1);
            }
        }
        Ok(more)
    }
}

/// How an input file was read: the `"input"` object of `--summary-json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReadAs {
    /// The path as given (`-` for standard input).
    pub file: String,
    /// `utf-8`, `windows-1252`, `utf-16le` or `utf-16be` (WHATWG labels; a `latin-1` file is
    /// read as its superset `windows-1252`).
    pub encoding: &'static str,
    /// The delimiter itself: `,`, `;`, `|` or a tab (`"\t"` in JSON).
    pub delimiter: String,
    /// The file starts with a byte-order mark (UTF-8's or UTF-16's).
    pub bom: bool,
}

/// An input file that passed the whole-file check.
pub struct InputFile {
    /// The path as the user gave it (`-` for stdin), for messages.
    pub path: PathBuf,
    /// What is read: the file itself, or the spooled copy of stdin.
    source: PathBuf,
    /// Removes the spooled copy of stdin when the run is over.
    _spool: Option<tempfile::TempPath>,
    pub encoding: Encoding,
    /// Why that encoding (for the summary): "by its byte-order mark", "not valid UTF-8", ...
    encoding_reason: &'static str,
    pub delimiter: u8,
    /// The file starts with a byte-order mark.
    pub had_bom: bool,
    /// The header row, decoded.
    pub headers: csv::StringRecord,
    /// Data records (header excluded), empty rows included.
    pub records: u64,
}

impl InputFile {
    /// Open `path` (`-` = stdin, spooled to a private temporary file), settle its dialect and
    /// check the whole file; see the module docs.
    pub fn open(path: &Path, dialect: &Dialect) -> anyhow::Result<InputFile> {
        let (source, spool) = if path.as_os_str() == "-" {
            let tmp = spool_stdin()?;
            (tmp.to_path_buf(), Some(tmp))
        } else {
            (path.to_path_buf(), None)
        };
        let shown = path.display().to_string();
        let (head, _) = open_stream(&source, &shown)?;
        let bom = sniff_bom(&head);
        let (encoding, reason) = encoding::settle(bom, dialect.encoding, &head);
        // NULs in the header line that do not say which byte order (a NUL in a cell is just
        // data): UTF-16 without a BOM whose header is not column names.
        let first_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
        if encoding.is_none() && first_line.contains(&0) {
            bail!(
                "{shown}: the file contains NUL bytes: it looks like UTF-16 without a byte-order mark; pass --encoding utf-16 (or save it as CSV UTF-8)"
            );
        }
        let mut file = InputFile {
            path: path.to_path_buf(),
            source,
            _spool: spool,
            encoding: encoding.unwrap_or(Encoding::Utf8),
            encoding_reason: reason,
            delimiter: b',',
            had_bom: bom.is_some(),
            headers: csv::StringRecord::new(),
            records: 0,
        };
        // The check parses bytes: UTF-16 is transcoded first, the others are ASCII-compatible.
        let check_stream = file.decoded_stream(matches!(
            file.encoding,
            Encoding::Utf16Le | Encoding::Utf16Be
        ))?;
        let (head, stream) = peek(check_stream, &shown)?;
        file.delimiter = match dialect.delimiter.0 {
            Some(d) => d,
            None => sniff_delimiter(&head),
        };
        let verdict = check_records(stream, file.delimiter, &shown)?;
        file.records = verdict.records;
        file.settle_utf8(encoding, bom, &verdict)?;
        let mut rdr = file.raw_reader()?;
        file.headers = rdr
            .headers()
            .map_err(|e| describe_csv_error(&e, &file.path))?
            .clone();
        // A title line makes every row look too wide: say that first.
        file.check_header()?;
        file.check_title_line(rdr)?;
        if let Some(q) = verdict.unclosed_quote {
            bail!(
                "{shown} line {}, column {:?}: a quote (\") opened here is probably not closed: the row has {} fields but the header has {}, and the lines after it would be read as one cell; fix the quote and run again",
                q.line,
                verdict.header_names.get(q.field).map(String::as_str).unwrap_or("?"),
                q.fields,
                verdict.header_names.len()
            );
        }
        Ok(file)
    }

    /// A reader positioned after the header (each call reads the file from its start).
    pub fn reader(&self) -> anyhow::Result<CsvReader> {
        let mut inner = self.raw_reader()?;
        inner
            .headers()
            .map_err(|e| describe_csv_error(&e, &self.path))?;
        Ok(CsvReader {
            inner,
            width: self.headers.len(),
        })
    }

    /// How the file was read, for `--summary-json` (the same facts as [`InputFile::describe`],
    /// in fields a program can compare).
    pub fn read_as(&self) -> ReadAs {
        ReadAs {
            file: self.path.display().to_string(),
            encoding: self.encoding.label(),
            delimiter: (self.delimiter as char).to_string(),
            bom: self.had_bom,
        }
    }

    /// What the summary says once about how the file was read.
    pub fn describe(&self) -> String {
        format!(
            "input read as {} ({}), delimiter {}",
            self.encoding.name(),
            self.encoding_reason,
            delimiter_name(self.delimiter)
        )
    }

    fn raw_reader(&self) -> anyhow::Result<csv::Reader<Box<dyn Read + Send>>> {
        let stream = self.decoded_stream(true)?;
        Ok(csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .delimiter(self.delimiter)
            .from_reader(stream))
    }
}

/// Copy stdin to a private temporary file (mode 600, removed when the run ends), so that it
/// gets the whole-file check and can be read again.
fn spool_stdin() -> anyhow::Result<tempfile::TempPath> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".bc-customers-stdin.")
        .suffix(".tmp")
        .tempfile()
        .context("creating a temporary file for standard input")?;
    io::copy(&mut io::stdin().lock(), tmp.as_file_mut()).context("reading standard input")?;
    Ok(tmp.into_temp_path())
}

/// The file, decompressed when it is gzip (a `.csv.gz` backup restores as it is): its first
/// 64 KiB, and the whole stream.
fn open_stream(source: &Path, shown: &str) -> anyhow::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let raw = std::fs::File::open(source).with_context(|| format!("opening {shown}"))?;
    let mut buffered = BufReader::with_capacity(256 * 1024, raw);
    let is_gzip = buffered
        .fill_buf()
        .with_context(|| format!("reading {shown}"))?
        .starts_with(&[0x1f, 0x8b]);
    let input: Box<dyn Read + Send> = if is_gzip {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::read::MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    };
    peek(input, shown)
}

/// Read up to 64 KiB from the start of `stream`, returning them and the whole stream again.
fn peek(
    mut stream: Box<dyn Read + Send>,
    shown: &str,
) -> anyhow::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let mut head = Vec::with_capacity(64 * 1024);
    (&mut stream)
        .take(64 * 1024)
        .read_to_end(&mut head)
        .with_context(|| format!("reading {shown}"))?;
    let rest: Box<dyn Read + Send> = Box::new(io::Cursor::new(head.clone()).chain(stream));
    Ok((head, rest))
}

/// Turn a csv error into a message with the line number a person can go to.
pub fn describe_csv_error(e: &csv::Error, path: &Path) -> anyhow::Error {
    let line = e.position().map(|p| p.line());
    let what = match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!(
            "invalid UTF-8 in field {} (pass --encoding, or save the file as UTF-8)",
            err.field() + 1
        ),
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        _ => e.to_string(),
    };
    match line {
        Some(l) => anyhow::anyhow!("{} line {l}: {what}", path.display()),
        None => anyhow::anyhow!("{}: {what}", path.display()),
    }
}

/// A row of only delimiters and blanks (Excel's leftovers below the data): `skipped`, never a
/// failure.
pub fn is_empty_row(record: &csv::StringRecord) -> bool {
    record.iter().all(|c| c.trim().is_empty())
}

/// The line an editor shows for a record (the header is line 1).
pub fn line_of(record: &csv::StringRecord) -> Option<u64> {
    record.position().map(|p| p.line())
}

/// The message of a row with more filled cells than the header has columns (empty ones past
/// the header were dropped by [`CsvReader`]), or fewer cells.
pub fn ragged_message(record: &csv::StringRecord, width: usize) -> Option<String> {
    if record.len() == width {
        return None;
    }
    let at = line_of(record)
        .map(|l| format!("line {l}: "))
        .unwrap_or_default();
    Some(format!(
        "{at}the row has {} fields but the header has {width} (a missing or extra delimiter, or an unclosed quote on an earlier line?)",
        record.len()
    ))
}

#[cfg(test)]
mod tests;
