//! One module per Lambda: its `Config` (parsed once at init), its dependencies, its error
//! enum, and `handle`, which reads through ports, decides with `domain`, acts through ports.

pub mod clusterize_finalization;
pub mod report;
pub mod status;
