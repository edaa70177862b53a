//! reader thread → bounded channel → one concurrent stage → ordered sink.
//!
//! The CSV is parsed on a blocking thread, one record at a time, into a bounded channel, so
//! memory does not grow with the file. `buffer_unordered(n)` is the only place rows overlap.
//! Rows that share a key (the same customer twice in a file) are chained: a row waits for the
//! previous row with its key to finish, so they are applied in file order and never at once.
//! Outcomes come back out of order and pass through a small reorder buffer to the sink, which
//! therefore sees rows in input order.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::future::{FutureExt, Shared};
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::csvio::{describe_csv_error, CsvReader};
use crate::report::{Progress, Tally};
use crate::results::{ResultsWriter, RowOutcome};

/// One input record, with its 1-based record number (header excluded) and its position in
/// the stream of rows this run processes (`seq`, 0-based, consecutive).
#[derive(Debug, Clone)]
pub struct Row {
    pub no: u64,
    pub seq: u64,
    pub record: csv::StringRecord,
}

/// Parse `rdr` on a blocking thread. `keep(no, record)` filters rows (e.g. `--only-failed`).
/// A CSV error ends the stream with one `Err` (fatal, with the line number).
pub fn read_rows(
    mut rdr: CsvReader,
    path: &Path,
    keep: impl Fn(u64, &csv::StringRecord) -> bool + Send + 'static,
) -> mpsc::Receiver<anyhow::Result<Row>> {
    let (tx, rx) = mpsc::channel(512);
    let path: PathBuf = path.to_path_buf();
    std::thread::spawn(move || {
        let mut record = csv::StringRecord::new();
        let mut no = 0u64;
        let mut seq = 0u64;
        loop {
            match rdr.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    no += 1;
                    if !keep(no, &record) {
                        continue;
                    }
                    let row = Row {
                        no,
                        seq,
                        record: record.clone(),
                    };
                    seq += 1;
                    if tx.blocking_send(Ok(row)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(describe_csv_error(&e, &path)));
                    return;
                }
            }
        }
    });
    rx
}

type Tail = Shared<oneshot::Receiver<()>>;

/// Run `work` over every row with at most `concurrency` rows in flight; `key_of` names the
/// customer a row is about (rows with the same key run one after another, in file order);
/// `sink` receives every row and its outcome in input order. `work` returning `Err` is fatal:
/// the run stops and the error is returned.
pub async fn run<T, W, Fut, S>(
    mut rows: mpsc::Receiver<anyhow::Result<Row>>,
    concurrency: usize,
    key_of: impl Fn(&Row) -> Option<String>,
    work: W,
    mut sink: S,
) -> anyhow::Result<()>
where
    W: Fn(Row) -> Fut,
    Fut: Future<Output = anyhow::Result<(Row, T)>>,
    S: FnMut(Row, T) -> anyhow::Result<()>,
{
    let tails: Arc<Mutex<HashMap<String, (u64, Tail)>>> = Arc::new(Mutex::new(HashMap::new()));
    let (fatal_tx, mut fatal_rx) = mpsc::channel::<anyhow::Error>(1);
    let source = futures::stream::poll_fn(move |cx| rows.poll_recv(cx));
    let work = &work;
    let stream = source
        .filter_map(|item| {
            let fatal_tx = fatal_tx.clone();
            async move {
                match item {
                    Ok(row) => Some(row),
                    Err(e) => {
                        let _ = fatal_tx.try_send(e);
                        None
                    }
                }
            }
        })
        .map(|row| {
            let key = key_of(&row);
            let (done_tx, done_rx) = oneshot::channel::<()>();
            let prev = key.as_ref().and_then(|k| {
                tails
                    .lock()
                    .unwrap()
                    .insert(k.clone(), (row.seq, done_rx.shared()))
                    .map(|(_, t)| t)
            });
            let tails = Arc::clone(&tails);
            async move {
                if let Some(prev) = prev {
                    let _ = prev.await;
                }
                let seq = row.seq;
                let out = work(row).await;
                let _ = done_tx.send(());
                if let Some(k) = key {
                    let mut t = tails.lock().unwrap();
                    if t.get(&k).is_some_and(|(s, _)| *s == seq) {
                        t.remove(&k);
                    }
                }
                out
            }
        })
        .buffer_unordered(concurrency.max(1));
    futures::pin_mut!(stream);
    let mut pending: BTreeMap<u64, (Row, T)> = BTreeMap::new();
    let mut next = 0u64;
    while let Some(result) = stream.next().await {
        let (row, out) = result?;
        pending.insert(row.seq, (row, out));
        while let Some((row, out)) = pending.remove(&next) {
            sink(row, out)?;
            next += 1;
        }
    }
    if let Ok(e) = fatal_rx.try_recv() {
        return Err(e);
    }
    debug_assert!(pending.is_empty());
    Ok(())
}

/// [`run`] with the usual sink: every outcome goes to the results file in input order, the
/// progress bar advances, and the results are tallied for the summary and the exit code.
/// The results file is finished (renamed into place) only when every row is done.
pub async fn run_to_results<W, Fut>(
    rows: mpsc::Receiver<anyhow::Result<Row>>,
    concurrency: usize,
    key_of: impl Fn(&Row) -> Option<String>,
    work: W,
    mut writer: ResultsWriter,
    progress: &Progress,
) -> anyhow::Result<Tally>
where
    W: Fn(Row) -> Fut,
    Fut: Future<Output = anyhow::Result<(Row, RowOutcome)>>,
{
    let mut tally = Tally::default();
    run(rows, concurrency, key_of, work, |row, out: RowOutcome| {
        tally.add(out.result);
        writer.write(row.no, &out, &row.record)?;
        progress.record(out.result);
        Ok(())
    })
    .await?;
    writer.finish()?;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn ordered_output_and_keyed_serialisation() {
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            for i in 0..40u64 {
                let mut rec = csv::StringRecord::new();
                rec.push_field(&format!("k{}", i % 3));
                tx.send(Ok(Row {
                    no: i + 1,
                    seq: i,
                    record: rec,
                }))
                .await
                .unwrap();
            }
        });
        let active: Arc<Mutex<std::collections::HashSet<String>>> = Default::default();
        let mut seen = Vec::new();
        run(
            rx,
            8,
            |row| Some(row.record[0].to_string()),
            |row| {
                let active = Arc::clone(&active);
                async move {
                    let k = row.record[0].to_string();
                    assert!(
                        active.lock().unwrap().insert(k.clone()),
                        "two rows with one key at once"
                    );
                    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..5))).await;
                    active.lock().unwrap().remove(&k);
                    Ok((row, ()))
                }
            },
            |row, ()| {
                seen.push(row.no);
                Ok(())
            },
        )
        .await
        .unwrap();
        assert_eq!(seen, (1..=40).collect::<Vec<_>>());
    }
}
