//! Tests of the sandbox through HTTP, as the client sees it.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{Sandbox, SandboxConfig};

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

    fn url(&self, path: &str) -> String {
        format!(
            "{}/stores/{}/v2{path}",
            self.sandbox.base_url(),
            self.sandbox.store_hash()
        )
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("X-Auth-Token", self.sandbox.token())
            .header("Accept", "application/json")
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("GET answered")
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> reqwest::Response {
        self.request(method, path)
            .json(&body)
            .send()
            .await
            .expect("request answered")
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn put(&self, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, path, body).await
    }

    async fn delete(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::DELETE, path)
            .send()
            .await
            .expect("DELETE answered")
    }
}

fn seeded(seed: usize) -> SandboxConfig {
    SandboxConfig {
        seed,
        rng_seed: 7,
        ..SandboxConfig::default()
    }
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// The message of a V2 error array.
async fn error_message(response: reqwest::Response) -> String {
    let body = json_of(response).await;
    body[0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("not a V2 error array: {body}"))
        .to_string()
}

fn new_customer(email: &str) -> Value {
    json!({"first_name": "Zoë", "last_name": "Łukasiewicz", "email": email})
}

#[tokio::test]
async fn requests_without_the_token_get_401() {
    let api = Api::start(seeded(3)).await;
    let response = api
        .http
        .get(api.url("/customers"))
        .header("X-Auth-Token", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = json_of(response).await;
    assert_eq!(body[0]["status"], 401);
    let response = api.http.get(api.url("/customers")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let counters = api.sandbox.counters();
    assert_eq!((counters.total, counters.unauthorized), (2, 2));
}

#[tokio::test]
async fn empty_pages_are_204_with_no_body() {
    let api = Api::start(SandboxConfig::default()).await;
    let response = api.get("/customers").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());

    let api = Api::start(seeded(5)).await;
    let response = api.get("/customers?page=2&limit=5").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = api.get("/customers?email=nobody@example.com").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn limit_above_250_is_413_and_bad_paging_is_400() {
    let api = Api::start(seeded(3)).await;
    let response = api.get("/customers?limit=251").await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        json_of(response).await,
        json!([{"status": 413, "message": "The specified limit exceeds the maximum allowed.", "details": {"max_limit": 250}}])
    );
    for query in ["limit=0", "limit=abc", "page=0", "page=x"] {
        let response = api.get(&format!("/customers?{query}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    assert_eq!(
        api.get("/customers?limit=250").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn min_id_pages_walk_every_customer_once_in_id_order() {
    let api = Api::start(seeded(600)).await;
    let mut next = 1;
    let mut seen = Vec::new();
    loop {
        let response = api
            .get(&format!("/customers?min_id={next}&limit=250"))
            .await;
        if response.status() == StatusCode::NO_CONTENT {
            break;
        }
        let page = json_of(response).await;
        let ids: Vec<u64> = page
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_u64().unwrap())
            .collect();
        next = ids.last().unwrap() + 1;
        seen.extend(ids);
    }
    assert_eq!(seen, (1..=600).collect::<Vec<u64>>());

    // page offsets agree with keyset paging
    let page3 = json_of(api.get("/customers?page=3&limit=250").await).await;
    assert_eq!(page3.as_array().unwrap().len(), 100);
    assert_eq!(page3[0]["id"], 501);
    let default_page = json_of(api.get("/customers").await).await;
    assert_eq!(default_page.as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn customer_json_has_the_api_shape() {
    let api = Api::start(seeded(40)).await;
    let customers = api.sandbox.customers();
    assert_eq!(customers.len(), 40);
    let with_fields = customers
        .iter()
        .find(|c| c["form_fields"].is_array())
        .expect("some seeded customer has form fields");
    assert!(with_fields["form_fields"][0]["name"].is_string());
    assert!(customers.iter().any(|c| c["form_fields"] == json!({})));
    // the last one carries every field name, including the rare late ones
    let last = &customers[39]["form_fields"];
    assert!(last
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "VAT number"));

    let one = json_of(api.get("/customers/3").await).await;
    assert_eq!(one, customers[2]);
    let keys: Vec<&str> = one
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "company",
        "first_name",
        "last_name",
        "email",
        "phone",
        "form_fields",
        "date_created",
        "date_modified",
        "store_credit",
        "registration_ip_address",
        "customer_group_id",
        "notes",
        "tax_exempt_category",
        "reset_pass_on_login",
        "accepts_marketing",
        "addresses",
    ] {
        assert!(keys.contains(&key), "missing {key}");
    }
    assert_eq!(keys.len(), 17, "no password or extra fields: {keys:?}");
    let credit = one["store_credit"].as_str().unwrap();
    assert_eq!(credit.split('.').nth(1).map(str::len), Some(4), "{credit}");
    chrono::DateTime::parse_from_rfc2822(one["date_created"].as_str().unwrap()).unwrap();
    assert!(one["date_created"].as_str().unwrap().ends_with("+0000"));
    assert_eq!(one["addresses"]["resource"], "/customers/3/addresses");
    assert_eq!(
        one["addresses"]["url"],
        format!("{}/customers/3/addresses", api.url(""))
    );
    assert_eq!(
        api.get("/customers/999").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/customers/abc").await.status(),
        StatusCode::NOT_FOUND
    );

    // every third seeded customer has an address
    assert_eq!(api.sandbox.addresses(3).len(), 1);
    let addresses = json_of(api.get("/customers/3/addresses").await).await;
    assert_eq!(addresses[0]["customer_id"], 3);
    assert!(addresses[0]["country_iso2"].as_str().unwrap().len() == 2);
    assert_eq!(
        api.get("/customers/4/addresses").await.status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn seeding_is_deterministic_and_varied() {
    let a = Sandbox::start(seeded(300), 0).await.unwrap();
    let b = Sandbox::start(seeded(300), 0).await.unwrap();
    let strip = |mut v: Vec<Value>| {
        v.iter_mut()
            .for_each(|c| c["addresses"]["url"] = Value::Null);
        v
    };
    let customers = strip(a.customers());
    assert_eq!(customers, strip(b.customers()));
    let text = serde_json::to_string(&customers).unwrap();
    assert!(!text.is_ascii(), "non-ASCII names");
    let mut emails: Vec<String> = customers
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_lowercase())
        .collect();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), 300);
    let groups: std::collections::BTreeSet<u64> = customers
        .iter()
        .map(|c| c["customer_group_id"].as_u64().unwrap())
        .collect();
    assert_eq!(groups.into_iter().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert!(customers
        .iter()
        .any(|c| c["notes"].as_str().unwrap().contains('\n')));
    assert!(customers.iter().any(|c| c["store_credit"] != "0.0000"));
    assert!(customers.iter().any(|c| c["company"] != ""));
    assert_eq!(a.password_of(5).as_deref(), Some("seeded-pass-5"));
}

#[tokio::test]
async fn create_validates_and_refuses_duplicate_emails() {
    let api = Api::start(SandboxConfig::default()).await;
    let response = api
        .post(
            "/customers",
            json!({"first_name": "Zoë", "last_name": "Ng", "email": "zoe@example.com",
                   "store_credit": "12.5", "customer_group_id": 2, "phone": "+44 1",
                   "_authentication": {"password": "secret123", "password_confirmation": "secret123"}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let created = json_of(response).await;
    let id = created["id"].as_u64().unwrap();
    assert_eq!(created["store_credit"], "12.5000");
    assert_eq!(created["customer_group_id"], 2);
    assert_eq!(created["form_fields"], json!({}));
    assert_eq!(api.sandbox.password_of(id).as_deref(), Some("secret123"));

    let response = api
        .post("/customers", new_customer("ZOE@Example.com"))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = json_of(response).await;
    assert_eq!(
        body[0]["message"],
        "The email address 'ZOE@Example.com' is already in use by another customer."
    );
    assert!(body[0]["details"]["conflict_reason"].is_string());

    let cases = [
        (json!({"id": 5, "first_name": "a", "last_name": "b", "email": "a@example.com"}),
         "The field 'id' cannot be written to. Please remove it from your request before trying again."),
        (json!({"first_name": "a", "last_name": "b", "email": "a@example.com", "form_fields": []}),
         "The field 'form_fields' cannot be written to. Please remove it from your request before trying again."),
        (json!({"first_name": "a", "last_name": "b", "email": "a@example.com", "nickname": "x"}),
         "The field 'nickname' is invalid."),
        (json!({"first_name": "a", "email": "a@example.com"}), "Required fields missing [last_name]"),
        (json!({"first_name": "a", "last_name": "b", "email": "not an email"}), "The field 'email' is invalid."),
        (json!({"first_name": "a", "last_name": "b", "email": "a@example.com", "customer_group_id": 99}),
         "The field 'customer_group_id' is invalid."),
        (json!({"first_name": "a", "last_name": "b", "email": "a@example.com", "store_credit": -1}),
         "The field 'store_credit' is invalid."),
        (json!({"first_name": "a", "last_name": "b", "email": "a@example.com", "_authentication": {"password": "short1"}}),
         "The field 'password' is invalid."),
        (json!({"first_name": "a", "last_name": "b", "email": "a@example.com", "_authentication": {"password": "lettersonly"}}),
         "The field 'password' is invalid."),
    ];
    for (body, message) in cases {
        let response = api.post("/customers", body.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_message(response).await, message, "{body}");
    }
    let mismatch = json!({"first_name": "a", "last_name": "b", "email": "a@example.com",
                          "_authentication": {"password": "secret123", "password_confirmation": "secret124"}});
    assert_eq!(
        api.post("/customers", mismatch).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.sandbox.customers().len(),
        1,
        "no invalid create was committed"
    );

    // No password given: one is generated; force_reset sets reset_pass_on_login.
    let response = api
        .post(
            "/customers",
            json!({"first_name": "a", "last_name": "b", "email": "b@example.com",
                                    "_authentication": {"force_reset": true}}),
        )
        .await;
    let created = json_of(response).await;
    assert_eq!(created["reset_pass_on_login"], true);
    assert!(api
        .sandbox
        .password_of(created["id"].as_u64().unwrap())
        .is_some());
    let counters = api.sandbox.counters();
    assert_eq!(counters.writes, 13);
    assert_eq!(counters.writes_committed, 2);
    assert_eq!(counters.by_route["POST /customers"], 13);
}

#[tokio::test]
async fn update_delete_and_password_validation() {
    let api = Api::start(seeded(3)).await;
    api.post("/customers", new_customer("taken@example.com"))
        .await;
    let before = json_of(api.get("/customers/2").await).await;

    let response = api
        .put("/customers/2", json!({"email": "TAKEN@example.com"}))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let response = api.put("/customers/2", json!({"date_modified": "x"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = api.put("/customers/2", json!({"first_name": ""})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // changing one's own email's case is not a conflict
    let own = before["email"].as_str().unwrap().to_uppercase();
    let response = api
        .put(
            "/customers/2",
            json!({"email": own, "notes": "a, \"b\"\nc"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let after = json_of(response).await;
    assert_eq!(after["notes"], "a, \"b\"\nc");
    assert_eq!(after["first_name"], before["first_name"]);
    assert_eq!(
        json_of(
            api.get(&format!("/customers?email={}", own.to_lowercase()))
                .await
        )
        .await[0]["id"],
        2
    );

    assert_eq!(
        api.put("/customers/99", json!({"notes": "x"}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    let check = |password: &str| json!({ "password": password });
    let response = api
        .post("/customers/2/validate", check("seeded-pass-2"))
        .await;
    assert_eq!(json_of(response).await, json!({"success": true}));
    let response = api
        .post("/customers/2/validate", check("wrong-pass-1"))
        .await;
    assert_eq!(json_of(response).await, json!({"success": false}));
    assert_eq!(
        api.post("/customers/99/validate", check("x"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    api.put(
        "/customers/2",
        json!({"_authentication": {"password": "newpass99"}}),
    )
    .await;
    let response = api.post("/customers/2/validate", check("newpass99")).await;
    assert_eq!(json_of(response).await, json!({"success": true}));

    assert_eq!(
        api.delete("/customers/3").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete("/customers/3").await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        api.sandbox.addresses(3).is_empty(),
        "addresses go with the customer"
    );
    assert_eq!(
        json_of(api.get("/customers/count").await).await,
        json!({"count": 3})
    );
}

/// `exclusive_id_bounds`: min_id/max_id leave out the id they name, in lists and counts alike.
#[tokio::test]
async fn exclusive_id_bounds_leave_out_the_named_ids() {
    let api = Api::start(SandboxConfig {
        exclusive_id_bounds: true,
        ..seeded(20)
    })
    .await;
    let ids = |query: &str| {
        let api = &api;
        let query = query.to_string();
        async move {
            let response = api.get(&format!("/customers?{query}")).await;
            if response.status() == StatusCode::NO_CONTENT {
                return Vec::new();
            }
            json_of(response)
                .await
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_u64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids("min_id=10&max_id=13").await, [11, 12]);
    assert_eq!(ids("min_id=19").await, [20]);
    assert_eq!(ids("max_id=2").await, [1]);
    assert_eq!(ids("max_id=0").await, Vec::<u64>::new());
    assert_eq!(
        ids(&format!("min_id={}", u64::MAX)).await,
        Vec::<u64>::new()
    );
    let count = json_of(api.get("/customers/count?min_id=10&max_id=13").await).await;
    assert_eq!(count["count"], 2);
}

#[tokio::test]
async fn count_honours_the_list_filters() {
    let api = Api::start(seeded(200)).await;
    let all = api.sandbox.customers();
    let count = |query: &str| {
        let api = &api;
        let query = query.to_string();
        async move {
            json_of(api.get(&format!("/customers/count?{query}")).await).await["count"]
                .as_u64()
                .unwrap()
        }
    };
    assert_eq!(count("").await, 200);
    assert_eq!(count("min_id=151").await, 50);
    assert_eq!(count("min_id=10&max_id=19").await, 10);
    let in_group_2 = all.iter().filter(|c| c["customer_group_id"] == 2).count() as u64;
    assert_eq!(count("customer_group_id=2").await, in_group_2);
    let listed = json_of(api.get("/customers?customer_group_id=2&limit=250").await).await;
    assert_eq!(listed.as_array().unwrap().len() as u64, in_group_2);

    let email = all[17]["email"].as_str().unwrap().to_uppercase();
    assert_eq!(count(&format!("email={email}")).await, 1);

    let created: Vec<i64> = all
        .iter()
        .map(|c| {
            chrono::DateTime::parse_from_rfc2822(c["date_created"].as_str().unwrap())
                .unwrap()
                .timestamp()
        })
        .collect();
    let cut = created[99];
    let expected = created.iter().filter(|t| **t >= cut).count() as u64;
    let iso = chrono::DateTime::from_timestamp(cut, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert_eq!(count(&format!("min_date_created={iso}")).await, expected);
    let rfc = all[99]["date_created"].as_str().unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(rfc.as_bytes()).collect();
    assert_eq!(
        count(&format!("min_date_created={encoded}")).await,
        expected
    );
    assert_eq!(count("max_date_created=2000-01-01").await, 0);
    let response = api.get("/customers/count?min_date_created=yesterday").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        api.get("/customers?max_date_modified=31/12/2020")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(count("unknown_key=1").await, 200);
}

#[tokio::test]
async fn quota_gives_429_with_rate_headers() {
    let api = Api::start(SandboxConfig {
        quota: Some(3),
        window_ms: 60_000,
        ..seeded(2)
    })
    .await;
    let header = |r: &reqwest::Response, name: &str| -> Option<u64> {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().parse().unwrap())
    };
    for left in [2, 1, 0] {
        let response = api.get("/customers").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "X-Rate-Limit-Requests-Left"), Some(left));
        assert_eq!(header(&response, "X-Rate-Limit-Requests-Quota"), Some(3));
        assert_eq!(
            header(&response, "X-Rate-Limit-Time-Window-Ms"),
            Some(60_000)
        );
        assert!(header(&response, "X-Rate-Limit-Time-Reset-Ms").unwrap() <= 60_000);
        assert!(header(&response, "X-Retry-After").is_none());
    }
    let response = api.get("/customers").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "X-Rate-Limit-Requests-Left"), Some(0));
    let reset = header(&response, "X-Rate-Limit-Time-Reset-Ms").unwrap();
    assert_eq!(
        header(&response, "X-Retry-After"),
        Some(reset.div_ceil(1000))
    );
    assert_eq!(
        json_of(response).await,
        json!([{"status": 429, "message": "You have exceeded your request quota."}])
    );
    assert_eq!(api.sandbox.counters().rate_limited, 1);

    // A short window refreshes the quota. (Several tries: a window may end between two.)
    let api = Api::start(SandboxConfig {
        quota: Some(1),
        window_ms: 400,
        rate_headers_on_429: false,
        ..seeded(2)
    })
    .await;
    let mut limited = None;
    for _ in 0..10 {
        let response = api.get("/customers/count").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("a 429 within one window");
    assert!(
        limited
            .headers()
            .keys()
            .all(|k| !k.as_str().starts_with("x-r")),
        "429 without rate headers: {:?}",
        limited.headers()
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(api.get("/customers/count").await.status(), StatusCode::OK);

    // Unlimited: no rate headers at all.
    let api = Api::start(seeded(1)).await;
    let response = api.get("/customers").await;
    assert!(response
        .headers()
        .get("x-rate-limit-requests-left")
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_get_no_response() {
    let sandbox = Sandbox::start(
        SandboxConfig {
            drop_rate: 1.0,
            ..seeded(2)
        },
        0,
    )
    .await
    .unwrap();
    let addr = sandbox.addr();
    let request = format!(
        "GET /stores/sandbox/v2/customers HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: sandbox-token\r\n\r\n"
    );
    let received = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received);
        received
    })
    .await
    .unwrap();
    assert!(
        received.is_empty(),
        "got {:?}",
        String::from_utf8_lossy(&received)
    );
    assert_eq!(sandbox.counters().dropped, 1);

    let error = reqwest::Client::new()
        .get(format!(
            "{}/stores/sandbox/v2/customers",
            sandbox.base_url()
        ))
        .header("X-Auth-Token", "sandbox-token")
        .send()
        .await
        .expect_err("a transport error");
    assert!(!error.is_status());
    assert_eq!(sandbox.counters().dropped, 2);
}

#[tokio::test]
async fn lost_responses_commit_the_write_first() {
    let api = Api::start(SandboxConfig {
        lost_response_rate: 1.0,
        ..SandboxConfig::default()
    })
    .await;
    let error = api
        .request(reqwest::Method::POST, "/customers")
        .json(&new_customer("lost@example.com"))
        .send()
        .await
        .expect_err("no response");
    assert!(error.status().is_none());
    let customers = api.sandbox.customers();
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0]["email"], "lost@example.com");
    let counters = api.sandbox.counters();
    assert_eq!((counters.writes_committed, counters.lost_responses), (1, 1));

    // reads and refused writes are answered
    assert_eq!(api.get("/customers/count").await.status(), StatusCode::OK);
    let response = api
        .post("/customers", new_customer("lost@example.com"))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    api.sandbox.set_faults(0.0, 0.0, 0.0);
    assert_eq!(
        api.delete("/customers/1").await.status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn injected_failures_are_5xx_before_anything_happens() {
    let api = Api::start(SandboxConfig {
        fail_rate: 1.0,
        rng_seed: 3,
        ..SandboxConfig::default()
    })
    .await;
    for i in 0..12 {
        let response = api
            .post("/customers", new_customer(&format!("f{i}@example.com")))
            .await;
        assert!(
            [500, 502, 503].contains(&response.status().as_u16()),
            "{}",
            response.status()
        );
    }
    assert!(api.sandbox.customers().is_empty());
    let counters = api.sandbox.counters();
    assert_eq!((counters.injected_5xx, counters.writes_committed), (12, 0));
}

#[tokio::test]
async fn collection_delete_is_counted_and_deletes_everyone() {
    let api = Api::start(seeded(10)).await;
    assert_eq!(
        api.delete("/customers").await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(api.sandbox.customers().is_empty());
    let counters = api.sandbox.counters();
    assert_eq!(counters.collection_deletes, 1);
    assert_eq!(counters.by_route["DELETE /customers"], 1);
}

#[tokio::test]
async fn groups_routes_and_disabled_groups() {
    let api = Api::start(seeded(60)).await;
    let groups = json_of(api.get("/customer_groups").await).await;
    assert_eq!(groups.as_array().unwrap().len(), 3);
    assert_eq!(groups[0]["name"], "Retail");
    assert_eq!(groups[0]["is_default"], true);
    assert_eq!(groups[0]["category_access"], json!({"type": "all"}));
    let response = api.get("/customer_groups?name=VIP").await;
    assert_eq!(json_of(response).await[0]["id"], 3);
    assert_eq!(
        api.get("/customer_groups?name=Nope").await.status(),
        StatusCode::NO_CONTENT
    );

    let response = api.post("/customer_groups", json!({"name": "Trade"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await["id"], 4);
    assert_eq!(
        api.post("/customer_groups", json!({"name": "Trade"}))
            .await
            .status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        api.post("/customer_groups", json!({})).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        json_of(api.get("/customer_groups/count").await).await,
        json!({"count": 4})
    );

    let in_vip = api
        .sandbox
        .customers()
        .iter()
        .filter(|c| c["customer_group_id"] == 3)
        .count();
    assert!(in_vip > 0);
    assert_eq!(
        api.delete("/customer_groups/3").await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(api
        .sandbox
        .customers()
        .iter()
        .all(|c| c["customer_group_id"] != 3));
    assert_eq!(api.sandbox.groups().len(), 3);

    let api = Api::start(SandboxConfig {
        groups_enabled: false,
        ..seeded(20)
    })
    .await;
    for path in [
        "/customer_groups",
        "/customer_groups/count",
        "/customer_groups/1",
    ] {
        let response = api.get(path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            json_of(response).await,
            json!([{"status": 403, "message": "Customer groups are not available on this store's plan."}])
        );
    }
    assert!(api
        .sandbox
        .customers()
        .iter()
        .all(|c| c["customer_group_id"] == 0));
    let response = api
        .post("/customers", json!({"first_name": "a", "last_name": "b", "email": "g@example.com", "customer_group_id": 1}))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn addresses_are_validated_and_get_country_codes() {
    let api = Api::start(seeded(2)).await;
    let response = api
        .post(
            "/customers/1/addresses",
            json!({"first_name": "a", "city": "Oslo"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        error_message(response).await,
        "Required fields missing [last_name, phone, street_1, state, zip, country]"
    );
    let address = json!({"first_name": "Søren", "last_name": "Kierkegaard", "phone": "+45 1234",
        "street_1": "Nørregade 1", "city": "København", "state": "Hovedstaden", "zip": "1165",
        "country": "Denmark", "address_type": "commercial"});
    let response = api.post("/customers/1/addresses", address.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let created = json_of(response).await;
    assert_eq!(created["country_iso2"], "DK");
    assert_eq!(created["customer_id"], 1);
    assert_eq!(created["address_type"], "commercial");
    let aid = created["id"].as_u64().unwrap();
    let mut unknown_country = address.clone();
    unknown_country["country"] = json!("Freedonia");
    let other = json_of(api.post("/customers/1/addresses", unknown_country).await).await;
    assert_eq!(other["country_iso2"], "");
    assert_eq!(
        json_of(api.get("/customers/1/addresses/count").await).await,
        json!({"count": 2})
    );

    let response = api
        .put(
            &format!("/customers/1/addresses/{aid}"),
            json!({"city": "Aarhus"}),
        )
        .await;
    assert_eq!(json_of(response).await["city"], "Aarhus");
    let response = api
        .put(
            &format!("/customers/1/addresses/{aid}"),
            json!({"country_iso2": "SE"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        api.post("/customers/99/addresses", address).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.delete(&format!("/customers/1/addresses/{aid}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get(&format!("/customers/1/addresses/{aid}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let page = json_of(api.get("/customers/1/addresses?limit=1").await).await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    let counters = api.sandbox.counters();
    assert_eq!(counters.by_route["POST /customers/{id}/addresses"], 4);
    assert_eq!(counters.by_route["PUT /customers/{id}/addresses/{aid}"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_does_not_serialise_requests_and_validate_has_its_own_limit() {
    let api = Api::start(SandboxConfig {
        latency_ms: 300,
        ..seeded(2)
    })
    .await;
    let started = Instant::now();
    let statuses = futures::future::join_all((0..20).map(|_| {
        api.request(reqwest::Method::POST, "/customers/1/validate")
            .json(&json!({"password": "seeded-pass-1"}))
            .send()
    }))
    .await;
    // One at a time would take 6 s.
    assert!(
        started.elapsed() < Duration::from_millis(3000),
        "{:?}",
        started.elapsed()
    );
    let mut ok = 0;
    let mut limited = 0;
    for response in statuses {
        let response = response.unwrap();
        match response.status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(response.headers().contains_key("x-retry-after"));
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // Exactly 10 and 10 when all 20 arrive within the latency; a slow machine may let a
    // straggler in after the first ones finished.
    assert!(ok >= 10 && limited >= 1, "{ok} ok, {limited} limited");
}

#[tokio::test]
async fn insert_and_delete_bypass_the_api() {
    let api = Api::start(seeded(2)).await;
    let id = api.sandbox.insert_customer(json!({
        "first_name": "Ana", "last_name": "Silva", "email": "ana@example.com",
        "date_created": "Wed, 10 Jan 2018 21:02:23 +0000",
        "form_fields": [{"name": "Birthday", "value": "1990-01-01"}],
        "store_credit": "3.25"
    }));
    assert_eq!(id, 3);
    let one = json_of(api.get("/customers/3").await).await;
    assert_eq!(one["date_created"], "Wed, 10 Jan 2018 21:02:23 +0000");
    assert_eq!(
        one["form_fields"],
        json!([{"name": "Birthday", "value": "1990-01-01"}])
    );
    assert_eq!(one["store_credit"], "3.2500");
    assert!(api.sandbox.delete_customer(3));
    assert!(!api.sandbox.delete_customer(3));
    assert_eq!(api.sandbox.counters().total, 1, "only the GET was counted");
}

#[tokio::test]
async fn admin_counters_endpoint_needs_the_token_and_is_not_counted() {
    let api = Api::start(seeded(2)).await;
    api.get("/customers").await;
    let url = format!("{}/__sandbox/counters", api.sandbox.base_url());
    let response = api.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = api
        .http
        .get(&url)
        .header("X-Auth-Token", "sandbox-token")
        .send()
        .await
        .unwrap();
    let counters = json_of(response).await;
    assert_eq!(counters["total"], 1);
    assert_eq!(counters["by_route"]["GET /customers"], 1);
    assert_eq!(api.sandbox.counters().total, 1);
}

#[test]
fn spawned_sandbox_serves_synchronous_callers_and_shuts_down() {
    let sandbox = Sandbox::spawn(seeded(5)).unwrap();
    let addr = sandbox.addr();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request = format!(
        "GET /stores/sandbox/v2/customers/count HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: sandbox-token\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(r#"{"count":5}"#), "{response}");
    sandbox.shutdown();
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn seeding_100k_customers_is_quick_and_pages_stay_fast() {
    let started = Instant::now();
    let api = Api::start(seeded(100_000)).await;
    let seeding = started.elapsed();
    // Generous: debug builds are several times slower than release.
    assert!(
        seeding < Duration::from_secs(10),
        "seeding took {seeding:?}"
    );
    let started = Instant::now();
    let page = json_of(api.get("/customers?min_id=99000&limit=250").await).await;
    let serving = started.elapsed();
    assert_eq!(page.as_array().unwrap().len(), 250);
    assert_eq!(page[0]["id"], 99_000);
    assert!(serving < Duration::from_secs(1), "page took {serving:?}");
    assert_eq!(
        json_of(api.get("/customers/count").await).await,
        json!({"count": 100_000})
    );
    let names: std::collections::BTreeSet<String> = api
        .sandbox
        .customers()
        .iter()
        .filter_map(|c| c["form_fields"].as_array().cloned())
        .flatten()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), super::seed::FORM_FIELDS.len());
}

#[tokio::test]
async fn unknown_paths_methods_and_media_types() {
    let api = Api::start(seeded(2)).await;
    let wrong_store = api
        .http
        .get(format!(
            "{}/stores/other/v2/customers",
            api.sandbox.base_url()
        ))
        .header("X-Auth-Token", "sandbox-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_store.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_of(wrong_store).await[0]["status"], 404);
    assert_eq!(api.get("/orders").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(api.get("/customers/").await.status(), StatusCode::OK);
    let patch = api
        .send(reqwest::Method::PATCH, "/customers/1", json!({}))
        .await;
    assert_eq!(patch.status(), StatusCode::METHOD_NOT_ALLOWED);
    let form = api
        .request(reqwest::Method::POST, "/customers")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("first_name=a")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let not_json = api
        .request(reqwest::Method::POST, "/customers")
        .header("Content-Type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let counters = api.sandbox.counters();
    assert_eq!(counters.by_route["GET (no route)"], 2);
    assert_eq!(counters.by_route["PATCH /customers/{id}"], 1);
}

#[test]
fn sandbox_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Sandbox>();
}

#[test]
fn export_lines_quote_only_what_needs_it() {
    assert_eq!(super::shell_quote("sandbox-token"), "sandbox-token");
    assert_eq!(super::shell_quote("a b'c"), r"'a b'\''c'");
    assert_eq!(super::shell_quote(""), "''");
}

#[tokio::test]
async fn switches_for_the_undocumented_duplicate_status_and_the_documented_207() {
    for status in [400u16, 422, 409] {
        let api = Api::start(SandboxConfig {
            duplicate_email_status: status,
            ..SandboxConfig::default()
        })
        .await;
        let first = api
            .post("/customers", new_customer("dup@example.com"))
            .await;
        assert_eq!(first.status(), StatusCode::OK);
        let again = api
            .post("/customers", new_customer("DUP@example.com"))
            .await;
        assert_eq!(again.status().as_u16(), status);
        let body = json_of(again).await;
        assert_eq!(body[0]["status"], status);
        assert!(body[0]["message"]
            .as_str()
            .unwrap()
            .contains("already in use"));
        // A group name in use stays 409: the switch is about emails only.
        let group = api
            .post("/customer_groups", json!({"name": "Retail"}))
            .await;
        assert_eq!(group.status(), StatusCode::CONFLICT);
    }
    let api = Api::start(SandboxConfig {
        group_create_207: true,
        ..SandboxConfig::default()
    })
    .await;
    let response = api.post("/customer_groups", json!({"name": "Trade"})).await;
    assert_eq!(response.status(), StatusCode::MULTI_STATUS);
    let body = json_of(response).await;
    assert_eq!(body["status"], 207);
    assert!(body.get("id").is_none(), "the answer carries no group");
    let groups = json_of(api.get("/customer_groups?name=Trade").await).await;
    assert_eq!(groups[0]["name"], "Trade", "the group was created");
}
