//! The sandbox's data: customers, addresses and groups, with the indexes the API needs
//! (customers by id in a `BTreeMap` so `min_id` pages are O(log n + page); emails
//! case-folded in a `HashMap` for uniqueness and the `email` filter), and their JSON rendering.
//!
//! Strings are `Cow<'static, str>` so the million seeded customers can borrow names, companies
//! and notes from static tables instead of allocating each one.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::countries;
use super::seed;

pub(crate) type Text = Cow<'static, str>;

/// Where the `addresses` link of a customer points: `{base}/stores/{hash}/v2`.
pub(crate) struct Links {
    pub api_root: String,
}

pub(crate) struct Customer {
    pub id: u64,
    pub first_name: Text,
    pub last_name: Text,
    pub email: Text,
    pub company: Text,
    pub phone: Text,
    pub notes: Text,
    pub registration_ip_address: Text,
    pub tax_exempt_category: Text,
    /// In ten-thousandths, as the API renders it with 4 decimals.
    pub store_credit: i64,
    pub customer_group_id: u64,
    /// Unix seconds, UTC.
    pub date_created: i64,
    pub date_modified: i64,
    pub reset_pass_on_login: bool,
    pub accepts_marketing: bool,
    pub form_fields: FormFields,
    pub password: Password,
}

/// V2 cannot write form fields, so they come only from seeding or `insert_customer`.
pub(crate) enum FormFields {
    /// Bit i set = the customer has `seed::FORM_FIELDS[i]`; values are derived from the id, so a
    /// million seeded customers cost two bytes each here.
    Seeded(u16),
    Listed(Vec<(String, Value)>),
}

pub(crate) enum Password {
    /// Seeded customers: `seed::seeded_password(id)`, derived instead of stored.
    Seeded,
    Plain(Box<str>),
}

#[derive(Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AddressType {
    Residential,
    Commercial,
}

#[derive(Serialize)]
pub(crate) struct Address {
    pub id: u64,
    pub customer_id: u64,
    pub first_name: Text,
    pub last_name: Text,
    pub company: Text,
    pub street_1: Text,
    pub street_2: Text,
    pub city: Text,
    pub state: Text,
    pub zip: Text,
    pub country: Text,
    pub country_iso2: &'static str,
    pub phone: Text,
    pub address_type: AddressType,
}

#[derive(Serialize)]
pub(crate) struct Group {
    pub id: u64,
    pub name: String,
    pub is_default: bool,
    pub category_access: Value,
    pub discount_rules: Value,
    pub is_group_for_guests: bool,
    #[serde(serialize_with = "serialize_date")]
    pub date_created: i64,
    #[serde(serialize_with = "serialize_date")]
    pub date_modified: i64,
}

/// A validated customer create or update: `None` = leave as is.
#[derive(Default)]
pub(crate) struct CustomerPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub notes: Option<String>,
    pub registration_ip_address: Option<String>,
    pub tax_exempt_category: Option<String>,
    pub store_credit: Option<i64>,
    pub customer_group_id: Option<u64>,
    pub reset_pass_on_login: Option<bool>,
    pub password: Option<String>,
}

/// A validated address create or update: `None` = leave as is.
#[derive(Default)]
pub(crate) struct AddressPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub street_1: Option<String>,
    pub street_2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub address_type: Option<AddressType>,
}

/// A validated group create or update: `None` = leave as is.
#[derive(Default)]
pub(crate) struct GroupPatch {
    pub name: Option<String>,
    pub is_default: Option<bool>,
    pub category_access: Option<Value>,
    pub discount_rules: Option<Value>,
    pub is_group_for_guests: Option<bool>,
}

/// Why a write that passed field validation cannot be applied to the current state.
#[derive(Debug)]
pub(crate) enum Refused {
    EmailInUse(String),
    UnknownGroup(u64),
    GroupNameInUse(String),
}

/// The `GET /customers` and `/customers/count` filters; `None` = not filtered.
#[derive(Default)]
pub(crate) struct CustomerFilter {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub tax_exempt_category: Option<String>,
    pub store_credit: Option<i64>,
    pub customer_group_id: Option<u64>,
    pub min_id: Option<u64>,
    pub max_id: Option<u64>,
    pub min_date_created: Option<i64>,
    pub max_date_created: Option<i64>,
    pub min_date_modified: Option<i64>,
    pub max_date_modified: Option<i64>,
}

