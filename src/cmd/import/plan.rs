//! What one import row does, decided without any I/O: the row's intent × what the run knows
//! of its customer (nothing, a store customer, or a customer an earlier row of this run
//! plans to create) × the run's semantics → create, update these fields, unchanged, or
//! refuse with an outcome. `execute.rs` gathers the facts and carries the action out; a dry
//! run is this plan with nothing executed.

use serde::Serialize;

use crate::api::once::Claim;
use crate::cmd::GroupBook;
use crate::mapping::columns::Field;
use crate::mapping::row::{Blank, RowData, Snapshot};
use crate::results::{RowOutcome, RowResult};

mod resume;

use resume::not_created_by_us;
pub use resume::{not_ours_note, with_note, Interrupted, Origin};

/// What to do with a row's customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only create; a row whose customer exists fails.
    Create,
    /// Only update; a row whose customer does not exist fails.
    Update,
    /// Create or update, whichever applies.
    #[default]
    Upsert,
}

/// What identifies a row's customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MatchBy {
    /// The `id` column when filled, else the email.
    #[default]
    Id,
    /// Always the email; an `id` column is not used.
    Email,
}

/// Everything that changes what a row means. Built once from the flags; the planner reads
/// it, and its serialisation is the journal's fingerprint of the options, so a flag added
/// here is part of the resume check without anyone keeping a second list.
#[derive(Debug, Clone, Serialize)]
pub struct RowSemantics {
    pub mode: Mode,
    #[serde(serialize_with = "debug_name")]
    pub blank: Blank,
    pub match_by: MatchBy,
    pub update_passwords: bool,
    /// `--force-password-reset`: every customer this run creates must reset its password.
    pub force_password_reset: bool,
    pub create_missing_groups: bool,
    pub dry_run: bool,
    /// An `export --addresses` file: rows only add addresses to existing customers.
    pub addresses_only: bool,
    /// How the records are read and turned into import columns.
    #[serde(flatten)]
    pub reading: Reading,
}

/// The options that decide which record means what (they are not read by [`decide`], but a
/// resumed run must read the file exactly as the interrupted one did).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reading {
    pub only_failed: bool,
    pub ignore_unknown_columns: bool,
    pub preset: Option<String>,
    pub mapping: Option<std::path::PathBuf>,
    /// `--encoding` and `--delimiter` as `Dialect::journal_key` spells them.
    pub dialect: String,
    pub decimal_comma: bool,
}

fn debug_name<T: std::fmt::Debug, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:?}"))
}

impl RowSemantics {
    /// The journal's options: the command's name and this struct, serialised as
    /// `key=value` words (values as JSON, so a path with a space stays one value), which is
    /// what a refused `--resume` shows of the two runs' options.
    pub fn fingerprint(&self) -> String {
        let value = serde_json::to_value(self).expect("plain data serialises");
        let words: Vec<String> = match value {
            serde_json::Value::Object(map) => map.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            other => vec![other.to_string()],
        };
        format!("import {}", words.join(" "))
    }
}

/// A customer the run knows of: one in the store, or one an earlier row of this (dry) run
/// would create, which has no id yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomerRef {
    Store(u64),
    /// Planned by the row with this `seq` (only in a dry run: a real run creates it).
    Planned(u64),
}

impl CustomerRef {
    /// The id a results file shows: a planned customer has none yet.
    pub fn store_id(self) -> Option<u64> {
        match self {
            CustomerRef::Store(id) => Some(id),
            CustomerRef::Planned(_) => None,
        }
    }
}

/// The group a row puts its customer in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    Id(u64),
    /// A group this dry run would create (by its name): no id yet.
    Planned(String),
}

/// What the run knows of a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub customer: CustomerRef,
    /// The customer's fields as compared (`fields.id` is not read: `customer` says who).
    pub fields: Snapshot,
    /// The group an earlier row of this dry run would create and move the customer into.
    pub planned_group: Option<String>,
}

impl Known {
    pub fn of_store(snap: Snapshot) -> Known {
        Known {
            customer: CustomerRef::Store(snap.id),
            fields: snap,
            planned_group: None,
        }
    }
}

/// The customer's store credit was 0 when read: a V3 PUT of the row's amount then leaves
/// exactly it, whether the store sets or adds `store_credit_amounts` (api::v3::credit).
pub fn credit_is_zero(known: &Known) -> bool {
    let f = Field::StoreCredit;
    known.fields.hashes[f.index()] == crate::mapping::row::hash_value(f, "0")
}

/// One row's wishes, for the planner.
pub struct Intent<'a> {
    pub data: &'a RowData,
    /// The group named by `customer_group`, resolved. A [`GroupRef::Id`] is also in
    /// `data`'s `customer_group_id` (it is sent); a planned group is only here.
    pub group: Option<&'a GroupRef>,
    /// The interrupted run sent this row's create and never saw the answer, and a customer
    /// was found with the row's email: whether that is the create is decided here.
    pub interrupted_create: Option<Interrupted>,
}

