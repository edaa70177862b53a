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

/// `[{name, value}]` as V2 and V3 send it, the same result as reading a `serde_json::Value`
/// and taking each element's `name` and `value` as text ([`value_to_text`]), without the
/// `Value`: that was 14% of the client's CPU on a V3 export of 100,000 customers (a map per
/// field, its keys as strings). Not a list (`{}`, `null`) is no fields; an element that is
/// not an object, or has no name, is skipped; a key sent twice keeps its last value.
pub(crate) fn lenient_form_fields<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<FormField>, D::Error> {
    let items: Vec<FieldItem> = lenient_list(d)?;
    Ok(items.into_iter().filter_map(|f| f.0).collect())
}

/// Any JSON value as the text a CSV cell would hold ([`lenient_string`]).
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        lenient_string(d).map(Text)
    }
}

/// One element of `form_fields`: a field with a name, or nothing.
struct FieldItem(Option<FormField>);

impl<'de> Deserialize<'de> for FieldItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FieldItem, D::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "snake_case")]
        enum Key {
            Name,
            Value,
            #[serde(other)]
            Other,
        }
        struct Item;
        impl<'de> serde::de::Visitor<'de> for Item {
            type Value = FieldItem;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a form field")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<FieldItem, A::Error> {
                let (mut name, mut value) = (String::new(), String::new());
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Name => name = map.next_value::<Text>()?.0,
                        Key::Value => value = map.next_value::<Text>()?.0,
                        Key::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(FieldItem(
                    (!name.is_empty()).then_some(FormField { name, value }),
                ))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FieldItem, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(FieldItem(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<FieldItem, D::Error> {
                d.deserialize_any(Item)
            }
            fn visit_none<E>(self) -> Result<FieldItem, E> {
                Ok(FieldItem(None))
            }
            fn visit_unit<E>(self) -> Result<FieldItem, E> {
                Ok(FieldItem(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<FieldItem, E> {
                Ok(FieldItem(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<FieldItem, E> {
                Ok(FieldItem(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<FieldItem, E> {
                Ok(FieldItem(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<FieldItem, E> {
                Ok(FieldItem(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<FieldItem, E> {
                Ok(FieldItem(None))
            }
        }
        d.deserialize_any(Item)
    }
}

/// A list, or nothing for `null`/`{}`/a scalar (PHP's empty-array quirk). Read straight from
/// the parser, without a `serde_json::Value` in between: a V3 page's `data` went through one
/// at first, which tripled the client's CPU per page.
pub(crate) fn lenient_list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    list_sized(d, 0)
}

/// [`lenient_list`] for the `data` of a page of 250 (JSON gives no length ahead): the page's
/// records in one allocation rather than eight, each copying those read so far.
pub(crate) fn lenient_page<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    list_sized(d, 256)
}

fn list_sized<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    expected: usize,
) -> Result<Vec<T>, D::Error> {
    Ok(list_or_none(d, expected)?.unwrap_or_default())
}

/// A list, or None for anything else (`null`, `{}`, a scalar), for a reader that must tell
/// "not a list" from "an empty list" (V3's `store_credit_amounts`: no balance is not 0).
pub(crate) fn lenient_opt_list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    list_or_none(d, 0)
}

fn list_or_none<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    expected: usize,
) -> Result<Option<Vec<T>>, D::Error> {
    struct List<T>(usize, std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for List<T> {
        type Value = Option<Vec<T>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(self.0).min(256));
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(Some(out))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(List(expected, std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reading as it was written over a `serde_json::Value`, before the streaming one.
    fn form_fields_of_value(v: Value) -> Vec<FormField> {
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
        out
    }

    #[test]
    fn streamed_form_fields_read_as_the_value_rule_did() {
        for json in [
            "null",
            "{}",
            r#"{"name":"a","value":"b"}"#,
            "3",
            r#""x""#,
            "[]",
            r#"[{"name":"Size","value":["S","M"],"customer_id":7}]"#,
            r#"[{"name":"X","value":null},{"name":"","value":"gone"},{"value":"no name"}]"#,
            r#"[{"name":12,"value":1.5},{"name":true,"value":false},{"name":["a","b"],"value":{}}]"#,
            r#"[{"name":{"k":1},"value":{"k":[1,"2",null]}},{"name":"n","value":[[1],{}]}]"#,
            r#"[{"name":"a","value":"1","name":"b","value":"2"},{"NAME":"c","value":"3"}]"#,
            r#"[1, "s", null, [{"name":"nested","value":"x"}], {}, true]"#,
            r#"[{"na\u006de":"esc\"aped","value":"line\nbreak","extra":{"deep":[1,2,{"a":null}]}}]"#,
            r#"[{"name":"big","value":18446744073709551615},{"name":"neg","value":-5e-7}]"#,
        ] {
            let value: Value = serde_json::from_str(json).unwrap();
            let page = format!(r#"{{"id":1,"form_fields":{json}}}"#);
            let c: Customer = serde_json::from_str(&page).unwrap();
            assert_eq!(c.form_fields, form_fields_of_value(value), "{json}");
        }
    }

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
