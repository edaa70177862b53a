//! Writing exactly once over an unreliable connection: the one policy for every write whose
//! repeat is not harmless (creating a customer, an address or a group; deleting a customer).
//!
//! A write whose answer never arrived, or that failed with a 5xx, may still have happened.
//! The transport ([`Client::send`] with `idempotent = false`) therefore hands such a failure
//! back instead of repeating it, and [`write_once`] decides what the repeat is: before each
//! one it asks `settle` whether the lost attempt's effect is already there (a create looks the
//! record up; a delete has nothing to look up, its repeat tells). A refusal *after* such an
//! attempt can be our own earlier attempt's effect (an email or name now taken, a customer
//! now gone), so it is settled the same way instead of being reported as the row's failure.
//! Which status a store gives a duplicate email is undocumented (409 is likely, 400 or 422
//! plausible), so any 4xx that could be one is checked, not only 409.
//!
//! The repeats are counted in the client's retries and bounded by its `--max-retries`.
//!
//! A customer the lookup finds is the lost create's only if it could be ([`claim`]): it has
//! the names sent, and the store did not create it before this run's create was sent (its
//! `date_created` against the store's own clock, the `Date` of its answers). Anything else
//! is someone else's customer holding the email, and the row fails naming it.

use std::future::Future;

use super::client::{backoff, Client};
use super::error::ApiError;

