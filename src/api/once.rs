//! Writing exactly once over an unreliable connection: the one policy for every write whose
//! repeat is not harmless (creating a customer, an address or a group; deleting a customer),
//! and for an import's update, whose repeat is harmless but whose lost answers are better
//! settled by a read than by repeating it until the budget is spent.
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
use super::models::{Customer, Group};

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

impl Client {
    /// `DELETE /customers/{id}` exactly once: a lost answer is repeated (deleting twice is
    /// harmless), and a 404 after it is this call's own doing, told apart from a 404 for a
    /// customer that never existed. Always one customer's path, never the collection.
    pub async fn delete_customer(&self, id: u64) -> Result<Deleted, ApiError> {
        let result = write_once(
            self,
            self.max_retries(),
            || async {
                self.delete_customer_attempt(id)
                    .await
                    .map(|()| Deleted::Yes)
            },
            ApiError::is_not_found,
            |e: &ApiError| std::future::ready(Ok(e.is_not_found().then_some(Deleted::AnswerLost))),
        )
        .await;
        match result {
            Err(e) if e.is_not_found() => Ok(Deleted::NotFound),
            other => other,
        }
    }

    /// `PUT /customers/{id}` whose lost answers are settled by reading the customer back:
    /// `landed(&customer)` says whether the store shows the update (the fields sent). A PUT
    /// repeated blindly is harmless, but a run of lost answers (a gateway that times out after
    /// the store committed, or 30% of answers lost and one unlucky row) used up the repeat
    /// budget and reported `failed` a row whose update was in the store; read back, the
    /// first lost answer settles it. When `landed` cannot tell (a password: the store never
    /// shows one) it says false, and the PUT is sent again as before.
    pub async fn update_customer_confirmed(
        &self,
        max_retries: u32,
        id: u64,
        body: &serde_json::Value,
        landed: impl Fn(&Customer) -> bool,
    ) -> Result<Customer, ApiError> {
        write_once(
            self,
            max_retries,
            || self.update_customer_attempt(id, body),
            // A refusal after a lost answer is not our own doing: a PUT cannot collide
            // with itself (the same email on the same customer is no conflict).
            |_| false,
            |_| async { Ok(self.get_customer(id).await?.filter(|c| landed(c))) },
        )
        .await
    }

    /// `POST /customer_groups` exactly once: after an ambiguous failure (or a 409 that follows
    /// one: our own lost create took the name) the name is looked up before sending it again.
    pub async fn create_group_once(&self, name: &str) -> Result<Group, ApiError> {
        create_group_within(self, self.max_retries(), name).await
    }
}

/// [`Client::create_group_once`] with an explicit repeat budget, for
/// `cmd::groups::create_reconciled`, whose callers still pass `--max-retries` themselves.
pub async fn create_group_within(
    client: &Client,
    max_retries: u32,
    name: &str,
) -> Result<Group, ApiError> {
    write_once(
        client,
        max_retries,
        || client.create_group(name),
        ApiError::may_be_duplicate,
        |_| async {
            let groups = client.groups().await?;
            Ok(groups
                .into_iter()
                .find(|g| g.name.trim().eq_ignore_ascii_case(name.trim())))
        },
    )
    .await
}
