//! Issue 11 item 6 and issue 12 item 8: where output goes. Devices, FIFOs and inherited
//! descriptors are written in place and never replaced by a regular file; a symlink's target is
//! replaced and the link stays; two outputs naming one file, or an output naming an input, is
//! exit 2 before any request; temporary files of killed runs are swept; `--bom` and results
//! files of BOM inputs start with a UTF-8 BOM.
//!
//! The machine's own `/dev/null` and `/dev/full` are only written by code that writes devices
//! in place; the tests that would break a device on a regression use device nodes they make
//! in their temporary directory (as root; otherwise the real ones, which a non-root run cannot
//! replace anyway).
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use bc_customers::sandbox::SandboxConfig;

use crate::common::*;

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn seeded(n: usize) -> Store {
    Store::new(SandboxConfig {
        seed: n,
        ..config()
    })
}

/// A character device node `major:minor` in `dir` (1:3 is a null device, 1:7 a full one), or
/// the system's own when nodes cannot be made (not root: then nothing can replace it either).
fn device_node(dir: &Path, name: &str, major: u32, minor: u32, system: &str) -> PathBuf {
    let path = dir.join(name);
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mknod with a NUL-terminated path; it only creates a node.
    let rc = unsafe {
        libc::mknod(
            c.as_ptr(),
            libc::S_IFCHR | 0o666,
            libc::makedev(major, minor),
        )
    };
    if rc == 0 {
        path
    } else {
        PathBuf::from(system)
    }
}

fn assert_char_device(path: &Path, major: u32, minor: u32) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    assert!(
        meta.file_type().is_char_device() && meta.rdev() == libc::makedev(major, minor),
        "{} is no longer the {major}:{minor} character device: {meta:?}",
        path.display()
    );
}

