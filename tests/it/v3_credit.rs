//! Issue 14: `store_credit_amounts` on a V3 PUT, whether the store sets the balance to the
//! amount or adds the amount to it (bigcommerce-v3.md §19 question 6, §20.4). Whatever the
//! store's rule, an imported row leaves exactly its store_credit, once, even when answers
//! are lost after the store committed them; and under "set" the run costs what it did plus
//! a few requests.

use bc_customers::sandbox::{SandboxConfig, V3Options, V3StoreCredit};

use crate::common::*;

fn store_with(mode: V3StoreCredit, lost: f64) -> Store {
    Store::new(SandboxConfig {
        lost_response_rate: lost,
        v3: V3Options {
            store_credit_on_put: mode,
            ..V3Options::default()
        },
        ..config()
    })
}

/// `n` customers `c{i}@example.com`; every third has no credit, the others `i + 1.25`.
fn seed(store: &Store, n: usize) {
    for i in 0..n {
        let credit = if i % 3 == 0 {
            "0.0000".to_string()
        } else {
            format!("{}.2500", i + 1)
        };
        store.sb.insert_customer(serde_json::json!({
            "email": format!("c{i}@example.com"), "first_name": "C", "last_name": format!("L{i}"),
            "store_credit": credit, "phone": "555",
        }));
    }
}

/// The file's wish for customer `i`: more than it has (`10 * i + 7.5`).
fn target(i: usize) -> String {
    format!("{}.5", 10 * i + 7)
}

fn credit_file(n: usize) -> String {
    let mut s = String::from("email,store_credit\n");
    for i in 0..n {
        s.push_str(&format!("c{i}@example.com,{}\n", target(i)));
    }
    s
}

fn credit_of(store: &Store, email: &str) -> String {
    let c = customer(store, email);
    let v = c["store_credit"].as_str().unwrap_or_default().to_string();
    bc_customers::mapping::row::normalise_decimal(&v).unwrap_or(v)
}

/// Every customer holds exactly its row's amount, and every row is reported once, `updated`.
fn assert_exact(store: &Store, n: usize, what: &str) {
    for i in 0..n {
        assert_eq!(
            credit_of(store, &format!("c{i}@example.com")),
            target(i),
            "{what}: customer c{i} (had {}), requests {:?}",
            if i % 3 == 0 { "0" } else { "credit" },
            store.sb.counters().by_route
        );
    }
    let rows = store.csv("in.results.csv");
    assert_eq!(rows.len(), n, "{what}");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["email"], format!("c{i}@example.com"), "{what}: {rows:?}");
        assert_eq!(r["_result"], "updated", "{what}: {r:?}");
    }
}

/// A store that adds: customers with and without credit end with exactly the file's amount,
/// not the sum of what they had and the amount.
#[test]
fn under_add_each_customer_ends_with_exactly_its_amount() {
    let store = store_with(V3StoreCredit::Add, 0.0);
    seed(&store, 25);
    store.write("in.csv", &credit_file(25));
    store.run(&["import", "in.csv", "--api", "v3"]).expect(0);
    assert_exact(&store, 25, "add");
    // Once more: nothing changes, nothing is sent.
    let puts = store.count("PUT /v3/customers");
    store.run(&["import", "in.csv", "--api", "v3"]).expect(0);
    assert!(results_of(&store.csv("in.results.csv"))
        .iter()
        .all(|r| r == "unchanged"));
    assert_eq!(store.count("PUT /v3/customers"), puts);
}

/// Lost answers after the store committed the PUT: the run finds out what landed instead of
/// adding the amount again (add), or repeats as before (set).
#[test]
fn lost_put_answers_leave_exactly_the_amount_under_add_and_set() {
    for mode in [V3StoreCredit::Add, V3StoreCredit::Set] {
        let store = store_with(mode, 0.5);
        seed(&store, 30);
        store.write("in.csv", &credit_file(30));
        store
            .run(&["import", "in.csv", "--api", "v3", "--max-retries", "12"])
            .expect(0);
        assert!(
            store.sb.counters().lost_responses > 0,
            "{mode:?}: no answer was lost"
        );
        assert_exact(&store, 30, &format!("{mode:?} with lost answers"));
    }
}

