//! The addresses part of [`Store`]: a customer's addresses in ascending id.

use super::super::countries;
use super::{Address, AddressPatch, AddressType, Store, Text};

impl Store {
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
