//! Machines and their local containers, cluster creation, containers joining a cluster, and the
//! drives they add.

use super::{
    COMPUTE, Cluster, DRIVES, DriveStatus, FRONTEND, HostState, LocalContainer, Machine,
    MachineSpec, SimDrive, SimError, SimHost, SimNode, SimUser, World,
};
use std::collections::{BTreeMap, BTreeSet};

/// Base port of a local container by name; the CLI uses it too when `--base-port` is absent.
pub(crate) fn default_port(name: &str) -> u16 {
    match name {
        COMPUTE => 15000,
        FRONTEND => 16000,
        _ => 14000,
    }
}

fn container_for_port(port: u16) -> Option<&'static str> {
    match port {
        14000 => Some(DRIVES),
        15000 => Some(COMPUTE),
        16000 => Some(FRONTEND),
        _ => None,
    }
}

impl World {
    /// Registers (or replaces) a machine as installed, with its local containers set up.
    pub fn register_machine(&mut self, spec: MachineSpec) -> Result<&Machine, SimError> {
        if spec.ip.is_empty() {
            return Err(SimError::Invalid("machine ip is required".to_owned()));
        }
        if self
            .machines
            .get(&spec.ip)
            .is_some_and(|m| m.cluster.is_some())
        {
            return Err(SimError::Conflict(format!(
                "machine {} is part of a cluster",
                spec.ip
            )));
        }
        let names = spec
            .containers
            .unwrap_or_else(|| vec![DRIVES.to_owned(), COMPUTE.to_owned(), FRONTEND.to_owned()]);
        let nvme_devices = spec
            .nvme_devices
            .unwrap_or_else(|| self.config.nvme_devices.clone());
        let signed_devices = if spec.signed.unwrap_or(true) {
            nvme_devices.iter().cloned().collect()
        } else {
            BTreeSet::new()
        };
        let machine = Machine {
            instance_id: spec
                .instance_id
                .unwrap_or_else(|| format!("i-sim-{}", spec.ip.replace('.', ""))),
            hostname: spec
                .hostname
                .unwrap_or_else(|| format!("ip-{}", spec.ip.replace('.', "-"))),
            up: true,
            down_since: None,
            containers: names
                .iter()
                .map(|n| {
                    let c = LocalContainer {
                        name: n.clone(),
                        base_port: default_port(n),
                        cores: 1,
                    };
                    (n.clone(), c)
                })
                .collect(),
            nvme_devices,
            signed_devices,
            cluster: None,
            ip: spec.ip.clone(),
        };
        self.machines.insert(spec.ip.clone(), machine);
        self.machine(&spec.ip)
    }

    /// A bare machine (no containers, unsigned devices) unless it exists; used by the CLI.
    pub fn ensure_machine(
        &mut self,
        ip: &str,
        instance_id: Option<&str>,
        hostname: Option<&str>,
    ) -> Result<(), SimError> {
        if !self.machines.contains_key(ip) {
            self.register_machine(MachineSpec {
                ip: ip.to_owned(),
                instance_id: instance_id.map(str::to_owned),
                hostname: hostname.map(str::to_owned),
                containers: Some(Vec::new()),
                nvme_devices: None,
                signed: Some(false),
            })?;
        }
        Ok(())
    }

    /// A machine by IP.
    pub fn machine(&self, ip: &str) -> Result<&Machine, SimError> {
        self.machines
            .get(ip)
            .ok_or_else(|| SimError::UnknownMachine(ip.to_owned()))
    }

    fn machine_mut(&mut self, ip: &str) -> Result<&mut Machine, SimError> {
        self.machines
            .get_mut(ip)
            .ok_or_else(|| SimError::UnknownMachine(ip.to_owned()))
    }

    /// Sets up (or replaces) a local container on a machine.
    pub fn setup_local_container(
        &mut self,
        ip: &str,
        container: LocalContainer,
    ) -> Result<(), SimError> {
        let machine = self.machine_mut(ip)?;
        machine.containers.insert(container.name.clone(), container);
        Ok(())
    }

