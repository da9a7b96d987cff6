//! Payloads that cross a process boundary: Lambda requests and responses, shaped as the
//! reference module's so its scripts and helper commands keep working.

pub mod adopt;
pub mod bootstrap;
pub mod certificate;
pub mod events;
pub mod scale;

use chrono::{DateTime, Datelike, Utc};

/// Whether `at` is writable as RFC 3339 (a four-digit year, 0000 to 9999), the form every
/// stored time is read back from. chrono parses wider years (`+10000-…`) that it then cannot read
/// back strictly, so such a time is refused where it enters.
pub fn rfc3339_representable(at: DateTime<Utc>) -> bool {
    (0..=9999).contains(&at.year())
}
