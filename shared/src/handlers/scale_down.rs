//! `scale-down` (state-machine step 2): reads WEKA, plans with the pure planner, executes the
//! plan's WEKA calls (machines in parallel, bounded; calls of one machine in dependency order;
//! nothing started past the invocation deadline), re-reads `hosts_list` and refuses an unsafe
//! delta with `Weka.Unsafe`.
//!
//! "Not now" (cluster not clusterized yet, io not started, upgrade running, `skip_scale_down`
//! override) is not an error: the answer is an empty `ScaleResponse`, so `terminate` only
//! detaches unhealthy instances (stray terminations are refused on an empty host list) and the
//! execution succeeds. The outcome is written to the `scale-down` note that `status` shows.
//!
//! Terminate hook: every waiting terminate action recorded in the store (a termination the
//! control plane did not choose) whose instance Auto Scaling shows in `Terminating:Wait` (as
//! `scale-fetch` found the group this run) has its machine deactivated first, as far as the
//! safety floor and the in-flight cap allow; a machine they hold back is named in the answer's
//! `held_back` (terminate heartbeats its hook) and in the note `status` shows. A machine WEKA
//! is still deactivating (or that waits for a paused scale-down) is named in `held_back` too,
//! so its hook is kept alive while WEKA works, up to the hook's global timeout (100 heartbeat
//! timeouts, at most 48 h) minus the margin. Once WEKA no longer needs the machine (no container
//! on its IP, or all INACTIVE), or that deadline is reached, the action is decided CONTINUE here
//! and completed by `terminate`. A record Auto Scaling does not confirm is never acted on.
//!
//! Paused by an operator (the `pause` control item, `domain::control`): nothing is deactivated
//! or removed on the control plane's own choosing; the answer is a skip like the others. A
//! machine Auto Scaling terminates on its own (terminate hook) is still deactivated, within the
//! floor and the cap: it leaves whatever we answer (at the hook's deadline at the latest), and
//! deactivated first it leaves without WEKA losing a machine's data at once.
//!
//! Lost finalization: while the backend group is not clusterized, a complete, claimed set that
//! WEKA shows as a formed cluster of exactly its members is finalized here (after a grace for
//! the clusterizer's own call; `services::formation`); the run then goes on as for any
//! clusterized group, and terminate's lifecycle pass continues the members' launch actions.
//!
//! Launch hook: a waiting launch whose machine WEKA runs as a member (every container active and
//! up) is decided CONTINUE once it has been quiet for half the hook's heartbeat timeout: its join
//! report was lost, and the timeout would otherwise abandon an active member.

use crate::config::geometry::GeometryConfig;
use crate::config::lifecycle::LifecycleConfig;
use crate::config::names::{MIN_CLUSTER_SIZE_ENV, SCALE_DOWN_PARALLELISM_ENV, SCALE_LEASE_TTL_ENV};
use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::control::Pause;
use crate::domain::events::EventKind;
use crate::domain::lifecycle::{
    LifecycleResult, MachineState, joined_launch_decision, machine_joined, machine_state,
    termination_decision,
};
use crate::domain::metrics::{BackendCounts, LifecycleWaits, ScaleDownMetrics};
use crate::domain::notes::{Note as _, SCALE_NOTE, ScaleNote};
use crate::domain::scale_down::{
    ActionId, ActionOutcome, Batch, Effect, PlanError, RefusalBook, SafetyFloor, ScaleDownPlan,
    ScaleDownPolicy, finish, plan_with_leaving, validate_delta,
};
use crate::domain::state::Group;
use crate::error::{Classify, ErrorClass, error_chain};
use crate::lambda::{Invocation, PayloadError, weka_deadline};
use crate::ports::metrics;
use crate::ports::{
    Clock, Credentials, SecretError, Secrets, SecretsConfig, StateStore, StoreError, WekaApi,
    WekaConnector, WekaError, deployment_or_admin,
};
use crate::services::events;
use crate::services::formation::FormationCheck;
use crate::services::lifecycle::{HookPass, error_texts};
use crate::services::notes::read_note;
use crate::services::scale_plan::{self, ClusterReadError, FloorConfig};
use crate::services::scale_run::{
    DEFAULT_SCALE_LEASE_TTL, LeaseHeld, Step, decode_step, end_scale_turn, hold_scale_lease,
    release_scale_lease,
};
use crate::services::weka_refusals;
use crate::weka::decode::DecodeError;
use crate::weka::model::{ClusterStatus, HostsList};
use crate::wire::scale::{HeldBack, HostGroupInfoResponse, PROTOCOL_VERSION, ScaleResponse};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Default of [`SCALE_DOWN_PARALLELISM_ENV`].
pub const DEFAULT_PARALLELISM: usize = 16;
/// No WEKA call is started when less than this is left before the invocation deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// `scale-down` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the state (clusterized flag, lease, note) lives.
    pub state: StateConfig,
    /// Secret ids of the WEKA credentials.
    pub secrets: SecretsConfig,
    /// The geometry when configured with an explicit stripe width; else read from WEKA.
    pub geometry: Option<GeometryConfig>,
    /// `MIN_CLUSTER_SIZE` (0: geometry only).
    pub min_cluster_size: u32,
    /// Lease hold per step.
    pub lease_ttl: Duration,
    /// Machines acted on at once.
    pub parallelism: usize,
    /// The backend group's hooks (terminate hook decisions).
    pub lifecycle: LifecycleConfig,
}

