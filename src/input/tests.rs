//! Unit tests of `input` (a child module, so private items stay reachable).

use super::check::Verdict;
use super::*;

#[test]
fn headers_match_across_separators() {
    assert_eq!(normalize_header(" First Name "), "first_name");
    assert_eq!(normalize_header("first-name"), "first_name");
    assert_eq!(normalize_header("FIRST__NAME"), "first_name");
    assert_eq!(normalize_header("\u{feff}Email"), "email");
    assert_eq!(normalize_header("_row"), "_row");
    assert_eq!(normalize_header("_address_street"), "_address_street");
    assert_eq!(normalize_header("Address Line 1 - 1"), "address_line_1_1");
    assert_eq!(normalize_header("E-mail"), "e_mail");
    assert_eq!(normalize_header(""), "");
}

#[test]
fn delimiter_is_sniffed_from_the_header_line() {
    assert_eq!(sniff_delimiter(b"email,first_name\na;b\n"), b',');
    assert_eq!(
        sniff_delimiter(b"email;first_name;last_name\n1,2;3\n"),
        b';'
    );
    assert_eq!(sniff_delimiter(b"\xef\xbb\xbfemail\tfirst_name\n"), b'\t');
    assert_eq!(sniff_delimiter(b"email|first_name\n"), b'|');
    // Quoted delimiters do not count.
    assert_eq!(sniff_delimiter(b"\"a,b,c\";x;y\n"), b';');
    // A title line without delimiters gives way to the header below it.
    assert_eq!(
        sniff_delimiter(b"Customers export 2024\nemail;name\n"),
        b';'
    );
    assert_eq!(sniff_delimiter(b"email\na@b.co\n"), b',');
    // One column: the cells below are not asked (a ';' in an email list is data).
    assert_eq!(sniff_delimiter(b"email\nx;y@b.co\n"), b',');
}

fn verdict(bytes: &'static [u8]) -> Verdict {
    check_records(Box::new(bytes), b',', "x.csv").unwrap()
}

#[test]
fn the_check_counts_lines_as_an_editor_does() {
    // A two-line cell on lines 2-3, then a Windows-1252 "é" on line 5.
    let v = verdict(b"email,notes\na@b.co,\"one\ntwo\"\nc@d.co,x\ne@f.co,Ren\xe9\n");
    assert_eq!(v.records, 3);
    let bad = v.first_invalid_utf8.unwrap();
    assert_eq!((bad.line, bad.field), (5, 1));
    assert_eq!(bad.column(&v.header_names), "notes");
    assert!(v.first_utf8_text.is_none() && v.unclosed_quote.is_none());
    // A byte inside a multi-line cell is on the line where it is.
    let bad = verdict(b"a,b\n1,\"x\ny\nz\xff\"\n")
        .first_invalid_utf8
        .unwrap();
    assert_eq!(bad.line, 4);
    // Valid UTF-8 text is noticed (to refuse files that mix encodings).
    assert_eq!(
        verdict("a,b\n1,2\n3,Zoë\n".as_bytes()).first_utf8_text,
        Some(3)
    );
}

#[test]
fn an_unclosed_quote_is_found_where_it_opens() {
    let v = verdict(b"email,first,last\na@b.co,A,B\nc@d.co,\"C,D\ne@f.co,E,F\n");
    let q = v.unclosed_quote.unwrap();
    assert_eq!((q.line, q.field), (3, 1));
    // A multi-line cell in a row of the right width is ordinary data.
    assert!(verdict(b"a,b\n1,\"x\ny\"\n").unclosed_quote.is_none());
    // Empty cells past the header (Excel's leftovers) are not a wrong width.
    assert!(verdict(b"a,b\n1,\"x\ny\",,,\n").unclosed_quote.is_none());
}

#[test]
fn delimiter_flag_values() {
    assert_eq!(parse_delimiter("tab").unwrap(), DelimiterArg(Some(b'\t')));
    assert_eq!(parse_delimiter(";").unwrap(), DelimiterArg(Some(b';')));
    assert_eq!(parse_delimiter("auto").unwrap(), DelimiterArg(None));
    assert!(parse_delimiter(":").is_err());
}

#[test]
fn utf16_without_a_bom_is_told_by_its_header_nuls() {
    use super::encoding::sniff_utf16;
    let be = |t: &str| -> Vec<u8> { t.encode_utf16().flat_map(u16::to_be_bytes).collect() };
    let le = |t: &str| -> Vec<u8> { t.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    assert_eq!(sniff_utf16(&be("email,name\r\nx")), Some(Encoding::Utf16Be));
    assert_eq!(sniff_utf16(&le("email,name\r\nx")), Some(Encoding::Utf16Le));
    assert_eq!(sniff_utf16(&be("id")), Some(Encoding::Utf16Be));
    // Only the header line counts: cells below may be any script.
    assert_eq!(
        sniff_utf16(&le("email\n민준민준민준")),
        Some(Encoding::Utf16Le)
    );
    // A header beyond Latin-1 still shows the pattern in its delimiters and ASCII names.
    assert_eq!(sniff_utf16(&be("Имя,email")), Some(Encoding::Utf16Be));
    // UTF-8, Windows-1252: no NULs, nothing said.
    assert_eq!(sniff_utf16("email,prénom\n".as_bytes()), None);
    assert_eq!(sniff_utf16(b"email,pr\xe9nom\n"), None);
    assert_eq!(sniff_utf16(b""), None);
    assert_eq!(sniff_utf16(b"e"), None);
    // NULs on both sides, or a pair of them, are not UTF-16 text.
    assert_eq!(sniff_utf16(b"e\0\0m"), None);
    assert_eq!(sniff_utf16(b"em\0\0ail,"), None);
    // Mostly not the pattern: not said.
    assert_eq!(sniff_utf16(&be("Имяфамилия,")), None);
}
