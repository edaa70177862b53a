//! Carrying out one import row: the only code of the import that talks to the store for a
//! row. It gathers what the planner needs (the row's customer, its addresses, the row's
//! group), asks [`plan::decide`], and either does what it says or, in a dry run, only
//! reports it (a dry run is the plan with nothing executed).
//!
//! **The store seam.** Every store write of a row goes through [`StoreCalls`] (calls.rs), one
//! call per item and nothing else: `create_customer` (→ the new id), `update_customer`,
//! `add_address`, `create_group`; and the reads `find_customer` and `has_address`. A row
//! awaits each call's own answer, and nothing here depends on how the calls reach the store:
//! under `--api v3` the calls of all rows in flight are gathered into batches of up to 10
//! (bigcommerce-v3.md §20), which is why the pipeline's window of rows in flight is larger
//! than the request concurrency there. Journal marks (`RowRun::before_write`) are taken
//! before each call; under V3 the batch's own hook marks every create of a request just
//! before it is sent (lib: `import::batch_hook`), so a batch killed mid-flight is in doubt
//! on resume, row by row.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::api::store::WriteError;
use crate::api::ApiError;
use crate::cmd::{fatal_if_auth, GroupBook};
use crate::lookup::{CustomerIndex, Found};
use crate::mapping::columns::{Field, Layout};
use crate::mapping::row::{AddressData, RowData, Snapshot};
use crate::pipeline::{self, Row, Turn};
use crate::results::{RowOutcome, RowResult};
use crate::rows::{Mark, RowRun};

pub use super::calls::StoreCalls;
use super::plan::{
    self, Action, AddressFact, CustomerRef, Decision, GroupRef, GroupStep, Intent, Interrupted,
    Known, RowSemantics,
};

/// What this run knows of a customer's addresses, as [`AddressData::fingerprint`]s: all of
/// them for a customer it created (`complete`: a later row for it needs no address read), or
/// the ones a dry run would have added (which the store cannot show yet).
#[derive(Default)]
struct KnownAddresses {
    complete: bool,
    prints: Vec<u64>,
}

/// What the run knows of the store, with what its earlier rows did (or, in a dry run, would
/// have done) to it.
struct View {
    index: CustomerIndex,
    /// Customers earlier rows of this dry run would create, by lowercased email.
    planned: HashMap<String, Known>,
    /// Store customers an earlier row of this dry run would move into a group it would create.
    planned_groups: HashMap<u64, String>,
    addresses: HashMap<CustomerRef, KnownAddresses>,
}

impl View {
    fn known(&self, snap: Snapshot) -> Known {
        let planned_group = self.planned_groups.get(&snap.id).cloned();
        Known {
            planned_group,
            ..Known::of_store(snap)
        }
    }

    /// Look the row's customer up locally; `None` means "ask the store".
    fn find(&self, data: &RowData) -> Option<Option<Known>> {
        if data.id.is_none() {
            if let Some(k) = data
                .email()
                .and_then(|e| self.planned.get(&e.to_lowercase()))
            {
                return Some(Some(k.clone()));
            }
        }
        match self.index.get(data.id, data.email())? {
            Found::Yes(s) => Some(Some(self.known(s))),
            Found::No => Some(None),
        }
    }

    fn address_fact(&self, customer: CustomerRef, addr: &AddressData) -> AddressFact {
        match self.addresses.get(&customer) {
            Some(k) if k.prints.contains(&addr.fingerprint()) => AddressFact::Has,
            Some(k) if k.complete => AddressFact::Lacks,
            _ => AddressFact::Unknown,
        }
    }

    /// Remember an address this run added (or would add) to a customer. For a customer the
    /// run did not create, only dry runs need this (a real run's next read shows it).
    fn added_address(&mut self, customer: CustomerRef, addr: &AddressData, dry_run: bool) {
        match self.addresses.get_mut(&customer) {
            Some(k) => k.prints.push(addr.fingerprint()),
            None if dry_run => {
                let known = KnownAddresses {
                    complete: false,
                    prints: vec![addr.fingerprint()],
                };
                self.addresses.insert(customer, known);
            }
            None => {}
        }
    }

    /// A customer this run created (or would create): it has exactly the row's address, if any.
    fn know_created(&mut self, customer: CustomerRef, addr: Option<&AddressData>) {
        let known = KnownAddresses {
            complete: true,
            prints: addr.map(AddressData::fingerprint).into_iter().collect(),
        };
        self.addresses.insert(customer, known);
    }
}

