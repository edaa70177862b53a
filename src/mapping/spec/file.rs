//! The TOML form of a mapping: the file's tables read in the order they were written, and
//! each one checked into the [`Spec`] with the line a mistake is on. The format is
//! documented at the top of `presets.rs`.

use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use toml::{Spanned, Value};

use super::rule::{parse_rule, scalar};
use super::{canonical_column, Options, Spec};

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

    parse_columns(raw.columns, &line_of, &mut spec)?;
    for (section, entries, out) in [
        ("constants", raw.constants, &mut spec.constants),
        ("defaults", raw.defaults, &mut spec.defaults),
    ] {
        parse_values(section, entries, &line_of, out)?;
    }
    parse_fallbacks(raw.fallback, &line_of, &mut spec)?;
    if let Some(options) = raw.options {
        spec.options = parse_options(options, &line_of)?;
    }

    let extends = raw.extends.map(|name| {
        let line = line_of(name.span().start);
        (name.into_inner(), line)
    });
    Ok(ParsedFile { extends, spec })
}

/// `[columns]`: one rule per entry, in the file's order; two entries for one header are an
/// error (headers match case-insensitively).
fn parse_columns(
    columns: Ordered,
    line_of: &impl Fn(usize) -> usize,
    spec: &mut Spec,
) -> Result<(), String> {
    let mut seen: HashMap<String, (String, usize)> = HashMap::new();
    for (key, value) in columns.0 {
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
    Ok(())
}

/// `[constants]` or `[defaults]`: import column = a scalar value, each column once.
fn parse_values(
    section: &str,
    entries: Ordered,
    line_of: &impl Fn(usize) -> usize,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    for (key, value) in entries.0 {
        let line = line_of(key.span().start);
        let name = key.into_inner();
        let column = canonical_column(&name)
            .map_err(|e| format!("line {line}: [{section}] {name:?}: {e}"))?;
        let value = scalar(value.get_ref()).ok_or_else(|| {
            format!(
                "line {line}: [{section}] {name:?}: the value must be a string, number or boolean"
            )
        })?;
        if out.iter().any(|(c, _)| *c == column) {
            return Err(format!("line {line}: [{section}] {name:?} is given twice"));
        }
        out.push((column, value));
    }
    Ok(())
}

/// `[fallback]`: import column = another import column that fills it when it is empty.
fn parse_fallbacks(
    fallback: Ordered,
    line_of: &impl Fn(usize) -> usize,
    spec: &mut Spec,
) -> Result<(), String> {
    for (key, value) in fallback.0 {
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
    Ok(())
}

fn parse_options(
    options: RawOptions,
    line_of: &impl Fn(usize) -> usize,
) -> Result<Options, String> {
    let require = match options.require {
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
    };
    Ok(Options {
        keep_unmapped: options.keep_unmapped,
        trim: options.trim,
        drop_empty_address: options.drop_empty_address,
        require,
    })
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
