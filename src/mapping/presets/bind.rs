//! Binding a mapping to one file's headers (`Mapping::bind`): which rule each column falls
//! to, the output columns in canonical order, what passes through, the checks that need the
//! headers (duplicates, required columns, a way to match customers), and the notices.

use std::collections::HashMap;

use anyhow::bail;

use super::{BoundMapping, BoundOutput, BoundRule};
use crate::mapping::spec::{
    self, is_address_column, normalize_header, Action, HeaderPattern, Output, Spec,
    ADDRESS_PRESENCE, FORM_FIELD_PREFIX, NOTES, READ_ONLY_COLUMNS, WRITABLE_COLUMNS,
};

/// Which rule each source column falls to, and the source columns of each rule.
struct Assignment {
    column_rule: Vec<Option<usize>>,
    rule_columns: Vec<Vec<usize>>,
}

/// The source columns no rule took.
struct Unmapped {
    pass_through: Vec<usize>,
    unrecognised: Vec<usize>,
    unnamed: usize,
}

/// The work of `Mapping::bind`.
pub(super) struct Binder<'a> {
    spec: &'a Spec,
    /// Source headers as written (BOM and surrounding spaces removed).
    written: Vec<String>,
    normalized: Vec<String>,
}

impl<'a> Binder<'a> {
    pub(super) fn new(spec: &'a Spec, source_headers: &csv::StringRecord) -> Binder<'a> {
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

    pub(super) fn bind(self) -> anyhow::Result<BoundMapping> {
        let spec = self.spec;
        if self.written.iter().all(String::is_empty) {
            bail!("the file has no header row (or only empty headers)");
        }
        let assigned = self.assign()?;
        let unmapped = self.unmapped(&assigned.column_rule);
        // The output columns, then the ones passed through after them.
        let mut headers = self.output_columns(&assigned.rule_columns);
        let pass_through = self.add_pass_through(&mut headers, &unmapped.pass_through)?;
        self.check_required(&headers)?;

        let slot_of: HashMap<&str, usize> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.as_str(), i))
            .collect();
        let slot = |name: &str| slot_of.get(name).copied();
        let trim = spec.options.trim();
        let rules = self.bound_rules(&assigned.rule_columns, trim, &slot);
        let address = spec.options.drop_empty_address().then(|| {
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
                &assigned.column_rule,
                &assigned.rule_columns,
                &unmapped.unrecognised,
                &pass_through,
                unmapped.unnamed,
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

    /// Which rule each source column falls to: an exact header first, else the first pattern
    /// that matches. A header an exact rule names must be in the file once.
    fn assign(&self) -> anyhow::Result<Assignment> {
        let spec = self.spec;
        let label = &spec.label;
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
        Ok(Assignment {
            column_rule,
            rule_columns,
        })
    }

    /// The columns no rule took: passed through (`keep_unmapped`), skipped silently (`_…`,
    /// unnamed) or dropped with a notice.
    fn unmapped(&self, column_rule: &[Option<usize>]) -> Unmapped {
        let keep_unmapped = self.spec.options.keep_unmapped();
        let mut pass_through = Vec::new();
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
                pass_through.push(col);
            } else {
                unrecognised.push(col);
            }
        }
        Unmapped {
            pass_through,
            unrecognised,
            unnamed,
        }
    }

    /// The output columns: everything the present columns, constants, defaults and fallbacks
    /// fill, in the canonical order.
    fn output_columns(&self, rule_columns: &[Vec<usize>]) -> Vec<String> {
        let spec = self.spec;
        let mut produced: Vec<String> = Vec::new();
        let add = |produced: &mut Vec<String>, name: &str| {
            if !produced.iter().any(|p| p == name) {
                produced.push(name.to_string());
            }
        };
        for (rule, cols) in spec.rules.iter().zip(rule_columns) {
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
        if spec.options.drop_empty_address()
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
        produced
    }

    /// Append the passed-through columns `cols` to `headers`: `(source column, output slot)`.
    fn add_pass_through(
        &self,
        headers: &mut Vec<String>,
        cols: &[usize],
    ) -> anyhow::Result<Vec<(usize, usize)>> {
        let label = &self.spec.label;
        let mut pass_through = Vec::new();
        for &col in cols {
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
        Ok(pass_through)
    }

    /// Required columns, and a way to match customers (an email or an id).
    fn check_required(&self, headers: &[String]) -> anyhow::Result<()> {
        let (spec, label) = (self.spec, &self.spec.label);
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
        Ok(())
    }

    /// The mapping rules of the present columns, aimed at their output slots.
    fn bound_rules(
        &self,
        rule_columns: &[Vec<usize>],
        trim: bool,
        slot: &impl Fn(&str) -> Option<usize>,
    ) -> Vec<BoundRule> {
        let spec = self.spec;
        let mut rules = Vec::new();
        for (rule, cols) in spec.rules.iter().zip(rule_columns) {
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
        rules
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
