//! The mapping model and its TOML form: what a `--mapping FILE` and each built-in preset are
//! parsed into, and the checks that make a bad file fail before any row is read. The format
//! is documented at the top of `presets.rs` and in `docs/mapping.md`.

use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use toml::{Spanned, Value};

use super::countries::{country_name, state_name};

pub(crate) use super::columns::{READ_ONLY_COLUMNS, WRITABLE_COLUMNS};

pub(crate) const FORM_FIELD_PREFIX: &str = "form_field:";

/// The column whose values are collected from every source instead of first-filled-wins.
pub(crate) const NOTES: &str = "notes";

/// An address is "there" when one of these is filled; the rest (names copied from the
/// customer, a phone, a default country) does not make an address on its own.
pub(crate) const ADDRESS_PRESENCE: &[&str] = &[
    "address_street_1",
    "address_street_2",
    "address_city",
    "address_zip",
];

pub(crate) fn is_address_column(name: &str) -> bool {
    name.starts_with("address_")
}

/// How a source header is compared: the same rule as the import columns (case, surrounding
/// spaces, a UTF-8 BOM and `_`/`-`/space differences ignored; see `crate::input`).
pub(crate) use crate::input::normalize_header;

/// A parsed mapping: presets and `--mapping` files alike.
#[derive(Debug, Clone, Default)]
pub(crate) struct Spec {
    /// "the shopify preset", "mapping file x.toml": how notices and errors name it.
    pub label: String,
    pub is_preset: bool,
    pub rules: Vec<Rule>,
    pub constants: Vec<(String, String)>,
    pub defaults: Vec<(String, String)>,
    /// (target, source): fill `target` from `source` when it is blank.
    pub fallbacks: Vec<(String, String)>,
    pub options: Options,
}

/// `[options]`; `None` means "not said", so that a file extending a preset inherits it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub keep_unmapped: Option<bool>,
    pub trim: Option<bool>,
    pub drop_empty_address: Option<bool>,
    pub require: Option<Vec<String>>,
}

impl Options {
    pub fn keep_unmapped(&self) -> bool {
        self.keep_unmapped.unwrap_or(false)
    }
    pub fn trim(&self) -> bool {
        self.trim.unwrap_or(true)
    }
    pub fn drop_empty_address(&self) -> bool {
        self.drop_empty_address.unwrap_or(true)
    }
    pub fn require(&self) -> &[String] {
        self.require.as_deref().unwrap_or(&[])
    }
}

/// One `[columns]` entry: a source header (or pattern) and what becomes of its cells.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// The header as the mapping wrote it.
    pub header: String,
    pub pattern: HeaderPattern,
    pub action: Action,
    pub notice: Option<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderPattern {
    /// A normalised header.
    Exact(String),
    /// A normalised header split at each `*`.
    Glob(Vec<String>),
}

impl HeaderPattern {
    fn parse(header: &str) -> HeaderPattern {
        let normalized = normalize_header(header);
        if normalized.contains('*') {
            HeaderPattern::Glob(normalized.split('*').map(str::to_string).collect())
        } else {
            HeaderPattern::Exact(normalized)
        }
    }

    /// Does this pattern match an already normalised source header?
    pub fn matches(&self, header: &str) -> bool {
        match self {
            HeaderPattern::Exact(exact) => exact == header,
            HeaderPattern::Glob(parts) => glob_matches(parts, header),
        }
    }

    /// The text two rules must not share.
    fn key(&self) -> String {
        match self {
            HeaderPattern::Exact(exact) => exact.clone(),
            HeaderPattern::Glob(parts) => parts.join("*"),
        }
    }
}

/// `*` matches any run of characters, including none.
fn glob_matches(parts: &[String], text: &str) -> bool {
    let (first, rest) = match parts.split_first() {
        Some(split) => split,
        None => return text.is_empty(),
    };
    let Some(mut remaining) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part.as_str()) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last.as_str())
}

