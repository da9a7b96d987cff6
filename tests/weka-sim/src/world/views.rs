//! What the JSON-RPC API, the CLI and `GET /_sim/state` read: the WEKA result shapes of the
//! listings and `status`, and the WEKA spellings of ids and states.

use super::{DriveStatus, HostState, NVME_MODEL, SimError, SimHost, World};
use serde_json::{Map, Value, json};

/// Formats a typed id (`HostId<3>`, `HostId<INVALID>`).
pub fn typed_id(kind: &str, n: i64) -> String {
    if n < 0 {
        format!("{kind}<INVALID>")
    } else {
        format!("{kind}<{n}>")
    }
}

/// Parses `HostId<3>`, `3` or a JSON number into a container id.
pub fn parse_host_id(v: &Value) -> Result<i64, SimError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| SimError::Invalid(format!("bad host id {n}"))),
        Value::String(s) => parse_host_id_str(s),
        other => Err(SimError::Invalid(format!("bad host id {other}"))),
    }
}

/// Parses `HostId<3>` or `3`.
pub fn parse_host_id_str(s: &str) -> Result<i64, SimError> {
    let inner = s
        .strip_prefix("HostId<")
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(s);
    inner
        .trim()
        .parse::<i64>()
        .map_err(|_| SimError::Invalid(format!("bad host id {s:?}")))
}

/// WEKA spelling of a host state.
pub fn state_str(s: HostState) -> &'static str {
    match s {
        HostState::Active => "ACTIVE",
        HostState::Deactivating => "DEACTIVATING",
        HostState::Removing => "REMOVING",
        HostState::Inactive => "INACTIVE",
    }
}

/// WEKA spelling of a drive status.
pub fn drive_str(s: DriveStatus) -> &'static str {
    match s {
        DriveStatus::Active => "ACTIVE",
        DriveStatus::PhasingOut => "PHASING_OUT",
        DriveStatus::Inactive => "INACTIVE",
    }
}

