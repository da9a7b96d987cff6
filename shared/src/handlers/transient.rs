//! `transient` (last state-machine step): turns the errors carried through the run into a
//! failed execution with a readable message (behaviour.md §5.11); succeeds with `null` when
//! there are none.

use crate::error::{Classify, ErrorClass};
use crate::lambda::{PayloadError, decode};
use crate::wire::scale::TerminatedInstancesResponse;

/// Why the execution fails.
#[derive(Debug, thiserror::Error)]
pub enum TransientError {
    /// Malformed payload.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The run collected errors; the message lists them, one a line.
    #[error("{0}")]
    Carried(String),
}

impl Classify for TransientError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_) => ErrorClass::InvalidInput,
            Self::Carried(_) => ErrorClass::Transient,
        }
    }
}

/// Handles one `transient` invocation.
pub async fn handle(payload: serde_json::Value) -> Result<serde_json::Value, TransientError> {
    let response: TerminatedInstancesResponse = decode(payload)?;
    match response.transient_failure() {
        Some(message) => {
            tracing::warn!(
                errors = response.transient_errors.len(),
                "run ends with errors"
            );
            Err(TransientError::Carried(message))
        }
        None => Ok(serde_json::Value::Null),
    }
}
