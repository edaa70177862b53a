//! Issue 12, "Real-world files and an honest terminal": addresses never cost a customer, a
//! backup's addresses file restores, `--only-failed` after a dry run, duplicate rows flagged,
//! progress without a terminal, quota waits, `--quiet`, summary timestamps, help and messages.

use std::collections::HashMap;

use crate::common::*;
use bc_customers::sandbox::SandboxConfig;
use serde_json::json;

/// Rewrite a CSV file with `edit` applied to each record (as column → value).
fn edit_csv(path: &std::path::Path, edit: impl Fn(&mut HashMap<String, String>)) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let mut wtr = csv::Writer::from_writer(Vec::new());
    wtr.write_record(&headers).unwrap();
    for r in rdr.records() {
        let r = r.unwrap();
        let mut row: HashMap<String, String> = headers
            .iter()
            .zip(r.iter())
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        edit(&mut row);
        wtr.write_record(headers.iter().map(|h| row[h].clone()))
            .unwrap();
    }
    std::fs::write(path, wtr.into_inner().unwrap()).unwrap();
}

// ---- item 7: addresses never cost a customer ----

#[test]
fn an_address_without_a_phone_still_creates_the_customer_and_says_how_to_add_it() {
    let store = Store::empty();
    store.write("shop.csv", &sample("shopify/customers_no_phone.csv"));
    // The dry run says what the real run will do.
    let dry = store.run(&["import", "shop.csv", "--preset", "shopify", "--dry-run"]);
    dry.expect(3);
    let dry_results = store.csv("shop.results.csv");
    assert_eq!(
        results_of(&dry_results),
        ["invalid", "invalid", "would_create"]
    );
    assert!(
        dry_results[0]["_message"].contains("would be created"),
        "{:?}",
        dry_results[0]
    );

    store
        .run(&["import", "shop.csv", "--preset", "shopify"])
        .expect(3);
    let results = store.csv("shop.results.csv");
    assert_eq!(results_of(&results), ["invalid", "invalid", "created"]);
    for (row, email) in [
        (&results[0], "camille.dubois@example.fr"),
        (&results[1], "martin.gomez@example.com.ar"),
    ] {
        let c = find_customer(&store, email).unwrap_or_else(|| panic!("{email} was not created"));
        let id = c["id"].as_u64().unwrap();
        assert_eq!(row["_customer_id"], id.to_string());
        assert!(store.sb.addresses(id).is_empty());
        let m = &row["_message"];
        assert!(
            m.contains("customer created")
                && m.contains("address not added")
                && m.contains("address_phone")
                && m.contains("--only-failed"),
            "{m}"
        );
    }
    let grace = find_customer(&store, "grace.kelly@example.com").unwrap();
    assert_eq!(store.sb.addresses(grace["id"].as_u64().unwrap()).len(), 1);

    // Fix the phone in the results file and retry: the address is added to the customer.
    edit_csv(&store.path("shop.results.csv"), |row| {
        if row["Email"] == "camille.dubois@example.fr" {
            row.insert("Default Address Phone".into(), "'+33 1 55 50 12 34".into());
        }
    });
    store
        .run(&[
            "import",
            "shop.results.csv",
            "--preset",
            "shopify",
            "--only-failed",
            "--results",
            "retry.csv",
        ])
        .expect(3);
    let retry = store.csv("retry.csv");
    assert_eq!(results_of(&retry), ["updated", "invalid", "created"]);
    assert!(
        retry[0]["_message"].contains("new address"),
        "{:?}",
        retry[0]
    );
    let camille = find_customer(&store, "camille.dubois@example.fr").unwrap();
    let addrs = store.sb.addresses(camille["id"].as_u64().unwrap());
    assert_eq!(addrs.len(), 1);
    assert_eq!(addrs[0]["phone"], "+33 1 55 50 12 34");
    assert_eq!(store.sb.customers().len(), 3, "nobody was created twice");
}

