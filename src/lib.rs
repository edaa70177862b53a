//! bc-customers: import and export BigCommerce customers as CSV (Customers V2 API).
pub mod exit;
pub mod mapping;
pub mod sandbox;
