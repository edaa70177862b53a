//! The mapping model and its TOML form: what a `--mapping FILE` and each built-in preset are
//! parsed into, and the checks that make a bad file fail before any row is read. The format
//! is documented at the top of `presets.rs` and in `docs/mapping.md`.

mod file;
mod rule;

use std::collections::HashMap;

use super::countries::{country_name, state_name};

pub(crate) use file::parse;

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

#[cfg(test)]
mod tests;
