//! The V2 address routes of one customer: list, count, create, update, delete.

use hyper::{Method, StatusCode};
use serde_json::{Map, Value};

use super::super::server::Shared;
use super::super::store::{AddressPatch, AddressType};
use super::fields::{
    check_required, invalid, json_object, method_not_allowed, not_found, read_only, text_field,
};
use super::query::Query;
use super::{count_reply, page_reply, Handled, Reply, Route};

pub(super) fn dispatch(
    shared: &Shared,
    method: &Method,
    route: Route,
    query: &Query,
    body: &[u8],
) -> Handled {
    match (method, route) {
        (&Method::GET, Route::Addresses(id)) => list_addresses(shared, id, query),
        (&Method::POST, Route::Addresses(id)) => create_address(shared, id, body),
        (&Method::DELETE, Route::Addresses(id)) => {
            let mut store = shared.write_store();
            if store.customer(id).is_none() {
                Err(not_found())
            } else {
                let deleted = store.delete_addresses_of(id);
                Ok(Reply::no_content().committed(deleted))
            }
        }
        (&Method::GET, Route::AddressesCount(id)) => {
            let store = shared.read_store();
            match store.customer(id) {
                Some(_) => Ok(count_reply(store.addresses_of(id).len())),
                None => Err(not_found()),
            }
        }
        (&Method::GET, Route::Address(id, aid)) => {
            let store = shared.read_store();
            match store.address(id, aid) {
                Some(a) => Ok(Reply::json(StatusCode::OK, a)),
                None => Err(not_found()),
            }
        }
        (&Method::PUT, Route::Address(id, aid)) => update_address(shared, id, aid, body),
        (&Method::DELETE, Route::Address(id, aid)) => {
            if shared.write_store().delete_address(id, aid) {
                Ok(Reply::no_content().committed(true))
            } else {
                Err(not_found())
            }
        }
        _ => Err(method_not_allowed()),
    }
}

const ADDRESS_REQUIRED: &[&str] = &[
    "first_name",
    "last_name",
    "phone",
    "street_1",
    "city",
    "state",
    "zip",
    "country",
];

fn list_addresses(shared: &Shared, id: u64, q: &Query) -> Handled {
    let (page, limit) = q.paging()?;
    let store = shared.read_store();
    if store.customer(id).is_none() {
        return Err(not_found());
    }
    let page: Vec<_> = store
        .addresses_of(id)
        .iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .collect();
    Ok(page_reply(&page))
}

fn create_address(shared: &Shared, id: u64, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let patch = address_patch(&fields, id, true)?;
    let mut store = shared.write_store();
    if store.customer(id).is_none() {
        return Err(not_found());
    }
    let address_id = store.create_address(id, patch);
    let address = store
        .address(id, address_id)
        .expect("the address just created");
    Ok(Reply::json(StatusCode::OK, address).committed(true))
}

fn update_address(shared: &Shared, id: u64, address_id: u64, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let patch = address_patch(&fields, id, false)?;
    let mut store = shared.write_store();
    if !store.update_address(id, address_id, patch) {
        return Err(not_found());
    }
    let address = store
        .address(id, address_id)
        .expect("the address just updated");
    Ok(Reply::json(StatusCode::OK, address).committed(true))
}

fn address_patch(
    fields: &Map<String, Value>,
    customer_id: u64,
    creating: bool,
) -> Result<AddressPatch, Reply> {
    const WRITABLE: &[&str] = &[
        "first_name",
        "last_name",
        "company",
        "street_1",
        "street_2",
        "city",
        "state",
        "zip",
        "country",
        "phone",
        "address_type",
        "customer_id",
    ];
    for key in fields.keys() {
        if matches!(key.as_str(), "id" | "country_iso2" | "form_fields") {
            return Err(read_only(key));
        }
        if !WRITABLE.contains(&key.as_str()) {
            return Err(invalid(key));
        }
    }
    // The customer is the one in the path; a body naming another one is a mistake.
    if let Some(v) = fields.get("customer_id") {
        if v.as_u64() != Some(customer_id) {
            return Err(invalid("customer_id"));
        }
    }
    // "state … cannot be null; for countries without states pass a space": only it may be blank.
    let blank = |key: &str| match fields.get(key) {
        Some(Value::String(s)) if key == "state" => s.is_empty(),
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Number(_)) => false,
        Some(_) | None => true,
    };
    check_required(fields, ADDRESS_REQUIRED, creating, blank)?;
    Ok(AddressPatch {
        first_name: text_field(fields, "first_name", 255, false)?,
        last_name: text_field(fields, "last_name", 255, false)?,
        company: text_field(fields, "company", 255, false)?,
        street_1: text_field(fields, "street_1", 255, false)?,
        street_2: text_field(fields, "street_2", 255, false)?,
        city: text_field(fields, "city", 100, false)?,
        state: text_field(fields, "state", 100, false)?,
        zip: text_field(fields, "zip", 30, true)?,
        country: text_field(fields, "country", 100, false)?,
        phone: text_field(fields, "phone", 50, true)?,
        address_type: match fields.get("address_type") {
            None => None,
            Some(Value::String(t)) if t == "residential" => Some(AddressType::Residential),
            Some(Value::String(t)) if t == "commercial" => Some(AddressType::Commercial),
            Some(_) => return Err(invalid("address_type")),
        },
    })
}
