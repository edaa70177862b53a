//! Tests of presets and TOML mappings: every preset against its sample files, and the format.

use super::*;
use std::collections::HashMap;

fn sample_path(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(relative)
}

fn read_sample(relative: &str) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut rdr = csv::ReaderBuilder::new()
        .from_path(sample_path(relative))
        .unwrap_or_else(|e| panic!("reading {relative}: {e}"));
    let headers = rdr.headers().unwrap().clone();
    let records = rdr.records().map(|r| r.unwrap()).collect();
    (headers, records)
}

/// Binds `mapping` to a sample file and maps every row, which must all succeed.
fn map_sample(mapping: &Mapping, relative: &str) -> (BoundMapping, Vec<HashMap<String, String>>) {
    let (headers, records) = read_sample(relative);
    let bound = mapping
        .bind(&headers)
        .unwrap_or_else(|e| panic!("binding {relative}: {e:#}"));
    let rows = records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let out = bound
                .apply(record)
                .unwrap_or_else(|e| panic!("{relative} row {}: {e}", i + 1));
            assert_eq!(out.len(), bound.headers.len());
            bound
                .headers
                .iter()
                .cloned()
                .zip(out.iter().map(str::to_string))
                .collect()
        })
        .collect();
    (bound, rows)
}

fn preset_sample(preset: &str, relative: &str) -> (BoundMapping, Vec<HashMap<String, String>>) {
    map_sample(&Mapping::preset(preset).unwrap(), relative)
}

fn get<'a>(row: &'a HashMap<String, String>, column: &str) -> &'a str {
    row.get(column)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no column {column:?} in {row:?}"))
}

/// Binds a TOML mapping to a header line and maps one record given as CSV text.
fn map_one(
    toml: &str,
    headers: &[&str],
    record: &[&str],
) -> Result<HashMap<String, String>, String> {
    let mapping = Mapping::from_toml_str(toml).unwrap_or_else(|e| panic!("{e:#}"));
    let bound = mapping
        .bind(&csv::StringRecord::from(headers.to_vec()))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let out = bound.apply(&csv::StringRecord::from(record.to_vec()))?;
    Ok(bound
        .headers
        .iter()
        .cloned()
        .zip(out.iter().map(str::to_string))
        .collect())
}

fn toml_error(toml: &str) -> String {
    format!("{:#}", Mapping::from_toml_str(toml).unwrap_err())
}

fn notices_text(bound: &BoundMapping) -> String {
    bound.notices.join("\n")
}

const ADDRESS_COLUMNS: &[&str] = &[
    "address_first_name",
    "address_last_name",
    "address_company",
    "address_street_1",
    "address_street_2",
    "address_city",
    "address_state",
    "address_zip",
    "address_country",
    "address_phone",
];

