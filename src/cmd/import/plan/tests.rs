//! The planner, table-driven: every case runs as a real run and as a dry run, and rows are
//! built by the import's own `parse_row` under the case's blank policy, so a table line is
//! what a CSV line with those cells means.

use super::*;
use crate::api::Group;
use crate::mapping::columns::Layout;
use crate::mapping::row::parse_row;

/// The columns every table row is written in (a blank cell is a blank CSV cell).
const HEADERS: [&str; 12] = [
    "id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "customer_group",
    "password",
    "address_street_1",
    "address_city",
    "address_zip",
    "address_country",
];

/// A row's cells: the email, first name, last name, phone always; the rest when set.
#[derive(Clone, Copy, Default)]
struct Cells {
    id: &'static str,
    email: &'static str,
    first: &'static str,
    last: &'static str,
    phone: &'static str,
    company: &'static str,
    group: &'static str,
    password: &'static str,
    /// A complete address (in Germany: no state needed), or none.
    address: bool,
}

const ANN: Cells = Cells {
    id: "",
    email: "ann@example.com",
    first: "Ann",
    last: "Lee",
    phone: "555",
    company: "Acme",
    group: "",
    password: "",
    address: false,
};

fn layout() -> Layout {
    Layout::new(&csv::StringRecord::from(HEADERS.to_vec()))
}

fn data(c: Cells, blank: Blank) -> RowData {
    let address = if c.address {
        ["Hauptstr. 1", "Berlin", "10115", "DE"]
    } else {
        [""; 4]
    };
    let mut cells = vec![
        c.id, c.email, c.first, c.last, c.phone, c.company, c.group, c.password,
    ];
    cells.extend(address);
    let d = parse_row(&layout(), &csv::StringRecord::from(cells), blank).expect("a valid row");
    assert_eq!(d.address.is_some(), c.address, "{:?}", d.address_problem);
    d
}

/// What the store holds for Ann: store customer 7.
fn ann_in_store() -> Known {
    Known::of_store(Snapshot::created(7, &data(ANN, Blank::Keep), false))
}

/// Ann as an earlier row of this dry run would create her.
fn ann_planned() -> Known {
    Known {
        customer: CustomerRef::Planned(0),
        ..ann_in_store()
    }
}

fn sem(mode: Mode, dry_run: bool) -> RowSemantics {
    RowSemantics {
        mode,
        blank: Blank::Keep,
        match_by: MatchBy::Id,
        update_passwords: false,
        force_password_reset: false,
        create_missing_groups: false,
        dry_run,
        addresses_only: false,
        reading: Reading::default(),
    }
}

#[derive(Clone, Copy, Debug)]
enum Existing {
    Nothing,
    Store,
    Planned,
}

#[derive(Debug, PartialEq)]
enum Want {
    Create {
        address: bool,
    },
    Update {
        fields: &'static [&'static str],
        password: bool,
        address: bool,
    },
    Unchanged,
    /// Created by the interrupted run: finished as an update/unchanged, reported `created`.
    Resumed {
        update: bool,
    },
    /// The mode forbids it: `failed` in a real run, `invalid` (same words) in a dry run.
    Conflict(&'static str),
    ReadAddresses,
}

struct Case {
    name: &'static str,
    mode: Mode,
    blank: Blank,
    existing: Existing,
    row: Cells,
    update_passwords: bool,
    addresses_only: bool,
    interrupted: bool,
    address: AddressFact,
    want: Want,
    password_not_applied: bool,
}

const fn case(name: &'static str, mode: Mode, existing: Existing, row: Cells, want: Want) -> Case {
    Case {
        name,
        mode,
        blank: Blank::Keep,
        existing,
        row,
        update_passwords: false,
        addresses_only: false,
        interrupted: false,
        address: AddressFact::Unknown,
        want,
        password_not_applied: false,
    }
}

use Existing::{Nothing, Planned, Store};
use Mode::{Create, Update, Upsert};

const NEW: Cells = Cells {
    email: "new@example.com",
    ..ANN
};
const ANN_RENAMED: Cells = Cells {
    first: "Anna",
    ..ANN
};
const ANN_NO_PHONE: Cells = Cells { phone: "", ..ANN };
const ANN_PASSWORD: Cells = Cells {
    password: "Secret99",
    ..ANN
};
const ANN_ADDRESS: Cells = Cells {
    address: true,
    ..ANN
};
const ANN_BY_ID: Cells = Cells { id: "7", ..ANN };
const NOBODY_BY_ID: Cells = Cells { id: "99", ..NEW };
const NEW_NO_NAME: Cells = Cells { last: "", ..NEW };

