//! The V3 JSON of customers, addresses, pagination and cursors (reference/bigcommerce-v3.md §4,
//! §8, §13), rendered from the store.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

use super::super::seed;
use super::super::store::{Address, AddressType, Customer, FormFields, Store};
use super::query::{Includes, Query};

/// A `data` page and its `meta`, in the key order a `serde_json::Value` map writes (sorted),
/// so the typed rendering is byte for byte what the sandbox answered before it.
#[derive(Serialize)]
pub(super) struct Page<D: Serialize> {
    pub(super) data: D,
    pub(super) meta: Value,
}

/// ISO-8601 UTC, as V3 shows dates: `2023-01-30T00:49:10Z` (§13); empty when out of range.
struct Iso(i64);

impl Serialize for Iso {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Digits written by hand: chrono's `format` parses its pattern for every date, and two
        // dates a customer were a fifth of the sandbox's CPU for a page (perf, 250 customers).
        use chrono::{Datelike, Timelike};
        let Some(t) =
            chrono::DateTime::from_timestamp(self.0, 0).filter(|t| (0..=9999).contains(&t.year()))
        else {
            return serializer.serialize_str("");
        };
        let mut b = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, t.year() as u32);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        put(17, 2, t.second());
        serializer.serialize_str(std::str::from_utf8(&b).expect("ASCII digits"))
    }
}

/// Ten-thousandths as a JSON number: whole amounts as integers (`{"amount":0}`, §5).
struct Amount(i64);

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 % 10_000 == 0 {
            serializer.serialize_i64(self.0 / 10_000)
        } else {
            serializer.serialize_f64(self.0 as f64 / 10_000.0)
        }
    }
}

/// One customer as V3 shows it (`customer_Full`), borrowed from the store and written straight
/// to the answer: at 250 customers with addresses a page, building a `serde_json::Value` per
/// customer first cost the sandbox six times the CPU of its V2 pages (docs/performance.md).
pub(super) struct CustomerView<'a> {
    store: &'a Store,
    c: &'a Customer,
    inc: Includes,
    address_limit: Option<usize>,
}

pub(super) fn customer_json<'a>(
    store: &'a Store,
    c: &'a Customer,
    inc: Includes,
    address_limit: Option<usize>,
) -> CustomerView<'a> {
    CustomerView {
        store,
        c,
        inc,
        address_limit,
    }
}

impl Serialize for CustomerView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Authentication {
            force_password_reset: bool,
        }
        #[derive(Serialize)]
        struct Credit {
            amount: Amount,
        }
        let (store, c, inc) = (self.store, self.c, self.inc);
        let extras = store.v3_customers.get(&c.id);
        let addresses = store.addresses_of(c.id);
        // Keys in sorted order, as the `Value` maps wrote them.
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(
            "accepts_product_review_abandoned_cart_emails",
            &c.accepts_marketing,
        )?;
        map.serialize_entry("address_count", &addresses.len())?;
        if inc.addresses {
            let shown = &addresses[..addresses
                .len()
                .min(self.address_limit.unwrap_or(usize::MAX))];
            map.serialize_entry(
                "addresses",
                &Seq(shown.iter().map(|a| address_json(store, a, inc.formfields))),
            )?;
        }
        map.serialize_entry("attribute_count", &0)?;
        if inc.attributes {
            // The sandbox defines no customer attributes (§9).
            map.serialize_entry("attributes", &[(); 0])?;
        }
        map.serialize_entry(
            "authentication",
            &Authentication {
                force_password_reset: c.reset_pass_on_login,
            },
        )?;
        map.serialize_entry("channel_ids", &extras.and_then(|e| e.channel_ids.as_ref()))?;
        map.serialize_entry("company", &c.company)?;
        map.serialize_entry("customer_group_id", &c.customer_group_id)?;
        map.serialize_entry("date_created", &Iso(c.date_created))?;
        map.serialize_entry("date_modified", &Iso(c.date_modified))?;
        map.serialize_entry("email", &c.email)?;
        map.serialize_entry("first_name", &c.first_name)?;
        if inc.formfields {
            map.serialize_entry("form_fields", &CustomerFields { store, c })?;
        }
        map.serialize_entry("id", &c.id)?;
        map.serialize_entry("last_name", &c.last_name)?;
        map.serialize_entry("notes", &c.notes)?;
        let origin = extras.and_then(|e| e.origin_channel_id).unwrap_or(1);
        map.serialize_entry("origin_channel_id", &origin)?;
        map.serialize_entry("phone", &c.phone)?;
        map.serialize_entry("registration_ip_address", &c.registration_ip_address)?;
        if inc.storecredit {
            let credit = [Credit {
                amount: Amount(c.store_credit),
            }];
            map.serialize_entry("store_credit_amounts", &credit)?;
        }
        map.serialize_entry("tax_exempt_category", &c.tax_exempt_category)?;
        map.end()
    }
}

