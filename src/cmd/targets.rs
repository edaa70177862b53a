//! Input files that name existing customers by `id` or `email` (set-group, delete,
//! validate-password): the columns, each row's target, and finding it in the store cheaply.
//!
//! Finding follows `lookup`'s plan: one lookup per row when the file is small next to the
//! store, otherwise one read of the whole store in pages of 250 into a small directory (id →
//! email and group), which costs a share of a page per row instead of a request per row.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::bail;
use futures::StreamExt;

use crate::api::pages::{self, Query};
use crate::api::{ApiError, Client, Customer};
use crate::csvio::{normalize_header, unneutralise};
use crate::lookup;
use crate::pipeline;
use crate::report::Progress;

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

/// What these commands need to know about a store customer.
#[derive(Debug, Clone)]
pub struct Known {
    pub id: u64,
    pub email: String,
    /// `customer_group_id` (0 = no group).
    pub group: u64,
}

impl Known {
    pub fn of(c: &Customer) -> Known {
        Known {
            id: c.id,
            email: c.email.clone(),
            group: c.customer_group_id,
        }
    }
}

/// Finds rows' customers: in a preloaded directory of the whole store, or one request each.
pub struct Finder {
    client: Client,
    /// `Some` when the whole store was read: a miss there means "no such customer".
    directory: Option<Mutex<Directory>>,
}

#[derive(Default)]
struct Directory {
    by_id: HashMap<u64, (String, u64)>,
    by_email: HashMap<String, u64>,
}

impl Finder {
    /// Choose the plan from the file's size and the store's (one count request), and preload
    /// the store when that is cheaper than a lookup per row. `rows_need_lookups = false`
    /// (every row names its customer by id and the command can act on an id alone) never
    /// preloads: there is nothing to look up.
    pub async fn plan(
        client: &Client,
        file_rows: u64,
        concurrency: usize,
        progress: &Progress,
        rows_need_lookups: bool,
    ) -> Result<Finder, ApiError> {
        // The whole-file check counted the records (stdin too: it is spooled first).
        progress.set_total(file_rows);
        let file_rows = Some(file_rows);
        if !rows_need_lookups {
            return Ok(Finder {
                client: client.clone(),
                directory: None,
            });
        }
        let store_count = client.count_customers(&[]).await?;
        if store_count > 0 && !lookup::should_preload(file_rows, store_count) {
            return Ok(Finder {
                client: client.clone(),
                directory: None,
            });
        }
        if store_count > 0 {
            progress.note(&format!(
                "reading the store's {} in pages of 250 (cheaper than one lookup per row)",
                crate::report::plural(store_count, "customer", "customers")
            ));
        }
        let mut dir = Directory::default();
        progress.planning(store_count.div_ceil(pages::PAGE).max(1));
        let mut stream =
            pages::customer_pages(client.clone(), Query::default(), store_count, concurrency);
        while let Some(page) = stream.next().await {
            for c in page? {
                dir.by_email.insert(c.email.to_lowercase(), c.id);
                dir.by_id.insert(c.id, (c.email, c.customer_group_id));
            }
            progress.page_read();
        }
        progress.planned();
        Ok(Finder {
            client: client.clone(),
            directory: Some(Mutex::new(dir)),
        })
    }

    /// True when the store was read in pages (no per-row lookups).
    pub fn is_preloaded(&self) -> bool {
        self.directory.is_some()
    }

    /// The store customer a row names, if any.
    pub async fn find(&self, t: &Target) -> Result<Option<Known>, ApiError> {
        if let Some(dir) = &self.directory {
            let dir = dir.lock().unwrap();
            let id = match (t.id, &t.email) {
                (Some(id), _) => Some(id),
                (None, Some(e)) => dir.by_email.get(&e.to_lowercase()).copied(),
                (None, None) => None,
            };
            return Ok(id.and_then(|id| {
                dir.by_id.get(&id).map(|(email, group)| Known {
                    id,
                    email: email.clone(),
                    group: *group,
                })
            }));
        }
        let c = lookup::fetch(&self.client, t.id, t.email.as_deref()).await?;
        Ok(c.as_ref().map(Known::of))
    }

