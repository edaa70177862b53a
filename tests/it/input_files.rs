//! Issue 12 items 1–6: real-world input files — Windows-1252 and UTF-16 files, semicolon and
//! tab delimiters, Excel's leftover rows and cells, the whole-file check before the first
//! request (stdin too), header spellings, title lines, preset hints, and amounts as people
//! write them.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;
use bc_customers::sandbox::SandboxConfig;
use serde_json::{json, Value};

/// `text` as Excel on Windows saves it ("CSV (Comma delimited)": Windows-1252).
fn cp1252(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
    assert!(!unmappable, "the test text fits Windows-1252");
    bytes.into_owned()
}

/// `text` as Excel's "Unicode Text" saves it: UTF-16LE with a byte-order mark.
fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xff, 0xfe];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

fn write_bytes(store: &Store, name: &str, bytes: &[u8]) {
    std::fs::write(store.path(name), bytes).unwrap();
}

fn credit(c: &Value) -> f64 {
    match &c["store_credit"] {
        Value::String(s) => s.parse().unwrap(),
        v => v.as_f64().unwrap(),
    }
}

fn names(c: &Value) -> (String, String) {
    (
        c["first_name"].as_str().unwrap().to_string(),
        c["last_name"].as_str().unwrap().to_string(),
    )
}

#[test]
fn windows_1252_names_reach_the_store_exactly() {
    let store = Store::empty();
    // Five ASCII rows first: today's code created them and then stopped at the accents.
    let mut text = String::from("email,first_name,last_name,company\n");
    for i in 0..5 {
        text.push_str(&format!("plain{i}@example.com,Plain,Row{i},\n"));
    }
    text.push_str("jose@example.com,José,Müller,Café Noël\nnina@example.com,Niña,Peña,\n");
    write_bytes(&store, "excel.csv", &cp1252(&text));
    let run = store.run(&["import", "excel.csv"]);
    run.expect(0);
    assert_eq!(
        names(&customer(&store, "jose@example.com")),
        ("José".into(), "Müller".into())
    );
    assert_eq!(customer(&store, "jose@example.com")["company"], "Café Noël");
    assert_eq!(
        names(&customer(&store, "nina@example.com")),
        ("Niña".into(), "Peña".into())
    );
    assert_eq!(store.sb.customers().len(), 7);
    // Said once in the summary; the results file is UTF-8 with the same names.
    assert_eq!(
        run.stderr.matches("Windows-1252").count(),
        1,
        "{}",
        run.stderr
    );
    let results = store.csv("excel.results.csv");
    assert_eq!(results[5]["first_name"], "José");
    assert!(results.iter().all(|r| r["_result"] == "created"));
}

#[test]
fn utf16_with_a_bom_and_tabs_imports_as_excel_unicode_text() {
    let store = Store::empty();
    let text = "email\tfirst_name\tlast_name\r\nzoe@example.com\tZoë\tŁukasiewicz\r\nkim@example.com\t김\t민준\r\n";
    write_bytes(&store, "unicode.txt", &utf16le_bom(text));
    let run = store.run(&["import", "unicode.txt", "--summary-json", "s.json"]);
    run.expect(0);
    assert_eq!(
        names(&customer(&store, "zoe@example.com")),
        ("Zoë".into(), "Łukasiewicz".into())
    );
    assert_eq!(
        names(&customer(&store, "kim@example.com")),
        ("김".into(), "민준".into())
    );
    let summary: Value = serde_json::from_str(&store.read("s.json")).unwrap();
    let notices = summary["notices"].to_string();
    assert!(
        notices.contains("UTF-16LE") && notices.contains("tab"),
        "{notices}"
    );
}

