//! What every row command (`import`, `set-group`, `delete`, `validate-password`) shares, in one
//! place: the journal behind `--resume`, SIGINT/SIGTERM, and the one failure policy; the
//! [`engine`] runs the rows of each command through them.
//!
//! - **Journal.** Checked and locked before the first request (a journal another run holds, a
//!   symlink, a file that is not a journal: refused), but *created* only just before the first
//!   write: a run that fails before writing anything (a wrong token, an unreachable store)
//!   leaves nothing that would block the corrected re-run. Rows that finished before the first
//!   write sent nothing, so not recording them loses nothing: a resume redoes their reads.
//! - **Interrupts.** The first SIGINT/SIGTERM stops new rows and new writes: a row that has
//!   sent its write finishes and is journaled, a row that has not stops before it (and is done
//!   by the resumed run); a second signal abandons the rows in flight; the journal is synced; the summary (stderr and `--summary-json`, status
//!   `interrupted`) says how many rows were done and the exact command to continue; the
//!   results file's temporary file is removed (it is not complete, so it is not renamed into
//!   place); the exit code is 130 or 143.
//! - **Failure policy.** A refused token, or a store that cannot be reached at all after the
//!   retries, stops the whole run (the journal keeps what finished, `--resume` continues);
//!   so do [`STOP_AFTER_SILENT_ROWS`] rows in a row that got no answer at all after their
//!   retries. Failing every remaining row one by one, each after its retries, would take hours
//!   and say nothing more. Any other failed request fails only its row. A row that failed for
//!   lack of an answer is not journaled: a resume, once the store answers again, retries it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::api::error::ErrorKind;
use crate::api::ApiError;
use crate::cmd::{fatal_if_auth, AuthRefused};
use crate::exit::{usage, Exit};
use crate::interrupt::{Abandoned, Interrupt};
use crate::journal::{self, Fingerprint, Found, Journal, Resumed, RunLock};
use crate::pipeline::Ended;
use crate::report::Summary;
use crate::results::{ResultsWriter, RowOutcome, RowResult};

pub mod engine;

pub use engine::{Counts, Files, Job, Line, RowCommand};

/// Rows in a row whose requests got no answer at all (timeouts, dropped connections) after
/// their retries, before the run concludes the store has stopped answering. More than one, so
/// that one unlucky row (a connection reset on a huge cell) fails alone; few, because each of
/// them has already waited out its retries.
pub const STOP_AFTER_SILENT_ROWS: u32 = 3;

/// What identifies the run's input, for its journal.
pub struct JournalSpec<'a> {
    pub input: &'a Path,
    pub results: &'a Path,
    /// The options that change what a row means, with the command's name: resuming with
    /// other options (or another command's journal) would mix two runs.
    pub options: String,
    pub resume: bool,
}

/// `--resume` with what cannot be resumed is a usage error, before anything is read.
pub fn check_resume(resume: bool, input: Option<&Path>, dry_run: bool) -> anyhow::Result<()> {
    if !resume {
        return Ok(());
    }
    match input {
        None => usage("--resume needs an input file: with --filter, running the same command again continues the job (customers already moved are unchanged)"),
        Some(p) if p.as_os_str() == "-" => {
            usage("--resume needs the input as a file: standard input cannot be read again")
        }
        Some(_) if dry_run => usage(
            "--resume continues a run that sent writes; this run sends none (a dry run)",
        ),
        Some(_) => Ok(()),
    }
}

/// Which mark goes into the journal before a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// No mark (an idempotent write, or one whose doubt changes nothing).
    None,
    /// A `POST /customers`, with the store's clock just before it is sent
    /// ([`crate::api::Client::store_clock`]): on resume, a customer found that could be this
    /// create (`api::once::claim`) is this row's `created`.
    Creating(Option<i64>),
    /// A `DELETE` or set-group's `PUT`: on resume, a customer found gone (or in the group) is
    /// this row's doing.
    Sending,
}

enum State {
    /// No write yet; the file (an earlier journal of another input) is held, locked, until
    /// the first write replaces it.
    Pending(Option<File>),
    Open(Journal),
}

struct RunJournal {
    path: PathBuf,
    fp: Fingerprint,
    state: Mutex<State>,
    resumed: Resumed,
    /// Rows recorded as finished, by this run or the interrupted one.
    recorded: AtomicU64,
}

