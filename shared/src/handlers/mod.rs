//! One module per Lambda: its `Config` (parsed once at init), its dependencies, its error
//! enum, and `handle`, which reads through ports, decides with `domain`, acts through ports.

pub mod bootstrap_config;
pub mod clusterize;
pub mod clusterize_finalization;
pub mod deploy;
pub mod fetch;
pub mod lifecycle;
pub mod report;
pub mod scale_down;
pub mod status;
pub mod terminate;
pub mod transient;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::ports::Clock;

/// WEKA calls, retries included, end this long before the invocation deadline, leaving time
/// to record and return the outcome.
pub const WEKA_CALL_RESERVE: Duration = Duration::from_secs(3);

/// The invocation deadline less [`WEKA_CALL_RESERVE`], on the monotonic clock WEKA requests
/// are timed with.
fn weka_deadline(clock: &impl Clock, deadline: Option<DateTime<Utc>>) -> Option<Instant> {
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
mod tests {
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
