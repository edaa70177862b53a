//! The records both backends yield (customers, addresses, groups): serde types for what the
//! V2 API really sends, which is not always what its schema says; V3's answers are read into
//! the same types (`api::v3::models`), so one CSV writer serves both APIs.
//!
//! Every field is optional with a default, and the odd shapes are accepted: numbers where
//! strings are documented (`phone: 1234567890` in the examples), `store_credit` as a decimal
//! string or a number, booleans as `"true"`, `form_fields` as an array, `{}` or `null`, and
//! `{}` for an empty `street_2`. A model that rejects a real response would stop a whole export.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A customer as `GET /customers` returns it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Customer {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient_string")]
    pub email: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub first_name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub last_name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub company: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub phone: String,
    /// A decimal string such as `"12.5000"` (sometimes a number).
    #[serde(default, deserialize_with = "lenient_string")]
    pub store_credit: String,
    /// 0 means "no group".
    #[serde(default, deserialize_with = "lenient_u64")]
    pub customer_group_id: u64,
    #[serde(default, deserialize_with = "lenient_string")]
    pub notes: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub tax_exempt_category: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub registration_ip_address: String,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub accepts_marketing: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub reset_pass_on_login: bool,
    /// RFC-2822, e.g. `Wed, 10 Jan 2018 21:02:23 +0000`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub date_created: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub date_modified: String,
    #[serde(default, deserialize_with = "lenient_form_fields")]
    pub form_fields: Vec<FormField>,
}

/// One custom form field value (read-only in V2).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FormField {
    pub name: String,
    pub value: String,
}

/// A customer address.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Address {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub customer_id: u64,
    #[serde(default, deserialize_with = "lenient_string")]
    pub first_name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub last_name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub company: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub street_1: String,
    /// The 2021 examples show `{}` for an empty street_2.
    #[serde(default, deserialize_with = "lenient_string")]
    pub street_2: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub city: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub state: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub zip: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub country: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub country_iso2: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub phone: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub address_type: String,
}

/// A customer group.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Group {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_default: bool,
}

/// A record with an id: one whose answer without an id (or with id 0) is not that record.
pub trait HasId {
    fn id(&self) -> u64;
}

impl HasId for Customer {
    fn id(&self) -> u64 {
        self.id
    }
}

impl HasId for Address {
    fn id(&self) -> u64 {
        self.id
    }
}

impl HasId for Group {
    fn id(&self) -> u64 {
        self.id
    }
}

/// Counts above 2^53 are not exactly representable as the JSON numbers stores send, and no
/// store has that many customers: such a value is a broken answer.
const MAX_COUNT: f64 = 9_007_199_254_740_992.0;

/// A count as either API sends it (a whole number, sometimes as a string, sometimes written
/// as a float), or `None` when it is not a number of customers: negative, fractional, not
/// finite or above 2^53. One rule for the V2 `/customers/count` and V3's `meta.pagination`.
pub(crate) fn count_of(v: &Value) -> Option<u64> {
    let f = match v {
        Value::Number(n) => n.as_u64().map(|n| n as f64).or_else(|| n.as_f64()),
        Value::String(s) => s.trim().parse::<u64>().ok().map(|n| n as f64),
        _ => None,
    }?;
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= MAX_COUNT).then_some(f as u64)
}

/// A JSON scalar as the text a CSV cell would hold.
pub fn value_to_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        // A multi-choice form field (V3 allows string arrays): join the choices.
        Value::Array(items) => items
            .iter()
            .map(value_to_text)
            .collect::<Vec<_>>()
            .join(", "),
        // PHP's empty array quirk: `{}` where an empty string was meant.
        Value::Object(o) if o.is_empty() => String::new(),
        Value::Object(_) => v.to_string(),
    }
}

/// Same result as `value_to_text(&Value::deserialize(d)?)`, without building a `Value` for the
/// common scalar cases (most of the CPU of reading a page of customers went there).
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct Text;
    impl<'de> serde::de::Visitor<'de> for Text {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string, number, boolean, null, array or object")
        }
        fn visit_str<E>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_bool<E>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E>(self, v: f64) -> Result<String, E> {
            Ok(value_to_text(&Value::from(v)))
        }
        fn visit_unit<E>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_none<E>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_any(Text)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<String, A::Error> {
            let v = Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
            Ok(value_to_text(&v))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<String, A::Error> {
            let v = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
            Ok(value_to_text(&v))
        }
    }
    d.deserialize_any(Text)
}

pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match &v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .unwrap_or(0),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0)
            .map(|f| f as u64)
            .unwrap_or(0),
        _ => 0,
    })
}

pub(crate) fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match &v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    })
}

pub(crate) fn lenient_form_fields<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<FormField>, D::Error> {
    let v = Value::deserialize(d)?;
    let mut out = Vec::new();
    if let Value::Array(items) = v {
        for item in items {
            let name = item.get("name").map(value_to_text).unwrap_or_default();
            if name.is_empty() {
                continue;
            }
            let value = item.get("value").map(value_to_text).unwrap_or_default();
            out.push(FormField { name, value });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_quirks() {
        let json = r#"{"id":"5","email":"a@example.com","phone":1234567890,"store_credit":"12.5000",
            "customer_group_id":null,"accepts_marketing":"true","form_fields":{},"addresses":{"url":"x"}}"#;
        let c: Customer = serde_json::from_str(json).unwrap();
        assert_eq!(c.id, 5);
        assert_eq!(c.phone, "1234567890");
        assert_eq!(c.store_credit, "12.5000");
        assert!(c.accepts_marketing);
        assert!(c.form_fields.is_empty());
        let c: Customer = serde_json::from_str(r#"{"id":1,"form_fields":null}"#).unwrap();
        assert!(c.form_fields.is_empty());
        let c: Customer =
            serde_json::from_str(r#"{"id":1,"form_fields":[{"name":"Size","value":["S","M"]},{"name":"X","value":null}]}"#)
                .unwrap();
        assert_eq!(c.form_fields[0].value, "S, M");
        assert_eq!(c.form_fields[1].value, "");
        let a: Address = serde_json::from_str(r#"{"id":1,"street_2":{},"zip":78726}"#).unwrap();
        assert_eq!(a.street_2, "");
        assert_eq!(a.zip, "78726");
        let c: Customer = serde_json::from_str(
            r#"{"id":1,"company":12.5,"notes":true,"phone":-3,"last_name":null,"first_name":["a",1],"email":{"k":"v"}}"#,
        )
        .unwrap();
        assert_eq!(
            [
                c.company,
                c.notes,
                c.phone,
                c.last_name,
                c.first_name,
                c.email
            ],
            ["12.5", "true", "-3", "", "a, 1", r#"{"k":"v"}"#]
        );
    }
}
