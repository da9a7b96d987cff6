//! Protocol-gateway (§7.5), NFS interface-group setup and join (§7.6), SMB / S3 cluster setup
//! and data-services (§7.7) scripts.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::{
    INSTALL_VARS, InstallParams, LIB_BACKEND_PROBE, LIB_GATEWAY, LIB_HOST, LambdaConfig, PRELUDE,
    Protocol, Val, fill, install_vars, lambda_vars,
};

const GATEWAY: &str = include_str!("templates/gateway.sh");
const GATEWAY_CLUSTERIZE: &str = include_str!("templates/gateway_clusterize.sh");
const NFS_JOIN: &str = include_str!("templates/nfs_join.sh");
const NFS_SETUP: &str = include_str!("templates/nfs_setup.sh");
const DATA_SERVICES: &str = include_str!("templates/data_services.sh");
const PROTOCOL_SETUP: &str = include_str!("templates/protocol_setup.sh");

/// What a gateway does once its `frontend0` container is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GatewayFollowUp {
    /// Register through `clusterize` (first NFS set, SMB, SMB-W, S3) and run its result.
    Clusterize,
    /// NFS state already clusterized: add this gateway's port to `interface_group`, then call
    /// `join_nfs_finalization`.
    NfsJoin {
        /// NFS interface group name.
        interface_group: String,
    },
}

/// Parameters of a protocol-gateway first-boot script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayParams {
    /// Lambdas the script may call (`report`, `status`, `fetch`, and `clusterize` or
    /// `join_nfs_finalization`).
    pub lambdas: LambdaConfig,
    /// `Nfs`, `Smb`, `Smbw` or `S3`.
    pub protocol: Protocol,
    /// Installation settings.
    pub install: InstallParams,
    /// Cores of the gateway's `frontend0` container.
    pub frontend_cores: u32,
    /// ALB private IP used as join address; `None` probes `fetch`'s `backend_ips`.
    pub alb_ip: Option<Ipv4Addr>,
    /// Follow-up once the container is ready.
    pub follow_up: GatewayFollowUp,
}

/// Renders a protocol-gateway script (frontend0 joined to the cluster, 180 s readiness bound,
/// `weka status -J` health check).
pub fn render_protocol_gateway(params: &GatewayParams) -> String {
    let alb = params.alb_ip.map(|ip| ip.to_string()).unwrap_or_default();
    let (kind, tail, group) = match &params.follow_up {
        GatewayFollowUp::Clusterize => ("protocol-gateway", GATEWAY_CLUSTERIZE, ""),
        GatewayFollowUp::NfsJoin { interface_group } => {
            ("nfs-join", NFS_JOIN, interface_group.as_str())
        }
    };
    let template = [
        PRELUDE,
        INSTALL_VARS,
        LIB_HOST,
        LIB_BACKEND_PROBE,
        LIB_GATEWAY,
        GATEWAY,
        tail,
    ]
    .concat();
    let mut vars = lambda_vars(kind, &params.lambdas, params.protocol);
    vars.extend(install_vars(&params.install));
    vars.extend([
        ("FRONTEND_CORES", Val::Int(params.frontend_cores.into())),
        ("ALB_IP", Val::Str(&alb)),
        ("INTERFACE_GROUP_NAME", Val::Str(group)),
    ]);
    fill(&template, &vars)
}

/// One registered NFS gateway's port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NfsGatewayPort {
    /// WEKA container uid of its `frontend0`.
    pub container_uid: String,
    /// NIC name serving NFS.
    pub nic_name: String,
}

/// Parameters of the NFS interface-group setup script (clusterize result for the last NFS
/// gateway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NfsSetupParams {
    /// Lambdas the script may call (`report`, `fetch`, `clusterize_finalization`).
    pub lambdas: LambdaConfig,
    /// Interface group name (≤ 11 characters per Terraform validation).
    pub interface_group: String,
    /// Ports of all registered gateways; the first is the host running the script.
    pub gateways: Vec<NfsGatewayPort>,
    /// Secondary IPs to float in the group.
    pub secondary_ips: Vec<Ipv4Addr>,
}

/// Renders the NFS interface-group setup script.
pub fn render_nfs_setup(params: &NfsSetupParams) -> String {
    let uids = params
        .gateways
        .iter()
        .map(|g| g.container_uid.clone())
        .collect();
    let nics = params.gateways.iter().map(|g| g.nic_name.clone()).collect();
    let ips = params
        .secondary_ips
        .iter()
        .map(Ipv4Addr::to_string)
        .collect();
    let template = [PRELUDE, LIB_BACKEND_PROBE, LIB_GATEWAY, NFS_SETUP].concat();
    let mut vars = lambda_vars("nfs-setup", &params.lambdas, Protocol::Nfs);
    vars.extend([
        ("INTERFACE_GROUP_NAME", Val::Str(&params.interface_group)),
        ("GATEWAY_CONTAINER_UIDS", Val::Words(uids)),
        ("GATEWAY_NIC_NAMES", Val::Words(nics)),
        ("SECONDARY_IPS", Val::Words(ips)),
    ]);
    fill(&template, &vars)
}

