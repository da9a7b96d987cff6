//! Joins hosts, drives and nodes into a per-machine view and derives container states (behaviour.md §9.4).

use std::cmp::Reverse;
use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::weka::model::{
    Drive, DriveStatus, Host, HostId, HostState, HostStatus, Node, NodeStatus,
};
use crate::wire::scale::go_zero_time;

use super::{ClusterSnapshot, ScaleDownPolicy, ScaleState};

/// Hosts with their drives and management nodes attached, grouped by machine IP.
pub(crate) struct View<'a> {
    pub(crate) hosts: &'a BTreeMap<HostId, Host>,
    /// Drives per owning container, in `DiskId` order.
    pub(crate) drives: BTreeMap<HostId, Vec<&'a Drive>>,
    /// Management nodes per container.
    pub(crate) mgmt_nodes: BTreeMap<HostId, Vec<&'a Node>>,
    /// Non-client containers per machine IP, ascending ids.
    pub(crate) machines: BTreeMap<&'a str, Vec<HostId>>,
}

impl<'a> View<'a> {
    pub(crate) fn new(cluster: &'a ClusterSnapshot) -> Self {
        let mut drives: BTreeMap<HostId, Vec<&'a Drive>> = BTreeMap::new();
        for d in cluster.drives.values() {
            drives.entry(d.host_id).or_default().push(d);
        }
        let mut mgmt_nodes: BTreeMap<HostId, Vec<&'a Node>> = BTreeMap::new();
        for (id, n) in &cluster.nodes {
            if id.is_management() {
                mgmt_nodes.entry(n.host_id).or_default().push(n);
            }
        }
        let mut machines: BTreeMap<&'a str, Vec<HostId>> = BTreeMap::new();
        for (id, h) in &cluster.hosts {
            if !h.is_client() && !h.host_ip.is_empty() {
                machines.entry(h.host_ip.as_str()).or_default().push(*id);
            }
        }
        Self {
            hosts: &cluster.hosts,
            drives,
            mgmt_nodes,
            machines,
        }
    }

    pub(crate) fn host(&self, id: HostId) -> Option<&'a Host> {
        self.hosts.get(&id)
    }

    pub(crate) fn drives_of(&self, id: HostId) -> &[&'a Drive] {
        self.drives.get(&id).map_or(&[], Vec::as_slice)
    }

    /// Whether every container of the machine is in state INACTIVE.
    pub(crate) fn all_inactive(&self, ids: &[HostId]) -> bool {
        ids.iter().all(|id| {
            self.host(*id)
                .is_some_and(|h| h.state == HostState::Inactive)
        })
    }

    /// Some management node of the container is DOWN for longer than `timeout`, measured from its
    /// last fencing time, else from the container's state change (null counts as long ago).
    pub(crate) fn management_timed_out(
        &self,
        id: HostId,
        timeout: TimeDelta,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(host) = self.host(id) else {
            return false;
        };
        self.mgmt_nodes.get(&id).is_some_and(|nodes| {
            nodes.iter().any(|n| {
                n.status == NodeStatus::Down && {
                    let since = n
                        .last_fencing_time
                        .or(host.state_changed_time)
                        .unwrap_or_else(go_zero_time);
                    now - since > timeout
                }
            })
        })
    }

    /// Container state per §9.4 (callers skip clients).
    pub(crate) fn container_state(
        &self,
        id: HostId,
        policy: &ScaleDownPolicy,
        now: DateTime<Utc>,
    ) -> ScaleState {
        let Some(host) = self.host(id) else {
            return ScaleState::Healthy;
        };
        let drives = self.drives_of(id);
        if host.container_name.contains("drive")
            && !drives.is_empty()
            && drives.iter().all(|d| !d.should_be_active)
        {
            return ScaleState::Deactivating;
        }
        if matches!(
            host.state,
            HostState::Deactivating | HostState::Removing | HostState::Inactive
        ) {
            return ScaleState::Deactivating;
        }
        if matches!(host.status, HostStatus::Down | HostStatus::Degraded)
            && self.management_timed_out(id, policy.unhealthy_timeout, now)
        {
            return ScaleState::Unhealthy;
        }
        let added_long_ago = host
            .added_time
            .is_none_or(|t| now - t > policy.inactive_drive_grace);
        if drives
            .iter()
            .any(|d| (d.status == DriveStatus::Inactive && added_long_ago) || !d.should_be_active)
        {
            return ScaleState::Unhealthy;
        }
        ScaleState::Healthy
    }

    /// Sort key of one container: state, then most non-ACTIVE drives, then oldest, then id.
    pub(crate) fn container_key(
        &self,
        id: HostId,
        state: ScaleState,
    ) -> (ScaleState, Reverse<usize>, Option<DateTime<Utc>>, HostId) {
        let bad = self
            .drives_of(id)
            .iter()
            .filter(|d| d.status != DriveStatus::Active)
            .count();
        let added = self.host(id).and_then(|h| h.added_time);
        (state, Reverse(bad), added, id)
    }
}
