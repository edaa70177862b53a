//! One `[columns]` entry of a mapping file checked and turned into a [`Rule`]: by hand rather
//! than through serde, so that each mistake gets a message in the mapping's own words (serde's
//! `deny_unknown_fields` covers the file's other tables).

use std::collections::HashMap;

use toml::Value;

use super::{
    canonical_column, closest, normalize_header, Action, HeaderPattern, Output, Rule, SplitOn,
    Steps, Transform, ValueMap,
};

const RULE_KEYS: &[&str] = &[
    "to",
    "transforms",
    "map",
    "strict",
    "prefix",
    "split_name",
    "split_on",
    "split_lines",
    "drop",
    "notice",
    "trim",
];

const TRANSFORMS_ARE_NAMES: &str = "transforms is a list of names, e.g. [\"trim\", \"lowercase\"]";
const TO_TAKES_NAMES: &str = "to takes an import column name or a list of them";

/// The rule for the `[columns]` entry `header = value` on line `line`.
pub(super) fn parse_rule(header: &str, value: &Value, line: usize) -> Result<Rule, String> {
    let pattern = HeaderPattern::parse(header);
    if normalize_header(header).is_empty() {
        return Err("an empty header cannot be mapped".into());
    }
    let table = match value {
        Value::String(target) => {
            let target = canonical_column(target)?;
            return Ok(Rule {
                header: header.to_string(),
                pattern: check_not_glob(pattern)?,
                action: Action::Map {
                    output: Output::To(vec![target]),
                    steps: Steps::default(),
                },
                notice: None,
                line,
            });
        }
        Value::Table(table) => Entry(table),
        other => {
            return Err(format!(
            "expected an import column name (\"email\") or a table ({{ to = \"email\", ... }}), \
                 found {}",
            other.type_str()
        ))
        }
    };
    table.check_keys()?;

    let notice = table.str("notice")?;
    let drop = table.bool("drop")?.unwrap_or(false);
    let to = table.targets()?;
    let split_name = table.pair("split_name")?;
    let split_lines = table.pair("split_lines")?;
    let outputs = [
        to.is_some(),
        split_name.is_some(),
        split_lines.is_some(),
        drop,
    ];
    match outputs.iter().filter(|&&b| b).count() {
        1 => {}
        0 => {
            return Err(
                "say where the column goes: to = \"...\", split_name = [...], split_lines = [...] \
                 or drop = true"
                    .into(),
            )
        }
        _ => return Err("give only one of to, split_name, split_lines and drop = true".into()),
    }

    if drop {
        if let Some(key) = table
            .0
            .keys()
            .find(|k| !matches!(k.as_str(), "drop" | "notice"))
        {
            return Err(format!("a dropped column takes only a notice, not {key:?}"));
        }
        return Ok(Rule {
            header: header.to_string(),
            pattern,
            action: Action::Drop,
            notice,
            line,
        });
    }
    let pattern = check_not_glob(pattern)?;

    let steps = Steps {
        trim: table.bool("trim")?,
        transforms: table.transforms()?,
        map: table.value_map()?,
        prefix: table.str("prefix")?,
    };
    let split_on = table.str("split_on")?;
    let output = output_of(to, split_name, split_lines, split_on, &steps)?;
    Ok(Rule {
        header: header.to_string(),
        pattern,
        action: Action::Map { output, steps },
        notice,
        line,
    })
}

/// Where a mapped column goes, given the one output key it has (checked by the caller) and
/// the keys that only some outputs take.
fn output_of(
    to: Option<Vec<String>>,
    split_name: Option<(String, String)>,
    split_lines: Option<(String, String)>,
    split_on: Option<String>,
    steps: &Steps,
) -> Result<Output, String> {
    if let Some(targets) = to {
        if split_on.is_some() {
            return Err("split_on only applies to split_name".into());
        }
        return Ok(Output::To(targets));
    }
    if let Some((first, last)) = split_name {
        if steps.prefix.is_some() {
            return Err("prefix cannot be combined with split_name".into());
        }
        let on = match split_on.as_deref() {
            None | Some("first_space") => SplitOn::FirstSpace,
            Some("last_space") => SplitOn::LastSpace,
            Some(other) => {
                return Err(format!(
                    "split_on is \"first_space\" or \"last_space\", not {other:?}"
                ))
            }
        };
        return Ok(Output::SplitName { first, last, on });
    }
    let Some((first, rest)) = split_lines else {
        unreachable!("exactly one output was checked by the caller")
    };
    if steps.prefix.is_some() || split_on.is_some() {
        return Err("prefix and split_on cannot be combined with split_lines".into());
    }
    Ok(Output::SplitLines { first, rest })
}

