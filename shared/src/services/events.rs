//! Recording automatic decisions as events, best effort: a failed write is logged, never
//! fails the action it describes.

use crate::domain::events::{EVENT_RETENTION, EVENTS_KEPT, Event, EventKind};
use crate::error::error_chain;
use crate::ports::StateStore;
use chrono::{DateTime, Utc};

/// Records one event; a failure is logged and dropped.
pub async fn record(
    store: &impl StateStore,
    kind: EventKind,
    subject: &str,
    reason: &str,
    at: DateTime<Utc>,
) {
    let event = Event::new(kind, subject, reason, at);
    if let Err(e) = store
        .record_event(&event, EVENTS_KEPT, EVENT_RETENTION)
        .await
    {
        tracing::warn!(kind = kind.as_str(), subject, error = %error_chain(&e), "event not recorded");
    }
}
