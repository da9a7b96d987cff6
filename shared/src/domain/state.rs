//! The cluster-state document of one instance group (backends or NFS gateways) and its
//! transitions: registration for clusterization, claiming the clusterization, finalization.
//!
//! Every transition here is the pure rule that the state store applies in one conditional
//! write; the in-memory store runs these functions directly, the DynamoDB store encodes the same
//! rule as a condition expression and uses these functions to explain a refused write.

use crate::wire::bootstrap::{Protocol, Vm};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Which instance group a state document belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// WEKA backends (the main cluster).
    Backend,
    /// NFS protocol gateways (their own registration barrier and interface group).
    Nfs,
}

impl Group {
    /// NFS gateways use the NFS state; every other caller the backend state (as the reference).
    pub const fn for_protocol(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Nfs => Self::Nfs,
            _ => Self::Backend,
        }
    }

    /// Value of the instances' `weka_hostgroup_type` tag.
    pub const fn hostgroup_tag(self) -> &'static str {
        match self {
            Self::Backend => "backend",
            Self::Nfs => "gateways-protocol",
        }
    }

    /// Lowercase name for logs and messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Backend => "backend",
            Self::Nfs => "nfs",
        }
    }
}

/// Who completed the registration set and is running the clusterization script, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clusterizer {
    /// Instance id of the clusterizing instance.
    pub instance: String,
    /// When it claimed the clusterization.
    pub since: DateTime<Utc>,
}

/// One group's state document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterState {
    /// Incremented by every write; lets readers see that something changed.
    pub version: u64,
    /// Size the group was created with.
    pub initial_size: u32,
    /// Desired size recorded at creation (status prefers the ASG's live value).
    pub desired_size: u32,
    /// Number of registered instances that triggers clusterization.
    pub clusterization_target: u32,
    /// Whether clusterization finished.
    pub clusterized: bool,
    /// When clusterization finished.
    pub clusterized_at: Option<DateTime<Utc>>,
    /// Instances that registered for clusterization, in registration order. Kept after
    /// clusterization as the record of the initial membership (the reference cleared it).
    pub instances: Vec<Vm>,
    /// The current clusterization claim, if any.
    pub clusterizer: Option<Clusterizer>,
}

/// Why a registration was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationRefusal {
    /// Clusterization already happened; the caller should join instead.
    AlreadyClusterized,
    /// The set is complete without this instance.
    SetComplete {
        /// The group's clusterization target.
        target: u32,
    },
}

/// The answer to a registration. Retrying the same registration yields the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// The instance is in the set.
    Registered {
        /// The instance's place in the set, `target` for the completer and only for it. A store
        /// that knows the order (in memory) answers the 1-based position; DynamoDB, which keeps
        /// one item per registration and a counter, answers how many had registered when it
        /// answered (below `target` unless this is the completer): a progress figure.
        position: u32,
        /// The group's clusterization target.
        target: u32,
    },
    /// The instance is not in the set and will not be.
    Refused(RegistrationRefusal),
}

impl Registration {
    /// True for exactly one instance: the one whose registration completed the set.
    pub const fn completes_set(&self) -> bool {
        matches!(self, Self::Registered { position, target } if *position == *target)
    }
}

/// The answer to a clusterization claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The caller holds the claim (newly, again, or taken over from a stale claimant).
    Granted {
        /// The claimant this replaced because its claim went stale, if any.
        replaced: Option<Clusterizer>,
    },
    /// Someone else holds a fresh claim.
    HeldBy(Clusterizer),
    /// The group is already clusterized.
    AlreadyClusterized,
    /// The set is not complete, or the caller is not in it.
    NotEligible,
}

/// A state document that cannot be trusted, found while reading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state document is corrupt: {0}")]
pub struct CorruptState(pub String);

impl ClusterState {
    /// A fresh document for a group of `size` (what Terraform writes).
    pub fn new(size: u32) -> Self {
        Self {
            initial_size: size,
            desired_size: size,
            clusterization_target: size,
            ..Self::default()
        }
    }

