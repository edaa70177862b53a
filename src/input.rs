//! Input files as spreadsheets really save them: the CSV dialect (encoding, delimiter), the
//! check of the whole file before the first request, and the reader every row command uses.
//!
//! Every command that reads a CSV (`import`, `set-group`, `delete`, `validate-password`) opens
//! it with [`InputFile::open`], which reads the file once from start to end: it settles the
//! encoding (UTF-8, UTF-16 with a byte-order mark, or Windows-1252 when the bytes are not
//! UTF-8, which is what Excel on Windows saves), sniffs the delimiter from the header line,
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

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use encoding_rs::{UTF_16BE, UTF_16LE, WINDOWS_1252};
use encoding_rs_io::DecodeReaderBytesBuilder;

/// `--encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EncodingArg {
    /// UTF-8 (with or without a BOM), UTF-16 with a BOM, else Windows-1252.
    #[default]
    Auto,
    /// UTF-8, with or without a BOM; a byte that is not UTF-8 is an error.
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// What Excel on Windows saves as "CSV (Comma delimited)" in Western Europe and America.
    #[value(name = "windows-1252", alias = "cp1252")]
    Windows1252,
    /// Read as Windows-1252, its superset (as the WHATWG Encoding Standard and browsers do).
    #[value(name = "latin-1", alias = "latin1", alias = "iso-8859-1")]
    Latin1,
    /// UTF-16; a BOM says which byte order, little-endian (Excel's "Unicode Text") without one.
    #[value(name = "utf-16", alias = "utf16")]
    Utf16,
}

/// How the input files of a row command are read (flattened into each command's flags).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Dialect {
    /// The input's encoding: auto, utf-8, windows-1252, latin-1 or utf-16. `auto` reads UTF-8
    /// (with or without a BOM) and UTF-16 with a BOM, and otherwise, when the file is not
    /// valid UTF-8, Windows-1252 (what Excel on Windows saves). A BOM always wins.
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

/// `--delimiter`: `None` = auto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DelimiterArg(pub Option<u8>);

fn parse_delimiter(s: &str) -> Result<DelimiterArg, String> {
    match s {
        "auto" => Ok(DelimiterArg(None)),
        "," | "comma" => Ok(DelimiterArg(Some(b','))),
        ";" | "semicolon" => Ok(DelimiterArg(Some(b';'))),
        "tab" | "\t" | "\\t" => Ok(DelimiterArg(Some(b'\t'))),
        "|" | "pipe" => Ok(DelimiterArg(Some(b'|'))),
        other => Err(format!(
            "{other:?} is not a delimiter the tool reads: use auto, ',', ';', tab or '|'"
        )),
    }
}

/// The delimiters `auto` chooses from, in the order that wins a tie.
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The encoding a file is read in, once settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Windows1252,
    Utf16Le,
    Utf16Be,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Windows1252 => "Windows-1252",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
        }
    }
}

/// A byte-order mark at the start of the (decompressed) file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bom {
    Utf8,
    Utf16Le,
    Utf16Be,
}

