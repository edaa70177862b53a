//! Input files that name existing customers by `id` or `email` (set-group, delete,
//! validate-password): the columns, each row's target, and the run the three commands share
//! from the input file to the summary ([`FileRun`]).
//!
//! Finding a row's customer is `lookup`'s [`Finder`]: one lookup per row when the file is
//! small next to the store, otherwise one read of the whole store in pages of 250, which
//! costs a share of a page per row instead of a request per row.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::api::pages::{self, Query};
use crate::api::Client;
use crate::cli::GlobalArgs;
use crate::cmd::{connect, fatal_if_auth};
use crate::csvio::{normalize_header, unneutralise};
use crate::exit::Exit;
use crate::input::{CsvReader, Dialect, InputFile};
pub use crate::lookup::{Finder, Known};
use crate::outfile::RunFiles;
use crate::pipeline::{self, Ended, Row};
use crate::report::{Progress, Summary, Tally};
use crate::results::{default_path, ResultsWriter, RowOutcome};
use crate::rows::{check_resume, JournalSpec, RowRun};

/// What a command's `--input` run is, for [`FileRun::open`].
pub struct Spec<'a> {
    pub command: &'static str,
    pub input: &'a Path,
    pub results: Option<&'a Path>,
    pub dialect: &'a Dialect,
    /// The options that change what a row means (the journal's fingerprint, after the
    /// command's name and the dialect).
    pub options: String,
    pub resume: bool,
    /// The run sends no write (no journal); the reason, for the interrupt message.
    pub dry_run: Option<&'static str>,
    /// The file must have a password column (validate-password).
    pub needs_password: bool,
    /// What the progress bar counts.
    pub unit: &'static str,
}

/// One run of a command over an input file, from the checks before the first request to the
/// summary: the three commands differ only in what they do with a row.
pub struct FileRun {
    pub run: Arc<RowRun>,
    pub client: Client,
    pub cols: Columns,
    pub progress: Progress,
    pub file: InputFile,
    rdr: CsvReader,
    results: PathBuf,
}

impl FileRun {
    /// Everything about the files is checked before the first request (the results path,
    /// outputs clashing with inputs, the journal and its lock), then the client is built.
    pub fn open(g: &GlobalArgs, spec: Spec<'_>) -> anyhow::Result<FileRun> {
        check_resume(spec.resume, Some(spec.input), spec.dry_run.is_some())?;
        let file = InputFile::open(spec.input, spec.dialect)?;
        let rdr = file.reader()?;
        let cols = Columns::locate(&file.headers, spec.input)?;
        if spec.needs_password && cols.password.is_none() {
            bail!(
                "{}: the file needs a password column (and an id or email column)",
                spec.input.display()
            );
        }
        let results = spec
            .results
            .map_or_else(|| default_path(spec.input, spec.command), Path::to_path_buf);
        crate::results::check_path(spec.input, &results)?;
        RunFiles::new(g)
            .input("the input file", spec.input)
            .results(&results)
            .check()?;
        let client = connect(g)?;
        // A dry run writes nothing, and stdin cannot be read again: no journal.
        let stdin = spec.input.as_os_str() == "-";
        let journal = (spec.dry_run.is_none() && !stdin).then(|| JournalSpec {
            input: spec.input,
            results: &results,
            options: format!(
                "{} {}{}",
                spec.command,
                spec.options,
                spec.dialect.journal_key()
            ),
            resume: spec.resume,
        });
        let no_resume = spec.dry_run.unwrap_or("standard input cannot be resumed");
        let run = Arc::new(RowRun::start(spec.command, journal, no_resume)?);
        let progress = Progress::new(None, g.quiet, spec.unit);
        progress.watch(&client);
        if let Some(note) = &run.note {
            progress.note(note);
        }
        Ok(FileRun {
            run,
            client,
            cols,
            progress,
            file,
            rdr,
            results,
        })
    }

    /// The run's [`Finder`] (see [`Finder::plan`]); stopped by a signal while planning.
    pub async fn finder(&self, g: &GlobalArgs, rows_need_lookups: bool) -> anyhow::Result<Finder> {
        self.run
            .stop
            .guard(async {
                Finder::plan(
                    &self.client,
                    self.file.records,
                    g.concurrency as usize,
                    &self.progress,
                    rows_need_lookups,
                )
                .await
                .map_err(fatal_if_auth)
            })
            .await
    }

    /// Every row through `process` (see [`run_rows`]), `concurrency` at a time, then the
    /// summary (with the file's description first and `notices` after it) and the end of
    /// the run.
    pub async fn rows<P, Fut>(
        self,
        g: &GlobalArgs,
        concurrency: usize,
        process: P,
        notices: impl FnOnce(&Tally) -> Vec<String>,
        dry_run: bool,
    ) -> anyhow::Result<Exit>
    where
        P: Fn(Row) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<(Row, RowOutcome)>>,
    {
        let FileRun {
            run,
            client,
            cols,
            progress,
            file,
            rdr,
            results,
        } = self;
        let rx = pipeline::read_rows(rdr, &file.path, |_, _| true);
        let bom = g.bom || file.had_bom;
        let mut writer = ResultsWriter::create(&results, &file.headers, bom)?;
        let (ended, tally) =
            run_rows(&run, rx, cols, concurrency, process, &mut writer, &progress).await?;
        progress.finish();
        let mut summary = Summary::new(
            run.command,
            tally.total(),
            Some(&tally),
            run.started,
            client.stats(),
        );
        summary.notices.push(file.describe());
        summary.notices.extend(notices(&tally));
        summary.notices.extend(progress.quota_notice());
        summary.dry_run = dry_run;
        summary.results_file = Some(results.display().to_string());
        run.end(ended, writer, summary, g.quiet, g.summary_json.as_deref())
    }
}

