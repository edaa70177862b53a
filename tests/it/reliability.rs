//! Issue 5: `--resume` after `kill -9`, lost responses, chaos (every fault at once), rate-limit
//! manners, atomic outputs after a fatal error.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use bc_customers::sandbox::SandboxConfig;

/// Every customer in the store by lowercased email, asserting no email appears twice.
fn customers_by_email(store: &Store) -> HashMap<String, serde_json::Value> {
    let mut by_email = HashMap::new();
    for c in store.sb.customers() {
        let email = c["email"].as_str().unwrap().to_lowercase();
        assert!(
            by_email.insert(email.clone(), c).is_none(),
            "duplicate customer {email}"
        );
    }
    by_email
}

/// Every input row appears once, in order, with `_row` 1..=n.
fn assert_complete_and_ordered(rows: &[HashMap<String, String>], n: usize) {
    assert_eq!(rows.len(), n, "one result per input record");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["_row"], (i + 1).to_string(), "results in input order");
    }
}

/// No temporary file (`.<name>.*.tmp`) left in the directory.
fn assert_no_temp_files(store: &Store) {
    let temps: Vec<String> = std::fs::read_dir(store.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

fn journal_lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().filter(|l| l.starts_with("{\"no\"")).count())
        .unwrap_or(0)
}

