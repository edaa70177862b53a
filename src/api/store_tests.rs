//! The write seam through both backends against the in-process sandbox: one CSV row, mapped
//! under each backend's capabilities, reaches the store with the same customer; V3 also
//! writes the form fields and the marketing consent V2 cannot.

use super::*;
use crate::mapping::columns::Layout;
use crate::mapping::row::{parse_row, Blank};
use crate::sandbox::{Sandbox, SandboxConfig};

const HEADER: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "store_credit",
    "password",
    "force_password_reset",
    "form_field:Shoe Size",
    "accepts_marketing",
    "address_street_1",
    "address_city",
    "address_state",
    "address_zip",
    "address_country",
    "address_phone",
];

fn record(email: &str) -> csv::StringRecord {
    csv::StringRecord::from(vec![
        email,
        "Ann",
        "Lee",
        "12.50",
        "secret123",
        "true",
        "42",
        "true",
        "1 Main St",
        "Austin",
        "TX",
        "78701",
        "United States",
        "555-1234",
    ])
}

async fn writer(api: &str) -> (Sandbox, Writer) {
    let sb = Sandbox::start(SandboxConfig::default(), 0).await.unwrap();
    let client = sb.client(4, 3);
    let api = match api {
        "v2" => crate::settings::ApiVersion::V2,
        _ => crate::settings::ApiVersion::V3,
    };
    let w = Writer::for_api(api, client, 4, None);
    (sb, w)
}

fn row_for(w: &Writer, email: &str) -> (Layout, RowData) {
    let layout =
        Layout::new(&csv::StringRecord::from(HEADER.to_vec())).for_capabilities(&w.capabilities());
    let row = parse_row(&layout, &record(email), Blank::Keep).expect("a valid row");
    (layout, row)
}

#[tokio::test]
async fn one_row_creates_the_same_customer_through_v2_and_v3() {
    for api in ["v2", "v3"] {
        let (sb, w) = writer(api).await;
        let (layout, row) = row_for(&w, "ann@example.com");
        let id = w.create(1, &row, false).await.expect("created");
        if !w.capabilities().addresses_inline {
            let a = row.address.as_ref().expect("an address");
            assert!(matches!(
                w.add_address(1, id, a).await,
                Ok(AddressOutcome::Added(_))
            ));
        }
        let c = sb
            .customers()
            .into_iter()
            .find(|c| c["id"].as_u64() == Some(id))
            .expect("the customer");
        assert_eq!(c["email"], "ann@example.com", "{api}");
        assert_eq!(c["store_credit"], "12.5000", "{api}: {c}");
        assert_eq!(c["reset_pass_on_login"], true, "{api}: {c}");
        assert_eq!(sb.password_of(id).as_deref(), Some("secret123"), "{api}");
        let addresses = sb.addresses(id);
        assert_eq!(addresses.len(), 1, "{api}");
        assert_eq!(addresses[0]["state"], "Texas", "{api}");
        assert_eq!(addresses[0]["country_iso2"], "US", "{api}");
        let wrote_fields = c["form_fields"].to_string().contains("Shoe Size");
        match api {
            "v2" => {
                // V2 cannot write them: read-only columns, said in the summary.
                assert!(!wrote_fields && c["accepts_marketing"] == false, "{c}");
                assert_eq!(
                    layout.read_only,
                    vec!["form_field:Shoe Size", "accepts_marketing"]
                );
            }
            _ => {
                assert!(wrote_fields && c["accepts_marketing"] == true, "{c}");
                assert!(layout.read_only.is_empty(), "{:?}", layout.read_only);
            }
        }
    }
}

#[tokio::test]
async fn updates_groups_and_deletes_go_through_either_backend() {
    for api in ["v2", "v3"] {
        let (sb, w) = writer(api).await;
        let (_, row) = row_for(&w, "bo@example.com");
        let id = w.create(1, &row, false).await.unwrap();
        let mut change = RowData::default();
        change.values[Field::Company.index()] = Some("Acme".into());
        w.update(2, id, &change, &[Field::Company], false, false)
            .await
            .unwrap();
        let group = sb.groups()[0]["id"].as_u64().unwrap();
        w.set_group(3, id, group).await.unwrap();
        let c = sb.customers().into_iter().find(|c| c["id"] == id).unwrap();
        assert_eq!(c["company"], "Acme", "{api}");
        assert_eq!(c["customer_group_id"], group, "{api}");
        assert!(w.delete(4, 0).await.is_err());
        w.delete(4, id).await.unwrap();
        assert!(sb.customers().is_empty(), "{api}");
        let counters = sb.counters();
        assert_eq!(
            counters.collection_deletes + counters.v3_unfiltered_deletes,
            0
        );
    }
}

/// The reads a lookup plan makes, through either backend: the count, then every customer's
/// page from that count (`pages_counted`), each customer once, in ascending id; and the
/// neutral filters select the same customers through both.
#[tokio::test]
async fn the_plans_reads_give_every_customer_once_through_either_backend() {
    use crate::api::filters::{Filters, Name, Value};
    use futures::StreamExt;
    let sb = Sandbox::start(
        SandboxConfig {
            seed: 700,
            ..SandboxConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    let client = sb.client(4, 3);
    let mut all: Vec<u64> = sb
        .customers()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    all.sort_unstable();
    let email = sb.customers()[0]["email"].as_str().unwrap().to_string();
    for api in [
        crate::settings::ApiVersion::V2,
        crate::settings::ApiVersion::V3,
    ] {
        let reader = Reader::everyone(api, client.clone());
        assert_eq!(reader.page_size(), 250);
        let count = reader.count().await.unwrap();
        assert_eq!(count, 700, "{api:?}");
        let mut pages = reader.pages_counted(count, 4);
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            ids.extend(page.unwrap().customers.iter().map(|c| c.id));
        }
        assert_eq!(ids, all, "{api:?}");
        let one = Filters {
            fields: vec![(Name::Email, Value::Text(email.clone()))],
            ..Filters::default()
        };
        let reader = Reader::new(client.clone(), Selection::for_api(api, &one).unwrap());
        assert_eq!(reader.count().await.unwrap(), 1, "{api:?}");
    }
}
