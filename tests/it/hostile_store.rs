//! Issue 11: trust under a hostile or broken store. The binary runs against a hostile server
//! (`hostile_server.rs`) that stands in front of the sandbox: text quoting the request's
//! token and password (errors and 200s, under both APIs), gzip bombs, absurd rate-limit
//! headers, odd 2xx answers, undocumented duplicate statuses, impossible counts. Redirects
//! are in `hostile_redirects`, the V3 row commands' own hostile stores in `hostile_v3`.

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use crate::hostile_server::{json, response, run_bounded, Action, Hostile, Outcome, Recorded};
use bc_customers::sandbox::SandboxConfig;

/// The binary with `args`, in the store's directory, pointed at `url` instead of the sandbox.
fn via(store: &Store, url: &str, args: &[&str]) -> Command {
    let mut cmd = store.command(args);
    cmd.env("BIGCOMMERCE_API_URL", url);
    cmd
}

/// [`via`], run to its end (90 s at most), checked for the token in what it printed.
pub(crate) fn run_via(store: &Store, url: &str, args: &[&str]) -> Outcome {
    let out = run_bounded(via(store, url, args), Duration::from_secs(90));
    assert_no_secret(&out.stdout, &store.token, &[]);
    assert_no_secret(&out.stderr, &store.token, &[]);
    out
}

/// Neither the token nor a password is in `text`, in any escaping: backslashes and quotes
/// are removed before comparing (a decoder quoting a JSON string that quotes the request's
/// JSON body shows a password with a quote in it escaped twice, `Hunter2\\\"Secret!`, and a
/// CSV cell doubles the quote).
fn assert_no_secret(text: &str, token: &str, passwords: &[&str]) {
    assert!(!text.contains(token), "the token leaked:\n{text}");
    let flat = |t: &str| t.replace(['\\', '"'], "");
    let text_flat = flat(text);
    for p in passwords {
        assert!(
            !text_flat.contains(&flat(p)),
            "a password ({p}) leaked:\n{text}"
        );
    }
}

pub(crate) fn seeded(n: usize) -> Store {
    Store::new(SandboxConfig {
        seed: n,
        ..config()
    })
}

// ---- 1. Redirects (the commands redirected: `hostile_redirects`) ----

/// A fatal answer is not asked for again: no request was sent twice.
pub(crate) fn assert_not_repeated(seen: &[Recorded]) {
    let mut once = std::collections::HashSet::new();
    for r in seen {
        assert!(
            once.insert((r.method.clone(), r.target.clone())),
            "{} {} was sent again: {seen:?}",
            r.method,
            r.target
        );
    }
}

#[test]
fn api_url_with_query_fragment_or_user_info_is_refused() {
    let store = Store::empty();
    let base = store.sb.base_url();
    let port = store.sb.addr().port();
    for url in [
        format!("{base}/?x=1"),
        format!("{base}#frag"),
        format!("http://user:pass@127.0.0.1:{port}"),
        format!("http://user@127.0.0.1:{port}"),
    ] {
        let out = run_via(&store, &url, &["count"]);
        out.expect(2);
        assert!(out.stderr.contains("--api-url"), "{}", out.stderr);
        assert!(
            !out.stderr.contains("pass@"),
            "user info is not echoed: {}",
            out.stderr
        );
    }
    assert_eq!(store.sb.counters().total, 0, "no request was sent");
}

// ---- 2. Secrets never echo back ----

/// Answers that quote the request (its headers, with the token, and its body, with the
/// password) in each shape the client reads: errors as a V2 array, a V3 object
/// (`{status,title,errors:{...}}`), plain text; and 200s that are not the records asked for:
/// a V3 envelope whose `data` is the quote, a V2 record whose fields are, records that are
/// the quote, the quote as a JSON string, plain text.
const QUOTING_SHAPES: usize = 8;

