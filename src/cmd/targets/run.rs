//! The run the three target commands share, from the input file to the summary (the row
//! engine's [`Job`] with the file's columns), and the per-row steps they have in common
//! (the precheck, finding the row's customer, claiming it).

use std::collections::HashSet;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use anyhow::bail;

use super::{Columns, Finder, Known, Target};
use crate::api::store::{WriteError, Writer};
use crate::api::{Client, Deleted};
use crate::cmd::fatal_if_auth;
use crate::exit::Exit;
use crate::input::{CsvReader, Dialect, InputFile};
use crate::interrupt::Abandoned;
use crate::pipeline::{self, Row, Turn, Window};
use crate::results::RowOutcome;
use crate::rows::{check_resume, Counts, Files, Job, Mark, RowCommand, RowRun};
use crate::settings::ApiVersion;
use crate::settings::Settings;

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

/// One run of a command over an input file (a [`Job`] with the file's columns): the three
/// commands differ only in what they do with a row (their [`TargetCommand`]).
pub struct FileRun {
    pub run: Arc<RowRun>,
    pub client: Client,
    pub cols: Columns,
    job: Job,
    file: InputFile,
    rdr: CsvReader,
}

impl FileRun {
    /// Everything about the files is checked before the first request (the input's columns,
    /// then what [`Job::open`] checks), then the client is built.
    pub fn open(g: &Settings, spec: Spec<'_>) -> anyhow::Result<FileRun> {
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
        // A dry run writes nothing, and stdin cannot be read again: no journal.
        let stdin = spec.input.as_os_str() == "-";
        let journal = match spec.dry_run {
            None if !stdin => Ok(format!(
                "{} {}{}",
                spec.command,
                spec.options,
                spec.dialect.journal_key()
            )),
            why => Err(why.unwrap_or("standard input cannot be resumed")),
        };
        let mut job = Job::open(
            g,
            Files {
                command: spec.command,
                input: Some(spec.input),
                results: spec.results,
                also_reads: Vec::new(),
                journal,
                resume: spec.resume,
                unit: spec.unit,
                dry_run: spec.dry_run.is_some(),
            },
        )?;
        job.notices.push(file.describe());
        job.input = Some(file.read_as());
        Ok(FileRun {
            run: Arc::clone(&job.run),
            client: job.client.clone(),
            cols,
            job,
            file,
            rdr,
        })
    }

    /// The run's [`Finder`] (see [`Finder::plan`]); stopped by a signal while planning.
    /// Under `--api v3` the file's keys are gathered first, for its lookup lists.
    pub async fn finder(&self, g: &Settings, rows_need_lookups: bool) -> anyhow::Result<Finder> {
        let v3 = match (g.api, rows_need_lookups) {
            (ApiVersion::V3, true) => Some(super::lookup_batches(&self.file, &self.cols)?),
            (ApiVersion::V3, false) => Some(Default::default()),
            (ApiVersion::V2, _) => None,
        };
        let (client, records, progress) = (&self.client, self.file.records, &self.job.progress);
        let concurrency = g.concurrency as usize;
        self.run
            .stop
            .guard(async {
                match v3 {
                    Some(batches) => {
                        Finder::plan_v3(client, records, batches, concurrency, progress).await
                    }
                    None => {
                        Finder::plan(client, records, concurrency, progress, rows_need_lookups)
                            .await
                    }
                }
                .map_err(fatal_if_auth)
            })
            .await
    }

    /// Every row through `cmd`, `concurrency` at a time, then the summary (the file's
    /// description first, the command's notices after it) and the end of the run.
    pub async fn rows<C: RowCommand>(
        self,
        g: &Settings,
        concurrency: usize,
        cmd: &C,
    ) -> anyhow::Result<Exit> {
        let FileRun { job, file, rdr, .. } = self;
        let rx = pipeline::read_rows(rdr, &file.path, |_, _| true);
        let bom = g.bom || file.had_bom;
        job.rows(g, rx, Window::new(concurrency), &file.headers, bom, cmd)
            .await
    }
}

/// A command over a file naming customers (delete, set-group's `--input`,
/// validate-password): its columns and its own step for a row; the rest of its
/// [`RowCommand`] is the same for the three, given once below.
pub trait TargetCommand {
    fn columns(&self) -> &Columns;

    /// The row's work, once [`super::precheck`] found the row worth it (neither empty nor
    /// too wide): its target read, its customer found, the store asked.
    fn process(&self, row: &Row) -> impl Future<Output = anyhow::Result<RowOutcome>>;

