//! Country and state names (being written).
