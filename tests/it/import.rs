//! Issue 3: `import`, complete — dry runs, validation, groups, addresses, passwords, blanks,
//! export files as input, unknown columns, duplicate rows, `--only-failed` and planning.

use std::collections::HashMap;

use crate::common::*;
use bc_customers::sandbox::SandboxConfig;
use serde_json::{json, Value};

fn id_of(c: &Value) -> u64 {
    c["id"].as_u64().unwrap()
}

fn by_row(results: &[HashMap<String, String>]) -> HashMap<String, HashMap<String, String>> {
    results
        .iter()
        .map(|r| (r["_row"].clone(), r.clone()))
        .collect()
}

/// A store holding Ann (Acme, group 2, reset false) and Bob.
fn store_with_two() -> Store {
    let store = Store::empty();
    store.sb.insert_customer(json!({
        "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
        "company": "Acme", "customer_group_id": 2, "store_credit": "5.0000"
    }));
    store.sb.insert_customer(json!({
        "email": "bob@example.com", "first_name": "Bob", "last_name": "Ray"
    }));
    store
}

#[test]
fn dry_run_classifies_every_row_and_sends_no_write() {
    let store = store_with_two();
    store.write(
        "in.csv",
        "email,first_name,last_name,company,customer_group\n\
         ann@example.com,Ann,Lee,Acme,Wholesale\n\
         bob@example.com,Bob,Ray,,Brand New Group\n\
         new@example.com,New,Person,,Brand New Group\n\
         broken,No,Mail,,\n\
         new@example.com,Newer,Person,,\n",
    );
    store.sb.reset_counters();
    store
        .run(&["import", "in.csv", "--dry-run", "--create-missing-groups"])
        .expect(3);
    let results = store.csv("in.results.csv");
    assert_eq!(
        results_of(&results),
        [
            "unchanged",
            "would_update",
            "would_create",
            "invalid",
            "would_update"
        ]
    );
    assert!(
        results[1]["_message"].contains("customer_group_id"),
        "{:?}",
        results[1]
    );
    let c = store.sb.counters();
    assert_eq!(c.writes, 0, "{:?}", c.by_route);
    assert!(
        c.by_route.keys().all(|k| k.starts_with("GET ")),
        "{:?}",
        c.by_route
    );
    assert_eq!(store.sb.customers().len(), 2);
    assert_eq!(
        store.sb.groups().len(),
        3,
        "no group is created in a dry run"
    );
}

#[test]
fn invalid_rows_name_the_column_and_send_nothing() {
    let store = Store::empty();
    store.write(
        "in.csv",
        "email,first_name,last_name,phone,store_credit,force_password_reset,customer_group_id,address_street_1,address_city,address_state,address_zip,address_country\n\
         ok@example.com,Ok,Row,555,1.50,false,,,,,,\n\
         nolast@example.com,No,,555,,,,,,,,\n\
         not-an-email,Bad,Mail,555,,,,,,,,\n\
         credit@example.com,Bad,Credit,555,abc,,,,,,,\n\
         neg@example.com,Neg,Credit,555,-2,,,,,,,\n\
         bool@example.com,Bad,Bool,555,,maybe,,,,,,\n\
         group@example.com,Bad,Group,555,,,99,,,,,\n\
         addr@example.com,Half,Address,555,,,,1 Main St,,,,\n\
         state@example.com,Bad,State,555,,,,1 Main St,Springfield,Narnia,12345,US\n\
         nostate@example.com,No,State,555,,,,1 Main St,Springfield,,12345,United States\n\
         country@example.com,Bad,Country,555,,,,1 Main St,Springfield,,12345,Atlantis\n",
    );
    let run = store.run(&["import", "in.csv"]);
    run.expect(3);
    let results = store.csv("in.results.csv");
    let expect: [(&str, &[&str]); 11] = [
        ("created", &[]),
        ("invalid", &["last_name"]),
        ("invalid", &["email", "not-an-email"]),
        ("invalid", &["store_credit", "abc", "e.g. 12.50"]),
        ("invalid", &["store_credit", "negative", "0 or more"]),
        (
            "invalid",
            &["force_password_reset", "maybe", "true or false"],
        ),
        ("invalid", &["customer_group_id 99", "groups list"]),
        // A customer is never refused because of its address: created, the address not added.
        (
            "invalid",
            &["customer created", "address_city", "address_zip"],
        ),
        (
            "invalid",
            &[
                "customer created",
                "address_state",
                "Narnia",
                "United States",
            ],
        ),
        (
            "invalid",
            &["customer created", "address_state", "need a state"],
        ),
        (
            "invalid",
            &["customer created", "address_country", "Atlantis"],
        ),
    ];
    for (r, (result, words)) in results.iter().zip(expect) {
        assert_eq!(r["_result"], result, "{r:?}");
        for w in words {
            assert!(
                r["_message"].contains(w),
                "{w:?} not in {:?}",
                r["_message"]
            );
        }
    }
    assert_eq!(
        store.count("POST /customers"),
        5,
        "invalid rows send nothing, but for the four whose only problem is the address"
    );
    assert_eq!(store.sb.customers().len(), 5);
    assert_eq!(store.count("POST /customers/{id}/addresses"), 0);
}

