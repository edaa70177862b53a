//! One input row → what it asks of the store: validated values and a comparison with the
//! store's current customer (to find `unchanged` rows), in no API's terms. The bodies each
//! API sends are the backends' (`api::v2::encode`, `api::v3::encode`).
//!
//! Messages name the column, what was wrong and what is allowed, because a person fixes the
//! row from the results file. They never contain a password.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use super::columns::{Field, Layout};
use super::countries;

/// The row's wishes. `values[f]` is `Some` when the row says something about field `f`.
#[derive(Debug, Clone, Default)]
pub struct RowData {
    pub id: Option<u64>,
    pub values: [Option<String>; Field::COUNT],
    /// A `customer_group` name still to resolve (used only when `customer_group_id` is blank).
    pub group_name: Option<String>,
    pub password: Option<String>,
    pub password_confirmation: Option<String>,
    pub address: Option<AddressData>,
    /// Why the row's address cannot be added (incomplete, unknown country, bad state). The
    /// customer is still created or updated: a customer is never refused because of its
    /// address; the caller reports the address as not added.
    pub address_problem: Option<String>,
    /// `form_field:<name>` cells as `(name, value)`, read only when the backend writes form
    /// fields ([`Capabilities::writable_form_fields`]); a blank cell is kept only under
    /// `--blank clear` (as `""`).
    pub form_fields: Vec<(String, String)>,
    /// `accepts_marketing`, read only when the backend writes it (as form fields).
    pub accepts_marketing: Option<bool>,
}

/// What the store's API can write, as the mapping needs to know it: the backend says
/// (`api::store::Writer::capabilities`); the mapping does not name the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Customers per write request (1 for one request per customer).
    pub batch_size: usize,
    /// `form_field:<name>` columns and `accepts_marketing` are written; otherwise they are
    /// read-only columns, accepted and not sent.
    pub writable_form_fields: bool,
    /// A new customer's address goes in the create itself (no request of its own).
    pub addresses_inline: bool,
}

/// An address the row wants the customer to have.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddressData {
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub street_1: String,
    pub street_2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub country: String,
    pub phone: String,
    pub address_type: String,
}

/// `--blank keep|clear`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Blank {
    /// A blank cell leaves the field unchanged.
    #[default]
    Keep,
    /// A blank cell clears the field on update.
    Clear,
}

impl RowData {
    pub fn get(&self, f: Field) -> Option<&str> {
        self.values[f.index()].as_deref()
    }

    pub fn email(&self) -> Option<&str> {
        self.get(Field::Email).filter(|e| !e.is_empty())
    }

    /// The key rows of one customer share (so they run one after another).
    pub fn key(&self) -> Option<String> {
        match (self.id, self.email()) {
            (Some(id), _) => Some(format!("#{id}")),
            (None, Some(e)) => Some(e.to_lowercase()),
            _ => None,
        }
    }

    /// Missing fields for a create, as a message (None when complete).
    pub fn missing_for_create(&self) -> Option<String> {
        let missing: Vec<&str> = [Field::Email, Field::FirstName, Field::LastName]
            .into_iter()
            .filter(|f| self.get(*f).is_none_or(str::is_empty))
            .map(|f| f.api_name())
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "a new customer needs {}: fill the column(s) {}",
                missing.join(", "),
                missing.join(", ")
            )
        })
    }

    /// Fields whose wish differs from the store's current value.
    pub fn changes(&self, current: &Snapshot) -> Vec<Field> {
        Field::ALL
            .into_iter()
            .filter(|f| match self.get(*f) {
                Some(v) => hash_value(*f, v) != current.hashes[f.index()],
                None => false,
            })
            .collect()
    }
}

/// What the store holds for a customer, compactly: the id and one hash per comparable field.
/// The planner keeps one per store customer in memory, so it is small on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: u64,
    pub hashes: [u64; Field::COUNT],
    /// Form field values and the marketing consent, compared where the backend writes them.
    pub extras: Extras,
}

