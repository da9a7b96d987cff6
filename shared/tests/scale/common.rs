//! Test cluster builder shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, unreachable_pub)]

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use weka_shared::domain::scale_down::{
    ActionId, ActionOutcome, ClusterSnapshot, PlannedAction, ScaleDownPlan,
};
use weka_shared::weka::model::*;
use weka_shared::wire::scale::{HostGroupInfoResponse, InstanceRef, Secret};

/// Fixed "now" of every test.
pub fn now() -> DateTime<Utc> {
    "2026-11-10T00:00:00Z".parse().unwrap()
}

/// What a generated machine looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum M {
    Healthy,
    /// DOWN for 3 h with its management node down.
    Unhealthy,
    /// Host state DEACTIVATING.
    Deactivating,
    /// All containers state and status INACTIVE.
    Inactive,
    /// One INACTIVE drive on an old host.
    BadDrive,
    /// DOWN for 30 min only.
    RecentlyDown,
}

/// Which ASG the machine belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asg {
    Backend,
    Nfs,
    None,
}

pub struct Cb {
    pub info: HostGroupInfoResponse,
    pub snap: ClusterSnapshot,
    next_host: i64,
    next_drive: i64,
    pub drives_per_machine: usize,
}

impl Cb {
    pub fn new(desired: i64) -> Self {
        let info = HostGroupInfoResponse {
            username: "admin".to_owned(),
            password: Secret::new("pw"),
            admin_password: Secret::default(),
            weka_backends_desired_capacity: desired,
            nfs_backends_desired_capacity: 0,
            weka_backend_instances: vec![],
            nfs_backend_instances: None,
            nfs_interface_group_instance_ips: None,
            down_backends_removal_timeout: 3 * 3600 * 1_000_000_000,
            backend_ips: vec![],
            role: "backend".to_owned(),
            version: 1,
            lifecycle_waits: None,
        };
        let mut snap = ClusterSnapshot::default();
        snap.status.io_status = "STARTED".to_owned();
        Self {
            info,
            snap,
            next_host: 0,
            next_drive: 0,
            drives_per_machine: 2,
        }
    }

    /// Adds a machine of three containers (drives0/compute0/frontend0); returns their ids.
    pub fn machine(&mut self, ip: &str, kind: M, asg: Asg) -> Vec<HostId> {
        self.machine_aged(ip, kind, asg, TimeDelta::days(5))
    }

    pub fn machine_aged(&mut self, ip: &str, kind: M, asg: Asg, age: TimeDelta) -> Vec<HostId> {
        let iid = format!("i-{}", ip.replace('.', ""));
        match asg {
            Asg::Backend => self.info.weka_backend_instances.push(InstanceRef {
                id: iid.clone(),
                private_ip: ip.to_owned(),
            }),
            Asg::Nfs => self
                .info
                .nfs_backend_instances
                .get_or_insert_with(Vec::new)
                .push(InstanceRef {
                    id: iid.clone(),
                    private_ip: ip.to_owned(),
                }),
            Asg::None => {}
        }
        let mut ids = Vec::new();
        for name in ["drives0", "compute0", "frontend0"] {
            let id = HostId(self.next_host);
            self.next_host += 1;
            let (state, status) = match kind {
                M::Healthy | M::BadDrive => (HostState::Active, HostStatus::Up),
                M::Unhealthy | M::RecentlyDown => (HostState::Active, HostStatus::Down),
                M::Deactivating => (HostState::Deactivating, HostStatus::Up),
                M::Inactive => (HostState::Inactive, HostStatus::Inactive),
            };
            let down_since = match kind {
                M::RecentlyDown => now() - TimeDelta::minutes(30),
                _ => now() - TimeDelta::hours(3) - TimeDelta::minutes(1),
            };
            self.snap.hosts.insert(
                id,
                Host {
                    added_time: Some(now() - age),
                    state_changed_time: Some(down_since),
                    state,
                    status,
                    host_ip: ip.into(),
                    aws: Some(AwsInfo {
                        instance_id: iid.as_str().into(),
                    }),
                    container_name: name.into(),
                    mode: HostMode::Backend,
                    machine_identifier: format!("mid-{ip}").into(),
                    auto_remove_timeout: None,
                },
            );
            let mgmt_down = matches!(kind, M::Unhealthy | M::RecentlyDown);
            self.snap.nodes.insert(
                NodeId(id.0 * 20),
                Node {
                    host_id: id,
                    status: if mgmt_down {
                        NodeStatus::Down
                    } else {
                        NodeStatus::Up
                    },
                    last_fencing_time: None,
                },
            );
            self.snap.nodes.insert(
                NodeId(id.0 * 20 + 1),
                Node {
                    host_id: id,
                    status: NodeStatus::Up,
                    last_fencing_time: None,
                },
            );
            if name == "drives0" {
                for k in 0..self.drives_per_machine {
                    let did = DriveId(self.next_drive);
                    self.next_drive += 1;
                    let status = if (kind == M::BadDrive && k == 0) || kind == M::Inactive {
                        DriveStatus::Inactive
                    } else {
                        DriveStatus::Active
                    };
                    self.snap.drives.insert(
                        did,
                        Drive {
                            host_id: id,
                            status,
                            uuid: format!("uuid-{}", did.0),
                            should_be_active: !matches!(kind, M::Inactive),
                        },
                    );
                }
            }
            ids.push(id);
        }
        ids
    }

