//! Generation of the bash scripts that Lambdas return to EC2 instances (behaviour.md §4, §7).
//!
//! Scripts are assembled from the files under `templates/` (compiled in with `include_str!`).
//! Templates contain `@@NAME@@` placeholders only on variable-assignment lines; [`fill`] replaces
//! them in one pass (a value that itself contains `@@X@@` is never re-expanded), rendering strings
//! through [`shell_quote`] and integers / booleans from typed Rust values. Secrets are never
//! parameters: scripts fetch them at run time (Secrets Manager for the get.weka.io token, the
//! `fetch` Lambda for WEKA credentials) with tracing disabled.

mod backend;
mod clusterize;
mod gateway;

pub use backend::{BackendDeployParams, JoinParams, render_backend_deploy, render_join};
pub use clusterize::{
    ClusterHost, ClusterizationParams, ClusterizeWait, NotNeededParams, ObsTiering,
    RegisteredParams, ScriptError, Tiering, render_acknowledgement, render_clusterization,
    render_not_needed, render_registered,
};
pub use gateway::{
    DataServicesParams, GatewayFollowUp, GatewayParams, NfsGatewayPort, NfsSetupParams,
    ProtocolCluster, ProtocolGateway, ProtocolSetupError, ProtocolSetupParams,
    render_data_services, render_nfs_setup, render_protocol_gateway, render_protocol_setup,
};

use serde::{Deserialize, Serialize};

const PRELUDE: &str = include_str!("templates/prelude.sh");
const INSTALL_VARS: &str = include_str!("templates/install_vars.sh");
const BACKEND_VARS: &str = include_str!("templates/backend_vars.sh");
const LIB_HOST: &str = include_str!("templates/lib_host.sh");
const LIB_BACKEND_PROBE: &str = include_str!("templates/lib_backend_probe.sh");
const LIB_GATEWAY: &str = include_str!("templates/lib_gateway.sh");

/// Quotes `value` as one bash word: single quotes, with embedded `'` written as `'\''`.
///
/// Everything between single quotes is literal to bash (no `$`, backtick, `\` or glob
/// processing), so this is safe for any string, including newlines and the empty string.
pub fn shell_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for ch in value.chars() {
        if ch == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(ch);
        }
    }
    out.push('\'');
    out
}

/// A value substituted into a template.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    /// Any string; rendered with [`shell_quote`].
    Str(&'a str),
    /// An integer; rendered as decimal digits.
    Int(u64),
    /// A boolean; rendered as `true` / `false`.
    Bool(bool),
    /// Words of a bash array body; each rendered with [`shell_quote`], space separated.
    Words(Vec<String>),
}

impl Val<'_> {
    fn render(&self) -> String {
        match self {
            Val::Str(s) => shell_quote(s),
            Val::Int(n) => n.to_string(),
            Val::Bool(b) => b.to_string(),
            Val::Words(words) => words
                .iter()
                .map(|w| shell_quote(w))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// Replaces every `@@NAME@@` whose name is in `vars`, in a single left-to-right pass.
/// Unknown placeholders are left as they are (tests assert none survive).
pub(crate) fn fill(template: &str, vars: &[(&str, Val<'_>)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("@@") {
        let after = &rest[start + 2..];
        let Some(len) = after.find("@@") else {
            break;
        };
        let name = &after[..len];
        match vars.iter().find(|(n, _)| *n == name) {
            Some((_, val)) => {
                out.push_str(&rest[..start]);
                out.push_str(&val.render());
                rest = &after[len + 2..];
            }
            None => {
                // Keep the first "@@" literally and rescan from the second one.
                out.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Which Lambda a generated script may call, by function name; `None` makes the bash function
/// fail loudly when called (the reference silently echoed a stub message instead).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaConfig {
    /// AWS region passed to `aws lambda invoke --region`.
    pub region: String,
    /// Lambda behind `report`.
    pub report: Option<String>,
    /// Lambda behind `clusterize`.
    pub clusterize: Option<String>,
    /// Lambda behind `clusterize_finalization`.
    pub clusterize_finalization: Option<String>,
    /// Lambda behind `fetch`.
    pub fetch: Option<String>,
    /// Lambda behind `status`.
    pub status: Option<String>,
    /// Lambda behind `join_nfs_finalization`.
    pub join_nfs_finalization: Option<String>,
}

/// The `protocol` of the instance a script runs on (report / clusterize payloads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// A backend (empty protocol string).
    Backend,
    /// NFS protocol gateway.
    Nfs,
    /// SMB protocol gateway.
    Smb,
    /// SMB-W protocol gateway.
    Smbw,
    /// S3 protocol gateway.
    S3,
    /// Data-services instance.
    Data,
}

impl Protocol {
    /// The wire value used in Lambda payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Backend => "",
            Protocol::Nfs => "nfs",
            Protocol::Smb => "smb",
            Protocol::Smbw => "smbw",
            Protocol::S3 => "s3",
            Protocol::Data => "data",
        }
    }
}

/// Where the WEKA software comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstallSource {
    /// get.weka.io installer of `version`; the token is read at run time from Secrets Manager
    /// secret `token_secret_id` (the instance role needs `secretsmanager:GetSecretValue` on it).
    WekaVersion {
        /// WEKA release, e.g. `4.4.2`.
        version: String,
        /// Secret id / ARN holding the get.weka.io token.
        token_secret_id: String,
    },
    /// An installer script URL used verbatim (no token is added).
    Url(String),
    /// A release tarball (`s3://` via `aws s3 cp`, else downloaded with curl).
    Tar(String),
}

/// cgroups mode handed to the WEKA installer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupsMode {
    /// `auto`.
    Auto,
    /// `force_v2` (Terraform default).
    ForceV2,
}

impl CgroupsMode {
    fn as_str(self) -> &'static str {
        match self {
            CgroupsMode::Auto => "auto",
            CgroupsMode::ForceV2 => "force_v2",
        }
    }
}