fn quoting(req: &Recorded, shape: usize) -> Vec<u8> {
    let quoted = format!(
        "you sent {} with body {}",
        req.head_text(),
        String::from_utf8_lossy(&req.body)
    );
    let s = serde_json::to_string(&quoted).unwrap();
    match shape {
        0 => json(400, &format!(r#"[{{"status":400,"message":{s}}}]"#)),
        1 => json(
            422,
            &format!(
                r#"{{"status":422,"title":{s},"errors":{{"password":{s},".customer_create":{s}}}}}"#
            ),
        ),
        2 => response(400, &[("Content-Type", "text/plain")], quoted.as_bytes()),
        3 => json(
            200,
            &format!(r#"{{"data":{s},"is_valid":{s},"meta":{{"pagination":{{"total":{s}}}}}}}"#),
        ),
        4 => json(
            200,
            &format!(r#"{{"id":{s},"email":{s},"success":{s},"count":{s}}}"#),
        ),
        // Records that are strings: a decoder names what it found, so it would quote them.
        5 => json(200, &format!(r#"{{"data":[{s}],"meta":[{s}]}}"#)),
        6 => json(200, &s),
        _ => response(200, &[("Content-Type", "text/plain")], quoted.as_bytes()),
    }
}

#[test]
fn store_text_quoting_the_request_never_echoes_the_token_or_a_password() {
    store_text_quoting_the_request_never_echoes_secrets("v2");
}

#[test]
fn v3_store_text_quoting_the_request_never_echoes_the_token_or_a_password() {
    store_text_quoting_the_request_never_echoes_secrets("v3");
}

/// Under `--api api`, at `-vv`: an import with a password, a password check and a count,
/// against a store whose writes (or every answer, for the count) quote the request in each
/// of [`QUOTING_SHAPES`]: the token and the passwords reach no output, results file or
/// summary, while the store's words are kept.
fn store_text_quoting_the_request_never_echoes_secrets(api: &str) {
    let store = seeded(2);
    // A quote in the password: a store quoting the JSON body shows it escaped (\").
    let pw_new = "Hunter2\"Secret!";
    let pw_check = "Other9Secret!";
    store.write(
        "new.csv",
        "email,first_name,last_name,password,password_confirmation\nq@example.com,Q,R,\"Hunter2\"\"Secret!\",\"Hunter2\"\"Secret!\"\n",
    );
    store.write("check.csv", &format!("id,password\n1,{pw_check}\n"));
    let passwords = [pw_new, r#"Hunter2\"Secret!"#, pw_check];
    for shape in 0..QUOTING_SHAPES {
        // Reads go through, writes are answered with the quoting answer.
        let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), move |req, _| {
            if req.method == "GET" {
                Action::Forward
            } else {
                Action::Raw(quoting(req, shape))
            }
        });
        let everything = Hostile::start("127.0.0.1", None, move |req, _| {
            Action::Raw(quoting(req, shape))
        });
        let url = proxy.url();
        let summary = format!("s{shape}.json");
        let results = format!("new{shape}.results.csv");
        // One retry: a 200 that is not the records is a create that may have happened,
        // looked up and sent again until the retries are spent.
        let out = run_via(
            &store,
            &url,
            &[
                "-vv",
                "--api",
                api,
                "--max-retries",
                "1",
                "import",
                "new.csv",
                "--results",
                &results,
                "--summary-json",
                &summary,
            ],
        );
        assert_ne!(out.code, 0, "shape {shape}: {}", out.stderr);
        let rows = store.csv(&results);
        assert_eq!(rows[0]["_result"], "failed", "shape {shape}: {rows:?}");
        if shape < 3 {
            assert!(
                rows[0]["_message"].contains("you sent"),
                "the store's words are kept: {rows:?}"
            );
        }
        let validate = format!("check{shape}.results.csv");
        let out2 = run_via(
            &store,
            &url,
            &[
                "-vv",
                "--api",
                api,
                "validate-password",
                "--input",
                "check.csv",
                "--results",
                &validate,
            ],
        );
        assert_ne!(out2.code, 0, "shape {shape}: {}", out2.stderr);
        // A fatal error: the whole message goes to stderr.
        let out3 = run_via(&store, &everything.url(), &["-vv", "--api", api, "count"]);
        out3.expect(1);
        assert!(out3.stdout.is_empty(), "shape {shape}: {}", out3.stdout);
        if shape < 3 {
            assert!(out3.stderr.contains("you sent"), "{}", out3.stderr);
        }
        for text in [
            out.stdout,
            out.stderr,
            out2.stdout,
            out2.stderr,
            out3.stderr,
            store.read(&results),
            store.read(&validate),
            store.read(&summary),
        ] {
            assert_no_secret(&text, &store.token, &passwords);
        }
        // The requests really carried what the store quoted back.
        let seen = proxy.requests();
        assert!(everything.requests()[0].head_text().contains(&store.token));
        assert!(seen
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains(pw_check)));
        assert!(seen
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains(r#"Hunter2\"Secret!"#)));
    }
}

// ---- 4. Bodies are capped; a huge token file is refused ----

/// 1 MiB of spaces as a raw deflate block that refers to nothing before it: repeated, it
/// decodes to 1 MiB more each time, so a gzip bomb of any size costs nothing to make.
fn deflated_mebibyte() -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::fast(), false);
    let input = vec![b' '; 1 << 20];
    let mut out = Vec::with_capacity(64 << 10);
    c.compress_vec(&input, &mut out, flate2::FlushCompress::Full)
        .unwrap();
    assert_eq!(c.total_in(), input.len() as u64);
    out
}

/// Stream `[` and then up to 1 GiB of spaces, gzip-encoded (a ~1 MB body) or plain.
fn bomb(gzip: bool) -> Action {
    let encoding = if gzip {
        "Content-Encoding: gzip\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{encoding}Connection: close\r\n\r\n"
    );
    Action::Stream(
        head,
        Box::new(move |conn| {
            use std::io::Write;
            if gzip {
                let block = deflated_mebibyte();
                let mut first = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
                first.extend_from_slice(&block);
                if conn.write_all(&first).is_err() {
                    return;
                }
                for _ in 1..1024 {
                    if conn.write_all(&block).is_err() {
                        return;
                    }
                }
                // The final empty block and a trailer (never reached by a capped reader).
                let _ = conn.write_all(&[3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            } else {
                let chunk = vec![b' '; 1 << 20];
                for _ in 0..1024 {
                    if conn.write_all(&chunk).is_err() {
                        return;
                    }
                }
            }
        }),
    )
}

#[test]
fn response_bodies_are_capped_also_after_gzip() {
    let store = Store::empty();
    for gzip in [true, false] {
        for args in [
            &["count"][..],
            &["export", "--output", "out.csv"][..],
            &["--api", "v3", "count"][..],
            &["--api", "v3", "export", "--output", "out.csv"][..],
        ] {
            let proxy = Hostile::start("127.0.0.1", None, move |_, _| bomb(gzip));
            let out = run_via(&store, &proxy.url(), args);
            out.expect(1);
            assert!(
                out.stderr.contains("larger than"),
                "gzip={gzip} {args:?}: says the answer is too big\n{}",
                out.stderr
            );
            assert!(
                out.max_rss_kib < 200 * 1024,
                "gzip={gzip} {args:?}: peak memory {} MiB",
                out.max_rss_kib / 1024
            );
            assert_not_repeated(&proxy.requests());
        }
    }
    assert!(!store.path("out.csv").exists());
}

#[test]
fn a_huge_token_file_is_refused_by_size() {
    let store = Store::empty();
    let big = store.path("big-token.txt");
    std::fs::write(&big, "x".repeat(1 << 20)).unwrap();
    for file in ["/dev/zero", big.to_str().unwrap()] {
        let mut cmd = store.command(&["count", "--token-file", file]);
        cmd.env_remove("BIGCOMMERCE_ACCESS_TOKEN");
        let out = run_bounded(cmd, Duration::from_secs(20));
        assert_ne!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stderr.contains("token file") && out.stderr.contains("KiB"),
            "{file}: {}",
            out.stderr
        );
        assert!(out.max_rss_kib < 100 * 1024, "read at most a few KiB");
    }
    assert_eq!(store.sb.counters().total, 0);
}

// ---- 5. Waits are bounded and visible ----

#[test]
fn requests_left_zero_without_a_quota_never_stalls() {
    let store = Store::empty();
    let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), |_, _| {
        Action::ForwardWithHeaders(vec![("X-Rate-Limit-Requests-Left".into(), "0".into())])
    });
    for api in ["v2", "v3"] {
        let file = format!("{api}.csv");
        store.write(&file, &new_customers_csv(3, api));
        let out = run_bounded(
            via(&store, &proxy.url(), &["--api", api, "import", &file]),
            Duration::from_secs(40),
        );
        out.expect(0);
    }
    assert_eq!(store.sb.customers().len(), 6);
}

/// The first `n` requests get a 429 with `headers`; the rest go to the sandbox.
fn throttled(store: &Store, n: usize, headers: Vec<(&'static str, &'static str)>) -> Hostile {
    Hostile::start("127.0.0.1", Some(store.sb.addr()), move |_, no| {
        if no < n {
            Action::Raw(response(429, &headers, b""))
        } else {
            Action::Forward
        }
    })
}

fn capped_lines(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains("longer than") && l.contains("capped"))
        .count()
}

#[test]
fn waits_longer_than_the_stores_window_are_capped_with_one_line() {
    let store = seeded(2);
    let window = ("X-Rate-Limit-Time-Window-Ms", "300");
    for headers in [
        vec![("X-Rate-Limit-Time-Reset-Ms", "3600000"), window],
        vec![("X-Retry-After", "1e30"), window],
        vec![
            ("X-Retry-After", "1e30"),
            ("X-Rate-Limit-Time-Reset-Ms", "1e300"),
            ("X-Rate-Limit-Requests-Left", "0"),
            ("X-Rate-Limit-Requests-Quota", "10"),
            window,
        ],
    ] {
        for api in ["v2", "v3"] {
            let proxy = throttled(&store, 2, headers.clone());
            let out = run_bounded(
                via(&store, &proxy.url(), &["--api", api, "count"]),
                Duration::from_secs(30),
            );
            out.expect(0);
            assert_eq!(out.stdout.trim(), "2");
            assert_eq!(
                capped_lines(&out.stderr),
                1,
                "{api} {headers:?}: one line says the wait was capped\n{}",
                out.stderr
            );
            assert!(
                out.stderr.contains("0.3 s"),
                "names the window: {}",
                out.stderr
            );
        }
    }
    // Negative, NaN and empty values are no headers at all: the usual backoff.
    let proxy = throttled(
        &store,
        2,
        vec![
            ("X-Rate-Limit-Time-Reset-Ms", "-5"),
            ("X-Retry-After", "NaN"),
            ("X-Rate-Limit-Requests-Left", ""),
        ],
    );
    let out = run_bounded(
        via(&store, &proxy.url(), &["count"]),
        Duration::from_secs(30),
    );
    out.expect(0);
    assert_eq!(capped_lines(&out.stderr), 0, "{}", out.stderr);
}

#[test]
fn absurd_reset_times_on_successful_answers_do_not_overflow() {
    let store = Store::empty();
    let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), |_, _| {
        Action::ForwardWithHeaders(vec![
            ("X-Rate-Limit-Requests-Left".into(), "0".into()),
            ("X-Rate-Limit-Requests-Quota".into(), "5".into()),
            ("X-Rate-Limit-Time-Reset-Ms".into(), "1e300".into()),
            ("X-Rate-Limit-Time-Window-Ms".into(), "200".into()),
        ])
    });
    for api in ["v2", "v3"] {
        let file = format!("{api}.csv");
        store.write(&file, &new_customers_csv(4, api));
        let out = run_bounded(
            via(&store, &proxy.url(), &["--api", api, "import", &file]),
            Duration::from_secs(40),
        );
        out.expect(0);
        assert_eq!(capped_lines(&out.stderr), 1, "{api}: {}", out.stderr);
    }
    assert_eq!(store.sb.customers().len(), 8);
}