    /// Every container of the machine on `ip`.
    fn containers_on(&self, ip: &str) -> Vec<HostId> {
        self.snap
            .hosts
            .iter()
            .filter(|(_, h)| h.host_ip == ip)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Sets the `state_changed_time` of every container of the machine on `ip`.
    pub fn state_changed(&mut self, ip: &str, at: Option<DateTime<Utc>>) {
        for id in self.containers_on(ip) {
            self.snap.hosts.get_mut(&id).unwrap().state_changed_time = at;
        }
    }

    /// Sets the `last_fencing_time` of the management nodes of the machine on `ip`.
    pub fn fenced(&mut self, ip: &str, at: Option<DateTime<Utc>>) {
        let ids = self.containers_on(ip);
        for (_, node) in self
            .snap
            .nodes
            .iter_mut()
            .filter(|(nid, n)| nid.is_management() && ids.contains(&n.host_id))
        {
            node.last_fencing_time = at;
        }
    }

    /// Sets the status of every container of the machine on `ip`.
    pub fn status(&mut self, ip: &str, status: &HostStatus) {
        for id in self.containers_on(ip) {
            self.snap.hosts.get_mut(&id).unwrap().status = status.clone();
        }
    }

    /// Marks the first `count` drives of the machine on `ip` INACTIVE (still meant to be active).
    pub fn inactive_drives(&mut self, ip: &str, count: usize) {
        let ids = self.containers_on(ip);
        for drive in self
            .snap
            .drives
            .values_mut()
            .filter(|d| ids.contains(&d.host_id))
            .take(count)
        {
            drive.status = DriveStatus::Inactive;
        }
    }

    /// Sets the lifecycle state and the health status of one container.
    pub fn container(&mut self, id: HostId, state: HostState, status: HostStatus) {
        let host = self.snap.hosts.get_mut(&id).unwrap();
        host.state = state;
        host.status = status;
    }

    /// Sets the status of the management node of one container.
    pub fn management_node(&mut self, id: HostId, status: NodeStatus) {
        self.snap.nodes.get_mut(&NodeId(id.0 * 20)).unwrap().status = status;
    }

    /// Sets drive `k` (in `DiskId` order) of the machine on `ip`; no-op when it has fewer drives.
    pub fn drive(&mut self, ip: &str, k: usize, status: DriveStatus, should_be_active: bool) {
        let ids = self.containers_on(ip);
        if let Some(drive) = self
            .snap
            .drives
            .values_mut()
            .filter(|d| ids.contains(&d.host_id))
            .nth(k)
        {
            drive.status = status;
            drive.should_be_active = should_be_active;
        }
    }

    /// Adds a client container (state ACTIVE, no drives) on `ip`, e.g. an old client whose IP a
    /// backend reused; returns its id.
    pub fn client(
        &mut self,
        ip: &str,
        status: HostStatus,
        auto_remove_timeout: Option<i64>,
    ) -> HostId {
        let id = HostId(self.next_host);
        self.next_host += 1;
        let node = if status == HostStatus::Up {
            NodeStatus::Up
        } else {
            NodeStatus::Down
        };
        self.snap.hosts.insert(
            id,
            Host {
                added_time: Some(now() - TimeDelta::days(30)),
                state_changed_time: Some(now() - TimeDelta::days(1)),
                state: HostState::Active,
                status,
                host_ip: ip.into(),
                aws: None,
                container_name: "client".into(),
                mode: HostMode::Client,
                machine_identifier: format!("client-{ip}").into(),
                auto_remove_timeout,
            },
        );
        self.snap.nodes.insert(
            NodeId(id.0 * 20),
            Node {
                host_id: id,
                status: node,
                last_fencing_time: None,
            },
        );
        id
    }

    /// Records that the NFS instance on `ip` once joined the interface group (tagged by fetch).
    pub fn was_in_nfs_group(&mut self, ip: &str) {
        self.info
            .nfs_interface_group_instance_ips
            .get_or_insert_with(Default::default)
            .insert(ip.to_owned(), Default::default());
    }

    /// Puts one port of every NFS-group machine into a single NFS interface group.
    pub fn nfs_interface_group(&mut self) {
        let ips: Vec<String> = self
            .info
            .nfs_instances()
            .iter()
            .map(|i| i.private_ip.clone())
            .collect();
        self.nfs_interface_group_of(&ips);
    }

    /// Puts one port (on the first container) of each machine on `ips` into a single NFS
    /// interface group.
    pub fn nfs_interface_group_of(&mut self, ips: &[String]) {
        let ports = ips
            .iter()
            .filter_map(|ip| self.containers_on(ip).first().copied())
            .map(|host_id| InterfaceGroupPort {
                host_id,
                port: "eth1".to_owned(),
                ..InterfaceGroupPort::default()
            })
            .collect();
        self.snap.interface_groups = Ok(vec![InterfaceGroup {
            name: "nfs1".to_owned(),
            group_type: "NFS".to_owned(),
            ports,
            ..InterfaceGroup::default()
        }]);
    }

    pub fn plan_with_policy(
        &self,
        policy: &weka_shared::domain::scale_down::ScaleDownPolicy,
    ) -> Result<
        weka_shared::domain::scale_down::ScaleDownPlan,
        weka_shared::domain::scale_down::PlanError,
    > {
        weka_shared::domain::scale_down::plan(&self.info, &self.snap, policy, now())
    }

    pub fn plan_with(
        &self,
        floor: weka_shared::domain::scale_down::SafetyFloor,
    ) -> Result<
        weka_shared::domain::scale_down::ScaleDownPlan,
        weka_shared::domain::scale_down::PlanError,
    > {
        self.plan_with_policy(&weka_shared::domain::scale_down::ScaleDownPolicy::new(
            floor,
        ))
    }

    pub fn plan(
        &self,
    ) -> Result<
        weka_shared::domain::scale_down::ScaleDownPlan,
        weka_shared::domain::scale_down::PlanError,
    > {
        self.plan_with(weka_shared::domain::scale_down::SafetyFloor::NONE)
    }
}

/// Runs `plan` like the shell: actions in order, an action whose dependency did not succeed is
/// skipped; `outcome` gives each runnable action's result (`None`: not executed, e.g. the Lambda
/// ran out of time).
pub fn execute(
    plan: &ScaleDownPlan,
    mut outcome: impl FnMut(&PlannedAction) -> Option<ActionOutcome>,
) -> BTreeMap<ActionId, ActionOutcome> {
    let mut outcomes = BTreeMap::new();
    for action in plan.actions() {
        if ScaleDownPlan::is_runnable(action, &outcomes)
            && let Some(o) = outcome(action)
        {
            outcomes.insert(action.id, o);
        }
    }
    outcomes
}
