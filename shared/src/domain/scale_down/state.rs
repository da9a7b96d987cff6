//! Joins hosts, drives and nodes into a per-machine view and derives container states (behaviour.md §9.4).
//!
//! Everything is indexed once, in linear time: containers by their position in `hosts_list`
//! (ascending `HostId`), machines by their position in IP order. Planning then never looks a
//! container or a machine up by key again.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use chrono::{DateTime, TimeDelta, Utc};

use crate::weka::model::{
    Drive, DriveStatus, Host, HostId, HostState, HostStatus, Node, NodeStatus,
};
use crate::wire::scale::go_zero_time;

use super::{ClusterSnapshot, ScaleDownPolicy, ScaleState};

/// Position of a container in `hosts_list` order.
pub(crate) type HostIx = usize;
/// Position of a machine in IP order.
pub(crate) type MachineIx = usize;

/// A small, fast, non-cryptographic hasher (FxHash) for IP lookups; inputs are trusted.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// `HashMap` with [`FxHasher`].
pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// One machine: its IP and its non-client containers, ascending ids.
pub(crate) struct Machine<'a> {
    pub(crate) ip: &'a str,
    pub(crate) hosts: Vec<HostIx>,
}

/// Hosts with their drives and management nodes attached, grouped by machine IP.
pub(crate) struct View<'a> {
    /// Container ids, ascending (`hosts_list` order).
    pub(crate) ids: Vec<HostId>,
    /// Containers, parallel to `ids`.
    pub(crate) hosts: Vec<&'a Host>,
    /// Machine of each container (`None` for clients and containers without IP).
    pub(crate) machine_of: Vec<Option<MachineIx>>,
    /// Drives grouped by owning container, each group in `DiskId` order.
    drives: Vec<&'a Drive>,
    /// Range of `drives` per container.
    drive_ranges: Vec<Range<usize>>,
    /// Management nodes grouped by owning container, each group in `NodeId` order.
    mgmt_nodes: Vec<&'a Node>,
    /// Range of `mgmt_nodes` per container.
    node_ranges: Vec<Range<usize>>,
    /// Machines with a non-client container, in IP order.
    pub(crate) machines: Vec<Machine<'a>>,
    /// Machine by IP.
    machine_by_ip: FxHashMap<&'a str, MachineIx>,
}

/// Groups `items` (stable-sorted by owner) into one range per id of `ids` (both ascending).
fn ranges_by_owner<T>(
    ids: &[HostId],
    items: &[T],
    owner: impl Fn(&T) -> HostId,
) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(ids.len());
    let mut pos = 0;
    for id in ids {
        while pos < items.len() && owner(&items[pos]) < *id {
            pos += 1;
        }
        let start = pos;
        while pos < items.len() && owner(&items[pos]) == *id {
            pos += 1;
        }
        out.push(start..pos);
    }
    out
}

impl<'a> View<'a> {
    pub(crate) fn new(cluster: &'a ClusterSnapshot) -> Self {
        let n = cluster.hosts.len();
        let mut ids = Vec::with_capacity(n);
        let mut hosts = Vec::with_capacity(n);
        for (id, h) in &cluster.hosts {
            ids.push(*id);
            hosts.push(h);
        }

        // Stable sorts keep `DiskId` / `NodeId` order within one container.
        let mut drives: Vec<&'a Drive> = cluster.drives.values().collect();
        drives.sort_by_key(|d| d.host_id);
        let drive_ranges = ranges_by_owner(&ids, &drives, |d| d.host_id);
        let mut mgmt_nodes: Vec<&'a Node> = cluster
            .nodes
            .iter()
            .filter(|(id, _)| id.is_management())
            .map(|(_, n)| n)
            .collect();
        mgmt_nodes.sort_by_key(|n| n.host_id);
        let node_ranges = ranges_by_owner(&ids, &mgmt_nodes, |n| n.host_id);

        // Group by IP in first-appearance order, then put the machines in IP order.
        let mut machine_by_ip: FxHashMap<&'a str, MachineIx> = FxHashMap::default();
        let mut machines: Vec<Machine<'a>> = Vec::new();
        for (ix, h) in hosts.iter().enumerate() {
            if h.is_client() || h.host_ip.is_empty() {
                continue;
            }
            let m = *machine_by_ip.entry(h.host_ip.as_str()).or_insert_with(|| {
                machines.push(Machine {
                    ip: h.host_ip.as_str(),
                    hosts: Vec::with_capacity(3),
                });
                machines.len() - 1
            });
            machines[m].hosts.push(ix);
        }
        machines.sort_unstable_by(|a, b| a.ip.cmp(b.ip));
        let mut machine_of = vec![None; n];
        for (m, machine) in machines.iter().enumerate() {
            if let Some(slot) = machine_by_ip.get_mut(machine.ip) {
                *slot = m;
            }
            for &ix in &machine.hosts {
                machine_of[ix] = Some(m);
            }
        }
        Self {
            ids,
            hosts,
            machine_of,
            drives,
            drive_ranges,
            mgmt_nodes,
            node_ranges,
            machines,
            machine_by_ip,
        }
    }

    /// The machine with this IP, if it has a non-client container.
    pub(crate) fn machine(&self, ip: &str) -> Option<MachineIx> {
        self.machine_by_ip.get(ip).copied()
    }

    pub(crate) fn drives_of(&self, ix: HostIx) -> &[&'a Drive] {
        &self.drives[self.drive_ranges[ix].clone()]
    }

    fn mgmt_nodes_of(&self, ix: HostIx) -> &[&'a Node] {
        &self.mgmt_nodes[self.node_ranges[ix].clone()]
    }

    /// Whether every container of the machine is in state INACTIVE.
    pub(crate) fn all_inactive(&self, m: MachineIx) -> bool {
        self.machines[m]
            .hosts
            .iter()
            .all(|&ix| self.hosts[ix].state == HostState::Inactive)
    }

    /// Some management node of the container is DOWN for longer than `timeout`, measured from its
    /// last fencing time, else from the container's state change (null counts as long ago).
    pub(crate) fn management_timed_out(
        &self,
        ix: HostIx,
        timeout: TimeDelta,
        now: DateTime<Utc>,
    ) -> bool {
        let host = self.hosts[ix];
        self.mgmt_nodes_of(ix).iter().any(|n| {
            n.status == NodeStatus::Down && {
                let since = n
                    .last_fencing_time
                    .or(host.state_changed_time)
                    .unwrap_or_else(go_zero_time);
                now - since > timeout
            }
        })
    }

    /// Container state per §9.4 (callers skip clients).
    pub(crate) fn container_state(
        &self,
        ix: HostIx,
        policy: &ScaleDownPolicy,
        now: DateTime<Utc>,
    ) -> ScaleState {
        let host = self.hosts[ix];
        let drives = self.drives_of(ix);
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
            && self.management_timed_out(ix, policy.unhealthy_timeout, now)
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
        ix: HostIx,
        state: ScaleState,
    ) -> (ScaleState, Reverse<usize>, Option<DateTime<Utc>>, HostId) {
        let bad = self
            .drives_of(ix)
            .iter()
            .filter(|d| d.status != DriveStatus::Active)
            .count();
        (state, Reverse(bad), self.hosts[ix].added_time, self.ids[ix])
    }
}
