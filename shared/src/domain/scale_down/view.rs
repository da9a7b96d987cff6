//! Joins hosts, drives and nodes into a per-machine view and derives container states (behaviour.md §9.4).
//!
//! Everything is indexed once: containers by their position in `hosts_list` (ascending
//! `HostId`), machines by their position in IP order (one sort of fixed-size IP keys, so that
//! strings are not chased through memory at 10,000 machines). Planning then never looks a
//! container or a machine up by key again, except instances by IP (binary search).

use std::cmp::Reverse;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use chrono::{DateTime, TimeDelta, Utc};

use crate::weka::model::{
    Drive, DriveStatus, Host, HostId, HostState, HostStatus, Node, NodeStatus,
};
use crate::wire::scale::go_zero_time;

use super::{ClusterSnapshot, MAX_CONTAINERS_PER_MACHINE, ScaleDownPolicy, ScaleState};

/// Position of a container in `hosts_list` order.
pub(crate) type HostIx = usize;
/// Position of a machine in IP order.
pub(crate) type MachineIx = usize;

/// A small, fast, non-cryptographic hasher (FxHash) for IP keys; inputs are trusted.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_u128(&mut self, i: u128) {
        let [lo, hi] = [i as u64, (i >> 64) as u64];
        self.add(lo);
        self.add(hi);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
    }
}

/// `HashMap` with [`FxHasher`].
pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// An IP address as a sort key that compares like the string without reading it: its first 16
/// bytes, big-endian and zero-padded. Exact (`full` not needed) for strings of at most 15 bytes
/// without a NUL byte, which covers every IPv4 address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct IpKey {
    prefix: u128,
    /// Whether `prefix` alone decides the order.
    exact: bool,
}

impl IpKey {
    fn new(ip: &str) -> Self {
        let b = ip.as_bytes();
        let mut head = [0u8; 16];
        let n = b.len().min(16);
        head[..n].copy_from_slice(&b[..n]);
        // A NUL byte would tie with the padding.
        let no_nul = head[..n].iter().fold(true, |ok, &c| ok & (c != 0));
        Self {
            prefix: u128::from_be_bytes(head),
            exact: b.len() < 16 && no_nul,
        }
    }
}

/// Orders two IPs with their keys: the strings are read only when the prefixes tie.
fn cmp_ip(a: (IpKey, &str), b: (IpKey, &str)) -> std::cmp::Ordering {
    a.0.prefix.cmp(&b.0.prefix).then_with(|| {
        if a.0.exact && b.0.exact {
            std::cmp::Ordering::Equal
        } else {
            a.1.cmp(b.1)
        }
    })
}

/// One machine: its IP and (the range in `View::machine_hosts` of) its non-client containers,
/// ascending ids.
pub(crate) struct Machine<'a> {
    pub(crate) ip: &'a str,
    hosts: Range<usize>,
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
    /// What the state derivation needs from each container's drives.
    drive_summaries: Vec<DriveSummary>,
    /// Management nodes grouped by owning container, each group in `NodeId` order.
    mgmt_nodes: Vec<&'a Node>,
    /// Range of `mgmt_nodes` per container.
    node_ranges: Vec<Range<usize>>,
    /// Machines with a non-client container, in IP order.
    pub(crate) machines: Vec<Machine<'a>>,
    /// The containers of every machine, machine after machine.
    machine_hosts: Vec<HostIx>,
    /// Machine by IP key (the IP itself only for a long one).
    by_key: FxHashMap<(u128, Option<&'a str>), MachineIx>,
}

/// Bits of [`DriveFlags::of`].
struct DriveFlags;

impl DriveFlags {
    const ACTIVE: u8 = 1;
    const INACTIVE: u8 = 2;
    const DEACTIVATED: u8 = 4;

    /// Status ACTIVE, status INACTIVE, deactivation requested (`!should_be_active`).
    fn of(d: &Drive) -> u8 {
        let mut flags = 0;
        if d.status == DriveStatus::Active {
            flags |= Self::ACTIVE;
        }
        if d.status == DriveStatus::Inactive {
            flags |= Self::INACTIVE;
        }
        if !d.should_be_active {
            flags |= Self::DEACTIVATED;
        }
        flags
    }
}

/// Counts over one container's drives.
#[derive(Debug, Default, Clone, Copy)]
struct DriveSummary {
    count: u32,
    /// Status ACTIVE.
    active: u32,
    /// Status INACTIVE.
    inactive: u32,
    /// Deactivation requested.
    deactivated: u32,
}

impl DriveSummary {
    fn of(drives: &[(HostId, u8, &Drive)]) -> Self {
        drives
            .iter()
            .fold(Self::default(), |mut s, &(_, flags, _)| {
                s.count += 1;
                s.active += u32::from(flags & DriveFlags::ACTIVE != 0);
                s.inactive += u32::from(flags & DriveFlags::INACTIVE != 0);
                s.deactivated += u32::from(flags & DriveFlags::DEACTIVATED != 0);
                s
            })
    }
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

