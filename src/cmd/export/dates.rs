//! V2's dates (RFC-2822, `Wed, 10 Jan 2018 21:02:23 +0000`) as the ISO-8601 UTC the customer
//! file carries (`2018-01-10T21:02:23Z`), with a fast path for the shape the API always sends.

/// RFC-2822 from the API → ISO-8601 UTC; anything unparsable is passed through as sent.
#[cfg(test)]
pub fn iso_date(s: &str) -> String {
    let mut out = String::new();
    iso_date_into(s, &mut out);
    out
}

/// [`iso_date`] into a reused buffer (two dates per row: no allocation each).
pub(super) fn iso_date_into(s: &str, out: &mut String) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
}
