//! `export`, `count` and `set-group --filter` under `--api v3` against a store whose lists lie:
//! pagination that lies (a total far above, a cursor looping back, `links.next` looping and
//! `total_pages: 0`, `data: null`), first pages and lookups answered 200 with the wrong shape,
//! filters ignored (also under V2). The row commands' writes against a hostile V3 store are in
//! `hostile_v3`.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use crate::common::*;
use crate::hostile_server::{json, response, Action, Hostile};
use crate::hostile_store::run_via;
use crate::hostile_v3::{group_of, run_v3, seeded};
use crate::v3::{cursor_id, keyset_cursor, v3_customer};

/// What a hostile V3 customer list does wrong.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lie {
    /// `meta.pagination.total` far above the 600 it sends.
    TotalFarAbove,
    /// The second (full) page's cursor points back to before the first page (followed, it
    /// repeats the first page; the id ranges of keyset cursors do not follow it).
    CursorLoops,
    /// `links.next` to page 1 forever and `total_pages: 0`, with correct cursors: the
    /// export follows the cursors and writes every customer.
    LinksLoopTotalPagesZero,
    /// The second page is `{"data": null}` with the first page's meta.
    DataNullMidway,
    /// The first page: `data: null` with a total of 600.
    DataNullFirst,
    /// The first page is `{}`.
    EmptyObject,
    /// The first page is a V2-shaped `[]`.
    V2Array,
    /// The first page is HTML.
    Html,
}

const HELD: u64 = 600;

/// A page of the lying store for `query`: opaque cursors `c<last id>`, followed one by one,
/// or keyset ones.
fn lying_page(lie: Lie, keyset: bool, query: &str) -> Vec<u8> {
    let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let limit: u64 = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(50);
    let after: Option<u64> = q.get("after").and_then(|a| match keyset {
        true => cursor_id(a),
        false => a.strip_prefix('c').and_then(|a| a.parse().ok()),
    });
    let cursor = |id: u64| match keyset {
        true => keyset_cursor(id),
        false => format!("c{id}"),
    };
    let first = after.is_none();
    match lie {
        Lie::EmptyObject if first => return json(200, "{}"),
        Lie::V2Array if first => return json(200, "[]"),
        Lie::Html if first => {
            return response(200, &[("Content-Type", "text/html")], b"<html>ok</html>")
        }
        _ => {}
    }
    let start = after.unwrap_or(0) + 1;
    let ids: Vec<u64> = (start..=HELD).take(limit as usize).collect();
    let mut end = ids.last().map(|l| cursor(*l));
    if lie == Lie::CursorLoops && start > limit {
        end = Some(cursor(0));
    }
    let total = if lie == Lie::TotalFarAbove {
        1_000_000_000
    } else {
        HELD
    };
    let mut pagination = json!({"total": total, "count": ids.len(), "per_page": limit});
    if lie == Lie::LinksLoopTotalPagesZero {
        pagination["total_pages"] = json!(0);
        pagination["current_page"] = json!(1);
        pagination["links"] =
            json!({"next": format!("?page=1&limit={limit}"), "current": "?page=1"});
    }
    let meta = json!({"pagination": pagination, "cursor_pagination": {"end_cursor": end}});
    let data = match lie {
        Lie::DataNullMidway if !first => Value::Null,
        Lie::DataNullFirst if first => Value::Null,
        _ => Value::Array(ids.iter().map(|id| v3_customer(*id)).collect()),
    };
    json(200, &json!({"data": data, "meta": meta}).to_string())
}

