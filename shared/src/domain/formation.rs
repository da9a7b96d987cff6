//! Whether a backend group still "forming" in the state is in fact a formed cluster whose
//! finalization was lost (review H4b): the clusterizing instance's last call,
//! `clusterize-finalization`, never landed, so the group would stay unclusterized forever (no
//! scale-down, no join scripts, members' launch actions abandoned at AWS's global timeout).
//!
//! The control plane finalizes such a group itself once WEKA shows a cluster formed by exactly the
//! registered members: io started, every member machine with backend containers all ACTIVE and
//! UP, no backend container on any other machine. It waits [`FINALIZATION_GRACE`] after the claim
//! first: the clusterizer may still be running the steps that follow `start-io` (file systems,
//! tiering, the post-cluster script) and finalizes on its own when it is done.

use crate::domain::lifecycle::machine_joined;
use crate::domain::state::ClusterState;
use crate::domain::terminate::{AsgInstance, Lifecycle};
use crate::weka::model::{ClusterStatus, HostsList};
use crate::wire::scale::InstanceRef;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeSet;

/// How long after the clusterization claim the control plane leaves a formed cluster to its
/// clusterizer's own finalization (the script's steps after `start-io` take minutes).
pub const FINALIZATION_GRACE: TimeDelta = TimeDelta::minutes(15);

/// Why the control plane does not finalize a group (yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotFormed {
    /// The group is clusterized already.
    #[error("the group is clusterized")]
    Clusterized,
    /// The registration set is not complete.
    #[error("the registration set is not complete ({registered}/{target})")]
    SetIncomplete {
        /// Registered members.
        registered: usize,
        /// The set's size.
        target: u32,
    },
    /// Nobody claimed the clusterization: nothing can have been created.
    #[error("no member claimed the clusterization")]
    Unclaimed,
    /// The claim is recent: its clusterizer may still finalize.
    #[error("the clusterization was claimed at {since}; its clusterizer may still be at work")]
    ClaimRecent {
        /// When the claim was taken.
        since: DateTime<Utc>,
    },
    /// A registered member is not in the group as fetched (no IP to check it by).
    #[error("registered member {0} has no private ip in the group")]
    MemberWithoutIp(String),
    /// WEKA's io is not started.
    #[error("weka io status is {0:?}, not STARTED")]
    IoNotStarted(String),
    /// A member machine is not running in WEKA (missing, or a container not ACTIVE and UP).
    #[error("member {instance} ({ip}) is not an active member in weka")]
    MemberNotUp {
        /// Instance id.
        instance: String,
        /// Private IP.
        ip: String,
    },
    /// WEKA runs backend containers on a machine that is not a registered member.
    #[error("weka runs backend containers on {0}, which is not a registered member")]
    Stranger(String),
}

