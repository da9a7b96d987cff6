//! The scale-down decision (behaviour.md §9) as a pure plan: gates, state derivation, machine
//! selection with a safety floor, and the ordered WEKA calls with their effects.
//!
//! The I/O shell runs [`ScaleDownPlan::phases`] in order; batches within a phase are independent
//! (one machine each) and may run in parallel; actions within a batch run in order, and an action
//! runs only if every action in its `depends_on` succeeded. It then feeds the outcomes to
//! [`finish`] to build the [`ScaleResponse`], re-reads `hosts_list` and calls [`validate_delta`].

mod finish;
mod view;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};

use crate::weka::model::{
    ClusterStatus, DrivesList, HostId, HostMode, HostStatus, HostsList, InterfaceGroupList,
    ManualOverrideList, NodesList, SKIP_SCALE_DOWN_OVERRIDE, WekaCall,
};
use crate::wire::scale::{
    HealingHold, HostGroupInfoResponse, InstanceRef, Refusal, ScaleHost, ScaleResponse,
    go_zero_time,
};

pub use finish::{ActionOutcome, DeltaViolation, finish, validate_delta};
use view::{MachineIx, View};

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

/// The minimum cluster geometry scale-down must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafetyFloor {
    /// Never shrink the backend group when desired is below this (stripe + protection + hot spare,
    /// or a configured larger minimum).
    pub min_cluster_size: u32,
    /// Start deactivating unhealthy machines only while at least this many machines are healthy
    /// (stripe + protection: enough failure domains for a full stripe without them).
    pub min_healthy_to_heal: u32,
}

impl SafetyFloor {
    /// No floor: the reference's behaviour.
    pub const NONE: Self = Self {
        min_cluster_size: 0,
        min_healthy_to_heal: 0,
    };

    /// Floor from the data-protection geometry.
    pub fn from_geometry(stripe_width: u32, protection_level: u32, hot_spare: u32) -> Self {
        Self {
            min_cluster_size: stripe_width + protection_level + hot_spare,
            min_healthy_to_heal: stripe_width + protection_level,
        }
    }

    /// Floor from the live `status` (`stripe_data_drives`, `stripe_protection_drives`, `hot_spare`).
    pub fn from_status(status: &ClusterStatus) -> Self {
        Self::from_geometry(
            status.stripe_data_drives,
            status.stripe_protection_drives,
            status.hot_spare,
        )
    }

    /// Raises `min_cluster_size` to a configured minimum (never lowers it).
    #[must_use]
    pub fn at_least(self, configured_minimum: u32) -> Self {
        Self {
            min_cluster_size: self.min_cluster_size.max(configured_minimum),
            ..self
        }
    }
}

/// Tunables of scale-down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleDownPolicy {
    /// DOWN/DEGRADED with a DOWN management node for this long → UNHEALTHY (reference: 120 min).
    pub unhealthy_timeout: TimeDelta,
    /// An INACTIVE drive makes a container unhealthy only once it was added this long ago (5 min).
    pub inactive_drive_grace: TimeDelta,
    /// An NFS host outside the interface group with a management node DOWN this long is deactivated (1 h).
    pub nfs_leftover_down_timeout: TimeDelta,
    /// Most machines deactivated at once because of unhealthiness (2).
    pub max_unhealthy_in_flight: u32,
    /// Safety floor for the backend group.
    pub floor: SafetyFloor,
}

impl ScaleDownPolicy {
    /// Reference timeouts with the given floor (no `Default`: callers must choose a floor).
    pub fn new(floor: SafetyFloor) -> Self {
        Self {
            unhealthy_timeout: TimeDelta::minutes(120),
            inactive_drive_grace: TimeDelta::minutes(5),
            nfs_leftover_down_timeout: TimeDelta::hours(1),
            max_unhealthy_in_flight: 2,
            floor,
        }
    }
}

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

