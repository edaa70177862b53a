//! Issue 5: hostile and broken input (the corpus under `tests/corpus/` plus generated giants),
//! and secrets: the token and passwords at the most verbose setting, token-file permissions,
//! plain http to a non-loopback host.

use std::path::Path;

use crate::common::*;

/// What a corpus file must produce.
enum Expect {
    /// Exit 1 before a results file exists, with this in the message.
    Fatal(&'static str),
    /// Exit `code`, and a complete results file with these `_result`s in order.
    Results(i32, &'static [&'static str]),
}

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus")
            .join(name),
    )
    .unwrap()
}

/// Run `import` on `bytes` and check the outcome, the absence of panics and of temp files,
/// and that the results file is either absent or complete.
fn check(store: &Store, name: &str, bytes: &[u8], expect: Expect) {
    std::fs::write(store.path(name), bytes).unwrap();
    let results = format!("{name}.results.csv");
    let run = store.run(&["import", name, "--results", &results]);
    assert!(
        !run.stderr.contains("panicked"),
        "{name}: panic\n{}",
        run.stderr
    );
    match expect {
        Expect::Fatal(fragment) => {
            run.expect(1);
            assert!(
                run.stderr.contains(fragment),
                "{name}: expected {fragment:?} in\n{}",
                run.stderr
            );
            assert!(
                run.stderr.len() < 4000,
                "{name}: the message stays readable ({} bytes)",
                run.stderr.len()
            );
            assert!(
                !store.path(&results).exists(),
                "{name}: no results file after a fatal error"
            );
        }
        Expect::Results(code, want) => {
            run.expect(code);
            let rows = store.csv(&results);
            assert_eq!(results_of(&rows), want, "{name}: {rows:?}");
        }
    }
    for e in std::fs::read_dir(store.dir.path()).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.ends_with(".tmp"), "{name}: temporary file {n} left");
    }
}

#[test]
fn broken_and_hostile_files_give_clear_messages_never_panics() {
    let store = Store::empty();
    use Expect::*;
    let cases: &[(&str, Expect)] = &[
        ("empty.csv", Fatal("the file is empty")),
        ("header_only.csv", Results(0, &[])),
        ("bom.csv", Results(0, &["created"])),
        ("crlf.csv", Results(0, &["created", "created"])),
        ("duplicate_headers.csv", Fatal("appears twice")),
        // A European Excel's delimiter is sniffed from the header line.
        ("semicolon.csv", Results(0, &["created"])),
        ("ragged.csv", Results(3, &["invalid", "invalid", "created"])),
        // The open quote would swallow the rest of the file into one short record: the
        // whole-file check refuses it before anything is sent.
        (
            "unterminated_quote.csv",
            Fatal("line 2, column \"first_name\""),
        ),
        ("nul_bytes.csv", Results(0, &["created", "created"])),
        ("formula.csv", Results(3, &["invalid"])),
        // Not UTF-8: read as Windows-1252, what Excel on Windows saves.
        ("invalid_utf8.csv", Results(0, &["created", "created"])),
    ];
    for (name, expect) in cases {
        let expect = match expect {
            Fatal(f) => Fatal(f),
            Results(c, w) => Results(*c, w),
        };
        check(&store, name, &corpus(name), expect);
    }
    let ragged = store.csv("ragged.csv.results.csv");
    assert!(
        ragged[0]["_message"].contains("2 fields but the header has 3"),
        "{ragged:?}"
    );
    // The BOM is not part of the first column's name; the results file of a BOM input starts
    // with one too (Excel reads it back the same way).
    let bom = store.read("bom.csv.results.csv");
    assert!(bom.starts_with("\u{feff}_row,_result,_customer_id,_message,email,"));
    assert!(store
        .sb
        .customers()
        .iter()
        .any(|c| c["email"] == "ok@example.com"));
}

#[test]
fn giant_field_and_100k_columns_are_handled() {
    let store = Store::empty();
    // A 2 MB notes cell: the row is reported (the store refuses the body), the run goes on.
    let mut big = b"email,first_name,last_name,notes\n".to_vec();
    big.extend_from_slice(b"big@example.com,Big,Field,");
    big.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    big.extend_from_slice(b"\nsmall@example.com,Small,Field,hi\n");
    std::fs::write(store.path("big.csv"), &big).unwrap();
    let run = store.run(&["import", "big.csv", "--results", "big.results.csv"]);
    run.expect(3);
    let rows = store.csv("big.results.csv");
    assert_eq!(results_of(&rows)[1], "created");
    assert!(
        rows[0]["_result"] == "invalid" || rows[0]["_message"].contains("413"),
        "{:?}",
        rows[0]["_message"]
    );
    assert!(run.stderr.len() < 4000, "no 2 MB message");

    // 100,000 columns: a fatal, short message naming the first few.
    let mut wide = String::from("email");
    for i in 0..100_000 {
        wide.push_str(&format!(",c{i}"));
    }
    wide.push_str("\nwide@example.com");
    wide.push_str(&",".repeat(100_000));
    wide.push('\n');
    check(
        &store,
        "wide.csv",
        wide.as_bytes(),
        Expect::Fatal("and 99990 more"),
    );
    // …and with --ignore-unknown-columns the row goes through.
    let run = store.run(&[
        "import",
        "wide.csv",
        "--results",
        "wide.results.csv",
        "--ignore-unknown-columns",
    ]);
    run.expect(3); // no names for a new customer: invalid, but not a crash
    assert_eq!(store.csv("wide.results.csv").len(), 1);
}

#[test]
fn most_verbose_run_leaks_no_token_and_no_password() {
    let store = Store::empty();
    store.write(
        "pw.csv",
        "email,first_name,last_name,password,password_confirmation\nv@example.com,V,W,Hunter2Secret!,Hunter2Secret!\nbad,V,W,Other9Secret!,Other9Secret!\n",
    );
    let tf = store.write("token.txt", &store.token);
    set_mode(&tf, 0o600);
    let run = store.run(&[
        "-vv",
        "import",
        "pw.csv",
        "--token-file",
        tf.to_str().unwrap(),
        "--summary-json",
        "s.json",
    ]);
    run.expect(3);
    assert!(
        run.stderr.contains("[http] POST /customers -> 200"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("warning: the token file"));
    for text in [
        run.stdout.clone(),
        run.stderr.clone(),
        store.read("pw.results.csv"),
        store.read("s.json"),
    ] {
        assert!(!text.contains(&store.token), "token leaked: {text}");
        assert!(
            !text.contains("Hunter2Secret") && !text.contains("Other9Secret"),
            "password leaked: {text}"
        );
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
#[test]
fn token_file_readable_by_others_warns() {
    let store = Store::empty();
    let tf = store.write("token.txt", &store.token);
    set_mode(&tf, 0o644);
    let run = store.run(&["count", "--token-file", tf.to_str().unwrap()]);
    run.expect(0);
    assert!(
        run.stderr.contains("readable by group or others") && run.stderr.contains("chmod 600"),
        "{}",
        run.stderr
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_any_request() {
    let store = Store::empty();
    store.write("in.csv", &new_customers_csv(2, "h"));
    for url in ["http://example.com", "http://10.1.2.3:8080", "ftp://x"] {
        let run = store.run(&["import", "in.csv", "--api-url", url]);
        run.expect(2);
        assert!(run.stderr.contains("https://"), "{}", run.stderr);
    }
    assert_eq!(store.sb.counters().total, 0, "no request was sent");
    assert!(!store.path("in.results.csv").exists());
}
