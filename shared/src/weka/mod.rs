//! WEKA's management API: typed models of the JSON-RPC answers and of the mutating calls.

pub mod decode;
pub mod model;
