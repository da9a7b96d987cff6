//! Turns executed actions into the `ScaleResponse` (§9.5) and performs the delta safety check (§9.7).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::weka::model::{HostId, HostState, HostStatus, HostsList};
use crate::wire::scale::{HostGroupInfoResponse, PROTOCOL_VERSION, ScaleResponse};

use super::{ActionId, Effect, PlanError, ScaleDownPlan};

/// Result of one executed action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// The call succeeded.
    Ok,
    /// The call failed with this message.
    Failed(String),
    /// WEKA refused the call with an answer that stands (a JSON-RPC error): recorded and shown
    /// in `status` ([`RefusalBook`](super::RefusalBook)), not a transient error of the run.
    Refused {
        /// WEKA's JSON-RPC error code.
        code: i64,
        /// WEKA's message.
        message: String,
    },
    /// Not sent: a refusal of this machine's calls stands unchanged (the report says which).
    Withheld(String),
}

/// Builds the response from the plan and the outcomes of the actions the shell ran.
///
/// `to_terminate` holds, deduplicated and in plan order, the instances of successfully removed
/// INACTIVE containers. A failed action becomes a transient error (audit events excepted); an
/// action that was runnable but has no outcome (e.g. the Lambda ran out of time) is reported as
/// not executed; an action skipped because a dependency failed adds nothing (the dependency did).
/// A standing refusal (refused now, or held back since) adds nothing either: it is recorded and
/// shown in `status`, and the execution does not fail every run on its account.
pub fn finish(plan: &ScaleDownPlan, outcomes: &BTreeMap<ActionId, ActionOutcome>) -> ScaleResponse {
    let mut transient_errors = plan.transient_errors.clone();
    let mut to_terminate = Vec::new();
    let mut seen = BTreeSet::new();
    for action in plan.actions() {
        let where_ = action.machine_ip.as_deref().unwrap_or("cluster");
        match outcomes.get(&action.id) {
            Some(ActionOutcome::Ok) => {
                for e in &action.on_success {
                    if let Effect::AddToTerminate(i) = e
                        && seen.insert(i.id.clone())
                    {
                        to_terminate.push(i.clone());
                    }
                }
            }
            Some(ActionOutcome::Failed(msg)) if !action.best_effort => {
                transient_errors.push(format!(
                    "{}: {where_}: {} failed: {msg}",
                    action.error_context,
                    action.call.method()
                ));
            }
            None if !action.best_effort && ScaleDownPlan::is_runnable(action, outcomes) => {
                transient_errors.push(format!(
                    "{}: {where_}: {} not executed",
                    action.error_context,
                    action.call.method()
                ));
            }
            _ => {}
        }
    }
    ScaleResponse {
        hosts: plan.hosts.clone(),
        to_terminate,
        transient_errors,
        version: PROTOCOL_VERSION,
        refusal: plan.refusal.clone(),
        held_back: Vec::new(),
    }
}

/// A live container whose IP is headed for termination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaViolation {
    /// Container.
    pub host_id: HostId,
    /// Its IP.
    pub ip: String,
    /// Its state.
    pub state: HostState,
}

impl fmt::Display for DeltaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "host {} with ip {} is {} but its instance may be terminated",
            self.host_id, self.ip, self.state
        )
    }
}

/// §9.7 on a fresh `hosts_list`: every ASG IP that terminate may act on (not in `hosts`, or in
/// `to_terminate`) must belong to no live container, except INACTIVE/REMOVING ones and DOWN
/// clients that WEKA auto-removes (IP reuse). Returns every violation instead of aborting.
pub fn validate_delta(
    info: &HostGroupInfoResponse,
    response: &ScaleResponse,
    fresh_hosts: &HostsList,
) -> Result<(), PlanError> {
    let reported: BTreeSet<&str> = response
        .hosts
        .iter()
        .map(|h| h.private_ip.as_str())
        .collect();
    let leaving: BTreeSet<&str> = response
        .to_terminate
        .iter()
        .map(|i| i.private_ip.as_str())
        .collect();
    let delta: BTreeSet<&str> = info
        .weka_backend_instances
        .iter()
        .chain(info.nfs_instances())
        .map(|i| i.private_ip.as_str())
        .filter(|ip| !ip.is_empty() && (!reported.contains(ip) || leaving.contains(ip)))
        .collect();
    let violations: Vec<DeltaViolation> = fresh_hosts
        .iter()
        .filter(|(_, h)| delta.contains(h.host_ip.as_str()))
        .filter(|(_, h)| !matches!(h.state, HostState::Inactive | HostState::Removing))
        .filter(|(_, h)| {
            !(h.is_client()
                && h.status == HostStatus::Down
                && h.auto_remove_timeout.is_some_and(|t| t > 0))
        })
        .map(|(id, h)| DeltaViolation {
            host_id: *id,
            ip: h.host_ip.as_str().to_owned(),
            state: h.state.clone(),
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(PlanError::UnsafeDelta { violations })
    }
}
