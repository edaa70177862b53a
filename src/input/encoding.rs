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
    /// UTF-8 (with or without a BOM), UTF-16 with a BOM or with the NUL bytes of UTF-16 in
    /// its header line, else Windows-1252.
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
    /// UTF-16; a BOM says which byte order, else the NUL bytes of the header line, else
    /// little-endian (Excel's "Unicode Text").
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

    /// The WHATWG label, lower case, as `--summary-json` gives it (`utf-8`, `windows-1252`,
    /// `utf-16le`, `utf-16be`): the form a program compares, where [`Encoding::name`] is the
    /// one a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
            Encoding::Utf16Le => "utf-16le",
            Encoding::Utf16Be => "utf-16be",
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

/// UTF-16 without a byte-order mark, told by where the NUL bytes of its header line fall
/// (`head`: the file's first bytes). Column names are ASCII, and an ASCII character in UTF-16
/// is one zero byte and one other: the zero first in big-endian (`\0e\0m`), second in
/// little-endian (`e\0m\0`). A file in UTF-8 or a one-byte encoding has no NULs there. A
/// header with characters beyond Latin-1 (no zero byte in them) still counts when at least
/// half of its characters show the pattern and none shows the other one; anything else is
/// not told apart here (the caller refuses a header with NULs it cannot place).
pub(super) fn sniff_utf16(head: &[u8]) -> Option<Encoding> {
    let line_end = |u: &&[u8]| matches!(u, [0, b'\n' | b'\r'] | [b'\n' | b'\r', 0]);
    let (mut units, mut le, mut be) = (0usize, 0usize, 0usize);
    // 256 code units are more than any header needs to show its pattern.
    for unit in head.chunks_exact(2).take(256).take_while(|u| !line_end(u)) {
        units += 1;
        match unit {
            [0, 0] => return None,
            [_, 0] => le += 1,
            [0, _] => be += 1,
            _ => {}
        }
    }
    match (le, be) {
        _ if units < 2 => None,
        (n, 0) if n * 2 >= units => Some(Encoding::Utf16Le),
        (0, n) if n * 2 >= units => Some(Encoding::Utf16Be),
        _ => None,
    }
}

/// The encoding the byte-order mark, `--encoding` or the NUL bytes of UTF-16 in the header
/// line (`head`, the file's first bytes) settle before the file is read, and why (for the
/// summary); `None` when `auto` leaves it to the whole-file check.
pub(super) fn settle(
    bom: Option<Bom>,
    arg: EncodingArg,
    head: &[u8],
) -> (Option<Encoding>, &'static str) {
    match (bom, arg) {
        // A byte-order mark is unambiguous, and wins over the flag (as in the WHATWG
        // decode algorithm): "ÿþ" is never how a real CSV starts.
        (Some(Bom::Utf16Le), _) => (Some(Encoding::Utf16Le), "by its byte-order mark"),
        (Some(Bom::Utf16Be), _) => (Some(Encoding::Utf16Be), "by its byte-order mark"),
        (Some(Bom::Utf8), _) => (Some(Encoding::Utf8), "by its byte-order mark"),
        // Without a BOM, the header's NULs say which byte order; Excel's "Unicode Text" (LE)
        // when they cannot.
        (None, EncodingArg::Utf16) => match sniff_utf16(head) {
            Some(Encoding::Utf16Be) => (
                Some(Encoding::Utf16Be),
                "as --encoding says, big-endian by the NUL bytes of its header line",
            ),
            _ => (Some(Encoding::Utf16Le), "as --encoding says"),
        },
        (None, EncodingArg::Utf8) => (Some(Encoding::Utf8), "as --encoding says"),
        (None, EncodingArg::Windows1252) => (Some(Encoding::Windows1252), "as --encoding says"),
        // WHATWG maps the latin-1 labels to Windows-1252: it differs only in 0x80-0x9F,
        // which Latin-1 leaves to control characters no CSV means.
        (None, EncodingArg::Latin1) => (
            Some(Encoding::Windows1252),
            "--encoding latin-1, read as its superset Windows-1252",
        ),
        // No text in UTF-8 or a one-byte encoding has a NUL in every other byte of its header,
        // so the pattern is UTF-16 whichever way the bytes run.
        (None, EncodingArg::Auto) => match sniff_utf16(head) {
            Some(e) => (
                Some(e),
                "no byte-order mark: by the NUL bytes of its header line",
            ),
            None => (None, ""),
        },
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
