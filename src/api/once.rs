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
pub async fn create<T, C, CF, F, FF>(client: &Client, create: C, find: F) -> Result<T, ApiError>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, ApiError>>,
    F: FnMut() -> FF,
    FF: Future<Output = Result<Option<T>, ApiError>>,
{
    create_within(client, client.max_retries(), create, find).await
}

/// [`create`] with an explicit repeat budget (`cmd::import` passes its own `--max-retries`).
pub async fn create_within<T, C, CF, F, FF>(
    client: &Client,
    max_retries: u32,
    create: C,
    mut find: F,
) -> Result<T, ApiError>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, ApiError>>,
    F: FnMut() -> FF,
    FF: Future<Output = Result<Option<T>, ApiError>>,
{
    write_once(
        client,
        max_retries,
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