/// Everything a row of this run needs, shared by the rows in flight.
pub struct Importer {
    run: Arc<RowRun>,
    calls: StoreCalls,
    layout: Layout,
    sem: RowSemantics,
    view: Mutex<View>,
    /// Async: creating a missing group awaits while holding it, so two rows never create one
    /// group twice.
    groups: tokio::sync::Mutex<GroupBook>,
    /// Groups this run created (or, in a dry run, would create), for the summary.
    groups_created: Mutex<Vec<String>>,
    password_not_applied: AtomicBool,
}

impl Importer {
    pub fn new(
        run: Arc<RowRun>,
        calls: StoreCalls,
        layout: Layout,
        sem: RowSemantics,
        index: CustomerIndex,
        groups: GroupBook,
    ) -> Importer {
        Importer {
            run,
            calls,
            layout,
            sem,
            view: Mutex::new(View {
                index,
                planned: HashMap::new(),
                planned_groups: HashMap::new(),
                addresses: HashMap::new(),
            }),
            groups: tokio::sync::Mutex::new(groups),
            groups_created: Mutex::new(Vec::new()),
            password_not_applied: AtomicBool::new(false),
        }
    }

    /// True when a row's password was not applied to an existing customer.
    pub fn password_not_applied(&self) -> bool {
        self.password_not_applied.load(Ordering::Relaxed)
    }

    /// The groups this run created (or would create).
    pub fn groups_created(&self) -> Vec<String> {
        self.groups_created.lock().unwrap().clone()
    }

    /// One row, already validated into `data`: resolve its group, find its customer, plan,
    /// and carry the plan out (or, in a dry run, report it).
    pub async fn row(
        &self,
        row: &Row,
        turn: &Turn,
        mut data: RowData,
    ) -> anyhow::Result<RowOutcome> {
        if let Some(out) = plan::identity_problem(&data) {
            return Ok(out);
        }
        let group = match self.resolve_group(row, &mut data).await? {
            Ok(g) => g,
            Err(m) => return Ok(RowOutcome::invalid(m)),
        };
        let existing = match self.find(&data).await {
            Ok(Some(k)) => Some(self.after_earlier_rows(turn, &data, k).await),
            Ok(None) => None,
            Err(e) => return self.run.row_failure(e, data.id, "looking the customer up"),
        };
        let interrupted_create = match self.interrupted(row, existing.as_ref()).await {
            Ok(i) => i,
            Err(failed) => return failed,
        };
        let intent = Intent {
            data: &data,
            group: group.as_ref(),
            interrupted_create,
        };
        let action = match self.decide(&intent, existing.as_ref()).await {
            Ok(action) => self.with_extras(action, &data, existing.as_ref()),
            Err(failed) => return failed,
        };
        if self.sem.dry_run {
            self.preview(row, &intent, existing.as_ref(), &action);
            return Ok(action.preview());
        }
        let mut out = self.apply(row, &intent, existing.as_ref(), &action).await?;
        if matches!(out.result, RowResult::Updated | RowResult::Unchanged) {
            if let Some(note) = plan::not_ours_note(&intent) {
                out.message = plan::with_note(&out.message, &note);
            }
        }
        Ok(out)
    }

    /// A row whose create the interrupted run sent without seeing the answer, now that a
    /// customer was found for it: the clock the journal recorded with the mark, and that
    /// customer's names and `date_created` read from the store (the planner compares them:
    /// someone else's customer holding the email is not the interrupted create). `Err`
    /// carries the row's outcome when that read failed.
    async fn interrupted(
        &self,
        row: &Row,
        existing: Option<&Known>,
    ) -> Result<Option<Interrupted>, anyhow::Result<RowOutcome>> {
        let (Some(clock), Some(CustomerRef::Store(id))) = (
            self.run.create_in_doubt(row.no),
            existing.map(|k| k.customer),
        ) else {
            return Ok(None);
        };
        match self.calls.origin(id).await {
            Ok(found) => Ok(found.map(|found| Interrupted { clock, found })),
            Err(e) => Err(self.run.row_failure(e, Some(id), "looking the customer up")),
        }
    }

