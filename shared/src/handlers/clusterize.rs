//! `clusterize`: called by an instance that finished installing. Registers it for
//! clusterization (one conditional write, no lock) and answers with a script:
//! - the clusterization script to the instance that completes the set and claims it (or to a
//!   member taking over a claim that went stale: the recovery path of a failed clusterization);
//! - a "registered k/N" script that waits for the cluster, polling `clusterize` again;
//! - a "not needed" script (reports, exits 1) to instances arriving after the set is complete;
//! - to SMB / S3 gateways, the protocol cluster's setup once all the protocol's gateways run
//!   (no state is written: WEKA itself shows whether the cluster exists and who is in it).

use crate::config::callers::CallerPolicy;
use crate::config::geometry::GeometryConfig;
use crate::config::names::{
    ADMIN_PASSWORD_ID_ENV, CLUSTER_NAME_ENV, CLUSTERIZE_TIMEOUT_MINUTES_ENV,
    DEPLOYMENT_PASSWORD_ID_ENV, FRONTEND_CORES_ENV, HOSTS_NUM_ENV, INSTALL_DPDK_ENV,
    NFS_INTERFACE_GROUP_NAME_ENV, OBS_NAME_ENV, OBS_TIERING_SSD_PERCENT_ENV,
    POST_CLUSTER_SETUP_SCRIPT_ENV, PROXY_URL_ENV, SET_DEFAULT_FS_ENV, SET_OBS_ENV,
    TIERING_START_DEMOTE_ENV, TIERING_TARGET_SSD_RETENTION_ENV, WEKA_HOME_URL_ENV,
};
use crate::config::protocols::{ProtocolSetup, S3_DEFAULT_FS, S3_PORT};
use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::events::EventKind;
use crate::domain::geometry::{Geometry, GeometryError, GeometryInput, validate};
use crate::domain::instance::{InstanceId, RegistrationFieldError, check_registration_fields};
use crate::domain::metrics::{
    CLUSTERIZATION_TAKEOVERS, CLUSTERIZATIONS_STARTED, REGISTRATIONS, REGISTRATIONS_REFUSED, Sample,
};
use crate::domain::passwords::generate_password;
use crate::domain::scripts::{
    ClusterHost, ClusterizationParams, ClusterizeWait, LambdaConfig, NfsGatewayPort,
    NfsSetupParams, NotNeededParams, ObsTiering, ProtocolCluster, ProtocolGateway,
    ProtocolSetupError, ProtocolSetupParams, RegisteredParams, ScriptError, Tiering,
    render_acknowledgement, render_clusterization, render_nfs_setup, render_not_needed,
    render_protocol_setup, render_registered,
};
use crate::domain::state::{ClaimOutcome, ClusterState, Group, Registration, RegistrationRefusal};
use crate::error::{Classify, ErrorClass};
use crate::lambda::{PayloadError, decode_identified};
use crate::ports::metrics;
use crate::ports::{
    Clock, InstanceInventory, InventoryError, ScalingGroups, SecretError, Secrets, StateStore,
    StoreError,
};
use crate::services::bootstrap::{lambda_config, script_protocol};
use crate::services::callers::{CallerError, admit, identify};
use crate::services::events;
use crate::wire::bootstrap::{Protocol, Vm};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Default of [`CLUSTERIZE_TIMEOUT_MINUTES_ENV`].
pub const DEFAULT_CLUSTERIZE_TIMEOUT_MINUTES: u64 = 60;
/// Seconds between a waiting member's polls.
pub const WAIT_POLL_SECS: u32 = 60;
/// Seconds between an SMB / S3 gateway's polls while not all its peers run yet.
pub const GATEWAY_POLL_SECS: u32 = 30;
/// Polls of such a gateway before it gives up (20 minutes).
pub const GATEWAY_POLLS: u32 = 40;

