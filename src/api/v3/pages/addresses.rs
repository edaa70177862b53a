//! The V3 address fallback: the addresses of customers that have more than `include=addresses`
//! embeds (SPEC3 `maxItems: 10`), read from `GET /v3/customers/addresses` by customer id lists.

use std::collections::{HashMap, HashSet};

use super::super::models::AddressPage;
use super::super::Filters;
use super::super::PAGE;
use super::ADDRESS_LOOKUP_IDS;
use crate::api::client::Client;
use crate::api::error::{ApiError, ErrorKind};
use crate::api::Address;

/// Every address of these customers, by customer, each list in the store's order (address
/// id ascending). Paged by number: a few customers' addresses hardly change during the
/// export, and each is checked (an id, one of the customers asked for, never twice).
pub(super) async fn addresses_of(
    client: &Client,
    customers: &[u64],
) -> Result<HashMap<u64, Vec<Address>>, ApiError> {
    let mut out: HashMap<u64, Vec<Address>> = HashMap::new();
    let mut seen = HashSet::new();
    let bad = |message: String| ApiError {
        what: "GET /v3/customers/addresses".to_string(),
        kind: ErrorKind::Decode {
            message: format!("{message}; the export cannot be complete, so it stops"),
        },
    };
    for chunk in customers.chunks(ADDRESS_LOOKUP_IDS) {
        let ids: Vec<String> = chunk.iter().map(u64::to_string).collect();
        let filters = Filters::customer_ids(&ids.join(","));
        for page in 1u64.. {
            let q = filters.query(&[("limit", PAGE.to_string()), ("page", page.to_string())]);
            let reply = client.get_v3("/customers/addresses", &q).await?;
            let body: AddressPage = if reply.status == 204 {
                AddressPage::default()
            } else {
                client
                    .decode_aside("/v3/customers/addresses", reply.body)
                    .await?
            };
            let n = body.data.len() as u64;
            for a in body.data {
                let a = a.into_v2();
                if a.id == 0 {
                    return Err(bad("the store sent an address without an id".into()));
                }
                if !chunk.contains(&a.customer_id) {
                    return Err(bad(format!(
                        "the store sent address {} of customer {} for customer_id:in={}: it ignores the filter",
                        a.id,
                        a.customer_id,
                        ids.join(",")
                    )));
                }
                if !seen.insert(a.id) {
                    return Err(bad(format!("the store sent address {} twice", a.id)));
                }
                out.entry(a.customer_id).or_default().push(a);
            }
            if n < PAGE {
                break;
            }
            if page > 1 + (customers.len() as u64 * 10_000) / PAGE {
                return Err(bad("the store keeps sending addresses".into()));
            }
        }
    }
    Ok(out)
}
