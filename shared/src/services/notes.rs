//! Reading the operators' notes: a note that cannot be read only loses that view, so it is
//! logged and read as absent.

use crate::domain::notes::Note;
use crate::error::error_chain;
use crate::ports::StateStore;

/// The stored note `N`, or `None` when there is none, it is not an `N`, or the store failed
/// (logged).
pub async fn read_note<N: Note>(store: &impl StateStore) -> Option<N> {
    match store.note(N::NAME).await {
        Ok(body) => body.and_then(N::from_value),
        Err(e) => {
            tracing::warn!(note = N::NAME, error = %error_chain(&e), "note unavailable");
            None
        }
    }
}
