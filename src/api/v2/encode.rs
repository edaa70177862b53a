//! The V2 side of the mapping's neutral rows: the bodies of `POST`/`PUT /v2/customers` and
//! of a V2 address, and the comparison of a row with a V2 [`Customer`] or [`Address`]
//! (reference/bigcommerce-api.md §5, §7). They are inherent methods of the mapping's types,
//! written here so that `src/mapping` spells no V2 body and imports nothing from the API
//! layer, while every caller keeps calling `row.create_payload(..)`, `Snapshot::of(&c)`.

use serde_json::{json, Map, Value};

use crate::api::{Address, Customer};
use crate::mapping::columns::Field;
use crate::mapping::countries;
use crate::mapping::row::{hash_value, AddressData, RowData, Snapshot};

impl RowData {
    /// The body of `PUT /customers/{id}` for these fields (plus a password when asked).
    pub fn update_payload(&self, fields: &[Field], with_password: bool) -> Value {
        let mut body = Map::new();
        let mut auth = Map::new();
        for f in fields {
            if let Some(v) = self.get(*f) {
                put_field(&mut body, &mut auth, *f, v);
            }
        }
        if with_password {
            self.put_password(&mut auth);
        }
        if !auth.is_empty() {
            body.insert("_authentication".into(), Value::Object(auth));
        }
        Value::Object(body)
    }

    /// The body of `POST /customers`.
    pub fn create_payload(&self, force_reset: bool) -> Value {
        let mut body = Map::new();
        let mut auth = Map::new();
        for f in Field::ALL {
            if let Some(v) = self.get(f) {
                if !v.is_empty() {
                    put_field(&mut body, &mut auth, f, v);
                }
            }
        }
        self.put_password(&mut auth);
        if force_reset {
            auth.insert("force_reset".into(), Value::Bool(true));
        }
        if !auth.is_empty() {
            body.insert("_authentication".into(), Value::Object(auth));
        }
        Value::Object(body)
    }

    fn put_password(&self, auth: &mut Map<String, Value>) {
        if let Some(p) = &self.password {
            auth.insert("password".into(), Value::String(p.clone()));
            if let Some(c) = &self.password_confirmation {
                auth.insert("password_confirmation".into(), Value::String(c.clone()));
            }
        }
    }
}

fn put_field(body: &mut Map<String, Value>, auth: &mut Map<String, Value>, f: Field, v: &str) {
    match f {
        Field::CustomerGroupId => {
            body.insert(f.api_name().into(), json!(v.parse::<u64>().unwrap_or(0)));
        }
        // V2 reports `reset_pass_on_login`; the documented way to set it is `_authentication.force_reset`.
        Field::ForceReset => {
            auth.insert("force_reset".into(), Value::Bool(v == "true"));
        }
        _ => {
            body.insert(f.api_name().into(), Value::String(v.to_string()));
        }
    }
}

impl Snapshot {
    /// What the store holds for `c`, hashed as [`RowData::changes`] compares it.
    pub fn of(c: &Customer) -> Snapshot {
        let mut hashes = [0u64; Field::COUNT];
        for f in Field::ALL {
            let v = match f {
                Field::Email => c.email.clone(),
                Field::FirstName => c.first_name.clone(),
                Field::LastName => c.last_name.clone(),
                Field::Company => c.company.clone(),
                Field::Phone => c.phone.clone(),
                Field::StoreCredit => c.store_credit.clone(),
                Field::CustomerGroupId => c.customer_group_id.to_string(),
                Field::Notes => c.notes.clone(),
                Field::TaxExemptCategory => c.tax_exempt_category.clone(),
                Field::RegistrationIp => c.registration_ip_address.clone(),
                Field::ForceReset => c.reset_pass_on_login.to_string(),
            };
            hashes[f.index()] = hash_value(f, &v);
        }
        let fields = c
            .form_fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str()));
        Snapshot {
            id: c.id,
            hashes,
            extras: crate::mapping::row::Extras::of(c.accepts_marketing, fields),
        }
    }
}

impl AddressData {
    /// Is `existing` the same address (ignoring case and surrounding spaces)?
    pub fn matches(&self, existing: &Address) -> bool {
        let eq = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
        eq(&self.first_name, &existing.first_name)
            && eq(&self.last_name, &existing.last_name)
            && eq(&self.company, &existing.company)
            && eq(&self.street_1, &existing.street_1)
            && eq(&self.street_2, &existing.street_2)
            && eq(&self.city, &existing.city)
            && eq(&self.state, &existing.state)
            && eq(&self.zip, &existing.zip)
            && (eq(&self.country, &existing.country)
                || countries::country_code(&self.country)
                    .is_some_and(|c| eq(c, &existing.country_iso2)))
            && eq(&self.phone, &existing.phone)
    }

    /// The body of `POST /v2/customers/{id}/addresses`.
    pub fn payload(&self) -> Value {
        let mut body = json!({
            "first_name": self.first_name,
            "last_name": self.last_name,
            "street_1": self.street_1,
            "city": self.city,
            "state": self.state,
            "zip": self.zip,
            "country": self.country,
            "phone": self.phone,
        });
        let obj = body.as_object_mut().expect("object");
        if !self.company.is_empty() {
            obj.insert("company".into(), json!(self.company));
        }
        if !self.street_2.is_empty() {
            obj.insert("street_2".into(), json!(self.street_2));
        }
        if !self.address_type.is_empty() {
            obj.insert("address_type".into(), json!(self.address_type));
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::columns::Layout;
    use crate::mapping::row::{parse_row, Blank};

    #[test]
    fn unchanged_when_equal_after_normalising() {
        let l = Layout::new(&csv::StringRecord::from(vec![
            "email",
            "first_name",
            "store_credit",
            "customer_group_id",
            "reset_pass_on_login",
        ]));
        let row = parse_row(
            &l,
            &csv::StringRecord::from(vec!["A@Example.com", "Ann", "'12.50", "2", "FALSE"]),
            Blank::Keep,
        )
        .unwrap();
        let c = Customer {
            id: 7,
            email: "a@example.com".into(),
            first_name: "Ann".into(),
            store_credit: "12.5000".into(),
            customer_group_id: 2,
            ..Customer::default()
        };
        assert!(row.changes(&Snapshot::of(&c)).is_empty());
        let c2 = Customer {
            first_name: "Anne".into(),
            ..c
        };
        assert_eq!(row.changes(&Snapshot::of(&c2)), vec![Field::FirstName]);
    }
}
