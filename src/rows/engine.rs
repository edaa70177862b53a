//! The row engine: one skeleton for every row command (`import`, `set-group`, `delete`,
//! `validate-password`). A command provides only what is its own, as a [`RowCommand`]: how a
//! record becomes an item, the keys naming the item's customer, and how an item is executed
//! (plus, optionally, its results line and its notices). The engine does the rest, once:
//!
//! - [`Job::open`]: the files checked before the first request (the results path, outputs
//!   clashing with inputs, the journal and its lock), the client, the progress bar;
//! - [`Job::rows`]: the pipeline (rows about one customer in file order), rows the
//!   interrupted run finished answered from the journal instead of executed, every outcome
//!   journaled, the results file in input order, the tally, the progress, the summary, and
//!   the end of the run after a signal or a fatal error ([`RowRun`]'s one failure policy).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{JournalSpec, RowRun};
use crate::api::Client;
use crate::cmd::connect;
use crate::exit::Exit;
use crate::interrupt::Abandoned;
use crate::outfile::RunFiles;
use crate::pipeline::{self, Ended, Row, Turn, Window};
use crate::report::{Progress, Summary, Tally};
use crate::results::{default_path, ResultsWriter, RowOutcome};
use crate::settings::Settings;

/// One row command: what it does with a row, and nothing of the run around it.
pub trait RowCommand {
    /// What [`RowCommand::prepare`] learned of a row that its results line needs besides the
    /// outcome (`()` for most commands).
    type Note;
    /// What [`RowCommand::execute`] works on.
    type Item;

    /// Once per row, in input order, as the row enters the run: no I/O. (For a row the
    /// interrupted run finished, the item is dropped and the journal's outcome used.)
    fn prepare(&self, row: &Row) -> (Self::Note, Self::Item);

    /// The keys naming the customer an item is about: rows sharing one run one after another,
    /// in file order (see `pipeline::Chains`).
    fn keys(&self, item: &Self::Item) -> Vec<String>;

    /// The row's work, the only step that talks to the store. `Err` is fatal for the run,
    /// except [`Abandoned`] (a signal stopped the row before it sent anything).
    fn execute(
        &self,
        row: &Row,
        item: Self::Item,
        turn: &Turn,
    ) -> impl Future<Output = anyhow::Result<RowOutcome>>;

    /// The row's line in the results file, called in input order once its outcome is known
    /// (it may add to the outcome's message). By default: the record as read, numbered as read.
    fn line(&self, row: &Row, _note: Self::Note, _out: &mut RowOutcome) -> Line {
        Line::of(row)
    }

    /// What the summary says once, at the end, about what the rows did (after the notices
    /// of [`Job::notices`], before the quota's).
    fn notices(&self, _counts: &Counts) -> Vec<String> {
        Vec::new()
    }
}

/// How a row goes into the results file.
pub struct Line {
    /// Its `_row`: the record's number, or the original one (a retry of a results file).
    pub no: u64,
    /// The cells written back (`None`: the record as read).
    pub record: Option<csv::StringRecord>,
    /// Carried over from an earlier results file as it was (`import --only-failed`): not done
    /// by this run, so counted apart from its tally.
    pub carried: bool,
}

impl Line {
    pub fn of(row: &Row) -> Line {
        Line {
            no: row.no,
            record: None,
            carried: false,
        }
    }
}

/// What the rows added up to.
#[derive(Default)]
pub struct Counts {
    pub tally: Tally,
    /// Rows carried over as they were (see [`Line::carried`]).
    pub carried: u64,
}

/// What a row command reads and writes, checked by [`Job::open`] before the first request.
pub struct Files<'a> {
    pub command: &'static str,
    /// The input file (`-`: standard input); `None` when the rows come from the store
    /// (set-group's `--filter`).
    pub input: Option<&'a Path>,
    /// `--results` [default: `<input stem>.results.csv` beside the input].
    pub results: Option<&'a Path>,
    /// Other files the run reads, with what they are (import's `--mapping`).
    pub also_reads: Vec<(&'static str, &'a Path)>,
    /// The journal: `Ok` with the options that change what a row means (its fingerprint,
    /// with the input's identity), or `Err` with why this run has none (a dry run, standard
    /// input, `--filter`), for the interrupt message.
    pub journal: Result<String, &'static str>,
    pub resume: bool,
    /// What the progress bar counts.
    pub unit: &'static str,
    /// The run sends no write (the summary says so).
    pub dry_run: bool,
}

/// One run of a row command, from the checks before the first request to the summary.
pub struct Job {
    pub run: Arc<RowRun>,
    pub client: Client,
    pub progress: Progress,
    /// Said in the summary before the command's own notices (e.g. the file's description).
    pub notices: Vec<String>,
    /// How the input file was read (encoding, delimiter, BOM), for `--summary-json`.
    pub input: Option<crate::input::ReadAs>,
    results: PathBuf,
    dry_run: bool,
}

