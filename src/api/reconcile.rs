//! Creating something exactly once over an unreliable connection.
//!
//! A create (`POST`) whose answer never arrived, or that failed with a 5xx, may still have
//! happened. Sending it again blindly could create a second customer, address or group, so
//! before every repeat we look for what the lost request would have made. A refusal after such
//! an ambiguous attempt can mean our own earlier attempt took the name or email: look it up
//! too. Which status a store gives a duplicate email is undocumented (409 is likely, 400 or
//! 422 plausible), so any 4xx that could be one is checked, not only 409.

use std::future::Future;

use super::client::{backoff, Client};
use super::error::ApiError;

/// Run `create` until it succeeds; after an ambiguous failure, `find` looks for the record
/// first and, when it is there, that is the result. At most `max_retries` repeats, each
/// counted in `client`'s retries.
pub async fn create_once<T, C, CF, F, FF>(
    client: &Client,
    max_retries: u32,
    mut create: C,
    mut find: F,
) -> Result<T, ApiError>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, ApiError>>,
    F: FnMut() -> FF,
    FF: Future<Output = Result<Option<T>, ApiError>>,
{
    let mut attempt = 0;
    let mut maybe_created = false;
    loop {
        match create().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_ambiguous() || (maybe_created && e.may_be_duplicate()) => {
                maybe_created = true;
                if let Some(v) = find().await? {
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
