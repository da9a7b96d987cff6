//! A plan told per machine: what the next scale-down run would do to each machine and why
//! (deactivate, remove, hold, keep), as `status` `{"type":"plan"}` answers it. Pure: the plan
//! is the planner's, the pause and WEKA's standing refusals are passed in.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::wire::scale::HostGroupInfoResponse;

use super::ScaleDownPlan;

/// What the run would do to one machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineAction {
    /// Deactivate its containers.
    Deactivate,
    /// Remove its (all inactive) containers from the cluster.
    Remove,
    /// Would be acted on, but something holds it (floor, cap, pause, a WEKA refusal).
    Hold,
    /// Nothing: it serves.
    Keep,
}

impl MachineAction {
    /// Its name on the wire (`status {"type":"plan"}`) and in the CLI's tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deactivate => "deactivate",
            Self::Remove => "remove",
            Self::Hold => "hold",
            Self::Keep => "keep",
        }
    }
}

/// One machine's line of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineStep {
    /// The machine's IP.
    pub ip: String,
    /// Its instance, when one of the cluster's groups runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// What the run would do.
    pub action: MachineAction,
    /// Whether terminate would then terminate its instance (a removed machine of a group).
    #[serde(default)]
    pub terminate: bool,
    /// Why.
    pub reason: String,
}

/// The plan per machine, in IP order. `paused` (the pause's text) turns every deactivation and
/// removal of a machine not in `leaving` into a hold; `withheld` (IP → WEKA's standing refusal)
/// holds the machines whose calls are not sent again unchanged.
pub fn explain(
    plan: &ScaleDownPlan,
    info: &HostGroupInfoResponse,
    leaving: &BTreeSet<String>,
    paused: Option<&str>,
    withheld: &BTreeMap<String, String>,
) -> Vec<MachineStep> {
    let instances: BTreeMap<&str, &str> = info
        .weka_backend_instances
        .iter()
        .chain(info.nfs_backend_instances.iter().flatten())
        .map(|i| (i.private_ip.as_str(), i.id.as_str()))
        .collect();
    let mut ips: BTreeSet<&str> = plan.hosts.iter().map(|h| h.private_ip.as_str()).collect();
    ips.extend(plan.deactivations.iter().map(|d| d.ip.as_str()));
    ips.extend(plan.removals.iter().map(String::as_str));
    ips.retain(|ip| !ip.is_empty());
    ips.into_iter()
        .map(|ip| {
            let instance_id = instances.get(ip).map(|id| (*id).to_owned());
            let (action, reason) = if plan.removals.iter().any(|r| r == ip) {
                (
                    MachineAction::Remove,
                    "every container is inactive".to_owned(),
                )
            } else if let Some(d) = plan.deactivations.iter().find(|d| d.ip == ip) {
                (MachineAction::Deactivate, d.reason.as_str().to_owned())
            } else if let Some(h) = plan.held_back.iter().find(|h| h.ip == ip) {
                (MachineAction::Hold, h.reason.to_string())
            } else {
                (MachineAction::Keep, keep_reason(plan))
            };
            let acting = matches!(action, MachineAction::Deactivate | MachineAction::Remove);
            let (action, reason) = match (paused, withheld.get(ip)) {
                (Some(pause), _) if acting && !leaving.contains(ip) => (
                    MachineAction::Hold,
                    format!("would {}: {reason}; held: {pause}", verb(action)),
                ),
                (_, Some(refusal)) if acting => (
                    MachineAction::Hold,
                    format!("would {}: {reason}; held: {refusal}", verb(action)),
                ),
                _ => (action, reason),
            };
            MachineStep {
                terminate: action == MachineAction::Remove && instance_id.is_some(),
                ip: ip.to_owned(),
                instance_id,
                action,
                reason,
            }
        })
        .collect()
}

fn verb(action: MachineAction) -> &'static str {
    match action {
        MachineAction::Deactivate => "deactivate",
        MachineAction::Remove => "remove",
        MachineAction::Hold => "hold",
        MachineAction::Keep => "keep",
    }
}

fn keep_reason(plan: &ScaleDownPlan) -> String {
    match &plan.refusal {
        Some(r) if r.shrink_refused => format!(
            "kept by the safety floor: desired {} is below the minimum of {} active machines",
            r.desired, r.minimum
        ),
        Some(r) if r.healing_held.is_some() => format!(
            "serving; healing is held back by the safety floor (at least {} must stay active)",
            r.minimum
        ),
        _ => "serving, within the desired capacity".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_is_named_as_the_wire_names_it() {
        for action in [
            MachineAction::Deactivate,
            MachineAction::Remove,
            MachineAction::Hold,
            MachineAction::Keep,
        ] {
            assert_eq!(serde_json::json!(action), action.as_str());
        }
    }
}
