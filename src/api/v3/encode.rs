//! A row's wishes ([`RowData`], [`AddressData`]) as Customers V3 bodies: the `customer_Post`
//! of a create (addresses nested), the `customer_Put` of an update (only the fields that
//! change), an address of `POST /v3/customers/addresses` (reference/bigcommerce-v3.md §5, §6,
//! §8, §13 field mapping, §20.7 small rules).
//!
//! Where V3 differs from V2: store credit is `store_credit_amounts: [{amount}]` (a number);
//! the password and the forced reset are `authentication.{new_password,
//! force_password_reset}` (V3 has no confirmation field: the mapping already checked it);
//! `accepts_marketing` is `accepts_product_review_abandoned_cart_emails`; form fields are
//! writable, `[{name, value}]`; an address has `address1`, `state_or_province`,
//! `postal_code` and the ISO-2 `country_code`. `registration_ip_address` is not sent: it is
//! not in V3's create schema and read-only on update (§5, §6; a store may refuse it).

use serde_json::{json, Map, Value};

use crate::mapping::columns::Field;
use crate::mapping::countries;
use crate::mapping::row::{AddressData, RowData};

/// The `customer_Post` of one row: every filled field, the address nested, and no welcome
/// email (`trigger_account_created_notification: false`, §20.7: an import is not a signup).
/// `force_reset` (`--force-password-reset`) wins over the row's own column, as for V2.
pub fn create_body(row: &RowData, force_reset: bool) -> Value {
    let mut body = Map::new();
    let mut auth = Map::new();
    for f in Field::ALL {
        if let Some(v) = row.get(f).filter(|v| !v.is_empty()) {
            put_field(&mut body, &mut auth, f, v);
        }
    }
    put_extras(&mut body, row, false);
    if let Some(p) = &row.password {
        auth.insert("new_password".into(), json!(p));
    }
    if force_reset {
        auth.insert("force_password_reset".into(), json!(true));
    }
    if !auth.is_empty() {
        body.insert("authentication".into(), Value::Object(auth));
    }
    if let Some(a) = &row.address {
        body.insert("addresses".into(), json!([address_body(a)]));
    }
    body.insert("trigger_account_created_notification".into(), json!(false));
    Value::Object(body)
}

/// The `customer_Put` of the `fields` that change (the batcher adds `id`), with the row's
/// form fields and marketing consent, and the password when `with_password`. Addresses are
/// not part of an update in V3 ("Subresource updates are not supported", §6): they go through
/// [`address_body`] and the address batches.
pub fn update_body(row: &RowData, fields: &[Field], with_password: bool) -> Value {
    let mut body = Map::new();
    let mut auth = Map::new();
    for f in fields {
        if let Some(v) = row.get(*f) {
            put_field(&mut body, &mut auth, *f, v);
        }
    }
    put_extras(&mut body, row, true);
    if with_password {
        if let Some(p) = &row.password {
            auth.insert("new_password".into(), json!(p));
        }
    }
    if !auth.is_empty() {
        body.insert("authentication".into(), Value::Object(auth));
    }
    Value::Object(body)
}

/// The row says something V3 can write beyond the compared fields (form fields, marketing
/// consent): an update is not "unchanged" while these are unknown to the comparison.
pub fn has_extras(row: &RowData) -> bool {
    !row.form_fields.is_empty() || row.accepts_marketing.is_some()
}

fn put_field(body: &mut Map<String, Value>, auth: &mut Map<String, Value>, f: Field, v: &str) {
    match f {
        Field::CustomerGroupId => {
            body.insert(
                "customer_group_id".into(),
                json!(v.parse::<u64>().unwrap_or(0)),
            );
        }
        Field::StoreCredit => {
            // The mapping normalised it to a plain decimal (`12.5`); V3 wants a number (§13.1).
            let amount = v.trim().parse::<f64>().unwrap_or(0.0);
            body.insert("store_credit_amounts".into(), json!([{ "amount": amount }]));
        }
        Field::ForceReset => {
            auth.insert("force_password_reset".into(), json!(v == "true"));
        }
        // Not in `customer_Post`, read-only on PUT (§5, §6): V3 cannot write it.
        Field::RegistrationIp => {}
        Field::Email
        | Field::FirstName
        | Field::LastName
        | Field::Company
        | Field::Phone
        | Field::Notes
        | Field::TaxExemptCategory => {
            body.insert(f.api_name().into(), json!(v));
        }
    }
}