impl CustomerFilter {
    fn matches(&self, c: &Customer) -> bool {
        // Filter values arrive lower-cased; comparisons ignore case, as the store's database does.
        fn same(wanted: &Option<String>, actual: &str) -> bool {
            wanted.as_ref().is_none_or(|w| {
                if actual.is_ascii() {
                    w.eq_ignore_ascii_case(actual)
                } else {
                    *w == actual.to_lowercase()
                }
            })
        }
        same(&self.email, &c.email)
            && same(&self.first_name, &c.first_name)
            && same(&self.last_name, &c.last_name)
            && same(&self.company, &c.company)
            && same(&self.phone, &c.phone)
            && same(&self.tax_exempt_category, &c.tax_exempt_category)
            && self.store_credit.is_none_or(|v| v == c.store_credit)
            && self
                .customer_group_id
                .is_none_or(|v| v == c.customer_group_id)
            && self.min_date_created.is_none_or(|v| c.date_created >= v)
            && self.max_date_created.is_none_or(|v| c.date_created <= v)
            && self.min_date_modified.is_none_or(|v| c.date_modified >= v)
            && self.max_date_modified.is_none_or(|v| c.date_modified <= v)
    }

    /// Only an id range: counts need no scan of the other fields.
    fn is_id_range_only(&self) -> bool {
        let CustomerFilter {
            email,
            first_name,
            last_name,
            company,
            phone,
            tax_exempt_category,
            store_credit,
            customer_group_id,
            min_id: _,
            max_id: _,
            min_date_created,
            max_date_created,
            min_date_modified,
            max_date_modified,
        } = self;
        email.is_none()
            && first_name.is_none()
            && last_name.is_none()
            && company.is_none()
            && phone.is_none()
            && tax_exempt_category.is_none()
            && store_credit.is_none()
            && customer_group_id.is_none()
            && min_date_created.is_none()
            && max_date_created.is_none()
            && min_date_modified.is_none()
            && max_date_modified.is_none()
    }
}

/// What only the V3 API shows or writes about a customer (reference/bigcommerce-v3.md §12,
/// §13): kept beside the shared record so V2 and V3 see one customer.
#[derive(Clone, Default)]
pub(crate) struct V3Extras {
    /// `None` = a global customer (`channel_ids: null`).
    pub channel_ids: Option<Vec<u64>>,
    /// `None` = created without one, shown as channel 1 (§12: API creates came back as `1`).
    pub origin_channel_id: Option<u64>,
}

pub(crate) struct Store {
    customers: BTreeMap<u64, Customer>,
    /// V3-only customer data by customer id (absent = defaults); see [`V3Extras`].
    pub v3_customers: HashMap<u64, V3Extras>,
    /// V3 address form fields by address id (V2 addresses have none it can write).
    pub v3_address_form_fields: HashMap<u64, Vec<(String, Value)>>,
    by_email: EmailIndex,
    /// Customer id → its addresses, ascending id (ids only grow, so pushing keeps the order).
    addresses: HashMap<u64, Vec<Address>>,
    groups: BTreeMap<u64, Group>,
    next_customer_id: u64,
    next_address_id: u64,
    next_group_id: u64,
    /// Seed of the derived seeded values (form fields) and of generated passwords.
    salt: u64,
    rng: fastrand::Rng,
}

impl Store {
    /// An empty store with the seed groups (when the plan has groups).
    pub fn new(groups_enabled: bool, salt: u64) -> Store {
        let mut groups = BTreeMap::new();
        if groups_enabled {
            for (id, name) in [(1, "Retail"), (2, "Wholesale"), (3, "VIP")] {
                groups.insert(
                    id,
                    Group {
                        id,
                        name: name.to_string(),
                        is_default: id == 1,
                        category_access: serde_json::json!({"type": "all"}),
                        discount_rules: Value::Array(Vec::new()),
                        is_group_for_guests: false,
                        date_created: seed::SEED_GROUPS_CREATED,
                        date_modified: seed::SEED_GROUPS_CREATED,
                    },
                );
            }
        }
        Store {
            customers: BTreeMap::new(),
            v3_customers: HashMap::new(),
            v3_address_form_fields: HashMap::new(),
            by_email: EmailIndex::default(),
            addresses: HashMap::new(),
            next_group_id: groups.len() as u64 + 1,
            groups,
            next_customer_id: 1,
            next_address_id: 1,
            salt,
            rng: fastrand::Rng::with_seed(salt ^ 0x5eed_0f9a_5500),
        }
    }

