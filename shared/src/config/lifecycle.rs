//! The lifecycle hooks of the backend group, as configured: hook names, timeouts, heartbeat
//! throttle and deadline margin (`LifecycleConfig`), validated once at init.

use super::names::{
    ASG_NAME_ENV, LAUNCH_HEARTBEAT_TIMEOUT_ENV, LAUNCH_LIFECYCLE_HOOK_NAME_ENV,
    LIFECYCLE_DEADLINE_MARGIN_ENV, LIFECYCLE_HEARTBEAT_INTERVAL_ENV,
    TERMINATE_HEARTBEAT_TIMEOUT_ENV, TERMINATE_LIFECYCLE_HOOK_NAME_ENV,
};
use super::{ConfigError, Lookup};
use crate::domain::lifecycle::{Hooks, LifecyclePolicy, Transition};
use std::time::Duration;

/// Default of both heartbeat timeouts: 15 minutes, above the longest quiet stretch of an
/// install (the package download) and the 10-minute "operational" wait of a join.
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(900);
/// Default of [`LIFECYCLE_HEARTBEAT_INTERVAL_ENV`].
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Default of [`LIFECYCLE_DEADLINE_MARGIN_ENV`]: two scale ticks.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(120);
/// The hooks of the backend group and their timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleConfig {
    /// Backend group (empty when no hook is configured).
    pub asg_name: String,
    /// Hook names.
    pub hooks: Hooks,
    /// Timeouts, heartbeat throttle, deadline margin.
    pub policy: LifecyclePolicy,
}

impl LifecycleConfig {
    /// No hooks: every lifecycle step is skipped.
    pub fn disabled() -> Self {
        Self {
            asg_name: String::new(),
            hooks: Hooks::default(),
            policy: LifecyclePolicy {
                launch_timeout: DEFAULT_HEARTBEAT_TIMEOUT,
                terminate_timeout: DEFAULT_HEARTBEAT_TIMEOUT,
                heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
                deadline_margin: DEFAULT_DEADLINE_MARGIN,
            },
        }
    }

    /// Both hooks on `asg_name` with the default timing (tests, tools).
    pub fn with_hooks(asg_name: &str, launch: &str, terminate: &str) -> Self {
        Self {
            asg_name: asg_name.to_owned(),
            hooks: Hooks {
                launch: Some(launch.to_owned()),
                terminate: Some(terminate.to_owned()),
            },
            ..Self::disabled()
        }
    }

    /// Reads the configuration; `ASG_NAME` is required once a hook is named, and the margin
    /// and heartbeat interval must leave room inside the timeouts.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        let hooks = Hooks {
            launch: env.optional(LAUNCH_LIFECYCLE_HOOK_NAME_ENV),
            terminate: env.optional(TERMINATE_LIFECYCLE_HOOK_NAME_ENV),
        };
        let policy = LifecyclePolicy {
            launch_timeout: env
                .duration_or(LAUNCH_HEARTBEAT_TIMEOUT_ENV, DEFAULT_HEARTBEAT_TIMEOUT)?,
            terminate_timeout: env
                .duration_or(TERMINATE_HEARTBEAT_TIMEOUT_ENV, DEFAULT_HEARTBEAT_TIMEOUT)?,
            heartbeat_interval: env
                .duration_or(LIFECYCLE_HEARTBEAT_INTERVAL_ENV, DEFAULT_HEARTBEAT_INTERVAL)?,
            deadline_margin: env
                .duration_or(LIFECYCLE_DEADLINE_MARGIN_ENV, DEFAULT_DEADLINE_MARGIN)?,
        };
        if policy.heartbeat_interval >= policy.launch_timeout {
            return Err(ConfigError::Invalid {
                name: LIFECYCLE_HEARTBEAT_INTERVAL_ENV,
                value: format!("{}s", policy.heartbeat_interval.as_secs()),
                reason: format!(
                    "must be shorter than {LAUNCH_HEARTBEAT_TIMEOUT_ENV} ({} s)",
                    policy.launch_timeout.as_secs()
                ),
            });
        }
        if policy.deadline_margin >= policy.terminate_timeout {
            return Err(ConfigError::Invalid {
                name: LIFECYCLE_DEADLINE_MARGIN_ENV,
                value: format!("{}s", policy.deadline_margin.as_secs()),
                reason: format!(
                    "must be shorter than {TERMINATE_HEARTBEAT_TIMEOUT_ENV} ({} s)",
                    policy.terminate_timeout.as_secs()
                ),
            });
        }
        let asg_name = if hooks.launch.is_some() || hooks.terminate.is_some() {
            env.required(ASG_NAME_ENV)?
        } else {
            env.optional(ASG_NAME_ENV).unwrap_or_default()
        };
        Ok(Self {
            asg_name,
            hooks,
            policy,
        })
    }

    /// The launch hook's name, when it exists.
    pub fn launch_hook(&self) -> Option<&str> {
        self.hooks.launch.as_deref()
    }

    /// The terminate hook's name, when it exists.
    pub fn terminate_hook(&self) -> Option<&str> {
        self.hooks.terminate.as_deref()
    }

    /// Whether an event's action belongs to one of our hooks.
    pub fn owns(&self, group: &str, hook: &str, transition: Transition) -> bool {
        group == self.asg_name && self.hooks.name(transition) == Some(hook)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::test_env as env;

    #[test]
    fn no_hook_named_is_disabled_and_needs_no_group() {
        let config = LifecycleConfig::from_lookup(&env(&[])).unwrap();
        assert_eq!(config, LifecycleConfig::disabled());
        assert!(config.launch_hook().is_none());
    }

    #[test]
    fn a_named_hook_needs_the_group_and_sane_timing() {
        let err =
            LifecycleConfig::from_lookup(&env(&[("LAUNCH_LIFECYCLE_HOOK_NAME", "h")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing { name: ASG_NAME_ENV });
        let err = LifecycleConfig::from_lookup(&env(&[
            ("TERMINATE_LIFECYCLE_HOOK_NAME", "h"),
            ("ASG_NAME", "asg"),
            ("TERMINATE_HEARTBEAT_TIMEOUT", "60s"),
            ("LIFECYCLE_DEADLINE_MARGIN", "2m"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string().contains("LIFECYCLE_DEADLINE_MARGIN"),
            "{err}"
        );
        let config = LifecycleConfig::from_lookup(&env(&[
            ("LAUNCH_LIFECYCLE_HOOK_NAME", "weka-launch"),
            ("TERMINATE_LIFECYCLE_HOOK_NAME", "weka-terminate"),
            ("ASG_NAME", "asg"),
            ("LAUNCH_HEARTBEAT_TIMEOUT", "1200s"),
        ]))
        .unwrap();
        assert_eq!(config.policy.launch_timeout, Duration::from_secs(1200));
        assert!(config.owns("asg", "weka-launch", Transition::Launch));
        assert!(!config.owns("asg", "weka-launch", Transition::Terminate));
        assert!(!config.owns("other", "weka-launch", Transition::Launch));
    }
}