/// `clusterize` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the state lives.
    pub state: StateConfig,
    /// Cluster name.
    pub cluster_name: String,
    /// Lambdas the scripts call.
    pub lambdas: LambdaConfig,
    /// Validated geometry; a bad one is kept as its error so every call answers with it
    /// (typed, naming the values) before anything runs.
    pub geometry: Result<Geometry, GeometryError>,
    /// Secret ids the passwords are stored under.
    pub admin_password_id: String,
    /// See `admin_password_id`.
    pub deployment_password_id: String,
    /// `frontend0` containers are part of the cluster.
    pub add_frontend: bool,
    /// DPDK networking.
    pub install_dpdk: bool,
    /// Proxy.
    pub proxy_url: Option<String>,
    /// WEKA home.
    pub weka_home_url: Option<String>,
    /// Tiering timings.
    pub tiering: Tiering,
    /// OBS tiering, when enabled.
    pub obs: Option<ObsTiering>,
    /// Post-cluster script.
    pub post_cluster_script: Option<String>,
    /// NFS interface group name.
    pub nfs_interface_group: String,
    /// Claim staleness.
    pub clusterize_timeout: Duration,
    /// Who may register.
    pub callers: CallerPolicy,
    /// SMB and S3 clusters the gateways create.
    pub protocols: ProtocolSetup,
}

impl Config {
    /// Reads the configuration.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        let set_obs = env.flag_or(SET_OBS_ENV, false)?;
        let configured = GeometryConfig::from_lookup(env)?;
        let geometry = validate(&GeometryInput {
            cluster_size: env.parsed(HOSTS_NUM_ENV)?,
            protection_level: configured.protection_level,
            stripe_width: configured.stripe_width,
            hot_spare: configured.hot_spare,
            set_default_fs: env.flag_or(SET_DEFAULT_FS_ENV, true)?,
            obs_tiering: set_obs,
        });
        let obs = if set_obs {
            Some(ObsTiering {
                bucket: env.required(OBS_NAME_ENV)?,
                ssd_percent: env.parsed_or(OBS_TIERING_SSD_PERCENT_ENV, 20)?,
            })
        } else {
            None
        };
        let minutes: u64 = env.parsed_or(
            CLUSTERIZE_TIMEOUT_MINUTES_ENV,
            DEFAULT_CLUSTERIZE_TIMEOUT_MINUTES,
        )?;
        Ok(Self {
            state: StateConfig::from_lookup(env)?,
            cluster_name: env.required(CLUSTER_NAME_ENV)?,
            lambdas: lambda_config(env),
            geometry,
            admin_password_id: env.required(ADMIN_PASSWORD_ID_ENV)?,
            deployment_password_id: env.required(DEPLOYMENT_PASSWORD_ID_ENV)?,
            add_frontend: env.parsed_or::<u32>(FRONTEND_CORES_ENV, 0)? > 0,
            install_dpdk: env.flag_or(INSTALL_DPDK_ENV, true)?,
            proxy_url: env.optional(PROXY_URL_ENV),
            weka_home_url: env.optional(WEKA_HOME_URL_ENV),
            tiering: Tiering {
                target_ssd_retention_secs: env
                    .parsed_or(TIERING_TARGET_SSD_RETENTION_ENV, 86_400)?,
                start_demote_secs: env.parsed_or(TIERING_START_DEMOTE_ENV, 10)?,
            },
            obs,
            post_cluster_script: env.optional(POST_CLUSTER_SETUP_SCRIPT_ENV),
            nfs_interface_group: env
                .optional(NFS_INTERFACE_GROUP_NAME_ENV)
                .unwrap_or_else(|| "weka-ig".to_owned()),
            clusterize_timeout: Duration::from_secs(minutes.saturating_mul(60)),
            callers: CallerPolicy::from_lookup(env)?,
            protocols: ProtocolSetup::from_lookup(env)?,
        })
    }
}

/// What `clusterize` needs.
#[derive(Debug)]
pub struct Deps<S, I, K, C, G> {
    /// The state store.
    pub store: S,
    /// Auto Scaling (who may register).
    pub groups: G,
    /// EC2 inventory.
    pub inventory: I,
    /// Secrets Manager.
    pub secrets: K,
    /// The clock.
    pub clock: C,
    /// Configuration.
    pub config: Config,
}