    /// Form fields and `accepts_marketing` are not among the planner's fields: where the
    /// backend writes them (V3), a row whose form field values or consent differ from what
    /// the lookup read (`include=formfields`, compared by name) is an update even when every
    /// compared field is equal.
    fn with_extras(&self, action: Action, data: &RowData, existing: Option<&Known>) -> Action {
        if !self.extras_differ(data, existing) {
            return action;
        }
        match action {
            Action::Unchanged { customer, resumed } => Action::Update {
                customer,
                fields: Vec::new(),
                password: false,
                address: false,
                resumed,
            },
            other => other,
        }
    }

    /// The backend writes form fields and the consent, and the row asks for some the
    /// customer does not have (a customer not known yet: any the row gives).
    fn extras_differ(&self, data: &RowData, existing: Option<&Known>) -> bool {
        self.calls.writes_extras()
            && crate::api::v3::encode::has_extras(data)
            && existing.is_none_or(|k| k.fields.extras.differ(data))
    }

    /// A write that failed: the row fails with the store's words, unless the run must stop
    /// (credentials refused, a signal before the batch was sent, the journal unwritable).
    fn write_failure(
        &self,
        row: &Row,
        e: WriteError,
        id: Option<u64>,
        doing: &str,
    ) -> anyhow::Result<RowOutcome> {
        match e {
            WriteError::Api(e) => self.run.row_failure(e, id, doing),
            WriteError::Refused(m) => Ok(RowOutcome::failed(id, format!("{doing}: {m}"))),
            WriteError::NotSent(m) => {
                // The batch's hook refused to send: after a signal this says so (the row is
                // abandoned, and done on resume); otherwise the journal could not be written.
                self.run.before_write(row.no, Mark::None)?;
                Err(anyhow::anyhow!("{doing}: the batch was not sent: {m}"))
            }
            WriteError::Stopped => Err(anyhow::anyhow!("{doing}: {}", WriteError::Stopped)),
        }
    }

    /// Ask the planner, reading the customer's addresses first when it needs them. `Err`
    /// carries the row's outcome when that read failed.
    async fn decide(
        &self,
        intent: &Intent<'_>,
        existing: Option<&Known>,
    ) -> Result<Action, anyhow::Result<RowOutcome>> {
        let fact = match (existing, &intent.data.address) {
            (Some(k), Some(addr)) => self.view.lock().unwrap().address_fact(k.customer, addr),
            _ => AddressFact::Unknown,
        };
        let mut decision = plan::decide(intent, existing, fact, &self.sem);
        if let Decision::ReadAddresses {
            customer,
            password_not_applied,
        } = decision
        {
            self.note_password(password_not_applied);
            let addr = intent
                .data
                .address
                .as_ref()
                .expect("asked only for a row's address");
            let fact = match self.calls.has_address(customer, addr).await {
                Ok(true) => AddressFact::Has,
                Ok(false) => AddressFact::Lacks,
                Err(e) => {
                    return Err(self.run.row_failure(
                        e,
                        Some(customer),
                        "reading the customer's addresses",
                    ))
                }
            };
            decision = plan::decide(intent, existing, fact, &self.sem);
        }
        match decision {
            Decision::Act {
                action,
                password_not_applied,
            } => {
                self.note_password(password_not_applied);
                Ok(action)
            }
            Decision::ReadAddresses { .. } => unreachable!("the address fact is known now"),
        }
    }

    fn note_password(&self, not_applied: bool) {
        if not_applied {
            self.password_not_applied.store(true, Ordering::Relaxed);
        }
    }

    /// The row's customer, from what the run knows or else from the store.
    async fn find(&self, data: &RowData) -> Result<Option<Known>, ApiError> {
        if let Some(local) = self.view.lock().unwrap().find(data) {
            return Ok(local);
        }
        let found = self.calls.find_customer(data.id, data.email()).await?;
        Ok(found.map(|s| {
            let mut view = self.view.lock().unwrap();
            let snap = view.index.remember_fetched(&s.email, s.fields);
            view.known(snap)
        }))
    }

