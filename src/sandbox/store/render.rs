//! The V2 JSON of customers (`CustomerJson`), addresses links, dates and store credit.

use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::super::seed;
use super::{Customer, FormFields, Links, Store};

impl Store {
    // ---- rendering ----

    pub fn customer_view<'a>(&'a self, c: &'a Customer, links: &'a Links) -> CustomerJson<'a> {
        CustomerJson {
            c,
            links,
            salt: self.salt,
        }
    }

    pub fn customers_json(&self, links: &Links) -> Vec<Value> {
        self.customers
            .values()
            .map(|c| serde_json::to_value(self.customer_view(c, links)).expect("customer JSON"))
            .collect()
    }

    pub fn addresses_json(&self, customer_id: u64) -> Vec<Value> {
        self.addresses_of(customer_id)
            .iter()
            .map(|a| serde_json::to_value(a).expect("address JSON"))
            .collect()
    }

    pub fn groups_json(&self) -> Vec<Value> {
        self.groups
            .values()
            .map(|g| serde_json::to_value(g).expect("group JSON"))
            .collect()
    }
}

/// A customer as the API renders it: no password, `store_credit` as a 4-decimal string,
/// RFC-2822 dates, `form_fields` `{}` when there are none, `addresses` as a link.
pub(crate) struct CustomerJson<'a> {
    c: &'a Customer,
    links: &'a Links,
    salt: u64,
}

impl Serialize for CustomerJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = self.c;
        let mut map = serializer.serialize_map(Some(17))?;
        map.serialize_entry("id", &c.id)?;
        map.serialize_entry("company", &c.company)?;
        map.serialize_entry("first_name", &c.first_name)?;
        map.serialize_entry("last_name", &c.last_name)?;
        map.serialize_entry("email", &c.email)?;
        map.serialize_entry("phone", &c.phone)?;
        map.serialize_entry(
            "form_fields",
            &FormFieldsJson {
                fields: &c.form_fields,
                id: c.id,
                salt: self.salt,
            },
        )?;
        map.serialize_entry("date_created", &Rfc2822(c.date_created))?;
        map.serialize_entry("date_modified", &Rfc2822(c.date_modified))?;
        map.serialize_entry("store_credit", &Credit(c.store_credit))?;
        map.serialize_entry("registration_ip_address", &c.registration_ip_address)?;
        map.serialize_entry("customer_group_id", &c.customer_group_id)?;
        map.serialize_entry("notes", &c.notes)?;
        map.serialize_entry("tax_exempt_category", &c.tax_exempt_category)?;
        map.serialize_entry("reset_pass_on_login", &c.reset_pass_on_login)?;
        map.serialize_entry("accepts_marketing", &c.accepts_marketing)?;
        map.serialize_entry(
            "addresses",
            &AddressLink {
                api_root: &self.links.api_root,
                id: c.id,
            },
        )?;
        map.end()
    }
}

struct FormFieldsJson<'a> {
    fields: &'a FormFields,
    id: u64,
    salt: u64,
}

impl Serialize for FormFieldsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Field<'a, V: Serialize> {
            name: &'a str,
            value: V,
        }
        match self.fields {
            // The real API's quirk: no form fields is an empty *object*, not `[]`.
            FormFields::Seeded(0) => serializer.serialize_map(Some(0))?.end(),
            FormFields::Listed(list) if list.is_empty() => serializer.serialize_map(Some(0))?.end(),
            FormFields::Seeded(mask) => {
                let mut seq = serializer.serialize_seq(Some(mask.count_ones() as usize))?;
                for (i, name) in seed::FORM_FIELDS.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        seq.serialize_element(&Field {
                            name,
                            value: seed::form_field_value(self.salt, self.id, i),
                        })?;
                    }
                }
                seq.end()
            }
            FormFields::Listed(list) => {
                let mut seq = serializer.serialize_seq(Some(list.len()))?;
                for (name, value) in list {
                    seq.serialize_element(&Field { name, value })?;
                }
                seq.end()
            }
        }
    }
}

struct AddressLink<'a> {
    api_root: &'a str,
    id: u64,
}

impl Serialize for AddressLink<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let resource = format!("/customers/{}/addresses", self.id);
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("url", &format!("{}{resource}", self.api_root))?;
        map.serialize_entry("resource", &resource)?;
        map.end()
    }
}

/// Unix seconds shown as the API shows dates: `Wed, 10 Jan 2018 21:02:23 +0000`.
pub(crate) struct Rfc2822(pub i64);

impl fmt::Display for Rfc2822 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match chrono::DateTime::from_timestamp(self.0, 0) {
            Some(t) => write!(f, "{}", t.format("%a, %d %b %Y %H:%M:%S +0000")),
            None => f.write_str(""),
        }
    }
}

impl Serialize for Rfc2822 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

pub(super) fn serialize_date<S: Serializer>(secs: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    Rfc2822(*secs).serialize(serializer)
}

/// Ten-thousandths shown as the API's decimal string, e.g. `"12.5000"`.
struct Credit(i64);

impl Serialize for Credit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sign = if self.0 < 0 { "-" } else { "" };
        let v = self.0.unsigned_abs();
        serializer.collect_str(&format_args!("{sign}{}.{:04}", v / 10_000, v % 10_000))
    }
}
