//! The sandbox's data: customers, addresses and groups, with the indexes the API needs
//! (customers by id in a `BTreeMap` so `min_id` pages are O(log n + page); emails
//! case-folded in a `HashMap` for uniqueness and the `email` filter), and their JSON rendering.
//!
//! Strings are `Cow<'static, str>` so the million seeded customers can borrow names, companies
//! and notes from static tables instead of allocating each one.
//!
//! Layout: this file holds the types and the customers; `filter` the V2 list filters;
//! `addresses` and `groups` their parts of [`Store`]; `email_index` the email lookup;
//! `raw` the lenient insert for tests; `render` the V2 JSON.

mod addresses;
mod email_index;
mod filter;
mod groups;
mod raw;
mod render;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::seed;
use email_index::EmailIndex;
pub(crate) use filter::CustomerFilter;

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
    #[serde(serialize_with = "render::serialize_date")]
    pub date_created: i64,
    #[serde(serialize_with = "render::serialize_date")]
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
}

impl Store {
    // ---- for the V3 routes (sandbox/v3) ----

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
