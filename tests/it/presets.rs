//! Issue 6 item 5: `import --preset` / `--mapping` against the sandbox, with every sample file
//! under `samples/<platform>/`: customers, groups and addresses created, source ids kept out of
//! `id`, the results file echoing the source columns, dry runs and `--only-failed`.

use std::collections::HashMap;

use crate::common::*;
use serde_json::Value;

/// The store's customers by lower-case email.
fn by_email(store: &Store) -> HashMap<String, Value> {
    store
        .sb
        .customers()
        .into_iter()
        .map(|c| (c["email"].as_str().unwrap().to_lowercase(), c))
        .collect()
}

fn id_of(c: &Value) -> u64 {
    c["id"].as_u64().unwrap()
}

fn total_addresses(store: &Store) -> usize {
    store
        .sb
        .customers()
        .iter()
        .map(|c| store.sb.addresses(id_of(c)).len())
        .sum()
}

/// Import `samples/<dir>/<file>` with `--preset <preset>`; every row must be created or
/// updated, and the results file must start with the results columns then the source header.
fn import_sample(
    store: &Store,
    dir: &str,
    file: &str,
    preset: &str,
) -> Vec<HashMap<String, String>> {
    let text = sample(&format!("{dir}/{file}"));
    let name = format!("{dir}-{file}");
    store.write(&name, &text);
    store.run(&["import", &name, "--preset", preset]).expect(0);
    let results_name = name.replace(".csv", ".results.csv");
    let source_header = text.lines().next().unwrap().trim_start_matches('\u{feff}');
    let results_header = store
        .read(&results_name)
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        results_header,
        format!("_row,_result,_customer_id,_message,{source_header}"),
        "the results file echoes the original source columns"
    );
    let results = store.csv(&results_name);
    assert!(
        results
            .iter()
            .all(|r| r["_result"] == "created" || r["_result"] == "updated"),
        "{:?}",
        results_of(&results)
    );
    results
}

#[test]
fn shopify_samples_current_and_legacy() {
    let store = Store::empty();
    let results = import_sample(&store, "shopify", "customers_export.csv", "shopify");
    assert_eq!(results.len(), 15);
    let customers = by_email(&store);
    assert_eq!(customers.len(), 15);
    let olivia = &customers["olivia.bennett@example.com"];
    // Shopify's leading ' on phones and ids is removed; its id goes to notes, never to id.
    assert_eq!(olivia["phone"], "+14165550142");
    assert!(olivia["notes"]
        .as_str()
        .unwrap()
        .contains("Shopify customer ID: 7012345678901"));
    assert!(customers.values().all(|c| id_of(c) < 1_000_000));
    let addrs = store.sb.addresses(id_of(olivia));
    assert_eq!(addrs.len(), 1);
    assert_eq!(
        addrs[0]["country"], "Canada",
        "country codes are sent as names"
    );
    assert_eq!(addrs[0]["country_iso2"], "CA");
    assert_eq!(
        addrs[0]["state"], "Ontario",
        "province codes are sent as names"
    );
    assert_eq!(total_addresses(&store), 14);

    let legacy = import_sample(&store, "shopify", "customers_legacy.csv", "shopify");
    assert_eq!(legacy.len(), 10);
    assert_eq!(store.sb.customers().len(), 25);
    assert_eq!(total_addresses(&store), 14 + 9);
}

#[test]
fn woocommerce_sample() {
    let store = Store::empty();
    let results = import_sample(&store, "woocommerce", "customers.csv", "woocommerce");
    assert_eq!(results.len(), 15);
    let customers = by_email(&store);
    assert_eq!(customers.len(), 15);
    let ella = &customers["ella.harris@example.com"];
    assert!(ella["notes"]
        .as_str()
        .unwrap()
        .contains("WooCommerce user ID: 101"));
    let addrs = store.sb.addresses(id_of(ella));
    assert_eq!(addrs.len(), 1);
    assert_eq!(addrs[0]["state"], "Illinois");
    assert_eq!(addrs[0]["country"], "United States");
    assert_eq!(total_addresses(&store), 14);
    // The password hash column (user_pass) is blanked in the results file.
    assert!(results.iter().all(|r| r["user_pass"].is_empty()));

    // The second pass adds the three shipping addresses that differ from the billing ones.
    store
        .run(&[
            "import",
            "woocommerce-customers.csv",
            "--preset",
            "woocommerce-shipping",
        ])
        .expect(0);
    assert_eq!(total_addresses(&store), 17);
    let second = store.csv("woocommerce-customers.results.csv");
    assert_eq!(
        second.iter().filter(|r| r["_result"] == "updated").count(),
        3
    );
}

