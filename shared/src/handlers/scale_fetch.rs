//! `scale-fetch` (state-machine step 1, reachable by the state machine only): takes the `scale`
//! lease for its execution and answers the backend and NFS Auto Scaling groups with their
//! instances, as `HostGroupInfoResponse` (behaviour.md §5.8), never with credentials
//! (scale-down reads Secrets Manager itself).
//!
//! The execution's own input arrives as `event` (the schedule's event, `{}`, or an Auto Scaling
//! event). A lifecycle action it announces for one of our hooks is recorded in the state store
//! *before* the lease is asked for: an execution that finds the lease held ends in `LeaseHeld`,
//! and the run holding the lease (or the next one) processes the record. It is recorded only
//! when Auto Scaling shows the instance in that wait state (the groups are described first, and
//! that description serves the answer too); the answer carries the backend instances in a wait
//! state (`lifecycle_waits`), which scale-down checks again before acting on a record.
//!
//! This is the only path that records lifecycle events and takes the lease. Instances call
//! `fetch`, which refuses both; this function's resource policy admits only the state machine.

use crate::config::lifecycle::LifecycleConfig;
use crate::config::names::SCALE_LEASE_TTL_ENV;
use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::lifecycle::{NewLifecycleAction, in_wait_state, lifecycle_text};
use crate::domain::metrics::{LEASE_HELD, Sample};
use crate::error::{Classify, ErrorClass, error_chain};
use crate::lambda::{Invocation, PayloadError};
use crate::ports::metrics;
use crate::ports::{
    Clock, InstanceInventory, InventoryError, ScalingError, ScalingGroup, ScalingGroups,
    StateStore, StoreError,
};
use crate::services::inventory::{
    InventoryConfig, describe, host_group_info_from, lifecycle_waits,
};
use crate::services::lifecycle::{LifecycleError, record};
use crate::services::scale_run::{
    DEFAULT_SCALE_LEASE_TTL, LeaseHeld, Step, decode_step, end_scale_turn, hold_scale_lease,
    note_lease_held, release_scale_lease,
};
use crate::wire::events::{ScaleTrigger, parse_trigger};
use crate::wire::scale::HostGroupInfoResponse;
use serde::Deserialize;
use std::time::Duration;

/// `scale-fetch` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the lease and the lifecycle records live.
    pub state: StateConfig,
    /// What the inventory names.
    pub inventory: InventoryConfig,
    /// Lease hold.
    pub lease_ttl: Duration,
    /// The backend group's hooks (which lifecycle events to record).
    pub lifecycle: LifecycleConfig,
}

impl Config {
    /// Reads the configuration; an unparsable timeout fails at init (the reference used 0).
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            state: StateConfig::from_lookup(env)?,
            inventory: InventoryConfig::from_lookup(env)?,
            lease_ttl: env.duration_or(SCALE_LEASE_TTL_ENV, DEFAULT_SCALE_LEASE_TTL)?,
            lifecycle: LifecycleConfig::from_lookup(env)?,
        })
    }
}

/// The step's input: what started the execution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StepInput {
    /// The state machine's execution input (the schedule's event, `{}`, or an Auto Scaling
    /// event).
    #[serde(default)]
    pub event: Option<serde_json::Value>,
}

/// What `scale-fetch` needs.
#[derive(Debug)]
pub struct Deps<G, I, S, C> {
    /// Auto Scaling groups.
    pub groups: G,
    /// Tagged running instances (`backend_ips`).
    pub inventory: I,
    /// State store (lease, lifecycle records).
    pub store: S,
    /// Clock.
    pub clock: C,
    /// Configuration.
    pub config: Config,
}

/// Why `scale-fetch` failed.
#[derive(Debug, thiserror::Error)]
pub enum ScaleFetchError {
    /// Malformed payload.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// Invoked without the state machine's envelope.
    #[error("scale-fetch is a state machine step: the payload must name its execution")]
    NotAStep,
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
}

