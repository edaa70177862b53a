//! Getting the input ready before the first request, and each record ready for the planner:
//! the mapping bound to the headers and the columns checked, the `--only-failed` rows that
//! are carried over as they were, and per record its import columns, its validated values
//! and the keys that name its customer (all worked out once, by the pipeline's prepare stage).

use std::collections::HashMap;

use anyhow::{bail, Context};

use crate::csvio::normalize_header;
use crate::exit::UsageError;
use crate::input::{is_empty_row, InputFile};
use crate::mapping::columns::{closest_known, Field, Layout};
use crate::mapping::presets::{BoundMapping, Mapping};
use crate::mapping::row::{parse_row, Blank, RowData};
use crate::pipeline;
use crate::results::{RowOutcome, RowResult};

use super::plan::MatchBy;
use super::Args;

/// The input as the import sees it: the file's own headers (echoed in the results file), and,
/// with `--preset`/`--mapping`, the mapping that turns each record into the import columns.
pub struct Input {
    /// The file's header row, as written.
    pub headers: csv::StringRecord,
    /// The import columns' layout (of the mapped record when there is a mapping).
    pub layout: Layout,
    pub mapping: Option<BoundMapping>,
    /// Source columns whose cells the mapping sends as a password: blanked in the results.
    pub secret: Vec<usize>,
    /// The file is an `export --addresses` file: its rows add addresses to existing customers.
    pub addresses_file: bool,
}

impl Input {
    /// The record in the import columns: the record itself, or what the mapping makes of it.
    /// A mapping error (a value missing from a strict value map) makes the row invalid.
    pub fn canonical<'r>(
        &self,
        record: &'r csv::StringRecord,
    ) -> Result<std::borrow::Cow<'r, csv::StringRecord>, String> {
        let Some(m) = &self.mapping else {
            return Ok(std::borrow::Cow::Borrowed(record));
        };
        // Checked here because the mapped record always has the mapping's width.
        if let Some(m) = crate::input::ragged_message(record, self.headers.len()) {
            return Err(m);
        }
        m.apply(record).map(std::borrow::Cow::Owned)
    }

    /// The record as echoed in the results file: password cells blanked.
    pub fn echo(&self, record: &csv::StringRecord) -> csv::StringRecord {
        if self.secret.is_empty() {
            return record.clone();
        }
        record
            .iter()
            .enumerate()
            .map(|(i, c)| if self.secret.contains(&i) { "" } else { c })
            .collect()
    }
}

/// Bind the mapping (if any) to the file's headers and check the columns, all before any
/// request: unknown columns are fatal unless ignored, and a file must name its customers.
pub fn prepare_input(args: &Args, headers: csv::StringRecord) -> anyhow::Result<Input> {
    let mapping = match (&args.preset, &args.mapping) {
        // An unknown preset name is a bad flag value (exit 2), like any other.
        (Some(name), _) => Some(Mapping::preset(name).map_err(|e| UsageError(format!("{e:#}")))?),
        (None, Some(path)) => Some(Mapping::from_toml_file(path)?),
        (None, None) => None,
    };
    // Which platform's export the file looks like, judged by the columns the import itself
    // does not know (for the messages that say which --preset to add).
    let looks_like = || {
        let unknown = Layout::new(&headers).unknown;
        crate::mapping::presets::suggest_preset(unknown.iter().map(String::as_str))
    };
    let bound = match &mapping {
        Some(m) => Some(m.bind(&headers).with_context(|| {
            let hint = match (looks_like(), &args.preset) {
                (Some((name, platform)), Some(given)) if !given.eq_ignore_ascii_case(name) => {
                    format!(" (the file looks like {platform}: use --preset {name})")
                }
                _ => String::new(),
            };
            format!("mapping the columns of {}{hint}", args.file.display())
        })?),
        None => None,
    };
    let addresses_file = bound.is_none() && is_addresses_export(&headers);
    let layout = match &bound {
        _ if addresses_file => Layout::new(&addresses_layout_headers(&headers)),
        Some(b) => {
            let mut l = Layout::new(&b.headers.iter().collect::<csv::StringRecord>());
            // The mapping decides about leading quotes (`strip_leading_quote`): the import's own
            // "remove exactly one leading '" would take a second one from a mapped cell.
            l.verbatim = true;
            l
        }
        None => Layout::new(&headers),
    };
    let mut layout = layout;
    layout.decimal_comma = args.decimal_comma;
    if args.match_by == MatchBy::Email {
        // The ids belong to another store, or to customers deleted since: not to be matched.
        layout.id = None;
    }
    if bound.is_some() && layout.id.is_some() {
        bail!(
            "the mapping gives the column id: a source platform's customer id is never a BigCommerce id (a row with an id updates that customer of this store). Map it to notes with a prefix instead, as the presets do (see docs/mapping.md)"
        );
    }
    if !layout.unknown.is_empty() && !args.ignore_unknown_columns {
        let platform = if bound.is_none() { looks_like() } else { None };
        return Err(unknown_columns(&args.file, &layout.unknown, platform));
    }
    if layout.id.is_none() && !layout.has(Field::Email) {
        bail!(
            "{}: the file needs an email or an id column to find or create customers",
            args.file.display()
        );
    }
    let secret = match &bound {
        Some(b) => secret_sources(b, headers.len()),
        None => Vec::new(),
    };
    Ok(Input {
        headers,
        layout,
        mapping: bound,
        secret,
        addresses_file,
    })
}

