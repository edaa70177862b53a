//! Serde types for V2's own answers: `/customers/count` and `/customers/{id}/validate` (the
//! records themselves, [`Customer`](crate::api::Customer) and the rest, are what both
//! backends yield, in `api::models`).

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::api::models::{count_of, lenient_bool};

/// `GET .../count` → `{"count": N}` (a JSON number, sometimes a float such as `3.0`, or a
/// string of digits). Unlike the record fields, a count is never defaulted: the export checks
/// its rows against it, so `-5`, `2.5`, `1e30` or `"abc"` is an error, not 0 or u64::MAX.
#[derive(Debug, Clone, Deserialize)]
pub struct Count {
    #[serde(deserialize_with = "strict_count")]
    pub count: u64,
}

fn strict_count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    use serde::de::Error;
    let v = Value::deserialize(d)?;
    count_of(&v)
        .ok_or_else(|| D::Error::custom(format!("the count {v} is not a number of customers")))
}

/// `POST /customers/{id}/validate` → `{"success": true}`; the docs' examples use `"true"`.
#[derive(Debug, Clone, Deserialize)]
pub struct Validation {
    #[serde(deserialize_with = "lenient_bool")]
    pub success: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_takes_a_string_boolean() {
        let v: Validation = serde_json::from_str(r#"{"success":"false"}"#).unwrap();
        assert!(!v.success);
    }
}
