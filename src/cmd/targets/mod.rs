//! Input files that name existing customers by `id` or `email` (set-group, delete,
//! validate-password): the columns and each row's target; and what the three commands share
//! around them.
//!
//! - [`run`]: the run from the input file to the summary ([`FileRun`], over the row engine),
//!   what a command provides ([`TargetCommand`]), finding a row's customer ([`locate`]), the
//!   customers rows have claimed ([`Claims`]).
//! - [`filter`]: set-group's `--filter` run: the matching customers as rows.
//! - [`group`]: the target group of set-group, resolved once per run.
//!
//! Finding a row's customer is `lookup`'s [`Finder`]: one lookup per row when the file is
//! small next to the store, otherwise one read of the whole store in pages of 250, which
//! costs a share of a page per row instead of a request per row.

pub mod filter;
pub mod group;
pub mod run;

use std::path::Path;

use anyhow::bail;

use crate::csvio::{normalize_header, unneutralise};
pub use crate::lookup::{Finder, Known};
use crate::pipeline;
pub use run::{locate, Claims, FileRun, Located, Spec, TargetCommand};

/// Where the naming columns are in the input.
#[derive(Debug, Clone, Copy)]
pub struct Columns {
    /// `id` (or `customer_id`).
    pub id: Option<usize>,
    pub email: Option<usize>,
    /// Only validate-password reads it; every command blanks it in the results file.
    pub password: Option<usize>,
    /// The header's width: filled cells past it make the row fail (see [`precheck`]).
    pub width: usize,
}

impl Columns {
    /// Find `id` (or `customer_id`) and `email`; at least one is required.
    pub fn locate(headers: &csv::StringRecord, path: &Path) -> anyhow::Result<Columns> {
        let find = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| headers.iter().position(|h| normalize_header(h) == *n))
        };
        // `customer_id` (the tool's own addresses file) names BigCommerce ids only when spelled
        // exactly so: folded header matching would also take Shopify's `Customer ID`, whose
        // numbers are another platform's ids, and a delete would then name the wrong customers.
        let own_customer_id = || {
            headers.iter().position(|h| {
                h.trim_start_matches('\u{feff}')
                    .trim()
                    .eq_ignore_ascii_case("customer_id")
            })
        };
        let cols = Columns {
            id: find(&["id"]).or_else(own_customer_id),
            email: find(&["email"]),
            password: find(&["password"]),
            width: headers.len(),
        };
        if cols.id.is_none() && cols.email.is_none() {
            bail!(
                "{}: the file needs an id or an email column to name the customers (found: {})",
                path.display(),
                headers.iter().collect::<Vec<_>>().join(", ")
            );
        }
        Ok(cols)
    }

    fn cell<'r>(&self, i: Option<usize>, record: &'r csv::StringRecord) -> Option<&'r str> {
        i.and_then(|i| record.get(i))
            .map(|c| unneutralise(c).trim())
            .filter(|c| !c.is_empty())
    }

    /// The row's customer: its id when the id cell is filled, else its email. The error is
    /// the row's `_message`.
    pub fn target(&self, record: &csv::StringRecord) -> Result<Target, String> {
        let email = self.cell(self.email, record).map(str::to_string);
        if let Some(id) = self.cell(self.id, record) {
            return match id.parse::<u64>() {
                Ok(id) if id > 0 => Ok(Target {
                    id: Some(id),
                    email,
                }),
                _ => Err(format!("id {id:?} is not a customer id (a whole number)")),
            };
        }
        match email {
            Some(e) => Ok(Target {
                id: None,
                email: Some(e),
            }),
            None => Err("the row has neither an id nor an email".into()),
        }
    }

    /// The row's password cell, untrimmed (spaces may be part of a password).
    pub fn password<'r>(&self, record: &'r csv::StringRecord) -> Option<&'r str> {
        self.password
            .and_then(|i| record.get(i))
            .filter(|p| !p.is_empty())
    }

    /// The keys naming the row's customer (its id and its email, when filled): rows sharing
    /// one run one after another (see `pipeline::Chains`).
    pub fn keys(&self, record: &csv::StringRecord) -> Vec<String> {
        match self.target(record) {
            Ok(t) => t.keys(),
            Err(_) => Vec::new(),
        }
    }
}

/// A row's customer as the file names it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The id cell, when filled (it wins over the email).
    pub id: Option<u64>,
    /// The email cell, when filled.
    pub email: Option<String>,
}

impl Target {
    /// The chaining keys of what the row names.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.id.map(pipeline::id_key).into_iter().collect();
        keys.extend(self.email.as_deref().map(pipeline::email_key));
        keys
    }

    /// "no customer with id 7" / "no customer with email a@b.c".
    pub fn not_found(&self) -> String {
        match (self.id, &self.email) {
            (Some(id), _) => format!("no customer with id {id}"),
            (None, Some(e)) => format!("no customer with email {e}"),
            (None, None) => "no customer".into(),
        }
    }

    /// When the file gives both an id and an email, they must name the same customer: a
    /// stale export must not move or delete someone else.
    pub fn mismatch(&self, found: &Known) -> Option<String> {
        match (self.id, &self.email) {
            (Some(id), Some(e)) if !found.email.eq_ignore_ascii_case(e) => Some(format!(
                "customer {id} has the email {}, not {e}: fix the row (the id wins over the email only when they agree)",
                found.email
            )),
            _ => None,
        }
    }
}

/// The keys of the file's rows in V3 lookup lists (see `lookup::batched`), from one more read
/// of the input (standard input was spooled by the whole-file check, so it reads again).
/// Only the key a row is looked up by is kept: its id when it has one, else its email.
pub fn lookup_batches(
    file: &crate::input::InputFile,
    cols: &Columns,
) -> anyhow::Result<crate::lookup::batched::Batches> {
    let mut rdr = file.reader()?;
    let mut record = csv::StringRecord::new();
    let mut failed = None;
    let targets = std::iter::from_fn(|| loop {
        match rdr.read_record(&mut record) {
            Ok(false) => return None,
            Err(e) => {
                failed = Some(crate::input::describe_csv_error(&e, &file.path));
                return None;
            }
            Ok(true) => match cols.target(&record) {
                Ok(Target { id: Some(id), .. }) => return Some((Some(id), None)),
                Ok(t) => return Some((None, t.email)),
                Err(_) => {}
            },
        }
    });
    let batches = crate::lookup::batched::Batches::new(targets);
    match failed {
        Some(e) => Err(e),
        None => Ok(batches),
    }
}

/// The outcome of a row that names no customer because of the file itself: an empty row
/// (Excel's leftovers: `skipped`, not a failure) or a row with more filled cells than the
/// header has columns (`failed` with its line, since these commands' `invalid` means
/// something else in validate-password).
pub fn precheck(record: &csv::StringRecord, width: usize) -> Option<crate::results::RowOutcome> {
    use crate::results::{RowOutcome, RowResult};
    if crate::input::is_empty_row(record) {
        return Some(RowOutcome::new(RowResult::Skipped, None, "empty row"));
    }
    if record.len() > width {
        return crate::input::ragged_message(record, width).map(|m| RowOutcome::failed(None, m));
    }
    None
}

#[cfg(test)]
mod tests;
