//! `deploy`: the first Lambda a new instance calls (from user data). Answers with the bash
//! script for it: install and register (before clusterization), join (after), or the gateway
//! and data-services scripts. Reads only; the script fetches secrets at run time.

use crate::config::names::{
    ALB_ARN_SUFFIX_ENV, CGROUPS_MODE_ENV, CLUSTER_NAME_ENV, COMPUTE_CORES_ENV, COMPUTE_MEMORY_ENV,
    DRIVE_CORES_ENV, FRONTEND_CORES_ENV, INSTALL_DPDK_ENV, INSTALL_URL_ENV, NFS_CGROUPS_MODE_ENV,
    NFS_FE_CORES_ENV, NFS_INTERFACE_GROUP_NAME_ENV, NICS_NUM_ENV, PROXY_URL_ENV,
    S3_CGROUPS_MODE_ENV, S3_FE_CORES_ENV, SMB_CGROUPS_MODE_ENV, SMB_FE_CORES_ENV, TOKEN_ID_ENV,
};
use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::instance::InstanceId;
use crate::domain::scripts::{
    BackendDeployParams, BackendLayout, CgroupsMode, DataServicesParams, GatewayFollowUp,
    GatewayParams, InstallParams, InstallSource, JoinParams, LambdaConfig, render_backend_deploy,
    render_data_services, render_join, render_protocol_gateway,
};
use crate::domain::state::Group;
use crate::error::{Classify, ErrorClass};
use crate::lambda::{PayloadError, decode};
use crate::ports::{InstanceInventory, InventoryError, StateStore, StoreError};
use crate::services::bootstrap::{lambda_config, script_protocol};
use crate::wire::bootstrap::{Protocol, Vm};
use std::net::Ipv4Addr;

/// Device the `/opt/weka` EBS volume is attached at by the launch template.
pub const WEKA_VOLUME_DEVICE: &str = "/dev/sdp";

/// Per-gateway-kind settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayKind {
    /// Frontend cores.
    pub frontend_cores: u32,
    /// cgroups mode.
    pub cgroups: CgroupsMode,
}

/// `deploy` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the state lives.
    pub state: StateConfig,
    /// Cluster name (instance tag).
    pub cluster_name: String,
    /// Lambdas the scripts call.
    pub lambdas: LambdaConfig,
    /// Software source.
    pub source: InstallSource,
    /// Download proxy.
    pub proxy_url: Option<String>,
    /// Backend container layout.
    pub layout: BackendLayout,
    /// Backend cgroups mode.
    pub cgroups: CgroupsMode,
    /// NICs per instance.
    pub nics_num: u32,
    /// DPDK networking.
    pub install_dpdk: bool,
    /// NFS interface group name.
    pub nfs_interface_group: String,
    /// NFS, SMB and S3 gateway settings.
    pub nfs: GatewayKind,
    /// See `nfs`.
    pub smb: GatewayKind,
    /// See `nfs`.
    pub s3: GatewayKind,
    /// ALB ARN suffix, if an ALB fronts the backends.
    pub alb_arn_suffix: Option<String>,
}

fn cgroups(env: &impl Lookup, name: &'static str) -> Result<CgroupsMode, ConfigError> {
    match env.optional(name).as_deref() {
        None | Some("auto") => Ok(CgroupsMode::Auto),
        Some("force_v2") => Ok(CgroupsMode::ForceV2),
        Some(other) => Err(ConfigError::Invalid {
            name,
            value: other.to_owned(),
            reason: "expected auto or force_v2".to_owned(),
        }),
    }
}

