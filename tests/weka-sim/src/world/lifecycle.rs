//! Deactivation, drive phase-out and removal of containers and drives, and the clock-driven
//! transitions that complete them, settled lazily against [`crate::clock::SimClock`].

use super::{Cluster, DRIVES, DriveStatus, HostState, SimDrive, SimError, World, state_str};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeSet;

fn secs(s: f64) -> TimeDelta {
    TimeDelta::milliseconds((s.max(0.0) * 1000.0) as i64)
}

impl Cluster {
    fn drive_by_uuid(&mut self, uuid: &str) -> Result<&mut SimDrive, SimError> {
        self.drives
            .values_mut()
            .find(|d| d.uuid == uuid)
            .ok_or_else(|| SimError::UnknownDrive(uuid.to_owned()))
    }

    /// Failure domains (machines) whose drives container is ACTIVE, excluding `except`.
    fn active_failure_domains(&self, except: &BTreeSet<i64>) -> usize {
        self.hosts
            .values()
            .filter(|h| {
                h.container_name == DRIVES
                    && h.state == HostState::Active
                    && !except.contains(&h.id)
            })
            .map(|h| h.ip.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    }
}

impl World {
    /// Advances the clock and applies due transitions.
    pub fn advance(&mut self, seconds: f64) {
        self.clock.advance(seconds);
        self.settle();
    }

    /// Applies every transition due at the current time (idempotent).
    pub fn settle(&mut self) {
        let now = self.now();
        for cluster in self.clusters.values_mut() {
            for drive in cluster.drives.values_mut() {
                if drive.status == DriveStatus::PhasingOut
                    && drive.inactive_due.is_some_and(|t| t <= now)
                {
                    drive.status = DriveStatus::Inactive;
                    drive.inactive_due = None;
                }
            }
            for host in cluster.hosts.values_mut() {
                if host.state == HostState::Deactivating
                    && let Some(due) = host.inactive_due.filter(|t| *t <= now)
                {
                    host.state = HostState::Inactive;
                    host.state_changed_time = Some(due);
                    host.inactive_due = None;
                }
            }
            let removed: Vec<i64> = cluster
                .hosts
                .values()
                .filter(|h| {
                    h.state == HostState::Removing && h.remove_due.is_some_and(|t| t <= now)
                })
                .map(|h| h.id)
                .collect();
            for id in removed {
                cluster.hosts.remove(&id);
                cluster.nodes.retain(|_, n| n.host_id != id);
                for drive in cluster.drives.values_mut() {
                    if drive.host_id == id {
                        drive.host_id = -1;
                    }
                }
                for group in &mut cluster.interface_groups {
                    group.ports.retain(|p| p.host_id != id);
                }
            }
        }
        // A machine whose last container left its cluster is no longer a member.
        for machine in self.machines.values_mut() {
            if let Some(guid) = &machine.cluster {
                let member = self
                    .clusters
                    .get(guid)
                    .is_some_and(|c| c.hosts.values().any(|h| h.ip == machine.ip));
                if !member {
                    machine.cluster = None;
                }
            }
        }
    }

    /// `cluster_deactivate_hosts`: the containers go DEACTIVATING and their drives phase out;
    /// with resource validation, refuses to leave fewer failure domains than the stripe needs.
    pub fn deactivate_hosts(
        &mut self,
        guid: &str,
        host_ids: &[i64],
        skip_resource_validation: bool,
    ) -> Result<(), SimError> {
        let now = self.now();
        let (host_delay, drive_delay) = (
            secs(self.config.deactivate_host_secs),
            secs(self.config.deactivate_drive_secs),
        );
        let cluster = self.cluster_mut(guid)?;
        for id in host_ids {
            let host = cluster.host(*id)?;
            if host.state == HostState::Removing {
                return Err(SimError::Conflict(format!(
                    "host HostId<{id}> is being removed"
                )));
            }
        }
        let ids: BTreeSet<i64> = host_ids.iter().copied().collect();
        let needed =
            cluster.stripe_data_drives + cluster.stripe_protection_drives + cluster.hot_spare;
        if !skip_resource_validation && cluster.stripe_data_drives > 0 {
            let remaining = cluster.active_failure_domains(&ids);
            if remaining < needed as usize {
                return Err(SimError::Conflict(format!(
                    "deactivating {host_ids:?} would leave {remaining} failure domains; stripe {}+{} with {} hot spare needs {needed}",
                    cluster.stripe_data_drives, cluster.stripe_protection_drives, cluster.hot_spare
                )));
            }
        }
        for id in &ids {
            if let Some(host) = cluster.hosts.get_mut(id)
                && host.state == HostState::Active
            {
                host.state = HostState::Deactivating;
                host.state_changed_time = Some(now);
                host.inactive_due = Some(now + host_delay);
            }
            for drive in cluster.drives.values_mut() {
                if drive.host_id == *id {
                    phase_out(drive, now, drive_delay);
                }
            }
        }
        self.settle();
        Ok(())
    }

