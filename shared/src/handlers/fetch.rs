//! `fetch` (called by instance scripts, with the reference's payload): the backend and NFS Auto
//! Scaling groups with their instances, as `HostGroupInfoResponse` (behaviour.md §5.8), and the
//! deployment credentials to a caller that asks (`fetch_weka_credentials`).
//!
//! It refuses what only the state machine may do: a payload with an `execution` or an `event`
//! is an error, so no instance can take the scale lease or have a lifecycle action recorded (the
//! state machine calls `scale-fetch`). The admin password (`show_admin_password`) is given only
//! to the script that creates the cluster: while the backend group forms and a clusterization
//! is claimed, and, when identities are checked, to the claimant alone. Before a claim (a set
//! still gathering, a switched cluster not yet adopted) and once the cluster has formed, no
//! instance gets it.

use crate::config::callers::CallerPolicy;
use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::state::{ClusterState, Group};
use crate::error::{Classify, ErrorClass};
use crate::lambda::{PayloadError, decode_identified};
use crate::ports::{
    InstanceInventory, InventoryError, ScalingError, ScalingGroups, SecretError, Secrets,
    SecretsConfig, StateStore, StoreError, deployment_or_admin,
};
use crate::services::callers::{CallerError, identify};
use crate::services::inventory::{InventoryConfig, host_group_info};
use crate::wire::bootstrap::IdentityProof;
use crate::wire::scale::{HostGroupInfoResponse, Secret};
use serde::Deserialize;

/// Fields of the state machine's envelope that an instance's request may not carry.
const STEP_FIELDS: [&str; 3] = ["execution", "event", "input"];

/// `fetch` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the backend group's state lives (clusterized or not).
    pub state: StateConfig,
    /// What the inventory names.
    pub inventory: InventoryConfig,
    /// Secret ids.
    pub secrets: SecretsConfig,
    /// Whose identity documents are checked (the admin password goes to the claimant only).
    pub callers: CallerPolicy,
}

impl Config {
    /// Reads the configuration.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            state: StateConfig::from_lookup(env)?,
            inventory: InventoryConfig::from_lookup(env)?,
            secrets: SecretsConfig::from_lookup(env)?,
            callers: CallerPolicy::from_lookup(env)?,
        })
    }
}

/// The reference's request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct FetchRequest {
    /// Return the deployment (or admin) credentials.
    #[serde(default)]
    pub fetch_weka_credentials: bool,
    /// Also return the admin password (only to the claimant of a forming cluster).
    #[serde(default)]
    pub show_admin_password: bool,
}

/// What `fetch` needs.
#[derive(Debug)]
pub struct Deps<G, I, K, S> {
    /// Auto Scaling groups.
    pub groups: G,
    /// Tagged running instances (`backend_ips`).
    pub inventory: I,
    /// Secrets (for callers asking for credentials).
    pub secrets: K,
    /// State store (whether the cluster is formed).
    pub store: S,
    /// Configuration.
    pub config: Config,
}

/// Why `fetch` failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Malformed payload.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The request carries a field of the state machine's envelope.
    #[error(
        "{field:?} is the state machine's: fetch serves instances, the state machine calls scale-fetch"
    )]
    StepField {
        /// The field.
        field: &'static str,
    },
    /// The admin password was asked for after the cluster formed.
    #[error("the admin password is given only while the cluster forms; it has formed")]
    AdminPasswordAfterFormation,
    /// The admin password was asked for while no clusterization is claimed.
    #[error(
        "the admin password is given only to the instance creating the cluster; no clusterization is claimed"
    )]
    AdminPasswordWithoutClaim,
    /// The admin password was asked for by an instance other than the claimant.
    #[error(
        "the admin password is given only to the instance creating the cluster ({claimant}), not to {caller}"
    )]
    AdminPasswordNotClaimant {
        /// The verified caller.
        caller: String,
        /// The instance holding the claim.
        claimant: String,
    },
    /// The caller's identity could not be verified.
    #[error(transparent)]
    Caller(#[from] CallerError),
    /// The cluster state could not be read.
    #[error("cluster state unavailable")]
    Store(#[from] StoreError),
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
            Self::Payload(_) | Self::StepField { .. } => ErrorClass::InvalidInput,
            Self::AdminPasswordAfterFormation
            | Self::AdminPasswordWithoutClaim
            | Self::AdminPasswordNotClaimant { .. } => ErrorClass::Conflict,
            Self::Caller(e) => e.class(),
            Self::Store(e) => e.class(),
            Self::Scaling(_) => ErrorClass::Transient,
            Self::Inventory(e) => e.class(),
            Self::Secrets(e) => e.class(),
        }
    }
}

/// Handles one `fetch` invocation.
#[tracing::instrument(skip_all)]
pub async fn handle<G, I, K, S>(
    deps: &Deps<G, I, K, S>,
    payload: serde_json::Value,
) -> Result<HostGroupInfoResponse, FetchError>
where
    G: ScalingGroups,
    I: InstanceInventory,
    K: Secrets,
    S: StateStore,
{
    if let Some(map) = payload.as_object()
        && let Some(field) = STEP_FIELDS.into_iter().find(|f| map.contains_key(*f))
    {
        tracing::warn!(
            field,
            "state machine field in an instance's fetch request; refused"
        );
        return Err(FetchError::StepField { field });
    }
    // An empty payload (the reference's `set_backend_ip` call) is a request for nothing.
    let (request, identity): (FetchRequest, _) = if payload.is_null() {
        (FetchRequest::default(), None)
    } else {
        decode_identified(payload)?
    };
    let config = &deps.config;
    if request.show_admin_password {
        let state = deps.store.load(Group::Backend).await?;
        if let Err(refusal) = may_read_admin_password(&state, &config.callers, identity.as_ref()) {
            tracing::warn!(error = %refusal, "admin password refused");
            return Err(refusal);
        }
    }
    // Boxed: the SDK futures nest deeper than the default layout query limit.
    let mut response = Box::pin(host_group_info::<_, _, FetchError>(
        &deps.groups,
        &deps.inventory,
        &config.inventory,
    ))
    .await?;
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
        credentials = !response.password.is_empty(),
        admin = request.show_admin_password,
        "answered an instance"
    );
    Ok(response)
}

/// Whether the caller may read the admin password: only while the backend group forms and a
/// clusterization is claimed, and, when callers are verified, only the claimant.
fn may_read_admin_password(
    state: &ClusterState,
    callers: &CallerPolicy,
    proof: Option<&IdentityProof>,
) -> Result<(), FetchError> {
    if state.clusterized {
        return Err(FetchError::AdminPasswordAfterFormation);
    }
    let Some(claim) = &state.clusterizer else {
        return Err(FetchError::AdminPasswordWithoutClaim);
    };
    match identify(callers, proof).map_err(CallerError::from)? {
        Some(caller) if caller.instance_id.as_str() != claim.instance => {
            Err(FetchError::AdminPasswordNotClaimant {
                caller: caller.instance_id.as_str().to_owned(),
                claimant: claim.instance.clone(),
            })
        }
        _ => Ok(()),
    }
}