/// A "not now" condition: scale-down is skipped this run; nothing is wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// `status.io_status` is not `STARTED`.
    IoNotStarted {
        /// The reported io status.
        io_status: String,
    },
    /// An upgrade is running.
    UpgradeRunning {
        /// The reported upgrade.
        upgrade: String,
    },
    /// An operator set the `skip_scale_down` manual override.
    ManualOverride,
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IoNotStarted { io_status } => {
                write!(f, "io status is {io_status:?}, not STARTED")
            }
            Self::UpgradeRunning { upgrade } => write!(f, "upgrade {upgrade:?} is running"),
            Self::ManualOverride => write!(f, "manual override {SKIP_SCALE_DOWN_OVERRIDE} is set"),
        }
    }
}

/// Why scale-down produced no plan or its result is unsafe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Skip this run (map to a non-failing "skipped" outcome that must not reach terminate).
    #[error("scale down skipped: {0}")]
    NotNow(Gate),
    /// The fetch output is invalid.
    #[error("invalid host group info: {}", .0.join("; "))]
    InvalidInput(Vec<String>),
    /// Only the `backend` role is supported (the reference returned an empty host list, §12.17).
    #[error("unsupported role {role:?}")]
    UnsupportedRole {
        /// The role received.
        role: String,
    },
    /// No `mode=backend` container named `drive*`: not a multi-backend-container cluster.
    #[error(
        "cluster has no backend drive container: only multi-backend-container clusters are supported"
    )]
    NotMultiBackendContainer,
    /// An instance headed for termination still has a live WEKA container (§9.7).
    #[error("unsafe delta: {}", .violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    UnsafeDelta {
        /// Every offending container.
        violations: Vec<DeltaViolation>,
    },
}

impl PlanError {
    /// Whether this is a "not now" condition rather than a failure.
    pub fn is_not_now(&self) -> bool {
        matches!(self, Self::NotNow(_))
    }
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
    /// Put this ASG instance in `to_terminate` (applied by [`finish`]).
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

/// Machine counts of one group (clients excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MachineCounts {
    /// Healthy machines.
    pub healthy: u32,
    /// Machines with an unhealthy container.
    pub unhealthy: u32,
    /// Machines with a deactivating container and none unhealthy.
    pub deactivating: u32,
}

impl MachineCounts {
    /// All counted machines.
    pub fn total(self) -> u32 {
        self.healthy + self.unhealthy + self.deactivating
    }
}

/// How many machines to deactivate and what the floor refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetDecision {
    /// Machines to deactivate (the first `n` in priority order).
    pub n: u32,
    /// Desired was below `min_cluster_size`: no shrink.
    pub shrink_refused: bool,
    /// Healing held: too few healthy machines.
    pub healing_held: bool,
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
}

