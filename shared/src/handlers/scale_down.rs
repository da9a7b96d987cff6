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
//! This module also holds what the three scale steps share: the step envelope the state machine
//! sends (`{"execution": <name>, "input": <payload>}`) and the `scale` lease protocol.
//!
//! Terminate hook: every waiting terminate action recorded in the store (a termination the
//! control plane did not choose) has its machine deactivated first; once WEKA no longer needs
//! the machine (no container on its IP, or all INACTIVE), or the hook's deadline minus the
//! margin is reached, the action is decided CONTINUE here and completed by `terminate`.

use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::lifecycle::{
    LifecycleDecision, LifecyclePhase, LifecycleRecord, LifecycleResult, MachineState, Transition,
    termination_decision,
};
use crate::domain::scale_down::{
    ActionId, ActionOutcome, Batch, ClusterSnapshot, Effect, PlanError, SafetyFloor, ScaleDownPlan,
    ScaleDownPolicy, finish, plan_with_leaving, validate_delta,
};
use crate::domain::state::Group;
use crate::handlers::lifecycle::LifecycleConfig;
use crate::handlers::status::SCALE_NOTE;
use crate::lambda::{Classify, ErrorClass, PayloadError, decode, error_chain};
use crate::ports::{
    Clock, Credentials, LeaseOutcome, RawResult, SecretError, Secrets, SecretsConfig, StateStore,
    StoreError, WekaApi, WekaConnector, WekaError, deployment_or_admin,
};
use crate::weka::decode::{self, DecodeError, FromResult, disks_list, hosts_list, nodes_list};
use crate::weka::model::{ClusterStatus, HostsList, InterfaceGroupList, ManualOverrideList};
use crate::wire::scale::{HostGroupInfoResponse, PROTOCOL_VERSION, ScaleResponse};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Name of the lease that serialises scale runs.
pub const SCALE_LEASE: &str = "scale";
/// How long a step's hold on the `scale` lease lasts (e.g. `3m`). Must exceed the longest
/// Lambda timeout of the loop and stay below the state machine's `TimeoutSeconds`.
pub const SCALE_LEASE_TTL_ENV: &str = "SCALE_LEASE_TTL";
/// Default of [`SCALE_LEASE_TTL_ENV`]: above scale-down's 120 s timeout.
pub const DEFAULT_SCALE_LEASE_TTL: Duration = Duration::from_secs(180);
/// Stripe data width of the cluster.
pub const STRIPE_WIDTH_ENV: &str = "STRIPE_WIDTH";
/// Protection level of the cluster.
pub const PROTECTION_LEVEL_ENV: &str = "PROTECTION_LEVEL";
/// Hot spares of the cluster.
pub const HOTSPARE_ENV: &str = "HOTSPARE";
/// A configured minimum backend count, used when larger than the geometry's.
pub const MIN_CLUSTER_SIZE_ENV: &str = "MIN_CLUSTER_SIZE";
/// Most machines acted on at once.
pub const SCALE_DOWN_PARALLELISM_ENV: &str = "SCALE_DOWN_PARALLELISM";
/// Default of [`SCALE_DOWN_PARALLELISM_ENV`].
pub const DEFAULT_PARALLELISM: usize = 16;
/// No WEKA call is started when less than this is left before the invocation deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(10);
use super::{Invocation, weka_deadline};

/// A payload of a scale step: the state machine wraps it with its execution name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<T> {
    /// `$$.Execution.Name`, absent on direct invocations.
    pub execution: Option<String>,
    /// The step's own payload.
    pub input: T,
}

impl<T> Step<T> {
    /// Who holds the `scale` lease for this step: the execution, or this very invocation.
    pub fn owner(&self, invocation: &Invocation) -> String {
        self.execution
            .clone()
            .unwrap_or_else(|| format!("direct-{}", invocation.request_id))
    }
}

/// Decodes `{"execution": "<name>", "input": {...}}` or, without `execution`, the bare payload.
/// Without `input`, the envelope's other fields are the payload.
pub fn decode_step<T: DeserializeOwned>(payload: Value) -> Result<Step<T>, PayloadError> {
    match payload {
        Value::Object(mut map) if map.contains_key("execution") => {
            let execution: String = decode(map.remove("execution").unwrap_or_default())?;
            let input = map.remove("input").unwrap_or(Value::Object(map));
            Ok(Step {
                execution: Some(execution),
                input: decode(input)?,
            })
        }
        other => Ok(Step {
            execution: None,
            input: decode(other)?,
        }),
    }
}