/// Start the binary, SIGKILL it once the journal records `after` finished rows (or it ends).
fn run_and_kill(store: &Store, args: &[&str], journal: &std::path::Path, after: usize) -> bool {
    let mut child = store
        .command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if journal_lines(journal) >= after || Instant::now() > deadline {
            child.kill().unwrap(); // SIGKILL: no destructor, no flush, no cleanup runs
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn resume_after_kill_9_reports_every_row_once_and_creates_none_twice() {
    resume_after_kill_9("v2");
}

/// Under V3 a kill lands mid-batch: the batch's hook marked its rows before the POST, so the
/// resumed run looks each of them up by email before creating it.
#[test]
fn resume_after_kill_9_mid_batch_reports_every_row_once_under_v3() {
    resume_after_kill_9("v3");
}

fn resume_after_kill_9(api: &str) {
    let store = Store::new(SandboxConfig {
        latency_ms: 4,
        ..config()
    });
    let n = 2000;
    // Every 10th row also has an address, so resumed rows finish address creates too.
    let mut csv = String::from(
        "email,first_name,last_name,phone,address_street_1,address_city,address_state,address_zip,address_country\n",
    );
    for i in 0..n {
        if i % 10 == 0 {
            csv.push_str(&format!(
                "k{i}@example.com,F{i},L{i},555-0100,{i} Main St,Austin,Texas,78701,United States\n"
            ));
        } else {
            csv.push_str(&format!("k{i}@example.com,F{i},L{i},555-0100,,,,,\n"));
        }
    }
    store.write("in.csv", &csv);
    let journal = store.path("out.csv.journal");
    let args = [
        "import",
        "in.csv",
        "--mode",
        "create",
        "--results",
        "out.csv",
        "--concurrency",
        "8",
        "--resume",
        "--api",
        api,
    ];
    let mut kills = 0;
    for after in [150, 600, 1100, 1600] {
        if run_and_kill(&store, &args, &journal, after) {
            kills += 1;
            assert!(journal.exists(), "the journal survives kill -9");
            assert!(
                !store.path("out.csv").exists(),
                "no results file from a killed run"
            );
            assert_no_temp_files_but_killed(&store);
        }
    }
    assert!(kills >= 2, "the run was killed mid-way at least twice");
    store.sb.reset_counters();
    let finished_before = journal_lines(&journal);
    let run = store.run(&args);
    run.expect(0);
    assert!(run.stderr.contains("resuming"), "{}", run.stderr);
    let posts = store.count("POST /customers") + store.count("POST /v3/customers");
    assert!(
        (posts as usize) <= n - finished_before + 8 * 5,
        "finished rows are not sent again"
    );
    if api == "v3" {
        // The rows left over, in batches of up to 10 (plus re-sends of a batch cut short).
        assert!(
            (posts as usize) <= (n - finished_before) / 10 + 8 * 5,
            "{posts}"
        );
    }
    eprintln!(
        "resume {api}: kills={kills} finished_before={finished_before} posts_on_resume={posts} note={:?}",
        run.stderr.lines().find(|l| l.starts_with("resuming"))
    );
    let rows = store.csv("out.csv");
    assert_complete_and_ordered(&rows, n);
    assert!(
        rows.iter().all(|r| r["_result"] == "created"),
        "{:?}",
        rows.iter()
            .filter(|r| r["_result"] != "created")
            .take(5)
            .collect::<Vec<_>>()
    );
    let by_email = customers_by_email(&store);
    assert_eq!(by_email.len(), n, "every row created exactly once");
    assert_eq!(store.sb.customers().len(), n, "{api}: no customer twice");
    for r in &rows {
        let c = &by_email[&r["email"].to_lowercase()];
        assert_eq!(r["_customer_id"], c["id"].to_string());
    }
    for i in (0..n).step_by(10) {
        let id = by_email[&format!("k{i}@example.com")]["id"]
            .as_u64()
            .unwrap();
        assert_eq!(
            store.sb.addresses(id).len(),
            1,
            "row {i}'s address added exactly once"
        );
    }
    assert!(!journal.exists(), "the journal is removed on success");
    assert_no_temp_files(&store);
}

/// After a kill the OutputFile's temp file may remain (no destructor ran); it never has the
/// results file's name, and the finished run replaces nothing with it. So may the run's lock
/// file, unlocked once the process is gone (the next run takes it over and removes it).
fn assert_no_temp_files_but_killed(store: &Store) {
    for e in std::fs::read_dir(store.dir.path()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name == "in.csv"
                || name == "out.csv.journal"
                || name == "out.csv.journal.lock"
                || name.ends_with(".tmp"),
            "unexpected file {name}"
        );
    }
}

#[test]
fn resume_refuses_another_input_and_a_plain_rerun_refuses_to_drop_the_journal() {
    let store = Store::empty();
    store.write("a.csv", &new_customers_csv(300, "a"));
    store.sb.set_latency_ms(3);
    let journal = store.path("out.csv.journal");
    let args = ["import", "a.csv", "--results", "out.csv"];
    assert!(run_and_kill(&store, &args, &journal, 20));
    // Same command without --resume: refused, the journal is kept.
    let run = store.run(&args);
    run.expect(2);
    assert!(run.stderr.contains("--resume"), "{}", run.stderr);
    assert!(journal.exists());
    // Another input under the same results name.
    store.write("a.csv", &new_customers_csv(301, "b"));
    let run = store.run(&["import", "a.csv", "--results", "out.csv", "--resume"]);
    run.expect(1);
    assert!(
        run.stderr.contains("cannot resume") && run.stderr.contains("changed"),
        "{}",
        run.stderr
    );
    // Other options.
    store.write("a.csv", &new_customers_csv(300, "a"));
    store
        .run(&[
            "import",
            "a.csv",
            "--results",
            "out.csv",
            "--resume",
            "--dry-run",
        ])
        .expect(2);
    store
        .run(&["import", "-", "--results", "out.csv", "--resume"])
        .expect(2);
    assert!(!store.path("out.csv").exists());
}

#[test]
fn lost_responses_create_update_and_add_addresses_exactly_once() {
    let store = Store::new(SandboxConfig {
        lost_response_rate: 0.3,
        rng_seed: 7,
        ..config()
    });
    // 100 existing customers to update, 200 new ones; every row has an address.
    let mut csv = String::from(
        "email,first_name,last_name,phone,address_street_1,address_city,address_state,address_zip,address_country\n",
    );
    for i in 0..300 {
        if i < 100 {
            store.sb.insert_customer(serde_json::json!({
                "email": format!("u{i}@example.com"), "first_name": "Old", "last_name": "Name", "phone": "555-0101"
            }));
            csv.push_str(&format!(
                "u{i}@example.com,New{i},Name,555-0101,{i} Elm St,Boston,Massachusetts,02101,United States\n"
            ));
        } else {
            csv.push_str(&format!(
                "c{i}@example.com,C{i},Name,555-0102,{i} Oak St,Denver,Colorado,80201,United States\n"
            ));
        }
    }
    store.write("in.csv", &csv);
    let run = store.run(&[
        "import",
        "in.csv",
        "--results",
        "out.csv",
        "--max-retries",
        "8",
    ]);
    if run.code != 0 && store.path("out.csv").exists() {
        // Which rows did not land, and the store's words for them.
        for r in store.csv("out.csv") {
            if r["_result"] != "updated" && r["_result"] != "created" {
                eprintln!("not done: {r:?}");
            }
        }
    }
    run.expect(0);
    let lost = store.sb.counters().lost_responses;
    assert!(lost > 50, "the sandbox lost {lost} responses");
    let rows = store.csv("out.csv");
    assert_complete_and_ordered(&rows, 300);
    let by_email = customers_by_email(&store);
    assert_eq!(by_email.len(), 300);
    for (i, r) in rows.iter().enumerate() {
        let want = if i < 100 { "updated" } else { "created" };
        assert_eq!(r["_result"], want, "{r:?}");
        let c = &by_email[&r["email"]];
        assert_eq!(c["first_name"], r["first_name"].as_str());
        let id = c["id"].as_u64().unwrap();
        assert_eq!(store.sb.addresses(id).len(), 1, "one address for {r:?}");
    }
}

/// Every write's answer lost after the store committed it (a gateway that times out on
/// every write): creates and addresses are settled by a lookup, and so are updates, read
/// back instead of repeated until `--max-retries` is spent. The flaky run above was this at
/// 30%: a seed-7 stretch of draws (15 of 19 lost) met one row's repeats while the ordered
/// window waited for it, and its update, in the store nine times over, was reported failed.
#[test]
fn every_answer_lost_still_lands_each_row_once_and_updates_are_read_back() {
    let store = Store::new(SandboxConfig {
        lost_response_rate: 1.0,
        ..config()
    });
    let mut csv = String::from(
        "email,first_name,last_name,phone,address_street_1,address_city,address_state,address_zip,address_country\n",
    );
    for i in 0..20 {
        if i < 10 {
            store.sb.insert_customer(serde_json::json!({
                "email": format!("u{i}@example.com"), "first_name": "Old", "last_name": "Name"
            }));
        }
        let who = if i < 10 { "u" } else { "c" };
        csv.push_str(&format!(
            "{who}{i}@example.com,New{i},Name,555-0101,{i} Elm St,Boston,Massachusetts,02101,United States\n"
        ));
    }
    store.write("in.csv", &csv);
    let run = store.run(&[
        "import",
        "in.csv",
        "--results",
        "out.csv",
        "--max-retries",
        "2",
    ]);
    run.expect(0);
    let rows = store.csv("out.csv");
    assert_complete_and_ordered(&rows, 20);
    let by_email = customers_by_email(&store);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(
            r["_result"],
            if i < 10 { "updated" } else { "created" },
            "{r:?}"
        );
        let c = &by_email[&r["email"]];
        assert_eq!(c["first_name"], r["first_name"].as_str());
        let id = c["id"].as_u64().unwrap();
        assert_eq!(store.sb.addresses(id).len(), 1, "one address for {r:?}");
    }
    // Each update was sent once: its lost answer was settled by one read.
    assert_eq!(store.count("PUT /customers/{id}"), 10);
    assert_eq!(store.count("POST /customers"), 10);
}

