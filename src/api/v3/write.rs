//! The Customers V3 write requests, one batch each: `POST`/`PUT /v3/customers` with ≤ 10
//! customers, `DELETE /v3/customers?id:in=…` with a bounded, never empty id list, `POST
//! /v3/customers/addresses`, the `email:in` lookup that reconciles a lost answer, and the
//! reading of a 422 body into the items it names (reference/bigcommerce-v3.md §5–8, §14, §15).
//!
//! Per-item results, splitting and reconciliation are [`super::batch`]'s; this file sends one
//! request and says what came back.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::Method;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::models::{AddressPage, CustomerPage, V3Address, V3Customer};
use crate::api::client::Client;
use crate::api::error::{ApiError, ErrorKind};

/// Customers per `POST`/`PUT /v3/customers`: more is 413 (§1.2, §14).
pub const MAX_BATCH: usize = 10;

/// Ids per `DELETE /v3/customers?id:in=`. The maximum is undocumented (§7, §19.3); 100
/// mirrors V2's "up to 100 customers per batch" and keeps the URL under ~1 KB.
pub const MAX_DELETE_IDS: usize = 100;

/// `PUT /v3/customers`: "Limit of 3 concurrent requests" (§6, §16); a 4th gets 429.
pub const PUT_CONCURRENCY: usize = 3;

/// `POST /v3/customers/addresses`: 10 concurrent (§8, §16).
pub const ADDRESS_POST_CONCURRENCY: usize = 10;

/// Addresses per `POST /v3/customers/addresses`: undocumented (§8, §19.10); 10 is what
/// clients use (KZ) and what the sandbox accepts by default.
pub const MAX_ADDRESS_BATCH: usize = 10;

/// The seam's per-item write error, defined with the transport's errors; re-exported here
/// for the V3 modules that name it `write::WriteError`.
pub use crate::api::error::WriteError;

/// The V3 write requests of one store. Cheap to clone; every clone shares the client (quota,
/// pacing, request slots) and the per-route concurrency limits, so however many tasks write,
/// no more than [`PUT_CONCURRENCY`] customer PUTs are ever in flight.
#[derive(Clone)]
pub struct Writes {
    client: Client,
    limits: Arc<Limits>,
}

struct Limits {
    put_customers: Semaphore,
    post_addresses: Semaphore,
}

