//! Unit tests of `columns` (a child module, so private items stay reachable).

use super::*;

#[test]
fn suggestions() {
    assert_eq!(closest_known("Emial"), Some("email"));
    assert_eq!(closest_known("first name"), Some("first_name"));
    assert_eq!(closest_known("zzzzzzzzzzzz"), None);
    assert_eq!(closest_known("Email Address"), Some("email"));
    assert_eq!(closest_known("E-mail"), Some("email"));
    assert_eq!(closest_known("Zip Code"), Some("address_zip"));
    assert_eq!(closest_known("Country"), Some("address_country"));
}

#[test]
fn layout_of_an_export_header() {
    let h = csv::StringRecord::from(vec![
        "\u{feff}ID",
        " Email ",
        "customer_group_id",
        "customer_group",
        "reset_pass_on_login",
        "date_created",
        "form_field:Size",
        "_row",
        "bogus",
    ]);
    let l = Layout::new(&h);
    assert_eq!(l.id, Some(0));
    assert_eq!(l.fields[Field::Email.index()], Some(1));
    assert_eq!(l.fields[Field::ForceReset.index()], Some(4));
    assert_eq!(l.group_name, Some(3));
    assert_eq!(l.read_only, vec!["date_created", "form_field:Size"]);
    assert_eq!(l.unknown, vec!["bogus"]);
}
