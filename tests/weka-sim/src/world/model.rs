//! The records the world is made of: tunables, machines and their local containers, clusters
//! with their containers, drives, processes, users and other per-cluster state.

use super::SimError;
use super::auth::Token;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Name of the drives container.
pub const DRIVES: &str = "drives0";

/// Name of the compute container.
pub const COMPUTE: &str = "compute0";

/// Name of the frontend container.
pub const FRONTEND: &str = "frontend0";

/// Model string WEKA reports for EC2 instance storage.
pub const NVME_MODEL: &str = "Amazon EC2 NVMe Instance Storage";

/// How a machine that is down (or not in a cluster) answers JSON-RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unreachable {
    /// HTTP 503.
    #[default]
    Http503,
    /// Close the connection without answering.
    Close,
}

/// Tunables; every field can be patched at runtime through the control API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// Seconds from `cluster_deactivate_hosts` to state INACTIVE.
    pub deactivate_host_secs: f64,
    /// Seconds from drive deactivation to status INACTIVE.
    pub deactivate_drive_secs: f64,
    /// Seconds from `cluster_remove_host` (REMOVING) until the container is gone.
    pub remove_host_secs: f64,
    /// Lifetime of an access token (simulated seconds).
    pub token_ttl_secs: i64,
    /// Software release reported by `status` and `client_query_backend`.
    pub release: String,
    /// Size of each simulated NVMe drive.
    pub drive_size_bytes: u64,
    /// NVMe devices a machine gets when none are given.
    pub nvme_devices: Vec<String>,
    /// Instance type reported in `hosts_list[].aws`.
    pub instance_type: String,
    /// Availability zone reported in `hosts_list[].aws`.
    pub availability_zone: String,
    /// Behaviour of an unreachable backend.
    pub unreachable: Unreachable,
    /// Whether a DOWN host's `aws` object is omitted (WEKA sometimes does).
    pub omit_aws_when_down: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            deactivate_host_secs: 60.0,
            deactivate_drive_secs: 30.0,
            remove_host_secs: 0.0,
            token_ttl_secs: 3600,
            release: "4.4.2".to_owned(),
            drive_size_bytes: 1_900_000_000_000,
            nvme_devices: vec!["/dev/nvme1n1".to_owned(), "/dev/nvme2n1".to_owned()],
            instance_type: "i3en.2xlarge".to_owned(),
            availability_zone: "us-east-1a".to_owned(),
            unreachable: Unreachable::Http503,
            omit_aws_when_down: false,
        }
    }
}

/// Container lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HostState {
    /// Serving.
    Active,
    /// Deactivation requested.
    Deactivating,
    /// Removal requested.
    Removing,
    /// Deactivated.
    Inactive,
}

/// Drive status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DriveStatus {
    /// Active.
    Active,
    /// Deactivation running.
    PhasingOut,
    /// Deactivated.
    Inactive,
}

/// A container set up on a machine with `weka local setup container`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalContainer {
    /// `drives0`, `compute0`, `frontend0`, `dataserv`, ...
    pub name: String,
    /// Management base port (14000, 15000, 16000).
    pub base_port: u16,
    /// Worker cores (one node each, besides the management node).
    pub cores: u32,
}

/// One EC2 instance as WEKA sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Private IP.
    pub ip: String,
    /// EC2 instance id.
    pub instance_id: String,
    /// Hostname (`ip-10-0-1-23`).
    pub hostname: String,
    /// False while marked down (unreachable; hosts DOWN).
    pub up: bool,
    /// When it went down.
    pub down_since: Option<DateTime<Utc>>,
    /// Local containers by name.
    pub containers: BTreeMap<String, LocalContainer>,
    /// Instance-store NVMe device paths.
    pub nvme_devices: Vec<String>,
    /// Devices signed for WEKA (found by `drive scan`).
    pub signed_devices: BTreeSet<String>,
    /// Guid of the cluster its containers belong to.
    pub cluster: Option<String>,
}

/// A container of a cluster (`hosts_list` value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimHost {
    /// Numeric id.
    pub id: i64,
    /// Uid.
    pub uid: String,
    /// Machine IP.
    pub ip: String,
    /// Machine hostname.
    pub hostname: String,
    /// Container name.
    pub container_name: String,
    /// Management port.
    pub port: u16,
    /// Worker cores.
    pub cores: u32,
    /// `backend` or `client`.
    pub mode: String,
    /// Lifecycle state.
    pub state: HostState,
    /// When it joined.
    pub added_time: DateTime<Utc>,
    /// Last state change (null until the first change, as WEKA reports long-running hosts).
    pub state_changed_time: Option<DateTime<Utc>>,
    /// Shared by the containers of one machine.
    pub machine_identifier: String,
    /// EC2 instance id.
    pub instance_id: String,
    /// Failure domain.
    pub failure_domain: String,
    /// When DEACTIVATING turns INACTIVE.
    pub inactive_due: Option<DateTime<Utc>>,
    /// When REMOVING disappears.
    pub remove_due: Option<DateTime<Utc>>,
}

/// A drive (`disks_list` value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimDrive {
    /// Numeric id.
    pub id: i64,
    /// Owning drives container, -1 once that container was removed.
    pub host_id: i64,
    /// Uuid.
    pub uuid: String,
    /// Device path on the machine.
    pub device_path: String,
    /// Status.
    pub status: DriveStatus,
    /// False once deactivation was requested.
    pub should_be_active: bool,
    /// Size.
    pub size_bytes: u64,
    /// When it was added.
    pub added_time: DateTime<Utc>,
    /// When PHASING_OUT turns INACTIVE.
    pub inactive_due: Option<DateTime<Utc>>,
}