    /// Removes a machine's local containers (`weka local rm`); cluster membership is kept.
    pub fn remove_local_containers(
        &mut self,
        ip: &str,
        name: Option<&str>,
    ) -> Result<(), SimError> {
        let machine = self.machine_mut(ip)?;
        match name {
            Some(n) => {
                machine.containers.remove(n);
            }
            None => machine.containers.clear(),
        }
        Ok(())
    }

    /// Marks a device signed (`weka_sign_drive`).
    pub fn sign_device(&mut self, ip: &str, device: &str) -> Result<(), SimError> {
        let machine = self.machine_mut(ip)?;
        if !machine.nvme_devices.iter().any(|d| d == device) {
            return Err(SimError::Invalid(format!(
                "no device {device} on machine {ip}"
            )));
        }
        machine.signed_devices.insert(device.to_owned());
        Ok(())
    }

    /// Marks a machine down (hosts DOWN, nodes DOWN and fenced) or back up.
    pub fn set_machine_up(&mut self, ip: &str, up: bool) -> Result<(), SimError> {
        let now = self.now();
        let machine = self.machine_mut(ip)?;
        if machine.up == up {
            return Ok(());
        }
        machine.up = up;
        machine.down_since = if up { None } else { Some(now) };
        let ip = machine.ip.clone();
        let guid = machine.cluster.clone();
        if let Some(cluster) = guid.and_then(|g| self.clusters.get_mut(&g)) {
            let ids: BTreeSet<i64> = cluster
                .hosts
                .values()
                .filter(|h| h.ip == ip)
                .map(|h| h.id)
                .collect();
            for node in cluster.nodes.values_mut() {
                if ids.contains(&node.host_id) {
                    node.up = up;
                    if up {
                        node.up_since = Some(now);
                    } else {
                        node.last_fencing_time = Some(now);
                        node.up_since = None;
                    }
                }
            }
        }
        Ok(())
    }

    /// `weka cluster create <names> --host-ips <ip:port,...>`: each pair names a local container
    /// of an installed machine (by base port, else by the name's suffix).
    pub fn create_cluster(
        &mut self,
        names: &[String],
        host_ips: &[String],
        admin_password: Option<&str>,
    ) -> Result<String, SimError> {
        if names.is_empty() || names.len() != host_ips.len() {
            return Err(SimError::Invalid(format!(
                "{} container names but {} host ips",
                names.len(),
                host_ips.len()
            )));
        }
        let mut members = Vec::new();
        for (name, host_ip) in names.iter().zip(host_ips) {
            let (ip, port) = match host_ip.rsplit_once(':') {
                Some((ip, port)) => (
                    ip,
                    Some(
                        port.parse::<u16>()
                            .map_err(|_| SimError::Invalid(format!("bad port in {host_ip:?}")))?,
                    ),
                ),
                None => (host_ip.as_str(), None),
            };
            let machine = self.machine(ip)?;
            if !machine.up {
                return Err(SimError::Conflict(format!("machine {ip} is down")));
            }
            if machine.cluster.is_some() {
                return Err(SimError::Conflict(format!(
                    "machine {ip} already belongs to a cluster"
                )));
            }
            let container = port
                .and_then(|p| machine.containers.values().find(|c| c.base_port == p))
                .or_else(|| {
                    let suffix = name.rsplit('-').next().unwrap_or(name);
                    machine.containers.get(suffix)
                })
                .or_else(|| {
                    port.and_then(container_for_port)
                        .and_then(|n| machine.containers.get(n))
                })
                .ok_or_else(|| {
                    SimError::Conflict(format!(
                        "no local container for {name} at {host_ip} (run weka local setup container)"
                    ))
                })?
                .clone();
            members.push((ip.to_owned(), container));
        }
        let now = self.now();
        let serial = self.next_serial();
        let guid = format!("5e1f0000-0000-4000-8000-{serial:012x}");
        let mut users = self.default_users.clone();
        users.insert(
            "admin".to_owned(),
            SimUser {
                password: admin_password.unwrap_or("admin").to_owned(),
                role: "clusteradmin".to_owned(),
            },
        );
        let cluster = Cluster {
            guid: guid.clone(),
            name: "wekacluster".to_owned(),
            io_status: "STOPPED".to_owned(),
            io_status_changed_time: now,
            upgrade: String::new(),
            stripe_data_drives: 0,
            stripe_protection_drives: 0,
            hot_spare: 0,
            bucket_raft_size: 0,
            cloud_enabled: false,
            users,
            hosts: BTreeMap::new(),
            drives: BTreeMap::new(),
            nodes: BTreeMap::new(),
            interface_groups: Vec::new(),
            overrides: BTreeMap::new(),
            filesystems: Vec::new(),
            smb: None,
            s3: None,
            events: Vec::new(),
            calls: Vec::new(),
            created_time: now,
            next_host: 0,
            next_drive: 0,
            next_override: 1,
            tokens: BTreeMap::new(),
            refresh_tokens: BTreeMap::new(),
        };
        self.clusters.insert(guid.clone(), cluster);
        for (ip, container) in members {
            self.add_host(&guid, &ip, &container)?;
        }
        Ok(guid)
    }

