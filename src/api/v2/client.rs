//! The typed V2 endpoint methods: customers, addresses, groups, password checks.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::models::{Count, Validation};
use crate::api::client::{decode, route_of, Client, Reply};
use crate::api::error::{parse_error_body, ApiError, ErrorKind};
use crate::api::models::{Address, Customer, Group, HasId};

impl Client {
    /// Decode a 2xx body, scrubbing the error (a decoder's message quotes what it read).
    fn decode<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &[u8],
        request: Option<&Value>,
    ) -> Result<T, ApiError> {
        decode(path, body).map_err(|e| e.scrubbed(&self.secrets(request)))
    }

    /// Decode one record (customer, address, group): a body without an id is not the record,
    /// whatever the status said, and never becomes a record with id 0. After a create (POST),
    /// a 2xx says the store accepted the write, so the create may have happened:
    /// [`ErrorKind::Unconfirmed`], which callers look up before sending it again.
    fn decode_record<T: DeserializeOwned + HasId>(
        &self,
        method: &Method,
        path: &str,
        body: &[u8],
        request: Option<&Value>,
    ) -> Result<T, ApiError> {
        let record = self.decode::<T>(path, body, request).and_then(|r: T| {
            if r.id() == 0 {
                Err(ApiError {
                    what: String::new(),
                    kind: ErrorKind::Decode {
                        message: "the answer has no id, so it is not the record asked for".into(),
                    },
                })
            } else {
                Ok(r)
            }
        });
        record.map_err(|e| {
            let message = match e.kind {
                ErrorKind::Decode { message } => message,
                other => {
                    return ApiError {
                        what: e.what,
                        kind: other,
                    }
                }
            };
            ApiError {
                what: format!("{method} {}", route_of(path)),
                kind: if *method == Method::POST {
                    ErrorKind::Unconfirmed { message }
                } else {
                    ErrorKind::Decode { message }
                },
            }
        })
    }

    /// One create (`POST`), not repeated after an ambiguous failure (the caller looks the
    /// record up first); a 2xx whose body could not be read is [`ErrorKind::Unconfirmed`].
    async fn send_create(&self, path: &str, body: &Value) -> Result<Reply, ApiError> {
        self.send(Method::POST, path, &[], Some(body), false)
            .await
            .map_err(unconfirmed_if_unreadable)
    }

    /// GET a list page. `204 No Content` (an empty page, also past the last page) is an empty list.
    ///
    /// A big page (a full page of customers is ~150 KB, about a millisecond to parse) is parsed
    /// on the blocking pool: parsed on a runtime worker, it would hold up the other responses
    /// arriving at the same moment, whose request slots stay taken until their bodies are read
    /// (measured: +1.4 ms per round of 8 pages at 20 ms latency, 7% of an export's speed).
    pub async fn get_list<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ApiError> {
        let reply = self.send(Method::GET, path, query, None, true).await?;
        if reply.status == 204 || reply.body.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Vec::new());
        }
        self.decode_aside(path, reply.body).await
    }

    /// GET one resource; 404 is `None`.
    pub async fn get_one<T: DeserializeOwned + HasId>(
        &self,
        path: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.send(Method::GET, path, &[], None, true).await {
            Ok(reply) if reply.status == 204 => Ok(None),
            Ok(reply) => self
                .decode_record(&Method::GET, path, &reply.body, None)
                .map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn count_customers(&self, filters: &[(&str, String)]) -> Result<u64, ApiError> {
        let reply = self
            .send(Method::GET, "/customers/count", filters, None, true)
            .await?;
        let count: Count = self.decode("/customers/count", &reply.body, None)?;
        Ok(count.count)
    }

    /// One page of customers (ascending id), at most 250.
    pub async fn customers_page(
        &self,
        query: &[(&str, String)],
    ) -> Result<Vec<Customer>, ApiError> {
        self.get_list("/customers", query).await
    }

    pub async fn get_customer(&self, id: u64) -> Result<Option<Customer>, ApiError> {
        self.get_one(&format!("/customers/{id}")).await
    }

    /// The customer with this email (case-insensitive), if any.
    pub async fn find_customer_by_email(&self, email: &str) -> Result<Option<Customer>, ApiError> {
        let page = self
            .customers_page(&[("email", email.to_string()), ("limit", "250".into())])
            .await?;
        // Whether the API's email filter is exact or a substring match is not documented: check.
        Ok(page
            .into_iter()
            .find(|c| c.email.eq_ignore_ascii_case(email)))
    }

    /// POST /customers. Not idempotent: an ambiguous failure comes back to the caller.
    pub async fn create_customer(&self, body: &Value) -> Result<Customer, ApiError> {
        let reply = self.send_create("/customers", body).await?;
        self.decode_record(&Method::POST, "/customers", &reply.body, Some(body))
    }

    pub async fn update_customer(&self, id: u64, body: &Value) -> Result<Customer, ApiError> {
        self.put_customer(id, body, true).await
    }

    /// One `PUT /customers/{id}` whose ambiguous failure comes back instead of being repeated
    /// (see [`Client::update_customer_confirmed`] in `v2::once`, which reads the customer back).
    pub(in crate::api) async fn update_customer_attempt(
        &self,
        id: u64,
        body: &Value,
    ) -> Result<Customer, ApiError> {
        self.put_customer(id, body, false).await
    }

    async fn put_customer(
        &self,
        id: u64,
        body: &Value,
        idempotent: bool,
    ) -> Result<Customer, ApiError> {
        let path = format!("/customers/{id}");
        let reply = self
            .send(Method::PUT, &path, &[], Some(body), idempotent)
            .await?;
        self.decode_record(&Method::PUT, &path, &reply.body, Some(body))
    }

    /// One `DELETE /customers/{id}`; an ambiguous failure comes back instead of being
    /// repeated (see [`Client::delete_customer`] in `v2::once`). There is deliberately no method
    /// for the collection `DELETE /customers`: it deletes every customer of the store.
    pub(in crate::api) async fn delete_customer_attempt(&self, id: u64) -> Result<(), ApiError> {
        self.send(
            Method::DELETE,
            &format!("/customers/{id}"),
            &[],
            None,
            false,
        )
        .await
        .map(|_| ())
    }

    /// `PUT /customers/{id}` of `{"customer_group_id": group}` (0 = no group). Setting a
    /// group is idempotent, so a lost answer is simply repeated; the answer's body is not
    /// needed (nothing but the group changed).
    pub async fn set_customer_group(&self, id: u64, group: u64) -> Result<(), ApiError> {
        let body = serde_json::json!({ "customer_group_id": group });
        self.send(
            Method::PUT,
            &format!("/customers/{id}"),
            &[],
            Some(&body),
            true,
        )
        .await
        .map(|_| ())
    }

    /// Every address of one customer (pages of 250).
    pub async fn addresses(&self, customer_id: u64) -> Result<Vec<Address>, ApiError> {
        self.get_all(&format!("/customers/{customer_id}/addresses"))
            .await
    }

    /// Every item of a small paged list (addresses of a customer, groups), by page number:
    /// these lists are short and rarely change during a run, unlike the customer list, which
    /// [`crate::api::v2::pages`] reads by id.
    async fn get_all<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
    ) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        for page in 1.. {
            let rows: Vec<T> = self
                .get_list(path, &[("page", page.to_string()), ("limit", "250".into())])
                .await?;
            let n = rows.len();
            all.extend(rows);
            if n < 250 {
                break;
            }
        }
        Ok(all)
    }

    /// POST an address. Not idempotent (the caller checks for the address after an ambiguous failure).
    pub async fn create_address(
        &self,
        customer_id: u64,
        body: &Value,
    ) -> Result<Address, ApiError> {
        let path = format!("/customers/{customer_id}/addresses");
        let reply = self.send_create(&path, body).await?;
        self.decode_record(&Method::POST, &path, &reply.body, Some(body))
    }

    /// Every customer group (pages of 250).
    pub async fn groups(&self) -> Result<Vec<Group>, ApiError> {
        self.get_all("/customer_groups").await
    }

    /// POST a group. Not idempotent; after an ambiguous failure look the name up.
    ///
    /// BigCommerce documents `207 {status, message}` for this request ("created, but the
    /// sitewide discount update failed"; reference/bigcommerce-api.md, customers.v2.yml): the
    /// group exists but the answer does not carry it, so it is looked up by name.
    pub async fn create_group(&self, name: &str) -> Result<Group, ApiError> {
        let body = serde_json::json!({ "name": name });
        let reply = self.send_create("/customer_groups", &body).await?;
        if reply.status == 207 {
            let said = parse_error_body(207, &reply.body);
            let groups = self.groups().await?;
            return groups
                .into_iter()
                .find(|g| g.id != 0 && g.name.trim().eq_ignore_ascii_case(name.trim()))
                .ok_or_else(|| ApiError {
                    what: "POST /customer_groups".into(),
                    kind: ErrorKind::Decode {
                        message: format!(
                            "the store answered 207 ({}) but lists no group named {name:?}",
                            crate::api::error::scrub(&said, &self.secrets(None))
                        ),
                    },
                });
        }
        self.decode_record(&Method::POST, "/customer_groups", &reply.body, Some(&body))
    }

    /// `POST /customers/{id}/validate`: true when the password is the customer's.
    pub async fn validate_password(
        &self,
        customer_id: u64,
        password: &str,
    ) -> Result<bool, ApiError> {
        let path = format!("/customers/{customer_id}/validate");
        let body = serde_json::json!({ "password": password });
        let reply = self
            .send(Method::POST, &path, &[], Some(&body), true)
            .await?;
        let v: Validation = self.decode(&path, &reply.body, Some(&body))?;
        Ok(v.success)
    }
}

/// A 2xx to a create whose body could not be read (too big) says the store took the write.
fn unconfirmed_if_unreadable(e: ApiError) -> ApiError {
    match e.kind {
        ErrorKind::Decode { message } => ApiError {
            what: e.what,
            kind: ErrorKind::Unconfirmed { message },
        },
        kind => ApiError { what: e.what, kind },
    }
}
