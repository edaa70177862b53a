//! Unit tests of the settings' validation: bad values are usage errors (exit 2), found before
//! any request (no server is started: a connection attempt would fail differently).

use super::*;

fn base() -> Settings {
    Settings {
        connection: None,
        api: ApiVersion::V2,
        concurrency: 4,
        rows_in_flight: 4,
        timeout: Duration::from_secs(30),
        max_retries: 5,
        quiet: true,
        verbose: 0,
        summary_json: None,
        bom: false,
        token_file: None,
    }
}

fn token_file(dir: &tempfile::TempDir, text: &[u8]) -> PathBuf {
    let p = dir.path().join("token");
    std::fs::write(&p, text).unwrap();
    p
}

fn refusal(store: StoreFlags) -> anyhow::Error {
    base().connection_to(&store).unwrap_err()
}

#[test]
fn rows_in_flight_follow_the_backend_unless_given() {
    assert_eq!(rows_in_flight(ApiVersion::V2, 4, None), 4);
    assert_eq!(rows_in_flight(ApiVersion::V3, 4, None), 40);
    assert_eq!(rows_in_flight(ApiVersion::V3, 1, None), 10);
    assert_eq!(rows_in_flight(ApiVersion::V2, 4, Some(32)), 32);
    assert_eq!(rows_in_flight(ApiVersion::V3, 4, Some(1)), 1);
}

#[test]
fn bad_store_settings_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let token = Some(token_file(&dir, b"abc123\n"));
    let cases = [
        (None, None, "no store hash"),
        (Some("  "), None, "no store hash"),
        (Some("ab/../cd"), None, "is not valid"),
        (
            Some("abc"),
            Some("ftp://example.com"),
            "must start with https://",
        ),
        (
            Some("abc"),
            Some("http://example.com"),
            "refusing plain http://",
        ),
        (Some("abc"), Some("https://u:p@example.com"), "user info"),
        (Some("abc"), Some("https://example.com/?x=1"), "query"),
        (Some("abc"), Some("not a url"), "not a URL"),
    ];
    for (hash, url, says) in cases {
        let err = refusal(StoreFlags {
            store_hash: hash.map(String::from),
            api_url: url.map(String::from),
            token_file: token.clone(),
        });
        assert!(err.is::<UsageError>(), "{hash:?} {url:?}: {err:#}");
        assert!(
            format!("{err:#}").contains(says),
            "{hash:?} {url:?}: {err:#}"
        );
    }
}

#[test]
fn the_token_file_is_checked_and_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let store = |file: PathBuf| StoreFlags {
        store_hash: Some(" abc ".into()),
        api_url: Some("http://127.0.0.1:9".into()),
        token_file: Some(file),
    };
    let conn = base()
        .connection_to(&store(token_file(&dir, "\u{feff} tok \n".as_bytes())))
        .unwrap();
    assert_eq!(conn.token.expose(), "tok");
    assert_eq!(conn.store_hash, "abc");
    assert_eq!((conn.concurrency, conn.max_retries), (4, 5));
    for (text, says) in [
        (&b" \n"[..], "is empty"),
        (&[0xff, 0xfe, 0x00][..], "not text"),
        (&[b'a'; 5000][..], "larger than 4 KiB"),
    ] {
        let err = base()
            .connection_to(&store(token_file(&dir, text)))
            .unwrap_err();
        assert!(format!("{err:#}").contains(says), "{err:#}");
    }
    let err = base()
        .connection_to(&store(dir.path().join("missing")))
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("reading the token file"),
        "{err:#}"
    );
}

#[test]
fn a_run_without_a_store_has_no_client() {
    let Err(err) = base().client() else {
        panic!("a client without a connection")
    };
    assert!(format!("{err:#}").contains("talks to no store"), "{err:#}");
}

#[test]
fn another_store_keeps_the_request_settings_but_not_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(&dir, b"tok");
    let outer = Settings {
        summary_json: Some("summary.json".into()),
        concurrency: 7,
        ..base()
    };
    let inner = outer
        .for_store(&StoreFlags {
            store_hash: Some("abc".into()),
            api_url: Some("http://localhost:1".into()),
            token_file: Some(file.clone()),
        })
        .unwrap();
    assert!(inner.summary_json.is_none());
    assert_eq!(inner.token_file, Some(file));
    assert_eq!(inner.connection.unwrap().concurrency, 7);
}
