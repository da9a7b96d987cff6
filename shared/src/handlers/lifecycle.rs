//! Lifecycle hooks of the backend group, as the handlers use them: the shared configuration,
//! deciding and completing an action (conditional decision first, then one AWS call, then the
//! record closed), throttled heartbeats, and the lease holder's reconcile pass.
//!
//! Nothing here fails the caller: a lifecycle call that fails leaves the record `Decided` (or
//! `Waiting`) and the next scale run finishes it. Callers that collect transient errors get the
//! failures back as text.

use crate::config::{ConfigError, Lookup};
use crate::domain::lifecycle::{
    Hooks, HostRef, LifecycleDecision, LifecycleKey, LifecyclePhase, LifecyclePolicy,
    LifecycleRecord, LifecycleResult, NewLifecycleAction, ReconcileStep, Transition, reconcile,
};
use crate::domain::terminate::AsgInstance;
use crate::handlers::fetch::ASG_NAME_ENV;
use crate::lambda::error_chain;
use crate::ports::{LifecycleAnswer, LifecycleTarget, ScalingGroups, StateStore};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::time::Duration;

/// Name of the launch hook; unset or empty: no launch hook.
pub const LAUNCH_LIFECYCLE_HOOK_NAME_ENV: &str = "LAUNCH_LIFECYCLE_HOOK_NAME";
/// The launch hook's heartbeat timeout (e.g. `900s`), as configured on the hook.
pub const LAUNCH_HEARTBEAT_TIMEOUT_ENV: &str = "LAUNCH_HEARTBEAT_TIMEOUT";
/// Name of the terminate hook; unset or empty: no terminate hook.
pub const TERMINATE_LIFECYCLE_HOOK_NAME_ENV: &str = "TERMINATE_LIFECYCLE_HOOK_NAME";
/// The terminate hook's heartbeat timeout (e.g. `900s`), as configured on the hook.
pub const TERMINATE_HEARTBEAT_TIMEOUT_ENV: &str = "TERMINATE_HEARTBEAT_TIMEOUT";
/// At most one heartbeat per instance per this interval (e.g. `30s`).
pub const LIFECYCLE_HEARTBEAT_INTERVAL_ENV: &str = "LIFECYCLE_HEARTBEAT_INTERVAL";
/// A termination is let go at the latest this long before the hook's deadline (e.g. `2m`).
pub const LIFECYCLE_DEADLINE_MARGIN_ENV: &str = "LIFECYCLE_DEADLINE_MARGIN";
/// Default of both heartbeat timeouts: 15 minutes, above the longest quiet stretch of an
/// install (the package download) and the 10-minute "operational" wait of a join.
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(900);
/// Default of [`LIFECYCLE_HEARTBEAT_INTERVAL_ENV`].
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Default of [`LIFECYCLE_DEADLINE_MARGIN_ENV`]: two scale ticks.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(120);
/// Concurrent lifecycle calls of one invocation.
const PARALLELISM: usize = 8;

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

/// The AWS identity of a recorded action.
pub fn target_of(record: &LifecycleRecord) -> LifecycleTarget {
    LifecycleTarget {
        group: record.group.clone(),
        hook: record.hook.clone(),
        instance_id: record.key.instance_id.clone(),
        token: record.token.clone(),
    }
}

/// Decides `result` for the action (unless another outcome was fixed first), then completes
/// it. Returns whether this call decided; an error text when the completion must be retried.
pub async fn decide_and_complete<G: ScalingGroups, S: StateStore>(
    groups: &G,
    store: &S,
    target: &LifecycleTarget,
    transition: Transition,
    result: LifecycleResult,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, String> {
    let key = LifecycleKey {
        instance_id: target.instance_id.clone(),
        transition,
    };
    let decided = store
        .decide_lifecycle_action(&LifecycleDecision {
            key: key.clone(),
            group: target.group.clone(),
            hook: target.hook.clone(),
            result,
            reason: reason.to_owned(),
            at: now,
        })
        .await
        .map_err(|e| format!("lifecycle decision for {key} failed: {}", error_chain(&e)))?;
    if !decided {
        tracing::debug!(instance = %key.instance_id, %transition, "lifecycle action already decided");
        return Ok(false);
    }
    tracing::info!(instance = %key.instance_id, %transition, %result, reason, "lifecycle action decided");
    complete(groups, store, target, &key, result, reason, now).await?;
    Ok(true)
}

/// Sends a decided outcome to AWS and closes the record. A `NotPending` answer (completed
/// before, or timed out) closes it too: completing twice is harmless.
pub async fn complete<G: ScalingGroups, S: StateStore>(
    groups: &G,
    store: &S,
    target: &LifecycleTarget,
    key: &LifecycleKey,
    result: LifecycleResult,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let answer = groups
        .complete_lifecycle_action(target, result)
        .await
        .map_err(|e| {
            let message = format!("completing {key} with {result} failed: {}", error_chain(&e));
            tracing::warn!(error = %message, "left decided; the next scale run completes it");
            message
        })?;
    let closing_reason = match answer {
        LifecycleAnswer::Accepted => reason.to_owned(),
        LifecycleAnswer::NotPending => format!("{reason} (the action was no longer pending)"),
    };
    tracing::info!(instance = %key.instance_id, transition = %key.transition, %result, ?answer, "lifecycle action completed");
    store
        .close_lifecycle_action(key, Some(result), &closing_reason, now)
        .await
        .map(drop)
        .map_err(|e| format!("closing {key} failed: {}", error_chain(&e)))
}

/// Records a heartbeat for a waiting action, at most once per `interval` per instance (the
/// slot is taken in the store first, so concurrent callers send one). Returns whether a
/// heartbeat was sent.
pub async fn heartbeat<G: ScalingGroups, S: StateStore>(
    groups: &G,
    store: &S,
    record: &LifecycleRecord,
    interval: Duration,
    now: DateTime<Utc>,
) -> Result<bool, String> {
    let claimed = store
        .claim_lifecycle_heartbeat(&record.key, now, interval)
        .await
        .map_err(|e| {
            format!(
                "heartbeat slot of {} failed: {}",
                record.key,
                error_chain(&e)
            )
        })?;
    if !claimed {
        return Ok(false);
    }
    match groups
        .record_lifecycle_action_heartbeat(&target_of(record))
        .await
    {
        Ok(LifecycleAnswer::Accepted) => {
            tracing::debug!(instance = %record.key.instance_id, "lifecycle heartbeat recorded");
            Ok(true)
        }
        Ok(LifecycleAnswer::NotPending) => {
            tracing::info!(instance = %record.key.instance_id, "heartbeat refused: the action is over");
            store
                .close_lifecycle_action(
                    &record.key,
                    None,
                    "the action was no longer pending when a heartbeat was sent",
                    now,
                )
                .await
                .map(|_| false)
                .map_err(|e| format!("closing {} failed: {}", record.key, error_chain(&e)))
        }
        Err(e) => Err(format!(
            "heartbeat of {} failed: {}",
            record.key,
            error_chain(&e)
        )),
    }
}

/// The open (waiting or decided) launch record of a reporting host, by instance id or private
/// IP; the most recent one when an IP matches several (a new instance may reuse the IP of one
/// whose record is not closed yet). Completed records are never matched: their IP may belong
/// to another instance by now.
pub fn open_launch_record<'a>(
    records: &'a [LifecycleRecord],
    host: &HostRef,
) -> Option<&'a LifecycleRecord> {
    records
        .iter()
        .filter(|r| r.key.transition == Transition::Launch && r.is_open() && r.matches(host))
        .max_by_key(|r| r.started_at)
}

