//! The store's clock: the `Date` header of its answers, kept as the latest one seen, so a
//! reconciled create can tell a customer created before it was sent by the store's own time
//! (`api::once::claim`), whatever this machine's clock says.
//!
//! Best effort: a missing, unparsable or implausible `Date` is ignored (the clock keeps what
//! it had, or stays unknown), and an unknown clock only turns that check off.

use std::sync::atomic::{AtomicI64, Ordering};

use reqwest::header::HeaderMap;

/// "Unknown": no usable `Date` seen yet. No accepted value can equal it (see [`PLAUSIBLE_SECS`]).
const UNKNOWN: i64 = i64::MIN;

/// A `Date` further than this from this machine's clock is not believed. The check compares
/// the store's `Date` with the store's `date_created`, so this machine's clock only screens
/// out nonsense: a far-future `Date` (year 9999) would make every reconciled create look
/// older than its own send, and fail rows the run did create. A day is wider than any time
/// zone mistake a machine's clock makes (±14 h), so a merely misset clock keeps the check.
const PLAUSIBLE_SECS: i64 = 24 * 3600;

/// The latest plausible `Date` a reply carried, in Unix seconds.
#[derive(Debug)]
pub struct StoreClock {
    latest: AtomicI64,
}

impl Default for StoreClock {
    fn default() -> Self {
        StoreClock {
            latest: AtomicI64::new(UNKNOWN),
        }
    }
}

impl StoreClock {
    /// Remember the `Date` of one answer (any status: a 429 or a 5xx also tells the time).
    /// The latest replaces the earlier, not the greatest: a single bad value is forgotten at
    /// the next answer instead of holding the clock for the rest of the run.
    pub fn record(&self, headers: &HeaderMap) {
        let Some(value) = headers.get(reqwest::header::DATE) else {
            return;
        };
        let Ok(text) = value.to_str() else { return };
        self.record_text(text, chrono::Utc::now().timestamp());
    }

    /// [`StoreClock::record`] of a header's text, with this machine's time `local_now`.
    pub fn record_text(&self, text: &str, local_now: i64) {
        if let Some(t) = parse_http_date(text) {
            if t.abs_diff(local_now) <= PLAUSIBLE_SECS as u64 {
                self.latest.store(t, Ordering::Relaxed);
            }
        }
    }

    /// The latest `Date` seen, in Unix seconds; `None` before the first usable one.
    pub fn latest(&self) -> Option<i64> {
        Some(self.latest.load(Ordering::Relaxed)).filter(|&t| t != UNKNOWN)
    }
}

/// An HTTP-date (RFC 7231 §7.1.1.1) in Unix seconds. Senders must use the IMF-fixdate
/// `Sun, 06 Nov 1994 08:49:37 GMT`, an RFC 5322 date that chrono's RFC-2822 parser reads;
/// recipients must also accept the obsolete RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and
/// asctime (`Sun Nov  6 08:49:37 1994`) forms. Anything else is `None`.
pub fn parse_http_date(text: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDateTime};
    let text = text.trim();
    // The three forms are under 40 characters; a longer value is not a date.
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(text) {
        return Some(t.timestamp());
    }
    let naive = |format: &str| NaiveDateTime::parse_from_str(text, format).ok();
    naive("%A, %d-%b-%y %H:%M:%S GMT")
        .or_else(|| naive("%a %b %e %H:%M:%S %Y"))
        .map(|t| t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01T17:16:10Z.
    const T: i64 = 1_796_145_370;

    #[test]
    fn the_three_http_date_forms_parse() {
        assert_eq!(parse_http_date("Tue, 01 Dec 2026 17:16:10 GMT"), Some(T));
        assert_eq!(parse_http_date("Tuesday, 01-Dec-26 17:16:10 GMT"), Some(T));
        assert_eq!(parse_http_date("Tue Dec  1 17:16:10 2026"), Some(T));
        assert_eq!(
            parse_http_date(" Tue, 01 Dec 2026 17:16:10 +0000 "),
            Some(T)
        );
    }

    #[test]
    fn garbage_is_no_date() {
        for text in [
            "",
            "yesterday",
            "Tue, 01 Dec 2026 25:16:10 GMT",
            "Tue, 32 Dec 2026 17:16:10 GMT",
            "1796145370",
            "Tue, 01 Dec 99999999 17:16:10 GMT",
            &"Tue, 01 Dec 2026 17:16:10 GMT".repeat(10),
            "\u{0}\u{7f}",
        ] {
            assert_eq!(parse_http_date(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_clock_keeps_the_latest_plausible_date() {
        let clock = StoreClock::default();
        assert_eq!(clock.latest(), None, "nothing seen yet");
        clock.record(&HeaderMap::new());
        assert_eq!(clock.latest(), None, "no Date header");
        clock.record_text("Tue, 01 Dec 2026 17:16:10 GMT", T + 3);
        assert_eq!(clock.latest(), Some(T));
        clock.record_text("not a date", T + 3);
        assert_eq!(clock.latest(), Some(T), "garbage is ignored");
        clock.record_text("Fri, 31 Dec 9999 23:59:59 GMT", T + 3);
        assert_eq!(clock.latest(), Some(T), "a far-future Date is not believed");
        clock.record_text("Thu, 01 Jan 1970 00:00:00 GMT", T + 3);
        assert_eq!(clock.latest(), Some(T), "nor a far-past one");
        clock.record_text("Tue, 01 Dec 2026 17:16:09 GMT", T + 3);
        assert_eq!(clock.latest(), Some(T - 1), "the latest, not the greatest");
    }

    #[test]
    fn a_real_header_map_is_read() {
        let clock = StoreClock::default();
        let mut headers = HeaderMap::new();
        let now = chrono::Utc::now();
        let text = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        headers.insert(reqwest::header::DATE, text.parse().unwrap());
        clock.record(&headers);
        assert_eq!(clock.latest(), Some(now.timestamp()));
    }

    /// The sandbox's answers carry hyper's `Date`, which the client keeps, and its
    /// `date_created` comes from the same system clock: a customer created after the clock
    /// was read is not dated before it (what the reconciliation tests rely on).
    #[tokio::test]
    async fn the_sandbox_date_is_kept_and_agrees_with_its_date_created() {
        use crate::sandbox::{Sandbox, SandboxConfig};
        let sb = Sandbox::start(SandboxConfig::default(), 0).await.unwrap();
        let client = sb.client(1, 0);
        assert_eq!(client.store_clock(), None, "nothing answered yet");
        client.get_v3("/customers", "limit=1").await.unwrap();
        let clock = client.store_clock().expect("the sandbox sends a Date");
        assert!(
            clock.abs_diff(chrono::Utc::now().timestamp()) <= 2,
            "{clock}"
        );
        let body =
            serde_json::json!({"email": "a@example.com", "first_name": "A", "last_name": "B"});
        let created = client.create_customer(&body).await.unwrap();
        let at = chrono::DateTime::parse_from_rfc2822(&created.date_created)
            .unwrap()
            .timestamp();
        assert!(at >= clock, "created {at}, clock {clock}");
    }
}