/// A lazily rendered JSON array (each item written as it is made, none kept).
struct Seq<I>(I);

impl<I, T> Serialize for Seq<I>
where
    I: Iterator<Item = T> + Clone,
    T: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.clone())
    }
}

/// `{customer_id, name, value}` (§10), keys sorted.
#[derive(Serialize)]
struct CustomerField<'a, V: Serialize> {
    customer_id: u64,
    name: &'a str,
    value: V,
}

/// A customer's form fields; seeded ones derived from the id, as the V2 routes render them.
struct CustomerFields<'a> {
    store: &'a Store,
    c: &'a Customer,
}

impl Serialize for CustomerFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let customer_id = self.c.id;
        match &self.c.form_fields {
            FormFields::Seeded(mask) => {
                let salt = self.store.salt();
                let mut seq = serializer.serialize_seq(Some(mask.count_ones() as usize))?;
                for (i, name) in seed::FORM_FIELDS.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        seq.serialize_element(&CustomerField {
                            customer_id,
                            name,
                            value: seed::form_field_value(salt, customer_id, i),
                        })?;
                    }
                }
                seq.end()
            }
            FormFields::Listed(list) => {
                serializer.collect_seq(list.iter().map(|(name, value)| CustomerField {
                    customer_id,
                    name,
                    value,
                }))
            }
        }
    }
}

/// One address as V3 shows it (`address_Full`, §8), keys sorted.
#[derive(Serialize)]
pub(super) struct AddressView<'a> {
    address1: &'a str,
    address2: &'a str,
    address_type: AddressType,
    city: &'a str,
    company: &'a str,
    country: &'a str,
    country_code: &'a str,
    customer_id: u64,
    first_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    form_fields: Option<AddressFields<'a>>,
    id: u64,
    last_name: &'a str,
    phone: &'a str,
    postal_code: &'a str,
    state_or_province: &'a str,
}

/// `[{address_id, name, value}]`, only with `include=formfields`.
struct AddressFields<'a> {
    address_id: u64,
    list: &'a [(String, Value)],
}

impl Serialize for AddressFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Field<'a> {
            address_id: u64,
            name: &'a str,
            value: &'a Value,
        }
        serializer.collect_seq(self.list.iter().map(|(name, value)| Field {
            address_id: self.address_id,
            name,
            value,
        }))
    }
}

pub(super) fn address_json<'a>(
    store: &'a Store,
    a: &'a Address,
    formfields: bool,
) -> AddressView<'a> {
    AddressView {
        address1: &a.street_1,
        address2: &a.street_2,
        address_type: a.address_type,
        city: &a.city,
        company: &a.company,
        country: &a.country,
        country_code: a.country_iso2,
        customer_id: a.customer_id,
        first_name: &a.first_name,
        form_fields: formfields.then(|| AddressFields {
            address_id: a.id,
            list: store
                .v3_address_form_fields
                .get(&a.id)
                .map_or(&[][..], Vec::as_slice),
        }),
        id: a.id,
        last_name: &a.last_name,
        phone: &a.phone,
        postal_code: &a.zip,
        state_or_province: &a.state,
    }
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