fn assert_no_address(row: &HashMap<String, String>) {
    for column in ADDRESS_COLUMNS {
        if let Some(value) = row.get(*column) {
            assert_eq!(value, "", "{column} should be blank in {row:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Presets

#[test]
fn presets_parse_and_unknown_names_are_listed() {
    for name in [
        "shopify",
        "woocommerce",
        "magento",
        "bigcommerce",
        " Shopify ",
        "MAGENTO",
    ] {
        Mapping::preset(name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    }
    let err = format!("{:#}", Mapping::preset("shopfy").unwrap_err());
    assert!(err.contains("\"shopfy\""), "{err}");
    for name in ["shopify", "woocommerce", "magento", "bigcommerce"] {
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn shopify_current_export() {
    let (bound, rows) = preset_sample("shopify", "shopify/customers_export.csv");
    assert_eq!(rows.len(), 15);
    assert!(
        !bound.headers.contains(&"id".to_string()),
        "a Shopify customer id must never become a BigCommerce id: {:?}",
        bound.headers
    );
    assert_eq!(
        bound.headers,
        [
            "email",
            "first_name",
            "last_name",
            "company",
            "phone",
            "notes",
            "address_first_name",
            "address_last_name",
            "address_company",
            "address_street_1",
            "address_street_2",
            "address_city",
            "address_state",
            "address_zip",
            "address_country",
            "address_phone",
        ]
    );

    let olivia = &rows[0];
    assert_eq!(get(olivia, "first_name"), "Olivia");
    assert_eq!(get(olivia, "email"), "olivia.bennett@example.com");
    assert_eq!(get(olivia, "phone"), "+14165550142");
    assert_eq!(get(olivia, "address_state"), "Ontario");
    assert_eq!(get(olivia, "address_country"), "Canada");
    assert_eq!(get(olivia, "address_street_2"), "Apt 3B");
    assert_eq!(get(olivia, "address_first_name"), "Olivia");
    assert_eq!(get(olivia, "address_last_name"), "Bennett");
    assert_eq!(
        get(olivia, "notes"),
        "Shopify customer ID: 7012345678901\nShopify tags: vip, newsletter"
    );

    let liam = &rows[1];
    // Emails keep their case: BigCommerce compares them case-insensitively.
    assert_eq!(get(liam, "email"), "LIAM.OCONNOR@EXAMPLE.COM");
    assert_eq!(get(liam, "company"), "O'Connor Landscaping, Inc.");
    assert_eq!(get(liam, "address_company"), "O'Connor Landscaping, Inc.");
    assert_eq!(get(liam, "address_state"), "California");
    assert_eq!(get(liam, "address_country"), "United States");
    assert_eq!(get(liam, "phone"), "+17145550100");
    assert_eq!(get(liam, "address_phone"), "+17145550199");
    assert_eq!(
        get(liam, "notes"),
        "Wholesale account since 2019.\nShopify customer ID: 7012345678902\n\
         Shopify tags: wholesale\nShopify tax exempt: yes"
    );

    let zoe = &rows[2];
    assert_eq!(get(zoe, "first_name"), "Zoë");
    assert_eq!(get(zoe, "address_street_1"), "Torstraße 12");
    assert_eq!(get(zoe, "address_country"), "Germany");
    assert_eq!(get(zoe, "address_state"), "");
    assert_eq!(get(zoe, "phone"), "");
    assert_eq!(get(zoe, "address_phone"), "+49 30 55501234");
    assert_eq!(
        get(zoe, "notes"),
        "Prefers invoices by post.\nCall before delivery: gate code 4711.\n\
         Shopify customer ID: 7012345678903"
    );

    // Spain has provinces in Shopify but no table here: the code is kept as it was.
    assert_eq!(get(&rows[3], "address_state"), "M");
    assert_eq!(get(&rows[3], "address_country"), "Spain");

    let ava = &rows[4];
    assert_eq!(get(ava, "email"), "ava.thompson@example.com");
    assert_no_address(ava);

    let noah = &rows[5];
    assert_eq!(get(noah, "address_state"), "New South Wales");
    assert_eq!(get(noah, "address_country"), "Australia");
    // No address phone: the customer's phone fills it (V2 requires one).
    assert_eq!(get(noah, "address_phone"), "+61 2 5550 1234");

    assert_eq!(get(&rows[6], "address_state"), "Quebec");
    assert_eq!(get(&rows[7], "last_name"), "Nguyễn");
    assert_eq!(get(&rows[7], "address_state"), "Texas");
    assert_eq!(get(&rows[8], "address_country"), "United Kingdom");
    assert_eq!(get(&rows[8], "company"), "Rossi & Partners Ltd");
    assert_eq!(get(&rows[9], "first_name"), "Mia");
    assert_eq!(get(&rows[9], "last_name"), "Johansson");
    assert_eq!(get(&rows[9], "address_country"), "Sweden");
    assert_eq!(get(&rows[10], "address_zip"), "02108");
    assert_eq!(get(&rows[10], "email"), "Lucas.Martin@Example.com");
    assert_eq!(get(&rows[10], "address_state"), "Massachusetts");
    assert_eq!(get(&rows[12], "address_state"), "Illinois");
    assert_eq!(get(&rows[13], "address_state"), "British Columbia");

    let notices = notices_text(&bound);
    assert!(
        notices
            .contains("\"Accepts Email Marketing\", \"Accepts SMS Marketing\": marketing consent"),
        "{notices}"
    );
    assert!(
        notices.contains("\"Total Spent\", \"Total Orders\""),
        "{notices}"
    );
    assert!(
        notices.contains("\"Customer ID\": Shopify's customer id is not a BigCommerce id"),
        "{notices}"
    );
    assert!(notices.contains("\"Tags\":"), "{notices}");
    assert!(notices.contains("\"Tax Exempt\":"), "{notices}");
    assert!(!notices.contains("Not recognised"), "{notices}");
}

#[test]
fn shopify_legacy_export() {
    let (bound, rows) = preset_sample("shopify", "shopify/customers_legacy.csv");
    assert_eq!(rows.len(), 10);
    assert!(!bound.headers.contains(&"id".to_string()));
    assert!(
        !notices_text(&bound).contains("Not recognised"),
        "{:?}",
        bound.notices
    );

    let emma = &rows[0];
    assert_eq!(get(emma, "address_state"), "Ontario");
    assert_eq!(get(emma, "address_country"), "Canada");
    assert_eq!(get(emma, "phone"), "+14165550101");
    assert_eq!(get(emma, "address_phone"), "+14165550101");
    assert_eq!(get(emma, "notes"), "");

    let james = &rows[1];
    assert_eq!(get(james, "email"), "JAMES.ANDERSON@EXAMPLE.ORG");
    assert_eq!(get(james, "company"), "Anderson Hardware, LLC");
    assert_eq!(get(james, "address_state"), "Oregon");
    assert_eq!(
        get(james, "notes"),
        // The mapping's order (the note first), not the file's (Tags before Note).
        "Net 30 terms agreed by phone.\nShopify tags: wholesale\nShopify tax exempt: yes"
    );

    assert_eq!(get(&rows[2], "address_country"), "France");
    // Province blank, code filled: the code is expanded.
    assert_eq!(get(&rows[3], "address_state"), "Queensland");
    // A province name of a country without a table stays as it is.
    assert_eq!(get(&rows[4], "address_state"), "Tokyo");
    assert_eq!(get(&rows[4], "address_country"), "Japan");
    assert_eq!(get(&rows[5], "address_state"), "Quebec");
    assert_eq!(get(&rows[6], "first_name"), "Amélie");
    assert_eq!(
        get(&rows[6], "notes"),
        "Gift wrapping on every order.\nNo invoices in the parcel."
    );
    let jack = &rows[7];
    assert_eq!(get(jack, "email"), "jack.murphy@example.org");
    assert_no_address(jack);
    // Lower-case code.
    assert_eq!(get(&rows[8], "address_state"), "New York");
    assert_eq!(get(&rows[8], "address_country"), "United States");
    assert_eq!(get(&rows[9], "address_country"), "New Zealand");
}

#[test]
fn woocommerce_export() {
    let (bound, rows) = preset_sample("woocommerce", "woocommerce/customers.csv");
    assert_eq!(rows.len(), 15);
    assert!(!bound.headers.contains(&"id".to_string()));
    assert!(!bound.headers.contains(&"password".to_string()));

    let ella = &rows[0];
    assert_eq!(get(ella, "email"), "ella.harris@example.com");
    assert_eq!(get(ella, "address_state"), "Illinois");
    assert_eq!(get(ella, "address_country"), "United States");
    assert_eq!(get(ella, "phone"), "217-555-0134");
    assert_eq!(get(ella, "address_phone"), "217-555-0134");
    assert_eq!(
        get(ella, "notes"),
        "WooCommerce user ID: 101\nWooCommerce customer ID: 101"
    );

    let marcus = &rows[1];
    // user_email wins over billing_email when both are filled; billing is the address.
    assert_eq!(get(marcus, "email"), "MARCUS.THOMPSON@EXAMPLE.NET");
    assert_eq!(get(marcus, "company"), "Thompson Supply Co., Ltd.");
    assert_eq!(get(marcus, "address_street_1"), "900 Industrial Pkwy");
    assert_eq!(get(marcus, "address_street_2"), "Building C");

    let soren = &rows[2];
    assert_eq!(get(soren, "first_name"), "Søren");
    assert_eq!(get(soren, "address_country"), "Denmark");

    // A guest-style row without user_email: billing_email is the email.
    let priya = &rows[3];
    assert_eq!(get(priya, "email"), "priya.patel@example.com");
    assert_eq!(get(priya, "address_state"), "Ontario");
    assert_eq!(get(priya, "address_country"), "Canada");

    // Blank profile names: the billing names fill them.
    let lily = &rows[4];
    assert_eq!(get(lily, "first_name"), "Lily");
    assert_eq!(get(lily, "last_name"), "Chen");
    assert_eq!(get(lily, "address_state"), "New South Wales");

    // Only WooCommerce's default country: no address.
    let daniel = &rows[5];
    assert_eq!(get(daniel, "first_name"), "Daniel");
    assert_no_address(daniel);

    // A state code of a country without a table is kept.
    assert_eq!(get(&rows[6], "address_state"), "SP");
    assert_eq!(get(&rows[6], "address_country"), "Brazil");
    let hannah = &rows[7];
    assert_eq!(get(hannah, "email"), "Hannah.Becker@Example.com");
    assert_eq!(get(hannah, "address_city"), "München");
    // Address names come from billing, else from the profile.
    assert_eq!(get(hannah, "address_first_name"), "Hannah");
    assert_eq!(get(&rows[9], "address_country"), "Singapore");
    assert_eq!(get(&rows[9], "address_zip"), "048616");
    assert_eq!(get(&rows[13], "address_state"), "Queensland");
    assert_eq!(get(&rows[13], "company"), "Jones & Daughters");

    let notices = notices_text(&bound);
    assert!(
        notices.contains("\"user_pass\": password hashes"),
        "{notices}"
    );
    assert!(notices.contains("--force-password-reset"), "{notices}");
    assert!(
        notices.contains("\"shipping_*\" (10 columns):"),
        "{notices}"
    );
    assert!(notices.contains("\"roles\":"), "{notices}");
    assert!(notices.contains("\"ID\", \"customer_id\":"), "{notices}");
    assert!(notices.contains("\"user_login\""), "{notices}");
    assert!(!notices.contains("Not recognised"), "{notices}");
}

#[test]
fn magento_main_file() {
    let (bound, rows) = preset_sample("magento", "magento/customer_main.csv");
    assert_eq!(rows.len(), 10);
    // No address columns in the main file, and group ids are not BigCommerce ids.
    assert_eq!(
        bound.headers,
        ["email", "first_name", "last_name", "notes", "password"]
    );
    let robert = &rows[1];
    assert_eq!(get(robert, "first_name"), "Robert");
    assert_eq!(get(robert, "password"), "Welcome2024");
    assert_eq!(
        get(robert, "notes"),
        "Middle name: J.\nName prefix: Dr.\nTax/VAT number: US-EIN 12-3456789"
    );
    assert_eq!(get(&rows[0], "password"), "");
    assert_eq!(get(&rows[2], "email"), "FATIMA.ZAHRA@EXAMPLE.NET");
    assert_eq!(
        get(&rows[4], "notes"),
        "Name suffix: Jr.\nTax/VAT number: GB123456789"
    );
    assert_eq!(get(&rows[5], "email"), "nora.jensen@example.net");
    assert_eq!(get(&rows[5], "password"), "Garden7Rose");
    let passwords = rows
        .iter()
        .filter(|r| !get(r, "password").is_empty())
        .count();
    assert_eq!(passwords, 2);

    let notices = notices_text(&bound);
    assert!(
        notices.contains("\"password_hash\": password hashes"),
        "{notices}"
    );
    assert!(
        notices.contains("\"group_id\": Magento group ids are not BigCommerce group ids"),
        "{notices}"
    );
    assert!(notices.contains("\"dob\", \"gender\":"), "{notices}");
    assert!(notices.contains("\"_website\""), "{notices}");
    assert!(!notices.contains("Not recognised"), "{notices}");
}

#[test]
fn magento_customers_and_addresses_file() {
    let (bound, rows) = preset_sample("magento", "magento/customers_addresses.csv");
    assert_eq!(rows.len(), 10);
    assert!(bound.headers.contains(&"address_street_2".to_string()));

    let grace = &rows[0];
    assert_eq!(get(grace, "last_name"), "O'Brien");
    assert_eq!(get(grace, "address_street_1"), "1100 Congress Ave");
    assert_eq!(get(grace, "address_street_2"), "Suite 300");
    assert_eq!(get(grace, "address_state"), "Texas");
    assert_eq!(get(grace, "address_country"), "United States");
    assert_eq!(get(grace, "address_phone"), "512-555-0111");

    // The customer's second address: a row with only the email and the address.
    let second = &rows[1];
    assert_eq!(get(second, "email"), "grace.obrien@example.com");
    assert_eq!(get(second, "first_name"), "");
    assert_eq!(get(second, "address_first_name"), "Grace");
    assert_eq!(get(second, "address_company"), "O'Brien Consulting, LLC");
    assert_eq!(get(second, "address_state"), "Texas");

    let hugo = &rows[2];
    assert_eq!(get(hugo, "address_street_1"), "15 Rue de la République");
    assert_eq!(get(hugo, "address_street_2"), "2e étage");
    assert_eq!(
        get(hugo, "notes"),
        "Tax/VAT number: FR40303265045\nAddress VAT ID: FR40303265045"
    );
    assert_eq!(get(&rows[3], "address_state"), "Ontario");
    assert_eq!(get(&rows[4], "password"), "Sunrise42go");
    assert_eq!(get(&rows[4], "address_country"), "Germany");
    assert_eq!(get(&rows[5], "address_state"), "Western Australia");
    let arjun = &rows[6];
    assert_eq!(get(arjun, "address_street_1"), "535 Mission St");
    assert_eq!(get(arjun, "address_street_2"), "Floor 14, Attn: Receiving");
    assert_no_address(&rows[7]);
    assert_eq!(get(&rows[8], "address_state"), "Nova Scotia");
    assert_eq!(get(&rows[9], "address_country"), "United Kingdom");

    let notices = notices_text(&bound);
    assert!(
        notices.contains("\"_address_default_billing_\""),
        "{notices}"
    );
    assert!(!notices.contains("Not recognised"), "{notices}");
}

#[test]
fn magento_preset_refuses_a_separate_addresses_file() {
    let headers = csv::StringRecord::from(vec![
        "_website",
        "_email",
        "_entity_id",
        "city",
        "firstname",
    ]);
    let err = format!(
        "{:#}",
        Mapping::preset("magento")
            .unwrap()
            .bind(&headers)
            .unwrap_err()
    );
    assert!(err.contains("needs a source column for \"email\""), "{err}");
}

#[test]
fn bigcommerce_control_panel_export() {
    let (bound, rows) = preset_sample("bigcommerce", "bigcommerce/customers.csv");
    assert_eq!(rows.len(), 10);
    assert!(!bound.headers.contains(&"id".to_string()));
    assert!(bound.headers.contains(&"customer_group".to_string()));

    let victoria = &rows[0];
    assert_eq!(get(victoria, "email"), "victoria.hughes@example.com");
    assert_eq!(get(victoria, "customer_group"), "Retail");
    assert_eq!(get(victoria, "store_credit"), "0.0000");
    assert_eq!(get(victoria, "address_state"), "Washington");
    assert_eq!(get(victoria, "address_country"), "United States");
    assert_eq!(get(victoria, "notes"), "Previous store customer ID: 1");

    let samuel = &rows[1];
    assert_eq!(get(samuel, "email"), "SAMUEL.PARK@EXAMPLE.ORG");
    assert_eq!(get(samuel, "customer_group"), "Wholesale");
    assert_eq!(get(samuel, "store_credit"), "150.0000");
    assert_eq!(get(samuel, "tax_exempt_category"), "E");
    // Address 1 only.
    assert_eq!(get(samuel, "address_street_1"), "1 Market St");
    assert_eq!(
        get(samuel, "notes"),
        "Key account; quarterly review with Dana.\nPrevious store customer ID: 2"
    );

    // A "space" state (countries without states) is blank after trimming.
    assert_eq!(get(&rows[2], "address_state"), "");
    assert_eq!(get(&rows[2], "address_country"), "Portugal");
    assert_eq!(
        get(&rows[3], "notes"),
        "Prefers phone contact.\nDo not email on weekends.\nPrevious store customer ID: 4"
    );
    let owen = &rows[5];
    assert_eq!(get(owen, "email"), "owen.gallagher@example.net");
    assert_no_address(owen);
    assert_eq!(get(&rows[7], "address_state"), "New South Wales");

    let notices = notices_text(&bound);
    assert!(
        notices.contains("\"Address * - *\" (11 columns): one row brings one address"),
        "{notices}"
    );
    assert!(
        notices.contains("\"Receive Review/Abandoned Cart Emails?\": marketing consent"),
        "{notices}"
    );
    assert!(
        notices
            .contains("\"Customer ID\": this is the customer's id in the store the file came from"),
        "{notices}"
    );
    assert!(notices.contains("\"Address ID - 1\""), "{notices}");
    assert!(!notices.contains("Not recognised"), "{notices}");
}

#[test]
fn bigcommerce_email_header_variant_and_packed_addresses() {
    let headers = csv::StringRecord::from(vec![
        "Customer ID",
        "First Name",
        "Last Name",
        "Company",
        "Email",
        "Phone",
        "Notes",
        "Store Credit",
        "Customer Group",
        "Date Joined",
        "Addresses",
        "Receive Review/Abandoned Cart Emails?",
        "Tax Exempt Category",
    ]);
    let bound = Mapping::preset("bigcommerce")
        .unwrap()
        .bind(&headers)
        .unwrap();
    assert!(bound.headers.contains(&"email".to_string()));
    assert!(!bound.headers.iter().any(|h| h.starts_with("address_")));
    let notices = notices_text(&bound);
    assert!(
        notices.contains("\"Addresses\": this export template packs"),
        "{notices}"
    );
    assert!(notices.contains("\"Date Joined\""), "{notices}");
}

#[test]
fn bigcommerce_second_address_pass() {
    for n in [2, 3] {
        let mapping = Mapping::preset(&format!("bigcommerce-address-{n}")).unwrap();
        let (bound, rows) = map_sample(&mapping, "bigcommerce/customers.csv");
        assert_eq!(bound.headers[0], "email");
        assert!(!bound.headers.contains(&"notes".to_string()));
        if n == 2 {
            assert_eq!(get(&rows[1], "address_street_1"), "2500 Harbor Way");
            assert_eq!(get(&rows[1], "address_first_name"), "Receiving");
            assert_eq!(get(&rows[1], "address_state"), "California");
            assert_eq!(get(&rows[4], "address_city"), "Wiesbaden");
            assert_eq!(get(&rows[4], "address_country"), "Germany");
        }
        assert_no_address(&rows[0]);
        let dropped = if n == 2 { 19 } else { 29 };
        let wanted = format!("\"*\" ({dropped} columns): this pass only adds address {n};");
        assert!(
            notices_text(&bound).contains(&wanted),
            "{:?}",
            bound.notices
        );
    }
}

#[test]
fn woocommerce_shipping_address_pass() {
    let mapping = Mapping::preset("woocommerce-shipping").unwrap();
    let (_bound, rows) = map_sample(&mapping, "woocommerce/customers.csv");
    let marcus = &rows[1];
    assert_eq!(get(marcus, "address_street_1"), "920 Industrial Pkwy");
    assert_eq!(get(marcus, "address_first_name"), "Receiving");
    assert_eq!(get(marcus, "address_phone"), "614-555-0191");
    // No shipping phone: the billing phone.
    assert_eq!(get(&rows[8], "address_phone"), "+353 1 555 0109");
    assert_eq!(get(&rows[13], "address_zip"), "4178");
    assert_no_address(&rows[0]);
}

#[test]
fn a_results_file_reimports_with_the_same_preset() {
    let (headers, records) = read_sample("shopify/customers_export.csv");
    let mut results_headers =
        csv::StringRecord::from(vec!["_row", "_result", "_customer_id", "_message"]);
    results_headers.extend(headers.iter());
    let mut record =
        csv::StringRecord::from(vec!["2", "failed", "", "The field 'phone' is invalid."]);
    record.extend(records[1].iter());

    let mapping = Mapping::preset("shopify").unwrap();
    let plain = mapping.bind(&headers).unwrap();
    let from_results = mapping.bind(&results_headers).unwrap();
    assert_eq!(plain.headers, from_results.headers);
    assert_eq!(plain.notices, from_results.notices);
    assert_eq!(
        plain.apply(&records[1]).unwrap(),
        from_results.apply(&record).unwrap()
    );
}

#[test]
fn headers_match_case_insensitively_trimmed_and_without_bom() {
    let headers = csv::StringRecord::from(vec!["\u{feff}EMAIL", " first name ", "LAST NAME"]);
    let bound = Mapping::preset("shopify").unwrap().bind(&headers).unwrap();
    assert_eq!(bound.headers, ["email", "first_name", "last_name"]);
    let out = bound
        .apply(&csv::StringRecord::from(vec![
            "a@example.com",
            "Ann",
            "Lee",
        ]))
        .unwrap();
    assert_eq!(
        out.iter().collect::<Vec<_>>(),
        ["a@example.com", "Ann", "Lee"]
    );
}

#[test]
fn a_preset_names_the_missing_email_column() {
    let headers = csv::StringRecord::from(vec!["First Name", "Last Name", "Phone"]);
    let err = format!(
        "{:#}",
        Mapping::preset("shopify")
            .unwrap()
            .bind(&headers)
            .unwrap_err()
    );
    assert!(
        err.contains("the shopify preset needs a source column for \"email\" (one of: \"Email\")"),
        "{err}"
    );
    assert!(
        err.contains("\"First Name\", \"Last Name\", \"Phone\""),
        "{err}"
    );

    let headers = csv::StringRecord::from(vec!["first_name"]);
    let err = format!(
        "{:#}",
        Mapping::preset("woocommerce")
            .unwrap()
            .bind(&headers)
            .unwrap_err()
    );
    assert!(err.contains("\"user_email\", \"billing_email\""), "{err}");
}

#[test]
fn a_mapped_header_twice_is_an_error() {
    let headers = csv::StringRecord::from(vec!["Email", "First Name", "email"]);
    let err = format!(
        "{:#}",
        Mapping::preset("shopify")
            .unwrap()
            .bind(&headers)
            .unwrap_err()
    );
    assert!(err.contains("more than once (columns 1 and 3)"), "{err}");
}

#[test]
fn unknown_columns_are_dropped_with_one_notice() {
    let headers = csv::StringRecord::from(vec!["Email", "Loyalty Points", "Birthday", "", "_row"]);
    let bound = Mapping::preset("shopify").unwrap().bind(&headers).unwrap();
    assert_eq!(bound.headers, ["email"]);
    let notices = notices_text(&bound);
    assert!(
        notices.contains(
            "Not recognised by the shopify preset, dropped: \"Loyalty Points\", \"Birthday\"."
        ),
        "{notices}"
    );
    assert!(notices.contains("--mapping FILE"), "{notices}");
    assert!(
        notices.contains("1 column(s) without a header were ignored."),
        "{notices}"
    );
    assert!(!notices.contains("_row"), "{notices}");
}

// ---------------------------------------------------------------------------------------------
// The TOML format

#[test]
fn the_documented_example_parses_and_works() {
    let toml = r#"
        [columns]
        "E-mail" = "email"
        "Phone" = { to = "phone", transforms = ["trim", "strip_leading_quote"] }
        "Full Name" = { split_name = ["first_name", "last_name"] }
        "Group" = { to = "customer_group_id", map = { "1" = "2", "2" = "3" }, strict = false }
        "Country Code" = { to = "address_country", transforms = ["country_name"] }
        "Province Code" = { to = "address_state", transforms = ["state_name(address_country)"] }
        "Street" = "address_street_1"
        "Customer ID" = { to = "notes", prefix = "Shopify customer ID: " }
        "Tags" = { drop = true, notice = "Shopify tags cannot be written through V2." }
        [constants]
        force_password_reset = "true"
    "#;
    let headers = [
        "E-mail",
        "Phone",
        "Full Name",
        "Group",
        "Country Code",
        "Province Code",
        "Street",
        "Customer ID",
        "Tags",
    ];
    let row = map_one(
        toml,
        &headers,
        &[
            " x@example.com",
            " '0123 ",
            "Jean-Claude Van Damme",
            "1",
            "au",
            "vic",
            "1 Main St",
            "'77",
            "a, b",
        ],
    )
    .unwrap();
    assert_eq!(get(&row, "email"), "x@example.com");
    assert_eq!(get(&row, "phone"), "0123");
    assert_eq!(get(&row, "first_name"), "Jean-Claude");
    assert_eq!(get(&row, "last_name"), "Van Damme");
    assert_eq!(get(&row, "customer_group_id"), "2");
    assert_eq!(get(&row, "address_country"), "Australia");
    assert_eq!(get(&row, "address_state"), "Victoria");
    assert_eq!(get(&row, "notes"), "Shopify customer ID: '77");
    assert_eq!(get(&row, "force_password_reset"), "true");
    assert!(!row.contains_key("tags"));

    // Not in the value map, strict = false: passes through.
    let row = map_one(
        toml,
        &headers,
        &["x@example.com", "", "Ann", "9", "", "", "", "", ""],
    )
    .unwrap();
    assert_eq!(get(&row, "customer_group_id"), "9");
    assert_eq!(get(&row, "first_name"), "Ann");
    assert_eq!(get(&row, "last_name"), "");
}

#[test]
fn split_name_on_the_last_space() {
    let toml = r#"
        [columns]
        "email" = "email"
        "name" = { split_name = ["first_name", "last_name"], split_on = "last_space" }
    "#;
    let row = map_one(
        toml,
        &["email", "name"],
        &["a@example.com", "  Mary Ann   Smith "],
    )
    .unwrap();
    assert_eq!(get(&row, "first_name"), "Mary Ann");
    assert_eq!(get(&row, "last_name"), "Smith");
    let row = map_one(toml, &["email", "name"], &["a@example.com", "Cher"]).unwrap();
    assert_eq!(get(&row, "first_name"), "Cher");
    assert_eq!(get(&row, "last_name"), "");
}

#[test]
fn strict_value_maps_fail_the_row_naming_column_and_value() {
    let toml = r#"
        [columns]
        "Email" = "email"
        "Group" = { to = "customer_group", map = { "1" = "Retail", "2" = "Wholesale" } }
    "#;
    let headers = ["Email", "Group"];
    assert_eq!(
        get(
            &map_one(toml, &headers, &["a@example.com", "2"]).unwrap(),
            "customer_group"
        ),
        "Wholesale"
    );
    let err = map_one(toml, &headers, &["a@example.com", "7"]).unwrap_err();
    assert!(err.contains("column \"Group\""), "{err}");
    assert!(err.contains("value \"7\""), "{err}");
    assert!(err.contains("1, 2"), "{err}");
    // A blank cell is not looked up.
    assert_eq!(
        get(
            &map_one(toml, &headers, &["a@example.com", " "]).unwrap(),
            "customer_group"
        ),
        ""
    );
}

#[test]
fn value_maps_ignore_case_and_can_blank_and_fill_blanks() {
    let toml = r#"
        [columns]
        "Email" = "email"
        "Exempt" = { to = "tax_exempt_category", map = { "YES" = "E", "no" = "", "" = "N/A" } }
    "#;
    let headers = ["Email", "Exempt"];
    let cell = |v: &str| {
        get(
            &map_one(toml, &headers, &["a@example.com", v]).unwrap(),
            "tax_exempt_category",
        )
        .to_string()
    };
    assert_eq!(cell("yes"), "E");
    assert_eq!(cell("Yes"), "E");
    assert_eq!(cell("NO"), "");
    assert_eq!(cell(""), "N/A");
}

#[test]
fn first_filled_source_wins_and_notes_collect_in_order() {
    let toml = r#"
        [columns]
        "Primary" = "email"
        "Secondary" = "email"
        "B note" = { to = "notes", prefix = "B: " }
        "A note" = { to = "notes", prefix = "A: " }
    "#;
    let headers = ["Secondary", "A note", "Primary", "B note"];
    let row = map_one(
        toml,
        &headers,
        &["second@example.com", "one", "first@example.com", "two"],
    )
    .unwrap();
    assert_eq!(get(&row, "email"), "first@example.com");
    // Notes follow the mapping's order, not the file's.
    assert_eq!(get(&row, "notes"), "B: two\nA: one");
    let row = map_one(toml, &headers, &["second@example.com", "", " ", ""]).unwrap();
    assert_eq!(get(&row, "email"), "second@example.com");
    assert_eq!(get(&row, "notes"), "");
}

#[test]
fn constants_defaults_and_fallbacks() {
    let toml = r#"
        [options]
        drop_empty_address = false
        [columns]
        "Email" = "email"
        "First" = "first_name"
        "Bill First" = "address_first_name"
        "Country" = { to = "address_country", transforms = ["country_name"] }
        "State" = { to = "address_state", transforms = ["state_name"] }
        [constants]
        customer_group = "Imported"
        force_password_reset = true
        [defaults]
        address_country = "United States"
        [fallback]
        first_name = "address_first_name"
        address_first_name = "first_name"
        company = "address_company"
    "#;
    let headers = ["Email", "First", "Bill First", "Country", "State"];
    let row = map_one(toml, &headers, &["a@example.com", "", "Ann", "", "tx"]).unwrap();
    assert_eq!(get(&row, "customer_group"), "Imported");
    assert_eq!(get(&row, "force_password_reset"), "true");
    assert_eq!(get(&row, "first_name"), "Ann");
    assert_eq!(get(&row, "address_first_name"), "Ann");
    // The default country is what state_name sees.
    assert_eq!(get(&row, "address_country"), "United States");
    assert_eq!(get(&row, "address_state"), "Texas");
    // A fallback whose source no column fills adds no column.
    assert!(!row.contains_key("company"));
    let row = map_one(toml, &headers, &["a@example.com", "Bo", "", "CA", "qc"]).unwrap();
    assert_eq!(get(&row, "address_first_name"), "Bo");
    assert_eq!(get(&row, "address_state"), "Quebec");
}

#[test]
fn fallbacks_do_not_chain() {
    let toml = r#"
        [columns]
        "Email" = "email"
        "Phone" = "phone"
        [fallback]
        address_phone = "phone"
        company = "address_phone"
    "#;
    let row = map_one(toml, &["Email", "Phone"], &["a@example.com", "555"]).unwrap();
    // No address column is filled by a column: the address columns are not output at all.
    assert!(!row.contains_key("address_phone"));
    assert!(!row.contains_key("company"));
}

#[test]
fn state_name_can_read_another_country_column() {
    let toml = r#"
        [options]
        drop_empty_address = false
        [columns]
        "Email" = "email"
        "Ship Country" = { to = "form_field:Ship Country", transforms = ["country_name"] }
        "Ship State" = { to = "form_field:Ship State", transforms = ["state_name(form_field:Ship Country)"] }
    "#;
    let row = map_one(
        toml,
        &["Email", "Ship Country", "Ship State"],
        &["a@example.com", "AUS", "QLD"],
    )
    .unwrap();
    assert_eq!(get(&row, "form_field:Ship Country"), "Australia");
    assert_eq!(get(&row, "form_field:Ship State"), "Queensland");
}

#[test]
fn split_lines_and_passwords_keep_their_spaces() {
    let toml = r#"
        [columns]
        "Email" = "email"
        "Street" = { split_lines = ["address_street_1", "address_street_2"] }
        "Password" = { to = "password", trim = false }
    "#;
    let row = map_one(
        toml,
        &["Email", "Street", "Password"],
        &[
            "a@example.com",
            " 1 Main St \r\n\r\n Unit 4 \n Rear ",
            " pass word1 ",
        ],
    )
    .unwrap();
    assert_eq!(get(&row, "address_street_1"), "1 Main St");
    assert_eq!(get(&row, "address_street_2"), "Unit 4, Rear");
    assert_eq!(get(&row, "password"), " pass word1 ");
}

#[test]
fn custom_mappings_drop_or_pass_through_unmapped_columns() {
    let toml = "[columns]\n\"E-mail\" = \"email\"\n";
    let headers = csv::StringRecord::from(vec!["E-mail", "First_Name", "Shoe size", "_result"]);
    let bound = Mapping::from_toml_str(toml)
        .unwrap()
        .bind(&headers)
        .unwrap();
    assert_eq!(bound.headers, ["email"]);
    let notices = notices_text(&bound);
    assert!(
        notices.contains("Not recognised by the mapping, dropped: \"First_Name\", \"Shoe size\"."),
        "{notices}"
    );
    assert!(notices.contains("keep_unmapped = true"), "{notices}");

    let toml = "[options]\nkeep_unmapped = true\n[columns]\n\"E-mail\" = \"email\"\n";
    let bound = Mapping::from_toml_str(toml)
        .unwrap()
        .bind(&headers)
        .unwrap();
    // Known import columns pass through in canonical spelling, others by their own name.
    assert_eq!(bound.headers, ["email", "first_name", "Shoe size"]);
    let out = bound
        .apply(&csv::StringRecord::from(vec![
            " a@example.com ",
            " Ann ",
            "42",
            "failed",
        ]))
        .unwrap();
    assert_eq!(
        out.iter().collect::<Vec<_>>(),
        ["a@example.com", "Ann", "42"]
    );
    assert!(notices_text(&bound)
        .contains("Passed through unchanged (keep_unmapped): \"First_Name\", \"Shoe size\"."));

    // Passing through a column the mapping already fills would duplicate it.
    let headers = csv::StringRecord::from(vec!["E-mail", "EMAIL"]);
    let err = format!(
        "{:#}",
        Mapping::from_toml_str(toml)
            .unwrap()
            .bind(&headers)
            .unwrap_err()
    );
    assert!(err.contains("\"EMAIL\""), "{err}");
    assert!(err.contains("already fills \"email\""), "{err}");
}

#[test]
fn a_mapping_without_email_or_id_is_refused() {
    let toml = "[columns]\n\"Name\" = { split_name = [\"first_name\", \"last_name\"] }\n";
    let headers = csv::StringRecord::from(vec!["Name"]);
    let err = format!(
        "{:#}",
        Mapping::from_toml_str(toml)
            .unwrap()
            .bind(&headers)
            .unwrap_err()
    );
    assert!(err.contains("neither an email nor an id"), "{err}");
    // An id is enough (updates by id).
    let toml = "[columns]\n\"Customer\" = \"id\"\n\"Group\" = \"customer_group\"\n";
    let headers = csv::StringRecord::from(vec!["Customer", "Group"]);
    Mapping::from_toml_str(toml)
        .unwrap()
        .bind(&headers)
        .unwrap();
}

#[test]
fn extends_changes_single_columns_of_a_preset() {
    let toml = r#"
        extends = "magento"
        [columns]
        "group_id" = { to = "customer_group", map = { "1" = "Retail", "2" = "Wholesale", "3" = "VIP" } }
        "TAXVAT" = { drop = true }
    "#;
    let mapping = Mapping::from_toml_str(toml).unwrap();
    let (bound, rows) = map_sample(&mapping, "magento/customer_main.csv");
    assert!(bound.headers.contains(&"customer_group".to_string()));
    assert_eq!(get(&rows[0], "customer_group"), "Retail");
    assert_eq!(get(&rows[1], "customer_group"), "Wholesale");
    assert_eq!(get(&rows[4], "customer_group"), "VIP");
    // Replaced in place: the notes order of the preset is kept, and taxvat is gone from it.
    assert_eq!(get(&rows[1], "notes"), "Middle name: J.\nName prefix: Dr.");
    let notices = notices_text(&bound);
    assert!(!notices.contains("Magento group ids"), "{notices}");
    assert!(
        notices.contains("Not migrated (dropped by the mapping)"),
        "{notices}"
    );

    // An id missing from the strict map fails that row only.
    let mapping = Mapping::from_toml_str(
        "extends = \"magento\"\n[columns]\n\"group_id\" = { to = \"customer_group\", map = { \"1\" = \"Retail\" } }\n",
    )
    .unwrap();
    let (headers, records) = read_sample("magento/customer_main.csv");
    let bound = mapping.bind(&headers).unwrap();
    assert!(bound.apply(&records[0]).is_ok());
    let err = bound.apply(&records[1]).unwrap_err();
    assert_eq!(
        err,
        "column \"group_id\": value \"2\" is not in the value map (known values: 1)"
    );
}

#[test]
fn mapping_files_report_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[columns]\n\"E-mail\" = \"emial\"\n").unwrap();
    let err = format!("{:#}", Mapping::from_toml_file(&path).unwrap_err());
    assert!(err.contains("broken.toml"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("did you mean \"email\""), "{err}");
    let missing = dir.path().join("missing.toml");
    let err = format!("{:#}", Mapping::from_toml_file(&missing).unwrap_err());
    assert!(
        err.contains("reading mapping file") && err.contains("missing.toml"),
        "{err}"
    );
}

#[test]
fn toml_errors_name_the_line_and_key() {
    let cases: &[(&str, &[&str])] = &[
        // Not TOML at all.
        ("[columns]\n\"Email\" = \n", &["line 2"]),
        // Unknown section.
        ("[colums]\n\"Email\" = \"email\"\n", &["line 1", "unknown field `colums`"]),
        // Unknown key in a column, with a suggestion.
        (
            "[columns]\n\"Email\" = \"email\"\n\"Phone\" = { to = \"phone\", tranforms = [\"trim\"] }\n",
            &["line 3", "\"Phone\"", "unknown key \"tranforms\"", "did you mean \"transforms\""],
        ),
        // Unknown target.
        ("[columns]\n\n\"Name\" = \"frist_name\"\n", &["line 3", "\"Name\"", "did you mean \"first_name\""]),
        // Unknown transform.
        (
            "[columns]\n\"Email\" = { to = \"email\", transforms = [\"lowercse\"] }\n",
            &["line 2", "unknown transform \"lowercse\"", "strip_leading_quote"],
        ),
        // state_name of a column that is not an import column.
        (
            "[columns]\n\"S\" = { to = \"address_state\", transforms = [\"state_name(country)\"] }\n",
            &["line 2", "state_name(country)"],
        ),
        // Pattern that is not dropped.
        ("[columns]\n\"ship_*\" = \"notes\"\n", &["line 2", "can only be dropped"]),
        // Same header twice, differing in case.
        (
            "[columns]\n\"Email\" = \"email\"\n\"EMAIL \" = \"email\"\n",
            &["line 3", "the same header as \"Email\" on line 2"],
        ),
        // Two outputs.
        ("[columns]\n\"N\" = { to = \"notes\", drop = true }\n", &["line 2", "only one of"]),
        // No output.
        ("[columns]\n\"N\" = { prefix = \"x\" }\n", &["line 2", "say where the column goes"]),
        // strict without map.
        ("[columns]\n\"N\" = { to = \"notes\", strict = false }\n", &["line 2", "strict only applies"]),
        // Wrong type.
        ("[columns]\n\"N\" = 3\n", &["line 2", "found integer"]),
        // Constant that is also a column target.
        (
            "[columns]\n\"G\" = \"customer_group\"\n[constants]\ncustomer_group = \"X\"\n",
            &["[constants] \"customer_group\"", "\"G\" (line 2)"],
        ),
        // Unknown column in constants / fallback / require.
        ("[constants]\ngroup = \"X\"\n", &["line 2", "[constants] \"group\""]),
        ("[fallback]\nphone = \"phone\"\n", &["line 2", "itself"]),
        ("[options]\nrequire = [\"emails\"]\n", &["line 2", "did you mean \"email\""]),
        ("[options]\ntrim = \"yes\"\n", &["line 2"]),
        // Unknown preset to extend.
        ("extends = \"prestashop\"\n", &["line 1", "unknown preset \"prestashop\""]),
        // split_name needs two columns.
        ("[columns]\n\"N\" = { split_name = [\"first_name\"] }\n", &["line 2", "split_name takes two"]),
    ];
    for (toml, wanted) in cases {
        let err = toml_error(toml);
        for piece in *wanted {
            assert!(
                err.contains(piece),
                "error for {toml:?} lacks {piece:?}: {err}"
            );
        }
    }
}

/// The TOML blocks of docs/mapping.md (and the example in this module's doc comment) parse,
/// and the full example does what its comments say.
#[test]
fn documented_examples_work() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/mapping.md"))
            .unwrap();
    let blocks: Vec<&str> = doc
        .split("```toml\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect();
    assert!(blocks.len() >= 2);
    for guide in [
        "shopify",
        "woocommerce",
        "magento",
        "bigcommerce",
        "mapping",
    ] {
        let name = if guide == "mapping" {
            "mapping.md".to_string()
        } else {
            format!("migrate-from-{guide}.md")
        };
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("docs")
                .join(&name),
        )
        .unwrap();
        for block in text
            .split("```toml\n")
            .skip(1)
            .map(|rest| rest.split("```").next().unwrap())
        {
            // Blocks in list items are indented.
            let block: String = block
                .lines()
                .map(str::trim_start)
                .collect::<Vec<_>>()
                .join("\n");
            Mapping::from_toml_str(&block).unwrap_or_else(|e| panic!("{name}: {e:#}\n{block}"));
        }
    }
    let headers = "Contact No,Full Name,E-mail,Mobile,Organisation,Street,Town,Region,Postcode,Country,Tier,Newsletter,Comments,Created";
    let headers: Vec<&str> = headers.split(',').collect();
    let row = map_one(
        blocks[0],
        &headers,
        &[
            "C-17",
            "Ada Lovelace King",
            "ada@example.com",
            "'+44 20 5550 0000",
            "Analytical Ltd",
            "Unit 4\nRear building",
            "London",
            "",
            "N1 9GU",
            "GB",
            "GOLD",
            "yes",
            "Met at the fair.",
            "2020-01-01",
        ],
    )
    .unwrap();
    assert_eq!(get(&row, "first_name"), "Ada");
    assert_eq!(get(&row, "last_name"), "Lovelace King");
    assert_eq!(get(&row, "phone"), "+44 20 5550 0000");
    assert_eq!(get(&row, "address_street_2"), "Rear building");
    assert_eq!(get(&row, "address_country"), "United Kingdom");
    assert_eq!(get(&row, "customer_group"), "VIP");
    assert_eq!(
        get(&row, "notes"),
        "Met at the fair.\nCRM contact number: C-17"
    );
    assert_eq!(get(&row, "force_password_reset"), "true");
    assert_eq!(get(&row, "address_first_name"), "Ada");
    let err = map_one(
        blocks[0],
        &headers,
        &[
            "",
            "A B",
            "a@example.com",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "platinum",
            "",
            "",
            "",
        ],
    )
    .unwrap_err();
    assert_eq!(
        err,
        "column \"Tier\": value \"platinum\" is not in the value map (known values: bronze, gold, silver)"
    );

    let module_doc = include_str!("../presets.rs");
    let example: String = module_doc
        .split("//! ```toml\n")
        .nth(1)
        .unwrap()
        .split("//! ```")
        .next()
        .unwrap()
        .lines()
        .map(|line| {
            line.trim_start_matches("//!")
                .strip_prefix(' ')
                .unwrap_or("")
        })
        .collect::<Vec<_>>()
        .join("\n");
    Mapping::from_toml_str(&example).unwrap_or_else(|e| panic!("{e:#}\n{example}"));
}

#[test]
fn platform_exports_are_recognised_by_their_columns() {
    assert_eq!(
        suggest_preset(["Default Address City", "Tags", "Total Spent", "Customer ID"])
            .map(|(n, _)| n),
        Some("shopify")
    );
    assert_eq!(
        suggest_preset(["Billing First Name", "billing_city", "user_login"]).map(|(n, _)| n),
        Some("woocommerce")
    );
    // One platform-like column among others, or columns no platform has: no guess.
    assert_eq!(
        suggest_preset(["Zip Code", "Country", "Loyalty Tier"]),
        None
    );
    assert_eq!(suggest_preset(["c0", "c1", "c2"]), None);
    assert_eq!(suggest_preset(std::iter::empty()), None);
}
