//! In-memory fakes of every port (one file per port, as in `ports`), a fault-injecting wrapper,
//! and one fake deployment's handler configurations, for fast domain and handler tests without
//! an emulator. Compiled only with the `test-util` feature.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod certificates;
mod clock;
mod crashing;
mod deployment;
mod faults;
mod inventory;
mod metrics;
mod reference;
mod scaling;
mod secrets;
mod state_store;
mod weka;

pub use certificates::*;
pub use clock::*;
pub use crashing::*;
pub use deployment::*;
pub use faults::*;
pub use inventory::*;
pub use metrics::*;
pub use reference::*;
pub use scaling::*;
pub use secrets::*;
pub use state_store::*;
pub use weka::*;
