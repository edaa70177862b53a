//! V2 query strings (first of repeated keys wins, unknown keys ignored), paging, and the
//! date and amount forms the API accepts.

use hyper::StatusCode;
use serde_json::{json, Value};

use super::fields::invalid;
use super::Reply;

pub(super) const MAX_LIMIT: u64 = 250;
pub(super) const DEFAULT_LIMIT: u64 = 50;

/// Query parameters, decoded; the first of repeated keys wins; unknown keys are ignored.
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn parse(raw: &str) -> Query {
        Query(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn parsed<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, Reply> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| invalid(key)),
        }
    }

    pub(super) fn date(&self, key: &str) -> Result<Option<i64>, Reply> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_date(v).map(Some).ok_or_else(|| invalid(key)),
        }
    }

    pub(super) fn text(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_string)
    }

    pub(super) fn boolean(&self, key: &str) -> Result<Option<bool>, Reply> {
        match self.get(key) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(_) => Err(invalid(key)),
        }
    }

    /// `page` (1-based, default 1) and `limit` (default 50, max 250 → 413).
    pub(super) fn paging(&self) -> Result<(usize, usize), Reply> {
        let limit = match self.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(limit) if limit > MAX_LIMIT => {
                    return Err(Reply::error_with(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "The specified limit exceeds the maximum allowed.",
                        json!({ "max_limit": MAX_LIMIT }),
                    ))
                }
                Ok(limit) if limit >= 1 => limit,
                _ => return Err(invalid("limit")),
            },
        };
        let page = match self.get("page") {
            None => 1,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(page) if page >= 1 => page,
                _ => return Err(invalid("page")),
            },
        };
        Ok((usize::try_from(page).unwrap_or(usize::MAX), limit as usize))
    }
}

/// Accept RFC-2822 (`Thu, 20 Apr 2017 11:32:00 -0400`), ISO-8601 / RFC-3339 with or without
/// an offset (no offset = UTC), and a plain `YYYY-MM-DD` (midnight UTC). Unix seconds.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc2822(text) {
        return Some(t.timestamp());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.timestamp());
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// A non-negative amount given as a number or a decimal string, in ten-thousandths.
pub(crate) fn parse_credit(value: &Value) -> Result<i64, ()> {
    let amount = match value {
        Value::Number(n) => n.as_f64().ok_or(())?,
        Value::String(s) if !s.trim().is_empty() => s.trim().parse::<f64>().map_err(|_| ())?,
        _ => return Err(()),
    };
    if !amount.is_finite() || !(0.0..=1e12).contains(&amount) {
        return Err(());
    }
    Ok((amount * 10_000.0).round() as i64)
}