#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Not migrated; listed in a notice (its own `notice`, or the common "dropped" one).
    Drop,
    Map {
        output: Output,
        steps: Steps,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum Output {
    /// The cleaned value goes to each of these columns.
    To(Vec<String>),
    /// "Mary Ann Smith" → first, last.
    SplitName {
        first: String,
        last: String,
        on: SplitOn,
    },
    /// First line → `first`, the other lines joined with ", " → `rest`.
    SplitLines { first: String, rest: String },
}

impl Output {
    pub fn targets(&self) -> Vec<&str> {
        match self {
            Output::To(targets) => targets.iter().map(String::as_str).collect(),
            Output::SplitName { first, last, .. } => vec![first, last],
            Output::SplitLines { first, rest } => vec![first, rest],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitOn {
    FirstSpace,
    LastSpace,
}

/// The cleaning of one cell: trim, transforms in order, value map, prefix.
#[derive(Debug, Clone, Default)]
pub(crate) struct Steps {
    /// `None`: as `[options] trim` says.
    pub trim: Option<bool>,
    pub transforms: Vec<Transform>,
    pub map: Option<ValueMap>,
    pub prefix: Option<String>,
}

impl Steps {
    /// The country column a `state_name` transform reads, if any.
    pub fn state_country_column(&self) -> Option<&str> {
        self.transforms.iter().find_map(|t| match t {
            Transform::StateName { country_column } => Some(country_column.as_str()),
            _ => None,
        })
    }

    /// Cleans one cell. `country` is the row's country for `state_name`. `Ok(None)`: nothing
    /// to write. `Err`: a strict value map does not know the value (the caller names the column).
    pub fn run(&self, raw: &str, trim: bool, country: &str) -> Result<Option<String>, String> {
        let mut value = if trim {
            raw.trim().to_string()
        } else {
            raw.to_string()
        };
        for transform in &self.transforms {
            value = transform.apply(value, country);
        }
        if trim {
            let trimmed = value.trim();
            if trimmed.len() != value.len() {
                value = trimmed.to_string();
            }
        }
        if let Some(map) = &self.map {
            if !value.is_empty() || map.entries.contains_key("") {
                match map.lookup(&value) {
                    Some(mapped) => value = mapped.to_string(),
                    None if map.strict => {
                        return Err(format!(
                            "value {value:?} is not in the value map (known values: {})",
                            map.known.join(", ")
                        ))
                    }
                    None => {}
                }
            }
        }
        if value.is_empty() {
            return Ok(None);
        }
        if let Some(prefix) = &self.prefix {
            value.insert_str(0, prefix);
        }
        Ok(Some(value))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transform {
    Trim,
    Lowercase,
    Uppercase,
    StripLeadingQuote,
    CountryName,
    StateName { country_column: String },
}

pub(crate) const TRANSFORM_NAMES: &[&str] = &[
    "trim",
    "lowercase",
    "uppercase",
    "strip_leading_quote",
    "country_name",
    "state_name",
    "state_name(<column>)",
];

impl Transform {
    fn parse(text: &str) -> Result<Transform, String> {
        let text = text.trim();
        Ok(match text {
            "trim" => Transform::Trim,
            "lowercase" => Transform::Lowercase,
            "uppercase" => Transform::Uppercase,
            "strip_leading_quote" => Transform::StripLeadingQuote,
            "country_name" => Transform::CountryName,
            "state_name" => Transform::StateName {
                country_column: "address_country".to_string(),
            },
            _ => {
                if let Some(arg) = text
                    .strip_prefix("state_name(")
                    .and_then(|rest| rest.strip_suffix(')'))
                {
                    let column =
                        canonical_column(arg).map_err(|e| format!("transform {text:?}: {e}"))?;
                    Transform::StateName {
                        country_column: column,
                    }
                } else {
                    return Err(format!(
                        "unknown transform {text:?} (known: {})",
                        TRANSFORM_NAMES.join(", ")
                    ));
                }
            }
        })
    }

    fn apply(&self, value: String, country: &str) -> String {
        match self {
            Transform::Trim => value.trim().to_string(),
            Transform::Lowercase => value.to_lowercase(),
            Transform::Uppercase => value.to_uppercase(),
            Transform::StripLeadingQuote => match value.strip_prefix('\'') {
                Some(rest) => rest.to_string(),
                None => value,
            },
            Transform::CountryName => match country_name(&value) {
                Some(name) => name.to_string(),
                None => value,
            },
            Transform::StateName { .. } => match state_name(country, &value) {
                Some(name) => name.to_string(),
                None => value,
            },
        }
    }
}

/// `map = { "from" = "to" }`: keys compare case-insensitively.
#[derive(Debug, Clone)]
pub(crate) struct ValueMap {
    /// Lower-cased key → value.
    pub entries: HashMap<String, String>,
    /// An unknown value is a row error (true) or passes through unchanged (false).
    pub strict: bool,
    /// The keys as written, sorted, for error messages.
    pub known: Vec<String>,
}

impl ValueMap {
    fn lookup(&self, value: &str) -> Option<&str> {
        self.entries.get(&value.to_lowercase()).map(String::as_str)
    }
}

/// What a TOML file said besides the mapping itself.
pub(crate) struct ParsedFile {
    /// `extends = "preset"` and its line.
    pub extends: Option<(String, usize)>,
    pub spec: Spec,
}

/// Parses (but does not yet cross-check, see `Spec::validate`) a mapping file.
pub(crate) fn parse(text: &str, label: &str) -> Result<ParsedFile, String> {
    let raw: RawFile = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    let line_of = |offset: usize| line_at(text, offset);
    let mut spec = Spec {
        label: label.to_string(),
        ..Spec::default()
    };

    let mut seen: HashMap<String, (String, usize)> = HashMap::new();
    for (key, value) in raw.columns.0 {
        let line = line_of(key.span().start);
        let header = key.into_inner();
        let rule = parse_rule(&header, value.get_ref(), line)
            .map_err(|e| format!("line {line}: [columns] {header:?}: {e}"))?;
        if let Some((other, other_line)) = seen.insert(rule.pattern.key(), (header.clone(), line)) {
            return Err(format!(
                "line {line}: [columns] {header:?}: the same header as {other:?} on line \
                 {other_line} (headers match case-insensitively and ignoring surrounding spaces)"
            ));
        }
        spec.rules.push(rule);
    }

    for (section, entries, out) in [
        ("constants", raw.constants.0, &mut spec.constants),
        ("defaults", raw.defaults.0, &mut spec.defaults),
    ] {
        for (key, value) in entries {
            let line = line_of(key.span().start);
            let name = key.into_inner();
            let column = canonical_column(&name)
                .map_err(|e| format!("line {line}: [{section}] {name:?}: {e}"))?;
            let value = scalar(value.get_ref()).ok_or_else(|| {
                format!("line {line}: [{section}] {name:?}: the value must be a string, number or boolean")
            })?;
            if out.iter().any(|(c, _)| *c == column) {
                return Err(format!("line {line}: [{section}] {name:?} is given twice"));
            }
            out.push((column, value));
        }
    }

    for (key, value) in raw.fallback.0 {
        let line = line_of(key.span().start);
        let name = key.into_inner();
        let err = |e: String| format!("line {line}: [fallback] {name:?}: {e}");
        let target = canonical_column(&name).map_err(err)?;
        let Value::String(source) = value.get_ref() else {
            return Err(err(
                "the value must be the name of another import column, e.g. \"first_name\"".into(),
            ));
        };
        let source = canonical_column(source).map_err(err)?;
        if source == target {
            return Err(err("a column cannot fall back to itself".into()));
        }
        if spec.fallbacks.iter().any(|(t, _)| *t == target) {
            return Err(err("given twice".into()));
        }
        spec.fallbacks.push((target, source));
    }

    if let Some(options) = raw.options {
        spec.options = Options {
            keep_unmapped: options.keep_unmapped,
            trim: options.trim,
            drop_empty_address: options.drop_empty_address,
            require: match options.require {
                None => None,
                Some(list) => Some(
                    list.into_iter()
                        .map(|name| {
                            let line = line_of(name.span().start);
                            canonical_column(name.get_ref())
                                .map_err(|e| format!("line {line}: [options] require: {e}"))
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            },
        };
    }

    let extends = raw.extends.map(|name| {
        let line = line_of(name.span().start);
        (name.into_inner(), line)
    });
    Ok(ParsedFile { extends, spec })
}

impl Spec {
    /// A file that `extends` a preset: its rules replace the preset's rules for the same
    /// header in place (so the order of first-filled-wins and of notes lines is kept) and
    /// are otherwise added at the end; constants, defaults, fallbacks and options given in
    /// the file win.
    pub fn overlay(mut self, over: Spec) -> Spec {
        for rule in over.rules {
            match self
                .rules
                .iter_mut()
                .find(|r| r.pattern.key() == rule.pattern.key())
            {
                Some(slot) => *slot = rule,
                None => self.rules.push(rule),
            }
        }
        for (list, over_list) in [
            (&mut self.constants, over.constants),
            (&mut self.defaults, over.defaults),
            (&mut self.fallbacks, over.fallbacks),
        ] {
            for (key, value) in over_list {
                match list.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => list.push((key, value)),
                }
            }
        }
        let options = over.options;
        self.options = Options {
            keep_unmapped: options.keep_unmapped.or(self.options.keep_unmapped),
            trim: options.trim.or(self.options.trim),
            drop_empty_address: options
                .drop_empty_address
                .or(self.options.drop_empty_address),
            require: options.require.or(self.options.require),
        };
        self.label = over.label;
        self.is_preset = over.is_preset;
        self
    }

    /// Checks that need the whole (merged) mapping.
    pub fn validate(&self) -> Result<(), String> {
        for (column, _) in &self.constants {
            if let Some(rule) = self
                .rules
                .iter()
                .find(|r| r.targets().contains(&column.as_str()))
            {
                return Err(format!(
                    "[constants] {column:?} is also filled from column {:?} (line {}): keep one",
                    rule.header, rule.line
                ));
            }
        }
        for rule in &self.rules {
            let Action::Map { steps, .. } = &rule.action else {
                continue;
            };
            let Some(country) = steps.state_country_column() else {
                continue;
            };
            if rule.targets().contains(&country) {
                return Err(format!(
                    "line {}: [columns] {:?}: state_name reads {country:?}, which this column fills",
                    rule.line, rule.header
                ));
            }
            if let Some(other) = self.rules.iter().find(|r| {
                r.targets().contains(&country)
                    && matches!(&r.action, Action::Map { steps, .. } if steps.state_country_column().is_some())
            }) {
                return Err(format!(
                    "line {}: [columns] {:?}: state_name reads {country:?}, which column {:?} \
                     (line {}) fills with another state_name",
                    rule.line, rule.header, other.header, other.line
                ));
            }
        }
        Ok(())
    }
}

impl Rule {
    pub fn targets(&self) -> Vec<&str> {
        match &self.action {
            Action::Drop => Vec::new(),
            Action::Map { output, .. } => output.targets(),
        }
    }
}

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

fn parse_rule(header: &str, value: &Value, line: usize) -> Result<Rule, String> {
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
        Value::Table(table) => table,
        other => {
            return Err(format!(
            "expected an import column name (\"email\") or a table ({{ to = \"email\", ... }}), \
                 found {}",
            other.type_str()
        ))
        }
    };

    for key in table.keys() {
        if !RULE_KEYS.contains(&key.as_str()) {
            let hint = closest(key, RULE_KEYS)
                .map(|k| format!(" (did you mean {k:?}?)"))
                .unwrap_or_default();
            return Err(format!(
                "unknown key {key:?}{hint}; a column takes: {}",
                RULE_KEYS.join(", ")
            ));
        }
    }
    let get_str = |key: &str| -> Result<Option<String>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "{key} must be a string, found {}",
                other.type_str()
            )),
        }
    };
    let get_bool = |key: &str| -> Result<Option<bool>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(format!(
                "{key} must be true or false, found {}",
                other.type_str()
            )),
        }
    };
    let get_pair = |key: &str| -> Result<Option<(String, String)>, String> {
        let Some(value) = table.get(key) else {
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
    };

    let notice = get_str("notice")?;
    let drop = get_bool("drop")?.unwrap_or(false);
    let to = match table.get("to") {
        None => None,
        Some(Value::String(target)) => Some(vec![canonical_column(target)?]),
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut targets = Vec::new();
            for item in items {
                let Value::String(target) = item else {
                    return Err("to takes an import column name or a list of them".into());
                };
                let target = canonical_column(target)?;
                if targets.contains(&target) {
                    return Err(format!("to lists {target:?} twice"));
                }
                targets.push(target);
            }
            Some(targets)
        }
        Some(_) => return Err("to takes an import column name or a list of them".into()),
    };
    let split_name = get_pair("split_name")?;
    let split_lines = get_pair("split_lines")?;

    let outputs = [
        to.is_some(),
        split_name.is_some(),
        split_lines.is_some(),
        drop,
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if outputs != 1 {
        return Err(if outputs == 0 {
            "say where the column goes: to = \"...\", split_name = [...], split_lines = [...] \
             or drop = true"
                .into()
        } else {
            "give only one of to, split_name, split_lines and drop = true".into()
        });
    }

    if drop {
        if let Some(key) = table
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

    let mut steps = Steps {
        trim: get_bool("trim")?,
        ..Steps::default()
    };
    match table.get("transforms") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                let Value::String(name) = item else {
                    return Err(
                        "transforms is a list of names, e.g. [\"trim\", \"lowercase\"]".into(),
                    );
                };
                steps.transforms.push(Transform::parse(name)?);
            }
        }
        Some(_) => {
            return Err("transforms is a list of names, e.g. [\"trim\", \"lowercase\"]".into())
        }
    }
    let strict = get_bool("strict")?;
    match table.get("map") {
        None => {
            if strict.is_some() {
                return Err("strict only applies to a value map (map = { ... })".into());
            }
        }
        Some(Value::Table(entries)) => {
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
            steps.map = Some(map);
        }
        Some(_) => return Err("map is a table, e.g. map = { \"1\" = \"Retail\" }".into()),
    }
    steps.prefix = get_str("prefix")?;
    let split_on = get_str("split_on")?;

    let output = if let Some(targets) = to {
        if split_on.is_some() {
            return Err("split_on only applies to split_name".into());
        }
        Output::To(targets)
    } else if let Some((first, last)) = split_name {
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
        Output::SplitName { first, last, on }
    } else if let Some((first, rest)) = split_lines {
        if steps.prefix.is_some() || split_on.is_some() {
            return Err("prefix and split_on cannot be combined with split_lines".into());
        }
        Output::SplitLines { first, rest }
    } else {
        unreachable!("exactly one output was checked above")
    };

    Ok(Rule {
        header: header.to_string(),
        pattern,
        action: Action::Map { output, steps },
        notice,
        line,
    })
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
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An import column name in canonical spelling, or why it is not one.
pub(crate) fn canonical_column(name: &str) -> Result<String, String> {
    let trimmed = name.trim();
    let lower = trimmed.to_lowercase();
    if WRITABLE_COLUMNS.contains(&lower.as_str()) || READ_ONLY_COLUMNS.contains(&lower.as_str()) {
        return Ok(lower);
    }
    if lower.starts_with(FORM_FIELD_PREFIX) {
        let field = trimmed[FORM_FIELD_PREFIX.len()..].trim();
        if !field.is_empty() {
            return Ok(format!("{FORM_FIELD_PREFIX}{field}"));
        }
    }
    let known: Vec<&str> = WRITABLE_COLUMNS
        .iter()
        .chain(READ_ONLY_COLUMNS)
        .copied()
        .collect();
    let hint = closest(&lower, &known)
        .map(|k| format!(" (did you mean {k:?}?)"))
        .unwrap_or_default();
    Err(format!(
        "{trimmed:?} is not an import column{hint}; see docs/mapping.md for the list"
    ))
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    extends: Option<Spanned<String>>,
    options: Option<RawOptions>,
    #[serde(default)]
    columns: Ordered,
    #[serde(default)]
    constants: Ordered,
    #[serde(default)]
    defaults: Ordered,
    #[serde(default)]
    fallback: Ordered,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOptions {
    keep_unmapped: Option<bool>,
    trim: Option<bool>,
    drop_empty_address: Option<bool>,
    require: Option<Vec<Spanned<String>>>,
}

/// A TOML table in the order it was written (`toml::Table` sorts its keys, and the order of
/// `[columns]` matters: first filled wins, notes lines follow it).
#[derive(Default)]
struct Ordered(Vec<(Spanned<String>, Spanned<Value>)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor;
        impl<'de> Visitor<'de> for OrderedVisitor {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value::<Spanned<Value>>()?;
                    entries.push((key, value));
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(OrderedVisitor)
    }
}

#[cfg(test)]
mod tests;
