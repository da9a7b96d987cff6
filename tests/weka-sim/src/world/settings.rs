//! Cluster-wide state set by the CLI and the control API: I/O status, interface groups, events,
//! manual overrides and filesystems.

use super::{Event, FileSystem, SimError, SimInterfaceGroup, SimOverride, World};
use serde_json::Value;

impl World {
    /// `weka cluster start-io`.
    pub fn start_io(&mut self, guid: &str) -> Result<(), SimError> {
        let now = self.now();
        let cluster = self.cluster_mut(guid)?;
        if cluster.io_status != "STARTED" {
            cluster.io_status = "STARTED".to_owned();
            cluster.io_status_changed_time = now;
        }
        Ok(())
    }

    /// `interface_group_delete_port`.
    pub fn delete_port(
        &mut self,
        guid: &str,
        name: &str,
        host_id: i64,
        port: &str,
    ) -> Result<(), SimError> {
        let cluster = self.cluster_mut(guid)?;
        let group = cluster
            .interface_groups
            .iter_mut()
            .find(|g| g.name == name)
            .ok_or_else(|| SimError::Invalid(format!("no interface group {name}")))?;
        let before = group.ports.len();
        group
            .ports
            .retain(|p| !(p.host_id == host_id && p.port == port));
        if group.ports.len() == before {
            return Err(SimError::Invalid(format!(
                "interface group {name} has no port {port} on HostId<{host_id}>"
            )));
        }
        Ok(())
    }

    /// Adds or replaces an interface group.
    pub fn set_interface_group(
        &mut self,
        guid: &str,
        group: SimInterfaceGroup,
    ) -> Result<(), SimError> {
        let cluster = self.cluster_mut(guid)?;
        for p in &group.ports {
            cluster.host(p.host_id)?;
        }
        cluster.interface_groups.retain(|g| g.name != group.name);
        cluster.interface_groups.push(group);
        Ok(())
    }

    /// Adds an event.
    pub fn add_event(&mut self, guid: &str, message: &str) -> Result<(), SimError> {
        let now = self.now();
        self.cluster_mut(guid)?.events.push(Event {
            time: now,
            message: message.to_owned(),
        });
        Ok(())
    }

    /// Sets (upserts by key) a manual override.
    pub fn set_override(
        &mut self,
        guid: &str,
        key: &str,
        value: Value,
        enabled: bool,
    ) -> Result<(), SimError> {
        let now = self.now();
        let cluster = self.cluster_mut(guid)?;
        if let Some(o) = cluster.overrides.values_mut().find(|o| o.key == key) {
            o.value = value;
            o.enabled = enabled;
            return Ok(());
        }
        let id = cluster.next_override;
        cluster.next_override += 1;
        cluster.overrides.insert(
            id,
            SimOverride {
                key: key.to_owned(),
                value,
                enabled,
                time_created: now,
            },
        );
        Ok(())
    }

    /// Removes a manual override by key (no error when absent).
    pub fn clear_override(&mut self, guid: &str, key: &str) -> Result<(), SimError> {
        self.cluster_mut(guid)?
            .overrides
            .retain(|_, o| o.key != key);
        Ok(())
    }

    /// Records a filesystem.
    pub fn create_fs(&mut self, guid: &str, fs: FileSystem) -> Result<(), SimError> {
        let cluster = self.cluster_mut(guid)?;
        let provisioned: u64 = cluster.filesystems.iter().map(|f| f.size_bytes).sum();
        if cluster.filesystems.iter().any(|f| f.name == fs.name) {
            return Err(SimError::Conflict(format!("filesystem {} exists", fs.name)));
        }
        if provisioned + fs.size_bytes > cluster.total_bytes() {
            return Err(SimError::Conflict(format!(
                "not enough capacity for filesystem {} ({} bytes)",
                fs.name, fs.size_bytes
            )));
        }
        cluster.filesystems.push(fs);
        Ok(())
    }
}
