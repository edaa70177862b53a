//! `POST`/`PUT /v3/customers`: batches of ≤ 10 checked whole before anything is written, with
//! the documented 422 bodies (reference/bigcommerce-v3.md §5, §6, §14).

use std::collections::HashSet;

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use super::super::handlers::{self, Reply};
use super::super::server::{now_secs, Shared};
use super::super::store::{CustomerPatch, Store};
use super::addresses::{address_row, check_address, create_address_deduped, AddressRow};
use super::body::{
    array, batch, boolean, form_fields, integer, object, required, text, upsert_fields,
};
use super::query::Includes;
use super::render::{customer_json, Page};
use super::{
    one_error, Handled, Op, Schema, V3BatchCommit, V3ReadOnly, V3StoreCredit, MAX_BATCH,
    MAX_NESTED_ADDRESSES,
};

/// A well-formed customer of a V3 write.
pub(super) struct CustomerRow {
    pub(super) id: Option<u64>,
    pub(super) patch: CustomerPatch,
    pub(super) accepts: Option<bool>,
    /// Summed `store_credit_amounts`, in ten-thousandths.
    pub(super) store_credit: Option<i64>,
    /// `Some(None)` = `channel_ids: null` (global).
    pub(super) channel_ids: Option<Option<Vec<u64>>>,
    pub(super) origin_channel_id: Option<u64>,
    pub(super) form_fields: Option<Vec<(String, Value)>>,
    pub(super) addresses: Vec<AddressRow>,
    pub(super) has_attributes: bool,
    /// The first read-only field the row carried, if any.
    pub(super) read_only: Option<&'static str>,
}

pub(super) const NESTED_ADDRESS_REQUIRED: &[&str] = &[
    "first_name",
    "last_name",
    "address1",
    "city",
    "country_code",
];

