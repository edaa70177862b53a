//! Unit tests of `results` (a child module, so private items stay reachable).

use super::*;

#[test]
fn secrets_are_recognised() {
    assert!(is_secret_column("password"));
    assert!(is_secret_column(" Password_Confirmation "));
    assert!(!is_secret_column("force_password_reset"));
    assert!(!is_secret_column("email"));
}

#[test]
fn result_names_round_trip() {
    for r in [
        RowResult::Created,
        RowResult::WouldCreate,
        RowResult::Invalid,
    ] {
        assert_eq!(RowResult::parse(r.as_str()), Some(r));
    }
}