/// What V3 writes beyond the compared fields (bigcommerce-v3.md §10, §13.1): the customer's
/// form field values by name and `accepts_marketing`, hashed like the fields. Empty (16
/// bytes) for a customer without form fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extras {
    pub accepts_marketing: bool,
    /// `(hash of the name, hash of the trimmed value)`, sorted by name.
    form_fields: Box<[(u64, u64)]>,
}

impl Extras {
    pub fn of<'a>(
        accepts_marketing: bool,
        fields: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Extras {
        let mut form_fields: Vec<(u64, u64)> =
            fields.map(|(n, v)| (hash_text(n), hash_text(v))).collect();
        form_fields.sort_unstable();
        form_fields.dedup_by_key(|(n, _)| *n);
        Extras {
            accepts_marketing,
            form_fields: form_fields.into_boxed_slice(),
        }
    }

    fn value(&self, name: &str) -> Option<u64> {
        let n = hash_text(name);
        self.form_fields
            .binary_search_by_key(&n, |(k, _)| *k)
            .ok()
            .map(|i| self.form_fields[i].1)
    }

    /// The row asks for a form field value or a consent the customer does not have. A blank
    /// cell for a field the customer has no value for asks for nothing new.
    pub fn differ(&self, row: &RowData) -> bool {
        row.accepts_marketing
            .is_some_and(|a| a != self.accepts_marketing)
            || row
                .form_fields
                .iter()
                .any(|(name, value)| match self.value(name) {
                    Some(have) => have != hash_text(value),
                    None => !value.trim().is_empty(),
                })
    }

    /// These extras with the row's applied (what the customer holds after the row).
    fn apply(&self, row: &RowData) -> Extras {
        if row.form_fields.is_empty() && row.accepts_marketing.is_none() {
            return self.clone();
        }
        let mut fields: Vec<(u64, u64)> = self.form_fields.to_vec();
        for (name, value) in &row.form_fields {
            let n = hash_text(name);
            match fields.binary_search_by_key(&n, |(k, _)| *k) {
                Ok(i) => fields[i].1 = hash_text(value),
                Err(i) => fields.insert(i, (n, hash_text(value))),
            }
        }
        Extras {
            accepts_marketing: row.accepts_marketing.unwrap_or(self.accepts_marketing),
            form_fields: fields.into_boxed_slice(),
        }
    }
}

fn hash_text(v: &str) -> u64 {
    let mut h = DefaultHasher::new();
    v.trim().hash(&mut h);
    h.finish()
}

impl Snapshot {
    /// The snapshot after `row` was applied to `self` (or created from nothing).
    pub fn apply(&self, row: &RowData) -> Snapshot {
        let mut s = self.clone();
        for f in Field::ALL {
            if let Some(v) = row.get(f) {
                s.hashes[f.index()] = hash_value(f, v);
            }
        }
        s.extras = self.extras.apply(row);
        s
    }

    /// The customer as `create_payload(force_reset)` of `row` leaves it: `--force-password-reset`
    /// wins over the row's own `force_password_reset`, as in the payload.
    pub fn created(id: u64, row: &RowData, force_reset: bool) -> Snapshot {
        let mut s = Snapshot::empty(id).apply(row);
        if force_reset {
            s.hashes[Field::ForceReset.index()] = hash_value(Field::ForceReset, "true");
        }
        s
    }

    pub fn empty(id: u64) -> Snapshot {
        let mut s = Snapshot {
            id,
            hashes: [0; Field::COUNT],
            extras: Extras::default(),
        };
        for f in Field::ALL {
            let empty = match f {
                Field::StoreCredit | Field::CustomerGroupId => "0",
                Field::ForceReset => "false",
                _ => "",
            };
            s.hashes[f.index()] = hash_value(f, empty);
        }
        s
    }
}

