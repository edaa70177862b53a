//! Tests of the sandbox V3 routes.
