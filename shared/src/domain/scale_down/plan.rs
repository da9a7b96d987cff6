//! The plan scale-down produces: phases of independent batches of ordered WEKA calls, their
//! effects, and the per-group decisions behind them.

use std::collections::{BTreeMap, BTreeSet};

use crate::weka::model::WekaCall;
use crate::wire::scale::{InstanceRef, Refusal, ScaleHost};

use super::{ActionOutcome, HeldMachine, MachineCounts, TargetDecision};

/// Derived state of a container or machine; the order is the removal priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScaleState {
    /// Already deactivating (or INACTIVE/REMOVING): always kept in the deactivation set.
    Deactivating,
    /// To be replaced.
    Unhealthy,
    /// Serving.
    Healthy,
}

/// Which part of the cluster a decision belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupKind {
    /// Backend ASG.
    Weka,
    /// NFS gateway ASG.
    Nfs,
    /// Hosts outside every ASG (or NFS hosts outside the interface group).
    Leftover,
}

/// Why an action is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Drive with `HostId<INVALID>` and status INACTIVE.
    OrphanDrive,
    /// Every container of the machine is INACTIVE.
    InactiveMachine,
    /// Healthy machine above desired.
    ScaleDown,
    /// Unhealthy machine being replaced (or chosen first for a shrink).
    Unhealthy,
    /// Already deactivating; the calls are repeated (idempotent).
    AlreadyDeactivating,
    /// Leftover machine DOWN beyond `down_backends_removal_timeout`.
    DownMachine,
    /// NFS host that left the interface group.
    NfsLeftover,
    /// The Auto Scaling group is terminating the instance (terminate lifecycle hook).
    AsgTermination,
}

impl Reason {
    /// Text used in WEKA events (the reference's wording where it exists).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrphanDrive => "orphan drive",
            Self::InactiveMachine => "inactive machine",
            Self::ScaleDown => "scale down",
            Self::Unhealthy => "unhealthy machine",
            Self::AlreadyDeactivating => "already deactivating",
            Self::DownMachine => "down machine",
            Self::NfsLeftover => "nfs leftover",
            Self::AsgTermination => "auto scaling termination",
        }
    }
}

/// Index of an action in its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId(pub usize);

/// What the shell must do when an action succeeds (or, for batch `before`, before it starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Put this ASG instance in `to_terminate` (applied by [`finish`](super::finish)).
    AddToTerminate(InstanceRef),
    /// Stop using this IP as a JSON-RPC endpoint.
    DropFromPool(String),
}

/// One planned WEKA call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedAction {
    /// Position in the plan (key of the outcome map).
    pub id: ActionId,
    /// The call.
    pub call: WekaCall,
    /// Why.
    pub reason: Reason,
    /// Machine concerned (none for orphan drives).
    pub machine_ip: Option<String>,
    /// Run only if all of these succeeded; otherwise skip silently.
    pub depends_on: Vec<ActionId>,
    /// Effects when the call succeeds.
    pub on_success: Vec<Effect>,
    /// Failures are ignored (audit events).
    pub best_effort: bool,
    /// Prefix of the transient error when it fails (`deactivateHost`, ...).
    pub error_context: &'static str,
}

/// Actions on one machine (or one orphan drive), run in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Machine concerned.
    pub machine_ip: Option<String>,
    /// Effects to apply before the first action.
    pub before: Vec<Effect>,
    /// The actions.
    pub actions: Vec<PlannedAction>,
}

/// Phases run one after the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PhaseKind {
    /// `removeOldDrives`.
    RemoveOrphanDrives,
    /// Remove machines whose containers are all INACTIVE.
    RemoveInactiveMachines,
    /// Deactivate chosen machines.
    DeactivateMachines,
}

/// Independent batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// Which phase.
    pub kind: PhaseKind,
    /// Batches (parallelisable).
    pub batches: Vec<Batch>,
}

/// One machine chosen for deactivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deactivation {
    /// Group.
    pub group: GroupKind,
    /// Machine IP.
    pub ip: String,
    /// Machine state when chosen (leftovers: as derived, for information).
    pub state: ScaleState,
    /// Why.
    pub reason: Reason,
}

/// Summary of one group's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    /// Group.
    pub group: GroupKind,
    /// Counted machines.
    pub counts: MachineCounts,
    /// Desired machine count.
    pub desired: i64,
    /// Decision.
    pub decision: TargetDecision,
}

/// The complete, deterministic outcome of planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleDownPlan {
    /// Phases in execution order.
    pub phases: Vec<Phase>,
    /// `ScaleResponse.hosts`.
    pub hosts: Vec<ScaleHost>,
    /// Safety-floor refusal for the backend group.
    pub refusal: Option<Refusal>,
    /// Errors found while planning (anomalous machines, partial DOWN machines, NFS listing).
    pub transient_errors: Vec<String>,
    /// Machines chosen for deactivation, in plan order.
    pub deactivations: Vec<Deactivation>,
    /// Inactive machines planned for removal.
    pub removals: Vec<String>,
    /// Per-group decisions (backend first, then NFS when handled).
    pub groups: Vec<GroupSummary>,
    /// Machines the group terminates on its own (terminate hook) not deactivated this run:
    /// the safety floor or the in-flight cap held them back.
    pub held_back: Vec<HeldMachine>,
}

impl ScaleDownPlan {
    /// Every action in execution order.
    pub fn actions(&self) -> impl Iterator<Item = &PlannedAction> {
        self.phases
            .iter()
            .flat_map(|p| &p.batches)
            .flat_map(|b| &b.actions)
    }

    /// The plan restricted to the batches of `machines` (IPs): what a paused scale-down still
    /// does for the machines Auto Scaling is terminating on its own. Orphan drives and every
    /// other machine are left alone; the floor's decisions (held back, refusal) stand as made.
    #[must_use]
    pub fn only_machines(&self, machines: &BTreeSet<String>) -> Self {
        let on = |ip: &Option<String>| ip.as_ref().is_some_and(|ip| machines.contains(ip));
        Self {
            phases: self
                .phases
                .iter()
                .map(|phase| Phase {
                    kind: phase.kind,
                    batches: phase
                        .batches
                        .iter()
                        .filter(|b| on(&b.machine_ip))
                        .cloned()
                        .collect(),
                })
                .collect(),
            deactivations: self
                .deactivations
                .iter()
                .filter(|d| machines.contains(&d.ip))
                .cloned()
                .collect(),
            removals: self
                .removals
                .iter()
                .filter(|ip| machines.contains(*ip))
                .cloned()
                .collect(),
            ..self.clone()
        }
    }

    /// Whether the shell may run `action` given the outcomes so far (all dependencies succeeded).
    pub fn is_runnable(
        action: &PlannedAction,
        outcomes: &BTreeMap<ActionId, ActionOutcome>,
    ) -> bool {
        action
            .depends_on
            .iter()
            .all(|d| matches!(outcomes.get(d), Some(ActionOutcome::Ok)))
    }
}