/// Values compare after normalising what the API changes on the way: email case, decimal
/// formatting of store credit (`12.5` vs `"12.5000"`), surrounding spaces.
pub(crate) fn hash_value(f: Field, v: &str) -> u64 {
    let norm = match f {
        Field::Email => v.trim().to_lowercase(),
        Field::StoreCredit => normalise_decimal(v).unwrap_or_else(|| v.trim().to_string()),
        Field::CustomerGroupId => v
            .trim()
            .parse::<u64>()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| v.trim().to_string()),
        Field::Notes => v.to_string(),
        _ => v.trim().to_string(),
    };
    let mut h = DefaultHasher::new();
    norm.hash(&mut h);
    h.finish()
}

/// `"12.5000"` → `"12.5"`, `"0.0000"` → `"0"`; None if not a plain decimal number.
pub fn normalise_decimal(v: &str) -> Option<String> {
    let v = v.trim();
    let (neg, digits) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let body = if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    };
    Some(if neg && body != "0" {
        format!("-{body}")
    } else {
        body
    })
}

/// The currency symbols an amount may carry before or after it (the tool never converts:
/// the amount is taken in the store's currency).
const CURRENCY_SYMBOLS: &[char] = &[
    '$', '€', '£', '¥', '₹', '₩', '₽', '₺', '₪', '₫', '₱', '₦', '₴', '฿', '₣', '¢', '₡', '₲', '₵',
];

/// An amount as people and spreadsheets write it → a plain decimal (`"1234.5"`): a currency
/// symbol before or after it (`$12.50`, `12.50 €`, `US$5`, `£1,234.56`), thousands separators
/// in groups of three (`,` — or `.` with `decimal_comma` — and spaces), and a decimal `.` (or
/// `,` with `decimal_comma`). Without `decimal_comma`, a comma that can only be a decimal
/// separator (`12,50`) is refused, naming the flag: guessing would turn 12,50 into 1250.
/// The error completes "store_credit "x" ...".
pub fn parse_amount(value: &str, decimal_comma: bool) -> Result<String, String> {
    const HOW: &str =
        "is not an amount (use digits and a '.' decimal point, e.g. 12.50 or $1,234.56)";
    let mut v = value.trim();
    let (mut neg, rest) = strip_sign(v);
    v = rest;
    // A symbol before (with an optional country prefix: US$, A$, R$) or after the number.
    if let Some(i) = v.find(CURRENCY_SYMBOLS) {
        let sym_len = v[i..].chars().next().map_or(0, char::len_utf8);
        if i + sym_len == v.len() {
            v = v[..i].trim_end();
        } else if v[..i].chars().all(|c| c.is_ascii_uppercase()) && i <= 3 {
            v = v[i + sym_len..].trim_start();
        } else {
            return Err(HOW.into());
        }
        if !neg {
            let (n, rest) = strip_sign(v);
            neg = n;
            v = rest;
        }
    }
    let (group, decimal) = if decimal_comma {
        ('.', ',')
    } else {
        (',', '.')
    };
    let (int, frac) = match v.rsplit_once(decimal) {
        Some((int, frac)) => (int, Some(frac)),
        None => (v, None),
    };
    let groups: Vec<&str> = int.split([group, ' ', '\u{a0}', '\u{202f}']).collect();
    let grouped = groups.len() > 1;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let int_ok = if grouped {
        (1..=3).contains(&groups[0].len())
            && groups.iter().all(|g| digits(g))
            && groups[1..].iter().all(|g| g.len() == 3)
    } else {
        int.is_empty() && frac.is_some() || digits(int)
    };
    let frac_ok = frac.is_none_or(&digits);
    if !int_ok || !frac_ok || (int.is_empty() && frac.is_none()) {
        if !decimal_comma && frac.is_none() && v.matches(',').count() == 1 {
            let (a, b) = v.split_once(',').unwrap_or_default();
            if digits(a) && digits(b) && b.len() != 3 {
                return Err("has a decimal comma: pass --decimal-comma to read 12,50 as 12.50 (or write 12.50)".into());
            }
        }
        if decimal_comma && frac.is_none() && v.matches('.').count() == 1 {
            let (a, b) = v.split_once('.').unwrap_or_default();
            if digits(a) && digits(b) && b.len() != 3 {
                return Err("has a decimal point, but --decimal-comma reads '.' as a thousands separator (write 12,50 or 1.234,56)".into());
            }
        }
        return Err(if decimal_comma {
            "is not an amount (with --decimal-comma: digits and a ',' decimal separator, e.g. 12,50 or 1.234,56)".into()
        } else {
            HOW.into()
        });
    }
    let plain = format!(
        "{}{}{}",
        if neg { "-" } else { "" },
        groups.concat(),
        frac.map(|f| format!(".{f}")).unwrap_or_default()
    );
    normalise_decimal(&plain).ok_or_else(|| HOW.into())
}