pub(super) fn customer_row(obj: &Map<String, Value>, op: Op) -> Result<CustomerRow, Schema> {
    let creating = op == Op::Create;
    // §5: POST email ≤250; PUT keeps 255.
    let email_max = if creating { 250 } else { 255 };
    let email = text(obj, "", "email", 3, email_max)?;
    let first_name = text(obj, "", "first_name", 1, 100)?;
    let last_name = text(obj, "", "last_name", 1, 100)?;
    let id = integer(obj, "", "id")?;
    if creating {
        required(email.as_ref(), "", "email")?;
        required(first_name.as_ref(), "", "first_name")?;
        required(last_name.as_ref(), "", "last_name")?;
    } else {
        // JH: `{"id":"error.path.missing"}`, no index (§6).
        required(id, "", "id")?;
    }
    let mut patch = CustomerPatch {
        first_name,
        last_name,
        email,
        company: text(obj, "", "company", 0, 255)?,
        phone: text(obj, "", "phone", 0, 50)?,
        notes: text(obj, "", "notes", 0, 65_535)?,
        tax_exempt_category: text(obj, "", "tax_exempt_category", 0, 255)?,
        customer_group_id: integer(obj, "", "customer_group_id")?,
        // Read-only on PUT and absent from the POST schema (§5, §6): ignored.
        registration_ip_address: None,
        ..CustomerPatch::default()
    };
    if let Some(auth) = obj.get("authentication").filter(|v| !v.is_null()) {
        let auth = object(auth, "authentication")?;
        patch.reset_pass_on_login = boolean(auth, "authentication", "force_password_reset")?;
        patch.password = text(auth, "authentication", "new_password", 0, 100)?;
    }
    let store_credit = match array(obj, "", "store_credit_amounts")? {
        None => None,
        Some(items) => {
            let mut sum = 0i64;
            for item in items {
                let item = object(item, "store_credit_amounts")?;
                let credit = item
                    .get("amount")
                    .filter(|v| v.is_number())
                    .and_then(|v| handlers::parse_credit(v).ok())
                    .ok_or_else(|| {
                        Schema::new("store_credit_amounts.amount", "error.expected.jsnumber")
                    })?;
                sum += credit;
            }
            Some(sum)
        }
    };
    let channel_ids = match obj.get("channel_ids") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Array(items)) => Some(Some(
            items
                .iter()
                .map(|v| {
                    v.as_u64()
                        .ok_or_else(|| Schema::new("channel_ids", "error.expected.jsnumber"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Some(_) => return Err(Schema::new("channel_ids", "error.expected.jsarray")),
    };
    let mut addresses = Vec::new();
    if creating {
        for item in array(obj, "", "addresses")?.into_iter().flatten() {
            let address = object(item, "addresses")?;
            addresses.push(address_row(address, "addresses", NESTED_ADDRESS_REQUIRED)?);
        }
    }
    // Checked for type, no effect: the sandbox sends no email (§5).
    boolean(obj, "", "trigger_account_created_notification")?;
    Ok(CustomerRow {
        id,
        patch,
        accepts: boolean(obj, "", "accepts_product_review_abandoned_cart_emails")?,
        store_credit,
        channel_ids,
        // Settable on POST only; on PUT it is immutable and ignored (§6, docs PR #315).
        origin_channel_id: if creating {
            integer(obj, "", "origin_channel_id")?
        } else {
            None
        },
        form_fields: form_fields(obj, "")?,
        addresses,
        has_attributes: array(obj, "", "attributes")?.is_some_and(|a| !a.is_empty()),
        read_only: read_only_sent(obj, op),
    })
}

/// The read-only fields of a customer write: SPEC3's list for PUT; for POST, those Zynk's
/// docs name (§5).
pub(super) fn read_only_sent(obj: &Map<String, Value>, op: Op) -> Option<&'static str> {
    let fields: &[&'static str] = match op {
        Op::Create => &[
            "id",
            "date_created",
            "date_modified",
            "registration_ip_address",
            "address_count",
            "attribute_count",
        ],
        Op::Update => &[
            "registration_ip_address",
            "date_created",
            "date_modified",
            "origin_channel_id",
            "address_count",
            "attribute_count",
        ],
    };
    fields.iter().copied().find(|f| obj.contains_key(*f))
}

/// Why a well-formed row cannot be written: the reply naming it.
pub(super) fn check_customer_row(
    store: &Store,
    index: usize,
    row: &mut CustomerRow,
    op: Op,
    claimed: &HashSet<String>,
    read_only_mode: V3ReadOnly,
) -> Result<(), Reply> {
    let title = match op {
        Op::Create => "Create customers failed.",
        Op::Update => "Update customers failed.",
    };
    let named = |field: &str, message: &str| one_error(title, &format!("{index}.{field}"), message);
    if let Some(id) = row.id.filter(|_| op == Op::Update) {
        if store.customer(id).is_none() {
            // JH: `{"0.id": "invalid customer ID"}` (§6).
            return Err(named("id", "invalid customer ID"));
        }
    }
    if let Some(email) = &row.patch.email {
        if !handlers::valid_email(email) {
            return Err(named("email", "email is not a valid email address"));
        }
        let owner = store.customer_by_email(email);
        let taken = owner.is_some_and(|owner| Some(owner) != row.id.filter(|_| op == Op::Update))
            || claimed.contains(&email.to_lowercase());
        if taken {
            // The documented bodies name the email only, no index (§14).
            let (key, verb) = match op {
                Op::Create => (".customer_create", "creating"),
                Op::Update => (".customer_update", "updating"),
            };
            return Err(one_error(
                title,
                key,
                &format!("Error {verb} customers: email {email} already in use"),
            ));
        }
    }
    if let Some(p) = &row.patch.password {
        if !handlers::acceptable_password(p) {
            return Err(named(
                "authentication.new_password",
                "Password must be at least 7 characters and contain letters and numbers",
            ));
        }
    }
    if let Some(group) = row.patch.customer_group_id {
        if group != 0 && store.group(group).is_none() {
            return Err(named("customer_group_id", "invalid customer group ID"));
        }
    }
    if let Some(Some(channels)) = &row.channel_ids {
        if channels.is_empty() {
            // §12: "This array cannot be empty"; null means global.
            return Err(named("channel_ids", "channel_ids cannot be empty"));
        }
    }
    if let (Some(field), V3ReadOnly::Rejected) = (row.read_only, read_only_mode) {
        return Err(named(field, "field is read-only"));
    }
    if row.has_attributes {
        // The sandbox defines no attributes, and they must exist before use (§9).
        return Err(named("attributes.attribute_id", "invalid attribute ID"));
    }
    if row.addresses.len() > MAX_NESTED_ADDRESSES {
        return Err(named(
            "addresses",
            "a customer can be created with at most 10 addresses",
        ));
    }
    for (j, address) in row.addresses.iter_mut().enumerate() {
        if let Err((field, message)) = check_address(address) {
            return Err(named(&format!("addresses.{j}.{field}"), &message));
        }
    }
    Ok(())
}

/// Apply one checked row; its id.
pub(super) fn apply_customer_row(
    store: &mut Store,
    row: CustomerRow,
    op: Op,
    mode: V3StoreCredit,
    now: i64,
) -> u64 {
    let CustomerRow {
        id,
        mut patch,
        accepts,
        store_credit,
        channel_ids,
        origin_channel_id,
        form_fields,
        addresses,
        has_attributes: _,
        read_only: _,
    } = row;
    let id = match (op, id) {
        (Op::Update, Some(id)) => {
            if let Some(add) = store_credit {
                let old = store.customer(id).map_or(0, |c| c.store_credit);
                patch.store_credit = Some(match mode {
                    V3StoreCredit::Set => add,
                    V3StoreCredit::Add => old + add,
                });
            }
            // Checked just before, under the same lock.
            let _ = store.update_customer(id, patch, now);
            id
        }
        _ => {
            patch.store_credit = store_credit;
            store
                .create_customer(patch, now)
                .expect("checked under the same lock")
        }
    };
    // Seeded form fields are derived, so the current values are read out before the upsert.
    let mut fields = form_fields.map(|new| {
        let mut list = store
            .customer(id)
            .map(|c| store.form_fields_of(c))
            .unwrap_or_default();
        upsert_fields(&mut list, new);
        list
    });
    if let Some(c) = store.customer_mut(id) {
        if let Some(accepts) = accepts {
            c.accepts_marketing = accepts;
        }
        if let Some(list) = fields.take() {
            c.form_fields = super::super::store::FormFields::Listed(list);
        }
    }
    if channel_ids.is_some() || origin_channel_id.is_some() {
        let extras = store.v3_customers.entry(id).or_default();
        if let Some(channels) = channel_ids {
            extras.channel_ids = channels;
        }
        if let Some(origin) = origin_channel_id {
            extras.origin_channel_id = Some(origin);
        }
    }
    for address in &addresses {
        // §19.10: whether nested addresses de-duplicate is unverified; they do here, as
        // address POSTs do.
        create_address_deduped(store, id, address);
    }
    id
}

// ---- POST/PUT /v3/customers ----

pub(super) fn write_customers(shared: &Shared, body: &[u8], op: Op) -> Handled {
    let items = batch(body, MAX_BATCH)?;
    // Schema first, for the whole request: nothing is looked at until every row parses.
    let mut rows = items
        .iter()
        .map(|obj| customer_row(obj, op))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Schema::reply)?;
    let mode = shared.cfg.v3.batch_commit;
    let read_only_mode = shared.cfg.v3.read_only_fields;
    let mut store = shared.write_store();
    let mut claimed = HashSet::new();
    let mut valid = Vec::new();
    let mut first_error = None;
    for (index, row) in rows.iter_mut().enumerate() {
        match check_customer_row(&store, index, row, op, &claimed, read_only_mode) {
            Ok(()) => {
                if let Some(email) = &row.patch.email {
                    claimed.insert(email.to_lowercase());
                }
                valid.push(index);
            }
            Err(reply) => {
                // Only the first bad row is named (§14), even when later ones are bad too.
                first_error.get_or_insert(reply);
                if mode != V3BatchCommit::AllValid {
                    break;
                }
            }
        }
    }
    if first_error.is_some() && mode == V3BatchCommit::Nothing {
        valid.clear();
    }
    let now = now_secs();
    let credit_mode = shared.cfg.v3.store_credit_on_put;
    let mut written = Vec::new();
    let mut rows: Vec<Option<CustomerRow>> = rows.into_iter().map(Some).collect();
    for index in valid {
        let row = rows[index].take().expect("each row once");
        written.push(apply_customer_row(&mut store, row, op, credit_mode, now));
    }
    let committed = !written.is_empty();
    if let Some(reply) = first_error {
        return Err(reply.committed(committed));
    }
    let data: Vec<_> = written
        .iter()
        .filter_map(|id| store.customer(*id))
        .map(|c| customer_json(&store, c, Includes::of_writes(), None))
        .collect();
    Ok(Reply::json(
        StatusCode::OK,
        &Page {
            data,
            meta: json!({}),
        },
    )
    .committed(committed))
}