/// Why `clusterize` failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterizeError {
    /// The payload is not a `Vm`.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// `name` is not an EC2 instance id.
    #[error("invalid instance name {0:?}: expected an EC2 instance id (i-…)")]
    InvalidName(String),
    /// `container_uid` or `nic_name` is out of bounds.
    #[error(transparent)]
    Field(#[from] RegistrationFieldError),
    /// The caller may not register the instance it names.
    #[error("registration refused")]
    Caller(#[from] CallerError),
    /// Data services never register for clusterization.
    #[error("protocol data does not clusterize; data-services instances join through deploy")]
    DataProtocol,
    /// The configured geometry is unusable.
    #[error("invalid data protection configuration")]
    Geometry(#[from] GeometryError),
    /// A registered instance has no usable private IP.
    #[error("registered instance {0} has no private IPv4 address")]
    MissingIp(String),
    /// The clusterization script could not be built.
    #[error("clusterization script could not be rendered")]
    Script(#[from] ScriptError),
    /// The SMB / S3 setup script could not be built.
    #[error("protocol setup script could not be rendered")]
    ProtocolSetup(#[from] ProtocolSetupError),
    /// The store failed.
    #[error("cluster state could not be updated")]
    Store(#[from] StoreError),
    /// The inventory failed.
    #[error("instance inventory could not be read")]
    Inventory(#[from] InventoryError),
    /// Secrets Manager failed.
    #[error("cluster passwords could not be stored")]
    Secrets(#[from] SecretError),
}

impl Classify for ClusterizeError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_)
            | Self::InvalidName(_)
            | Self::Field(_)
            | Self::DataProtocol
            | Self::Geometry(_) => ErrorClass::InvalidInput,
            Self::MissingIp(_) => ErrorClass::Transient,
            Self::Script(_) | Self::ProtocolSetup(_) => ErrorClass::Internal,
            Self::Caller(e) => e.class(),
            Self::Store(e) => e.class(),
            Self::Inventory(e) => e.class(),
            Self::Secrets(e) => e.class(),
        }
    }
}

/// Handles one `clusterize` invocation; the answer is the script text.
#[tracing::instrument(skip_all, fields(instance, protocol))]
pub async fn handle<S, I, K, C, G>(
    deps: &Deps<S, I, K, C, G>,
    payload: serde_json::Value,
) -> Result<String, ClusterizeError>
where
    S: StateStore,
    I: InstanceInventory,
    K: Secrets,
    C: Clock,
    G: ScalingGroups,
{
    let (vm, identity): (Vm, _) = decode_identified(payload)?;
    InstanceId::parse(&vm.name).map_err(|e| ClusterizeError::InvalidName(e.0))?;
    check_registration_fields(&vm)?;
    let span = tracing::Span::current();
    span.record("instance", vm.name.as_str());
    span.record("protocol", vm.protocol.as_str());
    let lambdas = &deps.config.lambdas;
    match vm.protocol {
        Protocol::Smb | Protocol::Smbw | Protocol::S3 => {
            match protocol_cluster(&deps.config.protocols, vm.protocol) {
                Some((expected, cluster)) => {
                    protocol_setup(deps, &vm, identity.as_ref(), expected, cluster).await
                }
                None => {
                    let message = format!(
                        "{} protocol gw: {} setup is done",
                        vm.protocol.as_str().to_uppercase(),
                        vm.name
                    );
                    Ok(render_acknowledgement(
                        lambdas,
                        script_protocol(vm.protocol),
                        &vm.name,
                        &message,
                    ))
                }
            }
        }
        Protocol::Data => Err(ClusterizeError::DataProtocol),
        Protocol::Nfs | Protocol::Backend => {
            let group = Group::for_protocol(vm.protocol);
            admit(
                &deps.groups,
                &deps.config.callers,
                group,
                &vm.name,
                identity.as_ref(),
            )
            .await?;
            if group == Group::Nfs {
                clusterize_nfs(deps, &vm).await
            } else {
                clusterize_backend(deps, &vm).await
            }
        }
    }
}

fn refusal_script(lambdas: &LambdaConfig, vm: &Vm, refusal: RegistrationRefusal) -> String {
    let reason = match refusal {
        RegistrationRefusal::AlreadyClusterized => {
            "the cluster is already clusterized; recycle this instance so it joins".to_owned()
        }
        RegistrationRefusal::SetComplete { target } => format!(
            "the clusterization set of {target} instances is already complete; recycle this instance so it joins"
        ),
    };
    render_not_needed(&NotNeededParams {
        lambdas: lambdas.clone(),
        protocol: script_protocol(vm.protocol),
        instance_id: vm.name.clone(),
        reason,
    })
}

async fn clusterize_backend<S, I, K, C, G>(
    deps: &Deps<S, I, K, C, G>,
    vm: &Vm,
) -> Result<String, ClusterizeError>
where
    S: StateStore,
    I: InstanceInventory,
    K: Secrets,
    C: Clock,
{
    let config = &deps.config;
    let geometry = config.geometry.clone()?;
    let (registration, new) = deps.store.register_noting_new(Group::Backend, vm).await?;
    let (position, target) = match registration {
        Registration::Refused(refusal) => {
            tracing::warn!(?refusal, "registration refused");
            let now = deps.clock.now();
            metrics::emit(now, &[Sample::count(REGISTRATIONS_REFUSED, 1)]);
            let reason = format!("registration refused: {}", refusal_text(refusal));
            events::record(&deps.store, EventKind::Refusal, &vm.name, &reason, now).await;
            return Ok(refusal_script(&config.lambdas, vm, refusal));
        }
        Registration::Registered { position, target } => (position, target),
    };
    // Only a full set can be claimed: the completer claims at once; others read first, so
    // the uncontended registration stays one write.
    let full = registration.completes_set() || deps.store.is_full(Group::Backend).await?;
    let now = deps.clock.now();
    let claim = if full {
        deps.store
            .claim_clusterization(Group::Backend, &vm.name, now, config.clusterize_timeout)
            .await?
    } else {
        ClaimOutcome::NotEligible
    };
    tracing::info!(position, target, ?claim, "registered");
    metrics::emit(now, &registration_samples(&claim));
    record_registration(
        &deps.store,
        vm,
        new.then_some((position, target)),
        &claim,
        now,
    )
    .await;
    match claim {
        ClaimOutcome::Granted { replaced } => {
            if let Some(stale) = &replaced {
                tracing::warn!(stale_clusterizer = %stale.instance, since = %stale.since, "taking over a stale clusterization");
            }
            let state = deps.store.load(Group::Backend).await?;
            clusterization_script(deps, &state, geometry).await
        }
        ClaimOutcome::AlreadyClusterized => Ok(render_acknowledgement(
            &config.lambdas,
            script_protocol(vm.protocol),
            &vm.name,
            &format!(
                "This ({}) is instance {position}/{target} of the clusterized set",
                vm.name
            ),
        )),
        ClaimOutcome::HeldBy(_) | ClaimOutcome::NotEligible => {
            let polls =
                u32::try_from(config.clusterize_timeout.as_secs() * 2 / u64::from(WAIT_POLL_SECS))
                    .unwrap_or(u32::MAX)
                    .max(1);
            Ok(render_registered(&RegisteredParams {
                lambdas: config.lambdas.clone(),
                protocol: script_protocol(vm.protocol),
                instance_id: vm.name.clone(),
                registered: position,
                desired: target,
                wait: Some(ClusterizeWait {
                    poll_secs: WAIT_POLL_SECS,
                    polls,
                }),
            }))
        }
    }
}

/// Records a new backend registration (`registered`: its position and target; `None` for a
/// retry or a member's poll) and a won claim, as events (best effort).
async fn record_registration(
    store: &impl StateStore,
    vm: &Vm,
    registered: Option<(u32, u32)>,
    claim: &ClaimOutcome,
    now: DateTime<Utc>,
) {
    if let Some((position, target)) = registered {
        let reason = registered_text(position, target);
        events::record(store, EventKind::Registration, &vm.name, &reason, now).await;
    }
    if let ClaimOutcome::Granted { replaced } = claim {
        let reason = match replaced {
            Some(stale) => format!(
                "claimed the clusterization, taking it over from {} (stale since {})",
                stale.instance, stale.since
            ),
            None => "claimed the clusterization: the set is complete".to_owned(),
        };
        events::record(store, EventKind::Claim, &vm.name, &reason, now).await;
    }
}

fn registered_text(position: u32, target: u32) -> String {
    if position >= target {
        format!("registered: completes the set of {target}")
    } else {
        format!("registered: {position} of {target} so far")
    }
}

fn refusal_text(refusal: RegistrationRefusal) -> String {
    match refusal {
        RegistrationRefusal::AlreadyClusterized => "the cluster is already formed".to_owned(),
        RegistrationRefusal::SetComplete { target } => {
            format!("the set of {target} is complete without it")
        }
    }
}

/// The existing password in `id`, or a fresh one stored there. Reusing keeps a retried or
/// taken-over clusterization consistent with a cluster the first attempt may have created.
async fn ensure_password(secrets: &impl Secrets, id: &str) -> Result<(), SecretError> {
    match secrets.get(id).await {
        Ok(_) => Ok(()),
        Err(SecretError::Empty { .. }) => {
            let password = generate_password(&mut rand::rng());
            secrets.put(id, &password).await
        }
        Err(other) => Err(other),
    }
}

async fn clusterization_script<S, I, K, C, G>(
    deps: &Deps<S, I, K, C, G>,
    state: &ClusterState,
    geometry: Geometry,
) -> Result<String, ClusterizeError>
where
    I: InstanceInventory,
    K: Secrets,
{
    let config = &deps.config;
    let ids: Vec<String> = state.instances.iter().map(|vm| vm.name.clone()).collect();
    let described = deps.inventory.describe_instances(&ids).await?;
    let ip_of: HashMap<&str, Ipv4Addr> = described
        .iter()
        .filter_map(|i| Some((i.id.as_str(), i.private_ip.as_deref()?.parse().ok()?)))
        .collect();
    // Paired by id: DescribeInstances does not answer in request order (reference §12.7).
    let hosts = ids
        .iter()
        .map(|id| {
            ip_of
                .get(id.as_str())
                .map(|ip| ClusterHost {
                    instance_id: id.clone(),
                    private_ip: *ip,
                })
                .ok_or_else(|| ClusterizeError::MissingIp(id.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    ensure_password(&deps.secrets, &config.admin_password_id).await?;
    ensure_password(&deps.secrets, &config.deployment_password_id).await?;
    Ok(render_clusterization(&ClusterizationParams {
        lambdas: config.lambdas.clone(),
        cluster_name: config.cluster_name.clone(),
        hosts,
        geometry,
        add_frontend: config.add_frontend,
        install_dpdk: config.install_dpdk,
        proxy_url: config.proxy_url.clone(),
        weka_home_url: config.weka_home_url.clone(),
        tiering: config.tiering,
        obs: config.obs.clone(),
        post_cluster_script: config.post_cluster_script.clone(),
    })?)
}

async fn clusterize_nfs<S, I, K, C, G>(
    deps: &Deps<S, I, K, C, G>,
    vm: &Vm,
) -> Result<String, ClusterizeError>
where
    S: StateStore,
    I: InstanceInventory,
    C: Clock,
{
    let config = &deps.config;
    let (registration, new) = deps.store.register_noting_new(Group::Nfs, vm).await?;
    let now = deps.clock.now();
    let (position, target) = match registration {
        Registration::Refused(refusal) => {
            tracing::warn!(?refusal, "NFS gateway registration refused");
            let reason = format!(
                "NFS gateway registration refused: {}",
                refusal_text(refusal)
            );
            events::record(&deps.store, EventKind::Refusal, &vm.name, &reason, now).await;
            return Ok(refusal_script(&config.lambdas, vm, refusal));
        }
        Registration::Registered { position, target } => (position, target),
    };
    if new {
        let reason = format!("NFS gateway {}", registered_text(position, target));
        events::record(&deps.store, EventKind::Registration, &vm.name, &reason, now).await;
    }
    if !registration.completes_set() {
        return Ok(render_registered(&RegisteredParams {
            lambdas: config.lambdas.clone(),
            protocol: script_protocol(vm.protocol),
            instance_id: vm.name.clone(),
            registered: position,
            desired: target,
            wait: None,
        }));
    }
    let state = deps.store.load(Group::Nfs).await?;
    let ids: Vec<String> = state.instances.iter().map(|v| v.name.clone()).collect();
    let secondary_ips = deps
        .inventory
        .secondary_ips(&ids)
        .await?
        .iter()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    Ok(render_nfs_setup(&NfsSetupParams {
        lambdas: config.lambdas.clone(),
        interface_group: config.nfs_interface_group.clone(),
        gateways: state
            .instances
            .iter()
            .map(|v| NfsGatewayPort {
                container_uid: v.container_uid.clone(),
                nic_name: v.nic_name.clone(),
            })
            .collect(),
        secondary_ips,
    }))
}

/// The cluster an SMB / S3 gateway sets up and on how many gateways; `None` when the module
/// turned the protocol's setup off (the gateways stay plain frontends).
fn protocol_cluster(setup: &ProtocolSetup, protocol: Protocol) -> Option<(u32, ProtocolCluster)> {
    match protocol {
        Protocol::S3 => setup.s3.map(|s3| {
            let cluster = ProtocolCluster::S3 {
                default_fs: S3_DEFAULT_FS.to_owned(),
                port: S3_PORT,
            };
            (s3.gateways, cluster)
        }),
        Protocol::Smb | Protocol::Smbw => setup.smb.as_ref().map(|smb| {
            let cluster = ProtocolCluster::Smb {
                name: smb.name.clone(),
                domain: smb.domain.clone(),
            };
            (smb.gateways, cluster)
        }),
        Protocol::Backend | Protocol::Nfs | Protocol::Data => None,
    }
}

/// An SMB / S3 gateway whose frontend is up: once all `expected` gateways of its protocol run,
/// the setup script naming them (the lowest instance id creates the cluster); before that, a
/// script that polls `clusterize` again. Only a running gateway of the protocol is answered.
async fn protocol_setup<S, I, K, C, G>(
    deps: &Deps<S, I, K, C, G>,
    vm: &Vm,
    proof: Option<&crate::wire::bootstrap::IdentityProof>,
    expected: u32,
    cluster: ProtocolCluster,
) -> Result<String, ClusterizeError>
where
    I: InstanceInventory,
{
    let config = &deps.config;
    if let Some(caller) = identify(&config.callers, proof).map_err(CallerError::from)? {
        caller.must_be(&vm.name).map_err(CallerError::from)?;
    }
    let tag = match cluster {
        ProtocolCluster::Smb { .. } => "SMB",
        ProtocolCluster::S3 { .. } => "S3",
    };
    let running = deps
        .inventory
        .running_gateways(&config.cluster_name, tag)
        .await?;
    if !running.iter().any(|i| i.id == vm.name) {
        return Err(CallerError::NotInGroup {
            instance: vm.name.clone(),
            group: format!("{tag} gateway"),
        }
        .into());
    }
    let gateways: Vec<ProtocolGateway> = running
        .iter()
        .filter_map(|i| {
            Some(ProtocolGateway {
                instance_id: i.id.clone(),
                private_ip: i.private_ip.as_deref()?.parse().ok()?,
            })
        })
        .collect();
    let seen = u32::try_from(gateways.len()).unwrap_or(u32::MAX);
    tracing::info!(gateways = seen, expected, "protocol gateway ready");
    if seen < expected {
        return Ok(render_registered(&RegisteredParams {
            lambdas: config.lambdas.clone(),
            protocol: script_protocol(vm.protocol),
            instance_id: vm.name.clone(),
            registered: seen,
            desired: expected,
            wait: Some(ClusterizeWait {
                poll_secs: GATEWAY_POLL_SECS,
                polls: GATEWAY_POLLS,
            }),
        }));
    }
    Ok(render_protocol_setup(&ProtocolSetupParams {
        lambdas: config.lambdas.clone(),
        protocol: script_protocol(vm.protocol),
        instance_id: vm.name.clone(),
        cluster,
        gateways,
    })?)
}

/// A taken registration's samples: the registration, and whether this call claimed the
/// clusterization (and took it over from a stale clusterizer).
fn registration_samples(claim: &ClaimOutcome) -> [Sample; 3] {
    let (started, takeover) = match claim {
        ClaimOutcome::Granted { replaced } => (true, replaced.is_some()),
        _ => (false, false),
    };
    [
        Sample::count(REGISTRATIONS, 1),
        Sample::flag(CLUSTERIZATIONS_STARTED, started),
        Sample::flag(CLUSTERIZATION_TAKEOVERS, takeover),
    ]
}
