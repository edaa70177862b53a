//! Unit tests of `spec` (a child module, so private items stay reachable).

use super::*;

#[test]
fn columns_keep_the_order_they_were_written_in() {
    let parsed = parse(
        "[columns]\nzeta = \"email\"\nalpha = \"notes\"\nmiddle = \"phone\"\n",
        "test",
    )
    .unwrap();
    let headers: Vec<_> = parsed
        .spec
        .rules
        .iter()
        .map(|r| r.header.as_str())
        .collect();
    assert_eq!(headers, ["zeta", "alpha", "middle"]);
    assert_eq!(parsed.spec.rules[1].line, 3);
}

#[test]
fn globs() {
    let parts = |p: &str| match HeaderPattern::parse(p) {
        HeaderPattern::Glob(parts) => parts,
        HeaderPattern::Exact(_) => panic!("{p} is not a glob"),
    };
    assert!(glob_matches(&parts("shipping_*"), "shipping_city"));
    assert!(glob_matches(&parts("shipping_*"), "shipping_"));
    assert!(!glob_matches(&parts("shipping_*"), "billing_city"));
    // Headers are normalised before matching (spaces and dashes fold to `_`).
    let header = |h: &str| normalize_header(h);
    assert!(glob_matches(
        &parts("address * - *"),
        &header("Address First Name - 2")
    ));
    assert!(!glob_matches(&parts("address * - *"), &header("Addresses")));
    assert!(glob_matches(&parts("*"), "anything"));
    assert!(glob_matches(&parts("*_id"), "website_id"));
    assert!(!glob_matches(&parts("a*a"), "a"));
}

#[test]
fn typos_get_suggestions() {
    assert_eq!(closest("emial", &["email", "phone"]), Some("email"));
    assert_eq!(closest("zzzzzz", &["email", "phone"]), None);
    let err = canonical_column("frist_name").unwrap_err();
    assert!(err.contains("\"first_name\""), "{err}");
    assert_eq!(canonical_column(" Email ").unwrap(), "email");
    assert_eq!(
        canonical_column("form_field:Shoe Size").unwrap(),
        "form_field:Shoe Size"
    );
}

#[test]
fn steps_run_in_order() {
    let steps = Steps {
        trim: None,
        transforms: vec![Transform::StripLeadingQuote, Transform::Uppercase],
        map: None,
        prefix: Some("P: ".into()),
    };
    assert_eq!(
        steps.run("  'abc ", true, "").unwrap().as_deref(),
        Some("P: ABC")
    );
    assert_eq!(steps.run("   ", true, "").unwrap(), None);
    // Exactly one quote goes.
    assert_eq!(
        steps.run("''x", true, "").unwrap().as_deref(),
        Some("P: 'X")
    );
    // Without trim, spaces stay (passwords).
    let plain = Steps::default();
    assert_eq!(
        plain.run(" pw1 ", false, "").unwrap().as_deref(),
        Some(" pw1 ")
    );
}