impl Writes {
    /// Create one per store and clone it: a second `Writes` has its own limits.
    pub fn new(client: Client) -> Writes {
        Writes {
            client,
            limits: Arc::new(Limits {
                put_customers: Semaphore::new(PUT_CONCURRENCY),
                post_addresses: Semaphore::new(ADDRESS_POST_CONCURRENCY),
            }),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `POST /v3/customers` with 1..=10 `customer_Post` bodies: the customers created, in the
    /// store's order (match them by email: the order is observed, not documented, §5).
    ///
    /// Not idempotent: a lost answer, a 5xx, or a 2xx that is not the customers (an
    /// [`ErrorKind::Unconfirmed`]) comes back without a repeat, for the caller to reconcile.
    pub async fn create_customers(&self, bodies: &[Value]) -> Result<Vec<V3Customer>, WriteError> {
        check_batch("POST /v3/customers", bodies.len(), MAX_BATCH)?;
        let body = Value::Array(bodies.to_vec());
        let reply = self
            .client
            .send_v3(Method::POST, "/customers", "", Some(&body), false)
            .await
            .map_err(|e| match e.kind {
                // A 2xx whose body was not read (over the size cap) is a yes all the same:
                // the customers may exist, so they are looked up, never failed or re-sent.
                ErrorKind::Decode { message } => ApiError {
                    what: e.what,
                    kind: ErrorKind::Unconfirmed { message },
                },
                _ => e,
            })?;
        let secrets = self.client.secrets(Some(&body));
        let page: CustomerPage = decode_written(&reply.body, "POST /v3/customers", true, &secrets)?;
        // A batch never holds two items of one email, so an answer listing an email (or an
        // id) twice is not the customers created: matched by email, one of its ids would be
        // given to a row that the store may not have created under it. Such an answer is
        // "may have happened", reconciled by looking the emails up, like a lost one.
        let mut emails = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        if !page
            .data
            .iter()
            .all(|c| emails.insert(c.email.to_lowercase()) && ids.insert(c.id))
        {
            return Err(WriteError::Api(ApiError {
                what: "POST /v3/customers".into(),
                kind: ErrorKind::Unconfirmed {
                    message:
                        "the answer lists a customer twice, so it is not the customers created"
                            .into(),
                },
            }));
        }
        Ok(page.data)
    }

    /// `PUT /v3/customers` with 1..=10 `customer_Put` bodies (each with its `id`); at most
    /// [`PUT_CONCURRENCY`] at once across every clone. Idempotent for plain values (§14), so
    /// the client repeats a lost answer itself.
    pub async fn update_customers(&self, bodies: &[Value]) -> Result<Vec<V3Customer>, WriteError> {
        self.put_customers(bodies, true).await
    }

    /// [`Writes::update_customers`] sent once: a lost answer comes back to the caller (a PUT
    /// carrying store credit to a store that may add it, see `super::credit`).
    pub async fn update_customers_once(
        &self,
        bodies: &[Value],
    ) -> Result<Vec<V3Customer>, WriteError> {
        self.put_customers(bodies, false).await
    }

    async fn put_customers(
        &self,
        bodies: &[Value],
        repeatable: bool,
    ) -> Result<Vec<V3Customer>, WriteError> {
        check_batch("PUT /v3/customers", bodies.len(), MAX_BATCH)?;
        if let Some(i) = bodies.iter().position(|b| id_of(b).is_none()) {
            return Err(WriteError::Refused(format!(
                "PUT /v3/customers: item {i} has no id (V3 updates name the customer in the body)"
            )));
        }
        let body = Value::Array(bodies.to_vec());
        let reply = {
            let _slot = self
                .limits
                .put_customers
                .acquire()
                .await
                .expect("never closed");
            self.client
                .send_v3(Method::PUT, "/customers", "", Some(&body), repeatable)
                .await?
        };
        let secrets = self.client.secrets(Some(&body));
        let page: CustomerPage = decode_written(&reply.body, "PUT /v3/customers", false, &secrets)?;
        Ok(page.data)
    }

    /// `DELETE /v3/customers?id:in=…` of 1..=[`MAX_DELETE_IDS`] ids. An empty list is refused
    /// here, before any request: without `id:in` the documented answer is a no-op 204 (§7),
    /// but a store that read it as "every customer" would be emptied, so it is never sent.
    /// Deleting an id twice is harmless, so the client repeats a lost answer.
    pub async fn delete_customers(&self, ids: &[u64]) -> Result<(), WriteError> {
        if ids.is_empty() {
            return Err(WriteError::Refused(
                "DELETE /v3/customers without ids is never sent (it would name no customer)".into(),
            ));
        }
        check_batch("DELETE /v3/customers", ids.len(), MAX_DELETE_IDS)?;
        if ids.contains(&0) {
            return Err(WriteError::Refused(
                "DELETE /v3/customers: 0 is not a customer id".into(),
            ));
        }
        let query = super::ids_in(ids);
        self.client
            .send_v3(Method::DELETE, "/customers", &query, None, true)
            .await?;
        Ok(())
    }

    /// The customers with these emails (`GET /v3/customers?email:in=…`, one request): what a
    /// lost or ambiguous create answer is reconciled with. Whether the store compares emails
    /// without case is unverified (§19.5), so callers match the answer case-insensitively.
    pub async fn find_by_emails(&self, emails: &[&str]) -> Result<Vec<V3Customer>, WriteError> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        // One page holds every match: emails are unique per store, but channel-specific
        // customers may share one (§12), hence more than the batch's count.
        let query = format!("{}&limit=250", super::emails_in(emails));
        Ok(super::read::page(&self.client, &query).await?.data)
    }

    /// The store credit of these customers (`GET /v3/customers?id:in=…&include=storecredit`,
    /// one request, ≤ [`MAX_BATCH`] ids), in ten-thousandths; a customer the answer leaves
    /// out, or shows without `store_credit_amounts`, is not in the map.
    pub async fn balances(&self, ids: &[u64]) -> Result<HashMap<u64, i64>, WriteError> {
        check_batch("GET /v3/customers?id:in=", ids.len(), MAX_DELETE_IDS)?;
        let query = format!("{}&include=storecredit&limit=250", super::ids_in(ids));
        let page = super::read::page(&self.client, &query).await?;
        Ok(super::credit::balances_of(&page.data))
    }

    /// `POST /v3/customers/addresses` with 1..=[`MAX_ADDRESS_BATCH`] bodies (each with its
    /// `customer_id`): the addresses created. An address the customer already has is absent
    /// from the answer (the store's silent de-duplication, §8), which also makes a repeat
    /// harmless, so the client repeats a lost answer.
    pub async fn create_addresses(&self, bodies: &[Value]) -> Result<Vec<V3Address>, WriteError> {
        check_batch(
            "POST /v3/customers/addresses",
            bodies.len(),
            MAX_ADDRESS_BATCH,
        )?;
        let body = Value::Array(bodies.to_vec());
        let reply = {
            let _slot = self
                .limits
                .post_addresses
                .acquire()
                .await
                .expect("never closed");
            self.client
                .send_v3(Method::POST, "/customers/addresses", "", Some(&body), true)
                .await?
        };
        // §8: a batch of duplicates may answer `{}` instead of `{"data": []}`.
        let secrets = self.client.secrets(Some(&body));
        let page: AddressPage =
            decode_written(&reply.body, "POST /v3/customers/addresses", false, &secrets)?;
        Ok(page.data)
    }
}

fn check_batch(what: &str, len: usize, max: usize) -> Result<(), WriteError> {
    if len == 0 || len > max {
        return Err(WriteError::Refused(format!(
            "{what}: {len} items (1 to {max} per request)"
        )));
    }
    Ok(())
}

pub(crate) fn id_of(body: &Value) -> Option<u64> {
    body.get("id").and_then(Value::as_u64).filter(|id| *id > 0)
}

/// A 2xx body of a write. After a create, an unreadable one is [`ErrorKind::Unconfirmed`]:
/// the store said yes, so the customers may exist and are looked up, never sent again blindly.
/// The decoder's message quotes what it could not read, which may be the request quoted back
/// (its token, its passwords): it is scrubbed of `secrets` like every error of the client,
/// since it reaches `-v` lines and the results file.
fn decode_written<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
    what: &str,
    create: bool,
    secrets: &[&str],
) -> Result<T, WriteError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        let message = format!("the answer is not the written records: {e}");
        WriteError::Api(
            ApiError {
                what: what.to_string(),
                kind: if create {
                    ErrorKind::Unconfirmed { message }
                } else {
                    ErrorKind::Decode { message }
                },
            }
            .scrubbed(secrets),
        )
    })
}