impl Config {
    /// Reads the configuration.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        let geometry = GeometryConfig::optional_from_lookup(env)?;
        let parallelism: usize = env.parsed_or(SCALE_DOWN_PARALLELISM_ENV, DEFAULT_PARALLELISM)?;
        Ok(Self {
            state: StateConfig::from_lookup(env)?,
            secrets: SecretsConfig::from_lookup(env)?,
            geometry,
            min_cluster_size: env.parsed_or(MIN_CLUSTER_SIZE_ENV, 0)?,
            lease_ttl: env.duration_or(SCALE_LEASE_TTL_ENV, DEFAULT_SCALE_LEASE_TTL)?,
            parallelism: parallelism.max(1),
            lifecycle: LifecycleConfig::from_lookup(env)?,
        })
    }

    fn floor(&self, status: &ClusterStatus) -> SafetyFloor {
        FloorConfig {
            geometry: self.geometry,
            min_cluster_size: self.min_cluster_size,
        }
        .floor(status)
    }
}

/// What `scale-down` needs.
#[derive(Debug)]
pub struct Deps<S, K, W, C> {
    /// State store (clusterized flag, lease, note).
    pub store: S,
    /// Secrets (WEKA credentials).
    pub secrets: K,
    /// WEKA API connector.
    pub weka: W,
    /// Clock.
    pub clock: C,
    /// Configuration.
    pub config: Config,
}

/// Why `scale-down` failed.
#[derive(Debug, thiserror::Error)]
pub enum ScaleDownError {
    /// The payload is not a (wrapped) `HostGroupInfoResponse`.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The input names no backend, or something that is no IPv4 address.
    #[error("backend_ips must be one or more IPv4 addresses, got {0:?}")]
    BackendIps(Vec<String>),
    /// Another execution is acting.
    #[error(transparent)]
    LeaseHeld(#[from] LeaseHeld),
    /// The state store failed.
    #[error("scale-down state could not be read or written")]
    Store(#[from] StoreError),
    /// The WEKA credentials could not be read.
    #[error("weka credentials unavailable")]
    Credentials(#[source] SecretError),
    /// A WEKA read failed.
    #[error("weka {method} failed")]
    Read {
        /// Method.
        method: &'static str,
        /// Cause.
        #[source]
        source: WekaError,
    },
    /// A WEKA answer has an unexpected shape.
    #[error("weka {method} answer could not be decoded")]
    Decode {
        /// Method.
        method: &'static str,
        /// Cause.
        #[source]
        source: DecodeError,
    },
    /// The planner refused (invalid input, unsupported cluster, unsafe delta).
    #[error(transparent)]
    Plan(#[from] PlanError),
}

impl Classify for ScaleDownError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_) | Self::BackendIps(_) => ErrorClass::InvalidInput,
            // The state machine reads Conflict from the scale steps as "another run is acting".
            Self::LeaseHeld(_) => ErrorClass::Conflict,
            Self::Store(e) => e.class(),
            Self::Credentials(SecretError::Backend { .. }) => ErrorClass::Transient,
            // Missing secrets or a refused login after clusterization (by every backend, as
            // the client reports it) need an operator.
            Self::Credentials(SecretError::Empty { .. })
            | Self::Decode { .. }
            | Self::Read {
                source: WekaError::Decode { .. },
                ..
            } => ErrorClass::Internal,
            Self::Read { source, .. } if source.refused_login().is_some() => ErrorClass::Internal,
            Self::Read { .. } => ErrorClass::Transient,
            Self::Plan(PlanError::UnsafeDelta { .. }) => ErrorClass::Unsafe,
            Self::Plan(PlanError::InvalidInput(_) | PlanError::UnsupportedRole { .. }) => {
                ErrorClass::InvalidInput
            }
            Self::Plan(PlanError::NotNow(_) | PlanError::NotMultiBackendContainer) => {
                ErrorClass::Internal
            }
        }
    }
}

