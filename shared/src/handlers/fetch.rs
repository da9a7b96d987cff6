//! `fetch` (state-machine step 1, also called by instance scripts): the backend and NFS Auto
//! Scaling groups with their instances, as `HostGroupInfoResponse` (behaviour.md §5.8).
//!
//! A missing or empty group is an empty inventory, not an error. Credentials are returned only
//! to a direct caller that asks (`fetch_weka_credentials`, `show_admin_password`); a state
//! machine step never gets them (scale-down reads Secrets Manager itself), and is refused if it
//! asks. A state machine step takes the `scale` lease for its execution.
//!
//! The execution's own input arrives as `event` (the schedule's event, `{}`, or an Auto Scaling
//! event). A lifecycle action it announces for one of our hooks is recorded in the state store
//! *before* the lease is asked for: an execution that finds the lease held ends in `LeaseHeld`,
//! and the run holding the lease (or the next one) processes the record.

use crate::config::asg::AsgConfig;
use crate::config::lifecycle::LifecycleConfig;
use crate::config::names::{
    CLUSTER_NAME_ENV, DOWN_BACKENDS_REMOVAL_TIMEOUT_ENV, ROLE_ENV, SCALE_LEASE_TTL_ENV,
};
use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::lifecycle::NewLifecycleAction;
use crate::domain::state::Group;
use crate::error::{Classify, ErrorClass, error_chain};
use crate::lambda::Invocation;
use crate::lambda::PayloadError;
use crate::ports::{
    Clock, InstanceInventory, InventoryError, ScalingError, ScalingGroup, ScalingGroups,
    SecretError, Secrets, SecretsConfig, StateStore, StoreError, deployment_or_admin,
};
use crate::services::lifecycle::{LifecycleError, record};
use crate::services::scale_run::{
    DEFAULT_SCALE_LEASE_TTL, LeaseHeld, Step, decode_step, hold_scale_lease, release_scale_lease,
};
use crate::wire::events::{ScaleTrigger, parse_trigger};
use crate::wire::scale::{Empty, HostGroupInfoResponse, InstanceRef, PROTOCOL_VERSION, Secret};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Default of [`DOWN_BACKENDS_REMOVAL_TIMEOUT_ENV`].
pub const DEFAULT_DOWN_BACKENDS_REMOVAL_TIMEOUT: Duration = Duration::from_secs(3 * 3600);
/// EC2 tag an NFS gateway carries once its port joined the interface group.
pub const NFS_INTERFACE_GROUP_PORT_TAG: &str = "nfs_interface_group_port";

/// `fetch` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the lease lives.
    pub state: StateConfig,
    /// Cluster name (instance tag `weka_cluster_name`).
    pub cluster_name: String,
    /// Backend ASG.
    pub asg_name: String,
    /// NFS ASG, when configured.
    pub nfs_asg_name: Option<String>,
    /// Secret ids.
    pub secrets: SecretsConfig,
    /// `backend`.
    pub role: String,
    /// DOWN-backend kick-out timeout.
    pub down_backends_removal_timeout: Duration,
    /// Lease hold.
    pub lease_ttl: Duration,
    /// The backend group's hooks (which lifecycle events to record).
    pub lifecycle: LifecycleConfig,
}

impl Config {
    /// Reads the configuration; an unparsable timeout fails at init (the reference used 0).
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        let groups = AsgConfig::from_lookup(env)?;
        Ok(Self {
            state: StateConfig::from_lookup(env)?,
            cluster_name: env.required(CLUSTER_NAME_ENV)?,
            asg_name: groups.backend,
            nfs_asg_name: groups.nfs,
            secrets: SecretsConfig::from_lookup(env)?,
            role: env
                .optional(ROLE_ENV)
                .unwrap_or_else(|| "backend".to_owned()),
            down_backends_removal_timeout: env.duration_or(
                DOWN_BACKENDS_REMOVAL_TIMEOUT_ENV,
                DEFAULT_DOWN_BACKENDS_REMOVAL_TIMEOUT,
            )?,
            lease_ttl: env.duration_or(SCALE_LEASE_TTL_ENV, DEFAULT_SCALE_LEASE_TTL)?,
            lifecycle: LifecycleConfig::from_lookup(env)?,
        })
    }
}

/// The reference's request; the scheduled event the state machine used to send decodes as
/// both flags false.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct FetchRequest {
    /// Return the deployment (or admin) credentials.
    #[serde(default)]
    pub fetch_weka_credentials: bool,
    /// Also return the admin password.
    #[serde(default)]
    pub show_admin_password: bool,
    /// The state machine's execution input (what started the run); ignored for direct calls.
    #[serde(default)]
    pub event: Option<serde_json::Value>,
}

/// What `fetch` needs.
#[derive(Debug)]
pub struct Deps<G, I, K, S, C> {
    /// Auto Scaling groups.
    pub groups: G,
    /// Tagged running instances (`backend_ips`).
    pub inventory: I,
    /// Secrets (only for direct callers asking for credentials).
    pub secrets: K,
    /// State store (lease).
    pub store: S,
    /// Clock.
    pub clock: C,
    /// Configuration.
    pub config: Config,
}