fn cases() -> Vec<Case> {
    let mut v = vec![
        // mode × what the store has
        case(
            "upsert creates a new customer",
            Upsert,
            Nothing,
            NEW,
            Want::Create { address: false },
        ),
        case(
            "create creates a new customer",
            Create,
            Nothing,
            NEW,
            Want::Create { address: false },
        ),
        case(
            "update never creates",
            Update,
            Nothing,
            NEW,
            Want::Conflict("--mode update does not create customers"),
        ),
        case(
            "an unknown id creates nobody",
            Upsert,
            Nothing,
            NOBODY_BY_ID,
            Want::Conflict("no customer with id 99"),
        ),
        case(
            "a new customer needs its names",
            Upsert,
            Nothing,
            NEW_NO_NAME,
            Want::Conflict(""),
        ),
        case(
            "upsert of an identical row is unchanged",
            Upsert,
            Store,
            ANN,
            Want::Unchanged,
        ),
        case(
            "update of an identical row is unchanged",
            Update,
            Store,
            ANN,
            Want::Unchanged,
        ),
        case(
            "create refuses an existing email",
            Create,
            Store,
            ANN,
            Want::Conflict("the customer with this email already exists (id 7"),
        ),
        case(
            "create refuses an existing id",
            Create,
            Store,
            ANN_BY_ID,
            Want::Conflict("the customer with this id already exists (id 7"),
        ),
        case(
            "create refuses a customer an earlier row creates",
            Create,
            Planned,
            ANN,
            Want::Conflict("an earlier row of this file creates this customer"),
        ),
        case(
            "upsert updates the changed field",
            Upsert,
            Store,
            ANN_RENAMED,
            Want::Update {
                fields: &["first_name"],
                password: false,
                address: false,
            },
        ),
        case(
            "update updates the changed field",
            Update,
            Store,
            ANN_RENAMED,
            Want::Update {
                fields: &["first_name"],
                password: false,
                address: false,
            },
        ),
        case(
            "a planned customer is updated like a stored one",
            Upsert,
            Planned,
            ANN_RENAMED,
            Want::Update {
                fields: &["first_name"],
                password: false,
                address: false,
            },
        ),
        case(
            "a planned customer with the same row is unchanged",
            Upsert,
            Planned,
            ANN,
            Want::Unchanged,
        ),
        // blank policy
        case(
            "keep: a blank cell keeps the field",
            Upsert,
            Store,
            ANN_NO_PHONE,
            Want::Unchanged,
        ),
        Case {
            blank: Blank::Clear,
            ..case(
                "clear: a blank cell clears the field",
                Upsert,
                Store,
                ANN_NO_PHONE,
                Want::Update {
                    fields: &["phone"],
                    password: false,
                    address: false,
                },
            )
        },
        Case {
            blank: Blank::Clear,
            ..case(
                "clear: a row with every cell filled is unchanged",
                Upsert,
                Store,
                ANN,
                Want::Unchanged,
            )
        },
        Case {
            blank: Blank::Clear,
            ..case(
                "clear: a new customer is created with its blanks",
                Upsert,
                Nothing,
                Cells { phone: "", ..NEW },
                Want::Create { address: false },
            )
        },
        // passwords
        case(
            "a new customer gets its password (in the create)",
            Upsert,
            Nothing,
            Cells {
                password: "Secret99",
                ..NEW
            },
            Want::Create { address: false },
        ),
        Case {
            password_not_applied: true,
            ..case(
                "an existing customer's password is not applied without --update-passwords",
                Upsert,
                Store,
                ANN_PASSWORD,
                Want::Unchanged,
            )
        },
        Case {
            update_passwords: true,
            ..case(
                "--update-passwords sends the password",
                Upsert,
                Store,
                ANN_PASSWORD,
                Want::Update {
                    fields: &[],
                    password: true,
                    address: false,
                },
            )
        },
        Case {
            update_passwords: true,
            ..case(
                "--update-passwords with a changed field sends both",
                Upsert,
                Store,
                Cells {
                    password: "Secret99",
                    ..ANN_RENAMED
                },
                Want::Update {
                    fields: &["first_name"],
                    password: true,
                    address: false,
                },
            )
        },
        Case {
            update_passwords: true,
            ..case(
                "a blank password cell sends no password",
                Upsert,
                Store,
                ANN,
                Want::Unchanged,
            )
        },
        // addresses
        case(
            "a new customer is created with its address",
            Upsert,
            Nothing,
            Cells {
                address: true,
                ..NEW
            },
            Want::Create { address: true },
        ),
        case(
            "an existing customer's addresses are asked for",
            Upsert,
            Store,
            ANN_ADDRESS,
            Want::ReadAddresses,
        ),
        Case {
            address: AddressFact::Has,
            ..case(
                "an address the customer has is not added",
                Upsert,
                Store,
                ANN_ADDRESS,
                Want::Unchanged,
            )
        },
        Case {
            address: AddressFact::Lacks,
            ..case(
                "an address the customer lacks is added",
                Upsert,
                Store,
                ANN_ADDRESS,
                Want::Update {
                    fields: &[],
                    password: false,
                    address: true,
                },
            )
        },
        Case {
            address: AddressFact::Lacks,
            ..case(
                "a changed field and a new address",
                Upsert,
                Store,
                Cells {
                    address: true,
                    ..ANN_RENAMED
                },
                Want::Update {
                    fields: &["first_name"],
                    password: false,
                    address: true,
                },
            )
        },
        case(
            "a planned customer's address is never read from the store",
            Upsert,
            Planned,
            ANN_ADDRESS,
            Want::Update {
                fields: &[],
                password: false,
                address: true,
            },
        ),
        Case {
            address: AddressFact::Has,
            ..case(
                "a planned customer already given this address",
                Upsert,
                Planned,
                ANN_ADDRESS,
                Want::Unchanged,
            )
        },
        case(
            "create refuses before reading any address",
            Create,
            Store,
            ANN_ADDRESS,
            Want::Conflict("already exists"),
        ),
        // an export --addresses file
        Case {
            addresses_only: true,
            address: AddressFact::Lacks,
            ..case(
                "an addresses file adds the address and never the fields",
                Upsert,
                Store,
                Cells {
                    address: true,
                    ..ANN_RENAMED
                },
                Want::Update {
                    fields: &[],
                    password: false,
                    address: true,
                },
            )
        },
        Case {
            addresses_only: true,
            ..case(
                "an addresses file creates no customer",
                Upsert,
                Nothing,
                Cells {
                    address: true,
                    ..NEW
                },
                Want::Conflict("an addresses file adds addresses to existing customers"),
            )
        },
        // resuming a create that the interrupted run sent
        Case {
            interrupted: true,
            ..case(
                "an interrupted create found done is reported created",
                Create,
                Store,
                ANN,
                Want::Resumed { update: false },
            )
        },
        Case {
            interrupted: true,
            address: AddressFact::Lacks,
            ..case(
                "an interrupted create finishes the address",
                Upsert,
                Store,
                ANN_ADDRESS,
                Want::Resumed { update: true },
            )
        },
        Case {
            interrupted: true,
            update_passwords: true,
            ..case(
                "an interrupted create does not send the password twice",
                Upsert,
                Store,
                ANN_PASSWORD,
                Want::Resumed { update: false },
            )
        },
    ];
    // a blank-cell row of every mode, to pin that the mode still decides first
    for mode in [Create, Update, Upsert] {
        v.push(Case {
            blank: Blank::Clear,
            ..case(
                "clear × mode",
                mode,
                Store,
                ANN_NO_PHONE,
                match mode {
                    Create => Want::Conflict("already exists"),
                    _ => Want::Update {
                        fields: &["phone"],
                        password: false,
                        address: false,
                    },
                },
            )
        });
    }
    v
}