#[test]
fn magento_samples_main_and_combined() {
    let store = Store::empty();
    let main = import_sample(&store, "magento", "customer_main.csv", "magento");
    assert_eq!(main.len(), 10);
    assert_eq!(store.sb.customers().len(), 10);
    assert_eq!(total_addresses(&store), 0, "the main file has no addresses");

    store.sb.reset_counters();
    let combined = import_sample(&store, "magento", "customers_addresses.csv", "magento");
    assert_eq!(
        store.count("GET /customers/{id}/addresses"),
        0,
        "a customer this run created has only the addresses this run added"
    );
    assert_eq!(combined.len(), 10);
    // Two rows for one customer (two addresses): created, then updated with the second address.
    let grace: Vec<&str> = combined
        .iter()
        .filter(|r| r["email"] == "grace.obrien@example.com")
        .map(|r| r["_result"].as_str())
        .collect();
    assert_eq!(grace, ["created", "updated"]);
    let customers = by_email(&store);
    assert_eq!(customers.len(), 19);
    assert_eq!(
        store
            .sb
            .addresses(id_of(&customers["grace.obrien@example.com"]))
            .len(),
        2
    );
    assert_eq!(total_addresses(&store), 9);
}

#[test]
fn bigcommerce_sample_with_groups() {
    let store = Store::empty();
    let results = import_sample(&store, "bigcommerce", "customers.csv", "bigcommerce");
    assert_eq!(results.len(), 10);
    let customers = by_email(&store);
    assert_eq!(customers.len(), 10);
    let victoria = &customers["victoria.hughes@example.com"];
    assert_eq!(victoria["customer_group_id"], 1, "Retail");
    assert!(victoria["notes"]
        .as_str()
        .unwrap()
        .contains("Previous store customer ID: 1"));
    assert!(customers.values().any(|c| c["customer_group_id"] == 2));
    assert_eq!(total_addresses(&store), 9);
    assert_eq!(
        store.count("GET /customer_groups"),
        1,
        "one group listing per run"
    );
}

#[test]
fn mapping_creates_missing_groups_once() {
    let store = Store::empty();
    store.write("customer_main.csv", &sample("magento/customer_main.csv"));
    store.write(
        "groups.toml",
        "extends = \"magento\"\n[columns]\n\"group_id\" = { to = \"customer_group\", map = { \"1\" = \"Magento General\", \"2\" = \"Magento Wholesale\", \"3\" = \"Magento Retailer\" } }\n",
    );
    store
        .run(&[
            "import",
            "customer_main.csv",
            "--mapping",
            "groups.toml",
            "--create-missing-groups",
            "--concurrency",
            "8",
        ])
        .expect(0);
    let groups: Vec<String> = store
        .sb
        .groups()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        groups.contains(&"Magento General".to_string()),
        "{groups:?}"
    );
    let created = groups.iter().filter(|g| g.starts_with("Magento")).count() as u64;
    assert_eq!(
        store.count("POST /customer_groups"),
        created,
        "each missing group is created once"
    );
    let general = store
        .sb
        .groups()
        .into_iter()
        .find(|g| g["name"] == "Magento General")
        .unwrap();
    assert!(by_email(&store)["anna.schmidt@example.com"]["customer_group_id"] == general["id"]);
}

