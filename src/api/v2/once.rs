//! V2's writes that must happen exactly once and are not a create of the row engine: deleting
//! one customer (`DELETE /customers/{id}`) and creating a group (`POST /customer_groups`),
//! both through the one policy of [`write_once`](crate::api::once::write_once); and an
//! import's update (`PUT /customers/{id}`), whose repeat is harmless but whose lost answers
//! are better settled by a read than by repeating it until the budget is spent.

use crate::api::client::Client;
use crate::api::error::ApiError;
use crate::api::models::{Customer, Group};
use crate::api::once::{write_once, Deleted};

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
        write_once(
            self,
            self.max_retries(),
            || self.create_group(name),
            ApiError::may_be_duplicate,
            |_| async {
                let groups = self.groups().await?;
                Ok(groups
                    .into_iter()
                    .find(|g| g.name.trim().eq_ignore_ascii_case(name.trim())))
            },
        )
        .await
    }
}