#[test]
fn an_incomplete_address_still_updates_the_customer() {
    let store = Store::empty();
    let id = store.sb.insert_customer(json!({
        "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"
    }));
    store.write(
        "in.csv",
        "email,first_name,last_name,address_street_1,address_city,address_zip,address_country\n\
         ann@example.com,Ann,Leigh,1 Main St,Springfield,62701,Narnia\n",
    );
    store.run(&["import", "in.csv"]).expect(3);
    let r = &store.csv("in.results.csv")[0];
    assert_eq!(r["_result"], "invalid");
    assert_eq!(r["_customer_id"], id.to_string());
    assert!(
        r["_message"].contains("customer updated") && r["_message"].contains("address not added"),
        "{r:?}"
    );
    assert_eq!(
        find_customer(&store, "ann@example.com").unwrap()["last_name"],
        "Leigh"
    );
    assert!(store.sb.addresses(id).is_empty());
}

/// Compare two stores' addresses by customer email (ids differ between stores).
fn addresses_by_email(store: &Store) -> Vec<(String, Vec<String>)> {
    let mut all: Vec<(String, Vec<String>)> = Vec::new();
    for c in store.sb.customers() {
        let email = c["email"].as_str().unwrap().to_lowercase();
        for a in store.sb.addresses(c["id"].as_u64().unwrap()) {
            let fields = [
                "first_name",
                "last_name",
                "company",
                "street_1",
                "street_2",
                "city",
                "state",
                "zip",
                "country",
                "phone",
                "address_type",
            ]
            .iter()
            .map(|k| a[*k].as_str().unwrap_or("").to_string())
            .collect();
            all.push((email.clone(), fields));
        }
    }
    all.sort();
    all
}

