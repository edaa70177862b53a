//! The Customers V2 backend (`--api v2`, the default): everything that spells V2's routes and
//! bodies (reference/bigcommerce-api.md): `/customers`, `/customers/{id}/addresses`,
//! `/customer_groups`, `/customers/{id}/validate`, one request per write, RFC-2822 dates in
//! filters, full country names in address bodies, form fields read-only.
//!
//! - `client`: the typed V2 endpoint methods on the shared [`Client`](super::Client) (reads,
//!   one-request writes, groups, password checks).
//! - [`pages`]: the export's walk over every matching customer by id range.
//! - [`encode`]: the mapping's rows as V2 bodies, and a row compared with a V2 record.
//! - [`models`]: V2's own answers (`/customers/count`, `/customers/{id}/validate`).
//! - [`once`]: a customer deleted and a group created exactly once.
//! - [`write`]: the store seam's writes of the mapping's rows (`api::store::Writer::V2`).
//!
//! Requests go through the one [`Client`](super::Client), like V3's: only the routes, bodies
//! and paging differ.

mod client;
pub mod encode;
pub mod models;
pub mod once;
pub mod pages;
pub mod write;
