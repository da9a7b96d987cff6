//! Every environment variable name a function reads, defined once. The table of which function
//! gets which is `infra/function-env.json`, checked against the code and the module by
//! `shared/tests/infra.rs`.

/// Secret id of the admin password.
pub const ADMIN_PASSWORD_ID_ENV: &str = "ADMIN_PASSWORD_ID";
/// Internal ALB whose IP gateways join through.
pub const ALB_ARN_SUFFIX_ENV: &str = "ALB_ARN_SUFFIX";
/// Backend Auto Scaling group.
pub const ASG_NAME_ENV: &str = "ASG_NAME";
/// Instances younger than this many minutes are never terminated as strays (default 30).
pub const BOOTSTRAP_GRACE_MINUTES_ENV: &str = "BOOTSTRAP_GRACE_MINUTES";
/// cgroups mode of backends and each gateway kind.
pub const CGROUPS_MODE_ENV: &str = "CGROUPS_MODE";
/// See [`CLUSTERIZE_LAMBDA_NAME_ENV`].
pub const CLUSTERIZE_FINALIZATION_LAMBDA_NAME_ENV: &str = "CLUSTERIZE_FINALIZATION_LAMBDA_NAME";
/// Lambda names the scripts call.
pub const CLUSTERIZE_LAMBDA_NAME_ENV: &str = "CLUSTERIZE_LAMBDA_NAME";
/// After this long without finalization, another member may take over the clusterization.
pub const CLUSTERIZE_TIMEOUT_MINUTES_ENV: &str = "CLUSTERIZE_TIMEOUT_MINUTES";
/// The WEKA cluster's name, used in tags and messages.
pub const CLUSTER_NAME_ENV: &str = "CLUSTER_NAME";
/// Core counts of the three backend containers.
pub const COMPUTE_CORES_ENV: &str = "COMPUTE_CONTAINER_CORES_NUM";
/// `compute0` memory, e.g. `32.9GB`.
pub const COMPUTE_MEMORY_ENV: &str = "COMPUTE_MEMORY";
/// Secret id of the deployment user's password.
pub const DEPLOYMENT_PASSWORD_ID_ENV: &str = "DEPLOYMENT_PASSWORD_ID";
/// DOWN-backend kick-out timeout (Go duration, default `3h`).
pub const DOWN_BACKENDS_REMOVAL_TIMEOUT_ENV: &str = "DOWN_BACKENDS_REMOVAL_TIMEOUT";
/// See [`COMPUTE_CORES_ENV`].
pub const DRIVE_CORES_ENV: &str = "DRIVE_CONTAINER_CORES_NUM";
/// See [`CLUSTERIZE_LAMBDA_NAME_ENV`].
pub const FETCH_LAMBDA_NAME_ENV: &str = "FETCH_LAMBDA_NAME";
/// Frontend cores (> 0 adds `frontend0` containers to the cluster).
pub const FRONTEND_CORES_ENV: &str = "FRONTEND_CONTAINER_CORES_NUM";
/// Number of backends that form the cluster.
pub const HOSTS_NUM_ENV: &str = "HOSTS_NUM";
/// Hot spares of the cluster.
pub const HOTSPARE_ENV: &str = "HOTSPARE";
/// AWS's RSA certificate for the region (PEM or its bare base64 body): instance requests must
/// carry an identity document it verifies. Unset: identities are not checked.
pub const INSTANCE_IDENTITY_CERTIFICATE_ENV: &str = "INSTANCE_IDENTITY_CERTIFICATE";
/// DPDK networking.
pub const INSTALL_DPDK_ENV: &str = "INSTALL_DPDK";
/// Installer URL; the get.weka.io form `https://$TOKEN@get.weka.io/dist/v1/install/<v>/<v>?…`
/// becomes a run-time token fetch.
pub const INSTALL_URL_ENV: &str = "INSTALL_URL";
/// See [`CLUSTERIZE_LAMBDA_NAME_ENV`].
pub const JOIN_NFS_FINALIZATION_LAMBDA_NAME_ENV: &str = "JOIN_NFS_FINALIZATION_LAMBDA_NAME";
/// The launch hook's heartbeat timeout (e.g. `900s`), as configured on the hook.
pub const LAUNCH_HEARTBEAT_TIMEOUT_ENV: &str = "LAUNCH_HEARTBEAT_TIMEOUT";
/// Name of the launch hook; unset or empty: no launch hook.
pub const LAUNCH_LIFECYCLE_HOOK_NAME_ENV: &str = "LAUNCH_LIFECYCLE_HOOK_NAME";
/// A termination is let go at the latest this long before the hook's deadline (e.g. `2m`).
pub const LIFECYCLE_DEADLINE_MARGIN_ENV: &str = "LIFECYCLE_DEADLINE_MARGIN";
/// At most one heartbeat per instance per this interval (e.g. `30s`).
pub const LIFECYCLE_HEARTBEAT_INTERVAL_ENV: &str = "LIFECYCLE_HEARTBEAT_INTERVAL";
/// Most terminations per group per run (default 50).
pub const MAX_TERMINATIONS_PER_RUN_ENV: &str = "MAX_TERMINATIONS_PER_RUN";
/// A configured minimum backend count, used when larger than the geometry's.
pub const MIN_CLUSTER_SIZE_ENV: &str = "MIN_CLUSTER_SIZE";
/// NFS gateway Auto Scaling group (may not exist).
pub const NFS_ASG_NAME_ENV: &str = "NFS_ASG_NAME";
/// NFS interface group name.
pub const NFS_INTERFACE_GROUP_NAME_ENV: &str = "NFS_INTERFACE_GROUP_NAME";
/// See [`CGROUPS_MODE_ENV`].
pub const NFS_CGROUPS_MODE_ENV: &str = "NFS_PROTOCOL_GATEWAY_CGROUPS_MODE";
/// Frontend cores per gateway protocol.
pub const NFS_FE_CORES_ENV: &str = "NFS_PROTOCOL_GATEWAY_FE_CORES_NUM";
/// Partition key of the NFS gateway group's state (`<prefix>-<cluster>-nfs-state`).
pub const NFS_STATE_KEY_ENV: &str = "NFS_STATE_KEY";
/// NICs per instance.
pub const NICS_NUM_ENV: &str = "NICS_NUM";
/// OBS bucket (created by the Terraform module, in the right region).
pub const OBS_NAME_ENV: &str = "OBS_NAME";
/// SSD share of the tiered filesystem, in percent.
pub const OBS_TIERING_SSD_PERCENT_ENV: &str = "OBS_TIERING_SSD_PERCENT";
/// Script run after the cluster is up.
pub const POST_CLUSTER_SETUP_SCRIPT_ENV: &str = "POST_CLUSTER_SETUP_SCRIPT";
/// Protection level of the cluster.
pub const PROTECTION_LEVEL_ENV: &str = "PROTECTION_LEVEL";
/// Proxy for WEKA home.
pub const PROXY_URL_ENV: &str = "PROXY_URL";
/// Region the scripts pass to `aws lambda invoke`.
pub const REGION_ENV: &str = "REGION";
/// How many reports are kept per host (older ones are overwritten).
pub const REPORTS_PER_HOST_ENV: &str = "REPORTS_PER_HOST";
/// See [`CLUSTERIZE_LAMBDA_NAME_ENV`].
pub const REPORT_LAMBDA_NAME_ENV: &str = "REPORT_LAMBDA_NAME";
/// How many days a report is kept before DynamoDB's TTL removes it.
pub const REPORT_RETENTION_DAYS_ENV: &str = "REPORT_RETENTION_DAYS";
/// Role reported to scale-down (`backend`).
pub const ROLE_ENV: &str = "ROLE";
/// See [`CGROUPS_MODE_ENV`].
pub const S3_CGROUPS_MODE_ENV: &str = "S3_PROTOCOL_GATEWAY_CGROUPS_MODE";
/// See [`NFS_FE_CORES_ENV`].
pub const S3_FE_CORES_ENV: &str = "S3_PROTOCOL_GATEWAY_FE_CORES_NUM";
/// Number of S3 gateways the module creates (the set the S3 cluster is created on).
pub const S3_PROTOCOL_GATEWAYS_NUM_ENV: &str = "S3_PROTOCOL_GATEWAYS_NUM";
/// Whether the S3 gateways create the S3 cluster (`true`, default) or only join as frontends.
pub const S3_SETUP_PROTOCOL_ENV: &str = "S3_SETUP_PROTOCOL";
/// Most machines acted on at once.
pub const SCALE_DOWN_PARALLELISM_ENV: &str = "SCALE_DOWN_PARALLELISM";
/// How long a step's hold on the `scale` lease lasts (e.g. `3m`). Must exceed the longest
/// Lambda timeout of the loop and stay below the state machine's `TimeoutSeconds`.
pub const SCALE_LEASE_TTL_ENV: &str = "SCALE_LEASE_TTL";
/// Create the default filesystem.
pub const SET_DEFAULT_FS_ENV: &str = "SET_DEFAULT_FS";
/// OBS tiering.
pub const SET_OBS_ENV: &str = "SET_OBS";
/// See [`CGROUPS_MODE_ENV`].
pub const SMB_CGROUPS_MODE_ENV: &str = "SMB_PROTOCOL_GATEWAY_CGROUPS_MODE";
/// See [`NFS_FE_CORES_ENV`].
pub const SMB_FE_CORES_ENV: &str = "SMB_PROTOCOL_GATEWAY_FE_CORES_NUM";
/// NetBIOS name of the SMB cluster (default `Weka-SMB`).
pub const SMB_CLUSTER_NAME_ENV: &str = "SMB_CLUSTER_NAME";
/// Active Directory domain of the SMB cluster (required when SMB gateways set it up).
pub const SMB_DOMAIN_NAME_ENV: &str = "SMB_DOMAIN_NAME";
/// Number of SMB gateways the module creates (the set the SMB cluster is created on).
pub const SMB_PROTOCOL_GATEWAYS_NUM_ENV: &str = "SMB_PROTOCOL_GATEWAYS_NUM";
/// Whether the SMB gateways create the SMB cluster (`true`, default) or only join as frontends.
pub const SMB_SETUP_PROTOCOL_ENV: &str = "SMB_SETUP_PROTOCOL";
/// Partition key of the backend cluster's state (`<prefix>-<cluster>-state`).
pub const STATE_KEY_ENV: &str = "STATE_KEY";
/// Name of the DynamoDB table holding the cluster state.
pub const STATE_TABLE_ENV: &str = "STATE_TABLE";
/// See [`CLUSTERIZE_LAMBDA_NAME_ENV`].
pub const STATUS_LAMBDA_NAME_ENV: &str = "STATUS_LAMBDA_NAME";
/// Stripe data width of the cluster.
pub const STRIPE_WIDTH_ENV: &str = "STRIPE_WIDTH";
/// The terminate hook's heartbeat timeout (e.g. `900s`), as configured on the hook.
pub const TERMINATE_HEARTBEAT_TIMEOUT_ENV: &str = "TERMINATE_HEARTBEAT_TIMEOUT";
/// Name of the terminate hook; unset or empty: no terminate hook.
pub const TERMINATE_LIFECYCLE_HOOK_NAME_ENV: &str = "TERMINATE_LIFECYCLE_HOOK_NAME";
/// Tiering demotion start, seconds.
pub const TIERING_START_DEMOTE_ENV: &str = "TIERING_START_DEMOTE";
/// Tiering retention, seconds.
pub const TIERING_TARGET_SSD_RETENTION_ENV: &str = "TIERING_TARGET_SSD_RETENTION";
/// Secret id of the get.weka.io token (read by the script at run time, never by the Lambda).
pub const TOKEN_ID_ENV: &str = "TOKEN_ID";
/// Secret id of the deployment user's name.
pub const USERNAME_ID_ENV: &str = "USERNAME_ID";
/// Per-request timeout (e.g. `5s`).
pub const WEKA_API_TIMEOUT_ENV: &str = "WEKA_API_TIMEOUT";
/// URL template of the JSON-RPC endpoint; `{ip}` is replaced by a backend's private IP.
pub const WEKA_API_URL_TEMPLATE_ENV: &str = "WEKA_API_URL_TEMPLATE";
/// WEKA home URL.
pub const WEKA_HOME_URL_ENV: &str = "WEKA_HOME_URL";
/// The region the Lambda runs in, set by the Lambda runtime (the fallback of `REGION`).
pub const AWS_REGION_ENV: &str = "AWS_REGION";
/// WEKA's own module's state table, read when adopting the cluster it formed.
pub const REFERENCE_STATE_TABLE_ENV: &str = "REFERENCE_STATE_TABLE";
/// Hash key attribute of [`REFERENCE_STATE_TABLE_ENV`] (default `Key`).
pub const REFERENCE_STATE_HASH_KEY_ENV: &str = "REFERENCE_STATE_HASH_KEY";
/// Key of WEKA's module's backend state item.
pub const REFERENCE_STATE_KEY_ENV: &str = "REFERENCE_STATE_KEY";
/// Key of WEKA's module's NFS state item.
pub const REFERENCE_NFS_STATE_KEY_ENV: &str = "REFERENCE_NFS_STATE_KEY";