/// One run of a row command.
pub struct RowRun {
    pub command: &'static str,
    pub started: Instant,
    pub stop: Arc<Interrupt>,
    journal: Option<RunJournal>,
    /// Said once at the start (resuming, nothing to resume, replacing another journal).
    pub note: Option<String>,
    /// Why this run cannot be resumed (stdin, a dry run, --filter), for the interrupt message.
    no_resume: Option<&'static str>,
    silent_rows: AtomicU32,
    /// Rows that got no answer, in all (never reset).
    silent_total: AtomicU64,
    /// Rows finished (or recovered from the journal) so far, for the interrupt message.
    rows_done: AtomicU64,
    /// The results file's lock, from before the first request to the end of the run (last
    /// field: dropped after the journal).
    _lock: Option<RunLock>,
}

impl RowRun {
    /// Before any request: install the signal handlers, check and lock the journal (or, with
    /// `spec = None`, run without one; `no_resume` says why).
    pub fn start(
        command: &'static str,
        spec: Option<JournalSpec<'_>>,
        no_resume: &'static str,
    ) -> anyhow::Result<RowRun> {
        let mut run = RowRun {
            command,
            started: Instant::now(),
            stop: Interrupt::install(),
            journal: None,
            note: None,
            no_resume: Some(no_resume),
            silent_rows: AtomicU32::new(0),
            silent_total: AtomicU64::new(0),
            rows_done: AtomicU64::new(0),
            _lock: None,
        };
        let Some(spec) = spec else {
            return Ok(run);
        };
        // A results file written in place (a pipe, /dev/null) has no directory to keep a
        // journal beside it: it would be `/dev/null.journal`.
        if crate::outfile::writes_in_place(spec.results) {
            if spec.resume {
                return usage(format!(
                    "--resume needs --results to name a regular file ({} is a device or a pipe): the journal that makes a run resumable lives beside the results file",
                    spec.results.display()
                ));
            }
            run.no_resume =
                Some("the results file is a device or a pipe, with no journal beside it");
            return Ok(run);
        }
        run.no_resume = None;
        let fp = Fingerprint::of(spec.input, &spec.options)?;
        let path = journal::path_for(spec.results);
        run._lock = Some(RunLock::take(&path)?);
        let (state, resumed) = match (journal::inspect(&path, &fp)?, spec.resume) {
            (Found::Nothing, resume) => {
                if resume {
                    run.note = Some(format!(
                        "nothing to resume ({} does not exist): starting from the first row",
                        path.display()
                    ));
                }
                (State::Pending(None), Resumed::default())
            }
            (Found::Same { file, text }, true) => {
                let (journal, resumed) = Journal::resume(&path, file, &text)?;
                journal::remove_stale_temp_files(spec.results);
                run.note = Some(format!(
                    "resuming: {} row(s) finished by the interrupted run are not sent again; {} write(s) in doubt are checked first",
                    resumed.finished.len(),
                    resumed.in_doubt()
                ));
                (State::Open(journal), resumed)
            }
            // Nothing recorded (a run stopped right after its first write was refused, or
            // before its first row finished): nothing to lose, replaced at the first write.
            (Found::Same { file, text }, false) if !journal::records_anything(&text) => {
                (State::Pending(Some(file)), Resumed::default())
            }
            (Found::Same { .. }, false) => {
                return usage(format!(
                    "an interrupted run of this {command} left {}: pass --resume to continue it, or delete that file to start over",
                    path.display()
                ))
            }
            (Found::Other { why, .. }, true) => anyhow::bail!(
                "cannot resume from {}: {why}. Run without --resume to start over (rows already done are then found in the store), or pass the same input and options as the interrupted run",
                path.display()
            ),
            (Found::Other { file, why }, false) => {
                run.note = Some(format!(
                    "{} is the journal of an interrupted run of another input or other options ({why}): this run replaces it when it sends its first write",
                    path.display()
                ));
                (State::Pending(Some(file)), Resumed::default())
            }
        };
        let recorded = AtomicU64::new(resumed.finished.len() as u64);
        run.journal = Some(RunJournal {
            path,
            fp,
            state: Mutex::new(state),
            resumed,
            recorded,
        });
        Ok(run)
    }

    /// The outcome the interrupted run recorded for record `no`, if it finished it.
    pub fn recovered(&self, no: u64) -> Option<RowOutcome> {
        self.journal
            .as_ref()
            .and_then(|j| j.resumed.outcome(no).cloned())
    }