/// The launch records still waiting.
pub fn waiting_launches(records: &[LifecycleRecord]) -> impl Iterator<Item = &LifecycleRecord> {
    records
        .iter()
        .filter(|r| r.key.transition == Transition::Launch && r.phase == LifecyclePhase::Waiting)
}

/// Records a lifecycle action (event or observation), logging what was recorded.
pub async fn record<S: StateStore>(store: &S, action: &NewLifecycleAction) -> Result<(), String> {
    store
        .record_lifecycle_action(action)
        .await
        .map_err(|e| format!("recording {} failed: {}", action.key, error_chain(&e)))?;
    tracing::info!(
        instance = %action.key.instance_id,
        transition = %action.key.transition,
        hook = %action.hook,
        token = action.token.is_some(),
        "lifecycle action recorded"
    );
    Ok(())
}

/// The lease holder's pass (see [`reconcile`]); returns the failures as transient-error text.
pub async fn run_reconcile<G: ScalingGroups, S: StateStore>(
    groups: &G,
    store: &S,
    config: &LifecycleConfig,
    backend: Option<&[AsgInstance]>,
    forming_members: &BTreeSet<String>,
    now: DateTime<Utc>,
) -> Vec<String> {
    use futures::StreamExt as _;

    let records = match store.lifecycle_actions().await {
        Ok(records) => records,
        Err(e) => {
            return vec![format!(
                "lifecycle actions could not be read: {}",
                error_chain(&e)
            )];
        }
    };
    let steps = reconcile(
        &records,
        backend.map(|b| (config.asg_name.as_str(), b)),
        &config.hooks,
        forming_members,
        &config.policy,
        now,
    );
    let results: Vec<Result<(), String>> = futures::stream::iter(steps)
        .map(|step| async move {
            match step {
                ReconcileStep::Record(action) => record(store, &action).await,
                ReconcileStep::Close { key, reason } => {
                    tracing::info!(instance = %key.instance_id, transition = %key.transition, reason, "lifecycle action ended elsewhere");
                    store
                        .close_lifecycle_action(&key, None, &reason, now)
                        .await
                        .map(drop)
                        .map_err(|e| format!("closing {key} failed: {}", error_chain(&e)))
                }
                ReconcileStep::Complete {
                    record,
                    result,
                    reason,
                    decide_first,
                } => {
                    let target = target_of(&record);
                    if decide_first {
                        decide_and_complete(
                            groups,
                            store,
                            &target,
                            record.key.transition,
                            result,
                            &reason,
                            now,
                        )
                        .await
                        .map(drop)
                    } else {
                        complete(groups, store, &target, &record.key, result, &reason, now).await
                    }
                }
                ReconcileStep::Heartbeat(record) => {
                    heartbeat(groups, store, &record, config.policy.heartbeat_interval, now)
                        .await
                        .map(drop)
                }
            }
        })
        .buffer_unordered(PARALLELISM)
        .collect()
        .await;
    results.into_iter().filter_map(Result::err).collect()
}

/// Runs `f` over `items`, at most [`PARALLELISM`] at a time, collecting the failures.
pub async fn for_each_bounded<T, F, Fut>(items: Vec<T>, f: F) -> Vec<String>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    use futures::StreamExt as _;
    futures::stream::iter(items)
        .map(f)
        .buffer_unordered(PARALLELISM)
        .filter_map(|r| async move { r.err() })
        .collect()
        .await
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