fn strip_sign(v: &str) -> (bool, &str) {
    match v.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, v.strip_prefix('+').map_or(v, str::trim_start)),
    }
}

/// A plausible email address: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn valid_email(e: &str) -> bool {
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = e.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Read, clean and validate one record.
pub fn parse_row(
    layout: &Layout,
    record: &csv::StringRecord,
    blank: Blank,
) -> Result<RowData, String> {
    if let Some(m) = crate::input::ragged_message(record, layout.width) {
        return Err(m);
    }
    let raw = |i: Option<usize>| i.map(|i| layout.clean(record.get(i).unwrap_or("")));
    let mut row = RowData::default();
    if let Some(id) = raw(layout.id).map(str::trim).filter(|s| !s.is_empty()) {
        row.id =
            Some(id.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("id {id:?} is not a customer id (a positive whole number)")
            })?);
    }
    for f in Field::ALL {
        let Some(cell) = raw(layout.fields[f.index()]) else {
            continue;
        };
        let value = if f == Field::Notes {
            cell.to_string()
        } else {
            cell.trim().to_string()
        };
        if value.is_empty() {
            if blank == Blank::Clear {
                row.values[f.index()] = match f {
                    // Required fields cannot be cleared; a blank leaves them as they are.
                    Field::Email | Field::FirstName | Field::LastName => None,
                    Field::StoreCredit | Field::CustomerGroupId => Some("0".into()),
                    Field::ForceReset => Some("false".into()),
                    _ => Some(String::new()),
                };
            }
            continue;
        }
        let value = check_value(layout, f, value)?;
        row.values[f.index()] = Some(value);
    }
    if let Some(name) = raw(layout.group_name)
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        row.group_name = Some(name.to_string());
        // `customer_group_id` wins only when it is filled; a blank one (even with --blank clear)
        // gives way to the group name.
        let id_cell = raw(layout.fields[Field::CustomerGroupId.index()])
            .map(str::trim)
            .unwrap_or("");
        if id_cell.is_empty() {
            row.values[Field::CustomerGroupId.index()] = None;
        }
    }
    // A blank group name clears the group too (0 = no group), unless an id column says more.
    if blank == Blank::Clear
        && layout.group_name.is_some()
        && row.group_name.is_none()
        && row.values[Field::CustomerGroupId.index()].is_none()
    {
        row.values[Field::CustomerGroupId.index()] = Some("0".into());
    }
    row.password = raw(layout.password)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    row.password_confirmation = raw(layout.password_confirmation)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    match (&row.password, &row.password_confirmation) {
        (None, Some(_)) => {
            return Err("password_confirmation is filled but password is blank".into())
        }
        (Some(p), Some(c)) if p != c => {
            return Err("password_confirmation does not match password".into())
        }
        _ => {}
    }
    if layout.writes_form_fields {
        read_form_fields(layout, record, blank, &mut row)?;
    }
    if layout.has_address() {
        match parse_address(layout, record, &row) {
            Ok(a) => row.address = a,
            Err(problem) => row.address_problem = Some(problem),
        }
    }
    Ok(row)
}

