//! Notes the control plane leaves for operators: the last scale-down outcome, written by
//! `scale-down` and read by `status`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Name of the note holding the last scale-down outcome.
pub const SCALE_NOTE: &str = "scale-down";

/// The last scale-down run: what the safety floor refused, or why the run was skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleNote {
    /// The safety floor's refusal (the plan's `Refusal`), `null` when nothing was refused.
    #[serde(default)]
    pub refusal: Option<serde_json::Value>,
    /// Why the run did nothing, `null` when it planned.
    #[serde(default)]
    pub skipped: Option<String>,
    /// When the run decided.
    pub at: DateTime<Utc>,
}

impl ScaleNote {
    /// A run that planned, with the floor's refusal if any.
    pub fn planned(refusal: Option<serde_json::Value>, at: DateTime<Utc>) -> Self {
        Self {
            refusal: refusal.filter(|r| !r.is_null()),
            skipped: None,
            at,
        }
    }

    /// A run that did nothing, and why.
    pub fn skipped(reason: &str, at: DateTime<Utc>) -> Self {
        Self {
            refusal: None,
            skipped: Some(reason.to_owned()),
            at,
        }
    }

    /// The stored body.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads a stored body; `None` when it is not a scale note.
    pub fn from_value(body: serde_json::Value) -> Option<Self> {
        serde_json::from_value(body).ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_note_round_trips_and_keeps_the_stored_shape() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let refused = ScaleNote::planned(Some(serde_json::json!({"desired": 5})), at);
        let body = refused.to_value();
        assert_eq!(body["refusal"]["desired"], 5);
        assert!(body["skipped"].is_null());
        assert_eq!(ScaleNote::from_value(body).unwrap(), refused);
        let skipped = ScaleNote::skipped("cluster is not clusterized yet", at);
        assert!(skipped.to_value()["refusal"].is_null());
        assert_eq!(ScaleNote::from_value(skipped.to_value()).unwrap(), skipped);
        assert_eq!(ScaleNote::from_value(serde_json::json!({"x": 1})), None);
    }
}
