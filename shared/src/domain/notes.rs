//! Notes the control plane leaves for operators, read by `status`: the last scale-down outcome
//! (written by `scale-down`), the WEKA refusals that stand (written by `scale-down`), the scale
//! lease found held (written by `scale-fetch`), the last scale-down failure and the removed
//! machines still to terminate (written by `terminate`), the adoptions of running clusters (written
//! by `adopt`).

use crate::domain::scale_down::WekaRefusal;
use crate::wire::scale::{HeldBack, InstanceRef};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Name of the note holding the last scale-down outcome.
pub const SCALE_NOTE: &str = "scale-down";
/// Name of the note holding the scale lease as the last refused run found it.
pub const LEASE_NOTE: &str = "scale-lease";
/// Name of the note holding the last scale-down failure (written by `terminate`).
pub const SCALE_DOWN_FAILURE_NOTE: &str = "scale-down-failure";
/// Name of the note holding the WEKA refusals that stand (written by `scale-down`).
pub const WEKA_REFUSALS_NOTE: &str = "weka-refusals";
/// Name of the note holding the adoptions of running clusters (written by `adopt`).
pub const ADOPTION_NOTE: &str = "adoption";
/// Name of the note holding the removed machines still to terminate (written by `terminate`).
pub const PENDING_TERMINATIONS_NOTE: &str = "pending-terminations";

/// A note stored as a JSON document.
pub trait Note: Serialize + serde::de::DeserializeOwned {
    /// The name it is stored under.
    const NAME: &'static str;

    /// The stored body.
    fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads a stored body; `None` when it is not this kind of note.
    fn from_value(body: serde_json::Value) -> Option<Self> {
        serde_json::from_value(body).ok()
    }
}

impl Note for ScaleNote {
    const NAME: &'static str = SCALE_NOTE;
}
impl Note for LeaseNote {
    const NAME: &'static str = LEASE_NOTE;
}
impl Note for ScaleDownFailureNote {
    const NAME: &'static str = SCALE_DOWN_FAILURE_NOTE;
}
impl Note for WekaRefusalsNote {
    const NAME: &'static str = WEKA_REFUSALS_NOTE;
}
impl Note for AdoptionNote {
    const NAME: &'static str = ADOPTION_NOTE;
}
impl Note for PendingTerminationsNote {
    const NAME: &'static str = PENDING_TERMINATIONS_NOTE;
}

/// The machines scale-down removed from WEKA (named in `to_terminate`, which it does only in the
/// run that removed them) that have not yet left their group: a run whose terminate step died
/// before `TerminateInstances` landed leaves them here, and later runs name them again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTerminationsNote {
    /// Instance id and private IP, as scale-down named them.
    pub instances: Vec<InstanceRef>,
}

/// The WEKA refusals that stand: calls WEKA answered with an error that stands, not sent again
/// unchanged until the view changes or their window passes (`domain::scale_down::RefusalBook`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WekaRefusalsNote {
    /// The refusals, in plan order.
    #[serde(default)]
    pub refusals: Vec<WekaRefusal>,
}

/// The last scale-down that failed (after its retries), as the state machine caught it and
/// `terminate`, which ran without its answer, recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleDownFailureNote {
    /// The error name (`Weka.InvalidInput`, `Weka.Transient`, `States.Timeout`, ...).
    pub error: String,
    /// What went wrong (the Lambda's `errorMessage`, or the cause), at most
    /// [`Self::MAX_MESSAGE_BYTES`].
    pub message: String,
    /// When terminate recorded it.
    pub at: DateTime<Utc>,
    /// The execution whose scale-down failed.
    pub execution: String,
}

impl ScaleDownFailureNote {
    /// The longest message kept.
    pub const MAX_MESSAGE_BYTES: usize = 2048;

