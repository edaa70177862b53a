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

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context};

use super::spec::{
    self, is_address_column, normalize_header, Action, HeaderPattern, Output, Spec, SplitOn, Steps,
    ADDRESS_PRESENCE, FORM_FIELD_PREFIX, NOTES, READ_ONLY_COLUMNS, WRITABLE_COLUMNS,
};

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

/// The work of `Mapping::bind`.
struct Binder<'a> {
    spec: &'a Spec,
    /// Source headers as written (BOM and surrounding spaces removed).
    written: Vec<String>,
    normalized: Vec<String>,
}

impl<'a> Binder<'a> {
    fn new(spec: &'a Spec, source_headers: &csv::StringRecord) -> Binder<'a> {
        let written: Vec<String> = source_headers
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
            .collect();
        let normalized = written.iter().map(|h| normalize_header(h)).collect();
        Binder {
            spec,
            written,
            normalized,
        }
    }

    fn bind(self) -> anyhow::Result<BoundMapping> {
        let spec = self.spec;
        let label = &spec.label;
        if self.written.iter().all(String::is_empty) {
            bail!("the file has no header row (or only empty headers)");
        }

        // Which rule each source column falls to: an exact header first, else the first
        // pattern that matches.
        let mut exact: HashMap<&str, usize> = HashMap::new();
        for (i, rule) in spec.rules.iter().enumerate() {
            if let HeaderPattern::Exact(h) = &rule.pattern {
                exact.insert(h.as_str(), i);
            }
        }
        let mut column_rule: Vec<Option<usize>> = Vec::with_capacity(self.normalized.len());
        let mut rule_columns: Vec<Vec<usize>> = vec![Vec::new(); spec.rules.len()];
        for (col, header) in self.normalized.iter().enumerate() {
            let rule = exact.get(header.as_str()).copied().or_else(|| {
                if header.is_empty() {
                    return None;
                }
                // A pattern starting with `*` leaves `_…` columns (the results file's own,
                // Magento's system columns) alone; `_address_*` still matches them.
                spec.rules.iter().position(|r| match &r.pattern {
                    HeaderPattern::Glob(parts) => {
                        !(header.starts_with('_') && parts[0].is_empty())
                            && r.pattern.matches(header)
                    }
                    HeaderPattern::Exact(_) => false,
                })
            });
            if let Some(r) = rule {
                rule_columns[r].push(col);
            }
            column_rule.push(rule);
        }
        for (rule, cols) in spec.rules.iter().zip(&rule_columns) {
            if matches!(rule.pattern, HeaderPattern::Exact(_)) && cols.len() > 1 {
                let positions: Vec<String> = cols.iter().map(|c| (c + 1).to_string()).collect();
                bail!(
                    "the file has the column {:?} more than once (columns {}); {label} cannot tell which to use",
                    self.written[cols[0]],
                    positions.join(" and ")
                );
            }
        }

        // Unmapped columns: pass through, skip silently (`_…`, unnamed) or drop with a notice.
        let keep_unmapped = spec.options.keep_unmapped();
        let mut pass_through_cols = Vec::new();
        let mut unrecognised = Vec::new();
        let mut unnamed = 0;
        for (col, header) in self.normalized.iter().enumerate() {
            if column_rule[col].is_some() {
                continue;
            }
            if header.is_empty() {
                unnamed += 1;
            } else if header.starts_with('_') {
                // The results file's own columns, or system columns nobody mapped.
            } else if keep_unmapped {
                pass_through_cols.push(col);
            } else {
                unrecognised.push(col);
            }
        }

        // The output columns: everything the present columns, constants, defaults and
        // fallbacks fill, in the canonical order.
        let mut produced: Vec<String> = Vec::new();
        let add = |produced: &mut Vec<String>, name: &str| {
            if !produced.iter().any(|p| p == name) {
                produced.push(name.to_string());
            }
        };
        for (rule, cols) in spec.rules.iter().zip(&rule_columns) {
            if !cols.is_empty() {
                for target in rule.targets() {
                    add(&mut produced, target);
                }
            }
        }
        for (name, _) in spec.constants.iter().chain(&spec.defaults) {
            add(&mut produced, name);
        }
        let before_fallbacks = produced.clone();
        for (target, source) in &spec.fallbacks {
            if before_fallbacks.contains(source) {
                add(&mut produced, target);
            }
        }
        let drop_empty_address = spec.options.drop_empty_address();
        if drop_empty_address
            && !ADDRESS_PRESENCE
                .iter()
                .any(|p| produced.iter().any(|x| x == p))
        {
            // Every row would lose its address anyway: do not output blank address columns.
            produced.retain(|name| !is_address_column(name));
        }
        let rank = |name: &str| -> usize {
            WRITABLE_COLUMNS
                .iter()
                .chain(READ_ONLY_COLUMNS)
                .position(|c| *c == name)
                .unwrap_or(usize::MAX)
        };
        // Stable: form fields keep the order they were first named in.
        produced.sort_by_key(|name| rank(name));
        let mut headers = produced;

        let mut pass_through = Vec::new();
        for col in pass_through_cols {
            let written = &self.written[col];
            let name = spec::canonical_column(written)
                .ok()
                .filter(|c| !c.starts_with(FORM_FIELD_PREFIX))
                .unwrap_or_else(|| written.clone());
            if let Some(existing) = headers.iter().find(|h| h.eq_ignore_ascii_case(&name)) {
                bail!(
                    "the unmapped column {written:?} would pass through (keep_unmapped) as {name:?}, \
                     but {label} already fills {existing:?}: map or drop it explicitly"
                );
            }
            pass_through.push((col, headers.len()));
            headers.push(name);
        }

        // Required columns and a way to match customers.
        for required in spec.options.require() {
            if !headers.iter().any(|h| h == required) {
                let sources: Vec<&str> = spec
                    .rules
                    .iter()
                    .filter(|r| r.targets().contains(&required.as_str()))
                    .map(|r| r.header.as_str())
                    .collect();
                let wanted = if sources.is_empty() {
                    String::new()
                } else {
                    format!(" (one of: {})", quote_list(&sources))
                };
                bail!(
                    "{label} needs a source column for {required:?}{wanted}; the file's columns are: {}",
                    quote_list(&self.written.iter().map(String::as_str).collect::<Vec<_>>())
                );
            }
        }
        if !headers.iter().any(|h| h == "email" || h == "id") {
            bail!(
                "with {label}, this file gives neither an email nor an id column, so no row could \
                 be matched to a customer; the file's columns are: {}",
                quote_list(&self.written.iter().map(String::as_str).collect::<Vec<_>>())
            );
        }

        let slot_of: HashMap<&str, usize> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.as_str(), i))
            .collect();
        let slot = |name: &str| slot_of.get(name).copied();

