//! Encodings: `--encoding`, the byte-order mark, settling UTF-8 against Windows-1252 from the
//! whole-file check, and the transcoding reader.

use std::io::{BufReader, Read};

use anyhow::bail;
use encoding_rs::{UTF_16BE, UTF_16LE, WINDOWS_1252};
use encoding_rs_io::DecodeReaderBytesBuilder;

use super::check::Verdict;
use super::{open_stream, InputFile};

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
pub(super) enum Bom {
    Utf8,
    Utf16Le,
    Utf16Be,
}

pub(super) fn sniff_bom(head: &[u8]) -> Option<Bom> {
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

/// The encoding the byte-order mark or `--encoding` settles before the file is read, and why
/// (for the summary); `None` when `auto` leaves it to the whole-file check.
pub(super) fn settle(bom: Option<Bom>, arg: EncodingArg) -> (Option<Encoding>, &'static str) {
    match (bom, arg) {
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
    }
}

impl InputFile {
    /// Decide between UTF-8 and Windows-1252 from what the check saw: `auto` falls back to
    /// Windows-1252 for a file that is not UTF-8 anywhere, and refuses one that mixes both;
    /// a file that a BOM or the flag calls UTF-8 must be UTF-8 throughout.
    pub(super) fn settle_utf8(
        &mut self,
        settled: Option<Encoding>,
        bom: Option<Bom>,
        verdict: &Verdict,
    ) -> anyhow::Result<()> {
        let shown = self.path.display();
        let validates_utf8 = self.encoding == Encoding::Utf8;
        if let (true, Some(bad)) = (validates_utf8, &verdict.first_invalid_utf8) {
            match (settled, &verdict.first_utf8_text) {
                (None, None) => {
                    self.encoding = Encoding::Windows1252;
                    self.encoding_reason = "the file is not valid UTF-8";
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
        } else if settled.is_none() {
            self.encoding_reason = "the file is valid UTF-8";
        }
        Ok(())
    }

    /// The file, decompressed, and (with `transcode`) decoded to UTF-8. A UTF-8 BOM stays in
    /// the stream (header matching ignores it); a UTF-16 one is dropped by the decoder.
    /// Either way `had_bom` remembers it.
    pub(super) fn decoded_stream(&self, transcode: bool) -> anyhow::Result<Box<dyn Read + Send>> {
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
}