#[test]
fn a_backup_with_its_addresses_file_restores_into_an_empty_store() {
    let source = Store::new(SandboxConfig {
        seed: 60,
        ..config()
    });
    source
        .run(&[
            "export",
            "-o",
            "customers.csv",
            "--addresses",
            "addresses.csv",
        ])
        .expect(0);
    let want = addresses_by_email(&source);
    assert!(want.len() >= 20, "the seed has addresses: {}", want.len());

    let target = Store::empty();
    std::fs::copy(source.path("customers.csv"), target.path("customers.csv")).unwrap();
    std::fs::copy(source.path("addresses.csv"), target.path("addresses.csv")).unwrap();
    target
        .run(&["import", "customers.csv", "--match", "email"])
        .expect(0);
    let run = target.run(&["import", "addresses.csv", "--match", "email"]);
    run.expect(0);
    let results = target.csv("addresses.results.csv");
    assert_eq!(results.len(), want.len());
    assert!(
        results.iter().all(|r| r["_result"] == "updated"),
        "{results:?}"
    );
    assert_eq!(addresses_by_email(&target), want);

    // The restore is idempotent: the same file again adds nothing.
    target
        .run(&[
            "import",
            "addresses.csv",
            "--match",
            "email",
            "--results",
            "again.csv",
        ])
        .expect(0);
    assert!(target
        .csv("again.csv")
        .iter()
        .all(|r| r["_result"] == "unchanged"));
    assert_eq!(addresses_by_email(&target), want);

    // And an export of the restored store writes the same addresses file, ids aside.
    target
        .run(&["export", "-o", "c2.csv", "--addresses", "a2.csv"])
        .expect(0);
    let strip = |rows: Vec<HashMap<String, String>>| {
        let mut v: Vec<Vec<(String, String)>> = rows
            .into_iter()
            .map(|mut r| {
                r.remove("customer_id");
                r.remove("address_id");
                let mut cells: Vec<(String, String)> = r.into_iter().collect();
                cells.sort();
                cells
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        strip(target.csv("a2.csv")),
        strip(source.csv("addresses.csv"))
    );
}

#[test]
fn an_addresses_file_row_never_creates_a_customer() {
    let store = Store::empty();
    store.write(
        "addresses.csv",
        "customer_id,customer_email,address_id,first_name,last_name,company,street_1,street_2,city,state,zip,country,country_iso2,phone,address_type\n\
         7,nobody@example.com,3,No,Body,,1 Main St,,Springfield,Illinois,62701,United States,US,555-0100,residential\n",
    );
    store
        .run(&["import", "addresses.csv", "--match", "email"])
        .expect(3);
    let r = &store.csv("addresses.results.csv")[0];
    assert_eq!(r["_result"], "failed");
    assert!(
        r["_message"].contains("import the customers first"),
        "{r:?}"
    );
    assert!(store.sb.customers().is_empty());
}

#[test]
fn the_address_pass_mappings_ship_inside_the_binary() {
    let store = Store::empty();
    store.write("woo.csv", &sample("woocommerce/customers.csv"));
    store
        .run(&["import", "woo.csv", "--preset", "woocommerce"])
        .expect(0);
    let first = store.run(&["import", "woo.csv", "--preset", "woocommerce", "--dry-run"]);
    assert!(
        !first.stderr.contains("samples/"),
        "notices name files a binary-only user does not have: {}",
        first.stderr
    );
    let run = store.run(&[
        "import",
        "woo.csv",
        "--preset",
        "woocommerce-shipping",
        "--mode",
        "update",
        "--results",
        "ship.csv",
    ]);
    run.expect(0);
    assert!(store
        .csv("ship.csv")
        .iter()
        .any(|r| r["_message"].contains("new address")));

    store.write("bc.csv", &sample("bigcommerce/customers.csv"));
    store
        .run(&["import", "bc.csv", "--preset", "bigcommerce"])
        .expect(0);
    for (preset, results) in [
        ("bigcommerce-address-2", "a2.csv"),
        ("bigcommerce-address-3", "a3.csv"),
    ] {
        store
            .run(&[
                "import",
                "bc.csv",
                "--mapping",
                &format!("builtin:{preset}"),
                "--mode",
                "update",
                "--results",
                results,
            ])
            .expect(0);
    }
    assert!(store
        .csv("a2.csv")
        .iter()
        .any(|r| r["_message"].contains("new address")));
}

// ---- item 9: --only-failed and duplicate rows ----

#[test]
fn only_failed_after_a_dry_run_does_the_rows_never_done() {
    let store = Store::empty();
    store.write(
        "trap.csv",
        "email,first_name,last_name\n\
         trap1@x.example,T,One\n\
         trap2@x.example,T,\n\
         trap3@x.example,T,Three\n",
    );
    store
        .run(&["import", "trap.csv", "--dry-run", "-q"])
        .expect(3);
    edit_csv(&store.path("trap.results.csv"), |row| {
        if row["email"] == "trap2@x.example" {
            row.insert("last_name".into(), "Two".into());
        }
    });
    store
        .run(&["import", "trap.results.csv", "--only-failed"])
        .expect(0);
    let results = store.csv("trap.results.results.csv");
    assert_eq!(results_of(&results), ["created", "created", "created"]);
    assert_eq!(store.sb.customers().len(), 3);
}

#[test]
fn a_second_row_for_the_same_email_says_so() {
    let store = Store::empty();
    store.write(
        "dup.csv",
        "email,first_name,last_name,notes\n\
         Jane@X-Corp.example,Jane,Doe,Prefers email\n\
         bob@example.com,Bob,Ray,\n\
         jane@x-corp.example,Jane,Doe,Shopify tags: vip\n",
    );
    store.run(&["import", "dup.csv"]).expect(0);
    let results = store.csv("dup.results.csv");
    assert!(!results[0]["_message"].contains("same customer"));
    assert!(
        results[2]["_message"].contains("same customer as row 1"),
        "{:?}",
        results[2]
    );
}

// ---- item 10: honest progress ----

#[test]
fn without_a_terminal_progress_lines_show_rows_rate_problems_eta_and_quota_waits() {
    let store = Store::new(SandboxConfig {
        quota: Some(12),
        window_ms: 1000,
        latency_ms: 5,
        ..config()
    });
    // The invalid row comes first, so that the lines of the run count it.
    let csv = new_customers_csv(40, "p").replacen('\n', "\nbroken,No,Mail,,\n", 1);
    store.write("in.csv", &csv);
    let out = store
        .command(&["import", "in.csv"])
        .env("BC_CUSTOMERS_PROGRESS_INTERVAL_MS", "150")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("progress:"))
        .collect();
    assert!(lines.len() >= 3, "{stderr}");
    assert!(
        lines.iter().any(|l| l.contains("/41 rows")
            && l.contains("rows/s")
            && l.contains("ETA")
            && l.contains("1 invalid")),
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("waiting for the store's rate limit (resets in")),
        "{stderr}"
    );
    // The summary says that the quota set the pace.
    assert!(
        stderr.contains("spent waiting for the store's rate limit"),
        "{stderr}"
    );
}

