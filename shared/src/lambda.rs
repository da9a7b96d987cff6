//! The Lambda boundary: a fixed set of `errorType` names the state machine matches, and the
//! glue that turns a handler's typed error into a Lambda error response.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::error::Error as StdError;
use std::fmt::Write as _;
use std::future::Future;

/// The global allocator of every Lambda binary, and of the benchmarks so that they measure what
/// runs: mimalloc. With glibc's allocator, a 10,000-machine scale-down spent more time allocating,
/// freeing and consolidating the ~300,000 small strings of the decoded cluster (and of the plan)
/// than decoding and planning. Use as
/// `#[global_allocator] static ALLOCATOR: Allocator = weka_shared::lambda::ALLOCATOR;`.
pub type Allocator = mimalloc::MiMalloc;

/// The [`Allocator`] value.
pub const ALLOCATOR: Allocator = mimalloc::MiMalloc;

/// The meaning of a failure, as the caller must react to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The payload or configuration is wrong; retrying the same call cannot succeed.
    InvalidInput,
    /// Another writer changed the state first, or the requested transition is not allowed now.
    Conflict,
    /// A dependency (AWS, WEKA) failed in a way that a later retry may fix.
    Transient,
    /// A safety check refused the action (e.g. a scale-down that would lose data).
    Unsafe,
    /// A bug or an unexpected state; needs an operator.
    Internal,
}

impl ErrorClass {
    /// Every class, for tests and for the state-machine consistency check.
    pub const ALL: [Self; 5] = [
        Self::InvalidInput,
        Self::Conflict,
        Self::Transient,
        Self::Unsafe,
        Self::Internal,
    ];

    /// The stable Lambda `errorType`, matched by `ErrorEquals` in the state machine.
    pub const fn error_type(self) -> &'static str {
        match self {
            Self::InvalidInput => "Weka.InvalidInput",
            Self::Conflict => "Weka.Conflict",
            Self::Transient => "Weka.Transient",
            Self::Unsafe => "Weka.Unsafe",
            Self::Internal => "Weka.Internal",
        }
    }
}

/// Implemented by every handler error: which [`ErrorClass`] it belongs to.
pub trait Classify {
    /// The class the caller should react to.
    fn class(&self) -> ErrorClass;
}

impl Classify for crate::ports::StoreError {
    fn class(&self) -> ErrorClass {
        if self.is_transient() {
            ErrorClass::Transient
        } else {
            ErrorClass::Internal
        }
    }
}

impl Classify for crate::ports::SecretError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Empty { .. } => ErrorClass::Conflict,
            Self::Backend { .. } => ErrorClass::Transient,
        }
    }
}

impl Classify for crate::ports::InventoryError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Transient
    }
}

impl Classify for crate::ports::WekaError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::NoBackends { .. } | Self::Login { .. } => ErrorClass::Conflict,
            Self::Decode { .. } => ErrorClass::Internal,
            _ => ErrorClass::Transient,
        }
    }
}

/// `error` and its sources joined with `: `, so the Lambda error message keeps the whole chain.
pub fn error_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// Converts a classified error into the Lambda error response, logging it once.
pub fn diagnostic<E: Classify + StdError>(error: &E) -> Diagnostic {
    let error_type = error.class().error_type();
    let message = error_chain(error);
    tracing::error!(error_type, error = %message, "invocation failed");
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message,
    }
}

/// A payload that could not be decoded into the handler's request type.
#[derive(Debug, thiserror::Error)]
#[error("invalid payload: {0}")]
pub struct PayloadError(#[from] pub serde_json::Error);

impl Classify for PayloadError {
    fn class(&self) -> ErrorClass {
        ErrorClass::InvalidInput
    }
}

/// Decodes the raw payload into `T`, so a malformed payload becomes `Weka.InvalidInput`
/// instead of the runtime's generic deserialisation error.
pub fn decode<T: DeserializeOwned>(payload: serde_json::Value) -> Result<T, PayloadError> {
    Ok(serde_json::from_value(payload)?)
}

/// Runs `handler` on the event payload and maps its error to a [`Diagnostic`].
pub async fn serve<R, E, Fut>(
    event: LambdaEvent<serde_json::Value>,
    handler: impl FnOnce(serde_json::Value, lambda_runtime::Context) -> Fut,
) -> Result<R, Diagnostic>
where
    R: Serialize,
    E: Classify + StdError,
    Fut: Future<Output = Result<R, E>>,
{
    let (payload, context) = event.into_parts();
    handler(payload, context).await.map_err(|e| diagnostic(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_stable_and_distinct() {
        let names: Vec<_> = ErrorClass::ALL.iter().map(|c| c.error_type()).collect();
        assert_eq!(
            names,
            [
                "Weka.InvalidInput",
                "Weka.Conflict",
                "Weka.Transient",
                "Weka.Unsafe",
                "Weka.Internal"
            ]
        );
        for name in names {
            assert!(
                !name.starts_with("States."),
                "{name} is reserved by Step Functions"
            );
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer failure")]
    struct Outer(#[source] std::io::Error);

    impl Classify for Outer {
        fn class(&self) -> ErrorClass {
            ErrorClass::Transient
        }
    }

    #[test]
    fn diagnostic_keeps_source_chain_and_class() {
        let d = diagnostic(&Outer(std::io::Error::other("disk gone")));
        assert_eq!(d.error_type, "Weka.Transient");
        assert_eq!(d.error_message, "outer failure: disk gone");
    }

    #[test]
    fn malformed_payload_is_invalid_input() {
        let err = decode::<Vec<u8>>(serde_json::json!({"a": 1})).unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput);
    }
}
