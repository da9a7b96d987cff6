//! Auto Scaling lifecycle actions (launch and terminate hooks) as pure records and decisions.
//!
//! A lifecycle action is recorded in the state store, keyed by instance id and transition, and
//! moves one way only: `Waiting` → `Decided` (the outcome is fixed: CONTINUE or ABANDON, with
//! the reason) → `Completed` (AWS was told, or the action was found no longer pending). Deciding
//! and completing are conditional writes, so concurrent deciders agree on one outcome and a
//! completion sent twice is harmless. Whoever decides calls AWS at once; a decision whose call
//! failed is completed by the next scale run ([`reconcile`]).
//!
//! The launch hook holds a new backend in `Pending:Wait` until it joined (its `Join completed
//! successfully` report) or, for the first N, until the cluster formed (`clusterize_finalization`).
//! The terminate hook holds a backend the control plane did not choose to remove until WEKA has
//! deactivated it, never past the hook's deadline minus a safety margin.

use crate::domain::report::ReportKind;
use crate::domain::terminate::Lifecycle;
use crate::weka::model::HostsList;
use crate::wire::events::LifecycleNotice;
use chrono::{DateTime, TimeDelta, Utc};
use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

mod reconcile;

pub use reconcile::{Held, Members, ReconcileStep, reconcile};

/// The report that ends a successful join script (`join.sh`).
pub const JOIN_COMPLETED: &str = "Join completed successfully";

pub use crate::wire::events::Transition;

/// The answer given to AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LifecycleResult {
    /// Let the transition proceed (the instance goes InService, or terminates).
    Continue,
    /// Launch: terminate the instance (the ASG replaces it). Terminate: proceed, skipping
    /// remaining hooks.
    Abandon,
}

impl LifecycleResult {
    /// AWS spelling (`CONTINUE`, `ABANDON`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Continue => "CONTINUE",
            Self::Abandon => "ABANDON",
        }
    }

    /// Parses the AWS spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "CONTINUE" => Some(Self::Continue),
            "ABANDON" => Some(Self::Abandon),
            _ => None,
        }
    }
}

impl fmt::Display for LifecycleResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a recorded action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LifecyclePhase {
    /// Nobody decided yet.
    Waiting,
    /// The outcome is fixed; AWS may not know it yet.
    Decided,
    /// AWS was told, or the action was found no longer pending.
    Completed,
}

impl LifecyclePhase {
    /// Stored spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Decided => "decided",
            Self::Completed => "completed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "waiting" => Some(Self::Waiting),
            "decided" => Some(Self::Decided),
            "completed" => Some(Self::Completed),
            _ => None,
        }
    }
}

/// Identifies one lifecycle action: the instance and the transition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LifecycleKey {
    /// EC2 instance id.
    pub instance_id: String,
    /// Launch or terminate.
    pub transition: Transition,
}

impl fmt::Display for LifecycleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.transition, self.instance_id)
    }
}

/// What is known when an action is first seen (from its EventBridge event, or by observing an
/// instance in a wait state). Recording it again, or with more detail, is idempotent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLifecycleAction {
    /// Instance and transition.
    pub key: LifecycleKey,
    /// Auto Scaling group.
    pub group: String,
    /// Lifecycle hook name.
    pub hook: String,
    /// `LifecycleActionToken`, when the event carried it.
    pub token: Option<String>,
    /// When the action started (event time, or first observation).
    pub started_at: DateTime<Utc>,
    /// Private IP, when known (lets reports naming `ip-a-b-c-d` find the instance).
    pub private_ip: Option<String>,
}

/// A fixed outcome for an action, written once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleDecision {
    /// Instance and transition.
    pub key: LifecycleKey,
    /// Auto Scaling group (kept if the record exists).
    pub group: String,
    /// Hook name (kept if the record exists).
    pub hook: String,
    /// The outcome.
    pub result: LifecycleResult,
    /// Why, for operators (`status`) and logs.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A recorded lifecycle action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRecord {
    /// Instance and transition.
    pub key: LifecycleKey,
    /// Auto Scaling group.
    pub group: String,
    /// Lifecycle hook name.
    pub hook: String,
    /// `LifecycleActionToken`, when known.
    pub token: Option<String>,
    /// When the action started (or was first seen).
    pub started_at: DateTime<Utc>,
    /// Private IP, when known.
    pub private_ip: Option<String>,
    /// Last heartbeat slot taken (see the heartbeat throttle).
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub phase: LifecyclePhase,
    /// The decided outcome (`None` while waiting, or when it ended without a decision).
    pub result: Option<LifecycleResult>,
    /// Why it was decided or completed.
    pub reason: Option<String>,
    /// When it was decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// When it was completed.
    pub completed_at: Option<DateTime<Utc>>,
}

