//! Configuration shared by the handlers that hand scripts to instances (`deploy`,
//! `clusterize`): which Lambdas the scripts may call, and in which region.

use crate::config::Lookup;
use crate::config::names::{
    AWS_REGION_ENV, CLUSTERIZE_FINALIZATION_LAMBDA_NAME_ENV, CLUSTERIZE_LAMBDA_NAME_ENV,
    FETCH_LAMBDA_NAME_ENV, JOIN_NFS_FINALIZATION_LAMBDA_NAME_ENV, REGION_ENV,
    REPORT_LAMBDA_NAME_ENV, STATUS_LAMBDA_NAME_ENV,
};
use crate::domain::scripts::LambdaConfig;

/// The Lambdas a generated script may call; unset names make the script's function fail
/// loudly when called. The region falls back to the Lambda's own `AWS_REGION`.
pub fn lambda_config(env: &impl Lookup) -> LambdaConfig {
    LambdaConfig {
        region: env
            .optional(REGION_ENV)
            .or_else(|| env.optional(AWS_REGION_ENV))
            .unwrap_or_default(),
        report: env.optional(REPORT_LAMBDA_NAME_ENV),
        clusterize: env.optional(CLUSTERIZE_LAMBDA_NAME_ENV),
        clusterize_finalization: env.optional(CLUSTERIZE_FINALIZATION_LAMBDA_NAME_ENV),
        fetch: env.optional(FETCH_LAMBDA_NAME_ENV),
        status: env.optional(STATUS_LAMBDA_NAME_ENV),
        join_nfs_finalization: env.optional(JOIN_NFS_FINALIZATION_LAMBDA_NAME_ENV),
    }
}

/// The scripts' protocol for a payload protocol.
pub const fn script_protocol(
    protocol: crate::wire::bootstrap::Protocol,
) -> crate::domain::scripts::Protocol {
    use crate::domain::scripts::Protocol as Script;
    use crate::wire::bootstrap::Protocol as Wire;
    match protocol {
        Wire::Backend => Script::Backend,
        Wire::Nfs => Script::Nfs,
        Wire::Smb => Script::Smb,
        Wire::Smbw => Script::Smbw,
        Wire::S3 => Script::S3,
        Wire::Data => Script::Data,
    }
}