#[test]
fn groups_are_listed_once_and_missing_ones_created_once() {
    let store = Store::empty();
    let mut csv = String::from("email,first_name,last_name,customer_group\n");
    for i in 0..40 {
        let group = ["Gold", "Silver", "gold ", "Bronze", "VIP"][i % 5];
        csv.push_str(&format!("g{i}@example.com,G{i},Member,{group}\n"));
    }
    store.write("in.csv", &csv);
    // Without --create-missing-groups, rows naming a missing group are invalid, naming it.
    store.run(&["import", "in.csv"]).expect(3);
    let first = store.csv("in.results.csv");
    assert!(first[0]["_result"] == "invalid" && first[0]["_message"].contains("\"Gold\""));
    assert_eq!(first[4]["_result"], "created", "VIP exists");
    assert_eq!(store.count("GET /customer_groups"), 1);
    assert_eq!(store.count("POST /customer_groups"), 0);

    store.sb.reset_counters();
    store
        .run(&[
            "import",
            "in.csv",
            "--create-missing-groups",
            "--concurrency",
            "8",
        ])
        .expect(0);
    assert_eq!(
        store.count("GET /customer_groups"),
        1,
        "one listing per run"
    );
    assert_eq!(
        store.count("POST /customer_groups"),
        3,
        "Gold (any case), Silver, Bronze once each"
    );
    let gold = store
        .sb
        .groups()
        .into_iter()
        .find(|g| g["name"] == "Gold")
        .unwrap();
    assert_eq!(
        customer(&store, "g2@example.com")["customer_group_id"],
        gold["id"]
    );
}

#[test]
fn addresses_are_added_once_with_full_country_names() {
    let store = Store::empty();
    let file = "email,first_name,last_name,phone,address_street_1,address_city,address_state,address_zip,address_country\n\
                us@example.com,Uma,Stone,555-0100,1 Main St,Springfield,IL,62701,US\n\
                de@example.com,Dirk,Hahn,555-0101,Unter den Linden 1,Berlin,,10117,Germany\n\
                gb@example.com,Gail,Bird,555-0102,10 Downing St,London,,SW1A 2AA,GB\n";
    store.write("in.csv", file);
    store.run(&["import", "in.csv"]).expect(0);
    let us = store
        .sb
        .addresses(id_of(&customer(&store, "us@example.com")));
    assert_eq!(us.len(), 1);
    assert_eq!(us[0]["country"], "United States");
    assert_eq!(us[0]["country_iso2"], "US");
    assert_eq!(us[0]["state"], "Illinois");
    let de = store
        .sb
        .addresses(id_of(&customer(&store, "de@example.com")));
    assert_eq!(de[0]["country_iso2"], "DE");
    assert_eq!(
        de[0]["state"], " ",
        "a country without states gets a space, as V2 asks"
    );
    let gb = store
        .sb
        .addresses(id_of(&customer(&store, "gb@example.com")));
    assert_eq!(gb[0]["country"], "United Kingdom");

    // The same file again adds nothing.
    store.sb.reset_counters();
    store.run(&["import", "in.csv"]).expect(0);
    assert!(results_of(&store.csv("in.results.csv"))
        .iter()
        .all(|r| r == "unchanged"));
    assert_eq!(store.count("POST /customers/{id}/addresses"), 0);
    let total: usize = store
        .sb
        .customers()
        .iter()
        .map(|c| store.sb.addresses(id_of(c)).len())
        .sum();
    assert_eq!(total, 3);

    // A different address for an existing customer is added beside the first.
    store.write(
        "more.csv",
        "email,address_street_1,address_city,address_state,address_zip,address_country\n\
         us@example.com,2 Oak Ave,Chicago,Illinois,60601,United States\n",
    );
    store.run(&["import", "more.csv"]).expect(3);
    let more = store.csv("more.results.csv");
    assert!(
        more[0]["_message"].contains("address_phone")
            && more[0]["_message"].contains("address_first_name"),
        "the address needs a name and phone, from its own columns or the customer's: {:?}",
        more[0]
    );
    store.write(
        "more.csv",
        "email,first_name,last_name,phone,address_street_1,address_city,address_state,address_zip,address_country\n\
         us@example.com,Uma,Stone,555-0100,2 Oak Ave,Chicago,Illinois,60601,United States\n",
    );
    store.run(&["import", "more.csv"]).expect(0);
    assert_eq!(store.csv("more.results.csv")[0]["_result"], "updated");
    assert_eq!(
        store
            .sb
            .addresses(id_of(&customer(&store, "us@example.com")))
            .len(),
        2
    );
}

