//! The live view of a run: the progress bar on a terminal, a progress line every interval
//! without one, and notices said once (the module docs of `report` say what they show).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::api::Client;
use crate::results::RowResult;

/// Overrides the 30 s between progress lines without a terminal (tests use a few ms).
const INTERVAL_ENV: &str = "BC_CUSTOMERS_PROGRESS_INTERVAL_MS";
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// How often the terminal bar's text is refreshed.
const BAR_REFRESH: Duration = Duration::from_millis(200);
/// A quota wait shorter than this is not worth a word (the last requests of every window).
const WAIT_WORTH_SAYING: Duration = Duration::from_millis(100);
const UNKNOWN: u64 = u64::MAX;

/// Callers never touch indicatif: without a terminal `bar` is `None` and a thread prints a
/// line every interval instead; with `--quiet` there is neither.
pub struct Progress {
    live: Arc<Live>,
    bar: Option<ProgressBar>,
    quiet: bool,
    ticker: Mutex<Option<Ticker>>,
}

struct Ticker {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// The counters the bar and the lines are drawn from (shared with the ticker thread).
struct Live {
    unit: String,
    total: AtomicU64,
    /// Rows finished, whoever finished them.
    done: AtomicU64,
    /// Rows finished by this run: the rate and the ETA come from these alone.
    fresh: AtomicU64,
    failed: AtomicU64,
    invalid: AtomicU64,
    /// True once a row's result was recorded: the line then counts failed/invalid rows.
    rows_tracked: AtomicBool,
    planning: AtomicBool,
    pages_read: AtomicU64,
    pages_total: AtomicU64,
    /// When this run's row work began (the planning phase is not part of the rate).
    since: Mutex<Instant>,
    /// The client whose rate-limit state tells whether every worker waits for the quota.
    client: Mutex<Option<Client>>,
    /// Time seen waiting for the store's quota (sampled by the ticker), for the summary.
    quota_waited_ms: AtomicU64,
}

impl Live {
    fn new(unit: &str, total: Option<u64>) -> Live {
        Live {
            unit: unit.to_string(),
            total: AtomicU64::new(total.unwrap_or(UNKNOWN)),
            done: AtomicU64::new(0),
            fresh: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            invalid: AtomicU64::new(0),
            rows_tracked: AtomicBool::new(false),
            planning: AtomicBool::new(false),
            pages_read: AtomicU64::new(0),
            pages_total: AtomicU64::new(0),
            since: Mutex::new(Instant::now()),
            client: Mutex::new(None),
            quota_waited_ms: AtomicU64::new(0),
        }
    }

    fn count(&self, r: RowResult) {
        self.rows_tracked.store(true, Ordering::Relaxed);
        self.done.fetch_add(1, Ordering::Relaxed);
        match r {
            RowResult::Failed => self.failed.fetch_add(1, Ordering::Relaxed),
            RowResult::Invalid => self.invalid.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// The time left until the store's quota lets a request through again, when every
    /// worker is held back by it.
    fn quota_wait(&self) -> Option<Duration> {
        let until = self
            .client
            .lock()
            .unwrap()
            .as_ref()?
            .gate()
            .waiting_until()?;
        let left = until.saturating_duration_since(Instant::now());
        (left >= WAIT_WORTH_SAYING).then_some(left)
    }

    /// The one line the bar shows and the log gets.
    fn status(&self) -> String {
        let wait = self.quota_wait().map(|d| {
            format!(
                "waiting for the store's rate limit (resets in {} s)",
                d.as_secs_f64().ceil() as u64
            )
        });
        let mut parts = Vec::new();
        if self.planning.load(Ordering::Relaxed) {
            let read = self.pages_read.load(Ordering::Relaxed);
            let total = self.pages_total.load(Ordering::Relaxed).max(read);
            parts.push(format!(
                "reading the store to plan: {}/{} pages",
                HumanCount(read),
                HumanCount(total)
            ));
            parts.extend(wait);
            return parts.join(", ");
        }
        let done = self.done.load(Ordering::Relaxed);
        let fresh = self.fresh.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        let unit = &self.unit;
        parts.push(match total {
            UNKNOWN => format!("{} {unit}", HumanCount(done)),
            t => format!("{}/{} {unit}", HumanCount(done), HumanCount(t)),
        });
        let elapsed = self.since.lock().unwrap().elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            fresh as f64 / elapsed
        } else {
            0.0
        };
        parts.push(format!("{} {unit}/s", format_rate(rate)));
        if self.rows_tracked.load(Ordering::Relaxed) {
            parts.push(format!("{} failed", self.failed.load(Ordering::Relaxed)));
            parts.push(format!("{} invalid", self.invalid.load(Ordering::Relaxed)));
        }
        if total != UNKNOWN {
            let left = total.saturating_sub(done);
            parts.push(if left == 0 {
                "ETA 0s".to_string()
            } else if fresh == 0 || elapsed < 0.5 {
                "ETA unknown yet".to_string()
            } else {
                format!("ETA {}", format_duration(left as f64 / rate))
            });
        }
        parts.extend(wait);
        parts.join(", ")
    }
}

fn format_rate(rate: f64) -> String {
    if rate < 10.0 {
        format!("{rate:.1}")
    } else {
        format!("{}", HumanCount(rate.round() as u64))
    }
}

/// `4m 26s`, `35s`, `2h 05m`: what a person reads at a glance.
fn format_duration(secs: f64) -> String {
    let s = secs.round().max(0.0) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn interval() -> Duration {
    std::env::var(INTERVAL_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_INTERVAL)
}

fn bar_style(with_bar: bool) -> ProgressStyle {
    let template = if with_bar {
        "{spinner} [{elapsed_precise}] {wide_bar} {wide_msg}"
    } else {
        "{spinner} [{elapsed_precise}] {wide_msg}"
    };
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Progress {
    pub fn new(total: Option<u64>, quiet: bool, unit: &str) -> Progress {
        let live = Arc::new(Live::new(unit, total));
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr())
                .with_style(bar_style(total.is_some()));
            bar.enable_steady_tick(BAR_REFRESH);
            bar
        });
        let ticker = (!quiet).then(|| Ticker::start(Arc::clone(&live), bar.clone()));
        Progress {
            live,
            bar,
            quiet,
            ticker: Mutex::new(ticker),
        }
    }