fn lying_store(lie: Lie, keyset: bool) -> Hostile {
    Hostile::start("127.0.0.1", None, move |req, _| {
        if req.path().ends_with("/v2/customer_groups") {
            Action::Raw(json(200, "[]"))
        } else if req.method == "GET" && req.path().ends_with("/v3/customers") {
            Action::Raw(lying_page(lie, keyset, req.query()))
        } else {
            Action::Raw(json(404, r#"{"status":404,"title":"Not found"}"#))
        }
    })
}

/// Export and count of a store whose list lies, with opaque cursors (read one after the
/// other) and with keyset ones (read as id ranges, concurrently): the export fails (exit 1, the previous file
/// untouched, nothing left behind) in a bounded number of requests, or, where only fields the
/// tool does not use lie, writes every customer; the count is printed only when it is one.
#[test]
fn v3_pagination_lies_never_give_a_short_export_or_a_made_up_count() {
    let store = Store::empty();
    let lies = [
        Lie::TotalFarAbove,
        Lie::CursorLoops,
        Lie::LinksLoopTotalPagesZero,
        Lie::DataNullMidway,
        Lie::DataNullFirst,
        Lie::EmptyObject,
        Lie::V2Array,
        Lie::Html,
    ];
    for (lie, keyset) in lies.iter().flat_map(|l| [(*l, false), (*l, true)]) {
        let server = lying_store(lie, keyset);
        store.write("backup.csv", "previous backup\n");
        let out = run_v3(
            &store,
            &server.url(),
            &["export", "-o", "backup.csv", "--addresses", "a.csv"],
        );
        let pages = server.requests().len();
        assert!(pages < 40, "{lie:?} keyset={keyset}: {pages} requests");
        // Lies in what the walk does not read: the links, and (when the export makes its own
        // cursors for id ranges) the cursor a page returns.
        let unread = lie == Lie::LinksLoopTotalPagesZero || (lie == Lie::CursorLoops && keyset);
        if unread {
            assert_eq!(out.code, 0, "{lie:?} keyset={keyset}: {}", out.stderr);
            let rows = store.csv("backup.csv");
            let ids: HashSet<&str> = rows.iter().map(|r| r["id"].as_str()).collect();
            assert_eq!((rows.len(), ids.len()), (600, 600), "{lie:?} {keyset}");
        } else {
            assert_eq!(out.code, 1, "{lie:?} keyset={keyset}: {}", out.stderr);
            assert_eq!(store.read("backup.csv"), "previous backup\n", "{lie:?}");
            assert!(!store.path("a.csv").exists(), "{lie:?}");
        }
        let mut names: Vec<String> = std::fs::read_dir(store.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "backup.csv" && n != "a.csv")
            .collect();
        names.sort();
        assert!(names.is_empty(), "{lie:?}: left behind {names:?}");
        let _ = std::fs::remove_file(store.path("a.csv"));

        let count = run_v3(&store, &server.url(), &["count"]);
        match lie {
            // The store's own number, the only one there is.
            Lie::TotalFarAbove => assert_eq!(count.expect(0).stdout.trim(), "1000000000"),
            Lie::CursorLoops
            | Lie::LinksLoopTotalPagesZero
            | Lie::DataNullMidway
            | Lie::DataNullFirst => assert_eq!(count.expect(0).stdout.trim(), "600"),
            Lie::EmptyObject | Lie::V2Array | Lie::Html => {
                count.expect(1);
                assert!(count.stdout.is_empty(), "{lie:?}: {}", count.stdout);
            }
        }
    }
}

/// Lookups (`id:in`, `email:in`) and writes answered 200 with something that is not a V3
/// list: `{}`, `[]`, `{"data": null}`, a string, HTML. delete and set-group never report a
/// row done that was not, nothing is deleted or changed, and nothing panics.
#[test]
fn wrong_shaped_200s_to_v3_lookups_are_never_success() {
    let store = seeded(5);
    let ids = store.ids();
    let email = store.sb.customers()[1]["email"]
        .as_str()
        .unwrap()
        .to_string();
    store.write("ids.csv", &format!("id\n{}\n{}\n", ids[0], ids[2]));
    store.write("emails.csv", &format!("email\n{email}\n"));
    let before = store.sb.customers();
    for body in ["{}", "[]", r#"{"data":null}"#, r#""ok""#, "<html>ok</html>"] {
        let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), move |req, _| {
            if req.path().ends_with("/v3/customers") {
                Action::Raw(json(200, body))
            } else {
                Action::Forward
            }
        });
        for args in [
            &["delete", "--yes", "--input", "ids.csv"][..],
            &["delete", "--yes", "--input", "emails.csv"][..],
            &["set-group", "--group", "vip", "--input", "ids.csv"][..],
            &["set-group", "--group", "vip", "--input", "emails.csv"][..],
        ] {
            let out = run_v3(&store, &proxy.url(), args);
            assert_ne!(out.code, 0, "{body} {args:?}: {}", out.stderr);
            let results = format!(
                "{}.results.csv",
                args[args.len() - 1].trim_end_matches(".csv")
            );
            if store.path(&results).exists() {
                let rows = store.csv(&results);
                for row in &rows {
                    assert!(
                        !["deleted", "updated", "unchanged"].contains(&row["_result"].as_str()),
                        "{body} {args:?}: {rows:?}"
                    );
                }
            }
        }
    }
    assert_eq!(
        store.sb.customers(),
        before,
        "nothing was deleted or changed"
    );
}

/// `set-group --filter` and `export --filter` through a store whose list ignores the filter
/// (it answers with every customer): no customer outside the filter is written or exported,
/// and the run fails saying why, under both APIs.
#[test]
fn a_store_ignoring_the_filter_fails_set_group_and_export_by_filter() {
    for api in ["v2", "v3"] {
        let store = seeded(30);
        let target = store.sb.customers()[4].clone();
        let email = target["email"].as_str().unwrap().to_string();
        // V2 sends `email=`, V3 `email:in=`: both dropped.
        let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), |req, _| {
            let (path, query) = (req.path().to_string(), req.query().to_string());
            if req.method == "GET" && path.contains("/customers") && query.contains("email") {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|p| !p.starts_with("email"))
                    .collect();
                Action::ForwardTo(format!("{path}?{}", kept.join("&")))
            } else {
                Action::Forward
            }
        });
        let before = group_of(&store);
        let filter = format!("email={email}");
        let out = run_via(
            &store,
            &proxy.url(),
            &[
                "set-group",
                "--group",
                "Wholesale",
                "--filter",
                &filter,
                "--api",
                api,
            ],
        );
        let after = group_of(&store);
        let moved: Vec<u64> = after
            .iter()
            .filter(|(id, g)| before[*id] != **g)
            .map(|(id, _)| *id)
            .collect();
        let id = target["id"].as_u64().unwrap();
        assert!(
            moved.iter().all(|m| *m == id),
            "{api}: customers outside the filter were moved: {moved:?} (exit {}, {})",
            out.code,
            out.stderr
        );
        assert_eq!(out.code, 1, "{api}: {}", out.stderr);
        assert!(
            out.stderr.contains("ignores the filter"),
            "{api}: {}",
            out.stderr
        );
        // The export of the same filter fails too, instead of a file of every customer.
        store.write("one.csv", "previous\n");
        let out = run_via(
            &store,
            &proxy.url(),
            &["export", "-o", "one.csv", "--filter", &filter, "--api", api],
        );
        assert_eq!(out.code, 1, "{api}: {}", out.stderr);
        assert!(out.stderr.contains("ignores the filter"), "{}", out.stderr);
        assert_eq!(store.read("one.csv"), "previous\n", "{api}");
    }
}
