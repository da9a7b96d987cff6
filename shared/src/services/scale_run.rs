//! What the three scale steps (`fetch`, `scale-down`, `terminate`) share: the step envelope
//! the state machine wraps payloads in, and the `scale` lease that serialises their runs.

use crate::domain::notes::{LEASE_NOTE, LeaseNote, Note as _};
use crate::error::error_chain;
use crate::lambda::{Invocation, PayloadError, decode};
use crate::ports::{Acting, LeaseClaim, LeaseOutcome, StateStore, StoreError};
use crate::services::notes::read_note;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// Name of the lease that serialises scale runs.
pub const SCALE_LEASE: &str = "scale";
/// Default of [`SCALE_LEASE_TTL_ENV`](crate::config::names::SCALE_LEASE_TTL_ENV): above scale-down's 120 s timeout.
pub const DEFAULT_SCALE_LEASE_TTL: Duration = Duration::from_secs(180);
/// Longest execution name Step Functions gives (`$$.Execution.Name`): the lease stores it.
pub const MAX_EXECUTION_NAME_BYTES: usize = 80;
/// A payload of a scale step: the state machine wraps it with its execution name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<T> {
    /// `$$.Execution.Name`, absent on direct invocations.
    pub execution: Option<String>,
    /// The step's own payload.
    pub input: T,
}

impl<T> Step<T> {
    /// Who holds the `scale` lease for this step: the execution, or this very invocation.
    pub fn owner(&self, invocation: &Invocation) -> String {
        self.execution
            .clone()
            .unwrap_or_else(|| format!("direct-{}", invocation.request_id))
    }
}

/// Decodes `{"execution": "<name>", "input": {...}}` or, without `execution`, the bare payload.
/// Without `input`, the envelope's other fields are the payload.
pub fn decode_step<T: DeserializeOwned>(payload: Value) -> Result<Step<T>, PayloadError> {
    match payload {
        Value::Object(mut map) if map.contains_key("execution") => {
            let execution: String = decode(map.remove("execution").unwrap_or_default())?;
            if execution.is_empty() || execution.len() > MAX_EXECUTION_NAME_BYTES {
                return Err(PayloadError(serde::de::Error::custom(format!(
                    "execution name of {} bytes: Step Functions names have 1 to {MAX_EXECUTION_NAME_BYTES}",
                    execution.len()
                ))));
            }
            let input = map.remove("input").unwrap_or(Value::Object(map));
            Ok(Step {
                execution: Some(execution),
                input: decode(input)?,
            })
        }
        other => Ok(Step {
            execution: None,
            input: decode(other)?,
        }),
    }
}

/// Another execution holds the `scale` lease, or an earlier invocation of this one may still
/// be acting (a step retried while its first attempt runs on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scale lease is held by {holder:?} until {until}{}: another run is acting", acting_text(.acting))]
pub struct LeaseHeld {
    /// The holder.
    pub holder: String,
    /// Its expiry.
    pub until: DateTime<Utc>,
    /// The invocation acting for the holder, when the holder is this very run.
    pub acting: Option<Acting>,
}

fn acting_text(acting: &Option<Acting>) -> String {
    acting.as_ref().map_or_else(String::new, |a| {
        format!(
            " (its invocation {} may act until {})",
            a.invocation, a.until
        )
    })
}

impl<T> Step<T> {
    /// The lease claim of this step: its owner, and this invocation acting for it until its
    /// deadline (or for one lease period when the runtime gave none).
    pub fn claim(&self, invocation: &Invocation, now: DateTime<Utc>, ttl: Duration) -> LeaseClaim {
        let until = invocation.deadline.unwrap_or_else(|| {
            now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)
        });
        LeaseClaim {
            owner: self.owner(invocation),
            acting: Some(Acting {
                invocation: invocation.request_id.clone(),
                until,
            }),
        }
    }
}

/// Takes or renews the `scale` lease for the claim's owner, with its invocation acting. The lease
/// never lapses before the invocation's deadline, and a second invocation of the same owner
/// (a retry while the first may still run) is refused until the first ended its turn or its
/// deadline passed: two invocations of one run never act at once.
pub async fn hold_scale_lease(
    store: &impl StateStore,
    claim: &LeaseClaim,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<Result<(), LeaseHeld>, StoreError> {
    Ok(
        match store.acquire_lease(SCALE_LEASE, claim, now, ttl).await? {
            LeaseOutcome::Acquired(_) => Ok(()),
            LeaseOutcome::Held(lease) => Err(LeaseHeld {
                acting: lease.acting.filter(|_| lease.owner == claim.owner),
                holder: lease.owner,
                until: lease.expires_at,
            }),
        },
    )
}

/// Ends this invocation's turn: the run keeps the lease for its next step, which may act at
/// once. A failure only makes the next step wait for this invocation's deadline (or end the
/// execution as `LeaseHeld`), so it is logged, not returned.
pub async fn end_scale_turn(store: &impl StateStore, claim: &LeaseClaim) {
    let Some(acting) = &claim.acting else {
        return;
    };
    match store
        .end_acting(SCALE_LEASE, &claim.owner, &acting.invocation)
        .await
    {
        Ok(ended) => tracing::debug!(ended, "scale turn ended"),
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "scale turn not ended; the next step waits for this invocation's deadline");
        }
    }
}

/// Releases the `scale` lease if `owner` holds it; a failure only delays the next run until
/// the lease lapses, so it is logged, not returned.
pub async fn release_scale_lease(store: &impl StateStore, owner: &str) {
    match store.release_lease(SCALE_LEASE, owner).await {
        Ok(released) => tracing::debug!(released, "scale lease released"),
        Err(e) => tracing::warn!(error = %error_chain(&e), "scale lease not released; it lapses"),
    }
}

/// Notes that a run found the lease held (the `scale-lease` note `status` shows). A holder that
/// keeps refusing runs for longer than one lease period is logged as an error (an alarm can match
/// the message); a failure to write the note only loses that view.
pub async fn note_lease_held(
    store: &impl StateStore,
    held: &LeaseHeld,
    now: DateTime<Utc>,
    period: Duration,
) {
    let previous: Option<LeaseNote> = read_note(store).await;
    let period = chrono::TimeDelta::from_std(period).unwrap_or(chrono::TimeDelta::MAX);
    let note = LeaseNote::refused(previous.as_ref(), &held.holder, held.until, now, period);
    if note.beyond_one_period {
        tracing::error!(
            holder = %note.holder,
            refused_since = %note.refused_since,
            refused_runs = note.refused_runs,
            "scale lease held beyond one lease period"
        );
    } else {
        tracing::info!(holder = %note.holder, until = %note.until, "scale lease held by another run");
    }
    if let Err(e) = store.put_note(LEASE_NOTE, &note.to_value()).await {
        tracing::warn!(error = %error_chain(&e), "scale lease note not written");
    }
}
