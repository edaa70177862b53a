//! Query strings of the V3 routes: form decoding, the `encoded` values the date filters refuse,
//! comma lists, ids, dates, paging, and what `include=` asks to embed (reference/bigcommerce-v3.md §4).

use std::collections::HashSet;

use hyper::StatusCode;

use super::super::handlers::{self, Reply};
use super::{error, invalid_filters, V3Options, DEFAULT_LIMIT, MAX_LIMIT};

/// Decoded query parameters. `+` decodes to a space, as form decoding does: an email with a
/// `+` must be sent as `%2B` (§4).
pub(super) struct Query {
    pub(super) pairs: Vec<(String, String)>,
    /// Keys whose value arrived percent-encoded.
    pub(super) encoded: HashSet<String>,
    pub(super) refuse_encoded_dates: bool,
    pub(super) exclusive_date_bounds: bool,
}

impl Query {
    pub(super) fn parse(raw: &str, options: &V3Options) -> Query {
        let mut encoded = HashSet::new();
        for part in raw.split('&') {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            if value.contains('%') {
                let key = url::form_urlencoded::parse(key.as_bytes())
                    .next()
                    .map(|(k, _)| k.into_owned())
                    .unwrap_or_default();
                encoded.insert(key);
            }
        }
        Query {
            pairs: url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
            encoded,
            refuse_encoded_dates: options.refuse_encoded_dates,
            exclusive_date_bounds: options.exclusive_date_bounds,
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// 422 naming every parameter not in `known`.
    pub(super) fn only(&self, known: &[&str]) -> Result<(), Reply> {
        let unknown: Vec<&str> = self
            .pairs
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !known.contains(k))
            .collect();
        match unknown.is_empty() {
            true => Ok(()),
            false => Err(invalid_filters(&unknown)),
        }
    }

    /// A comma list (`explode: false`, §4); `None` when absent.
    pub(super) fn list(&self, key: &str) -> Option<Vec<String>> {
        self.get(key).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
    }

    pub(super) fn ids(&self, key: &str) -> Result<Option<Vec<u64>>, Reply> {
        match self.list(key) {
            None => Ok(None),
            Some(items) => items
                .iter()
                .map(|s| s.parse::<u64>())
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
                .map_err(|_| invalid_filters(&[key])),
        }
    }

    pub(super) fn date(&self, key: &str) -> Result<Option<i64>, Reply> {
        match self.get(key) {
            None => Ok(None),
            // "2024-10-19T20%3A00%3A00-0400 won't work, one must use 2024-10-19T20:00:00-0400"
            // (§4, bigcommerce/docs issue #620); the parameter *name* may be encoded.
            Some(_) if self.refuse_encoded_dates && self.encoded.contains(key) => {
                Err(invalid_filters(&[key]))
            }
            Some(v) => {
                // Unix seconds too: other V3 date filters take them (§4).
                let parsed = v.parse::<i64>().ok().or_else(|| handlers::parse_date(v));
                parsed.map(Some).ok_or_else(|| invalid_filters(&[key]))
            }
        }
    }

    /// `(page, limit)`: limit 1..=250, 413 above like V2 (§4: V3's maximum is unverified).
    pub(super) fn paging(&self) -> Result<(usize, usize), Reply> {
        let number = |key: &str, default: usize| match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| invalid_filters(&[key])),
        };
        let page = number("page", 1)?;
        let limit = number("limit", DEFAULT_LIMIT)?;
        if limit > MAX_LIMIT {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("The limit parameter exceeded the maximum of {MAX_LIMIT}."),
            ));
        }
        Ok((page, limit))
    }
}

/// What `include=` asks to embed.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Includes {
    pub(super) addresses: bool,
    pub(super) storecredit: bool,
    pub(super) formfields: bool,
    pub(super) attributes: bool,
}

impl Includes {
    pub(super) fn parse(q: &Query) -> Result<Includes, Reply> {
        let mut inc = Includes::default();
        for item in q.list("include").unwrap_or_default() {
            match item.as_str() {
                "addresses" => inc.addresses = true,
                "storecredit" => inc.storecredit = true,
                "formfields" => inc.formfields = true,
                "attributes" => inc.attributes = true,
                // Beta includes (§4) with nothing behind them in the sandbox.
                "shopper_profile_id" | "segment_ids" => {}
                _ => {
                    return Err(error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &format!("The include value {item} is not valid."),
                    ))
                }
            }
        }
        Ok(inc)
    }

    /// What a write's answer embeds: a create's answer carries `store_credit_amounts`
    /// without an include (§13, JH `bulk_create/201.json`), and the addresses just written.
    pub(super) fn of_writes() -> Includes {
        Includes {
            addresses: true,
            storecredit: true,
            formfields: true,
            attributes: false,
        }
    }
}