/// Per-instance installation settings shared by every first-boot script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallParams {
    /// EC2 instance id of the instance the script is for.
    pub instance_id: String,
    /// EBS volume id (with dash) to format and mount on `/opt/weka`.
    pub weka_volume_id: String,
    /// Software source.
    pub source: InstallSource,
    /// HTTP(S) proxy for downloads and the installer; `None` for direct access.
    pub proxy_url: Option<String>,
    /// Installer cgroups mode.
    pub cgroups_mode: CgroupsMode,
    /// Number of NICs attached (index 0 is management).
    pub nics_num: u32,
    /// DPDK networking (one NIC per core) instead of UDP.
    pub install_dpdk: bool,
}

/// Core and memory layout of a backend's containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendLayout {
    /// Cores of `drives0`.
    pub drive_cores: u32,
    /// Cores of `compute0`.
    pub compute_cores: u32,
    /// Cores of `frontend0`; 0 means no frontend container.
    pub frontend_cores: u32,
    /// `--memory` of `compute0`, e.g. `32.9GB`.
    pub compute_memory: String,
}

fn lambda_vars<'a>(
    kind: &'a str,
    lambdas: &'a LambdaConfig,
    protocol: Protocol,
) -> Vec<(&'static str, Val<'a>)> {
    let opt = |o: &'a Option<String>| Val::Str(o.as_deref().unwrap_or(""));
    vec![
        ("KIND", Val::Str(kind)),
        ("REGION", Val::Str(&lambdas.region)),
        ("PROTOCOL", Val::Str(protocol.as_str())),
        ("LAMBDA_REPORT", opt(&lambdas.report)),
        ("LAMBDA_CLUSTERIZE", opt(&lambdas.clusterize)),
        (
            "LAMBDA_CLUSTERIZE_FINALIZATION",
            opt(&lambdas.clusterize_finalization),
        ),
        ("LAMBDA_FETCH", opt(&lambdas.fetch)),
        ("LAMBDA_STATUS", opt(&lambdas.status)),
        (
            "LAMBDA_JOIN_NFS_FINALIZATION",
            opt(&lambdas.join_nfs_finalization),
        ),
    ]
}

fn install_vars(install: &InstallParams) -> Vec<(&'static str, Val<'_>)> {
    let (mode, url, version, secret) = match &install.source {
        InstallSource::WekaVersion {
            version,
            token_secret_id,
        } => (
            "weka-version",
            "",
            version.as_str(),
            token_secret_id.as_str(),
        ),
        InstallSource::Url(url) => ("url", url.as_str(), "", ""),
        InstallSource::Tar(url) => ("tar", url.as_str(), "", ""),
    };
    vec![
        ("VM", Val::Str(&install.instance_id)),
        ("VOLUME_ID", Val::Str(&install.weka_volume_id)),
        ("INSTALL_MODE", Val::Str(mode)),
        ("INSTALL_URL", Val::Str(url)),
        ("WEKA_VERSION", Val::Str(version)),
        ("TOKEN_SECRET_ID", Val::Str(secret)),
        (
            "PROXY_URL",
            Val::Str(install.proxy_url.as_deref().unwrap_or("")),
        ),
        ("CGROUPS_MODE", Val::Str(install.cgroups_mode.as_str())),
        ("NICS_NUM", Val::Int(install.nics_num.into())),
        ("INSTALL_DPDK", Val::Bool(install.install_dpdk)),
    ]
}

fn backend_layout_vars(layout: &BackendLayout) -> Vec<(&'static str, Val<'_>)> {
    vec![
        ("DRIVE_CORES", Val::Int(layout.drive_cores.into())),
        ("COMPUTE_CORES", Val::Int(layout.compute_cores.into())),
        ("FRONTEND_CORES", Val::Int(layout.frontend_cores.into())),
        ("COMPUTE_MEMORY", Val::Str(&layout.compute_memory)),
    ]
}

/// Renders only the Lambda-invoke helper (prelude with `report*`, `die`, `wait_until`, one
/// function per Lambda), e.g. for embedding in `user_data`.
pub fn render_lambda_helper(lambdas: &LambdaConfig, protocol: Protocol) -> String {
    fill(PRELUDE, &lambda_vars("lambda-helper", lambdas, protocol))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_is_literal() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's $(x)"), r"'it'\''s $(x)'");
    }

    #[test]
    fn fill_is_single_pass_and_keeps_unknown() {
        let out = fill(
            "A=@@A@@ B=@@B@@ C=@@C@@ @@",
            &[
                ("A", Val::Str("@@B@@")),
                ("B", Val::Int(7)),
                ("C", Val::Bool(true)),
            ],
        );
        assert_eq!(out, "A='@@B@@' B=7 C=true @@");
        let out = fill(
            "X=(@@X@@) @@U@@",
            &[("X", Val::Words(vec!["a".into(), "b c".into()]))],
        );
        assert_eq!(out, "X=('a' 'b c') @@U@@");
    }
}