#[test]
fn dry_run_with_a_preset_writes_nothing() {
    let store = Store::empty();
    store.write("shop.csv", &sample("shopify/customers_export.csv"));
    let run = store.run(&["import", "shop.csv", "--preset", "shopify", "--dry-run"]);
    run.expect(0);
    let results = store.csv("shop.results.csv");
    assert_eq!(results.len(), 15);
    assert!(results.iter().all(|r| r["_result"] == "would_create"));
    assert_eq!(store.sb.counters().writes, 0);
    assert!(store.sb.customers().is_empty());
    // The preset's notices are printed once.
    assert_eq!(
        run.stderr.matches("Shopify's customer id is not").count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn only_failed_with_a_mapping_after_fixing_rows() {
    let store = Store::empty();
    store.write(
        "crm.csv",
        "Mail,Given,Family,Tier\na@example.com,Ann,Lee,gold\nb@example.com,Bob,Ray,platinum\nc@example.com,Cy,Day,silver\n",
    );
    store.write(
        "crm.toml",
        "[columns]\n\"Mail\" = \"email\"\n\"Given\" = \"first_name\"\n\"Family\" = \"last_name\"\n\"Tier\" = { to = \"customer_group\", map = { \"gold\" = \"VIP\", \"silver\" = \"Wholesale\" } }\n",
    );
    store
        .run(&["import", "crm.csv", "--mapping", "crm.toml"])
        .expect(3);
    let first = store.csv("crm.results.csv");
    assert_eq!(results_of(&first), ["created", "invalid", "created"]);
    assert!(first[1]["_message"].contains("Tier") && first[1]["_message"].contains("platinum"));
    assert_eq!(store.sb.customers().len(), 2);

    // Fix the row in the results file and feed it back.
    let fixed = store.read("crm.results.csv").replace(",platinum", ",gold");
    store.write("crm.results.csv", &fixed);
    store.sb.reset_counters();
    store
        .run(&[
            "import",
            "crm.results.csv",
            "--mapping",
            "crm.toml",
            "--only-failed",
        ])
        .expect(0);
    let all = store.csv("crm.results.results.csv");
    assert_eq!(
        all.len(),
        store.csv("crm.results.csv").len(),
        "every record once"
    );
    let retry: Vec<_> = all.iter().filter(|r| r["_row"] == "2").collect();
    assert_eq!(retry.len(), 1, "the original row number is kept");
    assert_eq!(retry[0]["_result"], "created");
    assert_eq!(retry[0]["Mail"], "b@example.com");
    assert_eq!(store.count("POST /customers"), 1);
    assert_eq!(by_email(&store)["b@example.com"]["customer_group_id"], 3);
}

#[test]
fn mapped_cells_keep_their_leading_quotes_and_passwords_stay_secret() {
    let store = Store::empty();
    // The spreadsheet put one ' before the phone; the note really starts with one.
    store.write(
        "people.csv",
        "Mail,Given,Family,Tel,Memo,Pwd\nq@example.com,Quinn,Ode,'+15550001,'tis a note,Secret123\n",
    );
    store.write(
        "people.toml",
        "[columns]\n\"Mail\" = \"email\"\n\"Given\" = \"first_name\"\n\"Family\" = \"last_name\"\n\"Tel\" = { to = \"phone\", transforms = [\"strip_leading_quote\"] }\n\"Memo\" = \"notes\"\n\"Pwd\" = { to = \"password\", trim = false }\n",
    );
    let run = store.run(&["import", "people.csv", "--mapping", "people.toml"]);
    run.expect(0);
    assert!(!run.stderr.contains("Secret123"));
    let c = &by_email(&store)["q@example.com"];
    assert_eq!(c["phone"], "+15550001");
    assert_eq!(
        c["notes"], "'tis a note",
        "a mapped cell is taken as the mapping leaves it"
    );
    assert_eq!(store.sb.password_of(id_of(c)).as_deref(), Some("Secret123"));
    let text = store.read("people.results.csv");
    assert!(
        !text.contains("Secret123"),
        "the password source column is blanked: {text}"
    );
}

#[test]
fn a_mapping_to_id_is_refused_before_any_request() {
    let store = Store::empty();
    store.write("x.csv", "Customer No,Mail\n17,x@example.com\n");
    store.write(
        "x.toml",
        "[columns]\n\"Customer No\" = \"id\"\n\"Mail\" = \"email\"\n",
    );
    let run = store.run(&["import", "x.csv", "--mapping", "x.toml"]);
    run.expect(1);
    assert!(
        run.stderr.contains("never a BigCommerce id"),
        "{}",
        run.stderr
    );
    assert_eq!(store.sb.counters().total, 0);
}

#[test]
fn an_unknown_preset_is_a_usage_error() {
    let store = Store::empty();
    store.write("x.csv", "email\nx@example.com\n");
    let run = store.run(&["import", "x.csv", "--preset", "shopfiy"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("shopify, woocommerce, magento, bigcommerce"),
        "{}",
        run.stderr
    );
    assert_eq!(store.sb.counters().total, 0);
}
