//! The V2 customer routes: list, count, create, update, delete, password validation.

use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::super::server::{now_secs, Shared};
use super::super::store::{CustomerFilter, CustomerPatch};
use super::fields::{
    bool_field, check_required, invalid, json_object, method_not_allowed, missing, not_found,
    read_only, refused_by, text_field,
};
use super::query::{parse_credit, Query};
use super::{count_reply, page_reply, Handled, Reply, Route};

pub(super) fn dispatch(
    shared: &Shared,
    method: &Method,
    route: Route,
    query: &Query,
    body: &[u8],
) -> Handled {
    match (method, route) {
        (&Method::GET, Route::Customers) => list_customers(shared, query),
        (&Method::POST, Route::Customers) => create_customer(shared, body),
        (&Method::DELETE, Route::Customers) => {
            let deleted = shared.write_store().delete_all_customers();
            Ok(Reply::no_content().committed(deleted))
        }
        (&Method::GET, Route::CustomersCount) => count_customers(shared, query),
        (&Method::GET, Route::Customer(id)) => {
            let store = shared.read_store();
            match store.customer(id) {
                Some(c) => Ok(Reply::json(
                    StatusCode::OK,
                    &store.customer_view(c, &shared.links),
                )),
                None => Err(not_found()),
            }
        }
        (&Method::PUT, Route::Customer(id)) => update_customer(shared, id, body),
        (&Method::DELETE, Route::Customer(id)) => {
            if shared.write_store().delete_customer(id) {
                Ok(Reply::no_content().committed(true))
            } else {
                Err(not_found())
            }
        }
        (&Method::POST, Route::Validate(id)) => validate_password(shared, id, body),
        _ => Err(method_not_allowed()),
    }
}

/// The customer filters of a list or count request. `exclusive_ids`: `min_id`/`max_id` exclude
/// the id they name (BigCommerce does not document which; see [`crate::sandbox::SandboxConfig`]).
fn customer_filter(q: &Query, exclusive_ids: bool) -> Result<CustomerFilter, Reply> {
    let (mut min_id, mut max_id): (Option<u64>, Option<u64>) =
        (q.parsed("min_id")?, q.parsed("max_id")?);
    if exclusive_ids {
        // `> m` is `>= m + 1` and `< m` is `<= m - 1`; nothing is above u64::MAX or below 0,
        // which leaves an empty range (min 1, max 0).
        let empty = min_id == Some(u64::MAX) || max_id == Some(0);
        min_id = min_id.map(|m| m.saturating_add(1));
        max_id = max_id.map(|m| m.saturating_sub(1));
        if empty {
            (min_id, max_id) = (Some(1), Some(0));
        }
    }
    Ok(CustomerFilter {
        email: q.text("email").map(|e| e.to_lowercase()),
        first_name: q.text("first_name").map(|v| v.to_lowercase()),
        last_name: q.text("last_name").map(|v| v.to_lowercase()),
        company: q.text("company").map(|v| v.to_lowercase()),
        phone: q.text("phone").map(|v| v.to_lowercase()),
        tax_exempt_category: q.text("tax_exempt_category").map(|v| v.to_lowercase()),
        store_credit: match q.get("store_credit") {
            None => None,
            Some(v) => Some(
                parse_credit(&Value::String(v.to_string())).map_err(|_| invalid("store_credit"))?,
            ),
        },
        customer_group_id: q.parsed("customer_group_id")?,
        min_id,
        max_id,
        min_date_created: q.date("min_date_created")?,
        max_date_created: q.date("max_date_created")?,
        min_date_modified: q.date("min_date_modified")?,
        max_date_modified: q.date("max_date_modified")?,
    })
}

fn list_customers(shared: &Shared, q: &Query) -> Handled {
    let (page, limit) = q.paging()?;
    let filter = customer_filter(q, shared.cfg.exclusive_id_bounds)?;
    let store = shared.read_store();
    let views: Vec<_> = store
        .list_customers(&filter, page, limit)
        .into_iter()
        .map(|c| store.customer_view(c, &shared.links))
        .collect();
    Ok(page_reply(&views))
}

fn count_customers(shared: &Shared, q: &Query) -> Handled {
    let filter = customer_filter(q, shared.cfg.exclusive_id_bounds)?;
    Ok(count_reply(shared.read_store().count_customers(&filter)))
}

fn create_customer(shared: &Shared, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let patch = customer_patch(&fields, true)?;
    let mut store = shared.write_store();
    let id = store
        .create_customer(patch, now_secs())
        .map_err(refused_by(shared))?;
    let c = store.customer(id).expect("the customer just created");
    Ok(Reply::json(StatusCode::OK, &store.customer_view(c, &shared.links)).committed(true))
}

fn update_customer(shared: &Shared, id: u64, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let patch = customer_patch(&fields, false)?;
    let mut store = shared.write_store();
    if store.customer(id).is_none() {
        return Err(not_found());
    }
    store
        .update_customer(id, patch, now_secs())
        .map_err(refused_by(shared))?;
    let c = store.customer(id).expect("the customer just updated");
    Ok(Reply::json(StatusCode::OK, &store.customer_view(c, &shared.links)).committed(true))
}