/// A `[columns]` entry's table, read key by key with the type each key takes.
struct Entry<'t>(&'t toml::Table);

impl Entry<'_> {
    /// Every key is one a column takes (a typo gets the closest one suggested).
    fn check_keys(&self) -> Result<(), String> {
        let Some(key) = self.0.keys().find(|k| !RULE_KEYS.contains(&k.as_str())) else {
            return Ok(());
        };
        let hint = closest(key, RULE_KEYS)
            .map(|k| format!(" (did you mean {k:?}?)"))
            .unwrap_or_default();
        Err(format!(
            "unknown key {key:?}{hint}; a column takes: {}",
            RULE_KEYS.join(", ")
        ))
    }

    fn str(&self, key: &str) -> Result<Option<String>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "{key} must be a string, found {}",
                other.type_str()
            )),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(format!(
                "{key} must be true or false, found {}",
                other.type_str()
            )),
        }
    }

    /// Two different import columns (`split_name`, `split_lines`).
    fn pair(&self, key: &str) -> Result<Option<(String, String)>, String> {
        let Some(value) = self.0.get(key) else {
            return Ok(None);
        };
        let items = match value {
            Value::Array(items) if items.len() == 2 => items,
            _ => {
                return Err(format!(
                    "{key} takes two import columns, e.g. {key} = [\"a\", \"b\"]"
                ))
            }
        };
        let mut names = Vec::new();
        for item in items {
            let Value::String(name) = item else {
                return Err(format!("{key} takes two import column names"));
            };
            names.push(canonical_column(name)?);
        }
        if names[0] == names[1] {
            return Err(format!("{key} needs two different columns"));
        }
        Ok(Some((names[0].clone(), names[1].clone())))
    }

    /// `to`: one import column or a list of different ones.
    fn targets(&self) -> Result<Option<Vec<String>>, String> {
        match self.0.get("to") {
            None => Ok(None),
            Some(Value::String(target)) => Ok(Some(vec![canonical_column(target)?])),
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut targets = Vec::new();
                for item in items {
                    let Value::String(target) = item else {
                        return Err(TO_TAKES_NAMES.into());
                    };
                    let target = canonical_column(target)?;
                    if targets.contains(&target) {
                        return Err(format!("to lists {target:?} twice"));
                    }
                    targets.push(target);
                }
                Ok(Some(targets))
            }
            Some(_) => Err(TO_TAKES_NAMES.into()),
        }
    }

    fn transforms(&self) -> Result<Vec<Transform>, String> {
        match self.0.get("transforms") {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(name) => Transform::parse(name),
                    _ => Err(TRANSFORMS_ARE_NAMES.into()),
                })
                .collect(),
            Some(_) => Err(TRANSFORMS_ARE_NAMES.into()),
        }
    }

    /// `map = { ... }` with its `strict` (true unless said otherwise). Keys match ignoring
    /// case, so two keys that differ only in case must agree.
    fn value_map(&self) -> Result<Option<ValueMap>, String> {
        let strict = self.bool("strict")?;
        let entries = match self.0.get("map") {
            None if strict.is_some() => {
                return Err("strict only applies to a value map (map = { ... })".into())
            }
            None => return Ok(None),
            Some(Value::Table(entries)) => entries,
            Some(_) => return Err("map is a table, e.g. map = { \"1\" = \"Retail\" }".into()),
        };
        let mut map = ValueMap {
            entries: HashMap::new(),
            strict: strict.unwrap_or(true),
            known: Vec::new(),
        };
        for (from, to) in entries {
            let to = scalar(to).ok_or_else(|| {
                format!("map value for {from:?} must be a string, number or boolean")
            })?;
            if let Some(previous) = map.entries.insert(from.to_lowercase(), to.clone()) {
                if previous != to {
                    return Err(format!(
                        "map has keys that differ only in case ({from:?}) with different values"
                    ));
                }
            }
            map.known.push(from.clone());
        }
        map.known.sort();
        Ok(Some(map))
    }
}

fn check_not_glob(pattern: HeaderPattern) -> Result<HeaderPattern, String> {
    match pattern {
        HeaderPattern::Glob(_) => Err(
            "a header with * matches many columns, so it can only be dropped (drop = true)".into(),
        ),
        exact => Ok(exact),
    }
}

/// A TOML scalar as the text of a CSV cell.
pub(super) fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}