/// A process (`nodes_list` value); ids are `host_id * 20 + k`, k = 0 the management node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimNode {
    /// Numeric id.
    pub id: i64,
    /// Owning container.
    pub host_id: i64,
    /// `UP` or `DOWN`.
    pub up: bool,
    /// Last fencing.
    pub last_fencing_time: Option<DateTime<Utc>>,
    /// Up since.
    pub up_since: Option<DateTime<Utc>>,
}

/// A port of an interface group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimPort {
    /// Container id.
    pub host_id: i64,
    /// NIC name.
    pub port: String,
}

/// An interface group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimInterfaceGroup {
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
    /// `NFS`, ...
    pub group_type: String,
    /// Floating IPs.
    pub ips: Vec<String>,
    /// Member ports.
    pub ports: Vec<SimPort>,
}

/// A manual override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimOverride {
    /// Key, e.g. `skip_scale_down`.
    pub key: String,
    /// Value.
    pub value: Value,
    /// Enabled flag.
    pub enabled: bool,
    /// Creation time.
    pub time_created: DateTime<Utc>,
}

/// A WEKA user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUser {
    /// Password (the simulator is for tests; it is dumped in the state).
    pub password: String,
    /// Role, e.g. `clusteradmin`.
    pub role: String,
}

/// A filesystem created with `weka fs create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSystem {
    /// Name.
    pub name: String,
    /// Group.
    pub group: String,
    /// Total capacity.
    pub size_bytes: u64,
}

/// An event (`events_trigger_custom`, `weka events trigger-event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When.
    pub time: DateTime<Utc>,
    /// Text.
    pub message: String,
}

/// A mutating JSON-RPC call, recorded for assertions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// When.
    pub time: DateTime<Utc>,
    /// Backend IP the call was sent to.
    pub ip: String,
    /// Method.
    pub method: String,
    /// Params.
    pub params: Value,
    /// Error message if it failed.
    pub error: Option<String>,
}

/// One WEKA cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Guid.
    pub guid: String,
    /// Name (`weka cluster update --cluster-name`).
    pub name: String,
    /// `STOPPED` until start-io, then `STARTED`.
    pub io_status: String,
    /// When io_status last changed.
    pub io_status_changed_time: DateTime<Utc>,
    /// Non-empty while an upgrade runs.
    pub upgrade: String,
    /// Stripe data width.
    pub stripe_data_drives: u32,
    /// Stripe protection.
    pub stripe_protection_drives: u32,
    /// Hot spares.
    pub hot_spare: u32,
    /// Raft size (0 = default).
    pub bucket_raft_size: u32,
    /// Whether `weka cloud enable` ran.
    pub cloud_enabled: bool,
    /// Users by name.
    pub users: BTreeMap<String, SimUser>,
    /// Containers by id.
    pub hosts: BTreeMap<i64, SimHost>,
    /// Drives by id.
    pub drives: BTreeMap<i64, SimDrive>,
    /// Nodes by id.
    pub nodes: BTreeMap<i64, SimNode>,
    /// Interface groups.
    pub interface_groups: Vec<SimInterfaceGroup>,
    /// Manual overrides by id.
    pub overrides: BTreeMap<i64, SimOverride>,
    /// Filesystems.
    pub filesystems: Vec<FileSystem>,
    /// The SMB cluster (`weka smb cluster create`).
    #[serde(default)]
    pub smb: Option<super::SimProtocolCluster>,
    /// The S3 cluster (`weka s3 cluster create`).
    #[serde(default)]
    pub s3: Option<super::SimProtocolCluster>,
    /// Events.
    pub events: Vec<Event>,
    /// Mutating JSON-RPC calls.
    pub calls: Vec<CallRecord>,
    /// Creation time.
    pub created_time: DateTime<Utc>,
    pub(super) next_host: i64,
    pub(super) next_drive: i64,
    pub(super) next_override: i64,
    #[serde(skip)]
    pub(super) tokens: BTreeMap<String, Token>,
    #[serde(skip)]
    pub(super) refresh_tokens: BTreeMap<String, String>,
}

/// A new machine for [`super::World::register_machine`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MachineSpec {
    /// Private IP (required).
    pub ip: String,
    /// Instance id (default `i-sim-<ip>`).
    pub instance_id: Option<String>,
    /// Hostname (default `ip-a-b-c-d`).
    pub hostname: Option<String>,
    /// Local containers to set up (default drives0, compute0, frontend0; `[]` = bare machine).
    pub containers: Option<Vec<String>>,
    /// NVMe devices (default from the config).
    pub nvme_devices: Option<Vec<String>>,
    /// Whether the devices are already signed (default true).
    pub signed: Option<bool>,
}

impl Cluster {
    pub(super) fn host(&self, id: i64) -> Result<&SimHost, SimError> {
        self.hosts.get(&id).ok_or(SimError::UnknownHost(id))
    }

    /// Capacity usable by filesystems (stripe overhead applied once data/parity are set).
    pub(super) fn total_bytes(&self) -> u64 {
        let raw: u64 = self
            .drives
            .values()
            .filter(|d| d.status == DriveStatus::Active)
            .map(|d| d.size_bytes)
            .sum();
        let (data, parity) = (
            u64::from(self.stripe_data_drives),
            u64::from(self.stripe_protection_drives),
        );
        if data > 0 {
            raw / (data + parity) * data
        } else {
            raw
        }
    }
}
