//! Pure types and decisions: no I/O, no SDK types, no clock reads (time is passed in).

pub mod progress;
pub mod report;
pub mod state;