/// The protocol cluster a gateway set forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProtocolCluster {
    /// `weka smb cluster create <name> <domain> .config_fs --container-ids …` (SMB-W: WEKA's
    /// default since the config filesystem is given).
    Smb {
        /// NetBIOS name (1..15 characters).
        name: String,
        /// Active Directory domain.
        domain: String,
    },
    /// `weka s3 cluster create <default_fs> .config_fs --container … --port <port>`.
    S3 {
        /// Filesystem new buckets go to.
        default_fs: String,
        /// S3 port.
        port: u16,
    },
}

/// One gateway of the set, as EC2 knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolGateway {
    /// EC2 instance id.
    pub instance_id: String,
    /// Private IP (WEKA's `host_ip` of its `frontend0` container).
    pub private_ip: Ipv4Addr,
}

/// Parameters of the SMB / S3 cluster setup script (clusterize's answer to such a gateway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolSetupParams {
    /// Lambdas the script may call (`report`, `fetch`).
    pub lambdas: LambdaConfig,
    /// `Smb`, `Smbw` or `S3`.
    pub protocol: Protocol,
    /// The gateway the script runs on.
    pub instance_id: String,
    /// What to create.
    pub cluster: ProtocolCluster,
    /// Every gateway of the protocol; the one with the lowest instance id creates the cluster.
    pub gateways: Vec<ProtocolGateway>,
}

/// Why a protocol setup script could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolSetupError {
    /// The gateway running the script is not in the set.
    #[error("gateway {0} is not one of the protocol's gateways")]
    NotAGateway(String),
}

/// Renders the SMB / S3 cluster setup: once every gateway's `frontend0` is up, the lowest
/// instance id creates the cluster with all their container ids; the others wait for it, and a
/// gateway that finds the cluster without itself adds itself.
pub fn render_protocol_setup(params: &ProtocolSetupParams) -> Result<String, ProtocolSetupError> {
    let mut gateways = params.gateways.clone();
    gateways.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    gateways.dedup_by(|a, b| a.instance_id == b.instance_id);
    let own = gateways
        .iter()
        .find(|g| g.instance_id == params.instance_id)
        .ok_or_else(|| ProtocolSetupError::NotAGateway(params.instance_id.clone()))?
        .private_ip
        .to_string();
    let creator = gateways
        .first()
        .map(|g| g.private_ip.to_string())
        .unwrap_or_default();
    let ips = gateways.iter().map(|g| g.private_ip.to_string()).collect();
    let (kind, name, domain, default_fs, port) = match &params.cluster {
        ProtocolCluster::Smb { name, domain } => ("smb", name.as_str(), domain.as_str(), "", 0),
        ProtocolCluster::S3 { default_fs, port } => ("s3", "", "", default_fs.as_str(), *port),
    };
    let template = [PRELUDE, PROTOCOL_SETUP].concat();
    let mut vars = lambda_vars("protocol-setup", &params.lambdas, params.protocol);
    vars.extend([
        ("PROTOCOL_KIND", Val::Str(kind)),
        ("SMB_CLUSTER_NAME", Val::Str(name)),
        ("SMB_DOMAIN_NAME", Val::Str(domain)),
        ("S3_DEFAULT_FS", Val::Str(default_fs)),
        ("S3_PORT", Val::Int(port.into())),
        ("GATEWAY_IPS", Val::Words(ips)),
        ("CREATOR_IP", Val::Str(&creator)),
        ("OWN_IP", Val::Str(&own)),
        ("VM", Val::Str(&params.instance_id)),
    ]);
    Ok(fill(&template, &vars))
}

/// Parameters of the data-services script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataServicesParams {
    /// Lambdas the script may call (`report`, `status`, `fetch`).
    pub lambdas: LambdaConfig,
    /// Installation settings.
    pub install: InstallParams,
    /// ALB private IP used as join address; `None` probes `fetch`'s `backend_ips`.
    pub alb_ip: Option<Ipv4Addr>,
}

/// Renders the data-services script (`dataserv` container joined to the cluster).
pub fn render_data_services(params: &DataServicesParams) -> String {
    let alb = params.alb_ip.map(|ip| ip.to_string()).unwrap_or_default();
    let template = [
        PRELUDE,
        INSTALL_VARS,
        LIB_HOST,
        LIB_BACKEND_PROBE,
        LIB_GATEWAY,
        DATA_SERVICES,
    ]
    .concat();
    let mut vars = lambda_vars("data-services", &params.lambdas, Protocol::Data);
    vars.extend(install_vars(&params.install));
    vars.push(("ALB_IP", Val::Str(&alb)));
    fill(&template, &vars)
}