fn sniff_bom(head: &[u8]) -> Option<Bom> {
    if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        Some(Bom::Utf8)
    } else if head.starts_with(&[0xff, 0xfe]) {
        Some(Bom::Utf16Le)
    } else if head.starts_with(&[0xfe, 0xff]) {
        Some(Bom::Utf16Be)
    } else {
        None
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
        let (encoding, reason) = match (bom, dialect.encoding) {
            // A byte-order mark is unambiguous, and wins over the flag (as in the WHATWG
            // decode algorithm): "ÿþ" is never how a real CSV starts.
            (Some(Bom::Utf16Le), _) => (Some(Encoding::Utf16Le), "by its byte-order mark"),
            (Some(Bom::Utf16Be), _) => (Some(Encoding::Utf16Be), "by its byte-order mark"),
            (Some(Bom::Utf8), _) => (Some(Encoding::Utf8), "by its byte-order mark"),
            (None, EncodingArg::Utf16) => (Some(Encoding::Utf16Le), "as --encoding says"),
            (None, EncodingArg::Utf8) => (Some(Encoding::Utf8), "as --encoding says"),
            (None, EncodingArg::Windows1252) => (Some(Encoding::Windows1252), "as --encoding says"),
            // WHATWG maps the latin-1 labels to Windows-1252: it differs only in 0x80-0x9F,
            // which Latin-1 leaves to control characters no CSV means.
            (None, EncodingArg::Latin1) => (
                Some(Encoding::Windows1252),
                "--encoding latin-1, read as its superset Windows-1252",
            ),
            (None, EncodingArg::Auto) => (None, ""),
        };
        // NULs in the header line: UTF-16 without a BOM (a NUL in a cell is just data).
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
        let validates_utf8 = file.encoding == Encoding::Utf8;
        if let (true, Some(bad)) = (validates_utf8, &verdict.first_invalid_utf8) {
            match (encoding, &verdict.first_utf8_text) {
                (None, None) => {
                    file.encoding = Encoding::Windows1252;
                    file.encoding_reason = "the file is not valid UTF-8";
                }
                (None, Some(good)) => bail!(
                    "{shown}: the file mixes encodings: line {} is UTF-8 but line {}, column {:?} is not (save the file again in one encoding, or pass --encoding windows-1252 to read it all as Windows-1252)",
                    good,
                    bad.line,
                    bad.column(&verdict.header_names)
                ),
                (Some(_), _) => bail!(
                    "{shown} line {}, column {:?}: not valid UTF-8, although {}: the file is in another encoding; pass --encoding windows-1252 (or leave --encoding at auto), or save it as CSV UTF-8",
                    bad.line,
                    bad.column(&verdict.header_names),
                    if bom == Some(Bom::Utf8) {
                        "the file starts with a UTF-8 byte-order mark"
                    } else {
                        "--encoding utf-8 says so"
                    }
                ),
            }
        } else if encoding.is_none() {
            file.encoding_reason = "the file is valid UTF-8";
        }
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

    /// The file, decompressed, and (with `transcode`) decoded to UTF-8. A UTF-8 BOM stays in
    /// the stream (header matching ignores it); a UTF-16 one is dropped by the decoder.
    /// Either way `had_bom` remembers it.
    fn decoded_stream(&self, transcode: bool) -> anyhow::Result<Box<dyn Read + Send>> {
        let shown = self.path.display().to_string();
        let (_, stream) = open_stream(&self.source, &shown)?;
        let encoding = match (transcode, self.encoding) {
            (false, _) | (true, Encoding::Utf8) => return Ok(stream),
            (true, Encoding::Windows1252) => WINDOWS_1252,
            (true, Encoding::Utf16Le) => UTF_16LE,
            (true, Encoding::Utf16Be) => UTF_16BE,
        };
        Ok(Box::new(BufReader::with_capacity(
            256 * 1024,
            DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .bom_override(true)
                .strip_bom(true)
                .build(stream),
        )))
    }

    fn check_header(&self) -> anyhow::Result<()> {
        let shown = self.path.display();
        let headers = &self.headers;
        if headers.is_empty()
            || headers
                .iter()
                .all(|h| h.trim().trim_start_matches('\u{feff}').is_empty())
        {
            bail!("{shown}: the file is empty (no header row)");
        }
        if headers.len() == 1 {
            let h = &headers[0];
            if let Some(&other) = CANDIDATES
                .iter()
                .find(|&&c| c != self.delimiter && h.as_bytes().contains(&c))
            {
                // Auto takes the delimiter the header uses, so this is (nearly always) a flag.
                bail!(
                    "{shown}: the header is a single column {:?} with the delimiter {}, but it contains {}: pass --delimiter {} (or leave --delimiter at auto)",
                    crate::csvio::truncate(h, 80),
                    delimiter_name(self.delimiter),
                    delimiter_name(other),
                    delimiter_name(other),
                );
            }
        }
        let mut seen = std::collections::HashMap::new();
        for h in headers.iter() {
            let n = normalize_header(h);
            if n.is_empty() || n.starts_with('_') {
                continue;
            }
            let h = h.trim_start_matches('\u{feff}').trim();
            match seen.insert(n, h) {
                Some(first) if first == h => {
                    bail!("{shown}: the column {h:?} appears twice in the header")
                }
                Some(first) => bail!(
                    "{shown}: the column {first:?} appears twice in the header, also as {h:?} (headers match ignoring case and _, - and spaces): keep one"
                ),
                None => {}
            }
        }
        Ok(())
    }

    /// "Customers export 2024" on line 1 and the column names on line 2: say so, instead of
    /// calling the title an unknown column.
    fn check_title_line(&self, mut rdr: csv::Reader<Box<dyn Read + Send>>) -> anyhow::Result<()> {
        let filled = |r: &csv::StringRecord| r.iter().filter(|c| !c.trim().is_empty()).count();
        if filled(&self.headers) != 1 {
            return Ok(());
        }
        let title = self
            .headers
            .iter()
            .find(|c| !c.trim().is_empty())
            .unwrap_or("")
            .trim_start_matches('\u{feff}')
            .trim();
        if is_column_name(title) {
            return Ok(());
        }
        let mut record = csv::StringRecord::new();
        for _ in 0..5 {
            match rdr.read_record(&mut record) {
                Ok(true) => {}
                _ => return Ok(()),
            }
            match filled(&record) {
                0 | 1 => continue,
                _ => {
                    let line = record.position().map_or(2, |p| p.line());
                    let names: Vec<String> = record
                        .iter()
                        .filter(|c| !c.trim().is_empty())
                        .take(4)
                        .map(|c| format!("{:?}", c.trim()))
                        .collect();
                    bail!(
                        "{}: line 1 ({:?}) is not a header but a title: the column names seem to start on line {line} ({}, ...). Delete the line(s) above the header and run again",
                        self.path.display(),
                        crate::csvio::truncate(title, 60),
                        names.join(", ")
                    );
                }
            }
        }
        Ok(())
    }
}

