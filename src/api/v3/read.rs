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
    let mut query = match (id, email) {
        (Some(id), _) => super::ids_in(&[id]),
        (None, Some(e)) => super::emails_in(&[e]),
        (None, None) => return Ok(None),
    };
    // Channel-specific customers may share an email (§12): one page holds them all. The
    // balance and the form fields are shown only when asked for (§13.1, §10); the import
    // compares with both.
    query.push_str("&include=storecredit,formfields&limit=250");
    Ok(page(client, &query)
        .await?
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

/// The store's customers among `ids` (`GET /v3/customers?id:in=…&limit=250`, one request),
/// in no particular order (the order of an `id:in` answer is undocumented, §19.4); a
/// customer the store returns that was not asked for is left out. At most 250 ids: one page
/// holds every answer.
pub async fn customers_by_ids(client: &Client, ids: &[u64]) -> Result<Vec<Customer>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    assert!(ids.len() <= 250, "one page of 250 holds every answer");
    let query = format!("{}&limit=250", super::ids_in(ids));
    let found = customers_page(client, &query).await?;
    Ok(found.into_iter().filter(|c| ids.contains(&c.id)).collect())
}

/// The store's customers whose email is one of `emails` (`GET /v3/customers?email:in=…`,
/// one request, each email percent-encoded), compared without case (§19.5: whether the
/// store does is unverified); others are left out. An email with a comma cannot be in the
/// list (`,` separates its items): callers look such an email up alone. Channel-specific customers may share an
/// email (§12): a page of 250 holds them for the few emails a caller sends at once.
pub async fn customers_by_emails(
    client: &Client,
    emails: &[String],
) -> Result<Vec<Customer>, ApiError> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    assert!(
        emails.iter().all(|e| !e.contains(',')),
        "a comma splits the list"
    );
    let query = format!("{}&limit=250", super::emails_in(emails));
    let found = customers_page(client, &query).await?;
    Ok(found
        .into_iter()
        .filter(|c| emails.iter().any(|e| c.email.eq_ignore_ascii_case(e)))
        .collect())
}

async fn customers_page(client: &Client, query: &str) -> Result<Vec<Customer>, ApiError> {
    let page = page(client, query).await?;
    Ok(page.data.into_iter().map(|c| c.into_v2().0).collect())
}

/// One `GET /v3/customers?<query>` page as sent: what every lookup of a few named customers
/// reads (the walks over the whole store are `pages`).
pub(super) async fn page(client: &Client, query: &str) -> Result<CustomerPage, ApiError> {
    let reply = client.get_v3("/customers", query).await?;
    client.decode_aside("/v3/customers", reply.body).await
}

/// What `POST /v3/customers/validate-credentials` answered (§11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    pub is_valid: bool,
    /// The customer the store logged in (`null` when the password is not valid).
    pub customer_id: Option<u64>,
}

#[derive(serde::Deserialize)]
struct CredentialsAnswer {
    is_valid: bool,
    #[serde(default)]
    customer_id: Option<u64>,
}

/// Check `password` for the customer with `email` on the default storefront (no
/// `channel_id`: "we will use channel 1", §11). Not a write, and safe to repeat. The body's
/// `password` key is what the client scrubs from every message it makes of the store's
/// answer; a decoder message is scrubbed here too, since it may quote the answer.
pub async fn validate_credentials(
    client: &Client,
    email: &str,
    password: &str,
) -> Result<Credentials, ApiError> {
    const PATH: &str = "/customers/validate-credentials";
    let body = serde_json::json!({ "email": email, "password": password });
    let reply = client
        .send_v3(reqwest::Method::POST, PATH, "", Some(&body), true)
        .await?;
    let answer: CredentialsAnswer = client
        .decode_aside("/v3/customers/validate-credentials", reply.body)
        .await
        .map_err(|e| {
            let e = e.scrubbed(&[password]);
            ApiError {
                what: format!("POST /v3{PATH}"),
                kind: e.kind,
            }
        })?;
    Ok(Credentials {
        is_valid: answer.is_valid,
        customer_id: answer.customer_id,
    })
}