/// Run `send` until it succeeds. After a failure that may mean an earlier attempt was applied
/// (ambiguous, or `ours(&err)` once an attempt may have been), `settle(&err)` says whether the
/// write is done (`Some`: that is the result) before the next attempt. At most `max_retries`
/// repeats, each counted in `client`'s retries.
pub async fn write_once<T, S, SF, F, FF>(
    client: &Client,
    max_retries: u32,
    mut send: S,
    ours: impl Fn(&ApiError) -> bool,
    mut settle: F,
) -> Result<T, ApiError>
where
    S: FnMut() -> SF,
    SF: Future<Output = Result<T, ApiError>>,
    F: FnMut(&ApiError) -> FF,
    FF: Future<Output = Result<Option<T>, ApiError>>,
{
    let mut attempt = 0;
    let mut maybe_done = false;
    loop {
        match send().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_ambiguous() || (maybe_done && ours(&e)) => {
                maybe_done = true;
                if let Some(v) = settle(&e).await? {
                    return Ok(v);
                }
                attempt += 1;
                if attempt > max_retries {
                    return Err(e);
                }
                // Counted like the client's own retries, so the summary shows every re-send.
                client.count_retry();
                tokio::time::sleep(backoff(attempt, true)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A create (`POST`): after an ambiguous failure, or a duplicate-like refusal that follows
/// one, `find` looks for what the lost attempt would have made; found, that is the result.
pub async fn create<T, C, CF, F, FF>(client: &Client, create: C, mut find: F) -> Result<T, ApiError>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, ApiError>>,
    F: FnMut() -> FF,
    FF: Future<Output = Result<Option<T>, ApiError>>,
{
    write_once(
        client,
        client.max_retries(),
        create,
        ApiError::may_be_duplicate,
        |_| find(),
    )
    .await
}

/// What a `DELETE` of one customer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The store said so.
    Yes,
    /// An earlier attempt's answer was lost and a repeat got 404: that attempt deleted it.
    AnswerLost,
    /// 404 on the first attempt: there was no such customer.
    NotFound,
}

/// How much earlier than the store's clock a found customer may have been created and still
/// be this run's create. The clock is the `Date` of an answer that arrived before the create
/// was sent, so the create's own `date_created` is later by the store's time, were both read
/// from one exact clock. They are not: both have whole seconds (a store that rounds instead
/// of truncating is up to 1 s ahead), and the `Date` may come from a front server whose
/// clock differs from the database's that stamps `date_created` (NTP keeps machines well
/// within a second). 2 s covers one second of each; a customer created earlier than that
/// cannot be a create sent after the clock was read.
pub const CLOCK_SLACK_SECS: i64 = 2;

/// What a reconciled create sent: the names, and the store's clock just before the first
/// attempt ([`Client::store_clock`]; `None` when the store had sent no usable `Date`).
#[derive(Debug, Clone, Copy)]
pub struct Sent<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub clock: Option<i64>,
}

impl<'a> Sent<'a> {
    /// The names of a create's JSON body (V2's and V3's both name them `first_name` and
    /// `last_name`; a missing one is empty), with the store's `clock` before its first send.
    pub fn of_body(body: &'a serde_json::Value, clock: Option<i64>) -> Sent<'a> {
        let text = |key: &str| {
            body.get(key)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
        };
        Sent {
            first_name: text("first_name"),
            last_name: text("last_name"),
            clock,
        }
    }
}

/// A customer the reconciling lookup found with the create's email.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    /// As the store sent it: ISO-8601 from V3, RFC-2822 from V2.
    pub date_created: &'a str,
}

/// Whether a found customer is the lost create's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Ours,
    /// Another client's: its names are not the ones sent.
    OtherNames,
    /// Created at this time (Unix seconds) by the store's clock, before this run's create
    /// was sent: another client's, even with the same names.
    Earlier(i64),
}

impl Claim {
    /// The row's failure for a customer that is not ours (`None` for ours).
    pub fn refusal(self, id: u64) -> Option<String> {
        match self {
            Claim::Ours => None,
            Claim::OtherNames => Some(format!(
                "email already used by customer #{id} (not this run's: its name is not the one sent)"
            )),
            Claim::Earlier(at) => Some(format!(
                "email already used by customer #{id} (created {}, before this run's create was sent)",
                store_time_text(at)
            )),
        }
    }
}

/// A store time (Unix seconds) as messages show it: ISO-8601 UTC, or the number when it is
/// out of range.
pub fn store_time_text(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0).map_or_else(
        || at.to_string(),
        |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// Is `found` the customer this create made? Only with the names sent (compared trimmed,
/// without ASCII case), and only if the store did not create it more than
/// [`CLOCK_SLACK_SECS`] before its clock read just before the create was first sent. Best
/// effort: with no clock (no `Date` seen) or a `date_created` that does not parse, the names
/// alone decide, as they did before the clock was kept; a customer created with the same
/// names within the slack of the send (a race with another client) is taken as ours.
pub fn claim(sent: &Sent, found: &Found) -> Claim {
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    if !(same(found.first_name, sent.first_name) && same(found.last_name, sent.last_name)) {
        return Claim::OtherNames;
    }
    match (sent.clock, store_time(found.date_created)) {
        (Some(clock), Some(created)) if created < clock.saturating_sub(CLOCK_SLACK_SECS) => {
            Claim::Earlier(created)
        }
        _ => Claim::Ours,
    }
}

/// A customer's `date_created` in Unix seconds: V3's ISO-8601 (`2023-01-30T00:49:10Z`,
/// `…+00:00`) or V2's RFC-2822 (`Wed, 10 Jan 2018 21:02:23 +0000`); `None` for anything else.
fn store_time(text: &str) -> Option<i64> {
    let text = text.trim();
    chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|_| chrono::DateTime::parse_from_rfc2822(text))
        .ok()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01T17:16:10Z, the store's clock before the send.
    const CLOCK: i64 = 1_796_145_370;

    fn sent(clock: Option<i64>) -> Sent<'static> {
        Sent {
            first_name: "Ann",
            last_name: "Lee",
            clock,
        }
    }

    fn found(first: &'static str, date_created: &'static str) -> Found<'static> {
        Found {
            first_name: first,
            last_name: "Lee",
            date_created,
        }
    }

    #[test]
    fn a_customer_created_before_the_send_is_not_ours() {
        for old in ["2020-01-30T00:49:10Z", "Thu, 30 Jan 2020 00:49:10 +0000"] {
            let c = claim(&sent(Some(CLOCK)), &found("Ann", old));
            assert_eq!(c, Claim::Earlier(1_580_345_350), "{old}");
            let why = c.refusal(7).unwrap();
            assert!(
                why.contains("#7") && why.contains("2020-01-30T00:49:10Z"),
                "{why}"
            );
            assert!(why.contains("before this run's create was sent"), "{why}");
        }
        // Just outside the slack: 3 s before the clock (ISO with an offset, as V3 may send).
        let c = claim(
            &sent(Some(CLOCK)),
            &found("Ann", "2026-12-01T19:16:07+02:00"),
        );
        assert_eq!(c, Claim::Earlier(CLOCK - 3));
    }

    #[test]
    fn a_customer_created_after_the_clock_or_within_the_slack_is_ours() {
        for at in [
            "2026-12-01T17:16:08Z",
            "2026-12-01T17:16:10Z",
            "Tue, 01 Dec 2026 17:16:11 +0000",
            "2026-12-01T17:20:00Z",
        ] {
            assert_eq!(
                claim(&sent(Some(CLOCK)), &found(" ann ", at)),
                Claim::Ours,
                "{at}"
            );
        }
    }

    #[test]
    fn other_names_are_never_ours_clock_or_not() {
        for clock in [None, Some(CLOCK)] {
            let c = claim(&sent(clock), &found("Bob", "2026-12-01T17:20:00Z"));
            assert_eq!(c, Claim::OtherNames);
            assert!(c.refusal(7).unwrap().contains("#7"));
        }
    }

    #[test]
    fn without_a_clock_or_a_readable_date_the_names_decide() {
        assert_eq!(
            claim(&sent(None), &found("Ann", "2020-01-30T00:49:10Z")),
            Claim::Ours
        );
        for garbage in [
            "",
            "yesterday",
            "0000-00-00 00:00:00",
            "2020-13-45T99:00:00Z",
        ] {
            assert_eq!(
                claim(&sent(Some(CLOCK)), &found("Ann", garbage)),
                Claim::Ours,
                "{garbage:?}"
            );
        }
        assert_eq!(Claim::Ours.refusal(7), None);
    }

    #[test]
    fn extreme_clocks_never_panic() {
        for clock in [i64::MIN, i64::MIN + 1, 0, i64::MAX] {
            let _ = claim(&sent(Some(clock)), &found("Ann", "2020-01-30T00:49:10Z"));
        }
        assert!(Claim::Earlier(i64::MIN).refusal(1).is_some());
    }
}
