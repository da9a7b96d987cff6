//! Lifecycle hooks of the backend group, as the handlers use them: deciding and completing an
//! action (conditional decision first, then one AWS call, then the record closed), throttled
//! heartbeats, the lease holder's reconcile pass, and scale-down's terminate-hook pass.
//!
//! Nothing here fails the caller: a lifecycle call that fails leaves the record `Decided` (or
//! `Waiting`) and the next scale run finishes it. Callers get the failures back as
//! [`LifecycleError`]s to log or report as transient errors.

use crate::config::lifecycle::LifecycleConfig;
use crate::domain::events::EventKind;
use crate::domain::lifecycle::{
    Held, HostRef, LifecycleDecision, LifecycleKey, LifecyclePhase, LifecycleRecord,
    LifecycleResult, Members, NewLifecycleAction, ReconcileStep, Transition, reconcile,
};
use crate::domain::terminate::AsgInstance;
use crate::ports::{
    LifecycleAnswer, LifecycleTarget, ScalingError, ScalingGroups, StateStore, StoreError,
};
use crate::services::events;
use crate::wire::scale::HostGroupInfoResponse;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use std::collections::BTreeMap;
use std::time::Duration;

/// The private IP of each record's instance in the group as fetched this run.
fn ips_in_group(
    records: &[LifecycleRecord],
    info: &HostGroupInfoResponse,
) -> BTreeMap<String, Option<String>> {
    records
        .iter()
        .map(|record| {
            let ip = info
                .weka_backend_instances
                .iter()
                .find(|i| i.id == record.key.instance_id)
                .map(|i| i.private_ip.clone());
            (record.key.instance_id.clone(), ip)
        })
        .collect()
}

/// Concurrent lifecycle calls of one invocation.
const PARALLELISM: usize = 8;