impl ScaleDownPlan {
    /// Every action in execution order.
    pub fn actions(&self) -> impl Iterator<Item = &PlannedAction> {
        self.phases
            .iter()
            .flat_map(|p| &p.batches)
            .flat_map(|b| &b.actions)
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

/// The reference formula `n = max(H+U+D−desired, min(2−D, U)); n = max(D, n)`, clamped to
/// `0..=H+U+D` (the reference could go negative for an empty group).
pub fn deactivation_target(healthy: u32, unhealthy: u32, deactivating: u32, desired: i64) -> u32 {
    decide_target(
        MachineCounts {
            healthy,
            unhealthy,
            deactivating,
        },
        desired,
        SafetyFloor::NONE,
        2,
    )
    .n
}

/// The formula with the safety floor: shrink is refused when `desired < min_cluster_size`;
/// healing (at most `max_in_flight − D` unhealthy machines) is held while fewer than
/// `min_healthy_to_heal` machines are healthy; already-deactivating machines always stay in.
pub fn decide_target(
    c: MachineCounts,
    desired: i64,
    floor: SafetyFloor,
    max_in_flight: u32,
) -> TargetDecision {
    let (h, u, d) = (
        i64::from(c.healthy),
        i64::from(c.unhealthy),
        i64::from(c.deactivating),
    );
    let total = h + u + d;
    let shrink_refused = desired < i64::from(floor.min_cluster_size);
    let shrink = if shrink_refused { 0 } else { total - desired };
    let heal_wanted = (i64::from(max_in_flight) - d).min(u);
    let healing_held = heal_wanted > 0 && h < i64::from(floor.min_healthy_to_heal);
    let heal = if healing_held { 0 } else { heal_wanted };
    let n = shrink.max(heal).max(d).clamp(0, total);
    TargetDecision {
        n: u32::try_from(n).unwrap_or(0),
        shrink_refused,
        healing_held,
    }
}

/// Checks the fetch output (§9.3 step 1, without credentials: see [`validate_credentials`]).
pub fn validate_input(info: &HostGroupInfoResponse) -> Result<(), PlanError> {
    let mut errs = Vec::new();
    if info.role.is_empty() {
        errs.push("role is empty".to_owned());
    }
    if info.weka_backends_desired_capacity <= 0 {
        errs.push(format!(
            "weka_backends_desired_capacity {} must be > 0",
            info.weka_backends_desired_capacity
        ));
    }
    if info.nfs_backends_desired_capacity < 0 {
        errs.push(format!(
            "nfs_backends_desired_capacity {} must be >= 0",
            info.nfs_backends_desired_capacity
        ));
    }
    if info.down_backends_removal_timeout <= 0 {
        errs.push(format!(
            "down_backends_removal_timeout {}ns must be > 0",
            info.down_backends_removal_timeout
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(PlanError::InvalidInput(errs))
    }
}

/// Checks credentials once the shell has resolved them (possibly from Secrets Manager).
pub fn validate_credentials(info: &HostGroupInfoResponse) -> Result<(), PlanError> {
    let mut errs = Vec::new();
    if info.username.is_empty() {
        errs.push("username is empty".to_owned());
    }
    if info.password.is_empty() {
        errs.push("password is empty".to_owned());
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(PlanError::InvalidInput(errs))
    }
}

/// The "not now" gates: io started, no upgrade, no `skip_scale_down` override.
pub fn check_gates(
    status: &ClusterStatus,
    overrides: &ManualOverrideList,
) -> Result<(), PlanError> {
    if status.io_status != "STARTED" {
        return Err(PlanError::NotNow(Gate::IoNotStarted {
            io_status: status.io_status.clone(),
        }));
    }
    if !status.upgrade.is_empty() {
        return Err(PlanError::NotNow(Gate::UpgradeRunning {
            upgrade: status.upgrade.clone(),
        }));
    }
    // Any entry stops automation, enabled or not, as in the reference: the conservative reading.
    if overrides
        .values()
        .any(|o| o.key == SKIP_SCALE_DOWN_OVERRIDE)
    {
        return Err(PlanError::NotNow(Gate::ManualOverride));
    }
    Ok(())
}

/// Whether some backend container is a drive container (multi-backend-container cluster).
pub fn is_multi_backend_container(hosts: &HostsList) -> bool {
    hosts
        .values()
        .any(|h| h.mode == HostMode::Backend && h.container_name.contains("drive"))
}

/// Machine state: unhealthy if any container is, else deactivating if any is, else healthy.
fn combine(states: impl Iterator<Item = ScaleState>) -> ScaleState {
    states.fold(ScaleState::Healthy, |acc, s| match (acc, s) {
        (ScaleState::Unhealthy, _) | (_, ScaleState::Unhealthy) => ScaleState::Unhealthy,
        (ScaleState::Deactivating, _) | (_, ScaleState::Deactivating) => ScaleState::Deactivating,
        _ => ScaleState::Healthy,
    })
}

/// Most non-client containers one machine may have (drives0, compute0, frontend0).
pub const MAX_CONTAINERS_PER_MACHINE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Kept,
    Removal,
}

struct Builder<'a> {
    view: View<'a>,
    info: &'a HostGroupInfoResponse,
    policy: &'a ScaleDownPolicy,
    now: DateTime<Utc>,
    next_id: usize,
    orphan: Vec<Batch>,
    remove: Vec<Batch>,
    deactivate: Vec<Batch>,
    /// Per machine (IP order).
    classified: Vec<Option<Class>>,
    errors: Vec<String>,
    deactivations: Vec<Deactivation>,
    removals: Vec<String>,
    groups: Vec<GroupSummary>,
    /// First ASG instance (backend, then NFS) with the machine's IP.
    instance_of: Vec<Option<&'a InstanceRef>>,
    nfs_ports: BTreeMap<HostId, Vec<(&'a str, &'a str)>>,
}

/// Marks the machines whose IP is one of `instances`' IPs.
fn machines_in(view: &View<'_>, instances: &[InstanceRef]) -> Vec<bool> {
    let mut flags = vec![false; view.machines.len()];
    for i in instances {
        if let Some(m) = view.machine(&i.private_ip) {
            flags[m] = true;
        }
    }
    flags
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
/// [`Reason::AsgTermination`]) and not counted against the desired capacity, since the group
/// replaces or drops them itself. An all-INACTIVE leaving machine is removed as usual.
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

    let view = View::new(cluster);
    let machine_count = view.machines.len();
    let mut instance_of = vec![None; machine_count];
    for i in info
        .weka_backend_instances
        .iter()
        .chain(info.nfs_instances())
    {
        if let Some(m) = view.machine(&i.private_ip) {
            instance_of[m].get_or_insert(i);
        }
    }
    let in_backend = machines_in(&view, &info.weka_backend_instances);
    let in_nfs = machines_in(&view, info.nfs_instances());
    let mut b = Builder {
        view,
        info,
        policy,
        now,
        next_id: 0,
        orphan: Vec::new(),
        remove: Vec::new(),
        deactivate: Vec::new(),
        classified: vec![None; machine_count],
        errors: Vec::new(),
        deactivations: Vec::new(),
        removals: Vec::new(),
        groups: Vec::new(),
        instance_of,
        nfs_ports: BTreeMap::new(),
    };

    b.remove_orphan_drives();
    b.skip_anomalous_machines();
    if !leaving.is_empty() {
        let members = u32::try_from(in_backend.iter().filter(|m| **m).count()).unwrap_or(u32::MAX);
        for m in b.machines_on(&in_backend) {
            if leaving.contains(b.view.machines[m].ip) && !b.view.all_inactive(m) {
                let state = b.machine_state(m);
                b.emit_deactivation(
                    GroupKind::Weka,
                    m,
                    state,
                    Reason::AsgTermination,
                    (info.weka_backends_desired_capacity, members),
                );
            }
        }
    }

    let backend_machines = b.machines_on(&in_backend);
    b.scale_group(
        GroupKind::Weka,
        &backend_machines,
        info.weka_backends_desired_capacity,
        policy.floor,
    );

    let mut leftover_candidates: Vec<MachineIx> = Vec::new();
    match &cluster.interface_groups {
        Err(e) => {
            b.errors.push(format!("GetNfsHostsMap: {e}"));
            // Without the group membership every NFS host would look like a leftover: keep them all.
            for m in b.machines_on(&in_nfs) {
                b.classified[m] = Some(Class::Kept);
            }
        }
        Ok(groups) => {
            for g in groups.iter().filter(|g| g.is_nfs()) {
                for p in &g.ports {
                    b.nfs_ports
                        .entry(p.host_id)
                        .or_default()
                        .push((g.name.as_str(), p.port.as_str()));
                }
            }
            let mut in_group = Vec::new();
            for m in b.machines_on(&in_nfs) {
                let hosts = b.view.hosts_of(m);
                let ip = b.view.machines[m].ip;
                if hosts
                    .iter()
                    .any(|&ix| b.nfs_ports.contains_key(&b.view.ids[ix]))
                {
                    in_group.push(m);
                } else if !b.view.all_inactive(m)
                    && (info.nfs_ip_was_in_group(ip)
                        || hosts.iter().any(|&ix| {
                            b.view
                                .management_timed_out(ix, policy.nfs_leftover_down_timeout, now)
                        }))
                {
                    let (desired, current) = b.backend_sizes();
                    let state = b.machine_state(m);
                    b.emit_deactivation(
                        GroupKind::Leftover,
                        m,
                        state,
                        Reason::NfsLeftover,
                        (desired, current),
                    );
                } else {
                    leftover_candidates.push(m);
                }
            }
            b.scale_group(
                GroupKind::Nfs,
                &in_group,
                info.nfs_backends_desired_capacity,
                SafetyFloor::NONE,
            );
        }
    }

    leftover_candidates.extend((0..machine_count).filter(|&m| !in_backend[m] && !in_nfs[m]));
    // Machine indices are in IP order.
    leftover_candidates.sort_unstable();
    b.handle_leftovers(&leftover_candidates);

    Ok(b.finish_plan())
}

impl<'a> Builder<'a> {
    fn alloc(&mut self) -> ActionId {
        let id = ActionId(self.next_id);
        self.next_id += 1;
        id
    }

    #[allow(clippy::too_many_arguments)]
    fn action(
        &mut self,
        call: WekaCall,
        reason: Reason,
        ip: Option<&str>,
        depends_on: Vec<ActionId>,
        on_success: Vec<Effect>,
        best_effort: bool,
        error_context: &'static str,
    ) -> PlannedAction {
        PlannedAction {
            id: self.alloc(),
            call,
            reason,
            machine_ip: ip.map(str::to_owned),
            depends_on,
            on_success,
            best_effort,
            error_context,
        }
    }

    fn event(&mut self, message: String, reason: Reason, ip: &str) -> PlannedAction {
        self.action(
            WekaCall::EventsTriggerCustom { message },
            reason,
            Some(ip),
            Vec::new(),
            Vec::new(),
            true,
            "triggerEvent",
        )
    }

    /// Machines of the group (unclassified, with at least one non-client container), in IP order.
    fn machines_on(&self, member: &[bool]) -> Vec<MachineIx> {
        (0..self.view.machines.len())
            .filter(|&m| member[m] && self.classified[m].is_none())
            .collect()
    }

    fn backend_sizes(&self) -> (i64, u32) {
        let current = self
            .groups
            .iter()
            .find(|g| g.group == GroupKind::Weka)
            .map_or(0, |g| g.counts.total());
        (self.info.weka_backends_desired_capacity, current)
    }

    fn remove_orphan_drives(&mut self) {
        for i in 0..self.view.orphan_drives().len() {
            let d = self.view.orphan_drives()[i];
            if d.status == crate::weka::model::DriveStatus::Inactive {
                let a = self.action(
                    WekaCall::RemoveDrives {
                        drive_uuids: vec![d.uuid.clone()],
                    },
                    Reason::OrphanDrive,
                    None,
                    Vec::new(),
                    Vec::new(),
                    false,
                    "removeOldDrive",
                );
                self.orphan.push(Batch {
                    machine_ip: None,
                    before: Vec::new(),
                    actions: vec![a],
                });
            }
        }
    }

    /// The reference aborted the process here; one odd machine must not block every other one.
    fn skip_anomalous_machines(&mut self) {
        let mut skipped = Vec::new();
        for (m, machine) in self.view.machines.iter().enumerate() {
            let (ip, hosts) = (machine.ip, self.view.hosts_of(m));
            if hosts.len() > MAX_CONTAINERS_PER_MACHINE {
                skipped.push((
                    m,
                    format!(
                        "machine {ip}: {} backend containers (at most {MAX_CONTAINERS_PER_MACHINE}); skipped",
                        hosts.len()
                    ),
                ));
                continue;
            }
            let mut idents: Vec<&str> = Vec::with_capacity(MAX_CONTAINERS_PER_MACHINE);
            for &ix in hosts {
                let ident = self.view.hosts[ix].machine_identifier.as_str();
                if !ident.is_empty() && !idents.contains(&ident) {
                    idents.push(ident);
                }
            }
            if idents.len() > 1 {
                skipped.push((
                    m,
                    format!(
                        "machine {ip}: {} distinct machine identifiers; skipped",
                        idents.len()
                    ),
                ));
            }
        }
        for (m, msg) in skipped {
            self.classified[m] = Some(Class::Kept);
            self.errors.push(msg);
        }
    }

    fn machine_state(&self, m: MachineIx) -> ScaleState {
        combine(
            self.view
                .hosts_of(m)
                .iter()
                .map(|&ix| self.view.container_state(ix, self.policy, self.now)),
        )
    }

    /// §9.5 for one group.
    fn scale_group(
        &mut self,
        group: GroupKind,
        machines: &[MachineIx],
        desired: i64,
        floor: SafetyFloor,
    ) {
        let mut ranked = Vec::with_capacity(machines.len());
        let mut counts = MachineCounts::default();
        for &m in machines {
            if self.view.all_inactive(m) {
                self.emit_removal(m);
                continue;
            }
            self.classified[m] = Some(Class::Kept);
            let mut mstate = ScaleState::Healthy;
            let mut first = None;
            for &ix in self.view.hosts_of(m) {
                let s = self.view.container_state(ix, self.policy, self.now);
                mstate = combine([mstate, s].into_iter());
                let key = self.view.container_key(ix, s);
                if first.as_ref().is_none_or(|f| key < *f) {
                    first = Some(key);
                }
            }
            match mstate {
                ScaleState::Healthy => counts.healthy += 1,
                ScaleState::Unhealthy => counts.unhealthy += 1,
                ScaleState::Deactivating => counts.deactivating += 1,
            }
            // Machine order = first appearance in the sorted container list, but grouped by machine
            // state first so that deactivating machines are always inside the first n. Machine
            // indices are in IP order, so they break ties exactly as the IPs would.
            ranked.push((mstate, first, m));
        }
        let decision = decide_target(counts, desired, floor, self.policy.max_unhealthy_in_flight);
        self.groups.push(GroupSummary {
            group,
            counts,
            desired,
            decision,
        });
        // Only the first `limit` machines are taken: they are selected, then sorted (the keys are
        // distinct, so this is the order a full sort gives, at a fraction of its cost).
        let limit = usize::try_from(decision.n).unwrap_or(usize::MAX);
        if limit < ranked.len() {
            ranked.select_nth_unstable(limit);
            ranked.truncate(limit);
        }
        ranked.sort_unstable();
        for (mstate, _, m) in ranked {
            let reason = match mstate {
                ScaleState::Deactivating => Reason::AlreadyDeactivating,
                ScaleState::Unhealthy => Reason::Unhealthy,
                ScaleState::Healthy => Reason::ScaleDown,
            };
            self.emit_deactivation(group, m, mstate, reason, (desired, counts.total()));
        }
    }

    fn emit_removal(&mut self, m: MachineIx) {
        let view = &self.view;
        let ip = view.machines[m].ip;
        self.classified[m] = Some(Class::Removal);
        self.removals.push(ip.to_owned());
        let mut actions = vec![self.event(
            format!("Trying to remove machine {ip}. reason: inactive machine"),
            Reason::InactiveMachine,
            ip,
        )];
        let instance = self.instance_of[m];
        for i in 0..self.view.hosts_of(m).len() {
            let ix = self.view.hosts_of(m)[i];
            let host = self.view.hosts[ix];
            // A container whose status is not yet INACTIVE is retried next run.
            if host.status != HostStatus::Inactive {
                continue;
            }
            let on_success = instance
                .into_iter()
                .cloned()
                .map(Effect::AddToTerminate)
                .collect();
            let rm = self.action(
                WekaCall::RemoveHost {
                    host_id: self.view.ids[ix],
                },
                Reason::InactiveMachine,
                Some(ip),
                Vec::new(),
                on_success,
                false,
                "removeInactive",
            );
            let rm_id = rm.id;
            actions.push(rm);
            for d in 0..self.view.drives_of(ix).len() {
                let uuid = self.view.drives_of(ix)[d].uuid.clone();
                let a = self.action(
                    WekaCall::RemoveDrives {
                        drive_uuids: vec![uuid],
                    },
                    Reason::InactiveMachine,
                    Some(ip),
                    vec![rm_id],
                    Vec::new(),
                    false,
                    "removeDrive",
                );
                actions.push(a);
            }
        }
        self.remove.push(Batch {
            machine_ip: Some(ip.to_owned()),
            before: vec![Effect::DropFromPool(ip.to_owned())],
            actions,
        });
    }

    fn emit_deactivation(
        &mut self,
        group: GroupKind,
        m: MachineIx,
        state: ScaleState,
        reason: Reason,
        (desired, current): (i64, u32),
    ) {
        self.classified[m] = Some(Class::Kept);
        let ip = self.view.machines[m].ip;
        let hosts = self.view.hosts_of(m).to_vec();
        let mut actions = Vec::new();
        let mut ports = Vec::new();
        for &ix in &hosts {
            for d in 0..self.view.drives_of(ix).len() {
                let drive = self.view.drives_of(ix)[d];
                if !drive.should_be_active {
                    continue;
                }
                let a = self.action(
                    WekaCall::DeactivateDrives {
                        drive_uuids: vec![drive.uuid.clone()],
                    },
                    reason,
                    Some(ip),
                    Vec::new(),
                    Vec::new(),
                    false,
                    "deactivateDrive",
                );
                actions.push(a);
            }
        }
        if group == GroupKind::Nfs {
            for &ix in &hosts {
                let id = self.view.ids[ix];
                let entries = self.nfs_ports.get(&id).cloned().unwrap_or_default();
                for (name, port) in entries {
                    let a = self.action(
                        WekaCall::InterfaceGroupDeletePort {
                            name: name.to_owned(),
                            host_id: id,
                            port: port.to_owned(),
                        },
                        reason,
                        Some(ip),
                        Vec::new(),
                        Vec::new(),
                        false,
                        "interfaceGroupDeletePort",
                    );
                    ports.push(a.id);
                    actions.push(a);
                }
            }
        }
        let kind = match group {
            GroupKind::Weka => "weka backend machine",
            GroupKind::Nfs => "nfs backend machine",
            GroupKind::Leftover => "machine",
        };
        let ev = self.event(
            format!(
                "Trying to deactivate {kind} {ip}. Desired size: {desired}, current size: {current}, reason: {}.",
                reason.as_str()
            ),
            reason,
            ip,
        );
        actions.push(ev);
        let deact = self.action(
            WekaCall::DeactivateHosts {
                host_ids: hosts.iter().map(|&ix| self.view.ids[ix]).collect(),
            },
            reason,
            Some(ip),
            ports,
            vec![Effect::DropFromPool(ip.to_owned())],
            false,
            "deactivateHost",
        );
        actions.push(deact);
        self.deactivate.push(Batch {
            machine_ip: Some(ip.to_owned()),
            before: Vec::new(),
            actions,
        });
        self.deactivations.push(Deactivation {
            group,
            ip: ip.to_owned(),
            state,
            reason,
        });
    }

    /// §9.6: machines outside every ASG (and NFS leftovers not deactivated above).
    fn handle_leftovers(&mut self, machines: &[MachineIx]) {
        let timeout = self.info.down_backends_removal_timeout();
        for &m in machines {
            if self.classified[m].is_some() {
                continue;
            }
            if self.view.all_inactive(m) {
                self.emit_removal(m);
                continue;
            }
            let view = &self.view;
            let hosts = view.hosts_of(m);
            let down_timed_out = hosts.iter().find(|&&ix| {
                view.hosts[ix].status == HostStatus::Down
                    && view.management_timed_out(ix, timeout, self.now)
            });
            let Some(&down_ix) = down_timed_out else {
                self.classified[m] = Some(Class::Kept);
                continue;
            };
            let all_down = hosts.iter().all(|&ix| {
                matches!(
                    view.hosts[ix].status,
                    HostStatus::Down | HostStatus::Inactive
                )
            });
            if all_down {
                let sizes = self.backend_sizes();
                let state = self.machine_state(m);
                self.emit_deactivation(GroupKind::Leftover, m, state, Reason::DownMachine, sizes);
            } else {
                let down_id = view.ids[down_ix];
                let ip = view.machines[m].ip;
                self.classified[m] = Some(Class::Kept);
                self.errors.push(format!(
                    "host {down_id} is down but not all containers on the machine {ip} are down"
                ));
            }
        }
    }

    fn finish_plan(self) -> ScaleDownPlan {
        let view = &self.view;
        let mut hosts = Vec::with_capacity(view.hosts.len());
        hosts.extend(
            view.hosts
                .iter()
                .enumerate()
                .filter(|(_, h)| !h.is_client())
                .filter(|(ix, _)| {
                    view.machine_of[*ix].is_none_or(|m| self.classified[m] != Some(Class::Removal))
                })
                .map(|(ix, h)| ScaleHost {
                    instance_id: h.instance_id().to_owned(),
                    private_ip: h.host_ip.clone(),
                    status: h.state.clone(),
                    added_time: h.added_time.unwrap_or_else(go_zero_time),
                    host_id: view.ids[ix],
                }),
        );
        let refusal = self
            .groups
            .iter()
            .find(|g| g.group == GroupKind::Weka)
            .filter(|g| g.decision.shrink_refused || g.decision.healing_held)
            .map(|g| Refusal {
                desired: g.desired,
                minimum: self.policy.floor.min_cluster_size,
                shrink_refused: g.decision.shrink_refused,
                healing_held: g.decision.healing_held.then_some(HealingHold {
                    healthy: g.counts.healthy,
                    required: self.policy.floor.min_healthy_to_heal,
                }),
            });
        let phases = [
            (PhaseKind::RemoveOrphanDrives, self.orphan),
            (PhaseKind::RemoveInactiveMachines, self.remove),
            (PhaseKind::DeactivateMachines, self.deactivate),
        ]
        .into_iter()
        .filter(|(_, b)| !b.is_empty())
        .map(|(kind, batches)| Phase { kind, batches })
        .collect();
        ScaleDownPlan {
            phases,
            hosts,
            refusal,
            transient_errors: self.errors,
            deactivations: self.deactivations,
            removals: self.removals,
            groups: self.groups,
        }
    }
}

/// Convenience: an empty response of the right version (used by tests and the shell on skips).
pub fn empty_response() -> ScaleResponse {
    ScaleResponse {
        hosts: Vec::new(),
        to_terminate: Vec::new(),
        transient_errors: Vec::new(),
        version: crate::wire::scale::PROTOCOL_VERSION,
        refusal: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn floor_none_is_reference_formula() {
        assert_eq!(deactivation_target(20, 0, 0, 10), 10);
        assert_eq!(deactivation_target(0, 0, 0, 3), 0);
    }

    #[test]
    fn shrink_refused_below_minimum_but_healing_proceeds() {
        let d = decide_target(
            MachineCounts {
                healthy: 6,
                unhealthy: 1,
                deactivating: 0,
            },
            3,
            SafetyFloor::from_geometry(3, 2, 1),
            2,
        );
        assert!(d.shrink_refused);
        assert!(!d.healing_held);
        assert_eq!(d.n, 1);
    }

    #[test]
    fn healing_held_when_healthy_below_stripe() {
        let d = decide_target(
            MachineCounts {
                healthy: 4,
                unhealthy: 2,
                deactivating: 0,
            },
            6,
            SafetyFloor::from_geometry(3, 2, 1),
            2,
        );
        assert!(d.healing_held);
        assert_eq!(d.n, 0);
    }

    #[test]
    fn deactivating_kept_even_when_healing_held() {
        let d = decide_target(
            MachineCounts {
                healthy: 3,
                unhealthy: 2,
                deactivating: 1,
            },
            6,
            SafetyFloor::from_geometry(3, 2, 1),
            2,
        );
        assert_eq!(d.n, 1);
    }
}
