//! `bc-customers sandbox` as a user runs it: its own process, the environment lines on stdout,
//! and each `--v3-*` switch (the answers to the V3 reference's open questions) seen over HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

/// A running `bc-customers sandbox` child, killed when dropped.
struct SandboxProcess {
    child: Child,
    addr: String,
    hash: String,
    token: String,
}

impl SandboxProcess {
    fn start(flags: &[&str]) -> SandboxProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bc-customers"))
            .args(["sandbox", "--port", "0"])
            .args(flags)
            .env_remove("BIGCOMMERCE_ACCESS_TOKEN")
            .env_remove("BIGCOMMERCE_STORE_HASH")
            .env_remove("BIGCOMMERCE_API_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("bc-customers sandbox starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
        let (mut addr, mut hash, mut token) = (None, None, None);
        let mut line = String::new();
        loop {
            line.clear();
            let n = lines
                .read_line(&mut line)
                .expect("reading the sandbox's stdout");
            assert!(n > 0, "the sandbox ended before it listened ({flags:?})");
            let value = |key: &str| {
                line.trim_end()
                    .strip_prefix(key)
                    .map(|v| v.trim_matches('\'').to_string())
            };
            if let Some(v) = value("export BIGCOMMERCE_API_URL=") {
                addr = Some(v.trim_start_matches("http://").to_string());
            } else if let Some(v) = value("export BIGCOMMERCE_STORE_HASH=") {
                hash = Some(v);
            } else if let Some(v) = value("export BIGCOMMERCE_ACCESS_TOKEN=") {
                token = Some(v);
            } else if line.starts_with("# sandbox store listening") {
                break;
            }
        }
        SandboxProcess {
            child,
            addr: addr.expect("API URL line"),
            hash: hash.expect("store hash line"),
            token: token.expect("token line"),
        }
    }

    /// One request on its own connection; `(status, body as JSON or Null)`. `path` starts with
    /// `/v2/` or `/v3/`, or is the admin `/__sandbox/counters`.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let target = match path.starts_with("/__sandbox") {
            true => path.to_string(),
            false => format!("/stores/{}{path}", self.hash),
        };
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(&self.addr).expect("connects");
        write!(
            stream,
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nX-Auth-Token: {}\r\nAccept: application/json\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            self.token,
            body.len()
        )
        .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("an answer");
        let answer = String::from_utf8(answer).expect("UTF-8");
        let (head, body) = answer.split_once("\r\n\r\n").expect("a header block");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status");
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn counter(&self, name: &str) -> u64 {
        self.get("/__sandbox/counters")[name].as_u64().expect(name)
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn person(i: usize) -> Value {
    json!({"email": format!("flag{i}@example.com"), "first_name": "F", "last_name": "L"})
}

fn address(customer_id: u64, n: usize) -> Value {
    json!({"customer_id": customer_id, "first_name": "A", "last_name": "B",
           "address1": format!("{n} Main St"), "city": "Austin", "state_or_province": "Texas",
           "postal_code": "78701", "country_code": "US"})
}

fn ids(body: &Value) -> Vec<u64> {
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["id"].as_u64().expect("id"))
        .collect()
}