/// The items of a batch that a 422 names (§14): by index (`"3.email": …`, `"0.id": "invalid
/// customer ID"`), or by the email its message quotes (the duplicate-email body,
/// `".customer_create": "Error creating customers: email x@y already in use"`, names no
/// index). Both lists empty: the answer names no item (a schema error such as `{"id":
/// "error.path.missing"}`, or `{}`), and the caller has to find the bad item itself.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Blame {
    /// Positions named by an index key, ascending, each once, all `< len`.
    pub by_index: Vec<usize>,
    /// Positions whose email the message quotes (and not already named by index).
    pub by_email: Vec<usize>,
}

impl Blame {
    pub fn is_empty(&self) -> bool {
        self.by_index.is_empty() && self.by_email.is_empty()
    }

    pub fn all(&self) -> impl Iterator<Item = usize> + '_ {
        self.by_index.iter().chain(&self.by_email).copied()
    }
}

/// Read a 422 into a [`Blame`] for a batch whose items have these emails (`None` for an item
/// without one, e.g. a PUT that does not change the email).
///
/// The client keeps a V3 error body as `title; key: message; key: message` (see
/// `api::error::parse_error_body`), so the keys are read back from that text: an index key
/// is a run of digits and a dot at the start of a part.
pub fn blame(err: &ApiError, len: usize, emails: &[Option<&str>]) -> Blame {
    let ErrorKind::Status { message, .. } = &err.kind else {
        return Blame::default();
    };
    let mut by_index: Vec<usize> = message
        .split("; ")
        .filter_map(|part| {
            let (index, rest) = part.split_once('.')?;
            let index: usize = index.parse().ok()?;
            (rest.contains(':') && index < len).then_some(index)
        })
        .collect();
    by_index.sort_unstable();
    by_index.dedup();
    let lower = message.to_lowercase();
    let by_email = emails
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            !by_index.contains(i) && e.is_some_and(|e| quotes_email(&lower, &e.to_lowercase()))
        })
        .map(|(i, _)| i)
        .take_while(|i| *i < len)
        .collect();
    Blame { by_index, by_email }
}