/// Another app on the same store eating the whole quota (its 429s carry no headers either)
/// until our import has sent a few requests into it, so the import meets header-less 429s
/// however the timing falls.
fn competing_app(store: &Store) {
    let addr = store.sb.addr();
    let request = format!(
        "GET /stores/{}/v2/customer_groups HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        store.sb.store_hash(),
        store.token
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    // Saturated, the import's first requests are 429s: a few of them are enough. Four
    // connections at once, and until the import has tried a dozen requests: one competitor
    // on a busy 2-core machine sometimes did not spend a window before the import's first
    // six requests went through (the test then saw no 429 at all).
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while store.count("GET /customers/count") + store.count("POST /customers") < 12
                    && Instant::now() < deadline
                {
                    if let Ok(mut s) = std::net::TcpStream::connect(addr) {
                        let _ = s.write_all(request.as_bytes());
                        let _ = s.read_to_end(&mut Vec::new());
                    }
                }
            });
        }
    });
}

#[test]
fn headerless_429s_are_backed_off_and_every_row_lands() {
    let store = Store::new(SandboxConfig {
        quota: Some(10),
        window_ms: 100,
        rate_headers_on_429: false,
        ..config()
    });
    store.write("in.csv", &new_customers_csv(60, "h"));
    let run = std::thread::scope(|scope| {
        scope.spawn(|| competing_app(&store));
        store.run(&[
            "import",
            "in.csv",
            "--results",
            "out.csv",
            "--concurrency",
            "8",
            "--summary-json",
            "s.json",
        ])
    });
    run.expect(0);
    let summary: serde_json::Value = serde_json::from_str(&store.read("s.json")).unwrap();
    assert!(
        summary["rate_limited"].as_u64().unwrap() > 0,
        "the competing app made us meet header-less 429s: {summary}"
    );
    eprintln!("headerless: {summary}");
    assert_eq!(summary["results"]["created"], 60);
    assert_eq!(customers_by_email(&store).len(), 60);
}