#[test]
fn passwords_reset_flags_and_update_passwords() {
    let store = Store::empty();
    store.write(
        "in.csv",
        "email,first_name,last_name,password,password_confirmation\n\
         pw@example.com,Pat,Word,Secret123,Secret123\n\
         nopw@example.com,No,Word,,\n",
    );
    let run = store.run(&["import", "in.csv", "--force-password-reset"]);
    run.expect(0);
    let pw = customer(&store, "pw@example.com");
    assert_eq!(
        store.sb.password_of(id_of(&pw)).as_deref(),
        Some("Secret123")
    );
    assert_eq!(pw["reset_pass_on_login"], true);
    assert_eq!(
        customer(&store, "nopw@example.com")["reset_pass_on_login"],
        true
    );
    let text = store.read("in.results.csv");
    assert!(!text.contains("Secret123") && !run.stderr.contains("Secret123"));

    // Again, with a new password: not applied without --update-passwords (and said so once).
    let changed = store.read("in.csv").replace("Secret123", "Changed456");
    store.write("in.csv", &changed);
    let run = store.run(&["import", "in.csv"]);
    run.expect(0);
    assert_eq!(
        results_of(&store.csv("in.results.csv")),
        ["unchanged", "unchanged"]
    );
    assert_eq!(
        run.stderr.matches("--update-passwords").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        store.sb.password_of(id_of(&pw)).as_deref(),
        Some("Secret123")
    );

    let run = store.run(&["import", "in.csv", "--update-passwords"]);
    run.expect(0);
    assert_eq!(
        results_of(&store.csv("in.results.csv")),
        ["updated", "unchanged"]
    );
    assert_eq!(
        store.sb.password_of(id_of(&pw)).as_deref(),
        Some("Changed456")
    );
    assert!(!run.stderr.contains("Changed456"));
    assert!(!store.read("in.results.csv").contains("Changed456"));

    // force_password_reset is an ordinary field: false clears it, and a re-run is unchanged.
    store.write(
        "reset.csv",
        "email,force_password_reset\npw@example.com,false\nnopw@example.com,true\n",
    );
    store.run(&["import", "reset.csv"]).expect(0);
    assert_eq!(
        results_of(&store.csv("reset.results.csv")),
        ["updated", "unchanged"]
    );
    assert_eq!(
        customer(&store, "pw@example.com")["reset_pass_on_login"],
        false
    );
    store.run(&["import", "reset.csv"]).expect(0);
    assert_eq!(
        results_of(&store.csv("reset.results.csv")),
        ["unchanged", "unchanged"]
    );
}

