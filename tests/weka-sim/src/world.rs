//! The simulated world: machines (by private IP) and the WEKA clusters they form, with the
//! operations the JSON-RPC API, the control API and the CLI shim apply, and the time-driven
//! transitions (deactivation, drive phase-out, removal) settled lazily against [`SimClock`].

use crate::clock::SimClock;
use crate::faults::Faults;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Name of the drives container.
pub const DRIVES: &str = "drives0";
/// Name of the compute container.
pub const COMPUTE: &str = "compute0";
/// Name of the frontend container.
pub const FRONTEND: &str = "frontend0";
/// Model string WEKA reports for EC2 instance storage.
pub const NVME_MODEL: &str = "Amazon EC2 NVMe Instance Storage";

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

/// An issued access token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    user: String,
    expires: DateTime<Utc>,
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
    /// Events.
    pub events: Vec<Event>,
    /// Mutating JSON-RPC calls.
    pub calls: Vec<CallRecord>,
    /// Creation time.
    pub created_time: DateTime<Utc>,
    next_host: i64,
    next_drive: i64,
    next_override: i64,
    #[serde(skip)]
    tokens: BTreeMap<String, Token>,
    #[serde(skip)]
    refresh_tokens: BTreeMap<String, String>,
}

/// A new machine for [`World::register_machine`].
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

fn secs(s: f64) -> TimeDelta {
    TimeDelta::milliseconds((s.max(0.0) * 1000.0) as i64)
}

fn default_port(name: &str) -> u16 {
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

impl Cluster {
    fn host(&self, id: i64) -> Result<&SimHost, SimError> {
        self.hosts.get(&id).ok_or(SimError::UnknownHost(id))
    }

    fn drive_by_uuid(&mut self, uuid: &str) -> Result<&mut SimDrive, SimError> {
        self.drives
            .values_mut()
            .find(|d| d.uuid == uuid)
            .ok_or_else(|| SimError::UnknownDrive(uuid.to_owned()))
    }

    /// Checks a username/password pair.
    pub fn check_password(&self, user: &str, password: &str) -> bool {
        self.users.get(user).is_some_and(|u| u.password == password)
    }

    /// The user an access token belongs to, if valid at `now`.
    pub fn token_user(&self, token: &str, now: DateTime<Utc>) -> Option<&str> {
        self.tokens
            .get(token)
            .filter(|t| t.expires > now)
            .map(|t| t.user.as_str())
    }

    /// Capacity usable by filesystems (stripe overhead applied once data/parity are set).
    fn total_bytes(&self) -> u64 {
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

    // ---- machines ----

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

    // ---- clusters ----

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

    /// Adds or replaces a user of a cluster (or of every future cluster when `guid` is None).
    pub fn set_user(
        &mut self,
        guid: Option<&str>,
        username: &str,
        password: &str,
        role: &str,
    ) -> Result<(), SimError> {
        if username.is_empty() {
            return Err(SimError::Invalid("username is required".to_owned()));
        }
        let user = SimUser {
            password: password.to_owned(),
            role: role.to_owned(),
        };
        match guid {
            Some(g) => {
                let cluster = self.cluster_mut(g)?;
                cluster.users.insert(username.to_owned(), user);
                // Changing a password logs that user out, as a rotated secret would.
                cluster.tokens.retain(|_, t| t.user != username);
            }
            None => {
                self.default_users.insert(username.to_owned(), user);
            }
        }
        Ok(())
    }

    /// Issues an access token after checking the password.
    pub fn login(&mut self, guid: &str, user: &str, password: &str) -> Result<Value, SimError> {
        let now = self.now();
        let ttl = self.config.token_ttl_secs;
        let serial = self.next_serial();
        let cluster = self.cluster_mut(guid)?;
        if !cluster.check_password(user, password) {
            return Err(SimError::Conflict(format!(
                "login failed: invalid username or password for {user:?}"
            )));
        }
        Ok(issue_token(cluster, user, now, ttl, serial))
    }

    /// Invalidates every access token of the cluster, as a WEKA restart or a logout of every
    /// session would; refresh tokens stay valid. Returns how many were revoked.
    pub fn revoke_tokens(&mut self, guid: &str) -> Result<usize, SimError> {
        let cluster = self.cluster_mut(guid)?;
        let revoked = cluster.tokens.len();
        cluster.tokens.clear();
        Ok(revoked)
    }

    /// Renews an access token from a refresh token.
    pub fn refresh(&mut self, guid: &str, refresh_token: &str) -> Result<Value, SimError> {
        let now = self.now();
        let ttl = self.config.token_ttl_secs;
        let serial = self.next_serial();
        let cluster = self.cluster_mut(guid)?;
        let user = cluster
            .refresh_tokens
            .get(refresh_token)
            .cloned()
            .ok_or_else(|| SimError::Conflict("invalid refresh token".to_owned()))?;
        Ok(issue_token(cluster, &user, now, ttl, serial))
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

    // ---- views (JSON-RPC result shapes) ----

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

fn issue_token(
    cluster: &mut Cluster,
    user: &str,
    now: DateTime<Utc>,
    ttl: i64,
    serial: u64,
) -> Value {
    let access = format!("sim-access-{serial:08x}");
    let refresh = format!("sim-refresh-{serial:08x}");
    cluster.tokens.insert(
        access.clone(),
        Token {
            user: user.to_owned(),
            expires: now + TimeDelta::seconds(ttl),
        },
    );
    cluster
        .refresh_tokens
        .insert(refresh.clone(), user.to_owned());
    json!({"access_token": access, "refresh_token": refresh, "expires_in": ttl,
           "token_type": "Bearer", "password_change_required": false})
}

fn phase_out(drive: &mut SimDrive, now: DateTime<Utc>, delay: TimeDelta) {
    drive.should_be_active = false;
    if drive.status == DriveStatus::Active {
        drive.status = DriveStatus::PhasingOut;
        drive.inactive_due = Some(now + delay);
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
