//! The JSON body checks shared by the V3 writes: a batch of 1..=N objects (413 above N), typed
//! fields with their schema errors (reference/bigcommerce-v3.md §14), form fields.

use serde_json::{Map, Value};

use super::super::handlers::Reply;
use super::{too_large, Schema};

/// The body as an array of 1..=`limit` objects; 413 above the limit (checked before the items).
pub(super) fn batch(body: &[u8], limit: usize) -> Result<Vec<Map<String, Value>>, Reply> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| Schema::new("obj", "error.expected.jsvalue").reply())?;
    let Value::Array(items) = value else {
        return Err(Schema::new("obj", "error.expected.jsarray").reply());
    };
    if items.len() > limit {
        return Err(too_large(limit));
    }
    if items.is_empty() {
        return Err(Schema::new("obj", "error.minLength").reply());
    }
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(map) => Ok(map),
            _ => Err(Schema::new("obj", "error.expected.jsobject").reply()),
        })
        .collect()
}

pub(super) fn path(prefix: &str, key: &str) -> String {
    match prefix {
        "" => key.to_string(),
        _ => format!("{prefix}.{key}"),
    }
}

/// An optional string of `min..=max` characters; `null` counts as absent.
pub(super) fn text(
    obj: &Map<String, Value>,
    prefix: &str,
    key: &str,
    min: usize,
    max: usize,
) -> Result<Option<String>, Schema> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n < min {
                Err(Schema::new(path(prefix, key), "error.minLength"))
            } else if n > max {
                Err(Schema::new(path(prefix, key), "error.maxLength"))
            } else {
                Ok(Some(s.clone()))
            }
        }
        Some(_) => Err(Schema::new(path(prefix, key), "error.expected.jsstring")),
    }
}

pub(super) fn required<T>(value: Option<T>, prefix: &str, key: &str) -> Result<T, Schema> {
    value.ok_or_else(|| Schema::new(path(prefix, key), "error.path.missing"))
}

pub(super) fn integer(
    obj: &Map<String, Value>,
    prefix: &str,
    key: &str,
) -> Result<Option<u64>, Schema> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| Schema::new(path(prefix, key), "error.expected.jsnumber")),
    }
}

pub(super) fn boolean(
    obj: &Map<String, Value>,
    prefix: &str,
    key: &str,
) -> Result<Option<bool>, Schema> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Schema::new(path(prefix, key), "error.expected.jsboolean")),
    }
}

pub(super) fn array<'a>(
    obj: &'a Map<String, Value>,
    prefix: &str,
    key: &str,
) -> Result<Option<&'a Vec<Value>>, Schema> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(Schema::new(path(prefix, key), "error.expected.jsarray")),
    }
}

pub(super) fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Schema> {
    value
        .as_object()
        .ok_or_else(|| Schema::new(path, "error.expected.jsobject"))
}

/// `form_fields: [{name, value}]`, value a string, number or string array (§10).
pub(super) fn form_fields(
    obj: &Map<String, Value>,
    prefix: &str,
) -> Result<Option<Vec<(String, Value)>>, Schema> {
    let Some(items) = array(obj, prefix, "form_fields")? else {
        return Ok(None);
    };
    let here = path(prefix, "form_fields");
    items
        .iter()
        .map(|item| {
            let field = object(item, &here)?;
            let name = required(text(field, &here, "name", 1, 255)?, &here, "name")?;
            let value = match field.get("value") {
                Some(v @ (Value::String(_) | Value::Number(_))) => v.clone(),
                Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
                    Value::Array(list.clone())
                }
                Some(_) => {
                    return Err(Schema::new(path(&here, "value"), "error.expected.jsstring"))
                }
                None => return Err(Schema::new(path(&here, "value"), "error.path.missing")),
            };
            Ok((name, value))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Replace the values of the names given, keep the others: whether V3 replaces or upserts
/// form fields is unverified (§10); upserting cannot lose data.
pub(super) fn upsert_fields(list: &mut Vec<(String, Value)>, new: Vec<(String, Value)>) {
    for (name, value) in new {
        match list.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => list.push((name, value)),
        }
    }
}
