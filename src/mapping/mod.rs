//! CSV header -> field mapping: canonical columns, presets, row -> payload, validation.
pub mod countries;
pub mod presets;
mod spec;
