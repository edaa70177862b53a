//! The `--summary-json` documents of runs that end without a [`Summary`](super::Summary): a
//! run stopped by an error, or by a signal before any row.

use std::path::Path;

use serde::Serialize;

use super::utc_timestamp;

/// When the process started, for documents written without a [`Summary`](super::Summary).
static PROCESS_START: std::sync::OnceLock<chrono::DateTime<chrono::Utc>> =
    std::sync::OnceLock::new();

/// Note the process's start time (called first thing by [`crate::run`]).
pub fn mark_start() {
    PROCESS_START.get_or_init(chrono::Utc::now);
}

/// The `--summary-json` document of a run that stopped with an error.
pub fn write_failure_json(
    path: &Path,
    command: &str,
    code: crate::exit::Exit,
    err: &anyhow::Error,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let doc = serde_json::json!({
        "command": command,
        "started_at": utc_timestamp(*PROCESS_START.get().unwrap_or(&now)),
        "finished_at": utc_timestamp(now),
        "status": "error",
        "exit_code": code.code(),
        "error": format!("{err:#}"),
    });
    write_json(path, &doc)
}

/// The `--summary-json` document of a run stopped by a signal before it processed any row.
pub fn write_interrupted_json(
    path: &Path,
    command: &str,
    code: crate::exit::Exit,
    err: &anyhow::Error,
) -> anyhow::Result<()> {
    let doc = serde_json::json!({
        "command": command,
        "status": "interrupted",
        "exit_code": code.code(),
        "rows": 0,
        "message": format!("{err:#}"),
    });
    write_json(path, &doc)
}

/// Write `doc` as pretty JSON to `path`, atomically like every output file (a monitor never
/// reads half a document).
pub(super) fn write_json<T: Serialize + ?Sized>(path: &Path, doc: &T) -> anyhow::Result<()> {
    let mut f = crate::outfile::OutputFile::create(path)?;
    serde_json::to_writer_pretty(&mut f, doc)?;
    std::io::Write::write_all(&mut f, b"\n")?;
    f.commit()
}