    /// Adds a machine's local container to a cluster as a new ACTIVE container.
    pub fn add_host(
        &mut self,
        guid: &str,
        ip: &str,
        container: &LocalContainer,
    ) -> Result<i64, SimError> {
        let now = self.now();
        let machine = self.machine(ip)?.clone();
        if machine.cluster.as_deref().is_some_and(|g| g != guid) {
            return Err(SimError::Conflict(format!(
                "machine {ip} belongs to another cluster"
            )));
        }
        let cluster = self.cluster_mut(guid)?;
        if let Some(existing) = cluster
            .hosts
            .values()
            .find(|h| h.ip == ip && h.container_name == container.name)
        {
            // Re-joining an existing container is a no-op, as for a restarted container.
            return Ok(existing.id);
        }
        let id = cluster.next_host;
        cluster.next_host += 1;
        let host = SimHost {
            id,
            uid: format!(
                "{:08x}-{:04x}-4a00-8000-{:012x}",
                id, container.base_port, id
            ),
            ip: ip.to_owned(),
            hostname: machine.hostname.clone(),
            container_name: container.name.clone(),
            port: container.base_port,
            cores: container.cores,
            mode: "backend".to_owned(),
            state: HostState::Active,
            added_time: now,
            state_changed_time: None,
            machine_identifier: format!("ec2-{}", machine.instance_id),
            instance_id: machine.instance_id.clone(),
            failure_domain: format!("FD-{}", machine.ip.replace('.', "-")),
            inactive_due: None,
            remove_due: None,
        };
        cluster.hosts.insert(id, host);
        for k in 0..=i64::from(container.cores.min(19)) {
            let node_id = id * 20 + k;
            cluster.nodes.insert(
                node_id,
                SimNode {
                    id: node_id,
                    host_id: id,
                    up: machine.up,
                    last_fencing_time: None,
                    up_since: machine.up.then_some(now),
                },
            );
        }
        let m = self.machine_mut(ip)?;
        m.cluster = Some(guid.to_owned());
        Ok(id)
    }

