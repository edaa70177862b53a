//! Unit tests of `outfile` (a child module, so private items stay reachable).

use super::temp::temp_pid;
use super::*;

#[test]
fn replaced_file_leaves_nothing_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    std::fs::write(&path, "old").unwrap();
    {
        let mut f = OutputFile::create(&path).unwrap();
        f.write_all(b"new").unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let mut f = OutputFile::create(&path).unwrap();
    f.write_all(b"new").unwrap();
    f.commit().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
}

/// A rewound file is written again from its start in the same temporary file (one file in
/// the directory all along), and ends where it was last written, however long it was before;
/// a sync with nothing written since makes the commit skip its own; a file written in place
/// cannot start over.
#[test]
fn a_rewound_file_ends_where_it_was_last_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    let mut f = OutputFile::create(&path).unwrap();
    f.write_all(b"a long first version\n").unwrap();
    f.flush().unwrap();
    let mut f = f.rewind().unwrap().expect("a replaced file can start over");
    f.write_all(b"short\n").unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    f.sync().unwrap();
    assert!(f.synced);
    f.commit().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "short\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let mut f = OutputFile::create(Path::new("/dev/null")).unwrap();
    f.write_all(b"x").unwrap();
    assert!(f.rewind().unwrap().is_none());
}

#[test]
fn temp_names_carry_the_pid() {
    assert_eq!(temp_pid(".out.csv.bc-customers-123-aB9xYz.tmp"), Some(123));
    assert_eq!(temp_pid(".a.b.bc-customers-7-x.tmp"), Some(7));
    assert_eq!(temp_pid(".out.csv.bc-customers-123-.tmp"), None);
    assert_eq!(temp_pid(".out.csv.XyZ123.tmp"), None);
    assert_eq!(temp_pid("out.csv.bc-customers-123-abc.tmp"), None);
    assert_eq!(temp_pid(".out.csv.bc-customers-x1-abc.tmp"), None);
    let dir = tempfile::tempdir().unwrap();
    let tmp = temp_file_in(dir.path(), "out.csv").unwrap();
    let name = tmp
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(temp_pid(&name), Some(std::process::id()), "{name}");
}

#[cfg(unix)]
#[test]
fn descriptors_and_devices_are_not_replaced() {
    assert_eq!(
        Target::of(Path::new("/dev/stdout")).unwrap(),
        Target::Descriptor(1)
    );
    assert_eq!(
        Target::of(Path::new("/dev/fd/2")).unwrap(),
        Target::Descriptor(2)
    );
    assert!(matches!(
        Target::of(Path::new("/dev/null")).unwrap(),
        Target::Special(_)
    ));
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink("target.csv", &link).unwrap();
    assert_eq!(
        Target::of(&link).unwrap(),
        Target::File(dir.path().join("target.csv"))
    );
    assert!(Target::of(dir.path()).is_err());
}
