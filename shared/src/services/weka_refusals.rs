//! The WEKA refusals of scale-down's mutations, kept across runs in the `weka-refusals` note
//! (`domain::scale_down::RefusalBook` decides; this reads and writes the note and tells a
//! refusal that stands from other failures).
//!
//! A refusal that stands is WEKA's JSON-RPC error answer: the session returns it at once
//! (`Final`), neither another backend nor another try would change it. Timeouts, HTTP errors and
//! unreachable backends are not refusals: their outcome is unknown and they stay transient
//! errors of the run.

use crate::domain::notes::{Note as _, WEKA_REFUSALS_NOTE, WekaRefusalsNote};
use crate::domain::scale_down::{ActionId, ActionOutcome, RefusalBook, ScaleDownPlan};
use crate::error::error_chain;
use crate::ports::{StateStore, WekaError};
use crate::services::notes::read_note;
use crate::weka::model::HostsList;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// The book for a run at `now` on `hosts`, from the stored note; an unreadable note is taken as
/// empty (the calls are then sent as usual).
pub async fn load<S: StateStore>(store: &S, hosts: &HostsList, now: DateTime<Utc>) -> RefusalBook {
    let previous = read_note::<WekaRefusalsNote>(store)
        .await
        .unwrap_or_default()
        .refusals;
    RefusalBook::new(previous, hosts, now)
}

/// The outcome of a mutation that failed with `error`.
pub fn outcome_of(error: &WekaError) -> ActionOutcome {
    match error {
        WekaError::Rpc { code, message, .. } => ActionOutcome::Refused {
            code: *code,
            message: message.clone(),
        },
        other => ActionOutcome::Failed(error_chain(other)),
    }
}

/// Stores the refusals that stand after the run (only when they changed); returns the run's
/// error entry when the note could not be written.
pub async fn save<S: StateStore>(
    store: &S,
    book: &RefusalBook,
    plan: &ScaleDownPlan,
    outcomes: &BTreeMap<ActionId, ActionOutcome>,
) -> Option<String> {
    let refusals = book.next(plan, outcomes);
    for refusal in &refusals {
        tracing::warn!(
            machine = %refusal.machine,
            method = %refusal.method,
            code = refusal.code,
            message = %refusal.message,
            since = %refusal.since,
            retry_after = %refusal.retry_after,
            "weka refusal stands"
        );
    }
    if refusals == book.previous() {
        return None;
    }
    let note = WekaRefusalsNote { refusals };
    match store.put_note(WEKA_REFUSALS_NOTE, &note.to_value()).await {
        Ok(()) => None,
        Err(e) => {
            let message = format!("weka refusals could not be recorded: {}", error_chain(&e));
            tracing::warn!(error = %message, "weka refusals note not written");
            Some(message)
        }
    }
}
