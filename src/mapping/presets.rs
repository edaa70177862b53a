//! Source-platform presets and TOML mappings: turn another platform's customer CSV into the
//! import columns (`email`, `first_name`, ..., `address_country`).
//!
//! A [`Mapping`] comes from a built-in preset (`--preset shopify|woocommerce|magento|bigcommerce`)
//! or a TOML file (`--mapping FILE`). The presets *are* TOML files in this format
//! (`src/mapping/presets/*.toml`, embedded in the binary), so a mapping file has exactly their
//! power, and a preset is the natural start of a custom mapping. [`Mapping::bind`] resolves it
//! against one file's headers once; [`BoundMapping::apply`] then maps each record.
//!
//! # The mapping file format
//!
//! ```toml
//! # Optional: start from a preset and change only what differs.
//! extends = "magento"
//!
//! [options]
//! keep_unmapped = false      # pass source columns the mapping does not name through, by name
//! trim = true                # trim every cell (before and after its transforms)
//! drop_empty_address = true  # no street/city/zip → no address (see below)
//! require = ["email"]        # refuse a file that gives none of these columns
//!
//! [columns]                  # source header → what becomes of its cells, in this order
//! "E-mail" = "email"
//! "Phone" = { to = "phone", transforms = ["strip_leading_quote"] }
//! "Company" = { to = ["company", "address_company"] }
//! "Full Name" = { split_name = ["first_name", "last_name"] }
//! "Street" = { split_lines = ["address_street_1", "address_street_2"] }
//! "Group" = { to = "customer_group_id", map = { "1" = "2", "2" = "3" }, strict = false }
//! "Country Code" = { to = "address_country", transforms = ["country_name"] }
//! "Province Code" = { to = "address_state", transforms = ["state_name(address_country)"] }
//! "Customer ID" = { to = "notes", prefix = "Shopify customer ID: " }
//! "Tags" = { drop = true, notice = "tags cannot be written through V2" }
//! "shipping_*" = { drop = true }
//! "Password" = { to = "password", trim = false }
//!
//! [constants]                # the same value in every row
//! customer_group = "Imported"
//!
//! [defaults]                 # used when the column is blank after [columns]
//! address_country = "United States"
//!
//! [fallback]                 # blank column ← another import column of the same row
//! address_first_name = "first_name"
//! ```
//!
//! **Headers** match case-insensitively, ignoring surrounding spaces and a UTF-8 BOM. A header
//! containing `*` is a pattern (`*` = any text) and may only be dropped; a column matched by
//! an exact header never falls to a pattern, and a pattern starting with `*` never matches a
//! column whose name starts with `_`.
//!
//! **A column entry** is an import column name, or a table with exactly one of
//! - `to = "col"` or `to = ["col", ...]`: the cleaned value goes to each column;
//! - `split_name = [first, last]`: a full name, split at the first space (`split_on =
//!   "first_space"`, the default: "Jean-Claude Van Damme" → "Jean-Claude" / "Van Damme") or
//!   the last (`split_on = "last_space"`: "Mary Ann Smith" → "Mary Ann" / "Smith"); a single
//!   word is a first name;
//! - `split_lines = [first, rest]`: the first line of a multi-line cell, and the other lines
//!   joined with ", " (Magento's `_address_street`);
//! - `drop = true`: not migrated;
//!
//! plus `notice = "..."` (printed once per run when the file has the column), and for the
//! first three: `transforms = [...]` applied in order, `map = { from = to }` (keys
//! case-insensitive; `strict = true`, the default, makes an unknown value a row error naming
//! the column and value; `strict = false` passes it through; a blank cell is looked up only
//! if the map has a `""` key), `prefix = "..."` (added to non-blank results), `trim = false`.
//! Order of work on a cell: trim, transforms, trim, map, prefix.
//!
//! **Transforms**: `trim`, `lowercase`, `uppercase`, `strip_leading_quote` (exactly one
//! leading `'`), `country_name` (ISO code or any common name → BigCommerce's full name;
//! unknown values are kept), `state_name` / `state_name(col)` (state or province code →
//! full name, for the country in import column `col` of the same row, `address_country` by
//! default, after that column's own transforms; unknown values are kept).
//!
//! **Several sources for one column**: the first non-blank one in the mapping's order wins,
//! except `notes`, which collects every non-blank source, one per line, in that order.
//!
//! **After the columns**: `[constants]` fill their column in every row (a column cannot be
//! both a constant and a `[columns]` target); `[fallback]` fills a blank column from another
//! column's value as `[columns]` and `[constants]` left it (fallbacks do not chain);
//! `[defaults]` fill what is still blank. Last, with `drop_empty_address`, a row whose
//! `address_street_1`, `address_street_2`, `address_city` and `address_zip` are all blank has
//! every `address_*` cell blanked, so names copied by a fallback or a default country never
//! make half an address.
//!
//! **Columns the mapping does not name** are dropped with one notice listing them, or passed
//! through under their own name with `keep_unmapped = true`. Columns whose name starts with
//! `_` and that the mapping does not name (the results file's `_row`, `_result`, ...) are
//! skipped silently, so a results file re-imports with the same mapping.
//!
//! **`extends = "preset"`**: the file's columns replace the preset's entries for the same
//! header in place and add the others at the end; its constants, defaults, fallbacks and
//! options win over the preset's.