    /// True when the interrupted run sent record `no`'s write and never saw the answer.
    pub fn in_doubt(&self, no: u64) -> bool {
        self.journal
            .as_ref()
            .is_some_and(|j| j.resumed.maybe_created(no))
    }

    /// When the interrupted run sent record `no`'s create and never saw the answer: the
    /// store's clock it recorded with the mark (`Some(None)`: none was recorded).
    pub fn create_in_doubt(&self, no: u64) -> Option<Option<i64>> {
        self.journal
            .as_ref()
            .and_then(|j| j.resumed.create_clock(no))
    }

    /// Just before a write request for record `no`: after a signal, stop the row here (no
    /// new request is started; the row is not recorded, so a resumed run does it); otherwise
    /// create the journal if this is the run's first write, and append `mark`.
    pub fn before_write(&self, no: u64, mark: Mark) -> anyhow::Result<()> {
        if self.stop.signal().is_some() {
            return Err(Abandoned.into());
        }
        let Some(j) = &self.journal else {
            return Ok(());
        };
        let mut state = j.state.lock().unwrap();
        if let State::Pending(file) = &mut *state {
            *state = State::Open(Journal::start(&j.path, file.take(), &j.fp)?);
        }
        let State::Open(journal) = &*state else {
            unreachable!("opened above")
        };
        match mark {
            Mark::None => Ok(()),
            Mark::Creating(clock) => journal.creating(no, clock),
            Mark::Sending => journal.sending(no),
        }
    }