/// The answer when scale-down does nothing this run.
pub fn skipped_response() -> ScaleResponse {
    ScaleResponse {
        hosts: Vec::new(),
        to_terminate: Vec::new(),
        transient_errors: Vec::new(),
        version: PROTOCOL_VERSION,
        refusal: None,
        held_back: Vec::new(),
    }
}

impl From<ClusterReadError> for ScaleDownError {
    fn from(e: ClusterReadError) -> Self {
        match e {
            ClusterReadError::Read { method, source } => Self::Read { method, source },
            ClusterReadError::Decode { method, source } => Self::Decode { method, source },
        }
    }
}

/// Handles one `scale-down` invocation.
#[tracing::instrument(skip_all, fields(execution))]
pub async fn handle<S, K, W, C>(
    deps: &Deps<S, K, W, C>,
    payload: Value,
    invocation: Invocation,
) -> Result<ScaleResponse, ScaleDownError>
where
    S: StateStore,
    K: Secrets,
    W: WekaConnector,
    C: Clock,
{
    let step: Step<HostGroupInfoResponse> = decode_step(payload)?;
    let now = deps.clock.now();
    let claim = step.claim(&invocation, now, deps.config.lease_ttl);
    tracing::Span::current().record("execution", claim.owner.as_str());
    let held = hold_scale_lease(&deps.store, &claim, now, deps.config.lease_ttl).await?;
    let mut measured = ScaleDownMetrics {
        lease_held: held.is_err(),
        ..ScaleDownMetrics::default()
    };
    if let Err(held) = held {
        metrics::emit(now, &measured.samples());
        return Err(held.into());
    }
    let result = Box::pin(run(deps, &step.input, &invocation, &mut measured)).await;
    metrics::emit(deps.clock.now(), &measured.samples());
    // The state machine's terminate step releases; direct calls and failures release here.
    if step.execution.is_none() || result.is_err() {
        release_scale_lease(&deps.store, &claim.owner).await;
    } else {
        end_scale_turn(&deps.store, &claim).await;
    }
    result
}