    /// Load the seeded customers (ascending ids, keyed by id) and their addresses into an
    /// empty store.
    pub fn load_seeded(&mut self, customers: Vec<(u64, Customer)>, addresses: Vec<Address>) {
        assert!(self.customers.is_empty(), "seeding is for an empty store");
        self.by_email.0.reserve(customers.len());
        for (id, c) in &customers {
            self.by_email.insert(&c.email, *id);
        }
        if let Some((last, _)) = customers.last() {
            self.next_customer_id = self.next_customer_id.max(last + 1);
        }
        // `from_iter` bulk-builds full nodes from the sorted Vec (reusing its buffer);
        // inserting ascending keys one by one (`extend`) leaves nodes about half empty, a
        // few hundred MB more at a million customers.
        self.customers = BTreeMap::from_iter(customers);
        for a in addresses {
            self.next_address_id = self.next_address_id.max(a.id + 1);
            self.addresses.entry(a.customer_id).or_default().push(a);
        }
    }

    // ---- customers ----

    pub fn customer(&self, id: u64) -> Option<&Customer> {
        self.customers.get(&id)
    }

    pub fn list_customers(
        &self,
        filter: &CustomerFilter,
        page: usize,
        limit: usize,
    ) -> Vec<&Customer> {
        let skip = (page - 1).saturating_mul(limit);
        if let Some(email) = &filter.email {
            // The email index makes the commonest lookup (find a customer by email) O(1).
            return self
                .by_email
                .find(email, &self.customers)
                .and_then(|id| self.customers.get(&id))
                .filter(|c| self.in_id_range(filter, c.id) && filter.matches(c))
                .into_iter()
                .skip(skip)
                .take(limit)
                .collect();
        }
        match self.id_range(filter) {
            Some(range) => self
                .customers
                .range(range)
                .map(|(_, c)| c)
                .filter(|c| filter.matches(c))
                .skip(skip)
                .take(limit)
                .collect(),
            None => Vec::new(),
        }
    }

    pub fn count_customers(&self, filter: &CustomerFilter) -> usize {
        if filter.email.is_some() {
            return self.list_customers(filter, 1, 1).len();
        }
        let Some(range) = self.id_range(filter) else {
            return 0;
        };
        if filter.is_id_range_only() {
            if filter.min_id.is_none() && filter.max_id.is_none() {
                return self.customers.len();
            }
            return self.customers.range(range).count();
        }
        self.customers
            .range(range)
            .filter(|(_, c)| filter.matches(c))
            .count()
    }

    fn id_range(&self, filter: &CustomerFilter) -> Option<std::ops::RangeInclusive<u64>> {
        let lo = filter.min_id.unwrap_or(0);
        let hi = filter.max_id.unwrap_or(u64::MAX);
        (lo <= hi).then_some(lo..=hi)
    }

    fn in_id_range(&self, filter: &CustomerFilter, id: u64) -> bool {
        filter.min_id.is_none_or(|v| id >= v) && filter.max_id.is_none_or(|v| id <= v)
    }

    /// Check what a create (`id` None) or update would refer to: a free email, an existing group.
    pub fn check_customer_patch(
        &self,
        patch: &CustomerPatch,
        id: Option<u64>,
    ) -> Result<(), Refused> {
        if let Some(email) = &patch.email {
            if let Some(owner) = self.by_email.find(email, &self.customers) {
                if Some(owner) != id {
                    return Err(Refused::EmailInUse(email.clone()));
                }
            }
        }
        if let Some(group) = patch.customer_group_id {
            if group != 0 && !self.groups.contains_key(&group) {
                return Err(Refused::UnknownGroup(group));
            }
        }
        Ok(())
    }