    /// Record a change this run made (a later row about the same customer sees it).
    pub fn set_group(&self, id: u64, group: u64) {
        if let Some(dir) = &self.directory {
            if let Some(entry) = dir.lock().unwrap().by_id.get_mut(&id) {
                entry.1 = group;
            }
        }
    }

    /// Record a deletion this run made.
    pub fn forget(&self, id: u64) {
        if let Some(dir) = &self.directory {
            let mut dir = dir.lock().unwrap();
            if let Some((email, _)) = dir.by_id.remove(&id) {
                dir.by_email.remove(&email.to_lowercase());
            }
        }
    }
}

/// The row stage the three target commands share: each row of `rx` goes to `process`
/// (rows naming one customer, by id or by email, one after another), except an empty or
/// too-wide row, which [`precheck`] answers without a request; every outcome goes to the
/// results file in input order.
pub async fn run_rows<P, Fut>(
    run: &crate::rows::RowRun,
    rx: tokio::sync::mpsc::Receiver<anyhow::Result<pipeline::Row>>,
    cols: Columns,
    concurrency: usize,
    process: P,
    writer: &mut crate::results::ResultsWriter,
    progress: &Progress,
) -> anyhow::Result<(crate::pipeline::Ended, crate::report::Tally)>
where
    P: Fn(pipeline::Row) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(pipeline::Row, crate::results::RowOutcome)>>,
{
    use futures::future::Either;
    run.rows_to_results(
        rx,
        concurrency,
        move |row| cols.keys(&row.record),
        |row, _turn| match precheck(&row.record, cols.width) {
            Some(out) => Either::Left(std::future::ready(Ok((row, out)))),
            None => Either::Right(process(row)),
        },
        writer,
        progress,
    )
    .await
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
mod tests {
    use super::*;

    fn cols(headers: &[&str]) -> Columns {
        Columns::locate(
            &csv::StringRecord::from(headers.to_vec()),
            Path::new("x.csv"),
        )
        .unwrap()
    }

    #[test]
    fn id_wins_email_is_the_fallback() {
        let c = cols(&["Email", " ID ", "password"]);
        let t = c
            .target(&csv::StringRecord::from(vec!["a@b.co", "7", "p"]))
            .unwrap();
        assert_eq!((t.id, t.email.as_deref()), (Some(7), Some("a@b.co")));
        let t = c
            .target(&csv::StringRecord::from(vec!["A@B.co", "", "p"]))
            .unwrap();
        assert_eq!(t.id, None);
        assert_eq!(
            c.keys(&csv::StringRecord::from(vec!["A@B.co", "", "p"])),
            vec!["a@b.co".to_string()]
        );
        assert_eq!(
            c.keys(&csv::StringRecord::from(vec!["A@B.co", "7", "p"])),
            vec!["#7".to_string(), "a@b.co".to_string()]
        );
        assert!(c
            .target(&csv::StringRecord::from(vec!["", "x7", "p"]))
            .is_err());
        assert!(c
            .target(&csv::StringRecord::from(vec!["", "", "p"]))
            .is_err());
        // A neutralised id from an export ('7) is still 7.
        let t = c
            .target(&csv::StringRecord::from(vec!["", "'7", "p"]))
            .unwrap();
        assert_eq!(t.id, Some(7));
    }

    #[test]
    fn a_file_without_id_or_email_is_refused() {
        let headers = csv::StringRecord::from(vec!["name", "phone"]);
        assert!(Columns::locate(&headers, Path::new("x.csv")).is_err());
    }

    #[test]
    fn id_and_email_must_agree() {
        let t = Target {
            id: Some(3),
            email: Some("a@b.co".into()),
        };
        let same = Known {
            id: 3,
            email: "A@b.co".into(),
            group: 0,
        };
        let other = Known {
            id: 3,
            email: "z@b.co".into(),
            group: 0,
        };
        assert!(t.mismatch(&same).is_none());
        assert!(t.mismatch(&other).is_some());
    }
}