/// Interprets `INSTALL_URL`: the get.weka.io form becomes a version whose token the script
/// reads from Secrets Manager at run time; `.tar` URLs are tarballs; anything else is used as is.
pub fn install_source(
    url: &str,
    token_secret_id: Option<&str>,
) -> Result<InstallSource, ConfigError> {
    if let Some(rest) = url.strip_prefix("https://$TOKEN@get.weka.io/dist/v1/install/") {
        let version = rest.split('/').next().unwrap_or_default();
        let secret = token_secret_id.filter(|s| !s.is_empty());
        return match (version.is_empty(), secret) {
            (false, Some(secret)) => Ok(InstallSource::WekaVersion {
                version: version.to_owned(),
                token_secret_id: secret.to_owned(),
            }),
            (true, _) => Err(ConfigError::Invalid {
                name: INSTALL_URL_ENV,
                value: url.to_owned(),
                reason: "the get.weka.io URL names no version".to_owned(),
            }),
            (false, None) => Err(ConfigError::Missing { name: TOKEN_ID_ENV }),
        };
    }
    let path = url.split('?').next().unwrap_or(url);
    Ok(
        if path.ends_with(".tar") || path.ends_with(".tar.gz") || path.ends_with(".tgz") {
            InstallSource::Tar(url.to_owned())
        } else {
            InstallSource::Url(url.to_owned())
        },
    )
}

impl Config {
    /// Reads the configuration.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        let url = env.required(INSTALL_URL_ENV)?;
        let gateway =
            |cores: &'static str, mode: &'static str| -> Result<GatewayKind, ConfigError> {
                Ok(GatewayKind {
                    frontend_cores: env.parsed_or(cores, 1)?,
                    cgroups: cgroups(env, mode)?,
                })
            };
        Ok(Self {
            state: StateConfig::from_lookup(env)?,
            cluster_name: env.required(CLUSTER_NAME_ENV)?,
            lambdas: lambda_config(env),
            source: install_source(&url, env.optional(TOKEN_ID_ENV).as_deref())?,
            proxy_url: env.optional(PROXY_URL_ENV),
            layout: BackendLayout {
                drive_cores: env.parsed_or(DRIVE_CORES_ENV, 1)?,
                compute_cores: env.parsed_or(COMPUTE_CORES_ENV, 1)?,
                frontend_cores: env.parsed_or(FRONTEND_CORES_ENV, 0)?,
                compute_memory: env.required(COMPUTE_MEMORY_ENV)?,
            },
            cgroups: cgroups(env, CGROUPS_MODE_ENV)?,
            nics_num: env.parsed_or(NICS_NUM_ENV, 1)?,
            install_dpdk: env.flag_or(INSTALL_DPDK_ENV, true)?,
            nfs_interface_group: env
                .optional(NFS_INTERFACE_GROUP_NAME_ENV)
                .unwrap_or_else(|| "weka-ig".to_owned()),
            nfs: gateway(NFS_FE_CORES_ENV, NFS_CGROUPS_MODE_ENV)?,
            smb: gateway(SMB_FE_CORES_ENV, SMB_CGROUPS_MODE_ENV)?,
            s3: gateway(S3_FE_CORES_ENV, S3_CGROUPS_MODE_ENV)?,
            alb_arn_suffix: env.optional(ALB_ARN_SUFFIX_ENV),
        })
    }
}

/// What `deploy` needs.
#[derive(Debug)]
pub struct Deps<S, I> {
    /// The state store.
    pub store: S,
    /// EC2 inventory.
    pub inventory: I,
    /// Configuration.
    pub config: Config,
}

/// Why no script could be made.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The payload is not a `Vm`.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// `name` is not an EC2 instance id.
    #[error("invalid instance name {0:?}: expected an EC2 instance id (i-…)")]
    InvalidName(String),
    /// A join was asked for but no backend is running to join.
    #[error("cluster {cluster} is clusterized but no running backend was found to join")]
    NoBackendToJoin {
        /// Cluster name.
        cluster: String,
    },
    /// The state could not be read.
    #[error("cluster state could not be read")]
    Store(#[from] StoreError),
    /// The inventory failed.
    #[error("instance inventory could not be read")]
    Inventory(#[from] InventoryError),
}

impl Classify for DeployError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_) | Self::InvalidName(_) => ErrorClass::InvalidInput,
            Self::NoBackendToJoin { .. } => ErrorClass::Conflict,
            Self::Store(e) => e.class(),
            Self::Inventory(e) => e.class(),
        }
    }
}