    /// Show this client's quota waits (every request of the run goes through it).
    pub fn watch(&self, client: &Client) {
        *self.live.client.lock().unwrap() = Some(client.clone());
    }

    /// `n` units done by this run (pages of an export, rows without a result).
    pub fn inc(&self, n: u64) {
        self.live.done.fetch_add(n, Ordering::Relaxed);
        self.live.fresh.fetch_add(n, Ordering::Relaxed);
    }

    /// A row this run finished, with its result.
    pub fn record(&self, r: RowResult) {
        self.live.count(r);
        self.live.fresh.fetch_add(1, Ordering::Relaxed);
    }

    /// A row finished before this run (by an interrupted run, or carried from an earlier
    /// results file): done, but not this run's work, so it is not in the rate.
    pub fn record_earlier(&self, r: RowResult) {
        self.live.count(r);
    }

    pub fn set_total(&self, n: u64) {
        self.live.total.store(n, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.set_length(n);
            b.set_style(bar_style(true));
        }
    }

    /// The planning phase begins: about `pages` pages of the store are read first.
    pub fn planning(&self, pages: u64) {
        self.live.pages_total.store(pages, Ordering::Relaxed);
        self.live.pages_read.store(0, Ordering::Relaxed);
        self.live.planning.store(true, Ordering::Relaxed);
    }

    pub fn page_read(&self) {
        self.live.pages_read.fetch_add(1, Ordering::Relaxed);
    }

    /// Planning is over: the rows begin, and the rate is measured from now.
    pub fn planned(&self) {
        self.live.planning.store(false, Ordering::Relaxed);
        *self.live.since.lock().unwrap() = Instant::now();
    }

    /// A summary notice when the store's quota set the pace: a slow run is then not the
    /// tool's doing, and more concurrency would not help.
    pub fn quota_notice(&self) -> Option<String> {
        let secs = self.live.quota_waited_ms.load(Ordering::Relaxed) / 1000;
        (secs >= 1).then(|| {
            format!(
                "about {secs} s of the run were spent waiting for the store's rate limit (its API quota, shared with the store's other apps, set the pace)"
            )
        })
    }

    /// Print a line without tearing the bar (stderr; nothing with --quiet).
    pub fn note(&self, msg: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(b) => b.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
    }

    pub fn finish(&self) {
        self.stop();
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn stop(&self) {
        if let Some(t) = self.ticker.lock().unwrap().take() {
            t.stop.store(true, Ordering::Relaxed);
            let _ = t.thread.join();
        }
    }
}

impl Drop for Progress {
    /// A run that stops with an error must not go on printing progress after its message.
    fn drop(&mut self) {
        self.stop();
    }
}

impl Ticker {
    fn start(live: Arc<Live>, bar: Option<ProgressBar>) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let every = interval();
        let thread = std::thread::Builder::new()
            .name("bc-progress".into())
            .spawn(move || {
                // Short naps, so that `finish` never waits long for this thread.
                let nap = every.min(BAR_REFRESH).min(Duration::from_millis(50));
                let mut last_line = Instant::now();
                let mut with_bar = None;
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(nap);
                    if live.quota_wait().is_some() {
                        live.quota_waited_ms
                            .fetch_add(nap.as_millis() as u64, Ordering::Relaxed);
                    }
                    match &bar {
                        Some(b) => {
                            let show_bar = !live.planning.load(Ordering::Relaxed)
                                && live.total.load(Ordering::Relaxed) != UNKNOWN;
                            if with_bar != Some(show_bar) {
                                b.set_style(bar_style(show_bar));
                                with_bar = Some(show_bar);
                            }
                            b.set_position(live.done.load(Ordering::Relaxed));
                            b.set_message(live.status());
                        }
                        None if last_line.elapsed() >= every => {
                            last_line = Instant::now();
                            if !stopped.load(Ordering::Relaxed) {
                                eprintln!("progress: {}", live.status());
                            }
                        }
                        None => {}
                    }
                }
            })
            .expect("starting the progress thread");
        Ticker { stop, thread }
    }
}

#[cfg(test)]
mod tests;