// ---- 11. Smaller defects ----

#[test]
fn group_create_answered_207_is_looked_up_by_name() {
    let store = Store::new(SandboxConfig {
        group_create_207: true,
        ..config()
    });
    let run = store.run(&["groups", "create", "Wholesale EU"]);
    run.expect(0);
    let id = run.stdout.trim().to_string();
    assert_ne!(id, "0", "{}", run.stderr);
    let list = store.run(&["groups", "list"]);
    assert!(
        list.stdout.contains(&format!("{id},Wholesale EU,")),
        "{}",
        list.stdout
    );
    // --create-missing-groups gives the row the group it created.
    store.write(
        "in.csv",
        "email,first_name,last_name,customer_group\nt@example.com,T,U,Trade\n",
    );
    store
        .run(&["import", "in.csv", "--create-missing-groups"])
        .expect(0);
    let list = store.run(&["groups", "list"]).stdout;
    let trade: u64 = list
        .lines()
        .find(|l| l.contains(",Trade,"))
        .and_then(|l| l.split(',').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("Trade was created: {list}"));
    let c = &store.sb.customers()[0];
    assert_eq!(c["customer_group_id"], trade, "{c}");
}

#[test]
fn a_2xx_without_an_id_is_never_a_record_with_id_0() {
    let store = Store::empty();
    // The store commits, then answers with something that is not the record.
    let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), |req, _| {
        let body = String::from_utf8_lossy(&req.body);
        match (req.method.as_str(), req.path()) {
            ("POST", p) if p.ends_with("/customer_groups") => {
                Action::ForwardThenReplace(200, br#"{"status":200,"message":"OK"}"#.to_vec())
            }
            ("POST", p) if p.ends_with("/customers") && body.contains("first@") => {
                Action::ForwardThenReplace(200, b"{}".to_vec())
            }
            ("POST", p) if p.ends_with("/customers") => {
                Action::ForwardThenReplace(201, b"<html>created</html>".to_vec())
            }
            _ => Action::Forward,
        }
    });
    let out = run_via(&store, &proxy.url(), &["groups", "create", "Odd"]);
    out.expect(0);
    let groups = store.run(&["groups", "list"]).stdout;
    let odd = groups
        .lines()
        .find(|l| l.contains(",Odd,"))
        .and_then(|l| l.split(',').next())
        .unwrap()
        .to_string();
    assert_eq!(out.stdout.trim(), odd, "the real id, looked up by name");
    store.write(
        "in.csv",
        "email,first_name,last_name\nfirst@example.com,F,L\nsecond@example.com,S,L\n",
    );
    run_via(&store, &proxy.url(), &["import", "in.csv"]).expect(0);
    let rows = store.csv("in.results.csv");
    let customers = store.sb.customers();
    assert_eq!(customers.len(), 2, "created once each: {customers:?}");
    for row in &rows {
        let c = customers
            .iter()
            .find(|c| c["email"] == row["email"].as_str())
            .unwrap();
        assert_eq!(row["_result"], "created");
        assert_eq!(row["_customer_id"], c["id"].to_string(), "{rows:?}");
    }
}

