//! Tests of the sandbox's V3 routes through HTTP, as a client sees them, on the same store as
//! the V2 routes.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{
    Sandbox, SandboxConfig, V3BatchCommit, V3IdInOrder, V3Options, V3ReadOnly, V3StoreCredit,
    V3UnfilteredDelete,
};

const ERROR_TYPE: &str =
    "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes";

struct Api {
    sandbox: Sandbox,
    http: reqwest::Client,
}

impl Api {
    async fn start(cfg: SandboxConfig) -> Api {
        Api {
            sandbox: Sandbox::start(cfg, 0).await.expect("sandbox starts"),
            http: reqwest::Client::new(),
        }
    }

    /// `path` starts with `/v2/` or `/v3/`.
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!(
            "{}/stores/{}{path}",
            self.sandbox.base_url(),
            self.sandbox.store_hash()
        );
        self.http
            .request(method, url)
            .header("X-Auth-Token", self.sandbox.token())
            .header("Accept", "application/json")
    }

    async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Result<reqwest::Response> {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        self.try_send(method, path, body)
            .await
            .expect("request answered")
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> reqwest::Response {
        self.send(Method::PUT, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> reqwest::Response {
        self.send(Method::DELETE, path, None).await
    }

    /// The `data` of a 200 `GET`.
    async fn data(&self, path: &str) -> Vec<Value> {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        let body = json_of(response).await;
        body["data"].as_array().expect("data array").clone()
    }
}

fn config(seed: usize, v3: V3Options) -> SandboxConfig {
    SandboxConfig {
        seed,
        rng_seed: 7,
        v3,
        ..SandboxConfig::default()
    }
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

fn customer(i: usize) -> Value {
    json!({"email": format!("person{i}@example.com"), "first_name": format!("First{i}"), "last_name": format!("Last{i}")})
}

fn ids_of(data: &[Value]) -> Vec<u64> {
    data.iter().map(|c| c["id"].as_u64().expect("id")).collect()
}

/// The documented 422 body (reference/bigcommerce-v3.md §14) with one error.
fn body_422(title: &str, key: &str, message: &str) -> Value {
    json!({"status": 422, "title": title, "type": ERROR_TYPE, "errors": {key: message}})
}

fn us_address() -> Value {
    json!({
        "first_name": "Ann", "last_name": "Lee", "address1": "1 Main St", "city": "Austin",
        "state_or_province": "Texas", "postal_code": "78701", "country_code": "US",
    })
}

#[tokio::test]
async fn a_customer_created_through_v3_is_read_through_v2() {
    let api = Api::start(config(0, V3Options::default())).await;
    let response = api
        .post(
            "/v3/customers",
            json!([{
                "email": "Nina.Ni@nina.co", "first_name": "Nina", "last_name": "Ni",
                "company": "Nina Co", "phone": "555-1234", "customer_group_id": 2,
                "authentication": {"force_password_reset": true, "new_password": "secret123"},
                "accepts_product_review_abandoned_cart_emails": true,
                "store_credit_amounts": [{"amount": 43.15}],
                "form_fields": [{"name": "Favourite colour", "value": "green"}],
                "channel_ids": [1],
                "addresses": [us_address()],
                "trigger_account_created_notification": false,
            }]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    let created = &body["data"][0];
    let id = created["id"].as_u64().unwrap();
    assert_eq!(created["email"], "Nina.Ni@nina.co", "email case kept");
    assert_eq!(created["store_credit_amounts"], json!([{"amount": 43.15}]));
    assert_eq!(
        created["authentication"],
        json!({"force_password_reset": true})
    );
    assert_eq!(created["origin_channel_id"], 1);
    assert_eq!(created["channel_ids"], json!([1]));
    assert_eq!(created["addresses"][0]["country"], "United States");
    assert!(created["date_created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["meta"], json!({}));

    let v2 = json_of(api.get(&format!("/v2/customers/{id}")).await).await;
    assert_eq!(v2["email"], "Nina.Ni@nina.co");
    assert_eq!(v2["company"], "Nina Co");
    assert_eq!(v2["customer_group_id"], 2);
    assert_eq!(v2["store_credit"], "43.1500");
    assert_eq!(v2["accepts_marketing"], true);
    assert_eq!(v2["reset_pass_on_login"], true);
    assert_eq!(
        v2["form_fields"],
        json!([{"name": "Favourite colour", "value": "green"}])
    );
    let addresses = json_of(api.get(&format!("/v2/customers/{id}/addresses")).await).await;
    assert_eq!(addresses[0]["street_1"], "1 Main St");
    assert_eq!(addresses[0]["state"], "Texas");
    assert_eq!(addresses[0]["zip"], "78701");
    assert_eq!(addresses[0]["country"], "United States");
    assert_eq!(addresses[0]["country_iso2"], "US");
    let validated = api
        .post(
            &format!("/v2/customers/{id}/validate"),
            json!({"password": "secret123"}),
        )
        .await;
    assert_eq!(json_of(validated).await["success"], true);
}

#[tokio::test]
async fn a_customer_created_through_v2_is_read_through_v3_with_v3_names() {
    let api = Api::start(config(0, V3Options::default())).await;
    let created = json_of(
        api.post(
            "/v2/customers",
            json!({"email": "v2@example.com", "first_name": "Vee", "last_name": "Two",
                   "store_credit": "12.5", "customer_group_id": 1}),
        )
        .await,
    )
    .await;
    let id = created["id"].as_u64().unwrap();
    let response = api
        .post(
            &format!("/v2/customers/{id}/addresses"),
            json!({"first_name": "Vee", "last_name": "Two", "phone": "1", "street_1": "2 High St",
                   "city": "London", "state": "London", "zip": "N1", "country": "United Kingdom"}),
        )
        .await;
    assert!(response.status().is_success());

    let data = api
        .data(&format!(
            "/v3/customers?id:in={id}&include=addresses,storecredit,formfields"
        ))
        .await;
    let c = &data[0];
    assert_eq!(c["email"], "v2@example.com");
    assert_eq!(c["customer_group_id"], 1);
    assert_eq!(c["store_credit_amounts"], json!([{"amount": 12.5}]));
    assert_eq!(c["accepts_product_review_abandoned_cart_emails"], false);
    assert_eq!(c["authentication"], json!({"force_password_reset": false}));
    assert_eq!(c["channel_ids"], Value::Null);
    assert_eq!(c["form_fields"], json!([]));
    assert_eq!(c["address_count"], 1);
    let date = c["date_created"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(date).is_ok(), "{date}");
    let a = &c["addresses"][0];
    assert_eq!(a["address1"], "2 High St");
    assert_eq!(a["postal_code"], "N1");
    assert_eq!(a["state_or_province"], "London");
    assert_eq!(a["country_code"], "GB");
    assert_eq!(a["country"], "United Kingdom");

    // Without includes, none of the embedded resources.
    let plain = api.data(&format!("/v3/customers?id:in={id}")).await;
    assert!(plain[0].get("addresses").is_none());
    assert!(plain[0].get("store_credit_amounts").is_none());
}

#[tokio::test]
async fn more_than_ten_customers_is_413_and_writes_nothing() {
    let api = Api::start(config(0, V3Options::default())).await;
    let eleven: Vec<Value> = (0..11).map(customer).collect();
    let response = api.post("/v3/customers", json!(eleven)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(json_of(response).await["title"]
        .as_str()
        .unwrap()
        .contains("maximum number of items allowed in the array is 10"));
    assert!(api.sandbox.customers().is_empty());

    let ten: Vec<Value> = (0..10).map(customer).collect();
    let response = api.post("/v3/customers", json!(ten)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let ids = ids_of(json_of(response).await["data"].as_array().unwrap());
    assert_eq!(ids, (1..=10).collect::<Vec<u64>>(), "request order");
    let eleven_puts: Vec<Value> = (1..=11).map(|id| json!({"id": id})).collect();
    let response = api.put("/v3/customers", json!(eleven_puts)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_duplicate_email_rejects_the_whole_batch_naming_only_the_first() {
    let api = Api::start(config(0, V3Options::default())).await;
    api.sandbox.insert_customer(
        json!({"email": "taken@example.com", "first_name": "T", "last_name": "K"}),
    );
    api.sandbox
        .insert_customer(json!({"email": "also@example.com", "first_name": "A", "last_name": "K"}));
    let batch = json!([
        customer(1),
        {"email": "TAKEN@example.com", "first_name": "X", "last_name": "Y"},
        {"email": "also@example.com", "first_name": "X", "last_name": "Y"},
        customer(4),
    ]);
    let response = api.post("/v3/customers", batch.clone()).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json_of(response).await,
        body_422(
            "Create customers failed.",
            ".customer_create",
            "Error creating customers: email TAKEN@example.com already in use"
        )
    );
    assert_eq!(api.sandbox.customers().len(), 2, "all-or-nothing");
    let found = api
        .data("/v3/customers?email:in=person1@example.com,person4@example.com")
        .await;
    assert!(found.is_empty());

    // A duplicate within the batch is refused the same way.
    let response = api
        .post("/v3/customers", json!([customer(7), customer(7)]))
        .await;
    assert_eq!(
        json_of(response).await,
        body_422(
            "Create customers failed.",
            ".customer_create",
            "Error creating customers: email person7@example.com already in use"
        )
    );
    assert_eq!(api.sandbox.customers().len(), 2);
}

#[tokio::test]
async fn a_rejected_batch_leaves_what_the_commit_switch_says() {
    for (mode, expected) in [
        (V3BatchCommit::Nothing, vec![]),
        (V3BatchCommit::RowsBefore, vec!["person1@example.com"]),
        (
            V3BatchCommit::AllValid,
            vec!["person1@example.com", "person4@example.com"],
        ),
    ] {
        let options = V3Options {
            batch_commit: mode,
            ..V3Options::default()
        };
        let api = Api::start(config(0, options)).await;
        api.sandbox.insert_customer(
            json!({"email": "taken@example.com", "first_name": "T", "last_name": "K"}),
        );
        let batch = json!([
            customer(1),
            {"email": "taken@example.com", "first_name": "X", "last_name": "Y"},
            {"email": "bad-email", "first_name": "X", "last_name": "Y"},
            customer(4),
        ]);
        let response = api.post("/v3/customers", batch).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{mode:?}"
        );
        assert_eq!(
            json_of(response).await["errors"],
            json!({".customer_create": "Error creating customers: email taken@example.com already in use"}),
            "{mode:?}: only the first bad row is named"
        );
        let mut emails: Vec<String> = api
            .sandbox
            .customers()
            .iter()
            .map(|c| c["email"].as_str().unwrap().to_string())
            .filter(|e| e != "taken@example.com")
            .collect();
        emails.sort();
        assert_eq!(emails, expected, "{mode:?}");
    }
}

#[tokio::test]
async fn put_with_unknown_ids_names_only_the_first_by_index() {
    let api = Api::start(config(3, V3Options::default())).await;
    let before = api.sandbox.customers();
    let response = api
        .put(
            "/v3/customers",
            json!([{"id": 1, "first_name": "Changed"}, {"id": 12345}, {"id": 12346}]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json_of(response).await,
        body_422("Update customers failed.", "1.id", "invalid customer ID")
    );
    assert_eq!(api.sandbox.customers(), before, "nothing changed");

    let response = api.put("/v3/customers", json!([{"first_name": "X"}])).await;
    assert_eq!(
        json_of(response).await,
        body_422(SCHEMA, "id", "error.path.missing")
    );

    let response = api
        .put(
            "/v3/customers",
            json!([{"id": 2, "email": before[0]["email"]}]),
        )
        .await;
    let email = before[0]["email"].as_str().unwrap();
    assert_eq!(
        json_of(response).await,
        body_422(
            "Update customers failed.",
            ".customer_update",
            &format!("Error updating customers: email {email} already in use")
        )
    );

    let response = api
        .put(
            "/v3/customers",
            json!([{"id": 1, "first_name": "Changed", "accepts_product_review_abandoned_cart_emails": true,
                    "origin_channel_id": 9, "registration_ip_address": "10.0.0.1"}]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated = &json_of(response).await["data"][0];
    assert_eq!(updated["first_name"], "Changed");
    assert_eq!(updated["origin_channel_id"], 1, "read-only, ignored");
    let v2 = json_of(api.get("/v2/customers/1").await).await;
    assert_eq!(v2["first_name"], "Changed");
    assert_eq!(v2["accepts_marketing"], true);
    assert_eq!(
        v2["registration_ip_address"],
        before[0]["registration_ip_address"]
    );
}

const SCHEMA: &str = "JSON data is missing or invalid";

#[tokio::test]
async fn schema_and_row_errors_have_their_documented_keys() {
    let api = Api::start(config(0, V3Options::default())).await;
    let cases = [
        (
            json!([customer(1), {"email": "a@b.co", "last_name": "Y"}]),
            body_422(SCHEMA, "first_name", "error.path.missing"),
        ),
        (
            json!([customer(1), {"email": "a@b.co", "first_name": 5, "last_name": "Y"}]),
            body_422(SCHEMA, "first_name", "error.expected.jsstring"),
        ),
        (
            json!([customer(1), {"email": "a@b.co", "first_name": "X", "last_name": "Y",
                   "addresses": [{"first_name": "A"}]}]),
            body_422(SCHEMA, "addresses.last_name", "error.path.missing"),
        ),
        (
            json!([customer(1), {"email": "not-an-email", "first_name": "X", "last_name": "Y"}]),
            body_422(
                "Create customers failed.",
                "1.email",
                "email is not a valid email address",
            ),
        ),
        (
            json!([customer(1), {"email": "a@b.co", "first_name": "X", "last_name": "Y", "channel_ids": []}]),
            body_422(
                "Create customers failed.",
                "1.channel_ids",
                "channel_ids cannot be empty",
            ),
        ),
        (
            json!([customer(1), {"email": "a@b.co", "first_name": "X", "last_name": "Y", "customer_group_id": 99}]),
            body_422(
                "Create customers failed.",
                "1.customer_group_id",
                "invalid customer group ID",
            ),
        ),
        (
            json!([{"email": "a@b.co", "first_name": "X", "last_name": "Y",
                    "addresses": [us_address(), {"first_name": "A", "last_name": "B", "address1": "x",
                                                 "city": "c", "country_code": "ZZ"}]}]),
            body_422(
                "Create customers failed.",
                "0.addresses.1.country_code",
                "invalid country code ZZ",
            ),
        ),
        (
            json!([{"email": "a@b.co", "first_name": "X", "last_name": "Y",
                    "authentication": {"new_password": "short"}}]),
            body_422(
                "Create customers failed.",
                "0.authentication.new_password",
                "Password must be at least 7 characters and contain letters and numbers",
            ),
        ),
        (
            json!({"email": "a@b.co"}),
            body_422(SCHEMA, "obj", "error.expected.jsarray"),
        ),
    ];
    for (batch, expected) in cases {
        let response = api.post("/v3/customers", batch.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{batch}"
        );
        assert_eq!(json_of(response).await, expected, "{batch}");
    }
    assert!(api.sandbox.customers().is_empty());
}

#[tokio::test]
async fn a_fourth_concurrent_put_gets_429() {
    let api = Api::start(config(5, V3Options::default())).await;
    api.sandbox.set_latency_ms(600);
    let put = |i: u64| api.put("/v3/customers", json!([{"id": i, "notes": "n"}]));
    let responses = futures::future::join_all((1..=5).map(put)).await;
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let rejected = responses
        .into_iter()
        .find(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .unwrap();
    assert_eq!(json_of(rejected).await["title"], "Too many requests");
    let counters = api.sandbox.counters();
    // The refused one is counted: 3 in flight + 1 (+1 if the two refused ones overlapped).
    assert!(
        (4..=5).contains(&counters.v3_max_concurrent_puts),
        "{}",
        counters.v3_max_concurrent_puts
    );
    assert_eq!(counters.v3_concurrency_rejected, 2);
    assert_eq!(counters.by_route["PUT /v3/customers"], 5);

    // Three at once is within the limit; POSTs have no limit by default.
    api.sandbox.reset_counters();
    let responses = futures::future::join_all((1..=3).map(put)).await;
    assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
    let posts = futures::future::join_all(
        (10..15).map(|i| api.post("/v3/customers", json!([customer(i)]))),
    )
    .await;
    assert!(posts.iter().all(|r| r.status() == StatusCode::OK));
    let counters = api.sandbox.counters();
    assert_eq!(counters.v3_max_concurrent_puts, 3);
    assert_eq!(counters.v3_concurrency_rejected, 0);
}

#[tokio::test]
async fn delete_without_id_in_is_never_applied_and_is_counted() {
    let api = Api::start(config(4, V3Options::default())).await;
    let response = api.delete("/v3/customers").await;
    assert_eq!(
        response.status(),
        StatusCode::NO_CONTENT,
        "SPEC3: 204, no change"
    );
    let response = api.delete("/v3/customers?id:in=").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(api.sandbox.customers().len(), 4);
    assert_eq!(api.sandbox.counters().v3_unfiltered_deletes, 2);
    assert_eq!(api.sandbox.counters().collection_deletes, 0, "not V2's");

    let response = api.delete("/v3/customers?id:in=1,3,99").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(ids_of(&api.sandbox.customers()), [2, 4]);
    assert_eq!(
        api.get("/v2/customers/1").await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(api.sandbox.addresses(1).is_empty());
    assert_eq!(api.sandbox.counters().v3_unfiltered_deletes, 2);

    let options = V3Options {
        unfiltered_delete: V3UnfilteredDelete::Refuse422,
        ..V3Options::default()
    };
    let api = Api::start(config(2, options)).await;
    let response = api.delete("/v3/customers").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.sandbox.customers().len(), 2);
    assert_eq!(api.sandbox.counters().v3_unfiltered_deletes, 1);
}

#[tokio::test]
async fn pages_carry_the_documented_meta_and_cursors_walk_every_customer() {
    let api = Api::start(config(7, V3Options::default())).await;
    let body = json_of(api.get("/v3/customers?limit=3&page=2").await).await;
    assert_eq!(ids_of(body["data"].as_array().unwrap()), [4, 5, 6]);
    let p = &body["meta"]["pagination"];
    assert_eq!(
        (
            p["total"].clone(),
            p["count"].clone(),
            p["per_page"].clone()
        ),
        (json!(7), json!(3), json!(3))
    );
    assert_eq!(
        (p["current_page"].clone(), p["total_pages"].clone()),
        (json!(2), json!(3))
    );
    assert_eq!(p["links"]["previous"], "?page=1&limit=3");
    assert_eq!(p["links"]["current"], "?page=2&limit=3");
    assert_eq!(p["links"]["next"], "?page=3&limit=3");
    assert!(body["meta"].get("cursor_pagination").is_none(), "page > 1");

    let first = json_of(api.get("/v3/customers?limit=3").await).await;
    assert!(first["meta"]["pagination"]["links"]
        .get("previous")
        .is_none());
    let mut cursor = first["meta"]["cursor_pagination"]["end_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let mut seen = ids_of(first["data"].as_array().unwrap());
    loop {
        let page = json_of(
            api.get(&format!("/v3/customers?limit=3&after={cursor}"))
                .await,
        )
        .await;
        assert!(
            page["meta"].get("pagination").is_none(),
            "cursor: only cursor_pagination"
        );
        seen.extend(ids_of(page["data"].as_array().unwrap()));
        let meta = &page["meta"]["cursor_pagination"];
        if meta["links"].get("next").is_none() {
            break;
        }
        cursor = meta["end_cursor"].as_str().unwrap().to_string();
    }
    assert_eq!(seen, (1..=7).collect::<Vec<u64>>());

    // An empty page is 200 with `data: []`, not V2's 204.
    let empty = api.get("/v3/customers?page=9").await;
    assert_eq!(empty.status(), StatusCode::OK);
    assert_eq!(json_of(empty).await["data"], json!([]));

    let over = api.get("/v3/customers?limit=251").await;
    assert_eq!(over.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn include_addresses_embeds_what_v2_lists() {
    let api = Api::start(config(30, V3Options::default())).await;
    let data = api
        .data("/v3/customers?limit=30&include=addresses,formfields")
        .await;
    let mut with_addresses = 0;
    for c in &data {
        let id = c["id"].as_u64().unwrap();
        let v2 = api.sandbox.addresses(id);
        let embedded = c["addresses"].as_array().unwrap();
        assert_eq!(embedded.len(), v2.len().min(10), "customer {id}");
        assert_eq!(c["address_count"], v2.len());
        for (a, b) in embedded.iter().zip(&v2) {
            assert_eq!(a["id"], b["id"]);
            assert_eq!(a["address1"], b["street_1"]);
            assert_eq!(a["country_code"], b["country_iso2"]);
        }
        with_addresses += usize::from(!v2.is_empty());
        let v2_fields = api.sandbox.customers()[id as usize - 1]["form_fields"].clone();
        let v3_fields: Vec<Value> = c["form_fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| json!({"name": f["name"], "value": f["value"]}))
            .collect();
        match v2_fields {
            Value::Array(list) => assert_eq!(v3_fields, list),
            _ => assert!(v3_fields.is_empty()),
        }
    }
    assert!(with_addresses > 0, "the seed has addresses");
}

#[tokio::test]
async fn include_addresses_truncates_at_ten_unless_switched_off() {
    for (limit, shown) in [(Some(10), 10), (None, 12)] {
        let options = V3Options {
            include_addresses_limit: limit,
            ..V3Options::default()
        };
        let api = Api::start(config(0, options)).await;
        let body = json_of(api.post("/v3/customers", json!([customer(1)])).await).await;
        let id = body["data"][0]["id"].as_u64().unwrap();
        for n in 0..12 {
            let mut a = us_address();
            a["customer_id"] = json!(id);
            a["address1"] = json!(format!("{n} Main St"));
            let response = api.post("/v3/customers/addresses", json!([a])).await;
            assert_eq!(response.status(), StatusCode::OK);
        }
        let data = api
            .data(&format!("/v3/customers?id:in={id}&include=addresses"))
            .await;
        assert_eq!(data[0]["addresses"].as_array().unwrap().len(), shown);
        assert_eq!(data[0]["address_count"], 12);
    }
}

#[tokio::test]
async fn filters_select_and_order_as_asked() {
    let api = Api::start(config(0, V3Options::default())).await;
    for (email, first, last, group, created) in [
        ("a@x.co", "Ada", "Lovelace", 1, "2024-01-01T00:00:00Z"),
        ("b@x.co", "Bob", "Smith", 2, "2024-02-01T00:00:00Z"),
        ("c@x.co", "Cy", "Adams", 2, "2024-03-01T00:00:00Z"),
    ] {
        api.sandbox.insert_customer(
            json!({"email": email, "first_name": first, "last_name": last,
            "customer_group_id": group, "date_created": created}),
        );
    }
    let ids = |data: Vec<Value>| ids_of(&data);
    assert_eq!(ids(api.data("/v3/customers?id:in=3,1,2").await), [1, 2, 3]);
    assert_eq!(
        ids(api.data("/v3/customers?email:in=B@X.CO,c@x.co").await),
        [2, 3]
    );
    assert_eq!(ids(api.data("/v3/customers?name:like=ada").await), [1, 3]);
    assert_eq!(
        ids(api.data("/v3/customers?name:in=bob%20smith").await),
        [2]
    );
    assert_eq!(
        ids(api.data("/v3/customers?customer_group_id:in=2").await),
        [2, 3]
    );
    assert_eq!(
        ids(api
            .data("/v3/customers?date_created:min=2024-02-01&date_created:max=2024-02-15")
            .await),
        [2]
    );
    assert_eq!(
        ids(api.data("/v3/customers?sort=last_name:asc").await),
        [3, 1, 2]
    );
    assert_eq!(
        ids(api.data("/v3/customers?sort=date_created:desc").await),
        [3, 2, 1]
    );

    let response = api.get("/v3/customers?foo=1&min_id=2").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json_of(response).await,
        json!({"status": 422, "title": "The filter(s): foo, min_id are not valid filter parameter(s).",
               "type": ERROR_TYPE, "errors": {}})
    );
    assert_eq!(
        api.get("/v3/customers?sort=id:asc").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no id sort"
    );

    let options = V3Options {
        id_in_order: V3IdInOrder::Requested,
        ..V3Options::default()
    };
    let api = Api::start(config(3, options)).await;
    assert_eq!(ids(api.data("/v3/customers?id:in=3,1,2").await), [3, 1, 2]);
}

#[tokio::test]
async fn address_batches_drop_identical_addresses_silently() {
    let api = Api::start(config(0, V3Options::default())).await;
    let body = json_of(api.post("/v3/customers", json!([customer(1)])).await).await;
    let id = body["data"][0]["id"].as_u64().unwrap();
    let mut address = us_address();
    address["customer_id"] = json!(id);
    let mut other = address.clone();
    other["address1"] = json!("2 Main St");

    let response = api
        .post("/v3/customers/addresses", json!([address, address, other]))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let created = json_of(response).await["data"].as_array().unwrap().clone();
    assert_eq!(created.len(), 2, "the repeat is absent");
    assert_eq!(created[0]["address1"], "1 Main St");
    assert_eq!(created[1]["address1"], "2 Main St");
    let response = api.post("/v3/customers/addresses", json!([address])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await["data"], json!([]));
    assert_eq!(api.sandbox.addresses(id).len(), 2);

    // Making one identical to the other is no change, and absent too.
    let second = created[1]["id"].as_u64().unwrap();
    let response = api
        .put(
            "/v3/customers/addresses",
            json!([{"id": second, "address1": "1 Main St"}]),
        )
        .await;
    assert_eq!(json_of(response).await["data"], json!([]));
    let response = api
        .put(
            "/v3/customers/addresses",
            json!([{"id": second, "address1": "3 Main St", "phone": "555",
                    "form_fields": [{"name": "Door", "value": "blue"}]}]),
        )
        .await;
    let updated = json_of(response).await["data"][0].clone();
    assert_eq!(updated["address1"], "3 Main St");
    assert_eq!(
        updated["form_fields"],
        json!([{"name": "Door", "value": "blue", "address_id": second}])
    );
    assert_eq!(api.sandbox.addresses(id)[1]["street_1"], "3 Main St");

    let listed = api
        .data(&format!("/v3/customers/addresses?customer_id:in={id}"))
        .await;
    assert_eq!(listed.len(), 2);
    assert!(listed[0].get("form_fields").is_none());

    // Errors: unknown customer / address by index; missing required fields by name; > 10.
    let mut stranger = us_address();
    stranger["customer_id"] = json!(999);
    let response = api
        .post("/v3/customers/addresses", json!([other, stranger]))
        .await;
    assert_eq!(
        json_of(response).await,
        body_422(
            "Create customer addresses failed.",
            "1.customer_id",
            "invalid customer ID"
        )
    );
    let response = api
        .post("/v3/customers/addresses", json!([{"customer_id": id}]))
        .await;
    assert_eq!(
        json_of(response).await,
        body_422(SCHEMA, "first_name", "error.path.missing")
    );
    let response = api
        .put(
            "/v3/customers/addresses",
            json!([{"id": 9999, "city": "X"}]),
        )
        .await;
    assert_eq!(
        json_of(response).await,
        body_422(
            "Update customer addresses failed.",
            "0.id",
            "invalid address ID"
        )
    );
    let eleven: Vec<Value> = (0..11).map(|_| other.clone()).collect();
    let response = api.post("/v3/customers/addresses", json!(eleven)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let response = api
        .delete(&format!("/v3/customers/addresses?id:in={second}"))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(api.sandbox.addresses(id).len(), 1);
}

#[tokio::test]
async fn validate_credentials_answers_is_valid_and_the_id() {
    let api = Api::start(config(0, V3Options::default())).await;
    let created = json_of(
        api.post(
            "/v3/customers",
            json!([{"email": "p@x.co", "first_name": "P", "last_name": "Q",
                    "authentication": {"new_password": "letmein99"}}]),
        )
        .await,
    )
    .await;
    let id = created["data"][0]["id"].as_u64().unwrap();
    let check = |password: &str| {
        api.post(
            "/v3/customers/validate-credentials",
            json!({"email": "P@x.co", "password": password}),
        )
    };
    assert_eq!(
        json_of(check("letmein99").await).await,
        json!({"is_valid": true, "customer_id": id})
    );
    assert_eq!(
        json_of(check("wrong").await).await,
        json!({"is_valid": false, "customer_id": null})
    );
    let response = api
        .post(
            "/v3/customers/validate-credentials",
            json!({"email": "p@x.co"}),
        )
        .await;
    assert_eq!(
        json_of(response).await,
        body_422(SCHEMA, "password", "error.path.missing")
    );
}

#[tokio::test]
async fn store_credit_on_put_sets_or_adds_as_switched() {
    for (mode, expected) in [
        (V3StoreCredit::Set, "5.0000"),
        (V3StoreCredit::Add, "15.0000"),
    ] {
        let options = V3Options {
            store_credit_on_put: mode,
            ..V3Options::default()
        };
        let api = Api::start(config(0, options)).await;
        let id = api.sandbox.insert_customer(
            json!({"email": "s@x.co", "first_name": "S", "last_name": "C", "store_credit": "10"}),
        );
        let response = api
            .put(
                "/v3/customers",
                json!([{"id": id, "store_credit_amounts": [{"amount": 5}]}]),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let v2 = json_of(api.get(&format!("/v2/customers/{id}")).await).await;
        assert_eq!(v2["store_credit"], expected, "{mode:?}");
    }
}

#[tokio::test]
async fn v2_and_v3_share_one_quota_window() {
    let cfg = SandboxConfig {
        quota: Some(3),
        window_ms: 60_000,
        ..config(1, V3Options::default())
    };
    let api = Api::start(cfg).await;
    assert_eq!(api.get("/v2/customers").await.status(), StatusCode::OK);
    let response = api.get("/v3/customers").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-rate-limit-requests-left"], "1");
    assert_eq!(response.headers()["x-rate-limit-requests-quota"], "3");
    assert!(response
        .headers()
        .contains_key("x-rate-limit-time-reset-ms"));
    assert_eq!(
        api.get("/v2/customers/count").await.status(),
        StatusCode::OK
    );
    let response = api.post("/v3/customers", json!([customer(1)])).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("x-retry-after"));
    let body = json_of(response).await;
    assert_eq!(body["status"], 429, "V3's error object");
    assert!(body["errors"].is_object());
    assert_eq!(api.sandbox.customers().len(), 1, "a 429 writes nothing");
}

#[tokio::test]
async fn fault_knobs_apply_to_v3_routes() {
    let api = Api::start(config(2, V3Options::default())).await;

    api.sandbox.set_faults(1.0, 0.0, 0.0);
    let response = api.get("/v3/customers").await;
    assert!(response.status().is_server_error());
    let response = api.post("/v3/customers", json!([customer(1)])).await;
    assert!(response.status().is_server_error());
    assert_eq!(
        api.sandbox.customers().len(),
        2,
        "an injected 5xx writes nothing"
    );

    api.sandbox.set_faults(0.0, 1.0, 0.0);
    let dropped = api
        .try_send(
            Method::PUT,
            "/v3/customers",
            Some(json!([{"id": 1, "notes": "x"}])),
        )
        .await;
    assert!(dropped.is_err(), "connection dropped");

    // A lost response: the batch is written, the client sees a transport error.
    api.sandbox.set_faults(0.0, 0.0, 1.0);
    let lost = api
        .try_send(
            Method::POST,
            "/v3/customers",
            Some(json!([customer(5), customer(6)])),
        )
        .await;
    assert!(lost.is_err(), "no response after the commit");
    api.sandbox.set_faults(0.0, 0.0, 0.0);
    let found = api
        .data("/v3/customers?email:in=person5@example.com,person6@example.com")
        .await;
    assert_eq!(found.len(), 2);

    let counters = api.sandbox.counters();
    assert_eq!(counters.injected_5xx, 2);
    assert_eq!(counters.dropped, 1);
    assert_eq!(counters.lost_responses, 1);
    assert_eq!(counters.by_route["POST /v3/customers"], 2);
    assert_eq!(counters.by_route["GET /v3/customers"], 2);

    api.sandbox.set_token_revoked(true);
    let response = api.get("/v3/customers").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(response).await["status"], 401);
}

#[tokio::test]
async fn latency_applies_to_v3_routes() {
    let api = Api::start(config(1, V3Options::default())).await;
    api.sandbox.set_latency_ms(150);
    let started = std::time::Instant::now();
    assert_eq!(api.get("/v3/customers").await.status(), StatusCode::OK);
    // A lower bound only: the answer cannot come before the configured latency.
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn percent_encoded_date_values_are_refused_unless_switched_off() {
    let api = Api::start(config(2, V3Options::default())).await;
    let raw = "/v3/customers?date_created:min=1990-01-01T00:00:00";
    assert_eq!(api.data(raw).await.len(), 2);
    // An encoded parameter name is fine; an encoded value is not (reference §4).
    assert_eq!(
        api.data("/v3/customers?date_created%3Amin=1990-01-01T00:00:00")
            .await
            .len(),
        2
    );
    let encoded = api
        .get("/v3/customers?date_created:min=1990-01-01T00%3A00%3A00")
        .await;
    assert_eq!(encoded.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json_of(encoded).await["title"],
        "The filter(s): date_created:min are not valid filter parameter(s)."
    );

    let options = V3Options {
        refuse_encoded_dates: false,
        ..V3Options::default()
    };
    let api = Api::start(config(2, options)).await;
    let encoded = "/v3/customers?date_created:min=1990-01-01T00%3A00%3A00";
    assert_eq!(api.data(encoded).await.len(), 2);
}

#[tokio::test]
async fn read_only_fields_are_ignored_or_rejected_as_switched() {
    let options = V3Options {
        read_only_fields: V3ReadOnly::Rejected,
        ..V3Options::default()
    };
    let api = Api::start(config(1, options)).await;
    let response = api
        .put(
            "/v3/customers",
            json!([{"id": 1, "notes": "ok"}, {"id": 1, "date_created": "2020-01-01T00:00:00Z"}]),
        )
        .await;
    assert_eq!(
        json_of(response).await,
        body_422(
            "Update customers failed.",
            "1.date_created",
            "field is read-only"
        )
    );
    let mut with_ip = customer(1);
    with_ip["registration_ip_address"] = json!("10.0.0.1");
    let response = api.post("/v3/customers", json!([with_ip])).await;
    assert_eq!(
        json_of(response).await,
        body_422(
            "Create customers failed.",
            "0.registration_ip_address",
            "field is read-only"
        )
    );
    assert_eq!(api.sandbox.customers().len(), 1);

    let api = Api::start(config(0, V3Options::default())).await;
    let response = api.post("/v3/customers", json!([with_ip])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_of(response).await["data"][0]["registration_ip_address"],
        ""
    );
}

#[tokio::test]
async fn date_bounds_include_or_exclude_the_bound_as_switched() {
    for (exclusive, expected) in [(false, vec![1, 2, 3]), (true, vec![2])] {
        let options = V3Options {
            exclusive_date_bounds: exclusive,
            ..V3Options::default()
        };
        let api = Api::start(config(0, options)).await;
        for (i, created) in [
            "2024-01-01T00:00:00Z",
            "2024-01-02T00:00:00Z",
            "2024-01-03T00:00:00Z",
        ]
        .iter()
        .enumerate()
        {
            let mut c = customer(i);
            c["date_created"] = json!(created);
            api.sandbox.insert_customer(c);
        }
        let path = "/v3/customers?date_created:min=2024-01-01T00:00:00&date_created:max=2024-01-03";
        assert_eq!(
            ids_of(&api.data(path).await),
            expected,
            "exclusive {exclusive}"
        );
    }
}

#[tokio::test]
async fn form_fields_written_by_v3_are_upserted_by_name_and_seen_by_v2() {
    let api = Api::start(config(20, V3Options::default())).await;
    let seeded = api
        .sandbox
        .customers()
        .into_iter()
        .find(|c| c["form_fields"].as_array().is_some_and(|f| !f.is_empty()))
        .expect("a seeded customer with form fields");
    let id = seeded["id"].as_u64().unwrap();
    let mut expected = seeded["form_fields"].as_array().unwrap().clone();
    let first_name = expected[0]["name"].clone();
    let response = api
        .put(
            "/v3/customers",
            json!([{"id": id, "form_fields": [{"name": first_name, "value": "changed"},
                                              {"name": "Door", "value": ["a", "b"]}]}]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    expected[0]["value"] = json!("changed");
    expected.push(json!({"name": "Door", "value": ["a", "b"]}));
    let v2 = json_of(api.get(&format!("/v2/customers/{id}")).await).await;
    assert_eq!(v2["form_fields"], json!(expected));
}

#[tokio::test]
async fn errors_before_the_route_are_v3_objects_too() {
    let api = Api::start(config(0, V3Options::default())).await;
    let response = api
        .request(Method::POST, "/v3/customers")
        .header("Content-Type", "text/plain")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(json_of(response).await["status"], 415);
    let response = api.send(Method::PATCH, "/v3/customers", None).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json_of(response).await["status"], 405);
    assert_eq!(
        api.get("/v3/customers/nope").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn post_and_address_limits_follow_the_switches() {
    let options = V3Options {
        post_concurrency: Some(1),
        address_batch_limit: 2,
        ..V3Options::default()
    };
    let api = Api::start(config(0, options)).await;
    api.sandbox.set_latency_ms(400);
    let posts =
        futures::future::join_all((0..2).map(|i| api.post("/v3/customers", json!([customer(i)]))))
            .await;
    let mut statuses: Vec<u16> = posts.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 429]);
    assert_eq!(
        api.sandbox.customers().len(),
        1,
        "the refused POST wrote nothing"
    );
    api.sandbox.set_latency_ms(0);

    let id = api.sandbox.customers()[0]["id"].as_u64().unwrap();
    let address = |n: usize| {
        let mut a = us_address();
        a["customer_id"] = json!(id);
        a["address1"] = json!(format!("{n} Main St"));
        a
    };
    let response = api
        .post(
            "/v3/customers/addresses",
            json!([address(1), address(2), address(3)]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(json_of(response).await["title"]
        .as_str()
        .unwrap()
        .ends_with("allowed in the array is 2."));
    let response = api
        .post("/v3/customers/addresses", json!([address(1), address(2)]))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    // PUT /v3/customers/addresses: 3 at once.
    api.sandbox.set_latency_ms(500);
    let first = api.sandbox.addresses(id)[0]["id"].as_u64().unwrap();
    let puts = futures::future::join_all((0..4).map(|n| {
        api.put(
            "/v3/customers/addresses",
            json!([{"id": first, "company": format!("Co {n}")}]),
        )
    }))
    .await;
    let refused = puts
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(refused, 1);
    assert_eq!(api.sandbox.counters().v3_concurrency_rejected, 2);
}

/// Every V3 route: `(method, path, body)`, writes with a body that commits on a fresh store
/// seeded with 3 customers (customer 1 has an address added by [`with_an_address`]).
fn every_v3_route(address_id: u64) -> Vec<(Method, String, Option<Value>)> {
    let mut address = us_address();
    address["customer_id"] = json!(2);
    vec![
        (Method::GET, "/v3/customers".into(), None),
        (
            Method::POST,
            "/v3/customers".into(),
            Some(json!([customer(50)])),
        ),
        (
            Method::PUT,
            "/v3/customers".into(),
            Some(json!([{"id": 1, "notes": "changed"}])),
        ),
        (Method::DELETE, "/v3/customers?id:in=3".into(), None),
        (Method::GET, "/v3/customers/addresses".into(), None),
        (
            Method::POST,
            "/v3/customers/addresses".into(),
            Some(json!([address])),
        ),
        (
            Method::PUT,
            "/v3/customers/addresses".into(),
            Some(json!([{"id": address_id, "city": "Dallas"}])),
        ),
        (
            Method::DELETE,
            format!("/v3/customers/addresses?id:in={address_id}"),
            None,
        ),
        (
            Method::POST,
            "/v3/customers/validate-credentials".into(),
            Some(json!({"email": "person50@example.com", "password": "x"})),
        ),
    ]
}

/// A store of 3 seeded customers plus one address of customer 1 with a known id.
async fn with_an_address(api: &Api) -> u64 {
    let mut address = us_address();
    address["customer_id"] = json!(1);
    address["address1"] = json!("77 Known St");
    let body = json_of(api.post("/v3/customers/addresses", json!([address])).await).await;
    body["data"][0]["id"].as_u64().expect("address id")
}

/// What a client can see of the store: every customer (V2 form) and every address.
fn state(api: &Api) -> Vec<Value> {
    let customers = api.sandbox.customers();
    let mut all = customers.clone();
    for c in &customers {
        all.extend(api.sandbox.addresses(c["id"].as_u64().unwrap()));
    }
    all
}

#[tokio::test]
async fn every_v3_route_gets_injected_5xx_and_drops_before_any_change() {
    for (kind, rates) in [("5xx", (1.0, 0.0)), ("drop", (0.0, 1.0))] {
        let api = Api::start(config(3, V3Options::default())).await;
        let address_id = with_an_address(&api).await;
        let before = state(&api);
        api.sandbox.reset_counters();
        api.sandbox.set_faults(rates.0, rates.1, 0.0);
        let routes = every_v3_route(address_id);
        for (method, path, body) in &routes {
            let answer = api.try_send(method.clone(), path, body.clone()).await;
            match kind {
                "5xx" => assert!(
                    answer.expect("an answer").status().is_server_error(),
                    "{method} {path}"
                ),
                _ => assert!(answer.is_err(), "{method} {path}: dropped"),
            }
        }
        assert_eq!(state(&api), before, "{kind}: nothing changed");
        let counters = api.sandbox.counters();
        let n = routes.len() as u64;
        match kind {
            "5xx" => assert_eq!(counters.injected_5xx, n),
            _ => assert_eq!(counters.dropped, n),
        }
        assert_eq!(counters.writes_committed, 0);
    }
}

#[tokio::test]
async fn every_v3_write_can_lose_its_answer_after_the_commit() {
    let api = Api::start(config(3, V3Options::default())).await;
    let address_id = with_an_address(&api).await;
    api.sandbox.reset_counters();
    api.sandbox.set_faults(0.0, 0.0, 1.0);
    let mut writes = 0;
    for (method, path, body) in every_v3_route(address_id) {
        let before = state(&api);
        let answer = api.try_send(method.clone(), &path, body).await;
        let commits = method != Method::GET && !path.ends_with("validate-credentials");
        if commits {
            writes += 1;
            assert!(answer.is_err(), "{method} {path}: the answer is lost");
            assert_ne!(
                state(&api),
                before,
                "{method} {path}: but the change was made"
            );
        } else {
            // Reads and a credentials check change nothing, so there is nothing to lose.
            assert!(
                answer.expect("answered").status().is_success(),
                "{method} {path}"
            );
        }
    }
    api.sandbox.set_faults(0.0, 0.0, 0.0);
    let counters = api.sandbox.counters();
    assert_eq!(counters.lost_responses, writes);
    assert_eq!(counters.writes_committed, writes);
    assert_eq!(
        api.data("/v3/customers?email:in=person50@example.com")
            .await
            .len(),
        1
    );
    assert_eq!(
        json_of(api.get("/v2/customers/1").await).await["notes"],
        "changed"
    );
    assert_eq!(
        api.get("/v2/customers/3").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_rejected_address_batch_writes_none_of_it() {
    let api = Api::start(config(2, V3Options::default())).await;
    let before = api.sandbox.addresses(1).len();
    let mut good = us_address();
    good["customer_id"] = json!(1);
    good["address1"] = json!("5 New St");
    let mut bad = good.clone();
    bad["country_code"] = json!("ZZ");
    let response = api
        .post("/v3/customers/addresses", json!([good, bad]))
        .await;
    assert_eq!(
        json_of(response).await,
        body_422(
            "Create customer addresses failed.",
            "1.country_code",
            "invalid country code ZZ"
        )
    );
    assert_eq!(api.sandbox.addresses(1).len(), before, "all-or-nothing");
    assert_eq!(api.sandbox.counters().writes_committed, 0);
}

#[tokio::test]
async fn a_delete_with_a_bad_id_list_is_422_and_deletes_nothing() {
    let api = Api::start(config(3, V3Options::default())).await;
    for path in [
        "/v3/customers?id:in=1,x",
        "/v3/customers?id:in=1&email:in=a@b.co",
    ] {
        let response = api.delete(path).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}"
        );
        assert_eq!(json_of(response).await["status"], 422);
    }
    assert_eq!(api.sandbox.customers().len(), 3);
    let counters = api.sandbox.counters();
    assert_eq!(counters.writes_committed, 0);
    assert_eq!(counters.v3_unfiltered_deletes, 0, "these named ids");
}

#[tokio::test]
async fn a_put_batch_naming_one_email_twice_is_refused_whole() {
    let api = Api::start(config(3, V3Options::default())).await;
    let before = api.sandbox.customers();
    let response = api
        .put(
            "/v3/customers",
            json!([{"id": 1, "email": "same@example.com"}, {"id": 2, "email": "SAME@example.com"}]),
        )
        .await;
    assert_eq!(
        json_of(response).await,
        body_422(
            "Update customers failed.",
            ".customer_update",
            "Error updating customers: email SAME@example.com already in use"
        )
    );
    assert_eq!(api.sandbox.customers(), before);
}