/// A delimiter as `--delimiter` spells it: `tab`, `';'`.
fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".to_string(),
        d => format!("'{}'", d as char),
    }
}

/// A known column name of some row command (a one-column file of emails is no title).
fn is_column_name(h: &str) -> bool {
    let n = normalize_header(h);
    !matches!(
        crate::mapping::columns::classify(h),
        crate::mapping::columns::Column::Unknown
    ) || n == "customer_id"
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

/// The delimiter the header line uses most (outside quotes), `,` when it uses none. A line
/// with none of them (a title above the header) gives way to the next line that has one.
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let text = head.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(head);
    let mut counts = [0usize; CANDIDATES.len()];
    let mut in_quotes = false;
    let mut lines = 0;
    let mut line_start = 0;
    for (at, &b) in text.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' | b'\r' if !in_quotes => {
                if counts.iter().any(|&n| n > 0) {
                    break;
                }
                // A one-column file ("email") is comma-separated; only a title line gives
                // way to the lines below it.
                let line = String::from_utf8_lossy(&text[line_start..at]);
                if is_column_name(line.trim_matches('"')) {
                    break;
                }
                line_start = at + 1;
                lines += 1;
                if lines >= 10 {
                    break;
                }
            }
            _ if !in_quotes => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let best = (0..CANDIDATES.len())
        .rev()
        .max_by_key(|&i| counts[i])
        .filter(|&i| counts[i] > 0);
    best.map_or(b',', |i| CANDIDATES[i])
}

/// Where a field is: the line of its first byte and its column.
#[derive(Debug)]
struct Spot {
    line: u64,
    field: usize,
}

