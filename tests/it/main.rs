//! One integration test binary: the real `bc-customers` binary against the sandbox store.
mod bench;
mod common;
mod foundation;
