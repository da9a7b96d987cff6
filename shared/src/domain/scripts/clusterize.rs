//! Scripts returned by the clusterize Lambda for backends: the clusterization script (§7.3),
//! the "registered k/N" acknowledgement and the refusal for instances that are not needed.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::{LambdaConfig, PRELUDE, Protocol, Val, fill, lambda_vars};
use crate::domain::geometry::Geometry;

const CLUSTERIZE: &str = include_str!("templates/clusterize.sh");
const REGISTERED: &str = include_str!("templates/registered.sh");
const NOT_NEEDED: &str = include_str!("templates/not_needed.sh");

/// One registered backend, paired by instance id by the caller (never by response order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterHost {
    /// EC2 instance id; container names become `<instance_id>-drives0` etc.
    pub instance_id: String,
    /// Private IPv4 address of that instance.
    pub private_ip: Ipv4Addr,
}

/// S3 tiering of the `default` file system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObsTiering {
    /// Bucket name (created by the Lambda or provided by the operator).
    pub bucket: String,
    /// Share of the total capacity kept on SSD, 1..=100.
    pub ssd_percent: u32,
}

/// Tiering timings for the `default` fs group, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tiering {
    /// `--target-ssd-retention`.
    pub target_ssd_retention_secs: u64,
    /// `--start-demote`.
    pub start_demote_secs: u64,
}

/// Parameters of the clusterization script (not deserializable: the geometry must come from
/// [`crate::domain::geometry::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterizationParams {
    /// Lambdas the script may call (needs `report`, `fetch`, `clusterize_finalization`).
    pub lambdas: LambdaConfig,
    /// WEKA cluster name.
    pub cluster_name: String,
    /// All registered backends, one entry per instance.
    pub hosts: Vec<ClusterHost>,
    /// Validated data-protection geometry.
    pub geometry: Geometry,
    /// Whether each backend runs a `frontend0` container.
    pub add_frontend: bool,
    /// DPDK networking (selects which alerts are muted).
    pub install_dpdk: bool,
    /// Proxy for `weka cloud`.
    pub proxy_url: Option<String>,
    /// Custom WEKA home URL for `weka cloud enable`.
    pub weka_home_url: Option<String>,
    /// Tiering timings of the `default` fs group.
    pub tiering: Tiering,
    /// S3 tiering; must be `Some` exactly when the geometry has OBS tiering.
    pub obs: Option<ObsTiering>,
    /// Operator script run after the cluster is up (failure is reported, not fatal).
    pub post_cluster_script: Option<String>,
}

/// Why a clusterization script cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// The host list does not match the geometry's cluster size.
    #[error("got {hosts} hosts but the cluster size is {cluster_size}")]
    HostCountMismatch {
        /// Hosts provided.
        hosts: usize,
        /// Validated cluster size.
        cluster_size: u32,
    },
    /// The same instance id appears twice.
    #[error("instance {instance_id} is listed more than once")]
    DuplicateInstance {
        /// The repeated instance id.
        instance_id: String,
    },
    /// The same private IP appears twice.
    #[error("ip {ip} is listed more than once")]
    DuplicateIp {
        /// The repeated IP.
        ip: Ipv4Addr,
    },
    /// An instance id is empty.
    #[error("instance id {instance_id:?} is empty")]
    EmptyInstanceId {
        /// The empty id.
        instance_id: String,
    },
    /// OBS settings disagree with the validated geometry.
    #[error("obs settings present {obs_present} but geometry obs tiering is {geometry_obs}")]
    ObsMismatch {
        /// Whether [`ClusterizationParams::obs`] is set.
        obs_present: bool,
        /// Whether the geometry enables OBS tiering.
        geometry_obs: bool,
    },
    /// SSD percentage outside 1..=100.
    #[error("obs ssd percent {ssd_percent} is outside 1..=100")]
    SsdPercentOutOfRange {
        /// The configured percentage.
        ssd_percent: u32,
    },
}