impl Spot {
    fn column(&self, names: &[String]) -> String {
        names
            .get(self.field)
            .cloned()
            .unwrap_or_else(|| format!("field {} (beyond the header)", self.field + 1))
    }
}

#[derive(Debug)]
struct UnclosedQuote {
    line: u64,
    field: usize,
    fields: usize,
}

/// What the whole-file check found.
#[derive(Debug, Default)]
struct Verdict {
    header_names: Vec<String>,
    records: u64,
    /// The first field that is not UTF-8.
    first_invalid_utf8: Option<Spot>,
    /// The first line with non-ASCII text that is valid UTF-8.
    first_utf8_text: Option<u64>,
    unclosed_quote: Option<UnclosedQuote>,
}

/// Read every record of `stream` as bytes: count them, find the first non-UTF-8 field and the
/// first UTF-8 text (to tell Windows-1252 from UTF-8), and a quote that swallows lines.
fn check_records(
    stream: Box<dyn Read + Send>,
    delimiter: u8,
    shown: &str,
) -> anyhow::Result<Verdict> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(stream);
    let mut verdict = Verdict::default();
    let mut record = csv::ByteRecord::new();
    let mut width = 0;
    let mut first = true;
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(describe_csv_error(&e, Path::new(shown))),
        }
        let start = record.position().map_or(1, |p| p.line());
        let mut line = start;
        for (i, field) in record.iter().enumerate() {
            match std::str::from_utf8(field) {
                Ok(_) => {
                    if verdict.first_utf8_text.is_none() && !field.is_ascii() {
                        verdict.first_utf8_text = Some(line);
                    }
                }
                Err(e) => {
                    if verdict.first_invalid_utf8.is_none() {
                        let before = &field[..e.valid_up_to()];
                        let at = line + before.iter().filter(|&&b| b == b'\n').count() as u64;
                        verdict.first_invalid_utf8 = Some(Spot { line: at, field: i });
                    }
                }
            }
            line += field.iter().filter(|&&b| b == b'\n').count() as u64;
        }
        if first {
            first = false;
            width = record.len();
            verdict.header_names = record
                .iter()
                .map(|h| {
                    String::from_utf8_lossy(h)
                        .trim_start_matches('\u{feff}')
                        .trim()
                        .to_string()
                })
                .collect();
            continue;
        }
        verdict.records += 1;
        let filled = (0..record.len())
            .rev()
            .find(|&i| !record[i].trim_ascii().is_empty())
            .map_or(0, |i| i + 1);
        if verdict.unclosed_quote.is_none() && (filled > width || record.len() < width) {
            if let Some(field) = record
                .iter()
                .position(|f| f.contains(&b'\n') || f.contains(&b'\r'))
            {
                verdict.unclosed_quote = Some(UnclosedQuote {
                    line: start,
                    field,
                    fields: filled.max(record.len().min(width)),
                });
            }
        }
    }
    Ok(verdict)
}

/// Header matching ignores case, surrounding spaces, a UTF-8 BOM, and the difference between
/// `_`, `-` and spaces (`First Name` = `first_name` = `first-name`): each run of them inside
/// a name is one `_`. A leading `_` (the results file's own `_row`, Magento's `_website`)
/// stays, so those columns are still told apart.
pub fn normalize_header(h: &str) -> String {
    let h = h.trim_start_matches('\u{feff}').trim().to_lowercase();
    let mut out = String::with_capacity(h.len());
    let mut chars = h.chars().peekable();
    if chars.peek() == Some(&'_') {
        out.push('_');
        while chars.peek().is_some_and(|c| is_separator(*c)) {
            chars.next();
        }
    }
    let mut pending = false;
    for c in chars {
        if is_separator(c) {
            pending = true;
        } else {
            if pending && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            pending = false;
            out.push(c);
        }
    }
    out
}

fn is_separator(c: char) -> bool {
    c == '_' || c == '-' || c.is_whitespace()
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