/// Whether the customer already has the row's address, as far as the run knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFact {
    Has,
    Lacks,
    /// Only the store can say (a store customer this run did not create).
    Unknown,
}

/// What the row does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create the customer (and its address, when `address`).
    Create {
        address: bool,
    },
    Update {
        customer: CustomerRef,
        /// The fields that change (sent in the update).
        fields: Vec<Field>,
        /// The row's password is sent too.
        password: bool,
        /// The row's address is added.
        address: bool,
        /// Finishing the interrupted run's create: reported as `created`.
        resumed: bool,
    },
    Unchanged {
        customer: CustomerRef,
        resumed: bool,
    },
    Refuse(RowOutcome),
}

/// The planner's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Act {
        action: Action,
        /// The row has a password that is not applied (an existing customer, without
        /// `--update-passwords`): said once in the summary.
        password_not_applied: bool,
    },
    /// Ask the store for the customer's addresses, then decide again with the answer.
    ReadAddresses {
        customer: u64,
        password_not_applied: bool,
    },
}

/// A row that names no customer sends nothing (checked before the group is resolved: a
/// group is never created for such a row).
pub fn identity_problem(data: &RowData) -> Option<RowOutcome> {
    (data.id.is_none() && data.email().is_none())
        .then(|| RowOutcome::invalid("the row has neither an id nor an email: fill one of them"))
}

/// Decide the row. `address` says what the run knows about the row's address on the
/// existing customer (ignored when there is none or the row has no address).
pub fn decide(
    intent: &Intent,
    existing: Option<&Known>,
    address: AddressFact,
    sem: &RowSemantics,
) -> Decision {
    let act = |action| Decision::Act {
        action,
        password_not_applied: false,
    };
    let data = intent.data;
    let Some(known) = existing else {
        return act(decide_create(data, sem));
    };
    let mut not_ours = None;
    if let Some(doubt) = &intent.interrupted_create {
        match doubt.claim(data) {
            // Whatever the mode (in --mode create this is not "already exists"); the
            // password went with the create, and sending it again would be an update of it.
            Claim::Ours => return decide_update(intent, known, address, sem, true),
            // Someone else's: the row is an ordinary one.
            other => not_ours = Some(not_created_by_us(other)),
        }
    }
    if sem.mode == Mode::Create {
        let shown = known.customer.store_id();
        let what = if data.id.is_some() {
            "this id"
        } else {
            "this email"
        };
        let message = match (shown, not_ours) {
            (Some(id), Some(why)) => format!(
                "the customer with {what} already exists (id {id}; --mode create does not update; {why})"
            ),
            (Some(id), None) => format!(
                "the customer with {what} already exists (id {id}; --mode create does not update)"
            ),
            (None, _) => {
                "an earlier row of this file creates this customer (--mode create does not update)"
                    .into()
            }
        };
        return act(Action::Refuse(conflict(sem, shown, message)));
    }
    decide_update(intent, known, address, sem, false)
}

fn decide_create(data: &RowData, sem: &RowSemantics) -> Action {
    if sem.addresses_only {
        let message = match data.id {
            Some(id) => format!("no customer with id {id}: an addresses file adds addresses to existing customers; import the customers first (the customers file of the same backup), and use --match email when restoring into another store"),
            None => format!("no customer with email {}: an addresses file adds addresses to existing customers; import the customers first (the customers file of the same backup)", data.email().unwrap_or_default()),
        };
        return Action::Refuse(conflict(sem, None, message));
    }
    if let Some(id) = data.id {
        return Action::Refuse(conflict(sem, None, format!("no customer with id {id} (an id can only match an existing customer; clear it, or use --match email, to create a new one)")));
    }
    if sem.mode == Mode::Update {
        let email = data.email().unwrap_or_default();
        return Action::Refuse(conflict(
            sem,
            None,
            format!("no customer with email {email} (--mode update does not create customers)"),
        ));
    }
    if let Some(m) = data.missing_for_create() {
        return Action::Refuse(RowOutcome::invalid(m));
    }
    Action::Create {
        address: data.address.is_some(),
    }
}

