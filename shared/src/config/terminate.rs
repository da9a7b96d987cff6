//! Terminate's tunables from the environment (`BOOTSTRAP_GRACE_MINUTES`,
//! `MAX_TERMINATIONS_PER_RUN`): read by `terminate`, and by `status` to explain what terminate
//! would do.

use super::names::{BOOTSTRAP_GRACE_MINUTES_ENV, MAX_TERMINATIONS_PER_RUN_ENV};
use super::{ConfigError, Lookup};
use crate::domain::terminate::TerminatePolicy;
use chrono::TimeDelta;

/// Reads the policy; unset values keep [`TerminatePolicy::default`]'s.
pub fn terminate_policy(env: &impl Lookup) -> Result<TerminatePolicy, ConfigError> {
    let defaults = TerminatePolicy::default();
    let grace_minutes: i64 = env.parsed_or(
        BOOTSTRAP_GRACE_MINUTES_ENV,
        defaults.bootstrap_grace.num_minutes(),
    )?;
    if grace_minutes < 0 {
        return Err(ConfigError::Invalid {
            name: BOOTSTRAP_GRACE_MINUTES_ENV,
            value: grace_minutes.to_string(),
            reason: "must not be negative".to_owned(),
        });
    }
    Ok(TerminatePolicy {
        bootstrap_grace: TimeDelta::minutes(grace_minutes),
        max_terminations_per_run: env.parsed_or(
            MAX_TERMINATIONS_PER_RUN_ENV,
            defaults.max_terminations_per_run,
        )?,
        ..defaults
    })
}