/// Another execution holds the `scale` lease.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scale lease is held by {holder:?} until {until}: another run is acting")]
pub struct LeaseHeld {
    /// The holder.
    pub holder: String,
    /// Its expiry.
    pub until: DateTime<Utc>,
}

/// Takes or renews the `scale` lease for `owner`.
pub async fn hold_scale_lease(
    store: &impl StateStore,
    owner: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<Result<(), LeaseHeld>, StoreError> {
    Ok(
        match store.acquire_lease(SCALE_LEASE, owner, now, ttl).await? {
            LeaseOutcome::Acquired(_) => Ok(()),
            LeaseOutcome::Held(lease) => Err(LeaseHeld {
                holder: lease.owner,
                until: lease.expires_at,
            }),
        },
    )
}

/// Releases the `scale` lease if `owner` holds it; a failure only delays the next run until
/// the lease lapses, so it is logged, not returned.
pub async fn release_scale_lease(store: &impl StateStore, owner: &str) {
    match store.release_lease(SCALE_LEASE, owner).await {
        Ok(released) => tracing::debug!(released, "scale lease released"),
        Err(e) => tracing::warn!(error = %error_chain(&e), "scale lease not released; it lapses"),
    }
}

/// `scale-down` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the state (clusterized flag, lease, note) lives.
    pub state: StateConfig,
    /// Secret ids of the WEKA credentials.
    pub secrets: SecretsConfig,
    /// `(stripe width, protection level, hot spares)` when configured; else read from WEKA.
    pub geometry: Option<(u32, u32, u32)>,
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
        let geometry = match (
            env.optional(STRIPE_WIDTH_ENV),
            env.optional(PROTECTION_LEVEL_ENV),
            env.optional(HOTSPARE_ENV),
        ) {
            (None, None, None) => None,
            _ => Some((
                env.parsed(STRIPE_WIDTH_ENV)?,
                env.parsed(PROTECTION_LEVEL_ENV)?,
                env.parsed(HOTSPARE_ENV)?,
            )),
        };
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
        let floor = match self.geometry {
            Some((stripe, protection, spares)) => {
                SafetyFloor::from_geometry(stripe, protection, spares)
            }
            None => SafetyFloor::from_status(status),
        };
        floor.at_least(self.min_cluster_size)
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
            Self::Payload(_) => ErrorClass::InvalidInput,
            // The state machine reads Conflict from the scale steps as "another run is acting".
            Self::LeaseHeld(_) => ErrorClass::Conflict,
            Self::Store(e) => e.class(),
            Self::Credentials(SecretError::Backend { .. }) => ErrorClass::Transient,
            // Missing secrets or refused login after clusterization need an operator.
            Self::Credentials(SecretError::Empty { .. })
            | Self::Decode { .. }
            | Self::Read {
                source: WekaError::Login { .. } | WekaError::Decode { .. },
                ..
            } => ErrorClass::Internal,
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
    let owner = step.owner(&invocation);
    tracing::Span::current().record("execution", owner.as_str());
    hold_scale_lease(&deps.store, &owner, deps.clock.now(), deps.config.lease_ttl).await??;
    let result = Box::pin(run(deps, &step.input, &invocation)).await;
    // The state machine's terminate step releases; direct calls and failures release here.
    if step.execution.is_none() || result.is_err() {
        release_scale_lease(&deps.store, &owner).await;
    }
    result
}