/// What [`locate`] made of a row's target.
pub enum Located {
    Found(Known),
    /// No such customer (in the store, or any more: a row of this run may have deleted it).
    Missing,
    /// The row's outcome without a customer: the lookup failed, or the file's id and email
    /// name two customers.
    Answered(RowOutcome),
}

/// Find the customer a row names, checking that its id and email (when both are filled)
/// name the same one. Errors are fatal for the run (see `RowRun::row_failure`).
pub async fn locate(run: &RowRun, finder: &Finder, target: &Target) -> anyhow::Result<Located> {
    let known = match finder.find(target.id, target.email.as_deref()).await {
        Ok(Some(k)) => k,
        Ok(None) => return Ok(Located::Missing),
        Err(e) => {
            let out = run.row_failure(e, target.id, "looking the customer up")?;
            return Ok(Located::Answered(out));
        }
    };
    Ok(match target.mismatch(&known) {
        Some(m) => Located::Answered(RowOutcome::failed(Some(known.id), m)),
        None => Located::Found(known),
    })
}

/// The customers rows of this run have claimed (deleted, or would delete), by id and email:
/// two rows naming one customer differently (an id here, an email there) run concurrently,
/// and only the first to claim it acts on it.
#[derive(Default)]
pub struct Claims(std::sync::Mutex<(HashSet<u64>, HashSet<String>)>);

impl Claims {
    /// Claim customer `id` (with its email); false when an earlier row already did.
    pub fn claim(&self, id: u64, email: Option<&str>) -> bool {
        let mut c = self.0.lock().unwrap();
        if !c.0.insert(id) {
            return false;
        }
        if let Some(e) = email {
            c.1.insert(e.to_lowercase());
        }
        true
    }

    /// The write did not happen: a later row for this customer may try again.
    pub fn release(&self, id: u64) {
        self.0.lock().unwrap().0.remove(&id);
    }

    /// Whether the target is a claimed customer: `Some(id)` when named by a claimed id,
    /// `Some(None)` when named only by a claimed email.
    pub fn claimed(&self, target: &Target) -> Option<Option<u64>> {
        let c = self.0.lock().unwrap();
        let id_hit = target.id.filter(|id| c.0.contains(id));
        let email_hit = target
            .email
            .as_ref()
            .is_some_and(|e| c.1.contains(&e.to_lowercase()));
        (id_hit.is_some() || (target.id.is_none() && email_hit)).then_some(id_hit)
    }
}

/// The customers matching `query`, as pipeline rows `[id, email, group]` in ascending id,
/// read by the pager while the writes run (set-group's `--filter`).
pub fn filter_rows(
    client: Client,
    query: Query,
    count: u64,
    concurrency: usize,
) -> mpsc::Receiver<anyhow::Result<Row>> {
    let (tx, rx) = mpsc::channel(512);
    tokio::spawn(async move {
        let mut stream = pages::customer_pages(client, query, count, concurrency);
        let mut seq = 0u64;
        while let Some(page) = stream.next().await {
            let customers = match page {
                Ok(customers) => customers,
                Err(e) => {
                    let _ = tx.send(Err(fatal_if_auth(e))).await;
                    return;
                }
            };
            for c in customers {
                let record = csv::StringRecord::from(vec![
                    c.id.to_string(),
                    c.email,
                    c.customer_group_id.to_string(),
                ]);
                let row = Row {
                    no: seq + 1,
                    seq,
                    record,
                };
                seq += 1;
                if tx.send(Ok(row)).await.is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The customer of a [`filter_rows`] row.
pub fn known_of_filter_row(row: &Row) -> anyhow::Result<Known> {
    Ok(Known {
        id: row.record[0].parse()?,
        email: row.record[1].to_string(),
        group: row.record[2].parse()?,
    })
}

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

/// The row stage the three target commands share: each row of `rx` goes to `process`
/// (rows naming one customer, by id or by email, one after another), except an empty or
/// too-wide row, which [`precheck`] answers without a request; every outcome goes to the
/// results file in input order.
pub async fn run_rows<P, Fut>(
    run: &RowRun,
    rx: tokio::sync::mpsc::Receiver<anyhow::Result<Row>>,
    cols: Columns,
    concurrency: usize,
    process: P,
    writer: &mut ResultsWriter,
    progress: &Progress,
) -> anyhow::Result<(Ended, Tally)>
where
    P: Fn(Row) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(Row, RowOutcome)>>,
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
