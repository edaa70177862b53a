//! reader thread → bounded channel → one concurrent stage → ordered sink.
//!
//! The CSV is parsed on a blocking thread, one record at a time, into a bounded channel, so
//! memory does not grow with the file. `buffer_unordered(n)` is the only place rows overlap.
//! Rows about the same customer (twice in a file, by id or by email) are chained: a row waits
//! for the earlier rows about its customer to finish, so they are applied in file order and
//! never at once (see [`Chains`]).
//! Outcomes come back out of order and pass through a small reorder buffer to the sink, which
//! therefore sees rows in input order.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::future::{FutureExt, Shared};
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::csvio::{describe_csv_error, CsvReader};
use crate::interrupt::{Abandoned, Interrupt, Signal};

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

/// Which rows are running, by the keys that name their customer, so that rows about one
/// customer run one after another in file order.
///
/// A row is registered, as it enters, under every key it names itself (`#id`, the email): a
/// row waits for the earlier rows that share one of those keys. That is not enough when one
/// row names a customer by id and another by its email: only the store (or the run's index)
/// knows they are the same. So once a row has found its customer it calls
/// [`Turn::wait_for`] with all of the customer's keys, and waits for every earlier row still
/// running under any of them. The earlier row's own keys are always among them (a row naming
/// customer C by id or by email is registered under `#C` or C's email), so no earlier row about
/// the same customer is missed, even one that is still looking its customer up. Every wait is
/// on an earlier row, and the earliest unfinished row waits on nothing, so this cannot deadlock.
#[derive(Default)]
pub struct Chains {
    /// Per key, the rows registered under it and not finished, in ascending `seq`.
    active: Mutex<HashMap<String, Vec<(u64, Tail)>>>,
}

impl Chains {
    /// Register `seq` (arriving in order) under `keys`; returns the tails it must wait for.
    fn enter(&self, seq: u64, keys: &[String], done: &Tail) -> Vec<Tail> {
        let mut active = self.active.lock().unwrap();
        let mut prev = Vec::new();
        for k in keys {
            let list = active.entry(k.clone()).or_default();
            if let Some((_, t)) = list.last() {
                prev.push(t.clone());
            }
            list.push((seq, done.clone()));
        }
        prev
    }

    fn leave(&self, seq: u64, keys: &[String]) {
        let mut active = self.active.lock().unwrap();
        for k in keys {
            if let Some(list) = active.get_mut(k) {
                list.retain(|(s, _)| *s != seq);
                if list.is_empty() {
                    active.remove(k);
                }
            }
        }
    }

    /// The tails of the rows before `seq` still running under any of `keys`.
    fn earlier(&self, seq: u64, keys: &[String]) -> Vec<Tail> {
        let active = self.active.lock().unwrap();
        keys.iter()
            .filter_map(|k| active.get(k))
            .flat_map(|list| list.iter().filter(|(s, _)| *s < seq))
            .map(|(_, t)| t.clone())
            .collect()
    }
}

/// A row's place among the rows about the same customers (see [`Chains`]).
#[derive(Clone)]
pub struct Turn {
    seq: u64,
    chains: Arc<Chains>,
}

impl Turn {
    /// Wait until no earlier row is running under any of `keys` (the keys of the customer
    /// this row turned out to be about). True when it had to wait: what the row read of the
    /// customer may be older than what those rows did to it.
    pub async fn wait_for(&self, keys: &[String]) -> bool {
        let tails = self.chains.earlier(self.seq, keys);
        let waited = !tails.is_empty();
        for t in tails {
            let _ = t.await;
        }
        waited
    }
}

/// The chaining key for a customer id (the same spelling everywhere).
pub fn id_key(id: u64) -> String {
    format!("#{id}")
}

/// The chaining key for an email: emails match case-insensitively.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// How a run of rows ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every row was processed.
    Complete,
    /// A signal stopped it: the rows that had started were finished (unless a second signal
    /// abandoned them), no other row was started.
    Interrupted(Signal),
}