    /// 1-based position of `instance_id` in the registration order.
    pub fn position_of(&self, instance_id: &str) -> Option<u32> {
        self.instances
            .iter()
            .position(|vm| vm.name == instance_id)
            .and_then(|i| u32::try_from(i + 1).ok())
    }

    /// Whether every registration slot is taken.
    pub fn is_full(&self) -> bool {
        self.instances.len() >= self.clusterization_target as usize
    }

    /// What a registration of `instance_id` answers given this state, without changing it:
    /// `None` means the registration would be accepted as a new entry.
    pub fn registration_answer(&self, instance_id: &str) -> Option<Registration> {
        if let Some(position) = self.position_of(instance_id) {
            return Some(Registration::Registered {
                position,
                target: self.clusterization_target,
            });
        }
        if self.clusterized {
            return Some(Registration::Refused(
                RegistrationRefusal::AlreadyClusterized,
            ));
        }
        if self.is_full() {
            return Some(Registration::Refused(RegistrationRefusal::SetComplete {
                target: self.clusterization_target,
            }));
        }
        None
    }

    /// Applies a registration: appends `vm` unless [`Self::registration_answer`] decides
    /// otherwise. Returns the answer and whether the document changed.
    pub fn register(&mut self, vm: &Vm) -> (Registration, bool) {
        if let Some(answer) = self.registration_answer(&vm.name) {
            return (answer, false);
        }
        self.instances.push(vm.clone());
        self.version += 1;
        let position = u32::try_from(self.instances.len()).unwrap_or(u32::MAX);
        (
            Registration::Registered {
                position,
                target: self.clusterization_target,
            },
            true,
        )
    }