impl World {
    fn host_status(&self, host: &SimHost) -> &'static str {
        let up = self.machines.get(&host.ip).is_none_or(|m| m.up);
        match (host.state, up) {
            (HostState::Inactive, _) => "INACTIVE",
            (_, false) => "DOWN",
            _ => "UP",
        }
    }

    /// `hosts_list` result.
    pub fn hosts_list(&self, guid: &str) -> Result<Value, SimError> {
        let cluster = self.cluster(guid)?;
        let mut out = Map::new();
        for h in cluster.hosts.values() {
            let status = self.host_status(h);
            let aws = if status == "DOWN" && self.config.omit_aws_when_down {
                Value::Null
            } else {
                json!({"instance_id": h.instance_id, "instance_type": self.config.instance_type,
                       "availability_zone": self.config.availability_zone})
            };
            out.insert(
                typed_id("HostId", h.id),
                json!({
                    "uid": h.uid, "host_id": typed_id("HostId", h.id),
                    "added_time": h.added_time, "state_changed_time": h.state_changed_time,
                    "state": state_str(h.state), "status": status,
                    "host_ip": h.ip, "ips": [h.ip], "hostname": h.hostname,
                    "aws": aws, "container_name": h.container_name, "mode": h.mode,
                    "machine_identifier": h.machine_identifier, "auto_remove_timeout": null,
                    "mgmt_port": h.port, "cores": h.cores, "failure_domain": h.failure_domain,
                    "sw_version": self.config.release, "is_dedicated": true,
                }),
            );
        }
        Ok(Value::Object(out))
    }

    /// `disks_list` result.
    pub fn disks_list(&self, guid: &str) -> Result<Value, SimError> {
        let cluster = self.cluster(guid)?;
        let mut out = Map::new();
        for d in cluster.drives.values() {
            let host = cluster.hosts.get(&d.host_id);
            out.insert(
                typed_id("DiskId", d.id),
                json!({
                    "host_id": typed_id("HostId", d.host_id), "status": drive_str(d.status),
                    "uuid": d.uuid, "should_be_active": d.should_be_active,
                    "device_path": d.device_path, "size_bytes": d.size_bytes,
                    "model": NVME_MODEL, "added_time": d.added_time, "removed_time": null,
                    "hostname": host.map(|h| h.hostname.clone()),
                    "failure_domain": host.map(|h| h.failure_domain.clone()),
                    "attachment": "OK",
                }),
            );
        }
        Ok(Value::Object(out))
    }

    /// `nodes_list` result.
    pub fn nodes_list(&self, guid: &str) -> Result<Value, SimError> {
        let cluster = self.cluster(guid)?;
        let mut out = Map::new();
        for n in cluster.nodes.values() {
            let roles = if n.id % 20 == 0 {
                json!(["MANAGEMENT"])
            } else {
                json!(["COMPUTE"])
            };
            out.insert(
                typed_id("NodeId", n.id),
                json!({
                    "host_id": typed_id("HostId", n.host_id),
                    "status": if n.up { "UP" } else { "DOWN" },
                    "last_fencing_time": n.last_fencing_time, "up_since": n.up_since,
                    "roles": roles,
                }),
            );
        }
        Ok(Value::Object(out))
    }

    /// `interface_group_list` result.
    pub fn interface_group_list(&self, guid: &str) -> Result<Value, SimError> {
        let cluster = self.cluster(guid)?;
        let groups: Vec<Value> = cluster
            .interface_groups
            .iter()
            .map(|g| {
                let ports: Vec<Value> = g
                    .ports
                    .iter()
                    .map(|p| {
                        let uid = cluster.hosts.get(&p.host_id).map(|h| h.uid.clone());
                        json!({"host_uid": uid, "host_id": typed_id("HostId", p.host_id),
                               "port": p.port, "status": "OK"})
                    })
                    .collect();
                json!({"name": g.name, "uid": g.uid, "type": g.group_type,
                       "subnet_mask": "255.255.240.0", "gateway": "", "status": "OK",
                       "ips": g.ips, "allow_manage_gids": true, "ports": ports})
            })
            .collect();
        Ok(Value::Array(groups))
    }

    /// `manual_override_list` result.
    pub fn manual_override_list(&self, guid: &str) -> Result<Value, SimError> {
        let cluster = self.cluster(guid)?;
        let mut out = Map::new();
        for (id, o) in &cluster.overrides {
            out.insert(
                format!("ManualOverrideId<{id}>"),
                json!({"key": o.key, "value": o.value, "enabled": o.enabled, "forced": false,
                       "comment": "", "bucket_id": null, "override_id": id,
                       "time_created": o.time_created, "time_enabled": o.time_created}),
            );
        }
        Ok(Value::Object(out))
    }

    /// `status` result.
    pub fn status(&self, guid: &str) -> Result<Value, SimError> {
        let cluster = self.cluster(guid)?;
        let backends: Vec<&SimHost> = cluster
            .hosts
            .values()
            .filter(|h| h.mode == "backend")
            .collect();
        let backends_active = backends
            .iter()
            .filter(|h| h.state == HostState::Active && self.host_status(h) == "UP")
            .count();
        let drives_active = cluster
            .drives
            .values()
            .filter(|d| d.status == DriveStatus::Active)
            .count();
        let io_nodes = cluster.nodes.values().filter(|n| n.id % 20 != 0);
        let io_total = io_nodes.clone().count();
        let io_active = io_nodes.filter(|n| n.up).count();
        let total = cluster.total_bytes();
        let provisioned: u64 = cluster.filesystems.iter().map(|f| f.size_bytes).sum();
        let unprovisioned = if cluster.io_status == "STARTED" {
            total.saturating_sub(provisioned)
        } else {
            0
        };
        let any_down = backends.iter().any(|h| self.host_status(h) == "DOWN");
        Ok(json!({
            "name": cluster.name, "guid": cluster.guid,
            "status": if any_down { "DEGRADED" } else { "OK" },
            "release": self.config.release, "release_hash": "sim",
            "is_cluster": true, "io_status": cluster.io_status,
            "io_status_changed_time": cluster.io_status_changed_time,
            "upgrade": cluster.upgrade, "hot_spare": cluster.hot_spare,
            "stripe_data_drives": cluster.stripe_data_drives,
            "stripe_protection_drives": cluster.stripe_protection_drives,
            "drives": {"active": drives_active, "total": cluster.drives.len()},
            "io_nodes": {"active": io_active, "total": io_total},
            "nodes": {"black_listed": 0, "total": cluster.nodes.len()},
            "hosts": {
                "active_count": backends_active, "total_count": cluster.hosts.len(),
                "backends": {"active": backends_active, "total": backends.len()},
                "clients": {"active": 0, "total": 0},
            },
            "active_alerts_count": 0,
            "capacity": {"total_bytes": total, "hot_spare_bytes": 0,
                         "unprovisioned_bytes": unprovisioned},
            "cloud": {"enabled": cluster.cloud_enabled, "healthy": cluster.cloud_enabled,
                      "proxy": "", "url": ""},
            "licensing": {"io_start_eligibility": true, "mode": "Unlicensed",
                          "usage": {"drive_capacity_gb": total / 1_000_000_000,
                                    "usable_capacity_gb": total / 1_000_000_000,
                                    "obs_capacity_gb": 0}},
            "activity": {"num_ops": 0, "obs_download_bytes_per_second": 0,
                         "sum_bytes_read": 0, "sum_bytes_written": 0},
        }))
    }

    /// The whole state as JSON, for assertions (`GET /_sim/state`).
    pub fn dump(&self) -> Value {
        let clusters: Map<String, Value> = self
            .clusters
            .values()
            .map(|c| {
                let view = |r: Result<Value, SimError>| r.unwrap_or(Value::Null);
                let v = json!({
                    "guid": c.guid, "name": c.name, "io_status": c.io_status,
                    "upgrade": c.upgrade, "users": c.users, "filesystems": c.filesystems,
                    "events": c.events, "calls": c.calls,
                    "stripe_data_drives": c.stripe_data_drives,
                    "stripe_protection_drives": c.stripe_protection_drives,
                    "hot_spare": c.hot_spare, "bucket_raft_size": c.bucket_raft_size,
                    "status": view(self.status(&c.guid)),
                    "hosts_list": view(self.hosts_list(&c.guid)),
                    "disks_list": view(self.disks_list(&c.guid)),
                    "nodes_list": view(self.nodes_list(&c.guid)),
                    "interface_group_list": view(self.interface_group_list(&c.guid)),
                    "manual_override_list": view(self.manual_override_list(&c.guid)),
                    "smb": c.smb, "s3": c.s3,
                });
                (c.guid.clone(), v)
            })
            .collect();
        json!({
            "now": self.now(), "clock_factor": self.clock.factor(), "config": self.config,
            "machines": self.machines, "clusters": clusters,
            "default_users": self.default_users,
        })
    }
}
