//! One integration test binary: the real `bc-customers` binary against the sandbox store.
mod bench;
mod commands;
mod common;
mod contract;
mod export;
mod foundation;
mod hostile;
mod import;
mod output_files;
mod presets;
mod proptests;
mod reliability;