    /// Rows about one customer are applied in file order, however they name it: this row may
    /// name customer C by email while an earlier row, still running, names it by id (their
    /// keys differ, so the pipeline could not chain them before the lookup). Now that the row
    /// knows its customer, wait for every earlier row about C; if there were any, what the
    /// row read of C is older than what they did to it, so take what the run knows now (each
    /// write of the run is remembered as it finishes).
    async fn after_earlier_rows(&self, turn: &Turn, data: &RowData, known: Known) -> Known {
        let keys: Vec<String> = match known.customer {
            CustomerRef::Store(id) => {
                let view = self.view.lock().unwrap();
                std::iter::once(pipeline::id_key(id))
                    .chain(view.index.email_of(id).map(pipeline::email_key))
                    .collect()
            }
            CustomerRef::Planned(_) => data.email().map(pipeline::email_key).into_iter().collect(),
        };
        if !turn.wait_for(&keys).await {
            return known;
        }
        let view = self.view.lock().unwrap();
        match known.customer {
            CustomerRef::Store(id) => match view.index.get(Some(id), None) {
                Some(Found::Yes(now)) => view.known(now),
                _ => known,
            },
            CustomerRef::Planned(_) => data
                .email()
                .and_then(|e| view.planned.get(&e.to_lowercase()).cloned())
                .unwrap_or(known),
        }
    }

    /// Resolve `customer_group` names and check group ids, against the one listing of this
    /// run; a missing group is created (or, in a dry run, planned) when asked. The outer error
    /// is fatal; the inner one makes the row invalid.
    async fn resolve_group(
        &self,
        row: &Row,
        data: &mut RowData,
    ) -> anyhow::Result<Result<Option<GroupRef>, String>> {
        let mut book = self.groups.lock().await;
        let step = {
            let planned = self.groups_created.lock().unwrap();
            let planned: &[String] = if self.sem.dry_run { &planned } else { &[] };
            plan::group_step(data, self.layout.has_groups(), &book, planned, &self.sem)
        };
        let group = match step {
            GroupStep::Keep => return Ok(Ok(None)),
            GroupStep::Refuse(m) => return Ok(Err(m)),
            GroupStep::Use(g) => g,
            GroupStep::Create(name) if self.sem.dry_run => {
                // Nothing is created in a dry run; the row would get the new group.
                self.groups_created.lock().unwrap().push(name.clone());
                GroupRef::Planned(name)
            }
            GroupStep::Create(name) => {
                // The book stays locked while the group is created, so rows naming the same
                // new group (even at the same moment) create it once and the others find it.
                self.run.before_write(row.no, Mark::None)?;
                match self.calls.create_group(&name).await {
                    Ok(g) => {
                        book.add(&g);
                        self.groups_created.lock().unwrap().push(g.name.clone());
                        GroupRef::Id(g.id)
                    }
                    Err(e) if e.is_fatal() => return Err(fatal_if_auth(e)),
                    Err(e) => {
                        return Ok(Err(format!(
                            "customer_group {name:?} could not be created: {}",
                            e.message()
                        )))
                    }
                }
            }
        };
        if let GroupRef::Id(id) = &group {
            data.values[Field::CustomerGroupId.index()] = Some(id.to_string());
        }
        Ok(Ok(Some(group)))
    }