/// A lowered balance under "add" needs a negative amount; this store refuses one: the row
/// fails saying so, and the balance stays as it was.
#[test]
fn under_add_a_refused_decrease_fails_the_row_and_keeps_the_balance() {
    let store = store_with(V3StoreCredit::Add, 0.0);
    seed(&store, 3);
    store.write(
        "in.csv",
        "email,store_credit\nc1@example.com,1\nc2@example.com,50\n",
    );
    store.run(&["import", "in.csv", "--api", "v3"]).expect(3);
    let rows = store.csv("in.results.csv");
    assert_eq!(results_of(&rows), ["failed", "updated"]);
    assert!(
        rows[0]["_message"].contains("adds") && rows[0]["_message"].contains("2.25"),
        "{:?}",
        rows[0]
    );
    assert_eq!(credit_of(&store, "c1@example.com"), "2.25");
    assert_eq!(credit_of(&store, "c2@example.com"), "50");
}

/// Under "set" a credit update costs what an update of another field costs, plus at most a
/// few requests per run (learning the store's rule).
#[test]
fn under_set_a_credit_update_costs_a_constant_more_than_another_field() {
    let n = 60;
    let total = |file: &str| {
        let store = store_with(V3StoreCredit::Set, 0.0);
        seed(&store, n);
        store.write("in.csv", file);
        store.run(&["import", "in.csv", "--api", "v3"]).expect(0);
        let c = store.sb.counters();
        (c.total, store.count("PUT /v3/customers"), store)
    };
    let mut phones = String::from("email,phone\n");
    for i in 0..n {
        phones.push_str(&format!("c{i}@example.com,556-{i}\n"));
    }
    let (plain, plain_puts, _) = total(&phones);
    let (credit, credit_puts, store) = total(&credit_file(n));
    assert_exact(&store, n, "set");
    // The PUTs are counted against the ideal, not against the phone run's: either run's
    // batches may leave short at their 10 ms linger when the CPU is starved (the parallel
    // tests and the sandbox share 2 cores), so two runs' counts differ by load, not by
    // credit (this comparison failed once under a load of 6 with 8 PUTs against 6). The
    // probe is one single-row PUT; the slack of 4 covers short batches and still fails a
    // credit update sent one customer per PUT (60).
    let ideal_puts = n.div_ceil(10) as u64;
    assert!(
        credit - credit_puts <= plain - plain_puts + 2 && credit_puts <= ideal_puts + 1 + 4,
        "credit run: {credit} requests ({credit_puts} PUTs), phone run: {plain} ({plain_puts} PUTs): {:?}",
        store.sb.counters().by_route
    );
}

/// The per-row lookup (a store larger than the file) reads the balance too: a row asking for
/// the balance the customer has is unchanged; one asking for 0 clears it under "set", and
/// under "add" fails saying why (this store refuses the negative amount it takes).
#[test]
fn per_row_lookups_read_the_balance() {
    for (mode, code, clear, left) in [
        (V3StoreCredit::Set, 0, "updated", "0"),
        (V3StoreCredit::Add, 3, "failed", "3.25"),
    ] {
        let store = store_with(mode, 0.0);
        seed(&store, 600);
        store.write(
            "in.csv",
            "email,store_credit\nc1@example.com,2.25\nc2@example.com,0\nc3@example.com,4\n",
        );
        let run = store.run(&["import", "in.csv", "--api", "v3"]);
        let rows = store.csv("in.results.csv");
        assert_eq!(run.code, code, "{mode:?}: {rows:?}\n{}", run.stderr);
        assert_eq!(
            results_of(&rows),
            ["unchanged", clear, "updated"],
            "{mode:?}"
        );
        assert_eq!(credit_of(&store, "c1@example.com"), "2.25", "{mode:?}");
        assert_eq!(credit_of(&store, "c2@example.com"), left, "{mode:?}");
        assert_eq!(credit_of(&store, "c3@example.com"), "4", "{mode:?}");
        if mode == V3StoreCredit::Add {
            assert!(rows[1]["_message"].contains("-3.25"), "{:?}", rows[1]);
        }
    }
}
