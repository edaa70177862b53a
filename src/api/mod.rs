//! The store APIs: one transport shared by every backend, one module per Customers API, and
//! the seam the commands use.
//!
//! The transport, API-neutral:
//! - [`client`]: one shared `reqwest::Client`, base URL, auth header, the retry loop.
//! - [`once`]: writing exactly once (creates, deletes): what a repeat after a lost answer is.
//! - [`rate`]: [`rate::RateGate`], the pacing state shared by every worker (from `X-Rate-Limit-*`).
//! - [`error`]: [`error::ApiError`], which callers branch on (status, message, retryable, ambiguous),
//!   and [`error::WriteError`], one written item's (whichever backend wrote it).
//! - [`filters`]: the user's customer filters, typed and API-neutral; each backend encodes them.
//! - [`models`]: the records both backends yield (customers, addresses, groups), serde types
//!   tolerant of what the API really sends, and the one count rule.
//! - [`matching`]: every listed customer checked against the exact filters (a store that
//!   ignores a filter fails the walk).
//!
//! The backends, each everything that spells its API (routes, bodies, dates, paging):
//! - [`v2`]: Customers V2 (`/v2/customers`, one request per write).
//! - [`v3`]: Customers V3 (`/v3/customers`, cursor pages, batches of 10).
//!
//! The seam: [`store`]'s `Reader` and `Writer` enums, one arm per backend, chosen once from
//! the settings (`store::Selection`: the filters in the backend's terms). Adding a backend is adding `src/api/<name>/` (see docs/architecture.md) and
//! one arm in each enum and in `Writer::capabilities_of`.
pub mod client;
pub mod error;
pub mod filters;
pub mod matching;
pub mod models;
pub mod once;
pub mod rate;
pub mod store;
pub mod v2;
pub mod v3;

pub use client::{Client, ClientStats, Connection};
pub use error::ApiError;
pub use models::{Address, Customer, FormField, Group};
pub use once::Deleted;
