//! The typed V3 rendering against the `serde_json::Value` rendering it replaced (kept here as
//! the reference): the same bytes for every include, with and without the address limit, for
//! seeded customers and for a customer with every field, addresses, form fields and store
//! credit set.

use serde_json::{json, Value};

use super::super::seed;
use super::super::store::{Address, AddressPatch, AddressType, Customer, Store, V3Extras};
use super::query::Includes;
use super::render::{address_json, customer_json};

// ---- the previous rendering, verbatim but for the names ----

fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn amount(credit: i64) -> Value {
    if credit % 10_000 == 0 {
        json!(credit / 10_000)
    } else {
        json!(credit as f64 / 10_000.0)
    }
}

fn legacy_customer(
    store: &Store,
    c: &Customer,
    inc: Includes,
    address_limit: Option<usize>,
) -> Value {
    let extras = store.v3_customers.get(&c.id).cloned().unwrap_or_default();
    let addresses = store.addresses_of(c.id);
    let mut v = json!({
        "id": c.id,
        "email": c.email,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "company": c.company,
        "phone": c.phone,
        "registration_ip_address": c.registration_ip_address,
        "notes": c.notes,
        "tax_exempt_category": c.tax_exempt_category,
        "customer_group_id": c.customer_group_id,
        "date_created": iso(c.date_created),
        "date_modified": iso(c.date_modified),
        "address_count": addresses.len(),
        "attribute_count": 0,
        "authentication": {"force_password_reset": c.reset_pass_on_login},
        "accepts_product_review_abandoned_cart_emails": c.accepts_marketing,
        "origin_channel_id": extras.origin_channel_id.unwrap_or(1),
        "channel_ids": extras.channel_ids,
    });
    if inc.addresses {
        let shown = address_limit.unwrap_or(usize::MAX);
        v["addresses"] = addresses
            .iter()
            .take(shown)
            .map(|a| legacy_address(store, a, inc.formfields))
            .collect();
    }
    if inc.storecredit {
        v["store_credit_amounts"] = json!([{"amount": amount(c.store_credit)}]);
    }
    if inc.formfields {
        v["form_fields"] = store
            .form_fields_of(c)
            .into_iter()
            .map(|(name, value)| json!({"name": name, "value": value, "customer_id": c.id}))
            .collect();
    }
    if inc.attributes {
        v["attributes"] = json!([]);
    }
    v
}

fn legacy_address(store: &Store, a: &Address, formfields: bool) -> Value {
    let mut v = json!({
        "id": a.id,
        "customer_id": a.customer_id,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "company": a.company,
        "address1": a.street_1,
        "address2": a.street_2,
        "city": a.city,
        "state_or_province": a.state,
        "postal_code": a.zip,
        "country_code": a.country_iso2,
        "country": a.country,
        "phone": a.phone,
        "address_type": a.address_type,
    });
    if formfields {
        v["form_fields"] = store
            .v3_address_form_fields
            .get(&a.id)
            .map(|list| {
                list.iter()
                    .map(|(name, value)| json!({"name": name, "value": value, "address_id": a.id}))
                    .collect()
            })
            .unwrap_or_else(|| json!([]));
    }
    v
}

// ---- the store ----

fn address(n: usize, kind: AddressType) -> AddressPatch {
    AddressPatch {
        first_name: Some(format!("Ann{n}")),
        last_name: Some("Lee \"Q\" \u{e9}".into()),
        company: Some(format!("Co {n}")),
        street_1: Some(format!("{n} Main St")),
        street_2: Some("Suite\n5".into()),
        city: Some("Austin".into()),
        state: Some("Texas".into()),
        zip: Some("78701".into()),
        country: Some("United States".into()),
        phone: Some("+1 555 0100".into()),
        address_type: Some(kind),
    }
}

