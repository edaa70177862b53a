//! set-group's `--filter` source: every customer matching the filters, read by the pager
//! while the writes run, as pipeline rows; under `--api v3` from `/v3/customers` (the filters
//! under V3's names, checked before any request), as the export reads them.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::mpsc;

use super::Known;
use crate::api::store::Reader;
use crate::api::v2::pages::Query;
use crate::api::{v3, Client};
use crate::cmd::{connect, fatal_if_auth, parse_filters};
use crate::exit::Exit;
use crate::pipeline::Row;
use crate::report::{Progress, Summary};
use crate::results::{default_path, ResultsWriter, RowOutcome};
use crate::rows::{check_resume, RowRun};
use crate::settings::{ApiVersion, Settings};

/// One run over the customers matching `--filter` (no journal: running the same command
/// again continues the job, since the customers already done no longer match or are
/// unchanged).
pub struct FilterRun {
    pub run: Arc<RowRun>,
    pub client: Client,
    query: Query,
    /// The backend the customers are read from.
    reader: Reader,
    results: PathBuf,
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
        let query = parse_filters(filters, None)?;
        // A filter V3 cannot express is a usage error before any request, as in export.
        let v3_filters = match g.api {
            ApiVersion::V2 => None,
            ApiVersion::V3 => Some(v3::Filters::from_query(&query)?),
        };
        let results =
            results.map_or_else(|| default_path(Path::new("-"), command), Path::to_path_buf);
        crate::results::check_path(Path::new("-"), &results)?;
        crate::outfile::RunFiles::new(g).results(&results).check()?;
        let client = connect(g)?;
        let no_resume = match dry_run {
            true => "a dry run sends no write",
            false => "with --filter, the customers already moved no longer match",
        };
        let run = Arc::new(RowRun::start(command, None, no_resume)?);
        let reader = match v3_filters {
            None => Reader::V2(client.clone()),
            Some(f) => Reader::V3(client.clone(), f),
        };
        Ok(FilterRun {
            run,
            client,
            query,
            reader,
            results,
        })
    }

    /// Count the matching customers, then each one through `work` (its record number and
    /// what the page said of it) as the pager reads them; the summary gets `notices` and the end of the run.
    pub async fn rows<W, Fut>(
        self,
        g: &Settings,
        work: W,
        notices: Vec<String>,
        dry_run: bool,
    ) -> anyhow::Result<Exit>
    where
        W: Fn(u64, Known) -> Fut,
        Fut: Future<Output = anyhow::Result<RowOutcome>>,
    {
        let FilterRun {
            run,
            client,
            query,
            reader,
            results,
        } = self;
        let progress = Progress::new(None, g.quiet, "customers");
        progress.watch(&client);
        let start = run
            .stop
            .guard(async { reader.start(&query, false).await.map_err(fatal_if_auth) })
            .await?;
        progress.set_total(start.count);
        let rx = filter_rows(&reader, query, start, g.concurrency as usize);
        let headers = csv::StringRecord::from(vec!["id", "email"]);
        let mut writer = ResultsWriter::create(&results, &headers, g.bom)?;
        let (ended, tally) = run
            .rows_to_results(
                rx,
                g.rows_in_flight,
                |row| vec![crate::pipeline::id_key(row.record[0].parse().unwrap_or(0))],
                |row, _turn| {
                    let known = known_of_filter_row(&row);
                    let out = known.map(|k| work(row.no, k));
                    async move {
                        let out = out?.await?;
                        Ok((row, out))
                    }
                },
                &mut writer,
                &progress,
            )
            .await?;
        progress.finish();
        let mut summary = Summary::new(
            run.command,
            tally.total(),
            Some(&tally),
            run.started,
            client.stats(),
        );
        summary.notices = notices;
        summary.notices.extend(progress.quota_notice());
        summary.dry_run = dry_run;
        summary.results_file = Some(results.display().to_string());
        run.end(ended, writer, summary, g.quiet, g.summary_json.as_deref())
    }
}

/// The customers matching `query`, as pipeline rows `[id, email, group]` in ascending id,
/// read by the pager while the writes run (set-group's `--filter`), from the first page
/// `start` holds on.
fn filter_rows(
    reader: &Reader,
    query: Query,
    start: crate::api::store::Start,
    concurrency: usize,
) -> mpsc::Receiver<anyhow::Result<Row>> {
    let (tx, rx) = mpsc::channel(512);
    let mut stream = reader.pages(query, start, concurrency);
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
