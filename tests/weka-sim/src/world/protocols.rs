//! SMB and S3 protocol clusters: `weka smb cluster create|containers add` and
//! `weka s3 cluster create|containers add`, with WEKA's refusals (a second create, a container
//! that is not an active, up frontend container of the cluster, a missing config filesystem,
//! an SMB cluster outside 3..=8 containers or with a NetBIOS name longer than 15 characters).

use super::{Cluster, HostState, SimError, World};
use serde::{Deserialize, Serialize};

/// Which protocol cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolKind {
    /// `weka smb cluster`.
    Smb,
    /// `weka s3 cluster`.
    S3,
}

impl ProtocolKind {
    /// `SMB` / `S3`, as WEKA names them in messages.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Smb => "SMB",
            Self::S3 => "S3",
        }
    }
}

/// An SMB or S3 cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimProtocolCluster {
    /// SMB NetBIOS name, or the S3 cluster name (`default`).
    pub name: String,
    /// SMB domain (empty for S3).
    pub domain: String,
    /// The configuration filesystem it lives on.
    pub config_fs: String,
    /// S3 port (0 for SMB).
    pub port: u16,
    /// Member container ids, in the order given.
    pub container_ids: Vec<i64>,
    /// Every `create` accepted for this cluster (always 1: a second is refused).
    pub creates: u32,
}

/// What `create` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolCreate {
    /// Name (SMB NetBIOS name or S3 cluster name).
    pub name: String,
    /// SMB domain.
    pub domain: String,
    /// Configuration filesystem.
    pub config_fs: String,
    /// S3 port.
    pub port: u16,
    /// Container ids.
    pub container_ids: Vec<i64>,
}

const SMB_MIN: usize = 3;
const SMB_MAX: usize = 8;
const NETBIOS_MAX: usize = 15;

impl Cluster {
    fn protocol(&self, kind: ProtocolKind) -> Option<&SimProtocolCluster> {
        match kind {
            ProtocolKind::Smb => self.smb.as_ref(),
            ProtocolKind::S3 => self.s3.as_ref(),
        }
    }

    fn protocol_slot(&mut self, kind: ProtocolKind) -> &mut Option<SimProtocolCluster> {
        match kind {
            ProtocolKind::Smb => &mut self.smb,
            ProtocolKind::S3 => &mut self.s3,
        }
    }
}

impl World {
    /// The protocol cluster, if created.
    pub fn protocol_cluster(
        &self,
        guid: &str,
        kind: ProtocolKind,
    ) -> Result<Option<&SimProtocolCluster>, SimError> {
        Ok(self.cluster(guid)?.protocol(kind))
    }

    /// Each id must name an ACTIVE, UP frontend container of the cluster, once.
    fn check_protocol_containers(
        &self,
        guid: &str,
        kind: ProtocolKind,
        ids: &[i64],
    ) -> Result<(), SimError> {
        let cluster = self.cluster(guid)?;
        for (i, id) in ids.iter().enumerate() {
            let host = cluster.hosts.get(id).ok_or(SimError::UnknownHost(*id))?;
            if !host.container_name.starts_with("frontend") {
                return Err(SimError::Invalid(format!(
                    "container HostId<{id}> is {}, not a frontend container; {} runs on frontend containers",
                    host.container_name,
                    kind.label()
                )));
            }
            let up = self.machines.get(&host.ip).is_none_or(|m| m.up);
            if host.state != HostState::Active || !up {
                return Err(SimError::Conflict(format!(
                    "container HostId<{id}> is not active and up"
                )));
            }
            if ids[..i].contains(id) {
                return Err(SimError::Invalid(format!(
                    "container HostId<{id}> is given twice"
                )));
            }
        }
        Ok(())
    }

    /// `weka smb|s3 cluster create`.
    pub fn create_protocol_cluster(
        &mut self,
        guid: &str,
        kind: ProtocolKind,
        spec: ProtocolCreate,
    ) -> Result<(), SimError> {
        let cluster = self.cluster(guid)?;
        if cluster.protocol(kind).is_some() {
            return Err(SimError::Conflict(format!(
                "{} cluster already exists",
                kind.label()
            )));
        }
        if !cluster.filesystems.iter().any(|f| f.name == spec.config_fs) {
            return Err(SimError::Conflict(format!(
                "filesystem {:?} does not exist",
                spec.config_fs
            )));
        }
        if spec.container_ids.is_empty() {
            return Err(SimError::Invalid(format!(
                "{} cluster needs at least one container",
                kind.label()
            )));
        }
        if kind == ProtocolKind::Smb {
            if !(SMB_MIN..=SMB_MAX).contains(&spec.container_ids.len()) {
                return Err(SimError::Invalid(format!(
                    "an SMB cluster has {SMB_MIN} to {SMB_MAX} containers, got {}",
                    spec.container_ids.len()
                )));
            }
            let netbios_ok = !spec.name.is_empty()
                && spec.name.len() <= NETBIOS_MAX
                && spec
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !netbios_ok {
                return Err(SimError::Invalid(format!(
                    "SMB cluster name {:?} is not a NetBIOS name (1..{NETBIOS_MAX} letters, digits, -)",
                    spec.name
                )));
            }
            if spec.domain.is_empty() {
                return Err(SimError::Invalid("SMB domain is required".to_owned()));
            }
        }
        self.check_protocol_containers(guid, kind, &spec.container_ids)?;
        *self.cluster_mut(guid)?.protocol_slot(kind) = Some(SimProtocolCluster {
            name: spec.name,
            domain: spec.domain,
            config_fs: spec.config_fs,
            port: spec.port,
            container_ids: spec.container_ids,
            creates: 1,
        });
        Ok(())
    }

    /// `weka smb|s3 cluster containers add`: refused for a member or without a cluster.
    pub fn add_protocol_containers(
        &mut self,
        guid: &str,
        kind: ProtocolKind,
        ids: &[i64],
    ) -> Result<(), SimError> {
        let existing = self
            .cluster(guid)?
            .protocol(kind)
            .ok_or_else(|| SimError::Conflict(format!("no {} cluster", kind.label())))?;
        if let Some(id) = ids.iter().find(|id| existing.container_ids.contains(id)) {
            return Err(SimError::Conflict(format!(
                "container HostId<{id}> is already in the {} cluster",
                kind.label()
            )));
        }
        if kind == ProtocolKind::Smb && existing.container_ids.len() + ids.len() > SMB_MAX {
            return Err(SimError::Invalid(format!(
                "an SMB cluster has at most {SMB_MAX} containers"
            )));
        }
        self.check_protocol_containers(guid, kind, ids)?;
        if let Some(c) = self.cluster_mut(guid)?.protocol_slot(kind) {
            c.container_ids.extend_from_slice(ids);
        }
        Ok(())
    }
}