    /// What a claim by `instance_id` answers given this state ([`claim_rule`]).
    pub fn claim_answer(
        &self,
        instance_id: &str,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> ClaimOutcome {
        claim_rule(
            &ClaimFacts {
                clusterized: self.clusterized,
                full: self.is_full(),
                member: self.position_of(instance_id).is_some(),
                clusterizer: self.clusterizer.as_ref(),
            },
            instance_id,
            now,
            stale_after,
        )
    }

    /// Applies a claim (see [`Self::claim_answer`]).
    pub fn claim(
        &mut self,
        instance_id: &str,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> ClaimOutcome {
        let answer = self.claim_answer(instance_id, now, stale_after);
        if matches!(answer, ClaimOutcome::Granted { .. }) {
            // A re-claim by the holder renews `since`: a clusterizer that retries is alive.
            self.clusterizer = Some(Clusterizer {
                instance: instance_id.to_owned(),
                since: now,
            });
            self.version += 1;
        }
        answer
    }

    /// The 0-based slot of `instance_id` when it may be evicted from the registration set: the
    /// group is still gathering (not clusterized, nobody clusterizing) and the instance holds a
    /// slot. Once a clusterization is claimed the set is the clusterizer's to use.
    pub fn evictable_slot(&self, instance_id: &str) -> Option<usize> {
        if self.clusterized || self.clusterizer.is_some() {
            return None;
        }
        self.instances.iter().position(|vm| vm.name == instance_id)
    }

    /// Applies an eviction (see [`Self::evictable_slot`]); returns whether the set changed.
    pub fn evict(&mut self, instance_id: &str) -> bool {
        let Some(slot) = self.evictable_slot(instance_id) else {
            return false;
        };
        self.instances.remove(slot);
        self.version += 1;
        true
    }

    /// Marks the group clusterized. Idempotent: the first finalization time is kept.
    pub fn finalize(&mut self, now: DateTime<Utc>) {
        if !self.clusterized {
            self.clusterized = true;
            self.clusterized_at = Some(now);
        }
        self.version += 1;
    }
}

/// What the claim rule reads of a group's state; a store that keeps the registration set apart
/// from the group's counters (DynamoDB) gathers these without loading the set.
#[derive(Debug, Clone, Copy)]
pub struct ClaimFacts<'a> {
    /// The group is clusterized.
    pub clusterized: bool,
    /// Every registration slot is taken.
    pub full: bool,
    /// The claimant holds a slot.
    pub member: bool,
    /// The current claim, if any.
    pub clusterizer: Option<&'a Clusterizer>,
}

/// The claim rule: the set must be complete, the caller in it, the group not clusterized, and
/// any other claim older than `stale_after`.
pub fn claim_rule(
    facts: &ClaimFacts<'_>,
    instance_id: &str,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> ClaimOutcome {
    if facts.clusterized {
        return ClaimOutcome::AlreadyClusterized;
    }
    if !facts.full || !facts.member {
        return ClaimOutcome::NotEligible;
    }
    match facts.clusterizer {
        Some(current) if current.instance == instance_id => {
            ClaimOutcome::Granted { replaced: None }
        }
        Some(current) if !is_stale(current.since, now, stale_after) => {
            ClaimOutcome::HeldBy(current.clone())
        }
        other => ClaimOutcome::Granted {
            replaced: other.cloned(),
        },
    }
}

/// Whether a timestamp is older than `limit` at `now`.
pub fn is_stale(since: DateTime<Utc>, now: DateTime<Utc>, limit: Duration) -> bool {
    let limit = chrono::Duration::from_std(limit).unwrap_or(chrono::Duration::MAX);
    now.signed_duration_since(since) >= limit
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vm(id: &str) -> Vm {
        Vm {
            name: id.to_owned(),
            ..Vm::default()
        }
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn registration_fills_in_order_and_only_the_last_completes() {
        let mut s = ClusterState::new(3);
        let answers: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|id| s.register(&vm(id)).0)
            .collect();
        assert_eq!(answers.iter().filter(|a| a.completes_set()).count(), 1);
        assert!(answers[2].completes_set());
        assert_eq!(s.version, 3);
    }

    #[test]
    fn retrying_a_registration_gives_the_same_answer_and_writes_nothing() {
        let mut s = ClusterState::new(2);
        let first = s.register(&vm("a")).0;
        let completing = s.register(&vm("b")).0;
        let before = s.clone();
        assert_eq!(s.register(&vm("a")), (first, false));
        assert_eq!(s.register(&vm("b")), (completing, false));
        assert_eq!(s, before);
    }

    #[test]
    fn late_and_post_clusterization_arrivals_are_refused() {
        let mut s = ClusterState::new(1);
        s.register(&vm("a"));
        assert_eq!(
            s.register(&vm("late")).0,
            Registration::Refused(RegistrationRefusal::SetComplete { target: 1 })
        );
        s.finalize(t(0));
        assert_eq!(
            s.register(&vm("later")).0,
            Registration::Refused(RegistrationRefusal::AlreadyClusterized)
        );
        assert_eq!(s.instances.len(), 1);
    }

    #[test]
    fn claim_goes_to_a_member_and_is_taken_over_only_when_stale() {
        let stale = Duration::from_secs(3600);
        let mut s = ClusterState::new(2);
        assert_eq!(s.claim("a", t(0), stale), ClaimOutcome::NotEligible);
        s.register(&vm("a"));
        s.register(&vm("b"));
        assert_eq!(s.claim("x", t(0), stale), ClaimOutcome::NotEligible);
        assert_eq!(
            s.claim("b", t(0), stale),
            ClaimOutcome::Granted { replaced: None }
        );
        assert!(matches!(s.claim("a", t(10), stale), ClaimOutcome::HeldBy(c) if c.instance == "b"));
        assert_eq!(
            s.claim("b", t(20), stale),
            ClaimOutcome::Granted { replaced: None }
        );
        assert_eq!(
            s.clusterizer.as_ref().unwrap().since,
            t(20),
            "re-claim renews"
        );
        assert!(matches!(
            s.claim("a", t(3000), stale),
            ClaimOutcome::HeldBy(_)
        ));
        let taken = s.claim("a", t(3620), stale);
        assert!(matches!(taken, ClaimOutcome::Granted { replaced: Some(c) } if c.instance == "b"));
        s.finalize(t(4000));
        assert_eq!(
            s.claim("a", t(5000), stale),
            ClaimOutcome::AlreadyClusterized
        );
    }

    #[test]
    fn finalization_is_idempotent_and_keeps_first_time() {
        let mut s = ClusterState::new(1);
        s.finalize(t(1));
        s.finalize(t(2));
        assert!(s.clusterized);
        assert_eq!(s.clusterized_at, Some(t(1)));
    }
}
