//! Payloads that cross a process boundary: Lambda requests and responses, shaped as the
//! reference module's so its scripts and helper commands keep working.

pub mod bootstrap;
pub mod events;
pub mod scale;
