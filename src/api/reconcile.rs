//! The former home of `create_once`, kept as a shim for `cmd::import` (which passes its own
//! `--max-retries`) until it calls [`super::once::create`]: the policy itself lives in
//! [`super::once`].

use std::future::Future;

use super::client::Client;
use super::error::ApiError;
use super::once::write_once;

/// [`super::once::create`] with an explicit repeat budget.
pub async fn create_once<T, C, CF, F, FF>(
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
