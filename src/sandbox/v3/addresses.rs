//! `/v3/customers/addresses`: address batches with the silent de-duplication of
//! reference/bigcommerce-v3.md §8, listing and deleting; also the address rows nested in creates.

use std::collections::HashSet;

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use super::super::countries;
use super::super::handlers::Reply;
use super::super::server::Shared;
use super::super::store::{Address, AddressPatch, AddressType, Store};
use super::body::{batch, form_fields, integer, path, text, upsert_fields};
use super::list::lower;
use super::query::Query;
use super::render::{address_json, pagination, Page};
use super::{invalid_filters, one_error, Handled, Op, Schema, V3BatchCommit};

/// A well-formed address of a V3 write, in the store's (V2) terms.
pub(super) struct AddressRow {
    /// `id` on PUT; `customer_id` on POST (nested addresses get theirs when created).
    pub(super) id: Option<u64>,
    pub(super) customer_id: Option<u64>,
    pub(super) patch: AddressPatch,
    /// The ISO-2 code as sent, checked against the store's country list later.
    pub(super) country_code: Option<String>,
    pub(super) form_fields: Option<Vec<(String, Value)>>,
}

/// Parse an address object. `required` lists the fields a create must carry.
pub(super) fn address_row(
    obj: &Map<String, Value>,
    prefix: &str,
    required_fields: &[&str],
) -> Result<AddressRow, Schema> {
    for key in required_fields {
        if obj.get(*key).is_none_or(Value::is_null) {
            return Err(Schema::new(path(prefix, key), "error.path.missing"));
        }
    }
    let address_type = match obj.get("address_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t == "residential" => Some(AddressType::Residential),
        Some(Value::String(t)) if t == "commercial" => Some(AddressType::Commercial),
        Some(_) => return Err(Schema::new(path(prefix, "address_type"), "error.invalid")),
    };
    Ok(AddressRow {
        id: integer(obj, prefix, "id")?,
        customer_id: integer(obj, prefix, "customer_id")?,
        country_code: text(obj, prefix, "country_code", 2, 2)?,
        patch: AddressPatch {
            first_name: text(obj, prefix, "first_name", 1, 255)?,
            last_name: text(obj, prefix, "last_name", 1, 255)?,
            company: text(obj, prefix, "company", 0, 255)?,
            street_1: text(obj, prefix, "address1", 1, 255)?,
            street_2: text(obj, prefix, "address2", 0, 255)?,
            city: text(obj, prefix, "city", 1, 100)?,
            state: text(obj, prefix, "state_or_province", 0, 100)?,
            zip: text(obj, prefix, "postal_code", 0, 30)?,
            country: None,
            phone: text(obj, prefix, "phone", 0, 50)?,
            address_type,
        },
        form_fields: form_fields(obj, prefix)?,
    })
}

/// Resolve `country_code` to the stored country name, and require a state and postal code
/// where the store needs them (the US, Canada and Australia, as the V2 routes do). `Err` is
/// the `(field, message)` to name.
pub(super) fn check_address(row: &mut AddressRow) -> Result<(), (&'static str, String)> {
    if let Some(code) = &row.country_code {
        match countries::name_of_iso2(code) {
            Some(name) => row.patch.country = Some(name.to_string()),
            None => return Err(("country_code", format!("invalid country code {code}"))),
        }
    }
    let needs_state = row
        .country_code
        .as_deref()
        .is_some_and(|c| ["US", "CA", "AU"].contains(&c.to_ascii_uppercase().as_str()));
    if needs_state {
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if blank(&row.patch.state) {
            return Err((
                "state_or_province",
                "state_or_province is required for this country".to_string(),
            ));
        }
        if blank(&row.patch.zip) {
            return Err((
                "postal_code",
                "postal_code is required for this country".to_string(),
            ));
        }
    }
    Ok(())
}

/// The 12 fields that make an address unique (§8).
pub(super) type AddressKey = [String; 11];

pub(super) fn address_key(a: &Address) -> (u64, AddressKey) {
    let t = |s: &str| s.to_string();
    let kind = match a.address_type {
        AddressType::Residential => "residential",
        AddressType::Commercial => "commercial",
    };
    (
        a.customer_id,
        [
            t(&a.first_name),
            t(&a.last_name),
            t(&a.company),
            t(&a.phone),
            t(kind),
            t(&a.street_1),
            t(&a.street_2),
            t(&a.city),
            t(a.country_iso2),
            t(&a.state),
            t(&a.zip),
        ],
    )
}