/// Bring an existing (or planned) customer in line with the row, whatever the mode.
fn decide_update(
    intent: &Intent,
    known: &Known,
    address: AddressFact,
    sem: &RowSemantics,
    resumed: bool,
) -> Decision {
    let data = intent.data;
    // An addresses file's email only finds the customer; it never changes one.
    let fields = if sem.addresses_only {
        Vec::new()
    } else {
        changed_fields(intent, known)
    };
    let has_password = data.password.is_some() && !resumed;
    let password = has_password && sem.update_passwords;
    let password_not_applied = has_password && !sem.update_passwords;
    let address = match (&data.address, address, known.customer) {
        (None, _, _) | (Some(_), AddressFact::Has, _) => false,
        (Some(_), AddressFact::Lacks, _) => true,
        // A planned customer has only what the run would give it.
        (Some(_), AddressFact::Unknown, CustomerRef::Planned(_)) => true,
        (Some(_), AddressFact::Unknown, CustomerRef::Store(customer)) => {
            return Decision::ReadAddresses {
                customer,
                password_not_applied,
            }
        }
    };
    let customer = known.customer;
    let action = if fields.is_empty() && !password && !address {
        Action::Unchanged { customer, resumed }
    } else {
        Action::Update {
            customer,
            fields,
            password,
            address,
            resumed,
        }
    };
    Decision::Act {
        action,
        password_not_applied,
    }
}

/// The fields the row changes. A group planned by this dry run has no id to compare: the
/// group changes unless an earlier row already planned this customer into that group; and a
/// customer planned into a new group changes when a row names a group id.
fn changed_fields(intent: &Intent, known: &Known) -> Vec<Field> {
    let group = Field::CustomerGroupId;
    let mut fields = intent.data.changes(&known.fields);
    let row_planned = match intent.group {
        Some(GroupRef::Planned(name)) => Some(name.as_str()),
        _ => None,
    };
    if row_planned.is_none() && known.planned_group.is_none() {
        return fields;
    }
    fields.retain(|f| *f != group);
    let changes_group = match (row_planned, known.planned_group.as_deref()) {
        (Some(new), Some(old)) => !same_group_name(new, old),
        (Some(_), None) => true,
        (None, Some(_)) => intent.data.get(group).is_some(),
        (None, None) => false,
    };
    if changes_group {
        fields.push(group);
        fields.sort_by_key(|f| f.index());
    }
    fields
}

/// Group names match case-insensitively, ignoring surrounding spaces (as the store's book).
pub fn same_group_name(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// A row the mode forbids (create of an existing customer, update of a missing one, an id
/// that matches nobody): `failed` in a real run ("create fails a row whose customer exists").
/// A dry run classifies rows only as would_create, would_update, unchanged or invalid, so
/// there it is `invalid`, with the real run's message word for word and what the real run
/// will report, so that the dry run still predicts the real run's results file.
fn conflict(sem: &RowSemantics, id: Option<u64>, message: String) -> RowOutcome {
    if sem.dry_run {
        RowOutcome::new(
            RowResult::Invalid,
            id,
            format!("{message}; the real run reports this row as failed"),
        )
    } else {
        RowOutcome::failed(id, message)
    }
}

impl Action {
    /// What a dry run reports for this plan.
    pub fn preview(&self) -> RowOutcome {
        match self {
            Action::Create { address } => RowOutcome::new(
                RowResult::WouldCreate,
                None,
                if *address { "with an address" } else { "" },
            ),
            Action::Update { customer, .. } => RowOutcome::new(
                RowResult::WouldUpdate,
                customer.store_id(),
                self.changes_message(),
            ),
            Action::Unchanged { customer, .. } => {
                RowOutcome::new(RowResult::Unchanged, customer.store_id(), "")
            }
            Action::Refuse(out) => out.clone(),
        }
    }

    /// What a real run reports once the action is done, `id` being the customer's.
    pub fn done(&self, id: u64) -> RowOutcome {
        let (result, message, resumed) = match self {
            Action::Create { address } => (
                RowResult::Created,
                if *address { "with an address" } else { "" }.to_string(),
                false,
            ),
            Action::Update { resumed, .. } => {
                (RowResult::Updated, self.changes_message(), *resumed)
            }
            Action::Unchanged { resumed, .. } => (RowResult::Unchanged, String::new(), *resumed),
            Action::Refuse(out) => return out.clone(),
        };
        if resumed {
            return RowOutcome::new(
                RowResult::Created,
                Some(id),
                "created by the interrupted run (confirmed on resume)",
            );
        }
        RowOutcome::new(result, Some(id), message)
    }

    /// `changes: first_name, password, new address`.
    fn changes_message(&self) -> String {
        let Action::Update {
            fields,
            password,
            address,
            ..
        } = self
        else {
            return String::new();
        };
        let mut what: Vec<&str> = fields.iter().map(|f| f.api_name()).collect();
        if *password {
            what.push("password");
        }
        if *address {
            what.push("new address");
        }
        format!("changes: {}", what.join(", "))
    }
}

/// What the run knows of a customer once this row's plan is applied to it (a dry run keeps
/// going from there: later rows compare with what this row would have made of it).
pub fn after(known: &Known, intent: &Intent) -> Known {
    let (data, planned_group) = comparable(intent, known.planned_group.clone());
    Known {
        customer: known.customer,
        fields: known.fields.apply(&data),
        planned_group,
    }
}

/// What the run knows of a customer this row creates (or, in a dry run, would create).
pub fn created(customer: CustomerRef, intent: &Intent, sem: &RowSemantics) -> Known {
    let (data, planned_group) = comparable(intent, None);
    Known {
        customer,
        fields: Snapshot::created(
            customer.store_id().unwrap_or(0),
            &data,
            sem.force_password_reset,
        ),
        planned_group,
    }
}

/// The row's values as compared, and the planned group the customer ends up in.
fn comparable(intent: &Intent, before: Option<String>) -> (RowData, Option<String>) {
    let mut data = intent.data.clone();
    data.password = None;
    data.password_confirmation = None;
    match intent.group {
        Some(GroupRef::Planned(name)) => {
            data.values[Field::CustomerGroupId.index()] = None;
            (data, Some(name.clone()))
        }
        _ if data.get(Field::CustomerGroupId).is_some() => (data, None),
        _ => (data, before),
    }
}

/// How a row's `customer_group_id` / `customer_group` resolves against the store's groups
/// and the groups this dry run would create.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupStep {
    /// Nothing to resolve (no group cells, or a valid `customer_group_id`).
    Keep,
    Use(GroupRef),
    /// Create this group (a dry run plans it instead), then use it.
    Create(String),
    /// The row is invalid.
    Refuse(String),
}