mod bind;

use std::path::Path;

use anyhow::{anyhow, bail, Context};

use super::spec::{self, normalize_header, HeaderPattern, Spec, SplitOn, Steps};
use bind::Binder;

/// The built-in presets, in the TOML format above.
const PRESETS: &[(&str, &str)] = &[
    ("shopify", include_str!("presets/shopify.toml")),
    ("woocommerce", include_str!("presets/woocommerce.toml")),
    ("magento", include_str!("presets/magento.toml")),
    ("bigcommerce", include_str!("presets/bigcommerce.toml")),
    // The extra address passes the main presets' notices send users to: built in, so that a
    // user with only the binary has them too (`--preset NAME` or `--mapping builtin:NAME`).
    (
        "woocommerce-shipping",
        include_str!("presets/woocommerce-shipping.toml"),
    ),
    (
        "bigcommerce-address-2",
        include_str!("presets/bigcommerce-address-2.toml"),
    ),
    (
        "bigcommerce-address-3",
        include_str!("presets/bigcommerce-address-3.toml"),
    ),
];

/// `--mapping builtin:NAME` names a built-in mapping instead of a file.
pub const BUILTIN_PREFIX: &str = "builtin:";

/// A header/value transformation from a source CSV to canonical import columns.
#[derive(Debug, Clone)]
pub struct Mapping {
    spec: Spec,
}

impl Mapping {
    /// `"shopify"`, `"woocommerce"`, `"magento"`, `"bigcommerce"`, or one of the extra address
    /// passes `"woocommerce-shipping"`, `"bigcommerce-address-2"`, `"bigcommerce-address-3"`
    /// (case-insensitive).
    pub fn preset(name: &str) -> anyhow::Result<Mapping> {
        Ok(Mapping {
            spec: preset_spec(name)?,
        })
    }

    /// A mapping from TOML text; errors name the line and key.
    pub fn from_toml_str(text: &str) -> anyhow::Result<Mapping> {
        Self::parse(text, "the mapping")
    }