/// Validate and normalise one filled cell of a typed field (email, store credit, group id,
/// force-reset); other fields pass through as they are.
fn check_value(layout: &Layout, f: Field, value: String) -> Result<String, String> {
    Ok(match f {
        Field::Email => {
            if !valid_email(&value) {
                return Err(format!("email {value:?} is not a valid email address"));
            }
            value
        }
        Field::StoreCredit => {
            let n = parse_amount(&value, layout.decimal_comma)
                .map_err(|why| format!("store_credit {value:?} {why}"))?;
            if n.starts_with('-') {
                return Err(format!("store_credit {value:?} is negative; store credit must be 0 or more"));
            }
            n
        }
        Field::CustomerGroupId => value
            .parse::<u64>()
            .map_err(|_| format!("customer_group_id {value:?} is not a group id (a whole number; 0 = no group); use the customer_group column for a group name"))?
            .to_string(),
        Field::ForceReset => parse_bool(&value)
            .ok_or_else(|| format!("{} {value:?} is not a boolean (use true or false)", layout.force_reset_header))?
            .to_string(),
        _ => value,
    })
}

/// The form fields and marketing consent of a layout whose backend writes them.
fn read_form_fields(
    layout: &Layout,
    record: &csv::StringRecord,
    blank: Blank,
    row: &mut RowData,
) -> Result<(), String> {
    let cell = |i: usize| layout.clean(record.get(i).unwrap_or("")).trim().to_string();
    for (name, i) in &layout.form_fields {
        let value = cell(*i);
        if !value.is_empty() || blank == Blank::Clear {
            row.form_fields.push((name.clone(), value));
        }
    }
    if let Some(i) = layout.accepts_marketing {
        let value = cell(i);
        row.accepts_marketing = if value.is_empty() {
            (blank == Blank::Clear).then_some(false)
        } else {
            Some(parse_bool(&value).ok_or_else(|| {
                format!("accepts_marketing {value:?} is not a boolean (use true or false)")
            })?)
        };
    }
    Ok(())
}

fn parse_address(
    layout: &Layout,
    record: &csv::StringRecord,
    row: &RowData,
) -> Result<Option<AddressData>, String> {
    let cell = |k: usize| {
        layout.address[k]
            .map(|i| layout.clean(record.get(i).unwrap_or("")).trim().to_string())
            .unwrap_or_default()
    };
    let cells: Vec<String> = (0..layout.address.len()).map(cell).collect();
    // address_type alone does not make an address.
    if cells[..10].iter().all(String::is_empty) {
        return Ok(None);
    }
    let or_row = |v: &String, f: Field| {
        if v.is_empty() {
            row.get(f).unwrap_or("").to_string()
        } else {
            v.clone()
        }
    };
    let mut a = AddressData {
        first_name: or_row(&cells[0], Field::FirstName),
        last_name: or_row(&cells[1], Field::LastName),
        company: cells[2].clone(),
        street_1: cells[3].clone(),
        street_2: cells[4].clone(),
        city: cells[5].clone(),
        state: cells[6].clone(),
        zip: cells[7].clone(),
        country: cells[8].clone(),
        phone: or_row(&cells[9], Field::Phone),
        address_type: cells[10].to_lowercase(),
    };
    let required = [
        ("address_first_name", &a.first_name),
        ("address_last_name", &a.last_name),
        ("address_street_1", &a.street_1),
        ("address_city", &a.city),
        ("address_zip", &a.zip),
        ("address_country", &a.country),
        ("address_phone", &a.phone),
    ];
    let missing: Vec<&str> = required
        .iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the address is incomplete: {} missing (V2 requires first and last name, street_1, city, zip, country and phone for an address, and a state in the United States, Canada and Australia; the customer's name and phone are used when the address ones are blank)",
            missing.join(", ")
        ));
    }
    a.country = countries::country_name(&a.country)
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "address_country {:?} is not a country name or ISO code the tool knows",
                a.country
            )
        })?;
    a.state = address_state(&a.country, &a.state)?;
    match a.address_type.as_str() {
        "" | "residential" | "commercial" => {}
        other => {
            return Err(format!(
                "address_type {other:?} is not residential or commercial"
            ))
        }
    }
    Ok(Some(a))
}