#[test]
fn explicit_encodings_are_used() {
    let store = Store::empty();
    write_bytes(
        &store,
        "latin.csv",
        &cp1252("email,first_name,last_name\nrene@example.com,René,Côté\n"),
    );
    store
        .run(&["import", "latin.csv", "--encoding", "latin-1"])
        .expect(0);
    assert_eq!(
        names(&customer(&store, "rene@example.com")),
        ("René".into(), "Côté".into())
    );
    // Told it is UTF-8, the same file is refused before anything is sent, with the line and
    // the column an editor shows.
    store.sb.reset_counters();
    let run = store.run(&["import", "latin.csv", "--encoding", "utf-8", "--dry-run"]);
    run.expect(1);
    assert!(
        run.stderr.contains("line 2") && run.stderr.contains("\"first_name\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--encoding windows-1252"),
        "{}",
        run.stderr
    );
    assert_eq!(store.sb.counters().total, 0);

    // UTF-16 without a BOM: recognised as such (NULs in the header), with or without the flag.
    let bare: Vec<u8> = "email,first_name,last_name\r\nuta@example.com,Uta,Schäfer\r\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    write_bytes(&store, "bare16.csv", &bare);
    let run = store.run(&["import", "bare16.csv", "--dry-run"]);
    run.expect(0);
    assert!(run.stderr.contains("UTF-16LE"), "{}", run.stderr);
    store
        .run(&["import", "bare16.csv", "--encoding", "utf-16"])
        .expect(0);
    assert_eq!(
        names(&customer(&store, "uta@example.com")),
        ("Uta".into(), "Schäfer".into())
    );
}

#[test]
fn semicolon_files_and_decimal_commas_from_a_european_excel() {
    let store = Store::empty();
    write_bytes(
        &store,
        "de.csv",
        &cp1252(
            "email;first_name;last_name;store_credit;notes\n\
             jurgen@example.de;Jürgen;Groß;1.234,56;\"Kunde; seit 2019\"\n\
             anna@example.de;Anna;Weiß;12,50;\n",
        ),
    );
    let run = store.run(&["import", "de.csv", "--decimal-comma"]);
    run.expect(0);
    let j = customer(&store, "jurgen@example.de");
    assert_eq!(names(&j), ("Jürgen".into(), "Groß".into()));
    assert_eq!(credit(&j), 1234.56);
    assert_eq!(j["notes"], "Kunde; seit 2019");
    assert_eq!(credit(&customer(&store, "anna@example.de")), 12.5);
    assert!(run.stderr.contains("delimiter ';'"), "{}", run.stderr);
}

#[test]
fn a_decimal_comma_without_the_flag_is_invalid_and_names_the_flag() {
    let store = Store::empty();
    store.write(
        "eu.csv",
        "email;first_name;last_name;store_credit\nanna@example.de;Anna;Weiß;12,50\n",
    );
    store.run(&["import", "eu.csv"]).expect(3);
    let results = store.csv("eu.results.csv");
    assert_eq!(results[0]["_result"], "invalid");
    assert!(
        results[0]["_message"].contains("--decimal-comma"),
        "{:?}",
        results[0]
    );
    assert!(store.sb.customers().is_empty());
}

#[test]
fn delimiters_can_be_given_and_tab_files_import() {
    let store = Store::empty();
    store.write(
        "tabs.tsv",
        "email\tfirst_name\tlast_name\tcompany\nt1@example.com\tTab\tOne\tA, B and C\n",
    );
    store.run(&["import", "tabs.tsv"]).expect(0);
    assert_eq!(customer(&store, "t1@example.com")["company"], "A, B and C");
    store.write(
        "pipes.csv",
        "email|first_name|last_name\np1@example.com|Pipe|One\n",
    );
    store
        .run(&["import", "pipes.csv", "--delimiter", "|"])
        .expect(0);
    assert_eq!(customer(&store, "p1@example.com")["first_name"], "Pipe");
    // A wrong explicit delimiter says which one the header uses.
    let run = store.run(&["import", "tabs.tsv", "--delimiter", ";", "--dry-run"]);
    run.expect(1);
    assert!(run.stderr.contains("--delimiter tab"), "{}", run.stderr);
}

