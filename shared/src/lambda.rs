//! The Lambda boundary: a fixed set of `errorType` names the state machine matches, and the
//! glue that turns a handler's typed error into a Lambda error response.

use crate::error::{Classify, ErrorClass, error_chain};
use crate::ports::Clock;
use crate::wire::bootstrap::IdentityProof;
use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::error::Error as StdError;
use std::future::Future;
use std::time::{Duration, Instant};

/// The global allocator of every Lambda binary, and of the benchmarks so that they measure what
/// runs: mimalloc. With glibc's allocator, a 10,000-machine scale-down spent more time allocating,
/// freeing and consolidating the ~300,000 small strings of the decoded cluster (and of the plan)
/// than decoding and planning. Use as
/// `#[global_allocator] static ALLOCATOR: Allocator = weka_shared::lambda::ALLOCATOR;`.
pub type Allocator = mimalloc::MiMalloc;

/// The [`Allocator`] value.
pub const ALLOCATOR: Allocator = mimalloc::MiMalloc;

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

/// Decodes an instance request and, apart, the `identity` proof it may carry beside its fields
/// (the reference's payloads have none; their fields are decoded as before).
pub fn decode_identified<T: DeserializeOwned>(
    mut payload: serde_json::Value,
) -> Result<(T, Option<IdentityProof>), PayloadError> {
    let identity = match payload
        .as_object_mut()
        .and_then(|o| o.remove(IDENTITY_FIELD))
    {
        None | Some(serde_json::Value::Null) => None,
        Some(proof) => Some(serde_json::from_value(proof)?),
    };
    Ok((decode(payload)?, identity))
}

/// The payload field an instance's [`IdentityProof`] travels in.
pub const IDENTITY_FIELD: &str = "identity";

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

/// WEKA calls, retries included, end this long before the invocation deadline, leaving time
/// to record and return the outcome.
pub const WEKA_CALL_RESERVE: Duration = Duration::from_secs(3);

/// The invocation deadline less [`WEKA_CALL_RESERVE`], on the monotonic clock WEKA requests
/// are timed with.
pub fn weka_deadline(clock: &impl Clock, deadline: Option<DateTime<Utc>>) -> Option<Instant> {
    let left = (deadline? - clock.now()).to_std().unwrap_or_default();
    Some(Instant::now() + left.saturating_sub(WEKA_CALL_RESERVE))
}

/// What the Lambda runtime says about one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Lambda request id (lease owner of direct, non-state-machine calls).
    pub request_id: String,
    /// When the runtime kills the invocation.
    pub deadline: Option<DateTime<Utc>>,
}

impl Invocation {
    /// From the runtime's context.
    pub fn from_context(context: &lambda_runtime::Context) -> Self {
        Self {
            request_id: context.request_id.clone(),
            deadline: i64::try_from(context.deadline)
                .ok()
                .filter(|ms| *ms > 0)
                .and_then(DateTime::from_timestamp_millis),
        }
    }
}

#[cfg(all(test, feature = "test-util"))]
mod deadline_tests {
    use super::*;
    use crate::testing::FakeClock;

    #[test]
    fn weka_calls_end_the_reserve_before_the_invocation_deadline() {
        let clock = FakeClock::default_start();
        let now = clock.now();
        assert_eq!(weka_deadline(&clock, None), None);

        let before = Instant::now();
        let until = weka_deadline(&clock, Some(now + chrono::TimeDelta::seconds(10))).unwrap();
        let after = Instant::now();
        // 10 s left less the 3 s reserve, counted from a moment between `before` and `after`.
        assert!(until.saturating_duration_since(before) >= Duration::from_secs(7));
        assert!(until.saturating_duration_since(after) <= Duration::from_secs(7));

        // A deadline already (nearly) past leaves no time at all, not a negative one.
        let until = weka_deadline(&clock, Some(now + chrono::TimeDelta::seconds(1))).unwrap();
        assert!(until <= Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