/// Columns the import does not know are fatal (unless ignored): name them, with the closest
/// import column, or say which preset the file looks like it needs (`platform`).
fn unknown_columns(
    file: &std::path::Path,
    unknown: &[String],
    platform: Option<(&str, &str)>,
) -> anyhow::Error {
    // A file with 100,000 stray columns must not make a 100,000-name message.
    let mut named: Vec<String> = unknown
        .iter()
        .take(10)
        .map(|u| match closest_known(u) {
            Some(k) => format!("{u:?} (did you mean {k:?}?)"),
            None => format!("{u:?}"),
        })
        .collect();
    if unknown.len() > named.len() {
        named.push(format!("and {} more", unknown.len() - named.len()));
    }
    if let Some((name, platform)) = platform {
        let theirs: Vec<String> = unknown.iter().take(5).map(|u| format!("{u:?}")).collect();
        return anyhow::anyhow!(
            "{}: this looks like {platform} ({}, ... are its columns, not import columns): add --preset {name} (see docs/migrate-from-{name}.md)",
            file.display(),
            theirs.join(", ")
        );
    }
    anyhow::anyhow!(
        "{}: unknown column(s) {}. Rename them to the import columns (`bc-customers columns` lists them), use --preset or --mapping for another platform's export, or pass --ignore-unknown-columns to import without them",
        file.display(),
        named.join(", ")
    )
}

/// Is this the `--addresses` file of `export` (or a results file of one)? Its first columns
/// name the customer and the address: `customer_id`, `customer_email`, `address_id`.
fn is_addresses_export(headers: &csv::StringRecord) -> bool {
    let names: Vec<String> = headers.iter().map(normalize_header).collect();
    ["customer_id", "customer_email", "address_id"]
        .iter()
        .all(|n| names.iter().any(|h| h == n))
}

/// The import columns of an addresses file's columns: `customer_id` is the id and
/// `customer_email` the email that find the customer, the address fields become `address_*`,
/// and the store's own `address_id` and `country_iso2` (derived from the country) are not
/// data (a leading `_` makes a column ignored, as in a results file).
fn addresses_layout_headers(headers: &csv::StringRecord) -> csv::StringRecord {
    headers
        .iter()
        .map(|h| {
            let n = normalize_header(h);
            match n.as_str() {
                "customer_id" => "id".to_string(),
                "customer_email" => "email".to_string(),
                "address_id" | "country_iso2" => format!("_{n}"),
                "first_name" | "last_name" | "company" | "street_1" | "street_2" | "city"
                | "state" | "zip" | "country" | "phone" => format!("address_{n}"),
                _ => h.to_string(),
            }
        })
        .collect()
}