    pub fn create_customer(&mut self, patch: CustomerPatch, now: i64) -> Result<u64, Refused> {
        self.check_customer_patch(&patch, None)?;
        let id = self.next_customer_id;
        self.next_customer_id += 1;
        let password = match patch.password.clone() {
            Some(p) => p,
            None => self.generated_password(),
        };
        let mut customer = Customer {
            id,
            first_name: Text::Borrowed(""),
            last_name: Text::Borrowed(""),
            email: Text::Borrowed(""),
            company: Text::Borrowed(""),
            phone: Text::Borrowed(""),
            notes: Text::Borrowed(""),
            registration_ip_address: Text::Borrowed(""),
            tax_exempt_category: Text::Borrowed(""),
            store_credit: 0,
            customer_group_id: 0,
            date_created: now,
            date_modified: now,
            reset_pass_on_login: false,
            accepts_marketing: false,
            form_fields: FormFields::Listed(Vec::new()),
            password: Password::Plain(password.into()),
        };
        apply_customer_patch(&mut customer, patch);
        self.by_email.insert(&customer.email, id);
        self.customers.insert(id, customer);
        Ok(id)
    }

    pub fn update_customer(
        &mut self,
        id: u64,
        patch: CustomerPatch,
        now: i64,
    ) -> Result<(), Refused> {
        self.check_customer_patch(&patch, Some(id))?;
        let Some(customer) = self.customers.get_mut(&id) else {
            return Ok(());
        };
        if let Some(new_email) = &patch.email {
            self.by_email.remove(&customer.email, id);
            self.by_email.insert(new_email, id);
        }
        apply_customer_patch(customer, patch);
        customer.date_modified = now;
        Ok(())
    }

    pub fn delete_customer(&mut self, id: u64) -> bool {
        match self.customers.remove(&id) {
            Some(c) => {
                self.by_email.remove(&c.email, id);
                self.v3_customers.remove(&id);
                for a in self.addresses.remove(&id).unwrap_or_default() {
                    self.v3_address_form_fields.remove(&a.id);
                }
                true
            }
            None => false,
        }
    }

    pub fn delete_all_customers(&mut self) -> bool {
        let had_any = !self.customers.is_empty();
        self.customers.clear();
        self.by_email.0.clear();
        self.addresses.clear();
        self.v3_customers.clear();
        self.v3_address_form_fields.clear();
        had_any
    }

    pub fn password_of(&self, id: u64) -> Option<String> {
        self.customers.get(&id).map(|c| match &c.password {
            Password::Seeded => seed::seeded_password(id),
            Password::Plain(p) => p.to_string(),
        })
    }

    fn generated_password(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut p: String = (0..14)
            .map(|_| ALPHABET[self.rng.usize(..ALPHABET.len())] as char)
            .collect();
        // Generated passwords obey the same letters-and-digits rule as set ones.
        p.push_str("a7");
        p
    }

