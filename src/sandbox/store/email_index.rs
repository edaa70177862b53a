//! Customer ids by a hash of their case-folded email.

use std::collections::{BTreeMap, HashMap};

use super::Customer;

/// Customer ids by a hash of their case-folded email: 24 bytes an entry instead of a `String`
/// key and its allocation, which matters at a million customers. Different emails with equal
/// hashes (vanishingly rare) share a slot and are told apart by the customers' own emails.
#[derive(Default)]
pub(super) struct EmailIndex(pub(super) HashMap<u64, EmailSlot>);

pub(super) enum EmailSlot {
    One(u64),
    Many(Vec<u64>),
}

impl EmailIndex {
    fn key(folded: &str) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        BuildHasherDefault::<DefaultHasher>::default().hash_one(folded)
    }

    pub(super) fn find(&self, email: &str, customers: &BTreeMap<u64, Customer>) -> Option<u64> {
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

    pub(super) fn insert(&mut self, email: &str, id: u64) {
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

    pub(super) fn remove(&mut self, email: &str, id: u64) {
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
