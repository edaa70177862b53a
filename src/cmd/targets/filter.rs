//! set-group's `--filter` source: every customer matching the filters, read by the pager
//! while the writes run, as pipeline rows; under `--api v3` from `/v3/customers` (the filters
//! under V3's names, checked before any request), as the export reads them.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::mpsc;

use super::Known;
use crate::api::store::{Reader, Selection};
use crate::api::Client;
use crate::cmd::{fatal_if_auth, parse_filters};
use crate::exit::Exit;
use crate::pipeline::{Row, Turn, Window};
use crate::results::RowOutcome;
use crate::rows::{check_resume, Counts, Files, Job, RowCommand, RowRun};
use crate::settings::Settings;

/// One run over the customers matching `--filter` (no journal: running the same command
/// again continues the job, since the customers already done no longer match or are
/// unchanged).
pub struct FilterRun {
    pub run: Arc<RowRun>,
    pub client: Client,
    job: Job,
    /// The backend the customers are read from, with the filters in its terms.
    reader: Reader,
}

impl FilterRun {
    /// Check the filters and the results path (before any request), build the client.
    pub fn open(
        g: &Settings,
        command: &'static str,
        filters: &[String],
        results: Option<&Path>,
        resume: bool,
        dry_run: bool,
    ) -> anyhow::Result<FilterRun> {
        check_resume(resume, None, dry_run)?;
        // A filter V3 cannot express is a usage error before any request, as in export.
        let selection = Selection::for_api(g.api, &parse_filters(filters, None)?)?;
        let no_resume = match dry_run {
            true => "a dry run sends no write",
            false => "with --filter there is no journal: the customers already moved no longer match, or are unchanged and sent nothing",
        };
        let job = Job::open(
            g,
            Files {
                command,
                input: None,
                results,
                also_reads: Vec::new(),
                journal: Err(no_resume),
                resume,
                unit: "customers",
                dry_run,
            },
        )?;
        let reader = Reader::new(job.client.clone(), selection);
        Ok(FilterRun {
            run: Arc::clone(&job.run),
            client: job.client.clone(),
            job,
            reader,
        })
    }

    /// Count the matching customers, then each one through `work` (its record number and
    /// what the page said of it) as the pager reads them; the summary gets `notices` and the
    /// end of the run.
    pub async fn rows<W, Fut>(
        self,
        g: &Settings,
        work: W,
        notices: Vec<String>,
    ) -> anyhow::Result<Exit>
    where
        W: Fn(u64, Known) -> Fut,
        Fut: Future<Output = anyhow::Result<RowOutcome>>,
    {
        let FilterRun {
            run, job, reader, ..
        } = self;
        let start = run
            .stop
            .guard(async { reader.start(false).await.map_err(fatal_if_auth) })
            .await?;
        job.progress.set_total(start.count);
        let rx = filter_rows(&reader, start, g.concurrency as usize);
        let headers = csv::StringRecord::from(vec!["id", "email"]);
        let cmd = Matching { work, notices };
        job.rows(g, rx, Window::new(g.rows_in_flight), &headers, g.bom, &cmd)
            .await
    }
}

/// The row command of a `--filter` run: each matching customer through `work`.
struct Matching<W> {
    work: W,
    notices: Vec<String>,
}

impl<W, Fut> RowCommand for Matching<W>
where
    W: Fn(u64, Known) -> Fut,
    Fut: Future<Output = anyhow::Result<RowOutcome>>,
{
    type Note = ();
    type Item = anyhow::Result<Known>;

    fn prepare(&self, row: &Row) -> ((), anyhow::Result<Known>) {
        ((), known_of_filter_row(row))
    }

    fn keys(&self, known: &anyhow::Result<Known>) -> Vec<String> {
        let id = known.as_ref().map_or(0, |k| k.id);
        vec![crate::pipeline::id_key(id)]
    }

    async fn execute(
        &self,
        row: &Row,
        known: anyhow::Result<Known>,
        _: &Turn,
    ) -> anyhow::Result<RowOutcome> {
        (self.work)(row.no, known?).await
    }

    fn notices(&self, _: &Counts) -> Vec<String> {
        self.notices.clone()
    }
}

/// The customers `reader` selects, as pipeline rows `[id, email, group]` in ascending id,
/// read by the pager while the writes run (set-group's `--filter`), from the first page
/// `start` holds on.
fn filter_rows(
    reader: &Reader,
    start: crate::api::store::Start,
    concurrency: usize,
) -> mpsc::Receiver<anyhow::Result<Row>> {
    let (tx, rx) = mpsc::channel(512);
    let mut stream = reader.pages(start, concurrency);
    tokio::spawn(async move {
        let mut seq = 0u64;
        while let Some(page) = stream.next().await {
            let customers = match page {
                Ok(page) => page.customers,
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
fn known_of_filter_row(row: &Row) -> anyhow::Result<Known> {
    Ok(Known {
        id: row.record[0].parse()?,
        email: row.record[1].to_string(),
        group: row.record[2].parse()?,
    })
}