/// Handles one `deploy` invocation; the answer is the script text (a JSON string).
#[tracing::instrument(skip_all, fields(instance, protocol))]
pub async fn handle<S: StateStore, I: InstanceInventory>(
    deps: &Deps<S, I>,
    payload: serde_json::Value,
) -> Result<String, DeployError> {
    let vm: Vm = decode(payload)?;
    InstanceId::parse(&vm.name).map_err(|e| DeployError::InvalidName(e.0))?;
    let span = tracing::Span::current();
    span.record("instance", vm.name.as_str());
    span.record("protocol", vm.protocol.as_str());
    let config = &deps.config;
    let volume = deps
        .inventory
        .attached_volume(&vm.name, WEKA_VOLUME_DEVICE)
        .await?
        .unwrap_or_default();
    let install = |cgroups: CgroupsMode| InstallParams {
        instance_id: vm.name.clone(),
        weka_volume_id: volume.clone(),
        source: config.source.clone(),
        proxy_url: config.proxy_url.clone(),
        cgroups_mode: cgroups,
        nics_num: config.nics_num,
        install_dpdk: config.install_dpdk,
    };
    let script = match vm.protocol {
        Protocol::Backend => {
            let state = deps.store.load(Group::Backend).await?;
            if state.clusterized {
                let backend_ips = join_ips(deps, &vm.name).await?;
                tracing::info!(backends = backend_ips.len(), "handing out the join script");
                render_join(&JoinParams {
                    lambdas: config.lambdas.clone(),
                    install: install(config.cgroups),
                    layout: config.layout.clone(),
                    backend_ips,
                })
            } else {
                tracing::info!("handing out the install-and-register script");
                render_backend_deploy(&BackendDeployParams {
                    lambdas: config.lambdas.clone(),
                    install: install(config.cgroups),
                    layout: config.layout.clone(),
                })
            }
        }
        Protocol::Nfs | Protocol::Smb | Protocol::Smbw | Protocol::S3 => {
            let kind = match vm.protocol {
                Protocol::Nfs => &config.nfs,
                Protocol::S3 => &config.s3,
                _ => &config.smb,
            };
            let follow_up =
                if vm.protocol == Protocol::Nfs && deps.store.load(Group::Nfs).await?.clusterized {
                    GatewayFollowUp::NfsJoin {
                        interface_group: config.nfs_interface_group.clone(),
                    }
                } else {
                    GatewayFollowUp::Clusterize
                };
            render_protocol_gateway(&GatewayParams {
                lambdas: config.lambdas.clone(),
                protocol: script_protocol(vm.protocol),
                install: install(kind.cgroups),
                frontend_cores: kind.frontend_cores,
                alb_ip: alb_ip(deps).await,
                follow_up,
            })
        }
        Protocol::Data => render_data_services(&DataServicesParams {
            lambdas: config.lambdas.clone(),
            install: install(config.cgroups),
            alb_ip: alb_ip(deps).await,
        }),
    };
    Ok(script)
}

async fn join_ips<S, I: InstanceInventory>(
    deps: &Deps<S, I>,
    joining: &str,
) -> Result<Vec<Ipv4Addr>, DeployError> {
    let running = deps
        .inventory
        .running_instances(&deps.config.cluster_name, Group::Backend.hostgroup_tag())
        .await?;
    let ips: Vec<Ipv4Addr> = running
        .iter()
        .filter(|i| i.id != joining)
        .filter_map(|i| i.private_ip.as_deref()?.parse().ok())
        .collect();
    if ips.is_empty() {
        return Err(DeployError::NoBackendToJoin {
            cluster: deps.config.cluster_name.clone(),
        });
    }
    Ok(ips)
}

/// The ALB's IP when one is configured; a lookup failure falls back to probing backends
/// from the script, so it is logged, not fatal.
async fn alb_ip<S, I: InstanceInventory>(deps: &Deps<S, I>) -> Option<Ipv4Addr> {
    let suffix = deps.config.alb_arn_suffix.as_deref()?;
    match deps.inventory.load_balancer_ip(suffix).await {
        Ok(ip) => ip?.parse().ok(),
        Err(e) => {
            tracing::warn!(error = %crate::error::error_chain(&e), "alb ip lookup failed");
            None
        }
    }
}