#[test]
fn blank_keep_and_clear() {
    let store = store_with_two();
    store.write("in.csv", "email,company,store_credit\nann@example.com,,\n");
    store.run(&["import", "in.csv"]).expect(0);
    assert_eq!(store.csv("in.results.csv")[0]["_result"], "unchanged");
    store
        .run(&["import", "in.csv", "--blank", "keep"])
        .expect(0);
    assert_eq!(customer(&store, "ann@example.com")["company"], "Acme");

    store
        .run(&["import", "in.csv", "--blank", "clear"])
        .expect(0);
    let r = &store.csv("in.results.csv")[0];
    assert_eq!(r["_result"], "updated");
    assert!(r["_message"].contains("company") && r["_message"].contains("store_credit"));
    let ann = customer(&store, "ann@example.com");
    assert_eq!(ann["company"], "");
    assert_eq!(ann["store_credit"], "0.0000");
    assert_eq!(
        ann["first_name"], "Ann",
        "columns not in the file are untouched"
    );
}

#[test]
fn an_export_file_imports_back_and_group_id_wins() {
    let store = Store::new(SandboxConfig {
        seed: 40,
        ..config()
    });
    store.run(&["export", "-o", "export.csv"]).expect(0);
    store.sb.reset_counters();
    let run = store.run(&["import", "export.csv", "--results", "r.csv"]);
    run.expect(0);
    assert!(results_of(&store.csv("r.csv"))
        .iter()
        .all(|r| r == "unchanged"));
    assert_eq!(store.sb.counters().writes, 0);
    assert_eq!(
        run.stderr.matches("read-only column(s) not sent").count(),
        1,
        "said once, not per row: {}",
        run.stderr
    );
    assert!(run.stderr.contains("date_created") && run.stderr.contains("form_field:"));

    // Edit one row: reset_pass_on_login true; a group id and a different group name.
    let rows = store.csv("export.csv");
    let first = &rows[0];
    let text = store.read("export.csv");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let gid = header
        .iter()
        .position(|h| *h == "customer_group_id")
        .unwrap();
    let gname = header.iter().position(|h| *h == "customer_group").unwrap();
    let reset = header
        .iter()
        .position(|h| *h == "reset_pass_on_login")
        .unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let mut rec = rdr.records().next().unwrap().unwrap();
    let mut cells: Vec<String> = rec.iter().map(str::to_string).collect();
    cells[gid] = "3".into();
    cells[gname] = "Wholesale".into();
    cells[reset] = "true".into();
    let mut wtr = csv::WriterBuilder::new().from_writer(vec![]);
    wtr.write_record(&cells).unwrap();
    lines[1] = String::from_utf8(wtr.into_inner().unwrap())
        .unwrap()
        .trim_end()
        .to_string();
    store.write("edited.csv", &(lines.join("\n") + "\n"));
    rec.clear();
    store.run(&["import", "edited.csv"]).expect(0);
    let c = customer(&store, &first["email"]);
    assert_eq!(
        c["customer_group_id"], 3,
        "customer_group_id wins over customer_group"
    );
    assert_eq!(
        c["reset_pass_on_login"], true,
        "reset_pass_on_login is force_password_reset"
    );
}