/// 30 seeded customers (form fields derived, some with addresses), one with every field set
/// (12 addresses, form fields of every value type, fractional store credit, channels), one
/// with a whole store credit and nothing else.
fn store() -> (Store, Vec<u64>) {
    let mut store = Store::new(true, 7);
    let (customers, addresses) = seed::customers(30, 7, true);
    store.load_seeded(customers, addresses);
    let full = store
        .insert_raw(&json!({
            "email": "Full.Person+tag@example.com", "first_name": "Zo\u{eb}", "last_name": "O'Neil",
            "company": "Acme \"Quoted\" & Co", "phone": "+44 20 7946 0000", "notes": "line1\nline2\t\u{1f600}",
            "registration_ip_address": "10.1.2.3", "tax_exempt_category": "G",
            "store_credit": "12.3456", "customer_group_id": 2,
            "date_created": "2021-03-04T05:06:07Z", "date_modified": "2022-03-04T05:06:07Z",
            "reset_pass_on_login": true, "accepts_marketing": true,
            "form_fields": [
                {"name": "Shoe size", "value": 42},
                {"name": "Colours", "value": ["red", "blue"]},
                {"name": "Nickname", "value": "Z"},
                {"name": "Ratio", "value": 0.25},
            ],
        }))
        .expect("inserted");
    for n in 0..12 {
        let kind = if n % 2 == 0 {
            AddressType::Residential
        } else {
            AddressType::Commercial
        };
        let id = store.create_address(full, address(n, kind));
        if n < 3 {
            store.v3_address_form_fields.insert(
                id,
                vec![
                    ("Gate".into(), json!(format!("code {n}"))),
                    ("Floor".into(), json!(n)),
                ],
            );
        }
    }
    store.v3_customers.insert(
        full,
        V3Extras {
            channel_ids: Some(vec![1, 2]),
            origin_channel_id: Some(2),
        },
    );
    let plain = store
        .insert_raw(&json!({"email": "plain@example.com", "store_credit": "7.0000"}))
        .expect("inserted");
    let ids: Vec<u64> = store.all_customers().map(|c| c.id).collect();
    assert!(ids.contains(&full) && ids.contains(&plain));
    (store, ids)
}

fn every_include() -> Vec<Includes> {
    (0..16)
        .map(|bits: u8| Includes {
            addresses: bits & 1 != 0,
            storecredit: bits & 2 != 0,
            formfields: bits & 4 != 0,
            attributes: bits & 8 != 0,
        })
        .collect()
}

#[test]
fn typed_customer_pages_are_byte_identical_to_the_value_rendering() {
    let (store, ids) = store();
    for inc in every_include() {
        for limit in [None, Some(10), Some(1)] {
            let customers: Vec<&Customer> = ids
                .iter()
                .map(|id| store.customer(*id).expect("exists"))
                .collect();
            let legacy: Vec<Value> = customers
                .iter()
                .map(|c| legacy_customer(&store, c, inc, limit))
                .collect();
            let typed: Vec<_> = customers
                .iter()
                .map(|c| customer_json(&store, c, inc, limit))
                .collect();
            // Serialized directly: going through `json!` would re-sort the typed keys.
            let legacy = serde_json::to_string(&legacy).unwrap();
            let typed = serde_json::to_string(&typed).unwrap();
            assert_eq!(typed, legacy, "include {inc:?}, address limit {limit:?}");
        }
    }
}

#[test]
fn typed_addresses_are_byte_identical_to_the_value_rendering() {
    let (store, ids) = store();
    let mut seen = 0;
    for id in ids {
        for a in store.addresses_of(id) {
            for formfields in [false, true] {
                let legacy = serde_json::to_string(&legacy_address(&store, a, formfields)).unwrap();
                let typed = serde_json::to_string(&address_json(&store, a, formfields)).unwrap();
                assert_eq!(typed, legacy);
            }
            seen += 1;
        }
    }
    assert!(seen > 12, "seeded addresses and the full customer's");
}