async fn run<S, K, W, C>(
    deps: &Deps<S, K, W, C>,
    info: &HostGroupInfoResponse,
    invocation: &Invocation,
    measured: &mut ScaleDownMetrics,
) -> Result<ScaleResponse, ScaleDownError>
where
    S: StateStore,
    K: Secrets,
    W: WekaConnector,
    C: Clock,
{
    let mut hook_pass = HookPass::begin(&deps.store, &deps.config.lifecycle).await;
    // Only what Auto Scaling confirms (the instance in that wait state, as fetched) is acted on.
    hook_pass.keep_confirmed(info);
    measured.waits = Some(LifecycleWaits::of(
        &hook_pass.joining,
        &hook_pass.leaving,
        deps.clock.now(),
    ));
    let mut state = deps.store.load(Group::Backend).await?;
    if !state.clusterized {
        // A formed cluster whose finalization call was lost is finalized here (review H4b), and
        // scaled as usual from this run on.
        let check = FormationCheck {
            store: &deps.store,
            secrets: &deps.secrets,
            secret_ids: &deps.config.secrets,
            weka: &deps.weka,
            deadline: weka_deadline(&deps.clock, invocation.deadline),
        };
        state = check
            .finalize_if_formed(state, &info.weka_backend_instances, deps.clock.now())
            .await;
    }
    if !state.clusterized {
        let lifecycle_errors = hook_pass
            .settle(
                &deps.store,
                |_| {
                    Some((
                        LifecycleResult::Continue,
                        "the cluster is not formed yet: nothing to deactivate".to_owned(),
                    ))
                },
                deps.clock.now(),
            )
            .await;
        let mut response = skip(deps, "cluster is not clusterized yet").await?;
        response
            .transient_errors
            .extend(error_texts(&lifecycle_errors));
        return Ok(response);
    }
    let leaving_ips = hook_pass.leaving_ips(info);
    let leaving_set: BTreeSet<String> = leaving_ips.values().flatten().cloned().collect();
    // Unreadable, the pause is not assumed lifted: the run fails and removes nothing.
    let pause = deps.store.paused().await?;
    if let Some(pause) = &pause
        && leaving_set.is_empty()
    {
        let mut response = skip(deps, &paused_reason(pause)).await?;
        response
            .transient_errors
            .extend(error_texts(&hook_pass.errors));
        return Ok(response);
    }
    // Refused before any secret is read: an input naming no usable backend can never succeed.
    if info.backend_ips.is_empty()
        || info
            .backend_ips
            .iter()
            .any(|ip| ip.parse::<std::net::Ipv4Addr>().is_err())
    {
        return Err(ScaleDownError::BackendIps(
            info.backend_ips
                .iter()
                .take(3)
                .map(|ip| ip.chars().take(40).collect())
                .collect(),
        ));
    }
    let credentials = deployment_or_admin(&deps.secrets, &deps.config.secrets)
        .await
        .map_err(ScaleDownError::Credentials)?;
    let now = deps.clock.now();
    let ips = pool_order(&info.backend_ips, now);
    let weka_deadline = weka_deadline(&deps.clock, invocation.deadline);
    let api = deps
        .weka
        .connect_until(ips.clone(), credentials.clone(), weka_deadline);
    let snapshot = scale_plan::read_cluster(&api).await?;
    measured.cluster = Some(BackendCounts::of(
        &snapshot.hosts,
        snapshot.drives.values().map(|d| &d.status),
    ));
    let policy = ScaleDownPolicy::new(deps.config.floor(&snapshot.status));
    let plan = match plan_with_leaving(info, &snapshot, &policy, now, &leaving_set) {
        Ok(plan) => plan,
        Err(PlanError::NotNow(gate)) => {
            // Terminating instances wait: their hooks' deadlines let them go in time. A joined
            // member whose report was lost is rescued all the same: a pause holds back removals.
            settle_joins(deps, &mut hook_pass, info, &snapshot.hosts).await;
            let mut response = skip(deps, &gate.to_string()).await?;
            response.held_back = still_in_weka(
                &leaving_ips,
                &snapshot.hosts,
                &[],
                &format!("scale-down is paused ({gate})"),
            );
            response
                .transient_errors
                .extend(error_texts(&hook_pass.errors));
            return Ok(response);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(refusal) = &plan.refusal {
        tracing::warn!(
            desired = refusal.desired,
            minimum = refusal.minimum,
            shrink_refused = refusal.shrink_refused,
            healing_held = refusal.healing_held.is_some(),
            "safety floor refused part of the scale-down"
        );
    }
    // Paused, only the machines Auto Scaling terminates on its own are deactivated (within the
    // floor and the cap): they leave whatever we answer, and a deactivated machine leaves
    // without WEKA losing its data at once.
    let plan = match &pause {
        Some(pause) => {
            tracing::warn!(%pause, "scale-down paused: deactivating only what auto scaling terminates");
            plan.only_machines(&leaving_set)
        }
        None => plan,
    };
    if let Some(refusal) = plan.refusal.as_ref().filter(|_| pause.is_none()) {
        // Once per change, not every minute: the ring keeps decisions, not repetitions.
        let previous = read_note::<ScaleNote>(&deps.store)
            .await
            .and_then(|n| n.refusal);
        if previous != serde_json::to_value(refusal).ok() {
            let reason = format!(
                "safety floor: desired {} machine(s), at least {} must stay active{}",
                refusal.desired,
                refusal.minimum,
                if refusal.healing_held.is_some() {
                    "; healing held back"
                } else {
                    ""
                }
            );
            events::record(
                &deps.store,
                EventKind::Refusal,
                "backend group",
                &reason,
                now,
            )
            .await;
        }
    }
    measured.floor_refused = Some(plan.refusal.is_some());
    measured.decisions = Some((plan.deactivations.len(), plan.removals.len()));
    let held_back = held_back(&plan, &leaving_ips);
    let note = match &pause {
        Some(pause) => ScaleNote::skipped(&paused_reason(pause), now),
        None => ScaleNote::planned(serde_json::to_value(&plan.refusal).ok(), now),
    };
    write_note(deps, &note.holding(held_back.clone())).await?;
    tracing::info!(
        actions = plan.actions().count(),
        deactivations = plan.deactivations.len(),
        removals = plan.removals.len(),
        "executing scale-down plan"
    );
    let book = weka_refusals::load(&deps.store, &snapshot.hosts, now).await;
    let (outcomes, dropped) = execute(
        &api,
        &plan,
        &book,
        deps.config.parallelism,
        (invocation.deadline, &deps.clock),
    )
    .await;
    record_events(&deps.store, &plan, &outcomes, now).await;
    let mut response = finish(&plan, &outcomes);
    response
        .transient_errors
        .extend(weka_refusals::save(&deps.store, &book, &plan, &outcomes).await);
    let fresh = revalidation_hosts(deps, &ips, &dropped, credentials, weka_deadline).await?;
    let deactivating = still_in_weka(&leaving_ips, &fresh, &held_back, "weka is deactivating it");
    response.held_back = held_back.into_iter().chain(deactivating).collect();
    settle_joins(deps, &mut hook_pass, info, &fresh).await;
    let lifecycle_errors = hook_pass
        .settle(
            &deps.store,
            |record| {
                let machine = leaving_ips
                    .get(&record.key.instance_id)
                    .cloned()
                    .flatten()
                    .map(|ip| machine_state(&fresh, &ip));
                termination_decision(
                    record,
                    machine,
                    &deps.config.lifecycle.policy,
                    deps.clock.now(),
                )
            },
            deps.clock.now(),
        )
        .await;
    response
        .transient_errors
        .extend(error_texts(&lifecycle_errors));
    validate_delta(info, &response, &fresh)?;
    if pause.is_some() {
        // As any skip: no hosts, nothing to terminate (a removed leaving machine is let go by its
        // hook's decision), so a terminate step that finds the pause lifted acts on nothing.
        response.hosts.clear();
        response.to_terminate.clear();
        response.refusal = None;
    }
    tracing::info!(
        hosts = response.hosts.len(),
        to_terminate = response.to_terminate.len(),
        transient_errors = response.transient_errors.len(),
        "scale-down done"
    );
    Ok(response)
}

/// Records the run's deactivations, removals and WEKA refusals as events (best effort).
async fn record_events(
    store: &impl StateStore,
    plan: &ScaleDownPlan,
    outcomes: &Outcomes,
    now: DateTime<Utc>,
) {
    for action in plan.actions() {
        let machine = action.machine_ip.as_deref().unwrap_or("cluster");
        let kind = match action.call.method() {
            "cluster_deactivate_hosts" => EventKind::Deactivation,
            "cluster_remove_host" => EventKind::Removal,
            _ => continue,
        };
        match outcomes.get(&action.id) {
            Some(ActionOutcome::Ok) => {
                events::record(store, kind, machine, action.reason.as_str(), now).await;
            }
            Some(ActionOutcome::Refused { code, message }) => {
                let reason = format!(
                    "weka refused {} ({}): {message} ({code})",
                    action.call.method(),
                    action.reason.as_str()
                );
                events::record(store, EventKind::Refusal, machine, &reason, now).await;
            }
            _ => {}
        }
    }
}

/// The terminating instances whose machines the plan held back, logged, with why.
fn held_back(
    plan: &ScaleDownPlan,
    leaving_ips: &BTreeMap<String, Option<String>>,
) -> Vec<HeldBack> {
    plan.held_back
        .iter()
        .flat_map(|held| {
            leaving_ips
                .iter()
                .filter(|(_, ip)| ip.as_deref() == Some(held.ip.as_str()))
                .map(|(instance_id, _)| {
                    let reason = held.reason.to_string();
                    tracing::warn!(instance = %instance_id, ip = %held.ip, reason, "terminating instance held back");
                    HeldBack {
                        instance_id: instance_id.clone(),
                        private_ip: held.ip.clone(),
                        reason,
                    }
                })
        })
        .collect()
}

/// The terminating instances (not already `held`) whose machines WEKA still runs: their hooks
/// are heartbeated by `terminate` so that Auto Scaling waits for the deactivation, up to the
/// hook's global timeout (`LifecyclePolicy::terminate_deadline`), instead of terminating a
/// machine WEKA still counts on at the first heartbeat timeout.
fn still_in_weka(
    leaving_ips: &BTreeMap<String, Option<String>>,
    hosts: &HostsList,
    held: &[HeldBack],
    why: &str,
) -> Vec<HeldBack> {
    leaving_ips
        .iter()
        .filter(|(id, _)| !held.iter().any(|h| &h.instance_id == *id))
        .filter_map(|(instance_id, ip)| {
            let ip = ip.as_ref()?;
            let MachineState::Active { active } = machine_state(hosts, ip) else {
                return None;
            };
            Some(HeldBack {
                instance_id: instance_id.clone(),
                private_ip: ip.clone(),
                reason: format!("{why}: {active} container(s) not inactive yet"),
            })
        })
        .collect()
}

/// The skip reason of a paused run (the `scale-down` note's `skipped`).
pub fn paused_reason(pause: &Pause) -> String {
    format!("scale-down and terminations are {pause}")
}

async fn skip<S, K, W, C>(
    deps: &Deps<S, K, W, C>,
    reason: &str,
) -> Result<ScaleResponse, ScaleDownError>
where
    S: StateStore,
    C: Clock,
{
    tracing::info!(reason, "scale-down skipped");
    write_note(deps, &ScaleNote::skipped(reason, deps.clock.now())).await?;
    Ok(skipped_response())
}

async fn write_note<S, K, W, C>(deps: &Deps<S, K, W, C>, note: &ScaleNote) -> Result<(), StoreError>
where
    S: StateStore,
{
    deps.store.put_note(SCALE_NOTE, &note.to_value()).await
}

/// Continues the waiting launches of machines WEKA runs whose join report was lost.
async fn settle_joins<S, K, W, C>(
    deps: &Deps<S, K, W, C>,
    hook_pass: &mut HookPass,
    info: &HostGroupInfoResponse,
    hosts: &HostsList,
) where
    S: StateStore,
    C: Clock,
{
    let now = deps.clock.now();
    hook_pass
        .settle_joins(
            &deps.store,
            info,
            |ip| machine_joined(hosts, ip),
            |record, joined| {
                joined_launch_decision(record, joined, &deps.config.lifecycle.policy, now)
            },
            now,
        )
        .await;
}

/// The backends rotated by the minute, so successive runs do not all start on the same one.
fn pool_order(ips: &[String], now: DateTime<Utc>) -> Vec<String> {
    let mut ips = ips.to_vec();
    if !ips.is_empty() {
        let start = usize::try_from(now.timestamp() / 60).unwrap_or(0) % ips.len();
        ips.rotate_left(start);
    }
    ips
}

type Outcomes = BTreeMap<ActionId, ActionOutcome>;

/// Runs the plan: phases in order, batches of a phase in parallel (at most `parallelism`),
/// actions of a batch in order; a batch one of whose calls WEKA refused unchanged (`book`) is
/// not sent. Returns the outcomes and the IPs dropped from the pool.
pub async fn execute<A: WekaApi, C: Clock>(
    api: &A,
    plan: &ScaleDownPlan,
    book: &RefusalBook,
    parallelism: usize,
    (deadline, clock): (Option<DateTime<Utc>>, &C),
) -> (Outcomes, BTreeSet<String>) {
    let mut outcomes = Outcomes::new();
    let mut dropped = BTreeSet::new();
    for phase in &plan.phases {
        let before = outcomes.clone();
        let results: Vec<(Outcomes, Vec<String>)> = futures::stream::iter(&phase.batches)
            .map(|batch| run_batch(api, batch, &before, book, (deadline, clock)))
            .buffer_unordered(parallelism.max(1))
            .collect()
            .await;
        for (batch_outcomes, batch_dropped) in results {
            outcomes.extend(batch_outcomes);
            dropped.extend(batch_dropped);
        }
    }
    (outcomes, dropped)
}

fn out_of_time(clock: &impl Clock, deadline: Option<DateTime<Utc>>) -> bool {
    deadline.is_some_and(|d| {
        let margin = chrono::Duration::from_std(DEADLINE_MARGIN).unwrap_or_default();
        clock.now() + margin >= d
    })
}

async fn run_batch<A: WekaApi, C: Clock>(
    api: &A,
    batch: &Batch,
    before: &Outcomes,
    book: &RefusalBook,
    (deadline, clock): (Option<DateTime<Utc>>, &C),
) -> (Outcomes, Vec<String>) {
    let mut local = Outcomes::new();
    let mut dropped: Vec<String> = batch
        .before
        .iter()
        .filter_map(|e| match e {
            Effect::DropFromPool(ip) => Some(ip.clone()),
            Effect::AddToTerminate(_) => None,
        })
        .collect();
    // The session stops using a machine as soon as it leaves, not only for the final re-read.
    for ip in &dropped {
        api.stop_using(ip);
    }
    if let Some(refusal) = book.withheld(batch) {
        let report = refusal.report();
        tracing::warn!(
            method = %refusal.method,
            machine = %refusal.machine,
            "{report}: not sent again unchanged"
        );
        for action in &batch.actions {
            local.insert(action.id, ActionOutcome::Withheld(report.clone()));
        }
        return (local, dropped);
    }
    for action in &batch.actions {
        if out_of_time(clock, deadline) {
            tracing::warn!(
                method = action.call.method(),
                machine = action.machine_ip.as_deref().unwrap_or("cluster"),
                "deadline near: remaining actions left for the next run"
            );
            break;
        }
        let runnable = action.depends_on.iter().all(|d| {
            matches!(
                local.get(d).or_else(|| before.get(d)),
                Some(ActionOutcome::Ok)
            )
        });
        if !runnable {
            continue;
        }
        let method = action.call.method();
        let machine = action.machine_ip.as_deref().unwrap_or("cluster");
        match api.call(method, action.call.params()).await {
            Ok(_) => {
                tracing::info!(
                    method,
                    machine,
                    reason = action.reason.as_str(),
                    "weka action done"
                );
                for effect in &action.on_success {
                    if let Effect::DropFromPool(ip) = effect {
                        api.stop_using(ip);
                        dropped.push(ip.clone());
                    }
                }
                local.insert(action.id, ActionOutcome::Ok);
            }
            Err(e) => {
                let message = error_chain(&e);
                if action.best_effort {
                    tracing::debug!(method, machine, error = %message, "best-effort weka call failed");
                } else {
                    tracing::warn!(method, machine, error = %message, "weka action failed");
                }
                local.insert(action.id, weka_refusals::outcome_of(&e));
            }
        }
    }
    (local, dropped)
}

async fn revalidation_hosts<S, K, W, C>(
    deps: &Deps<S, K, W, C>,
    ips: &[String],
    dropped: &BTreeSet<String>,
    credentials: Credentials,
    weka_deadline: Option<Instant>,
) -> Result<HostsList, ScaleDownError>
where
    W: WekaConnector,
{
    let remaining: Vec<String> = ips
        .iter()
        .filter(|ip| !dropped.contains(*ip))
        .cloned()
        .collect();
    let pool = if remaining.is_empty() {
        ips.to_vec()
    } else {
        remaining
    };
    Ok(scale_plan::read(
        &deps.weka.connect_until(pool, credentials, weka_deadline),
        "hosts_list",
    )
    .await?)
}