    /// Joins a machine's local containers (all, or the named one) to a cluster: the cluster of
    /// the first `join_ips` member, else `selector`, else the only cluster.
    pub fn join(
        &mut self,
        ip: &str,
        container: Option<&str>,
        join_ips: &[String],
        selector: Option<&str>,
    ) -> Result<Vec<i64>, SimError> {
        let guid = match join_ips
            .iter()
            .find_map(|j| self.machines.get(j).and_then(|m| m.cluster.clone()))
        {
            Some(g) => g,
            None => self.cluster_guid(selector)?,
        };
        let machine = self.machine(ip)?.clone();
        if !machine.up {
            return Err(SimError::Conflict(format!("machine {ip} is down")));
        }
        let containers: Vec<LocalContainer> =
            match container {
                Some(n) => {
                    vec![machine.containers.get(n).cloned().ok_or_else(|| {
                        SimError::Invalid(format!("no local container {n} on {ip}"))
                    })?]
                }
                None => machine.containers.values().cloned().collect(),
            };
        if containers.is_empty() {
            return Err(SimError::Conflict(format!(
                "machine {ip} has no local containers to join"
            )));
        }
        containers
            .iter()
            .map(|c| self.add_host(&guid, ip, c))
            .collect()
    }

    /// Adds devices to the drives container of `host_id`'s machine (`weka cluster drive add`).
    pub fn add_drives(
        &mut self,
        guid: &str,
        host_id: i64,
        devices: &[String],
    ) -> Result<Vec<String>, SimError> {
        let now = self.now();
        let size = self.config.drive_size_bytes;
        let cluster = self.cluster_mut(guid)?;
        let host = cluster.host(host_id)?.clone();
        let drives_host = cluster
            .hosts
            .values()
            .find(|h| h.ip == host.ip && h.container_name == DRIVES)
            .map_or(host.id, |h| h.id);
        let mut added = Vec::new();
        for device in devices {
            let present = cluster
                .drives
                .values()
                .any(|d| d.host_id == drives_host && &d.device_path == device);
            if present {
                continue;
            }
            let id = cluster.next_drive;
            cluster.next_drive += 1;
            let uuid = format!("d71e0000-{drives_host:04x}-4000-8000-{id:012x}");
            cluster.drives.insert(
                id,
                SimDrive {
                    id,
                    host_id: drives_host,
                    uuid: uuid.clone(),
                    device_path: device.clone(),
                    status: DriveStatus::Active,
                    should_be_active: true,
                    size_bytes: size,
                    added_time: now,
                    inactive_due: None,
                },
            );
            added.push(uuid);
        }
        Ok(added)
    }

    /// `weka cluster drive scan [ids]`: adds the signed devices of each container's machine
    /// (any container of a machine scans that machine's drives container); all when empty.
    pub fn scan_drives(&mut self, guid: &str, host_ids: &[i64]) -> Result<Vec<String>, SimError> {
        let cluster = self.cluster(guid)?;
        let ids: Vec<i64> = if host_ids.is_empty() {
            cluster
                .hosts
                .values()
                .filter(|h| h.container_name == DRIVES)
                .map(|h| h.id)
                .collect()
        } else {
            host_ids.to_vec()
        };
        let mut work = Vec::new();
        for id in ids {
            let host = cluster.host(id)?;
            let machine = self.machine(&host.ip)?;
            if !machine.up {
                return Err(SimError::Conflict(format!(
                    "host HostId<{id}> is down ({})",
                    host.ip
                )));
            }
            work.push((
                id,
                machine.signed_devices.iter().cloned().collect::<Vec<_>>(),
            ));
        }
        let mut added = Vec::new();
        for (id, devices) in work {
            added.extend(self.add_drives(guid, id, &devices)?);
        }
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::world::world_with;

    #[test]
    fn cluster_create_assigns_hosts_nodes_and_membership() {
        let (mut w, guid) = world_with(2);
        let c = w.cluster(&guid).unwrap();
        assert_eq!(c.hosts.len(), 6);
        assert_eq!(c.nodes.len(), 12);
        assert!(c.nodes.contains_key(&20) && c.nodes.contains_key(&21));
        assert_eq!(w.reachable_cluster("10.0.0.10"), Some(guid.clone()));
        let added = w.scan_drives(&guid, &[]).unwrap();
        assert_eq!(added.len(), 4);
        assert!(
            w.scan_drives(&guid, &[]).unwrap().is_empty(),
            "scan is idempotent"
        );
    }
}