#[test]
fn excel_leftover_rows_and_cells_are_skipped_and_the_run_succeeds() {
    let store = Store::empty();
    store.write(
        "left.csv",
        "email;first_name;last_name;company\n\
         tr1@example.com;Tr;One;;;;\n\
         tr2@example.com;Tr;Two;Acme;;\n\
         ;;;;\n\
         ; ;;\n\
         ;;;;;;;;\n",
    );
    let run = store.run(&["import", "left.csv"]);
    run.expect(0);
    let results = store.csv("left.results.csv");
    assert_eq!(
        results_of(&results),
        ["created", "created", "skipped", "skipped", "skipped"]
    );
    assert_eq!(results[2]["_message"], "empty row");
    assert_eq!(customer(&store, "tr2@example.com")["company"], "Acme");

    // A filled cell past the header's width is still the row's error, with its line.
    store.write(
        "extra.csv",
        "email,first_name,last_name\nx1@example.com,X,One\nx2@example.com,X,Two,surprise\n",
    );
    store.run(&["import", "extra.csv"]).expect(3);
    let results = store.csv("extra.results.csv");
    assert_eq!(results_of(&results), ["created", "invalid"]);
    assert!(
        results[1]["_message"].contains("line 3"),
        "{:?}",
        results[1]
    );
}

#[test]
fn the_other_row_commands_read_the_same_files() {
    let store = Store::empty();
    let ann = store.sb.insert_customer(json!({
        "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
        "_authentication": { "password": "Secret#2024" }
    }));
    store.sb.insert_customer(json!({
        "email": "bob@example.com", "first_name": "Bob", "last_name": "Ray"
    }));
    store.run(&["groups", "create", "Großhändler"]).expect(0);
    // set-group: a semicolon, Windows-1252 file with Excel leftovers.
    write_bytes(
        &store,
        "move.csv",
        &cp1252("email;note\nann@example.com;Müller's\n;;\n"),
    );
    let run = store.run(&["set-group", "--group", "Großhändler", "--input", "move.csv"]);
    run.expect(0);
    assert!(run.stderr.contains("Windows-1252"), "{}", run.stderr);
    assert_eq!(
        results_of(&store.csv("move.results.csv")),
        ["updated", "skipped"]
    );
    // validate-password: UTF-16 with tabs.
    write_bytes(
        &store,
        "check.txt",
        &utf16le_bom(&format!("id\tpassword\r\n{ann}\tSecret#2024\r\n")),
    );
    store
        .run(&["validate-password", "--input", "check.txt"])
        .expect(0);
    assert_eq!(results_of(&store.csv("check.results.csv")), ["valid"]);
    // delete: tab-separated from stdin (spooled, then checked like a file).
    let run = store.run_with_stdin(
        &["delete", "--input", "-", "--yes", "--results", "del.csv"],
        Some(b"email\tx\nbob@example.com\t\n\t\n"),
    );
    run.expect(0);
    assert_eq!(results_of(&store.csv("del.csv")), ["deleted", "skipped"]);
    assert_eq!(store.sb.customers().len(), 1);
}