    /// `insert_customer` for tests: lenient, fills defaults, honours `id`, dates, `form_fields`.
    pub fn insert_raw(&mut self, v: &Value) -> Result<u64, String> {
        let now = super::server::now_secs();
        let text = |key: &str| -> Text {
            match v.get(key) {
                Some(Value::String(s)) => Text::Owned(s.clone()),
                Some(Value::Number(n)) => Text::Owned(n.to_string()),
                _ => Text::Borrowed(""),
            }
        };
        let id = match v.get("id").and_then(Value::as_u64) {
            Some(id) if self.customers.contains_key(&id) => {
                return Err(format!("id {id} is already taken"))
            }
            Some(id) => id,
            None => self.next_customer_id,
        };
        let email = text("email");
        if !email.is_empty() && self.by_email.find(&email, &self.customers).is_some() {
            return Err(format!("email {email:?} is already in use"));
        }
        let date = |key: &str| {
            v.get(key)
                .and_then(Value::as_str)
                .and_then(super::handlers::parse_date)
        };
        let date_created = date("date_created").unwrap_or(now);
        let form_fields = match v.get("form_fields") {
            Some(Value::Array(items)) => FormFields::Listed(
                items
                    .iter()
                    .map(|item| {
                        let name = item.get("name").and_then(Value::as_str).unwrap_or("");
                        let value = item.get("value").cloned().unwrap_or(Value::Null);
                        (name.to_string(), value)
                    })
                    .collect(),
            ),
            _ => FormFields::Listed(Vec::new()),
        };
        let password = v
            .pointer("/_authentication/password")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| self.generated_password());
        let customer = Customer {
            id,
            first_name: text("first_name"),
            last_name: text("last_name"),
            email,
            company: text("company"),
            phone: text("phone"),
            notes: text("notes"),
            registration_ip_address: text("registration_ip_address"),
            tax_exempt_category: text("tax_exempt_category"),
            store_credit: v
                .get("store_credit")
                .and_then(|sc| super::handlers::parse_credit(sc).ok())
                .unwrap_or(0),
            customer_group_id: v
                .get("customer_group_id")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            date_created,
            date_modified: date("date_modified").unwrap_or(date_created),
            reset_pass_on_login: v
                .get("reset_pass_on_login")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            accepts_marketing: v
                .get("accepts_marketing")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            form_fields,
            password: Password::Plain(password.into()),
        };
        if !customer.email.is_empty() {
            self.by_email.insert(&customer.email, id);
        }
        self.next_customer_id = self.next_customer_id.max(id + 1);
        self.customers.insert(id, customer);
        Ok(id)
    }

    // ---- addresses ----

    pub fn addresses_of(&self, customer_id: u64) -> &[Address] {
        self.addresses
            .get(&customer_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn address(&self, customer_id: u64, address_id: u64) -> Option<&Address> {
        self.addresses_of(customer_id)
            .iter()
            .find(|a| a.id == address_id)
    }

    /// The caller has checked that the customer exists and the required fields are present.
    pub fn create_address(&mut self, customer_id: u64, patch: AddressPatch) -> u64 {
        let id = self.next_address_id;
        self.next_address_id += 1;
        let mut address = Address {
            id,
            customer_id,
            first_name: Text::Borrowed(""),
            last_name: Text::Borrowed(""),
            company: Text::Borrowed(""),
            street_1: Text::Borrowed(""),
            street_2: Text::Borrowed(""),
            city: Text::Borrowed(""),
            state: Text::Borrowed(""),
            zip: Text::Borrowed(""),
            country: Text::Borrowed(""),
            country_iso2: "",
            phone: Text::Borrowed(""),
            address_type: AddressType::Residential,
        };
        apply_address_patch(&mut address, patch);
        self.addresses.entry(customer_id).or_default().push(address);
        id
    }

    /// `false` when the address does not exist.
    pub fn update_address(
        &mut self,
        customer_id: u64,
        address_id: u64,
        patch: AddressPatch,
    ) -> bool {
        let found = self
            .addresses
            .get_mut(&customer_id)
            .and_then(|list| list.iter_mut().find(|a| a.id == address_id));
        match found {
            Some(address) => {
                apply_address_patch(address, patch);
                true
            }
            None => false,
        }
    }

    pub fn delete_address(&mut self, customer_id: u64, address_id: u64) -> bool {
        let Some(list) = self.addresses.get_mut(&customer_id) else {
            return false;
        };
        let before = list.len();
        list.retain(|a| a.id != address_id);
        self.v3_address_form_fields.remove(&address_id);
        before != list.len()
    }

    pub fn delete_addresses_of(&mut self, customer_id: u64) -> bool {
        let list = self.addresses.remove(&customer_id).unwrap_or_default();
        for a in &list {
            self.v3_address_form_fields.remove(&a.id);
        }
        !list.is_empty()
    }

    // ---- for the V3 routes (sandbox/v3.rs) ----

    /// Every customer, ascending id.
    pub fn all_customers(&self) -> impl Iterator<Item = &Customer> {
        self.customers.values()
    }

    /// The customers with ids in `range`, ascending (V3's cursor paging is a keyset on id).
    pub fn customers_in(
        &self,
        range: impl std::ops::RangeBounds<u64>,
    ) -> impl DoubleEndedIterator<Item = &Customer> {
        self.customers.range(range).map(|(_, c)| c)
    }

    pub fn customer_total(&self) -> usize {
        self.customers.len()
    }

    /// The id of the customer with this email (case-insensitive), if any.
    pub fn customer_by_email(&self, email: &str) -> Option<u64> {
        self.by_email.find(email, &self.customers)
    }

    /// For the fields the email index does not depend on; change emails through
    /// [`Store::update_customer`].
    pub fn customer_mut(&mut self, id: u64) -> Option<&mut Customer> {
        self.customers.get_mut(&id)
    }

    /// The seed of the derived seeded values (form fields).
    pub fn salt(&self) -> u64 {
        self.salt
    }

    /// A customer's form fields as `(name, value)` pairs, seeded ones derived.
    pub fn form_fields_of(&self, c: &Customer) -> Vec<(String, Value)> {
        match &c.form_fields {
            FormFields::Seeded(mask) => seed::FORM_FIELDS
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(i, name)| {
                    let value = seed::form_field_value(self.salt, c.id, i);
                    (name.to_string(), Value::String(value))
                })
                .collect(),
            FormFields::Listed(list) => list.clone(),
        }
    }

    /// The customer owning an address id (a scan: V3 address updates name only the address).
    pub fn owner_of_address(&self, address_id: u64) -> Option<u64> {
        self.addresses
            .iter()
            .find(|(_, list)| list.iter().any(|a| a.id == address_id))
            .map(|(customer_id, _)| *customer_id)
    }

    /// Every address of every customer, ascending id.
    pub fn all_addresses(&self) -> Vec<&Address> {
        let mut all: Vec<&Address> = self.addresses.values().flatten().collect();
        all.sort_unstable_by_key(|a| a.id);
        all
    }

    // ---- groups ----

    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    pub fn group(&self, id: u64) -> Option<&Group> {
        self.groups.get(&id)
    }

    fn group_name_owner(&self, name: &str) -> Option<u64> {
        self.groups
            .values()
            .find(|g| g.name.eq_ignore_ascii_case(name))
            .map(|g| g.id)
    }

    pub fn create_group(&mut self, patch: GroupPatch, now: i64) -> Result<u64, Refused> {
        let name = patch.name.clone().unwrap_or_default();
        if self.group_name_owner(&name).is_some() {
            return Err(Refused::GroupNameInUse(name));
        }
        let id = self.next_group_id;
        self.next_group_id += 1;
        let mut group = Group {
            id,
            name,
            is_default: false,
            category_access: serde_json::json!({"type": "all"}),
            discount_rules: Value::Array(Vec::new()),
            is_group_for_guests: false,
            date_created: now,
            date_modified: now,
        };
        self.apply_group_patch(&mut group, patch);
        self.groups.insert(id, group);
        Ok(id)
    }

    /// `Ok(false)` when the group does not exist.
    pub fn update_group(&mut self, id: u64, patch: GroupPatch, now: i64) -> Result<bool, Refused> {
        if let Some(name) = &patch.name {
            if self.group_name_owner(name).is_some_and(|owner| owner != id) {
                return Err(Refused::GroupNameInUse(name.clone()));
            }
        }
        let Some(mut group) = self.groups.remove(&id) else {
            return Ok(false);
        };
        self.apply_group_patch(&mut group, patch);
        group.date_modified = now;
        self.groups.insert(id, group);
        Ok(true)
    }

    /// Deleting a group unassigns its customers (their `customer_group_id` becomes 0).
    pub fn delete_group(&mut self, id: u64) -> bool {
        if self.groups.remove(&id).is_none() {
            return false;
        }
        for c in self.customers.values_mut() {
            if c.customer_group_id == id {
                c.customer_group_id = 0;
            }
        }
        true
    }

    /// Applied to a group that is not in the map, so "only one default / guest group" can be
    /// enforced on the others.
    fn apply_group_patch(&mut self, group: &mut Group, patch: GroupPatch) {
        if let Some(name) = patch.name {
            group.name = name;
        }
        if let Some(v) = patch.category_access {
            group.category_access = v;
        }
        if let Some(v) = patch.discount_rules {
            group.discount_rules = v;
        }
        if let Some(v) = patch.is_default {
            if v {
                self.groups.values_mut().for_each(|g| g.is_default = false);
            }
            group.is_default = v;
        }
        if let Some(v) = patch.is_group_for_guests {
            if v {
                self.groups
                    .values_mut()
                    .for_each(|g| g.is_group_for_guests = false);
            }
            group.is_group_for_guests = v;
        }
    }

    // ---- rendering ----

    pub fn customer_view<'a>(&'a self, c: &'a Customer, links: &'a Links) -> CustomerJson<'a> {
        CustomerJson {
            c,
            links,
            salt: self.salt,
        }
    }

    pub fn customers_json(&self, links: &Links) -> Vec<Value> {
        self.customers
            .values()
            .map(|c| serde_json::to_value(self.customer_view(c, links)).expect("customer JSON"))
            .collect()
    }

    pub fn addresses_json(&self, customer_id: u64) -> Vec<Value> {
        self.addresses_of(customer_id)
            .iter()
            .map(|a| serde_json::to_value(a).expect("address JSON"))
            .collect()
    }

    pub fn groups_json(&self) -> Vec<Value> {
        self.groups
            .values()
            .map(|g| serde_json::to_value(g).expect("group JSON"))
            .collect()
    }
}

