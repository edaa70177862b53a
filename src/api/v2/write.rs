//! The store seam's writes of the mapping's rows through V2 (`api::store::Writer::V2`): one
//! request per item, the rows as V2 bodies ([`super::encode`]); creates happen exactly once
//! (an ambiguous create is looked up, by email or among the customer's addresses, before it is
//! sent again). Setting a group and deleting are single client calls (`client.rs`, `once.rs`).

use crate::api::client::Client;
use crate::api::error::ApiError;
use crate::api::models::Customer;
use crate::api::once;
use crate::mapping::columns::Field;
use crate::mapping::row::{AddressData, RowData, Snapshot};

/// Create the row's customer (`POST /customers`); its id.
pub async fn create(client: &Client, row: &RowData, force_reset: bool) -> Result<u64, ApiError> {
    let body = row.create_payload(force_reset);
    let email = row.email().unwrap_or_default().to_string();
    let created = once::create(
        client,
        || client.create_customer(&body),
        || client.find_customer_by_email(&email),
    )
    .await?;
    Ok(created.id)
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
