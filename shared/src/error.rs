//! What a failure means to the caller: the error classes with their stable Lambda `errorType`
//! names, the [`Classify`] trait every layer's error implements, and [`error_chain`].

use std::error::Error as StdError;
use std::fmt::Write as _;

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
}