/// Form fields and the marketing consent, which V3 writes and V2 cannot (§10, §13.1). On a
/// create a blank form field is left out (nothing to clear).
fn put_extras(body: &mut Map<String, Value>, row: &RowData, updating: bool) {
    let fields: Vec<Value> = row
        .form_fields
        .iter()
        .filter(|(_, v)| updating || !v.is_empty())
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    if !fields.is_empty() {
        body.insert("form_fields".into(), Value::Array(fields));
    }
    if let Some(accepts) = row.accepts_marketing {
        body.insert(
            "accepts_product_review_abandoned_cart_emails".into(),
            json!(accepts),
        );
    }
}

/// An address in V3's names: nested in a create, or (with `customer_id`, which the batcher
/// adds) an item of `POST /v3/customers/addresses`. The country goes as its ISO-2 code; the
/// mapping already checked it is one the tool knows. A state the mapping left as V2's " "
/// ("for countries without states, send a space") is sent empty: V3 wants the key (§8) and
/// has no such rule.
pub fn address_body(a: &AddressData) -> Value {
    let country_code = countries::country_code(&a.country).unwrap_or(a.country.as_str());
    let mut body = json!({
        "first_name": a.first_name,
        "last_name": a.last_name,
        "address1": a.street_1,
        "city": a.city,
        "state_or_province": a.state.trim(),
        "postal_code": a.zip,
        "country_code": country_code,
    });
    let obj = body.as_object_mut().expect("object");
    for (key, value) in [
        ("company", &a.company),
        ("address2", &a.street_2),
        ("phone", &a.phone),
        ("address_type", &a.address_type),
    ] {
        if !value.is_empty() {
            obj.insert(key.into(), json!(value));
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> RowData {
        let mut row = RowData::default();
        let mut set = |f: Field, v: &str| row.values[f.index()] = Some(v.to_string());
        set(Field::Email, "ann@example.com");
        set(Field::FirstName, "Ann");
        set(Field::LastName, "Lee");
        set(Field::StoreCredit, "12.5");
        set(Field::CustomerGroupId, "3");
        set(Field::RegistrationIp, "10.0.0.1");
        set(Field::ForceReset, "false");
        set(Field::Company, "");
        row.password = Some("secret123".into());
        row.password_confirmation = Some("secret123".into());
        row.form_fields = vec![
            ("Shoe Size".into(), "42".into()),
            ("Blank".into(), "".into()),
        ];
        row.accepts_marketing = Some(true);
        row.address = Some(AddressData {
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            street_1: "1 Main St".into(),
            city: "Berlin".into(),
            state: " ".into(),
            zip: "10115".into(),
            country: "Germany".into(),
            phone: "555".into(),
            ..AddressData::default()
        });
        row
    }

    #[test]
    fn a_create_is_in_v3_names_with_the_address_nested() {
        let body = create_body(&row(), true);
        assert_eq!(
            body,
            json!({
                "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
                "customer_group_id": 3,
                "store_credit_amounts": [{"amount": 12.5}],
                "authentication": {"new_password": "secret123", "force_password_reset": true},
                "form_fields": [{"name": "Shoe Size", "value": "42"}],
                "accepts_product_review_abandoned_cart_emails": true,
                "addresses": [{
                    "first_name": "Ann", "last_name": "Lee", "address1": "1 Main St",
                    "city": "Berlin", "state_or_province": "", "postal_code": "10115",
                    "country_code": "DE", "phone": "555",
                }],
                "trigger_account_created_notification": false,
            })
        );
    }

    #[test]
    fn an_update_sends_only_what_changes() {
        let body = update_body(&row(), &[Field::Company, Field::ForceReset], false);
        assert_eq!(
            body,
            json!({
                "company": "",
                "authentication": {"force_password_reset": false},
                "form_fields": [{"name": "Shoe Size", "value": "42"}, {"name": "Blank", "value": ""}],
                "accepts_product_review_abandoned_cart_emails": true,
            })
        );
        let mut plain = RowData::default();
        plain.values[Field::Notes.index()] = Some("hi".into());
        assert_eq!(
            update_body(&plain, &[Field::Notes], true),
            json!({"notes": "hi"})
        );
        assert!(!has_extras(&plain) && has_extras(&row()));
    }
}