        let trim = spec.options.trim();
        let mut rules = Vec::new();
        for (rule, cols) in spec.rules.iter().zip(&rule_columns) {
            let Action::Map { output, steps } = &rule.action else {
                continue;
            };
            let Some(&source) = cols.first() else {
                continue;
            };
            let output = match output {
                Output::To(targets) => {
                    let slots: Vec<usize> = targets.iter().filter_map(|t| slot(t)).collect();
                    BoundOutput::To(slots)
                }
                Output::SplitName { first, last, on } => {
                    BoundOutput::SplitName(slot(first), slot(last), *on)
                }
                Output::SplitLines { first, rest } => {
                    BoundOutput::SplitLines(slot(first), slot(rest))
                }
            };
            let country = steps.state_country_column();
            rules.push(BoundRule {
                source,
                header: self.written[source].clone(),
                output,
                steps: steps.clone(),
                trim: steps.trim.unwrap_or(trim),
                country_slot: country.and_then(slot),
                uses_state: country.is_some(),
            });
        }

        let address = drop_empty_address.then(|| {
            let presence = ADDRESS_PRESENCE.iter().filter_map(|p| slot(p)).collect();
            let all = headers
                .iter()
                .enumerate()
                .filter(|(_, h)| is_address_column(h))
                .map(|(i, _)| i)
                .collect();
            (presence, all)
        });
        let resolve = |list: &[(String, String)]| -> Vec<(usize, String)> {
            list.iter()
                .filter_map(|(name, value)| slot(name).map(|s| (s, value.clone())))
                .collect()
        };
        let bound = BoundMapping {
            notices: self.notices(
                &column_rule,
                &rule_columns,
                &unrecognised,
                &pass_through,
                unnamed,
            ),
            notes_slot: slot(NOTES),
            constants: resolve(&spec.constants),
            defaults: resolve(&spec.defaults),
            fallbacks: spec
                .fallbacks
                .iter()
                .filter_map(|(t, s)| Some((slot(t)?, slot(s)?)))
                .collect(),
            pass_through,
            trim,
            address,
            has_state_rules: rules.iter().any(|r| r.uses_state),
            rules,
            headers,
        };
        Ok(bound)
    }

    fn notices(
        &self,
        column_rule: &[Option<usize>],
        rule_columns: &[Vec<usize>],
        unrecognised: &[usize],
        pass_through: &[(usize, usize)],
        unnamed: usize,
    ) -> Vec<String> {
        let spec = self.spec;
        let mut notices = Vec::new();

        // The mapping's own notices, one per distinct text, naming every present column it covers.
        let mut by_text: Vec<(&str, Vec<String>)> = Vec::new();
        for (rule, cols) in spec.rules.iter().zip(rule_columns) {
            let (Some(text), false) = (rule.notice.as_deref(), cols.is_empty()) else {
                continue;
            };
            let label = match rule.pattern {
                HeaderPattern::Exact(_) => format!("{:?}", self.written[cols[0]]),
                HeaderPattern::Glob(_) if cols.len() == 1 => format!("{:?}", self.written[cols[0]]),
                HeaderPattern::Glob(_) => format!("{:?} ({} columns)", rule.header, cols.len()),
            };
            match by_text.iter_mut().find(|(t, _)| *t == text) {
                Some((_, labels)) => labels.push(label),
                None => by_text.push((text, vec![label])),
            }
        }
        for (text, labels) in by_text {
            notices.push(format!("{}: {text}", labels.join(", ")));
        }

        let dropped: Vec<&str> = column_rule
            .iter()
            .enumerate()
            .filter_map(|(col, rule)| {
                let rule = &spec.rules[(*rule)?];
                (matches!(rule.action, Action::Drop) && rule.notice.is_none())
                    .then(|| self.written[col].as_str())
            })
            .collect();
        if !dropped.is_empty() {
            notices.push(format!(
                "Not migrated (dropped by {}): {}.",
                spec.label,
                quote_list(&dropped)
            ));
        }
        if !unrecognised.is_empty() {
            let names: Vec<&str> = unrecognised
                .iter()
                .map(|&c| self.written[c].as_str())
                .collect();
            let advice = if spec.is_preset {
                "map them with a mapping file (--mapping FILE, which can extend this preset; see docs/mapping.md)"
            } else {
                "name them in [columns], or set keep_unmapped = true under [options] to pass them through"
            };
            notices.push(format!(
                "Not recognised by {}, dropped: {}. To import them, {advice}.",
                spec.label,
                quote_list(&names)
            ));
        }
        if !pass_through.is_empty() {
            let names: Vec<&str> = pass_through
                .iter()
                .map(|&(c, _)| self.written[c].as_str())
                .collect();
            notices.push(format!(
                "Passed through unchanged (keep_unmapped): {}.",
                quote_list(&names)
            ));
        }
        if unnamed > 0 {
            notices.push(format!(
                "{unnamed} column(s) without a header were ignored."
            ));
        }
        notices
    }
}

/// `"a", "b", "c"`, shortened after 20 names.
fn quote_list(names: &[&str]) -> String {
    const SHOWN: usize = 20;
    let mut out: Vec<String> = names.iter().take(SHOWN).map(|n| format!("{n:?}")).collect();
    if names.len() > SHOWN {
        out.push(format!("and {} more", names.len() - SHOWN));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests;
