//! One customer (or one customer's addresses) through `GET /v3/customers`, for the import's
//! per-row lookups under `--api v3`: what the store holds, read through the API the run
//! writes with (reference/bigcommerce-v3.md §4: `id:in`, `email:in`; §8: the addresses route).
//! Answers come back as the V2-shaped [`Customer`]/[`Address`] the comparisons use.

use super::models::{AddressPage, CustomerPage};
use crate::api::client::Client;
use crate::api::error::ApiError;
use crate::api::{Address, Customer};

/// The store's customer by id, else by email (`id:in=` / `email:in=`, one request). Whether
/// `email:in` compares without case is unverified (§19.5): the answer is matched here
/// without case, and only an exact match counts.
pub async fn find_customer(
    client: &Client,
    id: Option<u64>,
    email: Option<&str>,
) -> Result<Option<Customer>, ApiError> {
    let mut query = String::new();
    match (id, email) {
        (Some(id), _) => query.push_str(&format!("id:in={id}")),
        (None, Some(e)) => {
            query.push_str("email:in=");
            super::encode(e, &mut query);
        }
        (None, None) => return Ok(None),
    }
    // Channel-specific customers may share an email (§12): one page holds them all. The
    // balance and the form fields are shown only when asked for (§13.1, §10); the import
    // compares with both.
    query.push_str("&include=storecredit,formfields&limit=250");
    let reply = client.get_v3("/customers", &query).await?;
    let page: CustomerPage = client.decode_aside("/v3/customers", reply.body).await?;
    Ok(page
        .data
        .into_iter()
        .map(|c| c.into_v2().0)
        .find(|c| match (id, email) {
            (Some(id), _) => c.id == id,
            (None, Some(e)) => c.email.eq_ignore_ascii_case(e),
            (None, None) => false,
        }))
}

/// Every address of customer `id` (`GET /v3/customers/addresses?customer_id:in=`; one page
/// of 250, more than any customer the import compares with holds).
pub async fn addresses(client: &Client, id: u64) -> Result<Vec<Address>, ApiError> {
    let query = format!("customer_id:in={id}&limit=250");
    let reply = client.get_v3("/customers/addresses", &query).await?;
    let page: AddressPage = client
        .decode_aside("/v3/customers/addresses", reply.body)
        .await?;
    Ok(page
        .data
        .into_iter()
        .map(super::models::V3Address::into_v2)
        .filter(|a| a.customer_id == id)
        .collect())
}