/// Customer ids by a hash of their case-folded email: 24 bytes an entry instead of a `String`
/// key and its allocation, which matters at a million customers. Different emails with equal
/// hashes (vanishingly rare) share a slot and are told apart by the customers' own emails.
#[derive(Default)]
struct EmailIndex(HashMap<u64, EmailSlot>);

enum EmailSlot {
    One(u64),
    Many(Vec<u64>),
}

impl EmailIndex {
    fn key(folded: &str) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        BuildHasherDefault::<DefaultHasher>::default().hash_one(folded)
    }

    fn find(&self, email: &str, customers: &BTreeMap<u64, Customer>) -> Option<u64> {
        let folded = email.to_lowercase();
        let owns = |id: &u64| {
            customers
                .get(id)
                .is_some_and(|c| c.email.to_lowercase() == folded)
        };
        match self.0.get(&Self::key(&folded))? {
            EmailSlot::One(id) => owns(id).then_some(*id),
            EmailSlot::Many(ids) => ids.iter().copied().find(|id| owns(id)),
        }
    }

    fn insert(&mut self, email: &str, id: u64) {
        use std::collections::hash_map::Entry;
        match self.0.entry(Self::key(&email.to_lowercase())) {
            Entry::Vacant(slot) => {
                slot.insert(EmailSlot::One(id));
            }
            Entry::Occupied(mut slot) => match slot.get_mut() {
                EmailSlot::One(other) => {
                    let other = *other;
                    slot.insert(EmailSlot::Many(vec![other, id]));
                }
                EmailSlot::Many(ids) => ids.push(id),
            },
        }
    }

    fn remove(&mut self, email: &str, id: u64) {
        use std::collections::hash_map::Entry;
        if let Entry::Occupied(mut slot) = self.0.entry(Self::key(&email.to_lowercase())) {
            match slot.get_mut() {
                EmailSlot::One(other) if *other == id => {
                    slot.remove();
                }
                EmailSlot::One(_) => {}
                EmailSlot::Many(ids) => {
                    ids.retain(|other| *other != id);
                    if let [last] = ids.as_slice() {
                        let last = *last;
                        slot.insert(EmailSlot::One(last));
                    }
                }
            }
        }
    }
}

