//! Import's planning, between the row engine's opening ([`Job::open`]) and its rows: the
//! store's groups (when rows name groups), how rows will find their customers (one lookup
//! per row, or the store read once), and the writer with its journal hook. It cannot be a
//! step of the row engine because it runs once, before any row, and what it learns (the
//! index, the groups) is what every row is planned against; the target commands have the
//! same phase (their `Finder`), in the same place.

use std::sync::Arc;

use super::execute::{Importer, StoreCalls};
use super::plan::RowSemantics;
use super::prepare::{self, Input};
use super::{Args, EarlierResults};
use crate::api::store::{Reader, Writer};
use crate::api::v3::batch::{BeforeSend, Op};
use crate::api::Client;
use crate::cmd::{fatal_if_auth, GroupBook};
use crate::input::InputFile;
use crate::lookup::{self, CustomerIndex};
use crate::report::Progress;
use crate::rows::{Job, Mark, RowRun};
use crate::settings::{ApiVersion, Settings};

/// Import's planning, before the first row: the store's groups (when rows name groups), the
/// lookup plan (see [`plan_lookups`]), the writer; the importer that executes the rows.
pub(super) async fn importer(
    g: &Settings,
    job: &mut Job,
    args: &Args,
    file: &InputFile,
    earlier: &EarlierResults,
    input: &Input,
    sem: RowSemantics,
) -> anyhow::Result<Importer> {
    let (run, client, progress) = (&job.run, &job.client, &job.progress);
    let concurrency = g.concurrency as usize;
    let layout = &input.layout;
    let groups = if layout.has_groups() {
        run.stop.guard(GroupBook::load(client)).await?
    } else {
        GroupBook::default()
    };
    let no_groups = layout.has_groups() && !groups.available;
    // Planning counts the rows that will be sent; the progress bar counts every record.
    let file_rows = match (args.only_failed, earlier.result) {
        (true, Some(col)) => Some(prepare::count_failed_rows(file, col)?),
        _ => Some(file.records),
    };
    progress.set_total(file.records);
    let index = run
        .stop
        .guard(plan_lookups(g, client, file_rows, concurrency, progress))
        .await?;
    progress.planned();
    let writer = Writer::for_api(
        g.api,
        client.clone(),
        concurrency,
        Some(batch_hook(Arc::clone(run), client.clone())),
    );
    let calls = StoreCalls::new(client.clone(), writer);
    let importer = Importer::new(Arc::clone(run), calls, layout.clone(), sem, index, groups);
    if no_groups {
        job.notices.push(
            "this store's plan has no customer groups: rows asking for a group are invalid".into(),
        );
    }
    Ok(importer)
}

/// The V3 batches' before-send hook: every create of a request is marked in the journal
/// just before the POST, with the store's clock then (so `--resume` after a kill -9
/// mid-batch looks each of them up by email before creating it: never twice, and takes a
/// customer found as this create only if the store did not create it before that clock),
/// and no request starts after a signal (the rows are then abandoned and done on resume).
fn batch_hook(run: Arc<RowRun>, client: Client) -> BeforeSend {
    Arc::new(move |op, keys| {
        if op != Op::Create {
            return run.before_write(0, Mark::None);
        }
        let clock = client.store_clock();
        keys.iter()
            .try_for_each(|&no| run.before_write(no, Mark::Creating(clock)))
    })
}

/// Choose how to find rows' customers with the fewest requests: nothing to find in an empty
/// store; otherwise one lookup per row, or the whole store in pages (of the backend's page
/// size) when that is cheaper (see [`lookup::should_preload`]). Under `--api v3` the store is
/// read through V3's `GET /v3/customers` (its count, its cursor pages), as the writes will
/// see it.
async fn plan_lookups(
    g: &Settings,
    client: &Client,
    file_rows: Option<u64>,
    concurrency: usize,
    progress: &Progress,
) -> anyhow::Result<CustomerIndex> {
    let reader = Reader::everyone(g.api, client.clone());
    if g.api == ApiVersion::V3 {
        return plan_lookups_v3(&reader, file_rows, concurrency, progress).await;
    }
    let store_count = reader.count().await.map_err(fatal_if_auth)?;
    let page = reader.page_size();
    Ok(if store_count == 0 {
        CustomerIndex::empty(true)
    } else if lookup::should_preload(file_rows, store_count, page) {
        progress.note(&format!(
            "reading the store's {} in pages of {page} to plan the import",
            crate::report::plural(store_count, "customer", "customers")
        ));
        progress.planning(store_count.div_ceil(page).max(1));
        CustomerIndex::preload(&reader, store_count, concurrency, || progress.page_read())
            .await
            .map_err(fatal_if_auth)?
    } else {
        CustomerIndex::empty(false)
    })
}

/// [`plan_lookups`] through Customers V3: the first page carries the count.
async fn plan_lookups_v3(
    reader: &Reader,
    file_rows: Option<u64>,
    concurrency: usize,
    progress: &Progress,
) -> anyhow::Result<CustomerIndex> {
    let start = reader.start(false).await.map_err(fatal_if_auth)?;
    let store_count = start.count;
    if store_count == 0 {
        return Ok(CustomerIndex::empty(true));
    }
    if !lookup::should_preload(file_rows, store_count, reader.page_size()) {
        return Ok(CustomerIndex::empty(false));
    }
    progress.note(&format!(
        "reading the store's {} through Customers V3 to plan the import",
        crate::report::plural(store_count, "customer", "customers")
    ));
    progress.planning(start.page_requests + 1);
    CustomerIndex::from_pages(reader.pages(start, concurrency), || progress.page_read())
        .await
        .map_err(fatal_if_auth)
}