    /// A mapping from a TOML file, or a built-in one for `builtin:NAME`; errors name the file,
    /// line and key.
    pub fn from_toml_file(path: &Path) -> anyhow::Result<Mapping> {
        if let Some(name) = path.to_str().and_then(|p| p.strip_prefix(BUILTIN_PREFIX)) {
            return Self::preset(name);
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading mapping file {}", path.display()))?;
        Self::parse(&text, &format!("mapping file {}", path.display()))
    }

    fn parse(text: &str, label: &str) -> anyhow::Result<Mapping> {
        let parsed = spec::parse(text, label).map_err(|e| anyhow!("{label}: {e}"))?;
        let spec = match parsed.extends {
            None => parsed.spec,
            Some((name, line)) => preset_spec(&name)
                .with_context(|| format!("{label}: line {line}: extends"))?
                .overlay(parsed.spec),
        };
        spec.validate().map_err(|e| anyhow!("{label}: {e}"))?;
        Ok(Mapping { spec })
    }

    /// Resolve against the actual source headers (case-insensitive, trimmed, BOM stripped).
    /// Fails when a required source column is missing, when a mapped header appears twice, or
    /// when the result would have neither an `email` nor an `id` column.
    pub fn bind(&self, source_headers: &csv::StringRecord) -> anyhow::Result<BoundMapping> {
        Binder::new(&self.spec, source_headers).bind()
    }
}

/// The platforms whose exports a preset reads, and how messages name those exports. (The
/// other built-in presets are second passes over the same files, never a first guess.)
const PLATFORMS: &[(&str, &str)] = &[
    ("shopify", "a Shopify customer export"),
    ("woocommerce", "a WooCommerce customer export"),
    ("magento", "a Magento 2 customer export"),
    ("bigcommerce", "a BigCommerce control-panel export"),
];

/// The preset for the platform whose export `headers` looks like: the one naming the most of
/// them, when it names at least two and at least half (so one `Country` column does not make
/// a file "a Shopify export"). Returns the preset and the platform's name for messages.
pub fn suggest_preset<'h>(
    headers: impl IntoIterator<Item = &'h str>,
) -> Option<(&'static str, &'static str)> {
    let headers: Vec<String> = headers
        .into_iter()
        .map(normalize_header)
        .filter(|h| !h.is_empty())
        .collect();
    let mut best: Option<(usize, &'static str, &'static str)> = None;
    for &(name, platform) in PLATFORMS {
        let Ok(spec) = preset_spec(name) else {
            continue;
        };
        // A catch-all `*` names every column and says nothing about the platform.
        let telling = |r: &&spec::Rule| !matches!(&r.pattern, HeaderPattern::Glob(parts) if parts.iter().all(String::is_empty));
        let named = headers
            .iter()
            .filter(|h| {
                spec.rules
                    .iter()
                    .filter(telling)
                    .any(|r| r.pattern.matches(h))
            })
            .count();
        if named >= 2 && named * 2 >= headers.len() && best.is_none_or(|(n, _, _)| named > n) {
            best = Some((named, name, platform));
        }
    }
    best.map(|(_, name, platform)| (name, platform))
}

fn preset_spec(name: &str) -> anyhow::Result<Spec> {
    let wanted = name.trim().to_lowercase();
    let Some((name, text)) = PRESETS.iter().find(|(n, _)| *n == wanted) else {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        bail!(
            "unknown preset {name:?}: the presets are {}",
            names.join(", ")
        );
    };
    let label = format!("the {name} preset");
    // The presets are parsed by the tests; a failure here is a bug in the embedded file.
    let parsed = spec::parse(text, &label).map_err(|e| anyhow!("{label}: {e}"))?;
    let mut spec = parsed.spec;
    spec.is_preset = true;
    spec.validate().map_err(|e| anyhow!("{label}: {e}"))?;
    Ok(spec)
}

/// A mapping resolved against one file's headers: ready to map its records.
#[derive(Debug, Clone)]
pub struct BoundMapping {
    /// Canonical output column names, in output order (no duplicates).
    pub headers: Vec<String>,
    /// Human-readable notices to print once per run: source columns that cannot be migrated
    /// through V2 and what to do instead, columns dropped or passed through.
    pub notices: Vec<String>,
    rules: Vec<BoundRule>,
    notes_slot: Option<usize>,
    constants: Vec<(usize, String)>,
    defaults: Vec<(usize, String)>,
    fallbacks: Vec<(usize, usize)>,
    pass_through: Vec<(usize, usize)>,
    trim: bool,
    /// `Some((presence slots, all address slots))` when `drop_empty_address` applies.
    address: Option<(Vec<usize>, Vec<usize>)>,
    /// Some rule runs `state_name`: the row is assembled twice (see `apply`).
    has_state_rules: bool,
}

#[derive(Debug, Clone)]
struct BoundRule {
    source: usize,
    /// The source header as written in the file, for row errors.
    header: String,
    output: BoundOutput,
    steps: Steps,
    trim: bool,
    /// The output slot of the country `state_name` reads (`None`: no state_name, or the
    /// country column is not produced).
    country_slot: Option<usize>,
    uses_state: bool,
}

#[derive(Debug, Clone)]
enum BoundOutput {
    To(Vec<usize>),
    SplitName(Option<usize>, Option<usize>, SplitOn),
    SplitLines(Option<usize>, Option<usize>),
}

/// What one rule made of one cell.
#[derive(Debug)]
enum Cell {
    Empty,
    One(String),
    Two(String, String),
}