        // One pass over the drives, in map order, reads what the states need; the sorts then move
        // fixed-size entries and never follow a pointer. Stable sorts keep `DiskId` / `NodeId`
        // order within one container.
        let mut by_owner: Vec<(HostId, u8, &'a Drive)> = cluster
            .drives
            .values()
            .map(|d| (d.host_id, DriveFlags::of(d), d))
            .collect();
        by_owner.sort_by_key(|e| e.0);
        let drive_ranges = ranges_by_owner(&ids, &by_owner, |e| e.0);
        let drive_summaries = drive_ranges
            .iter()
            .map(|r| DriveSummary::of(by_owner.get(r.clone()).unwrap_or_default()))
            .collect();
        let drives = by_owner.into_iter().map(|e| e.2).collect();
        let mut mgmt_nodes: Vec<(HostId, &'a Node)> = cluster
            .nodes
            .iter()
            .filter(|(id, _)| id.is_management())
            .map(|(_, n)| (n.host_id, n))
            .collect();
        mgmt_nodes.sort_by_key(|e| e.0);
        let node_ranges = ranges_by_owner(&ids, &mgmt_nodes, |e| e.0);
        let mgmt_nodes = mgmt_nodes.into_iter().map(|e| e.1).collect();

        // Group the containers by IP in first-appearance order (the key is read from each IP once;
        // a long IP keeps its string in the key), then put the machines in IP order.
        // Sized for the usual full machines, so that the map does not regrow on the way.
        let machines_guess = n.div_ceil(MAX_CONTAINERS_PER_MACHINE);
        let mut by_key: FxHashMap<(u128, Option<&'a str>), MachineIx> =
            FxHashMap::with_capacity_and_hasher(machines_guess, Default::default());
        let mut found: Vec<(IpKey, &'a str, usize)> = Vec::with_capacity(machines_guess);
        let mut found_of: Vec<Option<MachineIx>> = vec![None; n];
        for (ix, h) in hosts.iter().enumerate() {
            if h.is_client() || h.host_ip.is_empty() {
                continue;
            }
            let ip = h.host_ip.as_str();
            let key = IpKey::new(ip);
            let slot = *by_key
                .entry((key.prefix, (!key.exact).then_some(ip)))
                .or_insert_with(|| {
                    found.push((key, ip, 0));
                    found.len() - 1
                });
            found[slot].2 += 1;
            found_of[ix] = Some(slot);
        }
        let mut order: Vec<MachineIx> = (0..found.len()).collect();
        order.sort_unstable_by(|&a, &b| cmp_ip((found[a].0, found[a].1), (found[b].0, found[b].1)));
        let mut rank = vec![0; found.len()];
        let mut machines: Vec<Machine<'a>> = Vec::with_capacity(found.len());
        let mut start = 0;
        for (m, &slot) in order.iter().enumerate() {
            let (_, ip, count) = found[slot];
            rank[slot] = m;
            machines.push(Machine {
                ip,
                hosts: start..start,
            });
            start += count;
        }
        // Containers in ascending position within each machine.
        let mut machine_hosts = vec![0; start];
        let mut machine_of = vec![None; n];
        for (ix, slot) in found_of.iter().enumerate() {
            if let Some(&m) = slot.as_ref().and_then(|&s| rank.get(s)) {
                let range = &mut machines[m].hosts;
                machine_hosts[range.end] = ix;
                range.end += 1;
                machine_of[ix] = Some(m);
            }
        }
        for m in by_key.values_mut() {
            *m = rank[*m];
        }
        Self {
            ids,
            hosts,
            machine_of,
            drives,
            drive_ranges,
            drive_summaries,
            mgmt_nodes,
            node_ranges,
            machines,
            machine_hosts,
            by_key,
        }
    }

    /// The machine with this IP, if it has a non-client container.
    pub(crate) fn machine(&self, ip: &str) -> Option<MachineIx> {
        let key = IpKey::new(ip);
        self.by_key
            .get(&(key.prefix, (!key.exact).then_some(ip)))
            .copied()
    }

    /// The non-client containers of machine `m`, ascending ids.
    pub(crate) fn hosts_of(&self, m: MachineIx) -> &[HostIx] {
        self.machines
            .get(m)
            .and_then(|machine| self.machine_hosts.get(machine.hosts.clone()))
            .unwrap_or_default()
    }

    /// Drives whose owner is `HostId<INVALID>`, in `DiskId` order.
    pub(crate) fn orphan_drives(&self) -> &[&'a Drive] {
        let n = self.drives.partition_point(|d| d.host_id.is_invalid());
        self.drives.get(..n).unwrap_or_default()
    }

    pub(crate) fn drives_of(&self, ix: HostIx) -> &[&'a Drive] {
        &self.drives[self.drive_ranges[ix].clone()]
    }

    fn mgmt_nodes_of(&self, ix: HostIx) -> &[&'a Node] {
        &self.mgmt_nodes[self.node_ranges[ix].clone()]
    }

    /// Whether every container of the machine is in state INACTIVE.
    pub(crate) fn all_inactive(&self, m: MachineIx) -> bool {
        self.hosts_of(m)
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
        let drives = self.drive_summaries.get(ix).copied().unwrap_or_default();
        // The name is read only for a container whose drives are all being deactivated.
        if drives.count > 0
            && drives.deactivated == drives.count
            && host.container_name.contains("drive")
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
        // The age is computed only for a container with an INACTIVE drive (few of them).
        let added_long_ago = || {
            host.added_time
                .is_none_or(|t| now - t > policy.inactive_drive_grace)
        };
        if drives.deactivated > 0 || (drives.inactive > 0 && added_long_ago()) {
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
            .drive_summaries
            .get(ix)
            .map_or(0, |d| d.count - d.active) as usize;
        (state, Reverse(bad), self.hosts[ix].added_time, self.ids[ix])
    }
}
