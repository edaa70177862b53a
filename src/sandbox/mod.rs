//! The sandbox store: a local fake of the BigCommerce Customers V2 API (being written).