#[test]
fn unknown_columns_are_fatal_before_any_request() {
    let store = Store::empty();
    store.write(
        "in.csv",
        "emial,first_name,last_name,shoe_size\na@example.com,A,B,42\n",
    );
    let run = store.run(&["import", "in.csv"]);
    run.expect(1);
    assert!(
        run.stderr.contains("\"emial\" (did you mean \"email\"?)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("shoe_size"));
    assert_eq!(store.sb.counters().total, 0, "nothing was sent");

    store.write(
        "in.csv",
        "email,first_name,last_name,shoe_size\na@example.com,A,B,42\n",
    );
    let run = store.run(&["import", "in.csv", "--ignore-unknown-columns"]);
    run.expect(0);
    assert!(run.stderr.contains("unknown column(s) ignored: shoe_size"));
    assert_eq!(store.sb.customers().len(), 1);
}

#[test]
fn duplicate_rows_apply_in_file_order() {
    // The three plans: an empty store (nothing to look up), a preloaded store (19 rows cost
    // more lookups than reading 600 customers) and per-row lookups (19 rows next to 6,000).
    for seed in [0, 600, 6000] {
        let store = Store::new(SandboxConfig {
            seed,
            latency_ms: 2,
            ..config()
        });
        let mut csv = String::from("email,first_name,last_name\n");
        for i in 0..6 {
            csv.push_str(&format!("dup@example.com,Name{i},Same\n"));
            csv.push_str(&format!("DUP@Example.com,Name{i},Same\n"));
            csv.push_str(&format!("other{i}@example.com,O,Ther\n"));
        }
        csv.push_str("Dup@example.com,Final,Same\n");
        store.write("in.csv", &csv);
        store
            .run(&["import", "in.csv", "--concurrency", "8"])
            .expect(0);
        let results = store.csv("in.results.csv");
        let dup: Vec<&str> = results
            .iter()
            .filter(|r| r["email"].eq_ignore_ascii_case("dup@example.com"))
            .map(|r| r["_result"].as_str())
            .collect();
        let mut want = vec!["created", "unchanged"];
        for _ in 1..6 {
            want.extend(["updated", "unchanged"]);
        }
        want.push("updated");
        assert_eq!(dup, want, "seed {seed}");
        let ids: Vec<&str> = results
            .iter()
            .filter(|r| r["email"].eq_ignore_ascii_case("dup@example.com"))
            .map(|r| r["_customer_id"].as_str())
            .collect();
        assert!(ids.iter().all(|id| *id == ids[0] && !id.is_empty()));
        assert_eq!(customer(&store, "dup@example.com")["first_name"], "Final");
        assert_eq!(store.count("POST /customers"), 7, "one create per customer");
        if seed == 6000 {
            // One lookup per customer: later rows see what the earlier ones did.
            assert_eq!(store.count("GET /customers"), 7);
        }
    }
}

#[test]
fn only_failed_retries_fixed_rows_with_their_row_numbers() {
    let store = store_with_two();
    store.write(
        "in.csv",
        "email,first_name,last_name,store_credit\n\
         one@example.com,One,Row,1\n\
         two@example.com,Two,,2\n\
         three@example.com,Three,Row,x\n\
         ann@example.com,Ann,Lee,5\n",
    );
    store
        .run(&["import", "in.csv", "--mode", "create"])
        .expect(3);
    assert_eq!(
        results_of(&store.csv("in.results.csv")),
        ["created", "invalid", "invalid", "failed"]
    );
    // Fix the two invalid rows in the results file; the failed one (exists) is retried as is.
    let fixed = store
        .read("in.results.csv")
        .replace("two@example.com,Two,,2", "two@example.com,Two,Row,2")
        .replace(
            "three@example.com,Three,Row,x",
            "three@example.com,Three,Row,3",
        );
    store.write("in.results.csv", &fixed);
    store.sb.reset_counters();
    store
        .run(&["import", "in.results.csv", "--only-failed"])
        .expect(0);
    // `<input stem>.results.csv`: the earlier results file is kept.
    let retry = store.csv("in.results.results.csv");
    let rows = by_row(&retry);
    assert_eq!(retry.len(), 4, "every input record, once, in order");
    assert_eq!(
        retry.iter().map(|r| r["_row"].as_str()).collect::<Vec<_>>(),
        ["1", "2", "3", "4"]
    );
    assert_eq!(rows["2"]["_result"], "created");
    assert_eq!(rows["3"]["_result"], "created");
    assert_eq!(rows["4"]["_result"], "unchanged");
    // Row 1 had not failed: it is not sent again and keeps its earlier outcome.
    assert_eq!(rows["1"]["_result"], "created");
    assert!(!rows["1"]["_customer_id"].is_empty());
    assert_eq!(store.count("POST /customers"), 2);
    assert_eq!(
        customer(&store, "three@example.com")["store_credit"],
        "3.0000"
    );
}

#[test]
fn planning_reads_the_store_or_looks_rows_up_whichever_is_cheaper() {
    // 100 rows against 300 customers: two pages of 250 beat 100 lookups.
    let store = Store::new(SandboxConfig {
        seed: 300,
        ..config()
    });
    store.run(&["export", "-o", "all.csv"]).expect(0);
    let all = store.read("all.csv");
    let mut lines = all.lines();
    let mut file = format!("{}\n", lines.next().unwrap());
    for l in lines.take(100) {
        file.push_str(l);
        file.push('\n');
    }
    store.write("hundred.csv", &file);
    store.sb.reset_counters();
    let run = store.run(&["import", "hundred.csv"]);
    run.expect(0);
    // The id-range pager: ceil(300 / 250) pages, a last-page probe and the open tail.
    assert!(
        store.count("GET /customers") <= 4,
        "{:?}",
        store.sb.counters().by_route
    );
    assert_eq!(store.count("GET /customers/{id}"), 0);
    assert!(run.stderr.contains("per row"), "{}", run.stderr);

    // 3 rows: three lookups by id beat reading two pages.
    let mut lines = all.lines();
    let mut small = format!("{}\n", lines.next().unwrap());
    for l in lines.take(3) {
        small.push_str(l);
        small.push('\n');
    }
    store.write("three.csv", &small);
    store.sb.reset_counters();
    store.run(&["import", "three.csv"]).expect(0);
    assert_eq!(store.count("GET /customers/{id}"), 3);
    assert_eq!(store.count("GET /customers"), 0);
    assert_eq!(
        store.sb.counters().total,
        5,
        "count + the group listing (the file has group columns) + 3 lookups"
    );
}

#[test]
fn repeated_addresses_are_added_once_also_in_dry_runs() {
    let store = store_with_two();
    store.write(
        "in.csv",
        "email,first_name,last_name,phone,address_street_1,address_city,address_zip,address_country\n\
         new@example.com,New,Person,555,1 Rue,Paris,75001,FR\n\
         NEW@example.com,New,Person,555,1 rue,PARIS,75001,France\n\
         bob@example.com,Bob,Ray,555,2 Rue,Lyon,69001,FR\n\
         bob@example.com,Bob,Ray,555,2 Rue,Lyon,69001,FR\n\
         new@example.com,New,Person,555,3 Rue,Nice,06000,FR\n",
    );
    store.sb.reset_counters();
    store.run(&["import", "in.csv", "--dry-run"]).expect(0);
    assert_eq!(
        results_of(&store.csv("in.results.csv")),
        [
            "would_create",
            "unchanged",
            "would_update",
            "unchanged",
            "would_update"
        ]
    );
    assert_eq!(store.sb.counters().writes, 0);

    store.sb.reset_counters();
    store.run(&["import", "in.csv"]).expect(0);
    assert_eq!(
        results_of(&store.csv("in.results.csv")),
        ["created", "unchanged", "updated", "unchanged", "updated"]
    );
    assert_eq!(
        store
            .sb
            .addresses(id_of(&customer(&store, "new@example.com")))
            .len(),
        2
    );
    assert_eq!(
        store
            .sb
            .addresses(id_of(&customer(&store, "bob@example.com")))
            .len(),
        1
    );
    // Only Bob's rows read addresses: the new customer's are known to this run.
    assert_eq!(store.count("GET /customers/{id}/addresses"), 2);
}

#[test]
fn match_by_email_restores_deleted_customers_from_a_backup() {
    let store = Store::new(SandboxConfig {
        seed: 12,
        ..config()
    });
    store.run(&["export", "-o", "backup.csv"]).expect(0);
    let ids: Vec<u64> = store
        .csv("backup.csv")
        .iter()
        .map(|r| r["id"].parse().unwrap())
        .collect();
    assert!(store.sb.delete_customer(ids[2]));
    assert!(store.sb.delete_customer(ids[7]));
    // By id (the default) the deleted customers cannot be found: their rows fail.
    store
        .run(&["import", "backup.csv", "--results", "by-id.csv"])
        .expect(3);
    let by_id = store.csv("by-id.csv");
    assert_eq!(by_id.iter().filter(|r| r["_result"] == "failed").count(), 2);
    assert!(by_id[2]["_message"].contains("no customer with id"));
    // By email they are created again; everyone else is unchanged.
    store.sb.reset_counters();
    store
        .run(&[
            "import",
            "backup.csv",
            "--match",
            "email",
            "--results",
            "by-email.csv",
        ])
        .expect(0);
    let by_email = store.csv("by-email.csv");
    assert_eq!(by_email[2]["_result"], "created");
    assert_eq!(by_email[7]["_result"], "created");
    assert_eq!(
        by_email
            .iter()
            .filter(|r| r["_result"] == "unchanged")
            .count(),
        10
    );
    assert_eq!(store.count("POST /customers"), 2);
    assert_eq!(store.sb.customers().len(), 12);
}