async fn run<S, K, W, C>(
    deps: &Deps<S, K, W, C>,
    info: &HostGroupInfoResponse,
    invocation: &Invocation,
) -> Result<ScaleResponse, ScaleDownError>
where
    S: StateStore,
    K: Secrets,
    W: WekaConnector,
    C: Clock,
{
    let (leaving, mut lifecycle_errors) = waiting_terminations(deps).await;
    let state = deps.store.load(Group::Backend).await?;
    if !state.clusterized {
        lifecycle_errors.extend(
            decide_terminations(deps, &leaving, |_| {
                Some((
                    LifecycleResult::Continue,
                    "the cluster is not formed yet: nothing to deactivate".to_owned(),
                ))
            })
            .await,
        );
        let mut response = skip(deps, "cluster is not clusterized yet").await?;
        response.transient_errors.extend(lifecycle_errors);
        return Ok(response);
    }
    let leaving_ips: BTreeMap<String, Option<String>> = leaving
        .iter()
        .map(|r| (r.key.instance_id.clone(), leaving_ip(info, r)))
        .collect();
    let leaving_set: BTreeSet<String> = leaving_ips.values().flatten().cloned().collect();
    let credentials = deployment_or_admin(&deps.secrets, &deps.config.secrets)
        .await
        .map_err(ScaleDownError::Credentials)?;
    let now = deps.clock.now();
    let ips = pool_order(&info.backend_ips, now);
    let weka_deadline = weka_deadline(&deps.clock, invocation.deadline);
    let api = deps
        .weka
        .connect_until(ips.clone(), credentials.clone(), weka_deadline);
    let snapshot = read_cluster(&api).await?;
    let policy = ScaleDownPolicy::new(deps.config.floor(&snapshot.status));
    let plan = match plan_with_leaving(info, &snapshot, &policy, now, &leaving_set) {
        Ok(plan) => plan,
        Err(PlanError::NotNow(gate)) => {
            // Terminating instances wait: their hooks' deadlines let them go in time.
            let mut response = skip(deps, &gate.to_string()).await?;
            response.transient_errors.extend(lifecycle_errors);
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
    write_note(
        deps,
        json!({"refusal": plan.refusal, "skipped": null, "at": now}),
    )
    .await?;
    tracing::info!(
        actions = plan.actions().count(),
        deactivations = plan.deactivations.len(),
        removals = plan.removals.len(),
        "executing scale-down plan"
    );
    let (outcomes, dropped) = execute(
        &api,
        &plan,
        deps.config.parallelism,
        invocation.deadline,
        &deps.clock,
    )
    .await;
    let mut response = finish(&plan, &outcomes);
    let fresh = revalidation_hosts(deps, &ips, &dropped, credentials, weka_deadline).await?;
    lifecycle_errors.extend(
        decide_terminations(deps, &leaving, |record| {
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
        })
        .await,
    );
    response.transient_errors.extend(lifecycle_errors);
    validate_delta(info, &response, &fresh)?;
    tracing::info!(
        hosts = response.hosts.len(),
        to_terminate = response.to_terminate.len(),
        transient_errors = response.transient_errors.len(),
        "scale-down done"
    );
    Ok(response)
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
    write_note(
        deps,
        json!({"refusal": null, "skipped": reason, "at": deps.clock.now()}),
    )
    .await?;
    Ok(skipped_response())
}

async fn write_note<S, K, W, C>(deps: &Deps<S, K, W, C>, body: Value) -> Result<(), StoreError>
where
    S: StateStore,
{
    deps.store.put_note(SCALE_NOTE, &body).await
}

/// Waiting terminate-hook actions (none without the hook), and the error text when they could
/// not be read.
async fn waiting_terminations<S, K, W, C>(
    deps: &Deps<S, K, W, C>,
) -> (Vec<LifecycleRecord>, Vec<String>)
where
    S: StateStore,
{
    if deps.config.lifecycle.terminate_hook().is_none() {
        return (Vec::new(), Vec::new());
    }
    match deps.store.lifecycle_actions().await {
        Ok(records) => (
            records
                .into_iter()
                .filter(|r| {
                    r.key.transition == Transition::Terminate && r.phase == LifecyclePhase::Waiting
                })
                .collect(),
            Vec::new(),
        ),
        Err(e) => (
            Vec::new(),
            vec![format!(
                "lifecycle actions could not be read: {}",
                error_chain(&e)
            )],
        ),
    }
}

/// The private IP of a leaving instance, from the group as fetched this run. Never the recorded
/// one: an instance that already left may have passed its IP on to a new backend, whose machine
/// must not be deactivated.
fn leaving_ip(info: &HostGroupInfoResponse, record: &LifecycleRecord) -> Option<String> {
    info.weka_backend_instances
        .iter()
        .find(|i| i.id == record.key.instance_id)
        .map(|i| i.private_ip.clone())
}

/// What WEKA's host list says about the machine with `ip` (client containers ignored).
pub fn machine_state(hosts: &HostsList, ip: &str) -> MachineState {
    let containers: Vec<_> = hosts
        .values()
        .filter(|h| h.host_ip == ip && !h.is_client())
        .collect();
    if containers.is_empty() {
        return MachineState::Absent;
    }
    let active = containers
        .iter()
        .filter(|h| h.state != crate::weka::model::HostState::Inactive)
        .count();
    if active == 0 {
        MachineState::Inactive
    } else {
        MachineState::Active { active }
    }
}

/// Decides CONTINUE for the waiting terminate actions `decide` settles; returns the failures.
async fn decide_terminations<S, K, W, C>(
    deps: &Deps<S, K, W, C>,
    records: &[LifecycleRecord],
    decide: impl Fn(&LifecycleRecord) -> Option<(LifecycleResult, String)>,
) -> Vec<String>
where
    S: StateStore,
    C: Clock,
{
    let mut errors = Vec::new();
    for record in records {
        let Some((result, reason)) = decide(record) else {
            tracing::info!(instance = %record.key.instance_id, "terminating instance: waiting for its deactivation");
            continue;
        };
        let decision = LifecycleDecision {
            key: record.key.clone(),
            group: record.group.clone(),
            hook: record.hook.clone(),
            result,
            reason: reason.clone(),
            at: deps.clock.now(),
        };
        match deps.store.decide_lifecycle_action(&decision).await {
            Ok(decided) => {
                tracing::info!(instance = %record.key.instance_id, decided, %result, reason, "terminate action decided");
            }
            Err(e) => errors.push(format!(
                "deciding {} failed: {}",
                record.key,
                error_chain(&e)
            )),
        }
    }
    errors
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

async fn read_raw<A: WekaApi>(api: &A, method: &'static str) -> Result<RawResult, ScaleDownError> {
    api.call_raw(method, json!({}))
        .await
        .map_err(|source| ScaleDownError::Read { method, source })
}

fn decoded<T>(method: &'static str, result: Result<T, DecodeError>) -> Result<T, ScaleDownError> {
    result.map_err(|source| ScaleDownError::Decode { method, source })
}

async fn read<A: WekaApi, T: FromResult>(
    api: &A,
    method: &'static str,
) -> Result<T, ScaleDownError> {
    let raw = read_raw(api, method).await?;
    decoded(method, T::from_result(raw.json()))
}

async fn read_cluster<A: WekaApi>(api: &A) -> Result<ClusterSnapshot, ScaleDownError> {
    let (status, overrides, hosts, drives, nodes, groups) = futures::join!(
        read::<A, ClusterStatus>(api, "status"),
        read::<A, ManualOverrideList>(api, "manual_override_list"),
        read_raw(api, "hosts_list"),
        read_raw(api, "disks_list"),
        read_raw(api, "nodes_list"),
        read::<A, InterfaceGroupList>(api, "interface_group_list"),
    );
    let (status, overrides) = (status?, overrides?);
    let (hosts, drives, nodes) = match (hosts, drives, nodes) {
        // The three large lists are decoded together, on the available cores.
        (Ok(h), Ok(d), Ok(n)) => {
            let (h, d, n) = decode::cluster_lists(h.json(), d.json(), n.json());
            (
                decoded("hosts_list", h)?,
                decoded("disks_list", d)?,
                decoded("nodes_list", n)?,
            )
        }
        // A read failed: report the first failure in the order of the lists.
        (h, d, n) => (
            decoded("hosts_list", hosts_list(h?.json()))?,
            decoded("disks_list", disks_list(d?.json()))?,
            decoded("nodes_list", nodes_list(n?.json()))?,
        ),
    };
    Ok(ClusterSnapshot {
        status,
        overrides,
        hosts,
        drives,
        nodes,
        // The planner keeps NFS hosts and reports the error when only this list is missing.
        interface_groups: groups.map_err(|e| error_chain(&e)),
    })
}

type Outcomes = BTreeMap<ActionId, ActionOutcome>;

/// Runs the plan: phases in order, batches of a phase in parallel (at most `parallelism`),
/// actions of a batch in order. Returns the outcomes and the IPs dropped from the pool.
pub async fn execute<A: WekaApi, C: Clock>(
    api: &A,
    plan: &ScaleDownPlan,
    parallelism: usize,
    deadline: Option<DateTime<Utc>>,
    clock: &C,
) -> (Outcomes, BTreeSet<String>) {
    let mut outcomes = Outcomes::new();
    let mut dropped = BTreeSet::new();
    for phase in &plan.phases {
        let before = outcomes.clone();
        let results: Vec<(Outcomes, Vec<String>)> = futures::stream::iter(&phase.batches)
            .map(|batch| run_batch(api, batch, &before, deadline, clock))
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
    deadline: Option<DateTime<Utc>>,
    clock: &C,
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
                local.insert(action.id, ActionOutcome::Failed(message));
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
    read(
        &deps.weka.connect_until(pool, credentials, weka_deadline),
        "hosts_list",
    )
    .await
}
