//! What terminate would do to each instance of the groups, told for operators (`status`
//! `{"type":"plan"}` → `instances`): terminate, detach, hold (the bootstrap grace, the per-run
//! cap, an operator's pause) or leave, and why. Pure: the plan is terminate's own.

use serde::{Deserialize, Serialize};

use super::terminate::{AsgTerminatePlan, SkipReason, TerminateReason};

/// What terminate would do to one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceAction {
    /// Terminate it.
    Terminate,
    /// Detach it (unhealthy; the group launches its replacement).
    Detach,
    /// It would be acted on later or now, but something holds it.
    Hold,
    /// Nothing: terminate leaves it to others (scale-down, Auto Scaling, formation).
    Leave,
}

impl InstanceAction {
    /// Its name on the wire (`status {"type":"plan"}`, `instances`) and in the CLI's tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Terminate => "terminate",
            Self::Detach => "detach",
            Self::Hold => "hold",
            Self::Leave => "leave",
        }
    }
}

/// One instance's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStep {
    /// EC2 instance id.
    pub instance_id: String,
    /// Its group.
    pub group: String,
    /// What terminate would do.
    pub action: InstanceAction,
    /// Why.
    pub reason: String,
}

/// The lines of `plans`, in the plans' order; `paused` (the pause's text) holds every
/// termination and detach.
pub fn explain_terminate(plans: &[AsgTerminatePlan], paused: Option<&str>) -> Vec<InstanceStep> {
    let mut lines = Vec::new();
    for plan in plans {
        let mut push = |id: &str, action, reason: String| {
            let (action, reason) = match paused {
                Some(pause)
                    if matches!(action, InstanceAction::Terminate | InstanceAction::Detach) =>
                {
                    (
                        InstanceAction::Hold,
                        format!("would {}: {reason}; held: {pause}", verb(action)),
                    )
                }
                _ => (action, reason),
            };
            lines.push(InstanceStep {
                instance_id: id.to_owned(),
                group: plan.asg_name.clone(),
                action,
                reason,
            });
        };
        for target in &plan.terminate {
            push(
                &target.id,
                InstanceAction::Terminate,
                terminate_reason(target.reason),
            );
        }
        for id in plan.detach_batches.iter().flatten() {
            push(
                id,
                InstanceAction::Detach,
                "unhealthy: detached without lowering the desired capacity, the group launches \
                 its replacement"
                    .to_owned(),
            );
        }
        for skipped in &plan.skipped {
            let (action, reason) = skip_reason(&skipped.reason);
            push(&skipped.id, action, reason);
        }
    }
    lines
}

fn verb(action: InstanceAction) -> &'static str {
    match action {
        InstanceAction::Terminate => "terminate",
        InstanceAction::Detach => "detach",
        InstanceAction::Hold => "hold",
        InstanceAction::Leave => "leave",
    }
}

fn terminate_reason(reason: TerminateReason) -> String {
    match reason {
        TerminateReason::Removed => "scale-down removed its WEKA containers",
        TerminateReason::StoppedUnhealthy => "stopped and unhealthy, and WEKA has no host on it",
        TerminateReason::NotInWeka => {
            "older than the bootstrap grace and unknown to WEKA (it never joined)"
        }
        TerminateReason::NeverRegistered => {
            "the cluster is forming and it did not register within the bootstrap grace"
        }
    }
    .to_owned()
}

fn skip_reason(reason: &SkipReason) -> (InstanceAction, String) {
    let leave = |why: &str| (InstanceAction::Leave, why.to_owned());
    match reason {
        SkipReason::WithinBootstrapGrace => (
            InstanceAction::Hold,
            "not in WEKA yet, within the bootstrap grace: terminated only if it never joins"
                .to_owned(),
        ),
        SkipReason::CapReached => (
            InstanceAction::Hold,
            "the per-run termination cap is reached: a later run".to_owned(),
        ),
        SkipReason::LaunchTimeUnknown => leave("launch time unknown: its age cannot be checked"),
        SkipReason::AlreadyTerminating => leave("already shutting down or terminated"),
        SkipReason::ProtectedAndRunning => {
            leave("unhealthy, protected and running: scale-down deactivates it first")
        }
        SkipReason::NotDetachable(state) => (
            InstanceAction::Leave,
            format!("unhealthy, but its lifecycle state ({state}) cannot be detached"),
        ),
        SkipReason::StillWekaHost => {
            leave("stopped and unhealthy, but WEKA still has a host on it")
        }
        SkipReason::HostsListEmpty => {
            leave("WEKA reported no host: strays are not terminated blindly")
        }
        SkipReason::Registered => leave("registered, waiting for the cluster to form"),
        SkipReason::NoScaleAnswer => {
            leave("scale-down failed: nothing terminated without WEKA's view")
        }
        SkipReason::InServiceWhileForming => {
            leave("in service in a forming group: a running cluster's machine (adopt it)")
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::terminate::{Skipped, TerminateTarget};

    #[test]
    fn each_action_is_named_as_the_wire_names_it() {
        for action in [
            InstanceAction::Terminate,
            InstanceAction::Detach,
            InstanceAction::Hold,
            InstanceAction::Leave,
        ] {
            assert_eq!(serde_json::json!(action), action.as_str());
        }
    }

    fn plan() -> AsgTerminatePlan {
        AsgTerminatePlan {
            asg_name: "asg".to_owned(),
            terminate: vec![TerminateTarget {
                id: "i-removed".to_owned(),
                private_ip: Some("10.0.0.1".to_owned()),
                launch_time: None,
                reason: TerminateReason::Removed,
            }],
            unprotect: vec!["i-removed".to_owned()],
            detach_batches: vec![vec!["i-sick".to_owned()]],
            skipped: vec![
                Skipped {
                    id: "i-new".to_owned(),
                    reason: SkipReason::WithinBootstrapGrace,
                },
                Skipped {
                    id: "i-down".to_owned(),
                    reason: SkipReason::ProtectedAndRunning,
                },
            ],
        }
    }

    #[test]
    fn each_instance_gets_terminate_s_action_and_why() {
        let lines = explain_terminate(&[plan()], None);
        let seen: Vec<(&str, InstanceAction)> = lines
            .iter()
            .map(|l| (l.instance_id.as_str(), l.action))
            .collect();
        assert_eq!(
            seen,
            [
                ("i-removed", InstanceAction::Terminate),
                ("i-sick", InstanceAction::Detach),
                ("i-new", InstanceAction::Hold),
                ("i-down", InstanceAction::Leave),
            ]
        );
        assert!(lines[2].reason.contains("bootstrap grace"), "{lines:?}");
        assert!(lines.iter().all(|l| l.group == "asg"));
    }

    #[test]
    fn a_pause_holds_terminations_and_detaches_only() {
        let lines = explain_terminate(&[plan()], Some("paused by ops"));
        let held: Vec<&str> = lines
            .iter()
            .filter(|l| l.reason.contains("held: paused by ops"))
            .map(|l| l.instance_id.as_str())
            .collect();
        assert_eq!(held, ["i-removed", "i-sick"]);
        assert!(lines[..2].iter().all(|l| l.action == InstanceAction::Hold));
        assert_eq!(lines[3].action, InstanceAction::Leave);
    }
}
