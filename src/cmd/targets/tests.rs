//! Unit tests of the target columns and rows.
use super::*;

fn cols(headers: &[&str]) -> Columns {
    Columns::locate(
        &csv::StringRecord::from(headers.to_vec()),
        Path::new("x.csv"),
    )
    .unwrap()
}

#[test]
fn id_wins_email_is_the_fallback() {
    let c = cols(&["Email", " ID ", "password"]);
    let t = c
        .target(&csv::StringRecord::from(vec!["a@b.co", "7", "p"]))
        .unwrap();
    assert_eq!((t.id, t.email.as_deref()), (Some(7), Some("a@b.co")));
    let t = c
        .target(&csv::StringRecord::from(vec!["A@B.co", "", "p"]))
        .unwrap();
    assert_eq!(t.id, None);
    assert_eq!(
        c.keys(&csv::StringRecord::from(vec!["A@B.co", "", "p"])),
        vec!["a@b.co".to_string()]
    );
    assert_eq!(
        c.keys(&csv::StringRecord::from(vec!["A@B.co", "7", "p"])),
        vec!["#7".to_string(), "a@b.co".to_string()]
    );
    assert!(c
        .target(&csv::StringRecord::from(vec!["", "x7", "p"]))
        .is_err());
    assert!(c
        .target(&csv::StringRecord::from(vec!["", "", "p"]))
        .is_err());
    // A neutralised id from an export ('7) is still 7.
    let t = c
        .target(&csv::StringRecord::from(vec!["", "'7", "p"]))
        .unwrap();
    assert_eq!(t.id, Some(7));
}

#[test]
fn a_file_without_id_or_email_is_refused() {
    let headers = csv::StringRecord::from(vec!["name", "phone"]);
    assert!(Columns::locate(&headers, Path::new("x.csv")).is_err());
}

#[test]
fn id_and_email_must_agree() {
    let t = Target {
        id: Some(3),
        email: Some("a@b.co".into()),
    };
    let same = Known {
        id: 3,
        email: "A@b.co".into(),
        group: 0,
    };
    let other = Known {
        id: 3,
        email: "z@b.co".into(),
        group: 0,
    };
    assert!(t.mismatch(&same).is_none());
    assert!(t.mismatch(&other).is_some());
}
