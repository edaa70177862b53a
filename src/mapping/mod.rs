//! CSV header → field mapping: canonical columns, presets, row → payload, validation.
//!
//! - [`columns`]: the canonical import columns and an input header's [`columns::Layout`].
//! - [`row`]: one record → validated [`row::RowData`], comparison, JSON payloads.
//! - [`presets`]: other platforms' exports and `--mapping` TOML files → canonical columns.
//! - [`countries`]: ISO codes ↔ the full country names V2 wants; state/province codes.
pub mod columns;
pub mod countries;
pub mod presets;
pub mod row;
mod spec;
