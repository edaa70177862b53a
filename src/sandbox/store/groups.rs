//! The customer groups part of [`Store`]: one default and one guest group at most, names unique.

use serde_json::Value;

use super::{Group, GroupPatch, Refused, Store};

impl Store {
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
}