/// Resolve the row's group. `planned` lists the groups this dry run would create.
pub fn group_step(
    data: &RowData,
    has_groups: bool,
    book: &GroupBook,
    planned: &[String],
    sem: &RowSemantics,
) -> GroupStep {
    if !has_groups {
        return GroupStep::Keep;
    }
    if let Some(id) = data
        .get(Field::CustomerGroupId)
        .and_then(|v| v.parse::<u64>().ok())
    {
        // `customer_group_id` wins over `customer_group` when both are filled.
        if id != 0 && !book.available {
            return GroupStep::Refuse(format!(
                "customer_group_id {id}: this store's plan has no customer groups"
            ));
        }
        if id != 0 && !book.has_id(id) {
            return GroupStep::Refuse(format!("customer_group_id {id} is not a customer group of this store (see `bc-customers groups list`)"));
        }
        return GroupStep::Keep;
    }
    let Some(name) = &data.group_name else {
        return GroupStep::Keep;
    };
    if !book.available {
        return GroupStep::Refuse(format!(
            "customer_group {name:?}: this store's plan has no customer groups"
        ));
    }
    if let Some(id) = book.id_of(name) {
        return GroupStep::Use(GroupRef::Id(id));
    }
    if let Some(p) = planned.iter().find(|p| same_group_name(p, name)) {
        return GroupStep::Use(GroupRef::Planned(p.clone()));
    }
    if !sem.create_missing_groups {
        return GroupStep::Refuse(format!(
            "customer_group {name:?} does not exist in the store: create it (bc-customers groups create {name:?}) or pass --create-missing-groups"
        ));
    }
    GroupStep::Create(name.trim().to_string())
}

/// A customer is never refused because of its address: the row did what it asks of the
/// customer, and its result is `invalid` (with the customer's id) because its address was
/// not added. `invalid` makes the run exit 3 and is what `--only-failed` picks up, so fixing
/// the address cells in the results file and re-running adds the address to the customer.
pub fn address_not_added(out: RowOutcome, problem: &str) -> RowOutcome {
    let fix = "fix the address cells and run again with --only-failed to add it";
    let detail = |m: &str| {
        if m.is_empty() {
            String::new()
        } else {
            format!(" ({m})")
        }
    };
    let message = match out.result {
        RowResult::Created => format!(
            "customer created{}; address not added: {problem}; {fix}",
            detail(&out.message)
        ),
        RowResult::Updated => format!(
            "customer updated{}; address not added: {problem}; {fix}",
            detail(&out.message)
        ),
        RowResult::Unchanged => format!("customer unchanged; address not added: {problem}; {fix}"),
        RowResult::WouldCreate => {
            format!("the customer would be created; its address would not be added: {problem}")
        }
        RowResult::WouldUpdate => format!(
            "the customer would be updated{}; its address would not be added: {problem}",
            detail(&out.message)
        ),
        // The row has a problem of its own; the address is mentioned after it.
        _ => {
            return RowOutcome {
                message: format!(
                    "{}; the address is not valid either: {problem}",
                    out.message
                ),
                ..out
            }
        }
    };
    RowOutcome::new(RowResult::Invalid, out.customer_id, message)
}

#[cfg(test)]
mod tests;