/// How many rows a run holds at once. `rows_in_flight` rows are worked on at the same time
/// (a batching backend needs at least its batch size of rows waiting per request slot, so
/// this is not the HTTP concurrency); at most [`Window::rows`] rows are between being read
/// and reaching the sink, which bounds the reorder buffer behind a slow row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub rows_in_flight: usize,
}

/// Rows that may wait in the reorder buffer, per row in flight: enough that rows of ordinary
/// latency never wait for the window, few enough that a row stuck in its retries (backoff up
/// to 10 s) holds back a bounded number of finished rows, not everything read meanwhile.
const REORDER_SLACK: usize = 4;

/// The window never holds fewer rows than this. Most rows of a re-import need no request
/// (unchanged customers finish at once), so the rows that do are spread thin: with 10% of rows
/// changed, a window of 4 x 8 rows behind one slow row holds ~3 rows that can send, and 5 of
/// the 8 request slots sit idle (bench `upsert` fell from 91% to 46% of its bound). A thousand
/// rows still hold ~100 writes at 10% changed, and ~10 at 1%; finished rows are a CSV record
/// and an outcome each, so this is ~1 MB behind a stuck row, not the whole file.
const MIN_WINDOW_ROWS: usize = 1_000;

impl Window {
    pub fn new(rows_in_flight: usize) -> Window {
        Window {
            rows_in_flight: rows_in_flight.max(1),
        }
    }

    /// Rows between entering the run and reaching the sink, at most.
    pub fn rows(self) -> usize {
        (self.rows_in_flight * REORDER_SLACK).max(MIN_WINDOW_ROWS)
    }
}

/// Run every row through `prepare` (once, in input order: what it makes of the row is the
/// row's item), then `work`, with at most `window.rows_in_flight` rows worked on at once;
/// `keys_of` names the customer an item is about (rows sharing a key run one after another,
/// in file order; see [`Chains`]); `sink` receives every row and its outcome in input order.
/// A row takes one of [`Window::rows`] places as it enters and gives it back when the sink
/// has it, so a slow row holds back at most that many rows (back-pressure on the reader)
/// instead of an unbounded reorder buffer. `work` returning `Err` is fatal: the run stops
/// and the error is returned, except [`Abandoned`] (a row a signal stopped before it sent
/// anything), which is dropped. After a signal no row is started; the rows in flight finish
/// and reach the sink, unless a second signal abandons them.
pub async fn run<I, T, P, K, W, Fut, S>(
    mut rows: mpsc::Receiver<anyhow::Result<Row>>,
    window: Window,
    stop: &Interrupt,
    mut prepare: P,
    keys_of: K,
    work: W,
    sink: S,
) -> anyhow::Result<Ended>
where
    P: FnMut(&Row) -> I,
    K: Fn(&I) -> Vec<String>,
    W: Fn(Row, I, Turn) -> Fut,
    Fut: Future<Output = anyhow::Result<(Row, T)>>,
    S: FnMut(Row, T) -> anyhow::Result<()>,
{
    let chains = Arc::new(Chains::default());
    let places = Arc::new(Semaphore::new(window.rows()));
    let (fatal_tx, mut fatal_rx) = mpsc::channel::<anyhow::Error>(1);
    let source = futures::stream::poll_fn(move |cx| rows.poll_recv(cx)).take_until(stop.first());
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
        .then(|row| {
            let places = Arc::clone(&places);
            async move {
                let place = places.acquire_owned().await.expect("never closed");
                (row, place)
            }
        })
        .map(|(row, place)| {
            let item = prepare(&row);
            let keys = keys_of(&item);
            let (done_tx, done_rx) = oneshot::channel::<()>();
            let done = done_rx.shared();
            let prev = chains.enter(row.seq, &keys, &done);
            let turn = Turn {
                seq: row.seq,
                chains: Arc::clone(&chains),
            };
            async move {
                for p in prev {
                    let _ = p.await;
                }
                let seq = row.seq;
                let chains = Arc::clone(&turn.chains);
                let out = work(row, item, turn).await;
                chains.leave(seq, &keys);
                let _ = done_tx.send(());
                out.map(|done| (done, place))
            }
        })
        .buffer_unordered(window.rows_in_flight);
    in_order(stream, stop, sink).await?;
    if let Ok(e) = fatal_rx.try_recv() {
        return Err(e);
    }
    Ok(match stop.signal() {
        Some(sig) => Ended::Interrupted(sig),
        None => Ended::Complete,
    })
}