#[test]
fn a_resent_create_refused_as_duplicate_is_reconciled_under_409_400_422() {
    for status in [409u16, 400, 422] {
        let store = Store::new(SandboxConfig {
            duplicate_email_status: status,
            ..config()
        });
        store.write("in.csv", &new_customers_csv(1, "dup"));
        // The first create is committed and its answer lost; the email lookup that follows
        // misses it (a lagging index), so the create is sent again and refused as a duplicate.
        let dropped = Arc::new(AtomicBool::new(false));
        let stale_lookups = Arc::new(AtomicUsize::new(0));
        let proxy = {
            let dropped = dropped.clone();
            let stale_lookups = stale_lookups.clone();
            Hostile::start("127.0.0.1", Some(store.sb.addr()), move |req, _| {
                if req.method == "POST" && req.path().ends_with("/customers") {
                    if !dropped.swap(true, Ordering::SeqCst) {
                        return Action::ForwardThenDrop;
                    }
                } else if req.method == "GET"
                    && req.query().contains("email=")
                    && dropped.load(Ordering::SeqCst)
                    && stale_lookups.fetch_add(1, Ordering::SeqCst) == 0
                {
                    return Action::Raw(response(204, &[], b""));
                }
                Action::Forward
            })
        };
        let out = run_via(&store, &proxy.url(), &["import", "in.csv"]);
        out.expect(0);
        let rows = store.csv("in.results.csv");
        let customers = store.sb.customers();
        assert_eq!(customers.len(), 1, "{status}");
        assert_eq!(rows[0]["_result"], "created", "{status}: {rows:?}");
        assert_eq!(rows[0]["_customer_id"], customers[0]["id"].to_string());
        let posts = proxy
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count();
        assert_eq!(posts, 2, "{status}: the lost create, then the refused one");
        assert_eq!(stale_lookups.load(Ordering::SeqCst), 2, "looked up twice");
    }
}

