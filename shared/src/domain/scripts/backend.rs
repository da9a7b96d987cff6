//! Backend first-boot scripts: deploy before clusterization (§7.2) and join after it (§7.4).

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::{
    BACKEND_VARS, BackendLayout, INSTALL_VARS, InstallParams, LIB_BACKEND_PROBE, LIB_HOST,
    LambdaConfig, PRELUDE, Protocol, Val, backend_layout_vars, fill, install_vars, lambda_vars,
};

const DEPLOY_BACKEND: &str = include_str!("templates/deploy_backend.sh");
const JOIN: &str = include_str!("templates/join.sh");

/// Parameters of the backend deploy script (instance registered before clusterization).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendDeployParams {
    /// Lambdas the script may call (needs `report`, `clusterize`).
    pub lambdas: LambdaConfig,
    /// Installation settings.
    pub install: InstallParams,
    /// Container layout.
    pub layout: BackendLayout,
}

/// Parameters of the join script (backend launched after clusterization).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinParams {
    /// Lambdas the script may call (needs `report`, `fetch`).
    pub lambdas: LambdaConfig,
    /// Installation settings: the join installs from the same verified source as the deploy
    /// (never from a backend), then takes the cluster's running version from a live backend.
    pub install: InstallParams,
    /// Container layout.
    pub layout: BackendLayout,
    /// Private IPs of running backends, in the order they are tried and passed as `--join-ips`.
    pub backend_ips: Vec<Ipv4Addr>,
}

fn backend_script(
    kind: &str,
    lambdas: &LambdaConfig,
    install: &InstallParams,
    layout: &BackendLayout,
    body: &str,
    extra: Vec<(&'static str, Val<'_>)>,
) -> String {
    let template = [
        PRELUDE,
        INSTALL_VARS,
        BACKEND_VARS,
        LIB_HOST,
        LIB_BACKEND_PROBE,
        body,
    ]
    .concat();
    let mut vars = lambda_vars(kind, lambdas, Protocol::Backend);
    vars.extend(install_vars(install));
    vars.extend(backend_layout_vars(layout));
    vars.extend(extra);
    fill(&template, &vars)
}

/// Renders the backend deploy script: /opt/weka volume, install, containers, NVMe discovery and
/// signing, then `clusterize` and execution of its result.
pub fn render_backend_deploy(params: &BackendDeployParams) -> String {
    backend_script(
        "backend-deploy",
        &params.lambdas,
        &params.install,
        &params.layout,
        DEPLOY_BACKEND,
        Vec::new(),
    )
}

/// Renders the join script: install from the deployment's verified source, version from a live
/// backend, `--join-ips`, drive signing and `drive scan` with bounded retries, deactivation of
/// this host's own container ids on failure.
pub fn render_join(params: &JoinParams) -> String {
    let ips = params.backend_ips.iter().map(Ipv4Addr::to_string).collect();
    backend_script(
        "backend-join",
        &params.lambdas,
        &params.install,
        &params.layout,
        JOIN,
        vec![("BACKEND_IPS", Val::Words(ips))],
    )
}