/// The source columns whose cells a mapping sends as `password`/`password_confirmation`,
/// found by mapping a probe value through each column alone. The results writer blanks
/// password columns by name, but a mapping can take a password from any header.
fn secret_sources(m: &BoundMapping, width: usize) -> Vec<usize> {
    const PROBE: &str = "7391046285193";
    let secret_out: Vec<usize> = m
        .headers
        .iter()
        .enumerate()
        .filter(|(_, h)| matches!(h.as_str(), "password" | "password_confirmation"))
        .map(|(i, _)| i)
        .collect();
    if secret_out.is_empty() {
        return Vec::new();
    }
    (0..width)
        .filter(|&i| {
            let probe: csv::StringRecord = (0..width)
                .map(|k| if k == i { PROBE } else { "" })
                .collect();
            m.apply(&probe).is_ok_and(|out| {
                secret_out
                    .iter()
                    .any(|&o| out.get(o).is_some_and(|c| c.contains(PROBE)))
            })
        })
        .collect()
}

/// What the summary says once about the file's columns.
pub fn column_notices(input: &Input) -> Vec<String> {
    let mut notices = Vec::new();
    if let Some(m) = &input.mapping {
        notices.extend(m.notices.iter().cloned());
    }
    let layout = &input.layout;
    if !layout.read_only.is_empty() {
        notices.push(format!(
            "read-only column(s) not sent (the V2 API cannot write them): {}",
            layout.read_only.join(", ")
        ));
    }
    if !layout.unknown.is_empty() {
        let hint = match crate::mapping::presets::suggest_preset(
            layout.unknown.iter().map(String::as_str),
        ) {
            Some((name, platform)) if input.mapping.is_none() => {
                format!(" (the file looks like {platform}: --preset {name} imports them)")
            }
            _ => String::new(),
        };
        notices.push(format!(
            "unknown column(s) ignored: {}{hint}",
            layout.unknown.join(", ")
        ));
    }
    notices
}

/// Where an earlier results file keeps its outcome columns (for `--only-failed`).
#[derive(Debug, Clone, Copy)]
pub struct Carried {
    result: usize,
    customer_id: Option<usize>,
    message: Option<usize>,
}

impl Carried {
    pub fn locate(headers: &csv::StringRecord) -> Option<Carried> {
        let find = |name: &str| headers.iter().position(|h| normalize_header(h) == name);
        Some(Carried {
            result: find("_result")?,
            customer_id: find("_customer_id"),
            message: find("_message"),
        })
    }

    /// True when the earlier run finished this row, so it is not sent again. Rows that are
    /// `invalid` or `failed`, and the `would_create` / `would_update` of a dry run (never
    /// done), are processed.
    pub fn is_carried(&self, record: &csv::StringRecord) -> bool {
        let earlier = record.get(self.result).map(str::trim).unwrap_or("");
        !still_to_do(earlier.as_bytes())
    }

    /// The earlier outcome of a row that is not retried (`None`: the row is retried).
    pub fn outcome(&self, record: &csv::StringRecord) -> Option<RowOutcome> {
        if !self.is_carried(record) {
            return None;
        }
        let earlier = record.get(self.result).map(str::trim).unwrap_or("");
        let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("");
        Some(RowOutcome::new(
            RowResult::parse(earlier).unwrap_or(RowResult::Skipped),
            cell(self.customer_id).trim().parse().ok(),
            cell(self.message),
        ))
    }
}

/// An earlier result that `--only-failed` processes again.
fn still_to_do(earlier: &[u8]) -> bool {
    matches!(
        earlier,
        b"invalid" | b"failed" | b"would_create" | b"would_update"
    )
}

/// The first row of each customer key, to say "same customer as row N" on later ones. Keys
/// are kept as 64-bit hashes: a file of a million rows costs 16 MB here, not its emails.
#[derive(Default)]
pub struct FirstRows(HashMap<u64, u64>);

impl FirstRows {
    /// The earlier row with this key, or `None` (and `no` is remembered as its first row).
    pub fn seen(&mut self, key: &str, no: u64) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        match self.0.entry(h.finish()) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(no);
                None
            }
        }
    }
}

/// With `--only-failed`, the rows that will be sent (for the plan), counted before the run.
pub fn count_failed_rows(file: &InputFile, result_col: usize) -> anyhow::Result<u64> {
    let mut rdr = file.reader()?;
    let mut rec = csv::StringRecord::new();
    let mut n = 0;
    // The whole-file check has read this file already: errors cannot happen here.
    while let Ok(true) = rdr.read_record(&mut rec) {
        if rec
            .get(result_col)
            .is_some_and(|c| still_to_do(c.trim().as_bytes()))
        {
            n += 1
        }
    }
    Ok(n)
}