/// `text` contains `email` as a whole address: `ann@x.com` is not quoted by
/// `joann@x.com` or `ann@x.com.au`.
fn quotes_email(text: &str, email: &str) -> bool {
    if email.is_empty() {
        return false;
    }
    let part_of_address =
        |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '@' | '%');
    text.match_indices(email).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + email.len()..].chars().next();
        // A sentence-ending dot after the address is not part of it.
        let after_ok = match after {
            None => true,
            Some('.') => text[at + email.len() + 1..]
                .chars()
                .next()
                .is_none_or(|c| !part_of_address(c)),
            Some(c) => !part_of_address(c),
        };
        before.is_none_or(|c| !part_of_address(c)) && after_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::parse_error_body;

    fn status_422(body: &str) -> ApiError {
        ApiError {
            what: "POST /v3/customers".into(),
            kind: ErrorKind::Status {
                status: 422,
                message: parse_error_body(422, body.as_bytes()),
            },
        }
    }

    #[test]
    fn the_documented_422_bodies_name_their_items() {
        // §14, verbatim: the duplicate names an email, no index.
        let dup = status_422(
            r#"{"status":422,"title":"Create customers failed.","type":"x","errors":{".customer_create":"Error creating customers: email bobby.bob@bobberton.co already in use"}}"#,
        );
        let emails = [
            Some("bob@bobberton.co"),
            Some("Bobby.Bob@Bobberton.co"),
            Some("bobby.bob@bobberton.com"),
            None,
        ];
        let b = blame(&dup, 4, &emails);
        assert_eq!(b.by_index, Vec::<usize>::new());
        assert_eq!(b.by_email, vec![1]);

        let unknown = status_422(
            r#"{"status":422,"title":"Update customers failed.","type":"x","errors":{"0.id":"invalid customer ID"}}"#,
        );
        assert_eq!(blame(&unknown, 2, &[None, None]).by_index, vec![0]);
        // An index past the batch names nothing.
        assert!(blame(&unknown, 0, &[]).is_empty());

        let schema = status_422(
            r#"{"status":422,"title":"JSON data is missing or invalid","type":"x","errors":{"id":"error.path.missing"}}"#,
        );
        assert!(blame(&schema, 3, &[Some("a@b.co"), None, None]).is_empty());
        let empty = status_422(r#"{"status":422,"title":"Nope.","errors":{}}"#);
        assert!(blame(&empty, 3, &[None, None, None]).is_empty());

        let nested = status_422(
            r#"{"title":"Create customers failed.","errors":{"7.addresses.0.country_code":"bad","2.email":"bad"}}"#,
        );
        assert_eq!(blame(&nested, 10, &[None; 10]).by_index, vec![2, 7]);
    }

    #[test]
    fn an_email_is_quoted_only_whole() {
        assert!(quotes_email("email ann@x.com already in use", "ann@x.com"));
        assert!(quotes_email("email ann@x.com.", "ann@x.com"));
        assert!(!quotes_email("email joann@x.com already", "ann@x.com"));
        assert!(!quotes_email("email ann@x.com.au already", "ann@x.com"));
        assert!(!quotes_email("anything", ""));
    }
}