/// What the planner said, in the table's terms.
fn got(decision: &Decision) -> (Want, Option<RowOutcome>, bool) {
    let (action, pna) = match decision {
        Decision::ReadAddresses {
            password_not_applied,
            ..
        } => return (Want::ReadAddresses, None, *password_not_applied),
        Decision::Act {
            action,
            password_not_applied,
        } => (action, *password_not_applied),
    };
    let want = match action {
        Action::Create { address } => Want::Create { address: *address },
        Action::Update { resumed: true, .. } => Want::Resumed { update: true },
        Action::Update {
            fields,
            password,
            address,
            ..
        } => Want::Update {
            fields: leak(fields.iter().map(|f| f.api_name()).collect()),
            password: *password,
            address: *address,
        },
        Action::Unchanged { resumed: true, .. } => Want::Resumed { update: false },
        Action::Unchanged { .. } => Want::Unchanged,
        Action::Refuse(out) => return (Want::Conflict(""), Some(out.clone()), pna),
    };
    (want, None, pna)
}

fn leak(v: Vec<&'static str>) -> &'static [&'static str] {
    Box::leak(v.into_boxed_slice())
}

#[test]
fn every_mode_blank_password_address_and_dry_run_case_decides_as_the_table_says() {
    let mut ran = 0;
    let cases = cases();
    let n = cases.len();
    for c in cases {
        for dry_run in [false, true] {
            let mut s = sem(c.mode, dry_run);
            s.blank = c.blank;
            s.update_passwords = c.update_passwords;
            s.addresses_only = c.addresses_only;
            let d = data(c.row, c.blank);
            let existing = match c.existing {
                Nothing => None,
                Store => Some(ann_in_store()),
                Planned => Some(ann_planned()),
            };
            let intent = Intent {
                data: &d,
                group: None,
                interrupted_create: c.interrupted.then(|| ours(&d)),
            };
            let decision = decide(&intent, existing.as_ref(), c.address, &s);
            let (_, refused, pna) = got(&decision);
            let name = format!("{} (dry run: {dry_run})", c.name);
            assert_eq!(pna, c.password_not_applied, "{name}: password notice");
            match (&c.want, refused) {
                (Want::Conflict(words), Some(out)) => {
                    assert!(out.message.contains(words), "{name}: {}", out.message);
                    check_refusal(&name, &c, &d, &out, dry_run);
                }
                (want, None) => assert_eq!(&want_of(want), &want_of(&got(&decision).0), "{name}"),
                (want, Some(out)) => panic!("{name}: wanted {want:?}, refused: {out:?}"),
            }
            ran += 1;
        }
    }
    assert_eq!(ran, 2 * n);
}

fn want_of(w: &Want) -> String {
    format!("{w:?}")
}

/// A conflict is `failed` in a real run and `invalid` (the same words, and what the real run
/// reports) in a dry run; an invalid row is invalid in both.
fn check_refusal(name: &str, c: &Case, d: &RowData, out: &RowOutcome, dry_run: bool) {
    if d.missing_for_create().is_some() && matches!(c.existing, Nothing) && c.mode != Update {
        assert_eq!(out.result, RowResult::Invalid, "{name}");
        assert!(
            out.message.starts_with("a new customer needs"),
            "{name}: {}",
            out.message
        );
        return;
    }
    if dry_run {
        assert_eq!(out.result, RowResult::Invalid, "{name}");
        assert!(
            out.message
                .ends_with("; the real run reports this row as failed"),
            "{name}: {}",
            out.message
        );
    } else {
        assert_eq!(out.result, RowResult::Failed, "{name}");
    }
    let shown = match c.existing {
        Store => Some(7),
        _ => None,
    };
    assert_eq!(out.customer_id, shown, "{name}: the id shown");
}

#[test]
fn a_row_without_id_or_email_is_invalid_before_anything_else() {
    let d = data(Cells { email: "", ..ANN }, Blank::Keep);
    let out = identity_problem(&d).expect("refused");
    assert_eq!(out.result, RowResult::Invalid);
    assert!(identity_problem(&data(ANN, Blank::Keep)).is_none());
    assert!(identity_problem(&data(
        Cells {
            email: "",
            ..ANN_BY_ID
        },
        Blank::Keep
    ))
    .is_none());
}

// ---- outcomes: what a real run and a dry run report for one plan ----

#[test]
fn a_dry_run_previews_what_the_real_run_reports() {
    let update = Action::Update {
        customer: CustomerRef::Store(7),
        fields: vec![Field::FirstName, Field::Phone],
        password: true,
        address: true,
        resumed: false,
    };
    let table: Vec<(Action, RowResult, Option<u64>, RowResult, &str)> = vec![
        (
            Action::Create { address: true },
            RowResult::WouldCreate,
            None,
            RowResult::Created,
            "with an address",
        ),
        (
            Action::Create { address: false },
            RowResult::WouldCreate,
            None,
            RowResult::Created,
            "",
        ),
        (
            update,
            RowResult::WouldUpdate,
            Some(7),
            RowResult::Updated,
            "changes: first_name, phone, password, new address",
        ),
        (
            Action::Unchanged {
                customer: CustomerRef::Store(7),
                resumed: false,
            },
            RowResult::Unchanged,
            Some(7),
            RowResult::Unchanged,
            "",
        ),
        (
            Action::Unchanged {
                customer: CustomerRef::Planned(3),
                resumed: false,
            },
            RowResult::Unchanged,
            None,
            RowResult::Unchanged,
            "",
        ),
    ];
    for (action, preview, shown, done, message) in table {
        let p = action.preview();
        assert_eq!(
            (p.result, p.customer_id, p.message.as_str()),
            (preview, shown, message),
            "{action:?}"
        );
        let d = action.done(7);
        assert_eq!(
            (d.result, d.customer_id, d.message.as_str()),
            (done, Some(7), message),
            "{action:?}"
        );
    }
    let resumed = Action::Update {
        customer: CustomerRef::Store(7),
        fields: vec![],
        password: false,
        address: true,
        resumed: true,
    };
    let d = resumed.done(7);
    assert_eq!(d.result, RowResult::Created);
    assert_eq!(
        d.message,
        "created by the interrupted run (confirmed on resume)"
    );
}

#[test]
fn a_planned_customer_shows_no_id_in_a_dry_run() {
    let d = data(ANN_RENAMED, Blank::Keep);
    let intent = Intent {
        data: &d,
        group: None,
        interrupted_create: None,
    };
    let Decision::Act { action, .. } = decide(
        &intent,
        Some(&ann_planned()),
        AddressFact::Unknown,
        &sem(Upsert, true),
    ) else {
        panic!("no address to read")
    };
    let out = action.preview();
    assert_eq!(
        (out.result, out.customer_id),
        (RowResult::WouldUpdate, None)
    );
}

// ---- groups ----

fn book(available: bool) -> GroupBook {
    let mut b = GroupBook {
        available,
        ..Default::default()
    };
    if available {
        b.add(&Group {
            id: 5,
            name: "Wholesale".into(),
            ..Default::default()
        });
    }
    b
}

#[test]
fn groups_resolve_against_the_store_and_the_groups_a_dry_run_plans() {
    let with = |group: &'static str| data(Cells { group, ..ANN }, Blank::Keep);
    let by_id = |id: &str| {
        let mut d = data(ANN, Blank::Keep);
        d.values[Field::CustomerGroupId.index()] = Some(id.to_string());
        d
    };
    let planned = vec!["VIP".to_string()];
    let mut missing_ok = sem(Upsert, true);
    missing_ok.create_missing_groups = true;
    let strict = sem(Upsert, false);
    type Row<'a> = (&'a str, RowData, bool, bool, &'a RowSemantics, GroupStep);
    let refuse = |m: &str| GroupStep::Refuse(m.to_string());
    let table: Vec<Row> = vec![
        ("no group columns", with("Wholesale"), false, true, &strict, GroupStep::Keep),
        ("no group cell", with(""), true, true, &strict, GroupStep::Keep),
        ("a store group by name, any case", with(" wholesale "), true, true, &strict, GroupStep::Use(GroupRef::Id(5))),
        ("a store group id", by_id("5"), true, true, &strict, GroupStep::Keep),
        ("group id 0 means no group", by_id("0"), true, false, &strict, GroupStep::Keep),
        ("an unknown group id", by_id("6"), true, true, &strict, refuse("customer_group_id 6 is not a customer group of this store (see `bc-customers groups list`)")),
        ("a group id on a plan without groups", by_id("5"), true, false, &strict, refuse("customer_group_id 5: this store's plan has no customer groups")),
        ("a group name on a plan without groups", with("Wholesale"), true, false, &strict, refuse("customer_group \"Wholesale\": this store's plan has no customer groups")),
        ("a missing group, not created", with("Gold"), true, true, &strict, refuse("customer_group \"Gold\" does not exist in the store: create it (bc-customers groups create \"Gold\") or pass --create-missing-groups")),
        ("a missing group, created", with(" Gold "), true, true, &missing_ok, GroupStep::Create("Gold".into())),
        ("a group this dry run plans", with("vip"), true, true, &missing_ok, GroupStep::Use(GroupRef::Planned("VIP".into()))),
    ];
    for (name, d, has_groups, available, s, want) in table {
        let step = group_step(&d, has_groups, &book(available), &planned, s);
        assert_eq!(step, want, "{name}");
    }
}

/// A dry run: row 1 creates Ann in a group it would create, row 2 asks for the same group
/// (unchanged), row 3 for a store group by id (changes the group), row 4 for a new group
/// again (changes it back).
#[test]
fn planned_groups_compare_by_name_through_a_dry_run() {
    let s = sem(Upsert, true);
    let vip = GroupRef::Planned("VIP".into());
    let d = data(ANN, Blank::Keep);
    let created_intent = Intent {
        data: &d,
        group: Some(&vip),
        interrupted_create: None,
    };
    let known = created(CustomerRef::Planned(0), &created_intent, &s);
    assert_eq!(known.planned_group.as_deref(), Some("VIP"));

    let same = Intent {
        data: &d,
        group: Some(&vip),
        interrupted_create: None,
    };
    assert_eq!(
        plan_of(&same, Some(&known), &s),
        Action::Unchanged {
            customer: CustomerRef::Planned(0),
            resumed: false
        }
    );

    let mut by_id = data(ANN, Blank::Keep);
    by_id.values[Field::CustomerGroupId.index()] = Some("5".into());
    let store_group = GroupRef::Id(5);
    let moved = Intent {
        data: &by_id,
        group: Some(&store_group),
        interrupted_create: None,
    };
    let Action::Update { fields, .. } = plan_of(&moved, Some(&known), &s) else {
        panic!("a store group after a planned one is a change")
    };
    assert_eq!(fields, vec![Field::CustomerGroupId]);
    let known = after(&known, &moved);
    assert_eq!(known.planned_group, None);
    assert_eq!(
        plan_of(&moved, Some(&known), &s),
        Action::Unchanged {
            customer: CustomerRef::Planned(0),
            resumed: false
        }
    );

    let back = Intent {
        data: &d,
        group: Some(&vip),
        interrupted_create: None,
    };
    let Action::Update { fields, .. } = plan_of(&back, Some(&known), &s) else {
        panic!("a planned group after a store group is a change")
    };
    assert_eq!(fields, vec![Field::CustomerGroupId]);
    // A row that says nothing of the group keeps the planned one.
    let known = after(&known, &back);
    let silent = Intent {
        data: &d,
        group: None,
        interrupted_create: None,
    };
    assert_eq!(after(&known, &silent).planned_group.as_deref(), Some("VIP"));
}

/// A store customer planned into a new group, with other fields changing too: the fields
/// keep their order (the group among them) in the message.
#[test]
fn a_planned_group_is_listed_among_the_changes_in_field_order() {
    let s = sem(Upsert, true);
    let vip = GroupRef::Planned("VIP".into());
    let d = data(
        Cells {
            first: "Anna",
            phone: "556",
            ..ANN
        },
        Blank::Keep,
    );
    let intent = Intent {
        data: &d,
        group: Some(&vip),
        interrupted_create: None,
    };
    let action = plan_of(&intent, Some(&ann_in_store()), &s);
    assert_eq!(
        action.preview().message,
        "changes: first_name, phone, customer_group_id"
    );
}

fn plan_of(intent: &Intent, existing: Option<&Known>, s: &RowSemantics) -> Action {
    match decide(intent, existing, AddressFact::Unknown, s) {
        Decision::Act { action, .. } => action,
        other => panic!("{other:?}"),
    }
}

/// `--force-password-reset` is part of what a created customer looks like afterwards.
#[test]
fn a_created_customer_is_known_as_the_create_leaves_it() {
    let d = data(NEW, Blank::Keep);
    let intent = Intent {
        data: &d,
        group: None,
        interrupted_create: None,
    };
    let mut s = sem(Upsert, false);
    let plain = created(CustomerRef::Store(9), &intent, &s);
    assert_eq!(plain.fields, Snapshot::created(9, &d, false));
    s.force_password_reset = true;
    assert_eq!(
        created(CustomerRef::Store(9), &intent, &s).fields,
        Snapshot::created(9, &d, true)
    );
    // A planned customer has no id: the snapshot's id is never used for it.
    assert_eq!(
        created(CustomerRef::Planned(4), &intent, &s)
            .customer
            .store_id(),
        None
    );
}

// ---- the journal's fingerprint ----

#[test]
fn every_option_that_changes_a_row_changes_the_fingerprint() {
    let base = sem(Upsert, false);
    let fp = base.fingerprint();
    type Variant = (&'static str, Box<dyn Fn(&mut RowSemantics)>);
    let variants: Vec<Variant> = vec![
        ("mode", Box::new(|s| s.mode = Create)),
        ("blank", Box::new(|s| s.blank = Blank::Clear)),
        ("match", Box::new(|s| s.match_by = MatchBy::Email)),
        ("update_passwords", Box::new(|s| s.update_passwords = true)),
        (
            "force_password_reset",
            Box::new(|s| s.force_password_reset = true),
        ),
        (
            "create_missing_groups",
            Box::new(|s| s.create_missing_groups = true),
        ),
        ("addresses_only", Box::new(|s| s.addresses_only = true)),
        ("only_failed", Box::new(|s| s.reading.only_failed = true)),
        (
            "ignore_unknown_columns",
            Box::new(|s| s.reading.ignore_unknown_columns = true),
        ),
        (
            "preset",
            Box::new(|s| s.reading.preset = Some("shopify".into())),
        ),
        (
            "mapping",
            Box::new(|s| s.reading.mapping = Some("m.toml".into())),
        ),
        (
            "dialect",
            Box::new(|s| s.reading.dialect = "encoding=Utf8 delimiter=None".into()),
        ),
        (
            "decimal_comma",
            Box::new(|s| s.reading.decimal_comma = true),
        ),
    ];
    let mut seen = vec![fp.clone()];
    for (name, change) in variants {
        let mut s = base.clone();
        change(&mut s);
        let other = s.fingerprint();
        assert!(
            !seen.contains(&other),
            "{name} does not change the fingerprint"
        );
        assert!(other.contains(name), "{name} is not named in {other}");
        seen.push(other);
    }
    assert!(fp.starts_with("import "), "{fp}");
    assert!(fp.contains(" mode=\"upsert\""), "{fp}");
    assert!(fp.contains(" dry_run=false"), "{fp}");
}

// ---- the whole product: every mode × blank × what the store has × passwords × addresses ×
// groups × dry run, checked against the planner's promises one by one ----

#[derive(Clone, Copy, Debug, PartialEq)]
enum GroupCase {
    None,
    /// The row names a group this dry run plans; the customer is already planned into it.
    PlannedSame,
    /// The row names a group this dry run plans; the customer is not in it.
    PlannedNew,
}

struct Product {
    mode: Mode,
    blank: Blank,
    existing: Existing,
    password: bool,
    update_passwords: bool,
    address: Option<AddressFact>,
    group: GroupCase,
    dry_run: bool,
}

fn product() -> Vec<Product> {
    let mut v = Vec::new();
    for mode in [Create, Update, Upsert] {
        for blank in [Blank::Keep, Blank::Clear] {
            for existing in [Nothing, Store, Planned] {
                for (password, update_passwords) in
                    [(false, false), (false, true), (true, false), (true, true)]
                {
                    for address in [
                        None,
                        Some(AddressFact::Has),
                        Some(AddressFact::Lacks),
                        Some(AddressFact::Unknown),
                    ] {
                        for group in [
                            GroupCase::None,
                            GroupCase::PlannedSame,
                            GroupCase::PlannedNew,
                        ] {
                            for dry_run in [false, true] {
                                v.push(Product {
                                    mode,
                                    blank,
                                    existing,
                                    password,
                                    update_passwords,
                                    address,
                                    group,
                                    dry_run,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    v
}

#[test]
fn every_combination_keeps_the_planners_promises() {
    let all = product();
    assert_eq!(all.len(), 3 * 2 * 3 * 4 * 4 * 3 * 2);
    let vip = GroupRef::Planned("VIP".into());
    for p in &all {
        let name = format!(
            "{:?} {:?} {:?} password={} update_passwords={} address={:?} group={:?} dry_run={}",
            p.mode,
            p.blank,
            p.existing,
            p.password,
            p.update_passwords,
            p.address,
            p.group,
            p.dry_run
        );
        // Ann's row with her company blank: under --blank clear that clears the company.
        let cells = Cells {
            company: "",
            password: if p.password { "Secret99" } else { "" },
            address: p.address.is_some(),
            ..ANN
        };
        let d = data(cells, p.blank);
        let mut s = sem(p.mode, p.dry_run);
        s.blank = p.blank;
        s.update_passwords = p.update_passwords;
        let mut known = match p.existing {
            Nothing => None,
            Store => Some(ann_in_store()),
            Planned => Some(ann_planned()),
        };
        if let (Some(k), GroupCase::PlannedSame) = (&mut known, p.group) {
            k.planned_group = Some("vip".into());
        }
        let intent = Intent {
            data: &d,
            group: (p.group != GroupCase::None).then_some(&vip),
            interrupted_create: None,
        };
        let fact = p.address.unwrap_or(AddressFact::Unknown);
        let decision = decide(&intent, known.as_ref(), fact, &s);
        let exists = known.is_some();
        let updates = exists && p.mode != Create;
        let pna = match &decision {
            Decision::Act {
                password_not_applied,
                ..
            }
            | Decision::ReadAddresses {
                password_not_applied,
                ..
            } => *password_not_applied,
        };
        // Passwords: sent only to existing customers with --update-passwords; otherwise said once.
        assert_eq!(pna, updates && p.password && !p.update_passwords, "{name}");
        // The store is asked for addresses only about a store customer the row would update.
        let asks =
            updates && matches!(p.existing, Store) && p.address == Some(AddressFact::Unknown);
        assert_eq!(
            matches!(decision, Decision::ReadAddresses { customer: 7, .. }),
            asks,
            "{name}"
        );
        let Decision::Act { action, .. } = decision else {
            continue;
        };
        match (&action, exists, p.mode) {
            (Action::Create { address }, false, Create | Upsert) => {
                assert_eq!(*address, p.address.is_some(), "{name}");
            }
            (Action::Refuse(out), false, Update) | (Action::Refuse(out), true, Create) => {
                let want = if p.dry_run {
                    RowResult::Invalid
                } else {
                    RowResult::Failed
                };
                assert_eq!(out.result, want, "{name}");
            }
            (
                Action::Update {
                    customer,
                    fields,
                    password,
                    address,
                    resumed,
                },
                true,
                Update | Upsert,
            ) => {
                assert!(!resumed, "{name}");
                assert_eq!(*customer, known.as_ref().unwrap().customer, "{name}");
                assert_eq!(*password, p.password && p.update_passwords, "{name}");
                let wants_address = match p.address {
                    Some(AddressFact::Lacks) => true,
                    Some(AddressFact::Unknown) => matches!(p.existing, Planned),
                    _ => false,
                };
                assert_eq!(*address, wants_address, "{name}");
                let names: Vec<&str> = fields.iter().map(|f| f.api_name()).collect();
                let mut want: Vec<&str> = Vec::new();
                if p.blank == Blank::Clear {
                    want.push("company");
                }
                if p.group == GroupCase::PlannedNew {
                    want.push("customer_group_id");
                }
                assert_eq!(names, want, "{name}");
                assert!(
                    !fields.is_empty() || *password || *address,
                    "{name}: an empty update"
                );
                let preview = action.preview();
                assert_eq!(preview.customer_id, customer.store_id(), "{name}");
            }
            (Action::Unchanged { customer, .. }, true, Update | Upsert) => {
                assert_eq!(*customer, known.as_ref().unwrap().customer, "{name}");
                assert!(
                    p.blank == Blank::Keep && p.group != GroupCase::PlannedNew,
                    "{name}"
                );
                assert!(!(p.password && p.update_passwords), "{name}");
                assert_ne!(p.address, Some(AddressFact::Lacks), "{name}");
            }
            (other, ..) => panic!("{name}: {other:?}"),
        }
    }
}

/// A row whose create the interrupted run sent (its answer never seen), with the store's
/// customer found for it having the row's names: the interrupted create's, by names alone.
fn ours(d: &RowData) -> Interrupted {
    Interrupted {
        clock: None,
        found: Origin {
            first_name: d.get(Field::FirstName).unwrap_or_default().into(),
            last_name: d.get(Field::LastName).unwrap_or_default().into(),
            date_created: String::new(),
        },
    }
}

/// 2026-12-01T17:16:10Z: the store's clock the journal recorded with the create's mark.
const MARK_CLOCK: i64 = 1_796_145_370;

fn interrupted(clock: Option<i64>, first: &str, date_created: &str) -> Interrupted {
    Interrupted {
        clock,
        found: Origin {
            first_name: first.into(),
            last_name: "lee ".into(),
            date_created: date_created.into(),
        },
    }
}

fn decide_interrupted(i: Interrupted, mode: Mode, dry_run: bool) -> Action {
    let d = data(ANN, Blank::Keep);
    let intent = Intent {
        data: &d,
        group: None,
        interrupted_create: Some(i),
    };
    let existing = ann_in_store();
    match decide(
        &intent,
        Some(&existing),
        AddressFact::Unknown,
        &sem(mode, dry_run),
    ) {
        Decision::Act { action, .. } => action,
        other => panic!("no address to read: {other:?}"),
    }
}

#[test]
fn an_interrupted_create_is_confirmed_only_for_a_customer_that_could_be_it() {
    // The names sent (trimmed, without case), created after the recorded clock or within
    // the slack, or no clock recorded (a journal of an earlier version): ours, in any mode.
    for i in [
        interrupted(Some(MARK_CLOCK), " ann", "2026-12-01T17:16:09Z"),
        interrupted(Some(MARK_CLOCK), "Ann", "Tue, 01 Dec 2026 17:20:00 +0000"),
        interrupted(None, "ANN", "Thu, 30 Jan 2020 00:49:10 +0000"),
        interrupted(Some(MARK_CLOCK), "Ann", "not a date"),
    ] {
        for mode in [Create, Upsert, Update] {
            let action = decide_interrupted(i.clone(), mode, false);
            assert_eq!(
                action,
                Action::Unchanged {
                    customer: CustomerRef::Store(7),
                    resumed: true
                },
                "{i:?} {mode:?}"
            );
            assert_eq!(action.done(7).result, RowResult::Created);
        }
    }
}

#[test]
fn someone_elses_customer_found_on_resume_is_an_ordinary_row_never_created() {
    let earlier =
        "existed before the interrupted run sent its create (created 2020-01-30T00:49:10Z)";
    let other_names = "its name is not the one the interrupted run sent";
    for (i, why) in [
        // V2's RFC-2822 and V3's ISO-8601, both long before the clock of the mark.
        (
            interrupted(Some(MARK_CLOCK), "Ann", "Thu, 30 Jan 2020 00:49:10 +0000"),
            earlier,
        ),
        (
            interrupted(Some(MARK_CLOCK), "Ann", "2020-01-30T00:49:10Z"),
            earlier,
        ),
        // 3 s before the clock: just outside the slack.
        (
            interrupted(Some(MARK_CLOCK), "Ann", "2026-12-01T17:16:07Z"),
            "existed before the interrupted run sent its create",
        ),
        (
            interrupted(Some(MARK_CLOCK), "Bob", "2026-12-01T17:20:00Z"),
            other_names,
        ),
        (interrupted(None, "Bob", ""), other_names),
    ] {
        for dry_run in [false, true] {
            let Action::Refuse(out) = decide_interrupted(i.clone(), Create, dry_run) else {
                panic!("--mode create must refuse someone else's customer: {i:?}")
            };
            let want = if dry_run {
                RowResult::Invalid
            } else {
                RowResult::Failed
            };
            assert_eq!((out.result, out.customer_id), (want, Some(7)), "{i:?}");
            for words in [
                "already exists (id 7",
                "not created by the interrupted run",
                why,
            ] {
                assert!(out.message.contains(words), "{i:?}: {}", out.message);
            }
        }
        // Upsert and update: the ordinary plan of a row for an existing customer (Ann's row
        // against Ann's fields: nothing to send), reported as such, not `created`.
        for mode in [Upsert, Update] {
            let action = decide_interrupted(i.clone(), mode, false);
            assert_eq!(
                action,
                Action::Unchanged {
                    customer: CustomerRef::Store(7),
                    resumed: false
                },
                "{i:?} {mode:?}"
            );
            assert_eq!(action.done(7).result, RowResult::Unchanged);
            let d = data(ANN, Blank::Keep);
            let intent = Intent {
                data: &d,
                group: None,
                interrupted_create: Some(i.clone()),
            };
            let note = not_ours_note(&intent).expect("says why it is not created");
            assert!(note.contains(why), "{note}");
        }
    }
    let d = data(ANN, Blank::Keep);
    let intent = Intent {
        data: &d,
        group: None,
        interrupted_create: Some(ours(&d)),
    };
    assert_eq!(not_ours_note(&intent), None);
    assert_eq!(with_note("", "n"), "n");
    assert_eq!(with_note("phone", "n"), "phone; n");
}