#[test]
fn small_quota_429s_stay_under_two_percent() {
    let store = Store::new(SandboxConfig {
        quota: Some(100),
        window_ms: 400,
        ..config()
    });
    store.write("in.csv", &new_customers_csv(600, "q"));
    store
        .run(&[
            "import",
            "in.csv",
            "--results",
            "out.csv",
            "--concurrency",
            "8",
        ])
        .expect(0);
    let c = store.sb.counters();
    eprintln!("quota: {} 429s in {} requests", c.rate_limited, c.total);
    assert!(
        c.rate_limited * 50 < c.total,
        "{} 429s in {} requests",
        c.rate_limited,
        c.total
    );
    assert_eq!(customers_by_email(&store).len(), 600);
}

#[test]
fn chaos_every_fault_at_once_ends_with_the_expected_store() {
    let n = 2000;
    let store = Store::new(SandboxConfig {
        quota: Some(150),
        window_ms: 300,
        fail_rate: 0.05,
        drop_rate: 0.05,
        lost_response_rate: 0.1,
        latency_ms: 1,
        rng_seed: 42,
        ..config()
    });
    // A third of the rows update existing customers, the rest create; some duplicates in file.
    let mut csv = String::from("email,first_name,last_name,phone\n");
    let mut expected: HashMap<String, (String, String)> = HashMap::new();
    for i in 0..n {
        let email = format!("x{}@example.com", i % 1900);
        if i < 600 && !expected.contains_key(&email) {
            store.sb.insert_customer(
                serde_json::json!({"email": email, "first_name": "Old", "last_name": "Old"}),
            );
        }
        let (first, phone) = (format!("F{i}"), format!("555-{i:04}"));
        csv.push_str(&format!("{email},{first},L,{phone}\n"));
        // Later rows for the same email win (applied in file order).
        expected.insert(email, (first, phone));
    }
    store.write("in.csv", &csv);
    let started = Instant::now();
    store
        .run(&[
            "import",
            "in.csv",
            "--results",
            "out.csv",
            "--concurrency",
            "16",
            "--max-retries",
            "10",
            "--summary-json",
            "s.json",
        ])
        .expect(0);
    let elapsed = started.elapsed();
    let rows = store.csv("out.csv");
    assert_complete_and_ordered(&rows, n);
    let by_email = customers_by_email(&store);
    assert_eq!(
        by_email.len(),
        expected.len(),
        "no customer lost or doubled"
    );
    for (email, (first, phone)) in &expected {
        let c = &by_email[email];
        assert_eq!(c["first_name"], first.as_str(), "{email}");
        assert_eq!(c["phone"], phone.as_str(), "{email}");
    }
    let c = store.sb.counters();
    let summary: serde_json::Value = serde_json::from_str(&store.read("s.json")).unwrap();
    assert!(c.injected_5xx > 0 && c.dropped > 0 && c.lost_responses > 0);
    eprintln!(
        "chaos: rows={n} customers={} requests={} 5xx={} dropped={} lost_responses={} 429s={} client_retries={} client_429s={} elapsed={:.1}s results={}",
        by_email.len(),
        c.total,
        c.injected_5xx,
        c.dropped,
        c.lost_responses,
        c.rate_limited,
        summary["retries"],
        summary["rate_limited"],
        elapsed.as_secs_f64(),
        summary["results"]
    );
    let created: HashSet<&str> = rows
        .iter()
        .filter(|r| r["_result"] == "created")
        .map(|r| r["email"].as_str())
        .collect();
    assert_eq!(
        created.len(),
        rows.iter().filter(|r| r["_result"] == "created").count(),
        "no email created twice"
    );
}