#[test]
fn count_answers_that_are_not_a_count_are_errors() {
    let store = Store::empty();
    // V2's `{count}`, and V3's total of a one-customer page.
    let v3 = |total: &str| format!(r#"{{"data":[],"meta":{{"pagination":{{"total":{total}}}}}}}"#);
    let mut bad: Vec<(&str, String)> = [
        r#"{"count":-5}"#,
        r#"{"count":1e30}"#,
        r#"{"count":"abc"}"#,
        r#"{"count":2.5}"#,
        r#"{"status":200}"#,
        r#"[]"#,
    ]
    .iter()
    .map(|b| ("v2", b.to_string()))
    .collect();
    for total in ["-5", "1e30", r#""abc""#, "2.5", "null"] {
        bad.push(("v3", v3(total)));
    }
    for body in [
        r#"{"data":null}"#,
        r#"{"status":200}"#,
        "[]",
        r#"{"count":7}"#,
    ] {
        bad.push(("v3", body.to_string()));
    }
    for (api, body) in bad {
        let answer = json(200, &body);
        let proxy = Hostile::start("127.0.0.1", None, move |_, _| Action::Raw(answer.clone()));
        let out = run_via(&store, &proxy.url(), &["--api", api, "count"]);
        out.expect(1);
        assert!(
            out.stdout.is_empty(),
            "{api} {body}: printed {}",
            out.stdout
        );
        assert!(
            out.stderr.contains("count") || out.stderr.contains("total"),
            "{api} {body}: {}",
            out.stderr
        );
    }
    for (api, body, want) in [
        ("v2", r#"{"count":7}"#.to_string(), "7"),
        ("v2", r#"{"count":"12"}"#.to_string(), "12"),
        ("v2", r#"{"count":3.0}"#.to_string(), "3"),
        ("v3", v3("7"), "7"),
        ("v3", v3(r#""12""#), "12"),
        ("v3", v3("3.0"), "3"),
    ] {
        let answer = json(200, &body);
        let proxy = Hostile::start("127.0.0.1", None, move |_, _| Action::Raw(answer.clone()));
        let out = run_via(&store, &proxy.url(), &["--api", api, "count"]);
        out.expect(0);
        assert_eq!(out.stdout.trim(), want, "{api} {body}");
    }
}