/// The keys of the customer a row names (its id and its email, when filled): rows sharing
/// one run one after another, in file order (see `pipeline::Chains`).
pub fn row_keys(layout: &Layout, record: &csv::StringRecord) -> Vec<String> {
    let cell = |i: Option<usize>| {
        i.and_then(|i| record.get(i))
            .map(|c| layout.clean(c).trim())
            .filter(|c| !c.is_empty())
    };
    let mut keys = Vec::new();
    if let Some(id) = cell(layout.id) {
        keys.push(match id.parse::<u64>() {
            Ok(n) => pipeline::id_key(n),
            Err(_) => format!("#{id}"),
        });
    }
    keys.extend(cell(layout.fields[Field::Email.index()]).map(pipeline::email_key));
    keys
}

/// A store's error message could quote what it was sent; a password never reaches the
/// results file, the journal or the terminal, whatever the message says.
pub fn scrub_passwords(layout: &Layout, record: &csv::StringRecord, message: &mut String) {
    for i in [layout.password, layout.password_confirmation]
        .into_iter()
        .flatten()
    {
        // Very short cells would blank ordinary words of the message; the store refuses
        // passwords that short anyway, and such a message names the rule, not the value.
        match record.get(i).map(str::trim) {
            Some(p) if p.chars().count() >= 4 && message.contains(p) => {
                *message = message.replace(p, "****");
            }
            _ => {}
        }
    }
}

/// What the prepare stage makes of one record for its turn, once.
pub struct Item {
    /// The keys of the customer the row names: rows sharing one run one after another. None
    /// for a row carried over from an earlier results file or refused by the mapping.
    pub keys: Vec<String>,
    pub work: Work,
}

/// What the prepare stage makes of one record for its results line (also for a row the
/// interrupted run finished, which is not worked on again).
pub struct Note {
    /// `--only-failed`: the earlier run finished this row; it is not sent again.
    pub carried: bool,
    /// The first key of the row's customer, for "same customer as row N".
    pub first_key: Option<String>,
}

/// What is left to do for a row.
pub enum Work {
    /// Nothing: the row's outcome is known without the store (empty, carried over, or
    /// refused by the mapping).
    Done(RowOutcome),
    /// The planner's turn: the record in the import columns (whose password cells are
    /// scrubbed from any message) and what it asks for, or why it is invalid.
    Row {
        record: csv::StringRecord,
        data: Result<Box<RowData>, String>,
    },
}

/// Prepare one record: empty rows are skipped, `--only-failed` rows that were done keep their
/// earlier outcome, and the others are mapped to the import columns and validated.
pub fn prepare(
    input: &Input,
    carried_from: Option<Carried>,
    blank: Blank,
    record: &csv::StringRecord,
) -> (Note, Item) {
    let carried = carried_from.is_some_and(|c| c.is_carried(record));
    let canonical = (!carried).then(|| input.canonical(record));
    let keys = match &canonical {
        Some(Ok(rec)) => row_keys(&input.layout, rec),
        _ => Vec::new(),
    };
    let work = if is_empty_row(record) {
        Work::Done(RowOutcome::new(RowResult::Skipped, None, "empty row"))
    } else if let Some(out) = carried_from.and_then(|c| c.outcome(record)) {
        Work::Done(out)
    } else {
        match canonical.expect("computed for rows that are not carried") {
            Ok(rec) => Work::Row {
                data: parse_row(&input.layout, &rec, blank).map(Box::new),
                record: rec.into_owned(),
            },
            Err(m) => Work::Done(RowOutcome::invalid(m)),
        }
    };
    let note = Note {
        carried,
        first_key: keys.first().cloned(),
    };
    (note, Item { keys, work })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_scrubbed_from_messages() {
        let headers = csv::StringRecord::from(vec!["email", "password"]);
        let layout = Layout::new(&headers);
        let record = csv::StringRecord::from(vec!["a@x.com", "Secret99"]);
        let mut m = "HTTP 400: password Secret99 is too weak".to_string();
        scrub_passwords(&layout, &record, &mut m);
        assert_eq!(m, "HTTP 400: password **** is too weak");
    }
}