/// The private IPs of the registered members, if the group is a candidate for the control
/// plane's finalization: not clusterized, its set complete and claimed at least
/// [`FINALIZATION_GRACE`] ago, every member in the group as fetched (`instances`).
pub fn candidate_member_ips(
    state: &ClusterState,
    instances: &[InstanceRef],
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, NotFormed> {
    if state.clusterized {
        return Err(NotFormed::Clusterized);
    }
    if !state.is_full() {
        return Err(NotFormed::SetIncomplete {
            registered: state.instances.len(),
            target: state.clusterization_target,
        });
    }
    let claim = state.clusterizer.as_ref().ok_or(NotFormed::Unclaimed)?;
    if now < claim.since + FINALIZATION_GRACE {
        return Err(NotFormed::ClaimRecent { since: claim.since });
    }
    state
        .instances
        .iter()
        .map(|vm| {
            instances
                .iter()
                .find(|i| i.id == vm.name && !i.private_ip.is_empty())
                .map(|i| (vm.name.clone(), i.private_ip.clone()))
                .ok_or_else(|| NotFormed::MemberWithoutIp(vm.name.clone()))
        })
        .collect()
}

/// Whether WEKA shows the cluster formed by exactly `members` (`(instance id, private IP)`).
pub fn formed_by(
    members: &[(String, String)],
    status: &ClusterStatus,
    hosts: &HostsList,
) -> Result<(), NotFormed> {
    if status.io_status != "STARTED" {
        return Err(NotFormed::IoNotStarted(status.io_status.clone()));
    }
    let member_ips: BTreeSet<&str> = members.iter().map(|(_, ip)| ip.as_str()).collect();
    if let Some(stranger) = hosts
        .values()
        .filter(|h| !h.is_client())
        .find(|h| !member_ips.contains(h.host_ip.as_str()))
    {
        return Err(NotFormed::Stranger(stranger.host_ip.as_str().to_owned()));
    }
    match members.iter().find(|(_, ip)| !machine_joined(hosts, ip)) {
        Some((instance, ip)) => Err(NotFormed::MemberNotUp {
            instance: instance.clone(),
            ip: ip.clone(),
        }),
        None => Ok(()),
    }
}

/// The registered members of a still-gathering set (see `ClusterState::evictable_slot`) that
/// Auto Scaling no longer runs: gone from the group, or terminating or detaching. A member that
/// died before the set completed would otherwise hold its slot forever (the set never completes,
/// or completes with a dead host); evicted, its slot goes to the next instance that registers.
pub fn departed_members(state: &ClusterState, instances: &[AsgInstance]) -> Vec<String> {
    state
        .instances
        .iter()
        .filter(|vm| state.evictable_slot(&vm.name).is_some())
        .filter(|vm| {
            instances
                .iter()
                .find(|i| i.id == vm.name)
                .is_none_or(|i| leaving(&i.lifecycle))
        })
        .map(|vm| vm.name.clone())
        .collect()
}

fn leaving(lifecycle: &Lifecycle) -> bool {
    matches!(lifecycle, Lifecycle::Other(state)
        if state.starts_with("Terminating") || state.starts_with("Detach"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::state::Clusterizer;
    use crate::weka::model::{Host, HostId, HostMode, HostState, HostStatus};
    use crate::wire::bootstrap::Vm;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn state(members: usize, claimed_at: Option<i64>) -> ClusterState {
        let mut state = ClusterState::new(3);
        state.instances = (1..=members)
            .map(|n| Vm {
                name: format!("i-{n}"),
                ..Vm::default()
            })
            .collect();
        state.clusterizer = claimed_at.map(|s| Clusterizer {
            instance: "i-3".to_owned(),
            since: t(s),
        });
        state
    }

    fn refs(n: usize) -> Vec<InstanceRef> {
        (1..=n)
            .map(|n| InstanceRef {
                id: format!("i-{n}"),
                private_ip: format!("10.0.0.{n}"),
            })
            .collect()
    }

    fn host(ip: &str, mode: HostMode, status: HostStatus) -> Host {
        Host {
            added_time: None,
            state_changed_time: None,
            state: HostState::Active,
            status,
            host_ip: ip.into(),
            aws: None,
            container_name: "drives0".into(),
            mode,
            machine_identifier: Default::default(),
            auto_remove_timeout: None,
        }
    }

    fn hosts(list: &[(&str, HostMode, HostStatus)]) -> HostsList {
        list.iter()
            .enumerate()
            .map(|(i, (ip, mode, status))| {
                (
                    HostId(i64::try_from(i).unwrap()),
                    host(ip, mode.clone(), status.clone()),
                )
            })
            .collect()
    }

    fn started() -> ClusterStatus {
        ClusterStatus {
            io_status: "STARTED".to_owned(),
            ..ClusterStatus::default()
        }
    }

    #[test]
    fn only_a_complete_set_claimed_long_enough_ago_is_a_candidate() {
        let grace = FINALIZATION_GRACE.num_seconds();
        assert!(matches!(
            candidate_member_ips(&state(2, Some(0)), &refs(3), t(grace)),
            Err(NotFormed::SetIncomplete { .. })
        ));
        assert_eq!(
            candidate_member_ips(&state(3, None), &refs(3), t(grace)),
            Err(NotFormed::Unclaimed)
        );
        assert!(matches!(
            candidate_member_ips(&state(3, Some(0)), &refs(3), t(grace - 1)),
            Err(NotFormed::ClaimRecent { .. })
        ));
        assert_eq!(
            candidate_member_ips(&state(3, Some(0)), &refs(2), t(grace)),
            Err(NotFormed::MemberWithoutIp("i-3".to_owned()))
        );
        let mut done = state(3, Some(0));
        done.clusterized = true;
        assert_eq!(
            candidate_member_ips(&done, &refs(3), t(grace)),
            Err(NotFormed::Clusterized)
        );
        let members = candidate_member_ips(&state(3, Some(0)), &refs(4), t(grace)).unwrap();
        assert_eq!(
            members,
            (1..=3)
                .map(|n| (format!("i-{n}"), format!("10.0.0.{n}")))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn formed_means_io_started_every_member_up_and_no_stranger() {
        let members: Vec<(String, String)> = (1..=2)
            .map(|n| (format!("i-{n}"), format!("10.0.0.{n}")))
            .collect();
        let up = || HostStatus::Up;
        let healthy = hosts(&[
            ("10.0.0.1", HostMode::Backend, up()),
            ("10.0.0.2", HostMode::Backend, up()),
            // A client is no member and no stranger.
            ("10.0.0.8", HostMode::Client, up()),
        ]);
        assert_eq!(formed_by(&members, &started(), &healthy), Ok(()));
        assert_eq!(
            formed_by(&members, &ClusterStatus::default(), &healthy),
            Err(NotFormed::IoNotStarted(String::new()))
        );
        let down = hosts(&[
            ("10.0.0.1", HostMode::Backend, up()),
            ("10.0.0.2", HostMode::Backend, HostStatus::Down),
        ]);
        assert!(matches!(
            formed_by(&members, &started(), &down),
            Err(NotFormed::MemberNotUp { .. })
        ));
        let missing = hosts(&[("10.0.0.1", HostMode::Backend, up())]);
        assert!(matches!(
            formed_by(&members, &started(), &missing),
            Err(NotFormed::MemberNotUp { .. })
        ));
        let stranger = hosts(&[
            ("10.0.0.1", HostMode::Backend, up()),
            ("10.0.0.2", HostMode::Backend, up()),
            ("10.0.0.9", HostMode::Backend, up()),
        ]);
        assert_eq!(
            formed_by(&members, &started(), &stranger),
            Err(NotFormed::Stranger("10.0.0.9".to_owned()))
        );
    }

    fn asg(id: &str, lifecycle: &str) -> AsgInstance {
        AsgInstance {
            id: id.to_owned(),
            private_ip: None,
            health: crate::domain::terminate::AsgHealth::Healthy,
            lifecycle: match lifecycle {
                "InService" => Lifecycle::InService,
                other => Lifecycle::Other(other.to_owned()),
            },
            protected_from_scale_in: false,
            ec2_state: None,
            launch_time: None,
        }
    }

    #[test]
    fn members_that_left_a_gathering_set_are_departed() {
        let gathering = state(3, None);
        let group = [
            asg("i-1", "InService"),
            asg("i-2", "Terminating:Wait"),
            asg("i-9", "Pending"),
        ];
        assert_eq!(departed_members(&gathering, &group), ["i-2", "i-3"]);
        let pending = [
            asg("i-1", "Pending:Wait"),
            asg("i-2", "InService"),
            asg("i-3", "Pending"),
        ];
        assert!(departed_members(&gathering, &pending).is_empty());
        // Once claimed, the set is the clusterizer's: nothing is evicted.
        assert!(departed_members(&state(3, Some(0)), &[]).is_empty());
        let mut formed = state(3, None);
        formed.clusterized = true;
        assert!(departed_members(&formed, &[]).is_empty());
    }
}
