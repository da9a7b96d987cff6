//! An in-memory [`ScalingGroups`] with the effects AWS has (detach removes the instance from its
//! group, terminate moves it to `shutting-down`, completing a lifecycle action moves the
//! instance on), every mutation recorded, and injectable failures per operation and instance.
//!
//! Pending lifecycle actions are explicit ([`FakeScalingGroups::add_pending_action`]); a call
//! for an action that is not pending answers [`LifecycleAnswer::NotPending`], as AWS does with
//! its `ValidationError`.

use crate::domain::lifecycle::{LifecycleResult, Transition};
use crate::domain::terminate::{AsgHealth, AsgInstance, Ec2State, Lifecycle};
use crate::ports::{
    GroupInstance, LifecycleAnswer, LifecycleTarget, Membership, ScalingError, ScalingGroup,
    ScalingGroups,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// A mutation the fake received, in call order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScalingCall {
    /// `DetachInstances(ShouldDecrementDesiredCapacity=false)`.
    Detach {
        /// Group.
        group: String,
        /// Instances.
        ids: Vec<String>,
    },
    /// `SetInstanceProtection`.
    Protect {
        /// Group.
        group: String,
        /// Instances.
        ids: Vec<String>,
        /// New value.
        protected: bool,
    },
    /// `ModifyInstanceAttribute` (termination and stop allowed).
    AllowTermination {
        /// Instance.
        id: String,
    },
    /// `ModifyInstanceAttribute` (termination and stop protected again).
    ProtectFromTermination {
        /// Instance.
        id: String,
    },
    /// `TerminateInstances`.
    Terminate {
        /// Instances.
        ids: Vec<String>,
    },
    /// `CompleteLifecycleAction`.
    CompleteLifecycle {
        /// The action.
        target: LifecycleTarget,
        /// The result sent.
        result: LifecycleResult,
        /// What the fake answered.
        answer: LifecycleAnswer,
    },
    /// `RecordLifecycleActionHeartbeat`.
    Heartbeat {
        /// The action.
        target: LifecycleTarget,
        /// What the fake answered.
        answer: LifecycleAnswer,
    },
}

/// Auto Scaling groups in memory.
#[derive(Debug, Default)]
pub struct FakeScalingGroups {
    groups: Mutex<BTreeMap<String, ScalingGroup>>,
    calls: Mutex<Vec<ScalingCall>>,
    failing: Mutex<BTreeSet<(String, String)>>,
    fail_describe: Mutex<bool>,
    /// `(group, hook, instance)` → transition of the pending lifecycle actions.
    pending: Mutex<BTreeMap<(String, String, String), Transition>>,
}

/// An in-service, healthy, running instance launched at `launched`.
pub fn group_instance(id: &str, ip: &str, launched: DateTime<Utc>) -> GroupInstance {
    GroupInstance {
        instance: AsgInstance {
            id: id.to_owned(),
            private_ip: (!ip.is_empty()).then(|| ip.to_owned()),
            health: AsgHealth::Healthy,
            lifecycle: Lifecycle::InService,
            protected_from_scale_in: true,
            ec2_state: Some(Ec2State::Running),
            launch_time: Some(launched),
        },
        tags: BTreeMap::new(),
    }
}

impl FakeScalingGroups {
    /// Adds (or replaces) a group.
    pub fn add_group(&self, name: &str, desired: u32, instances: Vec<GroupInstance>) {
        self.groups.lock().unwrap().insert(
            name.to_owned(),
            ScalingGroup {
                name: name.to_owned(),
                desired_capacity: desired,
                min_size: 0,
                max_size: 100,
                instances,
            },
        );
    }

    /// Changes one instance of a group in place.
    pub fn update(&self, group: &str, id: &str, change: impl FnOnce(&mut GroupInstance)) {
        let mut groups = self.groups.lock().unwrap();
        let instance = groups
            .get_mut(group)
            .and_then(|g| g.instances.iter_mut().find(|i| i.instance.id == id))
            .unwrap();
        change(instance);
    }