impl LifecycleRecord {
    /// Whether the action still needs something from the control plane.
    pub fn is_open(&self) -> bool {
        self.phase != LifecyclePhase::Completed
    }

    /// Whether the record is for the given host: its instance id or its private IP.
    pub fn matches(&self, host: &HostRef) -> bool {
        match host {
            HostRef::InstanceId(id) => &self.key.instance_id == id,
            HostRef::Ip(ip) => self.private_ip.as_deref() == Some(ip.as_str()),
            HostRef::Name(_) => false,
        }
    }

    /// When the hook times out on its own if nobody answers: the start or last heartbeat plus
    /// the heartbeat timeout.
    pub fn heartbeat_deadline(&self, timeout: Duration) -> DateTime<Utc> {
        let since = self
            .last_heartbeat_at
            .map_or(self.started_at, |h| h.max(self.started_at));
        since + to_delta(timeout)
    }
}

fn to_delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Timing of the hooks as configured on the group (the Terraform module sets both sides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifecyclePolicy {
    /// Launch hook heartbeat timeout.
    pub launch_timeout: Duration,
    /// Terminate hook heartbeat timeout.
    pub terminate_timeout: Duration,
    /// At most one heartbeat per instance per this interval.
    pub heartbeat_interval: Duration,
    /// A terminate action is completed with CONTINUE at the latest this long before its deadline.
    pub deadline_margin: Duration,
}

/// The longest AWS keeps an instance in a wait state, heartbeats or not: 100 times the hook's
/// heartbeat timeout, never more than 48 hours.
pub fn global_timeout(heartbeat_timeout: Duration) -> Duration {
    heartbeat_timeout
        .saturating_mul(100)
        .min(Duration::from_secs(48 * 3600))
}

impl LifecyclePolicy {
    /// The latest moment a terminate action may wait for deactivation: the margin before the
    /// hook times out, i.e. before its last heartbeat (or start) plus the heartbeat timeout, and
    /// never past its global timeout. Without heartbeats: start + timeout − margin.
    pub fn terminate_deadline(&self, record: &LifecycleRecord) -> DateTime<Utc> {
        let global = record.started_at + to_delta(global_timeout(self.terminate_timeout));
        record
            .heartbeat_deadline(self.terminate_timeout)
            .min(global)
            - to_delta(self.deadline_margin)
    }
}

/// Whether Auto Scaling holds the instance in the wait state of `transition` (`Pending:Wait`,
/// `Terminating:Wait`): only then is a recorded action of that transition acted on.
pub fn in_wait_state(state: &Lifecycle, transition: Transition) -> bool {
    matches!(state, Lifecycle::Other(s) if s == transition.wait_state())
}

/// How a report names its host (`$HOSTNAME` on the instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRef {
    /// Resource-name hostnames (`i-0123456789abcdef0[.region.compute.internal]`).
    InstanceId(String),
    /// IP-name hostnames (`ip-10-0-1-23[.ec2.internal]`).
    Ip(String),
    /// Anything else.
    Name(String),
}

impl HostRef {
    /// Reads an EC2 hostname.
    pub fn parse(hostname: &str) -> Self {
        let label = hostname.split('.').next().unwrap_or_default();
        if let Some(hex) = label.strip_prefix("i-")
            && !hex.is_empty()
            && hex.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Self::InstanceId(label.to_owned());
        }
        if let Some(dashed) = label.strip_prefix("ip-")
            && let Ok(ip) = dashed.replace('-', ".").parse::<Ipv4Addr>()
        {
            return Self::Ip(ip.to_string());
        }
        Self::Name(hostname.to_owned())
    }
}

/// What a report means for the reporter's launch action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportSignal {
    /// The join script finished: CONTINUE.
    Joined,
    /// A failure: ABANDON, unless the instance is a member of a cluster still forming.
    Failed,
    /// Installation is moving: heartbeat.
    Progress,
    /// Nothing (debug output).
    None,
}

impl ReportSignal {
    /// Classifies a report.
    pub fn of(kind: ReportKind, message: &str) -> Self {
        match kind {
            ReportKind::Error => Self::Failed,
            ReportKind::Progress if message.trim() == JOIN_COMPLETED => Self::Joined,
            ReportKind::Progress => Self::Progress,
            ReportKind::Debug => Self::None,
        }
    }
}