/// A lifecycle step that did not happen now; the record stays as it was for the next run.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The recorded actions could not be read.
    #[error("lifecycle actions could not be read")]
    Read(#[source] StoreError),
    /// An action could not be recorded.
    #[error("recording {key} failed")]
    Record {
        /// The action.
        key: LifecycleKey,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The conditional decision could not be written.
    #[error("lifecycle decision for {key} failed")]
    Decide {
        /// The action.
        key: LifecycleKey,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// Auto Scaling did not take the decided outcome.
    #[error("completing {key} with {result} failed")]
    Complete {
        /// The action.
        key: LifecycleKey,
        /// The decided outcome.
        result: LifecycleResult,
        /// Why.
        #[source]
        source: ScalingError,
    },
    /// The record could not be closed.
    #[error("closing {key} failed")]
    Close {
        /// The action.
        key: LifecycleKey,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The heartbeat slot could not be taken.
    #[error("heartbeat slot of {key} failed")]
    HeartbeatSlot {
        /// The action.
        key: LifecycleKey,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// Auto Scaling did not take the heartbeat.
    #[error("heartbeat of {key} failed")]
    Heartbeat {
        /// The action.
        key: LifecycleKey,
        /// Why.
        #[source]
        source: ScalingError,
    },
}

/// Lifecycle failures as transient-error texts (each with its source chain).
pub fn error_texts(errors: &[LifecycleError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| crate::error::error_chain(e))
        .collect()
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

fn key_of(target: &LifecycleTarget, transition: Transition) -> LifecycleKey {
    LifecycleKey {
        instance_id: target.instance_id.clone(),
        transition,
    }
}

/// Fixes `result` as the action's outcome unless another outcome was fixed first; returns
/// whether this call decided.
pub async fn decide<S: StateStore>(
    store: &S,
    target: &LifecycleTarget,
    transition: Transition,
    result: LifecycleResult,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, LifecycleError> {
    let key = key_of(target, transition);
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
        .map_err(|source| LifecycleError::Decide {
            key: key.clone(),
            source,
        })?;
    if decided {
        tracing::info!(instance = %key.instance_id, %transition, %result, reason, "lifecycle action decided");
        events::record(
            store,
            EventKind::Lifecycle,
            &key.instance_id,
            &format!("{transition} {result}: {reason}"),
            now,
        )
        .await;
    } else {
        tracing::debug!(instance = %key.instance_id, %transition, "lifecycle action already decided");
    }
    Ok(decided)
}

/// Decides `result` for the action (unless another outcome was fixed first), then completes
/// it. Returns whether this call decided.
pub async fn decide_and_complete<G: ScalingGroups, S: StateStore>(
    groups: &G,
    store: &S,
    target: &LifecycleTarget,
    transition: Transition,
    result: LifecycleResult,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, LifecycleError> {
    if !decide(store, target, transition, result, reason, now).await? {
        return Ok(false);
    }
    let key = key_of(target, transition);
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
) -> Result<(), LifecycleError> {
    let answer = groups
        .complete_lifecycle_action(target, result)
        .await
        .map_err(|source| {
            let error = LifecycleError::Complete {
                key: key.clone(),
                result,
                source,
            };
            tracing::warn!(error = %crate::error::error_chain(&error), "left decided; the next scale run completes it");
            error
        })?;
    let closing_reason = match answer {
        LifecycleAnswer::Accepted => reason.to_owned(),
        LifecycleAnswer::NotPending => format!("{reason} (the action was no longer pending)"),
    };
    tracing::info!(instance = %key.instance_id, transition = %key.transition, %result, ?answer, "lifecycle action completed");
    close(store, key, Some(result), &closing_reason, now).await
}

async fn close<S: StateStore>(
    store: &S,
    key: &LifecycleKey,
    result: Option<LifecycleResult>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), LifecycleError> {
    store
        .close_lifecycle_action(key, result, reason, now)
        .await
        .map(drop)
        .map_err(|source| LifecycleError::Close {
            key: key.clone(),
            source,
        })
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
) -> Result<bool, LifecycleError> {
    let claimed = store
        .claim_lifecycle_heartbeat(&record.key, now, interval)
        .await
        .map_err(|source| LifecycleError::HeartbeatSlot {
            key: record.key.clone(),
            source,
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
            close(
                store,
                &record.key,
                None,
                "the action was no longer pending when a heartbeat was sent",
                now,
            )
            .await
            .map(|()| false)
        }
        Err(source) => Err(LifecycleError::Heartbeat {
            key: record.key.clone(),
            source,
        }),
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

/// Records a lifecycle action (event or observation), logging what was recorded.
pub async fn record<S: StateStore>(
    store: &S,
    action: &NewLifecycleAction,
) -> Result<(), LifecycleError> {
    store
        .record_lifecycle_action(action)
        .await
        .map_err(|source| LifecycleError::Record {
            key: action.key.clone(),
            source,
        })?;
    tracing::info!(
        instance = %action.key.instance_id,
        transition = %action.key.transition,
        hook = %action.hook,
        token = action.token.is_some(),
        "lifecycle action recorded"
    );
    Ok(())
}

/// The lease holder's pass (see [`reconcile`]; `held`: the terminations scale-down held back
/// this run); returns the failures.
pub async fn run_reconcile<G: ScalingGroups, S: StateStore>(
    groups: &G,
    store: &S,
    config: &LifecycleConfig,
    backend: Option<&[AsgInstance]>,
    members: &Members,
    held: &Held,
    now: DateTime<Utc>,
) -> Vec<LifecycleError> {
    let records = match store.lifecycle_actions().await {
        Ok(records) => records,
        Err(e) => return vec![LifecycleError::Read(e)],
    };
    let steps = reconcile(
        &records,
        backend.map(|b| (config.asg_name.as_str(), b)),
        &config.hooks,
        members,
        &config.policy,
        held,
        now,
    );
    for_each_bounded(steps, |step| async move {
        match step {
            ReconcileStep::Record(action) => record(store, &action).await,
            ReconcileStep::Close { key, reason } => {
                tracing::info!(instance = %key.instance_id, transition = %key.transition, reason, "lifecycle action ended elsewhere");
                close(store, &key, None, &reason, now).await
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
    .await
}

/// Runs `f` over `items`, at most [`PARALLELISM`] at a time, collecting the failures.
pub async fn for_each_bounded<T, E, F, Fut>(items: Vec<T>, f: F) -> Vec<E>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    futures::stream::iter(items)
        .map(f)
        .buffer_unordered(PARALLELISM)
        .filter_map(|r| async move { r.err() })
        .collect()
        .await
}

/// Scale-down's side of the hooks: the instances waiting to leave (terminate hook) and to be let
/// in (launch hook), read when the run begins, and their decisions settled once WEKA has been
/// acted on and read again.
#[derive(Debug, Default)]
pub struct HookPass {
    /// Waiting terminate actions (none without the hook).
    pub leaving: Vec<LifecycleRecord>,
    /// Waiting launch actions (none without the hook).
    pub joining: Vec<LifecycleRecord>,
    /// What went wrong so far.
    pub errors: Vec<LifecycleError>,
}

impl HookPass {
    /// Reads the waiting actions of the configured hooks; nothing without hooks.
    pub async fn begin<S: StateStore>(store: &S, config: &LifecycleConfig) -> Self {
        let waiting = |transition: Transition, configured: bool, records: &[LifecycleRecord]| {
            records
                .iter()
                .filter(|r| {
                    configured
                        && r.key.transition == transition
                        && r.phase == LifecyclePhase::Waiting
                })
                .cloned()
                .collect()
        };
        let (launch, terminate) = (
            config.launch_hook().is_some(),
            config.terminate_hook().is_some(),
        );
        if !launch && !terminate {
            return Self::default();
        }
        match store.lifecycle_actions().await {
            Ok(records) => Self {
                leaving: waiting(Transition::Terminate, terminate, &records),
                joining: waiting(Transition::Launch, launch, &records),
                errors: Vec::new(),
            },
            Err(e) => Self {
                errors: vec![LifecycleError::Read(e)],
                ..Self::default()
            },
        }
    }

    /// Keeps only the actions Auto Scaling confirms, as `scale-fetch` found the group this run:
    /// the instance in the wait state of the action's transition. Any other (a forged or stale
    /// event, an instance back in service) is never acted on here; a warning names it, and the
    /// terminate step's pass closes it once the group shows it out of the wait state.
    pub fn keep_confirmed(&mut self, info: &HostGroupInfoResponse) {
        let confirmed = |record: &LifecycleRecord| {
            let transition = record.key.transition;
            let ok = info.confirms_wait(&record.key.instance_id, transition.wait_state());
            if !ok {
                tracing::warn!(
                    instance = %record.key.instance_id,
                    %transition,
                    state = info
                        .lifecycle_waits
                        .as_ref()
                        .and_then(|w| w.get(&record.key.instance_id))
                        .map_or("not in a wait state", String::as_str),
                    "lifecycle action not confirmed by auto scaling: not acted on"
                );
            }
            ok
        };
        self.leaving.retain(|r| confirmed(r));
        self.joining.retain(|r| confirmed(r));
    }

    /// The private IP of each leaving instance, from the group as fetched this run. Never the
    /// recorded one: an instance that already left may have passed its IP on to a new backend,
    /// whose machine must not be deactivated.
    pub fn leaving_ips(&self, info: &HostGroupInfoResponse) -> BTreeMap<String, Option<String>> {
        ips_in_group(&self.leaving, info)
    }

    /// Decides CONTINUE for the waiting launches whose machine WEKA runs as a member
    /// (`joined(ip)`) once `decide_one` says so: the join report was lost. Failures join the
    /// pass's errors.
    pub async fn settle_joins<S: StateStore>(
        &mut self,
        store: &S,
        info: &HostGroupInfoResponse,
        joined: impl Fn(&str) -> bool,
        decide_one: impl Fn(&LifecycleRecord, bool) -> Option<(LifecycleResult, String)>,
        now: DateTime<Utc>,
    ) {
        let ips = ips_in_group(&self.joining, info);
        for record in &self.joining {
            let is_joined = ips
                .get(&record.key.instance_id)
                .cloned()
                .flatten()
                .is_some_and(|ip| joined(&ip));
            let Some((result, reason)) = decide_one(record, is_joined) else {
                continue;
            };
            let target = target_of(record);
            if let Err(e) =
                decide(store, &target, record.key.transition, result, &reason, now).await
            {
                self.errors.push(e);
            }
        }
    }

    /// Decides the waiting actions `decide` settles (the terminate step completes them) and
    /// returns every failure of the pass.
    pub async fn settle<S: StateStore>(
        self,
        store: &S,
        decide_one: impl Fn(&LifecycleRecord) -> Option<(LifecycleResult, String)>,
        now: DateTime<Utc>,
    ) -> Vec<LifecycleError> {
        let mut errors = self.errors;
        for record in &self.leaving {
            let Some((result, reason)) = decide_one(record) else {
                tracing::info!(instance = %record.key.instance_id, "terminating instance: waiting for its deactivation");
                continue;
            };
            let target = target_of(record);
            if let Err(e) =
                decide(store, &target, record.key.transition, result, &reason, now).await
            {
                errors.push(e);
            }
        }
        errors
    }
}
