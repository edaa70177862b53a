//! Source-platform presets and TOML mappings (being written).
