//! The scale-down decision (behaviour.md §9) as a pure plan: gates, state derivation, machine
//! selection with a safety floor, and the ordered WEKA calls with their effects.
//!
//! The I/O shell runs [`ScaleDownPlan::phases`] in order; batches within a phase are independent
//! (one machine each) and may run in parallel; actions within a batch run in order, and an action
//! runs only if every action in its `depends_on` succeeded. It then feeds the outcomes to
//! [`finish`] to build the [`ScaleResponse`](crate::wire::scale::ScaleResponse), re-reads
//! `hosts_list` and calls [`validate_delta`].

mod builder;
mod explain;
mod finish;
mod gates;
mod leaving;
mod plan;
mod refusals;
mod view;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::weka::model::{
    ClusterStatus, DrivesList, HostsList, InterfaceGroupList, ManualOverrideList, NodesList,
};
use crate::wire::scale::HostGroupInfoResponse;

pub use builder::MAX_CONTAINERS_PER_MACHINE;
pub use explain::{MachineAction, MachineStep, explain};
pub use finish::{ActionOutcome, DeltaViolation, finish, validate_delta};
pub use gates::{
    Gate, MachineCounts, PlanError, SafetyFloor, ScaleDownPolicy, TargetDecision, check_gates,
    deactivation_target, decide_target, is_multi_backend_container, validate_input,
};
pub use leaving::{HeldMachine, HoldReason, LeavingDecision, admit_leaving};
pub use plan::{
    ActionId, Batch, Deactivation, Effect, GroupKind, GroupSummary, Phase, PhaseKind,
    PlannedAction, Reason, ScaleDownPlan, ScaleState,
};
pub use refusals::{MAX_REFUSAL_MESSAGE_BYTES, MAX_REFUSALS, RefusalBook, WekaRefusal, backoff};

/// Reads a scale-down run needs from WEKA (the shell performs them; this module only decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSnapshot {
    /// `status`.
    pub status: ClusterStatus,
    /// `manual_override_list`.
    pub overrides: ManualOverrideList,
    /// `hosts_list`.
    pub hosts: HostsList,
    /// `disks_list`.
    pub drives: DrivesList,
    /// `nodes_list`.
    pub nodes: NodesList,
    /// `interface_group_list`, or the error text when the call failed (NFS handling is then skipped).
    pub interface_groups: Result<InterfaceGroupList, String>,
}

impl Default for ClusterSnapshot {
    fn default() -> Self {
        Self {
            status: ClusterStatus::default(),
            overrides: ManualOverrideList::new(),
            hosts: HostsList::new(),
            drives: DrivesList::new(),
            nodes: NodesList::new(),
            interface_groups: Ok(Vec::new()),
        }
    }
}

/// Plans one scale-down run. Deterministic: same inputs, same plan.
pub fn plan(
    info: &HostGroupInfoResponse,
    cluster: &ClusterSnapshot,
    policy: &ScaleDownPolicy,
    now: DateTime<Utc>,
) -> Result<ScaleDownPlan, PlanError> {
    plan_with_leaving(info, cluster, policy, now, &BTreeSet::new())
}

/// [`plan`], with the IPs of backend instances the Auto Scaling group is terminating on its own
/// (held by the terminate hook): their machines are deactivated first (reason
/// [`Reason::AsgTermination`]) as far as the safety floor and the in-flight cap allow (the rest
/// are in [`ScaleDownPlan::held_back`]; see [`admit_leaving`]), and not counted against the
/// desired capacity, since the group replaces or drops them itself. An all-INACTIVE leaving
/// machine is removed as usual.
pub fn plan_with_leaving(
    info: &HostGroupInfoResponse,
    cluster: &ClusterSnapshot,
    policy: &ScaleDownPolicy,
    now: DateTime<Utc>,
    leaving: &BTreeSet<String>,
) -> Result<ScaleDownPlan, PlanError> {
    validate_input(info)?;
    if info.role != "backend" {
        return Err(PlanError::UnsupportedRole {
            role: info.role.clone(),
        });
    }
    check_gates(&cluster.status, &cluster.overrides)?;
    if !is_multi_backend_container(&cluster.hosts) {
        return Err(PlanError::NotMultiBackendContainer);
    }

    Ok(builder::build(info, cluster, policy, now, leaving))
}