fn apply_customer_patch(c: &mut Customer, patch: CustomerPatch) {
    let CustomerPatch {
        first_name,
        last_name,
        email,
        company,
        phone,
        notes,
        registration_ip_address,
        tax_exempt_category,
        store_credit,
        customer_group_id,
        reset_pass_on_login,
        password,
    } = patch;
    let set = |field: &mut Text, value: Option<String>| {
        if let Some(v) = value {
            *field = Text::Owned(v);
        }
    };
    set(&mut c.first_name, first_name);
    set(&mut c.last_name, last_name);
    set(&mut c.email, email);
    set(&mut c.company, company);
    set(&mut c.phone, phone);
    set(&mut c.notes, notes);
    set(&mut c.registration_ip_address, registration_ip_address);
    set(&mut c.tax_exempt_category, tax_exempt_category);
    if let Some(v) = store_credit {
        c.store_credit = v;
    }
    if let Some(v) = customer_group_id {
        c.customer_group_id = v;
    }
    if let Some(v) = reset_pass_on_login {
        c.reset_pass_on_login = v;
    }
    if let Some(p) = password {
        c.password = Password::Plain(p.into());
    }
}

fn apply_address_patch(a: &mut Address, patch: AddressPatch) {
    let AddressPatch {
        first_name,
        last_name,
        company,
        street_1,
        street_2,
        city,
        state,
        zip,
        country,
        phone,
        address_type,
    } = patch;
    let set = |field: &mut Text, value: Option<String>| {
        if let Some(v) = value {
            *field = Text::Owned(v);
        }
    };
    set(&mut a.first_name, first_name);
    set(&mut a.last_name, last_name);
    set(&mut a.company, company);
    set(&mut a.street_1, street_1);
    set(&mut a.street_2, street_2);
    set(&mut a.city, city);
    set(&mut a.state, state);
    set(&mut a.zip, zip);
    set(&mut a.phone, phone);
    if let Some(country) = country {
        a.country_iso2 = countries::iso2_of(&country);
        a.country = Text::Owned(country);
    }
    if let Some(t) = address_type {
        a.address_type = t;
    }
}

