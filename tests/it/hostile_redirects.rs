//! No redirect is ever followed, under either API: every command (and under `--api v3` every
//! V3 route: the customer list, `POST`/`PUT /v3/customers`, `DELETE ?id:in=`, the address
//! route, `validate-credentials`) answered 301/302/307/308 to another origin and to the
//! collection path. The other origin receives nothing, the store no collection DELETE.

use crate::common::*;
use crate::hostile_server::{response, Action, Hostile, Recorded};
use crate::hostile_store::{assert_not_repeated, run_via, seeded};

#[test]
fn no_command_follows_a_redirect_anywhere() {
    let store = seeded(3);
    store.write("in.csv", &new_customers_csv(1, "redir"));
    // (args, whether reads are redirected too: commands that only read)
    use Redirect::*;
    let commands: &[(&[&str], Redirect)] = &[
        (&["import", "in.csv"], Writes),
        (&["export", "--output", "out.csv"], All),
        (&["count"], All),
        (&["groups", "list"], All),
        (&["groups", "create", "Redirected"], Writes),
        (
            &["set-group", "--group", "Target", "--input", "ids.csv"],
            Writes,
        ),
        (&["delete", "--input", "ids.csv", "--yes"], Writes),
        (&["validate-password", "--input", "pw.csv"], Writes),
    ];
    redirects_are_never_followed(&store, "v2", commands);
}

/// Every route of `--api v3` redirected: the customer list (export, count, and the lookups
/// when reads are redirected too), `POST`/`PUT /v3/customers`, `DELETE ?id:in=`,
/// `validate-credentials` and the address batch.
#[test]
fn no_v3_command_follows_a_redirect_anywhere() {
    let store = seeded(3);
    store.write("in.csv", &new_customers_csv(1, "redir"));
    let second = store.sb.customers()[1]["email"]
        .as_str()
        .unwrap()
        .to_string();
    // An existing customer with a new name (a PUT) and one with a new address (an address
    // batch: the customer itself is unchanged).
    store.write("upd.csv", &format!("email,first_name\n{second},Renamed\n"));
    let c = &store.sb.customers()[1];
    store.write(
        "addr.csv",
        &format!(
            "email,first_name,last_name,address_street_1,address_city,address_state,address_zip,address_country,address_phone\n{second},{},{},1 New St,Springfield,Illinois,12345,United States,555-0100\n",
            c["first_name"].as_str().unwrap(),
            c["last_name"].as_str().unwrap()
        ),
    );
    use Redirect::*;
    let commands: &[(&[&str], Redirect)] = &[
        (&["import", "in.csv"], Writes),
        (&["import", "in.csv"], All),
        (&["import", "upd.csv"], Writes),
        (&["import", "addr.csv"], Writes),
        (&["import", "addr.csv"], Route("/v3/customers/addresses")),
        (
            &["export", "--output", "out.csv", "--addresses", "a.csv"],
            All,
        ),
        (&["count"], All),
        (
            &["set-group", "--group", "Target", "--input", "ids.csv"],
            Writes,
        ),
        (&["delete", "--input", "ids.csv", "--yes"], Writes),
        (&["delete", "--input", "ids.csv", "--yes"], All),
        (&["validate-password", "--input", "pw.csv"], Writes),
        (
            &["validate-password", "--input", "pw.csv"],
            Route("/v3/customers/validate-credentials"),
        ),
    ];
    redirects_are_never_followed(&store, "v3", commands);
}

/// Each command under `--api api`, with the requests its [`Redirect`] names answered
/// 301/302/307/308 to another origin and to the collection path: exit 1 naming
/// the status and the `Location`, nothing sent twice, nothing reaching the store but what
/// the proxy forwarded, nothing at the other origin, nothing created or deleted.
fn redirects_are_never_followed(store: &Store, api: &str, commands: &[(&[&str], Redirect)]) {
    let hash = store.sb.store_hash().to_string();
    let other = Hostile::recorder("127.0.0.2");
    store.write("ids.csv", "id\n1\n");
    store.write("pw.csv", "id,password\n1,Secret123abc\n");
    // A group no customer is in yet, so set-group has a write to send.
    if !store.run(&["groups", "list"]).stdout.contains(",Target,") {
        store.run(&["groups", "create", "Target"]).expect(0);
    }
    let before = store.sb.customers();
    let targets = [
        format!("{}/stores/{hash}/{api}/customers", other.url()),
        // The collection: a followed 307/308 DELETE here would delete every customer.
        format!("{}/stores/{hash}/{api}/customers", store.sb.base_url()),
    ];
    let mut case = 0;
    for (args, redirect) in commands {
        for status in [301u16, 302, 307, 308] {
            for location in &targets {
                case += 1;
                store.sb.reset_counters();
                let loc = location.clone();
                let redirect = *redirect;
                let proxy = Hostile::start("127.0.0.1", Some(store.sb.addr()), move |req, _| {
                    if redirect.applies(req) {
                        Action::Raw(response(status, &[("Location", &loc)], b""))
                    } else {
                        Action::Forward
                    }
                });
                let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
                if ["import", "set-group", "delete", "validate-password"]
                    .contains(&args[0].as_str())
                {
                    args.extend(["--results".into(), format!("r{api}{case}.csv")]);
                }
                args.extend(["--api".into(), api.into()]);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = run_via(store, &proxy.url(), &args);
                out.expect(1);
                assert!(
                    out.stderr.contains(location.as_str())
                        && out.stderr.contains(&status.to_string()),
                    "{args:?} {status}: the message names the status and the Location\n{}",
                    out.stderr
                );
                let seen = proxy.requests();
                assert_not_repeated(&seen);
                let redirected: Vec<&Recorded> =
                    seen.iter().filter(|r| redirect.applies(r)).collect();
                assert!(
                    !redirected.is_empty(),
                    "{args:?}: the redirected route was asked"
                );
                assert_eq!(
                    store.sb.counters().total as usize,
                    seen.len() - redirected.len(),
                    "{args:?} {status} {location}: the store got only what the proxy forwarded"
                );
                assert_eq!(store.sb.counters().collection_deletes, 0);
                assert_eq!(store.sb.counters().v3_unfiltered_deletes, 0);
            }
        }
    }
    assert!(
        other.requests().is_empty(),
        "the other origin received: {:?}",
        other.requests()
    );
    assert_eq!(store.sb.customers(), before, "nothing was changed");
}

/// Which requests of a command the hostile proxy redirects.
#[derive(Clone, Copy, Debug)]
enum Redirect {
    /// Every write (reads reach the store).
    Writes,
    /// Every request (commands that only read, and the first lookups of the others).
    All,
    /// Any request to a route ending so (reads and writes).
    Route(&'static str),
}

impl Redirect {
    fn applies(self, req: &Recorded) -> bool {
        match self {
            Redirect::Writes => req.method != "GET",
            Redirect::All => true,
            Redirect::Route(end) => req.path().ends_with(end),
        }
    }
}
