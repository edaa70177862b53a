//! The V3 JSON of customers, addresses, pagination and cursors (reference/bigcommerce-v3.md §4,
//! §8, §13), rendered from the store.

use serde_json::{json, Map, Value};

use super::super::store::{Address, Customer, Store};
use super::query::{Includes, Query};

/// ISO-8601 UTC, as V3 shows dates: `2023-01-30T00:49:10Z` (§13).
pub(super) fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Ten-thousandths as a JSON number: whole amounts as integers (`{"amount":0}`, §5).
pub(super) fn amount(credit: i64) -> Value {
    if credit % 10_000 == 0 {
        json!(credit / 10_000)
    } else {
        json!(credit as f64 / 10_000.0)
    }
}

pub(super) fn customer_json(
    store: &Store,
    c: &Customer,
    inc: Includes,
    address_limit: Option<usize>,
) -> Value {
    let extras = store.v3_customers.get(&c.id).cloned().unwrap_or_default();
    let addresses = store.addresses_of(c.id);
    let mut v = json!({
        "id": c.id,
        "email": c.email,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "company": c.company,
        "phone": c.phone,
        "registration_ip_address": c.registration_ip_address,
        "notes": c.notes,
        "tax_exempt_category": c.tax_exempt_category,
        "customer_group_id": c.customer_group_id,
        "date_created": iso(c.date_created),
        "date_modified": iso(c.date_modified),
        "address_count": addresses.len(),
        "attribute_count": 0,
        "authentication": {"force_password_reset": c.reset_pass_on_login},
        "accepts_product_review_abandoned_cart_emails": c.accepts_marketing,
        "origin_channel_id": extras.origin_channel_id.unwrap_or(1),
        "channel_ids": extras.channel_ids,
    });
    if inc.addresses {
        let shown = address_limit.unwrap_or(usize::MAX);
        v["addresses"] = addresses
            .iter()
            .take(shown)
            .map(|a| address_json(store, a, inc.formfields))
            .collect();
    }
    if inc.storecredit {
        v["store_credit_amounts"] = json!([{"amount": amount(c.store_credit)}]);
    }
    if inc.formfields {
        v["form_fields"] = store
            .form_fields_of(c)
            .into_iter()
            .map(|(name, value)| json!({"name": name, "value": value, "customer_id": c.id}))
            .collect();
    }
    if inc.attributes {
        // The sandbox defines no customer attributes (§9).
        v["attributes"] = json!([]);
    }
    v
}

pub(super) fn address_json(store: &Store, a: &Address, formfields: bool) -> Value {
    let mut v = json!({
        "id": a.id,
        "customer_id": a.customer_id,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "company": a.company,
        "address1": a.street_1,
        "address2": a.street_2,
        "city": a.city,
        "state_or_province": a.state,
        "postal_code": a.zip,
        "country_code": a.country_iso2,
        "country": a.country,
        "phone": a.phone,
        "address_type": a.address_type,
    });
    if formfields {
        v["form_fields"] = store
            .v3_address_form_fields
            .get(&a.id)
            .map(|list| {
                list.iter()
                    .map(|(name, value)| json!({"name": name, "value": value, "address_id": a.id}))
                    .collect()
            })
            .unwrap_or_else(|| json!([]));
    }
    v
}

/// `{data, meta: {pagination}}` for page-based paging (§4).
pub(super) fn pagination(
    total: usize,
    count: usize,
    page: usize,
    limit: usize,
    q: &Query,
) -> Value {
    let total_pages = total.div_ceil(limit);
    // Links repeat the request's other parameters, as `?page=N&limit=L&…`.
    let link = |page: usize| {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        out.append_pair("page", &page.to_string());
        out.append_pair("limit", &limit.to_string());
        for (k, v) in &q.pairs {
            if k != "page" && k != "limit" {
                out.append_pair(k, v);
            }
        }
        format!("?{}", out.finish())
    };
    let mut links = Map::new();
    if page > 1 {
        links.insert("previous".into(), link(page - 1).into());
    }
    links.insert("current".into(), link(page).into());
    if page < total_pages {
        links.insert("next".into(), link(page + 1).into());
    }
    json!({
        "total": total,
        "count": count,
        "per_page": limit,
        "current_page": page,
        "total_pages": total_pages,
        "links": links,
    })
}

// ---- cursors ----

/// `{"id":N}` in unpadded base64, the shape of SPEC3's cursor examples (§4:
/// `eyJpZCI6MjA0fQ` = `{"id":204}`).
pub(super) fn encode_cursor(id: u64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{{\"id\":{id}}}"))
}

pub(super) fn decode_cursor(cursor: &str) -> Option<u64> {
    use base64::Engine as _;
    // Both alphabets, padded or not: a client may send the URL-safe form.
    let standard: String = cursor
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(standard)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("id")?.as_u64()
}

pub(super) fn cursor_meta(items: &[&Customer], limit: usize, more: bool, forward: bool) -> Value {
    let start = items.first().map(|c| encode_cursor(c.id));
    let end = items.last().map(|c| encode_cursor(c.id));
    let mut links = Map::new();
    if let (true, Some(end)) = (forward && more, &end) {
        links.insert("next".into(), format!("?limit={limit}&after={end}").into());
    }
    if let (true, Some(start)) = (!forward && more, &start) {
        links.insert(
            "previous".into(),
            format!("?limit={limit}&before={start}").into(),
        );
    }
    json!({
        "count": items.len(),
        "per_page": limit,
        "start_cursor": start,
        "end_cursor": end,
        "links": links,
    })
}
