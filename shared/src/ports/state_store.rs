//! The cluster-state store: one conditional write per transition, leases with owner and expiry
//! where exclusivity is needed, lock-free strongly consistent reads.

use crate::domain::control::Pause;
use crate::domain::events::Event;
use crate::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecycleRecord, LifecycleResult, NewLifecycleAction,
};
use crate::domain::report::{Report, ReportKind};
use crate::domain::state::{ClaimOutcome, ClusterState, Group, Registration};
use crate::wire::bootstrap::Vm;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::time::Duration;

use super::BoxError;

/// Failures of the state store, by meaning.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The group's state document does not exist (the Terraform module writes it).
    #[error("state document {key:?} does not exist in table {table:?}; was the module applied?")]
    StateMissing {
        /// Table name.
        table: String,
        /// Partition key.
        key: String,
    },
    /// The stored document cannot be read as a cluster state.
    #[error("state document {key:?} is corrupt: {reason}")]
    Corrupt {
        /// Partition key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value the store could not read back unchanged (e.g. a time past the year 9999).
    #[error("{what} {value} cannot be stored: it would not read back")]
    Unrepresentable {
        /// Which value.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The store is throttling or unreachable; a retry may succeed.
    #[error("state store unavailable during {operation}")]
    Unavailable {
        /// The operation that failed.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// Any other store failure.
    #[error("state store failed during {operation}")]
    Backend {
        /// The operation that failed.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

/// Refuses a time the store could not read back unchanged (see
/// [`rfc3339_representable`](crate::wire::rfc3339_representable)); every implementation checks
/// the times that come from outside (event times) before writing them.
pub fn check_storable_time(what: &'static str, at: DateTime<Utc>) -> Result<(), StoreError> {
    if crate::wire::rfc3339_representable(at) {
        Ok(())
    } else {
        Err(StoreError::Unrepresentable {
            what,
            value: format!("{at:?}"),
        })
    }
}

impl StoreError {
    /// Whether a later retry of the same call may succeed.
    pub const fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// A report to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    /// Reporting host.
    pub host: String,
    /// Kind.
    pub kind: ReportKind,
    /// Text (already bounded).
    pub message: String,
    /// Receive time.
    pub at: DateTime<Utc>,
}

/// A lease: exclusive for `owner` until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Lease name (e.g. `scale`).
    pub name: String,
    /// Holder (e.g. a Step Functions execution name or a Lambda request id).
    pub owner: String,
    /// When it lapses if not released.
    pub expires_at: DateTime<Utc>,
    /// The one invocation acting for the owner right now, if any.
    pub acting: Option<Acting>,
}

/// One invocation acting for a lease's owner: a retried step of the same owner may not act
/// before this one ended it or its deadline passed (it may still be running).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    /// The invocation (a Lambda request id).
    pub invocation: String,
    /// Its deadline: past it the invocation cannot be running any more.
    pub until: DateTime<Utc>,
}

/// A request for a lease: the owner (re-entrant), and the invocation that will act for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseClaim {
    /// Who holds the lease across steps (a Step Functions execution name).
    pub owner: String,
    /// The invocation acting now; `None` claims for the owner without marking an invocation.
    pub acting: Option<Acting>,
}

impl LeaseClaim {
    /// The lapse time of a lease taken by this claim at `now`: `now + ttl`, and never before
    /// the acting invocation's deadline (the lease cannot lapse under a running invocation).
    pub fn expires_at(&self, now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
        let lapse = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
        self.acting.as_ref().map_or(lapse, |a| lapse.max(a.until))
    }

    /// Whether this claim may take `lease` at `now`: it is free (lapsed), or the claim's owner
    /// holds it and no other invocation of that owner may still be acting.
    pub fn may_take(&self, lease: &Lease, now: DateTime<Utc>) -> bool {
        if lease.expires_at <= now {
            return true;
        }
        lease.owner == self.owner
            && lease.acting.as_ref().is_none_or(|other| {
                other.until <= now
                    || self
                        .acting
                        .as_ref()
                        .is_some_and(|me| me.invocation == other.invocation)
            })
    }
}

impl From<&str> for LeaseClaim {
    fn from(owner: &str) -> Self {
        Self {
            owner: owner.to_owned(),
            acting: None,
        }
    }
}

impl From<String> for LeaseClaim {
    fn from(owner: String) -> Self {
        Self {
            owner,
            acting: None,
        }
    }
}

/// The answer to a lease request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The caller holds the lease.
    Acquired(Lease),
    /// Someone else holds an unexpired lease.
    Held(Lease),
}

/// The cluster-state store. Every method is one round trip or a bounded few, none waits for
/// another caller, and none can leave the store in a state that blocks the next caller.
pub trait StateStore: Send + Sync {
    /// Strongly consistent, lock-free read of a group's state.
    fn load(&self, group: Group) -> impl Future<Output = Result<ClusterState, StoreError>> + Send;