fn validate_password(shared: &Shared, id: u64, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let password = match fields.get("password") {
        Some(Value::String(p)) => p.clone(),
        Some(Value::Null) | None => return Err(missing(&["password"])),
        Some(_) => return Err(invalid("password")),
    };
    let actual = shared.read_store().password_of(id).ok_or_else(not_found)?;
    Ok(Reply::json(
        StatusCode::OK,
        &json!({ "success": actual == password }),
    ))
}

const CUSTOMER_READ_ONLY: &[&str] = &[
    "id",
    "date_created",
    "date_modified",
    "accepts_marketing",
    "addresses",
    "form_fields",
];
const CUSTOMER_REQUIRED: &[&str] = &["first_name", "last_name", "email"];

/// The checks for both POST (`creating`) and PUT; the store checks email and group after.
fn customer_patch(fields: &Map<String, Value>, creating: bool) -> Result<CustomerPatch, Reply> {
    const WRITABLE: &[&str] = &[
        "first_name",
        "last_name",
        "email",
        "company",
        "phone",
        "notes",
        "registration_ip_address",
        "tax_exempt_category",
        "store_credit",
        "customer_group_id",
        "reset_pass_on_login",
        "_authentication",
    ];
    for key in fields.keys() {
        if CUSTOMER_READ_ONLY.contains(&key.as_str()) {
            return Err(read_only(key));
        }
        if !WRITABLE.contains(&key.as_str()) {
            return Err(invalid(key));
        }
    }
    let blank = |key: &str| match fields.get(key) {
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Null) | None => true,
        Some(_) => false,
    };
    check_required(fields, CUSTOMER_REQUIRED, creating, blank)?;

    let mut patch = CustomerPatch {
        first_name: text_field(fields, "first_name", 255, false)?,
        last_name: text_field(fields, "last_name", 255, false)?,
        email: text_field(fields, "email", 255, false)?,
        company: text_field(fields, "company", 255, false)?,
        phone: text_field(fields, "phone", 50, false)?,
        notes: text_field(fields, "notes", 65_535, false)?,
        registration_ip_address: text_field(fields, "registration_ip_address", 45, false)?,
        tax_exempt_category: text_field(fields, "tax_exempt_category", 255, false)?,
        store_credit: match fields.get("store_credit") {
            None => None,
            Some(v) => Some(parse_credit(v).map_err(|_| invalid("store_credit"))?),
        },
        customer_group_id: match fields.get("customer_group_id") {
            None => None,
            Some(Value::Null) => Some(0),
            Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| invalid("customer_group_id"))?),
            Some(Value::String(s)) => {
                Some(s.trim().parse().map_err(|_| invalid("customer_group_id"))?)
            }
            Some(_) => return Err(invalid("customer_group_id")),
        },
        reset_pass_on_login: bool_field(fields, "reset_pass_on_login")?,
        password: None,
    };
    if let Some(email) = &patch.email {
        if !valid_email(email) {
            return Err(invalid("email"));
        }
    }
    match fields.get("_authentication") {
        None | Some(Value::Null) => {}
        Some(Value::Object(auth)) => apply_authentication(auth, &mut patch)?,
        Some(_) => return Err(invalid("_authentication")),
    }
    Ok(patch)
}

/// `_authentication: {password, password_confirmation, force_reset}`, all optional.
fn apply_authentication(auth: &Map<String, Value>, patch: &mut CustomerPatch) -> Result<(), Reply> {
    for key in auth.keys() {
        if !matches!(
            key.as_str(),
            "password" | "password_confirmation" | "force_reset"
        ) {
            return Err(invalid(&format!("_authentication.{key}")));
        }
    }
    let password = match auth.get("password") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if acceptable_password(p) => Some(p.clone()),
        Some(_) => return Err(invalid("password")),
    };
    match (auth.get("password_confirmation"), &password) {
        (None | Some(Value::Null), _) => {}
        (Some(Value::String(confirmation)), Some(p)) if confirmation == p => {}
        _ => {
            return Err(Reply::error(
                StatusCode::BAD_REQUEST,
                "The field 'password_confirmation' is invalid: it does not match 'password'.",
            ))
        }
    }
    patch.password = password;
    match auth.get("force_reset") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(force)) => patch.reset_pass_on_login = Some(*force),
        Some(_) => return Err(invalid("force_reset")),
    }
    Ok(())
}

/// The store's default password rule: at least 7 characters, letters and digits.
pub(crate) fn acceptable_password(p: &str) -> bool {
    p.chars().count() >= 7
        && p.chars().any(char::is_alphabetic)
        && p.chars().any(|c| c.is_ascii_digit())
}

/// `local@domain.tld`: one `@`, no spaces, a dotted domain without empty labels.
pub(crate) fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let no_space = |s: &str| !s.chars().any(|c| c.is_whitespace() || c.is_control());
    !local.is_empty()
        && local.len() <= 64
        && no_space(local)
        && !domain.contains('@')
        && no_space(domain)
        && domain.contains('.')
        && domain
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}
