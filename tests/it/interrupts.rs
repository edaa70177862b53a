//! The row commands (import, set-group, delete, validate-password) under interrupts, kills,
//! a store that goes away, and two rows about one customer named differently: the journal,
//! its lock and its guards, and the one failure policy they share.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use bc_customers::sandbox::SandboxConfig;

fn seeded(n: usize, latency_ms: u64) -> Store {
    Store::new(SandboxConfig {
        seed: n,
        latency_ms,
        ..config()
    })
}

/// Finished rows recorded in a journal.
fn finished_lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().filter(|l| l.starts_with("{\"no\"")).count())
        .unwrap_or(0)
}

/// Rows a journal records as `failed`.
fn failed_lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().filter(|l| l.contains("\"failed\"")).count())
        .unwrap_or(0)
}

fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn spawn(store: &Store, args: &[&str], api_url: Option<&str>) -> Child {
    let mut cmd = store.command(args);
    if let Some(url) = api_url {
        cmd.env("BIGCOMMERCE_API_URL", url);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait for the child (bounded) and return its exit code and stderr.
fn finish(child: Child, secs: u64) -> (Option<i32>, String) {
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !waiter.is_finished() {
        if Instant::now() > deadline {
            // SAFETY: our own child, still running.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("the run did not end within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = waiter.join().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_no_temp_files(store: &Store) {
    let temps: Vec<String> = std::fs::read_dir(store.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

fn assert_complete_and_ordered(rows: &[HashMap<String, String>], n: usize) {
    assert_eq!(rows.len(), n, "one result per input record");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["_row"], (i + 1).to_string(), "results in input order");
    }
}

fn ids_csv(ids: &[u64], password_of: impl Fn(u64) -> Option<String>) -> String {
    let mut s = String::from("id,password\n");
    for id in ids {
        s.push_str(&format!("{id},{}\n", password_of(*id).unwrap_or_default()));
    }
    s
}

// ---- item: two rows for the same customer, by id and by email ----

/// Rows naming one customer by id and by email are applied in file order: the store ends
/// with the later row's value, in every trial, both when the run reads the whole store first
/// (a small store) and when it looks each row up (a store much larger than the file).
#[test]
fn rows_for_one_customer_by_id_and_by_email_are_applied_in_file_order() {
    for (store_size, lookups) in [(8, "preloaded"), (3000, "per row")] {
        let store = seeded(store_size, 3);
        let all = store.sb.customers();
        let targets: Vec<(u64, String)> = all
            .iter()
            .take(6)
            .map(|c| {
                (
                    c["id"].as_u64().unwrap(),
                    c["email"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for trial in 0..5 {
            // Per customer: by id then by email, or the reverse, or three rows alternating.
            let mut csv = String::from("id,email,phone\n");
            let mut want: HashMap<u64, String> = HashMap::new();
            for (k, (id, email)) in targets.iter().enumerate() {
                let by_id = |n: usize| format!("{id},,{trial}{k}{n}\n");
                let by_email = |n: usize| format!(",{email},{trial}{k}{n}\n");
                let rows = match k % 3 {
                    0 => vec![by_id(1), by_email(2)],
                    1 => vec![by_email(1), by_id(2)],
                    _ => vec![by_id(1), by_email(2), by_id(3)],
                };
                let last = rows.len();
                csv.push_str(&rows.concat());
                want.insert(*id, format!("{trial}{k}{last}"));
            }
            store.write("pairs.csv", &csv);
            store
                .run(&[
                    "import",
                    "pairs.csv",
                    "--concurrency",
                    "8",
                    "--mode",
                    "update",
                ])
                .expect(0);
            let now: HashMap<u64, String> = store
                .sb
                .customers()
                .iter()
                .map(|c| {
                    (
                        c["id"].as_u64().unwrap(),
                        c["phone"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            for (id, phone) in &want {
                assert_eq!(
                    &now[id], phone,
                    "{lookups}, trial {trial}: customer {id} has the value of its last row"
                );
            }
            let rows = store.csv("pairs.results.csv");
            assert!(
                rows.iter().all(|r| r["_result"] == "updated"),
                "{lookups}, trial {trial}: {rows:?}"
            );
        }
    }
}

// ---- item: interrupts and the journal ----

/// One row command, with the files it needs, and what each row's `_result` must be once the
/// job is done.
struct Job {
    args: Vec<String>,
    results: &'static str,
    want: Vec<&'static str>,
}

/// A job of `n` rows for `command` on a seeded store (customers `ids`).
fn job(store: &Store, command: &str, ids: &[u64]) -> Job {
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    match command {
        "import" => {
            store.write("new.csv", &new_customers_csv(ids.len(), "int"));
            Job {
                args: s(&["import", "new.csv", "--results", "import.out.csv"]),
                results: "import.out.csv",
                want: vec!["created"; ids.len()],
            }
        }
        "set-group" => {
            let groups: HashMap<u64, u64> = store
                .sb
                .customers()
                .iter()
                .map(|c| {
                    (
                        c["id"].as_u64().unwrap(),
                        c["customer_group_id"].as_u64().unwrap(),
                    )
                })
                .collect();
            store.write("move.csv", &ids_csv(ids, |_| None));
            Job {
                args: s(&[
                    "set-group",
                    "--group",
                    "vip",
                    "--input",
                    "move.csv",
                    "--results",
                    "move.out.csv",
                ]),
                results: "move.out.csv",
                // Seeded group 3 is "vip".
                want: ids
                    .iter()
                    .map(|id| {
                        if groups[id] == 3 {
                            "unchanged"
                        } else {
                            "updated"
                        }
                    })
                    .collect(),
            }
        }
        "delete" => {
            store.write("gone.csv", &ids_csv(ids, |_| None));
            Job {
                args: s(&[
                    "delete",
                    "--input",
                    "gone.csv",
                    "--yes",
                    "--results",
                    "gone.out.csv",
                ]),
                results: "gone.out.csv",
                want: vec!["deleted"; ids.len()],
            }
        }
        "validate-password" => {
            store.write("pw.csv", &ids_csv(ids, |id| store.sb.password_of(id)));
            Job {
                args: s(&[
                    "validate-password",
                    "--input",
                    "pw.csv",
                    "--results",
                    "pw.out.csv",
                ]),
                results: "pw.out.csv",
                want: vec!["valid"; ids.len()],
            }
        }
        other => panic!("no job for {other}"),
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// SIGINT or SIGTERM mid-run, for every row command: the rows in flight finish, the summary
/// (stderr and --summary-json) says `interrupted`, how many rows were done and the exact
/// command to continue; no results file, no temporary file, exit 130/143; that command then
/// finishes the job with every row reported once.
#[test]
fn sigint_and_sigterm_stop_every_row_command_resumably() {
    let cases = [
        ("import", "v2", libc::SIGINT, 130),
        ("set-group", "v2", libc::SIGTERM, 143),
        ("delete", "v2", libc::SIGINT, 130),
        ("validate-password", "v2", libc::SIGTERM, 143),
        // V3 batches: every row of a batch is marked before its request.
        ("set-group", "v3", libc::SIGINT, 130),
        ("delete", "v3", libc::SIGTERM, 143),
    ];
    for (command, api, sig, code) in cases {
        let store = seeded(240, 15);
        let n = 200;
        let ids = store.ids()[..n].to_vec();
        let job = job(&store, command, &ids);
        let journal = store.path(&format!("{}.journal", job.results));
        let mut args = strs(&job.args);
        args.extend(["--concurrency", "2", "--summary-json", "summary.json"]);
        args.extend(["--api", api]);
        let child = spawn(&store, &args, None);
        wait_for("rows to finish", 30, || finished_lines(&journal) >= 20);
        // SAFETY: our own child, still running.
        unsafe { libc::kill(child.id() as i32, sig) };
        let at_signal = finished_lines(&journal);
        let (status, stderr) = finish(child, 30);
        assert_eq!(status, Some(code), "{command}: {stderr}");
        let signame = if sig == libc::SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        assert!(
            stderr.contains(&format!("interrupted by {signame}")),
            "{command}: {stderr}"
        );
        let done = finished_lines(&journal);
        // A few rows more than at the signal (the rows in flight, and the rows that finished
        // while the signal was delivered), far from all of them. Under V3, 10 rows wait per
        // request slot (20 rows in flight at --concurrency 2) and the pipeline's ordered
        // window holds 4 x that, so up to 80 rows can be past their request at the signal.
        let slack = if api == "v3" { 80 } else { 20 };
        assert!(
            done >= at_signal && done <= at_signal + slack && done < n,
            "{command}: the rows in flight finish, no other starts ({at_signal} → {done})"
        );
        let continue_with = stderr
            .lines()
            .find_map(|l| l.split("continue with: ").nth(1))
            .unwrap_or_else(|| panic!("{command}: no continue command in {stderr}"));
        let bin = env!("CARGO_BIN_EXE_bc-customers");
        assert_eq!(
            continue_with,
            format!("{bin} {} --resume", args.join(" ")),
            "{command}: the exact command to continue"
        );
        let summary: serde_json::Value = serde_json::from_str(&store.read("summary.json")).unwrap();
        assert_eq!(summary["status"], "interrupted", "{command}: {summary}");
        assert_eq!(summary["exit_code"], code);
        assert!(
            summary["rows"].as_u64().unwrap() as usize >= at_signal,
            "{command}: {summary}"
        );
        assert!(
            !store.path(job.results).exists(),
            "{command}: no results file"
        );
        assert_no_temp_files(&store);
        assert!(journal.exists(), "{command}: the journal is kept");

        let mut again = args.clone();
        again.push("--resume");
        let run = store.run(&again);
        run.expect(0);
        assert!(run.stderr.contains("resuming"), "{command}: {}", run.stderr);
        let rows = store.csv(job.results);
        assert_complete_and_ordered(&rows, n);
        assert_eq!(results_of(&rows), job.want, "{command}");
        assert!(
            !journal.exists(),
            "{command}: the journal is removed at the end"
        );
        if command == "import" {
            assert_eq!(store.sb.customers().len(), 240 + n, "created once each");
        }
    }
}

/// A wrong token fails before any write, so no journal exists: the corrected run needs no
/// --resume. Also for a delete of ids only, whose first request is a DELETE.
#[test]
fn a_wrong_token_leaves_no_journal_to_resume() {
    let store = seeded(20, 0);
    store.write("new.csv", &new_customers_csv(10, "tok"));
    let ids = store.ids();
    store.write("gone.csv", &ids_csv(&ids[..5], |_| None));
    for (args, results) in [
        (vec!["import", "new.csv", "--results", "a.csv"], "a.csv"),
        (
            vec![
                "delete",
                "--input",
                "gone.csv",
                "--yes",
                "--results",
                "b.csv",
            ],
            "b.csv",
        ),
    ] {
        let out = store
            .command(&args)
            .env("BIGCOMMERCE_ACCESS_TOKEN", "wrong-token")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("401"), "{stderr}");
        assert!(
            !store.path(&format!("{results}.journal")).exists(),
            "{args:?}: no journal after a refused token"
        );
        store.run(&args).expect(0);
    }
    assert!(store.sb.customers().len() == 25);
}

/// A second run on a journal in use is refused before it sends any request, naming the pid of
/// the run that holds it; the first run is not disturbed.
#[test]
fn a_journal_in_use_is_refused_with_the_holders_pid() {
    let store = Store::new(SandboxConfig {
        latency_ms: 10,
        ..config()
    });
    store.write("new.csv", &new_customers_csv(300, "lock"));
    let args = [
        "import",
        "new.csv",
        "--results",
        "out.csv",
        "--concurrency",
        "2",
    ];
    let journal = store.path("out.csv.journal");
    let first = spawn(&store, &args, None);
    wait_for("the first run's journal", 30, || {
        finished_lines(&journal) >= 5
    });
    // The second run talks to another store: any request it sent would show there.
    let other = bc_customers::sandbox::Sandbox::spawn(SandboxConfig {
        token: store.token.clone(),
        store_hash: store.sb.store_hash().to_string(),
        ..config()
    })
    .unwrap();
    for extra in [&[][..], &["--resume"][..]] {
        let mut second = args.to_vec();
        second.extend(extra);
        let child = spawn(&store, &second, Some(&other.base_url()));
        let (status, stderr) = finish(child, 30);
        assert_eq!(status, Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("pid {}", first.id())),
            "the holder is named: {stderr}"
        );
        assert_eq!(other.counters().total, 0, "refused before any request");
    }
    // SAFETY: our own child, still running.
    unsafe { libc::kill(first.id() as i32, libc::SIGINT) };
    let (status, stderr) = finish(first, 30);
    assert_eq!(status, Some(130), "{stderr}");
    let mut resume = args.to_vec();
    resume.push("--resume");
    store.run(&resume).expect(0);
    assert_eq!(store.sb.customers().len(), 300);
    assert_complete_and_ordered(&store.csv("out.csv"), 300);
}

/// A run that has not written yet has no journal, but the results file is still its: a
/// second run on it is refused before any request, naming the first run's pid, and the first
/// run leaves nothing behind when it ends.
#[test]
fn a_second_run_is_refused_before_any_request_even_before_the_first_write() {
    // Every answer takes 2 s: the first run is still planning (its count is in flight).
    let store = Store::new(SandboxConfig {
        latency_ms: 2000,
        ..config()
    });
    store.write("new.csv", &new_customers_csv(5, "early"));
    let args = ["import", "new.csv", "--results", "out.csv"];
    let first = spawn(&store, &args, None);
    wait_for("the first run's first request", 30, || {
        store.sb.counters().total >= 1
    });
    assert!(
        !store.path("out.csv.journal").exists(),
        "no journal before a write"
    );
    let other = bc_customers::sandbox::Sandbox::spawn(SandboxConfig {
        token: store.token.clone(),
        store_hash: store.sb.store_hash().to_string(),
        ..config()
    })
    .unwrap();
    let child = spawn(&store, &args, Some(&other.base_url()));
    let (status, stderr) = finish(child, 30);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", first.id())),
        "the holder is named: {stderr}"
    );
    assert_eq!(other.counters().total, 0, "refused before any request");
    let (status, stderr) = finish(first, 60);
    assert_eq!(status, Some(0), "{stderr}");
    let mut left: Vec<String> = std::fs::read_dir(store.path("."))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("out.csv") || n.starts_with(".out.csv"))
        .collect();
    left.sort();
    assert_eq!(left, ["out.csv"], "only the results file stays");
}

/// The journal's path is predictable: a symlink there is never followed, and a file that is
/// not a journal is never truncated, replaced or removed, with or without --resume.
#[test]
fn a_symlink_or_a_foreign_file_at_the_journal_path_is_left_alone() {
    let store = Store::empty();
    store.write("new.csv", &new_customers_csv(5, "sym"));
    let victim = store.write("precious.txt", "precious\n");
    std::os::unix::fs::symlink(&victim, store.path("out.csv.journal")).unwrap();
    for extra in [&[][..], &["--resume"][..]] {
        let mut args = vec!["import", "new.csv", "--results", "out.csv"];
        args.extend(extra);
        let run = store.run(&args);
        run.expect(1);
        assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
        assert_eq!(store.read("precious.txt"), "precious\n");
    }
    assert_eq!(store.count("POST /customers"), 0);
    std::fs::remove_file(store.path("out.csv.journal")).unwrap();
    store.write("out.csv.journal", "my notes, not a journal\n");
    for extra in [&[][..], &["--resume"][..]] {
        let mut args = vec!["import", "new.csv", "--results", "out.csv"];
        args.extend(extra);
        let run = store.run(&args);
        run.expect(1);
        assert!(
            run.stderr.contains("not a bc-customers journal"),
            "{}",
            run.stderr
        );
        assert_eq!(store.read("out.csv.journal"), "my notes, not a journal\n");
    }
    assert_eq!(store.count("POST /customers"), 0);
}

/// `kill -9` in the middle of a delete: the journal marks each DELETE before it is sent, so
/// --resume reports every row `deleted`, once, including the ones whose DELETE the killed run
/// sent without recording the answer.
#[test]
fn a_killed_delete_resumes_with_every_row_deleted_once() {
    let store = seeded(400, 4);
    let ids = store.ids();
    store.write("gone.csv", &ids_csv(&ids[..300], |_| None));
    let args = [
        "delete",
        "--input",
        "gone.csv",
        "--yes",
        "--results",
        "out.csv",
        "--concurrency",
        "8",
        "--resume",
    ];
    let journal = store.path("out.csv.journal");
    for after in [40, 150] {
        let mut child = spawn(&store, &args, None);
        wait_for("deletes", 30, || {
            finished_lines(&journal) >= after || child.try_wait().unwrap().is_some()
        });
        child.kill().unwrap(); // SIGKILL: nothing is cleaned up
        child.wait().unwrap();
    }
    assert!(journal.exists());
    store.sb.reset_counters();
    let run = store.run(&args);
    run.expect(0);
    assert!(run.stderr.contains("resuming"), "{}", run.stderr);
    let rows = store.csv("out.csv");
    assert_complete_and_ordered(&rows, 300);
    for (r, id) in rows.iter().zip(&ids) {
        assert_eq!(r["_result"], "deleted", "{r:?}");
        assert_eq!(r["_customer_id"], id.to_string());
    }
    assert_eq!(store.sb.customers().len(), 100);
    assert!(
        store.count("DELETE /customers/{id}") <= 300 - 150 + 8,
        "finished rows are not sent again"
    );
}

// ---- item: a store that stops answering ----

const FORWARD: u8 = 0;
const REFUSE: u8 = 1;
const HANG: u8 = 2;

/// A TCP proxy in front of the sandbox that can go away (close its listener and every
/// connection: the store becomes unreachable) while the sandbox keeps its state for the
/// resumed run.
struct Proxy {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(FORWARD));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (m, c) = (Arc::clone(&mode), Arc::clone(&conns));
        let mut held: Vec<TcpStream> = Vec::new();
        let mut held_switch = false;
        std::thread::spawn(move || loop {
            if m.load(Ordering::SeqCst) == REFUSE {
                drop(listener);
                for s in c.lock().unwrap().drain(..) {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
                return;
            }
            if m.load(Ordering::SeqCst) == HANG {
                // Connections are accepted and never answered; the open ones are closed once.
                let mut conns = c.lock().unwrap();
                if !held_switch {
                    held_switch = true;
                    for s in conns.drain(..) {
                        let _ = s.shutdown(std::net::Shutdown::Both);
                    }
                }
                if let Ok((down, _)) = listener.accept() {
                    held.push(down);
                }
                drop(conns);
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            match listener.accept() {
                Ok((down, _)) => {
                    down.set_nonblocking(false).unwrap();
                    let Ok(up) = TcpStream::connect(upstream) else {
                        continue;
                    };
                    let mut conns = c.lock().unwrap();
                    conns.push(down.try_clone().unwrap());
                    conns.push(up.try_clone().unwrap());
                    pipe(down.try_clone().unwrap(), up.try_clone().unwrap());
                    pipe(up, down);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        });
        Proxy { addr, mode, conns }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The store hangs: connections are accepted and never answered.
    fn hang(&self) {
        self.mode.store(HANG, Ordering::SeqCst);
        wait_for("the proxy to hang", 5, || {
            self.conns.lock().unwrap().is_empty()
        });
    }

    /// The store goes away: connections are closed, new ones refused.
    fn cut(&self) {
        self.mode.store(REFUSE, Ordering::SeqCst);
        wait_for("the proxy to close", 5, || {
            self.conns.lock().unwrap().is_empty()
        });
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

/// Every row command stops when the store goes away mid-run: exit 1 soon, saying the store is
/// unreachable and how to continue; the remaining rows are not failed one by one (the journal
/// records no failed row); --resume later finishes the job.
#[test]
fn a_store_going_away_stops_every_row_command_and_resume_finishes_it() {
    for command in ["import", "set-group", "delete", "validate-password"] {
        let store = seeded(340, 5);
        let n = 300;
        let ids = store.ids()[..n].to_vec();
        let job = job(&store, command, &ids);
        let journal = store.path(&format!("{}.journal", job.results));
        let proxy = Proxy::start(store.sb.addr());
        let mut args = strs(&job.args);
        args.extend(["--concurrency", "2", "--timeout", "2", "--max-retries", "1"]);
        let child = spawn(&store, &args, Some(&proxy.url()));
        wait_for("rows to finish", 30, || finished_lines(&journal) >= 30);
        proxy.cut();
        let cut_at = Instant::now();
        let (status, stderr) = finish(child, 60);
        assert_eq!(status, Some(1), "{command}: {stderr}");
        eprintln!("{command}: stopped {:?} after the cut", cut_at.elapsed());
        assert!(
            cut_at.elapsed() < Duration::from_secs(20),
            "{command}: stopped soon after the store went away ({:?})",
            cut_at.elapsed()
        );
        assert!(stderr.contains("unreachable"), "{command}: {stderr}");
        assert!(stderr.contains("--resume"), "{command}: {stderr}");
        assert_eq!(
            failed_lines(&journal),
            0,
            "{command}: the remaining rows are not failed one by one"
        );
        assert!(!store.path(job.results).exists());
        assert_no_temp_files(&store);

        let mut again = args.clone();
        again.push("--resume");
        let run = store.run(&again);
        run.expect(0);
        let rows = store.csv(job.results);
        assert_complete_and_ordered(&rows, n);
        assert_eq!(results_of(&rows), job.want, "{command}");
    }
}

/// A signal while the run is still planning (here: the store's count, answered slowly) ends it
/// with 130 and an `interrupted` summary; nothing was written, so there is no journal.
#[test]
fn a_signal_while_planning_ends_the_run_with_nothing_to_resume() {
    let store = Store::new(SandboxConfig {
        latency_ms: 20_000,
        ..config()
    });
    store.write("new.csv", &new_customers_csv(10, "plan"));
    let child = spawn(
        &store,
        &[
            "import",
            "new.csv",
            "--results",
            "out.csv",
            "--summary-json",
            "s.json",
        ],
        None,
    );
    wait_for("the count request", 10, || store.sb.counters().total >= 1);
    // SAFETY: our own child, still running.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (status, stderr) = finish(child, 10);
    assert_eq!(status, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&store.read("s.json")).unwrap();
    assert_eq!(summary["status"], "interrupted", "{summary}");
    assert_eq!(summary["exit_code"], 130);
    assert!(!store.path("out.csv.journal").exists());
    assert!(!store.path("out.csv").exists());
    assert_no_temp_files(&store);
}

/// The first signal waits for the rows in flight; a second one does not (their journal marks
/// keep the resumed run exact).
#[test]
fn a_second_signal_abandons_the_rows_in_flight() {
    let store = Store::new(SandboxConfig {
        latency_ms: 5,
        ..config()
    });
    store.write("new.csv", &new_customers_csv(200, "twice"));
    let args = [
        "import",
        "new.csv",
        "--results",
        "out.csv",
        "--mode",
        "create",
        "--concurrency",
        "2",
    ];
    let journal = store.path("out.csv.journal");
    let child = spawn(&store, &args, None);
    wait_for("rows to finish", 30, || finished_lines(&journal) >= 10);
    // From now on each answer takes 20 s: the rows in flight would hold the first signal's
    // orderly stop that long.
    store.sb.set_latency_ms(20_000);
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id() as i32;
    // SAFETY: our own child, still running.
    unsafe { libc::kill(pid, libc::SIGINT) };
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(pid, libc::SIGINT) };
    let (status, stderr) = finish(child, 10);
    assert_eq!(status, Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    store.sb.set_latency_ms(0);
    let mut resume = args.to_vec();
    resume.push("--resume");
    store.run(&resume).expect(0);
    let rows = store.csv("out.csv");
    assert_complete_and_ordered(&rows, 200);
    assert!(rows.iter().all(|r| r["_result"] == "created"), "{rows:?}");
    assert_eq!(store.sb.customers().len(), 200, "no customer created twice");
}

/// A store that accepts connections and never answers: after 3 rows in a row without an
/// answer (each after its retries) the run stops, instead of failing the rest of the file one
/// row at a time; those rows are not recorded, so --resume does them once the store answers.
#[test]
fn a_store_that_hangs_stops_the_run_after_three_unanswered_rows() {
    let store = seeded(340, 5);
    let n = 300;
    let ids = store.ids()[..n].to_vec();
    let job = job(&store, "delete", &ids);
    let journal = store.path(&format!("{}.journal", job.results));
    let proxy = Proxy::start(store.sb.addr());
    let mut args = strs(&job.args);
    args.extend(["--concurrency", "2", "--timeout", "1", "--max-retries", "1"]);
    let child = spawn(&store, &args, Some(&proxy.url()));
    wait_for("rows to finish", 30, || finished_lines(&journal) >= 30);
    proxy.hang();
    let hung_at = Instant::now();
    let (status, stderr) = finish(child, 60);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(stderr.contains("stopped answering"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    eprintln!(
        "hanging store: stopped {:?} after it hung",
        hung_at.elapsed()
    );
    assert!(
        hung_at.elapsed() < Duration::from_secs(30),
        "stopped after a few rows' retries ({:?})",
        hung_at.elapsed()
    );
    assert_eq!(
        failed_lines(&journal),
        0,
        "unanswered rows are not recorded"
    );
    let mut again = args.clone();
    again.push("--resume");
    store.run(&again).expect(0);
    let rows = store.csv(job.results);
    assert_complete_and_ordered(&rows, n);
    assert_eq!(results_of(&rows), job.want);
}
