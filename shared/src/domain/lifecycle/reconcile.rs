//! The lease holder's level-triggered pass over the recorded lifecycle actions: what to record,
//! complete, heartbeat or close, from the records and the group as Auto Scaling shows it.

use super::*;
use crate::domain::terminate::AsgInstance;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// One step of [`reconcile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReconcileStep {
    /// Record an action seen in a wait state without a record (its event was lost), or add the
    /// private IP an existing record lacks.
    Record(NewLifecycleAction),
    /// Tell AWS the outcome. `decide_first`: the record is still waiting, so the outcome must
    /// be decided (conditionally) before the call.
    Complete {
        /// The record.
        record: LifecycleRecord,
        /// Outcome.
        result: LifecycleResult,
        /// Why.
        reason: String,
        /// Decide before calling AWS.
        decide_first: bool,
    },
    /// The action ended without us (instance left the wait state or the group): close the record.
    Close {
        /// The record.
        key: LifecycleKey,
        /// Why.
        reason: String,
    },
    /// Keep the action alive (a member of a cluster still forming waits for the others; a
    /// termination held back by the safety floor or the in-flight cap waits for its turn).
    Heartbeat(LifecycleRecord),
}

/// The terminations whose hooks the pass keeps alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// Those scale-down held back this run (safety floor, in-flight cap, still deactivating, a
    /// paused scale-down).
    These(BTreeSet<String>),
    /// Every waiting termination: scale-down gave no answer, so nothing says which may go, and
    /// one left to Auto Scaling's heartbeat timeout would leave with its hook's default result,
    /// never deactivated.
    Every,
}

impl Held {
    /// Whether `instance_id`'s waiting termination is kept alive.
    pub fn holds(&self, instance_id: &str) -> bool {
        match self {
            Self::These(ids) => ids.contains(instance_id),
            Self::Every => true,
        }
    }
}

/// The backend group's registration set, as the pass reads it from the cluster state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Members {
    /// The state could not be read: no member is treated specially.
    #[default]
    Unknown,
    /// The cluster is still forming; its registered members wait for each other.
    Forming(BTreeSet<String>),
    /// The cluster has formed with these initial members.
    Formed(BTreeSet<String>),
}

/// The lease holder's pass over the lifecycle records and the backend group (every scale run):
/// completes what was decided, closes what ended elsewhere, abandons launches that went silent
/// past their heartbeat timeout, continues terminations at their deadline, keeps members of a
/// forming cluster alive, keeps the terminations scale-down held back alive, continues the launch of a member of the formed cluster (whose
/// finalization did not complete it: a lost call must not cost a member), and records wait
/// states whose events were lost.
///
/// `group` is `None` when the backend group could not be found: nothing is closed then.
/// `held` names the terminating instances scale-down held back this run (safety floor,
/// in-flight cap), or all of them when it gave no answer: their hooks are heartbeated until the
/// hook's global timeout.
pub fn reconcile(
    records: &[LifecycleRecord],
    group: Option<(&str, &[AsgInstance])>,
    hooks: &Hooks,
    members: &Members,
    policy: &LifecyclePolicy,
    held: &Held,
    now: DateTime<Utc>,
) -> Vec<ReconcileStep> {
    let mut steps = Vec::new();
    let by_key: BTreeMap<&LifecycleKey, &LifecycleRecord> =
        records.iter().map(|r| (&r.key, r)).collect();
    let instances: Option<BTreeMap<&str, &AsgInstance>> =
        group.map(|(_, list)| list.iter().map(|i| (i.id.as_str(), i)).collect());

    if let Some((name, list)) = group {
        for instance in list {
            for transition in [Transition::Launch, Transition::Terminate] {
                let Some(hook) = hooks.name(transition) else {
                    continue;
                };
                if !instance.lifecycle.waits_for(transition) {
                    continue;
                }
                let key = LifecycleKey {
                    instance_id: instance.id.clone(),
                    transition,
                };
                let known = by_key.get(&key);
                let lacks_ip = known.is_some_and(|r| {
                    r.is_open() && r.private_ip.is_none() && instance.private_ip.is_some()
                });
                if known.is_none() || lacks_ip {
                    steps.push(ReconcileStep::Record(NewLifecycleAction {
                        key,
                        group: name.to_owned(),
                        hook: hook.to_owned(),
                        token: None,
                        started_at: now,
                        private_ip: instance.private_ip.clone(),
                    }));
                }
            }
        }
    }

    for record in records.iter().filter(|r| r.is_open()) {
        if record.phase == LifecyclePhase::Decided {
            steps.push(ReconcileStep::Complete {
                record: record.clone(),
                result: record.result.unwrap_or(LifecycleResult::Continue),
                reason: record.reason.clone().unwrap_or_default(),
                decide_first: false,
            });
            continue;
        }
        if let Some(instances) = &instances {
            let state = instances
                .get(record.key.instance_id.as_str())
                .map(|i| &i.lifecycle);
            match state {
                None => {
                    steps.push(ReconcileStep::Close {
                        key: record.key.clone(),
                        reason: "the instance left the group".to_owned(),
                    });
                    continue;
                }
                Some(state) if !state.waits_for(record.key.transition) => {
                    steps.push(ReconcileStep::Close {
                        key: record.key.clone(),
                        reason: format!("the instance is {} now", lifecycle_text(state)),
                    });
                    continue;
                }
                Some(_) => {}
            }
        }
        match record.key.transition {
            Transition::Launch => {
                if let Members::Formed(formed) = members
                    && formed.contains(&record.key.instance_id)
                {
                    steps.push(ReconcileStep::Complete {
                        record: record.clone(),
                        result: LifecycleResult::Continue,
                        reason: "a member of the formed cluster (its finalization did not \
                                 complete the action)"
                            .to_owned(),
                        decide_first: true,
                    });
                } else if now >= record.heartbeat_deadline(policy.launch_timeout) {
                    steps.push(ReconcileStep::Complete {
                        record: record.clone(),
                        result: LifecycleResult::Abandon,
                        reason: format!(
                            "no progress for {} s (the hook's heartbeat timeout)",
                            policy.launch_timeout.as_secs()
                        ),
                        decide_first: true,
                    });
                } else if let Members::Forming(forming) = members
                    && forming.contains(&record.key.instance_id)
                {
                    steps.push(ReconcileStep::Heartbeat(record.clone()));
                }
            }
            Transition::Terminate => {
                if now >= policy.terminate_deadline(record) {
                    steps.push(ReconcileStep::Complete {
                        record: record.clone(),
                        result: LifecycleResult::Continue,
                        reason: format!(
                            "the hook's deadline is near ({} s margin): terminating without a \
                             finished deactivation",
                            policy.deadline_margin.as_secs()
                        ),
                        decide_first: true,
                    });
                } else if held.holds(&record.key.instance_id) {
                    steps.push(ReconcileStep::Heartbeat(record.clone()));
                }
            }
        }
    }
    steps
}