/// Hand the finished rows to `sink` in input order, each giving its window place back once
/// the sink has it. Ends when the rows run out or a second signal abandons the rows in flight.
async fn in_order<T, S>(
    stream: impl futures::Stream<Item = anyhow::Result<((Row, T), OwnedSemaphorePermit)>>,
    stop: &Interrupt,
    mut sink: S,
) -> anyhow::Result<()>
where
    S: FnMut(Row, T) -> anyhow::Result<()>,
{
    futures::pin_mut!(stream);
    let second = stop.second();
    futures::pin_mut!(second);
    let mut pending: BTreeMap<u64, ((Row, T), OwnedSemaphorePermit)> = BTreeMap::new();
    let mut next = 0u64;
    loop {
        let result = tokio::select! {
            biased;
            // The user insists: the rows in flight are dropped; their journal marks stay.
            _ = &mut second => break,
            r = stream.next() => match r {
                Some(r) => r,
                None => break,
            },
        };
        let (done, place) = match result {
            Ok(done) => done,
            // Stopped by a signal before it sent anything: not an outcome, and the run is
            // ending anyway (the results file is not written after an interrupt).
            Err(e) if e.is::<Abandoned>() => continue,
            Err(e) => return Err(e),
        };
        pending.insert(done.0.seq, (done, place));
        // The place is given back once the sink has the row.
        while let Some(((row, out), _place)) = pending.remove(&next) {
            sink(row, out)?;
            next += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Rows with these keys in their first cell, numbered from 1; the feed stops when the
    /// pipeline stops reading.
    fn rows_of<K: AsRef<str> + Send + 'static>(
        keys: impl IntoIterator<Item = K, IntoIter: Send + 'static>,
    ) -> mpsc::Receiver<anyhow::Result<Row>> {
        let (tx, rx) = mpsc::channel(16);
        let keys = keys.into_iter();
        tokio::spawn(async move {
            for (i, k) in keys.enumerate() {
                let mut rec = csv::StringRecord::new();
                rec.push_field(k.as_ref());
                let i = i as u64;
                let row = Row {
                    no: i + 1,
                    seq: i,
                    record: rec,
                };
                if tx.send(Ok(row)).await.is_err() {
                    return;
                }
            }
        });
        rx
    }

    #[tokio::test]
    async fn ordered_output_and_keyed_serialisation() {
        let keys: Vec<&'static str> = (0..40).map(|i| ["k0", "k1", "k2"][i % 3]).collect();
        let active: Arc<Mutex<std::collections::HashSet<String>>> = Default::default();
        let mut seen = Vec::new();
        let ended = run(
            rows_of(keys),
            Window::new(8),
            &Interrupt::never(),
            |row| vec![row.record[0].to_string()],
            |keys| keys.clone(),
            |row, _keys, _turn| {
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
        assert_eq!(ended, Ended::Complete);
        assert_eq!(seen, (1..=40).collect::<Vec<_>>());
    }

    /// Row 1 names the customer by id ("#7"), row 2 by email ("a@x"): they share no key until
    /// row 2 finds that its email is customer 7's; from then on it waits for row 1.
    #[tokio::test]
    async fn a_row_waits_for_earlier_rows_about_the_customer_it_found() {
        for _ in 0..20 {
            let order: Arc<Mutex<Vec<u64>>> = Default::default();
            run(
                rows_of(vec!["#7", "a@x", "#8", "b@x"]),
                Window::new(4),
                &Interrupt::never(),
                |row| vec![row.record[0].to_string()],
                |keys| keys.clone(),
                |row, _keys, turn| {
                    let order = Arc::clone(&order);
                    async move {
                        let resolved = match &row.record[0] {
                            "a@x" | "#7" => vec!["#7".to_string(), "a@x".to_string()],
                            _ => vec!["#8".to_string(), "b@x".to_string()],
                        };
                        if row.no % 2 == 1 {
                            // The id row is slow: without the wait, the email row would win.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        let waited = turn.wait_for(&resolved).await;
                        // Rows 2 and 4 find an earlier row still sleeping under their customer's keys.
                        assert_eq!(waited, row.no % 2 == 0);
                        order.lock().unwrap().push(row.no);
                        Ok((row, ()))
                    }
                },
                |_, ()| Ok(()),
            )
            .await
            .unwrap();
            let order = order.lock().unwrap().clone();
            let pos = |n| order.iter().position(|&x| x == n).unwrap();
            assert!(pos(1) < pos(2) && pos(3) < pos(4), "{order:?}");
        }
    }

    /// A re-import: one row in ten needs a request, the others finish at once. With 8 rows in
    /// flight, the 8 request slots must all be busy at once: each request row waits at a
    /// barrier until 8 of them are under way together. A window of 4 x 8 rows behind the
    /// oldest unfinished row holds only 4 such rows, so there the barrier never fills and the
    /// waits time out (bench `upsert` ran at 46% of its bound so).
    #[tokio::test]
    async fn sparse_request_rows_fill_every_slot() {
        let slots = 8usize;
        let n = (slots * 10 * 25) as u64;
        let barrier = Arc::new(tokio::sync::Barrier::new(slots));
        let starved = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let rx = rows_of((0..n).map(|i| format!("k{i}")));
        let mut seen = 0u64;
        run(
            rx,
            Window::new(slots),
            &Interrupt::never(),
            |_| (),
            |_| Vec::new(),
            |row, (), _turn| {
                let (barrier, starved) = (Arc::clone(&barrier), Arc::clone(&starved));
                async move {
                    if row.seq % 10 == 0 {
                        let all_busy = barrier.wait();
                        if tokio::time::timeout(Duration::from_secs(2), all_busy)
                            .await
                            .is_err()
                        {
                            starved.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                    Ok((row, ()))
                }
            },
            |_, ()| {
                seen += 1;
                Ok(())
            },
        )
        .await
        .unwrap();
        assert_eq!(seen, n);
        let starved = starved.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            starved, 0,
            "{starved} request rows waited 2 s for {slots} requests to be under way at once"
        );
    }

    /// Row 0 is slow; every other row is instant. The rows read, prepared and not yet written
    /// never exceed the window (the reorder buffer is bounded), all rows still arrive in order,
    /// and the prepared item reaches the row's work (prepare ran once per row).
    #[tokio::test]
    async fn the_reorder_buffer_stays_bounded_behind_a_slow_row() {
        let window = Window::new(4);
        let n = window.rows() + 200;
        let prepared = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let rx = rows_of((0..n).map(|i| format!("k{i}")));
        let mut seen = Vec::new();
        let ended = run(
            rx,
            window,
            &Interrupt::never(),
            |row| {
                let ahead = prepared.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
                    - written.load(std::sync::atomic::Ordering::SeqCst);
                peak.fetch_max(ahead, std::sync::atomic::Ordering::SeqCst);
                row.seq * 10
            },
            |_| Vec::new(),
            |row, item, _turn| async move {
                if row.seq == 0 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                assert_eq!(item, row.seq * 10, "the item prepared for this row");
                Ok((row, item))
            },
            |row, item| {
                written.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                seen.push((row.seq, item));
                Ok(())
            },
        )
        .await
        .unwrap();
        assert_eq!(ended, Ended::Complete);
        assert_eq!(prepared.load(std::sync::atomic::Ordering::SeqCst), n);
        let expected: Vec<(u64, u64)> = (0..n as u64).map(|s| (s, s * 10)).collect();
        assert_eq!(seen, expected);
        let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            peak <= window.rows(),
            "{peak} rows were held at once behind the slow row; the window is {}",
            window.rows()
        );
        // The slow row did hold rows back: the window filled up (not a test that cannot fail).
        assert_eq!(peak, window.rows());
    }
}
