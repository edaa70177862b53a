//! The engine's own logic, with a command that needs no store: what reaches the results
//! file (input order, the command's line), what is tallied, and a fatal error.

use std::time::Duration;

use super::*;
use crate::results::RowResult;

/// Row `no`'s cell is `no`; rows finish in reverse order (a later row is quicker), row 2 is
/// carried over, and `fail_at` (when set) is a fatal error.
struct Fake {
    fail_at: Option<u64>,
}

impl RowCommand for Fake {
    type Note = bool;
    type Item = u64;

    fn prepare(&self, row: &Row) -> (bool, u64) {
        (row.no == 2, row.no)
    }

    fn keys(&self, item: &u64) -> Vec<String> {
        vec![format!("k{item}")]
    }

    async fn execute(&self, _: &Row, no: u64, _: &Turn) -> anyhow::Result<RowOutcome> {
        tokio::time::sleep(Duration::from_millis(5 * (6 - no))).await;
        if self.fail_at == Some(no) {
            anyhow::bail!("row {no} broke the run");
        }
        let result = if no == 4 {
            RowResult::Failed
        } else {
            RowResult::Updated
        };
        Ok(RowOutcome::new(result, Some(no), format!("did {no}")))
    }

    fn line(&self, row: &Row, carried: bool, out: &mut RowOutcome) -> Line {
        out.message.push_str(" (seen)");
        Line {
            no: row.no * 10,
            record: Some(csv::StringRecord::from(vec![format!("echo {}", row.no)])),
            carried,
        }
    }
}

fn rows(n: u64) -> mpsc::Receiver<anyhow::Result<Row>> {
    let (tx, rx) = mpsc::channel(16);
    for no in 1..=n {
        let record = csv::StringRecord::from(vec![no.to_string()]);
        tx.try_send(Ok(Row {
            no,
            seq: no - 1,
            record,
        }))
        .unwrap();
    }
    rx
}

async fn run(cmd: &Fake, path: &Path) -> anyhow::Result<(Ended, Counts)> {
    let run = RowRun::start("test", None, "a test has no journal")?;
    let headers = csv::StringRecord::from(vec!["cell"]);
    let mut writer = ResultsWriter::create(path, &headers, false)?;
    let progress = Progress::new(None, true, "rows");
    let ended = run_rows(&run, rows(5), Window::new(4), cmd, &mut writer, &progress).await?;
    writer.finish()?;
    Ok(ended)
}

#[tokio::test]
async fn outcomes_reach_the_results_file_in_input_order_as_the_command_words_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    let (ended, counts) = run(&Fake { fail_at: None }, &path).await.unwrap();
    assert_eq!(ended, Ended::Complete);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "_row,_result,_customer_id,_message,cell");
    assert_eq!(lines[1], "10,updated,1,did 1 (seen),echo 1");
    assert_eq!(lines[4], "40,failed,4,did 4 (seen),echo 4");
    let order: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(order, ["10", "20", "30", "40", "50"]);
    // The carried row is counted apart from the tally.
    assert_eq!(counts.carried, 1);
    assert_eq!(counts.tally.total(), 4);
    assert_eq!(counts.tally.counts.get(&RowResult::Failed), Some(&1));
    assert_eq!(counts.tally.counts.get(&RowResult::Updated), Some(&3));
}

#[tokio::test]
async fn an_error_from_execute_ends_the_run_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    let e = match run(&Fake { fail_at: Some(3) }, &path).await {
        Ok(_) => panic!("a fatal row error must end the run"),
        Err(e) => e,
    };
    assert!(format!("{e:#}").contains("row 3 broke the run"), "{e:#}");
}
