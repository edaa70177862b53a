//! Serde types for what `GET /v3/customers` sends, and their conversion to the V2 shapes the
//! export writes (reference/bigcommerce-v3.md §13). Tolerant like the V2 models: every field
//! defaults, and the odd shapes (numbers as strings, `null` lists) are accepted.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::api::models::{
    lenient_bool, lenient_form_fields, lenient_list, lenient_opt_list, lenient_page,
    lenient_string, lenient_u64,
};
use crate::api::{Address, Customer, FormField};

/// `{data: [...], meta: {pagination, cursor_pagination}}` (§4).
#[derive(Debug, Default, Deserialize)]
pub struct CustomerPage {
    #[serde(default, deserialize_with = "lenient_page")]
    pub data: Vec<V3Customer>,
    #[serde(default)]
    pub meta: Meta,
}

/// The envelope of a `limit=1` page, for its total only (the customer is not decoded).
#[derive(Debug, Default, Deserialize)]
pub struct CountPage {
    #[serde(default)]
    meta: Meta,
}

impl CountPage {
    /// A whole, non-negative number below 2^53 (a count the export compares against), never
    /// defaulted: `-5`, `2.5` or `"abc"` is a broken answer, not 0.
    pub fn total(&self) -> Option<u64> {
        self.meta
            .pagination
            .as_ref()
            .and_then(|p| strict_count(&p.total))
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub pagination: Option<Pagination>,
    #[serde(default)]
    pub cursor_pagination: Option<CursorPagination>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Pagination {
    #[serde(default)]
    pub total: Value,
}

#[derive(Debug, Default, Deserialize)]
pub struct CursorPagination {
    #[serde(default, deserialize_with = "lenient_string")]
    pub end_cursor: String,
}

/// `{data: [address_Full], meta: {pagination}}` of `GET /v3/customers/addresses` (§8).
#[derive(Debug, Default, Deserialize)]
pub struct AddressPage {
    #[serde(default, deserialize_with = "lenient_list")]
    pub data: Vec<V3Address>,
}

/// V3's `meta.pagination.total` under the same rule as V2's count.
pub fn strict_count(v: &Value) -> Option<u64> {
    crate::api::models::count_of(v)
}

/// `customer_Full` (§4, §13.1), the fields the export writes.
#[derive(Debug, Default, Deserialize)]
pub struct V3Customer {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient_string")]
    pub email: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub first_name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub last_name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub company: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub phone: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub notes: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub tax_exempt_category: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub registration_ip_address: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub customer_group_id: u64,
    /// ISO-8601, `2023-01-30T00:49:10Z` (some clients also see `+00:00`, §13.1).
    #[serde(default, deserialize_with = "lenient_string")]
    pub date_created: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub date_modified: String,
    /// `[{amount: 43.15}]` with `include=storecredit`: numbers, not V2's decimal string.
    #[serde(default)]
    pub store_credit_amounts: StoreCredit,
    #[serde(default)]
    pub authentication: Option<Authentication>,
    /// V2's `accepts_marketing` under its V3 name (§13.1).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub accepts_product_review_abandoned_cart_emails: bool,
    /// `[{name, value, customer_id}]` with `include=formfields`; the value may be a number or
    /// a list of strings (§10): the same text as V2's reading of it.
    #[serde(default, deserialize_with = "lenient_form_fields")]
    pub form_fields: Vec<FormField>,
    /// With `include=addresses`: "Limited to 10" (§4), so see `address_count`.
    #[serde(default, deserialize_with = "lenient_list")]
    pub addresses: Vec<V3Address>,
    /// "Total number of customer addresses"; absent on some stores (§4: unverified).
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub address_count: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Authentication {
    /// V2's `reset_pass_on_login` (§13.1).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force_password_reset: bool,
}

/// `address_Full` (§8, §13.2).
#[derive(Debug, Default, Deserialize)]
pub struct V3Address {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub customer_id: u64,
    #[serde(default, deserialize_with = "lenient_string")]
    pub first_name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub last_name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub company: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub address1: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub address2: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub city: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub state_or_province: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub postal_code: String,
    /// The country's name (read-only in V3).
    #[serde(default, deserialize_with = "lenient_string")]
    pub country: String,
    /// ISO-3166 alpha-2: V2's `country_iso2`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub country_code: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub phone: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub address_type: String,
}

impl V3Customer {
    /// The customer as the V2 export sees it, so the same writer makes the same bytes: dates in
    /// the ISO-8601 UTC form the V2 export writes, the credit amounts summed in V2's decimal
    /// form (`12.5000`), the V3 names of V2's fields. The addresses are handed back apart.
    pub fn into_v2(self) -> (Customer, Vec<Address>, Option<u64>) {
        let customer = Customer {
            id: self.id,
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            company: self.company,
            phone: self.phone,
            store_credit: self.store_credit_amounts.v2_text(),
            customer_group_id: self.customer_group_id,
            notes: self.notes,
            tax_exempt_category: self.tax_exempt_category,
            registration_ip_address: self.registration_ip_address,
            accepts_marketing: self.accepts_product_review_abandoned_cart_emails,
            reset_pass_on_login: self.authentication.is_some_and(|a| a.force_password_reset),
            date_created: utc(self.date_created),
            date_modified: utc(self.date_modified),
            form_fields: self.form_fields,
        };
        let addresses = self.addresses.into_iter().map(V3Address::into_v2).collect();
        (customer, addresses, self.address_count)
    }
}

impl V3Address {
    pub fn into_v2(self) -> Address {
        Address {
            id: self.id,
            customer_id: self.customer_id,
            first_name: self.first_name,
            last_name: self.last_name,
            company: self.company,
            street_1: self.address1,
            street_2: self.address2,
            city: self.city,
            state: self.state_or_province,
            zip: self.postal_code,
            country: self.country,
            country_iso2: self.country_code,
            phone: self.phone,
            address_type: self.address_type,
        }
    }
}

/// `store_credit_amounts` as sent: a list of amounts, or None when it is not a list (absent,
/// `null`, `{}`). Read straight from the parser: a `serde_json::Value` per amount (a map and
/// its key) cost more than the sum, on every customer of an export.
#[derive(Debug, Default)]
pub struct StoreCredit(Option<Vec<Amount>>);

/// One element of the list: the number its text holds (None: not a finite number), and
/// whether it was an `{amount}` object with a number or a numeric string in it.
#[derive(Debug)]
struct Amount {
    value: Option<f64>,
    exact: bool,
}

impl StoreCredit {
    /// The sum as the export writes it, in V2's decimal form (`0.0000`, `12.5000`, `-3.2500`):
    /// each amount rounded to V2's precision (four decimals, V3 sends floats like `43.15`)
    /// before summing; an amount that is no number (or none sent) counts as zero.
    pub fn v2_text(&self) -> String {
        let mut total: i128 = 0;
        for f in self.amounts().filter_map(|a| a.value) {
            // Saturating: `1e300` from a hostile store must not wrap (or panic) the sum.
            total = total.saturating_add((f * 10_000.0).round() as i128);
        }
        decimal4(total)
    }

    /// The sum in ten-thousandths, strictly (the import's balance reads, `api::v3::credit`):
    /// None unless it is a list of `{amount}` objects each holding a finite number.
    pub fn units(&self) -> Option<i64> {
        let mut total = 0i64;
        for a in self.0.as_ref()? {
            let f = a.value.filter(|_| a.exact)?;
            total = total.checked_add((f * 10_000.0).round() as i64)?;
        }
        Some(total)
    }

    fn amounts(&self) -> impl Iterator<Item = &Amount> {
        self.0.iter().flatten()
    }
}

/// `total` ten-thousandths as `-12.3400`: the digits written by hand, as `format!` was 3% of
/// the client's CPU on a V3 export (one credit per customer).
fn decimal4(total: i128) -> String {
    let v = total.unsigned_abs();
    let (mut int, mut frac) = (v / 10_000, v % 10_000);
    // u128::MAX has 39 digits: with the sign, the point and four decimals, 45 bytes.
    let mut buf = [0u8; 48];
    let mut i = buf.len();
    for _ in 0..4 {
        i -= 1;
        buf[i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    i -= 1;
    buf[i] = b'.';
    loop {
        i -= 1;
        buf[i] = b'0' + (int % 10) as u8;
        int /= 10;
        if int == 0 {
            break;
        }
    }
    if total < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    String::from_utf8_lossy(&buf[i..]).into_owned()
}

impl<'de> Deserialize<'de> for StoreCredit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StoreCredit, D::Error> {
        lenient_opt_list(d).map(StoreCredit)
    }
}

impl Amount {
    /// The amount of a cell's text ([`crate::api::models::value_to_text`] of the value).
    fn of(text: &str, exact: bool) -> Amount {
        Amount {
            value: text.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            exact,
        }
    }

    fn number(f: f64) -> Amount {
        Amount {
            value: Some(f).filter(|f| f.is_finite()),
            exact: true,
        }
    }

    const NONE: Amount = Amount {
        value: None,
        exact: false,
    };
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "snake_case")]
        enum Key {
            Amount,
            #[serde(other)]
            Other,
        }
        /// The value of an element (`Item`) or of its `amount` key (`Inner`).
        #[derive(Clone, Copy, PartialEq)]
        enum At {
            Item,
            Inner,
        }
        struct V(At);
        impl<'de> serde::de::DeserializeSeed<'de> for V {
            type Value = Amount;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Amount, D::Error> {
                d.deserialize_any(self)
            }
        }
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a store credit amount")
            }
            // An element: its `amount` (the last one sent), or, without one, its JSON text,
            // never a number. An object under `amount`: its text, never a number either.
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Amount, A::Error> {
                let mut amount = Amount::NONE;
                while let Some(key) = map.next_key::<Key>()? {
                    match (self.0, key) {
                        (At::Item, Key::Amount) => amount = map.next_value_seed(V(At::Inner))?,
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(amount)
            }
            // A list's text is its items joined (`[5]` is "5"): a number, but not an exact one.
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Amount, A::Error> {
                let text = lenient_string(serde::de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Amount::of(&text, false))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Amount, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_none<E>(self) -> Result<Amount, E> {
                Ok(Amount::NONE)
            }
            fn visit_unit<E>(self) -> Result<Amount, E> {
                Ok(Amount::NONE)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Amount, E> {
                Ok(Amount::NONE)
            }
            // The text of a JSON number parses back to the same f64 (both correctly rounded).
            fn visit_i64<E>(self, v: i64) -> Result<Amount, E> {
                Ok(self.exact(Amount::number(v as f64)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Amount, E> {
                Ok(self.exact(Amount::number(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Amount, E> {
                Ok(self.exact(Amount::number(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Amount, E> {
                Ok(self.exact(Amount::of(v, true)))
            }
        }
        impl V {
            /// A bare amount (not under `amount`) is never exact.
            fn exact(&self, a: Amount) -> Amount {
                Amount {
                    exact: a.exact && self.0 == At::Inner,
                    ..a
                }
            }
        }
        d.deserialize_any(V(At::Item))
    }
}

/// A V3 date as the V2 export writes dates: `YYYY-MM-DDTHH:MM:SSZ` in UTC (from `…Z`,
/// `…+00:00` or any other offset). Anything unparsable is kept as sent, as V2's is.
fn utc(date: String) -> String {
    let b = date.as_bytes();
    if b.len() == 20 && b[10] == b'T' && b[19] == b'Z' {
        return date;
    }
    match chrono::DateTime::parse_from_rfc3339(date.trim()) {
        Ok(d) => d
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        Err(_) => date,
    }
}

fn lenient_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match &v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_fields_become_the_v2_export_fields() {
        let c: V3Customer = serde_json::from_str(
            r#"{"id":7,"email":"a@b.c","store_credit_amounts":[{"amount":43.15},{"amount":"1"}],
               "authentication":{"force_password_reset":true},
               "accepts_product_review_abandoned_cart_emails":true,
               "date_created":"2023-01-30T02:49:10+02:00","date_modified":"2023-01-30T00:49:10Z",
               "form_fields":[{"name":"Size","value":["S","M"],"customer_id":7}],
               "addresses":[{"id":3,"customer_id":7,"address1":"1 Main","state_or_province":"Texas",
                             "postal_code":78726,"country_code":"US","country":"United States"}],
               "address_count":12}"#,
        )
        .unwrap();
        let (c, addresses, count) = c.into_v2();
        assert_eq!(c.store_credit, "44.1500");
        assert!(c.reset_pass_on_login && c.accepts_marketing);
        assert_eq!(c.date_created, "2023-01-30T00:49:10Z");
        assert_eq!(c.date_modified, "2023-01-30T00:49:10Z");
        assert_eq!(c.form_fields[0].value, "S, M");
        assert_eq!(addresses[0].street_1, "1 Main");
        assert_eq!(addresses[0].zip, "78726");
        assert_eq!(addresses[0].country_iso2, "US");
        assert_eq!(count, Some(12));
        for empty in ["null", "{}", "\"\"", "{\"a\":[1]}", "3"] {
            let json = format!(r#"{{"id":1,"addresses":{empty}}}"#);
            let c: V3Customer = serde_json::from_str(&json).unwrap();
            assert!(c.addresses.is_empty(), "{empty}");
        }
    }

    /// The rule as it was written over a `serde_json::Value` (before the typed [`Amount`]):
    /// the typed reading must give the same text for every shape a store might send.
    fn credit_of_value(amounts: &Value) -> String {
        let mut total: i128 = 0;
        if let Value::Array(items) = amounts {
            for item in items {
                let amount = item.get("amount").unwrap_or(item);
                let text = crate::api::models::value_to_text(amount);
                if let Ok(f) = text.trim().parse::<f64>() {
                    if f.is_finite() {
                        total = total.saturating_add((f * 10_000.0).round() as i128);
                    }
                }
            }
        }
        let sign = if total < 0 { "-" } else { "" };
        let v = total.unsigned_abs();
        format!("{sign}{}.{:04}", v / 10_000, v % 10_000)
    }

    #[test]
    fn typed_credit_amounts_read_as_the_value_rule_did() {
        for json in [
            "null",
            "{}",
            "3",
            r#""12.5""#,
            "[]",
            r#"[{"amount":43.15},{"amount":"1"}]"#,
            r#"[{"amount":-3.25}]"#,
            r#"[{"amount":0.00005},{"amount":1e3},{"amount":-0.00004}]"#,
            r#"[{"amount":" 2.5 "},{"amount":"abc"},{"amount":"inf"},{"amount":"NaN"}]"#,
            r#"[{"amount":null},{"amount":true},{"amount":{}},{"amount":{"x":1}}]"#,
            r#"[{"amount":[5]},{"amount":[1,2]},{"amount":["7"]},[3],[],[[4]]]"#,
            r#"[{"currency":"USD"},{},{"amount":1,"amount":2},{"Amount":9}]"#,
            r#"[7, "8", -1, 18446744073709551615, -9223372036854775808, 1.5e300, null, true]"#,
            r#"[{"amount":12345678901234567890},{"amount":"0x10"},{"amount":"1_0"}]"#,
            r#"[{"amount":1e15},{"amount":1e15}]"#,
            r#"[{"amount":"5"},{"amount":6}]"#,
            r#"[{"amount":{"amount":3}}]"#,
        ] {
            let value: Value = serde_json::from_str(json).unwrap();
            let page = format!(r#"{{"id":1,"store_credit_amounts":{json}}}"#);
            let typed: V3Customer = serde_json::from_str(&page).unwrap();
            let amounts = &typed.store_credit_amounts;
            assert_eq!(amounts.v2_text(), credit_of_value(&value), "{json}");
            assert_eq!(
                amounts.units(),
                super::super::credit::units(&value),
                "{json}"
            );
        }
        let none: V3Customer = serde_json::from_str(r#"{"id":1}"#).unwrap();
        assert_eq!(none.store_credit_amounts.v2_text(), "0.0000");
        assert_eq!(none.store_credit_amounts.units(), None);
    }

    #[test]
    fn credit_digits_are_those_format_wrote() {
        let mut values = vec![0, 1, -1, 9_999, -10_000, 10_001, 125_000, -32_500, 431_500];
        values.extend([i128::MAX, i128::MIN, i128::MAX - 1, i128::MIN + 1]);
        values.extend((0..2_000).map(|i: i128| i * i * 7_919 - 3_000_000));
        for total in values {
            let sign = if total < 0 { "-" } else { "" };
            let v = total.unsigned_abs();
            let old = format!("{sign}{}.{:04}", v / 10_000, v % 10_000);
            assert_eq!(decimal4(total), old, "{total}");
        }
    }

    #[test]
    fn counts_are_strict() {
        let total = |v: Value| strict_count(&v);
        assert_eq!(total(serde_json::json!(36)), Some(36));
        assert_eq!(total(serde_json::json!(3.0)), Some(3));
        assert_eq!(total(serde_json::json!(-5)), None);
        assert_eq!(total(serde_json::json!(2.5)), None);
        assert_eq!(total(serde_json::json!("abc")), None);
        assert_eq!(total(Value::Null), None);
    }
}
