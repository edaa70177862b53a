//! Issue 5: property tests for the row → payload mapping (`parse_row`, the create and update
//! payloads, the presets): never a panic, a password never outside `_authentication`, only
//! API field names in a body. The case count is small for CI; raise it with
//! `PROPTEST_CASES=100000 cargo test --test it proptests`.

use std::path::Path;

use bc_customers::mapping::columns::{Field, Layout};
use bc_customers::mapping::presets::Mapping;
use bc_customers::mapping::row::{parse_row, Blank};
use proptest::prelude::*;
use serde_json::Value;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Every column `import` knows, plus a few look-alikes and strays.
fn columns() -> Vec<&'static str> {
    let strays = [
        "form_field:Shoe size",
        " Email ",
        "\u{feff}email",
        "_result",
        "mystery",
    ];
    bc_customers::mapping::columns::known_columns()
        .chain(strays)
        .collect()
}

/// Cells as hostile as a spreadsheet export gets: formulas, quotes, unicode, NUL, numbers,
/// booleans, emails, whitespace.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z]{1,8}@[a-z]{1,8}\\.(com|co\\.uk)",
        "[ '=+@-]?[0-9]{0,6}(\\.[0-9]{0,3})?",
        "(true|false|yes|no|TRUE|1|0| )",
        "(United States|US|Canada|CA|Texas|TX|ON|Deutschland)",
        ".{0,24}",
        "[\\x00-\\x1f\"',;\\\\]{0,6}",
    ]
    .prop_filter("not a password marker", |s| !s.contains("pw-secret"))
}

fn allowed_keys() -> Vec<&'static str> {
    let mut k: Vec<&str> = Field::ALL.iter().map(|f| f.api_name()).collect();
    k.push("_authentication");
    k
}

/// The body outside `_authentication`, as text.
fn outside_auth(body: &Value) -> String {
    let mut b = body.clone();
    if let Some(o) = b.as_object_mut() {
        o.remove("_authentication");
    }
    b.to_string()
}

fn check_body(body: &Value, password: Option<&str>) -> Result<(), TestCaseError> {
    let obj = body.as_object().expect("a payload is a JSON object");
    let allowed = allowed_keys();
    for k in obj.keys() {
        prop_assert!(allowed.contains(&k.as_str()), "unexpected key {k:?}");
        prop_assert!(
            k == "_authentication" || !k.contains("password"),
            "password key outside _authentication: {k:?}"
        );
    }
    if let Some(p) = password {
        prop_assert!(
            !outside_auth(body).contains(p),
            "the password leaked outside _authentication: {body}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_row_maps_without_panic_and_keeps_passwords_in_authentication(
        cols in proptest::sample::subsequence(columns(), 1..columns().len()),
        cells in proptest::collection::vec(cell(), columns().len() + 2),
        extra in 0usize..3,
        secret in "[A-Za-z0-9]{6,12}",
        blank_clear in any::<bool>(),
    ) {
        let headers = csv::StringRecord::from(cols.clone());
        let layout = Layout::new(&headers);
        let password = format!("pw-secret-{secret}");
        // Ragged rows (extra != 1) must be refused, not panic.
        let width = (cols.len() + extra).saturating_sub(1);
        let record: csv::StringRecord = (0..width)
            .map(|i| match cols.get(i).map(|c| c.trim()) {
                Some("password") | Some("password_confirmation") => password.clone(),
                _ => cells[i % cells.len()].clone(),
            })
            .collect();
        let blank = if blank_clear { Blank::Clear } else { Blank::Keep };
        match parse_row(&layout, &record, blank) {
            Ok(data) => {
                let shown = data.password.as_deref();
                check_body(&data.create_payload(false), shown)?;
                check_body(&data.create_payload(true), shown)?;
                check_body(&data.update_payload(&Field::ALL, false), shown)?;
                check_body(&data.update_payload(&Field::ALL, true), shown)?;
                let no_password = data.update_payload(&Field::ALL, false);
                prop_assert!(
                    !no_password.to_string().contains(&password),
                    "an update without --update-passwords carries the password"
                );
                if let Some(a) = &data.address {
                    prop_assert!(!a.payload().to_string().contains(&password));
                }
            }
            Err(message) => {
                prop_assert!(!message.contains(&password), "the password in a row error: {message}");
            }
        }
    }

    #[test]
    fn presets_map_mutated_sample_rows_without_panic(
        which in 0usize..6,
        pick in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec((any::<prop::sample::Index>(), cell()), 0..8),
        drop_cells in 0usize..2,
    ) {
        let (preset, file) = [
            ("shopify", "shopify/customers_export.csv"),
            ("shopify", "shopify/customers_legacy.csv"),
            ("woocommerce", "woocommerce/customers.csv"),
            ("magento", "magento/customer_main.csv"),
            ("magento", "magento/customers_addresses.csv"),
            ("bigcommerce", "bigcommerce/customers.csv"),
        ][which];
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples").join(file);
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(&path).unwrap();
        let headers = rdr.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        let mut fields: Vec<String> = rows[pick.index(rows.len())].iter().map(str::to_string).collect();
        for (at, value) in &mutations {
            let i = at.index(fields.len());
            fields[i] = value.clone();
        }
        fields.truncate(fields.len().saturating_sub(drop_cells));
        let record = csv::StringRecord::from(fields);
        let bound = Mapping::preset(preset).unwrap().bind(&headers).unwrap();
        if let Ok(mapped) = bound.apply(&record) {
            let layout = Layout::new(&csv::StringRecord::from(bound.headers.clone()));
            if let Ok(data) = parse_row(&layout, &mapped, Blank::Keep) {
                // Sample cells are short and common ("1", "no"), so only the keys are checked here.
                check_body(&data.create_payload(false), None)?;
                check_body(&data.update_payload(&Field::ALL, false), None)?;
            }
        }
    }
}