    /// `cluster_deactivate_drives`.
    pub fn deactivate_drives(&mut self, guid: &str, uuids: &[String]) -> Result<(), SimError> {
        let now = self.now();
        let delay = secs(self.config.deactivate_drive_secs);
        let cluster = self.cluster_mut(guid)?;
        for uuid in uuids {
            cluster.drive_by_uuid(uuid)?;
        }
        for uuid in uuids {
            phase_out(cluster.drive_by_uuid(uuid)?, now, delay);
        }
        self.settle();
        Ok(())
    }

    /// `cluster_remove_drives`: only drives that are no longer active.
    pub fn remove_drives(&mut self, guid: &str, uuids: &[String]) -> Result<(), SimError> {
        let cluster = self.cluster_mut(guid)?;
        for uuid in uuids {
            let drive = cluster.drive_by_uuid(uuid)?;
            if drive.status == DriveStatus::Active && drive.host_id >= 0 {
                return Err(SimError::Conflict(format!(
                    "drive {uuid} is ACTIVE; deactivate it first"
                )));
            }
        }
        cluster.drives.retain(|_, d| !uuids.contains(&d.uuid));
        Ok(())
    }

    /// `cluster_remove_host`: only an INACTIVE container; it goes REMOVING, then disappears and
    /// its drives are orphaned (`HostId<INVALID>`).
    pub fn remove_host(&mut self, guid: &str, host_id: i64) -> Result<(), SimError> {
        let now = self.now();
        let delay = secs(self.config.remove_host_secs);
        let cluster = self.cluster_mut(guid)?;
        let host = cluster
            .hosts
            .get_mut(&host_id)
            .ok_or(SimError::UnknownHost(host_id))?;
        match host.state {
            HostState::Inactive => {
                host.state = HostState::Removing;
                host.state_changed_time = Some(now);
                host.remove_due = Some(now + delay);
            }
            HostState::Removing => {}
            other => {
                return Err(SimError::Conflict(format!(
                    "host HostId<{host_id}> is {}; only INACTIVE hosts can be removed",
                    state_str(other)
                )));
            }
        }
        self.settle();
        Ok(())
    }
}

fn phase_out(drive: &mut SimDrive, now: DateTime<Utc>, delay: TimeDelta) {
    drive.should_be_active = false;
    if drive.status == DriveStatus::Active {
        drive.status = DriveStatus::PhasingOut;
        drive.inactive_due = Some(now + delay);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::world::{HostState, SimError, world_with};

    #[test]
    fn remove_requires_inactive_and_orphans_drives() {
        let (mut w, guid) = world_with(2);
        w.scan_drives(&guid, &[]).unwrap();
        assert!(matches!(
            w.remove_host(&guid, 0),
            Err(SimError::Conflict(_))
        ));
        w.deactivate_hosts(&guid, &[0, 1, 2], false).unwrap();
        w.advance(59.0);
        assert_eq!(
            w.cluster(&guid).unwrap().hosts[&0].state,
            HostState::Deactivating
        );
        w.advance(1.0);
        assert_eq!(
            w.cluster(&guid).unwrap().hosts[&0].state,
            HostState::Inactive
        );
        w.remove_host(&guid, 0).unwrap();
        let c = w.cluster(&guid).unwrap();
        assert!(!c.hosts.contains_key(&0));
        assert!(c.drives.values().filter(|d| d.host_id == -1).count() == 2);
        let uuids: Vec<String> = c
            .drives
            .values()
            .filter(|d| d.host_id == -1)
            .map(|d| d.uuid.clone())
            .collect();
        w.remove_drives(&guid, &uuids).unwrap();
        assert_eq!(w.cluster(&guid).unwrap().drives.len(), 2);
    }

    #[test]
    fn resource_validation_keeps_enough_failure_domains() {
        let (mut w, guid) = world_with(3);
        let c = w.cluster_mut(&guid).unwrap();
        c.stripe_data_drives = 1;
        c.stripe_protection_drives = 2;
        assert!(matches!(
            w.deactivate_hosts(&guid, &[0], false),
            Err(SimError::Conflict(_))
        ));
        w.deactivate_hosts(&guid, &[0], true).unwrap();
    }
}