#[test]
fn the_planning_phase_reports_pages_read() {
    let store = Store::new(SandboxConfig {
        seed: 1000,
        latency_ms: 120,
        ..config()
    });
    store.write("in.csv", &new_customers_csv(12, "plan"));
    let out = store
        .command(&["import", "in.csv", "--dry-run", "--concurrency", "1"])
        .env("BC_CUSTOMERS_PROGRESS_INTERVAL_MS", "60")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("progress: reading the store to plan") && l.contains("/4 pages")),
        "{stderr}"
    );
}

#[test]
fn quiet_still_says_when_rows_failed() {
    let store = Store::empty();
    store.write(
        "in.csv",
        "email,first_name,last_name\nok@example.com,O,K\nbroken,B,R\n",
    );
    let run = store.run(&["import", "in.csv", "--quiet"]);
    run.expect(3);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("1 invalid") && lines[0].contains("in.results.csv"),
        "{}",
        run.stderr
    );
    // A clean quiet run stays silent.
    store.write(
        "ok.csv",
        "email,first_name,last_name\nok2@example.com,O,K\n",
    );
    let run = store.run(&["import", "ok.csv", "--quiet"]);
    run.expect(0);
    assert_eq!(run.stderr, "");
}

#[test]
fn summary_json_has_utc_start_and_finish_times() {
    let store = Store::empty();
    store.write("in.csv", &new_customers_csv(3, "ts"));
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    store
        .run(&["import", "in.csv", "--summary-json", "s.json"])
        .expect(0);
    let doc: serde_json::Value = serde_json::from_str(&store.read("s.json")).unwrap();
    let at = |k: &str| {
        let s = doc[k].as_str().unwrap_or_else(|| panic!("no {k}: {doc}"));
        assert!(s.ends_with('Z'), "{s}");
        chrono::DateTime::parse_from_rfc3339(s).unwrap()
    };
    let (start, end) = (at("started_at"), at("finished_at"));
    assert!(before <= start && start <= end, "{doc}");
}

// ---- item 11: help and messages ----

#[test]
fn import_help_puts_the_connection_flags_under_their_own_heading() {
    let store = Store::empty();
    let help = store.run(&["import", "--help"]);
    help.expect(0);
    let at = |s: &str| {
        help.stdout
            .find(s)
            .unwrap_or_else(|| panic!("{s} not in\n{}", help.stdout))
    };
    let heading = at("Connection:");
    for own in [
        "--mode",
        "--results",
        "--dry-run",
        "--only-failed",
        "--resume",
    ] {
        assert!(at(own) < heading, "{own}");
    }
    for conn in [
        "--store-hash",
        "--token-file",
        "--api-url",
        "--concurrency",
        "--timeout",
    ] {
        assert!(at(conn) > heading, "{conn}");
    }
    // The reference the unknown-column message sends users to.
    assert!(at("address_phone") > heading && at("Exit codes") > heading);
    for cmd in ["export", "set-group", "delete", "validate-password"] {
        let help = store.run(&[cmd, "--help"]);
        assert!(
            help.stdout.contains("Exit codes:"),
            "{cmd}: {}",
            help.stdout
        );
    }
}

