//! `clusterize-finalization`: called last by the clusterization script; marks the group
//! clusterized so `deploy` hands out join scripts from then on. For NFS it also tags the
//! gateways `nfs_interface_group_port=ready` (what `fetch` reports and scale-down reads), and
//! with a `name` it plays the reference's `join-nfs-finalization` for one joining gateway.
//! Idempotent.
//!
//! Only the current claimant of a complete set may finalize a forming backend group (the
//! caller proven by its identity document, when the deployment checks identities); an NFS
//! group only by one of its registered gateways; a joining gateway only for itself.
//!
//! With a launch hook on the backend group, a backend finalization also completes the launch
//! action of every member of the registration set with CONTINUE: the first N wait in
//! `Pending:Wait` until the cluster they form exists. Those calls never fail the finalization;
//! what could not be sent is finished by the next scale run.

use crate::config::callers::CallerPolicy;
use crate::config::lifecycle::LifecycleConfig;
use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::identity::VerifiedInstance;
use crate::domain::lifecycle::{LifecycleResult, Transition};
use crate::domain::state::{ClusterState, Group};
use crate::error::{Classify, ErrorClass, error_chain};
use crate::lambda::{PayloadError, decode_identified};
use crate::ports::{
    Clock, InstanceInventory, InventoryError, LifecycleTarget, ScalingGroups, StateStore,
    StoreError,
};
use crate::services::callers::{CallerError, admit, identify};
use crate::services::lifecycle::{decide_and_complete, for_each_bounded};
use crate::wire::bootstrap::{FinalizationRequest, Protocol};

/// The reference's success answer.
pub const FINALIZED: &str = "ClusterizeFinalization completed successfully";
/// The reference's `join-nfs-finalization` answer.
pub const NFS_JOIN_FINALIZED: &str = "JoinFinalizationFinalization completed successfully";
/// Tag marking an NFS gateway whose port is in the interface group.
pub const NFS_PORT_TAG: (&str, &str) = ("nfs_interface_group_port", "ready");

/// `clusterize-finalization` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the state lives.
    pub state: StateConfig,
    /// The backend group's hooks.
    pub lifecycle: LifecycleConfig,
    /// Who may finalize.
    pub callers: CallerPolicy,
}

impl Config {
    /// Reads the configuration.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            state: StateConfig::from_lookup(env)?,
            lifecycle: LifecycleConfig::from_lookup(env)?,
            callers: CallerPolicy::from_lookup(env)?,
        })
    }
}

/// What finalization needs.
#[derive(Debug)]
pub struct Deps<S, I, C, G> {
    /// The state store.
    pub store: S,
    /// EC2 (tags NFS gateways).
    pub inventory: I,
    /// The clock.
    pub clock: C,
    /// Auto Scaling (completes the members' launch actions).
    pub groups: G,
    /// The backend group's hooks.
    pub lifecycle: LifecycleConfig,
    /// Who may finalize.
    pub callers: CallerPolicy,
}

/// Why finalization failed.
#[derive(Debug, thiserror::Error)]
pub enum FinalizationError {
    /// The payload is not a finalization request.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// A `name` was given for a backend finalization.
    #[error("a single-instance finalization ({0:?}) is only for nfs gateways")]
    NameWithoutNfs(String),
    /// The caller may not finalize.
    #[error("finalization refused")]
    Caller(#[from] CallerError),
    /// The set is not complete: nothing can have been clusterized yet.
    #[error("the {group} clusterization set is not complete ({registered}/{target} registered)")]
    SetIncomplete {
        /// The group.
        group: &'static str,
        /// Registered members.
        registered: usize,
        /// The set's size.
        target: u32,
    },
    /// Someone other than the claimant of the set asked.
    #[error(
        "only the clusterizing instance may finalize; the caller is {caller}, the claim is {claimant}"
    )]
    NotTheClaimant {
        /// The verified caller.
        caller: String,
        /// The claim holder (`none` without a claim).
        claimant: String,
    },
    /// The store failed.
    #[error("finalization could not be recorded")]
    Store(#[from] StoreError),
    /// Tagging the gateways failed.
    #[error("nfs gateways could not be tagged")]
    Inventory(#[from] InventoryError),
}

impl Classify for FinalizationError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_) | Self::NameWithoutNfs(_) => ErrorClass::InvalidInput,
            Self::SetIncomplete { .. } | Self::NotTheClaimant { .. } => ErrorClass::Conflict,
            Self::Caller(e) => e.class(),
            Self::Store(e) => e.class(),
            Self::Inventory(e) => e.class(),
        }
    }
}

