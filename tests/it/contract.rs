//! Contract details found by an audit against PRODUCT.md: a failed run's --summary-json,
//! results files that would overwrite the input, gzip backups restored as they are, dry runs
//! that classify without `failed`, repeated rows in a delete dry run, id/email agreement in
//! validate-password, and re-sent creates counted as retries.

use crate::common::*;
use bc_customers::sandbox::SandboxConfig;

fn json(store: &Store, name: &str) -> serde_json::Value {
    let text = store.read(name);
    assert!(!text.contains(&store.token), "token in {name}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn summary_json_records_a_failed_run_too() {
    let store = Store::new(SandboxConfig {
        seed: 5,
        ..config()
    });
    store
        .run(&["--summary-json", "last.json", "export", "-o", "b.csv"])
        .expect(0);
    let ok = json(&store, "last.json");
    assert_eq!(ok["status"], "ok");
    assert_eq!(ok["exit_code"], 0);
    assert_eq!(ok["rows"], 5);
    let bad = store.write("bad.token", "not-the-token");
    store
        .run(&[
            "--summary-json",
            "last.json",
            "export",
            "-o",
            "b.csv",
            "--token-file",
            bad.to_str().unwrap(),
        ])
        .expect(1);
    let failed = json(&store, "last.json");
    assert_eq!(failed["status"], "error");
    assert_eq!(failed["exit_code"], 1);
    assert!(
        failed["error"].as_str().unwrap().contains("401"),
        "{failed}"
    );
    // A usage error is recorded as such.
    store
        .run(&[
            "--summary-json",
            "last.json",
            "export",
            "--filter",
            "nope=1",
        ])
        .expect(2);
    assert_eq!(json(&store, "last.json")["exit_code"], 2);
}

#[test]
fn results_file_never_overwrites_the_input() {
    let store = Store::empty();
    let input = new_customers_csv(3, "same");
    store.write("same.csv", &input);
    let run = store.run(&["import", "same.csv", "--results", "same.csv"]);
    run.expect(2);
    assert!(run.stderr.contains("input file"), "{}", run.stderr);
    assert_eq!(store.read("same.csv"), input);
    store
        .run(&["import", "same.csv", "--results", "./same.csv", "--dry-run"])
        .expect(2);
    store
        .run(&["import", "same.csv", "--results", "-"])
        .expect(2);
    store
        .run(&["delete", "--input", "same.csv", "--results", "same.csv"])
        .expect(2);
    assert_eq!(store.sb.counters().total, 0, "refused before any request");
}

#[test]
fn a_gzip_backup_imports_as_it_is() {
    let store = Store::new(SandboxConfig {
        seed: 40,
        ..config()
    });
    store.run(&["export", "-o", "backup.csv.gz"]).expect(0);
    store.sb.reset_counters();
    store
        .run(&["import", "backup.csv.gz", "--results", "restore.csv"])
        .expect(0);
    let r = store.csv("restore.csv");
    assert_eq!(r.len(), 40);
    assert!(r.iter().all(|row| row["_result"] == "unchanged"));
    assert_eq!(store.sb.counters().writes, 0);
    // From stdin too.
    let gz = std::fs::read(store.path("backup.csv.gz")).unwrap();
    store
        .run_with_stdin(&["import", "-", "--dry-run"], Some(&gz))
        .expect(0);
}

#[test]
fn dry_runs_classify_without_failed() {
    let store = Store::empty();
    store.write(
        "one.csv",
        "email,first_name,last_name\nold@example.com,Old,One\n",
    );
    store.run(&["import", "one.csv"]).expect(0);
    store.write(
        "dry.csv",
        "id,email,first_name,last_name\n99999,,,\n,old@example.com,Old,Two\n,new@example.com,New,Three\n",
    );
    store.sb.reset_counters();
    store
        .run(&["import", "dry.csv", "--mode", "create", "--dry-run"])
        .expect(3);
    let r = store.csv("dry.results.csv");
    assert_eq!(results_of(&r), ["invalid", "invalid", "would_create"]);
    assert!(r[0]["_message"].contains("no customer with id 99999"));
    assert!(r[1]["_message"].contains("--mode create"));
    assert_eq!(store.sb.counters().writes, 0);
    // The same rows in a real run are `failed`, as PRODUCT.md says.
    store
        .run(&[
            "import",
            "dry.csv",
            "--mode",
            "create",
            "--results",
            "real.csv",
        ])
        .expect(3);
    assert_eq!(
        results_of(&store.csv("real.csv")),
        ["failed", "failed", "created"]
    );
}

#[test]
fn delete_dry_run_treats_repeated_rows_like_the_real_run() {
    let store = Store::new(SandboxConfig {
        seed: 3,
        ..config()
    });
    let c = &store.sb.customers()[0];
    let (id, email) = (
        c["id"].as_u64().unwrap(),
        c["email"].as_str().unwrap().to_string(),
    );
    store.write("del.csv", &format!("id,email\n{id},\n,{email}\n{id},\n"));
    // Rows naming one customer differently (id, email) run concurrently: whichever claims it
    // first deletes it, the others are skipped, in the dry run and the real run alike.
    let sorted = |name: &str| {
        let mut r = results_of(&store.csv(name));
        r.sort();
        r
    };
    store.run(&["delete", "--input", "del.csv"]).expect(0);
    assert_eq!(
        sorted("del.results.csv"),
        ["skipped", "skipped", "would_delete"]
    );
    store
        .run(&[
            "delete",
            "--input",
            "del.csv",
            "--yes",
            "--results",
            "yes.csv",
        ])
        .expect(0);
    assert_eq!(sorted("yes.csv"), ["deleted", "skipped", "skipped"]);
    assert_eq!(store.count("DELETE /customers/{id}"), 1);
    assert_eq!(store.sb.customers().len(), 2);
}

#[test]
fn validate_password_refuses_an_id_and_email_that_disagree() {
    let store = Store::new(SandboxConfig {
        seed: 3,
        ..config()
    });
    let customers = store.sb.customers();
    let (a, b) = (&customers[0], &customers[1]);
    let a_id = a["id"].as_u64().unwrap();
    let b_email = b["email"].as_str().unwrap();
    store.write(
        "pw.csv",
        &format!(
            "id,email,password\n{a_id},{b_email},seeded-pass-{a_id}\n{a_id},,seeded-pass-{a_id}\n"
        ),
    );
    store
        .run(&["validate-password", "--input", "pw.csv"])
        .expect(3);
    let r = store.csv("pw.results.csv");
    assert_eq!(results_of(&r), ["failed", "valid"]);
    assert!(
        r[0]["_message"].contains("has the email"),
        "{}",
        r[0]["_message"]
    );
    assert!(!store.read("pw.results.csv").contains("seeded-pass"));
}

#[test]
fn re_sent_creates_count_as_retries() {
    let store = Store::new(SandboxConfig {
        fail_rate: 0.3,
        rng_seed: 7,
        ..config()
    });
    store.write("new.csv", &new_customers_csv(60, "resend"));
    store
        .run(&[
            "import",
            "new.csv",
            "--max-retries",
            "10",
            "--summary-json",
            "s.json",
        ])
        .expect(0);
    let posts = store.count("POST /customers");
    let summary = json(&store, "s.json");
    assert!(
        posts > 60,
        "the fault rate makes some creates fail: {posts}"
    );
    assert!(
        summary["retries"].as_u64().unwrap() >= posts - 60,
        "every re-sent create is a retry: {posts} POSTs, summary {summary}"
    );
    assert_eq!(store.sb.customers().len(), 60);
}