#[test]
fn sandbox_demo_and_bench_do_not_offer_client_flags_that_do_nothing() {
    let store = Store::empty();
    for cmd in ["sandbox", "demo", "bench"] {
        let help = store.run(&[cmd, "--help"]);
        help.expect(0);
        for flag in ["--store-hash", "--token-file", "--api-url"] {
            assert!(!help.stdout.contains(flag), "{cmd} --help lists {flag}");
        }
    }
    for cmd in ["sandbox", "bench"] {
        let help = store.run(&[cmd, "--help"]);
        for flag in ["--concurrency", "--timeout", "--max-retries"] {
            assert!(!help.stdout.contains(flag), "{cmd} --help lists {flag}");
        }
    }
    let run = store.run(&["sandbox", "--concurrency", "9"]);
    run.expect(2);
    assert!(run.stderr.contains("--concurrency"), "{}", run.stderr);
    let run = store.run(&["--store-hash", "x", "bench", "--quick"]);
    run.expect(2);
    assert!(run.stderr.contains("--store-hash"), "{}", run.stderr);
}

#[test]
fn set_group_without_a_source_names_both() {
    let store = Store::empty();
    let run = store.run(&["set-group", "--group", "VIP"]);
    run.expect(2);
    assert!(
        run.stderr.contains("--input") && run.stderr.contains("--filter"),
        "{}",
        run.stderr
    );
    // The connection comes from the environment here: it is not shown as a required flag.
    assert!(!run.stderr.contains("--store-hash"), "{}", run.stderr);
}