/// The countries whose states the tool knows (`countries::state_name` has their tables):
/// for them a state is required and must be one of theirs, sent as its full name.
const COUNTRIES_WITH_STATES: [&str; 3] = ["US", "CA", "AU"];

/// The state to send for an address in `country` (already the full name).
///
/// V2 requires `state` and says "for countries without states, send a space". A blank state
/// is therefore sent as `" "` for any country but those whose states the tool knows, where it
/// is an error (the store would refuse the address, or file it without a state). Elsewhere the
/// tool cannot tell a real subdivision from a typo, so a filled state is sent as written.
pub fn address_state(country: &str, state: &str) -> Result<String, String> {
    let has_states =
        countries::country_code(country).is_some_and(|c| COUNTRIES_WITH_STATES.contains(&c));
    if !has_states {
        return Ok(if state.is_empty() {
            " ".into()
        } else {
            state.into()
        });
    }
    if state.is_empty() {
        return Err(format!(
            "address_state is blank, but addresses in {country} need a state (the full name or its postal code, e.g. {})",
            example_state(country)
        ));
    }
    countries::state_name(country, state)
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "address_state {state:?} is not a state of {country} (use the full name or its postal code, e.g. {})",
                example_state(country)
            )
        })
}

fn example_state(country: &str) -> &'static str {
    match countries::country_code(country) {
        Some("CA") => "Ontario or ON",
        Some("AU") => "New South Wales or NSW",
        _ => "California or CA",
    }
}

