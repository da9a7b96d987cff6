//! The simulated world: machines (by private IP) and the WEKA clusters they form, with the
//! operations the JSON-RPC API, the control API and the CLI shim apply, and the time-driven
//! transitions (deactivation, drive phase-out, removal) settled lazily against [`SimClock`].
//!
//! This file holds [`World`] itself, [`SimError`] and the cluster lookups every operation starts
//! from; the records are in `model`, the operations in `topology`, `auth`, `lifecycle` and
//! `settings`, and what readers see in `views`.

mod auth;
mod lifecycle;
mod model;
mod protocols;
mod settings;
mod topology;
mod views;

pub use model::{
    COMPUTE, CallRecord, Cluster, DRIVES, DriveStatus, Event, FRONTEND, FileSystem, HostState,
    LocalContainer, Machine, MachineSpec, NVME_MODEL, SimConfig, SimDrive, SimHost,
    SimInterfaceGroup, SimNode, SimOverride, SimPort, SimUser, Unreachable,
};
pub use protocols::{ProtocolCreate, ProtocolKind, SimProtocolCluster};
pub(crate) use topology::default_port;
pub use views::{drive_str, parse_host_id, parse_host_id_str, state_str, typed_id};

use crate::clock::SimClock;
use crate::faults::Faults;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Failures of simulator operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// No machine with this IP.
    #[error("unknown machine {0}")]
    UnknownMachine(String),
    /// No cluster matches the selector.
    #[error("no cluster {0}")]
    UnknownCluster(String),
    /// No container with this id.
    #[error("no host HostId<{0}>")]
    UnknownHost(i64),
    /// No drive with this uuid.
    #[error("no drive with uuid {0}")]
    UnknownDrive(String),
    /// Bad arguments.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The operation is not allowed in the current state.
    #[error("{0}")]
    Conflict(String),
}

impl SimError {
    /// HTTP status for the control API.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::UnknownMachine(_)
            | Self::UnknownCluster(_)
            | Self::UnknownHost(_)
            | Self::UnknownDrive(_) => 404,
            Self::Invalid(_) => 400,
            Self::Conflict(_) => 409,
        }
    }

    /// JSON-RPC error code.
    pub fn rpc_code(&self) -> i64 {
        match self {
            Self::Invalid(_) => -32602,
            _ => -32000,
        }
    }
}

/// Everything the simulator knows.
#[derive(Debug)]
pub struct World {
    /// Tunables.
    pub config: SimConfig,
    /// Simulated time.
    pub clock: SimClock,
    /// Machines by IP.
    pub machines: BTreeMap<String, Machine>,
    /// Clusters by guid.
    pub clusters: BTreeMap<String, Cluster>,
    /// Users every new cluster starts with (besides `admin`).
    pub default_users: BTreeMap<String, SimUser>,
    /// Injected JSON-RPC faults and the log of JSON-RPC requests.
    pub faults: Faults,
    serial: u64,
}

impl World {
    /// An empty world.
    pub fn new(config: SimConfig, clock: SimClock) -> Self {
        Self {
            config,
            clock,
            machines: BTreeMap::new(),
            clusters: BTreeMap::new(),
            default_users: BTreeMap::new(),
            faults: Faults::default(),
            serial: 0,
        }
    }

    /// The current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A fresh number for ids and tokens.
    pub fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// Selects a cluster by guid or name; `None` means the only cluster.
    pub fn cluster_guid(&self, selector: Option<&str>) -> Result<String, SimError> {
        match selector.filter(|s| !s.is_empty()) {
            Some(s) => self
                .clusters
                .values()
                .find(|c| c.guid == s || c.name == s)
                .map(|c| c.guid.clone())
                .ok_or_else(|| SimError::UnknownCluster(s.to_owned())),
            None => {
                let mut it = self.clusters.keys();
                match (it.next(), it.next()) {
                    (Some(g), None) => Ok(g.clone()),
                    (None, _) => Err(SimError::UnknownCluster("(none created yet)".to_owned())),
                    (Some(_), Some(_)) => Err(SimError::Invalid(
                        "several clusters exist: name one".to_owned(),
                    )),
                }
            }
        }
    }

    /// The cluster a machine belongs to, else the only cluster.
    pub fn cluster_of(&self, ip: &str) -> Result<String, SimError> {
        match self.machines.get(ip).and_then(|m| m.cluster.clone()) {
            Some(g) => Ok(g),
            None => self.cluster_guid(None),
        }
    }

    /// A cluster by guid.
    pub fn cluster(&self, guid: &str) -> Result<&Cluster, SimError> {
        self.clusters
            .get(guid)
            .ok_or_else(|| SimError::UnknownCluster(guid.to_owned()))
    }

    /// A cluster by guid, mutable.
    pub fn cluster_mut(&mut self, guid: &str) -> Result<&mut Cluster, SimError> {
        self.clusters
            .get_mut(guid)
            .ok_or_else(|| SimError::UnknownCluster(guid.to_owned()))
    }

    /// The cluster a backend IP serves JSON-RPC for: `None` when the machine is unknown, down
    /// or not a member (the backend then behaves as unreachable).
    pub fn reachable_cluster(&self, ip: &str) -> Option<String> {
        self.machines
            .get(ip)
            .filter(|m| m.up)
            .and_then(|m| m.cluster.clone())
    }
}

/// A world of `n` installed machines (drives0, compute0, frontend0 each) in one cluster.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
fn world_with(n: usize) -> (World, String) {
    let mut w = World::new(SimConfig::default(), SimClock::manual());
    let mut names = Vec::new();
    let mut ips = Vec::new();
    for i in 0..n {
        let ip = format!("10.0.0.{}", i + 10);
        w.register_machine(MachineSpec {
            ip: ip.clone(),
            ..MachineSpec::default()
        })
        .unwrap();
        for (c, p) in [(DRIVES, 14000), (COMPUTE, 15000), (FRONTEND, 16000)] {
            names.push(format!("i-{i}-{c}"));
            ips.push(format!("{ip}:{p}"));
        }
    }
    let guid = w.create_cluster(&names, &ips, Some("pw")).unwrap();
    (w, guid)
}
