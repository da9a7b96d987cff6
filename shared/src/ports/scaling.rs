//! The cluster's Auto Scaling groups and their EC2 instances, as a port: what `fetch` reads and
//! what `terminate` changes (detach, scale-in protection, API termination, terminate), and the
//! answers to lifecycle hooks (complete, heartbeat) that `report`, `clusterize-finalization`
//! and `terminate` give. Each instance's lifecycle state (`Pending:Wait`, ...) is in the snapshot.

use crate::domain::lifecycle::LifecycleResult;
use crate::domain::terminate::{AsgInstance, AsgSnapshot, Lifecycle};
use std::collections::BTreeMap;
use std::future::Future;

use super::BoxError;

/// Failure of an Auto Scaling or EC2 call. Carries the operation and the instances concerned.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed for {target}")]
pub struct ScalingError {
    /// The operation that failed (`detach_instances`, ...).
    pub operation: &'static str,
    /// What it was applied to (a group name or instance ids).
    pub target: String,
    /// The underlying error.
    #[source]
    pub source: BoxError,
}

/// One instance of a group: the ASG's and EC2's view, plus its EC2 tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInstance {
    /// ASG membership, health, protection, EC2 state and launch time.
    pub instance: AsgInstance,
    /// EC2 tags (empty when EC2 does not know the instance).
    pub tags: BTreeMap<String, String>,
}

/// An Auto Scaling group with its instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalingGroup {
    /// Group name.
    pub name: String,
    /// Desired capacity.
    pub desired_capacity: u32,
    /// Minimum size.
    pub min_size: u32,
    /// Maximum size.
    pub max_size: u32,
    /// Instances, ordered by id.
    pub instances: Vec<GroupInstance>,
}

impl ScalingGroup {
    /// The group as the terminate planner sees it.
    pub fn snapshot(&self) -> AsgSnapshot {
        AsgSnapshot {
            name: self.name.clone(),
            instances: self.instances.iter().map(|i| i.instance.clone()).collect(),
        }
    }
}

/// Where Auto Scaling holds an instance: its group and its lifecycle state there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The group.
    pub group: String,
    /// `InService`, `Pending:Wait`, ...
    pub lifecycle: Lifecycle,
}

/// One lifecycle action as AWS identifies it: group, hook and instance (the token is optional:
/// AWS finds the pending action by instance id alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleTarget {
    /// Auto Scaling group.
    pub group: String,
    /// Lifecycle hook name.
    pub hook: String,
    /// Instance.
    pub instance_id: String,
    /// `LifecycleActionToken`, when known.
    pub token: Option<String>,
}

/// AWS's answer to a lifecycle call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleAnswer {
    /// Accepted.
    Accepted,
    /// No such action is pending any more (completed before, timed out, or never existed):
    /// AWS's `ValidationError` "No active Lifecycle Action found". For a completion, the action
    /// is over either way, so this is not an error.
    NotPending,
}

/// Reads and changes the cluster's Auto Scaling groups.
pub trait ScalingGroups: Send + Sync {
    /// The named groups that exist (missing ones are left out), each with its instances and
    /// their EC2 state. A group without instances is returned with an empty list.
    fn describe_groups(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<ScalingGroup>, ScalingError>> + Send;

    /// The group holding `instance_id` and its lifecycle state, `None` when no group does
    /// (`DescribeAutoScalingInstances`: one instance, whatever the group's size).
    fn membership(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Option<Membership>, ScalingError>> + Send;

    /// Detaches instances (at most 20) without decrementing desired capacity, so the group
    /// launches replacements.
    fn detach(
        &self,
        group: &str,
        instance_ids: &[String],
    ) -> impl Future<Output = Result<(), ScalingError>> + Send;

    /// Sets or clears scale-in protection of instances of `group`.
    fn set_scale_in_protection(
        &self,
        group: &str,
        instance_ids: &[String],
        protected: bool,
    ) -> impl Future<Output = Result<(), ScalingError>> + Send;

    /// Clears the instance's `DisableApiTermination` and `DisableApiStop` attributes.
    fn allow_termination(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<(), ScalingError>> + Send;

    /// Sets the instance's `DisableApiTermination` and `DisableApiStop` attributes again, as the
    /// module's launch template launches every instance.
    fn protect_from_termination(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<(), ScalingError>> + Send;

    /// Terminates instances; returns the ids EC2 reported as terminating.
    fn terminate(
        &self,
        instance_ids: &[String],
    ) -> impl Future<Output = Result<Vec<String>, ScalingError>> + Send;

    /// `CompleteLifecycleAction` with `result`.
    fn complete_lifecycle_action(
        &self,
        target: &LifecycleTarget,
        result: LifecycleResult,
    ) -> impl Future<Output = Result<LifecycleAnswer, ScalingError>> + Send;

    /// `RecordLifecycleActionHeartbeat`: restarts the hook's heartbeat timeout.
    fn record_lifecycle_action_heartbeat(
        &self,
        target: &LifecycleTarget,
    ) -> impl Future<Output = Result<LifecycleAnswer, ScalingError>> + Send;
}
