//! Automatic decisions kept for operators (`status` `{"type":"events"}`): one small item per
//! event in a bounded ring per deployment ([`EVENTS_KEPT`] slots), each expiring after
//! [`EVENT_RETENTION`]. Recording is best effort: a lost event never fails the action.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Events kept per deployment (the ring's slots); older ones are overwritten.
pub const EVENTS_KEPT: u32 = 500;
/// How long an event is kept.
pub const EVENT_RETENTION: Duration = Duration::from_secs(14 * 86_400);
/// The longest subject or reason kept (bytes).
pub const MAX_EVENT_TEXT_BYTES: usize = 512;

/// What was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An instance registered for clusterization.
    Registration,
    /// An instance claimed the clusterization.
    Claim,
    /// Scale-down deactivated a machine.
    Deactivation,
    /// Scale-down removed a machine.
    Removal,
    /// Terminate terminated an instance.
    Termination,
    /// Terminate detached an unhealthy instance.
    Detach,
    /// A lifecycle action was decided (continue or abandon).
    Lifecycle,
    /// Something was refused (the safety floor, WEKA).
    Refusal,
}

impl EventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Claim => "claim",
            Self::Deactivation => "deactivation",
            Self::Removal => "removal",
            Self::Termination => "termination",
            Self::Detach => "detach",
            Self::Lifecycle => "lifecycle",
            Self::Refusal => "refusal",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Registration,
            Self::Claim,
            Self::Deactivation,
            Self::Removal,
            Self::Termination,
            Self::Detach,
            Self::Lifecycle,
            Self::Refusal,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One automatic decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// What.
    pub kind: EventKind,
    /// On what (an instance id, a machine's IP).
    pub subject: String,
    /// Why.
    pub reason: String,
}

impl Event {
    /// An event with its texts cut to [`MAX_EVENT_TEXT_BYTES`].
    pub fn new(kind: EventKind, subject: &str, reason: &str, at: DateTime<Utc>) -> Self {
        Self {
            at,
            kind,
            subject: truncate(subject),
            reason: truncate(reason),
        }
    }
}

fn truncate(s: &str) -> String {
    let mut end = s.len().min(MAX_EVENT_TEXT_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn kinds_read_back_and_texts_are_bounded() {
        for kind in [
            EventKind::Registration,
            EventKind::Refusal,
            EventKind::Detach,
        ] {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("other"), None);
        let e = Event::new(EventKind::Claim, &"é".repeat(600), "x", Utc::now());
        assert!(e.subject.len() <= MAX_EVENT_TEXT_BYTES);
    }
}