impl Job {
    /// Check the files (after the command checked its input: `--resume` first, see
    /// [`super::check_resume`]), build the client, start the run (signal handlers, the
    /// journal checked and locked) and its progress bar.
    pub fn open(g: &Settings, files: Files<'_>) -> anyhow::Result<Job> {
        let input = files.input.unwrap_or(Path::new("-"));
        let results = files
            .results
            .map_or_else(|| default_path(input, files.command), Path::to_path_buf);
        crate::results::check_path(input, &results)?;
        let mut checks = RunFiles::new(g);
        if let Some(input) = files.input {
            checks = checks.input("the input file", input);
        }
        for (what, path) in &files.also_reads {
            checks = checks.input(what, path);
        }
        checks.results(&results).check()?;
        let client = connect(g)?;
        let (journal, no_resume) = match (files.journal, files.input) {
            (Ok(options), Some(input)) => (
                Some(JournalSpec {
                    input,
                    results: &results,
                    options,
                    resume: files.resume,
                }),
                "",
            ),
            (Ok(_), None) => (None, "the rows do not come from a file"),
            (Err(why), _) => (None, why),
        };
        let run = Arc::new(RowRun::start(files.command, journal, no_resume)?);
        let progress = Progress::new(None, g.quiet, files.unit);
        progress.watch(&client);
        if let Some(note) = &run.note {
            progress.note(note);
        }
        Ok(Job {
            run,
            client,
            progress,
            notices: Vec::new(),
            input: None,
            results,
            dry_run: files.dry_run,
        })
    }

    /// Every row of `rx` through `cmd` (see [`run_rows`]) with `window`'s rows in flight,
    /// into a results file with `headers` (and a BOM when `bom`), then the summary and the
    /// end of the run (see [`RowRun::end`]).
    pub async fn rows<C: RowCommand>(
        self,
        g: &Settings,
        rx: mpsc::Receiver<anyhow::Result<Row>>,
        window: Window,
        headers: &csv::StringRecord,
        bom: bool,
        cmd: &C,
    ) -> anyhow::Result<Exit> {
        let Job {
            run,
            client,
            progress,
            mut notices,
            input,
            results,
            dry_run,
        } = self;
        let mut writer = ResultsWriter::create(&results, headers, bom)?;
        let (ended, counts) = run_rows(&run, rx, window, cmd, &mut writer, &progress).await?;
        progress.finish();
        notices.extend(cmd.notices(&counts));
        notices.extend(progress.quota_notice());
        let tally = &counts.tally;
        let mut summary = Summary::new(
            run.command,
            tally.total(),
            Some(tally),
            run.started,
            client.stats(),
        );
        summary.notices = notices;
        summary.input = input;
        summary.dry_run = dry_run;
        summary.results_file = Some(results.display().to_string());
        run.end(ended, writer, summary, g.quiet, g.summary_json.as_deref())
    }
}

/// Run the rows through the pipeline (see [`pipeline::run`]): `cmd` prepares each row once,
/// in order; a row the interrupted run finished is answered from the journal (not executed
/// again); after a signal no row starts; every outcome is journaled as it finishes (see
/// [`RowRun::settle`]) and written to the results file in input order, tallied and counted
/// by the progress bar; a fatal error says how to continue (see [`RowRun::fatal`]).
pub async fn run_rows<C: RowCommand>(
    run: &RowRun,
    rx: mpsc::Receiver<anyhow::Result<Row>>,
    window: Window,
    cmd: &C,
    writer: &mut ResultsWriter,
    progress: &Progress,
) -> anyhow::Result<(Ended, Counts)> {
    let mut counts = Counts::default();
    let ended = pipeline::run(
        rx,
        window,
        &run.stop,
        |row| cmd.prepare(row),
        |(_, item): &(C::Note, C::Item)| cmd.keys(item),
        |row, (note, item), turn| async move {
            if let Some(out) = run.recover(row.no) {
                return Ok((row, (note, out)));
            }
            // A row that was waiting for an earlier row about its customer when the signal
            // came does not start.
            if run.stop.signal().is_some() {
                return Err(Abandoned.into());
            }
            let silent_before = run.silent_so_far();
            let out = cmd.execute(&row, item, &turn).await?;
            run.settle(row.no, &out, silent_before)?;
            Ok((row, (note, out)))
        },
        |row, (note, mut out)| {
            let line = cmd.line(&row, note, &mut out);
            if line.carried {
                counts.carried += 1;
                progress.record_earlier(out.result);
            } else {
                counts.tally.add(out.result);
                // A row the interrupted run finished is done, but not in this run's rate.
                if run.recovered(row.no).is_some() {
                    progress.record_earlier(out.result);
                } else {
                    progress.record(out.result);
                }
            }
            writer.write(line.no, &out, line.record.as_ref().unwrap_or(&row.record))
        },
    )
    .await
    .map_err(|e| run.fatal(e))?;
    Ok((ended, counts))
}

#[cfg(test)]
mod tests;