/// What WEKA says about the machine of an instance being terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineState {
    /// No backend container has the instance's IP.
    Absent,
    /// Every container of the machine is INACTIVE.
    Inactive,
    /// Some containers are still active (or deactivating).
    Active {
        /// How many.
        active: usize,
    },
}

/// What WEKA's host list says about the machine with `ip` (client containers ignored).
pub fn machine_state(hosts: &HostsList, ip: &str) -> MachineState {
    let containers: Vec<_> = hosts
        .values()
        .filter(|h| h.host_ip == ip && !h.is_client())
        .collect();
    if containers.is_empty() {
        return MachineState::Absent;
    }
    let active = containers
        .iter()
        .filter(|h| h.state != crate::weka::model::HostState::Inactive)
        .count();
    if active == 0 {
        MachineState::Inactive
    } else {
        MachineState::Active { active }
    }
}

/// Whether WEKA runs the machine with `ip` as a member: it has backend containers and every one
/// of them is ACTIVE and UP (client containers ignored).
pub fn machine_joined(hosts: &HostsList, ip: &str) -> bool {
    let mut containers = hosts
        .values()
        .filter(|h| h.host_ip == ip && !h.is_client())
        .peekable();
    containers.peek().is_some()
        && containers.all(|h| {
            h.state == crate::weka::model::HostState::Active
                && h.status == crate::weka::model::HostStatus::Up
        })
}

/// The launch hook's safety net: a machine WEKA runs as a member whose join report never came (a
/// lost call) is continued once its action has been quiet for half the hook's heartbeat timeout,
/// well before the timeout would abandon (terminate) an active member. `None` to keep waiting.
pub fn joined_launch_decision(
    record: &LifecycleRecord,
    joined: bool,
    policy: &LifecyclePolicy,
    now: DateTime<Utc>,
) -> Option<(LifecycleResult, String)> {
    let halfway =
        record.heartbeat_deadline(policy.launch_timeout) - to_delta(policy.launch_timeout / 2);
    (joined && now >= halfway).then(|| {
        (
            LifecycleResult::Continue,
            "weka runs the machine (every container active and up) but its join report never \
             came"
                .to_owned(),
        )
    })
}

/// The terminate-hook decision for one waiting action: CONTINUE once WEKA no longer needs the
/// machine, or when the hook's deadline (minus the margin) is reached; `None` to keep waiting.
pub fn termination_decision(
    record: &LifecycleRecord,
    machine: Option<MachineState>,
    policy: &LifecyclePolicy,
    now: DateTime<Utc>,
) -> Option<(LifecycleResult, String)> {
    let reason = match machine {
        None => "the instance is no longer in the group as fetched (or has no private ip): \
                 nothing to deactivate"
            .to_owned(),
        Some(MachineState::Absent) => {
            "no weka container on the instance: nothing to deactivate".to_owned()
        }
        Some(MachineState::Inactive) => "weka deactivated the machine".to_owned(),
        Some(MachineState::Active { active }) => {
            let deadline = policy.terminate_deadline(record);
            if now < deadline {
                return None;
            }
            format!(
                "the hook's deadline is near ({} s margin): {active} weka container(s) still active, \
                 terminating without a finished deactivation",
                policy.deadline_margin.as_secs()
            )
        }
    };
    Some((LifecycleResult::Continue, reason))
}

/// The hooks configured on the backend group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hooks {
    /// Launch hook name, when the hook exists.
    pub launch: Option<String>,
    /// Terminate hook name, when the hook exists.
    pub terminate: Option<String>,
}

impl Hooks {
    /// The hook of a transition.
    pub fn name(&self, transition: Transition) -> Option<&str> {
        match transition {
            Transition::Launch => self.launch.as_deref(),
            Transition::Terminate => self.terminate.as_deref(),
        }
    }
}

/// The ASG spelling of a lifecycle state.
pub fn lifecycle_text(state: &Lifecycle) -> &str {
    match state {
        Lifecycle::InService => "InService",
        Lifecycle::Standby => "Standby",
        Lifecycle::Other(s) => s,
    }
}

impl From<&LifecycleNotice> for NewLifecycleAction {
    /// The action an Auto Scaling lifecycle event announces, to be recorded.
    fn from(notice: &LifecycleNotice) -> Self {
        Self {
            key: LifecycleKey {
                instance_id: notice.instance_id.clone(),
                transition: notice.transition,
            },
            group: notice.group.clone(),
            hook: notice.hook.clone(),
            token: notice.token.clone(),
            started_at: notice.at,
            private_ip: None,
        }
    }
}

#[cfg(test)]
mod tests;