    /// A dry run: remember what the row would have done, so later rows about the same
    /// customer compare with it.
    fn preview(&self, row: &Row, intent: &Intent, existing: Option<&Known>, action: &Action) {
        let data = intent.data;
        let mut view = self.view.lock().unwrap();
        match (action, existing) {
            (Action::Create { .. }, _) => {
                let customer = CustomerRef::Planned(row.seq);
                let email = data.email().unwrap_or_default().to_lowercase();
                view.planned
                    .insert(email, plan::created(customer, intent, &self.sem));
                view.know_created(customer, data.address.as_ref());
            }
            (Action::Update { address, .. }, Some(known)) => {
                if let (Some(addr), true) = (&data.address, address) {
                    // A later row with this address must not "add" it a second time.
                    view.added_address(known.customer, addr, true);
                }
                let now = plan::after(known, intent);
                match known.customer {
                    CustomerRef::Store(id) => {
                        let email = data
                            .email()
                            .map(str::to_string)
                            .or_else(|| view.index.email_of(id).map(str::to_string));
                        match &now.planned_group {
                            Some(g) => view.planned_groups.insert(id, g.clone()),
                            None => view.planned_groups.remove(&id),
                        };
                        if let Some(email) = email {
                            view.index.remember(&email, Snapshot { id, ..now.fields });
                        }
                    }
                    CustomerRef::Planned(_) => {
                        if let Some(email) = data.email() {
                            view.planned.insert(email.to_lowercase(), now);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A real run: do what the plan says.
    async fn apply(
        &self,
        row: &Row,
        intent: &Intent<'_>,
        existing: Option<&Known>,
        action: &Action,
    ) -> anyhow::Result<RowOutcome> {
        match action {
            Action::Refuse(out) => Ok(out.clone()),
            Action::Create { .. } => self.create(row, intent, action).await,
            Action::Unchanged { customer, .. } => Ok(action.done(store_id(*customer)?)),
            Action::Update {
                customer,
                fields,
                password,
                address,
                ..
            } => {
                let id = store_id(*customer)?;
                // The first write of a run creates its journal (no mark: an update is idempotent).
                self.run.before_write(0, Mark::None)?;
                let extras = self.extras_differ(intent.data, existing);
                if !fields.is_empty() || *password || extras {
                    match self
                        .calls
                        .update_customer(
                            row.no,
                            id,
                            intent.data,
                            fields,
                            *password,
                            existing.is_some_and(plan::credit_is_zero),
                        )
                        .await
                    {
                        Ok(Some(s)) => self.view.lock().unwrap().index.remember(&s.email, s.fields),
                        Ok(None) => self.remember_update(id, intent, existing),
                        Err(e) => {
                            return self.write_failure(row, e, Some(id), "updating the customer")
                        }
                    }
                }
                if let (Some(addr), true) = (&intent.data.address, address) {
                    if let Err(e) = self.calls.add_address(row.no, id, addr).await {
                        return self.write_failure(row, e, Some(id), "adding the address");
                    }
                    let mut view = self.view.lock().unwrap();
                    view.added_address(CustomerRef::Store(id), addr, false);
                }
                Ok(action.done(id))
            }
        }
    }

    /// An update the store confirmed without showing the customer (a V3 batch): the run
    /// knows the customer as it was with the row applied, as a dry run would.
    fn remember_update(&self, id: u64, intent: &Intent<'_>, existing: Option<&Known>) {
        let Some(known) = existing else { return };
        let now = plan::after(known, intent);
        let mut view = self.view.lock().unwrap();
        let email = intent
            .data
            .email()
            .map(str::to_string)
            .or_else(|| view.index.email_of(id).map(str::to_string));
        if let Some(email) = email {
            view.index.remember(&email, Snapshot { id, ..now.fields });
        }
    }

    async fn create(
        &self,
        row: &Row,
        intent: &Intent<'_>,
        action: &Action,
    ) -> anyhow::Result<RowOutcome> {
        let data = intent.data;
        let inline = self.calls.addresses_inline();
        // Marked before the POST is sent, so a resumed run knows the create may have happened.
        // A batch's hook marks all of its rows together just before its request instead
        // (a row waiting in a queue that a kill -9 ends was never sent).
        // The store's clock goes with the mark: on resume, a customer the store created
        // before it is not this create.
        let mark = if self.calls.batched() {
            Mark::None
        } else {
            Mark::Creating(self.calls.store_clock())
        };
        self.run.before_write(row.no, mark)?;
        let force = self.sem.force_password_reset;
        let id = match self.calls.create_customer(row.no, data, force).await {
            Ok(id) => id,
            Err(e) => return self.write_failure(row, e, None, "creating the customer"),
        };
        let customer = CustomerRef::Store(id);
        {
            let mut view = self.view.lock().unwrap();
            let email = data.email().unwrap_or_default();
            view.index
                .remember(email, plan::created(customer, intent, &self.sem).fields);
            // With the address nested in the create, the customer has exactly it now.
            view.know_created(customer, data.address.as_ref().filter(|_| inline));
        }
        if let (Some(addr), false) = (&data.address, inline) {
            if let Err(e) = self.calls.add_address(row.no, id, addr).await {
                // Whether the address exists is unknown now: later rows ask the store.
                self.view.lock().unwrap().addresses.remove(&customer);
                return self.write_failure(
                    row,
                    e,
                    Some(id),
                    "the customer was created but adding its address failed (run again to add it)",
                );
            }
            self.view
                .lock()
                .unwrap()
                .added_address(customer, addr, false);
        }
        Ok(action.done(id))
    }
}

/// A real run plans only store customers (planned ones exist only in dry runs).
fn store_id(customer: CustomerRef) -> anyhow::Result<u64> {
    customer.store_id().ok_or_else(|| {
        anyhow::anyhow!("a real run planned a write to a customer it has not created")
    })
}
