//! The library every WEKA control-plane Lambda uses: cluster state, pure decisions, the ports
//! (narrow traits) through which they reach AWS and WEKA, and the adapters implementing them.
//!
//! Layers point down only: `handlers` → `domain` + `ports`; `adapters` implement `ports`.
//! Nothing outside `adapters` knows an SDK type.

pub mod adapters;
pub mod config;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod lambda;
pub mod ports;
pub mod runtime;
pub mod services;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod weka;
pub mod wire;