    /// Makes `operation` (`detach`, `protect`, `allow_termination`, `protect_from_termination`,
    /// `terminate`) fail whenever it touches instance `id`.
    pub fn fail(&self, operation: &str, id: &str) {
        self.failing
            .lock()
            .unwrap()
            .insert((operation.to_owned(), id.to_owned()));
    }

    /// Makes `describe_groups` fail.
    pub fn fail_describe(&self) {
        *self.fail_describe.lock().unwrap() = true;
    }

    /// Every mutation so far.
    pub fn calls(&self) -> Vec<ScalingCall> {
        self.calls.lock().unwrap().clone()
    }

    /// Puts `instance` of `group` in the wait state of `transition` under `hook`: the action is
    /// pending and the instance shows `Pending:Wait` / `Terminating:Wait` (when it is in the group).
    pub fn add_pending_action(
        &self,
        group: &str,
        hook: &str,
        instance: &str,
        transition: Transition,
    ) {
        self.pending.lock().unwrap().insert(
            (group.to_owned(), hook.to_owned(), instance.to_owned()),
            transition,
        );
        if let Some(g) = self.groups.lock().unwrap().get_mut(group)
            && let Some(i) = g.instances.iter_mut().find(|i| i.instance.id == instance)
        {
            i.instance.lifecycle = Lifecycle::Other(transition.wait_state().to_owned());
        }
    }

    /// Whether a lifecycle action of `instance` is still pending.
    pub fn is_pending(&self, instance: &str) -> bool {
        self.pending
            .lock()
            .unwrap()
            .keys()
            .any(|(_, _, i)| i == instance)
    }

    /// Every `CompleteLifecycleAction` so far: `(instance, result, answer)`.
    pub fn completions(&self) -> Vec<(String, LifecycleResult, LifecycleAnswer)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                ScalingCall::CompleteLifecycle {
                    target,
                    result,
                    answer,
                } => Some((target.instance_id, result, answer)),
                _ => None,
            })
            .collect()
    }

    /// Every `RecordLifecycleActionHeartbeat` so far: the instances, in call order.
    pub fn heartbeats(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                ScalingCall::Heartbeat { target, .. } => Some(target.instance_id),
                _ => None,
            })
            .collect()
    }

    /// The current state of a group.
    pub fn group(&self, name: &str) -> Option<ScalingGroup> {
        self.groups.lock().unwrap().get(name).cloned()
    }

    fn check(&self, operation: &'static str, ids: &[String]) -> Result<(), ScalingError> {
        let failing = self.failing.lock().unwrap();
        match ids
            .iter()
            .find(|id| failing.contains(&(operation.to_owned(), (*id).clone())))
        {
            Some(id) => Err(ScalingError {
                operation,
                target: id.clone(),
                source: "injected failure".into(),
            }),
            None => Ok(()),
        }
    }

    fn record(&self, call: ScalingCall) {
        self.calls.lock().unwrap().push(call);
    }
}

impl ScalingGroups for FakeScalingGroups {
    async fn membership(&self, instance_id: &str) -> Result<Option<Membership>, ScalingError> {
        if *self.fail_describe.lock().unwrap() {
            return Err(ScalingError {
                operation: "describe_auto_scaling_instances",
                target: instance_id.to_owned(),
                source: "injected failure".into(),
            });
        }
        let groups = self.groups.lock().unwrap();
        Ok(groups.values().find_map(|g| {
            g.instances
                .iter()
                .find(|i| i.instance.id == instance_id)
                .map(|i| Membership {
                    group: g.name.clone(),
                    lifecycle: i.instance.lifecycle.clone(),
                })
        }))
    }

    async fn describe_groups(&self, names: &[String]) -> Result<Vec<ScalingGroup>, ScalingError> {
        if *self.fail_describe.lock().unwrap() {
            return Err(ScalingError {
                operation: "describe_auto_scaling_groups",
                target: names.join(","),
                source: "injected failure".into(),
            });
        }
        let groups = self.groups.lock().unwrap();
        Ok(names
            .iter()
            .filter_map(|n| groups.get(n).cloned())
            .collect())
    }