    /// The note, with `error` and `message` cut to bounded lengths.
    pub fn new(error: &str, message: &str, at: DateTime<Utc>, execution: &str) -> Self {
        Self {
            error: truncate(error, 256),
            message: truncate(message, Self::MAX_MESSAGE_BYTES),
            at,
            execution: execution.to_owned(),
        }
    }
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The scale lease as runs that could not take it found it: who holds it, since when runs are
/// refused, and whether that has lasted beyond one lease period (a wedged holder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseNote {
    /// The holder (an execution name).
    pub holder: String,
    /// When its hold lapses unless renewed.
    pub until: DateTime<Utc>,
    /// The first run refused by this holder.
    pub refused_since: DateTime<Utc>,
    /// The latest run refused.
    pub last_refused_at: DateTime<Utc>,
    /// Runs refused by this holder so far.
    pub refused_runs: u32,
    /// Runs have been refused for longer than one lease period.
    pub beyond_one_period: bool,
}

impl LeaseNote {
    /// The note after one more run found `holder` holding the lease until `until`, given the
    /// note before (`previous`) and the lease period.
    pub fn refused(
        previous: Option<&Self>,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        period: chrono::TimeDelta,
    ) -> Self {
        let (refused_since, refused_runs) = match previous {
            Some(p) if p.holder == holder => (p.refused_since, p.refused_runs.saturating_add(1)),
            _ => (now, 1),
        };
        Self {
            holder: holder.to_owned(),
            until,
            refused_since,
            last_refused_at: now,
            refused_runs,
            beyond_one_period: now - refused_since > period,
        }
    }

    /// Whether the hold it describes may still be in force at `now`.
    pub fn current(&self, now: DateTime<Utc>) -> bool {
        now <= self.until
    }
}

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
    /// Terminating instances whose machines the run did not deactivate (safety floor,
    /// in-flight cap), and why; left out when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_back: Vec<HeldBack>,
}

impl ScaleNote {
    /// A run that planned, with the floor's refusal if any.
    pub fn planned(refusal: Option<serde_json::Value>, at: DateTime<Utc>) -> Self {
        Self {
            refusal: refusal.filter(|r| !r.is_null()),
            skipped: None,
            at,
            held_back: Vec::new(),
        }
    }

    /// The note naming the terminating instances the run held back.
    #[must_use]
    pub fn holding(self, held_back: Vec<HeldBack>) -> Self {
        Self { held_back, ..self }
    }

    /// Why `instance_id` was held back, when it was.
    pub fn held_back_reason(&self, instance_id: &str) -> Option<&str> {
        self.held_back
            .iter()
            .find(|h| h.instance_id == instance_id)
            .map(|h| h.reason.as_str())
    }

    /// A run that did nothing, and why.
    pub fn skipped(reason: &str, at: DateTime<Utc>) -> Self {
        Self {
            refusal: None,
            skipped: Some(reason.to_owned()),
            at,
            held_back: Vec::new(),
        }
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

    #[test]
    fn a_lease_note_counts_refusals_per_holder_and_marks_one_period_passed() {
        let t = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let period = chrono::TimeDelta::seconds(180);
        let first = LeaseNote::refused(None, "x", t(180), t(0), period);
        assert_eq!((first.refused_runs, first.refused_since), (1, t(0)));
        assert!(!first.beyond_one_period);
        let later = LeaseNote::refused(Some(&first), "x", t(400), t(240), period);
        assert_eq!((later.refused_runs, later.refused_since), (2, t(0)));
        assert!(later.beyond_one_period);
        assert!(later.current(t(400)) && !later.current(t(401)));
        let other = LeaseNote::refused(Some(&later), "y", t(500), t(300), period);
        assert_eq!((other.refused_runs, other.refused_since), (1, t(300)));
        assert_eq!(LeaseNote::from_value(other.to_value()), Some(other));
    }
}

/// The adoptions of running clusters, per group (`backend`, `nfs`): what each found and when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptionNote {
    /// Per group name.
    pub groups: std::collections::BTreeMap<String, AdoptionRecord>,
}

/// One group's adoption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptionRecord {
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// What it found.
    pub plan: crate::domain::adoption::AdoptionPlan,
}
