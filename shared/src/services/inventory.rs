//! The cluster's instance groups as the scale steps and the instance scripts see them: both
//! Auto Scaling groups with their instances, the tagged running backends' IPs and the NFS
//! interface group's ready members (`HostGroupInfoResponse`, credentials left empty).

use crate::config::asg::AsgConfig;
use crate::config::names::{CLUSTER_NAME_ENV, DOWN_BACKENDS_REMOVAL_TIMEOUT_ENV, ROLE_ENV};
use crate::config::{ConfigError, Lookup};
use crate::domain::lifecycle::{Transition, in_wait_state};
use crate::domain::state::Group;
use crate::ports::{InstanceInventory, InventoryError, ScalingError, ScalingGroup, ScalingGroups};
use crate::wire::scale::{Empty, HostGroupInfoResponse, InstanceRef, PROTOCOL_VERSION, Secret};
use std::collections::BTreeMap;
use std::time::Duration;

/// Default of [`DOWN_BACKENDS_REMOVAL_TIMEOUT_ENV`].
pub const DEFAULT_DOWN_BACKENDS_REMOVAL_TIMEOUT: Duration = Duration::from_secs(3 * 3600);
/// EC2 tag an NFS gateway carries once its port joined the interface group.
pub const NFS_INTERFACE_GROUP_PORT_TAG: &str = "nfs_interface_group_port";

/// What the answer names besides the groups themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryConfig {
    /// Cluster name (instance tag `weka_cluster_name`).
    pub cluster_name: String,
    /// The groups.
    pub groups: AsgConfig,
    /// `backend`.
    pub role: String,
    /// DOWN-backend kick-out timeout.
    pub down_backends_removal_timeout: Duration,
}

impl InventoryConfig {
    /// Reads the configuration; an unparsable timeout fails at init (the reference used 0).
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            cluster_name: env.required(CLUSTER_NAME_ENV)?,
            groups: AsgConfig::from_lookup(env)?,
            role: env
                .optional(ROLE_ENV)
                .unwrap_or_else(|| "backend".to_owned()),
            down_backends_removal_timeout: env.duration_or(
                DOWN_BACKENDS_REMOVAL_TIMEOUT_ENV,
                DEFAULT_DOWN_BACKENDS_REMOVAL_TIMEOUT,
            )?,
        })
    }
}

/// Reads both groups and the running backends; a missing or empty group is an empty
/// inventory, not an error.
pub async fn host_group_info<G, I, E>(
    groups: &G,
    inventory: &I,
    config: &InventoryConfig,
) -> Result<HostGroupInfoResponse, E>
where
    G: ScalingGroups,
    I: InstanceInventory,
    E: From<ScalingError> + From<InventoryError>,
{
    let described = describe(groups, config).await?;
    host_group_info_from(&described, inventory, config).await
}

/// Both groups as Auto Scaling describes them now (one call).
pub async fn describe<G: ScalingGroups>(
    groups: &G,
    config: &InventoryConfig,
) -> Result<Vec<ScalingGroup>, ScalingError> {
    let mut names = vec![config.groups.backend.clone()];
    names.extend(config.groups.nfs.clone());
    groups.describe_groups(&names).await
}

/// The backend instances `described` shows in a lifecycle wait state (`Pending:Wait`,
/// `Terminating:Wait`), by id: what confirms a lifecycle action before it is acted on.
pub fn lifecycle_waits(
    described: &[ScalingGroup],
    config: &InventoryConfig,
) -> BTreeMap<String, String> {
    described
        .iter()
        .filter(|g| g.name == config.groups.backend)
        .flat_map(|g| &g.instances)
        .filter_map(|i| {
            let state = &i.instance.lifecycle;
            [Transition::Launch, Transition::Terminate]
                .into_iter()
                .find(|t| in_wait_state(state, *t))
                .map(|t| (i.instance.id.clone(), t.wait_state().to_owned()))
        })
        .collect()
}

/// [`host_group_info`] from groups already described.
pub async fn host_group_info_from<I, E>(
    described: &[ScalingGroup],
    inventory: &I,
    config: &InventoryConfig,
) -> Result<HostGroupInfoResponse, E>
where
    I: InstanceInventory,
    E: From<InventoryError>,
{
    let backend_name = &config.groups.backend;
    let backend = described.iter().find(|g| &g.name == backend_name);
    let nfs = config
        .groups
        .nfs
        .as_ref()
        .and_then(|n| described.iter().find(|g| &g.name == n));
    if backend.is_none() {
        tracing::warn!(asg = %backend_name, "backend auto scaling group not found");
    }
    let nfs_ready: BTreeMap<String, Empty> = nfs
        .into_iter()
        .flat_map(|g| &g.instances)
        .filter(|i| {
            i.tags
                .get(NFS_INTERFACE_GROUP_PORT_TAG)
                .is_some_and(|v| v == "ready")
        })
        .filter_map(|i| Some((i.instance.private_ip.clone()?, Empty {})))
        .collect();
    let backend_ips = inventory
        .running_instances(&config.cluster_name, Group::Backend.hostgroup_tag())
        .await?
        .into_iter()
        .filter_map(|i| i.private_ip)
        .collect();
    let response = HostGroupInfoResponse {
        username: String::new(),
        password: Secret::default(),
        admin_password: Secret::default(),
        weka_backends_desired_capacity: backend.map_or(0, |g| i64::from(g.desired_capacity)),
        nfs_backends_desired_capacity: nfs.map_or(0, |g| i64::from(g.desired_capacity)),
        weka_backend_instances: instance_refs(backend),
        nfs_backend_instances: nfs.map(|g| instance_refs(Some(g))),
        nfs_interface_group_instance_ips: (!nfs_ready.is_empty()).then_some(nfs_ready),
        down_backends_removal_timeout: i64::try_from(
            config.down_backends_removal_timeout.as_nanos(),
        )
        .unwrap_or(i64::MAX),
        backend_ips,
        role: config.role.clone(),
        version: PROTOCOL_VERSION,
        lifecycle_waits: None,
    };
    tracing::info!(
        desired = response.weka_backends_desired_capacity,
        instances = response.weka_backend_instances.len(),
        nfs_instances = response.nfs_instances().len(),
        backend_ips = response.backend_ips.len(),
        "fetched inventory"
    );
    Ok(response)
}

fn instance_refs(group: Option<&ScalingGroup>) -> Vec<InstanceRef> {
    group
        .into_iter()
        .flat_map(|g| &g.instances)
        .filter_map(|i| {
            Some(InstanceRef {
                id: i.instance.id.clone(),
                private_ip: i.instance.private_ip.clone()?,
            })
        })
        .collect()
}