/// Handles one `clusterize-finalization` invocation.
#[tracing::instrument(skip_all, fields(group))]
pub async fn handle<S: StateStore, I: InstanceInventory, C: Clock, G: ScalingGroups>(
    deps: &Deps<S, I, C, G>,
    payload: serde_json::Value,
) -> Result<&'static str, FinalizationError> {
    // The backend script sends `{}`; an empty payload (`null`) means the same.
    let payload = if payload.is_null() {
        serde_json::json!({})
    } else {
        payload
    };
    let (request, identity): (FinalizationRequest, _) = decode_identified(payload)?;
    let group = Group::for_protocol(request.protocol);
    tracing::Span::current().record("group", group.as_str());
    let (key, value) = NFS_PORT_TAG;
    match (request.protocol, request.name) {
        (Protocol::Nfs, Some(name)) => {
            admit(
                &deps.groups,
                &deps.callers,
                Group::Nfs,
                &name,
                identity.as_ref(),
            )
            .await?;
            deps.inventory.tag_instances(&[name], key, value).await?;
            return Ok(NFS_JOIN_FINALIZED);
        }
        (_, Some(name)) => return Err(FinalizationError::NameWithoutNfs(name)),
        (protocol, None) => {
            let caller = identify(&deps.callers, identity.as_ref()).map_err(CallerError::from)?;
            let state = deps.store.load(group).await?;
            may_finalize(&state, group, caller.as_ref())?;
            if protocol == Protocol::Nfs {
                let ids: Vec<String> = state.instances.iter().map(|vm| vm.name.clone()).collect();
                deps.inventory.tag_instances(&ids, key, value).await?;
            }
        }
    }
    let state = deps.store.finalize(group, deps.clock.now()).await?;
    tracing::info!(
        version = state.version,
        members = state.instances.len(),
        "group clusterized"
    );
    if group == Group::Backend {
        // Boxed: the SDK futures nest deeper than the default layout query limit.
        Box::pin(continue_members(deps, &state)).await;
    }
    Ok(FINALIZED)
}

/// Whether `caller` may finalize `group` as it stands: a clusterized group answers again
/// (idempotent); a forming one only once its set is complete, and, when callers are verified,
/// only to the claimant (backends) or a registered gateway (NFS, whose set has no claim).
fn may_finalize(
    state: &ClusterState,
    group: Group,
    caller: Option<&VerifiedInstance>,
) -> Result<(), FinalizationError> {
    if state.clusterized {
        return Ok(());
    }
    if !state.is_full() {
        return Err(FinalizationError::SetIncomplete {
            group: group.as_str(),
            registered: state.instances.len(),
            target: state.clusterization_target,
        });
    }
    let Some(caller) = caller else {
        return Ok(());
    };
    let caller_id = caller.instance_id.as_str();
    let allowed = match group {
        Group::Backend => state
            .clusterizer
            .as_ref()
            .is_some_and(|claim| claim.instance == caller_id),
        Group::Nfs => state.instances.iter().any(|vm| vm.name == caller_id),
    };
    if allowed {
        Ok(())
    } else {
        Err(FinalizationError::NotTheClaimant {
            caller: caller_id.to_owned(),
            claimant: state
                .clusterizer
                .as_ref()
                .map_or_else(|| "none".to_owned(), |c| c.instance.clone()),
        })
    }
}

/// Completes the launch action of every member of the formed cluster with CONTINUE.
async fn continue_members<S: StateStore, I, C: Clock, G: ScalingGroups>(
    deps: &Deps<S, I, C, G>,
    state: &ClusterState,
) {
    let Some(hook) = deps.lifecycle.launch_hook() else {
        return;
    };
    let tokens: Vec<(String, Option<String>)> = match deps.store.lifecycle_actions().await {
        Ok(records) => records
            .into_iter()
            .filter(|r| r.key.transition == Transition::Launch)
            .map(|r| (r.key.instance_id, r.token))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "lifecycle actions unavailable; completing by instance id");
            Vec::new()
        }
    };
    let now = deps.clock.now();
    let targets: Vec<LifecycleTarget> = state
        .instances
        .iter()
        .map(|vm| LifecycleTarget {
            group: deps.lifecycle.asg_name.clone(),
            hook: hook.to_owned(),
            instance_id: vm.name.clone(),
            token: tokens
                .iter()
                .find(|(id, _)| *id == vm.name)
                .and_then(|(_, t)| t.clone()),
        })
        .collect();
    let failures = for_each_bounded(targets, |target| async move {
        decide_and_complete(
            &deps.groups,
            &deps.store,
            &target,
            Transition::Launch,
            LifecycleResult::Continue,
            "the cluster formed (clusterize-finalization)",
            now,
        )
        .await
        .map(drop)
    })
    .await;
    for failure in failures {
        tracing::warn!(error = %error_chain(&failure), "member launch action not completed now");
    }
}
