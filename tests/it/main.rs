//! One integration test binary: the real `bc-customers` binary against the sandbox store.
mod common;
mod foundation;
mod hostile;
mod proptests;
mod reliability;