/// The machine's device is still a device after `f` ran; if not, it is made again (so a
/// regression cannot leave the machine without it) and the test fails.
fn keeping_system_device(path: &str, major: u32, minor: u32, f: impl FnOnce()) {
    let ok = |p: &str| {
        std::fs::symlink_metadata(p).is_ok_and(|m| {
            m.file_type().is_char_device() && m.rdev() == libc::makedev(major, minor)
        })
    };
    assert!(ok(path), "{path} was already broken before the test");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    if !ok(path) {
        let _ = std::fs::remove_file(path);
        let status = std::process::Command::new("mknod")
            .args([
                "-m",
                "666",
                path,
                "c",
                &major.to_string(),
                &minor.to_string(),
            ])
            .status();
        panic!("{path} was replaced by the run (restored with mknod: {status:?})");
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// A FIFO in `dir`, and a thread reading it to the end (None if nothing arrives in time).
fn fifo_reader(dir: &Path, name: &str) -> (PathBuf, mpsc::Receiver<Vec<u8>>) {
    let path = dir.join(name);
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let (tx, rx) = mpsc::channel();
    let p = path.clone();
    std::thread::spawn(move || {
        // Blocks until the writer opens the FIFO.
        let mut bytes = Vec::new();
        if std::fs::File::open(&p)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .is_ok()
        {
            let _ = tx.send(bytes);
        }
    });
    (path, rx)
}

fn received(rx: &mpsc::Receiver<Vec<u8>>, what: &str) -> String {
    let bytes = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("nothing was written into the FIFO {what}"));
    String::from_utf8(bytes).unwrap()
}

fn csv_rows(text: &str) -> usize {
    csv::Reader::from_reader(text.as_bytes()).records().count()
}

fn is_fifo(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_fifo())
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn export_to_the_system_dev_null_leaves_it_a_device() {
    let store = seeded(30);
    keeping_system_device("/dev/null", 1, 3, || {
        store.run(&["export", "-o", "/dev/null"]).expect(0);
        store
            .run(&[
                "export",
                "-o",
                "/dev/null",
                "--addresses",
                "/dev/null",
                "--summary-json",
                "/dev/null",
            ])
            .expect(0);
    });
    assert!(!Path::new("/dev/null.journal").exists());
}

#[test]
fn a_device_node_is_written_in_place_never_replaced() {
    let store = seeded(30);
    let null = device_node(store.dir.path(), "null", 1, 3, "/dev/null");
    let n = null.to_str().unwrap();
    std::fs::write(store.path("in.csv"), new_customers_csv(3, "dev")).unwrap();
    store.run(&["export", "-o", n, "--addresses", n]).expect(0);
    store
        .run(&["import", "in.csv", "--results", n, "--summary-json", n])
        .expect(0);
    assert_char_device(&null, 1, 3);
    // No journal and no temporary file beside a results file written in place.
    assert!(!PathBuf::from(format!("{n}.journal")).exists());
    assert_eq!(temp_files(store.dir.path()), Vec::<String>::new());
    // The journal that makes --resume possible cannot live beside a device.
    for args in [
        &["import", "in.csv", "--results", n, "--resume"][..],
        &[
            "delete",
            "--input",
            "in.csv",
            "--yes",
            "--results",
            n,
            "--resume",
        ],
    ] {
        let run = store.run(args);
        run.expect(2);
        assert!(
            run.stderr.contains("--resume needs --results"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(
        store.count("POST /customers"),
        3,
        "the refused runs sent nothing"
    );
    assert_eq!(store.sb.customers().len(), 33, "nothing was deleted");
    // Without --resume, a row command runs without a journal.
    store
        .run(&[
            "set-group",
            "--group",
            "1",
            "--input",
            "in.csv",
            "--results",
            n,
        ])
        .expect(0);
    assert!(!PathBuf::from(format!("{n}.journal")).exists());
}

#[test]
fn a_write_error_on_a_device_is_a_clear_failure() {
    let store = seeded(30);
    std::fs::write(store.path("in.csv"), new_customers_csv(2, "full")).unwrap();
    let check = |full: &Path| {
        let f = full.to_str().unwrap();
        let _ = std::fs::remove_file(store.path("out.csv"));
        let run = store.run(&["export", "-o", f]);
        run.expect(1);
        assert!(
            run.stderr.contains(f) && run.stderr.contains("No space left on device"),
            "{}",
            run.stderr
        );
        let run = store.run(&["export", "-o", "out.csv", "--addresses", f]);
        run.expect(1);
        assert!(run.stderr.contains("No space left"), "{}", run.stderr);
        assert!(
            !store.path("out.csv").exists(),
            "no customer file when the addresses failed"
        );
        let run = store.run(&["import", "in.csv", "--results", f]);
        run.expect(1);
        assert!(run.stderr.contains("No space left"), "{}", run.stderr);
        let run = store.run(&["export", "-o", "out.csv", "--summary-json", f]);
        run.expect(1);
        assert!(run.stderr.contains("No space left"), "{}", run.stderr);
    };
    let full = device_node(store.dir.path(), "full", 1, 7, "/dev/full");
    check(&full);
    assert_char_device(&full, 1, 7);
    keeping_system_device("/dev/full", 1, 7, || check(Path::new("/dev/full")));
}

#[test]
fn fifos_get_the_bytes_and_stay_fifos() {
    let store = seeded(40);
    let dir = store.dir.path();
    let (out, out_rx) = fifo_reader(dir, "customers.fifo");
    let (addr, addr_rx) = fifo_reader(dir, "addresses.fifo");
    store
        .run(&[
            "export",
            "-o",
            "customers.fifo",
            "--addresses",
            "addresses.fifo",
        ])
        .expect(0);
    let customers = received(&out_rx, "of customers");
    assert_eq!(csv_rows(&customers), 40);
    assert!(customers.starts_with("id,email,"), "{customers}");
    assert!(received(&addr_rx, "of addresses").starts_with("customer_id,"));

    std::fs::write(store.path("in.csv"), new_customers_csv(5, "fifo")).unwrap();
    let (results, results_rx) = fifo_reader(dir, "results.fifo");
    let (summary, summary_rx) = fifo_reader(dir, "summary.fifo");
    store
        .run(&[
            "import",
            "in.csv",
            "--results",
            "results.fifo",
            "--summary-json",
            "summary.fifo",
        ])
        .expect(0);
    let rows = received(&results_rx, "of results");
    assert_eq!(csv_rows(&rows), 5);
    assert!(rows.starts_with("_row,_result,"), "{rows}");
    let json: serde_json::Value =
        serde_json::from_str(&received(&summary_rx, "of the summary")).unwrap();
    assert_eq!(json["status"], "ok");
    for p in [&out, &addr, &results, &summary] {
        assert!(is_fifo(p), "{} is no longer a FIFO", p.display());
    }
    assert!(!store.path("results.fifo.journal").exists());
    assert_eq!(temp_files(dir), Vec::<String>::new());
}

#[test]
fn a_symlink_is_followed_and_its_target_replaced() {
    let store = seeded(20);
    let dir = store.dir.path();
    std::fs::create_dir(dir.join("backups")).unwrap();
    std::fs::write(dir.join("backups/real.csv"), "old backup\n").unwrap();
    std::os::unix::fs::symlink("backups/real.csv", dir.join("latest.csv")).unwrap();
    // A dangling link: its target is created.
    std::os::unix::fs::symlink("backups/new-results.csv", dir.join("results.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/null", dir.join("discard")).unwrap();
    store
        .run(&["export", "-o", "latest.csv", "--summary-json", "discard"])
        .expect(0);
    assert!(std::fs::symlink_metadata(dir.join("latest.csv"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(csv_rows(&store.read("backups/real.csv")), 20);
    assert!(std::fs::symlink_metadata(dir.join("discard"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_char_device(Path::new("/dev/null"), 1, 3);

    std::fs::write(store.path("in.csv"), new_customers_csv(4, "link")).unwrap();
    store
        .run(&["import", "in.csv", "--results", "results.csv"])
        .expect(0);
    assert!(std::fs::symlink_metadata(dir.join("results.csv"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(csv_rows(&store.read("backups/new-results.csv")), 4);
    assert_eq!(temp_files(dir), Vec::<String>::new());
    assert_eq!(temp_files(&dir.join("backups")), Vec::<String>::new());
}

#[test]
fn standard_output_named_as_a_file_is_written_through_not_replaced() {
    let store = seeded(25);
    let dir = store.dir.path();
    // What /dev/stdout is on Linux, as a link of our own (a regression replaces this link,
    // not the machine's /dev/stdout).
    std::os::unix::fs::symlink("/proc/self/fd/1", dir.join("stdout")).unwrap();
    let log = dir.join("cron.log");
    std::fs::write(&log, "earlier line\n").unwrap();
    let out = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let status = store
        .command(&["export", "-o", "stdout", "--quiet"])
        .stdout(out)
        .stderr(std::process::Stdio::inherit())
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let body = text
        .strip_prefix("earlier line\n")
        .unwrap_or_else(|| panic!("the log was replaced, not appended to: {text:?}"));
    assert_eq!(csv_rows(body), 25);
    assert!(std::fs::symlink_metadata(dir.join("stdout"))
        .unwrap()
        .file_type()
        .is_symlink());

    // A pipe: the summary arrives on stdout.
    std::fs::write(store.path("in.csv"), new_customers_csv(2, "out")).unwrap();
    let run = store.run(&["import", "in.csv", "--summary-json", "stdout"]);
    run.expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["command"], "import");
}

#[test]
fn two_outputs_naming_one_file_or_an_output_naming_an_input_is_exit_2() {
    let store = seeded(10);
    let dir = store.dir.path();
    std::fs::create_dir(dir.join("sub")).unwrap();
    let input = "email,first_name,last_name\nsame@example.com,S,F\n";
    store.write("in.csv", input);
    store.write("ids.csv", "id,password\n1,secret-1\n");
    store.write("a.csv", "previous\n");
    store.write("tok.txt", &store.token);
    store.write(
        "map.toml",
        "[columns]\nemail = \"email\"\nfirst_name = \"first_name\"\nlast_name = \"last_name\"\n",
    );
    std::os::unix::fs::symlink("a.csv", dir.join("link-to-a.csv")).unwrap();
    std::os::unix::fs::symlink("/proc/self/fd/1", dir.join("stdout")).unwrap();
    let cases: &[&[&str]] = &[
        &["export", "-o", "a.csv", "--addresses", "./a.csv"],
        &["export", "-o", "sub/../a.csv", "--summary-json", "a.csv"],
        &["export", "-o", "a.csv", "--addresses", "link-to-a.csv"],
        // The customers go to stdout, and so would the summary.
        &["export", "--summary-json", "stdout"],
        &["export", "-o", "tok.txt", "--token-file", "tok.txt"],
        &["import", "in.csv", "--summary-json", "in.csv"],
        &[
            "import",
            "in.csv",
            "--results",
            "a.csv",
            "--summary-json",
            "./a.csv",
        ],
        &[
            "import",
            "in.csv",
            "--results",
            "a.csv",
            "--summary-json",
            "a.csv.journal",
        ],
        &[
            "import",
            "in.csv",
            "--mapping",
            "map.toml",
            "--results",
            "map.toml",
        ],
        &[
            "import",
            "in.csv",
            "--summary-json",
            "sub/../tok.txt",
            "--token-file",
            "tok.txt",
        ],
        &[
            "set-group",
            "--group",
            "1",
            "--input",
            "in.csv",
            "--summary-json",
            "in.csv",
        ],
        &[
            "set-group",
            "--group",
            "1",
            "--filter",
            "min_id=1",
            "--results",
            "a.csv",
            "--summary-json",
            "link-to-a.csv",
        ],
        &[
            "delete",
            "--input",
            "in.csv",
            "--results",
            "a.csv",
            "--summary-json",
            "a.csv",
        ],
        &["delete", "--input", "in.csv", "--summary-json", "./in.csv"],
        &[
            "validate-password",
            "--input",
            "ids.csv",
            "--summary-json",
            "sub/../ids.csv",
        ],
        &[
            "validate-password",
            "--input",
            "ids.csv",
            "--results",
            "link-to-a.csv",
            "--summary-json",
            "a.csv",
        ],
    ];
    for args in cases {
        let run = store.run(args);
        assert_eq!(
            run.code, 2,
            "{args:?} must be a usage error\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout, run.stderr
        );
        assert!(
            run.stderr.contains("same file") || run.stderr.contains("would be overwritten"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(store.sb.counters().total, 0, "no request was sent");
    assert_eq!(store.read("in.csv"), input);
    assert_eq!(store.read("a.csv"), "previous\n");
    assert_eq!(store.read("tok.txt"), store.token);
    assert!(!store.path("a.csv.journal").exists());
    // A summary path that is not part of the clash still records the failed run.
    store
        .run(&[
            "export",
            "-o",
            "a.csv",
            "--addresses",
            "./a.csv",
            "--summary-json",
            "s.json",
        ])
        .expect(2);
    let summary: serde_json::Value = serde_json::from_str(&store.read("s.json")).unwrap();
    assert_eq!(
        (summary["status"].as_str(), summary["exit_code"].as_i64()),
        (Some("error"), Some(2))
    );
    assert_eq!(store.read("a.csv"), "previous\n");
    assert_eq!(store.sb.counters().total, 0, "no request was sent");

    // Character devices hold nothing to overwrite: two outputs into one null device is fine.
    let null = device_node(dir, "null", 1, 3, "/dev/null");
    let n = null.to_str().unwrap();
    store.run(&["export", "-o", n, "--addresses", n]).expect(0);
    assert_char_device(&null, 1, 3);
}

#[test]
fn temporary_files_of_killed_runs_are_swept_and_live_ones_kept() {
    let store = seeded(10);
    let dir = store.dir.path();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let live = std::process::id();
    let stale = format!(".out.csv.bc-customers-{dead}-a1B2c3.tmp");
    let stale_spill = format!(".export-spill.bc-customers-{dead}-Zz9Zz9.tmp");
    let live_pid = format!(".out.csv.bc-customers-{live}-d4E5f6.tmp");
    let locked = format!(".other.csv.bc-customers-{dead}-g7H8i9.tmp");
    let not_ours = ".out.csv.Xy12Ab.tmp".to_string();
    for name in [&stale, &stale_spill, &live_pid, &locked, &not_ours] {
        std::fs::write(dir.join(name), "partial").unwrap();
    }
    // Held as a live run holds its temporary file, whatever its pid says.
    let holder = std::fs::File::open(dir.join(&locked)).unwrap();
    holder.lock().unwrap();
    store.run(&["export", "-o", "out.csv"]).expect(0);
    let mut left = temp_files(dir);
    left.sort();
    let mut want = vec![live_pid.clone(), locked.clone(), not_ours.clone()];
    want.sort();
    assert_eq!(left, want);
    drop(holder);

    // The results directory of a row command is swept too.
    std::fs::create_dir(dir.join("res")).unwrap();
    let stale_results = format!(".r.csv.bc-customers-{dead}-j1K2l3.tmp");
    std::fs::write(dir.join("res").join(&stale_results), "partial").unwrap();
    store.write("in.csv", &new_customers_csv(2, "sweep"));
    store
        .run(&["import", "in.csv", "--results", "res/r.csv"])
        .expect(0);
    assert_eq!(temp_files(&dir.join("res")), Vec::<String>::new());
    // Now unlocked, and its pid dead: the next run writing here takes it away.
    store.run(&["export", "-o", "out.csv"]).expect(0);
    let mut left = temp_files(dir);
    left.sort();
    let mut want = vec![live_pid, not_ours];
    want.sort();
    assert_eq!(left, want);
}

#[test]
fn bom_on_every_csv_written_and_results_keep_the_inputs_bom() {
    let store = seeded(12);
    let export = |args: &[&str]| {
        let mut all = vec!["--bom", "export"];
        all.extend_from_slice(args);
        store.run(&all).expect(0).stdout.clone()
    };
    export(&["-o", "out.csv", "--addresses", "addr.csv"]);
    export(&["-o", "out.csv.gz"]);
    let stdout = export(&[]);
    for name in ["out.csv", "addr.csv"] {
        let bytes = std::fs::read(store.path(name)).unwrap();
        assert!(bytes.starts_with(BOM), "{name} has no BOM");
        assert!(!bytes[3..].starts_with(BOM), "{name} has two BOMs");
    }
    let mut gz = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(store.path("out.csv.gz")).unwrap())
        .read_to_end(&mut gz)
        .unwrap();
    assert!(
        gz.starts_with(BOM),
        "the compressed CSV starts with the BOM"
    );
    assert!(stdout.as_bytes().starts_with(BOM), "stdout export");
    let groups = store
        .run(&["groups", "list", "--bom"])
        .expect(0)
        .stdout
        .clone();
    assert!(groups.as_bytes().starts_with(BOM), "groups list");
    // Without --bom, nothing changes.
    store.run(&["export", "-o", "plain.csv"]).expect(0);
    assert!(std::fs::read(store.path("plain.csv"))
        .unwrap()
        .starts_with(b"id,"));
    // A command that writes no CSV refuses the flag rather than ignoring it.
    store.run(&["count", "--bom"]).expect(2);

    // The export with a BOM imports back unchanged, and its results file keeps the BOM.
    store
        .run(&["import", "out.csv", "--results", "out.results.csv"])
        .expect(0);
    let results = std::fs::read(store.path("out.results.csv")).unwrap();
    assert!(
        results.starts_with(BOM),
        "results of a BOM input have a BOM"
    );
    assert!(results[3..].starts_with(b"_row,_result,"));
    let rows = store.csv("out.results.csv");
    assert!(rows.iter().all(|r| r["_result"] == "unchanged"), "{rows:?}");

    // An Excel-saved file (BOM) with a bad row, fixed in the results file and fed back.
    let mut input = BOM.to_vec();
    input.extend_from_slice(
        "email,first_name,last_name\nada@example.com,Ada,Lovelace\nnot-an-email,Bad,Row\nzoë@example.com,Zoë,Ångström\n"
            .as_bytes(),
    );
    std::fs::write(store.path("excel.csv"), &input).unwrap();
    store.run(&["import", "excel.csv"]).expect(3);
    let results = std::fs::read(store.path("excel.results.csv")).unwrap();
    assert!(
        results.starts_with(BOM),
        "no BOM on the results of a BOM input"
    );
    let fixed = String::from_utf8(results)
        .unwrap()
        .replace("not-an-email", "bad@example.com");
    std::fs::write(store.path("excel.results.csv"), fixed).unwrap();
    store
        .run(&["import", "excel.results.csv", "--only-failed"])
        .expect(0);
    let again = std::fs::read(store.path("excel.results.results.csv")).unwrap();
    assert!(again.starts_with(BOM));
    let rows = store.csv("excel.results.results.csv");
    let results: Vec<_> = rows
        .iter()
        .map(|r| (r["_row"].as_str(), r["_result"].as_str()))
        .collect();
    assert_eq!(
        results,
        [("1", "created"), ("2", "created"), ("3", "created")]
    );
    assert!(store
        .sb
        .customers()
        .iter()
        .any(|c| c["email"] == "bad@example.com"));
    // --bom without a BOM input.
    store.write("plain-in.csv", &new_customers_csv(1, "bom"));
    store.run(&["import", "plain-in.csv", "--bom"]).expect(0);
    assert!(std::fs::read(store.path("plain-in.results.csv"))
        .unwrap()
        .starts_with(BOM));
    store
        .run(&["import", "plain-in.csv", "--results", "nobom.csv"])
        .expect(0);
    assert!(std::fs::read(store.path("nobom.csv"))
        .unwrap()
        .starts_with(b"_row,"));
    let _ = std::io::stdout().flush();
}

#[test]
fn a_killed_export_leaves_temporary_files_that_the_next_run_removes() {
    let store = Store::new(SandboxConfig {
        // At one request at a time, the export takes seconds: it is killed mid-way.
        seed: 3000,
        latency_ms: 200,
        ..config()
    });
    let dir = store.dir.path();
    let mut child = store
        .command(&[
            "export",
            "-o",
            "backup.csv",
            "--concurrency",
            "1",
            "--quiet",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Both the output's temporary file and the spill exist from before the first request.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while temp_files(dir).len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL: no destructor runs, nothing is cleaned up
    child.wait().unwrap();
    assert_eq!(
        temp_files(dir).len(),
        2,
        "the killed run left its temporary files"
    );
    assert!(!store.path("backup.csv").exists());
    store
        .run(&["export", "-o", "other.csv", "--filter", "max_id=10"])
        .expect(0);
    assert_eq!(temp_files(dir), Vec::<String>::new());
}

/// Excel's file piped in (`import -`) keeps its BOM in the results file too: the input is
/// spooled and read once, and that reading saw the BOM, so standard input is no exception.
#[test]
fn a_bom_on_standard_input_reaches_the_results_file() {
    let store = seeded(2);
    let mut input = BOM.to_vec();
    input.extend_from_slice(new_customers_csv(3, "stdin-bom").as_bytes());
    store
        .run_with_stdin(&["import", "-", "--results", "r.csv"], Some(&input))
        .expect(0);
    let bytes = std::fs::read(store.path("r.csv")).unwrap();
    assert!(
        bytes.starts_with(BOM),
        "the results file has the input's BOM"
    );
    assert!(!bytes[3..].starts_with(BOM), "one BOM only");
}