    async fn detach(&self, group: &str, instance_ids: &[String]) -> Result<(), ScalingError> {
        self.record(ScalingCall::Detach {
            group: group.to_owned(),
            ids: instance_ids.to_vec(),
        });
        self.check("detach", instance_ids)?;
        assert!(instance_ids.len() <= 20, "DetachInstances takes at most 20");
        if let Some(g) = self.groups.lock().unwrap().get_mut(group) {
            g.instances
                .retain(|i| !instance_ids.contains(&i.instance.id));
        }
        Ok(())
    }

    async fn set_scale_in_protection(
        &self,
        group: &str,
        instance_ids: &[String],
        protected: bool,
    ) -> Result<(), ScalingError> {
        self.record(ScalingCall::Protect {
            group: group.to_owned(),
            ids: instance_ids.to_vec(),
            protected,
        });
        self.check("protect", instance_ids)?;
        if let Some(g) = self.groups.lock().unwrap().get_mut(group) {
            for i in &mut g.instances {
                if instance_ids.contains(&i.instance.id) {
                    i.instance.protected_from_scale_in = protected;
                }
            }
        }
        Ok(())
    }

    async fn allow_termination(&self, instance_id: &str) -> Result<(), ScalingError> {
        self.record(ScalingCall::AllowTermination {
            id: instance_id.to_owned(),
        });
        self.check("allow_termination", &[instance_id.to_owned()])
    }

    async fn protect_from_termination(&self, instance_id: &str) -> Result<(), ScalingError> {
        self.record(ScalingCall::ProtectFromTermination {
            id: instance_id.to_owned(),
        });
        self.check("protect_from_termination", &[instance_id.to_owned()])
    }

    async fn terminate(&self, instance_ids: &[String]) -> Result<Vec<String>, ScalingError> {
        self.record(ScalingCall::Terminate {
            ids: instance_ids.to_vec(),
        });
        self.check("terminate", instance_ids)?;
        for g in self.groups.lock().unwrap().values_mut() {
            for i in &mut g.instances {
                if instance_ids.contains(&i.instance.id) {
                    i.instance.ec2_state = Some(Ec2State::ShuttingDown);
                }
            }
        }
        Ok(instance_ids.to_vec())
    }

    async fn complete_lifecycle_action(
        &self,
        target: &LifecycleTarget,
        result: LifecycleResult,
    ) -> Result<LifecycleAnswer, ScalingError> {
        // A failed call is not recorded: `completions()` lists what AWS accepted or refused.
        self.check(
            "complete_lifecycle_action",
            std::slice::from_ref(&target.instance_id),
        )?;
        let key = (
            target.group.clone(),
            target.hook.clone(),
            target.instance_id.clone(),
        );
        let transition = self.pending.lock().unwrap().remove(&key);
        let answer = match transition {
            None => LifecycleAnswer::NotPending,
            Some(transition) => {
                let mut groups = self.groups.lock().unwrap();
                if let Some(g) = groups.get_mut(&target.group) {
                    match (transition, result) {
                        (Transition::Launch, LifecycleResult::Continue) => {
                            for i in &mut g.instances {
                                if i.instance.id == target.instance_id {
                                    i.instance.lifecycle = Lifecycle::InService;
                                }
                            }
                        }
                        _ => g.instances.retain(|i| i.instance.id != target.instance_id),
                    }
                }
                LifecycleAnswer::Accepted
            }
        };
        self.record(ScalingCall::CompleteLifecycle {
            target: target.clone(),
            result,
            answer,
        });
        Ok(answer)
    }

    async fn record_lifecycle_action_heartbeat(
        &self,
        target: &LifecycleTarget,
    ) -> Result<LifecycleAnswer, ScalingError> {
        self.check(
            "record_lifecycle_action_heartbeat",
            std::slice::from_ref(&target.instance_id),
        )?;
        let key = (
            target.group.clone(),
            target.hook.clone(),
            target.instance_id.clone(),
        );
        let answer = if self.pending.lock().unwrap().contains_key(&key) {
            LifecycleAnswer::Accepted
        } else {
            LifecycleAnswer::NotPending
        };
        self.record(ScalingCall::Heartbeat {
            target: target.clone(),
            answer,
        });
        Ok(answer)
    }
}
