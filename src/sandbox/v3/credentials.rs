//! `POST /v3/customers/validate-credentials` (reference/bigcommerce-v3.md §11).

use hyper::StatusCode;
use serde_json::{json, Value};

use super::super::handlers::Reply;
use super::super::server::Shared;
use super::body::{integer, object, required, text};
use super::{Handled, Schema};

pub(super) fn validate_credentials(shared: &Shared, body: &[u8]) -> Handled {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| Schema::new("obj", "error.expected.jsvalue").reply())?;
    let obj = object(&value, "obj").map_err(Schema::reply)?;
    let parsed = (|| {
        let email = required(text(obj, "", "email", 1, 255)?, "", "email")?;
        let password = required(text(obj, "", "password", 1, 255)?, "", "password")?;
        // "If this field is empty we will use channel 1" (§11).
        let channel = integer(obj, "", "channel_id")?.unwrap_or(1);
        Ok::<_, Schema>((email, password, channel))
    })();
    let (email, password, channel) = parsed.map_err(Schema::reply)?;
    let store = shared.read_store();
    let customer_id = store.customer_by_email(&email).filter(|id| {
        let channel_ok = match store
            .v3_customers
            .get(id)
            .and_then(|e| e.channel_ids.as_ref())
        {
            Some(channels) => channels.contains(&channel),
            // A global customer logs in where global logins are allowed: by default only
            // the storefront, channel 1 (§12).
            None => channel == 1,
        };
        channel_ok && store.password_of(*id).as_deref() == Some(password.as_str())
    });
    Ok(Reply::json(
        StatusCode::OK,
        &json!({"is_valid": customer_id.is_some(), "customer_id": customer_id}),
    ))
}
