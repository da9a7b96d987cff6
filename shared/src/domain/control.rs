//! Operator controls kept in the state table: the pause of scale-down and terminations
//! (`<backend state key>#control` / `pause`), written only by operators (the CLI, with their
//! own credentials), read by `scale-down`, `terminate` and `status`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest `paused_by` kept (bytes).
pub const MAX_PAUSED_BY_BYTES: usize = 256;
/// The longest `reason` kept (bytes).
pub const MAX_PAUSE_REASON_BYTES: usize = 1024;

/// Scale-down and terminations paused by an operator: while it stands, nothing is deactivated,
/// removed, terminated or detached on the control plane's own choosing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// Who paused (the operator's identity as the CLI found it, e.g. an IAM ARN).
    pub paused_by: String,
    /// Why, as the operator wrote it (may be empty).
    #[serde(default)]
    pub reason: String,
    /// Since when.
    pub since: DateTime<Utc>,
}

impl Pause {
    /// A pause with `paused_by` and `reason` cut to their bounds.
    pub fn new(paused_by: &str, reason: &str, since: DateTime<Utc>) -> Self {
        Self {
            paused_by: truncate(paused_by, MAX_PAUSED_BY_BYTES),
            reason: truncate(reason, MAX_PAUSE_REASON_BYTES),
            since,
        }
    }
}

impl fmt::Display for Pause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "paused by {} since {}",
            self.paused_by,
            self.since
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )?;
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
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
    fn a_pause_names_who_since_when_and_why_within_bounds() {
        let since = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let pause = Pause::new("arn:aws:iam::1:user/ops", "maintenance", since);
        assert_eq!(
            pause.to_string(),
            "paused by arn:aws:iam::1:user/ops since 2027-01-15T08:00:00Z: maintenance"
        );
        let long = Pause::new(&"é".repeat(500), &"x".repeat(5000), since);
        assert!(long.paused_by.len() <= MAX_PAUSED_BY_BYTES);
        assert_eq!(long.reason.len(), MAX_PAUSE_REASON_BYTES);
        assert!(!Pause::new("ops", "", since).to_string().ends_with(": "));
    }
}
