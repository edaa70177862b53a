//! The store seam's writes of the mapping's rows through V2 (`api::store::Writer::V2`): one
//! request per item, the rows as V2 bodies ([`super::encode`]); creates happen exactly once
//! (an ambiguous create is looked up, by email or among the customer's addresses, before it is
//! sent again, and a customer found by email counts only if it can be this create's).
//! Setting a group and deleting are single client calls (`client.rs`, `once.rs`).

use serde_json::Value;

use crate::api::client::Client;
use crate::api::error::{ApiError, WriteError};
use crate::api::models::Customer;
use crate::api::once;
use crate::mapping::columns::Field;
use crate::mapping::row::{AddressData, RowData, Snapshot};

/// Create the row's customer (`POST /customers`); its id. After an ambiguous failure the
/// email is looked up before sending again, and a customer found is taken as this create's
/// only if [`once::claim`] says it can be (the names sent, not created before the store's
/// clock read here, before the first attempt). Any other customer holding the email is
/// someone else's: the create fails naming it, and nothing is sent again (the store would
/// refuse the email) or written to it.
pub async fn create(client: &Client, row: &RowData, force_reset: bool) -> Result<u64, WriteError> {
    let body = row.create_payload(force_reset);
    let body = &body;
    let sent = once::Sent::of_body(body, client.store_clock());
    let email = body.get("email").and_then(Value::as_str).unwrap_or("");
    let created = once::create(
        client,
        || async { client.create_customer(body).await.map(|c| Ok(c.id)) },
        || async {
            let Some(c) = client.find_customer_by_email(email).await? else {
                return Ok(None);
            };
            let found = once::Found {
                first_name: &c.first_name,
                last_name: &c.last_name,
                date_created: &c.date_created,
            };
            Ok(Some(
                once::claim(&sent, &found)
                    .refusal(c.id)
                    .map_or(Ok(c.id), Err),
            ))
        },
    )
    .await?;
    created.map_err(WriteError::Refused)
}

/// `PUT /customers/{id}` of the row's `fields` (and its password when `with_password`): the
/// customer as stored. A
/// lost answer is settled by reading the customer back (`once.rs`): the update landed when
/// none of the fields sent differs any more; a password cannot be read back, so an update
/// that sets one is sent again instead.
pub async fn update(
    client: &Client,
    id: u64,
    row: &RowData,
    fields: &[Field],
    with_password: bool,
) -> Result<Customer, ApiError> {
    let body = row.update_payload(fields, with_password);
    client
        .update_customer_confirmed(client.max_retries(), id, &body, |c| {
            landed(row, fields, with_password, c)
        })
        .await
}

/// The customer as read back shows the update of `fields` (never when it set a password,
/// which the store does not show).
fn landed(row: &RowData, fields: &[Field], with_password: bool, c: &Customer) -> bool {
    let now = row.changes(&Snapshot::of(c));
    !with_password && fields.iter().all(|f| !now.contains(f))
}

/// Create the address `a` of customer `customer_id` (the caller checked the customer's
/// addresses first); its id. After an ambiguous create, the address is looked for among the
/// customer's before it is sent again.
pub async fn add_address(
    client: &Client,
    customer_id: u64,
    a: &AddressData,
) -> Result<u64, ApiError> {
    let body = a.payload();
    let find = || async {
        let existing = client.addresses(customer_id).await?;
        Ok(existing.into_iter().find(|e| a.matches(e)))
    };
    let created = once::create(client, || client.create_address(customer_id, &body), find).await?;
    Ok(created.id)
}