#[test]
fn a_refused_token_and_a_wrong_store_hash_say_what_to_check() {
    let store = Store::empty();
    let run = store.run_with_env(&["count"], &[("BIGCOMMERCE_ACCESS_TOKEN", "wrong")]);
    run.expect(1);
    assert!(!run.stderr.contains(".:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("check the access token"),
        "{}",
        run.stderr
    );

    store.write("in.csv", &new_customers_csv(2, "h"));
    for args in [
        &["count"][..],
        &["export", "-o", "x.csv"][..],
        &["import", "in.csv"][..],
    ] {
        let run = store.run_with_env(args, &[("BIGCOMMERCE_STORE_HASH", "abc123")]);
        run.expect(1);
        assert!(
            run.stderr.contains("check the store hash"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_token_file_saved_with_a_bom_is_read() {
    let store = Store::empty();
    let path = store.path("token.txt");
    std::fs::write(&path, format!("\u{feff}{}\r\n", store.token)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let run = store.run_with_env(
        &["count", "--token-file", "token.txt"],
        &[("BIGCOMMERCE_ACCESS_TOKEN", "")],
    );
    run.expect(0);
    assert_eq!(run.stdout.trim(), "0");
}

#[test]
fn export_to_a_directory_or_into_a_missing_one_fails_before_any_request() {
    let store = Store::empty();
    std::fs::create_dir(store.path("plat")).unwrap();
    store.sb.reset_counters();
    let run = store.run(&["export", "-o", "plat"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("plat is a directory"), "{}", run.stderr);
    let run = store.run(&["export", "-o", "nodir/x.csv"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("directory nodir does not exist"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("spill"), "{}", run.stderr);
    let run = store.run(&["export", "-o", "ok.csv", "--addresses", "nodir/a.csv"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("nodir does not exist"),
        "{}",
        run.stderr
    );
    assert_eq!(store.sb.counters().total, 0);
}

#[test]
fn summaries_use_plurals_and_a_logical_order() {
    let store = Store::empty();
    store.sb.insert_customer(json!({
        "email": "one@example.com", "first_name": "One", "last_name": "Only"
    }));
    let run = store.run(&["export", "-o", "x.csv"]);
    run.expect(0);
    assert!(
        run.stderr.contains("exporting 1 customer:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("1 row in"), "{}", run.stderr);

    store.sb.insert_customer(json!({
        "email": "two@example.com", "first_name": "Two", "last_name": "Old"
    }));
    store.write(
        "in.csv",
        "email,first_name,last_name\n\
         broken,X,Y\n\
         two@example.com,Two,New\n\
         one@example.com,One,Only\n\
         new@example.com,New,Person\n",
    );
    let run = store.run(&["import", "in.csv"]);
    run.expect(3);
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("results:"))
        .unwrap()
        .to_string();
    assert!(
        line.ends_with("results: created 1, updated 1, unchanged 1, invalid 1"),
        "{line}"
    );
}

#[test]
fn a_dry_run_of_mode_create_says_what_the_real_run_will_report() {
    let store = Store::empty();
    store.sb.insert_customer(json!({
        "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"
    }));
    store.write(
        "in.csv",
        "email,first_name,last_name\nann@example.com,Ann,Lee\n",
    );
    store
        .run(&["import", "in.csv", "--mode", "create", "--dry-run"])
        .expect(3);
    let dry = store.csv("in.results.csv").remove(0);
    store
        .run(&["import", "in.csv", "--mode", "create"])
        .expect(3);
    let real = store.csv("in.results.csv").remove(0);
    // A dry run classifies rows as would_create, would_update, unchanged or invalid; it
    // says the real run's message word for word, and what the real run will report.
    assert_eq!(real["_result"], "failed");
    assert_eq!(dry["_result"], "invalid");
    assert_eq!(
        dry["_message"],
        format!(
            "{}; the real run reports this row as failed",
            real["_message"]
        )
    );
}

/// The bar on a terminal: the binary's stderr is a pseudo-terminal (openpty), 100 columns.
#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_the_bar_shows_rows_rate_and_problems_and_no_log_lines() {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};

    let store = Store::new(SandboxConfig {
        latency_ms: 40,
        ..config()
    });
    let csv = new_customers_csv(40, "tty").replacen('\n', "\nbroken,No,Mail,,\n", 1);
    store.write("in.csv", &csv);
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two new descriptors into the integers; each is owned once below.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // Not inherited by the children other tests start meanwhile: the reader below ends when
    // the last holder of the terminal's other end is gone.
    for fd in [master, slave] {
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = store
        .command(&["import", "in.csv", "--concurrency", "1"])
        .env("BC_CUSTOMERS_PROGRESS_INTERVAL_MS", "100")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(slave))
        .spawn()
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut f = std::fs::File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // The read fails (EIO) once the child, the last holder of the terminal, is gone.
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let status = child.wait().unwrap();
    let screen = reader.join().unwrap();
    assert_eq!(status.code(), Some(3), "{screen}");
    assert!(screen.contains("/41 rows"), "{screen}");
    assert!(screen.contains("rows/s"), "{screen}");
    assert!(screen.contains("1 invalid"), "{screen}");
    assert!(screen.contains("ETA"), "{screen}");
    assert!(
        !screen.contains("progress:"),
        "log lines are for no terminal: {screen}"
    );
    assert!(
        screen.contains("results: created 40, invalid 1"),
        "{screen}"
    );
}

#[test]
fn the_demo_restores_its_addresses_file_too() {
    let store = Store::empty();
    let run = store.run(&["demo", "--dir", "demo"]);
    run.expect(0);
    assert!(
        run.stderr
            .contains("export-addresses.results.csv  the addresses re-import: 0 write requests"),
        "{}",
        run.stderr
    );
    let results = store.csv("demo/export-addresses.results.csv");
    assert!(!results.is_empty());
    assert!(results.iter().all(|r| r["_result"] == "unchanged"));
}
