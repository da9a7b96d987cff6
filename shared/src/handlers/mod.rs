//! One module per Lambda: its `Config` (parsed once at init), its dependencies, its error
//! enum, and `handle`, which reads through ports, decides with `domain`, acts through ports.

pub mod adopt;
pub mod certificate;
pub mod clusterize;
pub mod clusterize_finalization;
pub mod deploy;
pub mod fetch;
pub mod report;
pub mod scale_down;
pub mod scale_fetch;
pub mod status;
pub mod terminate;
pub mod transient;
