//! `set-group` and `delete` through Customers V3 (`--api v3`): batches of PUTs (at most 3 in
//! flight) and filtered DELETEs (never one without `id:in`), the same results, journal and
//! resume as V2. Groups stay on V2's `/customer_groups`.

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use bc_customers::sandbox::SandboxConfig;

use crate::common::{config, results_of, Store};
use crate::hostile_server::{Action, Hostile};

fn seeded(n: usize, latency_ms: u64) -> Store {
    Store::new(SandboxConfig {
        seed: n,
        latency_ms,
        ..config()
    })
}

fn ids(store: &Store) -> Vec<u64> {
    store
        .sb
        .customers()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect()
}

fn ids_csv(ids: &[u64]) -> String {
    let mut s = String::from("id\n");
    for id in ids {
        s.push_str(&format!("{id}\n"));
    }
    s
}

/// Each customer's group by id.
pub(crate) fn groups(store: &Store) -> HashMap<u64, u64> {
    store.by_id(|c| c["customer_group_id"].as_u64().unwrap())
}

/// A delete of 25 ids through V3 sends DELETEs of `id:in` lists only (up to 100 ids each:
/// one request, two when the batcher's wait cuts the 25 rows found by one lookup), each
/// naming only ids of the file; no DELETE without a filter ever reaches the store, not even
/// for an empty file or a dry run.
#[test]
fn a_v3_delete_of_25_ids_sends_filtered_deletes_only_and_never_an_unfiltered_one() {
    let store = seeded(60, 0);
    let all = ids(&store);
    let wanted: Vec<u64> = all[..25].to_vec();
    let upstream = store.sb.addr();
    let hostile = Hostile::start("127.0.0.1", Some(upstream), |_, _| Action::Forward);
    store.write("gone.csv", &ids_csv(&wanted));
    store.write("none.csv", "id\n");
    let env = [("BIGCOMMERCE_API_URL", hostile.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    store
        .run_with_env(&["delete", "--api", "v3", "--input", "gone.csv"], &env)
        .expect(0);
    store
        .run_with_env(
            &["delete", "--api", "v3", "--input", "none.csv", "--yes"],
            &env,
        )
        .expect(0);
    assert_eq!(
        store.sb.customers().len(),
        60,
        "a dry run and an empty file delete nothing"
    );
    store
        .run_with_env(
            &["delete", "--api", "v3", "--input", "gone.csv", "--yes"],
            &env,
        )
        .expect(0);
    let rows = store.csv("gone.results.csv");
    assert_eq!(results_of(&rows), vec!["deleted"; 25]);
    let deletes: Vec<_> = hostile
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert!(
        (1..=2).contains(&deletes.len()),
        "25 ids in DELETEs of up to 100: {}",
        deletes.len()
    );
    let mut named = Vec::new();
    for d in &deletes {
        assert!(d.path().ends_with("/v3/customers"), "{}", d.target);
        let list = d
            .query()
            .strip_prefix("id:in=")
            .unwrap_or_else(|| panic!("a DELETE without id:in: {}", d.target));
        assert!(!list.is_empty() && !list.contains('&'), "{}", d.target);
        named.extend(list.split(',').map(|id| id.parse::<u64>().unwrap()));
    }
    named.sort_unstable();
    assert_eq!(named, wanted, "each id of the file once, no other");
    assert_eq!(store.sb.counters().v3_unfiltered_deletes, 0);
    assert_eq!(store.count("DELETE /customers/{id}"), 0, "no V2 delete");
    let left = ids(&store);
    assert_eq!(left, all[25..].to_vec());
}

/// A set-group of 30 customers through V3: PUTs of up to ten, never more than three in
/// flight (the sandbox answers 429 above three, as BigCommerce documents), the group found
/// through V2's `/customer_groups`.
#[test]
fn a_v3_set_group_of_30_rows_never_has_more_than_three_puts_in_flight() {
    let store = seeded(80, 30);
    let all = ids(&store);
    let before = groups(&store);
    let chosen: Vec<u64> = all
        .iter()
        .copied()
        .filter(|id| before[id] != 3)
        .take(30)
        .collect();
    assert_eq!(chosen.len(), 30);
    store.write("move.csv", &ids_csv(&chosen));
    store
        .run(&[
            "set-group",
            "--api",
            "v3",
            "--group",
            "vip",
            "--input",
            "move.csv",
            "--concurrency",
            "8",
        ])
        .expect(0);
    let rows = store.csv("move.results.csv");
    assert_eq!(results_of(&rows), vec!["updated"; 30]);
    let after = groups(&store);
    for id in &chosen {
        assert_eq!(after[id], 3, "customer {id} is in vip");
    }
    let c = store.sb.counters();
    assert_eq!(c.v3_concurrency_rejected, 0, "no PUT over the limit");
    assert_eq!(c.rate_limited, 0);
    assert!(c.v3_max_concurrent_puts <= 3, "{c:?}");
    let puts = store.count("PUT /v3/customers");
    assert!(
        (3..=6).contains(&puts),
        "30 rows in batches of up to ten: {puts} PUTs"
    );
    assert_eq!(store.count("PUT /customers/{id}"), 0, "no V2 write");
    assert!(
        store.count("GET /customer_groups") >= 1,
        "groups stay on V2"
    );
}

fn spawn(store: &Store, args: &[&str]) -> Child {
    store
        .command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn finished_lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().filter(|l| l.starts_with("{\"no\"")).count())
        .unwrap_or(0)
}

/// `kill -9` in the middle of a V3 delete and of a V3 set-group (twice each), then
/// `--resume`: every row is reported once, in file order, with the outcome of the job (the
/// batches the killed runs sent without recording the answer included: the journal marked
/// the whole batch before it was sent).
#[test]
fn killed_v3_runs_resume_with_every_row_done_exactly_once() {
    for command in ["delete", "set-group"] {
        let store = seeded(400, 20);
        let all = ids(&store);
        let before = groups(&store);
        let chosen = &all[..300];
        store.write("in.csv", &ids_csv(chosen));
        let mut args = vec![command, "--api", "v3", "--input", "in.csv"];
        args.extend(match command {
            "delete" => vec!["--yes"],
            _ => vec!["--group", "vip"],
        });
        args.extend(["--results", "out.csv", "--concurrency", "4", "--resume"]);
        let journal = store.path("out.csv.journal");
        for after in [40, 150] {
            let mut child = spawn(&store, &args);
            let deadline = Instant::now() + Duration::from_secs(30);
            while finished_lines(&journal) < after && child.try_wait().unwrap().is_none() {
                assert!(Instant::now() < deadline, "{command}: no progress");
                std::thread::sleep(Duration::from_millis(2));
            }
            child.kill().unwrap(); // SIGKILL: nothing is cleaned up
            child.wait().unwrap();
        }
        assert!(
            journal.exists(),
            "{command}: killed runs leave their journal"
        );
        store.sb.reset_counters();
        let run = store.run(&args);
        run.expect(0);
        assert!(run.stderr.contains("resuming"), "{command}: {}", run.stderr);
        let rows = store.csv("out.csv");
        assert_eq!(rows.len(), 300, "{command}: one result per row");
        for (i, (r, id)) in rows.iter().zip(chosen).enumerate() {
            assert_eq!(r["_row"], (i + 1).to_string(), "{command}: file order");
            assert_eq!(r["_customer_id"], id.to_string(), "{command}: {r:?}");
            let want = match (command, before[id]) {
                ("delete", _) => "deleted",
                (_, 3) => "unchanged",
                _ => "updated",
            };
            assert_eq!(r["_result"], want, "{command}: {r:?}");
        }
        match command {
            "delete" => assert_eq!(ids(&store), all[300..].to_vec(), "deleted once each"),
            _ => {
                let after = groups(&store);
                assert!(
                    chosen.iter().all(|id| after[id] == 3),
                    "every customer moved"
                );
            }
        }
        assert_eq!(store.sb.counters().v3_unfiltered_deletes, 0);
        assert_eq!(store.sb.counters().v3_concurrency_rejected, 0);
    }
}

/// The file of [`a_v3_delete_checks_its_ids_in_id_in_reads_and_answers_as_v2`]: 100 ids in
/// descending order, the ten unknown ones (900 001…) among them at every tenth row.
fn hundred_ids_ten_unknown(all: &[u64]) -> Vec<u64> {
    let mut known: Vec<u64> = all[..90].to_vec();
    known.reverse();
    let mut file = Vec::new();
    for (i, id) in known.into_iter().enumerate() {
        if i % 9 == 0 {
            file.push(900_001 + (i / 9) as u64);
        }
        file.push(id);
    }
    file
}

/// A V3 delete of 100 ids, 10 of them unknown, checks the ids in `GET /v3/customers?id:in=`
/// reads of up to 50 ids (exactly two for this file; the store may answer them in any
/// order: here in the order asked, the file's descending one), plus one count, then deletes
/// the 90 found in at most two `DELETE ?id:in=` of up to 100 (one when the two reads answer
/// within the batcher's wait), and reports the ten others `no customer with id …`: a results
/// file byte for byte V2's for the same store and file. No V2 customer route is used.
#[test]
fn a_v3_delete_checks_its_ids_in_id_in_reads_and_answers_as_v2() {
    let v2 = seeded(500, 0);
    let v3 = Store::new(SandboxConfig {
        seed: 500,
        v3: bc_customers::sandbox::V3Options {
            id_in_order: bc_customers::sandbox::V3IdInOrder::Requested,
            ..Default::default()
        },
        ..config()
    });
    let all = ids(&v3);
    assert_eq!(all, ids(&v2), "the same seed, the same store");
    let file = hundred_ids_ten_unknown(&all);
    assert_eq!(file.len(), 100);
    v2.write("gone.csv", &ids_csv(&file));
    v3.write("gone.csv", &ids_csv(&file));
    v2.run(&["delete", "--input", "gone.csv", "--yes"])
        .expect(3);
    let hostile = Hostile::start("127.0.0.1", Some(v3.sb.addr()), |_, _| Action::Forward);
    let env = [("BIGCOMMERCE_API_URL", hostile.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = [
        "delete",
        "--api",
        "v3",
        "--input",
        "gone.csv",
        "--yes",
        "--rows-in-flight",
        "100",
    ];
    v3.run_with_env(&args, &env).expect(3);
    assert_eq!(
        v3.read("gone.results.csv"),
        v2.read("gone.results.csv"),
        "the same results file as V2's"
    );
    let rows = v3.csv("gone.results.csv");
    assert_eq!(
        rows.iter().filter(|r| r["_result"] == "deleted").count(),
        90
    );
    assert_eq!(rows[0]["_message"], "no customer with id 900001");
    assert_eq!(ids(&v3), all[90..].to_vec(), "the 90 known ones are gone");
    let requests = hostile.requests();
    let lookups: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "GET" && r.query().contains("id:in="))
        .collect();
    assert_eq!(lookups.len(), 2, "100 ids in id:in reads of up to 50");
    for l in &lookups {
        assert!(l.path().ends_with("/v3/customers"), "{}", l.target);
    }
    let deletes: Vec<_> = requests.iter().filter(|r| r.method == "DELETE").collect();
    assert!(
        (1..=2).contains(&deletes.len()),
        "90 ids in DELETEs of up to 100: {}",
        deletes.len()
    );
    let mut named = Vec::new();
    for d in &deletes {
        let list = d.query().strip_prefix("id:in=").expect("a filtered DELETE");
        named.extend(list.split(',').map(|id| id.parse::<u64>().unwrap()));
    }
    named.sort_unstable();
    assert_eq!(named, all[..90].to_vec(), "only the found ids, each once");
    let v2_routes: Vec<_> = requests
        .iter()
        .filter(|r| r.path().contains("/v2/"))
        .map(|r| r.target.clone())
        .collect();
    assert!(v2_routes.is_empty(), "no V2 request: {v2_routes:?}");
    assert_eq!(
        requests.len(),
        1 + lookups.len() + deletes.len(),
        "one count, the lookups, the DELETEs: {:?}",
        requests.iter().map(|r| &r.target).collect::<Vec<_>>()
    );
}

fn emails_csv(emails: &[String]) -> String {
    let mut s = String::from("email\n");
    for e in emails {
        s.push_str(&format!("{e}\n"));
    }
    s
}

/// set-group, then delete, of a file naming 27 customers by email (25 in the store, some in
/// another case, and 2 unknown) under `--api v3`: the emails are checked in `GET
/// /v3/customers?email:in=` reads of up to ten (10 + 10 + 7: exactly three per command, plus
/// one count), the store receives no V2 customer route (the group is still found through
/// V2's `/customer_groups`), and both results files are V2's for the same store and file.
#[test]
fn v3_set_group_and_delete_by_email_look_up_through_v3_only_and_answer_as_v2() {
    let v2 = seeded(200, 0);
    let v3 = seeded(200, 0);
    let mut emails: Vec<String> = v3.sb.customers()[..25]
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_string())
        .collect();
    for e in emails.iter_mut().step_by(4) {
        *e = e.to_uppercase();
    }
    emails.insert(3, "nobody-1@example.com".into());
    emails.push("nobody-2@example.com".into());
    for s in [&v2, &v3] {
        s.write("who.csv", &emails_csv(&emails));
    }
    let hostile = Hostile::start("127.0.0.1", Some(v3.sb.addr()), |_, _| Action::Forward);
    let env = [("BIGCOMMERCE_API_URL", hostile.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let set_group = ["set-group", "--group", "vip", "--input", "who.csv"];
    let delete = ["delete", "--yes", "--input", "who.csv"];
    for (command, args) in [("set-group", &set_group[..]), ("delete", &delete[..])] {
        let name = format!("{command}.csv");
        let before = hostile.requests().len();
        let mut v2_args = args.to_vec();
        v2_args.extend(["--results", &name]);
        v2.run(&v2_args).expect(3);
        let mut v3_args = v2_args.clone();
        v3_args.extend(["--api", "v3"]);
        v3.run_with_env(&v3_args, &env).expect(3);
        let requests = hostile.requests()[before..].to_vec();
        let v2_customer_routes: Vec<_> = requests
            .iter()
            .filter(|r| r.path().contains("/v2/customers"))
            .map(|r| format!("{} {}", r.method, r.target))
            .collect();
        assert!(
            v2_customer_routes.is_empty(),
            "{command}: no V2 customer route under --api v3: {v2_customer_routes:?}"
        );
        let lookups = requests
            .iter()
            .filter(|r| r.method == "GET" && r.query().contains("email:in="))
            .count();
        assert_eq!(lookups, 3, "{command}: 27 emails in lists of up to ten");
        let reads = requests
            .iter()
            .filter(|r| r.method == "GET" && r.path().ends_with("/v3/customers"))
            .count();
        assert_eq!(reads, 4, "{command}: the lookups and one count");
        let (a, b) = (v3.read(&name), v2.read(&name));
        assert_eq!(a, b, "{command}: the same results file as V2's");
        let rows = v3.csv(&name);
        assert_eq!(
            rows[3]["_message"],
            "no customer with email nobody-1@example.com"
        );
    }
    assert!(
        hostile
            .requests()
            .iter()
            .any(|r| r.path().ends_with("/v2/customer_groups")),
        "the group is found through V2"
    );
    assert_eq!(v3.sb.customers().len(), 175);
}

/// validate-password under `--api v3` checks each password with `POST
/// /v3/customers/validate-credentials` (the customer's email and the password) after finding
/// the customer through V3: valid, wrong, by email, unknown id, unknown email, empty cell;
/// the results file and exit code are V2's for the same store and file, no V2 customer route
/// is used, and neither `-vv` nor the results file shows a password, not even one a hostile
/// store quotes back in its refusal (a 422 naming the password of row 7).
#[test]
fn v3_validate_password_checks_credentials_through_v3_and_never_shows_a_password() {
    let v2 = seeded(8, 0);
    let v3 = seeded(8, 0);
    let email = |id: u64| {
        v3.sb
            .customers()
            .iter()
            .find(|c| c["id"].as_u64() == Some(id))
            .map(|c| c["email"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (p1, p2, p4) = (
        v3.sb.password_of(1).unwrap(),
        v3.sb.password_of(2).unwrap(),
        v3.sb.password_of(4).unwrap(),
    );
    assert_eq!(v2.sb.password_of(1).unwrap(), p1, "twin stores");
    let wrong = "WrongPass-9f3a1c";
    let mut csv = String::from("id,email,password\n");
    csv.push_str(&format!("1,,{p1}\n"));
    csv.push_str(&format!("2,,{wrong}\n"));
    csv.push_str(&format!(",{},{p2}\n", email(2).to_uppercase()));
    csv.push_str(&format!("404,,{p1}\n"));
    csv.push_str(&format!(",nobody@example.com,{p1}\n"));
    csv.push_str("3,,\n");
    csv.push_str(&format!("4,{},{p4}\n", email(4)));
    for s in [&v2, &v3] {
        s.write("check.csv", &csv);
    }
    let v2_run = v2.run(&["validate-password", "--input", "check.csv"]);
    v2_run.expect(3);
    let hostile = Hostile::start("127.0.0.1", Some(v3.sb.addr()), |_, _| Action::Forward);
    let env = [("BIGCOMMERCE_API_URL", hostile.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = [
        "validate-password",
        "--api",
        "v3",
        "--input",
        "check.csv",
        "-vv",
    ];
    let run = v3.run_with_env(&args, &env);
    run.expect(3);
    assert_eq!(
        v3.read("check.results.csv"),
        v2.read("check.results.csv"),
        "the same results file as V2's"
    );
    let rows = v3.csv("check.results.csv");
    assert_eq!(
        results_of(&rows),
        ["valid", "invalid", "valid", "failed", "failed", "failed", "valid"]
    );
    let requests = hostile.requests();
    let checks: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "POST")
        .inspect(|r| assert!(r.path().ends_with("/v3/customers/validate-credentials")))
        .collect();
    assert_eq!(
        checks.len(),
        4,
        "one check per row with a customer and a password"
    );
    let v2_customer_routes: Vec<_> = requests
        .iter()
        .filter(|r| r.path().contains("/v2/"))
        .map(|r| r.target.clone())
        .collect();
    assert!(v2_customer_routes.is_empty(), "{v2_customer_routes:?}");
    assert!(
        run.stderr.contains("validate-credentials"),
        "-vv logs the requests: {}",
        run.stderr
    );
    for secret in [p1.as_str(), p2.as_str(), p4.as_str(), wrong] {
        assert!(!v3.read("check.results.csv").contains(secret));
        assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret));
    }

    // A store quoting the password back in its refusal: the row fails, the words are shown
    // without the password.
    let quoted = p4.clone();
    let echo = Hostile::start("127.0.0.1", Some(v3.sb.addr()), move |r, _| {
        let body = String::from_utf8_lossy(&r.body);
        if r.method == "POST" && body.contains(quoted.as_str()) {
            let text = format!(r#"{{"status":422,"title":"password {quoted} is too weak"}}"#);
            return Action::Raw(crate::hostile_server::json(422, &text));
        }
        Action::Forward
    });
    let env = [("BIGCOMMERCE_API_URL", echo.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = v3.run_with_env(&args, &env);
    run.expect(3);
    let rows = v3.csv("check.results.csv");
    assert_eq!(rows[6]["_result"], "failed", "{:?}", rows[6]);
    assert!(rows[6]["_message"].contains("422"), "{:?}", rows[6]);
    for text in [
        v3.read("check.results.csv"),
        run.stderr.clone(),
        run.stdout.clone(),
    ] {
        assert!(
            !text.contains(p4.as_str()),
            "the quoted password leaked: {text}"
        );
    }
}

/// `set-group --filter` under `--api v3` reads the matching customers from `/v3/customers`
/// (no V2 customer route; the group still through V2's `/customer_groups`) and writes V2's
/// results file for the same store.
#[test]
fn v3_set_group_by_filter_reads_through_v3_and_answers_as_v2() {
    let v2 = seeded(120, 0);
    let v3 = seeded(120, 0);
    let args = [
        "set-group",
        "--group",
        "vip",
        "--filter",
        "customer_group_id=2",
        "--results",
        "moved.csv",
    ];
    v2.run(&args).expect(0);
    let hostile = Hostile::start("127.0.0.1", Some(v3.sb.addr()), |_, _| Action::Forward);
    let env = [("BIGCOMMERCE_API_URL", hostile.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut v3_args = args.to_vec();
    v3_args.extend(["--api", "v3"]);
    v3.run_with_env(&v3_args, &env).expect(0);
    let rows = v3.csv("moved.csv");
    assert!(!rows.is_empty(), "customers of group 2 were moved");
    assert_eq!(v3.read("moved.csv"), v2.read("moved.csv"));
    assert_eq!(groups(&v3), groups(&v2), "the same customers moved");
    let v2_customer_routes: Vec<_> = hostile
        .requests()
        .iter()
        .filter(|r| r.path().contains("/v2/customers"))
        .map(|r| r.target.clone())
        .collect();
    assert!(v2_customer_routes.is_empty(), "{v2_customer_routes:?}");
}