/// The key an address would have after `patch` (None = unchanged field of `base`).
pub(super) fn patched_key(
    customer_id: u64,
    base: Option<&Address>,
    row: &AddressRow,
) -> (u64, AddressKey) {
    let p = &row.patch;
    let pick = |new: &Option<String>, old: Option<&str>| {
        new.clone()
            .unwrap_or_else(|| old.unwrap_or_default().to_string())
    };
    let kind = match p
        .address_type
        .or(base.map(|a| a.address_type))
        .unwrap_or(AddressType::Residential)
    {
        AddressType::Residential => "residential",
        AddressType::Commercial => "commercial",
    };
    let iso2 = match &row.country_code {
        Some(code) => code.to_ascii_uppercase(),
        None => base.map(|a| a.country_iso2.to_string()).unwrap_or_default(),
    };
    (
        customer_id,
        [
            pick(&p.first_name, base.map(|a| &*a.first_name)),
            pick(&p.last_name, base.map(|a| &*a.last_name)),
            pick(&p.company, base.map(|a| &*a.company)),
            pick(&p.phone, base.map(|a| &*a.phone)),
            kind.to_string(),
            pick(&p.street_1, base.map(|a| &*a.street_1)),
            pick(&p.street_2, base.map(|a| &*a.street_2)),
            pick(&p.city, base.map(|a| &*a.city)),
            iso2,
            pick(&p.state, base.map(|a| &*a.state)),
            pick(&p.zip, base.map(|a| &*a.zip)),
        ],
    )
}

pub(super) fn clone_patch(p: &AddressPatch) -> AddressPatch {
    AddressPatch {
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        company: p.company.clone(),
        street_1: p.street_1.clone(),
        street_2: p.street_2.clone(),
        city: p.city.clone(),
        state: p.state.clone(),
        zip: p.zip.clone(),
        country: p.country.clone(),
        phone: p.phone.clone(),
        address_type: p.address_type,
    }
}

/// Create an address unless the customer already has an identical one (§8: then nothing
/// changes and it is absent from the answer). The new id, or `None` for a duplicate.
pub(super) fn create_address_deduped(
    store: &mut Store,
    customer_id: u64,
    row: &AddressRow,
) -> Option<u64> {
    let key = patched_key(customer_id, None, row);
    if store
        .addresses_of(customer_id)
        .iter()
        .any(|a| address_key(a) == key)
    {
        return None;
    }
    let id = store.create_address(customer_id, clone_patch(&row.patch));
    if let Some(fields) = &row.form_fields {
        store.v3_address_form_fields.insert(id, fields.clone());
    }
    Some(id)
}

// ---- /v3/customers/addresses ----

pub(super) const ADDRESS_POST_REQUIRED: &[&str] = &[
    "customer_id",
    "first_name",
    "last_name",
    "address1",
    "city",
    "country_code",
    "state_or_province",
    "postal_code",
];

pub(super) fn write_addresses(shared: &Shared, body: &[u8], op: Op) -> Handled {
    let items = batch(body, shared.cfg.v3.address_batch_limit)?;
    let required_fields: &[&str] = match op {
        Op::Create => ADDRESS_POST_REQUIRED,
        Op::Update => &["id"],
    };
    let mut rows = items
        .iter()
        .map(|obj| address_row(obj, "", required_fields))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Schema::reply)?;
    let title = match op {
        Op::Create => "Create customer addresses failed.",
        Op::Update => "Update customer addresses failed.",
    };
    let mode = shared.cfg.v3.batch_commit;
    let mut store = shared.write_store();
    let mut valid = Vec::new();
    let mut first_error = None;
    for (index, row) in rows.iter_mut().enumerate() {
        let problem = match op {
            // `customer_id` is not accepted on PUT (§8): the address's own owner counts.
            Op::Create => row
                .customer_id
                .filter(|id| store.customer(*id).is_none())
                .map(|_| ("customer_id", "invalid customer ID".to_string())),
            Op::Update => match row.id.and_then(|id| store.owner_of_address(id)) {
                None => Some(("id", "invalid address ID".to_string())),
                Some(owner) => {
                    row.customer_id = Some(owner);
                    None
                }
            },
        };
        match problem.map_or_else(|| check_address(row), Err) {
            Ok(()) => valid.push(index),
            Err((field, message)) => {
                first_error
                    .get_or_insert_with(|| one_error(title, &format!("{index}.{field}"), &message));
                if mode != V3BatchCommit::AllValid {
                    break;
                }
            }
        }
    }
    if first_error.is_some() && mode == V3BatchCommit::Nothing {
        valid.clear();
    }
    let mut written = Vec::new();
    for index in valid {
        let row = &rows[index];
        let customer_id = row.customer_id.expect("checked");
        let id = match op {
            Op::Create => create_address_deduped(&mut store, customer_id, row),
            Op::Update => update_address_deduped(&mut store, customer_id, row),
        };
        written.extend(id.map(|id| (customer_id, id)));
    }
    let committed = !written.is_empty();
    if let Some(reply) = first_error {
        return Err(reply.committed(committed));
    }
    // Duplicates are absent from `data`, with 200 (§8).
    let data: Vec<_> = written
        .iter()
        .filter_map(|(customer_id, id)| store.address(*customer_id, *id))
        .map(|a| address_json(&store, a, true))
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