/// Why `fetch` failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Malformed payload.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// A state machine step asked for credentials.
    #[error("credentials are never returned to a state machine execution")]
    CredentialsRequestedByStep,
    /// Another execution is acting.
    #[error(transparent)]
    LeaseHeld(#[from] LeaseHeld),
    /// The lease could not be taken.
    #[error("scale lease could not be taken")]
    Store(#[from] StoreError),
    /// A lifecycle action of the starting event could not be recorded (retried, so the event
    /// is not lost).
    #[error("lifecycle event not recorded")]
    Lifecycle(#[from] LifecycleError),
    /// Auto Scaling / EC2 failed.
    #[error("auto scaling groups could not be read")]
    Scaling(#[from] ScalingError),
    /// The tagged-instance query failed.
    #[error("backend instances could not be listed")]
    Inventory(#[from] InventoryError),
    /// A credential could not be read.
    #[error("weka credentials unavailable")]
    Secrets(#[from] SecretError),
}

impl Classify for FetchError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_) | Self::CredentialsRequestedByStep => ErrorClass::InvalidInput,
            Self::LeaseHeld(_) => ErrorClass::Conflict,
            Self::Store(e) => e.class(),
            Self::Scaling(_) | Self::Lifecycle(_) => ErrorClass::Transient,
            Self::Inventory(e) => e.class(),
            Self::Secrets(e) => e.class(),
        }
    }
}

/// Handles one `fetch` invocation.
#[tracing::instrument(skip_all, fields(execution))]
pub async fn handle<G, I, K, S, C>(
    deps: &Deps<G, I, K, S, C>,
    payload: serde_json::Value,
    invocation: Invocation,
) -> Result<HostGroupInfoResponse, FetchError>
where
    G: ScalingGroups,
    I: InstanceInventory,
    K: Secrets,
    S: StateStore,
    C: Clock,
{
    // An empty payload (the reference's `set_backend_ip` call) is a request for nothing.
    let payload = if payload.is_null() {
        serde_json::json!({})
    } else {
        payload
    };
    let step: Step<FetchRequest> = decode_step(payload)?;
    let Some(execution) = step.execution.as_deref() else {
        // Boxed: the SDK futures nest deeper than the default layout query limit.
        return Box::pin(inventory(deps, &step.input)).await;
    };
    tracing::Span::current().record("execution", execution);
    if step.input.fetch_weka_credentials || step.input.show_admin_password {
        return Err(FetchError::CredentialsRequestedByStep);
    }
    // Boxed: the SDK futures nest deeper than the default layout query limit.
    Box::pin(record_trigger(deps, step.input.event.as_ref())).await?;
    let owner = step.owner(&invocation);
    hold_scale_lease(&deps.store, &owner, deps.clock.now(), deps.config.lease_ttl).await??;
    let result = Box::pin(inventory(deps, &FetchRequest::default())).await;
    if result.is_err() {
        release_scale_lease(&deps.store, &owner).await;
    }
    result
}

/// Records the lifecycle action an Auto Scaling event announces, when it is one of ours.
async fn record_trigger<G, I, K, S, C>(
    deps: &Deps<G, I, K, S, C>,
    event: Option<&serde_json::Value>,
) -> Result<(), FetchError>
where
    S: StateStore,
{
    let trigger = match parse_trigger(event) {
        Ok(trigger) => trigger,
        Err(e) => {
            // The run still reconciles the groups; a wait state is recorded by observation.
            tracing::warn!(error = %error_chain(&e), "unreadable start event; running as a tick");
            return Ok(());
        }
    };
    match trigger {
        ScaleTrigger::Tick => tracing::debug!("started by the schedule"),
        ScaleTrigger::LifecycleAction(notice) => {
            if !deps
                .config
                .lifecycle
                .owns(&notice.group, &notice.hook, notice.transition)
            {
                tracing::info!(group = %notice.group, hook = %notice.hook, "lifecycle action of a hook we do not own; ignored");
                return Ok(());
            }
            record(&deps.store, &NewLifecycleAction::from(&notice)).await?;
        }
        ScaleTrigger::GroupActivity {
            detail_type,
            group,
            instance_id,
        } => {
            tracing::info!(detail_type, group, instance = ?instance_id, "started by a group event")
        }
        ScaleTrigger::Other { detail_type } => {
            tracing::info!(detail_type, "started by an event with nothing to record");
        }
    }
    Ok(())
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

async fn inventory<G, I, K, S, C>(
    deps: &Deps<G, I, K, S, C>,
    request: &FetchRequest,
) -> Result<HostGroupInfoResponse, FetchError>
where
    G: ScalingGroups,
    I: InstanceInventory,
    K: Secrets,
{
    let config = &deps.config;
    let mut names = vec![config.asg_name.clone()];
    names.extend(config.nfs_asg_name.clone());
    let groups = deps.groups.describe_groups(&names).await?;
    let backend = groups.iter().find(|g| g.name == config.asg_name);
    let nfs = config
        .nfs_asg_name
        .as_ref()
        .and_then(|n| groups.iter().find(|g| &g.name == n));
    if backend.is_none() {
        tracing::warn!(asg = %config.asg_name, "backend auto scaling group not found");
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
    let backend_ips = deps
        .inventory
        .running_instances(&config.cluster_name, Group::Backend.hostgroup_tag())
        .await?
        .into_iter()
        .filter_map(|i| i.private_ip)
        .collect();

    let mut response = HostGroupInfoResponse {
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
    };
    if request.fetch_weka_credentials || request.show_admin_password {
        let credentials = deployment_or_admin(&deps.secrets, &config.secrets).await?;
        response.username = credentials.username;
        response.password = Secret::new(credentials.password);
    }
    if request.show_admin_password {
        response.admin_password =
            Secret::new(deps.secrets.get(&config.secrets.admin_password_id).await?);
    }
    tracing::info!(
        desired = response.weka_backends_desired_capacity,
        instances = response.weka_backend_instances.len(),
        nfs_instances = response.nfs_instances().len(),
        backend_ips = response.backend_ips.len(),
        credentials = !response.password.is_empty(),
        "fetched inventory"
    );
    Ok(response)
}
