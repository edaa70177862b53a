//! The BigCommerce Customers V2 API client: connection, pacing, retries, typed errors, models.
//!
//! - [`client`]: one shared `reqwest::Client`, base URL, auth header, the retry loop.
//! - [`once`]: writing exactly once (creates, deletes): what a repeat after a lost answer is.
//! - [`rate`]: [`rate::RateGate`], the pacing state shared by every worker (from `X-Rate-Limit-*`).
//! - [`error`]: [`error::ApiError`], which callers branch on (status, message, retryable, ambiguous).
//! - [`models`]: serde types tolerant of what the API really sends.
pub mod client;
pub mod error;
pub mod models;
pub mod once;
pub mod rate;
pub mod reconcile;
pub mod store;
pub mod v2;
pub mod v3;

pub use client::{Client, ClientStats, Connection};
pub use error::ApiError;
pub use models::{Address, Customer, FormField, Group};
pub use once::Deleted;