    /// Whether every registration slot of the group is taken, without reading the set.
    fn is_full(&self, group: Group) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async move { Ok(self.load(group).await?.is_full()) }
    }

    /// Registers `vm` for clusterization in one conditional write (or transaction): added only
    /// if the group is not clusterized, the set is not complete and `vm` is not already in it.
    /// Retrying returns the same answer (the same completer; see `Registration::Registered`
    /// for the position).
    fn register(
        &self,
        group: Group,
        vm: &Vm,
    ) -> impl Future<Output = Result<Registration, StoreError>> + Send {
        async move { Ok(self.register_noting_new(group, vm).await?.0) }
    }

    /// [`Self::register`], also saying whether this call made the registration (`true`) or
    /// found it made (`false`: a retry, or a waiting member's poll), so that only new ones are
    /// recorded as events. Still one write.
    fn register_noting_new(
        &self,
        group: Group,
        vm: &Vm,
    ) -> impl Future<Output = Result<(Registration, bool), StoreError>> + Send;

    /// Claims the clusterization for `instance` (see `ClusterState::claim_answer`), in one
    /// conditional write.
    fn claim_clusterization(
        &self,
        group: Group,
        instance: &str,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> impl Future<Output = Result<ClaimOutcome, StoreError>> + Send;

    /// Evicts `instance_id` from the registration set as `seen` holds it (see
    /// `ClusterState::evictable_slot`), in one conditional write that is refused when the set
    /// changed since `seen` (a registration, a claim, another eviction); returns whether it did.
    fn evict_registration(
        &self,
        group: Group,
        seen: &ClusterState,
        instance_id: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records a cluster formed without this module as clusterized at `now` (see
    /// `domain::adoption`), in one conditional write refused when the document changed since
    /// it was read at `seen_version`, or the group is clusterized or being clusterized; returns
    /// whether it did.
    fn adopt(
        &self,
        group: Group,
        seen_version: u64,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Marks the group clusterized, idempotently, in one write.
    fn finalize(
        &self,
        group: Group,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<ClusterState, StoreError>> + Send;

    /// Reserves the next report sequence number of `host` (one atomic counter increment). A
    /// host's first report is admitted only while fewer than `max_new_hosts` hosts started
    /// reporting to the group in `window`; `None` when refused (nothing written for the host).
    fn next_report_seq(
        &self,
        group: Group,
        host: &str,
        window: &str,
        max_new_hosts: u32,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Stores a report under its sequence number, overwriting the slot it shares in the
    /// per-host ring of `per_host` entries; it expires after `retention`.
    fn put_report(
        &self,
        group: Group,
        seq: u64,
        report: &NewReport,
        per_host: u32,
        retention: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every stored report of the group, per host in sequence order.
    fn reports(&self, group: Group)
    -> impl Future<Output = Result<Vec<Report>, StoreError>> + Send;

    /// Takes lease `name` for the claim's owner until [`LeaseClaim::expires_at`] if
    /// [`LeaseClaim::may_take`] allows it: free, expired, or already the owner's (renewal) with
    /// no other invocation of the owner possibly still acting. Marks the claim's invocation as
    /// the one acting (or none). One conditional write.
    fn acquire_lease(
        &self,
        name: &str,
        claim: &LeaseClaim,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> impl Future<Output = Result<LeaseOutcome, StoreError>> + Send;

    /// Ends `invocation`'s turn on lease `name` (the owner keeps the lease for its next step);
    /// returns whether it was the one acting. One conditional write.
    fn end_acting(
        &self,
        name: &str,
        owner: &str,
        invocation: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Releases lease `name` if `owner` still holds it; returns whether it did.
    fn release_lease(
        &self,
        name: &str,
        owner: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a small JSON document under `name` (e.g. the last scale-down outcome), last
    /// writer wins.
    fn put_note(
        &self,
        name: &str,
        body: &serde_json::Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads a note written by [`Self::put_note`].
    fn note(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<serde_json::Value>, StoreError>> + Send;

    /// Records an automatic decision in the deployment's ring of `kept` events (the oldest
    /// overwritten), expiring after `retention`. Two writes: a sequence number, then the slot.
    fn record_event(
        &self,
        event: &Event,
        kept: u32,
        retention: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The recorded events that have not expired, newest first.
    fn events(&self) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;

    /// Pauses scale-down and terminations (the `pause` control item), last writer wins. Only
    /// operators call it (the CLI); no Lambda writes it.
    fn pause(&self, pause: &Pause) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Lifts the pause; returns the pause it lifted (`None` when none stood). One write.
    fn resume(&self) -> impl Future<Output = Result<Option<Pause>, StoreError>> + Send;

    /// The pause that stands, if any (strongly consistent).
    fn paused(&self) -> impl Future<Output = Result<Option<Pause>, StoreError>> + Send;

    /// Records a lifecycle action, idempotently: creates it `Waiting`, or fills in what an
    /// existing record lacks (token, private IP). Never changes a record's phase, outcome or
    /// start time. One unconditional write.
    fn record_lifecycle_action(
        &self,
        action: &NewLifecycleAction,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every lifecycle record (any phase) that has not expired, ordered by key.
    fn lifecycle_actions(
        &self,
    ) -> impl Future<Output = Result<Vec<LifecycleRecord>, StoreError>> + Send;

    /// Takes the heartbeat slot of a waiting action: sets its last heartbeat to `now` only if
    /// the record exists, is `Waiting` and its last heartbeat is at least `interval` old. Returns
    /// whether this caller took it (and so should send the heartbeat). One conditional write.
    fn claim_lifecycle_heartbeat(
        &self,
        key: &LifecycleKey,
        now: DateTime<Utc>,
        interval: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Fixes the outcome of an action that is `Waiting` or not recorded yet (a report may
    /// arrive before the event). Returns whether this call decided; `false` when another
    /// outcome was fixed first. One conditional write.
    fn decide_lifecycle_action(
        &self,
        decision: &LifecycleDecision,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Marks a recorded action `Completed` (from any other phase) with the result AWS was told
    /// (`None` when it ended without us) and why. Returns whether this call changed it.
    fn close_lifecycle_action(
        &self,
        key: &LifecycleKey,
        result: Option<LifecycleResult>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
