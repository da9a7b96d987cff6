//! Progress, error and debug reports sent by instance scripts, and how they are shown.
//!
//! Reports are stored one item each, in a ring of bounded size per host, so they never contend
//! with registration and never grow one item towards DynamoDB's 400 KB limit.

use chrono::{DateTime, Utc};

/// Longest message kept, in bytes; longer messages are cut at a character boundary.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024;
/// How many hosts may start reporting to one group per calendar month: the set of reporting
/// hosts (one counter and one ring each) grows at a bounded rate whoever calls. Far above any
/// cluster's churn; a host refused this month is admitted the next.
pub const NEW_REPORTING_HOSTS_PER_MONTH: u32 = 2_000;

/// The admission window of new reporting hosts a time falls in (`2026-12`).
pub fn reporting_window(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m").to_string()
}

/// Longest hostname accepted, in bytes.
pub const MAX_HOSTNAME_BYTES: usize = 255;

/// The kind of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportKind {
    /// Normal progress.
    Progress,
    /// A failure the operator should see.
    Error,
    /// Detail for troubleshooting.
    Debug,
}

impl ReportKind {
    /// Parses the wire `type`; `None` when unknown.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "progress" => Some(Self::Progress),
            "error" => Some(Self::Error),
            "debug" => Some(Self::Debug),
            _ => None,
        }
    }

    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Progress => "progress",
            Self::Error => "error",
            Self::Debug => "debug",
        }
    }
}

/// One stored report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The reporting host.
    pub host: String,
    /// Per-host sequence number, increasing; gaps are possible (a writer died mid-report).
    pub seq: u64,
    /// When the report was received.
    pub at: DateTime<Utc>,
    /// Its kind.
    pub kind: ReportKind,
    /// Its text.
    pub message: String,
}

impl Report {
    /// The reference's line format, `"HH:MM:SS UTC: <message>"`.
    pub fn legacy_line(&self) -> String {
        format!("{} UTC: {}", self.at.format("%H:%M:%S"), self.message)
    }
}

/// Cuts `message` to at most [`MAX_MESSAGE_BYTES`] on a character boundary.
pub fn bounded_message(message: &str) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message.to_owned();
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[truncated]", &message[..end])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn legacy_line_matches_reference_format() {
        let r = Report {
            host: "h".to_owned(),
            seq: 1,
            at: DateTime::parse_from_rfc3339("2026-05-21T09:01:02Z")
                .unwrap()
                .to_utc(),
            kind: ReportKind::Progress,
            message: "Downloading weka install script".to_owned(),
        };
        assert_eq!(
            r.legacy_line(),
            "09:01:02 UTC: Downloading weka install script"
        );
    }

    #[test]
    fn kinds_parse_only_the_three_reference_types() {
        for k in [ReportKind::Progress, ReportKind::Error, ReportKind::Debug] {
            assert_eq!(ReportKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ReportKind::parse("warning"), None);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let cut = bounded_message(&long);
        assert!(cut.len() < MAX_MESSAGE_BYTES + 20);
        assert!(cut.ends_with("[truncated]"));
        assert_eq!(bounded_message("short"), "short");
    }
}
