//! Unit tests of `journal` (a child module, so private items stay reachable).

use std::fs::OpenOptions;

use super::*;
use crate::results::RowResult;

fn input(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("in.csv");
    std::fs::write(&p, text).unwrap();
    p
}

fn resume(jp: &Path, fp: &Fingerprint) -> anyhow::Result<(Journal, Resumed)> {
    match inspect(jp, fp)? {
        Found::Same { file, text } => Journal::resume(jp, file, &text),
        Found::Other { why, .. } => anyhow::bail!("cannot resume: {why}"),
        Found::Nothing => anyhow::bail!("no journal"),
    }
}

#[test]
fn round_trip_and_torn_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let inp = input(dir.path(), "email\na@x.com\n");
    let fp = Fingerprint::of(&inp, "upsert").unwrap();
    let jp = path_for(&dir.path().join("r.csv"));
    assert!(jp.ends_with("r.csv.journal"));
    assert!(matches!(inspect(&jp, &fp).unwrap(), Found::Nothing));
    let j = Journal::start(&jp, None, &fp).unwrap();
    assert!(!records_anything(&std::fs::read(&jp).unwrap()));
    j.creating(1, Some(1_796_145_370)).unwrap();
    assert!(records_anything(&std::fs::read(&jp).unwrap()));
    j.sending(2).unwrap();
    j.finished(
        1,
        &RowOutcome::new(RowResult::Created, Some(7), "with an address"),
    )
    .unwrap();
    drop(j);
    // A crash mid-line.
    OpenOptions::new()
        .append(true)
        .open(&jp)
        .unwrap()
        .write_all(b"{\"no\":3,\"res")
        .unwrap();
    let (j, r) = resume(&jp, &fp).unwrap();
    assert_eq!(r.outcome(1).unwrap().customer_id, Some(7));
    assert!(r.outcome(3).is_none());
    assert!(!r.maybe_created(1), "finished rows are not in doubt");
    assert!(r.maybe_created(2));
    assert_eq!(r.in_doubt(), 1);
    j.finished(2, &RowOutcome::invalid("x")).unwrap();
    drop(j);
    let (j, r) = resume(&jp, &fp).unwrap();
    assert_eq!(r.outcome(2).unwrap().result, RowResult::Invalid);
    j.remove().unwrap();
    assert!(!jp.exists());
}

#[test]
fn another_input_or_options_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inp = input(dir.path(), "email\na@x.com\n");
    let jp = dir.path().join("r.journal");
    drop(Journal::start(&jp, None, &Fingerprint::of(&inp, "upsert").unwrap()).unwrap());
    let e = resume(&jp, &Fingerprint::of(&inp, "create").unwrap())
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("options"), "{e:#}");
    std::fs::write(&inp, "email\nb@x.com\n").unwrap();
    let e = resume(&jp, &Fingerprint::of(&inp, "upsert").unwrap())
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("changed"), "{e:#}");
    std::fs::write(&jp, "garbage\n").unwrap();
    let e = inspect(&jp, &Fingerprint::of(&inp, "upsert").unwrap())
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("not a bc-customers"), "{e:#}");
    assert_eq!(std::fs::read_to_string(&jp).unwrap(), "garbage\n");
}

#[cfg(unix)]
#[test]
fn a_held_journal_names_its_holder_and_a_symlink_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let inp = input(dir.path(), "email\na@x.com\n");
    let fp = Fingerprint::of(&inp, "upsert").unwrap();
    let jp = dir.path().join("r.journal");
    let held = Journal::start(&jp, None, &fp).unwrap();
    // flock locks are per open file: a second open in this process conflicts like another
    // process would.
    let e = inspect(&jp, &fp).err().unwrap();
    assert!(
        format!("{e:#}").contains(&format!("pid {}", std::process::id())),
        "{e:#}"
    );
    drop(held);
    assert!(matches!(inspect(&jp, &fp).unwrap(), Found::Same { .. }));

    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let link = dir.path().join("l.journal");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let e = inspect(&link, &fp).err().unwrap();
    assert!(format!("{e:#}").contains("symbolic link"), "{e:#}");
    // Even a link that appears between the check and the create is not followed.
    assert!(Journal::start(&link, None, &fp).is_err());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn a_create_mark_keeps_the_store_clock_and_a_mark_without_one_still_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let inp = input(dir.path(), "email\na@x.com\nb@x.com\nc@x.com\n");
    let fp = Fingerprint::of(&inp, "upsert").unwrap();
    let jp = dir.path().join("r.journal");
    let j = Journal::start(&jp, None, &fp).unwrap();
    j.creating(1, Some(1_796_145_370)).unwrap();
    j.creating(2, None).unwrap();
    j.creating(3, Some(1_796_145_370)).unwrap();
    // Sent again later (a split batch, a resumed run killed again): the first send may have
    // made it, so the first mark's clock is the bound.
    j.creating(3, Some(1_796_149_000)).unwrap();
    drop(j);
    let text = std::fs::read_to_string(&jp).unwrap();
    assert!(
        text.contains(r#"{"creating":1,"clock":1796145370}"#),
        "{text}"
    );
    assert!(text.contains(r#"{"creating":2}"#), "{text}");
    let (j, r) = resume(&jp, &fp).unwrap();
    assert_eq!(r.create_clock(1), Some(Some(1_796_145_370)));
    assert_eq!(r.create_clock(2), Some(None));
    assert_eq!(r.create_clock(3), Some(Some(1_796_145_370)));
    j.finished(1, &RowOutcome::invalid("x")).unwrap();
    drop(j);
    let (_, r) = resume(&jp, &fp).unwrap();
    assert_eq!(r.create_clock(1), None, "a finished row is not in doubt");
    assert_eq!(
        r.create_clock(4),
        None,
        "a row without a mark is not in doubt"
    );
}

/// A journal as the previous version wrote it (format 1, `{"creating":N}` marks without a
/// clock) is the same run's journal and resumes: its marks are in doubt with no clock (the
/// names alone then decide).
#[test]
fn a_journal_of_the_previous_version_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let inp = input(dir.path(), "email\na@x.com\nb@x.com\n");
    let fp = Fingerprint::of(&inp, "upsert").unwrap();
    let jp = dir.path().join("r.journal");
    let head = serde_json::to_string(&Head {
        journal: MAGIC.into(),
        version: 1,
        fingerprint: fp.clone(),
    })
    .unwrap();
    std::fs::write(
        &jp,
        format!(
            "{head}\n{{\"pid\":1}}\n{{\"creating\":1}}\n{{\"no\":1,\"result\":\"created\",\"id\":7}}\n{{\"creating\":2}}\n"
        ),
    )
    .unwrap();
    let (_, r) = resume(&jp, &fp).unwrap();
    assert_eq!(r.outcome(1).unwrap().customer_id, Some(7));
    assert_eq!(r.create_clock(2), Some(None));
    assert_eq!(r.in_doubt(), 1);
    // Other options are still refused.
    let e = resume(&jp, &Fingerprint::of(&inp, "create").unwrap())
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("options"), "{e:#}");
}