/// A customer as the API renders it: no password, `store_credit` as a 4-decimal string,
/// RFC-2822 dates, `form_fields` `{}` when there are none, `addresses` as a link.
pub(crate) struct CustomerJson<'a> {
    c: &'a Customer,
    links: &'a Links,
    salt: u64,
}

impl Serialize for CustomerJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = self.c;
        let mut map = serializer.serialize_map(Some(17))?;
        map.serialize_entry("id", &c.id)?;
        map.serialize_entry("company", &c.company)?;
        map.serialize_entry("first_name", &c.first_name)?;
        map.serialize_entry("last_name", &c.last_name)?;
        map.serialize_entry("email", &c.email)?;
        map.serialize_entry("phone", &c.phone)?;
        map.serialize_entry(
            "form_fields",
            &FormFieldsJson {
                fields: &c.form_fields,
                id: c.id,
                salt: self.salt,
            },
        )?;
        map.serialize_entry("date_created", &Rfc2822(c.date_created))?;
        map.serialize_entry("date_modified", &Rfc2822(c.date_modified))?;
        map.serialize_entry("store_credit", &Credit(c.store_credit))?;
        map.serialize_entry("registration_ip_address", &c.registration_ip_address)?;
        map.serialize_entry("customer_group_id", &c.customer_group_id)?;
        map.serialize_entry("notes", &c.notes)?;
        map.serialize_entry("tax_exempt_category", &c.tax_exempt_category)?;
        map.serialize_entry("reset_pass_on_login", &c.reset_pass_on_login)?;
        map.serialize_entry("accepts_marketing", &c.accepts_marketing)?;
        map.serialize_entry(
            "addresses",
            &AddressLink {
                api_root: &self.links.api_root,
                id: c.id,
            },
        )?;
        map.end()
    }
}

struct FormFieldsJson<'a> {
    fields: &'a FormFields,
    id: u64,
    salt: u64,
}

impl Serialize for FormFieldsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Field<'a, V: Serialize> {
            name: &'a str,
            value: V,
        }
        match self.fields {
            // The real API's quirk: no form fields is an empty *object*, not `[]`.
            FormFields::Seeded(0) => serializer.serialize_map(Some(0))?.end(),
            FormFields::Listed(list) if list.is_empty() => serializer.serialize_map(Some(0))?.end(),
            FormFields::Seeded(mask) => {
                let mut seq = serializer.serialize_seq(Some(mask.count_ones() as usize))?;
                for (i, name) in seed::FORM_FIELDS.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        seq.serialize_element(&Field {
                            name,
                            value: seed::form_field_value(self.salt, self.id, i),
                        })?;
                    }
                }
                seq.end()
            }
            FormFields::Listed(list) => {
                let mut seq = serializer.serialize_seq(Some(list.len()))?;
                for (name, value) in list {
                    seq.serialize_element(&Field { name, value })?;
                }
                seq.end()
            }
        }
    }
}

struct AddressLink<'a> {
    api_root: &'a str,
    id: u64,
}

impl Serialize for AddressLink<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let resource = format!("/customers/{}/addresses", self.id);
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("url", &format!("{}{resource}", self.api_root))?;
        map.serialize_entry("resource", &resource)?;
        map.end()
    }
}

/// Unix seconds shown as the API shows dates: `Wed, 10 Jan 2018 21:02:23 +0000`.
pub(crate) struct Rfc2822(pub i64);

impl fmt::Display for Rfc2822 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match chrono::DateTime::from_timestamp(self.0, 0) {
            Some(t) => write!(f, "{}", t.format("%a, %d %b %Y %H:%M:%S +0000")),
            None => f.write_str(""),
        }
    }
}

impl Serialize for Rfc2822 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn serialize_date<S: Serializer>(secs: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    Rfc2822(*secs).serialize(serializer)
}

/// Ten-thousandths shown as the API's decimal string, e.g. `"12.5000"`.
struct Credit(i64);

impl Serialize for Credit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sign = if self.0 < 0 { "-" } else { "" };
        let v = self.0.unsigned_abs();
        serializer.collect_str(&format_args!("{sign}{}.{:04}", v / 10_000, v % 10_000))
    }
}