impl Classify for ScaleFetchError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_) | Self::NotAStep => ErrorClass::InvalidInput,
            Self::LeaseHeld(_) => ErrorClass::Conflict,
            Self::Store(e) => e.class(),
            Self::Scaling(_) | Self::Lifecycle(_) => ErrorClass::Transient,
            Self::Inventory(e) => e.class(),
        }
    }
}

/// Handles one `scale-fetch` invocation.
#[tracing::instrument(skip_all, fields(execution))]
pub async fn handle<G, I, S, C>(
    deps: &Deps<G, I, S, C>,
    payload: serde_json::Value,
    invocation: Invocation,
) -> Result<HostGroupInfoResponse, ScaleFetchError>
where
    G: ScalingGroups,
    I: InstanceInventory,
    S: StateStore,
    C: Clock,
{
    let step: Step<StepInput> = decode_step(payload)?;
    let Some(execution) = step.execution.as_deref() else {
        return Err(ScaleFetchError::NotAStep);
    };
    tracing::Span::current().record("execution", execution);
    // The groups as described to confirm a lifecycle event, reused for the answer.
    let mut described = None;
    // Boxed: the SDK futures nest deeper than the default layout query limit.
    Box::pin(record_trigger(
        deps,
        step.input.event.as_ref(),
        &mut described,
    ))
    .await?;
    let now = deps.clock.now();
    let claim = step.claim(&invocation, now, deps.config.lease_ttl);
    let held = hold_scale_lease(&deps.store, &claim, now, deps.config.lease_ttl).await?;
    metrics::emit(now, &[Sample::flag(LEASE_HELD, held.is_err())]);
    if let Err(held) = held {
        note_lease_held(&deps.store, &held, now, deps.config.lease_ttl).await;
        return Err(held.into());
    }
    let result = Box::pin(answer(deps, described)).await;
    if result.is_err() {
        release_scale_lease(&deps.store, &claim.owner).await;
    } else {
        end_scale_turn(&deps.store, &claim).await;
    }
    result
}

/// The inventory, with the backend instances in a lifecycle wait state (what scale-down needs
/// to confirm a recorded action before acting on it).
async fn answer<G, I, S, C>(
    deps: &Deps<G, I, S, C>,
    described: Option<Vec<ScalingGroup>>,
) -> Result<HostGroupInfoResponse, ScaleFetchError>
where
    G: ScalingGroups,
    I: InstanceInventory,
{
    let described = match described {
        Some(described) => described,
        None => describe(&deps.groups, &deps.config.inventory).await?,
    };
    let mut info = host_group_info_from::<_, ScaleFetchError>(
        &described,
        &deps.inventory,
        &deps.config.inventory,
    )
    .await?;
    info.lifecycle_waits = Some(lifecycle_waits(&described, &deps.config.inventory));
    Ok(info)
}

/// Records the lifecycle action an Auto Scaling event announces, when it is one of ours and
/// the group shows the instance in that wait state (described once into `described`). An
/// event the group does not confirm (forged, stale, replayed) is logged and dropped: a real
/// wait state is recorded by the terminate step's observation all the same.
async fn record_trigger<G, I, S, C>(
    deps: &Deps<G, I, S, C>,
    event: Option<&serde_json::Value>,
    described: &mut Option<Vec<ScalingGroup>>,
) -> Result<(), ScaleFetchError>
where
    G: ScalingGroups,
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
            let groups = match described {
                Some(groups) => groups,
                None => described.insert(describe(&deps.groups, &deps.config.inventory).await?),
            };
            let state = groups
                .iter()
                .filter(|g| g.name == notice.group)
                .flat_map(|g| &g.instances)
                .find(|i| i.instance.id == notice.instance_id)
                .map(|i| &i.instance.lifecycle);
            match state {
                Some(state) if in_wait_state(state, notice.transition) => {
                    record(&deps.store, &NewLifecycleAction::from(&notice)).await?;
                }
                other => tracing::warn!(
                    instance = %notice.instance_id,
                    transition = %notice.transition,
                    state = other.map_or("not in the group", lifecycle_text),
                    "lifecycle event not confirmed by auto scaling: not recorded"
                ),
            }
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