/// Renders the clusterization script for the instance that completed the registration set.
pub fn render_clusterization(params: &ClusterizationParams) -> Result<String, ScriptError> {
    let g = &params.geometry;
    if params.hosts.len() != g.cluster_size() as usize {
        return Err(ScriptError::HostCountMismatch {
            hosts: params.hosts.len(),
            cluster_size: g.cluster_size(),
        });
    }
    let mut ids = HashSet::new();
    let mut ips = HashSet::new();
    for host in &params.hosts {
        if host.instance_id.is_empty() {
            return Err(ScriptError::EmptyInstanceId {
                instance_id: host.instance_id.clone(),
            });
        }
        if !ids.insert(host.instance_id.as_str()) {
            return Err(ScriptError::DuplicateInstance {
                instance_id: host.instance_id.clone(),
            });
        }
        if !ips.insert(host.private_ip) {
            return Err(ScriptError::DuplicateIp {
                ip: host.private_ip,
            });
        }
    }
    if params.obs.is_some() != g.obs_tiering() {
        return Err(ScriptError::ObsMismatch {
            obs_present: params.obs.is_some(),
            geometry_obs: g.obs_tiering(),
        });
    }
    if let Some(obs) = &params.obs
        && !(1..=100).contains(&obs.ssd_percent)
    {
        return Err(ScriptError::SsdPercentOutOfRange {
            ssd_percent: obs.ssd_percent,
        });
    }
    let host_ids = params.hosts.iter().map(|h| h.instance_id.clone()).collect();
    let host_ips = params
        .hosts
        .iter()
        .map(|h| h.private_ip.to_string())
        .collect();
    let template = [PRELUDE, CLUSTERIZE].concat();
    let mut vars = lambda_vars("clusterization", &params.lambdas, Protocol::Backend);
    vars.extend([
        ("CLUSTER_NAME", Val::Str(&params.cluster_name)),
        ("HOST_IDS", Val::Words(host_ids)),
        ("HOST_IPS", Val::Words(host_ips)),
        ("STRIPE_WIDTH", Val::Int(g.stripe_width().into())),
        ("PROTECTION_LEVEL", Val::Int(g.protection_level().into())),
        ("HOT_SPARE", Val::Int(g.hot_spare().into())),
        ("RAFT_SIZE", Val::Int(g.raft_size().unwrap_or(0).into())),
        ("ADD_FRONTEND", Val::Bool(params.add_frontend)),
        ("INSTALL_DPDK", Val::Bool(params.install_dpdk)),
        (
            "PROXY_URL",
            Val::Str(params.proxy_url.as_deref().unwrap_or("")),
        ),
        (
            "WEKA_HOME_URL",
            Val::Str(params.weka_home_url.as_deref().unwrap_or("")),
        ),
        ("SET_DEFAULT_FS", Val::Bool(g.set_default_fs())),
        (
            "TIERING_TARGET_SSD_RETENTION",
            Val::Int(params.tiering.target_ssd_retention_secs),
        ),
        (
            "TIERING_START_DEMOTE",
            Val::Int(params.tiering.start_demote_secs),
        ),
        ("SET_OBS", Val::Bool(params.obs.is_some())),
        (
            "OBS_BUCKET",
            Val::Str(params.obs.as_ref().map_or("", |o| o.bucket.as_str())),
        ),
        (
            "OBS_SSD_PERCENT",
            Val::Int(params.obs.as_ref().map_or(100, |o| o.ssd_percent).into()),
        ),
        (
            "POST_CLUSTER_SCRIPT",
            Val::Str(params.post_cluster_script.as_deref().unwrap_or("")),
        ),
    ]);
    Ok(fill(&template, &vars))
}

/// Parameters of the "registered k/N" acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredParams {
    /// Lambdas the script may call (needs `report`).
    pub lambdas: LambdaConfig,
    /// Protocol of the registering instance (backend or nfs).
    pub protocol: Protocol,
    /// The registering instance.
    pub instance_id: String,
    /// Its position in the registration set (1-based).
    pub registered: u32,
    /// Size of the registration set.
    pub desired: u32,
    /// Keep polling `clusterize` until the cluster forms (backends), or just acknowledge.
    pub wait: Option<ClusterizeWait>,
}

/// How a registered instance waits for the cluster to form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterizeWait {
    /// Seconds between polls.
    pub poll_secs: u32,
    /// Polls before giving up (reporting an error and exiting 1).
    pub polls: u32,
}

/// Renders the progress script for instances 1..N-1 of the registration set (or a member
/// asking again): it acknowledges once and, with `wait`, polls `clusterize` until the cluster
/// forms, running whatever it answers (the clusterization script if it takes over).
pub fn render_registered(params: &RegisteredParams) -> String {
    let message = match params.protocol {
        Protocol::Nfs => format!(
            "This ({}) is nfs instance {}/{} that is ready for joining the interface group",
            params.instance_id, params.registered, params.desired
        ),
        Protocol::Smb | Protocol::Smbw | Protocol::S3 => format!(
            "This ({}) is {} gateway {}/{} running; waiting for the others before setting up the protocol",
            params.instance_id,
            params.protocol.as_str(),
            params.registered,
            params.desired
        ),
        _ => format!(
            "This ({}) is instance {}/{} that is ready for clusterization",
            params.instance_id, params.registered, params.desired
        ),
    };
    let template = [PRELUDE, REGISTERED].concat();
    let mut vars = lambda_vars("registered", &params.lambdas, params.protocol);
    let wait = params.wait.unwrap_or(ClusterizeWait {
        poll_secs: 0,
        polls: 0,
    });
    vars.push(("MESSAGE", Val::Str(&message)));
    vars.push(("VM", Val::Str(&params.instance_id)));
    vars.push(("WAIT_POLLS", Val::Int(wait.polls.into())));
    vars.push(("WAIT_POLL_SECS", Val::Int(wait.poll_secs.into())));
    fill(&template, &vars)
}

/// Renders a script that reports `message` as progress once and exits 0 (SMB/S3 gateways
/// done, or a member of an already clusterized set asking again).
pub fn render_acknowledgement(
    lambdas: &LambdaConfig,
    protocol: Protocol,
    instance_id: &str,
    message: &str,
) -> String {
    let template = [PRELUDE, REGISTERED].concat();
    let mut vars = lambda_vars("acknowledgement", lambdas, protocol);
    vars.push(("MESSAGE", Val::Str(message)));
    vars.push(("VM", Val::Str(instance_id)));
    vars.push(("WAIT_POLLS", Val::Int(0)));
    vars.push(("WAIT_POLL_SECS", Val::Int(0)));
    fill(&template, &vars)
}

/// Parameters of the refusal script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotNeededParams {
    /// Lambdas the script may call (needs `report`).
    pub lambdas: LambdaConfig,
    /// Protocol of the refused instance.
    pub protocol: Protocol,
    /// The refused instance.
    pub instance_id: String,
    /// Why, e.g. "the registration set of 6 is already complete".
    pub reason: String,
}

/// Renders a script that reports an error and exits 1, for instances arriving after the
/// registration set is complete or after clusterization.
pub fn render_not_needed(params: &NotNeededParams) -> String {
    let message = format!(
        "Instance {} is not needed: {}",
        params.instance_id, params.reason
    );
    let template = [PRELUDE, NOT_NEEDED].concat();
    let mut vars = lambda_vars("not-needed", &params.lambdas, params.protocol);
    vars.push(("MESSAGE", Val::Str(&message)));
    fill(&template, &vars)
}
