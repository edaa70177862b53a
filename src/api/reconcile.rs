//! The former home of `create_once`, kept as a name for `cmd::import` (which passes its own
//! `--max-retries`) until it calls [`super::once::create_within`]: the policy itself lives in
//! [`super::once`].

pub use super::once::create_within as create_once;
