//! [`Store::insert_raw`]: the lenient insert behind `Sandbox::insert_customer` for tests.

use serde_json::Value;

use super::{Customer, FormFields, Password, Store, Text};

impl Store {
    /// `insert_customer` for tests: lenient, fills defaults, honours `id`, dates, `form_fields`.
    pub fn insert_raw(&mut self, v: &Value) -> Result<u64, String> {
        let now = super::super::server::now_secs();
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
                .and_then(super::super::handlers::parse_date)
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
                .and_then(|sc| super::super::handlers::parse_credit(sc).ok())
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
}