impl AddressData {
    /// A hash of the address as [`AddressData::matches`] compares it (case and surrounding
    /// spaces ignored), to remember addresses this run added without keeping them.
    pub fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        for part in [
            &self.first_name,
            &self.last_name,
            &self.company,
            &self.street_1,
            &self.street_2,
            &self.city,
            &self.state,
            &self.zip,
            &self.country,
            &self.phone,
        ] {
            part.trim().to_lowercase().hash(&mut h);
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(h: &[&str]) -> Layout {
        Layout::new(&csv::StringRecord::from(h.to_vec()))
    }

    #[test]
    fn decimals() {
        assert_eq!(normalise_decimal("12.5000").as_deref(), Some("12.5"));
        assert_eq!(normalise_decimal("0.0000").as_deref(), Some("0"));
        assert_eq!(normalise_decimal("007").as_deref(), Some("7"));
        assert_eq!(normalise_decimal("-1.50").as_deref(), Some("-1.5"));
        assert_eq!(normalise_decimal("1,5"), None);
        assert_eq!(normalise_decimal("."), None);
    }

    #[test]
    fn amounts_as_people_write_them() {
        let ok = |v: &str, dc: bool| parse_amount(v, dc).unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(ok("12.50", false), "12.5");
        assert_eq!(ok("$12.50", false), "12.5");
        assert_eq!(ok("12.50 €", false), "12.5");
        assert_eq!(ok("€5", false), "5");
        assert_eq!(ok("£1,234.56", false), "1234.56");
        assert_eq!(ok("1,234.56", false), "1234.56");
        assert_eq!(ok("1,234,567", false), "1234567");
        assert_eq!(ok("US$ 7", false), "7");
        assert_eq!(ok("1 234.50", false), "1234.5");
        assert_eq!(ok(".5", false), "0.5");
        assert_eq!(ok("-$3", false), "-3");
        assert_eq!(ok("1.234,56", true), "1234.56");
        assert_eq!(ok("12,50", true), "12.5");
        assert_eq!(ok("12,50 €", true), "12.5");
        assert_eq!(ok("1.234", true), "1234");
        assert_eq!(ok("1\u{a0}234,5", true), "1234.5");
        // Only a decimal comma fits: refused, naming the flag.
        for v in ["12,50", "1,5", "€12,50"] {
            assert!(
                parse_amount(v, false)
                    .unwrap_err()
                    .contains("--decimal-comma"),
                "{v}"
            );
        }
        assert!(parse_amount("12.50", true)
            .unwrap_err()
            .contains("--decimal-comma"));
        for v in [
            "abc",
            "12$50",
            "1,23,4",
            "12,3456.1",
            "$",
            "",
            "1.2.3",
            "12 EUR x",
        ] {
            assert!(parse_amount(v, false).is_err(), "{v}");
        }
    }

    #[test]
    fn emails() {
        assert!(valid_email("a.b+c@example.co.uk"));
        for bad in [
            "",
            "a",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "@c.com",
            "a@.com",
            "a@c..com",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn invalid_rows_say_which_column() {
        let l = layout(&["email", "store_credit", "force_password_reset"]);
        let rec = |v: &[&str]| csv::StringRecord::from(v.to_vec());
        assert!(parse_row(&l, &rec(&["x", "", ""]), Blank::Keep)
            .unwrap_err()
            .contains("email"));
        assert!(parse_row(&l, &rec(&["a@b.com", "-1", ""]), Blank::Keep)
            .unwrap_err()
            .contains("negative"));
        assert!(parse_row(&l, &rec(&["a@b.com", "abc", ""]), Blank::Keep)
            .unwrap_err()
            .contains("store_credit"));
        assert!(parse_row(&l, &rec(&["a@b.com", "1", "maybe"]), Blank::Keep)
            .unwrap_err()
            .contains("force_password_reset"));
        assert!(parse_row(&l, &rec(&["a@b.com", "1"]), Blank::Keep)
            .unwrap_err()
            .contains("fields"));
    }

    #[test]
    fn states_by_country() {
        assert_eq!(address_state("United States", "ca").unwrap(), "California");
        assert_eq!(address_state("Canada", "Quebec").unwrap(), "Quebec");
        assert!(address_state("Australia", "")
            .unwrap_err()
            .contains("need a state"));
        assert!(address_state("United States", "Narnia")
            .unwrap_err()
            .contains("not a state of United States"));
        // Countries whose states the tool does not know: a blank is a space, V2's "no state".
        assert_eq!(address_state("Germany", "").unwrap(), " ");
        assert_eq!(address_state("Germany", "Bayern").unwrap(), "Bayern");
    }

    #[test]
    fn verbatim_layout_keeps_leading_quotes() {
        let mut l = layout(&["email", "notes"]);
        let rec = csv::StringRecord::from(vec!["a@b.com", "''twice"]);
        let row = parse_row(&l, &rec, Blank::Keep).unwrap();
        assert_eq!(
            row.get(Field::Notes),
            Some("'twice"),
            "the tool's layout removes one"
        );
        l.verbatim = true;
        let row = parse_row(&l, &rec, Blank::Keep).unwrap();
        assert_eq!(
            row.get(Field::Notes),
            Some("''twice"),
            "a mapped record is as mapped"
        );
    }

    #[test]
    fn passwords_never_in_messages() {
        let l = layout(&["email", "password", "password_confirmation"]);
        let err = parse_row(
            &l,
            &csv::StringRecord::from(vec!["a@b.com", "Secret123", "Other456"]),
            Blank::Keep,
        )
        .unwrap_err();
        assert!(!err.contains("Secret123") && !err.contains("Other456"));
    }
}