impl BoundMapping {
    /// Map one source record to the canonical record (same length as `headers`). Pure; a
    /// row error (a value missing from a strict value map) names the source column and value.
    pub fn apply(&self, record: &csv::StringRecord) -> Result<csv::StringRecord, String> {
        let mut cells = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            cells.push(if rule.uses_state {
                Cell::Empty
            } else {
                rule.eval(record, "")?
            });
        }
        let mut row = self.assemble(&cells, record);
        if self.has_state_rules {
            // state_name needs the row's country as the rest of the mapping leaves it
            // (transforms, fallbacks, defaults), so assemble once without the state rules,
            // read the country, then assemble again with them.
            for (rule, cell) in self.rules.iter().zip(cells.iter_mut()) {
                if rule.uses_state {
                    let country = rule.country_slot.map_or("", |slot| row[slot].as_str());
                    *cell = rule.eval(record, country)?;
                }
            }
            row = self.assemble(&cells, record);
        }
        Ok(csv::StringRecord::from(row))
    }

    fn assemble(&self, cells: &[Cell], record: &csv::StringRecord) -> Vec<String> {
        let mut row = vec![String::new(); self.headers.len()];
        let mut notes: Vec<&str> = Vec::new();
        for (rule, cell) in self.rules.iter().zip(cells) {
            match (&rule.output, cell) {
                (_, Cell::Empty) => {}
                (BoundOutput::To(slots), Cell::One(value)) => {
                    for &slot in slots {
                        self.put(&mut row, &mut notes, Some(slot), value);
                    }
                }
                (BoundOutput::SplitName(a, b, _), Cell::Two(x, y))
                | (BoundOutput::SplitLines(a, b), Cell::Two(x, y)) => {
                    self.put(&mut row, &mut notes, *a, x);
                    self.put(&mut row, &mut notes, *b, y);
                }
                _ => unreachable!("eval returns the shape of its output"),
            }
        }
        if let Some(slot) = self.notes_slot {
            row[slot] = notes.join("\n");
        }
        for (slot, value) in &self.constants {
            row[*slot] = value.clone();
        }
        for &(source, slot) in &self.pass_through {
            let value = record.get(source).unwrap_or("");
            row[slot] = if self.trim { value.trim() } else { value }.to_string();
        }
        if !self.fallbacks.is_empty() {
            // Fallbacks read the row as [columns] and [constants] left it: they never chain.
            let before: Vec<String> = self
                .fallbacks
                .iter()
                .map(|&(_, s)| row[s].clone())
                .collect();
            for (&(target, _), value) in self.fallbacks.iter().zip(before) {
                if row[target].is_empty() {
                    row[target] = value;
                }
            }
        }
        for (slot, value) in &self.defaults {
            if row[*slot].is_empty() {
                row[*slot] = value.clone();
            }
        }
        if let Some((presence, all)) = &self.address {
            if presence.iter().all(|&slot| row[slot].is_empty()) {
                for &slot in all {
                    row[slot].clear();
                }
            }
        }
        row
    }
}

impl BoundMapping {
    /// Notes collect every value; any other column keeps the first non-blank one.
    fn put<'c>(
        &self,
        row: &mut [String],
        notes: &mut Vec<&'c str>,
        slot: Option<usize>,
        value: &'c str,
    ) {
        let Some(slot) = slot else { return };
        if value.is_empty() {
            return;
        }
        if Some(slot) == self.notes_slot {
            notes.push(value);
        } else if row[slot].is_empty() {
            row[slot] = value.to_string();
        }
    }
}

impl BoundRule {
    fn eval(&self, record: &csv::StringRecord, country: &str) -> Result<Cell, String> {
        let raw = record.get(self.source).unwrap_or("");
        let value = self
            .steps
            .run(raw, self.trim, country)
            .map_err(|e| format!("column {:?}: {e}", self.header))?;
        let Some(value) = value else {
            return Ok(Cell::Empty);
        };
        Ok(match self.output {
            BoundOutput::To(_) => Cell::One(value),
            BoundOutput::SplitName(_, _, on) => {
                let value = value.trim();
                let split = match on {
                    SplitOn::FirstSpace => value.split_once(char::is_whitespace),
                    SplitOn::LastSpace => value.rsplit_once(char::is_whitespace),
                };
                match split {
                    Some((first, last)) => Cell::Two(first.trim().into(), last.trim().into()),
                    None => Cell::Two(value.to_string(), String::new()),
                }
            }
            BoundOutput::SplitLines(_, _) => {
                let mut lines = value.lines().map(str::trim).filter(|line| !line.is_empty());
                let first = lines.next().unwrap_or("").to_string();
                let rest = lines.collect::<Vec<_>>().join(", ");
                Cell::Two(first, rest)
            }
        })
    }
}

#[cfg(test)]
mod tests;