    /// Record record `no`'s outcome (once the journal exists: before the first write, rows
    /// sent nothing, and redoing their reads on resume costs nothing that matters).
    fn finished(&self, no: u64, out: &RowOutcome) -> anyhow::Result<()> {
        let Some(j) = &self.journal else {
            return Ok(());
        };
        if let State::Open(journal) = &*j.state.lock().unwrap() {
            journal.finished(no, out)?;
            j.recorded.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The journal's path, once it exists.
    fn journal_path(&self) -> Option<&Path> {
        let j = self.journal.as_ref()?;
        matches!(&*j.state.lock().unwrap(), State::Open(_)).then_some(j.path.as_path())
    }

    /// A failed request: fatal when the store refuses our credentials, redirects, cannot be
    /// reached, or has stopped answering; otherwise the row fails (see the module docs).
    pub fn row_failure(
        &self,
        e: ApiError,
        id: Option<u64>,
        doing: &str,
    ) -> anyhow::Result<RowOutcome> {
        // Refused credentials, or a redirect: every other request would meet the same.
        if e.is_fatal() {
            return Err(fatal_if_auth(e));
        }
        if e.is_unreachable() {
            return Err(anyhow::anyhow!(
                "{e}: the store is unreachable (after the retries)"
            ));
        }
        if matches!(e.kind, ErrorKind::Transport { .. }) {
            self.silent_total.fetch_add(1, Ordering::Relaxed);
            let n = self.silent_rows.fetch_add(1, Ordering::Relaxed) + 1;
            if n >= STOP_AFTER_SILENT_ROWS {
                return Err(anyhow::anyhow!(
                    "{e}: the store stopped answering ({n} rows in a row got no answer after their retries)"
                ));
            }
        }
        Ok(RowOutcome::failed(id, format!("{doing}: {}", e.message())))
    }

    /// A fatal error: the results file is not written; the journal keeps what finished, and
    /// the message says how to continue.
    pub fn fatal(&self, e: anyhow::Error) -> anyhow::Error {
        let Some(j) = &self.journal else {
            return e;
        };
        let open = matches!(&*j.state.lock().unwrap(), State::Open(_));
        if !open {
            return e.context(format!(
                "the {} stopped before sending any write: fix the cause and run the same command again",
                self.command
            ));
        }
        // A token refused before any row finished: every write the store saw was refused, so
        // the journal records nothing that happened, and must not make the corrected re-run
        // ask for --resume.
        if e.chain().any(|c| c.is::<AuthRefused>()) && j.recorded.load(Ordering::Relaxed) == 0 {
            let mut state = j.state.lock().unwrap();
            if let State::Open(journal) = &*state {
                if journal.remove().is_ok() {
                    *state = State::Pending(None);
                    return e;
                }
            }
        }
        e.context(format!(
            "the {} stopped; the rows it finished are recorded in {}: fix the cause and run the same command with --resume to continue (if the input file itself must change, run without --resume: rows already done are then found in the store)",
            self.command,
            j.path.display()
        ))
    }

    /// The outcome of record `no` when the interrupted run finished it: the row is done
    /// (counted as such for the interrupt message) and is not executed again.
    fn recover(&self, no: u64) -> Option<RowOutcome> {
        let out = self.recovered(no)?;
        self.rows_done.fetch_add(1, Ordering::Relaxed);
        Some(out)
    }

    /// Rows that got no answer so far, to tell (in [`RowRun::settle`]) whether a row failed
    /// for lack of an answer.
    fn silent_so_far(&self) -> u64 {
        self.silent_total.load(Ordering::Relaxed)
    }

    /// Record `no` was executed, with outcome `out`: journal it, unless it may have failed
    /// for lack of an answer (a row went silent since `silent_before`), so that a resume
    /// (after the store came back) tries it again. Should another row's silence be counted
    /// meanwhile, a row that failed for another reason is merely tried again, and fails again.
    fn settle(&self, no: u64, out: &RowOutcome, silent_before: u64) -> anyhow::Result<()> {
        if out.result != RowResult::Failed {
            self.silent_rows.store(0, Ordering::Relaxed);
            self.finished(no, out)?;
        } else if self.silent_so_far() == silent_before {
            self.finished(no, out)?;
        }
        self.rows_done.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// End the run. Complete: the results file is renamed into place, then the journal (which
    /// has served) is removed. Interrupted: the results file's temporary file is removed, the
    /// journal is synced and kept, and the summary says what was done and how to continue.
    /// Either way the summary goes to stderr and `--summary-json`.
    pub fn end(
        &self,
        ended: Ended,
        writer: ResultsWriter,
        mut summary: Summary,
        quiet: bool,
        json: Option<&Path>,
    ) -> anyhow::Result<Exit> {
        let sig = match ended {
            Ended::Complete => {
                writer.finish().map_err(|e| self.fatal(e))?;
                if let Some(j) = &self.journal {
                    if let State::Open(journal) = &*j.state.lock().unwrap() {
                        journal.remove()?;
                    }
                }
                summary.emit(quiet, json)?;
                return Ok(if summary.exit_code == Exit::RowsFailed.code() {
                    Exit::RowsFailed
                } else {
                    Exit::Ok
                });
            }
            Ended::Interrupted(sig) => sig,
        };
        drop(writer);
        let recorded = self.journal_path().map(Path::to_path_buf);
        // A journal of another input is still there (this run wrote nothing): --resume would
        // refuse it, the same command replaces it.
        let foreign = self
            .journal
            .as_ref()
            .is_some_and(|j| matches!(&*j.state.lock().unwrap(), State::Pending(Some(_))));
        if let Some(j) = &self.journal {
            // Dropping the journal stops its sync thread after a last fsync (and unlocks it).
            let journal = std::mem::replace(&mut *j.state.lock().unwrap(), State::Pending(None));
            drop(journal);
        }
        let command = self.command;
        let rows_done = self.rows_done.load(Ordering::Relaxed);
        let continuation = match (self.no_resume, &recorded) {
            (Some(why), _) => format!(
                "{why}; to continue, run the same command again: {}",
                command_line(false)
            ),
            (None, Some(path)) => format!(
                "the rows done are recorded in {}; continue with: {}",
                path.display(),
                command_line(true)
            ),
            (None, None) if foreign => format!(
                "no write had been sent yet; continue with: {}",
                command_line(false)
            ),
            (None, None) => format!(
                "no write had been sent yet; continue with: {}",
                command_line(true)
            ),
        };
        let line = format!(
            "{command} interrupted by {}: {rows_done} row(s) done, no new row started; {continuation}",
            sig.name()
        );
        summary.rows = rows_done;
        summary.status = "interrupted";
        summary.exit_code = sig.exit_code();
        summary.notices.push(line.clone());
        summary.results_file = None;
        summary.emit(quiet, json)?;
        if quiet {
            // The one thing --quiet still says: it is not an error, but the job is not done.
            eprintln!("{line}");
        }
        Ok(Exit::interrupted(sig))
    }
}

/// This process's command line as a shell would take it back, with `--resume` added when
/// `resume` (and not already there). The token is never on it: it has no flag.
fn command_line(resume: bool) -> String {
    let mut words: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if resume && !words.iter().any(|w| w == "--resume") {
        words.push("--resume".into());
    }
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_a_shell() {
        assert_eq!(shell_quote("in.csv"), "in.csv");
        assert_eq!(shell_quote("my file.csv"), "'my file.csv'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
