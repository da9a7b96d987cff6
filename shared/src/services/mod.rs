//! What several Lambdas share beyond one port call: the scale steps' envelope and lease, the
//! lifecycle-hook protocol, and the bootstrap scripts' configuration. Services take ports and
//! domain values, never a handler's `Deps`; handlers import services, never each other.

pub mod bootstrap;
pub mod callers;
pub mod events;
pub mod formation;
pub mod inventory;
pub mod lifecycle;
pub mod notes;
pub mod scale_plan;
pub mod scale_run;
pub mod weka_refusals;
