//! Pure types and decisions: no I/O, no SDK types, no clock reads (time is passed in).

pub mod adoption;
pub mod certificate;
pub mod control;
pub mod events;
pub mod formation;
pub mod geometry;
pub mod identity;
pub mod instance;
pub mod lifecycle;
pub mod metrics;
pub mod notes;
pub mod passwords;
pub mod progress;
pub mod report;
pub mod scale_down;
pub mod scripts;
pub mod state;
pub mod terminate;
pub mod terminate_view;
