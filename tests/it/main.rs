//! One integration test binary: the real `bc-customers` binary against the sandbox store.
mod bench;
mod commands;
mod common;
mod contract;
mod export;
mod foundation;
mod hostile;
mod hostile_export;
mod hostile_server;
mod hostile_store;
mod import;
mod interrupts;
mod output_files;
mod presets;
mod proptests;
mod reliability;
mod ux;
