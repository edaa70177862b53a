//! The V2 customer group routes: list, count, create (optionally answered 207), update,
//! delete; 403 on a plan without groups.

use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::super::server::{now_secs, Shared};
use super::super::store::GroupPatch;
use super::fields::{
    bool_field, invalid, json_object, method_not_allowed, missing, not_found, read_only, refused,
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
    if !shared.cfg.groups_enabled {
        return Err(Reply::error(
            StatusCode::FORBIDDEN,
            "Customer groups are not available on this store's plan.",
        ));
    }
    match (method, route) {
        (&Method::GET, Route::Groups) => list_groups(shared, query),
        (&Method::POST, Route::Groups) => create_group(shared, body),
        (&Method::GET, Route::GroupsCount) => {
            let store = shared.read_store();
            Ok(count_reply(store.groups().count()))
        }
        (&Method::GET, Route::Group(id)) => {
            let store = shared.read_store();
            match store.group(id) {
                Some(g) => Ok(Reply::json(StatusCode::OK, g)),
                None => Err(not_found()),
            }
        }
        (&Method::PUT, Route::Group(id)) => update_group(shared, id, body),
        (&Method::DELETE, Route::Group(id)) => {
            if shared.write_store().delete_group(id) {
                Ok(Reply::no_content().committed(true))
            } else {
                Err(not_found())
            }
        }
        _ => Err(method_not_allowed()),
    }
}

fn list_groups(shared: &Shared, q: &Query) -> Handled {
    let (page, limit) = q.paging()?;
    let name = q.get("name");
    let name_like = q.get("name:like").map(str::to_lowercase);
    let is_default = q.boolean("is_default")?;
    let for_guests = q.boolean("is_group_for_guests")?;
    let store = shared.read_store();
    let page: Vec<_> = store
        .groups()
        .filter(|g| name.is_none_or(|n| g.name == n))
        .filter(|g| {
            name_like
                .as_ref()
                .is_none_or(|n| g.name.to_lowercase().contains(n.as_str()))
        })
        .filter(|g| is_default.is_none_or(|v| g.is_default == v))
        .filter(|g| for_guests.is_none_or(|v| g.is_group_for_guests == v))
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .collect();
    Ok(page_reply(&page))
}

fn create_group(shared: &Shared, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let patch = group_patch(&fields, true)?;
    let mut store = shared.write_store();
    let id = store.create_group(patch, now_secs()).map_err(refused)?;
    if shared.cfg.group_create_207 {
        // reference/bigcommerce-api.md (customers.v2.yml): "207 Multi-Status: the group was
        // created, but the sitewide discount update failed": the answer carries no group.
        return Ok(Reply::json(
            StatusCode::MULTI_STATUS,
            &json!({"status": 207, "message": "The customer group was created, but the sitewide discount update failed. You may retry the update."}),
        )
        .committed(true));
    }
    Ok(Reply::json(
        StatusCode::OK,
        store.group(id).expect("the group just created"),
    )
    .committed(true))
}

fn update_group(shared: &Shared, id: u64, body: &[u8]) -> Handled {
    let fields = json_object(body)?;
    let patch = group_patch(&fields, false)?;
    let mut store = shared.write_store();
    if !store.update_group(id, patch, now_secs()).map_err(refused)? {
        return Err(not_found());
    }
    Ok(Reply::json(
        StatusCode::OK,
        store.group(id).expect("the group just updated"),
    )
    .committed(true))
}

fn group_patch(fields: &Map<String, Value>, creating: bool) -> Result<GroupPatch, Reply> {
    for key in fields.keys() {
        match key.as_str() {
            "id" | "date_created" | "date_modified" => return Err(read_only(key)),
            "name"
            | "is_default"
            | "category_access"
            | "discount_rules"
            | "is_group_for_guests" => {}
            _ => return Err(invalid(key)),
        }
    }
    let name = match fields.get("name") {
        None if creating => return Err(missing(&["name"])),
        None => None,
        Some(Value::String(n)) if n.trim().is_empty() && creating => {
            return Err(missing(&["name"]))
        }
        Some(Value::String(n)) if !n.trim().is_empty() && n.chars().count() <= 255 => {
            Some(n.clone())
        }
        Some(_) => return Err(invalid("name")),
    };
    let category_access = match fields.get("category_access") {
        None => None,
        Some(v @ Value::Object(access)) => {
            let kind = access.get("type").and_then(Value::as_str);
            let categories_ok = access.get("categories").is_none_or(|c| {
                c.as_array()
                    .is_some_and(|ids| ids.iter().all(|id| id.as_u64().is_some()))
            });
            if !matches!(kind, Some("all" | "specific" | "none")) || !categories_ok {
                return Err(invalid("category_access"));
            }
            Some(v.clone())
        }
        Some(_) => return Err(invalid("category_access")),
    };
    let discount_rules = match fields.get("discount_rules") {
        None => None,
        Some(v @ Value::Array(rules)) => {
            let rule_ok = |rule: &Value| {
                let kind = rule.get("type").and_then(Value::as_str);
                let method = rule.get("method").and_then(Value::as_str);
                matches!(kind, Some("price_list" | "all" | "category" | "product"))
                    && (kind == Some("price_list")
                        || matches!(method, Some("percent" | "fixed" | "price")))
            };
            if !rules.iter().all(rule_ok) {
                return Err(invalid("discount_rules"));
            }
            Some(v.clone())
        }
        Some(_) => return Err(invalid("discount_rules")),
    };
    Ok(GroupPatch {
        name,
        is_default: bool_field(fields, "is_default")?,
        category_access,
        discount_rules,
        is_group_for_guests: bool_field(fields, "is_group_for_guests")?,
    })
}