#[test]
fn sandbox_help_names_the_open_question_of_every_v3_switch() {
    let out = Command::new(env!("CARGO_BIN_EXE_bc-customers"))
        .args(["sandbox", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for (flag, question) in [
        ("--v3-batch-commit", "Open question 1"),
        ("--v3-id-in-order", "Open question 4"),
        ("--v3-store-credit-on-put", "Open question 6"),
        ("--v3-address-batch-limit", "Open question 10"),
        ("--v3-post-concurrency", "Open question 9"),
        ("--v3-include-addresses-limit", "Open question 4"),
        ("--v3-read-only-fields", "Open question 8"),
    ] {
        let at = help
            .find(flag)
            .unwrap_or_else(|| panic!("{flag} in --help"));
        let text = &help[at..];
        let end = text[flag.len()..]
            .find("\n      --")
            .map_or(text.len(), |e| e + flag.len());
        // Help wraps lines: compare with the whitespace folded.
        let folded = text[..end].split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(folded.contains(question), "{flag}: {folded}");
    }
    for flag in [
        "--v3-unfiltered-delete",
        "--v3-accept-encoded-dates",
        "--v3-exclusive-date-bounds",
    ] {
        assert!(help.contains(flag), "{flag} in --help");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_bc-customers"))
        .args(["sandbox", "--v3-post-concurrency", "0"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let bad = Command::new(env!("CARGO_BIN_EXE_bc-customers"))
        .args(["sandbox", "--v3-include-addresses-limit", "none"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn v3_batch_commit_flag_leaves_what_it_says_after_a_422() {
    for (flag, expected) in [
        (None, vec![]),
        (Some("rows-before"), vec!["flag1@example.com"]),
        (
            Some("all-valid"),
            vec!["flag1@example.com", "flag3@example.com"],
        ),
    ] {
        let flags: Vec<&str> = flag.map_or(vec![], |f| vec!["--v3-batch-commit", f]);
        let sb = SandboxProcess::start(&flags);
        let taken = person(2);
        assert_eq!(
            sb.call("POST", "/v3/customers", Some(&json!([taken]))).0,
            200
        );
        let batch = json!([person(1), person(2), person(3)]);
        let (status, body) = sb.call("POST", "/v3/customers", Some(&batch));
        assert_eq!(status, 422, "{flag:?}");
        assert_eq!(
            body["errors"],
            json!({".customer_create": "Error creating customers: email flag2@example.com already in use"})
        );
        let found = sb.get("/v3/customers?email:in=flag1@example.com,flag3@example.com");
        let mut emails: Vec<&str> = found["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["email"].as_str().unwrap())
            .collect();
        emails.sort();
        assert_eq!(emails, expected, "{flag:?}");
    }
}

#[test]
fn v3_id_in_order_flag_orders_the_results() {
    let sb = SandboxProcess::start(&["--seed", "3"]);
    assert_eq!(ids(&sb.get("/v3/customers?id:in=3,1,2")), [1, 2, 3]);
    let sb = SandboxProcess::start(&["--seed", "3", "--v3-id-in-order", "requested"]);
    assert_eq!(ids(&sb.get("/v3/customers?id:in=3,1,2")), [3, 1, 2]);
}

#[test]
fn v3_unfiltered_delete_flag_changes_the_answer_never_the_store() {
    for (flag, status) in [(None, 204), (Some("refuse"), 422)] {
        let mut flags = vec!["--seed", "2"];
        flags.extend(
            flag.map(|f| ["--v3-unfiltered-delete", f])
                .into_iter()
                .flatten(),
        );
        let sb = SandboxProcess::start(&flags);
        assert_eq!(
            sb.call("DELETE", "/v3/customers", None).0,
            status,
            "{flag:?}"
        );
        assert_eq!(sb.get("/v3/customers")["data"].as_array().unwrap().len(), 2);
        assert_eq!(sb.counter("v3_unfiltered_deletes"), 1);
    }
}

#[test]
fn v3_store_credit_on_put_flag_sets_or_adds() {
    for (flag, expected) in [(None, 5), (Some("add"), 10)] {
        let mut flags = vec!["--seed", "1"];
        flags.extend(
            flag.map(|f| ["--v3-store-credit-on-put", f])
                .into_iter()
                .flatten(),
        );
        let sb = SandboxProcess::start(&flags);
        let put = json!([{"id": 1, "store_credit_amounts": [{"amount": 5}]}]);
        for _ in 0..2 {
            assert_eq!(sb.call("PUT", "/v3/customers", Some(&put)).0, 200);
        }
        let body = sb.get("/v3/customers?id:in=1&include=storecredit");
        assert_eq!(
            body["data"][0]["store_credit_amounts"],
            json!([{"amount": expected}]),
            "{flag:?}"
        );
    }
}

#[test]
fn v3_address_batch_limit_flag_moves_the_413() {
    let sb = SandboxProcess::start(&["--seed", "1", "--v3-address-batch-limit", "2"]);
    let three = json!([address(1, 1), address(1, 2), address(1, 3)]);
    assert_eq!(
        sb.call("POST", "/v3/customers/addresses", Some(&three)).0,
        413
    );
    let two = json!([address(1, 1), address(1, 2)]);
    assert_eq!(
        sb.call("POST", "/v3/customers/addresses", Some(&two)).0,
        200
    );
    let sb = SandboxProcess::start(&["--seed", "1"]);
    assert_eq!(
        sb.call("POST", "/v3/customers/addresses", Some(&three)).0,
        200
    );
}

#[test]
fn v3_post_concurrency_flag_refuses_posts_beyond_it() {
    let sb = SandboxProcess::start(&["--latency-ms", "400", "--v3-post-concurrency", "1"]);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let sb = &sb;
        let posts: Vec<_> = (0..2)
            .map(|i| {
                s.spawn(move || {
                    sb.call("POST", "/v3/customers", Some(&json!([person(i)])))
                        .0
                })
            })
            .collect();
        posts.into_iter().map(|p| p.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [200, 429]);
    assert_eq!(sb.counter("v3_concurrency_rejected"), 1);
}

#[test]
fn v3_include_addresses_limit_flag_truncates_or_not() {
    for (flag, shown) in [(None, 10), (Some("all"), 12), (Some("3"), 3)] {
        let mut flags = vec!["--seed", "1"];
        flags.extend(
            flag.map(|f| ["--v3-include-addresses-limit", f])
                .into_iter()
                .flatten(),
        );
        let sb = SandboxProcess::start(&flags);
        let existing = sb.get("/v3/customers/addresses?customer_id:in=1")["data"]
            .as_array()
            .unwrap()
            .len();
        for chunk in (100..112 - existing).collect::<Vec<_>>().chunks(10) {
            let batch: Vec<Value> = chunk.iter().map(|n| address(1, *n)).collect();
            assert_eq!(
                sb.call("POST", "/v3/customers/addresses", Some(&json!(batch)))
                    .0,
                200
            );
        }
        let body = sb.get("/v3/customers?id:in=1&include=addresses");
        let customer = &body["data"][0];
        assert_eq!(customer["address_count"], 12, "{flag:?}");
        assert_eq!(
            customer["addresses"].as_array().unwrap().len(),
            shown,
            "{flag:?}"
        );
    }
}

#[test]
fn v3_accept_encoded_dates_flag_accepts_an_encoded_value() {
    let path = "/v3/customers?date_created:min=1990-01-01T00%3A00%3A00";
    let sb = SandboxProcess::start(&["--seed", "2"]);
    assert_eq!(sb.call("GET", path, None).0, 422);
    let sb = SandboxProcess::start(&["--seed", "2", "--v3-accept-encoded-dates"]);
    assert_eq!(sb.get(path)["data"].as_array().unwrap().len(), 2);
}

#[test]
fn v3_read_only_fields_flag_rejects_them() {
    let put = json!([{"id": 1, "date_created": "2020-01-01T00:00:00Z", "notes": "n"}]);
    let sb = SandboxProcess::start(&["--seed", "1"]);
    assert_eq!(sb.call("PUT", "/v3/customers", Some(&put)).0, 200);
    let sb = SandboxProcess::start(&["--seed", "1", "--v3-read-only-fields", "rejected"]);
    let (status, body) = sb.call("PUT", "/v3/customers", Some(&put));
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"],
        json!({"0.date_created": "field is read-only"})
    );
}

#[test]
fn v3_exclusive_date_bounds_flag_excludes_the_bound() {
    for (flags, expected) in [
        (vec!["--seed", "1"], vec![1]),
        (vec!["--seed", "1", "--v3-exclusive-date-bounds"], vec![]),
    ] {
        let sb = SandboxProcess::start(&flags);
        let created = sb.get("/v3/customers?id:in=1")["data"][0]["date_created"]
            .as_str()
            .unwrap()
            .trim_end_matches('Z')
            .to_string();
        let body = sb.get(&format!("/v3/customers?id:in=1&date_created:min={created}"));
        assert_eq!(ids(&body), expected, "{flags:?}");
    }
}