#[test]
fn fatal_error_mid_import_leaves_the_previous_results_and_no_temp_file() {
    let store = Store::empty();
    // Valid rows, then a byte that is not UTF-8 at record 400 of a file said to be UTF-8:
    // fatal, with the line number, and found by the whole-file check before any write.
    let mut bytes = new_customers_csv(399, "f").into_bytes();
    bytes.extend_from_slice(b"bad\xff@example.com,A,B,1,1\n");
    bytes.extend_from_slice(
        new_customers_csv(10, "g")
            .split_once('\n')
            .unwrap()
            .1
            .as_bytes(),
    );
    std::fs::write(store.path("in.csv"), bytes).unwrap();
    store.write("out.csv", "previous results\n");
    let run = store.run(&[
        "import",
        "in.csv",
        "--results",
        "out.csv",
        "--encoding",
        "utf-8",
    ]);
    run.expect(1);
    assert!(run.stderr.contains("line 401"), "{}", run.stderr);
    assert_eq!(store.sb.counters().writes, 0, "{}", run.stderr);
    assert_eq!(store.read("out.csv"), "previous results\n");
    assert_no_temp_files(&store);

    // An export that fails mid-way leaves the previous export alone.
    store.write("export.csv", "previous export\n");
    store.sb.set_faults(1.0, 0.0, 0.0);
    store
        .run(&["export", "--output", "export.csv", "--max-retries", "1"])
        .expect(1);
    assert_eq!(store.read("export.csv"), "previous export\n");
    assert_no_temp_files(&store);
}

#[test]
fn store_going_away_mid_import_is_fatal_and_leaves_no_results_file() {
    // Not a `Store`: this sandbox must be shut down while the import runs.
    let cfg = SandboxConfig {
        latency_ms: 3,
        ..config()
    };
    let token = cfg.token.clone();
    let sb = bc_customers::sandbox::Sandbox::spawn(cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), new_customers_csv(1000, "gone")).unwrap();
    std::fs::write(dir.path().join("out.csv"), "previous results\n").unwrap();
    let journal = dir.path().join("out.csv.journal");
    let child = Command::new(env!("CARGO_BIN_EXE_bc-customers"))
        .args([
            "import",
            "in.csv",
            "--results",
            "out.csv",
            "--max-retries",
            "1",
        ])
        .current_dir(dir.path())
        .env("BIGCOMMERCE_API_URL", sb.base_url())
        .env("BIGCOMMERCE_STORE_HASH", sb.store_hash())
        .env("BIGCOMMERCE_ACCESS_TOKEN", &token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while journal_lines(&journal) < 100 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(sb.counters().collection_deletes, 0);
    sb.shutdown();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(!stderr.contains(&token));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.csv")).unwrap(),
        "previous results\n"
    );
    assert!(journal.exists(), "the journal keeps the finished rows");
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.ends_with(".tmp"), "temporary file {n} left");
    }
}