/// §8: an update that would make the address identical to *another* address of the customer
/// changes nothing and is absent from the answer.
pub(super) fn update_address_deduped(
    store: &mut Store,
    customer_id: u64,
    row: &AddressRow,
) -> Option<u64> {
    let id = row.id?;
    let base = store.address(customer_id, id)?;
    let key = patched_key(customer_id, Some(base), row);
    let duplicate = store
        .addresses_of(customer_id)
        .iter()
        .any(|a| a.id != id && address_key(a) == key);
    if duplicate {
        return None;
    }
    store.update_address(customer_id, id, clone_patch(&row.patch));
    if let Some(fields) = &row.form_fields {
        let list = store.v3_address_form_fields.entry(id).or_default();
        upsert_fields(list, fields.clone());
    }
    Some(id)
}

pub(super) fn list_addresses(shared: &Shared, q: &Query) -> Handled {
    q.only(&[
        "page",
        "limit",
        "include",
        "id:in",
        "customer_id:in",
        "company:in",
        "name:in",
    ])?;
    let (page, limit) = q.paging()?;
    let ids = q.ids("id:in")?;
    let customers = q.ids("customer_id:in")?;
    let companies = lower(q.list("company:in"));
    let names = lower(q.list("name:in"));
    let formfields = match q.list("include").unwrap_or_default().as_slice() {
        [] => false,
        [one] if one == "formfields" => true,
        _ => return Err(invalid_filters(&["include"])),
    };
    let store = shared.read_store();
    let mut all: Vec<&Address> = match &customers {
        Some(list) => {
            let unique: HashSet<u64> = list.iter().copied().collect();
            unique
                .into_iter()
                .flat_map(|c| store.addresses_of(c).iter())
                .collect()
        }
        None => store.all_addresses(),
    };
    all.sort_unstable_by_key(|a| a.id);
    all.retain(|a| {
        ids.as_ref().is_none_or(|ids| ids.contains(&a.id))
            && companies
                .as_ref()
                .is_none_or(|l| l.contains(&a.company.to_lowercase()))
            && names.as_ref().is_none_or(|l| {
                l.contains(&format!("{} {}", a.first_name, a.last_name).to_lowercase())
            })
    });
    let total = all.len();
    let skip = (page - 1).saturating_mul(limit);
    let data: Vec<_> = all
        .iter()
        .skip(skip)
        .take(limit)
        .map(|a| address_json(&store, a, formfields))
        .collect();
    let meta = json!({"pagination": pagination(total, data.len(), page, limit, q)});
    Ok(Reply::json(StatusCode::OK, &Page { data, meta }))
}

pub(super) fn delete_addresses(shared: &Shared, q: &Query) -> Handled {
    q.only(&["id:in"])?;
    let ids = q.ids("id:in")?.unwrap_or_default();
    if ids.is_empty() {
        // `id:in` is a required parameter of this DELETE (§8).
        return Err(one_error(
            "A query is required to delete customer addresses.",
            "id:in",
            "error.path.missing",
        ));
    }
    let mut store = shared.write_store();
    let mut deleted = false;
    for id in ids {
        if let Some(owner) = store.owner_of_address(id) {
            deleted |= store.delete_address(owner, id);
        }
    }
    Ok(Reply::no_content().committed(deleted))
}