    /// What the summary says once, after the file's description.
    fn notices(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A target command's row as the engine's item: answered from the file alone (an empty or
/// too-wide row sends no request), or left to the command's step; with the keys naming its
/// customer (rows naming one customer, by id or by email, run one after another).
pub struct TargetRow {
    answered: Option<RowOutcome>,
    keys: Vec<String>,
}

impl<T: TargetCommand> RowCommand for T {
    type Note = ();
    type Item = TargetRow;

    fn prepare(&self, row: &Row) -> ((), TargetRow) {
        let cols = self.columns();
        let item = TargetRow {
            answered: super::precheck(&row.record, cols.width),
            keys: cols.keys(&row.record),
        };
        ((), item)
    }

    fn keys(&self, item: &TargetRow) -> Vec<String> {
        item.keys.clone()
    }

    async fn execute(&self, row: &Row, item: TargetRow, _: &Turn) -> anyhow::Result<RowOutcome> {
        match item.answered {
            Some(out) => Ok(out),
            None => self.process(row).await,
        }
    }

    fn notices(&self, _: &Counts) -> Vec<String> {
        TargetCommand::notices(self)
    }
}

/// The run's writes: under V2 one request per row, which the row marks in the journal just
/// before it is sent; under V3 through the batcher (`api::v3::batch`), whose before-send
/// hook marks every row of a batch `sending` before that batch's request, so a run killed
/// mid-batch leaves each of its rows in doubt, checked by `--resume`.
pub struct Writes {
    writer: Writer,
    run: Arc<RowRun>,
}

impl Writes {
    /// The writer for the run's `--api`. Under V3 it starts the batcher's tasks (call it
    /// inside the runtime, after the run started), with the requests in flight as its slots.
    pub fn new(g: &Settings, client: &Client, run: &Arc<RowRun>) -> Writes {
        let hook = (g.api == ApiVersion::V3).then(|| {
            let run = Arc::clone(run);
            let hook: crate::api::v3::batch::BeforeSend = Arc::new(move |_op, rows: &[u64]| {
                rows.iter()
                    .try_for_each(|&no| run.before_write(no, Mark::Sending))
            });
            hook
        });
        Writes {
            writer: Writer::for_api(g.api, client.clone(), g.concurrency as usize, hook),
            run: Arc::clone(run),
        }
    }

    /// True when writes are batched (V3): a `DELETE ?id:in=` of an id the store does not
    /// have answers 204 like any other (reference/bigcommerce-v3.md §7), so a delete must
    /// look its customer up first to report "no customer with id …".
    pub fn batched(&self) -> bool {
        matches!(self.writer, Writer::V3(_))
    }

    /// Put customer `id` in `group` for record `no`. The outer error ends the row's work (a
    /// signal before the write was sent, or a journal that cannot be written).
    pub async fn set_group(
        &self,
        no: u64,
        id: u64,
        group: u64,
    ) -> anyhow::Result<Result<(), WriteError>> {
        self.before(no)?;
        let result = self.writer.set_group(no, id, group).await;
        self.after(result)
    }

    /// Delete customer `id` for record `no` (see [`Writes::set_group`] for the outer error).
    pub async fn delete(&self, no: u64, id: u64) -> anyhow::Result<Result<Deleted, WriteError>> {
        self.before(no)?;
        let result = self.writer.delete(no, id).await;
        self.after(result)
    }

    fn before(&self, no: u64) -> anyhow::Result<()> {
        match self.writer {
            Writer::V2(_) => self.run.before_write(no, Mark::Sending),
            // Marked by the hook, with the rest of the row's batch.
            Writer::V3(_) => Ok(()),
        }
    }

    /// A batch the hook refused was not sent: after a signal the row stops (a resumed run
    /// does it), otherwise the journal failed, which is fatal.
    fn after<T>(&self, result: Result<T, WriteError>) -> anyhow::Result<Result<T, WriteError>> {
        match result {
            Err(WriteError::NotSent(_)) if self.run.stop.signal().is_some() => {
                Err(Abandoned.into())
            }
            Err(WriteError::NotSent(why)) => {
                anyhow::bail!("the journal could not record a write: {why}")
            }
            Err(WriteError::Stopped) => anyhow::bail!("{}", WriteError::Stopped),
            other => Ok(other),
        }
    }
}

/// A failed write as the row's outcome: the store's refusal fails the row; what
/// `RowRun::row_failure` finds fatal (credentials, a redirect, an unreachable store) ends
/// the run.
pub fn write_failure(
    run: &RowRun,
    e: WriteError,
    id: u64,
    doing: &str,
) -> anyhow::Result<RowOutcome> {
    match e {
        WriteError::Api(e) => run.row_failure(e, Some(id), doing),
        other => Ok(RowOutcome::failed(Some(id), other.message())),
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
