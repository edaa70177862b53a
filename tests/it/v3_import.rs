//! Issue 14 item 3: `import --api v3`. The behaviour tests run against both APIs (the same
//! results, exit codes, store state); the V3 ones check what only batches can get wrong:
//! requests per row, a poisoned batch failing only its bad rows, a lost batch answer, a
//! kill -9 mid-batch then `--resume`, form fields and `accepts_marketing` written.

use std::collections::HashMap;

use bc_customers::sandbox::SandboxConfig;
use serde_json::Value;

use crate::common::*;

const APIS: [&str; 2] = ["v2", "v3"];

/// `args` with `--api api` after them.
fn with_api<'a>(args: &[&'a str], api: &'a str) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(["--api", api]);
    v
}

/// Creates the store committed, whichever API sent them.
fn create_requests(store: &Store) -> u64 {
    store.count("POST /customers") + store.count("POST /v3/customers")
}

/// `n` new customers, each with an address.
fn customers_with_addresses(n: usize, tag: &str) -> String {
    let mut s = String::from(
        "email,first_name,last_name,address_street_1,address_city,address_state,address_zip,address_country,address_phone\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "{tag}{i}@example.com,First{i},Last{i},{i} Main St,Springfield,Illinois,{:05},United States,555-{i:04}\n",
            10000 + i
        ));
    }
    s
}

fn by_email(store: &Store) -> HashMap<String, Value> {
    store
        .sb
        .customers()
        .into_iter()
        .map(|c| (c["email"].as_str().unwrap().to_lowercase(), c))
        .collect()
}

#[test]
fn v3_creates_100_customers_with_addresses_in_about_10_requests() {
    let store = Store::empty();
    store.write("in.csv", &customers_with_addresses(100, "a"));
    store.run(&["import", "in.csv", "--api", "v3"]).expect(0);
    let results = store.csv("in.results.csv");
    assert_eq!(results.len(), 100);
    assert!(results.iter().all(|r| r["_result"] == "created"), "{results:?}");
    let c = store.sb.counters();
    let posts = store.count("POST /v3/customers");
    assert!((10..=12).contains(&posts), "{posts} POSTs: {:?}", c.by_route);
    assert_eq!(c.writes, posts, "no other write: {:?}", c.by_route);
    let customers = store.sb.customers();
    assert_eq!(customers.len(), 100);
    for c in &customers {
        let id = c["id"].as_u64().unwrap();
        let addrs = store.sb.addresses(id);
        assert_eq!(addrs.len(), 1, "customer {id}: its address, nested in the create");
    }
    // Every row's customer id is the store's customer of its email.
    let store_ids = by_email(&store);
    for r in &results {
        assert_eq!(
            r["_customer_id"],
            store_ids[&r["email"]]["id"].to_string(),
            "{r:?}"
        );
    }
}