#[test]
fn a_broken_file_is_refused_whole_before_any_request() {
    let store = Store::empty();
    // A multi-line notes cell on lines 3-4, then a row whose quote is never closed on line 7:
    // the rest of the file would be one cell.
    let mut text = String::from("email,first_name,last_name,notes\n");
    text.push_str("a1@example.com,A,One,\n");
    text.push_str("a2@example.com,A,Two,\"first line\nsecond line\"\n");
    text.push_str("a3@example.com,A,Three,\n");
    text.push_str("a4@example.com,A,Four,\n");
    text.push_str("a5@example.com,A,\"Five,oops\n");
    for i in 6..40 {
        text.push_str(&format!("a{i}@example.com,A,N{i},\n"));
    }
    store.write("quote.csv", &text);
    let run = store.run(&["import", "quote.csv"]);
    run.expect(1);
    assert!(
        run.stderr.contains("line 7") && run.stderr.contains("\"last_name\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("quote"), "{}", run.stderr);
    assert_eq!(store.sb.counters().total, 0, "nothing was sent");
    assert!(store.sb.customers().is_empty());
    assert!(!store.path("quote.results.csv").exists());
    assert!(!store.path("quote.results.csv.journal").exists());

    // A file that mixes UTF-8 and Windows-1252 cannot be read either way.
    let mut mixed = "email,first_name,last_name\nm1@example.com,Zoë,One\n"
        .as_bytes()
        .to_vec();
    mixed.extend(cp1252("m2@example.com,René,Two\n"));
    write_bytes(&store, "mixed.csv", &mixed);
    let run = store.run(&["import", "mixed.csv"]);
    run.expect(1);
    assert!(
        run.stderr.contains("mixes encodings")
            && run.stderr.contains("line 2")
            && run.stderr.contains("line 3"),
        "{}",
        run.stderr
    );
    assert_eq!(store.sb.counters().total, 0);
}

#[test]
fn standard_input_is_spooled_and_checked_like_a_file() {
    let store = Store::empty();
    let mut bad = b"email,first_name,last_name\n".to_vec();
    for i in 0..30 {
        bad.extend(format!("s{i}@example.com,S,N{i}\n").as_bytes());
    }
    bad.extend(b"late@example.com,\"Late,Row\n");
    let run = store.run_with_stdin(&["import", "-"], Some(&bad));
    run.expect(1);
    assert!(run.stderr.contains("line 32"), "{}", run.stderr);
    assert_eq!(store.sb.counters().total, 0, "nothing was sent");
    assert!(store.sb.customers().is_empty());

    let good = cp1252("email,first_name,last_name\nsven@example.com,Sven,Ångström\n");
    store
        .run_with_stdin(&["import", "-"], Some(&good))
        .expect(0);
    assert_eq!(
        names(&customer(&store, "sven@example.com")),
        ("Sven".into(), "Ångström".into())
    );
    assert_eq!(store.csv("import.results.csv")[0]["_result"], "created");
}

#[test]
fn headers_match_ignoring_case_spaces_and_separators() {
    let store = Store::empty();
    store.write(
        "human.csv",
        " Email ,First Name,last-name,STORE CREDIT,Address Street 1,Address City,Address Zip,Address Country,Address Phone\n\
         h1@example.com,Hu,Man,$12.50,1 Rue de Rivoli,Paris,75001,France,+33 1\n",
    );
    store.run(&["import", "human.csv"]).expect(0);
    let c = customer(&store, "h1@example.com");
    assert_eq!(names(&c), ("Hu".into(), "Man".into()));
    assert_eq!(credit(&c), 12.5);
    let addresses = store.sb.addresses(c["id"].as_u64().unwrap());
    assert_eq!(addresses.len(), 1, "{addresses:?}");
    assert_eq!(addresses[0]["city"], "Paris");
}

#[test]
fn a_title_line_above_the_header_gets_a_message_saying_so() {
    let store = Store::empty();
    store.write(
        "title.csv",
        "Customers export 2024-05-01,,,\nemail,first_name,last_name,phone\nt@example.com,T,L,1\n",
    );
    let run = store.run(&["import", "title.csv"]);
    run.expect(1);
    assert!(
        run.stderr.contains("title") && run.stderr.contains("line 2"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("unknown column"), "{}", run.stderr);
    assert_eq!(store.sb.counters().total, 0);
    // Without delimiters on the title line (sniffed from the next line) it is the same.
    store.write(
        "title2.csv",
        "Customers export 2024\nemail;first_name;last_name\nt@example.com;T;L\n",
    );
    let run = store.run(&["delete", "--input", "title2.csv"]);
    run.expect(1);
    assert!(run.stderr.contains("title"), "{}", run.stderr);
}

#[test]
fn another_platforms_export_without_its_preset_says_which_preset_to_add() {
    let store = Store::empty();
    let cases = [
        (
            "shopify.csv",
            "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,Default Address Address1,Default Address City,Default Address Province Code,Default Address Country Code,Default Address Zip,Phone,Total Spent,Total Orders,Note,Tax Exempt,Tags\n",
            "--preset shopify",
        ),
        (
            "woo.csv",
            "ID,user_login,user_email,first_name,last_name,billing_address_1,billing_city,billing_postcode,billing_country,billing_phone,roles\n",
            "--preset woocommerce",
        ),
        (
            "magento.csv",
            "email,_website,_store,firstname,lastname,group_id,created_at,website_id\n",
            "--preset magento",
        ),
        (
            "bc.csv",
            "Customer ID,Email Address,First Name,Last Name,Store Credit,Address First Name - 1,Address Line 1 - 1,Address City - 1,Address Zip - 1,Address Country - 1\n",
            "--preset bigcommerce",
        ),
    ];
    for (name, header, hint) in cases {
        store.write(name, header);
        let run = store.run(&["import", name, "--dry-run"]);
        run.expect(1);
        assert!(run.stderr.contains(hint), "{name}: {}", run.stderr);
    }
    // Told to ignore the unknown columns, the summary still says which preset fits.
    let run = store.run(&[
        "import",
        "shopify.csv",
        "--dry-run",
        "--ignore-unknown-columns",
    ]);
    run.expect(0);
    assert!(run.stderr.contains("--preset shopify"), "{}", run.stderr);
    // The wrong preset says which one fits.
    let run = store.run(&[
        "import",
        "shopify.csv",
        "--preset",
        "woocommerce",
        "--dry-run",
    ]);
    run.expect(1);
    assert!(run.stderr.contains("--preset shopify"), "{}", run.stderr);
    // An ordinary unknown column gets no platform guess.
    store.write("plain.csv", "email,first_name,last_name,Zip Code\n");
    let run = store.run(&["import", "plain.csv", "--dry-run"]);
    run.expect(1);
    assert!(!run.stderr.contains("add --preset"), "{}", run.stderr);
    assert!(
        run.stderr.contains("bc-customers columns"),
        "{}",
        run.stderr
    );
}

#[test]
fn store_credit_accepts_currency_symbols_and_thousands_separators() {
    let store = Store::empty();
    store.write(
        "money.csv",
        "email,first_name,last_name,store_credit\n\
         m1@example.com,M,One,$12.50\n\
         m2@example.com,M,Two,12.50 €\n\
         m3@example.com,M,Three,\"£1,234.56\"\n\
         m4@example.com,M,Four,\"1,234.56\"\n\
         m5@example.com,M,Five,\"12,50\"\n",
    );
    store.run(&["import", "money.csv"]).expect(3);
    let results = store.csv("money.results.csv");
    assert_eq!(
        results_of(&results),
        ["created", "created", "created", "created", "invalid"]
    );
    assert!(
        results[4]["_message"].contains("--decimal-comma"),
        "{:?}",
        results[4]
    );
    for (email, want) in [
        ("m1@example.com", 12.5),
        ("m2@example.com", 12.5),
        ("m3@example.com", 1234.56),
        ("m4@example.com", 1234.56),
    ] {
        assert_eq!(credit(&customer(&store, email)), want, "{email}");
    }
}

#[test]
fn the_columns_command_lists_the_import_columns() {
    let store = Store::empty();
    let run = store.run(&["columns"]);
    run.expect(0);
    for c in [
        "email",
        "first_name",
        "store_credit",
        "customer_group",
        "address_street_1",
        "force_password_reset",
        "form_field:<name>",
        "--decimal-comma",
    ] {
        assert!(run.stdout.contains(c), "{c}: {}", run.stdout);
    }
}

#[test]
fn resume_works_on_a_windows_1252_file() {
    let store = Store::new(SandboxConfig {
        latency_ms: 3,
        ..config()
    });
    let mut text = String::from("email,first_name,last_name\n");
    for i in 0..400 {
        text.push_str(&format!("w{i}@example.com,José{i},Müller\n"));
    }
    write_bytes(&store, "win.csv", &cp1252(&text));
    let journal = store.path("win.results.csv.journal");
    let journal_lines = || {
        std::fs::read_to_string(&journal)
            .map(|t| t.lines().filter(|l| l.starts_with("{\"no\"")).count())
            .unwrap_or(0)
    };
    let mut child = store
        .command(&["import", "win.csv"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while journal_lines() < 50 && Instant::now() < deadline {
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
    assert_eq!(child.wait().unwrap().code(), Some(1), "{stderr}");
    let done = journal_lines();
    assert!((50..400).contains(&done), "{done} rows before the 401");

    store.sb.set_token_revoked(false);
    store.run(&["import", "win.csv", "--resume"]).expect(0);
    let results = store.csv("win.results.csv");
    assert_eq!(results.len(), 400);
    assert!(results.iter().all(|r| r["_result"] == "created"));
    let customers = store.sb.customers();
    assert_eq!(customers.len(), 400);
    assert_eq!(
        names(&customer(&store, "w399@example.com")),
        ("José399".into(), "Müller".into())
    );
}

#[test]
fn a_results_file_saved_by_a_european_excel_retries_with_only_failed() {
    let store = Store::empty();
    store.write(
        "in.csv",
        "email,first_name,last_name\nok@example.com,Ok,Row\nfix@example.com,François,\n",
    );
    store.run(&["import", "in.csv"]).expect(3);
    // The user fixes the row in Excel, which saves Windows-1252 with semicolons.
    let mut rdr = csv::Reader::from_path(store.path("in.results.csv")).unwrap();
    let mut wtr = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    wtr.write_record(rdr.headers().unwrap()).unwrap();
    for r in rdr.records() {
        let mut r: Vec<String> = r.unwrap().iter().map(str::to_string).collect();
        if r[4] == "fix@example.com" {
            r[6] = "Hébert".into();
        }
        wtr.write_record(&r).unwrap();
    }
    let text = String::from_utf8(wtr.into_inner().unwrap()).unwrap();
    write_bytes(&store, "in.results.csv", &cp1252(&text));
    store
        .run(&["import", "in.results.csv", "--only-failed"])
        .expect(0);
    assert_eq!(
        names(&customer(&store, "fix@example.com")),
        ("François".into(), "Hébert".into())
    );
    let rows = store.csv("in.results.results.csv");
    assert_eq!(results_of(&rows), ["created", "created"]);
    assert_eq!(rows[1]["_row"], "2");
}

/// The `"input"` object of a `--summary-json` document.
fn input_read_as(store: &Store, json: &str) -> Value {
    let summary: Value = serde_json::from_str(&store.read(json)).unwrap();
    summary["input"].clone()
}

#[test]
fn summary_json_says_how_each_commands_input_was_read() {
    let store = Store::empty();
    let ann = store.sb.insert_customer(json!({
        "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
        "_authentication": { "password": "Secret#2024" }
    }));
    store.sb.insert_customer(json!({
        "email": "bob@example.com", "first_name": "Bob", "last_name": "Ray"
    }));
    store.run(&["groups", "create", "Trade"]).expect(0);
    // import: what a European Excel saves (Windows-1252, ';').
    write_bytes(
        &store,
        "excel.csv",
        &cp1252("email;first_name;last_name\nrene@example.com;René;Côté\n"),
    );
    let run = store.run(&["import", "excel.csv", "--summary-json", "i.json"]);
    run.expect(0);
    assert_eq!(
        input_read_as(&store, "i.json"),
        json!({"file": "excel.csv", "encoding": "windows-1252", "delimiter": ";", "bom": false})
    );
    // set-group: UTF-8 with a BOM and tabs.
    write_bytes(
        &store,
        "move.tsv",
        b"\xef\xbb\xbfemail\tnote\nann@example.com\tx\n",
    );
    let args = ["set-group", "--group", "Trade", "--input", "move.tsv"];
    store
        .run(&[&args[..], &["--summary-json", "s.json"]].concat())
        .expect(0);
    assert_eq!(
        input_read_as(&store, "s.json"),
        json!({"file": "move.tsv", "encoding": "utf-8", "delimiter": "\t", "bom": true})
    );
    // validate-password: UTF-16LE with a BOM, '|'.
    write_bytes(
        &store,
        "check.txt",
        &utf16le_bom(&format!("id|password\r\n{ann}|Secret#2024\r\n")),
    );
    let args = ["validate-password", "--input", "check.txt"];
    store
        .run(&[&args[..], &["--summary-json", "v.json"]].concat())
        .expect(0);
    assert_eq!(
        input_read_as(&store, "v.json"),
        json!({"file": "check.txt", "encoding": "utf-16le", "delimiter": "|", "bom": true})
    );
    // delete: plain UTF-8 from standard input.
    let run = store.run_with_stdin(
        &[
            "delete",
            "--input",
            "-",
            "--yes",
            "--summary-json",
            "d.json",
        ],
        Some(b"email\nbob@example.com\n"),
    );
    run.expect(0);
    assert_eq!(
        input_read_as(&store, "d.json"),
        json!({"file": "-", "encoding": "utf-8", "delimiter": ",", "bom": false})
    );
    // `--encoding latin-1` is read as its superset, and the document says what was used.
    store
        .run(&[
            "import",
            "excel.csv",
            "--encoding",
            "latin-1",
            "--delimiter",
            ";",
            "--summary-json",
            "l.json",
        ])
        .expect(0);
    assert_eq!(input_read_as(&store, "l.json")["encoding"], "windows-1252");
    // A command that reads no file has no "input".
    store
        .run(&[
            "set-group",
            "--group",
            "Trade",
            "--filter",
            "email=ann@example.com",
            "--summary-json",
            "f.json",
        ])
        .expect(0);
    assert!(input_read_as(&store, "f.json").is_null());
}

/// `text` in UTF-16 without a byte-order mark, in either byte order.
fn utf16_bare(text: &str, big_endian: bool) -> Vec<u8> {
    text.encode_utf16()
        .flat_map(|u| {
            if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        })
        .collect()
}

#[test]
fn utf16_without_a_bom_is_read_in_either_byte_order() {
    let store = Store::empty();
    let text =
        "email,first_name,last_name\r\nuta@example.com,Uta,Schäfer\r\nkim@example.com,김,민준\r\n";
    for (name, big_endian, label) in [("be.csv", true, "utf-16be"), ("le.csv", false, "utf-16le")] {
        let bytes = utf16_bare(text, big_endian);
        assert_eq!(bytes[0] == 0, big_endian, "the file is what its name says");
        write_bytes(&store, name, &bytes);
        let run = store.run(&["import", name, "--summary-json", "s.json"]);
        run.expect(0);
        assert_eq!(input_read_as(&store, "s.json")["encoding"], label);
        assert!(
            run.stderr.contains(&label.to_uppercase()) && run.stderr.contains("NUL bytes"),
            "{}",
            run.stderr
        );
        assert_eq!(
            names(&customer(&store, "uta@example.com")),
            ("Uta".into(), "Schäfer".into())
        );
        assert_eq!(
            names(&customer(&store, "kim@example.com")),
            ("김".into(), "민준".into())
        );
        assert_eq!(store.sb.customers().len(), 2, "{name}: no customer twice");
    }
    // `--encoding utf-16` without a BOM takes the byte order the header shows.
    write_bytes(
        &store,
        "be2.csv",
        &utf16_bare(
            "email,first_name,last_name\r\nzed@example.com,Zoë,Z\r\n",
            true,
        ),
    );
    store
        .run(&["import", "be2.csv", "--encoding", "utf-16"])
        .expect(0);
    assert_eq!(customer(&store, "zed@example.com")["first_name"], "Zoë");
    // A UTF-8 and a Windows-1252 file are read as before.
    write_bytes(
        &store,
        "u8.csv",
        "email,first_name,last_name\nada@example.com,Adà,A\n".as_bytes(),
    );
    write_bytes(
        &store,
        "w.csv",
        &cp1252("email,first_name,last_name\nbea@example.com,Béa,B\n"),
    );
    for (name, label) in [("u8.csv", "utf-8"), ("w.csv", "windows-1252")] {
        store
            .run(&["import", name, "--summary-json", "s.json"])
            .expect(0);
        assert_eq!(input_read_as(&store, "s.json")["encoding"], label, "{name}");
    }
    assert_eq!(customer(&store, "ada@example.com")["first_name"], "Adà");
    assert_eq!(customer(&store, "bea@example.com")["first_name"], "Béa");
    // NULs in a header that show neither byte order are still refused, naming the flag.
    write_bytes(&store, "odd.csv", b"em\0\0ail,x\n");
    let run = store.run(&["import", "odd.csv", "--dry-run"]);
    run.expect(1);
    assert!(run.stderr.contains("--encoding utf-16"), "{}", run.stderr);
}