#[test]
fn token_revoked_mid_import_is_fatal_then_resume_finishes_the_job() {
    let store = Store::new(SandboxConfig {
        latency_ms: 3,
        ..config()
    });
    store.write("in.csv", &new_customers_csv(600, "rv"));
    store.write("out.csv", "previous results\n");
    let journal = store.path("out.csv.journal");
    let mut child = store
        .command(&[
            "import",
            "in.csv",
            "--results",
            "out.csv",
            "--mode",
            "create",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while journal_lines(&journal) < 100 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    store.sb.set_token_revoked(true);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("401") && stderr.contains("--resume"),
        "{stderr}"
    );
    assert!(!stderr.contains(&store.token));
    assert_eq!(store.read("out.csv"), "previous results\n");
    assert_no_temp_files(&store);
    let done = journal_lines(&journal);
    assert!(
        (100..600).contains(&done),
        "{done} rows finished before the 401"
    );

    // The merchant restores API access; the same command with --resume finishes the job.
    store.sb.set_token_revoked(false);
    store.sb.reset_counters();
    store
        .run(&[
            "import",
            "in.csv",
            "--results",
            "out.csv",
            "--mode",
            "create",
            "--resume",
        ])
        .expect(0);
    assert!(store.count("POST /customers") <= (600 - done + 8) as u64);
    let rows = store.csv("out.csv");
    assert_complete_and_ordered(&rows, 600);
    assert!(rows.iter().all(|r| r["_result"] == "created"));
    assert_eq!(customers_by_email(&store).len(), 600);
    assert!(!journal.exists());
}

/// The options that change what a row means are the journal's fingerprint: resuming with one
/// of them changed would mix two runs, so it is refused, the message shows the option in both
/// runs, the journal is kept, and the same options then resume.
#[test]
fn resume_with_a_changed_option_is_refused_and_says_which() {
    let store = Store::empty();
    store.write("a.csv", &new_customers_csv(300, "a"));
    store.sb.set_latency_ms(3);
    let journal = store.path("out.csv.journal");
    let args = ["import", "a.csv", "--results", "out.csv"];
    assert!(run_and_kill(&store, &args, &journal, 20));
    for (flag, value, before, after) in [
        ("--blank", "clear", "blank=\"Keep\"", "blank=\"Clear\""),
        ("--mode", "create", "mode=\"upsert\"", "mode=\"create\""),
    ] {
        let run = store.run(&[
            "import",
            "a.csv",
            "--results",
            "out.csv",
            "--resume",
            flag,
            value,
        ]);
        run.expect(1);
        assert!(
            run.stderr.contains("cannot resume")
                && run.stderr.contains("options")
                && run.stderr.contains(before)
                && run.stderr.contains(after),
            "{}",
            run.stderr
        );
        assert!(journal.exists(), "the journal is kept");
    }
    let run = store.run(&["import", "a.csv", "--results", "out.csv", "--resume"]);
    run.expect(0);
    assert_eq!(customers_by_email(&store).len(), 300);
}

/// `set-group --filter` keeps no journal, and needs none: setting a group twice is harmless,
/// and the customers are whatever the store lists when the command runs. After a kill -9 the
/// same command run again moves the rest, sends nothing for the customers already moved
/// (they are `unchanged`), and its help says that this is how to continue.
#[test]
fn set_group_by_filter_killed_then_run_again_moves_the_rest_once() {
    let store = Store::new(SandboxConfig {
        seed: 300,
        latency_ms: 4,
        ..config()
    });
    let group_of = |store: &Store| -> HashMap<u64, u64> {
        store
            .sb
            .customers()
            .iter()
            .map(|c| {
                let id = c["id"].as_u64().unwrap();
                (id, c["customer_group_id"].as_u64().unwrap())
            })
            .collect()
    };
    let before = group_of(&store);
    // The seed's "Wholesale" group is id 2.
    let to_move = before.values().filter(|&&g| g != 2).count() as u64;
    assert!(to_move > 150, "{to_move}");
    let args = [
        "set-group",
        "--group",
        "Wholesale",
        "--filter",
        "max_id=100000",
        "--concurrency",
        "2",
    ];
    let mut child = store
        .command(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.count("PUT /customers/{id}") < to_move / 3 && Instant::now() < deadline {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL: nothing is cleaned up
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let first_puts = store.count("PUT /customers/{id}");
    let moved = group_of(&store);
    let moved_first: Vec<u64> = moved
        .iter()
        .filter(|(id, &g)| g == 2 && before[id] != 2)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        !moved_first.is_empty() && (moved_first.len() as u64) < to_move,
        "{} of {to_move} moved before the kill",
        moved_first.len()
    );
    // Run again: the rest is moved, each with one PUT; the first run's moves cost nothing.
    store.run(&args).expect(0);
    let results = store.csv("set-group.results.csv");
    assert_eq!(results.len(), before.len());
    for r in &results {
        let id: u64 = r["id"].parse().unwrap();
        let want = if before[&id] == 2 || moved_first.contains(&id) {
            "unchanged"
        } else {
            "updated"
        };
        assert_eq!(r["_result"], want, "{r:?}");
    }
    let second_puts = store.count("PUT /customers/{id}") - first_puts;
    assert_eq!(second_puts, to_move - moved_first.len() as u64);
    assert!(group_of(&store).values().all(|&g| g == 2));
    // The first run sent at most the writes in flight (2) beyond those that landed.
    assert!(first_puts <= moved_first.len() as u64 + 2, "{first_puts}");
    // And the help says how to continue.
    let help = store.run(&["set-group", "--help"]);
    help.expect(0);
    let text = help.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("Keeps no journal") && text.contains("run the same command again"),
        "{text}"
    );
}

/// What an interrupted `--mode create` run left with row 1's create in doubt: a real run is
/// killed (its journal's head is the binary's own fingerprint of this input and options),
/// then its journal is cut back to the head and row 1's create mark, as a run killed while
/// that create was in flight leaves it; the store keeps only row 1's customer (the create
/// landed) or nothing (it never did). Returns the resume's arguments and row 1's mark line.
fn interrupted_with_row_1_in_doubt(
    store: &Store,
    api: &str,
    mode: &str,
    landed: bool,
) -> ([String; 10], String) {
    store.write("in.csv", &new_customers_csv(300, "r"));
    store.sb.set_latency_ms(3);
    let journal = store.path("out.csv.journal");
    let args = [
        "import",
        "in.csv",
        "--mode",
        mode,
        "--results",
        "out.csv",
        "--resume",
        "--api",
        api,
        "--quiet",
    ]
    .map(String::from);
    let strs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(
        run_and_kill(store, &strs, &journal, 20),
        "the run was killed"
    );
    store.sb.set_latency_ms(0);
    let text = std::fs::read_to_string(&journal).unwrap();
    let head = text.lines().next().unwrap();
    let mark = text
        .lines()
        .find(|l| l.starts_with(r#"{"creating":1,"#) || *l == r#"{"creating":1}"#)
        .unwrap_or_else(|| panic!("no create mark for row 1: {text}"))
        .to_string();
    std::fs::write(&journal, format!("{head}\n{mark}\n")).unwrap();
    for c in store.sb.customers() {
        if !(landed && c["email"] == "r0@example.com") {
            store.sb.delete_customer(c["id"].as_u64().unwrap());
        }
    }
    (args, mark)
}

/// A customer someone else created with row 1's email and names, long before the
/// interrupted run sent its create, is not that create: `--resume --mode create` refuses the
/// row naming it and why, sends it nothing, and never reports it `created`. Before the create
/// mark kept the store's clock, the resume took any customer found as the interrupted
/// create: it was reported `created` with the foreign customer's id.
#[test]
fn resume_never_takes_a_customer_created_before_the_interrupted_create_under_v2() {
    resume_never_takes_a_foreign_customer("v2");
}

#[test]
fn resume_never_takes_a_customer_created_before_the_interrupted_create_under_v3() {
    resume_never_takes_a_foreign_customer("v3");
}

fn resume_never_takes_a_foreign_customer(api: &str) {
    let store = Store::empty();
    let (args, mark) = interrupted_with_row_1_in_doubt(&store, api, "create", false);
    let foreign = store.sb.insert_customer(serde_json::json!({
        "email": "r0@example.com", "first_name": "First0", "last_name": "Last0",
        "phone": "999", "date_created": "2020-01-30T00:49:10Z",
    }));
    let strs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = store.run(&strs);
    run.expect(3); // one row failed
    let rows = store.csv("out.csv");
    assert_complete_and_ordered(&rows, 300);
    let r = &rows[0];
    assert_eq!(r["_result"], "failed", "{api}: {r:?}");
    assert_eq!(r["_customer_id"], foreign.to_string());
    for words in [
        "already exists",
        "not created by the interrupted run",
        "existed before the interrupted run sent its create",
        "2020-01-30T00:49:10Z",
    ] {
        assert!(r["_message"].contains(words), "{api}: {}", r["_message"]);
    }
    let c = customer(&store, "r0@example.com");
    assert_eq!(c["id"].as_u64(), Some(foreign));
    assert_eq!(
        c["phone"], "999",
        "{api}: the foreign customer is not updated"
    );
    assert!(rows[1..].iter().all(|r| r["_result"] == "created"));
    assert_eq!(store.sb.customers().len(), 300, "{api}: no customer twice");
    assert!(
        mark.contains(r#""clock":"#),
        "the mark records the store's clock: {mark}"
    );
}

/// Under upsert, someone else's customer found for a row whose create is in doubt (here:
/// its names are not the row's) gets the row as an ordinary update, reported `updated`.
#[test]
fn resume_updates_someone_elses_customer_as_an_ordinary_row_under_upsert() {
    for api in ["v2", "v3"] {
        let store = Store::empty();
        let (args, _) = interrupted_with_row_1_in_doubt(&store, api, "upsert", false);
        let foreign = store.sb.insert_customer(serde_json::json!({
            "email": "r0@example.com", "first_name": "Someone", "last_name": "Else",
            "phone": "999",
        }));
        let strs: Vec<&str> = args.iter().map(String::as_str).collect();
        store.run(&strs).expect(0);
        let rows = store.csv("out.csv");
        assert_complete_and_ordered(&rows, 300);
        assert_eq!(rows[0]["_result"], "updated", "{api}: {:?}", rows[0]);
        assert_eq!(rows[0]["_customer_id"], foreign.to_string(), "{api}");
        assert!(
            rows[0]["_message"].contains(
                "not created by the interrupted run: its name is not the one the interrupted run sent"
            ),
            "{api}: {:?}",
            rows[0]
        );
        let c = customer(&store, "r0@example.com");
        assert_eq!(
            (&c["first_name"], &c["phone"]),
            (&serde_json::json!("First0"), &serde_json::json!("555-0000")),
            "{api}"
        );
        assert!(rows[1..].iter().all(|r| r["_result"] == "created"), "{api}");
    }
}

/// The create did land: the resume confirms it as this row's `created` (its own id), and
/// an older journal's mark without a clock is still confirmed by the names.
#[test]
fn resume_confirms_an_interrupted_create_that_landed_under_v2_and_v3() {
    for api in ["v2", "v3"] {
        for old_journal in [false, true] {
            let store = Store::empty();
            let (args, _) = interrupted_with_row_1_in_doubt(&store, api, "create", true);
            if old_journal {
                let journal = store.path("out.csv.journal");
                let text = std::fs::read_to_string(&journal).unwrap();
                let head = text.lines().next().unwrap();
                std::fs::write(&journal, format!("{head}\n{{\"creating\":1}}\n")).unwrap();
            }
            let ours = customer(&store, "r0@example.com")["id"].as_u64().unwrap();
            let strs: Vec<&str> = args.iter().map(String::as_str).collect();
            store.run(&strs).expect(0);
            let rows = store.csv("out.csv");
            assert_complete_and_ordered(&rows, 300);
            let what = format!("{api}, old journal: {old_journal}");
            assert_eq!(rows[0]["_result"], "created", "{what}: {:?}", rows[0]);
            assert_eq!(rows[0]["_customer_id"], ours.to_string(), "{what}");
            assert!(
                rows[0]["_message"].contains("interrupted run"),
                "{what}: {:?}",
                rows[0]
            );
            assert!(rows.iter().all(|r| r["_result"] == "created"), "{what}");
            assert_eq!(store.sb.customers().len(), 300, "{what}: no customer twice");
        }
    }
}
